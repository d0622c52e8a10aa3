"""Pylon LV CAN: the DBC, the signal and typed codecs, and the state builder.

Recorded frames are the real US5000 captures of protocols.md §4 with the values
that source states; the rest are hand-built frames for each tolerance case of
§2.4, and hypothesis round trips over every message of the DBC.
"""

from __future__ import annotations

import ast
import math
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import cantools
import pytest
from cantools.database.can import Message
from cantools.database.can.signal import Signal
from hypothesis import given, settings
from hypothesis import strategies as st

from active_cli.errors import DecodeError
from active_cli.model import CanStackState, ChargeLimits, RequestFlags
from active_cli.protocols import can_messages, pylon_can
from active_cli.protocols.pylon_can import (
    BATTERY_IDS,
    HEARTBEAT_ID,
    PYLON_V12_IDS,
    PYLON_V13_IDS,
    AlarmsV13,
    BatteryInfo,
    CanMessage,
    CanStateBuilder,
    Capacity,
    CellExtremes,
    ExtremeName,
    Heartbeat,
    Limits,
    Manufacturer,
    Measurements,
    ModuleCounts,
    Protection,
    Requests,
    SocSoh,
    choose_voltage_scale,
    database,
    decode_message,
    decode_signals,
    encode_message,
    encode_signals,
)
from active_cli.resources import data_file

DBC_PATH = data_file("dbc", "pylon_lv.dbc")
MESSAGES: list[Message] = sorted(database().messages, key=lambda m: m.frame_id)


def frame(hex_bytes: str) -> bytes:
    return bytes.fromhex(hex_bytes)


# --- the DBC ------------------------------------------------------------------


def test_dbc_loads_strict_with_every_message_of_the_reference() -> None:
    db = cantools.database.load_file(DBC_PATH, strict=True)
    assert isinstance(db, cantools.database.can.Database)
    ids = {m.frame_id for m in db.messages}
    assert ids == {
        0x305, 0x351, 0x355, 0x356, 0x359, 0x35A, 0x35C, 0x35E, 0x35F,
        0x372, 0x373, 0x374, 0x375, 0x376, 0x377, 0x379,
    }  # fmt: skip
    assert ids == BATTERY_IDS | {HEARTBEAT_ID}
    assert {n.name for n in db.nodes} == {"BMS", "INVERTER"}
    assert db.buses[0].baudrate == 500_000


def test_dbc_dlcs_are_pylontechs_own() -> None:
    # protocols.md §2.1; 0x355 is 6 (V1.3 layout), the decoder accepts 4.
    lengths = {m.frame_id: m.length for m in MESSAGES}
    assert {i: lengths[i] for i in (0x351, 0x355, 0x356, 0x359, 0x35C, 0x35E)} == {
        0x351: 8, 0x355: 6, 0x356: 6, 0x359: 7, 0x35C: 2, 0x35E: 8,
    }  # fmt: skip


@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: m.name)
def test_dbc_message_conventions(message: Message) -> None:
    expected_sender = "INVERTER" if message.frame_id == HEARTBEAT_ID else "BMS"
    assert message.senders == [expected_sender]
    assert not message.is_extended_frame
    assert message.cycle_time == 1000
    assert message.comment
    for signal in message.signals:
        assert signal.byte_order == "little_endian", signal.name
        assert signal.comment, signal.name


def test_dbc_flags_are_one_bit_and_pairs_have_value_tables() -> None:
    protection = database().get_message_by_frame_id(0x359)
    bits = [s for s in protection.signals if s.start < 32]
    assert len(bits) == 32 and all(s.length == 1 for s in bits)
    marker = protection.get_signal_by_name("Marker")
    assert marker.choices == {0x4E50: "PN"}
    pairs = database().get_message_by_frame_id(0x35A).signals
    assert len(pairs) == 26
    for s in pairs:
        assert s.length == 2
        assert s.choices is not None
        assert {k: str(v) for k, v in s.choices.items()} == {
            0: "not_supported", 1: "raised", 2: "cleared", 3: "not_supported",
        }  # fmt: skip


