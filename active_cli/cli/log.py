"""``active log``: capture the CAN bus or the RS485 line to a file; decode a capture."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

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
    from active_cli.links.capture import Capture, CaptureCounts, CaptureSummary
    from active_cli.logs.decode_stream import DecodeSummary

app = typer.Typer(
    help="Capture the CAN bus or the RS485 line to a file, decode a capture to CSV/JSON.",
    no_args_is_help=True,
)

# A progress bar only for files that take a while to decode (~1 s and more).
PROGRESS_MIN_BYTES = 8 << 20


@app.command("capture")
def capture(
    files: list[Path] = typer.Argument(
        ...,
        metavar="FILE...",
        help="Where to record: a CAN log (.log candump, .asc, .blf, .csv, .trc, optionally "
        ".gz) and/or an RS485 capture (.rs485). One file per bus.",
    ),
    duration: float | None = typer.Option(
        None, "--duration", "-d", help="Seconds to record; default until Ctrl-C.", min=0
    ),
    port: str | None = PORT_OPTION,
    baud: int | None = BAUD_OPTION,
    interface: str | None = INTERFACE_OPTION,
    channel: str | None = CHANNEL_OPTION,
    bitrate: int | None = BITRATE_OPTION,
    can_option: list[str] | None = CAN_OPTION_OPTION,
    sim: str | None = SIM_OPTION,
    json_out: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
    force: bool = typer.Option(
        False, "--force", help="Replace a file that already exists (default: refuse)."
    ),
) -> None:
    """Record the CAN bus and/or the RS485 exchange (listen only) until Ctrl-C or --duration.

    --sim records the simulator's CAN broadcast (nothing polls its RS485 line).
    SIGTERM and SIGHUP (a closed SSH session) end it like Ctrl-C; files are
    flushed every half second, so even a killed capture keeps all but the last.
    """
    from active_cli.cli.connect import connection_from_options
    from active_cli.connection import open_links
    from active_cli.errors import UsageError
    from active_cli.links.capture import Capture
    from active_cli.logs.rs485_log import RS485_LOG_SUFFIX

    rs485 = [f for f in files if f.suffix.lower() == RS485_LOG_SUFFIX]
    can_files = [f for f in files if f.suffix.lower() != RS485_LOG_SUFFIX]
    if len(rs485) > 1 or len(can_files) > 1:
        raise UsageError("give at most one CAN log and one .rs485 file")
    if port and not rs485:
        raise UsageError("--port given but no .rs485 file to record it to")
    if (interface or channel or bitrate or can_option) and not can_files:
        raise UsageError("CAN options given but no CAN log file (.log, .asc ...) to record to")
    if sim is not None and (rs485 or port):
        raise UsageError(
            "--sim records the simulated CAN bus only: nothing polls the simulated RS485 line"
        )
    connection = connection_from_options(port, baud, interface, channel, bitrate, sim, can_option)
    with open_links(connection, rs485=False, can=False) as links:
        site = links.site
        bus = site.open_can_bus() if site is not None and can_files else None
        try:
            with (
                Capture(
                    can_path=can_files[0] if can_files else None,
                    can_options=connection.can_options(),
                    bus=bus,
                    rs485_path=rs485[0] if rs485 else None,
                    port_url=port,
                    baud=connection.resolved_baud(),
                    force=force,
                ) as session,
                _stop_on_signals(session),
            ):
                summary = _run(session, duration)
        finally:
            if bus is not None:
                bus.shutdown()
    from active_cli.links.can_link import describe_resolved

    where = f"simulator {sim}" if sim else describe_resolved(connection.can_options())
    _show_capture(summary, json_out, where, port)


@contextmanager
def _stop_on_signals(session: Capture) -> Iterator[None]:
    """SIGTERM and SIGHUP end the capture the way Ctrl-C does (flush, close,
    summary) instead of killing it with its file unclosed."""
    import signal

    def stop(signum: int, _frame: object) -> None:
        session.request_stop(signal.Signals(signum).name)

    previous: dict[int, Any] = {}
    # SIGINT too: Ctrl-C at any moment of the capture (even while it is still
    # starting) is a stop request, never a KeyboardInterrupt in the middle of it.
    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        number = getattr(signal, name, None)
        if number is not None:
            previous[number] = signal.signal(number, stop)
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _run(session: Any, duration: float | None) -> CaptureSummary:
    import sys

    from active_cli.cli import output

    console = output.stderr()
    until = f"for {duration:g} s" if duration is not None else "until Ctrl-C"
    if not sys.stderr.isatty():
        console.print(f"capturing {until}")
        result: CaptureSummary = session.run(duration)
        return result
    with console.status(f"capturing {until}") as status:

        def tick(counts: CaptureCounts) -> None:
            status.update(f"capturing {until}: {_counts_text(counts)}  [dim](Ctrl-C to stop)[/]")

        result = session.run(duration, on_tick=tick)
    return result


def _counts_text(counts: CaptureCounts) -> str:
    return (
        f"CAN {counts.can_frames} frames, RS485 {counts.rs485_frames} frames, "
        f"{counts.elapsed_s:.0f} s"
    )


def _show_capture(summary: CaptureSummary, json_out: bool, can_text: str, port: str | None) -> None:
    try:
        _print_capture(summary, json_out, can_text, port)
    except OSError:
        # SIGHUP from a closed SSH session: the terminal is gone, the file is
        # closed and complete; there is nobody to tell.
        if summary.signal != "SIGHUP":
            raise


def _print_capture(
    summary: CaptureSummary, json_out: bool, can_text: str, port: str | None
) -> None:
    from rich.markup import escape

    from active_cli.cli import output
    from active_cli.sanitize import printable

    if json_out:
        output.print_json(summary)
        return
    console = output.stdout()
    stop = {
        "interrupt": "Ctrl-C",
        "duration": "end of --duration",
        "signal": summary.signal or "a signal",
    }[summary.stopped_by]
    if summary.can_path is not None:
        console.print(
            f"CAN: {summary.can_frames} frames written to {escape(printable(summary.can_path))}"
            f" ({summary.can_received} received)",
            soft_wrap=True,
        )
    if summary.rs485_path is not None:
        console.print(
            f"RS485: {summary.rs485_frames} frames written to "
            f"{escape(printable(summary.rs485_path))} "
            f"({summary.rs485_bad_frames} broken, {summary.rs485_noise_bytes} noise bytes)",
            soft_wrap=True,
        )
    console.print(f"{summary.duration_s:.1f} s, stopped by {stop}")
    warn = output.stderr()
    if summary.can_dropped:
        warn.print(
            f"[yellow]{summary.can_dropped} of {summary.can_received} CAN frames received "
            "were not written[/]: the disk could not keep up; capture to a faster disk "
            "or an uncompressed .log",
            soft_wrap=True,
        )
    if summary.can_path is not None and summary.can_received == 0:
        warn.print(
            f"[yellow]no CAN frames heard on {escape(printable(can_text))}[/]: check the bitrate "
            "(Pylon LV: 500000), CAN-H/CAN-L and the 120 ohm termination",
            soft_wrap=True,
        )
    if summary.rs485_path is not None and summary.rs485_frames == 0:
        warn.print(
            f"[yellow]no RS485 frames heard on {escape(printable(port or ''))}[/]: check the "
            "baud rate (9600 or 115200) and A/B polarity; is anyone polling the line?",
            soft_wrap=True,
        )


@app.command("decode")
def decode(
    file: Path = typer.Argument(
        ..., help="A capture: .log (candump -L), .asc, .blf, .csv, .trc (CAN) or .rs485."
    ),
    out_path: Path | None = typer.Option(
        None, "--output", "-o", help="Write here instead of standard output."
    ),
    output_format: str | None = typer.Option(
        None,
        "--format",
        "-f",
        help="csv (one row per signal) or jsonl (one JSON object per frame); "
        "default: from the --output suffix, else csv.",
    ),
    ids: list[str] = typer.Option(
        [], "--id", help="Only this CAN id (RS485: ADR), hex; repeatable.", metavar="ID"
    ),
    signals: list[str] = typer.Option(
        [],
        "--signal",
        "-s",
        help="Only signals matching this glob (Voltage, 'BMS_Limits.*', "
        "'payload.packs.*.voltage_v'); repeatable.",
        metavar="NAME",
    ),
    force: bool = typer.Option(
        False, "--force", help="Replace an --output file that is not a decode output."
    ),
) -> None:
    """Decode a capture through the DBC (CAN) or the Pylontech codec (RS485), streaming."""
    from active_cli.logs.decode_stream import DecodeOptions, decode_log
    from active_cli.logs.output_guard import check_output

    fmt = _format(output_format, out_path)
    options = DecodeOptions(output_format=fmt, ids=_parse_ids(ids), signals=tuple(signals))
    total = _size(file)
    if out_path is not None:
        check_output(out_path, [file], force=force)
    with _open_output(out_path) as out, _progress(total) as progress, _ctrl_c() as stopped:
        summary = decode_log(file, out, options, progress=progress, stop=stopped)
    _show_decode(summary)
    if summary.interrupted:
        raise typer.Exit(EXIT_INTERRUPTED)


EXIT_INTERRUPTED = 130  # as cli.main reports Ctrl-C


@contextmanager
def _ctrl_c() -> Iterator[Callable[[], bool]]:
    """Ctrl-C during a decode stops it between two blocks, so the output ends
    with a whole line and holds every frame decoded; a second Ctrl-C
    interrupts at once."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield lambda: False  # signals reach the main thread only
        return
    asked: list[bool] = []

    def stop(_signum: int, _frame: object) -> None:
        asked.append(True)
        signal.signal(signal.SIGINT, previous)

    previous = signal.signal(signal.SIGINT, stop)
    try:
        yield lambda: bool(asked)
    finally:
        if not asked:
            signal.signal(signal.SIGINT, previous)


