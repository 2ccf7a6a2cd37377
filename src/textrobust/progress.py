"""Progress output that suits where it goes: one helper for every long loop of textrobust.

:class:`Bar` is a live rich bar (count, percentage, rate, elapsed time and ETA) on a terminal; off a terminal (CI,
``nohup``, ``| tee``) a redrawn bar is thousands of carriage-return characters, so there it prints one plain line
per tenth of the work (or per step, or every ``every`` steps without a total) instead. :func:`steps` wraps an
iterable the same way (training epochs); :func:`note` prints a line only where no live bar is shown.

Example:
    >>> with Bar("augment", total=3, unit="rows", enabled=False) as bar:
    ...     bar.advance(3)
    >>> for batch in steps([1, 2, 3], desc="epoch 1/1", enabled=False):
    ...     pass
    >>> note("epoch 1/1: loss 0.5", enabled=False)
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator, Sized
from typing import Any, TypeVar

_B = TypeVar("_B", bound="Bar")


def on_terminal() -> bool:
    """True when stderr (where progress goes) is a terminal."""
    return sys.stderr.isatty()


def note(message: str, *, enabled: bool = True) -> None:
    """Print ``message`` as one line on stderr when progress is ``enabled`` and stderr is not a terminal (a
    terminal shows the live bar instead)."""
    if enabled and not on_terminal():
        print(message, file=sys.stderr, flush=True)


class Bar:
    """Progress of ``desc`` over ``total`` items (None: unknown), ``done`` of them finished before this session.

    ``lines``: what a log gets off a terminal — ``"tenths"`` (a line per tenth of the total; per ``every`` steps
    without one), ``"each"`` (a line per :meth:`advance`) or ``"none"``. ``transient``: the live bar disappears when
    done. :meth:`status` sets the text shown after the bar (and at the end of log lines): the current phase, a
    running loss, how many run at once.
    """

    def __init__(
        self,
        desc: str,
        *,
        total: int | None = None,
        done: int = 0,
        unit: str = "",
        enabled: bool = True,
        lines: str = "tenths",
        every: int = 10,
        transient: bool = True,
    ) -> None:
        self.desc, self.total, self.done, self.unit = desc, total, done, unit
        self.lines, self.every, self.transient = lines, max(1, every), transient
        self.enabled, self.live = enabled, enabled and on_terminal()
        self.text = ""
        self._session, self._steps, self._start = 0, 0, time.perf_counter()
        self._progress: Any = None

    def __enter__(self: _B) -> _B:
        if self.live:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._progress = Progress(
                TextColumn(f"[bold]{self.desc}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]}"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                TextColumn("{task.description}"),
                transient=self.transient,
            )
            self._progress.start()
            self._task = self._progress.add_task("", total=self.total, completed=self.done, rate="")
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self._start

    def rate(self) -> float:
        """Items per second this session."""
        return self._session / max(self.elapsed, 1e-9)

    def status(self, text: str) -> None:
        """The text after the bar (a phase, a loss, ``running 2``)."""
        self.text = text
        if self._progress is not None:
            self._progress.update(self._task, description=text)

    def set_postfix(self, **fields: Any) -> None:
        """tqdm's name for :meth:`status`: ``key=value`` pairs."""
        self.status(", ".join(f"{k}={v}" for k, v in fields.items()))

    def advance(self, k: int = 1) -> None:
        before = self.done
        self.done += k
        self._session += k
        self._steps += 1
        if self._progress is not None:
            unit = f" {self.unit}/s" if self.unit else "/s"
            self._progress.update(self._task, advance=k, rate=f"{self.rate():,.1f}{unit}")
        elif self.enabled and self._due(before):
            print(self.line(), file=sys.stderr, flush=True)

    def _due(self, before: int) -> bool:
        if self.lines == "each":
            return True
        if self.lines != "tenths":
            return False
        if self.total:
            return 10 * self.done // self.total > 10 * before // self.total
        return self._steps % self.every == 0

    def line(self) -> str:
        """The plain log line: ``desc: done/total unit (pct%), rate, elapsed[, status]``."""
        of = f"/{self.total:,}" if self.total else ""
        pct = f" ({100 * self.done / self.total:.0f}%)" if self.total else ""
        unit = f" {self.unit}" if self.unit else ""
        rate = f", {self.rate():,.1f}{unit}/s" if self.unit else ""
        tail = f", {self.text}" if self.text else ""
        return f"{self.desc}: {self.done:,}{of}{pct}{unit}{rate}, {self.elapsed:.0f} s elapsed{tail}"


def steps(iterable: Iterable[Any], *, desc: str, enabled: bool = True, unit: str = "it") -> _Steps:
    """Iterate with a live, transient :class:`Bar` on a terminal (with ``set_postfix`` and ``close``, as a training
    loop calls them); elsewhere silently, so the caller's :func:`note` lines are all a log gets."""
    return _Steps(iterable, desc, enabled and on_terminal(), unit)


class _Steps:
    """An iterable with ``set_postfix`` / ``close`` (what training loops call), over a :class:`Bar`."""

    def __init__(self, iterable: Iterable[Any], desc: str, live: bool, unit: str) -> None:
        self.iterable = iterable
        total = len(iterable) if isinstance(iterable, Sized) else None
        self.bar = Bar(desc, total=total, unit=unit, enabled=live, lines="none")

    def __iter__(self) -> Iterator[Any]:
        with self.bar:
            for item in self.iterable:
                yield item
                self.bar.advance()

    def set_postfix(self, **fields: Any) -> None:
        self.bar.set_postfix(**fields)

    def close(self) -> None:
        self.bar.close()


__all__ = ["Bar", "note", "on_terminal", "steps"]
