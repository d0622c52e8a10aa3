"""Pylon LV CAN: what a battery tells a hybrid inverter once a second, as typed messages.

Every byte layout lives in ``dbc/pylon_lv.dbc`` and every encode/decode goes
through cantools; this module adds what a DBC cannot say: which DLCs real
batteries send (0x355 with 4 or 6 bytes, 0x35E with 5, everything padded to 8
for inverters that want it), the tolerant readings of protocols.md §2.4 (the
0x356 voltage scale, the DCL sign, undefined bits of 0x359), typed frozen
dataclasses per message (defined without cantools in `can_messages`, and
re-exported here), and :class:`CanStateBuilder`, which folds one listening
window into a :class:`~active_cli.model.CanStackState`. It is pure: bytes in,
dataclasses out, no bus access.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from decimal import Decimal
from typing import TypeAlias

import cantools
from cantools.database.can import Database, Message
from cantools.database.can.signal import Signal
from cantools.database.errors import Error as CantoolsError
from cantools.database.namedsignalvalue import NamedSignalValue

from active_cli.errors import DataFileError, DecodeError
from active_cli.model import CanStackState
from active_cli.protocols.can_ids import (
    ALARMS_V13_ID as ALARMS_V13_ID,
)
from active_cli.protocols.can_ids import (
    BATTERY_IDS as BATTERY_IDS,
)
from active_cli.protocols.can_ids import (
    BATTERY_INFO_ID as BATTERY_INFO_ID,
)
from active_cli.protocols.can_ids import (
    CAPACITY_ID as CAPACITY_ID,
)
from active_cli.protocols.can_ids import (
    CELL_EXTREMES_ID as CELL_EXTREMES_ID,
)
from active_cli.protocols.can_ids import (
    EXTENSION_IDS as EXTENSION_IDS,
)

# The ids are the codec's names too: `pylon_can.HEARTBEAT_ID` stays valid.
from active_cli.protocols.can_ids import (
    HEARTBEAT_ID as HEARTBEAT_ID,
)
from active_cli.protocols.can_ids import (
    LIMITS_ID as LIMITS_ID,
)
from active_cli.protocols.can_ids import (
    MANUFACTURER_ID as MANUFACTURER_ID,
)
from active_cli.protocols.can_ids import (
    MEASUREMENTS_ID as MEASUREMENTS_ID,
)
from active_cli.protocols.can_ids import (
    MODULE_COUNTS_ID as MODULE_COUNTS_ID,
)
from active_cli.protocols.can_ids import (
    PROTECTION_ID as PROTECTION_ID,
)
from active_cli.protocols.can_ids import (
    PROTOCOL_UNKNOWN as PROTOCOL_UNKNOWN,
)
from active_cli.protocols.can_ids import (
    PROTOCOL_V12 as PROTOCOL_V12,
)
from active_cli.protocols.can_ids import (
    PROTOCOL_V13 as PROTOCOL_V13,
)
from active_cli.protocols.can_ids import (
    PYLON_V12_IDS as PYLON_V12_IDS,
)
from active_cli.protocols.can_ids import (
    PYLON_V13_IDS as PYLON_V13_IDS,
)
from active_cli.protocols.can_ids import (
    REQUEST_ID as REQUEST_ID,
)
from active_cli.protocols.can_ids import (
    SOC_SOH_ID as SOC_SOH_ID,
)
from active_cli.protocols.can_messages import (
    CLEARED,
    EXTREME_IDS,
    RAISED,
    REQUEST_SIGNALS,
    V12_FLAGS,
    V13_ITEMS,
    SignalValue,
    choose_voltage_scale,
    message_from_signals,
    unknown_bit_name,
)

# The typed messages are the codec's names too: `pylon_can.Limits` stays valid.
from active_cli.protocols.can_messages import (
    PLAUSIBLE_STACK_V as PLAUSIBLE_STACK_V,
)
from active_cli.protocols.can_messages import (
    AlarmsV13 as AlarmsV13,
)
from active_cli.protocols.can_messages import (
    BatteryInfo as BatteryInfo,
)
from active_cli.protocols.can_messages import (
    CanMessage as CanMessage,
)
from active_cli.protocols.can_messages import (
    Capacity as Capacity,
)
from active_cli.protocols.can_messages import (
    CellExtremes as CellExtremes,
)
from active_cli.protocols.can_messages import (
    ExtremeKind as ExtremeKind,
)
from active_cli.protocols.can_messages import (
    ExtremeName as ExtremeName,
)
from active_cli.protocols.can_messages import (
    Heartbeat as Heartbeat,
)
from active_cli.protocols.can_messages import (
    Limits as Limits,
)
from active_cli.protocols.can_messages import (
    Manufacturer as Manufacturer,
)
from active_cli.protocols.can_messages import (
    Measurements as Measurements,
)
from active_cli.protocols.can_messages import (
    ModuleCounts as ModuleCounts,
)
from active_cli.protocols.can_messages import (
    Protection as Protection,
)
from active_cli.protocols.can_messages import (
    Requests as Requests,
)
from active_cli.protocols.can_messages import (
    SocSoh as SocSoh,
)
from active_cli.protocols.can_messages import (
    VoltageScale as VoltageScale,
)
from active_cli.resources import data_file

# --- ids and profiles: in can_ids (no cantools there), re-exported here -------

_V12_ONLY = PYLON_V12_IDS - PYLON_V13_IDS  # 0x359, 0x35C
_V13_ONLY = PYLON_V13_IDS - PYLON_V12_IDS  # 0x35A, 0x35F

CAN_MAX_DLC = 8

# Shortest payload accepted per id; the rest must carry the DBC length. Longer
# frames (padded to 8 for Sol-Ark-style inverters) are always accepted.
_MIN_LENGTH: dict[int, int] = {
    HEARTBEAT_ID: 0,  # any 0x305 is a heartbeat (protocols.md §2.4 item 6)
    LIMITS_ID: 6,  # the V1.2 text has no DVL; real packs add it (DLC 8)
    SOC_SOH_ID: 4,  # Pylontech V1.2 firmware: DLC 4, no high-resolution SOC
    MANUFACTURER_ID: 1,  # "PYLON" alone is a real variant (§2.4 item 5)
    0x374: 1,
    0x375: 1,
    0x376: 1,
    0x377: 1,
    CAPACITY_ID: 2,  # only bytes 0-1 carry data
    # Makers send these shorter than the spec (0x35A with 7 bytes, 0x35F with 6,
    # 0x372/0x373 with 4): the bytes present are decoded, the rest is absent.
    ALARMS_V13_ID: 1,
    BATTERY_INFO_ID: 4,  # chemistry and firmware; capacity and hardware id optional
    MODULE_COUNTS_ID: 2,  # modules online
    CELL_EXTREMES_ID: 4,  # lowest and highest cell voltage; temperatures optional
}


# --- the database ---------------------------------------------------------------


@functools.cache
def database() -> Database:
    """The Pylon LV CAN database, loaded once from ``dbc/pylon_lv.dbc`` (strict)."""
    path = data_file("dbc", "pylon_lv.dbc")  # MissingDataError (a DataFileError) if absent
    try:
        db = cantools.database.load_file(path, database_format="dbc", strict=True)
    except UnicodeDecodeError as e:  # a ValueError: said before the generic case
        raise DataFileError(str(path), f"not a valid DBC: not text (byte {e.start})") from e
    except (CantoolsError, ValueError) as e:
        raise DataFileError(str(path), f"not a valid DBC: {e}") from e
    except OSError as e:
        raise DataFileError(str(path), f"cannot be read: {e.strerror or e}") from e
    if not isinstance(db, Database):  # pragma: no cover - load_file("dbc") gives a CAN db
        raise DataFileError(str(path), "not a CAN database")
    return db


def _message(arbitration_id: int) -> Message | None:
    try:
        return database().get_message_by_frame_id(arbitration_id)
    except KeyError:
        return None


def _decimals(value: float) -> int:
    exponent = Decimal(str(value)).normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


@functools.cache
def _ndigits(arbitration_id: int) -> dict[str, int]:
    """Decimal places of each signal's resolution, to undo float noise (532 * 0.1)."""
    message = database().get_message_by_frame_id(arbitration_id)
    return {s.name: max(_decimals(s.scale), _decimals(s.offset)) for s in message.signals}


