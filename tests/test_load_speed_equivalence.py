# ruff: noqa: E501
"""The fast loader reports exactly what the row-by-row loader reported.

A synthetic map of a few thousand rows is written with errors of every kind
injected (unknown kinds, levels, dates, numbers, comuni and territories, codici
fiscali, control and invisible characters, formulas, duplicate ids, unknown
actors, self ties, bad, swapped and misplaced coordinates, bad websites and
e-mails). The expected problems were produced by the loader as it was before it
was vectorised (checking each row on its own): the counts by message, a sample of
exact problems and a digest of the whole sorted list are pinned here.
"""

from __future__ import annotations

import hashlib
import random
import re
import shutil
from collections import Counter
from pathlib import Path

import pytest
from conftest import TERRITORIES

import opportunity_map as om
from opportunity_map import DataError, Problem
from opportunity_map import geography as geo
from opportunity_map.schema import ACTOR_KINDS, OPPORTUNITY_TYPES, RELATION_KINDS

N_ACTORS, N_RELATIONS, N_OPPORTUNITIES = 3000, 8000, 1000
SLUGS = ["bergamo", "brescia", "como", "cremona", "lecco", "lodi", "mantova", "milano",
         "monza-brianza", "sondrio", "varese"]
PROVINCES = {"bergamo": 16, "brescia": 17, "como": 13, "cremona": 19, "lecco": 97, "lodi": 98,
             "mantova": 20, "milano": 15, "monza-brianza": 108, "sondrio": 14, "varese": 12}


def _csv(rows: list[list[str]]) -> str:
    def cell(v: str) -> str:
        return '"' + v.replace('"', '""') + '"' if re.search(r'[",\n\r]', v) else v
    return "".join(",".join(cell(v) for v in row) + "\n" for row in rows)


