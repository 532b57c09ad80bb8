"""Issue 13: small networks, stratified region, sensitivity rows, jackknife, Holm.

Every figure is checked against an independent computation (networkx graphs or
explicit loops), never against the library's own helpers.
"""

from __future__ import annotations

import math
import zlib

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from _factories import make_map, raw_graph
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opportunity_map.evaluation import (
    Evaluation,
    evaluate,
    holm,
    jackknife_interval,
    percentile_interval,
    resample_vertices,
)
from opportunity_map.metrics import ei_expected

BASE = "2026-03-31"
AT = "2027-03-31"


def row(ev: Evaluation, territory: str) -> pd.Series:
    return ev.table.set_index("territory").loc[territory]


def two_waves(base_edges, later_edges, n: int, *, territory: str = "bergamo", prefix: str = "N",
              levels: dict | None = None):
    actors = [{"id": f"{prefix}{i:02d}", "territory": territory} for i in range(n)]
    levels = levels or {}
    rels = [{"source": f"{prefix}{a:02d}", "target": f"{prefix}{b:02d}", "until": "2027-03-30",
             "level": levels.get((a, b), 2)} for a, b in base_edges]
    rels += [{"source": f"{prefix}{a:02d}", "target": f"{prefix}{b:02d}", "since": "2026-04-01",
              "level": levels.get((a, b), 2)} for a, b in later_edges]
    return actors, rels


# ---------------------------------------------------------------- 1. small networks


def test_below_min_ties_is_not_evaluable_with_a_reason() -> None:
    base = [(i, (i + 1) % 12) for i in range(12)]
    later = base + [(i, (i + 4) % 12) for i in range(12)]
    m = make_map(*two_waves(base, later, 12))
    r = row(evaluate(m, baseline=BASE, as_of=AT, n_boot=200, seed=1), "bergamo")
    assert r["ties_baseline"] == 12 and r["min_ties"] == 20
    assert r["verdict"] == "not_evaluable"
    assert "12 legami" in r["reason_not_evaluable"] and "20" in r["reason_not_evaluable"]
    assert r["change_pct"] == 100.0  # still reported, as a description
    r1 = row(evaluate(m, baseline=BASE, as_of=AT, n_boot=200, seed=1, min_ties=12), "bergamo")
    assert r1["verdict"] != "not_evaluable" and r1["reason_not_evaluable"] == ""


def test_undefined_replicates_are_excluded_and_counted() -> None:
    # 3 actors, 1 tie at the baseline: many draws see no tie at either date
    actors = [{"id": x} for x in "abcd"]
    rels = [{"source": "a", "target": "b"}, {"source": "c", "target": "d", "until": "2026-12-31"}]
    ev = evaluate(make_map(actors, rels), baseline=BASE, as_of=AT, n_boot=300, seed=3,
                  min_ties=1, territories=["bergamo"])
    r = row(ev, "bergamo")
    reps = ev.replicates
    # no tie at either date (a draw of copies of one actor has no pair at all: NaN density)
    db, da = reps["density_baseline"].fillna(0), reps["density_at"].fillna(0)
    both_zero = int(((db == 0) & (da == 0)).sum())
    assert both_zero > 0 and r["n_boot_undefined"] == both_zero
    assert reps["change_pct"].isna().sum() == both_zero  # never scored 0%
    defined = reps["change_pct"].dropna().to_numpy()
    assert r["ci_low_pct"] == pytest.approx(np.quantile(defined, 0.025))


def test_percentile_interval_unbounded_flag() -> None:
    iv = percentile_interval(np.array([np.nan] * 3 + [0.0] * 90 + [np.inf] * 10))
    assert iv.n_undefined == 3 and iv.unbounded and iv.high == math.inf and iv.low == 0.0
    none = percentile_interval(np.array([np.nan, np.nan]))
    assert math.isnan(none.low) and math.isnan(none.high) and none.n_undefined == 2
    assert none.unbounded


def _consistent(rec: dict) -> None:
    v, lo, hi, t = rec["verdict"], rec["ci_low_pct"], rec["ci_high_pct"], rec["target_pct"]
    if v == "met":
        assert math.isfinite(lo) and lo >= t
    elif v == "not_met":
        assert math.isfinite(hi) and hi < t and not rec["ci_unbounded"]
    elif v == "inconclusive":
        assert not (lo >= t) and not (hi < t)
    if rec["ci_unbounded"]:
        assert not math.isfinite(rec["ci_high_pct"]) and v != "not_met"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(3, 9), p0=st.floats(0.1, 0.6), p1=st.floats(0.1, 0.9),
       seed=st.integers(0, 10_000), interval=st.sampled_from(["bootstrap", "jackknife"]))
