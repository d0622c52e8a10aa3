"""Pylontech RS485 codec (and its PACE variant): frames, requests, typed responses.

Pure and I/O-free: `decode_frame` checks one ASCII frame (``~`` VER ADR CID1
CID2 LENGTH INFO CHKSUM CR) and returns a `Frame`; `build_request` and
`parse_request` are the host side; each response is a frozen dataclass with a
parser (``parse_analog`` ...) and an encoder (``to_info``) so the simulator
serves exactly what the decoder reads. Every malformed input raises
`DecodeError` naming what is wrong; encoders raise `ValueError` for values the
wire cannot carry. Layouts, scales and example frames are those of
the public Pylontech RS485 protocol documents and captures; where this module
decides something they leave open, a comment says so.

The PACE variant (VER 0x25) shares the framing and the layouts but counts
temperatures from 273.0 K, current in 10 mA and capacities in 10 mAh, so every
parser and encoder takes a `Variant`; `parse_response` picks it from VER.
"""

from __future__ import annotations

import enum
import math
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeAlias, TypeVar

from active_cli.errors import DecodeError

VER_PYLON = 0x20
VER_PACE = 0x25
CID1_BATTERY = 0x46
GROUP_ADR_INFO = 0xFF  # INFO byte of a whole-group read (0x42 / 0x44 to the master)

SOI = 0x7E  # "~"
EOI = 0x0D  # CR only: Pylontech clients read up to CR, and an LF breaks some of them
HEADER_DIGITS = 12  # VER ADR CID1 CID2 (2 digits each) + LENGTH (4)
CHKSUM_DIGITS = 4
MAX_LENID = 0xFFF  # LENID is 12 bits: at most 4095 INFO digits, 2047 whole bytes
_HEX = frozenset(b"0123456789ABCDEFabcdef")


class Command(enum.IntEnum):
    """CID2 of a request (reference §3.4)."""

    PROTOCOL_VERSION = 0x4F
    MANUFACTURER_INFO = 0x51
    ANALOG = 0x42
    ALARM = 0x44
    SYSTEM_PARAMETERS = 0x47
    MANAGEMENT = 0x92
    SERIAL_NUMBER = 0x93
    FIRMWARE = 0x96


# Commands whose request INFO is the pack's ADR, as python-pylontech, inverters
# and the vendors' tools send them; 0x4F and 0x51 go without INFO.
_ADR_INFO_COMMANDS = frozenset(
    {
        Command.ANALOG,
        Command.ALARM,
        Command.SYSTEM_PARAMETERS,
        Command.MANAGEMENT,
        Command.SERIAL_NUMBER,
        Command.FIRMWARE,
    }
)


class Rtn(enum.IntEnum):
    """Return code a BMS puts in CID2 of its response (reference §3.3)."""

    NORMAL = 0x00
    VER_ERROR = 0x01
    CHKSUM_ERROR = 0x02
    LCHKSUM_ERROR = 0x03
    CID2_INVALID = 0x04
    COMMAND_FORMAT_ERROR = 0x05
    INVALID_DATA = 0x06
    ADR_ERROR = 0x90
    INTERNAL_COMM_ERROR = 0x91

    @property
    def description(self) -> str:
        return _RTN_TEXT[self]


_RTN_TEXT = {
    Rtn.NORMAL: "normal",
    Rtn.VER_ERROR: "VER error",
    Rtn.CHKSUM_ERROR: "CHKSUM error",
    Rtn.LCHKSUM_ERROR: "LCHKSUM error",
    Rtn.CID2_INVALID: "CID2 invalid",
    Rtn.COMMAND_FORMAT_ERROR: "command format error",
    Rtn.INVALID_DATA: "invalid data",
    Rtn.ADR_ERROR: "ADR error",
    Rtn.INTERNAL_COMM_ERROR: "internal (master-slave) communication error",
}


class Variant(enum.Enum):
    """Which unit convention a pack speaks; told apart by the VER byte."""

    PYLON = "pylon"
    PACE = "pace"

    @classmethod
    def from_ver(cls, ver: int) -> Variant:
        # Packs answer requests with any VER (00, 20 ...); only 0x25 means PACE units.
        return cls.PACE if ver == VER_PACE else cls.PYLON

    @property
    def ver(self) -> int:
        return VER_PACE if self is Variant.PACE else VER_PYLON


class ReturnCodeError(DecodeError):
    """The BMS answered, but with an error return code instead of data."""

    def __init__(self, rtn: Rtn, *, frame: bytes | str | None = None) -> None:
        super().__init__(f"BMS answered RTN {rtn.value:02X}: {rtn.description}", frame=frame)
        self.rtn = rtn


class FrameError(DecodeError):
    """A frame that fails the framing checks.

    ``rtn`` is the return code a BMS answers such a request with (02 for
    CHKSUM, 03 for LENGTH faults) or None when a BMS would stay silent (not a
    frame at all); ``adr`` is the address in the header when it could be read.
    The simulator uses both to answer like a real pack.
    """

    def __init__(
        self,
        reason: str,
        *,
        frame: bytes | str | None = None,
        rtn: Rtn | None = None,
        adr: int | None = None,
        ver: int | None = None,
    ) -> None:
        super().__init__(reason, frame=frame)
        self.rtn = rtn
        self.adr = adr
        self.ver = ver


# ---------------------------------------------------------------- frames


def length_field(info_hex_chars: int) -> int:
    """LENGTH for an INFO of that many ASCII characters: LCHKSUM nibble + 12-bit LENID.

    LCHKSUM is ``-(sum of LENID's three nibbles) mod 16``; when that sum is a
    multiple of 16 it is 0 (240 -> ``10F0``), which two public clients get wrong.
    """
    if not 0 <= info_hex_chars <= MAX_LENID:
        raise ValueError(f"LENID {info_hex_chars} does not fit 12 bits (0..{MAX_LENID})")
    nibbles = (info_hex_chars & 0xF) + ((info_hex_chars >> 4) & 0xF) + (info_hex_chars >> 8)
    return ((-nibbles % 16) << 12) | info_hex_chars


def checksum(body_ascii: bytes) -> int:
    """CHKSUM: two's complement of the sum of the ASCII codes between ``~`` and CHKSUM."""
    return -sum(body_ascii) & 0xFFFF


@dataclass(frozen=True)
class Frame:
    """One checked frame. In a response ``cid2`` is the return code (RTN)."""

    ver: int
    adr: int
    cid1: int
    cid2: int
    info: bytes = b""

    def __post_init__(self) -> None:
        for name in ("ver", "adr", "cid1", "cid2"):
            value = getattr(self, name)
            if not 0 <= value <= 0xFF:
                raise ValueError(f"{name} {value} is not a byte")
        info = bytes(self.info)
        if 2 * len(info) > MAX_LENID:
            raise ValueError(f"INFO of {len(info)} bytes is longer than LENID can say (2047)")
        object.__setattr__(self, "info", info)

    @property
    def variant(self) -> Variant:
        return Variant.from_ver(self.ver)

    def encode(self) -> bytes:
        """The frame as sent on the line: uppercase hex, CR only."""
        body = (
            f"{self.ver:02X}{self.adr:02X}{self.cid1:02X}{self.cid2:02X}"
            f"{length_field(2 * len(self.info)):04X}{self.info.hex().upper()}"
        ).encode("ascii")
        return b"~" + body + f"{checksum(body):04X}".encode("ascii") + b"\r"


