"""The layer contract of DESIGN.md holds, and it would catch a module that breaks it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(tree / ".importlinter"), "--no-cache"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def tree_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tree = tmp_path_factory.mktemp("layers")
    shutil.copytree(
        ROOT / "active_cli", tree / "active_cli", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(ROOT / ".importlinter", tree / ".importlinter")
    return tree


def test_the_tree_keeps_every_contract(tree_copy: Path) -> None:
    result = _lint(tree_copy)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "BROKEN" not in result.stdout


@pytest.mark.parametrize(
    ("module", "source", "contract"),
    [
        # A codec reaching up into the CLI breaks the layers.
        ("protocols/_upward.py", "from active_cli.cli import app\n", "Layers"),
        # A check opening a serial port breaks "no I/O of their own".
        ("checks/_port.py", "import serial\n", "no I/O"),
        # The simulator importing a link: siblings must not import each other.
        ("sim/_sibling.py", "from active_cli.links import serial_link\n", "Layers"),
    ],
)
def test_a_module_that_breaks_a_contract_is_caught(
    tree_copy: Path, module: str, source: str, contract: str
) -> None:
    bad = tree_copy / "active_cli" / module
    bad.write_text(source)
    try:
        result = _lint(tree_copy)
    finally:
        bad.unlink()
    assert result.returncode != 0
    broken = [line for line in result.stdout.splitlines() if line.endswith("BROKEN")]
    assert any(contract in line for line in broken), result.stdout
