"""`check parallel`: worked examples checked by hand, thresholds, and the plan.

Hand arithmetic used below (defaults: 5 mohm per pack, the low end of public
314 Ah cell data and so the safe side; 2 m of 42.4 mm2 copper each way,
0.0172 ohm mm2/m):
    R_cable = 0.0172 x (2 x 2 m) / 42.4 = 0.0016226 ohm
    R_loop  = 0.005 + 0.005 + 0.0016226 = 0.0116226 ohm
    0.3 V -> 0.3 / 0.0116226 = 25.812 A;  0.6 V -> 51.624 A;  1.17 V -> 100.666 A
(It was 10 mohm per pack until the default moved to the safe side: the
expected currents below changed with it, on purpose.)
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from active_cli.checks.parallel import (
    Action,
    PackVoltage,
    ParallelAssessment,
    ParallelAssumptions,
    check_parallel,
    equalising_current_a,
)
from active_cli.model import Finding, PackReading, Severity

LOOP_OHM = 0.0116226


def packs(*volts: float) -> list[PackVoltage]:
    return [PackVoltage(f"pack {i}", v) for i, v in enumerate(volts, start=1)]


def finding(result: ParallelAssessment, code: str) -> Finding:
    return next(f for f in result.findings if f.code == code)


def test_default_resistances() -> None:
    rules = ParallelAssumptions()
    assert rules.cable_resistance_ohm == pytest.approx(0.0016226, abs=1e-7)
    assert rules.loop_resistance_ohm == pytest.approx(LOOP_OHM, abs=1e-7)


def test_three_packs_0_3_v_apart_warn_with_25_8_a() -> None:
    result = check_parallel(packs(53.2, 53.1, 52.9))
    assert result.spread_v == pytest.approx(0.3)
    assert (result.highest.label, result.lowest.label) == ("pack 1", "pack 3")  # type: ignore[union-attr]
    assert result.equalising_current_a == pytest.approx(25.812, abs=0.001)
    assert finding(result, "parallel.spread").severity is Severity.WARN
    assert finding(result, "parallel.current").severity is Severity.OK
    assert result.verdict is Severity.WARN and not result.failed
    # Plan: keeping 53.1 V moves only pack 3 (53.2 is within 0.1 V of it), by 0.2 V;
    # keeping 53.2 V would also move only pack 3, but by 0.3 V.
    assert result.target_v == pytest.approx(53.1)
    todo = [(a.label, a.action) for a in result.advice if a.action is not Action.NONE]
    assert todo == [("pack 3", Action.CHARGE)]


def test_two_packs_0_6_v_apart_fail_on_spread_not_current() -> None:
    result = check_parallel(packs(53.2, 52.6))
    assert result.spread_v == pytest.approx(0.6)
    assert result.equalising_current_a == pytest.approx(51.624, abs=0.001)
    assert finding(result, "parallel.spread").severity is Severity.FAIL
    assert finding(result, "parallel.current").severity is Severity.OK
    assert result.failed
    # Either pack could move; charging is preferred over discharging.
    assert result.target_v == pytest.approx(53.2)
    assert [(a.label, a.action, a.target_v) for a in result.advice] == [
        ("pack 1", Action.NONE, 53.2),
        ("pack 2", Action.CHARGE, 53.2),
    ]
    plan = finding(result, "parallel.plan")
    assert "charge pack 2 from 52.60 V to about 53.20 V" in plan.fix


def test_current_rule_alone_fails_above_100_a() -> None:
    # Spread limits moved out of the way so only the current rule judges:
    # 1.17 V / 11.6226 mohm = 100.7 A > 100 A; 1.16 V -> 99.8 A.
    loose = ParallelAssumptions(spread_warn_v=3.0, spread_fail_v=5.0)
    over = check_parallel(packs(55.0, 53.83), loose)
    assert over.equalising_current_a == pytest.approx(100.666, abs=0.001)
    current = finding(over, "parallel.current")
    assert current.severity is Severity.FAIL
    assert "above the 100 A recommended" in current.title
    under = check_parallel(packs(55.0, 53.84), loose)
    assert under.equalising_current_a == pytest.approx(99.805, abs=0.001)
    assert not under.failed


def test_low_resistance_turns_a_warning_spread_into_a_current_failure() -> None:
    # 0.4 V over 1 + 1 mohm and no cable: 0.4 / 0.002 = 200 A.
    stiff = ParallelAssumptions(pack_resistance_ohm=0.001, link_cable_m=0.0)
    result = check_parallel(packs(53.0, 52.6), stiff)
    assert result.equalising_current_a == pytest.approx(200.0)
    assert finding(result, "parallel.spread").severity is Severity.WARN
    assert finding(result, "parallel.current").severity is Severity.FAIL
    beyond = check_parallel(packs(53.0, 52.5), stiff)  # 250 A
    assert "200 A pack maximum" in finding(beyond, "parallel.current").title


@pytest.mark.parametrize(
    ("low_v", "severity"),
    [
        (53.0, Severity.OK),  # 0.200 V: at the warning threshold, not above
        (52.999, Severity.WARN),  # 0.201 V
        (52.7, Severity.WARN),  # 0.500 V: at the failing threshold, not above
        (52.699, Severity.FAIL),  # 0.501 V
    ],
)
def test_spread_thresholds(low_v: float, severity: Severity) -> None:
    result = check_parallel(packs(53.2, low_v))
    assert finding(result, "parallel.spread").severity is severity


def test_thresholds_and_cable_are_overridable() -> None:
    # No cable: loop 10 mohm, 0.3 V -> 30 A exactly; tighter limits make 0.3 V fail.
    rules = ParallelAssumptions(link_cable_m=0.0, spread_warn_v=0.1, spread_fail_v=0.25)
    result = check_parallel(packs(53.2, 52.9), rules)
    assert result.equalising_current_a == pytest.approx(30.0)
    assert result.failed
    text = "\n".join(rules.describe())
    assert "0 m each way" in text and "loop: 2 x 5 + 0.00 = 10.00 mohm" in text


@pytest.mark.parametrize(
    "kwargs",
    [
        {"pack_resistance_ohm": 0.0},
        {"link_cable_m": -1.0},
        {"cable_mm2": 0.0},
        {"spread_warn_v": 0.6, "spread_fail_v": 0.5},
        # NaN slips past every "<= 0" test and inf turns the current into 0 A.
        {"pack_resistance_ohm": float("nan")},
        {"pack_resistance_ohm": float("inf")},
        {"link_cable_m": float("inf")},
        {"link_cable_m": float("nan")},
        {"cable_mm2": float("nan")},
        {"resistivity_ohm_mm2_per_m": float("inf")},
        {"spread_warn_v": float("nan")},
        {"spread_fail_v": float("inf")},
    ],
)
def test_nonsense_assumptions_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        ParallelAssumptions(**kwargs)


@pytest.mark.parametrize("volts", [float("nan"), float("inf"), float("-inf")])
def test_a_non_finite_voltage_is_refused(volts: float) -> None:
    with pytest.raises(ValueError, match="not a voltage"):
        PackVoltage("pack 1", volts)


def test_readings_outside_the_manuals_range_fail() -> None:
    result = check_parallel(packs(53.2, 44.7, 57.7))
    bad = [f for f in result.findings if f.code == "parallel.voltage-range"]
    assert [f.severity for f in bad] == [Severity.FAIL, Severity.FAIL]
    assert "charge this pack on its own" in bad[0].fix


def test_pack_counts() -> None:
    # One pack (an RS485 read of unlinked packs finds only the one plugged in)
    # cannot be judged: nothing to compare is a failure, not a pass.
    one = check_parallel(packs(53.2))
    assert one.findings[0].code == "parallel.count" and one.failed
    assert "nothing to compare" in one.findings[0].title
    many = check_parallel(packs(*([53.2] * 17)))
    assert many.failed and any(f.code == "parallel.count" and f.failed for f in many.findings)
    sixteen = check_parallel(packs(*([53.2] * 16)))
    assert not sixteen.failed


def test_rs485_readings_bring_soc_spread_and_rest_check() -> None:
    def reading(address: int, volts: float, remaining_ah: float, current_a: float) -> PackReading:
        return PackReading(
            address=address,
            protocol_variant="pylon",
            cell_voltages_v=(3.3,) * 16,
            temperatures_c=(25.0,),
            current_a=current_a,
            voltage_v=volts,
            remaining_ah=remaining_ah,
            full_ah=314.0,
            cycles=1,
        )

    readings = [reading(2, 53.10, 251.2, 0.0), reading(3, 53.05, 157.0, 4.0)]
    result = check_parallel([PackVoltage.from_reading(r) for r in readings])
    assert [p.label for p in result.packs] == ["ADR 2", "ADR 3"]
    assert result.soc_spread_pct == pytest.approx(30.0)  # 80 % vs 50 %
    soc = finding(result, "parallel.soc-spread")
    # 30 points is above the 20-point warning (it was INFO before the SOC spread
    # became a real check: changed on purpose).
    assert soc.severity is Severity.WARN and "flat" in soc.detail and "points" in soc.title
    rest = finding(result, "parallel.not-at-rest")
    assert rest.severity is Severity.WARN and rest.evidence == ("ADR 3: +4.0 A",)


def _reading(
    address: int,
    volts: float = 53.1,
    *,
    serial: str | None = None,
    alarm_read: bool = True,
    protections: tuple[str, ...] = (),
    full_ah: float = 314.0,
) -> PackReading:
    return PackReading(
        address=address,
        protocol_variant="pylon",
        cell_voltages_v=(3.3,) * 16,
        temperatures_c=(25.0,),
        current_a=0.0,
        voltage_v=volts,
        remaining_ah=157.0,
        full_ah=full_ah,
        cycles=1,
        serial=serial,
        alarm_read=alarm_read,
        protections=protections,
    )


def test_the_same_serial_twice_fails_as_a_pack_read_twice() -> None:
    # --one-by-one with Enter pressed twice and the cable not moved: the same pack.
    first = PackVoltage.from_reading(_reading(1, serial="ACT1"), "pack 1")
    again = PackVoltage.from_reading(_reading(1, serial="ACT1"), "pack 2")
    result = check_parallel([first, again])
    assert result.spread_v == 0.0  # the voltages alone would pass
    twice = finding(result, "parallel.read-twice")
    assert twice.failed and "pack 1 and pack 2" in twice.title and "ACT1" in twice.title
    # Different serials, or unknown ones, are not a repeat.
    other = PackVoltage.from_reading(_reading(1, serial="ACT2"), "pack 2")
    unknown = [PackVoltage.from_reading(_reading(n), f"pack {n}") for n in (1, 2)]
    for group in ([first, other], unknown):
        assert not check_parallel(group).failed


def test_unread_alarms_and_bms_protection_fail() -> None:
    quiet = PackVoltage.from_reading(_reading(2, serial="A", alarm_read=False))
    protecting = PackVoltage.from_reading(
        _reading(3, serial="B", protections=("cell over-voltage",))
    )
    fine = PackVoltage.from_reading(_reading(4, serial="C"))
    result = check_parallel([quiet, protecting, fine])
    assert finding(result, "parallel.spread").severity is Severity.OK
    unknown = finding(result, "parallel.alarms-unknown")
    assert unknown.failed and "ADR 2" in unknown.title and "ADR 3" not in unknown.title
    protection = finding(result, "parallel.bms-protection")
    assert protection.failed and "ADR 3" in protection.title
    assert "cell over-voltage" in protection.title
    # A multimeter reading has no alarm state to miss.
    assert not check_parallel(packs(53.1, 53.1)).failed


def test_failing_scan_findings_are_carried_unless_judged_here() -> None:
    stopped = Finding(Severity.FAIL, "scan.stopped-answering", "Pack at 3 answered, then stopped")
    spread = Finding(Severity.FAIL, "stack.voltage-spread", "Pack voltages differ by 0.6 V")
    gap = Finding(Severity.WARN, "scan.gap", "Address 2 missing")
    readings = [PackVoltage.from_reading(_reading(n, serial=str(n))) for n in (1, 3)]
    result = check_parallel(readings, scan_findings=[stopped, spread, gap])
    assert result.failed and stopped in result.findings
    # The spread is this check's own verdict (with its own thresholds), and
    # only failures are carried.
    assert spread not in result.findings and gap not in result.findings
    assert not check_parallel(readings, scan_findings=[spread, gap]).failed


def test_unknown_soc_is_left_out_of_the_soc_spread() -> None:
    # model.PackReading.soc_pct is None without a full capacity.
    no_capacity = PackVoltage.from_reading(_reading(1, serial="A", full_ah=0.0))
    assert no_capacity.soc_pct is None
    result = check_parallel([no_capacity, PackVoltage.from_reading(_reading(2, serial="B"))])
    assert result.soc_spread_pct is None
    assert not any(f.code == "parallel.soc-spread" for f in result.findings)


VOLTS = st.floats(min_value=44.8, max_value=57.6, allow_nan=False).map(lambda v: round(v, 2))


@given(st.lists(VOLTS, min_size=2, max_size=16))
def test_properties(volts: list[float]) -> None:
    result = check_parallel(packs(*volts))
    rules = result.assumptions
    assert result.spread_v == pytest.approx(max(volts) - min(volts), abs=1e-6)
    assert result.equalising_current_a == pytest.approx(
        equalising_current_a(result.spread_v, rules)
    )
    expect_fail = result.spread_v > rules.spread_fail_v or result.equalising_current_a > 100
    assert result.failed == expect_fail
    if result.advice:
        # Doing what the plan says leaves a spread within the warning threshold.
        after = [a.target_v if a.action is not Action.NONE else a.voltage_v for a in result.advice]
        assert max(after) - min(after) <= rules.spread_warn_v + 1e-6


def _soc_packs(*socs: float) -> list[PackVoltage]:
    return [
        PackVoltage(f"pack {i}", 53.1, soc_pct=soc, source="rs485")
        for i, soc in enumerate(socs, start=1)
    ]


@pytest.mark.parametrize(
    ("socs", "severity"),
    [
        ((70.0, 50.0), Severity.OK),  # 20 points: at the warning, not above
        ((70.0, 49.9), Severity.WARN),
        ((80.0, 40.0), Severity.WARN),  # 40 points: at the limit, not above
        ((80.0, 39.9), Severity.FAIL),
    ],
)
def test_soc_spread_warns_above_20_points_and_fails_above_40(
    socs: tuple[float, float], severity: Severity
) -> None:
    # Same voltage, very different charge: the flat LFP curve hides it.
    result = check_parallel(_soc_packs(*socs))
    assert finding(result, "parallel.soc-spread").severity is severity
    assert result.failed is (severity is Severity.FAIL)


def test_soc_spread_thresholds_are_overridable_and_shown() -> None:
    rules = ParallelAssumptions(soc_spread_warn_pct=5.0, soc_spread_fail_pct=10.0)
    result = check_parallel(_soc_packs(70.0, 59.0), rules)
    assert finding(result, "parallel.soc-spread").severity is Severity.FAIL
    assert any("warn above 5 points, fail above 10" in line for line in rules.describe())
    with pytest.raises(ValueError, match="SOC spread"):
        ParallelAssumptions(soc_spread_warn_pct=30.0, soc_spread_fail_pct=20.0)


def test_default_pack_resistance_is_the_safe_low_end_and_shown_as_a_range() -> None:
    result = check_parallel(packs(53.2, 52.8))
    least, most = result.equalising_current_range_a
    # 0.4 V: 0.4 / 11.6226 mohm = 34.4 A at 5 mohm; 0.4 / 21.6226 = 18.5 A at 10.
    assert most == pytest.approx(34.416, abs=0.001) and least == pytest.approx(18.499, abs=0.001)
    current = finding(result, "parallel.current")
    assert "initial peak" in current.detail and "BMS may limit" in current.detail
    assert "18.5 A" in current.detail


def test_verdict_names_the_pack_to_charge_and_the_target() -> None:
    from active_cli.checks.parallel import parallel_verdict

    verdict = parallel_verdict(check_parallel(packs(54.1, 54.1, 53.05)))
    assert verdict.severity is Severity.FAIL
    assert verdict.line() == "FAIL: do not link - pack 3 is 1.05 V low: charge it to about 54.10 V"
    ok = parallel_verdict(check_parallel(packs(53.1, 53.05)))
    assert ok.severity is Severity.OK and ok.line().startswith("OK: the packs may be linked")