def _show_byte(value: int) -> str:
    return repr(chr(value)) if 0x20 <= value < 0x7F else f"0x{value:02X}"


def decode_frame(data: bytes | bytearray | memoryview | str) -> Frame:
    """Check one frame and return it; anything wrong raises `DecodeError` saying what.

    ``bytes`` are what came off the wire and are taken strictly: ``~`` first,
    CR last and nothing after it. A ``str`` is text an installer pasted: blanks
    and line ends around it are stripped and the CR may be missing (a terminal
    or log never shows it). Both accept lowercase hex, which some clients send.
    """
    if isinstance(data, str):
        text = data.strip()
        try:
            wire = text.encode("ascii")
        except UnicodeEncodeError as e:
            raise FrameError(
                f"non-ASCII character {text[e.start]!r} at position {e.start}", frame=data
            ) from None
        return _decode_wire(wire + b"\r", data)
    if isinstance(data, bytes | bytearray | memoryview):
        wire = bytes(data)
        return _decode_wire(wire, wire)
    raise TypeError(f"decode_frame takes bytes or str, not {type(data).__name__}")


def _decode_wire(wire: bytes, original: bytes | str) -> Frame:
    if not wire:
        raise FrameError("empty input: no frame", frame=original)
    if wire[0] != SOI:
        raise FrameError(
            f"no SOI: a frame starts with '~', this starts with {_show_byte(wire[0])}",
            frame=original,
        )
    if wire[-1] != EOI:
        if wire.endswith(b"\r\n"):
            raise FrameError("frame ends in CR LF: frames end in CR only", frame=original)
        raise FrameError(
            f"no EOI: a frame ends with CR, this ends with {_show_byte(wire[-1])}",
            frame=original,
        )
    body = wire[1:-1]
    for index, value in enumerate(body):
        if value not in _HEX:
            raise FrameError(
                f"non-hex character {_show_byte(value)} at position {index + 1}", frame=original
            )
    if len(body) < HEADER_DIGITS + CHKSUM_DIGITS:
        raise FrameError(
            f"frame too short: {len(body)} digits between '~' and CR, a frame has at least "
            f"{HEADER_DIGITS + CHKSUM_DIGITS} (12 header, 4 CHKSUM)",
            frame=original,
        )
    text = body.decode("ascii")
    ver, adr = int(text[0:2], 16), int(text[2:4], 16)
    length = int(text[8:12], 16)
    lenid = length & MAX_LENID
    actual = len(text) - HEADER_DIGITS - CHKSUM_DIGITS

    def fail(reason: str, rtn: Rtn) -> FrameError:
        return FrameError(reason, frame=original, rtn=rtn, adr=adr, ver=ver)

    # Checked in this order so the reason names the first thing that broke:
    # a bad LENGTH field, then lost/extra characters, then corrupted ones.
    expected_lchk = length_field(lenid) >> 12
    if length >> 12 != expected_lchk:
        raise fail(
            f"bad LCHKSUM: LENGTH {text[8:12].upper()} says {length >> 12:X}, "
            f"computed {expected_lchk:X} for LENID {lenid}",
            Rtn.LCHKSUM_ERROR,
        )
    if lenid != actual:
        raise fail(f"LENID says {lenid} INFO digits, the frame carries {actual}", Rtn.LCHKSUM_ERROR)
    if lenid % 2:
        raise fail(f"LENID {lenid} is odd: INFO must be whole bytes", Rtn.COMMAND_FORMAT_ERROR)
    given = int(text[-CHKSUM_DIGITS:], 16)
    computed = checksum(body[:-CHKSUM_DIGITS])
    # A client sending lowercase hex may have summed the uppercase text it
    # formatted first; accept either sum rather than reject a working client.
    if given != computed and given != checksum(body[:-CHKSUM_DIGITS].upper()):
        raise fail(
            f"bad CHKSUM: frame says {text[-CHKSUM_DIGITS:].upper()}, computed {computed:04X}",
            Rtn.CHKSUM_ERROR,
        )
    return Frame(
        ver=ver,
        adr=adr,
        cid1=int(text[4:6], 16),
        cid2=int(text[6:8], 16),
        info=bytes.fromhex(text[HEADER_DIGITS:-CHKSUM_DIGITS]),
    )


# ---------------------------------------------------------------- requests


@dataclass(frozen=True)
class Request:
    """A host's request as a responder sees it.

    ``target_adr`` is the pack the INFO names (None when the INFO is empty or
    asks for the whole group); ``group`` is True for INFO FF; ``index`` is the
    second INFO byte a few clients add. ``info`` keeps the raw INFO, which is
    all there is to know about commands this module does not model.
    """

    ver: int
    adr: int
    command: int
    target_adr: int | None
    group: bool
    index: int | None = None
    info: bytes = b""

    @property
    def variant(self) -> Variant:
        return Variant.from_ver(self.ver)

    @property
    def pack_adr(self) -> int | None:
        """The single pack asked about: INFO's ADR, else the header's; None for a group read."""
        if self.group:
            return None
        return self.adr if self.target_adr is None else self.target_adr


def build_request(
    command: Command | int,
    adr: int,
    *,
    ver: int = VER_PYLON,
    info: bytes | None = None,
) -> bytes:
    """A request ready for the wire. Default INFO: the ADR byte where clients send it.

    Group read: ``build_request(Command.ANALOG, 2, info=bytes([GROUP_ADR_INFO]))``.
    """
    cid2 = int(command)
    if info is None:
        info = bytes([adr]) if cid2 in _ADR_INFO_COMMANDS else b""
    return Frame(ver, adr, CID1_BATTERY, cid2, info).encode()


_KNOWN_COMMANDS = frozenset(int(c) for c in Command)


def parse_request(frame: Frame) -> Request:
    """Read a request the way a tolerant BMS does: INFO of 0, 1 (ADR) or 2 (ADR, index) bytes."""
    if frame.cid1 != CID1_BATTERY:
        raise DecodeError(
            f"CID1 0x{frame.cid1:02X} is not a battery request (0x{CID1_BATTERY:02X})",
            frame=frame.encode(),
        )
    info = frame.info
    if len(info) > 2:
        if frame.cid2 in _KNOWN_COMMANDS:
            raise DecodeError(
                f"request 0x{frame.cid2:02X} carries {len(info)} INFO bytes; "
                "expected 0, 1 (ADR) or 2 (ADR, index)",
                frame=frame.encode(),
            )
        # A command we do not model (writes, PACE extras): keep its INFO uninterpreted.
        return Request(frame.ver, frame.adr, frame.cid2, None, False, None, info)
    target = info[0] if info else None
    group = target == GROUP_ADR_INFO
    return Request(
        ver=frame.ver,
        adr=frame.adr,
        command=frame.cid2,
        target_adr=None if group else target,
        group=group,
        index=info[1] if len(info) == 2 else None,
        info=info,
    )


