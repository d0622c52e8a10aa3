"""The session record: everything one commissioning run measured, asked and decided.

`active commission` writes it after every step (`save_session`, atomic) and
`--resume` reads it back (`load_session`); `active report` renders the service
ticket from it alone, so a ticket can be re-made anywhere from the file. The
file is JSON with ``"kind": "active-session"`` and a schema version; a file
written by a newer `active`, a foreign JSON file or a damaged one is refused
with a `DataFileError` (exit 4) and never overwritten by a resumed run.

Timestamps are ISO 8601 UTC strings (``2026-12-01T22:31:07.125Z``, see
`iso_utc`), so the record reads the same in every time zone.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import types
import typing
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from active_cli import __version__
from active_cli.errors import DataFileError
from active_cli.model import CanStackState, Finding, PackReading
from active_cli.records import RecordError, atomic_write_json, from_json, to_json

SESSION_SCHEMA_VERSION = 1
SESSION_KIND = "active-session"


class StepStatus(enum.Enum):
    PENDING = "pending"
    RUNNING = "running"
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"
    SKIPPED = "skipped"

    @property
    def done(self) -> bool:
        """True when a resumed run need not repeat the step."""
        return self in (StepStatus.OK, StepStatus.WARN, StepStatus.SKIPPED)


class Outcome(enum.Enum):
    IN_PROGRESS = "in-progress"
    COMPLETED = "completed"
    STOPPED = "stopped"  # a check failed and the run stopped there (exit 1)
    ABORTED = "aborted"  # the installer chose to end the run


@dataclass(frozen=True)
class Installer:
    name: str | None = None
    company: str | None = None
    phone: str | None = None
    email: str | None = None


@dataclass(frozen=True)
class SiteInfo:
    """Who commissions what, where: the service form's address and system fields."""

    installer: Installer
    ticket: str | None
    street: str | None
    zip_city: str | None
    portal_name: str | None
    inverter_profile: str  # the `--inverter` profile name ("deye")
    inverter_name: str  # the profile's display name ("Deye SUN-*-SG hybrid")
    inverter_serial: str | None
    inverter_firmware: str | None
    inverter_power_w: float | None
    packs_expected: int
    bms_internet: bool | None = None


@dataclass(frozen=True)
class PackRecord:
    """One pack as read at one moment: over RS485, or a voltage typed from a multimeter.

    ``position`` is the pack's place in the power-on order (1 = the pack wired
    to the inverter), None when it is not known (a plain scan).
    """

    position: int | None
    address: int | None
    source: str  # "rs485" | "multimeter"
    read_at: str
    serial: str | None = None
    firmware: str | None = None
    model: str | None = None
    manufacturer: str | None = None
    protocol_variant: str | None = None
    voltage_v: float | None = None
    current_a: float | None = None
    soc_pct: float | None = None
    soh_pct: float | None = None
    cycles: int | None = None
    remaining_ah: float | None = None
    full_ah: float | None = None
    cell_voltages_v: tuple[float, ...] = ()
    temperatures_c: tuple[float, ...] = ()
    alarms: tuple[str, ...] = ()
    protections: tuple[str, ...] = ()
    # False/None: the alarm command (0x44) was not read, so "no alarms" is unknown.
    alarms_read: bool | None = None

    @classmethod
    def from_reading(
        cls, reading: PackReading, *, position: int | None, read_at: str
    ) -> PackRecord:
        return cls(
            position=position,
            address=reading.address,
            source="rs485",
            read_at=read_at,
            serial=reading.serial,
            firmware=reading.firmware,
            model=reading.device_name,
            manufacturer=reading.manufacturer,
            protocol_variant=reading.protocol_variant,
            voltage_v=reading.voltage_v,
            current_a=reading.current_a,
            soc_pct=reading.soc_pct,
            soh_pct=reading.soh_pct,
            cycles=reading.cycles,
            remaining_ah=reading.remaining_ah,
            full_ah=reading.full_ah,
            cell_voltages_v=reading.cell_voltages_v,
            temperatures_c=reading.temperatures_c,
            alarms=reading.alarms,
            protections=reading.protections,
            alarms_read=reading.alarm_read,
        )

    @property
    def min_cell_v(self) -> float | None:
        return min(self.cell_voltages_v, default=None)

    @property
    def max_cell_v(self) -> float | None:
        return max(self.cell_voltages_v, default=None)


