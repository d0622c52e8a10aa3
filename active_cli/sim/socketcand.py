"""A minimal socketcand server on 127.0.0.1, bridging to a python-can bus.

It lets another process join the simulated CAN bus through python-can's
``socketcand`` interface, the way a Raspberry Pi running socketcand would
expose a real bus. Only what python-can's client uses is implemented: the
``< hi >`` greeting, ``< open CH >``, ``< rawmode >``, frames to the client as
``< frame ID SECONDS.USECS HEXDATA >`` and ``< send ID LEN B0 B1 ... >`` from it.
It never sends the UDP discovery beacon and binds to loopback only.
"""

from __future__ import annotations

import logging
import re
import socket
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from active_cli.sim.loopback import LoopbackServer

if TYPE_CHECKING:
    import can

log = logging.getLogger(__name__)

BusFactory = Callable[[], "can.BusABC"]

_COMMAND = re.compile(r"<\s*([^<>]*?)\s*>")
# How long after "< ok >" to rawmode the first frame waits (see `_serve`).
_RAW_MODE_SETTLE_S = 0.1


def frame_to_ascii(message: can.Message) -> str:
    """``< frame 356 1700000000.123456 7A13F2FE6B01 >`` (socketcand raw mode)."""
    width = 8 if message.is_extended_id else 3
    seconds = message.timestamp or time.time()
    if message.is_error_frame:
        return f"< error {message.arbitration_id:0{width}X} {seconds:.6f} 00 >"
    data = bytes(message.data).hex().upper()
    return f"< frame {message.arbitration_id:0{width}X} {seconds:.6f} {data} >"


def parse_send(command: str) -> tuple[int, bool, bytes] | None:
    """``send 305 8 0 0 0 0 0 0 0 0`` -> (0x305, extended?, data); None if malformed."""
    parts = command.split()
    if len(parts) < 3 or parts[0] != "send":
        return None
    try:
        arbitration_id = int(parts[1], 16)
        length = int(parts[2], 16)
        data = bytes(int(b, 16) for b in parts[3 : 3 + length])
    except ValueError:
        return None
    if len(data) != length or length > 8:
        return None
    return arbitration_id, len(parts[1]) > 3, data


class SocketcandServer:
    """Accept socketcand clients on 127.0.0.1 and bridge each to its own bus handle."""

    def __init__(self, bus_factory: BusFactory, channel: str, port: int = 0) -> None:
        self._bus_factory = bus_factory
        self.channel = channel
        self._stop = threading.Event()
        self._server = LoopbackServer(
            port,
            option="--socketcand-port",
            name="sim-socketcand",
            serve=self._serve,
            stop=self._stop,
        )
        self.host = "127.0.0.1"
        self.port = self._server.port

    def start(self) -> None:
        self._server.start()

    def close(self) -> None:
        self._stop.set()
        self._server.close()

    def _serve(self, conn: socket.socket) -> None:

        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn.settimeout(0.05)
        bus: can.BusABC | None = None
        buffer = ""
        raw_mode = False
        forward_from = 0.0
        try:
            conn.sendall(b"< hi >")
            while not self._stop.is_set():
                if bus is not None and raw_mode and time.monotonic() >= forward_from:
                    message = bus.recv(timeout=0.0)
                    while message is not None:
                        conn.sendall(frame_to_ascii(message).encode("ascii"))
                        message = bus.recv(timeout=0.0)
                try:
                    chunk = conn.recv(4096)
                except TimeoutError:
                    continue
                if not chunk:
                    return
                buffer += chunk.decode("ascii", errors="replace")
                while (match := _COMMAND.search(buffer)) is not None:
                    buffer = buffer[match.end() :]
                    was_raw = raw_mode
                    reply, bus, raw_mode = self._command(match.group(1), bus, raw_mode)
                    if reply:
                        conn.sendall(reply.encode("ascii"))
                    if raw_mode and not was_raw and bus is not None:
                        # python-can's client reads its "< ok >" with one recv() and
                        # compares it exactly: a frame in the same read breaks its
                        # handshake. So frames queued before raw mode are dropped,
                        # and the first ones wait a moment after the "< ok >".
                        while bus.recv(timeout=0.0) is not None:
                            pass
                        forward_from = time.monotonic() + _RAW_MODE_SETTLE_S
                if len(buffer) > 4096:
                    buffer = ""
        except OSError:
            return
        finally:
            conn.close()
            if bus is not None:
                bus.shutdown()

    def _command(
        self, command: str, bus: can.BusABC | None, raw_mode: bool
    ) -> tuple[str, can.BusABC | None, bool]:
        import can

        words = command.split()
        if not words:
            return "< error empty command >", bus, raw_mode
        if words[0] == "open":
            if len(words) != 2 or words[1] != self.channel:
                return f"< error unknown channel, this server has {self.channel} >", bus, raw_mode
            if bus is None:
                bus = self._bus_factory()
            return "< ok >", bus, raw_mode
        if words[0] == "rawmode":
            if bus is None:
                return "< error open a channel first >", bus, raw_mode
            return "< ok >", bus, True
        if words[0] == "send":
            parsed = parse_send(command)
            if bus is None or parsed is None:
                return "< error bad send >", bus, raw_mode
            arbitration_id, extended, data = parsed
            bus.send(can.Message(arbitration_id=arbitration_id, is_extended_id=extended, data=data))
            return "", bus, raw_mode
        if words[0] == "echo":
            return "< echo >", bus, raw_mode
        return f"< error unknown command {words[0]} >", bus, raw_mode
