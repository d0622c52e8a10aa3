"""Rendering shared by every command: JSON, findings, errors.

Nothing here decides anything; it shows dataclasses made by the core.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from active_cli.errors import ActiveError
from active_cli.model import Finding, Severity

_SEVERITY_STYLE = {
    Severity.OK: ("OK", "green"),
    Severity.INFO: ("INFO", "cyan"),
    Severity.WARN: ("WARN", "yellow"),
    Severity.FAIL: ("FAIL", "bold red"),
}


def stdout() -> Console:
    # Redirected to a file or a pipe there is no terminal width to respect;
    # rich's 80-column default would wrap the pack table badly.
    width = None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 140
    return Console(highlight=False, width=width)


def stderr() -> Console:
    return Console(stderr=True, highlight=False)


def to_jsonable(value: Any) -> Any:
    """Turn dataclasses (with their public properties), enums, tuples and bytes into JSON types."""
    from active_cli.records import to_json

    return to_json(value, properties=True)


def print_json(value: Any) -> None:
    """Print `value` as indented JSON on stdout (no rich markup, no wrapping)."""
    sys.stdout.write(json.dumps(to_jsonable(value), indent=2, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def print_error(error: ActiveError) -> None:
    console = stderr()
    console.print(f"[bold red]error:[/] {escape(error.message)}", soft_wrap=True)
    if error.hint:
        console.print(f"[dim]hint:[/] {escape(error.hint)}", soft_wrap=True)


def findings_table(findings: Iterable[Finding], title: str | None = None) -> Table:
    table = Table(title=title, show_lines=False, expand=False)
    table.add_column("", no_wrap=True)
    table.add_column("finding")
    table.add_column("what to do")
    for finding in findings:
        label, style = _SEVERITY_STYLE[finding.severity]
        body = f"[bold]{escape(finding.title)}[/]"
        if finding.detail:
            body += f"\n{escape(finding.detail)}"
        if finding.evidence:
            body += "\n[dim]" + escape("\n".join(finding.evidence)) + "[/]"
        table.add_row(f"[{style}]{label}[/]", body, escape(finding.fix))
    return table
