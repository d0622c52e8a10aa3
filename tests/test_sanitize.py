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


def test_an_emoji_code_from_the_bus_is_printed_as_sent(capsys: pytest.CaptureFixture[str]) -> None:
    from rich.markup import escape

    from active_cli.cli.output import stderr, stdout

    # A serial or a 0x51 name could read ":warning:"; rich's emoji codes would
    # turn it into a picture that is not what the pack sent.
    stdout().print(escape(printable(":warning: PPTAH:smile:0123")))
    stderr().print(escape(printable(":fire:")))
    captured = capsys.readouterr()
    assert ":warning: PPTAH:smile:0123" in captured.out
    assert ":fire:" in captured.err
