"""Decode a CAN frame pasted as text (a candump field: ``0x356``, ``356``, ``7A 13 F2 FE``).

This is what ``active decode can`` shows, through the DBC's digest
(`can_digest`: cantools' reading of ``dbc/pylon_lv.dbc``, checked equal to
`pylon_can.decode_signals` by the tests), so a pasted frame is decoded without
the 0.3 s import of cantools. Pure: no I/O, no printing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from active_cli.errors import DecodeError
from active_cli.protocols.can_messages import CanMessage, SignalValue


@dataclass(frozen=True)
class CanDecoded:
    """One CAN frame decoded through the DBC."""

    arbitration_id: int
    message: str
    data: bytes
    signals: dict[str, SignalValue]
    decoded: CanMessage


_HEX_ID = re.compile(r"^(?:0[xX])?([0-9A-Fa-f]{1,8})$")


def parse_can_id(text: str) -> int:
    """``0x356``, ``356`` (hex, as candump prints it) -> 0x356."""
    match = _HEX_ID.match(text.strip())
    if match is None:
        raise DecodeError(f"CAN id {text!r} is not hexadecimal (e.g. 0x356 or 356)")
    value = int(match.group(1), 16)
    if value > 0x1FFFFFFF:
        raise DecodeError(f"CAN id 0x{value:X} is larger than 29 bits")
    return value


def parse_hex_bytes(parts: list[str]) -> bytes:
    """``7A13F2FE`` or ``7A 13 F2 FE`` or ``7a:13:f2:fe`` -> bytes (at most 8 for CAN)."""
    text = "".join(parts).replace(" ", "").replace(":", "").replace(".", "")
    if text.lower().startswith("0x"):
        text = text[2:]
    if len(text) % 2:
        raise DecodeError(f"data {text!r} has an odd number of hex digits")
    try:
        data = bytes.fromhex(text)
    except ValueError:
        raise DecodeError(f"data {text!r} is not hexadecimal") from None
    if len(data) > 8:
        raise DecodeError(f"a classic CAN frame carries at most 8 bytes (got {len(data)})")
    return data


def decode_can(id_text: str, data_parts: list[str]) -> CanDecoded:
    arbitration_id = parse_can_id(id_text)
    data = parse_hex_bytes(data_parts)
    # Parsing an id, as `log decode --id` does, must not cost reading the digest.
    from active_cli.protocols import can_digest
    from active_cli.protocols.can_messages import message_from_signals

    signals = can_digest.decode_signals(arbitration_id, data)
    return CanDecoded(
        arbitration_id=arbitration_id,
        message=can_digest.load_digest()[arbitration_id].name,
        data=data,
        signals=signals,
        decoded=message_from_signals(arbitration_id, signals),
    )
