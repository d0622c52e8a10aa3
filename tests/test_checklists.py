"""Checklists as data: the service form keeps the manual's numbers and words; bad files fail."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from active_cli.commissioning.checklists import (
    DEFAULT_LABELS,
    Checklist,
    available_checklists,
    load_checklist,
    parse_checklist,
)
from active_cli.errors import EXIT_BAD_DATA, DataFileError

# The form's items as printed in the manual, in its order.
GENERAL = [
    ("1.1", "Settings"),
    ("1.2", "Type of stacks"),
    ("1.3", "External Connections"),
    ("1.4", "Latest Firmware"),
    ("1.5", "Restart"),
    ("1.6", "Correct operation"),
]
ERROR_RELATED = [
    ("2.1", "Event Code"),
    ("2.2", "System cannot be turned on"),
    ("2.3", "Automatic tripping after a period of operation"),
    ("2.4", "Wi-Fi Issues"),
    ("2.5", "Firmware Update Issue"),
    ("2.6", "Changes in SOC"),
    ("2.7", "Active Link"),
    ("2.8", "Stack Exclusion Method"),
    ("2.9", "Voltage Measurement"),
    ("2.10", "Undervoltage"),
    ("2.11", "BMS/Stack Replacement"),
]
SERVICE_FIELDS = [
    "Service Ticket Number or System ID",
    "Company",
    "Contact Person",
    "Street / No.",
    "ZIP / City",
    "Phone",
    "Email",
    "Configuration",
    "BMS Serial Number",
    "BMS Firmware",
    "BMS Connected to Internet",
    "Inverter Serial Number",
    "Inverter Firmware",
    "System Name on Inverter Portal",
    "Commissioning Date",
    "BMS Event Code",
    "Inverter Error Code",
]
STEP_IDS = [
    "site",
    "sizing",
    "before-linking",
    "wiring",
    "power-on-batteries",
    "address-plan",
    "inverter",
    "acceptance",
    "final-snapshot",
]


def test_service_checklist_keeps_the_manuals_numbers_and_words() -> None:
    checklist = load_checklist("service")
    assert checklist.lang == "en" and checklist.name == "service"

    def pairs(section: str) -> list[tuple[str, str]]:
        return [(i.id, i.label) for i in checklist.section(section).items]

    assert pairs("1") == GENERAL
    assert pairs("2") == ERROR_RELATED
    labels = [i.label for i in checklist.section("3").items]
    assert labels[: len(SERVICE_FIELDS)] == SERVICE_FIELDS
    serial = next(i for i in checklist.section("3").items if i.id == "bms_serial")
    assert serial.mandatory and serial.fills == "bms-serials"
    assert "does not replace the official service manual" in checklist.note
    assert [i.id for i in checklist.section("common-issues").items] == [str(n) for n in range(1, 9)]


def test_german_translation_has_the_same_structure() -> None:
    en = load_checklist("service")
    de = load_checklist("service", lang="de")
    assert de.lang == "de"

    def shape(c: Checklist) -> list[object]:
        return [
            (s.id, s.kind, [(i.id, i.kind, i.fills, i.mandatory, i.matches) for i in s.items])
            for s in c.sections
        ]

    assert shape(de) == shape(en)
    assert [i.label for i in de.items()] != [i.label for i in en.items()]
    # The translation names every fixed word of the ticket, or some would print in English.
    with open(de.source, "rb") as handle:
        assert set(tomllib.load(handle)["labels"]) == set(DEFAULT_LABELS)
    assert de.label("page") == "Seite" and en.label("page") == "Page"
    assert available_checklists()["service"] == ("en", "de")


def test_commissioning_checklist_is_the_nine_steps() -> None:
    checklist = load_checklist("commissioning")
    (section,) = checklist.sections
    assert section.kind == "steps"
    assert [i.id for i in section.items] == STEP_IDS
    assert all(i.label and i.manual and i.instruction for i in section.items)


def test_a_checklist_by_path(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(
        'schema = 1\ntitle = "Mine"\n[[section]]\nid = "a"\ntitle = "A"\nkind = "fields"\n'
        'items = [{ id = "x", label = "Company", fills = "site.installer.company" }]\n',
        encoding="utf-8",
    )
    checklist = load_checklist(path)
    assert checklist.name == "mine" and checklist.source == str(path)
    assert checklist.items()[0].kind == "field"  # the default in a fields section
    assert load_checklist(str(path)).items() == checklist.items()


HEADER = 'schema = 1\ntitle = "T"\n[[section]]\nid = "1"\ntitle = "S"\nkind = "checkbox"\n'


@pytest.mark.parametrize(
    ("text", "line", "expected"),
    [
        (
            HEADER + 'items = [{ id = "1.1", label = "A", fils = "acceptance" }]\n',
            7,
            "did you mean 'fills'",
        ),
        (
            HEADER + 'items = [{ id = "1.1", label = "A", fills = "acceptanse" }]\n',
            7,
            "neither a session field",
        ),
        (
            HEADER + 'items = [{ id = "1.1", label = "A", fills = "site.installer.fax" }]\n',
            7,
            "no field 'fax'",
        ),
        (
            HEADER + 'items = [{ id = "1.1", label = "A", fills = "site.installer" }]\n',
            7,
            "not a single value",
        ),
        (
            HEADER + 'items = [{ id = "1.1", label = "A" }, { id = "1.1", label = "B" }]\n',
            7,
            "appears twice",
        ),
        (HEADER + 'items = [{ id = "1.1", label = "A", kind = "tickbox" }]\n', 7, "is not one of"),
        (
            HEADER.replace('"checkbox"', '"boxes"') + 'items = [{ id = "1", label = "A" }]\n',
            6,
            "is not one of",
        ),
        (HEADER + "items = []\n", 7, "at least one item"),
        ('schema = 2\ntitle = "T"\n', 1, "schema"),
        ('schema = 1\ntitle = "T"\n', None, "at least one [[section]]"),
        ('schema = 1\ntitle = "T"\nlang = "German"\n[[section]]\n', 3, "not a language code"),
        ('schema = 1\ntitle = "T"\n[labels]\npgae = "x"\n', 4, "did you mean 'page'"),
        ('schema = 1\ntitle = "T"\n[[section]\n', 3, "TOML syntax error"),
        (
            'schema = 1\ntitle = "T"\n[[section]]\nid = "c"\ntitle = "C"\nkind = "issues"\n'
            'items = [{ id = "1", label = "No DC Output" }]\n',
            7,
            "needs cause and solution",
        ),
    ],
)
def test_bad_checklists_name_file_line_and_reason(
    text: str, line: int | None, expected: str
) -> None:
    with pytest.raises(DataFileError) as caught:
        parse_checklist(text, source="bad.toml")
    error = caught.value
    assert error.exit_code == EXIT_BAD_DATA
    assert expected in error.message
    assert error.message.startswith("bad.toml")
    assert error.line == line


@pytest.mark.parametrize(
    ("name", "lang", "expected"),
    [
        ("servise", None, "no built-in checklist"),
        ("service", "fr", "no 'fr' translation"),
        ("service", "../x", "not a language code"),
    ],
)
def test_unknown_names_and_languages(name: str, lang: str | None, expected: str) -> None:
    with pytest.raises(DataFileError, match=expected):
        load_checklist(name, lang=lang)


def test_a_path_in_another_language_than_asked(tmp_path: Path) -> None:
    with pytest.raises(DataFileError, match="not the 'fr'"):
        load_checklist(Path(load_checklist("service", lang="de").source), lang="fr")
    with pytest.raises(DataFileError, match="cannot be read"):
        load_checklist(tmp_path / "absent.toml")
