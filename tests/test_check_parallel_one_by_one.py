"""`check parallel --one-by-one`: the installer moves the cable from pack to pack.

Two simulated single packs stand for two unlinked packs; a loopback relay
plays the cable, connecting the tool to the next pack each time it opens the
port, as replugging the RJ45 would.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from active_cli.checks.parallel import PackVoltage, check_parallel
from active_cli.cli.output import to_jsonable
from active_cli.links.serial_link import SerialLink
from active_cli.procedures.packs import read_one_by_one
from active_cli.procedures.prompting import ScriptedPrompter
from active_cli.sim.scenario import load_scenario
from active_cli.sim.site import SimulatedSite
from tests.conftest import CliResult


class CableRelay:
    """Accept connections on 127.0.0.1; the n-th one is relayed to the n-th pack."""

    def __init__(self, targets: list[int]) -> None:
        self._targets = targets
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        for target in self._targets:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", target))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(4096):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._server.close()


@pytest.fixture
def two_unlinked_packs() -> Iterator[CableRelay]:
    healthy = load_scenario("healthy-1")
    low = load_scenario("mismatch")  # its third pack sits about 1 V low
    low_pack = SimulatedSite(
        type(low)(**{**low.__dict__, "packs": (low.packs[2],)}), pty=False, with_can=False
    )
    high_pack = SimulatedSite(healthy, pty=False, with_can=False)
    with high_pack, low_pack:
        relay = CableRelay([high_pack.rs485.tcp.port, low_pack.rs485.tcp.port])
        yield relay
        relay.close()


def one_by_one_report(relay: CableRelay, answers: str, addresses: tuple[int, ...]) -> Any:
    """Read the packs through the relay as the installer answers, then check them (as JSON)."""
    prompter = ScriptedPrompter.of(answers.split())
    url = f"socket://127.0.0.1:{relay.port}"
    read = read_one_by_one(lambda: SerialLink.open(url, baud=9600), prompter, addresses)
    packs = [PackVoltage.from_reading(p.reading, p.label) for p in read.packs]
    result = check_parallel(packs, scan_findings=read.findings)
    return to_jsonable(result), prompter, result.failed


def test_reads_each_pack_in_turn_and_fails_on_the_spread(two_unlinked_packs: CableRelay) -> None:
    # Enter, Enter, then "done": two packs read, one after the other.
    report, prompter, failed = one_by_one_report(two_unlinked_packs, "go go done", (1, 2, 3))
    assert failed
    labels = [p["label"] for p in report["packs"]]
    assert labels[0].startswith("pack 1 (ADR 1") and labels[1].startswith("pack 2 (ADR 3")
    assert report["spread_v"] > 0.5
    assert "pack 2" in report["lowest"]["label"]
    assert len(prompter.asked) == 3 and "pack 3" in prompter.asked[-1]


def test_one_by_one_needs_a_port(run_cli: Callable[..., CliResult]) -> None:
    result = run_cli("check", "parallel", "--one-by-one", "--sim", "healthy-4")
    assert result.exit_code == 2