def write_dirty_map(root: Path, seed: int = 7) -> Path:
    """A map of ~3,000 actors with every kind of error injected, under ``root/<territory>/``."""
    rnd = random.Random(seed)
    comuni = geo.comuni()
    points = geo.comuni_geometry().geometry.representative_point()
    by_prov: dict[int, list[int]] = {}
    for code, prov in zip(comuni.index, comuni["province_code"], strict=True):
        by_prov.setdefault(int(prov), []).append(int(code))
    kinds = list(ACTOR_KINDS)
    actors = [["id", "nome", "tipo", "comune", "lat", "lon", "territorio", "dal", "al",
               "sito_web", "email", "telefono", "note"]]
    ids: list[str] = []
    for i in range(N_ACTORS):
        slug = rnd.choice(SLUGS)
        code = rnd.choice(by_prov[PROVINCES[slug]])
        name = str(comuni.at[code, "name"])
        ident = f"A{i:05d}"
        lat = lon = ""
        if rnd.random() < 0.3:
            lat, lon = f"{points[code].y:.6f}", f"{points[code].x:.6f}"
        row = [ident, f"Ente {i}", rnd.choice(kinds), name, lat, lon,
               rnd.choice([slug, "", slug.upper(), slug.title()]),
               rnd.choice(["", "2025-01-01", "01/03/2026", "2026-7-1"]), "",
               rnd.choice(["", f"https://e{i}.example.org", f"www.e{i}.it"]),
               rnd.choice(["", f"info@e{i}.it"]), f"035 {i:06d}", ""]
        r = rnd.random()
        k = int(r * 40)  # one injected error in most rows, several kinds of each
        if k == 0:
            row[2] = rnd.choice(["imprsa", "cooperativa", "xyz", "Cooperativa B", ""])
        elif k == 1:
            row[3] = rnd.choice(["Bergamoo", "Nowhere", "San Giovanni", "Castro", ""])
        elif k == 2:
            row[6] = rnd.choice(["bergamoo", "Pavia", "BG", "Bergamo"])
        elif k == 3:
            row[4] = rnd.choice(["45.5", "abc", "4,5e1", "1e999"])
        elif k == 4:
            row[4], row[5] = rnd.choice([("95", "9"), ("45.6", "200"), ("-91", "9")])
        elif k == 5:
            row[4], row[5] = f"{points[code].x:.6f}", f"{points[code].y:.6f}"  # swapped
        elif k == 6:
            other = rnd.choice(by_prov[PROVINCES[rnd.choice(SLUGS)]])
            row[4], row[5] = f"{points[other].y:.6f}", f"{points[other].x:.6f}"
        elif k == 7:
            row[4], row[5] = "41.9", "12.5"  # Roma
        elif k == 8:
            row[7], row[8] = rnd.choice([("2026-02-30", ""), ("1850-01-01", ""),
                                         ("2026-01-01", "2025-01-01"), ("", "31/12/9999"),
                                         ("2300-01-01", ""), ("ieri", "domani")])
        elif k == 9:
            row[9] = rnd.choice(["javascript:alert(1)", "ftp://x.it", "http://", "sito"])
        elif k == 10:
            row[10] = rnd.choice(["nobody", "a@b", "mailto:x@y.it", "x y@z.it"])
        elif k == 11:
            row[12] = rnd.choice(["RSSMRA80A01H501U", "ref. rss mra 80a01 h501u",
                                  "mrarss80a01h501u@pec.it", "RSS MRA 80A01 H501X"])
        elif k == 12:
            row[1] = rnd.choice(["Ente\x0bA", "Ente\u200bB", "=SUM(A1)", "+39 035", "Ente\u202eC",
                                 "-ente", "@x"])
        elif k == 13 and ids:
            row[0] = rnd.choice(ids)  # duplicate id
        elif k == 14:
            row[0] = ""
        elif k == 15:
            row[3] = "  " + name.upper() + " "
        ids.append(row[0])
        actors.append(row)
    actors.append([""] * 13)  # an empty record: dropped
    relations = [["da", "a", "tipo", "livello", "dal", "al", "note"]]
    for _ in range(N_RELATIONS):
        s, t = rnd.choice(ids), rnd.choice(ids)
        row = [s, t, rnd.choice(list(RELATION_KINDS)), rnd.choice(["1", "2", "3", "4"]),
               rnd.choice(["", "2025-05-05"]), "", ""]
        k = int(rnd.random() * 30)
        if k == 0:
            row[1] = row[0]
        elif k == 1:
            row[rnd.choice([0, 1])] = rnd.choice(["ZZ-1", "A99999", "a00001"])
        elif k == 2:
            row[3] = rnd.choice(["5", "0", "alto", "", "2 - collaborazione", "3.0", "x2"])
        elif k == 3:
            row[2] = rnd.choice(["invio?", "", "Tirocinio", "tavolo"])
        elif k == 4:
            row[4], row[5] = rnd.choice([("2025-13-01", ""), ("2026-01-01", "2025-01-01"),
                                         ("", "9999-12-31")])
        relations.append(row)
    opportunities = [["id", "id_attore", "tipo", "nome", "dal", "al", "posti"]]
    for i in range(N_OPPORTUNITIES):
        row = [f"O{i:05d}", rnd.choice(ids), rnd.choice(list(OPPORTUNITY_TYPES)), f"Op {i}",
               "", "", rnd.choice(["", "3", "10"])]
        k = int(rnd.random() * 20)
        if k == 0:
            row[6] = rnd.choice(["-1", "2.5", "1e12", "tre", "4,0", "1 000"])
        elif k == 1:
            row[2] = rnd.choice(["corso", ""])
        elif k == 2:
            row[0] = f"O{max(i - 1, 0):05d}"
        elif k == 3:
            row[1] = "NOPE"
        opportunities.append(row)
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(TERRITORIES, root / "territories.csv")
    folder = root / "bergamo"
    folder.mkdir()
    (folder / "attori.csv").write_text(_csv(actors), encoding="utf-8")
    (folder / "relazioni.csv").write_text(_csv(relations), encoding="utf-8")
    (folder / "opportunita.csv").write_text(_csv(opportunities), encoding="utf-8")
    return root


def _kind(p: Problem) -> str:
    """A problem's column and first plain words (no quoted values, names or numbers)."""
    message = re.sub(r"'[^']*'|\([^)]*\)", "", p.message)
    words = [w for w in message.split() if w[:1].islower() and "'" not in w][:4]
    return f"{p.column}: {' '.join(words)}"


