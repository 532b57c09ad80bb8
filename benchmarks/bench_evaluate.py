"""Benchmark of :func:`opportunity_map.evaluation.evaluate` (not a timed test).

Builds the synthetic 50,000-actor / 250,000-relation map, evaluates every territory
and the region with 2000 paired bootstrap replicates and prints the wall time
(target: under 10 s on 2 cores) and the peak memory. Then, on a small territory,
compares with the naive way (an explicit networkx relabelled graph per replicate, in
a Python loop): prints the speed ratio and checks that both give the same replicate
densities for the same seed.

Usage::

    python benchmarks/bench_evaluate.py [--actors 50000] [--relations 250000]
                                        [--boot 2000] [--seed 42]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
import tracemalloc
import zlib
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd

from opportunity_map._time import active_mask
from opportunity_map.evaluation import evaluate, resample_vertices
from opportunity_map.model import OpportunityMap
from opportunity_map.schema import KIND_TO_GROUP

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synthetic import load_territories, make_synthetic_map

BASELINE = "2026-03-31"
AT = "2028-12-31"


def build_map(n_actors: int, n_relations: int, *, seed: int = 0) -> OpportunityMap:
    """An :class:`OpportunityMap` from :func:`make_synthetic_map` (no file written)."""
    tables = make_synthetic_map(n_actors, n_relations, 0, seed=seed)
    actors = tables["actors"]
    actors["group"] = actors["kind"].map(KIND_TO_GROUP)
    territories = load_territories()
    return OpportunityMap(
        actors=gpd.GeoDataFrame(
            actors, geometry=gpd.points_from_xy(actors["lon"], actors["lat"]), crs="EPSG:4326"
        ),
        opportunities=tables["opportunities"],
        relations=tables["relations"],
        territories=gpd.GeoDataFrame(
            territories, geometry=[None] * len(territories), crs="EPSG:4326"
        ),
    )


def naive_replicates(
    m: OpportunityMap, scope: str, *, n_boot: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Replicate panel densities the slow, obvious way.

    The panel graphs come from :meth:`OpportunityMap.graph` (networkx); every
    replicate builds the graph on the n drawn copies explicitly, skipping pairs of
    copies of the same actor, and counts its ties and pairs in Python.
    """
    actors = m.actors
    in_scope = actors["territory"] == scope
    panel = in_scope & active_mask(actors, BASELINE) & active_mask(actors, AT)
    ids = actors.loc[panel, "id"].astype(str).tolist()
    g0 = m.graph(BASELINE, territory=scope).subgraph(ids)
    g1 = m.graph(AT, territory=scope).subgraph(ids)
    n = len(ids)
    rng = np.random.default_rng([seed, zlib.crc32(scope.encode("utf-8"))])
    dens0, dens1 = [], []
    for batch in resample_vertices(n, n_boot, rng=rng):
        for idx in batch:
            labels = [ids[i] for i in idx]
            h0, h1 = nx.Graph(), nx.Graph()
            h0.add_nodes_from(range(n))
            h1.add_nodes_from(range(n))
            pairs = 0
            for k in range(n):
                for j in range(k + 1, n):
                    if idx[k] == idx[j]:
                        continue
                    pairs += 1
                    if g0.has_edge(labels[k], labels[j]):
                        h0.add_edge(k, j)
                    if g1.has_edge(labels[k], labels[j]):
                        h1.add_edge(k, j)
            dens0.append(h0.number_of_edges() / pairs if pairs else np.nan)
            dens1.append(h1.number_of_edges() / pairs if pairs else np.nan)
    return np.array(dens0), np.array(dens1)


