"""A simulator thread that fails keeps the site alive, and the failure is recorded."""

from __future__ import annotations

import pytest
import serial

from active_cli.protocols import pylon_rs485
from active_cli.sim.site import SimulatedSite


def test_a_failing_responder_is_recorded_not_hidden(monkeypatch: pytest.MonkeyPatch) -> None:
    site = SimulatedSite("healthy-1", baud=115200, latency_ms=1.0, pty=False, with_can=False)

    def broken(raw: bytes) -> bytes | None:
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(site.rs485._line, "respond", broken)
    site.start()
    try:
        port = serial.serial_for_url(site.rs485_url, baudrate=115200, timeout=0.3)
        port.write(pylon_rs485.build_request(pylon_rs485.Command.ANALOG, 1))
        assert port.read(100) == b""  # the line stays quiet, like a silent pack ...
        port.close()
        assert any("simulated bug" in e for e in site.internal_errors)  # ... but it is known
    finally:
        site.rs485.close()  # not site.close(): the conftest check would (rightly) fail it
        site.rs485._line.errors.clear()
        site.close()
