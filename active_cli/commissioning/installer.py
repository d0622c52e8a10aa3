"""The installer's saved details: typed once (``active config installer``), offered as defaults.

Stored as JSON in the user's configuration folder (platformdirs: on Linux
``~/.config/active/installer.json``, or under ``$XDG_CONFIG_HOME``), written
atomically like the session record.
"""

from __future__ import annotations

import json
from pathlib import Path

from active_cli.commissioning.session import Installer
from active_cli.errors import DataFileError
from active_cli.records import atomic_write_json, from_json, to_json


def installer_path() -> Path:
    import platformdirs

    return Path(platformdirs.user_config_dir("active", appauthor=False)) / "installer.json"


def load_installer(path: Path | None = None) -> Installer:
    """The saved details, or an empty `Installer` when none were saved."""
    where = path or installer_path()
    try:
        text = where.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Installer()
    except (OSError, UnicodeDecodeError) as e:
        raise DataFileError(str(where), f"cannot be read: {e}") from e
    try:
        return from_json(Installer, json.loads(text))
    except (ValueError, TypeError) as e:
        raise DataFileError(
            str(where),
            f"not an installer profile: {e}",
            hint="save it again with `active config installer`",
        ) from e


def save_installer(installer: Installer, path: Path | None = None) -> Path:
    where = path or installer_path()
    where.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(where, to_json(installer))
    return where
