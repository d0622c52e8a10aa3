"""The one line that ends every check and scan: the outcome and the one thing to do.

Pure: findings in, a `Verdict` out. The order findings are shown in lives here
too (FAIL, WARN, OK, INFO: what needs action first, what was merely noted
last), so every command lists them the same way and the verdict always rests
on the first finding shown.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from active_cli.model import Finding, Severity

# Display order: action first, notes last. Not Severity.rank, which puts INFO
# above OK because a note weighs more than a pass when taking the worst.
_ORDER = {Severity.FAIL: 0, Severity.WARN: 1, Severity.OK: 2, Severity.INFO: 3}


def sort_findings(findings: Iterable[Finding]) -> tuple[Finding, ...]:
    """FAIL, WARN, OK, INFO; the checks' own order is kept within each."""
    return tuple(sorted(findings, key=lambda f: _ORDER[f.severity]))


@dataclass(frozen=True)
class Verdict:
    """The outcome in one line: ``FAIL: do not link - ...``.

    ``code`` is the finding the verdict rests on (None when it sums up several
    or none), so a front end can add what it knows about that finding (the
    CLI adds the option to use).
    """

    severity: Severity
    text: str
    code: str | None = None

    def line(self) -> str:
        return f"{self.severity.value.upper()}: {self.text}"


def _first(findings: Sequence[Finding], severity: Severity) -> list[Finding]:
    return [f for f in findings if f.severity is severity]


def _clause(finding: Finding) -> str:
    title = finding.title.rstrip(".")
    fix = finding.fix.rstrip(".")
    if not fix:
        return title
    return f"{title}: {fix[0].lower()}{fix[1:]}"


def summarize(
    findings: Sequence[Finding],
    *,
    ok: str,
    fail: str = "",
    warn: str = "",
) -> Verdict:
    """The verdict of `findings`: the first failing one (or warning) and its fix.

    `fail` and `warn` prefix the text ("do not link - "); `ok` is the whole
    text when nothing failed or warned. More than one failure is counted, so
    fixing the first and running again is not mistaken for done.
    """
    for severity, prefix in ((Severity.FAIL, fail), (Severity.WARN, warn)):
        hits = _first(findings, severity)
        if not hits:
            continue
        text = prefix + _clause(hits[0])
        more = len(hits) - 1
        if more:
            word = "failed" if severity is Severity.FAIL else "warned"
            text += f" (and {more} more {word}: see the findings)"
        return Verdict(severity, text, hits[0].code)
    return Verdict(Severity.OK, ok)
