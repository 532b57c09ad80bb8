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
from markupsafe import escape

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
    assert book.sheetnames == ["Sintesi", "Valutazione", "Matrici dei blocchi", "Blocchi",
                               "Serie semestrale", "Parametri", "Legenda"]
    header = [c.value for c in next(book["Valutazione"].iter_rows(max_row=1))]
    assert header == [report.XLSX_HEADERS[c] for c in evaluation.table.columns]
    matrices = [row for row in book["Matrici dei blocchi"].iter_rows(values_only=True)]
    flat = {v for row in matrices for v in row if isinstance(v, str)}
    assert {"Bergamo", "Lombardia", "Collocamento Mirato", "Baseline"} <= flat
    series = pd.read_excel(written["xlsx"], sheet_name="Serie semestrale")
    assert len(series) == len(evaluation.series)
    params = pd.read_excel(written["xlsx"], sheet_name="Parametri")
    assert "Seme" in params["Parametro"].tolist()


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
    sheet = openpyxl.load_workbook(paths["xlsx"])["Valutazione"]
    header = [c.value for c in sheet[1]]
    assert sheet.cell(2, header.index("IC 95% superiore %") + 1).value == "inf"
    html = paths["html"].read_text(encoding="utf-8")
    assert "illimitato" in html and "+∞" not in html


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


# --------------------------------------------------------------------------------------
# Issue 13: plan, unbounded intervals, not evaluable, sensitivity, power, Italian XLSX
# --------------------------------------------------------------------------------------

FINGERPRINT = "ab" * 32


def _hand_built(evaluation: Evaluation) -> Evaluation:
    """The module's evaluation with a plan, an override, an unbounded interval next to
    a contradicting verdict and a territory not evaluable."""
    import dataclasses
    import datetime as dt

    from opportunity_map.plan import EvaluationPlan

    table = evaluation.table.copy()
    table.loc[0, ["change_pct", "ci_low_pct", "ci_high_pct", "ci_unbounded", "verdict"]] = [
        50.0, 12.0, math.inf, True, "not_met"]
    table.loc[1, ["verdict", "reason_not_evaluable"]] = [
        "not_evaluable", "Solo 9 legami nel panel alla baseline: ne servono almeno 20."]
    plan = EvaluationPlan(baseline=pd.Timestamp(BASE), follow_up=(pd.Timestamp(AT),),
                          target=0.30, interval="bootstrap", n_boot=50, seed=1, min_ties=20,
                          primary_endpoint="lombardia", territory_rule="secondary",
                          agreed_on=dt.date(2026, 5, 15), fingerprint=FINGERPRINT)
    return dataclasses.replace(evaluation, table=table, plan=plan,
                               overrides={"target": (0.30, 0.25)})


def test_plan_box_lines_date_fingerprint_and_overrides(evaluation: Evaluation) -> None:
    ev = _hand_built(evaluation)
    text = render_html(ev)
    box = text.split('<h2 id="piano-titolo">Piano di valutazione</h2>')[1].split("</section>")[0]
    for label, value in ev.plan.lines():
        if value and label != "Impronta SHA-256":
            shown = label.replace("'", "&#39;")
            assert f'<tr><th scope="row">{shown}</th><td>{value}</td></tr>' in box
    assert "<th scope=\"row\">Data dell&#39;accordo</th><td>15/05/2026</td>" in box
    assert f'<code class="fp">{FINGERPRINT}</code>' in box
    assert ("<li>obiettivo: +25,0% dalla riga di comando invece di +30,0% del piano</li>"
            in box)
    assert str(escape(ev.rule_text)) in box
    # the executive summary: the plan's date and short fingerprint
    summary = text.split('id="sintesi-finanziatore"')[1].split("</section>")[0]
    assert f"concordato il 15/05/2026; impronta\n<code class=\"fp\">{FINGERPRINT[:12]}</code>" \
        in summary


def test_without_a_plan_the_report_says_so(evaluation: Evaluation) -> None:
    text = render_html(evaluation)
    assert evaluation.plan is None
    assert text.count(report.NO_PLAN_TEXT) == 2  # summary and plan box
    assert report.POWER_HOW_TO in text  # no power computed: how to get it


def test_unbounded_interval_is_a_word_and_the_verdict_agrees(evaluation: Evaluation) -> None:
    ev = _hand_built(evaluation)
    text = render_html(ev)
    name = ev.table["territory_name"].iloc[0]
    start = f'<tr><th scope="row" class="t">{name}</th><td data-label="Esito"'
    row = next(line for line in text.splitlines() if line.startswith(start))
    assert '<td data-label="IC 95% sup.">illimitato</td>' in row
    assert "Non raggiunto" not in row and ">Incerto</td>" in row
    assert "+∞" not in text
    assert f"{name}: +50,0%, intervallo da +12,0% a illimitato; esito incerto" in text
    assert report.sensitivity_cell(ev.table.iloc[0], "change_pct", "ci_low_pct",
                                   "ci_high_pct") == "+50,0% (da +12,0% a illimitato)"
    assert report.change_figures(ev.table.iloc[0])["interval"] == (
        "intervallo al 95% da +12,0% a illimitato")


def test_not_evaluable_rows_show_their_reason(evaluation: Evaluation) -> None:
    ev = _hand_built(evaluation)
    text = render_html(ev)
    reason = "Solo 9 legami nel panel alla baseline: ne servono almeno 20."
    name = ev.table["territory_name"].iloc[1]
    start = f'<tr><th scope="row" class="t">{name}</th><td data-label="Esito"'
    row = next(line for line in text.splitlines() if line.startswith(start))
    assert ">Non valutabile</td>" in row and f'<td data-label="Note" class="t">{reason}' in row


