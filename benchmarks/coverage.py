"""Coverage and power of the evaluation's intervals, by simulation (n x true change).

Design: a panel of n organisations; the baseline network is G(n, p0) with
p0 = mean_degree / (n - 1); the later network keeps every baseline tie and adds
each absent pair independently with probability q = r p0 / (1 - p0), so that the
expected density ratio is exactly 1 + r (the *true* change r). Each simulated pair
of networks goes through the evaluation's own estimator
(:func:`opportunity_map.evaluation.vertex_bootstrap` + the percentile interval with
undefined replicates left out, and :func:`opportunity_map.evaluation.jackknife_interval`),
with the minimum-ties rule. Reported per design and method:

- ``coverage``: share of defined intervals that contain 100 r;
- ``p_met``: share of networks declared ``met`` against the target (power when
  r >= target, false ``met`` rate when r < target);
- ``unbounded``: share of intervals without an upper bound;
- ``not_evaluable``: share of networks below ``min_ties``.

Usage::

    python benchmarks/coverage.py [--networks 300] [--boot 500] [--seed 1]
                                  [--n 20 40 80] [--changes 0.15 0.30 0.45 0.60]
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Sequence

import numpy as np
import pandas as pd

from opportunity_map.evaluation import (
    _relative_change_pct,
    _verdict,
    jackknife_interval,
    percentile_interval,
    vertex_bootstrap,
)
from opportunity_map.metrics import adjacency_matrix

METHODS = ("bootstrap", "jackknife")


def two_waves(n: int, change: float, *, mean_degree: float,
              rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """Baseline ties and later ties (baseline kept, others added at rate q)."""
    p0 = mean_degree / (n - 1)
    q = change * p0 / (1 - p0)
    iu, ju = np.triu_indices(n, k=1)
    base = rng.random(iu.size) < p0
    later = base | (rng.random(iu.size) < q)
    return iu[base], ju[base], iu[later], ju[later]


def simulate(n: int, change: float, *, n_networks: int, n_boot: int, seed: int,
             mean_degree: float = 3.0, target: float = 0.30,
             min_ties: int = 0) -> list[dict[str, object]]:
    """One design: a row per method with coverage, power and the interval's width."""
    rng = np.random.default_rng([seed, n, round(1000 * change)])
    truth, target_pct = 100 * change, 100 * target
    stats = {m: {"covered": 0, "defined": 0, "met": 0, "unbounded": 0, "width": []}
             for m in METHODS}
    not_evaluable = 0
    for _ in range(n_networks):
        u0, v0, u1, v1 = two_waves(n, change, mean_degree=mean_degree, rng=rng)
        if u0.size == 0 or u0.size < min_ties:
            not_evaluable += 1
            continue
        sums, _ = vertex_bootstrap([adjacency_matrix(u0, v0, n, upper=True),
                                    adjacency_matrix(u1, v1, n, upper=True)],
                                   n_boot=n_boot, rng=rng)
        intervals = {
            "bootstrap": percentile_interval(_relative_change_pct(sums[0], sums[1])),
            "jackknife": jackknife_interval(n, u0, v0, u1, v1),
        }
        for method, iv in intervals.items():
            s = stats[method]
            if math.isnan(iv.low) and math.isnan(iv.high):
                continue
            s["defined"] += 1
            s["covered"] += int(iv.low <= truth <= iv.high)
            s["met"] += int(_verdict(iv.low, iv.high, target_pct) == "met")
            s["unbounded"] += int(iv.unbounded)
            if math.isfinite(iv.high) and math.isfinite(iv.low):
                s["width"].append(iv.high - iv.low)
    rows = []
    for method, s in stats.items():
        defined = int(s["defined"])  # type: ignore[call-overload]
        widths = s["width"]
        rows.append({
            "n": n, "true_change_pct": truth, "method": method, "networks": n_networks,
            "coverage": s["covered"] / defined if defined else math.nan,  # type: ignore[operator]
            "p_met": s["met"] / n_networks,  # type: ignore[operator]
            "unbounded": s["unbounded"] / defined if defined else math.nan,  # type: ignore[operator]
            "not_evaluable": not_evaluable / n_networks,
            "median_width_pct": float(np.median(widths)) if widths else math.nan,  # type: ignore[arg-type]
        })
    return rows


def coverage_table(ns: Sequence[int] = (20, 40, 80), changes: Sequence[float] = (
        0.15, 0.30, 0.45, 0.60), *, n_networks: int = 300, n_boot: int = 500, seed: int = 1,
        mean_degree: float = 3.0, min_ties: int = 0) -> pd.DataFrame:
    """The n x true change table for both methods."""
    rows = []
    for n in ns:
        for change in changes:
            rows += simulate(n, change, n_networks=n_networks, n_boot=n_boot, seed=seed,
                             mean_degree=mean_degree, min_ties=min_ties)
    return pd.DataFrame(rows)


def markdown(table: pd.DataFrame) -> str:
    """A Markdown table (no optional dependency), shares as percentages."""
    cols = ["n", "true_change_pct", "method", "coverage", "p_met", "unbounded",
            "not_evaluable", "median_width_pct"]
    lines = ["| " + " | ".join(cols) + " |", "|" + " --- |" * len(cols)]
    for rec in table[cols].to_dict("records"):
        cells = [str(rec["n"]), f"+{rec['true_change_pct']:g}%", str(rec["method"])]
        cells += [f"{100 * float(rec[c]):.1f}%" for c in cols[3:7]]
        cells.append(f"{float(rec['median_width_pct']):.0f} pt")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--networks", type=int, default=300)
    parser.add_argument("--boot", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--n", type=int, nargs="+", default=[20, 40, 80])
    parser.add_argument("--changes", type=float, nargs="+", default=[0.15, 0.30, 0.45, 0.60])
    parser.add_argument("--mean-degree", type=float, default=3.0)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    table = coverage_table(args.n, args.changes, n_networks=args.networks, n_boot=args.boot,
                           seed=args.seed, mean_degree=args.mean_degree)
    print(markdown(table))
    print(f"\n{time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
