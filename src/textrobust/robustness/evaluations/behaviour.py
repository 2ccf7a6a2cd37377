"""What MFT and DIR behaviour tests share: a test pack, label matching, failure rates per capability."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from pydantic import Field

from ..labels import match_labels
from ..testpack import BehaviourPack, Case, load_pack
from .base import EvalContext, EvalParams, Evaluation, EvaluationResult, MetricInfo


class PackParams(EvalParams):
    pack: str | None = Field(
        None, description="test pack: 'sentiment' (built-in, the default), 'zh-sentiment', or a YAML/JSONL file"
    )
    translations: str | None = Field(
        None, description="a translation file of the pack's texts (JSONL source/target/lang), or 'sentiment.pt'"
    )
    label_map: dict[str, str] | None = Field(None, description="pack label -> model label, where names differ")
    seed: int = Field(0, description="seed of the template sampling (the same cases for every condition)")


class PackEvaluation(Evaluation):
    """Base of ``mft`` and ``dir``: failure rate overall (headline) and per capability."""

    params: PackParams
    label_word = ""  # "MFT" / "DIR"

    def examples_scored(self, n_test: int) -> int | None:
        return None  # the pack's own tests

    def pack(self) -> BehaviourPack:
        from ..spec import resolve_path

        if not hasattr(self, "_pack"):
            tr = self.params.translations
            pack = resolve_path(self.params.pack) if self.params.pack else None
            self._pack = load_pack(pack, translations=resolve_path(tr) if tr else None, seed=self.params.seed)
        return self._pack

    def metrics(self, labels: Sequence[str]) -> list[MetricInfo]:
        w = self.label_word
        out = [
            self.info(
                self.name,
                "failure_rate",
                f"{w} failure rate (all capabilities)",
                headline=True,
                higher_is_better=False,
                chart=f"{w} behaviour tests: failure rate",
            ),
            self.info(
                self.name, "n", f"{w} test cases", unit="count", range=(0, None), higher_is_better=None, role="info"
            ),
        ]
        out += [
            self.info(
                f"{self.name}:{c}",
                "failure_rate",
                f"{w} failure rate: {c}",
                higher_is_better=False,
                chart=f"{w} failure rate by capability",
            )
            for c in self.pack().capabilities(self.kind)
        ]
        return out

    def fingerprint(self) -> Any:
        return {**super().fingerprint(), "pack": self.pack().digest}

    def check(self, ctx: EvalContext) -> None:
        pack = self.pack()
        if not pack.capabilities(self.kind):
            from ...errors import ConfigError

            raise ConfigError(f"evaluation '{self.name}': test pack {pack.source} has no {self.kind} tests")
        if ctx.lang is not None:
            pack.check_language(ctx.lang, f"evaluation '{self.name}'")
        self.label_index(ctx.label_names)

    def label_index(self, model_labels: Sequence[str]) -> dict[str, int]:
        pack = self.pack()
        return match_labels(
            pack.labels,
            model_labels,
            self.params.label_map,
            where=f"evaluation '{self.name}' (test pack {pack.source})",
        )

    def scores(self, cases: list[Case], failed: np.ndarray, res: EvaluationResult) -> None:
        """Failure rate overall and per capability, as per-case outcomes."""
        ids = [c.id for c in cases]
        res.add_outcomes(self.name, "failure_rate", ids, failed.astype(float))
        res.add(self.name, "n", len(cases))
        caps = np.array([c.capability for c in cases])
        for cap in self.pack().capabilities(self.kind):
            res.add_outcomes(f"{self.name}:{cap}", "failure_rate", ids, np.where(caps == cap, failed, np.nan))
