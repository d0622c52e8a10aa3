"""Record what a scan or check exchanged, and replay a capture in place of the bus.

Offline analysis: an installer records a live run (``--record``), sends the
files to support, and support runs the same scan and checks on them
(``--replay``), with the same result.

RS485 is polled, so a capture is a list of exchanges: :class:`Rs485Recorder`
writes every frame a `SerialLink` sent or received to a ``.rs485`` file
(`logs.rs485_log`), and :class:`ReplayLink` answers each request with the
reply that followed the *identical request bytes* in the capture, in order.
It is a `SerialLink` whose only change is where a reply comes from
(`transact`): retries, per-address counters and RTN handling are the live
link's own code, so a reply lost to noise costs the same retry in both. A
request the capture does not hold is silence (`LinkTimeout`), as at an empty
address; a recorded garbled reply is the same `DecodeError`.

CAN is broadcast, so a capture is the frames themselves: :class:`CanRecorder`
tees every frame the listener received into a python-can ``Logger`` (the
format follows the suffix: ``.log``, ``.asc``, ``.blf``, ``.csv``, ``.trc``),
and :func:`read_can_records` reads any CAN log back as the `CanRecord`
values the live listener makes, with the log's own timestamps, for
`discovery.fold_can` to fold as it folds a live window.

Two things the ``.rs485`` format has no frame for are written as comments
(a person reading the file sees them, `log decode` skips them):

- a reply that started but never completed (no CR before the line went
  quiet): ``# incomplete reply: <bytes heard, escaped>``, right after its TX;
- the noise bytes the link's framer dropped, in the closing
  ``# end: N frames, M noise bytes`` line (the same words `log capture` uses).
"""

from __future__ import annotations

import re
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, cast

from active_cli.closing import ClosesOnExit
from active_cli.errors import DataFileError, DecodeError, LinkError, LinkTimeout, UsageError
from active_cli.links.can_link import CanRecord
from active_cli.links.serial_link import SerialLink, request_frame, stray_reason, wire_time_s
from active_cli.logs.can_reader import CanLogReader
from active_cli.logs.lines import LineStats
from active_cli.logs.rs485_log import (
    HEADER_PREFIX,
    Direction,
    Rs485LogWriter,
    Rs485Record,
    capture_lines,
    escape_frame,
    parse_line,
    unescape_frame,
)
from active_cli.protocols import pylon_rs485
from active_cli.protocols.pylon_rs485 import Frame

if TYPE_CHECKING:
    import can

INCOMPLETE_PREFIX = "# incomplete reply: "
_NOISE_RE = re.compile(r"^#\s*end:.*?\b(\d+) noise bytes")
_BAUD_RE = re.compile(r"\bbaud=(\d+)\b")
_CR = b"\r"


# --------------------------------------------------------------- RS485 record


class Rs485Recorder(ClosesOnExit):
    """Write every frame a `SerialLink` exchanges to a ``.rs485`` capture.

    ``with Rs485Recorder(path, port=url, baud=9600) as recorder:
    recorder.attach(link)``; the file is flushed line by line (an adapter
    pulled mid-scan loses nothing already exchanged) and closed with the
    ``# end:`` summary.
    """

    def __init__(self, path: Path, *, port: str, baud: int) -> None:
        self.path = path
        try:
            self._file: TextIO | None = open(  # noqa: SIM115 - closed in close()
                path, "w", encoding="ascii", newline="\n"
            )
        except OSError as e:
            raise UsageError(f"cannot write {path}: {e.strerror or e}") from e
        self._writer = Rs485LogWriter(self._file)
        self._writer.header(port=port, baud=baud, recorded_by="active")
        self._link: SerialLink | None = None
        self._lock = threading.Lock()

    def attach(self, link: SerialLink) -> None:
        """Record `link` from now on (its noise count goes into the summary)."""
        self._link = link
        link.recorder = self.on_frame

    def on_frame(self, direction: str, frame: bytes, timestamp: float) -> None:
        """The `serial_link.FrameRecorder` hook."""
        with self._lock:
            if self._file is None:
                return
            stamp = datetime.fromtimestamp(timestamp).astimezone()
            if not frame.endswith(_CR):
                # Never completed: not a frame, so not a frame line (see module doc).
                escaped = escape_frame(frame) if frame else ""
                self._file.write(f"{INCOMPLETE_PREFIX}{escaped}\n")
                self._file.flush()
                return
            kind: Direction = "TX" if direction == "TX" else "RX" if direction == "RX" else "??"
            self._writer.write(Rs485Record(stamp, kind, frame))

    def close(self) -> None:
        with self._lock:
            if self._file is None:
                return
            if self._link is not None:
                self._link.recorder = None
            noise = self._link.stats.noise_bytes if self._link is not None else 0
            self._writer.comment(f"end: {self._writer.frames} frames, {noise} noise bytes")
            self._file.close()
            self._file = None


# ----------------------------------------------------------------- CAN record


