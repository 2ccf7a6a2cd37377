"""The levels every statistic of a run uses (one place, so that intervals, tests and power agree)."""

#: Seeds needed before seed variance is estimated (and before the seed-only view has an interval).
MIN_SEEDS = 3
#: Confidence of every interval; its complement is the family-wise error rate of the verdicts.
CONFIDENCE = 0.95
#: Power of the minimum detectable effect.
POWER = 0.8
