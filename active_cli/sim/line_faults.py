"""Faults of the simulated RS485 wiring and CAN bus, and who put how many bytes on the line.

The packs' own faults live in `responder.py`; these are the site's, between
the adapter and the packs, the ones `active doctor` has to tell apart:

- ``swapped-ab``: A and B are crossed at the adapter. The packs still hear
  the request (the simulator's simplification: a real pack may or may not),
  but every byte of their reply reaches the adapter with its bits inverted,
  so what arrives never forms a frame.
- ``wrong-baud``: the packs run at the scenario's baud; an adapter set to
  another rate (`LineModel.adapter_baud`, 9600 until a client retunes it
  through `SimulatedSite.set_adapter_baud`) delivers its request to them as
  garbage, which nobody answers.
- ``busy-gateway``: an RS485-to-TCP gateway that serves one client, and that
  client is already connected (the inverter's logger, a monitoring box): any
  further connection is accepted and never answered.
- ``echo-adapter``: a two-wire adapter without echo suppression hands every
  request it sends straight back to its own client, before the reply.
- CAN ``termination = "missing"`` (`unterminated_cycle`): reflections on an
  unterminated bus corrupt most frames; the listener's controller reports
  error frames and only some of the battery's set gets through.

`LineCounts` counts the bytes each party put on the line, so a test can prove
that a passive listener (the tap) never sent a byte.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from typing import Final, Literal

LineFault = Literal["none", "swapped-ab", "wrong-baud", "busy-gateway", "echo-adapter"]
LINE_FAULTS: Final[tuple[LineFault, ...]] = (
    "none",
    "swapped-ab",
    "wrong-baud",
    "busy-gateway",
    "echo-adapter",
)
# What an RS485 adapter is set to out of the box (and what most tools open it at).
DEFAULT_ADAPTER_BAUD: Final = 9600

# SocketCAN's error classes (linux/can/error.h), carried in an error frame's
# arbitration id: what a controller on an unterminated bus reports.
CAN_ERR_PROT: Final = 0x008  # protocol violation (bit / form / stuff errors)
CAN_ERR_BUSERROR: Final = 0x080
UNTERMINATED_ERROR_CLASS: Final = CAN_ERR_PROT | CAN_ERR_BUSERROR
# Share of the battery's frames that survive the reflections of an open bus end.
UNTERMINATED_FRAME_SURVIVAL: Final = 0.3


@dataclass
class LineCounts:
    """Bytes put on the simulated line, by who sent them.

    ``clients``: the polling endpoints (pty, TCP gateway); ``master``: the
    simulated inverter polling as RS485 master; ``stack``: the packs' replies;
    ``taps``: bytes a tap listener wrote (a sniffer's writes go nowhere, but
    they are counted: a passive tool must leave this at zero).
    """

    clients: int = 0
    master: int = 0
    stack: int = 0
    taps: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, who: Literal["clients", "master", "stack", "taps"], count: int) -> None:
        with self._lock:
            setattr(self, who, getattr(self, who) + count)


def invert_bits(data: bytes) -> bytes:
    """Every byte as an adapter with A and B crossed receives it."""
    return bytes(b ^ 0xFF for b in data)


def garble_rate(data: bytes, sent_baud: int, heard_baud: int, rng: random.Random) -> bytes:
    """`data` sent at `sent_baud` as a UART at `heard_baud` receives it.

    Heard faster than sent, each byte spans several of the receiver's byte
    times and comes out as a few bytes of mostly 0x00/0x80/0xF8/0xFF; heard
    slower, several bytes merge into one. Either way no ``~`` ... CR frame
    survives (the exact bytes depend on the data; these are typical ones).
    """
    if sent_baud == heard_baud or not data:
        return data
    out = bytearray()
    if heard_baud > sent_baud:
        per_byte = max(1, round(heard_baud / sent_baud) // 4)
        for _ in data:
            out.extend(rng.choice(b"\x00\x80\xf8\xff\xe0\xfe") for _ in range(per_byte))
    else:
        merge = max(2, round(sent_baud / heard_baud))
        for _ in range(max(1, len(data) // merge)):
            out.append(rng.choice(b"\x00\x80\xf0\xfc\xff\x1f"))
    return bytes(b for b in out if b not in (0x7E, 0x0D)) or b"\x00"


class LineModel:
    """The wiring between one adapter and the packs: what each side hears of the other."""

    def __init__(self, fault: LineFault, stack_baud: int, rng: random.Random | None = None) -> None:
        self.fault = fault
        self.stack_baud = stack_baud
        self.adapter_baud = DEFAULT_ADAPTER_BAUD if fault == "wrong-baud" else stack_baud
        self.counts = LineCounts()
        self._rng = rng or random.Random(0)

    @property
    def gateway_busy(self) -> bool:
        """Is the (single-client) gateway already taken by another client?"""
        return self.fault == "busy-gateway"

    def request_heard(self, request: bytes) -> bytes:
        """The client's request as the packs hear it."""
        if self.fault == "wrong-baud":
            return garble_rate(request, self.adapter_baud, self.stack_baud, self._rng)
        return request

    def echo(self, request: bytes) -> bytes:
        """What the client's own adapter hands back before any reply (empty: nothing)."""
        return request if self.fault == "echo-adapter" else b""

    def reply_heard(self, reply: bytes) -> bytes:
        """The packs' reply as the client's adapter delivers it."""
        if self.fault == "swapped-ab":
            return invert_bits(reply)
        if self.fault == "wrong-baud":
            return garble_rate(reply, self.stack_baud, self.adapter_baud, self._rng)
        return reply


def unterminated_cycle(
    frames: list[tuple[int, bytes]], rng: random.Random
) -> list[tuple[int, bytes] | None]:
    """One broadcast cycle on a bus with no terminator: None stands for an error frame."""
    return [f if rng.random() < UNTERMINATED_FRAME_SURVIVAL else None for f in frames]
