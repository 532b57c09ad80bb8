"""The map describes organisations, never people: a person's codice fiscale is refused
wherever it hides (cells, headers, sheet and file names), however it is written."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import ACTORS_CSV, OPPORTUNITIES_CSV, RELATIONS_CSV, write_map
from openpyxl import Workbook

import opportunity_map as om
from opportunity_map import Problem
from opportunity_map._validate import find_codice_fiscale, mask_codici_fiscali

# RSSMRA80A01H501U has the right control character; MRARSS80A01H501U and
# BNCLRA75M41F205X do not (their right ones are T and A)
PERSONS = [
    "RSSMRA80A01H501U",              # plain
    "rssmra80a01h501u",              # lower case
    "RssMra80a01H501u",              # mixed case
    "RSS MRA 80A01 H501U",           # spaces between groups
    "R.S.S.M.R.A.8.0.A.0.1.H.5.0.1.U",  # dots between characters
    "RSS-MRA-80A01-H501U",           # dashes
    "RSSMRA80A01H5LMX",              # omocodia (0 -> L, 1 -> M), control character X
    "rss mra 80a01 h5lm x",          # omocodia with spaces
    "RSSMRA80A01H5LMU",              # omocodia, control character wrong, written in one piece
    "mrarss80a01h501u@pec.it",       # inside an e-mail, control character wrong
    "referente: BNCLRA75M41F205X tel. 035 123",  # inside a note (a woman: day 41)
    "cf:RSSMRA80A01H501U;",
]
NOT_PERSONS = [
    "01234567890",                    # company codice fiscale / partita IVA
    "P.IVA 01234567890",
    "IT60X0542811101000000123456",    # IBAN
    "RSS MRA 80A01 H501X",            # separators and a wrong control character
    "ABCDEF12A99B123C",               # day 99
    "ABCDEF12Z01B123C",               # Z is no month
    "XRSSMRA80A01H501U",              # glued to other letters: not a code on its own
    "Cooperativa sociale Il Melograno Onlus 2024",
    "https://www.esempio.it/servizi/inserimento-lavorativo",
]


@pytest.mark.parametrize("text", PERSONS)
def test_person_codes_are_found(text: str) -> None:
    assert find_codice_fiscale(text)


@pytest.mark.parametrize("text", NOT_PERSONS)
def test_other_codes_are_not(text: str) -> None:
    assert not find_codice_fiscale(text)


def test_mask_keeps_only_two_letters_and_the_last() -> None:
    assert mask_codici_fiscali("attori RSSMRA80A01H501U.csv") == "attori RS*************U.csv"
    assert mask_codici_fiscali("nessun codice") == "nessun codice"


def _errors(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity == "error"]


def _personal(problems: list[Problem]) -> list[Problem]:
    return [p for p in _errors(problems) if "codice fiscale" in p.message]


@pytest.mark.parametrize("text", PERSONS)
def test_codice_fiscale_in_a_note(tmp_path: Path, text: str) -> None:
    actors = ACTORS_CSV.replace('"nota, con\na capo"', f'"{text}"')
    found = _personal(om.validate(write_map(tmp_path / "m", actors=actors)))
    assert [(p.row, p.column) for p in found] == [(3, "note")]
    assert found[0].message.startswith("il valore sembra il codice fiscale di una persona: ")


@pytest.mark.parametrize("text", NOT_PERSONS)
def test_no_false_alarm_in_a_note(tmp_path: Path, text: str) -> None:
    actors = ACTORS_CSV.replace('"nota, con\na capo"', f'"{text}"')
    assert not _personal(om.validate(write_map(tmp_path / "m", actors=actors)))


def test_codice_fiscale_in_every_table_and_column(tmp_path: Path) -> None:
    actors = ACTORS_CSV.replace("https://alfa.example", "mrarss80a01h501u@pec.it").replace(
        "BG-004,Agenzia Esempio Lavoro", "BG-004,Agenzia di RSS MRA 80A01 H501U")
    relations = RELATIONS_CSV.replace("invio,2,2026-07-01,,", "invio,2,2026-07-01,,"
                                      "RSSMRA80A01H501U")
    opportunities = OPPORTUNITIES_CSV.replace("TIS in laboratorio", "TIS per rssmra80a01h501u")
    problems = _personal(om.validate(write_map(tmp_path / "m", actors=actors,
                                               relations=relations,
                                               opportunities=opportunities)))
    where = sorted((Path(p.file).name, p.row, p.column) for p in problems)
    assert where == [("actors.csv", 3, "sito_web"), ("actors.csv", 5, "nome"),
                     ("opportunities.csv", 2, "nome"), ("relations.csv", 2, "note")]


def test_codice_fiscale_in_a_date_column_too(tmp_path: Path) -> None:
    relations = RELATIONS_CSV.replace("2026-07-01,,", "RSSMRA80A01H501U,,", 1)
    found = _personal(om.validate(write_map(tmp_path / "m", relations=relations)))
    assert [(p.row, p.column) for p in found] == [(2, "dal")]


def test_codice_fiscale_as_a_header_never_reaches_an_output(tmp_path: Path) -> None:
    actors = ACTORS_CSV.replace("sito_web,note", "sito_web,RSSMRA80A01H501U", 1)
    root = write_map(tmp_path / "m", actors=actors)
    found = _personal(om.validate(root))
    assert [(p.row, p.column) for p in found] == [(1, "RS*************U")]
    with pytest.raises(om.DataError) as info:
        om.load(root)
    assert "RSSMRA80A01H501U" not in str(info.value)


def test_codice_fiscale_in_a_sheet_name(tmp_path: Path) -> None:
    path = om.save(om.load(write_map(tmp_path / "m")), tmp_path / "mappa.xlsx")
    from openpyxl import load_workbook

    wb = load_workbook(path)
    wb.create_sheet("RSSMRA80A01H501U")
    wb.save(path)
    found = _personal(om.validate(path))
    assert len(found) == 1 and "nome del foglio" in found[0].message
    assert "RSSMRA80A01H501U" not in found[0].message


def test_codice_fiscale_in_a_file_name(tmp_path: Path) -> None:
    root = write_map(tmp_path / "m")
    wb = Workbook()
    wb.active.title = "Foglio1"
    wb.save(root / "bergamo" / "scheda rssmra80a01h501u.xlsx")
    found = _personal(om.validate(root))
    assert len(found) == 1 and "nome del file" in found[0].message
    assert found[0].file.endswith("scheda rs*************u.xlsx")


def test_codice_fiscale_in_a_folder_name(tmp_path: Path) -> None:
    root = write_map(tmp_path / "m", territory="RSSMRA80A01H501U")
    found = _personal(om.validate(root))
    assert found and all("nome della cartella" in p.message for p in found)
    assert all("RSSMRA80A01H501U" not in str(p) for p in om.validate(root))


def test_company_codes_load(tmp_path: Path) -> None:
    actors = ACTORS_CSV.replace('"nota, con\na capo"', "CF 01234567890 - P.IVA IT01234567890")
    assert not _errors(om.validate(write_map(tmp_path / "m", actors=actors)))
