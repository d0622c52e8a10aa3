"""A whole simulated site in one object: packs, RS485 line, CAN bus, inverter.

``with SimulatedSite(scenario) as site:`` starts everything in-process and
tells where to connect: ``site.rs485_pty`` (a pty path, POSIX only),
``site.rs485_url`` (``socket://127.0.0.1:PORT``), ``site.can_channel`` (a
python-can ``virtual`` channel) and, when asked for, a socketcand server for
other processes and a listen-only RS485 tap (``site.rs485_tap_url``).
`active sim` runs the same object until Ctrl-C; ``--sim`` on the other
commands uses it in-process. Everything binds to 127.0.0.1.

One lock guards the stack; physics advances lazily to the site's clock
whenever someone looks (a request, a CAN cycle), so an idle site costs nothing.

Power: every pack and the inverter has a switch (`switch_on_pack`,
`switch_off_pack`, `switch_on_inverter`, `switch_off_inverter`). They start as
the scenario's ``[power]`` table says (all on by default), unless the caller
overrides it (``packs_on=False`` for a commissioning rehearsal). A switch can
be thrown later with ``after_s``: it is then due on the site's clock and takes
effect at the first sync after that time, with the physics advanced up to the
moment it fired. The clock is real time unless a `ManualClock` is passed in,
with which a test lets minutes pass in no time (see `sim/clock.py`).
"""

from __future__ import annotations

import heapq
import itertools
import math
import os
import threading
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING

from active_cli.sim.can_node import BatteryNode, InverterNode
from active_cli.sim.clock import MonotonicClock, SimClock
from active_cli.sim.line_faults import LineCounts, LineModel
from active_cli.sim.responder import Rs485Responder
from active_cli.sim.rs485_master import Rs485Master
from active_cli.sim.rs485_server import LineTiming, Rs485Server
from active_cli.sim.scenario import Scenario, load_scenario
from active_cli.sim.socketcand import SocketcandServer
from active_cli.sim.stack import SimStack

if TYPE_CHECKING:
    import can

_SITE_NUMBERS = itertools.count(1)
_INVERTER = 0  # the switch number of the inverter; packs are 1..16 (their position)


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
    rs485_tap_url: str | None = None  # hears the whole line; None unless asked for


