"""Decode frames pasted as text (a sniffer log line, a candump field).

This is what ``active decode rs485`` shows: it accepts the forms installers
paste (``~2002...``, with or without the CR) and returns typed results. Pure:
no I/O, no printing. CAN frames: `decode_can_text` (which loads the DBC, so
this module does not import cantools).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from active_cli.errors import DecodeError, UsageError
from active_cli.protocols import pylon_rs485
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
