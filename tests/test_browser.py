"""The rendered maps in a real browser (headless Chromium), with the network off.

Skipped when Chromium (or the playwright package) is missing, unless the
environment variable ``CI`` is ``"true"``: then they are mandatory and fail.
Chromium is the system one (``apt-get install chromium``), never downloaded by
playwright; set ``CHROMIUM_PATH`` to use another binary. Screenshots go to
``$OPPORTUNITY_MAP_ARTIFACTS`` (default: ``<tmp>/opportunity_map_artifacts``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from _map_factory import (
    AS_OF,
    BASELINE,
    PAYLOADS,
    actor_records,
    build_map,
    injection_map,
    tie_rows,
)

from opportunity_map.maps import build_map_data, render_index, render_map, save_maps

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
TERRITORIES = ("bergamo", "lecco", "lodi")
ARTIFACTS = Path(os.environ.get("OPPORTUNITY_MAP_ARTIFACTS")
                 or Path(tempfile.gettempdir()) / "opportunity_map_artifacts")

# Every way a payload could run: dialogs, and a global flag some payloads set.
INIT_SCRIPT = """
window.__executed = [];
for (const name of ["alert", "confirm", "prompt"]) {
  window[name] = function (msg) { window.__executed.push(name + ":" + String(msg)); };
}
"""


def _chromium_path() -> str | None:
    candidates = [os.environ.get("CHROMIUM_PATH"), "/usr/bin/chromium",
                  shutil.which("chromium"), shutil.which("chromium-browser")]
    return next((c for c in candidates if c and Path(c).exists()), None)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    required = os.environ.get("CI") == "true"
    path = _chromium_path()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if required:
            pytest.fail("CI=true: the playwright package is required for the browser tests")
        pytest.skip("playwright is not installed")
    if path is None:
        if required:
            pytest.fail("CI=true: Chromium is required (apt-get install chromium)")
        pytest.skip("Chromium is not installed")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@dataclass
class Session:
    """A page opened offline, with everything that went wrong recorded."""

    page: Any
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def problems(self, *, allow_blocked: tuple[str, ...] = ()) -> list[str]:
        blocked = [u for u in self.blocked if not u.startswith(allow_blocked)]
        failed = [u for u in self.failed if not u.startswith(allow_blocked)]
        console = [e for e in self.console_errors
                   if not (allow_blocked and "net::ERR_" in e)]
        return ([f"console: {e}" for e in console] + [f"js: {e}" for e in self.page_errors]
                + [f"failed: {u}" for u in failed] + [f"blocked: {u}" for u in blocked]
                + [f"dialog: {d}" for d in self.dialogs])

    def api(self, expression: str) -> Any:
        return self.page.evaluate(f"(() => {{ const om = window.opportunityMaps[0]; "
                                  f"return {expression}; }})()")


@pytest.fixture
def open_offline(browser: Any) -> Iterator[Any]:
    contexts = []

    def open_page(path: Path) -> Session:
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        contexts.append(context)
        context.set_offline(True)
        page = context.new_page()
        session = Session(page)
        page.add_init_script(INIT_SCRIPT)
        page.on("console", lambda m: session.console_errors.append(m.text)
                if m.type == "error" else None)
        page.on("pageerror", lambda e: session.page_errors.append(str(e)))
        page.on("requestfailed", lambda r: session.failed.append(r.url))
        page.on("request", lambda r: session.requests.append(r.url))

        def on_dialog(dialog: Any) -> None:
            session.dialogs.append(dialog.message)
            dialog.dismiss()

        page.on("dialog", on_dialog)

        def route(r: Any) -> None:
            if r.request.url.startswith(("file:", "data:")):
                r.continue_()
            else:
                session.blocked.append(r.request.url)
                r.abort()

        page.route("**/*", route)
        page.goto(path.resolve().as_uri())
        page.wait_for_function("document.documentElement.hasAttribute('data-om-ready')",
                               timeout=20_000)
        return session

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture(scope="module")
def three_maps() -> Any:
    return build_map(TERRITORIES, n_actors=120, n_relations=260, seed=7)


@pytest.fixture(scope="module")
def map_files(three_maps: Any, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    out = tmp_path_factory.mktemp("mappe")
    return save_maps(three_maps, out, as_of=AS_OF, baseline=BASELINE)


def _screenshot(session: Session, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    session.page.wait_for_timeout(400)  # let popups and clusters finish fading in
    path = ARTIFACTS / f"{name}.png"
    session.page.screenshot(path=str(path))
    return path


# --------------------------------------------------------------------------- maps


@pytest.mark.parametrize("slug", TERRITORIES)
def test_territory_map_offline(open_offline: Any, three_maps: Any, map_files: list[Path],
                               slug: str) -> None:
    path = next(p for p in map_files if p.name == f"{slug}.html")
    data = build_map_data(three_maps, slug, as_of=AS_OF, baseline=BASELINE)
    s = open_offline(path)
    page = s.page
    assert s.problems() == []
    assert all(u.startswith(("file:", "data:")) for u in s.requests)
    _screenshot(s, f"map_{slug}")

    counts = s.api("om.counts()")
    assert counts["actors"] == counts["markers"] == len(actor_records(data))
    assert counts["relations"] == counts["relationLines"] == len(tie_rows(data))
    assert counts["newLines"] == sum(r[5] for r in tie_rows(data)) > 0

    # layer control (one entry per group + ties, new ties, ambiti, comuni, province)
    labels = page.locator(".leaflet-control-layers-overlays label").all_inner_texts()
    assert len(labels) == len(data["groups"]) + 5
    assert any("Cooperazione sociale" in t for t in labels)
    assert any(t.strip().startswith("Legami nuovi dal 01/01/2026") for t in labels)
    legend = page.locator(".om-legend").inner_text()
    assert "Posizione approssimata (comune)" in legend and "Collocamento Mirato" in legend
    summary = page.locator(".om-summary").inner_text()
    assert "Densità della rete" in summary and "obiettivo +30%" in summary
    assert "ISTAT/Openpolis 2023" in page.locator(".leaflet-control-attribution").inner_text()

    # search by name, open the popup from the result, see the ties
    hub = max(actor_records(data), key=lambda f: f.get("d", 0))
    name = hub["n"]
    page.fill(".om-search", name)
    result = page.locator(".om-result", has_text=name).first
    result.wait_for()
    result.locator("button").click()
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for()
    text = popup.inner_text()
    assert name in text
    assert f"grado {hub['d']}" in text
    partners = page.locator(".om-ties li")
    assert partners.count() > 0
    assert "livello" in partners.first.inner_text()
    _screenshot(s, f"map_{slug}_popup")

    # search by comune
    comune = actor_records(data)[0]["c"]
    page.fill(".om-search", comune)
    page.wait_for_function(
        "c => [...document.querySelectorAll('.om-result .om-sub')]"
        ".some(e => e.textContent.startsWith(c + ' · '))", arg=comune)

    # clicking a partner in the popup moves to it
    partner = partners.first.locator("button").inner_text()
    partners.first.locator("button").click()
    page.wait_for_function(
        "name => document.querySelector('.om-pop h3')?.textContent === name", arg=partner)
    assert s.problems() == []


def test_filter_by_opportunity_type(open_offline: Any, three_maps: Any,
                                    map_files: list[Path]) -> None:
    data = build_map_data(three_maps, "bergamo", as_of=AS_OF, baseline=BASELINE)
    s = open_offline(map_files[0])
    k, t = max(enumerate(data["opportunityTypes"]), key=lambda kt: kt[1]["count"])
    assert t["count"] > 0
    s.page.select_option(".om-filter", label=f"{t['label']} ({t['count']})")
    offering = {i for i, f in enumerate(actor_records(data))
                if any(o[0] == k for o in f.get("o", []))}
    expected_lines = sum(1 for r in tie_rows(data) if r[0] in offering and r[1] in offering)
    counts = s.api("om.counts()")
    assert counts["markers"] == len(offering)
    assert counts["relationLines"] == expected_lines
    assert f"Visibili: {len(offering)} organizzazioni" in s.page.inner_text(".om-status")
    # without clustering the same organisations are drawn
    s.page.uncheck(".om-check input")
    assert s.api("om.counts()")["markers"] == len(offering)
    s.page.select_option(".om-filter", value="")
    assert s.api("om.counts()")["markers"] == len(actor_records(data))
    assert s.problems() == []


def test_group_layers_toggle(open_offline: Any, map_files: list[Path]) -> None:
    s = open_offline(map_files[0])
    label = s.page.locator(".leaflet-control-layers-overlays label", has_text="Imprese")
    before = s.api("om.counts().clusters")  # cluster discs drawn on the markers' canvas
    assert before > 0
    label.locator("input").uncheck()
    assert not label.locator("input").is_checked()
    after = s.api("om.counts().clusters")
    assert after < before  # the companies' clusters are gone
    label.locator("input").check()
    assert s.problems() == []


def test_index_links_to_the_maps(open_offline: Any, map_files: list[Path]) -> None:
    s = open_offline(map_files[-1])
    assert s.problems() == []
    assert s.api("om.counts()")["territories"] == len(TERRITORIES)
    links = s.page.locator(".om-index a.om-maplink")
    hrefs = sorted(links.evaluate_all("els => els.map(e => e.getAttribute('href'))"))
    assert hrefs == sorted(f"{slug}.html" for slug in TERRITORIES)
    _screenshot(s, "index")
    links.first.click()
    s.page.wait_for_function("document.documentElement.hasAttribute('data-om-ready')")
    assert s.page.url.endswith(".html") and "index" not in s.page.url
    assert s.problems() == []


def test_osm_tiles_are_the_only_network_use(open_offline: Any, three_maps: Any,
                                            tmp_path: Path) -> None:
    path = tmp_path / "osm.html"
    render_map(three_maps, "lodi", as_of=AS_OF, tiles="osm").save(path)
    s = open_offline(path)
    osm = "https://tile.openstreetmap.org/"
    assert s.problems(allow_blocked=(osm,)) == []
    assert all(u.startswith(("file:", "data:", osm)) for u in s.requests)
    assert s.page.locator(".leaflet-control-layers-base label").count() == 2


# --------------------------------------------------------------------------- injection


@pytest.fixture(scope="module")
def injection_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    m = injection_map()
    out = tmp_path_factory.mktemp("xss")
    page = out / "bergamo.html"
    render_map(m, "bergamo", as_of=AS_OF, baseline=BASELINE).save(page)
    index = out / "index.html"
    render_index(m, as_of=AS_OF, baseline=BASELINE).save(index)
    return page, index


def _assert_nothing_ran(s: Session) -> None:
    page = s.page
    assert page.evaluate("window.__executed") == []
    assert page.evaluate("window.__pwned") is None
    assert s.dialogs == []
    assert s.problems() == []
    # no element the payloads would create, no script-bearing link
    for selector in ("img[src='x']", "svg[onload]", "iframe", "b[onmouseover]",
                     "a[href^='javascript:' i]", "[onerror]", "[onload]"):
        assert page.locator(selector).count() == 0, selector
    assert not any(u.rstrip("/").endswith("/x") for u in s.requests)


def test_injection_payloads_never_run(open_offline: Any, injection_files: tuple[Path, Path]
                                      ) -> None:
    s = open_offline(injection_files[0])
    page = s.page
    _assert_nothing_ran(s)
    # layer names, legend and summary show the unknown group literally
    overlays = page.locator(".leaflet-control-layers-overlays").inner_text()
    assert "<img src=x onerror=alert(1)>" in overlays
    assert "<img src=x onerror=alert(1)>" in page.locator(".om-legend").inner_text()
    assert "Bergamo <img src=x onerror=alert(1)> ${alert(1)}" in \
        page.locator(".om-summary summary").inner_text()
    assert "<b onmouseover=alert(1)>Ambito</b> ${alert(1)}" in \
        page.locator(".om-ambito-label").inner_text()

    for i, payload in enumerate(PAYLOADS):
        name = f"{payload} ente {i}"
        # literal text in the search results
        page.fill(".om-search", f"ente {i}")
        page.wait_for_function(
            "n => [...document.querySelectorAll('.om-result-name')]"
            ".some(e => e.textContent === n)", arg=name)
        shown = page.locator(".om-result-name").all_text_contents()
        assert name in shown
        # and in the popup: name, comune, address, website, e-mail, phone, notes,
        # opportunity (name, target, notes) and tie notes
        page.locator(".om-result button").nth(shown.index(name)).click()
        page.wait_for_function(
            "n => document.querySelector('.om-pop h3')?.textContent === n", arg=name)
        pop = page.locator(".om-pop")
        fields = pop.locator(".om-fields dd").all_text_contents()
        assert fields.count(payload) >= 6, (payload, fields)  # comune ... notes
        assert payload in pop.locator(".om-opps").text_content()
        assert ("Note: " + payload) in pop.locator(".om-ties").text_content()
        assert pop.locator("a").count() == 0  # neither website nor e-mail is a link
        page.evaluate("() => { window.opportunityMaps[0].map.closePopup(); }")
    # hovering a marker shows its name as text
    _screenshot(s, "injection_popup")
    _assert_nothing_ran(s)


def test_injection_payloads_never_run_in_the_index(open_offline: Any,
                                                   injection_files: tuple[Path, Path]) -> None:
    s = open_offline(injection_files[1])
    _assert_nothing_ran(s)
    text = s.page.locator(".om-index").inner_text()
    assert "Bergamo <img src=x onerror=alert(1)> ${alert(1)}" in text
    label = s.page.locator(".om-index-label").first.inner_text()
    assert "<img src=x onerror=alert(1)>" in label


def test_links_only_for_web_and_mail(open_offline: Any, tmp_path: Path) -> None:
    m = build_map(("lodi",), n_actors=6, n_relations=4, seed=4)
    m.actors["website"] = ["https://ok.example.it", "javascript:alert(1)", "www.example.it",
                           "data:text/html,<b>x</b>", "ftp://x.it", None]
    m.actors["email"] = ["a@b.it", "javascript:alert(1)//@x.it", None, None, None, None]
    path = tmp_path / "links.html"
    render_map(m, "lodi", as_of=AS_OF).save(path)
    s = open_offline(path)
    hrefs = []
    for k in range(6):
        s.page.evaluate(f"() => {{ window.opportunityMaps[0].openActor({k}); }}")
        hrefs += s.page.locator(".om-pop a").evaluate_all(
            "els => els.map(e => e.getAttribute('href'))")
    assert sorted(hrefs) == ["https://ok.example.it", "https://www.example.it", "mailto:a@b.it"]
    _assert_nothing_ran(s)


def test_empty_territory(open_offline: Any, tmp_path: Path) -> None:
    m = build_map(("bergamo", "lecco"), n_actors=10, n_relations=5, n_ambiti=0)
    m.actors = m.actors[m.actors["territory"] == "bergamo"]
    path = tmp_path / "lecco.html"
    render_map(m, "lecco", as_of=AS_OF, baseline=BASELINE).save(path)
    s = open_offline(path)
    assert s.api("om.counts()")["markers"] == 0
    s.page.fill(".om-search", "qualcosa")
    s.page.locator(".om-results .om-empty").wait_for()
    assert "Nessun risultato" in s.page.inner_text(".om-results")
    assert s.problems() == []


# --------------------------------------------------------------------------- timeline


@pytest.fixture(scope="module")
def lecco_timeline(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, dict, Path]:
    import opportunity_map as om
    from opportunity_map.maps import compute_figures

    m = om.load(Path(__file__).resolve().parents[1] / "data" / "ambiti")
    figures = compute_figures(m, as_of="2027-06-30", baseline="2026-06-30",
                              previous="2026-12-31",
                              dates=om.tavolo_dates("2027-06-30", since="2026-06-30"))
    path = tmp_path_factory.mktemp("timeline") / "lecco.html"
    render_map(m, "lecco", figures=figures).save(path)
    return m, build_map_data(m, "lecco", figures=figures), path


def _legend_counts(s: Session) -> dict[str, int]:
    import re

    text = s.page.locator(".om-changes").inner_text()
    found = {}
    for label, key in (("Legami nuovi", "tie_new"), ("Legami conclusi", "tie_ended"),
                       ("Livello cambiato", "level"), ("Organizzazioni entrate", "actor_entered"),
                       ("Organizzazioni uscite", "actor_exited")):
        match = re.search(re.escape(label) + r" \((\d+)\)", text)
        assert match, (label, text)
        found[key] = int(match.group(1))
    return found


def _expected_counts(m: Any, date: str, previous: str) -> dict[str, int]:
    import opportunity_map as om

    counts = om.find_changes(m, date=date, previous=previous, territory="lecco")[
        "change"].value_counts()
    out = {k: int(counts.get(k, 0)) for k in ("tie_new", "tie_ended", "actor_entered",
                                               "actor_exited")}
    out["level"] = int(counts.get("tie_level_up", 0)) + int(counts.get("tie_level_down", 0))
    return out


def test_date_selector_and_changes_layer(open_offline: Any, lecco_timeline: Any) -> None:
    m, data, path = lecco_timeline
    tl = data["timeline"]
    s = open_offline(path)
    page = s.page
    # opens at the map's date with the changes since the previous Tavolo (31/12/2026)
    select = page.get_by_label("Data del Tavolo")
    assert select.input_value() == str(tl["current"])
    assert _legend_counts(s) == _expected_counts(m, "2027-06-30", "2026-12-31")
    _screenshot(s, "map_lecco_changes")
    for k, date in enumerate(tl["dates"]):
        select.select_option(str(k))
        counts = s.api("om.counts()")
        assert counts["date"] == date
        assert counts["actorsAtDate"] == tl["stats"][k]["actors"]
        assert counts["tiesAtDate"] == counts["relationLines"] == tl["stats"][k]["ties"]
        summary = page.locator(".om-summary").inner_text()
        assert f"Situazione al {date[8:]}/{date[5:7]}/{date[:4]}" in summary
        total = page.locator(".om-summary tfoot").inner_text().split()
        assert total[-2:] == [str(tl["stats"][k]["actors"]), str(tl["stats"][k]["ties"])]
        assert page.url.endswith(f"#data={date}")
        if k:
            assert _legend_counts(s) == _expected_counts(m, date, tl["dates"][k - 1])
    # the layer can be switched off and on again
    label = page.locator(".leaflet-control-layers-overlays label",
                         has_text="Modifiche dal Tavolo precedente")
    label.locator("input").uncheck()
    assert page.locator(".om-changes").is_hidden()
    label.locator("input").check()
    assert page.locator(".om-changes").is_visible()
    assert s.problems() == []


def test_date_selector_with_the_keyboard(open_offline: Any, lecco_timeline: Any) -> None:
    _, data, path = lecco_timeline
    tl = data["timeline"]
    s = open_offline(path)
    page = s.page
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.classList.contains('om-date')"):
            break
    else:
        pytest.fail("Tab never reaches the date selector")
    page.keyboard.press("ArrowUp")
    counts = s.api("om.counts()")
    assert counts["date"] == tl["dates"][tl["current"] - 1]
    assert counts["actorsAtDate"] == tl["stats"][tl["current"] - 1]["actors"]
    assert s.problems() == []


# --------------------------------------------------------------------------- finder, coverage


@pytest.fixture(scope="module")
def lecco_finder(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, dict, Path]:
    import opportunity_map as om
    from opportunity_map.maps import compute_figures

    m = om.load(Path(__file__).resolve().parents[1] / "data" / "ambiti")
    figures = compute_figures(m, as_of="2027-06-30")
    path = tmp_path_factory.mktemp("finder") / "lecco.html"
    render_map(m, "lecco", figures=figures).save(path)
    return m, build_map_data(m, "lecco", figures=figures), path


def _python_nearest(m: Any, comune: str, types: Any, limit: int = 20) -> list[tuple[str, float]]:
    import opportunity_map as om

    found = om.find_opportunities(m, comune=comune, types=types, as_of="2027-06-30", limit=None)
    found = found[found["territory"] == "lecco"].head(limit)  # the map lists its own territory
    return list(zip(found["opportunity_id"], found["distance_km"], strict=True))


def _row_ids(m: Any, data: dict) -> list[str]:
    """The opportunity id of each row of the payload's ``opportunities`` (id order)."""
    from opportunity_map._time import active_mask

    opps = m.opportunities[active_mask(m.opportunities, data["asOf"])]
    opps = opps[opps["actor_id"].isin(data["actors"]["id"])]
    ids = sorted(opps["id"].astype(str))
    assert len(ids) == len(data["opportunities"]["actor"])
    return ids


