"""Pylon LV CAN traffic from the simulator, as a candump ``-L`` log, for tests and benches.

The simulator's CAN node (`sim.can_node`) broadcasts in real time, once a
second; a benchmark needs millions of frames in seconds, and reproducibly. So
this drives the same model faster than real time: a `SimStack` built from a
scenario (`module_count` packs, the seed as the scenario's seed) is stepped
one second a cycle (``stack.advance(1.0)``), and each cycle is what the
master pack would send, `can_node.battery_frames(stack.can_state())` (the V1.2
set: 0x351 0x355 0x356 0x359 0x35C 0x35E, each about 2 ms apart), then the
inverter's 0x305 keep-alive half a second later, as `can_node.InverterNode`
sends it. The generator plays the site around the stack: a household load or
PV surplus that changes every few minutes, with the second-to-second jitter
of a real load, asked of the stack through `SimStack.set_current` as the
inverter does; the stack's own BMS decides what flows (derating near full
and empty, protections), integrates SOC, heats the cells and moves their
voltages. Seeded: the same seed gives the same log.

Cost: one cycle (step, CAN state, frames) takes about 0.14 ms for one pack
(20 us a frame), most of it the model's own step and derivations; most
messages repeat unchanged, and `battery_frames` encodes each message value
once (an LRU cache in `sim.can_node`). More packs cost proportionally more.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from active_cli.logs.can_reader import CanFrame
from active_cli.protocols import pylon_can

if TYPE_CHECKING:
    from active_cli.sim.stack import SimStack

DEFAULT_START_S = 1_700_000_000.0  # 2023-11-14, a fixed epoch so logs are reproducible
CYCLE_S = 1.0
FRAME_GAP_S = 0.002  # master pack's spacing between frames of one cycle
HEARTBEAT_DELAY_S = 0.5
DEFAULT_MODULE_COUNT = 1  # the model's cost grows with the packs it steps

# What the site asks of each pack (A, + = charging): a 2 kW evening load, the
# fridge and standby, nothing, PV surplus up to ~2.7 kW (the BMS limits what
# flows). Loads of this size move the voltage (IR drop, SOC) as a real stack's
# does, so the log's payloads repeat about as a real capture's: ~90 % of
# frames repeat one seen before (the decoder's cache depends on it).
_LOADS_PER_PACK_A = (-40.0, -16.0, -6.0, 0.0, 10.0, 28.0, 52.0)
LOAD_JITTER_A = 2.0  # second-to-second wobble of a household load, per pack
_HEARTBEAT = (pylon_can.HEARTBEAT_ID, bytes(8))  # as `can_node.InverterNode` sends it


def traffic_stack(seed: int, module_count: int = DEFAULT_MODULE_COUNT) -> SimStack:
    """The simulated stack the traffic comes from: `module_count` healthy packs, idle."""
    from active_cli.sim.scenario import parse_scenario
    from active_cli.sim.stack import SimStack

    rng = random.Random(seed)
    text = (
        'name = "traffic"\n'
        'description = "Generated traffic: a stack under a changing household load."\n'
        f"packs = {module_count}\n"
        f"seed = {seed & 0xFFFFFFFF}\n"
        "[defaults]\n"
        f"soc_pct = {round(55 + rng.uniform(-10, 10))}\n"
        "current_a = 0.0\n"
    )
    return SimStack.from_scenario(parse_scenario(text, source="<traffic>"))


def pylon_v12_cycles(
    seed: int, *, module_count: int = DEFAULT_MODULE_COUNT
) -> Iterator[list[tuple[int, bytes]]]:
    """One cycle of (id, data) pairs per simulated second, forever (battery first, then 0x305)."""
    from active_cli.sim.can_node import battery_frames

    stack = traffic_stack(seed, module_count)
    rng = random.Random(seed ^ 0x10AD)
    target = 0.0
    demand = 0.0
    pad = stack.scenario.can_pad_to_8
    while True:
        if rng.random() < 1 / 300:  # a new load or PV level every ~5 min
            target = module_count * rng.choice(_LOADS_PER_PACK_A)
        # Loads drift towards their level and never sit still to the 0.1 A.
        demand += 0.2 * (target - demand) + rng.gauss(0, LOAD_JITTER_A * module_count)
        stack.set_current(demand)
        stack.advance(CYCLE_S)
        yield [*battery_frames(stack.can_state(), pad_to_8=pad), _HEARTBEAT]


def pylon_v12_traffic(
    seed: int,
    frames: int,
    *,
    start_s: float = DEFAULT_START_S,
    channel: str = "can0",
    module_count: int = DEFAULT_MODULE_COUNT,
) -> Iterator[CanFrame]:
    """`frames` frames of a simulated V1.2 stack and its inverter, timestamps from `start_s`."""
    rng = random.Random(seed ^ 0x5EED)
    count = 0
    cycle_start = start_s
    for cycle in pylon_v12_cycles(seed, module_count=module_count):
        *battery, heartbeat = cycle
        t = cycle_start + rng.uniform(0, 0.0005)
        for arbitration_id, data in battery:
            if count >= frames:
                return
            yield CanFrame(t, channel, arbitration_id, data)
            count += 1
            t += FRAME_GAP_S + rng.uniform(-0.0002, 0.0002)
        if count >= frames:
            return
        stamp = cycle_start + HEARTBEAT_DELAY_S + rng.uniform(-0.02, 0.02)
        yield CanFrame(stamp, channel, heartbeat[0], heartbeat[1])
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