class CanRecorder(ClosesOnExit):
    """Log every frame a listener receives from a bus to a CAN log file.

    :meth:`wrap` returns a stand-in for the bus whose ``recv`` hands each
    frame to the python-can ``Logger`` as well as to the caller; sending and
    everything else go to the real bus untouched, so recording changes
    nothing on the wire. The listener may run on a worker thread (a scan hears
    CAN while it polls RS485): writes and :meth:`close` share a lock.
    """

    def __init__(self, path: Path) -> None:
        import can

        from active_cli.links.capture import check_can_path

        check_can_path(path)
        self.path = path
        self.frames = 0
        try:
            self._logger: can.io.generic.MessageWriter | None = can.Logger(str(path))
        except (OSError, ValueError) as e:
            raise UsageError(f"cannot write {path}: {e}") from e
        self._lock = threading.Lock()

    def wrap(self, bus: can.BusABC) -> can.BusABC:
        return cast("can.BusABC", _RecordingBus(bus, self))

    def write(self, message: can.Message) -> None:
        with self._lock:
            if self._logger is None:
                return
            self._logger.on_message_received(message)
            self.frames += 1

    def close(self) -> None:
        with self._lock:
            if self._logger is not None:
                # stop() flushes and closes: BLF writes its header, ASC its footer.
                self._logger.stop()
                self._logger = None


class _RecordingBus:
    """Duck-typed python-can bus: `recv` tees into a `CanRecorder`, the rest delegates."""

    def __init__(self, bus: can.BusABC, recorder: CanRecorder) -> None:
        self._bus = bus
        self._recorder = recorder

    def recv(self, timeout: float | None = None) -> can.Message | None:
        message = self._bus.recv(timeout)
        if message is not None:
            if not message.timestamp:
                # What `can_link.listen` would stamp it with; set here so the
                # log and the live observation carry the same time.
                message.timestamp = time.time()
            self._recorder.write(message)
        return message

    def __getattr__(self, name: str) -> Any:
        return getattr(self._bus, name)


# --------------------------------------------------------------- RS485 replay


@dataclass(frozen=True)
class Exchange:
    """One request of a capture and what came back.

    ``reply`` is None when nothing came back before the next request (or the
    end of the capture); ``complete`` is False for an ``# incomplete reply``.
    ``later`` holds the frames heard after ``reply`` before the next request,
    as (frame, time, complete): when ``reply`` was a stray (another address's
    frame, a late reply), the live link read on and took one of these.
    Times are seconds since the epoch, from the capture.
    """

    request: bytes
    request_time: float
    reply: bytes | None = None
    reply_time: float | None = None
    complete: bool = True
    later: tuple[tuple[bytes, float, bool], ...] = ()


@dataclass(frozen=True)
class Rs485Capture:
    path: str
    baud: int
    noise_bytes: int
    exchanges: tuple[Exchange, ...]


def read_rs485_capture(path: str | Path, *, default_baud: int = 9600) -> Rs485Capture:
    """Pair each TX of a ``.rs485`` capture with the reply that followed it.

    The first RX or ?? frame after a TX is its reply, as the live link takes
    the first frame it hears; a TX followed by another TX got none. Further
    frames before the next TX go to the exchange's ``later`` (the live link
    reads on past a stray). Frames heard before the first TX are not replies
    to anything and are skipped.
    Raises DataFileError naming the file and line for anything unreadable.
    """
    name = str(path)
    baud = default_baud
    noise = 0
    exchanges: list[Exchange] = []
    pending: tuple[bytes, float] | None = None
    answered = False  # the last exchange got its reply and no TX followed yet

    def close_pending() -> None:
        nonlocal pending
        if pending is not None:
            exchanges.append(Exchange(pending[0], pending[1]))
            pending = None

    def hear_later(frame: bytes, stamp: float, complete: bool) -> None:
        last = exchanges[-1]
        exchanges[-1] = replace(last, later=(*last.later, (frame, stamp, complete)))

    try:
        file = open(path, "rb")  # noqa: SIM115 - closed below
    except OSError as e:
        raise DataFileError(name, f"cannot read: {e.strerror or e}") from e
    with file:
        for number, text in capture_lines(file, name, LineStats()):
            line = text.rstrip("\r")
            if line.startswith("#"):
                if line.startswith(HEADER_PREFIX) and (match := _BAUD_RE.search(line)):
                    baud = int(match.group(1))
                elif line.startswith(INCOMPLETE_PREFIX):
                    if pending is not None or answered:
                        try:
                            heard = unescape_frame(line[len(INCOMPLETE_PREFIX) :])[:-1]
                        except ValueError as e:
                            raise DataFileError(name, f"bad frame text: {e}", line=number) from e
                        if pending is None:
                            hear_later(heard, exchanges[-1].request_time, False)
                        else:
                            exchanges.append(
                                Exchange(pending[0], pending[1], heard, pending[1], complete=False)
                            )
                            pending = None
                            answered = True
                elif match := _NOISE_RE.match(line):
                    noise += int(match.group(1))
                continue
            record = parse_line(line, path=name, number=number)
            if record is None:
                continue
            stamp = record.timestamp.timestamp()
            if record.direction == "TX":
                close_pending()
                pending = (record.frame, stamp)
                answered = False
            elif pending is not None:
                exchanges.append(Exchange(pending[0], pending[1], record.frame, stamp))
                pending = None
                answered = True
            elif answered:
                hear_later(record.frame, stamp, True)
        close_pending()
    if baud <= 0:
        raise DataFileError(name, f"baud={baud} in the header is not a baud rate", line=1)
    return Rs485Capture(name, baud, noise, tuple(exchanges))


