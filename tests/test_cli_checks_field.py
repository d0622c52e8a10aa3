"""What an installer on site sees: no internal references, the verdict last,
the option hints the CLI adds to physical fixes, and the --json envelope.

Each test here failed on the output before these were fixed (field readiness).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import typer.main

from active_cli import __version__, inverters
from active_cli.cli import app
from tests.conftest import CliResult

Run = Callable[..., CliResult]

# What a user cannot open: the project's internal notes.
INTERNAL = re.compile(r"reference/|field notes|field-notes|shared/", re.IGNORECASE)


@pytest.fixture
def fast(tmp_path: Path) -> Callable[[str], str]:
    """A built-in scenario at 115200 baud, as a file `--sim` accepts."""

    def make(name: str) -> str:
        text = (resources.files("active_cli.sim") / "scenarios" / f"{name}.toml").read_text()
        path = tmp_path / f"{name}.toml"
        path.write_text(text + "\n[rs485]\nbaud = 115200\n", encoding="utf-8")
        return str(path)

    return make


def _command_paths(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield path
    # Typer carries its own click: its groups are told apart by list_commands
    # (the root group builds a command only when it is looked up).
    if not hasattr(command, "list_commands"):
        return
    ctx = typer.Context(command)
    for name in sorted(command.list_commands(ctx)):
        yield from _command_paths(command.get_command(ctx, name), (*path, name))


def _no_internal_reference(result: CliResult, what: str) -> None:
    for stream in (result.stdout, result.stderr):
        hit = INTERNAL.search(stream)
        assert hit is None, f"{what}: cites {hit.group(0)!r}:\n{stream[-1500:]}"


def test_every_help_cites_no_internal_document(run_cli: Run) -> None:
    paths = list(_command_paths(typer.main.get_command(app)))
    assert ("check", "parallel") in paths and ("scan",) in paths
    for path in paths:
        result = run_cli(*path, "--help")
        assert result.exit_code == 0, (path, result.stderr)
        _no_internal_reference(result, " ".join(("active", *path, "--help")))


def test_simulator_commands_and_profiles_cite_no_internal_document(
    run_cli: Run, fast: Callable[[str], str]
) -> None:
    runs: list[tuple[str, ...]] = [
        ("scan", "--sim", fast("dead-sensor"), "--can-window", "1.5"),
        ("check", "parallel", "--sim", fast("mismatch")),
        ("check", "parallel", "--voltages", "53.2", "52.1"),
        ("check", "sizing", "--inverter-power", "12000", "--packs", "2"),
        (
            "check",
            "protocol",
            "--inverter",
            "victron",
            "--sim",
            fast("silent-inverter"),
            "--window",
            "1.5",
        ),
        ("monitor", "--sim", fast("healthy-4"), "--once"),
        ("sim", "--list"),
        ("inverters",),
    ]
    for profile in inverters.load_all():
        runs.append(("inverters", "show", profile.id))
        runs.append(("check", "wiring", "--inverter", profile.id))
    for args in runs:
        _no_internal_reference(run_cli(*args), "active " + " ".join(args))


def test_docs_profiles_and_readme_cite_no_internal_document() -> None:
    root = Path(__file__).parent.parent
    files = [
        *sorted((root / "docs").glob("*.md")),
        *sorted((root / "inverters").glob("*.toml")),
        root / "README.md",
    ]
    for path in files:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            hit = INTERNAL.search(line)
            assert hit is None, f"{path.relative_to(root)}:{number}: {line}"


# ------------------------------------------------------------ the verdict


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            ("check", "parallel", "--voltages", "54.1", "54.1", "53.05"),
            "FAIL: do not link - pack 3 is 1.05 V low: charge it to about 54.10 V",
        ),
        (("check", "parallel", "--voltages", "53.1", "53.05"), "OK: the packs may be linked"),
        (("check", "sizing", "--inverter-power", "3000", "--packs", "1"), "OK: 1 pack(s) carry"),
        (("check", "wiring", "--inverter", "deye"), "OK: make the cable as shown"),
    ],
)
def test_the_last_line_is_the_verdict(run_cli: Run, args: tuple[str, ...], line: str) -> None:
    out = run_cli(*args).stdout
    # The verdict starts a line and nothing follows it (it may wrap at 80 columns).
    start = max(out.rfind("\nOK: "), out.rfind("\nWARN: "), out.rfind("\nFAIL: "))
    assert start >= 0, out[-800:]
    verdict = " ".join(out[start:].split())
    assert verdict.startswith(line), verdict


def test_findings_are_listed_fail_warn_ok_info(run_cli: Run) -> None:
    out = run_cli("check", "parallel", "--voltages", "53.2", "52.6").stdout
    labels = re.findall(r"^(FAIL|WARN|OK|INFO)  ", out, flags=re.MULTILINE)
    order = {"FAIL": 0, "WARN": 1, "OK": 2, "INFO": 3}
    assert labels and labels == sorted(labels, key=order.__getitem__), labels


def test_assumptions_are_printed_once(run_cli: Run) -> None:
    out = run_cli("check", "parallel", "--voltages", "53.2", "53.1", "52.9").stdout
    assert out.count("pack internal resistance 5 mohm each") == 1, out
    assert out.count("link cable 2 m each way") == 1


# ------------------------------------------------------------ option hints


def test_physical_fixes_get_their_option_from_the_cli(run_cli: Run, mute_port: str) -> None:
    result = run_cli("scan", "--port", mute_port, "--addresses", "1-2")
    assert result.exit_code == 3
    text = " ".join(result.stderr.split())
    assert "try 115200 baud" in text and "poll more addresses" in text
    assert "--baud 115200" in text and "--addresses 0-20" in text


def test_checks_name_no_options() -> None:
    """Fixes speak of the site; `cli.hints` adds the options (checked in the source)."""
    import ast

    import active_cli.checks as checks

    folder = Path(checks.__file__).parent
    for path in folder.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                assert not re.search(r"(^|\s|`)--[a-z]", node.value), (path.name, node.value)


@pytest.fixture
def mute_port() -> Iterator[str]:
    import socket

    with socket.create_server(("127.0.0.1", 0)) as server:
        yield f"socket://127.0.0.1:{server.getsockname()[1]}"


# ------------------------------------------------------------ --json envelope


def test_json_envelope(run_cli: Run) -> None:
    data = run_cli("check", "parallel", "--voltages", "53.2", "52.6", "--json").json()
    assert data["schema_version"] == 1 and data["active_version"] == __version__
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", data["created_at"])
    assert data["command"] == "check parallel"
    assert data["failed"] is True and data["findings"]
    assert data["outcome"]["severity"] == "fail"
    assert data["outcome"]["text"].startswith("do not link - pack 2 is 0.60 V low")
    listed = run_cli("inverters", "--json").json()
    assert listed["command"] == "inverters" and isinstance(listed["result"], list)
    assert listed["failed"] is False and listed["findings"] == []


def test_json_floats_are_rounded_to_the_resolution(run_cli: Run) -> None:
    text = run_cli("check", "parallel", "--voltages", "53.2", "52.6", "--json").stdout
    data = json.loads(text)
    # 0.6 V / 11.6226 mohm = 51.6235 A: amperes to 0.01 A, the finest a pack sends.
    assert data["equalising_current_a"] == 51.62
    assert data["assumptions"]["resistivity_ohm_mm2_per_m"] == 0.0172  # no unit: kept
    assert data["spread_v"] == 0.6
