"""Change of network density against a baseline, with a paired vertex bootstrap.

The funded project's indicator is "+30% network density against the baseline". Two
traps make a naive comparison unfair:

1. density falls when the network grows (possible pairs grow with n²), so recruiting
   new organisations would count against the target;
2. on a small network a change can be noise.

:func:`evaluate` therefore measures the change on the *fixed panel* (the
organisations active at both dates, as in UCINET's paired comparison of densities),
reports how many joined and left and the densities of the whole networks, and
attaches a percentile interval from a paired vertex bootstrap (Snijders and
Borgatti 1999). The verdict against the target follows from the interval.
"""

from __future__ import annotations

import logging
import math
import time
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import sparse

from ._errors import DateOrderError, TargetError, UsageError
from ._format import format_number
from ._time import to_timestamp
from .metrics import (
    MAX_LEVEL,
    adjacency_matrix,
    block_density_from_arrays,
    density_from_counts,
)
from .model import OpportunityMap
from .network import REGION, Network, NetworkIndex, resolve_as_of, scopes_of
from .schema import GROUPS

__all__ = [
    "EXTRA_COLUMNS",
    "TABLE_COLUMNS",
    "TARGET_RANGE",
    "VERDICTS",
    "Evaluation",
    "check_target",
    "evaluate",
    "resample_vertices",
    "vertex_bootstrap",
]

logger = logging.getLogger(__name__)

#: Possible verdicts against the target.
VERDICTS: tuple[str, ...] = ("met", "not_met", "inconclusive", "not_evaluable")

#: The first columns of :attr:`Evaluation.table`, in this order.
TABLE_COLUMNS: tuple[str, ...] = (
    "territory", "n_panel", "n_entrants", "n_exits", "ties_baseline", "ties_at",
    "density_baseline", "density_at", "change_pct", "ci_low_pct", "ci_high_pct", "se_pct",
    "p_no_increase", "target_pct", "verdict", "target_met_point",
    "weighted_density_baseline", "weighted_density_at", "avg_degree_baseline",
    "avg_degree_at", "density_full_baseline", "density_full_at",
)
#: The columns that follow :data:`TABLE_COLUMNS`, in this order.
EXTRA_COLUMNS: tuple[str, ...] = (
    "note", "territory_name", "density_change_abs", "ties_change_pct",
    "avg_degree_change_pct", "weighted_change_pct", "weighted_ci_low_pct",
    "weighted_ci_high_pct", "n_actors_baseline", "n_actors_at", "ties_full_baseline",
    "ties_full_at", "density_full_change_pct", "cross_ties_baseline", "cross_ties_at",
    "n_boot_zero_baseline",
)
_INT_COLUMNS = (
    "n_panel", "n_entrants", "n_exits", "ties_baseline", "ties_at", "n_actors_baseline",
    "n_actors_at", "ties_full_baseline", "ties_full_at", "cross_ties_baseline",
    "cross_ties_at", "n_boot_zero_baseline",
)
_SERIES_COLUMNS: tuple[str, ...] = (
    "territory", "semester", "date", "n_actors", "ties", "density", "n_panel",
    "ties_panel_baseline", "ties_panel", "density_panel_baseline", "density_panel",
    "change_pct",
)
_BLOCK_COLUMNS: tuple[str, ...] = (
    "territory", "group_a", "group_b", "n_a", "n_b", "ties_baseline", "ties_at",
    "density_baseline", "density_at",
)
_REPLICATE_COLUMNS: tuple[str, ...] = (
    "territory", "replicate", "density_baseline", "density_at", "change_pct",
    "weighted_change_pct",
)
#: Elements of the n x batch multiplicity matrix processed at once (about 4 MB).
_BATCH_ELEMENTS = 2**19
_MIN_PANEL = 3


