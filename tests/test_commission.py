"""`active commission` end to end against the simulator (every pack and the inverter
start switched off; the simulator's actuator switches them as the steps ask).

Short settle and timeout windows keep each run to a few seconds.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from active_cli.commissioning.session import Outcome, StepStatus, load_session
from tests.conftest import CliResult

FIXTURES = Path(__file__).parent / "fixtures" / "scenarios"
FAST = ("--yes", "--settle", "2", "--inverter-timeout", "6", "--join-timeout", "4")

Run = Callable[..., CliResult]


def commission(
    run_cli: Run, tmp_path: Path, *args: str, name: str = "s.json"
) -> tuple[CliResult, Path]:
    session = tmp_path / name
    result = run_cli("commission", "--session", str(session), "--no-report", *FAST, *args)
    return result, session


def steps(session: Path) -> dict[str, Any]:
    data = json.loads(session.read_text())
    return {s["id"]: s for s in data["steps"]}


@pytest.mark.parametrize("inverter", ["deye", "growatt-spf", "victron"])
def test_healthy_4_completes(run_cli: Run, tmp_path: Path, inverter: str) -> None:
    result, path = commission(
        run_cli, tmp_path, "--inverter", inverter, "--sim", "healthy-4", "--inverter-power", "8000"
    )
    assert result.exit_code == 0, result.stdout + result.stderr
    session = load_session(path)
    assert session.outcome is Outcome.COMPLETED
    assert all(s.status is not StepStatus.FAIL for s in session.steps)
    assert all(s.status.done for s in session.steps)
    assert len(session.final_packs) == 4 and session.master_address == 1
    assert session.sim_scenario == "healthy-4"
    assert "commissioning complete" in result.stdout.splitlines()[-1]


def test_the_join_log_of_a_healthy_run(run_cli: Run, tmp_path: Path) -> None:
    result, path = commission(run_cli, tmp_path, "--inverter", "deye", "--sim", "healthy-4")
    assert result.exit_code == 0, result.stderr
    session = load_session(path)
    joins = session.joins
    assert [j.position for j in joins] == [1, 2, 3, 4]
    assert [j.address for j in joins] == [1, 2, 3, 4]
    assert all(j.serial and j.firmware and j.voltage_v for j in joins)
    times = [datetime.fromisoformat(j.joined_at) for j in joins]
    assert times == sorted(times) and len(set(times)) == 4
    # The serials that joined are the ones read one by one before linking.
    assert {j.serial for j in joins} == {p.serial for p in session.before_linking}
    assert session.step("inverter").status is StepStatus.OK
    assert session.inverter_setting and "Lithium Mode = 00" in session.inverter_setting


def test_mismatch_stops_before_linking(run_cli: Run, tmp_path: Path) -> None:
    result, path = commission(run_cli, tmp_path, "--inverter", "deye", "--sim", "mismatch")
    assert result.exit_code == 1
    recorded = steps(path)
    assert recorded["before-linking"]["status"] == "fail"
    assert recorded["wiring"]["status"] == "pending"  # nothing after the failure ran
    failed = [f for f in recorded["before-linking"]["findings"] if f["severity"] == "fail"]
    assert any("spread" in f["title"].lower() for f in failed)
    plan = next(f for f in recorded["before-linking"]["findings"] if f["code"] == "parallel.plan")
    assert "pack 3" in plan["fix"] and "charge" in plan["fix"]
    assert json.loads(path.read_text())["outcome"] == "stopped"
    assert result.stdout.splitlines()[-1].startswith("FAIL")
    assert "pack 3" in result.stdout.splitlines()[-1]


def test_silent_inverter_fails_at_the_inverter_step(run_cli: Run, tmp_path: Path) -> None:
    result, path = commission(run_cli, tmp_path, "--inverter", "deye", "--sim", "silent-inverter")
    assert result.exit_code == 1
    recorded = steps(path)
    assert recorded["power-on-batteries"]["status"] == "ok"
    assert recorded["inverter"]["status"] == "fail"
    codes = [f["code"] for f in recorded["inverter"]["findings"]]
    assert "commission.inverter-silent" in codes


def test_duplicate_address_is_caught_when_the_second_pack_joins(
    run_cli: Run, tmp_path: Path
) -> None:
    result, path = commission(run_cli, tmp_path, "--inverter", "deye", "--sim", "duplicate-address")
    assert result.exit_code == 1
    session = load_session(path)
    step = session.step("power-on-batteries")
    assert step.status is StepStatus.FAIL
    taken = next(f for f in step.findings if f.code == "commission.address-taken")
    assert taken.title.startswith("pack 3 ") and "address 2" in taken.title
    assert "pack 2" in taken.title and "address switches" in taken.fix
    assert [j.position for j in session.joins] == [1, 2]


def test_a_pack_that_never_answers_times_out_by_position(run_cli: Run, tmp_path: Path) -> None:
    scenario = FIXTURES / "dead-third-pack.toml"
    result, path = commission(
        run_cli,
        tmp_path,
        "--inverter", "deye", "--sim", str(scenario),
        "--voltages", "53.1,53.1,53.0,53.1",
    )  # fmt: skip
    assert result.exit_code == 1
    session = load_session(path)
    step = session.step("power-on-batteries")
    missing = next(f for f in step.findings if f.code == "commission.pack-missing")
    assert missing.title.startswith("pack 3 did not answer")
    assert "pack 2's Link-out" in missing.fix
    assert [j.position for j in session.joins] == [1, 2]
    assert session.before_linking[0].source == "multimeter"


def test_an_existing_session_file_is_never_overwritten(run_cli: Run, tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text("keep me")
    result = run_cli("commission", "--inverter", "deye", "--sim", "healthy-4", "--yes",
                     "--session", str(path))  # fmt: skip
    assert result.exit_code == 2
    assert path.read_text() == "keep me"


@pytest.mark.parametrize(
    ("content", "why"),
    [
        ("{not json", "JSON"),
        ('{"kind": "something-else"}', "session"),
    ],
)
def test_a_broken_session_is_refused_and_kept(
    run_cli: Run, tmp_path: Path, content: str, why: str
) -> None:
    path = tmp_path / "s.json"
    path.write_text(content)
    result = run_cli("commission", "--resume", str(path), "--sim", "healthy-4", "--yes")
    assert result.exit_code == 4
    assert why.lower() in result.stderr.lower()
    assert path.read_text() == content
    assert "Traceback" not in result.stderr


def test_resume_refuses_other_options(run_cli: Run, tmp_path: Path) -> None:
    result, path = commission(run_cli, tmp_path, "--inverter", "deye", "--sim", "mismatch")
    assert result.exit_code == 1
    before = path.read_text()
    other = run_cli("commission", "--resume", str(path), "--inverter", "victron",
                    "--sim", "mismatch", "--yes")  # fmt: skip
    assert other.exit_code == 2 and "deye" in other.stderr
    other = run_cli("commission", "--resume", str(path), "--sim", "healthy-4", "--yes")
    assert other.exit_code == 2 and "mismatch" in other.stderr
    assert path.read_text() == before


def test_resume_continues_where_it_stopped(run_cli: Run, tmp_path: Path) -> None:
    result, path = commission(run_cli, tmp_path, "--inverter", "deye", "--sim", "silent-inverter")
    assert result.exit_code == 1
    first = load_session(path)
    again = run_cli("commission", "--resume", str(path), "--sim", "silent-inverter", "--no-report",
                    *FAST)  # fmt: skip
    assert again.exit_code == 1  # the inverter is still silent
    second = load_session(path)
    # The packs were not read or switched on again: their records are unchanged.
    assert second.joins == first.joins
    assert second.before_linking == first.before_linking
    assert second.step("inverter").started_at != first.step("inverter").started_at


def test_saved_installer_and_answers_fill_the_site(
    run_cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    saved = run_cli("config", "installer", "--name", "Anna Müller", "--company", "Müller & Söhne")
    assert saved.exit_code == 0, saved.stderr
    answers = tmp_path / "answers.toml"
    answers.write_text(
        '[site]\nticket = "T-42"\nzip_city = "Łódź"\n[inverter]\npower_w = 8000\n',
        encoding="utf-8",
    )
    result, path = commission(
        run_cli, tmp_path, "--inverter", "deye", "--sim", "healthy-1", "--answers", str(answers)
    )
    assert result.exit_code == 0, result.stderr
    site = load_session(path).site
    assert site.installer.name == "Anna Müller" and site.installer.company == "Müller & Söhne"
    assert site.ticket == "T-42" and site.zip_city == "Łódź" and site.inverter_power_w == 8000
    assert site.street is None and site.inverter_serial is None  # not given: left blank


def test_a_bad_answers_file_is_a_data_file_error(run_cli: Run, tmp_path: Path) -> None:
    answers = tmp_path / "answers.toml"
    answers.write_text('[site]\ntikcet = "T-42"\n', encoding="utf-8")
    result, path = commission(
        run_cli, tmp_path, "--inverter", "deye", "--sim", "healthy-1", "--answers", str(answers)
    )
    assert result.exit_code == 4
    assert "ticket" in result.stderr  # did you mean
    assert not path.exists()


def test_commission_writes_the_ticket(run_cli: Run, tmp_path: Path) -> None:
    session = tmp_path / "s.json"
    result = run_cli("commission", "--inverter", "deye", "--sim", "healthy-1",
                     "--session", str(session), *FAST)  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert session.with_suffix(".html").is_file() and session.with_suffix(".pdf").is_file()
    verify = run_cli("report", "verify", str(session.with_suffix(".pdf")), str(session))
    assert verify.exit_code == 0, verify.stdout
