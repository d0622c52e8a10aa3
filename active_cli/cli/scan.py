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
    SIM_OPTION,
)

if TYPE_CHECKING:
    from active_cli.cli.connect import CaptureFiles
    from active_cli.discovery import ScanOptions
    from active_cli.model import StackSnapshot


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
    baud: int = BAUD_OPTION,
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
    record: list[Path] | None = RECORD_OPTION,
    replay: list[Path] | None = REPLAY_OPTION,
) -> None:
    """Find every pack: address, serial, firmware, V, A, SOC, cells, temperatures, alarms.

    RS485 with --port, CAN with --interface/--channel, both when both are given;
    --sim scans the built-in simulator over both. --record FILE keeps what the
    scan exchanged; --replay FILE scans such a capture instead of a bus.
    """
    import contextlib

    from active_cli import discovery
    from active_cli.cli import render_scan
    from active_cli.cli.connect import (
        Connection,
        can_bus,
        capture_files,
        check_record_files,
        parse_can_options,
        refuse_live_options,
        rs485_link,
        simulator,
    )
    from active_cli.errors import EXIT_CHECK_FAILED, EXIT_NO_REPLY, UsageError
    from active_cli.model import worst

    connection = Connection(
        port, baud, interface, channel, bitrate, sim, parse_can_options(can_option)
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
    options = discovery.ScanOptions(
        addresses=parse_addresses(addresses), stop_at_group_count=not all_addresses
    )
    if replaying:
        snapshot = _scan_replay(replaying, options, expect)
        rs485_used = replaying.rs485 is not None
    else:
        with contextlib.ExitStack() as stack:
            site = stack.enter_context(simulator(connection))
            link = (
                stack.enter_context(rs485_link(connection, site, record=recording.rs485))
                if connection.wants_rs485
                else None
            )
            bus = (
                stack.enter_context(can_bus(connection, site, record=recording.can))
                if connection.wants_can
                else None
            )
            with render_scan.progress(enabled=not json_out) as progress:
                snapshot = discovery.scan(
                    link,
                    bus,
                    options,
                    expected_packs=expect,
                    can_window_s=can_window,
                    progress=progress,
                )
        snapshot = render_scan.describe_connection(snapshot, connection)
        rs485_used = link is not None
    if json_out:
        from active_cli.cli.output import print_json

        print_json(snapshot)
    else:
        render_scan.show(snapshot)
    nothing = (not rs485_used or not snapshot.packs) and (
        snapshot.can is None or snapshot.can.state is None
    )
    if nothing:
        render_scan.show_no_reply(snapshot)
        raise typer.Exit(EXIT_NO_REPLY)
    if worst(list(snapshot.findings)).value == "fail":
        raise typer.Exit(EXIT_CHECK_FAILED)


def _scan_replay(files: CaptureFiles, options: ScanOptions, expect: int | None) -> StackSnapshot:
    """`discovery.scan` on a capture: RS485 polled through a ReplayLink, CAN folded.

    Only the CAN window differs from a live scan: a capture is heard to its
    end, where a live listener stops once it has seen enough (a recorded scan
    holds exactly that).
    """
    import dataclasses

    from active_cli import discovery
    from active_cli.cli.connect import replay_can, replay_link, warn_replay_mismatch

    link = replay_link(files.rs485) if files.rs485 is not None else None
    can = replay_can(files.can) if files.can is not None else None
    snapshot = discovery.scan(link, None, options, expected_packs=expect, can_observation=can)
    if link is not None:
        warn_replay_mismatch(link)
    return dataclasses.replace(
        snapshot,
        port=f"replay of {files.rs485}" if files.rs485 is not None else None,
        baud=link.baud if link is not None else None,
        can_interface=f"replay of {files.can}" if files.can is not None else None,
    )
