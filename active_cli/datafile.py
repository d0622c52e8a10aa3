"""TOML data files (scenarios, inverter profiles, checklists) read with one set of rules.

`DataDocument.read` turns a file into a `DataTable`; the table's typed getters
(`get_int(key, min=1, max=16)`, `get_str(key, choices=...)`, ...) check the type
and range of every value they hand out, and `check_keys` refuses keys nobody
reads, suggesting the nearest known one. Whatever is wrong becomes one
`DataFileError` (exit 4) in one wording::

    site.toml, line 5, key 'pack.2.soc_pc': unknown key 'soc_pc' in [pack.2];
        did you mean 'soc_pct'?

Strictness is the point: a typo in a fault setting or a profile fact would
otherwise be ignored and simulate, or promise, the wrong thing. tomllib keeps
no positions, so `key_lines` scans the accepted text once and maps every key
path ("pack.3.cells_mv.7", "port.pins[2].function") to the line that set it;
a key that is missing or came from no line of its own points at its nearest
enclosing table.
"""

from __future__ import annotations

import difflib
import enum
import math
import re
import tomllib
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Final

from active_cli.errors import DataFileError
from active_cli.sanitize import printable

__all__ = [
    "REQUIRED",
    "DataDocument",
    "DataTable",
    "Missing",
    "describe_value",
    "key_lines",
    "line_of",
]


class Missing(enum.Enum):
    """The default of a getter whose key must be present."""

    REQUIRED = "required"


REQUIRED: Final = Missing.REQUIRED


class DataDocument:
    """One parsed TOML file: where it came from, what it is, and the line of every key."""

    def __init__(self, data: Mapping[str, object], *, source: str, what: str, text: str) -> None:
        self.source = source
        self.what = what
        self._lines = key_lines(text)
        self._data = data
        self._root = DataTable(self, "", data)

    @classmethod
    def read(cls, path: Path | Traversable, *, what: str) -> DataDocument:
        """Read and parse a file; unreadable, not UTF-8 or not TOML -> DataFileError."""
        source = str(path)
        try:
            raw = path.read_bytes()
        except OSError as e:
            raise DataFileError(source, f"cannot be read: {e.strerror or e}") from e
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise DataFileError(
                source,
                f"not UTF-8 text (byte {e.start}): save the {what} as UTF-8",
                line=raw[: e.start].count(b"\n") + 1,
            ) from e
        return cls.parse(text, source=source, what=what)

    @classmethod
    def parse(cls, text: str, *, source: str, what: str) -> DataDocument:
        """Parse TOML text; `source` names it in messages, `what` says what it is."""
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            message = str(e)
            match = re.search(r"line (\d+)(?:, column (\d+))?", message)
            detail = re.sub(r"\s*\(at [^)]*\)$", "", message)
            detail = detail[:1].lower() + detail[1:]
            if match and match.group(2):
                detail += f" at column {match.group(2)}"
            raise DataFileError(
                source,
                f"TOML syntax error ({detail}): the {what} is not valid TOML",
                line=int(match.group(1)) if match else None,
            ) from e
        return cls(data, source=source, what=what, text=text)

    @property
    def root(self) -> DataTable:
        return self._root

    @property
    def data(self) -> Mapping[str, object]:
        """The parsed TOML as tomllib gave it, for a reader that walks it itself."""
        return self._data

    def line_of(self, key: str) -> int | None:
        return line_of(self._lines, key)

    def error(self, key: str, reason: str, hint: str | None = None) -> DataFileError:
        """An error at `key` (a full dotted path, "" for the whole file)."""
        return DataFileError(
            self.source, reason, key=key or None, line=self.line_of(key) if key else None, hint=hint
        )


