"""A simulated stack of Active16 packs: cells, temperatures, SOC and alarms over time.

Pure state and physics, no I/O and no threads: the caller passes time in
(``advance(dt_s)``), so the same scenario and the same calls always give the
same numbers (one ``random.Random(scenario.seed)`` drives all noise). Each
`SimPack` holds what a real BMS measures (16 cell voltages, four cell
temperature sensors, MOSFET and board temperature, current, charge counter)
and *derives* everything it reports from it: alarms and protections come from
the limits in `active_cli.spec` on every read, so a cell pushed above 3.65 V
raises the over-voltage protection and drops charge enable by itself, never
through a flag set by a scenario. `SimStack` is the master's view: it
aggregates the packs the way the master pack reports the stack on CAN
(lowest SOC, hottest cell, limits scaled by pack count and derated).
"""

from __future__ import annotations

import contextlib
import functools
import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Final, Literal, TypeVar

from active_cli import spec
from active_cli.model import CanStackState, ChargeLimits, PackReading, RequestFlags
from active_cli.sim.lfp import ocv_v, soc_for_pack_voltage
from active_cli.sim.pack_facts import TEMPERATURE_SENSOR_NAMES, default_serial
from active_cli.sim.scenario import PackSpec, Scenario

# --- Model constants (our choices; the manual gives none of these) -------------
# A simulated pack sits at the high end of spec.py's range (10 mOhm with its
# BMS switches; the parallel check assumes the low end, the safe side for a
# current estimate). A sixteenth of it per cell gives ~62 mV per cell at
# 100 A, a believable IR step when an inverter starts charging.
PACK_RESISTANCE_OHM: Final = spec.PACK_INTERNAL_RESISTANCE_HIGH_OHM
CELL_RESISTANCE_OHM: Final = PACK_RESISTANCE_OHM / spec.CELLS_IN_SERIES
# A 118 kg steel box loses heat slowly: ~20 W/K to the room, a half-hour time
# constant for the cells, minutes for the MOSFET heat sink.
THERMAL_CONDUCTANCE_W_PER_K: Final = 20.0
CELL_THERMAL_TAU_S: Final = 1800.0
MOS_THERMAL_TAU_S: Final = 300.0
# Sensors are not all equal: the middle of a pack runs warmer than its ends.
SENSOR_SPREAD_C: Final = (-0.3, 0.2, 0.5, -0.1)
MOS_ABOVE_CELLS_C: Final = 1.5
BMS_ABOVE_CELLS_C: Final = 1.0
# Bounded noise: cell readings wander a few mV (ADC noise, balancing currents),
# sensors a few tenths of a degree; neither drifts away over a long run.
CELL_NOISE_BOUND_MV: Final = 2.0
TEMP_NOISE_BOUND_C: Final = 0.3
DEFAULT_CELL_SPREAD_MV: Final = 4  # default offsets drawn in -4..+4 mV
# MOSFET limits: the manual names "MOS temperature abnormal" (Common Issues 7)
# but gives no number; 85/90 C are usual for BMS power stages (our choice).
MOS_ALARM_C: Final = 85.0
MOS_PROTECT_C: Final = 90.0
# Derating bands (our choice, documented in docs/simulator.md): the limit falls
# linearly to zero over the last 5 C before each temperature limit, and over the
# last 10 % of SOC before full (charge) or empty (discharge).
DERATE_TEMP_BAND_C: Final = spec.TEMP_ALARM_MARGIN_C
DERATE_SOC_BAND_PCT: Final = 10.0
# Request flags (our choice): force charge I below the OCV plateau, II when
# nearly empty or when a cell is already at under-voltage protection.
FORCE_CHARGE_1_SOC_PCT: Final = 10.0
FORCE_CHARGE_2_SOC_PCT: Final = 5.0
CHARGING_THRESHOLD_A: Final = 0.1  # Pylon 0x44 Status3: "charging (> 0.1 A)"

