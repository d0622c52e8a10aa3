"""What `active monitor` keeps between refreshes: latest values, extremes, staleness.

Pure: readings and CAN states go in with the time they were taken, a frozen
`MonitorView` comes out. Every pack the scan found stays on the screen: one
that stops answering is listed as missing with its last values (and counted
as a read error), never dropped, and values older than their staleness limit
are marked stale, so the screen never shows an old reading as if it were live.
Each pack's age counts from when that pack was read (a 16-pack read at 9600
baud takes seconds: stamping them all with its end would call a 5 s old value
"0.0 s ago"; values from the master's group read carry the group reply's
time), and an RS485 read slower than the refresh asked is said so.
CAN keeps a time per message id, so a 0x351 that stopped is stale even while
0x356 keeps coming.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, Literal

from active_cli import spec
from active_cli.model import CanStackState, PackReading

# CAN: the battery sends every second; five silent seconds is a lost link
# (the heuristic of a public BMS-to-inverter project), and so is a heartbeat that old.
CAN_STALE_S = 5.0
HEARTBEAT_LOST_S = 5.0

# Pylon LV CAN ids (the Pylon LV CAN protocol; the same numbers as protocols.pylon_can,
# repeated so this pure module does not load cantools).
HEARTBEAT_ID = 0x305
LIMITS_ID = 0x351
SOC_SOH_ID = 0x355
MEASUREMENTS_ID = 0x356

# How an RS485 cycle read the packs (`MonitorView.rs485_plan`).
Rs485Plan = Literal["group read", "per address"]
GROUP_READ: Final = "group read"  # the master's group read, each pack proved at its own address
PER_ADDRESS: Final = "per address"  # each pack's own 0x42 and 0x44


@dataclass
class Extreme:
    low: float
    high: float

    def see(self, value: float) -> None:
        self.low = min(self.low, value)
        self.high = max(self.high, value)


@dataclass(frozen=True)
class MonitorView:
    """One screen's worth of data.

    ``packs`` holds the last good values of every pack found, by address;
    ``missing_packs`` the addresses that did not answer the latest read (their
    values are the old ones), ``stale_packs`` those whose last good read is
    older than the staleness limit. CAN ages are keyed by id ("0x351").
    """

    packs: tuple[PackReading, ...]
    pack_ages_s: dict[int, float]
    missing_packs: tuple[int, ...]
    stale_packs: tuple[int, ...]
    packs_age_s: float | None  # the oldest pack values shown
    packs_stale: bool  # some pack values shown are not live (missing or stale)
    rs485_requested: bool
    can_requested: bool
    can: CanStackState | None
    can_age_s: float | None  # the newest battery frame
    can_stale: bool
    can_ages_s: dict[str, float]
    can_stale_ids: tuple[str, ...]
    measurements_stale: bool  # 0x355 (SOC) or 0x356 (V, A) stopped
    limits_age_s: float | None
    limits_stale: bool  # 0x351 (CVL, CCL, DCL) stopped
    heartbeat_age_s: float | None
    heartbeat_lost: bool
    extremes: dict[str, tuple[float, float]]
    refreshes: int
    read_errors: int
    # The last RS485 read of every pack: how long it took, against the refresh
    # asked for, at which baud (`refresh_behind`: it could not keep up).
    rs485_cycle_s: float | None = None
    refresh_s: float | None = None
    rs485_baud: int | None = None
    # How the last cycle read the packs ("group read": the master's, each pack
    # proved by its own reply; "per address"), and why not by the group read.
    rs485_plan: Rs485Plan | None = None
    why_per_address: str | None = None

    @property
    def refresh_behind(self) -> bool:
        """The RS485 read of all packs takes longer than the refresh asked for."""
        cycle, asked = self.rs485_cycle_s, self.refresh_s
        # 5 %: scheduling noise on a read that just fits is not "behind".
        return cycle is not None and asked is not None and cycle > 1.05 * asked


@dataclass
class _Tracked:
    reading: PackReading
    read_at: float
    answered: bool = True


def _can_id(arbitration_id: int) -> str:
    return f"0x{arbitration_id:03X}"


@dataclass
class MonitorModel:
    """Accumulates readings; `view(now)` says what to show.

    `watch_rs485`/`watch_can` say what the installer asked for: a bus that was
    asked for and gave nothing is shown as such, and with CAN asked for the
    heartbeat is never OK until battery frames and a recent 0x305 were seen.
    """

    pack_stale_s: float = 10.0
    watch_rs485: bool = False
    watch_can: bool = False
    refresh_s: float | None = None  # the refresh asked for
    rs485_baud: int | None = None
    rs485_cycle_s: float | None = None  # how long the last read of all packs took
    rs485_plan: Rs485Plan | None = None
    why_per_address: str | None = None
    _packs: dict[int, _Tracked] = field(default_factory=dict)
    _can: CanStackState | None = None
    _can_seen_at: dict[int, float] = field(default_factory=dict)
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

    def update_packs(
        self,
        packs: tuple[PackReading, ...],
        at: float,
        *,
        read_at: Mapping[int, float] | None = None,
        took_s: float | None = None,
        plan: Rs485Plan | None = None,
        why_per_address: str | None = None,
    ) -> None:
        """One RS485 read (the scan, then each refresh): `packs` are those that answered.

        `read_at` gives, by address, when each pack's values were read (on the
        clock of `at`, which stands in for a pack it does not name); `took_s`
        how long the whole read took; `plan` and `why_per_address` how it read
        them. Every pack seen before and absent here did not answer: it keeps
        its last values, is marked missing, and counts as one read error.
        """
        if took_s is not None:
            self.rs485_cycle_s = took_s
        if plan is not None:
            self.rs485_plan, self.why_per_address = plan, why_per_address
        read_at = read_at or {}
        self.refreshes += 1
        answered = {pack.address for pack in packs}
        for address, tracked in self._packs.items():
            if address not in answered:
                tracked.answered = False
                self.read_errors += 1
        for pack in packs:
            self._packs[pack.address] = _Tracked(pack, read_at.get(pack.address, at))
            name = f"pack {pack.address}"
            self._see(f"{name} voltage_v", pack.voltage_v)
            self._see(f"{name} current_a", pack.current_a)
            self._see(f"{name} soc_pct", pack.soc_pct)
            self._see(f"{name} min_cell_v", pack.min_cell_v)
            self._see(f"{name} max_cell_v", pack.max_cell_v)
            self._see(f"{name} cell_spread_mv", pack.cell_spread_mv)
            self._see(f"{name} max_temp_c", pack.max_temp_c)

    def update_can(self, state: CanStackState | None, seen_at: Mapping[int, float]) -> None:
        """The CAN state heard so far and when each message id last came."""
        self._can_seen_at.update(seen_at)
        if state is None:
            return
        self._can = state
        self._see("can voltage_v", state.voltage_v)
        self._see("can current_a", state.current_a)
        self._see("can soc_pct", state.soc_pct)
        if state.limits is not None:
            self._see("can charge_current_limit_a", state.limits.charge_current_a)
            self._see("can discharge_current_limit_a", state.limits.discharge_current_a)

    def view(self, now: float) -> MonitorView:
        ages = {a: now - t.read_at for a, t in sorted(self._packs.items())}
        missing = tuple(a for a, t in sorted(self._packs.items()) if not t.answered)
        stale = tuple(a for a, age in ages.items() if age > self.pack_stale_s)
        battery_at = [t for i, t in self._can_seen_at.items() if i != HEARTBEAT_ID]
        can_age = now - max(battery_at) if battery_at else None
        can_ages = {
            _can_id(i): now - t for i, t in sorted(self._can_seen_at.items()) if i != HEARTBEAT_ID
        }
        limits_at = self._can_seen_at.get(LIMITS_ID)
        limits_age = None if limits_at is None else now - limits_at
        beat_at = self._can_seen_at.get(HEARTBEAT_ID)
        beat_age = None if beat_at is None else now - beat_at
        stale_ids = tuple(i for i, age in can_ages.items() if age > CAN_STALE_S)
        return MonitorView(
            packs=tuple(t.reading for _, t in sorted(self._packs.items())),
            pack_ages_s=ages,
            missing_packs=missing,
            stale_packs=stale,
            packs_age_s=max(ages.values(), default=None),
            packs_stale=bool(missing or stale),
            rs485_requested=self.watch_rs485,
            can_requested=self.watch_can,
            can=self._can,
            can_age_s=can_age,
            can_stale=can_age is not None and can_age > CAN_STALE_S,
            can_ages_s=can_ages,
            can_stale_ids=stale_ids,
            measurements_stale=any(_can_id(i) in stale_ids for i in (SOC_SOH_ID, MEASUREMENTS_ID)),
            limits_age_s=limits_age,
            limits_stale=limits_age is not None and limits_age > CAN_STALE_S,
            heartbeat_age_s=beat_age,
            # Never OK without battery frames: an inverter that hears no battery
            # data is in a comms fault whatever its own 0x305 says.
            heartbeat_lost=(self.watch_can or self._can is not None)
            and (self._can is None or beat_age is None or beat_age > HEARTBEAT_LOST_S),
            extremes={k: (e.low, e.high) for k, e in sorted(self._extremes.items())},
            refreshes=self.refreshes,
            read_errors=self.read_errors,
            rs485_cycle_s=self.rs485_cycle_s,
            refresh_s=self.refresh_s,
            rs485_baud=self.rs485_baud,
            rs485_plan=self.rs485_plan,
            why_per_address=self.why_per_address,
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
