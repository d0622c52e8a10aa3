"""Where `active` may write: never over its own input, never over evidence unasked.

``log decode cap.rs485 -o cap.rs485`` used to truncate its input before
reading it, then report "0 frames" and exit 0: the capture was gone. The same
file can hide behind another name (a symlink, a hard link, ``./cap.rs485``),
so files are compared by device and inode, not by name. A file that is there
already is replaced only when it is a previous decode output (it starts with
the decode CSV header or a JSON line), or with ``--force``: anything else may
be a capture someone needs. Devices and pipes (``-o /dev/null``) are written
freely.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from active_cli.errors import UsageError

# What a decode output starts with (decode_stream.CSV_HEADER, a JSONL record).
_DECODE_OUTPUT_STARTS = ("timestamp,source,id,message,signal,value,unit,error", '{"timestamp":')


def same_file(a: Path, b: Path) -> bool:
    """True when `a` and `b` are one file (by device and inode); False if either is missing."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _is_decode_output(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            start = f.read(64).decode("utf-8", errors="replace")
    except OSError:
        return False
    return start == "" or start.startswith(_DECODE_OUTPUT_STARTS)


def check_output(out: Path, inputs: Sequence[Path], *, force: bool = False) -> None:
    """Raise UsageError (exit 2) before anything is opened for writing, when
    writing `out` would destroy one of `inputs` or an existing file that is not
    a decode output (unless `force`)."""
    for source in inputs:
        if same_file(out, source):
            raise UsageError(
                f"{out} is the input file {source}: writing it would destroy the capture",
                hint="give the output another name, e.g. -o decoded.csv",
            )
    if force:
        return
    # Only a regular file holds evidence: /dev/null or a FIFO is written freely.
    if out.is_file() and not _is_decode_output(out):
        raise UsageError(
            f"{out} already exists and is not a decode output: it is not overwritten",
            hint="give another name, or --force to replace it",
        )
