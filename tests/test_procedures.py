"""The workflow layer's procedures, with a scripted prompter and the simulator.

`read_one_by_one` plays the installer moving the cable across three packs
(one read twice because the cable was not moved, one switched off so it does
not answer); `wait_for_pack` waits while the simulator switches a pack on
after a delay on a manual clock, so a 30-second boot costs no real time.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from active_cli.connection import Connection, open_links
from active_cli.links.serial_link import SerialLink
from active_cli.procedures.packs import read_one_by_one, wait_for, wait_for_pack
from active_cli.procedures.prompting import Aborted, ScriptedPrompter
from active_cli.sim.clock import ManualClock
from active_cli.sim.scenario import load_scenario
from active_cli.sim.site import SimulatedSite
from tests.test_check_parallel_one_by_one import CableRelay


@pytest.fixture
def three_packs() -> Iterator[CableRelay]:
    """The cable reaches pack A, A again (not moved), C (switched off), then B."""
    healthy = load_scenario("healthy-1")
    low = load_scenario("mismatch")  # its third pack sits about 1 V low, at address 3
    pack_b = SimulatedSite(
        type(low)(**{**low.__dict__, "packs": (low.packs[2],)}), pty=False, with_can=False
    )
    pack_a = SimulatedSite(healthy, pty=False, with_can=False)
    pack_c = SimulatedSite(healthy, pty=False, with_can=False, packs_on=False)
    with pack_a, pack_b, pack_c:
        a, b, c = (s.rs485.tcp.port for s in (pack_a, pack_b, pack_c))
        relay = CableRelay([a, a, c, b])
        yield relay
        relay.close()


def test_read_one_by_one_across_three_packs(three_packs: CableRelay) -> None:
    url = f"socket://127.0.0.1:{three_packs.port}"
    prompter = ScriptedPrompter.of(["go", "go", "go", "go", "done"])
    read = read_one_by_one(lambda: SerialLink.open(url, baud=9600), prompter, (1, 3))
    serials = [p.reading.serial for p in read.packs]
    assert len(serials) == 2 and len(set(serials)) == 2
    assert [p.label[:6] for p in read.packs] == ["pack 1", "pack 2"]
    assert [p.reading.address for p in read.packs] == [1, 3]
    said = "\n".join(prompter.said)
    assert "again" in said and "move the cable" in said  # the read twice
    assert "No pack answered" in said  # the pack switched off
    # Asked five times: pack 1, pack 2 (twice more: not moved, no answer), pack 2, done.
    assert len(prompter.asked) == 5 and "pack 3" in prompter.asked[-1]
    assert not prompter.steps


def test_read_one_by_one_abort_is_not_a_result(three_packs: CableRelay) -> None:
    url = f"socket://127.0.0.1:{three_packs.port}"
    prompter = ScriptedPrompter.of(["go", "abort"])
    with pytest.raises(Aborted) as caught:
        read_one_by_one(lambda: SerialLink.open(url, baud=9600), prompter, (1, 3))
    assert caught.value.exit_code == 130


def test_wait_for_pack_sees_a_pack_switched_on_later() -> None:
    clock = ManualClock()
    connection = Connection(sim="healthy-4", sim_packs_on=False, sim_inverter_on=False)
    started = time.monotonic()
    with open_links(connection, can=False, clock=clock) as links:
        assert links.site is not None and links.rs485 is not None
        links.site.switch_on_pack(1, after_s=30.0)
        reading = wait_for_pack(
            links.rs485, 1, 90.0, clock=clock.now, sleep=clock.sleep, interval_s=5.0
        )
        assert reading is not None and reading.address == 1 and reading.serial
        # It appeared at the first poll after 30 s of simulated time, not before.
        assert 30.0 <= clock.now() < 40.0
    assert time.monotonic() - started < 5.0  # no real 30 s wait


def test_wait_for_pack_gives_up_at_the_deadline() -> None:
    clock = ManualClock()
    connection = Connection(sim="healthy-4", sim_packs_on=False, sim_inverter_on=False)
    with open_links(connection, can=False, clock=clock) as links:
        assert links.rs485 is not None
        reading = wait_for_pack(
            links.rs485, 2, 20.0, clock=clock.now, sleep=clock.sleep, interval_s=5.0
        )
    assert reading is None
    assert clock.now() == pytest.approx(20.0)


def test_wait_for_tries_once_more_at_the_deadline() -> None:
    clock = ManualClock()
    tries: list[float] = []

    def probe() -> str | None:
        tries.append(clock.now())
        return "there" if clock.now() >= 10.0 else None

    assert wait_for(probe, 10.0, clock=clock.now, sleep=clock.sleep, interval_s=4.0) == "there"
    assert tries == [0.0, 4.0, 8.0, 10.0]
