"""Match a ticket (PDF or HTML) to the session file it was made from.

The ticket carries the SHA-256 of the session file's bytes twice: in the
footer of every page, for people, and as ``active-session-sha256:HEX`` in the
document's metadata (PDF keywords, an HTML ``<meta>``), for this module. A PDF
keeps its metadata in compressed object streams, so each Flate stream is
inflated and searched; nothing else of the PDF is parsed.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from active_cli.errors import DataFileError

MARKER = "active-session-sha256:"
_FOUND = re.compile(rb"active-session-sha256:([0-9a-f]{64})")
_STREAM = re.compile(rb"stream\r?\n")


@dataclass(frozen=True)
class Verdict:
    matches: bool
    ticket_sha256: str
    session_sha256: str


def file_sha256(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as e:
        raise DataFileError(str(path), f"cannot be read: {e.strerror or e}") from e


def _inflated_streams(data: bytes) -> Iterator[bytes]:
    """Every Flate stream of a PDF, inflated, last first (the metadata sits near the end).

    A memoryview keeps each attempt from copying the rest of a photo-heavy file.
    """
    view = memoryview(data)
    for match in reversed(list(_STREAM.finditer(data))):
        try:
            yield zlib.decompressobj().decompress(view[match.end() :], 1 << 22)
        except zlib.error:
            continue  # not a Flate stream (an image, or not a stream at all)


def ticket_sha256(path: Path) -> str:
    """The session hash a ticket records; DataFileError when it records none."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise DataFileError(str(path), f"cannot be read: {e.strerror or e}") from e
    found = _FOUND.search(data)
    if found is None and data.startswith(b"%PDF"):
        for chunk in _inflated_streams(data):
            found = _FOUND.search(chunk)
            if found is not None:
                break
    if found is None:
        raise DataFileError(
            str(path),
            "not a ticket made by `active report`: it records no session hash",
        )
    return found.group(1).decode("ascii")


def verify_ticket(ticket: Path, session: Path) -> Verdict:
    recorded = ticket_sha256(ticket)
    actual = file_sha256(session)
    return Verdict(recorded == actual, recorded, actual)
