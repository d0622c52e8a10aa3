"""Pylontech RS485 codec: the public example frames, round trips, and hostile input.

Every frame in EXAMPLES is from reference/protocols.md §4 (public captures and
the vendor documents, LENGTH/CHKSUM verified) unless its comment names another
public source; the expected values are the ones those sources state.
"""

from __future__ import annotations

import string
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from active_cli.errors import DecodeError
from active_cli.protocols import pylon_rs485 as rs
from active_cli.protocols.pylon_rs485 import (
    AlarmResponse,
    AnalogResponse,
    Command,
    FirmwareVersion,
    Frame,
    FrameError,
    ManagementInfo,
    ManufacturerInfo,
    PackAlarm,
    PackAnalog,
    ProtocolVersion,
    Request,
    ReturnCodeError,
    Rtn,
    SerialNumber,
    State,
    SystemParameters,
    Variant,
)

N = State.NORMAL


def _analog(
    flag: int,
    value: int,
    cells: tuple[float, ...],
    temps: tuple[float, ...],
    *numbers: float,
    design_ah: float | None = None,
) -> AnalogResponse:
    """A one-pack 0x42 reply; `numbers`: current, voltage, remaining, full, cycles."""
    current, voltage, remaining, full, cycles = numbers
    pack = PackAnalog(cells, temps, current, voltage, remaining, full, int(cycles), design_ah)
    return AnalogResponse(flag, value, (pack,))


# fmt: off
R2_CELLS = (3.397, 3.396, 3.397, 3.396, 3.397, 3.396, 3.390, 3.397,
            3.402, 3.402, 3.403, 3.402, 3.402, 3.402, 3.402)
R2_TEMPS = (28.0, 28.0, 28.0, 29.0, 29.0)

# (name, frame as printed in the reference (CR omitted), command, expected value)
EXAMPLES: list[tuple[str, str, int, Any]] = [
    ("R2",
     "~20024600F07A11020F0D450D440D450D440D450D440D3E0D450D4A0D4A0D4B0D4A0D4A0D4A0D4A"
     "050BC30BC30BC30BCD0BCD0000C725FFFF04FFFF000200CA58012110E27A",
     0x42,
     _analog(0x11, 2, R2_CELLS, R2_TEMPS, 0.0, 50.981, 51.8, 74.0, 2)),
    ("R3",
     "~20014600C06E11010F0D450D440D450D440D450D440D3E0D450D4A0D4A0D4B0D4A0D4A0D4A0D4A"
     "050BC30BC30BC30BCD0BCD0000C725BF6802C3500002E553",
     0x42,
     _analog(0x11, 1, R2_CELLS, R2_TEMPS, 0.0, 50.981, 49.0, 50.0, 2)),
    # The reference summarises these cells as "3.330-3.331 V"; the frame (valid
    # CHKSUM) also holds 3.328 and 3.329, and that is what it decodes to.
    ("R7",
     "~20024600D05E1002080D020D020D020D030D000D010D010D03050B7D0B690B690B690B73"
     "FFFA680EFFFF04FFFF00000174E401B198E906",
     0x42,
     _analog(0x10, 2, (3.330, 3.330, 3.330, 3.331, 3.328, 3.329, 3.329, 3.331),
             (21.0, 19.0, 19.0, 19.0, 20.0), -0.6, 26.638, 95.46, 111.0, 0)),
    ("R8",
     "~20024600B014026EF05AA0022BFDD5C0F915",
     0x92,
     ManagementInfo(2, 28.4, 23.2, 55.5, -55.5, True, True, False, False, False)),
    ("R9",
     "~20024600C06E10020F0C9A0C980C990C980C9A0C9A0C990C9B0C9C0C9A0C9B0C9B0C9B0C9B0C99"
     "050B740B550B570B530B630000BD06190F02C3500084E545",
     0x42,
     _analog(0x10, 2, (3.226, 3.224, 3.225, 3.224, 3.226, 3.226, 3.225, 3.227,
                       3.228, 3.226, 3.227, 3.227, 3.227, 3.227, 3.225),
             (20.1, 17.0, 17.2, 16.8, 18.4), 0.0, 48.39, 6.415, 50.0, 132)),
    ("R10",
     "~20024600C0220248505443523033313731313132353930F6D2",
     0x93,
     SerialNumber(2, "HPTCR03171112590")),
    ("R12",
     "~20024600A04210020F000000000000000000000000000000050000000000000000000E00000000F108",
     0x44,
     AlarmResponse(0x10, 2, (PackAlarm((N,) * 15, (N,) * 5, N, N, N, (0, 0x0E, 0, 0, 0)),))),
    ("R13",
     "~20024600C04055533230303043000000010750796C6F6E2D2D2D2D2D2D2D2D2D2D2D2D2D2D2DEFBD",
     0x51,
     ManufacturerInfo("US2000C", (1, 7), "Pylon" + "-" * 15)),
    ("R15", "~200246000000FDB2", 0x4F, ProtocolVersion(0x20)),
    ("R16", "~20024600400C020103000609FB46", 0x96, FirmwareVersion(2, (1, 3), (0, 6, 9))),
    ("R17",
     "~20024600B032100E420BEA0AF00D030A470384D2F0B3B0A7F80D030A47FC7CF27F",
     0x47,
     SystemParameters(3.65, 3.05, 2.8, 60.0, -10.0, 90.0,
                      54.0, 46.0, 43.0, 60.0, -10.0, -90.0, info_flag=0x10)),
    ("R23",
     "~25024600F07A0002100D370CE50D080CED0D060CE70D1D0CEB0CF80CFA0CFB0D070CE10CF10CC20D06"
     "060BAA0BAC0BA60BA70BA90BB20000CF9406D603138800001388E261",
     0x42,
     _analog(0x00, 2, (3.383, 3.301, 3.336, 3.309, 3.334, 3.303, 3.357, 3.307,
                       3.320, 3.322, 3.323, 3.335, 3.297, 3.313, 3.266, 3.334),
             (25.6, 25.8, 25.2, 25.3, 25.5, 26.4), 0.0, 53.14, 17.5, 50.0, 0, design_ah=50.0)),
    ("X1",
     "~20024600B07E1102100CE40CE50CE60CE70CE80CE90CEA0CEB0CEC0CED0CEE0CEF0CF00CF10CF20CF3"
     "050BAF0BA50BA50BA60BA7007BCEA4FFFF04FFFF000C0138800186A0E087",
     0x42,
     _analog(0x11, 2, (3.300, 3.301, 3.302, 3.303, 3.304, 3.305, 3.306, 3.307,
                       3.308, 3.309, 3.310, 3.311, 3.312, 3.313, 3.314, 3.315),
             (26.0, 25.0, 25.0, 25.1, 25.2), 12.3, 52.9, 80.0, 100.0, 12)),
    # esphome-pace-bms (pace_bms_protocol_v25.cpp), exampleReadAnalogInformationResponseV25
    ("PACE-0x42-esphome",
     "~25014600F07A0001100CC70CC80CC70CC70CC70CC50CC60CC70CC70CC60CC70CC60CC60CC70CC60CC7"
     "060B9B0B990B990B990BB30BBCFF1FCCCD12D303286A008C2710E1E4",
     0x42,
     _analog(0x00, 1, (3.271, 3.272, 3.271, 3.271, 3.271, 3.269, 3.270, 3.271,
                       3.271, 3.270, 3.271, 3.270, 3.270, 3.271, 3.270, 3.271),
             (24.1, 23.9, 23.9, 23.9, 26.5, 27.4), -2.25, 52.429, 48.19, 103.46, 140,
             design_ah=100.0)),
    # esphome-pace-bms, exampleReadStatusInformationResponseV25: 9 status bytes
    ("PACE-0x44-esphome",
     "~25014600004C000110000000000000000000000000000000000600000000000000000000000E"
     "000000000000EF3A",
     0x44,
     AlarmResponse(0x00, 1, (PackAlarm((N,) * 16, (N,) * 6, N, N, N,
                                       (0, 0, 0x0E, 0, 0, 0, 0, 0, 0), Variant.PACE),))),
]
# fmt: on

