"""Benchmark of the evaluation report: ``render_html`` on the bundled evaluation.

Target: the report of the bundled build (``evaluate(load("data/ambiti"),
baseline="2026-06-30", as_of="2027-12-31", seed=1)``) renders in under 1 s.

"before" is the previous path: the report with the matplotlib charts of
``git show HEAD:src/opportunity_map/report.py`` (loaded into a temporary module,
or from ``--old FILE``), "after" is the installed ``render_html``. The two are
timed interleaved in the same process (the machine may be shared and noisy) and
the medians are printed.

Run::

    python benchmarks/bench_report.py [--runs 5] [--old FILE] [--strict]
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import jinja2

import opportunity_map as om
from opportunity_map import report

ROOT = Path(__file__).resolve().parents[1]
TARGET_S = 1.0


def _git_show(path: str) -> str | None:
    try:
        return subprocess.run(["git", "show", f"HEAD:{path}"], cwd=ROOT, check=True,
                              capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None


def _old_module(path: str | None) -> ModuleType | None:
    """The previous ``report`` module, imported as ``opportunity_map._report_old``.

    It renders with the previous templates too (read from ``HEAD``, same Jinja2
    options as :func:`opportunity_map._html.templates`).
    """
    source = (_git_show("src/opportunity_map/report.py") if path is None
              else Path(path).read_text(encoding="utf-8"))
    if source is None:
        return None
    if "_forest_png" not in source:
        return None  # HEAD already has the new report: nothing to compare with
    folder = Path(tempfile.mkdtemp())
    file = folder / "_report_old.py"
    file.write_text(source, encoding="utf-8")
    name = "opportunity_map._report_old"  # inside the package: relative imports work
    spec = importlib.util.spec_from_file_location(name, file)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    sources = {name: _git_show(f"src/opportunity_map/templates/{name}")
               for name in ("report.html.j2", "report.css")}
    if any(text is None for text in sources.values()):
        return None
    environment = jinja2.Environment(
        loader=jinja2.DictLoader({k: v or "" for k, v in sources.items()}),
        autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True,
        lstrip_blocks=True,
    )
    module.templates = lambda: environment  # type: ignore[attr-defined]
    return module


def _time(render: Any, evaluation: Any) -> float:
    started = time.perf_counter()
    render(evaluation)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--old", help="the old report.py (default: git show HEAD:...)")
    parser.add_argument("--strict", action="store_true", help="exit 1 over target")
    args = parser.parse_args(argv)

    evaluation = om.evaluate(om.load(ROOT / "data" / "ambiti"), baseline="2026-06-30",
                             as_of="2027-12-31", seed=1)
    old = _old_module(args.old)
    renders = {"after": report.render_html}
    if old is not None:
        renders = {"before": old.render_html, "after": report.render_html}
    for render in renders.values():  # warm-up: imports, template compilation, fonts
        render(evaluation)
    times: dict[str, list[float]] = {kind: [] for kind in renders}
    for _ in range(args.runs):
        for kind, render in renders.items():
            times[kind].append(_time(render, evaluation))
    html = report.render_html(evaluation)
    print(f"render_html, bundled evaluation, median of {args.runs} interleaved runs:")
    for kind, values in times.items():
        print(f"  {kind:6s} {statistics.median(values):7.3f} s   "
              f"(min {min(values):.3f}, max {max(values):.3f})")
    after = statistics.median(times["after"])
    if "before" in times:
        print(f"  speed-up x{statistics.median(times['before']) / after:.1f}")
    print(f"  HTML size {len(html.encode('utf-8')) / 1024:.0f} KiB")
    ok = after < TARGET_S
    print(f"target < {TARGET_S:g} s: measured {after:.3f} s -> {'OK' if ok else 'OVER'}")
    return 0 if ok or not args.strict else 1


if __name__ == "__main__":
    sys.exit(main())
