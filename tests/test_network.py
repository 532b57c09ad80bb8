"""Tests of opportunity_map.network: the ties at a date, against hand-built values and a
pure-Python reference written from the definition of a tie.

The property test draws small actor and relation tables with ``hypothesis``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from _factories import is_active, make_map, random_map, raw_graph
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opportunity_map import UnknownTerritoryError, example_map
from opportunity_map.metrics import network_stats, network_table
from opportunity_map.network import (
    Network,
    NetworkIndex,
    SubNetwork,
    index_network,
    resolve_as_of,
)
from opportunity_map.schema import RELATION_KINDS

AT = "2026-06-30"
TIE_COLUMNS = ["source", "target", "source_name", "target_name", "level", "kind", "kinds",
               "n_relations", "since"]


# ---------------------------------------------------------------- the reference


def reference_ties(actors: pd.DataFrame, relations: pd.DataFrame, as_of: object,
                   territory: str | None = None) -> list[dict[str, Any]]:
    """The ties at ``as_of`` written from their definition, one relation row at a time.

    A tie is an unordered pair of two distinct organisations, both active (and both in
    ``territory`` when given), with at least one active relation between them. It keeps
    the strongest level, the kind of the strongest relation (first in vocabulary order
    among equals), the distinct kinds in vocabulary order (unknown kinds after the
    vocabulary, alphabetically), the number of active relations and the earliest start
    (None when one of them has no start). ``source`` is the end that comes first in the
    actors table; ties are ordered by (source, target) position.
    """
    position = {str(a): k for k, a in enumerate(actors["id"])}
    nodes = {
        str(a["id"]) for a in actors.to_dict("records")
        if is_active(a.get("since"), a.get("until"), as_of)
        and (territory is None or a.get("territory") == territory)
    }
    found = {str(k).strip() for k in relations["kind"]} if len(relations) else set()
    rank = {k: i for i, k in enumerate([*RELATION_KINDS, *sorted(found - set(RELATION_KINDS))])}
    pairs: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for rel in relations.to_dict("records"):
        a, b = str(rel["source"]), str(rel["target"])
        if a == b or a not in nodes or b not in nodes:
            continue
        if not is_active(rel.get("since"), rel.get("until"), as_of):
            continue
        key = (a, b) if position[a] < position[b] else (b, a)
        pairs.setdefault(key, []).append(rel)
    out = []
    for (a, b) in sorted(pairs, key=lambda p: (position[p[0]], position[p[1]])):
        rels = pairs[(a, b)]
        level = max(int(r["level"]) for r in rels)
        strongest = [str(r["kind"]).strip() for r in rels if int(r["level"]) == level]
        starts = [r.get("since") for r in rels]
        out.append({
            "source": a,
            "target": b,
            "level": level,
            "kind": min(strongest, key=rank.__getitem__),
            "kinds": tuple(sorted({str(r["kind"]).strip() for r in rels}, key=rank.__getitem__)),
            "n_relations": len(rels),
            "since": None if any(pd.isna(s) for s in starts)
            else min(pd.Timestamp(s) for s in starts),
        })
    return out


def records(ties: pd.DataFrame) -> list[dict[str, Any]]:
    """The ties table as plain records (NaT as None) for exact comparison."""
    assert list(ties.columns) == TIE_COLUMNS
    return [{
        "source": str(r["source"]),
        "target": str(r["target"]),
        "level": int(r["level"]),
        "kind": str(r["kind"]),
        "kinds": tuple(r["kinds"]),
        "n_relations": int(r["n_relations"]),
        "since": None if pd.isna(r["since"]) else pd.Timestamp(r["since"]),
    } for r in ties.to_dict("records")]


def tie(source: str, target: str, level: int, kind: str, kinds: tuple[str, ...],
        n_relations: int, since: str | None) -> dict[str, Any]:
    return {"source": source, "target": target, "level": level, "kind": kind,
            "kinds": kinds, "n_relations": n_relations,
            "since": None if since is None else pd.Timestamp(since)}


def frames(actor_rows: list[dict[str, Any]], relation_rows: list[dict[str, Any]]
           ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Plain actors and relations frames (datetime64 bounds, NaT = open)."""
    actors = pd.DataFrame(actor_rows, columns=["id", "kind", "territory", "since", "until"])
    relations = pd.DataFrame(relation_rows,
                             columns=["source", "target", "kind", "level", "since", "until"])
    for frame in (actors, relations):
        for col in ("since", "until"):
            frame[col] = pd.to_datetime(frame[col])
    return actors, relations


