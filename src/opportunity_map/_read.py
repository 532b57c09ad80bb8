"""Reading raw tables from the files antenne produce: CSV (any Italian Excel flavour), XLSX, GPKG.

Every reader returns the cells as text, untouched but for surrounding
whitespace, together with the spreadsheet row number of each record, so that
validation can point at ``file:row: column`` exactly as a person sees it.
A file that cannot be read (wrong encoding, broken quotes, a corrupt,
truncated or password-protected workbook, a damaged GeoPackage) becomes a
:class:`~opportunity_map._errors.Problem`, never an exception.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import logging
import re
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ._atomic import is_output_folder
from ._errors import Problem
from .schema import TABLES, Table, normalize_header

__all__ = [
    "RawTable",
    "cell_text",
    "decode_csv",
    "discover",
    "read_csv_file",
    "read_csv_text",
    "read_named_table",
    "read_path",
    "table_of_file",
]

log = logging.getLogger(__name__)

_TABLE_EXTENSIONS = {".csv", ".xlsx", ".xlsm"}
_CONFIG_FILES = {"territories", "ambiti"}
_WRONG_EXTENSIONS = {".xls", ".ods", ".txt", ".json", ".tsv", ".numbers", ".xml", ".docx", ".pdf"}

_ZIP = b"PK\x03\x04"
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # old .xls, and every password-protected workbook
_SQLITE = b"SQLite format 3\x00"
_NOT_WORKBOOK = "file non leggibile come cartella di lavoro Excel: "
_NOT_GEOPACKAGE = "file non leggibile come GeoPackage: "


@dataclass
class RawTable:
    """Cells of one table read from one file (or one sheet/layer).

    Attributes
    ----------
    table : Table
        Which of the three tables this is.
    file : str
        Location shown to the user (``path`` or ``path[sheet]``).
    frame : pandas.DataFrame
        All cells as ``str`` (empty string for empty cells); the columns are the
        headers as written in the file, stripped. Headers may be empty or
        repeated: validation reports them.
    rows : numpy.ndarray
        Spreadsheet row number of each record (header = row 1).
    folder : str or None
        Name of the sub-folder the file was found in (a territory slug by convention).
    """

    table: Table
    file: str
    frame: pd.DataFrame
    rows: np.ndarray
    folder: str | None = None


def cell_text(value: object) -> str:
    """Text of one spreadsheet/GeoPackage cell, as the user would read it.

    Integers and integral floats lose the ``.0`` Excel adds; other floats keep
    their shortest exact representation; dates become ``YYYY-MM-DD``.

    Examples
    --------
    >>> cell_text(45.0), cell_text(45.5), cell_text(None), cell_text(" a "), cell_text(pd.NaT)
    ('45', '45.5', '', 'a', '')
    """
    if value is None or value is pd.NaT:
        return ""
    if isinstance(value, bool | np.bool_):
        return "sì" if value else "no"
    if isinstance(value, dt.datetime | pd.Timestamp):
        if value.hour == value.minute == value.second == 0:
            return value.strftime("%Y-%m-%d")
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float | np.floating):
        if np.isnan(value):
            return ""
        if float(value).is_integer() and abs(float(value)) < 1e15:
            return str(int(value))
        return repr(float(value))
    if isinstance(value, int | np.integer):
        return str(int(value))
    return str(value).strip()


def _which_table(name: str) -> Table | None:
    key = normalize_header(name)
    for table in TABLES.values():
        if key in table.file_names:
            return table
    return None


def table_of_file(path: Path) -> Table | None:
    """The table a file holds by its name (``attori.csv`` -> actors), or None."""
    return _which_table(path.stem)


def discover(root: Path) -> tuple[list[tuple[Path, str | None]], list[Problem]]:
    """Files holding tables in ``root`` and its immediate sub-folders.

    Returns the candidate files with the sub-folder name they were found in,
    and a problem for each file named like a table but of the wrong type. A
    sub-folder holding the outputs of a build (:func:`~opportunity_map._atomic.\
is_output_folder`) is skipped with a warning.
    """
    found: list[tuple[Path, str | None]] = []
    problems: list[Problem] = []
    folders: list[tuple[Path, str | None]] = [(root, None)]
    for sub in sorted(root.iterdir()):
        if not sub.is_dir() or sub.name.startswith((".", "_")):
            continue
        if is_output_folder(sub):  # a build's outputs are never read back as data
            problems.append(Problem(str(sub), None, None,
                                    "cartella ignorata: contiene i risultati di una "
                                    "elaborazione di opportunity_map, non dati", "warning"))
            continue
        folders.append((sub, sub.name))
    for folder, label in folders:
        try:
            paths = sorted(folder.iterdir())
        except OSError as exc:
            problems.append(Problem(str(folder), None, None,
                                    f"cartella non leggibile: {_os_reason(exc)}"))
            continue
        for path in paths:
            if not path.is_file() or path.name.startswith((".", "~$")):
                continue
            suffix = path.suffix.lower()
            if suffix in _TABLE_EXTENSIONS:
                if _which_table(path.stem) is not None or suffix != ".csv":
                    found.append((path, label))
                elif normalize_header(path.stem) not in _CONFIG_FILES:
                    problems.append(Problem(
                        str(path), None, None,
                        "file ignorato: il nome non corrisponde a nessuna tabella (attori, "
                        "opportunita, relazioni o actors, opportunities, relations)", "warning"))
            elif suffix == ".gpkg":
                found.append((path, label))
            elif _which_table(path.stem) is not None and suffix in _WRONG_EXTENSIONS:
                problems.append(Problem(
                    str(path), None, None,
                    f"tipo di file non supportato ({suffix}): salvare come .csv o .xlsx"))
    return found, problems


def _name_problems(name: str, where: str, what: str) -> list[Problem]:
    from ._validate import name_problems  # _validate imports this module

    return name_problems(name, where, what)


def read_path(path: Path, folder: str | None = None) -> tuple[list[RawTable], list[Problem]]:
    """Read every table held by one file (a CSV, a workbook, a GeoPackage).

    The file name and the folder name are checked for personal data (a
    codice fiscale); a file that cannot be read gives a problem, not an exception.
    """
    from ._validate import mask_codici_fiscali

    suffix = path.suffix.lower()
    where = mask_codici_fiscali(str(path))
    problems = _name_problems(path.name, where, "il nome del file")
    if folder:
        problems += _name_problems(folder, where, "il nome della cartella")
    table = _which_table(path.stem)
    found: list[RawTable]
    if suffix == ".csv" and table is None:
        found, more = [], [Problem(where, None, None, "il nome del file non corrisponde a nessuna "
                                   "tabella (attori, opportunita, relazioni o actors, "
                                   "opportunities, relations): rinominarlo")]
    elif suffix == ".csv" and table is not None:
        found, more = _read_csv(path, where, table, folder)
    elif suffix in {".xlsx", ".xlsm"}:
        found, more = _read_workbook(path, where, folder)
    elif suffix == ".gpkg":
        found, more = _read_geopackage(path, where, folder)
    else:
        found, more = [], [Problem(where, None, None, f"tipo di file non supportato ({suffix}): "
                                   "usare .csv, .xlsx o .gpkg")]
    return found, problems + more


# --------------------------------------------------------------------------- CSV: bytes to text

_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
#: A well-formed UTF-8 sequence of two or more bytes (RFC 3629).
_UTF8_MULTIBYTE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|\xe0[\xa0-\xbf][\x80-\xbf]|[\xe1-\xec\xee\xef][\x80-\xbf]{2}"
    rb"|\xed[\x80-\x9f][\x80-\xbf]|\xf0[\x90-\xbf][\x80-\xbf]{2}|[\xf1-\xf3][\x80-\xbf]{3}"
    rb"|\xf4[\x80-\x8f][\x80-\xbf]{2}")
#: The five bytes Windows-1252 leaves undefined.
_CP1252_UNDEFINED = re.compile(rb"[\x81\x8d\x8f\x90\x9d]")
_SAVE_AS = "salvare il file come UTF-8 o come Windows-1252 per intero"


def decode_csv(raw: bytes, where: str) -> tuple[str, list[Problem]]:
    """Decode a CSV file as one encoding; a file that is not one encoding is an error.

    The rule, in order:

    1. a UTF-8 byte-order mark means UTF-8, a UTF-16 one UTF-16 (Excel's
       "testo Unicode"); any invalid byte after it is an error;
    2. bytes that are valid UTF-8 are UTF-8 (plain ASCII included);
    3. bytes that are not valid UTF-8 but hold at least one well-formed UTF-8
       multi-byte sequence are a mix (UTF-8 text with rows pasted from a
       Windows-1252 file, or the reverse): an error at the first row holding an
       invalid byte, because any single decoding would garble some rows;
    4. other bytes are Windows-1252 (Italian Excel's "CSV (delimitato dal
       separatore di elenco)") when every byte is defined in Windows-1252;
    5. otherwise (bytes 0x81, 0x8D, 0x8F, 0x90, 0x9D, binary data) an error at
       the first row holding such a byte.

    Parameters
    ----------
    raw : bytes
        The file's content.
    where : str
        The file, for the problems.

    Returns
    -------
    (str, list of Problem)
        The text (with undecodable bytes as U+FFFD when there is an error, so
        that the rest of the file can still be checked) and the problems.

    Examples
    --------
    >>> decode_csv("a;b\\nCantù;1\\n".encode("cp1252"), "x.csv")
    ('a;b\\nCantù;1\\n', [])
    >>> text, problems = decode_csv("a\\nCantù\\nperché\\n".encode() + b"Cant\\xf9\\n", "x.csv")
    >>> problems[0].row, problems[0].message.startswith("file non in UTF-8: riga 4")
    (4, True)
    """
    if raw.startswith(codecs.BOM_UTF8):
        return _strict(raw[len(codecs.BOM_UTF8):], "utf-8", where, "file non in UTF-8 "
                       "(eppure dichiarato UTF-8 dal segno iniziale)")
    if raw.startswith(_UTF16_BOMS):
        return _strict(raw, "utf-16", where, "file UTF-16 danneggiato o incompleto")
    try:
        return raw.decode("utf-8"), []
    except UnicodeDecodeError as exc:
        first_bad = exc.start
    if _UTF8_MULTIBYTE.search(raw):
        return _bad_bytes(raw, first_bad, "utf-8", where, "file non in UTF-8")
    undefined = _CP1252_UNDEFINED.search(raw)
    if undefined is None:
        return raw.decode("cp1252"), []
    return _bad_bytes(raw, undefined.start(), "cp1252", where,
                      "il file non è un testo in UTF-8 né in Windows-1252")


def _strict(raw: bytes, encoding: str, where: str, what: str) -> tuple[str, list[Problem]]:
    try:
        return raw.decode(encoding), []
    except UnicodeDecodeError as exc:
        return _bad_bytes(raw, exc.start, encoding, where, what)


def _bad_bytes(raw: bytes, start: int, encoding: str, where: str,
               what: str) -> tuple[str, list[Problem]]:
    """The text decoded with replacements, and the problem at the row of byte ``start``."""
    if encoding == "utf-16" and raw.startswith(_UTF16_BOMS):
        prefix = raw[:start - start % 2].decode("utf-16", errors="replace")
    else:
        prefix = raw[:start].decode(encoding, errors="replace")
    row = _row_at(prefix, _sniff_separator(prefix))
    byte = raw[start:start + 1].hex().upper() or "fine del file"
    message = (f"{what}: riga {row} contiene byte non validi (0x{byte}); {_SAVE_AS}"
               if byte != "fine del file" else f"{what}: il file è troncato; {_SAVE_AS}")
    return raw.decode(encoding, errors="replace"), [Problem(where, row, None, message)]


def _records(text: str, sep: str) -> list[list[str]]:
    """Records as Python's csv module reads them (any line ending, kept inside quotes)."""
    csv.field_size_limit(max(csv.field_size_limit(), 1 << 30))
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=sep, quotechar='"'))


