"""The lockstep runner: advance many attack searches together, one batched model call per step.

Each example is driven by a generator (its search, preceded by one query of the original text). Every step the
runner takes the pending request of every active example, answers all :class:`BatchCall` requests to the same
backend with one call, then gathers every :class:`ModelQuery` text, drops those already in the run-wide cache
(``text -> probs``) and sends the rest to ``model.predict_proba`` in ONE call (the model sorts by length and pads
per batch). Finished examples are retired and the active set is refilled from the queue, so batches stay full.

Queries are counted per example as unique texts that example asked the model about (the original included), the
way TextAttack counts them; a cache hit from another example still counts for this one. That makes every result
independent of the batch size: a lockstep run equals a one-at-a-time run.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Generator, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from textrobust.adversarial.attack import Attack
from textrobust.adversarial.requests import BatchCall, ModelQuery
from textrobust.adversarial.results import AttackReport, AttackResult
from textrobust.adversarial.text import AttackText
from textrobust.data.labels import label_index
from textrobust.errors import ConfigError
from textrobust.progress import Bar

log = logging.getLogger(__name__)


@dataclass
class _Example:
    index: int
    label: int
    original: AttackText
    gen: Generator[Any, Any, Any] = field(init=False)  # drives this example: set once the example exists
    pending: Any = None
    seen: set[str] = field(default_factory=set)
    orig_probs: np.ndarray | None = None
    best: AttackText | None = None
    best_score: float = -np.inf


def _drive(attack: Attack, ex: _Example, rng: np.random.Generator) -> Generator[Any, Any, Any]:
    """Query the original; skip if the model is already wrong; otherwise run the search."""
    (probs,) = yield ModelQuery([ex.original])
    ex.orig_probs = probs
    if int(np.argmax(probs)) != ex.label:
        return None
    return (yield from attack.search.run(attack, ex.original, ex.label, probs, rng))


def _label_index(model: Any, label: Any) -> int:
    return label_index(label, list(getattr(model, "labels", []) or []), where="run_attack")


class _Runner:
    def __init__(
        self, attack: Attack, cache: dict[str, np.ndarray], query_budget: int | None, model_batch_size: int | None
    ) -> None:
        self.attack = attack
        self.cache = cache
        self.budget = query_budget
        self.model_batch_size = model_batch_size
        self.backend_caches: dict[int, dict[Hashable, Any]] = {}
        self.model_calls = 0
        self.model_texts = 0

    # -- batched services --------------------------------------------------------------------------------
    def predict(self, texts: list[str]) -> None:
        todo = list(dict.fromkeys(t for t in texts if t not in self.cache))
        if not todo:
            return
        kw = {} if self.model_batch_size is None else {"batch_size": self.model_batch_size}
        probs = np.asarray(self.attack.model.predict_proba(todo, **kw), dtype=np.float64)
        self.model_calls += 1
        self.model_texts += len(todo)
        for t, p in zip(todo, probs, strict=True):
            self.cache[t] = p

    def serve_backends(self, calls: list[tuple[_Example, BatchCall]]) -> dict[int, list[Any]]:
        groups: dict[int, list[tuple[_Example, BatchCall]]] = {}
        for ex, call in calls:
            groups.setdefault(id(call.backend), []).append((ex, call))
        answers: dict[int, list[Any]] = {}
        for key, group in groups.items():
            backend = group[0][1].backend
            bcache = self.backend_caches.setdefault(key, {})
            todo = list(dict.fromkeys(x for _, call in group for x in call.inputs if x not in bcache))
            if todo:
                for x, y in zip(todo, backend(todo), strict=True):
                    bcache[x] = y
            for ex, call in group:
                answers[ex.index] = [bcache[x] for x in call.inputs]
        return answers

    # -- one example's bookkeeping -----------------------------------------------------------------------
    def admit(self, ex: _Example, query: ModelQuery) -> tuple[list[AttackText | str], bool]:
        """The items of ``query`` this example may still ask about, and whether the budget cuts it short."""
        if self.budget is None:
            return list(query.states), False
        room = self.budget - len(ex.seen)
        kept: list[AttackText | str] = []
        new: set[str] = set()
        for s in query.states:
            t = s if isinstance(s, str) else s.text
            if t not in ex.seen and t not in new:
                if len(new) >= room:
                    continue
                new.add(t)
            kept.append(s)
        return kept, len(kept) < len(query.states)

    def result(self, ex: _Example, final: AttackText | None, status: str | None = None) -> AttackResult:
        orig_probs = ex.orig_probs if ex.orig_probs is not None else self.cache[ex.original.text]
        final = final if final is not None else ex.original
        if final.text not in self.cache:  # a custom search may return a state it never asked about
            self.predict([final.text])
        probs = self.cache[final.text]
        if status is None:
            if final is ex.original and int(np.argmax(orig_probs)) != ex.label:
                status = "skipped"
            elif bool(self.attack.goal.done(probs, ex.label)) and final.modified:
                status = "succeeded"
            else:
                status = "failed"
        return AttackResult(
            index=ex.index,
            original_text=ex.original.text,
            perturbed_text=final.text,
            label=ex.label,
            original_pred=int(np.argmax(orig_probs)),
            perturbed_pred=int(np.argmax(probs)),
            original_probs=[float(x) for x in orig_probs],
            perturbed_probs=[float(x) for x in probs],
            modified_indices=sorted(final.modified),
            num_words=len(ex.original),
            num_queries=len(ex.seen),
            status=status,
        )


def lockstep_size(model: Any) -> int:
    """Examples to advance in lockstep by default: the model's token budget / 8 (512 on CPU, 4,096 on CUDA).

    A step sends every active example's candidates in one call, which the model packs into token-budget batches;
    the bigger the call, the less padding length sorting leaves and the smaller the share of the one part-filled
    last batch. At >= 8 tokens per text, ``budget / 8`` examples fill a budget even when each sends one text, and a
    typical step (10-50 candidates each) fills dozens. Models without ``token_budget`` get 256.

    Example:
        >>> lockstep_size(object())
        256
    """
    budget = getattr(model, "token_budget", None)
    return max(32, int(budget) // 8) if isinstance(budget, (int, np.integer)) and budget > 0 else 256


def run_attack(
    attack: Attack,
    texts: Sequence[str],
    labels: Sequence[Any],
    *,
    batch_size: int | None = None,
    query_budget: int | None = None,
    seed: int = 0,
    progress: bool = True,
    model_batch_size: int | None = None,
    cache: dict[str, np.ndarray] | None = None,
    index_offset: int = 0,
    lang: str | None = None,
) -> AttackReport:
    """Attack every ``(text, label)`` and return an :class:`AttackReport`.

    ``batch_size`` examples advance in lockstep (each step = at most one ``predict_proba`` call with all their
    candidates; default :func:`lockstep_size`, from the model's token budget); ``model_batch_size`` asks the
    model for fixed rows per forward pass instead of its token budget; ``query_budget`` caps unique model
    queries per example (the original counts as one);
    ``seed`` seeds the per-example random generators (character edits); ``cache`` (text -> probs) may be
    shared between runs on the same model. Results do not depend on ``batch_size``. ``index_offset``: these
    examples start at that position of a larger list (a shard); results and random generators are numbered from
    it, so the shards of a list give the results of the whole list. ``lang``: the texts' language (default:
    detected); an attack that does not support it refuses with a one-line
    :class:`~textrobust.errors.LanguageError` before any query.

    Example:
        >>> report = run_attack(textfooler(model, neighbours=nb, encoder=enc), texts, labels)  # doctest: +SKIP
        >>> report.summary()["accuracy_under_attack"]  # doctest: +SKIP
    """
    if len(texts) != len(labels):
        raise ConfigError(f"texts and labels differ in length ({len(texts)} vs {len(labels)})")
    if tuple(attack.languages) != ("*",) and texts:
        attack.check_language(texts, lang)
    if batch_size is None:
        batch_size = lockstep_size(attack.model)
    if batch_size < 1:
        raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
    if query_budget is not None and query_budget < 1:
        raise ConfigError(f"query_budget must be >= 1 (the original text is one query), got {query_budget}")
    runner = _Runner(attack, {} if cache is None else cache, query_budget, model_batch_size)
    goal = attack.goal
    results: list[AttackResult | None] = [None] * len(texts)
    queue = deque(range(len(texts)))
    active: dict[int, _Example] = {}
    start = time.perf_counter()
    bar = Bar(f"attack {attack.name}", total=len(texts), unit="examples", enabled=progress).__enter__()

    def finish(ex: _Example, res: AttackResult) -> None:
        results[ex.index] = res
        del active[ex.index]
        ex.gen.close()
        bar.advance()

    def advance(ex: _Example, value: Any) -> None:
        try:
            ex.pending = ex.gen.send(value)
        except StopIteration as stop:
            finish(ex, runner.result(ex, stop.value))

    try:
        while queue or active:
            while queue and len(active) < batch_size:
                i = queue.popleft()
                start_text = AttackText.from_text(texts[i], attack.segmenter)
                ex = _Example(i, _label_index(attack.model, labels[i]), start_text)
                ex.gen = _drive(attack, ex, np.random.default_rng([seed, index_offset + i]))
                active[i] = ex
                advance(ex, None)
            step = list(active.values())
            calls = [(ex, ex.pending) for ex in step if isinstance(ex.pending, BatchCall)]
            answers = runner.serve_backends(calls) if calls else {}
            queries = {ex.index: runner.admit(ex, ex.pending) for ex in step if isinstance(ex.pending, ModelQuery)}
            runner.predict([s if isinstance(s, str) else s.text for items, _ in queries.values() for s in items])
            for ex in step:
                if ex.index in answers:
                    advance(ex, answers[ex.index])
                    continue
                if ex.index not in queries:
                    raise TypeError(f"search yielded {type(ex.pending).__name__}; expected ModelQuery or BatchCall")
                items, cut = queries[ex.index]
                probs = (
                    np.stack([runner.cache[s if isinstance(s, str) else s.text] for s in items])
                    if items
                    # no items: never the original's own query (query_budget >= 1 admits it), so orig_probs is set
                    else np.zeros((0, 0 if ex.orig_probs is None else len(ex.orig_probs)))
                )
                for s, p in zip(items, probs, strict=True):
                    ex.seen.add(s if isinstance(s, str) else s.text)
                    if isinstance(s, AttackText) and s.modified:
                        score = float(goal.score(p, ex.label))
                        if score > ex.best_score:
                            ex.best, ex.best_score = s, score
                if cut:
                    done = [
                        s
                        for s, p in zip(items, probs, strict=True)
                        if isinstance(s, AttackText) and s.modified and goal.done(p, ex.label)
                    ]
                    if done:
                        winner = max(done, key=lambda s: float(goal.score(runner.cache[s.text], ex.label)))
                        finish(ex, runner.result(ex, winner, "succeeded"))
                    else:
                        finish(ex, runner.result(ex, ex.best, "budget_exhausted"))
                    continue
                advance(ex, probs)
    finally:
        bar.close()
    elapsed = time.perf_counter() - start
    for r in results:
        if r is not None:
            r.index += index_offset
    return AttackReport(
        [r for r in results if r is not None], elapsed, attack.name, runner.model_calls, runner.model_texts
    )
