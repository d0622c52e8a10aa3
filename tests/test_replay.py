"""Offline analysis: record a live run, replay the capture, get the same result.

End to end, through the real entry point: `active scan --sim S --record F.rs485
--record F.log` then `active scan --replay F.rs485 --replay F.log` must give
the same packs, address statuses and findings; `check protocol` likewise.
The fault scenarios matter most: duplicate addresses garble replies and a
noisy line loses some, through the simulator's seeded line RNG, so a replay
that re-asked a simulator could not give the same answer; a capture does.

Underneath: `ReplayLink` pairs requests with their recorded replies in order,
and `Rs485Recorder` + `ReplayLink` give back what a `SerialLink` saw (good,
garbled, incomplete, silent, noisy) with the same per-address counters.
"""

from __future__ import annotations

import collections
import itertools
import re
import time
from collections.abc import Callable
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from active_cli.errors import DecodeError, LinkTimeout
from active_cli.links.can_link import listen
from active_cli.links.replay import (
    CanRecorder,
    ReplayLink,
    Rs485Recorder,
    read_can_records,
    read_rs485_capture,
)
from active_cli.links.serial_link import SerialLink
from active_cli.logs.rs485_log import Rs485LogWriter, Rs485Record
from active_cli.protocols import pylon_rs485
from active_cli.protocols.pylon_rs485 import Command
from tests.conftest import CliResult

Run = Callable[..., CliResult]
FIXTURES = Path(__file__).parent / "fixtures" / "logs"


# --------------------------------------------------------------- ReplayLink


def request(adr: int, command: Command = Command.ANALOG) -> bytes:
    return pylon_rs485.build_request(command, adr)


def reply(adr: int, info: bytes = b"") -> bytes:
    return pylon_rs485.build_response(adr, info)


def write_capture(path: Path, lines: list[tuple[str, bytes] | str], baud: int = 9600) -> Path:
    """A hand-made .rs485 capture: (direction, frame) pairs or raw comment lines."""
    with open(path, "w", encoding="ascii", newline="\n") as f:
        writer = Rs485LogWriter(f)
        writer.header(port="test", baud=baud)
        for n, line in enumerate(lines):
            if isinstance(line, str):
                f.write(line + "\n")
                continue
            stamp = datetime.fromtimestamp(1_700_000_000 + n * 0.1).astimezone()
            writer.write(Rs485Record(stamp, line[0], line[1]))  # type: ignore[arg-type]
    return path


def test_replay_answers_a_repeated_request_with_its_replies_in_order(tmp_path: Path) -> None:
    first, second = reply(2, b"\x01"), reply(2, b"\x02")
    path = write_capture(
        tmp_path / "c.rs485",
        [("TX", request(2)), ("RX", first), ("TX", request(3)), ("TX", request(2)), ("RX", second)],
        baud=115200,
    )
    link = ReplayLink.from_file(path)
    assert link.baud == 115200
    assert link.query(Command.ANALOG, 2, retry_on_timeout=False).info == b"\x01"
    assert link.query(Command.ANALOG, 2, retry_on_timeout=False).info == b"\x02"
    # Recorded, but nothing came back before the next request: silence.
    with pytest.raises(LinkTimeout, match="from address 3"):
        link.query(Command.ANALOG, 3, retry_on_timeout=False)
    # Used up, then never recorded: silence too, and counted as a mismatch.
    with pytest.raises(LinkTimeout):
        link.query(Command.ANALOG, 2, retry_on_timeout=False)
    assert link.unrecorded_requests == 0
    with pytest.raises(LinkTimeout):
        link.query(Command.SERIAL_NUMBER, 2, retry_on_timeout=False)
    assert link.unrecorded_requests == 1
    assert link.unused_exchanges == 0
    stats = link.stats.address(2)
    assert (stats.requests, stats.replies, stats.timeouts) == (4, 2, 2)


def test_a_garbled_reply_is_a_decode_error_and_the_retry_takes_the_next(tmp_path: Path) -> None:
    good = reply(1, b"\x07")
    garbled = good[:5] + b"\xaa" + good[6:]
    path = write_capture(
        tmp_path / "c.rs485",
        [("TX", request(1)), ("??", garbled), ("TX", request(1)), ("RX", good)],
    )
    link = ReplayLink.from_file(path)
    assert link.query(Command.ANALOG, 1).info == b"\x07"  # the live link's retry
    stats = link.stats.address(1)
    assert (stats.requests, stats.corrupted, stats.retries, stats.replies) == (2, 1, 1, 1)

    link = ReplayLink.from_file(path)
    with pytest.raises(DecodeError):
        link.transact(request(1), expected_reply_bytes=20, adr=1)