def test_comune_key_in_the_browser_equals_python(open_offline: Any, lecco_finder: Any) -> None:
    from opportunity_map.geography import comune_key

    names = ["S. Omobono Terme", "Sant'Omobono Terme", "SANT OMOBONO", "cantu'", "Cantù",
             "Cantu\u0300", "Castro (BG)", "Berg\u200bamo", "  Valmadrera ", "SS. Cosma",
             "Santa Maria Hoè", "Monte Marenzo", "Ello-Olginate", "Ｃａｎｔù", "ﬁno"]
    s = open_offline(lecco_finder[2])
    got = s.page.evaluate("names => names.map(window.opportunityMap.comuneKey)", names)
    assert got == [comune_key(n) for n in names]
    assert s.problems() == []


@pytest.mark.parametrize("types", ["tis", "tirocinio_extracurricolare", None])
def test_finder_panel_equals_find_opportunities(open_offline: Any, lecco_finder: Any,
                                                types: Any) -> None:
    m, data, path = lecco_finder
    codes = [t["code"] for t in data["opportunityTypes"]]
    s = open_offline(path)
    page = s.page
    page.click(".om-finder summary")
    page.fill(".om-finder-input", "Calolziocorte")
    if types:
        page.locator(f".om-finder-types input[value='{codes.index(types)}']").check()
    page.click(".om-finder-go")
    out = page.locator(".om-finder-out")
    out.locator(".om-note").first.wait_for()
    expected = _python_nearest(m, "Calolziocorte", types)
    last = s.api("om.findNear('Calolziocorte', " +
                 (f"[{codes.index(types)}]" if types else "null") + ")")
    got = [(_row_ids(m, data)[it["row"]], it["km"]) for it in last["items"]]
    assert [g[0] for g in got] == [e[0] for e in expected]
    assert all(abs(g[1] - e[1]) < 0.05 for g, e in zip(got, expected, strict=True))
    items = page.locator(".om-finder-item")
    assert items.count() == len(expected)
    text = out.inner_text()
    assert "Distanze in linea d'aria" in text
    assert "di questo territorio" in page.locator(".om-finder").inner_text()
    if not expected:  # Lecco has no TIS: said clearly, with the nearest elsewhere
        assert "Nessuna opportunità attiva di questo tipo" in text
        import opportunity_map as om

        anywhere = om.find_opportunities(m, comune="Calolziocorte", types=types,
                                         as_of="2027-06-30", limit=1)["distance_km"].iloc[0]
        assert f"{anywhere:.1f}".replace(".", ",") + " km, è in un altro territorio" in text
    else:
        first = items.first.inner_text()
        assert first.startswith(f"{expected[0][1]:.1f}".replace(".", ",") + " km")
        approx = sum(1 for i in range(items.count())
                     if "posizione approssimata" in items.nth(i).inner_text())
        assert approx > 0
    assert s.problems() == []


