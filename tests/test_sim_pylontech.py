"""A third-party client reads the simulator: `python-pylontech` from PyPI on the pty.

`python-pylontech` was written against real Pylontech packs, not against our
codec, so it checks the simulator's frames from the outside: framing, LENGTH,
CHKSUM, field order and scaling. Its quirks (reference §5): it opens a device
path (a pty works, a ``socket://`` URL does not), reads with ``readline()``,
which waits for an LF our CR-only frames never send, so every call ends on its
timeout (set low here), and it asks for the manufacturer at ADR 0.

The site runs without CAN, so nothing but these requests moves the simulated
clock: what the stack holds right after a read is exactly what was sent.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from pylontech import Pylontech

from active_cli import spec
from active_cli.sim.site import SimulatedSite
from active_cli.sim.stack import SimPack

pytestmark = pytest.mark.skipif(os.name != "posix", reason="the pty endpoint is POSIX only")

# readline() returns only on this timeout; replies take ~15 ms at 115200 baud.
CLIENT_TIMEOUT_S = 0.3


@pytest.fixture(scope="module")
def site() -> Iterator[SimulatedSite]:
    with SimulatedSite("healthy-4", baud=115200, latency_ms=5.0, with_can=False) as running:
        yield running


@pytest.fixture(scope="module")
def client(site: SimulatedSite) -> Iterator[Any]:
    assert site.rs485_pty is not None
    pylontech = Pylontech(site.rs485_pty, 115200)
    pylontech.s.timeout = CLIENT_TIMEOUT_S
    yield pylontech
    pylontech.s.close()


def pack_at(site: SimulatedSite, address: int) -> SimPack:
    (pack,) = site.stack.packs_at(address)
    return pack


def test_analog_values_of_pack_2_equal_the_simulated_pack(site: SimulatedSite, client: Any) -> None:
    values = client.get_values_single(2)
    with site.lock:  # the stack as it was sent: only requests advance it
        expected = pack_at(site, 2).reading()
    assert values.NumberOfModule == 2
    assert values.NumberOfCells == 16
    assert tuple(values.CellVoltages) == expected.cell_voltages_v
    # python-pylontech calls the first sensor "BMS", the others "grouped cells".
    temperatures = (values.AverageBMSTemperature, *values.GroupedCellsTemperatures)
    assert temperatures == pytest.approx(expected.temperatures_c, abs=1e-9)
    assert values.Current == pytest.approx(expected.current_a)
    assert values.Voltage == pytest.approx(expected.voltage_v)
    assert values.RemainingCapacity == pytest.approx(expected.remaining_ah)
    assert values.TotalCapacity == pytest.approx(expected.full_ah)
    assert values.CycleNumber == expected.cycles


def test_analog_values_of_pack_2_are_the_scenarios(site: SimulatedSite, client: Any) -> None:
    values = client.get_values_single(2)
    pack_spec = site.scenario.packs[1]  # healthy-4: [pack.2] soc_pct = 61, 12 A charging
    assert values.Current == pytest.approx(pack_spec.current_a)
    assert values.CycleNumber == pack_spec.cycles
    # Full capacity = 314 Ah x SOH; a few seconds of 12 A barely move the SOC.
    assert values.TotalCapacity == pytest.approx(
        spec.CAPACITY_AH * pack_spec.soh_pct / 100, abs=1e-3
    )
    assert values.StateOfCharge == pytest.approx(pack_spec.soc_pct / 100, abs=0.001)
    # Pack voltage is the sum of its 16 cells (to the wire's 1 mV).
    assert values.Voltage == pytest.approx(sum(values.CellVoltages), abs=0.001)
    assert all(3.30 < v < 3.36 for v in values.CellVoltages)  # 61 % plus the 12 A IR step
    assert all(24.0 < t < 28.0 for t in values.GroupedCellsTemperatures)


def test_serial_number_is_the_scenarios(site: SimulatedSite, client: Any) -> None:
    for position, address in ((1, 1), (2, 2), (4, 4)):
        reply = client.get_module_serial_number(address)
        assert reply.CommandValue == address
        assert reply.ModuleSerialNumber.decode("ascii") == site.scenario.packs[position - 1].serial


def test_system_parameters_are_the_manuals_limits(client: Any) -> None:
    params = client.get_system_parameters(2)
    assert params.CellHighVoltageLimit == pytest.approx(spec.CELL_OVER_VOLTAGE_PROTECT_V)
    assert params.CellLowVoltageLimit == pytest.approx(spec.CELL_UNDER_VOLTAGE_ALARM_V)
    assert params.CellUnderVoltageLimit == pytest.approx(spec.CELL_UNDER_VOLTAGE_PROTECT_V)
    assert params.ChargeHighTemperatureLimit == pytest.approx(spec.CHARGE_TEMP_MAX_C)
    assert params.ChargeLowTemperatureLimit == pytest.approx(spec.CHARGE_TEMP_MIN_C)
    assert params.DischargeHighTemperatureLimit == pytest.approx(spec.DISCHARGE_TEMP_MAX_C)
    assert params.DischargeLowTemperatureLimit == pytest.approx(spec.DISCHARGE_TEMP_MIN_C)
    # The scenario's per-pack current (100 A); discharge is sent negative, as real packs do.
    assert params.ChargeCurrentLimit == pytest.approx(100.0)
    assert params.DischargeCurrentLimit == pytest.approx(-100.0)
    assert params.ModuleHighVoltageLimit == pytest.approx(16 * spec.CELL_OVER_VOLTAGE_ALARM_V)
    assert params.ModuleLowVoltageLimit == pytest.approx(16 * spec.CELL_UNDER_VOLTAGE_ALARM_V)
    assert params.ModuleUnderVoltageLimit == pytest.approx(spec.MIN_VOLTAGE_V)


def test_manufacturer_info_at_adr_0_comes_from_the_master(site: SimulatedSite, client: Any) -> None:
    info = client.get_manufacturer_info()
    master = site.scenario.packs[0]
    assert info.DeviceName.rstrip(b"\0").decode("ascii") == master.device_name
    assert list(info.SoftwareVersion) == [1, 3]  # firmware "V1.3.0"
    assert info.ManufacturerName.rstrip(b"\0").decode("ascii") == master.manufacturer


def test_group_read_at_adr_2_returns_every_pack_pylon_addressing() -> None:
    # python-pylontech's get_values() always asks ADR 2 for the whole group:
    # it works on a stack addressed the Pylontech way (master at 2).
    with SimulatedSite("pylon-addressing", baud=115200, latency_ms=5.0, with_can=False) as site:
        assert site.rs485_pty is not None
        pylontech = Pylontech(site.rs485_pty, 115200)
        pylontech.s.timeout = CLIENT_TIMEOUT_S
        try:
            values = pylontech.get_values()
        finally:
            pylontech.s.close()
        with site.lock:
            expected = [p.reading() for p in sorted(site.stack.packs, key=lambda p: p.address)]
    assert values.NumberOfModules == 3
    for module, reading in zip(values.Module, expected, strict=True):
        assert tuple(module.CellVoltages) == reading.cell_voltages_v
        assert module.Voltage == pytest.approx(reading.voltage_v)
        assert module.Current == pytest.approx(reading.current_a)
