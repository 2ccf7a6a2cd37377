"""``augment``, ``attack`` and ``list`` commands."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from . import app
from .commands import (
    DEVICE,
    ENCODING,
    FORMAT,
    LABEL_COLUMN,
    MAX_TOKENS,
    PRECISION,
    TEXT_COLUMN,
    THREADS,
    _load,
    make_runtime,
)
from .validity import DEFAULT_QUALITY, JUDGE, JUDGE_PROMPT, judge_spec, quality_names

if TYPE_CHECKING:  # pragma: no cover
    from ..adversarial import AttackReport, AttackSetup
    from ..adversarial.validity import Judge
    from ..models import Runtime
    from ..scale import RayCluster

list_app = typer.Typer(help="List operators, attack recipes and perturbation suites.", no_args_is_help=True)
app.add_typer(list_app, name="list")


BACKEND = typer.Option(
    "local", "--backend", help="local (this machine) or ray (a Ray cluster; needs the ray extra). Same output."
)
ADDRESS = typer.Option(
    None,
    "--address",
    help="With --backend ray: the cluster (HOST:PORT, ray://HOST:10001 or auto); default: start a local Ray instance.",
)
LANG = typer.Option(
    "auto",
    "--lang",
    help="The input's language (ISO 639-1: en, zh, fr, pt, ...); auto: detected from the input. A part that does "
    "not support it refuses (exit 2); see 'textrobust list languages'.",
)


def _resolve_lang(input: str, lang: str, text_column: str, fmt: str | None, encoding: str) -> str | None:
    """The input's language: ``--lang``, else detected from its first rows; letterless input refuses here. None
    for an input without rows (augment writes an empty output and warns)."""
    from ..augment.files import input_language
    from ..errors import LanguageError
    from ..lang import UNDETERMINED, name

    code = input_language(input, lang, text_column, fmt=fmt, encoding=encoding)
    if code == UNDETERMINED:
        raise LanguageError(
            f"{input}: no text in its first rows has letters to tell a language from ({name(code)}); check "
            "--text-column, or pass --lang"
        )
    return code


@app.command()
def augment(
    input: str = typer.Argument(
        ...,
        help="Input: CSV/TSV/JSONL/Parquet file, a one-file-per-label directory or a "
        "saved 'datasets' directory (read exactly as train/evaluate read it).",
    ),
    output: Path = typer.Option(..., "--output", "-o", help="Output file (.csv/.tsv/.jsonl/.parquet)."),
    op: list[str] = typer.Option(
        [],
        "--op",
        help="Operator spec, e.g. 'eda:alpha_sr=0.1' (repeatable: each "
        "operator makes its own -n variants, as 'each:' in YAML; write 'one_of:' or "
        "'sequence:' in a --config file to combine them). See 'textrobust list ops'.",
    ),
    config: Path | None = typer.Option(None, "--config", help="YAML pipeline (instead of, or with, --op)."),
    n: int = typer.Option(1, "-n", help="Variants per input row and operator."),
    seed: int = typer.Option(0, help="Seed: the same seed gives the same output, whatever the batch size."),
    text_column: str = TEXT_COLUMN,
    label_column: str = LABEL_COLUMN,
    encoding: str = ENCODING,
    fmt: str | None = FORMAT,
    keep_original: bool = typer.Option(False, "--keep-original", help="Also write the input rows."),
    batch_size: int = typer.Option(256, help="Rows per chunk (memory stays flat on large files)."),
    device: str = DEVICE,
    precision: str = PRECISION,
    threads: int | None = THREADS,
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted run (same output as one run)."),
    filters: list[str] = typer.Option(
        [],
        "--filter",
        help="NAME[:key=value,...], repeatable: dedup, "
        "length:min_words=3, similarity:threshold=0.7, label_preserving:threshold=0.5 "
        "(needs --classifier).",
    ),
    classifier: Path | None = typer.Option(
        None, "--classifier", help="Model directory written by 'textrobust train', for the label_preserving filter."
    ),
    workers: int = typer.Option(
        1,
        "--workers",
        help="Worker processes for rule-based pipelines (same output as 1; "
        "model-backed operators and the similarity filter use 1).",
    ),
    backend: str = BACKEND,
    address: str | None = ADDRESS,
    num_cpus: float | None = typer.Option(
        None, "--num-cpus", help="With --backend ray: CPUs per task or model actor (default 1)."
    ),
    num_gpus: float | None = typer.Option(
        None, "--num-gpus", help="With --backend ray: GPUs per model actor (default 0)."
    ),
    lang: str = LANG,
) -> None:
    """Expand a training set with label-preserving variants (each operator makes its own variants)."""
    from ..augment import augment_file, load_filters_yaml, load_pipeline_yaml, parse_op
    from ..augment.filters import check_filter_language
    from ..errors import ConfigError
    from .generate import _filter

    runtime = make_runtime(device, precision, threads=threads)
    ops = [parse_op(spec, runtime=runtime) for spec in op]
    clf = None
    if classifier is not None:
        from ..models import load_model

        clf = load_model(str(classifier), runtime=runtime)
    flt = [_filter(f, clf, runtime) for f in filters]
    if config is not None:
        ops += load_pipeline_yaml(config, runtime=runtime)
        flt += load_filters_yaml(config, runtime=runtime, classifier=clf)
    if not ops:
        raise ConfigError("give at least one --op SPEC or a --config PIPELINE.yaml (see 'textrobust list ops')")
    # One language for the whole file: every operator and filter is bound to it (or refuses) before any output.
    code = _resolve_lang(input, lang, text_column, fmt, encoding)
    if code is not None:  # None: no rows, nothing to bind
        ops = [o.for_language(code) for o in ops]
        for f in flt:
            check_filter_language(f, code)
    kwargs = dict(
        n=n,
        seed=seed,
        keep_original=keep_original,
        text_column=text_column,
        label_column=label_column,
        batch_size=batch_size,
        resume=resume,
        filters=flt,
    )
    if _ray_backend(backend, address, num_cpus, num_gpus, workers=workers):
        if fmt is not None or encoding.lower().replace("-", "") != "utf8":
            raise ConfigError(
                "--backend ray reads UTF-8 CSV/TSV/JSONL/Parquet files: drop --format/--encoding "
                "(convert the input first)"
            )
        from ..scale import RayCluster, augment_file_ray

        with RayCluster(address) as cluster:
            _echo_dashboard(cluster)
            summary = augment_file_ray(input, output, ops, num_cpus=num_cpus or 1, num_gpus=num_gpus or 0, **kwargs)
    else:
        summary = augment_file(input, output, ops, workers=workers, fmt=fmt, encoding=encoding, lang=code, **kwargs)
    typer.echo(json.dumps(summary.to_dict(), indent=2))
    typer.echo(summary.accounting(), err=True)


def _ray_backend(
    backend: str, address: str | None, num_cpus: float | None, num_gpus: float | None, **local_only: int
) -> bool:
    """Whether ``--backend ray`` was asked for (and its options make sense); local-only options must be left as is."""
    from ..errors import ConfigError
    from ..scale.backend import check_backend

    check_backend(backend, address)
    if backend == "local" and (num_cpus is not None or num_gpus is not None):
        raise ConfigError("--num-cpus / --num-gpus apply to --backend ray")
    bad = [f"--{k.replace('_', '-')}" for k, v in local_only.items() if backend == "ray" and v not in (None, 1)]
    if bad:
        raise ConfigError(f"{', '.join(bad)} applies to --backend local (Ray sizes its own workers)")
    if backend == "ray":
        from ..scale import require_ray

        require_ray()
    return backend == "ray"


def _echo_dashboard(cluster: RayCluster) -> None:
    if cluster.dashboard_url:
        typer.echo(f"Ray dashboard: {cluster.dashboard_url}", err=True)


@app.command()
def attack(
    data: str = typer.Argument(..., help="Labelled data to attack."),
    model: str = typer.Option(
        ...,
        "--model",
        "-m",
        help="A 'textrobust train' directory, a Hugging Face "
        "classifier, or an http(s):// endpoint (black-box recipes; docs/scan.md).",
    ),
    recipe: str = typer.Option(..., "--recipe", "-r", help="Recipe name; see 'textrobust list recipes'."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Per-example results (.jsonl/.parquet)."),
    n: int | None = typer.Option(None, "-n", help="Attack the first N examples (default all)."),
    query_budget: int | None = typer.Option(None, "--query-budget", help="Max model queries per example."),
    batch_size: int | None = typer.Option(
        None,
        help="Examples advanced in lockstep (default: from the model's token budget, 512 on CPU and 4096 on CUDA).",
    ),
    max_tokens: int | None = MAX_TOKENS,
    seed: int = typer.Option(0, help="Seed (character-edit recipes)."),
    engine: str = typer.Option(
        "native",
        help="native, or textattack (needs the textattack extra; TextAttack's "
        "own recipe, e.g. deepwordbug; --batch-size/--seed do not apply).",
    ),
    resource: list[str] = typer.Option(
        [], "--resource", help="NAME=PATH for neighbours, lexicon, encoder, mlm, stopwords ('textrobust list recipes')."
    ),
    labels: str | None = typer.Option(
        None, "--labels", help="Output order of a model that does not say it (an HTTP endpoint without 'labels')."
    ),
    text_column: str = TEXT_COLUMN,
    label_column: str = LABEL_COLUMN,
    encoding: str = ENCODING,
    fmt: str | None = FORMAT,
    device: str = DEVICE,
    precision: str = PRECISION,
    threads: int | None = THREADS,
    pos: str | None = typer.Option(
        None,
        "--pos",
        help="Part-of-speech check for textfooler, bae, a2t and "
        "hotflip: 'spacy' (spaCy's tagger in context; the pos extra), 'lexicon' "
        "(offline: POS sets from the OEWN lexicon, or --pos-lexicon) or 'nltk' "
        "(NLTK's tagger in context; needs its data).",
    ),
    pos_lexicon: Path | None = typer.Option(
        None,
        "--pos-lexicon",
        help="With --pos lexicon: an OEWN-format JSON (word -> {pos: [...]}); default the shared oewn_lexicon.json.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
    judge: list[str] = JUDGE,
    judge_prompt: str | None = JUDGE_PROMPT,
    quality: str = typer.Option(
        DEFAULT_QUALITY,
        "--quality",
        help="Quality metrics of successful attacks (comma list): modification, edits, similarity, perplexity "
        "(SmolLM2; opt-in, slower), or none.",
    ),
    backend: str = BACKEND,
    address: str | None = ADDRESS,
    actors: int | None = typer.Option(
        None,
        "--actors",
        help="With --backend ray: attack actors, each loading "
        "the model once (default: one per GPU, or one per --num-cpus CPUs).",
    ),
    num_cpus: float | None = typer.Option(None, "--num-cpus", help="With --backend ray: CPUs per actor (1)."),
    num_gpus: float | None = typer.Option(None, "--num-gpus", help="With --backend ray: GPUs per actor (0)."),
    lang: str = LANG,
) -> None:
    """Attack a trained classifier and print the summary (accuracy under attack, success rate, queries)."""
    from ..adversarial import AttackSetup, run_attack
    from ..adversarial.resources import parse_resource_args
    from ..adversarial.setup import recipe_key
    from ..errors import ConfigError, ResourceError
    from ..progress import on_terminal

    if engine not in ("native", "textattack"):
        raise ConfigError(f"unknown engine '{engine}'; use --engine native or --engine textattack")
    if output is not None and output.suffix not in (".jsonl", ".parquet"):
        raise ConfigError(f"{output}: --output must end in .jsonl or .parquet")
    runtime = make_runtime(device, precision, max_tokens, threads)
    # Judge and quality metrics are checked before any model loads or any attack runs (labels once known).
    from ..adversarial.quality import check_quality

    judge_raw = judge_spec(judge, judge_prompt)
    metrics = quality_names(quality)
    try:
        check_quality(metrics, runtime)
    except ResourceError as e:
        if quality != DEFAULT_QUALITY or "similarity" not in metrics:
            raise  # a metric the user asked for: its absence is an error
        # The default's similarity needs MiniLM (the demo extra): without it, the cheap metrics still run, and say so.
        metrics = [m for m in metrics if m != "similarity"]
        check_quality(metrics, runtime)
        typer.echo(f"warning: quality metric 'similarity' left out: {e}", err=True)
    names = tuple(x.strip() for x in labels.split(",")) if labels else None
    if engine == "textattack":
        setup = AttackSetup(model, "deepwordbug", runtime=runtime, labels=names)  # the victim only
        _check_textattack(recipe, resource, pos)
    else:
        key = recipe_key(recipe)
        options = _pos_options(recipe, key, pos, pos_lexicon)
        setup = AttackSetup(model, key, parse_resource_args(resource), options, runtime, names)
        setup.check()
        from ..adversarial.recipes import RECIPE_LANGUAGES
        from ..lang import check_supported

        code = _resolve_lang(data, lang, text_column, fmt, encoding)  # before the model loads
        if code is not None:  # None: no rows (reading the data says so)
            hint = "Chinese recipes: zh_char, zh_word" if code == "zh" else ""
            check_supported(f"recipe {key}", code, RECIPE_LANGUAGES[key], hint)
    ray = _ray_backend(backend, address, num_cpus, num_gpus)
    if not ray and actors is not None:
        raise ConfigError("--actors applies to --backend ray")
    if ray:
        if engine != "native":
            raise ConfigError("--backend ray runs the native engine (drop --engine textattack)")
        options = {"batch_size": batch_size, "query_budget": query_budget, "seed": seed}
        columns = (text_column, label_column, encoding, fmt)
        check = (lambda labels_: _build_judge(judge_raw, labels_, runtime, check_only=True)) if judge_raw else None
        report, names_ = _attack_on_ray(
            setup, data, n, address, actors, num_cpus, num_gpus, columns, options, check_labels=check
        )
        _assess(report, judge_raw, metrics, names_, runtime)
        _attack_output(report, names_, output, as_json, f"{recipe} on {data} ({len(report.results)} examples, Ray)")
        return
    clf = setup.build_model()  # a textrobust directory, a HF classifier, or an http(s):// endpoint
    judge_obj = _build_judge(judge_raw, clf.labels, runtime) if judge_raw is not None else None
    dataset = _load(data, text_column, label_column, encoding, fmt, clf.labels)
    if n is not None:
        dataset = dataset.subset(range(min(n, len(dataset))))
    start = time.perf_counter()
    if engine == "textattack":
        from ..adversarial.textattack_interop import run_textattack

        report = run_textattack(
            clf, recipe, dataset.texts, dataset.labels, query_budget=query_budget, progress=on_terminal()
        )
    else:  # off a terminal no live bar: the summary table follows
        report = run_attack(
            setup.build(clf),
            dataset.texts,
            dataset.labels,
            batch_size=batch_size,
            query_budget=query_budget,
            seed=seed,
            progress=on_terminal(),
            lang=code,
        )
    _assess(report, judge_obj, metrics, clf.labels, runtime)
    _attack_output(
        report,
        clf.labels,
        output,
        as_json,
        f"{recipe} on {data} ({len(dataset)} examples)",
        round(time.perf_counter() - start, 2),
    )


def _check_textattack(recipe: str, resource: list[str], pos: str | None) -> None:
    """TextAttack installed, its recipe known, and no native-only option given."""
    from ..adversarial.textattack_interop import TEXTATTACK_RECIPES, require_textattack
    from ..errors import ConfigError

    require_textattack()  # fail early (ResourceError with the install hint) before loading the model
    if recipe.lower().replace("-", "_") not in TEXTATTACK_RECIPES:
        raise ConfigError(f"unknown TextAttack recipe '{recipe}'; known: {', '.join(sorted(TEXTATTACK_RECIPES))}")
    if resource:
        raise ConfigError("--resource is not used with --engine textattack (TextAttack loads its own resources)")
    if pos is not None:
        raise ConfigError("--pos is not used with --engine textattack (its recipes carry their own constraints)")


def _build_judge(spec: Any, labels: Sequence[str], runtime: Runtime, check_only: bool = False) -> Any:
    """The judge for a victim with these labels (a label mismatch fails here, before the attack); with
    ``check_only``, the checked parameters without loading any model."""
    from ..adversarial.validity import build_judge, check_judge

    if check_only:
        return check_judge(spec, labels)
    return build_judge(spec, labels, runtime)


def _assess(
    report: AttackReport,
    judge: Judge | Any | None,
    metrics: Sequence[str],
    labels: Sequence[str],
    runtime: Runtime,
) -> None:
    """Quality metrics and the validity judge on the successes (see textrobust.adversarial.assess)."""
    from ..adversarial.assess import assess

    if judge is not None and not hasattr(judge, "judge"):
        judge = _build_judge(judge, labels, runtime)
    assess(report, judge=judge, quality=metrics, runtime=runtime)


def _attack_on_ray(
    setup: AttackSetup,
    data: str,
    n: int | None,
    address: str | None,
    actors: int | None,
    num_cpus: float | None,
    num_gpus: float | None,
    columns: tuple[str, str, str, str | None],
    options: dict[str, Any],
    check_labels: Callable[[list[str]], object] | None = None,
) -> tuple[AttackReport, list[str]]:
    """The attack sharded over Ray actors; each builds the model and the resources once, where it runs."""
    from ..scale import RayCluster, ShardedAttack

    with RayCluster(address) as cluster:
        _echo_dashboard(cluster)
        with ShardedAttack(setup, actors=actors, num_cpus=num_cpus or 1, num_gpus=num_gpus or 0) as sharded:
            if check_labels is not None:
                check_labels(sharded.labels)
            dataset = _load(data, *columns, sharded.labels)
            if n is not None:
                dataset = dataset.subset(range(min(n, len(dataset))))
            return sharded.run(dataset.texts, dataset.labels, **options), sharded.labels


def _attack_output(
    report: AttackReport,
    labels: list[str],
    output: Path | None,
    as_json: bool,
    title: str,
    wall_s: float | None = None,
) -> None:
    summary = report.summary()
    summary["wall_s"] = round(wall_s if wall_s is not None else report.elapsed_s, 2)
    if output is not None:  # the record schema of a run's examples.jsonl (labels by name)
        (report.to_parquet if output.suffix == ".parquet" else report.to_jsonl)(output, labels)
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for k, v in summary.items():
        table.add_row(k, f"{v:.4f}" if isinstance(v, float) else str(v))
    Console().print(table)
    if output is not None:
        typer.echo(f"per-example results: {output}")


def _pos_options(recipe: str, key: str, pos: str | None, pos_lexicon: Path | None) -> dict:
    """``--pos`` / ``--pos-lexicon`` as recipe keyword arguments, checked against the recipe."""
    import inspect

    from ..adversarial import RECIPES
    from ..errors import ConfigError

    if pos is None:
        if pos_lexicon is not None:
            raise ConfigError("--pos-lexicon needs --pos lexicon")
        return {}
    if pos not in ("spacy", "lexicon", "nltk"):
        raise ConfigError(f"--pos must be 'spacy', 'lexicon' or 'nltk', got '{pos}'")
    if "pos" not in inspect.signature(RECIPES[key].build).parameters:
        with_pos = sorted(k for k, v in RECIPES.items() if "pos" in inspect.signature(v.build).parameters)
        raise ConfigError(f"recipe '{recipe}' has no part-of-speech check; --pos applies to {', '.join(with_pos)}")
    if pos_lexicon is not None and pos != "lexicon":
        raise ConfigError("--pos-lexicon applies to --pos lexicon only")
    if pos_lexicon is not None and not pos_lexicon.is_file():
        raise ConfigError(f"{pos_lexicon}: --pos-lexicon file not found")
    return {"pos": pos, **({"pos_lexicon": str(pos_lexicon)} if pos_lexicon is not None else {})}


@list_app.command("ops")
def list_ops() -> None:
    """Augmentation operators and their parameters (with defaults)."""
    from ..augment import list_operators, registered
    from ..lang import describe

    classes = registered()
    for op in list_operators():
        params = ", ".join(f"{k}={v!r}" for k, v in op["params"].items())
        langs = describe(classes[op["name"]].languages)
        typer.echo(f"{op['name']:<14} {op['doc']}\n{'':<14} params: {params}\n{'':<14} languages: {langs}")


@list_app.command("recipes")
def list_recipes() -> None:
    """Attack recipes, their papers and the resources each needs (give them with --resource NAME=PATH)."""
    from ..adversarial import RECIPES, RESOURCES
    from ..adversarial.recipes import RECIPE_LANGUAGES
    from ..lang import describe

    for name, spec in sorted(RECIPES.items()):
        needs = ", ".join(spec.resources) or "none"
        typer.echo(f"{name:<12} {spec.paper:<28} resources: {needs}; languages: {describe(RECIPE_LANGUAGES[name])}")
    typer.echo("\nresources (--resource NAME=PATH; default when not given):")
    for kind in RESOURCES.values():
        typer.echo(
            f"  {kind.name:<11} {kind.what}\n  {'':<11} PATH: {kind.path_form}; default: {kind.default or 'none'}"
        )


@list_app.command("suites")
def list_suites() -> None:
    """Built-in perturbation suites for INV tests."""
    from ..augment import parse_op
    from ..lang import describe
    from ..robustness.suites import OPERATOR_SUITES, RULE_LANGUAGES, RULE_SUITES

    for name, spec in sorted(OPERATOR_SUITES.items()):
        # the operator's declaration for these parameters (building it loads no resource)
        langs = describe(parse_op(spec.replace("{data_dir}", "x")).supported_languages())
        typer.echo(f"{name:<12} operator {spec}  [languages: {langs}]")
    for name, fn in sorted(RULE_SUITES.items()):
        langs = describe(RULE_LANGUAGES[name])
        typer.echo(f"{name:<12} rule: {(fn.__doc__ or '').splitlines()[0]}  [languages: {langs}]")


@list_app.command("languages")
def list_languages(
    code: str | None = typer.Argument(None, help="A language code: list what supports it (default: every language)."),
) -> None:
    """Languages textrobust detects, and which operators, recipes and suites support each."""
    from ..adversarial.recipes import RECIPE_LANGUAGES
    from ..augment import parse_op, registered
    from ..lang import LANGUAGES, normalise, supports
    from ..robustness.suites import OPERATOR_SUITES, RULE_LANGUAGES

    codes = [normalise(code)] if code else list(LANGUAGES)
    suite_langs = dict(RULE_LANGUAGES)
    for name, spec in OPERATOR_SUITES.items():
        suite_langs[name] = parse_op(spec.replace("{data_dir}", "x")).supported_languages()
    for c in codes:
        ops = [n for n, cls in sorted(registered().items()) if supports(cls.languages, c)]
        recipes = [n for n, langs in sorted(RECIPE_LANGUAGES.items()) if supports(langs, c)]
        suites = [n for n, langs in sorted(suite_langs.items()) if supports(langs, c)]
        lang = LANGUAGES.get(c)
        typer.echo(f"{c} ({lang.name if lang else 'not detected; give --lang'})")
        typer.echo(f"  operators: {', '.join(ops) or 'none'}")
        typer.echo(f"  recipes:   {', '.join(recipes) or 'none'}")
        typer.echo(f"  suites:    {', '.join(suites) or 'none'}")
