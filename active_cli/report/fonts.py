"""Find characters of the ticket that no installed font can draw.

A name in a script the machine has no font for would otherwise come out of
the PDF as empty boxes or wrong glyphs, silently. The check reads the
character map of each installed font with fontTools (WeasyPrint brings it)
and lists what none of them covers, so the CLI can warn and name a font
package to install. Fonts are found the way Pango finds them (fontconfig's
``fc-list``), or in the usual font folders where that tool is absent.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import unicodedata
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

_FONT_SUFFIXES = (".ttf", ".otf", ".ttc", ".otc")
FONT_HINT = (
    "install a font covering them: Debian/Ubuntu: sudo apt install fonts-noto-core "
    "fonts-noto-cjk; macOS and Windows include them"
)


def _font_dirs() -> list[Path]:
    home = Path.home()
    if sys.platform == "win32":
        windir = Path(os.environ.get("WINDIR", "C:\\Windows"))
        local = Path(os.environ.get("LOCALAPPDATA", str(home)))
        return [windir / "Fonts", local / "Microsoft" / "Windows" / "Fonts"]
    if sys.platform == "darwin":
        return [Path("/System/Library/Fonts"), Path("/Library/Fonts"), home / "Library" / "Fonts"]
    return [
        Path("/usr/share/fonts"),
        Path("/usr/local/share/fonts"),
        home / ".local" / "share" / "fonts",
        home / ".fonts",
    ]


@lru_cache(maxsize=1)
def installed_font_files() -> tuple[Path, ...]:
    """Every font file the PDF engine may use (cached: fonts do not change during a run)."""
    fc_list = shutil.which("fc-list")
    if fc_list:
        try:
            out = subprocess.run(
                [fc_list, "--format", "%{file}\n"],
                capture_output=True,
                text=True,
                timeout=20,
                check=True,
            ).stdout
            files = sorted({Path(line) for line in out.splitlines() if line.strip()})
            if files:
                return tuple(files)
        except (OSError, subprocess.SubprocessError):
            pass  # fall back to the folders below
    found: set[Path] = set()
    for folder in _font_dirs():
        if folder.is_dir():
            found.update(p for p in folder.rglob("*") if p.suffix.lower() in _FONT_SUFFIXES)
    return tuple(sorted(found))


def _needs_glyph(char: str) -> bool:
    if char.isascii() or char.isspace():
        return False  # every text font draws ASCII; whitespace draws nothing
    return unicodedata.category(char)[0] not in ("C", "Z")


def uncovered_characters(text: str, font_files: Iterable[Path] | None = None) -> list[str]:
    """The characters of `text` (in first-seen order) that none of the fonts can draw."""
    wanted = {c for c in text if _needs_glyph(c)}
    if not wanted:
        return []
    from fontTools.ttLib import TTFont, TTLibError  # type: ignore[import-untyped]

    missing = set(wanted)
    for path in installed_font_files() if font_files is None else font_files:
        try:
            with TTFont(path, lazy=True, fontNumber=0) as font:
                cmap = font.getBestCmap() or {}
        except (OSError, TTLibError, KeyError, AssertionError):
            continue  # an unreadable font draws nothing either
        missing = {c for c in missing if ord(c) not in cmap}
        if not missing:
            return []
    return [c for c in dict.fromkeys(text) if c in missing]


def describe(chars: Iterable[str]) -> str:
    return ", ".join(f"{c!r} U+{ord(c):04X} {unicodedata.name(c, '?')}" for c in chars)
