"""Network metrics of an opportunity map at a date.

The network at a date t (:mod:`opportunity_map.network`) is the simple undirected
graph whose nodes are the actors active at t and where two actors are tied when at
least one relation between them is active at t; the tie keeps the strongest active
level of collaboration (1-4, PARTNER scale).

For a territory, the nodes are the active actors of that territory and only ties with
both ends in it count; ties with one end outside are reported apart
(``n_cross_territory_ties``). For the whole map (``territory=None``, labelled
``"lombardia"`` in tables) every active actor and every tie counts.

The high-level functions (:func:`network_stats`, :func:`network_table`,
:func:`block_density`, :func:`actor_stats`) take a :class:`~opportunity_map.network.Network`
(``m.network(as_of)``), computed once and shared; the
low-level ones (:func:`density_from_counts`, :func:`degree_centralization`,
:func:`ei_index`, :func:`block_density_from_arrays`, :func:`adjacency_matrix`,
:func:`stats_from_arrays`) are pure functions on numpy arrays, reused by the
bootstrap of :mod:`opportunity_map.evaluation`.
"""

from __future__ import annotations

import logging
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse import csgraph

from .network import REGION, Network
from .schema import GROUPS, LEVELS

__all__ = [
    "MAX_LEVEL",
    "REGION",
    "actor_stats",
    "adjacency_matrix",
    "block_density",
    "block_density_from_arrays",
    "degree_centralization",
    "density_from_counts",
    "ei_expected",
    "ei_index",
    "network_stats",
    "network_table",
    "stats_from_arrays",
]

logger = logging.getLogger(__name__)

#: Strongest level of collaboration: the denominator of the weighted density.
MAX_LEVEL: int = max(LEVELS)

_N_GROUPS = len(GROUPS)


# --------------------------------------------------------------------------------------
# Pure functions on arrays
# --------------------------------------------------------------------------------------


def density_from_counts(n_ties: float, n_nodes: int) -> float:
    """Density of a simple undirected graph from its counts.

    Parameters
    ----------
    n_ties : float
        Number of ties (or, for a weighted density, the sum of tie weights divided by
        the maximum weight).
    n_nodes : int
        Number of nodes n.

    Returns
    -------
    float
        ``n_ties / (n (n - 1) / 2)``; NaN when ``n_nodes < 2``.

    Notes
    -----
    .. math:: D = \\frac{2L}{n(n-1)}

    With fewer than two nodes there is no possible pair, so the density is 0/0 and
    is returned as NaN. networkx returns 0 in that case; here NaN is deliberate: a
    territory with one organisation has no measurable collaboration, which is not
    the same as "no collaboration", and a 0 would make any later change look
    infinite.

    Examples
    --------
    >>> density_from_counts(20, 16)
    0.16666666666666666
    >>> density_from_counts(0, 1)
    nan
    """
    if n_nodes < 2:
        return float("nan")
    return float(n_ties) / (n_nodes * (n_nodes - 1) / 2)


def degree_centralization(degrees: np.ndarray) -> float:
    """Freeman's degree centralization of a simple undirected graph.

    Parameters
    ----------
    degrees : numpy.ndarray
        Degree of every node (isolates included).

    Returns
    -------
    float
        In [0, 1]: 1 for a star, 0 when all degrees are equal (a cycle, a complete
        graph, an empty graph). NaN when there are fewer than three nodes.

    Notes
    -----
    .. math:: C_D = \\frac{\\sum_i (d_{max} - d_i)}{(n-1)(n-2)}

    The denominator is the value of the numerator for a star on n nodes, the most
    centralized graph (Freeman 1979, "Centrality in social networks: conceptual
    clarification", Social Networks 1:215-239). It is zero for n < 3.

    Examples
    --------
    >>> degree_centralization(np.array([3, 1, 1, 1]))
    1.0
    >>> degree_centralization(np.array([2, 2, 2, 2]))
    0.0
    """
    deg = np.asarray(degrees, dtype=np.float64)
    n = deg.size
    if n < 3:
        return float("nan")
    return float((deg.max() - deg).sum() / ((n - 1) * (n - 2)))


