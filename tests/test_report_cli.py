"""`active report` at the command line: outputs, bad inputs (4), no PDF engine (6), fonts."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from active_cli.commissioning.session import save_session
from active_cli.errors import EXIT_BAD_DATA, EXIT_NO_PDF_ENGINE
from active_cli.report.fonts import installed_font_files, uncovered_characters
from tests.conftest import CliResult
from tests.session_samples import sample_session

LINEAR_B = "\U00010000"  # a script no font of the test machine covers


@pytest.fixture
def session_file(tmp_path: Path) -> Path:
    path = tmp_path / "active-session-20261201-093000.json"
    save_session(path, sample_session("healthy-4"))
    return path


def test_html_only(session_file: Path, tmp_path: Path, run_cli: Callable[..., CliResult]) -> None:
    out = tmp_path / "t.html"
    result = run_cli("report", str(session_file), "--html", str(out), "--lang", "de")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == f"html: {out}"
    assert "Allgemeine Schritte" in out.read_text("utf-8")
    assert not (tmp_path / "t.pdf").exists()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--lang", "fr"), "no 'fr' translation"),
        (("--checklist", "nope"), "no built-in checklist"),
        (("--photo", "{session}"), "not an image"),
        (("--photo", "missing.jpg:caption"), "photo not found"),
    ],
)
def test_bad_inputs_exit_4(
    session_file: Path,
    tmp_path: Path,
    run_cli: Callable[..., CliResult],
    args: tuple[str, ...],
    expected: str,
) -> None:
    filled = [a.replace("{session}", str(session_file)) for a in args]
    result = run_cli("report", str(session_file), "--html", str(tmp_path / "t.html"), *filled)
    assert result.exit_code == EXIT_BAD_DATA
    assert expected in result.stderr
    assert not (tmp_path / "t.html").exists()


def test_bad_checklist_file_names_its_line(
    session_file: Path, tmp_path: Path, run_cli: Callable[..., CliResult]
) -> None:
    checklist = tmp_path / "mine.toml"
    checklist.write_text(
        'schema = 1\ntitle = "T"\n[[section]]\nid = "1"\ntitle = "S"\nkind = "checkbox"\n'
        'items = [{ id = "1.1", label = "A", fills = "acceptanse" }]\n',
        encoding="utf-8",
    )
    result = run_cli(
        "report",
        str(session_file),
        "--html",
        str(tmp_path / "t.html"),
        "--checklist",
        str(checklist),
    )
    assert result.exit_code == EXIT_BAD_DATA
    assert f"{checklist}, line 7" in result.stderr and "acceptanse" in result.stderr


def test_a_damaged_session_exits_4(tmp_path: Path, run_cli: Callable[..., CliResult]) -> None:
    bad = tmp_path / "s.json"
    bad.write_text('{"kind": "active-session", "schema_version": 1', encoding="utf-8")
    result = run_cli("report", str(bad), "--html", str(tmp_path / "t.html"))
    assert result.exit_code == EXIT_BAD_DATA and "not a session file" in result.stderr


def test_a_translated_checklist_by_path_needs_no_code(
    session_file: Path, tmp_path: Path, run_cli: Callable[..., CliResult]
) -> None:
    from active_cli.commissioning.checklists import load_checklist

    source = Path(load_checklist("service", lang="de").source).read_text("utf-8")
    mine = tmp_path / "service.nl.toml"
    mine.write_text(
        source.replace('lang = "de"', 'lang = "nl"').replace(
            "Allgemeine Schritte", "Algemene stappen"
        ),
        encoding="utf-8",
    )
    out = tmp_path / "t.html"
    result = run_cli("report", str(session_file), "--html", str(out), "--checklist", str(mine))
    assert result.exit_code == 0, result.stderr
    assert "Algemene stappen" in out.read_text("utf-8")


def test_no_pdf_engine_still_writes_the_html(session_file: Path, tmp_path: Path) -> None:
    # A stand-in for WeasyPrint on a machine without Pango: importing it fails
    # the way cffi fails there. The real package is untouched.
    fake = tmp_path / "fake"
    (fake / "weasyprint").mkdir(parents=True)
    (fake / "weasyprint" / "__init__.py").write_text(
        "raise OSError(\"cannot load library 'libpango-1.0-0': libpango-1.0-0: "
        'cannot open shared object file: No such file or directory")\n',
        encoding="utf-8",
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(fake), os.getcwd()]))
    pdf = tmp_path / "ticket.pdf"
    result = subprocess.run(
        [sys.executable, "-m", "active_cli", "report", str(session_file), "--pdf", str(pdf)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == EXIT_NO_PDF_ENGINE == 6
    assert not pdf.exists()
    assert (tmp_path / "ticket.html").is_file()
    error_line = next(line for line in result.stderr.splitlines() if line.startswith("error:"))
    for needle in ("Pango", "apt install", "brew install pango", "pacman -S"):
        assert needle in error_line
    assert f"html: {tmp_path / 'ticket.html'}" in result.stdout


def test_uncovered_glyphs_are_found() -> None:
    fonts = installed_font_files()
    assert fonts, "the test machine has no fonts at all"
    assert uncovered_characters("Müller & Söhne, Łódź, Ελλάδα", fonts) == []
    assert uncovered_characters(f"ok {LINEAR_B} ok", fonts) == [LINEAR_B]
    assert uncovered_characters(f"x{LINEAR_B}", ()) == [LINEAR_B]


def test_the_cli_warns_about_uncovered_glyphs(
    tmp_path: Path, run_cli: Callable[..., CliResult]
) -> None:
    from dataclasses import replace

    session = sample_session("healthy-1")
    site = replace(session.site, portal_name=f"Portal {LINEAR_B}")
    path = tmp_path / "s.json"
    save_session(path, replace(session, site=site))
    result = run_cli("report", str(path), "--html", str(tmp_path / "t.html"))
    assert result.exit_code == 0
    assert "U+10000" in result.stderr and "fonts-noto" in result.stderr


def test_photos_are_scaled_and_turned_upright(tmp_path: Path) -> None:
    from PIL import Image

    from active_cli.report.photos import MAX_SIDE_PX, load_photo, split_photo_spec

    big = tmp_path / "site:1.jpg"  # a colon in the file's own name
    image = Image.new("RGB", (4000, 3000), (200, 60, 60))
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90° to show upright
    image.save(big, "JPEG", exif=exif)
    assert split_photo_spec(f"{big}:BMS: left side") == (big, "BMS: left side")
    photo = load_photo(f"{big}:BMS: left side")
    assert photo.mime == "image/jpeg" and photo.caption == "BMS: left side"
    assert (photo.width_px, photo.height_px) == (MAX_SIDE_PX * 3 // 4, MAX_SIDE_PX)
    assert len(photo.data) < big.stat().st_size
    assert load_photo(str(big)).caption == big.name
