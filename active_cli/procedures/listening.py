"""`active listen`: hear a running system without ever transmitting.

On a live site the inverter is the RS485 master and owns the CAN bus; a
laptop that polls collides with it. `listen_site` only receives:

- RS485 from a *tap* (a second adapter on the same A/B pair, a gateway in
  monitor mode, ``active sim --tap-port``), opened read-only
  (`links.capture.open_sniff_port`); nothing in this module writes to it.
  Frames are paired by `listening_rs485.Rs485Pairer`.
- CAN through a bus handed over as `ReadOnlyBus`, which has no ``send``; the
  interface is put in listen-only mode where python-can can do so (PCAN's
  ``state=BusState.PASSIVE``; any bus whose ``state`` can be set), and the
  user is told where it cannot (socketcan: ``ip link ... listen-only on``).

With ``--sim`` the simulated inverter polls the stack over RS485 as the
line's master, and the tap is where listening happens. Optional recording
writes the formats `--replay` reads: ``.rs485`` (`logs.rs485_log`) and a CAN
log (`links.replay.CanRecorder`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, TextIO

from active_cli.connection import CaptureFiles, Connection
from active_cli.errors import LinkError, UsageError
from active_cli.model import CanStackState, Finding, Severity
from active_cli.procedures.listening_rs485 import Exchange, Rs485Pairer, Rs485Traffic
from active_cli.protocols import pylon_can
from active_cli.protocols.framing import Rs485Framer

if TYPE_CHECKING:
    import can

    from active_cli.links.replay import CanRecorder
    from active_cli.links.serial_link import SerialPort
    from active_cli.logs.rs485_log import Rs485LogWriter
    from active_cli.sim.site import SimulatedSite

RS485_ACCEPTED = "listen.rs485.accepted"
RS485_NO_REPLIES = "listen.rs485.no-replies"
RS485_UNANSWERED = "listen.rs485.unanswered"
RS485_SILENT = "listen.rs485.silent"
RS485_ERRORS = "listen.rs485.errors"
CAN_BATTERY = "listen.can.battery"
CAN_INVERTER = "listen.can.inverter"
CAN_SILENT = "listen.can.silent"
CAN_ERRORS = "listen.can.errors"

# CAN ids sent by the inverter side, as public protocol documents name them.
INVERTER_CAN_IDS: dict[int, str] = {
    pylon_can.HEARTBEAT_ID: "inverter keep-alive (Pylon LV 0x305)",
}


@dataclass(frozen=True)
class ListenOptions:
    duration_s: float = 10.0
    reply_window_s: float = 1.0
    record: CaptureFiles = field(default_factory=CaptureFiles)


@dataclass(frozen=True)
class CanHeard:
    """One CAN frame as heard, named and decoded where it is known."""

    at_s: float
    arbitration_id: int
    name: str
    text: str  # the decoded signals in one line (or the raw bytes)
    changed: bool  # differs from the last frame with this id


@dataclass(frozen=True)
class CanTraffic:
    frames: int
    error_frames: int
    ids_seen: dict[int, int]
    heartbeats: int
    state: CanStackState | None
    listen_only: str  # how the interface was kept from transmitting


@dataclass(frozen=True)
class Listening:
    """What a listening window heard on each bus, and its findings."""

    duration_s: float
    rs485_port: str | None = None
    baud: int | None = None
    rs485: Rs485Traffic | None = None
    rs485_bytes_heard: int = 0
    can: CanTraffic | None = None
    findings: tuple[Finding, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def heard_anything(self) -> bool:
        return self.rs485_bytes_heard > 0 or (self.can is not None and self.can.frames > 0)


class ReadOnlyBus:
    """A CAN bus that can only be received from: listen holds nothing else."""

    def __init__(self, bus: can.BusABC) -> None:
        self._bus = bus

    def recv(self, timeout: float | None = None) -> can.Message | None:
        return self._bus.recv(timeout)


def listen_only_kwargs(interface: str | None) -> dict[str, object]:
    """What python-can needs to open `interface` without ever transmitting (where it can)."""
    import can

    if interface == "pcan":
        return {"state": can.BusState.PASSIVE, "receive_own_messages": False}
    return {"receive_own_messages": False}


def make_passive(bus: can.BusABC, interface: str | None) -> str:
    """Put an open bus in listen-only mode where python-can can; say how it stands."""
    import can

    if interface == "pcan":
        return "listen-only (PCAN passive state)"
    try:
        bus.state = can.BusState.PASSIVE
    except (NotImplementedError, AttributeError, can.CanError, OSError):
        if interface == "socketcan":
            return (
                "receive only; for a hardware listen-only mode: `sudo ip link set can0 type can "
                "bitrate 500000 listen-only on`"
            )
        return "receive only (this interface has no listen-only switch in python-can)"
    return "listen-only (bus state passive)"


def listen_site(
    connection: Connection,
    options: ListenOptions,
    *,
    on_exchange: Callable[[Exchange], None] | None = None,
    on_can: Callable[[CanHeard], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Listening:
    """Listen for `options.duration_s` on what `connection` names; never transmit."""
    notes: list[str] = []
    with contextlib.ExitStack() as stack:
        site = stack.enter_context(_site(connection, notes)) if connection.sim else None
        url = site.rs485_tap_url if site is not None else connection.port
        baud = site.baud if site is not None else connection.resolved_baud()
        port: SerialPort | None = None
        if url is not None:
            from active_cli.links.capture import open_sniff_port

            port = open_sniff_port(url, baud)
            stack.callback(port.close)
        bus: ReadOnlyBus | None = None
        listen_only = ""
        if connection.wants_can:
            bus, listen_only = _open_can(connection, site, stack)
        rs485_writer = _rs485_writer(options.record, url, baud, stack)
        can_recorder = _can_recorder(options.record, stack)
        if options.record.rs485 is not None and port is None:
            raise UsageError(f"--record {options.record.rs485}: no RS485 tap is listened to")
        if options.record.can is not None and bus is None:
            raise UsageError(f"--record {options.record.can}: no CAN bus is listened to")
        result = _Loop(
            port, bus, baud, options, rs485_writer, can_recorder, on_exchange, on_can, clock
        ).run()
    rs485_traffic, heard_bytes, can_traffic = result
    if can_traffic is not None:
        can_traffic = dataclasses.replace(can_traffic, listen_only=listen_only)
    findings = _rs485_findings(rs485_traffic, heard_bytes) if port is not None else []
    if can_traffic is not None:
        findings += _can_findings(can_traffic)
    from active_cli.checks.verdict import sort_findings

    return Listening(
        options.duration_s,
        url,
        baud if url is not None else None,
        rs485_traffic if port is not None else None,
        heard_bytes,
        can_traffic,
        sort_findings(findings),
        tuple(notes),
    )


@contextlib.contextmanager
def _site(connection: Connection, notes: list[str]) -> Iterator[SimulatedSite]:
    from active_cli.sim.scenario import load_scenario
    from active_cli.sim.site import SimulatedSite

    assert connection.sim is not None
    scenario = load_scenario(connection.sim)
    if scenario.inverter_present and not scenario.inverter_polls_rs485:
        # Listening needs a master on the line: the simulated inverter polls.
        scenario = dataclasses.replace(scenario, inverter_polls_rs485=True)
        notes.append("simulator: the inverter polls the stack over RS485 as the line's master")
    with SimulatedSite(scenario, pty=False, tap_port=0) as site:
        yield site


def _open_can(
    connection: Connection, site: SimulatedSite | None, stack: contextlib.ExitStack
) -> tuple[ReadOnlyBus, str]:
    if site is not None:
        raw = site.open_can_bus()
        stack.callback(raw.shutdown)
        return ReadOnlyBus(raw), "receive only (simulator)"
    from active_cli.links.can_link import open_bus

    options = connection.can_options()
    raw = open_bus(options, **listen_only_kwargs(options.interface))
    stack.callback(raw.shutdown)
    return ReadOnlyBus(raw), make_passive(raw, options.interface)


def _rs485_writer(
    record: CaptureFiles, url: str | None, baud: int, stack: contextlib.ExitStack
) -> Rs485LogWriter | None:
    if record.rs485 is None:
        return None
    from active_cli.logs.rs485_log import Rs485LogWriter

    try:
        file: TextIO = stack.enter_context(
            open(record.rs485, "w", encoding="ascii", newline="\n")  # noqa: SIM115
        )
    except OSError as e:
        raise UsageError(f"cannot write {record.rs485}: {e.strerror or e}") from e
    writer = Rs485LogWriter(file)
    writer.header(port=(url or "?").replace(" ", "_"), baud=baud, recorded_by="active_listen")
    stack.callback(lambda: writer.comment_if_possible(f"end: {writer.frames} frames"))
    return writer


def _can_recorder(record: CaptureFiles, stack: contextlib.ExitStack) -> CanRecorder | None:
    if record.can is None:
        return None
    from active_cli.links.replay import CanRecorder

    return stack.enter_context(CanRecorder(record.can))


@dataclass
class _Loop:
    port: SerialPort | None
    bus: ReadOnlyBus | None
    baud: int
    options: ListenOptions
    rs485_writer: Rs485LogWriter | None
    can_recorder: CanRecorder | None
    on_exchange: Callable[[Exchange], None] | None
    on_can: Callable[[CanHeard], None] | None
    clock: Callable[[], float]

    def run(self) -> tuple[Rs485Traffic, int, CanTraffic | None]:
        pairer = Rs485Pairer(
            self.baud, reply_window_s=self.options.reply_window_s, on_exchange=self.on_exchange
        )
        framer = Rs485Framer()
        builder = pylon_can.CanStateBuilder()
        can_ids: dict[int, int] = {}
        last_data: dict[int, bytes] = {}
        errors = can_frames = heard = 0
        start = self.clock()
        end = start + self.options.duration_s
        if self.port is not None:
            self.port.timeout = 0.02
        while (now := self.clock()) < end:
            if self.port is not None:
                chunk = _read(self.port)
                heard += len(chunk)
                for raw in framer.feed(chunk):
                    at = self.clock()
                    self._record_rs485(raw)
                    pairer.feed(raw, at)
                pairer.expire(self.clock())
            if self.bus is not None:
                timeout = 0.0 if self.port is not None else min(0.1, max(0.0, end - now))
                while (message := self._recv(timeout)) is not None:
                    timeout = 0.0
                    if self.can_recorder is not None:
                        self.can_recorder.write(message)
                    if message.is_error_frame:
                        errors += 1
                        continue
                    can_frames += 1
                    ident = message.arbitration_id
                    data = bytes(message.data)
                    can_ids[ident] = can_ids.get(ident, 0) + 1
                    builder.feed(ident, data)
                    if self.on_can is not None:
                        changed = last_data.get(ident) != data
                        self.on_can(describe_can(self.clock() - start, ident, data, changed))
                    last_data[ident] = data
        traffic = pairer.finish(self.clock())
        can_traffic = None
        if self.bus is not None:
            can_traffic = CanTraffic(
                can_frames + errors,
                errors,
                dict(sorted(can_ids.items())),
                can_ids.get(pylon_can.HEARTBEAT_ID, 0),
                builder.state(),
                "",
            )
        return traffic, heard, can_traffic

    def _recv(self, timeout: float) -> can.Message | None:
        import can

        assert self.bus is not None
        try:
            return self.bus.recv(timeout)
        except (can.CanError, OSError) as e:
            raise LinkError(
                f"CAN receive failed: {e}", hint="the CAN adapter went away: check its USB cable"
            ) from e

    def _record_rs485(self, raw: bytes) -> None:
        if self.rs485_writer is None:
            return
        from active_cli.logs.rs485_log import Rs485Record, classify

        stamp = datetime.now().astimezone()
        self.rs485_writer.write(Rs485Record(stamp, classify(raw), raw))


def _read(port: SerialPort) -> bytes:
    try:
        return port.read(max(1, port.in_waiting))
    except OSError as e:
        raise LinkError(
            f"RS485 read failed: {e}",
            hint="the tap adapter or gateway went away: check the USB cable / network",
        ) from e


def describe_can(at_s: float, ident: int, data: bytes, changed: bool) -> CanHeard:
    """Name and decode one frame (unknown ids keep their raw bytes)."""
    from active_cli.errors import DecodeError
    from active_cli.sanitize import printable

    name = INVERTER_CAN_IDS.get(ident)
    try:
        signals = pylon_can.decode_signals(ident, data)
    except DecodeError:
        return CanHeard(round(at_s, 3), ident, name or "not a Pylon LV id", data.hex(" "), changed)
    if name is None:
        message = pylon_can.database().get_message_by_frame_id(ident)
        name = message.name
    text = " ".join(f"{k}={v}" for k, v in signals.items())
    return CanHeard(round(at_s, 3), ident, name, printable(text), changed)


# ------------------------------------------------------------------ findings


def _rs485_findings(traffic: Rs485Traffic, heard_bytes: int) -> list[Finding]:
    findings: list[Finding] = []
    exchanges = traffic.exchanges
    if not heard_bytes:
        return [
            Finding(
                Severity.FAIL,
                RS485_SILENT,
                "Nothing heard on the RS485 tap",
                "No byte in the whole window: the tap is not on the A/B pair between the "
                "inverter and the battery, the tap's baud rate differs, or the inverter "
                "reads the battery over CAN.",
                fix="clip the tap onto the same A/B pair as the inverter's BMS port, at the "
                "battery's baud rate",
            )
        ]
    replies = sum(a.replies for a in traffic.per_address)
    if exchanges and not replies:
        findings.append(
            Finding(
                Severity.FAIL,
                RS485_NO_REPLIES,
                f"The inverter asks ({len(exchanges)} requests) and the battery never answers",
                "The inverter polls, nothing comes back: the addresses it polls have no "
                "pack, the battery is off, or its RS485 wires are not on this pair.",
                tuple(f"address {a.address}: {a.requests} requests" for a in traffic.per_address),
                "check the master pack is on and its address is what the inverter polls; "
                "check the A/B wiring at the battery's COM port",
            )
        )
    for address in traffic.per_address:
        if address.replies and address.unanswered:
            findings.append(
                Finding(
                    Severity.WARN,
                    RS485_UNANSWERED,
                    f"Address {address.address}: {address.unanswered} of {address.requests} "
                    "requests unanswered",
                    "A pack that answers only sometimes: a poor line, a pack rebooting, or "
                    "two masters colliding.",
                    fix="check the RS485 cable and that only the inverter polls",
                )
            )
        if address.errors:
            findings.append(
                Finding(
                    Severity.WARN,
                    RS485_ERRORS,
                    f"Address {address.address}: {address.errors} broken or refused replies",
                    fix="check the RS485 cable, its ground and the adapter",
                )
            )
    if traffic.longest_accepted_run:
        findings.append(
            Finding(
                Severity.OK,
                RS485_ACCEPTED,
                f"The inverter is talking to the battery: {traffic.accepted_in_a_row} "
                f"consecutive replies accepted ({len(exchanges)} requests heard)",
                evidence=tuple(
                    f"address {a.address}: {a.replies}/{a.requests} answered, latency "
                    + ("?" if a.latency_median_ms is None else f"{a.latency_median_ms:.0f} ms")
                    for a in traffic.per_address
                )
                + tuple(f"{name}: {n}" for name, n in traffic.requests_by_name.items()),
            )
        )
    if traffic.bad_frames and not any(f.code == RS485_ERRORS for f in findings):
        findings.append(
            Finding(
                Severity.WARN,
                RS485_ERRORS,
                f"{traffic.bad_frames} broken frame(s) on the line",
                fix="check the RS485 cable, its ground and the adapter",
            )
        )
    return findings


def _can_findings(traffic: CanTraffic) -> list[Finding]:
    findings: list[Finding] = []
    battery = sum(n for i, n in traffic.ids_seen.items() if i in pylon_can.BATTERY_IDS)
    if not traffic.frames:
        return [
            Finding(
                Severity.FAIL,
                CAN_SILENT,
                "Nothing heard on CAN",
                "No frame in the whole window: `active doctor` finds out why.",
                fix="check the battery is master and on, the bitrate and the termination",
            )
        ]
    if traffic.error_frames:
        findings.append(
            Finding(
                Severity.WARN,
                CAN_ERRORS,
                f"{traffic.error_frames} CAN error frame(s)",
                fix="check the termination (about 60 ohm across CAN-H/CAN-L, power off)",
            )
        )
    if battery:
        findings.append(
            Finding(Severity.OK, CAN_BATTERY, f"The battery broadcasts ({battery} frames)")
        )
    if traffic.heartbeats:
        findings.append(
            Finding(
                Severity.OK,
                CAN_INVERTER,
                f"The inverter answers: {traffic.heartbeats} keep-alive frames (0x305)",
            )
        )
    elif battery:
        findings.append(
            Finding(
                Severity.INFO,
                CAN_INVERTER,
                "No 0x305 from the inverter",
                fix="switch the inverter on and set its battery type to Pylon-compatible lithium",
            )
        )
    return findings
