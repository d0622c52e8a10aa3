"""The CAN watcher notices a bus or gateway that died (issue 19, item 8 / deliver 7).

`monitor` over socketcand kept running to --duration and exited 0 after the
server had died: python-can's client reads an empty socket without an error.
The watcher now tells frames flowing from silence after frames, and with a
silence limit its snapshot raises `CanBusSilent` (a LinkError: exit 3).
"""

from __future__ import annotations

import os
import time
import uuid

import can
import pytest

from active_cli.errors import LinkError
from active_cli.links.can_watch import BusHealth, CanBusSilent, CanWatcher
from active_cli.sim.site import SimulatedSite


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def wait_for_frames(watcher: CanWatcher, count: int) -> None:
    deadline = time.monotonic() + 5
    while watcher.snapshot().frames < count and time.monotonic() < deadline:
        time.sleep(0.01)


def test_silence_after_frames_is_silent_and_raises_with_a_limit() -> None:
    channel = f"watch-{uuid.uuid4().hex[:8]}"
    clock = FakeClock()
    with (
        can.Bus(interface="virtual", channel=channel) as bus,
        can.Bus(interface="virtual", channel=channel) as sender,
        CanWatcher(bus, clock, silence_limit_s=2.0) as watcher,
    ):
        assert watcher.snapshot().health is BusHealth.NEVER_HEARD
        clock.now += 10  # no frame yet is not a dead bus: the battery may be off
        assert watcher.snapshot().health is BusHealth.NEVER_HEARD
        sender.send(can.Message(arbitration_id=0x356, data=bytes(6), is_extended_id=False))
        wait_for_frames(watcher, 1)
        assert watcher.snapshot().health is BusHealth.LIVE
        clock.now += 1.9
        assert watcher.snapshot().health is BusHealth.LIVE
        clock.now += 0.2
        with pytest.raises(CanBusSilent) as caught:
            watcher.snapshot()
    assert isinstance(caught.value, LinkError) and caught.value.exit_code == 3
    assert "no CAN frame for 2.1 s" in caught.value.message


def test_without_a_limit_silence_is_reported_not_raised() -> None:
    channel = f"watch-{uuid.uuid4().hex[:8]}"
    clock = FakeClock()
    with (
        can.Bus(interface="virtual", channel=channel) as bus,
        can.Bus(interface="virtual", channel=channel) as sender,
        CanWatcher(bus, clock) as watcher,
    ):
        sender.send(can.Message(arbitration_id=0x356, data=bytes(6), is_extended_id=False))
        wait_for_frames(watcher, 1)
        clock.now += 60
        heard = watcher.snapshot()
    assert heard.health is BusHealth.LIVE  # no limit: nothing is judged
    assert heard.silent_s == pytest.approx(60, abs=0.5)


@pytest.mark.skipif(os.name != "posix", reason="socketcand simulator: POSIX")
def test_a_socketcand_server_that_dies_is_noticed() -> None:
    with SimulatedSite("healthy-4", pty=False, socketcand_port=0) as site:
        assert site.socketcand is not None
        bus = can.Bus(
            interface="socketcand",
            channel=site.socketcand.channel,
            host=site.socketcand.host,
            port=site.socketcand.port,
        )
        try:
            with CanWatcher(bus, silence_limit_s=1.5) as watcher:
                wait_for_frames(watcher, 5)
                assert watcher.snapshot().health is BusHealth.LIVE
                site.socketcand.close()
                deadline = time.monotonic() + 6
                with pytest.raises(LinkError):
                    while time.monotonic() < deadline:
                        watcher.snapshot()
                        time.sleep(0.1)
        finally:
            bus.shutdown()
