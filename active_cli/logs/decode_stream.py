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
import fnmatch
import functools
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TextIO

from active_cli.errors import DataFileError, DecodeError, UsageError
from active_cli.logs.can_reader import (
    CanFrame,
    CanLogReader,
    normal_channel,
    parse_candump_frame,
    parse_frame_text,
)
from active_cli.logs.fast_decode import DEFAULT_CACHE_SIZE, FastDecoder
from active_cli.logs.rs485_log import RS485_LOG_SUFFIX, Rs485LogReader, Rs485Record
from active_cli.sanitize import printable

OutputFormat = Literal["csv", "jsonl"]
OUTPUT_FORMATS: tuple[OutputFormat, ...] = ("csv", "jsonl")
CSV_HEADER = "timestamp,source,id,message,signal,value,unit,error\n"

# Progress is reported every this many frames: often enough for a bar, rare
# enough to cost nothing.
PROGRESS_EVERY = 1 << 15

# Kinds of rendered frame; the first two are written.
_DECODED, _ERROR, _UNKNOWN, _SKIPPED = 0, 1, 2, 3
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


Progress = Callable[[int], None]


def bus_of(path: str | Path) -> Literal["can", "rs485"]:
    return "rs485" if Path(path).suffix.lower() == RS485_LOG_SUFFIX else "can"


