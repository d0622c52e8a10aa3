"""Decoding speed, memory and start-up: `active log decode` against `python -m cantools decode`.

Generates a candump -L log of Pylon LV V1.2 traffic made by the simulator (its
stack model stepped one second a cycle, faster than real time, under a
changing household load; the master's frames from `sim.can_node.battery_frames`
and the inverter's 0x305: see `active_cli.sim.traffic`), seven frames a
simulated second, of 3 M frames in a temporary directory; the 300 k and 1 M
logs are its first frames (stepping the model costs ~20 us a frame, so it runs
once). Then it runs, each as a fresh process with its output thrown away
(stdout to /dev/null), `--repeat` times each, interleaved (one run of each in
turn, so a busy moment of the machine hits every contender alike):

- ``active log decode LOG --format jsonl`` and ``active log decode LOG`` (CSV,
  one row per signal) on the 1 M log;
- ``python -m cantools decode --single-line --no-strict pylon_lv.dbc < LOG`` on
  the same 1 M frames and the same DBC, the peer. ``--single-line`` is
  cantools' faster output (one line a frame, as ours); ``--no-strict`` lets it
  decode the 4-byte 0x355 of V1.2 firmware (allow_truncated), as ours does;
- ``active log decode --format jsonl`` on 300 k and 3 M frames, for memory;
- ``active log decode`` of a 6-frame log, ``--startup-runs`` times after the
  sources are byte-compiled: the start-up an installer waits for a small file.

frames/s counts the whole process, start-up included. Figures are the min and
the median of the runs; the ratio to cantools is taken min to min and median
to median (the peer measured in the same run). Peak memory is the process's
own peak resident size (VmHWM in /proc, read every 5 ms while it runs; the
``wait4`` figure would count this script's size at fork), the largest of a
size's runs.
Targets (issue 18): active JSON lines at least 6x cantools' frames/s on 1 M
frames; peak memory at 300 k, 1 M and 3 M frames within 10 % of each other.

    python benches/decode.py [--seed N] [--frames N] [--cantools-frames N] [--repeat N]
        [--keep | --logs DIR]

``--frames`` is the middle size (the others are 0.3x and 3x it).
``--cantools-frames`` measures cantools on the first N frames only (frames/s
is a rate, so a subset gives the same figure faster); by default it decodes
the whole 1 M file.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench_bytecode import compile_bytecode  # benches/, on the path when run as a script

from active_cli.resources import data_file
from active_cli.sim.traffic import pylon_v12_traffic, write_candump

BIN = Path(sys.executable).parent
SPEED_TARGET = 6.0  # active JSON lines / cantools, frames/s (issue 18)
MEMORY_TARGET = 0.10  # peak RSS spread over the sizes


@dataclass(frozen=True)
class Run:
    seconds: float
    peak_rss_mb: float
    stderr: str


@dataclass
class Series:
    label: str
    frames: int
    runs: list[Run]

    @property
    def min_s(self) -> float:
        return min(r.seconds for r in self.runs)

    @property
    def median_s(self) -> float:
        return statistics.median(r.seconds for r in self.runs)

    @property
    def peak_rss_mb(self) -> float:
        return max(r.peak_rss_mb for r in self.runs)

    def rate(self, seconds: float) -> float:
        return self.frames / seconds


def _vm_hwm_mb(pid: int) -> float | None:
    """The process's own peak resident size (VmHWM), or None once it is gone."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        return None
    return None


def _watch_peak(pid: int, done: threading.Event, peak: list[float]) -> None:
    # ru_maxrss of a child counts its parent's resident size at fork (Linux
    # keeps the larger across exec): this script holds tens of MB, so every
    # child would report the same. VmHWM is the child's own image's peak.
    while not done.is_set():
        mb = _vm_hwm_mb(pid)
        if mb is not None:
            peak[0] = max(peak[0], mb)
        done.wait(0.005)


