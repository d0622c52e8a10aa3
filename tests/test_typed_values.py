"""Numbers as installers type them: read as meant, or refused with a "did you mean"."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from active_cli.typed_values import TypedValueError, parse_pack_voltages, parse_power_w
from tests.conftest import CliResult


@pytest.mark.parametrize(
    ("typed", "volts"),
    [
        (["53.2", "53.1"], [53.2, 53.1]),
        (["53.2,53.1,52.9"], [53.2, 53.1, 52.9]),
        (["53,2", "53,1"], [53.2, 53.1]),  # decimal commas: two packs, not four
        (["53,2 53,1"], [53.2, 53.1]),
        (["53.2, 53.1"], [53.2, 53.1]),
    ],
)
def test_voltages_as_typed(typed: list[str], volts: list[float]) -> None:
    assert parse_pack_voltages(typed) == pytest.approx(volts)


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("-53.2", "wrong way round"),  # reversed probes
        ("5320", "did you mean 53.20 V"),  # hundredths
        ("53200", "did you mean 53.20 V"),  # millivolts
        ("53,53", "one pack at 53.53 V or two packs"),  # ambiguous: refused
        ("abc", "not a voltage"),
        ("nan", "not a voltage"),
        ("0", "off"),
    ],
)
def test_voltages_refused_with_a_hint(typed: str, says: str) -> None:
    with pytest.raises(TypedValueError) as caught:
        parse_pack_voltages([typed])
    assert says in caught.value.message
    assert caught.value.hint


@pytest.mark.parametrize(
    ("typed", "watts"),
    [("8000", 8000.0), ("8000W", 8000.0), ("8kW", 8000.0), ("8 kW", 8000.0), ("8,5kW", 8500.0)],
)
def test_power_as_typed(typed: str, watts: float) -> None:
    assert parse_power_w(typed) == watts


@pytest.mark.parametrize(
    ("typed", "says"),
    [("8", "did you mean 8 kW"), ("eight", "not a power"), ("8MW", "not a power")],
)
def test_power_refused_with_a_hint(typed: str, says: str) -> None:
    with pytest.raises(TypedValueError) as caught:
        parse_power_w(typed)
    assert says in caught.value.message


def test_check_parallel_reads_decimal_commas_as_two_packs(
    run_cli: Callable[..., CliResult],
) -> None:
    result = run_cli("check", "parallel", "--voltages", "53,2", "53,1", "--json")
    assert result.exit_code == 0, result.stderr
    packs = result.json()["packs"]
    assert [p["voltage_v"] for p in packs] == [53.2, 53.1]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["check", "parallel", "--voltages", "-53.2", "53.1"], "wrong way round"),
        (["check", "parallel", "--voltages", "5320", "5310"], "did you mean 53.20 V"),
        (["check", "sizing", "--inverter-power", "8", "--packs", "2"], "did you mean 8 kW"),
    ],
)
def test_cli_refuses_with_the_hint(
    run_cli: Callable[..., CliResult], args: list[str], says: str
) -> None:
    result = run_cli(*args)
    assert result.exit_code == 2
    assert says in result.stderr and "hint:" in result.stderr


def test_check_sizing_takes_kilowatts(run_cli: Callable[..., CliResult]) -> None:
    kw = run_cli("check", "sizing", "--inverter-power", "8kW", "--packs", "2", "--json")
    watts = run_cli("check", "sizing", "--inverter-power", "8000", "--packs", "2", "--json")
    assert kw.exit_code == watts.exit_code
    assert kw.json()["inverter_power_w"] == watts.json()["inverter_power_w"] == 8000
