"""Read CAN frames from any log python-can reads, candump ``.log`` faster.

python-can already reads candump ``-L`` ``.log``, Vector ``.asc``, ``.blf``,
``.csv`` and PEAK ``.trc`` (and each of them gzip-compressed), so
:class:`CanLogReader` hands every format to ``can.LogReader`` and reduces each
``can.Message`` to a frozen :class:`CanFrame`. One exception, measured: on a
1 M-frame candump log python-can's reader alone takes longer than the whole
decode may (it builds a ``can.Message`` per line, about 3.5 µs), so candump
files are split by :func:`candump_tokens`, a tokenizer that keeps the three
fields as text (the frame text ``356#7A13F2FE6B01`` is what the decoder caches
on). :func:`parse_candump_frame` turns tokens into a frame with python-can's
own rules; every line shape that is not a plain data frame (remote, CAN FD,
error frames, odd hex) is handed to python-can's ``CanutilsLogReader`` itself.
``tests/test_log_decode.py`` checks that both paths give the same frames.

candump ``-L`` line (linux-can/can-utils ``log.c``; python-can ``canutils.py``)::

    (1700000000.000123) can0 356#7A13F2FE6B01
"""

from __future__ import annotations

import gzip
import io
import struct
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, BinaryIO, cast

from active_cli.closing import ClosesOnExit
from active_cli.errors import DataFileError
from active_cli.logs.lines import BoundedTextFile, LineStats, bounded_lines, line_blocks

if TYPE_CHECKING:
    import can

# Suffixes python-can's LogReader reads without extra packages; ".gz" after
# any of them is read through gzip. (.db and .mf4 work too when python-can
# can open them, but are not promised here.)
CAN_LOG_SUFFIXES: tuple[str, ...] = (".log", ".asc", ".blf", ".csv", ".trc")

# linux/can.h, as python-can's canutils.py uses them.
CAN_ERR_FLAG = 0x20000000
CAN_EFF_MASK = 0x1FFFFFFF

CandumpTokens = tuple[str, str, str]  # (timestamp text, channel, frame text)


@dataclass(frozen=True, slots=True)
class CanFrame:
    """One logged CAN frame, what the decoder needs of a ``can.Message``.

    ``channel`` is python-can's channel as text ("can0"; a number for
    formats that number channels: ASC channel 1 is python-can's 0).
    """

    timestamp: float
    channel: str
    arbitration_id: int
    data: bytes
    is_extended_id: bool = False
    is_remote_frame: bool = False
    is_error_frame: bool = False
    is_fd: bool = False


def frame_from_message(message: can.Message) -> CanFrame:
    channel = message.channel
    return CanFrame(
        timestamp=float(message.timestamp),
        channel="" if channel is None else str(channel),
        arbitration_id=int(message.arbitration_id),
        data=bytes(message.data or b""),
        is_extended_id=bool(message.is_extended_id),
        is_remote_frame=bool(message.is_remote_frame),
        is_error_frame=bool(message.is_error_frame),
        is_fd=bool(message.is_fd),
    )