def _row_at(prefix: str, sep: str) -> int:
    """Spreadsheet row of the character that follows ``prefix`` (the header is row 1)."""
    return len(_records(prefix + "x", sep))


def _binary_problem(raw: bytes, where: str) -> Problem | None:
    """A problem when a ``.csv`` file holds something else than text."""
    if raw.startswith(_ZIP):
        what = ("il file è una cartella di lavoro Excel salvata con estensione .csv: "
                "rinominarlo in .xlsx o salvarlo come CSV")
    elif raw.startswith(_OLE):
        what = ("il file è una cartella di lavoro Excel (formato .xls o protetta da password) "
                "salvata con estensione .csv: salvarlo come CSV")
    elif raw.startswith(_SQLITE):
        what = "il file è un database (GeoPackage) salvato con estensione .csv"
    elif raw.startswith(_UTF16_BOMS) or not _is_binary(raw[:65536]):
        return None
    else:
        what = "il file non è un testo CSV (contenuto binario)"
    return Problem(where, None, None, what)


_C0 = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _is_binary(sample: bytes) -> bool:
    """More than 8 NUL bytes, or control characters over 10% of the bytes.

    A few control characters (Word's line break is U+000B) are reported cell by
    cell instead, naming the character.
    """
    controls = len(_C0.findall(sample))
    return sample.count(b"\x00") > 8 or (controls >= 8 and controls * 10 > len(sample))


