"""``active listen``: hear a live system (inverter polls, battery broadcasts), send nothing."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from active_cli.cli.connect import (
    BAUD_OPTION,
    BITRATE_OPTION,
    CAN_OPTION_OPTION,
    CHANNEL_OPTION,
    INTERFACE_OPTION,
    SIM_OPTION,
)

if TYPE_CHECKING:
    from rich.console import Console

    from active_cli.checks.verdict import Verdict
    from active_cli.procedures.listening import CanHeard, Listening
    from active_cli.procedures.listening_rs485 import Exchange


def listen_command(
    port: str | None = typer.Option(
        None,
        "--port",
        "-p",
        help="The RS485 tap: a second adapter on the inverter's A/B pair, or a gateway in "
        "monitor mode (/dev/ttyUSB1, socket://HOST:PORT). Only read, never written.",
    ),
    baud: int | None = BAUD_OPTION,
    interface: str | None = INTERFACE_OPTION,
    channel: str | None = CHANNEL_OPTION,
    bitrate: int | None = BITRATE_OPTION,
    can_option: list[str] | None = CAN_OPTION_OPTION,
    sim: str | None = SIM_OPTION,
    duration: float = typer.Option(10.0, "--duration", min=0.1, help="Seconds to listen."),
    reply_window: float = typer.Option(
        1.0, "--reply-window", min=0.05, help="Longest wait for a reply to pair, seconds."
    ),
    record: list[Path] | None = typer.Option(
        None,
        "--record",
        metavar="FILE",
        help="Also write what was heard: FILE.rs485 (RS485) and/or a CAN log (.log, .asc, "
        ".blf, .csv, .trc), replayable by `scan --replay` and `check protocol --replay`.",
    ),
    changes_only: bool = typer.Option(
        True, "--changes-only/--every-frame", help="CAN: show a frame only when its data changed."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print the summary as JSON (only that)."),
) -> None:
    """Listen beside a live inverter: decode both sides, never transmit.

    RS485: pairs each of the inverter's requests with the battery's reply, by
    order and timing, and shows latency and errors per address and how many
    replies in a row the inverter could accept. CAN: the battery's set and the
    inverter's 0x305, live, with the interface in listen-only mode where
    python-can allows it. With --sim the simulated inverter polls over RS485
    and listening happens on the simulator's tap. Exits 3 when nothing was heard.
    """
    from active_cli.cli.connect import capture_files, connection_from_options, print_notes
    from active_cli.cli.exits import exit_for
    from active_cli.cli.output import stderr, stdout
    from active_cli.errors import UsageError
    from active_cli.procedures.listening import ListenOptions, listen_site

    connection = connection_from_options(port, baud, interface, channel, bitrate, sim, can_option)
    if not (connection.wants_rs485 or connection.wants_can):
        raise UsageError(
            "say what to listen to: --port TAP (RS485), --interface/--channel (CAN), "
            "or --sim SCENARIO"
        )
    files = capture_files(record, "--record")
    from active_cli.links.capture import refuse_existing

    for path in (files.rs485, files.can):
        if path is not None:
            refuse_existing(path)
    live = stderr() if json_out else stdout()
    result = listen_site(
        connection,
        ListenOptions(duration_s=duration, reply_window_s=reply_window, record=files),
        on_exchange=lambda e: _exchange_line(live, e),
        on_can=lambda f: _can_line(live, f, changes_only),
    )
    print_notes(result.notes)
    if json_out:
        from active_cli.cli.output import print_json

        print_json(result, command="listen", verdict=_verdict(result))
    else:
        _summary(stdout(), result)
    exit_for(result.findings, answered=result.heard_anything)


def _exchange_line(console: Console, exchange: Exchange) -> None:
    from rich.markup import escape

    mark = "[green]ok[/]" if exchange.accepted else "[red]--[/]"
    latency = "" if exchange.latency_ms is None else f" {exchange.latency_ms:.0f} ms"
    answer = exchange.reply if exchange.reply is not None else (exchange.error or "no reply")
    console.print(
        f"{exchange.at_s:8.3f} RS485 ADR {exchange.address:>2} {mark} "
        f"{escape(exchange.request)}: {escape(answer)}{latency}",
        soft_wrap=True,
    )


def _can_line(console: Console, frame: CanHeard, changes_only: bool) -> None:
    from rich.markup import escape

    if changes_only and not frame.changed:
        return
    console.print(
        f"{frame.at_s:8.3f} CAN 0x{frame.arbitration_id:03X} {escape(frame.name)}: "
        f"{escape(frame.text)}",
        soft_wrap=True,
    )


def _verdict(result: Listening) -> Verdict:
    from active_cli.checks.verdict import summarize

    return summarize(result.findings, ok="heard the system, nothing wrong")


def _summary(console: Console, result: Listening) -> None:
    from active_cli.cli.output import print_findings

    traffic = result.rs485
    if traffic is not None:
        console.print(
            f"[bold]RS485[/] tap at {result.baud} baud: {len(traffic.exchanges)} requests"
        )
        for a in traffic.per_address:
            latency = "?" if a.latency_median_ms is None else f"{a.latency_median_ms:.0f} ms"
            console.print(
                f"  ADR {a.address:>2}: {a.replies}/{a.requests} answered, {a.unanswered} "
                f"unanswered, {a.errors} errors, latency median {latency}"
            )
    if result.can is not None:
        console.print(
            f"[bold]CAN[/] {result.can.frames} frames, {result.can.error_frames} error frames "
            f"({result.can.listen_only})"
        )
    print_findings(console, result.findings, _verdict(result))
