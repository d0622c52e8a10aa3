"""Observe what the battery tells the inverter, live or from a capture.

`observe_protocol` listens on the CAN bus (and polls the master over RS485
when the inverter reads the battery there) for up to a window, then runs the
protocol check; `replay_protocol` runs the same check on recorded files.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from active_cli.checks.protocol import ProtocolAssessment, Rs485Probe, run_protocol_check
from active_cli.connection import CaptureFiles, Links
from active_cli.discovery import observe_can, probe_master
from active_cli.inverters import Bus
from active_cli.procedures.replaying import replay_can, replay_link, replay_notes

if TYPE_CHECKING:
    from active_cli.inverters import InverterProfile
    from active_cli.model import CanObservation


def polls_rs485(profile: InverterProfile) -> bool:
    """Does this inverter read the battery over RS485 (rather than CAN)?"""
    return profile.bus.kind.value is Bus.RS485


@dataclass(frozen=True)
class ProtocolObservation:
    """The protocol check's result, what it rests on, and notes for the user."""

    assessment: ProtocolAssessment
    can: CanObservation | None
    rs485: Rs485Probe | None
    notes: tuple[str, ...] = ()


def observe_protocol(
    profile: InverterProfile,
    links: Links,
    window_s: float,
    *,
    expected_packs: int | None = None,
) -> ProtocolObservation:
    """Poll the master (RS485 profiles, when a link is open) and listen on CAN for `window_s`."""
    probe = probe_master(links.rs485) if links.rs485 is not None and polls_rs485(profile) else None
    observation = observe_can(links.can, window_s) if links.can is not None else None
    assessment = run_protocol_check(profile, observation, probe, expected_packs=expected_packs)
    return ProtocolObservation(assessment, observation, probe, tuple(links.notes))


def replay_protocol(
    files: CaptureFiles, profile: InverterProfile, *, expected_packs: int | None = None
) -> ProtocolObservation:
    """The same check on a capture: the master probed through a replay link, CAN folded."""
    notes: list[str] = []
    probe = None
    if files.rs485 is not None:
        if polls_rs485(profile):
            link = replay_link(files.rs485)
            probe = probe_master(link)
            notes.extend(replay_notes(link))
        else:
            notes.append(
                f"the {profile.name} reads the battery over CAN; {files.rs485} is not used"
            )
    observation = replay_can(files.can) if files.can is not None else None
    assessment = run_protocol_check(profile, observation, probe, expected_packs=expected_packs)
    return ProtocolObservation(assessment, observation, probe, tuple(notes))
