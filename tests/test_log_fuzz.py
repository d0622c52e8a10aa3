"""A short run of benches/fuzz.py: every parser refuses bad input only with an ActiveError.

The full run (100,000 inputs per target) is ``python benches/fuzz.py``; this
keeps CI fast with a few hundred inputs each, deterministic for the seed.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parent.parent / "benches" / "fuzz.py"


def load_fuzz() -> ModuleType:
    spec = importlib.util.spec_from_file_location("active_fuzz_bench", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


FUZZ = load_fuzz()
NAMES = [
    "rs485-frame",
    "rs485-info",
    "rs485-framer",
    "can-decode",
    "decode-rs485-text",
    "decode-can-text",
    "candump-log",
    "rs485-capture",
    "asc-log",
    "csv-log",
    "trc-log",
    "blf-log",
    "log-gz",
    "scenario",
    "inverter-profile",
]


@pytest.mark.parametrize("name", NAMES)
def test_a_short_fuzz_run_finds_nothing(name: str, tmp_path: Path) -> None:
    import logging

    logging.getLogger("can").setLevel(logging.CRITICAL)
    target = next(t for t in FUZZ.targets(tmp_path) if t.name == name)
    result = FUZZ.fuzz(target, 250, 7)
    assert result.inputs == 250
    assert not result.failures, result.failures[:3]


def test_the_fuzzer_reports_an_exception_outside_the_error_tree(tmp_path: Path) -> None:
    def broken(data: bytes) -> None:
        if b"1" in data:
            raise IndexError("string index out of range")

    target = FUZZ.Target("broken", lambda: [b"1", b"2"], broken)
    result = FUZZ.fuzz(target, 20, 1)
    assert result.failures and result.failures[0].startswith("IndexError")
