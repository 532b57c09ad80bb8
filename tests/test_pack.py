"""The Tavolo di rete meeting pack (opportunity_map.pack): a real PDF, read back."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

import opportunity_map as om
from opportunity_map.changes import CHANGE_COLUMNS
from opportunity_map.pack import write_pack
from opportunity_map.report import INTERVAL_CAVEAT, change_figures, verdict_rule
from opportunity_map.schema import TIE_DEFINITION

ROOT = Path(__file__).resolve().parents[1]
D, P, BASELINE = "2027-06-30", "2026-12-31", "2026-06-30"

needs_poppler = pytest.mark.skipif(
    shutil.which("pdftotext") is None or shutil.which("pdftoppm") is None,
    reason="pdftotext/pdftoppm (Debian poppler-utils) not installed; .ci/run installs them",
)


@pytest.fixture(scope="module")
def ambiti_map() -> om.OpportunityMap:
    return om.load(ROOT / "data" / "ambiti")


@pytest.fixture(scope="module")
def lecco_pack(ambiti_map: om.OpportunityMap, tmp_path_factory: pytest.TempPathFactory
               ) -> tuple[Path, om.Evaluation, pd.DataFrame, pd.DataFrame]:
    m = ambiti_map
    evaluation = om.evaluate(m, baseline=BASELINE, as_of=D, seed=1, n_boot=200,
                             territories=["lecco"])
    changes = om.find_changes(m, date=D, previous=P, territory="lecco")
    unverified = om.find_unverified(m, as_of=D, territory="lecco")
    path = tmp_path_factory.mktemp("pack") / "tavolo_lecco_2027-06-30.pdf"
    out = write_pack(path, m, territory="lecco", date=D, previous=P, changes=changes,
                     unverified=unverified, evaluation=evaluation)
    assert out == path
    return path, evaluation, changes, unverified


def _text(pdf: Path, *, layout: bool = False) -> str:
    """The text of the PDF: as laid out, or in the order written (a cell's lines together)."""
    options = ["-layout"] if layout else ["-raw"]
    result = subprocess.run(["pdftotext", *options, str(pdf), "-"], check=True,
                            capture_output=True, text=True)
    return result.stdout


def _flat(text: str) -> str:
    """The text with every run of white space (line breaks of the layout) as one space."""
    return " ".join(text.split())


def _pdfinfo(pdf: Path) -> dict[str, str]:
    result = subprocess.run(["pdfinfo", str(pdf)], check=True, capture_output=True, text=True)
    return {k.strip(): v.strip() for k, _, v in
            (line.partition(":") for line in result.stdout.splitlines())}


def _png_grey_spread(png: Path) -> float:
    """Standard deviation of the grey levels of a PNG (0 for a blank page)."""
    from PIL import Image  # matplotlib's dependency

    with Image.open(png) as image:
        grey = image.convert("L")
        values = list(grey.tobytes())
    mean = sum(values) / len(values)
    return float((sum((v - mean) ** 2 for v in values) / len(values)) ** 0.5)


@needs_poppler
def test_pack_pages_size_and_text(lecco_pack: tuple[Path, om.Evaluation, pd.DataFrame,
                                                    pd.DataFrame]) -> None:
    path, evaluation, changes, unverified = lecco_pack
    info = _pdfinfo(path)
    assert 2 <= int(info["Pages"]) <= 4
    assert "595.28 x 841.89" in info["Page size"]  # A4 in points
    flat = _flat(_text(path))
    pages = _text(path, layout=True).split("\f")
    n = int(info["Pages"])
    for i, page in enumerate(pages[:n], start=1):
        assert "Tavolo di rete – Lecco – 30/06/2027" in page
        assert f"pagina {i} di {n}" in page
    assert TIE_DEFINITION in flat
    assert "Nessuna modifica" not in flat
    assert len(changes) > 0
    for name in changes["name"]:
        assert _flat(str(name)) in flat, name
    for label, group in changes.groupby("label"):
        assert f"{label} ({len(group)})" in flat
    # the evaluation, worded as the report words it, with its caveat
    figures = change_figures(evaluation.table.iloc[0])
    assert figures["interval"]
    assert (f"variazione {figures['change_pct']}% ({figures['interval']}): esito "
            f"{figures['verdict_label']}.") in flat
    assert INTERVAL_CAVEAT in flat
    assert _flat(verdict_rule(100 * evaluation.target)) in flat
    # records to verify, truncated
    assert str(unverified["name"].iloc[0]) in flat
    assert f"… e altri {len(unverified) - 12}" in flat
    # Italian numbers: decimal comma, dd/mm/yyyy dates
    assert "0,1517" in flat  # density of Lecco at D
    assert "31/12/2026" in flat
    assert "Ambito di Lecco" in flat


@needs_poppler
def test_pack_pages_are_drawn(lecco_pack: tuple[Path, om.Evaluation, pd.DataFrame,
                                                pd.DataFrame], tmp_path: Path) -> None:
    path = lecco_pack[0]
    subprocess.run(["pdftoppm", "-r", "60", "-png", str(path), str(tmp_path / "page")],
                   check=True)
    pngs = sorted(tmp_path.glob("page-*.png"))
    assert 2 <= len(pngs) <= 4
    for png in pngs:
        assert _png_grey_spread(png) > 10, png.name


@needs_poppler
def test_pack_without_changes_or_evaluation(tmp_path: Path) -> None:
    m = om.example_map()
    changes = pd.DataFrame({c: pd.Series(dtype=object) for c in CHANGE_COLUMNS})
    unverified = om.find_unverified(m, as_of=D, territory="lecco")
    path = write_pack(tmp_path / "tavolo.pdf", m, territory="Lecco", date=D, previous=P,
                      changes=changes, unverified=unverified)
    assert 2 <= int(_pdfinfo(path)["Pages"]) <= 4
    flat = _flat(_text(path))
    assert "Nessuna modifica." in flat
    assert "intervallo al 95%" not in flat
    assert INTERVAL_CAVEAT not in flat


@needs_poppler
def test_pack_warns_on_deleted_rows_and_shows_coverage(ambiti_map: om.OpportunityMap,
                                                       tmp_path: Path) -> None:
    m = ambiti_map
    previous_map = om.load(ROOT / "data" / "ambiti")
    kept = m.actors["id"] != "LC-030"
    current = om.OpportunityMap(m.actors[kept], m.opportunities,
                                m.relations[(m.relations["source"] != "LC-030")
                                            & (m.relations["target"] != "LC-030")],
                                m.territories, m.ambiti, m.source)
    changes = om.find_changes(current, date=D, previous=P, territory="lecco",
                              previous_map=previous_map)
    assert (changes["change"] == "row_removed").any()
    coverage = pd.DataFrame({"tipo": ["TIS"], "comuni coperti": [12], "quota": [0.375]})
    path = write_pack(tmp_path / "tavolo.pdf", current, territory="lecco", date=D, previous=P,
                      changes=changes, unverified=changes.iloc[0:0], coverage=coverage)
    flat = _flat(_text(path))
    assert "righe cancellate: indicare la data di fine 'al' invece di cancellare" in flat
    assert "Copertura" in flat and "0,38" in flat


def test_pack_refuses_an_evaluation_at_another_date(tmp_path: Path) -> None:
    m = om.example_map()
    evaluation = om.evaluate(m, baseline="2026-06-30", as_of="2027-03-31", n_boot=0)
    with pytest.raises(om.UsageError, match="evaluation"):
        write_pack(tmp_path / "x.pdf", m, territory="lecco", date=D, previous=P,
                   changes=om.find_changes(m, date=D, previous=P, territory="lecco"),
                   unverified=om.find_unverified(m, as_of=D, territory="lecco"),
                   evaluation=evaluation)
    assert not (tmp_path / "x.pdf").exists()



@needs_poppler
def test_pack_keeps_to_four_pages_with_many_changes(ambiti_map: om.OpportunityMap,
                                                    tmp_path: Path) -> None:
    labels = {"tie_new": "Legame nuovo", "tie_ended": "Legame concluso",
              "opportunity_new": "Opportunità nuova"}
    changes = pd.DataFrame([
        {"change": c, "label": label, "table": "relations", "id": f"{c}-{i}",
         "name": f"Organizzazione con un nome piuttosto lungo numero {i} – altra {i}",
         "detail": "livello 2 (cooperazione); Tirocinio"}
        for c, label in labels.items() for i in range(80)])
    unverified = om.find_unverified(ambiti_map, as_of=D, territory="bergamo")
    path = write_pack(tmp_path / "tavolo.pdf", ambiti_map, territory="bergamo", date=D,
                      previous=P, changes=changes, unverified=unverified)
    assert 2 <= int(_pdfinfo(path)["Pages"]) <= 4
    flat = _flat(_text(path))
    assert "Legame nuovo (80)" in flat and "… e altri 70" in flat
