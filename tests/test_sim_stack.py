"""The simulated stack: LFP physics, derived alarms, and the master's aggregate.

Numbers in the aggregation and derating tests are worked out by hand in the
comments next to them (per-pack limit 100 A, derating bands 5 C and 10 %).
"""

from __future__ import annotations

from dataclasses import replace
from itertools import pairwise
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from active_cli import spec
from active_cli.model import ChargeLimits
from active_cli.sim.lfp import LFP_OCV_CURVE, ocv_v, soc_for_pack_voltage, soc_from_ocv
from active_cli.sim.pack_facts import default_serial, parse_firmware
from active_cli.sim.scenario import FaultSpec, PackSpec, Scenario, load_scenario
from active_cli.sim.stack import (
    CAN_ALARM_NAMES,
    CAN_PROTECTION_NAMES,
    CELL_RESISTANCE_OHM,
    PACK_ALARM_NAMES,
    PACK_PROTECTION_NAMES,
    SimPack,
    SimStack,
)

ZERO_OFFSETS = (0,) * 16


def pack(address: int = 1, **fields: Any) -> PackSpec:
    """A pack with no random cell offsets, so its voltages can be computed by hand."""
    base = PackSpec(address=address, cell_offsets_mv=ZERO_OFFSETS)
    return replace(base, **fields)


def all_sensors(temp_c: float) -> tuple[tuple[str, float], ...]:
    return tuple((name, temp_c) for name in ("1", "2", "3", "4"))


def stack(*packs: PackSpec, **scenario_fields: Any) -> SimStack:
    scenario = Scenario(name="test", packs=packs)
    return SimStack.from_scenario(replace(scenario, **scenario_fields))


def one(**fields: Any) -> SimPack:
    return stack(pack(**fields)).master


# --- the OCV curve ------------------------------------------------------------------


def test_ocv_table_is_strictly_increasing() -> None:
    socs = [p[0] for p in LFP_OCV_CURVE]
    volts = [p[1] for p in LFP_OCV_CURVE]
    assert socs[0] == 0.0 and socs[-1] == 100.0
    assert all(a < b for a, b in pairwise(socs))
    assert all(a < b for a, b in pairwise(volts))


@given(st.floats(-10, 110), st.floats(-10, 110))
def test_ocv_is_monotonic(a: float, b: float) -> None:
    if a < b:
        assert ocv_v(a) <= ocv_v(b)
    assert 2.9 <= ocv_v(a) <= 3.45


def test_ocv_is_steep_at_the_ends_and_flat_in_between() -> None:
    slope_low = (ocv_v(10) - ocv_v(0)) / 10  # V per % SOC
    slope_mid = (ocv_v(90) - ocv_v(20)) / 70
    slope_high = (ocv_v(100) - ocv_v(95)) / 5
    assert slope_low > 10 * slope_mid
    assert slope_high > 10 * slope_mid
    for soc in range(15, 96, 5):
        assert 3.25 <= ocv_v(soc) <= 3.35, soc
    assert ocv_v(60) == pytest.approx(3.315)


@given(st.floats(0, 100))
def test_soc_from_ocv_inverts_ocv(soc: float) -> None:
    assert soc_from_ocv(ocv_v(soc)) == pytest.approx(soc, abs=1e-6)


def test_soc_for_pack_voltage_takes_offsets_off() -> None:
    # 16 x 3.305 V = 52.88 V is 50 %; +16 mV of offsets means 52.896 V is 50 % too.
    assert soc_for_pack_voltage(52.88) == pytest.approx(50.0)
    assert soc_for_pack_voltage(52.896, (1,) * 16) == pytest.approx(50.0)


# --- a pack at rest -----------------------------------------------------------------


def test_defaults_look_like_a_real_pack() -> None:
    sim = SimStack.from_scenario(load_scenario("healthy-4"))
    serials = [p.serial for p in sim.packs]
    assert len(set(serials)) == 4
    for p in sim.packs:
        assert p.serial.startswith("ACT16") and len(p.serial) == 16
        assert len(p.cells_mv) == 16
        assert all(3290 <= mv <= 3340 for mv in p.cells_mv), p.cells_mv
        assert 0 < p.cell_spread_mv <= 20
        assert all(24.0 <= t <= 26.0 for t in p.temperatures_c)
        assert p.full_ah == pytest.approx(spec.CAPACITY_AH * 0.98)
        assert p.protections == () and p.alarms == ()
        assert p.charge_enable and p.discharge_enable