# ---------------------------------------------------------------- units


@dataclass(frozen=True)
class _Units:
    temp_offset: int  # raw temperature (0.1 K) of 0 degC
    current_per_a: int  # raw current counts per ampere
    current_decimals: int
    capacity_per_ah: int  # raw capacity counts per ampere-hour
    capacity_decimals: int


_UNITS = {
    # Pylontech: 0.1 K from 273.1 K, 0.1 A, mAh.
    Variant.PYLON: _Units(2731, 10, 1, 1000, 3),
    # PACE document: 0.1 K from 273.0 K, 10 mA, 10 mAh. The reference states
    # these for the variant as a whole, so they apply to 0x47 and 0x92 too.
    Variant.PACE: _Units(2730, 100, 2, 100, 2),
}


def _raw(value: float, per_unit: float, lo: int, hi: int, what: str, offset: int = 0) -> int:
    if not math.isfinite(value):
        raise ValueError(f"{what} {value} is not a number the wire can carry")
    raw = round(value * per_unit) + offset
    if not lo <= raw <= hi:
        raise ValueError(f"{what} {value} is outside what the wire field holds")
    return raw


def _u8(value: int, what: str) -> bytes:
    if not 0 <= value <= 0xFF:
        raise ValueError(f"{what} {value} does not fit one byte")
    return bytes([value])


def _u16(value: float, per_unit: float, what: str) -> bytes:
    return _raw(value, per_unit, 0, 0xFFFF, what).to_bytes(2, "big")


def _s16(value: float, per_unit: float, what: str, offset: int = 0) -> bytes:
    return _raw(value, per_unit, -0x8000, 0x7FFF, what, offset).to_bytes(2, "big", signed=True)


def _volts(raw: int) -> float:
    return round(raw / 1000, 3)


def _temp(raw: int, units: _Units) -> float:
    return round((raw - units.temp_offset) / 10, 1)


def _amps(raw: int, units: _Units) -> float:
    return round(raw / units.current_per_a, units.current_decimals)


def _amp_hours(raw: int, units: _Units) -> float:
    return round(raw / units.capacity_per_ah, units.capacity_decimals)


def _text(raw: bytes) -> str:
    # Padding is NUL on real packs (some use spaces); keep everything else as
    # seen, and show a non-ASCII byte as \xNN rather than fail on it.
    return raw.rstrip(b"\x00 ").decode("ascii", errors="backslashreplace")


def _text_bytes(value: str, size: int, what: str) -> bytes:
    try:
        raw = value.encode("ascii")
    except UnicodeEncodeError:
        raise ValueError(f"{what} {value!r} is not ASCII") from None
    if len(raw) > size:
        raise ValueError(f"{what} {value!r} is longer than {size} bytes")
    return raw.ljust(size, b"\x00")


class _Reader:
    """Reads big-endian fields from INFO; running out is a DecodeError naming the field."""

    __slots__ = ("data", "pos", "what")

    def __init__(self, data: bytes, what: str, pos: int = 0) -> None:
        self.data = data
        self.what = what
        self.pos = pos

    @property
    def left(self) -> int:
        return len(self.data) - self.pos

    def take(self, size: int, field: str) -> bytes:
        if size > self.left:
            raise DecodeError(
                f"{self.what}: INFO ends inside {field} "
                f"(at byte {self.pos}: needs {size}, {self.left} left)"
            )
        start = self.pos
        self.pos += size
        return self.data[start : self.pos]

    def u8(self, field: str) -> int:
        return self.take(1, field)[0]

    def u16(self, field: str) -> int:
        return int.from_bytes(self.take(2, field), "big")

    def s16(self, field: str) -> int:
        return int.from_bytes(self.take(2, field), "big", signed=True)

    def u24(self, field: str) -> int:
        return int.from_bytes(self.take(3, field), "big")

    def array(self, count: int, fmt: str, field: str) -> tuple[int, ...]:
        raw = self.take(count * struct.calcsize(f">{fmt}"), field)
        return struct.unpack(f">{count}{fmt}", raw)

    def done(self) -> None:
        if self.left:
            raise DecodeError(
                f"{self.what}: {self.left} unexpected byte(s) after the last field "
                f"(INFO has {len(self.data)} bytes, the layout {self.pos})"
            )


_T = TypeVar("_T")


def _read_packs(
    reader: _Reader,
    read_block: Callable[[_Reader, int], _T],
    *,
    separators: bool,
) -> tuple[_T, ...]:
    """Read pack blocks until INFO ends; one trailing 00 byte after the last is tolerated.

    Real Pylontech packs end their 0x44 reply with one extra 00, and a public
    PACE group reply ends the same way, so every multi-block reply accepts it.
    With ``separators`` (PACE only) one byte between blocks is skipped: a
    public PACE group capture (bmspace) puts an INFOFLAG-like byte before every
    pack after the first. As that client does, a byte is taken for a separator
    when the byte after it repeats the first pack's cell count and it does not,
    or when no block fits where it stands.
    """
    first_count = reader.data[reader.pos] if reader.left else 0
    packs: list[_T] = []
    while True:
        start = reader.pos
        if (
            separators
            and packs
            and reader.left > 1
            and reader.data[start] != first_count
            and reader.data[start + 1] == first_count
        ):
            reader.pos = start = start + 1
        try:
            packs.append(read_block(reader, len(packs) + 1))
        except DecodeError as e:
            if not (separators and packs):
                raise
            reader.pos = start + 1
            try:
                packs.append(read_block(reader, len(packs) + 1))
            except DecodeError:
                raise e from None
        if reader.left == 0 or (reader.left == 1 and reader.data[-1] == 0):
            return tuple(packs)


def _header(info: bytes, what: str) -> tuple[_Reader, int, int]:
    reader = _Reader(info, what)
    return reader, reader.u8("INFOFLAG"), reader.u8("command value")


# ---------------------------------------------------------------- 0x42 analog values


