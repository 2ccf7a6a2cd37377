"""Load a model someone already has, from one string: an HTTP endpoint, a ``textrobust train`` directory, or any
Hugging Face sequence-classification checkpoint (local directory or hub name)."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import ModelError

_GENERIC = re.compile(r"^LABEL_\d+$")


def load_model(
    source: str,
    *,
    labels: Sequence[str] | None = None,
    device: str = "auto",
    batch_size: int | None = None,
    max_tokens: int | None = None,
    max_length: int = 128,
    **remote: Any,
) -> Any:
    """A classifier (``labels`` + ``predict_proba``) from ``source``.

    * ``http://...`` / ``https://...``: a :class:`~textrobust.models.remote.RemoteModel` (``labels`` give the
      column order unless the server sends them; ``remote`` holds its timeout, retries, headers);
    * a directory written by ``textrobust train`` (or :meth:`TextClassifier.save`);
    * any other local directory or hub name of a ``*ForSequenceClassification`` checkpoint: labels from its
      ``id2label`` (or ``labels`` when those are the generic ``LABEL_0``...).

    Example:
        >>> clf = load_model("runs/sst2-model")  # doctest: +SKIP
        >>> api = load_model("http://127.0.0.1:8000/predict", labels=["neg", "pos"])  # doctest: +SKIP
    """
    from .classifier import META_FILE, TextClassifier

    if source.startswith(("http://", "https://")):
        from .remote import RemoteModel

        return RemoteModel(source, labels=labels, batch_size=batch_size or 256, **remote)
    if (Path(source) / META_FILE).is_file():
        clf = TextClassifier.load(source, device=device, batch_size=batch_size, max_tokens=max_tokens)
        if labels is not None and list(labels) != clf.labels:
            raise ModelError(f"{source}: labels {list(labels)} given, but the model was trained with {clf.labels}")
        return clf
    names = _hf_labels(source, labels)
    clf = TextClassifier(
        source, labels=names, device=device, batch_size=batch_size, max_tokens=max_tokens, max_length=max_length
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


def _read_config(source: str) -> dict[str, Any]:
    path = Path(source) / "config.json"
    if path.is_file():
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            raise ModelError(f"{path}: cannot read the model config (not JSON)") from None
    if Path(source).exists():
        raise ModelError(f"{source}: not a model directory (no config.json, no textrobust.json)")
    try:  # a hub name: needs the hub (HF_HUB_OFFLINE=1 makes this fail fast)
        from transformers import AutoConfig

        return AutoConfig.from_pretrained(source).to_dict()
    except Exception as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ModelError(
            f"cannot load model '{source}': not a local directory and it could not be fetched from "
            f"the Hugging Face hub (offline?) - give a local path ({first[:120]})"
        ) from None