# --- Names ----------------------------------------------------------------------
# Per-pack names (RS485 0x44 level of detail). Checks and the RS485 encoder map
# them onto status bits; the CAN view maps them onto the 0x359/0x35A names below.
PACK_PROTECTION_NAMES: Final = (
    "cell_over_voltage",
    "cell_under_voltage",
    "module_over_voltage",
    "module_under_voltage",
    "charge_over_temperature",
    "charge_under_temperature",
    "discharge_over_temperature",
    "discharge_under_temperature",
    "charge_over_current",
    "discharge_over_current",
    "mos_over_temperature",
    "temperature_sensor_fault",
)
PACK_ALARM_NAMES: Final = (
    "cell_high_voltage",
    "cell_low_voltage",
    "module_high_voltage",
    "module_low_voltage",
    "charge_high_temperature",
    "charge_low_temperature",
    "discharge_high_temperature",
    "discharge_low_temperature",
    "charge_high_current",
    "discharge_high_current",
    "mos_high_temperature",
    "cell_imbalance",
)
# The stack's names, in Pylon CAN 0x359 bit order.
CAN_PROTECTION_NAMES: Final = (
    "over_voltage",  # byte 0 b1
    "under_voltage",  # byte 0 b2
    # The codec's names (protocols/pylon_can.py): 0x359 byte 0 b3/b4 are the
    # *cell* over/under-temperature protections.
    "cell_over_temperature",  # byte 0 b3
    "cell_under_temperature",  # byte 0 b4
    "discharge_over_current",  # byte 0 b7
    "charge_over_current",  # byte 1 b0
    "system_error",  # byte 1 b3
)
# "cell_imbalance" has no 0x359 bit; only the V1.3 0x35A set carries it.
CAN_ALARM_NAMES: Final = (
    "high_voltage",  # byte 2 b1
    "low_voltage",  # byte 2 b2
    "high_temperature",  # byte 2 b3
    "low_temperature",  # byte 2 b4
    "discharge_high_current",  # byte 2 b7
    "charge_high_current",  # byte 3 b0
    "internal_communication_fail",  # byte 3 b3
    "cell_imbalance",  # 0x35A byte 3 only
)
_CAN_PROTECTION_OF: Final = {
    "cell_over_voltage": "over_voltage",
    "module_over_voltage": "over_voltage",
    "cell_under_voltage": "under_voltage",
    "module_under_voltage": "under_voltage",
    "charge_over_temperature": "cell_over_temperature",
    "discharge_over_temperature": "cell_over_temperature",
    "charge_under_temperature": "cell_under_temperature",
    "discharge_under_temperature": "cell_under_temperature",
    "discharge_over_current": "discharge_over_current",
    "charge_over_current": "charge_over_current",
    # 0x359 b3 is "cell over-temperature"; a hot MOSFET or a dead sensor is a
    # fault of the BMS itself, so both land on "system error".
    "mos_over_temperature": "system_error",
    "temperature_sensor_fault": "system_error",
}
_CAN_ALARM_OF: Final = {
    "cell_high_voltage": "high_voltage",
    "module_high_voltage": "high_voltage",
    "cell_low_voltage": "low_voltage",
    "module_low_voltage": "low_voltage",
    "charge_high_temperature": "high_temperature",
    "discharge_high_temperature": "high_temperature",
    "mos_high_temperature": "high_temperature",
    "charge_low_temperature": "low_temperature",
    "discharge_low_temperature": "low_temperature",
    "discharge_high_current": "discharge_high_current",
    "charge_high_current": "charge_high_current",
    "cell_imbalance": "cell_imbalance",
}
# Protections that open the charge or the discharge MOSFET.
_BLOCKS_CHARGE: Final = frozenset(
    {
        "cell_over_voltage",
        "module_over_voltage",
        "charge_over_temperature",
        "charge_under_temperature",
        "charge_over_current",
        "mos_over_temperature",
        # LFP must not be charged below 0 C: with a cell sensor dead the BMS
        # cannot rule that out, so it stops charging (discharge stays allowed).
        "temperature_sensor_fault",
    }
)
_BLOCKS_DISCHARGE: Final = frozenset(
    {
        "cell_under_voltage",
        "module_under_voltage",
        "discharge_over_temperature",
        "discharge_under_temperature",
        "discharge_over_current",
        "mos_over_temperature",
    }
)

# Pack-level thresholds derived from the per-cell limits of spec.py.
_N: Final = spec.CELLS_IN_SERIES
MODULE_OVER_VOLTAGE_PROTECT_V: Final = _N * spec.CELL_OVER_VOLTAGE_PROTECT_V  # 58.4 V
MODULE_OVER_VOLTAGE_ALARM_V: Final = _N * spec.CELL_OVER_VOLTAGE_ALARM_V  # 57.6 V
MODULE_UNDER_VOLTAGE_PROTECT_V: Final = _N * spec.CELL_UNDER_VOLTAGE_PROTECT_V  # 44.8 V
MODULE_UNDER_VOLTAGE_ALARM_V: Final = _N * spec.CELL_UNDER_VOLTAGE_ALARM_V  # 46.4 V

LimitState = Literal["normal", "below", "above", "fault"]


def _ramp(x: float, lo: float, hi: float) -> float:
    """0 at `lo`, 1 at `hi` (either order), linear between, clamped."""
    if hi == lo:
        return 1.0 if x >= hi else 0.0
    return min(1.0, max(0.0, (x - lo) / (hi - lo)))


def _temperature_factor(t_min: float, t_max: float, low_limit: float, high_limit: float) -> float:
    """1 when the coldest and hottest cells are more than a band inside the
    limits, falling linearly to 0 as either reaches its limit."""
    band = DERATE_TEMP_BAND_C
    return _ramp(t_min, low_limit, low_limit + band) * _ramp(t_max, high_limit, high_limit - band)


def _is_dead(temp_c: float) -> bool:
    return temp_c <= spec.DEAD_SENSOR_TEMP_C


_T = TypeVar("_T")


