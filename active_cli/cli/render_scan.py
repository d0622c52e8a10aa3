"""Tables for ``active scan``: packs, stack summary, CAN, findings."""

from __future__ import annotations

import contextlib
import dataclasses
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from rich import box
from rich.markup import escape
from rich.table import Table

from active_cli import spec
from active_cli.checks.scan import CAN_NO_BATTERY_FRAMES, NO_PACKS
from active_cli.cli.hints import fix_with_hint
from active_cli.cli.output import print_findings, stderr, stdout
from active_cli.model import PackReading, StackSnapshot

if TYPE_CHECKING:
    from active_cli.cli.connect import Connection


@contextlib.contextmanager
def progress(*, enabled: bool) -> Iterator[Callable[[int, str], None] | None]:
    """A one-line spinner on stderr while polling (only on a terminal)."""
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    console = stderr()
    with console.status("scanning ...") as status:

        def update(address: int, what: str) -> None:
            status.update(f"{what} address {address} ..." if address else f"{what} ...")

        yield update


def describe_connection(snapshot: StackSnapshot, connection: Connection) -> StackSnapshot:
    port = f"simulator ({connection.sim})" if connection.sim else connection.port
    can = connection.can_options().describe() if connection.interface else None
    if connection.sim:
        can = "simulator (python-can virtual)"
    return dataclasses.replace(
        snapshot,
        port=port if connection.wants_rs485 else None,
        # The link's own baud (discovery sets it) wins: with --sim it is the site's.
        baud=snapshot.baud or (connection.baud if connection.wants_rs485 else None),
        can_interface=can if connection.wants_can else None,
    )


def _alarm_words(pack: PackReading) -> str:
    words = [*pack.protections, *pack.alarms]
    if not pack.alarm_read:
        words.append("alarms not read")
    return ", ".join(words) if words else "none"


def _known(value: float | None, fmt: str) -> str:
    """`value` formatted, or "?" when the pack did not report it (never a made-up 0)."""
    return "?" if value is None else format(value, fmt)


def _cells(pack: PackReading) -> str:
    low, high, spread = pack.min_cell_v, pack.max_cell_v, pack.cell_spread_mv
    if low is None or high is None or spread is None:
        return "?"
    text = f"{low:.3f}–{high:.3f} ({spread:.0f} mV)"
    if low < spec.CELL_UNDER_VOLTAGE_ALARM_V or high >= spec.CELL_OVER_VOLTAGE_ALARM_V:
        return f"[bold red]{text}[/]"
    return text


def _cells_short(pack: PackReading) -> str:
    low, high = pack.min_cell_v, pack.max_cell_v
    if low is None or high is None:
        return "?"
    text = f"{low:.3f}-{high:.3f}"
    if low < spec.CELL_UNDER_VOLTAGE_ALARM_V or high >= spec.CELL_OVER_VOLTAGE_ALARM_V:
        return f"[bold red]{text}[/]"
    return text


def packs_table(snapshot: StackSnapshot, *, wide: bool = False) -> Table:
    """Every pack, one row each.

    Narrow (the default) fits 80 columns with every serial, voltage and current
    whole: no vertical rules, SOH and cycles left to ``--wide`` and the JSON,
    and only the alarms column wraps. ``wide`` is the full boxed table.
    """
    if wide:
        return _wide_packs_table(snapshot)
    table = Table(
        title="Packs",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        padding=(0, 1, 0, 0),
        pad_edge=False,
        show_edge=False,
    )
    right = {"V", "A", "SOC%", "mV", "max°C"}
    for name in ("adr", "serial", "fw", "V", "A", "SOC%", "cells V", "mV", "max°C"):
        table.add_column(name, justify="right" if name in right else "left", no_wrap=True)
    table.add_column("alarms", overflow="fold")
    for pack in snapshot.packs:
        spread = pack.cell_spread_mv
        table.add_row(
            str(pack.address),
            escape(pack.serial or "?"),
            escape(pack.firmware or "?"),
            f"{pack.voltage_v:.2f}",
            f"{pack.current_a:+.1f}",
            _known(pack.soc_pct, ".0f"),
            _cells_short(pack),
            "?" if spread is None else f"{spread:.0f}",
            _known(pack.max_temp_c, ".1f"),
            escape(_alarm_words(pack)),
        )
    return table


def _wide_packs_table(snapshot: StackSnapshot) -> Table:
    table = Table(title="Packs", title_justify="left")
    for name in ("addr", "serial", "firmware", "V", "A", "SOC %", "SOH %", "cycles"):
        table.add_column(name, justify="right" if name in ("V", "A", "SOC %", "SOH %") else "left")
    table.add_column("cells min–max V (spread)")
    table.add_column("max °C", justify="right")
    table.add_column("alarms")
    for pack in snapshot.packs:
        table.add_row(
            str(pack.address),
            escape(pack.serial or "?"),
            escape(pack.firmware or "?"),
            f"{pack.voltage_v:.2f}",
            f"{pack.current_a:+.1f}",
            _known(pack.soc_pct, ".0f"),
            _known(pack.soh_pct, ".0f"),
            str(pack.cycles),
            _cells(pack),
            _known(pack.max_temp_c, ".1f"),
            escape(_alarm_words(pack)),
        )
    return table


