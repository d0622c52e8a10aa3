"""The one TOML reader: typed getters with ranges, "did you mean", file, line and key."""

from __future__ import annotations

import math
from importlib import resources
from pathlib import Path

import pytest

from active_cli.datafile import DataDocument, DataTable, key_lines, line_of
from active_cli.errors import EXIT_BAD_DATA, DataFileError

SITE = """\
name = "site"
packs = 3

[rs485]
baud = 9600
latency_ms = 20

[pack.2]
soc_pct = 55.5
cells_mv = { 3 = 3300, 7 = 3100 }
serial = "ACT1"

[[quirks]]
code = "a"
sources = ["x", "y"]

[[quirks]]
code = "b"
[quirks.detail]
level = 2
"""


def doc(text: str = SITE, what: str = "scenario") -> DataTable:
    return DataDocument.parse(text, source="site.toml", what=what).root


def failure(call: object) -> DataFileError:
    assert callable(call)
    with pytest.raises(DataFileError) as info:
        call()
    assert info.value.exit_code == EXIT_BAD_DATA
    return info.value


# --- one wording ------------------------------------------------------------------------


def test_an_error_names_file_line_and_full_key_in_one_wording() -> None:
    pack = doc().get_table("pack").get_table("2")
    error = failure(lambda: pack.get_float("soc_pct", max=50))
    assert str(error) == "site.toml, line 9, key 'pack.2.soc_pct': must be at most 50, got 55.5"
    assert (error.path, error.line, error.key) == ("site.toml", 9, "pack.2.soc_pct")


def test_unknown_key_suggests_the_closest_and_lists_the_known_ones() -> None:
    doc().get_table("rs485").check_keys(("baud", "latency_ms", "parity"))  # all known: fine
    text = "packs = 2\n[pack.2]\nsoc_pc = 50\n"
    error = failure(lambda: doc(text).get_table("pack").get_table("2").check_keys(("soc_pct",)))
    assert str(error) == (
        "site.toml, line 3, key 'pack.2.soc_pc': unknown key 'soc_pc' in [pack.2]; "
        "did you mean 'soc_pct'?"
    )
    assert error.hint == "known keys here: soc_pct"
    error = failure(lambda: doc("zzz = 1\n").check_keys(("name", "packs")))
    assert error.reason == "unknown key 'zzz' at the top level" and error.line == 1


def test_missing_required_key_points_at_its_table() -> None:
    error = failure(lambda: doc().get_table("rs485").get_str("protocol"))
    assert error.key == "rs485.protocol" and error.line == 4
    assert error.reason == "missing key 'protocol' in [rs485]"
    error = failure(lambda: doc().get_int("seed"))
    assert error.reason == "missing key 'seed' at the top level" and error.line is None


# --- getters ----------------------------------------------------------------------------


def test_defaults_apply_only_when_the_key_is_absent() -> None:
    root = doc()
    assert root.get_int("packs", 1, min=1, max=16) == 3
    assert root.get_int("seed", 7) == 7
    assert root.get_str("description", "") == ""
    assert root.get_bool("present", True) is True
    assert root.get_float("x", 2) == 2.0 and isinstance(root.get_float("x", 2), float)
    assert root.opt_int("seed") is None and root.opt_str("name") == "site"
    assert root.opt_float("nothing") is None and root.opt_bool("nothing") is None
    # A default never hides a bad value that is present.
    failure(lambda: root.get_int("name", 1))


