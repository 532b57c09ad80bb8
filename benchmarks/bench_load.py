"""Benchmark: load + validate a Lombardy-scale map against the pandas parsing floor.

Generates the synthetic map (50,000 actors, 250,000 relations, 20,000
opportunities) as CSV files, then, in each of ``--repeat`` rounds, runs in a
fresh process each, interleaved so that a busy machine slows all of them alike:

* the floor: ``pandas.read_csv`` of the three CSVs with ``dtype=str`` and the
  actor points built with ``geopandas.points_from_xy``;
* ``opportunity_map.validate``;
* ``opportunity_map.load``.

It prints the median wall time of each, the ratio to the floor, and the peak
resident memory of the process (``ru_maxrss``), beside the targets: at most 8x
the floor and under 1 GB (and, with ``--actors 200000``, under 5 s).

Usage::

    python benchmarks/bench_load.py [--actors 50000] [--relations 250000]
                                    [--opportunities 20000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
TERRITORIES = HERE.parent / "src" / "opportunity_map" / "data" / "territories.csv"
MAX_RATIO = 8.0
MAX_MB = 1024.0
MAX_SECONDS_200K = 5.0

_CHILD = """
import json, resource, sys, time
import geopandas as gpd
import pandas as pd
import opportunity_map as om
from opportunity_map import geography
from pathlib import Path
folder, what = Path(sys.argv[1]), sys.argv[2]
if what != "floor":
    geography.comuni(); geography.comuni_geometry()   # boundary data, read once per process
t0 = time.perf_counter()
result = {}
if what == "floor":
    actors = pd.read_csv(folder / "actors.csv", dtype=str)
    pd.read_csv(folder / "relations.csv", dtype=str)
    pd.read_csv(folder / "opportunities.csv", dtype=str)
    points = gpd.points_from_xy(pd.to_numeric(actors["lon"]), pd.to_numeric(actors["lat"]))
    result["actors"] = len(points)
elif what == "validate":
    problems = om.validate(folder)
    result["errors"] = sum(p.severity == "error" for p in problems)
    result["warnings"] = len(problems) - result["errors"]
else:
    m = om.load(folder)
    result["actors"], result["relations"] = len(m.actors), len(m.relations)
    result["opportunities"] = len(m.opportunities)
result["seconds"] = time.perf_counter() - t0
result["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(result))
"""

_WHAT = ("floor", "validate", "load")


def _run(folder: Path, what: str) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", _CHILD, str(folder), what],
                         capture_output=True, text=True, check=False)
    if out.returncode != 0:
        sys.exit(f"{what} failed:\n{out.stderr}")
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--actors", type=int, default=50_000)
    parser.add_argument("--relations", type=int, default=None,
                        help="default: 5 per actor")
    parser.add_argument("--opportunities", type=int, default=None,
                        help="default: 2 per 5 actors")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    relations = args.relations if args.relations is not None else 5 * args.actors
    opportunities = (args.opportunities if args.opportunities is not None
                     else 2 * args.actors // 5)
    sys.path.insert(0, str(HERE))
    from synthetic import write_synthetic_map

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "lombardia"
        write_synthetic_map(folder, n_actors=args.actors, n_relations=relations,
                            n_opportunities=opportunities, seed=0)
        shutil.copy(TERRITORIES, folder / "territories.csv")
        size = sum(p.stat().st_size for p in folder.iterdir()) / 1e6
        print(f"map: {args.actors:,} actors, {relations:,} relations, "
              f"{opportunities:,} opportunities ({size:.1f} MB of CSV)")
        runs: dict[str, list[dict[str, float]]] = {w: [] for w in _WHAT}
        for round_ in range(args.repeat):
            for what in _WHAT:  # interleaved: each round times the three in a row
                runs[what].append(_run(folder, what))
            line = "  ".join(f"{w} {runs[w][-1]['seconds']:.3f} s" for w in _WHAT)
            print(f"round {round_ + 1}/{args.repeat}: {line}")
        floor = statistics.median(r["seconds"] for r in runs["floor"])
        # ratio of each round to the floor of the same round, then the median
        for what in _WHAT:
            seconds = statistics.median(r["seconds"] for r in runs[what])
            ratio = statistics.median(r["seconds"] / f["seconds"]
                                      for r, f in zip(runs[what], runs["floor"], strict=True))
            peak = max(r["peak_mb"] for r in runs[what])
            extra = {k: v for k, v in runs[what][0].items() if k not in ("seconds", "peak_mb")}
            verdict = ""
            if what != "floor":
                ok = ratio <= MAX_RATIO and peak < MAX_MB
                if args.actors >= 200_000:
                    ok = ok and seconds < MAX_SECONDS_200K
                verdict = "OK" if ok else "MISSED"
            print(f"{what:8s}: median {seconds:6.3f} s  {ratio:5.1f}x floor  "
                  f"peak RSS {peak:6.0f} MB  {extra}  {verdict}")
        targets = f"targets: <= {MAX_RATIO:g}x floor ({MAX_RATIO * floor:.2f} s), < {MAX_MB:g} MB"
        if args.actors >= 200_000:
            targets += f", < {MAX_SECONDS_200K:g} s"
        print(targets)


if __name__ == "__main__":
    main()