def test_finder_panel_by_keyboard_only(open_offline: Any, lecco_finder: Any) -> None:
    m, _, path = lecco_finder
    s = open_offline(path)
    page = s.page
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.matches('.om-finder summary')"):
            break
    else:
        pytest.fail("Tab never reaches the panel")
    page.keyboard.press("Enter")  # opens it
    assert page.evaluate("document.querySelector('.om-finder').open")
    page.keyboard.press("Tab")  # the panel's first field
    assert page.evaluate("document.activeElement.matches('.om-finder-input')")
    page.keyboard.type("calolziocorte")
    page.keyboard.press("Enter")
    page.locator(".om-finder-item").first.wait_for()
    page.keyboard.press("ArrowDown")
    assert page.evaluate("document.activeElement.matches('.om-finder-item')")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    second = _python_nearest(m, "Calolziocorte", None)[1][0]
    actor = m.opportunities.set_index("id").at[second, "actor_id"]
    name = m.actors.set_index("id").at[actor, "name"]
    page.wait_for_function("n => document.querySelector('.om-pop h3')?.textContent === n",
                           arg=name)
    # focus is visible, labels are there, Escape closes the panel
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"
    assert page.locator(".om-finder-list").get_attribute("aria-label")
    page.keyboard.press("Escape")
    assert not page.evaluate("document.querySelector('.om-finder').open")
    assert page.evaluate("document.activeElement.matches('.om-finder summary')")
    assert s.problems() == []


