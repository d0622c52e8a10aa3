"""A simulated inverter that reads the battery over RS485, as the line's master.

On a running system that reads the battery over RS485 the inverter polls and
the packs answer; nobody else may talk. This node does what such an inverter
does: once switched on it asks the master pack for the protocol version
(0x4F) and the manufacturer (0x51), then cycles for ever through analog values
(0x42) and alarms (0x44) of every pack, then the master's system parameters
(0x47) and charge/discharge management (0x92), one request every
``rs485_poll_period_s`` (scenario ``[inverter]``). It counts the replies that
decoded ("accepted") and the consecutive run of them, which is what an
inverter's "BMS present" logic rests on.

It follows the inverter's power switch (`SimulatedSite.inverter_is_on`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator

from active_cli.errors import DecodeError
from active_cli.protocols import pylon_rs485 as rs
from active_cli.protocols.pylon_rs485 import Command

log = logging.getLogger(__name__)

Exchange = Callable[[bytes], bytes]


def poll_cycle(addresses: tuple[int, ...], ver: int = rs.VER_PYLON) -> Iterator[bytes]:
    """The requests of the inverter, in order, for ever (the identification first)."""
    master = addresses[0]
    yield rs.build_request(Command.PROTOCOL_VERSION, master, ver=ver)
    yield rs.build_request(Command.MANUFACTURER_INFO, master, ver=ver)
    while True:
        for adr in addresses:
            yield rs.build_request(Command.ANALOG, adr, ver=ver)
            yield rs.build_request(Command.ALARM, adr, ver=ver)
        yield rs.build_request(Command.SYSTEM_PARAMETERS, master, ver=ver)
        yield rs.build_request(Command.MANAGEMENT, master, ver=ver)


class Rs485Master:
    """A thread polling the stack through `exchange` every `period_s` while `powered()`."""

    def __init__(
        self,
        exchange: Exchange,
        addresses: tuple[int, ...],
        *,
        period_s: float,
        powered: Callable[[], bool],
        ver: int = rs.VER_PYLON,
    ) -> None:
        self._exchange = exchange
        self._requests = poll_cycle(addresses, ver)
        self._period_s = period_s
        self._powered = powered
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sim-rs485-master", daemon=True)
        self.errors: list[str] = []
        self.requests_sent = 0
        self.replies_accepted = 0
        self.consecutive_accepted = 0

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2.0)

    def _run(self) -> None:
        while not self._stop.wait(self._period_s):
            try:
                if self._powered():
                    self._poll_once()
            except Exception as e:  # the site must outlive a bad poll, and show it
                log.exception("rs485 master: poll failed")
                self.errors.append(f"sim-rs485-master: {e!r}")

    def _poll_once(self) -> None:
        request = next(self._requests)
        reply = self._exchange(request)
        self.requests_sent += 1
        try:
            frame = rs.decode_frame(reply)
            rs.check_rtn(frame)
        except DecodeError:
            self.consecutive_accepted = 0
            return
        self.replies_accepted += 1
        self.consecutive_accepted += 1
