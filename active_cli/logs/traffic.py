"""Synthetic Pylon LV CAN traffic, as a candump ``-L`` log, for tests and benches.

A stand-in for the simulator's CAN node (`sim.can_node`), which broadcasts in
real time, once a second: a benchmark needs millions of frames in seconds, and
reproducibly. It should come from the simulator (its stack model stepped
faster than real time, through `can_node.battery_frames`) once that can be
done. Until then this plays a V1.2 stack of `module_count` US5000-like packs
and a Pylon-protocol inverter, one broadcast cycle a second, the message set
and DLCs of the real
old-firmware capture in protocols.md §4: 0x351 [8], 0x355 [4], 0x356 [6],
0x359 [7], 0x35C [2], 0x35E [8] from the battery, each about 2 ms apart, and
the inverter's 0x305 [8] heartbeat half a second later. The values move as a
stack does: the current follows a load that changes every few minutes, SOC
integrates it, the voltage follows SOC and current, the temperature drifts, the
charge current limit tapers near full, and a high-voltage alarm shows up at the
top of a charge. Seeded: the same seed gives the same log. Every payload is
made by `pylon_can.encode_message` (through the DBC).
"""

from __future__ import annotations

import functools
import random
from collections.abc import Iterator
from pathlib import Path

from active_cli.logs.can_reader import CanFrame
from active_cli.model import ChargeLimits, RequestFlags
from active_cli.protocols import pylon_can
from active_cli.protocols.pylon_can import (
    CanMessage,
    Heartbeat,
    Limits,
    Manufacturer,
    Measurements,
    Protection,
    Requests,
    SocSoh,
)

DEFAULT_START_S = 1_700_000_000.0  # 2023-11-14, a fixed epoch so logs are reproducible
CYCLE_S = 1.0
FRAME_GAP_S = 0.002  # master pack's spacing between frames of one cycle
HEARTBEAT_DELAY_S = 0.5
PACK_CAPACITY_AH = 100.0  # a US5000


@functools.lru_cache(maxsize=4096)
def _encode(message: CanMessage) -> tuple[int, bytes]:
    # Most messages repeat unchanged every cycle; encode each value once.
    return pylon_can.encode_message(message)


def pylon_v12_messages(seed: int, *, module_count: int = 6) -> Iterator[list[CanMessage]]:
    """One list of typed messages per 1 s cycle, forever (battery first, then 0x305)."""
    rng = random.Random(seed)
    capacity_ah = PACK_CAPACITY_AH * module_count
    soc = 55.0 + rng.uniform(-10, 10)
    temp = 24.0 + rng.uniform(-2, 2)
    current = 0.0
    target = 0.0
    while True:
        if rng.random() < 1 / 300:  # a new load or PV level every ~5 min
            target = rng.choice([-60.0, -25.0, -8.0, 0.0, 15.0, 40.0, 80.0])
        if soc >= 99.5 and target > 0:
            target = 2.0  # full: the inverter stops charging
        if soc <= 10 and target < 0:
            target = 0.0
        current += 0.1 * (target - current) + rng.gauss(0, 0.4)
        current = round(max(-200.0, min(200.0, current)), 1)
        soc = max(0.0, min(100.0, soc + 100 * current / 3600 / capacity_ah))
        temp += rng.gauss(0, 0.02) + 0.0005 * abs(current) - 0.001 * (temp - 24)
        voltage = 49.6 + 0.033 * (soc - 20) + 0.004 * current + rng.gauss(0, 0.005)
        voltage = round(max(46.0, min(54.0, voltage)), 2)
        ccl = 480.0 if soc < 90 else 100.0 if soc < 97 else 20.0
        alarms = ("high_voltage",) if voltage >= 53.0 else ()
        yield [
            Limits(ChargeLimits(53.2, ccl, 480.0, 45.0)),
            SocSoh(soc_pct=float(round(soc)), soh_pct=94.0),
            Measurements(voltage_v=voltage, current_a=current, temp_c=round(temp, 1)),
            Protection(alarms=alarms, module_count=module_count),
            Requests(RequestFlags(charge_enable=soc < 100, discharge_enable=soc > 5)),
            Manufacturer("PYLON"),
            Heartbeat(bytes(8)),
        ]


def pylon_v12_traffic(
    seed: int,
    frames: int,
    *,
    start_s: float = DEFAULT_START_S,
    channel: str = "can0",
    module_count: int = 6,
) -> Iterator[CanFrame]:
    """`frames` frames of a V1.2 stack and its inverter, timestamps from `start_s`."""
    rng = random.Random(seed ^ 0x5EED)
    count = 0
    cycle_start = start_s
    for messages in pylon_v12_messages(seed, module_count=module_count):
        *battery, heartbeat = messages
        t = cycle_start + rng.uniform(0, 0.0005)
        timed: list[tuple[float, CanMessage]] = []
        for message in battery:
            timed.append((t, message))
            t += FRAME_GAP_S + rng.uniform(-0.0002, 0.0002)
        timed.append((cycle_start + HEARTBEAT_DELAY_S + rng.uniform(-0.02, 0.02), heartbeat))
        for stamp, message in timed:
            if count >= frames:
                return
            arbitration_id, data = _encode(message)
            yield CanFrame(stamp, channel, arbitration_id, data)
            count += 1
        cycle_start += CYCLE_S


def candump_line(frame: CanFrame) -> str:
    """The frame as ``candump -L`` logs it: ``(1700000000.000123) can0 356#7A13F2FE6B01``."""
    ident = f"{frame.arbitration_id:08X}" if frame.is_extended_id else f"{frame.arbitration_id:03X}"
    return f"({frame.timestamp:.6f}) {frame.channel} {ident}#{frame.data.hex().upper()}\n"


def write_candump(path: str | Path, frames: Iterator[CanFrame]) -> int:
    """Write frames as a candump -L log; returns how many."""
    count = 0
    with open(path, "w", encoding="ascii", newline="\n") as f:
        batch: list[str] = []
        for frame in frames:
            batch.append(candump_line(frame))
            if len(batch) >= 8192:
                f.write("".join(batch))
                count += len(batch)
                batch.clear()
        f.write("".join(batch))
        count += len(batch)
    return count
