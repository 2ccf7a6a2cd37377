"""Run an experiment: for each condition x seed build the training set, train, evaluate; aggregate with statistics.

Run directory layout (what :mod:`textrobust.reports` reads)::

    config.json  config.yaml      resolved spec
    environment.json              versions, device, git commit, command, timing
    results.csv  results.parquet  tidy: condition, seed, evaluation, metric, value
    summary.json                  mean + 95% CI per condition, paired difference to the baseline
    units/<condition>/seed<k>/    metrics.json, done.json (fingerprint), inv.jsonl, attack.jsonl,
                                  augmented_sample.jsonl, clean.jsonl
    cache/                        augmented training sets, keyed by fingerprint

A unit is finished when its ``done.json`` exists with the unit's fingerprint; rerunning skips those units, and a
changed config changes the fingerprint, so the unit runs again. Every file is written atomically, so Ctrl-C loses
at most the unit in progress.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..data import LabeledData, atomic_path, load_dataset
from ..errors import ConfigError
from .preflight import check_resources
from .spec import AdversarialSpec, AttackEvalSpec, ConditionSpec, Experiment, GenerateSpec, Source, resolve_path
from .suites import Suite, build_suite

log = logging.getLogger(__name__)

RECORD_LIMIT = 500  # per unit and file: enough for the report's examples, small enough to keep runs light


@dataclass(frozen=True)
class Unit:
    condition: str
    seed: int
    fingerprint: str

    @property
    def key(self) -> str:
        return f"{self.condition}/seed{self.seed}"


@dataclass
class LoadedData:
    train: LabeledData
    test: LabeledData
    validation: LabeledData | None


# ----------------------------------------------------------------------------------------------- helpers
def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _write_json(path: Path, obj: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, ensure_ascii=False, default=str), encoding="utf-8")


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
        f.writelines(json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in rows)


def _load_source(src: Source, label_names: list[str] | None = None) -> LabeledData:
    return load_dataset(resolve_path(src.path), text_column=src.text_column, label_column=src.label_column,
                        encoding=src.encoding, fmt=src.format, label_names=src.label_names or label_names)


def load_data(exp: Experiment) -> LoadedData:
    """Load train/test(/validation) and apply the fixed subsamples."""
    train = _load_source(exp.data.train)
    if exp.data.test is not None:
        test = _load_source(exp.data.test, train.label_names)
    else:
        train, test = train.split(exp.data.test_split or 0.2, seed=exp.data.sample_seed)
    val = _load_source(exp.data.validation, train.label_names) if exp.data.validation else None
    if exp.data.exclude_test_overlap:
        # Compare letters only: the same sentence is often tokenised differently ("can't" vs "ca n't").
        def key(t: str) -> str:
            return "".join(ch for ch in t.lower() if ch.isalpha())

        seen = {key(t) for t in test.texts}
        keep = [i for i, t in enumerate(train.texts) if key(t) not in seen]
        log.info("excluded %d training rows that overlap the test set", len(train) - len(keep))
        train = train.subset(keep)
    if exp.data.train_size:
        train = train.sample(exp.data.train_size, seed=exp.data.sample_seed)
    if exp.data.test_size:
        test = test.sample(exp.data.test_size, seed=exp.data.sample_seed)
    return LoadedData(train, test, val)


def unit_fingerprints(exp: Experiment, data: LoadedData) -> list[Unit]:
    """One unit per condition x seed; the fingerprint covers everything that changes its results."""
    from .. import __version__

    shared = {
        "version": __version__,
        "train": _digest([data.train.texts, data.train.labels, data.train.label_names]),
        "test": _digest([data.test.texts, data.test.labels]),
        "validation": _digest([data.validation.texts, data.validation.labels]) if data.validation else None,
        "model": exp.model.model_dump(),
        "evaluations": exp.evaluations.model_dump(),
        "resources": exp.resources,
    }
    return [
        Unit(name, seed, _digest({**shared, "condition": cond.model_dump(), "seed": seed}))
        for name, cond in exp.conditions.items()
        for seed in exp.seeds
    ]


def model_path(name: str) -> str:
    """``minilm`` -> the packaged MiniLM; anything else is a hub name or local path."""
    from ..models import minilm_path

    return minilm_path() if name.lower() in ("minilm", "all-minilm-l6-v2") else resolve_path(name)


def needed_resources(exp: Experiment) -> list[str]:
    """The resources the experiment's recipes need; checks recipe names and ``options`` before any training."""
    from ..adversarial.recipes import RECIPES, check_recipe_options

    recipes = [(c.adversarial.recipe, c.adversarial.options) for c in exp.conditions.values() if c.adversarial]
    if exp.evaluations.attack:
        recipes.append((exp.evaluations.attack.recipe, exp.evaluations.attack.options))
    names: list[str] = []
    for r, options in recipes:
        spec = RECIPES.get(r.replace("-", "_"))
        if spec is None:
            raise ConfigError(f"unknown attack recipe '{r}'; known: {', '.join(sorted(RECIPES))}")
        check_recipe_options(r, options)
        given = sorted(set(options) & {"neighbours", "lexicon", "encoder", "mlm"})
        if given:
            raise ConfigError(f"recipe '{r}' options name resource(s) {given}: give their paths under the "
                              "experiment's 'resources:' instead (they are loaded once and shared)")
        names += [n for n in spec.resources if n not in names]
    return names


