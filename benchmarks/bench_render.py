"""Benchmark of the territorial map: Python render time, HTML size, load time in Chromium.

Budget (issue #4), for one territory with 5,000 organisations and 20,000 ties:

* Python side (``render_map`` + rendering the HTML): < 2 s;
* HTML file: < 3 MB;
* load-to-interactive in headless Chromium, network off, measured from the start
  of navigation to the first animation frame after the map's script has built
  every layer (``html[data-om-ready]``), i.e. when the reader can use it: within
  4x the same measure on a BLANK Leaflet page (Leaflet inlined, nothing else,
  same offline page setup) loaded in the same run. The ratio, not the absolute
  time, is the budget: the machine may be shared and slow, the floor moves with it.

Run::

    python benchmarks/bench_render.py [--actors 5000] [--relations 20000] [--runs 5]
                                      [--territories bergamo,brescia] [--compare OLD.html]
                                      [--out DIR] [--strict]

Python times are medians over ``--runs`` (the first, cold run also loads the
comune boundaries and is reported apart). In the browser the blank page and the
map (and ``--compare``, an HTML file from another version) are loaded in turn,
``--runs`` rounds, and medians are compared. ``--territories`` renders more
territories (each with ``--actors`` and ``--relations``) and reports the size of
each (the first is the one timed). ``--strict`` exits with status 1 when a
figure is over budget. The browser part is skipped when Chromium or playwright
is missing (``CHROMIUM_PATH`` overrides ``/usr/bin/chromium``).
"""

from __future__ import annotations

import argparse
import functools
import logging
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from _map_factory import AS_OF, BASELINE, build_map  # noqa: E402
from branca.element import Element  # noqa: E402

from opportunity_map.changes import tavolo_dates  # noqa: E402
from opportunity_map.maps import _new_map, compute_figures, render_map  # noqa: E402
from opportunity_map.model import OpportunityMap  # noqa: E402

log = logging.getLogger("bench_render")

BUDGET_RENDER_S = 2.0
BUDGET_SIZE_MB = 3.0
BUDGET_LOAD_RATIO = 4.0
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
_MEASURE = """() => new Promise(resolve => requestAnimationFrame(() => setTimeout(() => {
  const om = window.opportunityMaps[0];
  resolve({interactive: performance.now(), ready: om.readyAt, parse: om.parseMs,
           build: om.renderMs, counts: om.counts()});
}, 0)))"""


