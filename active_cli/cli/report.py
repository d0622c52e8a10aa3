"""``active report SESSION``: the service ticket (HTML, PDF, zip); ``active report verify``.

``active report SESSION`` is the group's default command, so the installer
types no sub-command for the common case; ``active report verify TICKET
SESSION`` checks a ticket against its session file.

Exit codes: 0 written / ticket matches; 1 the ticket does not match the
session; 4 a bad session, checklist or photo; 5 a file could not be written;
6 the PDF engine cannot run on this machine (the HTML was written).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from typer.core import TyperGroup

if TYPE_CHECKING:
    from active_cli.report import TicketFiles


class _DefaultToMake(TyperGroup):
    """Run ``make`` when the first word is not a sub-command (``active report S.json``)."""

    # ctx is click's Context, which Typer >= 0.16 vendors under a private module
    # name; Any keeps this working on both sides of that move.
    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["make", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=_DefaultToMake,
    help="Make the service ticket from a session file: active report SESSION "
    "[--html F] [--pdf F] [--bundle F.zip] [--photo FILE[:caption]] [--lang de]. "
    "Check a ticket against its session: active report verify TICKET SESSION.",
    no_args_is_help=True,
)


@app.command("make")
def make_command(
    session: Path = typer.Argument(..., metavar="SESSION", help="The session file (JSON)."),
    html: Path | None = typer.Option(None, "--html", help="Write the HTML ticket here."),
    pdf: Path | None = typer.Option(None, "--pdf", help="Write the PDF ticket here."),
    bundle: Path | None = typer.Option(
        None,
        "--bundle",
        help="Write one zip with the session, HTML, PDF, photos and captures.",
    ),
    photo: list[str] | None = typer.Option(
        None,
        "--photo",
        metavar="FILE[:caption]",
        help="A JPEG/PNG to embed (repeatable), e.g. the connection area on the BMS.",
    ),
    lang: str | None = typer.Option(None, "--lang", help="Checklist language, e.g. de."),
    checklist: str = typer.Option(
        "service", "--checklist", metavar="NAME|PATH", help="Built-in checklist or a TOML file."
    ),
) -> None:
    """Make the ticket. With no --html/--pdf/--bundle: SESSION.html and SESSION.pdf beside it."""
    from active_cli.cli.output import print_error
    from active_cli.report import write_ticket

    quiet_pdf_engine()
    files = write_ticket(
        session,
        html_path=html,
        pdf_path=pdf,
        bundle_path=bundle,
        photo_specs=tuple(photo or ()),
        checklist=Path(checklist) if checklist.endswith(".toml") else checklist,
        lang=lang,
    )
    show_ticket_files(files)
    if files.pdf_error is not None:
        print_error(files.pdf_error)
        raise typer.Exit(files.pdf_error.exit_code)


def quiet_pdf_engine() -> None:
    """WeasyPrint logs every CSS feature it skips as a warning: noise to an installer.

    ``--debug`` shows them (and its font subsetting path).
    """
    import logging

    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
        for name in ("weasyprint", "fontTools"):
            logging.getLogger(name).setLevel(logging.ERROR)


def show_ticket_files(files: TicketFiles) -> None:
    """Where the ticket went (stdout), and the warnings about it (stderr)."""
    from active_cli.cli.output import stderr

    console = stderr()
    for warning in files.warnings:
        console.print(f"[yellow]warning:[/] {_escape(warning)}", soft_wrap=True)
    for label, path in (("html", files.html), ("pdf", files.pdf), ("bundle", files.bundle)):
        if path is not None:
            typer.echo(f"{label}: {path}")


def _escape(text: str) -> str:
    from rich.markup import escape

    from active_cli.sanitize import printable

    return escape(printable(text))


@app.command("verify")
def verify_command(
    ticket: Path = typer.Argument(..., metavar="TICKET", help="The ticket (PDF or HTML)."),
    session: Path = typer.Argument(..., metavar="SESSION", help="The session file."),
) -> None:
    """Say whether TICKET was made from SESSION (SHA-256 of the session file); exit 1 if not."""
    from active_cli.errors import EXIT_CHECK_FAILED
    from active_cli.report.verify import verify_ticket

    verdict = verify_ticket(ticket, session)
    if verdict.matches:
        typer.echo(
            f"OK: {ticket} was made from {session} (session SHA-256 {verdict.session_sha256})"
        )
        return
    typer.echo(
        f"MISMATCH: {ticket} was made from a session with SHA-256 {verdict.ticket_sha256}; "
        f"{session} has SHA-256 {verdict.session_sha256} (changed, or another session)"
    )
    raise typer.Exit(EXIT_CHECK_FAILED)
