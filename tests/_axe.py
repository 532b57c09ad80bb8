"""axe-core in the browser tests: WCAG 2.0/2.1 A and AA checks of a playwright page.

``axe.min.js`` comes from the npm package ``axe-core`` pinned in ``package.json``
(``npm ci`` at the repository root, which ``.ci/run`` does), or from the path in the
environment variable ``AXE_CORE_JS``. Without it the calling test is skipped, unless
``CI`` is ``"true"``: then it fails, as the other browser tests do.

Usage in a test that already has a playwright ``page`` (network off is fine: the
script is injected as inline content)::

    from _axe import assert_no_serious_violations, run_axe

    violations = run_axe(page)                      # the whole page
    assert_no_serious_violations(page, context="mappa bergamo 390x844")
    run_axe(page, include=["#om-list"])             # one region only
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import pytest

__all__ = [
    "BLOCKING_IMPACTS",
    "WCAG_TAGS",
    "assert_no_serious_violations",
    "axe_source",
    "format_violations",
    "run_axe",
    "serious",
]

#: The rule sets run: WCAG 2.0 and 2.1, levels A and AA.
WCAG_TAGS: tuple[str, ...] = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa")
#: Impacts that fail a test.
BLOCKING_IMPACTS: frozenset[str] = frozenset({"serious", "critical"})

_REPO = Path(__file__).resolve().parents[1]


@functools.cache
def _source_at(path: str) -> str:
    return Path(path).read_text(encoding="utf-8")


def axe_source() -> str:
    """The text of ``axe.min.js``; skips the test (fails when ``CI=true``) if missing."""
    candidates = [os.environ.get("AXE_CORE_JS"),
                  str(_REPO / "node_modules" / "axe-core" / "axe.min.js")]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return _source_at(candidate)
    reason = ("axe-core is not installed: run `npm ci` at the repository root "
              "or set AXE_CORE_JS to the path of axe.min.js")
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true: {reason}")
    pytest.skip(reason)


def run_axe(page: Any, *, include: list[str] | None = None,
            exclude: list[str] | None = None,
            tags: tuple[str, ...] = WCAG_TAGS) -> list[dict[str, Any]]:
    """Run axe-core on ``page`` (a playwright Page) and return its violations.

    Parameters
    ----------
    page : playwright.sync_api.Page
        The page, already loaded.
    include, exclude : list of str, optional
        CSS selectors restricting the checked region (axe's context).
    tags : tuple of str
        axe rule tags; WCAG 2.0/2.1 A and AA by default.

    Returns
    -------
    list of dict
        axe's ``violations``: each with ``id``, ``impact``, ``help``, ``helpUrl``
        and ``nodes`` (each node with ``target`` and ``failureSummary``).
    """
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(content=axe_source())
    context: dict[str, Any] = {}
    if include:
        context["include"] = [[s] for s in include]
    if exclude:
        context["exclude"] = [[s] for s in exclude]
    result = page.evaluate(
        """async ([context, tags]) => {
            const target = Object.keys(context).length ? context : document;
            const r = await window.axe.run(target, {
                runOnly: {type: "tag", values: tags}, resultTypes: ["violations"],
            });
            return r.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
                nodes: v.nodes.map(n => ({target: n.target, html: n.html,
                                          failureSummary: n.failureSummary})),
            }));
        }""",
        [context, list(tags)],
    )
    return list(result)


def serious(violations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The violations whose impact is serious or critical."""
    return [v for v in violations if v.get("impact") in BLOCKING_IMPACTS]


def format_violations(violations: list[dict[str, Any]], *, max_targets: int = 5) -> str:
    """One paragraph per violation: rule id, impact, help, the first offending targets."""
    lines = []
    for v in violations:
        nodes = v.get("nodes", [])
        lines.append(f"- {v['id']} [{v.get('impact')}] {v.get('help')} "
                     f"({len(nodes)} elementi) {v.get('helpUrl', '')}")
        for node in nodes[:max_targets]:
            summary = " ".join(str(node.get("failureSummary") or "").split())
            lines.append(f"    {node.get('target')}: {summary[:240]}")
    return "\n".join(lines)


def assert_no_serious_violations(page: Any, *, context: str = "",
                                 include: list[str] | None = None,
                                 exclude: list[str] | None = None) -> list[dict[str, Any]]:
    """Fail on any serious or critical WCAG 2.1 A/AA violation; return all violations.

    The failure message lists each rule id, impact, help and the first targets;
    ``context`` (e.g. ``"rapporto 390x844"``) is put in front of it.
    """
    violations = run_axe(page, include=include, exclude=exclude)
    blocking = serious(violations)
    if blocking:
        where = f" ({context})" if context else ""
        pytest.fail(f"axe-core: {len(blocking)} violazioni gravi o critiche{where}:\n"
                    + format_violations(blocking), pytrace=False)
    return violations
