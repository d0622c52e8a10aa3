"""Is the battery speaking what the inverter expects, and is the inverter answering?

Pure rules over what was observed on the bus (a `CanObservation`, from a live
bus, the simulator or a capture) and, for RS485 profiles, whether the master
answered a poll at the profile's baud. Every finding carries the frames and
values it rests on. Facts the profile marks below two sources are shown as
"unverified" rather than judged. The battery's side (`battery_findings`) and
the heartbeat's timing (`judge_heartbeat`) are shared with `active scan`, so
one observation gets one verdict from both commands.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import Final, Literal

from active_cli import spec
from active_cli.checks.verdict import Verdict, sort_findings, summarize
from active_cli.inverter_profile import Bus, Confidence, InverterProfile, QuirkTopic
from active_cli.model import CanObservation, CanStackState, Finding, RequestFlags, Severity
from active_cli.protocols import can_ids

# Finding codes. `check protocol`'s own (import these, never spell the string):
HEARTBEAT: Final = "protocol.heartbeat"
NO_CAN: Final = "protocol.no-can"
RS485_ANSWERS: Final = "protocol.rs485-answers"
RS485_NOT_POLLED: Final = "protocol.rs485-not-polled"
SETTING: Final = "protocol.setting"
QUIRK_PREFIX: Final = "protocol.quirk."  # + the quirk's code from the profile
# The shared battery rules' codes are AREA.SUFFIX (`area_code`), AREA "protocol" or "can".
ALARM: Final = "alarm"
CHARGE_VOLTAGE: Final = "charge-voltage"
CYCLE: Final = "cycle"
DECODE_ERRORS: Final = "decode-errors"
DISCHARGE_VOLTAGE: Final = "discharge-voltage"
ENABLES: Final = "enables"
FORCE_CHARGE: Final = "force-charge"
LIMITS_MISSING: Final = "limits-missing"
MESSAGE_SET: Final = "message-set"
MODULE_COUNT: Final = "module-count"
NO_BATTERY_FRAMES: Final = "no-battery-frames"
PROTECTION: Final = "protection"
VOLTAGE_SCALE: Final = "voltage-scale"
CURRENT: Final = "current"  # "charge-current" / "discharge-current"
CURRENT_INVERTER: Final = "current-inverter"


def area_code(area: Area, suffix: str) -> str:
    """``area_code("can", NO_BATTERY_FRAMES)`` -> ``"can.no-battery-frames"``."""
    return f"{area}.{suffix}"


FAIL, WARN, INFO, OK = Severity.FAIL, Severity.WARN, Severity.INFO, Severity.OK

# The messages every Pylon LV CAN inverter reads (reference §2.2/§2.3).
CORE_IDS = frozenset({0x351, 0x355, 0x356, 0x35E})
# Cycle: the battery sends its set about once a second (reference §2.1). Slower
# than this and inverters start dropping the link.
CYCLE_OK_S = (0.5, 2.0)
CYCLE_FAIL_S = 3.0
HEARTBEAT_OK_S = (0.5, 3.0)
# How long without a 0x305 counts as "the inverter is gone": a heuristic of a
# public BMS-to-inverter project, not a spec value (docs/checks.md).
HEARTBEAT_LOST_S = 5.0

# The code prefix of the shared battery rules: `check protocol` or `scan`.
Area = Literal["protocol", "can"]


@dataclass(frozen=True)
class Rs485Probe:
    """Whether the master answered a poll at the profile's baud (RS485 profiles)."""

    baud: int
    answered: bool
    detail: str = ""


def _unverified(confidence: Confidence) -> str:
    return (
        ""
        if confidence.verified
        else f" (unverified {confidence.marker}: confirm in the inverter's manual)"
    )


