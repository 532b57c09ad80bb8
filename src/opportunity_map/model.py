"""The in-memory opportunity map and its graph view."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
from markupsafe import Markup

from ._errors import Problem, UnknownTerritoryError
from ._html import escape_html, templates
from ._time import active_mask
from .geography import empty_ambiti, resolve_territory
from .network import Network, NetworkIndex, index_network
from .schema import GROUP_LABELS, GROUPS

__all__ = ["OpportunityMap"]


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
        ``geocoded`` is categorical: ``"coordinate"`` (coordinates given in the
        file) or ``"comune"`` (placed at the comune's point: approximate).
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
    _index_cache: tuple[tuple[pd.DataFrame, ...], NetworkIndex] | None = field(
        default=None, init=False, repr=False, compare=False)

    def __repr__(self) -> str:
        """One line: the size of every table and the span of the dates.

        Examples
        --------
        >>> om.example_map()
        <OpportunityMap: 9 actors, 4 opportunities, 12 relations, 2 territories; \
dates from 2025-01-01 to 2027-06-30>
        """
        return (
            f"<OpportunityMap: {len(self.actors)} actors, {len(self.opportunities)} "
            f"opportunities, {len(self.relations)} relations, "
            f"{len(self.territories)} territories; {self._span_text()}>"
        )

    def date_span(self) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
        """The earliest and the latest ``since``/``until`` of the three tables.

        Returns
        -------
        (pandas.Timestamp or None, pandas.Timestamp or None)
            ``None`` when no row has a date.

        Examples
        --------
        >>> [str(d.date()) for d in om.example_map().date_span()]
        ['2025-01-01', '2027-06-30']
        """
        found = []
        for table in (self.actors, self.opportunities, self.relations):
            for column in ("since", "until"):
                if column in table and len(table):
                    dates = pd.to_datetime(table[column], errors="coerce").dropna()
                    if len(dates):
                        found += [dates.min(), dates.max()]
        if not found:
            return None, None
        return min(found), max(found)

    def _span_text(self) -> str:
        first, last = self.date_span()
        if first is None or last is None:
            return "no dates"
        return f"dates from {first.date()} to {last.date()}"

    def counts(self) -> pd.DataFrame:
        """Actors by territory and group, and the relations inside each territory.

        Returns
        -------
        pandas.DataFrame
            One row per territory (its slug as index, in the territories' order, then
            ``None`` for actors outside them when there are any), columns ``name``,
            one per group of :data:`~opportunity_map.schema.GROUPS` (``other`` added
            when an actor has no known group), ``actors`` and ``relations`` (both
            ends in the territory).

        Examples
        --------
        >>> om.example_map().counts()[["cm", "actors", "relations"]]
                  cm  actors  relations
        territory
        bergamo    1       6          8
        lecco      1       3          3
        """
        actors = pd.DataFrame(self.actors)
        territory = actors["territory"].astype(object).where(
            actors["territory"].isin(self.territory_slugs))
        group = actors["group"].astype(object).where(actors["group"].isin(GROUPS), "other") \
            if "group" in actors else pd.Series("other", index=actors.index, dtype=object)
        columns = [*GROUPS, "other"] if (group == "other").any() else list(GROUPS)
        table = pd.crosstab(territory.fillna("").to_numpy(), group.to_numpy())
        rows = [*self.territory_slugs, *([""] if territory.isna().any() else [])]
        table = table.reindex(index=rows, columns=columns, fill_value=0).astype(np.int64)
        table["actors"] = table.sum(axis=1)
        where = pd.Series(territory.fillna("").to_numpy(), index=actors["id"].astype(str))
        where = where[~where.index.duplicated(keep="last")]
        source = self.relations["source"].astype(str).map(where)
        target = self.relations["target"].astype(str).map(where)
        inside = source[(source == target) & source.notna()]
        table["relations"] = inside.value_counts().reindex(rows, fill_value=0).astype(np.int64)
        names = dict(zip(self.territory_slugs, self.territories["name"].astype(str),
                         strict=True)) if "name" in self.territories else {}
        table.insert(0, "name", [names.get(r, r) if r else "(no territory)" for r in rows])
        table.index = pd.Index([r or None for r in rows], name="territory", dtype=object)
        table.columns.name = None
        return table

    def _repr_html_(self) -> str:
        """The notebook display: sizes, date span, actors by territory and group."""
        counts = self.counts()
        groups = [c for c in counts.columns if c not in ("name", "actors", "relations")]
        # data strings through the project's escaping (also $, {, }, backquote), then
        # marked safe so that autoescape does not escape them twice
        rows = [{"name": Markup(escape_html(record["name"])),
                 "groups": [int(record[g]) for g in groups],
                 "actors": int(record["actors"]), "relations": int(record["relations"])}
                for _, record in counts.iterrows()]
        return templates().get_template("repr_map.html.j2").render(
            n_actors=len(self.actors), n_opportunities=len(self.opportunities),
            n_relations=len(self.relations), n_territories=len(self.territories),
            span=self._span_text(), rows=rows,
            groups=[{"code": g, "label": GROUP_LABELS.get(g, "Altro")} for g in groups])

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

    def network_index(self) -> NetworkIndex:
        """The map's tables as arrays (:class:`~opportunity_map.network.NetworkIndex`).

        Built once and reused while ``actors``, ``relations`` and ``territories`` are
        the same objects; assigning a new table to one of them rebuilds it. (Edit a
        table by assigning a new frame, not in place.)
        """
        tables = (self.actors, self.relations, self.territories)
        cached = self._index_cache
        if cached is None or any(a is not b for a, b in zip(cached[0], tables, strict=True)):
            index = index_network(self.actors, self.relations, territories=self.territories)
            # the tables themselves are kept (not their id()), so a freed table whose
            # address is reused can never be mistaken for the one the index was built from
            self._index_cache = (tables, index)
            return index
        return cached[1]

    def network(self, as_of: object = None) -> Network:
        """The network of the whole map at a date (see :mod:`opportunity_map.network`).

        Parameters
        ----------
        as_of : date-like, optional
            The date t; ``None`` is today (logged).

        Returns
        -------
        Network

        Examples
        --------
        >>> m = om.example_map()
        >>> m.network("2026-06-30")
        <Network at 2026-06-30: 8 active actors, 6 ties>
        """
        return self.network_index().at(as_of)

    def graph(self, as_of: object = None, *, territory: str | None = None) -> nx.Graph:
        """The network of organisations at a date as a simple undirected networkx graph.

        Nodes are the actors active at ``as_of`` (in ``territory`` when given), with
        their attributes (``name, kind, group, comune, territory, lat, lon, ...``).
        Two actors are tied when at least one relation between them is active at
        ``as_of``; the edge is one *tie* (see :mod:`opportunity_map.network`):
        ``level`` (strongest, 1-4), ``kind`` (of the strongest relation), ``kinds``
        (list), ``n_relations`` and ``since`` (earliest start, ``None`` if open).
        With a ``territory``, only ties whose two ends are both in it are kept.

        Parameters
        ----------
        as_of : date-like, optional
            The date t; ``None`` is today (stated in ``g.graph["as_of"]``).
        territory : str, optional
            A territory slug or name; ``None`` for the whole map.

        Returns
        -------
        networkx.Graph

        Raises
        ------
        UnknownTerritoryError
            If ``territory`` is not a territory of the map.

        Examples
        --------
        >>> m = om.example_map()
        >>> g = m.graph("2026-06-30", territory="bergamo")
        >>> g.number_of_nodes(), g.number_of_edges(), g.graph["as_of"]
        (5, 4, '2026-06-30')
        >>> g.edges["BG-02", "BG-03"]["kinds"], g.edges["BG-02", "BG-03"]["level"]
        (['convenzione_art14', 'tirocinio'], 3)
        """
        slug = self.resolve_territory(territory) if territory is not None else None
        return self.network(as_of).to_graph(self.actors, territory=slug)

    def check_territory(self, territory: str | None) -> None:
        """Raise unless ``territory`` is ``None`` (whole map) or a slug of this map.

        Parameters
        ----------
        territory : str or None
            A territory slug, or ``None`` for the whole map.

        Raises
        ------
        UnknownTerritoryError
            Naming the parameter and the slugs of the map.
        """
        if territory is not None and territory not in self.territory_slugs:
            raise UnknownTerritoryError(territory, self.territory_slugs)

    def resolve_territory(self, name: str) -> str:
        """The slug of a territory given by slug or name, ignoring case, accents and spaces.

        Parameters
        ----------
        name : str
            ``"monza-brianza"``, ``"Monza e della Brianza"``, ``"MONZA E DELLA BRIANZA"``...

        Returns
        -------
        str
            The slug.

        Raises
        ------
        UnknownTerritoryError
            If no territory of the map has that slug or name.

        Examples
        --------
        >>> om.example_map().resolve_territory("Bergamo")
        'bergamo'
        """
        return resolve_territory(self.territories, name)
