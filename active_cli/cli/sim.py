"""``active sim``: run a simulated stack and inverter until Ctrl-C."""

from __future__ import annotations

import typer


def sim_command(
    scenario: str = typer.Argument(
        "healthy-4", help="A built-in scenario name or a scenario TOML file."
    ),
    baud: int | None = typer.Option(None, "--baud", "-b", help="RS485 baud (default: scenario)."),
    latency_ms: float | None = typer.Option(
        None, "--latency-ms", help="BMS response latency (default: scenario, 20 ms)."
    ),
    tcp_port: int = typer.Option(
        0, "--tcp-port", help="TCP port for socket:// clients on 127.0.0.1 (0 = any free)."
    ),
    socketcand_port: int = typer.Option(
        0, "--socketcand-port", help="socketcand port on 127.0.0.1 (0 = any free)."
    ),
    duration: float | None = typer.Option(
        None, "--duration", help="Stop after this many seconds (default: until Ctrl-C)."
    ),
    list_scenarios: bool = typer.Option(False, "--list", help="List the built-in scenarios."),
    json_out: bool = typer.Option(
        False, "--json", help="Print the endpoints as one JSON line, then keep running."
    ),
) -> None:
    """Run a simulated Active16 stack and inverter on a pty, TCP and socketcand.

    Everything binds to 127.0.0.1; nothing is broadcast.
    """
    import contextlib

    from active_cli.cli import render_sim

    if list_scenarios:
        render_sim.show_scenarios()
        return
    from active_cli.sim.site import SimulatedSite

    site = SimulatedSite(
        scenario,
        baud=baud,
        latency_ms=latency_ms,
        tcp_port=tcp_port,
        socketcand_port=socketcand_port,
    )
    # Ctrl-C is how the installer stops the simulator: not an error, wherever
    # it lands once the site runs (a script may send SIGINT as soon as it has
    # read the endpoints line).
    with site, contextlib.suppress(KeyboardInterrupt):
        if json_out:
            render_sim.print_endpoints_json(site)
        else:
            render_sim.show_endpoints(site)
        render_sim.run_until_stopped(site, duration=duration, live=not json_out)
    if not json_out:
        render_sim.show_summary(site)
