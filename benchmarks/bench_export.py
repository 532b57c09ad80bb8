"""Benchmark: the three exports of a Lombardy-scale map against the pandas CSV floor.

Loads the synthetic map (50,000 actors, 250,000 relations, 20,000 opportunities,
``benchmarks/synthetic.py``) once, then in each of ``--repeat`` rounds times, one
after the other so that a busy machine slows all of them alike:

* the floor: ``DataFrame.to_csv`` of the three tables, plain pandas;
* ``om.save`` to a CSV folder, to ``.xlsx`` and to ``.gpkg``;
* the writers on their own, on the tables ``om.save`` prepares (``io._for_output``):
  ``_xlsx.write_workbook`` and ``_gpkg.write_geopackage`` (with the relation lines
  of ``_gpkg.segments``), and ``io._for_output`` itself, which every ``om.save`` runs.

It prints the median wall time of each, the sum of the three ``om.save`` exports
against the 8 s target, and the sum with ``_gpkg.write_geopackage`` in place of
today's GeoPackage code (``io._for_output`` + layers + writer).

Usage::

    python benchmarks/bench_export.py [--data FOLDER] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import pandas as pd

import opportunity_map as om
from opportunity_map import io
from opportunity_map._gpkg import segments, write_geopackage
from opportunity_map._xlsx import Sheet, write_workbook
from opportunity_map.model import OpportunityMap

HERE = Path(__file__).resolve().parent
TARGET_SECONDS = 8.0


def geopackage_layers(m: OpportunityMap, tables: dict[str, pd.DataFrame]
                      ) -> dict[str, gpd.GeoDataFrame | pd.DataFrame]:
    """The layers ``io._save_geopackage`` writes, with the lines built at once."""
    actors = gpd.GeoDataFrame(tables["actors"], geometry=m.actors.geometry.values,
                              crs="EPSG:4326")
    for name in ("group", "comune_code", "ambito"):
        actors[name] = m.actors[name].map(io._text).to_numpy()
    lines = segments(m.actors["id"], m.actors.geometry.x.to_numpy(),
                     m.actors.geometry.y.to_numpy(), m.relations["source"],
                     m.relations["target"])
    layers: dict[str, gpd.GeoDataFrame | pd.DataFrame] = {
        "actors": actors,
        "opportunities": tables["opportunities"],
        "relations": gpd.GeoDataFrame(tables["relations"], geometry=lines, crs="EPSG:4326"),
        "territories": gpd.GeoDataFrame(
            io._territories_table(m).astype({"province_code": str}),
            geometry=m.territories.geometry.values, crs="EPSG:4326"),
    }
    if len(m.ambiti):
        layers["ambiti"] = gpd.GeoDataFrame(io._ambiti_table(m),
                                            geometry=m.ambiti.geometry.values, crs="EPSG:4326")
    return layers


def workbook_sheets(m: OpportunityMap, tables: dict[str, pd.DataFrame]) -> list[Sheet]:
    """The sheets ``om.save`` writes to ``.xlsx``."""
    sheets = [Sheet(name, frame, freeze_header=True)
              for name, frame in io._typed_for_xlsx(m, tables).items()]
    sheets.append(Sheet("territories", io._territories_table(m), freeze_header=True))
    if len(m.ambiti):
        sheets.append(Sheet("ambiti", io._ambiti_table(m), freeze_header=True))
    return sheets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="folder of the synthetic map's CSV files "
                        "(default: generated in a temporary folder)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch)
        data = args.data
        if data is None:
            sys.path.insert(0, str(HERE))
            from synthetic import write_synthetic_map

            data = out / "data"
            write_synthetic_map(data)
        started = time.perf_counter()
        m = om.load(data)
        print(f"loaded {len(m.actors):,} actors, {len(m.relations):,} relations, "
              f"{len(m.opportunities):,} opportunities in {time.perf_counter() - started:.1f} s")
        tables = io._for_output(m)
        plain = {"actors": pd.DataFrame(m.actors.drop(columns="geometry")),
                 "opportunities": m.opportunities, "relations": m.relations}
        sheets = workbook_sheets(m, tables)

        def floor() -> None:
            for name, frame in plain.items():
                frame.to_csv(out / f"floor_{name}.csv", index=False)

        def direct_gpkg() -> None:
            write_geopackage(geopackage_layers(m, io._for_output(m)), out / "direct.gpkg")

        runs: dict[str, Callable[[], object]] = {
            "floor: DataFrame.to_csv x3": floor,
            "om.save csv folder": lambda: om.save(m, out / "csv"),
            "om.save .xlsx": lambda: om.save(m, out / "map.xlsx"),
            "om.save .gpkg (today's GPKG code)": lambda: om.save(m, out / "map.gpkg"),
            "io._for_output (in every om.save)": lambda: io._for_output(m),
            "_xlsx.write_workbook alone": lambda: write_workbook(out / "direct.xlsx", sheets),
            "_gpkg.write_geopackage + layers": direct_gpkg,
        }
        times: dict[str, list[float]] = {name: [] for name in runs}
        for round_ in range(args.repeat):
            for name, run in runs.items():
                started = time.perf_counter()
                run()
                times[name].append(time.perf_counter() - started)
            print(f"round {round_ + 1}: " + ", ".join(
                f"{name.split(' (')[0]} {t[-1]:.2f}" for name, t in times.items()), flush=True)
        median = {name: statistics.median(t) for name, t in times.items()}
        floor_s = median["floor: DataFrame.to_csv x3"]
        print(f"\nmedian of {args.repeat} rounds (s), ratio to the floor:")
        for name, seconds in median.items():
            print(f"  {name:40s} {seconds:6.2f}  {seconds / floor_s:5.1f}x")
        today = (median["om.save csv folder"] + median["om.save .xlsx"]
                 + median["om.save .gpkg (today's GPKG code)"])
        wired = (median["om.save csv folder"] + median["om.save .xlsx"]
                 + median["_gpkg.write_geopackage + layers"])
        for label, total in (("three om.save exports today", today),
                             ("with _gpkg.write_geopackage wired", wired)):
            verdict = "OK" if total <= TARGET_SECONDS else "OVER"
            print(f"  {label:40s} {total:6.2f}  target {TARGET_SECONDS:.0f} s: {verdict} "
                  f"(floor {floor_s:.2f} s)")


if __name__ == "__main__":
    main()