def _derived(method: Callable[[SimPack], _T]) -> Callable[[SimPack], _T]:
    """Compute a derived value once per `SimPack._derive_once` window.

    Everything a BMS reports is derived from the measurements on every read,
    and the derivations call each other (a protection needs the offered
    current, which needs the temperature limits ...): one CAN state read
    evaluated each pack's protections about nine times. Inside a window, where
    nothing changes, each is computed once; outside one, exactly as before.
    """
    name = method.__name__

    @functools.wraps(method)
    def wrapper(self: SimPack) -> _T:
        memo = self._memo
        if memo is None:
            return method(self)
        try:
            value: _T = memo[name]
        except KeyError:
            value = memo[name] = method(self)
        return value

    return wrapper


@dataclass(frozen=True)
class PackLimitStates:
    """Per-item limit states, as the RS485 0x44 alarm reply lists them.

    ``temperatures`` follows the reading order: BMS board, cells 1-4, MOSFET.
    """

    cells: tuple[LimitState, ...]
    temperatures: tuple[LimitState, ...]
    charge_current: LimitState
    pack_voltage: LimitState
    discharge_current: LimitState


class SimPack:
    """One simulated Active16 pack: measured state plus what its BMS derives.

    ``demand_a`` is the current the charger or load asks of this pack
    (positive = charging, as on the wire); ``current_a`` is what actually flows
    once the BMS has applied its protections (and, with a compliant inverter,
    its limits). Cell voltages and temperatures are stored measurements that
    `advance` updates; everything else is derived on each read.

    ``powered`` is the pack's power switch. A pack that is off has its BMS
    asleep and its MOSFETs open: no current flows (it only rests and cools),
    it hears nothing on RS485, and the master leaves it out of the stack.

    To inject a fault while running, pin a value: ``pinned_cells_mv[index]``
    (0-based cell) or ``pinned_temps_c["3"]`` ("1".."4", "mos", "bms"); pinned
    values win over the physics from the next `advance` on (cells) or at once
    (temperatures, which are read through the pins).
    """

    def __init__(
        self,
        pack_spec: PackSpec,
        *,
        position: int,
        rng: random.Random,
        seed: int = 0,
        charge_current_max_a: float = spec.RECOMMENDED_CONTINUOUS_CURRENT_A,
        discharge_current_max_a: float = spec.RECOMMENDED_CONTINUOUS_CURRENT_A,
        follows_limits: bool = True,
        protocol_variant: str = "pylon",
        answer_limit: int | None = None,
        powered: bool = True,
    ) -> None:
        self.spec = pack_spec
        self.position = position
        self.address = pack_spec.address
        self.serial = pack_spec.serial or default_serial(position, seed)
        self.firmware = pack_spec.firmware
        self.device_name = pack_spec.device_name
        self.manufacturer = pack_spec.manufacturer
        self.protocol_variant = protocol_variant
        self.design_ah = pack_spec.capacity_ah
        self.soh_pct = pack_spec.soh_pct
        self.cycles = pack_spec.cycles
        self.demand_a = pack_spec.current_a
        self.charge_current_max_a = charge_current_max_a
        self.discharge_current_max_a = discharge_current_max_a
        self.follows_limits = follows_limits
        self.answer_limit = answer_limit
        self.powered = powered
        self.requests_seen = 0
        self.requests_served = 0
        self.ambient_c = pack_spec.temperature_c
        self._discharged_ah = 0.0

        if pack_spec.cell_offsets_mv:
            self.cell_offsets_mv = [float(o) for o in pack_spec.cell_offsets_mv]
        else:
            spread = DEFAULT_CELL_SPREAD_MV
            self.cell_offsets_mv = [float(rng.randint(-spread, spread)) for _ in range(_N)]
        soc = pack_spec.soc_pct
        if pack_spec.voltage_v is not None:
            # A rest voltage asked for wins: hit it with this pack's own offsets.
            soc = soc_for_pack_voltage(
                pack_spec.voltage_v, (round(o) for o in self.cell_offsets_mv)
            )
        self.remaining_ah = self.full_ah * min(100.0, max(0.0, soc)) / 100.0
        self.pinned_cells_mv: dict[int, int] = {
            cell - 1: mv for cell, mv in pack_spec.cell_overrides_mv
        }
        self.pinned_temps_c: dict[str, float] = dict(pack_spec.temperature_overrides_c)
        self._cell_noise_mv = [0.0] * _N
        # Each pack's sensors start a little apart, so no two packs read alike.
        self._temp_noise_c = [round(rng.uniform(-0.2, 0.2), 2) for _ in range(4)]

        t = pack_spec.temperature_c
        self._cell_temps_c = [
            t + d + n for d, n in zip(SENSOR_SPREAD_C, self._temp_noise_c, strict=True)
        ]
        self._mos_c = t + MOS_ABOVE_CELLS_C
        self._bms_c = t + BMS_ABOVE_CELLS_C
        self.cells_mv: list[int] = [0] * _N
        self._memo: dict[str, Any] | None = None
        # Rest voltages first: which current may flow depends on the cells.
        self._refresh_cells(0.0)
        self._refresh_cells(self.current_a)

    @contextlib.contextmanager
    def _derive_once(self) -> Iterator[None]:
        """A window in which nothing changes: derived values are computed once (reentrant)."""
        if self._memo is not None:
            yield
            return
        self._memo = {}
        try:
            yield
        finally:
            self._memo = None

    # --- measurements ----------------------------------------------------------
    @property
    def temperatures_c(self) -> list[float]:
        """The four cell temperature sensors (pinned values win)."""
        return [
            self.pinned_temps_c.get(str(i + 1), round(t, 2))
            for i, t in enumerate(self._cell_temps_c)
        ]

    @property
    def mos_temp_c(self) -> float:
        return self.pinned_temps_c.get("mos", round(self._mos_c, 2))

    @property
    def bms_temp_c(self) -> float:
        return self.pinned_temps_c.get("bms", round(self._bms_c, 2))

    @property
    def all_temperatures_c(self) -> tuple[float, ...]:
        """Every sensor in Pylon 0x42 order: BMS board, cells 1-4, MOSFET."""
        return (self.bms_temp_c, *self.temperatures_c, self.mos_temp_c)

    @property
    def full_ah(self) -> float:
        return self.design_ah * self.soh_pct / 100.0

    @property
    def soc_pct(self) -> float:
        full = self.full_ah
        return 0.0 if full <= 0 else 100.0 * self.remaining_ah / full

    @property
    @_derived
    def voltage_v(self) -> float:
        """Pack voltage: the sum of its cells, as the BMS measures it."""
        return sum(self.cells_mv) / 1000.0

    @property
    def cell_voltages_v(self) -> tuple[float, ...]:
        return tuple(mv / 1000.0 for mv in self.cells_mv)

    @property
    def min_cell_mv(self) -> int:
        return min(self.cells_mv)

    @property
    def max_cell_mv(self) -> int:
        return max(self.cells_mv)

    @property
    def min_cell_v(self) -> float:
        return self.min_cell_mv / 1000.0

    @property
    def max_cell_v(self) -> float:
        return self.max_cell_mv / 1000.0

    @property
    def cell_spread_mv(self) -> int:
        return self.max_cell_mv - self.min_cell_mv

    @property
    @_derived
    def valid_cell_temperatures_c(self) -> tuple[float, ...]:
        """Cell sensors that read a plausible temperature (dead ones left out)."""
        return tuple(t for t in self.temperatures_c if not _is_dead(t))

    @property
    @_derived
    def dead_sensors(self) -> tuple[str, ...]:
        """Names ("1".."4", "mos", "bms") of sensors that read as dead or open."""
        values = dict(zip(("1", "2", "3", "4"), self.temperatures_c, strict=True))
        values["mos"] = self.mos_temp_c
        values["bms"] = self.bms_temp_c
        return tuple(name for name in TEMPERATURE_SENSOR_NAMES if _is_dead(values[name]))

    # --- derived: limits, protections, alarms ----------------------------------
    @_derived
    def _temp_extremes_c(self) -> tuple[float, float] | None:
        valid = self.valid_cell_temperatures_c
        return (min(valid), max(valid)) if valid else None

    @_derived
    def _base_charge_limit_a(self) -> float:
        extremes = self._temp_extremes_c()
        if extremes is None:
            return 0.0
        factor = _temperature_factor(*extremes, spec.CHARGE_TEMP_MIN_C, spec.CHARGE_TEMP_MAX_C)
        factor *= _ramp(self.soc_pct, 100.0, 100.0 - DERATE_SOC_BAND_PCT)
        return self.charge_current_max_a * factor

    @_derived
    def _base_discharge_limit_a(self) -> float:
        extremes = self._temp_extremes_c()
        if extremes is None:
            return 0.0
        factor = _temperature_factor(
            *extremes, spec.DISCHARGE_TEMP_MIN_C, spec.DISCHARGE_TEMP_MAX_C
        )
        factor *= _ramp(self.soc_pct, 0.0, DERATE_SOC_BAND_PCT)
        return self.discharge_current_max_a * factor

    @_derived
    def _offered_current_a(self) -> float:
        """The current the charger/load pushes, before the BMS opens a MOSFET.

        A compliant inverter stays within the limits the BMS advertises; a
        non-compliant one pushes its full demand, which can trip over-current.
        A pack that is off takes nothing: its switch has opened the path.
        """
        if not self.powered:
            return 0.0
        if not self.follows_limits:
            return self.demand_a
        return max(-self._base_discharge_limit_a(), min(self.demand_a, self._base_charge_limit_a()))

    @property
    @_derived
    def protections(self) -> tuple[str, ...]:
        """Active protections, derived from the spec limits on every read."""
        found: set[str] = set()
        if self.max_cell_v >= spec.CELL_OVER_VOLTAGE_PROTECT_V:
            found.add("cell_over_voltage")
        if self.min_cell_v <= spec.CELL_UNDER_VOLTAGE_PROTECT_V:
            found.add("cell_under_voltage")
        if self.voltage_v >= MODULE_OVER_VOLTAGE_PROTECT_V:
            found.add("module_over_voltage")
        if self.voltage_v <= MODULE_UNDER_VOLTAGE_PROTECT_V:
            found.add("module_under_voltage")
        extremes = self._temp_extremes_c()
        if extremes is not None:
            t_min, t_max = extremes
            if t_max > spec.CHARGE_TEMP_MAX_C:
                found.add("charge_over_temperature")
            if t_min < spec.CHARGE_TEMP_MIN_C:
                found.add("charge_under_temperature")
            if t_max > spec.DISCHARGE_TEMP_MAX_C:
                found.add("discharge_over_temperature")
            if t_min < spec.DISCHARGE_TEMP_MIN_C:
                found.add("discharge_under_temperature")
        if self.mos_temp_c >= MOS_PROTECT_C:
            found.add("mos_over_temperature")
        if self.dead_sensors:
            found.add("temperature_sensor_fault")
        offered = self._offered_current_a()
        if offered > spec.MAX_CURRENT_A:
            found.add("charge_over_current")
        if -offered > spec.MAX_CURRENT_A:
            found.add("discharge_over_current")
        return tuple(n for n in PACK_PROTECTION_NAMES if n in found)

    @property
    @_derived
    def alarms(self) -> tuple[str, ...]:
        """Active alarms (warnings before protection), derived on every read."""
        found: set[str] = set()
        if self.max_cell_v >= spec.CELL_OVER_VOLTAGE_ALARM_V:
            found.add("cell_high_voltage")
        if self.min_cell_v <= spec.CELL_UNDER_VOLTAGE_ALARM_V:
            found.add("cell_low_voltage")
        if self.voltage_v >= MODULE_OVER_VOLTAGE_ALARM_V:
            found.add("module_high_voltage")
        if self.voltage_v <= MODULE_UNDER_VOLTAGE_ALARM_V:
            found.add("module_low_voltage")
        margin = spec.TEMP_ALARM_MARGIN_C
        extremes = self._temp_extremes_c()
        if extremes is not None:
            t_min, t_max = extremes
            if t_max >= spec.CHARGE_TEMP_MAX_C - margin:
                found.add("charge_high_temperature")
            if t_min <= spec.CHARGE_TEMP_MIN_C + margin:
                found.add("charge_low_temperature")
            if t_max >= spec.DISCHARGE_TEMP_MAX_C - margin:
                found.add("discharge_high_temperature")
            if t_min <= spec.DISCHARGE_TEMP_MIN_C + margin:
                found.add("discharge_low_temperature")
        if self.mos_temp_c >= MOS_ALARM_C:
            found.add("mos_high_temperature")
        offered = self._offered_current_a()
        # Manual, Maintenance 12: 100 A is the maximum *continuous* current.
        if offered > spec.RECOMMENDED_CONTINUOUS_CURRENT_A:
            found.add("charge_high_current")
        if -offered > spec.RECOMMENDED_CONTINUOUS_CURRENT_A:
            found.add("discharge_high_current")
        if self.cell_spread_mv >= spec.CELL_SPREAD_WARN_MV:
            found.add("cell_imbalance")
        return tuple(n for n in PACK_ALARM_NAMES if n in found)

    @property
    @_derived
    def charge_enable(self) -> bool:
        return not _BLOCKS_CHARGE.intersection(self.protections)

    @property
    @_derived
    def discharge_enable(self) -> bool:
        return not _BLOCKS_DISCHARGE.intersection(self.protections)

    @property
    def charge_limit_a(self) -> float:
        """This pack's charge current limit: derated, and 0 while charging is blocked."""
        return self._base_charge_limit_a() if self.charge_enable else 0.0

    @property
    def discharge_limit_a(self) -> float:
        return self._base_discharge_limit_a() if self.discharge_enable else 0.0

    @property
    @_derived
    def current_a(self) -> float:
        """The current that flows: the demand, unless the BMS has opened that path."""
        offered = self._offered_current_a()
        if offered > 0 and not self.charge_enable:
            return 0.0
        if offered < 0 and not self.discharge_enable:
            return 0.0
        return offered

    @property
    def status(self) -> tuple[str, ...]:
        """Pylon 0x44 Status2/Status3 conditions that hold now."""
        current = self.current_a
        names = ["using_battery_power"]
        if self.discharge_enable:
            names.append("discharge_mosfet_on")
        if self.charge_enable:
            names.append("charge_mosfet_on")
        if current > CHARGING_THRESHOLD_A:
            names.append("charging")
        if current < -CHARGING_THRESHOLD_A:
            names.append("discharging")
        if self.soc_pct >= 100.0:
            names.append("fully_charged")
        return tuple(names)

    def limit_states(self) -> PackLimitStates:
        """Per-cell and per-sensor states at alarm level (RS485 0x44)."""

        def volt_state(v: float, low: float, high: float) -> LimitState:
            if v >= high:
                return "above"
            if v <= low:
                return "below"
            return "normal"

        def temp_state(t: float, low: float, high: float) -> LimitState:
            if _is_dead(t):
                return "fault"
            return volt_state(t, low, high)

        margin = spec.TEMP_ALARM_MARGIN_C
        cell_lo, cell_hi = spec.CHARGE_TEMP_MIN_C + margin, spec.CHARGE_TEMP_MAX_C - margin
        cells = tuple(
            volt_state(v, spec.CELL_UNDER_VOLTAGE_ALARM_V, spec.CELL_OVER_VOLTAGE_ALARM_V)
            for v in self.cell_voltages_v
        )
        temps = (
            temp_state(self.bms_temp_c, -math.inf, MOS_ALARM_C),
            *(temp_state(t, cell_lo, cell_hi) for t in self.temperatures_c),
            temp_state(self.mos_temp_c, -math.inf, MOS_ALARM_C),
        )
        alarms = set(self.alarms) | set(self.protections)
        charge_high = {"charge_high_current", "charge_over_current"}
        discharge_high = {"discharge_high_current", "discharge_over_current"}
        charge: LimitState = "above" if alarms & charge_high else "normal"
        discharge: LimitState = "above" if alarms & discharge_high else "normal"
        pack = volt_state(self.voltage_v, MODULE_UNDER_VOLTAGE_ALARM_V, MODULE_OVER_VOLTAGE_ALARM_V)
        return PackLimitStates(cells, temps, charge, pack, discharge)

    # --- RS485 bookkeeping -------------------------------------------------------
    @property
    def answering(self) -> bool:
        """False once a "stop answering after N requests" fault has used up N."""
        return self.answer_limit is None or self.requests_served < self.answer_limit

    def take_request(self) -> bool:
        """Count one request addressed to this pack; True when the pack answers it.

        A pack that is off hears nothing, so its requests are not counted either
        (a "stop answering after N" fault counts only what it heard).
        """
        if not self.powered:
            return False
        self.requests_seen += 1
        if not self.answering:
            return False
        self.requests_served += 1
        return True

    def reading(self) -> PackReading:
        """This pack as an RS485 client would read it (rounded to wire resolution)."""
        return PackReading(
            address=self.address,
            protocol_variant=self.protocol_variant,
            cell_voltages_v=self.cell_voltages_v,
            temperatures_c=tuple(round(t, 1) for t in self.all_temperatures_c),
            current_a=round(self.current_a, 1),
            voltage_v=round(self.voltage_v, 3),
            remaining_ah=round(self.remaining_ah, 3),
            full_ah=round(self.full_ah, 3),
            cycles=self.cycles,
            serial=self.serial,
            device_name=self.device_name,
            manufacturer=self.manufacturer,
            firmware=self.firmware,
            soh_pct=round(self.soh_pct, 1),
            alarms=self.alarms,
            protections=self.protections,
            status=self.status,
        )

    # --- physics -----------------------------------------------------------------
    def _refresh_cells(self, current_a: float) -> None:
        rest_v = ocv_v(self.soc_pct)
        ir_mv = 1000.0 * current_a * CELL_RESISTANCE_OHM
        for i in range(_N):
            pinned = self.pinned_cells_mv.get(i)
            if pinned is not None:
                self.cells_mv[i] = pinned
            else:
                mv = 1000.0 * rest_v + ir_mv + self.cell_offsets_mv[i] + self._cell_noise_mv[i]
                self.cells_mv[i] = round(mv)

    def advance(self, dt_s: float, rng: random.Random) -> None:
        """Move this pack `dt_s` seconds on: charge counter, heat, cell voltages."""
        if dt_s < 0:
            raise ValueError(f"time cannot go backwards (dt_s={dt_s})")
        with self._derive_once():
            current = self.current_a  # decided on the state at the start of the step
        full = self.full_ah
        delta_ah = current * dt_s / 3600.0
        self.remaining_ah = min(full, max(0.0, self.remaining_ah + delta_ah))
        if delta_ah < 0:
            self._discharged_ah -= delta_ah
            while full > 0 and self._discharged_ah >= full:
                self._discharged_ah -= full
                # A BMS's counter is a u16 on the wire: it stops there rather than wrap.
                self.cycles = min(self.cycles + 1, 0xFFFF)

        heat_w = current * current * PACK_RESISTANCE_OHM
        cell_target = self.ambient_c + heat_w / THERMAL_CONDUCTANCE_W_PER_K
        mos_target = self.ambient_c + MOS_ABOVE_CELLS_C + 2 * heat_w / THERMAL_CONDUCTANCE_W_PER_K
        k_cell = 1.0 - math.exp(-dt_s / CELL_THERMAL_TAU_S)
        k_mos = 1.0 - math.exp(-dt_s / MOS_THERMAL_TAU_S)
        if dt_s > 0:
            for i in range(4):
                self._temp_noise_c[i] = _bounded_walk(
                    self._temp_noise_c[i], rng.gauss(0.0, 0.05), TEMP_NOISE_BOUND_C
                )
            for i in range(_N):
                self._cell_noise_mv[i] = _bounded_walk(
                    self._cell_noise_mv[i], rng.uniform(-1.0, 1.0), CELL_NOISE_BOUND_MV
                )
        for i in range(4):
            target = cell_target + SENSOR_SPREAD_C[i] + self._temp_noise_c[i]
            self._cell_temps_c[i] += (target - self._cell_temps_c[i]) * k_cell
        self._mos_c += (mos_target - self._mos_c) * k_mos
        self._bms_c += (self.ambient_c + BMS_ABOVE_CELLS_C - self._bms_c) * k_cell
        with self._derive_once():
            flowing = self.current_a
        self._refresh_cells(flowing)

    def __repr__(self) -> str:
        return (
            f"SimPack(address={self.address}, serial={self.serial!r}, "
            f"voltage_v={self.voltage_v:.3f}, soc_pct={self.soc_pct:.1f}, "
            f"current_a={self.current_a:.1f})"
        )


