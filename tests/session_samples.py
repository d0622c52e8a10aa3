"""Complete session records built from the simulator's packs, for the record and report tests.

Not a test module (no ``test_`` prefix): the session, checklist and report
tests import `sample_session` so they all exercise the same full record.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from active_cli.commissioning.session import (
    Installer,
    Outcome,
    PackJoin,
    PackRecord,
    Session,
    SiteInfo,
    StepRecord,
    StepStatus,
    iso_utc,
    new_session,
)
from active_cli.model import Finding, Severity
from active_cli.sim.scenario import load_scenario
from active_cli.sim.stack import SimStack

STEPS = (
    ("site", "Site and installer"),
    ("sizing", "Size the stack for the inverter"),
    ("before-linking", "Check every pack's voltage before linking"),
    ("wiring", "Wire the battery's COM port to the inverter's BMS port"),
    ("power-on-batteries", "Start each battery one by one"),
    ("address-plan", "Confirm every pack answers at its own address"),
    ("inverter", "Set the inverter, restart it and turn it on"),
    ("acceptance", "Check that battery data reaches the inverter"),
    ("final-snapshot", "Record every pack's values"),
)
START = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
HOSTILE = "<script>alert('x')</script> \"q\" {{ 7*7 }} \x1b[2J"


def t(seconds: float) -> str:
    return iso_utc(START + timedelta(seconds=seconds))


def sample_session(
    scenario: str = "healthy-4",
    *,
    hostile: bool = False,
    finding: Finding | None = None,
) -> Session:
    """A completed commissioning of `scenario` with deye, every step OK and evidence recorded.

    ``hostile`` puts markup, template syntax and terminal escapes into the
    installer fields and one pack's serial and manufacturer; ``finding`` adds
    that finding to the acceptance step.
    """
    stack = SimStack.from_scenario(load_scenario(scenario))
    # Over RS485 the alarms (0x44) are read too; the model's direct readings skip that.
    readings = tuple(replace(r, alarm_read=True) for r in stack.readings())
    if hostile:
        readings = (
            replace(readings[0], serial="SN" + HOSTILE, manufacturer="Müller & Söhne" + HOSTILE),
            *readings[1:],
        )
    company = "Müller & Söhne <Solar> GmbH" if not hostile else "Müller & Söhne " + HOSTILE
    site = SiteInfo(
        installer=Installer(
            name="Zoë Kowalczyk", company=company, phone="+48 42 123 45 67", email="zk@example.pl"
        ),
        ticket="SYS-2026-0042",
        street="ul. Piotrkowska 104",
        zip_city="90-926 Łódź",
        portal_name="Ελλάδα PV 1",
        inverter_profile="deye",
        inverter_name="Deye SUN-*-SG hybrid",
        inverter_serial="2306123456",
        inverter_firmware="MCU 1.53 / COMM 2.10",
        inverter_power_w=8000.0,
        packs_expected=len(readings),
        bms_internet=None,
    )
    session = new_session(site, STEPS, sim_scenario=scenario, now=START)
    before = tuple(
        PackRecord.from_reading(r, position=i + 1, read_at=t(10 + i))
        for i, r in enumerate(readings)
    )
    joins = tuple(
        PackJoin(
            position=i + 1,
            address=r.address,
            serial=r.serial,
            firmware=r.firmware,
            voltage_v=r.voltage_v,
            joined_at=t(120 + 5 * i),
            waited_s=4.5,
        )
        for i, r in enumerate(readings)
    )
    final = tuple(
        PackRecord.from_reading(r, position=i + 1, read_at=t(400)) for i, r in enumerate(readings)
    )
    ok = Finding(
        Severity.OK,
        "protocol.heartbeat",
        "Inverter heartbeat steady",
        evidence=("0x305 every 1.0 s",),
    )
    evidence = {
        "site": ("deye profile", f"{len(readings)} packs expected"),
        "sizing": ("8000 W inverter: both terminal holes", "packs needed: 2"),
        "before-linking": ("voltage spread 0.04 V", "SOC spread 2 %"),
        "wiring": ("straight RJ45 lead, battery CAN H pin 4 / CAN L pin 5",),
        "power-on-batteries": tuple(
            f"pack {j.position} joined at address {j.address}" for j in joins
        ),
        "address-plan": (f"{len(readings)} packs at addresses 1-{len(readings)}, master at 1",),
        "inverter": ("Batt Mode = Lithium, Lithium Mode = 00", "restart confirmed"),
        "acceptance": (
            "0x351 0x355 0x356 0x359 0x35C 0x35E complete at 1 s",
            "0x305 heartbeat steady for 30 s",
        ),
        "final-snapshot": (f"{len(readings)} packs read",),
    }
    for n, (step_id, title) in enumerate(STEPS):
        findings: tuple[Finding, ...] = (ok,) if step_id == "acceptance" else ()
        if step_id == "acceptance" and finding is not None:
            findings = (*findings, finding)
        status = StepStatus.OK
        if finding is not None and step_id == "acceptance":
            status = {Severity.FAIL: StepStatus.FAIL, Severity.WARN: StepStatus.WARN}.get(
                finding.severity, StepStatus.OK
            )
        session = session.with_step(
            StepRecord(
                id=step_id,
                title=title,
                status=status,
                started_at=t(60 * n),
                ended_at=t(60 * n + 50),
                instruction=f"Do {title.lower()}.",
                findings=findings,
                evidence=evidence[step_id],
                answers=(("restart_done", "yes"),) if step_id == "inverter" else (),
            )
        )
    return replace(
        session,
        updated_at=t(600),
        outcome=Outcome.COMPLETED,
        before_linking=before,
        joins=joins,
        final_packs=final,
        master_address=readings[0].address,
        can_state=stack.can_state(),
        inverter_setting="Batt Mode = Lithium, Lithium Mode = 00",
        inverter_display_matches=True,
        captures=("capture-can.log",),
    )
