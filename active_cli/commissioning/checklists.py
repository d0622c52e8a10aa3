"""Checklists as data: the manufacturer's service form and the commissioning steps, from TOML.

A checklist file (``checklists/*.toml``, or any path) has a title, the form's
note, and sections of items. Each item keeps the form's own number and words
and may name what fills it (``fills``): a session field path
(``site.installer.company``) or one of the rules in `FILL_RULES`
(``stack-type`` -> "4 x Active16 in parallel, master at address 1"). The
report renders any checklist the same way, so a new form or a translation
(``service.de.toml``, chosen with ``lang="de"``) needs no code; the fixed words
of the ticket (table headings, "evidence", "page") come from the file's
``[labels]`` table, English where it gives none.

A mistake in a file (unknown key, unknown ``fills``, a duplicate id) is a
`DataFileError` naming the file, line and key (exit 4).
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from active_cli.commissioning.session import Session
from active_cli.datafile import DataDocument, DataTable
from active_cli.errors import DataFileError
from active_cli.resources import data_dir

CHECKLIST_SCHEMA = 1
ITEM_KINDS: Final = ("checkbox", "field", "yes_no", "text")
SECTION_KINDS: Final = ("checkbox", "fields", "steps", "issues")

# The rules a checklist item may name in `fills` besides a session field path.
# report/fill.py implements each one; a test keeps the two lists equal.
FILL_RULES: Final[dict[str, str]] = {
    "inverter-setting": "the inverter setting chosen, and the inverter step's result",
    "stack-type": "pack count, model, parallel, master address",
    "wiring": "the wiring step's result and the cable used",
    "firmware-inventory": "firmware of every pack; a mixed stack is flagged",
    "restart": "the installer's answer that the inverter was restarted after the setting",
    "acceptance": "the acceptance step: message set, heartbeat, display comparison",
    "event-codes": "alarms and protections of every pack and of the CAN stack state, in words",
    "power-on": "the pack join log: every pack switched on and seen on the bus",
    "soc": "SOC of every pack and the spread",
    "pack-data": "the pack table: every pack's values read over RS485",
    "one-by-one": "every pack read on its own before linking",
    "before-linking-voltages": "every pack's voltage before linking, and the spread",
    "undervoltage": "lowest cell and pack voltages; under-voltage alarms flagged",
    "configuration": "stack, inverter profile and setting, inverter power",
    "bms-serials": "every pack's serial, master first",
    "bms-firmware": "firmware of every pack (one value, or the mix)",
    "commissioning-date": "the date the session started",
    "photos": "photos attached to the ticket",
    "problems": "every failed or warned finding, in short",
    "additional": "where the module voltages, cells and evidence are in the ticket",
}

# The fixed words of a rendered ticket; a checklist's [labels] overrides any of them.
DEFAULT_LABELS: Final[dict[str, str]] = {
    "ticket": "Ticket",
    "generated": "Generated",
    "tool": "Tool",
    "session_sha256": "Session SHA-256",
    "page": "Page",
    "of": "of",
    "simulated": "SIMULATED: made with the built-in simulator, not measured on a real battery",
    "evidence": "Evidence",
    "not_recorded": "not recorded: fill in by hand",
    "yes": "Yes",
    "no": "No",
    "mandatory": "mandatory",
    "packs": "Data of the battery",
    "packs_final": "read at the end of commissioning",
    "packs_before": "read before linking (the run ended before the final snapshot)",
    "position": "Pos.",
    "address": "Addr.",
    "serial": "Serial",
    "model": "Model",
    "firmware": "Firmware",
    "voltage": "V",
    "current": "A",
    "soc": "SOC %",
    "soh": "SOH %",
    "cycles": "Cycles",
    "cell_min_max": "Cell min / max V",
    "temperatures": "Temp. °C",
    "alarms": "Alarms",
    "cells": "Cell voltages",
    "stack": "Stack on CAN",
    "steps": "Commissioning steps",
    "step": "Step",
    "result": "Result",
    "joins": "Pack join log",
    "joined_at": "Joined (UTC)",
    "waited": "Waited s",
    "inverter_setting": "Inverter setting",
    "acceptance": "Acceptance",
    "display_matches": "Inverter display matches the battery",
    "common_issue": "Manual, common issues",
    "cause": "Cause",
    "solution": "Solution",
    "findings": "Findings",
    "photos": "Photos",
    "outcome": "Outcome",
    "skipped": "skipped",
    "note": "Note",
    "none": "none",
}


@dataclass(frozen=True)
class ChecklistItem:
    """One line of a form: the manual's number and words, and what fills it, if anything.

    ``cause``, ``solution`` and ``matches`` are for items of an "issues"
    section (the manual's COMMON ISSUES table): ``matches`` lists finding codes
    (``pack.dead-sensor``, globs allowed, ``code:WORD`` to need a word in the
    finding) and ``alarm:WORDS`` for a pack alarm or protection text.
    """

    id: str
    label: str
    kind: str = "checkbox"  # checkbox | field | yes_no | text
    mandatory: bool = False
    fills: str | None = None
    manual: str | None = None
    instruction: str = ""
    group: str | None = None  # the form's sub-heading the item sits under
    cause: str | None = None
    solution: str | None = None
    matches: tuple[str, ...] = ()


@dataclass(frozen=True)
class ChecklistSection:
    id: str
    title: str
    kind: str  # checkbox | fields | steps | issues
    items: tuple[ChecklistItem, ...]
    intro: str = ""  # the form's instruction under the heading


@dataclass(frozen=True)
class Checklist:
    name: str
    lang: str
    title: str
    note: str
    sections: tuple[ChecklistSection, ...]
    source: str
    closing: str = ""  # the form's last sentence, printed at its end
    labels: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_LABELS))

    def section(self, section_id: str) -> ChecklistSection:
        for section in self.sections:
            if section.id == section_id:
                return section
        raise KeyError(f"no section {section_id!r} in checklist {self.name!r}")

    def items(self) -> tuple[ChecklistItem, ...]:
        return tuple(item for section in self.sections for item in section.items)

    def label(self, key: str) -> str:
        return self.labels.get(key, DEFAULT_LABELS.get(key, key))


_LANG = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")


def available_checklists() -> dict[str, tuple[str, ...]]:
    """Built-in checklist names and the languages each comes in ("en" = the plain file)."""
    out: dict[str, list[str]] = {}
    for path in sorted(data_dir("checklists").glob("*.toml")):
        name, _, lang = path.stem.partition(".")
        out.setdefault(name, []).append(lang or "en")
    # English (the plain file) first, the translations after it.
    return {name: tuple(sorted(langs, key=lambda x: (x != "en", x))) for name, langs in out.items()}


def _resolve(name_or_path: str | Path, lang: str | None) -> Path:
    text = str(name_or_path)
    if isinstance(name_or_path, Path) or "/" in text or "\\" in text or text.endswith(".toml"):
        return Path(name_or_path)
    if lang is not None and not _LANG.match(lang):
        raise DataFileError(text, f"{lang!r} is not a language code (like 'en' or 'de')")
    available = available_checklists()
    if text not in available:
        known = ", ".join(sorted(available))
        raise DataFileError(text, f"no built-in checklist {text!r}", hint=f"built in: {known}")
    wanted = lang or "en"
    if wanted not in available[text]:
        langs = ", ".join(available[text])
        raise DataFileError(
            text,
            f"checklist {text!r} has no {wanted!r} translation",
            hint=f"languages: {langs}; or pass the path of a translated file",
        )
    filename = f"{text}.toml" if wanted == "en" else f"{text}.{wanted}.toml"
    return data_dir("checklists") / filename


def load_checklist(name_or_path: str | Path, *, lang: str | None = None) -> Checklist:
    """A built-in checklist by name (in `lang`, default English), or any checklist file by path.

    With a path, the file's own ``lang`` counts and `lang` must agree with it
    when given.
    """
    path = _resolve(name_or_path, lang)
    document = DataDocument.read(path, what="checklist")
    checklist = _parse(document, name=path.stem.partition(".")[0])
    if lang is not None and checklist.lang != lang:
        raise document.error(
            "lang", f"the checklist is in {checklist.lang!r}, not the {lang!r} asked for"
        )
    return checklist


def parse_checklist(text: str, *, source: str = "<checklist>", name: str = "") -> Checklist:
    return _parse(DataDocument.parse(text, source=source, what="checklist"), name=name)


def _parse(document: DataDocument, *, name: str) -> Checklist:
    root = document.root
    root.check_keys(("schema", "lang", "title", "note", "closing", "labels", "section"))
    root.get_int("schema", min=CHECKLIST_SCHEMA, max=CHECKLIST_SCHEMA)
    lang = root.get_str("lang", "en")
    if not _LANG.match(lang):
        raise root.error("lang", f"{lang!r} is not a language code (like 'en' or 'de')")
    labels_table = root.get_table("labels")
    labels_table.check_keys(tuple(DEFAULT_LABELS))
    labels = dict(DEFAULT_LABELS)
    given = labels_table.keys()  # a DataTable is not iterable itself
    for key in given:
        labels[key] = labels_table.get_str(key, min_len=1)
    sections: list[ChecklistSection] = []
    seen_items: set[str] = set()
    seen_sections: set[str] = set()
    tables = root.get_tables("section")
    if not tables:
        raise root.error("section", "a checklist needs at least one [[section]]")
    for table in tables:
        section = _section(table, seen_items)
        if section.id in seen_sections:
            raise table.error("id", f"section id {section.id!r} appears twice")
        seen_sections.add(section.id)
        sections.append(section)
    return Checklist(
        name=name,
        lang=lang,
        title=root.get_str("title", min_len=1),
        note=root.get_str("note", ""),
        sections=tuple(sections),
        source=document.source,
        closing=root.get_str("closing", ""),
        labels=labels,
    )


_ITEM_KEYS = (
    "id",
    "label",
    "kind",
    "mandatory",
    "fills",
    "manual",
    "instruction",
    "group",
    "cause",
    "solution",
    "matches",
)


def _section(table: DataTable, seen_items: set[str]) -> ChecklistSection:
    table.check_keys(("id", "title", "kind", "intro", "items"))
    kind = table.get_str("kind", choices=SECTION_KINDS)
    default_item_kind = "field" if kind == "fields" else "checkbox"
    items: list[ChecklistItem] = []
    for item_table in table.get_tables("items"):
        item_table.check_keys(_ITEM_KEYS)
        item = ChecklistItem(
            id=item_table.get_str("id", min_len=1),
            label=item_table.get_str("label", min_len=1),
            kind=item_table.get_str("kind", default_item_kind, choices=ITEM_KINDS),
            mandatory=item_table.get_bool("mandatory", False),
            fills=item_table.opt_str("fills", min_len=1),
            manual=item_table.opt_str("manual", min_len=1),
            instruction=item_table.get_str("instruction", ""),
            group=item_table.opt_str("group", min_len=1),
            cause=item_table.opt_str("cause", min_len=1),
            solution=item_table.opt_str("solution", min_len=1),
            matches=item_table.get_str_list("matches"),
        )
        if item.id in seen_items:
            raise item_table.error("id", f"item id {item.id!r} appears twice in the checklist")
        seen_items.add(item.id)
        if item.fills is not None:
            _check_fills(item_table, item.fills)
        if kind == "issues" and not (item.cause and item.solution):
            raise item_table.error("", "an item of an 'issues' section needs cause and solution")
        items.append(item)
    if not items:
        raise table.error("items", "a section needs at least one item")
    return ChecklistSection(
        id=table.get_str("id", min_len=1),
        title=table.get_str("title", min_len=1),
        kind=kind,
        items=tuple(items),
        intro=table.get_str("intro", ""),
    )


def _check_fills(table: DataTable, fills: str) -> None:
    if fills in FILL_RULES:
        return
    if "." in fills or fills in _SESSION_FIELDS:
        reason = session_field_problem(fills)
        if reason is None:
            return
        raise table.error("fills", reason)
    rules = ", ".join(FILL_RULES)
    raise table.error(
        "fills",
        f"{fills!r} is neither a session field nor a known rule",
        hint=f"rules: {rules}; or a session field such as site.installer.company",
    )


_SESSION_FIELDS = frozenset(f.name for f in dataclasses.fields(Session))


def session_field_problem(dotted: str) -> str | None:
    """Why `dotted` is not a path to a single value of the session, or None when it is."""
    tp: object = Session
    walked: list[str] = []
    for part in dotted.split("."):
        tp = _strip_optional(tp)
        if not (isinstance(tp, type) and dataclasses.is_dataclass(tp)):
            return f"session field {'.'.join(walked)!r} has no parts ({dotted!r})"
        hints = typing.get_type_hints(tp)
        if part not in hints:
            known = ", ".join(f.name for f in dataclasses.fields(tp))
            where = ".".join(walked) or "the session"
            return f"{dotted!r}: {where} has no field {part!r} (fields: {known})"
        walked.append(part)
        tp = hints[part]
    tp = _strip_optional(tp)
    if tp not in (str, int, float, bool):
        return f"session field {dotted!r} is not a single value"
    return None


def _strip_optional(tp: object) -> object:
    origin = typing.get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:
        options = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(options) == 1:
            return options[0]
    return tp
