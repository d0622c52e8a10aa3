"""The monitor screen: packs, CAN limits and heartbeat, highlighted limits.

Unknown values show as "?"; the last values of a pack that stopped answering
are dimmed next to a red NO REPLY; a bus that was asked for and gave nothing
says so in red. The live screen is drawn only on a terminal: piped (or with
``--json``) stdout gets the result once, at the end.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from rich import box
from rich.console import Group
from rich.live import Live
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from active_cli.cli.output import stderr, stdout
from active_cli.model import PackReading
from active_cli.monitoring import PER_ADDRESS, MonitorModel, MonitorView, out_of_range
from active_cli.sanitize import printable

RED = "bold red"
YELLOW = "yellow"


def _cell(value: float | None, fmt: str, kind: str, *, old: bool = False) -> Text:
    if value is None:
        return Text("?", style="dim" if old else "")
    text = Text(format(value, fmt))
    if out_of_range(kind, value):
        text.stylize("red" if old else RED)
    if old:
        text.stylize("dim")
    return text


def _num(value: float | None, fmt: str) -> str:
    return "?" if value is None else format(value, fmt)


def _alarm_words(pack: PackReading) -> str:
    # The same words as `active scan`: "none" only when 0x44 was actually read.
    words = [*pack.protections, *pack.alarms]
    if not pack.alarm_read:
        words.append("alarms not read")
    return ", ".join(words) if words else "none"


def _read_state(view: MonitorView, address: int, *, wide: bool = True) -> Text:
    age = view.pack_ages_s.get(address, 0.0)
    if not wide:
        # Compact: the same states in fewer letters, so 16 rows fit 80x24.
        if address in view.missing_packs:
            stale = ", STALE" if address in view.stale_packs else ""
            return Text(f"NO REPLY{stale} {age:.0f}s", style=RED)
        if address in view.stale_packs:
            return Text(f"STALE {age:.0f}s", style=RED)
        return Text(f"{age:.1f}s")
    if address in view.missing_packs:
        stale = ", STALE" if address in view.stale_packs else ""
        return Text(f"NO REPLY{stale} (last read {age:.0f} s ago)", style=RED)
    if address in view.stale_packs:
        return Text(f"STALE (read {age:.0f} s ago)", style=RED)
    return Text(f"{age:.1f} s ago")


def _compact_packs_table(view: MonitorView, *, titled: bool) -> Table:
    """One line per pack, no vertical rules (and no title on the live screen):
    16 packs, the status, CAN and the heartbeat fit an 80x24 terminal together."""
    table = Table(
        title="Packs" if titled else None,
        title_justify="left",
        box=box.SIMPLE_HEAD,
        padding=(0, 1, 0, 0),
        pad_edge=False,
        show_edge=False,
        expand=False,
    )
    left = ("adr", "alarms", "read")
    for name in ("adr", "V", "A", "SOC%", "min V", "max V", "mV", "max°C", "alarms", "read"):
        table.add_column(
            name,
            justify="left" if name in left else "right",
            no_wrap=name != "alarms",
            overflow="fold",
        )
    for pack in view.packs:
        table.add_row(*_pack_row(view, pack, wide=False))
    return table


def _packs_table(view: MonitorView, *, wide: bool = False, titled: bool = True) -> Table:
    if not wide:
        return _compact_packs_table(view, titled=titled)
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
        "read",
    ):
        table.add_column(name, justify="left" if name in ("addr", "alarms", "read") else "right")
    for pack in view.packs:
        table.add_row(*_pack_row(view, pack, wide=True))
    return table


def _pack_row(view: MonitorView, pack: PackReading, *, wide: bool) -> list[str | Text]:
    """One pack's cells, the same in the compact and the wide table."""
    old = pack.address in view.missing_packs or pack.address in view.stale_packs
    alarms = _alarm_words(pack)
    alarm_style = "" if alarms == "none" else RED if pack.protections or pack.alarms else "yellow"
    return [
        str(pack.address),
        _cell(pack.voltage_v, ".2f", "voltage_v", old=old),
        _cell(pack.current_a, "+.1f", "current_a", old=old),
        _cell(pack.soc_pct, ".0f", "soc_pct", old=old),
        _cell(pack.min_cell_v, ".3f", "cell_v", old=old),
        _cell(pack.max_cell_v, ".3f", "cell_v", old=old),
        _cell(pack.cell_spread_mv, ".0f", "spread_mv", old=old),
        _cell(pack.max_temp_c, ".1f", "temp_c", old=old),
        Text(alarms, style=f"{alarm_style} dim" if old else alarm_style),
        _read_state(view, pack.address, wide=wide),
    ]


