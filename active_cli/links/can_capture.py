"""Record a CAN bus to a log file without losing frames or the file.

Two threads and a bounded queue between them: python-can's ``Notifier`` thread
only receives (``bus.recv``) and puts each frame on the queue, so a slow disk
never stalls the socket or adapter it reads; a writer thread hands the frames
to python-can's own writer (``can.Logger``: the format follows the suffix,
``.log`` candump, ``.asc``, ``.blf``, ``.csv``, ``.trc``, optionally ``.gz``)
and flushes it every `FLUSH_INTERVAL_S`, so a capture killed by SIGKILL or a
power cut loses at most that much.

What each format keeps after a hard kill (docs/monitor-and-logs.md):

- text formats (``.log``, ``.asc``, ``.csv``, ``.trc``) are whole lines up to
  the last flush; ``.asc`` and ``.trc`` lack only their closing lines;
- ``.gz``: each flush is a zlib sync point, so everything up to it
  decompresses; the file then ends without its gzip trailer;
- ``.blf``: each flush closes a container (python-can's ``BLFWriter._flush``,
  the writer's own container step, called on time as well as on size), so the
  file reads up to the last container; the header's counts stay unwritten.

The queue holds `QUEUE_FRAMES` (over 10 s of a fully loaded 500 kbit/s bus);
when the writer cannot keep up for longer, frames are dropped *and counted*,
so the summary can say "received N, written M" instead of losing them quietly.
"""

from __future__ import annotations

import errno
import os
import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from active_cli.closing import ClosesOnExit
from active_cli.errors import LinkError, OutputError, UsageError
from active_cli.logs.can_reader import CAN_LOG_SUFFIXES, log_kind

if TYPE_CHECKING:
    import can

FLUSH_INTERVAL_S = 0.5
QUEUE_FRAMES = 50_000
# After the stop, frames already on their way (a socketcand server forwards
# in bursts, the kernel holds a socket buffer) are still taken for this long.
DRAIN_S = 0.15

_STOP = object()  # the writer's end-of-queue marker


@dataclass
class CanCaptureCounts:
    """Counters shared by the two threads (each written by one thread only)."""

    received: int = 0  # every message the receiver took off the bus
    written: int = 0  # every message handed to the file writer
    queue_full: int = 0  # received, not queued: the writer fell behind (receiver thread)
    unwritten: int = 0  # queued, not written: the file had failed (writer thread)
    error_frames: int = 0  # error frames among the received (written too)
    flushes: int = 0

    @property
    def dropped(self) -> int:
        """Received but not in the file."""
        return self.queue_full + self.unwritten


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


def open_can_writer(path: Path) -> can.io.generic.MessageWriter:
    """python-can's writer for `path`'s suffix; a folder that is not there or
    not writable is an OutputError (exit 5)."""
    import can

    check_can_path(path)
    try:
        return can.Logger(str(path))
    except OSError as e:
        raise OutputError(path, e.strerror or str(e)) from e
    except ValueError as e:
        raise UsageError(f"cannot write {path}: {e}") from e


def flush_writer(writer: can.io.generic.MessageWriter) -> None:
    """Push everything `writer` holds to the disk (raises OSError on a full disk)."""
    import can

    if isinstance(writer, can.BLFWriter):
        # BLF buffers frames until a 128 KiB container is full: at Pylon's
        # seven frames a second that is minutes. Closing the container now
        # is what the writer does itself when it is full.
        writer._flush()
    file = getattr(writer, "file", None)
    if file is None or file.closed:
        return
    file.flush()  # a gzip file under it does a zlib sync flush here
    try:
        fileno = file.fileno()
    except (OSError, ValueError, AttributeError):
        return
    try:
        os.fsync(fileno)  # power loss too, not only a killed process
    except OSError as e:
        # A pipe or a device (/dev/null, a FIFO) cannot be synced; that is
        # no failure to write. A full disk is (ENOSPC, EIO).
        if e.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EROFS):
            raise


