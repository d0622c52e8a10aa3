"""CAN capture under full load: `active log capture` through the simulator's socketcand.

A fully loaded 500 kbit/s bus carries about 4,000 frames a second. This bench
starts the simulator (healthy-4, its socketcand server on 127.0.0.1) in this
process, adds a load generator on the simulated bus that sends RATE frames a
second (id 0x7F0, a sequence number in the first four data bytes; paced in
10 ms slots), and runs ``python -m active_cli log capture FILE --duration D
--json`` in a child process through python-can's ``socketcand`` interface.

Counted from the file afterwards (python-can's own reader): the sequence
numbers between the first and the last one captured, and how many of them
are missing, and how many were sent more than 20 ms before the capture
stopped (its summary's ``ended_at``) but are not in the file (the backlog of a
capture that fell behind); both count as lost. Frames sent before the
capture connected are not losses. Also printed: the capture's own summary,
received vs written. Each run is repeated RUNS times; min and median are
printed.

    python benches/capture_load.py [--rate 4000] [--duration 30] [--runs 3] [--suffix .log]

Target (issue 19): zero frames lost at 4,000 frames/s for 30 s.
"""

from __future__ import annotations

import argparse
import json
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

LOAD_ID = 0x7F0


class LoadGenerator(threading.Thread):
    """Send `rate` frames/s with a running sequence number until stopped."""

    def __init__(self, bus: object, rate: int) -> None:
        super().__init__(daemon=True)
        self.bus = self._bus = bus
        self._rate = rate
        self._stop_event = threading.Event()
        self.sent = 0
        self.sent_at: list[float] = []  # wall-clock time of each sequence number

    def run(self) -> None:
        import can

        slot_s = 0.01
        per_slot = max(1, round(self._rate * slot_s))
        next_slot = time.monotonic()
        while not self._stop_event.is_set():
            for _ in range(per_slot):
                data = struct.pack(">II", self.sent, 0)
                self._bus.send(  # type: ignore[attr-defined]
                    can.Message(arbitration_id=LOAD_ID, data=data, is_extended_id=False)
                )
                self.sent_at.append(time.time())
                self.sent += 1
            next_slot += slot_s
            delay = next_slot - time.monotonic()
            if delay > 0:
                time.sleep(delay)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


def captured_sequence(path: Path) -> list[int]:
    import can

    seqs = []
    with can.LogReader(path) as reader:
        for message in reader:
            if message.arbitration_id == LOAD_ID and len(message.data) >= 4:
                seqs.append(struct.unpack(">I", bytes(message.data[:4]))[0])
    return seqs


def one_run(rate: int, duration_s: float, suffix: str, folder: Path, n: int) -> dict[str, float]:
    from active_cli.sim.site import SimulatedSite

    path = folder / f"load-{n}{suffix}"
    with SimulatedSite("healthy-4", pty=False, socketcand_port=0) as site:
        assert site.socketcand is not None
        generator = LoadGenerator(site.open_can_bus(), rate)
        generator.start()
        try:
            proc = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "active_cli",
                    "log",
                    "capture",
                    str(path),
                    "--duration",
                    str(duration_s),
                    "--json",
                    "--interface",
                    "socketcand",
                    "--channel",
                    site.socketcand.channel,
                    "--can-option",
                    f"host={site.socketcand.host}",
                    "--can-option",
                    f"port={site.socketcand.port}",
                ],
                capture_output=True,
                text=True,
                timeout=duration_s + 60,
                check=False,
            )
        finally:
            generator.stop()
            generator.bus.shutdown()  # type: ignore[attr-defined]
    if proc.returncode != 0:
        raise SystemExit(f"capture failed ({proc.returncode}): {proc.stderr}")
    summary = json.loads(proc.stdout)
    seqs = captured_sequence(path)
    span = (max(seqs) - min(seqs) + 1) if seqs else 0
    unique = len(set(seqs))
    lost = span - unique
    # Frames sent well before the capture stopped that it never wrote: a
    # capture that falls behind loses its backlog when it stops.
    from datetime import datetime

    ended = datetime.fromisoformat(summary["ended_at"]).timestamp() - 0.02
    last = max(seqs) if seqs else -1
    behind = sum(1 for t in generator.sent_at[last + 1 :] if t < ended)
    return {
        "span": span,
        "captured": unique,
        "lost": lost,
        "behind": behind,
        "delivered_pct": 100.0 * unique / span if span else 0.0,
        "received": summary.get("can_received", summary.get("can_frames", 0)),
        "written": summary.get("can_frames", 0),
        "dropped": summary.get("can_dropped", 0),
        "rate_fps": unique / duration_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=4000)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--suffix", default=".log")
    args = parser.parse_args()
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(args.runs):
            result = one_run(args.rate, args.duration, args.suffix, Path(tmp), n)
            runs.append(result)
            print(
                f"run {n + 1}: {result['captured']:.0f} of {result['span']:.0f} frames "
                f"({result['delivered_pct']:.3f} %), lost {result['lost']:.0f}, "
                f"{result['behind']:.0f} sent before it stopped but not written; "
                f"capture says received {result['received']}, written {result['written']}, "
                f"dropped {result['dropped']}",
                flush=True,
            )
    lost = [r["lost"] + max(0.0, r["behind"]) for r in runs]
    pct = [r["delivered_pct"] for r in runs]
    print(
        f"{args.rate} frames/s for {args.duration:g} s to {args.suffix}, {args.runs} runs: "
        f"lost min {min(lost):.0f} median {statistics.median(lost):.0f}; "
        f"delivered min {min(pct):.3f} % median {statistics.median(pct):.3f} %"
    )


if __name__ == "__main__":
    main()
