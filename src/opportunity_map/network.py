"""The network of organisations at a date: the one place that says who is active and who is tied.

Every figure of the library (the graph view, the metrics, the evaluation, the maps
and the index) starts from the same two objects:

:class:`NetworkIndex`
    The map's actors and relations as integer arrays (positions, group and
    territory codes, levels, kinds, dates), built once per map with
    :func:`index_network` and reused for every date.
:class:`Network`
    The whole map at one date t, from :meth:`NetworkIndex.at`: the actors active at
    t and their **ties**.

A *tie* (Italian "legame") is an unordered pair of two distinct organisations, both
active at t, with at least one relation between them active at t (see
:func:`opportunity_map._time.active_array`). Several relations between the same two
organisations make **one** tie, which keeps

- ``level``: the strongest active level of collaboration (1-4, PARTNER scale);
- ``kinds``: the distinct kinds of the active relations, in vocabulary order
  (:data:`~opportunity_map.schema.RELATION_KINDS`), and ``kind``, the kind of the
  strongest one (first in vocabulary order among equals);
- ``n_relations``: how many active relations it gathers;
- ``since``: the earliest start among them (``NaT`` when one of them has no start).

For a territory, only ties with both ends in it count; ties with one end outside are
*cross-territory* ties, reported apart (:meth:`Network.cross_ties`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd

from ._errors import UsageError
from ._time import active_array, to_timestamp
from .geography import match_territory
from .schema import GROUPS, KIND_TO_GROUP, LEVELS, RELATION_KINDS

__all__ = [
    "REGION",
    "Network",
    "NetworkIndex",
    "SubNetwork",
    "actor_groups",
    "index_network",
]

logger = logging.getLogger(__name__)

#: Label of the whole map (all territories together) in tables.
REGION = "lombardia"

_TIE_COLUMNS = ("source", "target", "source_name", "target_name", "level", "kind", "kinds",
                "n_relations", "since")


def actor_groups(actors: pd.DataFrame) -> pd.Series:
    """The project group of every actor: its ``group`` column, else derived from ``kind``.

    Parameters
    ----------
    actors : pandas.DataFrame
        The actors table (``kind`` and optionally ``group`` columns).

    Returns
    -------
    pandas.Series of object
        The ``group`` as given when not empty (a value outside
        :data:`opportunity_map.schema.GROUPS` is kept, and counts as an unknown group
        in the metrics), else the group of a known ``kind``, else ``None``.

    Examples
    --------
    >>> actor_groups(pd.DataFrame({"kind": ["impresa", "cooperativa_b", "?"]})).tolist()
    ['imprese', 'cooperazione', None]
    """
    def text(value: object) -> str | None:
        stripped = value.strip() if isinstance(value, str) else ""
        return stripped or None

    kinds = actors["kind"] if "kind" in actors else pd.Series(None, index=actors.index)
    groups = [KIND_TO_GROUP.get(k) if (k := text(kind)) else None for kind in kinds]
    if "group" in actors:
        groups = [given if (given := text(g)) else derived
                  for g, derived in zip(actors["group"], groups, strict=True)]
    return pd.Series(groups, index=actors.index, dtype=object)


def _dates(frame: pd.DataFrame, column: str) -> np.ndarray:
    if column not in frame:
        return np.full(len(frame), np.datetime64("NaT"), dtype="datetime64[ns]")
    dates: np.ndarray = pd.to_datetime(frame[column]).to_numpy(dtype="datetime64[ns]")
    return dates


@dataclass(frozen=True, eq=False)
class NetworkIndex:
    """A map's actors and relations as arrays, built once by :func:`index_network`.

    Attributes
    ----------
    ids : numpy.ndarray
        Actor id (str) at each position, in the order of the actors table.
    group : numpy.ndarray
        int8 code into :data:`~opportunity_map.schema.GROUPS`, -1 when unknown.
    territory : numpy.ndarray
        int16 code into ``slugs``, -1 outside the map's territories.
    slugs, names : tuple of str
        The territories' slugs and names, in the order of the territories table.
    actor_since, actor_until : numpy.ndarray
        datetime64 bounds of every actor (NaT = open).
    rel_u, rel_v : numpy.ndarray
        Actor positions of every relation's two ends, -1 for an unknown actor.
    rel_level : numpy.ndarray
        int8 level (1-4) of every relation.
    rel_kind : numpy.ndarray
        int16 code into ``kinds`` of every relation.
    kinds : tuple of str
        The relation kinds: the vocabulary first, then unknown kinds found (sorted).
    rel_since, rel_until : numpy.ndarray
        datetime64 bounds of every relation.
    actor_names : numpy.ndarray
        Actor name (str) at each position (the id when the table has no names);
        empty when the index was built without them.
    """

    ids: np.ndarray
    group: np.ndarray
    territory: np.ndarray
    slugs: tuple[str, ...]
    names: tuple[str, ...]
    actor_since: np.ndarray
    actor_until: np.ndarray
    rel_u: np.ndarray
    rel_v: np.ndarray
    rel_level: np.ndarray
    rel_kind: np.ndarray
    kinds: tuple[str, ...]
    rel_since: np.ndarray
    rel_until: np.ndarray
    actor_names: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=object))
    _networks: dict[pd.Timestamp, Network] = field(default_factory=dict, repr=False)

    @property
    def n_actors(self) -> int:
        """Number of actors (every date)."""
        return int(self.ids.size)

    def names_at(self, positions: np.ndarray) -> np.ndarray:
        """The names of the actors at ``positions`` (their ids when names are unknown)."""
        source = self.actor_names if self.actor_names.size == self.ids.size else self.ids
        return np.asarray(source[positions], dtype=object)

    def name_of(self, scope: str) -> str:
        """The display name of a territory slug, ``"Lombardia"`` for :data:`REGION`."""
        if scope == REGION:
            return "Lombardia"
        return dict(zip(self.slugs, self.names, strict=True)).get(scope, scope)

    def resolve(self, territory: str, *, param: str = "territory") -> str:
        """The slug of a territory given by slug or name (any case).

        Raises
        ------
        UnknownTerritoryError
            If the map has no such territory.
        """
        return match_territory(self.slugs, self.names, territory, param=param)

    def scope_mask(self, territory: str | None) -> np.ndarray:
        """Actors of a territory (slug or name; every actor for ``None``, the whole map)."""
        if territory is None:
            return np.ones(self.n_actors, dtype=bool)
        return np.asarray(self.territory == self.slugs.index(self.resolve(territory)))

    def active(self, as_of: pd.Timestamp) -> np.ndarray:
        """Actors active at ``as_of`` (boolean array)."""
        return active_array(self.actor_since, self.actor_until, as_of)

    def at(self, as_of: object = None) -> Network:
        """The whole-map network at a date (``None``: today, logged).

        Parameters
        ----------
        as_of : date-like, optional
            The date t.

        Returns
        -------
        Network
            Computed once per date and index, then shared (a network is immutable).
        """
        t = resolve_as_of(as_of)
        if (cached := self._networks.get(t)) is not None:
            return cached
        network = self._network_at(t)
        self._networks[t] = network
        return network

    def _network_at(self, t: pd.Timestamp) -> Network:
        active = self.active(t)
        keep = active_array(self.rel_since, self.rel_until, t)
        keep &= (self.rel_u >= 0) & (self.rel_v >= 0) & (self.rel_u != self.rel_v)
        rows = np.flatnonzero(keep)
        su, sv = self.rel_u[rows], self.rel_v[rows]
        both = active[su] & active[sv]
        rows, su, sv = rows[both], su[both], sv[both]
        lo, hi = np.minimum(su, sv), np.maximum(su, sv)
        n = max(self.n_actors, 1)
        key = lo.astype(np.int64) * n + hi.astype(np.int64)
        # sort by pair, then strongest level first, then kind in vocabulary order
        order = np.lexsort((self.rel_kind[rows], -self.rel_level[rows].astype(np.int16), key))
        key, rows = key[order], rows[order]
        first = np.r_[True, key[1:] != key[:-1]] if key.size else np.zeros(0, dtype=bool)
        starts = np.flatnonzero(first)
        ukey = key[starts]
        since = self.rel_since[rows]
        if rows.size:
            open_start = np.isnat(since)
            any_open = np.maximum.reduceat(open_start.astype(np.int8), starts).astype(bool)
            filled = np.where(open_start, np.datetime64("2262-01-01", "ns"), since)
            earliest = np.minimum.reduceat(filled.astype(np.int64), starts).astype("datetime64[ns]")
            earliest[any_open] = np.datetime64("NaT")
            n_rel = np.diff(np.r_[starts, rows.size])
        else:
            earliest = np.zeros(0, dtype="datetime64[ns]")
            n_rel = np.zeros(0, dtype=np.int64)
        return Network(
            index=self, as_of=t, active_actors=active,
            u=(ukey // n).astype(np.int64), v=(ukey % n).astype(np.int64),
            level=self.rel_level[rows[starts]].astype(np.int8) if rows.size
            else np.zeros(0, dtype=np.int8),
            kind=self.rel_kind[rows[starts]] if rows.size else np.zeros(0, dtype=np.int16),
            n_relations=n_rel.astype(np.int64), since=earliest,
            relation_rows=rows, tie_starts=np.r_[starts, rows.size].astype(np.int64),
        )


def resolve_as_of(as_of: object) -> pd.Timestamp:
    """The date a map shows: ``as_of`` parsed, or today (logged) when ``None``.

    Parameters
    ----------
    as_of : date-like or None

    Returns
    -------
    pandas.Timestamp

    Raises
    ------
    ValueError
        If ``as_of`` is not a date.
    """
    if as_of is None:
        today = pd.Timestamp.today().normalize()
        logger.info("as_of not given: the network is taken at today's date, %s", today.date())
        return today
    return to_timestamp(as_of, name="as_of")


@dataclass(frozen=True)
class SubNetwork:
    """The network restricted to a set of actors (a territory, a panel).

    Attributes
    ----------
    positions : numpy.ndarray
        Positions (into the :class:`NetworkIndex`) of its n actors.
    u, v : numpy.ndarray
        Local positions (0 .. n-1) of the ends of each of its ties.
    level : numpy.ndarray
        Strongest level of each tie.
    ties : numpy.ndarray
        Position of each tie in the parent :class:`Network`.
    """

    positions: np.ndarray
    u: np.ndarray
    v: np.ndarray
    level: np.ndarray
    ties: np.ndarray

    @property
    def n_actors(self) -> int:
        """Number of actors."""
        return int(self.positions.size)

    @property
    def n_ties(self) -> int:
        """Number of ties."""
        return int(self.u.size)


@dataclass(frozen=True, eq=False)
class Network:
    """The network of the whole map at one date; build it with :meth:`NetworkIndex.at`.

    Attributes
    ----------
    index : NetworkIndex
        The arrays of the map.
    as_of : pandas.Timestamp
        The date t.
    active_actors : numpy.ndarray
        Boolean per actor position: active at t.
    u, v : numpy.ndarray
        Actor positions of the two ends of every tie (``u < v``), sorted by pair.
    level, kind, n_relations, since : numpy.ndarray
        Per tie: strongest level, kind code of the strongest relation, number of
        active relations, earliest start (NaT when one is open-ended).
    relation_rows : numpy.ndarray
        Positions (into the relations table) of the active relations that make the
        ties, grouped by tie: those of tie k are
        ``relation_rows[tie_starts[k]:tie_starts[k + 1]]``, strongest first.
    tie_starts : numpy.ndarray
        ``n_ties + 1`` offsets into ``relation_rows``.
    """

    index: NetworkIndex
    as_of: pd.Timestamp
    active_actors: np.ndarray
    u: np.ndarray
    v: np.ndarray
    level: np.ndarray
    kind: np.ndarray
    n_relations: np.ndarray
    since: np.ndarray
    relation_rows: np.ndarray
    tie_starts: np.ndarray

    def __repr__(self) -> str:
        return (f"<Network at {self.as_of.date()}: {int(self.active_actors.sum())} active actors, "
                f"{self.n_ties} ties>")

    @property
    def n_ties(self) -> int:
        """Number of ties of the whole map."""
        return int(self.u.size)

    def subnetwork(self, nodes: np.ndarray) -> SubNetwork:
        """Restrict to the active actors of the boolean mask ``nodes`` and the ties among them.

        Parameters
        ----------
        nodes : numpy.ndarray
            Boolean per actor position.

        Returns
        -------
        SubNetwork
        """
        nodes = np.asarray(nodes, dtype=bool) & self.active_actors
        positions = np.flatnonzero(nodes)
        local = np.full(nodes.size, -1, dtype=np.int64)
        local[positions] = np.arange(positions.size)
        inside = np.flatnonzero(nodes[self.u] & nodes[self.v])
        return SubNetwork(positions=positions, u=local[self.u[inside]], v=local[self.v[inside]],
                          level=self.level[inside], ties=inside)

    def territory(self, territory: str | None) -> SubNetwork:
        """The network of one territory (``None``: the whole map)."""
        return self.subnetwork(self.index.scope_mask(territory))

    def cross_ties(self, territory: str | None) -> int:
        """Ties with one end in the territory and one outside.

        For ``None`` (the whole map): ties whose ends lie in different territories.
        """
        ends_u = self.index.territory[self.u]
        ends_v = self.index.territory[self.v]
        if territory is None:
            return int((ends_u != ends_v).sum())
        code = self.index.slugs.index(self.index.resolve(territory))
        return int(((ends_u == code) ^ (ends_v == code)).sum())

    def ties(self, territory: str | None = None) -> pd.DataFrame:
        """The ties as a table (of one territory, or of the whole map).

        Parameters
        ----------
        territory : str, optional
            A territory slug: only ties with both ends in it.

        Returns
        -------
        pandas.DataFrame
            Columns ``source, target`` (actor ids, ``source`` at the lower position),
            ``source_name, target_name`` (their names), ``level``, ``kind``,
            ``kinds`` (tuple, vocabulary order), ``n_relations``, ``since``
            (datetime64, NaT when open), sorted by pair; the index is the tie's
            position in this network.
        """
        sub = self.territory(territory)
        t = sub.ties
        kinds = np.asarray(self.index.kinds, dtype=object)
        by_tie = self.kinds_of(t)
        return pd.DataFrame({
            "source": self.index.ids[self.u[t]],
            "target": self.index.ids[self.v[t]],
            "source_name": self.index.names_at(self.u[t]),
            "target_name": self.index.names_at(self.v[t]),
            "level": self.level[t].astype(np.int64),
            "kind": kinds[self.kind[t]] if t.size else np.zeros(0, dtype=object),
            "kinds": by_tie,
            "n_relations": self.n_relations[t],
            "since": pd.to_datetime(self.since[t]),
        }, index=pd.Index(t, name="tie"), columns=list(_TIE_COLUMNS))

    def _relation_slots(self, ties: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For the given ties: the owner tie and the slot in ``relation_rows`` of each relation.

        Costs O(len(ties) + their relations), whatever the size of the network.
        """
        ties = np.asarray(ties, dtype=np.int64)
        first = self.tie_starts[ties]
        lengths = self.tie_starts[ties + 1] - first
        owner = np.repeat(ties, lengths)
        shift = np.repeat(first - (np.cumsum(lengths) - lengths), lengths)
        return owner, shift + np.arange(int(lengths.sum()))

    def relations_of(self, ties: np.ndarray) -> dict[int, np.ndarray]:
        """Positions in the relations table of the active relations of each tie.

        Parameters
        ----------
        ties : numpy.ndarray
            Tie positions in this network.

        Returns
        -------
        dict of int to numpy.ndarray
            Strongest relation first.
        """
        return {int(t): self.relation_rows[self.tie_starts[t]:self.tie_starts[t + 1]]
                for t in np.asarray(ties, dtype=np.int64).tolist()}

    def kinds_of(self, ties: np.ndarray) -> list[tuple[str, ...]]:
        """Distinct kinds of the active relations of each tie, in vocabulary order.

        Parameters
        ----------
        ties : numpy.ndarray
            Tie positions in this network.

        Returns
        -------
        list of tuple of str
            One tuple per tie, in the order given.
        """
        if ties.size == 0:
            return []
        n_kinds = len(self.index.kinds)
        owner, slots = self._relation_slots(ties)
        combo = np.unique(owner * n_kinds + self.index.rel_kind[self.relation_rows[slots]])
        owner, code = combo // n_kinds, combo % n_kinds
        starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
        names = np.asarray(self.index.kinds, dtype=object)[code]
        by_tie = dict(zip(owner[starts].tolist(),
                          (tuple(part) for part in np.split(names, starts[1:])), strict=True))
        return [by_tie[t] for t in ties.tolist()]

    def to_graph(self, actors: pd.DataFrame, *, territory: str | None = None) -> nx.Graph:
        """The network as a networkx graph with the actors' attributes.

        Parameters
        ----------
        actors : pandas.DataFrame
            The actors table the index was built from (same rows, same order).
        territory : str, optional
            A territory slug; ``None`` for the whole map.

        Returns
        -------
        networkx.Graph
            Nodes: active actors with their columns as attributes (geometry left
            out). Edges: ties with ``level``, ``kind``, ``kinds`` (list),
            ``n_relations`` and ``since`` (ISO date or ``None``). ``graph.graph``
            holds ``as_of`` (ISO date) and ``territory``.
        """
        sub = self.territory(territory)
        g = nx.Graph(as_of=self.as_of.date().isoformat(), territory=territory)
        frame = pd.DataFrame(actors.iloc[sub.positions])
        frame = frame.drop(columns=[c for c in ("geometry",) if c in frame])
        for actor_id, record in zip(self.index.ids[sub.positions],
                                    frame.to_dict("records"), strict=True):
            g.add_node(actor_id, **{str(k): _plain(v) for k, v in record.items() if k != "id"})
        ties = self.ties(territory)
        for row in ties.itertuples(index=False):
            g.add_edge(row.source, row.target, level=int(row.level), kind=row.kind,
                       kinds=list(row.kinds), n_relations=int(row.n_relations),
                       since=_plain(row.since))
        return g