def _format(given: str | None, out_path: Path | None) -> Any:
    from active_cli.errors import UsageError
    from active_cli.logs.decode_stream import OUTPUT_FORMATS

    fmt = given
    if fmt is None and out_path is not None:
        fmt = {".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl"}.get(
            out_path.suffix.lower(), "csv"
        )
    fmt = (fmt or "csv").lower()
    if fmt not in OUTPUT_FORMATS:
        raise UsageError(f"--format {given!r}: use csv or jsonl")
    return fmt


def _parse_ids(ids: list[str]) -> frozenset[int]:
    if not ids:
        # decode_can_text imports pylon_can, hence cantools (~0.3 s): only for --id.
        return frozenset()
    from active_cli.errors import DecodeError, UsageError
    from active_cli.protocols.decode_can_text import parse_can_id

    parsed: set[int] = set()
    for text in ids:
        for part in text.split(","):
            try:
                parsed.add(parse_can_id(part))
            except DecodeError as e:
                raise UsageError(f"--id {part!r}: {e.reason}") from None
    return frozenset(parsed)


def _size(file: Path) -> int:
    from active_cli.errors import DataFileError

    try:
        return file.stat().st_size
    except OSError as e:
        raise DataFileError(str(file), f"cannot read: {e.strerror or e}") from e