def edge_loop_replicates(
    m: OpportunityMap, scope: str, *, n_boot: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Replicate panel densities the fair way in Python: one loop over the edges.

    With c_i the copies of actor i drawn in a replicate, the ties among the copies
    are sum over edges (i, j) of c_i c_j and the pairs (n^2 - sum c_i^2) / 2: the same
    estimator as :func:`opportunity_map.evaluation.vertex_bootstrap`, computed with
    networkx graphs and Python loops over the edges instead of sparse matrix products.
    """
    actors = m.actors
    in_scope = actors["territory"] == scope
    panel = in_scope & active_mask(actors, BASELINE) & active_mask(actors, AT)
    ids = actors.loc[panel, "id"].astype(str).tolist()
    position = {a: k for k, a in enumerate(ids)}
    edges = [[(position[a], position[b]) for a, b in m.graph(date, territory=scope)
              .subgraph(ids).edges()] for date in (BASELINE, AT)]
    n = len(ids)
    rng = np.random.default_rng([seed, zlib.crc32(scope.encode("utf-8"))])
    dens0, dens1 = [], []
    for batch in resample_vertices(n, n_boot, rng=rng):
        for idx in batch:
            copies = [0] * n
            for i in idx.tolist():
                copies[i] += 1
            pairs = (n * n - sum(c * c for c in copies)) / 2
            ties = [sum(copies[i] * copies[j] for i, j in wave) for wave in edges]
            dens0.append(ties[0] / pairs if pairs else np.nan)
            dens1.append(ties[1] / pairs if pairs else np.nan)
    return np.array(dens0), np.array(dens1)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description="Benchmark of evaluate()")
    parser.add_argument("--actors", type=int, default=50_000)
    parser.add_argument("--relations", type=int, default=250_000)
    parser.add_argument("--boot", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    print(f"cores available: {os.cpu_count()}")

    t = time.perf_counter()
    m = build_map(args.actors, args.relations)
    print(f"synthetic map: {m!r} built in {time.perf_counter() - t:.2f} s")

    t = time.perf_counter()
    ev = evaluate(m, baseline=BASELINE, as_of=AT, n_boot=args.boot, seed=args.seed)
    wall = time.perf_counter() - t
    region = ev.table.set_index("territory").loc["lombardia"]
    print(
        f"evaluate: {len(ev.table)} territories x {args.boot} paired replicates "
        f"in {wall:.2f} s (target < 10 s)"
    )
    print(
        f"  region panel {region['n_panel']} actors, ties {region['ties_baseline']} -> "
        f"{region['ties_at']}, change {region['change_pct']:.2f}% "
        f"[{region['ci_low_pct']:.2f}, {region['ci_high_pct']:.2f}]"
    )
    cols = ["territory", "n_panel", "ties_baseline", "ties_at", "change_pct", "ci_low_pct",
            "ci_high_pct", "verdict"]
    with pd.option_context("display.width", 160):
        print(ev.table[cols].to_string(index=False))

    tracemalloc.start()
    evaluate(m, baseline=BASELINE, as_of=AT, n_boot=args.boot, seed=args.seed)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory: {peak / 2**20:.0f} MiB allocated during evaluate (tracemalloc); "
          f"process peak RSS {rss:.0f} MiB (map included)")

    # Naive comparison on a small case
    small = build_map(5000, 25000, seed=1)
    scope, n_boot = "lodi", 200
    t = time.perf_counter()
    fast = evaluate(small, baseline=BASELINE, as_of=AT, n_boot=n_boot, seed=args.seed,
                    territories=[scope])
    fast_time = time.perf_counter() - t
    t = time.perf_counter()
    d0, d1 = naive_replicates(small, scope, n_boot=n_boot, seed=args.seed)
    naive_time = time.perf_counter() - t
    t = time.perf_counter()
    e0, e1 = edge_loop_replicates(small, scope, n_boot=n_boot, seed=args.seed)
    edge_time = time.perf_counter() - t
    reps = fast.replicates

    def equal(a: np.ndarray, b: np.ndarray) -> bool:
        return bool(np.allclose(a, b, rtol=1e-12, atol=0, equal_nan=True))

    same = all(equal(reps[col].to_numpy(), ref) for col, ref in (
        ("density_baseline", d0), ("density_at", d1), ("density_baseline", e0),
        ("density_at", e1)))
    print(
        f"{scope} (panel {fast.table['n_panel'].iloc[0]} actors), {n_boot} replicates: "
        f"evaluate {fast_time:.3f} s; fair Python baseline looping over the edges "
        f"{edge_time:.2f} s ({edge_time / fast_time:.0f}x); quadratic loop over every pair "
        f"of copies {naive_time:.2f} s ({naive_time / fast_time:.0f}x); identical "
        f"replicates: {same}"
    )
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
