"""80-column golden output: scan, every check and one monitor frame, 16 packs.

The data is fixed (no simulator timing in it), so the text is exact. Every line
must fit 80 columns, no serial, voltage or current may be cut, and the monitor
frame must fit 80x24 with the CAN and heartbeat lines. To accept a deliberate
change of layout: ``UPDATE_GOLDEN=1 pytest tests/test_cli_scan_golden.py``,
then read the diff.
"""

from __future__ import annotations

import io
import itertools
import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from rich.console import Console

from active_cli.checks.parallel import PackVoltage, check_parallel
from active_cli.checks.protocol import run_protocol_check
from active_cli.checks.scan import scan_findings
from active_cli.checks.sizing import check_sizing
from active_cli.checks.wiring import check_wiring
from active_cli.cli import render_checks, render_monitor, render_scan
from active_cli.inverters import load_profile
from active_cli.model import (
    AddressResult,
    AddressStatus,
    CanObservation,
    CanStackState,
    ChargeLimits,
    PackReading,
    RequestFlags,
    StackSnapshot,
)
from active_cli.monitoring import MonitorModel

GOLDEN = Path(__file__).parent / "golden"
PACKS = 16


def _pack(address: int) -> PackReading:
    # Fixed, slightly different values per pack; pack 7 runs a cell high.
    cells = tuple(3.320 + ((address * 7 + n) % 9) / 1000 for n in range(16))
    if address == 7:
        cells = (*cells[:15], 3.612)
    return PackReading(
        address=address,
        protocol_variant="pylon",
        cell_voltages_v=cells,
        temperatures_c=(26.0, 24.6, 25.3, 25.6, 24.8, 26.5 + address / 10),
        current_a=-2.0 - address / 10,
        voltage_v=round(sum(cells), 3),
        remaining_ah=200.0 + address,
        full_ah=307.7,
        cycles=12 + address,
        serial=f"ACT162406{address:07d}",
        firmware="1.3.0",
        alarm_read=True,
    )


def _can() -> CanObservation:
    ids = {i: 6 for i in (0x305, 0x351, 0x355, 0x356, 0x359, 0x35C, 0x35E)}
    state = CanStackState(
        protocol="pylon-v1.2",
        limits=ChargeLimits(56.0, 1600.0, 1600.0, 46.4),
        soc_pct=66.0,
        soh_pct=98.0,
        voltage_v=53.16,
        current_a=-45.6,
        temp_c=26.0,
        module_count=PACKS,
        request=RequestFlags(True, True),
    )
    return CanObservation(
        duration_s=5.5,
        frame_count=42,
        ids_seen=ids,
        cycle_s=dict.fromkeys(ids, 1.0),
        state=state,
        heartbeat_count=6,
        heartbeat_period_s=1.0,
        last_heartbeat_age_s=0.4,
    )


def _snapshot() -> StackSnapshot:
    packs = tuple(_pack(a) for a in range(1, PACKS + 1))
    addresses = (
        *(AddressResult(a, AddressStatus.ANSWERED, 3, 3) for a in range(1, PACKS + 1)),
        AddressResult(17, AddressStatus.NOT_POLLED),
    )
    snapshot = StackSnapshot(
        packs=packs,
        addresses=addresses,
        group_count=PACKS,
        master_address=1,
        can=_can(),
        port="/dev/ttyUSB0",
        baud=9600,
        can_interface="socketcan can0",
        duration_s=7.1,
    )
    findings = scan_findings(snapshot, expected_packs=PACKS)
    return StackSnapshot(**{**snapshot.__dict__, "findings": tuple(findings)})


def _render(show: Callable[[], None], capsys: pytest.CaptureFixture[str]) -> str:
    show()
    out = capsys.readouterr().out
    return "\n".join(line.rstrip() for line in out.splitlines()) + "\n"


def _compare(name: str, text: str) -> None:
    path = GOLDEN / f"{name}.txt"
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    lines = text.splitlines()
    too_long = [line for line in lines if len(line) > 80]
    assert not too_long, too_long
    # No value is cut from its unit by a wrap ("1600.0" / "A").
    for line, after in itertools.pairwise(lines):
        cut = re.search(r"\d$", line) and re.match(r"(A|V|%|°C|mV|mohm|kWh|W|s)\b", after)
        assert not cut, (line, after)
    assert text == path.read_text(encoding="utf-8")


@pytest.fixture(autouse=True)
def _eighty_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")


def test_scan_16_packs(capsys: pytest.CaptureFixture[str]) -> None:
    snapshot = _snapshot()
    text = _render(lambda: render_scan.show(snapshot), capsys)
    for pack in snapshot.packs:  # nothing cut
        assert pack.serial is not None and pack.serial in text
        assert f"{pack.voltage_v:.2f}" in text and f"{pack.current_a:+.1f}" in text
    verdict = " ".join(text[text.rfind("\nFAIL: ") :].split())
    assert verdict.startswith("FAIL: Cell spread of pack 7: 292 mV"), verdict
    _compare("scan-16", text)


def test_scan_wide_keeps_every_column(capsys: pytest.CaptureFixture[str]) -> None:
    text = _render(lambda: render_scan.show(_snapshot(), wide=True), capsys)
    assert "SOH %" in text and "cycles" in text
    assert max(len(line) for line in text.splitlines()) > 80


def test_check_parallel_16_packs(capsys: pytest.CaptureFixture[str]) -> None:
    readings = [PackVoltage(f"pack {n}", 53.2 - (0.05 if n % 2 else 0.0)) for n in range(1, 17)]
    readings[2] = PackVoltage("pack 3", 52.15)
    result = check_parallel(readings)
    _compare("check-parallel-16", _render(lambda: render_checks.show_parallel(result), capsys))


def test_check_sizing(capsys: pytest.CaptureFixture[str]) -> None:
    result = check_sizing(12000, PACKS, load_w=3000)
    _compare("check-sizing-16", _render(lambda: render_checks.show_sizing(result), capsys))


def test_check_wiring(capsys: pytest.CaptureFixture[str]) -> None:
    profile = load_profile("deye")
    result = check_wiring(profile, packs=PACKS)
    text = _render(lambda: render_checks.show_wiring(result, profile), capsys)
    _compare("check-wiring-deye-16", text)


def test_check_protocol(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_protocol_check(load_profile("deye"), _can(), expected_packs=PACKS)
    _compare("check-protocol-deye-16", _render(lambda: render_checks.show_protocol(result), capsys))


def test_monitor_frame_16_packs_fits_80x24() -> None:
    model = MonitorModel(watch_rs485=True, watch_can=True)
    model.update_packs(tuple(_pack(a) for a in range(1, PACKS + 1)), at=0.0)
    model.update_can(_can().state, {0x351: 0.5, 0x355: 0.5, 0x356: 0.5, 0x305: 0.6})
    console = Console(width=80, height=24, file=io.StringIO(), record=True, color_system=None)
    console.print(render_monitor.screen(model.view(now=1.0), titled=False))
    text = "\n".join(line.rstrip() for line in console.export_text().splitlines()) + "\n"
    lines = text.splitlines()
    assert len(lines) <= 24, text
    assert any(line.startswith("CAN pylon-v1.2") for line in lines)
    assert any(line.startswith("Inverter heartbeat 0x305") for line in lines)
    for address in range(1, PACKS + 1):
        assert any(line.split()[:1] == [str(address)] for line in lines), address
    _compare("monitor-16", text)
