"""Reading raw tables from the files antenne produce: CSV (any Italian Excel flavour), XLSX, GPKG.

Every reader returns the cells as text, untouched but for surrounding
whitespace, together with the spreadsheet row number of each record, so that
validation can point at ``file:row: column`` exactly as a person sees it.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ._errors import Problem
from .schema import TABLES, Table, normalize_header

__all__ = ["RawTable", "cell_text", "discover", "read_csv_text", "read_path"]

_TABLE_EXTENSIONS = {".csv", ".xlsx", ".xlsm"}
_CONFIG_FILES = {"territories", "ambiti"}
_WRONG_EXTENSIONS = {".xls", ".ods", ".txt", ".json", ".tsv", ".numbers", ".xml", ".docx", ".pdf"}


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
        headers as written in the file, stripped.
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
    """
    if value is None:
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


def discover(root: Path) -> tuple[list[tuple[Path, str | None]], list[Problem]]:
    """Files holding tables in ``root`` and its immediate sub-folders.

    Returns the candidate files with the sub-folder name they were found in,
    and a problem for each file named like a table but of the wrong type.
    """
    found: list[tuple[Path, str | None]] = []
    problems: list[Problem] = []
    folders: list[tuple[Path, str | None]] = [(root, None)]
    folders += [(p, p.name) for p in sorted(root.iterdir())
                if p.is_dir() and not p.name.startswith((".", "_"))]
    for folder, label in folders:
        for path in sorted(folder.iterdir()):
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


