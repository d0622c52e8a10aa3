"""RS485 scan speed: a whole `active scan` process against the line's own floor.

Everything runs against the built-in simulator on its pty, at 9600 baud with
20 ms BMS latency (the simulator paces every reply byte at the baud rate and
waits the latency before answering, like a real BMS). This script hosts the
simulator; `active scan --port PTY` runs as a fresh process, and its wall time
is what an installer waits, start-up and shut-down included.

The floor is computed from what that run exchanged, recorded with `--record`
(every request and reply frame): every byte x 10 bits / baud, plus the
simulator's latency once per reply. Silence is free in the floor, so a probe
of an empty address costs only its request there: the time a scan spends
waiting at empty addresses is in the ratio. Counters from the same capture:
requests, replies, retries (a request sent again at once), and garbled
replies (a bad checksum or framing); a run with retries or garbled replies is
flagged, since its floor holds traffic a clean line would not need.

Jobs and targets (issue 18):
  healthy-4, default range 1-17     process <= 1.15 x floor
  healthy-16, default range 1-17    process <= 1.10 x floor, and < 7.05 s (the
                                    per-address floor before the group read)
  pylon-addressing (master at 2)    process <= 1.2 x floor

Figures: min and median of RUNS runs, each on a fresh simulator. A last line
gives, for information, the RS485 part alone (discovery.scan_rs485 in this
process, no start-up) for the 16-pack job.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench_bytecode import compile_bytecode  # benches/, on the path when run as a script

from active_cli import discovery
from active_cli.links.replay import read_rs485_capture
from active_cli.links.serial_link import SerialLink, wire_time_s
from active_cli.logs.rs485_log import read_rs485_log
from active_cli.sim.site import SimulatedSite

BAUD = 9600
LATENCY_MS = 20.0
RUNS = 3
ACTIVE = Path(sys.executable).parent / "active"
OLD_FLOOR_16_S = 7.05  # 16 packs read per address (0x42, 0x93, 0x96 each), before this change


@dataclass(frozen=True)
class Run:
    wall_s: float
    floor_s: float
    requests: int
    replies: int
    retries: int
    garbled: int
    exit_code: int


def _site(scenario: str) -> SimulatedSite:
    return SimulatedSite(scenario, baud=BAUD, latency_ms=LATENCY_MS, pty=True, with_can=False)


def floor_of(capture_path: Path) -> tuple[float, int, int, int, int]:
    """(floor seconds, requests, replies, retries, garbled) of a recorded scan."""
    capture = read_rs485_capture(capture_path)
    wire_bytes = capture.noise_bytes
    replies = retries = garbled = 0
    previous: bytes | None = None
    for exchange in capture.exchanges:
        wire_bytes += len(exchange.request)
        if exchange.request == previous:
            retries += 1
        previous = exchange.request
        heard = [] if exchange.reply is None else [(exchange.reply, 0.0, exchange.complete)]
        for frame, _, complete in (*heard, *exchange.later):
            wire_bytes += len(frame)
            replies += 1
            garbled += not complete
    # A "??" frame (bad checksum, bad framing) is a reply the link could not use.
    garbled += sum(1 for record in read_rs485_log(capture_path) if record.direction == "??")
    floor = wire_time_s(wire_bytes, BAUD) + replies * LATENCY_MS / 1000.0
    return floor, len(capture.exchanges), replies, retries, garbled


def process_scan(scenario: str) -> Run:
    with tempfile.TemporaryDirectory() as folder, _site(scenario) as site:
        assert site.rs485_pty is not None
        capture = Path(folder) / "scan.rs485"
        argv = [str(ACTIVE), "scan", "--port", site.rs485_pty, "--record", str(capture)]
        started = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, check=False)
        wall = time.perf_counter() - started
        floor, requests, replies, retries, garbled = floor_of(capture)
    if done.returncode not in (0, 1):
        sys.stderr.write(done.stderr.decode(errors="replace"))
    return Run(wall, floor, requests, replies, retries, garbled, done.returncode)


def in_process_scan(scenario: str) -> tuple[float, float]:
    """(wall, floor) of discovery.scan_rs485 alone, group reads on (as `active scan`)."""
    with _site(scenario) as site:
        assert site.rs485_pty is not None
        with SerialLink.open(site.rs485_pty, baud=BAUD) as link:
            started = time.perf_counter()
            discovery.scan_rs485(link, discovery.ScanOptions(group_reads=True))
            wall = time.perf_counter() - started
            stats = link.stats
            floor = (
                wire_time_s(stats.bytes_sent + stats.bytes_received, BAUD)
                + stats.replies_heard * LATENCY_MS / 1000.0
            )
    return wall, floor


def report(label: str, scenario: str, target: float, *, below_s: float | None = None) -> bool:
    runs = [process_scan(scenario) for _ in range(RUNS)]
    walls = [r.wall_s for r in runs]
    floor = statistics.median(r.floor_s for r in runs)
    low, mid = min(walls), statistics.median(walls)
    ok = mid <= target * floor and all(r.exit_code in (0, 1) for r in runs)
    if below_s is not None:
        ok = ok and mid < below_s
    last = runs[-1]
    flags = [f"exit {r.exit_code}" for r in runs if r.exit_code not in (0, 1)]
    if any(r.retries or r.garbled for r in runs):
        flags.append(
            "RETRIES: " + ", ".join(f"{r.retries} retries/{r.garbled} garbled" for r in runs)
        )
    print(
        f"{label:34s} process min {low:6.3f} s  median {mid:6.3f} s  floor {floor:6.3f} s  "
        f"ratio min {low / floor:5.3f} median {mid / floor:5.3f} (target <= {target:.2f}"
        + (f", and < {below_s:.2f} s" if below_s is not None else "")
        + f")  [{last.requests} requests, {last.replies} replies, "
        f"{last.retries} retries, {last.garbled} garbled]"
        + (f"  {'; '.join(flags)}" if flags else "")
        + ("" if ok else "  MISSED")
    )
    return ok


def main() -> None:
    compile_bytecode()
    print(
        f"simulator pty, {BAUD} baud, {LATENCY_MS:.0f} ms BMS latency, "
        f"`active scan --port PTY`, min and median of {RUNS} runs"
    )
    ok = report("4 packs, addresses 1-17", "healthy-4", 1.15)
    ok = report("16 packs, addresses 1-17", "healthy-16", 1.10, below_s=OLD_FLOOR_16_S) and ok
    ok = report("master at address 2 (3 packs)", "pylon-addressing", 1.2) and ok
    inner = [in_process_scan("healthy-16") for _ in range(RUNS)]
    walls = [w for w, _ in inner]
    print(
        f"{'16 packs, scan_rs485 alone':34s} min {min(walls):6.3f} s  median "
        f"{statistics.median(walls):6.3f} s  floor {inner[0][1]:6.3f} s (information)"
    )
    print("targets met" if ok else "TARGETS MISSED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
