"""Every limit of the Active16 that `active` judges against, in one place.

Each number cites where it comes from: the Active16 user manual ("manual",
with its section) or, where the manual is silent, a public source named in the
comment and the choice made, as documented in docs/checks.md. Checks import
these names; nothing else hard-codes them.
"""

from __future__ import annotations

from typing import Final

MODEL: Final = "Active16"

# --- Technical Parameters (manual, "Technical Parameters") -------------------
CELLS_IN_SERIES: Final = 16  # model name Active16; 16 x 3.2 V = 51.2 V rated
CELL_NOMINAL_V: Final = 3.2  # LiFePO4 nominal cell voltage: 51.2 V / 16
NOMINAL_VOLTAGE_V: Final = 51.2  # "Rated Voltage 51.2V"
MIN_VOLTAGE_V: Final = 44.8  # "Voltage range 44.8V-57.6V" (2.8 V per cell)
MAX_VOLTAGE_V: Final = 57.6  # "Voltage range 44.8V-57.6V" (3.6 V per cell)
ENERGY_KWH: Final = 16.08  # "Battery Capacity per Kit 16.08kWh"
USABLE_ENERGY_KWH: Final = 14.47  # "Usable Energy 14.47kWh" (= 90 % DOD)
CAPACITY_AH: Final = 314.0  # derived: 16.08 kWh / 51.2 V = 314 Ah (a common LFP cell size)
MAX_DEPTH_OF_DISCHARGE_PCT: Final = 90.0  # "Depth Of Discharge <=90%"
MAX_CURRENT_A: Final = 200.0  # "Max. Charging and Discharging Rate 200A"
CYCLE_LIFE: Final = 8000  # "Cycle Life >=8000 times, 80% Capacity retention"
WEIGHT_KG: Final = 118.5  # "Weight 118.5kg"

# Operating temperature range (manual, "Technical Parameters")
CHARGE_TEMP_MIN_C: Final = 0.0  # "0~50°C (Charge)"
CHARGE_TEMP_MAX_C: Final = 50.0
DISCHARGE_TEMP_MIN_C: Final = -10.0  # "-10~55°C (Discharge)"
DISCHARGE_TEMP_MAX_C: Final = 55.0
STORAGE_TEMP_MIN_C: Final = -20.0  # "Storage Temperature Range -20°C~60°C"
STORAGE_TEMP_MAX_C: Final = 60.0

# --- Maintenance, item 12 ------------------------------------------------------
# "The recommended load power for the battery should not exceed the maximum
# continuous discharge current of the battery (100A)."
RECOMMENDED_CONTINUOUS_CURRENT_A: Final = 100.0

# --- Parallel installation -----------------------------------------------------
MAX_PACKS_IN_PARALLEL: Final = 16  # "This device allows a maximum of 16 parallel devices"
# "Due to the battery terminal current-carrying each 200A, parallel use of the
# maximum output power of 10kW; if you need to output more power, you need to
# replace the wiring, not directly connected to the battery terminal."
TERMINAL_CURRENT_A: Final = 200.0
MAX_POWER_THROUGH_TERMINALS_W: Final = 10_000.0

# --- Single machine installation, step 3 ---------------------------------------
# The manual asks for both battery terminal pairs to be wired when the inverter
# is above 5 kW (one pair carries the current of up to 5 kW).
BOTH_TERMINALS_ABOVE_W: Final = 5_000.0

# --- Single machine installation, step 1: power cable --------------------------
POWER_CABLE_AWG: Final = 1  # "1 AWG"
POWER_CABLE_MM2: Final = 42.4  # "Core Cross Sectional Area 42.4 mm²"
COPPER_RESISTIVITY_OHM_MM2_PER_M: Final = 0.0172  # copper at 20 °C (IEC 60228)

# --- Cell voltage limits --------------------------------------------------------
# The manual states only the pack range (2.8 .. 3.6 V per cell). The protection
# and alarm thresholds below are the usual LFP BMS values and match the
# Pylontech 0x47 system parameters of a public US-series capture (3.65 / 3.05 / 2.80 V);
# they are shown as such in findings.
CELL_MIN_V: Final = MIN_VOLTAGE_V / CELLS_IN_SERIES  # 2.8 V
CELL_MAX_V: Final = MAX_VOLTAGE_V / CELLS_IN_SERIES  # 3.6 V
CELL_OVER_VOLTAGE_ALARM_V: Final = 3.60  # alarm at the top of the manual's range
CELL_OVER_VOLTAGE_PROTECT_V: Final = 3.65  # Pylontech 0x47 "cell high V"
CELL_UNDER_VOLTAGE_ALARM_V: Final = 2.90
CELL_UNDER_VOLTAGE_PROTECT_V: Final = 2.80  # Pylontech 0x47 "cell under-V"
CELL_SPREAD_WARN_MV: Final = 50.0  # our choice: a balanced LFP pack at rest is within ~20 mV
CELL_SPREAD_FAIL_MV: Final = 150.0  # our choice: beyond what passive balancing recovers

