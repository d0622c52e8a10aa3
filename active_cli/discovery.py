"""Scan: find every pack on RS485 and what the master says on CAN.

RS485 (`scan_rs485`): poll each address of the range in turn. The first
address that answers is taken as the master; a whole-group alarm read there
(0x44 with INFO FF) tells how many packs the master sees, and when every pack
it reports has answered, the rest of the range is not polled (a count of one
never stops it: a master that answers the group read with its own block only
says the same as a lone pack; the slaves are
reached through the master's BMS link, so a pack the master does not see
cannot answer either; `ScanOptions(stop_at_group_count=False)` polls them
anyway). An address is
probed once: silence is the normal answer at an empty address, so it costs one
request and the link's learned reply-start budget; the silent addresses get a
second probe only while packs are unaccounted for (no group count, or fewer
packs read than the master sees: a garbled or refused address is no pack read;
not when the whole range was silent). Each pack is read for analog values
(0x42), serial (0x93), firmware (0x96, falling back to 0x51), and alarms
(0x44, per pack whenever the group read shows anything raised, so alarms are
attributed to the pack that has them).

With `ScanOptions(group_reads=True)` (what `active scan` asks live) the range
is probed with the group analog read, 0x42 with INFO FF (what python-pylontech
sends to the master): the master answers with every pack's values in one
exchange, and the addresses after it are probed with 0x93 (serial) and read for
firmware (0x96): the per-address reads that prove each address answers and
feed the firmware inventory. The group's blocks are given to the addresses that
answered, in address order, when their number matches; otherwise (a master
that answers FF with its own values only, refuses it, or a pack the master sees
that did not answer) each pack's 0x42 is read at its own address.

Timing on a real line (a `SerialLink`): the first pass, before any pack has
answered, gives each address a short first-contact budget (`FIRST_CONTACT_S`)
instead of the full 0.5 s, so a stack whose master is at address 2 does not pay
half a second at address 1; when the whole range stayed silent, it is probed
once more with the full budget (a BMS slower than the first-contact budget, or
a master deaf to the group read, which that pass asks per address).

CAN (`observe_can`): listen, identify the message set, fold the stack state,
time the cycles and the inverter heartbeat. The window ends as soon as two
full cycles and two heartbeats were seen, or after `window_s` (long enough to
call a heartbeat missing: the 5 s lost-link heuristic of a public BMS-to-inverter
project).
The age of the last heartbeat is taken at the end of the window, on the
interface's clock (see `observe_can`), so a heartbeat that stopped is not
mistaken for a live one.

Discovery decides nothing: `checks/scan.py` turns the snapshot into findings.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Protocol, TypedDict, runtime_checkable

from active_cli.errors import DecodeError, LinkTimeout
from active_cli.model import (
    AddressResult,
    AddressStatus,
    CanObservation,
    PackReading,
    StackSnapshot,
)
from active_cli.protocols import can_ids, pylon_rs485
from active_cli.protocols.pylon_rs485 import (
    AlarmResponse,
    AnalogResponse,
    Command,
    FirmwareVersion,
    Frame,
    ManufacturerInfo,
    PackAlarm,
    PackAnalog,
    ReturnCodeError,
    Rtn,
    SerialNumber,
)

if TYPE_CHECKING:
    import can

    from active_cli.checks.protocol import Rs485Probe
    from active_cli.links.can_link import CanRecord
    from active_cli.links.serial_link import LinkStats

# An address whose pack was read (STOPPED: read, then it went quiet).
_READ = frozenset({AddressStatus.ANSWERED, AddressStatus.STOPPED})

# Reference §3.6: covers Pylontech addressing (master 2, slaves up to 17) and
# sequential addressing (master 1) for a 16-pack stack.
DEFAULT_ADDRESSES: tuple[int, ...] = tuple(range(1, 18))


class RequestLink(Protocol):
    """What discovery needs from an RS485 link (links.serial_link.SerialLink)."""

    baud: int
    stats: LinkStats

    def query(
        self,
        command: Command | int,
        adr: int,
        *,
        ver: int = ...,
        info: bytes | None = ...,
        retry_on_timeout: bool = ...,
    ) -> Frame: ...


@runtime_checkable
class BudgetedLink(Protocol):
    """A link whose reply-start budget discovery may shorten for first contact."""

    latency_budget_s: float


Progress = Callable[[int, str], None]  # (address, what is happening)

# Reply-start budget of a probe before any pack has answered. Typical BMS
# latency is tens of milliseconds (the simulator's 20 ms; PACE allows 500 ms):
# 100 ms is several times that. A slower BMS is still found whole, at the cost
# of one restart: its late reply, heard during the next probe, starts the pass
# again at the full budget; and a range that stayed silent is probed again with
# the full budget. Every 50 ms here is 50 ms of every scan of a stack whose
# master is not at address 1 (Pylontech addressing starts at 2).
FIRST_CONTACT_S = 0.10


@dataclass(frozen=True)
class ScanOptions:
    addresses: tuple[int, ...] = DEFAULT_ADDRESSES
    ver: int = pylon_rs485.VER_PYLON
    # Stop polling once the master's group count is reached (see module doc).
    stop_at_group_count: bool = True
    # One group analog read at the master instead of one 0x42 per pack (module doc).
    group_reads: bool = False
    # Reply-start budget before first contact (module doc); None: the link's own
    # (a replay, which has no line time to save).
    first_contact_s: float | None = FIRST_CONTACT_S


@dataclass
class _PackParts:
    address: int
    variant: pylon_rs485.Variant
    analog: PackAnalog | None  # None: to come from the master's group read
    serial: str | None = None
    firmware: str | None = None
    device_name: str | None = None
    manufacturer: str | None = None
    alarm: PackAlarm | None = None
    failed_reads: list[str] = field(default_factory=list)
    unsupported: set[int] = field(default_factory=set)  # commands answered RTN 04


def scan_rs485(
    link: RequestLink,
    options: ScanOptions = ScanOptions(),
    progress: Progress | None = None,
) -> StackSnapshot:
    """Poll the address range and read every pack that answers."""
    started = time.monotonic()
    parts: list[_PackParts] = []
    statuses: dict[int, tuple[AddressStatus, str]] = {}
    group_alarm: AlarmResponse | None = None
    group_count: int | None = None
    group_analog: tuple[PackAnalog, ...] = ()
    master: int | None = None
    first_contact_silences: dict[int, int] = {}  # address -> probes timed out at the short budget
    late_at_start = len(link.stats.late_reply_ms)
    moot_late_ms: list[float] = []  # late only for the first-contact budget
    # Before any pack answered, a real line probes with the short first-contact
    # budget (module doc); the full one is put back at the first answer.
    full_budget_s: float | None = None
    first_contact_s = options.first_contact_s
    if (
        first_contact_s is not None
        and isinstance(link, BudgetedLink)
        and link.latency_budget_s > first_contact_s
    ):
        full_budget_s = link.latency_budget_s
        link.latency_budget_s = first_contact_s

    def restore_budget() -> None:
        nonlocal full_budget_s
        if full_budget_s is not None and isinstance(link, BudgetedLink):
            # A late reply may have raised it past the full budget meanwhile.
            link.latency_budget_s = max(full_budget_s, link.latency_budget_s)
            full_budget_s = None

    def poll(adr: int, *, group: bool) -> None:
        nonlocal master, group_alarm, group_count, group_analog
        if group and master is not None:
            if len(group_analog) > 1:
                poll_member(adr)
                return
            group = False  # the master's group read held its own values only
        info = bytes([pylon_rs485.GROUP_ADR_INFO]) if group else None
        under_first_contact = full_budget_s is not None
        late_before = len(link.stats.late_reply_ms)
        status, detail, analog_frame = _probe(
            link, adr, options.ver, retry_on_timeout=False, info=info
        )
        if under_first_contact and status is AddressStatus.SILENT:
            # Our short budget's doing, not a failed request of this address.
            first_contact_silences[adr] = first_contact_silences.get(adr, 0) + 1
        if under_first_contact and len(link.stats.late_reply_ms) > late_before:
            # A reply came after the first-contact budget: this BMS is slower
            # than it, so an address already taken as silent may hold a pack
            # (the master, even), and one answering now may be a slave taken
            # for the master. The first pass starts again at the full budget.
            raise _SlowFirstContact
        if analog_frame is not None:
            restore_budget()
        analog: PackAnalog | None = None
        from_group = False  # the values are the group's blocks, placed at the end
        if analog_frame is not None and group:
            blocks = _group_blocks(analog_frame)
            if blocks is None:
                # Refused, or a layout the codec does not read: ask this
                # address on its own, as the per-address plan does.
                status, detail, analog_frame = _probe(link, adr, options.ver)
            else:
                group_analog = blocks
                analog = blocks[0] if len(blocks) == 1 else None
                from_group = analog is None
        elif status is AddressStatus.REFUSED and group:
            status, detail, analog_frame = _probe(link, adr, options.ver)
        if analog_frame is None:
            statuses[adr] = (status, detail)
            return
        try:
            if analog is None and not from_group:
                analog = _analog_at(adr, analog_frame)
            pack = _read_pack(
                link, adr, analog, analog_frame.variant, options.ver, first=master is None
            )
        except DecodeError as e:
            # Valid framing around an INFO that does not parse: a BMS speaking
            # another layout. Report the address, keep scanning the others.
            statuses[adr] = (AddressStatus.GARBLED, e.reason)
            return
        add(pack)
        if master is None:
            master = adr
            group_alarm = _group_alarm(link, adr, options.ver)
            group_count = _group_count(group_alarm, group_analog)

    def poll_member(adr: int) -> None:
        # The group read holds this pack's values: its serial is the probe.
        status, detail, frame = _probe_command(link, Command.SERIAL_NUMBER, adr, options.ver)
        if frame is None:
            statuses[adr] = (status, detail)
            return
        pack = _PackParts(address=adr, variant=frame.variant, analog=None)
        try:
            reply = pylon_rs485.parse_response(frame, Command.SERIAL_NUMBER)
            if isinstance(reply, SerialNumber):
                pack.serial = reply.serial
        except DecodeError as e:
            pack.failed_reads.append(f"0x{int(Command.SERIAL_NUMBER):02X}: {e.reason}")
        _read_firmware(link, adr, options.ver, pack, first=False)
        add(pack)

    def add(pack: _PackParts) -> None:
        parts.append(pack)
        statuses[pack.address] = (
            (AddressStatus.STOPPED, "answered, then stopped: " + "; ".join(pack.failed_reads))
            if _stopped(pack)
            else (AddressStatus.ANSWERED, "")
        )

    def read() -> int:
        # Packs actually read: a GARBLED or REFUSED address gave no pack, so it
        # must not count towards the master's group count (the scan would stop
        # short of a pack that is there).
        return sum(1 for s, _ in statuses.values() if s in _READ)

    def heard() -> bool:
        return any(s is not AddressStatus.SILENT for s, _ in statuses.values())

    def first_pass(*, group: bool) -> None:
        # One attempt per address. Silence is the normal answer at an empty
        # address, so it costs one request and one reply-start budget.
        for index, adr in enumerate(options.addresses):
            if progress is not None:
                progress(adr, "polling")
            poll(adr, group=group)
            if (
                options.stop_at_group_count
                and group_count is not None
                and group_count > 1
                and read() >= group_count
                and index + 1 < len(options.addresses)
            ):
                for skipped in options.addresses[index + 1 :]:
                    statuses[skipped] = (
                        AddressStatus.NOT_POLLED,
                        f"the master reports {group_count} pack(s), all answered",
                    )
                break

    try:
        first_pass(group=options.group_reads)
    except _SlowFirstContact:
        # With the full budget (the link raised it past the late reply). The
        # replies late only for the short budget are no slow-link finding.
        if full_budget_s is not None:
            late_ms = link.stats.late_reply_ms[late_at_start:]
            moot_late_ms.extend(ms for ms in late_ms if ms <= 1000 * full_budget_s)
        restore_budget()
        parts.clear()
        statuses.clear()
        master, group_alarm, group_count, group_analog = None, None, None, ()
        first_pass(group=options.group_reads)
    if not heard() and full_budget_s is not None:
        # The whole range was silent at the first-contact budget: once more
        # with the full one, asking each address on its own (a slow BMS, or a
        # master that ignores the group read).
        restore_budget()
        statuses.clear()
        first_pass(group=False)
    restore_budget()
    # Second pass, the retry the first pass left out: only while packs are
    # unaccounted for (no group count, or fewer read than the master sees),
    # since a request lost to noise looks exactly like an empty address. Not
    # when the whole range was silent: then the fault is the wiring, the baud
    # rate or the adapter, which asking again does not fix.
    if heard() and (group_count is None or read() < group_count):
        for adr in options.addresses:
            if group_count is not None and read() >= group_count:
                break
            if statuses.get(adr, (None, ""))[0] is AddressStatus.SILENT:
                if progress is not None:
                    progress(adr, "polling again")
                poll(adr, group=options.group_reads)
    parts.sort(key=lambda pack: pack.address)
    _place_group_analog(link, parts, group_analog, statuses, options.ver)

    # Attribute alarms per pack unless the group read shows every pack clear.
    group_clear = (
        group_alarm is not None
        and group_count == len(parts)
        and all(block.clear for block in group_alarm.packs)
    )
    for pack in parts:
        if group_clear and group_alarm is not None:
            pack.alarm = _clear_alarm_for(group_alarm, parts.index(pack))
        elif not _stopped(pack):
            if progress is not None:
                progress(pack.address, "reading alarms")
            pack.alarm = _read_alarm(link, pack, options.ver)

    readings = tuple(_reading(pack, link) for pack in parts)
    results = tuple(
        _address_result(adr, statuses[adr], link, first_contact_silences.get(adr, 0))
        for adr in options.addresses
    )
    return StackSnapshot(
        packs=readings,
        addresses=results,
        group_count=group_count,
        master_address=master,
        noise_bytes=link.stats.noise_bytes,
        late_reply_ms=_without(tuple(link.stats.late_reply_ms), moot_late_ms),
        babbling_reads=link.stats.babbling_reads,
        baud=link.baud,
        duration_s=time.monotonic() - started,
    )


def _group_count(alarm: AlarmResponse | None, analog: tuple[PackAnalog, ...]) -> int | None:
    """How many packs the master sees: its group replies' blocks, the larger count.

    A master may answer a group read with its own block only (as some do for
    0x44 while answering 0x42 for all): the larger count is the one that does
    not stop the scan short. A count of 1 is kept as said but never stops
    polling (module doc): it is what a lone pack and such a master both say.
    """
    counts = [len(analog)] if len(analog) > 1 else []
    if alarm is not None:
        counts.append(len(alarm.packs))
    return max(counts) if counts else None


def _without(values: tuple[float, ...], moot: list[float]) -> tuple[float, ...]:
    left = list(values)
    for value in moot:
        left.remove(value)
    return tuple(left)


class _SlowFirstContact(Exception):
    """A late reply during first contact: the first pass starts again at the full budget."""


def _group_blocks(frame: Frame) -> tuple[PackAnalog, ...] | None:
    """The packs of a group analog reply; None when it is refused or does not parse."""
    try:
        reply = pylon_rs485.parse_response(frame, Command.ANALOG)
    except DecodeError:
        return None
    if not isinstance(reply, AnalogResponse) or not reply.packs:
        return None
    return reply.packs


def _place_group_analog(
    link: RequestLink,
    parts: list[_PackParts],
    group: tuple[PackAnalog, ...],
    statuses: dict[int, tuple[AddressStatus, str]],
    ver: int,
) -> None:
    """Give each pack read without its own 0x42 its values (parts in address order).

    The master lists the packs it sees in address order, so the blocks belong
    to the addresses that answered when there are as many of each. Otherwise
    which block is whose cannot be told: each such pack is asked itself.
    """
    if not any(pack.analog is None for pack in parts):
        return
    if len(group) == len(parts):
        for pack, block in zip(parts, group, strict=True):
            if pack.analog is None:
                pack.analog = block
        return
    for pack in list(parts):
        if pack.analog is not None:
            continue
        status, detail, frame = _probe(link, pack.address, ver)
        analog: PackAnalog | None = None
        if frame is not None:
            try:
                analog = _analog_at(pack.address, frame)
            except DecodeError as e:
                status, detail = AddressStatus.GARBLED, e.reason
        if analog is None:
            # No values for a pack that answered 0x93: no reading to show.
            parts.remove(pack)
            statuses[pack.address] = (
                AddressStatus.STOPPED if status is AddressStatus.SILENT else status,
                f"answered 0x93, then not 0x42: {detail}",
            )
        else:
            pack.analog = analog


def _probe(
    link: RequestLink,
    adr: int,
    ver: int,
    *,
    retry_on_timeout: bool = True,
    info: bytes | None = None,
) -> tuple[AddressStatus, str, Frame | None]:
    return _probe_command(
        link, Command.ANALOG, adr, ver, retry_on_timeout=retry_on_timeout, info=info
    )


def _probe_command(
    link: RequestLink,
    command: Command,
    adr: int,
    ver: int,
    *,
    retry_on_timeout: bool = False,
    info: bytes | None = None,
) -> tuple[AddressStatus, str, Frame | None]:
    try:
        frame = link.query(command, adr, ver=ver, info=info, retry_on_timeout=retry_on_timeout)
    except LinkTimeout as e:
        return AddressStatus.SILENT, str(e), None
    except DecodeError as e:
        return AddressStatus.GARBLED, e.reason, None
    try:
        pylon_rs485.check_rtn(frame)
    except DecodeError as e:
        return AddressStatus.REFUSED, str(e), None
    return AddressStatus.ANSWERED, "", frame


def _analog_at(adr: int, frame: Frame) -> PackAnalog:
    try:
        return _analog(frame)
    except DecodeError as e:
        raise DecodeError(f"address {adr}: analog reply does not parse: {e.reason}") from e


def _read_pack(
    link: RequestLink,
    adr: int,
    analog: PackAnalog | None,
    variant: pylon_rs485.Variant,
    ver: int,
    *,
    first: bool,
) -> _PackParts:
    pack = _PackParts(address=adr, variant=variant, analog=analog)
    serial = _read(link, Command.SERIAL_NUMBER, adr, ver, pack)
    if isinstance(serial, SerialNumber):
        pack.serial = serial.serial
    _read_firmware(link, adr, ver, pack, first=first)
    return pack


def _read_firmware(link: RequestLink, adr: int, ver: int, pack: _PackParts, *, first: bool) -> None:
    if _stopped(pack):
        # A request and its retry both unanswered: the pack has gone quiet, and
        # every further read would cost two more silent budgets to learn nothing.
        return
    firmware = _read(link, Command.FIRMWARE, adr, ver, pack)
    if isinstance(firmware, FirmwareVersion):
        pack.firmware = firmware.mainline_text
    if not _stopped(pack) and (first or Command.FIRMWARE in pack.unsupported):
        # 0x51 names the model and maker; read it when 0x96 is not supported,
        # or once for the first pack (the master) to say what the stack is.
        info = _read(link, Command.MANUFACTURER_INFO, adr, ver, pack, info=bytes([adr]))
        if isinstance(info, ManufacturerInfo):
            pack.device_name = info.device_name
            pack.manufacturer = info.manufacturer
            if pack.firmware is None:
                pack.firmware = info.software_text


def _read(
    link: RequestLink,
    command: Command,
    adr: int,
    ver: int,
    pack: _PackParts,
    info: bytes | None = None,
) -> pylon_rs485.Response | None:
    try:
        frame = link.query(command, adr, ver=ver, info=info)
        return pylon_rs485.parse_response(frame, command)
    except ReturnCodeError as e:
        if e.rtn is Rtn.CID2_INVALID:  # "not supported" is not a failure
            pack.unsupported.add(int(command))
        else:
            pack.failed_reads.append(f"0x{int(command):02X}: {e.reason}")
    except LinkTimeout:
        pack.failed_reads.append(f"0x{int(command):02X}: no reply")
    except DecodeError as e:
        pack.failed_reads.append(f"0x{int(command):02X}: {e.reason}")
    return None


def _stopped(pack: _PackParts) -> bool:
    return any(reason.endswith("no reply") for reason in pack.failed_reads)


def _group_alarm(link: RequestLink, adr: int, ver: int) -> AlarmResponse | None:
    try:
        frame = link.query(Command.ALARM, adr, ver=ver, info=bytes([pylon_rs485.GROUP_ADR_INFO]))
        reply = pylon_rs485.parse_response(frame, Command.ALARM)
    except (DecodeError, LinkTimeout):
        return None  # not every BMS supports group reads; poll the whole range instead
    return reply if isinstance(reply, AlarmResponse) and reply.packs else None


def _clear_alarm_for(group: AlarmResponse, index: int) -> PackAlarm:
    return group.packs[min(index, len(group.packs) - 1)]


def _read_alarm(link: RequestLink, pack: _PackParts, ver: int) -> PackAlarm | None:
    reply = _read(link, Command.ALARM, pack.address, ver, pack)
    if isinstance(reply, AlarmResponse) and reply.packs:
        return reply.packs[0]
    return None


class PackValues(TypedDict):
    """What one cycle's 0x42 and 0x44 say of a pack, as `PackReading` fields."""

    cell_voltages_v: tuple[float, ...]
    temperatures_c: tuple[float, ...]
    current_a: float
    voltage_v: float
    remaining_ah: float
    full_ah: float
    cycles: int
    soh_pct: float | None
    alarms: tuple[str, ...]
    protections: tuple[str, ...]
    status: tuple[str, ...]
    alarm_read: bool