TERRITORIES = pd.DataFrame({"slug": ["bergamo", "brescia"], "name": ["Bergamo", "Brescia"]})


# ---------------------------------------------------------------- hand-built ties


def test_duplicates_collapse_to_one_tie() -> None:
    m = make_map(
        [{"id": "a"}, {"id": "b"}, {"id": "c"}],
        [
            {"source": "a", "target": "b", "kind": "tirocinio", "level": 1,
             "since": "2026-01-01"},
            {"source": "b", "target": "a", "kind": "invio", "level": 3, "since": "2025-03-01"},
            {"source": "a", "target": "b", "kind": "partenariato", "level": 3,
             "since": "2025-06-01"},
            {"source": "b", "target": "a", "kind": "commessa", "level": 2,
             "since": "2024-01-01"},
            {"source": "a", "target": "b", "kind": "invio", "level": 1,
             "since": "2024-06-01"},  # a kind seen twice is listed once
            {"source": "c", "target": "b", "kind": "tirocinio", "level": 1},
            {"source": "b", "target": "c", "kind": "commessa", "level": 4, "since": AT},
        ],
    )
    net = m.network(AT)
    assert records(net.ties()) == [
        # strongest level 3 (invio and partenariato): kind = invio, first in vocabulary;
        # kinds in vocabulary order, not alphabetical (commessa, invio, partenariato, ...)
        tie("a", "b", 3, "invio", ("tirocinio", "invio", "partenariato", "commessa"), 5,
            "2024-01-01"),
        # kind of the strongest relation, not the first in vocabulary order
        tie("b", "c", 4, "commessa", ("tirocinio", "commessa"), 2, None),
    ]
    assert net.n_ties == 2
    assert net.ties().index.tolist() == [0, 1]
    assert net.ties()["kinds"].tolist()[0] != tuple(sorted(net.ties()["kinds"].tolist()[0]))
    # the relation rows behind each tie
    behind = net.relations_of(np.array([0, 1]))
    assert sorted(behind[0].tolist()) == [0, 1, 2, 3, 4]
    assert sorted(behind[1].tolist()) == [5, 6]
    assert sorted(net.relations_of(np.array([1]))) == [1]


def test_index_network_doctest_pair_and_vocabulary_order() -> None:
    actors, relations = frames(
        [{"id": "a", "kind": "impresa"}, {"id": "b", "kind": "impresa"}],
        [{"source": "a", "target": "b", "kind": "zeta_nuovo", "level": 2},
         {"source": "b", "target": "a", "kind": "invio", "level": 2},
         {"source": "a", "target": "b", "kind": "alfa_nuovo", "level": 2},
         {"source": "a", "target": "b", "kind": " tirocinio ", "level": 1}],
    )
    index = index_network(actors, relations)
    # the vocabulary first, then the unknown kinds found, sorted
    assert index.kinds == (*RELATION_KINDS, "alfa_nuovo", "zeta_nuovo")
    assert records(index.at(AT).ties()) == [
        tie("a", "b", 2, "invio", ("tirocinio", "invio", "alfa_nuovo", "zeta_nuovo"), 4, None),
    ]


