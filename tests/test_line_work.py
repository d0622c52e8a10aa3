"""Line work on a worker thread: its value, its error, its progress on the caller's thread."""

from __future__ import annotations

import threading

import pytest

from active_cli.procedures.line_work import LineWork, Progress


def test_the_value_and_every_progress_event_in_order_on_the_callers_thread() -> None:
    seen: list[tuple[int, str, str]] = []

    def work(progress: Progress) -> str:
        for address in (1, 2, 3):
            progress(address, "polling")
        return "done"

    def show(address: int, what: str) -> None:
        seen.append((address, what, threading.current_thread().name))

    with LineWork(work, name="test-work") as running:
        running.wait_started()
        assert running.result(show) == "done"
    caller = threading.current_thread().name
    assert seen == [(1, "polling", caller), (2, "polling", caller), (3, "polling", caller)]


def test_the_workers_error_is_raised_in_the_caller() -> None:
    def work(progress: Progress) -> None:
        progress(1, "polling")
        raise OSError(5, "Input/output error")

    with LineWork(work) as running, pytest.raises(OSError, match="Input/output"):
        running.result()


def test_leaving_early_stops_the_worker_at_its_next_event() -> None:
    reached: list[int] = []

    def work(progress: Progress) -> None:
        progress(1, "polling")
        threading.Event().wait(0.3)  # an exchange in flight while the caller leaves
        for address in range(2, 100):
            progress(address, "polling")  # raises once the caller has left
            reached.append(address)

    with pytest.raises(KeyboardInterrupt), LineWork(work) as running:
        running.wait_started()
        raise KeyboardInterrupt  # what Ctrl-C does in the caller's thread
    assert reached == []
    assert not running._thread.is_alive()  # joined, not left on the link


def test_work_without_events_does_not_hold_the_caller() -> None:
    with LineWork(lambda progress: 42) as running:
        running.wait_started(timeout_s=5.0)
        assert running.result() == 42
