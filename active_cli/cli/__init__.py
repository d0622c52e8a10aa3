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
    add_completion=False,
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
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
) -> None:
    import logging  # here, not at the top: `active --help` never needs it

    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; turn known failures into one line and an exit code.

    Usage errors are reported by Typer itself (exit 2); everything `active`
    knows how to explain is an ``ActiveError`` and is caught here.
    """
    from active_cli.errors import ActiveError

    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    command = typer.main.get_command(app)
    try:
        command.main(args=args, prog_name="active", standalone_mode=True)
    except ActiveError as e:
        if debug:
            raise
        from active_cli.cli.output import print_error

        print_error(e)
        sys.exit(e.exit_code)
