"""Begin a new session record, or take one up again.

A new record gets the nine steps of ``checklists/commissioning.toml`` (titles
and the manual's words), the site as far as it is known, and the scenario's
name when it runs on the simulator. A resumed record is the authority for what
it already says: the inverter, the pack count and the simulator scenario given
again must match it (a different one is refused, never silently changed).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from active_cli.commissioning.checklists import load_checklist
from active_cli.commissioning.session import (
    Installer,
    Session,
    SiteInfo,
    new_session,
)
from active_cli.errors import DataFileError, UsageError

COMMISSIONING_CHECKLIST = "commissioning"


def step_titles() -> tuple[tuple[str, str, str], ...]:
    """(id, title, the manual's words) of every commissioning step, in order."""
    checklist = load_checklist(COMMISSIONING_CHECKLIST)
    items = [item for section in checklist.sections for item in section.items]
    return tuple((item.id, item.label, item.manual or "") for item in items)


def default_session_path(now: datetime, folder: Path | None = None) -> Path:
    name = f"active-session-{now.astimezone():%Y%m%d-%H%M%S}.json"
    return (folder or Path.cwd()) / name


def begin(
    *,
    inverter_profile: str,
    inverter_name: str,
    packs: int,
    installer: Installer,
    sim_scenario: str | None,
    now: datetime,
    known_steps: Sequence[str],
) -> Session:
    steps = step_titles()
    unknown = [step_id for step_id, _, _ in steps if step_id not in known_steps]
    if unknown:
        raise DataFileError(
            COMMISSIONING_CHECKLIST,
            f"step(s) {', '.join(unknown)} have no implementation",
            hint=f"the steps are: {', '.join(known_steps)}",
        )
    site = SiteInfo(
        installer=installer,
        ticket=None,
        street=None,
        zip_city=None,
        portal_name=None,
        inverter_profile=inverter_profile,
        inverter_name=inverter_name,
        inverter_serial=None,
        inverter_firmware=None,
        inverter_power_w=None,
        packs_expected=packs,
    )
    session = new_session(
        site, [(step_id, title) for step_id, title, _ in steps], sim_scenario=sim_scenario, now=now
    )
    manual = {step_id: words for step_id, _, words in steps}
    return dataclasses.replace(
        session,
        steps=tuple(
            dataclasses.replace(s, instruction=manual.get(s.id, "")) for s in session.steps
        ),
    )


def check_resume(
    session: Session,
    *,
    inverter_profile: str | None,
    packs: int | None,
    sim: str | None,
    known_steps: Sequence[str],
) -> None:
    """Refuse options that contradict the record being resumed."""
    site = session.site
    if inverter_profile is not None and inverter_profile != site.inverter_profile:
        raise UsageError(
            f"--inverter {inverter_profile}: this session is for {site.inverter_profile}",
            hint="leave --inverter out when resuming, or start a new session",
        )
    if packs is not None and packs != site.packs_expected:
        raise UsageError(
            f"--packs {packs}: this session expects {site.packs_expected} pack(s)",
            hint="leave --packs out when resuming, or start a new session",
        )
    if sim != session.sim_scenario:
        recorded = session.sim_scenario
        ran = f"on the simulator {recorded!r}" if recorded else "on real hardware"
        asked = f"--sim {sim!r}" if sim else "real hardware"
        raise UsageError(
            f"this session ran {ran}, not {asked}",
            hint=f"resume it {'with --sim ' + recorded if recorded else 'without --sim'}",
        )
    unknown = [s.id for s in session.steps if s.id not in known_steps]
    if unknown:
        raise DataFileError(
            "session", f"step(s) {', '.join(unknown)} are not steps of this version"
        )
