"""Cut a stream of RS485 bytes into Pylontech frames, without touching a port.

A `Rs485Framer` is fed whatever chunks a port or socket returned and hands
back every complete frame, from ``~`` up to and including the CR, the way
pyserial's threaded ``Packetizer`` splits on its ``TERMINATOR``. It keeps count
of what it had to throw away, because on site that count is a diagnosis:
garbage before ``~`` points at swapped A/B wires or a wrong baud rate, and
abandoned frames at a second master (the inverter) talking on the same line.
Checking the frame itself (hex, LENGTH, CHKSUM) is `pylon_rs485.decode_frame`'s
job, not the framer's.
"""

from __future__ import annotations

SOI = 0x7E  # "~"
EOI = 0x0D  # CR: Pylontech and PACE frames end in CR only, never CR LF

# The longest frame the format can express: "~", 12 header digits, LENID's
# 12-bit maximum of 4095 INFO digits, 4 CHKSUM digits, CR. Anything longer can
# only be a frame whose CR was lost, so the framer gives up on it.
MAX_FRAME_BYTES = 1 + 12 + 0xFFF + 4 + 1


class Rs485Framer:
    """Incremental splitter: ``feed(chunk)`` returns the frames completed by that chunk.

    - Bytes outside a frame (before ``~``, or between a CR and the next ``~``)
      are dropped and added to `noise_bytes`. That includes an LF some tools
      send after the CR.
    - A ``~`` inside an unfinished frame starts a new frame: the unfinished
      part is dropped, counted in `noise_bytes` and in `abandoned_frames`.
    - A frame that grows past `max_frame_bytes` without a CR is dropped,
      counted in `noise_bytes` and `oversize_frames`; bytes up to the next
      ``~`` are then noise.
    """

    def __init__(self, max_frame_bytes: int = MAX_FRAME_BYTES) -> None:
        if max_frame_bytes < 2:
            raise ValueError("max_frame_bytes must leave room for '~' and CR")
        self.max_frame_bytes = max_frame_bytes
        self.noise_bytes = 0
        self.abandoned_frames = 0
        self.oversize_frames = 0
        self._buf = bytearray()  # the frame being collected; empty when outside a frame

    def feed(self, chunk: bytes) -> list[bytes]:
        """Take the next chunk from the line; return the frames it completed, in order."""
        frames: list[bytes] = []
        data = bytes(chunk)
        end = len(data)
        pos = 0
        while pos < end:
            if not self._buf:
                start = data.find(b"~", pos)
                if start < 0:
                    self.noise_bytes += end - pos
                    break
                self.noise_bytes += start - pos
                self._buf.append(SOI)
                pos = start + 1
                continue
            cr = data.find(b"\r", pos)
            soi = data.find(b"~", pos)
            if soi >= 0 and (cr < 0 or soi < cr):
                # A new SOI before the CR: the frame in progress lost its end
                # (collision, dropout); resynchronise on the newer frame.
                self.noise_bytes += len(self._buf) + (soi - pos)
                self.abandoned_frames += 1
                self._buf = bytearray(b"~")
                pos = soi + 1
                continue
            stop = end if cr < 0 else cr + 1
            self._buf += data[pos:stop]
            pos = stop
            if len(self._buf) > self.max_frame_bytes:
                self.noise_bytes += len(self._buf)
                self.oversize_frames += 1
                self._buf = bytearray()
                # Skip to the next SOI: what follows belongs to the lost frame.
                nxt = data.find(b"~", pos)
                skipped = (end if nxt < 0 else nxt) - pos
                self.noise_bytes += skipped
                pos += skipped
                continue
            if cr >= 0:
                frames.append(bytes(self._buf))
                self._buf = bytearray()
        return frames

    def pending(self) -> bytes:
        """The unfinished frame collected so far (empty when between frames)."""
        return bytes(self._buf)

    def reset(self) -> None:
        """Forget an unfinished frame (before a new request); the counters stay."""
        self._buf = bytearray()
