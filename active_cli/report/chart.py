"""The geometry of one pack's cell-voltage chart, drawn as inline SVG by the template.

Cells of one healthy pack differ by a few millivolts, so a bar chart from 0 V
would show sixteen equal bars. The axis spans the pack's own min..max (with a
margin of at least 5 mV each side) and is labelled in volts, so the chart
shows the spread honestly; the lowest and the highest cell are marked.
"""

from __future__ import annotations

from dataclasses import dataclass

WIDTH = 160.0  # SVG units; drawn 46 mm wide, so 7 units of text print at about 5.7 pt
HEIGHT = 72.0
_LEFT = 27.0  # room for the axis labels
_TOP = 6.0
_BOTTOM = 16.0  # room for the cell numbers
_MARGIN_V = 0.005


@dataclass(frozen=True)
class Bar:
    cell: int
    x: float
    y: float
    width: float
    height: float
    voltage_v: float
    kind: str  # "min" | "max" | "cell"


@dataclass(frozen=True)
class CellChart:
    bars: tuple[Bar, ...]
    axis_top_v: float
    axis_bottom_v: float
    plot_left: float
    plot_top: float
    plot_bottom: float
    width: float = WIDTH
    height: float = HEIGHT

    @property
    def min_bar(self) -> Bar:
        return next(b for b in self.bars if b.kind == "min")

    @property
    def max_bar(self) -> Bar:
        return next(b for b in self.bars if b.kind == "max")


def cell_chart(cell_voltages_v: tuple[float, ...]) -> CellChart | None:
    """The chart of these cells, or None when no cell was read."""
    if not cell_voltages_v:
        return None
    lo, hi = min(cell_voltages_v), max(cell_voltages_v)
    bottom = lo - max(_MARGIN_V, (hi - lo) * 0.25)
    top = hi + max(_MARGIN_V, (hi - lo) * 0.1)
    plot_h = HEIGHT - _TOP - _BOTTOM
    slot = (WIDTH - _LEFT) / len(cell_voltages_v)
    low_index = cell_voltages_v.index(lo)
    high_index = cell_voltages_v.index(hi)
    bars = []
    for i, v in enumerate(cell_voltages_v):
        h = max(1.0, (v - bottom) / (top - bottom) * plot_h)
        kind = "min" if i == low_index else "max" if i == high_index else "cell"
        if lo == hi:
            kind = "min" if i == 0 else "cell"
        bars.append(
            Bar(
                cell=i + 1,
                x=round(_LEFT + i * slot + slot * 0.15, 2),
                y=round(_TOP + plot_h - h, 2),
                width=round(slot * 0.7, 2),
                height=round(h, 2),
                voltage_v=v,
                kind=kind,
            )
        )
    if lo == hi:  # one value everywhere: the same bar is both min and max
        first = bars[0]
        bars.append(Bar(first.cell, first.x, first.y, 0.0, 0.0, first.voltage_v, "max"))
    return CellChart(
        bars=tuple(bars),
        axis_top_v=top,
        axis_bottom_v=bottom,
        plot_left=_LEFT,
        plot_top=_TOP,
        plot_bottom=_TOP + plot_h,
    )
