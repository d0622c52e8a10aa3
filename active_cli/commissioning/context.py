"""What every commissioning step works with: the record, the links, the people.

A `Commissioning` holds the session record as it grows (each step replaces
it with a new frozen `Session` and `save` writes it atomically), the open
links, the inverter profile, the prompter and actuator seams, the options,
the answers given ahead (``--answers``), and the clocks: `clock`/`sleep` for
waits, `now` for the timestamps the record keeps.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from active_cli.checks.parallel import ParallelAssumptions
from active_cli.commissioning.session import Session, save_session
from active_cli.discovery import DEFAULT_ADDRESSES
from active_cli.errors import UsageError
from active_cli.procedures.prompting import Aborted, Prompter, StepAnswer
from active_cli.typed_values import TypedValueError, parse_power_w

if TYPE_CHECKING:
    from active_cli.connection import Links
    from active_cli.inverters import InverterProfile
    from active_cli.procedures.actuation import Actuator

# Manual, POWER-ON SEQUENCE: a BMS boots in a few seconds; a minute and a half
# leaves room for a slow breaker and the installer walking to the next pack.
JOIN_TIMEOUT_S = 90.0
# An inverter boots (and, after a protocol change, restarts) in one to two minutes.
INVERTER_TIMEOUT_S = 180.0
# Long enough for 30 heartbeats at 1 Hz: a link that drops every few seconds shows.
SETTLE_S = 30.0


@dataclass(frozen=True)
class CommissionOptions:
    """What the command line (or the record, on resume) says about this run."""

    inverter: str
    packs: int | None = None
    inverter_power_w: float | None = None
    voltages: tuple[float, ...] = ()  # multimeter readings, pack order (instead of RS485)
    addresses: tuple[int, ...] = DEFAULT_ADDRESSES
    settle_s: float = SETTLE_S
    join_timeout_s: float = JOIN_TIMEOUT_S
    inverter_timeout_s: float = INVERTER_TIMEOUT_S
    assume_yes: bool = False
    parallel: ParallelAssumptions = field(default_factory=ParallelAssumptions)


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Commissioning:
    session: Session
    path: Path
    profile: InverterProfile
    links: Links
    prompter: Prompter
    actuator: Actuator
    options: CommissionOptions
    answers: Mapping[str, str | float | bool] = field(default_factory=dict)
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    now: Callable[[], datetime] = utc_now

    def fresh_counts(self) -> None:
        """Forget CAN frames queued and RS485 timeouts counted while earlier steps ran.

        A scan's error rates and a CAN window must speak of the stack as it is
        now: the polls that went unanswered while packs were still off are not
        errors of the line.
        """
        if self.links.rs485 is not None:
            self.links.rs485.stats.per_address.clear()
        self.fresh_can()

    def fresh_can(self) -> None:
        """Forget CAN frames queued while earlier steps ran: what follows must be heard now."""
        if self.links.can is not None:
            from active_cli.links.can_link import drain

            drain(self.links.can)

    def stamp(self) -> str:
        return iso(self.now())

    def save(self) -> None:
        self.session = dataclasses.replace(self.session, updated_at=self.stamp())
        save_session(self.path, self.session)

    def confirm(self, instruction: str) -> str | None:
        """Ask the installer to do `instruction`: None when done, the reason when skipped."""
        answer = self.prompter.ask_step(
            instruction, choices=(StepAnswer.GO, StepAnswer.SKIP, StepAnswer.ABORT)
        )
        if answer is StepAnswer.ABORT:
            raise Aborted("stopped by the installer")
        if answer is StepAnswer.SKIP:
            reason = self.prompter.ask_value("Why is this step skipped?", default="").strip()
            return reason or "skipped by the installer (no reason given)"
        return None

    # --- values the installer types -----------------------------------------------
    def text(self, key: str, question: str, *, default: str | None = None) -> str | None:
        """A typed value: from ``--answers``, else asked (``--yes``: the default, or none).

        An empty answer is "not given" (None), never an invented value.
        """
        if key in self.answers:
            value = self.answers[key]
            return None if value == "" else str(value)
        if self.options.assume_yes:
            return default
        answer = self.prompter.ask_value(question, default=default or "")
        return answer.strip() or None

    def power(self, key: str, question: str) -> float | None:
        """An inverter power as typed (``8000``, ``8kW``); asked again until it reads."""
        while True:
            raw = self.text(key, question)
            if raw is None:
                return None
            try:
                return parse_power_w(raw)
            except TypedValueError as e:
                if key in self.answers or self.options.assume_yes:
                    raise UsageError(f"{question}: {e.message}", hint=e.hint) from None
                self.prompter.say(f"{e.message} ({e.hint})")

    def yes_no(self, key: str, question: str) -> bool | None:
        """A yes/no answer; None when it was not given (unverified, not "no")."""
        if key in self.answers:
            value = self.answers[key]
            if isinstance(value, bool):
                return value
            return str(value).strip().lower() in ("y", "yes", "true", "1")
        if self.options.assume_yes:
            return None
        while True:
            answer = self.prompter.ask_value(f"{question} [yes/no]", default="").strip().lower()
            if answer in ("y", "yes"):
                return True
            if answer in ("n", "no"):
                return False
            if answer in ("", "?", "skip"):
                return None
            self.prompter.say("Please answer yes or no (Enter: not checked).")