EXAMPLE_IDS = [name for name, *_ in EXAMPLES]
TEXT = {name: text for name, text, _, _ in EXAMPLES}
VALUE = {name: value for name, _, _, value in EXAMPLES}

# Requests quoted in reference §4, with what they ask.
REQUESTS: list[tuple[str, Request]] = [
    ("~20024642E00202FD33", Request(0x20, 2, 0x42, 2, False, None, b"\x02")),  # R1
    ("~20024693E00202FD2D", Request(0x20, 2, 0x93, 2, False, None, b"\x02")),  # R10
    ("~20024644E00202FD31", Request(0x20, 2, 0x44, 2, False, None, b"\x02")),  # R12
    ("~200246510000FDAC", Request(0x20, 2, 0x51, None, False)),  # R13
    ("~20024642E002FFFD09", Request(0x20, 2, 0x42, None, True, None, b"\xff")),
    ("~200046510000FDAE", Request(0x20, 0, 0x51, None, False)),
    ("~0002464FE00202FD21", Request(0x00, 2, 0x4F, 2, False, None, b"\x02")),
    ("~20024651E00202FD33", Request(0x20, 2, 0x51, 2, False, None, b"\x02")),
    ("~20024647E00202FD2E", Request(0x20, 2, 0x47, 2, False, None, b"\x02")),
    ("~20024692E00202FD2E", Request(0x20, 2, 0x92, 2, False, None, b"\x02")),
    ("~20024696E00202FD2A", Request(0x20, 2, 0x96, 2, False, None, b"\x02")),
    ("~250246900000FDA4", Request(0x25, 2, 0x90, None, False)),
]


def _wire(text: str) -> bytes:
    return text.encode("ascii") + b"\r"


# ---------------------------------------------------------------- LENGTH and CHKSUM

LENGTH_EXAMPLES = [
    (0, 0x0000),
    (2, 0xE002),
    (4, 0xC004),
    (18, 0xD012),
    (20, 0xB014),
    (34, 0xC022),
    (50, 0xB032),
    (64, 0xC040),
    (66, 0xA042),
    (110, 0xC06E),
    (122, 0xF07A),
    (126, 0xB07E),
    (240, 0x10F0),
]


@pytest.mark.parametrize(("lenid", "expected"), LENGTH_EXAMPLES)
def test_length_field_examples(lenid: int, expected: int) -> None:
    assert rs.length_field(lenid) == expected


