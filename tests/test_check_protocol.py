"""`check protocol`: rules on synthetic observations, and end to end on the simulator."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest

from active_cli.checks.protocol import (
    HEARTBEAT_LOST_S,
    Rs485Probe,
    min_heartbeats,
    protocol_findings,
    run_protocol_check,
)
from active_cli.checks.scan import can_findings
from active_cli.discovery import fold_can
from active_cli.inverters import Bus, Confidence, load_profile
from active_cli.links.can_link import CanRecord
from active_cli.model import CanObservation, Finding, Severity
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


def test_module_count_not_reported_cannot_confirm_the_expected_packs() -> None:
    # V1.3 sends no 0x359, so no module count: --expect used to be skipped silently.
    can = fold_can(_records("pylon-v13"), 3.0)
    assert can.state is not None and can.state.module_count is None
    (finding,) = [
        f
        for f in protocol_findings(DEYE, can, expected_packs=4)
        if f.code == "protocol.module-count"
    ]
    assert finding.severity is Severity.WARN
    assert "cannot confirm 4 pack(s)" in finding.title


def test_v13_message_set_warns_not_fails() -> None:
    can = fold_can(_records("pylon-v13"), 3.0)
    findings = protocol_findings(DEYE, can)
    assert "protocol.message-set" in _codes(findings, Severity.WARN)
    assert not _codes(findings, Severity.FAIL)


@pytest.mark.parametrize(
    ("confidence", "unverified"),
    [
        (Confidence.CONFIRMED, False),
        (Confidence.SINGLE, True),
        (Confidence.DEDUCED, True),
    ],
)
def test_unverified_setting_is_said_so(confidence: Confidence, unverified: bool) -> None:
    # Deye's setting, with the confidence set here: the test does not depend on
    # what the profile files say today.
    setting = dataclasses.replace(DEYE.protocol.setting, confidence=confidence)
    profile = dataclasses.replace(
        DEYE, protocol=dataclasses.replace(DEYE.protocol, setting=setting)
    )
    finding = protocol_findings(profile, None)[0]
    assert (finding.code, finding.severity) == ("protocol.setting", Severity.INFO)
    assert finding.title.startswith(f"On the Deye, choose: {setting.value}")
    assert ("unverified" in finding.title) is unverified


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


# ------------------------------------------------------------ the heartbeat


def _heartbeat(can: CanObservation) -> Finding:
    (finding,) = [f for f in protocol_findings(DEYE, can) if f.code == "protocol.heartbeat"]
    return finding


def _window(beats: list[float], cycles: int, duration_s: float) -> CanObservation:
    """Healthy-1 battery cycles one second apart; 0x305 at `beats` (s into the window)."""
    records = [r for r in _records("healthy-1", cycles=cycles, heartbeat=False)]
    records += [CanRecord(100.0 + t, 0x305, bytes(8)) for t in beats]
    return fold_can(sorted(records, key=lambda r: r.timestamp), duration_s)


def test_a_heartbeat_that_stopped_early_in_the_window_fails() -> None:
    # 0x305 every second for the first 3 s of a 10 s window, while the battery
    # went on: this used to be "OK ... every 1.00 s, last 7.0 s ago".
    can = _window([0.05, 1.05, 2.05], cycles=10, duration_s=10.0)
    assert can.last_heartbeat_age_s is not None and can.last_heartbeat_age_s > HEARTBEAT_LOST_S
    finding = _heartbeat(can)
    assert finding.severity is Severity.FAIL and "stopped" in finding.title


def test_one_heartbeat_in_a_five_second_window_is_not_a_heartbeat() -> None:
    # This used to pass as "OK ... 1 time(s)".
    finding = _heartbeat(_window([4.0], cycles=5, duration_s=5.0))
    assert finding.severity is Severity.FAIL and "not steady" in finding.title


@pytest.mark.parametrize(
    ("age_s", "severity"),
    [(HEARTBEAT_LOST_S, Severity.OK), (HEARTBEAT_LOST_S + 0.01, Severity.FAIL)],
)
def test_heartbeat_age_threshold(age_s: float, severity: Severity) -> None:
    can = dataclasses.replace(
        fold_can(_records("healthy-4"), 3.0), duration_s=8.0, last_heartbeat_age_s=age_s
    )
    assert _heartbeat(can).severity is severity


@pytest.mark.parametrize(
    ("duration_s", "least"), [(0.8, 1), (2.99, 1), (3.0, 2), (5.5, 2), (8.99, 2), (9.0, 3)]
)
def test_min_heartbeats_at_the_slowest_accepted_period(duration_s: float, least: int) -> None:
    assert min_heartbeats(duration_s) == least


# ------------------------------------------- scan and check protocol agree


def _battery_verdicts(findings: list[Finding], area: str) -> dict[str, Severity]:
    """The battery's verdicts, without the area prefix and the inverter-only ones."""
    out: dict[str, Severity] = {}
    for f in findings:
        prefix, _, rule = f.code.partition(".")
        inverter_only = rule in {"heartbeat", "setting"} or rule.startswith("quirk.")
        if prefix == area and not inverter_only and "inverter" not in rule:
            out[rule] = f.severity
    return out


def _only_35e() -> CanObservation:
    records = [CanRecord(100.0 + n, 0x35E, b"PYLON   ") for n in range(3)]
    return fold_can(records, 3.0)


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: fold_can(_records("healthy-4"), 3.0), id="healthy-4"),
        pytest.param(lambda: fold_can(_records("cell-overvoltage"), 3.0), id="protection"),
        pytest.param(lambda: fold_can(_records("charge-limit-too-high"), 3.0), id="cvl"),
        pytest.param(lambda: fold_can(_records("pylon-v13"), 3.0), id="v13"),
        pytest.param(_only_35e, id="only-0x35E"),
        pytest.param(lambda: CanObservation(duration_s=5.5, frame_count=0), id="nothing"),
    ],
)
@pytest.mark.parametrize("expected", [None, 4, 9])
def test_scan_and_check_protocol_give_the_same_battery_verdicts(
    make: Callable[[], CanObservation], expected: int | None
) -> None:
    can = make()
    protocol = _battery_verdicts(protocol_findings(DEYE, can, expected_packs=expected), "protocol")
    scan = _battery_verdicts(can_findings(can, expected_packs=expected), "can")
    assert protocol == scan and protocol


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
