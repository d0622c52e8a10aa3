"""The compiled fast path gives exactly what cantools and pylon_can give.

For every message of dbc/pylon_lv.dbc and every payload length a frame can
have (short frames cantools decodes with allow_truncated, frames padded past
the DBC length), hypothesis compares the compiled decoder with cantools'
``decode_message`` key by key, type by type and float bit by float bit, and the
plain decoder with `pylon_can.decode_signals` (including the DecodeErrors).
A synthetic DBC checks the compiler on shapes our DBC lacks (odd bit offsets,
signed fields, offsets, choices beside numbers) and that big-endian or float
signals are left to cantools.
"""

from __future__ import annotations

import math
from typing import Any

import cantools
import pytest
from cantools.database.can import Database
from cantools.database.namedsignalvalue import NamedSignalValue
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from active_cli.errors import DecodeError
from active_cli.logs.fast_decode import CompiledMessage, FastDecoder, compile_message
from active_cli.protocols import pylon_can

DB = pylon_can.database()
MESSAGES = {m.frame_id: m for m in DB.messages}
IDS = sorted(MESSAGES)
FAST = FastDecoder(cache_size=0)

payloads = st.binary(min_size=0, max_size=8)
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def assert_identical(got: dict[str, Any], want: dict[str, Any]) -> None:
    """Same keys in the same order, same types, same values (floats bit for bit)."""
    assert list(got) == list(want)
    for name in want:
        g, w = got[name], want[name]
        assert type(g) is type(w), (name, g, w)
        if isinstance(w, float):
            assert math.copysign(1, g) == math.copysign(1, w) and (
                g == w or (math.isnan(g) and math.isnan(w))
            ), (name, g, w)
            assert g.hex() == w.hex(), (name, g, w)
        elif isinstance(w, NamedSignalValue):
            assert (g.value, g.name) == (w.value, w.name), name
        else:
            assert g == w, (name, g, w)


def compiled(frame_id: int) -> CompiledMessage:
    result = compile_message(MESSAGES[frame_id])
    assert result is not None, f"0x{frame_id:03X} should compile"
    return result


def test_every_message_of_the_dbc_compiles() -> None:
    assert all(compile_message(m) is not None for m in DB.messages)
    assert all(FAST.compiled(i) is not None for i in IDS)


@pytest.mark.parametrize("frame_id", IDS, ids=lambda i: f"0x{i:03X}")
@SETTINGS
@given(data=payloads)
def test_compiled_decode_equals_cantools_decode_message(frame_id: int, data: bytes) -> None:
    want = DB.decode_message(frame_id, data, decode_choices=True, allow_truncated=True)
    assert isinstance(want, dict)
    assert_identical(compiled(frame_id).decode(data), want)


@pytest.mark.parametrize("frame_id", IDS, ids=lambda i: f"0x{i:03X}")
@SETTINGS
@given(st.data())
def test_full_length_frames_equal_cantools_strict_default(
    frame_id: int, data: st.DataObject
) -> None:
    # cantools' plain `decode_message(id, data)` (no truncation allowed).
    length = MESSAGES[frame_id].length
    payload = data.draw(st.binary(min_size=length, max_size=length))
    want = DB.decode_message(frame_id, payload)
    assert isinstance(want, dict)
    assert_identical(compiled(frame_id).decode(payload), want)


@pytest.mark.parametrize("frame_id", [*IDS, 0x123, 0x300, 0x7FF], ids=lambda i: f"0x{i:03X}")
@SETTINGS
@given(data=st.binary(min_size=0, max_size=10))
def test_plain_decode_equals_pylon_can_decode_signals(frame_id: int, data: bytes) -> None:
    try:
        want = pylon_can.decode_signals(frame_id, data)
    except DecodeError as e:
        with pytest.raises(DecodeError) as got:
            FAST.signals(frame_id, data)
        assert got.value.reason == e.reason
        return
    assert_identical(dict(FAST.signals(frame_id, data)), want)