def test_self_relations_and_unknown_actors_ignored() -> None:
    actors, relations = frames(
        [{"id": "a", "kind": "impresa"}, {"id": "b", "kind": "impresa"}],
        [{"source": "a", "target": "a", "kind": "commessa", "level": 4},
         {"source": "a", "target": "zzz", "kind": "commessa", "level": 4},
         {"source": "yyy", "target": "zzz", "kind": "commessa", "level": 4},
         {"source": "yyy", "target": "b", "kind": "commessa", "level": 4},
         {"source": "b", "target": "a", "kind": "invio", "level": 1, "since": "2026-02-01"}],
    )
    index = index_network(actors, relations)
    assert index.rel_u.tolist() == [0, 0, -1, -1, 1]
    assert index.rel_v.tolist() == [0, -1, -1, 1, 0]
    net = index.at(AT)
    assert records(net.ties()) == [tie("a", "b", 1, "invio", ("invio",), 1, "2026-02-01")]
    assert net.relation_rows.tolist() == [4]
    assert network_stats(net)["n_ties"] == 1


def test_inactive_actors_drop_their_ties() -> None:
    m = make_map(
        [{"id": "a"}, {"id": "b", "until": "2026-06-29"}, {"id": "c", "since": "2026-07-01"},
         {"id": "d", "until": AT}],
        [{"source": "a", "target": "b"}, {"source": "a", "target": "c"},
         {"source": "a", "target": "d", "level": 2}, {"source": "b", "target": "c"},
         {"source": "b", "target": "d"}],
    )
    net = m.network(AT)
    assert net.active_actors.tolist() == [True, False, False, True]
    assert [(t["source"], t["target"]) for t in records(net.ties())] == [("a", "d")]
    before = m.network("2026-06-29")
    assert before.active_actors.tolist() == [True, True, False, True]
    assert [(t["source"], t["target"]) for t in records(before.ties())] == [
        ("a", "b"), ("a", "d"), ("b", "d")]
    after = m.network("2026-07-01")
    assert after.active_actors.tolist() == [True, False, True, False]
    assert [(t["source"], t["target"]) for t in records(after.ties())] == [("a", "c")]
    # inactive actors are not nodes of the graph either
    assert set(m.graph(AT).nodes) == {"a", "d"}


def test_date_bounds_are_inclusive() -> None:
    m = make_map(
        [{"id": x} for x in "abcdef"],
        [{"source": "a", "target": "b", "since": AT},  # starts that day
         {"source": "a", "target": "c", "until": AT},  # ends that day
         {"source": "a", "target": "d", "since": AT, "until": AT},  # that day only
         {"source": "a", "target": "e", "since": "2026-07-01"},  # the day after
         {"source": "a", "target": "f", "until": "2026-06-29"}],  # the day before
    )
    assert [(t["source"], t["target"]) for t in records(m.network(AT).ties())] == [
        ("a", "b"), ("a", "c"), ("a", "d")]
    assert [(t["source"], t["target"]) for t in records(m.network("2026-06-29").ties())] == [
        ("a", "c"), ("a", "f")]
    assert [(t["source"], t["target"]) for t in records(m.network("2026-07-01").ties())] == [
        ("a", "b"), ("a", "e")]


def test_since_is_earliest_start_nat_when_open() -> None:
    m = make_map(
        [{"id": x} for x in "abcde"],
        [{"source": "a", "target": "b", "since": "2025-05-01"},
         {"source": "b", "target": "a", "since": "2024-02-03"},
         {"source": "a", "target": "c", "since": "2025-01-01"},
         {"source": "c", "target": "a"},  # open start: the tie has no start
         {"source": "b", "target": "c"},
         # relations no longer active do not count, open-ended or not
         {"source": "a", "target": "d", "since": "2023-01-01", "until": "2025-12-31"},
         {"source": "a", "target": "d", "until": "2025-01-01"},
         {"source": "d", "target": "a", "since": "2025-02-01"},
         {"source": "e", "target": "a", "since": "2025-02-01", "level": 2},
         {"source": "a", "target": "e", "since": "2026-07-01", "level": 4}],  # not yet
    )
    ties = m.network(AT).ties()
    assert pd.api.types.is_datetime64_any_dtype(ties["since"])
    assert records(ties) == [
        tie("a", "b", 1, "partenariato", ("partenariato",), 2, "2024-02-03"),
        tie("a", "c", 1, "partenariato", ("partenariato",), 2, None),
        tie("a", "d", 1, "partenariato", ("partenariato",), 1, "2025-02-01"),
        tie("a", "e", 2, "partenariato", ("partenariato",), 1, "2025-02-01"),
        tie("b", "c", 1, "partenariato", ("partenariato",), 1, None),
    ]


