"""The ``causal`` command: thin — parse arguments/config, call workflows, write files.

Every sub-command lives in its own module and registers itself on :data:`app`. At this
boundary every error becomes one paragraph on stderr, never a traceback:

- exit 2: bad input — a :class:`causal.CausalError`, or a library's error about the files
  given (DuckDB/pyarrow/pandas reading a corrupt or empty file, an unreadable path);
- exit 1: anything else (a bug: the message says so and how to see the traceback);
- ``--debug`` (before or after the sub-command) shows the traceback instead.

Boolean flags also accept a value, as people type them: ``--quiet``, ``--quiet=true``,
``--quiet false``. Sub-commands write their outputs with :func:`causal._io.output_set`, so a
failed run leaves no partial output.
"""

from __future__ import annotations

import re
import sys
from typing import Any

import typer

from causal._errors import CausalError

__all__ = ["app", "describe_error", "main"]

app = typer.Typer(
    name="causal",
    help="Causal content attribution: what content works, for whom, and why.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_STATE = {"debug": False}

#: How a boolean flag shows its optional value in ``--help``.
BOOL_METAVAR = "[=true|false]"
_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


def _version(value: bool) -> None:
    if value:
        from causal import __version__

        typer.echo(f"causal {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    debug: bool = typer.Option(
        False, "--debug", help="Show full tracebacks on errors (before or after the command)."
    ),
    version: bool = typer.Option(
        False, "--version", is_eager=True, callback=_version, help="Print the version and exit."
    ),
) -> None:
    """Causal content attribution: what content works, for whom, and why."""
    _STATE["debug"] = _STATE["debug"] or debug


def _register() -> None:
    # Sub-command modules register on `app` when imported; import them here, not at the top,
    # so each stays importable on its own.
    import importlib
    import importlib.util

    from causal.cli import (
        _demo,  # noqa: F401
        _readout,  # noqa: F401
        _simulate,  # noqa: F401
    )

    # Commands added in their own modules register here when present (e.g. `whatworks`).
    for name in ("causal.cli._whatworks",):
        if importlib.util.find_spec(name) is not None:
            importlib.import_module(name)


# ---- arguments as people type them ------------------------------------------------------------


def _take_debug(args: list[str]) -> tuple[list[str], bool]:
    """Remove ``--debug`` (also ``--debug=true``, ``--debug false``) wherever it stands before a
    ``--`` terminator; return the rest and whether debugging is on."""
    kept: list[str] = []
    debug, i = False, 0
    while i < len(args):
        tok = args[i]
        if tok == "--":
            kept += args[i:]
            break
        name, eq, value = tok.partition("=")
        if name == "--debug":
            word = _bool_word(value) if eq else None
            if eq and word is None:
                typer.echo(f"error: '--debug' takes true or false. Got {value!r}.", err=True)
                raise SystemExit(2)
            if not eq and i + 1 < len(args) and _bool_word(args[i + 1]) is not None:
                i += 1
                word = _bool_word(args[i])
            debug = word is not False
        else:
            kept.append(tok)
        i += 1
    return kept, debug


def _bool_flags(cmd: Any) -> dict[str, tuple[str | None, bool]]:
    """Option string -> (its opposite option or None, whether it means True), bool flags only."""
    out: dict[str, tuple[str | None, bool]] = {}
    for p in getattr(cmd, "params", []):
        if getattr(p, "is_bool_flag", False):
            second = p.secondary_opts[0] if p.secondary_opts else None
            for o in p.opts:
                out[o] = (second, True)
            for o in p.secondary_opts:
                out[o] = (p.opts[0], False)
    return out


def _takes_value(cmd: Any, opt: str) -> bool:
    for p in getattr(cmd, "params", []):
        if opt in getattr(p, "opts", ()) or opt in getattr(p, "secondary_opts", ()):
            return not getattr(p, "is_flag", False) and not getattr(p, "count", False)
    return False


def _bool_word(text: str) -> bool | None:
    low = text.lower()
    return True if low in _TRUE else False if low in _FALSE else None


def _normalize_bool_flags(root: Any, args: list[str]) -> list[str]:
    """Rewrite ``--flag=false`` / ``--flag true`` into what the parser takes (``--flag`` or
    nothing / ``--no-flag``), walking into sub-commands as the parser would."""
    cmd, out, i = root, [], 0
    while i < len(args):
        tok = args[i]
        if tok == "--":
            out += args[i:]
            break
        if tok.startswith("-") and tok != "-":
            name, eq, value = tok.partition("=")
            flags = _bool_flags(cmd)
            if name in flags:
                opposite, means = flags[name]
                word: bool | None = None
                if eq:
                    word = _bool_word(value)
                    if word is None:
                        raise typer.BadParameter(
                            f"'{name}' takes true or false. Got {value!r}.", param_hint=name
                        )
                elif i + 1 < len(args) and _bool_word(args[i + 1]) is not None:
                    word = _bool_word(args[i + 1])
                    i += 1
                if word is None or word:
                    out.append(name)
                elif opposite is not None:
                    out.append(opposite)
                # `--flag false` with no opposite: the default (False) stands
                i += 1
                continue
            out.append(tok)
            if not eq and _takes_value(cmd, name) and i + 1 < len(args):
                out.append(args[i + 1])
                i += 1
            i += 1
            continue
        sub = getattr(cmd, "commands", {}).get(tok) if hasattr(cmd, "commands") else None
        if sub is not None:
            cmd = sub
        out.append(tok)
        i += 1
    return out


