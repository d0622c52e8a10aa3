"""The shared vocabulary of `active`: what a pack, a stack and a finding are.

Every layer passes these frozen dataclasses, never dicts. Physical units are in
the field names (``voltage_v``, ``current_a``, ``temp_c``, ``soc_pct``). Current
is positive when the battery is charging, as on both the CAN and RS485 wire.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Severity(enum.Enum):
    """How a finding weighs; ordered so ``max()`` gives the worst."""

    OK = "ok"
    INFO = "info"
    WARN = "warn"
    FAIL = "fail"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {Severity.OK: 0, Severity.INFO: 1, Severity.WARN: 2, Severity.FAIL: 3}


@dataclass(frozen=True)
class Finding:
    """One result of a check: what was seen, how bad it is, what to do.

    ``code`` is a stable identifier (``parallel.spread``, ``scan.duplicate-address``)
    that tests, JSON consumers and the report rely on; ``evidence`` holds the
    frames and values the verdict rests on, as text.
    """

    severity: Severity
    code: str
    title: str
    detail: str = ""
    evidence: tuple[str, ...] = ()
    fix: str = ""

    @property
    def failed(self) -> bool:
        return self.severity is Severity.FAIL


def worst(findings: tuple[Finding, ...] | list[Finding]) -> Severity:
    """The worst severity among findings (OK when there are none)."""
    return max((f.severity for f in findings), key=lambda s: s.rank, default=Severity.OK)


@dataclass(frozen=True)
class PackReading:
    """Everything read from one pack over RS485 at one moment.

    Optional fields are None when the pack did not answer that command; the
    checks treat None as "not known", never as a good value.
    """

    address: int
    protocol_variant: str  # "pylon" (VER 0x20) or "pace" (VER 0x25)
    cell_voltages_v: tuple[float, ...]
    temperatures_c: tuple[float, ...]
    current_a: float
    voltage_v: float
    remaining_ah: float
    full_ah: float
    cycles: int
    serial: str | None = None
    device_name: str | None = None
    manufacturer: str | None = None
    firmware: str | None = None
    soh_pct: float | None = None
    alarms: tuple[str, ...] = ()
    protections: tuple[str, ...] = ()
    status: tuple[str, ...] = ()
    alarm_read: bool = False  # False: 0x44 was not read, so "no alarms" is unknown
    read_errors: int = 0
    failed_reads: tuple[str, ...] = ()

    @property
    # The derived values are None when the pack did not report what they need
    # (no full capacity, no cells, no sensors): unknown is never shown as 0.
    def soc_pct(self) -> float | None:
        if self.full_ah <= 0:
            return None
        return round(100.0 * self.remaining_ah / self.full_ah, 1)

    @property
    def min_cell_v(self) -> float | None:
        return min(self.cell_voltages_v, default=None)

    @property
    def max_cell_v(self) -> float | None:
        return max(self.cell_voltages_v, default=None)

    @property
    def cell_spread_mv(self) -> float | None:
        if not self.cell_voltages_v:
            return None
        return round((max(self.cell_voltages_v) - min(self.cell_voltages_v)) * 1000.0, 1)

    @property
    def max_temp_c(self) -> float | None:
        return max(self.temperatures_c, default=None)

    @property
    def temperature_labels(self) -> tuple[str, ...]:
        """What each of ``temperatures_c`` measures ("BMS board", "cell sensor 1" ...)."""
        from active_cli.spec import temperature_labels

        return temperature_labels(len(self.temperatures_c))


@dataclass(frozen=True)
class ChargeLimits:
    """What the battery tells the inverter it may do (CAN 0x351, RS485 0x92)."""

    charge_voltage_v: float
    charge_current_a: float
    discharge_current_a: float
    discharge_voltage_v: float | None = None


@dataclass(frozen=True)
class RequestFlags:
    """CAN 0x35C (and the RS485 0x92 status byte): what the battery asks for."""

    charge_enable: bool
    discharge_enable: bool
    force_charge_1: bool = False
    force_charge_2: bool = False
    full_charge: bool = False


@dataclass(frozen=True)
class CanStackState:
    """The stack as the master pack reports it on CAN, merged from one cycle.

    ``None`` means that message did not arrive in the listening window.
    ``protocol`` names the message set seen: "pylon-v1.2" (0x359/0x35C) or
    "pylon-v1.3" (0x35A/0x35F).
    """

    protocol: str
    limits: ChargeLimits | None = None
    soc_pct: float | None = None
    soh_pct: float | None = None
    voltage_v: float | None = None
    voltage_scale: str | None = None  # "0.01 V" or "0.1 V": which scale made sense
    current_a: float | None = None
    temp_c: float | None = None
    protections: tuple[str, ...] = ()
    alarms: tuple[str, ...] = ()
    module_count: int | None = None
    request: RequestFlags | None = None
    manufacturer: str | None = None
    min_cell_v: float | None = None
    max_cell_v: float | None = None
    min_cell_temp_c: float | None = None
    max_cell_temp_c: float | None = None
    capacity_ah: float | None = None
    firmware: str | None = None


@dataclass(frozen=True)
class CanObservation:
    """What listening on the CAN bus for a while showed."""

    duration_s: float
    frame_count: int
    ids_seen: dict[int, int] = field(default_factory=dict)  # arbitration id -> count
    cycle_s: dict[int, float] = field(default_factory=dict)  # arbitration id -> median period
    state: CanStackState | None = None
    heartbeat_count: int = 0
    heartbeat_period_s: float | None = None
    last_heartbeat_age_s: float | None = None
    error_frames: int = 0
    decode_errors: int = 0


class AddressStatus(enum.Enum):
    """What happened at one RS485 address during a scan."""

    ANSWERED = "answered"
    SILENT = "silent"  # nothing at all within the time budget
    GARBLED = "garbled"  # bytes arrived but never a valid frame (collision, noise)
    STOPPED = "stopped"  # answered at first, then went silent
    REFUSED = "refused"  # answered with an error return code
    NOT_POLLED = "not polled"  # skipped: the master's pack count was already reached


@dataclass(frozen=True)
class AddressResult:
    """Per-address outcome and error counters (a flaky cable shows as an error rate)."""

    address: int
    status: AddressStatus
    requests: int = 0
    replies: int = 0
    timeouts: int = 0
    corrupted: int = 0
    detail: str = ""

    @property
    def error_rate(self) -> float:
        return 0.0 if not self.requests else (self.timeouts + self.corrupted) / self.requests


@dataclass(frozen=True)
class StackSnapshot:
    """The result of a scan: every pack found, what CAN showed, and findings."""

    packs: tuple[PackReading, ...] = ()
    addresses: tuple[AddressResult, ...] = ()
    group_count: int | None = None  # packs the master reports in a group read
    master_address: int | None = None
    noise_bytes: int = 0
    late_reply_ms: tuple[float, ...] = ()  # replies that began after the reply budget
    babbling_reads: int = 0  # reads ended by their deadline while bytes kept coming
    can: CanObservation | None = None
    findings: tuple[Finding, ...] = ()
    port: str | None = None
    baud: int | None = None
    can_interface: str | None = None
    duration_s: float = 0.0

    @property
    def addresses_polled(self) -> tuple[int, ...]:
        return tuple(a.address for a in self.addresses if a.status is not AddressStatus.NOT_POLLED)
