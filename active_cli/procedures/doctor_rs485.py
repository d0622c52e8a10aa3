"""Why an RS485 line is silent: open the port, sweep the baud rates, read what came back.

`diagnose_rs485` opens the port (a port that does not open is a finding of
its own: in use, not there, no permission, a gateway that refused us), then
for each baud rate asks a few addresses for their protocol version (0x4F, the
shortest exchange there is) and stops at the first rate that answers. Every
byte that came back is kept (`SpyPort`) and read afterwards, because the bytes
that never formed a reply are the diagnosis: bytes that decode once their bits
are inverted mean A and B are crossed; bytes that never form a frame, a wrong
baud rate or crossed wires; our own request coming back, an adapter without
echo suppression; frames with a bad checksum, a poor line. At the rate that
works it polls the addresses to list the packs, and repeats a short request to
measure the error rate.

The findings speak of the site (wires, switches, adapters); the CLI adds
its options.
"""

from __future__ import annotations

import contextlib
import errno
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from active_cli.errors import DecodeError, LinkError, LinkTimeout
from active_cli.model import Finding, Severity
from active_cli.protocols import pylon_rs485
from active_cli.protocols.framing import Rs485Framer
from active_cli.protocols.pylon_rs485 import Command, Variant

if TYPE_CHECKING:
    from active_cli.links.serial_link import SerialLink, SerialPort

# Finding codes (stable: tests, --json consumers and the docs use them).
PORT_BUSY = "doctor.rs485.port-busy"
PORT_MISSING = "doctor.rs485.port-missing"
PORT_PERMISSION = "doctor.rs485.port-permission"
PORT_OPEN = "doctor.rs485.port-open"
GATEWAY_REFUSED = "doctor.rs485.gateway-refused"
GATEWAY_SILENT = "doctor.rs485.gateway-silent"
SWAPPED_AB = "doctor.rs485.swapped-ab"
GARBAGE = "doctor.rs485.garbage"
SILENT = "doctor.rs485.silent"
ECHO = "doctor.rs485.echo"
WRONG_BAUD = "doctor.rs485.baud"
CHECKSUM_ERRORS = "doctor.rs485.checksum-errors"
GARBLED_ADDRESS = "doctor.rs485.garbled-address"
LINE_OK = "doctor.rs485.line"

DEFAULT_BAUDS = (9600, 115200, 19200)  # the DIP-switch rates of the field, commonest first
# 1: the master where addresses start at 1; 2: a Pylontech-numbered master.
DEFAULT_PROBE_ADDRESSES = (1, 2)
DEFAULT_SCAN_ADDRESSES = tuple(range(1, 18))
ERROR_RATE_PROBES = 8  # repeated 0x4F at the working rate: enough to see a 1-in-8 fault
WARN_ERROR_RATE = 0.05
# How long a pack may take to start its reply while probing (the field's packs
# answer in tens of ms; PACE documents up to 500 ms, kept for the error probes).
PROBE_LATENCY_S = 0.3
MAX_EVIDENCE_BYTES = 48


@dataclass
class SpyPort:
    """A `SerialPort` that keeps every byte written and read (the link sees the same port)."""

    port: SerialPort
    written: bytearray = field(default_factory=bytearray)
    read_bytes: bytearray = field(default_factory=bytearray)
    requests: list[bytes] = field(default_factory=list)

    @property
    def timeout(self) -> float | None:
        return self.port.timeout

    @timeout.setter
    def timeout(self, value: float | None) -> None:
        self.port.timeout = value

    @property
    def in_waiting(self) -> int:
        return self.port.in_waiting

    def read(self, size: int = 1) -> bytes:
        data = self.port.read(size)
        self.read_bytes += data
        return data

    def write(self, data: bytes, /) -> int | None:
        self.written += data
        self.requests.append(bytes(data))
        return self.port.write(data)

    def reset_input_buffer(self) -> None:
        self.port.reset_input_buffer()

    def close(self) -> None:
        self.port.close()