def test_dbc_scaling_signedness_units() -> None:
    def sig(frame_id: int, name: str) -> Signal:
        return database().get_message_by_frame_id(frame_id).get_signal_by_name(name)

    table = [
        (0x351, "ChargeVoltageLimit", 0, 16, False, 0.1, "V"),
        (0x351, "ChargeCurrentLimit", 16, 16, True, 0.1, "A"),
        (0x351, "DischargeCurrentLimit", 32, 16, True, 0.1, "A"),
        (0x351, "DischargeVoltageLimit", 48, 16, False, 0.1, "V"),
        (0x355, "SOC", 0, 16, False, 1, "%"),
        (0x355, "SOH", 16, 16, False, 1, "%"),
        (0x355, "SOC_HiRes", 32, 16, False, 0.01, "%"),
        (0x356, "Voltage", 0, 16, True, 0.01, "V"),
        (0x356, "Current", 16, 16, True, 0.1, "A"),
        (0x356, "Temperature", 32, 16, True, 0.1, "degC"),
        (0x373, "MinCellVoltage", 0, 16, False, 0.001, "V"),
        (0x373, "MaxCellTemp", 48, 16, False, 1, "degC"),
        (0x379, "InstalledCapacity", 0, 16, False, 1, "Ah"),
    ]
    for frame_id, name, start, length, signed, scale, unit in table:
        s = sig(frame_id, name)
        assert (s.start, s.length, s.is_signed, s.scale, s.unit) == (
            start, length, signed, scale, unit,
        ), name  # fmt: skip
    assert sig(0x373, "MinCellTemp").offset == -273.15


def test_cantools_dump_shows_the_database() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "cantools", "dump", str(DBC_PATH)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    for text in ("BMS_Limits", "Id:             0x35e", "20048 PN", "1 raised", "Prot2_Bit7"):
        assert text in out


def test_module_is_pure() -> None:
    tree = ast.parse(Path(pylon_can.__file__).read_text())
    imported = {
        (node.module or "") if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    for name in imported:
        root = name.split(".")[0]
        assert root not in {"can", "serial"}, name
        assert not name.startswith(("active_cli.links", "active_cli.cli", "active_cli.sim")), name


# --- round trips over every message --------------------------------------------


def _places(x: float) -> int:
    exponent = Decimal(str(x)).normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def _raw_bounds(s: Signal) -> tuple[int, int]:
    if s.is_signed:
        lo, hi = -(1 << (s.length - 1)), (1 << (s.length - 1)) - 1
    else:
        lo, hi = 0, (1 << s.length) - 1
    if s.minimum is not None:
        lo = max(lo, math.ceil((s.minimum - s.offset) / s.scale - 1e-9))
    if s.maximum is not None:
        hi = min(hi, math.floor((s.maximum - s.offset) / s.scale + 1e-9))
    return lo, hi


def _physical(s: Signal, raw: int) -> float | int:
    value = raw * s.scale + s.offset
    digits = max(_places(s.scale), _places(s.offset))
    return round(value, digits) if digits else round(value)


@st.composite
def signal_values(draw: st.DrawFn, message: Message) -> dict[str, float | int]:
    """Each signal at a value within its DBC range, on its resolution grid."""
    return {
        s.name: _physical(s, draw(st.integers(*_raw_bounds(s)), label=s.name))
        for s in message.signals
    }


def _expected(message: Message, values: dict[str, float | int]) -> dict[str, object]:
    out: dict[str, object] = {}
    for s in message.signals:
        value = values[s.name]
        choice = s.choices.get(int(value)) if s.choices and value == int(value) else None
        out[s.name] = value if choice is None else str(choice)
    return out


@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: m.name)
@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_signals_round_trip(message: Message, data: st.DataObject) -> None:
    values = data.draw(signal_values(message))
    payload = encode_signals(message.frame_id, values)
    assert len(payload) == message.length
    decoded = decode_signals(message.frame_id, payload)
    assert decoded == _expected(message, values)
    padded = encode_signals(message.frame_id, values, pad_to_8=True)
    assert padded == payload.ljust(8, b"\x00")
    assert decode_signals(message.frame_id, padded) == decoded


# Messages whose typed form keeps every bit of a full-length frame. Not 0x359 and
# 0x35F: their "PN"/"LI" are text, and text loses trailing spaces and NULs.
LOSSLESS = {0x305, 0x351, 0x356, 0x372, 0x373, 0x379}


@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: m.name)
@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_typed_round_trip(message: Message, data: st.DataObject) -> None:
    payload = encode_signals(message.frame_id, data.draw(signal_values(message)))
    msg = decode_message(message.frame_id, payload)
    arbitration_id, again = encode_message(msg)
    assert arbitration_id == message.frame_id
    assert decode_message(arbitration_id, again) == msg
    _, padded = encode_message(msg, pad_to_8=True)
    assert len(padded) == 8
    assert decode_message(arbitration_id, padded) == msg
    if message.frame_id in LOSSLESS:
        assert again == payload


