"""``train`` and ``evaluate`` commands."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import typer

from ..errors import ConfigError
from ..models.config import TrainConfig
from ..models.runtime import DEFAULT_MAX_LENGTH
from . import app

TEXT_COLUMN = typer.Option("text", "--text-column", help="Column holding the text.")
LABEL_COLUMN = typer.Option("label", "--label-column", help="Column holding the label.")
ENCODING = typer.Option("utf-8", "--encoding", help="Text encoding of the input (MR/SUBJ files are cp1252).")
FORMAT = typer.Option(None, "--format", help="Input format when the extension does not say: label-text.")
DEVICE = typer.Option("auto", "--device", help="auto (CUDA when present), cpu, cuda, cuda:N or mps.")
PRECISION = typer.Option(
    "auto",
    "--precision",
    help="auto (bf16 autocast on CUDA, exact fp32 on the CPU), fp32, bf16 (CPU inference too: ~2.8x faster "
    "with AVX512-BF16/AMX, probabilities move by ~1e-3), fp16 (CUDA) or int8 (CPU inference, dynamic "
    "quantisation: not exact, measured in benchmarks/RESULTS.md).",
)
MAX_TOKENS = typer.Option(
    None,
    "--max-tokens",
    help="Tokens (rows x padded width) per forward pass (default: per device, 4096 on CPU, 32768 on CUDA).",
)
THREADS = typer.Option(None, "--threads", help="torch threads (default: torch's choice, usually one per core).")


def make_runtime(
    device: str = "auto",
    precision: str = "auto",
    max_tokens: int | None = None,
    threads: int | None = None,
    max_length: int | None = None,
) -> Any:
    """The command's :class:`~textrobust.models.Runtime` from its options, checked (a missing GPU, an impossible
    precision, a token budget below one row: one line, before any model loads) and its threads applied."""
    from ..models.runtime import DEFAULT_MAX_LENGTH, Runtime

    runtime = Runtime(
        device=device,
        precision=precision,
        max_tokens=max_tokens,
        threads=threads,
        max_length=max_length or DEFAULT_MAX_LENGTH,
    ).check()
    runtime.apply_threads()
    return runtime


def _load(path: str, text_column: str, label_column: str, encoding: str, fmt: str | None, labels: Any = None):
    from ..data import load_dataset

    return load_dataset(
        path, text_column=text_column, label_column=label_column, encoding=encoding, fmt=fmt, label_names=labels
    )


def _metrics_table(title: str, metrics: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    table.add_column("label")
    for col in ("precision", "recall", "f1", "support"):
        table.add_column(col, justify="right")
    for row in metrics["per_class"]:
        table.add_row(
            row["label"], f"{row['precision']:.4f}", f"{row['recall']:.4f}", f"{row['f1']:.4f}", str(row["support"])
        )
    console = Console()
    console.print(table)
    console.print(f"accuracy {metrics['accuracy']:.4f}   macro-F1 {metrics['macro_f1']:.4f}   n={metrics['n']}")


@app.command()
def train(
    data: str = typer.Argument(..., help="Training data: CSV/TSV/JSONL/Parquet file or one-file-per-label dir."),
    model: str = typer.Option(
        ...,
        "--model",
        "-m",
        help="Hub name or local directory of a pretrained model (encoder or decoder), or embedding:use-m / "
        "embedding:e5 (a logistic head on frozen multilingual embeddings: any language, seconds on a CPU).",
    ),
    output: Path = typer.Option(..., "--output", "-o", help="Directory to write the fine-tuned model to."),
    eval_data: str | None = typer.Option(None, "--eval", help="Optional eval data (early stopping, scores)."),
    text_column: str = TEXT_COLUMN,
    label_column: str = LABEL_COLUMN,
    encoding: str = ENCODING,
    fmt: str | None = FORMAT,
    epochs: int = typer.Option(3, help="Training epochs."),
    lr: float = typer.Option(TrainConfig.lr, help="Peak learning rate (AdamW, linear warm-up and decay)."),
    batch_size: int = typer.Option(TrainConfig.batch_size, help="Training batch size."),
    max_length: int = typer.Option(DEFAULT_MAX_LENGTH, help="Truncate texts to this many tokens."),
    seed: int = typer.Option(0, help="Seed for the head initialisation and data order."),
    patience: int | None = typer.Option(None, help="Early stopping patience in epochs (needs --eval)."),
    device: str = DEVICE,
    precision: str = PRECISION,
    threads: int | None = THREADS,
    adversarial: str | None = typer.Option(
        None,
        "--adversarial",
        help="Adversarial training with this recipe (a2t is the cheap one; see 'textrobust list recipes').",
    ),
    adversarial_mode: str = typer.Option(
        "online",
        help="online: attack a fraction every epoch (A2T style); offline: train, attack, add successes, retrain.",
    ),
    adversarial_fraction: float = typer.Option(0.2, help="Share of the training set attacked (per round)."),
    resource: list[str] = typer.Option([], "--resource", help="NAME=PATH for the recipe's resources."),
    adversarial_validity: str = typer.Option(
        "all",
        help="all: train on every successful attack; judge: only on those the --judge keeps (docs/validity.md).",
    ),
    judge: list[str] = typer.Option(
        [], "--judge", "-j", help="Validity judge for --adversarial-validity judge: a classifier directory or llm."
    ),
) -> None:
    """Fine-tune a pretrained transformer classifier on labelled text and save it."""
    from ..models import TextClassifier, check_model_source, evaluate

    runtime = make_runtime(device, precision, threads=threads, max_length=max_length)
    if adversarial and adversarial_mode not in ("online", "offline"):
        raise ConfigError(f"--adversarial-mode must be online or offline, got '{adversarial_mode}'")
    judge_raw = _validity_judge(adversarial, adversarial_validity, judge)
    train_data = _load(data, text_column, label_column, encoding, fmt)
    if judge_raw is not None:  # a judge with other labels fails before training
        from ..adversarial.validity import check_judge

        check_judge(judge_raw, train_data.label_names, "--judge")
    eval_set = _load(eval_data, text_column, label_column, encoding, fmt, train_data.label_names) if eval_data else None
    cfg = TrainConfig(epochs=epochs, lr=lr, batch_size=batch_size, seed=seed, early_stopping_patience=patience)
    from ..models.embedding import EmbeddingClassifier, parse_embedding_name

    emb = parse_embedding_name(model)
    clf: Any
    if emb is not None:
        clf = EmbeddingClassifier(**emb, labels=train_data.label_names, seed=seed, train_config=cfg, runtime=runtime)
    else:
        clf = TextClassifier(
            check_model_source(model),  # 'minilm' as in YAML; a missing folder or unreachable hub: now, in one line
            labels=train_data.label_names,
            max_length=max_length,
            seed=seed,
            train_config=cfg,
            runtime=runtime,
        )
    start = time.perf_counter()
    if adversarial:
        train_data = _adversarial_fit(
            clf, train_data, eval_set, adversarial, adversarial_mode, adversarial_fraction, resource, seed, judge_raw
        )
    else:
        clf.fit(train_data, eval_set)
    elapsed = time.perf_counter() - start
    from ..models.distributed import finish, is_main_process

    if is_main_process():  # under accelerate launch every process holds the same weights: one saves
        clf.save(output)
        typer.echo(f"trained on {len(train_data)} examples in {elapsed:.1f}s; model saved to {output}")
        if eval_set is not None:
            _metrics_table(f"eval: {eval_data}", evaluate(clf, eval_set))
    finish()


def _validity_judge(adversarial: str | None, validity: str, judge: list[str]) -> Any:
    """The judge spec of ``--adversarial-validity judge`` (None for ``all``); bad combinations fail in one line."""
    if validity not in ("all", "judge"):
        raise ConfigError(f"--adversarial-validity must be all or judge, got '{validity}'")
    if validity == "all":
        if judge:
            raise ConfigError("--judge is used with --adversarial-validity judge")
        return None
    if not adversarial:
        raise ConfigError("--adversarial-validity judge needs --adversarial RECIPE")
    if not judge:
        raise ConfigError(
            "--adversarial-validity judge needs --judge (a classifier directory trained on other data, or llm)"
        )
    from .validity import judge_spec

    return judge_spec(judge, None)


def _adversarial_fit(
    clf: Any,
    train_data: Any,
    eval_set: Any,
    recipe: str,
    mode: str,
    fraction: float,
    resource: list[str],
    seed: int,
    judge_raw: Any = None,
) -> Any:
    """Adversarial training (:func:`textrobust.adversarial.adversarial_fit`); returns the training set it used."""
    from ..adversarial import AttackSetup, adversarial_fit, build_resources
    from ..adversarial.resources import parse_resource_args

    setup = AttackSetup("", recipe, resources=parse_resource_args(resource), runtime=clf.runtime)
    setup.check()
    resources = build_resources(setup.resource_names(), setup.resources, runtime=clf.runtime)
    judge = None
    if judge_raw is not None:
        from ..adversarial.validity import build_judge

        judge = build_judge(judge_raw, train_data.label_names, clf.runtime)
    tally: dict[str, int] = {}
    added = adversarial_fit(
        clf,
        train_data,
        eval_set,
        recipe=setup.key,
        mode=mode,
        fraction=fraction,
        resources=resources,
        seed=seed,
        progress=True,
        judge=judge,
        tally=tally,
    )
    if judge is not None:
        typer.echo(
            f"validity judge {judge.name}: kept {tally.get('kept', 0)} of {tally.get('successes', 0)} "
            "adversarial examples"
        )
    if mode == "offline":
        typer.echo(f"offline adversarial training: {len(added)} adversarial examples added")
    return train_data.concat(added)


@app.command()
def evaluate(
    data: str = typer.Argument(..., help="Labelled data to score."),
    model: str = typer.Option(..., "--model", "-m", help="Model directory written by 'textrobust train'."),
    text_column: str = TEXT_COLUMN,
    label_column: str = LABEL_COLUMN,
    encoding: str = ENCODING,
    fmt: str | None = FORMAT,
    batch_size: int | None = typer.Option(
        None, help="Inference rows per batch (default: batches of at most --max-tokens tokens)."
    ),
    max_tokens: int | None = MAX_TOKENS,
    device: str = DEVICE,
    precision: str = PRECISION,
    threads: int | None = THREADS,
    as_json: bool = typer.Option(False, "--json", help="Print metrics as JSON."),
) -> None:
    """Score a trained model: accuracy, macro-F1, per-class report, confusion matrix."""
    from ..models import evaluate as _evaluate
    from ..models import load_model

    runtime = make_runtime(device, precision, max_tokens, threads)
    clf = load_model(model, runtime=runtime, batch_size=batch_size)
    eval_set = _load(data, text_column, label_column, encoding, fmt, clf.labels)
    metrics = _evaluate(clf, eval_set)
    if as_json:
        typer.echo(json.dumps(metrics, indent=2))
    else:
        _metrics_table(f"{data}", metrics)
