"""Every RS485 read ends, and a slow BMS is told from a silent one.

Issue 19, items 1 and 12: `SerialLink.transact` used to push its deadline back
on every chunk, so a line that never stopped sending (noise, a stream without
CR, a second master polling every 30 ms) kept a scan reading forever; and a
reply that started after the budget was dropped, then heard as noise during
the next request ("148 bytes of noise", a wiring hint) instead of as late.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest

from active_cli.errors import DecodeError
from active_cli.links.serial_link import BABBLE_REASON, SerialLink, overall_deadline_s
from active_cli.protocols import pylon_rs485 as rs
from active_cli.protocols.pylon_rs485 import Command
from active_cli.sim.site import SimulatedSite

BABBLE_FOR_S = 4.0  # the old code read until the babbling stopped


class BabblingPort:
    """A port that returns `chunk` on every read for `for_s` seconds, then silence."""

    def __init__(self, chunk: bytes, *, for_s: float = BABBLE_FOR_S, every_s: float = 0.002):
        self.timeout: float | None = 0.0
        self._chunk = chunk
        self._until = time.monotonic() + for_s
        self._every_s = every_s

    @property
    def in_waiting(self) -> int:
        return 0

    def write(self, data: bytes, /) -> int | None:
        return len(data)

    def read(self, size: int = 1) -> bytes:
        time.sleep(min(self.timeout or 0.0, self._every_s))
        return self._chunk if time.monotonic() < self._until else b""

    def reset_input_buffer(self) -> None:
        pass

    def close(self) -> None:
        pass


def other_master_frame(adr: int) -> bytes:
    """What an inverter polling the same line sends: requests to other addresses."""
    return rs.build_request(Command.ANALOG, adr)


@pytest.mark.parametrize(
    "chunk",
    [
        pytest.param(b"\x55\xaa\x00", id="noise"),
        pytest.param(b"~2002460", id="stream-without-cr"),
        pytest.param(other_master_frame(7), id="second-master"),
    ],
)
def test_a_line_that_keeps_sending_ends_the_read_with_a_babble_finding(chunk: bytes) -> None:
    link = SerialLink(
        BabblingPort(chunk), baud=9600, latency_budget_s=0.2, retries=0, late_grace_s=0
    )
    started = time.monotonic()
    with pytest.raises(DecodeError) as caught:
        link.query(Command.ANALOG, 2)
    elapsed = time.monotonic() - started
    bound = overall_deadline_s(0.02, 0.2, 158, 9600)
    assert elapsed < bound + 0.3 < BABBLE_FOR_S
    assert caught.value.reason == BABBLE_REASON
    assert link.stats.babbling_reads == 1


@pytest.fixture(scope="module")
def slow_site() -> Iterator[SimulatedSite]:
    if os.name != "posix":
        pytest.skip("the simulator's pty needs POSIX")
    with SimulatedSite("healthy-4", baud=115200, latency_ms=700, pty=False) as site:
        yield site


def open_slow(site: SimulatedSite) -> SerialLink:
    return SerialLink.open(site.rs485_url, baud=115200, latency_budget_s=0.5)


def test_a_slow_reply_is_returned_and_counted_late_not_noise(slow_site: SimulatedSite) -> None:
    with open_slow(slow_site) as link:
        frame = link.query(Command.ANALOG, 2, info=bytes([2]))
        assert frame.adr == 2
        assert link.stats.late_replies == 1
        assert 650 <= link.stats.late_reply_ms[0] <= 900
        # The link now waits long enough for this BMS: the next reply is on time.
        assert link.latency_budget_s >= 1.0
        link.query(Command.ANALOG, 3, info=bytes([3]))
        assert link.stats.late_replies == 1
        # The old link retried, took the first try's late reply for the
        # second's, and heard the second's reply as noise on the next request.
        assert link.stats.noise_bytes == 0
        assert link.stats.address(2).retries == 0


def test_a_late_reply_heard_during_the_next_probe_is_late_not_a_stray(
    slow_site: SimulatedSite,
) -> None:
    with open_slow(slow_site) as link:
        with pytest.raises(Exception):  # noqa: B017 - a probe of a slow pack times out
            link.query(Command.ANALOG, 2, info=bytes([2]), retry_on_timeout=False)
        with pytest.raises(Exception):  # noqa: B017 - address 9 is empty
            link.query(Command.ANALOG, 9, info=bytes([9]), retry_on_timeout=False)
        assert link.stats.late_replies == 1
        assert link.stats.stray_frames == 0
        assert link.stats.noise_bytes == 0
