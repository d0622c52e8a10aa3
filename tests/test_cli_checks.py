"""`active check wiring|parallel|sizing` and `active inverters`, end to end."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from active_cli import inverters
from tests.conftest import CliResult

Run = Callable[..., CliResult]
ROOT = Path(__file__).resolve().parent.parent


def test_help_lists_the_new_commands(run_cli: Run) -> None:
    result = run_cli("--help")
    assert result.exit_code == 0
    assert "check" in result.stdout and "inverters" in result.stdout
    check = run_cli("check", "--help")
    for name in ("wiring", "parallel", "sizing"):
        assert name in check.stdout


# --- wiring -------------------------------------------------------------------------


def test_wiring_deye_text(run_cli: Run) -> None:
    result = run_cli("check", "wiring", "--inverter", "deye")
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "A straight T568B patch lead fits Deye" in out
    assert "│1│2│3│4│5│6│7│8│" in out  # the RJ45 drawing
    assert "B A . H L . . ." in out  # our port
    assert "4 (blue)" in out


def test_wiring_victron_json_gives_the_custom_cable(run_cli: Run) -> None:
    result = run_cli("check", "wiring", "-i", "cerbo-gx", "--packs", "2", "--json")
    assert result.exit_code == 0, result.stderr
    data = result.json()
    assert data["inverter"] == "victron"
    wires = [
        (w["battery_pin"], w["inverter_pin"], w["inverter_colour"]) for w in data["cable"]["wires"]
    ]
    assert wires == [(4, 7, "white-brown"), (5, 8, "brown")]
    assert data["cable"]["straight"] == "does-not-fit"
    assert [p["pin"] for p in data["cable"]["inverter_open_pins"]] == [3, 4, 5, 6]
    assert data["link_leads"] == [{"from_pack": 1, "to_pack": 2}]
    codes = {f["code"]: f["severity"] for f in data["findings"]}
    assert codes["wiring.cable"] == "warn" and codes["wiring.termination"] == "warn"


def test_wiring_victron_text_says_where_each_wire_goes(run_cli: Run) -> None:
    out = run_cli("check", "wiring", "-i", "victron").stdout
    assert "put the blue wire into pin 7, the white-blue wire into pin 8" in out
    assert "Leave open at the inverter: 3 (GND), 4 (RESERVED), 5 (RESERVED), 6 (POWER)" in out


def test_wiring_straight_lead_on_victron_exits_1(run_cli: Run) -> None:
    result = run_cli("check", "wiring", "-i", "victron", "--straight-lead")
    assert result.exit_code == 1
    assert "does NOT work" in result.stdout


@pytest.mark.parametrize("profile", [p.id for p in inverters.load_all()])
def test_wiring_runs_for_every_profile(run_cli: Run, profile: str) -> None:
    result = run_cli("check", "wiring", "-i", profile, "--json")
    assert result.exit_code == 0, result.stderr
    assert result.json()["inverter"] == profile


def test_wiring_unknown_inverter_is_a_usage_error(run_cli: Run) -> None:
    result = run_cli("check", "wiring", "-i", "fronius")
    assert result.exit_code == 2
    assert "no inverter profile 'fronius'" in result.stderr
    assert "deye" in result.stderr  # the hint lists the known ones


def test_bad_profile_file_exits_4_naming_file_and_key(
    run_cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = (ROOT / "inverters" / "deye.toml").read_text(encoding="utf-8")
    (tmp_path / "deye.toml").write_text(text.replace("pin = 7\n", "pin = 9\n"), encoding="utf-8")
    monkeypatch.setattr(inverters, "profiles_dir", lambda: tmp_path)
    for args in (("check", "wiring", "-i", "deye"), ("inverters",)):
        result = run_cli(*args)
        assert result.exit_code == 4
        assert "deye.toml" in result.stderr and "port.pins[6].pin" in result.stderr
        assert "1 to 8" in result.stderr


# --- parallel -----------------------------------------------------------------------


def test_parallel_warn_exits_0_and_shows_assumptions(run_cli: Run) -> None:
    result = run_cli("check", "parallel", "--voltages", "53.2", "53.1", "52.9")
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "13.9 A" in out and "0.300 V" in out
    assert "10 mohm each" in out and "21.62 mohm" in out
    assert "charge to about 53.10 V" in out


def test_parallel_fail_exits_1_json(run_cli: Run) -> None:
    result = run_cli("check", "parallel", "--voltages", "53.2", "52.6", "--json")
    assert result.exit_code == 1
    data = result.json()
    assert data["spread_v"] == pytest.approx(0.6)
    assert data["equalising_current_a"] == pytest.approx(27.749, abs=0.001)
    assert data["assumptions"]["loop_resistance_ohm"] == pytest.approx(0.0216226, abs=1e-7)
    assert data["verdict"] == "fail" and data["failed"] is True


def test_parallel_overrides(run_cli: Run) -> None:
    # 5 + 5 mohm, no cable: 0.1 V / 10 mohm = 10 A.
    result = run_cli(
        "check", "parallel", "--voltages", "53.0,52.9", "--link-cable-m", "0",
        "--pack-resistance-mohm", "5", "--json",
    )  # fmt: skip
    assert result.exit_code == 0
    assert result.json()["equalising_current_a"] == pytest.approx(10.0)


@pytest.mark.parametrize(
    "args",
    [
        ("--voltages", "53.2"),
        ("--voltages", "53.2", "abc"),
        (),
        ("--voltages", "53", "52", "--warn-spread", "0.6", "--fail-spread", "0.5"),
    ],
)
def test_parallel_usage_errors(run_cli: Run, args: tuple[str, ...]) -> None:
    result = run_cli("check", "parallel", *args)
    assert result.exit_code == 2, (result.stdout, result.stderr)


# --- sizing -------------------------------------------------------------------------


def test_sizing_fails_above_10_kw_without_busbar(run_cli: Run) -> None:
    result = run_cli("check", "sizing", "--inverter-power", "12000", "--packs", "3")
    assert result.exit_code == 1
    assert "busbar" in result.stdout
    ok = run_cli("check", "sizing", "--inverter-power", "12000", "--packs", "3", "--busbar")
    assert ok.exit_code == 0, ok.stdout


def test_sizing_json_with_load(run_cli: Run) -> None:
    result = run_cli(
        "check", "sizing", "--inverter-power", "5000", "--packs", "1", "--load", "1000", "--json"
    )
    assert result.exit_code == 0  # 111.6 A per pack: a warning, not a failure
    data = result.json()
    assert data["current_per_pack_a"] == pytest.approx(111.607, abs=0.001)
    assert data["backup_hours"] == pytest.approx(14.47)
    assert data["min_packs_recommended"] == 2


@pytest.mark.parametrize(
    "args",
    [
        ("--inverter-power", "0", "--packs", "1"),
        ("--inverter-power", "5000", "--packs", "0"),
        ("--inverter-power", "5000"),
    ],
)
def test_sizing_usage_errors(run_cli: Run, args: tuple[str, ...]) -> None:
    assert run_cli("check", "sizing", *args).exit_code == 2


# --- inverters ----------------------------------------------------------------------


def test_inverters_lists_every_profile(run_cli: Run) -> None:
    result = run_cli("inverters")
    assert result.exit_code == 0
    for profile in inverters.load_all():
        assert profile.id in result.stdout
    data = run_cli("inverters", "--json").json()
    assert {p["id"] for p in data} == {p.id for p in inverters.load_all()}


def test_inverters_show(run_cli: Run) -> None:
    result = run_cli("inverters", "show", "deye")
    assert result.exit_code == 0
    out = result.stdout
    assert "Lithium Mode = 00" in out and "0x356 [1]" in out
    assert "solark-5k-manual" in out  # sources are shown
    data = run_cli("inverters", "show", "sunsynk", "--json").json()
    assert data["id"] == "deye"
    assert data["protocol"]["heartbeat_after_id"]["value"] == 0x356
    assert run_cli("inverters", "show", "nosuch").exit_code == 2
