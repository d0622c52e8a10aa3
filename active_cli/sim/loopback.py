"""A TCP server on 127.0.0.1 that serves each client on its own thread.

Both simulated network endpoints (the RS485 gateway and socketcand) are this,
with a different `serve` function. Loopback only: the simulator never listens
on, or sends to, any other address.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable

from active_cli.errors import LinkError, UsageError


def listen_on_loopback(port: int, option: str) -> socket.socket:
    """A listening TCP socket on 127.0.0.1 only.

    A port outside 0..65535 is a UsageError (checked first: the socket module
    would raise OverflowError), a busy one a LinkError.
    """
    if not 0 <= port <= 65535:
        raise UsageError(f"{option} {port}: a TCP port is 0..65535 (0 = any free port)")
    try:
        return socket.create_server(("127.0.0.1", port))
    except OSError as e:
        raise LinkError(
            f"cannot listen on 127.0.0.1:{port}: {os.strerror(e.errno) if e.errno else e}",
            hint=f"another program (or another `active sim`) has that port: choose another "
            f"with {option}, or 0 for any free port",
        ) from e


class LoopbackServer:
    """Accept clients until `stop` is set; `serve(conn)` runs on a thread per client."""

    def __init__(
        self,
        port: int,
        *,
        option: str,
        name: str,
        serve: Callable[[socket.socket], None],
        stop: threading.Event,
    ) -> None:
        self._server = listen_on_loopback(port, option)
        self._server.settimeout(0.1)
        self.port: int = self._server.getsockname()[1]
        self._serve = serve
        self._stop = stop
        self._threads: list[threading.Thread] = []
        self._accept = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._accept.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def close(self) -> None:
        self._server.close()
        if self._accept.is_alive():  # a server closed before start() has no thread
            self._accept.join(timeout=1.0)
        for thread in self._threads:
            thread.join(timeout=1.0)
