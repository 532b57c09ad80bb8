"""Files as they really arrive: pasted from Word, saved by old Excel, merged by hand,
half-downloaded. Every problem is an Italian ``Problem`` with file, row and column,
never a traceback; every file is built as real bytes on disk."""

from __future__ import annotations

import csv
import io
import os
import shutil
import sqlite3
import tempfile
import unicodedata
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from conftest import ACTORS_CSV, OPPORTUNITIES_CSV, RELATIONS_CSV, TERRITORIES, write_map
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import opportunity_map as om
from opportunity_map import Problem
from opportunity_map import geography as geo
from opportunity_map._read import decode_csv, read_csv_text
from opportunity_map.cli import main
from opportunity_map.schema import TABLES, normalize_header


def _errors(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity == "error"]


def _one(problems: list[Problem], needle: str) -> Problem:
    found = [p for p in problems if needle in p.message]
    assert len(found) == 1, f"{needle!r} in {[str(p) for p in problems]}"
    return found[0]


def _with_actors(tmp_path: Path, data: bytes) -> Path:
    root = write_map(tmp_path / "m")
    (root / "bergamo" / "actors.csv").write_bytes(data)
    return root


# --------------------------------------------------------------------------- 1. decoding


def test_utf8_file_with_one_stray_cp1252_byte_is_an_error_at_its_row(tmp_path: Path) -> None:
    # UTF-8 (the en dash of row 2 is a multi-byte sequence) with one row pasted from cp1252
    data = ACTORS_CSV.encode("utf-8").replace(b"Impresa Esempio", b"Impresa Perch\xe9 Esempio")
    root = _with_actors(tmp_path, data)
    problems = _errors(om.validate(root))
    assert len(problems) == 1, problems
    p = problems[0]
    assert p.row == 4  # row 3 spans two lines of text: the row counted as a spreadsheet does
    assert p.message.startswith("file non in UTF-8: riga 4 contiene byte non validi (0xE9)")
    assert "salvare il file come UTF-8 o come Windows-1252 per intero" in p.message
    with pytest.raises(om.DataError):
        om.load(root)


def test_a_file_entirely_in_cp1252_is_decoded(tmp_path: Path) -> None:
    text = ACTORS_CSV.replace("Alfa", "Perché Città")
    root = _with_actors(tmp_path, text.encode("cp1252"))
    m = om.load(root)
    names = m.actors.set_index("id")["name"]
    assert names["BG-001"] == "Collocamento Mirato – Provincia di Bergamo"  # 0x96 in cp1252
    assert names["BG-002"] == "Cooperativa Esempio Perché Città"


def test_an_ascii_file_with_one_cp1252_accent_is_cp1252(tmp_path: Path) -> None:
    # nothing in the file is UTF-8 multi-byte: the whole file is plausibly cp1252
    text = ACTORS_CSV.replace("–", "-").replace("Alfa", "Perché")
    assert om.load(_with_actors(tmp_path, text.encode("cp1252"))).actors["name"].iloc[1] == \
        "Cooperativa Esempio Perché"


@pytest.mark.parametrize("byte", [b"\x81", b"\x8d", b"\x8f", b"\x90", b"\x9d"])
def test_bytes_undefined_in_cp1252_are_an_error_at_their_row(tmp_path: Path,
                                                             byte: bytes) -> None:
    data = ACTORS_CSV.replace("–", "-").encode("cp1252").replace(
        b"Agenzia Esempio", b"Agenzia " + byte + b" Esempio")
    p = _one(om.validate(_with_actors(tmp_path, data)), "byte non validi")
    assert p.row == 5 and p.severity == "error"
    assert "non è un testo in UTF-8 né in Windows-1252" in p.message
    assert f"0x{byte.hex().upper()}" in p.message


def test_binary_content_is_an_error(tmp_path: Path) -> None:
    data = bytes(range(256)) * 8
    p = _one(om.validate(_with_actors(tmp_path, data)), "binario")
    assert p.row is None and p.file.endswith("actors.csv")


def test_utf8_bom_then_invalid_bytes(tmp_path: Path) -> None:
    data = b"\xef\xbb\xbf" + ACTORS_CSV.encode("utf-8").replace(b"Treviglio", b"Trevigli\xf2")
    p = _one(om.validate(_with_actors(tmp_path, data)), "byte non validi")
    assert p.row == 5 and p.message.startswith("file non in UTF-8")