class _NoPort:
    """The port of a `ReplayLink`: there is none; any I/O is a bug."""

    timeout: float | None = None

    @property
    def in_waiting(self) -> int:
        return 0

    def read(self, size: int = 1) -> bytes:
        raise LinkError("a replay has no port to read")

    def write(self, data: bytes, /) -> int | None:
        raise LinkError("a replay has no port to write")

    def reset_input_buffer(self) -> None:
        pass

    def close(self) -> None:
        pass


class ReplayLink(SerialLink):
    """A `SerialLink` whose replies come from a capture (discovery's RequestLink).

    ``unrecorded_requests`` counts the requests the capture did not hold (a
    replay asked with other options than the live run, e.g. another address
    range, answers those with silence, which the caller should say);
    ``unused_exchanges`` is what the capture held that nobody asked for.
    """

    def __init__(self, capture: Rs485Capture) -> None:
        super().__init__(_NoPort(), baud=capture.baud, url=f"replay of {capture.path}")
        self.capture = capture
        self.unrecorded_requests = 0
        self._queues: dict[bytes, deque[Exchange]] = {}
        for exchange in capture.exchanges:
            self._queues.setdefault(exchange.request, deque()).append(exchange)
        # The live link's framer counted these over the whole run; a scan
        # reports the total at its end.
        self.stats.noise_bytes = capture.noise_bytes

    @classmethod
    def from_file(cls, path: str | Path) -> ReplayLink:
        return cls(read_rs485_capture(path))

    @property
    def unused_exchanges(self) -> int:
        return sum(len(queue) for queue in self._queues.values())

    def transact(
        self,
        request: bytes,
        *,
        expected_reply_bytes: int,
        adr: int | None = None,
        patient: bool = True,
        grace: bool = False,
    ) -> Frame:
        """The next recorded outcome of `request` (see the class doc); no retry."""
        self.stats.bytes_sent += len(request)
        queue = self._queues.get(request)
        if not queue:
            if queue is None:
                self.unrecorded_requests += 1
            raise self._timeout(request, adr, patient)
        exchange = queue.popleft()
        if exchange.reply is None:
            raise self._timeout(request, adr, patient)
        heard = (
            (exchange.reply, exchange.reply_time or exchange.request_time, exchange.complete),
            *exchange.later,
        )
        self.stats.replies_heard += 1
        asked = request_frame(request)
        strays = 0
        for reply, reply_time, complete in heard:
            self.stats.bytes_received += len(reply)
            if not complete:
                raise DecodeError(
                    "reply did not complete (no CR before the line went quiet)", frame=reply
                )
            frame = pylon_rs485.decode_frame(reply)
            if asked is not None and stray_reason(asked, frame) is not None:
                # As the live link: dropped, read on. Its bytes are already in
                # the capture's noise count (the live link counted them).
                self.stats.stray_frames += 1
                strays += 1
                continue
            if not strays and exchange.reply_time is not None:
                # The capture stamps a frame when its CR arrived: take the wire
                # time of both frames off to get the BMS's latency, as live.
                wire = wire_time_s(len(request) + len(reply), self.baud)
                self._learn_latency(reply_time - exchange.request_time - wire)
            return frame
        raise self._timeout(request, adr, patient)

    def _timeout(self, request: bytes, adr: int | None, patient: bool) -> LinkTimeout:
        # The live link's words, with the budget it would have had by now.
        start = self.latency_budget_s if patient else self.reply_start_budget_s
        budget = wire_time_s(len(request), self.baud) + start
        return LinkTimeout(
            f"no reply within {1000 * budget:.0f} ms"
            + (f" from address {adr}" if adr is not None else "")
        )


# ----------------------------------------------------------------- CAN replay


def read_can_records(path: str | Path) -> Iterator[CanRecord]:
    """Every frame of a CAN log (any format `CanLogReader` reads) as a `CanRecord`.

    The log's timestamps are kept, so cycle times and the heartbeat period
    come out as they were on the bus. DataFileError for an unreadable file.
    """
    with CanLogReader(path) as reader:
        for frame in reader:
            yield CanRecord(
                timestamp=frame.timestamp,
                arbitration_id=frame.arbitration_id,
                data=frame.data,
                is_error_frame=frame.is_error_frame,
                is_remote_frame=frame.is_remote_frame,
            )
