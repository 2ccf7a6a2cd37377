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
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..data import atomic_path
from ..errors import TextRobustError
from ..progress import Bar
from .aggregate import aggregate
from .estimate import estimate_units
from .gates import Gate, check_gates
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
        keep: set[str] | frozenset[str] = frozenset(),
    ) -> None:
        self.exp = exp
        self.run_dir = Path(run_dir or exp.output)
        self.progress = progress
        # Per-epoch / per-attack bars only on a terminal: in a log file they are hundreds of carriage-return lines,
        # while the unit bar prints one line per unit there. ``keep``: conditions whose models are saved.
        self.ws = Workspace(exp, self.run_dir, progress=progress and sys.stderr.isatty(), keep=keep)
        self.command = command
        self.retries = retries
        self.executor: Executor = executor or InProcessExecutor()
        self.sync, self.work_type = sync, work_type
        self.failed: list[dict[str, Any]] = []
        #: After :meth:`run`: the cache of model calls' counts (:meth:`Workspace.call_stats`), or None.
        self.call_stats: dict[str, int] | None = None

    # -- planning ---------------------------------------------------------------------------------
    def check(self, fail_under: Sequence[str] = ()) -> list[Gate]:
        """Everything that can fail before training: the spec's evaluations, resources, extras, models and
        conditions (:meth:`Workspace.check`), and the ``--fail-under`` gates against the metrics it will emit."""
        self.ws.check()  # unknown recipes, options, pack labels, transfer sets fail here, not after training
        return check_gates(fail_under, self.ws.metric_infos())

    def plan(self, fail_under: Sequence[str] = (), pilot: str | Path | None = None) -> dict[str, Any]:
        """Units, data sizes, evaluations, estimated model work and time per unit, without training anything
        (``--dry-run``); every check :meth:`run` makes before training runs here too. The time estimate comes from
        ``pilot`` (a finished run directory), else from this run directory's finished units, else a rough default."""
        gates = self.check(fail_under)
        data, units = self.ws.data, self.ws.units()
        done = [u.key for u in units if self.ws.is_done(u)]
        rows = []
        for u in units:
            cond = self.exp.conditions[u.condition]
            if isinstance(cond.model, FixedModel):
                row = {"unit": u.key, "model": cond.model.path, "done": u.key in done}
                rows.append({**row, **self._call_plan(u.condition, data.test)})
                continue
            n_train = len(data.train or ()) * (1 + (cond.augment.n if cond.augment else 0))
            if cond.targeted:  # at most the rows each part asks for
                n_train += sum(p.rows for p in cond.targeted.parts)
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
        estimate = estimate_units(
            rows,
            self.ws.evaluations,
            len(data.test),
            epochs=self.exp.model.train.epochs,
            max_length=self.exp.model.max_length,
            device=self.ws.runtime.resolved_device.split(":")[0],
            pilot=pilot,
            run_dir=self.run_dir if done else None,
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
            "fail_under": [{"metric": g.key, "below": g.limit} for g in gates],
            # ~50 queries per attacked example is typical of word-swap recipes (TextAttack's published runs).
            "attack_examples_per_unit": attack_n,
            "estimated_attack_queries_per_unit": attack_n * 50,
            "time_estimate": estimate,
            "units_done": len(done),
            "units_total": len(units),
        }

    def _call_plan(self, condition: str, test: Any) -> dict[str, Any]:
        """For a prompted LM or chat endpoint: the texts each evaluation will ask it about (estimated, attacks as an
        upper bound), how many the cache of model calls answers already, and the time the rest takes at the rate
        measured on a few test texts (asked outside the cache, so a dry run writes nothing)."""
        from ..models.callcache import CallCache

        model = self.ws.fixed_model(condition)
        cached = model
        while not isinstance(cached, CallCache) and getattr(cached, "model", None) is not None:
            cached = cached.model
        if not isinstance(cached, CallCache):
            return {}
        words = sum(len(t.split()) for t in test.texts) / max(1, len(test))
        per_eval = {ev.name: ev.estimate_calls(len(test), words) for ev in self.ws.evaluations}
        total = sum(v for v in per_eval.values() if v)
        hit = cached.cached(test.texts)  # clean texts already answered (a resumed scan)
        probe = list(test.texts[:8])
        began = time.perf_counter()
        cached.model.predict_proba(probe)
        rate = (time.perf_counter() - began) / max(1, len(probe))
        return {
            "estimated_model_calls": per_eval,
            "estimated_model_calls_total": total,
            "cached_calls": cached.store.count(cached.identity),
            "cached_test_texts": hit,
            "seconds_per_call": round(rate, 4),
            "estimated_seconds": round(max(0, total - cached.store.count(cached.identity)) * rate, 1),
        }

    # -- running ----------------------------------------------------------------------------------
    def run(self, resume: bool = True, fail_under: Sequence[str] = ()) -> Any:
        """Run every unfinished unit, then write the tidy results, the summary and the environment file.

        Units that fail (after ``retries``) are listed in ``self.failed`` and in ``summary.json``. Nothing is
        written before every check passed (``fail_under`` gates included: a typo in one fails now, not after
        training); a second run on the same directory meanwhile stops with a :class:`ConfigError`
        (:func:`~textrobust.robustness.lock.run_dir_lock`).
        """
        started = time.time()
        self.check(fail_under)
        with run_dir_lock(self.run_dir):
            return self._run_locked(resume, started)

    def _run_locked(self, resume: bool, started: float) -> Any:
        units = self.ws.units()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        write_json(self.ws.layout.config_json, self.exp.model_dump())
        self._write_yaml()
        todo = [u for u in units if not (resume and self.ws.is_done(u))]
        if not resume:  # a rescan asks the models again (an endpoint's deployment may have changed)
            for suffix in ("", "-wal", "-shm"):
                Path(f"{self.ws.layout.model_calls}{suffix}").unlink(missing_ok=True)
        log.info("%d of %d units to run", len(todo), len(units))
        self.failed = []
        self.ws.runtime.apply_threads()
        # Units whose models other conditions attack (targeted rows) run first, in a wave of their own.
        waves = [[u for u in todo if u.condition in self.ws.keep], [u for u in todo if u.condition not in self.ws.keep]]
        with _UnitProgress(len(units), len(units) - len(todo), self.progress) as bar:
            for wave in waves:
                self._run_units(wave, bar)
        table = aggregate(self.ws, units)
        self.call_stats = self.ws.call_stats()
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
    """Units done / total with ETA and the current unit and phase: a live bar on a terminal; elsewhere (a CI log)
    one line per finished unit, one per phase (augment, train, each evaluation), and where a phase is, e.g.
    ``unit 2/4 · char_noise/seed1 · train · epoch 2/3 · 41%``, at most every ``every_s`` seconds: a long unit is
    never minutes of silence."""

    def __init__(self, total: int, done: int, enabled: bool, every_s: float = 30.0) -> None:
        super().__init__("units", total=total, done=done, enabled=enabled, lines="each", transient=False)
        self.failed, self.in_flight = 0, 0
        self.every_s, self._done_before = every_s, done
        self._index: dict[str, int] = {}  # unit -> its number, in the order units start
        self._shown: dict[str, tuple[str, float]] = {}  # unit -> (phase shown last, when)

    def phase(self, unit: str, phase: str) -> None:
        if " \u00b7 " not in phase:  # a new phase, not where one is
            log.info("%s: %s", unit, phase)
        number = self._index.setdefault(unit, self._done_before + len(self._index) + 1)
        text = f"unit {number}/{self.total} \u00b7 {unit} \u00b7 {phase}"
        if self.live:
            self.status(text)
            return
        if not self.enabled:
            return
        head = phase.split(" \u00b7 ")[0]
        last, when = self._shown.get(unit, ("", 0.0))
        now = time.monotonic()
        if head != last.split(" \u00b7 ")[0] or now - when >= self.every_s:
            self._shown[unit] = (phase, now)
            print(text, file=sys.stderr, flush=True)

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
