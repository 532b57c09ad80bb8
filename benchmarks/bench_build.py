"""Benchmark: the whole ``build`` of a Lombardy-scale map, stage by stage, beside its floors.

Generates the synthetic map (``synthetic.py``: 50,000 organisations, 250,000 relations,
20,000 opportunities in the 11 territories) as CSV, then:

1. runs ``opportunity-map build`` as a user would, in a fresh process: wall time and
   peak RSS (targets: under 20 s and under 1.5 GB);
2. times each stage in-process with the library's own functions (load, validate, the
   three exports, evaluation with 2,000 replicates, report, maps);
3. measures the floors in the same run: ``pandas.read_csv`` of the three files (the
   parsing floor of load/validate), ``DataFrame.to_csv`` of the loaded tables (the
   floor of the exports), and a blank Leaflet page (the floor of a map's time to
   interactive in headless Chromium, network off), beside the largest map's size
   (target 3 MB) and its time to interactive.

Run::

    python benchmarks/bench_build.py [--actors 50000] [--relations 250000]
                                     [--opportunities 20000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import pandas as pd  # noqa: E402
from bench_render import blank_page, measure_browser  # noqa: E402
from synthetic import write_synthetic_map  # noqa: E402

import opportunity_map as om  # noqa: E402

BASELINE, AS_OF = "2026-03-31", "2028-12-31"


def _timed(func: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = func()
    return time.perf_counter() - started, result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--actors", type=int, default=50_000)
    parser.add_argument("--relations", type=int, default=250_000)
    parser.add_argument("--opportunities", type=int, default=20_000)
    parser.add_argument("--keep", type=Path, default=None, help="keep the outputs here")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="bench_build_"))
    data = work / "dati"
    write_synthetic_map(data, n_actors=args.actors, n_relations=args.relations,
                        n_opportunities=args.opportunities, seed=0)
    (data / "territories.csv").write_bytes(
        (HERE.parent / "src" / "opportunity_map" / "data" / "territories.csv").read_bytes())
    out = args.keep or work / "out"
    rows: list[tuple[str, str, str, str]] = []

    # 1. the whole build, as a user runs it
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    command = [sys.executable, "-m", "opportunity_map.cli", "build", str(data),
               "--baseline", BASELINE, "--as-of", AS_OF, "--seed", "1", "--out", str(out),
               "-q"]
    t_build, done = _timed(lambda: subprocess.run(command, capture_output=True, text=True))
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if done.returncode != 0:
        print(done.stdout, done.stderr)
        return 1
    peak = max(rss, before) / 1024
    rows.append(("whole build (CLI, fresh process)", f"{t_build:.1f} s, peak RSS {peak:.0f} MB",
                 "—", "< 20 s, < 1.5 GB"))

    # 2. the stages, in-process, with their floors
    files = [data / f"{t}.csv" for t in ("actors", "relations", "opportunities")]
    t_read, _ = _timed(lambda: [pd.read_csv(f, dtype=str, keep_default_na=False)
                                for f in files])
    t_load, m = _timed(lambda: om.load(data))
    t_validate, _ = _timed(lambda: om.validate(data))
    rows.append(("load", f"{t_load:.2f} s", f"pandas read_csv {t_read:.2f} s",
                 f"{t_load / t_read:.0f}× the floor (target ≤ 8×)"))
    rows.append(("validate", f"{t_validate:.2f} s", f"pandas read_csv {t_read:.2f} s",
                 f"{t_validate / t_read:.0f}× the floor (target ≤ 8×)"))
    stage = work / "stages"
    tables = {"actors": pd.DataFrame(m.actors.drop(columns="geometry")),
              "relations": m.relations, "opportunities": m.opportunities}
    stage.mkdir(parents=True, exist_ok=True)
    t_csv_floor, _ = _timed(lambda: [f.to_csv(stage / f"floor_{n}.csv", index=False)
                                     for n, f in tables.items()])
    exports = {}
    for name in ("dati", "mappa.xlsx", "mappa.gpkg"):
        exports[name], _ = _timed(lambda name=name: om.save(m, stage / name))
    total = sum(exports.values())
    rows.append(("exports (CSV + XLSX + GPKG)",
                 f"{total:.1f} s (" + ", ".join(f"{k} {v:.1f} s" for k, v in exports.items())
                 + ")", f"pandas to_csv {t_csv_floor:.2f} s", "≤ 8 s together"))
    t_eval, ev = _timed(lambda: om.evaluate(m, baseline=BASELINE, as_of=AS_OF, seed=1))
    rows.append(("evaluation (12 scopes × 2,000 replicates)", f"{t_eval:.2f} s", "—", "< 10 s"))
    t_report, _ = _timed(lambda: om.write_evaluation(ev, stage / "eval"))
    rows.append(("report (CSV, XLSX, HTML with charts)", f"{t_report:.2f} s", "—", "—"))
    t_maps, _ = _timed(lambda: om.save_maps(m, stage / "maps", evaluation=ev))
    rows.append(("maps (11 territories + index)", f"{t_maps:.2f} s", "—", "—"))

    # 3. the largest map and its time to interactive, beside a blank Leaflet page
    largest = max(out.glob("*.html"), key=lambda p: p.stat().st_size)
    blank = work / "vuota.html"
    x0, y0, x1, y1 = (float(v) for v in m.territories.total_bounds)
    blank.write_text(blank_page([[y0, x0], [y1, x1]]), encoding="utf-8")
    # the same measure as bench_render: a warm-up round, then 7 interleaved rounds
    loads = measure_browser({"blank": blank, "map": largest}, runs=7)
    timings = None if loads is None else [
        statistics.median(load["interactive"] for load in loads[name]) / 1000
        for name in ("blank", "map")]
    size = largest.stat().st_size / 1e6
    if timings is None:
        tti = "n.d. (Chromium missing)"
        ratio = "—"
    else:
        tti = f"{timings[1]:.2f} s"
        ratio = f"{timings[1] / timings[0]:.1f}× the floor (target ≤ 4×)"
    rows.append((f"largest map ({largest.name}), size", f"{size:.2f} MB", "—", "≤ 3 MB"))
    rows.append(("largest map, interactive in Chromium", tti,
                 "blank Leaflet page " + (f"{timings[0]:.2f} s" if timings else "n.d."),
                 ratio))

    print(f"\nsynthetic map: {len(m.actors)} actors, {len(m.relations)} relations, "
          f"{len(m.opportunities)} opportunities\n")
    print("| stage | measured | floor (same run) | target |")
    print("| --- | --- | --- | --- |")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    if args.keep is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
