"""The connection options every command shares, and opening what they name.

``--port URL --baud N`` (pyserial), ``--interface --channel --bitrate``
(python-can, unset = python-can's own config; ``--can-option KEY=VALUE`` for
what one interface needs beyond those, e.g. socketcand's ``host`` and
``port``), ``--sim SCENARIO`` (the in-process simulator). Commands declare the
options with the ``*_OPTION`` objects below so the help text is the same
everywhere.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    import can

    from active_cli.links.can_link import CanOptions, CanOptionValue
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