def test_pack_voltage_is_the_sum_of_cells() -> None:
    p = one(soc_pct=60.0, cell_offsets_mv=tuple(range(-8, 8)))
    assert p.voltage_v == pytest.approx(sum(p.cells_mv) / 1000)
    # 16 x 3315 mV + (-8 + ... + 7 = -8) mV
    assert p.cells_mv[0] == 3315 - 8 and p.cells_mv[15] == 3315 + 7
    assert p.voltage_v == pytest.approx(53.040 - 0.008)


def test_reading_matches_the_pack() -> None:
    p = one(soc_pct=50.0, current_a=-20.0, serial="ACT16TEST0000001", firmware="V1.2.4")
    r = p.reading()
    assert r.address == 1 and r.serial == "ACT16TEST0000001" and r.firmware == "V1.2.4"
    assert r.voltage_v == pytest.approx(sum(r.cell_voltages_v), abs=1e-6)
    assert r.soc_pct == pytest.approx(p.soc_pct, abs=0.1)
    assert r.current_a == -20.0
    # Pylon 0x42 order: BMS board first, then the four cell sensors, then MOSFET.
    assert r.temperatures_c[0] == round(p.bms_temp_c, 1)
    assert r.temperatures_c[-1] == round(p.mos_temp_c, 1)
    assert len(r.temperatures_c) == 6
    assert "discharging" in r.status and "charge_mosfet_on" in r.status


def test_default_serials_are_unique_and_16_chars() -> None:
    serials = {default_serial(i, seed) for i in range(1, 17) for seed in (0,)}
    assert len(serials) == 16
    assert all(len(s) == 16 for s in serials)


@pytest.mark.parametrize(
    ("text", "parsed"), [("V1.3.0", (1, 3, 0)), ("1.3", (1, 3)), ("v2.10.255", (2, 10, 255))]
)
def test_parse_firmware(text: str, parsed: tuple[int, ...]) -> None:
    assert parse_firmware(text) == parsed


@pytest.mark.parametrize("text", ["1", "V1.2.3.4", "V1.x", "1.256", ""])
def test_parse_firmware_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_firmware(text)


# --- physics over time ----------------------------------------------------------------


def test_charging_raises_soc_and_voltage_by_coulomb_counting() -> None:
    sim = stack(pack(soc_pct=40.0, current_a=50.0))
    p = sim.master
    soc0, v0 = p.soc_pct, p.voltage_v
    for _ in range(6):
        sim.advance(600.0)
    # 50 A for 1 h = 50 Ah into 314 Ah x 98 % = 307.72 Ah -> +16.25 % SOC.
    assert p.soc_pct - soc0 == pytest.approx(50 / 307.72 * 100, abs=0.01)
    assert p.voltage_v > v0
    assert sim.elapsed_s == 3600.0


def test_discharging_lowers_soc_and_voltage() -> None:
    sim = stack(pack(soc_pct=40.0, current_a=-50.0))
    p = sim.master
    soc0, v0 = p.soc_pct, p.voltage_v
    sim.advance(3600.0)
    assert p.soc_pct == pytest.approx(soc0 - 16.25, abs=0.01)
    assert p.voltage_v < v0


def test_current_shows_as_an_ir_step() -> None:
    rest = one(soc_pct=50.0)
    charging = one(soc_pct=50.0, current_a=100.0)
    # 100 A through 10 mOhm / 16 per cell = 62.5 mV per cell, 1.0 V per pack.
    step_mv = 100.0 * CELL_RESISTANCE_OHM * 1000
    assert step_mv == pytest.approx(62.5)
    assert charging.cells_mv[0] - rest.cells_mv[0] == pytest.approx(step_mv, abs=1)
    assert charging.voltage_v - rest.voltage_v == pytest.approx(1.0, abs=0.02)