@dataclass(frozen=True)
class HeardBytes:
    """What the bytes that came back at one baud rate were."""

    received_bytes: int = 0
    frames: int = 0  # frames that decode and are not our own request
    echoes: int = 0  # our own request, handed back
    echo_bytes: int = 0
    bad_frames: int = 0  # '~' ... CR that fail CHKSUM / LENGTH / hex
    noise_bytes: int = 0  # bytes outside any frame
    inverted_frames: int = 0  # frames that decode once every bit is inverted
    sample: str = ""  # the first bytes heard, as hex (evidence)


def read_heard(received: bytes, requests: Sequence[bytes]) -> HeardBytes:
    """Classify what came back (pure)."""
    sent = set(requests)
    framer = Rs485Framer()
    frames = echoes = echo_bytes = bad = 0
    for raw in framer.feed(received):
        if raw in sent:
            echoes += 1
            echo_bytes += len(raw)
            continue
        try:
            pylon_rs485.decode_frame(raw)
        except DecodeError:
            bad += 1
            continue
        frames += 1
    inverted = 0
    if not frames:
        flipped = Rs485Framer()
        for raw in flipped.feed(bytes(b ^ 0xFF for b in received)):
            with contextlib.suppress(DecodeError):
                pylon_rs485.decode_frame(raw)
                inverted += 1
    return HeardBytes(
        received_bytes=len(received),
        frames=frames,
        echoes=echoes,
        echo_bytes=echo_bytes,
        bad_frames=bad,
        noise_bytes=framer.noise_bytes + len(framer.pending()),
        inverted_frames=inverted,
        sample=received[:MAX_EVIDENCE_BYTES].hex(" ").upper(),
    )


@dataclass(frozen=True)
class BaudTrial:
    """One baud rate tried: who answered, and what the bytes were."""

    baud: int
    answered: tuple[int, ...]
    heard: HeardBytes
    ver: int | None = None  # the VER byte of the first reply

    @property
    def variant(self) -> str | None:
        return None if self.ver is None else Variant.from_ver(self.ver).value


@dataclass(frozen=True)
class Rs485Diagnosis:
    """Everything the RS485 diagnosis saw, and its findings (the cause first)."""

    port: str
    opened: bool
    trials: tuple[BaudTrial, ...] = ()
    baud: int | None = None  # the rate the packs answered at
    ver: int | None = None
    addresses: tuple[int, ...] = ()
    error_probes: int = 0
    error_replies: int = 0
    findings: tuple[Finding, ...] = ()
    garbled_addresses: tuple[int, ...] = ()

    @property
    def answered(self) -> bool:
        return self.baud is not None

    @property
    def variant(self) -> str | None:
        return None if self.ver is None else Variant.from_ver(self.ver).value

    @property
    def error_rate(self) -> float | None:
        return None if not self.error_probes else self.error_replies / self.error_probes


# Opens the port at a baud rate: the real port, or the simulator retuned first.
PortOpener = Callable[[int], "contextlib.AbstractContextManager[SerialPort]"]


@dataclass(frozen=True)
class Rs485DoctorOptions:
    bauds: tuple[int, ...] = DEFAULT_BAUDS
    expected_baud: int = 9600
    probe_addresses: tuple[int, ...] = DEFAULT_PROBE_ADDRESSES
    scan_addresses: tuple[int, ...] = DEFAULT_SCAN_ADDRESSES
    sweep: bool = True  # False: the baud is the gateway's own setting, one trial only


def is_gateway(url: str) -> bool:
    return url.startswith(("socket://", "rfc2217://"))


def diagnose_rs485(url: str, open_port: PortOpener, options: Rs485DoctorOptions) -> Rs485Diagnosis:
    """Open, sweep, read back; the findings of `url` (the cause first)."""
    bauds = options.bauds if options.sweep else (options.expected_baud,)
    trials: list[BaudTrial] = []
    for baud in bauds:
        try:
            with open_port(baud) as port:
                spy = SpyPort(port)
                trial, found = _try_baud(spy, baud, url, options)
        except LinkError as e:
            if trials:  # it opened before: the adapter went away mid-diagnosis
                raise
            return Rs485Diagnosis(url, False, findings=(_open_finding(url, e),))
        trials.append(trial)
        if found is not None:
            return _answered(url, trials, found, options)
    return Rs485Diagnosis(url, True, tuple(trials), findings=_silent_findings(url, trials))


@dataclass(frozen=True)
class _Found:
    baud: int
    ver: int
    addresses: tuple[int, ...]
    error_probes: int
    error_replies: int
    heard: HeardBytes
    garbled: tuple[int, ...] = ()