def read_csv_file(path: Path, where: str | None = None
                  ) -> tuple[pd.DataFrame | None, np.ndarray, list[Problem]]:
    """Cells of a CSV file (any encoding of :func:`decode_csv`, separator sniffed).

    Parameters
    ----------
    path : pathlib.Path
        The file.
    where : str, optional
        The file as shown in problems (default ``str(path)``).

    Returns
    -------
    (pandas.DataFrame or None, numpy.ndarray, list of Problem)
        As :func:`read_csv_text`; ``None`` when nothing could be read.
    """
    where = str(path) if where is None else where
    empty = np.array([], dtype=int)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return None, empty, [Problem(where, None, None, f"file non leggibile: {_os_reason(exc)}")]
    binary = _binary_problem(raw, where)
    if binary is not None:
        return None, empty, [binary]
    text, problems = decode_csv(raw, where)
    frame, rows, more = read_csv_text(text, where)
    return frame, rows, problems + more


def _os_reason(exc: OSError) -> str:
    if isinstance(exc, PermissionError):
        return "permesso negato"
    if isinstance(exc, IsADirectoryError):
        return "è una cartella"
    return "errore di lettura del disco"


def _read_csv(path: Path, where: str, table: Table,
              folder: str | None) -> tuple[list[RawTable], list[Problem]]:
    frame, rows, problems = read_csv_file(path, where)
    if frame is None:
        return [], problems
    return [RawTable(table, where, frame, rows, folder)], problems


