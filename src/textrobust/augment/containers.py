"""Containers that compose operators: ``Sequential``, ``OneOf``, ``SomeOf``, ``Sometimes``.

Children are called through ``apply_batch`` on the group of rows that selected them, so model-backed children
still see whole batches. Each child gets its own generator per row, drawn from the row's generator.

Example:
    >>> from textrobust.augment import OneOf, parse_op
    >>> op = OneOf([parse_op("char:kind=ocr"), parse_op("char:kind=random_swap")], weights=[0.5, 0.5])
    >>> len(op(["a sentence to perturb"], seed=0)[0])
    1
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from textrobust import lang as _lang
from textrobust.augment.base import Operator, Params, check, register
from textrobust.errors import ConfigError


def _child_rngs(rngs: list[np.random.Generator]) -> list[np.random.Generator]:
    return [np.random.default_rng(int(g.integers(2**63))) for g in rngs]


def _run_chain(steps: list[list[Operator]], texts: list[str], rngs: list[np.random.Generator]) -> list[str | None]:
    """Apply per-row operator chains (``steps[i]`` for row i) in order; a child's None keeps the text as is."""
    cur = list(texts)
    depth = max((len(s) for s in steps), default=0)
    for d in range(depth):
        groups: dict[int, tuple[Operator, list[int]]] = {}
        for i, chain in enumerate(steps):
            if d < len(chain):
                groups.setdefault(id(chain[d]), (chain[d], []))[1].append(i)
        sub = _child_rngs(rngs)  # drawn for every row at every depth so results never depend on other rows
        for op, rows in groups.values():
            outs = op.apply_batch([cur[i] for i in rows], [sub[i] for i in rows])
            for i, o in zip(rows, outs, strict=True):
                if o is not None:
                    cur[i] = o
    return [c if c != t else None for c, t in zip(cur, texts, strict=True)]


def _check_ops(op: str, ops: Sequence[Any]) -> None:
    check(op, "ops", len(ops) > 0 and all(isinstance(o, Operator) for o in ops), "a non-empty list of operators", ops)


@dataclass(frozen=True)
class SequentialParams(Params):
    ops: tuple[Operator, ...] = ()

    def validate(self, op: str) -> None:
        _check_ops(op, self.ops)


class _Container(Operator):
    params: SequentialParams | OneOfParams | SomeOfParams
    # A container supports what all its children support (binding it binds every child).
    languages = _lang.ANY

    def supported_languages(self) -> tuple[str, ...]:
        return _lang.intersect(*(o.supported_languages() for o in self.params.ops))

    def inapplicable(self, text: str) -> str | None:
        reasons = [o.inapplicable(text) for o in self.params.ops]
        return None if any(r is None for r in reasons) else "; ".join(dict.fromkeys(r for r in reasons if r))

    def __init__(self, ops: Sequence[Operator] | None = None, params: Params | None = None, **kwargs: Any) -> None:
        if ops is not None:
            kwargs["ops"] = tuple(ops)
        super().__init__(params, **kwargs)

    @property
    def batched(self) -> bool:  # type: ignore[override]  # from the children, where leaf operators set a ClassVar
        return any(o.batched for o in self.params.ops)

    def check_extras(self) -> None:
        for o in self.params.ops:
            o.check_extras()


@register
class Sequential(_Container):
    """Apply every operator in order (a child that finds nothing to change passes the text on)."""

    name = "sequential"
    Params = SequentialParams
    params: SequentialParams

    def apply_batch(self, texts: list[str], rngs: list[np.random.Generator]) -> list[str | None]:
        return _run_chain([list(self.params.ops)] * len(texts), texts, rngs)