# Temperature alarm margin before the protection limit (our choice, shown as such).
TEMP_ALARM_MARGIN_C: Final = 5.0
# A sensor reading at or below this is a dead or open sensor, not a real
# temperature (manual, Common Issues 5: "Temperature Monitoring Too Low").
DEAD_SENSOR_TEMP_C: Final = -39.0

# --- Temperature sensors ---------------------------------------------------------
# The 0x42 reply lists the BMS board sensor first, then the cell-group sensors,
# and on the Active16 a MOSFET (power stage) sensor last: six in all. Findings,
# tables and JSON name them by this role, so "cell sensor 3" is the third cell
# sensor on the pack, not the third number in the reply.
ACTIVE16_TEMPERATURE_SENSORS: Final = 6
# The board and the MOSFETs are electronics, not cells: the cells' charging
# range does not apply to them. The manual names "MOS temperature abnormal"
# (Common Issues 7) but gives no number; these are usual BMS values (our choice).
MOSFET_TEMP_WARN_C: Final = 85.0
MOSFET_TEMP_FAIL_C: Final = 90.0
BOARD_TEMP_WARN_C: Final = 70.0
BOARD_TEMP_FAIL_C: Final = 80.0


def temperature_labels(count: int) -> tuple[str, ...]:
    """What each of `count` 0x42 temperatures measures, in reply order.

    Six (the Active16): BMS board, cell sensors 1-4, MOSFET. Any other count:
    the board first, then cell sensors (a layout we cannot place is not
    guessed to have a MOSFET sensor); a single value is just "sensor 1".
    """
    if count <= 1:
        return tuple(f"sensor {n}" for n in range(1, count + 1))
    cells = count - 2 if count == ACTIVE16_TEMPERATURE_SENSORS else count - 1
    labels = ["BMS board", *(f"cell sensor {n}" for n in range(1, cells + 1))]
    if count == ACTIVE16_TEMPERATURE_SENSORS:
        labels.append("MOSFET")
    return tuple(labels)


# --- Communication ports (manual, Single machine installation, step 5) --------
# "Inverter communication" RJ45 ("COM"): pins 3, 6, 7, 8 are NC, so the battery
# offers no signal ground. Functions are spelt as in active_cli.inverters.PinFunction.
INVERTER_PORT_PINS: Final = ((1, "RS485-B"), (2, "RS485-A"), (4, "CAN-H"), (5, "CAN-L"))
# "BMS parallel (Link in, Link out)" RJ45: pins 3 to 8 NC.
LINK_PORT_PINS: Final = ((1, "CAN-H"), (2, "CAN-L"))

# --- Parallel linking (our documented choices, docs/checks.md) ----------------
# The manual only asks for "consistent" voltages before linking.
PARALLEL_SPREAD_WARN_V: Final = 0.2
PARALLEL_SPREAD_FAIL_V: Final = 0.5
# One pack's resistance in the equalising loop, BMS switches included. The
# manual gives none. Public data sheets of 314 Ah LFP cells give an AC internal
# resistance of about 0.15-0.25 mOhm, so 16 in series are 2.5-4 mOhm; the BMS
# MOSFETs, shunt and busbars add about 1 mOhm. The FAIL decision takes the low
# end (more current: the safe side); the high end is shown as the range.
PACK_INTERNAL_RESISTANCE_OHM: Final = 0.005
PACK_INTERNAL_RESISTANCE_HIGH_OHM: Final = 0.010
# LiFePO4 rest voltage is nearly flat between about 20 and 90 % SOC, so two
# packs a few tens of mV apart can be tens of SOC points apart, and the
# equalising current then flows for a long time. Our choice: warn above 20
# points, fail above 40 (half the flat range).
PARALLEL_SOC_SPREAD_WARN_PCT: Final = 20.0
PARALLEL_SOC_SPREAD_FAIL_PCT: Final = 40.0
# One-way length of the power cable between two linked packs (our choice, an
# option of `check parallel`); the current flows out on + and back on -, so
# both conductors count.
PARALLEL_LINK_CABLE_M: Final = 2.0
# A pack voltage read while more than this flows includes the IR drop and is no
# rest voltage (our choice: 1 A x 10 mOhm = 10 mV, well under the 0.2 V warning).
PARALLEL_REST_CURRENT_A: Final = 1.0

# --- Charge limits a healthy stack should advertise -----------------------------
# The charge voltage limit must stay inside the manual's voltage range.
CHARGE_VOLTAGE_LIMIT_MAX_V: Final = MAX_VOLTAGE_V
DISCHARGE_VOLTAGE_LIMIT_MIN_V: Final = MIN_VOLTAGE_V


def usable_energy_kwh(packs: int) -> float:
    """Usable energy of a stack of `packs` (manual: 14.47 kWh usable per pack)."""
    return USABLE_ENERGY_KWH * packs


def max_stack_current_a(packs: int, *, continuous: bool = True) -> float:
    """The stack's current limit: per-pack limit times pack count."""
    per_pack = RECOMMENDED_CONTINUOUS_CURRENT_A if continuous else MAX_CURRENT_A
    return per_pack * packs