@dataclass(frozen=True)
class PackJoin:
    """One pack appearing on the bus after the installer switched it on."""

    position: int
    address: int | None
    serial: str | None
    firmware: str | None
    voltage_v: float | None
    joined_at: str
    waited_s: float


@dataclass(frozen=True)
class StepRecord:
    id: str
    title: str
    status: StepStatus = StepStatus.PENDING
    started_at: str | None = None
    ended_at: str | None = None
    instruction: str = ""
    findings: tuple[Finding, ...] = ()
    evidence: tuple[str, ...] = ()
    answers: tuple[tuple[str, str], ...] = ()  # (question id, answer) in the order asked
    note: str = ""  # the skip reason or the installer's remark


@dataclass(frozen=True)
class Session:
    schema_version: int
    tool_version: str
    session_id: str
    created_at: str
    updated_at: str
    site: SiteInfo
    steps: tuple[StepRecord, ...]
    outcome: Outcome = Outcome.IN_PROGRESS
    before_linking: tuple[PackRecord, ...] = ()
    joins: tuple[PackJoin, ...] = ()
    final_packs: tuple[PackRecord, ...] = ()
    master_address: int | None = None
    can_state: CanStackState | None = None
    inverter_setting: str | None = None
    inverter_display_matches: bool | None = None
    sim_scenario: str | None = None
    captures: tuple[str, ...] = ()  # capture files the run wrote, relative to the session file

    def step(self, step_id: str) -> StepRecord:
        for record in self.steps:
            if record.id == step_id:
                return record
        raise KeyError(f"no step {step_id!r} in this session")

    def with_step(self, record: StepRecord) -> Session:
        """This session with `record` in place of the step of the same id (appended if new)."""
        ids = [s.id for s in self.steps]
        if record.id in ids:
            steps = tuple(record if s.id == record.id else s for s in self.steps)
        else:
            steps = (*self.steps, record)
        return dataclasses.replace(self, steps=steps)


def iso_utc(moment: datetime) -> str:
    """`moment` as the record writes time: UTC, milliseconds, a ``Z``.

    Milliseconds because packs joining in a fast (simulated) run must still
    show a strictly later time each. A naive datetime is refused: its zone is
    a guess, and a ticket's times must not be.
    """
    if moment.tzinfo is None:
        raise ValueError("a naive datetime has no time zone; pass datetime.now(UTC)")
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_session(
    site: SiteInfo,
    steps: Sequence[tuple[str, str]],
    *,
    sim_scenario: str | None,
    now: datetime,
) -> Session:
    """A fresh record: every step (id, title) pending, in the given order."""
    stamp = iso_utc(now)
    session_id = now.astimezone(UTC).strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
    return Session(
        schema_version=SESSION_SCHEMA_VERSION,
        tool_version=__version__,
        session_id=session_id,
        created_at=stamp,
        updated_at=stamp,
        site=site,
        steps=tuple(StepRecord(id=step_id, title=title) for step_id, title in steps),
        sim_scenario=sim_scenario,
    )


def session_to_json(session: Session) -> dict[str, object]:
    data = to_json(session)
    assert isinstance(data, dict)
    return {"kind": SESSION_KIND, **data}


def save_session(path: Path, session: Session) -> None:
    """Write the record atomically: after a crash the file is the old record or the new one."""
    atomic_write_json(path, session_to_json(session))