@dataclass(frozen=True)
class OneOfParams(Params):
    ops: tuple[Operator, ...] = ()
    weights: tuple[float, ...] | None = None  # default: uniform

    def validate(self, op: str) -> None:
        _check_ops(op, self.ops)
        if self.weights is not None:
            check(
                op,
                "weights",
                len(self.weights) == len(self.ops) and all(w >= 0 for w in self.weights) and sum(self.weights) > 0,
                f"{len(self.ops)} non-negative numbers with a positive sum",
                self.weights,
            )


@register
class OneOf(_Container):
    """Apply one operator per variant, chosen at random with the given weights."""

    name = "one_of"
    Params = OneOfParams
    params: OneOfParams

    def __init__(
        self, ops: Sequence[Operator] | None = None, weights: Sequence[float] | None = None, **kwargs: Any
    ) -> None:
        if weights is not None:
            kwargs["weights"] = tuple(float(w) for w in weights)
        super().__init__(ops, **kwargs)

    def apply_batch(self, texts: list[str], rngs: list[np.random.Generator]) -> list[str | None]:
        ops = self.params.ops
        w = np.asarray(self.params.weights or [1.0] * len(ops), dtype=float)
        w = w / w.sum()
        picks = [[ops[int(g.choice(len(ops), p=w))]] for g in rngs]
        return _run_chain(picks, texts, rngs)


@dataclass(frozen=True)
class SomeOfParams(Params):
    ops: tuple[Operator, ...] = ()
    n: int = 2  # how many operators to apply (in their listed order)

    def validate(self, op: str) -> None:
        _check_ops(op, self.ops)
        check(op, "n", 1 <= self.n <= len(self.ops), f"an integer in [1, {len(self.ops)}]", self.n)


@register
class SomeOf(_Container):
    """Apply n distinct operators chosen at random, in their listed order."""

    name = "some_of"
    Params = SomeOfParams
    params: SomeOfParams

    def __init__(self, ops: Sequence[Operator] | None = None, n: int | None = None, **kwargs: Any) -> None:
        if n is not None:
            kwargs["n"] = n
        super().__init__(ops, **kwargs)

    def apply_batch(self, texts: list[str], rngs: list[np.random.Generator]) -> list[str | None]:
        ops = self.params.ops
        picks = [[ops[j] for j in sorted(g.choice(len(ops), size=self.params.n, replace=False).tolist())] for g in rngs]
        return _run_chain(picks, texts, rngs)


@dataclass(frozen=True)
class SometimesParams(Params):
    op: Operator | None = None
    p: float = 0.5

    def validate(self, op: str) -> None:
        check(op, "op", isinstance(self.op, Operator), "an operator", self.op)
        check(op, "p", 0 <= self.p <= 1, "a float in [0, 1]", self.p)


@register
class Sometimes(Operator):
    """Apply the operator with probability p (otherwise leave the text unchanged)."""

    name = "sometimes"
    Params = SometimesParams
    params: SometimesParams
    languages = _lang.ANY  # as its operator (bound with it)

    def __init__(self, op: Operator | None = None, p: float | None = None, **kwargs: Any) -> None:
        if op is not None:
            kwargs["op"] = op
        if p is not None:
            kwargs["p"] = p
        super().__init__(**kwargs)

    @property
    def batched(self) -> bool:  # type: ignore[override]  # from the child, where leaf operators set a ClassVar
        return self._op.batched

    def check_extras(self) -> None:
        self._op.check_extras()

    def supported_languages(self) -> tuple[str, ...]:
        return self._op.supported_languages()

    def inapplicable(self, text: str) -> str | None:
        return self._op.inapplicable(text)

    def apply_batch(self, texts: list[str], rngs: list[np.random.Generator]) -> list[str | None]:
        chains = [[self._op] if g.random() < self.params.p else [] for g in rngs]
        return _run_chain(chains, texts, rngs)

    @property
    def _op(self) -> Operator:
        op = self.params.op
        if op is None:  # unreachable: SometimesParams.validate requires an operator
            raise ConfigError(f"{self.name}: invalid op=None; valid: an operator")
        return op
