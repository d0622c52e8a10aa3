"""What the connection options name, and opening all of it at once.

Every command that talks to a battery is given a `Connection` (the RS485 port
and baud, the python-can interface, channel, bitrate and extra arguments, or a
simulator scenario) and calls `open_links`, which opens what it names — the
simulated site first, then the RS485 link, then the CAN bus — and closes them
in the reverse order, whatever happens in between. Recording (``--record``)
wraps the link and the bus here too, so every procedure records the same way.

An unset baud is ``None`` until `Connection.resolved_baud` says what it means
(9600, or what an inverter profile asks for); with the simulator the line runs
at the scenario's baud, and a baud the installer did give that differs from it
becomes a note for the user rather than an error.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import can

    from active_cli.links.can_link import CanOptions, CanOptionValue
    from active_cli.links.serial_link import SerialLink
    from active_cli.sim.clock import SimClock
    from active_cli.sim.site import SimulatedSite

# Pylontech RS485 default (the battery's DIP switches select 9600 or 115200).
DEFAULT_BAUD = 9600


@dataclass(frozen=True)
class Connection:
    """What the installer asked to talk to."""

    port: str | None = None
    baud: int | None = None  # None: not given; see resolved_baud
    interface: str | None = None
    channel: str | None = None
    bitrate: int | None = None
    sim: str | None = None
    can_extra: tuple[tuple[str, CanOptionValue], ...] = ()
    # The simulator's power switches at start (None: as the scenario says).
    # `active commission --sim` starts everything off and switches it on.
    sim_packs_on: bool | None = None
    sim_inverter_on: bool | None = None
    # How long a pack may take to start answering (None: the link's 0.5 s,
    # learned down on a fast line, raised by replies that come late).
    reply_timeout_s: float | None = None

    def link_options(self) -> dict[str, float]:
        """What `SerialLink.open` needs beyond the URL and baud."""
        return {} if self.reply_timeout_s is None else {"latency_budget_s": self.reply_timeout_s}

    @property
    def wants_can(self) -> bool:
        return self.interface is not None or self.channel is not None or self.sim is not None

    @property
    def wants_rs485(self) -> bool:
        return self.port is not None or self.sim is not None

    def resolved_baud(self, default: int = DEFAULT_BAUD) -> int:
        return default if self.baud is None else self.baud

    def can_options(self) -> CanOptions:
        from active_cli.links.can_link import CanOptions

        return CanOptions(self.interface, self.channel, self.bitrate, self.can_extra)

    def describe_rs485(self) -> str:
        """Where RS485 goes, in words for a message."""
        if self.sim is not None:
            return f"simulator {self.sim}"
        return f"{self.port} at {self.resolved_baud()} baud"


@dataclass(frozen=True)
class CaptureFiles:
    """The files of ``--record`` or ``--replay``: at most one per bus, told by suffix."""

    rs485: Path | None = None
    can: Path | None = None

    def __bool__(self) -> bool:
        return self.rs485 is not None or self.can is not None

    def describe(self) -> str:
        return " and ".join(str(p) for p in (self.rs485, self.can) if p is not None)


@dataclass
class Links:
    """Everything `open_links` opened; closed when its ``with`` block ends.

    ``notes`` are things the user should hear (printed on stderr by the CLI),
    e.g. that a given baud is not used with the simulator.
    """

    connection: Connection
    rs485: SerialLink | None = None
    can: can.BusABC | None = None
    site: SimulatedSite | None = None
    notes: list[str] = field(default_factory=list)
    rs485_baud: int | None = None

    @contextlib.contextmanager
    def reopen_rs485(self) -> Iterator[SerialLink]:
        """A fresh RS485 link to the same place, for one read (the cable moved meanwhile).

        Moving the cable from pack to pack unplugs nothing on the laptop's
        side, but a USB adapter powered through the pack may re-enumerate, so
        each read opens the port anew.
        """
        from active_cli.links.serial_link import SerialLink

        url = self.site.rs485_url if self.site is not None else self.connection.port
        if url is None:
            raise ValueError("no RS485 port to reopen")  # a caller's bug: checked before
        baud = self.rs485_baud or self.connection.resolved_baud()
        with SerialLink.open(url, baud=baud, **self.connection.link_options()) as link:
            yield link


@contextlib.contextmanager
def open_links(
    connection: Connection,
    *,
    record: CaptureFiles | None = None,
    rs485: bool | None = None,
    can: bool | None = None,
    default_baud: int = DEFAULT_BAUD,
    clock: SimClock | None = None,
) -> Iterator[Links]:
    """Open the simulator, the RS485 link and the CAN bus that `connection` names.

    `rs485` / `can` narrow what is opened (None: whatever the connection
    names); `default_baud` is the baud an unset ``--baud`` means here (an
    inverter profile's). `clock` drives the simulator's physics and switch
    events (tests pass a manual clock).
    """
    record = record or CaptureFiles()
    want_rs485 = connection.wants_rs485 if rs485 is None else rs485 and connection.wants_rs485
    want_can = connection.wants_can if can is None else can and connection.wants_can
    with contextlib.ExitStack() as stack:
        links = Links(connection)
        if connection.sim is not None:
            links.site = stack.enter_context(_site(connection, clock))
        if want_rs485:
            links.rs485 = stack.enter_context(_rs485_link(links, default_baud, record.rs485))
        if want_can:
            links.can = stack.enter_context(_can_bus(links, record.can))
        yield links


def _site(connection: Connection, clock: SimClock | None) -> SimulatedSite:
    from active_cli.sim.site import SimulatedSite

    assert connection.sim is not None
    return SimulatedSite(
        connection.sim,
        pty=False,
        clock=clock,
        packs_on=connection.sim_packs_on,
        inverter_on=connection.sim_inverter_on,
    )


@contextlib.contextmanager
def _rs485_link(links: Links, default_baud: int, record: Path | None) -> Iterator[SerialLink]:
    from active_cli.links.serial_link import SerialLink

    connection, site = links.connection, links.site
    if site is not None:
        url, baud = site.rs485_url, site.baud
        # Noted rather than refused: the simulated line has one baud, set by
        # its scenario, and answering at it is what the installer wants.
        if connection.baud is not None and connection.baud != site.baud:
            links.notes.append(
                f"--baud {connection.baud} is not used: the simulator answers at its "
                f"scenario's {site.baud} baud (set baud under [rs485] in a scenario file)"
            )
    else:
        if connection.port is None:
            raise ValueError("no RS485 port given")  # wants_rs485 was checked
        url, baud = connection.port, connection.resolved_baud(default_baud)
    links.rs485_baud = baud
    with SerialLink.open(url, baud=baud, **connection.link_options()) as link:
        if record is None:
            yield link
            return
        from active_cli.links.replay import Rs485Recorder

        where = f"simulator:{connection.sim}" if site is not None else url
        with Rs485Recorder(record, port=where.replace(" ", "_"), baud=baud) as recorder:
            recorder.attach(link)
            yield link


@contextlib.contextmanager
def _can_bus(links: Links, record: Path | None) -> Iterator[can.BusABC]:
    from active_cli.links.can_link import open_bus

    site = links.site
    bus = site.open_can_bus() if site is not None else open_bus(links.connection.can_options())
    try:
        if record is None:
            yield bus
        else:
            from active_cli.links.replay import CanRecorder

            with CanRecorder(record) as recorder:
                yield recorder.wrap(bus)
    finally:
        bus.shutdown()
