"""The RS485 capture format: one frame a line, with its time and direction.

No common tool logs Pylontech RS485 traffic, so `active` defines a text format
that a person can read and ``grep`` and a program can stream::

    # active rs485 capture 1: port=/dev/ttyUSB1 baud=9600
    2026-11-25T16:45:01.123456+01:00 TX ~20024642E00202FD33
    2026-11-25T16:45:01.187012+01:00 RX ~20024600C06E11020F0D45...E553

- ``#`` starts a comment line (the header, the summary at the end); blank lines
  are ignored.
- Field 1, the time the frame's CR arrived: ISO 8601 with microseconds, local
  time with its UTC offset (a line without an offset is read as local time).
- Field 2, the direction, seen from the bus master (the inverter, or `active`
  when it polls): ``TX`` a request to a battery, ``RX`` a battery's response,
  ``??`` a frame that does not check (bad CHKSUM, LENGTH, non-hex), kept
  because on site the broken frames are the evidence. A request is told from a
  response by CID2, as in `protocols.decode_text` (command codes and return
  codes do not overlap).
- Field 3, the frame from ``~`` up to its CR, which is left out (frames end in
  CR only). Any byte outside printable ASCII (0x21-0x7E), and ``\\`` itself, is
  written ``\\xHH``, so noise inside a frame survives the round trip.

Fields are separated by one space; a frame never contains one unescaped.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Literal, TextIO

from active_cli.closing import ClosesOnExit
from active_cli.errors import DataFileError, DecodeError
from active_cli.logs.lines import LineStats, bounded_lines
from active_cli.protocols import pylon_rs485
from active_cli.protocols.pylon_rs485 import Command, Rtn

RS485_LOG_SUFFIX = ".rs485"
FORMAT_VERSION = 1
HEADER_PREFIX = f"# active rs485 capture {FORMAT_VERSION}"

Direction = Literal["TX", "RX", "??"]
DIRECTIONS: tuple[Direction, ...] = ("TX", "RX", "??")

_COMMANDS = frozenset(int(c) for c in Command)
_RETURN_CODES = frozenset(int(r) for r in Rtn)
_PLAIN = frozenset(range(0x21, 0x7F)) - {ord("\\")}
_CR = b"\r"


@dataclass(frozen=True)
class Rs485Record:
    """One captured frame. ``frame`` is the bytes as they came off the line,
    from ``~`` to the CR inclusive."""

    timestamp: datetime
    direction: Direction
    frame: bytes


def classify(frame: bytes) -> Direction:
    """TX for a request, RX for a response, ?? when the frame does not check."""
    try:
        decoded = pylon_rs485.decode_frame(frame)
    except DecodeError:
        return "??"
    if decoded.cid2 in _COMMANDS and decoded.cid2 not in _RETURN_CODES:
        return "TX"
    return "RX"


def escape_frame(frame: bytes) -> str:
    if frame.endswith(_CR):
        frame = frame[:-1]
    return "".join(chr(b) if b in _PLAIN else f"\\x{b:02X}" for b in frame)


def unescape_frame(text: str) -> bytes:
    out = bytearray()
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            if text[i + 1 : i + 2] != "x" or len(text) < i + 4:
                raise ValueError(f"bad escape at column {i + 1}: use \\xHH")
            out.append(int(text[i + 2 : i + 4], 16))
            i += 4
            continue
        code = ord(ch)
        if code not in _PLAIN:
            raise ValueError(f"unescaped byte 0x{code:02X} at column {i + 1}")
        out.append(code)
        i += 1
    return bytes(out) + _CR


def format_line(record: Rs485Record) -> str:
    if not record.frame.endswith(_CR):
        raise ValueError("a captured frame ends with its CR")
    if record.direction not in DIRECTIONS:
        raise ValueError(f"direction {record.direction!r} is not one of {DIRECTIONS}")
    stamp = record.timestamp.isoformat(timespec="microseconds")
    return f"{stamp} {record.direction} {escape_frame(record.frame)}\n"


def parse_line(
    line: str, *, path: str = "<rs485>", number: int | None = None
) -> Rs485Record | None:
    """One line -> record; None for a blank or comment line; DataFileError otherwise."""
    text = line.rstrip("\r\n")
    if not text.strip() or text.lstrip().startswith("#"):
        return None
    parts = text.split(" ")
    if len(parts) != 3:
        raise DataFileError(
            path,
            f"expected 3 fields (time, TX/RX/??, frame), got {len(parts)}",
            line=number,
            hint="a line reads: 2026-11-25T16:45:01.123456+01:00 TX ~20024642E00202FD33",
        )
    stamp, direction, frame_text = parts
    try:
        timestamp = datetime.fromisoformat(stamp)
        # Every reader turns the time into seconds since the epoch; a time
        # without an offset is local, and 0001-01-01 shifted to UTC is year 0.
        timestamp.timestamp()
    except (ValueError, OverflowError, OSError):
        raise DataFileError(
            path, f"bad time {stamp!r} (ISO 8601, within the years 2-9998)", line=number
        ) from None
    if direction not in DIRECTIONS:
        raise DataFileError(path, f"direction {direction!r} is not TX, RX or ??", line=number)
    try:
        frame = unescape_frame(frame_text)
    except ValueError as e:
        raise DataFileError(path, f"bad frame text: {e}", line=number) from None
    return Rs485Record(timestamp, direction, frame)


class Rs485LogWriter:
    """Write records to a text file, one line each; flushes every line (a capture
    may be ended by pulling the adapter: what was seen must already be on disk)."""

    def __init__(self, file: TextIO) -> None:
        self.file = file
        self.frames = 0

    def header(self, **fields: object) -> None:
        details = " ".join(f"{k}={v}" for k, v in fields.items())
        self.file.write(f"{HEADER_PREFIX}: {details}\n" if details else f"{HEADER_PREFIX}\n")
        self.file.flush()

    def comment(self, text: str) -> None:
        for line in text.splitlines() or [""]:
            self.file.write(f"# {line}\n")
        self.file.flush()

    def comment_if_possible(self, text: str) -> None:
        """`comment`, except on a file that already failed (full disk): the
        frames are what matters, the closing summary is a courtesy."""
        with contextlib.suppress(OSError, ValueError):
            self.comment(text)

    def write(self, record: Rs485Record) -> None:
        self.file.write(format_line(record))
        self.file.flush()
        self.frames += 1


def capture_lines(raw: IO[bytes], path: str, stats: LineStats) -> Iterator[tuple[int, str]]:
    """(line number, text) of an RS485 capture, each line bounded (`logs.lines`);
    DataFileError for a line that is not ASCII."""
    text = io.TextIOWrapper(raw, encoding="latin-1", newline="")
    for number, line in enumerate(bounded_lines(text, stats), 1):
        if not line.isascii():
            raise DataFileError(path, "not an RS485 capture: non-ASCII text", line=number)
        yield number, line


class Rs485LogReader(ClosesOnExit):
    """Stream the records of an RS485 capture file (constant memory, whatever
    its lines: over-long ones are skipped and counted in ``lines``)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.lines = LineStats()
        try:
            self.total_bytes = self.path.stat().st_size
            self._raw: IO[bytes] = open(self.path, "rb")  # noqa: SIM115 - closed in close()
        except OSError as e:
            raise DataFileError(str(path), f"cannot read: {e.strerror or e}") from e

    def close(self) -> None:
        self._raw.close()

    def position(self) -> int:
        try:
            return self._raw.tell()
        except (OSError, ValueError):
            return 0

    def __iter__(self) -> Iterator[Rs485Record]:
        path = str(self.path)
        for number, line in capture_lines(self._raw, path, self.lines):
            record = parse_line(line, path=path, number=number)
            if record is not None:
                yield record


def read_rs485_log(path: str | Path) -> Iterator[Rs485Record]:
    """Every record of an RS485 capture file, streamed."""
    with Rs485LogReader(path) as reader:
        yield from reader
