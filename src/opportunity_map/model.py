"""The in-memory opportunity map and its graph view."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import networkx as nx
import pandas as pd

from ._errors import Problem, UnknownTerritoryError
from ._time import active_mask
from .geography import empty_ambiti, resolve_territory
from .network import Network, NetworkIndex, index_network

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
        <Network al 2026-06-30: 8 attori attivi, 6 legami>
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
