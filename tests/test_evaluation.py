"""Tests of opportunity_map.evaluation: every number against an independent computation."""

from __future__ import annotations

import math
import zlib

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from _factories import is_active, make_map, random_map, raw_graph

from opportunity_map import DateOrderError, TargetError, UnknownTerritoryError, UsageError
from opportunity_map._time import active_mask
from opportunity_map.evaluation import (
    TABLE_COLUMNS,
    VERDICTS,
    Evaluation,
    _percentile,
    _verdict,
    evaluate,
    resample_vertices,
    vertex_bootstrap,
)
from opportunity_map.metrics import adjacency_matrix, network_stats

BASE = "2026-03-31"
AT = "2027-03-31"


def panel_map():
    """Bergamo: panel A B C D I J, exits E H, entrants F G; X in Brescia.

    Baseline panel ties: A-B (2), B-C (max 1, 3 = 3), I-J (1).
    Later panel ties: A-B (2), C-D (3), A-D (4, starts on the day), I-J (1).
    """
    actors = [
        {"id": "A", "group": "cm"},
        {"id": "B", "group": "apl"},
        {"id": "C", "group": "cooperazione"},
        {"id": "D", "group": "imprese"},
        {"id": "E", "group": "imprese", "until": "2026-12-31"},
        {"id": "H", "group": "imprese", "until": BASE},
        {"id": "F", "group": "servizi", "since": "2026-06-01"},
        {"id": "G", "group": "servizi", "since": AT},
        {"id": "I", "group": "servizi", "since": BASE},
        {"id": "J", "group": "imprese", "until": AT},
        {"id": "X", "group": "apl", "territory": "brescia"},
    ]
    relations = [
        {"source": "A", "target": "B", "level": 2},
        {"source": "B", "target": "C", "level": 1, "until": "2026-12-31"},
        {"source": "C", "target": "B", "level": 3, "since": BASE, "until": "2026-06-30"},
        {"source": "C", "target": "D", "level": 3, "since": "2026-06-01"},
        {"source": "A", "target": "D", "level": 4, "since": AT},
        {"source": "I", "target": "J", "level": 1},
        {"source": "A", "target": "E", "level": 1},
        {"source": "A", "target": "F", "level": 1, "since": "2026-06-01"},
        {"source": "A", "target": "X", "level": 2},
    ]
    return make_map(actors, relations)


@pytest.fixture(scope="module")
def panel_eval() -> Evaluation:
    return evaluate(panel_map(), baseline=BASE, as_of=AT, n_boot=300, seed=7, min_ties=1)


def row(ev: Evaluation, territory: str) -> pd.Series:
    return ev.table.set_index("territory").loc[territory]


# ---------------------------------------------------------------- point figures


def test_table_columns_in_order(panel_eval: Evaluation) -> None:
    cols = list(panel_eval.table.columns)
    assert cols[: len(TABLE_COLUMNS)] == list(TABLE_COLUMNS)
    assert cols[len(TABLE_COLUMNS)] == "note"
    assert panel_eval.table["territory"].tolist() == ["bergamo", "brescia", "cremona",
                                                      "lombardia"]


def test_panel_entrants_exits(panel_eval: Evaluation) -> None:
    r = row(panel_eval, "bergamo")
    assert (r["n_panel"], r["n_entrants"], r["n_exits"]) == (6, 2, 2)
    assert (r["ties_baseline"], r["ties_at"]) == (3, 4)
    assert r["density_baseline"] == pytest.approx(3 / 15)
    assert r["density_at"] == pytest.approx(4 / 15)
    assert r["change_pct"] == pytest.approx(100 * (4 / 15 / (3 / 15) - 1))
    assert r["ties_change_pct"] == r["avg_degree_change_pct"] == r["change_pct"]
    assert r["weighted_density_baseline"] == pytest.approx(6 / (4 * 15))
    assert r["weighted_density_at"] == pytest.approx(10 / (4 * 15))
    assert r["weighted_change_pct"] == pytest.approx(100 * (10 / 6 - 1))
    assert r["avg_degree_baseline"] == pytest.approx(2 * 3 / 6)
    assert r["avg_degree_at"] == pytest.approx(2 * 4 / 6)
    # whole network of the territory: 8 actors at both dates
    assert (r["n_actors_baseline"], r["n_actors_at"]) == (8, 8)
    assert (r["ties_full_baseline"], r["ties_full_at"]) == (4, 5)
    assert r["density_full_baseline"] == pytest.approx(4 / 28)
    assert r["density_full_at"] == pytest.approx(5 / 28)
    assert r["density_change_abs"] == pytest.approx(1 / 15)
    assert (r["cross_ties_baseline"], r["cross_ties_at"]) == (1, 1)
    assert r["territory_name"] == "Bergamo"


