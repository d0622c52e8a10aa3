"""Pair what the RS485 master (the inverter) asks with what the battery answers, from a tap.

A tap hears both sides of the half-duplex line as one byte stream. The frames
come in order: a request, then (within the BMS latency and the reply's wire
time) the addressed pack's reply, then the next request. `Rs485Pairer` is fed
each frame with the moment its CR arrived and pairs a reply with the open
request when the reply can answer it (`serial_link.stray_reason`: the pack's
own ADR and the battery CID1) and came within `reply_window_s`; a request that
a second request or the window ends is unanswered. It decodes both sides,
keeps per-address counts and latencies, and counts the run of consecutive
replies the inverter could accept (a reply that decodes with RTN 00), which
is what an inverter's "BMS present" decision rests on.

Pure: no port, no clock of its own.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass, field

from active_cli.errors import DecodeError
from active_cli.protocols import pylon_rs485
from active_cli.protocols.pylon_rs485 import (
    AnalogResponse,
    Command,
    Frame,
    ManagementInfo,
    ManufacturerInfo,
    ProtocolVersion,
    Response,
    Variant,
)
from active_cli.sanitize import printable

BITS_PER_BYTE = 10
DEFAULT_REPLY_WINDOW_S = 1.0  # PACE documents up to 500 ms to the first byte, plus wire time

# What an inverter asks for, in the installer's words. 0x4F is the identification
# poll many inverters send first and repeat until they have seen an answer.
REQUEST_NAMES: dict[int, str] = {
    Command.PROTOCOL_VERSION: "protocol version (the inverter's identification poll)",
    Command.MANUFACTURER_INFO: "manufacturer and model (identification)",
    Command.ANALOG: "analog values (voltages, current, SOC)",
    Command.ALARM: "alarms and protections",
    Command.SYSTEM_PARAMETERS: "system parameters (limits)",
    Command.MANAGEMENT: "charge/discharge management (CVL, CCL, DCL, flags)",
    Command.SERIAL_NUMBER: "serial number",
    Command.FIRMWARE: "firmware version",
}


def request_name(command: int) -> str:
    return REQUEST_NAMES.get(command, f"command 0x{command:02X} (not a documented read)")


@dataclass(frozen=True)
class Exchange:
    """One request heard on the line, and what came of it."""

    at_s: float  # when the request's CR was heard, seconds from the start
    address: int
    command: int
    request: str  # what was asked, in words
    reply: str | None  # the decoded reply in one line; None: unanswered or broken
    latency_ms: float | None  # end of request to first reply byte (estimated from its CR)
    accepted: bool  # the reply decodes with RTN 00: the inverter can use it
    error: str | None = None  # why not accepted
    variant: str | None = None


@dataclass
class _AddressCounts:
    requests: int = 0
    replies: int = 0
    unanswered: int = 0
    errors: int = 0
    latencies_ms: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class AddressTraffic:
    """Per-address totals: what the inverter asked, how the pack did."""

    address: int
    requests: int
    replies: int
    unanswered: int
    errors: int
    latency_median_ms: float | None
    latency_max_ms: float | None


@dataclass(frozen=True)
class Rs485Traffic:
    """A listening window on RS485, summed up."""

    exchanges: tuple[Exchange, ...]
    per_address: tuple[AddressTraffic, ...]
    requests_by_name: dict[str, int]
    accepted_in_a_row: int  # the run still going at the end
    longest_accepted_run: int
    bad_frames: int
    stray_replies: int  # replies with no request open (a second master, a lost request)


def summarize_reply(response: Response) -> str:
    """The reply in one line, in the installer's units."""
    if isinstance(response, AnalogResponse):
        parts = []
        for pack in response.packs:
            soc = "?" if pack.soc_pct is None else f"{pack.soc_pct:.0f} %"
            parts.append(f"{pack.voltage_v:.2f} V {pack.current_a:+.1f} A SOC {soc}")
        return "; ".join(parts) or "no pack"
    if isinstance(response, ManagementInfo):
        return (
            f"CVL {response.charge_voltage_limit_v:.1f} V, CCL "
            f"{response.charge_current_limit_a:.0f} A, DCL "
            f"{abs(response.discharge_current_limit_a):.0f} A, charge "
            f"{'on' if response.charge_enable else 'off'}, discharge "
            f"{'on' if response.discharge_enable else 'off'}"
        )
    if isinstance(response, ProtocolVersion):
        return f"protocol {response.text}"
    if isinstance(response, ManufacturerInfo):
        return printable(f"{response.device_name} by {response.manufacturer}")
    name = type(response).__name__
    return name