def test_verdict_never_contradicts_its_interval(n: int, p0: float, p1: float, seed: int,
                                                interval: str) -> None:
    rng = np.random.default_rng(seed)
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    base = [e for e in pairs if rng.random() < p0]
    later = [e for e in pairs if rng.random() < p1]
    m = make_map(*two_waves(base, later, n))
    ev = evaluate(m, baseline=BASE, as_of=AT, n_boot=60, seed=seed, min_ties=1,
                  interval=interval, territories=["bergamo"])
    for rec in ev.table.to_dict("records"):
        _consistent(rec)


# ---------------------------------------------------------------- 2. stratified region


def tiny_two_territories():
    a_act, a_rel = two_waves([(0, 1), (1, 2), (2, 3)], [(0, 1), (1, 2), (2, 3), (0, 3)], 4,
                             territory="bergamo", prefix="B")
    c_act, c_rel = two_waves([(0, 1), (1, 2)], [(0, 1), (1, 2), (0, 2)], 3,
                             territory="brescia", prefix="L")
    return make_map(a_act + c_act, a_rel + c_rel)


def test_region_bootstrap_is_stratified_by_territory() -> None:
    m = tiny_two_territories()
    ev = evaluate(m, baseline=BASE, as_of=AT, n_boot=50, seed=5, min_ties=1,
                  territories=["lombardia"])
    # the hand computation: draw 4 Bergamo actors among the 4, then 3 Brescia actors among the 3
    ids = m.actors["id"].tolist()
    terr = m.actors["territory"].tolist()
    b_ids = [i for i, t in zip(ids, terr, strict=True) if t == "bergamo"]
    l_ids = [i for i, t in zip(ids, terr, strict=True) if t == "brescia"]
    g0, g1 = raw_graph(m, BASE), raw_graph(m, AT)
    rng = np.random.default_rng([5, zlib.crc32(b"lombardia")])
    expected = []
    # one batch of 50 replicates: Bergamo's stratum first (territory order), then Brescia
    draws_b = rng.integers(0, 4, size=(50, 4))
    draws_l = rng.integers(0, 3, size=(50, 3))
    for rep in range(50):
        draw = [b_ids[k] for k in draws_b[rep]] + [l_ids[k] for k in draws_l[rep]]
        assert sum(d in b_ids for d in draw) == 4 and sum(d in l_ids for d in draw) == 3
        e0 = e1 = p = 0
        for k in range(7):
            for j in range(k + 1, 7):
                if draw[k] == draw[j]:
                    continue
                p += 1
                e0 += g0.has_edge(draw[k], draw[j])
                e1 += g1.has_edge(draw[k], draw[j])
        expected.append((e0 / p, e1 / p))
    got = ev.replicates[["density_baseline", "density_at"]].to_numpy()
    np.testing.assert_allclose(got, np.array(expected))


def test_resample_vertices_keeps_stratum_sizes() -> None:
    strata = np.array([2, 0, 2, 1, 0, 2])
    for batch in resample_vertices(6, 40, rng=np.random.default_rng(0), strata=strata):
        for idx in batch:
            assert sorted(np.bincount(strata[idx], minlength=3)) == sorted(
                np.bincount(strata, minlength=3))
            assert (np.bincount(strata[idx], minlength=3) == np.bincount(strata)).all()


# ---------------------------------------------------------------- 3. sensitivity


def exits_map():
    """Bergamo: A..F; E leaves before AT. Baseline ties A-B(1) B-C(2) C-D(3) D-E(2) E-A(1)
    A-C(2); at AT: A-B(1) B-C(2) C-D(3) A-C(2) B-D(3) A-D(1) and a newcomer G with G-A(2)."""
    actors = [{"id": x, "group": g} for x, g in zip("ABCDF", ["cm", "apl", "apl",
                                                              "cooperazione", "imprese"],
                                                     strict=True)]
    actors += [{"id": "E", "group": "servizi", "until": "2026-12-31"},
               {"id": "G", "group": "servizi", "since": "2027-01-01"}]
    rels = [
        {"source": "A", "target": "B", "level": 1},
        {"source": "B", "target": "C", "level": 2},
        {"source": "C", "target": "D", "level": 3},
        {"source": "D", "target": "E", "level": 2},
        {"source": "E", "target": "A", "level": 1},
        {"source": "A", "target": "C", "level": 2},
        {"source": "B", "target": "D", "level": 3, "since": "2026-06-01"},
        {"source": "A", "target": "D", "level": 1, "since": "2026-06-01"},
        {"source": "G", "target": "A", "level": 2},
    ]
    return make_map(actors, rels)


