"""RS485 request/response over anything ``serial.serial_for_url`` opens.

A device path (``/dev/ttyUSB0``, ``COM3``), a pty, or a network gateway
(``socket://192.168.1.50:8899``, ``rfc2217://...``). RS485 here is half-duplex
and host-polled: write one request, read one reply frame, never talk while a
reply may still be on the line.

Timing is derived from the line instead of a fixed multi-second timeout: a
reply must *start* within the request's own wire time plus the BMS latency
budget (so a silent address costs tens of milliseconds, not seconds), and once
bytes flow it may take its expected wire time with a margin, extended while
bytes keep arriving. A frame whose ADR or CID1 does not answer the request (a
late reply to an earlier request, another master's traffic) is a stray: it is
dropped, counted with the noise, and reading goes on. One retry follows a
timeout or a corrupted reply (cheap adapters and long cables lose the odd
frame, as installers report). Framing and decoding are the pure codec's; this module
only moves bytes. An optional ``recorder`` sees every frame that crossed the
line (`links.replay` writes them to a ``.rs485`` capture that replays the
exchange offline).
"""

from __future__ import annotations

import contextlib
import errno
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from active_cli.closing import ClosesOnExit
from active_cli.errors import DecodeError, LinkError, LinkTimeout
from active_cli.protocols import pylon_rs485
from active_cli.protocols.framing import MAX_FRAME_BYTES, Rs485Framer
from active_cli.protocols.pylon_rs485 import Command, Frame, Rtn


def _debug(message: str, *args: object) -> None:
    """A debug line (--debug shows the raw frames), without importing logging.

    Until something imports logging (``--debug`` does, to configure it) no
    handler can want the line; not importing it keeps 5-10 ms off the first
    request.
    """
    logging = sys.modules.get("logging")
    if logging is not None:
        logging.getLogger(__name__).debug(message, *args)


BITS_PER_BYTE = 10  # 8N1: start + 8 data + stop

# Upper estimates of reply sizes on the wire (bytes, incl. '~' and CR) for one
# 16-cell pack, from the layouts in reference §3.4 (header+checksum = 18 bytes,
# then two ASCII characters per INFO byte). Only used to size the completion
# deadline; replies longer than this still complete while bytes keep flowing.
_EXPECTED_REPLY_BYTES: dict[int, int] = {
    Command.PROTOCOL_VERSION: 18,
    Command.MANUFACTURER_INFO: 18 + 2 * 32,
    Command.ANALOG: 18 + 2 * 70,
    Command.ALARM: 18 + 2 * 50,
    Command.SYSTEM_PARAMETERS: 18 + 2 * 25,
    Command.MANAGEMENT: 18 + 2 * 10,
    Command.SERIAL_NUMBER: 18 + 2 * 17,
    Command.FIRMWARE: 18 + 2 * 6,
}
_GROUP_REPLY_BYTES_PER_PACK = 2 * 70
_MAX_PACKS = 16
# Requests any pack may answer with its own ADR: 0x4F/0x51 at ADR 0 get the
# master's ADR back (reference §3.8, real clients), 0xFF is the broadcast.
_ANY_ADR = frozenset({0x00, 0xFF})
# Stray frames that each give the real reply a fresh start budget; past this, a
# line flooded by another master ends the request at its deadline.
_MAX_STRAYS = 4

# What a BMS's reply latency may vary by, at least, between two requests (see
# `SerialLink.reply_start_budget_s`).
LEARNED_JITTER_S = 0.02

# A reply budget raised after late replies never goes past this: a BMS slower
# than 3 s is not one a scan should wait for at every address.
MAX_LATE_BUDGET_S = 3.0

# The reason of the DecodeError a request ends with when bytes kept arriving
# until its overall deadline without forming the reply: a line that babbles.
BABBLE_REASON = (
    "bytes keep arriving but never form a frame: another master on the line, "
    "wrong baud, or A/B swapped"
)