def pack_values(analog: PackAnalog, alarm: PackAlarm | None) -> PackValues:
    """A pack's analog values and alarms as the reading shows them (scan and monitor)."""
    design_ah = analog.design_ah
    return PackValues(
        cell_voltages_v=analog.cell_voltages_v,
        temperatures_c=analog.temperatures_c,
        current_a=analog.current_a,
        voltage_v=analog.voltage_v,
        remaining_ah=analog.remaining_ah,
        full_ah=analog.full_ah,
        cycles=analog.cycles,
        # 0x42 carries no SOH. PACE (P = 3) sends a design capacity, so its full
        # capacity against that is one; Pylontech (P = 2/4) sends none, and
        # the rated 314 Ah would be a guess about a pack that may not be one.
        soh_pct=(
            round(min(100.0, 100.0 * analog.full_ah / design_ah), 1)
            if design_ah is not None and design_ah > 0
            else None
        ),
        alarms=() if alarm is None else (*alarm.alarms, *alarm.faults, *alarm.unknown_bits),
        protections=() if alarm is None else alarm.protections,
        status=() if alarm is None else alarm.status_flags,
        alarm_read=alarm is not None,
    )


def _reading(pack: _PackParts, link: RequestLink) -> PackReading:
    analog = pack.analog
    assert analog is not None  # _place_group_analog gave every pack its values
    stats = link.stats.per_address.get(pack.address)
    return PackReading(
        address=pack.address,
        protocol_variant=pack.variant.value,
        serial=pack.serial,
        device_name=pack.device_name,
        manufacturer=pack.manufacturer,
        firmware=pack.firmware,
        **pack_values(analog, pack.alarm),
        read_errors=0 if stats is None else stats.timeouts + stats.corrupted,
        failed_reads=tuple(pack.failed_reads),
    )


