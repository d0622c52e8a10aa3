"""`check sizing`: each of the manual's rules at and around its threshold.

Hand arithmetic: at 44.8 V, 100 A per pack is 4480 W per pack and 200 A is 8960 W.
"""

from __future__ import annotations

import pytest

from active_cli.checks.sizing import SizingAssessment, check_sizing, min_packs
from active_cli.model import Finding, Severity


def finding(result: SizingAssessment, code: str) -> Finding:
    return next(f for f in result.findings if f.code == code)


@pytest.mark.parametrize(
    ("power_w", "packs", "per_pack_a", "severity"),
    [
        (4480, 1, 100.0, Severity.OK),  # exactly the recommended continuous current
        (4481, 1, 100.02, Severity.WARN),
        (8960, 1, 200.0, Severity.WARN),  # exactly the maximum
        (8961, 1, 200.02, Severity.FAIL),
        (8960, 2, 100.0, Severity.OK),
        (8961, 2, 100.01, Severity.WARN),
        (17920, 2, 200.0, Severity.WARN),
        (17921, 2, 200.01, Severity.FAIL),
    ],
)
def test_current_per_pack_against_100_and_200_a(
    power_w: float, packs: int, per_pack_a: float, severity: Severity
) -> None:
    result = check_sizing(power_w, packs, busbar=True)
    assert result.current_per_pack_a == pytest.approx(per_pack_a, abs=0.01)
    assert finding(result, "sizing.current").severity is severity


def test_current_is_taken_at_the_low_end_of_the_range_not_nominal() -> None:
    # 5120 W is exactly 100 A at 51.2 V nominal, but 114.3 A at 44.8 V.
    result = check_sizing(5120, 1)
    assert result.voltage_v == 44.8
    assert result.current_per_pack_a == pytest.approx(114.29, abs=0.01)
    assert finding(result, "sizing.current").severity is Severity.WARN


@pytest.mark.parametrize(
    ("power_w", "recommended", "maximum"),
    [(4480, 1, 1), (4481, 2, 1), (8960, 2, 1), (8961, 3, 2), (13440, 3, 2), (13441, 4, 2)],
)
def test_minimum_packs_for_the_power(power_w: float, recommended: int, maximum: int) -> None:
    assert min_packs(power_w, 100.0) == recommended
    assert min_packs(power_w, 200.0) == maximum
    result = check_sizing(power_w, 4, busbar=True)
    assert (result.min_packs_recommended, result.min_packs_max) == (recommended, maximum)


def test_too_few_packs_says_how_many() -> None:
    result = check_sizing(12000, 1)
    current = finding(result, "sizing.current")
    assert current.severity is Severity.FAIL
    assert "at least 2 packs (better 3)" in current.fix


@pytest.mark.parametrize(
    ("power_w", "both", "severity"),
    [(4999, False, Severity.OK), (5000, False, Severity.OK), (5001, True, Severity.WARN)],
)
def test_both_terminals_above_5_kw(power_w: float, both: bool, severity: Severity) -> None:
    result = check_sizing(power_w, 2)
    assert result.both_terminals_needed is both
    assert finding(result, "sizing.terminals").severity is severity


@pytest.mark.parametrize(
    ("power_w", "packs", "busbar", "needed", "severity"),
    [
        (10000, 3, False, False, Severity.OK),
        (10001, 3, False, True, Severity.FAIL),
        (10001, 3, True, True, Severity.OK),
        (9999, 3, False, False, Severity.OK),
        # One pack: the rule is about parallel use; the current rule covers it.
        (10001, 1, False, False, Severity.OK),
    ],
)
def test_busbar_above_10_kw_in_parallel(
    power_w: float, packs: int, busbar: bool, needed: bool, severity: Severity
) -> None:
    result = check_sizing(power_w, packs, busbar=busbar)
    assert result.busbar_needed is needed
    assert finding(result, "sizing.busbar").severity is severity


def test_single_pack_above_10_kw_still_fails_on_current() -> None:
    result = check_sizing(10001, 1)
    assert finding(result, "sizing.current").severity is Severity.FAIL
    assert result.failed


@pytest.mark.parametrize(
    ("packs", "severity"), [(15, Severity.OK), (16, Severity.OK), (17, Severity.FAIL)]
)
def test_at_most_16_packs(packs: int, severity: Severity) -> None:
    assert finding(check_sizing(3000, packs), "sizing.pack-count").severity is severity


def test_usable_energy_and_backup_time() -> None:
    # 3 x 14.47 kWh = 43.41 kWh; at 2000 W that is 21.705 h.
    result = check_sizing(6000, 3, load_w=2000)
    assert result.usable_energy_kwh == pytest.approx(43.41)
    assert result.backup_hours == pytest.approx(21.705)
    assert "about 21.7 h at 2000 W" in finding(result, "sizing.backup").title
    assert check_sizing(6000, 3).backup_hours is None


def test_load_above_inverter_power_warns() -> None:
    result = check_sizing(3000, 1, load_w=3001)
    assert finding(result, "sizing.load").severity is Severity.WARN
    assert all(f.code != "sizing.load" for f in check_sizing(3000, 1, load_w=3000).findings)


def test_a_well_sized_stack_passes() -> None:
    result = check_sizing(8000, 2, load_w=1500)
    assert not result.failed
    assert result.stack_current_a == pytest.approx(178.57, abs=0.01)
    assert any("44.8 V" in a for a in result.assumptions)


NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize(
    ("power", "packs", "load"),
    [
        (0, 1, None),
        (-5, 1, None),
        (3000, 0, None),
        (3000, 1, 0),
        # inf raised OverflowError and nan "cannot convert float NaN to integer".
        (INF, 1, None),
        (NAN, 1, None),
        (-INF, 1, None),
        (3000, 1, INF),
        (3000, 1, NAN),
    ],
)
def test_nonsense_input_is_refused(power: float, packs: int, load: float | None) -> None:
    with pytest.raises(ValueError):
        check_sizing(power, packs, load_w=load)