def test_capture_reading_pairs_frames_and_reads_the_comments(tmp_path: Path) -> None:
    path = write_capture(
        tmp_path / "c.rs485",
        [
            ("RX", reply(9)),  # heard before any request: a reply to nothing
            ("TX", request(1)),
            "# incomplete reply: ~2001\\xFF",
            ("TX", request(2)),
            ("RX", reply(2)),
            ("RX", reply(2, b"\x05")),  # a second frame: the link takes the first
            ("TX", request(3)),
            "# end: 5 frames, 12 noise bytes",
        ],
    )
    capture = read_rs485_capture(path)
    assert capture.noise_bytes == 12
    assert [(e.request, e.reply, e.complete) for e in capture.exchanges] == [
        (request(1), b"~2001\xff", False),
        (request(2), reply(2), True),
        (request(3), None, True),
    ]
    link = ReplayLink(capture)
    with pytest.raises(DecodeError, match="did not complete"):
        link.transact(request(1), expected_reply_bytes=158, adr=1)
    assert link.stats.noise_bytes == 12


class ScriptedPort:
    """A serial port that answers each write with the next scripted bytes (None: silence)."""

    in_waiting = 0

    def __init__(self, script: list[bytes | None]) -> None:
        self.timeout: float | None = 0.0
        self._script = collections.deque(script)
        self._pending = b""

    def write(self, data: bytes, /) -> int | None:
        self._pending = self._script.popleft() or b""
        return len(data)

    def read(self, size: int = 1) -> bytes:
        if self._pending:
            out, self._pending = self._pending, b""
            return out
        time.sleep(min(self.timeout or 0.0, 0.002))
        return b""

    def reset_input_buffer(self) -> None:
        pass

    def close(self) -> None:
        pass


def outcome(call: Callable[[], pylon_rs485.Frame]) -> tuple[str, Any]:
    try:
        return "frame", call()
    except DecodeError as e:
        return "decode", e.reason
    except LinkTimeout as e:
        return "timeout", str(e).split(" from ")[-1]  # the budget's ms may differ


def test_recorded_link_and_replay_see_the_same_outcomes(tmp_path: Path) -> None:
    good = reply(1, b"\x11")
    bad_checksum = good[:-2] + (b"0" if good[-2:-1] != b"0" else b"1") + b"\r"
    script: list[bytes | None] = [
        good,
        bad_checksum,  # retried by the link ...
        good,  # ... and answered
        b"\xff\x00" + good,  # noise before the frame: dropped, counted
        good[:9],  # a reply cut short
        None,  # and its retry unanswered
        request(1) + good,  # an adapter echoing the request first
        bad_checksum,  # garbled ...
        bad_checksum,  # ... twice
        None,  # silence at an empty address
    ]
    calls: list[tuple[Command, int, bool]] = [
        (Command.ANALOG, 1, True),
        (Command.SERIAL_NUMBER, 1, True),
        (Command.FIRMWARE, 1, True),
        (Command.ALARM, 1, True),
        (Command.MANAGEMENT, 1, True),
        (Command.SYSTEM_PARAMETERS, 1, True),
        (Command.ANALOG, 7, False),
    ]
    path = tmp_path / "run.rs485"
    live = SerialLink(ScriptedPort(script), baud=115200, latency_budget_s=0.02, adaptive=False)
    with Rs485Recorder(path, port="scripted", baud=115200) as recorder:
        recorder.attach(live)
        live_outcomes = [
            outcome(lambda c=c, a=a, r=r: live.query(c, a, retry_on_timeout=r)) for c, a, r in calls
        ]
    replay = ReplayLink.from_file(path)
    replay_outcomes = [
        outcome(lambda c=c, a=a, r=r: replay.query(c, a, retry_on_timeout=r)) for c, a, r in calls
    ]
    # The cut reply's retry went unanswered: a timeout is the last word.
    kinds = ["frame", "frame", "frame", "timeout", "frame", "decode", "timeout"]
    assert [kind for kind, _ in live_outcomes] == kinds
    assert replay_outcomes == live_outcomes
    assert _same_counters(replay.stats.per_address, live.stats.per_address)
    assert replay.stats.noise_bytes == live.stats.noise_bytes == 2
    assert replay.unused_exchanges == 0 and replay.unrecorded_requests == 0
    text = path.read_text()
    assert "# incomplete reply: " in text and " ?? " in text
    assert text.rstrip().endswith("# end: 17 frames, 2 noise bytes")


