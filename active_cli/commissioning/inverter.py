"""The inverter: its setting, its start, the evidence that it accepts the battery.

Manual, POWER-ON SEQUENCE: "Then, turn on the inverter. If the battery data
is successfully uploaded to the inverter, it indicates successful
communication between the inverter and the battery." The manufacturer's
service guidance adds that most faults are a communication line, a wrong
inverter setting, or no restart after changing it. So the setting is shown
word for word, a restart is asked for, and "uploaded" is proved from the bus:
the inverter's own heartbeat, steady over a settle window, while the battery's
message set is complete and asks for nothing abnormal.
"""

from __future__ import annotations

import dataclasses

from active_cli.checks import protocol
from active_cli.checks.protocol import run_protocol_check
from active_cli.commissioning import results as codes
from active_cli.commissioning.context import Commissioning
from active_cli.commissioning.power import joined_position
from active_cli.commissioning.results import StepResult, finding
from active_cli.commissioning.session import PackRecord
from active_cli.discovery import ScanOptions, observe_can
from active_cli.inverters import Bus, QuirkTopic
from active_cli.model import CanObservation, Finding, Severity
from active_cli.procedures.packs import wait_for
from active_cli.procedures.scanning import scan_links

# One listening slice while waiting for the inverter: a heartbeat comes about
# once a second, so two and a half seconds hear one even with jitter.
LISTEN_SLICE_S = 2.5


def run_inverter(c: Commissioning) -> StepResult:
    """Show the exact setting, ask for a restart, switch on, wait for the inverter on the bus."""
    profile = c.profile
    setting = profile.protocol.setting.value
    found: list[Finding] = []
    evidence: list[str] = []
    if setting:
        c.session = dataclasses.replace(c.session, inverter_setting=setting)
        evidence.append(f"setting: {setting}")
    else:
        found.append(
            finding(
                Severity.WARN,
                codes.INVERTER_SETTING,
                f"the {profile.name} profile does not know the battery setting (unverified)",
                fix="select the Pylontech (Pylon LV) battery protocol in the inverter's battery "
                "menu, as its manual says",
            )
        )
    for quirk in profile.quirks_for(QuirkTopic.SETUP):
        c.prompter.say(f"  note: {quirk.text}")
    skipped = c.confirm(
        f"Set the inverter's battery protocol: {setting or 'Pylontech / Pylon LV (see its manual)'}"
        ". If you changed it, restart the inverter"
    )
    if skipped is not None:
        return StepResult(tuple(found), tuple(evidence), skipped=skipped)
    # A person confirmed the setting and the restart (the service checklist's
    # 1.5 "Restart"); --yes confirms nothing.
    answers = () if c.options.assume_yes else (("restart_confirmed", "yes"),)
    c.actuator.switch_on_inverter("Turn on the inverter")
    if profile.bus.kind.value is Bus.RS485 or profile.protocol.heartbeat_0x305.value is not True:
        found.append(_cannot_see(c))
        return StepResult(tuple(found), tuple(evidence), answers)
    if c.links.can is None:
        found.append(
            finding(
                Severity.FAIL,
                codes.INVERTER_SILENT,
                "the CAN bus is not connected: the inverter cannot be seen",
                fix="connect the CAN adapter to the inverter side of the bus",
            )
        )
        return StepResult(tuple(found), tuple(evidence), answers)
    bus = c.links.can
    c.fresh_can()
    started = c.clock()
    heard: list[CanObservation] = []

    def heartbeat() -> CanObservation | None:
        observed = observe_can(bus, LISTEN_SLICE_S)
        heard.append(observed)
        return observed if observed.heartbeat_count > 0 else None

    with c.prompter.waiting(
        "waiting for the inverter's heartbeat", c.options.inverter_timeout_s
    ) as display:
        got = wait_for(
            heartbeat,
            c.options.inverter_timeout_s,
            clock=c.clock,
            sleep=c.sleep,
            interval_s=0.0,
            on_tick=display.update,
        )
    waited = c.clock() - started
    frames = sum(o.frame_count for o in heard)
    evidence.append(f"listened {waited:.1f} s on CAN: {frames} frame(s)")
    if got is None:
        battery = any(o.state is not None for o in heard)
        found.append(
            finding(
                Severity.FAIL,
                codes.INVERTER_SILENT,
                f"the inverter sent no heartbeat (0x305) within {waited:.0f} s",
                detail="the battery's frames were on the bus"
                if battery
                else "no battery frames were heard either",
                fix=f"check the inverter's battery setting ({setting or 'Pylon LV CAN'}) and "
                "restart it; check the cable's CAN-H/CAN-L pins at both ends",
            )
        )
        return StepResult(tuple(found), tuple(evidence), answers)
    period = got.heartbeat_period_s
    evidence.append(
        f"heartbeat 0x305 heard after {waited:.1f} s"
        + (f", every {period:.2f} s" if period is not None else "")
    )
    found.append(
        finding(
            Severity.OK,
            codes.INVERTER_SEEN,
            f"the {profile.name} answers on CAN (0x305 heartbeat)",
            evidence=tuple(evidence),
        )
    )
    return StepResult(tuple(found), tuple(evidence), answers)