def _plain(value: object, ndigits: int) -> SignalValue:
    if isinstance(value, NamedSignalValue):
        return value.name
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return round(value, ndigits) if ndigits else round(value)
    return str(value)


# --- signal level -------------------------------------------------------------


def decode_signals(arbitration_id: int, data: bytes) -> dict[str, SignalValue]:
    """Decode one frame into signal values (scaled, choices as names).

    Accepts the DLC variants real batteries send: short 0x355 (4 bytes), 0x351
    without DVL (6), 0x35E and the name messages of any length 1-8, any 0x305,
    and every frame padded to 8. Signals beyond a short frame are absent from
    the result. Raises DecodeError naming the id and what is wrong.
    """
    raw = bytes(data)
    message = _message(arbitration_id)
    if message is None:
        raise DecodeError(
            f"unknown CAN id 0x{arbitration_id:03X}: not a Pylon LV message", frame=raw
        )
    where = f"0x{arbitration_id:03X} {message.name}"
    if len(raw) > CAN_MAX_DLC:
        raise DecodeError(
            f"{where}: {len(raw)} data bytes, a classic CAN frame carries at most 8", frame=raw
        )
    minimum = _MIN_LENGTH.get(arbitration_id, message.length)
    if len(raw) < minimum:
        raise DecodeError(f"{where}: {len(raw)} data bytes, needs at least {minimum}", frame=raw)
    try:
        decoded = message.decode(raw, decode_choices=True, allow_truncated=True)
    except (CantoolsError, ValueError) as e:  # pragma: no cover - lengths checked
        raise DecodeError(f"{where}: {e}", frame=raw) from e
    if not isinstance(decoded, dict):  # pragma: no cover - no container messages here
        raise DecodeError(f"{where}: unexpected container message", frame=raw)
    ndigits = _ndigits(arbitration_id)
    return {name: _plain(value, ndigits[name]) for name, value in decoded.items()}