def test_utf16_with_bom_tab_separated(tmp_path: Path) -> None:
    # Excel's "Testo Unicode": UTF-16 LE with a BOM, tab separated
    text = ACTORS_CSV.replace(",", "\t").replace('"nota\t con', '"nota, con')
    root = _with_actors(tmp_path, text.encode("utf-16"))
    m = om.load(root)
    assert m.actors.set_index("id").at["BG-002", "notes"] == "nota, con\na capo"


def test_truncated_utf16_is_an_error(tmp_path: Path) -> None:
    data = ACTORS_CSV.encode("utf-16")[:-1]
    p = _one(om.validate(_with_actors(tmp_path, data)), "UTF-16")
    assert p.severity == "error"


def test_decode_rule_in_isolation() -> None:
    assert decode_csv("a\nà\n".encode(), "x.csv") == ("a\nà\n", [])
    assert decode_csv("a\nà\n".encode("cp1252"), "x.csv") == ("a\nà\n", [])
    text, problems = decode_csv("a\nà\n".encode() + b"\xe0\n", "x.csv")
    assert problems[0].row == 3 and text.endswith("\ufffd\n")


# --------------------------------------------------------------------------- 2. quotes


def test_unclosed_quote_at_the_end_is_reported_where_it_opens(tmp_path: Path) -> None:
    relations = RELATIONS_CSV.replace("tavolo_di_rete,1,,2026-12-31,",
                                      'tavolo_di_rete,1,,2026-12-31,"nota aperta')
    p = _one(om.validate(write_map(tmp_path / "m", relations=relations)), "virgolette")
    assert (p.row, p.column) == (5, "note")
    assert p.message == "virgolette non chiuse: il campo aperto alla riga 5 non si chiude"


def test_unclosed_quote_in_the_middle_and_the_rows_after_are_still_checked(
        tmp_path: Path) -> None:
    actors = ACTORS_CSV.replace("Cooperativa Esempio Alfa", '"Cooperativa Esempio Alfa').replace(
        "Treviglio", "Trevigliox")
    problems = _errors(om.validate(write_map(tmp_path / "m", actors=actors)))
    quote = _one(problems, "virgolette non chiuse")
    assert (quote.row, quote.column) == (3, "nome")
    assert quote.message.startswith("virgolette non chiuse: il campo aperto alla riga 3 ")
    assert _one(problems, "comune sconosciuto").row == 5  # later rows keep their numbers


def test_quote_closed_on_a_later_line_names_both_rows(tmp_path: Path) -> None:
    # the quote opened in row 4 is taken to close at the (literal) quote of row 5
    actors = ACTORS_CSV.replace("Impresa Esempio Meccanica", '"Impresa Esempio Meccanica').replace(
        "Agenzia Esempio Lavoro", 'Agenzia Esempio "Lavoro"')
    problems = om.validate(write_map(tmp_path / "m", actors=actors))
    p = _one(problems, "virgolette non chiuse")
    assert (p.row, p.column) == (4, "nome")
    assert "le virgolette successive, alla riga 5, non sono seguite dal separatore" in p.message
    assert len(_errors(problems)) == 1


def test_quotes_inside_a_quoted_field_must_be_doubled(tmp_path: Path) -> None:
    actors = ACTORS_CSV.replace("Impresa Esempio Meccanica", '"Impresa "La Rosa" srl"')
    p = _one(om.validate(write_map(tmp_path / "m", actors=actors)), "virgolette")
    assert p.row == 4 and 'va scritta due volte: ""' in p.message
    ok = ACTORS_CSV.replace("Impresa Esempio Meccanica", '"Impresa ""La Rosa"" srl"')
    m = om.load(write_map(tmp_path / "ok", actors=ok))
    assert m.actors["name"].iloc[2] == 'Impresa "La Rosa" srl'


def test_read_csv_text_recovers_after_an_unclosed_quote() -> None:
    frame, rows, problems = read_csv_text('a;b\n1;"x\n2;y\n', "t.csv")
    assert frame is not None
    assert frame["b"].tolist() == ['"x', "y"] and rows.tolist() == [2, 3]
    assert [(p.row, p.column) for p in problems] == [(2, "b")]


# --------------------------------------------------------------------------- 3. line breaks