@dataclass(frozen=True)
class PackAnalog:
    """One pack's measurements (0x42), in volts, degC, amperes (+ = charging), Ah."""

    cell_voltages_v: tuple[float, ...]
    temperatures_c: tuple[float, ...]
    current_a: float
    voltage_v: float
    remaining_ah: float
    full_ah: float
    cycles: int
    design_ah: float | None = None  # PACE (P = 3) only
    # User-defined fields beyond the known layouts (P > 4, e.g. PACE firmware
    # sending P = 9 with extra capacity fields), kept undecoded.
    extra_raw: bytes = b""

    @property
    def soc_pct(self) -> float | None:
        if self.full_ah <= 0:
            return None
        return round(100 * self.remaining_ah / self.full_ah, 1)

    def to_block(self, variant: Variant = Variant.PYLON) -> bytes:
        """This pack's block inside a 0x42 INFO (after INFOFLAG and command value)."""
        units = _UNITS[variant]
        out = bytearray(_u8(len(self.cell_voltages_v), "cell count"))
        for volts in self.cell_voltages_v:
            out += _u16(volts, 1000, "cell voltage")
        out += _u8(len(self.temperatures_c), "temperature count")
        for temp in self.temperatures_c:
            out += _s16(temp, 10, "temperature", units.temp_offset)
        out += _s16(self.current_a, units.current_per_a, "current")
        out += _u16(self.voltage_v, 1000, "pack voltage")
        per_ah = units.capacity_per_ah
        remaining = _raw(self.remaining_ah, per_ah, 0, 0xFFFFFF, "remaining capacity")
        full = _raw(self.full_ah, per_ah, 0, 0xFFFFFF, "full capacity")
        fits_u16 = remaining < 0xFFFF and full < 0xFFFF
        if variant is Variant.PACE or self.design_ah is not None:
            # P = 3 (PACE document): full, cycles, design. PACE always sends a
            # design capacity; without one we send the full capacity.
            if not fits_u16:
                raise ValueError("capacities over 65534 units do not fit the P = 3 layout")
            design = self.full_ah if self.design_ah is None else self.design_ah
            out += remaining.to_bytes(2, "big") + b"\x03" + full.to_bytes(2, "big")
            out += _u16(self.cycles, 1, "cycle count")
            out += _u16(design, per_ah, "design capacity")
        elif fits_u16:
            out += remaining.to_bytes(2, "big") + b"\x02" + full.to_bytes(2, "big")
            out += _u16(self.cycles, 1, "cycle count")
        else:
            # P = 4: packs over 65 Ah (an Active16 holds ~314 Ah) send the u16
            # fields as FFFF and the real capacities as u24 after the cycles.
            out += b"\xff\xff\x04\xff\xff" + _u16(self.cycles, 1, "cycle count")
            out += remaining.to_bytes(3, "big") + full.to_bytes(3, "big")
        return bytes(out)


@dataclass(frozen=True)
class AnalogResponse:
    """0x42 reply: one pack, or every pack of the group after an FF request.

    ``command_value`` is the pack's ADR, or the pack count for a group read.
    """

    info_flag: int
    command_value: int
    packs: tuple[PackAnalog, ...]

    def to_info(self, variant: Variant = Variant.PYLON) -> bytes:
        if not self.packs:
            raise ValueError("a 0x42 reply carries at least one pack")
        head = _u8(self.info_flag, "INFOFLAG") + _u8(self.command_value, "command value")
        return head + b"".join(pack.to_block(variant) for pack in self.packs)


def _analog_blocks(units: _Units) -> Callable[[_Reader, int], PackAnalog]:
    def read(reader: _Reader, number: int) -> PackAnalog:
        return _read_analog_block(reader, number, units)

    return read


def _read_analog_block(reader: _Reader, number: int, units: _Units) -> PackAnalog:
    where = f"pack {number}"
    cells = reader.u8(f"{where} cell count")
    cell_raw = reader.array(cells, "H", f"{where} cell voltages")
    temps = reader.u8(f"{where} temperature count")
    temp_raw = reader.array(temps, "h", f"{where} temperatures")
    current = reader.s16(f"{where} current")
    voltage = reader.u16(f"{where} voltage")
    remaining = reader.u16(f"{where} remaining capacity")
    user_defined = reader.u8(f"{where} user-defined count P")
    full = reader.u16(f"{where} full capacity")
    cycles = reader.u16(f"{where} cycle count")
    design: int | None = None
    extra = b""
    if user_defined == 3:
        design = reader.u16(f"{where} design capacity")
    elif user_defined == 4:
        # The u16 fields hold FFFF; the u24 ones are the real capacities.
        remaining = reader.u24(f"{where} remaining capacity (u24)")
        full = reader.u24(f"{where} full capacity (u24)")
    elif user_defined > 4:
        extra = _extra_user_fields(reader, user_defined, cells, where)
    elif user_defined != 2:
        raise DecodeError(
            f"{reader.what}: {where} has user-defined count P={user_defined}; "
            "known layouts are P=2, 3 (PACE), 4 and larger P with extra fields"
        )
    return PackAnalog(
        cell_voltages_v=tuple(_volts(v) for v in cell_raw),
        temperatures_c=tuple(_temp(t, units) for t in temp_raw),
        current_a=_amps(current, units),
        voltage_v=_volts(voltage),
        remaining_ah=_amp_hours(remaining, units),
        full_ah=_amp_hours(full, units),
        cycles=cycles,
        design_ah=None if design is None else _amp_hours(design, units),
        extra_raw=extra,
    )


def _extra_user_fields(reader: _Reader, user_defined: int, cells: int, where: str) -> bytes:
    """The bytes of the P - 2 user-defined fields after full capacity and cycles.

    Their layout is not published (real PACE-firmware replies carry P = 9 with
    extra capacity fields), so they are kept raw, never refused. Their length:
    the rest of INFO for the last (or only) pack; otherwise the first of
    2 or 3 bytes per field after which the next pack's block starts with this
    pack's cell count (packs of one group have the same cell count).
    """
    fields = user_defined - 2
    rest = reader.left
    if rest <= fields * 3 + 1:
        # Everything left belongs to this (last) pack.
        return reader.take(rest, f"{where} extra user-defined fields")
    for per_field in (2, 3):
        size = fields * per_field
        after = reader.pos + size
        if size <= rest and (after == len(reader.data) or reader.data[after] == cells):
            return reader.take(size, f"{where} extra user-defined fields")
    raise DecodeError(
        f"{reader.what}: {where} has user-defined count P={user_defined}: cannot tell where "
        "its extra fields end and the next pack begins"
    )


def parse_analog(info: bytes, variant: Variant = Variant.PYLON) -> AnalogResponse:
    """0x42 reply INFO -> `AnalogResponse` (any number of pack blocks; P = 2, 3 or 4)."""
    reader, flag, value = _header(info, "0x42 reply")
    packs = _read_packs(reader, _analog_blocks(_UNITS[variant]), separators=variant is Variant.PACE)
    return AnalogResponse(flag, value, packs)


# ---------------------------------------------------------------- 0x44 alarm info


class State(enum.IntEnum):
    """One alarm state byte of 0x44.

    Values outside the four documented ones (PACE reserves 80-EF for "user
    defined" faults) are kept, not rejected: ``State(0x83)`` is a pseudo-member
    named ``UNKNOWN_83`` that compares equal to 0x83 and encodes back to it.
    """

    NORMAL = 0x00
    BELOW_LOWER_LIMIT = 0x01
    ABOVE_UPPER_LIMIT = 0x02
    OTHER_FAULT = 0xF0

    @classmethod
    def _missing_(cls, value: object) -> State | None:
        if isinstance(value, int) and 0 <= value <= 0xFF:
            pseudo = int.__new__(cls, value)
            pseudo._name_ = f"UNKNOWN_{value:02X}"
            pseudo._value_ = value
            return pseudo
        return None

    @property
    def known(self) -> bool:
        return self.value in _STATE_TEXT

    @property
    def label(self) -> str:
        return _STATE_TEXT.get(self.value, f"state 0x{self.value:02X}")


