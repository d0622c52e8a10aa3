"""The data folders are found from the checkout (and, see test_wheel, from a wheel)."""

from __future__ import annotations

from pathlib import Path

import pytest

from active_cli import resources


@pytest.mark.parametrize("name", ["dbc", "inverters", "checklists"])
def test_data_dir_found_in_checkout(name: resources.DataFolder) -> None:
    folder = resources.data_dir(name)
    assert folder.is_dir()
    assert folder.name == name


def test_dbc_file_found() -> None:
    assert (
        resources.data_file("dbc", "pylon_lv.dbc").read_text(encoding="utf-8").startswith("VERSION")
    )


def test_missing_file_names_the_folder() -> None:
    with pytest.raises(FileNotFoundError, match=r"no-such\.dbc"):
        resources.data_file("dbc", "no-such.dbc")


def test_installed_layout_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "site" / "active_cli"
    (package / "_data" / "dbc").mkdir(parents=True)
    (tmp_path / "site" / "dbc").mkdir()
    monkeypatch.setattr(resources, "_PACKAGE_DIR", package)
    assert resources.data_dir("dbc") == package / "_data" / "dbc"


def test_neither_layout_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(resources, "_PACKAGE_DIR", tmp_path / "active_cli")
    with pytest.raises(FileNotFoundError, match="checklists"):
        resources.data_dir("checklists")
