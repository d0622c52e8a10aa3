"""The Actuator seam: switching packs and the inverter on and off.

On a real site a person throws the switch: the actuator shows the
instruction through the prompter and returns once the installer says it is
done (the workflow then waits for the bus to show it); "abort" stops the
workflow. With ``--sim`` the simulator's own switches are thrown, so a whole
power-on sequence runs with no hardware. Either way the workflow believes
only what the bus shows afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from active_cli.procedures.prompting import Aborted, Prompter, StepAnswer

if TYPE_CHECKING:
    from active_cli.sim.site import SimulatedSite


class Actuator(Protocol):
    def switch_on_pack(self, position: int, instruction: str) -> None:
        """Have pack `position` (1-based, in power-on order) switched on."""

    def switch_off_pack(self, position: int, instruction: str) -> None:
        """Have pack `position` switched off."""

    def switch_on_inverter(self, instruction: str) -> None:
        """Have the inverter switched on."""


@dataclass
class PromptedActuator:
    """A person throws the switch: show the instruction and wait for "done" (Enter)."""

    prompter: Prompter

    def switch_on_pack(self, position: int, instruction: str) -> None:
        self._ask(instruction)

    def switch_off_pack(self, position: int, instruction: str) -> None:
        self._ask(instruction)

    def switch_on_inverter(self, instruction: str) -> None:
        self._ask(instruction)

    def _ask(self, instruction: str) -> None:
        answer = self.prompter.ask_step(instruction, choices=(StepAnswer.GO, StepAnswer.ABORT))
        if answer is StepAnswer.ABORT:
            raise Aborted("stopped by the installer")


@dataclass
class SimActuator:
    """The simulator throws its own switches (``--sim``); the instruction is still shown."""

    site: SimulatedSite
    prompter: Prompter

    def switch_on_pack(self, position: int, instruction: str) -> None:
        self.prompter.say(f"{instruction} [simulator: switched on]")
        self.site.switch_on_pack(position)

    def switch_off_pack(self, position: int, instruction: str) -> None:
        self.prompter.say(f"{instruction} [simulator: switched off]")
        self.site.switch_off_pack(position)

    def switch_on_inverter(self, instruction: str) -> None:
        self.prompter.say(f"{instruction} [simulator: switched on]")
        self.site.switch_on_inverter()