# --------------------------------------------------------------------------- CSV: text to cells

_SEPARATORS = (";", ",", "\t")
#: Headers of the map's files (tables, territories, ambiti), normalised.
_KNOWN_HEADERS = frozenset(
    normalize_header(alias) for table in TABLES.values() for c in table.columns
    for alias in (c.name, c.italian, *c.aliases) if alias
) | {"slug", "name", "province_code", "province_short", "territory", "comune_codes"}


def _sniff_separator(text: str) -> str:
    """``;``, ``,`` or tab, whichever splits the first lines best.

    The first lines are read with each separator (quotes respected); the best
    one has the most headers of the map's files among the header cells, then
    the most lines as wide as the header, then the most header cells.
    """
    head = text[:65536]
    cut = max(head.rfind("\n", 0, len(head) - 1), head.rfind("\r", 0, len(head) - 1))
    head = head if len(text) <= 65536 or cut < 0 else head[:cut + 1]

    def score(sep: str) -> tuple[int, int, int]:
        records = [r for r in _records(head, sep) if any(c.strip() for c in r)][:50] or [[]]
        header = records[0]
        known = sum(normalize_header(h) in _KNOWN_HEADERS for h in header)
        regular = sum(len(r) == len(header) for r in records[1:])
        return known, regular if len(header) > 1 else -1, len(header)

    return max(_SEPARATORS, key=score)


