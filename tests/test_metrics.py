"""Tests of opportunity_map.metrics against independent references."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from _factories import make_map, map_from_graph, random_map, raw_graph

import opportunity_map as om
from opportunity_map import UnknownTerritoryError
from opportunity_map.metrics import (
    actor_stats,
    adjacency_matrix,
    block_density,
    block_density_from_arrays,
    degree_centralization,
    density_from_counts,
    ei_index,
    network_stats,
    network_table,
)
from opportunity_map.schema import GROUPS

AT = "2026-06-30"


# ---------------------------------------------------------------- pure functions


def test_density_from_counts() -> None:
    assert density_from_counts(20, 16) == pytest.approx(20 / 120)
    assert density_from_counts(1, 2) == 1.0
    assert density_from_counts(0, 5) == 0.0
    assert math.isnan(density_from_counts(0, 1))
    assert math.isnan(density_from_counts(0, 0))


@pytest.mark.parametrize("n", [3, 4, 7, 12])
def test_centralization_of_star_is_one_and_cycle_zero(n: int) -> None:
    star = nx.star_graph(n - 1)
    cycle = nx.cycle_graph(n)
    assert degree_centralization(np.array([d for _, d in star.degree])) == pytest.approx(1.0)
    assert degree_centralization(np.array([d for _, d in cycle.degree])) == 0.0
    complete = nx.complete_graph(n)
    assert degree_centralization(np.array([d for _, d in complete.degree])) == 0.0


def test_centralization_undefined_below_three_nodes() -> None:
    assert math.isnan(degree_centralization(np.array([1, 1])))
    assert math.isnan(degree_centralization(np.array([])))


def test_ei_index_by_hand() -> None:
    # 1 internal tie, 3 external: (3 - 1) / 4
    assert ei_index(np.array([0, 0, 1, 0]), np.array([0, 1, 3, 3])) == pytest.approx(0.5)
    assert ei_index(np.array([2, 2]), np.array([2, 2])) == -1.0
    assert ei_index(np.array([0]), np.array([1])) == 1.0
    assert math.isnan(ei_index(np.array([], dtype=int), np.array([], dtype=int)))
    # unknown group (-1) ignored
    assert ei_index(np.array([0, -1]), np.array([1, 0])) == 1.0


def test_adjacency_matrix_symmetric_and_upper() -> None:
    a = adjacency_matrix(np.array([2, 0]), np.array([0, 1]), 3, weights=np.array([4, 2]))
    dense = a.toarray()
    assert (dense == dense.T).all()
    assert dense[0, 2] == 4 and dense[0, 1] == 2 and dense.sum() == 12
    upper = adjacency_matrix(np.array([2, 0]), np.array([0, 1]), 3, upper=True).toarray()
    assert upper[0, 2] == 1 and upper[2, 0] == 0 and upper.sum() == 2


def test_block_density_from_arrays_by_hand() -> None:
    groups = np.array([0, 0, 1, 1, 1])
    # cm-cm 1 tie of 1 pair; cm-apl 3 of 6; apl-apl 1 of 3
    u = np.array([0, 0, 1, 1, 2])
    v = np.array([1, 2, 3, 4, 3])
    ties, sizes, dens = block_density_from_arrays(groups, u, v, n_groups=2)
    assert sizes.tolist() == [2, 3]
    assert ties.tolist() == [[1, 3], [3, 1]]
    assert dens[0, 0] == 1.0
    assert dens[0, 1] == dens[1, 0] == pytest.approx(0.5)
    assert dens[1, 1] == pytest.approx(1 / 3)


# ---------------------------------------------------------------- reference graphs


def test_florentine_families_density() -> None:
    g = nx.florentine_families_graph()  # 15 families: networkx leaves out the Pucci
    m = map_from_graph(g)
    stats = network_stats(m.network(AT))
    assert (stats["n_actors"], stats["n_ties"]) == (15, 20)
    assert stats["density"] == pytest.approx(20 / 105)
    assert stats["density"] == pytest.approx(nx.density(g))
    g.add_node("Pucci")  # the isolated 16th family of Padgett's data
    stats = network_stats(map_from_graph(g).network(AT))
    assert stats["density"] == pytest.approx(20 / 120)
    assert stats["n_isolates"] == 1
    assert stats["n_components"] == nx.number_connected_components(g) == 2


def test_karate_club() -> None:
    g = nx.karate_club_graph()
    stats = network_stats(map_from_graph(g).network(AT))
    assert stats["density"] == pytest.approx(78 / 561)
    assert stats["avg_degree"] == pytest.approx(2 * 78 / 34)
    degrees = np.array([d for _, d in g.degree])
    expected = (degrees.max() - degrees).sum() / (33 * 32)
    assert stats["degree_centralization"] == pytest.approx(expected)
    assert stats["n_components"] == 1 and stats["n_isolates"] == 0
    assert stats["weighted_density"] == pytest.approx(78 / 561 / 4)


def test_star_and_cycle_centralization_through_map() -> None:
    star = map_from_graph(nx.star_graph(6)).network(AT)
    assert network_stats(star)["degree_centralization"] == pytest.approx(1.0)
    cycle = map_from_graph(nx.cycle_graph(7)).network(AT)
    assert network_stats(cycle)["degree_centralization"] == 0.0


def test_actor_stats_match_networkx() -> None:
    g = nx.karate_club_graph()
    levels = {e: 1 + (i % 4) for i, e in enumerate(g.edges)}
    m = map_from_graph(g, levels=levels)
    frame = actor_stats(m.network(AT))
    between = nx.betweenness_centrality(g, normalized=True)
    for node in g.nodes:
        row = frame.loc[str(node)]
        assert row["degree"] == g.degree[node]
        assert row["weighted_degree"] == sum(
            levels.get((node, o), levels.get((o, node))) for o in g.neighbors(node)
        )
        assert row["betweenness"] == pytest.approx(between[node])
    assert list(frame.columns) == ["name", "group", "territory", "degree", "weighted_degree",
                                   "betweenness"]


# ---------------------------------------------------------------- hand-built maps


def _groups_map():
    actors = [
        {"id": "cm1", "group": "cm"}, {"id": "cm2", "group": "cm"},
        {"id": "apl1", "group": "apl"}, {"id": "apl2", "group": "apl"},
        {"id": "apl3", "group": "apl"},
        {"id": "imp1", "group": "imprese"}, {"id": "ser1", "group": "servizi"},
    ]
    relations = [
        {"source": "cm1", "target": "cm2"},
        {"source": "cm1", "target": "apl1"}, {"source": "cm2", "target": "apl1"},
        {"source": "apl2", "target": "cm2"},
        {"source": "apl1", "target": "apl3"},
        {"source": "imp1", "target": "ser1"},
    ]
    return make_map(actors, relations)


def test_block_density_exact() -> None:
    frame = block_density(_groups_map().network(AT), territory="bergamo")
    assert list(frame.index) == list(GROUPS) and list(frame.columns) == list(GROUPS)
    expected = pd.DataFrame(np.nan, index=list(GROUPS), columns=list(GROUPS))
    cells = {
        ("cm", "cm"): 1.0, ("cm", "apl"): 3 / 6, ("apl", "apl"): 1 / 3,
        ("cm", "imprese"): 0.0, ("cm", "servizi"): 0.0, ("apl", "imprese"): 0.0,
        ("apl", "servizi"): 0.0, ("imprese", "servizi"): 1.0,
    }
    for (a, b), value in cells.items():
        expected.loc[a, b] = expected.loc[b, a] = value
    # cooperazione has no actor (row and column NaN); imprese and servizi one actor each
    np.testing.assert_allclose(frame.to_numpy(), expected.to_numpy(), equal_nan=True)


def test_ei_index_through_map() -> None:
    stats = network_stats(_groups_map().network(AT))
    # internal: cm1-cm2, apl1-apl3; external: 4
    assert stats["e_i_index"] == pytest.approx((4 - 2) / 6)


def test_weighted_density_strongest_active_level() -> None:
    actors = [{"id": x} for x in "abcd"]
    relations = [
        {"source": "a", "target": "b", "level": 4},
        {"source": "b", "target": "c", "level": 2},
        {"source": "c", "target": "b", "level": 1},  # same pair: max level 2 counts
        {"source": "c", "target": "d", "level": 1},
        {"source": "a", "target": "d", "level": 4, "until": "2026-01-01"},  # ended
        {"source": "a", "target": "c", "level": 3, "since": "2027-01-01"},  # not yet
    ]
    stats = network_stats(make_map(actors, relations).network(AT))
    assert stats["n_ties"] == 3
    assert stats["density"] == pytest.approx(3 / 6)
    assert stats["weighted_density"] == pytest.approx((4 + 2 + 1) / (4 * 6))


def test_cross_territory_ties_reported_apart() -> None:
    actors = [
        {"id": "a", "territory": "bergamo"}, {"id": "b", "territory": "bergamo"},
        {"id": "c", "territory": "bergamo"}, {"id": "x", "territory": "brescia"},
    ]
    relations = [
        {"source": "a", "target": "b"}, {"source": "a", "target": "x"},
        {"source": "x", "target": "b"},
    ]
    m = make_map(actors, relations)
    bg = network_stats(m.network(AT), territory="bergamo")
    assert (bg["n_actors"], bg["n_ties"], bg["n_cross_territory_ties"]) == (3, 1, 2)
    assert bg["density"] == pytest.approx(1 / 3)
    assert bg["n_isolates"] == 1
    bs = network_stats(m.network(AT), territory="brescia")
    assert (bs["n_actors"], bs["n_ties"], bs["n_cross_territory_ties"]) == (1, 0, 2)
    assert math.isnan(bs["density"])
    region = network_stats(m.network(AT))
    assert region["territory"] == "lombardia"
    assert (region["n_actors"], region["n_ties"], region["n_cross_territory_ties"]) == (4, 3, 2)
    assert region["density"] == pytest.approx(3 / 6)
    table = network_table(m.network(AT))
    assert table["territory"].tolist() == ["bergamo", "brescia", "cremona", "lombardia"]
    assert table.set_index("territory").loc["bergamo", "n_ties"] == 1


def test_date_boundaries_are_inclusive() -> None:
    t = "2026-06-30"
    actors = [
        {"id": "a"},
        {"id": "b", "since": t},  # starts that day: active
        {"id": "c", "until": t},  # ends that day: active
        {"id": "d", "until": "2026-06-29"},  # ended the day before
        {"id": "e", "since": "2026-07-01"},  # starts the day after
    ]
    relations = [
        {"source": "a", "target": "b", "since": t},
        {"source": "a", "target": "c", "until": t},
        {"source": "b", "target": "c", "until": "2026-06-29"},
        {"source": "a", "target": "d"},  # d inactive: no tie
        {"source": "a", "target": "e"},
    ]
    stats = network_stats(make_map(actors, relations).network(t))
    assert stats["n_actors"] == 3
    assert stats["n_ties"] == 2


def test_edge_cases_empty_and_single() -> None:
    empty = make_map([])
    stats = network_stats(empty.network(AT))
    assert stats["n_actors"] == 0 and stats["n_ties"] == 0 and stats["n_components"] == 0
    assert math.isnan(stats["density"]) and math.isnan(stats["avg_degree"])
    assert math.isnan(stats["degree_centralization"]) and math.isnan(stats["e_i_index"])
    single = network_stats(make_map([{"id": "a"}]).network(AT))
    assert single["n_actors"] == 1 and single["avg_degree"] == 0
    assert single["n_isolates"] == 1 and single["n_components"] == 1
    assert math.isnan(single["density"])
    no_ties = network_stats(make_map([{"id": "a"}, {"id": "b"}, {"id": "c"}]).network(AT))
    assert no_ties["density"] == 0.0 and no_ties["degree_centralization"] == 0.0
    assert math.isnan(no_ties["e_i_index"])
    assert actor_stats(empty.network(AT)).empty


def test_unknown_actors_and_self_relations_ignored() -> None:
    m = make_map(
        [{"id": "a"}, {"id": "b"}],
        [{"source": "a", "target": "b"}, {"source": "a", "target": "a"},
         {"source": "a", "target": "zzz"}],
    )
    assert network_stats(m.network(AT))["n_ties"] == 1


def test_group_derived_from_kind_when_missing() -> None:
    m = _groups_map()
    with_group = network_stats(m.network(AT))["e_i_index"]
    m.actors = m.actors.drop(columns="group")
    assert network_stats(m.network(AT))["e_i_index"] == with_group


def test_errors_name_the_parameter() -> None:
    m = _groups_map()
    with pytest.raises(UnknownTerritoryError, match="territory='atlantide'"):
        network_stats(m.network(AT), territory="atlantide")
    for function in (block_density, actor_stats):
        with pytest.raises(UnknownTerritoryError, match="territory='atlantide'"):
            function(m.network(AT), territory="atlantide")
    with pytest.raises(ValueError, match="as_of"):
        m.network("31/02/2026")
    dup = make_map([{"id": "a"}, {"id": "a"}])
    with pytest.raises(ValueError, match="duplicated actor id"):
        network_stats(dup.network(AT))
    bad = make_map([{"id": "a"}, {"id": "b"}], [{"source": "a", "target": "b"}])
    bad.relations.loc[0, "level"] = 7
    with pytest.raises(ValueError, match="level"):
        network_stats(bad.network(AT))


# ---------------------------------------------------------------- against raw-row graphs


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("territory", [None, "bergamo", "brescia"])
def test_stats_match_model_graph(seed: int, territory: str | None) -> None:
    m = random_map(seed)
    # built from the raw rows by hand, not through opportunity_map.network
    g = raw_graph(m, AT, territory=territory)
    # the library's own graph view must be that same graph
    view = m.graph(AT, territory=territory)
    assert set(view.nodes) == set(g.nodes)
    assert {frozenset(e) for e in view.edges} == {frozenset(e) for e in g.edges}
    assert all(view.edges[a, b]["level"] == g.edges[a, b]["level"] for a, b in g.edges)
    stats = network_stats(m.network(AT), territory=territory)
    n = g.number_of_nodes()
    assert stats["n_actors"] == n
    assert stats["n_ties"] == g.number_of_edges()
    assert stats["density"] == pytest.approx(nx.density(g))
    assert stats["n_components"] == nx.number_connected_components(g)
    assert stats["n_isolates"] == nx.number_of_isolates(g)
    levels = sum(d["level"] for _, _, d in g.edges(data=True))
    assert stats["weighted_density"] == pytest.approx(levels / (4 * n * (n - 1) / 2))
    groups = nx.get_node_attributes(g, "group")
    external = sum(groups[a] != groups[b] for a, b in g.edges)
    internal = g.number_of_edges() - external
    assert stats["e_i_index"] == pytest.approx((external - internal) / (external + internal))
    frame = actor_stats(m.network(AT), territory=territory)
    assert dict(frame["degree"]) == dict(g.degree)
    between = nx.betweenness_centrality(g, normalized=True)
    for node, value in between.items():
        assert frame.loc[node, "betweenness"] == pytest.approx(value)
    weighted = dict(g.degree(weight="level"))
    assert dict(frame["weighted_degree"]) == weighted


def test_actor_stats_name_the_actors() -> None:
    m = om.example_map()
    frame = actor_stats(m.network(AT), territory="bergamo")
    names = m.actors.set_index("id")["name"]
    assert frame["name"].to_dict() == {i: names[i] for i in frame.index}
    assert frame["name"].notna().all()