def test_crlf_inside_a_quoted_cell_round_trips(tmp_path: Path) -> None:
    actors = ACTORS_CSV.replace("\n", "\r\n").replace('"nota, con\r\na capo"',
                                                      '"riga uno\r\nriga due\rtre"')
    root = write_map(tmp_path / "m", actors=actors)
    m = om.load(root)
    a = m.actors.set_index("id")
    assert a.at["BG-002", "notes"] == "riga uno\r\nriga due\rtre"
    assert a.at["BG-003", "comune_code"] == 16252  # rows after it are intact
    again = om.load(om.save(m, tmp_path / "out"))
    assert again.actors.set_index("id").at["BG-002", "notes"] == "riga uno\r\nriga due\rtre"


def test_lone_cr_inside_a_cell_round_trips(tmp_path: Path) -> None:
    actors = ACTORS_CSV.replace('"nota, con\na capo"', '"riga uno\rriga due"')
    m = om.load(write_map(tmp_path / "m", actors=actors))
    assert m.actors["notes"].iloc[1] == "riga uno\rriga due"
    again = om.load(om.save(m, tmp_path / "out"))
    assert again.actors["notes"].iloc[1] == "riga uno\rriga due"


def test_old_mac_line_endings(tmp_path: Path) -> None:
    relations = RELATIONS_CSV.replace("\n", "\r").replace("invio,2", "invio,9")
    p = _one(om.validate(write_map(tmp_path / "m", relations=relations)), "livello")
    assert p.row == 2


# --------------------------------------------------------------------------- 4. control chars


@pytest.mark.parametrize(("char", "code"), [
    ("\x00", "U+0000"), ("\x0b", "U+000B"), ("\x0c", "U+000C"), ("\x1b", "U+001B"),
    ("\x85", "U+0085"), ("\x9f", "U+009F"),
])
def test_control_characters_in_a_cell(tmp_path: Path, char: str, code: str) -> None:
    actors = ACTORS_CSV.replace("Impresa Esempio", f"Impresa{char}Esempio")
    p = _one(om.validate(write_map(tmp_path / "m", actors=actors)), "carattere di controllo")
    assert (p.row, p.column, p.severity) == (4, "nome", "error")
    assert code in p.message


def test_tab_and_line_breaks_are_allowed_in_cells(tmp_path: Path) -> None:
    actors = ACTORS_CSV.replace("Impresa Esempio Meccanica", '"Impresa\tEsempio\nMeccanica"')
    assert not _errors(om.validate(write_map(tmp_path / "m", actors=actors)))


def test_control_character_in_a_header(tmp_path: Path) -> None:
    actors = ACTORS_CSV.replace("sito_web,note", "sito_web,note,ex\x0btra")
    p = _one(om.validate(write_map(tmp_path / "m", actors=actors)), "carattere di controllo")
    assert p.row == 1 and p.column == "ex\\x0btra"  # printed as an escape, never raw


# --------------------------------------------------------------------------- 5. bookkeeping


def test_user_columns_named_like_internal_ones_are_kept(tmp_path: Path) -> None:
    header = "sito_web,note,_file,_row,Unnamed: 3"
    lines = ACTORS_CSV.replace("sito_web,note", header, 1).replace('"nota, con\na capo"',
                                                                   "nota").splitlines()
    lines = [lines[0]] + [line + ",a.csv,7,u" if line.startswith("BG-") else line
                          for line in lines[1:]]
    root = write_map(tmp_path / "m", actors="\n".join(lines) + "\n")
    assert not _errors(om.validate(root))
    m = om.load(root)
    assert m.actors["_file"].tolist() == ["a.csv"] * 4
    assert m.actors["_row"].tolist() == ["7"] * 4
    assert m.actors["Unnamed: 3"].tolist() == ["u"] * 4
    again = om.load(om.save(m, tmp_path / "out"))
    pd.testing.assert_frame_equal(pd.DataFrame(again.actors), pd.DataFrame(m.actors))


# --------------------------------------------------------------------------- 6. headers


@pytest.mark.parametrize(("header", "first", "second"), [
    ("id,nome,tipo,comune,Nome", "nome", "Nome"),
    ("id,nome,tipo,comune,note,note", "note", "note"),
    ("id,nome,tipo,comune,Qualità,qualita", "Qualità", "qualita"),
])
def test_repeated_headers_name_both_columns(tmp_path: Path, header: str, first: str,
                                            second: str) -> None:
    width = header.count(",") + 1
    actors = header + "\nX-1,Coop,cooperativa_b,Bergamo" + ",x" * (width - 4) + "\n"
    problems = _errors(om.validate(write_map(tmp_path / "m", actors=actors,
                                             relations="source,target,kind,level\n")))
    p = _one(problems, "colonna ripetuta")
    assert p.row == 1 and p.column == second
    assert f"{second!r} (colonna {chr(64 + width)})" in p.message
    assert repr(first) in p.message