def _default(signal: Signal) -> float:
    lo = signal.minimum if signal.minimum is not None else 0.0
    hi = signal.maximum if signal.maximum is not None else 0.0
    return min(max(0.0, lo), hi)


def encode_signals(
    arbitration_id: int,
    signals: Mapping[str, SignalValue],
    *,
    pad_to_8: bool = False,
) -> bytes:
    """Encode signal values into a frame of the DBC length (NUL padded to 8 if asked).

    Signals left out encode as 0 (or their minimum when 0 is out of range), so a
    0x359 needs only the flags that are set. Unknown ids, unknown signal names
    and out-of-range values raise ValueError: encoding is our own doing, so a
    bad value is a bug, not a bad frame.
    """
    message = _message(arbitration_id)
    if message is None:
        raise ValueError(f"unknown CAN id 0x{arbitration_id:03X}: not a Pylon LV message")
    values: dict[str, SignalValue] = {s.name: _default(s) for s in message.signals}
    unknown = sorted(set(signals) - set(values))
    if unknown:
        raise ValueError(f"0x{arbitration_id:03X} {message.name} has no signal {unknown}")
    values.update(signals)
    try:
        data = message.encode(values, strict=True)
    except (CantoolsError, ValueError, KeyError, TypeError) as e:
        raise ValueError(f"cannot encode 0x{arbitration_id:03X} {message.name}: {e}") from e
    return _pad(data) if pad_to_8 else data


def _pad(data: bytes) -> bytes:
    return data.ljust(CAN_MAX_DLC, b"\x00")


# --- text carried one character per byte ---------------------------------------


def _text_signals(prefix: str, text: str, size: int, pad: str) -> dict[str, SignalValue]:
    try:
        raw = text.encode("latin-1")
    except UnicodeEncodeError as e:
        raise ValueError(f"{text!r} is not one byte per character: {e}") from e
    if len(raw) > size:
        raise ValueError(f"{text!r} is longer than {size} characters")
    raw = raw.ljust(size, pad.encode("ascii"))
    return {f"{prefix}{i}": raw[i] for i in range(size)}


# --- typed messages: in can_messages (no cantools there), re-exported here ------


def _marker_value(marker: str) -> int:
    # The DBC carries "PN" as one u16 (VAL_ 20048 "PN"), so the two characters
    # become that number, first character in the low byte as on the wire.
    try:
        raw = marker.encode("latin-1")
    except UnicodeEncodeError as e:
        raise ValueError(f"0x359 marker {marker!r} is not one byte per character") from e
    if len(raw) > 2:
        raise ValueError(f"0x359 marker {marker!r} is longer than 2 characters")
    return int.from_bytes(raw.ljust(2, b"\x00"), "little")