def load_session(path: Path) -> Session:
    """Read a session file; anything that is not a readable session is a `DataFileError`."""
    shown = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise DataFileError(shown, "not a session file: not UTF-8 text") from None
    except OSError as e:
        raise DataFileError(shown, f"cannot read: {e.strerror or e}") from e
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise DataFileError(
            shown,
            f"not a session file: {e.msg} (column {e.colno})",
            line=e.lineno,
            hint="the file is damaged; a session written by `active commission` is never partial",
        ) from None
    if not isinstance(data, dict) or data.get("kind") != SESSION_KIND:
        raise DataFileError(
            shown,
            f'not an `active` session file (no "kind": "{SESSION_KIND}")',
            hint="pass the file `active commission` wrote (active-session-*.json)",
        )
    version = data.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise DataFileError(shown, f"bad schema_version {version!r}", key="schema_version")
    if version > SESSION_SCHEMA_VERSION:
        raise DataFileError(
            shown,
            f"written by a newer `active` (session schema {version}; "
            f"this one, {__version__}, reads up to {SESSION_SCHEMA_VERSION})",
            key="schema_version",
            hint="upgrade active: pip install -U active-cli",
        )
    body = {k: v for k, v in data.items() if k != "kind"}
    try:
        return from_json(Session, body)
    except RecordError as e:
        raise DataFileError(shown, e.reason, key=e.path or None) from None


# --- JSON Schema, generated from the dataclasses above --------------------------------------


def session_json_schema() -> dict[str, object]:
    """A JSON Schema (2020-12) for the session file, made from the dataclasses' type hints.

    docs/session-schema.json is this output; a test keeps the two equal.
    """
    defs: dict[str, object] = {}
    _schema_for(Session, defs)
    session_def = defs.pop("Session")
    assert isinstance(session_def, dict)
    properties = {"kind": {"const": SESSION_KIND}, **session_def["properties"]}
    properties["schema_version"] = {"type": "integer", "minimum": 1}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "active commissioning session record",
        "description": (
            f"Written by `active commission` after every step; schema version "
            f"{SESSION_SCHEMA_VERSION}. Times are ISO 8601 UTC."
        ),
        "type": "object",
        "properties": properties,
        "required": ["kind", *session_def["required"]],
        "additionalProperties": False,
        "$defs": dict(sorted(defs.items())),
    }


_PRIMITIVES: dict[object, dict[str, object]] = {
    str: {"type": "string"},
    bool: {"type": "boolean"},
    int: {"type": "integer"},
    # NaN is written as null (JSON has no NaN), so a float may be null.
    float: {"type": ["number", "null"]},
}


def _schema_for(tp: object, defs: dict[str, object]) -> dict[str, object]:
    origin = typing.get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:
        options = [a for a in typing.get_args(tp) if a is not type(None)]
        nullable = len(options) < len(typing.get_args(tp))
        if len(options) == 1 and options[0] is float:
            return dict(_PRIMITIVES[float])
        if len(options) == 1 and options[0] in _PRIMITIVES:
            base = _PRIMITIVES[options[0]]["type"]
            return {"type": [base, "null"] if nullable else base}
        any_of = [_schema_for(a, defs) for a in options]
        if nullable:
            any_of.append({"type": "null"})
        return {"anyOf": any_of}
    if origin is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return {"type": "array", "items": _schema_for(args[0], defs)}
        return {
            "type": "array",
            "prefixItems": [_schema_for(a, defs) for a in args],
            "minItems": len(args),
            "maxItems": len(args),
        }
    if origin is dict:
        key_type, value_type = typing.get_args(tp)
        schema: dict[str, object] = {
            "type": "object",
            "additionalProperties": _schema_for(value_type, defs),
        }
        if key_type is int:
            schema["propertyNames"] = {"pattern": "^-?[0-9]+$"}
        return schema
    if tp in _PRIMITIVES:
        return dict(_PRIMITIVES[tp])
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return {"enum": [m.value for m in tp]}
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        name = tp.__name__
        if name not in defs:
            defs[name] = {}  # placeholder: stops recursion on self-reference
            hints = typing.get_type_hints(tp)
            fields = [f for f in dataclasses.fields(tp) if f.init]
            defs[name] = {
                "type": "object",
                "properties": {f.name: _schema_for(hints[f.name], defs) for f in fields},
                "required": [
                    f.name
                    for f in fields
                    if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
                ],
                "additionalProperties": False,
            }
        return {"$ref": f"#/$defs/{name}"}
    raise TypeError(f"no JSON Schema for {tp!r}")


if __name__ == "__main__":
    # python -m active_cli.commissioning.session > docs/session-schema.json
    print(json.dumps(session_json_schema(), indent=2, ensure_ascii=False))
