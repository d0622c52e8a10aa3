"""Scenario files: every built-in loads, and every bad file names its key and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from active_cli import spec
from active_cli.errors import EXIT_BAD_DATA, DataFileError
from active_cli.sim.pack_facts import OPEN_SENSOR_TEMP_C, default_serial
from active_cli.sim.scenario import (
    FaultSpec,
    PackSpec,
    Scenario,
    builtin_scenario_names,
    load_scenario,
    parse_scenario,
)
from active_cli.sim.stack import SimStack

REQUIRED_BUILTINS = (
    "healthy-1",
    "healthy-4",
    "healthy-16",
    "mismatch",
    "cell-overvoltage",
    "cell-undervoltage",
    "duplicate-address",
    "dead-sensor",
    "over-temperature",
    "stop-answering",
    "noisy-line",
    "checksum-errors",
    "silent-inverter",
    "wrong-bitrate",
    "charge-limit-too-high",
    "pylon-addressing",
    "pylon-v13",
    "mixed-firmware",
)
SCENARIO_DIR = Path(__file__).resolve().parents[1] / "active_cli" / "sim" / "scenarios"
DOCS = Path(__file__).resolve().parents[1] / "docs" / "simulator.md"


# --- built-ins ---------------------------------------------------------------------


def test_every_required_builtin_exists() -> None:
    assert set(REQUIRED_BUILTINS) <= set(builtin_scenario_names())


@pytest.mark.parametrize("name", builtin_scenario_names())
def test_builtin_loads_runs_and_explains_itself(name: str) -> None:
    scenario = load_scenario(name)
    assert scenario.name == name
    assert scenario.description
    text = (SCENARIO_DIR / f"{name}.toml").read_text(encoding="utf-8")
    assert text.startswith(f"# {name}: ")  # the comment header says what it shows
    sim = SimStack.from_scenario(scenario)
    sim.advance(1.0)
    assert sim.module_count == len(scenario.packs)


@pytest.mark.parametrize("name", builtin_scenario_names())
def test_builtin_is_documented(name: str) -> None:
    assert f"`{name}`" in DOCS.read_text(encoding="utf-8")


def test_load_by_path_same_as_by_name(tmp_path: Path) -> None:
    by_name = load_scenario("healthy-4")
    by_path = load_scenario(SCENARIO_DIR / "healthy-4.toml")
    assert by_path.packs == by_name.packs
    copy = tmp_path / "site.toml"
    copy.write_text((SCENARIO_DIR / "mismatch.toml").read_text(encoding="utf-8"))
    assert load_scenario(str(copy)).packs == load_scenario("mismatch").packs


def test_builtins_carry_their_faults() -> None:
    assert [p.address for p in load_scenario("healthy-16").packs] == list(range(1, 17))
    assert [p.address for p in load_scenario("pylon-addressing").packs] == [2, 3, 4]
    assert load_scenario("pylon-addressing").master_address == 2
    dup = load_scenario("duplicate-address")
    assert [p.address for p in dup.packs] == [1, 2, 2, 4]
    assert dup.faults.duplicate_addresses == (2,)
    assert load_scenario("stop-answering").faults.stop_answering == ((3, 2),)
    assert load_scenario("noisy-line").faults.noise_rate > 0
    assert load_scenario("checksum-errors").faults.checksum_error_rate > 0
    assert load_scenario("silent-inverter").faults.silent_inverter
    wrong = load_scenario("wrong-bitrate")
    assert wrong.faults.wrong_bitrate and wrong.can_bitrate != 500_000
    assert load_scenario("charge-limit-too-high").charge_voltage_limit_v > spec.MAX_VOLTAGE_V
    assert load_scenario("pylon-v13").can_profile == "pylon-v1.3"
    firmwares = {p.firmware for p in load_scenario("mixed-firmware").packs}
    assert len(firmwares) == 3
    assert dict(load_scenario("dead-sensor").packs[1].temperature_overrides_c) == {"3": -40.0}
    assert load_scenario("cell-overvoltage").packs[1].cell_overrides_mv == ((9, 3700),)


# --- the format ---------------------------------------------------------------------


def test_defaults_apply_to_every_pack_and_pack_tables_override() -> None:
    scenario = parse_scenario(
        """
