"""The monitor's group cycle: one group read at the master, each pack proved at its address.

A master's group reply may carry a block for a pack that stopped answering
(the simulator's master keeps the values it last heard, frozen): such a pack
must be shown missing, never live. The plan tests run on `FakeLink` (the
simulator's answers, scripted overrides, no line time); the age test on a
link that moves the simulator's `ManualClock` by each exchange's wire time,
so it takes no real time.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from rich.console import Console

from active_cli import discovery
from active_cli.cli.render_monitor import refresh_behind_text, screen
from active_cli.links.serial_link import LinkStats, wire_time_s
from active_cli.monitoring import GROUP_READ, PER_ADDRESS, MonitorModel
from active_cli.procedures.monitor_reads import GROUP_RETRY_CYCLES, MonitorReads
from active_cli.protocols import pylon_rs485 as rs
from active_cli.protocols.pylon_rs485 import AnalogResponse, Command
from active_cli.sim.clock import ManualClock
from active_cli.sim.responder import Rs485Responder, analog_of
from active_cli.sim.scenario import load_scenario, parse_scenario
from active_cli.sim.stack import SimStack
from tests.conftest import CliResult
from tests.test_discovery import GROUP, TIMEOUT, FakeLink, fake

A, AL = int(Command.ANALOG), int(Command.ALARM)
GROUPED = discovery.ScanOptions(group_reads=True)


def _values(packs: tuple[discovery.PackReading, ...]) -> list[tuple[object, ...]]:
    return [
        (
            *(p.address, p.serial, p.voltage_v, p.cell_voltages_v, p.temperatures_c),
            *(p.alarms, p.alarm_read, p.soh_pct, p.remaining_ah),
        )
        for p in packs
    ]


def _scanned(
    link: FakeLink, options: discovery.ScanOptions = GROUPED
) -> tuple[discovery.PackReading, ...]:
    snapshot = discovery.scan_rs485(link, options)
    link.calls.clear()
    return snapshot.packs


# ------------------------------------------------------------- the simulator


def _group_blocks(responder: Rs485Responder, master: int = 1) -> tuple[rs.PackAnalog, ...]:
    reply = responder(rs.build_request(Command.ANALOG, master, info=GROUP))
    assert reply is not None
    parsed = rs.parse_response(rs.decode_frame(reply), Command.ANALOG)
    assert isinstance(parsed, AnalogResponse)
    return parsed.packs


def test_the_sim_master_keeps_a_stopped_packs_values_frozen_in_its_group_reply() -> None:
    text = "packs = 3\n[defaults]\ncurrent_a = -50.0\n[faults]\n"
    text += "stop_answering = [{ address = 3, after_requests = 1 }]\n"
    stack = SimStack.from_scenario(parse_scenario(text, source="t"))
    responder = Rs485Responder(stack)
    assert responder(rs.build_request(Command.ANALOG, 3)) is not None  # its one answer
    at_stop = analog_of(stack.packs[2])
    stack.advance(600.0)  # ten minutes at -50 A: every pack's charge drops
    blocks = _group_blocks(responder)
    assert len(blocks) == 3  # the master still lists it ...
    assert blocks[2] == at_stop  # ... with what it had when it went quiet
    assert blocks[2] != analog_of(stack.packs[2])  # not what it would say now
    assert blocks[1] == analog_of(stack.packs[1])  # the others are live
    assert responder(rs.build_request(Command.ALARM, 3)) is None  # and it is silent itself


def test_the_sim_master_can_refuse_the_group_read_or_answer_with_its_own_values() -> None:
    refused = Rs485Responder(SimStack.from_scenario(load_scenario("no-group-read")))
    reply = refused(rs.build_request(Command.ANALOG, 1, info=GROUP))
    assert reply is not None and rs.decode_frame(reply).cid2 == rs.Rtn.ADR_ERROR
    assert refused(rs.build_request(Command.ANALOG, 2)) is not None  # per address works
    own = parse_scenario('packs = 4\n[faults]\ngroup_read = "own-values"\n', source="t")
    assert len(_group_blocks(Rs485Responder(SimStack.from_scenario(own)))) == 1


# ------------------------------------------------------------------ the plan


def test_a_group_cycle_is_one_group_read_and_each_packs_own_0x44() -> None:
    link = fake("healthy-16")
    known = _scanned(link)
    read = MonitorReads(link, known, master=1).read()
    assert [(c.command, c.adr, c.info) for c in link.calls] == [(A, 1, GROUP)] + [
        (AL, adr, None) for adr in range(1, 17)
    ]
    assert read.plan == GROUP_READ and read.why_per_address is None
    # The same values as each pack's own 0x42 and 0x44 give.
    single = fake("healthy-16")
    per_address = MonitorReads(single, _scanned(single), group_reads=False).read()
    assert per_address.plan == PER_ADDRESS
    assert [(c.command, c.adr) for c in single.calls[:2]] == [(A, 1), (AL, 1)]
    assert _values(read.packs) == _values(per_address.packs)
    assert len(read.packs) == 16


def test_a_pack_that_stops_answering_is_missing_though_the_group_reply_holds_it() -> None:
    link = fake("stop-answering")  # address 3 answers 2 requests (the scan's), then none
    known = _scanned(link)
    assert [p.address for p in known] == [1, 2, 3]
    reads = MonitorReads(link, known, master=1)
    model = MonitorModel(pack_stale_s=10.0, watch_rs485=True, refresh_s=2.0)
    model.update_packs(known, 0.0)
    for cycle in range(1, 4):
        link.calls.clear()
        read = reads.read()
        assert read.plan == GROUP_READ
        group = link.responder.stack
        assert len(_group_blocks(Rs485Responder(group))) == 3  # the master lists 3
        assert [p.address for p in read.packs] == [1, 2]  # only the packs that answered
        assert (AL, 3) in [(c.command, c.adr) for c in link.calls]  # 3 was asked itself
        model.update_packs(read.packs, 2.0 * cycle, read_at={1: 2.0 * cycle, 2: 2.0 * cycle})
    view = model.view(6.5)
    assert view.missing_packs == (3,) and view.packs_stale
    assert view.pack_ages_s[3] == 6.5  # aged from the scan, its last proof
    shown = next(p for p in view.packs if p.address == 3)
    assert shown == known[2]  # the scan's values, never the group's block


def test_a_master_that_refuses_the_group_read_is_read_per_address_from_then_on() -> None:
    link = fake("no-group-read")
    known = _scanned(link)
    reads = MonitorReads(link, known, master=1)
    first = reads.read()
    assert [(c.command, c.adr, c.info) for c in link.calls[:3]] == [
        (A, 1, GROUP),
        (A, 1, None),
        (AL, 1, None),
    ]
    assert first.plan == PER_ADDRESS and [p.address for p in first.packs] == [1, 2, 3, 4]
    assert first.why_per_address == "the master refused the group read (RTN 90)"
    link.calls.clear()
    second = reads.read()
    assert GROUP not in [c.info for c in link.calls]  # not asked again
    assert second.why_per_address == first.why_per_address
    model = MonitorModel(refresh_s=2.0, rs485_baud=9600)
    model.update_packs(second.packs, 5.3, took_s=5.3, plan=second.plan)
    assert refresh_behind_text(model.view(5.3)) == (
        "refresh 5.3 s: 4 packs at 9600 baud, per address (asked 2 s)"
    )


def test_a_master_answering_with_its_own_values_is_read_per_address_from_then_on() -> None:
    own = parse_scenario('packs = 4\n[faults]\ngroup_read = "own-values"\n', source="t")
    link = FakeLink(own)
    # The whole range: such a master answers the group 0x44 with its own block
    # too, and a scan that trusts that count stops after the master.
    everything = discovery.ScanOptions(group_reads=True, stop_at_group_count=False)
    reads = MonitorReads(link, _scanned(link, everything), master=1)
    first = reads.read()
    assert first.plan == PER_ADDRESS and len(first.packs) == 4
    assert first.why_per_address == "the master answers the group read with its own values only"
    link.calls.clear()
    reads.read()
    assert GROUP not in [c.info for c in link.calls]


def _blocks_reply(count: int) -> bytes:
    """A group reply of the first `count` packs of healthy-4 (one pack lost by the master)."""
    stack = SimStack.from_scenario(load_scenario("healthy-4"))
    blocks = tuple(analog_of(p) for p in stack.packs[:count])
    return rs.build_response(1, AnalogResponse(0x11, count, blocks).to_info())


def test_a_group_reply_with_another_pack_count_is_read_per_address_for_a_while() -> None:
    link = fake("healthy-4")
    known = _scanned(link)
    link.script[(1, A)] = [_blocks_reply(3)]
    reads = MonitorReads(link, known, master=1)
    first = reads.read()
    assert first.plan == PER_ADDRESS and [p.address for p in first.packs] == [1, 2, 3, 4]
    assert first.why_per_address == "the group reply holds 3 pack(s), 4 known"
    asked = []
    for _ in range(GROUP_RETRY_CYCLES + 1):
        link.calls.clear()
        asked.append(reads.read().plan)
        assert (GROUP in [c.info for c in link.calls]) == (asked[-1] == GROUP_READ)
    # Per address for GROUP_RETRY_CYCLES cycles, then the group read again (it works now).
    assert asked == [PER_ADDRESS] * GROUP_RETRY_CYCLES + [GROUP_READ]


def test_a_silent_group_read_is_read_per_address_and_asked_again_later() -> None:
    link = fake("healthy-4")
    known = _scanned(link)
    link.script[(1, A)] = [TIMEOUT]
    reads = MonitorReads(link, known, master=1)
    first = reads.read()
    assert first.plan == PER_ADDRESS and len(first.packs) == 4
    assert first.why_per_address == "the master did not answer the group read"
    plans = [reads.read().plan for _ in range(GROUP_RETRY_CYCLES + 1)]
    assert plans[-1] == GROUP_READ


def test_a_pack_refusing_its_0x44_is_alive_with_its_alarms_unknown() -> None:
    link = fake("healthy-4")
    known = _scanned(link)
    link.script[(2, AL)] = ["unsupported"]
    read = MonitorReads(link, known, master=1).read()
    assert [p.address for p in read.packs] == [1, 2, 3, 4]
    two = next(p for p in read.packs if p.address == 2)
    assert not two.alarm_read and two.voltage_v > 50


@pytest.mark.parametrize("rtn", [rs.Rtn.ADR_ERROR, rs.Rtn.INTERNAL_COMM_ERROR])
def test_an_address_or_link_error_for_a_pack_is_no_proof_it_is_alive(rtn: rs.Rtn) -> None:
    # A master or gateway answering for a slave it lost: the group block it
    # still holds must not be shown as that pack's live values.
    link = fake("healthy-4")
    known = _scanned(link)
    link.script[(2, AL)] = [rs.build_response(2, b"", rtn=rtn)]
    read = MonitorReads(link, known, master=1).read()
    assert [p.address for p in read.packs] == [1, 3, 4]


# ----------------------------------------------------------------- the ages


@dataclass
class _WireLink:
    """The simulator's answers; each exchange moves `clock` on by its wire time + latency.

    `replies_at` records, independently of the code under test, when each
    reply ended: (command, address, INFO) -> clock time.
    """

    clock: ManualClock
    scenario: str = "healthy-16"
    baud: int = 9600
    latency_s: float = 0.02
    stats: LinkStats = field(default_factory=LinkStats)
    replies_at: list[tuple[int, int, bytes | None, float]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._bms = Rs485Responder(SimStack.from_scenario(load_scenario(self.scenario)))

    def query(
        self,
        command: Command | int,
        adr: int,
        *,
        ver: int = rs.VER_PYLON,
        info: bytes | None = None,
        retry_on_timeout: bool = True,
    ) -> rs.Frame:
        request = rs.build_request(command, adr, ver=ver, info=info)
        reply = self._bms(request)
        assert reply is not None
        self.clock.advance(wire_time_s(len(request) + len(reply), self.baud) + self.latency_s)
        self.replies_at.append((int(command), adr, info, self.clock.now()))
        return rs.decode_frame(reply)


def test_each_pack_age_is_within_half_a_second_of_when_its_values_were_read() -> None:
    clock = ManualClock()
    link = _WireLink(clock)
    snapshot = discovery.scan_rs485(link, GROUPED)
    reads = MonitorReads(link, snapshot.packs, master=snapshot.master_address, clock=clock.now)
    model = MonitorModel(refresh_s=2.0, rs485_baud=9600)
    model.update_packs(snapshot.packs, clock.now() - snapshot.duration_s)
    link.replies_at.clear()
    read = reads.read()
    model.update_packs(read.packs, read.at, read_at=read.read_at, took_s=read.took_s)
    clock.advance(0.3)  # the screen tick that shows it comes a little later
    now = clock.now()
    view = model.view(now)
    # The values came in the group reply, the first exchange of the cycle.
    group_end = next(t for c, a, i, t in link.replies_at if c == A and i == GROUP)
    assert len(view.pack_ages_s) == 16 and view.missing_packs == ()
    for address, age in view.pack_ages_s.items():
        assert abs(age - (now - group_end)) <= 0.5, address
    # And what the screen prints in each row's "read" column.
    console = Console(width=100, record=True, file=io.StringIO())
    console.print(screen(view))
    shown = dict(re.findall(r"^(\d+) .* (\d+\.\d)s\s*$", console.export_text(), re.M))
    assert len(shown) == 16
    for address, text in shown.items():
        assert abs(float(text) - (now - group_end)) <= 0.5, address
    # The cycle spans seconds (the last 0x44 ends ~2 s after the group reply):
    # stamping the packs with its end would show them ~2 s too young.
    assert read.at - group_end > 1.5
    assert all(age > read.at - group_end for age in view.pack_ages_s.values())


def test_per_address_ages_follow_each_packs_own_read() -> None:
    clock = ManualClock()
    link = _WireLink(clock)
    known = discovery.scan_rs485(link, GROUPED).packs
    reads = MonitorReads(link, known, group_reads=False, clock=clock.now)
    link.replies_at.clear()
    read = reads.read()
    model = MonitorModel()
    model.update_packs(read.packs, read.at, read_at=read.read_at, took_s=read.took_s)
    now = clock.now()
    view = model.view(now)
    for address, age in view.pack_ages_s.items():
        own = next(t for c, a, i, t in link.replies_at if c == A and a == address)
        assert abs(age - (now - own)) <= 0.5, address
    assert view.pack_ages_s[1] > 4.0 > 0.5 > view.pack_ages_s[16]


def test_a_pace_stack_reads_the_same_values_by_either_plan() -> None:
    pace = parse_scenario('packs = 3\n[rs485]\nprotocol = "pace"\n', source="t")
    grouped, single = FakeLink(pace), FakeLink(pace)
    read = MonitorReads(grouped, _scanned(grouped), master=1).read()
    per_address = MonitorReads(single, _scanned(single), group_reads=False).read()
    assert read.plan == GROUP_READ and len(read.packs) == 3
    assert _values(read.packs) == _values(per_address.packs)
    assert all(p.alarm_read and p.soh_pct is not None for p in read.packs)


# ------------------------------------------------------------ the CLI, --once


def test_once_json_reads_sixteen_packs_by_the_group_read(run_cli: Callable[..., CliResult]) -> None:
    result = run_cli("monitor", "--sim", "healthy-16", "--once", "--json")
    assert result.exit_code == 0, result.stderr
    view = result.json()
    assert len(view["packs"]) == 16 and view["missing_packs"] == []
    assert view["rs485_plan"] == "group read" and view["why_per_address"] is None
    assert all(age < 10 for age in view["pack_ages_s"].values())


def test_once_json_a_stopped_pack_is_missing_by_the_group_read(
    run_cli: Callable[..., CliResult],
) -> None:
    result = run_cli("monitor", "--sim", "stop-answering", "--once", "--json")
    assert result.exit_code == 0, result.stderr
    view = result.json()
    assert view["rs485_plan"] == "group read"
    assert view["missing_packs"] == [3] and view["packs_stale"] is True


def test_once_json_a_refusing_master_is_read_per_address_and_said(
    run_cli: Callable[..., CliResult],
) -> None:
    result = run_cli("monitor", "--sim", "no-group-read", "-a", "1-4", "--once", "--json")
    assert result.exit_code == 0, result.stderr
    view = result.json()
    assert [p["address"] for p in view["packs"]] == [1, 2, 3, 4]
    assert view["missing_packs"] == [] and view["rs485_plan"] == "per address"
    assert view["why_per_address"] == "the master refused the group read (RTN 90)"
    screen = run_cli("monitor", "--sim", "no-group-read", "-a", "1-4", "--once")
    assert "RS485 per address: the master refused the group read (RTN 90)" in screen.stdout


def test_the_documented_exchange_sizes_are_the_simulators() -> None:
    """docs/monitor-and-logs.md's byte table, measured on the simulator (16 packs)."""
    docs = Path(__file__).resolve().parents[1] / "docs" / "monitor-and-logs.md"
    rows = dict(re.findall(r"^\| (0x[^|]+?) \| (\d+ \+ \d+) \|", docs.read_text(), re.M))
    bms = Rs485Responder(SimStack.from_scenario(load_scenario("healthy-16")))

    def sizes(command: Command, adr: int, info: bytes | None = None) -> str:
        request = rs.build_request(command, adr, info=info)
        reply = bms(request)
        assert reply is not None
        return f"{len(request)} + {len(reply)}"

    assert rows == {
        "0x42 of one pack": sizes(Command.ANALOG, 5),
        "0x44 of one pack": sizes(Command.ALARM, 5),
        "0x42 with INFO FF, 16 packs": sizes(Command.ANALOG, 1, GROUP),
        "0x44 with INFO FF, 16 packs": sizes(Command.ALARM, 1, GROUP),
        "0x4F (protocol version) of one pack": sizes(Command.PROTOCOL_VERSION, 5),
    }
