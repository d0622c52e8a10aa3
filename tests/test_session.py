"""The session record file: round trip, refusal of damaged / foreign / newer files, its schema."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from active_cli.commissioning.session import (
    SESSION_SCHEMA_VERSION,
    Session,
    StepRecord,
    StepStatus,
    iso_utc,
    load_session,
    save_session,
    session_json_schema,
)
from active_cli.errors import EXIT_BAD_DATA, DataFileError
from tests.session_samples import STEPS, sample_session

SCHEMA_FILE = Path(__file__).resolve().parent.parent / "docs" / "session-schema.json"


@pytest.fixture(scope="module")
def session16() -> Session:
    return sample_session("healthy-16", hostile=True)


def test_full_session_round_trips(tmp_path: Path, session16: Session) -> None:
    path = tmp_path / "s.json"
    save_session(path, session16)
    loaded = load_session(path)
    assert loaded == session16
    assert len(loaded.final_packs) == 16 and loaded.can_state is not None
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["kind"] == "active-session"
    assert data["schema_version"] == SESSION_SCHEMA_VERSION
    assert list(data)[:3] == ["kind", "schema_version", "tool_version"]


def test_step_lookup_and_replacement(session16: Session) -> None:
    assert [s.id for s in session16.steps] == [s for s, _ in STEPS]
    record = replace(session16.step("wiring"), status=StepStatus.SKIPPED, note="cable already in")
    updated = session16.with_step(record)
    assert updated.step("wiring").note == "cable already in"
    assert [s.id for s in updated.steps] == [s.id for s in session16.steps]
    assert updated.with_step(StepRecord(id="extra", title="x")).steps[-1].id == "extra"
    with pytest.raises(KeyError):
        session16.step("nope")


def test_times_are_utc_with_milliseconds() -> None:
    moment = datetime(2026, 12, 1, 23, 0, 0, 125000, tzinfo=timezone(timedelta(hours=1)))
    assert iso_utc(moment) == "2026-12-01T22:00:00.125Z"
    with pytest.raises(ValueError, match="naive"):
        iso_utc(datetime(2026, 1, 1))
    assert iso_utc(datetime(2026, 1, 1, tzinfo=UTC)).endswith("Z")


def _write(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "s.json"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def _damaged(session_text: str) -> dict[str, str | bytes]:
    good = json.loads(session_text)
    newer = dict(good, schema_version=SESSION_SCHEMA_VERSION + 1)
    bad_field = json.loads(session_text)
    bad_field["final_packs"][3]["voltage_v"] = "53 V"
    missing = {k: v for k, v in good.items() if k != "site"}
    return {
        "truncated": session_text[: len(session_text) // 2],
        "not utf-8": b"\xff\xfe{}",
        "foreign": json.dumps({"name": "a package.json"}),
        "a list": "[1, 2]",
        "newer": json.dumps(newer),
        "bad field": json.dumps(bad_field),
        "missing site": json.dumps(missing),
    }


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("truncated", "line"),
        ("not utf-8", "not UTF-8"),
        ("foreign", "not an `active` session"),
        ("a list", "not an `active` session"),
        ("newer", "newer `active`"),
        ("bad field", "final_packs[3].voltage_v"),
        ("missing site", "'site'"),
    ],
)
def test_unusable_files_are_refused_and_kept(
    tmp_path: Path,
    session16: Session,
    case: str,
    expected: str,
) -> None:
    good = tmp_path / "good.json"
    save_session(good, session16)
    content = _damaged(good.read_text(encoding="utf-8"))[case]
    path = _write(tmp_path, content)
    with pytest.raises(DataFileError) as caught:
        load_session(path)
    assert caught.value.exit_code == EXIT_BAD_DATA
    assert expected in caught.value.message
    assert str(path) in caught.value.message
    raw = path.read_bytes()
    assert raw == (content if isinstance(content, bytes) else content.encode())


def test_missing_file_is_a_data_file_error(tmp_path: Path) -> None:
    with pytest.raises(DataFileError, match="cannot read"):
        load_session(tmp_path / "absent.json")


def test_published_schema_is_the_generated_one() -> None:
    published = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert published == session_json_schema(), (
        "docs/session-schema.json is stale: python -m active_cli.commissioning.session "
        "> docs/session-schema.json"
    )


def test_schema_describes_the_written_file(tmp_path: Path, session16: Session) -> None:
    # No jsonschema dependency: walk the written file and the schema together.
    schema = session_json_schema()
    path = tmp_path / "s.json"
    save_session(path, session16)
    data = json.loads(path.read_text(encoding="utf-8"))
    defs = schema["$defs"]
    assert isinstance(defs, dict)

    def check(node: dict[str, object], value: object, where: str) -> None:
        if "$ref" in node:
            ref = str(node["$ref"]).rsplit("/", 1)[-1]
            check(defs[ref], value, where)
            return
        if "anyOf" in node:
            options = node["anyOf"]
            assert isinstance(options, list)
            errors = []
            for option in options:
                try:
                    check(option, value, where)
                    return
                except AssertionError as e:
                    errors.append(e)
            raise AssertionError(f"{where}: no option fits {value!r}")
        if "const" in node:
            assert value == node["const"], where
            return
        if "enum" in node:
            assert value in node["enum"], where  # type: ignore[operator]
            return
        kinds = node["type"] if isinstance(node["type"], list) else [node["type"]]
        names = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
        kind = names.get(type(value)) or ("integer" if isinstance(value, int) else "number")
        assert kind in kinds or (kind == "integer" and "number" in kinds), f"{where}: {kind}"
        if kind == "object":
            assert isinstance(value, dict)
            props = node.get("properties", {})
            assert isinstance(props, dict)
            for key in node.get("required", []):  # type: ignore[attr-defined]
                assert key in value, f"{where}.{key} required"
            for key, item in value.items():
                sub = props.get(key, node.get("additionalProperties"))
                assert sub is not False and sub is not None, f"{where}.{key} not in schema"
                if isinstance(sub, dict):
                    check(sub, item, f"{where}.{key}")
        if kind == "array":
            assert isinstance(value, list)
            prefix = node.get("prefixItems")
            for i, item in enumerate(value):
                sub = prefix[i] if isinstance(prefix, list) else node["items"]
                check(sub, item, f"{where}[{i}]")  # type: ignore[arg-type]

    check(schema, data, "session")