def test_lchksum_zero_keeps_four_digits() -> None:
    # 240 = 0x0F0: nibble sum 15 -> LCHKSUM 1; 0x0FF has sum 30 -> 2; 0x1F0 -> sum 16 -> 0.
    assert f"{rs.length_field(0x1F0):04X}" == "01F0"
    assert rs.Frame(0x20, 2, 0x46, 0, bytes(0x1F0 // 2)).encode()[9:13] == b"01F0"


@pytest.mark.parametrize("bad", [-1, 0x1000])
def test_length_field_rejects_values_lenid_cannot_hold(bad: int) -> None:
    with pytest.raises(ValueError):
        rs.length_field(bad)


def test_checksum_worked_example() -> None:
    assert rs.checksum(b"20024642E00202") == 0xFD33
    assert rs.checksum(b"") == 0


def test_v33_documented_checksum_is_wrong_and_ours_is_right() -> None:
    # Reference §3.2: V3.3's 0x42 example prints E1A2; R2 carries the correct E27A.
    text = TEXT["R2"]
    assert text.endswith("E27A")
    assert rs.checksum(text[1:-4].encode()) == 0xE27A


# ---------------------------------------------------------------- the example frames


@pytest.mark.parametrize(("name", "text", "command", "expected"), EXAMPLES, ids=EXAMPLE_IDS)
def test_example_response_decodes_to_stated_values(
    name: str, text: str, command: int, expected: Any
) -> None:
    frame = rs.decode_frame(_wire(text))
    assert frame.cid1 == rs.CID1_BATTERY and frame.cid2 == Rtn.NORMAL
    assert rs.parse_response(frame, command) == expected
    # The same text pasted by an installer (no CR) decodes the same.
    assert rs.decode_frame(text) == frame


@pytest.mark.parametrize(("name", "text", "command", "expected"), EXAMPLES, ids=EXAMPLE_IDS)
def test_example_response_re_encodes_byte_for_byte(
    name: str, text: str, command: int, expected: Any
) -> None:
    frame = rs.decode_frame(text)
    variant = Variant.from_ver(frame.ver)
    info = expected.to_info(variant)
    assert rs.build_response(frame.adr, info, ver=frame.ver) == _wire(text)
    assert frame.encode() == _wire(text)


@pytest.mark.parametrize(("name", "text", "command", "expected"), EXAMPLES, ids=EXAMPLE_IDS)
def test_infer_command_recognises_every_example(
    name: str, text: str, command: int, expected: Any
) -> None:
    assert rs.infer_command(rs.decode_frame(text)) == command


def test_x1_is_rebuilt_from_its_values() -> None:
    pack = PackAnalog(
        cell_voltages_v=tuple(round(3.300 + i / 1000, 3) for i in range(16)),
        temperatures_c=(26.0, 25.0, 25.0, 25.1, 25.2),
        current_a=12.3,
        voltage_v=52.9,
        remaining_ah=80.0,
        full_ah=100.0,
        cycles=12,
    )
    info = AnalogResponse(0x11, 2, (pack,)).to_info()
    assert rs.build_response(2, info) == _wire(TEXT["X1"])


def test_example_values_in_plain_words() -> None:
    r2 = rs.parse_response(rs.decode_frame(TEXT["R2"]), Command.ANALOG)
    assert isinstance(r2, AnalogResponse)
    assert r2.packs[0].soc_pct == 70.0
    r13 = rs.parse_response(rs.decode_frame(TEXT["R13"]), Command.MANUFACTURER_INFO)
    assert isinstance(r13, ManufacturerInfo) and r13.software_text == "1.7"
    r15 = rs.parse_response(rs.decode_frame("~200246000000FDB2"), Command.PROTOCOL_VERSION)
    assert isinstance(r15, ProtocolVersion) and r15.text == "2.0"
    r16 = rs.parse_response(rs.decode_frame("~20024600400C020103000609FB46"), Command.FIRMWARE)
    assert isinstance(r16, FirmwareVersion)
    assert (r16.manufacture_text, r16.mainline_text) == ("1.3", "0.6.9")


def test_r12_flags_by_name() -> None:
    reply = rs.parse_response(rs.decode_frame(TEXT["R12"]), Command.ALARM)
    assert isinstance(reply, AlarmResponse)
    pack = reply.packs[0]
    assert pack.status_flags == ("using battery power", "discharge MOSFET on", "charge MOSFET on")
    assert pack.alarms == pack.protections == pack.faults == pack.unknown_bits == ()
    assert pack.cell_errors == ()
    assert pack.clear


def test_r22_error_reply_raises_return_code_error() -> None:
    frame = rs.decode_frame("~200246040000FDAE")
    assert rs.infer_command(frame) is None
    with pytest.raises(ReturnCodeError) as caught:
        rs.parse_response(frame, Command.ANALOG)
    assert caught.value.rtn is Rtn.CID2_INVALID
    assert str(caught.value) == "BMS answered RTN 04: CID2 invalid"
    assert isinstance(caught.value, DecodeError)


def test_r22_is_what_build_response_makes_for_rtn_04() -> None:
    assert rs.build_response(2, b"", rtn=Rtn.CID2_INVALID) == b"~200246040000FDAE\r"


def test_unknown_rtn_is_a_decode_error() -> None:
    frame = rs.decode_frame(rs.build_response(2, b"", rtn=0x7A))
    with pytest.raises(DecodeError, match=r"^unknown RTN 0x7A$") as caught:
        rs.parse_response(frame, Command.ANALOG)
    assert not isinstance(caught.value, ReturnCodeError)


@pytest.mark.parametrize("rtn", list(Rtn)[1:])
def test_every_error_rtn_is_named(rtn: Rtn) -> None:
    frame = rs.decode_frame(rs.build_response(3, b"", rtn=rtn))
    with pytest.raises(ReturnCodeError, match=f"^BMS answered RTN {rtn.value:02X}: ") as caught:
        rs.parse_response(frame, Command.SERIAL_NUMBER)
    assert caught.value.rtn is rtn


# ---------------------------------------------------------------- requests


@pytest.mark.parametrize(("text", "expected"), REQUESTS, ids=[t for t, _ in REQUESTS])
def test_real_client_requests_parse(text: str, expected: Request) -> None:
    assert rs.parse_request(rs.decode_frame(text)) == expected


@pytest.mark.parametrize(
    ("args", "kwargs", "text"),
    [
        ((Command.ANALOG, 2), {}, "~20024642E00202FD33"),
        ((Command.ANALOG, 2), {"info": bytes([rs.GROUP_ADR_INFO])}, "~20024642E002FFFD09"),
        ((Command.ALARM, 2), {}, "~20024644E00202FD31"),
        ((Command.SYSTEM_PARAMETERS, 2), {}, "~20024647E00202FD2E"),
        ((Command.MANAGEMENT, 2), {}, "~20024692E00202FD2E"),
        ((Command.SERIAL_NUMBER, 2), {}, "~20024693E00202FD2D"),
        ((Command.FIRMWARE, 2), {}, "~20024696E00202FD2A"),
        ((Command.MANUFACTURER_INFO, 2), {}, "~200246510000FDAC"),
        ((Command.MANUFACTURER_INFO, 0), {}, "~200046510000FDAE"),
        ((Command.PROTOCOL_VERSION, 2), {"ver": 0x00, "info": b"\x02"}, "~0002464FE00202FD21"),
        ((0x90, 2), {"ver": rs.VER_PACE}, "~250246900000FDA4"),
    ],
)
def test_build_request_matches_real_clients(
    args: tuple[int, int], kwargs: dict[str, Any], text: str
) -> None:
    assert rs.build_request(*args, **kwargs) == _wire(text)


def test_requests_end_in_cr_only_and_are_uppercase() -> None:
    raw = rs.build_request(Command.ANALOG, 0x1A, info=b"\xab\xcd")
    assert raw.endswith(b"\r") and not raw.endswith(b"\n\r") and b"\n" not in raw
    assert raw[1:-1] == raw[1:-1].upper()


def test_lowercase_request_is_accepted() -> None:
    body = b"20024642e002ff"
    text = "~" + body.decode() + f"{rs.checksum(body):04x}"
    request = rs.parse_request(rs.decode_frame(text))
    assert request.group and request.command == Command.ANALOG and request.pack_adr is None


def test_lowercase_hex_with_uppercase_checksum_sum_is_accepted() -> None:
    # A client that summed the uppercase text and then sent it lowercased.
    upper = b"20024642E002FF"
    text = "~" + upper.decode().lower() + f"{rs.checksum(upper):04X}"
    assert rs.decode_frame(text).info == b"\xff"


def test_request_with_adr_and_index() -> None:
    frame = rs.decode_frame(rs.build_request(Command.ANALOG, 2, info=b"\x03\x01"))
    request = rs.parse_request(frame)
    assert (request.target_adr, request.index, request.group) == (3, 1, False)
    assert request.pack_adr == 3


def test_request_without_info_asks_the_header_address() -> None:
    frame = rs.decode_frame(rs.build_request(Command.ANALOG, 5, info=b""))
    request = rs.parse_request(frame)
    assert request.target_adr is None and request.pack_adr == 5
    assert request.variant is Variant.PYLON


def test_request_with_too_much_info_is_rejected() -> None:
    frame = rs.decode_frame(rs.build_request(Command.ANALOG, 2, info=b"\x02\x00\x00"))
    with pytest.raises(DecodeError, match="carries 3 INFO bytes"):
        rs.parse_request(frame)


def test_unknown_command_keeps_its_info() -> None:
    frame = rs.decode_frame(rs.build_request(0x99, 2, info=b"\x01\x02\x03"))
    request = rs.parse_request(frame)
    assert request.command == 0x99 and request.info == b"\x01\x02\x03"
    assert request.target_adr is None


def test_request_to_another_device_class_is_rejected() -> None:
    frame = rs.decode_frame(Frame(0x20, 2, 0x4A, 0x42, b"\x02").encode())
    with pytest.raises(DecodeError, match="CID1 0x4A"):
        rs.parse_request(frame)
    with pytest.raises(DecodeError, match="CID1 0x4A"):
        rs.parse_response(frame, Command.ANALOG)


@given(
    command=st.sampled_from([*Command, 0x90]),
    adr=st.integers(0, 255),
    ver=st.sampled_from([0x00, rs.VER_PYLON, rs.VER_PACE]),
    info=st.none() | st.binary(max_size=2),
)
def test_request_round_trip(command: int, adr: int, ver: int, info: bytes | None) -> None:
    raw = rs.build_request(command, adr, ver=ver, info=info)
    request = rs.parse_request(rs.decode_frame(raw))
    sent = (
        info
        if info is not None
        else (bytes([adr]) if command in set(Command) - {0x4F, 0x51} else b"")
    )
    assert (request.ver, request.adr, request.command, request.info) == (ver, adr, command, sent)
    assert request.group == (sent[:1] == b"\xff")
    if sent and not request.group:
        assert request.target_adr == sent[0]
    assert request.index == (sent[1] if len(sent) == 2 else None)


# ---------------------------------------------------------------- decode_frame errors


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"~20024642E00202FD34\r", "bad CHKSUM: frame says FD34, computed FD33"),
        ("~20024642E00202FD34", "bad CHKSUM: frame says FD34, computed FD33"),
        (b"~20024642F00202FD33\r", "bad LCHKSUM: LENGTH F002 says F, computed E for LENID 2"),
        (b"~20024642E0020FD33\r", "LENID says 2 INFO digits, the frame carries 1"),
        (b"~20024642E002022FD33\r", "LENID says 2 INFO digits, the frame carries 3"),
        (b"~20024642D003020FD33\r", "LENID 3 is odd: INFO must be whole bytes"),
        (b"20024642E00202FD33\r", "no SOI: a frame starts with '~', this starts with '2'"),
        (b"~20024642E00202FD33", "no EOI: a frame ends with CR, this ends with '3'"),
        (b"~20024642E00202FD33\r\n", "frame ends in CR LF: frames end in CR only"),
        (b"~20024642E00202FD3\r", "LENID says 2 INFO digits, the frame carries 1"),
        (b"~2002464ZE00202FD33\r", "non-hex character 'Z' at position 8"),
        (b"~20024642E00202FD\x0033\r", "non-hex character 0x00 at position 17"),
        (b"~200246\r", "frame too short: 6 digits between '~' and CR"),
        (b"~\r", "frame too short: 0 digits"),
        (b"", "empty input: no frame"),
        # A blank paste is only the CR added for pasted text.
        ("   ", "no SOI: a frame starts with '~', this starts with 0x0D"),
        ("~2002\u00e94642", "non-ASCII character 'é' at position 5"),
    ],
)
def test_decode_frame_says_exactly_what_is_wrong(data: bytes | str, message: str) -> None:
    with pytest.raises(DecodeError) as caught:
        rs.decode_frame(data)
    assert str(caught.value).startswith(message)
    assert caught.value.frame == data