def test_charging_to_full_tapers_and_stops_at_100() -> None:
    sim = stack(pack(soc_pct=85.0, current_a=100.0))
    p = sim.master
    for _ in range(200):
        sim.advance(60.0)
    assert 99.0 < p.soc_pct <= 100.0
    assert p.current_a < 10.0  # the charge limit falls to 0 A towards 100 %
    assert p.protections == ()  # a compliant charger never pushes a cell over 3.65 V


def test_heat_from_current_warms_the_cells_slowly() -> None:
    sim = stack(pack(soc_pct=100.0, current_a=-100.0))
    p = sim.master
    t0 = max(p.temperatures_c)
    sim.advance(60.0)
    assert max(p.temperatures_c) - t0 < 1.0  # a half-hour time constant
    for _ in range(15):  # 2.5 h: 250 Ah out, still above the 10 % derating band
        sim.advance(600.0)
    assert p.current_a == -100.0
    # 100 A x 100 A x 10 mOhm = 100 W into 20 W/K: about 5 C warmer at steady state.
    assert max(p.temperatures_c) - t0 == pytest.approx(5.0, abs=0.7)
    assert p.mos_temp_c > max(p.temperatures_c)


def test_noise_stays_bounded_over_a_long_run() -> None:
    sim = stack(pack(soc_pct=60.0))
    p = sim.master
    for _ in range(2000):
        sim.advance(1.0)
    assert all(abs(mv - 3315) <= 2 for mv in p.cells_mv), p.cells_mv
    assert all(abs(t - 25.0) <= 0.5 + 0.3 + 0.01 for t in p.temperatures_c)


def test_cycles_count_full_discharges() -> None:
    sim = stack(pack(soc_pct=100.0, current_a=-100.0, cycles=7))
    p = sim.master
    sim.advance(3600.0 * 3.2)  # 320 Ah out of a 307.72 Ah pack, clamped at empty
    assert p.soc_pct < 1.0
    p.remaining_ah = p.full_ah
    sim.advance(3600.0 * 0.2)  # the counter keeps counting discharged Ah
    assert p.cycles == 8


def test_same_seed_same_numbers_other_seed_other_numbers() -> None:
    def run(seed: int) -> list[object]:
        sim = SimStack.from_scenario(replace(load_scenario("healthy-4"), seed=seed))
        out: list[object] = []
        for _ in range(50):
            sim.advance(2.0)
            out.append([(tuple(p.cells_mv), tuple(p.temperatures_c)) for p in sim.packs])
        return out

    assert run(3) == run(3)
    assert run(3) != run(4)


def test_line_faults_have_their_own_seeded_generator() -> None:
    a = SimStack.from_scenario(load_scenario("noisy-line"))
    b = SimStack.from_scenario(load_scenario("noisy-line"))
    assert [a.line_rng.random() for _ in range(5)] == [b.line_rng.random() for _ in range(5)]
    # Stack a serves many more noisy replies than b: its cells must not notice.
    for _ in range(100):
        a.line_rng.random()
    for _ in range(10):
        a.advance(1.0)
        b.advance(1.0)
    assert [p.cells_mv for p in a.packs] == [p.cells_mv for p in b.packs]
    assert [p.temperatures_c for p in a.packs] == [p.temperatures_c for p in b.packs]


def test_time_cannot_go_backwards() -> None:
    sim = stack(pack())
    with pytest.raises(ValueError):
        sim.advance(-1.0)
    sim.advance(0.0)  # allowed: recomputes without noise
    assert sim.elapsed_s == 0.0


# --- faults change derived state --------------------------------------------------------


def test_cell_over_voltage_protection_blocks_charging_and_clears_when_the_cell_drops() -> None:
    p = one(current_a=20.0, cell_overrides_mv=((9, 3700),))
    assert p.cells_mv[8] == 3700
    assert "cell_over_voltage" in p.protections
    assert "cell_high_voltage" in p.alarms
    assert not p.charge_enable and p.discharge_enable
    assert p.charge_limit_a == 0.0 and p.current_a == 0.0
    assert p.limit_states().cells[8] == "above"
    p.demand_a = -20.0
    assert p.current_a == -20.0  # discharging brings the cell down, so it is allowed
    # Nothing is latched: the state follows the cell.
    p.pinned_cells_mv[8] = 3400
    p.cells_mv[8] = 3400
    assert p.protections == () and p.charge_enable


