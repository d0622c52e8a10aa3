"""The terminal prompter: instructions and questions on stderr, stdout stays the result.

Answers to a step: Enter (or "go", "y") carries on, "done" ends a list (every
pack read), "skip" skips the step, "abort" stops. Ctrl-C at a prompt is an
`Aborted` (exit 130), never a failed check.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator, Sequence

import typer
from rich.markup import escape
from rich.status import Status

from active_cli.cli.output import stderr
from active_cli.procedures.prompting import Aborted, StepAnswer, WaitDisplay

_WORDS = {
    "": StepAnswer.GO,
    "go": StepAnswer.GO,
    "g": StepAnswer.GO,
    "y": StepAnswer.GO,
    "yes": StepAnswer.GO,
    "ok": StepAnswer.GO,
    "done": StepAnswer.DONE,
    "d": StepAnswer.DONE,
    "q": StepAnswer.DONE,
    "skip": StepAnswer.SKIP,
    "s": StepAnswer.SKIP,
    "abort": StepAnswer.ABORT,
    "a": StepAnswer.ABORT,
}


class _StatusDisplay:
    def __init__(self, what: str, status: Status | None) -> None:
        self._what = what
        self._status = status

    def update(self, remaining_s: float, status: str = "") -> None:
        if self._status is None:
            return
        extra = f" ({escape(status)})" if status else ""
        self._status.update(
            f"{escape(self._what)}{extra}: {remaining_s:.0f} s left  [dim](Ctrl-C to stop)[/]"
        )


class TerminalPrompter:
    """Prompts through Typer on stderr; a spinner with a countdown while waiting."""

    def __init__(self) -> None:
        self._console = stderr()

    def say(self, text: str) -> None:
        # Wrapped at the terminal's width (80 when piped): a manual quote must
        # not run off the right edge of a laptop's terminal.
        self._console.print(escape(text), overflow="fold")

    def ask_step(
        self,
        instruction: str,
        *,
        choices: Sequence[StepAnswer] = (StepAnswer.GO, StepAnswer.SKIP, StepAnswer.ABORT),
    ) -> StepAnswer:
        offered = "/".join("Enter" if c is StepAnswer.GO else c.value for c in choices)
        # The instruction wrapped by words at the terminal's width; the prompt
        # itself stays short, since the terminal would cut it mid-word.
        self._console.print(escape(instruction))
        while True:
            text = self._prompt(f"  [{offered}]", default="")
            answer = _WORDS.get(text.strip().lower())
            if answer in choices:
                assert answer is not None
                return answer
            self._console.print(f"[yellow]Please answer one of: {offered}[/]")

    def ask_value(self, question: str, *, default: str | None = None) -> str:
        while True:
            text = self._prompt(question, default=default)
            if text.strip() or default is not None:
                return text.strip() if text.strip() else (default or "")
            self._console.print("[yellow]A value is needed here.[/]")

    @contextlib.contextmanager
    def waiting(self, what: str, timeout_s: float) -> Iterator[WaitDisplay]:
        if not sys.stderr.isatty():
            self._console.print(f"waiting up to {timeout_s:g} s: {escape(what)}", soft_wrap=True)
            yield _StatusDisplay(what, None)
            return
        with self._console.status(f"{escape(what)} ...") as status:
            display = _StatusDisplay(what, status)
            display.update(timeout_s)
            yield display

    @staticmethod
    def _prompt(text: str, *, default: str | None) -> str:
        try:
            value: str = typer.prompt(
                text,
                default="" if default is None else default,
                show_default=bool(default),
                err=True,  # stdout carries the result (and --json) only
            )
        except (typer.Abort, EOFError, KeyboardInterrupt):
            raise Aborted("stopped at a prompt") from None
        return value


class YesPrompter(TerminalPrompter):
    """``--yes``: instructions are shown and taken as done; values take their defaults.

    Nothing is read from the keyboard, so a run under cron or CI never
    waits on a prompt; the bus still has to show every physical step.
    """

    def ask_step(
        self,
        instruction: str,
        *,
        choices: Sequence[StepAnswer] = (StepAnswer.GO, StepAnswer.SKIP, StepAnswer.ABORT),
    ) -> StepAnswer:
        self.say(f"{instruction} [--yes: done]")
        return StepAnswer.GO if StepAnswer.GO in choices else choices[0]

    def ask_value(self, question: str, *, default: str | None = None) -> str:
        return default or ""
