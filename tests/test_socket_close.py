"""Closing a ``socket://`` RS485 link is immediate.

pyserial's socket port sleeps 0.3 s in close() "in case of quick reconnects";
every command that used a gateway paid it at exit. The link shuts the TCP
connection down itself, so the far end sees it closed, at once.
"""

from __future__ import annotations

import time

from active_cli.links.serial_link import SerialLink
from active_cli.protocols.pylon_rs485 import Command
from active_cli.sim.site import SimulatedSite


def test_a_socket_link_closes_without_pyserials_sleep() -> None:
    with SimulatedSite("healthy-1", with_can=False) as site:
        link = SerialLink.open(site.rs485_url, baud=site.baud)
        link.query(Command.SERIAL_NUMBER, 1)  # the connection is in use
        started = time.monotonic()
        link.close()
        assert time.monotonic() - started < 0.15
        # And it is closed for real: a new client is served at once.
        with SerialLink.open(site.rs485_url, baud=site.baud) as again:
            again.query(Command.SERIAL_NUMBER, 1)
