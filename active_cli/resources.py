"""Find the data folders (`dbc/`, `inverters/`, `checklists/`) at run time.

In a wheel they are copied to ``active_cli/_data/`` (pyproject's
force-include); in a source checkout or an editable install they sit at the
top of the repository, next to the package. Both layouts are tried, the
installed one first.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from active_cli.errors import DataFileError

DataFolder = Literal["dbc", "inverters", "checklists"]

_PACKAGE_DIR = Path(__file__).resolve().parent


class MissingDataError(DataFileError, FileNotFoundError):
    """A data folder or file of the installation is missing.

    A DataFileError, so the CLI reports it as one line naming the path (exit
    4); also a FileNotFoundError, which is what it is to library callers.
    """


_REINSTALL = "the installation is incomplete: reinstall active (pip install --force-reinstall)"


def data_dir(name: DataFolder) -> Path:
    """Return the folder holding the named data set.

    Raises MissingDataError naming both places looked at when neither exists,
    which only happens in a broken installation.
    """
    candidates = (_PACKAGE_DIR / "_data" / name, _PACKAGE_DIR.parent / name)
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    looked = " or ".join(str(c) for c in candidates)
    raise MissingDataError(looked, f"data folder {name!r} not found", hint=_REINSTALL)


def data_file(name: DataFolder, filename: str) -> Path:
    """Return the path of one file inside a data folder (it must exist)."""
    path = data_dir(name) / filename
    if not path.is_file():
        raise MissingDataError(
            str(path), f"{filename!r} not found in {path.parent}", hint=_REINSTALL
        )
    return path