def _link(port: SerialPort, baud: int, url: str) -> SerialLink:
    from active_cli.links.serial_link import SerialLink

    # No retries: every exchange is counted as it happened, not as a retry mended it.
    return SerialLink(port, baud=baud, url=url, latency_budget_s=PROBE_LATENCY_S, retries=0)


def _try_baud(
    spy: SpyPort, baud: int, url: str, options: Rs485DoctorOptions
) -> tuple[BaudTrial, _Found | None]:
    link = _link(spy, baud, url)
    answered: list[int] = []
    ver: int | None = None
    for adr in options.probe_addresses:
        frame = _probe(link, adr)
        if frame is not None:
            answered.append(adr)
            ver = frame.ver
            break
    if ver is None:
        return BaudTrial(baud, (), read_heard(bytes(spy.read_bytes), spy.requests)), None
    # Every address, to list the packs (an address already heard is not asked again).
    garbled: list[int] = []
    for adr in options.scan_addresses:
        if adr in answered:
            continue
        try:
            frame = link.query(Command.PROTOCOL_VERSION, adr, retry_on_timeout=False)
        except LinkTimeout:
            continue
        except DecodeError:
            garbled.append(adr)  # bytes, never a reply: two packs answering at once
            continue
        if frame.cid1 == pylon_rs485.CID1_BATTERY:
            answered.append(adr)
    errors = 0
    for _ in range(ERROR_RATE_PROBES):
        if _probe(link, answered[0], patient=True) is None:
            errors += 1
    heard = read_heard(bytes(spy.read_bytes), spy.requests)
    trial = BaudTrial(baud, tuple(sorted(answered)), heard, ver)
    found = _Found(
        baud, ver, tuple(sorted(answered)), ERROR_RATE_PROBES, errors, heard, tuple(garbled)
    )
    return trial, found


def _probe(link: SerialLink, adr: int, *, patient: bool = False) -> pylon_rs485.Frame | None:
    try:
        frame = link.query(Command.PROTOCOL_VERSION, adr, retry_on_timeout=patient)
    except (LinkTimeout, DecodeError):
        return None
    if frame.cid1 != pylon_rs485.CID1_BATTERY:
        return None
    return frame


# ------------------------------------------------------------------ findings


def _open_finding(url: str, error: LinkError) -> Finding:
    cause = error.__cause__
    code_ = getattr(cause, "errno", None)
    text = f"{error.message} {cause}" if cause is not None else error.message
    evidence = (text,)
    if is_gateway(url):
        return Finding(
            Severity.FAIL,
            GATEWAY_REFUSED,
            f"The gateway at {url} did not take the connection",
            "Many RS485-to-network gateways serve one TCP client at a time: when another "
            "client (the inverter's logger, a monitoring box, another laptop) holds it, the "
            "next connection is refused or dropped.",
            evidence,
            "disconnect the other client (or give it its own gateway port), check the "
            "gateway's address and TCP port, then run again",
        )
    if "in use" in error.message or code_ in (errno.EBUSY, errno.EAGAIN):
        return Finding(
            Severity.FAIL,
            PORT_BUSY,
            f"{url} is in use by another program",
            "Only one program can have a serial port open.",
            evidence,
            _os_fix(
                linux=f"close the other program; `fuser {url}` names it (ModemManager "
                "grabs new USB serial ports: `sudo systemctl stop ModemManager`)",
                mac="close the other program (a terminal, a monitoring tool); "
                f"`lsof {url}` names it",
                windows="close the other program that has the COM port open (a terminal, "
                "the inverter's PC tool); Windows never shares a COM port",
            ),
        )
    if code_ in (errno.EACCES, errno.EPERM) or "ermission" in text:
        return Finding(
            Severity.FAIL,
            PORT_PERMISSION,
            f"No permission to open {url}",
            "The port exists but this user may not use it.",
            evidence,
            _os_fix(
                linux="add yourself to the dialout group: `sudo usermod -aG dialout $USER`, "
                "then log out and back in",
                mac="use the /dev/cu.* device of the adapter, not /dev/tty.*",
                windows="close the program holding the port, or run the terminal as the user "
                "who installed the adapter's driver",
            ),
        )
    if code_ in (errno.ENOENT, errno.ENODEV, errno.ENXIO) or "No such file" in text:
        return Finding(
            Severity.FAIL,
            PORT_MISSING,
            f"There is no port {url}",
            "The adapter is not plugged in, not recognised, or appears under another name.",
            evidence,
            _os_fix(
                linux="plug the adapter in and look at `ls /dev/ttyUSB* /dev/ttyACM*` "
                "(`dmesg | tail` shows what it became)",
                mac="plug the adapter in and look at `ls /dev/cu.*`; CH340 adapters need "
                "their driver on older macOS",
                windows="plug the adapter in and look in Device Manager under "
                "'Ports (COM & LPT)' for its COM number; install the CH340/FTDI driver if "
                "it shows with a warning",
            ),
        )
    return Finding(
        Severity.FAIL,
        PORT_OPEN,
        f"{url} did not open",
        error.message,
        evidence,
        error.hint or "check the adapter and the port name",
    )