FrameRecorder = Callable[[str, bytes, float], None]
"""Called with (direction, frame, wall-clock time.time()) for every frame.

Direction is "TX" for a request as written, "RX" for a reply that decodes,
"??" for one that does not. A "??" frame that does not end in CR is a reply
that never completed (the bytes heard before the line went quiet). Echoes of
the request are not passed on: they carry nothing the request did not.
"""


class SerialPort(Protocol):
    """The part of pyserial's ``Serial`` this link uses (tests may pass a fake)."""

    timeout: float | None

    @property
    def in_waiting(self) -> int: ...

    def read(self, size: int = 1) -> bytes: ...

    def write(self, data: bytes, /) -> int | None: ...

    def reset_input_buffer(self) -> None: ...

    def close(self) -> None: ...


@dataclass
class AddressStats:
    """Counters for one address, so findings can give error rates per pack."""

    requests: int = 0
    replies: int = 0
    timeouts: int = 0
    corrupted: int = 0
    retries: int = 0
    latency_s: list[float] = field(default_factory=list)


@dataclass
class LinkStats:
    """What crossed the line, seen from this end.

    ``bytes_sent`` counts every request byte written (retries included),
    ``bytes_received`` every byte read (noise and echoes included), and
    ``replies_heard`` every transaction in which the far end started to answer:
    together they give the wire-time lower bound of a scan (benches/scan.py).
    ``stray_frames`` counts valid frames dropped because they did not answer
    the request (another ADR or CID1); their bytes are in ``noise_bytes`` too.
    ``babbling_reads`` counts requests ended by their overall deadline while
    bytes still flowed (`BABBLE_REASON`). ``late_replies`` counts replies that
    came after their request had timed out (heard as a stray during the next
    request, or in the grace window of a request that expected a reply), and
    ``late_reply_ms`` their latencies: a slow BMS, not a wiring fault, so the
    fix is a longer reply timeout (the link itself raises its budget after one).
    """

    noise_bytes: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0
    replies_heard: int = 0
    stray_frames: int = 0
    stray_bytes: int = 0
    babbling_reads: int = 0
    late_replies: int = 0
    late_reply_ms: list[float] = field(default_factory=list)
    per_address: dict[int, AddressStats] = field(default_factory=dict)

    def address(self, adr: int) -> AddressStats:
        return self.per_address.setdefault(adr, AddressStats())


def wire_time_s(byte_count: int, baud: int) -> float:
    """Seconds `byte_count` bytes take on an 8N1 line at `baud`."""
    return byte_count * BITS_PER_BYTE / baud


def stray_reason(request: Frame, reply: Frame) -> str | None:
    """Why `reply` cannot be the answer to `request`; None when it can.

    A BMS answers with its own ADR and the request's CID1. Any other frame on
    the line is a late reply to an earlier request (a slow pack, a retry that
    crossed its answer) or another master's traffic; crediting it to the
    address just polled would put one pack's values under another's address.
    """
    if reply.cid1 != request.cid1:
        return f"CID1 0x{reply.cid1:02X}, not the 0x{request.cid1:02X} asked"
    if request.adr not in _ANY_ADR and reply.adr != request.adr:
        return f"ADR {reply.adr} answered a request to ADR {request.adr}"
    return None


def request_frame(request: bytes) -> Frame | None:
    """The header of a request as built, to check replies against (None: not a frame)."""
    try:
        return pylon_rs485.decode_frame(request)
    except DecodeError:
        return None


def overall_deadline_s(
    request_wire_s: float, budget_s: float, reply_bytes: int, baud: int
) -> float:
    """Seconds after the write after which a request ends, whatever arrives.

    The start budget twice (once more for a stray that held the line), then
    the longest reply the command can have on the wire with a margin. Bytes
    that keep coming cannot push this back: a noisy line, a stream without
    CR or another master polling every 30 ms ends the read here.
    """
    bound = min(MAX_FRAME_BYTES, 2 * reply_bytes + 64)
    return request_wire_s + 2 * budget_s + 1.5 * wire_time_s(bound, baud) + 0.05


