"""Validation: turn raw text cells into typed tables, collecting every problem.

Nothing here stops at the first problem: each check runs over whole columns
and reports every offending cell with its file, row and column. Checks that
rarely fire (control characters, personal data, formulas) first search the
whole column at once and look at single values only when that search hits.
"""

from __future__ import annotations

import datetime as dt
import difflib
import enum
import importlib.util
import math
import re
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd

from ._errors import Problem, Severity
from ._read import RawTable
from ._time import date_parts, parse_date
from .schema import LEVEL_LABELS, Column, Table, normalize_header

__all__ = [
    "DERIVED_COLUMNS",
    "FILE_COLUMN",
    "POSITION_COLUMNS",
    "ROW_COLUMN",
    "convert_table",
    "find_codice_fiscale",
    "mask_codici_fiscali",
    "name_problems",
    "odd_values",
    "regex_mask",
    "suggest",
]

#: Columns computed by the loader; ignored when found in an input file.
DERIVED_COLUMNS = ("group", "comune_code", "ambito")
#: Headers a file may not use: the maps and the GeoPackage need them.
RESERVED_COLUMNS = ("geometry",)


class _Position(enum.Enum):
    """Labels of the private columns locating each record in its source file.

    They are not strings, so no header of a file (always a string) can collide
    with them: a user column called ``_file`` or ``_row`` is an ordinary column.
    """

    FILE = "file"
    ROW = "row"


#: Private column: the file (``path`` or ``path[sheet]``) of each record.
FILE_COLUMN = _Position.FILE
#: Private column: the spreadsheet row of each record.
ROW_COLUMN = _Position.ROW
#: Both private columns.
POSITION_COLUMNS = (FILE_COLUMN, ROW_COLUMN)


#: pyarrow (optional, as for pandas) runs whole-column RE2 searches in C++.
_ARROW = importlib.util.find_spec("pyarrow") is not None


