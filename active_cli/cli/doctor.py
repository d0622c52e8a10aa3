"""``active doctor``: why is the line silent? A diagnosis that ends in a cause and a fix."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from active_cli.cli.connect import (
    BAUD_OPTION,
    BITRATE_OPTION,
    CAN_OPTION_OPTION,
    CHANNEL_OPTION,
    INTERFACE_OPTION,
    PORT_OPTION,
    SIM_OPTION,
)

if TYPE_CHECKING:
    from active_cli.procedures.doctor import Diagnosis


def parse_bauds(text: str) -> tuple[int, ...]:
    """``9600,115200,19200`` -> (9600, 115200, 19200)."""
    from active_cli.errors import UsageError

    try:
        bauds = tuple(int(p) for p in text.split(",") if p.strip())
    except ValueError:
        raise UsageError(f"--bauds {text!r}: give rates like 9600,115200,19200") from None
    if not bauds or any(b < 300 or b > 1_000_000 for b in bauds):
        raise UsageError(f"--bauds {text!r}: give rates between 300 and 1000000")
    return tuple(dict.fromkeys(bauds))


def doctor_command(
    port: str | None = PORT_OPTION,
    baud: int | None = BAUD_OPTION,
    interface: str | None = INTERFACE_OPTION,
    channel: str | None = CHANNEL_OPTION,
    bitrate: int | None = BITRATE_OPTION,
    can_option: list[str] | None = CAN_OPTION_OPTION,
    sim: str | None = SIM_OPTION,
    inverter: str | None = typer.Option(
        None,
        "--inverter",
        help="Inverter profile (see `active inverters`): its RS485 baud is the one expected, "
        "its CAN bitrate the one listened at.",
    ),
    bauds: str = typer.Option(
        "9600,115200,19200", "--bauds", help="RS485 baud rates to try, in order."
    ),
    probe_addresses: str = typer.Option(
        "1,2", "--probe-addresses", help="Addresses asked at each baud rate (first reply wins)."
    ),
    addresses: str = typer.Option(
        "1-17", "--addresses", "-a", help="Addresses polled at the rate that answered."
    ),
    can_window: float = typer.Option(
        2.5, "--can-window", min=0.1, help="CAN listening time, seconds (two broadcast periods)."
    ),
    meter: bool = typer.Option(
        False, "--meter", help="Guided check: asks for the CAN-H/CAN-L resistance (power off)."
    ),
    meter_ohm: str | None = typer.Option(
        None,
        "--meter-ohm",
        metavar="OHM",
        help="The CAN-H/CAN-L resistance already measured (ohms, or 'open'), instead of asking.",
    ),
    json_out: bool = typer.Option(False, "--json", help="Print the diagnosis as JSON."),
) -> None:
    """Diagnose the RS485 line and the CAN bus: a cause and a fix for each problem.

    RS485 (--port, or --sim): the port opens? which baud rate answers, which
    protocol variant, which addresses; garbage, crossed A/B, an echoing adapter,
    checksum errors, a single-client gateway already in use. CAN (--interface/
    --channel, or --sim): two broadcast periods of listening, error frames, the
    controller's state, and an optional meter check of the termination. Exits 0
    when the line is fine, 1 when a problem was found, 3 when nothing answered.
    """
    from active_cli.cli.connect import connection_from_options, print_notes
    from active_cli.cli.exits import exit_for
    from active_cli.cli.prompting import TerminalPrompter
    from active_cli.cli.scan import parse_addresses
    from active_cli.errors import UsageError
    from active_cli.procedures.doctor import DoctorOptions, run_doctor
    from active_cli.procedures.doctor_can import METER_QUESTION
    from active_cli.procedures.doctor_rs485 import Rs485DoctorOptions
    from active_cli.procedures.prompting import AutoPrompter, Prompter

    connection = connection_from_options(port, baud, interface, channel, bitrate, sim, can_option)
    expected_baud = connection.resolved_baud()
    if inverter is not None:
        import dataclasses

        from active_cli.inverters import load_profile
        from active_cli.procedures.protocol import polls_rs485

        profile = load_profile(inverter)
        rate = profile.bus.bitrate.value
        if rate is not None and polls_rs485(profile) and baud is None:
            expected_baud = rate
        elif rate is not None and not polls_rs485(profile) and bitrate is None:
            connection = dataclasses.replace(connection, bitrate=rate)
    if not (connection.wants_rs485 or connection.wants_can):
        raise UsageError(
            "say what to diagnose: --port (RS485), --interface/--channel (CAN), or --sim SCENARIO"
        )
    if meter and not connection.wants_can and meter_ohm is None:
        raise UsageError("--meter checks the CAN termination: give --interface/--channel too")
    options = DoctorOptions(
        rs485=Rs485DoctorOptions(
            bauds=parse_bauds(bauds),
            expected_baud=expected_baud,
            probe_addresses=parse_addresses(probe_addresses),
            scan_addresses=parse_addresses(addresses),
        ),
        can_window_s=can_window,
        meter=meter or meter_ohm is not None,
    )
    prompter: Prompter = TerminalPrompter()
    if meter_ohm is not None:
        prompter = AutoPrompter(values={METER_QUESTION: meter_ohm})
    diagnosis = run_doctor(connection, options, prompter)
    print_notes(diagnosis.notes)
    if json_out:
        from active_cli.cli.output import print_json

        print_json(diagnosis, command="doctor", verdict=diagnosis.verdict)
    else:
        _show(diagnosis)
    exit_for(diagnosis.findings, answered=diagnosis.answered)


def _show(diagnosis: Diagnosis) -> None:
    from rich.markup import escape

    from active_cli.cli.output import print_findings, stdout

    console = stdout()
    rs485 = diagnosis.rs485
    if rs485 is not None:
        console.print(f"[bold]RS485[/] {escape(rs485.port)}")
        for trial in rs485.trials:
            heard = trial.heard
            who = ", ".join(str(a) for a in trial.answered) or "no reply"
            console.print(
                f"  {trial.baud:>6} baud: {who}; {heard.received_bytes} bytes back "
                f"({heard.frames} frames, {heard.echoes} echoes, {heard.bad_frames} broken, "
                f"{heard.noise_bytes} noise)"
            )
    can = diagnosis.can
    if can is not None:
        ids = ", ".join(f"0x{i:03X}" for i in can.ids_seen) or "none"
        console.print(
            f"[bold]CAN[/] {escape(can.bus)}: {can.frames} frames in {can.window_s:.1f} s "
            f"(ids {ids}), {can.error_frames} error frames"
            + (f", bus state {can.bus_state}" if can.bus_state else "")
        )
    print_findings(console, diagnosis.findings, diagnosis.verdict)
