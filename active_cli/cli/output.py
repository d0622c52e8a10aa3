"""Rendering shared by every command: JSON, findings, errors.

Nothing here decides anything; it shows dataclasses made by the core.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Collection, Iterable
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from active_cli.checks.verdict import Verdict, sort_findings
from active_cli.cli.width import console_width
from active_cli.errors import ActiveError
from active_cli.model import Finding, Severity

_SEVERITY_STYLE = {
    Severity.OK: ("OK", "green"),
    Severity.INFO: ("INFO", "cyan"),
    Severity.WARN: ("WARN", "yellow"),
    Severity.FAIL: ("FAIL", "bold red"),
}


def stdout(*, wide: bool = False) -> Console:
    # emoji=False: a serial or a name from the bus that reads ":warning:" is shown
    # as sent, not as a picture (and the emoji table is never loaded).
    return Console(highlight=False, emoji=False, width=console_width(wide=wide))


def stderr() -> Console:
    return Console(stderr=True, highlight=False, emoji=False)


def to_jsonable(value: Any) -> Any:
    """Turn dataclasses (with their public properties), enums, tuples and bytes into JSON types."""
    from active_cli.records import to_json

    return to_json(value, properties=True)


# The --json envelope (docs/json.md). Bump JSON_SCHEMA_VERSION when a key is
# removed or changes meaning; adding a key is not a new version.
JSON_SCHEMA_VERSION = 1
ENVELOPE_KEYS = ("schema_version", "active_version", "created_at", "command", "failed", "findings")
# Floats are rounded to the resolution of what measures them, by the unit in
# the key's name (docs/json.md): volts to the mV the packs report, amperes to
# the 10 mA of PACE packs (Pylontech sends 0.1 A), SOC to the 0.01 % of CAN's
# high-resolution SOC, degrees to the 0.1 they are sent in. A value without a known unit (a
# resistance, a ratio) keeps 6 significant digits: 12.000000000000002 is never
# printed, and no digit that carries meaning is lost.
_DECIMALS_BY_UNIT = {
    "_v": 3,
    "_mv": 1,
    "_a": 2,
    "_c": 1,
    "_pct": 2,
    "_ah": 3,
    "_s": 3,
    "_kwh": 3,
    "_w": 1,
}
SIGNIFICANT_DIGITS = 6


def _round_float(value: float, key: str) -> float:
    for suffix, decimals in _DECIMALS_BY_UNIT.items():
        if key.endswith(suffix):
            return round(value, decimals)
    if value == 0 or value != value or value in (float("inf"), float("-inf")):
        return value
    return float(f"{value:.{SIGNIFICANT_DIGITS}g}")


def _rounded(value: object, key: str = "") -> object:
    if isinstance(value, float):
        return _round_float(value, key)
    if isinstance(value, dict):
        return {k: _rounded(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v, key) for v in value]
    return value


def _command_name() -> str:
    """The running command as typed after ``active`` ("check parallel").

    Taken from the running Typer (click) context; the commands pass `command`
    explicitly where they can, this is the fallback.
    """
    try:  # Typer carries its own click; without it there is no command to name
        from typer._click.globals import get_current_context
    except ImportError:  # pragma: no cover - another Typer layout
        return ""
    context = get_current_context(silent=True)
    if context is None:
        return ""
    return " ".join(context.command_path.split()[1:])


def envelope(
    value: object,
    *,
    command: str | None = None,
    verdict: Verdict | None = None,
    now: datetime | None = None,
) -> dict[str, object]:
    """`value` as JSON types inside the documented envelope (docs/json.md).

    A result that is a dataclass keeps its keys at the top level, next to the
    envelope's; any other value (a list of profiles) sits under ``result``.
    ``findings`` is the result's (or empty) and ``failed`` whether one failed.
    """
    from active_cli import __version__

    body = _rounded(to_jsonable(value))
    result: dict[str, object] = dict(body) if isinstance(body, dict) else {"result": body}
    findings = result.pop("findings", [])
    findings = findings if isinstance(findings, list) else []
    failed = result.pop("failed", None)
    if not isinstance(failed, bool):
        failed = any(isinstance(f, dict) and f.get("severity") == "fail" for f in findings)
    stamp = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    out: dict[str, object] = {
        "schema_version": JSON_SCHEMA_VERSION,
        "active_version": __version__,
        "created_at": stamp.isoformat().replace("+00:00", "Z"),
        "command": command if command is not None else _command_name(),
        "failed": failed,
        "findings": findings,
    }
    verdict = verdict if verdict is not None else verdict_of(value)
    if verdict is not None:
        out["outcome"] = {
            "severity": verdict.severity.value,
            "text": verdict.text,
            "code": verdict.code,
        }
    out.update(result)
    return out


def verdict_of(value: object) -> Verdict | None:
    """The verdict line of a check's or a scan's result (None for other values)."""
    from active_cli.checks import parallel, protocol, scan, sizing, wiring
    from active_cli.model import StackSnapshot

    if isinstance(value, parallel.ParallelAssessment):
        return parallel.parallel_verdict(value)
    if isinstance(value, protocol.ProtocolAssessment):
        return protocol.protocol_verdict(value)
    if isinstance(value, sizing.SizingAssessment):
        return sizing.sizing_verdict(value)
    if isinstance(value, wiring.WiringAssessment):
        return wiring.wiring_verdict(value)
    if isinstance(value, StackSnapshot):
        return scan.scan_verdict(value)
    return None


def print_json(
    value: object,
    *,
    command: str | None = None,
    verdict: Verdict | None = None,
) -> None:
    """Print `value` in the JSON envelope on stdout (no rich markup, no wrapping).

    `command` is what was typed after ``active`` ("check parallel"); by default
    it is taken from the running click command.
    """
    data = envelope(value, command=command, verdict=verdict)
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def print_error(error: ActiveError) -> None:
    console = stderr()
    console.print(f"[bold red]error:[/] {escape(error.message)}", soft_wrap=True)
    if error.hint:
        console.print(f"[dim]hint:[/] {escape(error.hint)}", soft_wrap=True)


def findings_table(
    findings: Iterable[Finding],
    title: str | None = "Findings",
    *,
    omit_evidence: Collection[str] = (),
) -> Table:
    """Findings as a two-column list that fits 80 columns: FAIL, WARN, OK, INFO.

    Each finding is its title, its detail, its evidence (dimmed) and what to
    do after an arrow, with the option to use where the CLI has one
    (`cli.hints`). Evidence lines in `omit_evidence` (the assumptions, printed
    once above) are not repeated.
    """
    from active_cli.cli.hints import fix_with_hint

    table = Table.grid(padding=(0, 2))
    table.title = title
    table.title_justify = "left"
    table.title_style = "bold"
    table.add_column(no_wrap=True)
    table.add_column(overflow="fold")
    skip = set(omit_evidence)
    for finding in sort_findings(findings):
        label, style = _SEVERITY_STYLE[finding.severity]
        body = f"[bold]{escape(finding.title)}[/]"
        if finding.detail:
            body += f"\n{escape(finding.detail)}"
        # Evidence already printed (the assumptions) or that says what the fix says
        # is not repeated.
        evidence = [line for line in finding.evidence if line not in skip and line != finding.fix]
        if evidence:
            body += "\n[dim]" + escape("\n".join(evidence)) + "[/]"
        fix = fix_with_hint(finding)
        if fix:
            body += f"\n→ {escape(fix)}"
        table.add_row(f"[{style}]{label}[/]", body)
    return table


def bullet_list(lines: Iterable[str], *, style: str = "dim") -> Table:
    """``  - text`` lines whose wrapped text stays indented under the first word."""
    table = Table.grid()
    table.add_column(no_wrap=True)
    table.add_column(overflow="fold")
    for line in lines:
        table.add_row(f"[{style}]  - [/]", f"[{style}]{escape(line)}[/]")
    return table


def verdict_markup(verdict: Verdict, findings: Iterable[Finding] = ()) -> str:
    """The last line of a check or scan: ``FAIL: ...`` in the severity's colour.

    The option hint of the finding the verdict rests on is added, as in the
    findings list (`cli.hints`).
    """
    from active_cli.cli.hints import hint_for

    label, style = _SEVERITY_STYLE[verdict.severity]
    text = verdict.text
    source = next((f for f in findings if f.code == verdict.code), None)
    hint = hint_for(source) if source is not None else None
    if hint:
        text += f" ({hint})"
    return f"[{style}]{label}:[/] {escape(text)}"


def print_findings(
    console: Console,
    findings: Iterable[Finding],
    verdict: Verdict,
    *,
    omit_evidence: Collection[str] = (),
) -> None:
    """The findings list, then the verdict as the very last line."""
    shown = tuple(findings)
    if shown:
        console.print(findings_table(shown, omit_evidence=omit_evidence))
    console.print(verdict_markup(verdict, shown), soft_wrap=False)
