"""Every validation rule, on real files: all problems at once, located as file:row: column."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import ACTORS_CSV, RELATIONS_CSV, write_map

import opportunity_map as om
from opportunity_map import Problem


def _problems(tmp_path: Path, **files: str) -> list[Problem]:
    return om.validate(write_map(tmp_path / "m", **files))


def _errors(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity == "error"]


def _one(problems: list[Problem], needle: str) -> Problem:
    found = [p for p in problems if needle in p.message]
    assert len(found) == 1, f"{needle!r} in {[str(p) for p in problems]}"
    return found[0]


def test_valid_map_has_no_errors(small_map_dir: Path) -> None:
    assert _errors(om.validate(small_map_dir)) == []


def test_all_problems_reported_at_once(tmp_path: Path) -> None:
    actors = ACTORS_CSV.replace("collocamento_mirato", "colocamento_mirato").replace(
        "BG-004,Agenzia", "BG-003,Agenzia").replace("01/07/2026", "31/13/2026")
    relations = RELATIONS_CSV.replace("invio,2", "invio,7").replace(
        "BG-001,BG-004", "BG-001,BG-999")
    problems = _errors(_problems(tmp_path, actors=actors, relations=relations))
    messages = " | ".join(str(p) for p in problems)
    assert len(problems) >= 5, messages
    kind = _one(problems, "colocamento_mirato")
    assert kind.row == 2 and kind.column == "tipo"
    assert "collocamento_mirato" in kind.message  # closest value suggested
    dup = _one(problems, "id duplicato")
    # the note of row 3 spans two lines of text: rows are counted as a spreadsheet shows them
    assert dup.row == 5 and dup.column == "id"
    assert "actors.csv:4" in dup.message
    assert _one(problems, "31/13/2026").column == "dal"
    level = _one(problems, "livello sconosciuto")
    assert (level.row, level.column) == (2, "livello")
    unknown = _one(problems, "BG-999")
    assert (unknown.row, unknown.column) == (5, "a")
    assert unknown.file.endswith("relations.csv")


def test_line_format(tmp_path: Path) -> None:
    relations = RELATIONS_CSV.replace("invio,2", "invio,7")
    p = _one(_problems(tmp_path, relations=relations), "livello sconosciuto")
    text = str(p)
    assert text.startswith(str(tmp_path / "m" / "bergamo" / "relations.csv") + ":2: livello: ")


@pytest.mark.parametrize(("field", "old", "new", "needle", "column"), [
    ("relations", "convenzione_art14,3", "convenzione_art_14,3", "forse intendevi "
     "'convenzione_art14'", "tipo"),
    ("relations", "BG-001,BG-002", "BG-002,BG-002", "con se stesso", "a"),
    ("relations", "2026-07-01,,", "2026-07-01,2026-01-01,", "precedente", "al"),
    ("relations", "2026-07-01,,", "1 luglio,,", "data non valida", "dal"),
    ("relations", "2026-07-01,,", "2026-02-30,,", "data inesistente", "dal"),
    ("actors", "45.6947", "45.69.47", "numero non valido", "latitudine"),
    ("actors", "S. Omobono Terme", "Sant Omobono Termo", "comune sconosciuto", "comune"),
    ("actors", ",Treviglio,", ",,", "valore obbligatorio mancante", "comune"),
])
def test_single_errors(tmp_path: Path, field: str, old: str, new: str, needle: str,
                       column: str) -> None:
    files = {"actors": ACTORS_CSV, "relations": RELATIONS_CSV}
    assert old in files[field]
    files[field] = files[field].replace(old, new, 1)
    problems = _errors(_problems(tmp_path, **files))
    assert len(problems) == 1, [str(p) for p in problems]
    assert needle in problems[0].message
    assert problems[0].column == column


def test_unknown_comune_names_candidates(tmp_path: Path) -> None:
    actors = ACTORS_CSV.replace("S. Omobono Terme", "Sant Omobono Termo")
    p = _one(_problems(tmp_path, actors=actors), "comune sconosciuto")
    assert "Sant'Omobono Terme (BG)" in p.message


def test_ambiguous_comune_outside_territory(tmp_path: Path) -> None:
    # "Livo" exists in Como and Trento; from a folder that is no territory it is ambiguous
    root = tmp_path / "m"
    write_map(root)
    (root / "varie").mkdir()
    (root / "varie" / "actors.csv").write_text(
        "id,name,kind,comune\nX-1,Associazione Esempio,associazione,Livo\n", encoding="utf-8")
    problems = om.validate(root)
    # Livo (TN) is not a project province: Livo (CO) is chosen within the project first
    assert not _errors(problems)
    m = om.load(root)
    assert m.actors.set_index("id").at["X-1", "territory"] == "como"


def test_missing_required_column_names_aliases(tmp_path: Path) -> None:
    actors = ACTORS_CSV.replace("id,nome,tipo", "id,nome,categoria", 1)
    p = _one(_problems(tmp_path, actors=actors), "colonna obbligatoria mancante")
    assert p.row == 1 and p.column == "kind"
    assert "tipo" in p.message and "tipologia" in p.message


def test_repeated_column(tmp_path: Path) -> None:
    actors = ACTORS_CSV.replace("sito_web,note", "nome,note", 1)
    assert "colonna ripetuta" in str(_problems(tmp_path, actors=actors))


def test_empty_file(tmp_path: Path) -> None:
    p = _one(_problems(tmp_path, actors=""), "vuoto")
    assert p.row is None and p.file.endswith("actors.csv")


def test_header_only_actors(tmp_path: Path) -> None:
    p = _one(_problems(tmp_path, actors="id,name,kind,comune\n"), "non contiene righe")
    assert p.severity == "error"


def test_wrong_file_type(tmp_path: Path) -> None:
    root = write_map(tmp_path / "m")
    (root / "bergamo" / "opportunita.ods").write_bytes(b"PK\x03\x04 not really")
    (root / "bergamo" / "relations.csv").write_bytes(b"PK\x03\x04\x14\x00\x06\x00binary")
    problems = _errors(om.validate(root))
    assert any("non supportato (.ods)" in p.message for p in problems)
    assert any("cartella di lavoro Excel salvata con estensione .csv" in p.message
               for p in problems)


def test_corrupt_xlsx(tmp_path: Path) -> None:
    root = write_map(tmp_path / "m")
    (root / "bergamo" / "relations.csv").unlink()
    (root / "bergamo" / "relazioni.xlsx").write_text("not a workbook", encoding="utf-8")
    problems = _errors(om.validate(root))
    assert any(p.message.startswith("file non leggibile come cartella di lavoro Excel: è un "
                                    "file di testo") for p in problems)


def test_missing_table(tmp_path: Path) -> None:
    root = write_map(tmp_path / "m")
    (root / "bergamo" / "relations.csv").unlink()
    assert any("manca la tabella 'relazioni'" in p.message for p in om.validate(root))


def test_too_many_fields(tmp_path: Path) -> None:
    relations = RELATIONS_CSV.replace("tavolo_di_rete,1,", "tavolo_di_rete,1,x,y,")
    p = _one(_problems(tmp_path, relations=relations), "campi")
    assert p.row == 5


@pytest.mark.parametrize("value", [
    "RSSMRA80A01H501U",         # plain
    "rssmra80a01h501u",         # lower case
    "RSSMRA80A01H5LMU",         # omocodia
    "referente: BNCLRA75M41F205X tel",  # inside a note
])
def test_codice_fiscale_rejected_in_any_column(tmp_path: Path, value: str) -> None:
    actors = ACTORS_CSV.replace('"nota, con\na capo"', f'"{value}"')
    p = _one(_problems(tmp_path, actors=actors), "codice fiscale")
    assert (p.row, p.column) == (3, "note")


def test_codice_fiscale_in_extra_column_and_relations(tmp_path: Path) -> None:
    relations = RELATIONS_CSV.replace("invio,2,2026-07-01,,",
                                      "invio,2,2026-07-01,,RSSMRA80A01H501U")
    assert _one(_problems(tmp_path, relations=relations), "codice fiscale").column == "note"


def test_company_tax_code_is_fine(tmp_path: Path) -> None:
    actors = ACTORS_CSV.replace('"nota, con\na capo"', "P.IVA 01234567890")
    assert not _errors(_problems(tmp_path, actors=actors))


def test_swapped_coordinates(tmp_path: Path) -> None:
    actors = ACTORS_CSV.replace("45.6947,9.6700", "9.6700,45.6947")
    p = _one(_problems(tmp_path, actors=actors), "invertite")
    assert p.severity == "error" and p.row == 2


def test_coordinates_outside_territory(tmp_path: Path) -> None:
    actors = ACTORS_CSV.replace("45.6947,9.6700", "45.4642,9.1900")  # Milano
    p = _one(_problems(tmp_path, actors=actors), "fuori dal territorio")
    assert "Milano (MI)" in p.message and p.severity == "error"


def test_coordinates_outside_comune_is_a_warning(tmp_path: Path) -> None:
    actors = ACTORS_CSV.replace("45.6947,9.6700", "45.5269,9.5939")  # Treviglio (BG)
    p = _one(_problems(tmp_path, actors=actors), "cadono nel comune")
    assert p.severity == "warning"
    assert "Treviglio" in p.message


def test_only_one_coordinate(tmp_path: Path) -> None:
    actors = ACTORS_CSV.replace("45.6947,9.6700", "45.6947,")
    assert "sia la latitudine" in _one(_problems(tmp_path, actors=actors), "latitudine").message


def test_unknown_territory_suggests(tmp_path: Path) -> None:
    actors = "id,name,kind,comune,territory\nX-1,Coop Esempio,cooperativa_b,Bergamo,bergamoo\n"
    p = _one(_problems(tmp_path, actors=actors, relations="source,target,kind,level\n"),
             "territorio sconosciuto")
    assert "bergamo" in p.message


def test_territory_by_name_or_sigla(tmp_path: Path) -> None:
    actors = ("id,name,kind,comune,territorio\nX-1,Coop,cooperativa_b,Monza,Monza e della "
              "Brianza\nX-2,Coop 2,cooperativa_b,Lecco,LC\n")
    m = om.load(write_map(tmp_path / "m", actors=actors,
                          relations="source,target,kind,level\nX-1,X-2,invio,1\n",
                          opportunities=None, territory="varie"))
    assert m.actors["territory"].tolist() == ["monza-brianza", "lecco"]


def test_load_raises_data_error_with_all_problems(tmp_path: Path) -> None:
    relations = RELATIONS_CSV.replace("invio,2", "invio,9").replace("tirocinio,1", "tirocinio,0")
    with pytest.raises(om.DataError) as info:
        om.load(write_map(tmp_path / "m", relations=relations))
    assert len(info.value.problems) == 2
    assert isinstance(info.value, ValueError)


def test_levels_accept_labels(tmp_path: Path) -> None:
    relations = RELATIONS_CSV.replace("invio,2", "invio,cooperazione").replace(
        "convenzione_art14,3", "convenzione_art14,3 - coordinamento").replace(
        "tirocinio,1", "tirocinio,1.0")
    m = om.load(write_map(tmp_path / "m", relations=relations))
    assert m.relations["level"].tolist() == [2, 3, 1, 1]


def test_kind_accepts_italian_label(tmp_path: Path) -> None:
    actors = ACTORS_CSV.replace(",impresa,", ",Impresa,").replace(
        "cooperativa_b", "Cooperativa sociale di tipo B")
    m = om.load(write_map(tmp_path / "m", actors=actors))
    assert m.actors["kind"].tolist() == ["collocamento_mirato", "cooperativa_b", "impresa",
                                         "agenzia_lavoro"]


def test_unsafe_website_and_email_are_warnings(tmp_path: Path) -> None:
    actors = ACTORS_CSV.replace("https://alfa.example", "javascript:alert(1)").replace(
        "BG-003,Impresa Esempio Meccanica,impresa,S. Omobono Terme,,,,,,",
        "BG-003,Impresa Esempio Meccanica,impresa,S. Omobono Terme,,,,,www.esempio.example,")
    problems = _problems(tmp_path, actors=actors)
    site = _one(problems, "sito web non valido")
    assert (site.row, site.column, site.severity) == (3, "sito_web", "warning")
    assert not _errors(problems)  # www.… is accepted (shown as https://www.…)


def test_unrecognised_table_file_is_reported(tmp_path: Path) -> None:
    root = write_map(tmp_path / "m")
    (root / "bergamo" / "attori_nuovi.csv").write_text(ACTORS_CSV, encoding="utf-8")
    p = _one(om.validate(root), "file ignorato")
    assert p.severity == "warning" and p.file.endswith("attori_nuovi.csv")


def test_unrecognised_workbook_is_reported(tmp_path: Path) -> None:
    from openpyxl import Workbook

    root = write_map(tmp_path / "m")
    wb = Workbook()
    wb.active.title = "Foglio1"
    wb.save(root / "bergamo" / "appunti.xlsx")
    p = _one(om.validate(root), "nessun foglio")
    assert p.severity == "warning"
