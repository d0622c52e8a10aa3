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
    result = run_cli("check", "wiring", "--inverter", "cerbo-gx", "--packs", "2", "--json")
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
    # Piped output is 80 columns wide now: sentences wrap, so compare them joined.
    out = " ".join(run_cli("check", "wiring", "--inverter", "victron").stdout.split())
    assert "put the blue wire into pin 7, the white-blue wire into pin 8" in out
    assert "Leave open at the inverter: 3 (GND), 4 (RESERVED), 5 (RESERVED), 6 (POWER)" in out


def test_wiring_straight_lead_on_victron_exits_1(run_cli: Run) -> None:
    result = run_cli("check", "wiring", "--inverter", "victron", "--straight-lead")
    assert result.exit_code == 1
    assert "does NOT work" in result.stdout


@pytest.mark.parametrize("profile", [p.id for p in inverters.load_all()])
def test_wiring_runs_for_every_profile(run_cli: Run, profile: str) -> None:
    # Without --straight-lead nothing is claimed: unknowns warn, exit 0.
    result = run_cli("check", "wiring", "--inverter", profile, "--json")
    assert result.exit_code == 0, result.stderr
    assert result.json()["inverter"] == profile


def test_wiring_straight_lead_on_an_unknown_port_exits_1(run_cli: Run) -> None:
    # Gospower: bus and pins unknown, so "my straight lead fits" cannot be confirmed.
    result = run_cli("check", "wiring", "--inverter", "gospower", "--straight-lead", "--json")
    assert result.exit_code == 1, result.stderr
    cable = next(f for f in result.json()["findings"] if f["code"] == "wiring.cable")
    assert cable["severity"] == "fail" and "not known" in cable["title"]


def test_wiring_has_no_i_shortcut(run_cli: Run) -> None:
    # -i is --interface (CAN) everywhere else; in `check wiring` it is not an option.
    result = run_cli("check", "wiring", "-i", "deye")
    assert result.exit_code == 2
    assert "-i" in result.stderr


def test_wiring_unknown_inverter_is_a_usage_error(run_cli: Run) -> None:
    result = run_cli("check", "wiring", "--inverter", "fronius")
    assert result.exit_code == 2
    assert "no inverter profile 'fronius'" in result.stderr
    assert "deye" in result.stderr  # the hint lists the known ones


def test_bad_profile_file_exits_4_naming_file_and_key(
    run_cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = (ROOT / "inverters" / "deye.toml").read_text(encoding="utf-8")
    (tmp_path / "deye.toml").write_text(text.replace("pin = 7\n", "pin = 9\n"), encoding="utf-8")
    monkeypatch.setattr(inverters, "profiles_dir", lambda: tmp_path)
    for args in (("check", "wiring", "--inverter", "deye"), ("inverters",)):
        result = run_cli(*args)
        assert result.exit_code == 4
        assert "deye.toml" in result.stderr and "port.pins[6].pin" in result.stderr
        assert "1 to 8" in result.stderr


# --- parallel -----------------------------------------------------------------------


def test_parallel_warn_exits_0_and_shows_assumptions(run_cli: Run) -> None:
    result = run_cli("check", "parallel", "--voltages", "53.2", "53.1", "52.9")
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    # 5 mohm per pack since the default moved to the safe side (was 10: 13.9 A).
    assert "25.8 A" in out and "0.300 V" in out
    assert "5 mohm each" in out and "11.62 mohm" in out
    assert "charge to about 53.10 V" in out


def test_parallel_fail_exits_1_json(run_cli: Run) -> None:
    result = run_cli("check", "parallel", "--voltages", "53.2", "52.6", "--json")
    assert result.exit_code == 1
    data = result.json()
    assert data["spread_v"] == pytest.approx(0.6)
    assert data["equalising_current_a"] == pytest.approx(51.62)  # amperes to 0.01 A in the JSON
    assert data["assumptions"]["loop_resistance_ohm"] == pytest.approx(0.0116226, abs=1e-3)
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
        # Non-finite numbers once gave "OK, about nan A" with exit 0.
        ("53.0", "53.1", "--pack-resistance-mohm", "nan"),
        ("53.0", "53.1", "--link-cable-m", "inf"),
        ("53.0", "53.1", "--cable-mm2", "nan"),
        ("53.0", "53.1", "--warn-spread", "nan"),
        ("53.0", "nan"),
        ("53.0", "inf"),
        ("--sim", "healthy-4", "--baud", "0"),
    ],
)
def test_parallel_usage_errors(run_cli: Run, args: tuple[str, ...]) -> None:
    result = run_cli("check", "parallel", *args)
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr


def test_parallel_nothing_answering_exits_3_with_one_line(run_cli: Run) -> None:
    result = run_cli("check", "parallel", "--port", "loop://", "--addresses", "1")
    assert result.exit_code == 3, (result.stdout, result.stderr)
    assert result.stderr.startswith("error: no pack answered on loop://")
    assert "hint:" in result.stderr and "Traceback" not in result.stderr


