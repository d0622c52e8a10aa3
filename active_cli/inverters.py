"""Inverter profiles: BMS port, bus, protocol setting and limits, and how sure we are.

One TOML file per brand / model family lives in the top-level ``inverters/``
folder (``inverters/README.md`` documents the format). Every fact carries the
confidence marker of ``reference/inverters.md`` — ``"2"`` two or more
independent public sources, ``"1"`` one source, ``"d"`` deduced, ``"?"`` not
found — and the ids of the sources behind it, so the checks can print
"unverified" instead of presenting a guess as fact. The loader is strict: an
unknown key, a pin outside 1-8, an unknown function or confidence, a source id
not listed under ``[sources]``, or a fact whose confidence contradicts it (a
``"?"`` with a value, a ``"2"`` with one source) raises ``DataFileError`` naming
the file, the key, its line and the reason.
"""

from __future__ import annotations

import enum
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from active_cli.errors import DataFileError, UsageError
from active_cli.model import Severity

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)
KeyPath = tuple[str | int, ...]


class Confidence(enum.Enum):
    """How well a fact is established (the markers of reference/inverters.md)."""

    CONFIRMED = "2"  # two or more independent public sources agree
    SINGLE = "1"  # one public source
    DEDUCED = "d"  # deduced from tagged facts; the note says how
    UNKNOWN = "?"  # not found

    @property
    def rank(self) -> int:
        return _CONFIDENCE_RANK[self]

    @property
    def verified(self) -> bool:
        """Only facts from two sources are shown without "unverified"."""
        return self is Confidence.CONFIRMED

    @property
    def marker(self) -> str:
        return f"[{self.value}]"


_CONFIDENCE_RANK = {
    Confidence.UNKNOWN: 0,
    Confidence.DEDUCED: 1,
    Confidence.SINGLE: 2,
    Confidence.CONFIRMED: 3,
}


def weakest(confidences: list[Confidence] | tuple[Confidence, ...]) -> Confidence:
    """The least certain of several confidences (CONFIRMED when there are none)."""
    return min(confidences, key=lambda c: c.rank, default=Confidence.CONFIRMED)


class PinFunction(enum.Enum):
    """What an RJ45 pin carries. The battery side uses the same names (spec.py)."""

    CAN_H = "CAN-H"
    CAN_L = "CAN-L"
    RS485_A = "RS485-A"
    RS485_B = "RS485-B"
    GND = "GND"
    POWER = "POWER"  # a supply voltage on the pin (e.g. VE.Can V+)
    RESERVED = "RESERVED"  # documented as "do not use"
    NC = "NC"
    UNKNOWN = "unknown"


# A pin that carries power or is reserved by its maker must never get a wire.
_ALWAYS_OPEN = frozenset({PinFunction.POWER, PinFunction.RESERVED})


class Bus(enum.Enum):
    CAN = "CAN"
    RS485 = "RS485"


# The two lines each bus needs from our port to the inverter's.
BUS_LINES: Mapping[Bus, tuple[PinFunction, PinFunction]] = {
    Bus.CAN: (PinFunction.CAN_H, PinFunction.CAN_L),
    Bus.RS485: (PinFunction.RS485_A, PinFunction.RS485_B),
}


class ProfileConfidence(enum.Enum):
    """The overall confidence column of reference/inverters.md."""

    HIGH = "high"
    MEDIUM_HIGH = "medium-high"
    MEDIUM = "medium"
    LOW_MEDIUM = "low-medium"
    LOW = "low"
    VERY_LOW = "very-low"
    NONE = "none"


class QuirkTopic(enum.Enum):
    WIRING = "wiring"  # shown by `check wiring`
    PROTOCOL = "protocol"  # shown by `check protocol`
    SETUP = "setup"  # inverter settings and behaviour, for `check protocol` and commissioning


@dataclass(frozen=True)
class Source:
    id: str
    text: str
    url: str | None = None


@dataclass(frozen=True)
class Fact(Generic[T_co]):
    """One value with its confidence; ``value`` is None exactly when it is unknown."""

    value: T_co | None
    confidence: Confidence
    sources: tuple[str, ...] = ()
    note: str = ""

    @property
    def known(self) -> bool:
        return self.value is not None


@dataclass(frozen=True)
class PortPin:
    pin: int
    function: PinFunction
    confidence: Confidence
    sources: tuple[str, ...] = ()
    note: str = ""
    must_not_connect: bool = False