def ei_index(group_u: np.ndarray, group_v: np.ndarray) -> float:
    """Krackhardt and Stern's E-I index of a set of ties.

    Parameters
    ----------
    group_u, group_v : numpy.ndarray
        Group code of the two ends of every tie (same length). Ties with a negative
        code at either end (actor of unknown group) are ignored.

    Returns
    -------
    float
        ``(E - I) / (E + I)`` in [-1, 1]: -1 when every tie is inside a group, +1
        when every tie crosses groups; NaN when there is no tie.

    Notes
    -----
    .. math:: EI = \\frac{E - I}{E + I}

    with E the ties between different groups and I the ties within a group
    (Krackhardt and Stern 1988, "Informal networks and organizational crises",
    Social Psychology Quarterly 51(2):123-140). Here the groups are the five of
    :data:`opportunity_map.schema.GROUPS`, so a positive index means that
    collaboration crosses institutional boundaries (CM, ApL, cooperation, firms,
    services), which is what the funded project wants to increase.

    Examples
    --------
    >>> ei_index(np.array([0, 0, 1]), np.array([1, 0, 2]))
    0.3333333333333333
    """
    gu = np.asarray(group_u)
    gv = np.asarray(group_v)
    known = (gu >= 0) & (gv >= 0)
    total = int(known.sum())
    if total == 0:
        return float("nan")
    external = int((gu[known] != gv[known]).sum())
    internal = total - external
    return (external - internal) / total


def ei_expected(sizes: np.ndarray) -> float:
    """Expected E-I index under random mixing, given the group sizes.

    Parameters
    ----------
    sizes : numpy.ndarray
        Number of actors in each group (actors of unknown group left out).

    Returns
    -------
    float
        In [-1, 1]; NaN with fewer than two actors.

    Notes
    -----
    If ties fell on pairs at random, whatever the groups, the share of internal
    ties would be the share of internal pairs. With :math:`n_g` actors in group g
    and :math:`N = \\sum_g n_g`:

    .. math::

        P = \\frac{N(N-1)}{2}, \\qquad I_P = \\sum_g \\frac{n_g(n_g-1)}{2}, \\qquad
        EI_{exp} = \\frac{(P - I_P) - I_P}{P} = 1 - \\frac{2 I_P}{P}

    An observed E-I index above it means more collaboration across groups than
    group sizes alone would give; five equal groups give 0.6 for a large N.

    Examples
    --------
    >>> round(ei_expected(np.array([2, 2])), 4)  # 6 pairs, 2 internal: (4 - 2) / 6
    0.3333
    """
    n_g = np.asarray(sizes, dtype=np.float64)
    total = float(n_g.sum())
    if total < 2:
        return float("nan")
    pairs = total * (total - 1) / 2
    internal = float((n_g * (n_g - 1) / 2).sum())
    return 1 - 2 * internal / pairs