@contextmanager
def _open_output(path: Path | None) -> Iterator[TextIO]:
    """The output file, or standard output (with one big buffer when it is the
    real one: a decode makes millions of small writes)."""
    import os
    import sys

    from active_cli.errors import ActiveError, OutputError

    owned: TextIO | None = None
    if path is not None:
        try:
            owned = open(path, "w", encoding="utf-8", newline="", buffering=1 << 20)  # noqa: SIM115
        except OSError as e:
            raise OutputError(path, e.strerror or str(e)) from e
    elif sys.stdout is sys.__stdout__ and sys.stdout is not None:
        owned = open(  # noqa: SIM115
            sys.stdout.fileno(), "w", encoding="utf-8", newline="", buffering=1 << 20, closefd=False
        )
    try:
        try:
            yield owned if owned is not None else sys.stdout
        finally:
            if owned is not None:
                owned.close()
    except BrokenPipeError:
        if path is not None:
            raise
        # The reader (`head`) has had enough: stop quietly, as cat does.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        raise SystemExit(0) from None
    except OSError as e:
        if isinstance(e, ActiveError):
            raise
        # A full disk or a vanished folder while decoding: one line, exit 5;
        # the rows written so far stay in the file.
        raise OutputError(
            path or "standard output",
            f"{e.strerror or e}",
            hint="the rows before that were written; free some space or write elsewhere",
        ) from e


@contextmanager
def _progress(total: int) -> Iterator[Callable[[int], None] | None]:
    """A rich progress bar on stderr for big files, when stderr is a terminal."""
    import sys

    if total < PROGRESS_MIN_BYTES or not sys.stderr.isatty():
        yield None
        return
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    from active_cli.cli import output

    bar = Progress(
        TextColumn("decoding"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=output.stderr(),
        transient=True,
    )
    task = bar.add_task("decode", total=total)

    def update(position: int) -> None:
        bar.update(task, completed=position)

    with bar:
        yield update


def _show_decode(summary: DecodeSummary) -> None:
    # A plain print: the line has no markup, and rich's console would add
    # ~0.07 s of imports to every decode (measured with -X importtime).
    import sys

    parts = [f"{summary.decoded} frames decoded"]
    if summary.errors:
        parts.append(f"{summary.errors} did not decode")
    if summary.unknown:
        ids = ", ".join(summary.unknown_ids)
        parts.append(f"{summary.unknown} with ids not in the DBC ({ids})")
    if summary.skipped:
        parts.append(f"{summary.skipped} filtered out or not data frames")
    if summary.too_long_lines:
        from active_cli.logs.lines import MAX_LINE_CHARS

        parts.append(
            f"{summary.too_long_lines} line(s) longer than {MAX_LINE_CHARS} characters skipped"
        )
    if summary.interrupted:
        parts.append("interrupted by Ctrl-C: the output holds every frame before")
    print(f"{summary.frames} frames read: " + ", ".join(parts), file=sys.stderr)
