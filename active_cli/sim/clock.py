"""The simulated site's sense of time: the wall clock, or one a test turns by hand.

A site reads time only through a `SimClock`: the physics advances by the
difference between two `now()` readings, and a switch scheduled with
``after_s`` fires at the first sync once `now()` has passed its time. With
the default `MonotonicClock` that is real time. With a `ManualClock` time
stands still until someone calls `advance` (or `sleep`, its alias, so a
procedure written as "sleep, then poll" runs in no real time at all): a test
can let half an hour pass, or wait 30 s for a pack to boot, in microseconds.

Only the site's model runs on this clock. The line's pacing (bytes per baud)
and the CAN broadcast cadence stay in real time: they are how the site looks
to a client, and a client waits in real time.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Protocol


class SimClock(Protocol):
    """Seconds from an arbitrary origin, never going backwards."""

    def now(self) -> float: ...


class MonotonicClock:
    """Real time (`time.monotonic`): what `active sim` and ``--sim`` run on."""

    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, seconds))


class ManualClock:
    """A clock that moves only when told to; safe to read from the site's threads."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = float(start)
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        """Move time `seconds` on (0 is allowed; negative or NaN is a ValueError)."""
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(f"a clock only moves forward, not by {seconds} s")
        with self._lock:
            self._now += seconds

    def sleep(self, seconds: float) -> None:
        """What a waiting caller does: here, let the time pass at once."""
        self.advance(seconds)
