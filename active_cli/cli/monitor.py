"""``active monitor``: watch the stack live.

RS485 is re-read on a thread of its own (`Rs485Reader`, one
`procedures.monitor_reads` cycle per refresh: the master's group read, each
pack proved at its own address): 16 packs at 9600 baud take seconds, and the
CAN panel and the inverter's heartbeat (1 Hz data) must not wait for them. The
screen is redrawn every second (`tick`), or every `--refresh` when that is
shorter.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

import typer

from active_cli.cli.connect import (
    BAUD_OPTION,
    BITRATE_OPTION,
    CAN_OPTION_OPTION,
    CHANNEL_OPTION,
    INTERFACE_OPTION,
    PORT_OPTION,
    REPLY_TIMEOUT_OPTION,
    SIM_OPTION,
)

if TYPE_CHECKING:
    from active_cli.connection import Connection
    from active_cli.errors import LinkError
    from active_cli.links.can_watch import CanWatcher
    from active_cli.model import PackReading
    from active_cli.monitoring import MonitorModel, MonitorView
    from active_cli.procedures.monitor_reads import MonitorReads, Rs485Read

# The battery sends each CAN message once a second: 2.5 s from the moment the
# watcher starts hears a whole cycle even with jitter and a late first frame.
FIRST_CYCLE_S = 2.5
# The CAN data and the ages on screen change every second: redraw at least that often.
SCREEN_TICK_S = 1.0
# Ctrl-C waits this long at most for the exchange under way (a 16-pack group
# reply takes 2.1 s at 9600 baud, plus the reply budget).
STOP_WAIT_S = 3.0


def monitor_command(
    port: str | None = PORT_OPTION,
    baud: int | None = BAUD_OPTION,
    interface: str | None = INTERFACE_OPTION,
    channel: str | None = CHANNEL_OPTION,
    bitrate: int | None = BITRATE_OPTION,
    can_option: list[str] | None = CAN_OPTION_OPTION,
    sim: str | None = SIM_OPTION,
    reply_timeout: float | None = REPLY_TIMEOUT_OPTION,
    refresh: float = typer.Option(
        2.0, "--refresh", "-r", min=0.2, help="Seconds between RS485 reads and screen updates."
    ),
    duration: float | None = typer.Option(
        None,
        "--duration",
        help="Stop after monitoring this many seconds, counted after the first scan "
        "(default: until Ctrl-C).",
    ),
    once: bool = typer.Option(False, "--once", help="Read once, print, exit (for scripts)."),
    addresses: str = typer.Option(
        "1-17", "--addresses", "-a", help="RS485 addresses to look for packs at."
    ),
    json_out: bool = typer.Option(
        False, "--json", help="Print the last view and the min/max summary as JSON (only that)."
    ),
    wide: bool = typer.Option(
        False, "--wide", help="The full pack table (wider than 80 columns; 16 packs need rows)."
    ),
) -> None:
    """Live view of every pack and of what the battery tells the inverter.

    Values that cross the manual's limits are highlighted; a pack that stops
    answering is shown as NO REPLY, data that stopped arriving as stale.
    Ctrl-C exits with a min/max summary. Exits 3 when nothing answered at all.
    """
    import contextlib
    import sys

    from active_cli import discovery
    from active_cli.cli import render_monitor, render_scan
    from active_cli.cli.connect import connection_from_options, print_notes
    from active_cli.cli.scan import parse_addresses
    from active_cli.connection import open_links
    from active_cli.errors import LinkError, UsageError
    from active_cli.links.can_watch import DEFAULT_SILENCE_LIMIT_S, CanWatcher
    from active_cli.monitoring import MonitorModel
    from active_cli.procedures.monitor_reads import MonitorReads

    connection = connection_from_options(
        port, baud, interface, channel, bitrate, sim, can_option, reply_timeout=reply_timeout
    )
    if not (connection.wants_rs485 or connection.wants_can):
        raise UsageError("say what to watch: --port, --interface/--channel, or --sim SCENARIO")
    # The group analog read, as `active scan` asks live: the scan reads every
    # pack's values in one exchange, and learns the master the cycles ask.
    options = discovery.ScanOptions(addresses=parse_addresses(addresses), group_reads=True)
    model = MonitorModel(
        pack_stale_s=max(10.0, 3 * refresh),
        watch_rs485=connection.wants_rs485,
        watch_can=connection.wants_can,
        refresh_s=refresh,
    )
    live = sys.stdout.isatty() and not (json_out or once)
    failure: LinkError | None = None
    # Ctrl-C anywhere (the simulator starting, the first scan, the live loop)
    # ends with what was read so far and exit 0: stopping is the normal way out.
    with contextlib.suppress(KeyboardInterrupt), contextlib.ExitStack() as stack:
        links = stack.enter_context(open_links(connection))
        print_notes(links.notes)
        link = links.rs485
        watch = (
            stack.enter_context(CanWatcher(links.can, silence_limit_s=DEFAULT_SILENCE_LIMIT_S))
            if links.can is not None
            else None
        )
        listening_since = time.monotonic()
        known: tuple[PackReading, ...] = ()
        reads: MonitorReads | None = None
        if link is not None:
            model.rs485_baud = link.baud
            with render_scan.progress(enabled=not json_out) as progress:
                snapshot = discovery.scan_rs485(link, options, progress)
            known = snapshot.packs
            if known:
                reads = MonitorReads(link, known, master=snapshot.master_address)
            # The scan does not say when it read each pack: stamped with its
            # start, the screen may call them older than they are, never
            # newer; the reader's first refresh, at once, gives each its time.
            model.update_packs(known, time.monotonic() - snapshot.duration_s)
        if watch is not None:
            _first_cycle(watch, model, listening_since, once=once)
        _require_an_answer(model.view(time.monotonic()), connection, addresses)
        reader = (
            stack.enter_context(Rs485Reader(reads, refresh_s=refresh))
            if reads is not None and not once
            else None
        )

        def step() -> None:
            tick(model, reader=reader, reads=reads, watch=watch)

        try:
            if once:
                step()
            else:
                if not live:
                    render_monitor.announce(model.view(time.monotonic()), duration=duration)
                deadline = None if duration is None else time.monotonic() + duration
                render_monitor.watch(
                    model,
                    step,
                    refresh=screen_tick_s(refresh),
                    deadline=deadline,
                    live=live,
                    wide=wide,
                )
                if reader is not None:
                    reader.deliver(model)  # a read finished since the last tick
        except LinkError as e:
            # The adapter went away mid-run: show what was seen, then the error.
            failure = e
    view = model.view(time.monotonic())
    if json_out:
        from active_cli.cli.output import print_json

        print_json(view, command="monitor")
    elif once:
        render_monitor.show_once(view, wide=wide)
    else:
        render_monitor.show_summary(view, wide=wide)
    if failure is not None:
        raise failure


def screen_tick_s(refresh_s: float) -> float:
    """How often the screen is redrawn: every second (CAN is 1 Hz data), or faster if asked."""
    return min(refresh_s, SCREEN_TICK_S)


def tick(
    model: MonitorModel,
    *,
    reader: Rs485Reader | None,
    reads: MonitorReads | None,
    watch: CanWatcher | None,
) -> None:
    """One screen tick: the RS485 reads finished since the last tick, and CAN as heard now.

    With a `reader` (the live screen) this never waits for the line; without
    one (`--once`) `reads` is read here, once.
    """
    if reader is not None:
        reader.deliver(model)
    elif reads is not None:
        deliver_read(model, reads.read())
    if watch is not None:
        heard = watch.snapshot()
        model.update_can(heard.state, heard.seen_at)


def _first_cycle(watch: CanWatcher, model: MonitorModel, since: float, *, once: bool) -> None:
    """Wait (from `since`, at most FIRST_CYCLE_S) for one whole battery cycle.

    With `once` the inverter's heartbeat is waited for too, since the single
    reading is all a script gets; the live screen shows it when it comes.
    """
    import time

    from active_cli.protocols import pylon_can

    while True:
        heard = watch.snapshot()
        ids = set(heard.seen_at)
        done = (ids >= pylon_can.PYLON_V12_IDS or ids >= pylon_can.PYLON_V13_IDS) and (
            not once or pylon_can.HEARTBEAT_ID in ids
        )
        if done or time.monotonic() - since >= FIRST_CYCLE_S:
            break
        time.sleep(0.05)
    model.update_can(heard.state, heard.seen_at)


def _require_an_answer(view: MonitorView, connection: Connection, addresses: str) -> None:
    """Nothing to monitor when no pack answered the scan and no battery frame came."""
    from active_cli.errors import LinkTimeout

    rs485_silent = not connection.wants_rs485 or not view.packs
    can_silent = not connection.wants_can or view.can is None
    if not (rs485_silent and can_silent):
        return
    heard: list[str] = []
    hints: list[str] = []
    if connection.wants_rs485:
        where = "the simulator" if connection.sim else connection.describe_rs485()
        heard.append(f"no pack answered on RS485 ({where}, addresses {addresses})")
        hints.append("RS485: check A/B polarity, the baud rate (try --baud 115200) and --addresses")
    if connection.wants_can:
        heard.append(f"no battery frame on CAN in {FIRST_CYCLE_S:g} s")
        hints.append("CAN: check the bitrate (Pylon LV: 500000), CAN-H/CAN-L and termination")
    raise LinkTimeout("nothing to monitor: " + "; ".join(heard), hint="; ".join(hints))


class Rs485Reader:
    """Runs `MonitorReads` cycles every `refresh_s` on its own thread.

    `deliver` hands the reads finished since the last call to the model (on
    the caller's thread: the model is not shared), and raises the LinkError
    that ended the thread (an adapter that went away). Stopping waits for at
    most the exchange under way (a 16-pack group reply: 2.1 s at 9600 baud):
    the thread looks at its stop flag between exchanges.
    """

    def __init__(self, reads: MonitorReads, *, refresh_s: float):
        self._reads = reads
        self._refresh_s = refresh_s
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._done: list[Rs485Read] = []
        self._error: LinkError | None = None
        self._last_took_s = refresh_s  # no wait before the first read
        self._thread = threading.Thread(target=self._run, name="monitor-rs485", daemon=True)

    def __enter__(self) -> Rs485Reader:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=STOP_WAIT_S)

    def _run(self) -> None:
        from active_cli.errors import LinkError

        # The first refresh at once (the scan's values carry no time per pack),
        # then one every `refresh_s`.
        while not self._stop.wait(self._next_wait_s()):
            try:
                read = self._reads.read(self._stop)
            except LinkError as e:
                with self._lock:
                    self._error = e
                return
            if self._stop.is_set():
                return  # cut short: not a read of every pack
            with self._lock:
                self._done.append(read)
                self._last_took_s = read.took_s

    def _next_wait_s(self) -> float:
        # A read slower than the refresh starts the next one at once.
        return max(0.0, self._refresh_s - self._last_took_s)

    def deliver(self, model: MonitorModel) -> None:
        with self._lock:
            done, self._done = self._done, []
            error = self._error
        for read in done:
            deliver_read(model, read)
        if error is not None:
            raise error


def deliver_read(model: MonitorModel, read: Rs485Read) -> None:
    """One cycle's packs, each with the time it was read, and how the cycle read them."""
    model.update_packs(
        read.packs,
        read.at,
        read_at=read.read_at,
        took_s=read.took_s,
        plan=read.plan,
        why_per_address=read.why_per_address,
    )
