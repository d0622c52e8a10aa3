"""Monitor timing: each pack's age counts from its own read; a slow refresh is said;
the CAN panel is redrawn every second whatever RS485 does.

A 16-pack read at 9600 baud takes about 5 s per address: stamping every pack
with the end of the read showed "0.0 s ago" for values read 5 s earlier. The
link here answers from the simulator and advances an injected clock by each
exchange's wire time, so the test takes no real time.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from dataclasses import dataclass, field

import can

from active_cli import discovery
from active_cli.cli.monitor import Rs485Reader, screen_tick_s, tick
from active_cli.cli.render_monitor import _loop, refresh_behind_text
from active_cli.links.can_watch import CanWatcher
from active_cli.links.serial_link import LinkStats, wire_time_s
from active_cli.monitoring import MonitorModel
from active_cli.procedures.monitor_reads import MonitorReads
from active_cli.protocols import pylon_can
from active_cli.protocols import pylon_rs485 as rs
from active_cli.sim.clock import ManualClock
from active_cli.sim.responder import Rs485Responder
from active_cli.sim.scenario import load_scenario
from active_cli.sim.stack import SimStack

LATENCY_S = 0.02


@dataclass
class _Clock:
    now: float = 0.0

    def __call__(self) -> float:
        return self.now


@dataclass
class _TimedLink:
    """The simulator's answers; every exchange costs its wire time on `clock`."""

    clock: _Clock
    baud: int = 9600
    stats: LinkStats = field(default_factory=LinkStats)

    def __post_init__(self) -> None:
        self._bms = Rs485Responder(SimStack.from_scenario(load_scenario("healthy-16")))

    def query(
        self,
        command: rs.Command | int,
        adr: int,
        *,
        ver: int = rs.VER_PYLON,
        info: bytes | None = None,
        retry_on_timeout: bool = True,
    ) -> rs.Frame:
        request = rs.build_request(command, adr, ver=ver, info=info)
        reply = self._bms(request)
        assert reply is not None
        self.clock.now += wire_time_s(len(request) + len(reply), self.baud) + LATENCY_S
        return rs.decode_frame(reply)


def test_each_pack_age_is_within_half_a_second_of_its_own_read() -> None:
    clock = _Clock()
    link = _TimedLink(clock)
    known = discovery.scan_rs485(link).packs
    assert len(known) == 16
    model = MonitorModel(refresh_s=2.0, rs485_baud=9600)
    started = clock.now
    timed = discovery.refresh_packs_timed(link, known, clock)
    took = clock.now - started
    assert took > 4.0  # the reason this matters: the read spans seconds
    packs = tuple(reading for reading, _ in timed)
    read_at = {reading.address: at for reading, at in timed}
    model.update_packs(packs, clock.now, read_at=read_at, took_s=took)
    view = model.view(clock.now)
    # The first pack was read ~5 s before the screen shows it, the last ~0.1 s.
    for address, at in read_at.items():
        assert abs(view.pack_ages_s[address] - (clock.now - at)) <= 0.5
    assert view.pack_ages_s[1] > 4.0
    assert view.pack_ages_s[16] < 0.5


def test_a_refresh_slower_than_asked_is_said_on_screen() -> None:
    model = MonitorModel(refresh_s=2.0, rs485_baud=9600)
    packs = discovery.scan_rs485(_TimedLink(_Clock())).packs
    model.update_packs(packs, 5.3, took_s=5.3)
    view = model.view(5.3)
    assert view.refresh_behind
    assert refresh_behind_text(view) == "refresh 5.3 s: 16 packs at 9600 baud (asked 2 s)"
    model.update_packs(packs, 7.0, took_s=1.9)
    assert not model.view(7.0).refresh_behind


@dataclass
class _BlockedLink(_TimedLink):
    """Holds every request until `release` is set: an RS485 read that takes long."""

    release: threading.Event = field(default_factory=threading.Event)

    def query(
        self,
        command: rs.Command | int,
        adr: int,
        *,
        ver: int = rs.VER_PYLON,
        info: bytes | None = None,
        retry_on_timeout: bool = True,
    ) -> rs.Frame:
        self.release.wait(timeout=5.0)
        return super().query(command, adr, ver=ver, info=info, retry_on_timeout=retry_on_timeout)