def build_resources(names: list[str] | tuple[str, ...], given: dict[str, str]) -> dict[str, Any]:
    """Recipe resources by name: from the paths in ``given``, else the defaults from the shared data folder.

    Example:
        >>> res = build_resources(["neighbours"], {"neighbours": "words.json"})  # doctest: +SKIP
    """
    from ..adversarial import MaskedLM, SentenceEncoder
    from ..adversarial import load_resources as default_resources
    from ..augment import load_source

    out: dict[str, Any] = {}
    for name in names:
        path = given.get(name)
        if path is None:
            out.update(default_resources([name]))
        elif name in ("neighbours", "lexicon"):
            p = resolve_path(path)
            kind = "wordnet" if p.lower() == "wordnet" else "lexicon" if p.endswith(".json") else "embedding"
            out[name] = load_source(kind, None if kind == "wordnet" else p)
        elif name == "encoder":
            out[name] = SentenceEncoder(None if path.lower() == "minilm" else resolve_path(path))
        elif name == "mlm":
            out[name] = MaskedLM.from_pretrained(resolve_path(path))
    return out


def load_resources(exp: Experiment) -> dict[str, Any]:
    """The resources the experiment's recipes need (``resources:`` paths, else shared-data defaults)."""
    return build_resources(needed_resources(exp), exp.resources)


