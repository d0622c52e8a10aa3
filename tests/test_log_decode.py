"""Reading captures and decoding them to CSV / JSON lines.

Fixtures in tests/fixtures/logs/ are written by hand in the formats other tools
write: ``us5000.log`` as ``candump -L`` logs (linux-can/can-utils), with the
real US5000 frames of protocols.md §4 and the odd lines a real bus gives
(unknown and extended ids, a short frame, a remote frame, an error frame, a CAN
FD frame); ``us5000.asc`` as Vector CANalyzer/CANoe logs it (header, trigger
block, statistics and error-frame events between the frames); ``sniff.rs485``
in our RS485 capture format.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import shutil
import tracemalloc
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import can
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from active_cli.errors import DataFileError, DecodeError, UsageError
from active_cli.logs.can_reader import CanFrame, CanLogReader, candump_tokens
from active_cli.logs.decode_stream import (
    CSV_HEADER,
    FRAMES_PER_WRITE,
    CanStreamDecoder,
    DecodeOptions,
    decode_log,
)
from active_cli.logs.rs485_log import (
    Rs485LogReader,
    Rs485LogWriter,
    Rs485Record,
    classify,
    format_line,
    parse_line,
)
from active_cli.protocols import pylon_can
from active_cli.sim.traffic import candump_line, pylon_v12_traffic, write_candump

FIXTURES = Path(__file__).parent / "fixtures" / "logs"
CANDUMP = FIXTURES / "us5000.log"
ASC = FIXTURES / "us5000.asc"
RS485 = FIXTURES / "sniff.rs485"


def decode_text(path: Path, **options: object) -> str:
    out = io.StringIO()
    decode_log(path, out, DecodeOptions(**options))  # type: ignore[arg-type]
    return out.getvalue()


def jsonl(path: Path, **options: object) -> list[dict[str, object]]:
    text = decode_text(path, output_format="jsonl", **options)
    return [json.loads(line) for line in text.splitlines()]


# --- reading candump: our tokenizer against python-can ------------------------------


ODD_LINES = """\
(1700000000.000001) can0 356#7a13f2fe6b01
(1700000000.000002) 0 356#7A13F2FE6B01
(1700000000.000003) 07 356#7A13F2FE6B01 R
(1700000000.000004) vcan1 0x356#7A13F2FE6B01 T
(1700000000.000005) can0 5#01
(1700000000.000006) can0 00000356#7A13
(1700000000.000007) can0 356#
(1700000000.000008) can0 356#R
(1700000000.000009) can0 356#R6
(1700000000.000010) can0 356##3AABB
(1700000000.000011) can0 20000080#0000000000000000
(1700000000.000012) can0 20000001#0102
(1700000000.000013) can0 356#123
    (1700000000.000014)   can0   356#0102   \r