def _os_fix(*, linux: str, mac: str, windows: str) -> str:
    if sys.platform.startswith("win"):
        return windows
    if sys.platform == "darwin":
        return mac
    return linux


def _variant_text(ver: int) -> str:
    name = "PACE" if Variant.from_ver(ver) is Variant.PACE else "Pylontech"
    return f"{name} protocol (VER 0x{ver:02X})"


def _answered(
    url: str, trials: list[BaudTrial], found: _Found, options: Rs485DoctorOptions
) -> Rs485Diagnosis:
    findings: list[Finding] = []
    tried = ", ".join(str(t.baud) for t in trials)
    addresses = ", ".join(str(a) for a in found.addresses)
    if found.baud != options.expected_baud:
        silent_at = [t.baud for t in trials if t.baud != found.baud]
        findings.append(
            Finding(
                Severity.FAIL,
                WRONG_BAUD,
                f"The battery answers at {found.baud} baud, not {options.expected_baud}",
                "Its baud rate is set by the master pack's DIP switches (or its firmware); "
                "the inverter and any tool on the line must use the same rate.",
                (
                    f"baud rates tried: {tried}",
                    *(f"{b} baud: no reply" for b in silent_at),
                    f"{found.baud} baud: addresses {addresses} answered",
                ),
                f"set the inverter (and your tools) to {found.baud} baud, or set the "
                f"battery's baud switch to {options.expected_baud}",
            )
        )
    if found.garbled:
        where = ", ".join(str(a) for a in found.garbled)
        findings.append(
            Finding(
                Severity.FAIL,
                GARBLED_ADDRESS,
                f"Replies at address {where} are garbled",
                "Bytes come back at that address and never form a frame, while other "
                "addresses answer cleanly: two packs set to the same address answer at once.",
                (f"garbled at: {where}", f"clean replies at: {addresses}"),
                "check the address switches: give each pack its own address (switch the "
                "packs on one at a time to find the pair)",
            )
        )
    if found.heard.echoes:
        findings.append(_echo_finding(found.heard, answered=True))
    if found.error_replies:
        rate = found.error_replies / found.error_probes
        findings.append(
            Finding(
                Severity.WARN if rate < 0.5 else Severity.FAIL,
                CHECKSUM_ERRORS,
                f"{found.error_replies} of {found.error_probes} repeated requests failed "
                f"({100 * rate:.0f} %)",
                "Replies lost or corrupted (bad CHKSUM, cut short): a cheap or non-isolated "
                "adapter, a long cable, a missing ground, or a second master on the line.",
                (f"bad frames: {found.heard.bad_frames}, noise bytes: {found.heard.noise_bytes}",),
                "use an isolated adapter, keep the RS485 cable short and twisted, and make "
                "sure the inverter is not polling at the same time",
            )
        )
    findings.append(
        Finding(
            Severity.OK,
            LINE_OK,
            f"RS485 answers at {found.baud} baud: {_variant_text(found.ver)}, "
            f"packs at address{'es' if len(found.addresses) != 1 else ''} {addresses}",
            evidence=(f"baud rates tried: {tried}",),
        )
    )
    return Rs485Diagnosis(
        url,
        True,
        tuple(trials),
        found.baud,
        found.ver,
        found.addresses,
        found.error_probes,
        found.error_replies,
        tuple(findings),
        found.garbled,
    )


