"""Frozen dataclasses to JSON and back, and a JSON file write that never leaves half a file.

`to_json` turns a record (nested dataclasses, enums, tuples, dicts, None) into
plain JSON values; `from_json` rebuilds the record from them, driven by the
dataclass's own type hints and strict about it: a wrong type, a missing
required field or an unknown key is a `RecordError` (a ``ValueError``) that
names the field path (``steps[3].findings[0].severity``), so a damaged or
hand-edited file is refused with a reason instead of half-loaded.

`atomic_write_json` is how every record reaches the disk: a temp file in the
same folder, fsync, rename over the target, fsync the folder. A crash or an
unplugged laptop at any moment leaves either the old file or the new one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import errno
import json
import math
import os
import tempfile
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import TypeVar, cast

from active_cli.errors import OutputError

T = TypeVar("T")

JsonValue = None | bool | int | float | str | list["JsonValue"] | dict[str, "JsonValue"]


class RecordError(ValueError):
    """A JSON value that does not fit the record type; ``path`` names the field."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path or '(top level)'}: {reason}")
        self.path = path
        self.reason = reason


def to_json(obj: object, *, properties: bool = False) -> JsonValue:
    """`obj` as JSON values: dataclasses as objects (fields in order), enums by value.

    Tuples and lists become arrays, dict keys strings (``{1: ...}`` -> ``{"1": ...}``),
    bytes upper-case hex, NaN ``null`` (JSON has no NaN). ``properties=True`` adds
    each dataclass's public ``@property`` values after its fields, for output meant
    for people and scripts (``--json``); records written to be read back leave
    them out, since `from_json` would refuse them as unknown keys.
    """
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        out: dict[str, JsonValue] = {
            f.name: to_json(getattr(obj, f.name), properties=properties)
            for f in dataclasses.fields(obj)
        }
        if properties:
            for name in dir(type(obj)):
                if not name.startswith("_") and isinstance(getattr(type(obj), name), property):
                    out[name] = to_json(getattr(obj, name), properties=properties)
        return out
    if isinstance(obj, enum.Enum):
        return to_json(obj.value, properties=properties)
    if isinstance(obj, bytes):
        return obj.hex().upper()
    if isinstance(obj, Mapping):
        return {str(k): to_json(v, properties=properties) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_json(v, properties=properties) for v in obj]
    if isinstance(obj, float) and math.isnan(obj):
        return None
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    raise TypeError(f"cannot write a {type(obj).__name__} as JSON: {obj!r}")


def from_json(cls: type[T], data: object) -> T:
    """Rebuild a `cls` (a dataclass, usually) from what `to_json` made of it.

    Strict: ints are accepted where a float is expected (JSON writes 5.0 as 5
    in some tools) and ``null`` for a float reads as NaN, since that is what NaN
    was written as; nothing else is coerced.
    """
    return cast(T, _from_json(cls, data, ""))


def _describe(data: object) -> str:
    if data is None:
        return "null"
    if isinstance(data, bool):
        return "true/false"
    if isinstance(data, list):
        return "an array"
    if isinstance(data, dict):
        return "an object"
    return f"{type(data).__name__} {data!r}"[:60]


