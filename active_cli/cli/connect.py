"""The connection options every command shares, and opening what they name.

``--port URL --baud N`` (pyserial), ``--interface --channel --bitrate``
(python-can, unset = python-can's own config; ``--can-option KEY=VALUE`` for
what one interface needs beyond those, e.g. socketcand's ``host`` and
``port``), ``--sim SCENARIO`` (the in-process simulator). ``--record FILE``
writes what a command exchanged, ``--replay FILE`` runs it on such a capture
instead of a bus (`links.replay`). Commands declare the options with the
``*_OPTION`` objects below so the help text is the same everywhere.
``--baud`` must be at least 1; with ``--sim`` the simulator answers at its
scenario's baud and a different ``--baud`` gets a note on stderr.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    import can

    from active_cli.links.can_link import CanOptions, CanOptionValue
    from active_cli.links.replay import ReplayLink
    from active_cli.links.serial_link import SerialLink
    from active_cli.model import CanObservation
    from active_cli.sim.site import SimulatedSite


class TypedBaud(int):
    """A ``--baud`` the installer typed, told apart from the default 9600.

    The simulator answers at its scenario's baud whatever ``--baud`` says;
    only a typed value is worth a note that it is not used (see `rs485_link`).
    """


def mark_typed_baud(
    ctx: typer.Context, param: typer.CallbackParam, value: int | None
) -> int | None:
    """Typer callback for ``--baud`` options: a typed value becomes a `TypedBaud`."""
    source = ctx.get_parameter_source(param.name or "baud")
    if value is None or source is None or source.name == "DEFAULT":
        return value
    return TypedBaud(value)


PORT_OPTION = typer.Option(
    None,
    "--port",
    "-p",
    help="RS485 port: /dev/ttyUSB0, COM3, socket://HOST:PORT (gateway), or a pty path.",
)
BAUD_OPTION = typer.Option(
    9600,
    "--baud",
    "-b",
    min=1,
    callback=mark_typed_baud,
    help="RS485 baud rate (9600 or 115200). With --sim the scenario's baud is used.",
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


@dataclass(frozen=True)
class Connection:
    """What the installer asked to talk to."""

    port: str | None = None
    baud: int = 9600
    interface: str | None = None
    channel: str | None = None
    bitrate: int | None = None
    sim: str | None = None
    can_extra: tuple[tuple[str, CanOptionValue], ...] = ()

    @property
    def wants_can(self) -> bool:
        return self.interface is not None or self.channel is not None or self.sim is not None

    @property
    def wants_rs485(self) -> bool:
        return self.port is not None or self.sim is not None

    def can_options(self) -> CanOptions:
        from active_cli.links.can_link import CanOptions

        return CanOptions(self.interface, self.channel, self.bitrate, self.can_extra)


@dataclass(frozen=True)
class CaptureFiles:
    """The files of ``--record`` or ``--replay``: at most one per bus, told by suffix."""

    rs485: Path | None = None
    can: Path | None = None

    def __bool__(self) -> bool:
        return self.rs485 is not None or self.can is not None

    def describe(self) -> str:
        return " and ".join(str(p) for p in (self.rs485, self.can) if p is not None)


def capture_files(files: list[Path] | None, option: str) -> CaptureFiles:
    """Split ``--record``/``--replay`` files: ``.rs485`` is RS485, anything else CAN."""
    from active_cli.errors import UsageError
    from active_cli.logs.rs485_log import RS485_LOG_SUFFIX

    rs485 = [f for f in files or [] if f.suffix.lower() == RS485_LOG_SUFFIX]
    can_logs = [f for f in files or [] if f.suffix.lower() != RS485_LOG_SUFFIX]
    if len(rs485) > 1 or len(can_logs) > 1:
        raise UsageError(
            f"{option}: give at most one .rs485 file and one CAN log",
            hint=f"{option} stack.rs485 {option} stack.log",
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


def replay_link(path: Path) -> ReplayLink:
    """A RequestLink answering from an ``.rs485`` capture."""
    from active_cli.links.replay import ReplayLink

    return ReplayLink.from_file(path)


def replay_can(path: Path) -> CanObservation:
    """A CAN log folded the way a live listening window is (the whole log is the window)."""
    from active_cli.discovery import fold_can
    from active_cli.links.replay import read_can_records

    return fold_can(list(read_can_records(path)), 0.0)


def warn_replay_mismatch(link: ReplayLink) -> None:
    """Say so when the replay asked what the capture does not hold (other options)."""
    if not link.unrecorded_requests:
        return
    from rich.markup import escape

    from active_cli.cli.output import stderr

    stderr().print(
        f"[yellow]note:[/] {link.unrecorded_requests} request(s) are not in "
        f"{escape(link.capture.path)} and were taken as unanswered: was it recorded "
        "with other options (e.g. --addresses)?",
        soft_wrap=True,
    )


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


@contextlib.contextmanager
def simulator(connection: Connection) -> Iterator[SimulatedSite | None]:
    """Start the in-process simulator when ``--sim`` was given."""
    if connection.sim is None:
        yield None
        return
    from active_cli.sim.site import SimulatedSite

    with SimulatedSite(connection.sim, pty=False) as site:
        yield site


@contextlib.contextmanager
def rs485_link(
    connection: Connection, site: SimulatedSite | None, *, record: Path | None = None
) -> Iterator[SerialLink]:
    """Open the RS485 link; with `record`, every frame it exchanges goes to that file."""
    from active_cli.links.serial_link import SerialLink

    if site is not None:
        url, baud = site.rs485_url, site.baud
        _note_sim_baud(connection, site.baud)
    else:
        assert connection.port is not None
        url, baud = connection.port, connection.baud
    with SerialLink.open(url, baud=baud) as link:
        if record is None:
            yield link
            return
        from active_cli.links.replay import Rs485Recorder

        where = f"simulator:{connection.sim}" if site is not None else url
        with Rs485Recorder(record, port=where.replace(" ", "_"), baud=baud) as recorder:
            recorder.attach(link)
            yield link


def _note_sim_baud(connection: Connection, site_baud: int) -> None:
    # Warn rather than refuse: the simulated line has one baud, set by its
    # scenario, and answering at it is what the installer wants from --sim.
    if isinstance(connection.baud, TypedBaud) and connection.baud != site_baud:
        from active_cli.cli.output import stderr

        stderr().print(
            f"note: --baud {int(connection.baud)} is not used: the simulator answers at its "
            f"scenario's {site_baud} baud (set baud under [rs485] in a scenario file)",
            soft_wrap=True,
            markup=False,
        )


@contextlib.contextmanager
def can_bus(
    connection: Connection, site: SimulatedSite | None, *, record: Path | None = None
) -> Iterator[can.BusABC]:
    """Open the CAN bus; with `record`, every frame heard on it goes to that log."""
    from active_cli.links.can_link import open_bus

    bus = site.open_can_bus() if site is not None else open_bus(connection.can_options())
    try:
        if record is None:
            yield bus
        else:
            from active_cli.links.replay import CanRecorder

            with CanRecorder(record) as recorder:
                yield recorder.wrap(bus)
    finally:
        bus.shutdown()
