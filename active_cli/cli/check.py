"""``active check``: the checks before power-on (wiring, parallel linking, sizing).

Each command parses its options, calls one pure check in ``active_cli.checks``
and renders the result (rich or ``--json``); it exits 1 when a finding failed.
"""

from __future__ import annotations

from typing import Any

import typer

from active_cli import spec

app = typer.Typer(
    help="Checks before power-on: wiring, parallel linking, sizing.", no_args_is_help=True
)


def _finish(result: Any, json_out: bool, show: Any) -> None:
    from active_cli.cli import output

    if json_out:
        output.print_json(result)
    else:
        show(result)
    if result.failed:
        raise typer.Exit(1)


@app.command("wiring")
def wiring(
    inverter: str = typer.Option(
        ..., "--inverter", "-i", help="Inverter profile: id or alias (see `active inverters`)."
    ),
    packs: int = typer.Option(1, "--packs", "-n", min=1, help="Packs in the stack."),
    straight_lead: bool = typer.Option(
        False, "--straight-lead", help="You have a straight patch lead: fail if it does not fit."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """The cable from the battery's COM port to the inverter's BMS port, pin by pin."""
    from active_cli.checks.wiring import check_wiring
    from active_cli.cli import render_checks
    from active_cli.inverters import load_profile

    profile = load_profile(inverter)
    result = check_wiring(profile, packs=packs, straight_lead=straight_lead)
    _finish(result, json_out, lambda r: render_checks.show_wiring(r, profile))


@app.command("parallel")
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
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Before linking packs: spread, worst pair, equalising current, what to do."""
    from active_cli.checks.parallel import PackVoltage, ParallelAssumptions, check_parallel
    from active_cli.cli import render_checks
    from active_cli.errors import UsageError

    readings = _parse_voltages(values or [])
    if len(readings) < 2:
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
        )
    except ValueError as e:
        raise UsageError(str(e)) from None
    packs = [PackVoltage(f"pack {i}", v) for i, v in enumerate(readings, start=1)]
    _finish(check_parallel(packs, rules), json_out, render_checks.show_parallel)


def _parse_voltages(values: list[str]) -> list[float]:
    from active_cli.errors import UsageError

    out = []
    for token in (t for value in values for t in value.replace(",", " ").split()):
        try:
            out.append(float(token))
        except ValueError:
            raise UsageError(f"{token!r} is not a voltage", hint="write volts: 53.2") from None
    return out


@app.command("sizing")
def sizing(
    inverter_power_w: float = typer.Option(
        ..., "--inverter-power", help="The inverter's rated power (W)."
    ),
    packs: int = typer.Option(..., "--packs", "-n", min=1, help="Packs in the stack."),
    load_w: float | None = typer.Option(None, "--load", help="A load to size backup time for (W)."),
    busbar: bool = typer.Option(
        False, "--busbar", help="The stack is wired through a busbar, not the battery terminals."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Current per pack, packs needed, terminals or busbar, energy and backup time."""
    from active_cli.checks.sizing import check_sizing
    from active_cli.cli import render_checks
    from active_cli.errors import UsageError

    try:
        result = check_sizing(inverter_power_w, packs, load_w=load_w, busbar=busbar)
    except ValueError as e:
        raise UsageError(str(e)) from None
    _finish(result, json_out, render_checks.show_sizing)