def test_cell_high_voltage_alarm_before_protection() -> None:
    p = one(cell_overrides_mv=((1, 3620),))
    assert "cell_high_voltage" in p.alarms
    assert "cell_over_voltage" not in p.protections
    assert p.charge_enable


def test_cell_under_voltage_blocks_discharge() -> None:
    p = one(soc_pct=6.0, current_a=-10.0, cell_overrides_mv=((4, 2750),))
    assert "cell_under_voltage" in p.protections and "cell_low_voltage" in p.alarms
    assert not p.discharge_enable and p.charge_enable
    assert p.discharge_limit_a == 0.0 and p.current_a == 0.0
    assert p.limit_states().cells[3] == "below"


def test_dead_sensor_reads_minus_40_and_raises_a_sensor_fault() -> None:
    p = one(current_a=5.0, temperature_overrides_c=(("3", -40.0),))
    assert p.temperatures_c[2] == -40.0
    assert p.dead_sensors == ("3",)
    assert "temperature_sensor_fault" in p.protections
    # The dead sensor is not taken for a real -40 C reading...
    assert "charge_under_temperature" not in p.protections
    assert -40.0 not in p.valid_cell_temperatures_c
    # ...but charging stops, since the BMS cannot rule out a cell below 0 C.
    assert not p.charge_enable and p.discharge_enable and p.current_a == 0.0
    assert p.limit_states().temperatures[3] == "fault"  # board, cells 1-4, MOSFET
    assert p.reading().temperatures_c[3] == -40.0


def test_open_sensor_reads_raw_zero() -> None:
    p = one(temperature_overrides_c=(("mos", -273.1),))
    assert p.mos_temp_c == -273.1 and p.dead_sensors == ("mos",)
    assert "temperature_sensor_fault" in p.protections


def test_over_temperature_for_charge_then_for_discharge() -> None:
    warm = one(temperature_overrides_c=all_sensors(52.0))
    assert "charge_over_temperature" in warm.protections
    assert "discharge_over_temperature" not in warm.protections
    assert "discharge_high_temperature" in warm.alarms  # within 5 C of 55 C
    assert not warm.charge_enable and warm.discharge_enable
    hot = one(temperature_overrides_c=all_sensors(56.0))
    assert "discharge_over_temperature" in hot.protections
    assert not hot.charge_enable and not hot.discharge_enable


def test_under_temperature_blocks_charging_only_below_zero() -> None:
    cold = one(temperature_overrides_c=all_sensors(-5.0))
    assert "charge_under_temperature" in cold.protections
    assert "discharge_low_temperature" in cold.alarms  # -5 C is 5 C above -10 C
    assert not cold.charge_enable and cold.discharge_enable


def test_mos_over_temperature_blocks_both_ways() -> None:
    p = one(temperature_overrides_c=(("mos", 95.0),))
    assert "mos_over_temperature" in p.protections
    assert not p.charge_enable and not p.discharge_enable


def test_over_current_only_when_the_inverter_ignores_the_limits() -> None:
    compliant = one(current_a=-250.0)
    assert compliant.current_a == -100.0  # held to the advertised DCL
    assert compliant.protections == () and compliant.alarms == ()

    sim = stack(pack(current_a=-150.0), inverter_follows_limits=False)
    p = sim.master
    assert p.current_a == -150.0
    assert "discharge_high_current" in p.alarms  # above 100 A continuous
    assert p.protections == ()
    p.demand_a = -250.0  # above the 200 A maximum: the BMS trips
    assert "discharge_over_current" in p.protections
    assert p.current_a == 0.0 and not p.discharge_enable
    assert p.limit_states().discharge_current == "above"
    assert "discharge_over_current" in sim.protections()


