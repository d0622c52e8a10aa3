"""Record the buses to files: CAN through python-can, RS485 by passive sniffing.

CAN: a python-can ``Notifier`` feeds every received frame to a ``can.Logger``
(the format follows the file suffix: ``.log`` candump, ``.asc``, ``.blf``,
``.csv``, ``.trc``) and to a counter, on python-can's own thread.

RS485: the port is only ever read, never written: a capture adapter sits on
the A/B pair next to the inverter (or next to `active`) and hears both sides.
Bytes go through the same `Rs485Framer` as the polling link; each frame is
stamped when its CR arrives, classified (TX request / RX response / ?? broken)
and written as one line of the `logs.rs485_log` format, flushed at once, so
an adapter pulled mid-capture loses nothing already heard.

`run_capture` runs both until a duration ends or the user presses Ctrl-C
(the normal way to stop, so it ends the capture cleanly rather than failing),
and returns what was recorded.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Literal, TextIO

from active_cli.errors import LinkError, UsageError
from active_cli.links.can_link import CanOptions, open_bus
from active_cli.logs.can_reader import CAN_LOG_SUFFIXES, log_kind
from active_cli.logs.rs485_log import Rs485LogWriter, Rs485Record, classify
from active_cli.protocols.framing import Rs485Framer

if TYPE_CHECKING:
    import can

    from active_cli.links.serial_link import SerialPort

StopReason = Literal["duration", "interrupt"]


@dataclass
class CaptureCounts:
    """Live counters (read by the display while the capture runs)."""

    can_frames: int = 0
    rs485_frames: int = 0
    rs485_bad_frames: int = 0
    rs485_noise_bytes: int = 0
    elapsed_s: float = 0.0


@dataclass(frozen=True)
class CaptureSummary:
    can_path: str | None
    can_frames: int
    rs485_path: str | None
    rs485_frames: int
    rs485_bad_frames: int
    rs485_noise_bytes: int
    duration_s: float
    stopped_by: StopReason


def check_can_path(path: Path) -> None:
    """A CAN capture file must have a suffix python-can writes and `active` reads back."""
    kind = log_kind(path)
    if kind not in CAN_LOG_SUFFIXES or (path.suffix.lower() == ".gz" and kind == ".blf"):
        raise UsageError(
            f"{path}: cannot tell the CAN log format from "
            f"{''.join(path.suffixes) or 'no suffix'!r}",
            hint="end the name in .log (candump -L), .asc, .blf, .csv or .trc "
            "(optionally .gz), or .rs485 for an RS485 capture",
        )


class CanCapture:
    """Log everything `bus` receives to `path` until :meth:`stop`."""

    def __init__(self, bus: can.BusABC, path: Path, *, counts: CaptureCounts) -> None:
        import can

        check_can_path(path)
        self.path = path
        self.counts = counts
        self.error: BaseException | None = None
        try:
            self._logger = can.Logger(str(path))
        except (OSError, ValueError) as e:
            raise UsageError(f"cannot write {path}: {e}") from e
        self._notifier = can.Notifier(bus, [self._logger, _Counter(self)], timeout=0.1)

    def check(self) -> None:
        """Raise the bus error the Notifier thread met, if any."""
        if self.error is not None:
            raise LinkError(
                f"CAN receive failed: {self.error}",
                hint="the CAN adapter went away: check its USB cable",
            ) from self.error

    def stop(self) -> None:
        # Notifier.stop() also stops its listeners: the Logger flushes and
        # closes its file there (BLF writes its header, ASC its footer).
        self._notifier.stop()


class _Counter:
    """A python-can listener (any callable is one) on the Notifier thread: counts
    frames, and keeps the thread's exception for the main thread to raise."""

    def __init__(self, capture: CanCapture) -> None:
        self._capture = capture

    def __call__(self, message: can.Message) -> None:
        if not message.is_error_frame:
            self._capture.counts.can_frames += 1

    def on_error(self, exc: Exception) -> None:
        if self._capture.error is None:
            self._capture.error = exc


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
                self._writer.write(Rs485Record(stamp, direction, frame))
                if direction == "??":
                    self._counts.rs485_bad_frames += 1
            self._counts.rs485_frames += len(frames)
        self._counts.rs485_noise_bytes = self._framer.noise_bytes
        return len(frames)

    def finish(self) -> None:
        pending = self._framer.pending()
        framer = self._framer
        self._writer.comment(
            f"end: {self._writer.frames} frames, {framer.noise_bytes} noise bytes, "
            f"{framer.abandoned_frames} abandoned frames, "
            f"{len(pending)} bytes of an unfinished frame"
        )


def open_sniff_port(url: str, baud: int) -> SerialPort:
    """Open a port for listening only (pyserial URL: device, pty, socket://, loop://)."""
    import serial

    try:
        port: SerialPort = serial.serial_for_url(url, baudrate=baud, timeout=0.05)
    except (serial.SerialException, OSError, ValueError) as e:
        raise LinkError(
            f"cannot open {url}: {e}",
            hint="is the adapter plugged in? On Linux look at `ls /dev/ttyUSB*`; "
            "for a gateway give socket://HOST:PORT",
        ) from e
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
    ) -> None:
        if can_path is None and rs485_path is None:
            raise UsageError("give a file to capture to (.log/.asc/.blf/.csv/.trc or .rs485)")
        if rs485_path is not None and port is None and not port_url:
            raise UsageError("an RS485 capture needs --port (e.g. /dev/ttyUSB0)")
        if can_path is not None:
            check_can_path(can_path)
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
            self._can = CanCapture(self._bus, self._can_path, counts=self.counts)
        if self._rs485_path is not None:
            if self._port is None:
                assert self._port_url is not None
                self._port = open_sniff_port(self._port_url, self._baud)
            try:
                self._rs485_file = open(  # noqa: SIM115 - closed in close()
                    self._rs485_path, "w", encoding="ascii", newline="\n"
                )
            except OSError as e:
                raise UsageError(f"cannot write {self._rs485_path}: {e.strerror or e}") from e
            writer = Rs485LogWriter(self._rs485_file)
            writer.header(port=self._port_url or "(given)", baud=self._baud)
            self._sniffer = Rs485Sniffer(self._port, writer, counts=self.counts)

    def close(self) -> None:
        with self._lock:
            if self._can is not None:
                self._can.stop()
                self._can = None
            if self._sniffer is not None:
                self._sniffer.finish()
                self._sniffer = None
            if self._rs485_file is not None:
                self._rs485_file.close()
                self._rs485_file = None
            if self._own_bus and self._bus is not None:
                self._bus.shutdown()
            self._bus = None
            if self._own_port and self._port is not None:
                self._port.close()
            self._port = None

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
        next_tick = start
        stopped_by: StopReason = "duration"
        try:
            while True:
                now = clock()
                self.counts.elapsed_s = now - start
                if duration_s is not None and now - start >= duration_s:
                    break
                if self._can is not None:
                    self._can.check()
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
        self.close()
        return self.summary(stopped_by)

    def summary(self, stopped_by: StopReason) -> CaptureSummary:
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
        )
