"""The simulated master pack on CAN, and an inverter that answers it.

`battery_frames` (pure) turns the stack's CAN view into one broadcast cycle of
the scenario's profile: "pylon-v1.2" (0x351 0x355 0x356 0x359 0x35C 0x35E) or
"pylon-v1.3" (0x359/0x35C replaced by 0x35A/0x35F, as newer Pylontech
firmware does), optionally padded to DLC 8. Every frame is encoded by
cantools through `protocols.pylon_can`.

`BatteryNode` sends that cycle about once a second on any python-can bus.
`InverterNode` sends the 0x305 keep-alive and reacts to what the battery asks:
it stops charging when charge-enable drops, stops discharging when
discharge-enable drops, charges when a force-charge flag is raised, and keeps
the current inside CCL/DCL (a compliant inverter).

Both follow the site's power switches: the battery's set goes out only while
the master pack is on (`SimStack.master_on`), and the inverter sends and obeys
only while ``InverterNode.powered``. Switching either on wakes its node, so the
first frames follow at once instead of up to a period later.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from active_cli.model import CanStackState
from active_cli.protocols import pylon_can
from active_cli.protocols.pylon_can import (
    AlarmsV13,
    BatteryInfo,
    Limits,
    Manufacturer,
    Measurements,
    Protection,
    Requests,
    SocSoh,
)
from active_cli.sim.line_faults import UNTERMINATED_ERROR_CLASS, unterminated_cycle
from active_cli.sim.stack import SimStack

if TYPE_CHECKING:
    import can

log = logging.getLogger(__name__)

BROADCAST_PERIOD_S = 1.0  # Pylon LV CAN: the master sends its set once a second

# 0x359 names -> 0x35A items (V1.3 carries the same conditions as alarm/warning pairs).
_V13_PROTECTION = {
    "over_voltage": "high_voltage",
    "under_voltage": "low_voltage",
    "cell_over_temperature": "high_temperature",
    "cell_under_temperature": "low_temperature",
    "discharge_over_current": "high_discharge_current",
    "charge_over_current": "high_charge_current",
    "system_error": "bms_internal",
}
_V13_WARNING = {
    "high_voltage": "high_voltage",
    "low_voltage": "low_voltage",
    "high_temperature": "high_temperature",
    "low_temperature": "low_temperature",
    "discharge_high_current": "high_discharge_current",
    "charge_high_current": "high_charge_current",
    "internal_communication_fail": "bms_internal",
    "cell_imbalance": "cell_imbalance",
}
_V12_ALARMS = frozenset(
    {
        "high_voltage",
        "low_voltage",
        "high_temperature",
        "low_temperature",
        "discharge_high_current",
        "charge_high_current",
        "internal_communication_fail",
    }
)


# A battery repeats most messages unchanged every cycle (limits, flags, name):
# encode each message value once (cantools costs ~20 us a message).
_encode = functools.lru_cache(maxsize=1024)(pylon_can.encode_message)


def battery_frames(state: CanStackState, *, pad_to_8: bool = False) -> list[tuple[int, bytes]]:
    """One broadcast cycle for `state.protocol`, as (id, data) pairs."""
    assert state.limits is not None and state.request is not None
    assert state.voltage_v is not None and state.current_a is not None
    messages: list[pylon_can.CanMessage] = [
        Limits(state.limits),
        SocSoh(
            state.soc_pct or 0.0,
            state.soh_pct or 0.0,
            0.0 if state.protocol == pylon_can.PROTOCOL_V13 else None,
        ),
        Measurements(
            state.voltage_v,
            state.current_a,
            state.temp_c or 0.0,
            voltage_scale="0.1 V" if state.voltage_scale == "0.1 V" else "0.01 V",
        ),
    ]
    if state.protocol == pylon_can.PROTOCOL_V13:
        messages.append(
            AlarmsV13(
                alarms=tuple(_V13_PROTECTION[p] for p in state.protections),
                warnings=tuple(_V13_WARNING[a] for a in state.alarms if a in _V13_WARNING),
            )
        )
        major, minor = _firmware_pair(state.firmware)
        messages.append(Manufacturer((state.manufacturer or "PYLON")[:8]))
        messages.append(BatteryInfo("LI", major, minor, state.capacity_ah or 0.0))
    else:
        messages.append(
            Protection(
                protections=state.protections,
                alarms=tuple(a for a in state.alarms if a in _V12_ALARMS),
                module_count=state.module_count or 1,
            )
        )
        messages.append(Requests(state.request))
        messages.append(Manufacturer((state.manufacturer or "PYLON")[:8]))
    return [_encode(m, pad_to_8=pad_to_8) for m in messages]


def _firmware_pair(firmware: str | None) -> tuple[int, int]:
    digits = [int(p) for p in (firmware or "").lstrip("Vv").split(".") if p.isdigit()]
    digits += [0, 0]
    return min(digits[0], 255), min(digits[1], 255)


class _Periodic:
    """A daemon thread calling `tick` every `period_s` until closed.

    ``ticks`` counts the cycles run (sending or not), so a test can tell that a
    cycle has passed in which nothing was sent. `wake` runs the next cycle now
    and restarts the cadence from there.
    """

    def __init__(self, name: str, period_s: float) -> None:
        self.period_s = period_s
        self.errors: list[str] = []
        self.ticks = 0
        self._stop = threading.Event()
        self._nudge = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        self._nudge.set()

    def close(self) -> None:
        self._stop.set()
        self._nudge.set()
        if self._thread.is_alive():  # never started when the site failed to start
            self._thread.join(timeout=2.0)

    def _run(self) -> None:
        next_at = time.monotonic()
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception as e:  # the simulated site must outlive one bad cycle ...
                log.exception("%s: tick failed", self._thread.name)
                self.errors.append(f"{self._thread.name}: {e!r}")  # ... but not hide it
            self.ticks += 1
            next_at += self.period_s
            if self._nudge.wait(max(0.0, next_at - time.monotonic())):
                self._nudge.clear()
                next_at = time.monotonic()

    def tick(self) -> None:
        raise NotImplementedError


class BatteryNode(_Periodic):
    """The master pack's CAN broadcast."""

    def __init__(
        self,
        stack: SimStack,
        bus: can.BusABC,
        *,
        lock: threading.Lock | threading.RLock,
        sync: Callable[[], None],
        period_s: float = BROADCAST_PERIOD_S,
    ) -> None:
        super().__init__("sim-can-battery", period_s)
        self._stack = stack
        self._bus = bus
        self._lock = lock
        self._sync = sync
        self.cycles_sent = 0

    def tick(self) -> None:
        import can

        # Drop what the inverter sent: the master's own handling of 0x305 is not
        # simulated, and an unread virtual-bus queue would grow for ever.
        while self._bus.recv(timeout=0.0) is not None:
            pass
        scenario = self._stack.scenario
        with self._lock:
            # Every cycle syncs, on or off: that is when switches scheduled on
            # the site's clock take effect between RS485 requests.
            self._sync()
            if not self._stack.master_on:
                return  # the master is off: nobody speaks for the stack
            if scenario.faults.wrong_bitrate:
                frames = []
            else:
                frames = battery_frames(self._stack.can_state(), pad_to_8=scenario.can_pad_to_8)
        if scenario.faults.wrong_bitrate:
            # At the wrong bitrate a listener's controller sees bit errors, never
            # a frame: that is what an error frame stands for on a python-can bus.
            self._bus.send(can.Message(is_error_frame=True, arbitration_id=0, data=b""))
            return
        cycle: list[tuple[int, bytes] | None] = list(frames)
        if scenario.faults.can_termination_missing:
            cycle = unterminated_cycle(frames, self._stack.line_rng)
        for frame in cycle:
            if frame is None:  # lost to reflections: the controller reports an error frame
                error = can.Message(is_error_frame=True, arbitration_id=UNTERMINATED_ERROR_CLASS)
                self._bus.send(error)
                continue
            arbitration_id, data = frame
            self._bus.send(
                can.Message(arbitration_id=arbitration_id, data=data, is_extended_id=False)
            )
        self.cycles_sent += 1


