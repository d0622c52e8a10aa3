"""``active config installer``: the installer's details, saved once, offered by every commissioning.

With no option it shows what is saved; each option given replaces that one
field (an empty value clears it). Stored in the user's configuration folder
(`commissioning.installer.installer_path`).
"""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Settings kept between runs (the installer's details).", no_args_is_help=True
)


@app.command("installer")
def installer_command(
    name: str | None = typer.Option(
        None, "--name", help="Your name (Contact Person on the ticket)."
    ),
    company: str | None = typer.Option(None, "--company", help="Your company."),
    phone: str | None = typer.Option(None, "--phone", help="Your phone number."),
    email: str | None = typer.Option(None, "--email", help="Your email address."),
    json_out: bool = typer.Option(False, "--json", help="Print the saved details as JSON."),
) -> None:
    """Save (or show) the installer's name, company, phone and email."""
    import dataclasses

    from rich.markup import escape

    from active_cli.cli.output import print_json, stdout
    from active_cli.commissioning.installer import installer_path, load_installer, save_installer
    from active_cli.sanitize import printable_or

    saved = load_installer()
    given = {
        key: (value.strip() or None)
        for key, value in (("name", name), ("company", company), ("phone", phone), ("email", email))
        if value is not None
    }
    if given:
        saved = dataclasses.replace(saved, **given)
        where = save_installer(saved)
    else:
        where = installer_path()
    if json_out:
        print_json(saved, command="config installer")
        return
    console = stdout()
    for label, value in (
        ("name", saved.name),
        ("company", saved.company),
        ("phone", saved.phone),
        ("email", saved.email),
    ):
        console.print(f"{label:8} {escape(printable_or(value, '(not set)'))}", soft_wrap=True)
    console.print(
        f"[dim]{'saved in' if given else 'kept in'} {escape(str(where))}[/]", soft_wrap=True
    )
