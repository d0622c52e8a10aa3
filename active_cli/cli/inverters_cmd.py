"""``active inverters``: list the inverter profiles, or show one."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Inverter profiles: BMS port pins, bus, battery setting, and their sources.",
)


@app.callback(invoke_without_command=True)
def list_profiles(
    ctx: typer.Context,
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
    wide: bool = typer.Option(False, "--wide", help="The full tables (wider than 80 columns)."),
) -> None:
    """List every profile (or use `show NAME`)."""
    if ctx.invoked_subcommand is not None:
        return
    from active_cli.cli import output, render_checks
    from active_cli.inverters import load_all

    profiles = load_all()
    if json_out:
        output.print_json(profiles, command="inverters")
    else:
        render_checks.show_profile_list(profiles, wide=wide)


@app.command("show")
def show(
    name: str = typer.Argument(..., help="Profile id or alias, e.g. deye, victron, eg4."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
    wide: bool = typer.Option(False, "--wide", help="The full tables (wider than 80 columns)."),
) -> None:
    """Everything one profile knows, with confidence and sources."""
    from active_cli.cli import output, render_checks
    from active_cli.inverters import load_profile

    profile = load_profile(name)
    if json_out:
        output.print_json(profile, command="inverters show")
    else:
        render_checks.show_profile(profile, wide=wide)
