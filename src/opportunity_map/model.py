"""The in-memory opportunity map and its graph view."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd

from ._errors import Problem
from ._time import active_mask, to_timestamp
from .geography import empty_ambiti

__all__ = ["OpportunityMap", "collapse_relations"]


@dataclass
class OpportunityMap:
    """A "mappa delle opportunità": organisations, opportunities and ties, geo-referenced.

    Build one with :func:`opportunity_map.load`; construct it directly only from
    tables already in canonical form (as ``load`` returns them).

    Attributes
    ----------
    actors : geopandas.GeoDataFrame
        One row per organisation, EPSG:4326 points. Canonical columns ``id, name,
        kind, comune, address, lat, lon, territory, since, until, website, email,
        phone, notes, geocoded`` plus the derived ``group`` (one of the five
        project groups), ``comune_code`` (ISTAT) and ``ambito``, then any extra
        column of the input file. ``since``/``until`` are datetime64 (NaT = empty).
    opportunities : pandas.DataFrame
        ``id, actor_id, type, name, since, until, capacity, target, notes`` + extras.
    relations : pandas.DataFrame
        ``source, target, kind, level, since, until, notes`` + extras; ``level`` is 1-4.
    territories : geopandas.GeoDataFrame
        The territories of the project: ``slug, name, province_code,
        province_short`` and the province polygon (ISTAT/Openpolis 2023, CC-BY 4.0).
    ambiti : geopandas.GeoDataFrame
        Optional sub-provincial ambiti territoriali: ``id, name, territory,
        comune_codes`` and the union of their comuni; empty when none are defined.
    source : pathlib.Path or None
        Where the map was loaded from.
    problems : list of Problem
        Warnings found while loading (errors prevent loading).
    """

    actors: gpd.GeoDataFrame
    opportunities: pd.DataFrame
    relations: pd.DataFrame
    territories: gpd.GeoDataFrame
    ambiti: gpd.GeoDataFrame = field(default_factory=empty_ambiti)
    source: Path | None = None
    problems: list[Problem] = field(default_factory=list, repr=False)

    def __repr__(self) -> str:
        return (
            f"<OpportunityMap: {len(self.actors)} attori, {len(self.opportunities)} "
            f"opportunità, {len(self.relations)} relazioni, "
            f"{len(self.territories)} territori>"
        )

    @property
    def territory_slugs(self) -> list[str]:
        """Slugs of the territories, in the order of the territories table."""
        return [str(s) for s in self.territories["slug"]]

    def actors_at(self, as_of: object = None, *, territory: str | None = None) -> gpd.GeoDataFrame:
        """Actors active at ``as_of`` (all when ``None``), optionally in one territory.

        Parameters
        ----------
        as_of : date-like, optional
            The date t; a row is active when ``since <= t <= until`` (empty bounds open).
        territory : str, optional
            A territory slug.

        Raises
        ------
        ValueError
            If ``territory`` is not one of :attr:`territory_slugs`.
        """
        actors = self.actors
        self.check_territory(territory)
        if territory is not None:
            actors = actors[actors["territory"] == territory]
        if as_of is not None:
            actors = actors[active_mask(actors, as_of)]
        return actors

    def relations_at(self, as_of: object = None) -> pd.DataFrame:
        """Relations active at ``as_of`` (all when ``None``)."""
        if as_of is None:
            return self.relations
        return self.relations[active_mask(self.relations, as_of)]

    def graph(self, as_of: object = None, *, territory: str | None = None) -> nx.Graph:
        """The network of organisations as a simple undirected graph.

        Nodes are the actors active at ``as_of`` (in ``territory`` when given), with
        their attributes (``name, kind, group, comune, territory, lat, lon, ...``).
        Two actors are tied when at least one relation between them is active at
        ``as_of``; the edge keeps the strongest active tie: ``level`` (max level,
        1-4), ``kinds`` (sorted list of the active relation kinds), ``n_relations``
        and ``since`` (earliest start among them, ``None`` if open). With a
        ``territory``, only ties whose two ends are both in it are kept.

        Parameters
        ----------
        as_of : date-like, optional
            The date t; ``None`` keeps every row regardless of dates.
        territory : str, optional
            A territory slug; ``None`` for the whole map.

        Returns
        -------
        networkx.Graph

        Examples
        --------
        >>> import opportunity_map as om
        >>> m = om.load("data/ambiti")  # doctest: +SKIP
        >>> g = m.graph(as_of="2026-06-30", territory="bergamo")  # doctest: +SKIP
        """
        if as_of is not None:
            to_timestamp(as_of, name="as_of")
        actors = self.actors_at(as_of, territory=territory)
        g = nx.Graph()
        attrs = pd.DataFrame(actors.drop(columns="geometry")).set_index("id")
        for actor_id, row in attrs.iterrows():
            g.add_node(actor_id, **{k: _plain(v) for k, v in row.items()})
        ties = collapse_relations(self.relations_at(as_of), set(g.nodes))
        for row in ties.itertuples(index=False):
            g.add_edge(
                row.source, row.target, level=int(row.level), kinds=list(row.kinds),
                n_relations=int(row.n_relations), since=_plain(row.since),
            )
        return g

    def check_territory(self, territory: str | None) -> None:
        """Raise ``ValueError`` unless ``territory`` is ``None`` (whole map) or a slug of this map.

        Parameters
        ----------
        territory : str or None
            A territory slug, or ``None`` for the whole map.

        Raises
        ------
        ValueError
            Naming the parameter and the slugs of the map.
        """
        if territory is not None and territory not in self.territory_slugs:
            msg = (
                f"territory={territory!r} is not a territory of this map; "
                f"expected None (whole map) or one of {self.territory_slugs}"
            )
            raise ValueError(msg)


def collapse_relations(relations: pd.DataFrame, nodes: set[str] | None = None) -> pd.DataFrame:
    """Collapse relations to one row per unordered pair of actors.

    Parameters
    ----------
    relations : pandas.DataFrame
        Rows with ``source, target, kind, level`` (and optionally ``since``).
    nodes : set of str, optional
        When given, keep only pairs with both ends in ``nodes``.

    Returns
    -------
    pandas.DataFrame
        Columns ``source, target`` (``source < target``), ``level`` (maximum),
        ``kinds`` (sorted tuple of distinct kinds), ``n_relations`` and ``since``
        (earliest, NaT if any is open). Self-pairs are dropped.
    """
    cols = ["source", "target", "level", "kinds", "n_relations", "since"]
    if relations.empty:
        return pd.DataFrame({c: [] for c in cols})
    src = relations["source"].astype(str)
    tgt = relations["target"].astype(str)
    keep = src != tgt
    if nodes is not None:
        keep &= src.isin(nodes) & tgt.isin(nodes)
    a = src.where(src < tgt, tgt)[keep]
    b = tgt.where(src < tgt, src)[keep]
    since = relations["since"] if "since" in relations else pd.Series(pd.NaT, index=relations.index)
    frame = pd.DataFrame({
        "source": a, "target": b, "level": relations["level"][keep].astype(int),
        "kind": relations["kind"][keep].astype(str), "since": pd.to_datetime(since[keep]),
    })
    if frame.empty:
        return pd.DataFrame({c: [] for c in cols})
    keys = ["source", "target"]
    frame["open"] = frame["since"].isna()
    grouped = frame.groupby(keys, sort=True)
    out = grouped.agg(level=("level", "max"), n_relations=("kind", "size"),
                      since=("since", "min"), open=("open", "max"))
    out.loc[out["open"].to_numpy(dtype=bool), "since"] = pd.NaT
    distinct = frame[[*keys, "kind"]].drop_duplicates().sort_values([*keys, "kind"])
    starts = np.flatnonzero(~distinct.duplicated(subset=keys).to_numpy())
    kinds = np.split(distinct["kind"].to_numpy(dtype=object), starts[1:])
    out["kinds"] = [tuple(k) for k in kinds]
    out = out.reset_index()
    return out[cols]


def _plain(value: object) -> object:
    """Convert pandas scalars to plain Python objects for graph attributes."""
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat()
    if hasattr(value, "item"):
        return value.item()
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return value
