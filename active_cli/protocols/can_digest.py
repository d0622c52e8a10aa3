"""The DBC's messages as plain data, so a CAN decode starts without importing cantools.

Importing cantools costs about 0.3 s (it imports python-can and asyncio for
its tester), more than the rest of a small decode together. What a decoder
needs of the DBC is small and fixed: per message its id, name, DBC length and
the shortest frame `pylon_can` accepts; per signal its bits, sign, unit,
scaling and choice names. `active_cli.logs.dbc_digest` takes them from
cantools' own `Message` / `Signal` objects into ``dbc/pylon_lv.digest.json``;
`load_digest` reads that file back with the json module only.

`decode_signals` is `pylon_can.decode_signals` from the digest: the same
values, the same Python types and the same refusals, which
``tests/test_can_digest.py`` checks for every message and length. It is what
`active decode can` decodes with; `log decode` compiles the same specs into
per-(id, length) text (`active_cli.logs.can_text`).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import Any, Literal

from active_cli.errors import DataFileError, DecodeError
from active_cli.protocols.can_messages import SignalValue
from active_cli.resources import data_file

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

    def plain_value(self, raw: int) -> SignalValue:
        """`plain_expr` evaluated: what cantools' decode and `pylon_can` make of `raw`."""
        if self.choices is not None and raw in self.choices:
            return self.choices[raw]
        if self.scaling == "identity":
            return raw
        scaled = raw * self.scale + self.offset
        if self.scaling == "float":
            return round(scaled, self.ndigits) if self.ndigits else round(scaled)
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

    def decode_plain(self, data: bytes) -> dict[str, SignalValue]:
        """The signals of a frame whose length `length_error` accepted."""
        # Bytes beyond the DBC length (a frame padded to 8) carry no signal.
        value = int.from_bytes(data[: self.length], "little")
        signals: dict[str, SignalValue] = {}
        for signal in self.present(len(data)):
            raw = (value >> signal.start) & ((1 << signal.length) - 1)
            if signal.signed and raw >> (signal.length - 1):
                raw -= 1 << signal.length
            signals[signal.name] = signal.plain_value(raw)
        return signals


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


@functools.cache
def load_digest() -> dict[int, MessageSpec]:
    """The shipped digest of dbc/pylon_lv.dbc (read once; treat it as read-only).

    Raises DataFileError when the file is missing, unreadable or damaged.
    """
    path = data_file("dbc", DIGEST_FILE)  # MissingDataError (a DataFileError) if absent
    hint = "reinstall active, or write it again: python -m active_cli.logs.dbc_digest"
    try:
        return parse_digest(json.loads(path.read_text(encoding="utf-8")))
    except OSError as e:
        raise DataFileError(str(path), f"cannot be read: {e.strerror or e}", hint=hint) from e
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        # JSON that does not parse (a ValueError), or not the digest's shape.
        what = f"{type(e).__name__}: {e}" if isinstance(e, KeyError | TypeError) else str(e)
        raise DataFileError(str(path), f"not a valid DBC digest: {what}", hint=hint) from e


def decode_signals(arbitration_id: int, data: bytes) -> dict[str, SignalValue]:
    """`pylon_can.decode_signals` from the digest: same values, same DecodeError reasons."""
    raw = bytes(data)
    message = load_digest().get(arbitration_id)
    if message is None:
        raise DecodeError(
            f"unknown CAN id 0x{arbitration_id:03X}: not a Pylon LV message", frame=raw
        )
    reason = message.length_error(len(raw))
    if reason is not None:
        raise DecodeError(reason, frame=raw)
    return message.decode_plain(raw)
