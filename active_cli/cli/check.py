"""``active check``: the checks before power-on (wiring, parallel linking, sizing).

Each command parses its options, calls one pure check in ``active_cli.checks``
and renders the result (rich or ``--json``); it exits 1 when a finding failed.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar

import typer

from active_cli import spec
from active_cli.cli.connect import (
    BAUD_OPTION,
    BITRATE_OPTION,
    CAN_OPTION_OPTION,
    CHANNEL_OPTION,
    INTERFACE_OPTION,
    PORT_OPTION,
    RECORD_OPTION,
    REPLAY_OPTION,
    SIM_OPTION,
)

if TYPE_CHECKING:
    from active_cli.checks.parallel import PackVoltage
    from active_cli.connection import Connection
    from active_cli.model import Finding
    from active_cli.procedures.packs import PacksRead

app = typer.Typer(
    help="Checks around power-on: wiring, parallel linking, sizing, protocol.",
    no_args_is_help=True,
)


class _CheckResult(Protocol):
    @property
    def findings(self) -> tuple[Finding, ...]: ...


R = TypeVar("R", bound=_CheckResult)


def _finish(result: R, json_out: bool, show: Callable[[R], None], command: str) -> None:
    from active_cli.cli import output
    from active_cli.cli.exits import exit_for

    if json_out:
        output.print_json(result, command=command)
    else:
        show(result)
    exit_for(result.findings)


@app.command("wiring")
def wiring(
    # No -i: everywhere else -i is --interface (CAN), and one letter must not
    # mean two things between commands.
    inverter: str = typer.Option(
        ..., "--inverter", help="Inverter profile: id or alias (see `active inverters`)."
    ),
    packs: int = typer.Option(1, "--packs", "-n", min=1, help="Packs in the stack."),
    straight_lead: bool = typer.Option(
        False,
        "--straight-lead",
        help="You have a straight patch lead: fail unless it is known to fit.",
    ),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
    wide: bool = typer.Option(
        False, "--wide", help="The full tables (wider than 80 columns; SOH, cycles ...)."
    ),
) -> None:
    """The cable from the battery's COM port to the inverter's BMS port, pin by pin."""
    from active_cli.checks.wiring import check_wiring
    from active_cli.cli import render_checks
    from active_cli.inverters import load_profile

    profile = load_profile(inverter)
    result = check_wiring(profile, packs=packs, straight_lead=straight_lead)
    _finish(
        result,
        json_out,
        lambda r: render_checks.show_wiring(r, profile, wide=wide),
        "check wiring",
    )


# A reversed probe reads "-53.2": taken as a reading (and explained), not as an option.
@app.command("parallel", context_settings={"ignore_unknown_options": True})
def parallel(
    values: list[str] = typer.Argument(
        None,
        metavar="VOLTAGE...",
        help="Each pack's voltage in volts, measured with a multimeter, in pack order.",
        show_default=False,
    ),
    voltages: bool = typer.Option(
        False, "--voltages", help="Multimeter readings follow: --voltages 53.2 53.1 52.9"
    ),
    port: str | None = PORT_OPTION,
    baud: int | None = BAUD_OPTION,
    sim: str | None = SIM_OPTION,
    one_by_one: bool = typer.Option(
        False,
        "--one-by-one",
        help="Unlinked packs are not on one bus: move the cable from pack to pack when asked.",
    ),
    addresses: str = typer.Option(
        "1-17", "--addresses", "-a", help="RS485 addresses to poll (with --port/--sim)."
    ),
    pack_resistance_mohm: float = typer.Option(
        spec.PACK_INTERNAL_RESISTANCE_OHM * 1000,
        "--pack-resistance-mohm",
        help="Assumed internal resistance of one pack incl. BMS switches (mohm).",
    ),
    link_cable_m: float = typer.Option(
        spec.PARALLEL_LINK_CABLE_M,
        "--link-cable-m",
        help="Power cable between two packs, one way (m).",
    ),
    cable_mm2: float = typer.Option(
        spec.POWER_CABLE_MM2, "--cable-mm2", help="Power cable cross-section (mm2)."
    ),
    warn_spread_v: float = typer.Option(
        spec.PARALLEL_SPREAD_WARN_V, "--warn-spread", help="Warn above this spread (V)."
    ),
    fail_spread_v: float = typer.Option(
        spec.PARALLEL_SPREAD_FAIL_V, "--fail-spread", help="Fail above this spread (V)."
    ),
    warn_soc_spread: float = typer.Option(
        spec.PARALLEL_SOC_SPREAD_WARN_PCT,
        "--warn-soc-spread",
        metavar="POINTS",
        help="Warn above this SOC spread, in points (LiFePO4's flat curve hides SOC).",
    ),
    fail_soc_spread: float = typer.Option(
        spec.PARALLEL_SOC_SPREAD_FAIL_PCT,
        "--fail-soc-spread",
        metavar="POINTS",
        help="Fail above this SOC spread, in points.",
    ),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
    wide: bool = typer.Option(
        False, "--wide", help="The full tables (wider than 80 columns; SOH, cycles ...)."
    ),
) -> None:
    """Before linking packs: spread, worst pair, equalising current, what to do."""
    from active_cli.checks.parallel import PackVoltage, ParallelAssumptions, check_parallel
    from active_cli.cli import render_checks
    from active_cli.errors import UsageError

    readings = _parse_voltages(values or [])
    if readings and (port or sim):
        raise UsageError("give multimeter voltages or --port/--sim, not both")
    if one_by_one and not port:
        raise UsageError("--one-by-one reads each pack over RS485: give --port too")
    if not (port or sim) and len(readings) < 2:
        raise UsageError(
            "give at least two pack voltages",
            hint="active check parallel --voltages 53.2 53.1 52.9",
        )
    try:
        rules = ParallelAssumptions(
            pack_resistance_ohm=pack_resistance_mohm / 1000,
            link_cable_m=link_cable_m,
            cable_mm2=cable_mm2,
            spread_warn_v=warn_spread_v,
            spread_fail_v=fail_spread_v,
            soc_spread_warn_pct=warn_soc_spread,
            soc_spread_fail_pct=fail_soc_spread,
        )
    except ValueError as e:
        raise UsageError(str(e)) from None
    scan_findings: tuple[Finding, ...] = ()
    if port or sim:
        from active_cli.cli.scan import parse_addresses
        from active_cli.connection import Connection

        connection = Connection(port=port, baud=baud, sim=sim)
        read = _read_one_by_one if one_by_one else _read_all
        packs, scan_findings = read(connection, parse_addresses(addresses))
    else:
        packs = [PackVoltage(f"pack {i}", v) for i, v in enumerate(readings, start=1)]
    result = check_parallel(packs, rules, scan_findings=scan_findings)
    _finish(result, json_out, lambda r: render_checks.show_parallel(r, wide=wide), "check parallel")


def _read_all(
    connection: Connection, addresses: tuple[int, ...]
) -> tuple[list[PackVoltage], tuple[Finding, ...]]:
    """Every pack that answers on one RS485 line (or in the simulator), and the scan's findings.

    No pack at all is "nothing answered" (exit 3), said with the scan's own
    hint; one pack goes to the check, which fails it as nothing to compare.
    """
    from active_cli.checks.parallel import PackVoltage
    from active_cli.cli.connect import print_notes
    from active_cli.connection import open_links
    from active_cli.procedures.packs import read_packs

    with open_links(connection, can=False) as links:
        assert links.rs485 is not None
        read = read_packs(links.rs485, addresses)
        print_notes(links.notes)
    if not read.answered:
        _no_pack_answered(read, connection)
    return [PackVoltage.from_reading(p.reading, p.label) for p in read.packs], read.findings


def _no_pack_answered(read: PacksRead, connection: Connection) -> None:
    from active_cli.checks.scan import NO_PACKS
    from active_cli.cli.hints import fix_with_hint
    from active_cli.errors import LinkError

    none = next((f for f in read.findings if f.code == NO_PACKS), None)
    where = connection.port or f"simulator {connection.sim}"
    raise LinkError(
        f"no pack answered on {where}" + (f": {none.detail}" if none and none.detail else ""),
        hint=fix_with_hint(none) if none else None,
    )


def _read_one_by_one(
    connection: Connection, addresses: tuple[int, ...]
) -> tuple[list[PackVoltage], tuple[Finding, ...]]:
    """Ask the installer to move the cable to each pack in turn; read the one there."""
    from active_cli.checks.parallel import PackVoltage
    from active_cli.cli.prompting import TerminalPrompter
    from active_cli.connection import open_links
    from active_cli.errors import LinkError
    from active_cli.procedures.packs import read_one_by_one

    with open_links(connection, rs485=False, can=False) as links:
        read = read_one_by_one(links.reopen_rs485, TerminalPrompter(), addresses)
    if not read.answered:
        raise LinkError(
            "no pack was read",
            hint="plug the cable into a pack's COM port and press Enter before typing 'done'",
        )
    return [PackVoltage.from_reading(p.reading, p.label) for p in read.packs], read.findings


def _parse_voltages(values: list[str]) -> list[float]:
    from active_cli.errors import UsageError
    from active_cli.typed_values import TypedValueError, parse_pack_voltages

    try:
        return parse_pack_voltages(values)
    except TypedValueError as e:
        raise UsageError(e.message, hint=e.hint) from None


def parse_power(text: str, option: str = "--inverter-power") -> float:
    """``8000``, ``8000W``, ``8kW`` -> watts; ``8`` gets "did you mean 8 kW?"."""
    from active_cli.errors import UsageError
    from active_cli.typed_values import TypedValueError, parse_power_w

    try:
        return parse_power_w(text)
    except TypedValueError as e:
        raise UsageError(f"{option} {e.message}", hint=e.hint) from None


@app.command("sizing")
def sizing(
    inverter_power: str = typer.Option(
        ...,
        "--inverter-power",
        metavar="W",
        help="The inverter's rated power: 8000, 8000W or 8kW.",
    ),
    packs: int = typer.Option(..., "--packs", "-n", min=1, help="Packs in the stack."),
    load_w: float | None = typer.Option(None, "--load", help="A load to size backup time for (W)."),
    busbar: bool = typer.Option(
        False, "--busbar", help="The stack is wired through a busbar, not the battery terminals."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
    wide: bool = typer.Option(
        False, "--wide", help="The full tables (wider than 80 columns; SOH, cycles ...)."
    ),
) -> None:
    """Current per pack, packs needed, terminals or busbar, energy and backup time."""
    from active_cli.checks.sizing import check_sizing
    from active_cli.cli import render_checks
    from active_cli.errors import UsageError

    inverter_power_w = parse_power(inverter_power)
    try:
        result = check_sizing(inverter_power_w, packs, load_w=load_w, busbar=busbar)
    except ValueError as e:
        raise UsageError(str(e)) from None
    _finish(result, json_out, lambda r: render_checks.show_sizing(r, wide=wide), "check sizing")


@app.command("protocol")
def protocol(
    inverter: str = typer.Option(
        ..., "--inverter", help="Inverter profile: id or alias (see `active inverters`)."
    ),
    port: str | None = PORT_OPTION,
    baud: int | None = typer.Option(
        None,
        "--baud",
        "-b",
        min=1,
        help="RS485 baud (default: the profile's). With --sim the scenario's baud is used.",
    ),
    interface: str | None = INTERFACE_OPTION,
    channel: str | None = CHANNEL_OPTION,
    bitrate: int | None = BITRATE_OPTION,
    can_option: list[str] | None = CAN_OPTION_OPTION,
    sim: str | None = SIM_OPTION,
    window: float = typer.Option(
        5.5,
        "--window",
        min=0.1,
        help="Longest CAN listening time, seconds (5 s proves a heartbeat gone).",
    ),
    expect: int | None = typer.Option(
        None, "--expect", "-n", help="Packs in the stack; the master's module count must match."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
    wide: bool = typer.Option(
        False, "--wide", help="The full tables (wider than 80 columns; SOH, cycles ...)."
    ),
    record: list[Path] | None = RECORD_OPTION,
    replay: list[Path] | None = REPLAY_OPTION,
) -> None:
    """Is the battery speaking what the inverter expects, and is the inverter answering?

    --record FILE keeps what was heard (and polled); --replay FILE runs the
    check on such a capture instead of a bus.
    """
    from active_cli.cli import render_checks
    from active_cli.cli.connect import (
        capture_files,
        check_record_files,
        connection_from_options,
        print_notes,
        refuse_live_options,
    )
    from active_cli.connection import open_links
    from active_cli.errors import UsageError
    from active_cli.inverters import load_profile
    from active_cli.procedures.protocol import observe_protocol, polls_rs485, replay_protocol

    if not math.isfinite(window):
        raise UsageError(f"--window {window}: give a number of seconds, e.g. --window 5.5")
    profile = load_profile(inverter)
    connection = connection_from_options(port, baud, interface, channel, bitrate, sim, can_option)
    recording = capture_files(record, "--record")
    replaying = capture_files(replay, "--replay")
    rs485 = polls_rs485(profile)
    if replaying:
        refuse_live_options(connection, recording)
        observed = replay_protocol(replaying, profile, expected_packs=expect)
        print_notes(observed.notes)
        _say_replay(replaying.describe(), json_out)
    else:
        if not (connection.wants_can or connection.wants_rs485):
            raise UsageError(
                "say what to listen to: --interface/--channel (CAN), --port (RS485), "
                "--sim SCENARIO or --replay FILE"
            )
        check_record_files(
            recording, rs485=rs485 and connection.wants_rs485, can=connection.wants_can
        )
        with open_links(
            connection,
            record=recording,
            rs485=rs485,
            default_baud=profile.bus.bitrate.value or 9600,
        ) as links:
            observed = observe_protocol(profile, links, window, expected_packs=expect)
        print_notes(observed.notes)
    _finish(
        observed.assessment,
        json_out,
        lambda r: render_checks.show_protocol(r, wide=wide),
        "check protocol",
    )


def _say_replay(files: str, json_out: bool) -> None:
    from active_cli.cli.output import stderr, stdout

    # On stdout with the report it belongs to; on stderr when stdout is JSON.
    console = stderr() if json_out else stdout()
    console.print(f"Replay of {files}", soft_wrap=True, markup=False)