def _bounded_walk(value: float, step: float, bound: float) -> float:
    return min(bound, max(-bound, value + step))


class SimStack:
    """The packs of one scenario, and the master's aggregate view of them.

    ``packs[0]`` is the master: the pack wired to the inverter, which speaks
    for the whole stack on CAN. Packs keep their order from the scenario;
    addresses may repeat (the duplicate-address fault).

    Only packs that are switched on (`SimPack.powered`) take part: they answer
    on RS485 and make up the master's aggregate, so the CAN view (module count,
    limits, SOC ...) follows the packs as they are switched on. The aggregate
    needs at least one pack on; the CAN view needs the master on.
    """

    def __init__(self, scenario: Scenario, packs: list[SimPack], rng: random.Random) -> None:
        if not packs:
            raise ValueError("a stack needs at least one pack")
        self.scenario = scenario
        self.packs = packs
        self.elapsed_s = 0.0
        self._rng = rng
        # Line faults (noise bytes, bad checksums, garbling) draw from their own
        # seeded generator, so polling more or less never changes the physics.
        self.line_rng = random.Random(f"line-{scenario.seed}")

    @classmethod
    def from_scenario(cls, scenario: Scenario) -> SimStack:
        rng = random.Random(scenario.seed)
        limits = dict(scenario.faults.stop_answering)
        packs = [
            SimPack(
                pack_spec,
                position=i + 1,
                rng=rng,
                seed=scenario.seed,
                charge_current_max_a=scenario.charge_current_per_pack_a,
                discharge_current_max_a=scenario.discharge_current_per_pack_a,
                follows_limits=scenario.inverter_follows_limits,
                protocol_variant=scenario.rs485_protocol,
                answer_limit=limits.get(pack_spec.address),
                powered=scenario.packs_start_on,
            )
            for i, pack_spec in enumerate(scenario.packs)
        ]
        return cls(scenario, packs, rng)

    @property
    def master(self) -> SimPack:
        return self.packs[0]

    @property
    def master_on(self) -> bool:
        """True when the master is switched on (only then does the stack speak on CAN)."""
        return self.master.powered

    @property
    def powered_packs(self) -> list[SimPack]:
        """The packs switched on, in scenario order: the ones the aggregate is made of."""
        return [p for p in self.packs if p.powered]

    def _live(self) -> list[SimPack]:
        live = self.powered_packs
        if not live:
            raise ValueError("every pack is switched off: the stack has no aggregate")
        return live

    @property
    def addresses(self) -> tuple[int, ...]:
        """Every address some pack is set to (on or off), sorted, each once."""
        return tuple(sorted({p.address for p in self.packs}))

    @property
    def duplicate_addresses(self) -> tuple[int, ...]:
        """Addresses more than one pack that is on is set to (their replies collide)."""
        return tuple(a for a in self.addresses if len(self.answering_at(a)) > 1)

    def packs_at(self, address: int) -> list[SimPack]:
        """The packs set to `address`, on or off: none, one, or several (duplicate address)."""
        return [p for p in self.packs if p.address == address]

    def answering_at(self, address: int) -> list[SimPack]:
        """The packs set to `address` that are switched on (the ones that can reply)."""
        return [p for p in self.packs_at(address) if p.powered]

    def take_request(self, address: int) -> list[SimPack]:
        """Count a request to `address`; return the packs that answer it."""
        return [p for p in self.packs_at(address) if p.take_request()]

    def set_current(self, total_a: float) -> None:
        """Ask the stack for `total_a` (positive = charging), shared equally by the packs on.

        Every pack gets the share, so one switched on later takes its part at
        once; a pack that is off ignores it.
        """
        share = total_a / max(1, len(self.powered_packs))
        for pack in self.packs:
            pack.demand_a = share

    def advance(self, dt_s: float) -> None:
        """Move every pack `dt_s` seconds on (deterministic for a given seed)."""
        if dt_s < 0:
            raise ValueError(f"time cannot go backwards (dt_s={dt_s})")
        for pack in self.packs:
            pack.advance(dt_s, self._rng)
        self.elapsed_s += dt_s

    # --- the master's aggregate (CAN) view ----------------------------------------
    @property
    def module_count(self) -> int:
        """The packs the master counts: the ones switched on."""
        return len(self.powered_packs)

    @property
    def voltage_v(self) -> float:
        """Mean pack voltage: the bus voltage the master reports (0x356)."""
        live = self._live()
        return sum(p.voltage_v for p in live) / len(live)

    @property
    def current_a(self) -> float:
        """Total stack current (positive = charging)."""
        return sum(p.current_a for p in self.powered_packs)

    @property
    def soc_pct(self) -> float:
        """Lowest pack SOC.

        Policy: the inverter must stop discharging when the emptiest pack is
        empty, so the master reports the lowest SOC rather than the mean.
        """
        return min(p.soc_pct for p in self._live())

    @property
    def soh_pct(self) -> float:
        """Lowest pack SOH (the weakest pack bounds the stack's usable capacity)."""
        return min(p.soh_pct for p in self._live())

    @property
    def temp_c(self) -> float:
        """Hottest valid cell sensor (0x356 temperature); falls back to the BMS board."""
        live = self._live()
        valid = [t for p in live for t in p.valid_cell_temperatures_c]
        return max(valid) if valid else max(p.bms_temp_c for p in live)

    @property
    def min_cell_v(self) -> float:
        return min(p.min_cell_v for p in self._live())

    @property
    def max_cell_v(self) -> float:
        return max(p.max_cell_v for p in self._live())

    @property
    def min_cell_temp_c(self) -> float:
        """Coldest cell sensor as read, dead sensors included (a real master passes them on)."""
        return min(t for p in self._live() for t in p.temperatures_c)

    @property
    def max_cell_temp_c(self) -> float:
        return max(t for p in self._live() for t in p.temperatures_c)

    @property
    def installed_capacity_ah(self) -> float:
        return sum(p.design_ah for p in self.powered_packs)

    @property
    def full_capacity_ah(self) -> float:
        return sum(p.full_ah for p in self.powered_packs)

    @property
    def remaining_ah(self) -> float:
        return sum(p.remaining_ah for p in self.powered_packs)

    def charge_limits(self) -> ChargeLimits:
        """CVL/DVL from the scenario; CCL/DCL = pack count x the most limited pack.

        Packs in parallel share current about equally, so the stack may take
        only as much as n times its most restricted pack allows: one hot, full
        or protected pack derates (or zeroes) the whole stack.
        """
        live = self._live()
        n = len(live)
        return ChargeLimits(
            charge_voltage_v=self.scenario.charge_voltage_limit_v,
            charge_current_a=round(n * min(p.charge_limit_a for p in live), 1),
            discharge_current_a=round(n * min(p.discharge_limit_a for p in live), 1),
            discharge_voltage_v=self.scenario.discharge_voltage_limit_v,
        )

    def protections(self) -> tuple[str, ...]:
        """Every pack's protections, mapped onto the CAN 0x359 names."""
        found = {_CAN_PROTECTION_OF[n] for p in self.powered_packs for n in p.protections}
        return tuple(n for n in CAN_PROTECTION_NAMES if n in found)

    def alarms(self) -> tuple[str, ...]:
        """Every pack's alarms on the CAN names, plus stack-level faults.

        Two packs on one address break the link between the BMSes, which the
        master reports as an internal communication failure.
        """
        found = {_CAN_ALARM_OF[n] for p in self.powered_packs for n in p.alarms}
        if self.duplicate_addresses:
            found.add("internal_communication_fail")
        return tuple(n for n in CAN_ALARM_NAMES if n in found)

    def request_flags(self) -> RequestFlags:
        """CAN 0x35C: enables from every pack's protections, force-charge from SOC."""
        soc = self.soc_pct
        live = self.powered_packs
        under_voltage = any("cell_under_voltage" in p.protections for p in live)
        return RequestFlags(
            charge_enable=all(p.charge_enable for p in live),
            discharge_enable=all(p.discharge_enable for p in live),
            force_charge_1=soc <= FORCE_CHARGE_1_SOC_PCT,
            force_charge_2=soc <= FORCE_CHARGE_2_SOC_PCT or under_voltage,
            full_charge=False,
        )

    @contextlib.contextmanager
    def _derive_once(self) -> Iterator[None]:
        """Every pack's derived values computed once while the stack is read."""
        with contextlib.ExitStack() as windows:
            for pack in self.packs:
                windows.enter_context(pack._derive_once())
            yield

    def readings(self) -> tuple[PackReading, ...]:
        """Every pack that is on, as RS485 would read it."""
        with self._derive_once():
            return tuple(p.reading() for p in self.powered_packs)

    def can_state(self) -> CanStackState:
        """The stack as the master would put it on CAN (scenario's profile)."""
        if not self.master_on:
            raise ValueError("the master is switched off: it sends nothing on CAN")
        with self._derive_once():
            return self._can_state()

    def _can_state(self) -> CanStackState:
        return CanStackState(
            protocol=self.scenario.can_profile,
            limits=self.charge_limits(),
            soc_pct=round(self.soc_pct, 1),
            soh_pct=round(self.soh_pct, 1),
            voltage_v=round(self.voltage_v, 2),
            voltage_scale=self.scenario.can_voltage_scale,
            current_a=round(self.current_a, 1),
            temp_c=round(self.temp_c, 1),
            protections=self.protections(),
            alarms=self.alarms(),
            module_count=self.module_count,
            request=self.request_flags(),
            manufacturer=self.scenario.can_manufacturer,
            min_cell_v=self.min_cell_v,
            max_cell_v=self.max_cell_v,
            min_cell_temp_c=round(self.min_cell_temp_c, 1),
            max_cell_temp_c=round(self.max_cell_temp_c, 1),
            capacity_ah=round(self.installed_capacity_ah, 1),
            firmware=self.master.firmware,
        )
