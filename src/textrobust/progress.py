"""Progress output that suits where it goes: a live bar on a terminal, one plain line per step in a log.

A tqdm or rich bar redraws itself with carriage returns; written to a file (CI, ``nohup``, ``| tee``) that is
thousands of characters per epoch. Off a terminal the bars are off and long loops print one line per epoch, unit
or tenth of the work instead.

Example:
    >>> for batch in steps([1, 2, 3], desc="epoch 1/1", enabled=False):
    ...     pass
    >>> note("epoch 1/1: loss 0.5", enabled=False)
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import Any


def on_terminal() -> bool:
    """True when stderr (where progress goes) is a terminal."""
    return sys.stderr.isatty()


class _Plain:
    """What :func:`steps` returns off a terminal: the iterable, with the bar methods callers use as no-ops."""

    def __init__(self, iterable: Iterable[Any]) -> None:
        self.iterable = iterable

    def __iter__(self) -> Iterator[Any]:
        return iter(self.iterable)

    def set_postfix(self, *args: Any, **kwargs: Any) -> None:
        pass

    def close(self) -> None:
        pass


def steps(iterable: Iterable[Any], *, desc: str, enabled: bool = True, unit: str = "it") -> Any:
    """A tqdm bar over ``iterable`` on a terminal (cleared when done); elsewhere the plain iterable (with
    ``set_postfix`` / ``close`` accepted), so the caller's :func:`note` lines are all a log gets."""
    if enabled and on_terminal():
        from tqdm.auto import tqdm

        return tqdm(iterable, desc=desc, unit=unit, leave=False)
    return _Plain(iterable)


def note(message: str, *, enabled: bool = True) -> None:
    """Print ``message`` as one line on stderr when progress is ``enabled`` and stderr is not a terminal (a
    terminal shows the live bar instead)."""
    if enabled and not on_terminal():
        print(message, file=sys.stderr, flush=True)