class DataTable:
    """One TOML table of a document, read through typed getters that check as they go.

    ``path`` is the table's key path in the file ("" for the top level,
    "port.pins[2]" for the third ``[[port.pins]]``); keys given to the getters
    are relative to it.
    """

    def __init__(self, document: DataDocument, path: str, data: Mapping[str, object]) -> None:
        self.document = document
        self.path = path
        self._data = data

    # --- structure ----------------------------------------------------------------

    def keys(self) -> tuple[str, ...]:
        return tuple(self._data)

    def has(self, key: str) -> bool:
        return key in self._data

    def __len__(self) -> int:
        return len(self._data)

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def raw(self, key: str) -> object:
        """The TOML value as parsed (None when absent), for values of mixed type."""
        return self._data.get(key)

    def _where(self) -> str:
        # Table names come from the file: shown escaped, never acting on a terminal.
        return f"in [{printable(self.path)}]" if self.path else "at the top level"

    def key_path(self, key: str) -> str:
        """`key` of this table as a full path: "pack.2" + "soc_pct", "sources" + "[0]"."""
        if not self.path:
            return key
        if not key:
            return self.path
        return f"{self.path}{key}" if key.startswith("[") else f"{self.path}.{key}"

    def error(self, key: str, reason: str, hint: str | None = None) -> DataFileError:
        """A DataFileError naming the file, the line and the key ("" = this table)."""
        return self.document.error(self.key_path(key), reason, hint)

    def check_keys(self, known: Collection[str]) -> None:
        """Refuse a key that is not in `known`, suggesting the closest known one."""
        for name in self._data:
            if name in known:
                continue
            where = self._where()
            reason = f"unknown key {name!r} {where}" + _did_you_mean(name, known)
            raise self.error(name, reason, hint="known keys here: " + ", ".join(known))

    def _require(self, key: str) -> object:
        if key not in self._data:
            where = self._where()
            raise self.error(key, f"missing key {key!r} {where}")
        return self._data[key]

    # --- tables -------------------------------------------------------------------

    def get_table(self, key: str) -> DataTable:
        """The sub-table `key` (an empty table when it is absent)."""
        value = self._data.get(key, {})
        if not isinstance(value, dict):
            raise self.error(
                key, f"expected a table ([{printable(self.key_path(key))}]), got {_kind(value)}"
            )
        return DataTable(self.document, self.key_path(key), value)

    def require_table(self, key: str) -> DataTable:
        """The sub-table `key`, which must be present."""
        self._require(key)
        return self.get_table(key)

    def get_tables(self, key: str) -> tuple[DataTable, ...]:
        """An array of tables (``[[key]]`` or ``key = [{...}, ...]``); () when absent."""
        value = self._data.get(key, [])
        expected = f"expected an array of tables ([[{printable(self.key_path(key))}]])"
        if not isinstance(value, list):
            raise self.error(key, f"{expected}, got {_kind(value)}")
        out: list[DataTable] = []
        for i, item in enumerate(value):
            if not isinstance(item, dict):
                raise self.error(f"{key}[{i}]", f"{expected}, got {_kind(item)} in it")
            out.append(DataTable(self.document, self.key_path(f"{key}[{i}]"), item))
        return tuple(out)

    # --- strings ------------------------------------------------------------------

    def get_str(
        self,
        key: str,
        default: str | Missing = REQUIRED,
        *,
        choices: Collection[str] | None = None,
        min_len: int = 0,
        max_len: int | None = None,
        ascii_only: bool = False,
    ) -> str:
        """A string; `min_len` >= 1 also refuses blank text, `ascii_only` for wire fields."""
        if key not in self._data and not isinstance(default, Missing):
            return default
        value = self._require(key)
        if not isinstance(value, str):
            raise self.error(key, f"expected a string, got {_kind(value)}")
        return self._check_str(key, value, choices, min_len, max_len, ascii_only)

    def opt_str(
        self,
        key: str,
        *,
        choices: Collection[str] | None = None,
        min_len: int = 0,
        max_len: int | None = None,
        ascii_only: bool = False,
    ) -> str | None:
        if key not in self._data:
            return None
        return self.get_str(
            key, choices=choices, min_len=min_len, max_len=max_len, ascii_only=ascii_only
        )

    def _check_str(
        self,
        key: str,
        value: str,
        choices: Collection[str] | None,
        min_len: int,
        max_len: int | None,
        ascii_only: bool,
    ) -> str:
        if choices is not None and value not in choices:
            listed = ", ".join(repr(c) for c in choices)
            suggestion = _did_you_mean(value, choices)
            raise self.error(
                key, f"must be one of {listed}; {value!r} is not one of them{suggestion}"
            )
        if min_len >= 1 and not value.strip():
            raise self.error(key, "must not be empty")
        if len(value) < min_len or (max_len is not None and len(value) > max_len):
            span = f"{min_len}..{max_len}" if max_len is not None else f"at least {min_len}"
            raise self.error(key, f"must be {span} characters, got {len(value)}")
        if ascii_only and not (value.isascii() and value.isprintable()):
            raise self.error(key, f"must be printable ASCII, got {value!r}")
        return value

    def get_str_list(self, key: str, default: tuple[str, ...] | Missing = ()) -> tuple[str, ...]:
        """An array of non-blank strings; `default` when absent."""
        if key not in self._data and not isinstance(default, Missing):
            return default
        value = self._require(key)
        if not isinstance(value, list):
            raise self.error(key, f"expected an array of strings, got {_kind(value)}")
        for i, item in enumerate(value):
            if not isinstance(item, str):
                raise self.error(f"{key}[{i}]", f"expected a string, got {_kind(item)}")
            if not item.strip():
                raise self.error(f"{key}[{i}]", "must not be empty")
        return tuple(value)

    # --- numbers ------------------------------------------------------------------

    def get_int(
        self,
        key: str,
        default: int | Missing = REQUIRED,
        *,
        min: int | None = None,
        max: int | None = None,
        choices: Collection[int] | None = None,
    ) -> int:
        """A whole number (not a bool, not 2.0) within [min, max] or among `choices`."""
        if key not in self._data and not isinstance(default, Missing):
            return default
        return self._check_int(key, self._require(key), min, max, choices)

    def opt_int(
        self,
        key: str,
        *,
        min: int | None = None,
        max: int | None = None,
        choices: Collection[int] | None = None,
    ) -> int | None:
        if key not in self._data:
            return None
        return self.get_int(key, min=min, max=max, choices=choices)

    def _check_int(
        self,
        key: str,
        value: object,
        lo: int | None,
        hi: int | None,
        choices: Collection[int] | None,
    ) -> int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise self.error(key, f"expected {_int_kind(lo, hi)}, got {_kind(value)}")
        if choices is not None:
            if value not in choices:
                listed = ", ".join(str(c) for c in choices)
                raise self.error(key, f"must be one of {listed}; {value} is not one of them")
            return value
        if not _in_range(value, lo, hi):
            raise self.error(key, f"must be {_range_text(lo, hi)}, got {value}")
        return value

    def get_int_list(
        self,
        key: str,
        default: tuple[int, ...] = (),
        *,
        min: int | None = None,
        max: int | None = None,
        length: int | None = None,
    ) -> tuple[int, ...]:
        """An array of whole numbers, each within [min, max]; exactly `length` if given."""
        value = self._data.get(key)
        if value is None:
            return default
        count = f"{length} " if length is not None else ""
        if not isinstance(value, list) or (length is not None and len(value) != length):
            got = f"{len(value)} entries" if isinstance(value, list) else _kind(value)
            raise self.error(key, f"expected an array of {count}integers, got {got}")
        return tuple(self._check_int(f"{key}[{i}]", v, min, max, None) for i, v in enumerate(value))

    def get_float(
        self,
        key: str,
        default: float | Missing = REQUIRED,
        *,
        min: float | None = None,
        max: float | None = None,
    ) -> float:
        """A number (integers accepted; true/false, nan and inf refused) within [min, max]."""
        if key not in self._data and not isinstance(default, Missing):
            return float(default)
        return self._check_float(key, self._require(key), min, max)

    def opt_float(
        self,
        key: str,
        *,
        min: float | None = None,
        max: float | None = None,
    ) -> float | None:
        if key not in self._data:
            return None
        return self.get_float(key, min=min, max=max)

    def _check_float(self, key: str, value: object, lo: float | None, hi: float | None) -> float:
        if not isinstance(value, int | float) or isinstance(value, bool):
            what = "a number" if lo is None and hi is None else f"a number {_range_text(lo, hi)}"
            raise self.error(key, f"expected {what}, got {_kind(value)}")
        number = float(value)
        if not math.isfinite(number):
            if lo is None and hi is None:
                raise self.error(key, f"must be a finite number, got {value}")
            raise self.error(key, f"must be {_range_text(lo, hi)}, got {value}")
        if not _in_range(number, lo, hi):
            raise self.error(key, f"must be {_range_text(lo, hi)}, got {value}")
        return number

    # --- booleans -----------------------------------------------------------------

    def get_bool(self, key: str, default: bool | Missing = REQUIRED) -> bool:
        if key not in self._data and not isinstance(default, Missing):
            return default
        value = self._require(key)
        if not isinstance(value, bool):
            raise self.error(key, f"expected true or false, got {_kind(value)}")
        return value

    def opt_bool(self, key: str) -> bool | None:
        return self.get_bool(key) if key in self._data else None