# RS485 and CAN currents are read at different moments (a scan polls pack after
# pack over seconds, the master sums its own reading), so they are compared with
# this much slack before the difference is pointed out.
_CURRENT_AGREE_A = 2.0


def summary_lines(snapshot: StackSnapshot) -> list[str]:
    lines: list[str] = []
    if snapshot.port:
        lines.append(
            f"RS485: {snapshot.port}" + (f" at {snapshot.baud} baud" if snapshot.baud else "")
        )
    packs = snapshot.packs
    can = snapshot.can
    state = can.state if can is not None else None
    total_a: float | None = None
    if packs:
        total_a = sum(p.current_a for p in packs)
        volts = sum(p.voltage_v for p in packs) / len(packs)
        socs = [soc for p in packs if (soc := p.soc_pct) is not None]
        lowest = "lowest SOC " + (f"{min(socs):.0f} %" if socs else "?")
        if socs and len(socs) < len(packs):
            lowest += f" ({len(packs) - len(socs)} unknown)"
        lines.append(f"Stack: {len(packs)} pack(s), {volts:.2f} V, {total_a:+.1f} A, {lowest}")
        sohs = [soh for p in packs if (soh := p.soh_pct) is not None]
        if sohs:
            health = f"SOH {min(sohs):.0f} % (lowest pack)"
        elif state is not None and state.soh_pct is not None:
            # RS485 0x42 carries no SOH; the master's CAN 0x355 does.
            health = f"SOH {state.soh_pct:.0f} % (CAN 0x355, whole stack)"
        else:
            health = "SOH not reported"
        lines.append(
            f"  {health}; {spec.usable_energy_kwh(len(packs)):.2f} kWh rated usable capacity"
        )
        if snapshot.group_count is not None:
            master, count = snapshot.master_address, snapshot.group_count
            lines.append(f"Master at address {master} reports {count} pack(s)")
    if can is not None:
        lines.append(f"CAN: {snapshot.can_interface or ''}")
        if state is not None:
            limits = state.limits
            lim = (
                f"CVL {limits.charge_voltage_v:.1f} V, CCL {limits.charge_current_a:.0f} A, "
                f"DCL {limits.discharge_current_a:.0f} A"
                if limits
                else "no limits message"
            )
            can_soh = "" if state.soh_pct is None else f", SOH {state.soh_pct:g} %"
            lines.append(
                f"  {state.protocol}: {state.voltage_v} V, {state.current_a} A, "
                f"SOC {state.soc_pct} %{can_soh}, {state.module_count} module(s)"
            )
            lines.append(f"  limits: {lim}")
            can_a = state.current_a
            if (
                total_a is not None
                and can_a is not None
                and abs(total_a - can_a) > _CURRENT_AGREE_A
            ):
                lines.append(
                    f"  stack current: RS485 sum {total_a:+.1f} A, CAN {can_a:+.1f} A "
                    "(read at different moments, or a pack not polled)"
                )
        beat = (
            f"every {can.heartbeat_period_s:.2f} s"
            if can.heartbeat_period_s
            else ("once" if can.heartbeat_count else "none")
        )
        lines.append(f"  inverter heartbeat 0x305: {beat}")
    lines.append(f"Scan took {snapshot.duration_s:.1f} s")
    return lines


def show(snapshot: StackSnapshot, *, wide: bool = False) -> None:
    """The scan as text: packs, stack and CAN summary, findings, and the verdict last."""
    from active_cli.checks.scan import scan_verdict

    console = stdout(wide=wide)
    if snapshot.packs:
        console.print(packs_table(snapshot, wide=wide))
    for line in summary_lines(snapshot):
        # A port, a capture path or an interface is never broken across lines.
        where = line.startswith(("RS485: ", "CAN: "))
        console.print(escape(line), soft_wrap=where)
    print_findings(console, snapshot.findings, scan_verdict(snapshot))


def show_no_reply(snapshot: StackSnapshot) -> None:
    """One line per silent path on stderr, with its hint (exit 3 follows).

    Printed even with --json, where the findings table is not: someone piping
    the JSON still sees why the command failed.
    """
    console = stderr()
    for finding in snapshot.findings:
        if finding.code in (NO_PACKS, CAN_NO_BATTERY_FRAMES):
            where = f" ({finding.detail})" if finding.detail else ""
            console.print(f"[bold red]error:[/] {escape(finding.title + where)}", soft_wrap=True)
            fix = fix_with_hint(finding)
            if fix:
                console.print(f"[dim]hint:[/] {escape(fix)}", soft_wrap=True)
