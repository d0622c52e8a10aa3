"""``active monitor``: watch the stack live."""

from __future__ import annotations

import typer

from active_cli.cli.connect import (
    BAUD_OPTION,
    BITRATE_OPTION,
    CHANNEL_OPTION,
    INTERFACE_OPTION,
    PORT_OPTION,
    SIM_OPTION,
)


def monitor_command(
    port: str | None = PORT_OPTION,
    baud: int = BAUD_OPTION,
    interface: str | None = INTERFACE_OPTION,
    channel: str | None = CHANNEL_OPTION,
    bitrate: int | None = BITRATE_OPTION,
    sim: str | None = SIM_OPTION,
    refresh: float = typer.Option(
        2.0, "--refresh", "-r", min=0.2, help="Seconds between RS485 reads and screen updates."
    ),
    duration: float | None = typer.Option(
        None, "--duration", help="Stop after this many seconds (default: until Ctrl-C)."
    ),
    once: bool = typer.Option(False, "--once", help="Read once, print, exit (for scripts)."),
    addresses: str = typer.Option(
        "1-17", "--addresses", "-a", help="RS485 addresses to look for packs at."
    ),
    json_out: bool = typer.Option(
        False, "--json", help="Print the last view and the min/max summary as JSON."
    ),
) -> None:
    """Live view of every pack and of what the battery tells the inverter.

    Values that cross the manual's limits are highlighted; data that stopped
    arriving is marked stale. Ctrl-C exits with a min/max summary.
    """
    import contextlib
    import time

    from active_cli import discovery
    from active_cli.cli import render_monitor
    from active_cli.cli.connect import Connection, can_bus, rs485_link, simulator
    from active_cli.cli.scan import parse_addresses
    from active_cli.errors import UsageError
    from active_cli.links.can_watch import CanWatcher
    from active_cli.model import PackReading
    from active_cli.monitoring import MonitorModel

    connection = Connection(port, baud, interface, channel, bitrate, sim)
    if not (connection.wants_rs485 or connection.wants_can):
        raise UsageError("say what to watch: --port, --interface/--channel, or --sim SCENARIO")
    model = MonitorModel(pack_stale_s=max(10.0, 3 * refresh))
    deadline = None if duration is None else time.monotonic() + duration
    with contextlib.ExitStack() as stack:
        site = stack.enter_context(simulator(connection))
        link = stack.enter_context(rs485_link(connection, site)) if connection.wants_rs485 else None
        watch = (
            stack.enter_context(CanWatcher(stack.enter_context(can_bus(connection, site))))
            if connection.wants_can
            else None
        )
        known: tuple[PackReading, ...] = ()
        if link is not None:
            options = discovery.ScanOptions(addresses=parse_addresses(addresses))
            known = discovery.scan_rs485(link, options).packs
            model.update_packs(known, time.monotonic())

        def step() -> None:
            nonlocal known
            if link is not None and model.refreshes > 0 and known:
                fresh = discovery.refresh_packs(link, known)
                model.update_packs(fresh, time.monotonic())
            elif link is not None:
                model.refreshes += 1
            if watch is not None:
                model.update_can(*watch.snapshot())

        if once:
            if watch is not None:
                time.sleep(min(2.5, refresh + 1.0))  # one broadcast cycle at least
            step()
        else:
            with contextlib.suppress(KeyboardInterrupt):
                render_monitor.live(model, step, refresh=refresh, deadline=deadline, quiet=json_out)
    view = model.view(time.monotonic())
    if json_out:
        from active_cli.cli.output import print_json

        print_json(view)
    elif once:
        render_monitor.show_once(view)
    else:
        render_monitor.show_summary(view)
