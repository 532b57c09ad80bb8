"""Dates: parsing the formats antenne type, and the "active at t" rule shared by all tables."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pandas as pd

__all__ = ["active_array", "active_mask", "date_parts", "parse_date", "to_timestamp"]

_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ]00:00(?::00)?)?$")
_ITALIAN = re.compile(r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})$")


def parse_date(value: object) -> pd.Timestamp | None:
    """Parse one date as written in a spreadsheet.

    Parameters
    ----------
    value : object
        ``None``/empty (no date), a ``datetime``/``date``/``Timestamp`` (as openpyxl
        returns Excel dates), an ISO string ``YYYY-MM-DD`` or an Italian string
        ``dd/mm/yyyy`` (also with ``.`` or ``-`` separators).

    Returns
    -------
    pandas.Timestamp or None
        Midnight of that day, or ``None`` for an empty value.

    Raises
    ------
    ValueError
        If the value is not empty and is not a valid date in those formats.
        ``03/04/2026`` is always 3 April (Italian order), never 4 March.
    """
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp | dt.datetime | dt.date):
        return pd.Timestamp(value).normalize()
    text = str(value).strip()
    if not text:
        return None
    parts = date_parts(text)
    if parts is None:
        msg = f"data non valida: {text!r} (formati accettati: gg/mm/aaaa o aaaa-mm-gg)"
        raise ValueError(msg)
    year, month, day = parts
    try:
        return pd.Timestamp(year=year, month=month, day=day)
    except ValueError:
        msg = f"data inesistente: {text!r}"
        raise ValueError(msg) from None


def date_parts(text: str) -> tuple[int, int, int] | None:
    """``(year, month, day)`` of a date written ``aaaa-mm-gg`` or ``gg/mm/aaaa``, else None.

    The numbers are not checked (``31/02/2026`` gives ``(2026, 2, 31)``).

    Examples
    --------
    >>> date_parts("03/04/2026"), date_parts("2026-4-3"), date_parts("aprile")
    ((2026, 4, 3), (2026, 4, 3), None)
    """
    if m := _ISO.match(text):
        year, month, day = (int(g) for g in m.groups())
    elif m := _ITALIAN.match(text):
        day, month, year = (int(g) for g in m.groups())
    else:
        return None
    return year, month, day


def to_timestamp(value: object, *, name: str = "date") -> pd.Timestamp:
    """Convert a user-supplied date (string, date, Timestamp) to a Timestamp.

    Parameters
    ----------
    value : object
        The date, in any format accepted by :func:`parse_date`.
    name : str
        Parameter name used in the error message.

    Raises
    ------
    ValueError
        If ``value`` is empty or not a date (an English message naming ``name``).

    Examples
    --------
    >>> to_timestamp("30/06/2026")
    Timestamp('2026-06-30 00:00:00')
    >>> to_timestamp("31/02/2026", name="as_of")
    Traceback (most recent call last):
    ...
    ValueError: as_of='31/02/2026' does not exist
    """
    try:
        ts = parse_date(value)
    except ValueError:
        # the library speaks English; parse_date's Italian text is for data problems
        text = str(value).strip()
        reason = ("does not exist" if date_parts(text) is not None
                  else "is not a date (formats: dd/mm/yyyy or yyyy-mm-dd)")
        msg = f"{name}={text!r} {reason}"
        raise ValueError(msg) from None
    if ts is None:
        msg = f"{name}: a date is required, got {value!r}"
        raise ValueError(msg)
    return ts


def active_mask(frame: pd.DataFrame, at: object) -> pd.Series:
    """Rows of ``frame`` active at date ``at``.

    A row is active at t when ``since <= t`` and (``until`` is empty or
    ``t <= until``); an empty ``since`` means "since always". Both bounds are
    inclusive, so a tie that starts or ends on the day of a Tavolo counts.

    Parameters
    ----------
    frame : pandas.DataFrame
        A table with ``since`` and ``until`` columns of dtype datetime64 (NaT = empty).
        Missing columns are treated as all-empty.
    at : date-like
        The date t.

    Returns
    -------
    pandas.Series of bool
        Aligned with ``frame.index``.
    """
    t = to_timestamp(at, name="at")
    n = len(frame)
    nat = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    since = pd.to_datetime(frame["since"]).to_numpy("datetime64[ns]") if "since" in frame else nat
    until = pd.to_datetime(frame["until"]).to_numpy("datetime64[ns]") if "until" in frame else nat
    return pd.Series(active_array(since, until, t), index=frame.index)


def active_array(since: np.ndarray, until: np.ndarray, at: pd.Timestamp) -> np.ndarray:
    """The "active at t" rule on arrays: ``(since <= t or open) and (t <= until or open)``.

    Parameters
    ----------
    since, until : numpy.ndarray
        datetime64 bounds, ``NaT`` for an open bound.
    at : pandas.Timestamp
        The date t.

    Returns
    -------
    numpy.ndarray of bool

    Examples
    --------
    >>> d = np.array(["2026-01-01", "NaT"], dtype="datetime64[ns]")
    >>> active_array(d, d[::-1], pd.Timestamp("2026-01-01")).tolist()
    [True, True]
    >>> active_array(d, d, pd.Timestamp("2026-01-02")).tolist()
    [False, True]
    """
    t = np.datetime64(pd.Timestamp(at).to_datetime64(), "ns")
    since = np.asarray(since, dtype="datetime64[ns]")
    until = np.asarray(until, dtype="datetime64[ns]")
    return np.asarray((np.isnat(since) | (since <= t)) & (np.isnat(until) | (until >= t)))
