"""``zh_script``: Simplified <-> Traditional Chinese (OpenCC; the ``zh`` extra). The same text in the other script
should get the same prediction: ChnSentiCorp's dev set itself holds Traditional reviews.

``config`` is an OpenCC conversion (``s2t`` Simplified -> Traditional, the default; ``t2s`` back; ``s2tw`` /
``s2hk`` regional forms, ...). ``p`` below 1 converts only that fraction of the characters that change (a
mixed-script text, as copy-pasted text often is); ``p=1`` converts the whole text (one variant per text).

Example:
    >>> from textrobust.augment import parse_op
    >>> parse_op("zh_script")(["这部电影很好看"], seed=0)  # doctest: +SKIP
    [['這部電影很好看']]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from textrobust import text as _text
from textrobust.augment import zh_tables
from textrobust.augment.base import Operator, Params, check, register


@dataclass(frozen=True)
class ZhScriptParams(Params):
    config: str = "s2t"
    p: float = 1.0  # fraction of the convertible characters converted

    def validate(self, op: str) -> None:
        configs = zh_tables.OPENCC_CONFIGS
        check(op, "config", self.config in configs, "|".join(configs), self.config)
        check(op, "p", 0 < self.p <= 1, "a float in (0, 1]", self.p)


@register
class ZhScript(Operator):
    """Simplified <-> Traditional Chinese conversion (OpenCC), whole text or a fraction of its characters."""

    name = "zh_script"
    Params = ZhScriptParams
    params: ZhScriptParams
    languages = ("zh",)

    @property
    def deterministic(self) -> bool:
        return self.params.p >= 1

    def check_extras(self) -> None:
        from textrobust.extras import require

        require("opencc", f"zh_script:config={self.params.config}")

    def inapplicable(self, text: str) -> str | None:
        same = zh_tables.convert(text, self.params.config) == text
        return f"no character with another form ({self.params.config})" if same else None

    def apply(self, text: str, rng: np.random.Generator) -> str | None:
        converted = zh_tables.convert(text, self.params.config)
        if converted == text:
            return None  # nothing in this text has another form (already converted, or no such characters)
        if self.params.p >= 1 or len(converted) != len(text):
            return converted
        diff = [i for i, (a, b) in enumerate(zip(text, converted, strict=True)) if a != b]
        draws = _text.Draws(rng)
        keep = draws.sample(len(diff), max(1, round(self.params.p * len(diff))))
        chars = list(text)
        for j in keep:
            chars[diff[j]] = converted[diff[j]]
        return "".join(chars)
