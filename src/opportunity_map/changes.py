"""What changed between two Tavoli di rete, and which records nobody has checked lately.

Every six months each antenna territoriale presents its territory's map at the
Tavolo di rete. This module answers the two questions asked there:

* :func:`find_changes`: what changed in the territory's network between the
  previous Tavolo date and this one (organisations that entered or left, ties new,
  ended, or moved along the collaboration scale, opportunities opened or closed),
  and, given the previous version of the files, which rows were deleted instead of
  being closed with an end date;
* :func:`find_unverified`: which organisations and opportunities nobody has
  confirmed for more than a year (or ever).

Both return plain tables; the CLI, the map, the meeting pack and the CSV only show
them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ._format import format_date
from ._time import active_mask, to_timestamp
from .schema import ACTOR_KIND_LABELS, LEVEL_LABELS, OPPORTUNITY_TYPE_LABELS, RELATION_KIND_LABELS

if TYPE_CHECKING:
    from .model import OpportunityMap

__all__ = [
    "CHANGE_COLUMNS",
    "CHANGE_KINDS",
    "CHANGE_LABELS",
    "UNVERIFIED_COLUMNS",
    "find_changes",
    "find_unverified",
    "previous_tavolo",
    "relation_keys",
    "table_italian",
    "tavolo_dates",
]

#: The kinds of change, in the order they are listed.
CHANGE_LABELS: dict[str, str] = {
    "actor_entered": "Organizzazione entrata",
    "actor_exited": "Organizzazione uscita",
    "tie_new": "Legame nuovo",
    "tie_ended": "Legame concluso",
    "tie_level_up": "Legame rafforzato",
    "tie_level_down": "Legame indebolito",
    "opportunity_new": "Opportunità nuova",
    "opportunity_ended": "Opportunità conclusa",
    "row_removed": "Riga cancellata",
}
CHANGE_KINDS: tuple[str, ...] = tuple(CHANGE_LABELS)
#: Columns of :func:`find_changes`.
CHANGE_COLUMNS = ("change", "label", "table", "id", "name", "detail")
#: Columns of :func:`find_unverified`.
UNVERIFIED_COLUMNS = ("table", "id", "name", "verified", "months", "detail")

_TABLE_ITALIAN = {"actors": "attori", "opportunities": "opportunita", "relations": "relazioni"}
#: Months between two Tavoli di rete (they are semestral).
TAVOLO_MONTHS = 6


def previous_tavolo(date: object) -> pd.Timestamp:
    """The default date of the previous Tavolo: six months before ``date``.

    The last day of a month goes to the last day of the month six months earlier
    (Tavoli are held at the end of each semester: 30 June, 31 December).

    Examples
    --------
    >>> previous_tavolo("2027-06-30").date(), previous_tavolo("2027-12-31").date()
    (datetime.date(2026, 12, 31), datetime.date(2027, 6, 30))
    >>> previous_tavolo("2027-05-15").date()
    datetime.date(2026, 11, 15)
    """
    t = to_timestamp(date, name="date")
    earlier = t - pd.DateOffset(months=TAVOLO_MONTHS)
    return earlier + pd.offsets.MonthEnd(0) if t.is_month_end else earlier


def tavolo_dates(as_of: object, *, since: object = None, count: int = 6) -> list[pd.Timestamp]:
    """The Tavolo dates up to ``as_of``: the last ``count`` semester ends, and ``as_of``.

    Tavoli di rete are held at the end of each semester (30 June, 31 December). The
    dates are the semester ends up to ``as_of`` (the last ``count`` of them), none
    before ``since`` (e.g. the baseline), plus ``as_of`` itself when it is not one;
    sorted, without repetition.

    Parameters
    ----------
    as_of : date-like
        The last date (the date of the map).
    since : date-like, optional
        No date before it.
    count : int
        How many semester ends at most (default 6: three years).

    Returns
    -------
    list of pandas.Timestamp

    Examples
    --------
    >>> [d.date().isoformat() for d in tavolo_dates("2027-12-31", since="2026-06-30")]
    ['2026-06-30', '2026-12-31', '2027-06-30', '2027-12-31']
    >>> [d.date().isoformat() for d in tavolo_dates("2027-05-15", count=2)]
    ['2026-06-30', '2026-12-31', '2027-05-15']
    >>> [d.date().isoformat() for d in tavolo_dates("2026-07-01", since="2026-06-30")]
    ['2026-06-30', '2026-07-01']
    """
    if count < 0:
        msg = f"count must be 0 or more, got {count!r}"
        raise ValueError(msg)
    t = to_timestamp(as_of, name="as_of").normalize()
    start = None if since is None else to_timestamp(since, name="since").normalize()
    ends: list[pd.Timestamp] = []
    year = t.year
    while len(ends) < count:
        for month, day in ((12, 31), (6, 30)):
            d = pd.Timestamp(year=year, month=month, day=day)
            if d <= t and len(ends) < count:
                ends.append(d)
        year -= 1
        if start is not None and year < start.year:
            break
    dates = {d for d in ends if start is None or d >= start}
    dates.add(t)
    return sorted(dates)


def find_changes(m: OpportunityMap, *, date: object, previous: object = None,
                 territory: str | None = None,
                 previous_map: OpportunityMap | None = None) -> pd.DataFrame:
    """The changes of a territory's network between two Tavolo dates.

    Parameters
    ----------
    m : OpportunityMap
        The map as it is now.
    date : date-like
        The Tavolo date D.
    previous : date-like, optional
        The previous Tavolo date P (default :func:`previous_tavolo` of D). Must be
        before D.
    territory : str, optional
        A territory (slug or name); ``None`` for the whole map.
    previous_map : OpportunityMap, optional
        The previous version of the files. Rows it holds (for the territory) that
        the current map does not are reported as ``row_removed``: a row must be
        closed with an end date (``al``), not deleted, or its history is lost.

    Returns
    -------
    pandas.DataFrame
        One row per change, columns :data:`CHANGE_COLUMNS`: ``change`` (one of
        :data:`CHANGE_KINDS`), ``label`` (Italian), ``table`` (``actors``,
        ``relations``, ``opportunities``), ``id`` (a tie's id is ``"A|B"``, its two
        organisations' ids in order), ``name`` and ``detail`` (Italian text, e.g.
        ``"livello 2 → 3"``), sorted by kind of change, then id.

    Raises
    ------
    UnknownTerritoryError
        If the territory is not in the map.
    DateOrderError
        If ``previous`` is not before ``date``.

    Notes
    -----
    With :math:`A_t` the organisations of the territory active at t and
    :math:`E_t` its ties at t (pairs of organisations of :math:`A_t` with at least
    one active relation, at their strongest level :math:`\\ell_t(e)`, as everywhere
    in the project):

    * ``actor_entered`` = :math:`A_D \\setminus A_P`, ``actor_exited`` = :math:`A_P \\setminus A_D`;
    * ``tie_new`` = :math:`E_D \\setminus E_P`, ``tie_ended`` = :math:`E_P \\setminus E_D`;
    * ``tie_level_up`` / ``tie_level_down``: :math:`e \\in E_P \\cap E_D` with
      :math:`\\ell_D(e) > \\ell_P(e)` / :math:`<`;
    * ``opportunity_new`` / ``opportunity_ended``: opportunities of the territory's
      organisations active at D and not at P / at P and not at D.

    A tie that ends because one of its organisations left is listed as ended too.

    Examples
    --------
    >>> import opportunity_map as om
    >>> changes = om.find_changes(om.example_map(), date="2027-06-30", previous="2026-06-30")
    >>> changes["change"].value_counts().sort_index().to_dict()
    {'actor_entered': 1, 'tie_new': 4}
    """
    from ._errors import DateOrderError

    t1 = to_timestamp(date, name="date")
    t0 = previous_tavolo(t1) if previous is None else to_timestamp(previous, name="previous")
    if not t0 < t1:
        raise DateOrderError("previous", t0.date(), "date", t1.date())
    slug = None if territory is None else m.resolve_territory(territory)
    frames = [_actor_changes(m, t0, t1, slug), _tie_changes(m, t0, t1, slug),
              _opportunity_changes(m, t0, t1, slug)]
    if previous_map is not None:
        frames.append(_removed_rows(m, previous_map, slug))
    out = pd.concat([f for f in frames if len(f)] or [_empty()], ignore_index=True)
    out["label"] = out["change"].map(CHANGE_LABELS)
    order = {k: i for i, k in enumerate(CHANGE_KINDS)}
    out = out.sort_values(["change", "id"], key=lambda s: s.map(order) if s.name == "change"
                          else s, kind="stable")
    return out.loc[:, list(CHANGE_COLUMNS)].reset_index(drop=True)


def _empty() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in CHANGE_COLUMNS})


def _frame(change: str, table: str, ids: object, names: object, details: object
           ) -> pd.DataFrame:
    frame = pd.DataFrame({"id": ids, "name": names, "detail": details}, dtype=object)
    frame.insert(0, "table", table)
    frame.insert(0, "change", change)
    return frame


def _scope(m: OpportunityMap, slug: str | None) -> pd.Series:
    """Actors of the territory (every actor for ``None``), aligned with ``m.actors``."""
    if slug is None:
        return pd.Series(True, index=m.actors.index)
    return m.actors["territory"].astype(object).eq(slug).fillna(False).astype(bool)


def _actor_detail(actors: pd.DataFrame) -> pd.Series:
    kind = actors["kind"].map(ACTOR_KIND_LABELS).fillna(actors["kind"]).astype(str)
    return kind + ", " + actors["comune"].astype(str)


def _actor_changes(m: OpportunityMap, t0: pd.Timestamp, t1: pd.Timestamp,
                   slug: str | None) -> pd.DataFrame:
    actors = m.actors
    scope = _scope(m, slug)
    before, after = active_mask(actors, t0) & scope, active_mask(actors, t1) & scope
    entered = actors[after & ~before]
    exited = actors[before & ~after]
    since = entered["since"].map(lambda d: f"dal {format_date(d)}" if pd.notna(d) else "")
    until = exited["until"].map(lambda d: f"fino al {format_date(d)}" if pd.notna(d) else "")
    return pd.concat([
        _frame("actor_entered", "actors", entered["id"], entered["name"],
               _joined(_actor_detail(entered), since)),
        _frame("actor_exited", "actors", exited["id"], exited["name"],
               _joined(_actor_detail(exited), until)),
    ], ignore_index=True)


def _joined(first: pd.Series, second: pd.Series) -> list[str]:
    return [f"{a} ({b})" if b else a for a, b in zip(first, second, strict=True)]


def _tie_changes(m: OpportunityMap, t0: pd.Timestamp, t1: pd.Timestamp,
                 slug: str | None) -> pd.DataFrame:
    ties0 = m.network(t0).ties(slug).set_index(["source", "target"])
    ties1 = m.network(t1).ties(slug).set_index(["source", "target"])
    names = dict(zip(m.actors["id"], m.actors["name"].astype(str), strict=False))

    def kinds(values: tuple[str, ...]) -> str:
        return ", ".join(RELATION_KIND_LABELS.get(k, k) for k in values)

    def level(n: int) -> str:
        return f"livello {n} ({LEVEL_LABELS.get(n, '?')})"

    def rows(change: str, pairs: pd.Index, details: list[str]) -> pd.DataFrame:
        ids = [f"{a}|{b}" for a, b in pairs]
        labels = [f"{names.get(a, a)} – {names.get(b, b)}" for a, b in pairs]
        return _frame(change, "relations", ids, labels, details)

    new = ties1.index.difference(ties0.index, sort=True)
    ended = ties0.index.difference(ties1.index, sort=True)
    both = ties1.index.intersection(ties0.index, sort=True)
    l0 = ties0.loc[both, "level"].to_numpy()
    l1 = ties1.loc[both, "level"].to_numpy()
    up, down = both[l1 > l0], both[l1 < l0]
    return pd.concat([
        rows("tie_new", new, [f"{level(int(r.level))}; {kinds(r.kinds)}"
                              for r in ties1.loc[new].itertuples()]),
        rows("tie_ended", ended, [f"era {level(int(r.level))}; {kinds(r.kinds)}"
                                  for r in ties0.loc[ended].itertuples()]),
        rows("tie_level_up", up, [f"livello {a} → {b}" for a, b in
                                  zip(l0[l1 > l0].tolist(), l1[l1 > l0].tolist(), strict=True)]),
        rows("tie_level_down", down, [f"livello {a} → {b}" for a, b in
                                      zip(l0[l1 < l0].tolist(), l1[l1 < l0].tolist(),
                                          strict=True)]),
    ], ignore_index=True)


def _opportunity_changes(m: OpportunityMap, t0: pd.Timestamp, t1: pd.Timestamp,
                         slug: str | None) -> pd.DataFrame:
    opp = m.opportunities
    if not len(opp):
        return _empty()
    owners = m.actors.loc[_scope(m, slug), ["id", "name"]]
    names = dict(zip(owners["id"], owners["name"].astype(str), strict=False))
    mine = opp["actor_id"].isin(names)
    before, after = active_mask(opp, t0) & mine, active_mask(opp, t1) & mine

    def frame(change: str, rows: pd.DataFrame) -> pd.DataFrame:
        kind = rows["type"].map(OPPORTUNITY_TYPE_LABELS).fillna(rows["type"]).astype(str)
        label = [str(n) if isinstance(n, str) and n else k
                 for n, k in zip(rows["name"], kind, strict=True)]
        detail = [f"{k}; {names.get(a, a)}" for k, a in zip(kind, rows["actor_id"], strict=True)]
        return _frame(change, "opportunities", rows["id"], label, detail)

    return pd.concat([frame("opportunity_new", opp[after & ~before]),
                      frame("opportunity_ended", opp[before & ~after])], ignore_index=True)


_REMOVED = ("presente nella versione precedente, assente ora: per chiudere una riga "
            "indicare la data di fine ('al') invece di cancellarla")


def relation_keys(relations: pd.DataFrame) -> pd.Series:
    """One key per relation row: ``source|target|kind|since`` (ISO date, empty when open).

    Two versions of the files are compared row by row with it: a relation keeps its
    key as long as its two organisations, its kind and its start date stay the same.
    """
    since = relations["since"].dt.strftime("%Y-%m-%d").fillna("")
    return (relations["source"].astype(str) + "|" + relations["target"].astype(str) + "|"
            + relations["kind"].astype(str) + "|" + since)


def _removed_rows(m: OpportunityMap, old: OpportunityMap, slug: str | None) -> pd.DataFrame:
    old_scope = _scope(old, slug)
    old_ids = set(old.actors.loc[old_scope, "id"])
    actors = old.actors[old_scope & ~old.actors["id"].isin(set(m.actors["id"]))]
    opp = old.opportunities[old.opportunities["actor_id"].isin(old_ids)]
    opp = opp[~opp["id"].isin(set(m.opportunities["id"]))]
    rel = old.relations[old.relations["source"].isin(old_ids)
                        | old.relations["target"].isin(old_ids)]
    rel = rel[~relation_keys(rel).isin(set(relation_keys(m.relations)))]
    names = dict(zip(old.actors["id"], old.actors["name"].astype(str), strict=False))
    rel_names = [f"{names.get(a, a)} – {names.get(b, b)}"
                 for a, b in zip(rel["source"], rel["target"], strict=True)]
    return pd.concat([
        _frame("row_removed", "actors", actors["id"], actors["name"], _REMOVED),
        _frame("row_removed", "opportunities", opp["id"], opp["name"].fillna(""), _REMOVED),
        _frame("row_removed", "relations", relation_keys(rel), rel_names, _REMOVED),
    ], ignore_index=True)


def find_unverified(m: OpportunityMap, *, as_of: object, territory: str | None = None,
                    months: int = 12) -> pd.DataFrame:
    """Organisations and opportunities not verified for more than ``months`` at a date.

    A record is listed when it is active at ``as_of`` and its ``verified`` date
    (``verificato_il``: when someone last confirmed it) is empty, or earlier than
    ``as_of`` minus ``months`` months. Directories of services re-verify every
    listing yearly: a stale map sends people to closed doors.

    Parameters
    ----------
    m : OpportunityMap
    as_of : date-like
        The date of the check (the Tavolo date).
    territory : str, optional
        A territory (slug or name); ``None`` for the whole map.
    months : int
        The threshold in months (default 12).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`UNVERIFIED_COLUMNS`: ``table`` (``actors`` or
        ``opportunities``), ``id``, ``name``, ``verified`` (datetime64, NaT = never),
        ``months`` (whole months since the verification, ``<NA>`` = never) and
        ``detail`` (Italian), never-verified records first, then the oldest.

    Examples
    --------
    >>> import opportunity_map as om
    >>> stale = om.find_unverified(om.example_map(), as_of="2027-06-30")
    >>> stale["detail"].iloc[0]
    'mai verificato'
    """
    if months < 1:
        msg = f"months must be at least 1, got {months!r}"
        raise ValueError(msg)
    t = to_timestamp(as_of, name="as_of")
    limit = t - pd.DateOffset(months=months)
    scope = _scope(m, None if territory is None else m.resolve_territory(territory))
    actors = m.actors[scope & active_mask(m.actors, t)]
    opp = m.opportunities
    if len(opp):
        opp = opp[opp["actor_id"].isin(set(m.actors.loc[scope, "id"])) & active_mask(opp, t)]
    frames = []
    for table, rows in (("actors", actors), ("opportunities", opp)):
        if not len(rows):
            continue
        verified = (pd.to_datetime(rows["verified"]) if "verified" in rows
                    else pd.Series(pd.NaT, index=rows.index, dtype="datetime64[ns]"))
        stale = verified.isna() | (verified < limit)
        rows, verified = rows[stale], verified[stale]
        elapsed = [pd.NA if pd.isna(v) else _months_between(v, t) for v in verified]
        names = [str(n) if isinstance(n, str) and n else str(i)
                 for n, i in zip(rows["name"], rows["id"], strict=True)]
        frames.append(pd.DataFrame({
            "table": table, "id": rows["id"].to_numpy(), "name": names,
            "verified": verified.to_numpy(), "months": pd.array(elapsed, dtype="Int64"),
            "detail": ["mai verificato" if pd.isna(v) else
                       f"verificato il {format_date(v)} ({n} mesi fa)"
                       for v, n in zip(verified, elapsed, strict=True)],
        }))
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype="datetime64[ns]" if c == "verified" else
                                          "Int64" if c == "months" else object)
                             for c in UNVERIFIED_COLUMNS})
    out = pd.concat(frames, ignore_index=True)
    never = out["verified"].isna()
    order = np.lexsort((out["id"].astype(str).to_numpy(),
                        out["verified"].fillna(pd.Timestamp.min).to_numpy(),
                        ~never.to_numpy()))
    return out.iloc[order].reset_index(drop=True).loc[:, list(UNVERIFIED_COLUMNS)]


def _months_between(earlier: pd.Timestamp, later: pd.Timestamp) -> int:
    """Whole months from ``earlier`` to ``later`` (calendar months, as people count)."""
    months = int((later.year - earlier.year) * 12 + later.month - earlier.month)
    return months - int(later.day < earlier.day)


def table_italian(table: str) -> str:
    """The Italian (sheet) name of a table: ``actors`` → ``attori``."""
    return _TABLE_ITALIAN.get(table, table)
