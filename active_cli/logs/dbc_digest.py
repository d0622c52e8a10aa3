"""The DBC's messages as plain data, so `log decode` starts without importing cantools.

Importing cantools costs about 0.3 s (it imports python-can and asyncio for
its tester), more than the rest of a small decode together. What the decoder
needs of the DBC is small and fixed: per message its id, name, DBC length and
the shortest frame `pylon_can` accepts; per signal its bits, sign, unit,
scaling and choice names. `make_digest` takes them from cantools' own
`Message` / `Signal` objects (and `pylon_can`'s length rules) into
``dbc/pylon_lv.digest.json``; `load_digest` reads that file back with the json
module only. ``tests/test_dbc_digest.py`` checks that the shipped file is
exactly what cantools reads from ``dbc/pylon_lv.dbc`` today, so an edited DBC
without a new digest fails the tests (``python -m active_cli.logs.dbc_digest``
writes it again).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from cantools.database.can import Database

DIGEST_FILE = "pylon_lv.digest.json"
DIGEST_VERSION = 1

Scaling = Literal["identity", "int", "float"]  # cantools' conversion classes


@dataclass(frozen=True)
class SignalSpec:
    """One little-endian integer signal, as `fast_decode` compiles it."""

    name: str
    start: int
    length: int
    signed: bool
    unit: str
    scaling: Scaling  # identity: raw; int / float: raw * scale + offset
    scale: int | float
    offset: int | float
    ndigits: int  # decimals pylon_can rounds a float value to
    choices: dict[int, str] | None

    def plain_expr(self, raw: str) -> str:
        """The value as `pylon_can.decode_signals` gives it, from the raw variable."""
        if self.scaling == "identity":
            return raw
        scaled = f"({raw} * {self.scale!r} + {self.offset!r})"
        if self.scaling == "float":
            return f"round({scaled}, {self.ndigits})" if self.ndigits else f"round({scaled})"
        return scaled


@dataclass(frozen=True)
class MessageSpec:
    frame_id: int
    name: str
    length: int  # the DBC's
    min_length: int  # the shortest frame pylon_can decodes
    signals: tuple[SignalSpec, ...]

    def present(self, length: int) -> tuple[SignalSpec, ...]:
        """Signals a payload of `length` bytes carries (cantools' allow_truncated rule)."""
        if length >= self.length:
            return self.signals
        return tuple(s for s in self.signals if s.start + s.length <= length * 8)

    def length_error(self, length: int) -> str | None:
        """`pylon_can.decode_signals`' reason for refusing a frame of `length` bytes."""
        where = f"0x{self.frame_id:03X} {self.name}"
        if length > 8:
            return f"{where}: {length} data bytes, a classic CAN frame carries at most 8"
        if length < self.min_length:
            return f"{where}: {length} data bytes, needs at least {self.min_length}"
        return None


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


def parse_digest(data: dict[str, Any]) -> dict[int, MessageSpec]:
    if data.get("version") != DIGEST_VERSION:
        raise ValueError(f"digest version {data.get('version')!r}, expected {DIGEST_VERSION}")
    messages = {}
    for m in data["messages"]:
        signals = tuple(
            SignalSpec(
                name=s["name"],
                start=s["start"],
                length=s["length"],
                signed=s["signed"],
                unit=s["unit"],
                scaling=s["scaling"],
                scale=s["scale"],
                offset=s["offset"],
                ndigits=s["ndigits"],
                choices=None if s["choices"] is None else {k: v for k, v in s["choices"]},
            )
            for s in m["signals"]
        )
        messages[m["frame_id"]] = MessageSpec(
            m["frame_id"], m["name"], m["length"], m["min_length"], signals
        )
    return messages


def load_digest() -> dict[int, MessageSpec]:
    """The shipped digest of dbc/pylon_lv.dbc."""
    from active_cli.resources import data_file

    return parse_digest(json.loads(data_file("dbc", DIGEST_FILE).read_text(encoding="utf-8")))


def write_digest(path: Path) -> None:
    from active_cli.protocols import pylon_can

    text = json.dumps(make_digest(pylon_can.database()), indent=1, ensure_ascii=False)
    path.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    from active_cli.resources import data_dir

    write_digest(data_dir("dbc") / DIGEST_FILE)
