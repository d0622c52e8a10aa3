"""The group plan of a scan (`ScanOptions(group_reads=True)`, what `active scan` asks live).

One 0x42 with INFO FF at the master gives every pack's values; each other
address is probed with 0x93 and read for 0x96. The values must be those the
per-address plan reads, every fallback must end in the per-address reads, and
the first-contact budget must be put back once a pack answered.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from active_cli import discovery
from active_cli.discovery import FIRST_CONTACT_S, ScanOptions, scan_rs485
from active_cli.model import AddressStatus
from active_cli.protocols import pylon_rs485 as rs
from active_cli.protocols.pylon_rs485 import Command, Frame
from active_cli.sim.scenario import parse_scenario
from tests.test_discovery import GROUP, TIMEOUT, FakeLink, fake, statuses

A, S, F, M, AL = Command.ANALOG, Command.SERIAL_NUMBER, Command.FIRMWARE, 0x51, Command.ALARM
GROUPED = ScanOptions(group_reads=True)


def _values(snapshot: discovery.StackSnapshot) -> list[tuple[object, ...]]:
    return [
        (p.address, p.serial, p.firmware, p.voltage_v, p.cell_voltages_v, p.alarms, p.alarm_read)
        for p in snapshot.packs
    ]


def test_one_group_read_replaces_the_analog_read_of_every_pack() -> None:
    link = fake("healthy-4")
    snapshot = scan_rs485(link, GROUPED)
    assert link.sent() == [
        (A, 1), (S, 1), (F, 1), (M, 1), (AL, 1),
        (S, 2), (F, 2),
        (S, 3), (F, 3),
        (S, 4), (F, 4),
    ]  # fmt: skip
    assert link.calls[0].info == GROUP and link.calls[4].info == GROUP
    assert _values(snapshot) == _values(scan_rs485(fake("healthy-4")))
    assert snapshot.group_count == 4 and snapshot.master_address == 1


def test_group_plan_reads_the_same_values_as_the_per_address_plan() -> None:
    for name in ("healthy-16", "pylon-addressing", "cell-overvoltage", "healthy-1"):
        grouped, single = scan_rs485(fake(name), GROUPED), scan_rs485(fake(name))
        assert _values(grouped) == _values(single), name
        assert statuses(grouped) == statuses(single), name


def test_a_master_answering_the_group_read_with_its_own_values_falls_back_per_address() -> None:
    own = fake("healthy-4").responder(rs.build_request(A, 1))
    assert own is not None
    link = fake("healthy-4", a1_42=[own])  # the FF request gets a one-pack reply
    snapshot = scan_rs485(link, GROUPED)
    assert [c for c in link.sent() if c[1] == 2] == [(A, 2), (S, 2), (F, 2)]
    assert _values(snapshot) == _values(scan_rs485(fake("healthy-4")))


def test_a_refused_group_read_is_asked_again_on_its_own() -> None:
    refusal = rs.build_response(1, b"", rtn=rs.Rtn.COMMAND_FORMAT_ERROR)
    link = fake("healthy-4", a1_42=[refusal])
    snapshot = scan_rs485(link, GROUPED)
    assert [(c.command, c.adr, c.info) for c in link.calls[:2]] == [(A, 1, GROUP), (A, 1, None)]
    assert [p.address for p in snapshot.packs] == [1, 2, 3, 4]


def test_blocks_that_cannot_be_placed_are_read_at_each_address() -> None:
    # Two packs at address 2: the master lists 4 packs, 3 addresses answer.
    link = fake("duplicate-address")
    snapshot = scan_rs485(link, GROUPED)
    single = scan_rs485(fake("duplicate-address"))
    assert statuses(snapshot)[2] is AddressStatus.GARBLED
    assert _values(snapshot) == _values(single)
    assert {adr for command, adr in link.sent() if command == A and adr != 1} == {4}


@dataclass
class _BudgetLink(FakeLink):
    """A FakeLink with a SerialLink's budget attribute, recording it at each request."""

    latency_budget_s: float = 0.5
    budgets: list[tuple[int, int, float]] = field(default_factory=list)

    def query(
        self,
        command: Command | int,
        adr: int,
        *,
        ver: int = rs.VER_PYLON,
        info: bytes | None = None,
        retry_on_timeout: bool = True,
    ) -> Frame:
        self.budgets.append((int(command), adr, self.latency_budget_s))
        return super().query(command, adr, ver=ver, info=info, retry_on_timeout=retry_on_timeout)


def test_first_contact_is_short_and_the_full_budget_comes_back_at_the_first_answer() -> None:
    text = "packs = 2\n[pack.1]\naddress = 2\n[pack.2]\naddress = 3\n"
    scenario = parse_scenario(text, source="t")
    link = _BudgetLink(scenario)
    scan_rs485(link, GROUPED)
    assert link.budgets[0] == (A, 1, FIRST_CONTACT_S)  # empty address 1: short
    assert link.budgets[1] == (A, 2, FIRST_CONTACT_S)  # the master's probe too
    assert all(budget == 0.5 for _, _, budget in link.budgets[2:])  # then the full one
    assert link.latency_budget_s == 0.5


def test_a_range_silent_at_first_contact_is_probed_again_with_the_full_budget() -> None:
    scenario = parse_scenario("packs = 1\n[pack.1]\naddress = 9\n", source="t")
    link = _BudgetLink(scenario)
    snapshot = scan_rs485(link, ScanOptions(addresses=(1, 2, 3), group_reads=True))
    assert snapshot.packs == ()
    assert [(c, a, b) for c, a, b in link.budgets] == [
        (A, 1, FIRST_CONTACT_S), (A, 2, FIRST_CONTACT_S), (A, 3, FIRST_CONTACT_S),
        (A, 1, 0.5), (A, 2, 0.5), (A, 3, 0.5),
    ]  # fmt: skip
    assert [c.info for c in link.calls[3:]] == [None, None, None]  # asked on its own
    assert link.latency_budget_s == 0.5


def test_a_slow_master_is_found_by_the_full_budget_pass() -> None:
    link = _BudgetLink(parse_scenario("packs = 1\n", source="t"), {(1, int(A)): [TIMEOUT]})
    snapshot = scan_rs485(link, ScanOptions(addresses=(1, 2), group_reads=True))
    assert [p.address for p in snapshot.packs] == [1]
    assert link.budgets[2] == (A, 1, 0.5)


def test_no_first_contact_budget_for_a_replay() -> None:
    link = _BudgetLink(parse_scenario("packs = 1\n", source="t"))
    scan_rs485(link, ScanOptions(first_contact_s=None))
    assert all(budget == 0.5 for _, _, budget in link.budgets)


def test_a_master_answering_the_group_read_with_its_own_block_only_does_not_hide_the_rest() -> None:
    # Its 0x44 FF (and 0x42 FF) hold one block: a count of 1, which a lone
    # pack says too. Before the fix the scan stopped after the master and
    # reported one pack of four.
    text = 'packs = 4\n[faults]\ngroup_read = "own-values"\n'
    for options in (GROUPED, ScanOptions()):
        snapshot = scan_rs485(FakeLink(parse_scenario(text, source="t")), options)
        assert [p.address for p in snapshot.packs] == [1, 2, 3, 4], options
        assert all(p.voltage_v is not None for p in snapshot.packs)
        assert AddressStatus.NOT_POLLED not in statuses(snapshot).values()


def test_a_lone_pack_is_still_found_and_the_count_said() -> None:
    snapshot = scan_rs485(fake("healthy-1"), GROUPED)
    assert [p.address for p in snapshot.packs] == [1]
    assert snapshot.group_count == 1
