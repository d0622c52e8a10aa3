"""`check parallel --one-by-one`: the same pack read twice is caught, not compared.

Pressing Enter twice without moving the cable reads the same pack again; its
serial gives it away. The tool says so and asks again, so the pack count and
the spread are those of different packs. The relay of
`test_check_parallel_one_by_one` plays the cable: each new connection goes to
the next target, here the first pack twice, then the second.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from active_cli.sim.scenario import load_scenario
from active_cli.sim.site import SimulatedSite
from tests.test_check_parallel_one_by_one import CableRelay, one_by_one_report


@pytest.fixture
def same_pack_then_another() -> Iterator[CableRelay]:
    healthy = load_scenario("healthy-1")
    low = load_scenario("mismatch")  # its third pack sits about 1 V low
    low_pack = SimulatedSite(
        type(low)(**{**low.__dict__, "packs": (low.packs[2],)}), pty=False, with_can=False
    )
    first = SimulatedSite(healthy, pty=False, with_can=False)
    with first, low_pack:
        relay = CableRelay([first.rs485.tcp.port, first.rs485.tcp.port, low_pack.rs485.tcp.port])
        yield relay
        relay.close()


def test_a_repeated_serial_is_refused_and_asked_again(
    same_pack_then_another: CableRelay,
) -> None:
    # Enter (pack 1), Enter without moving the cable, Enter (pack 2), done.
    report, prompter, failed = one_by_one_report(same_pack_then_another, "go go go done", (1, 3))
    said = "\n".join(prompter.said)
    assert "again" in said and "move the cable" in said
    serials = [p["serial"] for p in report["packs"]]
    assert len(serials) == 2 and len(set(serials)) == 2
    assert [p["label"][:6] for p in report["packs"]] == ["pack 1", "pack 2"]
    assert not any(f["code"] == "parallel.read-twice" for f in report["findings"])
    assert report["spread_v"] > 0.5 and failed