@settings(max_examples=300, deadline=None)
@given(
    arbitration_id=st.sampled_from(sorted(BATTERY_IDS | {HEARTBEAT_ID, 0x000, 0x7FF, 0x18FF50E5})),
    payload=st.binary(min_size=0, max_size=12),
)
def test_decoding_anything_raises_decode_error_only(arbitration_id: int, payload: bytes) -> None:
    try:
        decode_signals(arbitration_id, payload)
        decode_message(arbitration_id, payload)
    except DecodeError as e:
        assert e.reason
        assert e.frame == payload


# --- the real US5000 captures (protocols.md §4) ---------------------------------

OLD_FIRMWARE: list[tuple[int, str, CanMessage]] = [
    (0x351, "14 02 C0 12 C0 12 C2 01", Limits(ChargeLimits(53.2, 480.0, 480.0, 45.0))),
    (0x355, "58 00 5E 00", SocSoh(88, 94, None)),
    (0x356, "7A 13 F2 FE 6B 01", Measurements(49.86, -27.0, 36.3, "0.01 V")),
    (0x359, "00 00 00 00 06 50 4E", Protection((), (), 6, (), "PN")),
    (0x35C, "C0 00", Requests(RequestFlags(charge_enable=True, discharge_enable=True))),
    (0x35E, "50 59 4C 4F 4E 20 20 20", Manufacturer("PYLON")),
]
NEW_FIRMWARE: list[tuple[int, str, CanMessage]] = [
    (0x351, "10 02 C0 12 C0 12 C2 01", Limits(ChargeLimits(52.8, 480.0, 480.0, 45.0))),
    (0x355, "54 00 60 00 00 00", SocSoh(84, 96, None)),
    (0x356, "7B 13 E9 FE 6B 01", Measurements(49.87, -27.9, 36.3, "0.01 V")),
    (0x35A, "00 00 00 00 00 00 00 00", AlarmsV13()),
    (0x35E, "50 59 4C 4F 4E 20 20 20", Manufacturer("PYLON")),
    (0x35F, "4C 49 01 03 3C 02 AA 00", BatteryInfo("LI", 1, 3, 572.0, 0xAA)),
]


@pytest.mark.parametrize(
    ("arbitration_id", "hex_bytes", "expected"),
    OLD_FIRMWARE + NEW_FIRMWARE,
    ids=[f"old-{i:03X}" for i, _, _ in OLD_FIRMWARE] + [f"new-{i:03X}" for i, _, _ in NEW_FIRMWARE],
)
def test_us5000_captures(arbitration_id: int, hex_bytes: str, expected: CanMessage) -> None:
    payload = frame(hex_bytes)
    assert decode_message(arbitration_id, payload) == expected
    assert decode_message(arbitration_id, payload.ljust(8, b"\x00")) == expected
    if hex_bytes != "54 00 60 00 00 00":  # V1.3's placeholder 0 re-encodes as V1.2's DLC 4
        assert encode_message(expected) == (arbitration_id, payload)


def test_capture_signal_values() -> None:
    assert decode_signals(0x356, frame("7A 13 F2 FE 6B 01")) == {
        "Voltage": 49.86, "Current": -27.0, "Temperature": 36.3,
    }  # fmt: skip
    assert decode_signals(0x35F, frame("4C 49 01 03 3C 02 AA 00"))["Capacity"] == 572
    assert decode_signals(0x359, frame("00 00 00 00 06 50 4E"))["Marker"] == "PN"


# --- tolerance (protocols.md §2.4) ----------------------------------------------


def test_soc_frame_lengths() -> None:
    assert decode_message(0x355, frame("58 00 5E 00")) == SocSoh(88, 94, None)
    assert decode_message(0x355, frame("54 00 60 00 00 00")) == SocSoh(84, 96, None)
    assert decode_message(0x355, frame("58 00 5E 00 6C 22")) == SocSoh(88, 94, 88.12)
    assert decode_signals(0x355, frame("58 00 5E 00")) == {"SOC": 88, "SOH": 94}
    # No hi-res SOC encodes as Pylontech V1.2's 4 bytes; 0.0 as newer firmware's 6.
    assert encode_message(SocSoh(88, 94)) == (0x355, frame("58 00 5E 00"))
    assert encode_message(SocSoh(84, 96, 0.0)) == (0x355, frame("54 00 60 00 00 00"))