@pytest.mark.parametrize(
    ("data", "rtn"),
    [
        (b"~20024642E00202FD34\r", Rtn.CHKSUM_ERROR),
        (b"~20024642F00202FD33\r", Rtn.LCHKSUM_ERROR),
        (b"~20024642E0020FD33\r", Rtn.LCHKSUM_ERROR),
        (b"~2002464ZE00202FD33\r", None),
    ],
)
def test_frame_errors_tell_a_responder_which_rtn_to_answer(data: bytes, rtn: Rtn | None) -> None:
    with pytest.raises(FrameError) as caught:
        rs.decode_frame(data)
    assert caught.value.rtn == rtn
    if rtn is not None:
        assert (caught.value.adr, caught.value.ver) == (2, 0x20)


def test_pasted_text_tolerates_blanks_and_line_ends() -> None:
    expected = rs.decode_frame(b"~20024642E00202FD33\r")
    for text in ("~20024642E00202FD33\r", "  ~20024642E00202FD33\r\n", "~20024642e00202fd33\n"):
        assert rs.decode_frame(text) == expected


def test_wire_bytes_need_their_cr() -> None:
    with pytest.raises(DecodeError, match="no EOI"):
        rs.decode_frame(b"~20024642E00202FD33")


def test_bytearray_and_memoryview_are_accepted() -> None:
    raw = b"~20024642E00202FD33\r"
    assert (
        rs.decode_frame(bytearray(raw)) == rs.decode_frame(memoryview(raw)) == rs.decode_frame(raw)
    )


def test_decode_frame_rejects_other_types() -> None:
    with pytest.raises(TypeError):
        rs.decode_frame(42)  # type: ignore[arg-type]


def test_frame_validates_its_fields() -> None:
    with pytest.raises(ValueError):
        Frame(0x100, 2, 0x46, 0x42, b"")
    with pytest.raises(ValueError):
        Frame(0x20, 2, 0x46, 0x42, bytes(2048))
    loose = Frame(0x20, 2, 0x46, 0x42, bytearray(b"\x02"))  # type: ignore[arg-type]
    assert type(loose.info) is bytes and hash(loose) == hash(Frame(0x20, 2, 0x46, 0x42, b"\x02"))


# ---------------------------------------------------------------- encoder choices


def _pack(remaining_ah: float, full_ah: float, **kw: Any) -> PackAnalog:
    return PackAnalog((3.3,) * 16, (25.0,), 0.0, 52.8, remaining_ah, full_ah, 1, **kw)


