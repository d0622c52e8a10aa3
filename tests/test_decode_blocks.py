"""The pieces of the block-wise decoder, each against what it replaced.

- `can_text`'s compiled text, for every DBC message and every length, equals
  the per-frame rendering it replaced (``json.dumps`` of
  `pylon_can.decode_signals`, the CSV row templates), with and without a
  signal filter; its values equal cantools' own decode.
- `_plain_stamps` accepts only timestamps `line_tokens` accepts, without
  whitespace, written as they are; a printable head has no whitespace.
- `line_blocks` gives the lines `bounded_lines` gave (its ``by_line`` reading,
  which is unchanged), block by block.
- the text cache stays bounded; Ctrl-C leaves whole lines, every one of them
  the reference decode's.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cantools
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from active_cli.errors import DataFileError, DecodeError
from active_cli.logs.can_decode import _plain_stamps, _TextCache
from active_cli.logs.can_text import DECODED, ERROR, SKIPPED, CanText, csv_field, json_text
from active_cli.logs.decode_stream import DecodeOptions, decode_log
from active_cli.logs.lines import LineStats, line_blocks
from active_cli.protocols import pylon_can
from active_cli.protocols.can_digest import load_digest
from active_cli.resources import data_file
from tests.conftest import CliResult

FIXTURES = Path(__file__).parent / "fixtures" / "logs" / "decode"
MESSAGES = {m.frame_id: m for m in pylon_can.database().messages}
TEXTS = {
    (csv, signals): CanText(load_digest(), csv=csv, ids=frozenset(), signals=signals)
    for csv in (False, True)
    for signals in ((), ("*Voltage*", "SOC", "Byte3", "Alarm*"))
}


def reference(
    can_id: int, data: bytes, *, csv: bool, signals: tuple[str, ...]
) -> tuple[int, tuple[str, ...]]:
    """The per-frame rendering of the decoder before issue 18 (decode_stream._render)."""
    message = MESSAGES[can_id]
    id_text = f"0x{can_id:03X}"
    try:
        values = pylon_can.decode_signals(can_id, data)
    except DecodeError as e:
        if csv:
            return ERROR, ("", f"{id_text},{csv_field(message.name)},,,,{csv_field(e.reason)}\n")
        return ERROR, (
            "",
            f'"id":"{id_text}","message":{json_text(message.name)},"data":"{data.hex().upper()}",'
            f'"signals":{{}},"error":{json_text(e.reason)}}}\n',
        )
    if signals:
        text = TEXTS[(csv, signals)]
        chosen = text._selected.get(can_id)
        if chosen is None:
            return SKIPPED, ()
        values = {k: v for k, v in values.items() if k in chosen}
        if not values:
            return SKIPPED, ()
    if csv:
        units = {s.name: s.unit or "" for s in message.signals}
        head = f"{id_text},{csv_field(message.name)},"
        return DECODED, (
            "",
            *[
                f"{head}{csv_field(k)},{csv_field(v) if type(v) is str else repr(v)},"
                f"{csv_field(units[k])},\n"
                for k, v in values.items()
            ],
        )
    return DECODED, (
        "",
        f'"id":"{id_text}","message":{json_text(message.name)},"data":"{data.hex().upper()}",'
        f'"signals":{json_text(dict(values))}}}\n',
    )


@settings(max_examples=400, deadline=None)
@given(
    can_id=st.sampled_from(sorted(MESSAGES)),
    data=st.binary(max_size=10),
    csv=st.booleans(),
    filtered=st.booleans(),
)
def test_compiled_text_equals_the_per_frame_rendering(
    can_id: int, data: bytes, csv: bool, filtered: bool
) -> None:
    signals = ("*Voltage*", "SOC", "Byte3", "Alarm*") if filtered else ()
    text = TEXTS[(csv, signals)]
    if signals and can_id not in text._selected:
        assert text.render(can_id, data, False, False) == (SKIPPED, ())
        return
    assert text.render(can_id, data, False, False) == reference(
        can_id, data, csv=csv, signals=signals
    )


@pytest.mark.parametrize("can_id", sorted(MESSAGES))
@pytest.mark.parametrize("length", range(10))
def test_every_message_and_length_with_edge_payloads(can_id: int, length: int) -> None:
    for data in (bytes(length), b"\xff" * length, bytes(range(0x80, 0x80 + length))):
        for csv in (False, True):
            got = TEXTS[(csv, ())].render(can_id, data, False, False)
            assert got == reference(can_id, data, csv=csv, signals=())


def test_the_json_values_are_cantools_values() -> None:
    db = cantools.database.load_file(data_file("dbc", "pylon_lv.dbc"))
    text = TEXTS[(False, ())]
    for message in db.messages:
        data = bytes((37 * i + message.frame_id) % 256 for i in range(message.length))
        kind, parts = text.render(message.frame_id, data, False, False)
        assert kind == DECODED
        record = json.loads("{" + parts[1])
        want = message.decode(data, decode_choices=True)
        assert set(record["signals"]) == set(want)
        for name, value in want.items():
            got = record["signals"][name]
            if isinstance(got, str):
                assert got == str(value)
            else:
                assert got == pytest.approx(float(value), abs=1e-9), (message.name, name)


# --- timestamps and whitespace -------------------------------------------------------


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="0123456789.()+-eE_ \t\x0b\u00a0x", max_size=14))
def test_plain_stamps_are_what_line_tokens_takes(head: str) -> None:
    if not head or " " in head:
        return
    if not _plain_stamps([head], zero_ok=True):
        return
    stamp = head[1:-1]
    float(stamp)  # line_tokens accepts it
    assert head.split() == [head]
    if _plain_stamps([head], zero_ok=False):
        from active_cli.logs.can_text import json_number

        assert json_number(stamp) == stamp


def test_plain_stamps_checks_every_head() -> None:
    good = ["(1700000000.000123)", "(1.)", "(.5)", "(0.5)"]
    assert _plain_stamps(good, zero_ok=True)
    assert not _plain_stamps(good, zero_ok=False)  # "(0.5)": JSON lines check each
    for bad in ["(.)", "(1.2.3)", "(1e9)", "(12)x", "(1\u0660.5)", "((1.5)", "(1.5)(2.5)",
                "(0.)0", "5(1.2)", "(1.2)5", "(1.5"]:  # fmt: skip
        assert not _plain_stamps([*good[:2], bad, good[1]], zero_ok=True), bad


def test_a_printable_head_has_no_whitespace() -> None:
    # The careful path trusts a cached tail when the head is printable:
    # every whitespace character but the space is non-printable.
    spaces = [chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace()]
    assert [c for c in spaces if c.isprintable()] == [" "]


# --- blocks ----------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    pieces=st.lists(
        st.one_of(
            st.text(alphabet="ab\r", max_size=12), st.integers(20, 200).map(lambda n: "x" * n)
        ),
        max_size=30,
    ),
    max_chars=st.integers(1, 64),
    final_newline=st.booleans(),
)
def test_line_blocks_read_the_lines_line_reading_reads(
    pieces: list[str], max_chars: int, final_newline: bool
) -> None:
    text = "\n".join(pieces) + ("\n" if final_newline else "")
    by_block, by_line = LineStats(), LineStats()
    blocks = list(line_blocks(io.StringIO(text), by_block, max_chars=max_chars))
    lines = list(line_blocks(io.StringIO(text), by_line, max_chars=max_chars, by_line=True))
    assert [x for b in blocks for x in b] == [x for b in lines for x in b]
    assert (by_block.too_long, by_block.first_too_long) == (
        by_line.too_long,
        by_line.first_too_long,
    )


def test_a_failing_read_gives_the_lines_before_it_first() -> None:
    class Breaks(io.StringIO):
        def readline(self, size: int | None = -1) -> str:
            line = super().readline(size)
            if line.startswith("boom"):
                raise EOFError("cut")
            return line

    text = "".join(f"line {n}\n" for n in range(10)) + "boom\n"
    got: list[str] = []
    with pytest.raises(EOFError):
        for block in line_blocks(Breaks(text), LineStats(), by_line=True):
            got.extend(block)
    assert got == [f"line {n}" for n in range(10)]


def test_the_text_cache_is_bounded() -> None:
    cache = _TextCache(4)
    for n in range(100):
        cache.put(str(n), ("",))
        assert len(cache.young) + len(cache.old) <= 8
    assert "99" in cache.young and "95" in cache.old


# --- Ctrl-C ----------------------------------------------------------------------------


@pytest.mark.skipif(os.name != "posix", reason="SIGINT to a child is POSIX")
def test_ctrl_c_leaves_whole_lines_all_of_them_right(tmp_path: Path) -> None:
    log = tmp_path / "big.log"
    log.write_text((FIXTURES / "payloads.log").read_text() * 400)
    out = tmp_path / "out.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-m", "active_cli", "log", "decode", str(log), "-o", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            if out.exists() and out.stat().st_size > 0:
                break
            time.sleep(0.01)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "interrupted by Ctrl-C" in err and "Traceback" not in err
    written = out.read_text()
    assert written.endswith("\n") and written.count("\n") > 100
    full = io.StringIO()
    decode_log(log, full, DecodeOptions(output_format="jsonl"))
    assert len(written) < len(full.getvalue())  # stopped before the end
    assert full.getvalue().startswith(written)


# --- a full disk ----------------------------------------------------------------------


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_full_disk_is_the_output_s_error_not_the_log_s(tmp_path: Path) -> None:
    log = tmp_path / "big.log"
    log.write_text((FIXTURES / "payloads.log").read_text() * 60)
    with open("/dev/full", "w", encoding="utf-8", newline="", buffering=1 << 16) as out:
        with pytest.raises(OSError) as e:
            decode_log(log, out, DecodeOptions(output_format="jsonl"))
        assert not isinstance(e.value, DataFileError)
        assert e.value.errno == errno.ENOSPC
        with contextlib.suppress(OSError):
            out.close()  # what could not be written is gone: nothing to flush


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_log_decode_onto_a_full_disk_is_exit_5(
    run_cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    log = tmp_path / "big.log"
    log.write_text((FIXTURES / "payloads.log").read_text() * 60)
    result = run_cli("log", "decode", str(log), "-o", "/dev/full", "-f", "jsonl")
    assert result.exit_code == 5, result.stderr
    assert "No space left" in result.stderr and "Traceback" not in result.stderr
