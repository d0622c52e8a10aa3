"""Make text from the bus or a file safe to show a person.

A serial number (RS485 0x93), a device or manufacturer name (0x51), the CAN
0x35E text or a field of a session file is whatever the sender put there: an
``ESC[2J`` clears the installer's screen, an ``ESC]0;...BEL`` retitles the
window, a lone CR overwrites the line. `printable` shows every such character
as its Python escape (``\\x1b``), so the value stays visible and exact enough to
read, but can no longer act on the terminal. JSON output keeps the exact value
(``json.dumps`` escapes control characters itself); HTML is escaped by jinja2's
autoescape after this.
"""

from __future__ import annotations


def _escape(char: str) -> str:
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def printable(text: str) -> str:
    """`text` with every character that could act on a terminal shown as an escape.

    Ordinary letters in any script ("Müller & Söhne", "Łódź", "Ελλάδα") and
    spaces pass unchanged; a backslash is doubled so an escape shown here is
    never confused with one that was in the text.
    """
    if text.isprintable() and "\\" not in text:
        return text  # the common case: nothing to do
    out: list[str] = []
    for char in text:
        if char == "\\":
            out.append("\\\\")
        # str.isprintable() is false for what draws nothing but can act:
        # controls (C0, DEL, C1), format characters (bidi overrides that
        # reorder a line), separators other than space, unassigned code points.
        elif char.isprintable():
            out.append(char)
        else:
            out.append(_escape(char))
    return "".join(out)


def printable_or(text: str | None, missing: str = "?") -> str:
    """`printable(text)`, or `missing` when the value is unknown."""
    return missing if text is None else printable(text)