def protocol_findings(
    profile: InverterProfile,
    can: CanObservation | None,
    rs485: Rs485Probe | None = None,
    *,
    expected_packs: int | None = None,
) -> list[Finding]:
    out: list[Finding] = [_setting_finding(profile)]
    bus = profile.bus.kind.value
    if bus is Bus.RS485:
        out += _rs485_findings(profile, rs485)
    if can is None:
        if bus is not Bus.RS485:
            out.append(
                Finding(
                    FAIL,
                    NO_CAN,
                    f"{profile.name} talks CAN but the CAN bus was not read",
                    fix="connect a CAN adapter to the CAN lines of the battery's COM port "
                    "and listen",
                )
            )
        return out
    out += battery_findings(can, profile=profile, expected_packs=expected_packs)
    out += _heartbeat_findings(profile, can)
    for quirk in profile.quirks_for(QuirkTopic.PROTOCOL, QuirkTopic.SETUP):
        out.append(
            Finding(
                quirk.severity,
                f"{QUIRK_PREFIX}{quirk.code}",
                quirk.text + _unverified(quirk.confidence),
                fix=quirk.fix,
            )
        )
    return out


def battery_findings(
    can: CanObservation,
    *,
    area: Area = "protocol",
    profile: InverterProfile | None = None,
    expected_packs: int | None = None,
) -> list[Finding]:
    """What the battery says on CAN: message set, cycle, limits, flags, module count.

    One set of rules for `check protocol` and `active scan` (codes ``protocol.*``
    and ``can.*``: `area` is the prefix), so the same observation gets the same
    verdict from both. With a `profile`, the limits are also compared with what
    that inverter takes; `expected_packs` is compared with the master's module count.
    """
    out = _message_set_findings(can, area)
    state = can.state
    if state is None:
        return out
    out += _limit_findings(state, area, profile)
    out += _flag_findings(state, area)
    out += _module_count_findings(state, area, expected_packs)
    return out


def _setting_finding(profile: InverterProfile) -> Finding:
    setting = profile.protocol.setting
    if setting.value is None:
        return Finding(
            WARN,
            SETTING,
            f"The {profile.name} battery setting for Pylon LV CAN is not known",
            setting.note,
            fix="look up the lithium / Pylon battery setting in the inverter's manual",
        )
    return Finding(
        INFO,
        SETTING,
        f"On the {profile.name}, choose: {setting.value}" + _unverified(setting.confidence),
        fix="restart the inverter after changing its battery setting: many inverters "
        "read it only at start-up",
    )


def _rs485_findings(profile: InverterProfile, probe: Rs485Probe | None) -> list[Finding]:
    baud = profile.bus.bitrate.value
    if probe is None:
        return [
            Finding(
                FAIL,
                RS485_NOT_POLLED,
                f"{profile.name} reads the battery over RS485, which was not polled",
                fix=f"connect the RS485 adapter to the battery's COM port and poll the master at "
                f"{baud} baud",
            )
        ]
    if probe.answered:
        return [
            Finding(
                OK,
                RS485_ANSWERS,
                f"The master answers RS485 polls at {probe.baud} baud",
                probe.detail,
            )
        ]
    return [
        Finding(
            FAIL,
            RS485_ANSWERS,
            f"The master does not answer RS485 polls at {probe.baud} baud",
            probe.detail,
            fix="check A/B polarity (battery pin 1 B, pin 2 A) and the baud rate",
        )
    ]


