"""The RS485 tap: a listen-only port that hears the whole simulated line.

A sniffer clipped onto A/B hears every request and every reply; the tap is
that for the simulator, so `active log capture x.rs485 --port TAP` can be
rehearsed against `active sim` while another client polls.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import serial

from active_cli.errors import LinkTimeout
from active_cli.links.serial_link import SerialLink
from active_cli.logs.rs485_log import read_rs485_log
from active_cli.protocols import pylon_rs485 as rs
from active_cli.protocols.framing import Rs485Framer
from active_cli.protocols.pylon_rs485 import Command
from active_cli.sim.site import SimulatedSite
from tests.conftest import CliResult

BAUD = 115200


def tap_site() -> SimulatedSite:
    return SimulatedSite(
        "healthy-4", baud=BAUD, latency_ms=1.0, pty=False, with_can=False, tap_port=0
    )


def frames_heard(tap: serial.SerialBase, count: int, timeout_s: float = 3.0) -> list[bytes]:
    framer = Rs485Framer()
    frames: list[bytes] = []
    deadline = time.monotonic() + timeout_s
    while len(frames) < count and time.monotonic() < deadline:
        frames += framer.feed(tap.read(4096))
    return frames


def test_no_tap_unless_asked_for() -> None:
    with SimulatedSite("healthy-1", pty=False, with_can=False) as site:
        assert site.rs485_tap_url is None and site.endpoints.rs485_tap_url is None


def test_the_tap_hears_requests_and_replies_and_says_nothing() -> None:
    with tap_site() as site:
        assert site.rs485_tap_url is not None
        tap = serial.serial_for_url(site.rs485_tap_url, timeout=0.05)
        try:
            time.sleep(0.1)  # the tap's client thread registers as it is accepted
            tap.write(rs.build_request(Command.SERIAL_NUMBER, 2))  # goes nowhere
            with SerialLink.open(site.rs485_url, baud=BAUD) as link:
                reply = link.query(Command.SERIAL_NUMBER, 1)
                # An address nobody has: the tap hears the request alone.
                with pytest.raises(LinkTimeout):
                    link.query(Command.SERIAL_NUMBER, 9, retry_on_timeout=False)
                link.query(Command.ANALOG, 3)
            heard = frames_heard(tap, 5)
        finally:
            tap.close()
    assert heard[0] == rs.build_request(Command.SERIAL_NUMBER, 1)
    assert heard[1] == reply.encode()
    assert heard[2] == rs.build_request(Command.SERIAL_NUMBER, 9)
    assert heard[3] == rs.build_request(Command.ANALOG, 3)
    assert rs.decode_frame(heard[4]).adr == 3
    # What was written to the tap reached no pack: only the link's 3 requests.
    assert site.responder.requests == 3


def test_log_capture_on_the_tap_records_another_clients_polling(
    run_cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    path = tmp_path / "line.rs485"
    stop = threading.Event()
    with tap_site() as site:
        assert site.rs485_tap_url is not None

        def poll() -> None:
            with SerialLink.open(site.rs485_url, baud=BAUD) as link:
                while not stop.is_set():
                    for adr in (1, 2, 3, 4):
                        link.query(Command.ANALOG, adr)

        poller = threading.Thread(target=poll, daemon=True)
        try:
            poller.start()
            result = run_cli(
                "log", "capture", str(path), "--port", site.rs485_tap_url, "--duration", "1.0"
            )
        finally:
            stop.set()
            poller.join(timeout=5.0)
    assert result.exit_code == 0, result.stderr
    records = list(read_rs485_log(path))
    directions = {r.direction for r in records}
    assert {"TX", "RX"} <= directions and "??" not in directions
    addresses = {rs.decode_frame(r.frame).adr for r in records}
    assert addresses == {1, 2, 3, 4}


def test_active_sim_serves_a_tap_only_when_asked(run_cli: Callable[..., CliResult]) -> None:
    plain = run_cli("sim", "healthy-1", "--duration", "0.2")
    tapped = run_cli("sim", "healthy-1", "--duration", "0.2", "--tap-port", "0")
    assert plain.exit_code == tapped.exit_code == 0
    assert "tap" not in plain.stdout
    assert "RS485 tap:     active log capture line.rs485 --port socket://127.0.0.1:" in (
        tapped.stdout
    )