def test_cross_territory_ties() -> None:
    m = make_map(
        [{"id": "a", "territory": "bergamo"}, {"id": "b", "territory": "bergamo"},
         {"id": "x", "territory": "brescia"}, {"id": "y", "territory": "brescia"},
         {"id": "z", "territory": "milano"}],  # outside the map's territories
        [{"source": "a", "target": "b", "level": 2}, {"source": "a", "target": "x"},
         {"source": "x", "target": "b", "level": 3}, {"source": "y", "target": "x", "level": 4},
         {"source": "z", "target": "a"}],
    )
    net = m.network(AT)
    whole = net.ties()
    assert [(t["source"], t["target"], t["level"]) for t in records(whole)] == [
        ("a", "b", 2), ("a", "x", 1), ("a", "z", 1), ("b", "x", 3), ("x", "y", 4)]
    assert whole.index.tolist() == [0, 1, 2, 3, 4]
    bergamo = net.ties("bergamo")
    assert [(t["source"], t["target"]) for t in records(bergamo)] == [("a", "b")]
    assert bergamo.index.tolist() == [0]  # the tie's position in the whole network
    brescia = net.ties("brescia")
    assert [(t["source"], t["target"]) for t in records(brescia)] == [("x", "y")]
    assert brescia.index.tolist() == [4]
    assert net.ties("cremona").empty and list(net.ties("cremona").columns) == TIE_COLUMNS
    assert net.cross_ties("bergamo") == 3  # a-x, a-z, b-x
    assert net.cross_ties("brescia") == 2  # a-x, b-x
    assert net.cross_ties("cremona") == 0
    assert net.cross_ties(None) == 3  # ends in different territories (z in none)

    sub = net.territory("brescia")
    assert isinstance(sub, SubNetwork)
    assert sub.positions.tolist() == [2, 3]
    assert (sub.u.tolist(), sub.v.tolist(), sub.level.tolist(), sub.ties.tolist()) == (
        [0], [1], [4], [4])
    assert (sub.n_actors, sub.n_ties) == (2, 1)
    everything = net.territory(None)
    assert everything.positions.tolist() == [0, 1, 2, 3, 4]
    assert everything.ties.tolist() == [0, 1, 2, 3, 4]

    stats = network_stats(net, territory="bergamo")
    assert (stats["n_actors"], stats["n_ties"], stats["n_cross_territory_ties"]) == (2, 1, 3)
    for call in (net.ties, net.territory, net.cross_ties):
        with pytest.raises(UnknownTerritoryError, match="territory='atlantide'"):
            call("atlantide")


def test_index_without_territories() -> None:
    actors, relations = frames(
        [{"id": "a", "kind": "impresa", "territory": "bergamo"},
         {"id": "b", "kind": "impresa", "territory": "bergamo"}],
        [{"source": "a", "target": "b", "kind": "invio", "level": 2}],
    )
    index = index_network(actors, relations)
    assert index.slugs == () and index.territory.tolist() == [-1, -1]
    net = index.at(AT)
    assert net.cross_ties(None) == 0
    with pytest.raises(UnknownTerritoryError):
        net.ties("bergamo")
    assert network_table(net)["territory"].tolist() == ["lombardia"]
    with_territories = index_network(actors, relations, territories=TERRITORIES)
    assert with_territories.slugs == ("bergamo", "brescia")
    assert with_territories.names == ("Bergamo", "Brescia")
    assert with_territories.name_of("brescia") == "Brescia"
    assert with_territories.name_of("lombardia") == "Lombardia"


def test_index_network_rejects_bad_tables() -> None:
    actors, relations = frames(
        [{"id": "a", "kind": "impresa"}, {"id": "a", "kind": "impresa"}], [])
    with pytest.raises(ValueError, match="duplicated actor id"):
        index_network(actors, relations)
    actors, relations = frames(
        [{"id": "a", "kind": "impresa"}, {"id": "b", "kind": "impresa"}],
        [{"source": "a", "target": "b", "kind": "invio", "level": 5}])
    with pytest.raises(ValueError, match="level"):
        index_network(actors, relations)