def test_cell_imbalance_alarm() -> None:
    p = one(cell_overrides_mv=((2, 3370),))  # 55 mV above its 3315 mV neighbours
    assert "cell_imbalance" in p.alarms and p.protections == ()


def test_names_are_the_documented_ones() -> None:
    sim = SimStack.from_scenario(load_scenario("cell-overvoltage"))
    for p in sim.packs:
        assert set(p.protections) <= set(PACK_PROTECTION_NAMES)
        assert set(p.alarms) <= set(PACK_ALARM_NAMES)
    assert set(sim.protections()) <= set(CAN_PROTECTION_NAMES)
    assert set(sim.alarms()) <= set(CAN_ALARM_NAMES)


# --- RS485 bookkeeping ----------------------------------------------------------------


def test_pack_stops_answering_after_n_requests() -> None:
    scenario = Scenario(
        name="t",
        packs=(pack(1), pack(2), pack(3)),
        faults=FaultSpec(stop_answering=((3, 5),)),
    )
    sim = SimStack.from_scenario(scenario)
    answers = [bool(sim.take_request(3)) for _ in range(8)]
    assert answers == [True] * 5 + [False] * 3
    assert sim.packs_at(3)[0].requests_seen == 8
    assert sim.packs_at(3)[0].requests_served == 5
    assert all(sim.take_request(2) for _ in range(20))  # the others carry on
    assert sim.take_request(9) == []


def test_duplicate_address_gives_two_packs_and_an_internal_comm_alarm() -> None:
    sim = SimStack.from_scenario(load_scenario("duplicate-address"))
    assert [p.address for p in sim.packs] == [1, 2, 2, 4]
    assert len(sim.packs_at(2)) == 2 and sim.packs_at(3) == []
    assert len(sim.take_request(2)) == 2
    assert sim.duplicate_addresses == (2,)
    assert "internal_communication_fail" in sim.alarms()
    assert sim.addresses == (1, 2, 4)


# --- the master's aggregate -----------------------------------------------------------


def test_aggregate_by_hand() -> None:
    sim = stack(
        pack(1, soc_pct=50.0, current_a=10.0, soh_pct=97.0),
        pack(2, soc_pct=60.0, current_a=20.0, temperature_overrides_c=all_sensors(30.0)),
        pack(3, soc_pct=70.0, current_a=-5.0, cell_overrides_mv=((16, 3400),)),
    )
    a, b, c = sim.packs
    assert sim.module_count == 3
    assert sim.master is a
    assert sim.current_a == pytest.approx(25.0)
    assert sim.soc_pct == pytest.approx(50.0)  # lowest SOC
    assert sim.soh_pct == 97.0  # lowest SOH
    assert sim.voltage_v == pytest.approx((a.voltage_v + b.voltage_v + c.voltage_v) / 3)
    assert sim.max_cell_v == 3.4
    # Lowest cell: pack 3 at 70 % discharging 5 A: 3.324 V - 5 A x 0.625 mOhm = 3.3209 V;
    # pack 1 at 50 % charging 10 A: 3.305 + 0.00625 = 3.31125 V -> 3311 mV.
    assert sim.min_cell_v == 3.311
    assert sim.temp_c == 30.0
    assert sim.max_cell_temp_c == 30.0
    assert sim.installed_capacity_ah == 3 * spec.CAPACITY_AH


def test_limits_scale_with_pack_count() -> None:
    sim = stack(pack(1), pack(2), pack(3), pack(4))
    assert sim.charge_limits() == ChargeLimits(
        charge_voltage_v=56.0,
        charge_current_a=400.0,
        discharge_current_a=400.0,
        discharge_voltage_v=46.4,
    )
    custom = stack(pack(1), pack(2), charge_current_per_pack_a=80.0)
    assert custom.charge_limits().charge_current_a == 160.0


