"""Rendering for ``active check`` and ``active inverters``: RJ45 drawings and tables.

Nothing here decides anything; it shows assessments and profiles made elsewhere.
"""

from __future__ import annotations

from rich.markup import escape
from rich.table import Table

from active_cli.checks.parallel import Action, ParallelAssessment, parallel_verdict
from active_cli.checks.protocol import ProtocolAssessment, protocol_verdict
from active_cli.checks.sizing import SizingAssessment, sizing_verdict
from active_cli.checks.wiring import (
    BATTERY_PORT,
    T568B_COLOURS,
    CableMapping,
    StraightLead,
    WiringAssessment,
    cable_summary,
    map_cable,
    wiring_verdict,
)
from active_cli.cli.output import bullet_list, print_findings, stdout
from active_cli.inverters import InverterProfile, PinFunction, PortPin, by_confidence, fact_text

# One character per pin for the drawings.
_PIN_MARK = {
    PinFunction.CAN_H: "H",
    PinFunction.CAN_L: "L",
    PinFunction.RS485_A: "A",
    PinFunction.RS485_B: "B",
    PinFunction.GND: "G",
    PinFunction.POWER: "+",
    PinFunction.RESERVED: "x",
    PinFunction.NC: ".",
    PinFunction.UNKNOWN: "?",
}
LEGEND = (
    "H/L CAN-H/L, A/B RS485-A/B, G ground, + power,",
    "x reserved, . not connected, ? unknown",
)


def rj45_drawing(
    title: str, marks: dict[int, str], *, default: str = "?", width: int = 0
) -> list[str]:
    """A small RJ45 socket: pin numbers in boxes, each pin's function underneath."""
    return [
        title.ljust(width),
        "┌─┬─┬─┬─┬─┬─┬─┬─┐".ljust(width),
        ("│" + "│".join(str(n) for n in range(1, 9)) + "│").ljust(width),
        "└─┴─┴─┴─┴─┴─┴─┴─┘".ljust(width),
        (" " + " ".join(marks.get(n, default) for n in range(1, 9))).ljust(width),
    ]


def _port_marks(pins: tuple[PortPin, ...]) -> dict[int, str]:
    return {p.pin: _PIN_MARK[p.function] for p in pins}


def show_wiring(result: WiringAssessment, profile: InverterProfile, *, wide: bool = False) -> None:
    console = stdout(wide=wide)
    cable = result.cable
    label = profile.port.label.value or "BMS port"
    bus = cable.bus.value if cable.bus else "bus unknown"
    console.print(
        f"[bold]Wiring: Active16 COM port -> {escape(profile.name)} {escape(label)}[/] "
        f"({escape(bus)})",
    )
    # The battery's unlisted pins are NC (manual); the inverter's are unknown.
    ours = rj45_drawing(
        "battery COM (RJ45)",
        {n: _PIN_MARK[f] for n, f in BATTERY_PORT.items()},
        default=_PIN_MARK[PinFunction.NC],
        width=24,
    )
    theirs = rj45_drawing(f"{profile.name} {label}", _port_marks(profile.port.pins))
    for left, right in zip(ours, theirs, strict=True):
        console.print(escape(f"  {left}  {right}"), soft_wrap=True)
    for line in LEGEND:
        console.print(f"[dim]  {line}[/]")
    console.print("[dim]  pin 1 is the white-orange wire of a T568B lead[/]")
    console.print(_cable_table(cable))
    if cable.straight is StraightLead.DOES_NOT_FIT and cable.complete:
        moves = ", ".join(
            f"the {w.battery_colour} wire into pin {w.inverter_pin}" for w in cable.wires
        )
        console.print(
            f"Crimp the battery end as T568B. At the inverter end put {moves}; cut back every "
            "other wire.",
        )
    if cable.inverter_open_pins:
        opens = ", ".join(f"{p.pin} ({p.function.value})" for p in cable.inverter_open_pins)
        console.print(f"Leave open at the inverter: {escape(opens)}")
    print_findings(console, result.findings, wiring_verdict(result))