def decode_message(
    arbitration_id: int, data: bytes, *, charge_voltage_v: float | None = None
) -> CanMessage:
    """Decode one frame into its typed message.

    ``charge_voltage_v`` (the CVL of a 0x351, when known) helps pick the 0x356
    voltage scale. Raises DecodeError only.
    """
    signals = decode_signals(arbitration_id, data)
    return message_from_signals(arbitration_id, signals, charge_voltage_v=charge_voltage_v)


# (arbitration id, signals, payload length to keep or None for the DBC length)
_Encoded: TypeAlias = tuple[int, dict[str, SignalValue], int | None]


def _encode_limits(msg: Limits) -> _Encoded:
    lim = msg.limits
    dcl = (
        -abs(lim.discharge_current_a)
        if msg.discharge_current_negative
        else abs(lim.discharge_current_a)
    )
    s: dict[str, SignalValue] = {
        "ChargeVoltageLimit": lim.charge_voltage_v,
        "ChargeCurrentLimit": lim.charge_current_a,
        "DischargeCurrentLimit": dcl,
    }
    if lim.discharge_voltage_v is None:
        return LIMITS_ID, s, 6  # the V1.2 text's layout: no DVL
    s["DischargeVoltageLimit"] = lim.discharge_voltage_v
    return LIMITS_ID, s, None


def _encode_soc(msg: SocSoh) -> _Encoded:
    s: dict[str, SignalValue] = {"SOC": msg.soc_pct, "SOH": msg.soh_pct}
    if msg.soc_hires_pct is None:
        return SOC_SOH_ID, s, 4  # what Pylontech V1.2 firmware sends
    s["SOC_HiRes"] = msg.soc_hires_pct
    return SOC_SOH_ID, s, None


def _encode_measurements(msg: Measurements) -> _Encoded:
    # The DBC field is 0.01 V; a 0.1 V emitter puts a tenth of the count there.
    voltage = msg.voltage_v if msg.voltage_scale == "0.01 V" else msg.voltage_v / 10
    s: dict[str, SignalValue] = {
        "Voltage": voltage,
        "Current": msg.current_a,
        "Temperature": msg.temp_c,
    }
    return MEASUREMENTS_ID, s, None


def _encode_protection(msg: Protection) -> _Encoded:
    by_flag: dict[tuple[str, str], str] = {v: k for k, v in V12_FLAGS.items()}
    s: dict[str, SignalValue] = {}
    for kind, flags in (("protection", msg.protections), ("alarm", msg.alarms)):
        for flag in flags:
            if (kind, flag) not in by_flag:
                raise ValueError(f"0x359 has no {kind} flag {flag!r}")
            s[by_flag[(kind, flag)]] = 1
    by_bit = {
        bit: sig.name
        for sig in database().get_message_by_frame_id(PROTECTION_ID).signals
        if (bit := unknown_bit_name(sig.name)) is not None
    }
    for bit in msg.unknown_bits:
        if bit not in by_bit:
            raise ValueError(f"0x359 has no undefined bit {bit!r}")
        s[by_bit[bit]] = 1
    s["ModuleCount"] = msg.module_count
    s["Marker"] = _marker_value(msg.marker)
    return PROTECTION_ID, s, None


def _encode_alarms_v13(msg: AlarmsV13) -> _Encoded:
    by_item = {item: suffix for suffix, item in V13_ITEMS.items()}
    s: dict[str, SignalValue] = {}
    for prefix, items, state in (
        ("Alarm", msg.alarms, RAISED),
        ("Warning", msg.warnings, RAISED),
        ("Alarm", msg.cleared_alarms, CLEARED),
        ("Warning", msg.cleared_warnings, CLEARED),
    ):
        for item in items:
            if item not in by_item:
                raise ValueError(f"0x35A has no item {item!r}")
            s[prefix + by_item[item]] = state
    return ALARMS_V13_ID, s, None


