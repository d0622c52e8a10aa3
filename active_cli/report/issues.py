"""Match findings and pack alarms to the rows of the manual's COMMON ISSUES AND SOLUTIONS table.

The table is data: the items of a checklist section of kind "issues", each
with ``matches`` patterns. ``pack.dead-sensor`` (a glob over finding codes)
matches a finding by code; ``pack.temperature:MOS`` also needs the word in
the finding's title or detail; ``alarm:under-voltage`` matches the text of a
pack's alarm or protection. Only findings that warn or fail are matched: an
OK finding is not a fault symptom.
"""

from __future__ import annotations

from fnmatch import fnmatchcase

from active_cli.commissioning.checklists import Checklist, ChecklistItem
from active_cli.model import Finding, Severity


def issue_rows(checklist: Checklist) -> tuple[ChecklistItem, ...]:
    return tuple(
        item for section in checklist.sections if section.kind == "issues" for item in section.items
    )


def _finding_matches(pattern: str, finding: Finding) -> bool:
    code, _, word = pattern.partition(":")
    if not fnmatchcase(finding.code, code):
        return False
    return not word or word.lower() in f"{finding.title} {finding.detail}".lower()


def issues_for_finding(checklist: Checklist, finding: Finding) -> tuple[ChecklistItem, ...]:
    if finding.severity not in (Severity.WARN, Severity.FAIL):
        return ()
    return tuple(
        row
        for row in issue_rows(checklist)
        if any(not p.startswith("alarm:") and _finding_matches(p, finding) for p in row.matches)
    )


def issues_for_alarm(checklist: Checklist, text: str) -> tuple[ChecklistItem, ...]:
    lowered = text.lower()
    return tuple(
        row
        for row in issue_rows(checklist)
        if any(p.startswith("alarm:") and p[6:].lower() in lowered for p in row.matches)
    )