# --- wording --------------------------------------------------------------------------


def _did_you_mean(word: str, known: Collection[str]) -> str:
    close = difflib.get_close_matches(word, list(known), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def describe_value(value: object) -> str:
    """What the file holds, as its author wrote it: "the string 'fast'", "true/false"."""
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int):
        return f"the integer {value}"
    if isinstance(value, float):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return f"a {type(value).__name__}"


_kind = describe_value


def _in_range(value: float, lo: float | None, hi: float | None) -> bool:
    return (lo is None or value >= lo) and (hi is None or value <= hi)


def _num(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _range_text(lo: float | None, hi: float | None) -> str:
    if lo is not None and hi is not None:
        return f"between {_num(lo)} and {_num(hi)}"
    if lo is not None:
        return f"at least {_num(lo)}"
    if hi is not None:
        return f"at most {_num(hi)}"
    return "a number"


def _int_kind(lo: int | None, hi: int | None) -> str:
    if lo == 1 and hi is None:
        return "a positive whole number"
    if lo is None and hi is None:
        return "an integer"
    return f"an integer {_range_text(lo, hi)}"


# --- key -> line map ------------------------------------------------------------------

_BARE: Final = r"[A-Za-z0-9_-]+"
_QUOTED: Final = r'"(?:[^"\\]|\\.)*"|\'[^\']*\''
_PART: Final = rf"(?:{_BARE}|{_QUOTED})"
_DOTTED: Final = rf"{_PART}(?:\s*\.\s*{_PART})*"
_ARRAY_HEADER_RE: Final = re.compile(rf"^\s*\[\[\s*({_DOTTED})\s*\]\]")
_HEADER_RE: Final = re.compile(rf"^\s*\[\s*({_DOTTED})\s*\]")
_KEYVAL_RE: Final = re.compile(rf"^\s*({_DOTTED})\s*=")
_INLINE_KEY_RE: Final = re.compile(rf"\s*({_DOTTED})\s*=")
_PART_RE: Final = re.compile(_PART)


def line_of(lines: Mapping[str, int], key: str) -> int | None:
    """The line that set `key`, else that of its nearest enclosing key or table."""
    candidate = key
    while candidate:
        if candidate in lines:
            return lines[candidate]
        cut = max(candidate.rfind("."), candidate.rfind("["))
        if cut <= 0:
            break
        candidate = candidate[:cut]
    return None


def _parts(dotted: str) -> list[str]:
    return [p[1:-1] if p[:1] in "\"'" else p for p in _PART_RE.findall(dotted)]


def _resolve(parts: list[str], arrays: Mapping[str, int]) -> list[str]:
    """Header parts -> path parts: [quirks.x] after the 3rd [[quirks]] is quirks[2].x."""
    out: list[str] = []
    for part in parts:
        out.append(part)
        joined = ".".join(out)
        if joined in arrays:
            out = [f"{joined}[{arrays[joined] - 1}]"]
    return out


def key_lines(text: str) -> dict[str, int]:
    """Map every key path ("pack.3.cells_mv.7", "faults.stop_answering[0].address")
    to the 1-based line that first set it. Only meaningful on text tomllib accepted."""
    lines: dict[str, int] = {}
    rows = text.splitlines()
    table: list[str] = []
    array_counts: dict[str, int] = {}
    row = 0
    while row < len(rows):
        raw = rows[row]
        if match := _ARRAY_HEADER_RE.match(raw):
            parts = _parts(match.group(1))
            base = ".".join(_resolve(parts[:-1], array_counts) + parts[-1:])
            index = array_counts.get(base, 0)
            array_counts[base] = index + 1
            table = [f"{base}[{index}]"]
            lines.setdefault(base, row + 1)
            lines.setdefault(table[0], row + 1)
            row += 1
        elif match := _HEADER_RE.match(raw):
            table = _resolve(_parts(match.group(1)), array_counts)
            for k in range(1, len(table) + 1):
                lines.setdefault(".".join(table[:k]), row + 1)
            row += 1
        elif match := _KEYVAL_RE.match(raw):
            parts = [*table, *_parts(match.group(1))]
            for k in range(len(table) + 1, len(parts) + 1):
                lines.setdefault(".".join(parts[:k]), row + 1)
            row = _scan_value(rows, row, match.end(), ".".join(parts), lines)
        else:
            row += 1
    return lines


@dataclass
class _Frame:
    kind: str  # "[" or "{"
    path: str
    index: int = 0
    expect_key: bool = False
    last_key: str = ""


def _scan_value(rows: list[str], row: int, col: int, path: str, lines: dict[str, int]) -> int:
    """Walk one value (maybe multi-line), recording the keys of inline tables in it.

    Returns the index of the first row after the value.
    """
    frames: list[_Frame] = []
    quote: str | None = None
    while row < len(rows):
        text = rows[row]
        pos = col
        while pos < len(text):
            ch = text[pos]
            if quote is not None:
                if ch == "\\" and quote in ('"', '"""'):
                    pos += 2
                elif text.startswith(quote, pos):
                    pos += len(quote)
                    quote = None
                else:
                    pos += 1
                continue
            top = frames[-1] if frames else None
            if (
                top is not None
                and top.kind == "{"
                and top.expect_key
                and (match := _INLINE_KEY_RE.match(text, pos))
            ):
                top.last_key = ".".join(_parts(match.group(1)))
                lines.setdefault(f"{top.path}.{top.last_key}", row + 1)
                top.expect_key = False
                pos = match.end()
                continue
            if ch == "#":
                break
            if text.startswith('"""', pos) or text.startswith("'''", pos):
                quote = text[pos : pos + 3]
                pos += 3
                continue
            if ch in "\"'":
                quote = ch
            elif ch in "[{":
                if top is None:
                    child = path
                elif top.kind == "[":
                    child = f"{top.path}[{top.index}]"
                else:
                    child = f"{top.path}.{top.last_key}"
                lines.setdefault(child, row + 1)
                frames.append(_Frame(ch, child, expect_key=ch == "{"))
            elif ch in "]}":
                if frames:
                    frames.pop()
            elif ch == "," and top is not None:
                if top.kind == "[":
                    top.index += 1
                else:
                    top.expect_key = True
            pos += 1
        row += 1
        col = 0
        if not frames and quote is None:
            return row
    return row
