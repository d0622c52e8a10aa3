"""The same scan over every way an installer connects: pty, TCP gateway, socketcand.

One simulated site (healthy-4, RS485 at 115200 baud) serves a pty (what a
USB-RS485 adapter looks like), ``socket://127.0.0.1:PORT`` (an RS485-Ethernet
gateway) and a socketcand server (a CAN adapter shared over the network).
Each transport must find the same four packs. The socket and socketcand scans
run `python -m active_cli scan` in another process, as an installer would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from active_cli.sim.site import SimulatedSite
from tests.conftest import CliResult, run_active_subprocess

BAUD = "115200"


@pytest.fixture(scope="module")
def site() -> Iterator[SimulatedSite]:
    if os.name != "posix":
        pytest.skip("the simulator's pty and this test's subprocess set-up need POSIX")
    with SimulatedSite("healthy-4", baud=int(BAUD), pty=True, socketcand_port=0) as running:
        yield running


@pytest.fixture(scope="module")
def serials(site: SimulatedSite) -> list[str]:
    return [pack.serial for pack in site.scenario.packs]


def socketcand_args(site: SimulatedSite) -> list[str]:
    assert site.socketcand is not None
    return [
        "--interface",
        "socketcand",
        "--channel",
        site.socketcand.channel,
        "--can-option",
        f"host={site.socketcand.host}",
        "--can-option",
        f"port={site.socketcand.port}",
    ]


def rs485_packs(data: dict[str, Any]) -> list[tuple[int, str]]:
    return [(p["address"], p["serial"]) for p in data["packs"]]


def test_scan_over_a_pty(
    run_cli: Callable[..., CliResult], site: SimulatedSite, serials: list[str]
) -> None:
    assert site.rs485_pty is not None
    result = run_cli("scan", "--port", site.rs485_pty, "--baud", BAUD, "--json")
    assert result.exit_code == 0, result.stderr
    data = result.json()
    assert rs485_packs(data) == list(zip(range(1, 5), serials, strict=True))
    assert data["port"] == site.rs485_pty and data["can"] is None


def test_scan_over_a_tcp_gateway_from_another_process(
    site: SimulatedSite, serials: list[str]
) -> None:
    result = run_active_subprocess("scan", "--port", site.rs485_url, "--baud", BAUD, "--json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert rs485_packs(data) == list(zip(range(1, 5), serials, strict=True))
    assert data["port"].startswith("socket://127.0.0.1:")


def test_scan_rs485_and_can_through_socketcand_from_another_process(
    site: SimulatedSite, serials: list[str]
) -> None:
    result = run_active_subprocess(
        "scan", "--port", site.rs485_url, "--baud", BAUD, *socketcand_args(site), "--json"
    )
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert rs485_packs(data) == list(zip(range(1, 5), serials, strict=True))
    can = data["can"]
    assert can["state"]["protocol"] == "pylon-v1.2"
    assert can["state"]["module_count"] == 4
    assert can["heartbeat_count"] >= 2
    assert can["heartbeat_period_s"] == pytest.approx(1.0, abs=0.1)
    assert "socketcand" in data["can_interface"] and "port=" in data["can_interface"]


def test_can_only_through_socketcand_from_python_can_config(site: SimulatedSite) -> None:
    """Only --channel given: interface, host and port from python-can's own configuration."""
    assert site.socketcand is not None
    config = {"host": site.socketcand.host, "port": site.socketcand.port}
    env = {
        **os.environ,
        "CAN_INTERFACE": "socketcand",
        "CAN_CONFIG": json.dumps(config),
    }
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "active_cli",
            "scan",
            "--channel",
            site.socketcand.channel,
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["packs"] == [] and data["port"] is None
    assert data["can"]["state"]["module_count"] == 4