def _p_byte(info: bytes, cells: int = 16, temps: int = 1) -> int:
    return info[2 + 1 + 2 * cells + 1 + 2 * temps + 6]


def test_active16_capacity_needs_p4() -> None:
    info = AnalogResponse(0x11, 2, (_pack(157.0, 314.0),)).to_info()
    assert _p_byte(info) == 4
    assert info.endswith((157_000).to_bytes(3, "big") + (314_000).to_bytes(3, "big"))
    assert rs.parse_analog(info).packs[0].full_ah == 314.0


def test_small_pack_uses_p2_and_boundary_goes_to_p4() -> None:
    assert _p_byte(AnalogResponse(0x11, 2, (_pack(49.0, 50.0),)).to_info()) == 2
    assert _p_byte(AnalogResponse(0x11, 2, (_pack(1.0, 65.534),)).to_info()) == 2
    # 65535 mAh would read as the FFFF "see the u24 fields" marker.
    assert _p_byte(AnalogResponse(0x11, 2, (_pack(1.0, 65.535),)).to_info()) == 4


def test_pace_uses_p3_and_fills_design_capacity() -> None:
    info = AnalogResponse(0, 1, (_pack(157.0, 314.0),)).to_info(Variant.PACE)
    assert _p_byte(info) == 3
    pack = rs.parse_analog(info, Variant.PACE).packs[0]
    assert pack.design_ah == 314.0 and pack.remaining_ah == 157.0


def test_pylon_with_design_capacity_uses_p3() -> None:
    reply = AnalogResponse(0x11, 2, (_pack(10.0, 20.0, design_ah=25.0),))
    assert _p_byte(reply.to_info()) == 3
    assert rs.parse_analog(reply.to_info()) == reply
    with pytest.raises(ValueError):
        AnalogResponse(0x11, 2, (_pack(100.0, 200.0, design_ah=200.0),)).to_info()


@pytest.mark.parametrize(
    "bad",
    [
        replace(_pack(1.0, 2.0), cell_voltages_v=(70.0,)),
        replace(_pack(1.0, 2.0), temperatures_c=(float("nan"),)),
        replace(_pack(1.0, 2.0), current_a=4000.0),
        replace(_pack(1.0, 2.0), full_ah=17_000.0),
        replace(_pack(1.0, 2.0), cycles=70_000),
        replace(_pack(1.0, 2.0), remaining_ah=-1.0),
    ],
)
def test_encoder_refuses_values_the_wire_cannot_carry(bad: PackAnalog) -> None:
    with pytest.raises(ValueError):
        AnalogResponse(0x11, 2, (bad,)).to_info()


def test_encoders_refuse_bad_text_and_empty_replies() -> None:
    with pytest.raises(ValueError):
        SerialNumber(2, "x" * 17).to_info()
    with pytest.raises(ValueError):
        ManufacturerInfo("Ünïcode", (1, 0), "x").to_info()
    with pytest.raises(ValueError):
        AnalogResponse(0x11, 2, ()).to_info()
    with pytest.raises(ValueError):
        AlarmResponse(0x11, 2, ()).to_info()
    with pytest.raises(ValueError):
        FirmwareVersion(2, (1,), (0, 6, 9)).to_info()  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        replace(VALUE["R8"], other_status_bits=0x80).to_info()


def test_pylon_alarm_reply_ends_with_the_trailing_byte_pace_does_not() -> None:
    pack = PackAlarm((N,) * 2, (N,), N, N, N, (0, 0x0E, 0, 0, 0))
    assert AlarmResponse(0x10, 2, (pack,)).to_info().endswith(b"\x0e\x00\x00\x00\x00")
    pace = AlarmResponse(0x00, 2, (replace(pack, variant=Variant.PACE),))
    assert pace.to_info(Variant.PACE).endswith(b"\x0e\x00\x00\x00")
    assert len(pace.to_info(Variant.PACE)) == len(pace.to_info(Variant.PYLON)) - 1


# ---------------------------------------------------------------- 0x44 in detail


def _status_pack(status: tuple[int, ...], variant: Variant = Variant.PYLON) -> PackAlarm:
    return PackAlarm((N,) * 16, (N,) * 5, N, N, N, status, variant)


def test_pylon_status_bits_by_name() -> None:
    pack = _status_pack((0xFF, 0x0F, 0xFF, 0x81, 0x80))
    assert pack.protections == (
        "module under-voltage",
        "charge over-temperature",
        "discharge over-temperature",
        "discharge over-current",
        "charge over-current",
        "cell under-voltage",
        "module over-voltage",
    )
    assert pack.status_flags == (
        "using battery power",
        "discharge MOSFET on",
        "charge MOSFET on",
        "charging",
        "discharging",
        "heater on",
        "fully charged",
        "buzzer on",
    )
    assert pack.cell_errors == (1, 8, 16)
    assert pack.unknown_bits == (
        "Status1 bit 3",
        "Status2 bit 0",
        "Status3 bit 1",
        "Status3 bit 2",
        "Status3 bit 4",
    )
    assert not pack.clear


def test_pace_status_bits_by_name() -> None:
    status = (0x41, 0x80, 0x06, 0x01, 0x10, 0x01, 0x03, 0x01, 0x80, 0, 0, 0, 0, 0, 0x01)
    pack = _status_pack(status, Variant.PACE)
    assert pack.protections == ("short circuit", "cell over-voltage")
    assert pack.status_flags == (
        "fully charged",
        "discharge MOSFET on",
        "charge MOSFET on",
        "buzzer warning enabled",
    )
    assert pack.faults == ("cell fault",)
    assert pack.balancing_cells == (1, 2, 9)
    assert pack.alarms == ("cell over-voltage warning", "low capacity warning")
    assert pack.unknown_bits == ("Status15 bit 0",)


def test_states_name_the_cell_and_tolerate_unknown_values() -> None:
    pack = PackAlarm(
        (N, State.ABOVE_UPPER_LIMIT, State(0x83)),
        (State.BELOW_LOWER_LIMIT,),
        State.OTHER_FAULT,
        N,
        State(0x7F),
        (0, 0, 0, 0, 0),
    )
    assert pack.alarms == (
        "cell 2 voltage above upper limit",
        "cell 3 voltage state 0x83",
        "temperature 1 below lower limit",
        "charge current other fault",
        "discharge current state 0x7F",
    )
    assert State(0x83) == 0x83 and State(0x83).name == "UNKNOWN_83" and not State(0x83).known
    assert State(0xF0) is State.OTHER_FAULT
    reply = AlarmResponse(0x10, 2, (pack,))
    assert rs.parse_alarm(reply.to_info()) == reply
    with pytest.raises(ValueError):
        State(0x100)


