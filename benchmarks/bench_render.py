"""Benchmark of the territorial map: Python render time, HTML size, load time in Chromium.

Budget (issue #4), for one territory with 5,000 organisations and 20,000 ties:

* Python side (``render_map`` + rendering the HTML): < 2 s;
* HTML file: < 3 MB;
* load-to-interactive in headless Chromium, network off: < 1.5 s, measured from
  the start of navigation to the first animation frame after the map's script
  has built every layer (``html[data-om-ready]``), i.e. when the reader can use it.

Run::

    python benchmarks/bench_render.py [--actors 5000] [--relations 20000] [--runs 5]
                                      [--out DIR] [--strict]

Times are medians over ``--runs`` (the first, cold Python run also loads the
comune boundaries and is reported apart). ``--strict`` exits with status 1 when
a figure is over budget. The browser part is skipped when Chromium or playwright
is missing (``CHROMIUM_PATH`` overrides ``/usr/bin/chromium``).
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from _map_factory import AS_OF, BASELINE, build_map  # noqa: E402

from opportunity_map.maps import render_map  # noqa: E402

log = logging.getLogger("bench_render")

BUDGET_RENDER_S = 2.0
BUDGET_SIZE_MB = 3.0
BUDGET_LOAD_S = 1.5
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


def measure_python(m: object, runs: int) -> tuple[float, list[float], str]:
    """Cold time, warm times and the last HTML of ``render_map`` + render."""
    times = []
    html = ""
    for _ in range(runs + 1):
        started = time.perf_counter()
        html = render_map(m, "bergamo", as_of=AS_OF, baseline=BASELINE).get_root().render()
        times.append(time.perf_counter() - started)
    return times[0], times[1:], html


def measure_browser(path: Path, runs: int) -> list[dict] | None:
    """Load ``path`` ``runs`` times offline; the timings of each load."""
    executable = _chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        log.warning("playwright missing: browser timings skipped")
        return None
    if executable is None:
        log.warning("Chromium missing: browser timings skipped")
        return None
    results = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        context.set_offline(True)
        for _ in range(runs):
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e, errors=errors: errors.append(str(e)))
            page.goto(path.resolve().as_uri(), wait_until="commit")
            page.wait_for_function("document.documentElement.hasAttribute('data-om-ready')",
                                   polling=10, timeout=30_000)
            result = page.evaluate(_MEASURE)
            result["errors"] = errors
            results.append(result)
            page.close()
        browser.close()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--actors", type=int, default=5000)
    parser.add_argument("--relations", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", type=Path, default=None, help="keep the HTML in this folder")
    parser.add_argument("--strict", action="store_true", help="exit 1 when over budget")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")

    m = build_map(("bergamo",), n_actors=args.actors, n_relations=args.relations, seed=2)
    cold, warm, html = measure_python(m, max(args.runs, 1))
    size_mb = len(html.encode("utf-8")) / 1e6
    out = args.out or Path(tempfile.mkdtemp(prefix="bench_render_"))
    out.mkdir(parents=True, exist_ok=True)
    path = out / "bergamo.html"
    path.write_text(html, encoding="utf-8")

    render_s = statistics.median(warm)
    print(f"Territorio di prova: {args.actors} organizzazioni, {args.relations} legami")
    print(f"Python render (mediana di {len(warm)}): {render_s:.2f} s "
          f"(prima esecuzione, a freddo: {cold:.2f} s)  budget < {BUDGET_RENDER_S} s")
    print(f"HTML: {size_mb:.2f} MB  budget < {BUDGET_SIZE_MB} MB  ({path})")
    over = [render_s >= BUDGET_RENDER_S, size_mb >= BUDGET_SIZE_MB]

    loads = measure_browser(path, args.runs)
    if loads:
        interactive = statistics.median(r["interactive"] for r in loads) / 1000
        ready = statistics.median(r["ready"] for r in loads) / 1000
        parse = statistics.median(r["parse"] for r in loads)
        build = statistics.median(r["build"] for r in loads)
        counts = loads[-1]["counts"]
        errors = sorted({e for r in loads for e in r["errors"]})
        print(f"Chromium load-to-interactive (mediana di {len(loads)}): {interactive:.2f} s "
              f"budget < {BUDGET_LOAD_S} s  [script pronto a {ready:.2f} s; "
              f"JSON.parse {parse:.0f} ms, costruzione livelli {build:.0f} ms]")
        print(f"Disegnati: {counts['markers']} organizzazioni, {counts['relationLines']} "
              f"legami ({counts['newLines']} nuovi)")
        if errors:
            print("Errori JavaScript:", *errors, sep="\n  ")
        over.append(interactive >= BUDGET_LOAD_S or bool(errors))
    return 1 if args.strict and any(over) else 0


if __name__ == "__main__":
    raise SystemExit(main())
