"""The monitor's RS485 cycle: one group read at the master, each pack's own 0x44 as proof.

A per-address cycle reads every pack's 0x42 (168 bytes on the wire) and 0x44
(108 bytes) at its own address: 16 packs at 9600 baud floor at 5.24 s. The
master's group read (0x42 with INFO FF) carries every pack's values in one
reply (2058 bytes for 16 packs, 2.16 s), but a master may keep a block for a
pack it has lost (the values it last heard, or none at all), so a block is
never proof that its pack is alive. Each pack's 0x44 at its own address is:
only the pack set to that address answers it. So a group cycle is the group
read, then every pack's 0x44; a pack is shown live only when it answered its
0x44 in this cycle, with the group's values stamped with the group reply's
time. A pack that did not answer is left out of the read, and the monitor
lists it as missing with the last values it proved (`monitoring`).

Why 0x44 is the proof and not the shortest exchange: 0x4F (18 + 18 bytes,
57.5 ms a pack with 20 ms BMS latency) is the cheapest thing a pack answers,
but the monitor must read alarms every cycle anyway, and its 0x44 at each
address (108 bytes, 132.5 ms) is that read and the proof at once. The other
plan, the group 0x44 (1068 bytes) plus a 0x4F per pack, costs 2.05 s for 16
packs against 2.12 s: 70 ms a cycle (1.6 %) bought with alarms placed by their
position in the master's list and a proof command some BMSes may ignore.

Falling back per address (each pack's 0x42 then 0x44, as `refresh_packs_timed`
reads it): for good when the master refuses the group read (an error RTN) or
answers it with its own values only; for `GROUP_RETRY_CYCLES` cycles when its
reply is silent, garbled, does not parse, or holds another number of blocks
than packs known (which block is whose cannot be told then: the master may
have dropped a pack it lost).
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from active_cli.discovery import RequestLink, pack_values, refresh_packs_timed
from active_cli.errors import DecodeError, LinkTimeout
from active_cli.model import PackReading
from active_cli.monitoring import GROUP_READ, PER_ADDRESS, Rs485Plan
from active_cli.protocols import pylon_rs485
from active_cli.protocols.pylon_rs485 import (
    AlarmResponse,
    AnalogResponse,
    Command,
    PackAlarm,
    PackAnalog,
)

Clock = Callable[[], float]

# After a group reply that could not be used for a passing reason, this many
# cycles are read per address before the group read is asked again: a master
# that lost a pack for good would otherwise cost a wasted group read each cycle.
GROUP_RETRY_CYCLES = 5


@dataclass(frozen=True)
class Rs485Read:
    """One read of every known pack: those proved alive in it, and when each was read.

    ``read_at`` is when each pack's values were read: the group reply's time
    for values from the group read, the pack's own 0x42 reply otherwise.
    ``plan`` is `GROUP_READ` or `PER_ADDRESS`; ``why_per_address`` says why the
    group read was not used (None when it was, or was never asked).
    """

    packs: tuple[PackReading, ...]
    read_at: dict[int, float]
    at: float  # when the read ended
    took_s: float
    plan: Rs485Plan = PER_ADDRESS
    why_per_address: str | None = None


@dataclass(frozen=True)
class _GroupOutcome:
    blocks: tuple[PackAnalog, ...] | None
    at: float
    why_not: str | None = None  # why the blocks cannot be used
    lasting: bool = False  # the master does not do group reads: do not ask again


class MonitorReads:
    """Reads the known packs, one cycle per `read()`, by the group plan while it works.

    `known` are the packs the scan found (serial, firmware and names are kept
    from it), `master` the address that answered first (the scan's master).
    With `group_reads=False` every cycle is per address (the bench's baseline).
    Not thread-safe: one reader thread owns it.
    """

    def __init__(
        self,
        link: RequestLink,
        known: Sequence[PackReading],
        *,
        master: int | None = None,
        group_reads: bool = True,
        clock: Clock = time.monotonic,
    ) -> None:
        self._link = link
        self._known = tuple(sorted(known, key=lambda p: p.address))
        self._master = master if master is not None else min(p.address for p in self._known)
        self._clock = clock
        self._group = group_reads
        self._why: str | None = None  # why the last cycles went per address
        self._skip = 0  # cycles left per address before the group read is asked again

    def read(self, stop: threading.Event | None = None) -> Rs485Read:
        """One cycle. With `stop` set mid-cycle, the packs not reached are left out."""
        started = self._clock()
        outcome = self._ask_group() if self._group and self._skip == 0 else None
        if outcome is not None and outcome.blocks is not None:
            packs = self._prove(outcome.blocks, stop)
            ended = self._clock()
            return Rs485Read(
                packs=tuple(packs),
                read_at={p.address: outcome.at for p in packs},
                at=ended,
                took_s=ended - started,
                plan=GROUP_READ,
            )
        if outcome is not None:
            self._why = outcome.why_not
            if outcome.lasting:
                self._group = False
            else:
                self._skip = GROUP_RETRY_CYCLES
        elif self._skip:
            self._skip -= 1
        timed: list[tuple[PackReading, float]] = []
        for pack in self._known:
            if stop is not None and stop.is_set():
                break
            timed.extend(refresh_packs_timed(self._link, (pack,), self._clock))
        ended = self._clock()
        return Rs485Read(
            packs=tuple(reading for reading, _ in timed),
            read_at={reading.address: at for reading, at in timed},
            at=ended,
            took_s=ended - started,
            plan=PER_ADDRESS,
            why_per_address=self._why,
        )

    def _ask_group(self) -> _GroupOutcome:
        link = self._link
        info = bytes([pylon_rs485.GROUP_ADR_INFO])
        try:
            # Patient, with the link's retry: the master answered the scan.
            frame = link.query(Command.ANALOG, self._master, info=info)
        except LinkTimeout:
            return _GroupOutcome(None, self._clock(), "the master did not answer the group read")
        except DecodeError as e:
            return _GroupOutcome(None, self._clock(), f"the group reply was garbled: {e.reason}")
        at = self._clock()
        if frame.cid2 != pylon_rs485.Rtn.NORMAL:
            why = f"the master refused the group read (RTN {frame.cid2:02X})"
            return _GroupOutcome(None, at, why, True)
        try:
            reply = pylon_rs485.parse_response(frame, Command.ANALOG)
        except DecodeError as e:
            return _GroupOutcome(None, at, f"the group reply does not parse: {e.reason}")
        assert isinstance(reply, AnalogResponse)
        blocks, known = reply.packs, len(self._known)
        if len(blocks) == 1 and known > 1:
            why = "the master answers the group read with its own values only"
            return _GroupOutcome(None, at, why, True)
        if len(blocks) != known:
            why = f"the group reply holds {len(blocks)} pack(s), {known} known"
            return _GroupOutcome(None, at, why)
        return _GroupOutcome(blocks, at)

    def _prove(
        self, blocks: tuple[PackAnalog, ...], stop: threading.Event | None
    ) -> list[PackReading]:
        # The master lists its packs in address order (as the scan places them).
        out: list[PackReading] = []
        for previous, block in zip(self._known, blocks, strict=True):
            if stop is not None and stop.is_set():
                break
            answered, alarm = _alarm_at(self._link, previous.address)
            if answered:
                out.append(_with_values(previous, block, alarm, self._link))
        return out


# Return codes that speak for the line, not for the pack at the address.
_NOT_THE_PACK = frozenset(
    {int(pylon_rs485.Rtn.ADR_ERROR), int(pylon_rs485.Rtn.INTERNAL_COMM_ERROR)}
)


def _alarm_at(link: RequestLink, adr: int) -> tuple[bool, PackAlarm | None]:
    """Ask `adr` its 0x44: did the pack itself answer, and its alarms if read.

    Any return code proves it, except an address or internal-link error.
    """
    try:
        frame = link.query(Command.ALARM, adr, ver=pylon_rs485.VER_PYLON)
    except (LinkTimeout, DecodeError):
        return False, None  # silent, or only garbage heard: no proof
    if frame.cid2 in _NOT_THE_PACK:
        # A master or gateway answering for a pack it cannot reach: no proof
        # that pack is alive, and its group block may be frozen.
        return False, None
    try:
        reply = pylon_rs485.parse_response(frame, Command.ALARM)
    except DecodeError:
        # A refusal (RTN 04: no 0x44) or a block that does not parse still came
        # from the pack at `adr`: it is alive, its alarms are not known.
        return True, None
    if isinstance(reply, AlarmResponse) and reply.packs:
        return True, reply.packs[0]
    return True, None


def _with_values(
    previous: PackReading, analog: PackAnalog, alarm: PackAlarm | None, link: RequestLink
) -> PackReading:
    """The scan's reading of a pack with this cycle's values and alarms."""
    stats = link.stats.per_address.get(previous.address)
    return dataclasses.replace(
        previous,
        **pack_values(analog, alarm),
        read_errors=0 if stats is None else stats.timeouts + stats.corrupted,
        failed_reads=(),
    )
