"""docs/json.md is the contract: every documented command prints exactly its keys.

Each command below runs with --json (on the simulator where it needs a bus, with
short windows) and its top-level keys are compared with the page's table.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from importlib import resources
from pathlib import Path

import pytest

from active_cli.cli.output import ENVELOPE_KEYS
from tests.conftest import CliResult

DOC = Path(__file__).parent.parent / "docs" / "json.md"

Run = Callable[..., CliResult]


def _documented() -> dict[str, set[str]]:
    """Heading ("The envelope", "active scan" ...) -> the keys of its table."""
    sections: dict[str, set[str]] = {}
    current: str | None = None
    for line in DOC.read_text(encoding="utf-8").splitlines():
        heading = re.match(r"^## (?:`(.+)`|(.+))$", line)
        if heading:
            current = heading.group(1) or heading.group(2)
            sections[current] = set()
            continue
        row = re.match(r"^\| `([a-z_0-9]+)` \|", line)
        if row and current is not None:
            sections[current].add(row.group(1))
    return sections


def _scenario(tmp_path: Path, name: str) -> str:
    text = (resources.files("active_cli.sim") / "scenarios" / f"{name}.toml").read_text()
    path = tmp_path / f"{name}.toml"
    path.write_text(text + "\n[rs485]\nbaud = 115200\n", encoding="utf-8")
    return str(path)


def test_the_envelope_is_documented() -> None:
    assert _documented()["The envelope"] == {*ENVELOPE_KEYS, "outcome"}


@pytest.mark.parametrize(
    ("command", "args", "outcome"),
    [
        ("active check parallel", ("check", "parallel", "--voltages", "53.2", "53.1"), True),
        ("active check sizing", ("check", "sizing", "--inverter-power", "5000", "-n", "2"), True),
        ("active check wiring", ("check", "wiring", "--inverter", "deye"), True),
        ("active inverters", ("inverters",), False),
        ("active inverters show", ("inverters", "show", "deye"), False),
        ("active scan", ("scan", "--sim", "SCENARIO:healthy-1", "--can-window", "1.5"), True),
        (
            "active check protocol",
            (
                "check",
                "protocol",
                "--inverter",
                "deye",
                "--sim",
                "SCENARIO:healthy-1",
                "--window",
                "1.5",
            ),
            True,
        ),
        ("active monitor", ("monitor", "--sim", "SCENARIO:healthy-1", "--once"), False),
    ],
)
def test_each_command_prints_its_documented_keys(
    run_cli: Run, tmp_path: Path, command: str, args: tuple[str, ...], outcome: bool
) -> None:
    argv = [
        _scenario(tmp_path, a.split(":", 1)[1]) if a.startswith("SCENARIO:") else a for a in args
    ]
    result = run_cli(*argv, "--json")
    assert result.exit_code in (0, 1), result.stderr
    data = result.json()
    envelope = {*ENVELOPE_KEYS, *(("outcome",) if outcome else ())}
    assert envelope <= set(data), command
    assert data["command"] == command.removeprefix("active ")
    assert set(data) - envelope == _documented()[command], command