def _message_set_findings(can: CanObservation, area: Area) -> list[Finding]:
    seen = set(can.ids_seen)
    battery_seen = seen & can_ids.BATTERY_IDS
    if can.state is None:
        # Nothing decoded: frames with battery ids that never decode are no
        # more use to an inverter than no frames at all.
        detail = f"{can.frame_count} frame(s) in {can.duration_s:.1f} s"
        if can.error_frames:
            detail += f", {can.error_frames} error frame(s): likely a bitrate mismatch"
        if can.decode_errors:
            detail += f", {can.decode_errors} battery frame(s) that did not decode"
        return [
            Finding(
                FAIL,
                f"{area}.{NO_BATTERY_FRAMES}",
                "The battery sends nothing on CAN",
                detail,
                fix="500 kbit/s on both sides; termination (60 Ω across H/L with power off); "
                "battery pins 4 CAN-H / 5 CAN-L; the cable goes into the battery's COM port",
            )
        ]
    out: list[Finding] = []
    evidence = tuple(
        f"0x{i:03X}: {n} frame(s)" + (f", every {can.cycle_s[i]:.2f} s" if i in can.cycle_s else "")
        for i, n in can.ids_seen.items()
    )
    missing_core = sorted(CORE_IDS - seen)
    v12 = seen >= can_ids.PYLON_V12_IDS
    v13 = seen >= can_ids.PYLON_V13_IDS
    if missing_core:
        out.append(
            Finding(
                FAIL,
                f"{area}.{MESSAGE_SET}",
                "Missing battery messages: " + ", ".join(f"0x{i:03X}" for i in missing_core),
                "every Pylon LV CAN inverter reads 0x351 (limits), 0x355 (SOC), 0x356 "
                "(voltage/current) and 0x35E (name)",
                evidence=evidence,
                fix="check the battery firmware's CAN protocol; listen longer",
            )
        )
    elif v12:
        out.append(
            Finding(
                OK,
                f"{area}.{MESSAGE_SET}",
                "Complete Pylon LV V1.2 message set (0x351 0x355 0x356 0x359 0x35C 0x35E)",
                evidence=evidence,
            )
        )
    elif v13:
        out.append(
            Finding(
                WARN,
                f"{area}.{MESSAGE_SET}",
                "Pylon LV V1.3 message set: 0x35A/0x35F instead of 0x359/0x35C",
                "newer Pylontech firmware does this and most inverters accept it, but an "
                "inverter that needs 0x35C never sees charge/discharge enable",
                evidence=evidence,
                fix="confirm on the inverter's battery page that charge and discharge are allowed",
            )
        )
    else:
        out.append(
            Finding(
                FAIL,
                f"{area}.{MESSAGE_SET}",
                "Neither 0x359/0x35C nor 0x35A/0x35F arrived: alarms and enables are not sent",
                evidence=evidence,
            )
        )
    slow = {i: c for i, c in can.cycle_s.items() if i in battery_seen and c > CYCLE_OK_S[1]}
    fast = {i: c for i, c in can.cycle_s.items() if i in battery_seen and c < CYCLE_OK_S[0]}
    if slow:
        worst = max(slow.values())
        out.append(
            Finding(
                FAIL if worst > CYCLE_FAIL_S else WARN,
                f"{area}.{CYCLE}",
                f"Battery messages come every {worst:.1f} s (about 1 s expected)",
                evidence=tuple(f"0x{i:03X}: every {c:.2f} s" for i, c in slow.items()),
                fix="inverters drop the battery when its messages are late: check the bus load "
                "and the adapter",
            )
        )
    elif fast:
        out.append(
            Finding(
                INFO,
                f"{area}.{CYCLE}",
                "Battery messages come faster than once a second",
                evidence=tuple(f"0x{i:03X}: every {c:.2f} s" for i, c in fast.items()),
            )
        )
    elif can.cycle_s:
        out.append(Finding(OK, f"{area}.{CYCLE}", "Battery messages arrive about once a second"))
    if can.decode_errors:
        out.append(
            Finding(
                WARN,
                f"{area}.{DECODE_ERRORS}",
                f"{can.decode_errors} battery frame(s) did not decode",
                "a DLC or layout the DBC does not know",
            )
        )
    return out


