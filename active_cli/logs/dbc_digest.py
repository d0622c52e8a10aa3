"""Writes the DBC's digest, ``dbc/pylon_lv.digest.json``, from cantools' reading of the DBC.

The digest (`active_cli.protocols.can_digest`) lets `log decode` and `decode
can` start without importing cantools. `make_digest` takes it from cantools'
own `Message` / `Signal` objects (and `pylon_can`'s length rules).
``tests/test_dbc_digest.py`` checks that the shipped file is exactly what
cantools reads from ``dbc/pylon_lv.dbc`` today, so an edited DBC without a new
digest fails the tests (``python -m active_cli.logs.dbc_digest`` writes it
again).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from active_cli.protocols.can_digest import (
    DIGEST_FILE as DIGEST_FILE,
)
from active_cli.protocols.can_digest import (
    DIGEST_VERSION,
)
from active_cli.protocols.can_digest import (
    load_digest as load_digest,
)
from active_cli.protocols.can_digest import (
    parse_digest as parse_digest,
)

if TYPE_CHECKING:
    from cantools.database.can import Database


def make_digest(database: Database) -> dict[str, Any]:
    """The digest of `database` (pylon_can's DBC) as JSON data."""
    from active_cli.logs.fast_decode import _ndigits, _numeric, choice_names, compile_message
    from active_cli.protocols import pylon_can

    messages = []
    for message in sorted(database.messages, key=lambda m: m.frame_id):
        if compile_message(message) is None:
            raise ValueError(f"{message.name}: not a plain little-endian integer message")
        signals = []
        for s in message.signals:
            numeric = _numeric(s.conversion)
            kind = type(numeric).__name__
            scaling = {
                "IdentityConversion": "identity",
                "LinearIntegerConversion": "int",
                "LinearConversion": "float",
            }[kind]
            names = choice_names(s)
            signals.append(
                {
                    "name": s.name,
                    "start": s.start,
                    "length": s.length,
                    "signed": s.is_signed,
                    "unit": s.unit or "",
                    "scaling": scaling,
                    "scale": numeric.scale,
                    "offset": numeric.offset,
                    "ndigits": _ndigits(s),
                    "choices": None if names is None else sorted(names.items()),
                }
            )
        messages.append(
            {
                "frame_id": message.frame_id,
                "name": message.name,
                "length": message.length,
                "min_length": pylon_can._MIN_LENGTH.get(message.frame_id, message.length),
                "signals": signals,
            }
        )
    return {"version": DIGEST_VERSION, "messages": messages}


def write_digest(path: Path) -> None:
    from active_cli.protocols import pylon_can

    text = json.dumps(make_digest(pylon_can.database()), indent=1, ensure_ascii=False)
    path.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    from active_cli.resources import data_dir

    write_digest(data_dir("dbc") / DIGEST_FILE)
