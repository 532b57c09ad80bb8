"""The build pipeline: computed once, scoped to its data, one target and one date everywhere."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

import opportunity_map as om
from opportunity_map import evaluation as evaluation_module
from opportunity_map import maps as maps_module
from opportunity_map import network as network_module
from opportunity_map import pipeline as pipeline_module

BASELINE, AS_OF = "2026-06-30", "2027-12-31"


def _payload(html: str) -> dict:
    match = re.search(r'<script type="application/json" id="[^"]+">(.*?)</script>', html, re.S)
    assert match, "no payload in the page"
    return json.loads(match.group(1))


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[om.BuildResult, Path]:
    out = tmp_path_factory.mktemp("build")
    result = om.build(om.example_map(), out, baseline=BASELINE, as_of=AS_OF, target=0.25,
                      n_boot=200, seed=1)
    return result, out


def test_one_build_evaluates_once_and_takes_each_network_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real_evaluate = evaluation_module.evaluate

    def counting_evaluate(*args: object, **kwargs: object) -> om.Evaluation:
        calls.append("evaluate")
        return real_evaluate(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(pipeline_module, "evaluate", counting_evaluate)
    monkeypatch.setattr(maps_module, "evaluate", counting_evaluate)
    dates: list[pd.Timestamp] = []
    real_network_at = network_module.NetworkIndex._network_at

    def counting_network_at(self: om.NetworkIndex, t: pd.Timestamp) -> om.Network:
        dates.append(t)
        return real_network_at(self, t)

    monkeypatch.setattr(network_module.NetworkIndex, "_network_at", counting_network_at)
    real_coverage = pipeline_module.coverage

    def counting_coverage(*args: object, **kwargs: object) -> object:
        calls.append("coverage")
        return real_coverage(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(pipeline_module, "coverage", counting_coverage)
    monkeypatch.setattr(maps_module, "coverage", counting_coverage)
    om.build(om.example_map(), tmp_path, baseline=BASELINE, as_of=AS_OF, n_boot=50, seed=1)
    assert calls == ["coverage", "evaluate"]  # the report and the maps share one coverage
    # baseline, three semesters after it (30/12/2026, 30/06/2027, 30/12/2027) and the
    # date of the map: each network taken once
    assert len(dates) == len(set(dates)) == 5
    # maps without an evaluation output still evaluate once (point estimate for the pages)
    calls.clear()
    om.build(om.example_map(), tmp_path / "m", outputs=["maps"], baseline=BASELINE,
             as_of=AS_OF)
    assert calls == ["coverage", "evaluate"]


def test_the_target_used_is_on_every_page(built: tuple[om.BuildResult, Path]) -> None:
    result, out = built
    assert result.evaluation is not None and result.evaluation.target == 0.25
    report = (out / "evaluation.html").read_text(encoding="utf-8")
    text = re.sub(r"data:image/png;base64,[^\"]+", "", report)
    # the target +30% never leaks (a change such as +300,0% may be in the tables)
    assert "+25,0%" in text and not re.search(r"\+30(?:,0)?%", text)
    for slug in result.territories:
        page = (out / f"{slug}.html").read_text(encoding="utf-8")
        data = _payload(page)
        assert data["target"] == 0.25
        figures = dict(data["summary"]["figures"])
        assert "(obiettivo +25%)" in figures["Variazione della densità (stesse organizzazioni)"]
        assert "30%" not in json.dumps(data, ensure_ascii=False)
    index = _payload((out / "index.html").read_text(encoding="utf-8"))
    assert any("obiettivo +25%" in line for line in index["lines"])
    assert index["title"] == "Mappe delle opportunità – Bergamo e Lecco"
    # the index is coloured by the verdict against the target in use
    assert "+25%" in index["legendTitle"]


def test_tie_counts_agree_on_every_page(built: tuple[om.BuildResult, Path]) -> None:
    result, out = built
    index = _payload((out / "index.html").read_text(encoding="utf-8"))
    cells = {f["properties"]["slug"]: f["properties"]["cells"]
             for f in index["territories"]["features"]}
    graph_total = 0
    for slug in result.territories:
        data = _payload((out / f"{slug}.html").read_text(encoding="utf-8"))
        g = result.map.graph(AS_OF, territory=slug)
        graph_total += g.number_of_edges()
        # layer, summary, index and the networkx graph count the same ties
        assert len(data["ties"]["i"]) == data["summary"]["total"]["ties"] == g.number_of_edges()
        assert int(cells[slug][1]) == g.number_of_edges()
        assert int(cells[slug][0]) == g.number_of_nodes()
        assert om.TIE_DEFINITION in data["summary"]["notes"]
    assert om.TIE_DEFINITION in index["notes"]
    region = result.map.graph(AS_OF)
    cross = om.network_stats(result.map.network(AS_OF))["n_cross_territory_ties"]
    assert region.number_of_edges() == graph_total + cross


def test_a_lecco_only_workbook_renders_only_lecco(tmp_path: Path) -> None:
    m = om.example_map()
    lecco = m.actors[m.actors["territory"] == "lecco"]
    folder = tmp_path / "mappa_lecco"
    folder.mkdir()
    pd.DataFrame(lecco[["id", "name", "kind", "comune"]]).rename(columns={
        "name": "nome", "kind": "tipo"}).to_excel(folder / "attori.xlsx", index=False)
    rel = m.relations[m.relations["source"].str.startswith("LC")
                      & m.relations["target"].str.startswith("LC")]
    pd.DataFrame(rel[["source", "target", "kind", "level"]]).to_excel(
        folder / "relazioni.xlsx", index=False)
    out = tmp_path / "out"
    result = om.build(folder, out)
    assert result.territories == ("lecco",)
    assert sorted(p.name for p in out.glob("*.html")) == ["index.html", "lecco.html"]
    assert result.open_first == out / "lecco.html"
    index = _payload((out / "index.html").read_text(encoding="utf-8"))
    assert [f["properties"]["slug"] for f in index["territories"]["features"]] == ["lecco"]
    assert index["title"] == "Mappe delle opportunità – Lecco"
    # no baseline: no evaluation, and the notes say why and which date was used
    assert result.evaluation is None and not (out / "evaluation.csv").exists()
    assert any("Nessuna valutazione" in n for n in result.notes)
    today = pd.Timestamp.today().strftime("%d/%m/%Y")
    assert any(f"oggi, {today}" in n for n in result.notes)


def test_territories_by_name_limit_the_job(tmp_path: Path) -> None:
    result = om.build(om.example_map(), tmp_path, baseline=BASELINE, as_of=AS_OF,
                      territories=["BERGAMO"], n_boot=20, seed=1, outputs=["evaluation", "maps"])
    assert result.territories == ("bergamo",)
    assert result.evaluation is not None
    assert result.evaluation.table["territory"].tolist() == ["bergamo"]
    assert sorted(p.name for p in tmp_path.glob("*.html")) == [
        "bergamo.html", "evaluation.html", "index.html"]
    with pytest.raises(om.UnknownTerritoryError) as info:
        om.build(om.example_map(), tmp_path / "x", territories=["Pavia"])
    assert info.value.known == ("bergamo", "lecco")
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("target", [30, 0.3 * 100, -2, float("nan"), "30"])
def test_a_target_that_is_not_a_fraction_raises_before_writing(tmp_path: Path,
                                                               target: object) -> None:
    with pytest.raises(om.TargetError, match=r"0\.30"):
        om.build(om.example_map(), tmp_path / "o", baseline=BASELINE,
                 target=target)  # type: ignore[arg-type]
    with pytest.raises(om.TargetError):
        om.evaluate(om.example_map(), baseline=BASELINE, as_of=AS_OF,
                    target=target)  # type: ignore[arg-type]
    assert not (tmp_path / "o").exists()


def test_dates_out_of_order_raise_before_reading(tmp_path: Path) -> None:
    with pytest.raises(om.DateOrderError) as info:
        om.build(tmp_path / "does-not-exist", tmp_path / "o", baseline="2027-01-01",
                 as_of="2026-01-01")
    assert info.value.earlier_param == "baseline" and info.value.later_param == "as_of"
    with pytest.raises(om.UsageError, match="baseline"):
        om.build(om.example_map(), tmp_path / "o", outputs=["evaluation"])


def test_evaluation_and_figures_must_agree() -> None:
    m = om.example_map()
    ev = om.evaluate(m, baseline=BASELINE, as_of=AS_OF, n_boot=0)
    figures = om.compute_figures(m, evaluation=ev)
    assert figures.as_of == ev.as_of and figures.baseline == ev.baseline
    assert figures.target == ev.target
    with pytest.raises(om.UsageError, match="as_of"):
        om.compute_figures(m, evaluation=ev, as_of="2027-06-30")
    with pytest.raises(om.UsageError, match="target"):
        om.compute_figures(m, evaluation=ev, target=0.5)


def test_territory_names_are_accepted_everywhere() -> None:
    m = om.example_map()
    net = m.network("2026-06-30")
    by_slug = om.network_stats(net, territory="bergamo")
    assert om.network_stats(net, territory="BERGAMO") == by_slug
    assert by_slug["territory"] == "bergamo"
    assert om.block_density(net, territory="Bergamo").equals(
        om.block_density(net, territory="bergamo"))
    assert om.actor_stats(net, territory="Lecco").equals(om.actor_stats(net, territory="lecco"))
    ev = om.evaluate(m, baseline=BASELINE, as_of=AS_OF, n_boot=0, territories=["Bergamo"])
    assert ev.table["territory"].tolist() == ["bergamo"]
    with pytest.raises(om.UnknownTerritoryError) as info:
        om.evaluate(m, baseline=BASELINE, as_of=AS_OF, n_boot=0, territories=["Pavia"])
    assert info.value.param == "territories"
    with pytest.raises(om.UsageError, match="tiles"):
        om.render_map(m, "bergamo", tiles="google")  # type: ignore[arg-type]