@dataclass(frozen=True)
class Evaluation:
    """Result of :func:`evaluate`.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per territory then ``lombardia`` (whole map); columns
        :data:`TABLE_COLUMNS` then :data:`EXTRA_COLUMNS` (see :func:`evaluate`).
    blocks : pandas.DataFrame
        Block densities of the fixed panel at both dates: one row per territory and
        ordered pair of groups (25 per territory, symmetric), columns ``territory,
        group_a, group_b, n_a, n_b, ties_baseline, ties_at, density_baseline,
        density_at``.
    series : pandas.DataFrame
        Semester time series: one row per territory and date (baseline, every six
        months after it, then ``as_of``), columns ``territory, semester, date,
        n_actors, ties, density`` (whole network of the territory at that date),
        ``n_panel, ties_panel_baseline, ties_panel, density_panel_baseline,
        density_panel, change_pct`` (panel of the actors active at the baseline and
        at that date).
    replicates : pandas.DataFrame
        The bootstrap replicates: ``territory, replicate, density_baseline,
        density_at, change_pct, weighted_change_pct`` (empty when ``n_boot=0``).
    baseline, as_of : pandas.Timestamp
        The two dates compared (the ``*_at`` columns are at ``as_of``).
    target : float
        The target relative change (0.30 = +30%).
    n_boot : int
        Number of bootstrap replicates.
    seed : int
        The seed that reproduces the bootstrap: the one given, or the one drawn when
        ``seed=None`` was passed.
    """

    table: pd.DataFrame
    blocks: pd.DataFrame
    series: pd.DataFrame
    replicates: pd.DataFrame
    baseline: pd.Timestamp
    as_of: pd.Timestamp
    target: float
    n_boot: int
    seed: int

    def __repr__(self) -> str:
        return (
            f"<Evaluation {self.baseline.date()} -> {self.as_of.date()}: "
            f"{len(self.table)} territori, target +{100 * self.target:g}%, "
            f"{self.n_boot} replicati bootstrap, seed {self.seed}>"
        )


# --------------------------------------------------------------------------------------
# Vertex bootstrap on arrays
# --------------------------------------------------------------------------------------