def test_limits_without_dvl_and_negative_dcl() -> None:
    assert decode_message(0x351, frame("14 02 C0 12 C0 12")) == Limits(
        ChargeLimits(53.2, 480.0, 480.0, None)
    )
    negative = decode_message(0x351, frame("14 02 C0 12 40 ED C2 01"))  # DCL -480.0 A
    assert negative == Limits(ChargeLimits(53.2, 480.0, 480.0, 45.0), True)
    assert encode_message(negative) == (0x351, frame("14 02 C0 12 40 ED C2 01"))
    assert encode_message(Limits(ChargeLimits(53.2, 480.0, 480.0))) == (
        0x351, frame("14 02 C0 12 C0 12"),
    )  # fmt: skip


@pytest.mark.parametrize(
    "hex_bytes",
    ["50 59 4C 4F 4E 20 20 20", "50 59 4C 4F 4E 00 00 00", "50 59 4C 4F 4E", "50 59 4C 4F 4E 20"],
)
def test_manufacturer_padding_variants(hex_bytes: str) -> None:
    assert decode_message(0x35E, frame(hex_bytes)) == Manufacturer("PYLON")


def test_text_keeps_odd_bytes() -> None:
    # Latin-1: every byte is one character, so nothing sent is lost.
    msg = decode_message(0x35E, frame("42 59 44 FF 00 41 00 00"))
    assert msg == Manufacturer("BYD\xff\x00A")
    assert encode_message(msg)[1] == frame("42 59 44 FF 00 41 20 20")
    assert decode_message(0x376, frame("42 31 54 33")) == ExtremeName("min_cell_temp", "B1T3")


@pytest.mark.parametrize(
    ("hex_bytes", "cvl", "expected"),
    [
        ("7A 13", None, (49.86, "0.01 V")),  # Pylontech, SMA, MG, real dumps
        ("F2 01", None, (49.8, "0.1 V")),  # Sol-Ark V1.3, Discover
        ("F2 01", 53.2, (49.8, "0.1 V")),
        ("64 0A", None, (26.6, "0.01 V")),  # 24 V pack: nothing in 40-60 V, spec scale
        ("0A 01", None, (2.66, "0.01 V")),
        ("0A 01", 28.4, (26.6, "0.1 V")),  # ... the CVL settles it
        ("00 00", 53.2, (0.0, "0.01 V")),  # BMS output off
    ],
)
def test_voltage_scale_pick(hex_bytes: str, cvl: float | None, expected: tuple[float, str]) -> None:
    msg = decode_message(0x356, frame(hex_bytes + " 00 00 FA 00"), charge_voltage_v=cvl)
    assert isinstance(msg, Measurements)
    assert (msg.voltage_v, msg.voltage_scale) == expected
    assert msg.temp_c == 25.0
    assert encode_message(msg)[1] == frame(hex_bytes + " 00 00 FA 00")


def test_choose_voltage_scale_prefers_cvl_then_window() -> None:
    assert choose_voltage_scale(5.12) == (51.2, "0.1 V")
    assert choose_voltage_scale(51.2) == (51.2, "0.01 V")
    assert choose_voltage_scale(51.2, 53.2) == (51.2, "0.01 V")
    assert choose_voltage_scale(-5.0) == (-5.0, "0.01 V")


def test_protection_flags_by_bit_and_unknown_bits_by_number() -> None:
    msg = decode_message(0x359, frame("9E 09 9E 09 10 50 4E"))
    assert msg == Protection(
        protections=(
            "over_voltage", "under_voltage", "cell_over_temperature", "cell_under_temperature",
            "discharge_over_current", "charge_over_current", "system_error",
        ),
        alarms=(
            "high_voltage", "low_voltage", "high_temperature", "low_temperature",
            "discharge_high_current", "charge_high_current", "internal_communication_fail",
        ),
        module_count=16,
    )  # fmt: skip
    assert encode_message(msg) == (0x359, frame("9E 09 9E 09 10 50 4E"))
    # Some emitters put system error (and charge over-current) at byte 1 b7.
    odd = decode_message(0x359, frame("01 80 20 00 02 00 00"))
    assert odd == Protection(
        module_count=2,
        unknown_bits=("protection1_bit0", "protection2_bit7", "alarm1_bit5"),
        marker="",
    )
    assert encode_message(odd) == (0x359, frame("01 80 20 00 02 00 00"))


