"""The CSV and JSON-lines text of a CAN frame, compiled per (CAN id, payload length).

A decode writes the same few messages millions of times, so the text around
the values (the id, the message and signal names, units, JSON punctuation) is
fixed per id, and which signals a payload carries is fixed per length. For
each (id, length) this module writes, once, a small Python function that
unpacks the payload (`fast_decode`'s shifts and masks) and returns the
frame's text in one f-string: the CSV rows, or the JSON object's body after
its timestamp and source. Values are rendered as the per-frame writer did:
``repr`` of the number (what ``json.dumps`` writes for an int or a float),
choice names pre-rendered through `json_text` / `csv_field`. Frames of a
length `pylon_can` refuses get their error text, ids the DBC does not know
and filtered signals are decided here too, so the decode loop only joins
text. ``tests/test_decode_blocks.py`` checks the compiled text against the
per-frame rendering (``json.dumps`` of `pylon_can.decode_signals`) for every
message and length.
"""

from __future__ import annotations

import fnmatch
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from active_cli.errors import UsageError
from active_cli.sanitize import printable

if TYPE_CHECKING:
    from active_cli.protocols.can_digest import MessageSpec, SignalSpec

# Kinds of frame; the first two are written.
DECODED, ERROR, UNKNOWN, SKIPPED = 0, 1, 2, 3

Parts = tuple[str, ...]  # text pieces; the timestamp goes between them
Rendered = tuple[int, Parts]
FrameRenderer = Callable[[bytes], Parts]


def csv_field(text: str) -> str:
    """RFC 4180 quoting, only where needed, of text made `printable` first.

    Strings in a CSV come from the bus or the file (the 0x35E name, a channel,
    a frame in an error): an ESC in them would act on the terminal that shows
    the CSV (``less``, ``cat``, a spreadsheet's preview), so it reads ``\\x1b``.
    """
    text = printable(text)
    if any(c in text for c in ',"') or text != text.strip():
        return '"' + text.replace('"', '""') + '"'
    return text


