"""The ``causal`` command: thin — parse arguments/config, call workflows, write files.

Every sub-command lives in its own module and registers itself on :data:`app`. Errors a user
can cause (:class:`causal.CausalError`) print a one-paragraph message and exit with status 2;
``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import sys

import typer

from causal._errors import CausalError

app = typer.Typer(
    name="causal",
    help="Causal content attribution: what content works, for whom, and why.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_STATE = {"debug": False}


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
) -> None:
    """Causal content attribution: what content works, for whom, and why."""
    _STATE["debug"] = debug


def _register() -> None:
    # Sub-command modules register on `app` when imported; import them here, not at the top,
    # so each stays importable on its own.
    from causal.cli import (
        _demo,  # noqa: F401
        _readout,  # noqa: F401
        _simulate,  # noqa: F401
        _whatworks,  # noqa: F401
    )


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    _register()
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    try:
        # standalone_mode=False returns ``typer.Exit`` codes (and 0 after --help) instead of
        # exiting, and re-raises usage errors; both are turned into exit statuses below.
        rv = app(args=args, standalone_mode=False)
    except CausalError as exc:
        if debug:
            raise
        typer.echo(f"error: {exc}", err=True)
        raise SystemExit(2) from None
    except (typer.Abort, KeyboardInterrupt):
        typer.echo("aborted", err=True)
        raise SystemExit(130) from None
    except SystemExit:
        raise
    except typer.TyperException as exc:  # usage errors (typer vendors click: no `click` module)
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            typer.echo(f"error: {exc}", err=True)
        raise SystemExit(getattr(exc, "exit_code", 2)) from None
    if isinstance(rv, int) and not isinstance(rv, bool) and rv != 0:
        raise SystemExit(rv)