@dataclass(frozen=True)
class BmsPort:
    label: Fact[str]
    connector: Fact[str]
    pins: tuple[PortPin, ...]  # pins not listed are unknown

    def pin(self, number: int) -> PortPin | None:
        return next((p for p in self.pins if p.pin == number), None)

    def pins_for(self, function: PinFunction) -> tuple[PortPin, ...]:
        return tuple(p for p in self.pins if p.function is function)


@dataclass(frozen=True)
class BusSpec:
    kind: Fact[Bus]
    bitrate: Fact[int]  # bit/s on CAN, baud on RS485


@dataclass(frozen=True)
class ProtocolSpec:
    """What `check protocol` needs: the protocol, the installer's setting, the heartbeat."""

    name: Fact[str]  # "pylon-lv-can"
    setting: Fact[str]  # the exact menu path and value on the inverter
    heartbeat_0x305: Fact[bool]  # the inverter answers with 0x305 about once a second
    heartbeat_after_id: Fact[int]  # it starts 0x305 only after this battery frame arrived


@dataclass(frozen=True)
class Termination:
    can: Fact[str]  # what the inverter end of the CAN bus has or needs
    external_terminator: Fact[bool]  # the installer must fit a terminator at the inverter
    rs485: Fact[str]


@dataclass(frozen=True)
class Limits:
    """Limits the inverter enforces on the battery side."""

    max_charge_current_a: Fact[float]
    max_discharge_current_a: Fact[float]
    battery_voltage_min_v: Fact[float]
    battery_voltage_max_v: Fact[float]
    on_link_loss: Fact[str]  # what the inverter does when the BMS link is lost


@dataclass(frozen=True)
class Quirk:
    code: str
    topic: QuirkTopic
    severity: Severity
    text: str
    confidence: Confidence
    sources: tuple[str, ...] = ()
    fix: str = ""


@dataclass(frozen=True)
class InverterProfile:
    id: str
    name: str  # what the installer calls it: "Deye", "Growatt SPF"
    brand: str
    family: str
    models: tuple[str, ...]
    aliases: tuple[str, ...]
    confidence: ProfileConfidence
    sources: tuple[Source, ...]
    port: BmsPort
    bus: BusSpec
    protocol: ProtocolSpec
    termination: Termination
    limits: Limits
    quirks: tuple[Quirk, ...]
    path: str = ""

    def source(self, source_id: str) -> Source:
        return next(s for s in self.sources if s.id == source_id)

    def quirks_for(self, *topics: QuirkTopic) -> tuple[Quirk, ...]:
        return tuple(q for q in self.quirks if q.topic in topics)


def fact_text(fact: Fact[Any], unit: str = "", *, can_id: bool = False, note: bool = True) -> str:
    """A fact as installers read it: "500000 [2]", "yes [1]", "unknown [?] (note)"."""
    value = fact.value
    if value is None:
        text = "unknown"
    elif isinstance(value, bool):
        text = "yes" if value else "no"
    elif isinstance(value, enum.Enum):
        text = str(value.value)
    elif can_id and isinstance(value, int):
        text = f"0x{value:03X}"
    else:
        text = f"{value:g}{unit}" if isinstance(value, float) else f"{value}{unit}"
    out = f"{text} {fact.confidence.marker}"
    return out + (f" ({fact.note})" if note and fact.note else "")


# --- finding files -----------------------------------------------------------------


def profiles_dir() -> Path:
    from active_cli.resources import data_dir

    return data_dir("inverters")


def by_confidence(profiles: list[InverterProfile]) -> list[InverterProfile]:
    """Best-documented profiles first, then by id: the order of tables."""
    order = list(ProfileConfidence)
    return sorted(profiles, key=lambda p: (order.index(p.confidence), p.id))


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
    """The profile called `name`: its id, an alias, or an unambiguous id prefix."""
    folder = directory or profiles_dir()
    wanted = name.strip().lower()
    direct = folder / f"{wanted}.toml"
    if re.fullmatch(r"[a-z0-9-]+", wanted) and direct.is_file():
        return load_profile_file(direct)
    profiles = load_all(folder)
    for profile in profiles:
        if wanted in profile.aliases:
            return profile
    prefixed = [p for p in profiles if p.id.startswith(wanted)]
    if len(prefixed) == 1:
        return prefixed[0]
    names = ", ".join(p.id for p in profiles)
    if prefixed:
        raise UsageError(
            f"inverter {name!r} is ambiguous: {', '.join(p.id for p in prefixed)}",
            hint="name one of them exactly",
        )
    raise UsageError(f"no inverter profile {name!r}", hint=f"known profiles: {names}")


