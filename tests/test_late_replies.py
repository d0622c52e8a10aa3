"""Slow replies are told apart from silence: a finding that says they come late, and
--reply-timeout that lets the scan wait for them (issue: reliability, item 10)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.conftest import CliResult

SLOW = str(Path(__file__).parent / "fixtures" / "scenarios" / "slow-bms.toml")


def test_late_replies_are_named_with_the_option(run_cli: Callable[..., CliResult]) -> None:
    result = run_cli("scan", "--sim", SLOW, "--addresses", "1-2", "--json")
    findings = {f["code"]: f for f in result.json()["findings"]}
    late = findings.get("link.late-replies")
    assert late is not None, list(findings)
    assert "late" in late["title"] and "reply timeout" in late["fix"]
    text = run_cli("scan", "--sim", SLOW, "--addresses", "1-2")
    assert "--reply-timeout" in text.stdout


def test_reply_timeout_reads_a_slow_stack_in_full(run_cli: Callable[..., CliResult]) -> None:
    result = run_cli(
        "scan", "--sim", SLOW, "--addresses", "1-2", "--reply-timeout", "1.5", "--json"
    )
    assert result.exit_code == 0, result.stdout
    data = result.json()
    assert [p["address"] for p in data["packs"]] == [1, 2]
    assert "link.late-replies" not in {f["code"] for f in data["findings"]}