def _limit_findings(
    state: CanStackState, area: Area, profile: InverterProfile | None
) -> list[Finding]:
    out: list[Finding] = []
    limits = state.limits
    if limits is None:
        return [
            Finding(
                FAIL,
                f"{area}.{LIMITS_MISSING}",
                "No charge/discharge limits (0x351) from the battery",
                fix="without 0x351 the inverter charges blind: do not commission",
            )
        ]
    packs = state.module_count or 1
    cvl, dvl = limits.charge_voltage_v, limits.discharge_voltage_v
    ev = (
        f"0x351: CVL {cvl:.1f} V, CCL {limits.charge_current_a:.1f} A, "
        f"DCL {limits.discharge_current_a:.1f} A" + ("" if dvl is None else f", DVL {dvl:.1f} V"),
    )
    if cvl > spec.CHARGE_VOLTAGE_LIMIT_MAX_V:
        out.append(
            Finding(
                FAIL,
                f"{area}.{CHARGE_VOLTAGE}",
                f"Charge voltage limit {cvl:.1f} V is above the Active16's "
                f"{spec.MAX_VOLTAGE_V} V maximum",
                "manual, Technical Parameters: voltage range 44.8–57.6 V",
                evidence=ev,
                fix="do not charge: the BMS settings are wrong; contact support",
            )
        )
    elif cvl < spec.NOMINAL_VOLTAGE_V:
        out.append(
            Finding(
                WARN,
                f"{area}.{CHARGE_VOLTAGE}",
                f"Charge voltage limit {cvl:.1f} V is below the {spec.NOMINAL_VOLTAGE_V} V "
                "nominal voltage: the stack will never charge fully",
                evidence=ev,
            )
        )
    else:
        out.append(
            Finding(
                OK,
                f"{area}.{CHARGE_VOLTAGE}",
                f"Charge voltage limit {cvl:.1f} V is inside {spec.MIN_VOLTAGE_V}–"
                f"{spec.MAX_VOLTAGE_V} V",
                evidence=ev,
            )
        )
    if dvl is not None and dvl < spec.DISCHARGE_VOLTAGE_LIMIT_MIN_V:
        out.append(
            Finding(
                FAIL,
                f"{area}.{DISCHARGE_VOLTAGE}",
                f"Discharge voltage limit {dvl:.1f} V is below the {spec.MIN_VOLTAGE_V} V minimum",
                evidence=ev,
            )
        )
    for name, value in (
        ("charge", limits.charge_current_a),
        ("discharge", limits.discharge_current_a),
    ):
        hard = spec.max_stack_current_a(packs, continuous=False)
        if value > hard:
            out.append(
                Finding(
                    FAIL,
                    f"{area}.{name}-{CURRENT}",
                    f"{name.capitalize()} current limit {value:.0f} A is above {hard:.0f} A "
                    f"({packs} pack(s) × {spec.MAX_CURRENT_A:.0f} A)",
                    "manual, Technical Parameters: 200 A max per pack",
                    evidence=ev,
                )
            )
        if profile is None:
            continue
        inverter_max = (
            profile.limits.max_charge_current_a
            if name == "charge"
            else profile.limits.max_discharge_current_a
        )
        if inverter_max.value is not None and value > inverter_max.value:
            out.append(
                Finding(
                    INFO,
                    f"{area}.{name}-{CURRENT_INVERTER}",
                    f"The battery allows {value:.0f} A {name}; the {profile.name} takes at most "
                    f"{inverter_max.value:.0f} A" + _unverified(inverter_max.confidence),
                )
            )
    if state.voltage_scale == "0.1 V":
        out.append(
            Finding(
                WARN,
                f"{area}.{VOLTAGE_SCALE}",
                "0x356 voltage is sent in 0.1 V steps, not the Pylon 0.01 V",
                "some inverters (Sol-Ark) read it this way, most read 0.01 V and show a tenth",
                evidence=(f"0x356 voltage decoded as {state.voltage_v} V at 0.1 V",),
            )
        )
    return out


def _flag_findings(state: CanStackState, area: Area) -> list[Finding]:
    out: list[Finding] = []
    if state.protections:
        out.append(
            Finding(
                FAIL,
                f"{area}.{PROTECTION}",
                f"Battery protection raised: {', '.join(state.protections)}",
                evidence=("0x359/0x35A",),
                fix="find the cause (active scan shows which pack) before powering the inverter",
            )
        )
    if state.alarms:
        out.append(
            Finding(WARN, f"{area}.{ALARM}", f"Battery alarms raised: {', '.join(state.alarms)}")
        )
    request = state.request
    if request is not None:
        flags = (
            f"charge {'on' if request.charge_enable else 'OFF'}, "
            f"discharge {'on' if request.discharge_enable else 'OFF'}"
        )
        if not (request.charge_enable and request.discharge_enable):
            out.append(
                Finding(
                    FAIL,
                    f"{area}.{ENABLES}",
                    "The battery does not allow " + _blocked(request),
                    evidence=(f"0x35C: {flags}",),
                    fix="the BMS blocks it for a reason: see the protections and `active scan`",
                )
            )
        else:
            out.append(Finding(OK, f"{area}.{ENABLES}", "Charge and discharge enabled (0x35C)"))
        if request.force_charge_1 or request.force_charge_2:
            out.append(
                Finding(
                    WARN,
                    f"{area}.{FORCE_CHARGE}",
                    "The battery requests a force charge (SOC very low)",
                    evidence=("0x35C force charge bit",),
                    fix="charge the stack before leaving site",
                )
            )
    return out


