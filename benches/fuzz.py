"""Fuzz every parser `active` feeds with bytes or text from a bus or a file.

Each target starts from valid inputs (frames the codec builds, lines the
writers write, the built-in scenarios and profiles) and mutates them: bytes
flipped, inserted, deleted, duplicated, truncated; control characters, huge
and non-finite numbers, field separators spliced in. A parser may refuse an
input only with an `active_cli.errors.ActiveError` (the CLI turns those into
one line and an exit code); anything else (IndexError, zlib.error,
OverflowError, UnicodeDecodeError ...) is a failure, printed with the input
that caused it. Deterministic for a seed.

    python benches/fuzz.py [--count 100000] [--seed 1] [--only NAME ...]

Targets: the RS485 frame codec and every response parser, the framer, the
CAN decoder, ``active decode rs485`` / ``decode can`` text, the candump,
``.rs485``, ASC, CSV, TRC, BLF and ``.log.gz`` readers (through
`CanLogReader` / `Rs485LogReader`, as `log decode` reads them), the scenario,
inverter profile, checklist and session loaders (those that exist on this
branch). CI runs a short version (tests/test_log_fuzz.py).
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import io
import random
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from active_cli.errors import ActiveError

SPLICES = [
    b"\x00",
    b"\x1b[2J",
    b"\xff\xfe",
    b"\r",
    b"\n",
    b"#",
    b"##",
    b"~",
    b" ",
    b",",
    b"1e400",
    b"-1",
    b"65536",
    b"nan",
    b"inf",
    b"0001-01-01T00:00:00",
    b"9" * 40,
    b"\xc3\x28",
    b'"',
    b"[",
    b"=",
]


def mutate(rng: random.Random, data: bytes) -> bytes:
    """One to four random edits of `data`."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(7)
        pos = rng.randint(0, len(out))
        if op == 0 and out:  # flip a byte
            i = rng.randrange(len(out))
            out[i] = rng.randrange(256)
        elif op == 1:  # insert random bytes
            out[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif op == 2 and out:  # delete a run
            del out[pos : pos + rng.randint(1, 16)]
        elif op == 3:  # truncate
            del out[pos:]
        elif op == 4:  # splice a token that has broken parsers before
            out[pos:pos] = rng.choice(SPLICES)
        elif op == 5 and out:  # duplicate a run
            end = min(len(out), pos + rng.randint(1, 64))
            out[pos:pos] = out[pos:end]
        elif op == 6 and out:  # swap a digit for another
            digits = [i for i, b in enumerate(out) if 0x30 <= b <= 0x39]
            if digits:
                out[rng.choice(digits)] = rng.randrange(0x30, 0x3A)
    return bytes(out)


@dataclass
class Result:
    name: str
    inputs: int = 0
    refused: int = 0  # ActiveError: the expected way to say no
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0


@dataclass(frozen=True)
class Target:
    name: str
    seeds: Callable[[], Sequence[bytes]]
    run: Callable[[bytes], object]


# --- seeds -----------------------------------------------------------------------------


def rs485_frames() -> list[bytes]:
    from active_cli.sim.site import SimulatedSite

    frames: list[bytes] = []
    from active_cli.protocols import pylon_rs485 as rs

    site = SimulatedSite("healthy-4", pty=False, with_can=False)
    for command in rs.Command:
        request = rs.build_request(command, 2, info=bytes([2]))
        frames.append(request)
        reply = site.responder(request)
        if reply is not None:
            frames.append(reply)
    return frames


def rs485_infos() -> list[bytes]:
    """The INFO of each reply: mutated and re-framed with a good checksum, they
    reach the response parsers (a flipped byte in a whole frame mostly fails
    the CHKSUM first)."""
    from active_cli.protocols import pylon_rs485 as rs

    infos = []
    for frame in rs485_frames():
        with contextlib.suppress(ActiveError):
            infos.append(rs.decode_frame(frame).info)
    return infos


def can_frames() -> list[bytes]:
    from active_cli.sim.traffic import pylon_v12_traffic

    return [
        frame.arbitration_id.to_bytes(2, "big") + frame.data for frame in pylon_v12_traffic(1, 40)
    ]


def candump_text() -> list[bytes]:
    from active_cli.sim.traffic import candump_line, pylon_v12_traffic

    lines = [candump_line(f) for f in pylon_v12_traffic(2, 30)]
    return ["".join(lines[i : i + 5]).encode() for i in range(0, 30, 5)]


def rs485_capture_text() -> list[bytes]:
    from datetime import datetime

    from active_cli.logs.rs485_log import Rs485LogWriter, Rs485Record

    out = io.StringIO()
    writer = Rs485LogWriter(out)
    writer.header(port="fuzz", baud=9600)
    stamp = datetime(2026, 11, 25, 16, 45, 1).astimezone()
    for frame in rs485_frames()[:8]:
        writer.write(Rs485Record(stamp, "TX" if frame[7:9] == b"42" else "RX", frame))
    writer.comment("end: 8 frames, 0 noise bytes")
    return [out.getvalue().encode()]


def python_can_file(suffix: str) -> Callable[[], list[bytes]]:
    def make() -> list[bytes]:
        import can

        from active_cli.sim.traffic import pylon_v12_traffic

        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"seed{suffix}"
            kwargs = {"max_container_size": 256} if suffix == ".blf" else {}
            writer = can.Logger(str(path), **kwargs)
            for frame in pylon_v12_traffic(3, 24):
                writer.on_message_received(
                    can.Message(
                        timestamp=frame.timestamp,
                        arbitration_id=frame.arbitration_id,
                        data=frame.data,
                        is_extended_id=False,
                    )
                )
            writer.stop()
            return [path.read_bytes()]

    return make


def data_files(folder: str, suffix: str = ".toml") -> Callable[[], list[bytes]]:
    def make() -> list[bytes]:
        from active_cli import resources

        root = Path(resources.__file__).resolve().parent.parent
        found = sorted((root / folder).glob(f"*{suffix}"))
        if not found:
            found = sorted(Path(__file__).resolve().parent.parent.joinpath(folder).glob("*"))
        return [p.read_bytes() for p in found[:12] if p.is_file()]

    return make


def scenario_seeds() -> list[bytes]:
    from active_cli.sim import scenario

    root = Path(scenario.__file__).resolve().parent
    return [p.read_bytes() for p in sorted(root.rglob("*.toml"))[:20]]


# --- runners ---------------------------------------------------------------------------


def run_rs485_frame(data: bytes) -> None:
    from active_cli.protocols import pylon_rs485 as rs

    frame = rs.decode_frame(data)
    for command in rs.Command:
        with contextlib.suppress(ActiveError):
            rs.parse_response(frame, command)


def run_rs485_info(data: bytes) -> None:
    from active_cli.protocols import pylon_rs485 as rs

    for ver in (rs.VER_PYLON, 0x25):
        frame = rs.decode_frame(rs.Frame(ver, 2, rs.CID1_BATTERY, 0, data).encode())
        for command in rs.Command:
            with contextlib.suppress(ActiveError):
                rs.parse_response(frame, command)


def run_framer(data: bytes) -> None:
    from active_cli.protocols.framing import Rs485Framer

    framer = Rs485Framer(max_frame_bytes=256)
    for i in range(0, len(data), 7):
        framer.feed(data[i : i + 7])


def run_can(data: bytes) -> None:
    from active_cli.protocols import pylon_can

    if len(data) < 2:
        return
    can_id = int.from_bytes(data[:2], "big") & 0x7FF
    pylon_can.decode_signals(can_id, data[2:])
    builder = pylon_can.CanStateBuilder()
    builder.feed(can_id, data[2:10])
    builder.state()


def run_decode_rs485_text(data: bytes) -> None:
    from active_cli.protocols.decode_text import decode_rs485

    decode_rs485(data.decode("latin-1").split(), None)


def run_decode_can_text(data: bytes) -> None:
    from active_cli.protocols.decode_can_text import decode_can

    text = data.decode("latin-1").split()
    if text:
        decode_can(text[0], text[1:] or [""])


class FileRunner:
    """Write the input to one temporary file and read it as `log decode` does
    (`decode_stream.decode_log`'s steps, with one decoder kept across inputs:
    building it costs more than reading a small file)."""

    def __init__(self, suffix: str, folder: Path) -> None:
        from active_cli.logs.decode_stream import CanStreamDecoder

        self.path = folder / f"fuzz{suffix}"
        self.decoder = CanStreamDecoder()

    def __call__(self, data: bytes) -> None:
        from active_cli.logs.can_reader import CanLogReader
        from active_cli.logs.decode_stream import bus_of, decode_rs485_records
        from active_cli.logs.rs485_log import Rs485LogReader

        self.path.write_bytes(data)
        out = io.StringIO()
        if bus_of(self.path) == "rs485":
            with Rs485LogReader(self.path) as records:
                decode_rs485_records(records, out)
            return
        with CanLogReader(self.path) as reader:
            if reader.fast:
                self.decoder.decode_candump(reader, out, path=str(self.path))
            else:
                self.decoder.decode_frames(reader, out)


class LoaderRunner:
    """Write the input to a file and load it. ``named_by_id``: the file is named
    after the ``id = "..."`` inside (a profile's id must match its file name)."""

    def __init__(
        self,
        suffix: str,
        folder: Path,
        load: Callable[[Path], object],
        *,
        named_by_id: bool = False,
    ) -> None:
        self.folder = folder
        self.suffix = suffix
        self.load = load
        self.named_by_id = named_by_id

    def __call__(self, data: bytes) -> None:
        import re

        stem = "fuzz"
        if self.named_by_id:
            match = re.search(rb'^id\s*=\s*"([a-z0-9_-]{1,40})"', data, re.MULTILINE)
            stem = match.group(1).decode() if match else stem
        path = self.folder / f"{stem}{self.suffix}"
        path.write_bytes(data)
        try:
            self.load(path)
        finally:
            path.unlink()


def targets(folder: Path) -> Iterator[Target]:
    yield Target("rs485-frame", rs485_frames, run_rs485_frame)
    yield Target("rs485-info", rs485_infos, run_rs485_info)
    yield Target("rs485-framer", rs485_frames, run_framer)
    yield Target("can-decode", can_frames, run_can)
    yield Target("decode-rs485-text", rs485_frames, run_decode_rs485_text)
    yield Target(
        "decode-can-text", lambda: [b"356 7A13F2FE6B01", b"0x35E 50594C4F4E"], run_decode_can_text
    )
    yield Target("candump-log", candump_text, FileRunner(".log", folder))
    yield Target("rs485-capture", rs485_capture_text, FileRunner(".rs485", folder))
    for suffix in (".asc", ".csv", ".trc", ".blf"):
        yield Target(f"{suffix[1:]}-log", python_can_file(suffix), FileRunner(suffix, folder))
    yield Target(
        "log-gz",
        lambda: [gzip.compress(s) for s in candump_text()],
        FileRunner(".log.gz", folder),  # the compressed bytes mutated: a damaged .gz
    )
    from active_cli.sim.scenario import load_scenario

    yield Target(
        "scenario", scenario_seeds, LoaderRunner(".toml", folder, lambda p: load_scenario(p))
    )
    from active_cli.inverters import load_profile_file

    yield Target(
        "inverter-profile",
        data_files("inverters"),
        LoaderRunner(".toml", folder, load_profile_file, named_by_id=True),
    )
    try:
        from active_cli.checklists import load_checklist  # type: ignore[import-not-found]
    except ImportError:
        pass
    else:
        yield Target(
            "checklist", data_files("checklists"), LoaderRunner(".toml", folder, load_checklist)
        )
    try:
        from active_cli.commissioning.session import load_session  # type: ignore[import-not-found]
    except ImportError:
        pass
    else:
        yield Target("session", session_seeds, LoaderRunner(".json", folder, load_session))


def session_seeds() -> list[bytes]:
    seeds = sorted(Path(__file__).resolve().parent.parent.glob("tests/fixtures/**/*.json"))
    return [p.read_bytes() for p in seeds[:5]] or [b'{"kind": "active-session"}']


def fuzz(target: Target, count: int, seed: int) -> Result:
    rng = random.Random(f"{seed}:{target.name}")
    seeds = [s for s in target.seeds() if s] or [b""]
    result = Result(target.name)
    started = time.perf_counter()
    for n in range(count):
        base = seeds[n % len(seeds)]
        data = base if n < len(seeds) else mutate(rng, base)
        result.inputs += 1
        try:
            target.run(data)
        except ActiveError:
            result.refused += 1
        except RecursionError as e:
            result.failures.append(f"{type(e).__name__}: {e} on {data[:120]!r}")
        except Exception as e:
            where = traceback.extract_tb(e.__traceback__)[-1]
            result.failures.append(
                f"{type(e).__name__}: {e} at {Path(where.filename).name}:{where.lineno} "
                f"on {data[:120]!r}"
            )
    result.seconds = time.perf_counter() - started
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000, help="inputs per target")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--only", nargs="*", default=None, metavar="NAME")
    args = parser.parse_args(argv)
    import logging

    # python-can logs a warning per line it cannot parse; the count is the point here.
    logging.getLogger("can").setLevel(logging.CRITICAL)
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for target in targets(Path(tmp)):
            if args.only and target.name not in args.only:
                continue
            result = fuzz(target, args.count, args.seed)
            distinct = sorted({f.split(" on ")[0] for f in result.failures})
            print(
                f"{result.name:18} {result.inputs:>8} inputs, {result.refused:>8} refused "
                f"(ActiveError), {len(result.failures):>4} failures, {result.seconds:6.1f} s",
                flush=True,
            )
            for text in distinct[:5]:
                example = next(f for f in result.failures if f.startswith(text))
                print(f"    {example}")
            failed += len(result.failures)
    print(f"total failures: {failed}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
