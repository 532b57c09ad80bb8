"""The evaluation report in a real browser: WCAG 2.1 AA (axe-core), keyboard, layout, print.

The report of the bundled data (``data/ambiti``, with the coverage section) is opened
offline in headless Chromium at a laptop, a large and a phone size, and printed to PDF
on A4. Skipped when Chromium, playwright, axe-core or poppler-utils are missing,
unless ``CI`` is ``"true"``: then they are mandatory and fail (see ``tests/_axe.py``
and ``.ci/run``). Screenshots and the PDF go to ``$OPPORTUNITY_MAP_ARTIFACTS``
(default: ``tests/artifacts``, git-ignored).
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _axe import assert_no_serious_violations

import opportunity_map as om
from opportunity_map import report

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = Path(os.environ.get("OPPORTUNITY_MAP_ARTIFACTS") or REPO / "tests" / "artifacts")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update"]
SIZES = {"390x844": (390, 844), "1366x768": (1366, 768), "1920x1080": (1920, 1080)}
VERDICTS = tuple(report.VERDICT_LABELS.values())


def _required() -> bool:
    return os.environ.get("CI") == "true"


def _missing(what: str) -> None:
    if _required():
        pytest.fail(f"CI=true: {what} is required for the report's browser tests")
    pytest.skip(f"{what} is not installed")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("the playwright package")
    candidates = [os.environ.get("CHROMIUM_PATH"), "/usr/bin/chromium",
                  shutil.which("chromium"), shutil.which("chromium-browser")]
    path = next((c for c in candidates if c and Path(c).exists()), None)
    if path is None:
        _missing("Chromium (apt-get install chromium)")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def evaluation_html(tmp_path_factory: pytest.TempPathFactory) -> Path:
    m = om.load(REPO / "data" / "ambiti")
    ev = om.evaluate(m, baseline="2026-06-30", as_of="2027-12-31", seed=1, n_boot=200)
    gaps = om.coverage(m, as_of="2027-12-31")
    path = tmp_path_factory.mktemp("rapporto") / "evaluation.html"
    path.write_text(report.render_html(ev, coverage=gaps), encoding="utf-8")
    return path


@pytest.fixture
def open_report(browser: Any, evaluation_html: Path) -> Iterator[Any]:
    contexts = []

    def open_at(size: str) -> Any:
        width, height = SIZES[size]
        context = browser.new_context(viewport={"width": width, "height": height})
        contexts.append(context)
        context.set_offline(True)
        page = context.new_page()
        page.goto(evaluation_html.as_uri())
        return page

    yield open_at
    for context in contexts:
        context.close()


def _rows(page: Any) -> list[dict[str, Any]]:
    """Name, change and verdict of every row of the results table, with the verdict box."""
    return list(page.evaluate("""() => [...document.querySelectorAll(
        "table.results tbody tr")].map(tr => {
            const cell = tr.querySelector("td[class*='v-']");
            const box = cell.getBoundingClientRect();
            const change = [...tr.cells].find(c => c.dataset.label === "Variazione %");
            return {name: tr.querySelector("th").textContent.trim(),
                    verdict: cell.textContent.trim(), change: change.textContent.trim(),
                    left: box.left, right: box.right, width: box.width,
                    visible: getComputedStyle(cell).display !== "none"};
        })"""))


@pytest.mark.parametrize("size", list(SIZES))
def test_report_axe_and_screenshots(open_report: Any, size: str) -> None:
    page = open_report(size)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"rapporto_{size}.png"))
    page.screenshot(path=str(ARTIFACTS / f"rapporto_{size}_intera.png"), full_page=True)
    assert_no_serious_violations(page, context=f"rapporto {size}")
    # every <details> open too: the tables inside are checked as well
    page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
    assert_no_serious_violations(page, context=f"rapporto {size}, dettagli aperti")


def test_report_landmarks_and_headings(open_report: Any) -> None:
    page = open_report("1366x768")
    assert page.evaluate("document.documentElement.lang") == "it"
    for selector in ("header h1", "main", "body > footer", "table.results caption"):
        assert page.locator(selector).count() == 1, selector
    levels = page.evaluate("""() => [...document.querySelectorAll("h1,h2,h3,h4")]
        .map(h => Number(h.tagName[1]))""")
    assert levels[0] == 1 and levels.count(1) == 1
    assert all(b - a <= 1 for a, b in itertools.pairwise(levels))
    headers = page.locator("table.results thead th")
    assert all(scope == "col" for scope in headers.evaluate_all(
        "ths => ths.map(th => th.getAttribute('scope'))"))
    assert page.locator("svg[role='img']").count() == 1 + page.locator(".multiples svg").count()


def test_skip_link_is_first_and_moves_focus_to_the_results(open_report: Any) -> None:
    page = open_report("1366x768")
    page.keyboard.press("Tab")
    focused = page.evaluate("[document.activeElement.className, "
                            "document.activeElement.textContent]")
    assert focused == ["skip", "Vai alla tabella dei risultati"]
    box = page.locator("a.skip").bounding_box()
    assert box is not None and box["y"] >= 0  # shown when focused
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"  # visible focus
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "risultati"
    table = page.locator("table.results").bounding_box()
    assert table is not None and 0 <= table["y"] < 768


@pytest.mark.parametrize("size", ["1366x768", "1400x900", "1920x1080"])
def test_results_table_fits_with_the_verdict_visible(browser: Any, evaluation_html: Path,
                                                     size: str) -> None:
    width, height = (int(n) for n in size.split("x"))
    context = browser.new_context(viewport={"width": width, "height": height})
    try:
        page = context.new_page()
        page.goto(evaluation_html.as_uri())
        scroll = page.evaluate("""() => { const s = document.getElementById("risultati");
            return [s.scrollWidth, s.clientWidth, document.documentElement.scrollWidth]; }""")
        assert scroll[0] <= scroll[1] and scroll[2] <= width, scroll
        rows = _rows(page)
        assert len(rows) == 12
        for row in rows:
            assert row["verdict"] in VERDICTS
            assert row["left"] >= 0 and row["right"] <= width and row["width"] > 0, row
    finally:
        context.close()


def test_phone_reflows_the_tables_and_keeps_the_verdict(open_report: Any) -> None:
    page = open_report("390x844")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    rows = _rows(page)
    assert len(rows) == 12
    for row in rows:
        assert row["visible"] and row["verdict"] in VERDICTS
        assert row["left"] >= 0 and row["right"] <= 390, row
    label = page.evaluate("""getComputedStyle(document.querySelector(
        "table.results td[class*='v-']"), "::before").content""")
    assert label == '"Esito"'


def _pdf_text(page: Any, name: str, **options: Any) -> tuple[str, Path]:
    if shutil.which("pdftotext") is None:
        _missing("poppler-utils (pdftotext)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pdf = ARTIFACTS / f"{name}.pdf"
    page.pdf(path=str(pdf), format="A4", print_background=True, **options)
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True,
                          capture_output=True, text=True).stdout
    return text, pdf


def _page_size(pdf: Path) -> tuple[float, float]:
    info = subprocess.run(["pdfinfo", str(pdf)], check=True, capture_output=True,
                          text=True).stdout
    found = re.search(r"Page size:\s+([\d.]+) x ([\d.]+)", info)
    assert found is not None
    return float(found[1]), float(found[2])


@pytest.mark.parametrize("landscape", [True, False], ids=["landscape", "portrait"])
def test_printed_report_has_every_verdict(open_report: Any, landscape: bool) -> None:
    """Printed on A4 (the report's landscape @page, or portrait when a reader's
    settings override it), every row of the results table keeps its verdict on the same line
    as its territory and change: the table is never cut on the right."""
    page = open_report("1366x768")
    rows = _rows(page)
    name = "rapporto_stampa" + ("" if landscape else "_verticale")
    if not landscape:  # a reader's own print setting overriding the report's @page
        page.add_style_tag(content="@page { size: A4 portrait; }")
    text, pdf = _pdf_text(page, name, prefer_css_page_size=True)
    width, height = _page_size(pdf)
    assert (width > height) == landscape
    lines = text.splitlines()
    found = 0
    for row in rows:
        # a long name wraps in its cell: its first word starts the row's line
        first = row["name"].split()[0]
        pattern = re.compile(rf"^\s*{re.escape(first)}\b.*?\s{re.escape(row['verdict'])}"
                             rf"\s+{re.escape(row['change'])}\s")
        hits = [line for line in lines if pattern.search(line)]
        assert hits, f"row {row['name']} ({row['verdict']}) not printed whole"
        found += 1
    assert found == len(rows) == 12
    # the last column's header and the second table are printed too
    assert "Note" in text and "Altri indicatori per territorio" in text
    # <details> are printed open: the semester tables and the coverage tables
    assert "Legami panel" in text and "Quota della popolazione" in text
    if landscape and shutil.which("pdftoppm"):
        subprocess.run(["pdftoppm", "-r", "60", "-png", "-f", "1", "-l", "1", str(pdf),
                        str(ARTIFACTS / "rapporto_stampa_p")], check=True)


def test_heat_maps_show_two_decimals(evaluation_html: Path) -> None:
    text = evaluation_html.read_text(encoding="utf-8")
    cells = re.findall(r'<td(?: class="light")? style="background: #[0-9a-f]{6}">([^<]*)</td>',
                       text)
    assert cells
    assert all(re.fullmatch(r"0|1,00|0,\d\d|&lt;0,01", c) for c in cells), set(cells)