def test_empty_tables() -> None:
    actors, relations = frames([], [])
    net = index_network(actors, relations).at(AT)
    assert net.n_ties == 0 and list(net.ties().columns) == TIE_COLUMNS
    assert net.ties().empty
    m = make_map([{"id": "a"}, {"id": "b"}])
    assert m.network(AT).ties().empty and m.graph(AT).number_of_edges() == 0


# ---------------------------------------------------------------- memoisation and cache


def test_network_is_memoised_per_date() -> None:
    m = make_map([{"id": "a"}, {"id": "b"}], [{"source": "a", "target": "b"}])
    index = m.network_index()
    assert isinstance(index, NetworkIndex)
    assert m.network_index() is index
    net = index.at(AT)
    assert isinstance(net, Network)
    assert index.at(AT) is net
    assert index.at("30/06/2026") is net
    assert index.at(pd.Timestamp(AT)) is net
    assert index.at(dt.date(2026, 6, 30)) is net
    assert m.network(AT) is net
    assert net.as_of == pd.Timestamp(AT)
    other = index.at("2026-07-01")
    assert other is not net and other.as_of == pd.Timestamp("2026-07-01")
    assert index.at("2026-07-01") is other


def test_network_index_rebuilt_when_tables_reassigned() -> None:
    m = make_map([{"id": "a"}, {"id": "b"}, {"id": "c", "territory": "brescia"}],
                 [{"source": "a", "target": "b"}, {"source": "b", "target": "c"}])
    first = m.network_index()
    assert (first.n_actors, m.network(AT).n_ties) == (3, 2)
    m.actors = m.actors[m.actors["id"] != "c"]
    second = m.network_index()
    assert second is not first
    assert (second.n_actors, m.network(AT).n_ties) == (2, 1)
    assert m.network_index() is second
    m.relations = m.relations.iloc[:0]
    third = m.network_index()
    assert third is not second and m.network(AT).n_ties == 0
    m.territories = m.territories.iloc[:1]
    assert m.network_index().slugs == ("bergamo",)


def test_network_index_never_stale_after_successive_reassignments() -> None:
    # The cache must not mistake a new table for the one the index was built from when
    # that one was freed and the new one reuses its memory, hence its id(). Reassign
    # until the allocator hands the old address out again (it usually does within a
    # few reassignments), then ask for the index: it must describe the new table. A
    # cache that keeps its tables alive never sees a reused address and passes.
    m = make_map([{"id": "a"}, {"id": "b"}, {"id": "c"}],
                 [{"source": "a", "target": "b"}, {"source": "b", "target": "c"}])
    three = m.actors
    two = three.iloc[:2].copy()
    reused = stale = 0
    for _ in range(100):
        m.actors = three.copy()
        built_from = id(m.actors)  # an int: holding the frame would keep it alive
        assert m.network_index().n_actors == 3
        for _ in range(20):
            m.actors = two.copy()
            if id(m.actors) == built_from:
                reused += 1
                stale += m.network_index().n_actors != 2
                break
    assert stale == 0, f"stale index returned for {stale} of {reused} reused addresses"


# ---------------------------------------------------------------- graph view and dates


