"""The simulated RS485 line takes the time a real one does.

A client that polls a real stack at 9600 baud waits for every byte: a 0x42
reply for one 16-cell pack is 148 bytes, about 154 ms on the wire, plus the
BMS's thinking time. Link budgets, scan times and the timeouts `active`
derives from the baud rate are only tested if the simulator keeps that time,
so these tests time it with plain pyserial on the pty, from the write of the
request to the CR of the reply:

    expected = request bytes x 10 / baud + latency + reply bytes x 10 / baud

The line may never be faster than that (the simulator schedules every byte
from the moment the request's last byte would have arrived), and the median of
a few polls must lie within 10 % of the wire time above it. A simulator that
ignored timing would answer in about a millisecond and fail by 150 ms.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Iterator

import pytest
import serial

from active_cli.protocols import pylon_rs485 as rs
from active_cli.sim.site import SimulatedSite

pytestmark = pytest.mark.skipif(os.name != "posix", reason="the pty endpoint is POSIX only")

BITS_PER_BYTE = 10  # 8N1: start bit, 8 data bits, stop bit
SAMPLES = 5
# Scheduling slack that the lower bound allows for: the reply cannot come
# sooner than physics, but monotonic clocks of two threads are read apart.
CLOCK_SLACK_S = 0.001


def wire_s(byte_count: int, baud: int) -> float:
    return byte_count * BITS_PER_BYTE / baud


def time_analog_polls(site: SimulatedSite, adr: int, samples: int) -> tuple[list[float], int, int]:
    """Poll 0x42 `samples` times; return the durations and the request/reply sizes."""
    assert site.rs485_pty is not None
    request = rs.build_request(rs.Command.ANALOG, adr)
    durations: list[float] = []
    reply = b""
    with serial.Serial(site.rs485_pty, site.baud, timeout=2.0) as port:
        for _ in range(samples):
            port.reset_input_buffer()
            start = time.monotonic()
            port.write(request)
            reply = b""
            while not reply.endswith(b"\r"):
                chunk = port.read(max(1, port.in_waiting))
                assert chunk, f"no complete reply within 2 s (got {reply!r})"
                reply += chunk
            durations.append(time.monotonic() - start)
            time.sleep(0.01)  # a real master leaves the line idle between polls
    rs.decode_frame(reply)  # a whole, valid frame was timed
    return durations, len(request), len(reply)


@pytest.fixture(scope="module")
def site_9600() -> Iterator[SimulatedSite]:
    # One pack, no CAN: nothing else competes for the line or the CPU.
    with SimulatedSite("healthy-1", baud=9600, latency_ms=20.0, with_can=False) as site:
        yield site


def test_analog_reply_at_9600_baud_takes_its_wire_time_plus_latency(
    site_9600: SimulatedSite,
) -> None:
    durations, request_bytes, reply_bytes = time_analog_polls(site_9600, 1, SAMPLES)
    # One 16-cell pack, P = 4 (reference §3.4): 18 frame bytes + 2 x 65 INFO bytes.
    assert reply_bytes == 148
    wire = wire_s(request_bytes, 9600) + wire_s(reply_bytes, 9600)
    expected = wire + 0.020
    assert wire == pytest.approx(0.175, abs=0.001)  # 20 + 148 bytes at 9600 baud
    assert min(durations) >= expected - CLOCK_SLACK_S, (durations, expected)
    assert statistics.median(durations) <= expected + 0.10 * wire, (durations, expected)


def test_latency_is_added_after_the_request(site_9600: SimulatedSite) -> None:
    with SimulatedSite("healthy-1", baud=9600, latency_ms=120.0, with_can=False) as slow:
        slow_durations, request_bytes, reply_bytes = time_analog_polls(slow, 1, 3)
    fast_durations, _, _ = time_analog_polls(site_9600, 1, 3)
    wire = wire_s(request_bytes + reply_bytes, 9600)
    # 100 ms more latency and nothing else: the two medians differ by that.
    difference = statistics.median(slow_durations) - statistics.median(fast_durations)
    assert difference == pytest.approx(0.100, abs=0.10 * wire)


def test_a_faster_baud_rate_shortens_the_reply() -> None:
    with SimulatedSite("healthy-1", baud=19200, latency_ms=20.0, with_can=False) as site:
        durations, request_bytes, reply_bytes = time_analog_polls(site, 1, 3)
    wire = wire_s(request_bytes + reply_bytes, 19200)
    expected = wire + 0.020
    assert min(durations) >= expected - CLOCK_SLACK_S
    assert statistics.median(durations) <= expected + 0.10 * wire
    # And clearly shorter than the same reply at 9600 baud (~195 ms).
    assert statistics.median(durations) < 0.150