def run(argv: list[str], stdin_path: Path | None = None) -> Run:
    stdin = open(stdin_path, "rb") if stdin_path else subprocess.DEVNULL  # noqa: SIM115
    peak = [0.0]
    done = threading.Event()
    try:
        start = time.perf_counter()
        proc = subprocess.Popen(
            argv, stdin=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        watcher = threading.Thread(target=_watch_peak, args=(proc.pid, done, peak), daemon=True)
        watcher.start()
        assert proc.stderr is not None
        err = proc.stderr.read().decode(errors="replace")
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        done.set()
        watcher.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
    finally:
        done.set()
        if stdin_path:
            stdin.close()  # type: ignore[union-attr]
    if proc.returncode != 0:
        raise SystemExit(f"{argv} failed ({proc.returncode}): {err}")
    if peak[0] == 0.0:  # no /proc (macOS): ru_maxrss, in bytes there, parent's share included
        peak[0] = usage.ru_maxrss / (1024 * 1024 if sys.platform == "darwin" else 1024)
    return Run(seconds, peak[0], err)


def interleaved(times: int, contenders: list[tuple[Series, Callable[[], Run]]]) -> None:
    """One run of each contender in turn, `times` rounds."""
    for _ in range(times):
        for series, once in contenders:
            series.runs.append(once())


def generate(path: Path, seed: int, frames: int) -> float:
    """Write `frames` frames of simulated traffic to `path`; returns the seconds it took."""
    start = time.perf_counter()
    written = write_candump(path, pylon_v12_traffic(seed, frames))
    assert written == frames
    return time.perf_counter() - start


def head(source: Path, target: Path, lines: int) -> None:
    with open(source, "rb") as src, open(target, "wb") as dst:
        for i, line in enumerate(src):
            if i >= lines:
                break
            dst.write(line)


def show(s: Series) -> None:
    print(
        f"{s.label:<46} {s.frames:>9,} frames  {s.min_s:6.2f} / {s.median_s:6.2f} s  "
        f"{s.rate(s.min_s):>9,.0f} / {s.rate(s.median_s):>9,.0f} frames/s  "
        f"peak {s.peak_rss_mb:6.1f} MB"
    )


def check_summary(s: Series) -> None:
    for r in s.runs:
        if f"{s.frames} frames read: {s.frames} frames decoded" not in r.stderr:
            raise SystemExit(f"{s.label}: unexpected summary {r.stderr!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--frames", type=int, default=1_000_000, help="the middle size")
    parser.add_argument("--cantools-frames", type=int, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the generated logs")
    parser.add_argument(
        "--logs", type=Path, default=None, help="a folder of logs a previous --keep run left"
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs of each decode")
    parser.add_argument("--startup-runs", type=int, default=5)
    args = parser.parse_args()

    mid_n = args.frames
    small_n, large_n = int(0.3 * mid_n), 3 * mid_n
    cantools_n = min(args.cantools_frames or mid_n, mid_n)
    dbc = data_file("dbc", "pylon_lv.dbc")
    compile_bytecode()
    tmp = args.logs or Path(tempfile.mkdtemp(prefix="active-bench-decode-"))
    keep = args.keep or args.logs is not None
    try:
        small, mid, large = (tmp / f"pylon-{n}.log" for n in (small_n, mid_n, large_n))
        tiny = tmp / "pylon-6.log"
        if args.logs is None or not large.exists():
            t_large = generate(large, args.seed, large_n)
            print(
                f"simulated {large_n:,} frames in {t_large:.1f} s "
                f"({1e6 * t_large / large_n:.1f} us a frame; "
                f"{large.stat().st_size / 1e6:.0f} MB) in {tmp}"
            )
        head(large, mid, mid_n)
        head(large, small, small_n)
        head(large, tiny, 6)
        print(f"the {small_n:,} and {mid_n:,} frame logs are the first frames of the {large_n:,}")
        active = [str(BIN / "active"), "log", "decode"]
        c_input = mid
        if cantools_n < mid_n:
            c_input = tmp / "pylon-cantools.log"
            head(mid, c_input, cantools_n)
        cantools_argv = [
            sys.executable, "-m", "cantools", "decode", "--single-line", "--no-strict", str(dbc)
        ]  # fmt: skip
        jsonl = Series("active log decode --format jsonl", mid_n, [])
        csv = Series("active log decode (csv)", mid_n, [])
        cantools = Series(
            "python -m cantools decode --single-line"
            + ("" if cantools_n == mid_n else " (subset)"),
            cantools_n,
            [],
        )
        jsonl_small = Series("active log decode --format jsonl", small_n, [])
        jsonl_large = Series("active log decode --format jsonl", large_n, [])
        interleaved(
            args.repeat,
            [
                (jsonl, lambda: run([*active, str(mid), "-f", "jsonl"])),
                (csv, lambda: run([*active, str(mid)])),
                (cantools, lambda: run(cantools_argv, stdin_path=c_input)),
                (jsonl_small, lambda: run([*active, str(small), "-f", "jsonl"])),
                (jsonl_large, lambda: run([*active, str(large), "-f", "jsonl"])),
            ],
        )
        for s in (jsonl, csv, jsonl_small, jsonl_large):
            check_summary(s)
        startup = Series("active log decode, 6 frames (start-up)", 6, [])
        interleaved(args.startup_runs, [(startup, lambda: run([*active, str(tiny)]))])
    finally:
        if keep:
            print(f"logs kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    print("\n(min / median of the runs)")
    for s in (jsonl, csv, cantools, jsonl_small, jsonl_large):
        show(s)
    print(
        f"{startup.label:<46} {startup.min_s:6.3f} / {startup.median_s:6.3f} s "
        f"({len(startup.runs)} runs)"
    )
    ratio_min = jsonl.rate(jsonl.min_s) / cantools.rate(cantools.min_s)
    ratio_median = jsonl.rate(jsonl.median_s) / cantools.rate(cantools.median_s)
    csv_min = csv.rate(csv.min_s) / cantools.rate(cantools.min_s)
    csv_median = csv.rate(csv.median_s) / cantools.rate(cantools.median_s)
    peaks = [s.peak_rss_mb for s in (jsonl_small, jsonl, jsonl_large)]
    spread = max(peaks) / min(peaks) - 1
    verdict = "PASS" if min(ratio_min, ratio_median) >= SPEED_TARGET else "FAIL"
    print()
    print(
        f"speed   active jsonl / cantools  {ratio_min:5.2f}x min, {ratio_median:5.2f}x median  "
        f"(target >= {SPEED_TARGET:.2f})  {verdict}"
    )
    print(f"        active csv / cantools    {csv_min:5.2f}x min, {csv_median:5.2f}x median")
    print(
        f"memory  peak at {small_n:,} / {mid_n:,} / {large_n:,} frames: "
        + " / ".join(f"{p:.1f}" for p in peaks)
        + f" MB, spread {100 * spread:.1f} %  (target within {100 * MEMORY_TARGET:.0f} %)  "
        + ("PASS" if spread <= MEMORY_TARGET else "FAIL")
    )
    if cantools_n < mid_n:
        print(f"(cantools measured on the first {cantools_n:,} frames of the same log)")


if __name__ == "__main__":
    main()
