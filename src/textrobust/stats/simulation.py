"""Generating processes with known answers, to check the statistics by simulation (``tests/test_stats_sim.py``
runs a fast seeded subset, ``benchmarks/stats_sim.py`` the full table behind ``docs/statistics.md``).

A training run (condition c, seed s) gets test example i right when its latent margin is positive — a probit
threshold model::

    y[c, s, i] = 1{ mu + delta_c + b[i] + g[c, i] + a[c, s] + e[c, s, i] > 0 }

* ``b ~ N(0, sd_item^2)``: example difficulty (item heterogeneity);
* ``g ~ N(0, sd_cond_item^2)``: condition x example effects with mean zero (a condition helps on some examples and
  hurts on others: an example-level component in the *differences*);
* ``a ~ N(0, sd_seed^2)``: the run's seed effect; ``e ~ N(0, 1)``: seed x example interaction (different seeds get
  different examples wrong). Runs of two conditions trained with the same seed share a fraction ``rho`` of ``a``
  and ``e`` (correlated conditions; ``rho = 0``: independent);
* with probability ``collapse`` a run collapses: it predicts one class for every example (balanced binary labels),
  so it is right on exactly the examples of that class.

``mu`` is set so that a baseline run's expected accuracy is ``accuracy``; a condition's effect is given on the
accuracy scale and turned into ``delta_c`` (:meth:`Process.shift`). Truths are closed-form (Gaussian integrals).

Calibration: :func:`simulate_ece` draws top-label confidences and correctness of two differently miscalibrated
conditions and returns per-seed ECEs with the truth *on this test set* (the expectation over training runs).

Example:
    >>> rng = np.random.default_rng(0)
    >>> draw = simulate(PROCESSES["independent"], rng, reps=2, seeds=3, items=50)
    >>> draw.y.shape, draw.y.dtype
    ((2, 2, 3, 50), dtype('bool'))
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np


@dataclass(frozen=True)
class Process:
    """Parameters of the generating process (probit scale); see the module docstring."""

    name: str
    accuracy: float = 0.78
    sd_item: float = 1.2
    sd_seed: float = 0.1
    rho: float = 0.5
    sd_cond_item: float = 0.0
    collapse: float = 0.0

    @property
    def total_sd(self) -> float:
        return math.sqrt(1 + self.sd_item**2 + self.sd_cond_item**2 + self.sd_seed**2)

    @property
    def mu(self) -> float:
        from scipy import special

        return float(special.ndtri(self.accuracy)) * self.total_sd

    def shift(self, change: np.ndarray | float) -> np.ndarray:
        """Latent shift ``delta`` that moves a (non-collapsed) run's expected accuracy by ``change``."""
        from scipy import special

        target = np.clip(self.accuracy + np.asarray(change, dtype=float), 1e-9, 1 - 1e-9)
        return special.ndtri(target) * self.total_sd - self.mu

    def accuracy_given_seed(self, delta: np.ndarray, a: np.ndarray) -> np.ndarray:
        """Expected accuracy over examples of runs with seed effect ``a`` (the models at hand)."""
        from scipy import special

        return special.ndtr((self.mu + delta + a) / math.sqrt(1 + self.sd_item**2 + self.sd_cond_item**2))


#: The processes of the simulation table (the null and power checks run each at every design).
PROCESSES: dict[str, Process] = {
    p.name: p
    for p in (
        Process("independent", rho=0.0),
        Process("correlated", rho=0.9),
        Process("example effects", rho=0.9, sd_cond_item=0.5),
        Process("large seed variance", sd_seed=0.35),
        Process("accuracy 15%", accuracy=0.15),
        Process("accuracy 97%", accuracy=0.97),
        Process("collapsed runs", collapse=0.1),
    )
}


@dataclass
class Draw:
    """Simulated experiments: ``y[rep, condition, seed, example]`` (bool), the runs' seed effects ``a`` and
    latent shifts ``delta`` (``[rep, condition, seed]``), which runs ``collapsed``, and the examples' ``labels``."""

    y: np.ndarray
    a: np.ndarray
    delta: np.ndarray
    collapsed: np.ndarray
    labels: np.ndarray


def simulate(
    process: Process,
    rng: np.random.Generator,
    reps: int,
    seeds: int,
    items: int,
    change: np.ndarray | float = 0.0,
    conditions: int = 2,
) -> Draw:
    """``reps`` experiments of ``conditions`` conditions x ``seeds`` x ``items``; condition 0 is the baseline, the
    others' expected accuracy differs by ``change`` (a scalar or one value per rep)."""
    p = process
    shape = (reps, conditions, seeds, items)
    delta = np.zeros((reps, conditions, 1))
    delta[:, 1:] = np.asarray(p.shift(np.broadcast_to(change, (reps,))), dtype=float)[:, None, None]
    r1, r0 = math.sqrt(1 - p.rho), math.sqrt(p.rho)
    a = p.sd_seed * (r0 * rng.standard_normal((reps, 1, seeds)) + r1 * rng.standard_normal((reps, conditions, seeds)))
    latent = rng.standard_normal(shape, dtype=np.float32) * np.float32(r1)
    latent += np.float32(r0) * rng.standard_normal((reps, 1, seeds, items), dtype=np.float32)
    latent += (p.sd_item * rng.standard_normal((reps, 1, 1, items))).astype(np.float32)
    if p.sd_cond_item:
        latent += (p.sd_cond_item * rng.standard_normal((reps, conditions, 1, items))).astype(np.float32)
    latent += (p.mu + delta + a)[..., None].astype(np.float32)
    y = latent > 0
    labels = rng.random((reps, items)) < 0.5
    collapsed = rng.random((reps, conditions, seeds)) < p.collapse
    if collapsed.any():
        says = rng.random((reps, conditions, seeds)) < 0.5  # the one class a collapsed run predicts
        y = np.where(collapsed[..., None], labels[:, None, None, :] == says[..., None], y)
    return Draw(y, a, np.broadcast_to(delta, a.shape), collapsed, labels)