def test_pylon_alarm_without_the_trailing_byte() -> None:
    info = (
        bytes.fromhex("10020F")
        + bytes(15)
        + b"\x05"
        + bytes(5)
        + bytes(3)
        + bytes([0, 0x0E, 0, 0, 0])
    )
    reply = rs.parse_alarm(info)
    assert reply.packs[0].status == (0, 0x0E, 0, 0, 0)


def test_pylon_alarm_group_reply() -> None:
    packs = tuple(_status_pack((adr, 0x0E, 0, 0, 0)) for adr in range(3))
    reply = AlarmResponse(0x10, 3, packs)
    assert rs.parse_alarm(reply.to_info()) == reply


def test_unfamiliar_alarm_layout_falls_back_to_one_pack() -> None:
    # 7 status bytes: no fixed length fits, so they are all kept as status.
    info = bytes.fromhex("1002") + b"\x02" + bytes(2) + b"\x01\x00" + bytes(3) + bytes(range(1, 8))
    reply = rs.parse_alarm(info)
    assert reply.packs[0].status == (1, 2, 3, 4, 5, 6, 7)
    assert rs.infer_command(rs.decode_frame(rs.build_response(2, info))) is None


def test_pace_group_alarm_with_separator_byte() -> None:
    # bmspace (bms.py, bms_getWarnInfo) sample reply to a PACE group read: a
    # byte (11) before the second pack and a trailing 00.
    info = bytes.fromhex(
        "000210000000000000000000000000000000000600000000000000000000000E000000000000"
        "1110000000000000000000000000000000000600000000000000000000000E00000000000000"
    )
    reply = rs.parse_alarm(info, Variant.PACE)
    assert len(reply.packs) == 2
    for pack in reply.packs:
        assert len(pack.cell_states) == 16 and len(pack.temperature_states) == 6
        assert pack.status == (0, 0, 0x0E, 0, 0, 0, 0, 0, 0)


def test_alarm_errors_name_the_field() -> None:
    info = bytes.fromhex("1002") + b"\x10" + bytes(4)
    with pytest.raises(DecodeError, match=r"0x44 reply: INFO ends inside pack 1 cell states"):
        rs.parse_alarm(info)


# ---------------------------------------------------------------- 0x42 in detail


def test_group_analog_reply_repeats_the_pack_block() -> None:
    packs = (_pack(157.0, 314.0), _pack(10.0, 50.0), _pack(200.5, 314.0))
    reply = AnalogResponse(0x11, 3, packs)
    info = reply.to_info()
    assert rs.parse_analog(info) == reply
    assert rs.infer_command(rs.decode_frame(rs.build_response(2, info))) == Command.ANALOG


def test_analog_errors_name_the_field() -> None:
    info = bytes.fromhex(TEXT["R2"][13:-4])
    with pytest.raises(DecodeError, match=r"INFO ends inside pack 1 cell voltages \(at byte 3"):
        rs.parse_analog(info[:20])
    # P above 4 is decoded since real PACE replies carry P = 9 (test_pylon_field_coverage);
    # P = 1 is still no known layout (this used P = 7 until then).
    bad_p = info.replace(b"\xff\xff\x04\xff\xff", b"\xff\xff\x01\xff\xff")
    with pytest.raises(DecodeError, match="pack 1 has user-defined count P=1"):
        rs.parse_analog(bad_p)
    with pytest.raises(DecodeError, match="INFO ends inside pack 2 cell voltages"):
        rs.parse_analog(info + b"\x10\x0c")


def test_trailing_zero_after_analog_block_is_tolerated_other_bytes_are_not() -> None:
    info = bytes.fromhex(TEXT["R2"][13:-4])
    assert rs.parse_analog(info + b"\x00") == rs.parse_analog(info)
    with pytest.raises(DecodeError):
        rs.parse_analog(info + b"\x01")


# ---------------------------------------------------------------- fixed layouts


@pytest.mark.parametrize(
    ("command", "info", "message"),
    [
        (0x47, bytes(24), "0x47 reply: INFO ends inside the 12 parameter fields"),
        (0x47, bytes(26), "0x47 reply: 1 unexpected byte(s) after the last field"),
        (0x92, bytes(9), "0x92 reply: INFO ends inside status"),
        (0x92, bytes(11), "0x92 reply: 1 unexpected byte(s)"),
        (0x96, bytes(5), "0x96 reply: INFO ends inside command value and versions"),
        (0x96, bytes(7), "0x96 reply: 1 unexpected byte(s)"),
        (0x51, bytes(11), "0x51 reply: INFO ends inside software minor version"),
        (0x93, b"", "0x93 reply: INFO ends inside command value"),
        (0x42, b"\x11", "0x42 reply: INFO ends inside command value"),
        (0x44, b"", "0x44 reply: INFO ends inside INFOFLAG"),
    ],
)
def test_short_or_long_replies_are_named(command: int, info: bytes, message: str) -> None:
    frame = rs.decode_frame(rs.build_response(2, info))
    with pytest.raises(DecodeError) as caught:
        rs.parse_response(frame, command)
    assert str(caught.value).startswith(message)
    assert caught.value.frame == frame.encode()


def test_text_fields_keep_odd_bytes_visible() -> None:
    reply = rs.parse_serial_number(b"\x02ABC\xff\x00\x00")
    assert reply.serial == "ABC\\xff"


def test_unknown_command_has_no_decoder() -> None:
    with pytest.raises(DecodeError, match="no decoder for replies to command 0x90"):
        rs.parse_response(rs.decode_frame(rs.build_response(2, b"\x01")), 0x90)


def test_management_flags_and_low_bits() -> None:
    info = (
        bytes.fromhex("02D2F0B3B0")
        + (555).to_bytes(2, "big")
        + (-555).to_bytes(2, "big", signed=True)
    )
    reply = rs.parse_management(info + b"\x3d")
    assert (reply.charge_enable, reply.discharge_enable) == (False, False)
    assert (reply.charge_immediately_1, reply.charge_immediately_2) == (True, True)
    assert reply.full_charge_request and reply.other_status_bits == 0x05
    assert reply.to_info() == info + b"\x3d"


# ---------------------------------------------------------------- round trips (hypothesis)

