"""The ``textrobust`` command line: a thin layer over the library.

Only typer and the standard library load at start-up (``textrobust --help`` stays instant); each command imports
what it needs. Input errors (:class:`~textrobust.errors.TextRobustError`) and refusals of the file system (a full
disk, a read-only folder: ``OSError``) become one line on stderr and exit code 2; ``--debug`` shows the traceback
instead.
"""

from __future__ import annotations

import logging
import sys

import typer

from ..errors import TextRobustError

app = typer.Typer(
    name="textrobust",
    help="Make text classifiers robust, and prove it: train, evaluate, augment, attack, run experiments.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
)


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks instead of one-line errors."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log progress details (INFO level)."),
) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )


# Command modules register themselves on ``app`` when imported; the imports are cheap (no torch).
from . import commands, compare, experiment, extras, fix, generate, scan, serve, tools, validity  # noqa: E402,F401


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``textrobust`` script."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    from ..progress import quiet_library_bars

    quiet_library_bars()  # off a terminal, library bars (weight loading, ...) are noise in the log
    try:
        app(args=args, prog_name="textrobust")
    except TextRobustError as e:
        if debug:
            raise
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    except OSError as e:  # the file system said no: a full disk, a read-only or missing folder, permissions
        if debug:
            raise
        where = f": {e.filename}" if e.filename else ""
        print(f"error: {e.strerror or e}{where}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
