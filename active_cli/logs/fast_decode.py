"""Decode Pylon LV frames fast: cantools' own definitions compiled to plain Python.

cantools decodes a frame generically: it unpacks with bitstruct, builds a dict,
then scales each signal through its conversion object. For a log of millions of
frames that per-signal machinery is most of the cost. This module reads the same
`Message`/`Signal` definitions (start bit, length, sign, scale, offset, choices)
and writes, once per message and payload length, a small Python function that
does the same work in one ``int.from_bytes`` and a shift and mask per signal,
the way `collections.namedtuple` and `dataclasses` generate code. Two functions
come out of each: ``decode`` returns exactly what cantools' ``decode_message``
returns (same keys, order, types and float bits; ``NamedSignalValue`` objects
for choices), ``decode_plain`` exactly what `pylon_can.decode_signals` returns
(values rounded to the signal's resolution, choices as names).
``tests/test_fast_decode.py`` proves both, property by property, for every
message in the DBC and every payload length. Signals the compiler does not
handle (big-endian, IEEE float, multiplexed or container messages) leave their
message to cantools itself. `FastDecoder` adds a bounded LRU cache of
payload -> decoded values: a battery repeats most frames unchanged every second.
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from cantools.database.can import Database, Message
from cantools.database.can.signal import Signal
from cantools.database.conversion import (
    IdentityConversion,
    LinearConversion,
    LinearIntegerConversion,
    NamedSignalConversion,
)

from active_cli.errors import DecodeError
from active_cli.protocols import pylon_can
from active_cli.protocols.can_messages import SignalValue

CAN_MAX_DLC = 8
DEFAULT_CACHE_SIZE = 4096

RawDecoder = Callable[[bytes], dict[str, Any]]
PlainDecoder = Callable[[bytes], dict[str, SignalValue]]


def _decimals(value: float) -> int:
    exponent = Decimal(str(value)).normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def _ndigits(signal: Signal) -> int:
    # The same rule as pylon_can: round to the resolution's decimal places,
    # so 532 * 0.1 shows as 53.2 and not 53.2000000000000003.
    conversion = signal.conversion
    return max(_decimals(conversion.scale), _decimals(conversion.offset))


def _compilable(message: Message) -> bool:
    if message.is_container or message.is_multiplexed():
        return False
    for signal in message.signals:
        conversion = signal.conversion
        if signal.byte_order != "little_endian" or signal.is_float or conversion.is_float:
            return False
        if not isinstance(
            _numeric(conversion), IdentityConversion | LinearIntegerConversion | LinearConversion
        ):
            return False
    return True


def _numeric(conversion: Any) -> Any:
    """The numeric part of a conversion (itself, unless it has choices)."""
    if isinstance(conversion, NamedSignalConversion):
        # cantools keeps the scaling of a signal with choices in `_conversion`,
        # made by the same factory as a plain signal's (conversion.py); its
        # raw_to_scaled falls back to it when a raw value has no name.
        return conversion._conversion
    return conversion


def _scaled_expr(raw: str, conversion: Any) -> str:
    """The expression cantools' raw_to_scaled evaluates, written out."""
    if isinstance(conversion, IdentityConversion):
        return raw
    # LinearIntegerConversion and LinearConversion both compute
    # `raw_value * self.scale + self.offset`; repr() round-trips ints and floats.
    return f"({raw} * {conversion.scale!r} + {conversion.offset!r})"


def _plain_expr(raw: str, conversion: Any, ndigits: int) -> str:
    """The expression pylon_can's _plain applies to the scaled value."""
    scaled = _scaled_expr(raw, conversion)
    if isinstance(conversion, LinearConversion):
        # Always a float: cantools picks LinearConversion only when the scale
        # or the offset is not an integer (the factory in conversion.py).
        return f"round({scaled}, {ndigits})" if ndigits else f"round({scaled})"
    return scaled  # an int


def plain_number(signal: Signal, raw: str) -> str:
    """The expression of `signal`'s number as `pylon_can.decode_signals` gives it
    (scaled, rounded to its resolution), from the raw variable `raw`."""
    return _plain_expr(raw, _numeric(signal.conversion), _ndigits(signal))


def choice_names(signal: Signal) -> dict[int, str] | None:
    """raw value -> choice name, for a signal with choices (else None)."""
    conversion = signal.conversion
    if not isinstance(conversion, NamedSignalConversion):
        return None
    return {k: str(v) for k, v in conversion.choices.items()}


