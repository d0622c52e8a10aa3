"""A capture survives the ways it ends on site: signals, kills, full disks.

Issue 19, item 2: a CAN `log capture` killed by SIGTERM or SIGHUP (a closed
SSH session) left 0 bytes; SIGKILL lost about half of a ``.log`` and all of a
``.blf`` / ``.log.gz``. Now SIGTERM/SIGHUP end it like Ctrl-C (summary, exit
0) and the writer flushes every `FLUSH_INTERVAL_S`, so after SIGKILL every
frame sent up to that interval before the kill is readable. Item 5: a full
disk or a vanished folder is one line and exit 5, not a traceback.

The captures run as child processes through the simulator's socketcand, for
1-3 s, with a load generator numbering its frames.
"""

from __future__ import annotations

import json
import os
import signal
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from active_cli.errors import DataFileError
from active_cli.links.can_capture import FLUSH_INTERVAL_S
from active_cli.logs.can_reader import CanLogReader
from active_cli.sim.site import SimulatedSite
from tests.conftest import CliResult

LOAD_ID = 0x7F0
RATE_FPS = 500

pytestmark = pytest.mark.skipif(os.name != "posix", reason="signals and socketcand: POSIX")


class Numbered(threading.Thread):
    """Send RATE_FPS frames/s on the simulated bus, each with its sequence number."""

    def __init__(self, site: SimulatedSite) -> None:
        super().__init__(daemon=True)
        self.bus = site.open_can_bus()
        self.sent_at: list[float] = []
        self._stop_event = threading.Event()

    def run(self) -> None:
        import can

        next_slot = time.monotonic()
        while not self._stop_event.is_set():
            for _ in range(RATE_FPS // 100):
                data = struct.pack(">II", len(self.sent_at), 0)
                self.sent_at.append(time.time())
                self.bus.send(can.Message(arbitration_id=LOAD_ID, data=data, is_extended_id=False))
            next_slot += 0.01
            time.sleep(max(0.0, next_slot - time.monotonic()))

    def stop(self) -> None:
        self._stop_event.set()
        self.join()
        self.bus.shutdown()


@pytest.fixture
def loaded_site() -> Iterator[tuple[SimulatedSite, Numbered]]:
    with SimulatedSite("healthy-4", pty=False, socketcand_port=0) as site:
        generator = Numbered(site)
        generator.start()
        try:
            yield site, generator
        finally:
            generator.stop()


def capture_args(site: SimulatedSite, path: Path, *extra: str) -> list[str]:
    assert site.socketcand is not None
    return [
        sys.executable,
        "-m",
        "active_cli",
        "log",
        "capture",
        str(path),
        "--json",
        "--interface",
        "socketcand",
        "--channel",
        site.socketcand.channel,
        "--can-option",
        f"host={site.socketcand.host}",
        "--can-option",
        f"port={site.socketcand.port}",
        *extra,
    ]


def numbers_in(path: Path) -> tuple[set[int], str | None]:
    """The sequence numbers a capture holds, and the reader's complaint at its end."""
    seen: set[int] = set()
    complaint = None
    try:
        with CanLogReader(path) as reader:
            for frame in reader:
                if frame.arbitration_id == LOAD_ID:
                    seen.add(struct.unpack(">I", frame.data[:4])[0])
    except DataFileError as e:
        complaint = e.message
    return seen, complaint


def start_capture(site: SimulatedSite, path: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        capture_args(site, path, "--duration", "30"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # Started once the file exists and holds frames (python-can and the
    # socketcand handshake take a moment in a fresh process).
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if path.exists() and path.stat().st_size > 1024:
            break
        time.sleep(0.05)
    time.sleep(1.5)
    return proc


@pytest.mark.parametrize("signame", ["SIGTERM", "SIGHUP"])
def test_sigterm_and_sighup_end_the_capture_like_ctrl_c(
    loaded_site: tuple[SimulatedSite, Numbered], tmp_path: Path, signame: str
) -> None:
    site, _generator = loaded_site
    path = tmp_path / "cap.log"
    proc = start_capture(site, path)
    proc.send_signal(getattr(signal, signame))
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    summary = json.loads(out)
    assert summary["stopped_by"] == "signal"
    assert summary["signal"] == signame
    seen, complaint = numbers_in(path)
    assert complaint is None
    assert summary["can_frames"] == summary["can_received"] > 500
    assert summary["can_dropped"] == 0
    # Every frame between the first and the last one written is there.
    assert len(seen) == max(seen) - min(seen) + 1


@pytest.mark.parametrize("suffix", [".log", ".blf", ".log.gz", ".asc"])
def test_sigkill_loses_at_most_the_last_flush_interval(
    loaded_site: tuple[SimulatedSite, Numbered], tmp_path: Path, suffix: str
) -> None:
    site, generator = loaded_site
    path = tmp_path / f"cap{suffix}"
    proc = start_capture(site, path)
    first = min(numbers_in(path)[0])
    proc.kill()
    killed_at = time.time()
    proc.communicate(timeout=20)
    seen, _complaint = numbers_in(path)
    # Sent at least a flush interval (plus the socket's own latency) before
    # the kill: must be on disk.
    safe_before = killed_at - FLUSH_INTERVAL_S - 0.3
    expected = {n for n, t in enumerate(list(generator.sent_at)) if n >= first and t < safe_before}
    assert len(expected) > 300
    assert expected <= seen, f"{len(expected - seen)} of {len(expected)} frames lost"


def test_a_full_disk_is_one_line_and_exit_5(
    run_cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    if not Path("/dev/full").exists():
        pytest.skip("needs /dev/full")
    path = tmp_path / "full.log"
    path.symlink_to("/dev/full")
    result = run_cli("log", "capture", str(path), "--force", "--sim", "healthy-4", "-d", "1.5")
    assert result.exit_code == 5, result.stderr
    assert "could not write" in result.stderr
    assert "No space left" in result.stderr
    assert "went away" not in result.stderr
    assert "Traceback" not in result.stderr


def test_a_vanished_folder_is_exit_5(run_cli: Callable[..., CliResult], tmp_path: Path) -> None:
    result = run_cli("log", "capture", str(tmp_path / "gone" / "cap.log"), "--sim", "healthy-4")
    assert result.exit_code == 5, result.stderr
    assert "could not write" in result.stderr


def test_an_existing_capture_is_not_overwritten_without_force(
    run_cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    path = tmp_path / "evidence.log"
    path.write_text("(1700000000.000000) can0 356#7A13F2FE6B01\n")
    result = run_cli("log", "capture", str(path), "--sim", "healthy-4", "-d", "0.5")
    assert result.exit_code == 2
    assert "already exists" in result.stderr
    assert path.read_text() == "(1700000000.000000) can0 356#7A13F2FE6B01\n"
    forced = run_cli("log", "capture", str(path), "--sim", "healthy-4", "-d", "1.2", "--force")
    assert forced.exit_code == 0, forced.stderr
    assert "356#" in path.read_text() and path.stat().st_size > 100


def test_an_existing_rs485_capture_is_not_overwritten_without_force(
    run_cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    path = tmp_path / "evidence.rs485"
    path.write_text("# active rs485 capture 1\n")
    result = run_cli("log", "capture", str(path), "--port", "loop://", "-d", "0.2")
    assert result.exit_code == 2
    assert path.read_text() == "# active rs485 capture 1\n"
