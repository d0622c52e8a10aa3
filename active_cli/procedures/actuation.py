"""The Actuator seam: switching packs and the inverter on.

On a real site a person switches: the actuator asks through the prompter and
returns once the installer says it is done (the workflow then waits for the
bus to show it). With ``--sim`` the simulator's own switches are thrown, so a
whole power-on sequence runs with no hardware.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from active_cli.procedures.prompting import Aborted, Prompter, StepAnswer

if TYPE_CHECKING:
    from active_cli.sim.site import SimulatedSite


class Actuator(Protocol):
    def switch_on_pack(self, position: int, instruction: str) -> StepAnswer:
        """Have pack `position` (1-based, power-on order) switched on; GO or SKIP."""

    def switch_on_inverter(self, instruction: str) -> StepAnswer:
        """Have the inverter switched on; GO or SKIP."""


@dataclass
class PromptedActuator:
    """A person throws the switch: ask, and return what they answered."""

    prompter: Prompter

    def switch_on_pack(self, position: int, instruction: str) -> StepAnswer:
        return self._ask(instruction)

    def switch_on_inverter(self, instruction: str) -> StepAnswer:
        return self._ask(instruction)

    def _ask(self, instruction: str) -> StepAnswer:
        answer = self.prompter.ask_step(instruction)
        if answer is StepAnswer.ABORT:
            raise Aborted("stopped by the installer")
        return answer


@dataclass
class SimActuator:
    """The simulator throws its own switches (``--sim``); the instruction is still shown."""

    site: SimulatedSite
    prompter: Prompter

    def switch_on_pack(self, position: int, instruction: str) -> StepAnswer:
        self.prompter.say(f"{instruction} (simulator: switched on)")
        self.site.switch_on_pack(position)
        return StepAnswer.GO

    def switch_on_inverter(self, instruction: str) -> StepAnswer:
        self.prompter.say(f"{instruction} (simulator: switched on)")
        self.site.switch_on_inverter()
        return StepAnswer.GO