class Rs485Pairer:
    """Feed frames as heard (`feed`); `finish` ends the window and sums it up."""

    def __init__(
        self,
        baud: int,
        *,
        reply_window_s: float = DEFAULT_REPLY_WINDOW_S,
        on_exchange: Callable[[Exchange], None] | None = None,
    ) -> None:
        self.baud = baud
        self.reply_window_s = reply_window_s
        self.on_exchange = on_exchange
        self._open: tuple[Frame, float, float] | None = None  # request, heard at, at_s
        self._exchanges: list[Exchange] = []
        self._counts: dict[int, _AddressCounts] = {}
        self._by_name: dict[str, int] = {}
        self._run = 0
        self._longest = 0
        self.bad_frames = 0
        self.stray_replies = 0
        self._start: float | None = None

    def _wire_s(self, frame_bytes: int) -> float:
        return frame_bytes * BITS_PER_BYTE / self.baud

    def feed(self, raw: bytes, heard_at: float) -> None:
        """One frame (``~`` .. CR) whose CR arrived at `heard_at` (seconds, any clock)."""
        if self._start is None:
            self._start = heard_at
        self.expire(heard_at)
        try:
            frame = pylon_rs485.decode_frame(raw)
        except DecodeError as e:
            self.bad_frames += 1
            if self._open is not None:
                self._close(None, None, error=f"broken reply: {e.reason}")
            return
        if _is_request(frame):
            if self._open is not None:
                self._close(None, None, error="no reply before the next request")
            self._open = (frame, heard_at, heard_at - self._start)
            return
        if self._open is None:
            self.stray_replies += 1
            return
        request, request_at, _ = self._open
        from active_cli.links.serial_link import stray_reason

        if stray_reason(request, frame) is not None:
            self.stray_replies += 1
            return
        latency_s = heard_at - self._wire_s(len(raw)) - request_at
        self._close(frame, max(0.0, latency_s))

    def expire(self, now: float) -> None:
        """End the open request if its reply window has passed by `now`."""
        if self._open is not None and now - self._open[1] > self.reply_window_s:
            self._close(None, None, error="no reply")

    def _close(
        self, reply: Frame | None, latency_s: float | None, *, error: str | None = None
    ) -> None:
        assert self._open is not None
        request, _, at_s = self._open
        self._open = None
        # Counted when it is closed: a request still open when listening ends
        # (its reply may be on the wire) is neither answered nor unanswered.
        counts = self._counts.setdefault(request.adr, _AddressCounts())
        counts.requests += 1
        name = request_name(request.cid2)
        self._by_name[name] = self._by_name.get(name, 0) + 1
        summary: str | None = None
        accepted = False
        variant: str | None = None
        if reply is not None:
            counts.replies += 1
            variant = Variant.from_ver(reply.ver).value
            if latency_s is not None:
                counts.latencies_ms.append(round(1000 * latency_s, 1))
            try:
                summary = summarize_reply(pylon_rs485.parse_response(reply, request.cid2))
                accepted = True
            except DecodeError as e:
                error = e.reason
        elif error is not None and error.startswith("broken"):
            counts.errors += 1
        else:
            counts.unanswered += 1
        if reply is not None and not accepted:
            counts.errors += 1
        if accepted:
            self._run += 1
            self._longest = max(self._longest, self._run)
        else:
            self._run = 0
        exchange = Exchange(
            at_s=round(at_s, 3),
            address=request.adr,
            command=request.cid2,
            request=request_name(request.cid2),
            reply=summary,
            latency_ms=None if latency_s is None else round(1000 * latency_s, 1),
            accepted=accepted,
            error=error,
            variant=variant,
        )
        self._exchanges.append(exchange)
        if self.on_exchange is not None:
            self.on_exchange(exchange)

    def finish(self, now: float | None = None) -> Rs485Traffic:
        if self._open is not None and (now is None or now - self._open[1] > self.reply_window_s):
            self._close(None, None, error="no reply")
        per_address = tuple(
            AddressTraffic(
                address,
                c.requests,
                c.replies,
                c.unanswered,
                c.errors,
                statistics.median(c.latencies_ms) if c.latencies_ms else None,
                max(c.latencies_ms) if c.latencies_ms else None,
            )
            for address, c in sorted(self._counts.items())
        )
        return Rs485Traffic(
            tuple(self._exchanges),
            per_address,
            dict(self._by_name),
            self._run,
            self._longest,
            self.bad_frames,
            self.stray_replies,
        )


_COMMANDS = frozenset(int(c) for c in Command)


def _is_request(frame: Frame) -> bool:
    # Command codes (0x42 ...) and return codes (0x00 ...) do not overlap.
    return frame.cid1 == pylon_rs485.CID1_BATTERY and frame.cid2 in _COMMANDS
