"""Field readiness, check by check: each of these failed on the output before.

Unknown profile facts are WARN "unverified" (not FAIL); the enable flags are
said in words; the cable table is not "below" when it is printed above; the
scan summary takes SOH from CAN 0x355 when RS485 carries none, calls the rated
figure a capacity, and explains an RS485/CAN current difference; piped output
is 80 columns wide.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from active_cli.checks.protocol import battery_findings, protocol_findings
from active_cli.checks.verdict import sort_findings, summarize
from active_cli.checks.wiring import check_wiring
from active_cli.cli import output, render_scan, width
from active_cli.inverters import load_profile
from active_cli.model import (
    CanObservation,
    CanStackState,
    ChargeLimits,
    Finding,
    PackReading,
    RequestFlags,
    Severity,
    StackSnapshot,
)


def _state(**fields: object) -> CanStackState:
    base = CanStackState(
        protocol="pylon-v1.2",
        limits=ChargeLimits(56.0, 200.0, 200.0, 46.4),
        soc_pct=60.0,
        soh_pct=97.0,
        voltage_v=53.0,
        current_a=-10.0,
        request=RequestFlags(True, True),
        module_count=2,
    )
    return replace(base, **fields)  # type: ignore[arg-type]


def _can(state: CanStackState, *, heartbeats: int = 0) -> CanObservation:
    ids = {i: 6 for i in (0x351, 0x355, 0x356, 0x359, 0x35C, 0x35E)}
    return CanObservation(
        duration_s=5.5,
        frame_count=36,
        ids_seen=ids,
        cycle_s=dict.fromkeys(ids, 1.0),
        state=state,
        heartbeat_count=heartbeats,
    )


def _heartbeat(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.code == "protocol.heartbeat"]


def test_a_heartbeat_the_profile_does_not_know_about_is_unverified_not_failed() -> None:
    victron = load_profile("victron")
    assert victron.protocol.heartbeat_0x305.value is None  # the profile does not know
    (beat,) = [
        f for f in protocol_findings(victron, _can(_state())) if f.code.endswith("heartbeat")
    ]
    assert beat.severity is Severity.WARN and "unverified" in beat.title


def test_a_heartbeat_the_profile_knows_about_still_fails() -> None:
    (beat,) = [
        f
        for f in protocol_findings(load_profile("deye"), _can(_state()))
        if f.code.endswith("heartbeat")
    ]
    assert beat.severity is Severity.FAIL


@pytest.mark.parametrize(
    ("charge", "discharge", "words"),
    [
        (False, True, "The battery does not allow charging"),
        (True, False, "The battery does not allow discharging"),
        (False, False, "The battery does not allow charging or discharging"),
    ],
)
def test_enables_are_said_in_words(charge: bool, discharge: bool, words: str) -> None:
    state = _state(request=RequestFlags(charge, discharge))
    (enables,) = [f for f in battery_findings(_can(state)) if f.code == "protocol.enables"]
    assert enables.title == words


def test_no_finding_points_below_at_the_cable_table() -> None:
    for profile in ("victron", "deye", "solis", "growatt-spf"):
        for straight in (False, True):
            result = check_wiring(load_profile(profile), packs=2, straight_lead=straight)
            for finding in result.findings:
                text = " ".join((finding.title, finding.detail, finding.fix))
                assert "below" not in text.replace("below two sources", ""), (profile, text)


def _pack(address: int, current_a: float) -> PackReading:
    return PackReading(
        address=address,
        protocol_variant="pylon",
        cell_voltages_v=(3.3,) * 16,
        temperatures_c=(25.0,) * 6,
        current_a=current_a,
        voltage_v=52.8,
        remaining_ah=150.0,
        full_ah=300.0,
        cycles=3,
        serial=f"ACT16{address:011d}",
        alarm_read=True,
    )


def test_scan_summary_soh_capacity_and_current_agreement() -> None:
    can = _can(_state(current_a=-30.0))
    snapshot = StackSnapshot(packs=(_pack(1, -5.0), _pack(2, -5.0)), can=can)
    text = "\n".join(render_scan.summary_lines(snapshot))
    assert "SOH 97 % (CAN 0x355" in text  # RS485 0x42 carries no SOH
    assert "rated usable capacity" in text and "kWh usable" not in text
    assert "RS485 sum -10.0 A, CAN -30.0 A" in text
    agree = StackSnapshot(packs=(_pack(1, -5.0), _pack(2, -5.0)), can=_can(_state()))
    assert "stack current" not in "\n".join(render_scan.summary_lines(agree))


def test_piped_output_is_80_columns_and_wide_is_wider(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    assert output.console_width(isatty=False) == 80
    assert output.console_width(isatty=True) is None  # the terminal's own
    assert output.console_width(wide=True, isatty=False) == width.WIDE_COLUMNS


def test_verdict_rests_on_the_first_failure_and_counts_the_rest() -> None:
    findings = [
        Finding(Severity.INFO, "x.note", "a note"),
        Finding(Severity.WARN, "x.warn", "a warning"),
        Finding(Severity.FAIL, "x.one", "First failure", fix="Do this."),
        Finding(Severity.FAIL, "x.two", "Second failure"),
    ]
    ordered = sort_findings(findings)
    assert [f.severity for f in ordered] == [
        Severity.FAIL,
        Severity.FAIL,
        Severity.WARN,
        Severity.INFO,
    ]
    verdict = summarize(ordered, ok="fine")
    assert verdict.code == "x.one"
    assert verdict.line() == "FAIL: First failure: do this (and 1 more failed: see the findings)"
