"""Shared by the start-up and scan benches: our bytecode written before any timing."""

from __future__ import annotations

import compileall
from pathlib import Path


def compile_bytecode() -> None:
    """Write active_cli's bytecode, as installing the wheel does.

    The libraries compared against were installed with theirs; a checkout run
    with PYTHONDONTWRITEBYTECODE=1 would otherwise compile our sources in
    every process measured.
    """
    import active_cli

    compileall.compile_dir(Path(active_cli.__file__).parent, quiet=1)
