"""Protocol coverage seen in real captures (issue: field readiness, item 12).

0x42 replies with more user-defined fields than the known layouts (PACE
firmware sends P = 9 with extra capacity fields), CAN frames shorter than the
DBC for 0x35A, 0x35F, 0x372 and 0x373, and 0x35F firmware bytes read both ways.
"""

from __future__ import annotations

import struct

import pytest

from active_cli.errors import DecodeError
from active_cli.protocols import pylon_can
from active_cli.protocols.pylon_rs485 import Variant, parse_analog


def _block_p9(cell_mv: int, extras: tuple[int, ...]) -> bytes:
    """One pack block with P = 9: the P = 2 fields, then seven more u16 fields."""
    out = bytes([16]) + struct.pack(">16H", *([cell_mv] * 16))
    out += bytes([6]) + struct.pack(">6h", *([2981] * 6))  # 25.0 C
    out += struct.pack(">hHH", -50, cell_mv * 16, 50000)  # -5.0 A, V, 50.000 Ah
    out += bytes([9]) + struct.pack(">HH", 65000, 42)  # full 65.000 Ah, 42 cycles
    return out + struct.pack(f">{len(extras)}H", *extras)


def test_a_p9_two_pack_reply_decodes_the_known_fields_and_keeps_the_rest_raw() -> None:
    extras = (100, 200, 300, 400, 500, 600, 700)
    info = bytes([0x00, 2]) + _block_p9(3300, extras) + _block_p9(3310, extras)
    reply = parse_analog(info, Variant.PYLON)
    assert len(reply.packs) == 2
    first, second = reply.packs
    assert first.cell_voltages_v == (3.3,) * 16 and second.cell_voltages_v == (3.31,) * 16
    assert first.current_a == pytest.approx(-5.0) and first.cycles == 42
    assert first.remaining_ah == pytest.approx(50.0) and first.full_ah == pytest.approx(65.0)
    assert first.extra_raw == struct.pack(">7H", *extras) == second.extra_raw


def test_a_single_p9_pack_keeps_everything_after_the_cycles() -> None:
    info = bytes([0x00, 1]) + _block_p9(3300, (1, 2, 3, 4, 5, 6, 7))
    (pack,) = parse_analog(info).packs
    assert len(pack.extra_raw) == 14 and pack.voltage_v == pytest.approx(52.8)


def test_p1_is_still_refused() -> None:
    block = bytearray(_block_p9(3300, ()))
    block[1 + 32 + 1 + 12 + 6] = 1  # the P byte
    with pytest.raises(DecodeError, match="P=1"):
        parse_analog(bytes([0x00, 1]) + bytes(block))


@pytest.mark.parametrize(
    ("can_id", "data"),
    [
        (0x35A, bytes(7)),
        (0x35F, b"LI\x01\x03\x3c\x02"),
        (0x372, bytes([16, 0, 0, 0])),
        (0x373, bytes([0xE4, 0x0C, 0xF8, 0x0C])),
    ],
)
def test_short_frames_decode_the_bytes_present(can_id: int, data: bytes) -> None:
    message = pylon_can.decode_message(can_id, data)
    assert message is not None


def test_short_0x35f_0x372_0x373_values() -> None:
    info = pylon_can.decode_message(0x35F, b"LI\x01\x03\x3c\x02")
    assert isinstance(info, pylon_can.BatteryInfo)
    assert info.chemistry == "LI" and info.firmware == "1.3" and info.capacity_ah == 572
    counts = pylon_can.decode_message(0x372, bytes([16, 0, 0, 0]))
    assert isinstance(counts, pylon_can.ModuleCounts) and counts.online == 16
    cells = pylon_can.decode_message(0x373, bytes([0xE4, 0x0C, 0xF8, 0x0C]))
    assert isinstance(cells, pylon_can.CellExtremes)
    assert (cells.min_cell_v, cells.max_cell_v) == (3.300, 3.320)
    assert cells.min_cell_temp_c is None and cells.max_cell_temp_c is None


def test_0x35f_firmware_is_shown_both_ways_where_the_readings_differ() -> None:
    same = pylon_can.decode_message(0x35F, b"LI\x01\x03\x3c\x02\xaa\x00")
    assert isinstance(same, pylon_can.BatteryInfo) and same.firmware == "1.3"
    differ = pylon_can.decode_message(0x35F, b"LI\x01\x12\x3c\x02\xaa\x00")
    assert isinstance(differ, pylon_can.BatteryInfo)
    # 0x12 is 18 read as a number, "12" read as BCD digits.
    assert differ.firmware == "1.18 (BCD: 1.12)"
