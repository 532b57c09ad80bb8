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
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import sparse

from ._errors import DateOrderError, TargetError, UsageError
from ._format import MISSING, format_number
from ._time import to_timestamp
from .metrics import (
    MAX_LEVEL,
    adjacency_matrix,
    block_density_from_arrays,
    density_from_counts,
    ei_expected,
    ei_index,
)
from .model import OpportunityMap
from .network import REGION, Network, NetworkIndex, resolve_as_of, scopes_of
from .schema import GROUPS

__all__ = [
    "DEFAULT_MIN_TIES",
    "EXTRA_COLUMNS",
    "EXTRA_COLUMN_LEGEND",
    "INTERVAL_METHODS",
    "TABLE_COLUMNS",
    "TARGET_RANGE",
    "TERRITORY_RULES",
    "VERDICTS",
    "Evaluation",
    "Interval",
    "check_target",
    "evaluate",
    "holm",
    "jackknife_interval",
    "percentile_interval",
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
    # small networks, intervals, multiplicity (issue 13)
    "n_boot_undefined", "ci_unbounded", "interval_method", "min_ties",
    "reason_not_evaluable", "alt_interval_method", "alt_ci_low_pct", "alt_ci_high_pct",
    "alt_ci_unbounded", "p_below_target", "verdict_adjusted",
    # sensitivity beside the headline
    "n_cohort", "ties_cohort_baseline", "ties_cohort_at", "change_cohort_pct",
    "cohort_ci_low_pct", "cohort_ci_high_pct", "change_network_pct", "network_ci_low_pct",
    "network_ci_high_pct", "ties_no_level1_baseline", "ties_no_level1_at",
    "change_no_level1_pct", "no_level1_ci_low_pct", "no_level1_ci_high_pct",
    "ei_baseline", "ei_at", "ei_expected", "sensitivity_note",
    # power (filled when asked)
    "mde_pct",
)
#: Italian meaning of the columns added for issue 13 (for the report's legend sheet).
EXTRA_COLUMN_LEGEND: dict[str, str] = {
    "n_boot_undefined": "Replicati bootstrap non definiti (nessun legame a entrambe le date): "
                        "esclusi dall'intervallo",
    "ci_unbounded": "L'intervallo non ha estremo superiore (illimitato)",
    "interval_method": "Metodo dell'intervallo dell'esito (bootstrap o jackknife)",
    "min_ties": "Legami minimi nel panel alla baseline per dare un esito",
    "reason_not_evaluable": "Perché l'esito non è valutabile",
    "alt_interval_method": "Metodo del secondo intervallo",
    "alt_ci_low_pct": "Estremo inferiore del secondo intervallo al 95% (%)",
    "alt_ci_high_pct": "Estremo superiore del secondo intervallo al 95% (%)",
    "alt_ci_unbounded": "Il secondo intervallo non ha estremo superiore",
    "p_below_target": "Probabilità unilaterale che la variazione sia sotto l'obiettivo",
    "verdict_adjusted": "Esito secondo la regola tra territori (es. correzione di Holm)",
    "n_cohort": "Organizzazioni attive alla baseline (coorte, uscite comprese)",
    "ties_cohort_baseline": "Legami della coorte alla baseline",
    "ties_cohort_at": "Legami tra le organizzazioni della coorte ancora attive alla data "
                      "di confronto",
    "change_cohort_pct": "Variazione % della coorte di baseline (uscite contate come perdite)",
    "cohort_ci_low_pct": "Estremo inferiore dell'intervallo al 95% della coorte (%)",
    "cohort_ci_high_pct": "Estremo superiore dell'intervallo al 95% della coorte (%)",
    "change_network_pct": "Variazione % della densità della rete completa",
    "network_ci_low_pct": "Estremo inferiore dell'intervallo al 95% della rete completa (%)",
    "network_ci_high_pct": "Estremo superiore dell'intervallo al 95% della rete completa (%)",
    "ties_no_level1_baseline": "Legami del panel di livello almeno 2 alla baseline",
    "ties_no_level1_at": "Legami del panel di livello almeno 2 alla data di confronto",
    "change_no_level1_pct": "Variazione % del panel senza legami di sola conoscenza (livello 1)",
    "no_level1_ci_low_pct": "Estremo inferiore dell'intervallo al 95% senza livello 1 (%)",
    "no_level1_ci_high_pct": "Estremo superiore dell'intervallo al 95% senza livello 1 (%)",
    "ei_baseline": "Indice E-I del panel alla baseline",
    "ei_at": "Indice E-I del panel alla data di confronto",
    "ei_expected": "Indice E-I atteso con legami casuali, date le dimensioni dei gruppi",
    "sensitivity_note": "Quali righe di sensibilità concordano con la stima principale",
    "mde_pct": "Variazione minima rilevabile (80% di probabilità di esito raggiunto, %)",
}
_INT_COLUMNS = (
    "n_panel", "n_entrants", "n_exits", "ties_baseline", "ties_at", "n_actors_baseline",
    "n_actors_at", "ties_full_baseline", "ties_full_at", "cross_ties_baseline",
    "cross_ties_at", "n_boot_zero_baseline", "n_boot_undefined", "min_ties", "n_cohort",
    "ties_cohort_baseline", "ties_cohort_at", "ties_no_level1_baseline", "ties_no_level1_at",
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
#: Default minimum number of ties among the panel at the baseline for a verdict.
DEFAULT_MIN_TIES = 20
#: Interval methods: the paired vertex bootstrap (default) and the jackknife.
INTERVAL_METHODS: tuple[str, ...] = ("bootstrap", "jackknife")
#: Rules across territories: territories secondary (unadjusted) or Holm-adjusted.
TERRITORY_RULES: tuple[str, ...] = ("secondary", "holm")
#: One-sided level matching the lower bound of a two-sided 95% interval.
_ALPHA_ONE_SIDED = 0.025
_Z975 = 1.959963984540054


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
    min_ties : int
        Minimum number of panel ties at the baseline for a verdict.
    interval : {"bootstrap", "jackknife"}
        The method of ``ci_low_pct``/``ci_high_pct`` (the other one is in ``alt_*``).
    territory_rule : {"secondary", "holm"}
        The rule across territories that gives ``verdict_adjusted``.
    rule_text : str
        That rule as an Italian sentence, for the report.
    plan : EvaluationPlan or None
        The evaluation plan used (:func:`opportunity_map.plan.load_plan`), if any.
    overrides : dict
        Parameter name -> ``(value in the plan, value used)`` for every plan value
        overridden by an explicit argument (empty without a plan).
    power : Power or None
        The power analysis (:func:`opportunity_map.power.power`) when asked
        (``evaluate(..., power=True)``); its ``mde_pct`` is in the table.
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
    min_ties: int = DEFAULT_MIN_TIES
    interval: str = "bootstrap"
    territory_rule: str = "secondary"
    rule_text: str = ""
    plan: Any = None
    overrides: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    power: Any = None

    def __repr__(self) -> str:
        """One line: the dates, the target, the bootstrap and the verdicts.

        The verdicts are those the report shows (:func:`shown_verdict
        <opportunity_map.report.shown_verdict>`), counted over the rows of the table.
        """
        from .report import shown_verdict  # the report imports this module

        verdicts: dict[str, int] = {}
        for _, record in self.table.iterrows():
            code = shown_verdict(record)
            verdicts[code] = verdicts.get(code, 0) + 1
        told = ", ".join(f"{code} {n}" for code, n in verdicts.items())
        return (
            f"<Evaluation {self.baseline.date()} -> {self.as_of.date()}: "
            f"{len(self.table)} territories, target +{100 * self.target:g}%, "
            f"{self.n_boot} bootstrap replicates, seed {self.seed}"
            + (f"; verdicts: {told}" if told else "") + ">"
        )

    def _repr_html_(self) -> str:
        """The notebook display: the headline table with the report's verdict labels.

        The change and the interval are formatted as in the report (an interval with
        no upper bound says ``illimitato``, never a number), and the caveat follows.
        """
        from markupsafe import Markup

        from ._html import escape_html, templates
        from .report import INTERVAL_CAVEAT, UNBOUNDED, change_figures, verdict_rule

        def _percent(text: str) -> str:
            return text if text in (MISSING, UNBOUNDED) else f"{text}%"

        rows = []
        for _, record in self.table.iterrows():
            figures = change_figures(record)
            name = record.get("territory_name")
            shown_name = str(name) if isinstance(name, str) and name else str(record["territory"])
            low, high = figures["ci_low_pct"], figures["ci_high_pct"]
            rows.append({
                "name": Markup(escape_html(shown_name)), "n_panel": figures["n_panel"],
                "density_baseline": figures["density_baseline"],
                "density_as_of": figures["density_as_of"],
                "change": _percent(figures["change_pct"]),
                "interval": (f"[{_percent(low)}, {_percent(high)}]" if figures["interval"]
                             else MISSING),
                "verdict": figures["verdict"], "verdict_label": figures["verdict_label"],
            })
        return templates().get_template("repr_evaluation.html.j2").render(
            baseline=self.baseline.date(), as_of=self.as_of.date(),
            target=f"{100 * self.target:g}", n_boot=self.n_boot, seed=self.seed,
            interval=self.interval, rows=rows, caveat=INTERVAL_CAVEAT,
            rule=verdict_rule(100 * self.target))


# --------------------------------------------------------------------------------------
# Vertex bootstrap on arrays
# --------------------------------------------------------------------------------------


def _batch_size(n: int, n_boot: int) -> int:
    return max(1, min(n_boot, _BATCH_ELEMENTS // max(n, 1)))


def resample_vertices(
    n: int,
    n_boot: int,
    *,
    rng: np.random.Generator,
    strata: np.ndarray | None = None,
) -> Iterator[np.ndarray]:
    """Draw the vertex samples of a vertex bootstrap, in batches.

    Parameters
    ----------
    n : int
        Number of vertices; every replicate draws n of them with replacement.
    n_boot : int
        Number of replicates.
    rng : numpy.random.Generator
        Source of randomness.
    strata : numpy.ndarray, optional
        Stratum code of every vertex (length n). When given, every replicate draws,
        in each stratum of :math:`n_s` vertices, :math:`n_s` of them with
        replacement (strata in increasing code order, vertices of a stratum in
        increasing position), so every replicate has as many vertices in each
        stratum as the sample.

    Yields
    ------
    numpy.ndarray
        ``b x n`` int64 arrays of vertex indices, one row per replicate, ``b`` about
        ``2**19 / n`` (a function of n only), until ``n_boot`` rows were yielded.

    Notes
    -----
    The replicates are a deterministic function of the generator state, n,
    ``n_boot`` and the strata: :func:`vertex_bootstrap` consumes this generator, so
    a reference implementation that iterates it with a generator seeded the same
    way sees the same samples. Without strata a batch is one call
    ``rng.integers(0, n, size=(b, n))``; with strata one call
    ``rng.integers(0, n_s, size=(b, n_s))`` per stratum, in code order.
    """
    batch = _batch_size(n, n_boot)
    members: list[np.ndarray] = []
    if strata is not None:
        codes = np.asarray(strata)
        if codes.shape != (n,):
            msg = f"strata must have one code per vertex ({n}), got shape {codes.shape}"
            raise ValueError(msg)
        members = [np.flatnonzero(codes == c) for c in np.unique(codes)]
    done = 0
    while done < n_boot:
        b = min(batch, n_boot - done)
        if strata is None:
            yield rng.integers(0, n, size=(b, n))
        else:
            idx = np.empty((b, n), dtype=np.int64)
            start = 0
            for mem in members:
                draw = rng.integers(0, mem.size, size=(b, mem.size))
                idx[:, start:start + mem.size] = mem[draw]
                start += mem.size
            yield idx
        done += b


def vertex_bootstrap(
    adjacencies: Sequence[sparse.sparray | sparse.spmatrix],
    *,
    n_boot: int,
    rng: np.random.Generator,
    strata: np.ndarray | None = None,
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
    strata : numpy.ndarray, optional
        Stratum of every vertex: resample within each stratum (see
        :func:`resample_vertices`); the region is stratified by territory.

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
    sums, pairs, _ = _bootstrap(adjacencies, n_boot=n_boot, rng=rng, strata=strata)
    return sums, pairs


def _bootstrap(
    adjacencies: Sequence[sparse.sparray | sparse.spmatrix],
    *,
    n_boot: int,
    rng: np.random.Generator,
    strata: np.ndarray | None = None,
    masks: Sequence[np.ndarray] = (),
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`vertex_bootstrap`, plus the pairs among the copies of each vertex mask.

    ``mask_pairs[k, b]`` is :math:`((\\sum_{i \\in M_k} c_i)^2 - \\sum_{i \\in M_k}
    c_i^2)/2`, the number of pairs of distinct vertices among the copies of the
    vertices of mask k (the denominator of a density on a subset, e.g. the actors
    active at one date among the union of both dates).
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
    mask_pairs = np.zeros((len(masks), n_boot))
    if n_boot <= 0 or n == 0:
        return sums, pairs, mask_pairs
    mask_arr = np.asarray(masks, dtype=np.float64).reshape(len(masks), n)
    upper_t = sparse.vstack(
        [sparse.triu(a, k=1).T for a in adjacencies], format="csr", dtype=np.float64
    )
    done = 0
    for idx in resample_vertices(n, n_boot, rng=rng, strata=strata):
        b = idx.shape[0]
        flat = (idx * b + np.arange(b)[:, None]).ravel()
        counts = np.bincount(flat, minlength=n * b).reshape(n, b).astype(np.float64)
        projected = (upper_t @ counts).reshape(k, n, b)
        sums[:, done:done + b] = np.einsum("kib,ib->kb", projected, counts)
        pairs[done:done + b] = (n * n - np.einsum("ib,ib->b", counts, counts)) / 2
        if len(masks):
            tot = mask_arr @ counts
            sq = mask_arr @ (counts * counts)
            mask_pairs[:, done:done + b] = (tot * tot - sq) / 2
        done += b
    return sums, pairs, mask_pairs


@dataclass(frozen=True)
class Interval:
    """A 95% interval for a relative change, in percent, and how it was obtained.

    Attributes
    ----------
    low, high : float
        Bounds in percent (31.25 = +31.25%); ``high`` is ``inf`` when the interval
        has no upper bound, NaN when nothing is defined.
    se : float
        Standard error in percentage points (NaN when not finite).
    unbounded : bool
        True when the upper bound is not a number (``inf`` or undefined while the
        lower one is known): never show it as a number.
    n_undefined : int
        Replicates left out because they are undefined (no tie at either date).
    method : str
        ``"bootstrap"`` or ``"jackknife"``.
    p_below_target : float
        One-sided p-value of "the change is below the target" (share of defined
        replicates below it for the bootstrap, normal on the log ratio for the
        jackknife); NaN when unknown.
    """

    low: float
    high: float
    se: float
    unbounded: bool
    n_undefined: int
    method: str
    p_below_target: float = math.nan


_NO_INTERVAL = Interval(math.nan, math.nan, math.nan, False, 0, "bootstrap")


def percentile_interval(rel: np.ndarray, *, target_pct: float = math.nan) -> Interval:
    """95% percentile interval of bootstrap relative changes, undefined ones left out.

    Parameters
    ----------
    rel : numpy.ndarray
        Replicate relative changes in percent: NaN for an undefined replicate (no tie
        at either date), ``+inf`` when only the later network has ties.
    target_pct : float, optional
        Target in percent, for ``p_below_target``.

    Returns
    -------
    Interval

    Notes
    -----
    The bounds are the 2.5 and 97.5 percentiles (linear interpolation) of the
    *defined* replicates; an undefined replicate is neither a 0% change nor a
    loss, so it is excluded and counted (``n_undefined``). The standard error is
    their standard deviation (ddof=1), NaN when one is infinite.

    Examples
    --------
    >>> iv = percentile_interval(np.array([10.0, 20.0, np.nan, np.inf]))
    >>> iv.n_undefined, iv.unbounded, iv.high
    (1, True, inf)
    """
    rel = np.asarray(rel, dtype=np.float64)
    defined = rel[~np.isnan(rel)]
    n_undef = int(rel.size - defined.size)
    if defined.size == 0:  # nothing defined: no bound at all, flagged as unbounded
        return Interval(math.nan, math.nan, math.nan, n_undef > 0, n_undef, "bootstrap")
    low, high = _percentile(defined, 0.025), _percentile(defined, 0.975)
    finite = bool(np.isfinite(defined).all())
    se = float(np.std(defined, ddof=1)) if finite and defined.size > 1 else math.nan
    p = float(np.mean(defined < target_pct)) if not math.isnan(target_pct) else math.nan
    return Interval(low, high, se, math.isinf(high), n_undef, "bootstrap", p)


def jackknife_interval(
    n: int,
    u0: np.ndarray,
    v0: np.ndarray,
    u1: np.ndarray,
    v1: np.ndarray,
    *,
    target_pct: float = math.nan,
) -> Interval:
    """Snijders-Borgatti jackknife interval of the relative change of panel density.

    Parameters
    ----------
    n : int
        Number of panel vertices.
    u0, v0, u1, v1 : numpy.ndarray
        Ends (0 .. n-1) of the ties at the baseline and at the later date.
    target_pct : float, optional
        Target in percent, for ``p_below_target``.

    Returns
    -------
    Interval
        ``method="jackknife"``; ``se`` is the delta-method standard error in
        percentage points, :math:`100 \\, e^{\\theta} \\, SE_J`.

    Notes
    -----
    On the log density ratio :math:`\\theta = \\log(D_1/D_0) = \\log(L_1/L_0)`
    (the panel denominators cancel). Leaving vertex i out removes its degree
    :math:`d_{t,i}` from the ties and, again, the denominators cancel:

    .. math::

        \\theta_{(i)} = \\log\\frac{L_1 - d_{1,i}}{L_0 - d_{0,i}}, \\qquad
        SE_J^2 = \\frac{n-1}{n} \\sum_i (\\theta_{(i)} - \\bar\\theta)^2

    (Snijders and Borgatti 1999) and the interval is
    :math:`100(\\exp(\\theta \\pm 1.96\\, SE_J) - 1)`. When a leave-one-out ratio
    is 0 or infinite (all the ties of a date touch one vertex), or
    :math:`L_1 = 0`, the standard error is infinite: the interval is
    :math:`[-100\\%, +\\infty)` and ``unbounded``. Undefined when :math:`L_0 = 0`.
    The p-value is :math:`\\Phi((\\log(1 + t) - \\theta)/SE_J)` for a target t.

    Examples
    --------
    >>> ring = np.arange(6)
    >>> iv = jackknife_interval(6, ring, (ring + 1) % 6, ring, (ring + 1) % 6)
    >>> iv.low, iv.high, iv.se
    (0.0, 0.0, 0.0)
    """
    l0, l1 = int(np.size(u0)), int(np.size(u1))
    if n < 2 or l0 == 0:
        return Interval(math.nan, math.nan, math.nan, False, 0, "jackknife")
    d0 = np.bincount(np.concatenate([u0, v0]).astype(np.int64), minlength=n)[:n]
    d1 = np.bincount(np.concatenate([u1, v1]).astype(np.int64), minlength=n)[:n]
    a0, a1 = (l0 - d0).astype(np.float64), (l1 - d1).astype(np.float64)
    if l1 == 0 or (a0 <= 0).any() or (a1 <= 0).any():
        return Interval(-100.0, math.inf, math.nan, True, 0, "jackknife",
                        math.nan if math.isnan(target_pct) else 1.0)
    theta = math.log(l1 / l0)
    loo = np.log(a1 / a0)
    se_log = math.sqrt((n - 1) / n * float(((loo - loo.mean()) ** 2).sum()))
    low = 100 * (math.exp(theta - _Z975 * se_log) - 1)
    high = 100 * (math.exp(theta + _Z975 * se_log) - 1)
    p = math.nan
    if target_pct <= -100:
        p = 0.0
    elif not math.isnan(target_pct):
        gap = math.log1p(target_pct / 100) - theta
        if se_log > 0:
            p = float(0.5 * math.erfc(-gap / (se_log * math.sqrt(2))))
        else:
            p = 1.0 if gap > 0 else 0.0
    return Interval(low, high, 100 * math.exp(theta) * se_log, False, 0, "jackknife", p)


def holm(p_values: Sequence[float] | np.ndarray, *, alpha: float = _ALPHA_ONE_SIDED) -> np.ndarray:
    """Holm's step-down rejections at family-wise level ``alpha``.

    Parameters
    ----------
    p_values : sequence of float
        One p-value per hypothesis; NaN is never rejected (and does not count in
        the family).
    alpha : float
        Family-wise error rate (one-sided 0.025 by default, as the lower bound of a
        95% interval).

    Returns
    -------
    numpy.ndarray
        Boolean, True where the hypothesis is rejected.

    Notes
    -----
    With the K defined p-values sorted :math:`p_{(1)} \\le \\dots \\le p_{(K)}`,
    reject :math:`H_{(1)}, \\dots, H_{(j)}` while
    :math:`p_{(j)} \\le \\alpha/(K - j + 1)` (Holm 1979).

    Examples
    --------
    >>> holm([0.001, 0.02, 0.2]).tolist()
    [True, False, False]
    """
    p = np.asarray(p_values, dtype=np.float64)
    out = np.zeros(p.size, dtype=bool)
    ok = np.flatnonzero(~np.isnan(p))
    order = ok[np.argsort(p[ok], kind="stable")]
    k = order.size
    for j, i in enumerate(order):
        if p[i] <= alpha / (k - j):
            out[i] = True
        else:
            break
    return out


def _relative_change_pct(before: npt.ArrayLike, after: npt.ArrayLike) -> np.ndarray:
    """``100 (after - before) / before``; +inf when only ``after`` is positive, NaN when both 0.

    A replicate with no tie at either date is *undefined* (0/0), not a 0% change.
    """
    before = np.asarray(before, dtype=np.float64)
    after = np.asarray(after, dtype=np.float64)
    out = np.full(np.broadcast(before, after).shape, np.nan)
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
    baseline: object = None,
    as_of: object = None,
    target: float | None = None,
    n_boot: int | None = None,
    seed: int | None = None,
    territories: Sequence[str] | None = None,
    min_ties: int | None = None,
    interval: str | None = None,
    territory_rule: str | None = None,
    plan: Any = None,
    power: bool = False,
    power_options: dict[str, Any] | None = None,
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
    min_ties : int, optional
        Minimum number of panel ties at the baseline for a verdict (default
        :data:`DEFAULT_MIN_TIES`); below it the verdict is ``not_evaluable`` and
        ``reason_not_evaluable`` says why (the change is still reported).
    interval : {"bootstrap", "jackknife"}, optional
        The interval behind the verdict (default the paired vertex bootstrap); the
        other one is reported in the ``alt_*`` columns.
    territory_rule : {"secondary", "holm"}, optional
        The rule across territories behind ``verdict_adjusted`` (default
        ``"secondary"``: the region is the primary endpoint, each territory's
        verdict is reported unadjusted; ``"holm"``: a territory's ``met`` needs
        Holm's step-down test across the territories).
    plan : EvaluationPlan, optional
        A plan (:func:`opportunity_map.plan.load_plan`): gives every option not
        passed explicitly (``baseline``, ``as_of`` = its last follow-up date,
        ``target``, ``n_boot``, ``seed``, ``min_ties``, ``interval``,
        ``territory_rule``); explicit arguments override it and are recorded in
        :attr:`Evaluation.overrides`.
    power : bool
        Also estimate the power of the design from the baseline network
        (:func:`opportunity_map.power.power`) and fill ``mde_pct``.
    power_options : dict, optional
        Keyword arguments for :func:`opportunity_map.power.power` (``n_sim``,
        ``n_boot``...).

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
    resampled baseline has no tie has an infinite relative change; with no tie at
    the later date either it is *undefined* (0/0): left out of the interval and
    counted in ``n_boot_undefined``, never scored 0% (see
    :func:`percentile_interval`). ``n_boot_zero_baseline`` counts both kinds; then
    ``se_pct`` is NaN and, when the 97.5 percentile is infinite, ``ci_high_pct`` is
    ``inf`` and ``ci_unbounded`` is True. Each territory has its own
    random stream, ``numpy.random.default_rng([seed, zlib.crc32(label.encode())])``
    with ``label`` its slug (or ``"lombardia"``), consumed by
    :func:`resample_vertices` over the panel in the order of ``m.actors``: a
    territory's figures do not depend on which other territories are evaluated, and
    can be reproduced outside this library. The region is resampled *within each
    territory* (``strata`` = territory code, organisations outside the territories
    being one more stratum), so every replicate has the panel's number of
    organisations in each territory.

    **Sensitivity.** ``change_cohort_pct``: the organisations active at the
    baseline (cohort C, exits counted as losses),
    :math:`100 (L_{at}(C \\cap A_{at}) - L_{base}(C)) / L_{base}(C)`;
    ``change_network_pct``: the whole network, :math:`100 (D_{at} - D_{base}) /
    D_{base}` on all active organisations; ``change_no_level1_pct``: the panel
    counting only ties whose strongest level is at least 2. Each has its 95%
    bootstrap interval (``cohort_ci_*``, ``network_ci_*``, ``no_level1_ci_*``; the
    panel rows share the headline's replicates; the cohort and the whole network
    share one bootstrap of the organisations active at either date, stream
    ``[seed, crc32(label), 1]``, each date's density of the whole network over the
    pairs of its own active copies, the cohort's change as the ratio of its tie
    sums). ``ei_baseline``, ``ei_at``: E-I index of
    the panel; ``ei_expected`` its expectation under random mixing
    (:func:`opportunity_map.metrics.ei_expected`). ``sensitivity_note``: an Italian
    sentence naming the rows that agree with the headline (same side of the target
    and same verdict).

    **Second interval.** The jackknife of :func:`jackknife_interval` is in
    ``alt_ci_*`` (or in ``ci_*`` with ``interval="jackknife"``, the bootstrap then
    in ``alt_ci_*``); ``interval_method`` and ``alt_interval_method`` label them.
    ``p_below_target`` is the one-sided p-value of the primary method used by the
    Holm rule (``verdict_adjusted``).

    **Verdict.** ``met`` when ``ci_low_pct >= target_pct``, ``not_met`` when
    ``ci_high_pct < target_pct``, ``inconclusive`` otherwise; ``target_met_point``
    is ``change_pct >= target_pct``. With ``n_boot=0`` the interval columns are NaN
    and the verdict is ``inconclusive`` (only the point estimate is known: read
    ``target_met_point``). Below ``min_ties`` baseline ties in the panel the verdict
    is ``not_evaluable`` with ``reason_not_evaluable`` (the change and its interval
    are still given). ``not_evaluable`` (with an Italian ``note``, never a bare
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
    <Evaluation 2026-06-30 -> 2027-12-31: 3 territories, target +30%, 500 bootstrap replicates, \
seed 1; verdicts: not_evaluable 3>
    >>> ev.table[["territory", "n_panel", "change_pct", "verdict"]]
       territory  n_panel  change_pct        verdict
    0    bergamo        5        50.0  not_evaluable
    1      lecco        2         NaN  not_evaluable
    2  lombardia        7        40.0  not_evaluable

    (a toy map: fewer than ``min_ties`` = 20 baseline ties, so no verdict;
    ``reason_not_evaluable`` says so in Italian.)
    """
    overrides: dict[str, tuple[Any, Any]] = {}

    def pick(name: str, given: Any, default: Any) -> Any:
        planned = getattr(plan, name, None) if plan is not None else None
        if given is not None:
            if planned is not None and given != planned:
                overrides[name] = (planned, given)
            return given
        return planned if planned is not None else default

    if baseline is not None:
        baseline = to_timestamp(baseline, name="baseline")
    if as_of is not None:
        as_of = to_timestamp(as_of, name="as_of")
    baseline = pick("baseline", baseline, None)
    as_of = pick("as_of", as_of, None)
    if baseline is None:
        msg = "baseline is required (give it, or a plan with a baseline date)"
        raise UsageError(msg, param="baseline")
    target = pick("target", target, 0.30)
    n_boot = pick("n_boot", n_boot, 2000)
    seed = pick("seed", seed, None)
    min_ties = pick("min_ties", min_ties, DEFAULT_MIN_TIES)
    interval = pick("interval", interval, "bootstrap")
    territory_rule = pick("territory_rule", territory_rule, "secondary")
    if isinstance(min_ties, bool) or not isinstance(min_ties, int | np.integer) or min_ties < 0:
        msg = f"min_ties must be a non-negative integer, got {min_ties!r}"
        raise UsageError(msg, param="min_ties")
    if interval not in INTERVAL_METHODS:
        msg = f"interval must be one of {list(INTERVAL_METHODS)}, got {interval!r}"
        raise UsageError(msg, param="interval")
    if territory_rule not in TERRITORY_RULES:
        msg = f"territory_rule must be one of {list(TERRITORY_RULES)}, got {territory_rule!r}"
        raise UsageError(msg, param="territory_rule")
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
            min_ties=int(min_ties), interval=interval,
        )
        row["territory_name"] = index.name_of(scope)
        rows.append(row)
        blocks.append(block)
        replicates.append(reps)
    table = pd.DataFrame(rows, columns=[*TABLE_COLUMNS, *EXTRA_COLUMNS])
    table = table.astype({c: "int64" for c in _INT_COLUMNS})
    table["target_met_point"] = table["target_met_point"].astype("boolean")
    table["ci_unbounded"] = table["ci_unbounded"].astype(bool)
    table["alt_ci_unbounded"] = table["alt_ci_unbounded"].astype(bool)
    rule_text = _apply_territory_rule(table, territory_rule)
    power_result = None
    if power:
        from .power import power as power_of

        power_result = power_of(
            index, baseline=t0, target=target_value, seed=seed_used, min_ties=int(min_ties),
            interval=interval, territories=scopes, **(power_options or {}),
        )
        mde = power_result.table.set_index("territory")["mde_pct"]
        table["mde_pct"] = table["territory"].map(mde).astype(float)
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
        min_ties=int(min_ties), interval=interval, territory_rule=territory_rule,
        rule_text=rule_text, plan=plan, overrides=overrides, power=power_result,
    )


def _apply_territory_rule(table: pd.DataFrame, rule: str) -> str:
    """Fill ``verdict_adjusted`` by the rule across territories; the rule in Italian.

    The region row is the primary endpoint and keeps its verdict. With ``"holm"``
    a territory keeps ``met`` only if Holm's step-down test on ``p_below_target``
    (one-sided, family-wise 2.5%, over the evaluable territories) rejects "change
    below the target"; otherwise it becomes ``inconclusive``. Other verdicts are
    never changed, so the adjustment only makes ``met`` harder.
    """
    is_terr = (table["territory"] != REGION).to_numpy()
    evaluable = (table["verdict"] != "not_evaluable").to_numpy()
    family = is_terr & evaluable
    k = int(family.sum())
    if rule == "holm":
        p = np.where(family, table["p_below_target"].to_numpy(dtype=float), np.nan)
        rejected = holm(p)
        adjusted = table["verdict"].to_numpy(dtype=object).copy()
        downgrade = family & (adjusted == "met") & ~rejected
        adjusted[downgrade] = "inconclusive"
        table["verdict_adjusted"] = adjusted
        return (
            "Endpoint primario: la regione (Lombardia). Territori: esito corretto per "
            f"confronti multipli con il metodo di Holm sui {k} territori valutabili "
            "(errore complessivo unilaterale del 2,5%): un territorio raggiunge "
            "l'obiettivo solo se lo conferma la procedura di Holm."
        )
    return (
        "Endpoint primario: la regione (Lombardia). Territori: endpoint secondari, "
        f"esiti riportati senza correzione per confronti multipli ({k} territori "
        "valutabili): con molti territori vicini all'obiettivo, qualche 'raggiunto' può "
        "essere dovuto al caso."
    )


def _concat(frames: list[pd.DataFrame], columns: tuple[str, ...]) -> pd.DataFrame:
    """Concatenate the non-empty frames (an empty frame with ``columns`` if none)."""
    frames = [f for f in frames if not f.empty]
    if not frames:
        return pd.DataFrame({c: [] for c in columns})
    return pd.concat(frames, ignore_index=True)


def _ties_on(net: Network, vertices: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ties of ``net`` among ``vertices`` (boolean mask), numbered 0 .. |vertices|-1.

    The numbering follows the positions of ``vertices``, whether or not every one
    of them is active in ``net`` (an inactive actor simply has no tie).
    """
    sub = net.subnetwork(vertices)
    local = np.searchsorted(np.flatnonzero(vertices), sub.positions)
    return local[sub.u], local[sub.v], sub.level


def _mat(u: np.ndarray, v: np.ndarray, n: int, weights: np.ndarray | None = None) -> Any:
    return adjacency_matrix(u, v, n, weights=weights, upper=True)


def _strata_of(index: NetworkIndex, scope: str, vertices: np.ndarray) -> np.ndarray | None:
    """The region is resampled within each territory; a territory is one stratum."""
    if scope != REGION:
        return None
    return np.asarray(index.territory[np.flatnonzero(vertices)], dtype=np.int64)


def _rng_for(seed: int, scope: str, stream: int = 0) -> np.random.Generator:
    """A random stream of its own for every territory, from the seed and its name.

    ``stream`` 0 is the headline (fixed panel), 1 the baseline cohort and the whole
    network (one bootstrap of the actors active at either date).
    """
    key = [seed, zlib.crc32(scope.encode("utf-8"))]
    return np.random.default_rng(key if stream == 0 else [*key, stream])


def _density_ratio_interval(
    sums: np.ndarray, pairs0: np.ndarray, pairs1: np.ndarray, *, target_pct: float,
) -> Interval:
    """Percentile interval of replicate density ratios with their own denominators."""
    with np.errstate(divide="ignore", invalid="ignore"):
        d0 = np.where(pairs0 > 0, sums[0] / pairs0, np.nan)
        d1 = np.where(pairs1 > 0, sums[1] / pairs1, np.nan)
        rel = np.where(d0 > 0, 100 * (d1 / d0 - 1), np.where(d1 > 0, np.inf, np.nan))
    return percentile_interval(rel, target_pct=target_pct)


def _agreement_sentence(
    headline: tuple[float, str], rows: list[tuple[str, float, str | None]], *, evaluable: bool,
    with_interval: bool, target_pct: float,
) -> str:
    """One Italian sentence: which sensitivity rows agree with the headline.

    A row agrees when its point estimate is on the same side of the target as the
    headline's and (with an interval) its verdict by the same rule is the same.
    """
    change, verdict = headline
    if not evaluable or math.isnan(change):
        return ("Stima principale non valutabile: le righe di sensibilità sono solo "
                "descrittive.")
    agree: list[str] = []
    differ: list[str] = []
    for label, value, row_verdict in rows:
        text = (f"{label} ({format_number(value, 1, signed=True)}%)" if not math.isnan(value)
                else f"{label} (n.d.)")
        same = (not math.isnan(value) and (value >= target_pct) == (change >= target_pct)
                and (not with_interval or row_verdict == verdict))
        (agree if same else differ).append(text)
    head = (f"Stima principale (panel fisso) {format_number(change, 1, signed=True)}%: "
            "concordano (stesso lato dell'obiettivo"
            + (" e stesso esito" if with_interval else "") + ") ")
    sentence = head + (", ".join(agree) if agree else "nessuna riga di sensibilità")
    if differ:
        sentence += "; non concordano " + ", ".join(differ)
    return sentence + "."


def _evaluate_scope(
    net0: Network,
    net1: Network,
    scope: str,
    *,
    n_boot: int,
    seed: int,
    target_pct: float,
    min_ties: int = DEFAULT_MIN_TIES,
    interval: str = "bootstrap",
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
    strong0, strong1 = l0 >= 2, l1 >= 2
    ties0_s, ties1_s = int(strong0.sum()), int(strong1.sum())
    wsum0, wsum1 = int(l0.astype(np.int64).sum()), int(l1.astype(np.int64).sum())
    full0, full1 = net0.subnetwork(in_scope), net1.subnetwork(in_scope)
    n_full0, n_full1 = full0.n_actors, full1.n_actors
    ties_full0, ties_full1 = full0.n_ties, full1.n_ties
    cross0, cross1 = net0.cross_ties(territory), net1.cross_ties(territory)
    # the baseline cohort: every actor active at the baseline, exits included
    n_cohort = int(act0.sum())
    ties_cohort0, ties_cohort1 = ties_full0, ties1  # ties of the survivors at the follow-up

    d0, d1 = density_from_counts(ties0, n), density_from_counts(ties1, n)
    dfull0 = density_from_counts(ties_full0, n_full0)
    dfull1 = density_from_counts(ties_full1, n_full1)
    defined = n >= _MIN_PANEL and ties0 > 0
    evaluable = defined and ties0 >= min_ties
    change = float(_relative_change_pct(ties0, ties1)) if defined else math.nan
    w_change = float(_relative_change_pct(wsum0, wsum1)) if defined else math.nan
    change_s = float(_relative_change_pct(ties0_s, ties1_s)) if n >= 2 and ties0_s > 0 \
        else math.nan
    change_cohort = (float(_relative_change_pct(ties_cohort0, ties_cohort1))
                     if n_cohort >= 2 and ties_cohort0 > 0 else math.nan)
    change_network = 100 * (dfull1 - dfull0) / dfull0 if dfull0 > 0 else math.nan
    notes: list[str] = []
    reason = ""
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
    elif ties0 < min_ties:
        reason = (
            f"Rete troppo piccola per un esito: {ties0} legami nel panel alla baseline, "
            f"meno del minimo di {min_ties} fissato dal piano; la variazione e il suo "
            "intervallo sono riportati solo a titolo descrittivo."
        )
        notes.append(reason)
    if not defined and not reason:
        reason = notes[-1] if notes else ""

    boot = jack = _NO_INTERVAL
    w_iv = s_iv = c_iv = f_iv = _NO_INTERVAL
    p_no_inc = math.nan
    n_zero = 0
    reps = pd.DataFrame({c: [] for c in _REPLICATE_COLUMNS})
    if defined:
        jack = jackknife_interval(n, u0, v0, u1, v1, target_pct=target_pct)
    if defined and n_boot > 0:
        strata = _strata_of(index, scope, panel)
        mats = [_mat(u0, v0, n), _mat(u1, v1, n), _mat(u0, v0, n, l0), _mat(u1, v1, n, l1),
                _mat(u0[strong0], v0[strong0], n), _mat(u1[strong1], v1[strong1], n)]
        sums, pairs, _ = _bootstrap(mats, n_boot=n_boot, rng=_rng_for(seed, scope),
                                    strata=strata)
        rel = _relative_change_pct(sums[0], sums[1])
        boot = percentile_interval(rel, target_pct=target_pct)
        w_iv = percentile_interval(_relative_change_pct(sums[2], sums[3]))
        s_iv = percentile_interval(_relative_change_pct(sums[4], sums[5]))
        n_zero = int((sums[0] == 0).sum())
        p_no_inc = float(np.mean(sums[1] <= sums[0]))
        with np.errstate(divide="ignore", invalid="ignore"):
            reps = pd.DataFrame({
                "territory": scope,
                "replicate": np.arange(n_boot),
                "density_baseline": np.where(pairs > 0, sums[0] / pairs, np.nan),
                "density_at": np.where(pairs > 0, sums[1] / pairs, np.nan),
                "change_pct": rel,
                "weighted_change_pct": _relative_change_pct(sums[2], sums[3]),
            })
        # the baseline cohort (exits counted as losses) and the whole network share
        # one bootstrap of the actors active at either date (own stream: other vertices)
        union = act0 | act1
        n_union = int(union.sum())
        if n_union >= 2 and ties_full0 > 0:
            fu0, fv0, _ = _ties_on(net0, union)
            fu1, fv1, _ = _ties_on(net1, union)
            cu1, cv1, _ = _ties_on(net1, panel & union)  # survivors' ties at the follow-up
            keep = np.searchsorted(np.flatnonzero(union), np.flatnonzero(panel))
            usums, _, upairs = _bootstrap(
                [_mat(fu0, fv0, n_union), _mat(fu1, fv1, n_union),
                 _mat(keep[cu1], keep[cv1], n_union)],
                n_boot=n_boot, rng=_rng_for(seed, scope, 1),
                strata=_strata_of(index, scope, union), masks=[act0[union], act1[union]])
            # the cohort's pairs are the same at both dates: the ratio of tie sums
            c_iv = percentile_interval(_relative_change_pct(usums[0], usums[2]))
            f_iv = _density_ratio_interval(usums[:2], upairs[0], upairs[1],
                                           target_pct=target_pct)
        n_undefined = boot.n_undefined
        if n_zero:
            notes.append(
                f"In {n_zero} replicati bootstrap su {n_boot} la rete di baseline "
                "ricampionata non ha legami"
                + (f" ({n_undefined} senza legami neppure alla data di confronto: "
                   "replicati non definiti, esclusi dall'intervallo)" if n_undefined else "")
                + ": errore standard non calcolato"
                + (", estremo superiore dell'intervallo illimitato." if boot.unbounded
                   else ".")
            )

    primary, alt = (jack, boot) if interval == "jackknife" else (boot, jack)
    if not defined:
        verdict = "not_evaluable"
        met_point: bool | None = None
    else:
        met_point = change >= target_pct
        if not evaluable:
            verdict = "not_evaluable"
        elif n_boot == 0 and interval == "bootstrap":
            verdict = "inconclusive"
            notes.append(
                "Bootstrap non eseguito (n_boot=0): manca l'intervallo, l'esito resta "
                "'inconclusive'; la stima puntuale è in target_met_point."
            )
        else:
            verdict = _verdict(primary.low, primary.high, target_pct)
            if math.isnan(primary.low) and math.isnan(primary.high):
                notes.append("Nessun replicato definito: intervallo non calcolabile, esito "
                             "'inconclusive'.")

    with_interval = n_boot > 0 or interval == "jackknife"

    def row_verdict(iv: Interval) -> str | None:
        return _verdict(iv.low, iv.high, target_pct) if with_interval else None

    sentence = _agreement_sentence(
        (change, verdict),
        [("coorte di baseline", change_cohort, row_verdict(c_iv)),
         ("rete completa", change_network, row_verdict(f_iv)),
         ("senza legami di livello 1", change_s, row_verdict(s_iv))],
        evaluable=evaluable, with_interval=with_interval, target_pct=target_pct,
    )
    groups = index.group[pos]
    known = groups[groups >= 0]
    sizes = np.bincount(known.astype(np.int64), minlength=len(GROUPS))

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
        "ci_low_pct": primary.low,
        "ci_high_pct": primary.high,
        "se_pct": primary.se,
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
        "weighted_ci_low_pct": w_iv.low,
        "weighted_ci_high_pct": w_iv.high,
        "n_actors_baseline": n_full0,
        "n_actors_at": n_full1,
        "ties_full_baseline": ties_full0,
        "ties_full_at": ties_full1,
        "density_full_change_pct": change_network,
        "cross_ties_baseline": cross0,
        "cross_ties_at": cross1,
        "n_boot_zero_baseline": n_zero,
        "n_boot_undefined": boot.n_undefined,
        "ci_unbounded": primary.unbounded,
        "interval_method": interval,
        "min_ties": min_ties,
        "reason_not_evaluable": reason if verdict == "not_evaluable" else "",
        "alt_interval_method": "jackknife" if interval == "bootstrap" else "bootstrap",
        "alt_ci_low_pct": alt.low,
        "alt_ci_high_pct": alt.high,
        "alt_ci_unbounded": alt.unbounded,
        "p_below_target": primary.p_below_target,
        "verdict_adjusted": verdict,
        "n_cohort": n_cohort,
        "ties_cohort_baseline": ties_cohort0,
        "ties_cohort_at": ties_cohort1,
        "change_cohort_pct": change_cohort,
        "cohort_ci_low_pct": c_iv.low,
        "cohort_ci_high_pct": c_iv.high,
        "change_network_pct": change_network,
        "network_ci_low_pct": f_iv.low,
        "network_ci_high_pct": f_iv.high,
        "ties_no_level1_baseline": ties0_s,
        "ties_no_level1_at": ties1_s,
        "change_no_level1_pct": change_s,
        "no_level1_ci_low_pct": s_iv.low,
        "no_level1_ci_high_pct": s_iv.high,
        "ei_baseline": ei_index(index.group[pos][u0], index.group[pos][v0]) if ties0
        else math.nan,
        "ei_at": ei_index(index.group[pos][u1], index.group[pos][v1]) if ties1 else math.nan,
        "ei_expected": ei_expected(sizes),
        "sensitivity_note": sentence,
        "mde_pct": math.nan,
    }

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
