"""What changed between two Tavoli, and what nobody verified: exact expectations."""

from __future__ import annotations

import networkx as nx
import pandas as pd
import pytest
from _factories import make_map, random_map, raw_graph
from hypothesis import given, settings
from hypothesis import strategies as st

import opportunity_map as om
from opportunity_map._errors import DateOrderError, UnknownTerritoryError
from opportunity_map.changes import CHANGE_COLUMNS, CHANGE_KINDS, find_changes, previous_tavolo

P, D = "2026-12-31", "2027-06-30"


def _hand_built() -> om.OpportunityMap:
    actors = [
        {"id": "A", "group": "cm"},
        {"id": "B", "group": "cooperazione"},
        {"id": "C", "group": "imprese"},
        {"id": "E", "group": "imprese", "since": "2027-03-01"},        # enters
        {"id": "X", "group": "servizi", "until": "2027-01-31"},        # leaves
        {"id": "Z", "group": "imprese", "territory": "brescia"},       # other territory
    ]
    relations = [
        {"source": "A", "target": "B", "level": 2, "until": "2027-02-28"},   # raised:
        {"source": "A", "target": "B", "level": 3, "since": "2027-03-01"},   # 2 -> 3
        {"source": "B", "target": "C", "level": 3},                          # unchanged
        {"source": "A", "target": "C", "level": 4, "until": "2027-04-30"},   # lowered:
        {"source": "C", "target": "A", "level": 1, "since": "2027-05-01"},   # 4 -> 1
        {"source": "C", "target": "E", "level": 2, "since": "2027-03-01"},   # new
        {"source": "B", "target": "X", "level": 1},                          # ends with X
        {"source": "A", "target": "Z", "level": 2, "since": "2027-03-01"},   # crosses: ignored
    ]
    return make_map(actors, relations)


def test_hand_built_changes_are_exact() -> None:
    changes = find_changes(_hand_built(), date=D, previous=P, territory="bergamo")
    assert list(changes.columns) == list(CHANGE_COLUMNS)
    assert changes[["change", "id"]].values.tolist() == [
        ["actor_entered", "E"],
        ["actor_exited", "X"],
        ["tie_new", "C|E"],
        ["tie_ended", "B|X"],
        ["tie_level_up", "A|B"],
        ["tie_level_down", "A|C"],
    ]
    details = dict(zip(changes["id"], changes["detail"], strict=True))
    assert details["A|B"] == "livello 2 → 3"
    assert details["A|C"] == "livello 4 → 1"
    assert details["C|E"] == "livello 2 (cooperazione); Partenariato"
    assert details["B|X"] == "era livello 1 (conoscenza); Partenariato"
    assert details["X"] == ("Servizio sociale (Comune, Ufficio di Piano, SIL/NIL), Bergamo "
                            "(fino al 31/01/2027)")
    assert details["E"] == "Impresa, Bergamo (dal 01/03/2027)"
    names = dict(zip(changes["id"], changes["name"], strict=True))
    assert names["A|B"] == "Ente A – Ente B"
    assert changes["label"].tolist()[:2] == ["Organizzazione entrata", "Organizzazione uscita"]


def test_whole_map_counts_the_crossing_tie() -> None:
    changes = find_changes(_hand_built(), date=D, previous=P)
    assert "A|Z" in set(changes.loc[changes["change"] == "tie_new", "id"])


def test_previous_defaults_to_six_months_and_must_come_first() -> None:
    m = _hand_built()
    assert find_changes(m, date=D).equals(find_changes(m, date=D, previous=P))
    with pytest.raises(DateOrderError):
        find_changes(m, date=D, previous=D)
    with pytest.raises(UnknownTerritoryError):
        find_changes(m, date=D, territory="atlantide")
    assert previous_tavolo("2028-02-29").date().isoformat() == "2027-08-31"
    assert previous_tavolo("2027-08-31").date().isoformat() == "2027-02-28"


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), days=st.tuples(st.integers(0, 1000), st.integers(1, 400)))
def test_tie_and_actor_changes_match_graphs_built_from_raw_rows(
        seed: int, days: tuple[int, int]) -> None:
    m = random_map(seed, n=40, r=120)
    t0 = pd.Timestamp("2025-01-01") + pd.Timedelta(days=days[0])
    t1 = t0 + pd.Timedelta(days=days[1])
    changes = find_changes(m, date=t1, previous=t0, territory="brescia")
    g0 = raw_graph(m, t0, territory="brescia")
    g1 = raw_graph(m, t1, territory="brescia")

    def pairs(g: nx.Graph) -> set[str]:
        return {"|".join(sorted((a, b))) for a, b in g.edges}

    def listed(kind: str) -> set[str]:
        return set(changes.loc[changes["change"] == kind, "id"])

    e0, e1 = pairs(g0), pairs(g1)
    assert listed("tie_new") == e1 - e0
    assert listed("tie_ended") == e0 - e1
    both = [(a, b) for a, b in g1.edges if g0.has_edge(a, b)]
    up = {"|".join(sorted((a, b))) for a, b in both
          if g1.edges[a, b]["level"] > g0.edges[a, b]["level"]}
    down = {"|".join(sorted((a, b))) for a, b in both
            if g1.edges[a, b]["level"] < g0.edges[a, b]["level"]}
    assert listed("tie_level_up") == up
    assert listed("tie_level_down") == down
    assert listed("actor_entered") == set(g1.nodes) - set(g0.nodes)
    assert listed("actor_exited") == set(g0.nodes) - set(g1.nodes)
    assert set(changes["change"]) <= set(CHANGE_KINDS)