def test_region_counts_cross_territory_ties(panel_eval: Evaluation) -> None:
    r = row(panel_eval, "lombardia")
    assert r["territory_name"] == "Lombardia"
    assert (r["n_panel"], r["ties_baseline"], r["ties_at"]) == (7, 4, 5)
    assert r["density_baseline"] == pytest.approx(4 / 21)
    assert (r["cross_ties_baseline"], r["cross_ties_at"]) == (1, 1)


def test_blocks_of_the_panel(panel_eval: Evaluation) -> None:
    blocks = panel_eval.blocks[panel_eval.blocks["territory"] == "bergamo"]
    assert len(blocks) == 25
    cell = blocks.set_index(["group_a", "group_b"])
    assert cell.loc[("cm", "apl"), "density_baseline"] == 1.0
    assert cell.loc[("apl", "cm"), "density_at"] == 1.0
    assert cell.loc[("apl", "cooperazione"), "density_baseline"] == 1.0
    assert cell.loc[("apl", "cooperazione"), "density_at"] == 0.0
    assert cell.loc[("imprese", "servizi"), "density_baseline"] == 0.5
    assert cell.loc[("cooperazione", "imprese"), "density_at"] == 0.5
    assert cell.loc[("cm", "imprese"), "density_at"] == 0.5
    assert (cell.loc[("imprese", "imprese"), ["n_a", "ties_at"]] == [2, 0]).all()
    assert cell.loc[("imprese", "imprese"), "density_at"] == 0.0
    assert math.isnan(cell.loc[("cm", "cm"), "density_at"])  # one actor only


def test_semester_series(panel_eval: Evaluation) -> None:
    s = panel_eval.series[panel_eval.series["territory"] == "bergamo"]
    assert [d.date().isoformat() for d in s["date"]] == ["2026-03-31", "2026-09-30",
                                                          "2027-03-31"]
    mid = s.iloc[1]
    assert (mid["n_actors"], mid["ties"]) == (8, 6)
    assert mid["density"] == pytest.approx(6 / 28)
    assert (mid["n_panel"], mid["ties_panel_baseline"], mid["ties_panel"]) == (7, 4, 5)
    assert mid["change_pct"] == pytest.approx(25.0)
    last = s.iloc[-1]
    r = row(panel_eval, "bergamo")
    assert last["n_panel"] == r["n_panel"] and last["ties_panel"] == r["ties_at"]
    assert last["density_panel"] == r["density_at"]
    assert last["density"] == r["density_full_at"]
    first = s.iloc[0]
    assert first["change_pct"] == 0 and first["n_panel"] == 8


def test_series_dates_six_months_from_baseline() -> None:
    ev = evaluate(panel_map(), baseline="2026-01-31", as_of="2027-09-15", n_boot=0,
                  territories=["bergamo"])
    assert [d.date().isoformat() for d in ev.series["date"]] == [
        "2026-01-31", "2026-07-31", "2027-01-31", "2027-07-31", "2027-09-15",
    ]


def test_series_matches_network_stats() -> None:
    m = random_map(3)
    ev = evaluate(m, baseline="2025-06-30", as_of="2027-06-30", n_boot=0)
    for rec in ev.series.to_dict("records"):
        territory = None if rec["territory"] == "lombardia" else rec["territory"]
        stats = network_stats(m.network(rec["date"]), territory=territory)
        assert rec["n_actors"] == stats["n_actors"]
        assert rec["ties"] == stats["n_ties"]
        np.testing.assert_equal(rec["density"], stats["density"])
        g = raw_graph(m, rec["date"], territory=territory)  # independent of the library
        assert (rec["n_actors"], rec["ties"]) == (g.number_of_nodes(), g.number_of_edges())


