"""Decode frames pasted as text (a sniffer log line, a candump field).

This is what ``active decode`` shows: it accepts the forms installers paste
(``~2002...``, with or without the CR, ``0x356``, ``356``, ``7A 13 F2 FE``) and
returns typed results. Pure: no I/O, no printing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from active_cli.errors import DecodeError, UsageError
from active_cli.protocols import pylon_can, pylon_rs485
from active_cli.protocols.pylon_rs485 import Command, Frame, Rtn, Variant


@dataclass(frozen=True)
class Rs485Decoded:
    """One RS485 frame, understood as far as the input allows."""

    kind: str  # "request" or "response"
    ver: int
    adr: int
    variant: str
    command: str | None  # e.g. "ANALOG (0x42)"; None when it could not be told
    command_guessed: bool
    rtn: str | None  # responses only, e.g. "NORMAL (0x00)"
    request: pylon_rs485.Request | None
    payload: Any  # the typed response dataclass, or None


@dataclass(frozen=True)
class CanDecoded:
    """One CAN frame decoded through the DBC."""

    arbitration_id: int
    message: str
    data: bytes
    signals: dict[str, float | int | str]
    decoded: Any  # the typed message dataclass


def _command_label(command: int) -> str:
    try:
        return f"{Command(command).name} (0x{command:02X})"
    except ValueError:
        return f"unknown (0x{command:02X})"


def decode_rs485(frames: list[str], command: int | None = None) -> list[Rs485Decoded]:
    """Decode one or two pasted RS485 frames.

    With two frames the first is the request and tells what the second (the
    response) answers, the order a sniffer log has them. A single response
    needs `command`, or the command is inferred from its INFO layout and marked
    as guessed. A request is recognised by its CID2: command codes and return
    codes do not overlap.
    """
    # How many frames were given, and which command, are the caller's choice,
    # not something wrong with a frame: usage errors (exit 2), not DecodeError.
    if not 1 <= len(frames) <= 2:
        raise UsageError(
            f"give one frame, or a request and its response (got {len(frames)})",
            hint="active decode rs485 '~2002...' ['~2002...']",
        )
    if command is not None and not 0 <= command <= 0xFF:
        raise UsageError(f"command 0x{command:X} does not fit in one byte (00..FF)")
    parsed = [pylon_rs485.decode_frame(text.strip()) for text in frames]
    results: list[Rs485Decoded] = []
    for frame in parsed:
        if _is_request(frame):
            request = pylon_rs485.parse_request(frame)
            command = request.command if command is None else command
            results.append(
                Rs485Decoded(
                    kind="request",
                    ver=frame.ver,
                    adr=frame.adr,
                    variant=Variant.from_ver(frame.ver).value,
                    command=_command_label(request.command),
                    command_guessed=False,
                    rtn=None,
                    request=request,
                    payload=None,
                )
            )
        else:
            results.append(_decode_response(frame, command))
    return results


def _is_request(frame: Frame) -> bool:
    return frame.cid2 in {c.value for c in Command} and frame.cid2 not in {r.value for r in Rtn}


def _decode_response(frame: Frame, command: int | None) -> Rs485Decoded:
    try:
        rtn = Rtn(frame.cid2)
    except ValueError:
        raise DecodeError(f"unknown RTN 0x{frame.cid2:02X}", frame=frame.encode()) from None
    variant = Variant.from_ver(frame.ver).value
    if rtn is not Rtn.NORMAL:
        return Rs485Decoded(
            kind="response",
            ver=frame.ver,
            adr=frame.adr,
            variant=variant,
            command=None if command is None else _command_label(command),
            command_guessed=False,
            rtn=f"{rtn.name} (0x{rtn.value:02X})",
            request=None,
            payload=None,
        )
    guessed = False
    if command is None:
        inferred = pylon_rs485.infer_command(frame)
        if inferred is None:
            raise DecodeError(
                "cannot tell which command this response answers",
                frame=frame.encode(),
                hint="paste the request before it, or give --command (e.g. --command 42)",
            )
        command, guessed = inferred, True
    return Rs485Decoded(
        kind="response",
        ver=frame.ver,
        adr=frame.adr,
        variant=variant,
        command=_command_label(command),
        command_guessed=guessed,
        rtn=f"{rtn.name} (0x{rtn.value:02X})",
        request=None,
        payload=pylon_rs485.parse_response(frame, command),
    )


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
    signals = pylon_can.decode_signals(arbitration_id, data)
    decoded = pylon_can.decode_message(arbitration_id, data)
    name = pylon_can.database().get_message_by_frame_id(arbitration_id).name
    return CanDecoded(
        arbitration_id=arbitration_id,
        message=name,
        data=data,
        signals=signals,
        decoded=decoded,
    )