_byte = st.integers(0, 255)
_volts = st.integers(0, 0xFFFF).map(lambda r: round(r / 1000, 3))
_temps = st.integers(-1000, 1500).map(lambda r: round(r / 10, 1))
_cycles = st.integers(0, 0xFFFF)
_states = st.sampled_from(list(State)) | _byte.map(State)


def _currents(variant: Variant) -> st.SearchStrategy[float]:
    if variant is Variant.PACE:
        return st.integers(-0x8000, 0x7FFF).map(lambda r: round(r / 100, 2))
    return st.integers(-0x8000, 0x7FFF).map(lambda r: round(r / 10, 1))


@st.composite
def _analog_packs(draw: st.DrawFn, variant: Variant, cells: int) -> PackAnalog:
    if variant is Variant.PACE:
        cap = st.integers(0, 0xFFFE).map(lambda r: round(r / 100, 2))
        design: float | None = draw(cap)
    else:
        cap = st.integers(0, 0xFFFFFF).map(lambda r: round(r / 1000, 3))
        design = None
    return PackAnalog(
        cell_voltages_v=tuple(draw(st.lists(_volts, min_size=cells, max_size=cells))),
        temperatures_c=tuple(draw(st.lists(_temps, max_size=8))),
        current_a=draw(_currents(variant)),
        voltage_v=draw(_volts),
        remaining_ah=draw(cap),
        full_ah=draw(cap),
        cycles=draw(_cycles),
        design_ah=design,
    )


@st.composite
def analog_replies(draw: st.DrawFn, variant: Variant) -> AnalogResponse:
    count = draw(st.integers(1, 4))
    # One stack is one model: PACE group replies are split on the cell count.
    same = draw(st.integers(1, 24))
    sizes = [same if variant is Variant.PACE else draw(st.integers(1, 24)) for _ in range(count)]
    packs = tuple(draw(_analog_packs(variant, size)) for size in sizes)
    value = count if count > 1 else draw(_byte)
    return AnalogResponse(draw(_byte), value, packs)


@st.composite
def alarm_replies(draw: st.DrawFn, variant: Variant) -> AlarmResponse:
    count = draw(st.integers(1, 4))
    status_len = 15 if variant is Variant.PACE else 5
    same = draw(st.integers(1, 24))
    packs = []
    for _ in range(count):
        cells = same if variant is Variant.PACE else draw(st.integers(1, 24))
        packs.append(
            PackAlarm(
                cell_states=tuple(draw(st.lists(_states, min_size=cells, max_size=cells))),
                temperature_states=tuple(draw(st.lists(_states, max_size=8))),
                charge_current_state=draw(_states),
                pack_voltage_state=draw(_states),
                discharge_current_state=draw(_states),
                status=tuple(draw(st.lists(_byte, min_size=status_len, max_size=status_len))),
                variant=variant,
            )
        )
    value = count if count > 1 else draw(_byte)
    return AlarmResponse(draw(_byte), value, tuple(packs))


@st.composite
def system_parameters(draw: st.DrawFn, variant: Variant) -> SystemParameters:
    current = _currents(variant)
    return SystemParameters(
        cell_high_v=draw(_volts),
        cell_low_v=draw(_volts),
        cell_under_v=draw(_volts),
        charge_high_temp_c=draw(_temps),
        charge_low_temp_c=draw(_temps),
        charge_current_limit_a=draw(current),
        module_high_v=draw(_volts),
        module_low_v=draw(_volts),
        module_under_v=draw(_volts),
        discharge_high_temp_c=draw(_temps),
        discharge_low_temp_c=draw(_temps),
        discharge_current_limit_a=draw(current),
        info_flag=draw(_byte),
    )


@st.composite
def management_infos(draw: st.DrawFn, variant: Variant) -> ManagementInfo:
    current = _currents(variant)
    return ManagementInfo(
        command_value=draw(_byte),
        charge_voltage_limit_v=draw(_volts),
        discharge_voltage_limit_v=draw(_volts),
        charge_current_limit_a=draw(current),
        discharge_current_limit_a=draw(current),
        charge_enable=draw(st.booleans()),
        discharge_enable=draw(st.booleans()),
        charge_immediately_1=draw(st.booleans()),
        charge_immediately_2=draw(st.booleans()),
        full_charge_request=draw(st.booleans()),
        other_status_bits=draw(st.integers(0, 7)),
    )


_ascii = string.ascii_letters + string.digits + "-_."


def _texts(size: int) -> st.SearchStrategy[str]:
    return st.text(alphabet=_ascii, max_size=size)


REPLIES: dict[Command, Any] = {
    Command.ANALOG: analog_replies,
    Command.ALARM: alarm_replies,
    Command.SYSTEM_PARAMETERS: system_parameters,
    Command.MANAGEMENT: management_infos,
    Command.SERIAL_NUMBER: lambda v: st.builds(SerialNumber, _byte, _texts(16)),
    Command.MANUFACTURER_INFO: lambda v: st.builds(
        ManufacturerInfo, _texts(10), st.tuples(_byte, _byte), _texts(20)
    ),
    Command.FIRMWARE: lambda v: st.builds(
        FirmwareVersion, _byte, st.tuples(_byte, _byte), st.tuples(_byte, _byte, _byte)
    ),
    Command.PROTOCOL_VERSION: lambda v: st.just(ProtocolVersion(v.ver)),
}


@pytest.mark.parametrize("variant", list(Variant), ids=[v.value for v in Variant])
@pytest.mark.parametrize("command", list(REPLIES), ids=[c.name for c in REPLIES])
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=60)
@given(data=st.data(), adr=_byte)
def test_round_trip(command: Command, variant: Variant, data: st.DataObject, adr: int) -> None:
    reply = data.draw(REPLIES[command](variant))
    raw = rs.build_response(adr, reply.to_info(variant), ver=variant.ver)
    frame = rs.decode_frame(raw)
    assert frame.adr == adr and frame.variant is variant
    assert rs.parse_response(frame, command) == reply
    assert rs.decode_frame(raw.decode("ascii").lower()) == frame


@given(ver=_byte)
def test_protocol_version_comes_from_ver(ver: int) -> None:
    frame = rs.decode_frame(rs.build_response(2, ProtocolVersion(ver).to_info(), ver=ver))
    reply = rs.parse_response(frame, Command.PROTOCOL_VERSION)
    assert reply == ProtocolVersion(ver)
    assert isinstance(reply, ProtocolVersion)
    assert reply.text == f"{ver >> 4}.{ver & 15}"