def _digest(problems: list[Problem]) -> str:
    text = "\n".join(f"{p.severity}|{p.file}|{p.row}|{p.column}|{p.message}" for p in problems)
    return hashlib.sha256(text.encode()).hexdigest()


def _relative(problems: list[Problem], root: Path) -> list[Problem]:
    return [Problem(p.file.replace(str(root), "<root>"), p.row, p.column,
                    p.message.replace(str(root), "<root>"), p.severity) for p in problems]


@pytest.fixture(scope="module")
def dirty(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Problem]]:
    root = write_dirty_map(tmp_path_factory.mktemp("dirty") / "map")
    return root, _relative(om.validate(root), root)


# Produced by the loader before it was vectorised (row-by-row checks).
EXPECTED_DIGEST = '7503d33f2bc8933810e1f70bb25e0933cc9072f5c7a24dcd1d0334afb7be5c23'
EXPECTED_COUNTS: dict[tuple[str, str], int] = {
    ('error', 'a: attore sconosciuto nessun attore'): 124,
    ('error', 'a: relazione di un attore'): 274,
    ('error', 'a: valore obbligatorio mancante'): 184,
    ('error', 'al: data non valida:'): 15,
    ('error', 'al: la data di fine'): 100,
    ('error', 'comune: comune sconosciuto i più'): 49,
    ('error', 'comune: valore obbligatorio mancante'): 15,
    ('error', 'da: attore sconosciuto nessun attore'): 143,
    ('error', 'da: valore obbligatorio mancante'): 193,
    ('error', 'dal: data fuori intervallo:'): 33,
    ('error', 'dal: data inesistente:'): 93,
    ('error', 'dal: data non valida:'): 15,
    ('error', 'id: id duplicato'): 123,
    ('error', 'id: valore obbligatorio mancante'): 78,
    ('error', 'id_attore: attore sconosciuto nessun attore'): 45,
    ('error', 'id_attore: valore obbligatorio mancante'): 32,
    ('error', 'lat: coordinate fuori dal territorio'): 169,
    ('error', 'lat: coordinate fuori scala: latitudine'): 64,
    ('error', 'lat: latitudine e longitudine sembrano'): 78,
    ('error', 'lat: numero non valido:'): 22,
    ('error', 'lat: numero troppo grande:'): 25,
    ('error', 'livello: livello sconosciuto ammessi conoscenza,'): 167,
    ('error', 'livello: valore obbligatorio mancante'): 32,
    ('error', 'lon: indicare sia la latitudine'): 26,
    ('error', 'nome: carattere di controllo nel'): 12,
    ('error', 'nome: carattere invisibile di direzione'): 12,
    ('error', 'note: il valore sembra il'): 55,
    ('error', 'posti: atteso un numero intero'): 14,
    ('error', 'posti: numero non valido:'): 7,
    ('error', 'posti: numero troppo grande:'): 13,
    ('error', 'territorio: territorio sconosciuto forse intendevi'): 48,
    ('error', 'tipo: tipo sconosciuto forse intendevi'): 90,
    ('error', 'tipo: tipo sconosciuto valori ammessi:'): 37,
    ('error', 'tipo: valore obbligatorio mancante'): 115,
    ('warning', 'al: indica trattato come data'): 113,
    ('warning', 'comune: il comune al non'): 3,
    ('warning', 'comune: il comune con non'): 12,
    ('warning', 'comune: il comune del ed'): 1,
    ('warning', 'comune: il comune del non'): 11,
    ('warning', 'comune: il comune di non'): 14,
    ('warning', 'comune: il comune ed non'): 8,
    ('warning', 'comune: il comune in non'): 4,
    ('warning', 'comune: il comune non è'): 626,
    ('warning', 'comune: il comune per non'): 2,
    ('warning', 'comune: il comune sul non'): 8,
    ('warning', 'email: e-mail non valida'): 63,
    ('warning', 'lat: le coordinate cadono nel'): 12,
    ('warning', 'nome: carattere invisibile nel valore'): 9,
    ('warning', 'nome: il valore inizia con'): 35,
    ('warning', 'sito_web: sito web non valido'): 74,
}
EXPECTED_SAMPLE: list[tuple[str, int | None, str | None, str, str]] = [
    ('<root>/bergamo/attori.csv', 3, 'territorio', "territorio sconosciuto 'bergamoo': forse intendevi 'bergamo'?", 'error'),
    ('<root>/bergamo/attori.csv', 121, 'comune', 'il comune Motta Visconti (MI) non è nel territorio bergamo', 'warning'),
    ('<root>/bergamo/attori.csv', 247, 'nome', 'carattere invisibile di direzione del testo U+202E nel valore: può mascherare il testo mostrato; eliminarlo', 'error'),
    ('<root>/bergamo/attori.csv', 381, 'lat', 'coordinate fuori dal territorio bergamo: il punto (41.9, 12.5) è nel comune di Roma (RM)', 'error'),
    ('<root>/bergamo/attori.csv', 509, 'comune', 'il comune Santa Maria Hoè (LC) non è nel territorio bergamo', 'warning'),
    ('<root>/bergamo/attori.csv', 648, 'comune', 'il comune Veduggio con Colzano (MB) non è nel territorio bergamo', 'warning'),
    ('<root>/bergamo/attori.csv', 778, 'comune', 'il comune Muggiò (MB) non è nel territorio bergamo', 'warning'),
    ('<root>/bergamo/attori.csv', 882, 'dal', "data fuori intervallo: '2300-01-01' (ammesse le date dal 1900 al 2199)", 'error'),
    ('<root>/bergamo/attori.csv', 1016, 'lat', 'coordinate fuori scala: latitudine 45.6, longitudine 200.0', 'error'),
    ('<root>/bergamo/attori.csv', 1152, 'comune', 'il comune Briosco (MB) non è nel territorio bergamo', 'warning'),
    ('<root>/bergamo/attori.csv', 1289, 'comune', "il comune Cingia de' Botti (CR) non è nel territorio bergamo", 'warning'),
    ('<root>/bergamo/attori.csv', 1409, 'comune', 'il comune Galgagnano (LO) non è nel territorio bergamo', 'warning'),
    ('<root>/bergamo/attori.csv', 1548, 'note', 'il valore sembra il codice fiscale di una persona: i dati personali non possono entrare nella mappa (che descrive solo organizzazioni)', 'error'),
    ('<root>/bergamo/attori.csv', 1667, 'lat', 'coordinate fuori scala: latitudine -91.0, longitudine 9.0', 'error'),
    ('<root>/bergamo/attori.csv', 1782, 'lat', 'coordinate fuori scala: latitudine 45.6, longitudine 200.0', 'error'),
    ('<root>/bergamo/attori.csv', 1911, 'comune', 'il comune Graffignana (LO) non è nel territorio bergamo', 'warning'),
    ('<root>/bergamo/attori.csv', 2027, 'id', "id duplicato 'A00491' (già usato in <root>/bergamo/attori.csv:493)", 'error'),
    ('<root>/bergamo/attori.csv', 2154, 'id', "id duplicato 'A01037' (già usato in <root>/bergamo/attori.csv:1039)", 'error'),
    ('<root>/bergamo/attori.csv', 2284, 'comune', 'il comune Paitone (BS) non è nel territorio bergamo', 'warning'),
    ('<root>/bergamo/attori.csv', 2404, 'id', 'valore obbligatorio mancante', 'error'),
    ('<root>/bergamo/attori.csv', 2543, 'lat', 'latitudine e longitudine sembrano invertite (8.729128, 45.987024)', 'error'),
    ('<root>/bergamo/attori.csv', 2684, 'comune', 'il comune Livigno (SO) non è nel territorio bergamo', 'warning'),
    ('<root>/bergamo/attori.csv', 2811, 'dal', "data non valida: 'ieri' (formati accettati: gg/mm/aaaa o aaaa-mm-gg)", 'error'),
    ('<root>/bergamo/attori.csv', 2954, 'comune', 'il comune Assago (MI) non è nel territorio bergamo', 'warning'),
    ('<root>/bergamo/opportunita.csv', 171, 'id', "id duplicato 'O00168' (già usato in <root>/bergamo/opportunita.csv:170)", 'error'),
    ('<root>/bergamo/opportunita.csv', 570, 'id_attore', 'valore obbligatorio mancante', 'error'),
    ('<root>/bergamo/opportunita.csv', 907, 'tipo', 'valore obbligatorio mancante', 'error'),
    ('<root>/bergamo/relazioni.csv', 251, 'al', "9999-12-31 indica 'senza fine': trattato come data di fine vuota", 'warning'),
    ('<root>/bergamo/relazioni.csv', 698, 'da', "attore sconosciuto 'ZZ-1': nessun attore ha questo id", 'error'),
    ('<root>/bergamo/relazioni.csv', 1039, 'a', 'valore obbligatorio mancante', 'error'),
    ('<root>/bergamo/relazioni.csv', 1525, 'a', "attore sconosciuto 'A99999': nessun attore ha questo id", 'error'),
    ('<root>/bergamo/relazioni.csv', 1908, 'a', "relazione di un attore con se stesso ('A01705')", 'error'),
    ('<root>/bergamo/relazioni.csv', 2255, 'da', "attore sconosciuto 'ZZ-1': nessun attore ha questo id", 'error'),
    ('<root>/bergamo/relazioni.csv', 2702, 'da', "attore sconosciuto 'A99999': nessun attore ha questo id", 'error'),
    ('<root>/bergamo/relazioni.csv', 3062, 'al', 'la data di fine è precedente alla data di inizio', 'error'),
    ('<root>/bergamo/relazioni.csv', 3462, 'a', "attore sconosciuto 'ZZ-1': nessun attore ha questo id", 'error'),
    ('<root>/bergamo/relazioni.csv', 3887, 'da', 'valore obbligatorio mancante', 'error'),
    ('<root>/bergamo/relazioni.csv', 4237, 'livello', "livello sconosciuto 'alto': ammessi 1 conoscenza, 2 cooperazione, 3 coordinamento, 4 integrazione", 'error'),
    ('<root>/bergamo/relazioni.csv', 4694, 'a', 'valore obbligatorio mancante', 'error'),
    ('<root>/bergamo/relazioni.csv', 5073, 'a', "relazione di un attore con se stesso ('A00359')", 'error'),
    ('<root>/bergamo/relazioni.csv', 5368, 'a', "relazione di un attore con se stesso ('A00814')", 'error'),
    ('<root>/bergamo/relazioni.csv', 5743, 'al', "9999-12-31 indica 'senza fine': trattato come data di fine vuota", 'warning'),
    ('<root>/bergamo/relazioni.csv', 6135, 'a', 'valore obbligatorio mancante', 'error'),
    ('<root>/bergamo/relazioni.csv', 6568, 'da', 'valore obbligatorio mancante', 'error'),
    ('<root>/bergamo/relazioni.csv', 6997, 'livello', "livello sconosciuto '5': ammessi 1 conoscenza, 2 cooperazione, 3 coordinamento, 4 integrazione", 'error'),
    ('<root>/bergamo/relazioni.csv', 7423, 'livello', 'valore obbligatorio mancante', 'error'),
    ('<root>/bergamo/relazioni.csv', 7762, 'da', 'valore obbligatorio mancante', 'error'),
]


def test_problem_counts_by_kind(dirty: tuple[Path, list[Problem]]) -> None:
    counts = Counter((p.severity, _kind(p)) for p in dirty[1])
    assert dict(counts) == EXPECTED_COUNTS


def test_sample_of_exact_problems(dirty: tuple[Path, list[Problem]]) -> None:
    found = {(p.file, p.row, p.column, p.message, p.severity) for p in dirty[1]}
    missing = [s for s in EXPECTED_SAMPLE if s not in found]
    assert missing == []


def test_whole_problem_list_unchanged(dirty: tuple[Path, list[Problem]]) -> None:
    assert _digest(dirty[1]) == EXPECTED_DIGEST


def test_load_raises_the_same_problems(dirty: tuple[Path, list[Problem]]) -> None:
    root, problems = dirty
    with pytest.raises(DataError) as info:
        om.load(root)
    raised = sorted(_relative(info.value.problems, root),
                    key=lambda p: (p.file, p.row or 0, p.column or "", p.message))
    assert raised == problems