packs = 3
[defaults]
soc_pct = 40
temperature_c = 20.5
firmware = "1.2"
[pack.2]
soc_pct = 80
serial = "ACT16X"
cells_mv = { 3 = 3500, 16 = 3000 }
temperatures_c = { 1 = 30, mos = "open" }
cell_offsets_mv = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]
""",
        default_name="x",
    )
    one, two, three = scenario.packs
    assert scenario.name == "x"
    assert (one.soc_pct, two.soc_pct, three.soc_pct) == (40.0, 80.0, 40.0)
    assert {p.firmware for p in scenario.packs} == {"1.2"}
    assert two.serial == "ACT16X"
    assert one.serial == default_serial(1, 0) and three.serial == default_serial(3, 0)
    assert two.cell_overrides_mv == ((3, 3500), (16, 3000))
    assert two.temperature_overrides_c == (("1", 30.0), ("mos", OPEN_SENSOR_TEMP_C))
    assert two.cell_offsets_mv == tuple(range(16))
    assert one.cell_overrides_mv == () and one.temperature_c == 20.5


def test_every_section_is_read() -> None:
    scenario = parse_scenario(
        """
name = "site"
description = "all the knobs"
seed = 7
addressing = "pylon"
packs = 2
[rs485]
baud = 115200
latency_ms = 5
protocol = "pace"
[can]
bitrate = 250000
profile = "pylon-v1.3"
pad_to_8 = true
manufacturer = "ACTIVE"
voltage_scale = "0.1 V"
[inverter]
present = false
heartbeat_period_s = 2.5
follows_limits = false
[bms]
charge_voltage_limit_v = 57.0
discharge_voltage_limit_v = 48
charge_current_per_pack_a = 80
discharge_current_per_pack_a = 120
[faults]
noise_rate = 0.1
noise_max_bytes = 3
checksum_error_rate = 0.05
silent_inverter = true
wrong_bitrate = true
stop_answering = [
    { address = 3, after_requests = 0 },
]
"""
    )
    assert scenario == Scenario(
        name="site",
        description="all the knobs",
        seed=7,
        addressing="pylon",
        packs=(
            PackSpec(address=2, serial=default_serial(1, 7)),
            PackSpec(address=3, serial=default_serial(2, 7)),
        ),
        baud=115200,
        latency_ms=5.0,
        rs485_protocol="pace",
        can_bitrate=250000,
        can_profile="pylon-v1.3",
        can_pad_to_8=True,
        can_manufacturer="ACTIVE",
        can_voltage_scale="0.1 V",
        inverter_present=False,
        heartbeat_period_s=2.5,
        inverter_follows_limits=False,
        charge_voltage_limit_v=57.0,
        discharge_voltage_limit_v=48.0,
        charge_current_per_pack_a=80.0,
        discharge_current_per_pack_a=120.0,
        faults=FaultSpec(
            stop_answering=((3, 0),),
            noise_rate=0.1,
            noise_max_bytes=3,
            checksum_error_rate=0.05,
            silent_inverter=True,
            wrong_bitrate=True,
        ),
        source="<scenario>",
    )


def test_an_empty_file_is_one_healthy_pack() -> None:
    scenario = parse_scenario("", default_name="empty")
    assert scenario.packs == (PackSpec(address=1, serial=default_serial(1, 0)),)
    assert scenario.baud == 9600 and scenario.can_bitrate == 500_000
    assert scenario.inverter_present and scenario.faults == FaultSpec()


def test_pack_count_comes_from_pack_tables_when_not_given() -> None:
    scenario = parse_scenario("[pack.3]\nsoc_pct = 10\n")
    assert [p.address for p in scenario.packs] == [1, 2, 3]


def test_voltage_sets_soc_through_the_ocv_curve() -> None:
    scenario = parse_scenario("packs = 2\n[pack.2]\nvoltage_v = 52.0\n")
    assert scenario.packs[1].voltage_v == 52.0
    assert 12.0 < scenario.packs[1].soc_pct < 16.0  # steep part of the curve
    sim = SimStack.from_scenario(scenario)
    assert sim.packs[1].voltage_v == pytest.approx(52.0, abs=0.01)
    # A pack table's soc_pct replaces a voltage from [defaults].
    mixed = parse_scenario("packs = 2\n[defaults]\nvoltage_v = 52.0\n[pack.1]\nsoc_pct = 90\n")
    assert mixed.packs[0].voltage_v is None and mixed.packs[0].soc_pct == 90.0
    assert mixed.packs[1].voltage_v == 52.0


def test_explicit_addresses_and_listed_duplicates() -> None:
    scenario = parse_scenario(
        """