def test_sensitivity_rows_equal_the_table(evaluation: Evaluation) -> None:
    from opportunity_map._format import format_number

    text = render_html(evaluation)
    section = text.split('id="sensibilita-titolo"')[1].split('id="potenza-titolo"')[0]
    for record in evaluation.table.to_dict("records"):
        cells = []
        for change, low, high in (("change_pct", "ci_low_pct", "ci_high_pct"),
                                  ("change_cohort_pct", "cohort_ci_low_pct",
                                   "cohort_ci_high_pct"),
                                  ("change_network_pct", "network_ci_low_pct",
                                   "network_ci_high_pct"),
                                  ("change_no_level1_pct", "no_level1_ci_low_pct",
                                   "no_level1_ci_high_pct")):
            hi = ("illimitato" if math.isinf(record[high])
                  else format_number(record[high], 1, signed=True) + "%")
            cells.append(f"{format_number(record[change], 1, signed=True)}% "
                         f"(da {format_number(record[low], 1, signed=True)}% a {hi})")
        cells += [format_number(record[c], 2) for c in ("ei_baseline", "ei_at", "ei_expected")]
        row = (f'<tr><th scope="row" class="t">{record["territory_name"]}</th>'
               + "".join(f'<td data-label="{h}">{c}</td>'
                         for h, c in zip(report._SENSITIVITY_HEADER, cells, strict=True))
               + "</tr>")
        assert row in section
        note = record["sensitivity_note"].replace("'", "&#39;")
        assert f"<li><strong>{record['territory_name']}.</strong> {note}</li>" in section


@pytest.fixture(scope="module")
def powered() -> Evaluation:
    return evaluate(random_map(4, n=60, r=200), baseline=BASE, as_of=AT, n_boot=50, seed=1,
                    min_ties=5, power=True, power_options={"n_sim": 20, "n_boot": 40})


def test_power_table_equals_the_power_result(powered: Evaluation) -> None:
    from opportunity_map._format import format_number

    text = render_html(powered)
    section = text.split('id="potenza-titolo"')[1].split("<h2>")[0]
    result = powered.power
    assert result is not None
    rows = re.findall(r'<tr><th scope="row" class="t">([^<]*)</th>(.*?)</tr>', section)
    assert len(rows) == len(result.table)
    for (name, cells), rec in zip(rows, result.table.to_dict("records"), strict=True):
        assert name == rec["territory_name"]
        values = re.findall(r"<td[^>]*>([^<]*)</td>", cells)
        probs = [f"{format_number(100 * rec[f'p_met_{round(100 * c)}'], 0)}%"
                 for c in result.changes]
        mde = ("non rilevabile" if math.isinf(rec["mde_pct"])
               else f"{format_number(rec['mde_pct'], 0, signed=True)}%")
        assert values == [str(rec["n_panel"]), str(rec["ties_baseline"]), *probs, mde]
    assert str(escape(result.method_text)) in section
    assert str(escape(report.power_sentence(result.table))) in text.split("</section>")[0]


def test_xlsx_in_italian_typed_without_formulas(powered: Evaluation, tmp_path: Path) -> None:
    from _xlsx_checks import assert_no_formulas

    ev = _hand_built(powered)
    path = write_evaluation(ev, tmp_path)["xlsx"]
    assert_no_formulas(path)
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["Sintesi", "Valutazione", "Potenza", "Matrici dei blocchi",
                               "Blocchi", "Serie semestrale", "Parametri", "Legenda"]
    table = book["Valutazione"]
    header = [c.value for c in table[1]]
    assert header[:4] == ["Territorio (codice)", "Organizzazioni del panel", "Entrate",
                          "Uscite"]
    assert "Esito" in header and "territory" not in header
    verdicts = [table.cell(r, header.index("Esito") + 1).value
                for r in range(2, table.max_row + 1)]
    assert verdicts[1] == "Non valutabile"
    assert set(verdicts) <= {"Raggiunto", "Non raggiunto", "Incerto", "Non valutabile"}
    density = table.cell(2, header.index("Densità baseline") + 1)
    assert density.data_type == "n" and density.value == ev.table["density_baseline"].iloc[0]
    assert density.number_format == "0.0000"
    summary = book["Sintesi"]
    assert summary["A1"].value == "Sintesi per il finanziatore"
    labels = {summary.cell(r, 1).value: summary.cell(r, 2) for r in range(1, summary.max_row + 1)}
    baseline = labels["Baseline"]
    assert baseline.is_date and baseline.number_format == "DD/MM/YYYY"
    assert baseline.value.date() == pd.Timestamp(BASE).date()
    assert labels["Impronta SHA-256 del piano"].value == FINGERPRINT
    assert labels["Data dell'accordo del piano"].is_date
    assert labels["Potenza"].value == report.power_sentence(ev.power.table)
    params = book["Parametri"]
    assert params["B2"].is_date and params["B2"].number_format == "DD/MM/YYYY"
    legend = pd.read_excel(path, sheet_name="Legenda")
    assert legend["Nome in evaluation.csv"].tolist() == list(ev.table.columns)
    assert legend.set_index("Nome in evaluation.csv").at["verdict", "Colonna"] == "Esito"
    # the CSV keeps the English machine-readable columns and codes
    back = pd.read_csv(tmp_path / "evaluation.csv")
    assert back.columns.tolist() == list(ev.table.columns)
    assert back["verdict"].iloc[1] == "not_evaluable"
