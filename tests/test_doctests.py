"""The docstring examples of every public module run as tests, on the tiny example map."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import numpy as np
import pandas as pd
import pytest

import opportunity_map as om

MODULES = sorted(
    name for _, name, _ in pkgutil.iter_modules(om.__path__, prefix="opportunity_map.")
    if name != "opportunity_map.cli"
)


@pytest.mark.parametrize("name", ["opportunity_map", *MODULES])
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    globs = {"om": om, "np": np, "pd": pd}
    for test in finder.find(module, name, globs=globs):
        test.globs.update(module.__dict__ | globs)
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} docstring examples failed in {name}"


def test_examples_exist_where_the_readme_promises_them() -> None:
    finder = doctest.DocTestFinder(exclude_empty=True)
    for func in (om.load, om.example_map, om.evaluate, om.build, om.render_map, om.save_maps,
                 om.network_stats, om.network_table, om.OpportunityMap.graph):
        tests = finder.find(func)
        assert any(t.examples for t in tests), func.__qualname__