def _same_counters(a: dict[int, Any], b: dict[int, Any]) -> bool:
    """Per-address counters equal, latencies aside (a replay does not wait)."""

    def counters(stats: dict[int, Any]) -> dict[int, tuple[int, ...]]:
        return {
            adr: (s.requests, s.replies, s.timeouts, s.corrupted, s.retries)
            for adr, s in stats.items()
        }

    return counters(a) == counters(b)


# -------------------------------------------------------------- CAN recording


@pytest.mark.parametrize("suffix", [".log", ".asc", ".blf", ".csv", ".trc"])
def test_can_recorder_writes_what_the_listener_got(tmp_path: Path, suffix: str) -> None:
    import can

    channel = f"replay-test-{suffix[1:]}"
    with (
        can.Bus(interface="virtual", channel=channel) as sender,
        can.Bus(interface="virtual", channel=channel) as receiver,
    ):
        for i, can_id in enumerate((0x351, 0x355, 0x356, 0x305, 0x35E)):
            sender.send(
                can.Message(arbitration_id=can_id, data=bytes([i] * (i + 2)), is_extended_id=False)
            )
            time.sleep(0.003)
        path = tmp_path / f"heard{suffix}"
        with CanRecorder(path) as recorder:
            heard = listen(recorder.wrap(receiver), window_s=1.0, until=lambda r: len(r) == 5)
        assert recorder.frames == 5
    replayed = list(read_can_records(path))
    assert [(r.arbitration_id, r.data) for r in replayed] == [
        (r.arbitration_id, r.data) for r in heard
    ]
    # Formats differ in their epoch (ASC counts from the first frame), never in spacing.
    gaps = [b.timestamp - a.timestamp for a, b in itertools.pairwise(heard)]
    replay_gaps = [b.timestamp - a.timestamp for a, b in itertools.pairwise(replayed)]
    assert replay_gaps == pytest.approx(gaps, abs=2e-5)


# ------------------------------------------------------------- end to end


@pytest.fixture
def fast(tmp_path: Path) -> Callable[[str], str]:
    """A built-in scenario with the RS485 line at 115200 baud (same packs and faults)."""

    def make(name: str) -> str:
        text = (resources.files("active_cli.sim") / "scenarios" / f"{name}.toml").read_text()
        path = tmp_path / f"{name}.toml"
        path.write_text(text + "\n[rs485]\nbaud = 115200\n", encoding="utf-8")
        return str(path)

    return make


def findings(result: CliResult) -> list[tuple[str, str, str]]:
    return [(f["code"], f["severity"], f["title"]) for f in result.json()["findings"]]


def addresses(snapshot: dict[str, Any]) -> list[dict[str, Any]]:
    # A silent address's detail names the reply-start budget the link had
    # learned ("no reply within 79 ms"); the replay learns it from the
    # capture's time stamps, which are taken when a frame's CR arrived, so it
    # may differ by a millisecond or two. Status and counters must not.
    return [
        {**a, "detail": re.sub(r"within \d+ ms", "within N ms", a["detail"])}
        for a in snapshot["addresses"]
    ]


def assert_same_can(live: dict[str, Any], replay: dict[str, Any]) -> None:
    for key in ("frame_count", "ids_seen", "state", "heartbeat_count", "error_frames"):
        assert replay[key] == live[key], key
    # candump -L keeps microseconds, and --json gives a period 6 significant
    # digits: the two agree within one rounding step of each.
    assert replay["cycle_s"] == pytest.approx(live["cycle_s"], abs=2e-5)
    assert replay["heartbeat_period_s"] == pytest.approx(live["heartbeat_period_s"], abs=2e-5)


