"""Simulator scenarios: what stack to simulate, on what line, with which faults.

A scenario is a TOML file (the built-ins live in ``active_cli/sim/scenarios/``
and ship inside the wheel) read into frozen dataclasses: `Scenario`, one
`PackSpec` per pack and a `FaultSpec`. Reading is strict, because a typo in a
fault setting would otherwise simulate a healthy site and hide the very problem
the scenario is for: unknown keys, wrong types and out-of-range values raise
`DataFileError` naming the key and its line, read through
`active_cli.datafile` like every data file of `active`.
The file format is documented in docs/simulator.md.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Final, Literal, cast

from active_cli import spec
from active_cli.datafile import DataDocument, DataTable
from active_cli.datafile import describe_value as _kind
from active_cli.errors import DataFileError
from active_cli.sim.lfp import pack_rest_voltage_range_v, soc_for_pack_voltage
from active_cli.sim.line_faults import LINE_FAULTS, LineFault
from active_cli.sim.pack_facts import (
    OPEN_SENSOR_TEMP_C,
    TEMPERATURE_SENSOR_NAMES,
    default_serial,
    parse_firmware,
)

Addressing = Literal["sequential", "pylon"]
CanProfile = Literal["pylon-v1.2", "pylon-v1.3"]
Rs485Protocol = Literal["pylon", "pace"]
VoltageScale = Literal["0.01 V", "0.1 V"]
# How the master answers a whole-group read (FaultSpec.group_read).
GroupRead = Literal["all", "refused", "own-values"]
GROUP_READS: Final[tuple[GroupRead, ...]] = ("all", "refused", "own-values")

# Sequential: master at 1, slaves 2, 3, ... (PACE-style DIP addresses).
# Pylon: master at 2, slaves 3, 4, ... (how Pylontech stacks number their packs).
FIRST_ADDRESS: Final[Mapping[str, int]] = {"sequential": 1, "pylon": 2}

# 16 x 3.50 V: a usual absorption voltage for 16S LFP, below the manual's 57.6 V
# maximum and well below the 3.65 V cell protection (our choice).
DEFAULT_CHARGE_VOLTAGE_LIMIT_V: Final = 56.0
# 16 x 2.90 V: the cell under-voltage alarm, where the BMS reads 0 % SOC.
DEFAULT_DISCHARGE_VOLTAGE_LIMIT_V: Final = round(
    spec.CELLS_IN_SERIES * spec.CELL_UNDER_VOLTAGE_ALARM_V, 1
)
# Ranges are what the wire fields carry, so a scenario that loads never makes
# the simulator fail to encode a reply:
# 0x42 cycle count: u16.
MAX_CYCLES: Final = 0xFFFF
# 0x42 pack voltage is u16 mV (65.535 V): 16 cells pinned at 4095 mV still fit.
MAX_CELL_MV: Final = 0xFFFF // spec.CELLS_IN_SERIES
# PACE 0x42 capacities are u16 in 10 mAh (655.35 Ah), the narrower of the two variants.
MAX_CAPACITY_AH: Final = 655.0
# CAN 0x351 CCL/DCL are s16 in 0.1 A (3276.7 A) for the whole stack: 16 packs
# x 204.7 A fit, and so do the RS485 0x47/0x92 fields (PACE: s16 in 10 mA).
MAX_CURRENT_LIMIT_PER_PACK_A: Final = 204.7
BAUD_RATES: Final = (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200)
CAN_BITRATES: Final = (
    10_000,
    20_000,
    50_000,
    100_000,
    125_000,
    250_000,
    500_000,
    800_000,
    1_000_000,
)


def address_range(addressing: Addressing) -> range:
    """The addresses a scheme hands out to up to 16 packs: 1..16 or 2..17."""
    first = FIRST_ADDRESS[addressing]
    return range(first, first + spec.MAX_PACKS_IN_PARALLEL)


@dataclass(frozen=True)
class PackSpec:
    """How one pack starts. ``soc_pct`` is always set (derived from ``voltage_v``
    when the file gave a voltage). Files always get a serial (generated when not
    given); a PackSpec built in code with an empty ``serial`` gets one from the stack.

    ``cell_overrides_mv`` pins cells (1-based number, mV) regardless of the
    physics: that is how a faulty cell is simulated. ``temperature_overrides_c``
    pins sensors by name: "1".."4" (cell sensors), "mos", "bms".
    """

    address: int
    serial: str = ""
    firmware: str = "V1.3.0"
    soc_pct: float = 60.0
    soh_pct: float = 98.0
    temperature_c: float = 25.0
    current_a: float = 0.0
    cycles: int = 12
    cell_offsets_mv: tuple[int, ...] = ()
    cell_overrides_mv: tuple[tuple[int, int], ...] = ()
    temperature_overrides_c: tuple[tuple[str, float], ...] = ()
    voltage_v: float | None = None
    capacity_ah: float = spec.CAPACITY_AH
    device_name: str = "Active16"
    # The manual does not say what the BMS reports as manufacturer (our guess).
    manufacturer: str = "Active"


@dataclass(frozen=True)
class FaultSpec:
    """Faults of the line and of the site (pack faults live in each PackSpec).

    ``duplicate_addresses``: addresses two or more packs answer at.
    ``stop_answering``: (address, N): that pack answers N requests, then none.
    ``noise_rate``: probability per RS485 reply of 1..``noise_max_bytes`` random
    bytes before or inside it. ``checksum_error_rate``: probability per reply of
    a wrong CHKSUM. ``silent_inverter``: the inverter is wired but never sends
    0x305. ``wrong_bitrate``: the battery talks at a bitrate the listener does
    not use, so no CAN frame arrives. ``group_read``: how the master answers a
    whole-group read (0x42/0x44 with INFO FF): "all" (every pack), "refused"
    (RTN 90, as for a pack it does not know) or "own-values" (its own block only).
    """

    duplicate_addresses: tuple[int, ...] = ()
    stop_answering: tuple[tuple[int, int], ...] = ()
    noise_rate: float = 0.0
    noise_max_bytes: int = 8
    checksum_error_rate: float = 0.0
    silent_inverter: bool = False
    wrong_bitrate: bool = False
    # The wiring between the adapter and the packs (`sim/line_faults.py`).
    line: LineFault = "none"
    can_termination_missing: bool = False
    group_read: GroupRead = "all"


@dataclass(frozen=True)
class Scenario:
    """A whole simulated site: the packs, the RS485 line, the CAN bus, the inverter."""

    name: str
    packs: tuple[PackSpec, ...]
    description: str = ""
    addressing: Addressing = "sequential"
    baud: int = 9600
    latency_ms: float = 20.0
    rs485_protocol: Rs485Protocol = "pylon"
    can_bitrate: int = 500_000
    can_profile: CanProfile = "pylon-v1.2"
    can_pad_to_8: bool = False
    can_manufacturer: str = "PYLON"
    can_voltage_scale: VoltageScale = "0.01 V"
    inverter_present: bool = True
    heartbeat_period_s: float = 1.0
    inverter_follows_limits: bool = True
    charge_voltage_limit_v: float = DEFAULT_CHARGE_VOLTAGE_LIMIT_V
    discharge_voltage_limit_v: float = DEFAULT_DISCHARGE_VOLTAGE_LIMIT_V
    charge_current_per_pack_a: float = spec.RECOMMENDED_CONTINUOUS_CURRENT_A
    discharge_current_per_pack_a: float = spec.RECOMMENDED_CONTINUOUS_CURRENT_A
    seed: int = 0
    faults: FaultSpec = field(default_factory=FaultSpec)
    source: str = ""
    # [power]: whether the packs and the inverter are switched on when the site
    # starts (a commissioning rehearsal starts with everything off).
    packs_start_on: bool = True
    inverter_start_on: bool = True
    # [inverter] rs485_master: the inverter reads the battery over RS485 and
    # polls it itself, one request every rs485_poll_period_s (`sim/rs485_master.py`).
    inverter_polls_rs485: bool = False
    rs485_poll_period_s: float = 0.5

    def __post_init__(self) -> None:
        if not 1 <= len(self.packs) <= spec.MAX_PACKS_IN_PARALLEL:
            raise ValueError(f"a scenario has 1..16 packs, not {len(self.packs)}")

    @property
    def master_address(self) -> int:
        return self.packs[0].address


# --- finding scenarios ------------------------------------------------------------


def _builtin_folder() -> Traversable:
    return resources.files("active_cli.sim") / "scenarios"


def builtin_scenario_names() -> list[str]:
    """Names of the scenarios shipped with `active` (file stems), sorted."""
    return sorted(
        entry.name.removesuffix(".toml")
        for entry in _builtin_folder().iterdir()
        if entry.name.endswith(".toml")
    )


def load_scenario(name_or_path: str | Path) -> Scenario:
    """Load a built-in scenario by name, or a scenario file by path.

    A plain name without a folder or ``.toml`` that matches a built-in wins
    over a file of that name in the current folder.
    """
    text_name = str(name_or_path)
    looks_like_path = isinstance(name_or_path, Path) or any(
        c in text_name for c in ("/", "\\", ".")
    )
    if not looks_like_path and text_name in builtin_scenario_names():
        resource = _builtin_folder() / f"{text_name}.toml"
        return _from_document(DataDocument.read(resource, what="scenario"), text_name)
    path = Path(name_or_path)
    if not path.is_file():
        names = ", ".join(builtin_scenario_names())
        raise DataFileError(
            text_name,
            "no such scenario file, and no built-in scenario of that name",
            hint=f"built-in scenarios: {names}",
        )
    return _from_document(DataDocument.read(path, what="scenario"), path.stem)


# --- parsing ------------------------------------------------------------------------

_TOP_KEYS: Final = (
    "name",
    "description",
    "seed",
    "addressing",
    "packs",
    "rs485",
    "can",
    "inverter",
    "bms",
    "defaults",
    "pack",
    "faults",
    "power",
)
_PACK_KEYS: Final = (
    "address",
    "serial",
    "firmware",
    "soc_pct",
    "voltage_v",
    "soh_pct",
    "temperature_c",
    "current_a",
    "cycles",
    "cell_offsets_mv",
    "cells_mv",
    "temperatures_c",
    "capacity_ah",
    "device_name",
    "manufacturer",
)
# Every pack's own: copying them to all packs would make every pack collide.
_DEFAULTS_KEYS: Final = tuple(k for k in _PACK_KEYS if k not in ("address", "serial"))


def parse_scenario(text: str, *, source: str = "<scenario>", default_name: str = "") -> Scenario:
    """Parse scenario TOML text; `source` names it in errors."""
    return _from_document(DataDocument.parse(text, source=source, what="scenario"), default_name)


def _from_document(document: DataDocument, default_name: str) -> Scenario:
    return _Parser(_Doc(document)).scenario(document.data, default_name)


@dataclass
class _PackDraft:
    """A pack's settings while the file is read (defaults, then its own table)."""

    address: int | None = None
    serial: str = ""
    firmware: str = PackSpec.firmware
    soc_pct: float = PackSpec.soc_pct
    voltage_v: float | None = None
    soh_pct: float = PackSpec.soh_pct
    temperature_c: float = PackSpec.temperature_c
    current_a: float = PackSpec.current_a
    cycles: int = PackSpec.cycles
    cell_offsets_mv: tuple[int, ...] = ()
    cells_mv: dict[int, int] = field(default_factory=dict)
    temperatures_c: dict[str, float] = field(default_factory=dict)
    capacity_ah: float = PackSpec.capacity_ah
    device_name: str = PackSpec.device_name
    manufacturer: str = PackSpec.manufacturer

    def copy(self) -> _PackDraft:
        return replace(self, cells_mv=dict(self.cells_mv), temperatures_c=dict(self.temperatures_c))


