"""Decoding from the DBC's digest is decoding through cantools.

`active decode can` decodes with `can_digest.decode_signals` so it starts
without importing cantools; here every message of the DBC, at every length a
frame can have, with edge and random payloads, gives exactly what
`pylon_can.decode_signals` (cantools) gives: the same names, values and Python
types (27 is not 27.0 in JSON), and the same refusals word for word.
"""

from __future__ import annotations

import random
import subprocess
import sys

import pytest

from active_cli.errors import DecodeError
from active_cli.protocols import can_digest, pylon_can
from active_cli.protocols.can_messages import SignalValue
from active_cli.protocols.decode_can_text import decode_can

IDS = sorted(m.frame_id for m in pylon_can.database().messages)


def _payloads(length: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    fixed = [bytes(length), b"\xff" * length, bytes(range(1, length + 1)), b"\x80" * length]
    return fixed + [rng.randbytes(length) for _ in range(40)]


def _outcome(decode: object, arbitration_id: int, data: bytes) -> object:
    assert callable(decode)
    try:
        signals: dict[str, SignalValue] = decode(arbitration_id, data)
    except DecodeError as e:
        return ("refused", e.reason)
    return [(name, type(value).__name__, value) for name, value in signals.items()]


@pytest.mark.parametrize("arbitration_id", IDS, ids=[f"0x{i:03X}" for i in IDS])
def test_every_message_and_length_decodes_as_cantools_does(arbitration_id: int) -> None:
    decoded = 0
    for length in range(13):
        for data in _payloads(length, seed=arbitration_id * 100 + length):
            ours = _outcome(can_digest.decode_signals, arbitration_id, data)
            theirs = _outcome(pylon_can.decode_signals, arbitration_id, data)
            assert ours == theirs, (hex(arbitration_id), data.hex())
            decoded += isinstance(ours, list)
    assert decoded > 0  # not only refusals compared


def test_an_unknown_id_is_refused_in_the_same_words() -> None:
    ours = _outcome(can_digest.decode_signals, 0x999, bytes(8))
    assert ours == _outcome(pylon_can.decode_signals, 0x999, bytes(8))
    assert ours == ("refused", "unknown CAN id 0x999: not a Pylon LV message")


@pytest.mark.parametrize(
    ("frame_id", "data"),
    [
        ("0x356", "7A13F2FE6B01"),
        ("351", "14028A0214028A02"),
        ("0x359", "000000000000504E"),
        ("35E", "50594C4F4E202020"),
        ("0x35A", "0000000000000000"),
        ("0x305", ""),
    ],
)
def test_a_pasted_frame_gives_the_typed_message_of_the_codec(frame_id: str, data: str) -> None:
    result = decode_can(frame_id, [data])
    raw = bytes.fromhex(data)
    assert result.decoded == pylon_can.decode_message(result.arbitration_id, raw)
    assert result.signals == pylon_can.decode_signals(result.arbitration_id, raw)
    assert (
        result.message == pylon_can.database().get_message_by_frame_id(result.arbitration_id).name
    )


def test_decode_can_imports_neither_cantools_nor_python_can() -> None:
    code = (
        "import sys\n"
        "from active_cli.protocols.decode_can_text import decode_can\n"
        "decode_can('0x356', ['7A13F2FE6B01'])\n"
        "print(' '.join(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    loaded = set(done.stdout.split())
    assert "active_cli.protocols.can_digest" in loaded
    assert not {name for name in loaded if name.split(".")[0] in ("cantools", "can")}