def _address_result(
    adr: int, status: tuple[AddressStatus, str], link: RequestLink, first_contact_silences: int
) -> AddressResult:
    """The address's outcome and its link counters, less the first-contact probes.

    A probe that timed out at the short first-contact budget says nothing
    about the address (a slower BMS answers it at the full budget), so it
    counts neither as a request nor as a timeout of the address.
    """
    stats = link.stats.per_address.get(adr)
    if stats is None:
        return AddressResult(address=adr, status=status[0], detail=status[1])
    return AddressResult(
        address=adr,
        status=status[0],
        requests=stats.requests - first_contact_silences,
        replies=stats.replies,
        timeouts=stats.timeouts - first_contact_silences,
        corrupted=stats.corrupted,
        detail=status[1],
    )


# ------------------------------------------------------------------------ CAN


def can_done(records: Sequence[CanRecord]) -> bool:
    """Early end of a CAN window: two of each battery message and two heartbeats seen."""
    counts: dict[int, int] = {}
    for record in records:
        counts[record.arbitration_id] = counts.get(record.arbitration_id, 0) + 1
    if counts.get(can_ids.HEARTBEAT_ID, 0) < 2:
        return False
    for id_set in (can_ids.PYLON_V12_IDS, can_ids.PYLON_V13_IDS):
        if all(counts.get(i, 0) >= 2 for i in id_set):
            return True
    return False