def _cable_table(cable: CableMapping) -> Table:
    table = Table(title="Cable (only these wires are needed)", title_justify="left")
    for column in ("line", "battery pin", "", "inverter pin", "confidence"):
        table.add_column(column)
    if not cable.wires:
        table.add_row("?", "see findings", "->", "unknown", "[?]")
    for wire in cable.wires:
        theirs = (
            "unknown - confirm"
            if wire.inverter_pin is None
            else f"{wire.inverter_pin} (T568B: {wire.inverter_colour})"
        )
        table.add_row(
            wire.line.value,
            f"{wire.battery_pin} ({wire.battery_colour})",
            "->",
            theirs,
            escape(wire.confidence.marker),
        )
    return table


def show_parallel(result: ParallelAssessment, *, wide: bool = False) -> None:
    console = stdout(wide=wide)
    table = Table(title="Packs before linking", title_justify="left")
    table.add_column("pack", overflow="fold")
    for column in ("voltage", "SOC"):
        table.add_column(column, justify="right", no_wrap=True)
    table.add_column("to do")
    advice = {a.label: a for a in result.advice}
    for pack in result.packs:
        todo = advice.get(pack.label)
        action = (
            "-"
            if todo is None or todo.action is Action.NONE
            else f"{todo.action.value} to about {todo.target_v:.2f} V"
        )
        soc = "-" if pack.soc_pct is None else f"{pack.soc_pct:.1f} %"
        table.add_row(escape(pack.label), f"{pack.voltage_v:.2f} V", soc, action)
    console.print(table)
    if result.highest is not None and result.lowest is not None:
        least, most = result.equalising_current_range_a
        console.print(
            f"Spread {result.spread_v:.3f} V ({escape(result.highest.label)} - "
            f"{escape(result.lowest.label)}); initial equalising current when linked "
            f"[bold]{least:.1f}-{most:.1f} A[/] (the verdict uses {most:.1f} A)"
        )
    assumptions = result.assumptions.describe()
    console.print("[dim]Assumptions:[/]")
    console.print(bullet_list(assumptions))
    print_findings(console, result.findings, parallel_verdict(result), omit_evidence=assumptions)


def show_sizing(result: SizingAssessment, *, wide: bool = False) -> None:
    console = stdout(wide=wide)
    table = Table(title="Sizing", title_justify="left", show_header=False)
    table.add_column("what")
    table.add_column("value")
    table.add_row("inverter power", f"{result.inverter_power_w:g} W")
    table.add_row("packs", str(result.packs))
    table.add_row("stack current", f"{result.stack_current_a:.1f} A at {result.voltage_v:g} V")
    table.add_row("per pack", f"{result.current_per_pack_a:.1f} A")
    table.add_row(
        "packs needed",
        f"{result.min_packs_recommended} (100 A each), {result.min_packs_max} (200 A)",
    )
    table.add_row("both terminal holes", "yes" if result.both_terminals_needed else "not needed")
    table.add_row("busbar", "needed" if result.busbar_needed else "not needed")
    table.add_row("usable capacity", f"{result.usable_energy_kwh:.2f} kWh (rated, to 90 % DOD)")
    if result.backup_hours is not None and result.load_w is not None:
        table.add_row("backup", f"{result.backup_hours:.1f} h at {result.load_w:g} W")
    console.print(table)
    console.print("[dim]Assumptions:[/]")
    console.print(bullet_list(result.assumptions))
    print_findings(console, result.findings, sizing_verdict(result))


def show_profile_list(profiles: list[InverterProfile], *, wide: bool = False) -> None:
    table = Table(title="Inverter profiles", title_justify="left")
    for column in ("name", "brand / family", "bus", "setting on the inverter", "cable", "conf."):
        table.add_column(column)
    for profile in by_confidence(profiles):
        bus = profile.bus.kind.value
        table.add_row(
            escape(profile.id),
            escape(f"{profile.name}: {profile.family}"),
            bus.value if bus else "?",
            escape(profile.protocol.setting.value or "unknown"),
            escape(cable_summary(map_cable(profile))),
            profile.confidence.value,
        )
    console = stdout(wide=wide)
    console.print(table)
    console.print("[dim]active inverters show NAME - pins, sources and quirks of one profile[/]")


