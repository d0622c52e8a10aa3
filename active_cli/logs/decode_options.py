"""What a decode is asked for and what it reports: shared by the CAN and RS485 decoders."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

# Rendered frames kept (each generation of the cache): a battery repeats most
# frames unchanged every second.
DEFAULT_CACHE_SIZE = 4096

OutputFormat = Literal["csv", "jsonl"]
OUTPUT_FORMATS: tuple[OutputFormat, ...] = ("csv", "jsonl")
CSV_HEADER = "timestamp,source,id,message,signal,value,unit,error\n"

# Progress is reported every this many frames: often enough for a bar, rare
# enough to cost nothing.
PROGRESS_EVERY = 1 << 15


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
