"""`log decode` writes today's output byte for byte, for every case of tests/decode_cases.py.

The golden outputs were recorded from the per-frame decoder that issue 18
replaced (see tests/decode_cases.py); this holds the block-wise one to them:
the output text, the summary counts, and for a damaged log the same error
after the same frames.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.decode_cases import CASES, Case, golden, run_case


def first_difference(got: str, want: str) -> str:
    got_lines, want_lines = got.splitlines(keepends=True), want.splitlines(keepends=True)
    for n, (a, b) in enumerate(zip(got_lines, want_lines, strict=False), 1):
        if a != b:
            return f"line {n}: got {a!r}, want {b!r}"
    return f"got {len(got_lines)} lines, want {len(want_lines)}"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_output_is_byte_identical_to_the_reference(case: Case, tmp_path: Path) -> None:
    want = golden(case)
    got = run_case(case, tmp_path)
    assert got.output == want.output, first_difference(got.output, want.output)
    assert got.summary == want.summary
    assert got.error == want.error


def test_the_cases_cover_what_they_claim() -> None:
    """The reference outputs are not empty, and hold each kind of record."""
    outcomes = {c.name: golden(c) for c in CASES}
    every = outcomes["every-case.log.jsonl"]
    assert every.summary is not None
    assert every.summary["errors"] and every.summary["unknown"] and every.summary["skipped"]
    assert '"error":' in every.output and '"Marker":"PN"' in every.output
    assert outcomes["every-case.log.csv"].output.count("\n") > 200
    damaged = [o for name, o in outcomes.items() if name.startswith("damaged-")]
    assert all(o.output.count("\n") > 200 for o in damaged)
    assert sum(o.error is not None for o in damaged) == len(damaged) - 2  # over-long: no error
