"""RS485 scan speed: `active`'s discovery against the line's own limit and python-pylontech.

Everything runs against the built-in simulator on its pty, at 9600 baud with
20 ms BMS latency (the simulator paces every reply byte at the baud rate and
waits the latency before answering, like a real BMS). Printed:

(a) wall time to fully read a 16-pack stack (healthy-16) next to the wire-time
    lower bound, and their ratio. The bound is computed from what the link
    actually exchanged: every byte written and read (LinkStats.bytes_sent +
    bytes_received) x 10 bits / baud, plus the simulator's latency once per
    reply heard. Target: ratio <= 1.15.
(b) wall time to scan addresses 1-16 with 4 packs present (healthy-4): the
    default scan (it stops once the master's group count has answered), and
    for information the same with --all-addresses (every silent address costs
    its request's wire time + the learned reply-start budget). Target: < 2.5 s.
(c) the same two jobs done by python-pylontech's client on the same simulator,
    with the reads it supports: per pack 0x42 (get_values_single) and 0x93
    (get_module_serial_number), 0x51 once (get_manufacturer_info, ADR 0); it
    has no 0x96 or 0x44. Its reads use readline(), which waits for an LF that
    Pylontech frames never send, so every read ends on the serial timeout
    (reference §5); we set `client.s.timeout` = PYLONTECH_TIMEOUT_S. For (b) it
    probes 1-16 with its own scan_for_batteries(), then reads each pack found.
    For a like-for-like figure, active's SerialLink also does exactly
    python-pylontech's read list (active's scan reads more: 0x96 and 0x44).

Each figure is the median of RUNS runs, each on a fresh simulator.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from active_cli import discovery
from active_cli.links.serial_link import SerialLink, wire_time_s
from active_cli.sim.site import SimulatedSite

BAUD = 9600
LATENCY_MS = 20.0
RUNS = 3
PYLONTECH_TIMEOUT_S = 0.1  # fair: > the 20 ms latency and any byte gap at 9600 baud
ADDRESSES = tuple(range(1, 17))


@dataclass(frozen=True)
class Run:
    wall_s: float
    bound_s: float = 0.0
    packs: int = 0
    requests: int = 0


def _site(scenario: str) -> SimulatedSite:
    return SimulatedSite(scenario, baud=BAUD, latency_ms=LATENCY_MS, pty=True, with_can=False)


def active_scan(scenario: str, *, all_addresses: bool = False) -> Run:
    with _site(scenario) as site:
        assert site.rs485_pty is not None
        with SerialLink.open(site.rs485_pty, baud=BAUD) as link:
            options = discovery.ScanOptions(
                addresses=ADDRESSES, stop_at_group_count=not all_addresses
            )
            started = time.perf_counter()
            snapshot = discovery.scan_rs485(link, options)
            wall = time.perf_counter() - started
            stats = link.stats
            bound = (
                wire_time_s(stats.bytes_sent + stats.bytes_received, BAUD)
                + stats.replies_heard * LATENCY_MS / 1000.0
            )
            requests = sum(a.requests for a in stats.per_address.values())
    return Run(wall, bound, len(snapshot.packs), requests)


def active_same_reads(scenario: str) -> Run:
    """python-pylontech's own read list (no 0x96, no 0x44), over active's SerialLink."""
    from active_cli.protocols.pylon_rs485 import Command

    with _site(scenario) as site:
        assert site.rs485_pty is not None
        with SerialLink.open(site.rs485_pty, baud=BAUD) as link:
            started = time.perf_counter()
            for adr in ADDRESSES:
                link.query(Command.SERIAL_NUMBER, adr)
            for adr in ADDRESSES:
                link.query(Command.ANALOG, adr)
            link.query(Command.MANUFACTURER_INFO, 0)
            wall = time.perf_counter() - started
    return Run(wall, packs=len(ADDRESSES), requests=2 * len(ADDRESSES) + 1)


def pylontech_scan(scenario: str, *, probe: bool) -> Run:
    from pylontech import Pylontech

    with _site(scenario) as site:
        client = Pylontech(site.rs485_pty, BAUD)
        client.s.timeout = PYLONTECH_TIMEOUT_S
        try:
            started = time.perf_counter()
            if probe:
                found = list(client.scan_for_batteries(ADDRESSES[0], ADDRESSES[-1] + 1))
            else:
                found = list(ADDRESSES)
                for adr in found:
                    client.get_module_serial_number(adr)
            for adr in found:
                client.get_values_single(adr)
            client.get_manufacturer_info()
            wall = time.perf_counter() - started
        finally:
            client.s.close()
    return Run(wall, packs=len(found))


def median(job: Callable[[], Run]) -> Run:
    runs = sorted((job() for _ in range(RUNS)), key=lambda r: r.wall_s)
    return runs[len(runs) // 2]


def main() -> None:
    print(f"simulator pty, {BAUD} baud, {LATENCY_MS:.0f} ms BMS latency, median of {RUNS} runs")
    full = median(lambda: active_scan("healthy-16"))
    ratio = full.wall_s / full.bound_s
    print(
        f"(a) active, full read of 16 packs: {full.wall_s:6.3f} s  "
        f"wire-time lower bound {full.bound_s:6.3f} s  ratio {ratio:5.3f} (target <= 1.15)  "
        f"[{full.packs} packs, {full.requests} requests, "
        f"{1000 * (full.wall_s - full.bound_s) / full.requests:.2f} ms above the bound per request]"
    )
    scan4 = median(lambda: active_scan("healthy-4"))
    print(
        f"(b) active, scan 1-16 with 4 packs:  {scan4.wall_s:6.3f} s  (target < 2.5 s)  "
        f"[{scan4.packs} packs, {scan4.requests} requests; stops at the master's count]"
    )
    every = median(lambda: active_scan("healthy-4", all_addresses=True))
    print(
        f"    same with --all-addresses:       {every.wall_s:6.3f} s  [{every.requests} requests]"
    )
    py_full = median(lambda: pylontech_scan("healthy-16", probe=False))
    py_scan = median(lambda: pylontech_scan("healthy-4", probe=True))
    same = median(lambda: active_same_reads("healthy-16"))
    print(
        f"(c) python-pylontech (s.timeout = {PYLONTECH_TIMEOUT_S} s), 16 packs read: "
        f"{py_full.wall_s:6.3f} s  (active {py_full.wall_s / full.wall_s:4.1f}x faster)"
    )
    print(
        f"    active's link doing only python-pylontech's {same.requests} reads: "
        f"{same.wall_s:6.3f} s  (python-pylontech {py_full.wall_s / same.wall_s:4.1f}x slower)"
    )
    print(
        f"    python-pylontech, scan 1-16 with 4 packs: {py_scan.wall_s:6.3f} s  "
        f"[{py_scan.packs} found]  (active {py_scan.wall_s / scan4.wall_s:4.1f}x faster)"
    )
    ok = ratio <= 1.15 and scan4.wall_s < 2.5 and full.wall_s < py_full.wall_s
    ok = ok and scan4.wall_s < py_scan.wall_s
    print("targets met" if ok else "TARGETS MISSED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