def test_to_graph_attributes() -> None:
    m = make_map(
        [{"id": "a", "group": "cm", "since": "2025-01-01"}, {"id": "b"},
         {"id": "c", "territory": "brescia", "kind": "cooperativa_b"}],
        [{"source": "a", "target": "b", "kind": "tirocinio", "level": 1,
          "since": "2025-02-01"},
         {"source": "b", "target": "a", "kind": "invio", "level": 3},
         {"source": "c", "target": "a", "kind": "commessa", "level": 2,
          "since": "2026-01-01"}],
    )
    g = m.graph(AT)
    assert g.graph == {"as_of": "2026-06-30", "territory": None}
    assert set(g.nodes) == {"a", "b", "c"}
    a = g.nodes["a"]
    assert "geometry" not in a and "id" not in a
    assert (a["name"], a["kind"], a["group"], a["territory"]) == (
        "Ente a", "collocamento_mirato", "cm", "bergamo")
    assert a["since"] == "2025-01-01" and a["until"] is None
    assert g.nodes["c"]["group"] == "cooperazione"
    assert g.edges["a", "b"] == {"level": 3, "kind": "invio", "kinds": ["tirocinio", "invio"],
                                 "n_relations": 2, "since": None}
    assert g.edges["a", "c"] == {"level": 2, "kind": "commessa", "kinds": ["commessa"],
                                 "n_relations": 1, "since": "2026-01-01"}
    for *_, data in g.edges(data=True):
        assert type(data["level"]) is int and type(data["n_relations"]) is int
        assert isinstance(data["kinds"], list)
    local = m.graph(AT, territory="Bergamo")  # a name is resolved to its slug
    assert local.graph == {"as_of": "2026-06-30", "territory": "bergamo"}
    assert set(local.nodes) == {"a", "b"} and set(map(frozenset, local.edges)) == {
        frozenset("ab")}
    direct = m.network(AT).to_graph(m.actors, territory="bergamo")
    assert nx.utils.graphs_equal(direct, local)
    with pytest.raises(UnknownTerritoryError):
        m.graph(AT, territory="atlantide")


def test_as_of_none_is_today() -> None:
    before = pd.Timestamp.today().normalize()
    resolved = resolve_as_of(None)
    after = pd.Timestamp.today().normalize()
    assert resolved in (before, after)
    assert resolved == resolved.normalize()
    assert resolve_as_of("30/06/2026") == pd.Timestamp(AT)
    assert resolve_as_of(dt.date(2026, 6, 30)) == pd.Timestamp(AT)
    with pytest.raises(ValueError, match="as_of"):
        resolve_as_of("2026-02-30")
    # None means today, not "every row": an actor and a relation that ended long ago
    m = make_map(
        [{"id": "a"}, {"id": "b"}, {"id": "old", "until": "2000-01-01"}],
        [{"source": "a", "target": "b", "until": "2000-01-01"},
         {"source": "a", "target": "old"}],
    )
    g = m.graph()
    assert g.graph["as_of"] in (before.date().isoformat(), after.date().isoformat())
    assert set(g.nodes) == {"a", "b"} and g.number_of_edges() == 0
    assert m.network().as_of in (before, after)
    assert m.network() is m.network(m.network().as_of)


def test_example_map_figures() -> None:
    m = example_map()
    net = m.network(AT)
    assert int(net.active_actors.sum()) == 8 and net.n_ties == 6  # BG-06 enters in 2027
    table = network_table(net).set_index("territory")
    assert table.loc["bergamo", ["n_actors", "n_ties"]].tolist() == [5, 4]
    assert table.loc["lecco", ["n_actors", "n_ties"]].tolist() == [3, 1]  # LC-02/LC-03 ended
    assert net.cross_ties("bergamo") == net.cross_ties("lecco") == 1  # BG-04 - LC-03
    ties = records(net.ties("bergamo"))
    assert tie("BG-02", "BG-03", 3, "convenzione_art14", ("convenzione_art14", "tirocinio"), 2,
               "2025-01-01") in ties
    assert records(net.ties("lecco")) == [
        tie("LC-01", "LC-02", 2, "invio", ("invio",), 1, "2025-01-01")]
    assert records(m.network("2027-03-01").ties("bergamo")) == reference_ties(
        m.actors, m.relations, "2027-03-01", "bergamo")


# ---------------------------------------------------------------- against the reference


