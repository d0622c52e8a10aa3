"""Numbers as installers type them: multimeter voltages and inverter powers.

On site people write ``53,2`` (a decimal comma), ``5320`` (the meter showed
hundredths), ``8`` (meaning 8 kW) or ``8kW``. Each of these is either read the
way it was meant or refused with a "did you mean" — never silently taken as
something else (``53,2 53,1`` must not become four packs of 53, 2, 53 and 1 V).
Pure functions: text in, values or a `TypedValueError` (message and hint) out.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

# A pack voltage anyone could read off an Active16 with a multimeter: the
# manual's range is 44.8-57.6 V; a deeply discharged or BMS-cut pack reads
# lower, but never above about 60 V.
PLAUSIBLE_PACK_V = (20.0, 65.0)
# Hybrid inverters for a 48 V battery: from about a kilowatt up.
PLAUSIBLE_INVERTER_W = (500.0, 100_000.0)


class TypedValueError(ValueError):
    """A typed value that cannot be read as meant; `hint` says how to write it."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


@dataclass(frozen=True)
class _Number:
    text: str
    value: float


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _plausible_v(value: float) -> bool:
    return PLAUSIBLE_PACK_V[0] <= value <= PLAUSIBLE_PACK_V[1]


def _decimal_comma(token: str) -> float | None:
    """``53,2`` -> 53.2 when the comma can only be a decimal comma."""
    if token.count(",") != 1 or "." in token:
        return None
    whole, frac = token.split(",")
    if not (whole.lstrip("-").isdigit() and frac.isdigit()):
        return None
    return _number(f"{whole}.{frac}")


def parse_pack_voltages(values: Iterable[str]) -> list[float]:
    """Multimeter readings in pack order, as typed: ``53.2 53.1``, ``53.2,53.1``, ``53,2 53,1``."""
    out: list[float] = []
    for chunk in values:
        for token in chunk.split():
            out.extend(_voltages_in(token))
    return out


def _voltages_in(token: str) -> list[float]:
    decimal = _decimal_comma(token)
    if decimal is not None:
        parts = [_number(p) for p in token.split(",")]
        as_list = [p for p in parts if p is not None]
        if _plausible_v(decimal) and not all(_plausible_v(p) for p in as_list):
            return [_pack_voltage(token, decimal)]  # "53,2": 2 V is no pack
        if _plausible_v(decimal) and all(_plausible_v(p) for p in as_list):
            raise TypedValueError(
                f"{token!r} could be one pack at {decimal:g} V or two packs at "
                f"{as_list[0]:g} and {as_list[1]:g} V",
                hint=f"write {decimal:g} for one pack, or {as_list[0]:g} {as_list[1]:g} for two",
            )
    return [_pack_voltage(part, _number(part)) for part in token.split(",") if part]


def _pack_voltage(text: str, value: float | None) -> float:
    if value is None:
        raise TypedValueError(
            f"{text!r} is not a voltage", hint="write volts with a decimal point: 53.2"
        )
    if value < 0:
        raise TypedValueError(
            f"{text} V is negative: the multimeter's probes are the wrong way round",
            hint=f"measure red on + and black on -: that pack reads {-value:g} V",
        )
    if value == 0:
        raise TypedValueError(
            f"{text} V: the pack is off or its BMS has cut the terminals",
            hint="switch the pack on (ON/OFF button) and measure again",
        )
    if not _plausible_v(value):
        guess = _rescaled(value)
        if guess is not None:
            raise TypedValueError(
                f"{text} is not a pack voltage in volts: did you mean {guess:.2f} V?",
                hint=f"write volts: {guess:.2f}",
            )
        raise TypedValueError(
            f"{text} V is not the voltage of an Active16 pack (44.8-57.6 V)",
            hint="measure across the pack's + and - terminals and write volts: 53.2",
        )
    return value


def _rescaled(value: float) -> float | None:
    """A power of ten that brings `value` into the pack range (5320 -> 53.20)."""
    for exponent in (-1, -2, -3, -4, 1):
        candidate = value * 10.0**exponent
        if _plausible_v(candidate):
            return candidate
    return None


_POWER = re.compile(r"^\s*([0-9]+(?:[.,][0-9]+)?)\s*(kw|w)?\s*$", re.IGNORECASE)


def parse_power_w(text: str) -> float:
    """An inverter's rated power: ``8000``, ``8000W``, ``8kW``, ``8,5 kW`` -> watts."""
    match = _POWER.match(text)
    if match is None:
        raise TypedValueError(
            f"{text!r} is not a power", hint="write watts (8000) or kilowatts with kW (8kW)"
        )
    number = float(match.group(1).replace(",", "."))
    unit = (match.group(2) or "").lower()
    watts = number * 1000 if unit == "kw" else number
    low, high = PLAUSIBLE_INVERTER_W
    if unit == "" and 0 < number < low and low <= number * 1000 <= high:
        raise TypedValueError(
            f"{text} W is not an inverter's power: did you mean {number:g} kW?",
            hint=f"write {number * 1000:g} or {number:g}kW",
        )
    if not low <= watts <= high:
        raise TypedValueError(
            f"{text}: {watts:g} W is not a hybrid inverter's rated power",
            hint="give the rated power from the inverter's label, e.g. 8000 or 8kW",
        )
    return watts