def regex_mask(values: pd.Series, pattern: str) -> np.ndarray | None:
    """Whether each cell holds a match of the RE2 ``pattern``, searched by pyarrow.

    A fast pre-selection of the cells that need a closer look (or that are
    surely fine): callers give a pattern that is a superset (or a subset) of
    the exact Python check, which then runs on the other cells only.

    Parameters
    ----------
    values : pandas.Series
        Text cells (a missing cell counts as a hit, so it gets the closer look).
    pattern : str
        An RE2 regular expression.

    Returns
    -------
    numpy.ndarray of bool or None
        ``None`` when pyarrow is not installed or the cells are not all text.

    Examples
    --------
    >>> mask = regex_mask(pd.Series(["a1", "b", "c22"]), "[0-9]")
    >>> mask is None or mask.tolist() == [True, False, True]
    True
    """
    if not _ARROW:  # pragma: no cover - pyarrow comes with pandas' string dtype
        return None
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        if isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow":
            array = pa.array(values.array)
        else:
            array = pa.array(values.to_numpy(dtype=object), type=pa.large_string(),
                             from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None
    hit = pc.fill_null(pc.match_substring_regex(array, pattern), True)
    return np.asarray(hit.to_numpy(zero_copy_only=False), dtype=bool)


def suggest(value: str, vocabulary: tuple[str, ...] | list[str]) -> str:
    """Italian hint naming the closest valid value, or listing them all."""
    key = normalize_header(value)
    close = (difflib.get_close_matches(key, list(vocabulary), n=1, cutoff=0.5)
             if len(key) <= 60 else [])
    if close:
        return f"forse intendevi {close[0]!r}?"
    return "valori ammessi: " + ", ".join(vocabulary)


def _shown(text: str, limit: int = 60) -> str:
    """``repr`` of a value for a message, cut when long."""
    return repr(text if len(text) <= limit else text[:limit] + "…")


def _column_letter(index: int) -> str:
    """Spreadsheet letter of a 0-based column index (0 -> A, 26 -> AA)."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


# --------------------------------------------------------------------------- codice fiscale

_SEPARATOR = r"[ \t.\-_/]{0,3}"
_SHAPE = ["[A-Z]"] * 6 + ["[0-9LMNPQRSTUV]"] * 2 + ["[ABCDEHLMPRST]"] + ["[0-9LMNPQRSTUV]"] * 2 \
    + ["[A-Z]"] + ["[0-9LMNPQRSTUV]"] * 3 + ["[A-Z]"]
#: Something shaped like a person's codice fiscale, in any case, with or without
#: separators between the characters (overlapping candidates are all found).
_CODICE_FISCALE = re.compile(
    rf"(?<![A-Z0-9])(?=({_SEPARATOR.join(_SHAPE)})(?![A-Z0-9]))", re.IGNORECASE | re.ASCII)
_OMOCODIA = str.maketrans("LMNPQRSTUV", "0123456789")
_ODD = dict(zip("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ",
                [1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 1, 0, 5, 7, 9, 13, 15, 17, 19, 21,
                 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23], strict=True))


def _check_character(code: str) -> str:
    """The control character (16th) of the first 15 characters of a codice fiscale."""
    total = sum(_ODD[c] for c in code[0:15:2])
    total += sum(int(c) if c.isdigit() else ord(c) - 65 for c in code[1:15:2])
    return chr(65 + total % 26)


def _is_person_code(candidate: str) -> bool:
    """Whether a candidate span is a person's codice fiscale (see :func:`find_codice_fiscale`)."""
    code = re.sub(r"[^A-Za-z0-9]", "", candidate).upper()
    if _check_character(code) == code[15]:
        return True
    day = int(code[9:11].translate(_OMOCODIA))
    return code == candidate.upper() and (1 <= day <= 31 or 41 <= day <= 71)


def _codici_fiscali(text: str) -> list[tuple[int, int]]:
    """Spans of the persons' codici fiscali in ``text``."""
    return [m.span(1) for m in _CODICE_FISCALE.finditer(text) if _is_person_code(m.group(1))]


def find_codice_fiscale(text: str) -> bool:
    """Whether ``text`` holds a person's codice fiscale, however it is written.

    A candidate is 16 characters shaped like a codice fiscale (6 letters, year,
    month letter, day, cadastral code, control letter) in any case, with digits
    possibly replaced by the omocodia letters L M N P Q R S T U V, standing
    alone or inside longer text (an e-mail, a note), with up to three spaces,
    dots, dashes, underscores or slashes between its characters. The rule:

    * a candidate whose control character is right is always a codice fiscale;
    * a candidate written in one piece (no separators) with a possible day
      of birth (01-31, 41-71 for women) is one even when its control character
      is wrong: a mistyped codice fiscale still identifies a person;
    * a candidate with separators and a wrong control character is not one:
      ordinary text split by spaces or dots matches the shape too often.

    A company's codice fiscale or partita IVA (11 digits) never matches.

    Parameters
    ----------
    text : str
        A cell, a header, a sheet or file name.

    Returns
    -------
    bool

    Examples
    --------
    >>> find_codice_fiscale("RSSMRA80A01H501U")
    True
    >>> find_codice_fiscale("scrivere a mrarss80a01h501u@pec.it")  # control character wrong
    True
    >>> find_codice_fiscale("Rss.Mra 80a01-h5LM.x")  # omocodia, separators, control right
    True
    >>> find_codice_fiscale("RSS MRA 80A01 H501X")  # separators and control character wrong
    False
    >>> find_codice_fiscale("P.IVA 01234567890"), find_codice_fiscale("ABCDEF12A99B123C")
    (False, False)
    """
    return bool(_codici_fiscali(text))


def mask_codici_fiscali(text: str) -> str:
    """``text`` with every person's codice fiscale masked (first two and last character kept).

    Examples
    --------
    >>> mask_codici_fiscali("cv_RSSMRA80A01H501U.csv")
    'cv_RS*************U.csv'
    """
    spans = _codici_fiscali(text)
    for start, end in reversed(spans):
        text = text[:start + 2] + "*" * (end - start - 3) + text[end - 1:]
    return text


def name_problems(name: str, where: str, what: str) -> list[Problem]:
    """An error when a file, folder, sheet or layer name holds a person's codice fiscale.

    Parameters
    ----------
    name : str
        The name.
    where : str
        The file, for the problem.
    what : str
        What the name is, in Italian (``"il nome del file"``).
    """
    if not find_codice_fiscale(name):
        return []
    return [Problem(mask_codici_fiscali(where), None, None,
                    f"{what} ({mask_codici_fiscali(name)!r}) sembra contenere il codice fiscale "
                    "di una persona: i dati personali non possono entrare nella mappa; "
                    "rinominarlo")]


# --------------------------------------------------------------------------- odd text

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x80-\x9f]")
_BIDI = re.compile(r"[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_UNSAFE = re.compile(f"{_CONTROL.pattern}|{_BIDI.pattern}")
_INVISIBLE = re.compile(r"[\u00ad\u200b-\u200d\u2060\ufeff]")
_FORMULA_START = re.compile(r"^[=+\-@]", re.MULTILINE)
_FORMULA = re.compile(r"=.|[+\-@](?![\d\s.,:;/()%+\-]*\Z)", re.DOTALL)
#: RE2 pattern hit by every value any check of :func:`odd_values` could report
#: (control, bidi or invisible characters, a formula start, the shape of a codice
#: fiscale without its boundaries): a superset, so values it misses are clean.
_ODD_PREFILTER = (
    r"[\x{00}-\x{08}\x{0b}\x{0c}\x{0e}-\x{1f}\x{80}-\x{9f}\x{061c}\x{200e}\x{200f}"
    r"\x{202a}-\x{202e}\x{2066}-\x{2069}\x{00ad}\x{200b}-\x{200d}\x{2060}\x{feff}]"
    rf"|(?m:^[=+\-@])|(?i:{_SEPARATOR.join(_SHAPE)})")
_CF_MESSAGE = ("il valore sembra il codice fiscale di una persona: i dati personali non "
               "possono entrare nella mappa (che descrive solo organizzazioni)")

Finding = tuple[Severity, str]


def _codes(pattern: re.Pattern[str], value: str) -> str:
    found = list(dict.fromkeys(pattern.findall(value)))
    return ", ".join(f"U+{ord(c):04X}" for c in found[:3]) + (", …" if len(found) > 3 else "")


def _control(value: str) -> Finding | None:
    return ("error", f"carattere di controllo {_codes(_CONTROL, value)} nel valore: non si "
            "può scrivere in Excel e di solito viene da un copia-incolla; eliminarlo")


def _bidi(value: str) -> Finding | None:
    return ("error", f"carattere invisibile di direzione del testo {_codes(_BIDI, value)} nel "
            "valore: può mascherare il testo mostrato; eliminarlo")


def _invisible(value: str) -> Finding | None:
    return ("warning", f"carattere invisibile {_codes(_INVISIBLE, value)} nel valore (di solito "
            "viene da un copia-incolla): è mantenuto, ma è ignorato nei nomi dei comuni")


def _formula(value: str) -> Finding | None:
    if not _FORMULA.match(value):
        return None
    return ("warning", f"il valore inizia con {value[0]!r}: un foglio di calcolo lo leggerebbe "
            "come formula; è mantenuto come testo in ogni file scritto")


def _personal(value: str) -> Finding | None:
    return ("error", _CF_MESSAGE) if find_codice_fiscale(value) else None


#: (search over a whole column, check of one value that the search hit).
_CHECKS: tuple[tuple[re.Pattern[str], Callable[[str], Finding | None]], ...] = (
    (_CONTROL, _control), (_BIDI, _bidi), (_INVISIBLE, _invisible),
    (_FORMULA_START, _formula), (_CODICE_FISCALE, _personal),
)


def odd_values(values: Iterable[str]) -> dict[str, list[Finding]]:
    """Findings about text values, each distinct value checked once.

    Errors: control characters (C0 but tab and line breaks, C1), bidi
    controls, a person's codice fiscale. Warnings: invisible characters
    (zero-width, soft hyphen, a stray byte-order mark), formula-like text. Each
    check first searches all the values joined, and looks at single values only
    when that search hits, so a clean 50,000-row column costs one regex pass.

    Parameters
    ----------
    values : iterable of str
        A column, or the headers.

    Returns
    -------
    dict
        Each value with a finding -> its ``(severity, message)`` list.

    Examples
    --------
    >>> odd_values(["ok", "a\\x0bb", "=HYPERLINK(\\"x\\")"])["a\\x0bb"][0][1][:32]
    'carattere di controllo U+000B ne'
    """
    unique = list(dict.fromkeys(values))
    # One pass of each search over the distinct values joined by line breaks: no
    # pattern matches a line break, so every match lies inside one value and is a
    # match of that value on its own (the line break before a value stands for its
    # start). Only the values hit are checked one by one.
    joined = "\n".join(unique)
    starts = np.cumsum([0] + [len(v) + 1 for v in unique[:-1]])
    found: dict[str, list[Finding]] = {}
    for search, check in _CHECKS:
        hits = sorted({int(np.searchsorted(starts, m.start(), side="right")) - 1
                       for m in search.finditer(joined)})
        for k in hits:
            value = unique[k]
            finding = check(value)
            if finding is not None:
                found.setdefault(value, []).append(finding)
    return found


# --------------------------------------------------------------------------- the collector


class _Collector:
    """Gathers problems for one raw table, addressing cells by position."""

    def __init__(self, raw: RawTable) -> None:
        self.raw = raw
        self.problems: list[Problem] = []

    def add(self, positions: np.ndarray | list[int], column: str | None, message: str | list[str],
            severity: Severity = "error") -> None:
        messages = [message] * len(positions) if isinstance(message, str) else message
        for pos, msg in zip(positions, messages, strict=True):
            self.problems.append(
                Problem(self.raw.file, int(self.raw.rows[pos]), column, msg, severity))

    def findings(self, values: pd.Series, column: str, maybe: np.ndarray | None) -> None:
        """Report every cell of ``values`` with an :func:`odd_values` finding.

        ``maybe`` marks the cells that may have one (all of them when None).
        """
        found = odd_values((values if maybe is None else values[maybe]).unique().tolist())
        if not found:
            return
        for pos in np.flatnonzero(values.isin(list(found)).to_numpy()).tolist():
            for severity, message in found[values.iloc[pos]]:
                self.add([pos], column, message, severity)


# --------------------------------------------------------------------------- headers


def _safe_label(header: str) -> str:
    """A header fit to be printed: control and bidi characters written as escapes.

    Such a header is an error anyway; the escape keeps terminals and reports safe.
    """
    return _UNSAFE.sub(lambda m: repr(m.group())[1:-1], header)


def _header_key(header: str) -> str:
    return normalize_header(header) or header


def _usable_columns(raw: RawTable) -> tuple[pd.DataFrame, list[Problem]]:
    """The columns validation can use, with every header problem.

    Headers are stripped (never otherwise changed: they round-trip); one holding a
    codice fiscale is
    masked. Empty headers over data, headers repeated (ignoring case, accents,
    spaces and punctuation) and reserved headers are reported and left out.
    """
    plain = [str(h).strip() for h in raw.frame.columns]
    problems = [Problem(raw.file, 1, _safe_label(mask_codici_fiscali(h)) or None, message,
                        severity)
                for h, found in odd_values(plain).items() for severity, message in found]
    headers = [_safe_label(mask_codici_fiscali(h)) for h in plain]
    seen: dict[str, int] = {}
    keep: list[int] = []
    for j, header in enumerate(headers):
        where = f"(colonna {_column_letter(j)})"
        if not header:
            if (raw.frame.iloc[:, j].str.strip() != "").any():
                problems.append(Problem(raw.file, 1, None,
                                        f"una colonna con dati non ha intestazione {where}"))
        elif _header_key(header) in seen:
            first = seen[_header_key(header)]
            problems.append(Problem(
                raw.file, 1, header,
                f"colonna ripetuta: {header!r} {where} e {headers[first]!r} (colonna "
                f"{_column_letter(first)}) hanno lo stesso nome, a parte maiuscole, accenti o "
                "spazi: rinominarne una o unirle"))
        elif normalize_header(header) in RESERVED_COLUMNS:
            problems.append(Problem(raw.file, 1, header, f"il nome di colonna {header!r} è "
                                    "riservato (serve alle mappe): rinominare la colonna"))
        else:
            seen[_header_key(header)] = j
            keep.append(j)
    frame = raw.frame.iloc[:, keep]
    frame.columns = [headers[j] for j in keep]
    return frame, problems


#: RE2 pattern of the cells that need a closer look: those :data:`_ODD_PREFILTER`
#: hits, and those whose first or last character is not a visible ASCII character
#: (any whitespace to strip is such a character).
_LOOK_CLOSER = _ODD_PREFILTER + r"|^[^!-~]|[^!-~]$"


def _clean(frame: pd.DataFrame) -> tuple[pd.DataFrame, list[np.ndarray | None]]:
    """Cells stripped of surrounding whitespace; every other character is kept as typed.

    No Unicode normalisation: a value comes back from every output exactly as it
    was read (matching of comuni and headers is forgiving on its own).

    Returns
    -------
    (pandas.DataFrame, list of numpy.ndarray or None)
        The cells, and for each column the cells that may have an
        :func:`odd_values` finding (None: any of them). Only those cells, and the
        cells that start or end with something else than visible ASCII, are
        stripped: the others have nothing to strip.
    """
    frame = frame.astype(str)
    columns = [frame.iloc[:, j] for j in range(len(frame.columns))]
    # the searches run in C++ without the GIL: two columns at a time
    with ThreadPoolExecutor(max_workers=2) as pool:
        looks = list(pool.map(lambda column: regex_mask(column, _LOOK_CLOSER), columns))
    closer: list[np.ndarray | None] = []
    for j, (column, look) in enumerate(zip(columns, looks, strict=True)):
        # column by column: at most one column held twice
        if look is None:
            stripped = column.str.strip()
            if not stripped.equals(column):
                frame.isetitem(j, stripped)
            closer.append(None)
            continue
        if look.any():
            part = column[look]
            stripped = part.str.strip()
            if not stripped.equals(part):
                column = column.copy()
                column[look] = stripped.to_numpy()
                frame.isetitem(j, column)
        closer.append(look)
    return frame, closer


#: Columns naming an actor in another table: the same ids repeat there.
_ACTOR_REFERENCES = ("source", "target", "actor_id")


def _objects(values: pd.Series) -> pd.Series:
    """``values.astype(object)``, with one Python string per distinct value.

    Ids repeated across a million relations then cost one string each, not one per cell.
    """
    if not (_ARROW and isinstance(values.dtype, pd.StringDtype)
            and values.dtype.storage == "pyarrow"):
        return values.astype(object)  # pragma: no cover - pyarrow comes with pandas' strings
    import pyarrow as pa
    import pyarrow.compute as pc

    array = pa.array(values.array)
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if array.null_count:  # a missing value: convert the plain way
        return values.astype(object)
    encoded = pc.dictionary_encode(array)
    distinct = encoded.dictionary.to_numpy(zero_copy_only=False)
    cells = distinct[encoded.indices.to_numpy()]
    return pd.Series(cells, index=values.index, dtype=object)


def _map_headers(raw: RawTable, col: _Collector) -> dict[str, str]:
    """Canonical name -> header in the file; reports missing and repeated columns."""
    table = raw.table
    lookup: dict[str, str] = {}
    for c in table.columns:
        for alias in (c.name, c.italian, *c.aliases):
            if alias:
                lookup.setdefault(normalize_header(alias), c.name)
    mapping: dict[str, str] = {}
    for header in raw.frame.columns:
        canonical = lookup.get(normalize_header(header))
        if canonical is None:
            continue
        if canonical in mapping:
            col.problems.append(Problem(
                raw.file, 1, header,
                f"colonna ripetuta: {header!r} e {mapping[canonical]!r} indicano entrambe "
                f"{canonical!r}"))
            continue
        mapping[canonical] = header
    for c in table.columns:
        if c.required and c.name not in mapping:
            accepted = ", ".join(dict.fromkeys([c.name, c.italian, *c.aliases]))
            col.problems.append(Problem(
                raw.file, 1, c.name,
                f"colonna obbligatoria mancante {c.name!r} (intestazioni accettate: {accepted})"))
    return mapping


# --------------------------------------------------------------------------- typed columns


def _map_distinct(values: pd.Series, func: Callable[[str], object]) -> pd.Series:
    """``values.map(func)``, calling ``func`` once per distinct value."""
    codes, uniques = pd.factorize(values)
    if len(codes) and codes.min() < 0:  # a missing value: not text, map it the plain way
        return values.map(func)
    mapped = pd.Series(uniques, dtype=values.dtype).map(func)
    out = mapped.take(codes)
    out.index = values.index
    return out


def _lookup(values: pd.Series, parsed: dict[str, object]) -> np.ndarray:
    """``parsed[v]`` of each cell (NaN for a value not in ``parsed``), one look-up per value."""
    codes, uniques = pd.factorize(values)
    found = np.array([parsed.get(v, np.nan) for v in uniques] + [np.nan], dtype=object)
    out: np.ndarray = found[codes]  # a missing cell (code -1) takes the NaN at the end
    return out


def _vocabulary_lookup(table: Table) -> dict[str, str]:
    from .schema import ACTOR_KIND_LABELS, OPPORTUNITY_TYPE_LABELS, RELATION_KIND_LABELS

    labels = {"actors": ACTOR_KIND_LABELS, "opportunities": OPPORTUNITY_TYPE_LABELS,
              "relations": RELATION_KIND_LABELS}[table.name]
    lookup = {normalize_header(k): k for k in labels}
    for key, label in labels.items():
        lookup.setdefault(normalize_header(label), key)
    return lookup


def _convert_kind(values: pd.Series, table: Table, name: str, col: _Collector,
                  header: str) -> pd.Series:
    lookup = _vocabulary_lookup(table)
    # the canonical kind of each distinct value (NaN when unknown), as norm.map(lookup)
    out = _map_distinct(values, lambda v: lookup.get(normalize_header(v), np.nan))
    empty = values == ""
    bad = out.isna() & ~empty
    col.add(np.flatnonzero(empty.to_numpy()), header, "valore obbligatorio mancante")
    idx = np.flatnonzero(bad.to_numpy())
    col.add(idx, header, [f"{name} sconosciuto {_shown(values.iloc[i])}: "
                          f"{suggest(values.iloc[i], table.vocabulary)}" for i in idx])
    return out.astype(object)


def _convert_level(values: pd.Series, col: _Collector, header: str) -> pd.Series:
    lookup = {str(k): k for k in LEVEL_LABELS}
    lookup.update({f"{k}.0": k for k in LEVEL_LABELS})
    lookup.update({normalize_header(v): k for k, v in LEVEL_LABELS.items()})
    def parse(value: str) -> int | None:
        found = lookup.get(value, lookup.get(normalize_header(value)))
        if found is None and (m := re.match(r"^([1-4])\s*[-–:.)]\s*\D", value)):
            found = int(m.group(1))
        return found

    out = _map_distinct(values, parse)
    empty = values == ""
    col.add(np.flatnonzero(empty.to_numpy()), header, "valore obbligatorio mancante")
    idx = np.flatnonzero((out.isna() & ~empty).to_numpy())
    allowed = ", ".join(f"{k} {v}" for k, v in LEVEL_LABELS.items())
    col.add(idx, header, [f"livello sconosciuto {_shown(values.iloc[i])}: ammessi {allowed}"
                          for i in idx])
    return out.astype("Int64")


def _parse_distinct(values: pd.Series, parse: Callable[[str], object]
                    ) -> tuple[dict[str, object], dict[str, str]]:
    """Parse each distinct non-empty value once: the parsed values and the errors."""
    parsed: dict[str, object] = {}
    errors: dict[str, str] = {}
    for v in pd.unique(values):
        if v == "":
            continue
        try:
            parsed[v] = parse(v)
        except ValueError as exc:
            errors[v] = str(exc)
    return parsed, errors


def _convert_unique(values: pd.Series, parse: Callable[[str], object], col: _Collector,
                    header: str, dtype: str) -> pd.Series:
    """Parse each distinct value once; report the cells that fail.

    Cells written the plain way (:data:`_PLAIN_NUMBER`) are converted by one
    vectorised cast, which gives the numbers ``parse`` gives them; only the
    others are parsed one by one.
    """
    plain = regex_mask(values, _PLAIN_NUMBER[dtype])
    if plain is None or not plain.any():
        plain = np.zeros(len(values), dtype=bool)
    others = ~plain & (values != "").to_numpy()  # an empty cell is no number (NaN)
    rest = values[others]
    parsed, errors = _parse_distinct(rest, parse)
    if errors:
        bad = values.isin(list(errors))
        idx = np.flatnonzero(bad.to_numpy())
        col.add(idx, header, [errors[values.iloc[i]] for i in idx])
    out = np.full(len(values), np.nan)
    if plain.any():
        # float() of each text, as parse calls it (numpy converts object -> float so)
        out[plain] = values[plain].to_numpy(dtype=object).astype(float)
    if len(rest):
        out[others] = _lookup(rest, parsed).astype(float)
    return pd.Series(out, index=values.index).astype(dtype)


_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
#: Largest integer accepted (``posti``): beyond it the value is a typing error.
MAX_INT = 1_000_000_000
#: RE2 patterns of numbers written the plain way (ASCII digits, a decimal point, a
#: length far from overflow): what :func:`_parse_float` / :func:`_parse_int` accept
#: and return unchanged, so a vectorised cast gives the same values.
_PLAIN_NUMBER = {"float": r"^-?[0-9]{1,15}(?:\.[0-9]{1,17})?$", "Int64": r"^[0-9]{1,9}$"}


def _parse_float(text: str) -> float:
    """A finite number written with a decimal point or comma (ASCII digits only)."""
    cleaned = text.replace(" ", "").replace("\u00a0", "")
    if cleaned.count(",") == 1 and "." not in cleaned:
        cleaned = cleaned.replace(",", ".")
    number = float(cleaned) if _NUMBER.fullmatch(cleaned) else math.nan
    if math.isinf(number):
        msg = f"numero troppo grande: {_shown(text)}"
        raise ValueError(msg)
    if math.isnan(number):
        msg = f"numero non valido: {_shown(text)}"
        raise ValueError(msg)
    return number


def _parse_int(text: str) -> int:
    number = _parse_float(text)
    if not number.is_integer() or number < 0:
        msg = f"atteso un numero intero non negativo, trovato {_shown(text)}"
        raise ValueError(msg)
    if number > MAX_INT:
        limit = f"{MAX_INT:_}".replace("_", ".")
        msg = f"numero troppo grande: {_shown(text)} (al massimo {limit})"
        raise ValueError(msg)
    return int(number)


#: Dates before this year are errors.
FIRST_YEAR = 1900
#: Dates from this year on are errors, except in ``until`` where they mean "no end".
ENDLESS_YEAR = 2200


class _EndlessDateError(ValueError):
    """A date from :data:`ENDLESS_YEAR` on (``31/12/9999``: "senza fine")."""


def _parse_date_in_range(text: str) -> pd.Timestamp | None:
    """:func:`~opportunity_map._time.parse_date`, with the years checked before any overflow."""
    parts = date_parts(text)
    if parts is None:
        return parse_date(text)
    year, month, day = parts
    try:
        dt.date(year, month, day)
    except ValueError:
        msg = f"data inesistente: {_shown(text)}"
        raise ValueError(msg) from None
    if year >= ENDLESS_YEAR:
        raise _EndlessDateError(text)
    if year < FIRST_YEAR:
        msg = (f"data fuori intervallo: {_shown(text)} (ammesse le date dal {FIRST_YEAR} "
               f"al {ENDLESS_YEAR - 1})")
        raise ValueError(msg)
    return parse_date(text)


#: RE2 patterns of dates written the plain way, with their exact ``strptime`` format:
#: a cell matching one is converted by one vectorised call when its year lies in
#: ``[FIRST_YEAR, ENDLESS_YEAR)`` and the day exists (what
#: :func:`_parse_date_in_range` returns for it); any other cell is parsed alone.
_PLAIN_DATES = ((r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$", "%Y-%m-%d"),
                (r"^[0-9]{2}/[0-9]{2}/[0-9]{4}$", "%d/%m/%Y"))


def _plain_dates(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Cells converted at once (:data:`_PLAIN_DATES`) and their dates (NaT elsewhere)."""
    done = np.zeros(len(values), dtype=bool)
    dates = np.full(len(values), np.datetime64("NaT"), dtype="datetime64[ns]")
    for pattern, fmt in _PLAIN_DATES:
        mask = regex_mask(values, pattern)
        if mask is None or not mask.any():
            continue
        found = pd.to_datetime(values[mask], format=fmt, errors="coerce")
        year = found.dt.year.to_numpy(dtype=float, na_value=np.nan)
        ok = (year >= FIRST_YEAR) & (year < ENDLESS_YEAR)  # False for NaT (NaN year)
        where = np.flatnonzero(mask)[ok]
        dates[where] = found.to_numpy(dtype="datetime64[ns]")[ok]
        done[where] = True
    return done, dates


def _convert_date(values: pd.Series, col: _Collector, header: str, *,
                  until: bool) -> pd.Series:
    """Dates; in ``until`` a date from 2200 on (``31/12/9999``) is "no end", with a warning."""
    endless: list[str] = []

    def parse(text: str) -> pd.Timestamp | None:
        try:
            return _parse_date_in_range(text)
        except _EndlessDateError:
            endless.append(text)
            return None

    # each distinct text converted once: a million relations hold a few thousand dates
    codes, uniques = pd.factorize(values)
    if len(codes) and codes.min() < 0:  # a missing value: not text, convert cell by cell
        codes, distinct = np.arange(len(values)), values.reset_index(drop=True)
    else:
        distinct = pd.Series(uniques, dtype=values.dtype)
    done, dates = _plain_dates(distinct)
    others = ~done & (distinct != "").to_numpy()  # an empty cell is no date (NaT)
    rest = distinct[others]
    parsed, errors = _parse_distinct(rest, parse)
    for v in endless:
        errors[v] = (f"{v} indica 'senza fine': trattato come data di fine vuota" if until
                     else f"data fuori intervallo: {_shown(v)} (ammesse le date dal "
                     f"{FIRST_YEAR} al {ENDLESS_YEAR - 1})")
    severities: tuple[Severity, ...] = ("error", "warning")
    for severity in severities:
        chosen = {v: m for v, m in errors.items()
                  if (until and v in parsed) == (severity == "warning")}
        if chosen:
            idx = np.flatnonzero(values.isin(list(chosen)).to_numpy())
            col.add(idx, header, [chosen[values.iloc[i]] for i in idx], severity)
    if len(rest):
        dates[others] = pd.to_datetime(_lookup(rest, parsed)).to_numpy(dtype="datetime64[ns]")
    return pd.Series(dates[codes], index=values.index, dtype="datetime64[ns]")


def _convert_column(c: Column, values: pd.Series, table: Table, col: _Collector,
                    header: str) -> pd.Series:
    if c.type in ("id", "text"):
        if c.required:
            col.add(np.flatnonzero((values == "").to_numpy()), header,
                    "valore obbligatorio mancante")
        return _objects(values) if c.name in _ACTOR_REFERENCES else values.astype(object)
    if c.type == "kind":
        return _convert_kind(values, table, "tipo", col, header)
    if c.type == "level":
        return _convert_level(values, col, header)
    if c.type == "date":
        return _convert_date(values, col, header, until=c.name == "until")
    if c.type == "float":
        return _convert_unique(values, _parse_float, col, header, "float")
    if c.type == "int":
        return _convert_unique(values, _parse_int, col, header, "Int64")
    msg = f"column type {c.type!r} is not handled"
    raise AssertionError(msg)


def convert_table(raw: RawTable) -> tuple[pd.DataFrame, list[Problem]]:
    """Typed frame of one raw table: canonical columns, then the extra columns.

    Cells are stripped of surrounding whitespace; fully empty records are dropped.
    Every cell and header is checked for control characters, bidi controls,
    invisible characters, formula-like text and a person's codice fiscale. The
    returned frame carries :data:`FILE_COLUMN` and :data:`ROW_COLUMN` for later
    cross-table checks; derived columns found in the file are ignored (the
    loader recomputes them).
    """
    col = _Collector(raw)
    frame, header_problems = _usable_columns(raw)
    col.problems += header_problems
    frame, closer = _clean(frame)
    keep = (frame != "").any(axis=1).to_numpy() if len(frame.columns) else np.zeros(0, bool)
    if not keep.all():  # no copy of a table without empty records
        frame = frame[keep].reset_index(drop=True)
        closer = [None if mask is None else mask[keep] for mask in closer]
    raw = RawTable(raw.table, raw.file, frame, raw.rows[keep], raw.folder)
    col.raw = raw
    if frame.empty:
        severity: Severity = "error" if raw.table.name == "actors" else "warning"
        col.problems.append(Problem(raw.file, None, None, "il file non contiene righe di dati",
                                    severity))
    for header, maybe in zip(frame.columns, closer, strict=True):
        col.findings(frame[header], header, maybe)
    mapping = _map_headers(raw, col)
    out: dict[str, pd.Series] = {}
    for c in raw.table.columns:
        header = mapping.get(c.name)
        values = frame[header] if header is not None else pd.Series("", index=frame.index)
        out[c.name] = _convert_column(c, values.astype(str), raw.table, col, header or c.name)
    if "since" in out and "until" in out:
        bad = (out["until"] < out["since"]).to_numpy()
        col.add(np.flatnonzero(bad), mapping.get("until", "until"),
                "la data di fine è precedente alla data di inizio")
    used = set(mapping.values())
    for header in frame.columns:
        if header not in used and normalize_header(header) not in DERIVED_COLUMNS:
            out[header] = frame[header].astype(object)
    typed = pd.DataFrame(out, index=frame.index, copy=False)  # the columns are new already
    typed[FILE_COLUMN] = raw.file
    typed[ROW_COLUMN] = raw.rows
    typed.attrs["headers"] = dict(mapping)
    return typed, col.problems