class CanCapture(ClosesOnExit):
    """Log everything `bus` receives to `path` until :meth:`close`.

    ``check()`` (call it from the main loop) raises what a thread met: a bus
    failure as LinkError, a file that could not be written as OutputError.
    """

    def __init__(
        self,
        bus: can.BusABC,
        path: Path,
        *,
        flush_interval_s: float = FLUSH_INTERVAL_S,
        queue_frames: int = QUEUE_FRAMES,
        writer: can.io.generic.MessageWriter | None = None,
    ) -> None:
        import can

        self.path = path
        self.counts = CanCaptureCounts()
        self.bus_error: Exception | None = None
        self.write_error: OSError | None = None
        self._flush_interval_s = flush_interval_s
        self._writer = writer if writer is not None else open_can_writer(path)
        self._queue: queue.Queue[object] = queue.Queue(maxsize=queue_frames)
        self._closed = False
        self._thread = threading.Thread(
            target=self._write_loop, name="active-capture-writer", daemon=True
        )
        self._thread.start()
        self._notifier = can.Notifier(bus, [_Receiver(self)], timeout=0.1)

    # -- the writer thread -------------------------------------------------------

    def _write_loop(self) -> None:
        get = self._queue.get
        counts = self.counts
        next_flush = time.monotonic() + self._flush_interval_s
        while True:
            try:
                item = get(timeout=self._flush_interval_s)
            except queue.Empty:
                item = None
            if item is _STOP:
                return
            if item is not None:
                if self.write_error is None:
                    try:
                        self._writer.on_message_received(item)  # type: ignore[arg-type]
                        counts.written += 1
                    except OSError as e:
                        self.write_error = e
                        counts.unwritten += 1
                else:
                    counts.unwritten += 1  # keep the queue moving; nothing more is written
            now = time.monotonic()
            if now >= next_flush:
                next_flush = now + self._flush_interval_s
                self._flush()

    def _flush(self) -> None:
        if self.write_error is not None:
            return
        try:
            flush_writer(self._writer)
            self.counts.flushes += 1
        except OSError as e:
            self.write_error = e

    # -- the main thread ---------------------------------------------------------

    def check(self) -> None:
        """Raise the error a thread met, if any."""
        if self.write_error is not None:
            raise _output_error(self.path, self.write_error, self.counts)
        if self.bus_error is not None:
            raise LinkError(
                f"CAN receive failed: {self.bus_error}",
                hint="the CAN adapter or gateway went away: check its cable or network; "
                "frames received until then are in the file",
            ) from self.bus_error

    def close(self) -> None:
        """Stop receiving, write what was received, close the file (idempotent)."""
        if self._closed:
            return
        self._closed = True
        if self.bus_error is None:
            time.sleep(DRAIN_S)
        self._notifier.stop()
        self._queue.put(_STOP)
        self._thread.join()
        try:
            # stop() writes what is left and closes: BLF writes its header,
            # ASC its footer, gzip its trailer.
            self._writer.stop()
        except OSError as e:
            if self.write_error is None:
                self.write_error = e
        except ValueError:
            pass  # a file already closed by a failed write


def _output_error(path: Path, error: OSError, counts: CanCaptureCounts) -> OutputError:
    return OutputError(
        path,
        f"{error.strerror or error} after {counts.written} frames",
        hint="the frames written before that are readable (`active log decode`); "
        "free some space or capture to another disk",
    )


class _Receiver:
    """The python-can listener on the Notifier thread: receive and queue, nothing else."""

    def __init__(self, capture: CanCapture) -> None:
        self._capture = capture
        self._put = capture._queue.put_nowait
        self._counts = capture.counts

    def __call__(self, message: can.Message) -> None:
        self.on_message_received(message)

    def on_message_received(self, message: can.Message) -> None:
        counts = self._counts
        counts.received += 1
        if message.is_error_frame:
            counts.error_frames += 1
        try:
            self._put(message)
        except queue.Full:
            counts.queue_full += 1

    def on_error(self, exc: Exception) -> None:
        if self._capture.bus_error is None:
            self._capture.bus_error = exc
        # python-can >= 4.5 keeps its reader thread looping after a handled
        # error; a dead gateway fails every recv() at once.
        time.sleep(0.2)

    def stop(self) -> None:
        pass  # Notifier.stop() calls it; the capture closes the writer itself