def test_sensitivity_rows_by_hand() -> None:
    m = exits_map()
    ev = evaluate(m, baseline=BASE, as_of=AT, n_boot=200, seed=2, min_ties=1,
                  territories=["bergamo"])
    r = row(ev, "bergamo")
    g0, g1 = raw_graph(m, BASE, territory="bergamo"), raw_graph(m, AT, territory="bergamo")
    cohort = set(g0)  # A B C D E F
    assert r["n_cohort"] == len(cohort) == 6
    l0 = g0.number_of_edges()  # 6
    l1 = g1.subgraph(cohort & set(g1)).number_of_edges()  # survivors' ties at AT: 6
    assert (r["ties_cohort_baseline"], r["ties_cohort_at"]) == (l0, l1)
    assert r["change_cohort_pct"] == pytest.approx(100 * (l1 - l0) / l0)
    panel = cohort & set(g1)
    assert r["change_pct"] == pytest.approx(
        100 * (g1.subgraph(panel).number_of_edges() / g0.subgraph(panel).number_of_edges() - 1))
    assert r["change_network_pct"] == pytest.approx(100 * (nx.density(g1) / nx.density(g0) - 1))

    def strong(g: nx.Graph) -> int:
        return sum(d["level"] >= 2 for *_, d in g.subgraph(panel).edges(data=True))

    assert (r["ties_no_level1_baseline"], r["ties_no_level1_at"]) == (strong(g0), strong(g1))
    assert r["change_no_level1_pct"] == pytest.approx(100 * (strong(g1) / strong(g0) - 1))
    for c in ("cohort", "network", "no_level1"):
        assert r[f"{c}_ci_low_pct"] <= r[f"{c}_ci_high_pct"]
    assert "coorte di baseline" in r["sensitivity_note"]


def test_ei_expected_by_hand() -> None:
    # groups of sizes 3, 2, 1: pairs 15, internal 3 + 1 = 4 -> (11 - 4) / 15
    assert ei_expected(np.array([3, 2, 1, 0, 0])) == pytest.approx(7 / 15)
    g = nx.complete_graph(6)  # complete graph: observed E-I equals the expectation
    sizes = {0: "cm", 1: "cm", 2: "cm", 3: "apl", 4: "apl", 5: "imprese"}
    actors = [{"id": f"N{i}", "group": sizes[i]} for i in g]
    rels = [{"source": f"N{a}", "target": f"N{b}"} for a, b in g.edges]
    r = row(evaluate(make_map(actors, rels), baseline=BASE, as_of=AT, n_boot=0, min_ties=1),
            "bergamo")
    assert r["ei_expected"] == pytest.approx(7 / 15)
    assert r["ei_baseline"] == pytest.approx(7 / 15)


# ---------------------------------------------------------------- 6. jackknife


def test_jackknife_against_leave_one_vertex_out() -> None:
    rng = np.random.default_rng(4)
    g0 = nx.gnp_random_graph(14, 0.35, seed=1)
    g1 = nx.gnp_random_graph(14, 0.5, seed=2)
    n = 14
    theta = math.log(nx.density(g1) / nx.density(g0))
    loo = []
    for i in range(n):
        keep = [k for k in range(n) if k != i]
        loo.append(math.log(nx.density(g1.subgraph(keep)) / nx.density(g0.subgraph(keep))))
    loo_a = np.array(loo)
    se = math.sqrt((n - 1) / n * ((loo_a - loo_a.mean()) ** 2).sum())
    u0, v0 = np.array(g0.edges).T
    u1, v1 = np.array(g1.edges).T
    iv = jackknife_interval(n, u0, v0, u1, v1, target_pct=30.0)
    assert iv.low == pytest.approx(100 * (math.exp(theta - 1.959963984540054 * se) - 1))
    assert iv.high == pytest.approx(100 * (math.exp(theta + 1.959963984540054 * se) - 1))
    assert iv.method == "jackknife" and not iv.unbounded
    del rng


def test_jackknife_interval_drives_the_verdict_when_chosen() -> None:
    base = [(i, (i + 1) % 30) for i in range(30)]
    later = base + [(i, (i + 2) % 30) for i in range(30)] + [(i, (i + 3) % 30) for i in range(30)]
    m = make_map(*two_waves(base, later, 30))
    r = row(evaluate(m, baseline=BASE, as_of=AT, n_boot=200, seed=1, interval="jackknife"),
            "bergamo")
    u = np.arange(30)
    iv = jackknife_interval(30, u, (u + 1) % 30, np.r_[u, u, u],
                            np.r_[(u + 1) % 30, (u + 2) % 30, (u + 3) % 30])
    assert r["interval_method"] == "jackknife" and r["alt_interval_method"] == "bootstrap"
    assert r["ci_low_pct"] == pytest.approx(iv.low) and r["verdict"] == "met"
    assert not math.isnan(r["alt_ci_low_pct"])


