"""``active sim``: run a simulated stack and inverter until Ctrl-C."""

from __future__ import annotations

import typer

# The slowest and fastest line a serial adapter offers; the simulated line's
# timing (10 bits a byte) is computed from it, so 0 or a negative rate is nonsense.
MIN_BAUD = 1200
MAX_BAUD = 921600
# The same ceiling as a scenario file's [rs485] latency_ms.
MAX_LATENCY_MS = 10_000.0


def sim_command(
    scenario: str = typer.Argument(
        "healthy-4", help="A built-in scenario name or a scenario TOML file."
    ),
    baud: int | None = typer.Option(
        None,
        "--baud",
        "-b",
        min=MIN_BAUD,
        max=MAX_BAUD,
        help="RS485 baud (default: scenario).",
    ),
    latency_ms: float | None = typer.Option(
        None,
        "--latency-ms",
        min=0.0,
        max=MAX_LATENCY_MS,
        help="BMS response latency (default: scenario, 20 ms).",
    ),
    tcp_port: int = typer.Option(
        0,
        "--tcp-port",
        min=0,
        max=65535,
        help="TCP port for socket:// clients on 127.0.0.1 (0 = any free).",
    ),
    tap_port: int | None = typer.Option(
        None,
        "--tap-port",
        min=0,
        max=65535,
        help="Also serve a listen-only RS485 tap on 127.0.0.1 that hears the whole line, "
        "for rehearsing a passive capture (0 = any free port; default: no tap).",
    ),
    socketcand_port: int = typer.Option(
        0,
        "--socketcand-port",
        min=0,
        max=65535,
        help="socketcand port on 127.0.0.1 (0 = any free).",
    ),
    duration: float | None = typer.Option(
        None,
        "--duration",
        min=0.0,
        help="Stop after this many seconds (default: until Ctrl-C).",
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
    import math

    from active_cli.cli import render_sim
    from active_cli.errors import UsageError

    # Typer's range check lets NaN through (every comparison with it is false).
    for option, value in (("--latency-ms", latency_ms), ("--duration", duration)):
        if value is not None and math.isnan(value):
            raise UsageError(f"{option} needs a number, not {value}")

    if list_scenarios:
        render_sim.show_scenarios(json_out=json_out)
        return
    from active_cli.sim.site import SimulatedSite

    site = SimulatedSite(
        scenario,
        baud=baud,
        latency_ms=latency_ms,
        tcp_port=tcp_port,
        socketcand_port=socketcand_port,
        tap_port=tap_port,
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
