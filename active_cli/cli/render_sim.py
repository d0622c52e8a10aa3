"""What ``active sim`` prints: where to connect, a live status line, a summary."""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass

from rich.live import Live
from rich.markup import escape
from rich.table import Table

from active_cli.cli.output import stdout, to_jsonable
from active_cli.sim.site import SimulatedSite


@dataclass(frozen=True)
class ScenarioSummary:
    """One built-in scenario as `active sim --list --json` lists it."""

    name: str
    packs: int
    description: str


def show_scenarios(*, json_out: bool = False) -> None:
    from active_cli.sim.scenario import builtin_scenario_names, load_scenario

    if json_out:
        from active_cli.cli.output import print_json

        summaries = []
        for name in builtin_scenario_names():
            scenario = load_scenario(name)
            summaries.append(ScenarioSummary(name, len(scenario.packs), scenario.description))
        print_json(summaries, command="sim --list")
        return
    table = Table(title="Built-in scenarios", title_justify="left")
    table.add_column("name")
    table.add_column("packs", justify="right")
    table.add_column("what it shows")
    for name in builtin_scenario_names():
        scenario = load_scenario(name)
        table.add_row(name, str(len(scenario.packs)), escape(scenario.description))
    stdout().print(table)


def print_endpoints_json(site: SimulatedSite) -> None:
    sys.stdout.write(json.dumps(to_jsonable(site.endpoints)) + "\n")
    sys.stdout.flush()


def show_endpoints(site: SimulatedSite) -> None:
    ep = site.endpoints
    console = stdout()
    console.print(
        f"[bold]Simulating[/] {escape(site.scenario.name)}: {site.pack_count} pack(s), "
        f"inverter {'present' if site.scenario.inverter_present else 'absent'}"
        + "".join(f"; {note}" for note in power_notes(site))
    )
    if site.scenario.description:
        console.print(f"[dim]{escape(site.scenario.description)}[/]")
    if ep.rs485_pty:
        console.print(f"RS485 pty:     active scan --port {ep.rs485_pty} --baud {ep.baud}")
    console.print(f"RS485 gateway: active scan --port {ep.rs485_url} --baud {ep.baud}")
    if ep.rs485_tap_url:
        console.print(f"RS485 tap:     active log capture line.rs485 --port {ep.rs485_tap_url}")
    if ep.socketcand_port is not None:
        console.print(
            f"CAN:           active scan --interface socketcand --channel {ep.can_channel} "
            f"--can-option host={ep.socketcand_host} --can-option port={ep.socketcand_port}"
        )
    console.print("[dim]Ctrl-C stops the simulator.[/]")


def power_notes(site: SimulatedSite) -> list[str]:
    """What is switched off; nothing when everything is on (as a scenario starts by default)."""
    off = [p for p in range(1, site.pack_count + 1) if not site.pack_is_on(p)]
    notes = []
    if len(off) == site.pack_count:
        notes.append("all packs off")
    elif off:
        notes.append("pack(s) " + ", ".join(str(p) for p in off) + " off")
    if site.scenario.inverter_present and not site.inverter_is_on:
        notes.append("inverter off")
    return notes


def status_line(site: SimulatedSite) -> str:
    power = "".join(f"  {note}" for note in power_notes(site))
    with site.lock:
        site.sync()
        stack = site.stack
        line = f"t={stack.elapsed_s:6.0f} s"
        if stack.powered_packs:  # the aggregate is over the packs that are on
            line += (
                f"  {stack.voltage_v:6.2f} V  {stack.current_a:+7.1f} A  "
                f"SOC {stack.soc_pct:5.1f} %  cells {stack.min_cell_v:.3f}–{stack.max_cell_v:.3f} V"
            )
    line += power
    line += f"  RS485 requests {site.responder.requests}"
    if site.battery is not None:
        line += f"  CAN cycles {site.battery.cycles_sent}"
    if site.inverter is not None:
        line += f"  0x305 sent {site.inverter.heartbeats_sent}"
    return line


def run_until_stopped(site: SimulatedSite, *, duration: float | None, live: bool) -> None:
    deadline = None if duration is None else time.monotonic() + duration
    if not live or not sys.stdout.isatty():
        while deadline is None or time.monotonic() < deadline:
            time.sleep(0.2)
        return
    with Live(status_line(site), console=stdout(), refresh_per_second=2, transient=False) as view:
        while deadline is None or time.monotonic() < deadline:
            time.sleep(0.5)
            view.update(status_line(site))


def show_summary(site: SimulatedSite) -> None:
    stdout().print(f"Stopped. {escape(status_line(site))}")
