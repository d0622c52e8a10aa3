"""Inverter profiles: finding, reading and validating ``inverters/*.toml``.

One TOML file per brand / model family lives in the top-level ``inverters/``
folder (``inverters/README.md`` documents the format); the dataclasses they
become are `active_cli.inverter_profile`'s, re-exported here so callers can keep
importing them from one place. The loader is strict, through
`active_cli.datafile`: an unknown key, a pin outside 1-8, an unknown function or
confidence, a source id not listed under ``[sources]``, a fact whose confidence
contradicts it (a ``"?"`` with a value, a ``"2"`` with one source), or an overall
rating above what the weakest required fact allows raises ``DataFileError``
naming the file, the key, its line and the reason.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from active_cli.datafile import REQUIRED, DataDocument, DataTable, key_lines
from active_cli.datafile import line_of as _line_in
from active_cli.errors import DataFileError, UsageError
from active_cli.inverter_profile import (
    ALWAYS_OPEN,
    BUS_LINES,
    CONFIDENCE_CEILING,
    BmsPort,
    Bus,
    BusSpec,
    Confidence,
    Fact,
    InverterProfile,
    Limits,
    PinFunction,
    PortPin,
    ProfileConfidence,
    ProtocolSpec,
    Quirk,
    QuirkTopic,
    Source,
    Termination,
    by_confidence,
    confidence_ceiling,
    fact_text,
    required_facts,
    weakest,
)
from active_cli.model import Severity

__all__ = [
    "BUS_LINES",
    "CONFIDENCE_CEILING",
    "BmsPort",
    "Bus",
    "BusSpec",
    "Confidence",
    "Fact",
    "InverterProfile",
    "KeyPath",
    "Limits",
    "PinFunction",
    "PortPin",
    "ProfileConfidence",
    "ProtocolSpec",
    "Quirk",
    "QuirkTopic",
    "Source",
    "Termination",
    "by_confidence",
    "confidence_ceiling",
    "fact_text",
    "line_of",
    "load_all",
    "load_profile",
    "load_profile_file",
    "profiles_dir",
    "required_facts",
    "weakest",
]

T = TypeVar("T")
KeyPath = tuple[str | int, ...]
WHAT = "inverter profile"

# --- finding files -----------------------------------------------------------------


def profiles_dir() -> Path:
    from active_cli.resources import data_dir

    return data_dir("inverters")


def load_all(directory: Path | None = None) -> list[InverterProfile]:
    """Every profile in the folder, sorted by id; names and aliases must be unique."""
    folder = directory or profiles_dir()
    profiles = [load_profile_file(path) for path in sorted(folder.glob("*.toml"))]
    owner: dict[str, str] = {}
    for profile in profiles:
        for name in (profile.id, *profile.aliases):
            if name in owner and owner[name] != profile.id:
                raise DataFileError(
                    profile.path,
                    f"name {name!r} is already used by profile {owner[name]!r}",
                    key="aliases",
                )
            owner[name] = profile.id
    return profiles


def load_profile(name: str, directory: Path | None = None) -> InverterProfile:
    """The profile called `name`: its id, an alias, or an unambiguous id prefix.

    The profile comes back `as_named` that name, so a quirk kept for an alias
    (Sol-Ark) is only there when the installer named that alias.
    """
    folder = directory or profiles_dir()
    wanted = name.strip().lower()
    direct = folder / f"{wanted}.toml"
    if re.fullmatch(r"[a-z0-9-]+", wanted) and direct.is_file():
        return load_profile_file(direct).as_named(wanted)
    profiles = load_all(folder)
    for profile in profiles:
        if wanted in profile.aliases:
            return profile.as_named(wanted)
    prefixed = [p for p in profiles if p.id.startswith(wanted)]
    if len(prefixed) == 1:
        return prefixed[0].as_named(prefixed[0].id)
    names = ", ".join(p.id for p in profiles)
    if prefixed:
        raise UsageError(
            f"inverter {name!r} is ambiguous: {', '.join(p.id for p in prefixed)}",
            hint="name one of them exactly",
        )
    raise UsageError(f"no inverter profile {name!r}", hint=f"known profiles: {names}")


def load_profile_file(path: Path) -> InverterProfile:
    """Parse and validate one profile file; any problem raises DataFileError."""
    document = DataDocument.read(path, what=WHAT)
    return _Reader(document).profile(path.stem)


def line_of(text: str, path: KeyPath) -> int | None:
    """The line that defines `path` (or its nearest enclosing key or table), 1-based."""
    return _line_in(key_lines(text), _format_key(path))


def _format_key(path: KeyPath) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


# --- validation --------------------------------------------------------------------

_ID = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")
_CODE = re.compile(r"[a-z0-9-]+(\.[a-z0-9-]+)*")
_CAN_ID = re.compile(r"0x[0-9A-Fa-f]{1,3}")
_TOP_KEYS = (
    "id",
    "name",
    "brand",
    "family",
    "models",
    "aliases",
    "confidence",
    "confidence_note",
    "sources",
    "port",
    "bus",
    "protocol",
    "termination",
    "limits",
    "quirks",
)
_FACT_KEYS = ("value", "confidence", "sources", "note")

E = TypeVar("E", bound=enum.Enum)


def _choice(table: DataTable, key: str, cls: type[E]) -> E:
    return cls(table.get_str(key, choices=[str(m.value) for m in cls]))


class _Reader:
    """Validate one profile document, turning every problem into DataFileError."""

    def __init__(self, document: DataDocument) -> None:
        self.document = document
        self.source_ids: frozenset[str] = frozenset()

    # -- shared rules --

    def source_refs(self, table: DataTable, key: str = "sources") -> tuple[str, ...]:
        refs = table.get_str_list(key)
        for i, ref in enumerate(refs):
            if ref not in self.source_ids:
                raise table.error(f"{key}[{i}]", f"source {ref!r} is not listed under [sources]")
        return refs

    def confidence_rules(
        self,
        where: DataTable,
        key: str,
        confidence: Confidence,
        has_value: bool,
        sources: tuple[str, ...],
        note: str,
    ) -> None:
        if confidence is Confidence.UNKNOWN and has_value:
            raise where.error(key, 'confidence "?" means unknown: remove the value')
        if confidence is not Confidence.UNKNOWN and not has_value:
            raise where.error(
                key, f'no value, so confidence must be "?" (not "{confidence.value}")'
            )
        if confidence is Confidence.CONFIRMED and len(set(sources)) < 2:
            raise where.error(key, 'confidence "2" needs at least two sources')
        if confidence is Confidence.SINGLE and not sources:
            raise where.error(key, 'confidence "1" needs its source')
        if confidence is Confidence.DEDUCED and not note.strip():
            raise where.error(key, 'confidence "d" needs a note saying what it is deduced from')

    # -- facts --

    def fact(self, table: DataTable, key: str, convert: Callable[[DataTable, str], T]) -> Fact[T]:
        raw = table.require_table(key)
        raw.check_keys(_FACT_KEYS)
        confidence = _choice(raw, "confidence", Confidence)
        sources = self.source_refs(raw)
        note = raw.get_str("note", "")
        value = convert(raw, "value") if raw.has("value") else None
        self.confidence_rules(raw, "", confidence, value is not None, sources, note)
        return Fact(value, confidence, sources, note)

    def optional_fact(
        self, table: DataTable, key: str, convert: Callable[[DataTable, str], T]
    ) -> Fact[T]:
        if not table.has(key):
            return Fact(None, Confidence.UNKNOWN)
        return self.fact(table, key, convert)

    @staticmethod
    def as_str(table: DataTable, key: str) -> str:
        return table.get_str(key, min_len=1)

    @staticmethod
    def as_bool(table: DataTable, key: str) -> bool:
        return table.get_bool(key)

    @staticmethod
    def as_positive_int(table: DataTable, key: str) -> int:
        return table.get_int(key, min=1)

    @staticmethod
    def as_positive_float(table: DataTable, key: str) -> float:
        value = table.get_float(key, min=0.0)
        if value <= 0:
            raise table.error(key, f"must be a positive number, got {value:g}")
        return value

    @staticmethod
    def as_can_id(table: DataTable, key: str) -> int:
        value = table.raw(key)
        if not isinstance(value, str) or not _CAN_ID.fullmatch(value):
            raise table.error(key, f'must be an 11-bit CAN id written like "0x356", not {value!r}')
        number = int(value, 16)
        if number > 0x7FF:
            raise table.error(key, f"{value} is not an 11-bit CAN id")
        return number

    @staticmethod
    def as_bus(table: DataTable, key: str) -> Bus:
        return _choice(table, key, Bus)

    # -- sections --

    def profile(self, stem: str) -> InverterProfile:
        top = self.document.root
        top.check_keys(_TOP_KEYS)
        profile_id = top.get_str("id", min_len=1)
        if profile_id != stem:
            raise top.error("id", f"id {profile_id!r} must match the file name {stem!r}")
        if not _ID.fullmatch(profile_id):
            raise top.error("id", "use lower-case letters, digits and single dashes")
        aliases = top.get_str_list("aliases")
        for i, alias in enumerate(aliases):
            if not _ID.fullmatch(alias):
                raise top.error(f"aliases[{i}]", "use lower-case letters, digits and dashes")
        sources = self.sources(top)
        self.source_ids = frozenset(s.id for s in sources)
        models = top.get_str_list("models", REQUIRED)
        if not models:
            raise top.error("models", "list at least one model")
        brand = top.get_str("brand", min_len=1)
        profile = InverterProfile(
            id=profile_id,
            name=top.get_str("name", brand, min_len=1),
            brand=brand,
            family=top.get_str("family", min_len=1),
            models=models,
            aliases=aliases,
            confidence=_choice(top, "confidence", ProfileConfidence),
            confidence_note=top.get_str("confidence_note", ""),
            sources=sources,
            port=self.port(top.require_table("port")),
            bus=self.bus(top.require_table("bus")),
            protocol=self.protocol(top.require_table("protocol")),
            termination=self.termination(top.require_table("termination")),
            limits=self.limits(top.require_table("limits")),
            quirks=tuple(self.quirk(q, aliases) for q in top.get_tables("quirks")),
            path=self.document.source,
        )
        self.cross_checks(profile)
        return profile

    def sources(self, top: DataTable) -> tuple[Source, ...]:
        table = top.require_table("sources")
        if not len(table):
            raise top.error("sources", "must be a table of source ids")
        out = []
        for source_id in table:
            if not _ID.fullmatch(source_id):
                raise table.error(source_id, "source ids use lower-case letters, digits and dashes")
            entry = table.get_table(source_id)
            entry.check_keys(("text", "url"))
            url = entry.opt_str("url", min_len=1)
            if url is not None and not url.startswith(("https://", "http://")):
                raise entry.error("url", "must be an http(s) address")
            out.append(Source(source_id, entry.get_str("text", min_len=1), url))
        return tuple(out)

    def port(self, table: DataTable) -> BmsPort:
        table.check_keys(("label", "connector", "straight_lead", "pins"))
        tables = table.get_tables("pins")
        pins = tuple(self.pin(p) for p in tables)
        seen: set[int] = set()
        for raw, pin in zip(tables, pins, strict=True):
            if pin.pin in seen:
                raise raw.error("pin", f"pin {pin.pin} is listed twice")
            seen.add(pin.pin)
        return BmsPort(
            label=self.fact(table, "label", self.as_str),
            connector=self.fact(table, "connector", self.as_str),
            pins=tuple(sorted(pins, key=lambda p: p.pin)),
            straight_lead=self.optional_fact(table, "straight_lead", self.as_bool),
        )

    def pin(self, table: DataTable) -> PortPin:
        table.check_keys(("pin", "function", "confidence", "sources", "note", "must_not_connect"))
        number = table.get_int("pin")
        if not 1 <= number <= 8:
            raise table.error("pin", f"an RJ45 pin is 1 to 8, not {number}")
        function = _choice(table, "function", PinFunction)
        confidence = _choice(table, "confidence", Confidence)
        sources = self.source_refs(table)
        note = table.get_str("note", "")
        self.confidence_rules(
            table, "function", confidence, function is not PinFunction.UNKNOWN, sources, note
        )
        if function is PinFunction.NC and confidence is Confidence.DEDUCED:
            # "CAN only" says nothing about the other pins: unknown is "?", not NC.
            raise table.error(
                "function",
                'a pin is "NC" only where a source says so; a pin no source describes is '
                '"unknown" with confidence "?"',
            )
        default_open = function in ALWAYS_OPEN
        must_not_connect = table.get_bool("must_not_connect", default_open)
        if default_open and not must_not_connect:
            raise table.error("must_not_connect", f"a {function.value} pin can never get a wire")
        if must_not_connect and function in (*BUS_LINES[Bus.CAN], *BUS_LINES[Bus.RS485]):
            raise table.error(
                "must_not_connect",
                f"a {function.value} pin is a bus line; it cannot be must-not-connect",
            )
        return PortPin(number, function, confidence, sources, note, must_not_connect)

    def bus(self, table: DataTable) -> BusSpec:
        table.check_keys(("type", "bitrate"))
        return BusSpec(
            kind=self.fact(table, "type", self.as_bus),
            bitrate=self.fact(table, "bitrate", self.as_positive_int),
        )

    def protocol(self, table: DataTable) -> ProtocolSpec:
        table.check_keys(("name", "setting", "heartbeat_0x305", "heartbeat_after_id"))
        return ProtocolSpec(
            name=self.fact(table, "name", self.as_str),
            setting=self.fact(table, "setting", self.as_str),
            heartbeat_0x305=self.fact(table, "heartbeat_0x305", self.as_bool),
            heartbeat_after_id=self.fact(table, "heartbeat_after_id", self.as_can_id),
        )

    def termination(self, table: DataTable) -> Termination:
        table.check_keys(("can", "external_terminator", "rs485"))
        return Termination(
            can=self.fact(table, "can", self.as_str),
            external_terminator=self.fact(table, "external_terminator", self.as_bool),
            rs485=self.fact(table, "rs485", self.as_str),
        )

    def limits(self, table: DataTable) -> Limits:
        keys = (
            "max_charge_current_a",
            "max_discharge_current_a",
            "battery_voltage_min_v",
            "battery_voltage_max_v",
            "on_link_loss",
        )
        table.check_keys(keys)
        return Limits(
            max_charge_current_a=self.fact(table, keys[0], self.as_positive_float),
            max_discharge_current_a=self.fact(table, keys[1], self.as_positive_float),
            battery_voltage_min_v=self.fact(table, keys[2], self.as_positive_float),
            battery_voltage_max_v=self.fact(table, keys[3], self.as_positive_float),
            on_link_loss=self.fact(table, keys[4], self.as_str),
        )

    def quirk(self, table: DataTable, aliases: tuple[str, ...]) -> Quirk:
        table.check_keys(
            ("code", "topic", "severity", "text", "fix", "confidence", "sources", "only_for")
        )
        code = table.get_str("code", min_len=1)
        if not _CODE.fullmatch(code):
            raise table.error("code", "use lower-case words joined by dots and dashes")
        severity = _choice(table, "severity", Severity)
        if severity is Severity.OK:
            raise table.error("severity", "a quirk is info, warn or fail, never ok")
        confidence = _choice(table, "confidence", Confidence)
        sources = self.source_refs(table)
        text = table.get_str("text", min_len=1)
        # A quirk is a statement, so it always has a value; "?" makes no sense here.
        self.confidence_rules(table, "confidence", confidence, True, sources, text)
        only_for = table.get_str_list("only_for")
        for i, name in enumerate(only_for):
            if name not in aliases:
                raise table.error(
                    f"only_for[{i}]",
                    f"{name!r} is not an alias of this profile",
                    hint="aliases: " + (", ".join(aliases) or "none"),
                )
        return Quirk(
            code=code,
            topic=_choice(table, "topic", QuirkTopic),
            severity=severity,
            text=text,
            confidence=confidence,
            sources=sources,
            fix=table.get_str("fix", ""),
            only_for=only_for,
        )

    def cross_checks(self, profile: InverterProfile) -> None:
        root = self.document.root
        bitrate = profile.bus.bitrate.value
        if profile.bus.kind.value is Bus.CAN and bitrate is not None and bitrate > 1_000_000:
            raise (
                root.get_table("bus")
                .get_table("bitrate")
                .error("value", "CAN runs at 1 Mbit/s at most")
            )
        codes = [q.code for q in profile.quirks]
        for i, code in enumerate(codes):
            if code in codes[:i]:
                raise root.error(f"quirks[{i}].code", f"quirk code {code!r} is used twice")
        ceiling, label, fact = confidence_ceiling(profile)
        if profile.confidence.rank > ceiling.rank:
            raise root.error(
                "confidence",
                f"{profile.confidence.value!r} claims more than the facts support: the "
                f"{label} is {fact.marker}, so the profile is {ceiling.value!r} at best",
            )