def test_search_finds_every_comune_forgivingly(open_offline: Any, lecco_finder: Any) -> None:
    m, data, path = lecco_finder
    s = open_offline(path)
    page = s.page
    page.fill(".om-search", "S. Omobono")  # not in Lecco: nothing, but no error
    page.locator(".om-results .om-empty").wait_for()
    # a comune without organisations is found and zoomed to
    hosting = {str(c) for c in m.actors["comune"]}
    empty = next(n for n in data["comuni"]["name"] if n not in hosting and len(n) > 6)
    page.fill(".om-search", empty.upper())
    result = page.locator(".om-result-comune", has_text=empty).first
    result.wait_for()
    assert "nessuna organizzazione" in result.inner_text()
    zoom = s.api("om.map.getZoom()")
    result.locator("button").click()
    page.wait_for_function("n => document.querySelector('.om-pop h3')?.textContent === n",
                           arg=empty)
    assert s.api("om.map.getZoom()") > zoom
    code = data["comuni"]["code"][data["comuni"]["name"].index(empty)]
    lat = data["comuni"]["lat"][data["comuni"]["code"].index(code)] / 1e5
    lon = data["comuni"]["lon"][data["comuni"]["code"].index(code)] / 1e5
    assert s.api(f"om.map.getBounds().contains([{lat}, {lon}])")
    # the same normalisation as Python: "Sant'..." / "S." in the finder
    assert s.api("om.matchComune(\"S. Maria Hoe'\").row") == data["comuni"]["name"].index(
        "Santa Maria Hoè")
    assert s.api("om.matchComune('Castro (BG)').outside") == "BG"
    assert s.problems() == []