def test_requests_bits() -> None:
    assert decode_message(0x35C, frame("38 00")) == Requests(
        RequestFlags(False, False, force_charge_1=True, force_charge_2=True, full_charge=True)
    )
    assert decode_message(0x35C, frame("40 00")) == Requests(RequestFlags(False, True))


def test_alarms_v13_pairs() -> None:
    msg = decode_message(0x35A, frame("04 00 00 00 AA AA AA AA"))
    assert msg == AlarmsV13(
        alarms=("high_voltage",),
        cleared_warnings=tuple(can_messages.V13_ITEMS.values()),
    )
    # 11 reads as "not supported", like 00.
    assert decode_message(0x35A, frame("FF FF FF FF 00 00 00 00")) == AlarmsV13()
    assert decode_signals(0x35A, frame("04 00 00 00 AA AA AA AA"))["AlarmHighVoltage"] == "raised"


def test_extension_messages() -> None:
    assert decode_message(0x372, frame("06 00 00 00 01 00 00 00")) == ModuleCounts(6, 0, 1, 0)
    assert decode_message(0x373, frame("E4 0C F3 0C 2A 01 2F 01")) == CellExtremes(
        3.3, 3.315, 24.85, 29.85
    )
    assert decode_message(0x379, frame("E8 03")) == Capacity(1000.0)
    assert decode_message(0x379, frame("E8 03 00 00 00 00 00 00")) == Capacity(1000.0)
    assert encode_message(ExtremeName("max_cell_voltage", "M02C07")) == (
        0x375, frame("4D 30 32 43 30 37 00 00"),
    )  # fmt: skip


def test_heartbeat_any_content_any_length() -> None:
    assert decode_message(0x305, bytes(8)) == Heartbeat(bytes(8))
    assert decode_message(0x305, b"") == Heartbeat(b"")
    sma = frame("0A 02 F2 FE 6B 01 58 00")
    assert decode_message(0x305, sma) == Heartbeat(sma)
    assert encode_message(Heartbeat()) == (0x305, bytes(8))
    assert encode_message(Heartbeat(b"\x01"), pad_to_8=True) == (0x305, frame("01" + "00" * 7))


@pytest.mark.parametrize(
    ("arbitration_id", "payload", "reason"),
    [
        (0x123, b"\x00", "unknown CAN id 0x123"),
        (0x351, frame("14 02 C0 12 C0"), "0x351 BMS_Limits: 5 data bytes, needs at least 6"),
        (0x355, frame("58 00 5E"), "0x355 BMS_SocSoh: 3 data bytes, needs at least 4"),
        (0x356, frame("7A 13 F2"), "0x356 BMS_Measurements: 3 data bytes, needs at least 6"),
        (0x359, frame("00 00 00 00 06 50"), "0x359 BMS_Protection: 6 data bytes, needs at least 7"),
        (0x35C, b"", "0x35C BMS_Request: 0 data bytes, needs at least 2"),
        (0x35E, bytes(9), "0x35E BMS_Manufacturer: 9 data bytes, a classic CAN frame"),
    ],
)
def test_decode_errors_are_precise(arbitration_id: int, payload: bytes, reason: str) -> None:
    with pytest.raises(DecodeError) as info:
        decode_message(arbitration_id, payload)
    assert info.value.reason.startswith(reason)
    assert info.value.frame == payload


def test_encode_rejects_what_the_dbc_cannot_carry() -> None:
    with pytest.raises(ValueError, match="no signal"):
        encode_signals(0x351, {"Bogus": 1})
    with pytest.raises(ValueError, match="0x355"):
        encode_signals(0x355, {"SOC": 101})
    with pytest.raises(ValueError, match="unknown CAN id"):
        encode_signals(0x123, {})
    with pytest.raises(ValueError, match="protection flag"):
        encode_message(Protection(protections=("on_fire",)))
    with pytest.raises(ValueError, match="longer than 8"):
        encode_message(Manufacturer("PYLONTECH"))
    with pytest.raises(ValueError, match="not one byte"):
        encode_message(Manufacturer("Pylön€"))
    with pytest.raises(ValueError, match="at most 8"):
        encode_message(Heartbeat(bytes(9)))