class CompiledMessage:
    """One DBC message compiled to plain Python, one function pair per payload length."""

    def __init__(self, message: Message) -> None:
        if not _compilable(message):
            raise ValueError(f"{message.name}: not compilable (see _compilable)")
        self.message = message
        self._raw: dict[int, RawDecoder] = {}
        self._plain: dict[int, PlainDecoder] = {}

    def decode(self, data: bytes) -> dict[str, Any]:
        """What ``message.decode(data, decode_choices=True, allow_truncated=True)`` gives."""
        fn = self._raw.get(len(data))
        if fn is None:
            fn = self._raw[len(data)] = self._build(len(data), plain=False)
        return fn(data)

    def decode_plain(self, data: bytes) -> dict[str, SignalValue]:
        """:meth:`decode`, then rounded to each signal's resolution, choices as names."""
        return self.plain_decoder(len(data))(data)

    def plain_decoder(self, length: int) -> PlainDecoder:
        """The plain function for payloads of `length` bytes (built on first use)."""
        fn = self._plain.get(length)
        if fn is None:
            fn = self._plain[length] = self._build(length, plain=True)
        return fn

    def present_signals(self, length: int) -> list[Signal]:
        """Signals a payload of `length` bytes carries, in cantools' order.

        cantools pads a short payload with 0xFF and drops every signal not
        entirely inside the bytes received; a long one is cut to the DBC length.
        """
        if length >= self.message.length:
            return list(self.message.signals)
        bits = length * 8
        return [s for s in self.message.signals if s.start + s.length <= bits]

    def extraction(self, length: int) -> tuple[list[str], list[tuple[Signal, str]]]:
        """The statements that unpack a payload of `length` bytes (``data``) into
        one raw variable per present signal, and (signal, variable) pairs."""
        used = min(length, self.message.length)
        lines = [f"    v = _from_bytes(data[:{used}], 'little')"]
        raws: list[tuple[Signal, str]] = []
        for i, signal in enumerate(self.present_signals(length)):
            raw = f"r{i}"
            mask = (1 << signal.length) - 1
            lines.append(f"    {raw} = (v >> {signal.start}) & {mask:#x}")
            if signal.is_signed:
                sign = 1 << (signal.length - 1)
                lines.append(f"    {raw} -= ({raw} & {sign:#x}) << 1")
            raws.append((signal, raw))
        return lines, raws

    def source(self, length: int, *, plain: bool) -> tuple[str, dict[str, Any]]:
        """The Python source of the decoder for `length` bytes, and its namespace."""
        namespace: dict[str, Any] = {"_from_bytes": int.from_bytes}
        lines, raws = self.extraction(length)
        lines.insert(0, "def decode(data):")
        items: list[str] = []
        for i, (signal, raw) in enumerate(raws):
            conversion = signal.conversion
            if isinstance(conversion, NamedSignalConversion):
                # raw_to_scaled: the choice when the raw value has one, else
                # the number; plain: the choice's name.
                table = f"_c{i}"
                if plain:
                    namespace[table] = {k: str(v) for k, v in conversion.choices.items()}
                    number = plain_number(signal, raw)
                else:
                    namespace[table] = dict(conversion.choices)
                    number = _scaled_expr(raw, _numeric(conversion))
                expr = f"{table}.get({raw}, {number})"
            elif plain:
                expr = plain_number(signal, raw)
            else:
                expr = _scaled_expr(raw, conversion)
            items.append(f"{signal.name!r}: {expr}")
        lines.append("    return {" + ", ".join(items) + "}")
        return "\n".join(lines) + "\n", namespace

    def _build(self, length: int, *, plain: bool) -> Any:
        text, namespace = self.source(length, plain=plain)
        exec(compile(text, f"<fast_decode {self.message.name} len={length}>", "exec"), namespace)
        return namespace["decode"]


def compile_message(message: Message) -> CompiledMessage | None:
    """Compile `message`, or None when one of its signals needs cantools itself."""
    if not _compilable(message):
        return None
    return CompiledMessage(message)


class FastDecoder:
    """Pylon LV frames -> signal values, equal to `pylon_can.decode_signals`.

    Frames of a length `pylon_can` refuses (too short for the id, longer than
    8) and ids not in the DBC go to `pylon_can.decode_signals` itself, so the
    DecodeError is the codec's own. ``cache_size`` bounds an LRU cache of
    (id, payload) -> values; 0 turns it off (for callers that cache their own
    rendering). The returned mappings are shared with the cache: do not mutate.
    """

    def __init__(
        self, database: Database | None = None, *, cache_size: int = DEFAULT_CACHE_SIZE
    ) -> None:
        self.database = database if database is not None else pylon_can.database()
        self._messages: dict[int, CompiledMessage | None] = {
            m.frame_id: compile_message(m) for m in self.database.messages
        }
        # (id, length) -> decoder; bounded: ids from the DBC, lengths 0..64.
        self._by_length: dict[tuple[int, int], PlainDecoder] = {}
        self._cache_size = cache_size
        self._cache: OrderedDict[tuple[int, bytes], Mapping[str, SignalValue]] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def compiled(self, arbitration_id: int) -> CompiledMessage | None:
        return self._messages.get(arbitration_id)

    def signals(self, arbitration_id: int, data: bytes) -> Mapping[str, SignalValue]:
        """Decode one standard-id frame; raises DecodeError like `pylon_can.decode_signals`."""
        if not self._cache_size:
            return self.decoder(arbitration_id, len(data))(data)
        key = (arbitration_id, bytes(data))
        cache = self._cache
        found = cache.get(key)
        if found is not None:
            cache.move_to_end(key)
            self.hits += 1
            return found
        self.misses += 1
        value = self.decoder(arbitration_id, len(data))(key[1])
        cache[key] = value
        if len(cache) > self._cache_size:
            cache.popitem(last=False)
        return value

    def decoder(self, arbitration_id: int, length: int) -> PlainDecoder:
        """The plain decoder for this id and payload length (raising ones included)."""
        fn = self._by_length.get((arbitration_id, length))
        if fn is not None:
            return fn
        fallback: PlainDecoder = functools.partial(pylon_can.decode_signals, arbitration_id)
        if arbitration_id not in self._messages:
            return fallback  # not cached: unknown ids are unbounded
        compiled = self._messages[arbitration_id]
        try:
            # Whether pylon_can accepts a frame depends on its id and length
            # only (DBC id, at most 8 bytes, at least the id's minimum), so
            # one probe per length tells which frames the compiled path may take.
            pylon_can.decode_signals(arbitration_id, bytes(length))
        except DecodeError:
            fn = fallback
        else:
            fn = compiled.plain_decoder(length) if compiled is not None else fallback
        self._by_length[(arbitration_id, length)] = fn
        return fn