def expected_reply_bytes(command: int, *, group: bool = False) -> int:
    if group and command in (Command.ANALOG, Command.ALARM):
        return 18 + 4 + _GROUP_REPLY_BYTES_PER_PACK * _MAX_PACKS
    return _EXPECTED_REPLY_BYTES.get(command, 18 + 2 * 64)


class SerialLink(ClosesOnExit):
    """One RS485 line: send a request frame, return the reply frame.

    ``latency_budget_s`` is how long after the end of the request a reply may
    take to start (the PACE document allows 500 ms). Once packs have answered,
    ``adaptive=True`` tightens it to a few times the latency actually seen, never
    below ``min_latency_budget_s``, so polling empty addresses stays fast.
    """

    def __init__(
        self,
        port: SerialPort,
        *,
        baud: int = 9600,
        url: str = "",
        latency_budget_s: float = 0.5,
        min_latency_budget_s: float = 0.04,
        adaptive: bool = True,
        retries: int = 1,
        late_grace_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        recorder: FrameRecorder | None = None,
    ) -> None:
        self._port = port
        self.baud = baud
        self.url = url
        self.latency_budget_s = latency_budget_s
        self.min_latency_budget_s = min_latency_budget_s
        self.adaptive = adaptive
        self.retries = retries
        self.stats = LinkStats()
        self._clock = clock
        self._framer = Rs485Framer()
        self._max_latency_seen_s: float | None = None
        self.recorder = recorder
        self.late_grace_s = late_grace_s
        # The last request that timed out (its header, and when its wire time
        # ended): a frame answering it during a later request is a late reply.
        self._timed_out: tuple[Frame, float] | None = None

    @classmethod
    def open(cls, url: str, *, baud: int = 9600, **options: float | bool | int) -> SerialLink:
        """Open `url` with pyserial; a failure becomes a LinkError with a hint."""
        import serial

        try:
            port = serial.serial_for_url(
                url, baudrate=baud, timeout=0.1, write_timeout=2.0, exclusive=is_device(url)
            )
        except (serial.SerialException, OSError, ValueError) as e:
            raise open_error(url, e) from e
        return cls(port, baud=baud, url=url, **options)  # type: ignore[arg-type]

    def close(self) -> None:
        if self.url.startswith("socket://"):
            _close_socket_now(self._port)
        self._port.close()

    @property
    def reply_start_budget_s(self) -> float:
        """How long after the end of a request the first reply byte may take."""
        if not self.adaptive or self._max_latency_seen_s is None:
            return self.latency_budget_s
        # The slowest reply seen plus what a BMS's latency varies by: 20 ms or
        # half that latency, the larger. Measured on the simulator (20 ms
        # latency, 120 replies on a loaded machine) replies started 18-32 ms
        # after the request (14 ms of jitter, p95 27 ms): an empty address is
        # called after ~50 ms instead of 3 x 32 + 20 = 116 ms. A reply later
        # than this is heard as a late reply, which raises the budget
        # (`_count_late`), and discovery polls silent addresses once more
        # while packs are unaccounted for.
        seen = self._max_latency_seen_s
        learned = seen + max(LEARNED_JITTER_S, 0.5 * seen)
        return min(self.latency_budget_s, max(self.min_latency_budget_s, learned))

    def query(
        self,
        command: Command | int,
        adr: int,
        *,
        ver: int = pylon_rs485.VER_PYLON,
        info: bytes | None = None,
        retry_on_timeout: bool = True,
    ) -> Frame:
        """Send one command to `adr` and return the (checked) reply frame.

        Raises LinkTimeout when nothing complete arrived after the retries, and
        DecodeError when every reply was corrupted. A reply with an error RTN is
        returned as is (the codec's parsers raise for it), except RTN 02/03 (the
        BMS saw our request corrupted), which is retried like a corrupted reply.
        ``retry_on_timeout=False`` marks a probe of an address that may well be
        empty: one silent attempt is the answer (discovery decides itself when
        to look again), and the reply must start within the learned, short
        budget. Otherwise a reply is expected (the pack answered before), so it
        may take the full ``latency_budget_s``: a BMS that is slow for a moment
        must not be taken for one that stopped answering.
        """
        request = pylon_rs485.build_request(command, adr, ver=ver, info=info)
        group = info is not None and info[:1] == bytes([pylon_rs485.GROUP_ADR_INFO])
        expected = expected_reply_bytes(int(command), group=group)
        stats = self.stats.address(adr)
        last_error: DecodeError | LinkTimeout | None = None
        for attempt in range(self.retries + 1):
            if attempt:
                stats.retries += 1
            stats.requests += 1
            try:
                frame = self.transact(
                    request,
                    expected_reply_bytes=expected,
                    adr=adr,
                    patient=retry_on_timeout,
                    # A slow reply is caught on the first try: a retry would
                    # take the first try's late reply for its own.
                    grace=retry_on_timeout and attempt == 0,
                )
            except LinkTimeout as e:
                stats.timeouts += 1
                if not retry_on_timeout:
                    raise
                last_error = e
                continue
            except DecodeError as e:
                stats.corrupted += 1
                last_error = e
                continue
            if frame.cid2 in (Rtn.CHKSUM_ERROR, Rtn.LCHKSUM_ERROR):
                stats.corrupted += 1
                last_error = DecodeError(
                    f"address {adr} reports our request arrived corrupted (RTN {frame.cid2:02X})",
                    frame=frame.encode(),
                )
                continue
            stats.replies += 1
            return frame
        assert last_error is not None
        raise last_error

    def transact(
        self,
        request: bytes,
        *,
        expected_reply_bytes: int,
        adr: int | None = None,
        patient: bool = True,
        grace: bool = False,
    ) -> Frame:
        """Write `request`, read one frame; no retry (see `query` for `patient`).

        ``grace``: a reply is expected, so when none has started by the start
        budget, listen ``late_grace_s`` longer; a reply that starts in that
        window is returned and counted as late (`LinkStats.late_replies`).
        The read ends by `overall_deadline_s` whatever arrives (`BABBLE_REASON`).
        """
        try:
            self._port.reset_input_buffer()
            self._framer.reset()
            _debug("TX %r", request)
            self._port.write(request)
            self.stats.bytes_sent += len(request)
        except OSError as e:  # serial.SerialException is an OSError (IOError)
            raise LinkError(f"write to {self.url or 'port'} failed: {e}", hint=_lost_hint()) from e
        if self.recorder is not None:
            self.recorder("TX", request, time.time())
        sent = self._clock()
        request_wire = wire_time_s(len(request), self.baud)
        budget = self.latency_budget_s if patient else self.reply_start_budget_s
        deadline = sent + request_wire + budget
        hard_deadline = sent + overall_deadline_s(
            request_wire, budget, expected_reply_bytes, self.baud
        )
        in_grace = False
        first_byte_at: float | None = None
        asked = request_frame(request)
        strays = 0
        while True:
            now = self._clock()
            if now >= min(deadline, hard_deadline):
                silent = first_byte_at is None and not self._framer.pending()
                if grace and silent and not in_grace and not strays and self.late_grace_s > 0:
                    # Tell a slow BMS from a silent one: listen a while longer.
                    in_grace = True
                    deadline = now + self.late_grace_s
                    hard_deadline = max(hard_deadline, deadline + (hard_deadline - sent))
                    continue
                break
            try:
                self._port.timeout = min(deadline, hard_deadline) - now
                chunk = self._port.read(max(1, self._port.in_waiting))
            except OSError as e:
                raise LinkError(
                    f"read from {self.url or 'port'} failed: {e}", hint=_lost_hint()
                ) from e
            if not chunk:
                continue
            now = self._clock()
            self.stats.bytes_received += len(chunk)
            if first_byte_at is None:
                first_byte_at = now
                if not strays:
                    self.stats.replies_heard += 1
                # A reply may take its expected wire time plus a margin from here.
                deadline = now + 1.5 * wire_time_s(expected_reply_bytes, self.baud) + 0.05
            frames = self._framer.feed(chunk)
            self.stats.noise_bytes = self._framer.noise_bytes + self.stats.stray_bytes
            for raw in frames:
                if raw == request:
                    continue  # our own request echoed back by the adapter
                _debug("RX %r", raw)
                try:
                    frame = pylon_rs485.decode_frame(raw)
                except DecodeError:
                    if self.recorder is not None:
                        self.recorder("??", raw, time.time())
                    raise
                if self.recorder is not None:
                    self.recorder("RX", raw, time.time())
                stray = None if asked is None else stray_reason(asked, frame)
                if stray is None and self._too_early(raw, now, sent + request_wire):
                    stray = "the late reply to the request before"
                if stray is not None:
                    if self._heard_late(frame, raw, now):
                        # The budget just grew: the reply to this request may
                        # be as slow as the one just heard.
                        budget = self.latency_budget_s if patient else self.reply_start_budget_s
                    else:
                        _debug("stray frame dropped (%s)", stray)
                        self.stats.stray_frames += 1
                        self.stats.stray_bytes += len(raw)
                        self.stats.noise_bytes = self._framer.noise_bytes + self.stats.stray_bytes
                    strays += 1
                    if strays <= _MAX_STRAYS:
                        # The real reply could not start while the stray held the
                        # line: it gets its own start budget from here.
                        first_byte_at = None
                        deadline = max(deadline, now + budget)
                    continue
                self._timed_out = None
                if not strays and first_byte_at is not None:
                    latency_s = first_byte_at - sent - request_wire
                    if in_grace:
                        self._count_late(latency_s)
                    # After a stray, the reply's delay was the stray's doing.
                    self._learn_latency(latency_s)
                return frame
            # Bytes still arriving: do not cut a slow but live reply short (up
            # to the overall deadline, which nothing extends).
            deadline = max(deadline, now + 20 * wire_time_s(1, self.baud) + 0.02)
        started = first_byte_at is not None or bool(self._framer.pending())
        if started and self.recorder is not None:
            self.recorder("??", self._framer.pending(), time.time())
        if not started:
            if asked is not None:
                self._timed_out = (asked, sent + request_wire)
            waited_s = request_wire + budget + (self.late_grace_s if in_grace else 0.0)
            raise LinkTimeout(
                f"no reply within {1000 * waited_s:.0f} ms"
                + (f" from address {adr}" if adr is not None else "")
                + (f" (only {strays} frame(s) for another request)" if strays else "")
            )
        if self._clock() >= hard_deadline and deadline > hard_deadline:
            self.stats.babbling_reads += 1
            raise DecodeError(BABBLE_REASON, frame=self._framer.pending())
        raise DecodeError(
            "reply did not complete (no CR before the line went quiet)",
            frame=self._framer.pending(),
        )

    def _too_early(self, raw: bytes, now: float, request_end: float) -> bool:
        """A frame that could answer this request, but started far sooner than
        this BMS answers, while an earlier request to the same address is still
        unanswered: it is that request's late reply (a slow pack's reply to a
        single read must not become the answer to the group read after it)."""
        # Only for a BMS known to be slow (a late reply was heard): a fast
        # one's replies never wait for a later request.
        if not self.stats.late_replies or self._max_latency_seen_s is None:
            return False
        if self._timed_out is None:
            return False
        try:
            frame = pylon_rs485.decode_frame(raw)
        except DecodeError:
            return False
        if stray_reason(self._timed_out[0], frame) is not None:
            return False
        started = now - wire_time_s(len(raw), self.baud) - request_end
        return started < 0.5 * self._max_latency_seen_s

    def _heard_late(self, frame: Frame, raw: bytes, now: float) -> bool:
        """Is `frame` the reply to the last request that timed out? Counts it if so."""
        if self._timed_out is None:
            return False
        earlier, ended_at = self._timed_out
        if stray_reason(earlier, frame) is not None:
            return False
        self._timed_out = None
        # Stamped when its CR came: take off its own wire time for the start.
        self._count_late(now - wire_time_s(len(raw), self.baud) - ended_at)
        return True

    def _count_late(self, latency_s: float) -> None:
        """A reply came after its budget: count it, and wait that long from now on
        (1.5 x the latency, at most `MAX_LATE_BUDGET_S`), so the rest of a scan
        reads a slow BMS instead of taking it for an empty address."""
        self.stats.late_replies += 1
        self.stats.late_reply_ms.append(round(1000 * latency_s, 1))
        wanted = min(MAX_LATE_BUDGET_S, 1.5 * latency_s + 0.05)
        self.latency_budget_s = max(self.latency_budget_s, wanted)
        self._learn_latency(latency_s)

    def _learn_latency(self, latency_s: float) -> None:
        latency_s = max(0.0, latency_s)
        if self._max_latency_seen_s is None or latency_s > self._max_latency_seen_s:
            self._max_latency_seen_s = latency_s