# ---------------------------------------------------------------- 7. Holm


def test_holm_by_hand() -> None:
    # K = 4, alpha 0.025: thresholds 0.00625, 0.00833, 0.0125, 0.025
    p = [0.005, 0.03, 0.008, 0.011]
    assert holm(p).tolist() == [True, False, True, True]
    assert holm([0.007, 0.001, np.nan]).tolist() == [True, True, False]
    assert holm([0.02, 0.02]).tolist() == [False, False]


def test_holm_rule_only_downgrades_met() -> None:
    m = tiny_two_territories()
    for rule in ("secondary", "holm"):
        ev = evaluate(m, baseline=BASE, as_of=AT, n_boot=100, seed=1, min_ties=1,
                      territory_rule=rule)
        assert ("Holm" in ev.rule_text) == (rule == "holm")
        for rec in ev.table.to_dict("records"):
            if rec["verdict_adjusted"] != rec["verdict"]:
                assert rule == "holm" and rec["verdict"] == "met"
                assert rec["verdict_adjusted"] == "inconclusive"


def test_agreement_sentence_names_rows_on_the_other_side_of_the_target() -> None:
    from opportunity_map.evaluation import _agreement_sentence

    text = _agreement_sentence(
        (34.5, "inconclusive"),
        [("coorte di baseline", 29.8, "inconclusive"), ("rete completa", 30.5, "inconclusive"),
         ("senza legami di livello 1", 32.7, "met")],
        evaluable=True, with_interval=True, target_pct=30.0)
    assert "concordano (stesso lato dell'obiettivo e stesso esito) rete completa (+30,5%)" in text
    assert "non concordano coorte di baseline (+29,8%), senza legami di livello 1" in text


def test_every_new_column_has_an_italian_legend() -> None:
    from opportunity_map.evaluation import EXTRA_COLUMN_LEGEND, EXTRA_COLUMNS

    new = EXTRA_COLUMNS[EXTRA_COLUMNS.index("n_boot_zero_baseline") + 1:]
    assert set(new) == set(EXTRA_COLUMN_LEGEND)


def test_cohort_and_network_intervals_by_explicit_replicates() -> None:
    m = exits_map()
    ev = evaluate(m, baseline=BASE, as_of=AT, n_boot=40, seed=6, min_ties=1,
                  territories=["bergamo"])
    r = row(ev, "bergamo")
    g0, g1 = raw_graph(m, BASE, territory="bergamo"), raw_graph(m, AT, territory="bergamo")
    ids = [i for i in m.actors["id"] if i in set(g0) | set(g1)]  # order of m.actors
    panel = set(g0) & set(g1)
    rng = np.random.default_rng([6, zlib.crc32(b"bergamo"), 1])
    draws = rng.integers(0, len(ids), size=(40, len(ids)))
    cohort, network = [], []
    for idx in draws:
        copies = [ids[k] for k in idx]
        c0 = c1 = s0 = s1 = p0 = p1 = 0
        for k in range(len(copies)):
            for j in range(k + 1, len(copies)):
                a, b = copies[k], copies[j]
                if a == b:
                    continue
                if a in g0 and b in g0:
                    p0 += 1
                    s0 += g0.has_edge(a, b)
                if a in g1 and b in g1:
                    p1 += 1
                    s1 += g1.has_edge(a, b)
                c0 += g0.has_edge(a, b)
                c1 += a in panel and b in panel and g1.has_edge(a, b)
        cohort.append(100 * (c1 - c0) / c0 if c0 else (math.inf if c1 else math.nan))
        d0 = s0 / p0 if p0 else math.nan
        d1 = s1 / p1 if p1 else math.nan
        network.append(100 * (d1 / d0 - 1) if d0 > 0 else (math.inf if d1 > 0 else math.nan))
    def quantile(values: list[float], q: float) -> float:  # numpy's rule, inf allowed
        s = sorted(v for v in values if not math.isnan(v))
        h = (len(s) - 1) * q
        lo, hi = math.floor(h), math.ceil(h)
        if lo == hi or s[lo] == s[hi]:
            return s[lo]
        return math.inf if math.isinf(s[hi]) else s[lo] + (h - lo) * (s[hi] - s[lo])

    for values, col in ((cohort, "cohort"), (network, "network")):
        assert r[f"{col}_ci_low_pct"] == pytest.approx(quantile(values, 0.025))
        assert r[f"{col}_ci_high_pct"] == pytest.approx(quantile(values, 0.975))