@pytest.mark.parametrize(
    ("scenario", "extra", "exit_code"),
    [
        ("healthy-4", (), 0),
        # Replies at address 2 collide into random bytes from the line RNG.
        ("duplicate-address", ("--addresses", "1-6"), 1),
        # 30 % of replies carry noise (before the frame: counted; inside: lost).
        ("noisy-line", ("--addresses", "1-4"), 0),
    ],
)
def test_scan_replay_gives_the_live_result(
    run_cli: Run,
    tmp_path: Path,
    fast: Callable[[str], str],
    scenario: str,
    extra: tuple[str, ...],
    exit_code: int,
) -> None:
    rs485, can_log = tmp_path / "site.rs485", tmp_path / "site.log"
    sim = fast(scenario) if scenario != "healthy-4" else scenario
    live = run_cli(
        "scan", "--sim", sim, *extra, "--record", str(rs485), "--record", str(can_log), "--json"
    )
    assert live.exit_code == exit_code, live.stderr
    replay = run_cli("scan", "--replay", str(rs485), "--replay", str(can_log), *extra, "--json")
    assert replay.exit_code == exit_code, replay.stderr
    a, b = live.json(), replay.json()
    assert b["packs"] == a["packs"]
    assert addresses(b) == addresses(a)
    for key in ("group_count", "master_address", "noise_bytes", "baud"):
        assert b[key] == a[key], key
    assert findings(replay) == findings(live)
    assert_same_can(a["can"], b["can"])
    assert b["port"] == f"replay of {rs485}" and b["can_interface"] == f"replay of {can_log}"
    if scenario == "noisy-line":
        assert b["noise_bytes"] > 0  # the capture carried the noise count over
    if scenario == "duplicate-address":
        assert "scan.duplicate-address" in {code for code, _, _ in findings(replay)}


def test_scan_replay_text_says_it_is_a_replay(run_cli: Run, tmp_path: Path) -> None:
    path = write_capture(tmp_path / "empty.rs485", [])
    result = run_cli("scan", "--replay", str(path), "--addresses", "1-3")
    assert result.exit_code == 3  # nothing answered in the capture, as live
    assert f"RS485: replay of {path} at 9600 baud" in result.stdout
    assert "3 request(s) are not in" in result.stderr


def test_scan_replay_of_a_can_log_alone(run_cli: Run) -> None:
    result = run_cli("scan", "--replay", str(FIXTURES / "us5000.log"), "--json")
    assert result.exit_code == 0, result.stderr
    snapshot = result.json()
    assert snapshot["port"] is None and snapshot["packs"] == []
    assert snapshot["can"]["state"]["protocol"] == "pylon-v1.2"
    assert snapshot["can"]["heartbeat_count"] == 2
    assert ("can.heartbeat", "ok", "Inverter heartbeat 0x305 present, every 1.00 s") in findings(
        result
    )


def test_check_protocol_replay_gives_the_live_result(run_cli: Run, tmp_path: Path) -> None:
    path = tmp_path / "deye.log"
    live = run_cli(
        "check", "protocol", "--inverter", "deye", "--sim", "healthy-4", "--record", str(path),
        "--json",
    )  # fmt: skip
    assert live.exit_code == 0, live.stderr
    replay = run_cli("check", "protocol", "--inverter", "deye", "--replay", str(path), "--json")
    assert replay.exit_code == 0, replay.stderr
    assert "Replay of" in replay.stderr  # stdout is the JSON
    assert findings(replay) == findings(live)
    assert_same_can(live.json()["observation"], replay.json()["observation"])


def test_check_protocol_replay_of_a_silent_inverter_fails_on_the_heartbeat(
    run_cli: Run, tmp_path: Path
) -> None:
    path = tmp_path / "silent.asc"
    live = run_cli(
        "check", "protocol", "--inverter", "deye", "--sim", "silent-inverter", "--window", "2",
        "--record", str(path), "--json",
    )  # fmt: skip
    replay = run_cli("check", "protocol", "--inverter", "deye", "--replay", str(path), "--json")
    assert live.exit_code == replay.exit_code == 1

    def without_duration(result: CliResult) -> list[tuple[str, str, str]]:
        # "No 0x305 from the inverter in 2.0 s" names how long the live run
        # listened; a capture only knows its first and last frame, so the
        # replay says how long the capture spans. That number is the one
        # timing of the replay itself; the verdict must be the same.
        return [(c, s, re.sub(r"in \d+\.\d s", "in T s", t)) for c, s, t in findings(result)]

    assert without_duration(replay) == without_duration(live)
    assert ("protocol.heartbeat", "fail") in {(c, s) for c, s, _ in findings(replay)}