def _encode(msg: CanMessage) -> _Encoded:
    match msg:
        case Limits():
            return _encode_limits(msg)
        case SocSoh():
            return _encode_soc(msg)
        case Measurements():
            return _encode_measurements(msg)
        case Protection():
            return _encode_protection(msg)
        case AlarmsV13():
            return _encode_alarms_v13(msg)
        case Requests():
            flags = msg.flags
            values = {sig: int(getattr(flags, field)) for sig, field in REQUEST_SIGNALS.items()}
            return REQUEST_ID, dict(values), None
        case Manufacturer():
            # Pylontech pads with spaces ("PYLON   ").
            return MANUFACTURER_ID, _text_signals("Manufacturer", msg.name, 8, " "), None
        case BatteryInfo():
            s = _text_signals("Chemistry", msg.chemistry, 2, "\x00")
            s |= {
                "FirmwareMajor": msg.firmware_major,
                "FirmwareMinor": msg.firmware_minor,
                "HardwareId": msg.hardware_id,
            }
            if msg.capacity_ah is None:
                return BATTERY_INFO_ID, s, 4  # the short frame: chemistry and firmware
            s["Capacity"] = msg.capacity_ah
            return BATTERY_INFO_ID, s, None
        case ModuleCounts():
            return (
                MODULE_COUNTS_ID,
                {
                    "ModulesOnline": msg.online,
                    "ModulesBlockingCharge": msg.blocking_charge,
                    "ModulesBlockingDischarge": msg.blocking_discharge,
                    "ModulesOffline": msg.offline,
                },
                None,
            )
        case CellExtremes():
            temps = {
                name: value
                for name, value in (
                    ("MinCellTemp", msg.min_cell_temp_c),
                    ("MaxCellTemp", msg.max_cell_temp_c),
                )
                if value is not None
            }
            # Without temperatures: the 4-byte frame some makers send.
            length = None if len(temps) == 2 else 4
            return (
                CELL_EXTREMES_ID,
                {"MinCellVoltage": msg.min_cell_v, "MaxCellVoltage": msg.max_cell_v, **temps},
                length,
            )
        case ExtremeName():
            return EXTREME_IDS[msg.kind], _text_signals("Name", msg.name, 8, "\x00"), None
        case Capacity():
            return CAPACITY_ID, {"InstalledCapacity": msg.capacity_ah}, None
        case Heartbeat():
            if len(msg.raw) > CAN_MAX_DLC:
                raise ValueError(f"heartbeat of {len(msg.raw)} bytes: at most 8")
            s = {f"Byte{i}": b for i, b in enumerate(msg.raw)}
            return HEARTBEAT_ID, dict(s), len(msg.raw)


def encode_message(msg: CanMessage, *, pad_to_8: bool = False) -> tuple[int, bytes]:
    """Encode a typed message as (arbitration id, payload).

    The payload has the DLC a real battery uses: 0x355 without a high-resolution
    SOC is 4 bytes (Pylontech V1.2), 0x351 without DVL 6, a heartbeat keeps its
    length. ``pad_to_8`` NUL-pads to 8 for inverters that accept only DLC 8.
    Raises ValueError for values the DBC cannot carry.
    """
    arbitration_id, signals, keep = _encode(msg)
    data = encode_signals(arbitration_id, signals)
    if keep is not None:
        data = data[:keep]
    return arbitration_id, _pad(data) if pad_to_8 else data


# --- folding a listening window into a CanStackState ---------------------------


