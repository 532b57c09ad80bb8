"""Dates: parsing the formats antenne type, and the "active at t" rule shared by all tables."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pandas as pd

__all__ = ["active_mask", "parse_date", "to_timestamp"]

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
    if m := _ISO.match(text):
        year, month, day = (int(g) for g in m.groups())
    elif m := _ITALIAN.match(text):
        day, month, year = (int(g) for g in m.groups())
    else:
        msg = f"data non valida: {text!r} (formati accettati: gg/mm/aaaa o aaaa-mm-gg)"
        raise ValueError(msg)
    try:
        return pd.Timestamp(year=year, month=month, day=day)
    except ValueError:
        msg = f"data inesistente: {text!r}"
        raise ValueError(msg) from None


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
        If ``value`` is empty or not a date.
    """
    try:
        ts = parse_date(value)
    except ValueError as exc:
        msg = f"{name}: {exc}"
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
    mask = pd.Series(True, index=frame.index)
    if "since" in frame:
        since = pd.to_datetime(frame["since"])
        mask &= since.isna() | (since <= t)
    if "until" in frame:
        until = pd.to_datetime(frame["until"])
        mask &= until.isna() | (until >= t)
    return mask
