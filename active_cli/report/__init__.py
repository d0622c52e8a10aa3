"""The service ticket: a session record and a checklist -> one HTML page -> PDF.

`make_ticket` is the whole pipeline the CLI calls: fill the checklist from the
record (`fill`), lay out the view (`view`), render the HTML (`render`, jinja2
with autoescape), and, when asked, the PDF (`pdf`, WeasyPrint, imported only
then). `verify` matches a ticket to its session file by SHA-256; `bundle`
zips everything for the manufacturer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

from active_cli.commissioning.checklists import Checklist
from active_cli.commissioning.session import Session
from active_cli.errors import PdfEngineError
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


@dataclass(frozen=True)
class TicketFiles:
    """What `write_ticket` wrote, what it could not, and what the installer should know."""

    html: Path | None
    pdf: Path | None
    bundle: Path | None
    warnings: tuple[str, ...]
    pdf_error: PdfEngineError | None = None
    missing_captures: tuple[str, ...] = ()


def ticket_text(html: str) -> str:
    """The visible text of the ticket's HTML (no CSS), for the glyph check."""
    parser = _TextParser()
    parser.feed(html)
    return "".join(parser.parts)


class _TextParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("style", "script"):
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "script") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def write_ticket(
    session_path: Path,
    *,
    html_path: Path | None = None,
    pdf_path: Path | None = None,
    bundle_path: Path | None = None,
    photo_specs: tuple[str, ...] = (),
    checklist: str | Path = "service",
    lang: str | None = None,
    now: datetime | None = None,
) -> TicketFiles:
    """Render the ticket of a session file and write the files asked for.

    With no output named, the HTML and the PDF go next to the session file
    (``SESSION.html``, ``SESSION.pdf``). When the PDF engine cannot run here
    the HTML is still written (beside the PDF's path if no HTML was asked for)
    and `TicketFiles.pdf_error` says why; the caller decides how to report it.
    """
    from active_cli.commissioning.checklists import load_checklist
    from active_cli.commissioning.session import load_session
    from active_cli.records import atomic_write_bytes
    from active_cli.report.fonts import FONT_HINT, describe, uncovered_characters
    from active_cli.report.photos import load_photo
    from active_cli.report.verify import file_sha256

    if html_path is None and pdf_path is None and bundle_path is None:
        html_path = session_path.with_suffix(".html")
        pdf_path = session_path.with_suffix(".pdf")
    session = load_session(session_path)
    sha = file_sha256(session_path)
    chosen = load_checklist(checklist, lang=lang)
    photos = tuple(load_photo(spec) for spec in photo_specs)
    rendered = make_ticket(
        session,
        chosen,
        session_sha256=sha,
        generated_at=now or datetime.now(UTC),
        photos=photos,
    )
    warnings: list[str] = []
    missing = uncovered_characters(ticket_text(rendered.html))
    if missing:
        warnings.append(
            f"no installed font can draw {describe(missing)}: the PDF shows boxes there; "
            + FONT_HINT
        )
    pdf: bytes | None = None
    pdf_error: PdfEngineError | None = None
    if pdf_path is not None or bundle_path is not None:
        from active_cli.report.pdf import render_pdf

        try:
            pdf = render_pdf(rendered.html)
        except PdfEngineError as e:
            pdf_error = e
            if html_path is None:
                html_path = (pdf_path or session_path).with_suffix(".html")
    html_bytes = rendered.html.encode("utf-8")
    if html_path is not None:
        atomic_write_bytes(html_path, html_bytes)
    written_pdf = None
    if pdf_path is not None and pdf is not None:
        atomic_write_bytes(pdf_path, pdf)
        written_pdf = pdf_path
    missing_captures: tuple[str, ...] = ()
    if bundle_path is not None:
        from active_cli.report.bundle import write_bundle

        result = write_bundle(
            bundle_path,
            session_file=session_path,
            html=rendered.html,
            pdf=pdf,
            photos=tuple(p.path for p in photos),
            captures=session.captures,
        )
        missing_captures = result.missing
        if missing_captures:
            warnings.append(
                "captures named by the session but not found (listed as missing in the "
                "bundle's MANIFEST.txt): " + ", ".join(missing_captures)
            )
    return TicketFiles(
        html=html_path,
        pdf=written_pdf,
        bundle=bundle_path,
        warnings=tuple(warnings),
        pdf_error=pdf_error,
        missing_captures=missing_captures,
    )


__all__ = ["RenderedTicket", "TicketFiles", "make_ticket", "ticket_text", "write_ticket"]
