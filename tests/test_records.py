"""records.py: dataclasses to JSON and back, strictly; atomic JSON writes."""

from __future__ import annotations

import enum
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from active_cli.errors import EXIT_OUTPUT, OutputError
from active_cli.model import CanObservation, Finding, Severity
from active_cli.records import RecordError, atomic_write_json, from_json, to_json


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


@dataclass(frozen=True)
class Inner:
    name: str
    colour: Colour = Colour.RED


@dataclass(frozen=True)
class Outer:
    count: int
    ratio: float
    inner: Inner
    maybe: Inner | None = None
    pairs: tuple[tuple[str, str], ...] = ()
    by_id: dict[int, float] = field(default_factory=dict)
    values: tuple[float, ...] = ()


def test_round_trip_nested_values() -> None:
    value = Outer(
        count=3,
        ratio=0.5,
        inner=Inner("a", Colour.BLUE),
        maybe=None,
        pairs=(("q", "yes"), ("r", "no")),
        by_id={0x351: 1.0, 0x305: 0.98},
        values=(1.0, 2.5),
    )
    data = to_json(value)
    assert data == {
        "count": 3,
        "ratio": 0.5,
        "inner": {"name": "a", "colour": "blue"},
        "maybe": None,
        "pairs": [["q", "yes"], ["r", "no"]],
        "by_id": {"849": 1.0, "773": 0.98},
        "values": [1.0, 2.5],
    }
    assert from_json(Outer, json.loads(json.dumps(data))) == value


def test_nan_is_written_as_null_and_read_back_as_nan() -> None:
    data = to_json(Outer(count=1, ratio=math.nan, inner=Inner("x")))
    assert isinstance(data, dict) and data["ratio"] is None
    assert math.isnan(from_json(Outer, data).ratio)


def test_model_types_round_trip() -> None:
    obs = CanObservation(duration_s=2.0, frame_count=10, ids_seen={0x351: 2}, cycle_s={0x351: 1.0})
    assert from_json(CanObservation, to_json(obs)) == obs
    finding = Finding(Severity.WARN, "a.b", "t", evidence=("e",))
    assert from_json(Finding, to_json(finding)) == finding


@pytest.mark.parametrize(
    ("data", "path", "reason"),
    [
        ({"ratio": 1.0, "inner": {"name": "a"}}, "count", "missing"),
        ({"count": "3", "ratio": 1.0, "inner": {"name": "a"}}, "count", "expected an integer"),
        ({"count": True, "ratio": 1.0, "inner": {"name": "a"}}, "count", "expected an integer"),
        ({"count": 1, "ratio": 1.0, "inner": {"name": 5}}, "inner.name", "expected a string"),
        (
            {"count": 1, "ratio": 1.0, "inner": {"name": "a", "colour": "green"}},
            "inner.colour",
            "not one of",
        ),
        ({"count": 1, "ratio": 1.0, "inner": {"name": "a"}, "extra": 1}, "extra", "unknown field"),
        (
            {"count": 1, "ratio": 1.0, "inner": {"name": "a"}, "pairs": [["a"]]},
            "pairs[0]",
            "expected 2 items",
        ),
        (
            {"count": 1, "ratio": 1.0, "inner": {"name": "a"}, "by_id": {"x": 1.0}},
            "by_id['x']",
            "integer key",
        ),
        (
            {"count": 1, "ratio": 1.0, "inner": {"name": "a"}, "maybe": 3},
            "maybe",
            "expected an object",
        ),
        ([], "", "expected an object"),
    ],
)
def test_from_json_is_strict_and_names_the_field(data: object, path: str, reason: str) -> None:
    with pytest.raises(RecordError) as caught:
        from_json(Outer, data)
    assert caught.value.path == path
    assert reason in caught.value.reason
    assert isinstance(caught.value, ValueError)


def test_to_json_refuses_what_json_cannot_hold() -> None:
    with pytest.raises(TypeError, match="Path"):
        to_json({"where": Path("/tmp")})


def test_properties_only_on_request() -> None:
    finding = Finding(Severity.FAIL, "a.b", "t")
    plain = to_json(finding)
    assert isinstance(plain, dict) and "failed" not in plain
    with_props = to_json(finding, properties=True)
    assert isinstance(with_props, dict) and with_props["failed"] is True


def test_atomic_write_then_read(tmp_path: Path) -> None:
    target = tmp_path / "r.json"
    atomic_write_json(target, Outer(count=1, ratio=2.0, inner=Inner("Łódź")))
    text = target.read_text(encoding="utf-8")
    assert "Łódź" in text and text.endswith("\n")
    assert list(tmp_path.iterdir()) == [target]  # no temp file left behind


def test_unserialisable_value_leaves_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "r.json"
    target.write_text('{"old": true}\n', encoding="utf-8")
    with pytest.raises(TypeError):
        atomic_write_json(target, {"bad": object()})
    with pytest.raises(ValueError):
        atomic_write_json(target, {"bad": math.inf})
    assert target.read_text(encoding="utf-8") == '{"old": true}\n'
    assert list(tmp_path.iterdir()) == [target]


def test_failed_rename_leaves_the_old_file_and_no_temp(tmp_path: Path) -> None:
    # A folder where the file should go: the temp file is written, the rename fails.
    target = tmp_path / "r.json"
    target.mkdir()
    (target / "keep").write_text("old", encoding="utf-8")
    with pytest.raises(OutputError) as caught:
        atomic_write_json(target, {"new": True})
    assert caught.value.exit_code == EXIT_OUTPUT == 5
    assert isinstance(caught.value, OSError)
    assert str(target) in caught.value.message
    assert (target / "keep").read_text(encoding="utf-8") == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]


def test_missing_folder_is_an_output_error(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="folder does not exist"):
        atomic_write_json(tmp_path / "nope" / "r.json", {"a": 1})


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root writes to read-only folders"
)
def test_read_only_folder_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "r.json"
    target.write_text("old", encoding="utf-8")
    tmp_path.chmod(0o555)
    try:
        with pytest.raises(OutputError, match="read-only"):
            atomic_write_json(target, {"new": True})
    finally:
        tmp_path.chmod(0o755)
    assert target.read_text(encoding="utf-8") == "old"