def _quote_scanner(sep: str) -> re.Pattern[str]:
    """Matches text up to the first quote that opens a field and does not close it cleanly.

    A quote opens a field only at the start of a field (as in Excel and in
    Python's csv module); elsewhere it is a plain character. A field that opens
    with a quote must close with a quote followed by the separator, the end of
    the line or the end of the file (spaces allowed in between).
    """
    s = re.escape(sep)
    return re.compile(
        rf'(?:[^"]++|(?<=[^{s}\r\n])"|"[^"]*+(?:""[^"]*+)*+"[ \t]*+(?=[{s}\r\n]|\Z))*+')


_QUOTED_BODY = re.compile(r'[^"]*+(?:""[^"]*+)*+"')
_MAX_QUOTE_PROBLEMS = 20


def _bad_quotes(text: str, sep: str) -> list[tuple[int, int | None]]:
    """Offsets of the quotes that open a field and never close it properly.

    Each is given with the offset of the quote that ends the field, or None when
    the field runs to the end of the file. Such a quote is then taken as a
    plain character, so the rest of the file is read line by line.
    """
    scanner = _quote_scanner(sep)
    bad: list[tuple[int, int | None]] = []
    pos = 0
    while len(bad) < _MAX_QUOTE_PROBLEMS:
        match = scanner.match(text, pos)
        end = match.end() if match else pos
        if end >= len(text):
            break
        close = _QUOTED_BODY.match(text, end + 1)
        bad.append((end, close.end() - 1 if close else None))
        pos = end + 1
    return bad


def _mark(text: str) -> str:
    """A private-use character absent from ``text``."""
    for code in range(0xE000, 0xF8FF):
        if chr(code) not in text:
            return chr(code)
    return "\ufffd"  # pragma: no cover - a text holding all 6,400 private-use characters


def _neutralized(text: str, offsets: list[int]) -> tuple[str, str]:
    """``text`` with the quotes at ``offsets`` replaced by a mark absent from it, and the mark."""
    if not offsets:
        return text, ""
    mark = _mark(text)
    pieces, start = [], 0
    for offset in offsets:
        pieces += [text[start:offset], mark]
        start = offset + 1
    return "".join([*pieces, text[start:]]), mark


def _locate(text: str, sep: str, offsets: list[int]) -> list[tuple[int, int]]:
    """(row, field index) of the character at each offset (sorted; none of them a quote)."""
    out: list[tuple[int, int]] = []
    row, field, start = 1, 0, 0
    for k, offset in enumerate(offsets):
        records = _records(text[start:offset] + "x", sep)
        last = len(records[-1]) - 1
        if k == 0:
            row, field = len(records), last
        elif len(records) == 1:
            field += last
        else:
            row, field = row + len(records) - 1, last
        out.append((row, field))
        start = offset
    return out


def _quote_problems(text: str, neutral: str, sep: str, bad: list[tuple[int, int | None]],
                    where: str) -> list[Problem]:
    header = _records(re.split(r"\r\n|\r|\n", neutral, maxsplit=1)[0], sep)
    names = [h.strip() for h in header[0]] if header else []
    problems = []
    for (offset, close), (row, field) in zip(bad, _locate(neutral, sep, [b[0] for b in bad]),
                                             strict=True):
        column = names[field] if 0 <= field < len(names) and row > 1 else None
        message = f"virgolette non chiuse: il campo aperto alla riga {row} non si chiude"
        if close is not None:
            last = row + len(re.findall(r"\r\n|\r|\n", text[offset:close]))
            at = f", alla riga {last}," if last != row else ""
            message += (f" (le virgolette successive{at} non sono seguite dal separatore; "
                        "dentro un campo una virgoletta va scritta due volte: \"\")")
        problems.append(Problem(where, row, column, message))
    return problems