def json_text(value: object) -> str:
    """Compact JSON whose text is printable: what every JSON line is written with."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if text.isprintable():
        return text
    # json.dumps escapes C0 controls only: DEL, C1 (0x9B is an 8-bit CSI) and
    # bidi overrides would reach a terminal raw. A \u escape keeps the exact
    # value for any JSON reader.
    return "".join(c if c.isprintable() else json.dumps(c, ensure_ascii=True)[1:-1] for c in text)


_JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")


def json_number(stamp: str) -> str:
    """A candump timestamp (text `float` accepts) as a JSON number, or ``null``.

    candump -L pads seconds to 10 digits ("%010lu"), so a log of relative
    times reads "0000000001.000000": fine in CSV, not a JSON number. Other
    logs hold "+2.5", "5." or ".5", which float() reads and JSON does not:
    those are written with candump's six decimals. "nan" and "inf" are no
    time at all: ``null``.
    """
    if _JSON_NUMBER.fullmatch(stamp):
        return stamp
    value = float(stamp)
    return f"{value:.6f}" if math.isfinite(value) else "null"


def around_stamp(parts: Parts, head: str, mid: str) -> Parts:
    """Pieces P with ``stamp.join(P) == (head + stamp + mid).join(parts)``.

    `parts` is ``("", row, row ...)``: each row is written after the text
    before the timestamp (`head`), the timestamp and the source (`mid`). Folding
    head and mid into the pieces once per cached frame leaves one ``join`` a line.
    """
    rows = parts[1:]
    if not rows:
        return ("",)
    return (head, *[mid + row + head for row in rows[:-1]], mid + rows[-1])


class SignalPattern:
    """Case-insensitive globs on a name or a qualified name."""

    def __init__(self, patterns: Iterable[str]) -> None:
        self.patterns = tuple(p.lower() for p in patterns)

    def __bool__(self) -> bool:
        return bool(self.patterns)

    def matches(self, *names: str) -> bool:
        return any(fnmatch.fnmatchcase(name.lower(), p) for p in self.patterns for name in names)


@dataclass(frozen=True)
class _Compiled:
    kind: int  # DECODED, ERROR or SKIPPED: fixed by the id and the length
    render: FrameRenderer
    reason: str | None = None


class CanText:
    """CAN frames -> text pieces of the decode output, for one format and filter.

    ``ids``: only these ids (empty: all). ``signals``: glob patterns on the
    signal name or ``Message.Signal`` (empty: all).
    """

    def __init__(
        self,
        messages: Mapping[int, MessageSpec],
        *,
        csv: bool,
        ids: frozenset[int],
        signals: tuple[str, ...],
    ) -> None:
        self.csv = csv
        self.ids = ids
        pattern = SignalPattern(signals)
        # id -> the signal names to write (None = all); computed once, so the
        # filters cost nothing per frame.
        self._selected: dict[int, frozenset[str] | None] = {}
        for message in messages.values():
            if ids and message.frame_id not in ids:
                continue
            if pattern:
                names = frozenset(
                    s.name
                    for s in message.signals
                    if pattern.matches(s.name, f"{message.name}.{s.name}")
                )
                if names:
                    self._selected[message.frame_id] = names
            else:
                self._selected[message.frame_id] = None
        if pattern and not self._selected:
            raise UsageError(
                f"--signal {' '.join(signals)} matches no signal"
                + (" of the ids given" if ids else " in the DBC"),
                hint="signal names are the DBC's, e.g. Voltage, BMS_Limits.ChargeVoltageLimit, "
                "'Alarm*' (see `cantools dump` of dbc/pylon_lv.dbc)",
            )
        self._messages = dict(messages)
        # (id, length) -> compiled; bounded: DBC ids times lengths 0..64.
        self._compiled: dict[tuple[int, int], _Compiled] = {}
        self.unknown_ids: list[str] = []
        self.last_error: str | None = None

    def render(self, can_id: int, data: bytes, extended: bool, not_data: bool) -> Rendered:
        """(kind, parts) of one frame: the output is ``(head + stamp + mid).join(parts)``."""
        # Remote and error frames carry no signals. Pylon LV uses 11-bit ids
        # only: an extended id is another device. (A CAN FD frame is decoded
        # like any other; pylon_can refuses more than 8 bytes.)
        if not_data or (self.ids and can_id not in self.ids):
            return SKIPPED, ()
        if extended or can_id not in self._messages:
            if len(self.unknown_ids) < 8:
                label = f"0x{can_id:08X}" if extended else f"0x{can_id:03X}"
                if label not in self.unknown_ids:
                    self.unknown_ids.append(label)
            return UNKNOWN, ()
        if can_id not in self._selected:
            return SKIPPED, ()
        compiled = self._compiled.get((can_id, len(data)))
        if compiled is None:
            compiled = self._compiled[(can_id, len(data))] = self._compile(can_id, len(data))
        if compiled.kind == ERROR:
            self.last_error = compiled.reason
        return compiled.kind, compiled.render(data)

    # -- compiling ------------------------------------------------------------------

    def _compile(self, can_id: int, length: int) -> _Compiled:
        message = self._messages[can_id]
        id_text = f"0x{can_id:03X}"
        reason = message.length_error(length)
        if reason is not None:
            return _Compiled(ERROR, self._error_renderer(id_text, message.name, reason), reason)
        selected = self._selected[can_id]
        present = [s for s in message.present(length) if selected is None or s.name in selected]
        if selected is not None and not present:  # a short frame without the chosen signals
            return _Compiled(SKIPPED, lambda data: ())
        return _Compiled(DECODED, self._compiled_renderer(id_text, message, length, present))

    def _compiled_renderer(
        self, id_text: str, message: MessageSpec, length: int, present: list[SignalSpec]
    ) -> FrameRenderer:
        namespace: dict[str, Any] = {"_from_bytes": int.from_bytes, "_repr": repr}

        def const(text: str) -> str:
            # Fixed text goes in by name: no quoting or brace escaping in the source.
            name = f"_k{len(namespace)}"
            namespace[name] = text
            return f"{{{name}}}"

        # As fast_decode: the bytes present (up to the DBC length) as one
        # little-endian int, then a shift and mask per signal, sign-extended.
        lines = [f"    v = _from_bytes(data[:{min(length, message.length)}], 'little')"]
        values: list[str] = []  # one f-string replacement field per signal
        for i, signal in enumerate(present):
            raw = f"r{i}"
            lines.append(f"    {raw} = (v >> {signal.start}) & {(1 << signal.length) - 1:#x}")
            if signal.signed:
                lines.append(f"    {raw} -= ({raw} & {1 << (signal.length - 1):#x}) << 1")
            number = signal.plain_expr(raw)
            if signal.choices is None:
                values.append(f"{{{number}!r}}")
                continue
            table = f"_c{i}"
            render = csv_field if self.csv else json_text
            namespace[table] = {k: render(v) for k, v in signal.choices.items()}
            # A choice name is never empty, so `or` falls back to the number.
            values.append(f"{{{table}.get({raw}) or _repr({number})}}")
        if self.csv:
            head = f"{id_text},{csv_field(message.name)},"
            rows = [
                "f'"
                + const(f"{head}{csv_field(signal.name)},")
                + value
                + const(f",{csv_field(signal.unit)},\n")
                + "'"
                for signal, value in zip(present, values, strict=True)
            ]
            result = "('', " + "".join(f"{row}, " for row in rows) + ")"
        else:
            pairs = [
                const(("," if i else "") + json_text(signal.name) + ":") + value
                for i, (signal, value) in enumerate(zip(present, values, strict=True))
            ]
            body = (
                const(f'"id":"{id_text}","message":{json_text(message.name)},"data":"')
                + "{data.hex().upper()}"
                + const('","signals":{')
                + "".join(pairs)
                + const("}}\n")
            )
            result = f"('', f'{body}')"
        source = "def render(data):\n" + "\n".join(lines) + f"\n    return {result}\n"
        code = compile(source, f"<can_text 0x{message.frame_id:03X} len={length}>", "exec")
        exec(code, namespace)
        render_fn: FrameRenderer = namespace["render"]
        return render_fn

    def _error_renderer(self, id_text: str, name: str, reason: str) -> FrameRenderer:
        if self.csv:
            row = ("", f"{id_text},{csv_field(name)},,,,{csv_field(reason)}\n")
            return lambda data: row
        start = f'"id":"{id_text}","message":{json_text(name)},"data":"'
        end = f'","signals":{{}},"error":{json_text(reason)}}}\n'
        return lambda data: ("", start + data.hex().upper() + end)