_STATE_TEXT = {
    0x00: "normal",
    0x01: "below lower limit",
    0x02: "above upper limit",
    0xF0: "other fault",
}

# (status byte index, bit) -> (kind, name). Status bytes are numbered from 0
# here and from 1 (Status1 ...) in messages. Pylontech: reference §3.4.
_PYLON_FLAGS: dict[tuple[int, int], tuple[str, str]] = {
    (0, 7): ("protection", "module under-voltage"),
    (0, 6): ("protection", "charge over-temperature"),
    (0, 5): ("protection", "discharge over-temperature"),
    (0, 4): ("protection", "discharge over-current"),
    (0, 2): ("protection", "charge over-current"),
    (0, 1): ("protection", "cell under-voltage"),
    (0, 0): ("protection", "module over-voltage"),
    (1, 3): ("status", "using battery power"),
    (1, 2): ("status", "discharge MOSFET on"),
    (1, 1): ("status", "charge MOSFET on"),
    (2, 7): ("status", "charging"),
    (2, 6): ("status", "discharging"),
    (2, 5): ("status", "heater on"),
    (2, 3): ("status", "fully charged"),
    (2, 0): ("status", "buzzer on"),
    **{(3, bit): ("cell_error", str(bit + 1)) for bit in range(8)},
    **{(4, bit): ("cell_error", str(bit + 9)) for bit in range(8)},
}

# PACE: the reference gives no bit layout, only "15 status bytes". These names
# follow the layout public PACE clients read from the PACE document [1 source:
# bmspace constants.py, esphome-pace-bms]: protect state 1 and 2, instruction
# state, control state, fault state, balance state (u16, bit 0 = cell 1),
# warn state 1 and 2. Bytes past these are shown as unknown bits.
_PACE_FLAGS: dict[tuple[int, int], tuple[str, str]] = {
    (0, 0): ("protection", "cell over-voltage"),
    (0, 1): ("protection", "cell under-voltage"),
    (0, 2): ("protection", "pack over-voltage"),
    (0, 3): ("protection", "pack under-voltage"),
    (0, 4): ("protection", "charge over-current"),
    (0, 5): ("protection", "discharge over-current"),
    (0, 6): ("protection", "short circuit"),
    (1, 0): ("protection", "charge over-temperature"),
    (1, 1): ("protection", "discharge over-temperature"),
    (1, 2): ("protection", "charge under-temperature"),
    (1, 3): ("protection", "discharge under-temperature"),
    (1, 4): ("protection", "MOSFET over-temperature"),
    (1, 5): ("protection", "ambient over-temperature"),
    (1, 6): ("protection", "ambient under-temperature"),
    (1, 7): ("status", "fully charged"),
    (2, 0): ("status", "current limit on"),
    (2, 1): ("status", "charge MOSFET on"),
    (2, 2): ("status", "discharge MOSFET on"),
    (2, 3): ("status", "pack indicator on"),
    (2, 4): ("status", "reverse connection"),
    (2, 5): ("status", "AC in"),
    (2, 7): ("status", "heater on"),
    (3, 0): ("status", "buzzer warning enabled"),
    (3, 3): ("status", "current limit low gear"),
    (3, 4): ("status", "current limit disabled"),
    (3, 5): ("status", "LED warning disabled"),
    (4, 0): ("fault", "charge MOSFET fault"),
    (4, 1): ("fault", "discharge MOSFET fault"),
    (4, 2): ("fault", "temperature sensor (NTC) fault"),
    (4, 4): ("fault", "cell fault"),
    (4, 5): ("fault", "sampling fault"),
    **{(5, bit): ("balancing", str(bit + 9)) for bit in range(8)},
    **{(6, bit): ("balancing", str(bit + 1)) for bit in range(8)},
    (7, 0): ("alarm", "cell over-voltage warning"),
    (7, 1): ("alarm", "cell under-voltage warning"),
    (7, 2): ("alarm", "pack over-voltage warning"),
    (7, 3): ("alarm", "pack under-voltage warning"),
    (7, 4): ("alarm", "charge over-current warning"),
    (7, 5): ("alarm", "discharge over-current warning"),
    (8, 0): ("alarm", "charge over-temperature warning"),
    (8, 1): ("alarm", "discharge over-temperature warning"),
    (8, 2): ("alarm", "charge under-temperature warning"),
    (8, 3): ("alarm", "discharge under-temperature warning"),
    (8, 4): ("alarm", "ambient over-temperature warning"),
    (8, 5): ("alarm", "ambient under-temperature warning"),
    (8, 6): ("alarm", "MOSFET over-temperature warning"),
    (8, 7): ("alarm", "low capacity warning"),
}

_FLAGS = {Variant.PYLON: _PYLON_FLAGS, Variant.PACE: _PACE_FLAGS}

# Status bytes per pack: Pylontech 5 (Status1-5), no count byte in front (R12
# and every public emitter; the reference's "count of status bytes (5)" is not
# on the wire). PACE: 15 per the reference's reading of the PACE document,
# 9 in the public captures; a single-pack reply takes whatever is there.
_STATUS_LENGTHS = {Variant.PYLON: (5,), Variant.PACE: (15, 9)}


