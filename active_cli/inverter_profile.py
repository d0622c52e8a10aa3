"""Inverter profiles as data: BMS port, bus, protocol setting and limits, and how sure we are.

What the checks import (`checks/wiring.py`, `checks/protocol.py`); reading the
TOML files is `active_cli/inverters.py`'s job. Every fact carries a confidence
marker -- ``"2"`` two or more independent public sources, ``"1"`` one source,
``"d"`` deduced, ``"?"`` not found -- and the ids of the sources behind it, so
the checks can print "unverified" instead of presenting a guess as fact. A
profile's overall rating is capped by its weakest required fact
(`confidence_ceiling`), and a quirk may apply only to one alias (a Sol-Ark note
is no Deye note), so `InverterProfile.as_named` keeps the quirks for the name the
installer gave.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Generic, TypeVar

from active_cli.model import Severity

T_co = TypeVar("T_co", covariant=True)


class Confidence(enum.Enum):
    """How well a fact is established."""

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
ALWAYS_OPEN = frozenset({PinFunction.POWER, PinFunction.RESERVED})


class Bus(enum.Enum):
    CAN = "CAN"
    RS485 = "RS485"


# The two lines each bus needs from our port to the inverter's.
BUS_LINES: Mapping[Bus, tuple[PinFunction, PinFunction]] = {
    Bus.CAN: (PinFunction.CAN_H, PinFunction.CAN_L),
    Bus.RS485: (PinFunction.RS485_A, PinFunction.RS485_B),
}


class ProfileConfidence(enum.Enum):
    """How far a whole profile can be trusted, best first."""

    HIGH = "high"
    MEDIUM_HIGH = "medium-high"
    MEDIUM = "medium"
    LOW_MEDIUM = "low-medium"
    LOW = "low"
    VERY_LOW = "very-low"
    NONE = "none"

    @property
    def rank(self) -> int:
        """Higher is better: HIGH 6 ... NONE 0."""
        members = list(ProfileConfidence)
        return len(members) - 1 - members.index(self)


# The most a profile may claim while its weakest required fact stands at a
# confidence: a profile is as good as the least certain thing an installer must
# get right (the two bus pins, the bus, the protocol, the setting on the inverter).
CONFIDENCE_CEILING: Mapping[Confidence, ProfileConfidence] = {
    Confidence.CONFIRMED: ProfileConfidence.HIGH,
    Confidence.SINGLE: ProfileConfidence.MEDIUM_HIGH,
    Confidence.DEDUCED: ProfileConfidence.MEDIUM,
    Confidence.UNKNOWN: ProfileConfidence.LOW_MEDIUM,
}


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


_UNKNOWN_BOOL: Fact[bool] = Fact(None, Confidence.UNKNOWN)


@dataclass(frozen=True)
class BmsPort:
    label: Fact[str]
    connector: Fact[str]
    pins: tuple[PortPin, ...]  # pins not listed are unknown
    # Whether a straight T568B lead fits, where the maker settles it without naming
    # every pin (Solis: "CAN only"); unknown when only the pins can tell.
    straight_lead: Fact[bool] = _UNKNOWN_BOOL

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
    only_for: tuple[str, ...] = ()  # the aliases it applies to; () = every name

    def applies_to(self, name: str) -> bool:
        return not self.only_for or name in self.only_for


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
    quirks: tuple[Quirk, ...]  # every quirk of the file, or those for `named_as`
    path: str = ""
    confidence_note: str = ""  # why the overall rating is what it is
    named_as: str = ""  # the id or alias the installer gave; "" = the file as a whole

    def source(self, source_id: str) -> Source:
        return next(s for s in self.sources if s.id == source_id)

    def quirks_for(self, *topics: QuirkTopic) -> tuple[Quirk, ...]:
        return tuple(q for q in self.quirks if q.topic in topics)

    def as_named(self, name: str) -> InverterProfile:
        """The profile as the installer named it: only the quirks for that name."""
        return replace(
            self, named_as=name, quirks=tuple(q for q in self.quirks if q.applies_to(name))
        )


def required_facts(profile: InverterProfile) -> tuple[tuple[str, Confidence], ...]:
    """What an installer must get right, with how sure each is: the bus, the protocol,
    the setting on the inverter and, once the bus is known, the pin of each bus line."""
    facts = [
        ("bus type", profile.bus.kind.confidence),
        ("protocol", profile.protocol.name.confidence),
        ("inverter setting", profile.protocol.setting.confidence),
    ]
    bus = profile.bus.kind.value
    if bus is not None:
        for line in BUS_LINES[bus]:
            pins = profile.port.pins_for(line)
            best = max((p.confidence for p in pins), key=lambda c: c.rank, default=None)
            facts.append((f"{line.value} pin", best or Confidence.UNKNOWN))
    return tuple(facts)


def confidence_ceiling(profile: InverterProfile) -> tuple[ProfileConfidence, str, Confidence]:
    """The best overall rating the facts allow, the weakest fact's name and its confidence."""
    label, weakest_fact = min(required_facts(profile), key=lambda f: f[1].rank)
    return CONFIDENCE_CEILING[weakest_fact], label, weakest_fact


def fact_text(
    fact: Fact[object], unit: str = "", *, can_id: bool = False, note: bool = True
) -> str:
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


def by_confidence(profiles: list[InverterProfile]) -> list[InverterProfile]:
    """Best-documented profiles first, then by id: the order of tables."""
    return sorted(profiles, key=lambda p: (-p.confidence.rank, p.id))
