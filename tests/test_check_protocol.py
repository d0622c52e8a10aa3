"""`check protocol`: rules on synthetic observations, and end to end on the simulator."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest

from active_cli.checks.protocol import Rs485Probe, protocol_findings, run_protocol_check
from active_cli.discovery import fold_can
from active_cli.inverters import Bus, load_profile
from active_cli.links.can_link import CanRecord
from active_cli.model import Finding, Severity
from active_cli.sim.can_node import battery_frames
from active_cli.sim.site import SimulatedSite
from tests.conftest import CliResult


def _records(
    scenario: str, *, cycles: int = 3, heartbeat: bool = True, period_s: float = 1.0
) -> list[CanRecord]:
    """Cycles of what the simulated master sends, timestamped like a real capture."""
    with SimulatedSite(scenario, pty=False, with_can=False) as site:
        state = site.stack.can_state()
    frames = battery_frames(state, pad_to_8=site.scenario.can_pad_to_8)
    out: list[CanRecord] = []
    for n in range(cycles):
        t = 100.0 + n * period_s
        out += [CanRecord(t + 0.001 * i, can_id, data) for i, (can_id, data) in enumerate(frames)]
        if heartbeat:
            out.append(CanRecord(t + 0.05, 0x305, bytes(8)))
    return out


def _codes(findings: list[Finding], severity: Severity) -> set[str]:
    return {f.code for f in findings if f.severity is severity}


DEYE = load_profile("deye")


def test_healthy_stack_passes_every_rule() -> None:
    can = fold_can(_records("healthy-4"), 3.0)
    findings = protocol_findings(DEYE, can, expected_packs=4)
    assert not _codes(findings, Severity.FAIL)
    assert {"protocol.message-set", "protocol.cycle", "protocol.heartbeat"} <= _codes(
        findings, Severity.OK
    )


def test_missing_heartbeat_fails() -> None:
    can = fold_can(_records("healthy-4", heartbeat=False), 5.5)
    assert "protocol.heartbeat" in _codes(protocol_findings(DEYE, can), Severity.FAIL)


def test_charge_voltage_above_spec_fails() -> None:
    can = fold_can(_records("charge-limit-too-high"), 3.0)
    failed = [f for f in protocol_findings(DEYE, can) if f.failed]
    assert [f.code for f in failed] == ["protocol.charge-voltage"]
    assert "58.4 V" in failed[0].title
    assert any("CVL 58.4" in e for e in failed[0].evidence)


def test_slow_cycle_fails_and_late_cycle_warns() -> None:
    slow = fold_can(_records("healthy-1", period_s=3.5), 10.0)
    assert "protocol.cycle" in _codes(protocol_findings(DEYE, slow), Severity.FAIL)
    late = fold_can(_records("healthy-1", period_s=2.5), 10.0)
    assert "protocol.cycle" in _codes(protocol_findings(DEYE, late), Severity.WARN)


def test_no_battery_frames_fails_and_mentions_error_frames() -> None:
    records = [CanRecord(1.0 + i, 0, b"", is_error_frame=True) for i in range(3)]
    can = fold_can(records, 5.5)
    failed = [f for f in protocol_findings(DEYE, can) if f.failed]
    assert failed[0].code == "protocol.no-battery-frames"
    assert "error frame" in failed[0].detail


def test_protection_and_disabled_charge_fail() -> None:
    can = fold_can(_records("cell-overvoltage"), 3.0)
    failed = _codes(protocol_findings(DEYE, can), Severity.FAIL)
    assert {"protocol.protection", "protocol.enables"} <= failed


def test_module_count_mismatch_fails() -> None:
    can = fold_can(_records("healthy-4"), 3.0)
    assert "protocol.module-count" in _codes(
        protocol_findings(DEYE, can, expected_packs=5), Severity.FAIL
    )


def test_v13_message_set_warns_not_fails() -> None:
    can = fold_can(_records("pylon-v13"), 3.0)
    findings = protocol_findings(DEYE, can)
    assert "protocol.message-set" in _codes(findings, Severity.WARN)
    assert not _codes(findings, Severity.FAIL)


def test_unverified_setting_is_said_so() -> None:
    growatt = load_profile("growatt-sph")
    finding = protocol_findings(growatt, None)[0]
    assert finding.code == "protocol.setting"
    if not growatt.protocol.setting.confidence.verified:
        assert "unverified" in finding.title or finding.severity is Severity.WARN


def test_rs485_profile_needs_an_answer() -> None:
    rs485_deye = dataclasses.replace(
        DEYE,
        bus=dataclasses.replace(
            DEYE.bus,
            kind=dataclasses.replace(DEYE.bus.kind, value=Bus.RS485),
        ),
    )
    silent = run_protocol_check(rs485_deye, None, Rs485Probe(9600, False, "no reply"))
    assert silent.failed
    answered = run_protocol_check(rs485_deye, None, Rs485Probe(9600, True, "address 1"))
    assert not answered.failed


@pytest.mark.parametrize(
    ("scenario", "exit_code", "failing"),
    [
        ("healthy-4", 0, set()),
        ("silent-inverter", 1, {"protocol.heartbeat"}),
        ("charge-limit-too-high", 1, {"protocol.charge-voltage"}),
    ],
)
def test_cli_against_the_simulator(
    run_cli: Callable[..., CliResult], scenario: str, exit_code: int, failing: set[str]
) -> None:
    result = run_cli("check", "protocol", "--inverter", "deye", "--sim", scenario, "--json")
    assert result.exit_code == exit_code, result.stderr
    report = result.json()
    assert {f["code"] for f in report["findings"] if f["severity"] == "fail"} == failing
    assert report["observation"]["ids_seen"]


def test_cli_parallel_from_the_simulator(run_cli: Callable[..., CliResult]) -> None:
    mismatch = run_cli("check", "parallel", "--sim", "mismatch", "--json")
    assert mismatch.exit_code == 1
    failed = [f for f in mismatch.json()["findings"] if f["severity"] == "fail"]
    assert failed and "ADR 3" in failed[0]["detail"]
    healthy = run_cli("check", "parallel", "--sim", "healthy-4", "--json")
    assert healthy.exit_code == 0, healthy.stdout


def test_cli_protocol_needs_a_bus(run_cli: Callable[..., CliResult]) -> None:
    result = run_cli("check", "protocol", "--inverter", "deye")
    assert result.exit_code == 2
    assert "Traceback" not in result.stderr