class InverterNode(_Periodic):
    """A Pylon-protocol inverter: 0x305 keep-alive and obedience to the battery's flags.

    While ``powered`` is False it neither sends nor obeys (what it hears is
    dropped). The site owns the switch and sets it under its lock.
    """

    def __init__(
        self,
        stack: SimStack,
        bus: can.BusABC,
        *,
        lock: threading.Lock | threading.RLock,
        sync: Callable[[], None],
        powered: bool = True,
    ) -> None:
        scenario = stack.scenario
        super().__init__("sim-can-inverter", scenario.heartbeat_period_s)
        self.powered = powered
        self._stack = stack
        self._bus = bus
        self._lock = lock
        self._sync = sync
        # What the site asks of the stack: the scenario's pack currents (the
        # packs' own demand may be zero while the inverter is still off).
        self._demand_a = sum(p.spec.current_a for p in stack.packs)
        self.heartbeats_sent = 0
        self.last_state: CanStackState | None = None

    def tick(self) -> None:
        import can

        builder = pylon_can.CanStateBuilder()
        while (message := self._bus.recv(timeout=0.0)) is not None:
            if not message.is_error_frame:
                builder.feed(message.arbitration_id, bytes(message.data))
        if not self.powered:
            return
        state = builder.state()
        if state is not None:
            self.last_state = state
            self._obey(state)
        scenario = self._stack.scenario
        if scenario.faults.silent_inverter or scenario.faults.wrong_bitrate:
            return
        self._bus.send(
            can.Message(arbitration_id=pylon_can.HEARTBEAT_ID, data=bytes(8), is_extended_id=False)
        )
        self.heartbeats_sent += 1

    def _obey(self, state: CanStackState) -> None:
        if not self._stack.scenario.inverter_follows_limits:
            return
        demand = self._demand_a
        flags, limits = state.request, state.limits
        if flags is not None:
            if flags.force_charge_1 or flags.force_charge_2:
                demand = max(demand, 0.1 * (limits.charge_current_a if limits else 0.0))
            if not flags.charge_enable:
                demand = min(demand, 0.0)
            if not flags.discharge_enable:
                demand = max(demand, 0.0)
        if limits is not None:
            demand = min(demand, limits.charge_current_a)
            demand = max(demand, -abs(limits.discharge_current_a))
        with self._lock:
            self._sync()
            self._stack.set_current(demand)