def fold_can(
    records: Sequence[CanRecord], duration_s: float, ended_at: float | None = None
) -> CanObservation:
    """Turn received frames into a CanObservation (pure).

    `ended_at` is when listening stopped, on the records' clock (the
    interface's: see `observe_can`); without it the last frame's time is used,
    which is right for a capture (it ends with its last frame). The heartbeat's
    age is measured from it, so frames that kept coming after the last 0x305
    (or silence the listener timed) make the heartbeat older.
    """
    # Imported by what folds CAN only: the codec loads the DBC through cantools,
    # and statistics (decimal, fractions, random) is ~15 ms of an RS485 scan's start.
    import statistics

    from active_cli.protocols import pylon_can

    builder = pylon_can.CanStateBuilder()
    seen: dict[int, list[float]] = {}
    for record in records:
        if record.is_error_frame or record.is_remote_frame:
            continue
        builder.feed(record.arbitration_id, record.data)
        seen.setdefault(record.arbitration_id, []).append(record.timestamp)
    cycles = {
        can_id: statistics.median(b - a for a, b in itertools.pairwise(stamps))
        for can_id, stamps in seen.items()
        if len(stamps) >= 2
    }
    beats = seen.get(can_ids.HEARTBEAT_ID, [])
    stamps = [r.timestamp for r in records]
    last_frame = max(stamps, default=0.0)
    end = max(ended_at, last_frame) if ended_at is not None else last_frame
    span = max(stamps) - min(stamps) if stamps else 0.0
    return CanObservation(
        # Frames queued before listening began still count: report their span.
        duration_s=max(duration_s, span),
        frame_count=len(records),
        ids_seen={can_id: len(stamps) for can_id, stamps in sorted(seen.items())},
        cycle_s=cycles,
        state=builder.state(),
        heartbeat_count=len(beats),
        heartbeat_period_s=cycles.get(can_ids.HEARTBEAT_ID),
        last_heartbeat_age_s=(end - max(beats)) if beats else None,
        error_frames=sum(1 for r in records if r.is_error_frame),
        decode_errors=builder.decode_error_count,
    )


