"""The ticket view to one self-contained HTML page (jinja2, autoescape, inline CSS and SVG).

One output hook (`_finalize`) runs on every ``{{ value }}`` of the template:
text goes through `sanitize.printable` (terminal escapes and bidi overrides
shown as ``\\x1b``, never acting) and then jinja2's autoescape turns ``<``,
``&`` and quotes into entities. A value is data to the template, never
template source, so ``{{ 7*7 }}`` in a serial number prints as itself.
"""

from __future__ import annotations

from functools import lru_cache

import jinja2
from markupsafe import Markup

from active_cli.report.verify import MARKER
from active_cli.report.view import Ticket
from active_cli.sanitize import printable


def _finalize(value: object) -> object:
    if isinstance(value, Markup):
        return value  # made by the template itself (a macro), already escaped
    if value is None:
        return ""
    if isinstance(value, str):
        return printable(value)
    return value


def _css_string(text: str) -> Markup:
    """`text` as a CSS string literal: everything but letters, digits and spaces as \\HHHHHH."""
    out = []
    for char in printable(text):
        if char.isalnum() or char == " ":
            out.append(char)
        else:
            out.append(f"\\{ord(char):06x}")
    return Markup('"' + "".join(out) + '"')


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("active_cli.report", "templates"),
        autoescape=True,
        finalize=_finalize,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["css_string"] = _css_string
    return env


def render_html(ticket: Ticket) -> str:
    return _environment().get_template("ticket.html.j2").render(t=ticket, marker=MARKER)