def _cannot_see(c: Commissioning) -> Finding:
    profile = c.profile
    if profile.bus.kind.value is Bus.RS485:
        why = f"the {profile.name} polls the battery over RS485; this port cannot hear it"
    else:
        why = f"the {profile.name} profile does not say whether it sends a CAN heartbeat"
    return finding(
        Severity.WARN,
        codes.INVERTER_UNVERIFIED,
        f"unverified: {why}",
        fix="check on the inverter's battery page that it shows the battery's voltage and SOC",
    )


def run_acceptance(c: Commissioning) -> StepResult:
    """The settle window: message set, heartbeat, flags, limits; then the inverter's screen."""
    observation: CanObservation | None = None
    if c.links.can is not None:
        c.fresh_can()
        with c.prompter.waiting("listening for the settle window", c.options.settle_s):
            observation = observe_can(c.links.can, c.options.settle_s, full_window=True)
    assessment = run_protocol_check(
        c.profile, observation, None, expected_packs=c.session.site.packs_expected
    )
    # The setting and the profile's notes were shown at the inverter step;
    # here only what the bus showed counts.
    found: list[Finding] = [
        f
        for f in assessment.findings
        if f.code != protocol.SETTING and not f.code.startswith(protocol.QUIRK_PREFIX)
    ]
    evidence: list[str] = []
    state = None if observation is None else observation.state
    if observation is not None:
        evidence.append(
            f"settle window {observation.duration_s:.1f} s: {observation.frame_count} frame(s), "
            f"{observation.heartbeat_count} heartbeat(s)"
        )
    if state is not None:
        c.session = dataclasses.replace(c.session, can_state=state)
    question = "Does the inverter's battery page show the battery's values"
    if state is not None and state.voltage_v is not None and state.soc_pct is not None:
        question += f" (about {state.voltage_v:.1f} V, SOC {state.soc_pct:.0f} %)"
    matches = c.yes_no("acceptance.display_matches", question + "?")
    c.session = dataclasses.replace(c.session, inverter_display_matches=matches)
    if matches is None:
        found.append(
            finding(
                Severity.WARN,
                codes.DISPLAY,
                "unverified: the inverter's battery page was not compared with the battery",
                fix="open the inverter's battery page and compare its voltage and SOC with "
                "what the battery sends",
            )
        )
    elif matches:
        found.append(finding(Severity.OK, codes.DISPLAY, "the inverter shows the battery's values"))
    else:
        found.append(
            finding(
                Severity.FAIL,
                codes.DISPLAY,
                "the inverter shows other values than the battery sends",
                fix="check the inverter's battery setting "
                f"({c.session.inverter_setting or 'Pylon LV'}), restart the inverter, "
                "and check that the cable goes to pack 1 (the master)",
            )
        )
    answers = () if matches is None else (("display_matches", "yes" if matches else "no"),)
    return StepResult(tuple(found), tuple(evidence), answers)


def run_final_snapshot(c: Commissioning) -> StepResult:
    """Every pack's values, cells, temperatures and alarms, and the stack on CAN."""
    c.fresh_counts()
    outcome = scan_links(
        c.links,
        ScanOptions(addresses=c.options.addresses),
        expected_packs=c.session.site.packs_expected,
        can_window_s=2.5,
    )
    snapshot = outcome.snapshot
    records = tuple(
        PackRecord.from_reading(p, position=joined_position(c, p), read_at=c.stamp())
        for p in snapshot.packs
    )
    state = snapshot.can.state if snapshot.can is not None else None
    c.session = dataclasses.replace(
        c.session,
        final_packs=records,
        master_address=snapshot.master_address or c.session.master_address,
        can_state=state or c.session.can_state,
    )
    evidence = tuple(
        f"address {r.address}: {r.voltage_v if r.voltage_v is not None else '?'} V, "
        f"SOC {r.soc_pct if r.soc_pct is not None else '?'} %, alarms "
        f"{', '.join((*r.protections, *r.alarms)) or 'none'}"
        for r in records
    )
    return StepResult(snapshot.findings, evidence)
