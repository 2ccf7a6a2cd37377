"""``augment``, ``attack`` and ``list`` commands."""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer

from . import app
from .commands import DEVICE, ENCODING, FORMAT, LABEL_COLUMN, TEXT_COLUMN, _load

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
) -> None:
    """Expand a training set with label-preserving variants (each operator makes its own variants)."""
    from ..augment import augment_file, load_filters_yaml, load_pipeline_yaml, parse_op
    from ..errors import ConfigError
    from .generate import _filter

    ops = [parse_op(spec) for spec in op]
    clf = None
    if classifier is not None:
        from ..models import TextClassifier

        clf = TextClassifier.load(classifier, device=device)
    flt = [_filter(f, clf) for f in filters]
    if config is not None:
        ops += load_pipeline_yaml(config)
        flt += load_filters_yaml(config)
    if not ops:
        raise ConfigError("give at least one --op SPEC or a --config PIPELINE.yaml (see 'textrobust list ops')")
    if device != "auto":
        ops = [_with_device(o, device) for o in ops]
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
        summary = augment_file(input, output, ops, workers=workers, fmt=fmt, encoding=encoding, **kwargs)
    typer.echo(json.dumps(summary.to_dict(), indent=2))


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


def _echo_dashboard(cluster) -> None:  # type: ignore[no-untyped-def]
    if cluster.dashboard_url:
        typer.echo(f"Ray dashboard: {cluster.dashboard_url}", err=True)


def _with_device(op, device: str):  # type: ignore[no-untyped-def]
    """Model-backed operators take a ``device`` parameter; rule-based ones ignore ``--device``."""
    import dataclasses

    from ..augment import operator_from_spec

    if any(f.name == "device" for f in dataclasses.fields(op.params)):
        spec = op.spec()
        spec["params"]["device"] = device
        return operator_from_spec(spec)
    return op


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
    max_tokens: int | None = typer.Option(
        None,
        "--max-tokens",
        help="Tokens (rows x padded width) per model forward pass (default: per device, 4096 on CPU, 32768 on CUDA).",
    ),
    seed: int = typer.Option(0, help="Seed (character-edit recipes)."),
    engine: str = typer.Option(
        "native",
        help="native, or textattack (needs the textattack extra; TextAttack's "
        "own recipe, e.g. deepwordbug; --batch-size/--seed do not apply).",
    ),
    resource: list[str] = typer.Option([], "--resource", help="NAME=PATH for neighbours, lexicon, encoder, mlm."),
    text_column: str = TEXT_COLUMN,
    label_column: str = LABEL_COLUMN,
    encoding: str = ENCODING,
    fmt: str | None = FORMAT,
    device: str = DEVICE,
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
    cpu_bf16: bool = typer.Option(
        False,
        "--cpu-bf16",
        help="bf16 inference on CPU for the model and sentence "
        "encoder: ~2.8x faster on CPUs with AVX512-BF16/AMX (measured), probabilities move "
        "by ~1e-3 so a few borderline results can differ from fp32. CUDA always uses bf16.",
    ),
    cpu_int8: bool = typer.Option(
        False,
        "--cpu-int8",
        help="int8 dynamic quantisation of the linear layers of the "
        "model and sentence encoder on CPU (measured in benchmarks/RESULTS.md; not exact: "
        "probabilities move, so some results differ from fp32).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
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
) -> None:
    """Attack a trained classifier and print the summary (accuracy under attack, success rate, queries)."""
    from ..adversarial import build_attack, run_attack
    from ..errors import ConfigError
    from ..models import load_model
    from ..progress import on_terminal

    if engine not in ("native", "textattack"):
        raise ConfigError(f"unknown engine '{engine}'; use --engine native or --engine textattack")
    if cpu_int8 and cpu_bf16:
        raise ConfigError("choose one of --cpu-bf16 and --cpu-int8")
    if output is not None and output.suffix not in (".jsonl", ".parquet"):
        raise ConfigError(f"{output}: --output must end in .jsonl or .parquet")
    if _ray_backend(backend, address, num_cpus, num_gpus):
        if engine != "native":
            raise ConfigError("--backend ray runs the native engine (drop --engine textattack)")
        report, labels = _attack_on_ray(
            data,
            model,
            recipe,
            resource,
            pos,
            pos_lexicon,
            device,
            (cpu_bf16, cpu_int8, max_tokens),
            n,
            address,
            actors,
            num_cpus,
            num_gpus,
            (text_column, label_column, encoding, fmt),
            {"batch_size": batch_size, "query_budget": query_budget, "seed": seed},
        )
        _attack_output(report, labels, output, as_json, f"{recipe} on {data} ({len(report.results)} examples, Ray)")
        return
    if actors is not None:
        raise ConfigError("--actors applies to --backend ray")
    if engine == "textattack":
        from ..adversarial.textattack_interop import TEXTATTACK_RECIPES, _textattack

        _textattack()  # fail early (ResourceError with the install hint) before loading the model
        if recipe.lower().replace("-", "_") not in TEXTATTACK_RECIPES:
            raise ConfigError(f"unknown TextAttack recipe '{recipe}'; known: {', '.join(sorted(TEXTATTACK_RECIPES))}")
        if resource:
            raise ConfigError("--resource is not used with --engine textattack (TextAttack loads its own resources)")
        if pos is not None:
            raise ConfigError("--pos is not used with --engine textattack (its recipes carry their own constraints)")
    else:
        key, resources = recipe_resources(recipe, resource)
        resources.update(_pos_options(recipe, key, pos, pos_lexicon))
    # a textrobust directory, a HF classifier, or an http(s):// endpoint
    clf = load_model(model, device=device, **({"max_tokens": max_tokens} if max_tokens is not None else {}))
    if max_tokens is not None:
        for m in resources.values() if engine == "native" else ():
            if hasattr(m, "max_tokens"):
                m.max_tokens = max_tokens
    dataset = _load(data, text_column, label_column, encoding, fmt, clf.labels)
    if n is not None:
        dataset = dataset.subset(range(min(n, len(dataset))))
    if cpu_bf16:
        from ..models.classifier import cpu_has_fast_bf16

        if getattr(clf, "device", None) == "cpu" and not cpu_has_fast_bf16():
            typer.echo(
                "warning: this CPU has no native bf16 (AVX512-BF16/AMX); --cpu-bf16 will likely be slower", err=True
            )
        for m in (clf, *(resources.values() if engine == "native" else ())):
            if hasattr(m, "cpu_bf16"):
                m.cpu_bf16 = True
    if cpu_int8:
        for m in (clf, *(resources.values() if engine == "native" else ())):
            if hasattr(m, "cpu_int8"):
                m.cpu_int8 = True
    start = time.perf_counter()
    if engine == "textattack":
        from ..adversarial.textattack_interop import run_textattack

        report = run_textattack(
            clf, recipe, dataset.texts, dataset.labels, query_budget=query_budget, progress=on_terminal()
        )
    else:  # off a terminal no live bar: the summary table follows
        report = run_attack(
            build_attack(key, clf, **resources),
            dataset.texts,
            dataset.labels,
            batch_size=batch_size,
            query_budget=query_budget,
            seed=seed,
            progress=on_terminal(),
        )
    _attack_output(
        report,
        clf.labels,
        output,
        as_json,
        f"{recipe} on {data} ({len(dataset)} examples)",
        round(time.perf_counter() - start, 2),
    )