# --------------------------------------------------------------------- a scan

CAN_WINDOW_S = 5.5  # long enough to call a heartbeat missing (5 s heuristic)


def observe_can(
    bus: can.BusABC, window_s: float = CAN_WINDOW_S, *, full_window: bool = False
) -> CanObservation:
    """Listen on `bus` until two full cycles and two heartbeats, or `window_s`.

    With `full_window` the whole window is heard (a settle time in which the
    heartbeat must stay steady, not just appear).

    A record's timestamp is the interface's clock (`message.timestamp`): the
    kernel's for socketcan, the adapter's own counter for some USB interfaces,
    the capture's for a replay; it cannot be compared with ours. So the end of
    the window is put on the records' clock from the one instant both clocks
    saw: the newest frame, stamped by the interface, and received here (the
    listener reads continuously, within its 0.25 s poll). The silent tail
    after it, timed here, is added to its stamp. A frame that sat queued before
    it was read shortens that tail by its queueing time, no more.
    """
    from active_cli.links.can_link import listen

    started = time.monotonic()
    received_at = started  # our time when the newest record was received

    def until(records: Sequence[CanRecord]) -> bool:
        nonlocal received_at
        received_at = time.monotonic()
        return not full_window and can_done(records)

    records = listen(bus, window_s=window_s, until=until)
    ended = time.monotonic()
    ended_at = records[-1].timestamp + (ended - received_at) if records else None
    return fold_can(records, ended - started, ended_at)