# -------------------------------------------------------------------------------------------- the runner
class Runner:
    """Runs the units of one experiment into ``run_dir`` (see the module docstring for the layout).

    Example:
        >>> runner = Runner(load_experiment("examples/quickstart.yaml"), "runs/q")  # doctest: +SKIP
        >>> table = runner.run()  # doctest: +SKIP
    """

    def __init__(self, exp: Experiment, run_dir: str | Path | None = None, *, progress: bool = True,
                 command: str | None = None, phase_hook: Callable[[str, str], None] | None = None) -> None:
        self.exp = exp
        self.run_dir = Path(run_dir or exp.output)
        self.progress = progress
        # Per-epoch / per-attack bars only on a terminal: in a log file they are hundreds of carriage-return lines,
        # while the unit bar (rich) already prints one line per unit there.
        self.inner_progress = progress and sys.stderr.isatty()
        self.command = command
        self.phase_hook = phase_hook or (lambda unit, phase: None)
        self._resources: dict[str, Any] | None = None
        self._suite_texts: dict[str, list[str | None]] | None = None

    # -- planning ---------------------------------------------------------------------------------
    def plan(self) -> dict[str, Any]:
        """Units, data sizes and estimated model work, without training anything (``--dry-run``)."""
        needed_resources(self.exp)  # unknown recipes or recipe options fail here, not after the first training
        data = load_data(self.exp)
        units = unit_fingerprints(self.exp, data)
        done = [u.key for u in units if self._is_done(u)]
        ev = self.exp.evaluations
        n_test = len(data.test)
        per_unit_eval = n_test * (1 + len(ev.suites)) if ev.clean or ev.suites else 0
        attack_n = min(ev.attack.n, n_test) if ev.attack else 0
        rows = []
        for u in units:
            cond = self.exp.conditions[u.condition]
            n_train = len(data.train) * (1 + (cond.augment.n if cond.augment else 0))
            if cond.generate:  # at most n_per_label per label
                n_train += cond.generate.n_per_label * len(data.train.label_names)
            rows.append({"unit": u.key, "train_examples": n_train,
                         "train_forward_passes": n_train * self.exp.model.train.epochs,
                         "done": u.key in done})
        return {
            "name": self.exp.name, "run_dir": str(self.run_dir), "units": rows,
            "train_size": len(data.train), "test_size": n_test,
            "validation_size": len(data.validation) if data.validation else 0,
            "labels": data.train.label_names,
            "eval_texts_per_unit": per_unit_eval,
            # ~50 queries per attacked example is typical of word-swap recipes (TextAttack's published runs).
            "attack_examples_per_unit": attack_n, "estimated_attack_queries_per_unit": attack_n * 50,
            "units_done": len(done), "units_total": len(units),
        }

    def _unit_dir(self, u: Unit) -> Path:
        return self.run_dir / "units" / u.condition / f"seed{u.seed}"

    def _is_done(self, u: Unit) -> bool:
        marker = self._unit_dir(u) / "done.json"
        try:
            return json.loads(marker.read_text())["fingerprint"] == u.fingerprint
        except (FileNotFoundError, json.JSONDecodeError, KeyError):
            return False

    # -- running ----------------------------------------------------------------------------------
    def run(self, resume: bool = True) -> Any:
        """Run every unfinished unit, then write the tidy results, the summary and the environment file."""
        started = time.time()
        needed_resources(self.exp)  # unknown recipes or recipe options fail here, not after the first training
        check_resources(self.exp)  # so do missing optional resources (WordNet, spaCy, SmolLM2, Bergamot)
        data = load_data(self.exp)
        units = unit_fingerprints(self.exp, data)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        _write_json(self.run_dir / "config.json", self.exp.model_dump())
        self._write_yaml()
        todo = [u for u in units if not (resume and self._is_done(u))]
        log.info("%d of %d units to run", len(todo), len(units))
        with _UnitProgress(len(units), len(units) - len(todo), self.progress) as bar:
            for u in todo:
                self.phase_hook(u.key, "start")
                self._run_unit(u, data, lambda phase, u=u: bar.phase(u.key, phase))
                bar.advance()
        table = self.aggregate(units)
        self._write_environment(started)
        return table

    def _run_unit(self, u: Unit, data: LoadedData, phase: Callable[[str], None]) -> None:
        out = self._unit_dir(u)
        out.mkdir(parents=True, exist_ok=True)
        (out / "done.json").unlink(missing_ok=True)
        cond = self.exp.conditions[u.condition]
        rows: list[dict[str, Any]] = []
        t0 = time.perf_counter()  # train_seconds covers building the training set too (augmentation, attacks)
        phase("augment")
        train = self._training_set(u, cond, data.train, out)
        if cond.generate is not None:
            phase("generate")
            train = train.concat(self._generated(u, cond.generate, data, out))
        clf = self._new_model(data.train.label_names, u.seed)
        callback = None
        if cond.adversarial and cond.adversarial.mode == "offline":
            phase("adversarial examples")
            train = self._offline_adversarial(u, cond.adversarial, clf, train, data.validation, out)
            clf = clf.clone()
        elif cond.adversarial:
            from ..adversarial import make_online_callback

            adv = cond.adversarial
            callback = make_online_callback(adv.recipe, adv.fraction, adv.every_k_epochs, seed=u.seed,
                                            resources={**self.resources(), **adv.options},
                                            query_budget=adv.query_budget)
        phase("train")
        clf.fit(train, data.validation, epoch_callback=callback, progress=self.inner_progress)
        rows += [("train", "train_size", len(train)), ("train", "train_seconds", time.perf_counter() - t0)]
        phase("evaluate")
        rows += self._evaluate(clf, data.test, out)
        if self.exp.evaluations.attack:
            phase("attack")
            rows += self._attack(clf, self.exp.evaluations.attack, data.test, out)
        metrics = [{"condition": u.condition, "seed": u.seed, "evaluation": e, "metric": m, "value": float(v)}
                   for e, m, v in rows]
        _write_json(out / "metrics.json", metrics)
        _write_json(out / "done.json", {"fingerprint": u.fingerprint, "seconds": time.perf_counter() - t0})

    def _new_model(self, labels: list[str], seed: int) -> Any:
        from ..models import TextClassifier, TrainConfig

        m = self.exp.model
        return TextClassifier(model_path(m.name), labels=labels, max_length=m.max_length, batch_size=m.batch_size,
                              device=m.device, seed=seed, train_config=TrainConfig(**m.train.model_dump(), seed=seed))

    def resources(self) -> dict[str, Any]:
        if self._resources is None:
            self._resources = load_resources(self.exp)
        return self._resources

    # -- training data ----------------------------------------------------------------------------
    def _training_set(self, u: Unit, cond: ConditionSpec, train: LabeledData, out: Path) -> LabeledData:
        if cond.augment is None:
            return train
        import pandas as pd

        from ..augment import OneOf, filter_from_spec, operator_from_spec, parse_op

        spec = cond.augment
        key = _digest([_digest([train.texts, train.labels]), spec.model_dump(), u.seed])
        cache = self.run_dir / "cache" / f"augment-{key}.parquet"
        if cache.exists():
            frame = pd.read_parquet(cache)
        else:
            ops = [parse_op(resolve_path(o)) if isinstance(o, str) else operator_from_spec(o) for o in spec.ops]
            op = ops[0] if len(ops) == 1 else OneOf(ops=tuple(ops))
            variants = op(train.texts, seed=u.seed, n=spec.n)
            for f in spec.filters:
                variants, dropped = filter_from_spec(f)(train.texts, variants, train.labels)
                log.info("%s: filter %s dropped %d variants", u.key, f, dropped)
            frame = pd.DataFrame(
                [(i, v, train.labels[i], op.spec_str()) for i, vs in enumerate(variants) for v in vs],
                columns=["source_index", "text", "label", "operator"],
            )
            cache.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(cache) as tmp:
                frame.to_parquet(tmp, index=False)
        sample = frame.head(50)
        _write_jsonl(out / "augmented_sample.jsonl", [
            {"operator": r.operator, "source_text": train.texts[r.source_index], "augmented_text": r.text,
             "label": train.label_names[r.label]} for r in sample.itertuples()])
        extra = LabeledData(frame.text.tolist(), [int(y) for y in frame.label], train.label_names)
        return train.concat(extra)

    def _generated(self, u: Unit, gen: GenerateSpec, data: LoadedData, out: Path) -> LabeledData:
        """LAMBADA / few-shot rows for this unit (cached by training data, spec and seed)."""
        import pandas as pd

        from ..augment import fewshot_generate, filter_from_spec, lambada_generate

        train = data.train
        key = _digest([_digest([train.texts, train.labels]), gen.model_dump(), self.exp.model.model_dump(), u.seed])
        cache = self.run_dir / "cache" / f"generate-{key}.parquet"
        if cache.exists():
            frame = pd.read_parquet(cache)
        else:
            selector = None
            if gen.select:  # LAMBADA's filter: a classifier trained on the original training set
                selector = self._new_model(train.label_names, u.seed)
                selector.fit(train, data.validation, progress=self.inner_progress)
            run = lambada_generate if gen.method == "lambada" else fewshot_generate
            kwargs = dict(gen.options)
            if gen.method == "lambada":
                kwargs.setdefault("progress", self.inner_progress)
            try:
                made = run(train, model=resolve_path(gen.model), n_per_label=gen.n_per_label, seed=u.seed,
                           device=self.exp.model.device, classifier=selector, min_confidence=gen.min_confidence,
                           filters=[filter_from_spec(f, classifier=selector) for f in gen.filters], **kwargs)
            except TypeError as exc:  # an unknown key in options
                raise ConfigError(f"conditions.{u.condition}.generate.options: {exc}") from None
            frame = pd.DataFrame({"text": made.texts, "label": made.labels})
            cache.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(cache) as tmp:
                frame.to_parquet(tmp, index=False)
        _write_jsonl(out / "generated_sample.jsonl", [
            {"method": gen.method, "text": r.text, "label": train.label_names[r.label]}
            for r in frame.head(50).itertuples()])
        return LabeledData(frame.text.tolist(), [int(y) for y in frame.label], train.label_names)

    def _offline_adversarial(self, u: Unit, adv: AdversarialSpec, clf: Any, train: LabeledData,
                             val: LabeledData | None, out: Path) -> LabeledData:
        """Train on clean data, attack a fraction of the training set, add the successes with their true labels."""
        from ..adversarial import adversarial_examples_for_training
        clf.fit(train, val, progress=self.inner_progress)
        subset = train.sample(max(1, round(adv.fraction * len(train))), seed=u.seed)
        texts, labels = adversarial_examples_for_training(
            clf, adv.recipe, subset.texts, subset.labels, resources={**self.resources(), **adv.options},
            query_budget=adv.query_budget, seed=u.seed, progress=self.inner_progress)
        _write_jsonl(out / "augmented_sample.jsonl", [
            {"operator": f"adversarial:{adv.recipe}", "source_text": "", "augmented_text": t,
             "label": train.label_names[y]} for t, y in list(zip(texts, labels))[:50]])
        log.info("%s: %d adversarial training examples from %d attacked", u.key, len(texts), len(subset))
        return train.concat(LabeledData(texts, [int(y) for y in labels], train.label_names))

    # -- evaluation -------------------------------------------------------------------------------
    def suites(self) -> list[Suite]:
        return [build_suite(s) if isinstance(s, str) else build_suite(s.name, s.op) for s in self.exp.evaluations.suites]

    def suite_texts(self, test: LabeledData) -> dict[str, list[str | None]]:
        """Perturbed test texts per suite: computed once per run, identical for all conditions and seeds."""
        if self._suite_texts is None:
            seed = self.exp.evaluations.suite_seed
            self._suite_texts = {s.name: s.perturb(test.texts, seed) for s in self.suites()}
        return self._suite_texts

    def _evaluate(self, clf: Any, test: LabeledData, out: Path) -> list[tuple[str, str, float]]:
        from ..models import classification_metrics

        suites = self.suite_texts(test)
        # One deduplicated prediction pass over the clean texts and every perturbed text of every suite.
        unique = list(dict.fromkeys(test.texts + [p for ps in suites.values() for p in ps if p is not None]))
        probs = clf.predict_proba(unique)
        index = {t: i for i, t in enumerate(unique)}
        clean = probs[[index[t] for t in test.texts]]
        y = np.asarray(test.labels)
        pred = clean.argmax(1)
        names = test.label_names
        rows: list[tuple[str, str, float]] = []
        if self.exp.evaluations.clean:
            m = classification_metrics(clean, test.labels, names)
            rows += [("clean", "accuracy", m["accuracy"]), ("clean", "macro_f1", m["macro_f1"])]
            _write_jsonl(out / "clean.jsonl", [
                {"text": t, "label": names[y[i]], "pred": names[pred[i]], "conf": float(clean[i].max())}
                for i, t in enumerate(test.texts[:RECORD_LIMIT])])
        records = []
        for name, perturbed in suites.items():
            rows_idx = [i for i, p in enumerate(perturbed) if p is not None]
            if not rows_idx:
                rows += [(f"inv:{name}", "n", 0)]
                continue
            pp = probs[[index[perturbed[i]] for i in rows_idx]]
            ppred = pp.argmax(1)
            same = ppred == pred[rows_idx]
            rows += [(f"inv:{name}", "accuracy", float((ppred == y[rows_idx]).mean())),
                     (f"inv:{name}", "invariance", float(same.mean())),
                     (f"inv:{name}", "n", len(rows_idx))]
            # Failures first: they are what the report shows.
            order = [k for k in range(len(rows_idx)) if not same[k]] + [k for k in range(len(rows_idx)) if same[k]]
            for k in order[:RECORD_LIMIT]:
                i = rows_idx[k]
                records.append({"suite": name, "original": test.texts[i], "perturbed": perturbed[i],
                                "label": names[y[i]], "pred_original": names[pred[i]],
                                "pred_perturbed": names[ppred[k]], "conf_original": float(clean[i].max()),
                                "conf_perturbed": float(pp[k].max()), "invariant": bool(same[k])})
        if suites:
            _write_jsonl(out / "inv.jsonl", records)
        return rows

    def _attack(self, clf: Any, spec: AttackEvalSpec, test: LabeledData, out: Path) -> list[tuple[str, str, float]]:
        from ..adversarial import build_attack, run_attack

        n = min(spec.n, len(test))
        # build_attack drops the resources that other recipes of this experiment need.
        attack = build_attack(spec.recipe, clf, **{**self.resources(), **spec.options})
        report = run_attack(attack, test.texts[:n], test.labels[:n], batch_size=spec.batch_size,
                            query_budget=spec.query_budget, progress=self.inner_progress)
        s = report.summary()
        names = test.label_names
        _write_jsonl(out / "attack.jsonl", [
            {"recipe": spec.recipe, "original_text": r.original_text, "perturbed_text": r.perturbed_text,
             "label": names[r.label], "original_pred": names[r.original_pred], "perturbed_pred": names[r.perturbed_pred],
             "original_conf": float(max(r.original_probs)), "perturbed_conf": float(max(r.perturbed_probs)),
             "status": r.status, "queries": r.num_queries, "words_perturbed_pct": 100.0 * r.perturbed_fraction}
            for r in report.results])
        ev = f"attack:{spec.recipe}"
        return [(ev, "original_accuracy", s["original_accuracy"]),
                (ev, "accuracy_under_attack", s["accuracy_under_attack"]),
                (ev, "success_rate", s["attack_success_rate"]),
                (ev, "avg_words_perturbed_pct", s["avg_words_perturbed_pct"]),
                (ev, "avg_queries", s["avg_queries"]), (ev, "n", n),
                (ev, "examples_per_s", min(s["examples_per_s"], 1e9))]

    # -- outputs ----------------------------------------------------------------------------------
    def aggregate(self, units: list[Unit]) -> Any:
        """Collect finished units into ``results.csv/parquet`` and ``summary.json``."""
        import pandas as pd

        from ..data import save_frame
        from .stats import summarise

        rows = []
        for u in units:
            if self._is_done(u):
                rows += json.loads((self._unit_dir(u) / "metrics.json").read_text())
        table = pd.DataFrame(rows, columns=["condition", "seed", "evaluation", "metric", "value"])
        save_frame(table, self.run_dir / "results.csv")
        save_frame(table, self.run_dir / "results.parquet")
        summary = summarise(table, self.exp.baseline) if len(table) else []
        _write_json(self.run_dir / "summary.json",
                    {"confidence": 0.95, "method": "t", "baseline": self.exp.baseline, "rows": summary})
        return table

    def _write_yaml(self) -> None:
        import yaml

        with atomic_path(self.run_dir / "config.yaml") as tmp:
            tmp.write_text(yaml.safe_dump(self.exp.model_dump(), sort_keys=False), encoding="utf-8")

    def _write_environment(self, started: float) -> None:
        from .environment import environment

        prev = self.run_dir / "environment.json"
        env = environment(self.exp.model.device, self.command)
        env["started_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started))
        env["finished_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        env["duration_s"] = round(time.time() - started, 1)
        if prev.exists():  # a resumed run: keep the total time of all sessions
            try:
                env["duration_s"] += json.loads(prev.read_text()).get("duration_s", 0) or 0
                env["resumed"] = True
            except json.JSONDecodeError:
                pass
        _write_json(prev, env)


class _UnitProgress:
    """A rich progress bar: units done / total, ETA, and the current unit and phase."""

    def __init__(self, total: int, done: int, enabled: bool) -> None:
        self.total, self.done, self.enabled = total, done, enabled
        self._progress: Any = None

    def __enter__(self) -> _UnitProgress:
        if self.enabled:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self._progress = Progress(TextColumn("[bold]units"), BarColumn(), MofNCompleteColumn(),
                                      TimeRemainingColumn(), TextColumn("{task.description}"), transient=False)
            self._progress.start()
            self._task = self._progress.add_task("", total=self.total, completed=self.done)
        return self

    def phase(self, unit: str, phase: str) -> None:
        log.info("%s: %s", unit, phase)
        if self._progress is not None:
            self._progress.update(self._task, description=f"{unit}: {phase}")

    def advance(self) -> None:
        if self._progress is not None:
            self._progress.advance(self._task)

    def __exit__(self, *exc: Any) -> None:
        if self._progress is not None:
            self._progress.stop()


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
            raise ConfigError(f"--fail-under {key}: no such evaluation/metric in the results "
                              f"(have: {', '.join(sorted(set(table.evaluation + '.' + table.metric)))})")
        for cond, group in sel.groupby("condition", sort=False):
            mean = float(group.value.mean())
            if mean < limit:
                problems.append(f"{cond}: {key} = {mean:.4f} < {limit:g}")
    return problems