@pytest.mark.parametrize("seed", [0, 5, 9])
def test_ties_match_reference_on_random_maps(seed: int) -> None:
    m = random_map(seed, n=20, r=250)  # about 190 pairs: many pairs get several relations
    rng = np.random.default_rng(100 + seed)
    vocabulary = [*RELATION_KINDS, "zeta_nuovo", "alfa_nuovo"]
    m.relations = m.relations.assign(
        kind=[vocabulary[i] for i in rng.integers(len(vocabulary), size=len(m.relations))])
    for as_of in ("2025-03-15", AT, "2027-01-01"):
        net = m.network(as_of)
        for territory in (None, "bergamo", "brescia", "cremona"):
            expected = reference_ties(m.actors, m.relations, as_of, territory)
            assert records(net.ties(territory)) == expected, (as_of, territory)
        assert net.ties().index.tolist() == list(range(net.n_ties))
        # several relations per pair occur, so the collapse is exercised
        assert (net.ties()["n_relations"] > 1).any()


_DAYS = [None, "2026-06-29", AT, "2026-07-01", "2025-01-01", "2027-01-01"]


@st.composite
def small_tables(draw: st.DrawFn) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Up to 7 actors (some inactive, some elsewhere) and 18 relations (some to a ghost)."""
    ids = draw(st.lists(st.sampled_from(list("abcdefg")), unique=True, max_size=7))
    actor_rows = [{
        "id": i, "kind": draw(st.sampled_from(["impresa", "cooperativa_b",
                                               "collocamento_mirato"])),
        "territory": draw(st.sampled_from(["bergamo", "brescia", "altrove"])),
        "since": draw(st.sampled_from([*_DAYS[:3], None, None])),
        "until": draw(st.sampled_from([*_DAYS[1:], None])),
    } for i in ids]
    ends = st.sampled_from([*ids, "ghost"])
    relation_rows = draw(st.lists(st.fixed_dictionaries({
        "source": ends, "target": ends, "kind": st.sampled_from([*RELATION_KINDS, "nuovo"]),
        "level": st.integers(1, 4), "since": st.sampled_from(_DAYS),
        "until": st.sampled_from(_DAYS),
    }), max_size=18))
    return frames(actor_rows, relation_rows)


def _graph_from_rows(actors: pd.DataFrame, relations: pd.DataFrame, as_of: str,
                     territory: str | None) -> nx.Graph:
    g = nx.Graph()
    for a in actors.to_dict("records"):
        if is_active(a["since"], a["until"], as_of) and territory in (None, a["territory"]):
            g.add_node(a["id"])
    for r in relations.to_dict("records"):
        if (r["source"] != r["target"] and r["source"] in g and r["target"] in g
                and is_active(r["since"], r["until"], as_of)):
            g.add_edge(r["source"], r["target"])
    return g


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables=small_tables(), as_of=st.sampled_from(["2026-06-29", AT, "2026-07-01"]),
       territory=st.sampled_from([None, "bergamo", "brescia"]))
def test_property_ties_equal_reference_on_small_tables(
        tables: tuple[pd.DataFrame, pd.DataFrame], as_of: str, territory: str | None) -> None:
    actors, relations = tables
    net = index_network(actors, relations, territories=TERRITORIES).at(as_of)
    expected = reference_ties(actors, relations, as_of, territory)
    assert records(net.ties(territory)) == expected
    g = _graph_from_rows(actors, relations, as_of, territory)
    stats = network_stats(net, territory=territory)
    assert stats["n_ties"] == g.number_of_edges() == len(expected)
    assert stats["n_actors"] == g.number_of_nodes()


def test_raw_graph_helper_agrees_with_reference() -> None:
    m = random_map(7)
    g = raw_graph(m, AT)
    ref = reference_ties(m.actors, m.relations, AT)
    assert {frozenset((t["source"], t["target"])): t["level"] for t in ref} == {
        frozenset((a, b)): d["level"] for a, b, d in g.edges(data=True)}
    assert network_stats(m.network(AT))["n_ties"] == g.number_of_edges()


def test_ties_name_both_ends() -> None:
    m = example_map()
    ties = m.network("2026-06-30").ties()
    names = m.actors.set_index("id")["name"]
    assert len(ties) == 6
    assert ties["source_name"].tolist() == [names[i] for i in ties["source"]]
    assert ties["target_name"].tolist() == [names[i] for i in ties["target"]]
