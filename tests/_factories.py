"""Small opportunity maps built directly in canonical form, for the tests."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
from shapely.geometry import box

from opportunity_map.model import OpportunityMap
from opportunity_map.schema import GROUPS, KIND_TO_GROUP

#: One representative actor kind per group.
KIND_OF_GROUP = {
    "cm": "collocamento_mirato",
    "apl": "agenzia_lavoro",
    "cooperazione": "cooperativa_b",
    "imprese": "impresa",
    "servizi": "servizio_sociale",
}

TERRITORIES = (("bergamo", "Bergamo"), ("brescia", "Brescia"), ("cremona", "Cremona"))


def _date(value: object) -> pd.Timestamp:
    return pd.NaT if value is None else pd.Timestamp(value)


def make_map(
    actor_rows: Iterable[Mapping[str, Any]],
    relation_rows: Iterable[Mapping[str, Any]] = (),
    *,
    territories: Iterable[tuple[str, str]] = TERRITORIES,
) -> OpportunityMap:
    """Build a map from plain dicts.

    Actor keys: ``id`` (required), ``kind`` (default impresa) or ``group`` (a kind of
    that group is chosen), ``territory`` (default bergamo), ``since``, ``until``.
    Relation keys: ``source``, ``target`` (required), ``level`` (default 1), ``kind``
    (default partenariato), ``since``, ``until``.
    """
    actors = []
    for i, row in enumerate(actor_rows):
        kind = row.get("kind") or KIND_OF_GROUP[row.get("group", "imprese")]
        actors.append({
            "id": str(row["id"]),
            "name": row.get("name", f"Ente {row['id']}"),
            "kind": kind,
            "comune": row.get("comune", "Bergamo"),
            "lat": 45.6 + 0.001 * i,
            "lon": 9.6,
            "territory": row.get("territory", "bergamo"),
            "since": _date(row.get("since")),
            "until": _date(row.get("until")),
            "group": KIND_TO_GROUP[kind],
        })
    actor_frame = pd.DataFrame(
        actors,
        columns=["id", "name", "kind", "comune", "lat", "lon", "territory", "since", "until",
                 "group"],
    )
    for col in ("since", "until"):
        actor_frame[col] = pd.to_datetime(actor_frame[col])
    relations = pd.DataFrame(
        [{
            "source": str(r["source"]),
            "target": str(r["target"]),
            "kind": r.get("kind", "partenariato"),
            "level": int(r.get("level", 1)),
            "since": _date(r.get("since")),
            "until": _date(r.get("until")),
        } for r in relation_rows],
        columns=["source", "target", "kind", "level", "since", "until"],
    )
    for col in ("since", "until"):
        relations[col] = pd.to_datetime(relations[col])
    relations["level"] = relations["level"].astype("int64")
    terr = list(territories)
    return OpportunityMap(
        actors=gpd.GeoDataFrame(
            actor_frame,
            geometry=gpd.points_from_xy(actor_frame["lon"], actor_frame["lat"]),
            crs="EPSG:4326",
        ),
        opportunities=pd.DataFrame(
            {"id": [], "actor_id": [], "type": [], "name": [], "since": [], "until": []}
        ),
        relations=relations,
        territories=gpd.GeoDataFrame(
            {"slug": [s for s, _ in terr], "name": [n for _, n in terr]},
            geometry=[box(9 + i, 45, 9.5 + i, 45.5) for i in range(len(terr))],
            crs="EPSG:4326",
        ),
    )


def map_from_graph(
    graph: nx.Graph,
    *,
    groups: Mapping[Any, str] | None = None,
    levels: Mapping[tuple[Any, Any], int] | None = None,
    territory: str = "bergamo",
) -> OpportunityMap:
    """A map whose network (always active) is ``graph``; node labels become string ids."""
    groups = groups or {}
    levels = levels or {}
    actor_rows = [
        {"id": str(n), "group": groups.get(n, "imprese"), "territory": territory}
        for n in graph.nodes
    ]
    relation_rows = [
        {"source": str(a), "target": str(b),
         "level": levels.get((a, b), levels.get((b, a), 1))}
        for a, b in graph.edges
    ]
    return make_map(actor_rows, relation_rows)


def random_map(seed: int, n: int = 80, r: int = 300) -> OpportunityMap:
    """A random map on three territories with random dates in 2025-2027."""
    rng = np.random.default_rng(seed)
    territories = ["bergamo", "brescia", "cremona"]
    days = pd.date_range("2025-01-01", "2027-12-31", freq="D")

    def maybe_date(p: float) -> object:
        return None if rng.random() < p else days[rng.integers(len(days))]

    actors = [
        {"id": f"A{i:03d}", "group": GROUPS[int(rng.integers(5))],
         "territory": territories[int(rng.integers(3))], "since": maybe_date(0.4),
         "until": maybe_date(0.8)}
        for i in range(n)
    ]
    relations = [
        {"source": f"A{rng.integers(n):03d}", "target": f"A{rng.integers(n):03d}",
         "level": int(rng.integers(1, 5)), "since": maybe_date(0.3), "until": maybe_date(0.8)}
        for _ in range(r)
    ]
    return make_map(actors, relations)


def is_active(since: object, until: object, as_of: object) -> bool:
    """The "active at t" rule written out by hand: inclusive bounds, empty = open."""
    t = pd.Timestamp(as_of)
    return (pd.isna(since) or pd.Timestamp(since) <= t) and (
        pd.isna(until) or t <= pd.Timestamp(until))


def raw_graph(m: OpportunityMap, as_of: object, *, territory: str | None = None) -> nx.Graph:
    """The network at ``as_of`` built straight from the raw rows, without the library.

    Nodes: actors active at ``as_of`` (of ``territory`` when given) with their ``group``
    and ``territory``; an edge for every pair of distinct such actors with at least one
    active relation, ``level`` the strongest of them.
    """
    g = nx.Graph()
    for row in m.actors.to_dict("records"):
        if is_active(row.get("since"), row.get("until"), as_of) and (
                territory is None or row.get("territory") == territory):
            g.add_node(str(row["id"]), group=row.get("group"), territory=row.get("territory"))
    for rel in m.relations.to_dict("records"):
        a, b = str(rel["source"]), str(rel["target"])
        if a == b or a not in g or b not in g:
            continue
        if not is_active(rel.get("since"), rel.get("until"), as_of):
            continue
        level = int(rel["level"])
        if g.has_edge(a, b):
            g.edges[a, b]["level"] = max(g.edges[a, b]["level"], level)
        else:
            g.add_edge(a, b, level=level)
    return g
