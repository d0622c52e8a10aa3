"""Captures as links: an ``.rs485`` file answers requests, a CAN log is one window."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from active_cli.discovery import fold_can

if TYPE_CHECKING:
    from active_cli.links.replay import ReplayLink
    from active_cli.model import CanObservation


def replay_link(path: Path) -> ReplayLink:
    """A request link answering from an ``.rs485`` capture."""
    from active_cli.links.replay import ReplayLink

    return ReplayLink.from_file(path)


def replay_can(path: Path) -> CanObservation:
    """A CAN log folded the way a live listening window is (the whole log is the window)."""
    from active_cli.links.replay import read_can_records

    return fold_can(list(read_can_records(path)), 0.0)


def replay_notes(link: ReplayLink) -> list[str]:
    """What the user should hear when the replay asked what the capture does not hold."""
    if not link.unrecorded_requests:
        return []
    return [
        f"{link.unrecorded_requests} request(s) are not in {link.capture.path} and were "
        "taken as unanswered: was it recorded with other options (e.g. --addresses)?"
    ]
