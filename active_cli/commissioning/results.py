"""What a step hands back, and the finding codes commissioning adds of its own.

The checks' own codes (``parallel.*``, ``scan.*``, ``protocol.*``) travel
unchanged inside step results; these are the ones only a guided power-on can
see: a pack that joins at a taken address, one that never appears, an
inverter that never shows itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from active_cli.model import Finding, Severity, worst

MIXED_FIRMWARE = "commission.mixed-firmware"
MIXED_MODEL = "commission.mixed-model"
SAME_ADDRESS_UNLINKED = "commission.same-address"
PACK_NOT_READ = "commission.pack-not-read"
SINGLE_PACK = "commission.single-pack"
PACK_MISSING = "commission.pack-missing"
ADDRESS_TAKEN = "commission.address-taken"
SERIAL_SEEN = "commission.serial-seen"
MASTER_COUNT = "commission.master-count"
JOINED = "commission.joined"
NOT_JOINED_PACK = "commission.not-in-scan"
INVERTER_SETTING = "commission.inverter-setting"
INVERTER_SILENT = "commission.inverter-silent"
INVERTER_SEEN = "commission.inverter-seen"
INVERTER_UNVERIFIED = "commission.inverter-unverified"
DISPLAY = "commission.inverter-display"
WIRING_CONFIRMED = "commission.wiring-confirmed"
SITE = "commission.site"
LINK_LOST = "commission.link-lost"


@dataclass(frozen=True)
class StepResult:
    """What one step measured and concluded."""

    findings: tuple[Finding, ...] = ()
    evidence: tuple[str, ...] = ()
    answers: tuple[tuple[str, str], ...] = ()
    skipped: str | None = None  # the reason, when the installer skipped the step

    @property
    def severity(self) -> Severity:
        return worst(self.findings)


def finding(
    severity: Severity,
    code: str,
    title: str,
    *,
    detail: str = "",
    evidence: tuple[str, ...] = (),
    fix: str = "",
) -> Finding:
    return Finding(severity, code, title, detail, evidence, fix)
