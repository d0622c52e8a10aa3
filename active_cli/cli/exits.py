"""The one mapping from results to exit codes (DESIGN.md "Findings and exit codes").

Procedures and checks return results; only the CLI says what they mean to a
shell: 0 nothing failed, 1 a check failed, 3 nothing answered (2 usage and 4
bad data come from the error tree, 130 from an interrupted prompt).
"""

from __future__ import annotations

from collections.abc import Iterable

import typer

from active_cli.errors import EXIT_CHECK_FAILED, EXIT_NO_REPLY, EXIT_OK
from active_cli.model import Finding, Severity, worst


def exit_code(findings: Iterable[Finding], *, answered: bool = True) -> int:
    """The exit code of a command whose result holds `findings`."""
    if not answered:
        return EXIT_NO_REPLY
    if worst(list(findings)) is Severity.FAIL:
        return EXIT_CHECK_FAILED
    return EXIT_OK


def exit_for(findings: Iterable[Finding], *, answered: bool = True) -> None:
    """Leave the command with `exit_code` when it is not 0."""
    code = exit_code(findings, answered=answered)
    if code != EXIT_OK:
        raise typer.Exit(code)