def index_network(actors: pd.DataFrame, relations: pd.DataFrame, *,
                  territories: pd.DataFrame | None = None) -> NetworkIndex:
    """Turn the tables into the arrays every date is computed from.

    Parameters
    ----------
    actors : pandas.DataFrame
        ``id``, ``kind`` (or ``group``), ``territory``, ``since``, ``until``.
    relations : pandas.DataFrame
        ``source``, ``target``, ``kind``, ``level``, ``since``, ``until``.
    territories : pandas.DataFrame, optional
        ``slug`` and ``name`` of the territories, in order; ``None`` for none.

    Returns
    -------
    NetworkIndex

    Raises
    ------
    ValueError
        If actor ids are duplicated or a relation level is not 1-4.

    Examples
    --------
    >>> actors = pd.DataFrame({"id": ["a", "b", "c"], "kind": ["impresa"] * 3})
    >>> relations = pd.DataFrame({"source": ["a", "b", "a"], "target": ["b", "a", "c"],
    ...                           "kind": ["invio", "tirocinio", "invio"], "level": [1, 3, 2]})
    >>> net = index_network(actors, relations).at("2026-06-30")
    >>> net.ties()[["source", "target", "level", "kinds"]].to_dict("records")
    [{'source': 'a', 'target': 'b', 'level': 3, 'kinds': ('tirocinio', 'invio')}, \
{'source': 'a', 'target': 'c', 'level': 2, 'kinds': ('invio',)}]
    """
    ids = actors["id"].astype(str) if "id" in actors else pd.Series([], dtype=str)
    if ids.duplicated().any():
        dup = sorted(set(ids[ids.duplicated()]))[:5]
        msg = f"actors: duplicated actor id {dup}; every organisation must have one row"
        raise ValueError(msg)
    group_codes = {g: i for i, g in enumerate(GROUPS)}
    groups = actor_groups(actors).map(group_codes)
    group = groups.fillna(-1).to_numpy(dtype=np.int8)
    if (group < 0).any():
        logger.warning("%d actors have no known group; they are left out of block densities "
                       "and of the E-I index", int((group < 0).sum()))
    if territories is not None and len(territories):
        slugs = tuple(str(s) for s in territories["slug"])
        names = tuple(str(n) for n in territories["name"]) if "name" in territories else slugs
    else:
        slugs = names = ()
    terr = actors["territory"] if "territory" in actors else pd.Series(None, index=actors.index)
    territory = terr.map({s: i for i, s in enumerate(slugs)}).fillna(-1).to_numpy(np.int16)

    positions = pd.Index(ids.to_numpy())
    if relations.empty:
        rel_u = rel_v = np.zeros(0, dtype=np.int64)
        rel_level = np.zeros(0, dtype=np.int8)
        rel_kind = np.zeros(0, dtype=np.int16)
        kinds: tuple[str, ...] = tuple(RELATION_KINDS)
    else:
        rel_u = positions.get_indexer(relations["source"].astype(str)).astype(np.int64)
        rel_v = positions.get_indexer(relations["target"].astype(str)).astype(np.int64)
        levels = pd.to_numeric(relations["level"], errors="coerce")
        bad = levels.isna() | ~levels.isin(LEVELS)
        if bad.any():
            msg = (f"relations: column 'level' must be one of {list(LEVELS)}; "
                   f"{int(bad.sum())} rows are not (first at index {relations.index[bad][0]!r})")
            raise ValueError(msg)
        rel_level = levels.to_numpy(dtype=np.int8)
        raw_kinds = (relations["kind"].astype(str).str.strip() if "kind" in relations
                     else pd.Series("altro", index=relations.index))
        extra = sorted(set(raw_kinds.unique()) - set(RELATION_KINDS))
        kinds = (*RELATION_KINDS, *extra)
        rel_kind = pd.Index(kinds).get_indexer(raw_kinds).astype(np.int16)
        unknown = int(((rel_u < 0) | (rel_v < 0)).sum())
        if unknown:
            logger.warning("%d relations refer to unknown actors and are ignored", unknown)
    return NetworkIndex(
        ids=ids.to_numpy(dtype=object), group=group, territory=territory, slugs=slugs,
        names=names, actor_since=_dates(actors, "since"), actor_until=_dates(actors, "until"),
        rel_u=rel_u, rel_v=rel_v, rel_level=rel_level, rel_kind=rel_kind, kinds=kinds,
        rel_since=_dates(relations, "since"), rel_until=_dates(relations, "until"),
        actor_names=(actors["name"].fillna("").astype(str).to_numpy(dtype=object)
                     if "name" in actors else ids.to_numpy(dtype=object)),
    )


def scopes_of(index: NetworkIndex, territories: Sequence[str] | None) -> list[str]:
    """Territory slugs (and :data:`REGION`) to compute, checked against the index.

    ``None`` gives every territory then the region.
    """
    if territories is None:
        return [*index.slugs, REGION]
    if isinstance(territories, str):
        territories = [territories]
    if not territories:
        msg = f"territories: give at least one territory (or {REGION!r}), or None for all"
        raise UsageError(msg, param="territories")
    return list(dict.fromkeys(
        REGION if str(t) == REGION else index.resolve(str(t), param="territories")
        for t in territories))


def _plain(value: Any) -> Any:
    """Convert pandas and numpy scalars to plain Python objects for graph attributes."""
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
