"""Matching label names between a model and data written elsewhere (transfer sets, behaviour test packs)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..errors import ConfigError


def match_labels(source: Sequence[str], target: Sequence[str], label_map: Mapping[str, str] | None = None,
                 *, where: str) -> dict[str, int]:
    """Index into ``target`` (the model's labels) for every ``source`` label.

    ``label_map`` (source -> target name) wins; otherwise a label matches exactly, then ignoring case, then by a
    unique prefix ("neg" and "negative"). Anything else is a :class:`ConfigError` naming ``where``.

    Example:
        >>> match_labels(["neg", "pos"], ["negative", "positive"], where="mr")
        {'neg': 0, 'pos': 1}
    """
    target = [str(t) for t in target]
    lower = {t.lower(): i for i, t in enumerate(target)}
    out: dict[str, int] = {}
    for s in source:
        s = str(s)
        if label_map and s in label_map:
            name = str(label_map[s])
            if name not in target:
                raise ConfigError(f"{where}: label_map maps '{s}' to '{name}', which is not a model label "
                                  f"(model labels: {target})")
            out[s] = target.index(name)
            continue
        if s in target:
            out[s] = target.index(s)
        elif s.lower() in lower:
            out[s] = lower[s.lower()]
        else:
            hits = [i for i, t in enumerate(target) if t.lower().startswith(s.lower()) or s.lower().startswith(t.lower())]
            if len(hits) != 1:
                raise ConfigError(f"{where}: label '{s}' is not a model label (model labels: {target}); "
                                  f"give label_map: {{{s}: MODEL_LABEL, ...}}")
            out[s] = hits[0]
    return out