def scan(
    link: RequestLink | None,
    bus: can.BusABC | None,
    options: ScanOptions = ScanOptions(),
    *,
    expected_packs: int | None = None,
    can_window_s: float = CAN_WINDOW_S,
    can_observation: CanObservation | None = None,
    progress: Progress | None = None,
) -> StackSnapshot:
    """A full scan: RS485 when a link is given, CAN when a bus is given, then findings.

    With both, CAN is heard on a worker thread while RS485 is polled: the two
    are separate wires, and the CAN window (up to `can_window_s` when the
    inverter is silent) then costs no time beyond the RS485 poll. A CAN
    observation made elsewhere (a replayed capture) may be passed instead of a bus.
    """
    started = time.monotonic()
    snapshot = StackSnapshot(can=can_observation)
    if bus is None:
        if link is not None:
            snapshot = replace(scan_rs485(link, options, progress), can=can_observation)
    else:
        snapshot = _scan_with_can(link, bus, options, can_window_s, progress)
    # Imported here, not before the first request: the checks are not needed
    # until the line has answered (docs/architecture.md, start-up).
    from active_cli.checks.scan import scan_findings

    findings = scan_findings(snapshot, expected_packs=expected_packs, rs485=link is not None)
    return replace(snapshot, findings=tuple(findings), duration_s=time.monotonic() - started)


