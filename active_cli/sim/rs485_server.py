"""Serve the simulated RS485 line on a pty and on a loopback TCP port.

The transport only moves bytes the way a real half-duplex line does: it
collects a request frame, waits as long as that request would take on the wire
plus the BMS latency, then releases the reply one byte per byte time (10 bits
per byte at the configured baud). What to answer is decided by a `Responder`
callable (see `sim/responder.py`), so faults live in one place.

The pty is what a USB-RS485 adapter looks like to a client (pyserial opens
its path); the TCP port is what an RS485-to-Ethernet gateway looks like
(``socket://127.0.0.1:PORT``). An optional third port, the tap, is a sniffer
clipped onto A/B: it carries every request from any endpoint and every reply,
byte for byte as the line paces them, and ignores what is sent to it, so a
passive capture (`active log capture x.rs485 --port TAP`) can be rehearsed
while another client polls. All bind to loopback only.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from active_cli.errors import LinkError, UsageError
from active_cli.protocols.framing import Rs485Framer
from active_cli.sim.line_faults import LineModel
from active_cli.sim.loopback import LoopbackServer

log = logging.getLogger(__name__)

Responder = Callable[[bytes], bytes | None]
BITS_PER_BYTE = 10


@dataclass(frozen=True)
class LineTiming:
    baud: int = 9600
    latency_s: float = 0.020

    @property
    def byte_time_s(self) -> float:
        return BITS_PER_BYTE / self.baud


class _Line:
    """The shared half-duplex line: one request/reply at a time across all endpoints."""

    def __init__(
        self,
        respond: Responder,
        timing: LineTiming,
        stop: threading.Event,
        model: LineModel | None = None,
    ) -> None:
        self.respond = respond
        self.timing = timing
        self.model = model or LineModel("none", timing.baud)
        self.stop = stop
        self.lock = threading.Lock()
        self.errors: list[str] = []  # simulator bugs caught on the line (tests assert none)
        self._taps: list[Callable[[bytes], None]] = []
        self._taps_lock = threading.Lock()

    def add_tap(self, write: Callable[[bytes], None]) -> None:
        with self._taps_lock:
            self._taps.append(write)

    def remove_tap(self, write: Callable[[bytes], None]) -> None:
        with self._taps_lock, contextlib.suppress(ValueError):
            self._taps.remove(write)

    def _to_taps(self, data: bytes) -> None:
        with self._taps_lock:
            taps = list(self._taps)
        for tap in taps:
            tap(data)

    def serve_frames(
        self,
        frames: list[bytes],
        first_byte_at: float,
        write: Callable[[bytes], None],
        *,
        from_adapter: bool = True,
    ) -> None:
        """Answer each request; `from_adapter`: it came through a client's adapter
        (and its wiring faults, `line_faults.LineModel`), not from the simulated master."""
        model = self.model

        def and_taps(data: bytes) -> None:
            write(model.reply_heard(data) if from_adapter else data)
            self._to_taps(data)

        for request in frames:
            with self.lock:
                heard = model.request_heard(request) if from_adapter else request
                # Whoever listens on the line hears the request, answered or not.
                self._to_taps(heard)
                echo = model.echo(request) if from_adapter else b""
                if echo:
                    write(echo)
                try:
                    reply = self.respond(heard)
                except Exception as e:  # a simulator bug must not kill the line ...
                    log.exception("responder failed on %r", request)
                    self.errors.append(f"responder failed on {request!r}: {e!r}")  # ... nor hide
                    reply = None
                if reply is None:
                    continue
                model.counts.add("stack", len(reply))
                # The BMS hears the request only once its last byte is on the line.
                start = (
                    first_byte_at + len(request) * self.timing.byte_time_s + self.timing.latency_s
                )
                self._send_paced(reply, start, and_taps)
                first_byte_at = time.monotonic()

    def _send_paced(self, reply: bytes, start: float, write: Callable[[bytes], None]) -> None:
        byte_time = self.timing.byte_time_s
        sent = 0
        while sent < len(reply) and not self.stop.is_set():
            now = time.monotonic()
            # Byte i has fully arrived at start + (i + 1) * byte_time.
            due = int((now - start) / byte_time) if now >= start else 0
            due = min(len(reply), due)
            if due > sent:
                write(reply[sent:due])
                sent = due
                continue
            next_at = start + (sent + 1) * byte_time
            time.sleep(max(0.0, min(next_at - now, 0.01)))


class PtyEndpoint:
    """A pseudo-terminal: clients open `path` like a USB serial adapter."""

    def __init__(self, line: _Line) -> None:
        import tty  # POSIX only (termios): imported here so Windows can still use TCP

        self._line = line
        self._master, self._slave = os.openpty()
        # Raw mode: no CR->LF translation, no echo; the frames end in CR only.
        tty.setraw(self._slave)
        tty.setraw(self._master)
        # Non-blocking: a client that stops reading must not stall the line. A
        # blocking write would wait for ever once the pty buffer is full, holding
        # the line lock, so the TCP endpoint would stop answering too.
        os.set_blocking(self._master, False)
        self.path = os.ttyname(self._slave)
        self._thread = threading.Thread(target=self._run, name="sim-pty", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _write(self, data: bytes) -> None:
        # Nobody listening (or a full buffer, BlockingIOError): a real line just
        # carries the bytes away.
        with contextlib.suppress(OSError):
            os.write(self._master, data)

    def _run(self) -> None:
        framer = Rs485Framer()
        first_byte_at = 0.0
        while not self._line.stop.is_set():
            ready, _, _ = select.select([self._master], [], [], 0.1)
            if not ready:
                continue
            try:
                chunk = os.read(self._master, 4096)
            except OSError:
                time.sleep(0.05)
                continue
            self._line.model.counts.add("clients", len(chunk))
            if not framer.pending():
                first_byte_at = time.monotonic()
            frames = framer.feed(chunk)
            if frames:
                self._line.serve_frames(frames, first_byte_at, self._write)

    def close(self) -> None:
        if self._thread.is_alive():  # a site closed before start() has no thread
            self._thread.join(timeout=1.0)
        for fd in (self._master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)


class TcpEndpoint:
    """A loopback TCP port speaking raw RS485 bytes, like an RS485-Ethernet gateway."""

    def __init__(self, line: _Line, port: int = 0) -> None:
        self._line = line
        self._server = LoopbackServer(
            port, option="--tcp-port", name="sim-tcp", serve=self._serve, stop=line.stop
        )
        self.port = self._server.port

    @property
    def url(self) -> str:
        return f"socket://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._server.start()

    def _serve(self, conn: socket.socket) -> None:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn.settimeout(0.1)
        framer = Rs485Framer()
        first_byte_at = 0.0

        def write(data: bytes) -> None:
            with contextlib.suppress(OSError):
                conn.sendall(data)

        with conn:
            while not self._line.stop.is_set():
                try:
                    chunk = conn.recv(4096)
                except TimeoutError:
                    continue
                except OSError:
                    return
                if not chunk:
                    return
                self._line.model.counts.add("clients", len(chunk))
                if self._line.model.gateway_busy:
                    continue  # a single-client gateway already serving another: silence
                if not framer.pending():
                    first_byte_at = time.monotonic()
                frames = framer.feed(chunk)
                if frames:
                    self._line.serve_frames(frames, first_byte_at, write)

    def close(self) -> None:
        self._server.close()


class TapEndpoint:
    """A loopback TCP port that hears the whole line and never talks on it."""

    def __init__(self, line: _Line, port: int = 0) -> None:
        self._line = line
        self._server = LoopbackServer(
            port, option="--tap-port", name="sim-tap", serve=self._serve, stop=line.stop
        )
        self.port = self._server.port

    @property
    def url(self) -> str:
        return f"socket://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._server.start()

    def _serve(self, conn: socket.socket) -> None:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn.settimeout(0.1)

        def write(data: bytes) -> None:
            # A listener that stops reading loses bytes (as a sniffer would
            # miss them); it must never hold up the line.
            with contextlib.suppress(OSError):
                conn.sendall(data)

        self._line.add_tap(write)
        try:
            with conn:
                while not self._line.stop.is_set():
                    try:
                        chunk = conn.recv(4096)  # a sniffer's own bytes go nowhere
                    except TimeoutError:
                        continue
                    except OSError:
                        return
                    if not chunk:
                        return
                    self._line.model.counts.add("taps", len(chunk))
        finally:
            self._line.remove_tap(write)

    def close(self) -> None:
        self._server.close()


class Rs485Server:
    """The endpoints on one simulated line: TCP, pty (POSIX) and, if asked for, the tap."""

    def __init__(
        self,
        respond: Responder,
        timing: LineTiming,
        *,
        tcp_port: int = 0,
        pty: bool = True,
        tap_port: int | None = None,
        model: LineModel | None = None,
    ) -> None:
        self._stop = threading.Event()
        self._line = _Line(respond, timing, self._stop, model)
        # The TCP ports first: a port the user chose is what usually fails, and
        # then no pty has been opened that would need closing.
        self.tcp = TcpEndpoint(self._line, tcp_port)
        self.tap: TapEndpoint | None = None
        try:
            if tap_port is not None:
                self.tap = TapEndpoint(self._line, tap_port)
            self.pty: PtyEndpoint | None = (
                PtyEndpoint(self._line) if pty and os.name == "posix" else None
            )
        except (OSError, LinkError, UsageError):
            self.tcp.close()
            if self.tap is not None:
                self.tap.close()
            raise

    def start(self) -> None:
        if self.pty is not None:
            self.pty.start()
        self.tcp.start()
        if self.tap is not None:
            self.tap.start()

    @property
    def errors(self) -> list[str]:
        return self._line.errors

    @property
    def model(self) -> LineModel:
        """The wiring faults and the per-side byte counts of this line."""
        return self._line.model

    def exchange(self, request: bytes) -> bytes:
        """Put `request` on the line as the RS485 master (the inverter) and return the reply.

        Paced like any other request: the caller's thread is held for the
        request's and the reply's wire time (half duplex).
        """
        reply = bytearray()
        self._line.model.counts.add("master", len(request))
        self._line.serve_frames([request], time.monotonic(), reply.extend, from_adapter=False)
        return bytes(reply)

    def close(self) -> None:
        self._stop.set()
        if self.pty is not None:
            self.pty.close()
        self.tcp.close()
        if self.tap is not None:
            self.tap.close()