def test_temperature_derating_by_hand() -> None:
    # 47.5 C is half-way through the last 5 C before the 50 C charge limit:
    # that pack may take 50 A, so three packs take 3 x 50 = 150 A. Discharge
    # (limit 55 C) is not derated yet: 3 x 100 = 300 A.
    sim = stack(pack(1), pack(2, temperature_overrides_c=all_sensors(47.5)), pack(3))
    limits = sim.charge_limits()
    assert limits.charge_current_a == 150.0
    assert limits.discharge_current_a == 300.0
    # 2 C is 40 % of the way up from the 0 C charge limit: 3 x 40 = 120 A.
    cold = stack(pack(1), pack(2), pack(3, temperature_overrides_c=all_sensors(2.0)))
    assert cold.charge_limits().charge_current_a == 120.0


def test_soc_derating_by_hand() -> None:
    # 95 % is half-way through the last 10 % before full: 2 x 50 = 100 A charge.
    full = stack(pack(1, soc_pct=95.0), pack(2, soc_pct=80.0))
    assert full.charge_limits().charge_current_a == 100.0
    assert full.charge_limits().discharge_current_a == 200.0
    # 5 % is half-way through the last 10 % before empty: 2 x 50 = 100 A discharge.
    empty = stack(pack(1, soc_pct=5.0), pack(2, soc_pct=80.0))
    assert empty.charge_limits().discharge_current_a == 100.0
    # Both at once multiply: 95 % and 47.5 C -> 100 A x 0.5 x 0.5 = 25 A, x 2 packs.
    both = stack(pack(1, soc_pct=95.0, temperature_overrides_c=all_sensors(47.5)), pack(2))
    assert both.charge_limits().charge_current_a == 50.0


def test_one_protected_pack_zeroes_the_stack_limit() -> None:
    sim = SimStack.from_scenario(load_scenario("cell-overvoltage"))
    limits = sim.charge_limits()
    assert limits.charge_current_a == 0.0
    assert limits.discharge_current_a > 0
    flags = sim.request_flags()
    assert not flags.charge_enable and flags.discharge_enable
    assert "over_voltage" in sim.protections()
    assert sim.packs[1].current_a == 0.0  # the 20 A offered no longer flows
    assert sim.current_a == pytest.approx(20.0)  # pack 1 still charges


def test_force_charge_flags_follow_the_lowest_soc() -> None:
    assert not stack(pack(soc_pct=20.0)).request_flags().force_charge_1
    low = stack(pack(1, soc_pct=8.0), pack(2, soc_pct=50.0)).request_flags()
    assert low.force_charge_1 and not low.force_charge_2
    empty = stack(pack(1, soc_pct=4.0)).request_flags()
    assert empty.force_charge_1 and empty.force_charge_2
    uv = stack(pack(1, soc_pct=40.0, cell_overrides_mv=((1, 2750),))).request_flags()
    assert uv.force_charge_2 and not uv.discharge_enable


def test_set_current_shares_equally() -> None:
    sim = stack(pack(1), pack(2), pack(3), pack(4))
    sim.set_current(-40.0)
    assert [p.current_a for p in sim.packs] == [-10.0] * 4
    assert sim.current_a == -40.0


def test_can_state_carries_the_scenario_settings() -> None:
    sim = SimStack.from_scenario(load_scenario("pylon-v13"))
    state = sim.can_state()
    assert state.protocol == "pylon-v1.3"
    assert state.module_count == 2
    assert state.manufacturer == "PYLON"
    assert state.limits == sim.charge_limits()
    assert state.request == sim.request_flags()
    assert state.voltage_v == pytest.approx(sim.voltage_v, abs=0.005)
    high = SimStack.from_scenario(load_scenario("charge-limit-too-high")).can_state()
    assert high.limits is not None
    assert high.limits.charge_voltage_v > spec.MAX_VOLTAGE_V


def test_mismatch_scenario_shows_about_one_volt() -> None:
    sim = SimStack.from_scenario(load_scenario("mismatch"))
    volts = [p.voltage_v for p in sim.packs]
    assert volts[2] == pytest.approx(52.0, abs=0.01)
    assert max(volts) - min(volts) > spec.PARALLEL_SPREAD_FAIL_V
    assert 0.9 < max(volts) - min(volts) < 1.2
    others = volts[:2] + volts[3:]
    assert max(others) - min(others) < spec.PARALLEL_SPREAD_WARN_V