# ---------------------------------------------------------------- hostile input (hypothesis)


def _only_decode_errors(action: Any) -> Any:
    try:
        return action()
    except DecodeError as e:
        assert str(e)  # a reason, never an empty message
        return None


def _exercise(frame: Frame) -> None:
    """Everything a caller may do with a frame that decoded: only DecodeError may escape."""
    _only_decode_errors(lambda: rs.parse_request(frame))
    rs.infer_command(frame)
    for command in [*Command, 0x90]:
        _only_decode_errors(lambda c=command: rs.parse_response(frame, c))
    for parse in (
        rs.parse_analog,
        rs.parse_alarm,
        rs.parse_system_parameters,
        rs.parse_management,
        rs.parse_serial_number,
        rs.parse_manufacturer_info,
        rs.parse_firmware_version,
    ):
        for variant in Variant:
            reply = _only_decode_errors(lambda p=parse, v=variant: p(frame.info, v))
            if isinstance(reply, AlarmResponse):
                for pack in reply.packs:
                    _ = (pack.alarms, pack.protections, pack.status_flags, pack.unknown_bits)


_frame_chars = st.text(alphabet="~0123456789ABCDEFabcdef\r\n Gz\x00é", max_size=80)


@settings(max_examples=300)
@given(st.binary(max_size=80) | st.text(max_size=80) | _frame_chars)
def test_arbitrary_input_raises_only_decode_error(data: bytes | str) -> None:
    frame = _only_decode_errors(lambda: rs.decode_frame(data))
    if frame is not None:
        _exercise(frame)


@st.composite
def mutated_examples(draw: st.DrawFn) -> bytes:
    raw = bytearray(_wire(draw(st.sampled_from(EXAMPLES))[1]))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["replace", "delete", "insert"]))
        at = draw(st.integers(0, len(raw) - 1))
        if kind == "replace":
            raw[at] = draw(_byte)
        elif kind == "delete":
            del raw[at : at + draw(st.integers(1, 8))]
            if not raw:
                raw = bytearray(b"~")
        else:
            raw[at:at] = draw(st.binary(min_size=1, max_size=8))
    return bytes(raw)


@settings(max_examples=300)
@given(mutated_examples())
def test_mutated_frames_raise_only_decode_error(raw: bytes) -> None:
    frame = _only_decode_errors(lambda: rs.decode_frame(raw))
    if frame is not None:
        _exercise(frame)


@st.composite
def mutated_infos(draw: st.DrawFn) -> bytes:
    """A well-framed reply (valid CHKSUM) whose INFO was damaged: reaches the parsers."""
    text = draw(st.sampled_from(EXAMPLES))[1]
    frame = rs.decode_frame(text)
    info = bytearray(frame.info)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["replace", "truncate", "extend", "insert"]))
        at = draw(st.integers(0, max(0, len(info) - 1)))
        if kind == "replace" and info:
            info[at] = draw(_byte)
        elif kind == "truncate":
            del info[at:]
        elif kind == "extend":
            info += draw(st.binary(max_size=6))
        else:
            info[at:at] = draw(st.binary(min_size=1, max_size=6))
    ver = draw(st.sampled_from([frame.ver, rs.VER_PYLON, rs.VER_PACE]))
    rtn = draw(st.sampled_from([0, 0, 0, 4, 0x7A]))
    return rs.build_response(frame.adr, bytes(info), ver=ver, rtn=rtn)


@settings(max_examples=400)
@given(mutated_infos() | st.binary(max_size=120).map(lambda b: rs.build_response(2, b)))
def test_damaged_info_raises_only_decode_error(raw: bytes) -> None:
    frame = rs.decode_frame(raw)
    _exercise(frame)


@given(st.binary(max_size=40))
def test_infer_command_never_guesses_wrong_for_fixed_layouts(info: bytes) -> None:
    guess = rs.infer_command(rs.decode_frame(rs.build_response(2, info)))
    if guess is not None:
        # Whatever it guesses must actually parse.
        assert rs.parse_response(rs.decode_frame(rs.build_response(2, info)), guess) is not None


# ---------------------------------------------------------------- python-pylontech interop


def test_python_pylontech_reads_what_we_encode() -> None:
    """The simulator serves python-pylontech (reference §5): its parsers must agree with ours."""
    pylontech = pytest.importorskip("pylontech")
    client = pylontech.Pylontech

    x1 = VALUE["X1"]
    single = client.get_values_single_fmt.parse(x1.to_info()[1:])
    pack = x1.packs[0]
    assert single.NumberOfCells == 16
    assert list(single.CellVoltages) == list(pack.cell_voltages_v)
    assert [single.AverageBMSTemperature, *single.GroupedCellsTemperatures] == list(
        pack.temperatures_c
    )
    assert (single.Current, single.Voltage, single.CycleNumber) == (12.3, 52.9, 12)
    assert (single.RemainingCapacity, single.TotalCapacity) == (80.0, 100.0)

    group = AnalogResponse(0x11, 2, (_pack(157.0, 314.0), _pack(49.0, 50.0)))
    parsed = client.get_values_fmt.parse(group.to_info()[1:])
    assert parsed.NumberOfModules == 2
    assert [m.TotalCapacity for m in parsed.Module] == [314.0, 50.0]

    r17 = VALUE["R17"]
    params = client.system_parameters_fmt.parse(r17.to_info()[1:])
    assert (params.CellHighVoltageLimit, params.DischargeCurrentLimit) == (3.65, -90.0)
    assert params.ChargeLowTemperatureLimit == -10.0

    r8 = VALUE["R8"]
    mgmt = client.management_info_fmt.parse(r8.to_info()[1:])
    assert (mgmt.ChargeVoltageLimit, mgmt.DischargeCurrentLimit) == (28.4, -55.5)
    assert mgmt.status.ChargeEnable and mgmt.status.DischargeEnable

    serial = client.module_serial_number_fmt.parse(SerialNumber(2, "HPTCR03171112590").to_info())
    assert serial.ModuleSerialNumber == b"HPTCR03171112590"

    maker = client.manufacturer_info_fmt.parse(VALUE["R13"].to_info())
    assert maker.DeviceName.rstrip(b"\x00") == b"US2000C"

    # And its requests (hex text INFO, its own LENGTH code) parse on our side.
    raw = client._encode_cmd(None, 2, 0x42, b"FF")
    assert rs.parse_request(rs.decode_frame(raw)) == Request(
        0x20, 2, 0x42, None, True, None, b"\xff"
    )