def _chromium() -> str | None:
    for candidate in (os.environ.get("CHROMIUM_PATH"), "/usr/bin/chromium",
                      shutil.which("chromium")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


# The blank page marks itself ready as the map's script does, with the same fields.
_BLANK_READY = """<script>
window.opportunityMaps = [{readyAt: performance.now(), parseMs: 0, renderMs: 0,
                           counts: function () { return {}; }}];
document.documentElement.setAttribute("data-om-ready", "1");
</script>"""


def _record(errors: list[str], error: object) -> None:
    errors.append(str(error))


def blank_page(bounds: list[list[float]]) -> str:
    """The floor: the same offline folium page with Leaflet inlined and no map content."""
    fmap, _ = _new_map(bounds, title="Pagina vuota", tiles=None)
    root: Any = fmap.get_root()
    root.html.add_child(Element(_BLANK_READY))
    return str(root.render())


def _render(m: OpportunityMap, slug: str, timeline: bool) -> str:
    """One map's HTML; with ``timeline``, as ``tavolo`` draws it (dates, changes layer on)."""
    if not timeline:
        return str(render_map(m, slug, as_of=AS_OF, baseline=BASELINE).get_root().render())
    figures = compute_figures(m, as_of=AS_OF, baseline=BASELINE, previous="2025-12-31",
                              dates=tavolo_dates(AS_OF, count=3))
    return str(render_map(m, slug, figures=figures).get_root().render())


def measure_python(m: OpportunityMap, slug: str, runs: int, timeline: bool = False
                   ) -> tuple[float, list[float], str]:
    """Cold time, warm times and the last HTML of ``render_map`` + render."""
    times = []
    html = ""
    for _ in range(runs + 1):
        started = time.perf_counter()
        html = _render(m, slug, timeline)
        times.append(time.perf_counter() - started)
    return times[0], times[1:], html


def measure_browser(paths: dict[str, Path], runs: int) -> dict[str, list[dict[str, Any]]] | None:
    """Load each of ``paths`` in turn, ``runs`` rounds, offline; the timings of each load."""
    executable = _chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        log.warning("playwright missing: browser timings skipped")
        return None
    if executable is None:
        log.warning("Chromium missing: browser timings skipped")
        return None
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in paths}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        context.set_offline(True)
        for _ in range(runs + 1):  # the first round warms the browser up and is dropped
            for name, path in paths.items():
                page = context.new_page()
                errors: list[str] = []
                page.on("pageerror", functools.partial(_record, errors))
                page.goto(path.resolve().as_uri(), wait_until="commit")
                page.wait_for_function(
                    "document.documentElement.hasAttribute('data-om-ready')",
                    polling=10, timeout=30_000)
                result = page.evaluate(_MEASURE)
                result["errors"] = errors
                results[name].append(result)
                page.close()
        browser.close()
    return {name: loads[1:] for name, loads in results.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--actors", type=int, default=5000)
    parser.add_argument("--relations", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--territories", default="bergamo",
                        help="comma-separated slugs; the first is timed")
    parser.add_argument("--compare", type=Path, default=None,
                        help="another map's HTML to time in the same rounds")
    parser.add_argument("--out", type=Path, default=None, help="keep the HTML in this folder")
    parser.add_argument("--strict", action="store_true", help="exit 1 when over budget")
    parser.add_argument("--timeline", action="store_true",
                        help="maps with a timeline (4 dates, changes layer on), as tavolo's")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")

    slugs = [t.strip() for t in args.territories.split(",") if t.strip()]
    m = build_map(tuple(slugs), n_actors=args.actors, n_relations=args.relations, seed=2)
    out = args.out or Path(tempfile.mkdtemp(prefix="bench_render_"))
    out.mkdir(parents=True, exist_ok=True)
    cold, warm, html = measure_python(m, slugs[0], max(args.runs, 1), args.timeline)
    sizes = {slugs[0]: len(html.encode("utf-8")) / 1e6}
    path = out / f"{slugs[0]}.html"
    path.write_text(html, encoding="utf-8")
    for slug in slugs[1:]:
        other = _render(m, slug, args.timeline)
        sizes[slug] = len(other.encode("utf-8")) / 1e6
        (out / f"{slug}.html").write_text(other, encoding="utf-8")
    data_bounds = render_map(m, slugs[0], as_of=AS_OF).location
    blank = out / "blank.html"
    blank.write_text(blank_page([[data_bounds[0] - 0.3, data_bounds[1] - 0.4],
                                 [data_bounds[0] + 0.3, data_bounds[1] + 0.4]]),
                     encoding="utf-8")

    render_s = statistics.median(warm)
    print(f"Territorio di prova: {args.actors} organizzazioni, {args.relations} legami")
    print(f"Python render {slugs[0]} (mediana di {len(warm)}): {render_s:.2f} s "
          f"(prima esecuzione, a freddo: {cold:.2f} s)  budget < {BUDGET_RENDER_S} s")
    for slug, size_mb in sizes.items():
        print(f"HTML {slug}: {size_mb:.2f} MB  budget < {BUDGET_SIZE_MB} MB")
    print(f"  ({out})")
    over = [render_s >= BUDGET_RENDER_S, max(sizes.values()) >= BUDGET_SIZE_MB]

    pages = {"blank": blank, "map": path}
    if args.compare is not None:
        pages["compare"] = args.compare
    loads = measure_browser(pages, args.runs)
    if loads:
        def median(name: str, key: str) -> float:
            return float(statistics.median(r[key] for r in loads[name]))

        floor = median("blank", "interactive") / 1000
        interactive = median("map", "interactive") / 1000
        ratio = interactive / floor
        print(f"Chromium load-to-interactive (mediane di {len(loads['map'])} giri alternati):")
        print(f"  pagina vuota (Leaflet soltanto): {floor:.3f} s")
        print(f"  mappa: {interactive:.3f} s = {ratio:.2f} x la pagina vuota  "
              f"budget <= {BUDGET_LOAD_RATIO:.0f} x  [script pronto a "
              f"{median('map', 'ready') / 1000:.3f} s; JSON.parse "
              f"{median('map', 'parse'):.0f} ms, costruzione livelli "
              f"{median('map', 'build'):.0f} ms]")
        if "compare" in loads:
            before = median("compare", "interactive") / 1000
            print(f"  confronto ({args.compare.name}): {before:.3f} s = "
                  f"{before / floor:.2f} x la pagina vuota")
        counts = loads["map"][-1]["counts"]
        errors = sorted({e for rs in loads.values() for r in rs for e in r["errors"]})
        print(f"Disegnati: {counts['markers']} organizzazioni, {counts['relationLines']} "
              f"legami ({counts['newLines']} nuovi)")
        if errors:
            print("Errori JavaScript:", *errors, sep="\n  ")
        over.append(ratio > BUDGET_LOAD_RATIO or bool(errors))
    return 1 if args.strict and any(over) else 0


if __name__ == "__main__":
    raise SystemExit(main())
