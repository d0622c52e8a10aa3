"""The connection options every command shares, as Typer options, and their parsing.

``--port URL --baud N`` (pyserial), ``--interface --channel --bitrate``
(python-can, unset = python-can's own config; ``--can-option KEY=VALUE`` for
what one interface needs beyond those, e.g. socketcand's ``host`` and
``port``), ``--sim SCENARIO`` (the in-process simulator). ``--record FILE``
writes what a command exchanged, ``--replay FILE`` runs it on such a capture
instead of a bus (`links.replay`). Commands declare the options with the
``*_OPTION`` objects below so the help text is the same everywhere; opening
what they name is `active_cli.connection.open_links`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from active_cli.connection import CaptureFiles, Connection

if TYPE_CHECKING:
    from active_cli.links.can_link import CanOptionValue

__all__ = [
    "BAUD_OPTION",
    "BITRATE_OPTION",
    "CAN_OPTION_OPTION",
    "CHANNEL_OPTION",
    "INTERFACE_OPTION",
    "PORT_OPTION",
    "RECORD_OPTION",
    "REPLAY_OPTION",
    "REPLY_TIMEOUT_OPTION",
    "SIM_OPTION",
    "CaptureFiles",
    "Connection",
    "capture_files",
    "check_record_files",
    "connection_from_options",
    "parse_can_options",
    "print_notes",
    "refuse_live_options",
]

PORT_OPTION = typer.Option(
    None,
    "--port",
    "-p",
    help="RS485 port: /dev/ttyUSB0, COM3, socket://HOST:PORT (gateway), or a pty path.",
)
BAUD_OPTION = typer.Option(
    None,
    "--baud",
    "-b",
    min=1,
    show_default=False,
    help="RS485 baud rate (9600 or 115200; default 9600). With --sim the scenario's baud is used.",
)
INTERFACE_OPTION = typer.Option(
    None,
    "--interface",
    "-i",
    help="python-can interface: socketcan, slcan, gs_usb, pcan, socketcand, virtual ...",
)
CHANNEL_OPTION = typer.Option(None, "--channel", "-c", help="CAN channel, e.g. can0.")
BITRATE_OPTION = typer.Option(
    None, "--bitrate", help="CAN bitrate (Pylon LV CAN: 500000). Unset: python-can config."
)
CAN_OPTION_OPTION = typer.Option(
    None,
    "--can-option",
    metavar="KEY=VALUE",
    help="Extra python-can argument KEY=VALUE, repeatable: socketcand needs "
    "--can-option host=HOST --can-option port=PORT.",
)
SIM_OPTION = typer.Option(
    None,
    "--sim",
    help="Run against the built-in simulator: a scenario name (healthy-4 ...) or TOML file.",
)
REPLY_TIMEOUT_OPTION = typer.Option(
    None,
    "--reply-timeout",
    min=0.01,
    max=10.0,
    metavar="S",
    help="Seconds a pack may take to start answering on RS485 (default 0.5, learned on "
    "the line): raise it for a slow BMS or gateway.",
)
RECORD_OPTION = typer.Option(
    None,
    "--record",
    metavar="FILE",
    help="Also write what was exchanged, for --replay later: FILE.rs485 records the RS485 "
    "requests and replies, a CAN log (.log, .asc, .blf, .csv, .trc) the CAN frames heard. "
    "Repeatable: one file per bus.",
)
REPLAY_OPTION = typer.Option(
    None,
    "--replay",
    metavar="FILE",
    help="Run on a capture instead of a bus: an .rs485 file (made by --record or "
    "`active log capture`) and/or a CAN log (.log, .asc, .blf, .csv, .trc). "
    "Repeatable: one file per bus. Not with --port/--interface/--sim.",
)


def capture_files(files: list[Path] | None, option: str) -> CaptureFiles:
    """Split ``--record``/``--replay`` files: ``.rs485`` is RS485, anything else CAN."""
    if not files:
        return CaptureFiles()  # the usual case: no log module to load before the first request
    from active_cli.errors import UsageError
    from active_cli.logs.rs485_log import RS485_LOG_SUFFIX

    rs485 = [f for f in files or [] if f.suffix.lower() == RS485_LOG_SUFFIX]
    can_logs = [f for f in files or [] if f.suffix.lower() != RS485_LOG_SUFFIX]
    if len(rs485) > 1 or len(can_logs) > 1:
        raise UsageError(
            f"{option}: give at most one .rs485 file and one CAN log",
            hint=f"{option} stack.rs485 {option} stack.log",
        )
    if option == "--record":
        for path in (*rs485, *can_logs):
            if path.exists():
                # A capture is evidence from a site visit: never written over.
                raise UsageError(
                    f"--record {path}: the file exists, and a recording is never written over",
                    hint=f"give a new name (e.g. {path.stem}-2{path.suffix}), or move the old one",
                )
    return CaptureFiles(rs485[0] if rs485 else None, can_logs[0] if can_logs else None)


def refuse_live_options(connection: Connection, record: CaptureFiles) -> None:
    """``--replay`` reads a capture: a live bus or a recording of the replay is a mistake."""
    from active_cli.errors import UsageError

    live = [
        name
        for name, given in (
            ("--port", connection.port),
            ("--interface", connection.interface),
            ("--channel", connection.channel),
            ("--bitrate", connection.bitrate),
            ("--can-option", connection.can_extra),
            ("--sim", connection.sim),
        )
        if given
    ]
    if live:
        raise UsageError(
            f"--replay runs on a capture, not a bus: leave out {', '.join(live)}",
            hint="record on site with --record FILE, replay anywhere with --replay FILE",
        )
    if record:
        raise UsageError("--record and --replay do not go together: a replay is already a capture")


def check_record_files(record: CaptureFiles, *, rs485: bool, can: bool) -> None:
    """Each ``--record`` file needs its bus to be in use."""
    from active_cli.errors import UsageError

    if record.rs485 is not None and not rs485:
        raise UsageError(
            f"--record {record.rs485}: no RS485 line is polled to record",
            hint="give --port (or --sim), or record the CAN bus to a .log/.asc/.blf file",
        )
    if record.can is not None:
        if not can:
            raise UsageError(
                f"--record {record.can}: no CAN bus is read to record",
                hint="give --interface/--channel (or --sim), or record RS485 to a .rs485 file",
            )
        from active_cli.links.capture import check_can_path

        check_can_path(record.can)


def parse_can_options(texts: list[str] | None) -> tuple[tuple[str, CanOptionValue], ...]:
    """``["host=127.0.0.1", "port=29536"]`` -> ``(("host", "127.0.0.1"), ("port", 29536))``.

    Values that read as integers, floats or true/false become those types,
    because python-can interfaces expect ``port=29536`` as an int; anything
    else stays text.
    """
    from active_cli.errors import UsageError

    out: list[tuple[str, CanOptionValue]] = []
    for text in texts or []:
        key, sep, raw = text.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise UsageError(
                f"--can-option {text!r}: use KEY=VALUE, e.g. --can-option host=127.0.0.1"
            )
        out.append((key, _option_value(raw.strip())))
    return tuple(out)


def _option_value(raw: str) -> CanOptionValue:
    if raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    for kind in (int, float):
        try:
            return kind(raw)
        except ValueError:
            pass
    return raw


def connection_from_options(
    port: str | None = None,
    baud: int | None = None,
    interface: str | None = None,
    channel: str | None = None,
    bitrate: int | None = None,
    sim: str | None = None,
    can_option: list[str] | None = None,
    *,
    reply_timeout: float | None = None,
) -> Connection:
    """The `Connection` the shared options name."""
    return Connection(
        port=port,
        baud=baud,
        interface=interface,
        channel=channel,
        bitrate=bitrate,
        sim=sim,
        can_extra=parse_can_options(can_option),
        reply_timeout_s=reply_timeout,
    )


def print_notes(notes: list[str] | tuple[str, ...]) -> None:
    """Notes for the user (a baud not used, a replay that asked more than it holds), on stderr."""
    if not notes:
        return
    from rich.markup import escape

    from active_cli.cli.output import stderr

    console = stderr()
    for note in notes:
        console.print(f"[yellow]note:[/] {escape(note)}", soft_wrap=True)