def _scan_with_can(
    link: RequestLink | None,
    bus: can.BusABC,
    options: ScanOptions,
    can_window_s: float,
    progress: Progress | None,
) -> StackSnapshot:
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="scan-can")
    try:
        if progress is not None:
            progress(0, "listening on CAN")
        listening = pool.submit(observe_can, bus, can_window_s)
        snapshot = StackSnapshot()
        if link is not None:
            snapshot = scan_rs485(link, options, progress)
        if progress is not None and not listening.done():
            progress(0, "listening on CAN")
        return replace(snapshot, can=listening.result())
    finally:
        # On an RS485 error, do not wait out the CAN window: the caller shuts
        # the bus down, which ends the listener.
        pool.shutdown(wait=False, cancel_futures=True)


def probe_master(link: RequestLink, addresses: Sequence[int] = (1, 2)) -> Rs485Probe:
    """Does the master answer an analog poll? (Pylon master at 2, sequential at 1.)"""
    from active_cli.checks.protocol import Rs485Probe

    baud = getattr(link, "baud", 0)
    for adr in addresses:
        _, detail, frame = _probe(link, adr, pylon_rs485.VER_PYLON)
        if frame is not None:
            return Rs485Probe(baud, True, f"address {adr} answered 0x42")
    return Rs485Probe(baud, False, f"no valid reply at address(es) {list(addresses)}: {detail}")