def _from_json(tp: object, data: object, path: str) -> object:
    origin = typing.get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:
        options = typing.get_args(tp)
        if data is None and type(None) in options:
            return None
        errors: list[RecordError] = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _from_json(option, data, path)
            except RecordError as e:
                errors.append(e)
        if len(errors) == 1:
            raise errors[0]
        raise RecordError(path, f"expected {_type_name(tp)}, got {_describe(data)}")
    if origin is tuple:
        args = typing.get_args(tp)
        if not isinstance(data, list):
            raise RecordError(path, f"expected an array, got {_describe(data)}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_from_json(args[0], v, f"{path}[{i}]") for i, v in enumerate(data))
        if len(data) != len(args):
            raise RecordError(path, f"expected {len(args)} items, got {len(data)}")
        return tuple(
            _from_json(a, v, f"{path}[{i}]")
            for i, (a, v) in enumerate(zip(args, data, strict=True))
        )
    if origin is list:
        (item,) = typing.get_args(tp)
        if not isinstance(data, list):
            raise RecordError(path, f"expected an array, got {_describe(data)}")
        return [_from_json(item, v, f"{path}[{i}]") for i, v in enumerate(data)]
    if origin is dict:
        key_type, value_type = typing.get_args(tp)
        if not isinstance(data, dict):
            raise RecordError(path, f"expected an object, got {_describe(data)}")
        out: dict[object, object] = {}
        for k, v in data.items():
            out[_dict_key(key_type, k, path)] = _from_json(value_type, v, f"{path}[{k!r}]")
        return out
    if isinstance(tp, type):
        if dataclasses.is_dataclass(tp):
            return _dataclass_from_json(tp, data, path)
        if issubclass(tp, enum.Enum):
            try:
                return tp(data)
            except ValueError:
                allowed = ", ".join(repr(m.value) for m in tp)
                raise RecordError(path, f"{_describe(data)} is not one of {allowed}") from None
        if tp is bool:
            if isinstance(data, bool):
                return data
        elif tp is int:
            if isinstance(data, int) and not isinstance(data, bool):
                return data
        elif tp is float:
            if data is None:
                return math.nan
            if isinstance(data, int | float) and not isinstance(data, bool):
                return float(data)
        elif tp is str:
            if isinstance(data, str):
                return data
        else:
            raise TypeError(f"{path}: from_json does not handle {tp!r}")
        raise RecordError(path, f"expected {_type_name(tp)}, got {_describe(data)}")
    raise TypeError(f"{path}: from_json does not handle {tp!r}")


def _dict_key(key_type: object, key: str, path: str) -> object:
    if key_type is str:
        return key
    if key_type is int:
        try:
            return int(key)
        except ValueError:
            raise RecordError(f"{path}[{key!r}]", "expected an integer key") from None
    raise TypeError(f"{path}: from_json does not handle dict keys of {key_type!r}")


def _dataclass_from_json(cls: type, data: object, path: str) -> object:
    if not isinstance(data, dict):
        raise RecordError(path, f"expected an object ({cls.__name__}), got {_describe(data)}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        first = f"{path}.{unknown[0]}" if path else unknown[0]
        raise RecordError(first, f"unknown field in {cls.__name__}")
    kwargs: dict[str, object] = {}
    for name, field in fields.items():
        where = f"{path}.{name}" if path else name
        if name in data:
            kwargs[name] = _from_json(hints[name], data[name], where)
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise RecordError(where, "missing")
    return cls(**kwargs)


def _type_name(tp: object) -> str:
    if tp is type(None):
        return "null"
    if isinstance(tp, type):
        return {bool: "true/false", int: "an integer", float: "a number", str: "a string"}.get(
            tp, tp.__name__
        )
    args = typing.get_args(tp)
    if args:
        return " or ".join(_type_name(a) for a in args)
    return str(tp)


def dumps(value: object) -> str:
    """The exact text `atomic_write_json` writes: indented, UTF-8 as is, newline-terminated."""
    return json.dumps(to_json(value), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def _why(error: OSError) -> str:
    if error.errno == errno.ENOSPC:
        return "disk full"
    if error.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return "read-only or no permission"
    if error.errno == errno.ENOENT:
        return "the folder does not exist"
    if error.errno in (errno.EISDIR, errno.ENOTDIR):
        return "a folder is in the way"
    return error.strerror or str(error)


def atomic_write_json(path: Path, value: object) -> None:
    """Write `value` as JSON to `path` so that `path` is always either old or new.

    The text is made before anything touches the disk: a value that cannot be
    written raises TypeError/ValueError and changes nothing.
    """
    atomic_write_bytes(path, dumps(value).encode("utf-8"))


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Replace `path` with `data` atomically: temp file, fsync, rename, fsync the folder.

    The temp file lives in the target's folder because a rename is atomic only
    within one file system; the folder is fsynced so the rename itself survives
    a power cut. Any OSError becomes `OutputError` (exit 5) naming the file.
    """
    folder = path.parent if str(path.parent) else Path(".")
    tmp_name: str | None = None
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
        if os.name == "posix":
            # mkstemp makes the file 0600; a session or ticket is not a secret,
            # and replacing a file should not change who may read it.
            os.fchmod(fd, _mode_of(path))
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
        tmp_name = None
        _fsync_folder(folder)
    except OSError as e:
        raise OutputError(path, _why(e)) from e
    finally:
        if tmp_name is not None:
            # The error that got us here is the one to report, not a failed clean-up.
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)


def _mode_of(path: Path) -> int:
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        return 0o644


def _fsync_folder(folder: Path) -> None:
    if os.name != "posix":
        return  # Windows cannot open a folder for fsync; NTFS journals the rename
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
