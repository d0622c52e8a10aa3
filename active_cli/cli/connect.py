"""The connection options every command shares, and opening what they name.

``--port URL --baud N`` (pyserial), ``--interface --channel --bitrate``
(python-can, unset = python-can's own config), ``--sim SCENARIO`` (the
in-process simulator). Commands declare the options with the ``*_OPTION``
objects below so the help text is the same everywhere.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    import can

    from active_cli.links.can_link import CanOptions
    from active_cli.links.serial_link import SerialLink
    from active_cli.sim.site import SimulatedSite

PORT_OPTION = typer.Option(
    None,
    "--port",
    "-p",
    help="RS485 port: /dev/ttyUSB0, COM3, socket://HOST:PORT (gateway), or a pty path.",
)
BAUD_OPTION = typer.Option(9600, "--baud", "-b", help="RS485 baud rate (9600 or 115200).")
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
SIM_OPTION = typer.Option(
    None,
    "--sim",
    help="Run against the built-in simulator: a scenario name (healthy-4 ...) or TOML file.",
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

    @property
    def wants_can(self) -> bool:
        return self.interface is not None or self.channel is not None or self.sim is not None

    @property
    def wants_rs485(self) -> bool:
        return self.port is not None or self.sim is not None

    def can_options(self) -> CanOptions:
        from active_cli.links.can_link import CanOptions

        return CanOptions(self.interface, self.channel, self.bitrate)


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
def rs485_link(connection: Connection, site: SimulatedSite | None) -> Iterator[SerialLink]:
    from active_cli.links.serial_link import SerialLink

    if site is not None:
        url, baud = site.rs485_url, site.baud
    else:
        assert connection.port is not None
        url, baud = connection.port, connection.baud
    with SerialLink.open(url, baud=baud) as link:
        yield link


@contextlib.contextmanager
def can_bus(connection: Connection, site: SimulatedSite | None) -> Iterator[can.BusABC]:
    from active_cli.links.can_link import open_bus

    bus = site.open_can_bus() if site is not None else open_bus(connection.can_options())
    try:
        yield bus
    finally:
        bus.shutdown()