def test_search_matches_saint_abbreviations_in_bergamo(open_offline: Any,
                                                       tmp_path: Path) -> None:
    import opportunity_map as om

    m = om.load(Path(__file__).resolve().parents[1] / "data" / "ambiti")
    path = tmp_path / "bergamo.html"
    render_map(m, "bergamo", as_of="2027-06-30").save(path)
    s = open_offline(path)
    for typed in ("S. Omobono", "sant omobono terme", "Pedrengo"):
        s.page.fill(".om-search", typed)
        s.page.locator(".om-result-comune").first.wait_for()
        first = s.page.locator(".om-result-name").all_text_contents()
        assert any(t in ("Sant'Omobono Terme", "Pedrengo") for t in first), (typed, first)
    assert s.problems() == []


def test_filter_refits_the_view(open_offline: Any, three_maps: Any,
                                map_files: list[Path]) -> None:
    data = build_map_data(three_maps, "bergamo", as_of=AS_OF, baseline=BASELINE)
    s = open_offline(map_files[0])
    k, t = min(((k, t) for k, t in enumerate(data["opportunityTypes"]) if t["count"]),
               key=lambda kt: kt[1]["count"])
    before = s.api("om.map.getBounds().toBBoxString()")
    s.page.select_option(".om-filter", value=str(k))
    shown = [f for f in actor_records(data) if any(o[0] == k for o in f.get("o", []))]
    bounds = s.api("om.map.getBounds().toBBoxString()")
    assert bounds != before
    for f in shown:  # every organisation shown is in view
        assert s.api(f"om.map.getBounds().contains([{f['lat']}, {f['lon']}])")
    status = s.page.inner_text(".om-status")
    assert f"solo chi offre {t['label']}" in status
    labels = " ".join(s.page.locator(".leaflet-control-layers-overlays label").all_inner_texts())
    assert " di " in labels  # group counts: shown of all
    assert s.problems() == []