@pytest.mark.parametrize(
    ("text", "call", "reason"),
    [
        ('n = "fast"', lambda t: t.get_int("n"), "expected an integer, got the string 'fast'"),
        (
            "n = 2.0",
            lambda t: t.get_int("n", min=1, max=16),
            "expected an integer between 1 and 16",
        ),
        ("n = true", lambda t: t.get_int("n", min=1), "expected a positive whole number, got true"),
        ("n = 17", lambda t: t.get_int("n", min=1, max=16), "must be between 1 and 16, got 17"),
        ("n = -1", lambda t: t.get_int("n", min=0), "must be at least 0, got -1"),
        (
            "n = 9601",
            lambda t: t.get_int("n", choices=(9600, 19200)),
            "one of 9600, 19200; 9601 is not",
        ),
        ("x = true", lambda t: t.get_float("x"), "expected a number, got true/false"),
        ("x = nan", lambda t: t.get_float("x", min=0, max=1), "must be between 0 and 1, got nan"),
        ("x = inf", lambda t: t.get_float("x"), "must be a finite number, got inf"),
        ("x = -inf", lambda t: t.get_float("x", max=3), "must be at most 3, got -inf"),
        ("x = 1.5", lambda t: t.get_float("x", min=0.0, max=1.0), "between 0 and 1, got 1.5"),
        ("b = 1", lambda t: t.get_bool("b"), "expected true or false, got the integer 1"),
        ("s = 3", lambda t: t.get_str("s"), "expected a string, got the integer 3"),
        ('s = " "', lambda t: t.get_str("s", min_len=1), "must not be empty"),
        ('s = "abcdef"', lambda t: t.get_str("s", max_len=4, min_len=1), "must be 1..4 characters"),
        ('s = "café"', lambda t: t.get_str("s", ascii_only=True), "printable ASCII"),
        (
            's = "pylon-v2"',
            lambda t: t.get_str("s", choices=("pylon-v1.2", "pylon-v1.3")),
            "one of",
        ),
        ("l = 3", lambda t: t.get_str_list("l"), "expected an array of strings"),
        ('l = ["a", 2]', lambda t: t.get_str_list("l"), "expected a string, got the integer 2"),
        ('l = ["a", ""]', lambda t: t.get_str_list("l"), "must not be empty"),
        ("l = [1, 2]", lambda t: t.get_int_list("l", length=16), "array of 16 integers, got 2"),
        ("l = [1, 0.5]", lambda t: t.get_int_list("l"), "expected an integer, got the number"),
        ("l = [1, 900]", lambda t: t.get_int_list("l", min=-5, max=5), "between -5 and 5"),
        ("t = 3", lambda t: t.get_table("t"), "expected a table ([t]), got the integer 3"),
        ("t = [1]", lambda t: t.get_tables("t"), "expected an array of tables ([[t]])"),
        ("t = {a = 1}", lambda t: t.get_tables("t"), "got a table"),
    ],
)
def test_typed_getters_refuse_wrong_types_and_ranges(text: str, call: object, reason: str) -> None:
    root = doc(text + "\n")
    assert callable(call)
    error = failure(lambda: call(root))
    assert reason in error.reason, error.reason
    assert error.line == 1


def test_values_come_back_typed() -> None:
    root = doc('i = 5\nf = 5\nl = ["a", "b"]\nn = [1, 2]\nflag = false\n')
    assert root.get_int("i", min=0, max=5) == 5
    value = root.get_float("f", min=5, max=5)
    assert value == 5.0 and isinstance(value, float) and math.isfinite(value)
    assert root.get_str_list("l") == ("a", "b") and root.get_str_list("none", ("z",)) == ("z",)
    assert root.get_int_list("n", min=1, max=2, length=2) == (1, 2)
    assert root.get_bool("flag") is False


def test_a_wrong_choice_suggests_the_nearest() -> None:
    error = failure(lambda: doc('p = "pylon-v1.4"\n').get_str("p", choices=("pylon-v1.2", "pace")))
    assert (
        error.reason == "must be one of 'pylon-v1.2', 'pace'; 'pylon-v1.4' is not one of them; "
        "did you mean 'pylon-v1.2'?"
    )


# --- tables -----------------------------------------------------------------------------


def test_tables_know_their_paths_and_lines() -> None:
    root = doc()
    assert root.get_table("missing").keys() == () and len(root.get_table("missing")) == 0
    pack = root.get_table("pack")
    assert pack.keys() == ("2",) and list(pack) == ["2"] and pack.has("2") and not pack.has("1")
    cells = pack.get_table("2").get_table("cells_mv")
    assert cells.path == "pack.2.cells_mv" and cells.get_int("7") == 3100
    assert failure(lambda: cells.get_int("7", max=3000)).line == 10
    quirks = root.get_tables("quirks")
    assert [q.path for q in quirks] == ["quirks[0]", "quirks[1]"]
    assert failure(lambda: quirks[1].get_int("code")).line == 18
    bad_source = quirks[0].error("sources[1]", "not listed")
    assert bad_source.key == "quirks[0].sources[1]" and bad_source.line == 15
    detail = quirks[1].get_table("detail")
    assert failure(lambda: detail.get_int("level", max=1)).line == 20
    assert root.get_tables("nothing") == ()
    assert root.get_table("rs485").error("", "whole table").key == "rs485"
    assert root.raw("packs") == 3 and root.raw("nothing") is None


def test_require_table() -> None:
    assert doc().require_table("rs485").get_int("baud") == 9600
    assert (
        failure(lambda: doc().require_table("can")).reason == "missing key 'can' at the top level"
    )


# --- reading files ----------------------------------------------------------------------