def read_path(path: Path, folder: str | None = None) -> tuple[list[RawTable], list[Problem]]:
    """Read every table held by one file (a CSV, a workbook, a GeoPackage)."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        table = _which_table(path.stem)
        assert table is not None
        return _read_csv(path, table, folder)
    if suffix in {".xlsx", ".xlsm"}:
        return _read_workbook(path, folder)
    if suffix == ".gpkg":
        return _read_geopackage(path, folder)
    return [], [Problem(str(path), None, None,
                        f"tipo di file non supportato ({suffix}): usare .csv, .xlsx o .gpkg")]


def _decode(raw: bytes) -> str:
    if raw.startswith(codecs.BOM_UTF8):
        return raw[len(codecs.BOM_UTF8):].decode("utf-8")
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return raw.decode("utf-16")
    for encoding in ("utf-8", "cp1252"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return raw.decode("latin-1")  # maps every byte: nothing is lost


def _sniff_separator(text: str) -> str:
    header = text.split("\n", 1)[0]
    counts = {sep: header.count(sep) for sep in (";", ",", "\t")}
    best = max(counts, key=lambda s: counts[s])
    return best if counts[best] > 0 else ","


def _read_csv(path: Path, table: Table, folder: str | None) -> tuple[list[RawTable], list[Problem]]:
    where = str(path)
    raw = path.read_bytes()
    if raw.startswith(b"PK\x03\x04"):
        return [], [Problem(where, None, None,
                            "il file è una cartella di lavoro Excel salvata con estensione .csv: "
                            "rinominarlo in .xlsx o salvarlo come CSV")]
    if b"\x00" in raw[:4096] and not raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return [], [Problem(where, None, None, "il file non è un testo CSV (contenuto binario)")]
    text = _decode(raw)
    frame, rows, problems = read_csv_text(text, where)
    if frame is None:
        return [], problems
    return [RawTable(table, where, frame, rows, folder)], problems


def read_csv_text(text: str, where: str) -> tuple[pd.DataFrame | None, np.ndarray, list[Problem]]:
    """Parse CSV text (separator sniffed) into string cells and spreadsheet row numbers."""
    if not text.strip():
        return None, np.array([], dtype=int), [Problem(where, None, None, "il file è vuoto")]
    sep = _sniff_separator(text)
    options = {"sep": sep, "dtype": str, "keep_default_na": False, "na_filter": False,
               "skip_blank_lines": False, "quotechar": '"'}
    problems: list[Problem] = []
    try:
        frame = pd.read_csv(io.StringIO(text), engine="c", **options)
    except pd.errors.ParserError:
        frame = pd.read_csv(io.StringIO(text), engine="python", on_bad_lines="skip", **options)
        problems += _locate_bad_lines(text, sep, len(frame.columns))
    except pd.errors.EmptyDataError:
        return None, np.array([], dtype=int), [Problem(where, None, None, "il file è vuoto")]
    frame.columns = [str(c).strip() for c in frame.columns]
    frame = frame.fillna("").astype(str)
    header = next(csv.reader(io.StringIO(text), delimiter=sep, quotechar='"'), [])
    seen: set[str] = set()
    for name in (h.strip() for h in header):
        if name and name in seen:
            problems.append(Problem(where, 1, name, f"colonna ripetuta: {name!r}"))
        seen.add(name)
    rows = np.arange(2, len(frame) + 2)
    if any(p.file == "" for p in problems):
        problems = [Problem(where, p.row, p.column, p.message) for p in problems]
        rows = _rows_without_bad(text, sep, len(frame.columns), len(frame))
    return frame, rows, problems


def _records(text: str, sep: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text), delimiter=sep, quotechar='"'))


def _locate_bad_lines(text: str, sep: str, width: int) -> list[Problem]:
    out = []
    for i, rec in enumerate(_records(text, sep)[1:], start=2):
        if len(rec) > width:
            out.append(Problem("", i, None,
                               f"la riga ha {len(rec)} campi ma l'intestazione ne ha {width} "
                               "(separatore o virgolette sbagliati?)"))
    return out


def _rows_without_bad(text: str, sep: str, width: int, n: int) -> np.ndarray:
    rows = [i for i, rec in enumerate(_records(text, sep)[1:], start=2) if len(rec) <= width]
    return np.asarray(rows[:n], dtype=int)


def _sheet_frame(rows_iter: list[tuple[object, ...]]) -> pd.DataFrame | None:
    if not rows_iter:
        return None
    header = [cell_text(v) for v in rows_iter[0]]
    width = len(header)
    while width and not header[width - 1]:
        width -= 1
    body = [[cell_text(v) for v in r[:width]] + [""] * max(0, width - len(r))
            for r in rows_iter[1:]]
    return pd.DataFrame(body, columns=header[:width], dtype=str) if width else None


def _read_workbook(path: Path, folder: str | None) -> tuple[list[RawTable], list[Problem]]:
    from openpyxl import load_workbook

    where = str(path)
    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        return [], [Problem(where, None, None,
                            "il file non è una cartella di lavoro Excel valida "
                            f"({type(exc).__name__})")]
    try:
        by_name = {name: _which_table(name) for name in wb.sheetnames}
        wanted = {name: t for name, t in by_name.items() if t is not None}
        own = _which_table(path.stem)
        if own is not None and not any(t is own for t in wanted.values()):
            wanted = {wb.sheetnames[0]: own}
        elif own is not None:
            wanted = {n: t for n, t in wanted.items() if t is own}
        out: list[RawTable] = []
        problems: list[Problem] = []
        if not wanted:
            problems.append(Problem(
                where, None, None,
                "file ignorato: nessun foglio si chiama attori, opportunita o relazioni "
                "(né actors, opportunities, relations)", "warning"))
        for name, table in wanted.items():
            label = f"{where}[{name}]"
            values = list(wb[name].iter_rows(values_only=True))
            frame = _sheet_frame(values)
            if frame is None:
                problems.append(Problem(label, None, None, "il foglio è vuoto"))
                continue
            out.append(RawTable(table, label, frame, np.arange(2, len(frame) + 2), folder))
        return out, problems
    finally:
        wb.close()


def _read_geopackage(path: Path, folder: str | None) -> tuple[list[RawTable], list[Problem]]:
    import pyogrio

    where = str(path)
    try:
        layers = [str(name) for name, _ in pyogrio.list_layers(path)]
    except Exception as exc:  # GDAL raises several error types for a corrupt file
        return [], [Problem(where, None, None, f"GeoPackage non leggibile: {exc}")]
    out = []
    for name in layers:
        table = _which_table(name)
        if table is None:
            continue
        gdf = pyogrio.read_dataframe(path, layer=name, read_geometry=False)
        frame = pd.DataFrame({str(c): [cell_text(v) for v in gdf[c]] for c in gdf.columns},
                             dtype=str)
        out.append(RawTable(table, f"{where}[{name}]", frame, np.arange(2, len(frame) + 2), folder))
    return out, []