@pytest.mark.parametrize("seed", [0, 4])
def test_table_matches_networkx_on_random_maps(seed: int) -> None:
    m = random_map(seed, n=120, r=500)
    ev = evaluate(m, baseline="2025-09-30", as_of="2027-03-31", n_boot=0)
    for rec in ev.table.to_dict("records"):
        territory = None if rec["territory"] == "lombardia" else rec["territory"]
        actors = m.actors if territory is None else m.actors[m.actors["territory"] == territory]
        on0 = set(actors.loc[active_mask(actors, "2025-09-30"), "id"])
        on1 = set(actors.loc[active_mask(actors, "2027-03-31"), "id"])
        panel = on0 & on1
        # graphs built from the raw rows, not through opportunity_map.network
        g0 = raw_graph(m, "2025-09-30", territory=territory)
        g1 = raw_graph(m, "2027-03-31", territory=territory)
        assert (set(g0), set(g1)) == (on0, on1)
        p0, p1 = g0.subgraph(panel), g1.subgraph(panel)
        assert rec["n_panel"] == len(panel)
        assert rec["n_entrants"] == len(on1 - on0)
        assert rec["n_exits"] == len(on0 - on1)
        assert rec["ties_baseline"] == p0.number_of_edges()
        assert rec["ties_at"] == p1.number_of_edges()
        assert rec["density_baseline"] == pytest.approx(nx.density(p0))
        assert rec["density_at"] == pytest.approx(nx.density(p1))
        assert rec["density_full_baseline"] == pytest.approx(nx.density(g0))
        assert rec["density_full_at"] == pytest.approx(nx.density(g1))
        w0 = sum(d["level"] for *_, d in p0.edges(data=True))
        w1 = sum(d["level"] for *_, d in p1.edges(data=True))
        pairs = len(panel) * (len(panel) - 1) / 2
        assert rec["weighted_density_baseline"] == pytest.approx(w0 / 4 / pairs)
        assert rec["weighted_density_at"] == pytest.approx(w1 / 4 / pairs)
        if p0.number_of_edges():
            expected = 100 * (nx.density(p1) / nx.density(p0) - 1)
            assert rec["change_pct"] == pytest.approx(expected)
            assert rec["weighted_change_pct"] == pytest.approx(100 * (w1 / w0 - 1))


# ---------------------------------------------------------------- the bootstrap


def naive_replicates(m, territory: str, *, n_boot: int, seed: int):
    """Replicate densities from explicit networkx graphs on the drawn copies."""
    ids = [  # panel in the order of m.actors
        str(a["id"]) for a in m.actors.to_dict("records")
        if a["territory"] == territory
        and is_active(a["since"], a["until"], BASE) and is_active(a["since"], a["until"], AT)
    ]
    g0 = raw_graph(m, BASE, territory=territory).subgraph(ids)
    g1 = raw_graph(m, AT, territory=territory).subgraph(ids)
    n = len(ids)
    rng = np.random.default_rng([seed, zlib.crc32(territory.encode("utf-8"))])
    out = []
    for batch in resample_vertices(n, n_boot, rng=rng):
        for idx in batch:
            relabel = {k: ids[i] for k, i in enumerate(idx)}
            h0, h1 = nx.Graph(), nx.Graph()
            pairs = 0
            for k in range(n):
                for j in range(k + 1, n):
                    if idx[k] == idx[j]:  # pseudo self-tie: not observed, left out
                        continue
                    pairs += 1
                    if g0.has_edge(relabel[k], relabel[j]):
                        h0.add_edge(k, j)
                    if g1.has_edge(relabel[k], relabel[j]):
                        h1.add_edge(k, j)
            e0, e1 = h0.number_of_edges(), h1.number_of_edges()
            out.append((e0 / pairs, e1 / pairs,
                        100 * (e1 - e0) / e0 if e0 else (math.inf if e1 else math.nan)))
    return np.array(out)


def test_bootstrap_identical_to_naive_implementation() -> None:
    m = random_map(11, n=40, r=160)
    ev = evaluate(m, baseline=BASE, as_of=AT, n_boot=60, seed=123, territories=["bergamo"])
    reps = ev.replicates
    naive = naive_replicates(m, "bergamo", n_boot=60, seed=123)
    assert row(ev, "bergamo")["n_panel"] >= 5
    np.testing.assert_array_equal(reps["density_baseline"].to_numpy(), naive[:, 0])
    np.testing.assert_array_equal(reps["density_at"].to_numpy(), naive[:, 1])
    np.testing.assert_array_equal(reps["change_pct"].to_numpy(), naive[:, 2])


