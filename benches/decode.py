"""Decoding speed and memory: `active log decode` against `python -m cantools decode`.

Generates a candump -L log of Pylon LV V1.2 traffic made by the simulator (its
stack model stepped one second a cycle, faster than real time, under a
changing household load; the master's frames from `sim.can_node.battery_frames`
and the inverter's 0x305: see `active_cli.sim.traffic`), seven frames a
simulated second, of 4 M frames in a temporary directory, and the 1 M log as its
first quarter (stepping the model costs ~20 us a frame, so it runs once). Then
it runs, each as a fresh process with its output thrown away (stdout to
/dev/null):

- ``active log decode LOG`` (CSV, one row per signal) on 1 M and 4 M frames,
  and ``--format jsonl`` on 1 M;
- ``python -m cantools decode --single-line --no-strict pylon_lv.dbc < LOG`` on
  the same 1 M frames and the same DBC. ``--single-line`` is cantools' faster
  output (one line a frame, as ours); ``--no-strict`` lets it decode the 4-byte
  0x355 of V1.2 firmware (allow_truncated), as ours does, instead of printing an
  error for it.

frames/s counts the whole process, start-up included, best of 3 runs (best
of 2 for the 4 M log and for cantools): the fastest run is the one other work
on the machine disturbed least. Peak memory is the process's maximum resident
set size (``wait4``), the largest of the runs. Targets (issue 8): active at
least 3x cantools' frames/s; peak memory for 4 M frames within 10 % of 1 M.

    python benches/decode.py [--seed N] [--frames N] [--cantools-frames N] [--repeat N] [--keep]

``--cantools-frames`` measures cantools on the first N frames only (frames/s
is a rate, so a subset gives the same figure faster); by default it decodes
the whole 1 M file.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from active_cli.resources import data_file
from active_cli.sim.traffic import pylon_v12_traffic, write_candump

BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Run:
    label: str
    frames: int
    seconds: float
    peak_rss_mb: float
    stderr: str

    @property
    def frames_per_s(self) -> float:
        return self.frames / self.seconds


def run(label: str, argv: list[str], frames: int, stdin_path: Path | None = None) -> Run:
    stdin = open(stdin_path, "rb") if stdin_path else subprocess.DEVNULL  # noqa: SIM115
    try:
        start = time.perf_counter()
        proc = subprocess.Popen(
            argv, stdin=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        assert proc.stderr is not None
        err = proc.stderr.read().decode(errors="replace")
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
    finally:
        if stdin_path:
            stdin.close()  # type: ignore[union-attr]
    if proc.returncode != 0:
        raise SystemExit(f"{label} failed ({proc.returncode}): {err}")
    # ru_maxrss is in kB on Linux, in bytes on macOS.
    rss_mb = usage.ru_maxrss / (1024 * 1024 if sys.platform == "darwin" else 1024)
    return Run(label, frames, seconds, rss_mb, err)


def best_of(times: int, label: str, argv: list[str], frames: int, **kw: Path | None) -> Run:
    """The fastest of `times` runs (the machine may be busy with other work; the
    fastest run is the one least disturbed), with the largest peak memory seen."""
    runs = [run(label, argv, frames, **kw) for _ in range(times)]
    fastest = min(runs, key=lambda r: r.seconds)
    peak = max(r.peak_rss_mb for r in runs)
    return Run(label, frames, fastest.seconds, peak, fastest.stderr)


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


def show(r: Run) -> None:
    print(
        f"{r.label:<44} {r.frames:>9,} frames {r.seconds:7.2f} s "
        f"{r.frames_per_s:>10,.0f} frames/s  peak {r.peak_rss_mb:6.1f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--frames", type=int, default=1_000_000, help="small log (the large is 4x)")
    parser.add_argument("--cantools-frames", type=int, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the generated logs")
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs of each 1 M decode (4 M and cantools: one less)"
    )
    args = parser.parse_args()

    small_n, large_n = args.frames, 4 * args.frames
    cantools_n = min(args.cantools_frames or small_n, small_n)
    dbc = data_file("dbc", "pylon_lv.dbc")
    tmp = Path(tempfile.mkdtemp(prefix="active-bench-decode-"))
    try:
        small, large = tmp / "pylon-small.log", tmp / "pylon-large.log"
        t_large = generate(large, args.seed, large_n)
        head(large, small, small_n)
        print(
            f"simulated {large_n:,} frames in {t_large:.1f} s "
            f"({1e6 * t_large / large_n:.1f} us a frame; {large.stat().st_size / 1e6:.0f} MB), "
            f"the first {small_n:,} are the small log ({small.stat().st_size / 1e6:.0f} MB), "
            f"in {tmp}"
        )
        active = [str(BIN / "active"), "log", "decode"]
        n = args.repeat
        a_small = best_of(n, "active log decode (csv)", [*active, str(small)], small_n)
        a_large = best_of(
            max(1, n - 1), "active log decode (csv), 4x the frames", [*active, str(large)], large_n
        )
        a_json = best_of(
            n, "active log decode --format jsonl", [*active, str(small), "-f", "jsonl"], small_n
        )
        for r in (a_small, a_large, a_json):
            if f"{r.frames} frames read: {r.frames} frames decoded" not in r.stderr:
                raise SystemExit(f"{r.label}: unexpected summary {r.stderr!r}")
        c_input = small
        if cantools_n < small_n:
            c_input = tmp / "pylon-cantools.log"
            head(small, c_input, cantools_n)
        cantools = best_of(
            max(1, n - 1),
            "python -m cantools decode --single-line"
            + ("" if cantools_n == small_n else " (subset)"),
            [sys.executable, "-m", "cantools", "decode", "--single-line", "--no-strict", str(dbc)],
            cantools_n,
            stdin_path=c_input,
        )
    finally:
        if args.keep:
            print(f"logs kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    print()
    for r in (a_small, a_large, a_json, cantools):
        show(r)
    ratio = a_small.frames_per_s / cantools.frames_per_s
    ratio_json = a_json.frames_per_s / cantools.frames_per_s
    memory = a_large.peak_rss_mb / a_small.peak_rss_mb
    print()
    print(f"speed   active csv / cantools   {ratio:5.2f}x  (target >= 3.00)  "
          f"{'PASS' if ratio >= 3 else 'FAIL'}")  # fmt: skip
    print(f"        active jsonl / cantools {ratio_json:5.2f}x")
    print(f"memory  peak 4x / 1x frames     {memory:5.2f}   (target within 10 %)  "
          f"{'PASS' if abs(memory - 1) <= 0.10 else 'FAIL'}")  # fmt: skip
    if cantools_n < small_n:
        print(f"(cantools measured on the first {cantools_n:,} frames of the same log)")


if __name__ == "__main__":
    main()