def _rs485_lines(
    view: MonitorView, *, wide: bool = False, titled: bool = True
) -> list[Text | Table]:
    if not view.packs:
        if not view.rs485_requested:
            return []
        if view.refreshes == 0:
            return [Text("RS485: not read yet")]
        return [Text("RS485: no pack answered the scan", style=RED)]
    counts = f"{view.refreshes} refresh(es), {view.read_errors} read error(s)"
    if view.missing_packs:
        missing = ", ".join(str(a) for a in view.missing_packs)
        status = Text(f"RS485: NO REPLY from pack {missing}; {counts}", style=RED)
    elif view.packs_stale:
        status = Text(
            f"RS485: STALE, last good read {view.packs_age_s or 0.0:.0f} s ago; {counts}",
            style=RED,
        )
    else:
        status = Text(f"RS485: read {view.packs_age_s or 0.0:.1f} s ago, {counts}")
    lines: list[Text | Table] = [_packs_table(view, wide=wide, titled=titled), status]
    if view.refresh_behind:
        lines.append(Text(refresh_behind_text(view), style=YELLOW))
    if view.why_per_address and view.rs485_plan == PER_ADDRESS:
        # Not an error (every pack is still read), but the reason the refresh is slow.
        why = printable(view.why_per_address)  # it may quote what came off the line
        lines.append(Text(f"RS485 per address: {why}", style=YELLOW))
    return lines


def refresh_behind_text(view: MonitorView) -> str:
    """'refresh 4.3 s: 16 packs at 9600 baud, group read (asked 2 s)': why the screen is slower."""
    baud = f" at {view.rs485_baud} baud" if view.rs485_baud else ""
    plan = f", {view.rs485_plan}" if view.rs485_plan else ""
    return (
        f"refresh {view.rs485_cycle_s or 0.0:.1f} s: {len(view.packs)} packs{baud}{plan} "
        f"(asked {view.refresh_s or 0.0:g} s)"
    )


def _can_lines(view: MonitorView) -> list[Text | Table]:
    can = view.can
    if can is None:
        if not view.can_requested:
            return []
        beat = (
            "UNKNOWN (nothing received)"
            if view.heartbeat_age_s is None
            else f"heard {view.heartbeat_age_s:.1f} s ago, but there is no battery data to answer"
        )
        return [
            Text(
                "CAN: nothing received from the battery "
                "(check the bitrate, CAN-H/CAN-L and termination)",
                style=RED,
            ),
            Text(f"Inverter heartbeat 0x305: {beat}", style=RED),
        ]
    line = Text()
    measured = (
        f"CAN {can.protocol}: {_num(can.voltage_v, '.2f')} V {_num(can.current_a, '+.1f')} A "
        f"SOC {_num(can.soc_pct, '.0f')} %"
    )
    if can.soh_pct is not None:
        measured += f" SOH {can.soh_pct:.0f} %"
    if view.can_stale or view.measurements_stale:
        line.append(f"{measured} STALE", style=RED)
    else:
        line.append(measured)
    # The limits on a line of their own: at 80 columns one line would wrap
    # between a label and its value.
    line.append("\n  ")
    limits = can.limits
    if limits is None:
        line.append("no 0x351 (charge limits)", style=RED)
    else:
        lim = (
            f"CVL {limits.charge_voltage_v:.1f} V CCL {limits.charge_current_a:.0f} A "
            f"DCL {limits.discharge_current_a:.0f} A"
        )
        if view.limits_stale:
            line.append(f"{lim}  STALE (0x351 {view.limits_age_s or 0.0:.0f} s old)", style=RED)
        else:
            line.append(lim)
    lines: list[Text | Table] = [line]
    if view.heartbeat_lost:
        beat = (
            "never seen"
            if view.heartbeat_age_s is None
            else f"last {view.heartbeat_age_s:.0f} s ago"
        )
        lines.append(Text(f"Inverter heartbeat 0x305: LOST ({beat})", style=RED))
    elif view.heartbeat_age_s is not None:
        lines.append(Text(f"Inverter heartbeat 0x305: {view.heartbeat_age_s:.1f} s ago"))
    return lines


