"""Assess an attack's successes after the run: quality metrics and a validity judge on every successful example.

Both read only ``(original, perturbed, gold label)``, so they apply to any :class:`AttackReport` (native,
TextAttack or Ray runs alike) and run batched over all successes at once: one encoder pass, one LM pass, one judge
pass. The columns land on each :class:`AttackResult` (``quality``, ``judge``), in its record and in
:meth:`AttackReport.summary` (``valid_success_rate``, ``accuracy_under_valid_attack``, ``avg_similarity``, ...).

Example:
    >>> report = run_attack(textfooler(model, **res), texts, labels)  # doctest: +SKIP
    >>> judge = build_judge("models/sst2-judge", model.labels)  # doctest: +SKIP
    >>> assess(report, judge=judge).summary()["valid_success_rate"]  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from textrobust.adversarial.quality import DEFAULT_QUALITY, score_quality
from textrobust.adversarial.results import AttackReport, AttackResult
from textrobust.adversarial.validity import Judge, Verdicts
from textrobust.models.runtime import Runtime


def judge_results(results: Sequence[AttackResult], judge: Judge) -> Verdicts:
    """The judge's verdicts on these results (their perturbed texts against their originals and gold labels)."""
    return judge.judge(
        [r.original_text for r in results], [r.perturbed_text for r in results], [r.label for r in results]
    )


def assess(
    report: AttackReport,
    *,
    judge: Judge | None = None,
    quality: Sequence[str] = DEFAULT_QUALITY,
    quality_options: dict[str, dict[str, Any]] | None = None,
    runtime: Runtime | None = None,
) -> AttackReport:
    """Score the successful attacks of ``report`` in place (and return it): the ``quality`` metrics (see
    :mod:`textrobust.adversarial.quality`) and, with a ``judge``, each one's verdict and whether it counts as valid
    (``kept``, or ``abstained`` when the judge's ``on_abstain`` is ``valid``)."""
    wins = report.successful()
    originals, perturbed = [r.original_text for r in wins], [r.perturbed_text for r in wins]
    if quality:
        cols = score_quality(originals, perturbed, quality, runtime=runtime, options=quality_options)
        for i, r in enumerate(wins):
            r.quality = {k: (v[i] if isinstance(v, list) else float(v[i])) for k, v in cols.items()}
    report.extra["quality"] = list(quality)
    if judge is not None:
        verdicts = judge_results(wins, judge)
        valid = verdicts.valid(judge.params.on_abstain)
        rows = zip(wins, verdicts.p, verdicts.score, verdicts.verdicts, valid, strict=True)
        for r, p, score, verdict, ok in rows:
            r.judge = {
                "judge": judge.name,
                "p": round(float(p), 4),
                "score": round(float(score), 4),
                "verdict": verdict,
                "valid": bool(ok),
            }
        report.extra["judge"] = judge.name
    return report


def keep_valid(
    texts: Sequence[str], originals: Sequence[str], labels: Sequence[int], judge: Judge
) -> tuple[np.ndarray, Verdicts]:
    """Which adversarial training texts the judge *keeps* (abstentions dropped: a training label the judge could not
    confirm is not taught), and the verdicts."""
    verdicts = judge.judge(list(originals), list(texts), [int(y) for y in labels])
    return verdicts.kept, verdicts


__all__ = ["assess", "judge_results", "keep_valid"]
