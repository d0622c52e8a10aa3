"""Start-up: each command's time to its first output (and to its first request).

Every command runs as a fresh process from this interpreter's bin directory;
the time from spawning it to the first byte on its stdout or stderr is its
time to first output, and for the RS485 commands the time to the first
request byte on the simulated line (heard on the simulator's listen-only tap)
is its time to first request: what an installer waits before anything
happens. The simulator (healthy-1, 9600 baud, 20 ms latency) runs in this
process, so the commands pay no simulator start-up.

References in the same run: `python -c pass` (the interpreter alone) and
`cantools decode`'s own start-up (`python -c "import cantools;
cantools.db.load_file(DBC)"`, the target for `active decode can`: <= 1.2 x).

Figures: min and median of RUNS runs after 2 warm-up runs, with active_cli's
bytecode written first (as an installed wheel has it, and the libraries
compared against have theirs).
"""

from __future__ import annotations

import os
import select
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench_bytecode import compile_bytecode  # benches/, on the path when run as a script

from active_cli.resources import data_file
from active_cli.sim.site import SimulatedSite

RUNS = 7
FRAME = ("0x356", "7A13F2FE6B01")  # a BMS_Measurements frame: V, A, temperature
BIN = Path(sys.executable).parent
ACTIVE = str(BIN / "active")


@dataclass(frozen=True)
class Timing:
    first_output_s: float
    first_request_s: float | None
    total_s: float


def python_load(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def run_once(argv: list[str], tap: socket.socket | None) -> Timing:
    if tap is not None:
        _drain(tap)
    started = time.perf_counter()
    child = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert child.stdout is not None and child.stderr is not None
    pipes = {child.stdout.fileno(), child.stderr.fileno()}
    first_output: float | None = None
    first_request: float | None = None
    watched = set(pipes) | ({tap.fileno()} if tap is not None else set())
    while pipes:
        ready, _, _ = select.select(list(watched), [], [], 5.0)
        now = time.perf_counter() - started
        for fd in ready:
            if tap is not None and fd == tap.fileno():
                if tap.recv(4096) and first_request is None:
                    first_request = now
                continue
            data = os.read(fd, 65536)
            if not data:
                pipes.discard(fd)
                watched.discard(fd)
            elif first_output is None:
                first_output = now
    child.wait()
    total = time.perf_counter() - started
    return Timing(first_output if first_output is not None else total, first_request, total)


def _drain(tap: socket.socket) -> None:
    tap.setblocking(False)
    try:
        while tap.recv(4096):
            pass
    except BlockingIOError:
        pass
    tap.setblocking(True)


def measure(argv: list[str], tap: socket.socket | None = None) -> list[Timing]:
    for _ in range(2):
        run_once(argv, tap)
    return [run_once(argv, tap) for _ in range(RUNS)]


def measure_in_turns(a: list[str], b: list[str]) -> tuple[list[Timing], list[Timing]]:
    for _ in range(2):
        run_once(a, None)
        run_once(b, None)
    pairs = [(run_once(a, None), run_once(b, None)) for _ in range(RUNS)]
    return [x for x, _ in pairs], [y for _, y in pairs]


def figures(values: list[float]) -> str:
    return f"min {1000 * min(values):6.0f} ms  median {1000 * statistics.median(values):6.0f} ms"


def show(label: str, timings: list[Timing]) -> float:
    first = [t.first_output_s for t in timings]
    line = f"{label:44s} first output {figures(first)}"
    requests = [t.first_request_s for t in timings if t.first_request_s is not None]
    if requests:
        line += f"   first request {figures(requests)}"
    line += f"   exit {figures([t.total_s for t in timings])}"
    print(line)
    return statistics.median(first)


def main() -> None:
    compile_bytecode()
    dbc = str(data_file("dbc", "pylon_lv.dbc"))
    print(f"fresh processes, min and median of {RUNS} runs (2 warm-up runs first)")
    show("python -c pass", measure([sys.executable, "-c", "pass"]))
    show("active --help", measure([ACTIVE, "--help"]))
    show("active scan --help", measure([ACTIVE, "scan", "--help"]))
    load = f"import cantools; cantools.db.load_file({dbc!r}); print('ok')"
    # Taken in turns, run for run: load on this shared machine drifts, and
    # the ratio is between what the two met at the same moments.
    peer, decode = measure_in_turns(
        [sys.executable, "-c", load], [ACTIVE, "decode", "can", "0x356", "7A13F2FE6B01"]
    )
    show("python -c 'import cantools; load the DBC'", peer)
    show("active decode can 0x356 ...", decode)
    ratios = [d.first_output_s / p.first_output_s for p, d in zip(peer, decode, strict=True)]
    print(
        f"{'':44s} decode can / cantools load, first output: run by run min "
        f"{min(ratios):4.2f} median {statistics.median(ratios):4.2f} (target <= 1.20)"
    )
    show("active decode rs485 ...", measure([ACTIVE, "decode", "rs485", "~20024693E00202FD2D"]))
    with SimulatedSite(
        "healthy-1", baud=9600, latency_ms=20.0, pty=True, with_can=False, tap_port=0
    ) as site:
        assert site.rs485_pty is not None and site.rs485_tap_url is not None
        host, port = site.rs485_tap_url.removeprefix("socket://").rsplit(":", 1)
        with socket.create_connection((host, int(port))) as tap:
            jobs: list[tuple[str, Callable[[], list[str]]]] = [
                ("active scan --port PTY -a 1 (1 pack)", lambda: ["scan", "-a", "1"]),
                ("active monitor --port PTY -a 1 --once", lambda: ["monitor", "-a", "1", "--once"]),
            ]
            for label, args in jobs:
                argv = [ACTIVE, *args()[:1], "--port", site.rs485_pty, *args()[1:]]
                show(label, measure(argv, tap))


if __name__ == "__main__":
    main()
