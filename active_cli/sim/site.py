"""A whole simulated site in one object: packs, RS485 line, CAN bus, inverter.

``with SimulatedSite(scenario) as site:`` starts everything in-process and
tells where to connect: ``site.rs485_pty`` (a pty path, POSIX only),
``site.rs485_url`` (``socket://127.0.0.1:PORT``), ``site.can_channel`` (a
python-can ``virtual`` channel) and, when asked for, a socketcand server for
other processes. `active sim` runs the same object until Ctrl-C; ``--sim`` on
the other commands uses it in-process. Everything binds to 127.0.0.1.

One lock guards the stack; physics advances lazily to wall-clock time
whenever someone looks (a request, a CAN cycle), so an idle site costs nothing.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING

from active_cli.sim.can_node import BatteryNode, InverterNode
from active_cli.sim.responder import Rs485Responder
from active_cli.sim.rs485_server import LineTiming, Rs485Server
from active_cli.sim.scenario import Scenario, load_scenario
from active_cli.sim.socketcand import SocketcandServer
from active_cli.sim.stack import SimStack

if TYPE_CHECKING:
    import can

_SITE_NUMBERS = itertools.count(1)


@dataclass(frozen=True)
class Endpoints:
    """Where a client connects (what `active sim --json` prints first)."""

    rs485_pty: str | None
    rs485_url: str
    socketcand_host: str | None
    socketcand_port: int | None
    can_channel: str
    baud: int
    can_bitrate: int


class SimulatedSite:
    """Start with `start()` or a `with` block; stop with `close()`."""

    def __init__(
        self,
        scenario: Scenario | str,
        *,
        baud: int | None = None,
        latency_ms: float | None = None,
        tcp_port: int = 0,
        pty: bool = True,
        socketcand_port: int | None = None,
        with_can: bool = True,
    ) -> None:
        self.scenario = load_scenario(scenario) if isinstance(scenario, str) else scenario
        self.stack = SimStack.from_scenario(self.scenario)
        self.lock = threading.Lock()
        self._last_sync = time.monotonic()
        self.baud = baud or self.scenario.baud
        latency_s = (self.scenario.latency_ms if latency_ms is None else latency_ms) / 1000.0
        self.responder = Rs485Responder(self.stack, lock=self.lock, sync=self.sync)
        self.rs485 = Rs485Server(
            self.responder, LineTiming(self.baud, latency_s), tcp_port=tcp_port, pty=pty
        )
        self.can_channel = f"active-sim-{os.getpid()}-{next(_SITE_NUMBERS)}"
        self._with_can = with_can
        self._socketcand_port = socketcand_port
        self.socketcand: SocketcandServer | None = None
        self.battery: BatteryNode | None = None
        self.inverter: InverterNode | None = None
        self._buses: list[can.BusABC] = []
        self._started = False

    # --- life cycle ---------------------------------------------------------------
    def start(self) -> SimulatedSite:
        if self._started:
            return self
        self._started = True
        started = False
        try:
            self._start_nodes()
            started = True
        finally:
            if not started:
                # A busy socketcand port must not leave the line and CAN threads running.
                self.close()
        return self

    def _start_nodes(self) -> None:
        self.rs485.start()
        if self._with_can:
            self.battery = BatteryNode(
                self.stack, self._virtual_bus(), lock=self.lock, sync=self.sync
            )
            if self.scenario.inverter_present:
                self.inverter = InverterNode(
                    self.stack, self._virtual_bus(), lock=self.lock, sync=self.sync
                )
                self.inverter.start()
            self.battery.start()
            if self._socketcand_port is not None:
                self.socketcand = SocketcandServer(
                    self.open_can_bus, "can0", port=self._socketcand_port
                )
                self.socketcand.start()

    def close(self) -> None:
        for node in (self.battery, self.inverter):
            if node is not None:
                node.close()
        if self.socketcand is not None:
            self.socketcand.close()
        self.rs485.close()
        for bus in self._buses:
            bus.shutdown()
        self._buses.clear()

    def __enter__(self) -> SimulatedSite:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def internal_errors(self) -> list[str]:
        """Simulator bugs caught by its threads (they keep the site running; tests assert none)."""
        nodes = [n for n in (self.battery, self.inverter) if n is not None]
        return [*self.rs485.errors, *(e for n in nodes for e in n.errors)]

    # --- physics --------------------------------------------------------------------
    def sync(self) -> None:
        """Advance the stack to now. Call with `lock` held."""
        now = time.monotonic()
        dt = now - self._last_sync
        if dt > 0:
            self.stack.advance(dt)
            self._last_sync = now

    # --- where to connect -------------------------------------------------------------
    @property
    def rs485_pty(self) -> str | None:
        return None if self.rs485.pty is None else self.rs485.pty.path

    @property
    def rs485_url(self) -> str:
        return self.rs485.tcp.url

    @property
    def endpoints(self) -> Endpoints:
        return Endpoints(
            rs485_pty=self.rs485_pty,
            rs485_url=self.rs485_url,
            socketcand_host=None if self.socketcand is None else self.socketcand.host,
            socketcand_port=None if self.socketcand is None else self.socketcand.port,
            can_channel=self.socketcand.channel if self.socketcand else self.can_channel,
            baud=self.baud,
            can_bitrate=self.scenario.can_bitrate,
        )

    def open_can_bus(self) -> can.BusABC:
        """A new in-process handle on the simulated CAN bus (caller shuts it down)."""
        import can

        return can.Bus(interface="virtual", channel=self.can_channel, receive_own_messages=False)

    def _virtual_bus(self) -> can.BusABC:
        bus = self.open_can_bus()
        self._buses.append(bus)
        return bus
