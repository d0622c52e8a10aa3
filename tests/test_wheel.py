"""A non-editable install ships the data folders and the installed tool finds them."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(ROOT)],
        check=True,
        timeout=300,
    )
    (built,) = out.glob("active_cli-*.whl")
    return built


@pytest.mark.slow
def test_wheel_contains_data(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "active_cli/_data/dbc/pylon_lv.dbc" in names
    assert "active_cli/_data/dbc/pylon_lv.digest.json" in names  # log decode's DBC
    assert any(n.startswith("active_cli/_data/checklists/") for n in names)
    assert any(n.startswith("active_cli/sim/scenarios/") for n in names)
    assert "active_cli/py.typed" in names


@pytest.mark.slow
def test_installed_wheel_decodes_outside_checkout(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", str(wheel)],
        check=True,
        timeout=600,
    )
    proc = subprocess.run(
        [str(venv / "bin" / "active"), "decode", "can", "0x356", "7A13F2FE6B01", "--json"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    decoded = json.loads(proc.stdout)
    assert decoded["decoded"]["voltage_v"] == pytest.approx(49.86)
    # The DBC came from inside the installed package, not from this checkout.
    where = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "from active_cli.resources import data_dir; print(data_dir('dbc'))",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=True,
    ).stdout.strip()
    assert where.startswith(str(venv)), where
