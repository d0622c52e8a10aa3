"""The one error tree of `active`.

::

    ActiveError                       anything `active` reports as one line
     +-- DecodeError (ValueError)     a frame or value that does not parse
     +-- DataFileError (ValueError)   a scenario, profile, session or checklist file
     +-- UsageError                   options that contradict each other
     +-- LinkError (OSError)          a port or bus could not be opened or used
     |    +-- LinkTimeout (TimeoutError)   nothing (complete) arrived in time
     +-- OutputError (OSError)        a file `active` writes (session, ticket) cannot be written
     +-- PdfEngineError               WeasyPrint cannot run here (no Pango); HTML still written

Each class knows the exit code the CLI uses for it (DESIGN.md "Findings and
exit codes") and may carry a hint for the installer. Library errors are
wrapped with ``raise ... from e`` so ``--debug`` still shows the cause.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_USAGE = 2
EXIT_NO_REPLY = 3
EXIT_BAD_DATA = 4
EXIT_OUTPUT = 5  # could not write a file: the data is fine, the disk is not
EXIT_NO_PDF_ENGINE = 6  # the ticket's HTML was written, its PDF could not be made here


class ActiveError(Exception):
    """Base of every error `active` reports to the installer as one line."""

    exit_code = EXIT_BAD_DATA

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class DecodeError(ActiveError, ValueError):
    """Bytes or text that are not a valid frame.

    ``reason`` says exactly what is wrong ("bad CHKSUM: got FD34, computed FD33");
    ``frame`` is the offending input when there is one.
    """

    exit_code = EXIT_BAD_DATA

    def __init__(
        self,
        reason: str,
        *,
        frame: bytes | str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(reason, hint=hint)
        self.reason = reason
        self.frame = frame


class DataFileError(ActiveError, ValueError):
    """A data file (scenario, inverter profile, session, checklist) is unusable."""

    exit_code = EXIT_BAD_DATA

    def __init__(
        self,
        path: str,
        reason: str,
        *,
        key: str | None = None,
        line: int | None = None,
        hint: str | None = None,
    ) -> None:
        where = path
        if line is not None:
            where += f", line {line}"
        if key is not None:
            where += f", key {key!r}"
        super().__init__(f"{where}: {reason}", hint=hint)
        self.path = path
        self.key = key
        self.line = line
        self.reason = reason


class UsageError(ActiveError):
    """Command-line options that cannot work together."""

    exit_code = EXIT_USAGE


class LinkError(ActiveError, OSError):
    """A serial port, gateway or CAN bus could not be opened or used."""

    exit_code = EXIT_NO_REPLY


class LinkTimeout(LinkError, TimeoutError):
    """The device did not answer (completely) within its time budget."""


class OutputError(ActiveError, OSError):
    """A file `active` writes (a session record, a ticket) could not be written."""

    exit_code = EXIT_OUTPUT

    def __init__(self, path: object, reason: str, *, hint: str | None = None) -> None:
        super().__init__(
            f"could not write {path}: {reason}",
            hint=hint or "free some space or choose another folder, then run the command again",
        )
        self.path = str(path)
        self.reason = reason


class PdfEngineError(ActiveError):
    """The PDF engine (WeasyPrint and the Pango library it needs) cannot run on this machine."""

    exit_code = EXIT_NO_PDF_ENGINE