def decode_log(
    path: str | Path,
    out: TextIO,
    options: DecodeOptions = DecodeOptions(),
    *,
    progress: Progress | None = None,
) -> DecodeSummary:
    """Decode the capture at `path` to `out`; the bus is told by the suffix
    (``.rs485`` or a CAN log suffix). `progress(bytes_read)` is called now and then."""
    if bus_of(path) == "rs485":
        with Rs485LogReader(path) as rs485:
            summary = decode_rs485_records(
                rs485, out, options, progress=_every(progress, rs485.position, 256)
            )
            summary.too_long_lines = rs485.lines.too_long
            return summary
    with CanLogReader(path) as reader:
        decoder = CanStreamDecoder(options)
        if reader.fast:
            summary = decoder.decode_candump(reader, out, progress=progress, path=str(path))
        else:
            summary = decoder.decode_frames(
                reader, out, progress=_every(progress, reader.position, PROGRESS_EVERY)
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


def csv_field(text: str) -> str:
    """RFC 4180 quoting, only where needed, of text made `printable` first.

    Strings in a CSV come from the bus or the file (the 0x35E name, a channel,
    a frame in an error): an ESC in them would act on the terminal that shows
    the CSV (``less``, ``cat``, a spreadsheet's preview), so it reads ``\x1b``.
    """
    text = printable(text)
    if any(c in text for c in ',"') or text != text.strip():
        return '"' + text.replace('"', '""') + '"'
    return text


def _value_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return csv_field(str(value))


def _json_number(stamp: str) -> str:
    # candump -L pads seconds to 10 digits ("%010lu"), so a log of relative
    # times reads "0000000001.000000": fine in CSV, not a JSON number.
    if stamp[:1] == "0" and stamp[1:2] not in ("", "."):
        return f"{float(stamp):.6f}"
    return stamp


def _json(value: object) -> str:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if text.isprintable():
        return text
    # json.dumps escapes C0 controls only: DEL, C1 (0x9B is an 8-bit CSI) and
    # bidi overrides would reach a terminal raw. A \u escape keeps the exact
    # value for any JSON reader.
    return "".join(c if c.isprintable() else json.dumps(c, ensure_ascii=True)[1:-1] for c in text)


class _Pattern:
    """Case-insensitive globs on a name or a qualified name."""

    def __init__(self, patterns: Iterable[str]) -> None:
        self.patterns = tuple(p.lower() for p in patterns)

    def __bool__(self) -> bool:
        return bool(self.patterns)

    def matches(self, *names: str) -> bool:
        return any(fnmatch.fnmatchcase(name.lower(), p) for p in self.patterns for name in names)


# --- CAN ---------------------------------------------------------------------------


class CanStreamDecoder:
    """Renders CAN frames to CSV/JSONL text, caching the text of repeated payloads."""

    def __init__(self, options: DecodeOptions = DecodeOptions()) -> None:
        self.options = options
        self.decoder = FastDecoder(cache_size=0)  # the rendered text is cached instead
        self._csv = options.output_format == "csv"
        if options.output_format not in OUTPUT_FORMATS:
            raise UsageError(f"unknown output format {options.output_format!r}: csv or jsonl")
        db = self.decoder.database
        pattern = _Pattern(options.signals)
        # id -> the signal names to write (None = all); computed once, so the
        # filters cost nothing per frame.
        self._selected: dict[int, frozenset[str] | None] = {}
        for message in db.messages:
            if options.ids and message.frame_id not in options.ids:
                continue
            if pattern:
                names = frozenset(
                    s.name
                    for s in message.signals
                    if pattern.matches(s.name, f"{message.name}.{s.name}")
                )
                if names:
                    self._selected[message.frame_id] = names
            else:
                self._selected[message.frame_id] = None
        if pattern and not self._selected:
            raise UsageError(
                f"--signal {' '.join(options.signals)} matches no signal"
                + (" of the ids given" if options.ids else " in the DBC"),
                hint="signal names are the DBC's, e.g. Voltage, BMS_Limits.ChargeVoltageLimit, "
                "'Alarm*' (see `cantools dump` of dbc/pylon_lv.dbc)",
            )
        self._messages = {m.frame_id: m for m in db.messages}
        self._rows: dict[int, dict[str, tuple[str, str]]] = {}
        self._sources: dict[str, tuple[str, str]] = {}
        size = options.cache_size if options.cache_size > 0 else 0
        self.render_text = functools.lru_cache(maxsize=size)(self._render_text)
        self.render = functools.lru_cache(maxsize=size)(self._render)
        self.unknown_ids: list[str] = []
        self.last_error: str | None = None

    # -- rendering one frame (cached) ----------------------------------------------

    def _render_text(self, frame_text: str) -> tuple[int, tuple[str, ...]]:
        parsed = parse_frame_text(frame_text)
        if parsed is None:  # remote, FD, error frame...: python-can's reading
            frame = parse_candump_frame("0", "0", frame_text)
            return self._render(
                frame.arbitration_id,
                frame.data,
                frame.is_extended_id,
                frame.is_remote_frame or frame.is_error_frame,
            )
        can_id, data, extended = parsed
        return self._render(can_id, data, extended, False)

    def _render(
        self, can_id: int, data: bytes, extended: bool, not_data: bool
    ) -> tuple[int, tuple[str, ...]]:
        # Remote and error frames carry no signals. Pylon LV uses 11-bit ids
        # only: an extended id is another device. (A CAN FD frame is decoded
        # like any other; pylon_can refuses more than 8 bytes.)
        if not_data or (self.options.ids and can_id not in self.options.ids):
            return _SKIPPED, ()
        if extended or can_id not in self._messages:
            if len(self.unknown_ids) < 8:
                label = f"0x{can_id:08X}" if extended else f"0x{can_id:03X}"
                if label not in self.unknown_ids:
                    self.unknown_ids.append(label)
            return _UNKNOWN, ()
        if can_id not in self._selected:
            return _SKIPPED, ()
        selected = self._selected[can_id]
        id_text = f"0x{can_id:03X}"
        name = self._messages[can_id].name
        try:
            signals: Mapping[str, Any] = self.decoder.signals(can_id, data)
        except DecodeError as e:
            self.last_error = e.reason
            return _ERROR, self._error_parts(id_text, name, data, e.reason)
        if selected is not None:
            signals = {k: v for k, v in signals.items() if k in selected}
            if not signals:  # a short frame without the chosen signals
                return _SKIPPED, ()
        if self._csv:
            rows = self._rows.get(can_id)
            if rows is None:
                rows = self._rows[can_id] = self._row_templates(can_id)
            return _DECODED, (
                "",
                *[
                    f"{rows[k][0]}{v!r}{rows[k][1]}"
                    if type(v) is not str
                    else f"{rows[k][0]}{csv_field(v)}{rows[k][1]}"
                    for k, v in signals.items()
                ],
            )
        body = (
            f'"id":"{id_text}","message":{_json(name)},"data":"{data.hex().upper()}",'
            f'"signals":{_json(dict(signals))}}}\n'
        )
        return _DECODED, ("", body)

    def _row_templates(self, can_id: int) -> dict[str, tuple[str, str]]:
        """Per signal, the CSV text before and after its value (names and units are fixed)."""
        message = self._messages[can_id]
        head = f"0x{can_id:03X},{csv_field(message.name)},"
        return {
            s.name: (f"{head}{csv_field(s.name)},", f",{csv_field(s.unit or '')},\n")
            for s in message.signals
        }

    def _error_parts(self, id_text: str, name: str, data: bytes, reason: str) -> tuple[str, ...]:
        if self._csv:
            return ("", f"{id_text},{csv_field(name)},,,,{csv_field(reason)}\n")
        return (
            "",
            f'"id":"{id_text}","message":{_json(name)},"data":"{data.hex().upper()}",'
            f'"signals":{{}},"error":{_json(reason)}}}\n',
        )

    def _source(self, channel: str) -> tuple[str, str]:
        """(text before the timestamp, text after it) for a channel."""
        found = self._sources.get(channel)
        if found is not None:
            return found
        name = normal_channel(channel)
        if self._csv:
            pair = ("", f",{csv_field(name)},")
        else:
            pair = ('{"timestamp":', f',"source":{_json(name)},')
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
    ) -> DecodeSummary:
        """The hot loop: candump text tokens -> cached text -> out."""
        self.start(out)
        counts = [0, 0, 0, 0]
        render = self.render_text
        source = self._source
        sources = self._sources
        write = out.write
        csv_out = self._csv
        for n, (stamp, channel, frame_text) in enumerate(reader.tokens(), 1):
            try:
                kind, parts = render(frame_text)
            except ValueError as e:
                raise DataFileError(
                    path, f"frame {n}: bad candump frame {frame_text!r}: {e}"
                ) from e
            counts[kind] += 1
            if kind <= _ERROR:
                head, mid = sources.get(channel) or source(channel)
                if not csv_out:
                    stamp = _json_number(stamp)
                write((head + stamp + mid).join(parts))
            if progress is not None and not n % PROGRESS_EVERY:
                progress(reader.position())
        return self._summary(counts, self.render_text)

    def decode_frames(
        self,
        frames: Iterable[CanFrame],
        out: TextIO,
        *,
        progress: Callable[[], None] | None = None,
    ) -> DecodeSummary:
        """Any frames (from python-can's readers, or a live bus) -> out."""
        self.start(out)
        counts = [0, 0, 0, 0]
        render = self.render
        write = out.write
        for frame in frames:
            kind, parts = render(
                frame.arbitration_id,
                frame.data,
                frame.is_extended_id,
                frame.is_remote_frame or frame.is_error_frame,
            )
            counts[kind] += 1
            if kind <= _ERROR:
                head, mid = self._source(frame.channel)
                write((head + f"{frame.timestamp:.6f}" + mid).join(parts))
            if progress is not None:
                progress()
        return self._summary(counts, self.render)

    def _summary(self, counts: list[int], cache: Any) -> DecodeSummary:
        info = cache.cache_info()
        return DecodeSummary(
            bus="can",
            frames=sum(counts),
            decoded=counts[_DECODED],
            errors=counts[_ERROR],
            unknown=counts[_UNKNOWN],
            skipped=counts[_SKIPPED],
            last_error=self.last_error,
            cache_hits=info.hits,
            unknown_ids=list(self.unknown_ids),
        )


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
    pattern = _Pattern(options.signals)
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
    out.write(_json(obj) + "\n")
