"""Power of the +30% design before the data: simulated verdicts from the baseline network.

:func:`power` answers, at baseline time, the question the funder should hear first:
*if the true change of density were +30%, +45%, +60%, how likely is a ``met``
verdict on this territory?* and *which change would be detected with 80%
probability?* (the minimum detectable change, ``mde_pct``). It simulates later
networks from the baseline network with a stated growth model and runs each of
them through the same estimator as :func:`opportunity_map.evaluation.evaluate`
(paired vertex bootstrap or jackknife, the same interval, the same verdict rule and
the same minimum number of ties).
"""

from __future__ import annotations

import math
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ._errors import UsageError
from ._time import to_timestamp
from .evaluation import (
    DEFAULT_MIN_TIES,
    INTERVAL_METHODS,
    _percentile,
    _relative_change_pct,
    _strata_of,
    check_target,
    resample_vertices,
)
from .model import OpportunityMap
from .network import REGION, NetworkIndex, scopes_of

__all__ = [
    "DEFAULT_CHANGES", "POWER_COLUMNS", "Power", "bootstrap_lower_bounds", "growth_order",
    "power", "write_power",
]

#: True changes simulated by default (fractions).
DEFAULT_CHANGES: tuple[float, ...] = (0.30, 0.45, 0.60)
#: Columns of :attr:`Power.table` before the ``p_met_<change>`` columns.
POWER_COLUMNS: tuple[str, ...] = (
    "territory", "territory_name", "n_panel", "ties_baseline", "density_baseline",
    "target_pct", "mde_pct", "note",
)
#: Probability of ``met`` that defines the minimum detectable change.
POWER_LEVEL = 0.80

METHOD_TEXT = (
    "Per ogni territorio si parte dalla rete alla baseline (le organizzazioni attive a "
    "quella data, supposte tutte presenti anche alla data di confronto: nessuna "
    "uscita, nessun ingresso) e si simula la rete futura aggiungendo legami tra coppie "
    "di organizzazioni non ancora collegate, con probabilità proporzionale a "
    "(grado + 1) × (grado + 1) delle due organizzazioni alla baseline: chi ha già "
    "molti legami ne forma di più, come nella rete osservata. Nessun legame esistente "
    "viene perso. Ogni rete simulata passa per lo stesso stimatore della valutazione "
    "(stesso intervallo, stessa regola di esito, stesso minimo di legami). La potenza "
    "è la quota di simulazioni con esito 'raggiunto'; la variazione minima rilevabile "
    "è la più piccola variazione vera con almeno l'80% di probabilità di esito "
    "'raggiunto'. Uscite di organizzazioni e perdita di legami renderebbero il disegno "
    "meno potente di quanto indicato."
)


@dataclass(frozen=True)
class Power:
    """Result of :func:`power`.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per territory (then ``lombardia``): :data:`POWER_COLUMNS`, then
        ``p_met_<p>`` for each simulated change p in percent (``p_met_30``,
        ``p_met_45``...), the probability of a ``met`` verdict. ``mde_pct`` is the
        minimum detectable change in percent (``inf`` when not reached within
        ``max_change`` or when the panel has fewer than ``min_ties`` ties).
    curve : pandas.DataFrame
        ``territory, change_pct, p_met``: the power curve on a grid of true changes.
    baseline : pandas.Timestamp
    target : float
    changes : tuple of float
    n_sim, n_boot, seed, min_ties : int
    interval : str
    method_text : str
        The growth model and its assumptions, in Italian (for the page and report).
    """

    table: pd.DataFrame
    curve: pd.DataFrame
    baseline: pd.Timestamp
    target: float
    changes: tuple[float, ...]
    n_sim: int
    n_boot: int
    seed: int
    min_ties: int
    interval: str
    method_text: str = METHOD_TEXT