@dataclass(frozen=True)
class PackAlarm:
    """One pack's 0x44 block: alarm states and the raw status bytes, with names for every flag.

    ``variant`` says how the status bytes are laid out (it is set by the
    parser; the encoder writes the bytes as they are).
    """

    cell_states: tuple[State, ...]
    temperature_states: tuple[State, ...]
    charge_current_state: State
    pack_voltage_state: State
    discharge_current_state: State
    status: tuple[int, ...]
    variant: Variant = Variant.PYLON

    def _flags(self, kind: str) -> tuple[str, ...]:
        table = _FLAGS[self.variant]
        names: list[str] = []
        for index, value in enumerate(self.status):
            for bit in range(7, -1, -1):
                entry = table.get((index, bit))
                if value >> bit & 1 and entry is not None and entry[0] == kind:
                    names.append(entry[1])
        return tuple(names)

    def _states(self) -> list[tuple[str, State]]:
        pairs = [(f"cell {n} voltage", s) for n, s in enumerate(self.cell_states, 1)]
        pairs += [(f"temperature {n}", s) for n, s in enumerate(self.temperature_states, 1)]
        pairs += [
            ("charge current", self.charge_current_state),
            ("pack voltage", self.pack_voltage_state),
            ("discharge current", self.discharge_current_state),
        ]
        return pairs

    @property
    def alarms(self) -> tuple[str, ...]:
        """States that are not normal ("cell 3 voltage above upper limit") + PACE warnings."""
        found = [f"{what} {State(s).label}" for what, s in self._states() if s != State.NORMAL]
        return (*found, *self._flags("alarm"))

    @property
    def protections(self) -> tuple[str, ...]:
        """Protections in force (Pylontech Status1; PACE protect states 1 and 2)."""
        return self._flags("protection")

    @property
    def status_flags(self) -> tuple[str, ...]:
        """Operating flags that are set: MOSFETs on, charging, heater ..."""
        return self._flags("status")

    @property
    def faults(self) -> tuple[str, ...]:
        """Hardware faults (PACE fault state; Pylontech reports them as cell errors)."""
        return self._flags("fault")

    @property
    def cell_errors(self) -> tuple[int, ...]:
        """Cell numbers flagged in error (Pylontech Status4: cells 1-8, Status5: 9-16)."""
        return tuple(sorted(int(n) for n in self._flags("cell_error")))

    @property
    def balancing_cells(self) -> tuple[int, ...]:
        """Cell numbers being balanced (PACE balance state)."""
        return tuple(sorted(int(n) for n in self._flags("balancing")))

    @property
    def unknown_bits(self) -> tuple[str, ...]:
        """Set bits this module has no name for, e.g. "Status1 bit 3"."""
        table = _FLAGS[self.variant]
        return tuple(
            f"Status{index + 1} bit {bit}"
            for index, value in enumerate(self.status)
            for bit in range(8)
            if value >> bit & 1 and (index, bit) not in table
        )

    @property
    def clear(self) -> bool:
        """True when nothing is raised: no alarm, protection, fault, cell error or unknown bit."""
        return not (
            self.alarms or self.protections or self.faults or self.cell_errors or self.unknown_bits
        )

    def to_block(self) -> bytes:
        """This pack's block inside a 0x44 INFO (the status bytes as they are, no count byte)."""
        fields = [
            len(self.cell_states),
            *self.cell_states,
            len(self.temperature_states),
            *self.temperature_states,
            self.charge_current_state,
            self.pack_voltage_state,
            self.discharge_current_state,
            *self.status,
        ]
        return b"".join(_u8(int(value), "0x44 field") for value in fields)


@dataclass(frozen=True)
class AlarmResponse:
    """0x44 reply: one pack, or every pack of the group after an FF request."""

    info_flag: int
    command_value: int
    packs: tuple[PackAlarm, ...]

    def to_info(self, variant: Variant = Variant.PYLON) -> bytes:
        """INFO as a pack sends it; Pylontech packs end it with one extra 00 byte (R12)."""
        if not self.packs:
            raise ValueError("a 0x44 reply carries at least one pack")
        head = _u8(self.info_flag, "INFOFLAG") + _u8(self.command_value, "command value")
        body = b"".join(pack.to_block() for pack in self.packs)
        return head + body + (b"\x00" if variant is Variant.PYLON else b"")


def _alarm_blocks(variant: Variant, status_length: int) -> Callable[[_Reader, int], PackAlarm]:
    def read(reader: _Reader, number: int) -> PackAlarm:
        return _read_alarm_block(reader, number, variant, status_length)

    return read


def _read_alarm_block(
    reader: _Reader, number: int, variant: Variant, status_length: int | None
) -> PackAlarm:
    where = f"pack {number}"
    cells = reader.u8(f"{where} cell count")
    cell_states = reader.take(cells, f"{where} cell states")
    temps = reader.u8(f"{where} temperature count")
    temp_states = reader.take(temps, f"{where} temperature states")
    charge, voltage, discharge = reader.take(3, f"{where} current and voltage states")
    length = reader.left if status_length is None else status_length
    status = reader.take(length, f"{where} status bytes")
    return PackAlarm(
        cell_states=tuple(State(s) for s in cell_states),
        temperature_states=tuple(State(s) for s in temp_states),
        charge_current_state=State(charge),
        pack_voltage_state=State(voltage),
        discharge_current_state=State(discharge),
        status=tuple(status),
        variant=variant,
    )


def parse_alarm(info: bytes, variant: Variant = Variant.PYLON) -> AlarmResponse:
    """0x44 reply INFO -> `AlarmResponse`.

    Pack blocks have the variant's status length; a trailing 00 is tolerated.
    When no fixed length splits the INFO into whole blocks, the reply is read
    as one pack whose status bytes are all that is left, so an unfamiliar
    firmware still shows its states (and its extra bytes as unknown bits).
    """
    reader, flag, value = _header(info, "0x44 reply")
    first_error: DecodeError | None = None
    for length in _STATUS_LENGTHS[variant]:
        reader.pos = 2
        try:
            packs = _read_packs(
                reader, _alarm_blocks(variant, length), separators=variant is Variant.PACE
            )
        except DecodeError as e:
            first_error = first_error or e
            continue
        # Several PACE lengths are tried: a multi-pack split must also match the
        # pack count a group reply states, or zeros could tile by accident.
        if len(packs) == 1 or len(packs) == value or len(_STATUS_LENGTHS[variant]) == 1:
            return AlarmResponse(flag, value, packs)
    reader.pos = 2
    try:
        pack = _read_alarm_block(reader, 1, variant, None)
    except DecodeError:
        if first_error is not None:
            raise first_error from None
        raise
    return AlarmResponse(flag, value, (pack,))


# ---------------------------------------------------------------- 0x47 system parameters


@dataclass(frozen=True)
class SystemParameters:
    """0x47 reply: the pack's own protection thresholds (DCL negative, as sent)."""

    cell_high_v: float
    cell_low_v: float
    cell_under_v: float
    charge_high_temp_c: float
    charge_low_temp_c: float
    charge_current_limit_a: float
    module_high_v: float
    module_low_v: float
    module_under_v: float
    discharge_high_temp_c: float
    discharge_low_temp_c: float
    discharge_current_limit_a: float
    info_flag: int = 0

    def to_info(self, variant: Variant = Variant.PYLON) -> bytes:
        units = _UNITS[variant]
        return b"".join(
            (
                _u8(self.info_flag, "INFOFLAG"),
                _u16(self.cell_high_v, 1000, "cell high voltage"),
                _u16(self.cell_low_v, 1000, "cell low voltage"),
                _u16(self.cell_under_v, 1000, "cell under-voltage"),
                _s16(self.charge_high_temp_c, 10, "charge high temperature", units.temp_offset),
                _s16(self.charge_low_temp_c, 10, "charge low temperature", units.temp_offset),
                _s16(self.charge_current_limit_a, units.current_per_a, "charge current limit"),
                _u16(self.module_high_v, 1000, "module high voltage"),
                _u16(self.module_low_v, 1000, "module low voltage"),
                _u16(self.module_under_v, 1000, "module under-voltage"),
                _s16(self.discharge_high_temp_c, 10, "discharge high temp", units.temp_offset),
                _s16(self.discharge_low_temp_c, 10, "discharge low temp", units.temp_offset),
                _s16(
                    self.discharge_current_limit_a, units.current_per_a, "discharge current limit"
                ),
            )
        )