class CanStateBuilder:
    """Feed it every frame heard; ask it for the stack state the battery reported.

    Unknown ids are counted, not decoded; frames that do not decode are counted
    (with the last reason kept) and otherwise ignored, so one noisy frame never
    ends a scan. The latest message of each kind wins.
    """

    def __init__(self) -> None:
        self._frames = 0
        self._heartbeats = 0
        self._unknown = 0
        self._errors = 0
        self._last_error: str | None = None
        self._battery_ids: set[int] = set()
        self._limits: Limits | None = None
        self._soc: SocSoh | None = None
        self._measurements: Measurements | None = None
        self._protection: Protection | None = None
        self._alarms_v13: AlarmsV13 | None = None
        self._requests: Requests | None = None
        self._manufacturer: Manufacturer | None = None
        self._info: BatteryInfo | None = None
        self._module_counts: ModuleCounts | None = None
        self._extremes: CellExtremes | None = None
        self._capacity: Capacity | None = None
        self._names: dict[ExtremeKind, str] = {}

    @property
    def frame_count(self) -> int:
        return self._frames

    @property
    def heartbeat_count(self) -> int:
        return self._heartbeats

    @property
    def unknown_count(self) -> int:
        return self._unknown

    @property
    def decode_error_count(self) -> int:
        return self._errors

    @property
    def last_error(self) -> str | None:
        return self._last_error

    @property
    def extreme_names(self) -> dict[ExtremeKind, str]:
        """Names from 0x374-0x377 (CanStackState has no place for them)."""
        return dict(self._names)

    def feed(self, arbitration_id: int, data: bytes) -> None:
        self._frames += 1
        if arbitration_id == HEARTBEAT_ID:
            self._heartbeats += 1
            return
        if arbitration_id not in BATTERY_IDS:
            self._unknown += 1
            return
        try:
            msg = decode_message(arbitration_id, data)
        except DecodeError as e:
            self._errors += 1
            self._last_error = e.reason
            return
        self._battery_ids.add(arbitration_id)
        match msg:
            case Limits():
                self._limits = msg
            case SocSoh():
                self._soc = msg
            case Measurements():
                self._measurements = msg
            case Protection():
                self._protection = msg
            case AlarmsV13():
                self._alarms_v13 = msg
            case Requests():
                self._requests = msg
            case Manufacturer():
                self._manufacturer = msg
            case BatteryInfo():
                self._info = msg
            case ModuleCounts():
                self._module_counts = msg
            case CellExtremes():
                self._extremes = msg
            case ExtremeName():
                self._names[msg.kind] = msg.name
            case Capacity():
                self._capacity = msg
            case Heartbeat():  # pragma: no cover - 0x305 is counted above
                pass

    def protocol(self) -> str:
        """ "pylon-v1.2" when 0x359/0x35C arrived (the set a V1.2 inverter needs is
        there, even if 0x35A/0x35F came too), else "pylon-v1.3" when 0x35A/0x35F
        did, else "pylon-unknown"."""
        if self._battery_ids & _V12_ONLY:
            return PROTOCOL_V12
        if self._battery_ids & _V13_ONLY:
            return PROTOCOL_V13
        return PROTOCOL_UNKNOWN

    def state(self) -> CanStackState | None:
        """The merged state, or None until a battery message decoded."""
        if not self._battery_ids:
            return None
        limits = self._limits.limits if self._limits else None
        voltage_v: float | None = None
        voltage_scale: VoltageScale | None = None
        current_a: float | None = None
        temp_c: float | None = None
        if self._measurements is not None:
            m = self._measurements
            # Re-pick the 0x356 scale now that the CVL may be known.
            at_centivolts = m.voltage_v if m.voltage_scale == "0.01 V" else m.voltage_v / 10
            cvl = limits.charge_voltage_v if limits else None
            voltage_v, voltage_scale = choose_voltage_scale(at_centivolts, cvl)
            current_a, temp_c = m.current_a, m.temp_c
        soc_pct: float | None = None
        soh_pct: float | None = None
        if self._soc is not None:
            s = self._soc
            soc_pct = s.soc_hires_pct if s.soc_hires_pct is not None else s.soc_pct
            soh_pct = s.soh_pct
        protections: list[str] = []
        alarms: list[str] = []
        module_count: int | None = None
        if self._protection is not None:
            p = self._protection
            protections += p.protections
            alarms += p.alarms
            protections += [b for b in p.unknown_bits if b.startswith("protection")]
            alarms += [b for b in p.unknown_bits if b.startswith("alarm")]
            module_count = p.module_count
        if self._alarms_v13 is not None:
            # 0x35A "alarms" are protection-level events, its "warnings" alarms.
            protections += [a for a in self._alarms_v13.alarms if a not in protections]
            alarms += [w for w in self._alarms_v13.warnings if w not in alarms]
        if module_count is None and self._module_counts is not None:
            module_count = self._module_counts.online
        capacity_ah: float | None = None
        if self._capacity is not None:
            capacity_ah = self._capacity.capacity_ah
        elif self._info is not None:
            capacity_ah = self._info.capacity_ah
        x = self._extremes
        return CanStackState(
            protocol=self.protocol(),
            limits=limits,
            soc_pct=soc_pct,
            soh_pct=soh_pct,
            voltage_v=voltage_v,
            voltage_scale=voltage_scale,
            current_a=current_a,
            temp_c=temp_c,
            protections=tuple(protections),
            alarms=tuple(alarms),
            module_count=module_count,
            request=self._requests.flags if self._requests else None,
            manufacturer=self._manufacturer.name if self._manufacturer else None,
            min_cell_v=x.min_cell_v if x else None,
            max_cell_v=x.max_cell_v if x else None,
            min_cell_temp_c=x.min_cell_temp_c if x else None,
            max_cell_temp_c=x.max_cell_temp_c if x else None,
            capacity_ah=capacity_ah,
            firmware=self._info.firmware if self._info else None,
        )
