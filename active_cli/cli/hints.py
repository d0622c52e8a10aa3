"""Option names for the fixes checks give in site terms.

A check says what to do on site ("poll more addresses", "try the other baud
rate"); only the CLI knows which option does that, so it adds the option here
(`with_options`) where it prints a fix as a hint or in a table.
"""

from __future__ import annotations

from active_cli.model import Finding

# Finding code -> how to do its fix with this command line.
OPTION_HINTS: dict[str, str] = {}


def with_options(finding: Finding) -> str:
    """`finding.fix`, followed by the options that carry it out (when there are any)."""
    extra = OPTION_HINTS.get(finding.code)
    if not extra:
        return finding.fix
    return f"{finding.fix} ({extra})" if finding.fix else extra
