"""`active monitor`'s RS485 cycle: per address against the group plan, each against its floor.

Everything runs against the built-in simulator on its pty, at 9600 baud with
20 ms BMS latency (the simulator paces every reply byte at the baud rate and
waits the latency before answering, like a real BMS). Each run starts a fresh
simulator, scans once to find the packs (as the monitor does at start), then
runs CYCLES cycles of one plan back to back through
`procedures.monitor_reads.MonitorReads` on a real `SerialLink`, each timed on
its own:

  per address   each pack's 0x42 and 0x44 at its own address (the monitor before)
  group read    the master's 0x42 with INFO FF, then each pack's 0x44 at its own
                address (the proof that the pack is alive, and its alarms)

The floor of a cycle is computed from what it exchanged, from the link's own
counters: every byte sent and received x 10 bits / baud, plus the simulator's
latency once per reply heard. The retry and garbled counters are the link's
(requests sent again, replies with a bad checksum or framing); a cycle with
either is flagged, since its floor holds traffic a clean line would not need.

Issue 18 asks the group plan to bring a 16-pack cycle "toward 3.3 s" (the
floor of the group 0x42 and 0x44 alone, which proves no pack alive) from the
per-address floor of 5.24 s. Two last jobs, for information: a 16-pack master
that refuses the group read (the fallback cycle: the refusal, then per
address), and the plan the monitor does not use (module doc of
`monitor_reads`): the group 0x42 and 0x44, then the shortest exchange a pack
answers (0x4F) at each address, as raw exchanges on the same link.

Figures: min and median of the RUNS x CYCLES cycles of each job. Before timing, compile the
sources (`python -m compileall -q active_cli`): PYTHONDONTWRITEBYTECODE would
otherwise put compiling into the first figures.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from active_cli import discovery
from active_cli.links.serial_link import LinkStats, SerialLink, wire_time_s
from active_cli.procedures.monitor_reads import MonitorReads
from active_cli.protocols.pylon_rs485 import GROUP_ADR_INFO, Command
from active_cli.sim.site import SimulatedSite

BAUD = 9600
LATENCY_MS = 20.0
RUNS = 3
CYCLES = 3
PER_ADDRESS_FLOOR_16_S = 5.24  # 16 x (0x42 + 0x44) at 9600 baud, 20 ms: the figure
TARGET_16_S = 3.3  # the group 0x42 + 0x44 floor the issue names

REFUSING_16 = """\
# refusing-16: sixteen packs whose master refuses the group read (bench only).
name = "refusing-16"
description = "16 packs; the master refuses INFO FF."
packs = 16

[faults]
group_read = "refused"
"""


@dataclass(frozen=True)
class Cycle:
    wall_s: float
    floor_s: float
    plan: str
    packs: int
    requests: int
    retries: int
    garbled: int


@dataclass(frozen=True)
class _Counters:
    wire_bytes: int
    replies: int
    requests: int
    retries: int
    garbled: int

    @classmethod
    def of(cls, stats: LinkStats) -> _Counters:
        per = stats.per_address.values()
        return cls(
            wire_bytes=stats.bytes_sent + stats.bytes_received,
            replies=stats.replies_heard,
            requests=sum(a.requests for a in per),
            retries=sum(a.retries for a in per),
            garbled=sum(a.corrupted for a in per),
        )


def cycles(scenario: str | Path, *, group_reads: bool, alternative: bool = False) -> list[Cycle]:
    """RUNS x CYCLES timed cycles of one plan."""
    return [
        c
        for _ in range(RUNS)
        for c in _run(scenario, group_reads=group_reads, alternative=alternative)
    ]


class _Alternative:
    """Group 0x42 and 0x44 at the master, then one 0x4F per pack: not the monitor's plan."""

    def __init__(self, link: SerialLink, known: tuple[int, ...], master: int) -> None:
        self._link, self._known, self._master = link, known, master

    def read(self) -> tuple[str, int]:
        group = bytes([GROUP_ADR_INFO])
        self._link.query(Command.ANALOG, self._master, info=group)
        self._link.query(Command.ALARM, self._master, info=group)
        for adr in self._known:
            self._link.query(Command.PROTOCOL_VERSION, adr)
        return "group 42+44, 4F each", len(self._known)


