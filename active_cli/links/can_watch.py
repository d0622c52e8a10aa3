"""Watch a CAN bus in the background with python-can's Notifier.

The listener folds every battery frame into a `CanStateBuilder` and notes when
the inverter's 0x305 last came, so a monitor can ask "what is the state now,
and how old is it" at any moment without blocking on the bus.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

import can

from active_cli.model import CanStackState
from active_cli.protocols import pylon_can

if TYPE_CHECKING:
    from collections.abc import Callable


class _StateListener(can.Listener):
    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._builder = pylon_can.CanStateBuilder()
        self.state_at: float | None = None
        self.heartbeat_at: float | None = None
        self.frames = 0
        self.error_frames = 0

    def on_message_received(self, msg: can.Message) -> None:
        now = self._clock()
        with self._lock:
            self.frames += 1
            if msg.is_error_frame:
                self.error_frames += 1
                return
            if msg.arbitration_id == pylon_can.HEARTBEAT_ID:
                self.heartbeat_at = now
            elif msg.arbitration_id in pylon_can.BATTERY_IDS:
                self.state_at = now
            self._builder.feed(msg.arbitration_id, bytes(msg.data))

    def snapshot(self) -> tuple[CanStackState | None, float | None, float | None]:
        with self._lock:
            return self._builder.state(), self.state_at, self.heartbeat_at


class CanWatcher:
    """``with CanWatcher(bus) as watch: state, at, beat_at = watch.snapshot()``."""

    def __init__(self, bus: can.BusABC, clock: Callable[[], float] = time.monotonic) -> None:
        self._listener = _StateListener(clock)
        self._notifier = can.Notifier(bus, [self._listener], timeout=0.2)

    def snapshot(self) -> tuple[CanStackState | None, float | None, float | None]:
        return self._listener.snapshot()

    @property
    def frames(self) -> int:
        return self._listener.frames

    def close(self) -> None:
        self._notifier.stop()

    def __enter__(self) -> CanWatcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