def test_reserved_header(tmp_path: Path) -> None:
    actors = "id,nome,tipo,comune,geometry\nX-1,Coop,cooperativa_b,Bergamo,POINT (1 2)\n"
    p = _one(om.validate(write_map(tmp_path / "m", actors=actors)), "riservato")
    assert (p.row, p.column) == (1, "geometry")


def test_data_under_an_empty_header(tmp_path: Path) -> None:
    actors = "id,nome,tipo,comune,\nX-1,Coop,cooperativa_b,Bergamo,dato\n"
    p = _one(om.validate(write_map(tmp_path / "m", actors=actors)), "intestazione")
    assert "colonna E" in p.message


# --------------------------------------------------------------------------- 7. broken files


def _workbook(tmp_path: Path) -> Path:
    return om.save(om.load(write_map(tmp_path / "src")), tmp_path / "mappa.xlsx")


def _check_unreadable(path: Path, needle: str, capsys: pytest.CaptureFixture[str],
                      tmp_path: Path) -> None:
    problems = om.validate(path)
    assert any(needle in p.message for p in _errors(problems)), problems
    with pytest.raises(om.DataError):
        om.load(path)
    status = main(["export", str(path), "--out", str(tmp_path / "esportato")])
    _, err = capsys.readouterr()
    assert status == 1 and "Traceback" not in err and needle in err


