"""Record the buses to files: CAN through python-can, RS485 by passive sniffing.

CAN: `links.can_capture` (python-can's ``Notifier`` receives, a writer
thread behind a bounded queue writes through ``can.Logger`` and flushes every
half second; received, written and dropped are counted).

RS485: the port is only ever read, never written: a capture adapter sits on
the A/B pair next to the inverter (or next to `active`) and hears both sides.
Bytes go through the same `Rs485Framer` as the polling link; each frame is
stamped when its CR arrives, classified (TX request / RX response / ?? broken)
and written as one line of the `logs.rs485_log` format, flushed at once, so
an adapter pulled mid-capture loses nothing already heard.

`Capture.run` runs both until a duration ends, the user presses Ctrl-C (the
normal way to stop, so it ends the capture cleanly rather than failing) or
`request_stop` is called (the CLI does on SIGTERM and SIGHUP: a closed SSH
session must not lose the capture), and returns what was recorded.

Files are never overwritten unless asked (``force``): a capture is evidence.
A file that cannot be written (full disk, read-only, vanished folder) is an
OutputError (exit 5); what was written before the fault stays readable.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Literal, TextIO

from active_cli.errors import LinkError, OutputError, UsageError
from active_cli.links.can_capture import CanCapture, check_can_path
from active_cli.links.can_link import CanOptions, open_bus
from active_cli.logs.rs485_log import Rs485LogWriter, Rs485Record, classify
from active_cli.protocols.framing import Rs485Framer

if TYPE_CHECKING:
    import can

    from active_cli.links.serial_link import SerialPort

StopReason = Literal["duration", "interrupt", "signal"]

__all__ = ["Capture", "CaptureCounts", "CaptureSummary", "check_can_path", "refuse_existing"]


@dataclass
class CaptureCounts:
    """Live counters (read by the display while the capture runs)."""

    can_frames: int = 0  # written to the file
    can_received: int = 0
    can_dropped: int = 0
    rs485_frames: int = 0
    rs485_bad_frames: int = 0
    rs485_noise_bytes: int = 0
    elapsed_s: float = 0.0


@dataclass(frozen=True)
class CaptureSummary:
    """What a capture recorded. ``can_frames`` are the frames written to the
    file, of ``can_received`` taken off the bus; ``can_dropped`` the difference
    (the writer fell behind or the file failed). ``signal`` names the signal
    that stopped it (SIGTERM, SIGHUP) when ``stopped_by`` is "signal";
    ``started_at``/``ended_at`` are ISO 8601 UTC."""

    can_path: str | None
    can_frames: int
    rs485_path: str | None
    rs485_frames: int
    rs485_bad_frames: int
    rs485_noise_bytes: int
    duration_s: float
    stopped_by: StopReason
    can_received: int = 0
    can_dropped: int = 0
    signal: str | None = None
    started_at: str | None = None
    ended_at: str | None = None


def refuse_existing(path: Path) -> None:
    """A capture never replaces one already on disk unless --force is given."""
    if path.exists() or path.is_symlink():
        raise UsageError(
            f"{path} already exists: a capture is evidence, so it is not overwritten",
            hint="give another file name, or --force to replace it",
        )


class Rs485Sniffer:
    """Passive RS485 capture: read whatever the port delivers, never write to it."""

    def __init__(
        self,
        port: SerialPort,
        writer: Rs485LogWriter,
        *,
        counts: CaptureCounts,
        clock: Callable[[], datetime] = lambda: datetime.now().astimezone(),
    ) -> None:
        self._port = port
        self._writer = writer
        self._counts = counts
        self._clock = clock
        self._framer = Rs485Framer()

    def poll(self) -> int:
        """Read once (waiting at most the port's timeout); log the frames completed."""
        try:
            waiting = self._port.in_waiting
            chunk = self._port.read(max(1, waiting))
        except OSError as e:  # serial.SerialException is an OSError
            raise LinkError(
                f"RS485 read failed: {e}",
                hint="the adapter or gateway went away: check the USB cable / network",
            ) from e
        if not chunk:
            return 0
        frames = self._framer.feed(chunk)
        if frames:
            stamp = self._clock()
            for frame in frames:
                direction = classify(frame)
                try:
                    self._writer.write(Rs485Record(stamp, direction, frame))
                except OSError as e:
                    raise OutputError(
                        getattr(self._writer.file, "name", "the RS485 capture"),
                        f"{e.strerror or e} after {self._writer.frames} frames",
                        hint="the frames written before that are readable; "
                        "free some space or capture to another disk",
                    ) from e
                if direction == "??":
                    self._counts.rs485_bad_frames += 1
                self._counts.rs485_frames += 1
        self._counts.rs485_noise_bytes = self._framer.noise_bytes
        return len(frames)

    def finish(self) -> None:
        pending = self._framer.pending()
        framer = self._framer
        self._writer.comment_if_possible(
            f"end: {self._writer.frames} frames, {framer.noise_bytes} noise bytes, "
            f"{framer.abandoned_frames} abandoned frames, "
            f"{len(pending)} bytes of an unfinished frame"
        )


def open_sniff_port(url: str, baud: int) -> SerialPort:
    """Open a port for listening only (pyserial URL: device, pty, socket://, loop://)."""
    import serial

    from active_cli.links.serial_link import is_device, open_error

    try:
        port: SerialPort = serial.serial_for_url(
            url, baudrate=baud, timeout=0.05, exclusive=is_device(url)
        )
    except (serial.SerialException, OSError, ValueError) as e:
        raise open_error(url, e) from e
    return port


class Capture:
    """Open what is asked (CAN bus and/or RS485 port), record until stopped.

    ``bus`` / ``port`` may be given ready-made (tests pass a virtual bus or a
    ``loop://`` port); otherwise they are opened from the options and closed
    at the end.
    """

    def __init__(
        self,
        *,
        can_path: Path | None = None,
        can_options: CanOptions | None = None,
        bus: can.BusABC | None = None,
        rs485_path: Path | None = None,
        port_url: str | None = None,
        baud: int = 9600,
        port: SerialPort | None = None,
        force: bool = False,
    ) -> None:
        if can_path is None and rs485_path is None:
            raise UsageError("give a file to capture to (.log/.asc/.blf/.csv/.trc or .rs485)")
        if rs485_path is not None and port is None and not port_url:
            raise UsageError("an RS485 capture needs --port (e.g. /dev/ttyUSB0)")
        if can_path is not None:
            check_can_path(can_path)
        for path in (can_path, rs485_path):
            if path is not None and not force:
                refuse_existing(path)
        self.counts = CaptureCounts()
        self._can_path = can_path
        self._rs485_path = rs485_path
        self._own_bus = bus is None and can_path is not None
        self._own_port = port is None and rs485_path is not None
        self._can_options = can_options or CanOptions()
        self._bus = bus
        self._port = port
        self._port_url = port_url
        self._baud = baud
        self._can: CanCapture | None = None
        self._sniffer: Rs485Sniffer | None = None
        self._rs485_file: TextIO | None = None
        self._lock = threading.Lock()
        self._stop_requested: str | None = None
        self._force = force

    def __enter__(self) -> Capture:
        try:
            self._open()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _open(self) -> None:
        if self._can_path is not None:
            if self._bus is None:
                self._bus = open_bus(self._can_options)
            self._can = CanCapture(self._bus, self._can_path)
        if self._rs485_path is not None:
            if self._port is None:
                assert self._port_url is not None
                self._port = open_sniff_port(self._port_url, self._baud)
            try:
                self._rs485_file = open(  # noqa: SIM115 - closed in close()
                    self._rs485_path, "w" if self._force else "x", encoding="ascii", newline="\n"
                )
            except FileExistsError:
                refuse_existing(self._rs485_path)
                raise
            except OSError as e:
                raise OutputError(self._rs485_path, e.strerror or str(e)) from e
            writer = Rs485LogWriter(self._rs485_file)
            try:
                writer.header(port=self._port_url or "(given)", baud=self._baud)
            except OSError as e:
                raise OutputError(self._rs485_path, e.strerror or str(e)) from e
            self._sniffer = Rs485Sniffer(self._port, writer, counts=self.counts)

    def request_stop(self, reason: str) -> None:
        """End `run` at its next turn (safe from a signal handler): `reason`
        names the signal in the summary."""
        self._stop_requested = reason

    def close(self) -> None:
        """Close everything; then raise the first file error met (OutputError)."""
        error: OutputError | None = None
        with self._lock:
            if self._can is not None:
                can_capture = self._can
                self._can = None
                can_capture.close()
                self._take_can_counts(can_capture)
                try:
                    can_capture.check()
                except OutputError as e:
                    error = e
                except LinkError:
                    pass  # the bus failed: run() has raised it already
            if self._sniffer is not None:
                self._sniffer.finish()
                self._sniffer = None
            if self._rs485_file is not None:
                try:
                    self._rs485_file.close()
                except OSError as e:
                    error = error or OutputError(self._rs485_path, e.strerror or str(e))
                self._rs485_file = None
            if self._own_bus and self._bus is not None:
                self._bus.shutdown()
            self._bus = None
            if self._own_port and self._port is not None:
                self._port.close()
            self._port = None
        if error is not None:
            raise error

    def _take_can_counts(self, can_capture: CanCapture) -> None:
        c = can_capture.counts
        self.counts.can_frames = c.written
        self.counts.can_received = c.received
        self.counts.can_dropped = c.dropped

    def run(
        self,
        duration_s: float | None = None,
        *,
        on_tick: Callable[[CaptureCounts], None] | None = None,
        tick_s: float = 0.2,
        clock: Callable[[], float] = time.monotonic,
    ) -> CaptureSummary:
        """Record until `duration_s` has passed (None: until Ctrl-C).

        Ctrl-C is how an installer ends a capture, so KeyboardInterrupt is
        taken as "stop", not as a failure; the files are closed either way.
        """
        start = clock()
        started_at = datetime.now(UTC)
        next_tick = start
        stopped_by: StopReason = "duration"
        try:
            while True:
                now = clock()
                self.counts.elapsed_s = now - start
                if self._stop_requested is not None:
                    stopped_by = "interrupt" if self._stop_requested == "SIGINT" else "signal"
                    break
                if duration_s is not None and now - start >= duration_s:
                    break
                if self._can is not None:
                    self._can.check()
                    self._take_can_counts(self._can)
                if self._sniffer is not None:
                    self._sniffer.poll()  # blocks up to the port timeout (50 ms)
                else:
                    time.sleep(min(0.05, tick_s))
                if on_tick is not None and now >= next_tick:
                    on_tick(self.counts)
                    next_tick = now + tick_s
        except KeyboardInterrupt:
            stopped_by = "interrupt"
        self.counts.elapsed_s = clock() - start
        ended_at = datetime.now(UTC)
        self.close()
        return self.summary(stopped_by, started_at=started_at, ended_at=ended_at)

    def summary(
        self,
        stopped_by: StopReason,
        *,
        started_at: datetime | None = None,
        ended_at: datetime | None = None,
    ) -> CaptureSummary:
        c = self.counts
        return CaptureSummary(
            can_path=str(self._can_path) if self._can_path else None,
            can_frames=c.can_frames,
            rs485_path=str(self._rs485_path) if self._rs485_path else None,
            rs485_frames=c.rs485_frames,
            rs485_bad_frames=c.rs485_bad_frames,
            rs485_noise_bytes=c.rs485_noise_bytes,
            duration_s=round(c.elapsed_s, 3),
            stopped_by=stopped_by,
            can_received=c.can_received,
            can_dropped=c.can_dropped,
            signal=self._stop_requested if stopped_by == "signal" else None,
            started_at=None if started_at is None else started_at.isoformat(),
            ended_at=None if ended_at is None else ended_at.isoformat(),
        )