packs = 3
[pack.2]
address = 7
[pack.3]
address = 7
[faults]
duplicate_addresses = [7]
"""
    )
    assert [p.address for p in scenario.packs] == [1, 7, 7]


def test_scenario_needs_1_to_16_packs() -> None:
    with pytest.raises(ValueError):
        Scenario(name="none", packs=())


# --- bad files: the key and the line ---------------------------------------------------

BAD_FILES = [
    pytest.param("packs = 2\nbogus = 1\n", "bogus", 2, "unknown key", id="unknown-top-key"),
    pytest.param(
        "packs = 2\n[pack.2]\nsoc_pc = 50\n", "pack.2.soc_pc", 3, "did you mean", id="typo"
    ),
    pytest.param('[rs485]\nbaud = "fast"\n', "rs485.baud", 2, "integer", id="wrong-type"),
    pytest.param("[rs485]\nbaud = 9601\n", "rs485.baud", 2, "one of", id="odd-baud"),
    pytest.param("\n[faults]\nnoise_rate = 1.5\n", "faults.noise_rate", 3, "between", id="rate"),
    pytest.param("[faults]\nnoise_rate = true\n", "faults.noise_rate", 2, "number", id="bool"),
    pytest.param("[faults]\nnoise_rate = nan\n", "faults.noise_rate", 2, "between", id="nan"),
    pytest.param("packs = 17\n", "packs", 1, "between 1 and 16", id="too-many"),
    pytest.param("packs = 0\n", "packs", 1, "between 1 and 16", id="none"),
    pytest.param("packs = 2.0\n", "packs", 1, "integer", id="float-count"),
    pytest.param("[pack.1]\naddress = 17\n", "pack.1.address", 2, "between 1 and 16", id="addr"),
    pytest.param(
        'addressing = "pylon"\n[pack.1]\naddress = 1\n',
        "pack.1.address",
        3,
        "between 2 and 17",
        id="pylon-addr",
    ),
    pytest.param(
        "packs = 3\n[pack.3]\naddress = 2\n",
        "pack.3.address",
        3,
        "duplicate_addresses",
        id="unlisted-duplicate",
    ),
    pytest.param(
        "packs = 3\n[faults]\nduplicate_addresses = [1, 9]\n",
        "faults.duplicate_addresses[1]",
        3,
        "no pack is at address 9",
        id="duplicate-of-nothing",
    ),
    pytest.param(
        "packs = 2\n[faults]\nduplicate_addresses = [2]\n",
        "faults.duplicate_addresses[0]",
        3,
        "no pack after",
        id="duplicate-last",
    ),
    pytest.param(
        "[pack.1]\ncells_mv = { 17 = 3300 }\n",
        "pack.1.cells_mv.17",
        2,
        "1..16",
        id="cell-17",
    ),
    pytest.param(
        '\n\n[pack.1]\ncells_mv = { 2 = "high" }\n',
        "pack.1.cells_mv.2",
        4,
        "integer",
        id="cell-type",
    ),
    pytest.param(
        "[pack.1]\ntemperatures_c = { 5 = 20 }\n",
        "pack.1.temperatures_c.5",
        2,
        "unknown key",
        id="sensor-name",
    ),
    pytest.param(
        '[pack.1]\ntemperatures_c = { 2 = "closed" }\n',
        "pack.1.temperatures_c.2",
        2,
        '"open"',
        id="sensor-value",
    ),
    pytest.param(
        "[defaults]\ncell_offsets_mv = [1, 2, 3]\n",
        "defaults.cell_offsets_mv",
        2,
        "16 integers",
        id="offsets-length",
    ),
    pytest.param(
        "[pack.1]\ncell_offsets_mv = [\n  0, 0, 0, 0.5, 0, 0, 0, 0,\n"
        "  0, 0, 0, 0, 0, 0, 0, 0,\n]\n",
        "pack.1.cell_offsets_mv[3]",
        2,
        "integer",
        id="offsets-type",
    ),
    pytest.param(
        "packs = 2\n[faults]\nstop_answering = [{ address = 3, after_requests = 1 }]\n",
        "faults.stop_answering[0].address",
        3,
        "no pack is at address 3",
        id="stop-nobody",
    ),
    pytest.param(
        "packs = 2\n[faults]\nstop_answering = [\n  { address = 1, after_requests = 1 },\n"
        "  { address = 2, after = 4 },\n]\n",
        "faults.stop_answering[1].after",
        5,
        "unknown key",
        id="stop-key-multiline",
    ),
    pytest.param(
        "[faults]\nstop_answering = [{ address = 1 }]\n",
        "faults.stop_answering[0]",
        2,
        "after_requests",
        id="stop-incomplete",
    ),
    pytest.param('[pack.1]\nfirmware = "one.two"\n', "pack.1.firmware", 2, "V1.3.0", id="firmware"),
    pytest.param(
        "[pack.1]\nsoc_pct = 50\nvoltage_v = 52\n",
        "pack.1.voltage_v",
        3,
        "not both",
        id="soc-and-voltage",
    ),
    pytest.param("[pack.1]\nvoltage_v = 60.0\n", "pack.1.voltage_v", 2, "between", id="volts"),
    pytest.param('[can]\nprofile = "pylon-v2"\n', "can.profile", 2, "one of", id="profile"),
    pytest.param(
        "[bms]\ncharge_voltage_limit_v = 50\ndischarge_voltage_limit_v = 51\n",
        "bms.discharge_voltage_limit_v",
        3,
        "below the charge voltage limit",
        id="dvl-above-cvl",
    ),
    pytest.param("packs = 4\n\n[pack.5]\n", "pack.5", 3, "packs = 4", id="pack-beyond-count"),
    pytest.param("[pack.x]\nsoc_pct = 1\n", "pack.x", 1, "numbered by position", id="pack-name"),
    pytest.param("pack = 3\n", "pack", 1, "table", id="pack-not-table"),
    pytest.param("[defaults]\naddress = 4\n", "defaults.address", 2, "unknown", id="def-addr"),
    pytest.param(
        '[pack.1]\nserial = "ACT16000000000000001"\n', "pack.1.serial", 2, "1..16", id="serial"
    ),
    pytest.param('[pack.1]\nserial = "ACT16é"\n', "pack.1.serial", 2, "ASCII", id="non-ascii"),
    pytest.param(
        'description = """\nmulti = line\n"""\n[inverter]\npresent = 1\n',
        "inverter.present",
        5,
        "true or false",
        id="after-multiline-string",
    ),
    pytest.param("[[pack]]\nsoc_pct = 1\n", "pack", 1, "table", id="array-of-tables"),
]


@pytest.mark.parametrize(("text", "key", "line", "reason"), BAD_FILES)
def test_bad_file_names_key_and_line(text: str, key: str, line: int, reason: str) -> None:
    with pytest.raises(DataFileError) as caught:
        parse_scenario(text, source="site.toml")
    err = caught.value
    assert err.key == key
    assert err.line == line
    assert reason in err.reason
    assert err.exit_code == EXIT_BAD_DATA == 4
    assert str(err).startswith(f"site.toml, line {line}, key {key!r}: ")


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("packs = \n", 1),
        ("packs = 2\n[faults\nnoise_rate = 0.1\n", 2),
        ('name = "a"\nname = "b"\n', 2),
    ],
)
def test_toml_syntax_error_keeps_tomllibs_line(text: str, line: int) -> None:
    with pytest.raises(DataFileError) as caught:
        parse_scenario(text, source="broken.toml")
    assert caught.value.line == line
    assert "TOML syntax error" in caught.value.reason
    assert f"line {line}" in str(caught.value)


def test_bad_file_on_disk_names_its_path(tmp_path: Path) -> None:
    path = tmp_path / "site.toml"
    path.write_text("packs = 2\n[faults]\nchecksum_error_rate = -0.1\n", encoding="utf-8")
    with pytest.raises(DataFileError) as caught:
        load_scenario(path)
    assert caught.value.path == str(path)
    assert caught.value.key == "faults.checksum_error_rate" and caught.value.line == 3


def test_missing_scenario_lists_the_builtins(tmp_path: Path) -> None:
    with pytest.raises(DataFileError) as caught:
        load_scenario("healthy-5")
    assert caught.value.hint is not None and "healthy-4" in caught.value.hint
    with pytest.raises(DataFileError):
        load_scenario(tmp_path)  # a folder is not a scenario file
    with pytest.raises(DataFileError):
        load_scenario(tmp_path / "nope.toml")


def test_non_utf8_file(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'name = "caf\xe9"\n')
    with pytest.raises(DataFileError) as caught:
        load_scenario(path)
    assert "UTF-8" in caught.value.reason
