"""The Tavolo di rete cycle, end to end on the bundled data: workbook out, edited, back in."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook

import opportunity_map as om
from opportunity_map.cli import main
from opportunity_map.tavolo import prepare_tavolo

DATA = Path(__file__).resolve().parents[1] / "data" / "ambiti"


@pytest.fixture(scope="module")
def bundled() -> om.OpportunityMap:
    return om.load(DATA)


def _rows(frame: pd.DataFrame) -> list[list[object]]:
    """Every cell, missing values as None, for an exact comparison."""
    return frame.astype(object).where(frame.notna(), None).values.tolist()


def _same_tables(a: om.OpportunityMap, b: om.OpportunityMap) -> None:
    for name in ("actors", "opportunities", "relations"):
        left = getattr(a, name).drop(columns="geometry", errors="ignore").reset_index(drop=True)
        right = getattr(b, name).drop(columns="geometry", errors="ignore").reset_index(drop=True)
        assert list(left.columns) == list(right.columns), name
        assert left.dtypes.to_dict() == right.dtypes.to_dict(), name
        assert _rows(left) == _rows(right), name
    if "geometry" in a.actors:
        left, right = a.actors.geometry.reset_index(drop=True), b.actors.geometry.reset_index(
            drop=True)
        assert left.geom_equals_exact(right, 1e-9).all()


def _territory(m: om.OpportunityMap, slug: str) -> om.OpportunityMap:
    ids = set(m.actors.loc[m.actors["territory"] == slug, "id"])
    rel = m.relations
    return om.OpportunityMap(
        actors=m.actors[m.actors["id"].isin(ids)],
        opportunities=m.opportunities[m.opportunities["actor_id"].isin(ids)],
        relations=rel[rel["source"].isin(ids) & rel["target"].isin(ids)],
        territories=m.territories, ambiti=m.ambiti)


def test_the_tavolo_cycle_lists_every_change_and_keeps_every_row(
        bundled: om.OpportunityMap, tmp_path: Path) -> None:
    first = prepare_tavolo(bundled, tmp_path / "giugno", territory="lecco", date="2027-06-30")
    names = sorted(p.name for p in first.written)
    assert names == ["mappa_lecco_2027-06-30.html", "mappa_lecco_2027-06-30.xlsx",
                     "modifiche_lecco_2027-06-30.csv", "tavolo_lecco_2027-06-30.pdf"]
    workbook = tmp_path / "giugno" / "mappa_lecco_2027-06-30.xlsx"
    # next semester's workbook loads back as exactly the territory's data
    back = om.load(workbook)
    _same_tables(_territory(bundled, "lecco"), back)
    assert back.ambiti["id"].tolist() == ["ambito-lecco"]

    # the antenna edits it as the guide says
    edited = tmp_path / "antenna" / "mappa_lecco.xlsx"
    edited.parent.mkdir()
    shutil.copy(workbook, edited)
    book = load_workbook(edited)
    attori, relazioni, opportunita = book["attori"], book["relazioni"], book["opportunita"]
    header = {c.value: c.column - 1 for c in attori[1]}
    new = [None] * attori.max_column
    new[header["id"]], new[header["nome"]] = "LC-900", "Cooperativa Nuova Esempio"
    new[header["tipo"]], new[header["comune"]] = "Cooperativa sociale di tipo B", "Merate"
    new[header["territorio"]], new[header["dal"]] = "Lecco", dt.datetime(2027, 9, 1)
    attori.append(new)
    rel_header = {c.value: c.column - 1 for c in relazioni[1]}
    net = back.network("2027-06-30").ties("lecco")
    single = net[net["n_relations"] == 1].iloc[0]   # one relation: ending it ends the tie
    raised = net[(net["n_relations"] == 1) & (net["level"] < 4)].iloc[1]
    for row in relazioni.iter_rows(min_row=2):
        pair = {row[rel_header["da"]].value, row[rel_header["a"]].value}
        if pair == {single["source"], single["target"]}:
            row[rel_header["al"]].value = dt.datetime(2027, 10, 15)
        if pair == {raised["source"], raised["target"]}:
            row[rel_header["al"]].value = dt.datetime(2027, 9, 30)
            level = int(raised["level"]) + 1
            relazioni.append([raised["source"], raised["target"], "Partenariato",
                              f"{level} – {om.schema.LEVEL_LABELS[level]}",
                              dt.datetime(2027, 10, 1)])
    deleted = opportunita.cell(row=2, column=1).value
    opportunita.delete_rows(2)
    book.save(edited)

    second = prepare_tavolo(edited, tmp_path / "dicembre", territory="lecco",
                            date="2027-12-31", previous_data=workbook)
    assert second.previous == pd.Timestamp("2027-06-30")
    listed = {(c, i) for c, i in second.changes[["change", "id"]].itertuples(index=False)}
    pair = "|".join(sorted((single["source"], single["target"])))
    up = "|".join(sorted((raised["source"], raised["target"])))
    assert ("actor_entered", "LC-900") in listed
    assert ("tie_ended", pair) in listed
    assert ("tie_level_up", up) in listed
    assert ("row_removed", deleted) in listed
    assert any("cancellate" in note and "'al'" in note for note in second.notes)
    csv = pd.read_csv(tmp_path / "dicembre" / "modifiche_lecco_2027-12-31.csv",
                      encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert list(csv.columns) == ["change", "label", "table", "id", "name", "detail"]
    assert csv[["change", "id", "detail"]].values.tolist() == \
        second.changes[["change", "id", "detail"]].values.tolist()
    assert "livello" in csv.loc[csv["id"] == up, "detail"].iloc[0]
    # the December workbook loads back identical to the edited one
    _same_tables(om.load(edited), om.load(tmp_path / "dicembre" / "mappa_lecco_2027-12-31.xlsx"))
    book = load_workbook(tmp_path / "dicembre" / "mappa_lecco_2027-12-31.xlsx")
    assert "modifiche" in book.sheetnames and "da_verificare" in book.sheetnames
    assert book["modifiche"]["A1"].value == "codice"


def test_tavolo_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "tavolo"
    status = main(["tavolo", str(DATA), "--territorio", "Lecco", "--data", "30/06/2027",
                   "--baseline", "30/06/2026", "--bootstrap", "200", "--seed", "1",
                   "--out", str(out)])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert "Tavolo precedente: 31/12/2026 (sei mesi prima" in captured.out
    assert "Modifiche dal Tavolo precedente: Organizzazione entrata 1;" in captured.out
    assert f"Apri: {out / 'tavolo_lecco_2027-06-30.pdf'}" in captured.out
    # run again: next semester's workbook is never overwritten
    status = main(["tavolo", str(DATA), "--territory", "lecco", "--date", "2027-06-30",
                   "--out", str(out)])
    err = capsys.readouterr().err
    assert status == 2 and "esiste già" in err and "Traceback" not in err


@pytest.mark.parametrize(("args", "message"), [
    (["--territory", "atlantide", "--date", "2027-06-30"], "territorio sconosciuto"),
    (["--territory", "lecco", "--date", "2027-06-30", "--previous", "2027-07-01"],
     "deve essere successiva"),
    (["--territory", "lecco", "--date", "2027-06-30", "--verifica-mesi", "0"],
     "numero di mesi non valido"),
])
def test_tavolo_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                             args: list[str], message: str) -> None:
    status = main(["tavolo", str(DATA), *args, "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert status == 2 and message in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_template_from_a_map(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["template", str(tmp_path / "modelli"), "--from", str(DATA),
                   "--territorio", "lecco"])
    assert status == 0, capsys.readouterr().err
    path = tmp_path / "modelli" / "mappa_lecco.xlsx"
    book = load_workbook(path)
    attori = book["attori"]
    header = [c.value for c in attori[1]]
    assert header[:4] == ["id", "nome", "tipo", "comune"] and "verificato_il" in header
    kinds = {row[2].value for row in attori.iter_rows(min_row=2)}
    assert "Collocamento Mirato" in kinds  # Italian labels, not codes
    levels = {row[3].value for row in book["relazioni"].iter_rows(min_row=2)}
    assert levels <= {"1 – conoscenza", "2 – cooperazione", "3 – coordinamento",
                      "4 – integrazione"}
    dal = [row[header.index("verificato_il")] for row in attori.iter_rows(min_row=2)]
    assert any(isinstance(c.value, dt.datetime) and c.number_format == "DD/MM/YYYY"
               for c in dal)  # dates as dates
    comuni = [c.value for c in book["elenchi"]["K"][1:] if c.value]
    assert "Calolziocorte" in comuni and "Bergamo" not in comuni
    validations = {str(v.sqref).split(":")[0]: v for v in attori.data_validations.dataValidation}
    assert validations["D2"].errorStyle == "warning"  # a comune elsewhere: warned, allowed
    relazioni = {str(v.sqref).split(":")[0]: v.formula1
                 for v in book["relazioni"].data_validations.dataValidation}
    assert relazioni["A2"].startswith("attori!$A$2:$A$")  # ids come from the attori sheet
    assert book["elenchi"].protection.sheet
    status = main(["template", str(tmp_path / "modelli"), "--from", str(DATA),
                   "--territorio", "lecco"])
    assert status == 2  # never overwritten
    status = main(["template", str(DATA / "lecco"), "--from", str(DATA)])
    assert status == 2  # never inside the data
