"""Accessibility, layouts and interaction of the maps and the index in a real browser.

axe-core (no serious or critical WCAG 2.1 A/AA violation) on the index and two
territory maps at 1366x768 and 390x844 with panels closed and open; keyboard-only
use of the "Elenco" and of "Vicino a un comune"; the panels never overlap at
390x844, 1366x768 and 1920x1080; screenshots kept in ``tests/artifacts/``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _axe import assert_no_serious_violations
from test_browser import CHROMIUM_ARGS, _chromium_path

import opportunity_map as om

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "tests" / "artifacts"
SIZES = ((390, 844), (1366, 768), (1920, 1080))
MAPS = ("bergamo", "lecco")
PANELS = (".om-panel, .leaflet-control-layers, .om-present-button")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("a11y")
    om.build(ROOT / "data" / "ambiti", out, baseline="2026-06-30", as_of="2027-12-31",
             seed=1, n_boot=50)
    return out


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    path = _chromium_path()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed")
    if path is None:
        pytest.skip("Chromium is not installed")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _open(chromium: Any, site: Path, name: str, size: tuple[int, int]) -> Any:
    page = chromium.new_page(viewport={"width": size[0], "height": size[1]})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto((site / f"{name}.html").as_uri())
    page.wait_for_function("document.documentElement.hasAttribute('data-om-ready')",
                           timeout=20_000)
    page.om_errors = errors
    return page


def _overlaps(page: Any) -> list[str]:
    return list(page.evaluate("""(sel) => {
        const boxes = [...document.querySelectorAll(sel)].filter(e => {
            const s = getComputedStyle(e);
            return s.display !== 'none' && s.visibility !== 'hidden' && e.offsetParent !== null
                && !e.parentElement.closest('.om-panel');
        }).map(e => [e.className.split(' ').slice(0, 3).join('.'), e.getBoundingClientRect()]);
        const out = [];
        for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
            const a = boxes[i][1], b = boxes[j][1];
            if (a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1
                && b.top < a.bottom - 1) out.push(boxes[i][0] + ' / ' + boxes[j][0]);
        }
        return out;
    }""", PANELS))


@pytest.mark.parametrize("size", [(1366, 768), (390, 844)], ids=["1366", "390"])
@pytest.mark.parametrize("name", ["index", *MAPS])
def test_axe_closed_and_open(chromium: Any, site: Path, name: str,
                             size: tuple[int, int]) -> None:
    page = _open(chromium, site, name, size)
    try:
        assert page.evaluate("document.documentElement.lang") == "it"
        assert page.locator("a.om-skip").count() == 1
        assert page.locator("[role=main][aria-label]").count() == 1
        assert page.locator(".leaflet-control-scale-line").count() == 1  # metric only
        assert "mi" not in page.locator(".leaflet-control-scale").inner_text().split()
        assert_no_serious_violations(page, context=f"{name} {size} chiusi")
        # every panel open (one at a time on the left), the layer control expanded
        sel = "details.om-panel:not([open])"
        for _ in range(page.locator(sel).count()):
            page.locator(sel).first.evaluate("d => d.open = true")
        page.evaluate("document.querySelectorAll('.leaflet-control-layers')"
                      ".forEach(c => c.classList.add('leaflet-control-layers-expanded'))")
        if name != "index":
            page.evaluate("window.opportunityMaps[0].openList()")
            page.evaluate("window.opportunityMaps[0].findNear('Calolziocorte')"
                          if name == "lecco" else "0")
        page.wait_for_timeout(150)
        assert_no_serious_violations(page, context=f"{name} {size} aperti")
        assert page.om_errors == []
    finally:
        page.close()


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_panels_do_not_overlap_and_screenshots(chromium: Any, site: Path,
                                               size: tuple[int, int]) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for name in ["index", *MAPS]:
        page = _open(chromium, site, name, size)
        try:
            assert _overlaps(page) == [], (name, size)
            page.wait_for_timeout(250)
            page.screenshot(path=str(ARTIFACTS / f"{name}_{size[0]}x{size[1]}.png"))
        finally:
            page.close()


def _visible_count(page: Any) -> int:
    text = page.locator(".om-status").first.text_content()
    return int(text.split("Visibili: ")[1].split(" ")[0])


def test_elenco_lists_what_the_map_counts_and_opens_by_keyboard(chromium: Any,
                                                                site: Path) -> None:
    page = _open(chromium, site, "bergamo", (1366, 768))
    try:
        page.keyboard.press("Tab")  # the skip link first
        assert page.evaluate("document.activeElement.className") == "om-skip"
        page.keyboard.press("Enter")
        assert page.locator("details.om-list-panel").evaluate("d => d.open")
        assert page.evaluate("document.activeElement.tagName") == "SUMMARY"
        items = page.locator(".om-elenco-item")
        assert items.count() == _visible_count(page) == 40
        assert page.locator(".om-list-panel h2").count() >= 2
        # the type filter: the list follows the map's count
        options = page.locator("select.om-filter option")
        page.locator("select.om-filter").select_option(options.nth(1).get_attribute("value"))
        n = _visible_count(page)
        assert 0 < n < 40
        assert page.locator(".om-elenco-item").count() == n
        # keyboard: Tab into the list, Enter opens the details, Escape closes
        page.locator(".om-list-panel summary").focus()
        page.keyboard.press("Tab")
        first = page.evaluate("document.activeElement.textContent")
        assert page.evaluate("document.activeElement.classList.contains('om-elenco-item')")
        page.keyboard.press("Enter")
        page.wait_for_selector(".leaflet-popup .om-pop h3")
        assert page.locator(".leaflet-popup .om-pop h3").inner_text() == first
        # focus moves once the popup is open (a frame later on a busy machine)
        page.wait_for_function("document.activeElement.tagName === 'H3'", timeout=5000)
        page.keyboard.press("Escape")
        page.wait_for_selector(".leaflet-popup", state="detached", timeout=5000)
        page.wait_for_function("document.activeElement.classList.contains('om-elenco-item')",
                               timeout=5000)
        assert page.evaluate("document.activeElement.textContent") == first
        # and back: the popup's "Mostra nell'elenco"
        page.keyboard.press("Enter")
        page.locator(".leaflet-popup .om-to-list").click()
        page.wait_for_function("document.activeElement.classList.contains('om-elenco-item')",
                               timeout=5000)
        assert page.evaluate("document.activeElement.textContent") == first
        assert page.om_errors == []
    finally:
        page.close()


def test_finder_by_keyboard_opens_details(chromium: Any, site: Path) -> None:
    page = _open(chromium, site, "lecco", (1366, 768))
    try:
        for _ in range(40):
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.matches('.om-finder summary')"):
                break
        else:
            pytest.fail("Tab never reaches 'Vicino a un comune'")
        page.keyboard.press("Enter")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.matches('.om-finder-input')")
        page.keyboard.type("calolziocorte")
        page.keyboard.press("Enter")
        page.locator(".om-finder-item").first.wait_for()
        page.keyboard.press("ArrowDown")
        page.keyboard.press("Enter")
        page.wait_for_selector(".leaflet-popup .om-pop h3")
        assert page.om_errors == []
    finally:
        page.close()


def test_index_popup_shows_verdict_and_interval(chromium: Any, site: Path) -> None:
    page = _open(chromium, site, "index", (1366, 768))
    try:
        box = page.locator(".om-index-label", has_text="Bergamo").bounding_box()
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] + 25)
        pop = page.locator(".leaflet-popup .om-pop")
        pop.wait_for()
        text = pop.inner_text()
        assert "Esito" in text and "Intervallo di confidenza al 95%" in text
        assert "Apri la mappa del territorio" in text
        # values do not wrap one character per line
        widths = pop.locator("dd").evaluate_all(
            "ds => ds.map(d => d.getBoundingClientRect().width)")
        assert min(widths) > 60
        assert "Esito" in page.locator(".om-index thead").inner_text()
        page.screenshot(path=str(ARTIFACTS / "index_popup_1366x768.png"))
    finally:
        page.close()


def test_tie_hover_and_click(chromium: Any, site: Path) -> None:
    page = _open(chromium, site, "lecco", (1366, 768))
    try:
        found = page.evaluate("""() => {
            const om = window.opportunityMaps[0];
            for (const ri of om.shownTies()) {
                const p = om.tieAt(ri), r = om.map.getContainer().getBoundingClientRect();
                const at = document.elementFromPoint(r.left + p.x, r.top + p.y);
                if (!at || at.closest('.leaflet-control, .leaflet-popup, .leaflet-tooltip')
                    || p.x < 0 || p.y < 0 || p.x > r.width || p.y > r.height) continue;
                if (om.nearestTie(p, 2) === ri) return [p.x, p.y];
            }
            return null;
        }""")
        assert found is not None
        rect = page.locator(".leaflet-container").bounding_box()
        x, y = rect["x"] + found[0], rect["y"] + found[1]
        page.mouse.move(x - 3, y)
        page.mouse.move(x, y)
        tip = page.locator(".leaflet-tooltip .om-tie-tip")
        tip.wait_for()
        assert "Livello" in tip.inner_text() and " — " in tip.inner_text()
        page.mouse.click(x, y)
        pop = page.locator(".leaflet-popup .om-tie-pop")
        pop.wait_for()
        assert "Livello" in pop.inner_text()
        # an organisation of the tie: its ego-network, and a button to clear it
        pop.locator("button.om-link").first.click()
        assert page.locator(".om-ego").is_visible()
        page.locator(".om-ego button").click()
        assert not page.locator(".om-ego").is_visible()
        assert page.om_errors == []
    finally:
        page.close()


def test_presentation_mode(chromium: Any, site: Path) -> None:
    page = chromium.new_page(viewport={"width": 1366, "height": 768})
    try:
        page.goto((site / "bergamo.html").as_uri() + "#presenta")
        page.wait_for_function("document.documentElement.hasAttribute('data-om-ready')")
        assert page.evaluate("document.documentElement.classList.contains('om-presenta')")
        assert not page.locator(".om-tools").is_visible()
        assert page.locator(".om-legend").is_visible()
        page.locator(".om-present-button").click()
        assert page.locator(".om-tools").is_visible()
    finally:
        page.close()


def test_print_and_marker_size(chromium: Any, site: Path) -> None:
    page = _open(chromium, site, "bergamo", (1366, 768))
    try:
        # markers sized by degree: an option, redrawn without errors
        page.get_by_label("Dimensione secondo il numero di legami").check()
        page.wait_for_timeout(100)
        page.get_by_label("Dimensione secondo il numero di legami").uncheck()
        # print: A4 landscape, the map and its legend, nothing overlapping
        page.emulate_media(media="print")
        assert not page.locator(".om-tools").is_visible()
        assert not page.locator(".leaflet-control-layers").is_visible()
        assert page.locator(".om-legend").is_visible()
        assert _overlaps(page) == []
        pdf = page.pdf(prefer_css_page_size=True)
        assert pdf.count(b"/Type /Page") - pdf.count(b"/Type /Pages") == 1
        assert page.om_errors == []
    finally:
        page.close()