def parse_system_parameters(info: bytes, variant: Variant = Variant.PYLON) -> SystemParameters:
    """0x47 reply INFO (INFOFLAG + 12 fields, 25 bytes) -> `SystemParameters`."""
    units = _UNITS[variant]
    reader = _Reader(info, "0x47 reply")
    flag = reader.u8("INFOFLAG")
    (
        cell_high,
        cell_low,
        cell_under,
        chg_high_t,
        chg_low_t,
        ccl,
        mod_high,
        mod_low,
        mod_under,
        dis_high_t,
        dis_low_t,
        dcl,
    ) = reader.array(12, "H", "the 12 parameter fields")
    reader.done()

    def signed(raw: int) -> int:
        return raw - 0x10000 if raw & 0x8000 else raw

    return SystemParameters(
        cell_high_v=_volts(cell_high),
        cell_low_v=_volts(cell_low),
        cell_under_v=_volts(cell_under),
        charge_high_temp_c=_temp(signed(chg_high_t), units),
        charge_low_temp_c=_temp(signed(chg_low_t), units),
        charge_current_limit_a=_amps(signed(ccl), units),
        module_high_v=_volts(mod_high),
        module_low_v=_volts(mod_low),
        module_under_v=_volts(mod_under),
        discharge_high_temp_c=_temp(signed(dis_high_t), units),
        discharge_low_temp_c=_temp(signed(dis_low_t), units),
        discharge_current_limit_a=_amps(signed(dcl), units),
        info_flag=flag,
    )


# ---------------------------------------------------------------- 0x92 management info

_MGMT_KNOWN_BITS = 0xF8  # b7..b3; b2..b0 are undocumented and kept as they came


@dataclass(frozen=True)
class ManagementInfo:
    """0x92 reply: charge/discharge limits and request flags.

    Current limits are signed as on the wire: real packs send DCL negative.
    ``other_status_bits`` keeps the undocumented low bits of the status byte.
    """

    command_value: int
    charge_voltage_limit_v: float
    discharge_voltage_limit_v: float
    charge_current_limit_a: float
    discharge_current_limit_a: float
    charge_enable: bool
    discharge_enable: bool
    charge_immediately_1: bool
    charge_immediately_2: bool
    full_charge_request: bool
    other_status_bits: int = 0

    @property
    def status_byte(self) -> int:
        return (
            self.charge_enable << 7
            | self.discharge_enable << 6
            | self.charge_immediately_1 << 5
            | self.charge_immediately_2 << 4
            | self.full_charge_request << 3
            | (self.other_status_bits & ~_MGMT_KNOWN_BITS & 0xFF)
        )

    def to_info(self, variant: Variant = Variant.PYLON) -> bytes:
        units = _UNITS[variant]
        if self.other_status_bits & _MGMT_KNOWN_BITS or self.other_status_bits < 0:
            raise ValueError("other_status_bits holds only bits 0-2 of the status byte")
        return b"".join(
            (
                _u8(self.command_value, "command value"),
                _u16(self.charge_voltage_limit_v, 1000, "charge voltage limit"),
                _u16(self.discharge_voltage_limit_v, 1000, "discharge voltage limit"),
                _s16(self.charge_current_limit_a, units.current_per_a, "charge current limit"),
                _s16(
                    self.discharge_current_limit_a, units.current_per_a, "discharge current limit"
                ),
                bytes([self.status_byte]),
            )
        )


def parse_management(info: bytes, variant: Variant = Variant.PYLON) -> ManagementInfo:
    """0x92 reply INFO (10 bytes) -> `ManagementInfo`.

    Flag bits follow the reference: b5 charge immediately 1, b4 charge
    immediately 2 (python-pylontech names them the other way round).
    """
    units = _UNITS[variant]
    reader = _Reader(info, "0x92 reply")
    value = reader.u8("command value")
    cvl = reader.u16("charge voltage limit")
    dvl = reader.u16("discharge voltage limit")
    ccl = reader.s16("charge current limit")
    dcl = reader.s16("discharge current limit")
    status = reader.u8("status")
    reader.done()
    return ManagementInfo(
        command_value=value,
        charge_voltage_limit_v=_volts(cvl),
        discharge_voltage_limit_v=_volts(dvl),
        charge_current_limit_a=_amps(ccl, units),
        discharge_current_limit_a=_amps(dcl, units),
        charge_enable=bool(status & 0x80),
        discharge_enable=bool(status & 0x40),
        charge_immediately_1=bool(status & 0x20),
        charge_immediately_2=bool(status & 0x10),
        full_charge_request=bool(status & 0x08),
        other_status_bits=status & ~_MGMT_KNOWN_BITS & 0xFF,
    )


# ---------------------------------------------------------------- 0x93 serial number

SERIAL_BYTES = 16


@dataclass(frozen=True)
class SerialNumber:
    """0x93 reply: the pack's serial (16 ASCII bytes on the wire, padding removed)."""

    command_value: int
    serial: str

    def to_info(self, variant: Variant = Variant.PYLON) -> bytes:
        return _u8(self.command_value, "command value") + _text_bytes(
            self.serial, SERIAL_BYTES, "serial"
        )


def parse_serial_number(info: bytes, variant: Variant = Variant.PYLON) -> SerialNumber:
    """0x93 reply INFO -> `SerialNumber`. Any text length is accepted (vendors differ)."""
    reader = _Reader(info, "0x93 reply")
    value = reader.u8("command value")
    return SerialNumber(value, _text(reader.take(reader.left, "serial")))


# ---------------------------------------------------------------- 0x51 manufacturer info

DEVICE_NAME_BYTES = 10
MANUFACTURER_BYTES = 20


@dataclass(frozen=True)
class ManufacturerInfo:
    """0x51 reply: device name, software version, manufacturer (no INFOFLAG).

    Text is kept as sent apart from NUL/space padding: Pylontech pads the
    manufacturer with '-' ("Pylon---------------"), and that is what it says.
    """

    device_name: str
    software_version: tuple[int, int]
    manufacturer: str

    @property
    def software_text(self) -> str:
        return ".".join(str(part) for part in self.software_version)

    def to_info(self, variant: Variant = Variant.PYLON) -> bytes:
        major, minor = self.software_version
        return (
            _text_bytes(self.device_name, DEVICE_NAME_BYTES, "device name")
            + _u8(major, "software major version")
            + _u8(minor, "software minor version")
            + _text_bytes(self.manufacturer, MANUFACTURER_BYTES, "manufacturer")
        )


