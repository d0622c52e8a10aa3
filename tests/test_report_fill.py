"""What the ticket says about each checklist item: ticked from evidence, flagged, or left blank."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from active_cli.commissioning.checklists import FILL_RULES, load_checklist
from active_cli.commissioning.session import Session, StepStatus, new_session
from active_cli.model import Finding, Severity
from active_cli.report.fill import RULES
from active_cli.report.render import render_html
from active_cli.report.view import ItemView, Ticket, build_ticket
from tests.session_samples import START, STEPS, sample_session

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _ticket(session: Session, lang: str | None = None) -> Ticket:
    return build_ticket(
        session, load_checklist("service", lang=lang), session_sha256="0" * 64, generated_at=NOW
    )


def _items(ticket: Ticket) -> dict[str, ItemView]:
    return {item.id: item for section in ticket.sections for item in section.items}


def test_every_rule_a_checklist_may_name_is_implemented() -> None:
    assert set(FILL_RULES) == set(RULES)


def test_healthy_run_ticks_what_was_proven_and_nothing_else() -> None:
    items = _items(_ticket(sample_session("healthy-4")))
    ticked = {i for i, item in items.items() if item.mark == "done"}
    assert {"1.1", "1.2", "1.3", "1.5", "1.6", "2.1", "2.2", "2.9"} <= ticked
    # Not knowable from the bus, or not what the tool did: left for the installer.
    for item_id in ("1.4", "2.3", "2.4", "2.5", "2.7", "2.11", "active_link_data", "pictures"):
        assert items[item_id].mark in ("info", "blank"), item_id
    assert items["1.2"].value == "4 × Active16 in parallel, master at address 1"
    assert items["bms_firmware"].value == "V1.3.0 (all 4 packs)"
    assert items["inverter_error_code"].value is None  # never read, never invented
    assert items["working_before"].answer is None
    assert items["bms_serial"].value is not None and "ACT" in items["bms_serial"].value


def test_an_empty_record_fills_only_what_was_typed() -> None:
    session = new_session(sample_session("healthy-1").site, STEPS, sim_scenario=None, now=START)
    items = _items(_ticket(session))
    for item_id in ("1.1", "1.3", "1.4", "1.5", "1.6", "2.1", "2.2", "2.9", "2.10"):
        assert items[item_id].mark == "blank" and not items[item_id].evidence, item_id
    assert items["bms_serial"].value is None and items["bms_serial"].missing_mandatory
    assert items["company"].value == "Müller & Söhne <Solar> GmbH"
    html = render_html(_ticket(session))
    assert 'class="value missing"' in html


def test_a_failed_before_linking_step_flags_voltage_measurement() -> None:
    session = sample_session("mismatch")
    spread = Finding(
        Severity.FAIL,
        "parallel.spread",
        "Pack 3 is 1.05 V below pack 1",
        fix="charge pack 3 on its own before linking",
    )
    step = replace(session.step("before-linking"), status=StepStatus.FAIL, findings=(spread,))
    items = _items(_ticket(session.with_step(step)))
    assert items["2.9"].mark == "problem"
    assert "Pack 3 is 1.05 V below pack 1" in items["2.9"].evidence
    problem = items["problem"].value
    assert problem is not None and "Pack 3 is 1.05 V below pack 1" in problem


def test_mixed_firmware_is_flagged() -> None:
    session = sample_session("mixed-firmware")
    items = _items(_ticket(session))
    assert items["1.4"].mark == "problem"
    assert items["bms_firmware"].value is not None and "(mixed)" in items["bms_firmware"].value


def test_alarms_not_read_are_not_reported_as_none() -> None:
    session = sample_session("healthy-4")
    unread = tuple(replace(p, alarms_read=False) for p in session.final_packs)
    items = _items(_ticket(replace(session, final_packs=unread)))
    assert items["2.1"].mark == "blank" and items["bms_event_code"].value is None


def test_alarm_and_finding_get_the_manuals_common_issue_row() -> None:
    session = sample_session(
        "healthy-4",
        finding=Finding(
            Severity.WARN, "pack.dead-sensor", "Pack 2: temperature sensor T3 reads -40 °C"
        ),
    )
    packs = list(session.final_packs)
    packs[1] = replace(packs[1], alarms=("cell under-voltage",))
    ticket = _ticket(replace(session, final_packs=tuple(packs)))
    items = _items(ticket)
    assert items["2.1"].mark == "problem" and items["2.10"].mark == "problem"
    html = render_html(ticket)
    assert "Damage to Temperature-Sensing Crystal Head" in html  # row 5, beside the finding
    assert "Startup after Charging Activation" in html  # row 1, beside the pack's alarm
    assert "MOS tube damaged" not in html  # a row nothing matched stays out


def test_yes_no_from_the_record() -> None:
    session = sample_session("healthy-1")
    session = replace(session, site=replace(session.site, bms_internet=False))
    items = _items(_ticket(session))
    assert items["bms_internet"].answer is False


def test_german_ticket_same_items_german_words() -> None:
    ticket = _ticket(sample_session("healthy-4"), lang="de")
    assert ticket.lang == "de"
    html = render_html(ticket)
    assert 'lang="de"' in html and "Allgemeine Schritte" in html and "Daten der Batterie" in html
    assert "Seite" in html  # the page counter's word, in the print CSS
    assert [i for i in _items(ticket)] == [i for i in _items(_ticket(sample_session("healthy-4")))]


def test_a_recorded_stopped_run() -> None:
    from pathlib import Path

    from active_cli.commissioning.session import load_session

    # Written by `active commission --inverter deye --sim mismatch --yes`: stops before linking.
    session = load_session(Path(__file__).parent / "fixtures" / "sessions" / "mismatch-deye.json")
    assert session.outcome.value == "stopped"
    ticket = _ticket(session)
    items = _items(ticket)
    assert items["2.9"].mark == "problem" and items["2.6"].mark == "problem"
    assert any("52.00 V" in line for line in items["2.9"].evidence)
    for item_id in ("1.1", "1.3", "1.5", "1.6", "2.2"):
        assert items[item_id].mark == "blank", item_id  # never reached: nothing to tick
    problem = items["problem"].value
    assert problem is not None and "Voltage spread 1.053 V" in problem
    statuses = {s.id: s.status for s in ticket.steps}
    assert statuses["before-linking"] == "fail" and statuses["final-snapshot"] == "pending"
    html = render_html(ticket)
    assert 'class="st status-fail">FAIL<' in html and 'class="st status-pending">PENDING<' in html
