"""Decode a capture to CSV or JSON lines as a stream, in constant memory.

A log is read one frame at a time and each frame is written as soon as it is
decoded, so a 4 GB capture needs no more memory than a 4 kB one. CAN frames go
through the DBC (`fast_decode`, equal to `pylon_can.decode_signals`), RS485
frames through the Pylontech codec, pairing each response with the request
before it the way `protocols.decode_text` does for pasted frames.

Output, one record per signal in CSV (the "long" layout spreadsheets and
pandas pivot from) and one per frame in JSON lines::

    timestamp,source,id,message,signal,value,unit,error
    1700000000.000123,can0,0x356,BMS_Measurements,Voltage,49.86,V,
    {"timestamp":1700000000.000123,"source":"can0","id":"0x356","message":"BMS_Measurements","data":"7A13F2FE6B01","signals":{"Voltage":49.86,...}}

``source`` is the CAN channel, or TX/RX/?? for RS485; ``id`` the CAN id, or the
RS485 ADR. A frame that does not decode is written with its reason in
``error`` (one CSV row, empty signal); ids the DBC does not know are counted,
not written. Speed comes from caching: Pylon batteries repeat most frames
unchanged every second, so the rendered text of a payload is kept in a
bounded LRU cache keyed by the frame as it appears in the file, and a repeat
costs one dictionary look-up and one write.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TextIO

from active_cli.errors import DataFileError, DecodeError, UsageError
from active_cli.logs.can_reader import (
    READ_ERRORS,
    CanFrame,
    CanLogReader,
    line_tokens,
    normal_channel,
    parse_candump_frame,
    parse_frame_text,
    read_error,
)
from active_cli.logs.can_text import (
    DECODED,
    ERROR,
    SKIPPED,
    UNKNOWN,
    CanText,
    SignalPattern,
    around_stamp,
    csv_field,
    json_number,
    json_text,
)
from active_cli.logs.dbc_digest import load_digest

if TYPE_CHECKING:
    from active_cli.logs.rs485_log import Rs485Record

# rs485_log.RS485_LOG_SUFFIX, not imported from there: rs485_log loads the
# RS485 codec, which a CAN decode does not need (tests/test_dbc_digest.py).
RS485_SUFFIX = ".rs485"

# Rendered frames kept (each generation of the cache): a battery repeats most
# frames unchanged every second.
DEFAULT_CACHE_SIZE = 4096

OutputFormat = Literal["csv", "jsonl"]
OUTPUT_FORMATS: tuple[OutputFormat, ...] = ("csv", "jsonl")
CSV_HEADER = "timestamp,source,id,message,signal,value,unit,error\n"

# Progress is reported every this many frames: often enough for a bar, rare
# enough to cost nothing.
PROGRESS_EVERY = 1 << 15

_MAX_SOURCES = 256  # channel texts remembered; more is not a real capture


@dataclass(frozen=True)
class DecodeOptions:
    """What to write: the format, and optional filters.

    ``ids``: only these CAN ids (RS485: ADRs); empty = all. ``signals``: glob
    patterns (case-insensitive) on the signal name or ``Message.Signal``
    (RS485: the dotted field path, e.g. ``payload.packs.*.voltage_v``);
    empty = all.
    """

    output_format: OutputFormat = "csv"
    ids: frozenset[int] = frozenset()
    signals: tuple[str, ...] = ()
    cache_size: int = DEFAULT_CACHE_SIZE


@dataclass
class DecodeSummary:
    """Counts of one decode run (frames read = decoded + errors + unknown + skipped)."""

    bus: Literal["can", "rs485"]
    frames: int = 0
    decoded: int = 0
    errors: int = 0
    unknown: int = 0
    skipped: int = 0
    last_error: str | None = None
    cache_hits: int = 0
    unknown_ids: list[str] = field(default_factory=list)  # the first few, for the summary
    too_long_lines: int = 0  # skipped: longer than logs.lines.MAX_LINE_CHARS
    interrupted: bool = False  # stopped early by `stop` (Ctrl-C): the output holds whole lines


Progress = Callable[[int], None]


def bus_of(path: str | Path) -> Literal["can", "rs485"]:
    return "rs485" if Path(path).suffix.lower() == RS485_SUFFIX else "can"


def decode_log(
    path: str | Path,
    out: TextIO,
    options: DecodeOptions = DecodeOptions(),
    *,
    progress: Progress | None = None,
    stop: Callable[[], bool] | None = None,
) -> DecodeSummary:
    """Decode the capture at `path` to `out`; the bus is told by the suffix
    (``.rs485`` or a CAN log suffix). `progress(bytes_read)` is called now and then;
    when `stop()` turns true (asked between blocks) the decode ends early with
    whole lines written and ``summary.interrupted`` set."""
    if bus_of(path) == "rs485":
        from active_cli.logs.rs485_log import Rs485LogReader

        with Rs485LogReader(path) as rs485:
            summary = decode_rs485_records(
                rs485, out, options, progress=_every(progress, rs485.position, 256)
            )
            summary.too_long_lines = rs485.lines.too_long
            return summary
    with CanLogReader(path) as reader:
        decoder = CanStreamDecoder(options)
        if reader.fast:
            summary = decoder.decode_candump(
                reader, out, progress=progress, path=str(path), stop=stop
            )
        else:
            summary = decoder.decode_frames(
                reader, out, progress=_every(progress, reader.position, PROGRESS_EVERY), stop=stop
            )
        summary.too_long_lines = reader.lines.too_long
        return summary


def _every(progress: Progress | None, position: Callable[[], int], n: int) -> Callable[[], None]:
    if progress is None:
        return lambda: None
    count = 0

    def tick() -> None:
        nonlocal count
        count += 1
        if count % n == 0:
            progress(position())

    return tick


# --- CSV / JSON text ---------------------------------------------------------------


def _value_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return csv_field(str(value))


# --- CAN ---------------------------------------------------------------------------


class CanStreamDecoder:
    """Renders CAN frames to CSV/JSONL text, a block of lines or frames at a time.

    A candump line whose channel and frame were seen before costs one
    dictionary look-up and one ``join``: the text of a decoded frame, with
    its source folded in, is cached by the line's text after the timestamp
    (``can0 356#7A13F2FE6B01``), bounded by ``cache_size``. Each block's
    text is written in one ``write``, and a block cut short (a damaged line,
    a read error) still writes the whole lines before the fault.
    """

    def __init__(self, options: DecodeOptions = DecodeOptions()) -> None:
        if options.output_format not in OUTPUT_FORMATS:
            raise UsageError(f"unknown output format {options.output_format!r}: csv or jsonl")
        self.options = options
        self._csv = options.output_format == "csv"
        # The DBC's digest, not cantools: importing cantools would cost more
        # start-up than a small decode takes (dbc_digest).
        self.text = CanText(load_digest(), csv=self._csv, ids=options.ids, signals=options.signals)
        self._sources: dict[str, tuple[str, str]] = {}
        size = options.cache_size if options.cache_size > 0 else 0
        self._cache_size = size
        self.render_text = functools.lru_cache(maxsize=size)(self._render_text)
        self.render = functools.lru_cache(maxsize=size)(self.text.render)

    @property
    def unknown_ids(self) -> list[str]:
        return self.text.unknown_ids

    @property
    def last_error(self) -> str | None:
        return self.text.last_error

    def _render_text(self, frame_text: str) -> tuple[int, tuple[str, ...]]:
        parsed = parse_frame_text(frame_text)
        if parsed is None:  # remote, FD, error frame...: python-can's reading
            frame = parse_candump_frame("0", "0", frame_text)
            return self.text.render(
                frame.arbitration_id,
                frame.data,
                frame.is_extended_id,
                frame.is_remote_frame or frame.is_error_frame,
            )
        can_id, data, extended = parsed
        return self.text.render(can_id, data, extended, False)

    def _source(self, channel: str) -> tuple[str, str]:
        """(text before the timestamp, text after it) for a channel."""
        found = self._sources.get(channel)
        if found is not None:
            return found
        name = normal_channel(channel)
        if self._csv:
            pair = ("", f",{csv_field(name)},")
        else:
            pair = ('{"timestamp":', f',"source":{json_text(name)},')
        if len(self._sources) < _MAX_SOURCES:
            self._sources[channel] = pair
        return pair

    # -- the loops -------------------------------------------------------------------

    def start(self, out: TextIO) -> None:
        if self._csv:
            out.write(CSV_HEADER)

    def decode_candump(
        self,
        reader: CanLogReader,
        out: TextIO,
        *,
        progress: Progress | None = None,
        path: str = "<candump>",
        stop: Callable[[], bool] | None = None,
    ) -> DecodeSummary:
        """The hot loop: candump lines, a block at a time -> cached text -> out."""
        self.start(out)
        counts = [0, 0, 0, 0]  # of the frames that took the slow path
        cache = _TextCache(self._cache_size)
        state = _LineState()
        write = out.write
        blocks = reader.line_blocks()
        interrupted = False
        try:
            for lines in blocks:
                pieces: list[str] = []
                try:
                    if not self._fast_block(lines, pieces, cache, counts, state, path):
                        self._careful_block(lines, pieces, cache, counts, state, path)
                finally:
                    if pieces:
                        write("".join(pieces))
                if progress is not None:
                    progress(reader.position())
                if stop is not None and stop():
                    interrupted = True
                    break
        except READ_ERRORS as e:
            frames = state.number - state.blanks
            raise read_error(path, e, state.number + 1, frames) from e
        finally:
            close = getattr(blocks, "close", None)
            if close is not None:
                close()
        frames = state.number - state.blanks
        counts[DECODED] = frames - counts[ERROR] - counts[UNKNOWN] - counts[SKIPPED]
        summary = self._summary(counts, self.render_text)
        summary.interrupted = interrupted
        return summary

    def _fast_block(
        self,
        lines: list[str],
        pieces: list[str],
        cache: _TextCache,
        counts: list[int],
        state: _LineState,
        path: str,
    ) -> bool:
        """A block whose cached lines have plain timestamps: their text is one
        look-up and one join each, the timestamps checked together afterwards
        (`_plain_stamps`). False, with nothing done, when a timestamp is not
        plain: the block is then read line by line (`_careful_block`)."""
        cache_get = cache.young.get
        append = pieces.append
        heads: list[str] = []
        keep = heads.append
        misses: list[int] = []
        try:
            for line in lines:
                head, _, tail = line.partition(" ")
                entry = cache_get(tail)
                if entry is None:
                    misses.append(len(pieces))
                    append("")  # filled in below, in order
                else:
                    keep(head)
                    append(head[1:-1].join(entry))
            if heads and not _plain_stamps(heads, zero_ok=self._csv):
                pieces.clear()
                return False
        except BaseException:  # Ctrl-C before the timestamps were checked
            pieces.clear()
            raise
        base = state.number
        for k in misses:
            state.number = base + k + 1
            try:
                pieces[k] = self._slow_line(lines[k], state, counts, cache, path)
            except BaseException:
                del pieces[k:]  # the lines before the fault are written
                raise
        state.number = base + len(lines)
        return True

    def _careful_block(
        self,
        lines: list[str],
        pieces: list[str],
        cache: _TextCache,
        counts: list[int],
        state: _LineState,
        path: str,
    ) -> None:
        """Each line's timestamp checked as it comes (odd or relative timestamps)."""
        append = pieces.append
        zero = "" if self._csv else "0"  # never equal to a character in CSV mode
        for line in lines:
            state.number += 1
            head, _, tail = line.partition(" ")
            entry = cache.young.get(tail)
            # A printable head has no whitespace (tests/test_decode_blocks.py):
            # the line splits as "HEAD CHANNEL FRAME".
            if entry is not None and head.isprintable():
                stamp = head[1:-1]
                try:
                    float(stamp)  # what line_tokens checks
                except ValueError:
                    pass  # the slow path raises its error
                else:
                    if stamp[0] == zero:
                        stamp = json_number(stamp)
                    append(stamp.join(entry))
                    continue
            append(self._slow_line(line, state, counts, cache, path))

    def _slow_line(
        self,
        line: str,
        state: _LineState,
        counts: list[int],
        cache: _TextCache,
        path: str,
    ) -> str:
        """One line by the per-line tokenizer and renderer, line ``state.number``;
        its text ("" when not written). A decoded frame goes into `cache`."""
        head, _, tail = line.partition(" ")
        entry = cache.old.get(tail)  # cached before the young generation began
        if entry is not None and head.isprintable():
            stamp = head[1:-1]
            try:
                float(stamp)
            except ValueError:
                pass
            else:
                cache.put(tail, entry)
                return (stamp if self._csv else json_number(stamp)).join(entry)
        tokens = line_tokens(line, state.number, path)
        if tokens is None:
            state.blanks += 1
            return ""
        stamp, channel, frame_text = tokens
        try:
            kind, parts = self.render_text(frame_text)
        except ValueError as e:
            frame = state.number - state.blanks
            raise DataFileError(
                path, f"frame {frame}: bad candump frame {frame_text!r}: {e}"
            ) from e
        counts[kind] += 1
        if kind > ERROR:
            return ""
        before, mid = self._sources.get(channel) or self._source(channel)
        # Keyed by the text after the first space when that is exactly
        # "CHANNEL FRAME": a line with that tail and a plain timestamp splits
        # into the same tokens.
        if kind == DECODED and self._cache_size and tail == f"{channel} {frame_text}":
            cache.put(tail, around_stamp(parts, before, mid))
        if not self._csv:
            stamp = json_number(stamp)
        return (before + stamp + mid).join(parts)

    def decode_frames(
        self,
        frames: Iterable[CanFrame],
        out: TextIO,
        *,
        progress: Callable[[], None] | None = None,
        stop: Callable[[], bool] | None = None,
    ) -> DecodeSummary:
        """Any frames (from python-can's readers, or a live bus) -> out, written
        `FRAMES_PER_WRITE` frames at a time."""
        self.start(out)
        counts = [0, 0, 0, 0]
        render = self.render
        pieces: list[str] = []
        interrupted = False
        try:
            for frame in frames:
                kind, parts = render(
                    frame.arbitration_id,
                    frame.data,
                    frame.is_extended_id,
                    frame.is_remote_frame or frame.is_error_frame,
                )
                counts[kind] += 1
                if kind <= ERROR:
                    head, mid = self._source(frame.channel)
                    pieces.append((head + f"{frame.timestamp:.6f}" + mid).join(parts))
                if progress is not None:
                    progress()
                if len(pieces) >= FRAMES_PER_WRITE:
                    out.write("".join(pieces))
                    pieces = []
                    if stop is not None and stop():
                        interrupted = True
                        break
        finally:
            if pieces:
                out.write("".join(pieces))
        summary = self._summary(counts, self.render)
        summary.interrupted = interrupted
        return summary

    def _summary(self, counts: list[int], cache: Any) -> DecodeSummary:
        info = cache.cache_info()
        return DecodeSummary(
            bus="can",
            frames=sum(counts),
            decoded=counts[DECODED],
            errors=counts[ERROR],
            unknown=counts[UNKNOWN],
            skipped=counts[SKIPPED],
            last_error=self.last_error,
            cache_hits=info.hits,
            unknown_ids=list(self.unknown_ids),
        )


FRAMES_PER_WRITE = 1024


@dataclass
class _TextCache:
    """Text after the timestamp -> pieces, in two generations (a cheap LRU).

    Look-ups go to `young`; a miss there that `old` holds moves the entry to
    `young`. When `young` is full it becomes `old` and the previous `old` is
    dropped, so what is used keeps being carried forward and memory stays
    at most twice `size` entries, whatever the file's length.
    """

    size: int
    young: dict[str, tuple[str, ...]] = field(default_factory=dict)
    old: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def put(self, tail: str, entry: tuple[str, ...]) -> None:
        if len(self.young) >= self.size:
            self.old = self.young
            self.young = {}
        self.young[tail] = entry


@dataclass
class _LineState:
    """Where the candump loop is: lines consumed, and how many were blank."""

    number: int = 0
    blanks: int = 0


_DIGITS = b"0123456789"


def _plain_stamps(heads: list[str], *, zero_ok: bool) -> bool:
    """True when every head is ``(DIGITS.DIGITS)`` (either side may be empty,
    not both): then each timestamp is a number (`line_tokens` accepts it), has
    no whitespace, and its text is written as it is. One C-level pass over the
    block's heads instead of a ``float()`` a line. In JSON lines a timestamp
    starting with 0 may need `json_number`: ``zero_ok=False`` refuses those."""
    try:
        text = "\n".join(heads).encode("ascii")
    except UnicodeEncodeError:
        return False
    shape = b"(.)\n" * (len(heads) - 1) + b"(.)"
    if text.translate(None, _DIGITS) != shape or b"(.)" in text:
        return False
    return zero_ok or b"(0" not in text


# --- RS485 -------------------------------------------------------------------------


def flatten(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Dataclasses (with public properties), sequences and mappings -> (dotted path, leaf)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            yield from flatten(getattr(value, f.name), f"{prefix}{f.name}.")
        for name in dir(type(value)):
            if not name.startswith("_") and isinstance(getattr(type(value), name), property):
                yield from flatten(getattr(value, name), f"{prefix}{name}.")
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from flatten(v, f"{prefix}{k}.")
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            yield from flatten(v, f"{prefix}{i}.")
    elif isinstance(value, enum.Enum):
        yield prefix[:-1], value.value
    elif isinstance(value, bytes):
        yield prefix[:-1], value.hex().upper()
    elif isinstance(value, float) and value != value:
        yield prefix[:-1], None
    else:
        yield prefix[:-1], value


def decode_rs485_records(
    records: Iterable[Rs485Record],
    out: TextIO,
    options: DecodeOptions = DecodeOptions(),
    *,
    progress: Callable[[], None] | None = None,
) -> DecodeSummary:
    """RS485 capture records -> out. A response is decoded as the answer to the
    request just before it; without one, its command is inferred (and marked)."""
    from active_cli.protocols.decode_text import decode_rs485

    if options.output_format not in OUTPUT_FORMATS:
        raise UsageError(f"unknown output format {options.output_format!r}: csv or jsonl")
    csv_out = options.output_format == "csv"
    pattern = SignalPattern(options.signals)
    summary = DecodeSummary(bus="rs485")
    if csv_out:
        out.write(CSV_HEADER)
    pending: int | None = None
    for record in records:
        summary.frames += 1
        if progress is not None:
            progress()
        stamp = f"{record.timestamp.timestamp():.6f}"
        text = record.frame.decode("latin-1")
        try:
            decoded = decode_rs485([text], pending)[0]
        except DecodeError as e:
            pending = None
            summary.errors += 1
            summary.last_error = e.reason
            if options.ids or pattern:
                continue  # nothing to match a filter against
            _write_rs485(out, csv_out, stamp, record, "", "", {}, e.reason)
            continue
        if decoded.kind == "request" and decoded.request is not None:
            pending = decoded.request.command
        else:
            pending = None
        if options.ids and decoded.adr not in options.ids:
            summary.skipped += 1
            continue
        fields = {
            "variant": decoded.variant,
            "command_guessed": decoded.command_guessed,
            "rtn": decoded.rtn,
            "request": decoded.request,
            "payload": decoded.payload,
        }
        signals = {
            path: leaf
            for section, value in fields.items()
            if value is not None
            for path, leaf in flatten(value, f"{section}.")
        }
        if pattern:
            signals = {k: v for k, v in signals.items() if pattern.matches(k)}
            if not signals:
                summary.skipped += 1
                continue
        message = f"{decoded.command or 'unknown command'} {decoded.kind}"
        _write_rs485(out, csv_out, stamp, record, f"0x{decoded.adr:02X}", message, signals, None)
        summary.decoded += 1
    return summary


def _write_rs485(
    out: TextIO,
    csv_out: bool,
    stamp: str,
    record: Rs485Record,
    adr: str,
    message: str,
    signals: Mapping[str, Any],
    error: str | None,
) -> None:
    if csv_out:
        head = f"{stamp},{record.direction},{adr},{csv_field(message)},"
        if error is not None:
            out.write(f"{head},,,{csv_field(error)}\n")
            return
        out.write("".join(f"{head}{csv_field(k)},{_value_text(v)},,\n" for k, v in signals.items()))
        return
    obj: dict[str, Any] = {
        "timestamp": float(stamp),
        "source": record.direction,
        "id": adr or None,
        "message": message or None,
        "frame": record.frame.rstrip(b"\r").decode("latin-1"),
        "signals": dict(signals),
    }
    if error is not None:
        obj["error"] = error
    out.write(json_text(obj) + "\n")