def test_opportunity_changes_and_removed_rows_on_the_example() -> None:
    m = om.example_map()
    old = om.example_map()
    # the previous version had one more opportunity, actor and relation
    old.opportunities = pd.concat([old.opportunities, old.opportunities.iloc[[0]].assign(
        id="OP-GONE", name="Laboratorio chiuso")], ignore_index=True)
    old.relations = pd.concat([old.relations, old.relations.iloc[[0]].assign(
        since=pd.Timestamp("2024-01-01"))], ignore_index=True)
    gone = old.actors.iloc[[0]].assign(id="BG-99", name="Ente cancellato")
    old.actors = pd.concat([old.actors, gone], ignore_index=True)
    changes = find_changes(m, date="2027-06-30", previous="2025-12-31", territory="bergamo",
                           previous_map=old)
    removed = changes[changes["change"] == "row_removed"]
    assert sorted(removed["id"]) == ["BG-01|BG-02|invio|2024-01-01", "BG-99", "OP-GONE"]
    assert set(removed["table"]) == {"actors", "opportunities", "relations"}
    assert removed["detail"].str.contains("data di fine").all()
    opened = changes[changes["change"] == "opportunity_new"]
    # OP-01 started 2026-01-01 and OP-02 2026-03-01, after 2025-12-31
    assert sorted(opened["id"]) == ["OP-01", "OP-02"]
    assert "Cooperativa sociale Alfa (esempio)" in opened["detail"].iloc[0]
    # nothing removed from another territory is reported for bergamo
    assert not find_changes(m, date="2027-06-30", territory="lecco",
                            previous_map=old)["change"].eq("row_removed").any()


def test_unverified_records() -> None:
    m = om.example_map()
    m.actors["verified"] = pd.NaT
    m.actors.loc[m.actors["id"] == "BG-01", "verified"] = pd.Timestamp("2026-06-30")  # 12 m
    m.actors.loc[m.actors["id"] == "BG-02", "verified"] = pd.Timestamp("2026-06-29")  # > 12 m
    m.actors.loc[m.actors["id"] != "BG-03", "verified"] = m.actors["verified"].fillna(
        pd.Timestamp("2027-01-01"))
    stale = om.find_unverified(m, as_of="2027-06-30", territory="bergamo")
    actors = stale[stale["table"] == "actors"]
    assert actors["id"].tolist() == ["BG-03", "BG-02"]  # never first, then the oldest
    assert actors["detail"].tolist() == ["mai verificato", "verificato il 29/06/2026 (12 mesi fa)"]
    assert actors["months"].tolist()[1] == 12
    # opportunities of the example have no verified column: never verified
    opp = stale[stale["table"] == "opportunities"]
    assert set(opp["id"]) == {"OP-01", "OP-02", "OP-03"}
    assert om.find_unverified(m, as_of="2027-06-30", months=60,
                              territory="bergamo")["table"].eq("opportunities").sum() == 3
    with pytest.raises(ValueError, match="months"):
        om.find_unverified(m, as_of="2027-06-30", months=0)


def test_bundled_lecco_changes_match_the_files() -> None:
    m = om.load("data/ambiti")
    changes = find_changes(m, date="2027-06-30", territory="lecco")
    rel = m.relations
    # every new tie has a relation that started after the previous Tavolo (31/12/2026)
    for pair in changes.loc[changes["change"] == "tie_new", "id"]:
        a, b = pair.split("|")
        rows = rel[((rel["source"] == a) & (rel["target"] == b))
                   | ((rel["source"] == b) & (rel["target"] == a))]
        assert (rows["since"] > pd.Timestamp("2026-12-31")).any(), pair
    assert (changes["change"] == "actor_entered").sum() == 1


def test_validate_lists_records_to_verify_at_their_rows(tmp_path: object) -> None:
    from pathlib import Path

    from opportunity_map.cli import main

    root = Path(str(tmp_path)) / "mappa" / "bergamo"
    root.mkdir(parents=True)
    (root / "attori.csv").write_text(
        "id,nome,tipo,comune,verificato_il\n"
        "BG-1,Cooperativa Uno,cooperativa_b,Bergamo,15/01/2027\n"   # recent: fine
        "BG-2,Cooperativa Due,cooperativa_b,Seriate,01/03/2026\n"   # 15 months before
        "BG-3,Impresa Tre,impresa,Dalmine,\n", encoding="utf-8")    # never
    (root / "relazioni.csv").write_text("da,a,tipo,livello\nBG-1,BG-2,invio,2\n",
                                        encoding="utf-8")
    (root / "opportunita.csv").write_text("id,id_attore,tipo\nOP-1,BG-1,tis\n",
                                          encoding="utf-8")
    problems = om.validate(root.parent, as_of="2027-06-30")
    shown = [(Path(p.file).name, p.row, p.column, p.message) for p in problems]
    assert shown == [
        ("attori.csv", 3, "verificato_il", "da verificare: verificato il 01/03/2026 (15 mesi fa)"),
        ("attori.csv", 4, "verificato_il", "da verificare: mai verificato"),
        ("opportunita.csv", None, None, "nessuna data in verificato_il: 1 riga attiva mai "
                                        "verificata"),
    ]
    assert all(p.severity == "warning" for p in problems)
    assert om.validate(root.parent) == []  # without a date nothing is listed
    assert main(["validate", str(root.parent), "--data", "30/06/2027",
                 "--verifica-mesi", "24"]) == 0
