"""`active report`: a 16-pack and a 4-pack ticket rendered once each, checked as a reader would.

The PDF's text (pypdf) and its page images (pypdfium2) are checked, not only
the HTML: the ticket is what the manufacturer receives.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from html.parser import HTMLParser
from pathlib import Path

import pypdf
import pytest

from active_cli.commissioning.checklists import load_checklist
from active_cli.commissioning.session import Session, save_session
from active_cli.report import TicketFiles, write_ticket
from tests.conftest import CliResult
from tests.session_samples import HOSTILE, sample_session

A4_WIDTH_PT = 595.28
RIGHT_MARGIN_PT = 10 * 72 / 25.4  # @page margin in ticket.css


@dataclass(frozen=True)
class Rendered:
    session: Session
    session_path: Path
    files: TicketFiles
    html: str
    pdf_pages: tuple[str, ...]


# Written by `active commission --inverter deye --sim healthy-4 --yes --settle 2`:
# the record as the real command fills it, findings, evidence and all.
RECORDED_4 = Path(__file__).parent / "fixtures" / "sessions" / "healthy-4-deye.json"


def _render(tmp: Path, session: Session, *, bundle: bool, photo: bool) -> Rendered:
    session_path = tmp / "session.json"
    save_session(session_path, session)
    specs: tuple[str, ...] = ()
    if photo:
        _png(tmp / "bms.png")
        specs = (f"{tmp / 'bms.png'}:BMS connection área",)
    files = write_ticket(
        session_path,
        html_path=tmp / "ticket.html",
        pdf_path=tmp / "ticket.pdf",
        bundle_path=tmp / "ticket.zip" if bundle else None,
        photo_specs=specs,
    )
    reader = pypdf.PdfReader(tmp / "ticket.pdf")
    pages = tuple(page.extract_text() for page in reader.pages)
    return Rendered(session, session_path, files, (tmp / "ticket.html").read_text("utf-8"), pages)


def _png(path: Path) -> None:
    from PIL import Image

    Image.new("RGB", (640, 480), (40, 120, 200)).save(path, "PNG")


@pytest.fixture(scope="module")
def sixteen(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    session = sample_session("healthy-16", hostile=True)
    return _render(tmp_path_factory.mktemp("t16"), session, bundle=True, photo=True)


@pytest.fixture(scope="module")
def four(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    from active_cli.commissioning.session import load_session

    session = load_session(RECORDED_4)
    return _render(tmp_path_factory.mktemp("t4"), session, bundle=False, photo=False)


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_pdf_text_has_every_item_and_every_serial(sixteen: Rendered) -> None:
    text = _squash("\n".join(sixteen.pdf_pages))
    checklist = load_checklist("service")
    for section in checklist.sections:
        if section.kind == "issues":
            continue
        assert _squash(f"{section.id}. {section.title}") in text
        for item in section.items:
            if section.kind == "checkbox":
                assert _squash(f"{item.id} {item.label}") in text, item.id
            else:
                assert _squash(item.label) in text, item.id
    serials = [p.serial for p in sixteen.session.final_packs]
    assert len(serials) == 16
    for serial in serials:
        assert serial is not None and _squash(serial.replace("\x1b", "\\x1b")) in text


class _Items(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.items: list[str] = []
        self.steps: list[str] = []
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "script":
            self.scripts += 1
        if found.get("data-item"):
            self.items.append(str(found["data-item"]))
        if found.get("data-step"):
            self.steps.append(str(found["data-step"]))


def test_html_parser_finds_every_item_and_step(sixteen: Rendered) -> None:
    parser = _Items()
    parser.feed(sixteen.html)
    checklist = load_checklist("service")
    expected = [i.id for s in checklist.sections if s.kind != "issues" for i in s.items]
    assert parser.items == expected
    assert parser.steps == [s.id for s in sixteen.session.steps]
    assert parser.scripts == 0  # the hostile <script> did not become an element


def test_hostile_text_is_escaped_in_html_and_literal_in_pdf(sixteen: Rendered) -> None:
    html = sixteen.html
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert "\x1b" not in html and "\\x1b[2J" in html
    assert "{{ 7*7 }}" in html
    text = _squash("\n".join(sixteen.pdf_pages))
    assert _squash("<script>alert('x')</script>") in text
    assert _squash('"q" {{ 7*7 }} \\x1b[2J') in text
    assert "\x1b" not in text


def test_names_in_other_scripts_print_correctly(sixteen: Rendered) -> None:
    text = "\n".join(sixteen.pdf_pages)
    for name in ("Müller & Söhne", "Łódź", "Ελλάδα", "Zoë Kowalczyk"):
        assert name in text
    assert not [w for w in sixteen.files.warnings if "font" in w]  # every glyph is covered


def test_footer_on_every_page(sixteen: Rendered) -> None:
    from active_cli.report.verify import file_sha256

    sha = file_sha256(sixteen.session_path)
    assert len(sixteen.pdf_pages) >= 2
    for n, page in enumerate(sixteen.pdf_pages, start=1):
        assert "SYS-2026-0042" in page
        assert sha in _squash(page)
        assert "active 0.1.0" in page
        assert f"Page {n} of {len(sixteen.pdf_pages)}" in page
        assert "SIMULATED" in page


def test_four_pack_ticket_fits_three_pages(four: Rendered) -> None:
    assert len(four.session.final_packs) == 4 and four.session.outcome.value == "completed"
    assert 1 <= len(four.pdf_pages) <= 3
    text = _squash("\n".join(four.pdf_pages))
    for pack in four.session.final_packs:
        assert pack.serial is not None and pack.serial in text


def _ink_in_margins(pdf: Path) -> list[str]:
    """Pages with anything drawn in the left or right page margin (a table cut at the edge)."""
    import pypdfium2

    problems = []
    document = pypdfium2.PdfDocument(pdf)
    try:
        for index in range(len(document)):
            page = document[index]
            image = page.render(scale=1).to_pil().convert("L")
            width, height = image.size
            # Each margin minus 2 pt of anti-aliasing: nothing may be drawn there.
            right = image.crop((int(width - RIGHT_MARGIN_PT + 2), 0, width, height))
            left = image.crop((0, 0, int(RIGHT_MARGIN_PT - 2), height))
            for side, strip in (("right", right), ("left", left)):
                if strip.getextrema()[0] < 250:
                    problems.append(f"page {index + 1}: ink in the {side} margin")
    finally:
        document.close()
    return problems


def test_no_table_is_cut_at_the_page_edge(sixteen: Rendered, four: Rendered) -> None:
    for rendered in (sixteen, four):
        assert rendered.files.pdf is not None
        assert _ink_in_margins(rendered.files.pdf) == []


def test_the_margin_check_sees_a_table_too_wide_for_the_page(tmp_path: Path) -> None:
    from active_cli.report.pdf import render_pdf

    html = (
        "<style>@page { size: A4; margin: 11mm }</style>"
        '<table style="width: 200mm; border: 1pt solid black"><tr><td>wide</td></tr></table>'
    )
    pdf = tmp_path / "wide.pdf"
    pdf.write_bytes(render_pdf(html))
    assert _ink_in_margins(pdf) == ["page 1: ink in the right margin"]


def test_photo_is_embedded(sixteen: Rendered) -> None:
    assert "data:image/png;base64," in sixteen.html
    assert "BMS connection área" in sixteen.html
    assert "http" not in re.sub(r"http://enershare\.cn", "", sixteen.html)  # no external asset


def test_bundle_holds_everything(sixteen: Rendered) -> None:
    assert sixteen.files.bundle is not None
    with zipfile.ZipFile(sixteen.files.bundle) as archive:
        names = set(archive.namelist())
        manifest = archive.read("MANIFEST.txt").decode()
        assert archive.read("session/session.json") == sixteen.session_path.read_bytes()
    assert {"ticket.html", "ticket.pdf", "photos/bms.png", "MANIFEST.txt"} <= names
    assert "missing  captures/capture-can.log" in manifest
    assert sixteen.files.missing_captures == ("capture-can.log",)


def test_verify_passes_on_its_pair_and_fails_after_one_byte(
    sixteen: Rendered, tmp_path: Path, run_cli: Callable[..., CliResult]
) -> None:
    assert sixteen.files.pdf is not None
    ok = run_cli("report", "verify", str(sixteen.files.pdf), str(sixteen.session_path))
    assert ok.exit_code == 0 and ok.stdout.startswith("OK")
    assert (
        run_cli("report", "verify", str(sixteen.files.html), str(sixteen.session_path)).exit_code
        == 0
    )
    changed = tmp_path / "session.json"
    data = bytearray(sixteen.session_path.read_bytes())
    at = data.index(b'"voltage_v": 5') + len(b'"voltage_v": 5')
    data[at] = ord("9") if data[at] != ord("9") else ord("8")
    changed.write_bytes(bytes(data))
    bad = run_cli("report", "verify", str(sixteen.files.pdf), str(changed))
    assert bad.exit_code == 1 and bad.stdout.startswith("MISMATCH")
    not_ticket = run_cli("report", "verify", str(sixteen.session_path), str(changed))
    assert not_ticket.exit_code == 4


def test_simulated_marker_only_for_simulated_sessions(tmp_path: Path) -> None:
    real = replace(sample_session("healthy-1"), sim_scenario=None)
    path = tmp_path / "real.json"
    save_session(path, real)
    files = write_ticket(path, html_path=tmp_path / "real.html")
    html = (tmp_path / "real.html").read_text("utf-8")
    assert files.pdf is None and "SIMULATED" not in html
    assert HOSTILE not in html