def probe_status(link: RequestLink, adr: int, *, ver: int = pylon_rs485.VER_PYLON) -> AddressStatus:
    """One analog poll of `adr`: did a pack answer, stay silent, or garble (a collision)?"""
    status, _, _ = _probe(link, adr, ver, retry_on_timeout=False)
    return status


def master_pack_count(
    link: RequestLink, master: int, *, ver: int = pylon_rs485.VER_PYLON
) -> int | None:
    """How many packs the master sees over its BMS link (group alarm read), if it says."""
    group = _group_alarm(link, master, ver)
    return None if group is None else len(group.packs)


def read_address(
    link: RequestLink, adr: int, *, ver: int = pylon_rs485.VER_PYLON
) -> PackReading | None:
    """Read the pack at `adr` in full (analog, serial, firmware, model, alarms), or None.

    One probe, no retry: this is what a wait loop calls while a pack is being
    switched on, so silence is the expected answer until it boots.
    """
    _, _, frame = _probe(link, adr, ver, retry_on_timeout=False)
    if frame is None:
        return None
    try:
        pack = _read_pack(link, adr, _analog_at(adr, frame), frame.variant, ver, first=True)
    except DecodeError:
        return None  # booting BMSes send half-filled replies; the next poll decides
    if not _stopped(pack):
        pack.alarm = _read_alarm(link, pack, ver)
    return _reading(pack, link)


def refresh_packs(link: RequestLink, known: Sequence[PackReading]) -> tuple[PackReading, ...]:
    """Re-read analog values and alarms of packs found by a scan (for monitoring).

    Serial, firmware and names are kept from the scan. A pack that does not
    answer this time, or whose 0x42 reply does not parse, is left out, so the
    caller can tell it went missing (and count a read error).
    """
    return tuple(reading for reading, _ in refresh_packs_timed(link, known))


def refresh_packs_timed(
    link: RequestLink,
    known: Sequence[PackReading],
    clock: Callable[[], float] = time.monotonic,
) -> tuple[tuple[PackReading, float], ...]:
    """`refresh_packs`, each reading with the `clock` time its 0x42 reply came.

    A read of 16 packs at 9600 baud takes seconds: the first pack's values are
    that much older than the last's, and a monitor must say so.
    """
    out: list[tuple[PackReading, float]] = []
    for previous in known:
        _, _, frame = _probe(link, previous.address, pylon_rs485.VER_PYLON)
        read_at = clock()
        if frame is None:
            continue
        try:
            analog = _analog(frame)
        except DecodeError:
            # A reply that frames and passes its checksum but whose INFO does
            # not parse (a line glitch, a BMS mid-reboot): no values this time,
            # the same as silence, and the monitor goes on.
            continue
        parts = _PackParts(address=previous.address, variant=frame.variant, analog=analog)
        parts.serial, parts.firmware = previous.serial, previous.firmware
        parts.device_name, parts.manufacturer = previous.device_name, previous.manufacturer
        parts.alarm = _read_alarm(link, parts, pylon_rs485.VER_PYLON)
        out.append((_reading(parts, link), read_at))
    return tuple(out)


def _analog(frame: Frame) -> PackAnalog:
    reply = pylon_rs485.parse_response(frame, Command.ANALOG)
    assert isinstance(reply, AnalogResponse)
    return reply.packs[0]
