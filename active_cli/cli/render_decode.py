"""What ``active decode`` prints: a title, then one ``field  value`` line per field.

Plain text, not a rich table: a decoded frame is pasted into a ticket or a
message as often as it is read on screen, and a command that decodes one
frame should start in about the time the DBC takes to load (rich alone is a
third of that budget: benches/startup.py). Units are in the field names;
long values wrap under their column, never cutting a value.
"""

from __future__ import annotations

import sys
import textwrap
from typing import TYPE_CHECKING

from active_cli.cli.width import text_width
from active_cli.records import JsonValue, to_json
from active_cli.sanitize import printable

if TYPE_CHECKING:
    from active_cli.protocols.decode_can_text import CanDecoded
    from active_cli.protocols.decode_text import Rs485Decoded

INDENT = "  "
GAP = "  "
# A field name longer than this puts its value on the next line: the value
# column stays wide enough to read.
MAX_FIELD_COLUMNS = 32


def _format(value: JsonValue) -> str:
    if isinstance(value, list):
        if value and all(isinstance(v, int | float) for v in value):
            return ", ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value)
        return ", ".join(_format(v) for v in value) if value else "—"
    if isinstance(value, float):
        return f"{value:g}"
    if value is None:
        return "—"
    # Serials (0x93), names (0x51), the 0x35E text: whatever the sender put there.
    return printable(str(value))


def _rows(prefix: str, value: JsonValue, rows: list[tuple[str, str]]) -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            _rows(f"{prefix}.{key}" if prefix else key, inner, rows)
    elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        for index, inner in enumerate(value):
            _rows(f"{prefix}[{index}]", inner, rows)
    else:
        rows.append((printable(prefix), _format(value)))


def field_lines(rows: list[tuple[str, str]], width: int) -> list[str]:
    """``field  value`` lines within `width` columns; a value wraps at its spaces only."""
    names = [name for name, _ in rows if len(name) <= MAX_FIELD_COLUMNS]
    column = max((len(name) for name in names), default=0)
    value_at = len(INDENT) + column + len(GAP)
    room = max(width - value_at, 20)
    lines: list[str] = []
    for name, value in rows:
        pieces = textwrap.wrap(value, room, break_long_words=False, break_on_hyphens=False)
        pieces = pieces or [""]
        if len(name) > column:
            lines.append(INDENT + name)
            lines.append(" " * value_at + pieces[0])
        else:
            lines.append(f"{INDENT}{name:<{column}}{GAP}{pieces[0]}".rstrip())
        lines.extend(" " * value_at + piece for piece in pieces[1:])
    return lines


def _print(title: str, rows: list[tuple[str, str]]) -> None:
    out = [printable(title), *field_lines(rows, text_width())]
    sys.stdout.write("\n".join(out) + "\n")


def show_rs485(results: list[Rs485Decoded]) -> None:
    for result in results:
        what = result.command or "unknown command"
        guessed = " (guessed from the INFO layout)" if result.command_guessed else ""
        title = f"RS485 {result.kind}: {what}{guessed}, ADR {result.adr}, VER 0x{result.ver:02X}"
        rows: list[tuple[str, str]] = []
        header: dict[str, JsonValue] = {"variant": result.variant}
        if result.rtn is not None:
            header["rtn"] = result.rtn
        _rows("", header, rows)
        if result.request is not None:
            _rows("", to_json(result.request, properties=True), rows)
        if result.payload is not None:
            _rows("", to_json(result.payload, properties=True), rows)
        _print(title, rows)


def show_can(result: CanDecoded) -> None:
    data = result.data.hex(" ").upper()
    title = f"CAN 0x{result.arbitration_id:03X} {result.message} [{len(result.data)}] {data}"
    rows: list[tuple[str, str]] = []
    _rows("", to_json(result.decoded, properties=True), rows)
    _print(title, rows)
