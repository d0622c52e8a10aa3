"""``active commission``: the manual's power-on sequence, proved from the bus, recorded.

The command parses options, opens the links (with ``--sim`` every pack and the
inverter start switched off), runs `commissioning.runner.run_commissioning`
with the terminal prompter (or ``--yes``), prints the steps and writes the
ticket. It exits 0 when the run completed, 1 when a step failed, 130 when it
was interrupted (the record is kept: ``--resume FILE`` continues it).
"""

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
    REPLY_TIMEOUT_OPTION,
    SIM_OPTION,
)

if TYPE_CHECKING:
    from active_cli.commissioning.session import Session
    from active_cli.connection import Links


def commission_command(
    inverter: str | None = typer.Option(
        None, "--inverter", help="Inverter profile: id or alias (see `active inverters`)."
    ),
    packs: int | None = typer.Option(
        None, "--packs", "-n", min=1, max=16, help="Packs in the stack (asked if not given)."
    ),
    inverter_power: str | None = typer.Option(
        None,
        "--inverter-power",
        metavar="W",
        help="The inverter's rated power: 8000, 8000W or 8kW (asked if not given).",
    ),
    voltages: str | None = typer.Option(
        None,
        "--voltages",
        metavar="V,V,...",
        help="Before linking, multimeter voltages in pack order (instead of reading each "
        "pack over RS485): --voltages 53.2,53.1,52.9",
    ),
    port: str | None = PORT_OPTION,
    baud: int | None = BAUD_OPTION,
    interface: str | None = INTERFACE_OPTION,
    channel: str | None = CHANNEL_OPTION,
    bitrate: int | None = BITRATE_OPTION,
    can_option: list[str] | None = CAN_OPTION_OPTION,
    sim: str | None = SIM_OPTION,
    reply_timeout: float | None = REPLY_TIMEOUT_OPTION,
    addresses: str = typer.Option(
        "1-17", "--addresses", "-a", help="RS485 addresses the packs may use."
    ),
    session_file: Path | None = typer.Option(
        None,
        "--session",
        metavar="FILE",
        help="Where to write the session record (default ./active-session-DATE-TIME.json).",
    ),
    resume: Path | None = typer.Option(
        None, "--resume", metavar="FILE", help="Continue a session record at its first open step."
    ),
    yes: bool = typer.Option(
        False,
        "--yes",
        "-y",
        help="No questions: physical steps are taken as done (the bus must still show them); "
        "typed values come from options or --answers.",
    ),
    answers: Path | None = typer.Option(
        None, "--answers", metavar="FILE", help="Typed values (installer, site, inverter) as TOML."
    ),
    settle: float = typer.Option(
        30.0,
        "--settle",
        min=1.0,
        help="Acceptance: seconds the inverter's heartbeat must stay steady.",
    ),
    join_timeout: float = typer.Option(
        90.0,
        "--join-timeout",
        min=1.0,
        help="Seconds to wait for a pack to answer once switched on.",
    ),
    inverter_timeout: float = typer.Option(
        180.0,
        "--inverter-timeout",
        min=1.0,
        help="Seconds to wait for the inverter to show itself.",
    ),
    html: Path | None = typer.Option(
        None, "--html", metavar="FILE", help="Write the ticket as HTML."
    ),
    pdf: Path | None = typer.Option(None, "--pdf", metavar="FILE", help="Write the ticket as PDF."),
    no_report: bool = typer.Option(False, "--no-report", help="Write no ticket at the end."),
    json_out: bool = typer.Option(
        False, "--json", help="Print the session record as JSON at the end."
    ),
) -> None:
    """Guided power-on: packs one by one, wiring, each pack on in turn, inverter, acceptance."""
    import dataclasses

    from active_cli.cli.check import parse_power
    from active_cli.cli.connect import connection_from_options, print_notes
    from active_cli.cli.prompting import TerminalPrompter, YesPrompter
    from active_cli.cli.scan import parse_addresses
    from active_cli.commissioning.answers import load_answers
    from active_cli.commissioning.context import Commissioning, CommissionOptions, utc_now
    from active_cli.commissioning.installer import load_installer
    from active_cli.commissioning.runner import STEPS, run_commissioning
    from active_cli.commissioning.session import Outcome, load_session
    from active_cli.commissioning.start import begin, check_resume, default_session_path
    from active_cli.connection import open_links
    from active_cli.errors import UsageError
    from active_cli.inverters import load_profile
    from active_cli.procedures.actuation import PromptedActuator, SimActuator
    from active_cli.procedures.prompting import Aborted, Prompter

    readings = _parse_voltages(voltages)
    given = load_answers(answers) if answers is not None else {}
    if resume is not None:
        if session_file is not None and session_file != resume:
            raise UsageError("--resume writes to the file it resumes: leave out --session")
        session = load_session(resume)
        profile = load_profile(inverter or session.site.inverter_profile)
        check_resume(
            session,
            inverter_profile=profile.id if inverter else None,
            packs=packs,
            sim=sim,
            known_steps=tuple(STEPS),
        )
        path = resume
    else:
        if inverter is None:
            raise UsageError(
                "say which inverter: --inverter NAME", hint="`active inverters` lists the profiles"
            )
        profile = load_profile(inverter)
        path = session_file or default_session_path(utc_now())
        if path.exists():
            raise UsageError(
                f"{path} exists: a session record is never overwritten",
                hint=f"continue it with --resume {path}, or give another --session FILE",
            )
        count = packs or _ask_packs(sim, yes)
        session = begin(
            inverter_profile=profile.id,
            inverter_name=profile.name,
            packs=count,
            installer=load_installer(),
            sim_scenario=sim,
            now=utc_now(),
            known_steps=tuple(STEPS),
        )
    connection = dataclasses.replace(
        connection_from_options(
            port, baud, interface, channel, bitrate, sim, can_option, reply_timeout=reply_timeout
        ),
        sim_packs_on=False if sim else None,
        sim_inverter_on=False if sim else None,
    )
    if not connection.wants_rs485:
        raise UsageError(
            "commissioning reads the packs over RS485: give --port (or --sim SCENARIO)",
            hint="add --interface/--channel too, so the inverter can be heard on CAN",
        )
    options = CommissionOptions(
        inverter=profile.id,
        packs=session.site.packs_expected,
        inverter_power_w=None if inverter_power is None else parse_power(inverter_power),
        voltages=readings,
        addresses=parse_addresses(addresses),
        settle_s=settle,
        join_timeout_s=join_timeout,
        inverter_timeout_s=inverter_timeout,
        assume_yes=yes,
    )
    prompter: Prompter = YesPrompter() if yes else TerminalPrompter()
    with open_links(connection) as links:
        print_notes(links.notes)
        _restore_power(links, session)
        actuator = (
            SimActuator(links.site, prompter)
            if links.site is not None
            else PromptedActuator(prompter)
        )
        run = Commissioning(
            session=session,
            path=path,
            profile=profile,
            links=links,
            prompter=prompter,
            actuator=actuator,
            options=options,
            answers=given,
        )
        run.save()
        try:
            final = run_commissioning(run)
        except Aborted as e:
            raise Aborted(
                f"{e.message}; the record is kept in {path}",
                hint=f"continue with: active commission --resume {path}",
            ) from None
    _finish(final, path, json_out=json_out, html=html, pdf=pdf, no_report=no_report)
    if final.outcome is not Outcome.COMPLETED:
        raise typer.Exit(1)