def _attack_on_ray(
    data,
    model,
    recipe,
    resource,
    pos,
    pos_lexicon,
    device,
    speed,
    n,
    address,
    actors,  # type: ignore[no-untyped-def]
    num_cpus,
    num_gpus,
    columns,
    options,
):
    """The attack sharded over Ray actors; each builds the model and the resources once, where it runs."""
    from ..scale import AttackSetup, RayCluster, ShardedAttack

    key, given = _recipe_and_paths(recipe, resource)
    setup = AttackSetup(
        model,
        key,
        resources=given,
        options=_pos_options(recipe, key, pos, pos_lexicon),
        device=device,
        cpu_bf16=speed[0],
        cpu_int8=speed[1],
        max_tokens=speed[2],
    )
    with RayCluster(address) as cluster:
        _echo_dashboard(cluster)
        with ShardedAttack(setup, actors=actors, num_cpus=num_cpus or 1, num_gpus=num_gpus or 0) as sharded:
            dataset = _load(data, *columns, sharded.labels)
            if n is not None:
                dataset = dataset.subset(range(min(n, len(dataset))))
            return sharded.run(dataset.texts, dataset.labels, **options), sharded.labels


def _attack_output(report, labels, output, as_json: bool, title: str, wall_s: float | None = None) -> None:  # type: ignore[no-untyped-def]
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


def parse_resources(items: list[str]) -> dict[str, str]:
    """``--resource NAME=PATH`` options as a dict (NAME in neighbours, lexicon, encoder, mlm)."""
    from ..errors import ConfigError

    given = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or name not in ("neighbours", "lexicon", "encoder", "mlm"):
            raise ConfigError(
                f"--resource expects NAME=PATH with NAME in neighbours, lexicon, encoder, mlm; got '{item}'"
            )
        given[name] = path
    return given


def recipe_resources(recipe: str, resource: list[str]) -> tuple[str, dict]:
    """Check a recipe name and build its resources from ``--resource NAME=PATH`` (else shared-data defaults)."""
    from ..adversarial import RECIPES
    from ..robustness.resources import build_resources

    key, given = _recipe_and_paths(recipe, resource)
    return key, build_resources(RECIPES[key].resources, given)


def _recipe_and_paths(recipe: str, resource: list[str]) -> tuple[str, dict[str, str]]:
    """The recipe's registry key and the ``--resource NAME=PATH`` paths, checked (nothing loaded)."""
    from ..adversarial import RECIPES
    from ..errors import ConfigError, ResourceError

    key = recipe.replace("-", "_")
    if key not in RECIPES:
        raise ConfigError(f"unknown recipe '{recipe}'; known: {', '.join(sorted(RECIPES))}")
    given = parse_resources(resource)
    if "mlm" in RECIPES[key].resources and "mlm" not in given:
        raise ResourceError(f"recipe '{recipe}' needs a masked LM: pass --resource mlm=PATH")
    return key, given


@list_app.command("ops")
def list_ops() -> None:
    """Augmentation operators and their parameters (with defaults)."""
    from ..augment import list_operators

    for op in list_operators():
        params = ", ".join(f"{k}={v!r}" for k, v in op["params"].items())
        typer.echo(f"{op['name']:<14} {op['doc']}\n{'':<14} params: {params}")


@list_app.command("recipes")
def list_recipes() -> None:
    """Attack recipes, their papers and the resources each needs (give them with --resource NAME=PATH)."""
    from ..adversarial import RECIPES

    for name, spec in sorted(RECIPES.items()):
        needs = ", ".join(spec.resources) or "none"
        typer.echo(f"{name:<12} {spec.paper:<28} resources: {needs}")


@list_app.command("suites")
def list_suites() -> None:
    """Built-in perturbation suites for INV tests."""
    from ..robustness.suites import OPERATOR_SUITES, RULE_SUITES

    for name, spec in sorted(OPERATOR_SUITES.items()):
        typer.echo(f"{name:<12} operator {spec}")
    for name, fn in sorted(RULE_SUITES.items()):
        typer.echo(f"{name:<12} rule: {(fn.__doc__ or '').splitlines()[0]}")
