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


# How long a socketcand server may take to accept a TCP connection before it
# counts as unreachable (python-can's own client retries for 10 s, logging a
# warning per attempt: about 290,000 lines for a refused port).
SOCKETCAND_CONNECT_TIMEOUT_S = 3.0

NO_INTERFACE_HINT = (
    "give --interface and --channel (e.g. --interface socketcan --channel can0), "
    "set CAN_INTERFACE and CAN_CHANNEL, or put interface and channel under [default] "
    "in ~/.canrc"
)


def resolve_config(options: CanOptions, **extra: Any) -> dict[str, Any]:
    """The keyword arguments `can.Bus` gets: the options over python-can's own
    configuration (``CAN_INTERFACE``/``CAN_CHANNEL``/``CAN_BITRATE``,
    ``CAN_CONFIG``, ``~/.canrc``), resolved by python-can's ``load_config``.

    No interface anywhere is a UsageError (exit 2) that says where one goes,
    not python-can's ``Unknown interface type "None"``.
    """
    import can
    from can.util import load_config

    from active_cli.errors import UsageError

    kwargs: dict[str, Any] = dict(extra)
    kwargs.update(options.extra)
    if options.interface:
        kwargs["interface"] = options.interface
    if options.channel is not None:
        kwargs["channel"] = options.channel
    if options.bitrate:
        kwargs["bitrate"] = options.bitrate
    try:
        config: dict[str, Any] = dict(load_config(config=kwargs))
    except (can.CanInterfaceNotImplementedError, ValueError) as e:
        # load_config refuses a missing interface as 'Unknown interface type "None"'.
        if 'type "None"' not in str(e):
            raise LinkError(
                f"cannot open CAN bus ({options.describe()}): {e}", hint=_hint(options)
            ) from e
        config = {}
    if not config.get("interface"):
        raise UsageError(
            "no CAN interface given, and python-can's configuration names none",
            hint=NO_INTERFACE_HINT,
        )
    return config


def describe_resolved(options: CanOptions) -> str:
    """`options.describe()`, naming what python-can's configuration filled in."""
    if options.interface:
        return options.describe()
    from active_cli.errors import ActiveError

    try:
        config = resolve_config(options)
    except ActiveError:
        return options.describe()
    found = CanOptions(
        str(config["interface"]),
        None if config.get("channel") is None else str(config["channel"]),
        int(config["bitrate"]) if config.get("bitrate") else None,
    )
    return f"{found.describe()} (python-can configuration)"


def configured_interface() -> str | None:
    """The interface python-can's own configuration names (env, ~/.canrc), or None:
    lets a command use CAN with no CAN option given, as python-can's tools do."""
    from active_cli.errors import UsageError

    try:
        interface = resolve_config(CanOptions()).get("interface")
    except UsageError:
        return None
    return None if interface is None else str(interface)


def probe_socketcand(config: dict[str, Any]) -> None:
    """Refuse fast, in one line, a socketcand server that is not there.

    Also turns a port from ~/.canrc (text there) into the number python-can needs.
    """
    import socket

    from active_cli.errors import UsageError

    host, port = config.get("host"), config.get("port")
    if host is None or port is None:
        raise UsageError(
            "socketcand needs the server's host and port",
            hint="--can-option host=192.168.1.20 --can-option port=29536 "
            "(or host and port in ~/.canrc)",
        )
    try:
        config["port"] = port = int(port)
    except (TypeError, ValueError):
        raise UsageError(f"socketcand port {port!r} is not a number") from None
    try:
        socket.create_connection((str(host), port), timeout=SOCKETCAND_CONNECT_TIMEOUT_S).close()
    except OSError as e:
        raise LinkError(
            f"cannot reach the socketcand server at {host}:{port}: {e.strerror or e}",
            hint="is socketcand running there, on that port (its default is 29536), "
            "and no firewall between? (The CAN bitrate is set on the server's side.)",
        ) from e


def open_bus(options: CanOptions, **extra: Any) -> can.BusABC:
    """Open a python-can bus; every failure becomes a LinkError with a hint."""
    import can

    kwargs = resolve_config(options, **extra)
    if kwargs.get("interface") == "socketcand":
        probe_socketcand(kwargs)
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
        return NO_INTERFACE_HINT
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