def _echo_finding(heard: HeardBytes, *, answered: bool) -> Finding:
    detail = (
        "Every request came straight back from the adapter before the reply: a two-wire "
        "adapter without echo suppression (its receiver stays on while it transmits)."
    )
    if answered:
        detail += " `active` ignores its own echo; other tools and loggers may take it for "
        detail += "the battery's reply."
    return Finding(
        Severity.WARN if answered else Severity.FAIL,
        ECHO,
        "The RS485 adapter echoes every request",
        detail,
        (f"{heard.echoes} echoed request(s)",),
        "use an adapter with automatic direction control and echo suppression",
    )


def _silent_findings(url: str, trials: list[BaudTrial]) -> tuple[Finding, ...]:
    tried = ", ".join(str(t.baud) for t in trials)
    inverted = sum(t.heard.inverted_frames for t in trials)
    received = sum(t.heard.received_bytes for t in trials)
    echoes = sum(t.heard.echoes for t in trials)
    other_bytes = received - sum(t.heard.echo_bytes for t in trials)
    bad = sum(t.heard.bad_frames for t in trials)
    samples = tuple(f"{t.baud} baud: {t.heard.sample}" for t in trials if t.heard.sample)
    findings: list[Finding] = []
    if inverted:
        findings.append(
            Finding(
                Severity.FAIL,
                SWAPPED_AB,
                "RS485 A and B are swapped",
                "Bytes come back, and they are the battery's replies with every bit inverted: "
                "what a receiver shows when the A and B wires are crossed.",
                (
                    f"{inverted} frame(s) decode once inverted",
                    f"baud rates tried: {tried}",
                    *samples[:2],
                ),
                "swap the A and B wires at the adapter (the battery's COM port: pin 1 B, "
                "pin 2 A), or re-crimp the plug",
            )
        )
    elif other_bytes > 0:
        findings.append(
            Finding(
                Severity.FAIL,
                GARBAGE,
                "Bytes arrive but never form a reply",
                "Something answers, but not in frames: the baud rate does not match the "
                "battery's, or A and B are swapped, or the adapter's ground is missing.",
                (
                    f"{received} bytes heard, {bad} broken frame(s)",
                    f"baud rates tried: {tried}",
                    *samples[:2],
                ),
                "check the battery's baud switch (9600 or 115200), then swap A and B",
            )
        )
    if echoes:
        findings.append(_echo_finding(_sum_heard(trials), answered=False))
    if not findings and received == 0 and is_gateway(url):
        findings.append(
            Finding(
                Severity.FAIL,
                GATEWAY_SILENT,
                "The gateway took the connection, and nothing ever came back",
                "A single-client gateway already serving another client (the inverter's "
                "logger, a monitoring box) accepts a second connection and never answers it; "
                "so does a gateway whose RS485 side is not wired or set to another baud rate.",
                (f"connected to {url}", f"baud rates tried: {tried}", "0 bytes received"),
                "disconnect the gateway's other client, then check its serial settings "
                "(9600 8N1) and its A/B wiring to the battery's COM port",
            )
        )
    if not findings:
        findings.append(
            Finding(
                Severity.FAIL,
                SILENT,
                "Nothing answered on RS485, at any baud rate",
                "In order of likelihood: the battery is off or asleep; the cable is in the "
                "wrong port (COM, not a link port); the plug's pinout does not match (pin 1 "
                "B, pin 2 A); A and B swapped; the battery at another address or baud rate.",
                (f"baud rates tried: {tried}", "0 bytes received"),
                "switch the master pack on, plug into its COM port, check the pinout and swap A/B",
            )
        )
    return tuple(findings)


def _sum_heard(trials: Sequence[BaudTrial]) -> HeardBytes:
    return HeardBytes(echoes=sum(t.heard.echoes for t in trials))


# ------------------------------------------------------------------ openers


@contextlib.contextmanager
def open_serial(url: str, baud: int) -> Iterator[SerialPort]:
    """The real port at `baud` (read and written by the diagnosis)."""
    from active_cli.links.capture import open_sniff_port

    port = open_sniff_port(url, baud)
    try:
        yield port
    finally:
        port.close()
