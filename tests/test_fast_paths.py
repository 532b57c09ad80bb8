"""The vectorised fast paths of validation give exactly what the per-value path gives.

Cells written the plain way (numbers, ISO and dd/mm/yyyy dates, websites and
e-mails) are converted by whole-column calls, and whole-column RE2 searches
(pyarrow) pick the cells that the per-value checks (odd characters, a codice
fiscale, whitespace to strip) then look at. Without pyarrow
(:func:`~opportunity_map._validate.regex_mask` returning None) every cell takes
the per-value path, as before the fast paths existed: both must agree on the
typed values and on every problem.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opportunity_map import _validate
from opportunity_map._read import RawTable
from opportunity_map.schema import TABLES

pytestmark = pytest.mark.skipif(not _validate._ARROW, reason="the fast paths need pyarrow")

_DIGITS = st.text("0123456789", min_size=1, max_size=5)
_DATES = st.one_of(
    st.dates().map(lambda d: f"{d.year:04d}-{d.month:02d}-{d.day:02d}"),
    st.dates().map(lambda d: f"{d.day:02d}/{d.month:02d}/{d.year:04d}"),
    st.builds(lambda y, m, d: f"{y}-{m}-{d}", _DIGITS, _DIGITS, _DIGITS),
    st.builds(lambda y, m, d: f"{d}/{m}/{y}", _DIGITS, _DIGITS, _DIGITS),
    st.builds(lambda y, m, d: f"{y:04d}-{m:02d}-{d:02d}", st.integers(0, 9999),
              st.integers(0, 13), st.integers(0, 32)),
    st.builds(lambda y, m, d: f"{d:02d}/{m:02d}/{y:04d}", st.integers(1800, 2300),
              st.integers(1, 12), st.integers(1, 31)),
    st.text("0123456789-/. T:", max_size=12),
)
_NUMBERS = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.integers(-10**20, 10**20).map(str),
    st.text("0123456789.,-+ e", max_size=25),
    st.builds(lambda a, b: f"{a}.{b}", _DIGITS, st.text("0123456789", min_size=1, max_size=20)),
)
_ODD_CHARS = ("abcRSMNLTUVXZ0123456789 .-_/\t\n=+@,;\"'\x00\x0b\x1f\x85\x9f\xa0\xad"
              "\u061c\u200b\u200d\u200e\u202a\u2066\u3000\ufeffàù")
_TEXT = st.one_of(
    st.text(_ODD_CHARS, max_size=30),
    st.sampled_from(["RSSMRA80A01H501U", " rssmra80a01h501u ", "Rss.Mra 80a01-h5LM.x",
                     "RSS MRA 80A01 H501X", "=SUM(A1)", "+39 031 1", "-", "@home"]),
)
_WEB = st.one_of(
    st.sampled_from(["https://a.example.org", "http://x.it/p/q", "www.ente.it", "HTTPS://A.IT",
                     "https://a b.it", "ftp://x.it", "javascript:alert(1)"]),
    st.text("abc.:/-_@ ", max_size=20),
)
_MAIL = st.one_of(
    st.sampled_from(["info@ente.example.org", "a.b+c@x-y.it", "mailto:a@b.it", "a@b", "a@@b.it",
                     "a b@c.it", "a@b.it;c@d.it"]),
    st.text("ab.@-_+;:", max_size=20),
)


def _convert(frame: pd.DataFrame, table: str, *, fast: bool) -> tuple[pd.DataFrame, list[str]]:
    with pytest.MonkeyPatch.context() as patch:
        if not fast:
            patch.setattr(_validate, "regex_mask", lambda values, pattern: None)
        raw = RawTable(TABLES[table], "t.csv", frame.astype(str),
                       np.arange(2, len(frame) + 2))
        typed, problems = _validate.convert_table(raw)
    return typed, [str(p) + p.severity for p in problems]


def _same(table: str, frame: pd.DataFrame) -> None:
    fast, fast_problems = _convert(frame, table, fast=True)
    slow, slow_problems = _convert(frame, table, fast=False)
    assert fast_problems == slow_problems
    pd.testing.assert_frame_equal(fast, slow)


def test_fast_paths_examples() -> None:
    dates = ["2026-03-05", "05/03/2026", "2026-02-30", "1899-12-31", "2200-01-01", "31/12/9999",
             "", "2026-3-5", "5/3/2026", "2026-03-05 00:00"]
    frame = pd.DataFrame({"source": ["A"] * 10, "target": ["B"] * 10, "kind": ["tirocinio"] * 10,
                          "level": ["1"] * 10, "since": dates, "until": dates[::-1],
                          "notes": [" x ", "RSSMRA80A01H501U", "=A1", "\u00a0y", "ok", "a\x0bb",
                                    "", "Cantù ", "\ufeffz", "-1"]})
    _same("relations", frame)
    frame = pd.DataFrame({"id": list("abcdefg"), "actor_id": ["A"] * 7, "type": ["altro"] * 7,
                          "name": ["x"] * 7, "capacity": ["3", "007", "3.0", "1e3", "-1", "",
                                                          "1000000001"],
                          "lat": ["45.1", "-0.0", "45,1", "1" * 400, "12345678901234567890",
                                  "0.1234567890123456789", ""]})
    _same("opportunities", frame)


@settings(max_examples=150, deadline=None)
@given(since=st.lists(_DATES, min_size=1, max_size=8),
       until=st.lists(_DATES, min_size=1, max_size=8),
       level=st.lists(st.sampled_from(["1", "2", "4", "5", "x", ""]), min_size=1, max_size=8))
def test_dates_fast_path(since: list[str], until: list[str], level: list[str]) -> None:
    n = min(len(since), len(until), len(level))
    frame = pd.DataFrame({"source": ["A"] * n, "target": ["B"] * n, "kind": ["tirocinio"] * n,
                          "level": level[:n], "since": since[:n], "until": until[:n]})
    _same("relations", frame)


@settings(max_examples=150, deadline=None)
@given(lat=st.lists(_NUMBERS, min_size=1, max_size=6),
       capacity=st.lists(_NUMBERS, min_size=1, max_size=6))
def test_numbers_fast_path(lat: list[str], capacity: list[str]) -> None:
    n = min(len(lat), len(capacity))
    frame = pd.DataFrame({"id": [f"O{i}" for i in range(n)], "actor_id": ["A"] * n,
                          "type": ["altro"] * n, "name": ["x"] * n, "capacity": capacity[:n],
                          "lat": lat[:n]})
    _same("opportunities", frame)


@settings(max_examples=200, deadline=None)
@given(notes=st.lists(_TEXT, min_size=1, max_size=6), names=st.lists(_TEXT, min_size=1,
                                                                      max_size=6))
def test_odd_values_and_strip_fast_path(notes: list[str], names: list[str]) -> None:
    n = min(len(notes), len(names))
    frame = pd.DataFrame({"source": ["A"] * n, "target": ["B"] * n, "kind": ["tirocinio"] * n,
                          "level": ["1"] * n, "notes": notes[:n], names[0]: names[:n]})
    _same("relations", frame)


@settings(max_examples=100, deadline=None)
@given(web=st.lists(_WEB, min_size=1, max_size=6), mail=st.lists(_MAIL, min_size=1, max_size=6))
def test_contacts_fast_path(web: list[str], mail: list[str]) -> None:
    from opportunity_map import io

    n = min(len(web), len(mail))
    actors = pd.DataFrame({"website": web[:n], "email": mail[:n],
                           _validate.FILE_COLUMN: "t.csv", _validate.ROW_COLUMN: range(2, n + 2)})
    fast = io._contact_problems(actors, {})
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(io, "regex_mask", lambda values, pattern: None)
        slow = io._contact_problems(actors, {})
    assert fast == slow