"""


def frames_both_ways(path: Path) -> tuple[list[CanFrame], list[CanFrame]]:
    with CanLogReader(path) as fast, CanLogReader(path, fast_candump=False) as slow:
        return list(fast), list(slow)


@pytest.mark.parametrize("name", ["fixture", "odd", "traffic", "python-can-writer"])
def test_candump_tokenizer_reads_what_python_can_reads(name: str, tmp_path: Path) -> None:
    path = tmp_path / "x.log"
    if name == "fixture":
        shutil.copy(CANDUMP, path)
    elif name == "odd":
        path.write_text(ODD_LINES)
    elif name == "traffic":
        write_candump(path, pylon_v12_traffic(7, 5_000))
    else:  # as python-can's own Logger writes it (" R" / " T" after the frame)
        with can.Logger(str(path)) as logger:
            for i, frame in enumerate(pylon_v12_traffic(3, 50)):
                logger(
                    can.Message(
                        timestamp=frame.timestamp,
                        arbitration_id=frame.arbitration_id,
                        data=frame.data,
                        is_extended_id=False,
                        is_rx=bool(i % 2),
                        channel="can1",
                    )
                )
    fast, slow = frames_both_ways(path)
    assert fast == slow
    assert len(fast) > 0


def test_tokens_keep_the_text() -> None:
    lines = ["(1700000000.000120) can0 351#1402C012C012C201\n", "\n", "(0.5) 1 305# R\n"]
    assert list(candump_tokens(lines)) == [
        ("1700000000.000120", "can0", "351#1402C012C012C201"),
        ("0.5", "1", "305#"),
    ]


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("(1.0) can0 356#00\nnot a candump line at all\n", 2),
        ("(1.0) can0 356#00\n\n(x.y) can0 356#00\n", 3),
        ("(1.0) can0 356#00 X\n", 1),
    ],
)
def test_a_bad_candump_line_is_named_by_number(tmp_path: Path, text: str, line: int) -> None:
    path = tmp_path / "bad.log"
    path.write_text(text)
    with pytest.raises(DataFileError) as e, CanLogReader(path) as reader:
        list(reader)
    assert e.value.line == line
    with pytest.raises(DataFileError):
        decode_text(path)


def test_unknown_suffix_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataFileError, match="unknown CAN log format"):
        CanLogReader(tmp_path / "x.txt")
    with pytest.raises(DataFileError, match="cannot read"):
        CanLogReader(tmp_path / "missing.log")


# --- decoding CAN -------------------------------------------------------------------


def test_candump_fixture_decodes_to_the_golden_csv() -> None:
    expected = (FIXTURES / "us5000.expected.csv").read_text()
    assert decode_text(CANDUMP) == expected


def test_csv_is_well_formed_and_carries_the_recorded_values() -> None:
    rows = list(csv.DictReader(io.StringIO(decode_text(CANDUMP))))
    assert all(len(r) == 8 for r in rows)
    first = {r["signal"]: r["value"] for r in rows if r["timestamp"] == "1700000000.004150"}
    assert first == {"Voltage": "49.86", "Current": "-27.0", "Temperature": "36.3"}
    units = {r["signal"]: r["unit"] for r in rows if r["id"] == "0x356"}
    assert units == {"Voltage": "V", "Current": "A", "Temperature": "degC", "": ""}
    marker = [r for r in rows if r["signal"] == "Marker"]
    assert {r["value"] for r in marker} == {"PN"}
    errors = [r for r in rows if r["error"]]
    assert len(errors) == 1
    assert errors[0]["error"] == "0x356 BMS_Measurements: 2 data bytes, needs at least 6"


def test_jsonl_equals_the_codec_frame_by_frame() -> None:
    records = jsonl(CANDUMP)
    expected = []
    for message in can.LogReader(str(CANDUMP)):
        if message.is_error_frame or message.is_remote_frame or message.is_extended_id:
            continue
        if message.arbitration_id not in pylon_can.BATTERY_IDS | {pylon_can.HEARTBEAT_ID}:
            continue
        expected.append((message.timestamp, message.arbitration_id, bytes(message.data)))
    assert len(records) == len(expected)
    for record, (stamp, can_id, data) in zip(records, expected, strict=True):
        assert record["timestamp"] == pytest.approx(stamp, abs=1e-6)
        assert record["id"] == f"0x{can_id:03X}"
        assert record["data"] == data.hex().upper()
        try:
            signals = pylon_can.decode_signals(can_id, data)
        except DecodeError as e:
            assert record["error"] == e.reason
            assert record["signals"] == {}
        else:
            assert record["signals"] == signals
            assert "error" not in record


@pytest.mark.parametrize(
    ("stamp", "written"),
    [
        ("1700000000.123456", "1700000000.123456"),
        ("0000000001.000000", "1.000000"),  # candump -L's padded relative time
        ("0.5", "0.5"),
        ("0", "0"),
        ("1.5e3", "1.5e3"),
        ("+2.5", "2.500000"),
        ("5.", "5.000000"),
        (".5", "0.500000"),
        ("nan", "null"),
        ("inf", "null"),
    ],
)
def test_every_timestamp_float_reads_is_written_as_json(
    tmp_path: Path, stamp: str, written: str
) -> None:
    # Blocks of plain stamps around the odd one: the fast path must hand it on.
    lines = [f"({i}.000000) can0 356#7A13F2FE6B01" for i in range(1, 4)]
    lines.insert(2, f"({stamp}) can0 356#7A13F2FE6B01")
    log = tmp_path / "odd.log"
    log.write_text("\n".join(lines) + "\n", encoding="ascii")
    out = io.StringIO()
    decode_log(log, out, DecodeOptions("jsonl"))
    rows = out.getvalue().splitlines()
    records = [json.loads(row) for row in rows]  # strict JSON: no NaN, no +2.5
    assert [r["timestamp"] for r in records[:2] + records[3:]] == [1.0, 2.0, 3.0]
    assert rows[2].startswith('{"timestamp":' + written + ',"source":"can0"')
    assert records[2]["signals"] == pylon_can.decode_signals(0x356, bytes.fromhex("7A13F2FE6B01"))


def test_odd_timestamps_after_cached_lines_are_json_too(tmp_path: Path) -> None:
    # Lines whose text after the stamp is already cached take the careful
    # block path: it must convert the stamp as the per-line path does.
    plain = [f"({i}.000000) can0 356#7A13F2FE6B01" for i in range(1, 3001)]
    odd = [f"({t}) can0 356#7A13F2FE6B01" for t in ("+2.5", ".5", "5.", "1_700.5", "nan", "-.5")]
    log = tmp_path / "cached.log"
    log.write_text("\n".join(plain + odd) + "\n", encoding="ascii")
    out = io.StringIO()
    decode_log(log, out, DecodeOptions("jsonl"))
    for row in out.getvalue().splitlines():
        json.loads(row)


def test_summary_counts_every_kind_of_frame() -> None:
    summary = decode_log(CANDUMP, io.StringIO())
    assert (summary.frames, summary.decoded, summary.errors) == (20, 15, 1)
    assert summary.unknown == 2 and summary.unknown_ids == ["0x123", "0x18FF50E5"]
    assert summary.skipped == 2  # the remote frame and the error frame


def test_asc_written_by_canalyzer_decodes() -> None:
    records = jsonl(ASC)
    assert [r["id"] for r in records] == [
        "0x351",
        "0x355",
        "0x356",
        "0x359",
        "0x35C",
        "0x35E",
        "0x305",
    ]
    measurements = records[2]
    assert measurements["timestamp"] == 0.00415  # ASC times are relative to the measurement
    assert measurements["signals"] == {"Voltage": 49.86, "Current": -27.0, "Temperature": 36.3}
    # python-can numbers ASC channels from 0: channel 1 is "0", channel 2 is "1".
    assert {r["source"] for r in records} == {"0", "1"}
    assert records[-1]["source"] == "1"
    summary = decode_log(ASC, io.StringIO())
    assert (summary.decoded, summary.unknown, summary.skipped) == (7, 1, 2)


def test_gzip_compressed_logs(tmp_path: Path) -> None:
    for source in (CANDUMP, ASC):
        target = tmp_path / (source.name + ".gz")
        target.write_bytes(gzip.compress(source.read_bytes()))
        assert decode_text(target) == decode_text(source)


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (
            {"ids": frozenset({0x356})},
            {("0x356", "Voltage"), ("0x356", "Current"), ("0x356", "Temperature")},
        ),
        ({"signals": ("voltage",)}, {("0x356", "Voltage")}),
        (
            {"signals": ("BMS_Limits.*Voltage*",)},
            {("0x351", "ChargeVoltageLimit"), ("0x351", "DischargeVoltageLimit")},
        ),
        (
            {"signals": ("Alarm*Voltage",), "ids": frozenset({0x359})},
            {("0x359", "AlarmHighVoltage"), ("0x359", "AlarmLowVoltage")},
        ),
        ({"signals": ("SOC", "Byte0")}, {("0x355", "SOC"), ("0x305", "Byte0")}),
    ],
)
def test_filters(options: dict[str, object], expected: set[tuple[str, str]]) -> None:
    rows = list(csv.DictReader(io.StringIO(decode_text(CANDUMP, **options))))
    assert {(r["id"], r["signal"]) for r in rows if not r["error"]} == expected


def test_filters_drop_errors_of_other_ids_but_keep_their_own() -> None:
    rows = list(csv.DictReader(io.StringIO(decode_text(CANDUMP, ids=frozenset({0x351})))))
    assert not any(r["error"] for r in rows)
    rows = list(csv.DictReader(io.StringIO(decode_text(CANDUMP, ids=frozenset({0x356})))))
    assert sum(1 for r in rows if r["error"]) == 1


def test_a_signal_pattern_that_matches_nothing_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="matches no signal"):
        CanStreamDecoder(DecodeOptions(signals=("Volts",)))
    with pytest.raises(UsageError, match="of the ids given"):
        CanStreamDecoder(DecodeOptions(signals=("Voltage",), ids=frozenset({0x351})))


def test_json_timestamps_are_json_numbers(tmp_path: Path) -> None:
    # candump -L pads seconds to ten digits: a relative log reads 0000000001.5.
    path = tmp_path / "relative.log"
    path.write_text("(0000000001.500000) can0 356#7A13F2FE6B01\n")
    (record,) = jsonl(path)
    assert record["timestamp"] == 1.5
    assert decode_text(path).splitlines()[1].startswith("0000000001.500000,can0,")


def test_csv_quotes_what_needs_quoting() -> None:
    out = io.StringIO()
    frame = CanFrame(1.0, 'can,"0"', 0x356, bytes.fromhex("7A13F2FE6B01"))
    CanStreamDecoder(DecodeOptions()).decode_frames([frame], out)
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert rows[1][:3] == ["1.000000", 'can,"0"', "0x356"]


# --- streaming ------------------------------------------------------------------------


def test_output_is_written_while_frames_are_still_being_read() -> None:
    # Written a block at a time (FRAMES_PER_WRITE frames), not at the end.
    out = io.StringIO()
    seen_output_midway = []

    def frames() -> Iterator[CanFrame]:
        for i, frame in enumerate(pylon_v12_traffic(1, 3 * FRAMES_PER_WRITE)):
            if i == 2 * FRAMES_PER_WRITE:
                seen_output_midway.append(len(out.getvalue()) > len(CSV_HEADER))
            yield frame

    CanStreamDecoder(DecodeOptions()).decode_frames(frames(), out)
    assert seen_output_midway == [True]


class _Discard(io.TextIOBase):
    def write(self, s: str) -> int:
        return len(s)


def _peak_bytes(path: Path) -> int:
    tracemalloc.start()
    try:
        decode_log(path, _Discard(), DecodeOptions(cache_size=256))  # type: ignore[arg-type]
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_does_not_grow_with_the_file(tmp_path: Path) -> None:
    small, large = tmp_path / "small.log", tmp_path / "large.log"
    write_candump(small, pylon_v12_traffic(5, 10_000))
    write_candump(large, pylon_v12_traffic(5, 40_000))
    peak_small, peak_large = _peak_bytes(small), _peak_bytes(large)
    # Four times the frames, the same memory (within 20 % and a few kB of noise).
    assert peak_large < 1.2 * peak_small + 16_384, (peak_small, peak_large)


def test_generated_traffic_round_trips_through_the_decoder(tmp_path: Path) -> None:
    path = tmp_path / "traffic.log"
    frames = list(pylon_v12_traffic(11, 7 * 40))
    path.write_text("".join(candump_line(f) for f in frames))
    records = jsonl(path)
    assert len(records) == len(frames)
    assert {r["id"] for r in records} == {
        "0x351",
        "0x355",
        "0x356",
        "0x359",
        "0x35C",
        "0x35E",
        "0x305",
    }
    assert all("error" not in r for r in records)
    for record, frame in zip(records, frames, strict=True):
        assert record["signals"] == pylon_can.decode_signals(frame.arbitration_id, frame.data)
    # Same seed, same log.
    assert list(pylon_v12_traffic(11, 7 * 40)) == frames


# --- RS485 ----------------------------------------------------------------------------


def test_rs485_capture_decodes_request_and_response_pairs() -> None:
    records = jsonl(RS485)
    assert [(r["source"], r["message"]) for r in records] == [
        ("TX", "ANALOG (0x42) request"),
        ("RX", "ANALOG (0x42) response"),
        ("TX", "SERIAL_NUMBER (0x93) request"),
        ("RX", "SERIAL_NUMBER (0x93) response"),
        ("TX", "ALARM (0x44) request"),
        ("RX", "ALARM (0x44) response"),
        ("RX", "ANALOG (0x42) response"),
        ("??", None),
        ("??", None),
    ]
    analog = records[1]["signals"]
    assert isinstance(analog, dict)
    assert analog["payload.packs.0.voltage_v"] == 50.981
    assert analog["payload.packs.0.cell_voltages_v.6"] == 3.39
    assert analog["command_guessed"] is False
    assert records[3]["signals"]["payload.serial"] == "HPTCR03171112590"  # type: ignore[index]
    assert records[5]["signals"]["rtn"] == "CID2_INVALID (0x04)"  # type: ignore[index]
    # A response with no request before it: the command is inferred, and says so.
    assert records[6]["signals"]["command_guessed"] is True  # type: ignore[index]
    assert records[7]["error"] == "bad CHKSUM: frame says FD34, computed FD33"
    assert records[8]["frame"] == "~2002\x00642E00202FD33"
    assert (
        records[0]["timestamp"]
        == datetime.fromisoformat("2026-11-25T16:45:01.100000+01:00").timestamp()
    )


def test_rs485_filters() -> None:
    rows = list(
        csv.DictReader(io.StringIO(decode_text(RS485, signals=("payload.packs.*.voltage_v",))))
    )
    assert [(r["message"], r["value"]) for r in rows] == [
        ("ANALOG (0x42) response", "50.981"),
        ("ANALOG (0x42) response", "48.39"),
    ]
    assert decode_text(RS485, ids=frozenset({0x03})) == CSV_HEADER


STAMP = datetime(2026, 11, 25, 16, 45, 1, 123456, tzinfo=timezone(timedelta(hours=1)))


@settings(max_examples=200, deadline=None)
@given(body=st.binary(max_size=80), direction=st.sampled_from(["TX", "RX", "??"]))
def test_rs485_lines_round_trip_any_bytes(body: bytes, direction: str) -> None:
    record = Rs485Record(STAMP, direction, b"~" + body + b"\r")  # type: ignore[arg-type]
    line = format_line(record)
    assert line.count(" ") == 2 and line.endswith("\n") and line.isascii()
    assert parse_line(line) == record


def test_rs485_writer_and_reader(tmp_path: Path) -> None:
    path = tmp_path / "x.rs485"
    frames = [
        b"~20024642E00202FD33\r",
        b"~20024600C0220248505443523033313731313132353930F6D2\r",
        b"~2002\x1b\r",
    ]
    with path.open("w") as f:
        writer = Rs485LogWriter(f)
        writer.header(port="loop://", baud=9600)
        for i, frame in enumerate(frames):
            writer.write(Rs485Record(STAMP + timedelta(seconds=i), classify(frame), frame))
        writer.comment("end")
    text = path.read_text()
    assert text.splitlines()[0] == "# active rs485 capture 1: port=loop:// baud=9600"
    assert text.splitlines()[1] == "2026-11-25T16:45:01.123456+01:00 TX ~20024642E00202FD33"
    assert "?? ~2002\\x1B" in text
    with Rs485LogReader(path) as reader:
        back = list(reader)
    assert [(r.direction, r.frame) for r in back] == [
        ("TX", frames[0]),
        ("RX", frames[1]),
        ("??", frames[2]),
    ]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("2026-11-25T16:45:01 TX", "expected 3 fields"),
        ("yesterday TX ~20024642E00202FD33", "bad time"),
        ("2026-11-25T16:45:01 XX ~20024642E00202FD33", "direction"),
        ("2026-11-25T16:45:01 TX ~2002\\x4", "bad escape"),
    ],
)
def test_rs485_reader_names_the_bad_line(tmp_path: Path, line: str, reason: str) -> None:
    path = tmp_path / "bad.rs485"
    path.write_text(f"# header\n2026-11-25T16:45:00 TX ~20024642E00202FD33\n{line}\n")
    with pytest.raises(DataFileError, match=reason) as e:
        decode_text(path)
    assert e.value.line == 3


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("binary.log", b"(1.0) can0 356#00\n\xff\xfe\x00garbage\n"),
        ("broken.log.gz", gzip.compress(b"(1.0) can0 356#00\n" * 1000, mtime=0)[:-12]),
        ("binary.asc", b"\x00\x01\x02\xff" * 100),
        ("not.blf", b"this is not a BLF file at all" * 10),
    ],
)
def test_damaged_files_are_data_file_errors(tmp_path: Path, name: str, content: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DataFileError):
        decode_text(path)