def read_csv_text(text: str, where: str) -> tuple[pd.DataFrame | None, np.ndarray, list[Problem]]:
    """Parse CSV text (separator sniffed) into string cells and spreadsheet row numbers.

    A quote that opens a field and never closes it (or closes it in the middle
    of a later line) is reported at the row where it opens, and taken as a plain
    character so that the rest of the file is still read and checked. Line
    breaks inside quoted cells (``\\n``, ``\\r\\n``, ``\\r``) are kept as written.

    Parameters
    ----------
    text : str
        The decoded file.
    where : str
        The file, for the problems.

    Returns
    -------
    (pandas.DataFrame or None, numpy.ndarray, list of Problem)
        The cells (columns: the header cells, stripped; possibly empty or
        repeated), the spreadsheet row of each record, and the problems.
        ``None`` when the file is empty.

    Examples
    --------
    >>> frame, rows, problems = read_csv_text('id;note\\nA;"x\\r\\ny"\\nB;"aperto\\n', "t.csv")
    >>> frame["note"].tolist(), rows.tolist()
    (['x\\r\\ny', '"aperto'], [2, 3])
    >>> print(problems[0])
    t.csv:3: note: virgolette non chiuse: il campo aperto alla riga 3 non si chiude
    """
    empty = np.array([], dtype=int)
    if not text.strip():
        return None, empty, [Problem(where, None, None, "il file è vuoto")]
    if not re.split(r"\r\n|\r|\n", text, maxsplit=1)[0].strip(", ;\t"):
        return None, empty, [Problem(where, 1, None, "la riga 1 è vuota: la prima riga deve "
                                     "contenere le intestazioni delle colonne")]
    sep = _sniff_separator(text)
    bad = _bad_quotes(text, sep)
    neutral, mark = _neutralized(text, [offset for offset, _ in bad])
    problems = _quote_problems(text, neutral, sep, bad, where) if bad else []
    data, rows, more = _parse(neutral, sep, where)
    problems += more
    if mark:
        data = data.apply(lambda s: s.str.replace(mark, '"', regex=False))
    if data.empty:
        return None, empty, [*problems, Problem(where, None, None, "il file è vuoto")]
    frame = data.iloc[1:].reset_index(drop=True)
    frame.columns = [str(h).strip() for h in data.iloc[0]]
    return frame, rows[1:], problems


def _parse(text: str, sep: str, where: str) -> tuple[pd.DataFrame, np.ndarray, list[Problem]]:
    """Every record, the header included, as columns ``0..n-1`` of text."""
    try:
        # bytes, not a StringIO: the parser reads UTF-8 anyway, and a StringIO holds
        # the whole text again at four bytes per character
        data = pd.read_csv(io.BytesIO(text.encode("utf-8")), sep=sep, header=None,
                           index_col=False, dtype=str, encoding="utf-8", keep_default_na=False,
                           na_filter=False, skip_blank_lines=False, quotechar='"', engine="c")
    except pd.errors.EmptyDataError:
        return pd.DataFrame(), np.array([], dtype=int), []
    except pd.errors.ParserError:
        return _parse_records(text, sep, where)
    return data.fillna("").astype(str), np.arange(1, len(data) + 1), []


def _parse_records(text: str, sep: str, where: str
                   ) -> tuple[pd.DataFrame, np.ndarray, list[Problem]]:
    """Python's csv parser: records wider than the header are reported and left out."""
    records = _records(text, sep)
    width = len(records[0]) if records else 0
    problems, body, rows = [], [], []
    for i, rec in enumerate(records, start=1):
        if len(rec) > width:
            problems.append(Problem(where, i, None,
                                    f"la riga ha {len(rec)} campi ma l'intestazione ne ha {width} "
                                    "(separatore o virgolette sbagliati?)"))
            continue
        body.append(rec + [""] * (width - len(rec)))
        rows.append(i)
    data = pd.DataFrame(body, columns=range(width), dtype=str) if width else pd.DataFrame()
    return data, np.asarray(rows, dtype=int), problems


# --------------------------------------------------------------------------- workbooks


def _head(path: Path, n: int = 4096) -> bytes:
    with path.open("rb") as handle:
        return handle.read(n)


def _looks_like_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return _CP1252_UNDEFINED.search(head) is None
    return True