class _Parser:
    """Reads the parsed TOML dict section by section, validating as it goes."""

    def __init__(self, doc: _Doc) -> None:
        self.doc = doc
        self.explicit_addresses: set[int] = set()  # positions whose table sets address

    def scenario(self, data: Mapping[str, object], default_name: str) -> Scenario:
        d = self.doc
        d.check_keys(data, "", _TOP_KEYS)
        name = d.get_str(data, "", "name", default_name or "scenario", max_len=64)
        description = d.get_str(data, "", "description", "", max_len=2000, ascii_only=False)
        seed = d.get_int(data, "", "seed", 0, 0, 2**32 - 1)
        addressing = cast(
            Addressing,
            d.get_choice(data, "", "addressing", "sequential", ("sequential", "pylon")),
        )

        rs485 = d.table(data, "", "rs485")
        d.check_keys(rs485, "rs485", ("baud", "latency_ms", "protocol"))
        can = d.table(data, "", "can")
        d.check_keys(
            can,
            "can",
            ("bitrate", "profile", "pad_to_8", "manufacturer", "voltage_scale", "termination"),
        )
        inverter = d.table(data, "", "inverter")
        d.check_keys(
            inverter,
            "inverter",
            (
                "present",
                "heartbeat_period_s",
                "follows_limits",
                "rs485_master",
                "rs485_poll_period_s",
            ),
        )
        bms = d.table(data, "", "bms")
        bms_keys = (
            "charge_voltage_limit_v",
            "discharge_voltage_limit_v",
            "charge_current_per_pack_a",
            "discharge_current_per_pack_a",
        )
        d.check_keys(bms, "bms", bms_keys)
        power = d.table(data, "", "power")
        d.check_keys(power, "power", ("packs", "inverter"))

        packs = self.packs(data, addressing, seed)
        faults, packs = self.faults(data, packs, addressing)
        if d.get_choice(can, "can", "termination", "ok", ("ok", "missing")) == "missing":
            faults = replace(faults, can_termination_missing=True)

        cvl = d.get_float(
            bms, "bms", "charge_voltage_limit_v", DEFAULT_CHARGE_VOLTAGE_LIMIT_V, 40.0, 65.0
        )
        dvl = d.get_float(
            bms, "bms", "discharge_voltage_limit_v", DEFAULT_DISCHARGE_VOLTAGE_LIMIT_V, 40.0, 60.0
        )
        if dvl >= cvl:
            raise d.error(
                "bms.discharge_voltage_limit_v",
                f"discharge voltage limit {dvl} V must be below the charge voltage limit {cvl} V",
            )
        per_pack = spec.RECOMMENDED_CONTINUOUS_CURRENT_A
        return Scenario(
            name=name,
            description=description,
            packs=packs,
            addressing=addressing,
            baud=d.get_int_choice(rs485, "rs485", "baud", 9600, BAUD_RATES),
            latency_ms=d.get_float(rs485, "rs485", "latency_ms", 20.0, 0.0, 10_000.0),
            rs485_protocol=cast(
                Rs485Protocol, d.get_choice(rs485, "rs485", "protocol", "pylon", ("pylon", "pace"))
            ),
            can_bitrate=d.get_int_choice(can, "can", "bitrate", 500_000, CAN_BITRATES),
            can_profile=cast(
                CanProfile,
                d.get_choice(can, "can", "profile", "pylon-v1.2", ("pylon-v1.2", "pylon-v1.3")),
            ),
            can_pad_to_8=d.get_bool(can, "can", "pad_to_8", False),
            can_manufacturer=d.get_str(can, "can", "manufacturer", "PYLON", max_len=8),
            can_voltage_scale=cast(
                VoltageScale,
                d.get_choice(can, "can", "voltage_scale", "0.01 V", ("0.01 V", "0.1 V")),
            ),
            inverter_present=d.get_bool(inverter, "inverter", "present", True),
            heartbeat_period_s=d.get_float(
                inverter, "inverter", "heartbeat_period_s", 1.0, 0.05, 60.0
            ),
            inverter_follows_limits=d.get_bool(inverter, "inverter", "follows_limits", True),
            charge_voltage_limit_v=cvl,
            discharge_voltage_limit_v=dvl,
            charge_current_per_pack_a=d.get_float(
                bms, "bms", "charge_current_per_pack_a", per_pack, 0.0, MAX_CURRENT_LIMIT_PER_PACK_A
            ),
            discharge_current_per_pack_a=d.get_float(
                bms,
                "bms",
                "discharge_current_per_pack_a",
                per_pack,
                0.0,
                MAX_CURRENT_LIMIT_PER_PACK_A,
            ),
            seed=seed,
            faults=faults,
            source=d.source,
            packs_start_on=d.get_choice(power, "power", "packs", "on", ("on", "off")) == "on",
            inverter_start_on=d.get_choice(power, "power", "inverter", "on", ("on", "off")) == "on",
            inverter_polls_rs485=d.get_bool(inverter, "inverter", "rs485_master", False),
            rs485_poll_period_s=d.get_float(
                inverter, "inverter", "rs485_poll_period_s", 0.5, 0.02, 60.0
            ),
        )

    # --- packs -------------------------------------------------------------------
    def packs(
        self, data: Mapping[str, object], addressing: Addressing, seed: int
    ) -> tuple[PackSpec, ...]:
        d = self.doc
        tables = d.table(data, "", "pack")
        positions: dict[int, Mapping[str, object]] = {}
        for key, value in tables.items():
            where = f"pack.{key}"
            if not key.isdigit() or not 1 <= int(key) <= spec.MAX_PACKS_IN_PARALLEL:
                raise d.error(
                    where,
                    f"pack tables are numbered by position 1..16 ([pack.1] is the master), "
                    f"not {key!r}",
                )
            if not isinstance(value, dict):
                raise d.error(where, f"expected a table ([{where}]), got {_kind(value)}")
            positions[int(key)] = value
        highest = max(positions, default=1)
        count = d.get_int(data, "", "packs", highest, 1, spec.MAX_PACKS_IN_PARALLEL)
        if highest > count:
            raise d.error(f"pack.{highest}", f"pack {highest} is set but packs = {count}")

        base = _PackDraft()
        defaults = d.table(data, "", "defaults")
        self.apply(base, defaults, "defaults", _DEFAULTS_KEYS, addressing)

        first = FIRST_ADDRESS[addressing]
        specs: list[PackSpec] = []
        for position in range(1, count + 1):
            draft = base.copy()
            table = positions.get(position, {})
            self.apply(draft, table, f"pack.{position}", _PACK_KEYS, addressing)
            if "address" in table:
                self.explicit_addresses.add(position)
            if not draft.serial:
                draft.serial = default_serial(position, seed)
            specs.append(self.finish(draft, position, first))
        return tuple(specs)

    def apply(
        self,
        draft: _PackDraft,
        table: Mapping[str, object],
        prefix: str,
        known: tuple[str, ...],
        addressing: Addressing,
    ) -> None:
        d = self.doc
        d.check_keys(table, prefix, known)
        if "soc_pct" in table and "voltage_v" in table:
            raise d.error(f"{prefix}.voltage_v", "set soc_pct or voltage_v for a pack, not both")
        if "address" in table:
            valid = address_range(addressing)
            draft.address = d.get_int(table, prefix, "address", 0, valid.start, valid.stop - 1)
        if "serial" in table:
            draft.serial = d.get_str(table, prefix, "serial", "", max_len=16, min_len=1)
        if "firmware" in table:
            draft.firmware = d.get_str(table, prefix, "firmware", "", max_len=16, min_len=1)
            try:
                parse_firmware(draft.firmware)
            except ValueError as e:
                raise d.error(f"{prefix}.firmware", str(e)) from e
        if "soc_pct" in table:
            draft.soc_pct = d.get_float(table, prefix, "soc_pct", 0.0, 0.0, 100.0)
            draft.voltage_v = None
        if "voltage_v" in table:
            low, high = pack_rest_voltage_range_v()
            draft.voltage_v = d.get_float(table, prefix, "voltage_v", 0.0, low, high)
        if "soh_pct" in table:
            draft.soh_pct = d.get_float(table, prefix, "soh_pct", 0.0, 1.0, 100.0)
        if "temperature_c" in table:
            draft.temperature_c = d.get_float(table, prefix, "temperature_c", 0.0, -40.0, 120.0)
        if "current_a" in table:
            draft.current_a = d.get_float(table, prefix, "current_a", 0.0, -1000.0, 1000.0)
        if "cycles" in table:
            draft.cycles = d.get_int(table, prefix, "cycles", 0, 0, MAX_CYCLES)
        if "capacity_ah" in table:
            draft.capacity_ah = d.get_float(table, prefix, "capacity_ah", 0.0, 1.0, MAX_CAPACITY_AH)
        if "device_name" in table:
            draft.device_name = d.get_str(table, prefix, "device_name", "", max_len=10, min_len=1)
        if "manufacturer" in table:
            draft.manufacturer = d.get_str(table, prefix, "manufacturer", "", max_len=20, min_len=1)
        if "cell_offsets_mv" in table:
            draft.cell_offsets_mv = self.offsets(
                table["cell_offsets_mv"], f"{prefix}.cell_offsets_mv"
            )
        if "cells_mv" in table:
            draft.cells_mv.update(self.cells(table, prefix))
        if "temperatures_c" in table:
            draft.temperatures_c.update(self.temperatures(table, prefix))

    def offsets(self, value: object, key: str) -> tuple[int, ...]:
        d = self.doc
        n = spec.CELLS_IN_SERIES
        if not isinstance(value, list) or len(value) != n:
            got = f"{len(value)} entries" if isinstance(value, list) else _kind(value)
            raise d.error(key, f"expected an array of {n} integers (mV, one per cell), got {got}")
        out: list[int] = []
        for i, item in enumerate(value):
            if not isinstance(item, int) or isinstance(item, bool):
                raise d.error(f"{key}[{i}]", f"expected an integer (mV), got {_kind(item)}")
            if not -500 <= item <= 500:
                raise d.error(f"{key}[{i}]", f"must be between -500 and 500 mV, got {item}")
            out.append(item)
        return tuple(out)

    def cells(self, table: Mapping[str, object], prefix: str) -> dict[int, int]:
        d = self.doc
        cells = d.table(table, prefix, "cells_mv")
        out: dict[int, int] = {}
        for cell, _ in cells.items():
            key = f"{prefix}.cells_mv.{cell}"
            if not cell.isdigit() or not 1 <= int(cell) <= spec.CELLS_IN_SERIES:
                raise d.error(key, f"cells are numbered 1..16, not {cell!r}")
            out[int(cell)] = d.get_int(cells, f"{prefix}.cells_mv", cell, 0, 0, MAX_CELL_MV)
        return out

    def temperatures(self, table: Mapping[str, object], prefix: str) -> dict[str, float]:
        d = self.doc
        temps = d.table(table, prefix, "temperatures_c")
        d.check_keys(temps, f"{prefix}.temperatures_c", TEMPERATURE_SENSOR_NAMES)
        out: dict[str, float] = {}
        for sensor, value in temps.items():
            if value == "open":
                out[sensor] = OPEN_SENSOR_TEMP_C
            elif isinstance(value, str):
                raise d.error(
                    f"{prefix}.temperatures_c.{sensor}",
                    f'expected a temperature in C or "open", got {value!r}',
                )
            else:
                out[sensor] = d.get_float(
                    temps, f"{prefix}.temperatures_c", sensor, 0.0, -40.0, 150.0
                )
        return out

    def finish(self, draft: _PackDraft, position: int, first_address: int) -> PackSpec:
        soc = draft.soc_pct
        if draft.voltage_v is not None:
            soc = round(soc_for_pack_voltage(draft.voltage_v, draft.cell_offsets_mv), 2)
        address = draft.address if draft.address is not None else first_address + position - 1
        return PackSpec(
            address=address,
            serial=draft.serial,
            firmware=draft.firmware,
            soc_pct=soc,
            soh_pct=draft.soh_pct,
            temperature_c=draft.temperature_c,
            current_a=draft.current_a,
            cycles=draft.cycles,
            cell_offsets_mv=draft.cell_offsets_mv,
            cell_overrides_mv=tuple(sorted(draft.cells_mv.items())),
            temperature_overrides_c=tuple(
                (n, draft.temperatures_c[n])
                for n in TEMPERATURE_SENSOR_NAMES
                if n in draft.temperatures_c
            ),
            voltage_v=draft.voltage_v,
            capacity_ah=draft.capacity_ah,
            device_name=draft.device_name,
            manufacturer=draft.manufacturer,
        )

    # --- faults -------------------------------------------------------------------
    def faults(
        self, data: Mapping[str, object], packs: tuple[PackSpec, ...], addressing: Addressing
    ) -> tuple[FaultSpec, tuple[PackSpec, ...]]:
        """Read [faults]; apply duplicate addresses to the packs and check addresses."""
        d = self.doc
        faults = d.table(data, "", "faults")
        d.check_keys(
            faults,
            "faults",
            (
                "duplicate_addresses",
                "stop_answering",
                "noise_rate",
                "noise_max_bytes",
                "checksum_error_rate",
                "silent_inverter",
                "wrong_bitrate",
                "line",
                "group_read",
            ),
        )
        valid = address_range(addressing)
        duplicates = self.address_list(faults, "faults.duplicate_addresses", valid)
        pack_list = list(packs)
        for j, address in enumerate(duplicates):
            key = f"faults.duplicate_addresses[{j}]"
            at = [i for i, p in enumerate(pack_list) if p.address == address]
            if not at:
                raise d.error(key, f"no pack is at address {address}")
            if len(at) >= 2:
                continue  # the file already gives two packs this address
            # As an installer would: the next pack in the chain set to the same
            # address as its neighbour.
            nxt = at[0] + 1
            if nxt >= len(pack_list) or nxt + 1 in self.explicit_addresses:
                raise d.error(
                    key,
                    f"no pack after the one at address {address} to share it; "
                    f"set pack.N.address = {address} on the pack that should",
                )
            pack_list[nxt] = replace(pack_list[nxt], address=address)
        self.check_unique(pack_list, duplicates)

        stop: list[tuple[int, int]] = []
        entries = faults.get("stop_answering", [])
        if not isinstance(entries, list):
            raise d.error(
                "faults.stop_answering", f"expected an array of tables, got {_kind(entries)}"
            )
        addresses = {p.address for p in pack_list}
        for j, entry in enumerate(entries):
            key = f"faults.stop_answering[{j}]"
            if not isinstance(entry, dict):
                raise d.error(
                    key,
                    f"expected a table like {{ address = 3, after_requests = 5 }}, got {_kind(entry)}",  # noqa: E501
                )
            d.check_keys(entry, key, ("address", "after_requests"))
            if "address" not in entry or "after_requests" not in entry:
                raise d.error(key, "needs both address and after_requests")
            address = d.get_int(entry, key, "address", 0, valid.start, valid.stop - 1)
            if address not in addresses:
                raise d.error(f"{key}.address", f"no pack is at address {address}")
            stop.append((address, d.get_int(entry, key, "after_requests", 0, 0, 1_000_000)))

        spec_out = FaultSpec(
            duplicate_addresses=duplicates,
            stop_answering=tuple(stop),
            noise_rate=d.get_float(faults, "faults", "noise_rate", 0.0, 0.0, 1.0),
            noise_max_bytes=d.get_int(faults, "faults", "noise_max_bytes", 8, 1, 64),
            checksum_error_rate=d.get_float(faults, "faults", "checksum_error_rate", 0.0, 0.0, 1.0),
            silent_inverter=d.get_bool(faults, "faults", "silent_inverter", False),
            wrong_bitrate=d.get_bool(faults, "faults", "wrong_bitrate", False),
            line=cast(LineFault, d.get_choice(faults, "faults", "line", "none", LINE_FAULTS)),
            group_read=cast(
                GroupRead, d.get_choice(faults, "faults", "group_read", "all", GROUP_READS)
            ),
        )
        return spec_out, tuple(pack_list)

    def address_list(self, table: Mapping[str, object], key: str, valid: range) -> tuple[int, ...]:
        d = self.doc
        value = table.get(key.rsplit(".", 1)[1], [])
        if not isinstance(value, list):
            raise d.error(key, f"expected an array of addresses, got {_kind(value)}")
        out: list[int] = []
        for j, item in enumerate(value):
            if not isinstance(item, int) or isinstance(item, bool):
                raise d.error(f"{key}[{j}]", f"expected an integer address, got {_kind(item)}")
            if item not in valid:
                raise d.error(
                    f"{key}[{j}]",
                    f"address {item} is outside {valid.start}..{valid.stop - 1} "
                    "for this addressing",
                )
            if item in out:
                raise d.error(f"{key}[{j}]", f"address {item} is listed twice")
            out.append(item)
        return tuple(out)

    def check_unique(self, packs: list[PackSpec], allowed: tuple[int, ...]) -> None:
        seen: dict[int, int] = {}
        for i, p in enumerate(packs, start=1):
            if p.address in seen and p.address not in allowed:
                key = f"pack.{i}.address"
                if i not in self.explicit_addresses:
                    key = f"pack.{seen[p.address]}.address"
                raise self.doc.error(
                    key,
                    f"address {p.address} is used by packs {seen[p.address]} and {i}; give each "
                    "pack its own address, or list it in faults.duplicate_addresses to simulate "
                    "that fault",
                )
            seen.setdefault(p.address, i)


