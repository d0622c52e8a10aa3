"""The options that carry out a finding's fix: the CLI's half of "what to do".

Checks speak of the site ("try 115200 baud", "poll more addresses", "listen
longer"); only the CLI knows which option does that. Each entry is keyed by
the finding code the check exports and fires only when the fix says the
matching thing, so a heartbeat finding that says "switch the inverter on" is
not told to listen longer.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from active_cli.checks import parallel, protocol, scan, sizing
from active_cli.model import Finding
from active_cli.procedures import doctor_can, doctor_rs485

Hint = Callable[[Finding], str | None]


def _when(phrase: str, hint: str) -> Hint:
    def pick(finding: Finding) -> str | None:
        return hint if phrase in finding.fix else None

    return pick


def _no_packs(finding: Finding) -> str | None:
    baud = re.search(r"try (\d+) baud", finding.fix)
    options = [f"--baud {baud.group(1)}" if baud else "--baud", "--addresses 0-20", "--port"]
    return "options: " + ", ".join(options)


def _rs485_not_polled(finding: Finding) -> str | None:
    baud = re.search(r"at (\d+) baud", finding.fix)
    return "give --port" + (f" (--baud {baud.group(1)})" if baud else "")


def _doctor_baud(finding: Finding) -> str | None:
    baud = re.search(r"to (\d+) baud", finding.fix)
    return f"--baud {baud.group(1)}" if baud else None


HINTS: dict[str, Hint] = {
    doctor_rs485.WRONG_BAUD: _doctor_baud,
    doctor_rs485.SILENT: _when(
        "swap A/B", "other rates: --bauds; other addresses: --probe-addresses"
    ),
    doctor_can.SILENT: _when("termination", "--bitrate 500000; --meter for the termination"),
    doctor_can.BUS_ERRORS: _when("termination", "--meter"),
    doctor_can.ERRORS_ONLY: _when("termination", "--bitrate 500000; --meter"),
    scan.NO_PACKS: _no_packs,
    scan.MASTER_COUNT: _when("poll more addresses", "--addresses, e.g. 1-17"),
    scan.RANGE_SHORTENED: _when("every address", "--all-addresses"),
    scan.LINK_LATE: _when("reply timeout", "--reply-timeout 1.5"),
    scan.CAN_HEARTBEAT: _when("listen longer", "--can-window 5.5"),
    protocol.area_code("can", protocol.MESSAGE_SET): _when("listen longer", "--can-window 5.5"),
    protocol.NO_CAN: _when("CAN adapter", "give --interface/--channel, or --sim"),
    protocol.RS485_NOT_POLLED: _rs485_not_polled,
    protocol.area_code("protocol", protocol.MESSAGE_SET): _when("listen longer", "--window 5.5"),
    protocol.HEARTBEAT: _when("listen longer", "--window 5.5"),
    sizing.BUSBAR: _when("busbar", "--busbar"),
    parallel.COUNT: _when(
        "one by one", "--one-by-one --port PORT, or --voltages V1 V2 ... from the multimeter"
    ),
}


def hint_for(finding: Finding) -> str | None:
    """The option(s) for `finding`'s fix, or None."""
    pick = HINTS.get(finding.code)
    return pick(finding) if pick is not None else None


def fix_with_hint(finding: Finding) -> str:
    """The fix as printed: the check's words, then the option in brackets."""
    hint = hint_for(finding)
    if not hint:
        return finding.fix
    if not finding.fix:
        return hint
    fix = finding.fix
    stop = "." if fix.endswith(".") else ""
    return f"{fix.removesuffix('.')} ({hint}){stop}"
