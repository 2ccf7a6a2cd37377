"""Run an experiment: plan -> for each condition x seed: build the training set, train, evaluate -> aggregate.

Run directory layout (what :mod:`textrobust.reports` reads)::

    config.json  config.yaml      resolved spec
    environment.json              versions, device, git commit, command, timing
    results.csv  results.parquet  tidy: condition, seed, evaluation, metric, value
    summary.json                  statistics per condition/evaluation/metric, metric metadata, unit status
    units/<condition>/seed<k>/    see :mod:`textrobust.robustness.unit`
    cache/                        augmented and generated training rows, keyed by fingerprint

``.lock`` keeps a second ``textrobust run`` out while one runs (:mod:`textrobust.robustness.lock`).

A unit is finished when its ``done.json`` exists with the unit's fingerprint; rerunning skips those units, and a
changed config changes the fingerprint, so the unit runs again. Every file is written atomically, so Ctrl-C loses
at most the unit in progress. A unit that raises is retried (``retries``), then recorded in ``failed.json`` and
in the summary while the other units go on; input errors (:class:`~textrobust.errors.TextRobustError`) stop the
run instead, since every unit would hit them.

Where units run is the executor's business (:mod:`textrobust.robustness.work`): it gets zero-argument work and hands
back outcomes; retries, failure records and progress stay here.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import sys
import time
from pathlib import Path
from typing import Any

from ..data import atomic_path
from ..errors import ConfigError, TextRobustError
from ..progress import Bar
from .aggregate import aggregate
from .lock import run_dir_lock
from .spec import Experiment, FixedModel
from .unit import Unit, Workspace, record_failure, write_json
from .work import HERE, Executor, InProcessExecutor, UnitSync, UnitWork

log = logging.getLogger(__name__)


class Runner:
    """Runs the units of one experiment into ``run_dir`` (see the module docstring for the layout).

    Example:
        >>> runner = Runner(load_experiment("examples/sst2_lowresource.yaml"), "runs/q")  # doctest: +SKIP
        >>> table = runner.run()  # doctest: +SKIP
    """

    def __init__(
        self,
        exp: Experiment,
        run_dir: str | Path | None = None,
        *,
        progress: bool = True,
        command: str | None = None,
        retries: int = 1,
        executor: Executor | None = None,
        sync: UnitSync | None = None,
        work_type: type[UnitWork] = UnitWork,
    ) -> None:
        self.exp = exp
        self.run_dir = Path(run_dir or exp.output)
        self.progress = progress
        # Per-epoch / per-attack bars only on a terminal: in a log file they are hundreds of carriage-return lines,
        # while the unit bar prints one line per unit there.
        self.ws = Workspace(exp, self.run_dir, progress=progress and sys.stderr.isatty())
        self.command = command
        self.retries = retries
        self.executor: Executor = executor or InProcessExecutor()
        self.sync, self.work_type = sync, work_type
        self.failed: list[dict[str, Any]] = []

    # -- planning ---------------------------------------------------------------------------------
    def plan(self) -> dict[str, Any]:
        """Units, data sizes, evaluations and estimated model work, without training anything (``--dry-run``)."""
        self.ws.check()  # unknown recipes, options, pack labels, transfer sets fail here, not after training
        data, units = self.ws.data, self.ws.units()
        done = [u.key for u in units if self.ws.is_done(u)]
        rows = []
        for u in units:
            cond = self.exp.conditions[u.condition]
            if isinstance(cond.model, FixedModel):
                rows.append({"unit": u.key, "model": cond.model.path, "done": u.key in done})
                continue
            n_train = len(data.train or ()) * (1 + (cond.augment.n if cond.augment else 0))
            if cond.generate:  # at most n_per_label per label
                n_train += cond.generate.n_per_label * len(data.label_names)
            rows.append(
                {
                    "unit": u.key,
                    "train_examples": n_train,
                    "train_forward_passes": n_train * self.exp.model.train.epochs,
                    "done": u.key in done,
                }
            )
        attack_n = sum(
            min(getattr(ev.params, "n", 0), len(data.test)) for ev in self.ws.evaluations if ev.kind == "attack"
        )
        return {
            "name": self.exp.name,
            "run_dir": str(self.run_dir),
            "units": rows,
            "train_size": len(data.train) if data.train else 0,
            "test_size": len(data.test),
            "validation_size": len(data.validation) if data.validation else 0,
            "labels": data.label_names,
            "evaluations": [
                {
                    "name": ev.name,
                    "kind": ev.kind,
                    "headline": [m.key for m in ev.metrics(data.label_names) if m.headline],
                }
                for ev in self.ws.evaluations
            ],
            # ~50 queries per attacked example is typical of word-swap recipes (TextAttack's published runs).
            "attack_examples_per_unit": attack_n,
            "estimated_attack_queries_per_unit": attack_n * 50,
            "units_done": len(done),
            "units_total": len(units),
        }

    # -- running ----------------------------------------------------------------------------------
    def run(self, resume: bool = True) -> Any:
        """Run every unfinished unit, then write the tidy results, the summary and the environment file.

        Units that fail (after ``retries``) are listed in ``self.failed`` and in ``summary.json``. Nothing is
        written before every check passed; a second run on the same directory meanwhile stops with a
        :class:`ConfigError` (:func:`~textrobust.robustness.lock.run_dir_lock`).
        """
        started = time.time()
        self.ws.check()
        with run_dir_lock(self.run_dir):
            return self._run_locked(resume, started)

    def _run_locked(self, resume: bool, started: float) -> Any:
        units = self.ws.units()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        write_json(self.ws.layout.config_json, self.exp.model_dump())
        self._write_yaml()
        todo = [u for u in units if not (resume and self.ws.is_done(u))]
        log.info("%d of %d units to run", len(todo), len(units))
        self.failed = []
        self.ws.runtime.apply_threads()
        with _UnitProgress(len(units), len(units) - len(todo), self.progress) as bar:
            self._run_units(todo, bar)
        table = aggregate(self.ws, units)
        self._write_environment(started)
        return table

    def _run_units(self, todo: list[Unit], bar: _UnitProgress) -> None:
        """Hand the units to the executor; retry those that raised (``retries`` times), record the rest in
        ``failed.json``. Input errors stop the run: every unit would hit them."""
        attempts = dict.fromkeys((u.key for u in todo), 0)
        pending = todo
        while pending:
            retry: list[Unit] = []
            work = [self._work(u, bar) for u in pending]
            running = min(len(pending), self.executor.capacity)
            bar.running(running if running > 1 else 0)
            outcomes = self.executor.map(work)
            try:
                for i, outcome in outcomes:
                    u = pending[i]
                    attempts[u.key] += 1
                    if outcome.error is None:
                        if outcome.value != HERE and self.sync is not None:
                            self.sync.collect(u)  # bring the unit's files to this run directory
                        bar.advance()
                    elif isinstance(outcome.error, TextRobustError):
                        raise outcome.error
                    elif attempts[u.key] <= self.retries:
                        log.warning("%s failed (attempt %d): %s; retrying", u.key, attempts[u.key], outcome.error)
                        retry.append(u)
                    else:
                        log.warning("%s failed (attempt %d): %s", u.key, attempts[u.key], outcome.error)
                        self.failed.append(self._failure(u, outcome, attempts[u.key]))
                        bar.advance(failed=True)
            finally:
                outcomes.close()  # stops (and cancels) the rest
            pending = retry

    def _work(self, u: Unit, bar: _UnitProgress) -> UnitWork:
        return self.work_type(self.exp, self.run_dir, u, self.sync, self.ws, functools.partial(bar.phase, u.key))

    def _failure(self, u: Unit, outcome: Any, attempts: int) -> dict[str, Any]:
        info = record_failure(self.ws, u, outcome.error, attempts, outcome.traceback)
        if self.sync is not None:
            self.sync.publish(u, self.run_dir)
        return info

    def _write_yaml(self) -> None:
        import yaml

        with atomic_path(self.ws.layout.config_yaml) as tmp:
            tmp.write_text(yaml.safe_dump(self.exp.model_dump(), sort_keys=False), encoding="utf-8")

    def _write_environment(self, started: float) -> None:
        from .environment import environment

        prev = self.ws.layout.environment
        env = environment(self.ws.runtime, self.command)
        env["started_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started))
        env["finished_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        env["duration_s"] = round(time.time() - started, 1)
        if prev.exists():  # a resumed run: keep the total time of all sessions
            try:
                env["duration_s"] += json.loads(prev.read_text()).get("duration_s", 0) or 0
                env["resumed"] = True
            except json.JSONDecodeError:
                pass
        write_json(prev, env)


class _UnitProgress(Bar):
    """Units done / total with ETA and the current unit and phase: a live bar on a terminal, one log line per
    finished unit elsewhere (a CI log stays readable), with the failed and running counts."""

    def __init__(self, total: int, done: int, enabled: bool) -> None:
        super().__init__("units", total=total, done=done, enabled=enabled, lines="each", transient=False)
        self.failed, self.in_flight = 0, 0

    def phase(self, unit: str, phase: str) -> None:
        log.info("%s: %s", unit, phase)
        if self.live:  # a log gets one line per unit, not per phase
            self.status(f"{unit}: {phase}")

    def running(self, n: int) -> None:
        """How many units are in flight now (shown next to the failed count)."""
        self.in_flight = n
        self._counts()

    def advance(self, k: int = 1, failed: bool = False) -> None:
        self.failed += failed
        self._counts()
        super().advance(k)

    def _counts(self) -> None:
        parts = ([f"{self.failed} failed"] if self.failed else []) + (
            [f"{self.in_flight} running"] if self.in_flight else []
        )
        self.status(", ".join(parts))


def check_fail_under(table: Any, bounds: list[str]) -> list[str]:
    """``EVALUATION.METRIC=VALUE`` bounds on condition means; returns one message per violation.

    Example:
        >>> import pandas as pd
        >>> t = pd.DataFrame({"condition": ["a", "a"], "seed": [0, 1], "evaluation": ["clean"] * 2,
        ...                   "metric": ["accuracy"] * 2, "value": [0.7, 0.8]})
        >>> check_fail_under(t, ["clean.accuracy=0.8"])
        ['a: clean.accuracy = 0.7500 < 0.8']
    """
    problems = []
    for bound in bounds:
        key, sep, value = bound.partition("=")
        ev, dot, metric = key.rpartition(".")
        try:
            limit = float(value)
        except ValueError:
            limit = math.nan
        if not sep or not dot or math.isnan(limit):
            raise ConfigError(f"--fail-under expects EVALUATION.METRIC=VALUE (e.g. clean.accuracy=0.8), got '{bound}'")
        sel = table[(table.evaluation == ev) & (table.metric == metric)]
        if sel.empty:
            raise ConfigError(
                f"--fail-under {key}: no such evaluation/metric in the results "
                f"(have: {', '.join(sorted(set(table.evaluation + '.' + table.metric)))})"
            )
        for cond, group in sel.groupby("condition", sort=False):
            mean = float(group.value.mean())
            if mean < limit:
                problems.append(f"{cond}: {key} = {mean:.4f} < {limit:g}")
    return problems
