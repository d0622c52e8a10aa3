"""How wide the output may be: a terminal's own width, or 80 columns piped.

Kept apart from `output` (which imports rich) so that commands printing plain
text, such as ``active decode``, do not load rich to learn a number.
"""

from __future__ import annotations

import os
import shutil
import sys

# Piped or redirected, there is no terminal to measure: 80 columns is what a
# pager, a ticket or an e-mail shows without wrapping; --wide asks for the full
# tables, for which WIDE_COLUMNS leaves every column its whole width.
PIPED_COLUMNS = 80
WIDE_COLUMNS = 200


def console_width(*, wide: bool = False, isatty: bool | None = None) -> int | None:
    """The width to render at: None lets rich take the terminal's (or $COLUMNS)."""
    tty = sys.stdout.isatty() if isatty is None else isatty
    columns = os.environ.get("COLUMNS")
    if wide:
        known = int(columns) if columns and columns.isdigit() else 0
        return max(known, WIDE_COLUMNS)
    if tty or columns:
        return None
    return PIPED_COLUMNS


def text_width() -> int:
    """The columns plain text may use: what `console_width` gives rich, as a number."""
    width = console_width()
    if width is not None:
        return width
    return shutil.get_terminal_size((PIPED_COLUMNS, 24)).columns
