"""Watch a CAN bus in the background with python-can's Notifier.

The listener folds every battery frame into a `CanStateBuilder` and notes when
each message id (the battery's 0x351, 0x355, 0x356 ... and the inverter's
0x305) last came, so a monitor can ask "what is the state now, and how old is
each part of it" at any moment without blocking on the bus. One time for the
whole state would hide a master that stopped sending 0x351 (its CVL/CCL) while
0x356 keeps arriving. When the adapter fails, the reader thread hands the
exception to the listener, and the next `snapshot()` raises it as a LinkError.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import can

from active_cli.closing import ClosesOnExit
from active_cli.errors import LinkError
from active_cli.model import CanStackState
from active_cli.protocols import pylon_can

if TYPE_CHECKING:
    from collections.abc import Callable


@dataclass(frozen=True)
class CanWatch:
    """The bus as heard so far: the folded state and when each id last came."""

    state: CanStackState | None = None
    seen_at: Mapping[int, float] = field(default_factory=dict)  # arbitration id -> clock time
    frames: int = 0
    error_frames: int = 0


class _StateListener(can.Listener):
    # python-can >= 4.5 keeps its reader thread looping after a handled error;
    # an unplugged adapter fails every recv() at once, so each error pauses
    # this long instead of spinning until the monitor closes the watcher.
    ERROR_PAUSE_S = 0.2

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._builder = pylon_can.CanStateBuilder()
        self._seen_at: dict[int, float] = {}
        self._frames = 0
        self._error_frames = 0
        self._error: Exception | None = None

    def on_message_received(self, msg: can.Message) -> None:
        now = self._clock()
        with self._lock:
            self._frames += 1
            if msg.is_error_frame:
                self._error_frames += 1
                return
            if msg.arbitration_id == pylon_can.HEARTBEAT_ID or (
                msg.arbitration_id in pylon_can.BATTERY_IDS
            ):
                self._seen_at[msg.arbitration_id] = now
            self._builder.feed(msg.arbitration_id, bytes(msg.data))

    def on_error(self, exc: Exception) -> None:
        with self._lock:
            if self._error is None:
                self._error = exc
        time.sleep(self.ERROR_PAUSE_S)

    def snapshot(self) -> CanWatch:
        with self._lock:
            if self._error is not None:
                error = self._error
                raise LinkError(
                    f"the CAN adapter failed: {error}",
                    hint="check the adapter is still plugged in and the interface is up "
                    "(ip link show can0); run with --debug for the cause",
                ) from error
            return CanWatch(
                state=self._builder.state(),
                seen_at=dict(self._seen_at),
                frames=self._frames,
                error_frames=self._error_frames,
            )


class CanWatcher(ClosesOnExit):
    """``with CanWatcher(bus) as watch: heard = watch.snapshot()``.

    `snapshot()` raises LinkError once the bus has failed (the adapter was
    unplugged, the interface went down).
    """

    def __init__(self, bus: can.BusABC, clock: Callable[[], float] = time.monotonic) -> None:
        self._listener = _StateListener(clock)
        self._notifier = can.Notifier(bus, [self._listener], timeout=0.2)

    def snapshot(self) -> CanWatch:
        return self._listener.snapshot()

    def close(self) -> None:
        self._notifier.stop()
