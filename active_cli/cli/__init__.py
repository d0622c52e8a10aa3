"""The `active` command line: a thin Typer layer over the public API.

Commands parse options, open a link, call one core function and render its
result (rich tables or ``--json``). `main()` is the one error boundary: an
``ActiveError`` becomes one line on stderr, a hint and its documented exit code;
``--debug`` lets the traceback through. Heavy modules (python-can, cantools,
pyserial) are imported inside the commands so ``active --help`` starts fast.
"""

from __future__ import annotations

import sys

import typer

from active_cli import __version__
from active_cli.cli import check as _check
from active_cli.cli import commission as _commission
from active_cli.cli import config as _config
from active_cli.cli import decode as _decode
from active_cli.cli import doctor as _doctor
from active_cli.cli import inverters_cmd as _inverters
from active_cli.cli import listen as _listen
from active_cli.cli import log as _log
from active_cli.cli import monitor as _monitor
from active_cli.cli import report as _report
from active_cli.cli import scan as _scan
from active_cli.cli import sim as _sim

app = typer.Typer(
    name="active",
    help="Commission and service Active-series 48 V LiFePO4 batteries.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: rich.markdown alone would double the start-up time
    add_completion=True,  # active --install-completion (docs/README.md)
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(_decode.app, name="decode")
app.add_typer(_log.app, name="log")
app.add_typer(_check.app, name="check")
app.add_typer(_inverters.app, name="inverters")
app.add_typer(_report.app, name="report")
app.command("scan")(_scan.scan_command)
app.command("sim")(_sim.sim_command)
app.command("monitor")(_monitor.monitor_command)
app.command("commission")(_commission.commission_command)
app.command("doctor")(_doctor.doctor_command)
app.command("listen")(_listen.listen_command)
app.add_typer(_config.app, name="config")


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
