"""Pylon LV CAN ids and the id sets of its two profiles: plain data, no codec.

Split from `pylon_can` (which loads the DBC through cantools) so that what
only needs to know the ids (an RS485 scan's checks, the CAN window's early
end) does not import cantools and python-can.
"""

from __future__ import annotations

HEARTBEAT_ID = 0x305
LIMITS_ID = 0x351
SOC_SOH_ID = 0x355
MEASUREMENTS_ID = 0x356
PROTECTION_ID = 0x359
ALARMS_V13_ID = 0x35A
REQUEST_ID = 0x35C
MANUFACTURER_ID = 0x35E
BATTERY_INFO_ID = 0x35F
MODULE_COUNTS_ID = 0x372
CELL_EXTREMES_ID = 0x373
CAPACITY_ID = 0x379

PROTOCOL_V12 = "pylon-v1.2"
PROTOCOL_V13 = "pylon-v1.3"
# Only the messages both profiles share (0x351/0x355/0x356/0x35E) have arrived:
# the profile cannot be told yet.
PROTOCOL_UNKNOWN = "pylon-unknown"

# What a real US5000 sends on old (V1.2) and new (V1.3) firmware (protocols.md §4).
PYLON_V12_IDS: frozenset[int] = frozenset({0x351, 0x355, 0x356, 0x359, 0x35C, 0x35E})
PYLON_V13_IDS: frozenset[int] = frozenset({0x351, 0x355, 0x356, 0x35A, 0x35E, 0x35F})
# Victron/SMA-style extensions (protocols.md §2.3, one source each): decoded when
# seen, but no Pylontech capture shows them, so neither profile includes them.
EXTENSION_IDS: frozenset[int] = frozenset({0x372, 0x373, 0x374, 0x375, 0x376, 0x377, 0x379})
BATTERY_IDS: frozenset[int] = PYLON_V12_IDS | PYLON_V13_IDS | EXTENSION_IDS

_V12_ONLY = PYLON_V12_IDS - PYLON_V13_IDS  # 0x359, 0x35C
_V13_ONLY = PYLON_V13_IDS - PYLON_V12_IDS  # 0x35A, 0x35F
