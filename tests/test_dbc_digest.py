"""The shipped DBC digest is what cantools reads from dbc/pylon_lv.dbc today.

`log decode` compiles its decoders from ``dbc/pylon_lv.digest.json`` instead
of importing cantools (0.3 s of start-up); an edited DBC without a new digest
(``python -m active_cli.logs.dbc_digest``) fails here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from active_cli.logs.dbc_digest import DIGEST_FILE, load_digest, make_digest, parse_digest
from active_cli.protocols import pylon_can
from active_cli.resources import data_file


def test_the_shipped_digest_is_the_dbc() -> None:
    shipped = json.loads(data_file("dbc", DIGEST_FILE).read_text(encoding="utf-8"))
    assert shipped == json.loads(json.dumps(make_digest(pylon_can.database())))


def test_the_digest_keeps_every_message_signal_and_length_rule() -> None:
    digest = load_digest()
    db = pylon_can.database()
    assert set(digest) == {m.frame_id for m in db.messages}
    for message in db.messages:
        spec = digest[message.frame_id]
        assert [s.name for s in spec.signals] == [s.name for s in message.signals]
        for length in range(12):
            try:
                pylon_can.decode_signals(message.frame_id, bytes(length))
            except Exception as e:
                assert spec.length_error(length) == getattr(e, "reason", None)
            else:
                assert spec.length_error(length) is None
                decoded = message.decode(bytes(length), allow_truncated=True)
                assert [s.name for s in spec.present(length)] == list(decoded)
    assert parse_digest(make_digest(db)) == digest


def test_decoding_a_candump_log_imports_neither_cantools_nor_python_can() -> None:
    log = Path(__file__).parent / "fixtures" / "logs" / "decode" / "payloads.log"
    code = (
        "import io, sys\n"
        "from active_cli.logs.decode_stream import DecodeOptions, decode_log\n"
        "for fmt in ('csv', 'jsonl'):\n"
        f"    decode_log({str(log)!r}, io.StringIO(), DecodeOptions(fmt))\n"
        "print(' '.join(sorted(sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(done.stdout.split())
    assert "active_cli.logs.can_text" in loaded
    assert not {name for name in loaded if name.split(".")[0] in ("cantools", "can")}
    assert "active_cli.protocols.pylon_rs485" not in loaded  # nor the RS485 codec


def test_the_rs485_suffix_is_the_capture_format_s() -> None:
    from active_cli.logs.decode_stream import RS485_SUFFIX
    from active_cli.logs.rs485_log import RS485_LOG_SUFFIX

    assert RS485_SUFFIX == RS485_LOG_SUFFIX