def _batch_size(n: int, n_boot: int) -> int:
    return max(1, min(n_boot, _BATCH_ELEMENTS // max(n, 1)))


def resample_vertices(n: int, n_boot: int, *, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Draw the vertex samples of a vertex bootstrap, in batches.

    Parameters
    ----------
    n : int
        Number of vertices; every replicate draws n of them with replacement.
    n_boot : int
        Number of replicates.
    rng : numpy.random.Generator
        Source of randomness.

    Yields
    ------
    numpy.ndarray
        ``b x n`` int64 arrays of vertex indices, one row per replicate, ``b`` about
        ``2**19 / n`` (a function of n only), until ``n_boot`` rows were yielded.

    Notes
    -----
    The replicates are a deterministic function of the generator state, n and
    ``n_boot``: :func:`vertex_bootstrap` consumes this generator, so a reference
    implementation that iterates it with a generator seeded the same way sees the
    same samples.
    """
    batch = _batch_size(n, n_boot)
    done = 0
    while done < n_boot:
        b = min(batch, n_boot - done)
        yield rng.integers(0, n, size=(b, n))
        done += b


def vertex_bootstrap(
    adjacencies: Sequence[sparse.sparray | sparse.spmatrix],
    *,
    n_boot: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Paired vertex bootstrap of tie sums (Snijders and Borgatti 1999).

    Parameters
    ----------
    adjacencies : sequence of scipy.sparse matrices
        ``n x n`` adjacency matrices on the same vertices (for instance binary and
        weighted, at the baseline and at the later date). Only the strict upper
        triangle is read, so symmetric and upper-triangular matrices give the same
        result.
    n_boot : int
        Number of replicates.
    rng : numpy.random.Generator
        Source of randomness, consumed through :func:`resample_vertices`.

    Returns
    -------
    sums : numpy.ndarray
        ``len(adjacencies) x n_boot``: in replicate b, the sum of
        :math:`A_{i(k) i(l)}` over the pairs of draws k < l whose vertices differ.
    pairs : numpy.ndarray
        ``n_boot``: the number of such pairs, the denominator of the density.

    Notes
    -----
    Replicate b draws n vertices :math:`i(1), \\dots, i(n)` with replacement and
    builds the graph on the n copies whose tie (k, l) is :math:`A_{i(k) i(l)}`. With
    :math:`c_i` the number of copies of vertex i:

    .. math::

        S^* = \\sum_{k<l,\\, i(k) \\ne i(l)} A_{i(k) i(l)} = \\sum_{i<j} c_i c_j A_{ij}
            = c^\\top U c, \\qquad
        P^* = \\sum_{i<j} c_i c_j = \\frac{n^2 - \\sum_i c_i^2}{2}

    with U the strict upper triangle of A, and the replicate density is
    :math:`S^*/P^*`. Pairs of copies of the *same* original vertex ("pseudo
    self-ties", whose tie value was never observed) are excluded from both the
    numerator and the denominator. Snijders and Borgatti (1999, "Non-parametric
    standard errors and tests for network statistics", Connections 22(2):61-70)
    instead fill each of them with a value drawn at random from the observed
    off-diagonal tie values (as the R package snowboot does); the exclusion used
    here is the same estimator without that extra noise, deterministic given the
    draws, and leaves the replicate density centred on the observed one.

    The same draws (the same c) are applied to every matrix, so replicates of
    different waves are paired. Nothing of size n x n is built: every batch of b
    replicates is an ``n x b`` multiplicity matrix C, and
    :math:`S^* = \\mathbf{1}^\\top ((U^\\top C) \\circ C)` is one sparse product.

    Examples
    --------
    >>> a = adjacency_matrix(np.array([0, 1]), np.array([1, 2]), 3)
    >>> sums, pairs = vertex_bootstrap([a], n_boot=4, rng=np.random.default_rng(1))
    >>> sums.shape, pairs.shape
    ((1, 4), (4,))
    """
    if not adjacencies:
        msg = "adjacencies: at least one matrix is required"
        raise ValueError(msg)
    n = adjacencies[0].shape[0]
    for a in adjacencies:
        if a.shape != (n, n):
            msg = f"adjacencies: every matrix must be {n} x {n}, got {a.shape}"
            raise ValueError(msg)
    k = len(adjacencies)
    sums = np.zeros((k, n_boot))
    pairs = np.zeros(n_boot)
    if n_boot <= 0 or n == 0:
        return sums, pairs
    upper_t = sparse.vstack(
        [sparse.triu(a, k=1).T for a in adjacencies], format="csr", dtype=np.float64
    )
    done = 0
    for idx in resample_vertices(n, n_boot, rng=rng):
        b = idx.shape[0]
        flat = (idx * b + np.arange(b)[:, None]).ravel()
        counts = np.bincount(flat, minlength=n * b).reshape(n, b).astype(np.float64)
        projected = (upper_t @ counts).reshape(k, n, b)
        sums[:, done:done + b] = np.einsum("kib,ib->kb", projected, counts)
        pairs[done:done + b] = (n * n - np.einsum("ib,ib->b", counts, counts)) / 2
        done += b
    return sums, pairs


def _relative_change_pct(before: npt.ArrayLike, after: npt.ArrayLike) -> np.ndarray:
    """``100 (after - before) / before``; +inf when only ``after`` is positive, 0 when both 0."""
    before = np.asarray(before, dtype=np.float64)
    after = np.asarray(after, dtype=np.float64)
    out = np.zeros(np.broadcast(before, after).shape)
    pos = before > 0
    np.divide(100 * (after - before), before, out=out, where=pos)
    out[~pos & (after > 0)] = np.inf
    return out


def _verdict(ci_low_pct: float, ci_high_pct: float, target_pct: float) -> str:
    """``met`` if the interval is all at or above the target, ``not_met`` if all below."""
    if ci_low_pct >= target_pct:
        return "met"
    if ci_high_pct < target_pct:
        return "not_met"
    return "inconclusive"


def _percentile(values: np.ndarray, q: float) -> float:
    """Linear-interpolation percentile (numpy's default) that tolerates +inf values."""
    s = np.sort(np.asarray(values, dtype=np.float64))
    h = (s.size - 1) * q
    lo = math.floor(h)
    hi = math.ceil(h)
    frac = h - lo
    if frac == 0 or s[lo] == s[hi]:
        return float(s[lo])
    if math.isinf(s[hi]):
        return math.inf
    return float(s[lo] + frac * (s[hi] - s[lo]))


# --------------------------------------------------------------------------------------
# evaluate
# --------------------------------------------------------------------------------------


#: Plausible targets, as fractions: a density cannot fall by more than 100%, and a
#: target above +500% is almost surely a percentage typed where a fraction is expected.
TARGET_RANGE: tuple[float, float] = (-1.0, 5.0)


def check_target(target: object) -> float:
    """The target as a float fraction, or :class:`~opportunity_map.TargetError`.

    Parameters
    ----------
    target : float
        Target relative change of density as a fraction: 0.30 means +30%.

    Returns
    -------
    float

    Raises
    ------
    TargetError
        If ``target`` is not a finite number in :data:`TARGET_RANGE`.

    Examples
    --------
    >>> check_target(0.30)
    0.3
    >>> check_target(30)
    Traceback (most recent call last):
    ...
    opportunity_map._errors.TargetError: target=30 is a fraction: 0.30 means +30% ...
    """
    if isinstance(target, bool) or not isinstance(target, int | float | np.floating | np.integer):
        msg = f"target must be a number, as a fraction (0.30 means +30%), got {target!r}"
        raise TargetError(target, msg)
    value = float(target)
    if not math.isfinite(value):
        msg = f"target must be a finite number (0.30 means +30%), got {target!r}"
        raise TargetError(target, msg)
    low, high = TARGET_RANGE
    if not low <= value <= high:
        msg = (f"target={target!r} is a fraction: 0.30 means +30% "
               f"({target!r} would mean {100 * value:+g}%)")
        raise TargetError(target, msg)
    return value


def evaluate(
    m: OpportunityMap | NetworkIndex,
    *,
    baseline: object,
    as_of: object = None,
    target: float = 0.30,
    n_boot: int = 2000,
    seed: int | None = None,
    territories: Sequence[str] | None = None,
) -> Evaluation:
    """Change of network density against the baseline, per territory and for the region.

    Parameters
    ----------
    m : OpportunityMap or NetworkIndex
        The map (or its :meth:`~opportunity_map.OpportunityMap.network_index`, so that
        the networks at both dates are computed once and shared with the maps).
    baseline : date-like
        The baseline date (``"2026-03-31"``, ``"31/03/2026"``, a ``datetime``...).
    as_of : date-like, optional
        The date compared with the baseline; must be after it. ``None`` is today.
    target : float
        Target relative change of density, as a fraction: 0.30 is +30%; a value
        outside :data:`TARGET_RANGE` (such as 30) raises :class:`TargetError`.
    n_boot : int
        Bootstrap replicates (0 for a quick point estimate without interval).
    seed : int, optional
        Seed of the bootstrap; ``None`` draws one and records it in
        :attr:`Evaluation.seed`.
    territories : sequence of str, optional
        Territory slugs to evaluate, ``"lombardia"`` meaning the whole map. ``None``
        evaluates every territory of the map then the whole map.

    Returns
    -------
    Evaluation
        ``table`` has one row per territory with, in order: ``territory``;
        ``n_panel`` (actors active at both dates), ``n_entrants`` (active at
        ``as_of`` and not at the baseline), ``n_exits`` (active at the baseline and
        not at ``as_of``); ``ties_baseline``, ``ties_at``, ``density_baseline``,
        ``density_at`` of the panel (the ``*_at`` columns are at ``as_of``);
        ``change_pct`` (relative change of the panel density, in percent: 31.25
        means +31.25%); ``ci_low_pct``, ``ci_high_pct`` (95%
        percentile bootstrap interval), ``se_pct`` (bootstrap standard error),
        ``p_no_increase`` (share of replicates where the density did not increase);
        ``target_pct``; ``verdict``; ``target_met_point``; weighted density and
        average degree of the panel at both dates; ``density_full_baseline``,
        ``density_full_at`` (whole network of the territory, entrants and exits
        included); then ``note`` (Italian, empty when there is nothing to say) and
        :data:`EXTRA_COLUMNS`. Densities are not rounded.

    Raises
    ------
    DateOrderError
        If ``as_of`` is not after ``baseline``.
    TargetError
        If ``target`` is not a plausible fraction (see :func:`check_target`).
    UnknownTerritoryError
        If a territory is not one of the map.
    UsageError
        If ``n_boot`` or ``seed`` is negative or not an integer.
    ValueError
        If a date is invalid.

    Notes
    -----
    **Fixed panel.** With P the actors of the territory active at both dates and
    :math:`L_t` the ties among them at t, the headline is

    .. math:: \\Delta\\% = 100 \\, \\frac{D_{at} - D_{base}}{D_{base}}
              = 100 \\, \\frac{L_{at} - L_{base}}{L_{base}}

    since both densities share the denominator :math:`|P|(|P|-1)/2`; on the panel
    the relative changes of density, ties and average degree coincide. The weighted
    density uses the strongest level of each tie (see
    :func:`opportunity_map.metrics.network_stats`). Ties with one end outside the
    territory are not counted (reported in ``cross_ties_*``); the ``lombardia`` row
    counts every tie.

    **Bootstrap.** ``n_boot`` replicates of the vertex bootstrap of Snijders and
    Borgatti (1999), *paired*: each replicate draws |P| actors of the panel with
    replacement and applies the same draws to the baseline and to the later
    network (see :func:`vertex_bootstrap` for the pseudo self-ties). The interval is
    the 2.5 and 97.5 percentiles (linear interpolation) of the replicate relative
    changes; ``se_pct`` their standard deviation (ddof=1); ``p_no_increase`` the
    share of replicates with :math:`L^*_{at} \\le L^*_{base}`. A replicate whose
    resampled baseline has no tie has an infinite relative change (0 when the later
    network has no tie either); their number is ``n_boot_zero_baseline``, and then
    ``se_pct`` is NaN and ``ci_high_pct`` may be infinite. Each territory has its own
    random stream, ``numpy.random.default_rng([seed, zlib.crc32(label.encode())])``
    with ``label`` its slug (or ``"lombardia"``), consumed by
    :func:`resample_vertices` over the panel in the order of ``m.actors``: a
    territory's figures do not depend on which other territories are evaluated, and
    can be reproduced outside this library.

    **Verdict.** ``met`` when ``ci_low_pct >= target_pct``, ``not_met`` when
    ``ci_high_pct < target_pct``, ``inconclusive`` otherwise; ``target_met_point``
    is ``change_pct >= target_pct``. With ``n_boot=0`` the interval columns are NaN
    and the verdict is ``inconclusive`` (only the point estimate is known: read
    ``target_met_point``). ``not_evaluable`` (with an Italian ``note``, never a bare
    NaN) when the change is undefined: empty panel, fewer than three actors in the
    panel, or no tie in the panel at the baseline (``density_change_abs`` then gives
    the absolute change). ``target_pct`` is ``100 * target`` rounded to 10 decimals.

    **Series.** For every date baseline + 6k months before ``as_of``, and ``as_of``:
    the whole network of the territory, and the panel of the actors active at the
    baseline and at that date with its change against the baseline.

    Examples
    --------
    >>> m = om.example_map()
    >>> ev = evaluate(m, baseline="2026-06-30", as_of="2027-12-31", n_boot=500, seed=1)
    >>> ev
    <Evaluation 2026-06-30 -> 2027-12-31: 3 territori, target +30%, 500 replicati bootstrap, seed 1>
    >>> ev.table[["territory", "n_panel", "change_pct", "verdict"]]
       territory  n_panel  change_pct        verdict
    0    bergamo        5        50.0   inconclusive
    1      lecco        2         NaN  not_evaluable
    2  lombardia        7        40.0   inconclusive
    """
    t0 = to_timestamp(baseline, name="baseline")
    t1 = resolve_as_of(as_of)
    if t1 <= t0:
        raise DateOrderError("baseline", t0.date(), "as_of", t1.date())
    target_value = check_target(target)
    if isinstance(n_boot, bool) or not isinstance(n_boot, int | np.integer) or n_boot < 0:
        msg = f"n_boot must be a non-negative integer, got {n_boot!r}"
        raise UsageError(msg, param="n_boot")
    n_boot = int(n_boot)
    if seed is None:
        seed_used = int(np.random.SeedSequence().entropy)  # type: ignore[arg-type]
    elif isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        msg = f"seed must be a non-negative integer or None, got {seed!r}"
        raise UsageError(msg, param="seed")
    else:
        seed_used = int(seed)
    index = m.network_index() if isinstance(m, OpportunityMap) else m
    scopes = scopes_of(index, territories)

    started = time.perf_counter()
    net0, net1 = index.at(t0), index.at(t1)
    target_pct = round(100 * target_value, 10)

    rows: list[dict[str, Any]] = []
    blocks: list[pd.DataFrame] = []
    replicates: list[pd.DataFrame] = []
    for scope in scopes:
        row, block, reps = _evaluate_scope(
            net0, net1, scope, n_boot=n_boot, seed=seed_used, target_pct=target_pct,
        )
        row["territory_name"] = index.name_of(scope)
        rows.append(row)
        blocks.append(block)
        replicates.append(reps)
    table = pd.DataFrame(rows, columns=[*TABLE_COLUMNS, *EXTRA_COLUMNS])
    table = table.astype({c: "int64" for c in _INT_COLUMNS})
    table["target_met_point"] = table["target_met_point"].astype("boolean")
    series = _semester_series(net0, net1, scopes)
    logger.info(
        "evaluated %d territories, %d replicates each, in %.2f s",
        len(scopes), n_boot, time.perf_counter() - started,
    )
    return Evaluation(
        table=table,
        blocks=_concat(blocks, _BLOCK_COLUMNS),
        series=series,
        replicates=_concat(replicates, _REPLICATE_COLUMNS),
        baseline=t0, as_of=t1, target=target_value, n_boot=n_boot, seed=seed_used,
    )


def _concat(frames: list[pd.DataFrame], columns: tuple[str, ...]) -> pd.DataFrame:
    """Concatenate the non-empty frames (an empty frame with ``columns`` if none)."""
    frames = [f for f in frames if not f.empty]
    if not frames:
        return pd.DataFrame({c: [] for c in columns})
    return pd.concat(frames, ignore_index=True)


def _rng_for(seed: int, scope: str) -> np.random.Generator:
    """A random stream of its own for every territory, from the seed and its name."""
    return np.random.default_rng([seed, zlib.crc32(scope.encode("utf-8"))])


def _evaluate_scope(
    net0: Network,
    net1: Network,
    scope: str,
    *,
    n_boot: int,
    seed: int,
    target_pct: float,
) -> tuple[dict[str, Any], pd.DataFrame, pd.DataFrame]:
    index = net0.index
    territory = None if scope == REGION else scope
    in_scope = index.scope_mask(territory)
    act0 = in_scope & net0.active_actors
    act1 = in_scope & net1.active_actors
    panel = act0 & act1
    n = int(panel.sum())

    sub0, sub1 = net0.subnetwork(panel), net1.subnetwork(panel)
    pos = sub0.positions
    u0, v0, l0 = sub0.u, sub0.v, sub0.level
    u1, v1, l1 = sub1.u, sub1.v, sub1.level
    ties0, ties1 = sub0.n_ties, sub1.n_ties
    wsum0, wsum1 = int(l0.astype(np.int64).sum()), int(l1.astype(np.int64).sum())
    full0, full1 = net0.subnetwork(in_scope), net1.subnetwork(in_scope)
    n_full0, n_full1 = full0.n_actors, full1.n_actors
    ties_full0, ties_full1 = full0.n_ties, full1.n_ties
    cross0, cross1 = net0.cross_ties(territory), net1.cross_ties(territory)

    d0, d1 = density_from_counts(ties0, n), density_from_counts(ties1, n)
    dfull0 = density_from_counts(ties_full0, n_full0)
    dfull1 = density_from_counts(ties_full1, n_full1)
    evaluable = n >= _MIN_PANEL and ties0 > 0
    change = float(_relative_change_pct(ties0, ties1)) if evaluable else math.nan
    w_change = float(_relative_change_pct(wsum0, wsum1)) if evaluable else math.nan
    notes: list[str] = []
    if n == 0:
        notes.append(
            "Panel vuoto: nessun attore è attivo sia alla baseline sia alla data di "
            "confronto, la variazione non è valutabile."
        )
    elif n < _MIN_PANEL:
        who = "un solo attore" if n == 1 else f"{n} attori"
        notes.append(
            f"Panel di {who} (meno di {_MIN_PANEL}): la densità non è significativa e la "
            "variazione non è valutabile."
        )
    elif ties0 == 0:
        if ties1 == 0:
            notes.append(
                "Nessun legame tra gli attori del panel né alla baseline né alla data di "
                "confronto: variazione percentuale non definita (variazione assoluta 0)."
            )
        else:
            notes.append(
                "Nessun legame tra gli attori del panel alla baseline: la variazione "
                "percentuale non è definita; variazione assoluta della densità "
                f"{format_number(d1 - d0, 4, signed=True)} ({ties1} legami nuovi)."
            )

    ci_low = ci_high = se = p_no_inc = w_low = w_high = math.nan
    n_zero = 0
    reps = pd.DataFrame({c: [] for c in _REPLICATE_COLUMNS})
    if evaluable and n_boot > 0:
        mats = [
            adjacency_matrix(u0, v0, n, upper=True),
            adjacency_matrix(u1, v1, n, upper=True),
            adjacency_matrix(u0, v0, n, weights=l0, upper=True),
            adjacency_matrix(u1, v1, n, weights=l1, upper=True),
        ]
        sums, pairs = vertex_bootstrap(mats, n_boot=n_boot, rng=_rng_for(seed, scope))
        rel = _relative_change_pct(sums[0], sums[1])
        w_rel = _relative_change_pct(sums[2], sums[3])
        ci_low, ci_high = _percentile(rel, 0.025), _percentile(rel, 0.975)
        w_low, w_high = _percentile(w_rel, 0.025), _percentile(w_rel, 0.975)
        n_zero = int((sums[0] == 0).sum())
        se = float(np.std(rel, ddof=1)) if n_zero == 0 and n_boot > 1 else math.nan
        p_no_inc = float(np.mean(sums[1] <= sums[0]))
        with np.errstate(divide="ignore", invalid="ignore"):
            reps = pd.DataFrame({
                "territory": scope,
                "replicate": np.arange(n_boot),
                "density_baseline": np.where(pairs > 0, sums[0] / pairs, np.nan),
                "density_at": np.where(pairs > 0, sums[1] / pairs, np.nan),
                "change_pct": rel,
                "weighted_change_pct": w_rel,
            })
        if n_zero:
            notes.append(
                f"In {n_zero} replicati bootstrap su {n_boot} la rete di baseline "
                "ricampionata non ha legami (variazione infinita): errore standard non "
                "calcolato, estremo superiore dell'intervallo forse illimitato."
            )

    if not evaluable:
        verdict = "not_evaluable"
        met_point: bool | None = None
    else:
        met_point = change >= target_pct
        if n_boot == 0:
            verdict = "inconclusive"
            notes.append(
                "Bootstrap non eseguito (n_boot=0): manca l'intervallo, l'esito resta "
                "'inconclusive'; la stima puntuale è in target_met_point."
            )
        else:
            verdict = _verdict(ci_low, ci_high, target_pct)

    row: dict[str, Any] = {
        "territory": scope,
        "n_panel": n,
        "n_entrants": int((act1 & ~act0).sum()),
        "n_exits": int((act0 & ~act1).sum()),
        "ties_baseline": ties0,
        "ties_at": ties1,
        "density_baseline": d0,
        "density_at": d1,
        "change_pct": change,
        "ci_low_pct": ci_low,
        "ci_high_pct": ci_high,
        "se_pct": se,
        "p_no_increase": p_no_inc,
        "target_pct": target_pct,
        "verdict": verdict,
        "target_met_point": met_point,
        "weighted_density_baseline": density_from_counts(wsum0 / MAX_LEVEL, n),
        "weighted_density_at": density_from_counts(wsum1 / MAX_LEVEL, n),
        "avg_degree_baseline": 2 * ties0 / n if n else math.nan,
        "avg_degree_at": 2 * ties1 / n if n else math.nan,
        "density_full_baseline": dfull0,
        "density_full_at": dfull1,
        "note": " ".join(notes),
        "density_change_abs": d1 - d0,
        "ties_change_pct": change,
        "avg_degree_change_pct": change,
        "weighted_change_pct": w_change,
        "weighted_ci_low_pct": w_low,
        "weighted_ci_high_pct": w_high,
        "n_actors_baseline": n_full0,
        "n_actors_at": n_full1,
        "ties_full_baseline": ties_full0,
        "ties_full_at": ties_full1,
        "density_full_change_pct": (
            100 * (dfull1 - dfull0) / dfull0 if dfull0 > 0 else math.nan
        ),
        "cross_ties_baseline": cross0,
        "cross_ties_at": cross1,
        "n_boot_zero_baseline": n_zero,
    }

    groups = index.group[pos]
    bt0, sizes, bd0 = block_density_from_arrays(groups, u0, v0)
    bt1, _, bd1 = block_density_from_arrays(groups, u1, v1)
    grid_a, grid_b = np.meshgrid(np.arange(len(GROUPS)), np.arange(len(GROUPS)), indexing="ij")
    ga, gb = grid_a.ravel(), grid_b.ravel()
    block = pd.DataFrame({
        "territory": scope,
        "group_a": np.asarray(GROUPS, dtype=object)[ga],
        "group_b": np.asarray(GROUPS, dtype=object)[gb],
        "n_a": sizes[ga].astype(np.int64),
        "n_b": sizes[gb].astype(np.int64),
        "ties_baseline": bt0.ravel().astype(np.int64),
        "ties_at": bt1.ravel().astype(np.int64),
        "density_baseline": bd0.ravel(),
        "density_at": bd1.ravel(),
    }, columns=list(_BLOCK_COLUMNS))
    return row, block, reps


def _semester_dates(t0: pd.Timestamp, t1: pd.Timestamp) -> list[pd.Timestamp]:
    dates = []
    k = 0
    while (d := t0 + pd.DateOffset(months=6 * k)) < t1:
        dates.append(pd.Timestamp(d))
        k += 1
    return [*dates, t1]


def _semester_series(net0: Network, net1: Network, scopes: list[str]) -> pd.DataFrame:
    index = net0.index
    rows = []
    dates = _semester_dates(net0.as_of, net1.as_of)
    for k, date in enumerate(dates):
        net = index.at(date)
        for scope in scopes:
            in_scope = index.scope_mask(None if scope == REGION else scope)
            full = net.subnetwork(in_scope)
            panel = in_scope & net0.active_actors & net.active_actors
            n_panel = int(panel.sum())
            ties_p0 = net0.subnetwork(panel).n_ties
            ties_p = net.subnetwork(panel).n_ties
            rows.append({
                "territory": scope,
                "semester": k,
                "date": date,
                "n_actors": full.n_actors,
                "ties": full.n_ties,
                "density": density_from_counts(full.n_ties, full.n_actors),
                "n_panel": n_panel,
                "ties_panel_baseline": ties_p0,
                "ties_panel": ties_p,
                "density_panel_baseline": density_from_counts(ties_p0, n_panel),
                "density_panel": density_from_counts(ties_p, n_panel),
                "change_pct": (
                    float(_relative_change_pct(ties_p0, ties_p)) if ties_p0 > 0 else math.nan
                ),
            })
    series = pd.DataFrame(rows, columns=list(_SERIES_COLUMNS))
    return series.sort_values(["territory", "semester"], key=_scope_order(scopes)).reset_index(
        drop=True
    )


def _scope_order(scopes: list[str]) -> Any:
    order = {s: i for i, s in enumerate(scopes)}

    def key(col: pd.Series) -> pd.Series:
        return col.map(order) if col.name == "territory" else col

    return key
