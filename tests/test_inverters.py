"""Inverter profiles: the shipped ones load, bad ones fail with file, key, line and reason."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

from active_cli import inverters
from active_cli.errors import DataFileError, UsageError
from active_cli.inverters import (
    Bus,
    Confidence,
    Fact,
    PinFunction,
    fact_text,
    line_of,
    load_all,
    load_profile,
    load_profile_file,
)
from tests.conftest import CliResult

ROOT = Path(__file__).resolve().parent.parent
DEYE = (ROOT / "inverters" / "deye.toml").read_text(encoding="utf-8")

# The brands the Active16 manual lists as compatible (APP Operation Guide).
MANUAL_BRANDS = {
    "Deye",
    "Growatt",
    "Victron",
    "Solis",
    "Luxpower",
    "Megarevo",
    "Gospower",
    "SAJ",
    "Sacolar",
}


def test_every_manual_brand_has_a_profile() -> None:
    assert {p.brand for p in load_all()} >= MANUAL_BRANDS


def test_ids_match_file_names_and_names_are_unique() -> None:
    profiles = load_all()
    names = [n for p in profiles for n in (p.id, *p.aliases)]
    assert len(names) == len(set(names))
    for p in profiles:
        assert Path(p.path).stem == p.id


@pytest.mark.parametrize("profile", load_all(), ids=lambda p: p.id)
def test_every_fact_states_its_confidence_honestly(profile: inverters.InverterProfile) -> None:
    facts: list[Fact[object]] = [
        profile.port.label,
        profile.port.connector,
        profile.bus.kind,
        profile.bus.bitrate,
        profile.protocol.name,
        profile.protocol.setting,
        profile.protocol.heartbeat_0x305,
        profile.protocol.heartbeat_after_id,
        profile.termination.can,
        profile.termination.external_terminator,
        profile.termination.rs485,
        profile.limits.max_charge_current_a,
        profile.limits.on_link_loss,
    ]
    for fact in facts:
        assert fact.known == (fact.confidence is not Confidence.UNKNOWN)
    for pin in profile.port.pins:
        assert (pin.function is PinFunction.UNKNOWN) == (pin.confidence is Confidence.UNKNOWN)
        if pin.function in (PinFunction.POWER, PinFunction.RESERVED):
            assert pin.must_not_connect


def test_reference_facts_are_carried_through() -> None:
    deye = load_profile("deye")
    assert deye.bus.kind.value is Bus.CAN and deye.bus.bitrate.value == 500_000
    assert "Lithium Mode = 00" in (deye.protocol.setting.value or "")
    assert deye.protocol.heartbeat_after_id.value == 0x356
    assert deye.protocol.heartbeat_after_id.confidence is Confidence.SINGLE
    victron = load_profile("victron")
    assert victron.termination.external_terminator.value is True
    assert {p.pin: p.function for p in victron.port.pins}[7] is PinFunction.CAN_H
    # Unknown stays unknown: no Luxpower pin is presented as fact.
    assert load_profile("luxpower").port.pins == ()
    assert load_profile("gospower").bus.kind.value is None


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("deye", "deye"),
        ("DEYE", "deye"),
        ("sunsynk", "deye"),
        ("eg4", "luxpower"),
        ("cerbo-gx", "victron"),
        ("vic", "victron"),  # unambiguous prefix
        ("growatt-spf", "growatt-spf"),
    ],
)
def test_profiles_are_found_by_id_alias_or_prefix(name: str, expected: str) -> None:
    assert load_profile(name).id == expected


def test_ambiguous_and_unknown_names_are_usage_errors() -> None:
    with pytest.raises(UsageError, match="ambiguous: growatt-spf, growatt-sph"):
        load_profile("growatt")
    with pytest.raises(UsageError, match="no inverter profile 'fronius'") as info:
        load_profile("fronius")
    assert info.value.hint is not None and "deye" in info.value.hint


# --- bad files -------------------------------------------------------------------------

BAD = [
    # (name, change to deye.toml, key in the message, text on the reported line, reason)
    ("pin outside 1-8", ("pin = 7\n", "pin = 9\n"), "port.pins[6].pin", "pin = 9", "1 to 8"),
    (
        "unknown function",
        ('function = "CAN-L"', 'function = "CANL"'),
        "port.pins[4].function",
        'function = "CANL"',
        "is not one of",
    ),
    ("unknown key", ("[bus]\n", "[bus]\nspeed = 1\n"), "bus.speed", "speed = 1", "unknown key"),
    (
        "two-source fact with one source",
        (
            'bitrate.sources = ["deye-can-copy", "bms-project-notes"]',
            'bitrate.sources = ["deye-can-copy"]',
        ),
        "bus.bitrate",
        "bitrate.",
        "at least two sources",
    ),
    (
        "unknown source id",
        (
            'setting.sources = ["maker-deye-guide", "solark-5k-manual"]',
            'setting.sources = ["a-blog"]',
        ),
        "protocol.setting.sources[0]",
        'setting.sources = ["a-blog"]',
        "not listed under [sources]",
    ),
    (
        "unknown fact with a value",
        ('can.confidence = "?"\n', 'can.confidence = "?"\ncan.value = "120 ohm"\n'),
        "termination.can",
        "can.",
        'confidence "?" means unknown',
    ),
    (
        "deduced fact without a note",
        ('bitrate.confidence = "2"', 'bitrate.confidence = "d"'),
        "bus.bitrate",
        "bitrate.",
        "needs a note",
    ),
    (
        "power pin marked connectable",
        (
            'function = "unknown"\nconfidence = "?"\nnote = "may be GND: sources disagree on the '
            'ground pin (3, 6 or 2)"\n\n[[port.pins]]\npin = 4',
            'function = "POWER"\nconfidence = "1"\nsources = ["solark-5k-manual"]\n'
            "must_not_connect = false\n\n[[port.pins]]\npin = 4",
        ),
        "port.pins[2].must_not_connect",
        "must_not_connect = false",
        "can never get a wire",
    ),
    (
        "pin listed twice",
        ("pin = 8\n", "pin = 1\n"),
        "port.pins[7].pin",
        "pin = 1",
        "listed twice",
    ),
    (
        "bad CAN id",
        ('heartbeat_after_id.value = "0x356"', 'heartbeat_after_id.value = "856"'),
        "protocol.heartbeat_after_id.value",
        "heartbeat_after_id.value",
        "11-bit CAN id",
    ),
    (
        "boolean where a number belongs",
        ("bitrate.value = 500000", "bitrate.value = true"),
        "bus.bitrate.value",
        "bitrate.value = true",
        "positive whole number",
    ),
    (
        "known confidence without a value",
        ('on_link_loss.value = "raises F58 (BMS communication fault)"\n', ""),
        "limits.on_link_loss",
        "on_link_loss.confidence",
        "no value, so confidence",
    ),
    (
        "missing fact",
        (
            'on_link_loss.value = "raises F58 (BMS communication fault)"\n'
            'on_link_loss.confidence = "1"\non_link_loss.sources = ["installer-reports"]\n',
            "",
        ),
        "limits",
        "[limits]",
        "missing key 'on_link_loss'",
    ),
    (
        "quirk severity ok",
        ('severity = "info"', 'severity = "ok"'),
        "quirks[0].severity",
        'severity = "ok"',
        "never ok",
    ),
]


@pytest.mark.parametrize(
    ("change", "key", "line_text", "reason"),
    [case[1:] for case in BAD],
    ids=[case[0] for case in BAD],
)
def test_bad_profile_names_file_key_line_and_reason(
    tmp_path: Path, change: tuple[str, str], key: str, line_text: str, reason: str
) -> None:
    old, new = change
    assert old in DEYE, old
    text = DEYE.replace(old, new, 1)
    path = tmp_path / "deye.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataFileError) as info:
        load_profile_file(path)
    error = info.value
    assert error.path == str(path)
    assert error.key is not None and error.key.startswith(key), error
    assert reason in error.reason, error
    assert error.line is not None, error
    assert line_text in text.splitlines()[error.line - 1], (
        error,
        text.splitlines()[error.line - 1],
    )
    assert str(path) in str(error) and f"line {error.line}" in str(error)


def test_toml_syntax_error_gives_the_line(tmp_path: Path) -> None:
    path = tmp_path / "deye.toml"
    path.write_text(DEYE.replace('brand = "Deye"', "brand = Deye"), encoding="utf-8")
    with pytest.raises(DataFileError, match="not valid TOML") as info:
        load_profile_file(path)
    assert info.value.line == 5


def test_a_profile_that_is_not_utf8_is_a_data_file_error(tmp_path: Path) -> None:
    # Saved in Latin-1 by an editor: once a UnicodeDecodeError traceback.
    path = tmp_path / "deye.toml"
    path.write_bytes(DEYE.replace('brand = "Deye"', 'brand = "Deyé"').encode("latin-1"))
    with pytest.raises(DataFileError, match="not UTF-8") as info:
        load_profile_file(path)
    assert info.value.path == str(path)
    # The CLI path: load_profile finds it by name, the error names the file.
    with pytest.raises(DataFileError, match=r"deye\.toml"):
        load_profile("deye", tmp_path)


def test_a_profile_that_cannot_be_read_is_a_data_file_error(tmp_path: Path) -> None:
    (tmp_path / "odd.toml").mkdir()  # a folder where a file should be
    with pytest.raises(DataFileError, match="cannot be read") as info:
        load_all(tmp_path)
    assert info.value.path == str(tmp_path / "odd.toml")


def test_id_must_match_file_name(tmp_path: Path) -> None:
    path = tmp_path / "deye2.toml"
    path.write_text(DEYE, encoding="utf-8")
    with pytest.raises(DataFileError, match="must match the file name") as info:
        load_profile_file(path)
    assert info.value.key == "id" and info.value.line == 4


def test_an_alias_used_twice_fails(tmp_path: Path) -> None:
    (tmp_path / "deye.toml").write_text(DEYE, encoding="utf-8")
    other = DEYE.replace('id = "deye"', 'id = "other"').replace('"solark"]', '"solark", "x"]')
    (tmp_path / "other.toml").write_text(other, encoding="utf-8")
    with pytest.raises(DataFileError, match="already used by profile 'deye'"):
        load_all(tmp_path)


def test_line_of_walks_tables_arrays_and_dotted_keys() -> None:
    text = 'a = 1\n[t]\nx.value = 2\nx.sources = ["s"]\n[[t.p]]\nk = 1\n[[t.p]]\nk = 2\n'
    assert line_of(text, ("a",)) == 1
    assert line_of(text, ("t", "x", "sources", 0)) == 4
    assert line_of(text, ("t", "x", "note")) == 3  # missing key: its fact's first line
    assert line_of(text, ("t", "p", 1, "k")) == 8
    assert line_of(text, ("t", "missing")) == 2
    assert line_of(text, ("nowhere",)) is None


def test_fact_text() -> None:
    assert fact_text(Fact(500000, Confidence.CONFIRMED, ("a", "b"))) == "500000 [2]"
    assert fact_text(Fact(True, Confidence.SINGLE, ("a",))) == "yes [1]"
    assert fact_text(Fact(Bus.CAN, Confidence.SINGLE, ("a",))) == "CAN [1]"
    assert fact_text(Fact(0x356, Confidence.SINGLE, ("a",)), can_id=True) == "0x356 [1]"
    assert fact_text(Fact(None, Confidence.UNKNOWN, note="x")) == "unknown [?] (x)"
    assert fact_text(Fact(None, Confidence.UNKNOWN, note="x"), note=False) == "unknown [?]"
    assert fact_text(Fact(120.0, Confidence.DEDUCED, note="n"), " A") == "120 A [d] (n)"


# --- the generated page ----------------------------------------------------------------


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "gen_inverter_table", ROOT / "scripts" / "gen_inverter_table.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_docs_inverters_md_is_generated_from_the_profiles() -> None:
    page = (ROOT / "docs" / "inverters.md").read_text(encoding="utf-8")
    assert page == _generator().render(load_all()), (
        "docs/inverters.md is stale: run python scripts/gen_inverter_table.py"
    )


def test_generated_page_has_every_profile_and_its_cable() -> None:
    page = _generator().render(load_all())
    for profile in load_all():
        assert f"## {profile.name} (`{profile.id}`)" in page
    assert "| custom: 4->7, 5->8 [2] |" in page  # Victron
    assert "| straight [2] |" in page  # Deye


# --- facts at their real confidence ------------------------------------------------------

SOLIS = (ROOT / "inverters" / "solis.toml").read_text(encoding="utf-8")


@pytest.mark.parametrize("profile", load_all(), ids=lambda p: p.id)
def test_no_profile_claims_more_than_its_weakest_required_fact(
    profile: inverters.InverterProfile,
) -> None:
    ceiling, _, _ = inverters.confidence_ceiling(profile)
    assert profile.confidence.rank <= ceiling.rank


def test_the_ceiling_follows_the_weakest_required_fact() -> None:
    spf = load_profile("growatt-spf")  # bus, protocol, setting [2]; CAN pins 4/5 [1]
    assert inverters.confidence_ceiling(spf) == (
        inverters.ProfileConfidence.MEDIUM_HIGH,
        "CAN-H pin",
        Confidence.SINGLE,
    )
    luxpower = load_profile("luxpower")  # no pin known
    ceiling, label, fact = inverters.confidence_ceiling(luxpower)
    assert ceiling is inverters.ProfileConfidence.LOW_MEDIUM and fact is Confidence.UNKNOWN
    assert label == "CAN-H pin"
    gospower = load_profile("gospower")  # not even the bus
    assert inverters.confidence_ceiling(gospower)[1] == "bus type"


def test_a_profile_rated_above_its_weakest_fact_is_refused(tmp_path: Path) -> None:
    # Deye with its CAN-H pin on one source cannot be "high" (nor "medium-high" + 1).
    text = DEYE.replace('confidence = "medium"\n', 'confidence = "high"\n', 1).replace(
        'function = "CAN-H"\nconfidence = "2"\nsources = ["solark-5k-manual", "maker-deye-guide"]',
        'function = "CAN-H"\nconfidence = "1"\nsources = ["maker-deye-guide"]',
    )
    path = tmp_path / "deye.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataFileError) as info:
        load_profile_file(path)
    error = info.value
    assert error.key == "confidence" and error.line is not None
    assert text.splitlines()[error.line - 1] == 'confidence = "high"'
    assert "the CAN-H pin is [1], so the profile is 'medium-high' at best" in error.reason


def test_deye_is_medium_and_says_why() -> None:
    deye = load_profile("deye")
    assert deye.confidence is inverters.ProfileConfidence.MEDIUM
    assert "battery maker's Deye guide" in deye.confidence_note
    assert "Sol-Ark 5K manual" in deye.confidence_note
    for pin in (4, 5):
        port_pin = deye.port.pin(pin)
        assert port_pin is not None and "no Deye document" in port_pin.note


def test_sol_ark_notes_only_for_the_sol_ark_and_sunsynk_names() -> None:
    def codes(name: str) -> set[str]:
        return {q.code for q in load_profile(name).quirks}

    sol_ark = {"deye.pin2-ground", "deye.sol-ark-dlc8"}
    assert not codes("deye") & sol_ark
    assert codes("sol-ark") >= sol_ark and codes("solark") >= sol_ark
    assert "deye.pin2-ground" in codes("sunsynk")
    assert load_profile("sunsynk").named_as == "sunsynk"
    plain = load_profile("deye")
    assert plain.named_as == "deye"
    assert not any("Sol-Ark" in q.text for q in plain.quirks)
    assert not any("Sol-Ark" in p.note for p in plain.port.pins if p.pin not in (4, 5))
    # The file as a whole (docs, `inverters` list) keeps every quirk.
    whole = next(p for p in load_all() if p.id == "deye")
    assert {q.code for q in whole.quirks} >= sol_ark


def test_only_for_must_name_an_alias(tmp_path: Path) -> None:
    text = DEYE.replace('only_for = ["sol-ark", "solark"]', 'only_for = ["sol-ark", "solarc"]')
    assert text != DEYE
    path = tmp_path / "deye.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataFileError, match="'solarc' is not an alias") as info:
        load_profile_file(path)
    assert info.value.key is not None and info.value.key.endswith(".only_for[1]")
    assert info.value.line is not None
    assert "solarc" in text.splitlines()[info.value.line - 1]


def test_solis_pins_other_than_4_and_5_are_unknown_not_unconnected() -> None:
    solis = load_profile("solis")
    others = [p for p in solis.port.pins if p.pin not in (4, 5)]
    assert others and all(
        p.function is PinFunction.UNKNOWN and p.confidence is Confidence.UNKNOWN for p in others
    )
    # The straight-lead verdict rests on the port-level deduction, said as such.
    assert solis.port.straight_lead.value is True
    assert solis.port.straight_lead.confidence is Confidence.DEDUCED
    assert "CAN only" in solis.port.straight_lead.note


@pytest.mark.parametrize("profile", load_all(), ids=lambda p: p.id)
def test_no_pin_is_deduced_to_be_unconnected(profile: inverters.InverterProfile) -> None:
    assert not [
        p.pin
        for p in profile.port.pins
        if p.function is PinFunction.NC
        and p.confidence is not Confidence.CONFIRMED
        and p.confidence is not Confidence.SINGLE
    ]


def test_a_deduced_nc_pin_is_refused(tmp_path: Path) -> None:
    text = SOLIS.replace(
        'pin = 1\nfunction = "unknown"\nconfidence = "?"\n',
        'pin = 1\nfunction = "NC"\nconfidence = "d"\n',
    )
    assert text != SOLIS
    path = tmp_path / "solis.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataFileError, match='"NC" only where a source says so') as info:
        load_profile_file(path)
    assert info.value.key == "port.pins[0].function"


def test_straight_lead_fact_is_checked_like_any_fact(tmp_path: Path) -> None:
    text = SOLIS.replace("straight_lead.value = true", 'straight_lead.value = "yes"')
    path = tmp_path / "solis.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataFileError, match="expected true or false") as info:
        load_profile_file(path)
    assert info.value.key == "port.straight_lead.value"


def test_inverters_show_gives_the_reason_and_the_quirks_for_the_name(
    run_cli: Callable[..., CliResult],
) -> None:
    deye = run_cli("inverters", "show", "deye")
    assert deye.exit_code == 0
    out = " ".join(deye.stdout.split())
    assert "why: The pins rest on a battery maker's Deye guide" in out
    assert "deye.pin2-ground" not in out and "deye.sol-ark-dlc8" not in out
    sol_ark = run_cli("inverters", "show", "sol-ark")
    assert "deye.pin2-ground" in sol_ark.stdout and "deye.sol-ark-dlc8" in sol_ark.stdout
    assert "deye.pin2-ground" in run_cli("inverters", "show", "sunsynk").stdout
