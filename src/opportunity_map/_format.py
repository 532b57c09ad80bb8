"""Italian formatting of dates, numbers and percentages: one place for every page and workbook.

Numbers use the decimal comma, a thin space between thousands and the true minus
sign (U+2212); a missing value is ``"n.d."`` (non disponibile), an infinite one
``"+∞"``/``"−∞"``.
"""

from __future__ import annotations

import math

import pandas as pd

__all__ = ["MISSING", "format_date", "format_density", "format_number", "format_pct"]

#: What a missing (None, NaN, NA) value reads as.
MISSING = "n.d."


def _float(value: object) -> float | None:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if math.isnan(x) else x


def format_date(value: object) -> str:
    """``dd/mm/yyyy``; empty for a missing date.

    Examples
    --------
    >>> format_date("2026-06-30"), format_date(None)
    ('30/06/2026', '')
    """
    if value is None or value is pd.NaT:
        return ""
    ts = pd.Timestamp(value)
    return "" if pd.isna(ts) else str(ts.strftime("%d/%m/%Y"))


def format_number(value: object, digits: int = 2, *, signed: bool = False) -> str:
    """A number in Italian notation.

    Parameters
    ----------
    value : number or None
    digits : int
        Decimal digits.
    signed : bool
        Always show the sign.

    Examples
    --------
    >>> format_number(1234.5, 1), format_number(-0.25, signed=True), format_number(None)
    ('1\\u2009234,5', '−0,25', 'n.d.')
    """
    x = _float(value)
    if x is None:
        return MISSING
    if math.isinf(x):
        return "+∞" if x > 0 else "−∞"
    text = f"{x:+,.{digits}f}" if signed else f"{x:,.{digits}f}"
    return text.replace(",", "\u2009").replace(".", ",").replace("-", "−")


def format_pct(value: object, digits: int = 1, *, signed: bool = True) -> str:
    """A percentage already multiplied by 100: ``+12,5%``.

    Examples
    --------
    >>> format_pct(12.5), format_pct(-3), format_pct(float("nan"))
    ('+12,5%', '−3,0%', 'n.d.')
    """
    text = format_number(value, digits, signed=signed)
    return text if text == MISSING else f"{text}%"


def format_density(value: object) -> str:
    """A density with at least four decimals and four significant digits.

    Examples
    --------
    >>> format_density(0.123456), format_density(0.000123456), format_density(0)
    ('0,1235', '0,0001235', '0')
    """
    x = _float(value)
    if x is None:
        return MISSING
    if x == 0:
        return "0"
    digits = max(4, 3 - math.floor(math.log10(abs(x))))
    return format_number(x, digits)