def test_coverage_layer_classes(open_offline: Any, lecco_finder: Any) -> None:
    from opportunity_map.finder import coverage
    from opportunity_map.maps import COVERAGE_CLASSES

    m, data, path = lecco_finder
    s = open_offline(path)
    page = s.page
    assert page.locator(".leaflet-pane svg path").count() == 0  # off at start, built lazily
    page.locator(".om-coverage-toggle input").check()
    codes = [t["code"] for t in data["opportunityTypes"]]
    pos = [codes[t] for t in data["coverage"]["types"]].index("tirocinio_extracurricolare")
    page.select_option(".om-coverage-type", value=str(pos))
    cov = coverage(m, as_of="2027-06-30", territories=["lecco"]).comuni.set_index("comune")
    for name in ("Calolziocorte", "Premana"):
        km = round(float(cov.at[name, "km_tirocinio_extracurricolare"]), 1)
        expected = next(c for upper, c, _ in COVERAGE_CLASSES if km <= upper)
        code = int(cov.at[name, "comune_code"])
        assert s.api(f"om.coverageFill({code})") == expected, (name, km)
    legend = page.locator(".om-coverage").inner_text()
    assert "da 10 a 15 km" in legend and "soglia di 15 km" in legend
    assert "tratteggio" in legend
    page.locator(".om-coverage-toggle input").uncheck()
    assert page.locator(".om-coverage-type").count() == 0
    assert s.problems() == []