@pytest.mark.parametrize(
    ("fixture", "heartbeat"),
    [
        ("us5000.log", "The inverter answers: 0x305 every 1.00 s"),
        ("us5000.asc", "The inverter answers: 0x305 1 time(s)"),
    ],
)
def test_check_protocol_replays_the_hand_made_captures(
    run_cli: Run, fixture: str, heartbeat: str
) -> None:
    result = run_cli("check", "protocol", "--inverter", "deye", "--replay", str(FIXTURES / fixture))
    assert result.exit_code == 0, result.stderr
    assert f"Replay of {FIXTURES / fixture}" in result.stdout
    result = run_cli(
        "check", "protocol", "--inverter", "deye", "--replay", str(FIXTURES / fixture), "--json"
    )
    found = findings(result)
    assert ("protocol.message-set", "ok") in {(c, s) for c, s, _ in found}
    assert any(t.startswith("Complete Pylon LV V1.2 message set") for _, _, t in found)
    assert any(c == "protocol.heartbeat" and t.startswith(heartbeat) for c, _, t in found)


def test_check_protocol_replay_without_heartbeat_fails(run_cli: Run, tmp_path: Path) -> None:
    lines = (FIXTURES / "us5000.log").read_text().splitlines()
    path = tmp_path / "no-heartbeat.log"
    path.write_text("\n".join(line for line in lines if " 305#" not in line) + "\n")
    result = run_cli("check", "protocol", "--inverter", "deye", "--replay", str(path), "--json")
    assert result.exit_code == 1
    assert ("protocol.heartbeat", "fail") in {(c, s) for c, s, _ in findings(result)}


# ---------------------------------------------------------- errors, options


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("scan", "--replay", "a.rs485", "--sim", "healthy-1"), "leave out --sim"),
        (("scan", "--replay", "a.log", "--port", "loop://"), "leave out --port"),
        (("scan", "--replay", "a.log", "--interface", "virtual"), "leave out --interface"),
        (("scan", "--replay", "a.log", "--record", "b.log"), "do not go together"),
        (("scan", "--replay", "a.rs485", "--replay", "b.rs485"), "at most one .rs485"),
        (("scan", "--port", "loop://", "--record", "a.log"), "no CAN bus is read"),
        (("scan", "--sim", "healthy-1", "--record", "a.txt"), "cannot tell the CAN log format"),
        (
            ("check", "protocol", "--inverter", "deye", "--replay", "a.log", "--sim", "healthy-1"),
            "leave out --sim",
        ),
        (
            (
                "check",
                "protocol",
                "--inverter",
                "deye",
                "--sim",
                "healthy-1",
                "--record",
                "a.rs485",
            ),
            "no RS485 line is polled",
        ),
    ],
)
def test_usage_errors_exit_2(run_cli: Run, args: tuple[str, ...], message: str) -> None:
    result = run_cli(*args)
    assert result.exit_code == 2
    assert message in result.stderr


def test_bad_capture_files_exit_4_naming_file_and_line(run_cli: Run, tmp_path: Path) -> None:
    missing = tmp_path / "missing.rs485"
    result = run_cli("scan", "--replay", str(missing))
    assert result.exit_code == 4
    assert str(missing) in result.stderr and "cannot read" in result.stderr

    broken = write_capture(tmp_path / "broken.rs485", [("TX", request(1))])
    broken.write_text(broken.read_text() + "yesterday TX ~2001\n")
    result = run_cli("scan", "--replay", str(broken))
    assert result.exit_code == 4
    assert f"{broken}, line 3" in result.stderr

    bad_log = tmp_path / "bad.log"
    bad_log.write_text("(1700000000.000120) can0 351#1402C012C012C201\nnot a candump line\n")
    result = run_cli("check", "protocol", "--inverter", "deye", "--replay", str(bad_log))
    assert result.exit_code == 4
    assert f"{bad_log}, line 2" in result.stderr
    assert result.stderr.count("\n") <= 2  # one line, and at most a hint


def test_record_never_writes_over_an_existing_file(tmp_path: Path, run_cli: Run) -> None:
    old = tmp_path / "site.rs485"
    old.write_text("# yesterday's capture\n")
    for args in (
        ("scan", "--sim", "healthy-1", "--record", str(old)),
        ("listen", "--sim", "healthy-1", "--duration", "1", "--record", str(old)),
    ):
        result = run_cli(*args)
        assert result.exit_code == 2, (args, result.stderr)
        assert "never written over" in result.stderr and "site-2.rs485" in result.stderr
        assert old.read_text() == "# yesterday's capture\n"
