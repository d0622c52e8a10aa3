"""``active decode``: paste a frame, see what it says."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Decode an RS485 or CAN frame pasted from a sniffer log.", no_args_is_help=True
)


@app.command("rs485")
def rs485(
    frames: list[str] = typer.Argument(
        ..., help="A frame (~...), or a request then its response.", metavar="FRAME..."
    ),
    command: str | None = typer.Option(
        None, "--command", "-c", help="The command a lone response answers, hex (e.g. 42)."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Decode Pylontech RS485 frames (Pylon VER 0x20 and PACE VER 0x25)."""
    from active_cli.cli import render_decode
    from active_cli.errors import UsageError
    from active_cli.protocols.decode_text import decode_rs485

    command_code: int | None = None
    if command is not None:
        try:
            command_code = int(command.strip().removeprefix("0x").removeprefix("0X"), 16)
        except ValueError:
            command_code = -1
        # A command code is one byte (CID2); int(, 16) also takes "-1" and "1FF".
        if not 0 <= command_code <= 0xFF:
            raise UsageError(
                f"--command {command!r} is not a hex command code 00..FF", hint="--command 42"
            )
    results = decode_rs485(frames, command_code)
    if json_out:
        from active_cli.cli.output import print_json  # rich: only for --json

        print_json(results if len(results) > 1 else results[0])
    else:
        render_decode.show_rs485(results)


@app.command("can")
def can(
    arbitration_id: str = typer.Argument(..., help="CAN id, hex: 0x356 or 356.", metavar="ID"),
    data: list[str] = typer.Argument(..., help="Data bytes, hex: 7A13F2FE6B01 or 7A 13 ..."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Decode a Pylon LV CAN frame through the DBC."""
    from active_cli.cli import render_decode
    from active_cli.protocols.decode_can_text import decode_can

    result = decode_can(arbitration_id, data)
    if json_out:
        from active_cli.cli.output import print_json  # rich: only for --json

        print_json(result)
    else:
        render_decode.show_can(result)
