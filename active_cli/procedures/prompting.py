"""The Prompter seam: how a workflow talks to the person on site.

A workflow says lines, asks for a step ("go / done / skip / abort"), asks for
a value with a default, and shows a wait with a timeout. The CLI provides a
terminal prompter (rich, on stderr so stdout stays the result), ``--yes`` one
that always answers "go" and takes defaults, and tests a scripted one. No
workflow reads ``sys.stdin`` or imports Typer.
"""

from __future__ import annotations

import contextlib
import enum
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from active_cli.errors import ActiveError, UsageError

EXIT_INTERRUPTED = 130  # 128 + SIGINT, what a shell shows for Ctrl-C


class StepAnswer(enum.Enum):
    GO = "go"  # done / carry on with this step
    DONE = "done"  # nothing more of this kind (e.g. every pack was read)
    SKIP = "skip"
    ABORT = "abort"


class Aborted(ActiveError):
    """The installer stopped the workflow (an "abort" answer or Ctrl-C at a prompt).

    Not a failed check: the work stopped before it had a result.
    """

    exit_code = EXIT_INTERRUPTED


class WaitDisplay(Protocol):
    """A wait in progress: the prompter shows what is awaited and the time left."""

    def update(self, remaining_s: float, status: str = "") -> None: ...


class Prompter(Protocol):
    def say(self, text: str) -> None:
        """Tell the installer something (an instruction, a result)."""

    def ask_step(
        self,
        instruction: str,
        *,
        choices: Sequence[StepAnswer] = (StepAnswer.GO, StepAnswer.SKIP, StepAnswer.ABORT),
    ) -> StepAnswer:
        """Show an instruction and wait until the installer answers one of `choices`."""

    def ask_value(self, question: str, *, default: str | None = None) -> str:
        """Ask for a typed value; empty input takes `default` (when there is one)."""

    def waiting(
        self, what: str, timeout_s: float
    ) -> contextlib.AbstractContextManager[WaitDisplay]:
        """Show that `what` is awaited for up to `timeout_s` (a countdown on a terminal)."""


class _NoDisplay:
    def update(self, remaining_s: float, status: str = "") -> None:
        return None


@dataclass
class AutoPrompter:
    """``--yes``: every physical step is taken as done; values come from `values`.

    A value with neither an entry in `values` nor a default is a usage error:
    automation must say everything it means.
    """

    values: dict[str, str] = field(default_factory=dict)
    said: list[str] = field(default_factory=list)

    def say(self, text: str) -> None:
        self.said.append(text)

    def ask_step(
        self,
        instruction: str,
        *,
        choices: Sequence[StepAnswer] = (StepAnswer.GO, StepAnswer.SKIP, StepAnswer.ABORT),
    ) -> StepAnswer:
        self.said.append(instruction)
        return StepAnswer.GO if StepAnswer.GO in choices else choices[0]

    def ask_value(self, question: str, *, default: str | None = None) -> str:
        if question in self.values:
            return self.values[question]
        if default is not None:
            return default
        raise UsageError(f"--yes: no answer for {question!r}", hint="give it in --answers FILE")

    @contextlib.contextmanager
    def waiting(self, what: str, timeout_s: float) -> Iterator[WaitDisplay]:
        yield _NoDisplay()


@dataclass
class ScriptedPrompter:
    """A prompter that answers from a script, for tests and ``--answers`` files.

    `steps` answers `ask_step` in order; `values` answers `ask_value` in
    order (``None`` takes the default). Running out of answers is an error
    the test sees, not a hang.
    """

    steps: list[StepAnswer] = field(default_factory=list)
    values: list[str | None] = field(default_factory=list)
    said: list[str] = field(default_factory=list)
    asked: list[str] = field(default_factory=list)
    waits: list[tuple[str, float]] = field(default_factory=list)

    @classmethod
    def of(
        cls, steps: Iterable[StepAnswer | str] = (), values: Iterable[str | None] = ()
    ) -> ScriptedPrompter:
        return cls(
            steps=[s if isinstance(s, StepAnswer) else StepAnswer(s) for s in steps],
            values=list(values),
        )

    def say(self, text: str) -> None:
        self.said.append(text)

    def ask_step(
        self,
        instruction: str,
        *,
        choices: Sequence[StepAnswer] = (StepAnswer.GO, StepAnswer.SKIP, StepAnswer.ABORT),
    ) -> StepAnswer:
        self.asked.append(instruction)
        if not self.steps:
            raise AssertionError(f"script has no step answer left for: {instruction}")
        answer = self.steps.pop(0)
        if answer not in choices:
            raise AssertionError(f"{answer.value!r} is not offered for: {instruction}")
        return answer

    def ask_value(self, question: str, *, default: str | None = None) -> str:
        self.asked.append(question)
        if not self.values:
            raise AssertionError(f"script has no value left for: {question}")
        value = self.values.pop(0)
        if value is None:
            if default is None:
                raise AssertionError(f"no default to take for: {question}")
            return default
        return value

    @contextlib.contextmanager
    def waiting(self, what: str, timeout_s: float) -> Iterator[WaitDisplay]:
        self.waits.append((what, timeout_s))
        yield _NoDisplay()
