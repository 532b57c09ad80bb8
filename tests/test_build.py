"""The README's main command, end to end on the bundled data."""

from __future__ import annotations

import contextlib
import hashlib
import io
import re
from pathlib import Path

import pandas as pd
import pytest
from conftest import ROOT

import opportunity_map as om
from opportunity_map.cli import main

BUNDLED = ROOT / "data" / "ambiti"
SLUGS = ["bergamo", "brescia", "como", "cremona", "lecco", "lodi", "mantova", "milano",
         "monza-brianza", "sondrio", "varese"]


def _digest(folder: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(folder)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The README's command (``--bootstrap 200`` for speed), run once for the module."""
    out = tmp_path_factory.mktemp("build") / "out"
    before = _digest(BUNDLED)
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        status = main(["build", str(BUNDLED), "--baseline", "2026-06-30", "--as-of",
                       "2027-12-31", "--bootstrap", "200", "--seed", "1", "--quiet",
                       "--out", str(out)])
    assert status == 0
    assert _digest(BUNDLED) == before  # inputs never modified
    (out.parent / "stdout.txt").write_text(stdout.getvalue(), encoding="utf-8")
    return out


def test_build_says_what_to_open(built: Path) -> None:
    lines = (built.parent / "stdout.txt").read_text(encoding="utf-8").splitlines()
    assert lines[-1] == f"Apri: {built / 'index.html'}"
    assert "Data della mappa: 31/12/2027." in lines  # the notes state the dates used
    assert not any(line.startswith("Scritto:") for line in lines)  # --quiet


def test_bundled_data_is_valid() -> None:
    problems = om.validate(BUNDLED)
    assert [str(p) for p in problems if p.severity == "error"] == []
    m = om.load(BUNDLED)
    assert sorted(set(m.actors["territory"])) == SLUGS
    for slug in SLUGS:  # every territory has all five groups
        groups = set(m.actors.loc[m.actors["territory"] == slug, "group"])
        assert groups == {"cm", "apl", "cooperazione", "imprese", "servizi"}, slug
    assert (m.actors["geocoded"] == "comune").any()
    assert len(m.ambiti) >= 2


def test_build_writes_everything(built: Path) -> None:
    for slug in [*SLUGS, "index"]:
        assert (built / f"{slug}.html").stat().st_size > 10_000
    for name in ("evaluation.csv", "evaluation.xlsx", "evaluation.html",
                 "mappa_opportunita.gpkg", "mappa_opportunita.xlsx"):
        assert (built / name).is_file()
    table = pd.read_csv(built / "evaluation.csv")
    assert table["territory"].tolist() == [*SLUGS, "lombardia"]
    index = (built / "index.html").read_text(encoding="utf-8")
    assert "<title>Mappe delle opportunità – Lombardia</title>" in index
    assert set(table["verdict"]) <= {"met", "not_met", "inconclusive", "not_evaluable"}


def test_build_outputs_are_offline(built: Path) -> None:
    # anything the browser would fetch by itself: scripts, styles, images, CSS urls, imports
    external = re.compile(
        r"""<(?:script|img|iframe)[^>]*\ssrc\s*=\s*["']?(?:https?:)?//"""
        r"""|<link[^>]*\shref\s*=\s*["']?(?:https?:)?//"""
        r"""|url\(\s*["']?(?:https?:)?//|@import""", re.IGNORECASE)
    for page in built.glob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert not external.search(text), page.name


@pytest.mark.parametrize("name", ["dati", "mappa_opportunita.gpkg", "mappa_opportunita.xlsx"])
def test_build_exports_reload_unchanged(built: Path, name: str) -> None:
    original = om.load(BUNDLED)
    again = om.load(built / name)
    pd.testing.assert_frame_equal(pd.DataFrame(again.actors), pd.DataFrame(original.actors))
    pd.testing.assert_frame_equal(again.relations, original.relations)
    pd.testing.assert_frame_equal(again.opportunities, original.opportunities)
    assert again.ambiti["id"].tolist() == original.ambiti["id"].tolist()