def test_rs485_reads_do_not_hold_up_the_screen_tick() -> None:
    link = _BlockedLink(_Clock())
    link.release.set()  # the scan reads freely
    known = discovery.scan_rs485(link, discovery.ScanOptions(addresses=(1, 2))).packs
    link.release.clear()
    model = MonitorModel(refresh_s=0.01)
    model.update_packs(known, 0.0)
    with Rs485Reader(MonitorReads(link, known), refresh_s=0.01) as reader:
        time.sleep(0.05)  # the thread is now stuck in a read
        started = time.monotonic()
        reader.deliver(model)  # what the 1 Hz tick calls: it must not wait for the line
        assert time.monotonic() - started < 0.05
        assert model.refreshes == 1  # nothing new yet, and no waiting for it
        link.release.set()
        deadline = time.monotonic() + 5.0
        while model.refreshes == 1 and time.monotonic() < deadline:
            time.sleep(0.01)
            reader.deliver(model)
    assert model.refreshes >= 2
    assert model.view(time.monotonic()).rs485_cycle_s is not None


def test_the_can_panel_is_updated_every_second_while_an_rs485_read_is_stuck() -> None:
    """The screen's tick hands the CAN state to the model at least once a second,
    whatever RS485 does: here the reader thread sits in its group read the whole
    time. The tick runs on a manual clock; between ticks the battery sends a
    new 0x356 and the test waits (in real time, bounded) until the watcher has it."""
    link = _BlockedLink(_Clock())
    link.release.set()
    known = discovery.scan_rs485(link, discovery.ScanOptions(addresses=(1, 2))).packs
    link.release.clear()  # from here on, every RS485 request hangs
    clock = ManualClock()
    model = MonitorModel(refresh_s=2.0, watch_can=True)
    model.update_packs(known, 0.0)
    channel = f"test-monitor-tick-{os.getpid()}-{time.monotonic_ns()}"
    sender = can.Bus(interface="virtual", channel=channel)
    bus = can.Bus(interface="virtual", channel=channel)
    sent: list[float] = []
    shown: list[tuple[float, float | None, float | None]] = []  # (time, volts, CAN age)

    def battery_sends_and_time_passes(seconds: float) -> None:
        clock.advance(seconds)
        volts = 50.0 + len(sent) / 10
        arbitration_id, data = pylon_can.encode_message(pylon_can.Measurements(volts, -4.0, 25.0))
        before = watch.snapshot().frames
        sender.send(can.Message(arbitration_id=arbitration_id, data=data, is_extended_id=False))
        deadline = time.monotonic() + 5.0
        while watch.snapshot().frames == before:
            assert time.monotonic() < deadline, "the watcher heard nothing"
            time.sleep(0.005)
        sent.append(volts)

    try:
        with (
            CanWatcher(bus, clock=clock.now) as watch,
            Rs485Reader(MonitorReads(link, known), refresh_s=2.0) as reader,
        ):

            def step() -> None:
                tick(model, reader=reader, reads=None, watch=watch)
                view = model.view(clock.now())
                volts = None if view.can is None else view.can.voltage_v
                shown.append((clock.now(), volts, view.can_age_s))

            _loop(
                step,
                refresh=screen_tick_s(2.0),  # the default --refresh
                deadline=6.0,
                clock=clock.now,
                sleep=battery_sends_and_time_passes,
            )
            assert model.refreshes == 1  # RS485 delivered nothing: still stuck
            link.release.set()
    finally:
        sender.shutdown()
        bus.shutdown()
    times = [t for t, _, _ in shown]
    assert len(shown) == 6 and all(b - a <= 1.0 for a, b in itertools.pairwise(times))
    # From the second tick on, each shows the frame sent just before it, 0 s old.
    assert [v for _, v, _ in shown[1:]] == sent[:5]
    assert all(age is not None and age <= 1.0 for _, _, age in shown[1:])