def test_vertex_bootstrap_against_explicit_sums() -> None:
    g = nx.gnm_random_graph(9, 14, seed=2)
    u, v = np.array(g.edges).T
    levels = np.arange(u.size) % 4 + 1
    dense = adjacency_matrix(u, v, 9, weights=levels).toarray()
    mats = [adjacency_matrix(u, v, 9), adjacency_matrix(u, v, 9, weights=levels, upper=True)]
    sums, pairs = vertex_bootstrap(mats, n_boot=25, rng=np.random.default_rng(5))
    draws = np.vstack(list(resample_vertices(9, 25, rng=np.random.default_rng(5))))
    for b, idx in enumerate(draws):
        s_bin = s_w = p = 0
        for k in range(9):
            for j in range(k + 1, 9):
                if idx[k] != idx[j]:
                    p += 1
                    s_w += dense[idx[k], idx[j]]
                    s_bin += dense[idx[k], idx[j]] > 0
        assert (sums[0, b], sums[1, b], pairs[b]) == (s_bin, s_w, p)


def test_vertex_bootstrap_batches_do_not_change_results() -> None:
    n = 3000  # batch of 2**19 // 3000 = 174 replicates: 400 needs three batches
    g = nx.gnm_random_graph(n, 6000, seed=1)
    u, v = np.array(g.edges).T
    a = adjacency_matrix(u, v, n)
    sums, pairs = vertex_bootstrap([a], n_boot=400, rng=np.random.default_rng(9))
    draws = np.vstack(list(resample_vertices(n, 400, rng=np.random.default_rng(9))))
    assert draws.shape == (400, n)
    for b in (0, 173, 174, 399):
        c = np.bincount(draws[b], minlength=n).astype(float)
        assert sums[0, b] == c @ (a @ c) / 2
        assert pairs[b] == (n * n - c @ c) / 2


def test_vertex_bootstrap_arguments() -> None:
    with pytest.raises(ValueError, match="adjacencies"):
        vertex_bootstrap([], n_boot=3, rng=np.random.default_rng(0))
    a = adjacency_matrix(np.array([0]), np.array([1]), 2)
    b = adjacency_matrix(np.array([0]), np.array([1]), 3)
    with pytest.raises(ValueError, match="adjacencies"):
        vertex_bootstrap([a, b], n_boot=3, rng=np.random.default_rng(0))
    sums, pairs = vertex_bootstrap([a], n_boot=0, rng=np.random.default_rng(0))
    assert sums.shape == (1, 0) and pairs.shape == (0,)


def test_interval_se_and_p_from_replicates() -> None:
    base = [(i, (i + 1) % 20) for i in range(20)]
    later = base[:15] + [(i, (i + 3) % 20) for i in range(0, 20, 2)]  # 20 -> 25 ties
    ev = evaluate(_two_waves(base, later, 20), baseline=BASE, as_of=AT, n_boot=300, seed=4,
                  territories=["bergamo"])
    r = row(ev, "bergamo")
    assert r["change_pct"] == pytest.approx(25.0)
    rel = ev.replicates["change_pct"].to_numpy()
    assert rel.size == 300 and np.isfinite(rel).all() and r["n_boot_zero_baseline"] == 0
    assert r["ci_low_pct"] == pytest.approx(np.quantile(rel, 0.025))
    assert r["ci_high_pct"] == pytest.approx(np.quantile(rel, 0.975))
    assert r["se_pct"] == pytest.approx(np.std(rel, ddof=1))
    assert r["p_no_increase"] == pytest.approx(np.mean(rel <= 0))
    assert 0 < r["p_no_increase"] < 0.5
    d0 = ev.replicates["density_baseline"].to_numpy()
    d1 = ev.replicates["density_at"].to_numpy()
    np.testing.assert_allclose(rel, 100 * (d1 / d0 - 1))
    w = ev.replicates["weighted_change_pct"].to_numpy()
    assert r["weighted_ci_low_pct"] == pytest.approx(np.quantile(w, 0.025))
    assert r["weighted_ci_high_pct"] == pytest.approx(np.quantile(w, 0.975))


def test_panel_fixture_interval_is_unbounded(panel_eval: Evaluation) -> None:
    # six actors, three ties: many replicates draw no baseline tie at all
    r = row(panel_eval, "bergamo")
    assert r["n_boot_zero_baseline"] > 0 and r["ci_high_pct"] == math.inf
    assert r["verdict"] == "inconclusive" and math.isnan(r["se_pct"])


