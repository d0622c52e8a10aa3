"""Work on the line on a worker thread while the caller's thread gets the screen ready.

A scan spends nearly all its time waiting for replies. Started on a worker
thread as soon as the link is open, its first request goes out before the
modules that draw progress and the result are imported: the caller imports
them meanwhile, then shows the worker's progress events as they come, on its
own thread (rich's screen is the caller's alone). docs/architecture.md,
start-up.

Ctrl-C reaches the caller's thread: the worker is told to stop at its next
progress event and given a moment to unwind, so the link and any recording
are closed by their owners, not under the worker's feet.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Generic, TypeVar

T = TypeVar("T")

Progress = Callable[[int, str], None]  # (address, what is happening), as discovery's

# How long a stopped worker may take to reach its next progress event: one
# exchange at 9600 baud, with its retry, is well inside this.
STOP_GRACE_S = 2.0
# Past this, the caller goes on without the first event (work that reports none).
FIRST_EVENT_WAIT_S = 0.2
_POLL_S = 0.05  # how often the caller looks whether the worker is done


class _Stopped(Exception):
    """Raised in the worker at its next progress event after a stop."""


class LineWork(Generic[T]):
    """``work(progress)`` on a daemon thread; ``result()`` waits, showing its progress.

    Use as a context manager: leaving the block before ``result()`` returned
    (an exception, Ctrl-C) stops the worker first.
    """

    def __init__(self, work: Callable[[Progress], T], *, name: str = "line-work") -> None:
        self._events: queue.SimpleQueue[tuple[int, str] | None] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._value: list[T] = []  # the work's value, once it returned
        self._error: BaseException | None = None
        self._done = False
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(work,), name=name, daemon=True)
        self._thread.start()

    def _run(self, work: Callable[[Progress], T]) -> None:
        try:
            self._value.append(work(self._report))
        except _Stopped:
            pass
        except BaseException as e:  # handed to the caller's thread, re-raised there
            self._error = e
        finally:
            self._events.put(None)
            self._started.set()

    def _report(self, address: int, what: str) -> None:
        if self._stop.is_set():
            raise _Stopped
        self._events.put((address, what))
        self._started.set()

    def wait_started(self, timeout_s: float = FIRST_EVENT_WAIT_S) -> None:
        """Wait for the work's first progress event (it is about to send), or for its end.

        The caller's imports hold the GIL for 5 ms at a time; started first,
        the worker's first request is not queued behind them.
        """
        self._started.wait(timeout_s)

    def result(self, progress: Progress | None = None) -> T:
        """Wait for the work, passing its progress events to `progress`; its value or error."""
        while not self._done:
            try:
                event = self._events.get(timeout=_POLL_S)
            except queue.Empty:
                continue
            if event is None:
                self._done = True
            elif progress is not None:
                progress(*event)
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value[0]

    def stop(self) -> None:
        """Tell the worker to stop at its next progress event, and wait a moment for it."""
        self._stop.set()
        self._thread.join(STOP_GRACE_S)

    def __enter__(self) -> LineWork[T]:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if not self._done:
            self.stop()
