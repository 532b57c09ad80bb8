"""Benchmark: the cost of one territory's map does not grow with the size of the whole map.

Issue #7 target: "the cost of the maps stage grows with the territories rendered, not
with territories x map size". Before the consolidation, each map's summary recomputed
network figures for the whole map (2.9 s for one small territory once the map held
200k actors).

Measured in one run, side by side:

* **floor**: the map of Sondrio (``--small`` organisations) when the map holds only
  Sondrio;
* **measured**: the map of the same Sondrio when the map also holds ten other
  territories of ``--big`` organisations each;
* the figures computed once per build (network at two dates, statistics, evaluation
  without bootstrap), which do grow with the map, reported apart.

Run::

    python benchmarks/bench_maps_scaling.py [--small 200] [--big 20000] [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from _map_factory import AS_OF, BASELINE, build_map  # noqa: E402

import opportunity_map as om  # noqa: E402
from opportunity_map.model import OpportunityMap  # noqa: E402

OTHERS = ("bergamo", "brescia", "como", "cremona", "lecco", "lodi", "mantova", "milano",
          "monza-brianza", "varese")


def _merge(small: OpportunityMap, big: OpportunityMap) -> OpportunityMap:
    import geopandas as gpd
    import pandas as pd

    return OpportunityMap(
        actors=gpd.GeoDataFrame(pd.concat([small.actors, big.actors], ignore_index=True),
                                geometry="geometry", crs="EPSG:4326"),
        opportunities=pd.concat([small.opportunities, big.opportunities], ignore_index=True),
        relations=pd.concat([small.relations, big.relations], ignore_index=True),
        territories=gpd.GeoDataFrame(pd.concat([big.territories, small.territories],
                                               ignore_index=True), crs="EPSG:4326"),
        ambiti=gpd.GeoDataFrame(pd.concat([small.ambiti, big.ambiti], ignore_index=True),
                                crs="EPSG:4326"),
    )


def _page_time(m: OpportunityMap, figures: om.MapFigures, runs: int) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        om.render_map(m, "sondrio", figures=figures).get_root().render()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=200)
    parser.add_argument("--big", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)

    small = build_map(("sondrio",), n_actors=args.small, n_relations=3 * args.small, seed=1)
    others = build_map(OTHERS, n_actors=args.big, n_relations=4 * args.big, seed=2, n_ambiti=0)
    whole = _merge(small, others)
    print(f"map: Sondrio {len(small.actors)} actors; whole map {len(whole.actors)} actors, "
          f"{len(whole.relations)} relations")

    t = time.perf_counter()
    fig_small = om.compute_figures(small, as_of=AS_OF, baseline=BASELINE)
    t_fig_small = time.perf_counter() - t
    t = time.perf_counter()
    fig_whole = om.compute_figures(whole, as_of=AS_OF, baseline=BASELINE)
    t_fig_whole = time.perf_counter() - t

    _page_time(small, fig_small, 1)  # warm the comune outlines cache
    floor = measured = 0.0
    for _ in range(2):  # interleave the two measurements
        floor = _page_time(small, fig_small, args.runs)
        measured = _page_time(whole, fig_whole, args.runs)
    ratio = measured / floor
    print(f"figures once per build: {t_fig_small:.3f} s (Sondrio only) vs "
          f"{t_fig_whole:.3f} s (whole map)")
    print(f"Sondrio page (median of {args.runs}): floor {floor:.3f} s (map of Sondrio only), "
          f"measured {measured:.3f} s (whole map of {len(whole.actors)} actors): "
          f"ratio {ratio:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
