"""Benchmark: load + validate a Lombardy-scale map (issue target: < 10 s and < 2 GB).

Generates the synthetic map (50,000 actors, 250,000 relations, 20,000
opportunities) as CSV files, then times ``opportunity_map.validate`` and
``opportunity_map.load`` in a fresh process each, reporting wall time and the
peak resident memory of that process (``ru_maxrss``).

Usage::

    python benchmarks/bench_load.py [--actors 50000] [--relations 250000]
                                    [--opportunities 20000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
TERRITORIES = HERE.parent / "src" / "opportunity_map" / "data" / "territories.csv"

_CHILD = """
import json, resource, sys, time
import opportunity_map as om
from opportunity_map import geography
geography.comuni(); geography.comuni_geometry()   # boundary data, read once per process
t0 = time.perf_counter()
result = {}
if sys.argv[2] == "validate":
    problems = om.validate(sys.argv[1])
    result["errors"] = sum(p.severity == "error" for p in problems)
    result["warnings"] = len(problems) - result["errors"]
else:
    m = om.load(sys.argv[1])
    result["actors"], result["relations"] = len(m.actors), len(m.relations)
    result["opportunities"] = len(m.opportunities)
result["seconds"] = time.perf_counter() - t0
result["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(result))
"""


def _run(folder: Path, what: str) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", _CHILD, str(folder), what],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--actors", type=int, default=50_000)
    parser.add_argument("--relations", type=int, default=250_000)
    parser.add_argument("--opportunities", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    sys.path.insert(0, str(HERE))
    from synthetic import write_synthetic_map

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "lombardia"
        write_synthetic_map(folder, n_actors=args.actors, n_relations=args.relations,
                            n_opportunities=args.opportunities, seed=0)
        shutil.copy(TERRITORIES, folder / "territories.csv")
        size = sum(p.stat().st_size for p in folder.iterdir()) / 1e6
        print(f"map: {args.actors:,} actors, {args.relations:,} relations, "
              f"{args.opportunities:,} opportunities ({size:.1f} MB of CSV)")
        for what in ("validate", "load"):
            runs = [_run(folder, what) for _ in range(args.repeat)]
            best = min(r["seconds"] for r in runs)
            peak = max(r["peak_mb"] for r in runs)
            extra = {k: v for k, v in runs[0].items() if k not in ("seconds", "peak_mb")}
            print(f"{what:8s}: best of {args.repeat} {best:6.2f} s   peak RSS {peak:7.0f} MB   "
                  f"{extra}   (target < 10 s, < 2048 MB)")


if __name__ == "__main__":
    main()