def screen(view: MonitorView, *, wide: bool = False, titled: bool = True) -> Group:
    """One frame. Compact by default (80x24 holds 16 packs with the CAN and
    heartbeat lines; the live screen drops the table title for that,
    ``titled=False``); ``wide`` is the full table with rules."""
    lines = [*_rs485_lines(view, wide=wide, titled=titled), *_can_lines(view)]
    if not lines:
        lines.append(Text("waiting for data ..."))
    return Group(*lines)


def watch(
    model: MonitorModel,
    step: Callable[[], None],
    *,
    refresh: float,
    deadline: float | None,
    live: bool,
    wide: bool = False,
) -> None:
    """Call `step` every `refresh` seconds until `deadline` (or Ctrl-C).

    With `live`, the screen is redrawn after every step on the terminal's
    alternate screen; without, nothing is printed (the caller prints the
    result at the end, so piped output and ``--json`` hold only that).
    """
    if not live:
        _loop(step, refresh=refresh, deadline=deadline)
        return
    with Live(
        screen(model.view(time.monotonic()), wide=wide, titled=False),
        console=stdout(wide=wide),
        screen=True,
        auto_refresh=False,
        transient=False,
        redirect_stdout=False,
    ) as shown:

        def step_and_draw() -> None:
            step()
            frame = screen(model.view(time.monotonic()), wide=wide, titled=False)
            shown.update(frame, refresh=True)

        _loop(step_and_draw, refresh=refresh, deadline=deadline)


def _loop(
    step: Callable[[], None],
    *,
    refresh: float,
    deadline: float | None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Call `step` every `refresh` seconds on `clock` until `deadline` (tests inject both)."""
    while deadline is None or clock() < deadline:
        started = clock()
        step()
        left = refresh - (clock() - started)
        if deadline is not None:
            left = min(left, deadline - clock())
        if left > 0:
            sleep(left)


def announce(view: MonitorView, *, duration: float | None) -> None:
    """One line on stderr while no screen is drawn: what is watched, how it ends."""
    what = []
    if view.rs485_requested:
        what.append(f"{len(view.packs)} pack(s) on RS485")
    if view.can_requested:
        what.append("CAN")
    until = f"for {duration:g} s" if duration is not None else "until Ctrl-C"
    stderr().print(
        f"monitoring {' and '.join(what)} {until}; the result is printed at the end",
        soft_wrap=True,
        highlight=False,
    )


def show_once(view: MonitorView, *, wide: bool = False) -> None:
    stdout(wide=wide).print(screen(view, wide=wide))


def show_summary(view: MonitorView, *, wide: bool = False) -> None:
    console = stdout(wide=wide)
    console.print(screen(view, wide=wide))
    table = Table(title="Seen while monitoring (min – max)", title_justify="left")
    table.add_column("value")
    table.add_column("min", justify="right")
    table.add_column("max", justify="right")
    for name, (low, high) in view.extremes.items():
        table.add_row(escape(name), f"{low:g}", f"{high:g}")
    console.print(table)
