"""A child process's own peak resident size, for tests that hold memory flat.

``wait4``'s ``ru_maxrss`` of a child counts its parent's resident size at the
fork (Linux keeps the larger across exec): under pytest every child would
report at least the test process's size, and a test comparing two children
could not fail. VmHWM in ``/proc/PID/status`` is the peak of the child's own
image; it is read every few milliseconds while the child runs.
"""

from __future__ import annotations

import subprocess
import threading

POLL_S = 0.003


def _vm_hwm_kb(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def peak_rss_kb(argv: list[str], *, timeout_s: float = 120.0) -> int:
    """Run `argv` (output discarded) and return its own peak resident size in kB."""
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak = 0
    done = threading.Event()

    def watch() -> None:
        nonlocal peak
        while not done.is_set():
            kb = _vm_hwm_kb(proc.pid)
            if kb is not None:
                peak = max(peak, kb)
            done.wait(POLL_S)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        proc.wait(timeout=timeout_s)
    finally:
        done.set()
        watcher.join()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert peak > 0, "no VmHWM read: the child ended before the first poll"
    return peak
