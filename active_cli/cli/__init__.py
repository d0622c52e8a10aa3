"""The `active` command line: a thin Typer layer over the public API.

Commands parse options, open a link, call one core function and render its
result (rich tables or ``--json``). `main()` is the one error boundary: an
``ActiveError`` becomes one line on stderr, a hint and its documented exit code;
``--debug`` lets the traceback through. Heavy modules (python-can, cantools,
pyserial) are imported inside the commands so ``active --help`` starts fast.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import os
import sys
import threading
from typing import TYPE_CHECKING, NoReturn

import typer
from typer.core import TyperGroup
from typer.models import CommandInfo, TyperInfo

from active_cli import __version__

if TYPE_CHECKING:
    from typer._click import Command, Context

# Every command, in the order `active --help` lists them: (module under
# active_cli.cli, its Typer sub-app "app" or its command function). A command's
# module is imported, and Typer builds its options, only when that command
# runs: building all twelve on every invocation cost more than the scan's
# first request waited for (docs/architecture.md, start-up).
COMMANDS: dict[str, tuple[str, str]] = {
    "decode": ("decode", "app"),
    "log": ("log", "app"),
    "check": ("check", "app"),
    "inverters": ("inverters_cmd", "app"),
    "report": ("report", "app"),
    "scan": ("scan", "scan_command"),
    "sim": ("sim", "sim_command"),
    "monitor": ("monitor", "monitor_command"),
    "commission": ("commission", "commission_command"),
    "doctor": ("doctor", "doctor_command"),
    "listen": ("listen", "listen_command"),
    "config": ("config", "app"),
}


class _LazyGroup(TyperGroup):
    """The root group: a command is built the first time it is looked up."""

    def list_commands(self, ctx: Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            command = _build(cmd_name)
            _readable_metavars(command)
            self.commands[cmd_name] = command
        return self.commands.get(cmd_name)


def _build(name: str) -> Command:
    module_name, attribute = COMMANDS[name]
    target = getattr(importlib.import_module(f"active_cli.cli.{module_name}"), attribute)
    if isinstance(target, typer.Typer):
        return typer.main.get_group_from_info(
            TyperInfo(target, name=name),
            pretty_exceptions_short=app.pretty_exceptions_short,
            rich_markup_mode=app.rich_markup_mode,
            suggest_commands=app.suggest_commands,
        )
    return typer.main.get_command_from_info(
        CommandInfo(name=name, callback=target),
        pretty_exceptions_short=app.pretty_exceptions_short,
        rich_markup_mode=app.rich_markup_mode,
    )


app = typer.Typer(
    name="active",
    cls=_LazyGroup,
    help="Commission and service Active-series 48 V LiFePO4 batteries.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: rich.markdown alone would double the start-up time
    add_completion=True,  # active --install-completion (docs/README.md)
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        print(f"active {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: bool = typer.Option(
        False, "--debug", help="Show raw frames, debug logging and tracebacks."
    ),
    version: bool = typer.Option(
        False, "--version", "-V", callback=_version, is_eager=True, help="Print the version."
    ),
) -> None:
    import logging  # here, not at the top: `active --help` never needs it

    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )


def _readable_metavars(command: object) -> None:
    """``--port PORT`` in help, not Typer's ``--port <str>`` / ``<int range>``.

    An option's metavar is its long name in capitals unless the option set
    one; an argument's is its name (with ``...`` when it takes several).
    """
    for param in getattr(command, "params", ()):
        if getattr(param, "param_type_name", "") == "argument":
            # Typer prints an argument's Python type after its name
            # ("VOLTAGE... <list[str]>"); the name says it already.
            setattr(param, "display_type_rich", lambda ctx: None)  # noqa: B010
        if getattr(param, "metavar", "set") is not None or getattr(param, "is_flag", False):
            continue
        if getattr(param, "count", False):
            continue
        opts = [o for o in getattr(param, "opts", ()) if o.startswith("--")]
        name = (opts[0][2:] if opts else param.name or "value").replace("-", "_").upper()
        if getattr(param, "param_type_name", "") == "argument" and param.nargs == -1:
            name += "..."
        param.metavar = name
    for sub in getattr(command, "commands", {}).values():
        _readable_metavars(sub)


EXIT_INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for Ctrl-C


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; turn known failures into one line and an exit code.

    Everything `active` knows how to explain is an ``ActiveError`` (its own
    exit code, docs/README.md); usage errors are click's (exit 2); Ctrl-C that
    interrupts work is exit 130 with one line (commands whose normal end is
    Ctrl-C — monitor, log capture — handle it themselves and exit 0).
    ``--debug`` adds the traceback but keeps the exit code.
    """
    from active_cli.errors import ActiveError

    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    command = typer.main.get_command(app)
    _readable_metavars(command)
    try:
        command.main(args=args, prog_name="active", standalone_mode=True)
    except SystemExit as e:
        if e.code == EXIT_INTERRUPTED:
            # Typer turns a KeyboardInterrupt into this exit, silently.
            print("interrupted (Ctrl-C): stopped before the work was done", file=sys.stderr)
        raise
    except ActiveError as e:
        if debug:
            import traceback

            traceback.print_exc()
        from active_cli.cli.output import print_error

        print_error(e)
        sys.exit(e.exit_code)


def run() -> NoReturn:
    """The ``active`` console script: `main`, then end the process at once.

    The interpreter's own teardown (freeing every module and object) costs
    50-100 ms after the work is done, on every command (benches/scan.py). Nothing
    needs it here: every file is closed by the code that opened it, so once the
    exit handlers ran (logging's flush among them) and the standard streams are
    flushed, the process ends with `os._exit`. While another thread is still
    finishing, the normal exit runs instead, which waits for it.
    """
    try:
        main()
        code: object = 0
    except SystemExit as e:
        code = e.code
    if isinstance(code, str):
        print(code, file=sys.stderr)
        code = 1
    exit_code = code if isinstance(code, int) else 0
    others = [t for t in threading.enumerate() if t is not threading.main_thread()]
    if any(t.is_alive() and not t.daemon for t in others):
        sys.exit(exit_code)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: the reader has gone
            stream.flush()
    os._exit(exit_code)
