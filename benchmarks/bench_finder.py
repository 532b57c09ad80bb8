"""Benchmark: the opportunity finder and coverage at Lombardy scale, beside a floor.

All 1,503 comuni of Lombardy's 12 provinces × 20,000 opportunities of the
synthetic map (:mod:`synthetic`, written as CSV and loaded once, not timed).
Timed, best of ``--repeat``:

* floor: a bare ``scipy.spatial.cKDTree`` built on the 20,000 actor points and
  queried for the 20 nearest of every comune point (the same arrays);
* ``index_opportunities``: active opportunities and actors at the date, in a tree;
* finder, all comuni at once: ``OpportunityIndex.rank`` (the 20 nearest of every
  comune, ties and haversine included, one tree query), and the same with one
  ``OpportunityIndex.around`` call per comune (the ranking behind
  ``find_opportunities``);
* ``find_opportunities`` end to end (name matching, index, table) for 100 comuni,
  scaled to 1,503;
* ``coverage``: every comune of the 11 territories × every type.

Usage::

    python benchmarks/bench_finder.py [--opportunities 20000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from synthetic import write_synthetic_map  # noqa: E402

import opportunity_map as om  # noqa: E402
from opportunity_map import geography as geo  # noqa: E402
from opportunity_map.finder import coverage, find_opportunities, index_opportunities  # noqa: E402

AS_OF = "2026-06-30"


def best(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


#: ISTAT codes of the 12 provinces of Lombardy.
LOMBARDY_PROVINCES = (12, 13, 14, 15, 16, 17, 18, 19, 20, 97, 98, 108)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--opportunities", type=int, default=20_000)
    parser.add_argument("--actors", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    from scipy.spatial import cKDTree

    with tempfile.TemporaryDirectory() as folder:
        write_synthetic_map(folder, n_actors=args.actors, n_relations=1000,
                            n_opportunities=args.opportunities)
        m = om.load(folder)
    table = geo.comuni()
    # every comune of Lombardy (its 12 provinces: the 11 territories and Pavia)
    codes = table.index[table["province_code"].isin(LOMBARDY_PROVINCES)]
    points = geo.comune_points(codes)
    lat, lon = points["lat"].to_numpy(), points["lon"].to_numpy()
    index = index_opportunities(m, as_of=AS_OF)
    print(f"{len(codes)} comuni; {len(m.opportunities)} opportunità, "
          f"{len(index)} attive al {AS_OF}")

    def unit(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        p, q = np.radians(a), np.radians(b)
        return np.column_stack([np.cos(p) * np.cos(q), np.cos(p) * np.sin(q), np.sin(p)])

    olat, olon = index.table["lat"].to_numpy(float), index.table["lon"].to_numpy(float)

    def floor() -> None:
        cKDTree(unit(olat, olon)).query(unit(lat, lon), k=20)

    def rank_all() -> None:
        index.rank(lat, lon, limit=20)

    def around_all() -> None:
        for a, b in zip(lat, lon, strict=True):
            index.around(float(a), float(b), limit=20)

    sample = [str(c) for c in codes[:: max(1, len(codes) // 100)][:100]]

    def finder_sample() -> None:
        for code in sample:
            find_opportunities(m, comune=code, as_of=AS_OF)

    rows = [
        (f"floor: cKDTree build + {len(codes):,} × k=20", best(floor, args.repeat)),
        ("index_opportunities (once per date)",
         best(lambda: index_opportunities(m, as_of=AS_OF), args.repeat)),
        ("finder ranking, every comune at once (rank)", best(rank_all, args.repeat)),
        ("finder ranking, one around() per comune", best(around_all, args.repeat)),
        (f"find_opportunities end to end × {len(codes)} (from 100)",
         best(finder_sample, 1) * len(codes) / len(sample)),
        ("coverage, 11 territories × 12 types",
         best(lambda: coverage(m, as_of=AS_OF), args.repeat)),
    ]
    base = rows[0][1]
    for label, seconds in rows:
        print(f"{label:<52} {seconds * 1000:9.1f} ms  {seconds / base:8.1f}× floor")
    return 0


if __name__ == "__main__":
    sys.exit(main())
