"""A small fixed-seed run of benchmarks/coverage.py: the default interval covers."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "coverage.py"
_spec = importlib.util.spec_from_file_location("coverage_bench", _PATH)
assert _spec is not None and _spec.loader is not None
coverage_bench = importlib.util.module_from_spec(_spec)
sys.modules["coverage_bench"] = coverage_bench
_spec.loader.exec_module(coverage_bench)


def test_two_waves_has_the_stated_true_change() -> None:
    import numpy as np

    rng = np.random.default_rng(0)
    ratios = []
    for _ in range(200):
        u0, _, u1, _ = coverage_bench.two_waves(60, 0.45, mean_degree=4.0, rng=rng)
        ratios.append(u1.size / u0.size)
    assert abs(np.mean(ratios) - 1.45) < 0.02


def test_small_design_coverage_at_least_93_percent() -> None:
    rows = coverage_bench.simulate(40, 0.45, n_networks=120, n_boot=200, seed=1)
    by_method = {r["method"]: r for r in rows}
    assert by_method["bootstrap"]["coverage"] >= 0.93
    assert by_method["jackknife"]["coverage"] >= 0.93
    assert 0 <= by_method["bootstrap"]["p_met"] <= 1