def _run(scenario: str | Path, *, group_reads: bool, alternative: bool = False) -> list[Cycle]:
    """CYCLES timed cycles of one plan, on a fresh simulator, after one scan."""
    site = SimulatedSite(str(scenario), baud=BAUD, latency_ms=LATENCY_MS, pty=True, with_can=False)
    out: list[Cycle] = []
    with site, SerialLink.open(site.rs485_pty or "", baud=BAUD) as link:
        snapshot = discovery.scan_rs485(link, discovery.ScanOptions(group_reads=True))
        reads = MonitorReads(
            link, snapshot.packs, master=snapshot.master_address, group_reads=group_reads
        )
        other = _Alternative(
            link, tuple(p.address for p in snapshot.packs), snapshot.master_address or 1
        )
        for _ in range(CYCLES):
            before = _Counters.of(link.stats)
            started = time.perf_counter()
            if alternative:
                plan, packs = other.read()
            else:
                read = reads.read()
                plan, packs = read.plan, len(read.packs)
            wall = time.perf_counter() - started
            after = _Counters.of(link.stats)
            floor = (
                wire_time_s(after.wire_bytes - before.wire_bytes, BAUD)
                + (after.replies - before.replies) * LATENCY_MS / 1000.0
            )
            out.append(
                Cycle(
                    wall_s=wall,
                    floor_s=floor,
                    plan=plan,
                    packs=packs,
                    requests=after.requests - before.requests,
                    retries=after.retries - before.retries,
                    garbled=after.garbled - before.garbled,
                )
            )
    return out


def report(label: str, runs: list[Cycle]) -> tuple[float, float]:
    walls = [c.wall_s for c in runs]
    low, mid = min(walls), statistics.median(walls)
    floor = statistics.median(c.floor_s for c in runs)
    plans = sorted({c.plan for c in runs})
    flags = [
        f"cycle {i + 1}: {c.retries} retries/{c.garbled} garbled"
        for i, c in enumerate(runs)
        if c.retries or c.garbled
    ]
    last = runs[-1]
    print(
        f"{label:30s} cycle min {low:6.3f} s  median {mid:6.3f} s  floor {floor:6.3f} s  "
        f"ratio min {low / floor:5.3f} median {mid / floor:5.3f}  "
        f"[{'/'.join(plans)}, {last.packs} packs read, {last.requests} requests, "
        f"{sum(c.retries for c in runs)} retries, {sum(c.garbled for c in runs)} garbled]"
        + (f"  RETRIES: {'; '.join(flags)}" if flags else "")
    )
    return low, mid


def main() -> None:
    print(
        f"simulator pty, {BAUD} baud, {LATENCY_MS:.0f} ms BMS latency, MonitorReads on a "
        f"SerialLink, min and median of {RUNS} runs x {CYCLES} cycles per job"
    )
    _, per_mid = report("16 packs, per address", cycles("healthy-16", group_reads=False))
    group_low, group_mid = report("16 packs, group read", cycles("healthy-16", group_reads=True))
    with tempfile.TemporaryDirectory() as folder:
        refusing = Path(folder) / "refusing-16.toml"
        refusing.write_text(REFUSING_16, encoding="utf-8")
        report("16 packs, master refuses FF", cycles(refusing, group_reads=True))
    report(
        "16 packs, not used: 4F proofs", cycles("healthy-16", group_reads=True, alternative=True)
    )
    print(
        f"group read against per address: median {group_mid / per_mid:.2f} x; "
        f"per-address floor {PER_ADDRESS_FLOOR_16_S:.2f} s, the issue's goal "
        f"{TARGET_16_S:.1f} s (no pack proved alive at that floor)"
    )
    ok = group_mid < PER_ADDRESS_FLOOR_16_S and group_low < per_mid
    print("group cycle below the per-address floor" if ok else "GROUP CYCLE NOT FASTER")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
