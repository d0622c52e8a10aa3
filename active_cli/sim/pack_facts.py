"""What a simulated pack says about itself, apart from its physics.

Serial numbers, firmware strings and sensor names: the scenario reader checks
a file against them and the stack and RS485 responder use them, so they live
here, below both (the scenario never imports the stack).
"""

from __future__ import annotations

from typing import Final

# Sensor names as a scenario pins them: cell sensors "1".."4", the MOSFET, the BMS board.
TEMPERATURE_SENSOR_NAMES: Final = ("1", "2", "3", "4", "mos", "bms")
# An open NTC channel that the BMS passes through as raw 0 (0.1 K): -273.1 C.
OPEN_SENSOR_TEMP_C: Final = -273.1


def default_serial(position: int, seed: int = 0) -> str:
    """A believable, unique 16-character serial for the pack at `position` (1-based)."""
    # 104729 is prime, so positions 1..16 never collide modulo 10**7.
    number = (seed * 7919 + position * 104729) % 10_000_000
    return f"ACT162406{number:07d}"


def parse_firmware(firmware: str) -> tuple[int, ...]:
    """Parse a firmware string: "V1.3.0" -> (1, 3, 0); ValueError for anything else.

    Two or three dot-separated numbers 0..255, optionally after a "V": the
    RS485 0x96 reply carries the version as bytes.
    """
    text = firmware[1:] if firmware[:1] in ("V", "v") else firmware
    parts = text.split(".")
    if not 2 <= len(parts) <= 3 or not all(p.isdigit() for p in parts):
        raise ValueError(f"firmware {firmware!r} is not like 'V1.3.0' or '1.3'")
    numbers = tuple(int(p) for p in parts)
    if any(n > 255 for n in numbers):
        raise ValueError(f"firmware {firmware!r}: each number must be 0..255")
    return numbers