# --- validation helpers ---------------------------------------------------------


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


class _Doc:
    """The file being read, through `active_cli.datafile`: its name, the line of every
    key and the one wording of every error. The parser walks the parsed tables and
    asks here for each value by (table, its dotted prefix, key)."""

    def __init__(self, document: DataDocument) -> None:
        self.document = document
        self.source = document.source

    def _at(self, table: Mapping[str, object], prefix: str) -> DataTable:
        return DataTable(self.document, prefix, table)

    def error(self, key: str, reason: str, hint: str | None = None) -> DataFileError:
        return self.document.error(key, reason, hint)

    def check_keys(self, table: Mapping[str, object], prefix: str, known: Collection[str]) -> None:
        self._at(table, prefix).check_keys(known)

    def table(self, table: Mapping[str, object], prefix: str, name: str) -> dict[str, object]:
        value = table.get(name, {})
        if not isinstance(value, dict):
            raise self.error(_join(prefix, name), f"expected a table, got {_kind(value)}")
        return value

    def get_int(
        self, table: Mapping[str, object], prefix: str, name: str, default: int, lo: int, hi: int
    ) -> int:
        return self._at(table, prefix).get_int(name, default, min=lo, max=hi)

    def get_int_choice(
        self,
        table: Mapping[str, object],
        prefix: str,
        name: str,
        default: int,
        choices: tuple[int, ...],
    ) -> int:
        return self._at(table, prefix).get_int(name, default, choices=choices)

    def get_float(
        self,
        table: Mapping[str, object],
        prefix: str,
        name: str,
        default: float,
        lo: float,
        hi: float,
    ) -> float:
        return self._at(table, prefix).get_float(name, default, min=lo, max=hi)

    def get_bool(self, table: Mapping[str, object], prefix: str, name: str, default: bool) -> bool:
        return self._at(table, prefix).get_bool(name, default)

    def get_str(
        self,
        table: Mapping[str, object],
        prefix: str,
        name: str,
        default: str,
        *,
        max_len: int,
        min_len: int = 0,
        ascii_only: bool = True,
    ) -> str:
        # ASCII by default: these strings go on the wire (RS485 0x51/0x93, CAN 0x35E).
        return self._at(table, prefix).get_str(
            name, default, min_len=min_len, max_len=max_len, ascii_only=ascii_only
        )

    def get_choice(
        self,
        table: Mapping[str, object],
        prefix: str,
        name: str,
        default: str,
        choices: tuple[str, ...],
    ) -> str:
        return self._at(table, prefix).get_str(name, default, choices=choices)