@dataclass(frozen=True, order=True)
class _Switch:
    """A switch thrown later: due on the site's clock, fired by `sync`."""

    due_s: float
    order: int  # two switches due at once fire in the order they were asked for
    target: int = field(compare=False)  # _INVERTER, or a pack's position
    on: bool = field(compare=False)


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
        tap_port: int | None = None,
        clock: SimClock | None = None,
        packs_on: bool | None = None,
        inverter_on: bool | None = None,
    ) -> None:
        self.scenario = load_scenario(scenario) if isinstance(scenario, str) else scenario
        self.stack = SimStack.from_scenario(self.scenario)
        # Reentrant: the power calls take it too, and a caller may already hold it.
        self.lock = threading.RLock()
        self.clock: SimClock = clock if clock is not None else MonotonicClock()
        self._last_sync = self.clock.now()
        self._pending: list[_Switch] = []  # a heap, soonest first
        self._orders = itertools.count()
        for pack in self.stack.packs:
            pack.powered = self.scenario.packs_start_on if packs_on is None else packs_on
        self._inverter_on = self.scenario.inverter_start_on if inverter_on is None else inverter_on
        if not self._inverter_on:
            self._set_load(on=False)
        self.baud = baud or self.scenario.baud
        latency_s = (self.scenario.latency_ms if latency_ms is None else latency_ms) / 1000.0
        self.responder = Rs485Responder(self.stack, lock=self.lock, sync=self.sync)
        self.rs485 = Rs485Server(
            self.responder,
            LineTiming(self.baud, latency_s),
            tcp_port=tcp_port,
            pty=pty,
            tap_port=tap_port,
            model=LineModel(self.scenario.faults.line, self.baud, self.stack.line_rng),
        )
        self.rs485_master: Rs485Master | None = None
        if self.scenario.inverter_present and self.scenario.inverter_polls_rs485:
            self.rs485_master = Rs485Master(
                self.rs485.exchange,
                tuple(p.address for p in self.stack.packs),
                period_s=self.scenario.rs485_poll_period_s,
                powered=lambda: self._inverter_on,
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
        if self.rs485_master is not None:
            self.rs485_master.start()
        if self._with_can:
            self.battery = BatteryNode(
                self.stack, self._virtual_bus(), lock=self.lock, sync=self.sync
            )
            if self.scenario.inverter_present:
                self.inverter = InverterNode(
                    self.stack,
                    self._virtual_bus(),
                    lock=self.lock,
                    sync=self.sync,
                    powered=self._inverter_on,
                )
                self.inverter.start()
            self.battery.start()
            if self._socketcand_port is not None:
                self.socketcand = SocketcandServer(
                    self.open_can_bus, "can0", port=self._socketcand_port
                )
                self.socketcand.start()

    def close(self) -> None:
        if self.rs485_master is not None:
            self.rs485_master.close()
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
        master = self.rs485_master.errors if self.rs485_master is not None else []
        return [*self.rs485.errors, *master, *(e for n in nodes for e in n.errors)]

    # --- physics --------------------------------------------------------------------
    def sync(self) -> None:
        """Advance the stack to now, firing the switches due on the way. Call with `lock` held."""
        now = self.clock.now()
        while self._pending and self._pending[0].due_s <= now:
            switch = heapq.heappop(self._pending)
            self._advance_to(switch.due_s)
            self._throw(switch.target, on=switch.on)
        self._advance_to(now)

    def _advance_to(self, t_s: float) -> None:
        dt = t_s - self._last_sync
        if dt > 0:
            self.stack.advance(dt)
            self._last_sync = t_s

    # --- power ------------------------------------------------------------------------
    @property
    def pack_count(self) -> int:
        """How many packs the scenario has, on or off (positions are 1..pack_count)."""
        return len(self.stack.packs)

    def pack_is_on(self, position: int) -> bool:
        """Whether the pack at `position` (1-based, scenario order) is switched on now."""
        index = self._pack_index(position)
        with self.lock:
            self.sync()
            return self.stack.packs[index].powered

    @property
    def inverter_is_on(self) -> bool:
        """Whether the inverter is switched on now (always False with no inverter present)."""
        with self.lock:
            self.sync()
            return self.scenario.inverter_present and self._inverter_on

    def switch_on_pack(self, position: int, *, after_s: float = 0.0) -> None:
        """Switch the pack at `position` on, now or `after_s` seconds on the site's clock.

        A pack already on stays on. With the master, the CAN set starts.
        """
        self._pack_index(position)
        self._schedule(position, on=True, after_s=after_s)

    def switch_off_pack(self, position: int) -> None:
        """Switch the pack at `position` off now; a pending switch-on of it is dropped."""
        self._pack_index(position)
        self._schedule(position, on=False, after_s=0.0)

    def switch_on_inverter(self, *, after_s: float = 0.0) -> None:
        """Switch the inverter on, now or `after_s` seconds on: its 0x305 and its load start.

        With no inverter in the scenario there is nothing to switch (no effect).
        """
        self._schedule(_INVERTER, on=True, after_s=after_s)

    def switch_off_inverter(self) -> None:
        """Switch the inverter off now (silent, no load); a pending switch-on is dropped."""
        self._schedule(_INVERTER, on=False, after_s=0.0)

    def _pack_index(self, position: int) -> int:
        if not 1 <= position <= len(self.stack.packs):
            raise ValueError(f"no pack at position {position}: the packs are 1..{self.pack_count}")
        return position - 1

    def _schedule(self, target: int, *, on: bool, after_s: float) -> None:
        if not math.isfinite(after_s) or after_s < 0:
            raise ValueError(f"after_s must be 0 or more seconds, not {after_s}")
        with self.lock:
            self.sync()
            if not on:
                # Switching off is what the installer does now: a switch-on asked
                # for earlier must not undo it later.
                self._pending = [s for s in self._pending if s.target != target]
                heapq.heapify(self._pending)
            if after_s == 0:
                self._throw(target, on=on)
            else:
                due = self.clock.now() + after_s
                heapq.heappush(self._pending, _Switch(due, next(self._orders), target, on))

    def _throw(self, target: int, *, on: bool) -> None:
        """Set one switch (lock held). Waking a node makes its first frames go out now."""
        if target == _INVERTER:
            if self._inverter_on == on:
                return
            self._inverter_on = on
            self._set_load(on=on)
            if self.inverter is not None:
                self.inverter.powered = on
                if on:
                    self.inverter.wake()
            return
        pack = self.stack.packs[target - 1]
        if pack.powered == on:
            return
        pack.powered = on
        if on and pack is self.stack.master and self.battery is not None:
            self.battery.wake()

    def _set_load(self, *, on: bool) -> None:
        """An inverter that is off neither charges nor draws; on, it asks what the scenario does.

        Only with an inverter in the scenario: without one, the scenario's
        currents stand for some other charger or load, which no switch here controls.
        """
        if not self.scenario.inverter_present:
            return
        for pack in self.stack.packs:
            pack.demand_a = pack.spec.current_a if on else 0.0

    # --- where to connect -------------------------------------------------------------
    @property
    def rs485_pty(self) -> str | None:
        return None if self.rs485.pty is None else self.rs485.pty.path

    @property
    def rs485_url(self) -> str:
        return self.rs485.tcp.url

    @property
    def line_counts(self) -> LineCounts:
        """Bytes each side put on the RS485 line (clients, master, stack, taps)."""
        return self.rs485.model.counts

    def set_adapter_baud(self, baud: int) -> None:
        """What the client's adapter is set to (a TCP client cannot tell the line itself).

        Only the ``wrong-baud`` fault listens to it: the packs hear a request
        sent at another rate than theirs as garbage.
        """
        self.rs485.model.adapter_baud = baud

    @property
    def rs485_tap_url(self) -> str | None:
        """``socket://127.0.0.1:PORT`` of the listen-only tap (None without ``tap_port``)."""
        return None if self.rs485.tap is None else self.rs485.tap.url

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
            rs485_tap_url=self.rs485_tap_url,
        )

    def open_can_bus(self) -> can.BusABC:
        """A new in-process handle on the simulated CAN bus (caller shuts it down)."""
        import can

        return can.Bus(interface="virtual", channel=self.can_channel, receive_own_messages=False)

    def _virtual_bus(self) -> can.BusABC:
        bus = self.open_can_bus()
        self._buses.append(bus)
        return bus
