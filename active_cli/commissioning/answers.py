"""Answers given ahead, for ``--yes`` runs: a small TOML file (``--answers FILE``).

::

    [installer]
    name = "A. Fitter"
    company = "Sun & Storage Ltd"
    [site]
    ticket = "SR-2026-0042"
    street = "1 Solar Way"
    zip_city = "12345 Sunville"
    portal_name = "Fitter home"
    [inverter]
    serial = "2305123456"
    firmware = "MCU 1.2.3"
    power_w = 8000
    [acceptance]
    display_matches = true   # the installer compared the inverter's battery page

Every key is optional; what is not given stays blank on the ticket.
"""

from __future__ import annotations

from pathlib import Path

from active_cli.datafile import DataDocument

# table -> keys it may hold, and whether the value is text, a number or yes/no.
ANSWER_KEYS: dict[str, dict[str, type]] = {
    "installer": {"name": str, "company": str, "phone": str, "email": str},
    "site": {"ticket": str, "street": str, "zip_city": str, "portal_name": str},
    "inverter": {"serial": str, "firmware": str, "power_w": float},
    "acceptance": {"display_matches": bool},
}


def load_answers(path: Path) -> dict[str, str | float | bool]:
    """The answers as ``{"installer.name": "...", ...}``; a bad file is a DataFileError."""
    document = DataDocument.read(path, what="answers file")
    root = document.root
    root.check_keys(ANSWER_KEYS)
    out: dict[str, str | float | bool] = {}
    for table_name, keys in ANSWER_KEYS.items():
        table = root.get_table(table_name)
        table.check_keys(keys)
        for key, kind in keys.items():
            if not table.has(key):
                continue
            if kind is bool:
                out[f"{table_name}.{key}"] = table.get_bool(key)
            elif kind is float:
                out[f"{table_name}.{key}"] = table.get_float(key, min=0)
            else:
                out[f"{table_name}.{key}"] = table.get_str(key)
    return out
