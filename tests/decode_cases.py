"""The logs and options `log decode` is held to byte for byte (tests/test_decode_golden.py).

The golden outputs in ``tests/fixtures/logs/decode/golden/`` were written by
`write_golden` from the decoder as it was before issue 18's block-wise rewrite
(commit 02ccdd6, one ``write`` and one ``json.dumps`` per frame): they are the
reference, not a snapshot of whatever the code does now. Do not regenerate
them to make a failing test pass; a change of output is a change of the
format, to be made on purpose and said in docs/monitor-and-logs.md.

Inputs: ``every-case.log`` (written by hand through `every_case_text`: every
DBC message, truncated and over-long frames, unknown, extended, remote, error
and CAN FD frames, odd channels and timestamps, odd whitespace, CRLF and a
lone CR, a last line without a newline), ``payloads.log`` (every DBC id at
every length 0-9 with seeded random payloads, and all-0x00 / all-0xFF),
``traffic.log.gz`` (the simulator's traffic), ``frames.{asc,blf,csv,trc}``
(python-can's writers, through python-can's readers) and the existing
fixtures. The damaged logs are made here from those, the same way each time.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from active_cli.errors import ActiveError
from active_cli.logs.decode_stream import DecodeOptions, decode_log

HERE = Path(__file__).parent / "fixtures" / "logs"
INPUTS = HERE / "decode"
GOLDEN = INPUTS / "golden"

# Every message of dbc/pylon_lv.dbc.
DBC_IDS = (
    0x305, 0x351, 0x355, 0x356, 0x359, 0x35A, 0x35C, 0x35E, 0x35F,
    0x372, 0x373, 0x374, 0x375, 0x376, 0x377, 0x379,
)  # fmt: skip


def every_case_text() -> str:
    """The hand-written candump log (kept as bytes in every-case.log)."""
    good = [
        "(1700000000.000120) can0 351#1402C012C012C201",
        "(1700000000.000121) can0 351#1402C012",  # 0x351 without DVL (4 bytes: too short?)
        "(1700000000.000122) can0 351#1402C012C012",  # 6 bytes: no DVL
        "(1700000000.002310) can0 355#58005E00",  # the 4-byte 0x355 of V1.2 firmware
        "(1700000000.002311) can0 355#58005E001027",
        "(1700000000.004150) can0 356#7A13F2FE6B01",
        "(1700000000.004151) can0 356#7a13f2fe6b01",  # lower-case hex
        "(1700000000.004152) can0 356#7A13F2FE6B010000",  # padded to 8
        "(1700000000.004153) can0 356#7A13",  # too short: an error row
        "(1700000000.004154) can0 356#7A13F2FE6B0100000000",  # 10 bytes
        "(1700000000.006020) can0 359#0000000006504E",
        "(1700000000.006021) can0 359#FFFFFFFF06504F",  # Marker not "PN"
        "(1700000000.006022) can0 35A#0102040810204080",
        "(1700000000.006023) can0 35A#AAAAAAAAAAAAAAAA",
        "(1700000000.008210) can0 35C#C000",
        "(1700000000.008211) can0 35C#",  # empty payload
        "(1700000000.010050) can0 35E#50594C4F4E202020",
        "(1700000000.010051) can0 35E#1B5B324A2C22E9",  # ESC, comma, quote, 0xE9
        "(1700000000.010052) can0 35E#7F9B0A0D00",  # DEL, 8-bit CSI, LF, CR, NUL
        "(1700000000.010053) can0 35F#0102030405060708",
        "(1700000000.010054) can0 372#0100020003000400",
        "(1700000000.010055) can0 373#2C0D3E0D2A012C01",
        "(1700000000.010056) can0 374#4D30303150303300",
        "(1700000000.010057) can0 375#4D30303250313600",
        "(1700000000.010058) can0 376#4D30303154303200",
        "(1700000000.010059) can0 377#4D30303354303400",
        "(1700000000.010060) can0 379#2C01000000000000",
        "(1700000000.498700) can0 305#0000000000000000",
        "(1700000000.498701) can0 305#21",
        "(1700000001.000090) can0 351#1402C012C012C201",  # repeats: cached text
        "(1700000001.004110) can0 356#7B13E9FE6B01",
        "(1700000001.004111) can0 356#7A13F2FE6B01",
        # ids the DBC does not know, extended ids (also of a DBC id), remote,
        # error and CAN FD frames
        "(1700000001.250000) can0 123#DEADBEEF",
        "(1700000001.250001) can0 7FF#",
        "(1700000001.260000) can0 18FF50E5#0102030405060708",
        "(1700000001.260001) can0 00000356#7A13F2FE6B01",
        "(1700000001.260002) can0 0x356#7A13F2FE6B01",
        "(1700000001.260003) can0 5#01",
        "(1700000001.280000) can0 35C#R",
        "(1700000001.280001) can0 356#R6",
        "(1700000001.280002) can0 123#R",
        "(1700000001.290000) can0 20000080#0000000000000000",
        "(1700000001.290001) can0 20000001#0102",
        "(1700000001.300000) can0 351##11402C012C012C201",
        "(1700000001.300001) can0 356##07A13F2FE6B01",
        "(1700000001.300002) can0 356##3AABB",
        "(1700000001.300003) can0 123##0DEAD",
        "(1700000001.300004) can0 351##0" + "11" * 12,
        "(1700000001.300005) can0 356#123",  # odd hex: python-can's reading
        # channels: digits (python-can makes them numbers), names that need
        # CSV quoting or escaping
        "(1700000002.000001) 0 356#7A13F2FE6B01",
        "(1700000002.000002) 07 356#7A13F2FE6B01",
        "(1700000002.000003) vcan1 356#7A13F2FE6B01",
        '(1700000002.000004) ca"n,1 356#7A13F2FE6B01',
        "(1700000002.000005) can\x1b[2J 356#7A13F2FE6B01",
        "(1700000002.000006) kanál 356#7A13F2FE6B01",
        "(1700000002.000007) can0 356#7A13F2FE6B01 R",  # python-can's direction marks
        "(1700000002.000008) can0 356#7A13F2FE6B01 T",
        "(1700000002.000009) can0 356#7A13F2FE6B01 r",
        # timestamps: relative (candump pads to ten digits), odd spellings
        "(0000000001.500000) can0 356#7A13F2FE6B01",
        "(0000000000.000001) can0 356#7A13F2FE6B01",
        "(0.5) can0 356#7A13F2FE6B01",
        "(00.5) can0 356#7A13F2FE6B01",
        "(0) can0 356#7A13F2FE6B01",
        "(1700000003) can0 356#7A13F2FE6B01",
        "(1.7e9) can0 356#7A13F2FE6B01",
        "(-1.25) can0 356#7A13F2FE6B01",
        "(+2.5) can0 356#7A13F2FE6B01",
        "(1_700.5) can0 356#7A13F2FE6B01",
        "[1700000003.000001] can0 356#7A13F2FE6B01",  # any first and last character
        # whitespace: leading, trailing, several, tabs
        "   (1700000004.000001)   can0   356#0102   ",
        "(1700000004.000002)\tcan0\t356#7A13F2FE6B01",
        "(1700000004.000003) can0  356#7A13F2FE6B01",
        "(1700000004.000004) can0 356#7A13F2FE6B01 ",
        "",
        "   ",
        "\t",
    ]
    text = "\n".join(good) + "\n"
    # CRLF lines, a lone CR, and a last line without its newline.
    text += "(1700000005.000001) can0 356#7A13F2FE6B01\r\n"
    text += "(1700000005.000002) can0 351#1402C012C012C201\r\n"
    text += "(1700000005.000003) can0 356#7B13E9FE6B01\r"
    text += "(1700000005.000004) can0 355#58005E00\n"
    text += "(1700000005.000005) can0 356#7A13F2FE6B01"
    return text


def payloads_text(seed: int = 18) -> str:
    """Every DBC id at every length 0-9: all-0x00, all-0xFF and two random payloads."""
    rng = random.Random(seed)
    lines = []
    stamp = 1_700_000_000.0
    for can_id in DBC_IDS:
        for length in range(10):
            payloads = [bytes(length), b"\xff" * length]
            payloads += [bytes(rng.randrange(256) for _ in range(length)) for _ in range(2)]
            for data in payloads:
                stamp += 0.001
                lines.append(f"({stamp:.6f}) can0 {can_id:03X}#{data.hex().upper()}\n")
    return "".join(lines)


def make_inputs() -> None:
    """Write the checked-in inputs (run by hand, with `write_golden`)."""
    import can

    from active_cli.logs.can_reader import CanLogReader
    from active_cli.sim.traffic import candump_line, pylon_v12_traffic

    INPUTS.mkdir(parents=True, exist_ok=True)
    (INPUTS / "every-case.log").write_bytes(every_case_text().encode())
    (INPUTS / "payloads.log").write_text(payloads_text(), newline="\n")
    traffic = "".join(candump_line(f) for f in pylon_v12_traffic(18, 1500))
    (INPUTS / "traffic.log.gz").write_bytes(gzip.compress(traffic.encode(), mtime=0))
    # python-can's formats: the frames of payloads.log and the odd ones.
    with CanLogReader(INPUTS / "payloads.log") as reader:
        frames = list(reader)[::4]
    odd = [
        can.Message(timestamp=1.7e9 + 1, arbitration_id=0x18FF50E5, data=b"\x01\x02"),
        can.Message(timestamp=1.7e9 + 2, arbitration_id=0x356, is_remote_frame=True, dlc=6),
        can.Message(timestamp=1.7e9 + 3, is_error_frame=True),
        can.Message(
            timestamp=1.7e9 + 4, arbitration_id=0x123, data=b"\xde\xad", is_extended_id=False
        ),
    ]
    messages = [
        can.Message(
            timestamp=f.timestamp,
            arbitration_id=f.arbitration_id,
            data=f.data,
            is_extended_id=False,
            channel=1 if i % 3 else 0,
        )
        for i, f in enumerate(frames)
    ] + odd
    for suffix in (".asc", ".blf", ".csv", ".trc"):
        path = INPUTS / f"frames{suffix}"
        with can.Logger(str(path)) as logger:
            for message in messages:
                logger(message)


# --- damaged logs, made from the inputs ------------------------------------------------


def _good_lines() -> str:
    # More than a 64 k block of good frames before the damage, so frames of
    # earlier blocks and of the damaged block are both in the output.
    return (INPUTS / "payloads.log").read_text() * 3


def _plain(name: str, tail: bytes) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        path = folder / name
        path.write_bytes(_good_lines().encode() + tail)
        return path

    return make


def _gz(name: str, cut: Callable[[bytes], bytes]) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        path = folder / name
        path.write_bytes(cut(gzip.compress(_good_lines().encode(), mtime=0)))
        return path

    return make


def _corrupt(data: bytes) -> bytes:
    damaged = bytearray(data)
    middle = len(damaged) // 2
    damaged[middle : middle + 20] = b"\xff" * 20
    return bytes(damaged)


DAMAGED: dict[str, Callable[[Path], Path]] = {
    "not-a-candump-line": _plain("x.log", b"hello world\n(1.0) can0 356#00\n"),
    "bad-timestamp": _plain("x.log", b"(x.y) can0 356#00\n"),
    "bad-fourth-field": _plain("x.log", b"(1.0) can0 356#00 X\n"),
    "python-can-cannot-read": _plain("x.log", b"(1.0) can0 351##\n"),
    "bad-hex-id": _plain("x.log", b"(1.0) can0 35G#00\n"),
    "no-hash": _plain("x.log", b"(1.0) can0 35600\n"),
    "binary": _plain("x.log", b"(1.0) can0 356#00\n\xff\xfe\x00garbage\n"),
    "over-long-line": _plain("x.log", b"X" * 200_000 + b"\n(2.0) can0 356#7A13F2FE6B01\n"),
    "gz-cut": _gz("x.log.gz", lambda d: d[: len(d) // 2]),
    "gz-corrupted": _gz("x.log.gz", _corrupt),
}


# --- the cases -------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    name: str
    source: str  # an input file name, or "damaged:KEY"
    options: dict[str, object] = field(default_factory=dict)

    def input_path(self, folder: Path) -> Path:
        if self.source.startswith("damaged:"):
            return DAMAGED[self.source.removeprefix("damaged:")](folder)
        for base in (INPUTS, HERE):
            if (base / self.source).exists():
                return base / self.source
        raise FileNotFoundError(self.source)


def _cases() -> list[Case]:
    cases = []
    filters: dict[str, dict[str, object]] = {
        "": {},
        ".ids": {"ids": frozenset({0x356, 0x35E, 0x123, 0x18FF50E5})},
        ".signals": {"signals": ("volt*", "BMS_Manufacturer.*", "Alarm*")},
        ".cache1": {"cache_size": 1},
    }
    for source in (
        "every-case.log",
        "payloads.log",
        "traffic.log.gz",
        "us5000.log",
        "us5000.asc",
        "frames.asc",
        "frames.blf",
        "frames.csv",
        "frames.trc",
        "sniff.rs485",
    ):
        for fmt in ("csv", "jsonl"):
            for suffix, options in filters.items():
                if source == "sniff.rs485" and suffix == ".signals":
                    options = {"signals": ("payload.packs.*.voltage_v", "rtn")}
                if source == "sniff.rs485" and suffix == ".ids":
                    options = {"ids": frozenset({0x02})}
                cases.append(
                    Case(f"{source}.{fmt}{suffix}", source, {"output_format": fmt, **options})
                )
    for key in DAMAGED:
        for fmt in ("csv", "jsonl"):
            cases.append(Case(f"damaged-{key}.{fmt}", f"damaged:{key}", {"output_format": fmt}))
    return cases


CASES = _cases()


@dataclass(frozen=True)
class Outcome:
    """What a decode gave: the output text, the summary counts, the error if any."""

    output: str
    summary: dict[str, object] | None
    error: dict[str, object] | None


def run_case(case: Case, folder: Path) -> Outcome:
    out = io.StringIO()
    summary = error = None
    try:
        result = decode_log(case.input_path(folder), out, DecodeOptions(**case.options))  # type: ignore[arg-type]
    except ActiveError as e:
        error = {"type": type(e).__name__, "text": str(e).replace(str(folder), "TMP")}
    else:
        summary = {
            "frames": result.frames,
            "decoded": result.decoded,
            "errors": result.errors,
            "unknown": result.unknown,
            "skipped": result.skipped,
            "unknown_ids": result.unknown_ids,
            "too_long_lines": result.too_long_lines,
        }
    return Outcome(out.getvalue(), summary, error)


def golden(case: Case) -> Outcome:
    """The reference outcome of `case`. Outputs are stored once per content
    (``outputs/SHA256.gz``): many cases give the same text."""
    meta = json.loads((GOLDEN / f"{case.name}.json").read_text())
    data = gzip.decompress((GOLDEN / "outputs" / f"{meta['output_sha256']}.gz").read_bytes())
    assert hashlib.sha256(data).hexdigest() == meta["output_sha256"]
    return Outcome(data.decode("utf-8"), meta["summary"], meta["error"])


def write_golden(folder: Path) -> None:
    """Record every case's outcome (by hand, from the reference decoder only)."""
    (GOLDEN / "outputs").mkdir(parents=True, exist_ok=True)
    for case in CASES:
        outcome = run_case(case, folder)
        data = outcome.output.encode("utf-8")
        digest = hashlib.sha256(data).hexdigest()
        (GOLDEN / "outputs" / f"{digest}.gz").write_bytes(gzip.compress(data, 9, mtime=0))
        meta = {"output_sha256": digest, "summary": outcome.summary, "error": outcome.error}
        (GOLDEN / f"{case.name}.json").write_text(json.dumps(meta, indent=1) + "\n")


if __name__ == "__main__":
    import sys
    import tempfile

    if sys.argv[1:] != ["--write-reference"]:
        raise SystemExit("usage: python -m tests.decode_cases --write-reference (see docstring)")
    make_inputs()
    with tempfile.TemporaryDirectory() as tmp:
        write_golden(Path(tmp))