def log_kind(path: str | Path) -> str:
    """The format suffix of a CAN log (".log", ".asc" ...), ".gz" looked through."""
    suffixes = [s.lower() for s in Path(path).suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    return suffixes[-1] if suffixes else ""


def normal_channel(channel: str) -> str:
    # python-can turns an all-digit channel into an int ("00" -> 0).
    return str(int(channel)) if channel.isdigit() else channel


def candump_tokens(lines: Iterable[str], path: str = "<candump>") -> Iterator[CandumpTokens]:
    """Split candump ``-L`` lines into (timestamp, channel, frame) text, skipping blanks.

    Accepts what python-can's ``CanutilsLogReader`` accepts: three fields, or
    four when the last is python-can's own ``R``/``T`` direction mark. The
    timestamp keeps its text (``1700000000.000123``) but must be a number.
    """
    number = 0
    frames = 0
    try:
        for number, line in enumerate(lines, 1):
            tokens = line_tokens(line, number, path)
            if tokens is not None:
                frames += 1
                yield tokens
    except READ_ERRORS as e:
        raise read_error(path, e, number + 1, frames) from e


def line_tokens(line: str, number: int, path: str) -> CandumpTokens | None:
    """One candump line's tokens (None for a blank line); DataFileError naming
    line `number` for anything else."""
    parts = line.split()
    count = len(parts)
    if count == 3 or (count == 4 and parts[3] in ("R", "T", "r", "t")):
        stamp = parts[0][1:-1]
        try:
            float(stamp)
        except ValueError:
            raise DataFileError(
                path, f"not a candump -L line (timestamp {parts[0]!r})", line=number
            ) from None
        return stamp, parts[1], parts[2]
    if count:
        raise DataFileError(
            path,
            f"not a candump -L line: {line.strip()[:60]!r}",
            line=number,
            hint="expected '(1700000000.000123) can0 356#7A13F2FE6B01' (candump -L)",
        )
    return None


# What reading a text log may raise: a .gz cut off, binary data, a damaged .gz.
READ_ERRORS: tuple[type[Exception], ...] = (EOFError, UnicodeDecodeError, OSError, zlib.error)


def read_error(path: str, e: Exception, line: int, frames: int) -> DataFileError:
    """The DataFileError for one of `READ_ERRORS` at `line`, after `frames` frames."""
    if isinstance(e, EOFError):
        # A .gz cut off (a capture killed before its trailer): the frames
        # before are good, the file is not whole.
        return DataFileError(
            path, f"file ends in the middle of a record after {frames} frames", line=line
        )
    # Binary data or a damaged .gz where text was expected.
    return DataFileError(path, f"not a readable candump log: {e}", line=line)


def parse_frame_text(frame_text: str) -> tuple[int, bytes, bool] | None:
    """``356#7A13F2FE6B01`` -> (0x356, data, extended), or None for the rare shapes
    (remote, CAN FD, error frames, odd or non-hex data) left to python-can."""
    id_text, sep, data_text = frame_text.partition("#")
    if not sep:
        raise ValueError(f"no '#' in candump frame {frame_text!r}")
    can_id = int(id_text, 16)
    if can_id & CAN_ERR_FLAG or len(data_text) % 2:
        return None
    try:
        data = bytes.fromhex(data_text)  # also refuses "R", "#1...", spaces
    except ValueError:
        return None
    return can_id & CAN_EFF_MASK, data, len(id_text) > 3


def parse_candump_frame(timestamp_text: str, channel: str, frame_text: str) -> CanFrame:
    """One candump line's tokens -> CanFrame, by python-can's rules.

    Raises ValueError for a frame python-can cannot read either ("35G#00").
    """
    parsed = parse_frame_text(frame_text)
    if parsed is None:
        return _parse_with_python_can(timestamp_text, channel, frame_text)
    can_id, data, extended = parsed
    return CanFrame(
        timestamp=float(timestamp_text),
        channel=normal_channel(channel),
        arbitration_id=can_id,
        data=data,
        is_extended_id=extended,
    )


def _parse_with_python_can(timestamp_text: str, channel: str, frame_text: str) -> CanFrame:
    from can.io.canutils import CanutilsLogReader

    line = f"({timestamp_text}) {channel} {frame_text}\n"
    try:
        messages = list(CanutilsLogReader(io.StringIO(line)))
    except (IndexError, KeyError, OverflowError, struct.error) as e:
        # python-can's parser indexes without checking ("351##": IndexError).
        raise ValueError(f"python-can cannot read it ({type(e).__name__}: {e})") from e
    if len(messages) != 1:  # pragma: no cover - one line in, one message out
        raise ValueError(f"python-can read {len(messages)} frames from one line")
    return frame_from_message(messages[0])


class CanLogReader(ClosesOnExit):
    """Open a CAN log; iterate :class:`CanFrame` (or candump tokens); report progress.

    ``fast_candump=False`` reads candump files through python-can too (used by
    the tests that compare the two). Errors in the file become DataFileError.
    """

    def __init__(self, path: str | Path, *, fast_candump: bool = True) -> None:
        self.path = Path(path)
        self.kind = log_kind(path)
        if self.kind not in CAN_LOG_SUFFIXES:
            raise DataFileError(
                str(path),
                f"unknown CAN log format {self.kind or '(no suffix)'!r}",
                hint="name the file .log (candump -L), .asc, .blf, .csv or .trc; "
                ".rs485 for an RS485 capture",
            )
        try:
            self.total_bytes = self.path.stat().st_size
        except OSError as e:
            raise DataFileError(str(path), f"cannot read: {e.strerror or e}") from e
        self.compressed = self.path.suffix.lower() == ".gz"
        self.fast = fast_candump and self.kind == ".log"
        self._raw: IO[bytes] | None = None
        self._text: IO[str] | None = None
        self._reader: Any = None
        self._position: Callable[[], int] = lambda: 0
        self.lines = LineStats()

    # -- opening ---------------------------------------------------------------

    def close(self) -> None:
        if self._reader is not None:
            self._reader.stop()
            self._reader = None
        for f in (self._text, self._raw):
            if f is not None:
                f.close()
        self._text = self._raw = None

    def position(self) -> int:
        """Bytes of the file consumed so far (compressed bytes for .gz)."""
        try:
            return self._position()
        except (OSError, ValueError):
            return 0

    def _open_text(self) -> IO[str]:
        try:
            raw = open(self.path, "rb")  # noqa: SIM115 - closed in close()
        except OSError as e:
            raise DataFileError(str(self.path), f"cannot read: {e.strerror or e}") from e
        self._raw = raw
        self._position = raw.tell
        binary: IO[bytes] = raw
        if self.compressed:
            binary = cast(IO[bytes], gzip.GzipFile(fileobj=raw))
        self._text = io.TextIOWrapper(binary, encoding="utf-8", newline=None)
        return self._text

    # -- reading ---------------------------------------------------------------

    def tokens(self) -> Iterator[CandumpTokens]:
        """candump tokens, for the decoder's cache-on-text path (candump files only)."""
        if self.kind != ".log":
            raise ValueError("tokens() reads candump .log files only")
        # The tokenizer itself, not a generator wrapping it: one layer less per line.
        lines = bounded_lines(self._open_text(), self.lines, by_line=self.compressed)
        return candump_tokens(lines, str(self.path))

    def line_blocks(self) -> Iterator[list[str]]:
        """The candump file's lines, a block at a time (see `lines.line_blocks`);
        read errors are the raw exceptions of `READ_ERRORS` (see `read_error`)."""
        if self.kind != ".log":
            raise ValueError("line_blocks() reads candump .log files only")
        return line_blocks(self._open_text(), self.lines, by_line=self.compressed)

    def __iter__(self) -> Iterator[CanFrame]:
        if self.fast:
            for n, (stamp, channel, frame_text) in enumerate(self.tokens(), 1):
                try:
                    yield parse_candump_frame(stamp, channel, frame_text)
                except (ValueError, OverflowError) as e:
                    raise DataFileError(
                        str(self.path), f"frame {n}: bad candump frame {frame_text!r}: {e}"
                    ) from e
            return
        yield from self._python_can_frames()

    def messages(self) -> Iterator[can.Message]:
        """python-can's own messages, for callers that want them (replay)."""

        errors: tuple[type[BaseException], ...] = (*_read_errors(), ImportError)
        try:
            self._reader = self._python_can_reader()
        except DataFileError:
            raise
        except errors as e:
            raise DataFileError(str(self.path), f"python-can cannot open it: {e}") from e
        if self.kind != ".blf":
            self._position = self._raw.tell if self._raw is not None else (lambda: 0)
        else:
            self._position = _position_of(self._reader)
        count = 0
        source: Iterable[can.Message] = self._reader
        if self.kind == ".blf":
            source = _unless_stalled(self._reader, str(self.path), lambda: count)
        try:
            for message in source:
                count += 1
                yield message
        except EOFError as e:
            raise DataFileError(
                str(self.path), f"file ends in the middle of a record after {count} frames"
            ) from e
        except _read_errors() as e:
            raise DataFileError(
                str(self.path), f"python-can could not read it after {count} frames: {e}"
            ) from e
        if self.kind == ".blf" and not self.compressed:
            cut = blf_truncation(self.path)
            if cut is not None:
                raise DataFileError(str(self.path), f"{cut} after {count} frames")

    def _python_can_reader(self) -> Any:
        """python-can's reader for the suffix; text formats read through
        `BoundedTextFile`, so no line is held whole however long it is."""
        import can

        if self.kind == ".blf":
            # The class itself: can.LogReader scans the installed packages'
            # entry points for plug-ins on every call (~5 ms).
            try:
                raw = open(self.path, "rb")  # noqa: SIM115 - closed in close()
            except OSError as e:
                raise DataFileError(str(self.path), f"cannot read: {e.strerror or e}") from e
            self._raw = raw
            binary: IO[bytes] = raw
            if self.compressed:
                binary = cast(IO[bytes], gzip.GzipFile(fileobj=raw))
            return can.BLFReader(cast(BinaryIO, binary))
        classes: dict[str, Any] = {
            ".log": can.CanutilsLogReader,
            ".asc": can.ASCReader,
            ".csv": can.CSVReader,
            ".trc": can.TRCReader,
        }
        text = BoundedTextFile(self._open_text(), self.lines, by_line=self.compressed)
        return classes[self.kind](text)

    def _python_can_frames(self) -> Iterator[CanFrame]:
        for message in self.messages():
            yield frame_from_message(message)


def read_can_log(path: str | Path) -> Iterator[CanFrame]:
    """Every frame of a CAN log of any supported format, streamed."""
    with CanLogReader(path) as reader:
        yield from reader


def _read_errors() -> tuple[type[BaseException], ...]:
    """What python-can's readers raise on a damaged or mislabelled file
    (a .trc with ``STARTTIME=1e400``: OverflowError; a damaged .gz: zlib.error)."""
    from can.io.blf import BLFParseError

    return (
        struct.error,
        zlib.error,
        ValueError,
        IndexError,
        KeyError,
        OverflowError,
        OSError,
        EOFError,
        NotImplementedError,
        BLFParseError,
    )


# python-can's BLF reader spins forever on an inner object whose size is 0
# and whose header version it does not know (found by benches/fuzz.py): it
# skips "to the next object", which is the same one. Such a file is read on a
# worker; a reader that yields nothing for this long is given up on.
BLF_STALL_S = 5.0
_BATCH = 512


def _unless_stalled(
    reader: Iterable[can.Message], path: str, count: Callable[[], int]
) -> Iterator[can.Message]:
    """`reader`'s messages, read on a daemon thread, with a deadline on progress.

    Batches keep the hand-over cheap (one queue operation per 512 frames).
    A stalled reader's thread is left spinning; the command exits with 4
    straight after, which ends it.
    """
    import queue
    import threading

    out: queue.Queue[list[can.Message] | BaseException | None] = queue.Queue(maxsize=16)

    def work() -> None:
        batch: list[can.Message] = []
        try:
            for message in reader:
                batch.append(message)
                if len(batch) >= _BATCH:
                    out.put(batch)
                    batch = []
            out.put(batch)
            out.put(None)
        except Exception as e:  # handed to the reading side, raised there
            out.put(batch)
            out.put(e)

    threading.Thread(target=work, name="blf-reader", daemon=True).start()
    while True:
        try:
            item = out.get(timeout=BLF_STALL_S)
        except queue.Empty:
            raise DataFileError(
                path,
                f"python-can's BLF reader made no progress for {BLF_STALL_S:g} s after "
                f"{count()} frames: a damaged object (size 0) it cannot step over",
                hint="convert the file with the tool that wrote it, or capture again",
            ) from None
        if item is None:
            return
        if isinstance(item, BaseException):
            raise item
        yield from item


# BLF layout (python-can blf.py): a file header whose second field is its own
# size, then objects, each starting "LOBJ", header size (u16), version (u16),
# object size (u32), type (u32), padded to 4 bytes.
_BLF_OBJECT = struct.Struct("<4sHHLL")


def blf_truncation(path: Path) -> str | None:
    """Why a BLF file is not whole (its last object runs past the end), or None.

    python-can's reader stops quietly at a cut container, so a file copied
    half-way decoded 34 of its 132 frames with no word. Only the object
    headers are read (seeking over the data), so this is cheap.
    """
    with path.open("rb") as f:
        f.seek(0, io.SEEK_END)
        size = f.tell()
        f.seek(0)
        head = f.read(8)
        if len(head) < 8:
            return "file ends inside its header"
        offset = struct.unpack_from("<L", head, 4)[0]
        while offset < size:
            f.seek(offset)
            raw = f.read(_BLF_OBJECT.size)
            if len(raw) < _BLF_OBJECT.size:
                return "file ends in the middle of a record"
            signature, _, _, obj_size, _ = _BLF_OBJECT.unpack(raw)
            if signature != b"LOBJ" or obj_size < _BLF_OBJECT.size:
                return f"no record at byte {offset} (damaged file)"
            if offset + obj_size > size:
                return "file ends in the middle of a record"
            offset += obj_size + obj_size % 4
    return None


def _position_of(reader: Any) -> Callable[[], int]:
    """How far python-can's reader is into its file, for a progress bar."""
    f = getattr(reader, "file", None)
    if f is None or isinstance(f, gzip.GzipFile):
        return lambda: 0
    buffer = getattr(f, "buffer", None)  # a text file: ask its byte buffer
    if isinstance(buffer, gzip.GzipFile):
        return lambda: 0
    target = buffer if buffer is not None else f
    tell: Callable[[], int] = target.tell
    return tell
