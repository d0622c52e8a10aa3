"""CAN I/O: open any python-can bus and listen for a bounded window.

Options left unset fall back to python-can's own configuration (``~/.canrc``,
``CAN_INTERFACE`` / ``CAN_CHANNEL`` / ``CAN_BITRATE``), exactly as python-can's
own tools do. Listening windows end as soon as the caller's condition is met,
so a healthy bus is read in about one broadcast cycle (~1 s), while proving an
absence (no inverter heartbeat) takes the full window.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from active_cli.errors import LinkError

if TYPE_CHECKING:
    import can


@dataclass(frozen=True)
class CanRecord:
    """One received frame, reduced to what the pure layers need.

    ``timestamp`` is the interface's clock (seconds); only differences between
    records of one bus are meaningful.
    """

    timestamp: float
    arbitration_id: int
    data: bytes
    is_error_frame: bool = False
    is_remote_frame: bool = False


CanOptionValue = str | int | float | bool


@dataclass(frozen=True)
class CanOptions:
    """The common CAN options (DESIGN.md "Connections"); None = python-can config.

    ``extra`` holds interface-specific keyword arguments for ``can.Bus``, in
    order (``--can-option host=127.0.0.1 --can-option port=29536`` for
    ``socketcand``, ``serial_baudrate=...`` for ``slcan``, ...); they override
    python-can's own configuration for the same key.
    """

    interface: str | None = None
    channel: str | None = None
    bitrate: int | None = None
    extra: tuple[tuple[str, CanOptionValue], ...] = ()

    def describe(self) -> str:
        parts = [self.interface or "(python-can config)"]
        if self.channel:
            parts.append(f"channel {self.channel}")
        if self.bitrate:
            parts.append(f"{self.bitrate} bit/s")
        parts.extend(f"{key}={value}" for key, value in self.extra)
        return ", ".join(parts)


def open_bus(options: CanOptions, **extra: Any) -> can.BusABC:
    """Open a python-can bus; every failure becomes a LinkError with a hint."""
    import can

    kwargs: dict[str, Any] = dict(extra)
    kwargs.update(options.extra)
    if options.interface:
        kwargs["interface"] = options.interface
    if options.channel is not None:
        kwargs["channel"] = options.channel
    if options.bitrate:
        kwargs["bitrate"] = options.bitrate
    try:
        return can.Bus(**kwargs)
    # TypeError: a --can-option value of the wrong type for that interface
    # (python-can passes extra keywords straight to the driver).
    except (can.CanError, OSError, ValueError, TypeError, ImportError, NotImplementedError) as e:
        raise LinkError(
            f"cannot open CAN bus ({options.describe()}): {e}",
            hint=_hint(options),
        ) from e


def _hint(options: CanOptions) -> str:
    if options.interface == "socketcan":
        return (
            "is the interface up? `sudo ip link set can0 up type can bitrate 500000`; "
            "Pylon LV CAN runs at 500 kbit/s"
        )
    if options.interface is None:
        return (
            "give --interface and --channel (e.g. --interface socketcan --channel can0), "
            "or set up ~/.canrc"
        )
    return "check the adapter is plugged in, the channel name, and that the bitrate is 500000"


def listen(
    bus: can.BusABC,
    *,
    window_s: float,
    until: Callable[[Sequence[CanRecord]], bool] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> list[CanRecord]:
    """Receive frames for up to `window_s`; stop early once `until(records)` is true."""
    import can

    records: list[CanRecord] = []
    deadline = clock() + window_s
    while True:
        remaining = deadline - clock()
        if remaining <= 0:
            break
        try:
            message = bus.recv(timeout=min(remaining, 0.25))
        except (can.CanError, OSError) as e:
            raise LinkError(
                f"CAN receive failed: {e}", hint="the CAN adapter went away: check its USB cable"
            ) from e
        if message is None:
            continue
        records.append(
            CanRecord(
                # The interface's own timestamp: frames queued while we were busy
                # elsewhere keep the time they arrived, so cycle times stay true.
                timestamp=message.timestamp or time.time(),
                arbitration_id=message.arbitration_id,
                data=bytes(message.data),
                is_error_frame=message.is_error_frame,
                is_remote_frame=message.is_remote_frame,
            )
        )
        if until is not None and until(records):
            break
    return records


def send(bus: can.BusABC, arbitration_id: int, data: bytes) -> None:
    import can

    try:
        bus.send(can.Message(arbitration_id=arbitration_id, data=data, is_extended_id=False))
    except (can.CanError, OSError) as e:
        raise LinkError(f"CAN send failed: {e}") from e


def drain(bus: can.BusABC, *, limit: int = 1_000_000) -> int:
    """Throw away what the bus has queued; return how many frames that was.

    A bus held open through a long workflow (commissioning) queues every frame
    since it was opened; an observation that started by reading those would
    judge minutes-old frames as current.
    """
    import can

    dropped = 0
    try:
        while dropped < limit and bus.recv(timeout=0) is not None:
            dropped += 1
    except can.CanError as e:
        raise LinkError(f"the CAN bus could not be read: {e}") from e
    return dropped