def _count(value: object, name: str, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        msg = f"{name} must be an integer >= {minimum}, got {value!r}"
        raise UsageError(msg, param=name)
    return int(value)


def power(
    m_or_index: OpportunityMap | NetworkIndex,
    *,
    baseline: object,
    target: float = 0.30,
    changes: Sequence[float] = DEFAULT_CHANGES,
    n_sim: int = 200,
    n_boot: int = 400,
    seed: int | None = None,
    min_ties: int = DEFAULT_MIN_TIES,
    interval: str = "bootstrap",
    territories: Sequence[str] | None = None,
    max_change: float = 3.0,
) -> Power:
    """Probability of a ``met`` verdict for given true changes, and the minimum detectable one.

    Parameters
    ----------
    m_or_index : OpportunityMap or NetworkIndex
        The map (only its baseline network is used).
    baseline : date-like
        The baseline date.
    target : float
        Target as a fraction (0.30 = +30%).
    changes : sequence of float
        True relative changes to simulate, as fractions.
    n_sim : int
        Simulated later networks per territory.
    n_boot : int
        Bootstrap replicates per simulated network (``interval="bootstrap"``).
    seed : int, optional
        Seed; ``None`` draws one (recorded in :attr:`Power.seed`).
    min_ties : int
        Minimum baseline ties for a verdict, as in the evaluation.
    interval : {"bootstrap", "jackknife"}
        The interval behind the verdict, as in the evaluation.
    territories : sequence of str, optional
        Slugs (``"lombardia"`` = whole map); ``None``: every territory then the region.
    max_change : float
        Largest true change searched for the minimum detectable change (fraction).

    Returns
    -------
    Power

    Notes
    -----
    **Growth model.** With P the actors of the territory active at the baseline,
    :math:`L_0` their ties and :math:`d_i` their degrees, a true change r is
    :math:`k = \\mathrm{round}(r L_0)` ties added among the pairs of P not yet tied;
    the pairs are drawn without replacement with probability proportional to
    :math:`w_{ij} = (d_i + 1)(d_j + 1)` (Efraimidis-Spirakis keys
    :math:`\\log U_{ij} / w_{ij}`), so that the new ties follow the degree structure
    of the baseline network. Assumptions: every baseline actor stays (no exits, no
    entrants: the panel is P), no tie is lost, a tie's level plays no role. Exits and
    tie turnover add variance, so the power shown is an upper bound for the design.

    **Same estimator.** Each simulated later network is scored as
    :func:`~opportunity_map.evaluation.evaluate` scores a panel: the paired vertex
    bootstrap (stratified by territory for the region) with undefined replicates
    left out and the 2.5 percentile as lower bound, or the jackknife interval;
    ``met`` iff :math:`L_0 \\ge` ``min_ties`` and the lower bound is at least the
    target.

    **Common random numbers.** In simulation s the order of the added pairs and the
    bootstrap draws are fixed, and the network for change r is the first
    :math:`k(r)` added pairs. Every replicate's change is then non-decreasing in k,
    hence so is the lower bound: the smallest :math:`k_s^*` giving ``met`` is found
    by bisection and :math:`P(\\mathrm{met} \\mid r) = \\#\\{s : k_s^* \\le k(r)\\}/n_{sim}`
    for every r at once. The minimum detectable change is the smallest r with
    :math:`P \\ge 0.8`, i.e. :math:`100\\, k_{(\\lceil 0.8\\, n_{sim} \\rceil)}^* / L_0`.
    The jackknife bound need not be monotone in k, so it is computed for every k.

    Examples
    --------
    >>> pw = power(om.example_map(), baseline="2026-06-30", n_sim=20, n_boot=50, seed=1,
    ...            min_ties=1)
    >>> list(pw.table.columns[-3:])
    ['p_met_30', 'p_met_45', 'p_met_60']
    """
    t0 = to_timestamp(baseline, name="baseline")
    target_value = check_target(target)
    n_sim = _count(n_sim, "n_sim", minimum=1)
    n_boot = _count(n_boot, "n_boot", minimum=1)
    min_ties = _count(min_ties, "min_ties", minimum=0)
    if interval not in INTERVAL_METHODS:
        msg = f"interval must be one of {list(INTERVAL_METHODS)}, got {interval!r}"
        raise UsageError(msg, param="interval")
    change_values = tuple(check_target(c) for c in changes)
    if not change_values or min(change_values) <= 0:
        msg = f"changes must be positive fractions (0.45 = +45%), got {list(changes)!r}"
        raise UsageError(msg, param="changes")
    if seed is None:
        seed_used = int(np.random.SeedSequence().entropy)  # type: ignore[arg-type]
    else:
        seed_used = _count(seed, "seed", minimum=0)
    index = m_or_index.network_index() if isinstance(m_or_index, OpportunityMap) else m_or_index
    scopes = scopes_of(index, territories)
    net0 = index.at(t0)
    target_pct = round(100 * target_value, 10)
    started = time.perf_counter()
    rows, curves = [], []
    grid = np.round(np.arange(0.05, max_change + 1e-9, 0.05), 10)
    for scope in scopes:
        in_scope = index.scope_mask(None if scope == REGION else scope)
        panel = in_scope & net0.active_actors
        sub = net0.subnetwork(panel)
        n, l0 = sub.n_actors, sub.n_ties
        row: dict[str, object] = {
            "territory": scope, "territory_name": index.name_of(scope), "n_panel": n,
            "ties_baseline": l0, "density_baseline": sub.n_ties / (n * (n - 1) / 2)
            if n >= 2 else math.nan, "target_pct": target_pct,
        }
        if n < 3 or l0 == 0:
            row |= {"mde_pct": math.nan, "note": "Rete di baseline senza legami o con meno "
                    "di 3 organizzazioni: potenza non calcolabile."}
            row |= {_p_col(c): math.nan for c in change_values}
            rows.append(row)
            continue
        if l0 < min_ties:
            row |= {"mde_pct": math.inf, "note": (
                f"{l0} legami alla baseline, meno del minimo di {min_ties}: nessun esito "
                "possibile, qualunque sia la variazione.")}
            row |= {_p_col(c): 0.0 for c in change_values}
            rows.append(row)
            curves.append(pd.DataFrame({"territory": scope, "change_pct": 100 * grid,
                                        "p_met": 0.0}))
            continue
        met_k = _simulate(
            n, sub.u, sub.v, n_sim=n_sim, n_boot=n_boot, seed=seed_used, scope=scope,
            target_pct=target_pct, interval=interval, max_change=max_change,
            strata=_strata_of(index, scope, panel),
        )
        k_of = np.rint(np.asarray(change_values) * l0).astype(np.int64)
        row |= {_p_col(c): float(met_k[:, min(k, met_k.shape[1] - 1)].mean())
                if k < met_k.shape[1] else float(met_k[:, -1].mean())
                for c, k in zip(change_values, k_of, strict=True)}
        share = met_k.mean(axis=0)
        reached = np.flatnonzero(share >= POWER_LEVEL)
        row["mde_pct"] = 100 * reached[0] / l0 if reached.size else math.inf
        row["note"] = "" if reached.size else (
            f"Variazione minima rilevabile oltre +{100 * max_change:g}%: il disegno non "
            "ha potenza su questa rete.")
        rows.append(row)
        k_grid = np.minimum(np.rint(grid * l0).astype(np.int64), met_k.shape[1] - 1)
        curves.append(pd.DataFrame({"territory": scope, "change_pct": 100 * grid,
                                    "p_met": share[k_grid]}))
    columns = [*POWER_COLUMNS, *(_p_col(c) for c in change_values)]
    table = pd.DataFrame(rows, columns=columns)
    table = table.astype({"n_panel": "int64", "ties_baseline": "int64"})
    curve = (pd.concat(curves, ignore_index=True) if curves
             else pd.DataFrame({"territory": [], "change_pct": [], "p_met": []}))
    del started
    return Power(table=table, curve=curve, baseline=t0, target=target_value,
                 changes=change_values, n_sim=n_sim, n_boot=n_boot, seed=seed_used,
                 min_ties=min_ties, interval=interval)


def _p_col(change: float) -> str:
    return f"p_met_{100 * change:g}".replace(".", "_")


def growth_order(
    n: int, u0: np.ndarray, v0: np.ndarray, k_max: int, rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """The first ``k_max`` pairs added by the growth model, in order of addition.

    Parameters
    ----------
    n : int
        Number of actors.
    u0, v0 : numpy.ndarray
        Baseline ties.
    k_max : int
        How many pairs (capped at the number of untied pairs).
    rng : numpy.random.Generator

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Ends of the added pairs.

    Notes
    -----
    Weighted sampling without replacement, weight :math:`(d_i + 1)(d_j + 1)`, by the
    keys :math:`\\log U / w` of Efraimidis and Spirakis (2006): the pairs sorted by
    decreasing key are a weighted random order.
    """
    deg = np.bincount(np.concatenate([u0, v0]).astype(np.int64), minlength=n)[:n]
    iu, ju = np.triu_indices(n, k=1)
    tied = np.zeros((n, n), dtype=bool)
    tied[u0, v0] = tied[v0, u0] = True
    free = ~tied[iu, ju]
    iu, ju = iu[free], ju[free]
    w = (deg[iu] + 1.0) * (deg[ju] + 1.0)
    keys = np.log(rng.random(iu.size)) / w
    k = min(k_max, iu.size)
    top = np.argpartition(-keys, k - 1)[:k] if k < iu.size else np.arange(iu.size)
    top = top[np.argsort(-keys[top], kind="stable")]
    return iu[top], ju[top]


def _counts(n: int, n_boot: int, rng: np.random.Generator,
            strata: np.ndarray | None) -> np.ndarray:
    """``n x n_boot`` copies of every vertex, from :func:`resample_vertices`."""
    out = np.empty((n, n_boot))
    done = 0
    for idx in resample_vertices(n, n_boot, rng=rng, strata=strata):
        b = idx.shape[0]
        flat = (idx * b + np.arange(b)[:, None]).ravel()
        out[:, done:done + b] = np.bincount(flat, minlength=n * b).reshape(n, b)
        done += b
    return out


def bootstrap_lower_bounds(
    counts: np.ndarray, u0: np.ndarray, v0: np.ndarray, add_u: np.ndarray, add_v: np.ndarray,
    ks: Sequence[int],
) -> np.ndarray:
    """Lower bounds (2.5 percentile, undefined replicates left out) after adding k pairs.

    The replicate tie sums are :math:`S_0^* = \\sum c_u c_v` over the baseline ties
    and :math:`S_1^*(k) = S_0^* + \\sum_{m < k} c_{a_m} c_{b_m}` over the first k
    added pairs, exactly as :func:`~opportunity_map.evaluation.vertex_bootstrap`
    computes them on the simulated network with the same draws.
    """
    s0 = (counts[u0] * counts[v0]).sum(axis=0)
    cum = np.cumsum(counts[add_u] * counts[add_v], axis=0)
    out = np.empty(len(ks))
    for j, k in enumerate(ks):
        s1 = s0 + (cum[k - 1] if k > 0 else 0.0)
        rel = _relative_change_pct(s0, s1)
        defined = rel[~np.isnan(rel)]
        out[j] = _percentile(defined, 0.025) if defined.size else math.nan
    return out


def _simulate(
    n: int, u0: np.ndarray, v0: np.ndarray, *, n_sim: int, n_boot: int, seed: int,
    scope: str, target_pct: float, interval: str, max_change: float,
    strata: np.ndarray | None,
) -> np.ndarray:
    """``n_sim x (k_max + 1)`` booleans: simulation s is ``met`` after adding k ties."""
    l0 = int(u0.size)
    k_max = min(math.ceil(max_change * l0), n * (n - 1) // 2 - l0)
    met = np.zeros((n_sim, k_max + 1), dtype=bool)
    crc = zlib.crc32(scope.encode("utf-8"))
    deg0 = np.bincount(np.concatenate([u0, v0]).astype(np.int64), minlength=n)[:n]
    for s in range(n_sim):
        rng = np.random.default_rng([seed, crc, 3, s])
        add_u, add_v = growth_order(n, u0, v0, k_max, rng)
        if interval == "jackknife":
            ks = np.arange(k_max + 1)
            inc = np.zeros((k_max + 1, n))
            np.add.at(inc, (np.arange(1, k_max + 1), add_u), 1.0)
            np.add.at(inc, (np.arange(1, k_max + 1), add_v), 1.0)
            d1 = deg0 + np.cumsum(inc, axis=0)
            l1 = (l0 + ks)[:, None]
            a0 = (l0 - deg0)[None, :].astype(np.float64)
            a1 = l1 - d1
            with np.errstate(divide="ignore", invalid="ignore"):
                loo = np.log(a1 / a0)
                ok = np.isfinite(loo).all(axis=1)
                var = (n - 1) / n * ((loo - loo.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
                theta = np.log(l1[:, 0] / l0)
                low = 100 * (np.exp(theta - 1.959963984540054 * np.sqrt(var)) - 1)
            met[s] = ok & (low >= target_pct)
            continue
        counts = _counts(n, n_boot, rng, strata)
        lo_k, hi_k = 0, k_max + 1  # smallest k in [0, k_max] with met, k_max + 1 if none

        def is_met(k: int, add_u: np.ndarray = add_u, add_v: np.ndarray = add_v,
                   counts: np.ndarray = counts) -> bool:
            low = bootstrap_lower_bounds(counts, u0, v0, add_u, add_v, [k])[0]
            return bool(low >= target_pct)

        while lo_k < hi_k:
            mid = (lo_k + hi_k) // 2
            if is_met(mid):
                hi_k = mid
            else:
                lo_k = mid + 1
        met[s, lo_k:] = True
    return met


def _pct_text(value: float) -> str:
    from ._format import format_number

    if isinstance(value, float) and math.isinf(value):
        return "non rilevabile"
    return f"{format_number(value, 0, signed=True)}%"


def write_power(result: Power, out_dir: str | Path) -> dict[str, Path]:
    """Write ``potenza.csv`` and the standalone Italian page ``potenza.html``.

    Parameters
    ----------
    result : Power
        The result of :func:`power`.
    out_dir : path-like
        Output folder (created if missing); each file is written atomically.

    Returns
    -------
    dict of str to pathlib.Path
        ``{"csv": ..., "html": ...}``.
    """
    from ._atomic import write_text_atomic
    from ._format import format_date, format_number
    from ._html import templates

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    csv_path = write_text_atomic(out / "potenza.csv", result.table.to_csv(index=False))
    p_cols = [_p_col(c) for c in result.changes]
    rows = []
    for rec in result.table.to_dict("records"):
        rows.append({
            "name": rec["territory_name"], "n": rec["n_panel"], "ties": rec["ties_baseline"],
            "probs": [("n.d." if math.isnan(rec[c]) else
                       f"{format_number(100 * rec[c], 0)}%") for c in p_cols],
            "mde": "n.d." if math.isnan(rec["mde_pct"]) else _pct_text(rec["mde_pct"]),
            "note": rec["note"],
        })
    terr = result.table[result.table["territory"] != REGION]
    summary = []
    if not terr.empty:
        finite = terr["mde_pct"][np.isfinite(terr["mde_pct"])]
        if finite.size:
            summary.append(
                "Sui singoli territori la variazione minima rilevabile va da "
                f"{_pct_text(float(finite.min()))} a {_pct_text(float(finite.max()))}: "
                "con reti così piccole un esito «incerto» è il risultato atteso anche se "
                "l'obiettivo è davvero raggiunto.")
        for c, col in zip(result.changes, p_cols, strict=True):
            summary.append(
                f"Con una variazione vera di {_pct_text(100 * c)} l'esito «raggiunto» è "
                f"atteso in media sul {format_number(100 * float(terr[col].mean()), 0)}% "
                "dei territori.")
    reg = result.table[result.table["territory"] == REGION]
    if not reg.empty:
        summary.append(
            "Per la regione (endpoint primario) la variazione minima rilevabile è "
            f"{_pct_text(float(reg['mde_pct'].iloc[0]))}.")
    params = (
        f"Parametri: obiettivo {_pct_text(100 * result.target)}, intervallo "
        f"{'bootstrap sui vertici' if result.interval == 'bootstrap' else 'jackknife'}, "
        f"{result.n_sim} simulazioni per territorio"
        + (f", {result.n_boot} repliche bootstrap ciascuna" if result.interval == "bootstrap"
           else "")
        + f", minimo {result.min_ties} legami alla baseline, seme {result.seed}."
    )
    html = templates().get_template("power.html.j2").render(
        title="Potenza della valutazione: +30% di densità di rete"
        if round(100 * result.target) == 30 else
        f"Potenza della valutazione: {_pct_text(100 * result.target)} di densità di rete",
        target=_pct_text(100 * result.target), baseline=format_date(result.baseline),
        summary=summary, change_headers=[f"Se la variazione vera fosse {_pct_text(100 * c)}"
                                         for c in result.changes],
        rows=rows, method=result.method_text, parameters=params,
    )
    html_path = write_text_atomic(out / "potenza.html", html)
    return {"csv": csv_path, "html": html_path}
