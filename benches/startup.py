"""Start-up time: `active --help` against `cantools --help` on this machine.

Both run as fresh processes from the same interpreter's bin directory, a few
warm-up runs first, then the median of N. Target (issue 2): the ratio active /
cantools is at most 1.0.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

RUNS = 15
BIN = Path(sys.executable).parent


def median_seconds(argv: list[str]) -> float:
    for _ in range(3):
        subprocess.run(argv, capture_output=True, check=True)
    samples = []
    for _ in range(RUNS):
        start = time.perf_counter()
        subprocess.run(argv, capture_output=True, check=True)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    active = median_seconds([str(BIN / "active"), "--help"])
    cantools = median_seconds([str(BIN / "cantools"), "--help"])
    print(f"active --help    median {active * 1000:7.1f} ms  ({RUNS} runs)")
    print(f"cantools --help  median {cantools * 1000:7.1f} ms  ({RUNS} runs)")
    print(f"ratio active/cantools   {active / cantools:7.2f}  (target <= 1.00)")


if __name__ == "__main__":
    main()
