"""Decode CAN logs to CSV or JSON-lines text a block at a time.

A candump log is read a block of lines at a time (`CanLogReader.line_blocks`)
and its text written `LINES_PER_WRITE` lines to a ``write``. A line whose channel and
frame were seen before costs one dictionary look-up and one ``join``: the text
of a decoded frame (`can_text`), with its source folded in, is cached by the
line's text after the timestamp (``can0 356#7A13F2FE6B01``), and the block's
timestamps are checked together in one pass (`_plain_stamps`). Every other
line (a new frame, an odd timestamp or whitespace, a blank line) takes the
per-line path, `line_tokens` and python-can's rules, so the output is what a
frame-at-a-time decoder writes (tests/test_decode_golden.py). Frames from
python-can's readers (.asc, .blf, ...) are rendered the same way and written
`FRAMES_PER_WRITE` at a time.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TextIO

from active_cli.errors import DataFileError, UsageError
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
    around_stamp,
    csv_field,
    json_number,
    json_text,
)
from active_cli.logs.decode_options import (
    CSV_HEADER,
    OUTPUT_FORMATS,
    DecodeOptions,
    DecodeSummary,
    Progress,
)
from active_cli.protocols.can_digest import load_digest

_MAX_SOURCES = 256  # channel texts remembered; more is not a real capture


class CanStreamDecoder:
    """Renders CAN frames to CSV/JSONL text, a block of lines or frames at a time.

    A candump line whose channel and frame were seen before costs one
    dictionary look-up and one ``join``: the text of a decoded frame, with
    its source folded in, is cached by the line's text after the timestamp
    (``can0 356#7A13F2FE6B01``), bounded by ``cache_size``. Each block's
    text is written `LINES_PER_WRITE` lines a ``write``, and a block cut short (a damaged line,
    a read error) still writes the whole lines before the fault.
    """

    def __init__(self, options: DecodeOptions = DecodeOptions()) -> None:
        if options.output_format not in OUTPUT_FORMATS:
            raise UsageError(f"unknown output format {options.output_format!r}: csv or jsonl")
        self.options = options
        self._csv = options.output_format == "csv"
        # The DBC's digest, not cantools: importing cantools would cost more
        # start-up than a small decode takes (protocols.can_digest).
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
            while True:
                # Only reading may raise READ_ERRORS here: an OSError from
                # `write` (a full disk) is the output's, not the log's.
                try:
                    lines = next(blocks)
                except StopIteration:
                    break
                except READ_ERRORS as e:
                    frames = state.number - state.blanks
                    raise read_error(path, e, state.number + 1, frames) from e
                pieces: list[str] = []
                try:
                    if not self._fast_block(lines, pieces, cache, counts, state, path):
                        self._careful_block(lines, pieces, cache, counts, state, path)
                finally:
                    for i in range(0, len(pieces), LINES_PER_WRITE):
                        write("".join(pieces[i : i + LINES_PER_WRITE]))
                if progress is not None:
                    progress(reader.position())
                if stop is not None and stop():
                    interrupted = True
                    break
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
                    if not self._csv:
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


# Text is written some dozens of lines at a time: a write per frame costs a
# call per frame, one string per block (~1 MB of CSV) measured slower still
# (1.63 s against 1.28 s of CPU for 300 k frames of CSV, 1.47 against 1.12 s
# of JSON lines, fresh processes): big strings are allocated, filled, encoded
# and freed again for every block.
LINES_PER_WRITE = 64
FRAMES_PER_WRITE = LINES_PER_WRITE


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
    that is not a JSON number as written needs `json_number`: ``zero_ok=False``
    refuses those."""
    try:
        text = "\n".join(heads).encode("ascii")
    except UnicodeEncodeError:
        return False
    # Without its digits each head is "(.)": one "(", one "." and one ")" in
    # that order; each starts with its "(" and ends with its ")" (no digit
    # outside); "(.)" itself (no digit at all) is not a number.
    n = len(heads)
    if text.translate(None, _DIGITS) != b"(.)\n" * (n - 1) + b"(.)" or b"(.)" in text:
        return False
    if text[:1] != b"(" or text[-1:] != b")":
        return False
    if text.count(b"\n(") != n - 1 or text.count(b")\n") != n - 1:
        return False
    # JSON numbers have digits on both sides of the point and no leading 0
    # ("(5.)", "(.5)", "(0001.5)" take `json_number` on the per-line path).
    return zero_ok or not (b"(0" in text or b"(." in text or b".)" in text)
