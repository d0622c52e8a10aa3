"""Connections fail cleanly and follow python-can's configuration (issue 16, items 7 and 9).

- A refused socketcand host/port: python-can's client retries for 10 s and
  logs a warning per attempt (~290,000 lines); now one line, exit 3, in a
  few seconds.
- A serial port another program holds: opened exclusively and reported as
  "in use", not as an adapter that went away.
- ``CAN_INTERFACE``/``CAN_CHANNEL`` or ``~/.canrc`` are used as python-can uses
  them; no configuration at all is a clear usage error, not
  ``Unknown interface type "None"``.
"""

from __future__ import annotations

import fcntl
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from active_cli.errors import LinkError
from active_cli.links.serial_link import SerialLink
from active_cli.sim.site import SimulatedSite

pytestmark = pytest.mark.skipif(os.name != "posix", reason="ptys, flock and HOME: POSIX")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAN_")}
    env["HOME"] = str(home)
    env.update(extra)
    return env


def active(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "active_cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


@pytest.mark.parametrize("command", ["log-capture", "scan"])
def test_a_refused_socketcand_server_is_one_line_and_exit_3_fast(
    tmp_path: Path, command: str
) -> None:
    port = free_port()
    can_args = [
        "--interface",
        "socketcand",
        "--channel",
        "can0",
        "--can-option",
        "host=127.0.0.1",
        "--can-option",
        f"port={port}",
    ]
    args = (
        ["log", "capture", str(tmp_path / "cap.log"), "-d", "1", *can_args]
        if command == "log-capture"
        else ["scan", *can_args]
    )
    started = time.monotonic()
    proc = active(*args, env=clean_env(tmp_path))
    elapsed = time.monotonic() - started
    assert proc.returncode == 3, proc.stderr[-2000:]
    assert elapsed < 8
    assert f"cannot reach the socketcand server at 127.0.0.1:{port}" in proc.stderr
    assert len(proc.stderr.splitlines()) <= 3, proc.stderr[-2000:]
    assert "bitrate is 500000" not in proc.stderr


def test_no_can_configuration_anywhere_is_a_clear_usage_error(tmp_path: Path) -> None:
    if any(Path(p).exists() for p in ("/etc/can.conf",)):
        pytest.skip("this machine has a system-wide python-can configuration")
    proc = active("log", "capture", str(tmp_path / "cap.log"), "-d", "0.5", env=clean_env(tmp_path))
    assert proc.returncode == 2, proc.stderr
    assert "no CAN interface given" in proc.stderr
    assert "CAN_INTERFACE" in proc.stderr
    assert "None" not in proc.stderr


@pytest.fixture
def site() -> Iterator[SimulatedSite]:
    with SimulatedSite("healthy-4", pty=False, socketcand_port=0) as running:
        yield running


def test_a_complete_canrc_is_used_without_options(tmp_path: Path, site: SimulatedSite) -> None:
    assert site.socketcand is not None
    (tmp_path / ".canrc").write_text(
        "[default]\n"
        "interface = socketcand\n"
        f"channel = {site.socketcand.channel}\n"
        f"host = {site.socketcand.host}\n"
        f"port = {site.socketcand.port}\n"  # text in the file; python-can needs a number
    )
    out = tmp_path / "cap.log"
    proc = active("log", "capture", str(out), "-d", "2", "--json", env=clean_env(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert '"can_frames": 0' not in proc.stdout
    assert "356#" in out.read_text()


def test_can_environment_variables_are_used_without_options(tmp_path: Path) -> None:
    env = clean_env(tmp_path, CAN_INTERFACE="virtual", CAN_CHANNEL="active-env-test")
    proc = active("log", "capture", str(tmp_path / "cap.log"), "-d", "0.5", env=env)
    assert proc.returncode == 0, proc.stderr
    assert "no CAN frames heard on virtual, channel active-env-test" in proc.stderr


@pytest.fixture
def held_pty() -> Iterator[str]:
    """A pty whose port another program holds (an exclusive flock, as pyserial takes)."""
    leader, follower = os.openpty()
    path = os.ttyname(follower)
    holder = os.open(path, os.O_RDWR | os.O_NOCTTY)
    fcntl.flock(holder, fcntl.LOCK_EX | fcntl.LOCK_NB)
    try:
        yield path
    finally:
        for fd in (holder, follower, leader):
            os.close(fd)


def test_a_serial_port_in_use_is_reported_as_in_use(held_pty: str) -> None:
    with pytest.raises(LinkError) as caught:
        SerialLink.open(held_pty)
    assert "in use by another program" in caught.value.message
    assert "went away" not in (caught.value.hint or "")


def test_log_capture_on_a_port_in_use_is_exit_3(held_pty: str, tmp_path: Path) -> None:
    proc = active("log", "capture", str(tmp_path / "cap.rs485"), "--port", held_pty, "-d", "0.3")
    assert proc.returncode == 3, proc.stderr
    assert "in use by another program" in proc.stderr