def _close_socket_now(port: SerialPort) -> None:
    """Shut a ``socket://`` port's TCP connection down and close it ourselves.

    pyserial's (3.5) close() of a socket port sleeps 0.3 s after closing, "in
    case of quick reconnects", on every command that used a gateway. We never
    reconnect on the same object: shutting the socket down here and marking
    the port closed leaves its close() nothing to do, and so no sleep.
    """
    import socket  # only gateways need it (pyserial's socket:// imported it already)

    sock = getattr(port, "_socket", None)
    if not isinstance(sock, socket.socket):
        return  # another pyserial: its own close() does the work
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
    port._socket = None  # type: ignore[attr-defined]
    port.is_open = False  # type: ignore[attr-defined]


def is_device(url: str) -> bool:
    """A local port (``/dev/ttyUSB0``, ``COM3``, a pty), not a pyserial URL handler."""
    return "://" not in url


def open_error(url: str, error: Exception) -> LinkError:
    """Why `url` did not open, in the installer's words.

    A port another program holds (a second `active`, ModemManager, an inverter
    monitoring tool) is opened exclusively here (pyserial's ``exclusive``:
    ``flock`` on POSIX; Windows never shares a COM port), and refused as "in
    use", not taken for an adapter that went away.
    """
    errno_ = getattr(error, "errno", None)
    text = str(error)
    busy = is_device(url) and errno_ in (errno.EBUSY, errno.EAGAIN)
    # pyserial words: "Could not exclusively lock port" (POSIX flock), and on
    # Windows a COM port held elsewhere is "PermissionError(13, 'Access is denied.')".
    if busy or "exclusively lock" in text or "Access is denied" in text:
        return LinkError(
            f"{url} is in use by another program",
            hint="close the other program that has it open (another `active`, a terminal "
            "program, ModemManager, a monitoring tool); `fuser " + url + "` names it on Linux",
        )
    return LinkError(f"cannot open {url}: {error}", hint=_open_hint(url))


def _open_hint(url: str) -> str:
    if url.startswith("socket://"):
        return (
            "is the gateway on the network and the port right? "
            "Many gateways accept one TCP client only."
        )
    return (
        "is the adapter plugged in? On Linux look at `ls /dev/ttyUSB* /dev/ttyACM*`; "
        "you may need the dialout group."
    )


def _lost_hint() -> str:
    return (
        "the adapter or gateway went away: check the USB cable / network and run the command again"
    )