def test_percentile_matches_numpy_and_handles_inf() -> None:
    values = np.random.default_rng(0).normal(size=101)
    for q in (0.025, 0.5, 0.975):
        assert _percentile(values, q) == pytest.approx(np.quantile(values, q))
    with_inf = np.array([1.0, 2.0, 3.0, np.inf, np.inf])
    assert _percentile(with_inf, 0.975) == math.inf
    assert _percentile(with_inf, 0.0) == 1.0
    assert _percentile(np.array([0.0, np.inf]), 0.5) == math.inf


# ---------------------------------------------------------------- reproducibility


def test_seed_reproducible_and_recorded() -> None:
    m = random_map(1)
    a = evaluate(m, baseline=BASE, as_of=AT, n_boot=100, seed=5)
    b = evaluate(m, baseline=BASE, as_of=AT, n_boot=100, seed=5)
    pd.testing.assert_frame_equal(a.table, b.table)
    pd.testing.assert_frame_equal(a.replicates, b.replicates)
    c = evaluate(m, baseline=BASE, as_of=AT, n_boot=100, seed=6)
    assert not a.replicates["change_pct"].equals(c.replicates["change_pct"])
    fresh = evaluate(m, baseline=BASE, as_of=AT, n_boot=100)
    assert isinstance(fresh.seed, int)
    again = evaluate(m, baseline=BASE, as_of=AT, n_boot=100, seed=fresh.seed)
    pd.testing.assert_frame_equal(fresh.table, again.table)
    assert (a.baseline, a.as_of, a.target, a.n_boot, a.seed) == (
        pd.Timestamp(BASE), pd.Timestamp(AT), 0.30, 100, 5)


def test_territory_result_independent_of_other_territories() -> None:
    m = random_map(2)
    everything = evaluate(m, baseline=BASE, as_of=AT, n_boot=80, seed=3)
    alone = evaluate(m, baseline=BASE, as_of=AT, n_boot=80, seed=3, territories="brescia")
    assert alone.table["territory"].tolist() == ["brescia"]
    pd.testing.assert_series_equal(row(everything, "brescia"), row(alone, "brescia"))
    region = evaluate(m, baseline=BASE, as_of=AT, n_boot=80, seed=3, territories=["lombardia"])
    pd.testing.assert_series_equal(row(everything, "lombardia"), row(region, "lombardia"))


# ---------------------------------------------------------------- verdicts


def _two_waves(base_edges, later_edges, n: int):
    """Panel of n always-active actors; ties of the first list end the day before AT."""
    actors = [{"id": f"N{i:02d}"} for i in range(n)]
    rels = [{"source": f"N{a:02d}", "target": f"N{b:02d}", "until": "2027-03-30"}
            for a, b in base_edges]
    rels += [{"source": f"N{a:02d}", "target": f"N{b:02d}", "since": "2026-04-01"}
             for a, b in later_edges]
    return make_map(actors, rels)


def test_verdict_rule_boundaries() -> None:
    assert _verdict(30.0, 50.0, 30.0) == "met"
    assert _verdict(29.9, 50.0, 30.0) == "inconclusive"
    assert _verdict(10.0, 30.0, 30.0) == "inconclusive"
    assert _verdict(10.0, 29.9, 30.0) == "not_met"


def test_verdict_met() -> None:
    cycle = [(i, (i + 1) % 30) for i in range(30)]
    chords = [(i, (i + k) % 30) for i in range(30) for k in (2, 3)]
    ev = evaluate(_two_waves(cycle, cycle + chords, 30), baseline=BASE, as_of=AT, n_boot=400,
                  seed=1, territories=["bergamo"])
    r = row(ev, "bergamo")
    assert r["change_pct"] == pytest.approx(200.0)
    assert r["ci_low_pct"] >= 30 and r["verdict"] == "met"
    assert bool(r["target_met_point"]) is True
    assert r["p_no_increase"] == 0.0


def test_verdict_not_met_when_nothing_changes() -> None:
    edges = [(i, (i + 1) % 12) for i in range(12)]
    ev = evaluate(_two_waves(edges, edges, 12), baseline=BASE, as_of=AT, n_boot=200, seed=1,
                  territories=["bergamo"], min_ties=1)
    r = row(ev, "bergamo")
    assert r["change_pct"] == 0 and r["ci_low_pct"] == 0 and r["ci_high_pct"] == 0
    assert r["verdict"] == "not_met" and bool(r["target_met_point"]) is False
    assert r["p_no_increase"] == 1.0 and r["se_pct"] == 0