def _blocked(request: RequestFlags) -> str:
    """What 0x35C forbids, in words: "charging", "discharging" or both."""
    blocked = [
        word
        for word, allowed in (
            ("charging", request.charge_enable),
            ("discharging", request.discharge_enable),
        )
        if not allowed
    ]
    return " or ".join(blocked)


def _module_count_findings(
    state: CanStackState, area: Area, expected_packs: int | None
) -> list[Finding]:
    if expected_packs is None:
        return []
    count = state.module_count
    if count is None:
        # V1.3 firmware sends 0x35A instead of 0x359, whose byte 4 is the count.
        return [
            Finding(
                WARN,
                f"{area}.{MODULE_COUNT}",
                f"Module count not reported: cannot confirm {expected_packs} pack(s)",
                f"{state.protocol}: neither 0x359 (byte 4) nor 0x372 arrived",
                fix="confirm the pack count with `active scan` over RS485",
            )
        ]
    if count != expected_packs:
        return [
            Finding(
                FAIL,
                f"{area}.{MODULE_COUNT}",
                f"The master reports {count} module(s), expected {expected_packs}",
                evidence=(f"CAN module count = {count}",),
                fix="check the Link out -> Link in cables; every pack must be on the BMS link",
            )
        ]
    return [Finding(OK, f"{area}.{MODULE_COUNT}", f"The master reports {count} module(s)")]


class Heartbeat(enum.Enum):
    """What the inverter's 0x305 did during a listening window."""

    MISSING = "missing"  # none at all
    STOPPED = "stopped"  # the last one is older than HEARTBEAT_LOST_S at the window's end
    SPARSE = "sparse"  # fewer than the window must hold at the slowest accepted period
    UNTIMED = "untimed"  # one, in a window too short to be sure of two: no period
    IRREGULAR = "irregular"  # a period outside HEARTBEAT_OK_S
    STEADY = "steady"


@dataclass(frozen=True)
class HeartbeatVerdict:
    state: Heartbeat
    seen: str  # what was seen, for the finding's text ("every 1.00 s, last 0.2 s ago")


def min_heartbeats(duration_s: float) -> int:
    """How many 0x305 a window of `duration_s` holds from a heartbeat that is alive.

    At the slowest accepted period (HEARTBEAT_OK_S[1], 3 s) a window holds at
    least floor(duration / 3 s) of them; and a window that long must show two,
    or there is no period to judge (one 0x305 in 5 s is not a heartbeat).
    """
    slowest = HEARTBEAT_OK_S[1]
    if duration_s < slowest:
        return 1
    return max(2, math.floor(duration_s / slowest))


def judge_heartbeat(can: CanObservation) -> HeartbeatVerdict:
    """Is the inverter's 0x305 alive until the end of the window, and steady?

    The age of the last heartbeat (`CanObservation.last_heartbeat_age_s`) is
    measured at the end of the window (see `discovery.fold_can`), so a
    heartbeat that stopped early in the window is not taken for a live one.
    """
    count, period = can.heartbeat_count, can.heartbeat_period_s
    age = can.last_heartbeat_age_s
    if count == 0:
        return HeartbeatVerdict(Heartbeat.MISSING, f"no 0x305 in {can.duration_s:.1f} s")
    timing = f"every {period:.2f} s" if period is not None else f"{count} time(s)"
    last = "" if age is None else f", last {age:.1f} s ago"
    if age is not None and age > HEARTBEAT_LOST_S:
        return HeartbeatVerdict(
            Heartbeat.STOPPED,
            f"{count} × 0x305, the last {age:.1f} s before the end of the "
            f"{can.duration_s:.1f} s window (gone after {HEARTBEAT_LOST_S:.0f} s)",
        )
    least = min_heartbeats(can.duration_s)
    if count < least:
        return HeartbeatVerdict(
            Heartbeat.SPARSE,
            f"only {count} × 0x305 in {can.duration_s:.1f} s (a heartbeat every "
            f"{HEARTBEAT_OK_S[1]:.0f} s or faster gives at least {least}){last}",
        )
    if period is None:
        return HeartbeatVerdict(
            Heartbeat.UNTIMED, f"0x305 seen {count} time(s) in {can.duration_s:.1f} s{last}"
        )
    if not HEARTBEAT_OK_S[0] <= period <= HEARTBEAT_OK_S[1]:
        return HeartbeatVerdict(Heartbeat.IRREGULAR, f"{timing}{last}")
    return HeartbeatVerdict(Heartbeat.STEADY, f"{timing}{last}")


