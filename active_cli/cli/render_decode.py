"""Tables for ``active decode``: one row per field, units in the field names."""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from rich.table import Table

from active_cli.cli.output import stdout, to_jsonable
from active_cli.protocols.decode_text import CanDecoded, Rs485Decoded
from active_cli.sanitize import printable


def _format(value: Any) -> str:
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


def _rows(prefix: str, value: Any, table: Table) -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            _rows(f"{prefix}.{key}" if prefix else key, inner, table)
    elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        for index, inner in enumerate(value):
            _rows(f"{prefix}[{index}]", inner, table)
    else:
        table.add_row(escape(printable(prefix)), escape(_format(value)))


def show_rs485(results: list[Rs485Decoded]) -> None:
    console = stdout()
    for result in results:
        what = result.command or "unknown command"
        guessed = " (guessed from the INFO layout)" if result.command_guessed else ""
        title = f"RS485 {result.kind}: {what}{guessed}, ADR {result.adr}, VER 0x{result.ver:02X}"
        console.print(f"[bold]{escape(printable(title))}[/]")
        table = Table()
        table.add_column("field")
        table.add_column("value")
        header = {"variant": result.variant}
        if result.rtn is not None:
            header["rtn"] = result.rtn
        _rows("", header, table)
        if result.request is not None:
            _rows("", to_jsonable(result.request), table)
        if result.payload is not None:
            _rows("", to_jsonable(result.payload), table)
        console.print(table)


def show_can(result: CanDecoded) -> None:
    data = result.data.hex(" ").upper()
    title = f"CAN 0x{result.arbitration_id:03X} {result.message} [{len(result.data)}] {data}"
    console = stdout()
    console.print(f"[bold]{escape(printable(title))}[/]")
    table = Table()
    table.add_column("field")
    table.add_column("value")
    _rows("", to_jsonable(result.decoded), table)
    console.print(table)