def test_verdict_inconclusive_and_exact_target() -> None:
    base = [(i, i + 1) for i in range(10)]
    later = [*base, (0, 5), (2, 8), (3, 10)]  # 10 -> 13 ties: exactly +30%
    ev = evaluate(_two_waves(base, later, 11), baseline=BASE, as_of=AT, n_boot=400, seed=2,
                  territories=["bergamo"], min_ties=1)
    r = row(ev, "bergamo")
    assert r["change_pct"] == 30.0 and r["target_pct"] == 30.0
    assert bool(r["target_met_point"]) is True
    assert r["ci_low_pct"] < 30 <= r["ci_high_pct"]
    assert r["verdict"] == "inconclusive"


def test_n_boot_zero_point_estimate_only() -> None:
    ev = evaluate(panel_map(), baseline=BASE, as_of=AT, n_boot=0, seed=1, min_ties=1)
    r = row(ev, "bergamo")
    assert math.isnan(r["ci_low_pct"]) and math.isnan(r["ci_high_pct"])
    assert math.isnan(r["se_pct"]) and math.isnan(r["p_no_increase"])
    assert r["verdict"] == "inconclusive"
    assert bool(r["target_met_point"]) is True  # +33.3% >= +30%
    assert "n_boot=0" in r["note"]
    assert ev.replicates.empty


# ---------------------------------------------------------------- degenerate cases


def test_degenerate_rows_have_verdict_and_note(panel_eval: Evaluation) -> None:
    empty = row(panel_eval, "cremona")  # no actor at all
    assert empty["n_panel"] == 0 and empty["verdict"] == "not_evaluable"
    assert "Panel vuoto" in empty["note"]
    assert math.isnan(empty["change_pct"]) and pd.isna(empty["target_met_point"])
    single = row(panel_eval, "brescia")  # only X
    assert single["n_panel"] == 1 and single["verdict"] == "not_evaluable"
    assert "un solo attore" in single["note"]
    assert math.isnan(single["density_baseline"])


def test_two_actor_panel() -> None:
    m = make_map([{"id": "a"}, {"id": "b"}], [{"source": "a", "target": "b"}])
    r = row(evaluate(m, baseline=BASE, as_of=AT, n_boot=50, seed=0), "bergamo")
    assert r["n_panel"] == 2 and r["density_baseline"] == 1.0
    assert r["verdict"] == "not_evaluable" and "2 attori" in r["note"]


def test_no_tie_at_baseline_reports_absolute_change() -> None:
    actors = [{"id": x} for x in "abcd"]
    rels = [{"source": "a", "target": "b", "since": "2026-06-01"},
            {"source": "c", "target": "d", "since": "2026-06-01"}]
    r = row(evaluate(make_map(actors, rels), baseline=BASE, as_of=AT, n_boot=50, seed=0),
            "bergamo")
    assert r["ties_baseline"] == 0 and r["ties_at"] == 2
    assert math.isnan(r["change_pct"]) and r["verdict"] == "not_evaluable"
    assert r["density_change_abs"] == pytest.approx(2 / 6)
    assert "variazione assoluta" in r["note"] and "+0,3333" in r["note"]
    none = row(evaluate(make_map(actors, []), baseline=BASE, as_of=AT, n_boot=50, seed=0),
               "bergamo")
    assert none["density_change_abs"] == 0 and "né alla baseline" in none["note"]


def test_replicates_with_no_baseline_tie() -> None:
    actors = [{"id": x} for x in "abc"]
    rels = [{"source": "a", "target": "b"},
            {"source": "b", "target": "c", "since": "2026-06-01"},
            {"source": "a", "target": "c", "since": "2026-06-01"}]
    ev = evaluate(make_map(actors, rels), baseline=BASE, as_of=AT, n_boot=200, seed=0,
                  territories=["bergamo"])
    r = row(ev, "bergamo")
    assert r["change_pct"] == 200.0
    assert r["n_boot_zero_baseline"] > 0
    assert math.isnan(r["se_pct"]) and "replicati" in r["note"]
    assert r["verdict"] in VERDICTS and r["verdict"] != "not_met"
    assert np.isinf(ev.replicates["change_pct"]).sum() <= r["n_boot_zero_baseline"]


