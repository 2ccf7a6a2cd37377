"""Matching label names between a model and data written elsewhere (transfer sets, behaviour test packs)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import ConfigError


def match_labels(
    source: Sequence[str],
    target: Sequence[str],
    label_map: Mapping[str, str] | None = None,
    *,
    where: str,
    target_is: str = "model",
) -> dict[str, int]:
    """Index into ``target`` (the model's labels; the data's with ``target_is="data"``) for every ``source`` label.

    ``label_map`` (source -> target name) wins; otherwise a label matches exactly, then ignoring case, then by a
    unique prefix ("neg" and "negative"). Anything else is a :class:`ConfigError` naming ``where``, and whose labels
    it looked among.

    Example:
        >>> match_labels(["neg", "pos"], ["negative", "positive"], where="mr")
        {'neg': 0, 'pos': 1}
        >>> match_labels(["negative", "positive"], ["negative"], where="m", target_is="data")
        Traceback (most recent call last):
        ...
        textrobust.errors.ConfigError: m: the model's label 'positive' is not a data label (data labels: ['negative']); give label_map: {positive: DATA_LABEL, ...}
    """  # noqa: E501
    own = "label" if target_is == "model" else "the model's label"
    target = [str(t) for t in target]
    lower = {t.lower(): i for i, t in enumerate(target)}
    out: dict[str, int] = {}
    for s in source:
        s = str(s)
        if label_map and s in label_map:
            name = str(label_map[s])
            if name not in target:
                raise ConfigError(
                    f"{where}: label_map maps '{s}' to '{name}', which is not a {target_is} label "
                    f"({target_is} labels: {target})"
                )
            out[s] = target.index(name)
            continue
        if s in target:
            out[s] = target.index(s)
        elif s.lower() in lower:
            out[s] = lower[s.lower()]
        else:
            hits = [
                i for i, t in enumerate(target) if t.lower().startswith(s.lower()) or s.lower().startswith(t.lower())
            ]
            if len(hits) != 1:
                raise ConfigError(
                    f"{where}: {own} '{s}' is not a {target_is} label ({target_is} labels: {target}); "
                    f"give label_map: {{{s}: {target_is.upper()}_LABEL, ...}}"
                )
            out[s] = hits[0]
    return out


class LabelAligned:
    """A model whose probability columns are put in the data's label order (a scanned model may order or name its
    labels differently: ``NEGATIVE``/``POSITIVE`` vs ``negative``/``positive``).

    Example:
        >>> import numpy as np
        >>> class M:
        ...     labels = ["POS", "NEG"]
        ...     def predict_proba(self, texts): return np.array([[0.9, 0.1]] * len(texts))
        >>> LabelAligned.wrap(M(), ["neg", "pos"], where="m").predict_proba(["x"]).tolist()
        [[0.1, 0.9]]
    """

    def __init__(self, model: Any, data_labels: Sequence[str], order: list[int]) -> None:
        self.model, self.labels, self._order = model, list(data_labels), order

    @classmethod
    def wrap(
        cls, model: Any, data_labels: Sequence[str], label_map: Mapping[str, str] | None = None, *, where: str
    ) -> Any:
        """``model`` itself when its labels already are the data's, else an aligned view; a :class:`ConfigError`
        when the two label sets cannot be matched one to one."""
        model_labels = [str(x) for x in model.labels]
        if model_labels == list(data_labels):
            return model
        if len(model_labels) > len(data_labels) and not label_map:
            # A test file without a row of some class is read with fewer labels than the model has.
            raise ConfigError(
                f"{where}: the model has {len(model_labels)} labels {model_labels}, the data's rows only "
                f"{len(data_labels)} {list(data_labels)}; name every label of the data, in order "
                f"(--data-labels {','.join(model_labels)} or label_names: [{', '.join(model_labels)}])"
            )
        index = match_labels(model_labels, data_labels, label_map, where=where, target_is="data")
        if len(model_labels) != len(data_labels) or sorted(index.values()) != list(range(len(data_labels))):
            raise ConfigError(
                f"{where}: the model's labels {model_labels} do not match the data's labels "
                f"{list(data_labels)} one to one; give label_map: {{MODEL_LABEL: DATA_LABEL, ...}}"
            )
        order = [model_labels.index(m) for m in sorted(index, key=lambda k: index[k])]
        return cls(model, data_labels, order)

    def predict_proba(self, texts: Sequence[str], batch_size: int | None = None) -> Any:
        return self.model.predict_proba(texts)[:, self._order]

    @property
    def label_only(self) -> bool:
        """Whether the model answers labels only (an endpoint without scores): attacks must know."""
        return bool(getattr(self.model, "label_only", False))

    @property
    def prompt_format(self) -> Any:
        """The prompt format of a prompted model (AttributeError for others)."""
        return self.model.prompt_format

    def with_prompt_format(self, fmt: Any) -> LabelAligned:
        """The aligned view of the model with another prompt format."""
        return LabelAligned(self.model.with_prompt_format(fmt), self.labels, self._order)