def test_parallel_one_pack_answering_fails_with_nothing_to_compare(run_cli: Run) -> None:
    result = run_cli("check", "parallel", "--sim", "healthy-1", "--addresses", "1", "--json")
    assert result.exit_code == 1, result.stderr
    count = next(f for f in result.json()["findings"] if f["code"] == "parallel.count")
    assert count["severity"] == "fail" and "Only one pack" in count["title"]


def test_parallel_carries_what_the_scan_learned(run_cli: Run) -> None:
    # Pack 3 stops answering: the voltages agree, but the check must not pass.
    result = run_cli("check", "parallel", "--sim", "stop-answering", "-a", "1-3", "--json")
    assert result.exit_code == 1, result.stderr
    data = result.json()
    assert data["spread_v"] < 0.2
    codes = {f["code"]: f["severity"] for f in data["findings"]}
    assert codes["scan.stopped-answering"] == "fail"
    assert codes["parallel.spread"] == "ok"
    assert {p["alarm_read"] for p in data["packs"]} == {True}


def test_parallel_sim_notes_a_typed_baud_it_does_not_use(run_cli: Run) -> None:
    args = ("check", "parallel", "--sim", "healthy-1", "--addresses", "1", "--json")
    typed = run_cli(*args, "--baud", "115200")
    assert "--baud 115200 is not used" in typed.stderr and "9600 baud" in typed.stderr
    assert typed.json()["packs"]  # stdout is still the JSON alone
    assert "--baud" not in run_cli(*args).stderr


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
    assert data["current_per_pack_a"] == pytest.approx(111.61)  # amperes to 0.01 A in the JSON
    assert data["backup_hours"] == pytest.approx(14.47)
    assert data["min_packs_recommended"] == 2


@pytest.mark.parametrize(
    "args",
    [
        ("--inverter-power", "0", "--packs", "1"),
        ("--inverter-power", "5000", "--packs", "0"),
        ("--inverter-power", "5000"),
        ("--inverter-power", "inf", "--packs", "1"),
        ("--inverter-power", "nan", "--packs", "1"),
        ("--inverter-power", "5000", "--packs", "1", "--load", "inf"),
    ],
)
def test_sizing_usage_errors(run_cli: Run, args: tuple[str, ...]) -> None:
    result = run_cli("check", "sizing", *args)
    assert result.exit_code == 2
    assert "Traceback" not in result.stderr


# --- protocol (options only: the check itself is tested in test_check_protocol) ----


@pytest.mark.parametrize(
    "args",
    [
        ("--window", "0"),
        ("--window", "-1"),
        ("--window", "inf"),
        ("--baud", "0"),
        ("--can-option", "no-equals-sign"),
    ],
)
def test_protocol_usage_errors(run_cli: Run, args: tuple[str, ...]) -> None:
    result = run_cli("check", "protocol", "--inverter", "deye", "--sim", "healthy-1", *args)
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("window", ["0", "-1"])
def test_scan_can_window_must_be_positive(run_cli: Run, window: str) -> None:
    # The same rule as `check protocol --window`: a window of 0 s hears nothing.
    result = run_cli("scan", "--sim", "healthy-1", "--can-window", window)
    assert result.exit_code == 2, (result.stdout, result.stderr)


def test_protocol_takes_can_options(run_cli: Run, tmp_path: Path) -> None:
    # --can-option reaches the connection: a replay refuses it as a live option.
    capture = tmp_path / "site.log"
    capture.write_text("", encoding="utf-8")
    result = run_cli(
        "check", "protocol", "--inverter", "deye", "--replay", str(capture),
        "--can-option", "host=127.0.0.1",
    )  # fmt: skip
    assert result.exit_code == 2
    assert "--can-option" in result.stderr


# --- inverters ----------------------------------------------------------------------


def test_inverters_lists_every_profile(run_cli: Run) -> None:
    result = run_cli("inverters")
    assert result.exit_code == 0
    for profile in inverters.load_all():
        assert profile.id in result.stdout
    # A list sits under "result" in the JSON envelope (docs/json.md).
    data = run_cli("inverters", "--json").json()["result"]
    assert {p["id"] for p in data} == {p.id for p in inverters.load_all()}


def test_inverters_show(run_cli: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    # Wide enough that no table cell wraps: this test is about the content.
    monkeypatch.setenv("COLUMNS", "200")
    result = run_cli("inverters", "show", "deye")
    assert result.exit_code == 0
    out = result.stdout
    assert "Lithium Mode = 00" in out and "0x356 [1]" in out
    assert "solark-5k-manual" in out  # sources are shown
    data = run_cli("inverters", "show", "sunsynk", "--json").json()
    assert data["id"] == "deye"
    assert data["protocol"]["heartbeat_after_id"]["value"] == 0x356
    assert run_cli("inverters", "show", "nosuch").exit_code == 2
