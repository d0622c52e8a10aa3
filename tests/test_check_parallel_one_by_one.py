"""`check parallel --one-by-one`: the installer moves the cable from pack to pack.

Two simulated single packs stand for two unlinked packs; a loopback relay
plays the cable, connecting the tool to the next pack each time it opens the
port, as replugging the RJ45 would.
"""

from __future__ import annotations

import contextlib
import io
import socket
import threading
from collections.abc import Callable, Iterator

import pytest

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


def test_reads_each_pack_in_turn_and_fails_on_the_spread(
    run_cli: Callable[..., CliResult],
    two_unlinked_packs: CableRelay,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Enter, Enter, then "done": two packs read, one after the other.
    monkeypatch.setattr("sys.stdin", io.StringIO("\n\ndone\n"))
    result = run_cli(
        "check",
        "parallel",
        "--port",
        f"socket://127.0.0.1:{two_unlinked_packs.port}",
        "--one-by-one",
        "--addresses",
        "1-3",
        "--json",
    )
    assert result.exit_code == 1, result.stderr
    report = result.json()
    labels = [p["label"] for p in report["packs"]]
    assert labels[0].startswith("pack 1 (ADR 1") and labels[1].startswith("pack 2 (ADR 3")
    assert report["spread_v"] > 0.5
    assert "pack 2" in report["lowest"]["label"]


def test_one_by_one_needs_a_port(run_cli: Callable[..., CliResult]) -> None:
    result = run_cli("check", "parallel", "--one-by-one", "--sim", "healthy-4")
    assert result.exit_code == 2