def _workbook_signature_problem(path: Path, where: str) -> Problem | None:
    """Why a file is not an ``.xlsx`` at all, judging from its first bytes; None if it may be."""
    try:
        head = _head(path)
    except OSError as exc:
        return Problem(where, None, None, _NOT_WORKBOOK + _os_reason(exc))
    if head.startswith(_ZIP):
        return None
    if head.startswith(_OLE):
        reason = ("è protetto da password (cifrato) oppure è nel vecchio formato .xls: aprirlo "
                  "in Excel, togliere la password e salvarlo come cartella di lavoro .xlsx")
    elif not head:
        reason = "il file è vuoto"
    elif head.startswith(_SQLITE):
        reason = "è un database (GeoPackage): usare l'estensione .gpkg"
    elif _looks_like_text(head):
        reason = "è un file di testo (CSV?) salvato con estensione .xlsx: rinominarlo in .csv"
    else:
        reason = "il contenuto non è quello di un file .xlsx"
    return Problem(where, None, None, _NOT_WORKBOOK + reason)


def _zip_reason(path: Path) -> str:
    """Why a file that starts like a zip archive is not a readable workbook."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            if "xl/workbook.xml" not in names and "[Content_Types].xml" not in names:
                return "è un archivio zip che non contiene una cartella di lavoro Excel"
            if archive.testzip() is not None:
                return "il file è danneggiato o incompleto (scaricato a metà?)"
    except (zipfile.BadZipFile, OSError, EOFError, ValueError):
        return "il file è danneggiato o incompleto (scaricato a metà?)"
    return "il file è danneggiato o in un formato non supportato"


def _open_workbook(path: Path, where: str) -> tuple[Any, list[Problem]]:
    """An openpyxl read-only workbook, or None with the problem."""
    from openpyxl import load_workbook

    signature = _workbook_signature_problem(path, where)
    if signature is not None:
        return None, [signature]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return load_workbook(path, read_only=True, data_only=True), []
    except Exception:  # openpyxl raises many types for a damaged archive
        log.debug("cannot open %s", path, exc_info=True)
        return None, [Problem(where, None, None, _NOT_WORKBOOK + _zip_reason(path))]


def _sheet_frame(values: list[tuple[object, ...]]) -> pd.DataFrame | None:
    """Header and cells of a sheet's rows; None when it holds nothing."""
    texts = [[cell_text(v) for v in row] for row in values]
    width = max((max((j + 1 for j, v in enumerate(row) if v), default=0) for row in texts),
                default=0)
    if not texts or width == 0:
        return None
    header = texts[0][:width] + [""] * (width - len(texts[0]))
    body = [row[:width] + [""] * (width - len(row)) for row in texts[1:]]
    frame = pd.DataFrame(body, columns=range(width), dtype=str)
    frame.columns = header
    return frame


def _read_sheet(wb: Any, name: str, label: str) -> tuple[pd.DataFrame | None, list[Problem]]:
    try:
        sheet = wb[name]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sheet.reset_dimensions()  # a stale dimension could pad every row to column XFD
            values = list(sheet.iter_rows(values_only=True))
    except Exception:  # a damaged sheet in a readable archive
        log.debug("cannot read %s", label, exc_info=True)
        return None, [Problem(label, None, None,
                              _NOT_WORKBOOK + "il foglio è danneggiato o incompleto")]
    frame = _sheet_frame(values)
    if frame is None:
        return None, [Problem(label, None, None, "il foglio è vuoto")]
    return frame, []


def _wanted_sheets(path: Path, sheetnames: list[str]) -> dict[str, Table]:
    wanted = {name: t for name in sheetnames if (t := _which_table(name)) is not None}
    own = _which_table(path.stem)
    if own is not None and not any(t is own for t in wanted.values()):
        return {sheetnames[0]: own} if sheetnames else {}
    if own is not None:
        return {n: t for n, t in wanted.items() if t is own}
    return wanted


