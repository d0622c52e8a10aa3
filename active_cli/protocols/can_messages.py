"""Pylon LV CAN messages as typed values, from a frame's decoded signals.

`pylon_can` decodes a frame's bytes into signal values through cantools and
the DBC; `can_digest` does the same from the DBC's digest, without importing
cantools (what `active decode can` starts with). This module turns those
signals into one frozen dataclass per message, with the tolerant readings of
protocols.md §2.4 (the 0x356 voltage scale, the DCL sign, undefined bits of
0x359). Pure: no cantools, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, TypeAlias

from active_cli.errors import DecodeError
from active_cli.model import ChargeLimits, RequestFlags

SignalValue: TypeAlias = float | int | str


# --- text carried one character per byte ---------------------------------------


def text_of(values: list[SignalValue]) -> str:
    # Latin-1 maps every byte to one character, so odd bytes survive a round
    # trip and show up as what was sent. Trailing NULs and spaces are padding
    # (Pylontech pads "PYLON" with spaces, others with NULs).
    return bytes(int(v) for v in values).decode("latin-1").rstrip("\x00 ")


def chars_of(signals: Mapping[str, SignalValue], prefix: str, size: int) -> list[SignalValue]:
    # A short frame decodes to a prefix of the character signals.
    return [signals[f"{prefix}{i}"] for i in range(size) if f"{prefix}{i}" in signals]


# --- typed messages -------------------------------------------------------------

VoltageScale: TypeAlias = Literal["0.01 V", "0.1 V"]
PLAUSIBLE_STACK_V = (40.0, 60.0)  # a 16S LiFePO4 stack (51.2 V nominal) lives here


def choose_voltage_scale(
    voltage_at_centivolts_v: float, charge_voltage_v: float | None = None
) -> tuple[float, VoltageScale]:
    """Read a 0x356 voltage at 0.01 V or 0.1 V, whichever makes sense.

    Pylontech V1.2, SMA, MG and real dumps use 0.01 V; Sol-Ark V1.3 and a
    Discover battery use 0.1 V (protocols.md §2.4 item 1). The two readings are
    a factor 10 apart, so at most one is within 25 % of the CVL and at most one
    in the 40-60 V window of a 48 V stack. Prefer the one near the CVL (which
    also covers 24 V packs), then the one in the window, else the spec's 0.01 V.
    """
    candidates: tuple[tuple[float, VoltageScale], ...] = (
        (round(voltage_at_centivolts_v, 2), "0.01 V"),
        (round(voltage_at_centivolts_v * 10, 1), "0.1 V"),
    )
    if charge_voltage_v is not None and charge_voltage_v > 0:
        near = [c for c in candidates if abs(c[0] - charge_voltage_v) <= 0.25 * charge_voltage_v]
        if len(near) == 1:
            return near[0]
    lo, hi = PLAUSIBLE_STACK_V
    plausible = [c for c in candidates if lo <= c[0] <= hi]
    if len(plausible) == 1:
        return plausible[0]
    return candidates[0]


@dataclass(frozen=True)
class Limits:
    """0x351. ``limits.discharge_current_a`` is always positive (the absolute value);
    ``discharge_current_negative`` records that the sender used the negative sign."""

    limits: ChargeLimits
    discharge_current_negative: bool = False


@dataclass(frozen=True)
class SocSoh:
    """0x355. ``soc_hires_pct`` is None when the frame has 4 bytes or carries 0 there
    (newer Pylontech firmware sends DLC 6 with 0: "not provided"). Encoding None
    gives V1.2's 4-byte frame; 0.0 gives the newer firmware's 6 bytes with 0."""

    soc_pct: float
    soh_pct: float
    soc_hires_pct: float | None = None


@dataclass(frozen=True)
class Measurements:
    """0x356. Current is positive when charging; ``voltage_scale`` says which
    reading of the voltage field was used (see :func:`choose_voltage_scale`)."""

    voltage_v: float
    current_a: float
    temp_c: float
    voltage_scale: VoltageScale = "0.01 V"


@dataclass(frozen=True)
class Protection:
    """0x359 (V1.2). Flags by name; ``unknown_bits`` names set bits the V1.2 text does
    not define, by byte and bit ("protection2_bit7"), instead of dropping them."""

    protections: tuple[str, ...] = ()
    alarms: tuple[str, ...] = ()
    module_count: int = 1
    unknown_bits: tuple[str, ...] = ()
    marker: str = "PN"


@dataclass(frozen=True)
class Requests:
    """0x35C (V1.2): what the battery asks the inverter for."""

    flags: RequestFlags


@dataclass(frozen=True)
class Manufacturer:
    """0x35E: manufacturer name without its padding."""

    name: str


@dataclass(frozen=True)
class AlarmsV13:
    """0x35A (V1.3): items whose alarm or warning pair reads 01 (raised) or 10
    (cleared, i.e. supported and fine). Items reading 00/11 are not supported."""

    alarms: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    cleared_alarms: tuple[str, ...] = ()
    cleared_warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class BatteryInfo:
    """0x35F (V1.3): chemistry, firmware, capacity, hardware id (informative only)."""

    chemistry: str
    firmware_major: int
    firmware_minor: int
    capacity_ah: float | None  # None: a short frame without bytes 4-5
    hardware_id: int = 0

    @property
    def firmware_bcd(self) -> str:
        """Bytes 2-3 read as BCD digits (0x12 -> "12"), as some receivers do."""
        return f"{self.firmware_major:X}.{self.firmware_minor:X}"

    @property
    def firmware(self) -> str:
        """Bytes 2-3 read as numbers (0x12 -> 18), and as BCD digits where that differs.

        Public sources disagree on how to read them, so where the two readings
        differ both are shown: ``1.18 (BCD: 1.12)``.
        """
        decimal = f"{self.firmware_major}.{self.firmware_minor}"
        bcd = self.firmware_bcd
        return decimal if bcd == decimal else f"{decimal} (BCD: {bcd})"


@dataclass(frozen=True)
class ModuleCounts:
    """0x372: modules online, blocking charge, blocking discharge, offline."""

    online: int
    blocking_charge: int = 0
    blocking_discharge: int = 0
    offline: int = 0


@dataclass(frozen=True)
class CellExtremes:
    """0x373: lowest/highest cell voltage and temperature (sent in mV and K)."""

    min_cell_v: float
    max_cell_v: float
    min_cell_temp_c: float | None  # None: a 4-byte frame with the voltages only
    max_cell_temp_c: float | None


ExtremeKind: TypeAlias = Literal[
    "min_cell_voltage", "max_cell_voltage", "min_cell_temp", "max_cell_temp"
]
EXTREME_IDS: dict[ExtremeKind, int] = {
    "min_cell_voltage": 0x374,
    "max_cell_voltage": 0x375,
    "min_cell_temp": 0x376,
    "max_cell_temp": 0x377,
}
EXTREME_KINDS: dict[int, ExtremeKind] = {v: k for k, v in EXTREME_IDS.items()}


@dataclass(frozen=True)
class ExtremeName:
    """0x374-0x377: the name of the cell or sensor at an extreme."""

    kind: ExtremeKind
    name: str


@dataclass(frozen=True)
class Capacity:
    """0x379: installed capacity."""

    capacity_ah: float


@dataclass(frozen=True)
class Heartbeat:
    """0x305 from the inverter; any content counts (SMA puts measurements in it)."""

    raw: bytes = bytes(8)


CanMessage: TypeAlias = (
    Limits
    | SocSoh
    | Measurements
    | Protection
    | Requests
    | Manufacturer
    | AlarmsV13
    | BatteryInfo
    | ModuleCounts
    | CellExtremes
    | ExtremeName
    | Capacity
    | Heartbeat
)

# 0x359 flags: DBC signal name -> (kind, flag name). Undefined bits are DBC
# signals too ("Prot2_Bit7") and come back by number.
V12_FLAGS: dict[str, tuple[Literal["protection", "alarm"], str]] = {
    "ProtOverVoltage": ("protection", "over_voltage"),
    "ProtUnderVoltage": ("protection", "under_voltage"),
    "ProtCellOverTemp": ("protection", "cell_over_temperature"),
    "ProtCellUnderTemp": ("protection", "cell_under_temperature"),
    "ProtDischargeOverCurrent": ("protection", "discharge_over_current"),
    "ProtChargeOverCurrent": ("protection", "charge_over_current"),
    "ProtSystemError": ("protection", "system_error"),
    "AlarmHighVoltage": ("alarm", "high_voltage"),
    "AlarmLowVoltage": ("alarm", "low_voltage"),
    "AlarmHighTemp": ("alarm", "high_temperature"),
    "AlarmLowTemp": ("alarm", "low_temperature"),
    "AlarmDischargeHighCurrent": ("alarm", "discharge_high_current"),
    "AlarmChargeHighCurrent": ("alarm", "charge_high_current"),
    "AlarmInternalCommFail": ("alarm", "internal_communication_fail"),
}
V12_UNKNOWN_BIT = re.compile(r"^(Prot|Alarm)([12])_Bit([0-7])$")


def unknown_bit_name(signal_name: str) -> str | None:
    m = V12_UNKNOWN_BIT.match(signal_name)
    if m is None:
        return None
    kind = "protection" if m.group(1) == "Prot" else "alarm"
    return f"{kind}{m.group(2)}_bit{m.group(3)}"


# 0x35A items: DBC signal suffix -> item name, in wire order.
V13_ITEMS: dict[str, str] = {
    "General": "general",
    "HighVoltage": "high_voltage",
    "LowVoltage": "low_voltage",
    "HighTemp": "high_temperature",
    "LowTemp": "low_temperature",
    "HighTempCharge": "high_temperature_charge",
    "LowTempCharge": "low_temperature_charge",
    "HighDischargeCurrent": "high_discharge_current",
    "HighChargeCurrent": "high_charge_current",
    "Contactor": "contactor",
    "ShortCircuit": "short_circuit",
    "BmsInternal": "bms_internal",
    "CellImbalance": "cell_imbalance",
}
# Pair values, as named by the DBC's VAL_ table.
RAISED, CLEARED = 1, 2

REQUEST_SIGNALS: dict[str, str] = {
    "ChargeEnable": "charge_enable",
    "DischargeEnable": "discharge_enable",
    "ForceCharge1": "force_charge_1",
    "ForceCharge2": "force_charge_2",
    "FullChargeRequest": "full_charge",
}


def _f(signals: Mapping[str, SignalValue], name: str) -> float:
    return float(signals[name])


def _i(signals: Mapping[str, SignalValue], name: str) -> int:
    return int(signals[name])


def _decode_limits(s: Mapping[str, SignalValue]) -> Limits:
    dcl = _f(s, "DischargeCurrentLimit")
    dvl = _f(s, "DischargeVoltageLimit") if "DischargeVoltageLimit" in s else None
    limits = ChargeLimits(
        charge_voltage_v=_f(s, "ChargeVoltageLimit"),
        charge_current_a=_f(s, "ChargeCurrentLimit"),
        # Real packs send DCL positive, some emulators negative (§2.4 item 2).
        discharge_current_a=abs(dcl),
        discharge_voltage_v=dvl,
    )
    return Limits(limits=limits, discharge_current_negative=dcl < 0)


def _decode_soc(s: Mapping[str, SignalValue]) -> SocSoh:
    hires = s.get("SOC_HiRes")
    return SocSoh(
        soc_pct=_f(s, "SOC"),
        soh_pct=_f(s, "SOH"),
        soc_hires_pct=float(hires) if hires else None,
    )


def _decode_measurements(
    s: Mapping[str, SignalValue], charge_voltage_v: float | None = None
) -> Measurements:
    voltage_v, scale = choose_voltage_scale(_f(s, "Voltage"), charge_voltage_v)
    return Measurements(
        voltage_v=voltage_v,
        current_a=_f(s, "Current"),
        temp_c=_f(s, "Temperature"),
        voltage_scale=scale,
    )


def _marker_text(value: SignalValue) -> str:
    if isinstance(value, str):  # a VAL_ name: "PN"
        return value
    return text_of(list(int(value).to_bytes(2, "little")))


def _decode_protection(s: Mapping[str, SignalValue]) -> Protection:
    protections: list[str] = []
    alarms: list[str] = []
    unknown: list[str] = []
    for name, value in s.items():
        if not value:
            continue
        if name in V12_FLAGS:
            kind, flag = V12_FLAGS[name]
            (protections if kind == "protection" else alarms).append(flag)
        elif (bit := unknown_bit_name(name)) is not None:
            unknown.append(bit)
    return Protection(
        protections=tuple(protections),
        alarms=tuple(alarms),
        module_count=_i(s, "ModuleCount"),
        unknown_bits=tuple(unknown),
        marker=_marker_text(s["Marker"]),
    )


def _decode_requests(s: Mapping[str, SignalValue]) -> Requests:
    return Requests(RequestFlags(**{field: bool(s[sig]) for sig, field in REQUEST_SIGNALS.items()}))


def _decode_alarms_v13(s: Mapping[str, SignalValue]) -> AlarmsV13:
    # A short 0x35A lacks the last items: absent reads as not supported.
    def items(prefix: str, state: str) -> tuple[str, ...]:
        return tuple(item for suffix, item in V13_ITEMS.items() if s.get(prefix + suffix) == state)

    return AlarmsV13(
        alarms=items("Alarm", "raised"),
        warnings=items("Warning", "raised"),
        cleared_alarms=items("Alarm", "cleared"),
        cleared_warnings=items("Warning", "cleared"),
    )


def _decode_battery_info(s: Mapping[str, SignalValue]) -> BatteryInfo:
    return BatteryInfo(
        chemistry=text_of([s["Chemistry0"], s["Chemistry1"]]),
        firmware_major=_i(s, "FirmwareMajor"),
        firmware_minor=_i(s, "FirmwareMinor"),
        capacity_ah=_f(s, "Capacity") if "Capacity" in s else None,
        hardware_id=_i(s, "HardwareId") if "HardwareId" in s else 0,
    )


def message_from_signals(
    arbitration_id: int,
    s: Mapping[str, SignalValue],
    *,
    charge_voltage_v: float | None = None,
) -> CanMessage:
    """The typed message of one frame's decoded signals (`pylon_can.decode_signals`).

    ``charge_voltage_v`` (the CVL of a 0x351, when known) helps pick the 0x356
    voltage scale. Raises DecodeError only.
    """
    match arbitration_id:
        case 0x305:
            return Heartbeat(raw=bytes(int(v) for v in chars_of(s, "Byte", 8)))
        case 0x351:
            return _decode_limits(s)
        case 0x355:
            return _decode_soc(s)
        case 0x356:
            return _decode_measurements(s, charge_voltage_v)
        case 0x359:
            return _decode_protection(s)
        case 0x35A:
            return _decode_alarms_v13(s)
        case 0x35C:
            return _decode_requests(s)
        case 0x35E:
            return Manufacturer(name=text_of(chars_of(s, "Manufacturer", 8)))
        case 0x35F:
            return _decode_battery_info(s)
        case 0x372:
            return ModuleCounts(
                online=_i(s, "ModulesOnline"),
                # A 4-byte 0x372 (some makers) ends after the charge-blocking count.
                blocking_charge=int(s.get("ModulesBlockingCharge", 0)),
                blocking_discharge=int(s.get("ModulesBlockingDischarge", 0)),
                offline=int(s.get("ModulesOffline", 0)),
            )
        case 0x373:
            return CellExtremes(
                min_cell_v=_f(s, "MinCellVoltage"),
                max_cell_v=_f(s, "MaxCellVoltage"),
                min_cell_temp_c=_f(s, "MinCellTemp") if "MinCellTemp" in s else None,
                max_cell_temp_c=_f(s, "MaxCellTemp") if "MaxCellTemp" in s else None,
            )
        case 0x374 | 0x375 | 0x376 | 0x377:
            return ExtremeName(EXTREME_KINDS[arbitration_id], text_of(chars_of(s, "Name", 8)))
        case 0x379:
            return Capacity(capacity_ah=_f(s, "InstalledCapacity"))
    # The DBC has a message this module does not type: a DBC/code mismatch.
    raise DecodeError(  # pragma: no cover
        f"0x{arbitration_id:03X}: in the DBC but not typed by pylon_can", frame=b""
    )
