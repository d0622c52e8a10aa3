"""The monitor screen: packs, CAN limits and heartbeat, highlighted limits."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from rich.console import Group
from rich.live import Live
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from active_cli.cli.output import stdout
from active_cli.monitoring import MonitorModel, MonitorView, out_of_range


def _cell(value: float, fmt: str, kind: str) -> Text:
    text = Text(format(value, fmt))
    if out_of_range(kind, value):
        text.stylize("bold red")
    return text


def screen(view: MonitorView) -> Group:
    table = Table(title="Packs", title_justify="left", expand=False)
    for name in (
        "addr",
        "V",
        "A",
        "SOC %",
        "min cell",
        "max cell",
        "spread mV",
        "max °C",
        "alarms",
    ):
        table.add_column(name, justify="left" if name in ("addr", "alarms") else "right")
    for pack in view.packs:
        alarms = ", ".join((*pack.protections, *pack.alarms)) or "none"
        table.add_row(
            str(pack.address),
            _cell(pack.voltage_v, ".2f", "voltage_v"),
            _cell(pack.current_a, "+.1f", "current_a"),
            _cell(pack.soc_pct, ".0f", "soc_pct"),
            _cell(pack.min_cell_v, ".3f", "cell_v"),
            _cell(pack.max_cell_v, ".3f", "cell_v"),
            _cell(pack.cell_spread_mv, ".0f", "spread_mv"),
            _cell(pack.max_temp_c, ".1f", "temp_c"),
            Text(alarms, style="bold red" if alarms != "none" else ""),
        )
    lines: list[Text | Table] = []
    if view.packs:
        lines.append(table)
        age = view.packs_age_s or 0.0
        status = Text(f"RS485: read {age:.1f} s ago, {view.refreshes} refresh(es)")
        if view.packs_stale:
            status = Text(f"RS485: STALE, last good read {age:.0f} s ago", style="bold red")
        lines.append(status)
    can = view.can
    if can is not None:
        limits = can.limits
        lim = (
            f"CVL {limits.charge_voltage_v:.1f} V  CCL {limits.charge_current_a:.0f} A  "
            f"DCL {limits.discharge_current_a:.0f} A"
            if limits
            else "no 0x351"
        )
        stale = "  STALE" if view.can_stale else ""
        lines.append(
            Text(
                f"CAN {can.protocol}: {can.voltage_v} V {can.current_a} A SOC {can.soc_pct} %  "
                f"{lim}{stale}",
                style="bold red" if view.can_stale else "",
            )
        )
        if view.heartbeat_lost:
            beat = (
                "never seen"
                if view.heartbeat_age_s is None
                else f"last {view.heartbeat_age_s:.0f} s ago"
            )
            lines.append(Text(f"Inverter heartbeat 0x305: LOST ({beat})", style="bold red"))
        elif view.heartbeat_age_s is not None:
            lines.append(Text(f"Inverter heartbeat 0x305: {view.heartbeat_age_s:.1f} s ago"))
    if not lines:
        lines.append(Text("waiting for data ..."))
    return Group(*lines)


def live(
    model: MonitorModel,
    step: Callable[[], None],
    *,
    refresh: float,
    deadline: float | None,
    quiet: bool,
) -> None:
    console = stdout()
    interactive = sys.stdout.isatty() and not quiet
    with Live(
        screen(model.view(time.monotonic())),
        console=console,
        screen=interactive,
        auto_refresh=False,
        transient=False,
        redirect_stdout=False,
    ) as view:
        while deadline is None or time.monotonic() < deadline:
            started = time.monotonic()
            step()
            if not quiet:
                view.update(screen(model.view(time.monotonic())), refresh=True)
            left = refresh - (time.monotonic() - started)
            if deadline is not None:
                left = min(left, deadline - time.monotonic())
            if left > 0:
                time.sleep(left)


def show_once(view: MonitorView) -> None:
    stdout().print(screen(view))


def show_summary(view: MonitorView) -> None:
    console = stdout()
    console.print(screen(view))
    table = Table(title="Seen while monitoring (min – max)", title_justify="left")
    table.add_column("value")
    table.add_column("min", justify="right")
    table.add_column("max", justify="right")
    for name, (low, high) in view.extremes.items():
        table.add_row(escape(name), f"{low:g}", f"{high:g}")
    console.print(table)