def _parse_voltages(text: str | None) -> tuple[float, ...]:
    from active_cli.errors import UsageError
    from active_cli.typed_values import TypedValueError, parse_pack_voltages

    if not text:
        return ()
    try:
        return tuple(parse_pack_voltages([text]))
    except TypedValueError as e:
        raise UsageError(f"--voltages: {e.message}", hint=e.hint) from None


def _ask_packs(sim: str | None, yes: bool) -> int:
    from active_cli.errors import UsageError

    default = None
    if sim is not None:
        from active_cli.sim.scenario import load_scenario

        default = len(load_scenario(sim).packs)
    if yes:
        if default is None:
            raise UsageError("--yes: give the number of packs with --packs N")
        return default
    raw = typer.prompt("Packs in the stack", default=default, type=int, err=True)
    if not 1 <= raw <= 16:
        raise UsageError(f"{raw} packs: the Active16 runs 1 to 16 packs in parallel")
    return int(raw)


def _restore_power(links: Links, session: Session) -> None:
    """On resume with --sim: switch on what the record says was already on."""
    site = links.site
    if site is None:
        return
    from active_cli.commissioning.session import StepStatus

    for join in session.joins:
        site.switch_on_pack(join.position)
    if session.step("inverter").status in (StepStatus.OK, StepStatus.WARN):
        site.switch_on_inverter()


def _finish(
    session: Session,
    path: Path,
    *,
    json_out: bool,
    html: Path | None,
    pdf: Path | None,
    no_report: bool,
) -> None:
    from active_cli.cli import render_commission

    if json_out:
        from active_cli.cli.output import print_json

        print_json(session, command="commission")
    else:
        render_commission.show(session, path)
    if no_report:
        return
    from active_cli.cli.output import print_error
    from active_cli.cli.report import quiet_pdf_engine, show_ticket_files
    from active_cli.report import write_ticket

    quiet_pdf_engine()
    files = write_ticket(
        path, html_path=html or path.with_suffix(".html"), pdf_path=pdf or path.with_suffix(".pdf")
    )
    show_ticket_files(files)
    if files.pdf_error is not None:
        # The commissioning result stands; only the PDF could not be made here.
        print_error(files.pdf_error)