def parse_manufacturer_info(info: bytes, variant: Variant = Variant.PYLON) -> ManufacturerInfo:
    """0x51 reply INFO (10 B name, 2 B version, manufacturer: the rest) -> `ManufacturerInfo`."""
    reader = _Reader(info, "0x51 reply")
    name = reader.take(DEVICE_NAME_BYTES, "device name")
    major = reader.u8("software major version")
    minor = reader.u8("software minor version")
    maker = reader.take(reader.left, "manufacturer")
    return ManufacturerInfo(_text(name), (major, minor), _text(maker))


# ---------------------------------------------------------------- 0x96 firmware


@dataclass(frozen=True)
class FirmwareVersion:
    """0x96 reply: manufacture (hardware) version and main-line (firmware) version."""

    command_value: int
    manufacture_version: tuple[int, int]
    mainline_version: tuple[int, int, int]

    @property
    def manufacture_text(self) -> str:
        return ".".join(str(part) for part in self.manufacture_version)

    @property
    def mainline_text(self) -> str:
        return ".".join(str(part) for part in self.mainline_version)

    def to_info(self, variant: Variant = Variant.PYLON) -> bytes:
        parts = (self.command_value, *self.manufacture_version, *self.mainline_version)
        if len(parts) != 6:
            raise ValueError("versions are 2 and 3 numbers long")
        return b"".join(_u8(part, "firmware version field") for part in parts)


def parse_firmware_version(info: bytes, variant: Variant = Variant.PYLON) -> FirmwareVersion:
    """0x96 reply INFO (6 bytes) -> `FirmwareVersion`."""
    reader = _Reader(info, "0x96 reply")
    value, m1, m2, f1, f2, f3 = reader.take(6, "command value and versions")
    reader.done()
    return FirmwareVersion(value, (m1, m2), (f1, f2, f3))


# ---------------------------------------------------------------- 0x4F protocol version


@dataclass(frozen=True)
class ProtocolVersion:
    """0x4F reply: the version is the reply's VER byte (0x20 -> "2.0"); INFO is empty."""

    ver: int

    @property
    def text(self) -> str:
        return f"{self.ver >> 4}.{self.ver & 0xF}"

    def to_info(self, variant: Variant = Variant.PYLON) -> bytes:
        return b""


# ---------------------------------------------------------------- responses

Response: TypeAlias = (
    AnalogResponse
    | AlarmResponse
    | SystemParameters
    | ManagementInfo
    | SerialNumber
    | ManufacturerInfo
    | FirmwareVersion
    | ProtocolVersion
)

_PARSERS: dict[int, Callable[[bytes, Variant], Response]] = {
    Command.ANALOG: parse_analog,
    Command.ALARM: parse_alarm,
    Command.SYSTEM_PARAMETERS: parse_system_parameters,
    Command.MANAGEMENT: parse_management,
    Command.SERIAL_NUMBER: parse_serial_number,
    Command.MANUFACTURER_INFO: parse_manufacturer_info,
    Command.FIRMWARE: parse_firmware_version,
}


def build_response(
    adr: int, info: bytes, *, ver: int = VER_PYLON, rtn: Rtn | int = Rtn.NORMAL
) -> bytes:
    """A response ready for the wire: ``build_response(2, reply.to_info(variant), ver=...)``."""
    return Frame(ver, adr, CID1_BATTERY, int(rtn), info).encode()


def check_rtn(frame: Frame) -> None:
    """Raise `ReturnCodeError` (or `DecodeError` for an unknown code) unless RTN is 00."""
    if frame.cid2 == Rtn.NORMAL:
        return
    try:
        rtn = Rtn(frame.cid2)
    except ValueError:
        raise DecodeError(f"unknown RTN 0x{frame.cid2:02X}", frame=frame.encode()) from None
    raise ReturnCodeError(rtn, frame=frame.encode())


def parse_response(frame: Frame, command: Command | int) -> Response:
    """The typed reply to `command`; the variant comes from the frame's VER."""
    if frame.cid1 != CID1_BATTERY:
        raise DecodeError(
            f"CID1 0x{frame.cid1:02X} is not a battery reply (0x{CID1_BATTERY:02X})",
            frame=frame.encode(),
        )
    check_rtn(frame)
    cid2 = int(command)
    if cid2 == Command.PROTOCOL_VERSION:
        # The answer is the VER byte; INFO should be empty and is not read.
        return ProtocolVersion(frame.ver)
    parser = _PARSERS.get(cid2)
    if parser is None:
        known = ", ".join(f"0x{int(c):02X}" for c in Command)
        raise DecodeError(f"no decoder for replies to command 0x{cid2:02X} (known: {known})")
    try:
        return parser(frame.info, frame.variant)
    except DecodeError as e:
        if e.frame is None:
            e.frame = frame.encode()
        raise


def _printable(raw: bytes) -> bool:
    text = raw.rstrip(b"\x00 ")
    return bool(text) and all(0x20 <= b < 0x7F for b in text)


def infer_command(frame: Frame) -> Command | None:
    """Guess which command a normal reply answers from its INFO layout alone.

    Returns a command only when exactly one layout fits: the fixed-size
    replies by length (0x96: 6, 0x92: 10, 0x93: 17 with ASCII text, 0x47: 25,
    0x51: 32 with an ASCII name), 0x42 and 0x44 by parsing whole pack blocks
    (0x44 with only documented state values), 0x4F by an empty INFO. Error
    replies (RTN != 0) and anything ambiguous give None.
    """
    if frame.cid1 != CID1_BATTERY or frame.cid2 != Rtn.NORMAL:
        return None
    info = frame.info
    if not info:
        return Command.PROTOCOL_VERSION
    variant = frame.variant
    candidates: list[Command] = []
    size = len(info)
    if size == 6:
        candidates.append(Command.FIRMWARE)
    if size == 10:
        candidates.append(Command.MANAGEMENT)
    if size == 1 + SERIAL_BYTES and _printable(info[1:]):
        candidates.append(Command.SERIAL_NUMBER)
    if size == 25:
        candidates.append(Command.SYSTEM_PARAMETERS)
    if size == DEVICE_NAME_BYTES + 2 + MANUFACTURER_BYTES and _printable(info[:DEVICE_NAME_BYTES]):
        candidates.append(Command.MANUFACTURER_INFO)
    try:
        analog = parse_analog(info, variant)
        if all(pack.cell_voltages_v for pack in analog.packs):
            candidates.append(Command.ANALOG)
    except DecodeError:
        pass
    if _strict_alarm_fits(info, variant):
        candidates.append(Command.ALARM)
    return candidates[0] if len(candidates) == 1 else None


def _strict_alarm_fits(info: bytes, variant: Variant) -> bool:
    # No single-pack fallback here: it would accept almost anything.
    for length in _STATUS_LENGTHS[variant]:
        if len(info) < 2:
            return False
        reader = _Reader(info, "0x44 reply", pos=2)
        try:
            packs = _read_packs(reader, _alarm_blocks(variant, length), separators=False)
        except DecodeError:
            continue
        if all(
            pack.cell_states
            and all(State(s).known for s in pack.cell_states)
            and all(State(s).known for s in pack.temperature_states)
            for pack in packs
        ):
            return True
    return False