def _show_bool_values(cmd: Any) -> None:
    """Help shows ``--quiet [=true|false]`` rather than ``<bool>`` for every flag (and nothing
    after ``--help``)."""
    try:
        help_option = cmd.get_help_option(cmd.context_class(cmd))
        if help_option is not None:
            help_option.metavar = ""
    except Exception:  # cosmetic only: never block the command over it
        pass
    for p in getattr(cmd, "params", []):
        if p.name in ("help", "version"):
            p.metavar = ""
        elif getattr(p, "is_bool_flag", False):
            p.metavar = BOOL_METAVAR
    for sub in getattr(cmd, "commands", {}).values():
        _show_bool_values(sub)


# ---- errors at the boundary ---------------------------------------------------------------------

_SQL_CONTEXT = re.compile(r"\n\s*LINE \d+:.*", re.DOTALL)
# DuckDB appends its own tuning advice (reader options a command-line user cannot set)
_ENGINE_ADVICE = re.compile(r"\s*(The search space used was:|Possible fixes:).*", re.DOTALL)


def _one_paragraph(text: str) -> str:
    text = _ENGINE_ADVICE.sub(".", _SQL_CONTEXT.sub("", str(text))).strip()
    return " ".join(line.strip() for line in text.splitlines() if line.strip())


def _is_input_error(exc: BaseException) -> bool:
    """A library's error about the input files (not a bug in this package)."""
    duckdb = sys.modules.get("duckdb")
    if duckdb is not None and isinstance(exc, duckdb.Error):
        return True
    pa = sys.modules.get("pyarrow")
    if pa is not None and isinstance(exc, pa.lib.ArrowException):
        return True
    pd_errors = sys.modules.get("pandas.errors")
    if pd_errors is not None and isinstance(exc, pd_errors.ParserError | pd_errors.EmptyDataError):
        return True
    return isinstance(exc, OSError | UnicodeDecodeError)


def describe_error(exc: BaseException) -> tuple[str, int]:
    """The one-paragraph message and exit status for an error reaching the command line.

    Examples
    --------
    >>> from causal import ConfigError
    >>> describe_error(ConfigError("The 'alpha' key must be in (0, 1). Got 2."))
    ("error: The 'alpha' key must be in (0, 1). Got 2.", 2)
    >>> describe_error(FileNotFoundError(2, "No such file or directory", "x.csv"))
    ("error: cannot read or write 'x.csv': No such file or directory.", 2)
    """
    if isinstance(exc, CausalError):
        return f"error: {exc}", 2
    if isinstance(exc, OSError) and exc.filename is not None:
        why = exc.strerror or _one_paragraph(str(exc))
        return f"error: cannot read or write '{exc.filename}': {why}.", 2
    if isinstance(exc, UnicodeDecodeError):
        return (
            "error: the data is not UTF-8 text; save the CSV as UTF-8 or convert it to Parquet.",
            2,
        )
    if _is_input_error(exc):
        return (
            f"error: could not read the data: {_one_paragraph(str(exc))} Check that DATA is a "
            "complete Parquet/CSV file (or glob of files with the same columns).",
            2,
        )
    return (
        f"error: unexpected {type(exc).__name__}: {_one_paragraph(str(exc))} This is a bug in "
        "content-causal; rerun with --debug for the traceback and please report it.",
        1,
    )


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    _register()
    args, debug = _take_debug(list(sys.argv[1:] if argv is None else argv))
    _STATE["debug"] = debug
    command = typer.main.get_command(app)
    _show_bool_values(command)
    try:
        args = _normalize_bool_flags(command, args)
        # standalone_mode=False returns ``typer.Exit`` codes (and 0 after --help) instead of
        # exiting, and re-raises usage errors; both are turned into exit statuses below.
        rv = command.main(args=args, prog_name="causal", standalone_mode=False)
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
    except Exception as exc:
        if _STATE["debug"]:
            raise
        message, code = describe_error(exc)
        typer.echo(message, err=True)
        raise SystemExit(code) from None
    if isinstance(rv, int) and not isinstance(rv, bool) and rv != 0:
        raise SystemExit(rv)