@pytest.mark.parametrize(
    ("frame_id", "hex_data", "expected"),
    [
        # The real US5000 capture of protocols.md §4 (old firmware, V1.2).
        (0x351, "1402C012C012C201", {"ChargeVoltageLimit": 53.2, "DischargeVoltageLimit": 45.0}),
        (0x355, "58005E00", {"SOC": 88, "SOH": 94}),
        (0x356, "7A13F2FE6B01", {"Voltage": 49.86, "Current": -27.0, "Temperature": 36.3}),
        (0x359, "00000000065 04E", {"ModuleCount": 6, "Marker": "PN", "ProtOverVoltage": 0}),
        (0x35C, "C000", {"ChargeEnable": 1, "DischargeEnable": 1, "FullChargeRequest": 0}),
        (0x35F, "4C4901033C02AA00", {"FirmwareMajor": 1, "FirmwareMinor": 3, "Capacity": 572}),
        (0x35A, "0000000000000000", {"AlarmGeneral": "not_supported"}),
    ],
)
def test_recorded_frames(frame_id: int, hex_data: str, expected: dict[str, Any]) -> None:
    signals = FAST.signals(frame_id, bytes.fromhex(hex_data.replace(" ", "")))
    for name, value in expected.items():
        assert signals[name] == value
        assert type(signals[name]) is type(value)


def test_the_cache_is_bounded_and_least_recently_used() -> None:
    fast = FastDecoder(cache_size=3)
    frames = [bytes([i, 0x13, 0xF2, 0xFE, 0x6B, 0x01]) for i in range(5)]
    for data in frames[:3]:
        fast.signals(0x356, data)
    fast.signals(0x356, frames[0])  # touch: now the most recent
    fast.signals(0x356, frames[3])  # evicts frames[1], the least recent
    assert fast.hits == 1 and fast.misses == 4
    fast.signals(0x356, frames[0])
    assert fast.hits == 2
    fast.signals(0x356, frames[1])
    assert fast.misses == 5
    assert len(fast._cache) == 3
    assert fast.signals(0x356, frames[4]) == pylon_can.decode_signals(0x356, frames[4])


def test_unknown_ids_do_not_grow_the_per_length_table() -> None:
    fast = FastDecoder(cache_size=0)
    for can_id in range(0x400, 0x500):
        with pytest.raises(DecodeError):
            fast.signals(can_id, b"\x00")
    assert all(key[0] in MESSAGES for key in fast._by_length)


# --- the compiler on shapes our DBC does not have ----------------------------------

SYNTHETIC_DBC = """VERSION ""
NS_ :
BS_:
BU_: A
BO_ 100 Odd: 8 A
 SG_ Signed12 : 3|12@1- (0.5,-10) [-1034|1013.5] "x" A
 SG_ Flag : 15|1@1+ (1,0) [0|1] "" A
 SG_ Mode : 16|3@1+ (1,0) [0|7] "" A
 SG_ Scaled : 19|13@1+ (0.25,2) [2|2049.75] "y" A
 SG_ Big32 : 32|32@1- (3,7) [0|0] "" A
BO_ 200 Motorola: 4 A
 SG_ Be : 7|16@0+ (1,0) [0|65535] "" A
BO_ 300 Floaty: 4 A
 SG_ F : 0|32@1- (1,0) [0|0] "" A
SIG_VALTYPE_ 300 F : 1;
VAL_ 100 Mode 0 "off" 1 "on" 5 "fault" ;
"""


@pytest.fixture(scope="module")
def synthetic() -> Database:
    db = cantools.database.load_string(SYNTHETIC_DBC, database_format="dbc")
    assert isinstance(db, Database)
    return db


def test_big_endian_and_float_messages_are_left_to_cantools(synthetic: Database) -> None:
    assert compile_message(synthetic.get_message_by_frame_id(200)) is None
    assert compile_message(synthetic.get_message_by_frame_id(300)) is None
    assert compile_message(synthetic.get_message_by_frame_id(100)) is not None


@settings(max_examples=300, deadline=None)
@given(data=st.binary(min_size=0, max_size=10))
def test_compiler_on_odd_offsets_signs_scales_and_choices(data: bytes) -> None:
    db = cantools.database.load_string(SYNTHETIC_DBC, database_format="dbc")
    assert isinstance(db, Database)
    message = db.get_message_by_frame_id(100)
    fast = compile_message(message)
    assert fast is not None
    want = message.decode(data, decode_choices=True, allow_truncated=True)
    assert isinstance(want, dict)
    assert_identical(fast.decode(data), want)


def test_generated_source_is_readable() -> None:
    text, _ = compiled(0x356).source(6, plain=True)
    assert "round((r0 * 0.01 + 0), 2)" in text
    assert "r0 -= (r0 & 0x8000) << 1" in text
