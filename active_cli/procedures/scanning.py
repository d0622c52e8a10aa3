"""A scan over whatever links are open, or over a capture."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

from active_cli.connection import CaptureFiles, Links
from active_cli.discovery import Progress, ScanOptions, scan
from active_cli.model import StackSnapshot
from active_cli.procedures.replaying import replay_can, replay_link, replay_notes
from active_cli.protocols import pylon_rs485

if TYPE_CHECKING:
    from active_cli.links.replay import ReplayLink


@dataclass(frozen=True)
class ScanOutcome:
    """A scan's snapshot, whether anything answered at all, and notes for the user."""

    snapshot: StackSnapshot
    rs485_used: bool
    notes: tuple[str, ...] = ()

    @property
    def nothing_answered(self) -> bool:
        """No pack on RS485 (when polled) and no battery state on CAN (when heard)."""
        snapshot = self.snapshot
        rs485_silent = not self.rs485_used or not snapshot.packs
        can_silent = snapshot.can is None or snapshot.can.state is None
        return rs485_silent and can_silent


def scan_links(
    links: Links,
    options: ScanOptions,
    *,
    expected_packs: int | None = None,
    can_window_s: float = 5.5,
    progress: Progress | None = None,
) -> ScanOutcome:
    """`discovery.scan` over the RS485 link and CAN bus that are open."""
    snapshot = scan(
        links.rs485,
        links.can,
        options,
        expected_packs=expected_packs,
        can_window_s=can_window_s,
        progress=progress,
    )
    return ScanOutcome(snapshot, links.rs485 is not None, tuple(links.notes))


def scan_replay(
    files: CaptureFiles, options: ScanOptions, *, expected_packs: int | None = None
) -> ScanOutcome:
    """`discovery.scan` on a capture: RS485 polled through a replay link, CAN folded.

    Only the CAN window differs from a live scan: a capture is heard to its
    end, where a live listener stops once it has seen enough (a recorded scan
    holds exactly that).
    """
    link = replay_link(files.rs485) if files.rs485 is not None else None
    can = replay_can(files.can) if files.can is not None else None
    if link is not None:
        # Ask what the live scan asked: its requests are what the capture answers.
        options = dataclasses.replace(
            options, group_reads=_group_reads_recorded(link), first_contact_s=None
        )
    snapshot = scan(link, None, options, expected_packs=expected_packs, can_observation=can)
    notes = replay_notes(link) if link is not None else []
    snapshot = dataclasses.replace(
        snapshot,
        port=f"replay of {files.rs485}" if files.rs485 is not None else None,
        baud=link.baud if link is not None else None,
        can_interface=f"replay of {files.can}" if files.can is not None else None,
    )
    return ScanOutcome(snapshot, link is not None, tuple(notes))


def _group_reads_recorded(link: ReplayLink) -> bool:
    """Did the recorded scan use the group analog read (0x42, INFO FF)?"""
    from active_cli.links.serial_link import request_frame

    for exchange in link.capture.exchanges:
        frame = request_frame(exchange.request)
        group = bytes([pylon_rs485.GROUP_ADR_INFO])
        if frame is not None and frame.cid2 == pylon_rs485.Command.ANALOG and frame.info == group:
            return True
    return False
