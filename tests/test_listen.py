"""`active listen`: every exchange of the polling inverter decoded, and not one byte sent."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from active_cli.connection import CaptureFiles, Connection
from active_cli.links.replay import read_rs485_capture
from active_cli.procedures import listening
from active_cli.procedures.listening import ListenOptions, ReadOnlyBus, listen_site
from active_cli.procedures.listening_rs485 import Exchange, Rs485Pairer
from active_cli.protocols import pylon_rs485
from active_cli.protocols.pylon_rs485 import Command
from active_cli.sim.scenario import parse_scenario
from active_cli.sim.site import SimulatedSite
from tests.conftest import CliResult

RunCli = Callable[..., CliResult]

POLLING = """
name = "polling"
packs = 2
[inverter]
rs485_master = true
rs485_poll_period_s = 0.1
"""


def test_listen_on_the_tap_decodes_every_exchange_and_sends_nothing() -> None:
    scenario = parse_scenario(POLLING, source="<test>")
    with SimulatedSite(scenario, pty=False, tap_port=0) as site:
        assert site.rs485_tap_url is not None and site.rs485_master is not None
        master = site.rs485_master
        heard: list[Exchange] = []
        sent_before: list[int] = []  # requests the inverter had made when the first was paired

        def on_exchange(exchange: Exchange) -> None:
            if not heard:
                sent_before.append(master.requests_sent)
            heard.append(exchange)

        result = listen_site(
            Connection(port=site.rs485_tap_url),
            ListenOptions(duration_s=2.5),
            on_exchange=on_exchange,
        )
        counts = site.line_counts
        sent = site.rs485_master.requests_sent
    assert counts.taps == 0 and counts.clients == 0  # the listener put no byte on the line
    assert counts.master > 0 and counts.stack > 0
    traffic = result.rs485
    assert traffic is not None
    # Every request the inverter made from the first one heard on, paired and
    # decoded (the last may still be on the wire when the window ends).
    made = sent - sent_before[0] + 1
    assert made - 2 <= len(traffic.exchanges) <= made + 1
    assert len(traffic.exchanges) >= 6
    # At most the reply to a request made before the tap was connected.
    assert traffic.stray_replies <= 1 and traffic.bad_frames == 0
    assert all(e.accepted and e.reply for e in traffic.exchanges)
    assert heard == list(traffic.exchanges)
    first = traffic.exchanges[0]
    if first.command == Command.PROTOCOL_VERSION:
        assert first.request.startswith("protocol version")
    assert {a.address for a in traffic.per_address} == {1, 2}
    # The simulated BMS takes 20 ms to start its reply (the scenario's default).
    for address in traffic.per_address:
        assert address.latency_median_ms is not None, address
        assert 10 < address.latency_median_ms < 200, address
    assert traffic.accepted_in_a_row == len(traffic.exchanges)
    assert result.findings[0].code == listening.RS485_ACCEPTED


def test_listen_sim_cli_json_and_capture_replays(run_cli: RunCli, tmp_path: Path) -> None:
    rs485, can_log = tmp_path / "site.rs485", tmp_path / "site.log"
    result = run_cli(
        "listen", "--sim", "inverter-rs485", "--duration", "2", "--json",
        "--record", str(rs485), "--record", str(can_log),
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    data = result.json()
    assert data["command"] == "listen"
    codes = [f["code"] for f in data["findings"]]
    assert codes[0] == listening.RS485_ACCEPTED
    assert listening.CAN_INVERTER in codes and listening.CAN_BATTERY in codes
    assert data["can"]["heartbeats"] >= 1
    capture = read_rs485_capture(rs485)
    exchanges = data["rs485"]["exchanges"]
    assert len([e for e in capture.exchanges if e.reply is not None]) >= len(exchanges)
    # The capture is what `scan --replay` reads: the master's analog reply is in it.
    replay = run_cli("scan", "--replay", str(rs485), "--addresses", "1", "--json")
    assert replay.json()["packs"][0]["address"] == 1
    assert can_log.stat().st_size > 0


def test_can_side_is_read_only() -> None:
    assert not hasattr(ReadOnlyBus, "send")
    with SimulatedSite("healthy-1", pty=False) as site:
        bus = site.open_can_bus()
        try:
            assert not hasattr(ReadOnlyBus(bus), "send")
        finally:
            bus.shutdown()


def test_listen_needs_something_to_listen_to(run_cli: RunCli) -> None:
    assert run_cli("listen").exit_code == 2


def test_silent_tap_exits_3(run_cli: RunCli) -> None:
    with SimulatedSite("healthy-1", pty=False, tap_port=0, with_can=False) as site:
        assert site.rs485_tap_url is not None
        result = run_cli("listen", "--port", site.rs485_tap_url, "--duration", "0.3", "--json")
    assert result.exit_code == 3
    assert result.json()["findings"][0]["code"] == listening.RS485_SILENT


# ------------------------------------------------------------------ pairing


def _request(command: Command, adr: int) -> bytes:
    return pylon_rs485.build_request(command, adr)


def test_pairer_pairs_by_order_and_address() -> None:
    pairer = Rs485Pairer(9600)
    pairer.feed(_request(Command.PROTOCOL_VERSION, 2), 0.0)
    pairer.feed(pylon_rs485.build_response(2, b""), 0.06)
    pairer.feed(_request(Command.PROTOCOL_VERSION, 3), 0.5)
    pairer.feed(_request(Command.PROTOCOL_VERSION, 2), 1.0)  # 3 never answered
    pairer.feed(pylon_rs485.build_response(4, b""), 1.05)  # not ADR 2: a stray
    traffic = pairer.finish(5.0)
    assert [(e.address, e.accepted) for e in traffic.exchanges] == [
        (2, True),
        (3, False),
        (2, False),
    ]
    assert traffic.exchanges[0].latency_ms == pytest.approx(60 - 18.75, abs=0.1)
    assert traffic.stray_replies == 1
    assert traffic.longest_accepted_run == 1 and traffic.accepted_in_a_row == 0
    by_address = {a.address: a for a in traffic.per_address}
    assert (by_address[2].requests, by_address[2].replies, by_address[2].unanswered) == (2, 1, 1)


def test_a_request_still_open_at_the_end_is_not_counted() -> None:
    pairer = Rs485Pairer(9600)
    pairer.feed(_request(Command.ANALOG, 1), 0.0)
    traffic = pairer.finish(0.2)
    assert traffic.exchanges == () and traffic.per_address == ()


def test_record_needs_its_bus(tmp_path: Path) -> None:
    from active_cli.errors import UsageError

    with pytest.raises(UsageError, match="no RS485 tap"):
        listen_site(
            Connection(interface="virtual", channel="nobody-here"),
            ListenOptions(duration_s=0.1, record=CaptureFiles(rs485=tmp_path / "x.rs485")),
        )
