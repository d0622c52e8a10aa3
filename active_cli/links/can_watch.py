"""Watch a CAN bus in the background with python-can's Notifier.

The listener folds every battery frame into a `CanStateBuilder` and notes when
each message id (the battery's 0x351, 0x355, 0x356 ... and the inverter's
0x305) last came, so a monitor can ask "what is the state now, and how old is
each part of it" at any moment without blocking on the bus. One time for the
whole state would hide a master that stopped sending 0x351 (its CVL/CCL) while
0x356 keeps arriving. When the adapter fails, the reader thread hands the
exception to the listener, and the next `snapshot()` raises it as a LinkError.

A bus can also die without an error: a socketcand server that went away
leaves python-can's client reading an empty socket, a gateway that lost
power sends nothing. So the watch keeps `CanWatch.health` (`BusHealth`:
frames flowing, silent since a frame, never heard), and with
``silence_limit_s`` `snapshot()` raises `CanBusSilent` (a LinkError: exit 3)
once frames had come and then none for that long; an interface that reports
bus-off (python-can ``BusState.ERROR``) raises it too.
"""

from __future__ import annotations

import enum
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


class BusHealth(enum.Enum):
    LIVE = "live"  # a frame came within the silence limit
    SILENT = "silent"  # frames came, then none for the silence limit: the bus or gateway died
    NEVER_HEARD = "never-heard"  # no frame at all yet


class CanBusSilent(LinkError):
    """Frames stopped: the gateway, adapter or bus is gone (exit 3, like RS485)."""


@dataclass(frozen=True)
class CanWatch:
    """The bus as heard so far: the folded state and when each id last came.

    ``silent_s`` is how long since the last frame (any id, error frames too),
    or since the watch started when none came; ``health`` reads it against
    the watcher's silence limit.
    """

    state: CanStackState | None = None
    seen_at: Mapping[int, float] = field(default_factory=dict)  # arbitration id -> clock time
    frames: int = 0
    error_frames: int = 0
    silent_s: float = 0.0
    health: BusHealth = BusHealth.NEVER_HEARD


class _StateListener(can.Listener):
    # python-can >= 4.5 keeps its reader thread looping after a handled error;
    # an unplugged adapter fails every recv() at once, so each error pauses
    # this long instead of spinning until the monitor closes the watcher.
    ERROR_PAUSE_S = 0.2

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._started_at = clock()
        self._last_frame_at: float | None = None
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
            self._last_frame_at = now
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

    def snapshot(self, silence_limit_s: float | None = None) -> CanWatch:
        now = self._clock()
        with self._lock:
            if self._error is not None:
                error = self._error
                raise LinkError(
                    f"the CAN adapter failed: {error}",
                    hint="check the adapter is still plugged in and the interface is up "
                    "(ip link show can0); run with --debug for the cause",
                ) from error
            since = self._started_at if self._last_frame_at is None else self._last_frame_at
            silent_s = max(0.0, now - since)
            if self._last_frame_at is None:
                health = BusHealth.NEVER_HEARD
            elif silence_limit_s is not None and silent_s >= silence_limit_s:
                health = BusHealth.SILENT
            else:
                health = BusHealth.LIVE
            return CanWatch(
                state=self._builder.state(),
                seen_at=dict(self._seen_at),
                frames=self._frames,
                error_frames=self._error_frames,
                silent_s=silent_s,
                health=health,
            )


# A Pylon battery broadcasts every second; five seconds without any frame
# after frames came is a dead gateway or adapter, not a slow cycle.
DEFAULT_SILENCE_LIMIT_S = 5.0


class CanWatcher(ClosesOnExit):
    """``with CanWatcher(bus) as watch: heard = watch.snapshot()``.

    `snapshot()` raises LinkError once the bus has failed (the adapter was
    unplugged, the interface went down), and `CanBusSilent` when
    ``silence_limit_s`` is set and frames came, then stopped for that long,
    or the interface reports bus-off. With ``silence_limit_s=None`` silence
    is only reported (`CanWatch.health`), never raised.
    """

    def __init__(
        self,
        bus: can.BusABC,
        clock: Callable[[], float] = time.monotonic,
        *,
        silence_limit_s: float | None = None,
    ) -> None:
        self._bus = bus
        self.silence_limit_s = silence_limit_s
        self._listener = _StateListener(clock)
        self._notifier = can.Notifier(bus, [self._listener], timeout=0.2)

    def snapshot(self) -> CanWatch:
        watch = self._listener.snapshot(self.silence_limit_s)
        if self.silence_limit_s is None:
            return watch
        if watch.health is BusHealth.SILENT:
            raise CanBusSilent(
                f"no CAN frame for {watch.silent_s:.1f} s after {watch.frames} frames: "
                "the CAN gateway, adapter or bus went away",
                hint="check the adapter's cable, the socketcand server or gateway and its "
                "network, and that the batteries are still on",
            )
        if _bus_off(self._bus):
            raise CanBusSilent(
                "the CAN interface reports bus-off",
                hint="check CAN-H/CAN-L, the 120 ohm termination and the bitrate (500000)",
            )
        return watch

    def close(self) -> None:
        self._notifier.stop()


def _bus_off(bus: can.BusABC) -> bool:
    # python-can's BusABC.state is ACTIVE unless the interface knows better
    # (pcan, kvaser ...); an interface that cannot tell may raise.
    try:
        return bool(bus.state == can.BusState.ERROR)
    except (can.CanError, NotImplementedError, OSError):
        return False