def _heartbeat_findings(profile: InverterProfile, can: CanObservation) -> list[Finding]:
    needs = profile.protocol.heartbeat_0x305
    verdict = judge_heartbeat(can)
    match verdict.state:
        case Heartbeat.MISSING:
            # Only a known, sourced "it answers" makes silence a failure; where
            # the profile does not know (Victron GX), silence is unverified.
            verified = needs.value is True and needs.confidence.verified
            severity = INFO if needs.value is False else FAIL if verified else WARN
            return [
                Finding(
                    severity,
                    HEARTBEAT,
                    f"No 0x305 from the inverter in {can.duration_s:.1f} s: the inverter is not "
                    "answering"
                    + (
                        ""
                        if verified
                        else f" (unverified: whether the {profile.name} sends 0x305 is not known)"
                    ),
                    "Pylon-protocol inverters answer the battery with 0x305 about once a second",
                    fix=f"switch the inverter on after the batteries, select "
                    f"{profile.protocol.setting.value or 'its lithium / Pylon CAN setting'}, "
                    "restart it, and check the cable reaches its BMS port",
                )
            ]
        case Heartbeat.STOPPED | Heartbeat.SPARSE:
            stopped = verdict.state is Heartbeat.STOPPED
            return [
                Finding(
                    FAIL,
                    HEARTBEAT,
                    "The inverter's heartbeat 0x305 "
                    + ("stopped during the window" if stopped else "is not steady"),
                    verdict.seen,
                    fix="check the CAN cable and its connectors at both ends (a loose plug "
                    "comes and goes), the termination, and the inverter's battery setting",
                )
            ]
        case Heartbeat.UNTIMED:
            # All a window this short can hold, but no period to judge: said, not passed.
            return [
                Finding(
                    INFO,
                    HEARTBEAT,
                    f"The inverter answers: 0x305 {can.heartbeat_count} time(s) in "
                    f"{can.duration_s:.1f} s, too short a window to time it",
                    verdict.seen,
                    fix=f"listen longer (at least {HEARTBEAT_LOST_S + 0.5:g} s)",
                )
            ]
        case Heartbeat.IRREGULAR:
            return [
                Finding(
                    WARN,
                    HEARTBEAT,
                    f"Inverter heartbeat 0x305 every {can.heartbeat_period_s:.2f} s "
                    "(about 1 s expected)",
                    verdict.seen,
                )
            ]
        case Heartbeat.STEADY:
            return [Finding(OK, HEARTBEAT, f"The inverter answers: 0x305 {verdict.seen}")]


@dataclass(frozen=True)
class ProtocolAssessment:
    """`active check protocol`'s result: what was seen, and the verdicts."""

    inverter: str
    setting: str | None
    observation: CanObservation | None
    rs485: Rs485Probe | None
    findings: tuple[Finding, ...]

    @property
    def failed(self) -> bool:
        return any(f.failed for f in self.findings)


def run_protocol_check(
    profile: InverterProfile,
    can: CanObservation | None,
    rs485: Rs485Probe | None = None,
    *,
    expected_packs: int | None = None,
) -> ProtocolAssessment:
    findings = protocol_findings(profile, can, rs485, expected_packs=expected_packs)
    return ProtocolAssessment(
        inverter=profile.name,
        setting=profile.protocol.setting.value,
        observation=can,
        rs485=rs485,
        findings=tuple(findings),
    )


def protocol_verdict(result: ProtocolAssessment) -> Verdict:
    """One line: the battery and the inverter talk, or the first thing to fix."""
    return summarize(
        sort_findings(result.findings),
        ok=f"the battery speaks what the {result.inverter} expects, and it answers",
        fail="not ready: ",
    )
