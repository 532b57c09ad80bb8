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

from ._time import to_timestamp
from .metrics import (
    MAX_LEVEL,
    REGION,
    _build_index,
    _cross_ties,
    _Index,
    _scope_mask,
    _Snapshot,
    _subnetwork,
    _take_snapshot,
    adjacency_matrix,
    block_density_from_arrays,
    density_from_counts,
)
from .model import OpportunityMap
from .schema import GROUPS

__all__ = [
    "EXTRA_COLUMNS",
    "TABLE_COLUMNS",
    "VERDICTS",
    "Evaluation",
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
        months after it, then ``at``), columns ``territory, semester, date,
        n_actors, ties, density`` (whole network of the territory at that date),
        ``n_panel, ties_panel_baseline, ties_panel, density_panel_baseline,
        density_panel, change_pct`` (panel of the actors active at the baseline and
        at that date).
    replicates : pandas.DataFrame
        The bootstrap replicates: ``territory, replicate, density_baseline,
        density_at, change_pct, weighted_change_pct`` (empty when ``n_boot=0``).
    baseline, at : pandas.Timestamp
        The two dates compared.
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
    at: pd.Timestamp
    target: float
    n_boot: int
    seed: int

    def __repr__(self) -> str:
        return (
            f"<Evaluation {self.baseline.date()} -> {self.at.date()}: "
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


def evaluate(
    m: OpportunityMap,
    *,
    baseline: object,
    at: object,
    target: float = 0.30,
    n_boot: int = 2000,
    seed: int | None = None,
    territories: Sequence[str] | None = None,
) -> Evaluation:
    """Change of network density against the baseline, per territory and for the region.

    Parameters
    ----------
    m : OpportunityMap
        The map.
    baseline : date-like
        The baseline date (``"2026-03-31"``, ``"31/03/2026"``, a ``datetime``...).
    at : date-like
        The date compared with the baseline; must be after it.
    target : float
        Target relative change of density, as a fraction: 0.30 is +30%.
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
        ``n_panel`` (actors active at both dates), ``n_entrants`` (active at ``at``
        and not at the baseline), ``n_exits`` (active at the baseline and not at
        ``at``); ``ties_baseline``, ``ties_at``, ``density_baseline``, ``density_at``
        of the panel; ``change_pct`` (relative change of the panel density, in
        percent: 31.25 means +31.25%); ``ci_low_pct``, ``ci_high_pct`` (95%
        percentile bootstrap interval), ``se_pct`` (bootstrap standard error),
        ``p_no_increase`` (share of replicates where the density did not increase);
        ``target_pct``; ``verdict``; ``target_met_point``; weighted density and
        average degree of the panel at both dates; ``density_full_baseline``,
        ``density_full_at`` (whole network of the territory, entrants and exits
        included); then ``note`` (Italian, empty when there is nothing to say) and
        :data:`EXTRA_COLUMNS`. Densities are not rounded.

    Raises
    ------
    ValueError
        If a date is invalid, ``at`` is not after ``baseline``, ``target`` is not a
        finite number, ``n_boot`` is negative, ``seed`` is negative or a territory
        is unknown.

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

    **Series.** For every date baseline + 6k months before ``at``, and ``at``:
    the whole network of the territory, and the panel of the actors active at the
    baseline and at that date with its change against the baseline.

    Examples
    --------
    >>> ev = evaluate(m, baseline="2026-03-31", at="2028-12-31", seed=1)  # doctest: +SKIP
    >>> ev.table[["territory", "change_pct", "ci_low_pct", "verdict"]]  # doctest: +SKIP
    """
    t0 = to_timestamp(baseline, name="baseline")
    t1 = to_timestamp(at, name="at")
    if t1 <= t0:
        msg = f"at={t1.date()} must be after baseline={t0.date()}"
        raise ValueError(msg)
    if isinstance(target, bool) or not isinstance(target, int | float) or not math.isfinite(
        target
    ):
        msg = f"target must be a finite number (0.30 for +30%), got {target!r}"
        raise ValueError(msg)
    if target > 1:
        logger.warning("target=%r means +%g%%; pass 0.30 for +30%%", target, 100 * target)
    if isinstance(n_boot, bool) or not isinstance(n_boot, int | np.integer) or n_boot < 0:
        msg = f"n_boot must be a non-negative integer, got {n_boot!r}"
        raise ValueError(msg)
    n_boot = int(n_boot)
    if seed is None:
        seed_used = int(np.random.SeedSequence().entropy)  # type: ignore[arg-type]
    elif isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        msg = f"seed must be a non-negative integer or None, got {seed!r}"
        raise ValueError(msg)
    else:
        seed_used = int(seed)
    scopes = _resolve_scopes(m, territories)

    started = time.perf_counter()
    index = _build_index(m)
    snap0 = _take_snapshot(index, m, t0)
    snap1 = _take_snapshot(index, m, t1)
    target_pct = round(100 * float(target), 10)
    names = _territory_names(m)

    rows: list[dict[str, Any]] = []
    blocks: list[pd.DataFrame] = []
    replicates: list[pd.DataFrame] = []
    for scope in scopes:
        row, block, reps = _evaluate_scope(
            index, snap0, snap1, scope, n_boot=n_boot, seed=seed_used, target_pct=target_pct,
        )
        row["territory_name"] = names.get(scope, scope)
        rows.append(row)
        blocks.append(block)
        replicates.append(reps)
    table = pd.DataFrame(rows, columns=[*TABLE_COLUMNS, *EXTRA_COLUMNS])
    table = table.astype({c: "int64" for c in _INT_COLUMNS})
    table["target_met_point"] = table["target_met_point"].astype("boolean")
    series = _semester_series(index, m, snap0, snap1, scopes)
    logger.info(
        "evaluated %d territories, %d replicates each, in %.2f s",
        len(scopes), n_boot, time.perf_counter() - started,
    )
    return Evaluation(
        table=table,
        blocks=_concat(blocks, _BLOCK_COLUMNS),
        series=series,
        replicates=_concat(replicates, _REPLICATE_COLUMNS),
        baseline=t0, at=t1, target=float(target), n_boot=n_boot, seed=seed_used,
    )


def _concat(frames: list[pd.DataFrame], columns: tuple[str, ...]) -> pd.DataFrame:
    """Concatenate the non-empty frames (an empty frame with ``columns`` if none)."""
    frames = [f for f in frames if not f.empty]
    if not frames:
        return pd.DataFrame({c: [] for c in columns})
    return pd.concat(frames, ignore_index=True)


def _resolve_scopes(m: OpportunityMap, territories: Sequence[str] | None) -> list[str]:
    slugs = m.territory_slugs
    if territories is None:
        return [*slugs, REGION]
    if isinstance(territories, str):
        territories = [territories]
    scopes = list(dict.fromkeys(str(t) for t in territories))
    if not scopes:
        msg = "territories: give at least one territory, or None for all"
        raise ValueError(msg)
    unknown = [t for t in scopes if t not in slugs and t != REGION]
    if unknown:
        msg = (
            f"territories: {unknown} not in this map; expected slugs among {slugs} "
            f"or {REGION!r} for the whole map"
        )
        raise ValueError(msg)
    return scopes


def _territory_names(m: OpportunityMap) -> dict[str, str]:
    names = {REGION: "Lombardia"}
    if "name" in m.territories:
        names.update(zip(m.territory_slugs, m.territories["name"].astype(str), strict=True))
    return names


def _rng_for(seed: int, scope: str) -> np.random.Generator:
    """A random stream of its own for every territory, from the seed and its name."""
    return np.random.default_rng([seed, zlib.crc32(scope.encode("utf-8"))])


def _evaluate_scope(
    index: _Index,
    snap0: _Snapshot,
    snap1: _Snapshot,
    scope: str,
    *,
    n_boot: int,
    seed: int,
    target_pct: float,
) -> tuple[dict[str, Any], pd.DataFrame, pd.DataFrame]:
    territory = None if scope == REGION else scope
    in_scope = _scope_mask(index, territory)
    act0 = in_scope & snap0.active
    act1 = in_scope & snap1.active
    panel = act0 & act1
    n = int(panel.sum())

    pos, u0, v0, l0 = _subnetwork(snap0, panel)
    _, u1, v1, l1 = _subnetwork(snap1, panel)
    ties0, ties1 = int(u0.size), int(u1.size)
    wsum0, wsum1 = int(l0.astype(np.int64).sum()), int(l1.astype(np.int64).sum())
    full0 = _subnetwork(snap0, in_scope)
    full1 = _subnetwork(snap1, in_scope)
    n_full0, n_full1 = int(full0[0].size), int(full1[0].size)
    ties_full0, ties_full1 = int(full0[1].size), int(full1[1].size)
    cross0, cross1 = _cross_ties(index, snap0, territory), _cross_ties(index, snap1, territory)

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
                f"{_it_number(d1 - d0, signed=True)} ({ties1} legami nuovi)."
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


def _semester_series(
    index: _Index,
    m: OpportunityMap,
    snap0: _Snapshot,
    snap1: _Snapshot,
    scopes: list[str],
) -> pd.DataFrame:
    rows = []
    dates = _semester_dates(snap0.at, snap1.at)
    for k, date in enumerate(dates):
        if date == snap0.at:
            snap = snap0
        elif date == snap1.at:
            snap = snap1
        else:
            snap = _take_snapshot(index, m, date)
        for scope in scopes:
            in_scope = _scope_mask(index, None if scope == REGION else scope)
            full = _subnetwork(snap, in_scope)
            panel = in_scope & snap0.active & snap.active
            n_panel = int(panel.sum())
            ties_p0 = int(_subnetwork(snap0, panel)[1].size)
            ties_p = int(_subnetwork(snap, panel)[1].size)
            rows.append({
                "territory": scope,
                "semester": k,
                "date": date,
                "n_actors": int(full[0].size),
                "ties": int(full[1].size),
                "density": density_from_counts(full[1].size, full[0].size),
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


def _it_number(value: float, *, signed: bool = False, digits: int = 4) -> str:
    """A number in Italian notation (decimal comma)."""
    text = f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"
    return text.replace(".", ",")
