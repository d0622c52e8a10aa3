"""The service ticket: a session record and a checklist -> one HTML page -> PDF.

`make_ticket` is the whole pipeline the CLI calls: fill the checklist from the
record (`fill`), lay out the view (`view`), render the HTML (`render`, jinja2
with autoescape), and, when asked, the PDF (`pdf`, WeasyPrint, imported only
then). `verify` matches a ticket to its session file by SHA-256; `bundle`
zips everything for the manufacturer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from active_cli.checklists import Checklist
from active_cli.commissioning.session import Session
from active_cli.report.photos import Photo
from active_cli.report.render import render_html
from active_cli.report.view import Ticket, build_ticket


@dataclass(frozen=True)
class RenderedTicket:
    ticket: Ticket
    html: str


def make_ticket(
    session: Session,
    checklist: Checklist,
    *,
    session_sha256: str,
    generated_at: datetime,
    photos: tuple[Photo, ...] = (),
) -> RenderedTicket:
    ticket = build_ticket(
        session,
        checklist,
        session_sha256=session_sha256,
        generated_at=generated_at,
        photos=photos,
    )
    return RenderedTicket(ticket, render_html(ticket))


__all__ = ["RenderedTicket", "make_ticket"]
