"""The simulator's power switches: packs and inverter off, on, and on after a while.

RS485 is read through the real `SerialLink` over the site's ``socket://`` URL;
CAN through a python-can handle on the site's virtual bus. Waits on CAN are
short: switching the master or the inverter on wakes its node, and a test that
must see a cycle pass in silence wakes the node itself rather than waiting a
second. Scheduled switches run on a `ManualClock`, so "30 s later" takes no
real time at all.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import can
import pytest

from active_cli import spec
from active_cli.errors import DataFileError, LinkTimeout
from active_cli.links.serial_link import SerialLink
from active_cli.model import CanStackState
from active_cli.protocols import pylon_can
from active_cli.protocols import pylon_rs485 as rs
from active_cli.protocols.pylon_rs485 import Command
from active_cli.sim.can_node import BatteryNode, InverterNode
from active_cli.sim.clock import ManualClock, MonotonicClock
from active_cli.sim.responder import Rs485Responder
from active_cli.sim.scenario import Scenario, load_scenario, parse_scenario
from active_cli.sim.site import SimulatedSite
from active_cli.sim.stack import SimStack

BAUD = 115200
# A silent address costs one budget; short, since the simulator answers in ~2 ms.
SILENT_BUDGET_S = 0.1
CAN_WAIT_S = 3.0  # generous: CAN cycles are real time, on a busy machine


def rs485_site(scenario: str | Scenario = "healthy-4", **options: object) -> SimulatedSite:
    return SimulatedSite(
        scenario,
        baud=BAUD,
        latency_ms=1.0,
        pty=False,
        with_can=False,
        **options,  # type: ignore[arg-type]
    )


@pytest.fixture
def link_to() -> Iterator[Callable[[SimulatedSite], SerialLink]]:
    opened: list[SerialLink] = []

    def open_link(site: SimulatedSite) -> SerialLink:
        link = SerialLink.open(site.rs485_url, baud=site.baud, latency_budget_s=SILENT_BUDGET_S)
        opened.append(link)
        return link

    yield open_link
    for link in opened:
        link.close()


def answers(link: SerialLink, adr: int) -> bool:
    try:
        link.query(Command.PROTOCOL_VERSION, adr, retry_on_timeout=False)
    except LinkTimeout:
        return False
    return True


def serial_at(link: SerialLink, adr: int) -> str:
    return rs.parse_serial_number(link.query(Command.SERIAL_NUMBER, adr).info).serial


# --- the scenario's [power] table ---------------------------------------------------


def test_power_table_sets_how_the_site_starts() -> None:
    scenario = parse_scenario('packs = 2\n[power]\npacks = "off"\ninverter = "off"\n')
    assert (scenario.packs_start_on, scenario.inverter_start_on) == (False, False)
    default = parse_scenario("packs = 2\n")
    assert (default.packs_start_on, default.inverter_start_on) == (True, True)
    assert SimStack.from_scenario(scenario).powered_packs == []


@pytest.mark.parametrize(
    ("text", "key", "reason"),
    [
        ('[power]\npacks = "maybe"\n', "power.packs", "must be one of 'on', 'off'"),
        ("[power]\ninverter = true\n", "power.inverter", "expected a string"),
        ('[power]\npack = "off"\n', "power.pack", "did you mean 'packs'?"),
    ],
)
def test_bad_power_table_names_key_and_line(text: str, key: str, reason: str) -> None:
    with pytest.raises(DataFileError) as caught:
        parse_scenario("packs = 1\n" + text, source="site.toml")
    assert caught.value.key == key
    assert caught.value.line == 3
    assert reason in str(caught.value)


def test_overrides_beat_the_scenario() -> None:
    scenario = parse_scenario('packs = 2\n[power]\npacks = "off"\ninverter = "off"\n')
    with rs485_site(scenario, packs_on=True, inverter_on=True) as site:
        assert [site.pack_is_on(p) for p in (1, 2)] == [True, True]
        assert site.inverter_is_on
    with rs485_site("healthy-4", packs_on=False, inverter_on=False) as site:
        assert site.pack_count == 4
        assert not any(site.pack_is_on(p) for p in range(1, 5))
        assert not site.inverter_is_on


def test_default_site_is_all_on_on_the_wall_clock() -> None:
    with rs485_site() as site:
        assert isinstance(site.clock, MonotonicClock)
        assert all(site.pack_is_on(p) for p in range(1, site.pack_count + 1))
        assert site.inverter_is_on


def test_no_inverter_in_the_scenario_is_never_on() -> None:
    with rs485_site(parse_scenario("packs = 1\n[inverter]\npresent = false\n")) as site:
        site.switch_on_inverter()
        assert not site.inverter_is_on


@pytest.mark.parametrize("position", [0, 5, -1])
def test_a_position_outside_the_scenario_is_refused(position: int) -> None:
    with rs485_site() as site:
        with pytest.raises(ValueError, match=r"packs are 1\.\.4"):
            site.switch_on_pack(position)
        with pytest.raises(ValueError):
            site.pack_is_on(position)


@pytest.mark.parametrize("after_s", [-1.0, float("nan"), float("inf")])
def test_a_delay_must_be_a_time(after_s: float) -> None:
    with rs485_site() as site:
        with pytest.raises(ValueError, match="after_s"):
            site.switch_on_pack(1, after_s=after_s)
        with pytest.raises(ValueError, match="after_s"):
            site.switch_on_inverter(after_s=after_s)


# --- RS485 ------------------------------------------------------------------------


def test_off_pack_is_silent_and_answers_once_switched_on(
    link_to: Callable[[SimulatedSite], SerialLink],
) -> None:
    with rs485_site() as site:
        link = link_to(site)
        site.switch_off_pack(3)
        assert not site.pack_is_on(3)
        assert not answers(link, 3)
        assert answers(link, 2) and answers(link, 4)
        with pytest.raises(LinkTimeout):  # not even to a patient request
            link.query(Command.SERIAL_NUMBER, 3)
        site.switch_on_pack(3)
        assert site.pack_is_on(3)
        assert serial_at(link, 3) == site.scenario.packs[2].serial


def test_a_site_started_off_is_silent_everywhere_until_a_pack_is_on(
    link_to: Callable[[SimulatedSite], SerialLink],
) -> None:
    with rs485_site(packs_on=False) as site:
        link = link_to(site)
        assert not any(answers(link, adr) for adr in (1, 2, 3, 4))
        site.switch_on_pack(2)
        assert [answers(link, adr) for adr in (1, 2, 3, 4)] == [False, True, False, False]


def test_off_pack_is_left_out_of_the_masters_group_read() -> None:
    stack = SimStack.from_scenario(load_scenario("healthy-4"))
    responder = Rs485Responder(stack)
    stack.packs[2].powered = False
    group = bytes([rs.GROUP_ADR_INFO])
    reply = responder(rs.build_request(Command.ANALOG, 1, info=group))
    assert reply is not None
    analog = rs.parse_analog(rs.decode_frame(reply).info)
    assert len(analog.packs) == 3
    # Nor does the master relay for it.
    relayed = responder(rs.build_request(Command.SERIAL_NUMBER, 1, info=bytes([3])))
    assert relayed is not None and rs.decode_frame(relayed).cid2 == rs.Rtn.ADR_ERROR


def test_off_pack_does_not_use_up_its_stop_answering_requests() -> None:
    stack = SimStack.from_scenario(load_scenario("stop-answering"))
    (address, limit) = stack.scenario.faults.stop_answering[0]
    (pack,) = stack.packs_at(address)
    pack.powered = False
    for _ in range(limit + 3):
        assert stack.take_request(address) == []
    pack.powered = True
    assert stack.take_request(address) == [pack]
    assert pack.requests_seen == 1


def test_switching_one_of_two_packs_on_one_address_off_ends_the_collision() -> None:
    stack = SimStack.from_scenario(load_scenario("duplicate-address"))
    (address,) = stack.duplicate_addresses
    first, second = stack.packs_at(address)
    assert "internal_communication_fail" in stack.alarms()
    second.powered = False
    assert stack.duplicate_addresses == ()
    assert stack.take_request(address) == [first]
    assert "internal_communication_fail" not in stack.alarms()


# --- the master's aggregate ---------------------------------------------------------


def test_aggregate_counts_only_the_packs_that_are_on() -> None:
    stack = SimStack.from_scenario(load_scenario("healthy-4"))
    full = stack.can_state()
    assert full.module_count == 4
    for pack in stack.packs[2:]:
        pack.powered = False
    half = stack.can_state()
    assert half.module_count == 2
    assert half.capacity_ah == pytest.approx(2 * spec.CAPACITY_AH)
    assert half.limits is not None and full.limits is not None
    assert half.limits.charge_current_a == pytest.approx(full.limits.charge_current_a / 2)
    on = stack.packs[:2]
    assert half.voltage_v == pytest.approx(sum(p.voltage_v for p in on) / 2, abs=0.01)
    assert half.current_a == pytest.approx(sum(p.current_a for p in on), abs=0.1)
    assert [r.address for r in stack.readings()] == [1, 2]


def test_an_off_pack_carries_no_current_and_the_share_goes_to_the_others() -> None:
    stack = SimStack.from_scenario(load_scenario("healthy-4"))
    stack.packs[3].powered = False
    stack.set_current(30.0)
    assert [round(p.current_a, 1) for p in stack.packs] == [10.0, 10.0, 10.0, 0.0]
    before = stack.packs[3].remaining_ah
    stack.advance(600.0)
    assert stack.packs[3].remaining_ah == before


def test_the_master_off_has_no_can_view() -> None:
    stack = SimStack.from_scenario(load_scenario("healthy-4"))
    stack.master.powered = False
    assert not stack.master_on
    assert stack.module_count == 3
    with pytest.raises(ValueError, match="master is switched off"):
        stack.can_state()


# --- CAN --------------------------------------------------------------------------


def drain(bus: can.BusABC) -> list[can.Message]:
    out = []
    while (message := bus.recv(timeout=0.0)) is not None:
        out.append(message)
    return out


def quiet_cycles(node: BatteryNode | InverterNode, count: int = 2) -> None:
    """Let `count` whole cycles of `node` run now (wake it rather than wait its period)."""
    target = node.ticks + count + 1  # the cycle under way may have begun before we listened
    deadline = time.monotonic() + CAN_WAIT_S
    while node.ticks < target:
        assert time.monotonic() < deadline, "the CAN node stopped ticking"
        node.wake()
        time.sleep(0.005)


def state_when(bus: can.BusABC, done: Callable[[CanStackState], bool]) -> CanStackState:
    """Listen until a whole battery cycle gives a state that `done` accepts."""
    deadline = time.monotonic() + CAN_WAIT_S
    builder = pylon_can.CanStateBuilder()
    while time.monotonic() < deadline:
        message = bus.recv(timeout=0.05)
        if message is None or message.arbitration_id == pylon_can.HEARTBEAT_ID:
            continue
        builder.feed(message.arbitration_id, bytes(message.data))
        state = builder.state()
        if state is not None and state.module_count is not None and done(state):
            return state
    raise AssertionError("no such CAN state in time")


def heartbeat_within(bus: can.BusABC, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        message = bus.recv(timeout=0.05)
        if message is not None and message.arbitration_id == pylon_can.HEARTBEAT_ID:
            return True
    return False


def test_no_battery_frames_before_the_master_is_on() -> None:
    with SimulatedSite("healthy-4", pty=False, packs_on=False, inverter_on=False) as site:
        assert site.battery is not None
        bus = site.open_can_bus()
        try:
            site.switch_on_pack(2)  # a slave on its own speaks for nobody
            quiet_cycles(site.battery)
            assert drain(bus) == []
            assert site.battery.cycles_sent == 0
            site.switch_on_pack(1)
            state = state_when(bus, lambda s: True)
        finally:
            bus.shutdown()
    assert state.module_count == 2


def test_can_module_count_follows_the_packs_switched_on() -> None:
    with SimulatedSite("healthy-4", pty=False, packs_on=False) as site:
        bus = site.open_can_bus()
        try:
            site.switch_on_pack(1)
            assert state_when(bus, lambda s: True).module_count == 1
            site.switch_on_pack(3)
            site.switch_on_pack(4)
            assert state_when(bus, lambda s: s.module_count != 1).module_count == 3
            site.switch_off_pack(3)
            assert state_when(bus, lambda s: s.module_count != 3).module_count == 2
        finally:
            bus.shutdown()


def test_no_heartbeat_before_the_inverter_is_on() -> None:
    with SimulatedSite("healthy-4", pty=False, inverter_on=False) as site:
        assert site.inverter is not None and site.battery is not None
        bus = site.open_can_bus()
        try:
            quiet_cycles(site.inverter)
            quiet_cycles(site.battery, 1)
            frames = drain(bus)
            assert frames, "the battery broadcasts whether or not the inverter is on"
            assert pylon_can.HEARTBEAT_ID not in {m.arbitration_id for m in frames}
            assert site.inverter.heartbeats_sent == 0
            site.switch_on_inverter()
            assert heartbeat_within(bus, CAN_WAIT_S)
            site.switch_off_inverter()
            quiet_cycles(site.inverter)
            drain(bus)
            quiet_cycles(site.inverter)
            assert pylon_can.HEARTBEAT_ID not in {m.arbitration_id for m in drain(bus)}
        finally:
            bus.shutdown()


def test_an_inverter_that_is_off_draws_nothing() -> None:
    clock = ManualClock()
    with rs485_site(clock=clock, inverter_on=False) as site:
        start = [p.remaining_ah for p in site.stack.packs]
        clock.advance(600.0)
        site.pack_is_on(1)  # any look at the site syncs it
        assert site.stack.elapsed_s == 600.0
        assert [p.remaining_ah for p in site.stack.packs] == start
        site.switch_on_inverter()
        assert site.stack.current_a == pytest.approx(48.0, abs=0.5)  # healthy-4: 12 A a pack


# --- the clock ----------------------------------------------------------------------


def test_manual_clock_moves_only_forward_when_told() -> None:
    clock = ManualClock(start=100.0)
    assert clock.now() == 100.0
    clock.sleep(2.5)
    clock.advance(0.0)
    assert clock.now() == 102.5
    with pytest.raises(ValueError):
        clock.advance(-1.0)


def test_physics_runs_on_the_sites_clock() -> None:
    clock = ManualClock()
    with rs485_site("healthy-1", clock=clock) as site:
        pack = site.stack.packs[0]
        before = pack.remaining_ah
        clock.advance(3600.0)
        assert site.pack_is_on(1)
        assert site.stack.elapsed_s == pytest.approx(3600.0)
        # healthy-1 discharges 8 A: an hour takes 8 Ah out.
        assert pack.remaining_ah - before == pytest.approx(-8.0, rel=0.02)


def test_a_switch_after_30_s_happens_when_the_clock_gets_there(
    link_to: Callable[[SimulatedSite], SerialLink],
) -> None:
    started = time.monotonic()
    clock = ManualClock()
    with rs485_site(clock=clock, packs_on=False, inverter_on=False) as site:
        link = link_to(site)
        site.switch_on_pack(1, after_s=30.0)
        site.switch_on_inverter(after_s=45.0)
        clock.sleep(29.9)
        assert not site.pack_is_on(1)
        clock.sleep(0.2)
        # The RS485 request is what syncs the site here: the switch fires on it.
        assert serial_at(link, 1) == site.scenario.packs[0].serial
        assert site.pack_is_on(1)
        # The physics ran up to the switch, then on with the pack on.
        assert site.stack.elapsed_s == pytest.approx(30.1)
        assert not site.inverter_is_on
        clock.advance(15.0)
        assert site.inverter_is_on
    assert time.monotonic() - started < 1.0


def test_switching_off_drops_a_pending_switch_on() -> None:
    clock = ManualClock()
    with rs485_site(clock=clock, packs_on=False) as site:
        site.switch_on_pack(2, after_s=10.0)
        site.switch_on_pack(3, after_s=10.0)
        site.switch_off_pack(2)
        clock.advance(11.0)
        assert [site.pack_is_on(p) for p in (1, 2, 3, 4)] == [False, False, True, False]


def test_switches_due_together_fire_in_order_and_each_at_its_time() -> None:
    clock = ManualClock()
    with rs485_site(clock=clock, packs_on=False) as site:
        for position, delay in ((1, 5.0), (2, 5.0), (3, 20.0), (4, 1.0)):
            site.switch_on_pack(position, after_s=delay)
        clock.advance(6.0)
        assert [site.pack_is_on(p) for p in (1, 2, 3, 4)] == [True, True, False, True]
        clock.advance(100.0)
        assert site.pack_is_on(3)


# --- what `active sim` shows ---------------------------------------------------------


def test_status_line_shows_what_is_off() -> None:
    from active_cli.cli import render_sim

    with rs485_site(packs_on=False, inverter_on=False) as site:
        assert "all packs off  inverter off" in render_sim.status_line(site)
        site.switch_on_pack(1)
        site.switch_on_pack(3)
        line = render_sim.status_line(site)
        assert "pack(s) 2, 4 off" in line and " V " in line
        site.switch_on_pack(2)
        site.switch_on_pack(4)
        site.switch_on_inverter()
        assert render_sim.power_notes(site) == []


def test_power_calls_work_while_holding_the_site_lock() -> None:
    import threading

    results: list[bool] = []

    def switch_under_lock(site: SimulatedSite) -> None:
        with site.lock:  # as a caller reading site.stack would hold it
            site.switch_off_pack(2)
            results.append(site.pack_is_on(2))
            results.append(site.inverter_is_on)

    with rs485_site() as site:
        worker = threading.Thread(target=switch_under_lock, args=(site,), daemon=True)
        worker.start()
        worker.join(timeout=5.0)
        assert not worker.is_alive(), "deadlock: the site lock is not reentrant"
    assert results == [False, True]
