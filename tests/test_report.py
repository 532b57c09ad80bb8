"""Tests of opportunity_map.report: files, formats, self-containment and escaping."""

from __future__ import annotations

import csv
import math
import re
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from _factories import make_map, random_map

from opportunity_map import report
from opportunity_map._html import templates
from opportunity_map.evaluation import TABLE_COLUMNS, Evaluation, evaluate
from opportunity_map.report import render_html, write_evaluation
from opportunity_map.schema import TIE_DEFINITION

BASE = "2026-03-31"
AT = "2027-03-31"
EVIL = "<script>alert('x')</script> & $x^2$"
#: A name that would run script, evaluate as Jinja or close the <style> element if it
#: were not passed to the template as an escaped variable.
INJECTION = "<script>alert(1)</script> {{ 7*7 }} </style>"


@pytest.fixture(scope="module")
def evaluation() -> Evaluation:
    return evaluate(random_map(4, n=60, r=200), baseline=BASE, as_of=AT, n_boot=50, seed=1)


@pytest.fixture(scope="module")
def written(evaluation: Evaluation, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_evaluation(evaluation, tmp_path_factory.mktemp("out") / "nested" / "dir")


def test_files_exist_and_nothing_else(written: dict[str, Path]) -> None:
    assert set(written) == {"csv", "xlsx", "html"}
    for kind, path in written.items():
        assert path.name == f"evaluation.{kind}" and path.stat().st_size > 0
    folder = written["csv"].parent
    assert sorted(p.name for p in folder.iterdir()) == [
        "evaluation.csv", "evaluation.html", "evaluation.xlsx",
    ]


def test_csv_columns_in_order_and_values(written: dict[str, Path],
                                         evaluation: Evaluation) -> None:
    with written["csv"].open(encoding="utf-8", newline="") as handle:
        header = next(csv.reader(handle))
    assert header[: len(TABLE_COLUMNS)] == list(TABLE_COLUMNS)
    assert header[len(TABLE_COLUMNS)] == "note"
    back = pd.read_csv(written["csv"], encoding="utf-8")
    assert back["territory"].tolist() == evaluation.table["territory"].tolist()
    # densities unrounded: the CSV round-trips the floats exactly
    pd.testing.assert_series_equal(back["density_baseline"],
                                   evaluation.table["density_baseline"])


def test_xlsx_sheets(written: dict[str, Path], evaluation: Evaluation) -> None:
    book = openpyxl.load_workbook(written["xlsx"], read_only=True)
    assert book.sheetnames == ["valutazione", "matrici_blocchi", "blocchi",
                               "serie_semestrale", "parametri", "legenda"]
    header = [c.value for c in next(book["valutazione"].iter_rows(max_row=1))]
    assert header == list(evaluation.table.columns)
    matrices = [row for row in book["matrici_blocchi"].iter_rows(values_only=True)]
    flat = {v for row in matrices for v in row if isinstance(v, str)}
    assert {"Bergamo", "Lombardia", "Collocamento Mirato", "Baseline"} <= flat
    series = pd.read_excel(written["xlsx"], sheet_name="serie_semestrale")
    assert len(series) == len(evaluation.series)
    params = pd.read_excel(written["xlsx"], sheet_name="parametri")
    assert "seed" in params["parametro"].tolist()


def test_html_self_contained_with_images(written: dict[str, Path]) -> None:
    text = written["html"].read_text(encoding="utf-8")
    assert '<html lang="it">' in text
    assert not re.search(r"(?:src|href)\s*=\s*[\"']?\s*(?:https?:)?//", text, re.I)
    assert "http://" not in text and "https://" not in text
    assert "<script" not in text.lower() and "<link" not in text.lower()
    # charts are inline SVG and HTML tables, never images: no <img>, no data: URI
    assert "<img" not in text and not re.search(r"\bdata:image", text)
    assert text.count('<svg class="forest"') == 1
    # one small multiple per territory of the series, one block figure per territory
    assert text.count('aria-label="Andamento semestrale della densità: ') == 4
    assert text.count('aria-label="Densità tra gruppi: ') == 4
    assert text.count('<table class="heat">') == 8
    # every chart has its text alternative: title/desc of the forest, numbers in cells
    assert '<desc id="forest-desc">' in text and "esito" in text
    assert "Nota sul metodo" in text and "panel" in text and "Snijders" in text


def _evil_map(name: str = EVIL):
    actors = [{"id": f"a{i}", "territory": "evil"} for i in range(5)]
    rels = [{"source": "a0", "target": "a1"}, {"source": "a1", "target": "a2"},
            {"source": "a3", "target": "a4", "since": "2026-06-01"}]
    return make_map(actors, rels, territories=[("evil", name), ("bergamo", "Bergamo")])


def test_html_escapes_data(tmp_path: Path) -> None:
    ev = evaluate(_evil_map(), baseline=BASE, as_of=AT, n_boot=30, seed=0)
    text = write_evaluation(ev, tmp_path)["html"].read_text(encoding="utf-8")
    assert "<script>" not in text
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; $x^2$" in text


def test_html_data_is_inert_in_the_template() -> None:
    ev = evaluate(_evil_map(INJECTION), baseline=BASE, as_of=AT, n_boot=30, seed=0)
    text = render_html(ev)
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt; {{ 7*7 }} &lt;/style&gt;"
    # passed as a variable: escaped wherever it appears, never compiled as Jinja source
    for context in (f"<h3>{escaped}</h3>", f"<summary>{escaped}</summary>",
                    f'<th scope="row" class="t">{escaped}</th>',
                    f'aria-label="Densità tra gruppi: {escaped}"',
                    f'aria-label="Andamento semestrale della densità: {escaped}"',
                    f'dy="0.35em" text-anchor="end">{escaped}</text>'):
        assert context in text
    assert "<script" not in text.lower()
    assert text.count("</style>") == 1 and text.count("<style>") == 1
    assert "alert(1)&lt;/script&gt; 49" not in text
    assert templates() is templates()  # one environment for every page


def test_html_tie_definition_and_target_from_evaluation() -> None:
    ev = evaluate(_evil_map(), baseline=BASE, as_of=AT, n_boot=30, seed=0, target=0.25)
    text = render_html(ev)
    # once next to the results table, once in the method section
    assert text.count(TIE_DEFINITION) == 2
    assert "obiettivo <strong>+25,0%</strong>" in text
    assert ">obiettivo +25,0%</text>" in text  # the forest plot's target line
    assert "almeno +25,0%" in text and "sotto +25,0%" in text
    assert "+30,0%" not in text.split("<h2>Tabella dei risultati</h2>")[0]


def test_degenerate_and_no_bootstrap_render(tmp_path: Path) -> None:
    ev = evaluate(make_map([]), baseline=BASE, as_of=AT, n_boot=0)
    paths = write_evaluation(ev, tmp_path)
    text = paths["html"].read_text(encoding="utf-8")
    assert "Non valutabile" in text
    back = pd.read_csv(paths["csv"])
    assert back["verdict"].eq("not_evaluable").all()
    # infinite upper bounds are written as text in Excel, never as a corrupt number
    inf_ev = evaluate(_evil_map(), baseline=BASE, as_of=AT, n_boot=200, seed=0,
                      territories=["evil"])
    assert math.isinf(inf_ev.table["ci_high_pct"].iloc[0])
    paths = write_evaluation(inf_ev, tmp_path / "inf")
    sheet = openpyxl.load_workbook(paths["xlsx"])["valutazione"]
    header = [c.value for c in sheet[1]]
    assert sheet.cell(2, header.index("ci_high_pct") + 1).value == "inf"
    assert "+∞" in paths["html"].read_text(encoding="utf-8")


def test_atomic_write_leaves_old_files_on_failure(tmp_path: Path, evaluation: Evaluation,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    paths = write_evaluation(evaluation, tmp_path)
    before = {k: p.read_bytes() for k, p in paths.items()}

    def boom(_: Evaluation, **__: object) -> str:
        raise RuntimeError("rendering failed")

    monkeypatch.setattr(report, "render_html", boom)
    with pytest.raises(RuntimeError):
        write_evaluation(evaluation, tmp_path)
    assert {k: p.read_bytes() for k, p in paths.items()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in paths.values())


def test_atomic_write_cleans_temporary_file(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*_: object) -> None:
        raise OSError("disk full")

    from opportunity_map import _atomic

    monkeypatch.setattr(_atomic.os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        report.write_bytes_atomic(tmp_path / "evaluation.csv", b"x")
    assert list(tmp_path.iterdir()) == []