def show_profile(profile: InverterProfile, *, wide: bool = False) -> None:
    console = stdout(wide=wide)
    console.print(
        f"[bold]{escape(profile.name)}[/]: {escape(profile.family)} "
        f"(confidence {profile.confidence.value})",
    )
    if profile.confidence_note:
        console.print(f"why: {escape(profile.confidence_note)}")
    console.print(f"models: {escape(', '.join(profile.models))}")
    if profile.aliases:
        console.print(f"also known as: {escape(', '.join(profile.aliases))}")
    facts = Table(title="Facts", title_justify="left", show_header=False)
    facts.add_column("fact")
    facts.add_column("value [confidence]")
    rows: list[tuple[str, str]] = [
        ("BMS port", fact_text(profile.port.label)),
        ("connector", fact_text(profile.port.connector)),
        ("bus", fact_text(profile.bus.kind)),
        ("bitrate / baud", fact_text(profile.bus.bitrate)),
        ("protocol", fact_text(profile.protocol.name)),
        ("setting", fact_text(profile.protocol.setting)),
        ("answers 0x305", fact_text(profile.protocol.heartbeat_0x305)),
        ("0x305 only after", fact_text(profile.protocol.heartbeat_after_id, can_id=True)),
        ("CAN termination", fact_text(profile.termination.can)),
        ("external terminator", fact_text(profile.termination.external_terminator)),
        ("RS485 termination", fact_text(profile.termination.rs485)),
        ("max charge current", fact_text(profile.limits.max_charge_current_a, " A")),
        ("max discharge current", fact_text(profile.limits.max_discharge_current_a, " A")),
        ("battery voltage min", fact_text(profile.limits.battery_voltage_min_v, " V")),
        ("battery voltage max", fact_text(profile.limits.battery_voltage_max_v, " V")),
        ("on BMS link loss", fact_text(profile.limits.on_link_loss)),
    ]
    for name, text in rows:
        facts.add_row(name, escape(text))
    console.print(facts)
    pins = Table(title="BMS port pins (unlisted pins: unknown)", title_justify="left")
    for column in ("pin", "T568B colour", "function", "conf.", "note"):
        pins.add_column(column)
    for pin in profile.port.pins:
        function = pin.function.value + (" (must not connect)" if pin.must_not_connect else "")
        pins.add_row(
            str(pin.pin),
            T568B_COLOURS[pin.pin],
            function,
            escape(pin.confidence.marker),
            escape(pin.note),
        )
    console.print(pins)
    if profile.quirks:
        quirks = Table(title="Quirks", title_justify="left")
        for column in ("code", "topic", "what", "conf."):
            quirks.add_column(column)
        for quirk in profile.quirks:
            what = quirk.text + (f"\nfix: {quirk.fix}" if quirk.fix else "")
            quirks.add_row(
                quirk.code, quirk.topic.value, escape(what), escape(quirk.confidence.marker)
            )
        console.print(quirks)
    console.print("[bold]Sources[/]")
    for source in profile.sources:
        console.print(f"  {escape(source.id)}: {escape(source.text)}")
        if source.url:
            # On a line of its own and never wrapped: a URL cut in two cannot be opened.
            console.print(f"    <{escape(source.url)}>", soft_wrap=True)


def show_protocol(result: ProtocolAssessment, *, wide: bool = False) -> None:
    console = stdout(wide=wide)
    console.print(f"[bold]Protocol check: battery -> {escape(result.inverter)}[/]")
    can = result.observation
    if can is not None:
        state = can.state
        console.print(
            f"Listened {can.duration_s:.1f} s: {can.frame_count} frame(s), ids "
            + (", ".join(f"0x{i:03X}" for i in can.ids_seen) or "none")
        )
        if state is not None and state.limits is not None:
            lim = state.limits
            dvl = "" if lim.discharge_voltage_v is None else f", DVL {lim.discharge_voltage_v} V"
            console.print(
                f"Battery sends: {state.protocol}, {state.voltage_v} V, {state.current_a} A, "
                f"SOC {state.soc_pct} %"
            )
            console.print(
                f"  limits: CVL {lim.charge_voltage_v} V, CCL {lim.charge_current_a} A, "
                f"DCL {lim.discharge_current_a} A{dvl}"
            )
    print_findings(console, result.findings, protocol_verdict(result))