def true_change(process: Process, draw: Draw, seeds_random: bool) -> np.ndarray:
    """The estimand of a comparison (condition 1 vs 0) per rep, for runs that did not collapse: over the
    populations of examples and seeds (``seeds_random``), or over examples for the trained models at hand."""
    from scipy import special

    p = process
    if seeds_random:
        return special.ndtr((p.mu + draw.delta[:, 1, 0]) / p.total_sd) - p.accuracy
    acc = p.accuracy_given_seed(draw.delta, draw.a)
    return (acc[:, 1] - acc[:, 0]).mean(-1)


def clean_outcomes(draw: Draw, rng: np.random.Generator, accuracy: float = 0.85) -> np.ndarray:
    """Clean-accuracy outcomes of the same runs (what collapse is detected on): collapsed runs are right on the
    examples of the class they predict (as in ``draw.y``), the others on ``accuracy`` of them at random."""
    fine = rng.random(draw.y.shape) < accuracy
    return np.where(draw.collapsed[..., None], draw.y, fine)


def recall_tables(y: np.ndarray, labels: np.ndarray) -> list[np.ndarray]:
    """Per-class recall outcomes (``recall:<label>`` as the clean evaluation stores them): ``y`` on the examples of
    each class, NaN elsewhere."""
    lab = labels[:, None, None, :]
    return [np.where(lab == k, y, np.nan) for k in (False, True)]


def holm_claims(p: np.ndarray, alpha: float = 0.05) -> np.ndarray:
    """Whether Holm's procedure rejects anything among the last axis' p-values: iff the smallest is below
    ``alpha / m`` (the first step of the step-down)."""
    return p.min(-1) < alpha / p.shape[-1]


def ece_binned(conf: np.ndarray, correct: np.ndarray, bins: int = 15) -> np.ndarray:
    """Top-label ECE over the last axis (equal-width bins ``(lo, hi]``, as
    :func:`textrobust.models.metrics.expected_calibration_error`), vectorised over the leading axes."""
    idx = np.clip(np.ceil(conf * bins).astype(int) - 1, 0, bins - 1)
    n = conf.shape[-1]
    flat = idx.reshape(-1, n) + bins * np.arange(idx.size // n)[:, None]
    size = idx.size // n * bins
    acc = np.bincount(flat.ravel(), correct.reshape(-1).astype(float), minlength=size).reshape(-1, bins)
    cnf = np.bincount(flat.ravel(), conf.reshape(-1), minlength=size).reshape(-1, bins)
    return (np.abs(acc - cnf).sum(-1) / n).reshape(conf.shape[:-1])


def simulate_ece(
    rng: np.random.Generator,
    reps: int,
    seeds: int,
    items: int,
    temperatures: tuple[float, float] = (1.6, 0.6),
    truth_seeds: int = 200,
    bins: int = 15,
    sd_run: float = 0.25,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-seed ECE of a baseline and a condition, ``[rep, condition, seed]``, and the truth on each rep's test
    set: the expected ECE difference over training runs, by Monte Carlo over ``truth_seeds`` further runs.

    A run's margin on example i is ``m[i] + a + e`` (example margin ``m ~ N(1.2, 1)``, seed effect ``a ~ N(0,
    (sd_run / 5)^2)``, run-by-example ``e ~ N(0, sd_run^2)``); it states confidence ``Phi(t |margin|)`` and is right
    when ``|margin| > u[i]``, with ``u ~ N(0, 1)`` a property of the example shared by every run (trained models
    agree on which examples are hard): calibrated at ``t = 1``, over-confident above, under-confident below. With
    runs this alike, most of an ECE difference's uncertainty is which test examples were drawn.
    ``truth_seeds = 0``: no truth (NaN).
    """
    from scipy import special

    margin = rng.normal(1.2, 1.0, (reps, 1, 1, items))
    hard = rng.standard_normal((reps, 1, 1, items))
    temps = np.asarray(temperatures, dtype=float)[None, :, None, None]

    def eces(runs: int) -> np.ndarray:
        m = np.abs(
            margin + rng.normal(0, sd_run / 5, (reps, 2, runs, 1)) + rng.normal(0, sd_run, (reps, 2, runs, items))
        )
        return ece_binned(special.ndtr(temps * m), m > hard, bins)

    observed = eces(seeds)
    blocks = truth_seeds // 50
    truth = np.zeros(reps)
    for _ in range(blocks):  # in blocks, to bound memory
        e = eces(50)
        truth += (e[:, 1] - e[:, 0]).sum(-1)
    return observed, truth / (blocks * 50) if blocks else np.full(reps, np.nan)


def with_collapse(process: Process, collapse: float) -> Process:
    """The same process with another collapse probability."""
    return replace(process, name=f"{process.name}, {collapse:.0%} collapsed", collapse=collapse)
