"""Validation: turn raw text cells into typed tables, collecting every problem.

Nothing here stops at the first problem: each check runs over whole columns
and reports every offending cell with its file, row and column.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable

import numpy as np
import pandas as pd

from ._errors import Problem, Severity
from ._read import RawTable
from ._time import parse_date
from .schema import LEVEL_LABELS, Column, Table, normalize_header

__all__ = [
    "DERIVED_COLUMNS",
    "POSITION_COLUMNS",
    "codice_fiscale_problems",
    "convert_table",
    "suggest",
]

#: Columns computed by the loader; ignored when found in an input file.
DERIVED_COLUMNS = ("group", "comune_code", "ambito")
#: Private columns locating each record in its source file.
POSITION_COLUMNS = ("_file", "_row")

# A person's codice fiscale: 6 letters, 2 digits (year), month letter, 2 digits
# (day, +40 for women), a cadastral code (letter + 3 digits), a check letter.
# Omocodia replaces digits with letters from LMNPQRSTUV, so digits are [0-9LMNPQRSTUV].
_D = "[0-9LMNPQRSTUV]"
CODICE_FISCALE = re.compile(
    rf"(?<![A-Za-z0-9])[A-Za-z]{{6}}{_D}{{2}}[ABCDEHLMPRSTabcdehlmprst]{_D}{{2}}"
    rf"[A-Za-z]{_D}{{3}}[A-Za-z](?![A-Za-z0-9])"
)


def suggest(value: str, vocabulary: tuple[str, ...] | list[str]) -> str:
    """Italian hint naming the closest valid value, or listing them all."""
    close = difflib.get_close_matches(normalize_header(value), list(vocabulary), n=1, cutoff=0.5)
    if close:
        return f"forse intendevi {close[0]!r}?"
    return "valori ammessi: " + ", ".join(vocabulary)


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
    norm = values.map(normalize_header)
    out = norm.map(lookup)
    empty = values == ""
    bad = out.isna() & ~empty
    col.add(np.flatnonzero(empty.to_numpy()), header, "valore obbligatorio mancante")
    idx = np.flatnonzero(bad.to_numpy())
    col.add(idx, header, [f"{name} sconosciuto {values.iloc[i]!r}: "
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

    out = values.map(parse)
    empty = values == ""
    col.add(np.flatnonzero(empty.to_numpy()), header, "valore obbligatorio mancante")
    idx = np.flatnonzero((out.isna() & ~empty).to_numpy())
    allowed = ", ".join(f"{k} {v}" for k, v in LEVEL_LABELS.items())
    col.add(idx, header, [f"livello sconosciuto {values.iloc[i]!r}: ammessi {allowed}"
                          for i in idx])
    return out.astype("Int64")


def _convert_unique(values: pd.Series, parse: Callable[[str], object], col: _Collector,
                    header: str) -> pd.Series:
    """Parse each distinct value once; report the cells that fail."""
    parsed: dict[str, object] = {}
    errors: dict[str, str] = {}
    for v in pd.unique(values):
        if v == "":
            continue
        try:
            parsed[v] = parse(v)
        except ValueError as exc:
            errors[v] = str(exc)
    if errors:
        bad = values.isin(list(errors))
        idx = np.flatnonzero(bad.to_numpy())
        col.add(idx, header, [errors[values.iloc[i]] for i in idx])
    return values.map(parsed)


def _parse_float(text: str) -> float:
    cleaned = text.replace(" ", "")
    if cleaned.count(",") == 1 and "." not in cleaned:
        cleaned = cleaned.replace(",", ".")
    try:
        return float(cleaned)
    except ValueError:
        msg = f"numero non valido: {text!r}"
        raise ValueError(msg) from None


def _parse_int(text: str) -> int:
    number = _parse_float(text)
    if not number.is_integer() or number < 0:
        msg = f"atteso un numero intero non negativo, trovato {text!r}"
        raise ValueError(msg)
    return int(number)


def _convert_column(c: Column, values: pd.Series, table: Table, col: _Collector,
                    header: str) -> pd.Series:
    if c.type in ("id", "text"):
        if c.required:
            col.add(np.flatnonzero((values == "").to_numpy()), header,
                    "valore obbligatorio mancante")
        return values.astype(object)
    if c.type == "kind":
        return _convert_kind(values, table, "tipo", col, header)
    if c.type == "level":
        return _convert_level(values, col, header)
    if c.type == "date":
        parsed = _convert_unique(values, parse_date, col, header)
        return pd.to_datetime(parsed).astype("datetime64[ns]")
    if c.type == "float":
        return _convert_unique(values, _parse_float, col, header).astype(float)
    if c.type == "int":
        return _convert_unique(values, _parse_int, col, header).astype("Int64")
    msg = f"column type {c.type!r} is not handled"
    raise AssertionError(msg)


def convert_table(raw: RawTable) -> tuple[pd.DataFrame, list[Problem]]:
    """Typed frame of one raw table: canonical columns, then the extra columns.

    Fully empty records are dropped. The returned frame carries ``_file`` and
    ``_row`` for later cross-table checks; derived columns found in the file are
    ignored (the loader recomputes them).
    """
    col = _Collector(raw)
    frame = raw.frame.map(str.strip) if len(raw.frame) else raw.frame
    blank_headers = [h for h in frame.columns if h == "" or h.startswith("Unnamed: ")]
    for h in blank_headers:
        if (frame[h] != "").any():
            col.problems.append(Problem(raw.file, 1, None,
                                        "una colonna con dati non ha intestazione"))
    frame = frame.drop(columns=blank_headers)
    keep = (frame != "").any(axis=1).to_numpy() if len(frame.columns) else np.zeros(0, bool)
    frame = frame[keep].reset_index(drop=True)
    raw = RawTable(raw.table, raw.file, frame, raw.rows[keep], raw.folder)
    col.raw = raw
    if frame.empty:
        severity: Severity = "error" if raw.table.name == "actors" else "warning"
        col.problems.append(Problem(raw.file, None, None, "il file non contiene righe di dati",
                                    severity))
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
    typed = pd.DataFrame(out, index=frame.index)
    typed["_file"] = raw.file
    typed["_row"] = raw.rows
    typed.attrs["headers"] = {k: v for k, v in mapping.items()}
    return typed, col.problems


def codice_fiscale_problems(frame: pd.DataFrame, headers: dict[str, str]) -> list[Problem]:
    """Every cell holding something shaped like a person's codice fiscale.

    A company's codice fiscale is 11 digits and passes; the 16-character form
    identifies a person and must never enter a published map.
    """
    problems = []
    for name in frame.columns:
        if name in POSITION_COLUMNS or frame[name].dtype != object:
            continue
        text = frame[name].astype(str)
        hit = text.str.contains(CODICE_FISCALE, regex=True, na=False)
        for i in np.flatnonzero(hit.to_numpy()):
            problems.append(Problem(
                str(frame["_file"].iloc[i]), int(frame["_row"].iloc[i]), headers.get(name, name),
                "il valore sembra il codice fiscale di una persona: i dati personali non "
                "possono entrare nella mappa (che descrive solo organizzazioni)"))
    return problems