def block_density_from_arrays(
    groups: np.ndarray, u: np.ndarray, v: np.ndarray, *, n_groups: int = _N_GROUPS
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ties and densities between and within groups.

    Parameters
    ----------
    groups : numpy.ndarray
        Group code (0 .. n_groups-1, negative = unknown) of every node.
    u, v : numpy.ndarray
        Node indices of the two ends of every tie (each tie once).
    n_groups : int
        Number of groups.

    Returns
    -------
    ties : numpy.ndarray
        ``n_groups x n_groups`` symmetric integer matrix of tie counts.
    sizes : numpy.ndarray
        Number of nodes of every group.
    density : numpy.ndarray
        ``n_groups x n_groups`` symmetric float matrix of block densities.

    Notes
    -----
    Between two groups r != s: :math:`D_{rs} = L_{rs} / (n_r n_s)`, NaN when one of
    them is empty. Within a group: :math:`D_{rr} = L_{rr} / (n_r (n_r - 1) / 2)`,
    NaN when the group has fewer than two nodes. Nodes of unknown group (negative
    code) and their ties are left out.

    Examples
    --------
    >>> ties, sizes, dens = block_density_from_arrays(
    ...     np.array([0, 0, 1]), np.array([0, 1]), np.array([1, 2]), n_groups=2)
    >>> dens.tolist()
    [[1.0, 0.5], [0.5, nan]]
    """
    groups = np.asarray(groups)
    sizes = np.bincount(groups[groups >= 0], minlength=n_groups)[:n_groups]
    gu = groups[np.asarray(u, dtype=np.int64)]
    gv = groups[np.asarray(v, dtype=np.int64)]
    known = (gu >= 0) & (gv >= 0)
    flat = np.bincount(gu[known] * n_groups + gv[known], minlength=n_groups * n_groups)
    ties = flat.reshape(n_groups, n_groups)
    ties = ties + ties.T - np.diag(np.diag(ties))
    sizes_f = sizes.astype(np.float64)
    possible = np.outer(sizes_f, sizes_f)
    np.fill_diagonal(possible, sizes_f * (sizes_f - 1) / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        density = np.where(possible > 0, ties / np.where(possible > 0, possible, 1), np.nan)
    return ties, sizes, density


def adjacency_matrix(
    u: np.ndarray,
    v: np.ndarray,
    n: int,
    *,
    weights: np.ndarray | None = None,
    upper: bool = False,
) -> sparse.csr_array:
    """Sparse adjacency matrix of a simple undirected graph.

    Parameters
    ----------
    u, v : numpy.ndarray
        Node indices (0 .. n-1) of the two ends of every tie, each tie once, no loops.
    n : int
        Number of nodes.
    weights : numpy.ndarray, optional
        Weight of every tie (the level); 1 when omitted.
    upper : bool
        Return only the upper triangle (each tie once) instead of the symmetric matrix.

    Returns
    -------
    scipy.sparse.csr_array
        ``n x n`` float64 matrix.

    Examples
    --------
    >>> adjacency_matrix(np.array([0]), np.array([2]), 3).toarray().tolist()
    [[0.0, 0.0, 1.0], [0.0, 0.0, 0.0], [1.0, 0.0, 0.0]]
    """
    u = np.asarray(u, dtype=np.int64)
    v = np.asarray(v, dtype=np.int64)
    w = np.ones(u.size) if weights is None else np.asarray(weights, dtype=np.float64)
    lo = np.minimum(u, v)
    hi = np.maximum(u, v)
    if upper:
        return sparse.csr_array((w, (lo, hi)), shape=(n, n))
    rows = np.concatenate([lo, hi])
    cols = np.concatenate([hi, lo])
    return sparse.csr_array((np.concatenate([w, w]), (rows, cols)), shape=(n, n))


def stats_from_arrays(
    n: int,
    u: np.ndarray,
    v: np.ndarray,
    level: np.ndarray,
    groups: np.ndarray,
) -> dict[str, Any]:
    """Whole-network statistics of a simple undirected graph given as arrays.

    Parameters
    ----------
    n : int
        Number of nodes (isolates included).
    u, v : numpy.ndarray
        Node indices of the ends of every tie (each tie once).
    level : numpy.ndarray
        Strongest level (1-4) of every tie.
    groups : numpy.ndarray
        Group code of every node (negative = unknown).

    Returns
    -------
    dict
        ``n_actors, n_ties, density, weighted_density, avg_degree, n_isolates,
        n_components, degree_centralization, e_i_index`` (see :func:`network_stats`).
    """
    u = np.asarray(u, dtype=np.int64)
    v = np.asarray(v, dtype=np.int64)
    n_ties = int(u.size)
    degrees = np.bincount(np.concatenate([u, v]), minlength=n)[:n] if n else np.zeros(0)
    if n:
        n_components = int(csgraph.connected_components(
            adjacency_matrix(u, v, n), directed=False, return_labels=False,
        ))
    else:
        n_components = 0
    groups = np.asarray(groups)
    return {
        "n_actors": int(n),
        "n_ties": n_ties,
        "density": density_from_counts(n_ties, n),
        "weighted_density": density_from_counts(
            float(np.asarray(level, dtype=np.float64).sum()) / MAX_LEVEL, n
        ),
        "avg_degree": 2 * n_ties / n if n else float("nan"),
        "n_isolates": int((degrees == 0).sum()),
        "n_components": n_components,
        "degree_centralization": degree_centralization(degrees),
        "e_i_index": ei_index(groups[u], groups[v]) if n_ties else float("nan"),
    }


# --------------------------------------------------------------------------------------
# Figures of a network at a date
# --------------------------------------------------------------------------------------


def _scope_stats(net: Network, territory: str | None) -> dict[str, Any]:
    if territory is not None:
        territory = net.index.resolve(territory)
    sub = net.territory(territory)
    stats = stats_from_arrays(sub.n_actors, sub.u, sub.v, sub.level,
                              net.index.group[sub.positions])
    return {
        "territory": territory or REGION,
        **stats,
        "n_cross_territory_ties": net.cross_ties(territory),
    }


def network_stats(net: Network, *, territory: str | None = None) -> dict[str, Any]:
    """Statistics of the network of organisations at a date.

    Parameters
    ----------
    net : Network
        The network at a date, from :meth:`OpportunityMap.network
        <opportunity_map.OpportunityMap.network>`.
    territory : str, optional
        A territory slug (``"bergamo"``); ``None`` for the whole map.

    Returns
    -------
    dict
        ``territory`` (the slug, ``"lombardia"`` for the whole map), ``n_actors``,
        ``n_ties``, ``density``, ``weighted_density``, ``avg_degree``, ``n_isolates``,
        ``n_components``, ``degree_centralization``, ``e_i_index`` and
        ``n_cross_territory_ties``.

    Raises
    ------
    UnknownTerritoryError
        If ``territory`` is not a territory of the map.

    Notes
    -----
    With n active actors, L ties (see :mod:`opportunity_map.network`: one per pair of
    organisations) and :math:`\\ell_{ij}` the strongest active level of the tie
    between i and j:

    - density :math:`D = 2L / (n(n-1))`;
    - weighted density :math:`D_w = \\sum_{i<j} \\ell_{ij} / (4 \\cdot n(n-1)/2)`,
      equal to D when every tie is at level 4 (integrazione);
    - average degree :math:`2L/n`;
    - degree centralization (Freeman)
      :math:`\\sum_i (d_{max} - d_i) / ((n-1)(n-2))`, see :func:`degree_centralization`;
    - E-I index on the five groups, :math:`(E - I)/(E + I)`, see :func:`ei_index`;
    - ``n_components`` counts isolates as components (as networkx does);
    - ``n_cross_territory_ties``: for a territory, active ties between one of its
      actors and an active actor outside it, *not* counted in its other figures; for
      the whole map, ties whose ends lie in different territories (counted in the
      figures).

    Edge cases: with n < 2 the density and weighted density are NaN (no possible
    pair; networkx would say 0); with n < 3 the centralization is NaN; with no tie
    the E-I index is NaN; with n = 0 the average degree is NaN.

    Examples
    --------
    >>> m = om.example_map()
    >>> stats = network_stats(m.network("2026-06-30"), territory="bergamo")
    >>> stats["n_actors"], stats["n_ties"], round(stats["density"], 4)
    (5, 4, 0.4)
    """
    return _scope_stats(net, territory)


def network_table(net: Network) -> pd.DataFrame:
    """:func:`network_stats` of every territory and of the whole map, as a table.

    Parameters
    ----------
    net : Network
        The network at a date.

    Returns
    -------
    pandas.DataFrame
        One row per territory (in the order of the map's territories) then the row
        ``lombardia``; the columns of :func:`network_stats`.

    Examples
    --------
    >>> m = om.example_map()
    >>> network_table(m.network("2026-06-30"))[["territory", "n_actors", "n_ties"]]
       territory  n_actors  n_ties
    0    bergamo         5       4
    1      lecco         3       1
    2  lombardia         8       6
    """
    rows = [_scope_stats(net, s) for s in [*net.index.slugs, None]]
    return pd.DataFrame(rows)


def block_density(net: Network, *, territory: str | None = None) -> pd.DataFrame:
    """Density of ties within and between the five groups of actors.

    Parameters
    ----------
    net : Network
        The network at a date.
    territory : str, optional
        A territory slug; ``None`` for the whole map.

    Returns
    -------
    pandas.DataFrame
        5 x 5, index and columns :data:`opportunity_map.schema.GROUPS` (``cm, apl,
        cooperazione, imprese, servizi``), symmetric.

    Raises
    ------
    UnknownTerritoryError
        If ``territory`` is not a territory of the map.

    Notes
    -----
    Between groups r != s: :math:`L_{rs} / (n_r n_s)`; within group r:
    :math:`L_{rr} / (n_r(n_r-1)/2)`, with :math:`n_r` the active actors of group r in
    the territory and :math:`L` the ties among them. A cell is NaN when it is
    undefined: a group with no active actor (its whole row and column), or a
    diagonal cell of a group with a single actor. Cross-territory ties are not
    counted for a territory.

    Examples
    --------
    >>> m = om.example_map()
    >>> float(block_density(m.network("2026-06-30"), territory="bergamo").loc["cm", "cooperazione"])
    1.0
    """
    sub = net.territory(territory)
    _, _, dens = block_density_from_arrays(net.index.group[sub.positions], sub.u, sub.v)
    return pd.DataFrame(dens, index=pd.Index(GROUPS, name="group"), columns=list(GROUPS))


def actor_stats(net: Network, *, territory: str | None = None) -> pd.DataFrame:
    """Degree, weighted degree and betweenness of every active actor.

    Parameters
    ----------
    net : Network
        The network at a date.
    territory : str, optional
        A territory slug; ``None`` for the whole map.

    Returns
    -------
    pandas.DataFrame
        Indexed by actor ``id`` (sorted), columns ``name``, ``group``, ``territory``,
        ``degree`` (number of ties), ``weighted_degree`` (sum of the strongest levels
        of its ties), ``betweenness`` (networkx normalized betweenness centrality,
        ``2 / ((n-1)(n-2))`` times the number of shortest paths through the actor).

    Raises
    ------
    UnknownTerritoryError
        If ``territory`` is not a territory of the map.

    Notes
    -----
    Only ties inside the territory count. Betweenness is exact and costs
    O(n L); on the whole map of tens of thousands of actors it takes minutes.

    Examples
    --------
    >>> m = om.example_map()
    >>> stats = actor_stats(m.network("2026-06-30"), territory="bergamo")
    >>> stats["degree"].to_dict()
    {'BG-01': 2, 'BG-02': 3, 'BG-03': 2, 'BG-04': 1, 'BG-05': 0}
    >>> stats.columns.tolist()[:3]
    ['name', 'group', 'territory']
    """
    sub = net.territory(territory)
    n = sub.n_actors
    ends = np.concatenate([sub.u, sub.v])
    degree = np.bincount(ends, minlength=n)[:n]
    weighted = np.bincount(ends, weights=np.concatenate([sub.level, sub.level]).astype(np.float64),
                           minlength=n)[:n]
    graph = nx.Graph()
    graph.add_nodes_from(range(n))
    graph.add_edges_from(zip(sub.u.tolist(), sub.v.tolist(), strict=True))
    between = nx.betweenness_centrality(graph, normalized=True)
    index = net.index
    slugs = np.array([*index.slugs, None], dtype=object)
    frame = pd.DataFrame(
        {
            "name": index.names_at(sub.positions),
            "group": np.array([*GROUPS, None], dtype=object)[index.group[sub.positions]],
            "territory": slugs[index.territory[sub.positions]],
            "degree": degree.astype(np.int64),
            "weighted_degree": weighted.astype(np.int64),
            "betweenness": np.array([between[i] for i in range(n)], dtype=np.float64),
        },
        index=pd.Index(index.ids[sub.positions], name="id", dtype=object),
    )
    return frame.sort_index()