def _broken_workbooks(tmp_path: Path) -> dict[str, tuple[bytes, str]]:
    good = _workbook(tmp_path).read_bytes()
    other_zip = io.BytesIO()
    with zipfile.ZipFile(other_zip, "w") as archive:
        archive.writestr("foto.txt", "non una cartella di lavoro")
    return {
        "troncato": (good[: len(good) // 2], "danneggiato o incompleto"),
        "cifrato": (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + os.urandom(2048),
                    "protetto da password"),
        "csv": (ACTORS_CSV.encode(), "è un file di testo"),
        "zip": (other_zip.getvalue(), "archivio zip che non contiene"),
        "vuoto": (b"", "vuoto"),
    }


@pytest.mark.parametrize("case", ["troncato", "cifrato", "csv", "zip", "vuoto"])
def test_broken_workbook_given_directly(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                       case: str) -> None:
    data, needle = _broken_workbooks(tmp_path)[case]
    path = tmp_path / "attori.xlsx"
    path.write_bytes(data)
    _check_unreadable(path, needle, capsys, tmp_path)
    p = _one(om.validate(path), needle)
    assert p.message.startswith("file non leggibile come cartella di lavoro Excel: ")


@pytest.mark.parametrize("case", ["troncato", "cifrato", "csv", "zip"])
def test_broken_workbook_in_a_folder(tmp_path: Path, case: str) -> None:
    data, needle = _broken_workbooks(tmp_path)[case]
    root = write_map(tmp_path / "m")
    (root / "bergamo" / "relations.csv").unlink()
    (root / "bergamo" / "relazioni.xlsx").write_bytes(data)
    p = _one(_errors(om.validate(root)), needle)
    assert p.file.endswith("relazioni.xlsx") and p.row is None


def _geopackages(tmp_path: Path) -> dict[str, bytes]:
    good = om.save(om.load(write_map(tmp_path / "src")), tmp_path / "buona.gpkg").read_bytes()
    return {"casuale": os.urandom(4096), "troncato": good[:4096],
            "sqlite": _plain_sqlite(tmp_path), "metà": good[: len(good) // 2]}


def _plain_sqlite(tmp_path: Path) -> bytes:
    path = tmp_path / "plain.sqlite"
    with sqlite3.connect(path) as con:
        con.execute("create table x (a text)")
    return path.read_bytes()


@pytest.mark.parametrize("case", ["casuale", "troncato", "sqlite", "metà"])
def test_broken_geopackage(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                           case: str) -> None:
    path = tmp_path / "mappa.gpkg"
    path.write_bytes(_geopackages(tmp_path)[case])
    problems = om.validate(path)  # never raises
    assert _errors(problems)
    with pytest.raises(om.DataError):
        om.load(path)
    assert main(["validate", str(path)]) == 1
    assert "Traceback" not in capsys.readouterr().err


def test_random_bytes_geopackage_message(tmp_path: Path) -> None:
    root = write_map(tmp_path / "m")
    (root / "bergamo" / "vecchia.gpkg").write_bytes(os.urandom(4096))
    p = _one(om.validate(root), "GeoPackage")
    assert p.message == "file non leggibile come GeoPackage: non è un file GeoPackage"


def test_unreadable_file_is_a_problem(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads every file")
    root = write_map(tmp_path / "m")
    (root / "bergamo" / "actors.csv").chmod(0)
    assert _one(om.validate(root), "permesso negato").row is None


# --------------------------------------------------------------------------- 8. numbers, dates


@pytest.mark.parametrize(("old", "new", "column", "needle"), [
    ("45.6947", "1e400", "latitudine", "numero troppo grande"),
    ("45.6947", "99999999999999999999", "latitudine", "fuori scala"),
    ("45.6947", "nan", "latitudine", "numero non valido"),
    ("45.6947", "inf", "latitudine", "numero non valido"),
    ("45.6947", "４５.6947", "latitudine", "numero non valido"),
    ("45.6947", "4_5.6947", "latitudine", "numero non valido"),
])
def test_numbers_out_of_range(tmp_path: Path, old: str, new: str, column: str,
                              needle: str) -> None:
    actors = ACTORS_CSV.replace(old, new, 1)
    p = _one(_errors(om.validate(write_map(tmp_path / "m", actors=actors))), needle)
    assert (p.row, p.column) == (2, column)


@pytest.mark.parametrize("value", ["99999999999999999999", "1e400", "1e12"])
def test_capacity_too_large(tmp_path: Path, value: str) -> None:
    opportunities = OPPORTUNITIES_CSV.replace("laboratorio,4", f"laboratorio,{value}")
    p = _one(om.validate(write_map(tmp_path / "m", opportunities=opportunities)), "troppo grande")
    assert (p.row, p.column) == (2, "posti")


@pytest.mark.parametrize("value", ["31/12/9999", "9999-12-31", "31/12/2999", "01/01/2200"])
def test_endless_until_is_an_empty_until_with_a_warning(tmp_path: Path, value: str) -> None:
    relations = RELATIONS_CSV.replace("2026-12-31", value)
    root = write_map(tmp_path / "m", relations=relations)
    problems = om.validate(root)
    assert not _errors(problems)
    p = _one(problems, "senza fine")
    assert (p.row, p.column, p.severity) == (5, "al", "warning")
    assert p.message == f"{value} indica 'senza fine': trattato come data di fine vuota"
    m = om.load(root)
    assert pd.isna(m.relations["until"].iloc[3])
    assert m.graph(as_of="2027-01-01").has_edge("BG-001", "BG-004")  # was until 2026-12-31


@pytest.mark.parametrize(("column", "value", "needle"), [
    ("dal", "31/12/9999", "fuori intervallo"),
    ("dal", "01/01/1850", "fuori intervallo"),
    ("al", "31/12/1899", "fuori intervallo"),
    ("dal", "0001-01-01", "fuori intervallo"),
    ("dal", "0000-01-01", "data inesistente"),
    ("dal", "31/02/2026", "data inesistente"),
    ("al", "31/02/9999", "data inesistente"),
    ("dal", "1 luglio", "data non valida"),
])
def test_dates_out_of_range(tmp_path: Path, column: str, value: str, needle: str) -> None:
    new = f"{value},," if column == "dal" else f"2026-07-01,{value},"
    relations = RELATIONS_CSV.replace("2026-07-01,,", new, 1)
    p = _one(_errors(om.validate(write_map(tmp_path / "m", relations=relations))), needle)
    assert (p.row, p.column) == (2, column)


# --------------------------------------------------------------------------- 9. Unicode


def test_invisible_characters_in_a_comune_are_ignored_with_a_warning(tmp_path: Path) -> None:
    actors = ACTORS_CSV.replace("Treviglio", "Trevi\u200bglio\ufeff").replace(
        "Castro", "Cast\u00adro")
    root = write_map(tmp_path / "m", actors=actors)
    problems = om.validate(root)
    assert not _errors(problems)
    assert {p.row for p in problems if "invisibile" in p.message} == {3, 5}
    codes = om.load(root).actors.set_index("id")["comune_code"]
    assert codes["BG-004"] == 16219 and codes["BG-002"] == 16065


def test_decomposed_accents_are_kept_as_typed(tmp_path: Path) -> None:
    nfd = unicodedata.normalize("NFD", "Cantù")
    nfd_id = unicodedata.normalize("NFD", "CO-Città")
    actors = (f"id,nome,tipo,comune\n{nfd_id},Coop,cooperativa_b,{nfd}\n"
              "CO-2,Coop 2,impresa,Como\n")
    relations = f"da,a,tipo,livello\n{nfd_id},CO-2,invio,1\n"
    m = om.load(write_map(tmp_path / "m", actors=actors, relations=relations,
                          opportunities=None, territory="como"))
    # every character comes back as typed; the comune is still matched
    assert m.actors["id"].iloc[0] == nfd_id != "CO-Città"
    assert m.actors["comune"].iloc[0] == nfd
    assert m.actors["comune_code"].iloc[0] == 13041
    again = om.load(om.save(m, tmp_path / "copia"))
    assert again.actors["id"].iloc[0] == nfd_id


@pytest.mark.parametrize("char", ["\u202e", "\u202a", "\u2066", "\u200f", "\u061c"])
def test_bidi_controls_are_errors(tmp_path: Path, char: str) -> None:
    actors = ACTORS_CSV.replace("Agenzia Esempio", f"Agenzia {char}Esempio")
    p = _one(om.validate(write_map(tmp_path / "m", actors=actors)), "direzione del testo")
    assert (p.row, p.column, p.severity) == (5, "nome", "error")
    assert f"U+{ord(char):04X}" in p.message


@pytest.mark.parametrize("name", ["²", "١٢", "Berg\u202eamo", "\U0001f600", "Ｂｅｒｇａｍｏ",
                                  "x" * 5000, "\u0301", "'"])
def test_odd_comune_names_never_raise(tmp_path: Path, name: str) -> None:
    actors = f"id,nome,tipo,comune\nBG-1,Coop,cooperativa_b,\"{name}\"\n"
    problems = om.validate(write_map(tmp_path / "m", actors=actors,
                                     relations="da,a,tipo,livello\n", opportunities=None))
    assert all(len(p.message) < 400 for p in problems)
    geo.match_comune(name, provinces=(16,))


# --------------------------------------------------------------------------- 10. territories


def _territories_map(tmp_path: Path, territories: bytes, ambiti: bytes | None = None) -> Path:
    root = tmp_path / "m"
    (root / "pavia").mkdir(parents=True)
    (root / "territories.csv").write_bytes(territories)
    if ambiti is not None:
        (root / "ambiti.csv").write_bytes(ambiti)
    (root / "pavia" / "actors.csv").write_text(
        "id,name,kind,comune\nPV-1,Coop,cooperativa_b,Vigevano\nPV-2,Comune,servizio_sociale,"
        "Pavia\n", encoding="utf-8")
    (root / "pavia" / "relations.csv").write_text("source,target,kind,level\nPV-1,PV-2,invio,2\n",
                                                  encoding="utf-8")
    return root


def test_territories_and_ambiti_in_cp1252_with_semicolons(tmp_path: Path) -> None:
    territories = "slug;name;province_code\npavia;Pavia – Lomellina e città\n"
    territories = territories.replace("città\n", "città;18\n")
    ambiti = "id;name;territory;comune_codes\npv-vig;Ambito di Vigevano – Lomellina;pavia;18177\n"
    root = _territories_map(tmp_path, territories.encode("cp1252"), ambiti.encode("cp1252"))
    m = om.load(root)
    assert m.territories.set_index("slug").at["pavia", "name"] == "Pavia – Lomellina e città"
    assert m.ambiti["name"].tolist() == ["Ambito di Vigevano – Lomellina"]


@pytest.mark.parametrize(("line", "column", "needle"), [
    ("Pavia Sud,Pavia,18", "slug", "slug non valido"),
    ("index,Pavia,18", "slug", "slug non valido"),
    ("../pavia,Pavia,18", "slug", "slug non valido"),
    ("pavia\u200b,Pavia,18", "slug", "slug non valido"),
    ("pavia,Pavia,999", "province_code", "provincia sconosciuto"),
    ("pavia,Pavia,²", "province_code", "provincia sconosciuto"),
    ("pavia,,18", "name", "obbligatorio"),
])
def test_bad_territories_are_problems_with_rows(tmp_path: Path, line: str, column: str,
                                                needle: str) -> None:
    root = _territories_map(tmp_path, f"slug,name,province_code\n\n{line}\n".encode())
    p = _one(om.validate(root), needle)
    assert (p.row, p.column) == (3, column) and p.file.endswith("territories.csv")


def test_territories_duplicates_and_missing_columns(tmp_path: Path) -> None:
    root = _territories_map(tmp_path, b"slug,name,province_code\npavia,A,18\npavia,B,18\n")
    assert _one(om.validate(root), "duplicato").row == 3
    root = _territories_map(tmp_path / "2", b"slug,nome\npavia,A\n")
    assert {p.column for p in om.validate(root) if "mancante" in p.message} == {
        "name", "province_code"}
    root = _territories_map(tmp_path / "3", b"slug,name,Slug,province_code\npavia,A,b,18\n")
    assert _one(om.validate(root), "ripetuta").row == 1


def test_bad_territories_file_in_a_broken_encoding(tmp_path: Path) -> None:
    data = "slug,name,province_code\npavia,Pavia – città,18\n".encode() + b"x,\x81,18\n"
    p = _one(om.validate(_territories_map(tmp_path, data)), "byte non validi")
    assert p.row == 3


@pytest.mark.parametrize(("line", "needle"), [
    ("pv,Ambito,pavia,²", "comune sconosciuto"),
    (",Ambito,pavia,18177", "obbligatorio"),
    ("pv,Ambito,atlantide,18177", "territorio sconosciuto"),
])
def test_bad_ambiti_are_problems_with_rows(tmp_path: Path, line: str, needle: str) -> None:
    root = _territories_map(tmp_path, b"slug,name,province_code\npavia,Pavia,18\n",
                            f"id,name,territory,comune_codes\n{line}\n".encode())
    p = _one(om.validate(root), needle)
    assert p.row == 2 and p.file.endswith("ambiti.csv")


def test_explicit_territories_file_in_cp1252(tmp_path: Path) -> None:
    path = tmp_path / "territori.csv"
    path.write_bytes(TERRITORIES.read_text(encoding="utf-8").replace(",", ";").replace(
        "Monza e della Brianza", "Monza – Brianza").encode("cp1252"))
    t = geo.load_territories(path)
    assert "Monza – Brianza" in set(t["name"])


def test_territories_sheet_of_a_workbook(tmp_path: Path) -> None:
    from openpyxl import load_workbook

    path = _workbook(tmp_path)
    wb = load_workbook(path)
    wb["territories"].append(["pavia", None, 18, None])
    wb.save(path)
    p = _one(om.validate(path), "obbligatorio")
    assert p.file.endswith("[territories]") and p.column == "name"


# --------------------------------------------------------------------------- 12. formulas


@pytest.mark.parametrize(("value", "warned"), [
    ('"=HYPERLINK(""http://x.example"",""clic"")"', True), ("=1+2", True), ("@utente", True),
    ("+cmd", True), ("-presa in carico", True), ("+39 035 123456", False), ("-", False),
    ("-10%", False), ("=", False), ("a=b", False),
])
def test_formula_like_values_are_warned(tmp_path: Path, value: str, warned: bool) -> None:
    actors = ACTORS_CSV.replace('"nota, con\na capo"', value)
    root = write_map(tmp_path / "m", actors=actors)
    problems = om.validate(root)
    assert not _errors(problems)
    found = [p for p in problems if "formula" in p.message]
    assert bool(found) is warned
    if warned:
        assert (found[0].row, found[0].column, found[0].severity) == (3, "note", "warning")
        assert "è mantenuto come testo in ogni file scritto" in found[0].message
        m = om.load(root)
        again = om.load(om.save(m, tmp_path / "out"))
        assert again.actors["notes"].iloc[1] == m.actors["notes"].iloc[1]


def test_formula_like_header_is_warned(tmp_path: Path) -> None:
    actors = ACTORS_CSV.replace("sito_web,note", "sito_web,note,=A1")
    p = _one(om.validate(write_map(tmp_path / "m", actors=actors)), "formula")
    assert (p.row, p.column) == (1, "=A1")


# --------------------------------------------------------------------------- property

_ALIASES = {normalize_header(a) for t in TABLES.values() for c in t.columns
            for a in (c.name, c.italian, *c.aliases) if a} | {"group", "comune_code", "ambito"}
_ANY = st.text(max_size=25)  # any code point: controls, bidi, combining marks...
_CLEAN = st.text(st.characters(exclude_categories=("Cc", "Cs", "Cf")), max_size=25)
_TEXT = st.one_of(_CLEAN, _CLEAN, _ANY)
_CELL = st.one_of(
    _TEXT,
    st.sampled_from(['=HYPERLINK("http://x.example","clic")', "+39 035 1", "-", "@x", '"',
                     '";"', "a\r\nb", "a\rb", ";", ",", " spazi ", "RSSMRA80A01H501U"]),
    _TEXT.map(lambda t: t * 400),
)


@st.composite
def _csv_maps(draw: st.DrawFn) -> tuple[bytes, list[str], list[list[str]]]:
    names = st.one_of(_CLEAN, _CLEAN.map(lambda t: f"campo {t}"), _ANY).map(lambda t: t[:16])
    extras = draw(st.lists(names, max_size=3))
    n = draw(st.integers(1, 4))
    rows = [[f"BG-{i}", _named(draw(_CELL)), "impresa", "Bergamo", draw(_CELL),
             *[draw(_CELL) for _ in extras]] for i in range(n)]
    header = ["id", "nome", "tipo", "comune", "note", *extras]
    out = io.StringIO()
    # "\r\n" as Excel writes: Python's csv then quotes every cell holding "\r" or "\n"
    writer = csv.writer(out, delimiter=draw(st.sampled_from([";", ","])), lineterminator="\r\n",
                        quoting=draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL])))
    writer.writerows([header, *rows])
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig"]))
    return out.getvalue().encode(encoding, errors="surrogatepass"), header, rows




def _named(cell: str) -> str:
    return cell if cell.strip() else "Ente"


def _expected(cell: str) -> str:
    return unicodedata.normalize("NFC", cell.strip())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_csv_maps())
def test_any_csv_validates_without_raising_and_round_trips(
        case: tuple[bytes, list[str], list[list[str]]]) -> None:
    data, header, rows = case
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "m"
        (root / "bergamo").mkdir(parents=True)
        shutil.copy(TERRITORIES, root / "territories.csv")
        (root / "bergamo" / "actors.csv").write_bytes(data)
        (root / "bergamo" / "relations.csv").write_bytes(b"source,target,kind,level\n")
        problems = om.validate(root)
        assert all(isinstance(p, Problem) for p in problems)
        if _errors(problems):
            event("errori")
            with pytest.raises(om.DataError):
                om.load(root)
            return
        event("nessun errore: andata e ritorno")
        m = om.load(root)
        assert m.actors["name"].tolist() == [_expected(r[1]) for r in rows]
        assert m.actors["notes"].tolist() == [_expected(r[4]) for r in rows]
        for j, name in enumerate(header[5:], start=5):
            key = _expected(name)
            if key and normalize_header(key) not in _ALIASES:
                assert m.actors[key].tolist() == [_expected(r[j]) for r in rows]
        again = om.load(om.save(m, Path(tmp) / "csv_dir"))
        pd.testing.assert_frame_equal(pd.DataFrame(again.actors), pd.DataFrame(m.actors))
        pd.testing.assert_frame_equal(again.relations, m.relations)


def test_a_csv_named_like_no_table_given_directly(tmp_path: Path) -> None:
    path = tmp_path / "dati.csv"
    path.write_text(ACTORS_CSV, encoding="utf-8")
    p = _one(om.validate(path), "non corrisponde a nessuna tabella")
    assert p.row is None and p.severity == "error"


@pytest.mark.parametrize("first", ["\n", ";;;\r\n", " \n"])
def test_empty_first_row(tmp_path: Path, first: str) -> None:
    p = _one(om.validate(write_map(tmp_path / "m", actors=first + ACTORS_CSV)), "riga 1 è vuota")
    assert p.row == 1
    assert not any("manca la tabella" in q.message for q in om.validate(tmp_path / "m"))


def test_missing_territories_file_is_not_a_data_problem(small_map_dir: Path,
                                                        tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        om.validate(small_map_dir, territories=tmp_path / "nessuno.csv")
    with pytest.raises(FileNotFoundError):
        geo.load_territories(tmp_path / "nessuno.csv")