def load_profile_file(path: Path) -> InverterProfile:
    """Parse and validate one profile file; any problem raises DataFileError."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise DataFileError(
            str(path), f"not UTF-8 text (byte {e.start}): save the profile as UTF-8"
        ) from e
    except OSError as e:
        raise DataFileError(str(path), f"cannot be read: {e.strerror or e}") from e
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        match = re.search(r"at line (\d+)", str(e))
        raise DataFileError(
            str(path), f"not valid TOML: {e}", line=int(match.group(1)) if match else None
        ) from e
    return _Reader(str(path), text).profile(raw, path.stem)


# --- validation --------------------------------------------------------------------

_ID = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")
_CODE = re.compile(r"[a-z0-9-]+(\.[a-z0-9-]+)*")
_KEY_LINE = re.compile(
    r'\s*((?:[A-Za-z0-9_-]+|"[^"]*")(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"]*"))*)\s*='
)
_HEADER = re.compile(r"\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")


def _format_key(path: KeyPath) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def line_of(text: str, path: KeyPath) -> int | None:
    """The line that defines `path` (or its nearest enclosing key or table), 1-based.

    tomllib keeps no positions, so this walks the text: table headers give the
    current table (array tables counted), ``key =`` lines give full key paths, and
    the first line sharing the longest leading part with `path` wins (so a missing
    key points at its table, a fact written as dotted keys at its first line).
    """
    best_line: int | None = None
    best_len = 0
    table: KeyPath = ()
    array_counts: dict[tuple[str, ...], int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        candidate: KeyPath | None = None
        header = _HEADER.match(line)
        if header and not _KEY_LINE.match(line):
            names = tuple(_split_key(header.group(2)))
            if header.group(1) == "[[":
                index = array_counts.get(names, -1) + 1
                array_counts[names] = index
                table = (*names, index)
            else:
                table = _resolve_table(names, array_counts)
            candidate = table
        else:
            key = _KEY_LINE.match(line)
            if key:
                candidate = (*table, *_split_key(key.group(1)))
        if candidate is None:
            continue
        common = 0
        for a, b in zip(candidate, path, strict=False):
            if a != b:
                break
            common += 1
        if common > best_len:
            best_len, best_line = common, number
    return best_line


def _split_key(key: str) -> list[str]:
    return [part.strip().strip('"') for part in key.split(".")]


def _resolve_table(names: tuple[str, ...], arrays: dict[tuple[str, ...], int]) -> KeyPath:
    # [quirks.x] after [[quirks]] belongs to the latest quirk.
    out: list[str | int] = []
    for i, name in enumerate(names):
        out.append(name)
        if names[: i + 1] in arrays and i + 1 < len(names):
            out.append(arrays[names[: i + 1]])
    return tuple(out)


class _Reader:
    """Validate the parsed TOML of one file, turning every problem into DataFileError."""

    def __init__(self, path: str, text: str) -> None:
        self.path = path
        self.text = text
        self.source_ids: frozenset[str] = frozenset()

    def fail(self, path: KeyPath, reason: str) -> DataFileError:
        return DataFileError(
            self.path, reason, key=_format_key(path) or None, line=line_of(self.text, path)
        )

    # -- plain values --

    def table(self, value: Any, path: KeyPath, allowed: frozenset[str]) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(path, f"must be a table, not {_kind(value)}")
        for key in value:
            if key not in allowed:
                raise self.fail(
                    (*path, key), f"unknown key (allowed here: {', '.join(sorted(allowed))})"
                )
        return value

    def require(self, table: dict[str, Any], key: str, path: KeyPath) -> Any:
        if key not in table:
            raise self.fail(path, f"missing key {key!r}")
        return table[key]

    def string(self, value: Any, path: KeyPath, *, empty: bool = False) -> str:
        if not isinstance(value, str):
            raise self.fail(path, f"must be a string, not {_kind(value)}")
        if not empty and not value.strip():
            raise self.fail(path, "must not be empty")
        return value

    def strings(self, value: Any, path: KeyPath) -> tuple[str, ...]:
        if not isinstance(value, list):
            raise self.fail(path, f"must be a list of strings, not {_kind(value)}")
        return tuple(self.string(v, (*path, i)) for i, v in enumerate(value))

    def enum(self, cls: type[enum.Enum], value: Any, path: KeyPath) -> Any:
        choices = [str(m.value) for m in cls]
        if not isinstance(value, str) or value not in choices:
            raise self.fail(path, f"{value!r} is not one of {', '.join(choices)}")
        return cls(value)

    def source_refs(self, value: Any, path: KeyPath) -> tuple[str, ...]:
        refs = self.strings(value, path)
        for i, ref in enumerate(refs):
            if ref not in self.source_ids:
                raise self.fail((*path, i), f"source {ref!r} is not listed under [sources]")
        return refs

    def confidence_rules(
        self,
        confidence: Confidence,
        has_value: bool,
        sources: tuple[str, ...],
        note: str,
        path: KeyPath,
    ) -> None:
        if confidence is Confidence.UNKNOWN and has_value:
            raise self.fail(path, 'confidence "?" means unknown: remove the value')
        if confidence is not Confidence.UNKNOWN and not has_value:
            raise self.fail(path, f'no value, so confidence must be "?" (not "{confidence.value}")')
        if confidence is Confidence.CONFIRMED and len(set(sources)) < 2:
            raise self.fail(path, 'confidence "2" needs at least two sources')
        if confidence is Confidence.SINGLE and not sources:
            raise self.fail(path, 'confidence "1" needs its source')
        if confidence is Confidence.DEDUCED and not note.strip():
            raise self.fail(path, 'confidence "d" needs a note saying what it is deduced from')

    # -- facts --

    def fact(
        self,
        table: dict[str, Any],
        key: str,
        path: KeyPath,
        convert: Callable[[Any, KeyPath], T],
    ) -> Fact[T]:
        where = (*path, key)
        raw = self.table(
            self.require(table, key, path),
            where,
            frozenset({"value", "confidence", "sources", "note"}),
        )
        confidence = self.enum(
            Confidence, self.require(raw, "confidence", where), (*where, "confidence")
        )
        sources = self.source_refs(raw.get("sources", []), (*where, "sources"))
        note = self.string(raw.get("note", ""), (*where, "note"), empty=True)
        value = convert(raw["value"], (*where, "value")) if "value" in raw else None
        self.confidence_rules(confidence, value is not None, sources, note, where)
        return Fact(value, confidence, sources, note)

    def as_str(self, value: Any, path: KeyPath) -> str:
        return self.string(value, path)

    def as_bool(self, value: Any, path: KeyPath) -> bool:
        if not isinstance(value, bool):
            raise self.fail(path, f"must be true or false, not {_kind(value)}")
        return value

    def as_positive_int(self, value: Any, path: KeyPath) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise self.fail(path, f"must be a positive whole number, not {value!r}")
        return value

    def as_positive_float(self, value: Any, path: KeyPath) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise self.fail(path, f"must be a positive number, not {value!r}")
        return float(value)

    def as_can_id(self, value: Any, path: KeyPath) -> int:
        if not isinstance(value, str) or not re.fullmatch(r"0x[0-9A-Fa-f]{1,3}", value):
            raise self.fail(path, f'must be an 11-bit CAN id written like "0x356", not {value!r}')
        number = int(value, 16)
        if number > 0x7FF:
            raise self.fail(path, f"{value} is not an 11-bit CAN id")
        return number

    def as_bus(self, value: Any, path: KeyPath) -> Bus:
        result: Bus = self.enum(Bus, value, path)
        return result

    # -- sections --

    def profile(self, raw: dict[str, Any], stem: str) -> InverterProfile:
        top = self.table(
            raw,
            (),
            frozenset(
                {
                    "id",
                    "name",
                    "brand",
                    "family",
                    "models",
                    "aliases",
                    "confidence",
                    "sources",
                    "port",
                    "bus",
                    "protocol",
                    "termination",
                    "limits",
                    "quirks",
                }
            ),
        )
        profile_id = self.string(self.require(top, "id", ()), ("id",))
        if profile_id != stem:
            raise self.fail(("id",), f"id {profile_id!r} must match the file name {stem!r}")
        if not _ID.fullmatch(profile_id):
            raise self.fail(("id",), "use lower-case letters, digits and single dashes")
        aliases = self.strings(top.get("aliases", []), ("aliases",))
        for i, alias in enumerate(aliases):
            if not _ID.fullmatch(alias):
                raise self.fail(("aliases", i), "use lower-case letters, digits and dashes")
        sources = self.sources(self.require(top, "sources", ()))
        self.source_ids = frozenset(s.id for s in sources)
        models = self.strings(self.require(top, "models", ()), ("models",))
        if not models:
            raise self.fail(("models",), "list at least one model")
        quirks_raw = top.get("quirks", [])
        if not isinstance(quirks_raw, list):
            raise self.fail(("quirks",), "must be an array of tables ([[quirks]])")
        brand = self.string(self.require(top, "brand", ()), ("brand",))
        profile = InverterProfile(
            id=profile_id,
            name=self.string(top.get("name", brand), ("name",)),
            brand=brand,
            family=self.string(self.require(top, "family", ()), ("family",)),
            models=models,
            aliases=aliases,
            confidence=self.enum(
                ProfileConfidence, self.require(top, "confidence", ()), ("confidence",)
            ),
            sources=sources,
            port=self.port(self.require(top, "port", ())),
            bus=self.bus(self.require(top, "bus", ())),
            protocol=self.protocol(self.require(top, "protocol", ())),
            termination=self.termination(self.require(top, "termination", ())),
            limits=self.limits(self.require(top, "limits", ())),
            quirks=tuple(self.quirk(q, ("quirks", i)) for i, q in enumerate(quirks_raw)),
            path=self.path,
        )
        self.cross_checks(profile)
        return profile

    def sources(self, raw: Any) -> tuple[Source, ...]:
        if not isinstance(raw, dict) or not raw:
            raise self.fail(("sources",), "must be a table of source ids")
        out = []
        for source_id, body in raw.items():
            where: KeyPath = ("sources", source_id)
            if not _ID.fullmatch(source_id):
                raise self.fail(where, "source ids use lower-case letters, digits and dashes")
            entry = self.table(body, where, frozenset({"text", "url"}))
            url = entry.get("url")
            if url is not None:
                url = self.string(url, (*where, "url"))
                if not url.startswith(("https://", "http://")):
                    raise self.fail((*where, "url"), "must be an http(s) address")
            out.append(
                Source(
                    source_id,
                    self.string(self.require(entry, "text", where), (*where, "text")),
                    url,
                )
            )
        return tuple(out)

    def port(self, raw: Any) -> BmsPort:
        where: KeyPath = ("port",)
        table = self.table(raw, where, frozenset({"label", "connector", "pins"}))
        pins_raw = table.get("pins", [])
        if not isinstance(pins_raw, list):
            raise self.fail((*where, "pins"), "must be an array of tables ([[port.pins]])")
        pins = tuple(self.pin(p, (*where, "pins", i)) for i, p in enumerate(pins_raw))
        seen: set[int] = set()
        for i, pin in enumerate(pins):
            if pin.pin in seen:
                raise self.fail((*where, "pins", i, "pin"), f"pin {pin.pin} is listed twice")
            seen.add(pin.pin)
        return BmsPort(
            label=self.fact(table, "label", where, self.as_str),
            connector=self.fact(table, "connector", where, self.as_str),
            pins=tuple(sorted(pins, key=lambda p: p.pin)),
        )

    def pin(self, raw: Any, where: KeyPath) -> PortPin:
        table = self.table(
            raw,
            where,
            frozenset({"pin", "function", "confidence", "sources", "note", "must_not_connect"}),
        )
        number = self.require(table, "pin", where)
        if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= 8:
            raise self.fail((*where, "pin"), f"an RJ45 pin is 1 to 8, not {number!r}")
        function: PinFunction = self.enum(
            PinFunction, self.require(table, "function", where), (*where, "function")
        )
        confidence: Confidence = self.enum(
            Confidence, self.require(table, "confidence", where), (*where, "confidence")
        )
        sources = self.source_refs(table.get("sources", []), (*where, "sources"))
        note = self.string(table.get("note", ""), (*where, "note"), empty=True)
        self.confidence_rules(
            confidence, function is not PinFunction.UNKNOWN, sources, note, (*where, "function")
        )
        default_open = function in _ALWAYS_OPEN
        must_not_connect = self.as_bool(
            table.get("must_not_connect", default_open), (*where, "must_not_connect")
        )
        if default_open and not must_not_connect:
            raise self.fail(
                (*where, "must_not_connect"), f"a {function.value} pin can never get a wire"
            )
        if must_not_connect and function in (*BUS_LINES[Bus.CAN], *BUS_LINES[Bus.RS485]):
            raise self.fail(
                (*where, "must_not_connect"),
                f"a {function.value} pin is a bus line; it cannot be must-not-connect",
            )
        return PortPin(number, function, confidence, sources, note, must_not_connect)

    def bus(self, raw: Any) -> BusSpec:
        where: KeyPath = ("bus",)
        table = self.table(raw, where, frozenset({"type", "bitrate"}))
        return BusSpec(
            kind=self.fact(table, "type", where, self.as_bus),
            bitrate=self.fact(table, "bitrate", where, self.as_positive_int),
        )

    def protocol(self, raw: Any) -> ProtocolSpec:
        where: KeyPath = ("protocol",)
        table = self.table(
            raw, where, frozenset({"name", "setting", "heartbeat_0x305", "heartbeat_after_id"})
        )
        return ProtocolSpec(
            name=self.fact(table, "name", where, self.as_str),
            setting=self.fact(table, "setting", where, self.as_str),
            heartbeat_0x305=self.fact(table, "heartbeat_0x305", where, self.as_bool),
            heartbeat_after_id=self.fact(table, "heartbeat_after_id", where, self.as_can_id),
        )

    def termination(self, raw: Any) -> Termination:
        where: KeyPath = ("termination",)
        table = self.table(raw, where, frozenset({"can", "external_terminator", "rs485"}))
        return Termination(
            can=self.fact(table, "can", where, self.as_str),
            external_terminator=self.fact(table, "external_terminator", where, self.as_bool),
            rs485=self.fact(table, "rs485", where, self.as_str),
        )

    def limits(self, raw: Any) -> Limits:
        where: KeyPath = ("limits",)
        keys = (
            "max_charge_current_a",
            "max_discharge_current_a",
            "battery_voltage_min_v",
            "battery_voltage_max_v",
            "on_link_loss",
        )
        table = self.table(raw, where, frozenset(keys))
        return Limits(
            max_charge_current_a=self.fact(table, keys[0], where, self.as_positive_float),
            max_discharge_current_a=self.fact(table, keys[1], where, self.as_positive_float),
            battery_voltage_min_v=self.fact(table, keys[2], where, self.as_positive_float),
            battery_voltage_max_v=self.fact(table, keys[3], where, self.as_positive_float),
            on_link_loss=self.fact(table, keys[4], where, self.as_str),
        )

    def quirk(self, raw: Any, where: KeyPath) -> Quirk:
        table = self.table(
            raw,
            where,
            frozenset({"code", "topic", "severity", "text", "fix", "confidence", "sources"}),
        )
        code = self.string(self.require(table, "code", where), (*where, "code"))
        if not _CODE.fullmatch(code):
            raise self.fail((*where, "code"), "use lower-case words joined by dots and dashes")
        severity: Severity = self.enum(
            Severity, self.require(table, "severity", where), (*where, "severity")
        )
        if severity is Severity.OK:
            raise self.fail((*where, "severity"), "a quirk is info, warn or fail, never ok")
        confidence: Confidence = self.enum(
            Confidence, self.require(table, "confidence", where), (*where, "confidence")
        )
        sources = self.source_refs(table.get("sources", []), (*where, "sources"))
        text = self.string(self.require(table, "text", where), (*where, "text"))
        # A quirk is a statement, so it always has a value; "?" makes no sense here.
        self.confidence_rules(confidence, True, sources, text, (*where, "confidence"))
        return Quirk(
            code=code,
            topic=self.enum(QuirkTopic, self.require(table, "topic", where), (*where, "topic")),
            severity=severity,
            text=text,
            confidence=confidence,
            sources=sources,
            fix=self.string(table.get("fix", ""), (*where, "fix"), empty=True),
        )

    def cross_checks(self, profile: InverterProfile) -> None:
        bitrate = profile.bus.bitrate.value
        if profile.bus.kind.value is Bus.CAN and bitrate is not None and bitrate > 1_000_000:
            raise self.fail(("bus", "bitrate", "value"), "CAN runs at 1 Mbit/s at most")
        codes = [q.code for q in profile.quirks]
        for i, code in enumerate(codes):
            if code in codes[:i]:
                raise self.fail(("quirks", i, "code"), f"quirk code {code!r} is used twice")


def _kind(value: Any) -> str:
    names = {bool: "a boolean", int: "a number", float: "a number", str: "a string"}
    names.update({list: "a list", dict: "a table"})
    return names.get(type(value), type(value).__name__)
