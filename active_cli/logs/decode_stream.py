"""Decode a capture to CSV or JSON lines as a stream, in constant memory.

A log is read a block at a time (`lines.line_blocks`) and each block's text is
written, some dozens of lines a ``write``, before the next is read, so a 4 GB capture needs no
more memory than a 4 kB one. CAN frames go through the DBC (`can_text`'s
compiled text, equal to `pylon_can.decode_signals` rendered frame by frame),
RS485 frames through the Pylontech codec, pairing each response with the
request before it the way `protocols.decode_text` does for pasted frames.

Output, one record per signal in CSV (the "long" layout spreadsheets and
pandas pivot from) and one per frame in JSON lines::

    timestamp,source,id,message,signal,value,unit,error
    1700000000.000123,can0,0x356,BMS_Measurements,Voltage,49.86,V,
    {"timestamp":1700000000.000123,"source":"can0","id":"0x356","message":"BMS_Measurements","data":"7A13F2FE6B01","signals":{"Voltage":49.86,...}}

``source`` is the CAN channel, or TX/RX/?? for RS485; ``id`` the CAN id, or the
RS485 ADR. A frame that does not decode is written with its reason in
``error`` (one CSV row, empty signal); ids the DBC does not know are counted,
not written. Speed comes from caching: Pylon batteries repeat most frames
unchanged every second, so the rendered text of a frame is kept in a bounded
cache keyed by its line after the timestamp, and a repeat costs one
dictionary look-up and one ``join``; the block's timestamps are checked in
one pass (`_plain_stamps`). Lines that are not plain take the per-line path
(`line_tokens`, python-can's rules), with the same result.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TextIO

from active_cli.errors import DecodeError, UsageError
from active_cli.logs.can_decode import FRAMES_PER_WRITE, CanStreamDecoder
from active_cli.logs.can_reader import CanLogReader
from active_cli.logs.can_text import SignalPattern, csv_field, json_text
from active_cli.logs.decode_options import (
    CSV_HEADER,
    DEFAULT_CACHE_SIZE,
    OUTPUT_FORMATS,
    PROGRESS_EVERY,
    DecodeOptions,
    DecodeSummary,
    OutputFormat,
    Progress,
)

if TYPE_CHECKING:
    from active_cli.logs.rs485_log import Rs485Record

__all__ = [
    "CSV_HEADER",
    "DEFAULT_CACHE_SIZE",
    "FRAMES_PER_WRITE",
    "OUTPUT_FORMATS",
    "CanStreamDecoder",
    "DecodeOptions",
    "DecodeSummary",
    "OutputFormat",
    "bus_of",
    "decode_log",
    "decode_rs485_records",
    "flatten",
]

# rs485_log.RS485_LOG_SUFFIX, not imported from there: rs485_log loads the
# RS485 codec, which a CAN decode does not need (tests/test_dbc_digest.py).
RS485_SUFFIX = ".rs485"


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
