"""`check wiring`: the cable for every profile, straight-lead verdicts, pins left open."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from active_cli.checks.wiring import (
    BATTERY_PORT,
    T568B_COLOURS,
    StraightLead,
    cable_summary,
    check_wiring,
    link_leads,
    map_cable,
)
from active_cli.inverters import (
    BUS_LINES,
    BmsPort,
    Bus,
    BusSpec,
    Confidence,
    Fact,
    InverterProfile,
    Limits,
    PinFunction,
    PortPin,
    ProfileConfidence,
    ProtocolSpec,
    Termination,
    load_all,
    load_profile,
)
from active_cli.model import Severity

TWO = ("a", "b")


def profile_with(
    pins: dict[int, PinFunction],
    *,
    bus: Bus | None = Bus.CAN,
    confidence: Confidence = Confidence.CONFIRMED,
    must_not_connect: frozenset[int] = frozenset(),
) -> InverterProfile:
    """A made-up profile with exactly these pins, all at `confidence`."""
    port_pins = tuple(
        PortPin(
            n,
            f,
            Confidence.UNKNOWN if f is PinFunction.UNKNOWN else confidence,
            TWO,
            must_not_connect=n in must_not_connect
            or f in (PinFunction.POWER, PinFunction.RESERVED),
        )
        for n, f in sorted(pins.items())
    )
    unknown: Fact[Any] = Fact(None, Confidence.UNKNOWN)
    return InverterProfile(
        id="test",
        name="Test",
        brand="Test",
        family="made up",
        models=("T1",),
        aliases=(),
        confidence=ProfileConfidence.HIGH,
        sources=(),
        port=BmsPort(
            Fact("BMS", Confidence.CONFIRMED, TWO),
            Fact("RJ45", Confidence.CONFIRMED, TWO),
            port_pins,
        ),
        bus=BusSpec(
            Fact(bus, Confidence.CONFIRMED, TWO) if bus else unknown,
            Fact(500_000, Confidence.CONFIRMED, TWO) if bus else unknown,
        ),
        protocol=ProtocolSpec(unknown, unknown, unknown, unknown),
        termination=Termination(unknown, unknown, unknown),
        limits=Limits(unknown, unknown, unknown, unknown, unknown),
        quirks=(),
    )


def test_battery_port_is_the_manuals() -> None:
    assert BATTERY_PORT == {
        1: PinFunction.RS485_B,
        2: PinFunction.RS485_A,
        4: PinFunction.CAN_H,
        5: PinFunction.CAN_L,
    }
    assert T568B_COLOURS[1] == "white-orange" and T568B_COLOURS[4] == "blue"
    assert T568B_COLOURS[7] == "white-brown" and T568B_COLOURS[8] == "brown"


# --- every shipped profile ----------------------------------------------------------


@pytest.mark.parametrize("profile", load_all(), ids=lambda p: p.id)
def test_cable_connects_each_needed_line_to_the_right_pin_and_nothing_forbidden(
    profile: InverterProfile,
) -> None:
    cable = map_cable(profile)
    forbidden = {p.pin for p in profile.port.pins if p.must_not_connect}
    bus = profile.bus.kind.value
    if bus is None:
        assert cable.wires == ()
        assert cable.straight is StraightLead.UNVERIFIED
        return
    assert [w.line for w in cable.wires] == list(BUS_LINES[bus])
    for wire in cable.wires:
        # Our side is the manual's pin for that line.
        assert BATTERY_PORT[wire.battery_pin] is wire.line
        candidates = {p.pin for p in profile.port.pins_for(wire.line)}
        if candidates:
            assert wire.inverter_pin in candidates
            assert profile.port.pin(wire.inverter_pin).function is wire.line  # type: ignore[union-attr]
        else:
            # Unknown stays unknown: no pin is guessed.
            assert wire.inverter_pin is None and wire.confidence is Confidence.UNKNOWN
        assert wire.inverter_pin not in forbidden
    open_pins = {p.pin for p in cable.inverter_open_pins}
    assert forbidden <= open_pins
    if cable.straight is StraightLead.FITS:
        for pin, ours in BATTERY_PORT.items():
            theirs = profile.port.pin(pin)
            assert theirs is not None and not theirs.must_not_connect
            # ... or the maker settles the whole port (Solis: CAN only) while the pin is "?".
            assert theirs.function in (ours, PinFunction.NC) or (
                theirs.function is PinFunction.UNKNOWN and profile.port.straight_lead.value is True
            )


@pytest.mark.parametrize("profile", load_all(), ids=lambda p: p.id)
def test_wiring_fails_only_on_a_straight_lead_claim_and_flags_unverified(
    profile: InverterProfile,
) -> None:
    # Without a claim the check only warns; with --straight-lead it fails
    # unless the lead is known to fit (an unverified fit or an unknown bus
    # cannot be answered "yes").
    result = check_wiring(profile)
    assert not result.failed
    cable = result.cable
    unverified = (not cable.complete) or not cable.confidence.verified
    warnings = [f for f in result.findings if f.severity is Severity.WARN]
    if unverified:
        assert any("unverified" in f.title for f in warnings), [f.title for f in warnings]
    claimed = check_wiring(profile, straight_lead=True)
    assert claimed.failed == (cable.straight is not StraightLead.FITS)
    if cable.bus is None:
        assert claimed.failed


def test_straight_lead_claim_on_an_unknown_port_fails_and_says_what_to_confirm() -> None:
    unknown = next(p for p in load_all() if p.bus.kind.value is None)
    result = check_wiring(unknown, straight_lead=True)
    cable = next(f for f in result.findings if f.code == "wiring.cable")
    assert cable.severity is Severity.FAIL
    assert "the bus it uses is not known" in cable.title
    assert "which bus" in cable.fix and "pins 1, 2, 4 and 5" in cable.fix
    assert any("battery pin 1" in line for line in cable.evidence)


def test_deye_straight_lead_fits_on_two_sources() -> None:
    result = check_wiring(load_profile("deye"))
    assert result.cable.straight is StraightLead.FITS
    assert result.cable.straight_confidence is Confidence.CONFIRMED
    assert [(w.battery_pin, w.inverter_pin) for w in result.cable.wires] == [(4, 4), (5, 5)]
    cable = next(f for f in result.findings if f.code == "wiring.cable")
    assert cable.severity is Severity.OK
    assert cable_summary(result.cable) == "straight [2]"
    # Sol-Ark's pin-2-is-ground table is a wiring quirk of that alias only, shown
    # with its confidence; plain Deye does not get it.
    assert not any(f.code == "wiring.deye.pin2-ground" for f in result.findings)
    sol_ark = check_wiring(load_profile("sol-ark"))
    quirk = next(f for f in sol_ark.findings if f.code == "wiring.deye.pin2-ground")
    assert "[1] unverified" in quirk.detail


def test_victron_needs_a_custom_cable_4_to_7_and_5_to_8() -> None:
    profile = load_profile("victron")
    result = check_wiring(profile)
    cable = result.cable
    assert cable.straight is StraightLead.DOES_NOT_FIT
    wires = [
        (w.line, w.battery_pin, w.battery_colour, w.inverter_pin, w.inverter_colour)
        for w in cable.wires
    ]
    assert wires == [
        (PinFunction.CAN_H, 4, "blue", 7, "white-brown"),
        (PinFunction.CAN_L, 5, "white-blue", 8, "brown"),
    ]
    assert {p.pin: p.function for p in cable.inverter_open_pins} == {
        3: PinFunction.GND,
        4: PinFunction.RESERVED,
        5: PinFunction.RESERVED,
        6: PinFunction.POWER,
    }
    assert cable_summary(cable) == "custom: 4->7, 5->8 [2]"
    finding = next(f for f in result.findings if f.code == "wiring.cable")
    assert finding.severity is Severity.WARN and "does NOT work" in finding.title
    assert any("RESERVED, must not connect" in e for e in finding.evidence)
    term = next(f for f in result.findings if f.code == "wiring.termination")
    assert term.severity is Severity.WARN and "VE.Can RJ45 terminator" in term.fix


def test_victron_with_a_straight_lead_fails() -> None:
    result = check_wiring(load_profile("victron"), straight_lead=True)
    assert result.failed
    assert [f.code for f in result.findings if f.failed] == ["wiring.cable"]


def test_solis_straight_fit_rests_on_a_deduction() -> None:
    cable = map_cable(load_profile("solis"))
    assert cable.straight is StraightLead.FITS
    assert cable.straight_confidence is Confidence.DEDUCED
    assert cable_summary(cable) == "straight [d] unverified"


def test_growatt_spf_is_unverified_but_gives_the_known_pins() -> None:
    result = check_wiring(load_profile("growatt-spf"))
    assert result.cable.straight is StraightLead.UNVERIFIED
    assert [(w.inverter_pin, w.confidence) for w in result.cable.wires] == [
        (4, Confidence.SINGLE),
        (5, Confidence.SINGLE),
    ]
    pins = next(f for f in result.findings if f.code == "wiring.pins")
    assert pins.severity is Severity.WARN
    assert "CAN-H: battery pin 4 -> inverter pin 4 [1]" in pins.evidence


def test_unknown_bus_prints_the_battery_side_and_asks() -> None:
    result = check_wiring(load_profile("gospower"))
    codes = {f.code: f for f in result.findings}
    assert codes["wiring.bus"].severity is Severity.WARN
    assert "pin 4 CAN-H" in codes["wiring.pins"].detail
    assert result.cable.wires == () and cable_summary(result.cable) == "unknown"


# --- made-up ports for the edges ------------------------------------------------------


def test_rs485_bus_with_swapped_pins_maps_a_to_a() -> None:
    profile = profile_with(
        {1: PinFunction.RS485_A, 2: PinFunction.RS485_B, 3: PinFunction.GND}
        | {n: PinFunction.NC for n in (4, 5, 6, 7, 8)},
        bus=Bus.RS485,
    )
    cable = map_cable(profile)
    assert [(w.line, w.battery_pin, w.inverter_pin) for w in cable.wires] == [
        (PinFunction.RS485_A, 2, 1),
        (PinFunction.RS485_B, 1, 2),
    ]
    assert cable.straight is StraightLead.DOES_NOT_FIT  # a straight lead swaps A and B
    assert [p.pin for p in cable.inverter_open_pins] == [3]


def test_ground_on_a_battery_signal_pin_breaks_the_straight_lead() -> None:
    pins = {n: PinFunction.NC for n in range(1, 9)}
    pins |= {2: PinFunction.GND, 4: PinFunction.CAN_H, 5: PinFunction.CAN_L}
    cable = map_cable(profile_with(pins))
    assert cable.straight is StraightLead.DOES_NOT_FIT
    assert any("pin 2 (RS485-A, not used)" in r and "GND" in r for r in cable.straight_reasons)
    assert [(w.battery_pin, w.inverter_pin) for w in cable.wires] == [(4, 4), (5, 5)]


def test_power_on_pin_1_is_left_open_and_breaks_the_straight_lead() -> None:
    pins = {n: PinFunction.NC for n in range(1, 9)}
    pins |= {1: PinFunction.POWER, 4: PinFunction.CAN_H, 5: PinFunction.CAN_L}
    cable = map_cable(profile_with(pins))
    assert cable.straight is StraightLead.DOES_NOT_FIT
    assert [(p.pin, p.function) for p in cable.inverter_open_pins] == [(1, PinFunction.POWER)]


def test_can_line_on_an_unused_pin_is_not_a_fit() -> None:
    pins = {n: PinFunction.NC for n in range(1, 9)} | {7: PinFunction.CAN_H, 8: PinFunction.CAN_L}
    cable = map_cable(profile_with(pins))
    assert cable.straight is StraightLead.DOES_NOT_FIT
    assert cable_summary(cable) == "custom: 4->7, 5->8 [2]"


def test_single_source_pins_make_the_cable_unverified() -> None:
    pins = {n: PinFunction.NC for n in range(1, 9)} | {4: PinFunction.CAN_H, 5: PinFunction.CAN_L}
    result = check_wiring(profile_with(pins, confidence=Confidence.SINGLE))
    cable = next(f for f in result.findings if f.code == "wiring.cable")
    assert result.cable.straight is StraightLead.FITS
    assert cable.severity is Severity.WARN and "unverified" in cable.title


def test_link_chain_for_three_packs_and_the_limit() -> None:
    assert [(lead.from_pack, lead.to_pack) for lead in link_leads(3)] == [(1, 2), (2, 3)]
    assert link_leads(1) == ()
    profile = load_profile("deye")
    link = next(f for f in check_wiring(profile, packs=3).findings if f.code == "wiring.link")
    assert "2 straight T568B patch leads" in link.title
    assert "pack 2 Link out -> pack 3 Link in" in link.evidence[0]
    over = check_wiring(profile, packs=17)
    assert over.failed and any(f.code == "wiring.link" and f.failed for f in over.findings)


FUNCTIONS = st.sampled_from(list(PinFunction))


@given(
    pins=st.dictionaries(st.integers(1, 8), FUNCTIONS, max_size=8),
    bus=st.sampled_from([Bus.CAN, Bus.RS485]),
    forbidden=st.frozensets(st.integers(1, 8)),
)
def test_any_port_mapping_wires_only_matching_allowed_pins(
    pins: dict[int, PinFunction], bus: Bus, forbidden: frozenset[int]
) -> None:
    bus_lines = {*BUS_LINES[Bus.CAN], *BUS_LINES[Bus.RS485]}
    # The loader forbids must-not-connect on bus lines; keep the made-up port legal.
    forbidden = frozenset(n for n in forbidden if pins.get(n) not in bus_lines)
    profile = profile_with(pins, bus=bus, must_not_connect=forbidden)
    cable = map_cable(profile)
    for wire in cable.wires:
        if wire.inverter_pin is not None:
            assert pins[wire.inverter_pin] is wire.line
            assert wire.inverter_pin not in forbidden
        else:
            assert wire.line not in pins.values()
    if cable.straight is StraightLead.FITS:
        for pin, ours in BATTERY_PORT.items():
            assert pins.get(pin) in (ours, PinFunction.NC)
            assert pin not in forbidden
