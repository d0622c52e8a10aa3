"""The LiFePO4 cell's open-circuit voltage curve, and what follows from it.

Shared by the scenario reader (a pack given as a rest voltage starts at the
SOC this curve gives) and the stack's physics (a cell rests at the voltage
this curve gives for its SOC). Pure functions over numbers: no scenario, no
pack object, so both sides import it without importing each other.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from typing import Final

from active_cli import spec

# Rest voltage of one LiFePO4 cell against the BMS's SOC (our table, shaped like
# published LFP curves): steep below ~10 % and above ~95 %, and a flat plateau
# of ~3.26-3.35 V in between. The plateau is why a small pack-voltage spread can
# hide a large SOC difference. 0 % sits at the cell
# under-voltage alarm (2.90 V): that is where a BMS recalibrates its SOC to zero.
LFP_OCV_CURVE: Final[tuple[tuple[float, float], ...]] = (
    (0.0, 2.900),
    (3.0, 3.050),
    (6.0, 3.150),
    (10.0, 3.220),
    (15.0, 3.255),
    (20.0, 3.268),
    (30.0, 3.283),
    (40.0, 3.295),
    (50.0, 3.305),
    (60.0, 3.315),
    (70.0, 3.324),
    (80.0, 3.330),
    (90.0, 3.338),
    (95.0, 3.345),
    (97.0, 3.370),
    (99.0, 3.420),
    (100.0, 3.450),
)
_OCV_SOC = tuple(p[0] for p in LFP_OCV_CURVE)
_OCV_V = tuple(p[1] for p in LFP_OCV_CURVE)


def ocv_v(soc_pct: float) -> float:
    """Rest voltage of one cell at `soc_pct` (clamped to 0..100), by interpolation."""
    soc = min(100.0, max(0.0, soc_pct))
    i = bisect.bisect_right(_OCV_SOC, soc)
    if i >= len(_OCV_SOC):
        return _OCV_V[-1]
    s0, s1 = _OCV_SOC[i - 1], _OCV_SOC[i]
    v0, v1 = _OCV_V[i - 1], _OCV_V[i]
    return v0 + (v1 - v0) * (soc - s0) / (s1 - s0)


def soc_from_ocv(cell_v: float) -> float:
    """The SOC whose rest voltage is `cell_v` (the inverse of `ocv_v`, clamped)."""
    if cell_v <= _OCV_V[0]:
        return 0.0
    if cell_v >= _OCV_V[-1]:
        return 100.0
    i = bisect.bisect_right(_OCV_V, cell_v)
    v0, v1 = _OCV_V[i - 1], _OCV_V[i]
    s0, s1 = _OCV_SOC[i - 1], _OCV_SOC[i]
    return s0 + (s1 - s0) * (cell_v - v0) / (v1 - v0)


def pack_rest_voltage_range_v() -> tuple[float, float]:
    """Lowest and highest rest voltage a 16S pack of this model can show."""
    n = spec.CELLS_IN_SERIES
    return (round(n * _OCV_V[0], 3), round(n * _OCV_V[-1], 3))


def soc_for_pack_voltage(voltage_v: float, cell_offsets_mv: Iterable[int] = ()) -> float:
    """The SOC at which a pack rests at `voltage_v` (sum of cells, no current).

    Cell offsets shift the pack voltage by their sum, so they are taken off
    before inverting the OCV curve.
    """
    offset_v = sum(cell_offsets_mv) / 1000.0
    return soc_from_ocv((voltage_v - offset_v) / spec.CELLS_IN_SERIES)