def test_read_a_file_and_a_packaged_resource(tmp_path: Path) -> None:
    path = tmp_path / "site.toml"
    path.write_text(SITE, encoding="utf-8")
    document = DataDocument.read(path, what="scenario")
    assert document.source == str(path) and document.root.get_str("name") == "site"
    resource = resources.files("active_cli.sim") / "scenarios" / "healthy-4.toml"
    assert DataDocument.read(resource, what="scenario").root.has("packs")


def test_unreadable_file(tmp_path: Path) -> None:
    error = failure(lambda: DataDocument.read(tmp_path, what="scenario"))
    assert error.path == str(tmp_path) and "cannot be read" in error.reason
    error = failure(lambda: DataDocument.read(tmp_path / "nope.toml", what="scenario"))
    assert "cannot be read" in error.reason


def test_not_utf8_names_the_byte_and_line(tmp_path: Path) -> None:
    path = tmp_path / "deye.toml"
    path.write_bytes(b'id = "deye"\nbrand = "Dey\xe9"\n')
    error = failure(lambda: DataDocument.read(path, what="inverter profile"))
    assert error.reason == "not UTF-8 text (byte 24): save the inverter profile as UTF-8"
    assert error.line == 2


@pytest.mark.parametrize(
    ("text", "line"),
    [("packs = \n", 1), ("packs = 2\n[faults\nnoise_rate = 0.1\n", 2), ('a = "1"\na = "2"\n', 2)],
)
def test_toml_syntax_error_keeps_the_line(text: str, line: int) -> None:
    error = failure(lambda: DataDocument.parse(text, source="x.toml", what="checklist"))
    assert error.line == line and f"x.toml, line {line}: TOML syntax error (" in str(error)
    assert error.reason.endswith("the checklist is not valid TOML")
    assert "(at line" not in error.reason  # said once, in the prefix


# --- the line map -----------------------------------------------------------------------


def test_key_lines_walks_tables_arrays_inline_tables_and_strings() -> None:
    text = (
        'a = 1\n[t]\nx.value = 2\nx.sources = ["s"]\n[[t.p]]\nk = 1\n[[t.p]]\nk = 2\n'
        '[t.p.sub]\nz = 1\nd = """\nfake = 1\n"""\ne = [\n  { m = 1 },\n  { m = 2 },\n]\n'
    )
    lines = key_lines(text)
    assert line_of(lines, "a") == 1
    assert line_of(lines, "t.x.sources[0]") == 4
    assert line_of(lines, "t.x.note") == 3  # missing: the fact's first line
    assert line_of(lines, "t.p[1].k") == 8
    assert line_of(lines, "t.p[1].sub.z") == 10  # [t.p.sub] belongs to the latest [[t.p]]
    assert "t.p[1].sub.fake" not in lines and "t.p[1].fake" not in lines
    assert line_of(lines, "t.p[1].sub.e[1].m") == 16
    assert line_of(lines, "t.missing") == 2
    assert line_of(lines, "nowhere") is None


# --- every data file reads through it -----------------------------------------------------


def test_scenarios_and_profiles_share_the_wording(tmp_path: Path) -> None:
    from active_cli.inverters import load_profile_file
    from active_cli.sim.scenario import load_scenario, parse_scenario

    error = failure(lambda: parse_scenario('[can]\nprofile = "pylon-v2.0"\n', source="s.toml"))
    assert str(error) == (
        "s.toml, line 2, key 'can.profile': must be one of 'pylon-v1.2', 'pylon-v1.3'; "
        "'pylon-v2.0' is not one of them; did you mean 'pylon-v1.3'?"
    )
    latin1 = tmp_path / "site.toml"
    latin1.write_bytes(b'packs = 2\nname = "caf\xe9"\n')
    error = failure(lambda: load_scenario(latin1))
    assert error.line == 2 and error.reason.endswith("save the scenario as UTF-8")
    profile = tmp_path / "deye.toml"
    profile.write_text('id = "deye"\nbrnd = "Deye"\n', encoding="utf-8")
    error = failure(lambda: load_profile_file(profile))
    assert str(error) == (
        f"{profile}, line 2, key 'brnd': unknown key 'brnd' at the top level; did you mean 'brand'?"
    )


def test_names_from_the_file_cannot_act_on_a_terminal() -> None:
    root = doc('["\\u001b[2J"]\nsoc = 1\n')
    table = root.get_table("\x1b[2J")
    error = failure(lambda: table.check_keys(("soc_pct",)))
    assert "\x1b" not in error.reason and "\\x1b[2J" in error.reason
    assert "\x1b" not in str(error)  # the key is shown through repr()
    error = failure(lambda: table.get_table("soc"))
    assert "\x1b" not in error.reason
