"""Power before the data: the simulation goes through the same estimator as evaluate."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest
from _factories import make_map

from opportunity_map.evaluation import (
    _relative_change_pct,
    jackknife_interval,
    percentile_interval,
    vertex_bootstrap,
)
from opportunity_map.metrics import adjacency_matrix
from opportunity_map.power import _counts, bootstrap_lower_bounds, growth_order, power

BASE = "2026-03-31"


def ring_map(n: int, chords: int = 0):
    g = nx.cycle_graph(n)
    g.add_edges_from((i, (i + 2) % n) for i in range(chords))
    actors = [{"id": f"N{i:02d}"} for i in range(n)]
    rels = [{"source": f"N{a:02d}", "target": f"N{b:02d}"} for a, b in g.edges]
    return make_map(actors, rels), g


def test_fast_lower_bound_equals_the_estimator_on_the_simulated_network() -> None:
    _, g = ring_map(15, chords=8)
    u0, v0 = (np.array(x) for x in zip(*g.edges, strict=True))
    add_u, add_v = growth_order(15, u0, v0, 12, np.random.default_rng(3))
    counts = _counts(15, 300, np.random.default_rng(9), None)
    for k in (0, 4, 12):
        u1, v1 = np.r_[u0, add_u[:k]], np.r_[v0, add_v[:k]]
        sums, _ = vertex_bootstrap([adjacency_matrix(u0, v0, 15), adjacency_matrix(u1, v1, 15)],
                                   n_boot=300, rng=np.random.default_rng(9))
        expected = percentile_interval(_relative_change_pct(sums[0], sums[1])).low
        got = bootstrap_lower_bounds(counts, u0, v0, add_u, add_v, [k])[0]
        assert got == pytest.approx(expected)


def test_growth_adds_untied_distinct_pairs_favouring_degree() -> None:
    g = nx.star_graph(9)  # hub 0 tied to all: every free pair is among leaves
    g.add_nodes_from(range(10, 14))  # four isolates
    u0, v0 = (np.array(x) for x in zip(*g.edges, strict=True))
    au, av = growth_order(14, u0, v0, 1000, np.random.default_rng(0))
    pairs = {tuple(sorted(p)) for p in zip(au.tolist(), av.tolist(), strict=True)}
    assert len(pairs) == au.size == 14 * 13 // 2 - 9  # all free pairs, each once
    assert not pairs & {tuple(sorted(e)) for e in g.edges}
    # the first additions favour leaves (degree 1, weight 4) over isolates (weight 1)
    firsts = [growth_order(14, u0, v0, 1, np.random.default_rng(s)) for s in range(300)]
    leaf_leaf = sum(1 <= int(a[0]) <= 9 and 1 <= int(b[0]) <= 9 for a, b in firsts)
    assert leaf_leaf / 300 > 0.5  # 36 leaf pairs x 4 vs 40 leaf-isolate x 2 + 6 x 1


def test_power_is_monotone_and_certain_for_large_changes() -> None:
    m, _ = ring_map(40, chords=20)  # 60 ties
    pw = power(m, baseline=BASE, changes=(0.05, 0.6, 2.5), n_sim=30, n_boot=150, seed=1,
               territories=["bergamo"])
    r = pw.table.iloc[0]
    assert r["ties_baseline"] == 60 and r["n_panel"] == 40
    assert r["p_met_5"] <= r["p_met_60"] <= r["p_met_250"]
    assert r["p_met_5"] == 0.0 and r["p_met_250"] == 1.0
    assert 5 < r["mde_pct"] < 250
    curve = pw.curve[pw.curve["territory"] == "bergamo"]["p_met"].to_numpy()
    assert (np.diff(curve) >= 0).all()  # bootstrap: monotone by construction


def test_power_below_min_ties_is_zero_and_mde_infinite() -> None:
    m, _ = ring_map(12)
    r = power(m, baseline=BASE, n_sim=5, n_boot=20, seed=0, territories=["bergamo"]).table.iloc[0]
    assert r["p_met_30"] == 0.0 and r["mde_pct"] == math.inf and "minimo" in r["note"]


def test_power_jackknife_matches_the_jackknife_interval() -> None:
    m, g = ring_map(30, chords=30)
    pw = power(m, baseline=BASE, changes=(1.0,), n_sim=4, n_boot=10, seed=2,
               interval="jackknife", territories=["bergamo"])
    u0, v0 = (np.array(x) for x in zip(*g.edges, strict=True))
    met = 0
    for s in range(4):
        import zlib
        rng = np.random.default_rng([2, zlib.crc32(b"bergamo"), 3, s])
        k_max = min(math.ceil(3.0 * 60), 30 * 29 // 2 - 60)
        au, av = growth_order(30, u0, v0, k_max, rng)
        iv = jackknife_interval(30, u0, v0, np.r_[u0, au[:60]], np.r_[v0, av[:60]])
        met += iv.low >= 30
    assert pw.table.iloc[0]["p_met_100"] == met / 4


def test_evaluate_fills_mde_when_asked() -> None:
    from opportunity_map.evaluation import evaluate

    m, _ = ring_map(40, chords=20)
    ev = evaluate(m, baseline=BASE, as_of="2027-03-31", n_boot=50, seed=1, power=True,
                  power_options={"n_sim": 10, "n_boot": 50}, territories=["bergamo"])
    pw = power(m, baseline=BASE, n_sim=10, n_boot=50, seed=1, territories=["bergamo"])
    assert ev.table["mde_pct"].iloc[0] == pw.table["mde_pct"].iloc[0]
    assert ev.power is not None


def test_potenza_command_writes_csv_and_a_standalone_italian_page(tmp_path,
                                                                  small_map_dir) -> None:
    import pandas as pd

    from opportunity_map.cli import main

    out = tmp_path / "potenza"
    assert main(["potenza", str(small_map_dir), "--baseline", "30/06/2026", "--simulazioni", "5",
                 "--min-legami", "1",
                 "--bootstrap", "30", "--seed", "4", "--out", str(out), "-q"]) == 0
    table = pd.read_csv(out / "potenza.csv")
    assert {"territory", "mde_pct", "p_met_30", "p_met_45", "p_met_60"} <= set(table.columns)
    html = (out / "potenza.html").read_text(encoding="utf-8")
    assert '<html lang="it">' in html and "Variazione minima rilevabile" in html
    assert "http://" not in html and "https://" not in html and "<script" not in html
    assert "Metodo e ipotesi" in html and "seme 4" in html
