"""What `active monitor` keeps between refreshes: latest values, extremes, staleness.

Pure: readings and CAN states go in with the time they were taken, a frozen
`MonitorView` comes out. Values older than their staleness limit are marked
stale, so the screen never shows an old reading as if it were live.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from active_cli import spec
from active_cli.model import CanStackState, PackReading

# CAN: the battery sends every second; five silent seconds is a lost link
# (reference/inverters.md heuristic), and so is a heartbeat that old.
CAN_STALE_S = 5.0
HEARTBEAT_LOST_S = 5.0


@dataclass
class Extreme:
    low: float
    high: float

    def see(self, value: float) -> None:
        self.low = min(self.low, value)
        self.high = max(self.high, value)


@dataclass(frozen=True)
class MonitorView:
    """One screen's worth of data."""

    packs: tuple[PackReading, ...]
    packs_age_s: float | None
    packs_stale: bool
    can: CanStackState | None
    can_age_s: float | None
    can_stale: bool
    heartbeat_age_s: float | None
    heartbeat_lost: bool
    extremes: dict[str, tuple[float, float]]
    refreshes: int
    read_errors: int


@dataclass
class MonitorModel:
    """Accumulates readings; `view(now)` says what to show."""

    pack_stale_s: float = 10.0
    _packs: tuple[PackReading, ...] = ()
    _packs_at: float | None = None
    _can: CanStackState | None = None
    _can_at: float | None = None
    _heartbeat_at: float | None = None
    _extremes: dict[str, Extreme] = field(default_factory=dict)
    refreshes: int = 0
    read_errors: int = 0

    def _see(self, key: str, value: float | None) -> None:
        if value is None:
            return
        if key in self._extremes:
            self._extremes[key].see(value)
        else:
            self._extremes[key] = Extreme(value, value)

    def update_packs(self, packs: tuple[PackReading, ...], at: float) -> None:
        self.refreshes += 1
        if not packs:
            self.read_errors += 1
            return
        self._packs, self._packs_at = packs, at
        for pack in packs:
            name = f"pack {pack.address}"
            self._see(f"{name} voltage_v", pack.voltage_v)
            self._see(f"{name} current_a", pack.current_a)
            self._see(f"{name} soc_pct", pack.soc_pct)
            if pack.cell_voltages_v:
                self._see(f"{name} min_cell_v", pack.min_cell_v)
                self._see(f"{name} max_cell_v", pack.max_cell_v)
                self._see(f"{name} cell_spread_mv", pack.cell_spread_mv)
            if pack.temperatures_c:
                self._see(f"{name} max_temp_c", pack.max_temp_c)

    def update_can(
        self, state: CanStackState | None, state_at: float | None, heartbeat_at: float | None
    ) -> None:
        if state is not None and state_at is not None:
            self._can, self._can_at = state, state_at
            self._see("can voltage_v", state.voltage_v)
            self._see("can current_a", state.current_a)
            self._see("can soc_pct", state.soc_pct)
            if state.limits is not None:
                self._see("can charge_current_limit_a", state.limits.charge_current_a)
                self._see("can discharge_current_limit_a", state.limits.discharge_current_a)
        if heartbeat_at is not None:
            self._heartbeat_at = heartbeat_at

    def view(self, now: float) -> MonitorView:
        packs_age = None if self._packs_at is None else now - self._packs_at
        can_age = None if self._can_at is None else now - self._can_at
        beat_age = None if self._heartbeat_at is None else now - self._heartbeat_at
        return MonitorView(
            packs=self._packs,
            packs_age_s=packs_age,
            packs_stale=packs_age is not None and packs_age > self.pack_stale_s,
            can=self._can,
            can_age_s=can_age,
            can_stale=can_age is not None and can_age > CAN_STALE_S,
            heartbeat_age_s=beat_age,
            heartbeat_lost=self._can is not None
            and (beat_age is None or beat_age > HEARTBEAT_LOST_S),
            extremes={k: (e.low, e.high) for k, e in sorted(self._extremes.items())},
            refreshes=self.refreshes,
            read_errors=self.read_errors,
        )


def out_of_range(name: str, value: float) -> bool:
    """True when a displayed value crosses one of the manual's limits (highlighted)."""
    if name == "cell_v":
        return not spec.CELL_UNDER_VOLTAGE_ALARM_V < value < spec.CELL_OVER_VOLTAGE_ALARM_V
    if name == "voltage_v":
        return not spec.MIN_VOLTAGE_V <= value <= spec.MAX_VOLTAGE_V
    if name == "current_a":
        return abs(value) > spec.RECOMMENDED_CONTINUOUS_CURRENT_A
    if name == "temp_c":
        return not spec.CHARGE_TEMP_MIN_C <= value <= spec.CHARGE_TEMP_MAX_C
    if name == "spread_mv":
        return value >= spec.CELL_SPREAD_WARN_MV
    if name == "soc_pct":
        return value < 100.0 - spec.MAX_DEPTH_OF_DISCHARGE_PCT
    return False
