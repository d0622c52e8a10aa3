"""Run the steps in order, record each one, stop at a failure, resume where it stopped.

The record is written when a step starts (so a crash shows where it was) and
when it ends (with what it measured). A step that failed stops the run; on a
terminal the installer may retry it after fixing the cause, skip it with a
reason (except the two steps that protect the hardware: packs linked at
different voltages, packs fighting over an address), or abort. Ctrl-C or an
adapter that goes away leaves the step pending with a note, so ``--resume``
runs it again; nothing recorded before is lost.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping

from active_cli.commissioning.context import Commissioning
from active_cli.commissioning.inverter import run_acceptance, run_final_snapshot, run_inverter
from active_cli.commissioning.power import run_address_plan, run_power_on
from active_cli.commissioning.prepare import run_before_linking, run_site, run_sizing, run_wiring
from active_cli.commissioning.results import StepResult
from active_cli.commissioning.session import Outcome, Session, StepRecord, StepStatus
from active_cli.errors import LinkError
from active_cli.model import Severity
from active_cli.procedures.prompting import Aborted, StepAnswer

StepFunction = Callable[[Commissioning], StepResult]

STEPS: Mapping[str, StepFunction] = {
    "site": run_site,
    "sizing": run_sizing,
    "before-linking": run_before_linking,
    "wiring": run_wiring,
    "power-on-batteries": run_power_on,
    "address-plan": run_address_plan,
    "inverter": run_inverter,
    "acceptance": run_acceptance,
    "final-snapshot": run_final_snapshot,
}

# A failure here means a risk to the hardware if the run went on anyway.
NOT_SKIPPABLE = frozenset({"before-linking", "power-on-batteries"})

_STATUS_OF = {
    Severity.OK: StepStatus.OK,
    Severity.INFO: StepStatus.OK,
    Severity.WARN: StepStatus.WARN,
    Severity.FAIL: StepStatus.FAIL,
}


def run_commissioning(c: Commissioning) -> Session:
    """Run every step not done yet; return the record as it ends."""
    total = len(c.session.steps)
    c.session = dataclasses.replace(c.session, outcome=Outcome.IN_PROGRESS)
    for number, step in enumerate(c.session.steps, start=1):
        if step.status.done:
            continue
        c.prompter.say(f"\n[{number}/{total}] {step.title}")
        if step.instruction:
            c.prompter.say(f"  manual: {step.instruction}")
        while True:
            record = _run_step(c, step.id)
            _tell(c, record)
            if record.status is not StepStatus.FAIL:
                break
            retry = _after_failure(c, record)
            if retry is None:
                c.session = dataclasses.replace(c.session, outcome=Outcome.STOPPED)
                c.save()
                return c.session
            if not retry:
                break
    c.session = dataclasses.replace(c.session, outcome=Outcome.COMPLETED)
    c.save()
    return c.session


def _run_step(c: Commissioning, step_id: str) -> StepRecord:
    started = c.stamp()
    _put(
        c,
        dataclasses.replace(
            c.session.step(step_id),
            status=StepStatus.RUNNING,
            started_at=started,
            ended_at=None,
            note="",
        ),
    )
    try:
        result = STEPS[step_id](c)
    except (Aborted, KeyboardInterrupt) as e:
        _put(
            c,
            dataclasses.replace(
                c.session.step(step_id),
                status=StepStatus.PENDING,
                note="interrupted: run again with --resume",
            ),
        )
        if isinstance(e, Aborted):
            raise
        raise Aborted("interrupted (Ctrl-C)") from None
    except LinkError as e:
        _put(
            c,
            dataclasses.replace(
                c.session.step(step_id), status=StepStatus.PENDING, note=f"stopped: {e.message}"
            ),
        )
        raise
    skipped = result.skipped is not None
    status = StepStatus.SKIPPED if skipped else _STATUS_OF[result.severity]
    record = dataclasses.replace(
        c.session.step(step_id),
        status=status,
        ended_at=c.stamp(),
        findings=result.findings,
        evidence=result.evidence,
        answers=result.answers,
        note=result.skipped or "",
    )
    _put(c, record)
    return record


def _put(c: Commissioning, record: StepRecord) -> None:
    c.session = c.session.with_step(record)
    c.save()


def _tell(c: Commissioning, record: StepRecord) -> None:
    for f in sorted(record.findings, key=lambda f: -f.severity.rank):
        if (
            f.severity is Severity.OK
            and record.status is StepStatus.OK
            and len(record.findings) > 6
        ):
            continue  # a long list of passes hides the one line that matters
        c.prompter.say(f"  {f.severity.value.upper():4} {f.title}")
        if f.failed and f.fix:
            c.prompter.say(f"       -> {f.fix}")
    note = f" ({record.note})" if record.note else ""
    c.prompter.say(f"  => {record.status.value.upper()}{note}")


def _after_failure(c: Commissioning, record: StepRecord) -> bool | None:
    """True: retry; False: skipped, go on; None: stop the run here."""
    if c.options.assume_yes:
        return None
    choices = [StepAnswer.GO, StepAnswer.ABORT]
    if record.id not in NOT_SKIPPABLE:
        choices.insert(1, StepAnswer.SKIP)
    answer = c.prompter.ask_step(
        "This step failed. Fix the cause, then press Enter to run it again"
        + (", 'skip' to go on without it" if StepAnswer.SKIP in choices else "")
        + ", or 'abort' to stop here (the record is kept)",
        choices=tuple(choices),
    )
    if answer is StepAnswer.GO:
        return True
    if answer is StepAnswer.SKIP:
        reason = c.prompter.ask_value("Why is this step skipped?", default="").strip()
        _put(
            c,
            dataclasses.replace(
                record,
                status=StepStatus.SKIPPED,
                note=f"failed, then skipped: {reason or 'no reason given'}",
            ),
        )
        return False
    return None
