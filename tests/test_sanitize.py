"""The one sanitiser for text from the bus or a file."""

from __future__ import annotations

import pytest

from active_cli.sanitize import printable, printable_or


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("PPTAH0123", "PPTAH0123"),
        ("Müller & Söhne", "Müller & Söhne"),
        ("Łódź", "Łódź"),
        ("Ελλάδα", "Ελλάδα"),
        ("\x1b[2J", "\\x1b[2J"),
        ("\x1b]0;pwned\x07", "\\x1b]0;pwned\\x07"),
        ("ab\rcd", "ab\\x0dcd"),
        ("tab\there", "tab\\x09here"),
        ("\x9b31m", "\\x9b31m"),
        ("rtl\u202eevil", "rtl\\u202eevil"),
        ("back\\slash", "back\\\\slash"),
        ("", ""),
    ],
)
def test_printable(raw: str, shown: str) -> None:
    assert printable(raw) == shown


def test_printable_leaves_no_control_character() -> None:
    every = "".join(chr(c) for c in range(0x00, 0x250))
    shown = printable(every)
    assert all(ch.isprintable() for ch in shown)


def test_printable_or_unknown() -> None:
    assert printable_or(None) == "?"
    assert printable_or(None, "-") == "-"
    assert printable_or("\x1b") == "\\x1b"