def test_encode_signals_defaults_missing_signals() -> None:
    assert encode_signals(0x359, {"ProtSystemError": 1, "ModuleCount": 2, "Marker": "PN"}) == (
        frame("00 08 00 00 02 50 4E")
    )
    # 0 degC is 273 K on the wire.
    assert encode_signals(0x373, {}) == frame("00 00 00 00 11 01 11 01")


# --- the state builder ------------------------------------------------------------


def feed_all(builder: CanStateBuilder, frames: list[tuple[int, str, CanMessage]]) -> None:
    for arbitration_id, hex_bytes, _ in frames:
        builder.feed(arbitration_id, frame(hex_bytes))


def test_builder_v12_cycle() -> None:
    builder = CanStateBuilder()
    builder.feed(HEARTBEAT_ID, bytes(8))
    assert builder.state() is None  # a heartbeat is not battery data
    feed_all(builder, OLD_FIRMWARE)
    builder.feed(0x1FF, b"\x01")  # someone else's frame
    builder.feed(0x356, b"\x7a")  # a torn frame
    assert builder.state() == CanStackState(
        protocol="pylon-v1.2",
        limits=ChargeLimits(53.2, 480.0, 480.0, 45.0),
        soc_pct=88.0,
        soh_pct=94.0,
        voltage_v=49.86,
        voltage_scale="0.01 V",
        current_a=-27.0,
        temp_c=36.3,
        module_count=6,
        request=RequestFlags(charge_enable=True, discharge_enable=True),
        manufacturer="PYLON",
    )
    assert builder.frame_count == 9
    assert builder.heartbeat_count == 1
    assert builder.unknown_count == 1
    assert builder.decode_error_count == 1
    assert builder.last_error is not None and builder.last_error.startswith("0x356")


def test_builder_v13_cycle_with_extensions() -> None:
    builder = CanStateBuilder()
    feed_all(builder, NEW_FIRMWARE)
    builder.feed(0x35A, frame("00 01 00 00 00 00 04 00"))  # latest wins: alarm + warning
    builder.feed(0x373, frame("E4 0C F3 0C 2A 01 2F 01"))
    builder.feed(0x372, frame("06 00 00 00 00 00 00 00"))
    builder.feed(0x377, frame("42 32 54 31 00 00 00 00"))
    assert builder.state() == CanStackState(
        protocol="pylon-v1.3",
        limits=ChargeLimits(52.8, 480.0, 480.0, 45.0),
        soc_pct=84.0,
        soh_pct=96.0,
        voltage_v=49.87,
        voltage_scale="0.01 V",
        current_a=-27.9,
        temp_c=36.3,
        protections=("low_temperature",),
        alarms=("contactor",),
        module_count=6,
        manufacturer="PYLON",
        min_cell_v=3.3,
        max_cell_v=3.315,
        min_cell_temp_c=24.85,
        max_cell_temp_c=29.85,
        capacity_ah=572.0,
        firmware="1.3",
    )
    assert builder.extreme_names == {"max_cell_temp": "B2T1"}
    assert builder.decode_error_count == 0


def test_builder_merges_unknown_bits_and_picks_scale_with_cvl() -> None:
    builder = CanStateBuilder()
    builder.feed(0x356, frame("0A 01 00 00 FA 00"))  # 266 counts: 2.66 V or 26.6 V
    first = builder.state()
    assert first is not None and first.protocol == "pylon-unknown"
    assert (first.voltage_v, first.voltage_scale) == (2.66, "0.01 V")
    builder.feed(0x351, frame("1C 01 E8 03 E8 03 E8 00"))  # CVL 28.4 V: a 24 V pack
    builder.feed(0x359, frame("00 80 00 40 01 50 4E"))
    builder.feed(0x35A, frame("00 00 00 00 00 00 00 00"))
    builder.feed(0x379, frame("C8 00"))
    state = builder.state()
    assert state is not None
    assert (state.voltage_v, state.voltage_scale) == (26.6, "0.1 V")
    assert state.protocol == "pylon-v1.2"  # both sets seen: the V1.2 set is complete
    assert state.protections == ("protection2_bit7",)
    assert state.alarms == ("alarm2_bit6",)
    assert state.capacity_ah == 200.0


def test_profiles() -> None:
    assert {i for i, _, _ in OLD_FIRMWARE} == PYLON_V12_IDS
    assert {i for i, _, _ in NEW_FIRMWARE} == PYLON_V13_IDS
    assert HEARTBEAT_ID == 0x305
