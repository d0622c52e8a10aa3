"""Missing or damaged data files of the installation: one line naming the file, exit 4.

A broken install (a wheel without its ``_data``, a DBC overwritten by an
editor) used to end in a FileNotFoundError or a decoding traceback; it is a
DataFileError naming the path, like a bad profile or scenario.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from active_cli import resources
from active_cli.errors import EXIT_BAD_DATA, DataFileError
from active_cli.protocols import can_digest, pylon_can
from tests.conftest import CliResult


@pytest.fixture
def fresh_database() -> Iterator[None]:
    """`pylon_can.database()` and the digest are cached: each test starts and ends without."""
    pylon_can.database.cache_clear()
    can_digest.load_digest.cache_clear()
    yield
    pylon_can.database.cache_clear()
    can_digest.load_digest.cache_clear()


def test_a_missing_data_folder_is_a_data_file_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(resources, "_PACKAGE_DIR", tmp_path / "active_cli")
    with pytest.raises(DataFileError, match="data folder 'dbc' not found") as info:
        resources.data_dir("dbc")
    assert info.value.exit_code == EXIT_BAD_DATA
    assert str(tmp_path) in info.value.path
    # Still what it is to library callers.
    assert isinstance(info.value, FileNotFoundError)


def test_a_missing_data_file_names_its_path() -> None:
    with pytest.raises(DataFileError, match=r"no-such\.dbc") as info:
        resources.data_file("dbc", "no-such.dbc")
    assert info.value.path.endswith("no-such.dbc")


@pytest.mark.usefixtures("fresh_database")
@pytest.mark.parametrize(
    "content",
    [b'VERSION ""\nBO_ nonsense', b"\x81\x8d\x8f\x90\x9d" * 10],
    ids=["not-a-dbc", "not-text"],
)
def test_a_damaged_dbc_is_a_data_file_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: bytes
) -> None:
    dbc = tmp_path / "pylon_lv.dbc"
    dbc.write_bytes(content)
    monkeypatch.setattr(pylon_can, "data_file", lambda folder, name: dbc)
    with pytest.raises(DataFileError) as info:
        pylon_can.database()
    assert info.value.path == str(dbc) and "not a valid DBC" in info.value.reason


@pytest.mark.usefixtures("fresh_database")
@pytest.mark.parametrize(
    "content",
    [b'{"version": 1, "messages": [', b'{"version": 1, "messages": [{"name": "x"}]}', b"\x81\x8d"],
    ids=["cut-short", "wrong-shape", "not-text"],
)
def test_a_damaged_dbc_digest_exits_4_with_one_line(
    run_cli: Callable[..., CliResult],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    content: bytes,
) -> None:
    digest = tmp_path / "pylon_lv.digest.json"
    digest.write_bytes(content)
    monkeypatch.setattr(can_digest, "data_file", lambda folder, name: digest)
    result = run_cli("decode", "can", "356", "7A13F2FE6B01")
    assert result.exit_code == EXIT_BAD_DATA, (result.stdout, result.stderr)
    assert result.stderr.startswith("error:") and "not a valid DBC digest" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.usefixtures("fresh_database")
def test_an_unreadable_dbc_is_a_data_file_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "pylon_lv.dbc"
    folder.mkdir()  # a folder where the file should be
    monkeypatch.setattr(pylon_can, "data_file", lambda kind, name: folder)
    with pytest.raises(DataFileError, match="cannot be read"):
        pylon_can.database()


@pytest.mark.usefixtures("fresh_database")
def test_decode_can_without_its_dbc_exits_4_with_one_line(
    run_cli: Callable[..., CliResult], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(resources, "_PACKAGE_DIR", tmp_path / "active_cli")
    result = run_cli("decode", "can", "356", "7A13F2FE6B01")
    assert result.exit_code == EXIT_BAD_DATA, (result.stdout, result.stderr)
    assert result.stderr.startswith("error:") and "'dbc' not found" in result.stderr
    assert "Traceback" not in result.stderr
