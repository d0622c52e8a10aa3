"""Find the data folders (`dbc/`, `inverters/`, `checklists/`) at run time.

In a wheel they are copied to ``active_cli/_data/`` (pyproject's
force-include); in a source checkout or an editable install they sit at the
top of the repository, next to the package. Both layouts are tried, the
installed one first.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

DataFolder = Literal["dbc", "inverters", "checklists"]

_PACKAGE_DIR = Path(__file__).resolve().parent


def data_dir(name: DataFolder) -> Path:
    """Return the folder holding the named data set.

    Raises FileNotFoundError naming both places looked at when neither exists,
    which only happens in a broken installation.
    """
    candidates = (_PACKAGE_DIR / "_data" / name, _PACKAGE_DIR.parent / name)
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    looked = ", ".join(str(c) for c in candidates)
    raise FileNotFoundError(f"data folder {name!r} not found (looked in {looked})")


def data_file(name: DataFolder, filename: str) -> Path:
    """Return the path of one file inside a data folder (it must exist)."""
    path = data_dir(name) / filename
    if not path.is_file():
        raise FileNotFoundError(f"{filename!r} not found in {path.parent}")
    return path