def _read_workbook(path: Path, where: str,
                   folder: str | None) -> tuple[list[RawTable], list[Problem]]:
    wb, problems = _open_workbook(path, where)
    if wb is None:
        return [], problems
    try:
        sheetnames = [str(n) for n in wb.sheetnames]
        for name in sheetnames:
            problems += _name_problems(name, where, "il nome del foglio")
        wanted = _wanted_sheets(path, sheetnames)
        out: list[RawTable] = []
        if not wanted:
            problems.append(Problem(
                where, None, None,
                "file ignorato: nessun foglio si chiama attori, opportunita o relazioni "
                "(né actors, opportunities, relations)", "warning"))
        for name, table in wanted.items():
            label = f"{where}[{name}]"
            frame, more = _read_sheet(wb, name, label)
            problems += more
            if frame is not None:
                out.append(RawTable(table, label, frame, np.arange(2, len(frame) + 2), folder))
        return out, problems
    finally:
        wb.close()


def read_named_table(path: Path, name: str) -> tuple[pd.DataFrame | None, np.ndarray,
                                                     list[Problem]]:
    """The sheet (``.xlsx``) or layer (``.gpkg``) called ``name``, as text cells.

    Returns ``None`` without problems when the file has no such sheet or layer,
    or cannot be opened at all (reading its tables reports that).

    Parameters
    ----------
    path : pathlib.Path
        A workbook or a GeoPackage.
    name : str
        ``"territories"`` or ``"ambiti"``.

    Returns
    -------
    (pandas.DataFrame or None, numpy.ndarray, list of Problem)
        Cells with the header cells as columns, their spreadsheet rows, problems.
    """
    empty = np.array([], dtype=int)
    label = f"{path}[{name}]"
    if path.suffix.lower() == ".gpkg":
        layers = _layers(path)
        if layers is None or name not in layers:
            return None, empty, []
        try:
            frame = _layer_frame(path, name)
        except Exception:
            log.debug("cannot read %s", label, exc_info=True)
            return None, empty, [Problem(label, None, None, _NOT_GEOPACKAGE + "il livello è "
                                         "danneggiato o incompleto")]
        return frame, np.arange(2, len(frame) + 2), []
    wb, problems = _open_workbook(path, str(path))
    if wb is None:
        return None, empty, []
    try:
        if name not in wb.sheetnames:
            return None, empty, []
        frame, problems = _read_sheet(wb, name, label)
    finally:
        wb.close()
    rows = np.arange(2, len(frame) + 2) if frame is not None else empty
    return frame, rows, problems


# --------------------------------------------------------------------------- GeoPackage


def _layers(path: Path) -> list[str] | None:
    """Layer names of a GeoPackage; None when it cannot be opened."""
    import pyogrio

    try:
        if not _head(path, 16).startswith(_SQLITE):
            return None
        return [str(name) for name, _ in pyogrio.list_layers(path)]
    except Exception:  # GDAL raises several error types for a damaged file
        log.debug("cannot list the layers of %s", path, exc_info=True)
        return None


def _layer_frame(path: Path, name: str) -> pd.DataFrame:
    import pyogrio

    gdf = pyogrio.read_dataframe(path, layer=name, read_geometry=False)
    return pd.DataFrame({str(c): [cell_text(v) for v in gdf[c]] for c in gdf.columns}, dtype=str)


def _read_geopackage(path: Path, where: str,
                     folder: str | None) -> tuple[list[RawTable], list[Problem]]:
    try:
        head = _head(path, 16)
    except OSError as exc:
        return [], [Problem(where, None, None, _NOT_GEOPACKAGE + _os_reason(exc))]
    layers = _layers(path)
    if layers is None:
        reason = ("il file è danneggiato o incompleto (scaricato a metà?)"
                  if head.startswith(_SQLITE) else "non è un file GeoPackage")
        return [], [Problem(where, None, None, _NOT_GEOPACKAGE + reason)]
    out: list[RawTable] = []
    problems: list[Problem] = []
    for name in layers:
        problems += _name_problems(name, where, "il nome del livello")
        table = _which_table(name)
        if table is None:
            continue
        label = f"{where}[{name}]"
        try:
            frame = _layer_frame(path, name)
        except Exception:  # GDAL raises several error types for a damaged file
            log.debug("cannot read %s", label, exc_info=True)
            problems.append(Problem(label, None, None,
                                    _NOT_GEOPACKAGE + "il livello è danneggiato o incompleto"))
            continue
        out.append(RawTable(table, label, frame, np.arange(2, len(frame) + 2), folder))
    return out, problems
