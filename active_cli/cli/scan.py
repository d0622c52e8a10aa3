"""``active scan``: find every pack and read it (live, or from a capture)."""

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
    PORT_OPTION,
    RECORD_OPTION,
    REPLAY_OPTION,
    REPLY_TIMEOUT_OPTION,
    SIM_OPTION,
)

if TYPE_CHECKING:
    from active_cli.connection import CaptureFiles, Connection
    from active_cli.discovery import ScanOptions
    from active_cli.procedures.line_work import Progress
    from active_cli.procedures.scanning import ScanOutcome


def parse_addresses(text: str) -> tuple[int, ...]:
    """``1-17``, ``2,3,4`` or ``1-4,9`` -> addresses (1..255)."""
    from active_cli.errors import UsageError

    addresses: list[int] = []
    try:
        for part in text.split(","):
            if "-" in part:
                low, high = (int(p) for p in part.split("-", 1))
                addresses.extend(range(low, high + 1))
            elif part.strip():
                addresses.append(int(part))
    except ValueError:
        raise UsageError(
            f"--addresses {text!r}: use a range like 1-17 or a list like 2,3,4"
        ) from None
    if not addresses:
        raise UsageError(f"--addresses {text!r} names no address (write low-high, e.g. 1-17)")
    if not all(0 <= a <= 254 for a in addresses):
        raise UsageError(f"--addresses {text!r}: addresses are 0..254")
    return tuple(dict.fromkeys(addresses))


def scan_command(
    port: str | None = PORT_OPTION,
    baud: int | None = BAUD_OPTION,
    interface: str | None = INTERFACE_OPTION,
    channel: str | None = CHANNEL_OPTION,
    bitrate: int | None = BITRATE_OPTION,
    can_option: list[str] | None = CAN_OPTION_OPTION,
    sim: str | None = SIM_OPTION,
    addresses: str = typer.Option(
        "1-17", "--addresses", "-a", help="RS485 addresses to poll: 1-17, or 2,3,4."
    ),
    all_addresses: bool = typer.Option(
        False, "--all-addresses", help="Poll every address even when the master's count is reached."
    ),
    expect: int | None = typer.Option(
        None, "--expect", "-n", help="How many packs the stack has; fewer found fails."
    ),
    can_window: float = typer.Option(
        5.5, "--can-window", min=0.1, help="Longest CAN listening time, seconds."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print the whole snapshot as JSON."),
    wide: bool = typer.Option(
        False, "--wide", help="The full pack table (wider than 80 columns: SOH, cycles ...)."
    ),
    reply_timeout: float | None = REPLY_TIMEOUT_OPTION,
    record: list[Path] | None = RECORD_OPTION,
    replay: list[Path] | None = REPLAY_OPTION,
) -> None:
    """Find every pack: address, serial, firmware, V, A, SOC, cells, temperatures, alarms.

    RS485 with --port, CAN with --interface/--channel, both when both are given;
    --sim scans the built-in simulator over both. --record FILE keeps what the
    scan exchanged; --replay FILE scans such a capture instead of a bus.
    """
    # Only what the first request needs is imported before it: the modules
    # that draw the result load while the line works (_scan_live).
    from active_cli import discovery
    from active_cli.cli.connect import (
        capture_files,
        check_record_files,
        connection_from_options,
        refuse_live_options,
    )
    from active_cli.errors import UsageError

    if expect is not None and expect < 1:
        raise UsageError(f"--expect {expect}: give the number of packs in the stack (1 to 16)")
    connection = connection_from_options(
        port, baud, interface, channel, bitrate, sim, can_option, reply_timeout=reply_timeout
    )
    recording = capture_files(record, "--record")
    replaying = capture_files(replay, "--replay")
    if replaying:
        refuse_live_options(connection, recording)
    elif not (connection.wants_rs485 or connection.wants_can):
        raise UsageError(
            "say what to scan: --port (RS485), --interface/--channel (CAN), --sim SCENARIO, "
            "or --replay FILE"
        )
    else:
        check_record_files(recording, rs485=connection.wants_rs485, can=connection.wants_can)
    # Live, the master's group read replaces a 0x42 per pack; a replay asks
    # what the capture holds (procedures.scanning.scan_replay).
    options = discovery.ScanOptions(
        addresses=parse_addresses(addresses),
        stop_at_group_count=not all_addresses,
        group_reads=not replaying,
    )
    if replaying:
        from active_cli.procedures.scanning import scan_replay

        outcome = scan_replay(replaying, options, expected_packs=expect)
    else:
        outcome = _scan_live(connection, options, expect, can_window, json_out, recording)
    from active_cli.cli import render_scan
    from active_cli.cli.connect import print_notes
    from active_cli.cli.exits import exit_for

    print_notes(outcome.notes)
    snapshot = outcome.snapshot
    if json_out:
        from active_cli.cli.output import print_json

        print_json(snapshot, command="scan")
    else:
        render_scan.show(snapshot, wide=wide)
    if outcome.nothing_answered:
        render_scan.show_no_reply(snapshot)
    exit_for(snapshot.findings, answered=not outcome.nothing_answered)


def _scan_live(
    connection: Connection,
    options: ScanOptions,
    expect: int | None,
    can_window: float,
    json_out: bool,
    recording: CaptureFiles,
) -> ScanOutcome:
    import dataclasses

    from active_cli.connection import open_links
    from active_cli.procedures.line_work import LineWork
    from active_cli.procedures.scanning import scan_links

    with open_links(connection, record=recording) as links:

        def work(progress: Progress) -> ScanOutcome:
            return scan_links(
                links, options, expected_packs=expect, can_window_s=can_window, progress=progress
            )

        with LineWork(work, name="scan") as scanning:
            scanning.wait_started()
            # The first request is on the line: load the screen's modules meanwhile.
            from active_cli.cli import render_scan

            with render_scan.progress(enabled=not json_out) as progress:
                outcome = scanning.result(progress)
    return dataclasses.replace(
        outcome, snapshot=render_scan.describe_connection(outcome.snapshot, connection)
    )
