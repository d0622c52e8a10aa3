"""A scenario that loads never makes the simulator fail: its ranges are the wire's.

Hypothesis draws scenarios with every numeric setting anywhere in its allowed
range (the extremes included), then asks every pack every RS485 command in
both protocol variants, and takes the master's CAN set in both profiles, now
and after hours of charging or discharging. Any value the codecs cannot encode
is a range in `sim/scenario.py` wider than its wire field.
"""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from active_cli import spec
from active_cli.errors import DataFileError
from active_cli.protocols import pylon_can
from active_cli.protocols import pylon_rs485 as rs
from active_cli.protocols.pylon_rs485 import Command
from active_cli.sim.can_node import battery_frames
from active_cli.sim.responder import Rs485Responder
from active_cli.sim.scenario import (
    MAX_CAPACITY_AH,
    MAX_CELL_MV,
    MAX_CURRENT_LIMIT_PER_PACK_A,
    MAX_CYCLES,
    parse_scenario,
)
from active_cli.sim.site import SimulatedSite
from active_cli.sim.stack import SimStack


def anywhere(lo: float, hi: float) -> st.SearchStrategy[float]:
    """A value in lo..hi, the ends drawn often (that is where encoders break)."""
    return st.one_of(st.sampled_from([lo, hi]), st.floats(lo, hi))


def settings_for_pack() -> st.SearchStrategy[dict[str, object]]:
    cells = st.dictionaries(
        st.integers(1, spec.CELLS_IN_SERIES).map(str),
        st.one_of(st.sampled_from([0, MAX_CELL_MV]), st.integers(0, MAX_CELL_MV)),
        max_size=16,
    )
    sensors = st.dictionaries(
        st.sampled_from(["1", "2", "3", "4", "mos", "bms"]),
        st.one_of(st.just("open"), anywhere(-40.0, 150.0)),
        max_size=6,
    )
    return st.fixed_dictionaries(
        {
            "soc_pct": anywhere(0.0, 100.0),
            "soh_pct": anywhere(1.0, 100.0),
            "temperature_c": anywhere(-40.0, 120.0),
            "current_a": anywhere(-1000.0, 1000.0),
            "cycles": st.sampled_from([0, MAX_CYCLES]),
            "capacity_ah": anywhere(1.0, MAX_CAPACITY_AH),
            "cell_offsets_mv": st.lists(st.sampled_from([-500, 0, 500]), min_size=16, max_size=16),
        },
        optional={"cells_mv": cells, "temperatures_c": sensors},
    )


def toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, dict):
        return "{ " + ", ".join(f'"{k}" = {toml_value(v)}' for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return repr(value)


@st.composite
def scenarios(draw: st.DrawFn) -> str:
    packs = draw(st.sampled_from([1, 2, 16]))
    lines = [f"packs = {packs}", f"seed = {draw(st.integers(0, 2**32 - 1))}"]
    lines += ["[rs485]", f'protocol = "{draw(st.sampled_from(["pylon", "pace"]))}"']
    lines += ["[can]", f'profile = "{draw(st.sampled_from(["pylon-v1.2", "pylon-v1.3"]))}"']
    lines += [f'voltage_scale = "{draw(st.sampled_from(["0.01 V", "0.1 V"]))}"']
    lines += ["[inverter]", f"follows_limits = {toml_value(draw(st.booleans()))}"]
    dvl = draw(anywhere(40.0, 60.0))
    cvl = draw(anywhere(max(40.0, dvl + 0.1), 65.0))
    lines += ["[bms]", f"charge_voltage_limit_v = {cvl!r}", f"discharge_voltage_limit_v = {dvl!r}"]
    for key in ("charge_current_per_pack_a", "discharge_current_per_pack_a"):
        lines.append(f"{key} = {draw(anywhere(0.0, MAX_CURRENT_LIMIT_PER_PACK_A))!r}")
    for position in sorted({1, packs}):
        lines.append(f"[pack.{position}]")
        lines += [f"{k} = {toml_value(v)}" for k, v in draw(settings_for_pack()).items()]
    return "\n".join(lines) + "\n"


def exercise(stack: SimStack) -> None:
    responder = Rs485Responder(stack)
    ver = rs.VER_PACE if stack.scenario.rs485_protocol == "pace" else rs.VER_PYLON
    for pack in stack.packs:
        for command in Command:
            responder(rs.build_request(command, pack.address, ver=ver))
    group = bytes([rs.GROUP_ADR_INFO])
    for command in (Command.ANALOG, Command.ALARM):
        responder(rs.build_request(command, stack.master.address, ver=ver, info=group))
    # The simulated inverter decodes what the battery sends: that must hold too.
    builder = pylon_can.CanStateBuilder()
    for arbitration_id, data in battery_frames(
        stack.can_state(), pad_to_8=stack.scenario.can_pad_to_8
    ):
        builder.feed(arbitration_id, data)
    assert builder.state() is not None


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(text=scenarios(), demand_a=anywhere(-3200.0, 3200.0))
def test_every_scenario_that_loads_encodes_on_every_command(text: str, demand_a: float) -> None:
    try:
        scenario = parse_scenario(text, source="drawn.toml")
    except DataFileError as e:
        pytest.fail(f"a value inside the documented ranges was refused: {e}\n{text}")
    stack = SimStack.from_scenario(scenario)
    exercise(stack)
    stack.set_current(demand_a)  # what an inverter might ask, compliant or not
    for _ in range(3):
        stack.advance(4 * 3600.0)
        exercise(stack)


@pytest.mark.parametrize(
    ("line", "key"),
    [
        (f"cycles = {MAX_CYCLES + 1}", "cycles"),
        (f"capacity_ah = {MAX_CAPACITY_AH + 1}", "capacity_ah"),
        (f"cells_mv = {{ 1 = {MAX_CELL_MV + 1} }}", "cells_mv.1"),
    ],
)
def test_a_value_beyond_its_wire_field_is_refused(line: str, key: str) -> None:
    with pytest.raises(DataFileError) as caught:
        parse_scenario(f"[pack.1]\n{line}\n")
    assert caught.value.key == f"pack.1.{key}"


def test_a_current_limit_the_stack_cannot_send_is_refused() -> None:
    # 16 x 205 A = 3280 A: more than 0x351's 3276.7 A.
    with pytest.raises(DataFileError) as caught:
        parse_scenario("packs = 16\n[bms]\ncharge_current_per_pack_a = 205\n")
    assert caught.value.key == "bms.charge_current_per_pack_a"


EXTREME = f"""
name = "extreme"
packs = 16
[rs485]
protocol = "pace"
[can]
profile = "pylon-v1.3"
pad_to_8 = true
[inverter]
follows_limits = false
heartbeat_period_s = 0.05
[bms]
charge_current_per_pack_a = {MAX_CURRENT_LIMIT_PER_PACK_A}
discharge_current_per_pack_a = {MAX_CURRENT_LIMIT_PER_PACK_A}
charge_voltage_limit_v = 65.0
discharge_voltage_limit_v = 60.0
[defaults]
current_a = 1000.0
capacity_ah = {MAX_CAPACITY_AH}
cycles = {MAX_CYCLES}
temperature_c = 120.0
cell_offsets_mv = [500, 500, 500, 500, 500, 500, 500, 500, 500, 500, 500, 500, 500, 500, 500, 500]
[pack.16]
cells_mv = {{ {", ".join(f"{i} = {MAX_CELL_MV}" for i in range(1, 17))} }}
"""


def test_a_running_site_on_the_extremes_keeps_its_threads_clean() -> None:
    # conftest fails the test if any of the site's threads caught an error.
    with SimulatedSite(parse_scenario(EXTREME), pty=False) as site:
        assert site.battery is not None and site.inverter is not None
        deadline = time.monotonic() + 5.0
        while site.battery.cycles_sent < 2 or site.inverter.heartbeats_sent < 2:
            assert time.monotonic() < deadline, site.internal_errors
            site.battery.wake()
            time.sleep(0.02)
        assert site.internal_errors == []
