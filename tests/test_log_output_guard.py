"""`log decode -o` never destroys its input or a capture; a full disk is exit 5.

Issue 19, item 5: ``log decode cap.rs485 -o cap.rs485`` truncated its own
input, then reported "0 frames" and exited 0. Item 4: output never overwrites
an input (same path, or the same file through a link) nor evidence without
``--force``. Item 6: a full disk while decoding was a traceback.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import CliResult

CANDUMP = "(1700000000.000123) can0 356#7A13F2FE6B01\n" * 3


@pytest.fixture
def capture(tmp_path: Path) -> Path:
    path = tmp_path / "cap.log"
    path.write_text(CANDUMP)
    return path


def test_decoding_onto_its_own_input_is_refused_and_the_input_kept(
    run_cli: Callable[..., CliResult], capture: Path
) -> None:
    result = run_cli("log", "decode", str(capture), "-o", str(capture), "--force")
    assert result.exit_code == 2
    assert "input file" in result.stderr
    assert capture.read_text() == CANDUMP


@pytest.mark.parametrize("link", ["symlink", "hardlink", "dotted"])
def test_the_same_file_under_another_name_is_refused(
    run_cli: Callable[..., CliResult], capture: Path, link: str
) -> None:
    other = capture.parent / "other.csv"
    if link == "symlink":
        other.symlink_to(capture)
    elif link == "hardlink":
        os.link(capture, other)
    else:
        other = capture.parent / "." / capture.name
    result = run_cli("log", "decode", str(capture), "-o", str(other))
    assert result.exit_code == 2
    assert capture.read_text() == CANDUMP


def test_an_existing_capture_is_not_replaced_by_a_decode_without_force(
    run_cli: Callable[..., CliResult], capture: Path, tmp_path: Path
) -> None:
    evidence = tmp_path / "other.rs485"
    evidence.write_text("# active rs485 capture 1\n")
    result = run_cli("log", "decode", str(capture), "-o", str(evidence), "-f", "csv")
    assert result.exit_code == 2
    assert "not a decode output" in result.stderr
    assert evidence.read_text() == "# active rs485 capture 1\n"
    forced = run_cli("log", "decode", str(capture), "-o", str(evidence), "-f", "csv", "--force")
    assert forced.exit_code == 0
    assert evidence.read_text().startswith("timestamp,source")


def test_a_previous_decode_output_is_replaced(
    run_cli: Callable[..., CliResult], capture: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out.csv"
    assert run_cli("log", "decode", str(capture), "-o", str(out)).exit_code == 0
    first = out.read_text()
    assert run_cli("log", "decode", str(capture), "-o", str(out)).exit_code == 0
    assert out.read_text() == first


def test_a_full_disk_while_decoding_is_exit_5(
    run_cli: Callable[..., CliResult], capture: Path
) -> None:
    if not Path("/dev/full").exists():
        pytest.skip("needs /dev/full")
    result = run_cli("log", "decode", str(capture), "-o", "/dev/full")
    assert result.exit_code == 5, result.stderr
    assert "No space left" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_vanished_output_folder_is_exit_5(
    run_cli: Callable[..., CliResult], capture: Path, tmp_path: Path
) -> None:
    result = run_cli("log", "decode", str(capture), "-o", str(tmp_path / "gone" / "out.csv"))
    assert result.exit_code == 5
    assert "could not write" in result.stderr
