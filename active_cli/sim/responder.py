"""What the simulated packs answer on RS485: requests in, reply bytes out.

This is the BMS side of the Pylontech protocol, built on the same codec the
client uses, plus the line faults a scenario asks for (duplicate addresses,
packs that stop answering, noise, corrupted checksums). The transport
(`rs485_server.py`) only paces the bytes.

Addressing as real packs do it (the Pylontech RS485 protocol): the pack set to the
header's ADR answers; ADR 0 reaches the master for 0x4F/0x51 (what
python-pylontech sends); INFO FF at the master returns every pack; an address
nobody has gets silence; an unknown command gets RTN 04; a request with a bad
CHKSUM/LENGTH gets RTN 02/03 from the addressed pack. A pack that is switched
off hears nothing: it is silent, and it is left out of the master's INFO FF.

A pack that stops answering (a hung BMS, a loose Link cable) stops talking to
its master too, so the master cannot know its values any more: its INFO FF
replies carry the values the pack had when it went quiet, frozen, and never
values the pack could not have sent. (Whether a real master keeps such a
block or drops it is not published; keeping it is the harder case for a
client, and dropping it gives a group count that does not match, which a
client falls back from anyway.) `faults.group_read` makes a master that
refuses INFO FF or answers it with its own values only.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable

from active_cli import spec
from active_cli.errors import DecodeError
from active_cli.protocols import pylon_rs485 as rs
from active_cli.protocols.pylon_rs485 import (
    AlarmResponse,
    AnalogResponse,
    Command,
    FirmwareVersion,
    FrameError,
    ManagementInfo,
    ManufacturerInfo,
    PackAlarm,
    PackAnalog,
    Request,
    Rtn,
    SerialNumber,
    State,
    SystemParameters,
    Variant,
)
from active_cli.sim.pack_facts import parse_firmware
from active_cli.sim.stack import (
    MODULE_OVER_VOLTAGE_ALARM_V,
    MODULE_UNDER_VOLTAGE_ALARM_V,
    LimitState,
    SimPack,
    SimStack,
)

_STATE: dict[LimitState, State] = {
    "normal": State.NORMAL,
    "below": State.BELOW_LOWER_LIMIT,
    "above": State.ABOVE_UPPER_LIMIT,
    "fault": State.OTHER_FAULT,
}

# Pylontech 0x44 Status1..Status3 bits from the pack's names.
_PYLON_STATUS: dict[str, tuple[int, int]] = {
    "module_under_voltage": (0, 7),
    "charge_over_temperature": (0, 6),
    "discharge_over_temperature": (0, 5),
    "discharge_over_current": (0, 4),
    "charge_over_current": (0, 2),
    "cell_under_voltage": (0, 1),
    "module_over_voltage": (0, 0),
    # Status1 has no cell over-voltage bit; Pylontech BMSes raise the module bit.
    "cell_over_voltage": (0, 0),
    "using_battery_power": (1, 3),
    "discharge_mosfet_on": (1, 2),
    "charge_mosfet_on": (1, 1),
    "charging": (2, 7),
    "discharging": (2, 6),
    "fully_charged": (2, 3),
}

# PACE 0x44 (9 status bytes; the layout public PACE clients read, see the codec).
_PACE_STATUS: dict[str, tuple[int, int]] = {
    "cell_over_voltage": (0, 0),
    "cell_under_voltage": (0, 1),
    "module_over_voltage": (0, 2),
    "module_under_voltage": (0, 3),
    "charge_over_current": (0, 4),
    "discharge_over_current": (0, 5),
    "charge_over_temperature": (1, 0),
    "discharge_over_temperature": (1, 1),
    "charge_under_temperature": (1, 2),
    "discharge_under_temperature": (1, 3),
    "mos_over_temperature": (1, 4),
    "fully_charged": (1, 7),
    "charge_mosfet_on": (2, 1),
    "discharge_mosfet_on": (2, 2),
    "temperature_sensor_fault": (4, 2),
    "cell_high_voltage": (7, 0),
    "cell_low_voltage": (7, 1),
    "module_high_voltage": (7, 2),
    "module_low_voltage": (7, 3),
    "charge_high_current": (7, 4),
    "discharge_high_current": (7, 5),
    "charge_high_temperature": (8, 0),
    "discharge_high_temperature": (8, 1),
    "charge_low_temperature": (8, 2),
    "discharge_low_temperature": (8, 3),
    "mos_high_temperature": (8, 6),
}

# The simulated BMS's hardware ("manufacture") version in 0x96: ours, not a real one.
HARDWARE_VERSION = (1, 0)


def _variant(pack: SimPack) -> Variant:
    return Variant.PACE if pack.protocol_variant == "pace" else Variant.PYLON


def analog_of(pack: SimPack) -> PackAnalog:
    return PackAnalog(
        cell_voltages_v=pack.cell_voltages_v,
        temperatures_c=tuple(round(t, 1) for t in pack.all_temperatures_c),
        current_a=round(pack.current_a, 1),
        voltage_v=round(pack.voltage_v, 3),
        remaining_ah=round(pack.remaining_ah, 3),
        full_ah=round(pack.full_ah, 3),
        cycles=pack.cycles,
        design_ah=pack.design_ah if _variant(pack) is Variant.PACE else None,
    )


def alarm_of(pack: SimPack) -> PackAlarm:
    variant = _variant(pack)
    states = pack.limit_states()
    table = _PACE_STATUS if variant is Variant.PACE else _PYLON_STATUS
    status = [0] * (9 if variant is Variant.PACE else 5)
    for name in (*pack.protections, *pack.alarms, *pack.status):
        if name in table:
            index, bit = table[name]
            status[index] |= 1 << bit
    if variant is Variant.PYLON:
        # Status4/5: cells in protection, cell 1 = Status4 bit 0.
        for number, volts in enumerate(pack.cell_voltages_v):
            if (
                volts >= spec.CELL_OVER_VOLTAGE_PROTECT_V
                or volts <= spec.CELL_UNDER_VOLTAGE_PROTECT_V
            ):
                status[3 + number // 8] |= 1 << (number % 8)
    return PackAlarm(
        cell_states=tuple(_STATE[s] for s in states.cells),
        temperature_states=tuple(_STATE[s] for s in states.temperatures),
        charge_current_state=_STATE[states.charge_current],
        pack_voltage_state=_STATE[states.pack_voltage],
        discharge_current_state=_STATE[states.discharge_current],
        status=tuple(status),
        variant=variant,
    )


def system_parameters_of(pack: SimPack) -> SystemParameters:
    return SystemParameters(
        cell_high_v=spec.CELL_OVER_VOLTAGE_PROTECT_V,
        cell_low_v=spec.CELL_UNDER_VOLTAGE_ALARM_V,
        cell_under_v=spec.CELL_UNDER_VOLTAGE_PROTECT_V,
        charge_high_temp_c=spec.CHARGE_TEMP_MAX_C,
        charge_low_temp_c=spec.CHARGE_TEMP_MIN_C,
        charge_current_limit_a=pack.charge_current_max_a,
        module_high_v=round(MODULE_OVER_VOLTAGE_ALARM_V, 3),
        module_low_v=round(MODULE_UNDER_VOLTAGE_ALARM_V, 3),
        module_under_v=round(spec.MIN_VOLTAGE_V, 3),
        discharge_high_temp_c=spec.DISCHARGE_TEMP_MAX_C,
        discharge_low_temp_c=spec.DISCHARGE_TEMP_MIN_C,
        discharge_current_limit_a=-pack.discharge_current_max_a,
        info_flag=0x11,
    )


def management_of(pack: SimPack, stack: SimStack) -> ManagementInfo:
    flags = stack.request_flags()
    return ManagementInfo(
        command_value=pack.address,
        charge_voltage_limit_v=stack.scenario.charge_voltage_limit_v,
        discharge_voltage_limit_v=stack.scenario.discharge_voltage_limit_v,
        charge_current_limit_a=round(pack.charge_limit_a, 1),
        # Real packs send the discharge limit negative (seen in public captures).
        discharge_current_limit_a=-round(pack.discharge_limit_a, 1),
        charge_enable=pack.charge_enable,
        discharge_enable=pack.discharge_enable,
        charge_immediately_1=flags.force_charge_1,
        charge_immediately_2=flags.force_charge_2,
        full_charge_request=flags.full_charge,
    )


def _firmware_numbers(pack: SimPack) -> tuple[int, int, int]:
    numbers = (*parse_firmware(pack.firmware), 0, 0)
    return numbers[0], numbers[1], numbers[2]


class Rs485Responder:
    """Callable that the line transport invokes for each complete request frame."""

    def __init__(
        self,
        stack: SimStack,
        *,
        lock: threading.Lock | threading.RLock | None = None,
        sync: Callable[[], None] = lambda: None,
    ) -> None:
        self.stack = stack
        self.faults = stack.scenario.faults
        self._lock = lock or threading.Lock()
        self._sync = sync
        self._rng: random.Random = stack.line_rng
        self.requests = 0
        # What the master last heard from each pack that has gone quiet, by
        # position: its values at the moment it stopped answering.
        self._last_heard: dict[int, tuple[PackAnalog, PackAlarm]] = {}

    def __call__(self, raw: bytes) -> bytes | None:
        with self._lock:
            self._sync()
            self.requests += 1
            reply = self._answer(raw)
        if reply is None:
            return None
        return self._line_faults(reply)

    # --- protocol ---------------------------------------------------------------
    def _answer(self, raw: bytes) -> bytes | None:
        try:
            frame = rs.decode_frame(raw)
        except FrameError as e:
            return self._framing_error(e)
        except DecodeError:
            return None
        if frame.cid1 != rs.CID1_BATTERY:
            return None
        try:
            request = rs.parse_request(frame)
        except DecodeError:
            return self._reply_error(frame.adr, Rtn.COMMAND_FORMAT_ERROR)
        adr = request.adr
        if adr == 0 and request.command in (Command.PROTOCOL_VERSION, Command.MANUFACTURER_INFO):
            adr = self.stack.master.address
        packs = self.stack.take_request(adr)
        for pack in self.stack.packs_at(adr):
            if not pack.answering:
                self._as_master_heard(pack)  # freeze what it had at its last reply
        if not packs:
            return None
        replies = [self._reply(pack, request, adr) for pack in packs]
        if len(replies) == 1:
            return replies[0]
        return self._collide(replies)

    def _framing_error(self, error: FrameError) -> bytes | None:
        if error.rtn is None or error.adr is None:
            return None
        packs = self.stack.take_request(error.adr)
        if not packs:
            return None
        return rs.build_response(error.adr, b"", ver=_variant(packs[0]).ver, rtn=error.rtn)

    def _reply_error(self, adr: int, rtn: Rtn) -> bytes | None:
        packs = self.stack.answering_at(adr)
        if not packs:
            return None
        return rs.build_response(adr, b"", ver=_variant(packs[0]).ver, rtn=rtn)

    def _reply(self, pack: SimPack, request: Request, adr: int) -> bytes:
        variant = _variant(pack)
        ver = variant.ver

        def ok(info: bytes) -> bytes:
            return rs.build_response(adr, info, ver=ver)

        command = request.command
        if command == Command.PROTOCOL_VERSION:
            return ok(b"")
        if command == Command.MANUFACTURER_INFO:
            major, minor, _ = _firmware_numbers(pack)
            return ok(
                ManufacturerInfo(pack.device_name, (major, minor), pack.manufacturer).to_info()
            )
        group = request.group and pack is self.stack.master
        if group and self.faults.group_read == "refused":
            # INFO FF taken for the address of a pack it does not know.
            return rs.build_response(adr, b"", ver=ver, rtn=Rtn.ADR_ERROR)
        if group and self.faults.group_read == "own-values":
            group = False
        subject = pack
        if not group and request.target_adr not in (None, adr):
            # INFO names another pack: the master relays for the slaves behind it.
            others = self.stack.answering_at(request.target_adr)
            if not others or pack is not self.stack.master:
                return rs.build_response(adr, b"", ver=ver, rtn=Rtn.ADR_ERROR)
            subject = others[0]
        members = sorted(self.stack.powered_packs, key=lambda p: p.address) if group else [subject]
        value = len(members) if group else subject.address
        heard = [self._as_master_heard(p) for p in members] if group else []
        if command == Command.ANALOG:
            blocks = tuple(a for a, _ in heard) if group else (analog_of(subject),)
            return ok(AnalogResponse(0x11, value, blocks).to_info(variant))
        if command == Command.ALARM:
            alarms = tuple(a for _, a in heard) if group else (alarm_of(subject),)
            return ok(AlarmResponse(0x10, value, alarms).to_info(variant))
        if command == Command.SYSTEM_PARAMETERS:
            return ok(system_parameters_of(subject).to_info(variant))
        if command == Command.MANAGEMENT:
            return ok(management_of(subject, self.stack).to_info(variant))
        if command == Command.SERIAL_NUMBER:
            return ok(SerialNumber(subject.address, subject.serial).to_info(variant))
        if command == Command.FIRMWARE:
            info = FirmwareVersion(subject.address, HARDWARE_VERSION, _firmware_numbers(subject))
            return ok(info.to_info(variant))
        return rs.build_response(adr, b"", ver=ver, rtn=Rtn.CID2_INVALID)

    def _as_master_heard(self, pack: SimPack) -> tuple[PackAnalog, PackAlarm]:
        """A pack's block in the master's INFO FF: live, or frozen once it went quiet."""
        if pack.answering:
            return analog_of(pack), alarm_of(pack)
        return self._last_heard.setdefault(pack.position, (analog_of(pack), alarm_of(pack)))

    # --- line faults ------------------------------------------------------------
    def _collide(self, replies: list[bytes]) -> bytes:
        """Two drivers on one differential pair: where the bytes differ, neither survives."""
        length = max(len(r) for r in replies)
        out = bytearray()
        for i in range(length):
            column = {r[i] for r in replies if i < len(r)}
            out.append(column.pop() if len(column) == 1 else self._rng.randrange(0x80, 0x100))
        if any(bytes(out) == r for r in replies):
            out[len(out) // 2] ^= 0x40  # identical replies still clash in timing
        return bytes(out)

    def _line_faults(self, reply: bytes) -> bytes:
        rng = self._rng
        out = bytearray(reply)
        if self.faults.checksum_error_rate and rng.random() < self.faults.checksum_error_rate:
            # Flip the last CHKSUM digit (before CR) to another hex digit.
            digit = out[-2]
            out[-2] = ord("0") if digit != ord("0") else ord("1")
        if self.faults.noise_rate and rng.random() < self.faults.noise_rate:
            count = rng.randint(1, max(1, self.faults.noise_max_bytes))
            noise = bytes(rng.choice(b"\x00\xff\x7f\x80\x55\xaa\x3f\xf0") for _ in range(count))
            if rng.random() < 0.5:
                out[:0] = noise  # before the frame: the framer drops it
            else:
                at = rng.randrange(1, len(out) - 1)  # inside: the frame is lost
                out[at:at] = noise
        return bytes(out)