def test_no_silent_nan() -> None:
    for m in (panel_map(), random_map(8, n=30, r=40), make_map([])):
        for n_boot in (0, 40):
            ev = evaluate(m, baseline=BASE, as_of=AT, n_boot=n_boot, seed=1)
            for rec in ev.table.to_dict("records"):
                assert rec["verdict"] in VERDICTS
                if math.isnan(rec["change_pct"]) or math.isnan(rec["ci_low_pct"]):
                    assert rec["note"], rec


# ---------------------------------------------------------------- arguments


def test_argument_errors() -> None:
    m = panel_map()
    with pytest.raises(DateOrderError, match=r"as_of=2026-03-31 must be after baseline"):
        evaluate(m, baseline=AT, as_of=BASE)
    with pytest.raises(DateOrderError, match=r"as_of=.*must be after baseline"):
        evaluate(m, baseline=BASE, as_of=BASE)
    with pytest.raises(ValueError, match="baseline"):
        evaluate(m, baseline="2026-13-01", as_of=AT)
    with pytest.raises(ValueError, match="as_of"):
        evaluate(m, baseline=BASE, as_of="2027-02-30")
    with pytest.raises(TargetError, match="target"):
        evaluate(m, baseline=BASE, as_of=AT, target=float("nan"))
    with pytest.raises(UsageError, match="n_boot"):
        evaluate(m, baseline=BASE, as_of=AT, n_boot=-1)
    with pytest.raises(UsageError, match="seed"):
        evaluate(m, baseline=BASE, as_of=AT, seed=-3)
    with pytest.raises(UnknownTerritoryError, match=r"territor.*'atlantide'"):
        evaluate(m, baseline=BASE, as_of=AT, territories=["atlantide"])


def test_empty_territory_selection_is_an_error() -> None:
    # an empty selection is a usage error (as before the refactor), not an empty result
    with pytest.raises(ValueError, match="territories"):
        evaluate(panel_map(), baseline=BASE, as_of=AT, n_boot=0, territories=[])


def test_usage_errors_are_value_errors() -> None:
    for error in (DateOrderError, TargetError, UnknownTerritoryError, UsageError):
        assert issubclass(error, ValueError)


def test_target_is_a_fraction() -> None:
    m = panel_map()
    with pytest.raises(TargetError, match=r"0\.30") as caught:
        evaluate(m, baseline=BASE, as_of=AT, n_boot=0, target=30)
    assert "0.30 means +30%" in str(caught.value)
    assert caught.value.value == 30
    for bad in (-1.5, 5.01):
        with pytest.raises(TargetError, match=r"0\.30"):
            evaluate(m, baseline=BASE, as_of=AT, n_boot=0, target=bad)
    ev = evaluate(m, baseline=BASE, as_of=AT, n_boot=0, target=0.25)
    assert ev.target == 0.25
    assert (ev.table["target_pct"] == 25.0).all()
    r = row(ev, "bergamo")  # +33.3% on the panel: met at the point against +25%
    assert bool(r["target_met_point"]) is True
    strict = row(evaluate(m, baseline=BASE, as_of=AT, n_boot=0, target=0.34), "bergamo")
    assert strict["target_pct"] == 34.0 and bool(strict["target_met_point"]) is False
    edges = row(evaluate(m, baseline=BASE, as_of=AT, n_boot=0, target=-1), "bergamo")
    assert edges["target_pct"] == -100.0
    assert row(evaluate(m, baseline=BASE, as_of=AT, n_boot=0, target=5), "bergamo")[
        "target_pct"] == 500.0


def test_index_gives_the_same_evaluation() -> None:
    m = random_map(6)
    from_map = evaluate(m, baseline=BASE, as_of=AT, n_boot=50, seed=2)
    from_index = evaluate(m.network_index(), baseline=BASE, as_of=AT, n_boot=50, seed=2)
    pd.testing.assert_frame_equal(from_map.table, from_index.table)
    pd.testing.assert_frame_equal(from_map.replicates, from_index.replicates)
    pd.testing.assert_frame_equal(from_map.series, from_index.series)


def test_italian_dates_accepted() -> None:
    ev = evaluate(panel_map(), baseline="31/03/2026", as_of="31/03/2027", n_boot=0)
    assert ev.baseline == pd.Timestamp(BASE) and ev.as_of == pd.Timestamp(AT)
    assert "2026-03-31" in repr(ev)
