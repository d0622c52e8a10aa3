"""One zip for the manufacturer: the session, the ticket (HTML, PDF), photos and captures.

Every file goes in under a plain name (``session/``, ``ticket.html``,
``photos/``, ``captures/``) with a MANIFEST.txt of SHA-256 sums, so the
receiver can check the set is complete. Captures are the files the session
names, relative to the session file's folder; one that is missing is listed
in the manifest as missing rather than silently dropped.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

from active_cli.records import atomic_write_bytes


@dataclass(frozen=True)
class BundleResult:
    names: tuple[str, ...]
    missing: tuple[str, ...]


def write_bundle(
    path: Path,
    *,
    session_file: Path,
    html: str,
    pdf: bytes | None,
    photos: tuple[Path, ...],
    captures: tuple[str, ...],
) -> BundleResult:
    entries: list[tuple[str, bytes]] = [
        (f"session/{session_file.name}", session_file.read_bytes()),
        ("ticket.html", html.encode("utf-8")),
    ]
    if pdf is not None:
        entries.append(("ticket.pdf", pdf))
    used: set[str] = set()
    for photo in photos:
        name = _unique(f"photos/{photo.name}", used)
        entries.append((name, photo.read_bytes()))
    missing: list[str] = []
    base = session_file.parent
    for capture in captures:
        source = (base / capture) if not Path(capture).is_absolute() else Path(capture)
        if not source.is_file():
            missing.append(capture)
            continue
        entries.append((_unique(f"captures/{source.name}", used), source.read_bytes()))
    manifest = [f"{hashlib.sha256(data).hexdigest()}  {name}" for name, data in entries]
    manifest += [f"missing  captures/{name}" for name in missing]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries:
            archive.writestr(name, data)
        archive.writestr("MANIFEST.txt", "\n".join(manifest) + "\n")
    atomic_write_bytes(path, buffer.getvalue())
    return BundleResult(tuple(name for name, _ in entries), tuple(missing))


def _unique(name: str, used: set[str]) -> str:
    candidate, n = name, 1
    while candidate in used:
        n += 1
        stem, dot, suffix = name.rpartition(".")
        candidate = f"{stem}-{n}.{suffix}" if dot else f"{name}-{n}"
    used.add(candidate)
    return candidate
