"""Load, validate and save opportunity maps (CSV, XLSX, GeoPackage)."""

from __future__ import annotations

import errno
import logging
import os
from importlib import resources
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from . import _gpkg
from . import geography as geo
from ._atomic import atomic_path
from ._errors import DataError, Problem
from ._read import (
    RawTable,
    discover,
    read_csv_file,
    read_named_table,
    read_path,
    table_of_file,
)
from ._validate import (
    FILE_COLUMN,
    POSITION_COLUMNS,
    ROW_COLUMN,
    convert_table,
    regex_mask,
    suggest,
)
from .model import OpportunityMap
from .schema import (
    GEOCODED_CATEGORIES,
    GEOCODED_COMUNE,
    GEOCODED_GIVEN,
    KIND_TO_GROUP,
    TABLES,
    normalize_header,
)

__all__ = ["example_map", "load", "save", "validate"]

log = logging.getLogger(__name__)

PathLike = str | os.PathLike[str]


def load(path: PathLike, *, territories: PathLike | None = None) -> OpportunityMap:
    """Load an opportunity map, checking everything.

    Parameters
    ----------
    path : path-like
        A folder holding the ``actors`` (``attori``), ``relations`` (``relazioni``)
        and optionally ``opportunities`` (``opportunita``) tables as ``.csv`` or
        ``.xlsx``, or sub-folders holding them (``data/ambiti/<territory>/...``),
        which are merged; or a single workbook / GeoPackage with one sheet/layer
        per table (as :func:`save` writes them).
    territories : path-like, optional
        A territories CSV that replaces the project's 11 territories. By default
        those 11 (:func:`~opportunity_map.project_territories`), extended by a
        ``territories.csv`` found in ``path`` or its parents, or by a
        ``territories`` sheet/layer. The map keeps the territories where it has
        organisations.

    Returns
    -------
    OpportunityMap

    Raises
    ------
    DataError
        With *every* problem found (``err.problems``) when the data has errors.
        Warnings alone do not raise; they are logged.
    FileNotFoundError
        If ``path`` does not exist.

    Examples
    --------
    >>> from importlib import resources
    >>> with resources.as_file(resources.files("opportunity_map") / "data" / "example") as p:
    ...     m = om.load(p)
    >>> m.actors.crs.to_epsg(), m.territory_slugs
    (4326, ['bergamo', 'lecco'])
    """
    m, problems = _assemble(Path(path), territories)
    for p in problems:
        if p.severity == "warning":
            log.warning("%s", p)
    if m is None or any(p.severity == "error" for p in problems):
        raise DataError(problems)
    return m


def example_map() -> OpportunityMap:
    """A tiny invented map shipped with the package, for examples and tests.

    Two territories (Bergamo, Lecco), nine organisations, twelve relations and four
    opportunities, with dates from 2025 to 2027: at 30/06/2026 Bergamo has 5 active
    organisations and 4 ties, Lecco 3 and 1, with 1 tie between them.

    Returns
    -------
    OpportunityMap

    Examples
    --------
    >>> m = example_map()
    >>> m.territory_slugs, len(m.actors), len(m.relations)
    (['bergamo', 'lecco'], 9, 12)
    """
    with resources.as_file(resources.files(__package__).joinpath("data", "example")) as folder:
        return load(folder)


def validate(path: PathLike, *, territories: PathLike | None = None, as_of: object = None,
             verify_months: int = 12) -> list[Problem]:
    """Every problem (errors and warnings) in the map at ``path``; empty when all is well.

    Takes the same arguments as :func:`load` and never raises for a data problem:
    unreadable files (wrong encoding, broken quotes, corrupt, truncated or
    password-protected workbooks, damaged GeoPackages) are problems too.

    Parameters
    ----------
    path, territories
        As for :func:`load`.
    as_of : date-like, optional
        With a date, the organisations and opportunities active then and not
        verified (``verificato_il``) for more than ``verify_months`` months, or never,
        are listed as warnings (see :func:`~opportunity_map.find_unverified`); a file
        whose rows are all unverified gets one warning instead of one per row.
    verify_months : int
        The threshold in months (default 12).

    Returns
    -------
    list of Problem
        Sorted by file, row, column.
    """
    _, problems = _assemble(Path(path), territories, as_of=as_of, verify_months=verify_months)
    return sorted(problems, key=lambda p: (p.file, p.row or 0, p.column or "", p.message))


def _unverified_problems(m: OpportunityMap, where: dict[str, tuple[np.ndarray, np.ndarray]],
                         headers: dict[str, dict[str, str]], as_of: object,
                         months: int) -> list[Problem]:
    """Warnings for the records to verify, at their file and row."""
    from .changes import find_unverified

    stale = find_unverified(m, as_of=as_of, months=months)
    out: list[Problem] = []
    for table in ("actors", "opportunities"):
        frame = getattr(m, table)
        rows = stale[stale["table"] == table]
        if not len(rows):
            continue
        header = headers[table].get("verified", "verificato_il")
        found = pd.DataFrame({"id": frame["id"].to_numpy(), "file": where[table][0],
                              "row": where[table][1],
                              "verified": frame["verified"].notna().to_numpy()
                              if "verified" in frame else False})
        by_id = found.drop_duplicates("id").set_index("id")
        never = ~found.groupby("file")["verified"].any()
        for file in never[never].index:  # no date at all in the file: one warning
            n = int(rows["id"].map(by_id["file"]).eq(file).sum())
            rows_text = "1 riga attiva mai verificata" if n == 1 else \
                f"{n} righe attive mai verificate"
            out.append(Problem(str(file), None, None, f"nessuna data in {header}: {rows_text}",
                               "warning"))
        for record in rows.itertuples(index=False):
            file, row = by_id.at[record.id, "file"], int(by_id.at[record.id, "row"])
            if not never.get(file, False):
                out.append(Problem(str(file), row, header, f"da verificare: {record.detail}",
                                   "warning"))
    return out


# --------------------------------------------------------------------------- loading


def _assemble(path: Path, territories_path: PathLike | None, *, as_of: object = None,
              verify_months: int = 12) -> tuple[OpportunityMap | None, list[Problem]]:
    if not path.exists():
        msg = f"path={str(path)!r} does not exist"
        raise FileNotFoundError(errno.ENOENT, msg, str(path))
    problems: list[Problem] = []
    if path.is_dir():
        files, problems = discover(path)
    else:
        files = [(path, None)]
    raws: list[RawTable] = []
    unreadable: set[str] = set()  # tables whose file could not be read: not "missing"
    for file, folder in files:
        found, found_problems = read_path(file, folder)
        raws += found
        problems += found_problems
        if not found and (table := table_of_file(file)) is not None:
            unreadable.add(table.name)
    found = []  # the tables are held by raws alone, to be let go one by one
    territories, ambiti, territory_problems = _territories(path, territories_path)
    problems += territory_problems
    if territories is None:
        return None, problems
    raws = [r for r in raws if r.table.name in TABLES]
    typed: dict[str, list[pd.DataFrame]] = {name: [] for name in TABLES}
    headers: dict[str, dict[str, str]] = {name: {} for name in TABLES}
    raws.reverse()
    while raws:  # each raw table is let go once converted (its cells are held twice)
        raw = raws.pop()
        frame, found_problems = convert_table(raw)
        problems += found_problems
        typed[raw.table.name].append(frame)
        headers[raw.table.name].update(frame.attrs.get("headers", {}))
    for name, table in TABLES.items():
        if table.required and not typed[name] and name not in unreadable:
            names = ", ".join(f"{n}.csv/.xlsx" for n in table.file_names[:2])
            problems.append(Problem(str(path), None, None,
                                    f"manca la tabella {table.italian!r} ({names})"))
    if any(p.severity == "error" and p.row is None for p in problems) and not typed["actors"]:
        return None, problems
    frames = {name: _concat(parts, TABLES[name].column_names) for name, parts in typed.items()}
    for name in ("actors", "opportunities"):
        problems += _duplicate_ids(frames[name], headers[name].get("id", "id"))
    problems += _references(frames, headers)
    problems += _contact_problems(frames["actors"], headers["actors"])
    coord_headers = {headers["actors"].get(c, c) for c in ("lat", "lon")}
    unparsed = {(p.file, p.row) for p in problems if p.column in coord_headers}
    where = {name: (frames[name][FILE_COLUMN].to_numpy(), frames[name][ROW_COLUMN].to_numpy())
             for name in ("actors", "opportunities")}
    actors, place_problems = _place_actors(frames["actors"], territories, ambiti,
                                           headers["actors"], unparsed)
    problems += place_problems
    # the map holds the territories where it has organisations, in the list's order
    present = set(actors["territory"].unique())  # one look at each distinct value
    territories = territories[territories["slug"].isin(present)].reset_index(drop=True)
    if len(ambiti):
        ambiti = ambiti[ambiti["territory"].isin(present)].reset_index(drop=True)
    m = OpportunityMap(
        actors=actors,
        opportunities=_public(frames["opportunities"]),
        relations=_public(frames["relations"]),
        territories=territories, ambiti=ambiti, source=path,
        problems=[p for p in problems if p.severity == "warning"],
    )
    if as_of is not None:
        problems += _unverified_problems(m, where, headers, as_of, verify_months)
    return m, problems


#: A table read for the territories or the ambiti: cells, rows, problems, location.
_Found = tuple[pd.DataFrame | None, np.ndarray, list[Problem], str]


def _territories(path: Path, territories_path: PathLike | None
                 ) -> tuple[gpd.GeoDataFrame | None, gpd.GeoDataFrame, list[Problem]]:
    """The territories and ambiti that govern ``path``, with their problems.

    ``territories_path`` replaces the project's 11 territories; otherwise a
    ``territories`` sheet/layer of a workbook or GeoPackage, or a
    ``territories.csv`` in the folder or its parents, extends them. Ambiti come
    from the ``ambiti`` sheet/layer of that workbook or the ``ambiti.csv`` found
    the same way. Both files are read like the tables (any encoding and
    separator). The territories are None when they have errors.
    """
    base: gpd.GeoDataFrame | None = None
    found: _Found | None
    if territories_path is not None and not Path(territories_path).exists():
        msg = f"territories={str(territories_path)!r} does not exist"
        raise FileNotFoundError(errno.ENOENT, msg, str(territories_path))
    if territories_path is not None:
        found = _named_table(Path(territories_path), "territories")
        ambiti_source = geo.find_data_file(Path(territories_path), "ambiti.csv")
    else:
        base = geo.project_territories()
        ambiti_source = geo.find_data_file(path, "ambiti.csv")
        workbook = path.suffix.lower() in {".xlsx", ".gpkg"}
        found = _named_table(path, "territories") if workbook else None
        if workbook and ((found is not None and found[0] is not None)
                         or _named_table(path, "ambiti")[0] is not None):
            ambiti_source = path  # a workbook's own ambiti come first
        if found is None or found[0] is None:
            csv_file = geo.find_territories_file(path)
            found = None if csv_file is None else _named_table(csv_file, "territories")
    terr, problems = _read_territories(found, base)
    if terr is None or ambiti_source is None:
        return terr, geo.empty_ambiti(), problems
    ambiti, more = _read_ambiti(_named_table(ambiti_source, "ambiti"), terr)
    return terr, ambiti, problems + more


def _named_table(source: Path, name: str) -> _Found:
    """The ``name`` sheet/layer of a workbook or GeoPackage, or the cells of a CSV."""
    if source.suffix.lower() in {".xlsx", ".gpkg"}:
        frame, rows, problems = read_named_table(source, name)
        return frame, rows, problems, f"{source}[{name}]"
    frame, rows, problems = read_csv_file(source)
    return frame, rows, problems, str(source)


def _read_territories(found: _Found | None, base: gpd.GeoDataFrame | None
                      ) -> tuple[gpd.GeoDataFrame | None, list[Problem]]:
    """``base`` extended (or, without ``base``, replaced) by the territories ``found``."""
    if found is None:
        return base, []
    frame, rows, problems, where = found
    failed = any(p.severity == "error" for p in problems)
    if frame is None:
        return (None if failed or base is None else base), problems
    try:
        extra = geo.territories_from_frame(frame, where=where, rows=rows)
    except DataError as exc:
        return None, problems + exc.problems
    if failed:
        return None, problems
    return (extra if base is None else geo.extend_territories(base, extra)), problems


def _read_ambiti(found: _Found, territories: gpd.GeoDataFrame
                 ) -> tuple[gpd.GeoDataFrame, list[Problem]]:
    frame, rows, problems, where = found
    if frame is None:
        return geo.empty_ambiti(), problems
    try:
        return geo.ambiti_from_frame(frame, territories, where=where, rows=rows), problems
    except DataError as exc:
        return geo.empty_ambiti(), problems + exc.problems


def _concat(parts: list[pd.DataFrame], canonical: list[str]) -> pd.DataFrame:
    if not parts:
        empty = pd.DataFrame({c: pd.Series(dtype=object) for c in canonical})
        empty[FILE_COLUMN] = pd.Series(dtype=object)
        empty[ROW_COLUMN] = pd.Series(dtype=int)
        return empty
    frame = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    extras = [c for c in frame.columns if c not in canonical and c not in POSITION_COLUMNS]
    for c in extras:
        frame[c] = frame[c].fillna("").astype(object)
    return frame


def _shown(text: str, limit: int = 60) -> str:
    """``repr`` of a value for a message, cut when long."""
    return repr(text if len(text) <= limit else text[:limit] + "…")


def _where(frame: pd.DataFrame, i: int) -> str:
    return f"{frame[FILE_COLUMN].iloc[i]}:{frame[ROW_COLUMN].iloc[i]}"


def _problem(frame: pd.DataFrame, i: int | np.integer, column: str | None, message: str,
             severity: str = "error") -> Problem:
    return Problem(str(frame[FILE_COLUMN].iloc[i]), int(frame[ROW_COLUMN].iloc[i]), column, message,
                   severity)  # type: ignore[arg-type]


def _duplicate_ids(frame: pd.DataFrame, header: str) -> list[Problem]:
    ids = frame["id"]
    dup = ids.duplicated(keep="first") & (ids != "")
    if not dup.any():
        return []
    first = {v: i for i, v in reversed(list(enumerate(ids)))}
    return [_problem(frame, i, header, f"id duplicato {_shown(ids.iloc[i])} "
                     f"(già usato in {_where(frame, first[ids.iloc[i]])})")
            for i in np.flatnonzero(dup.to_numpy())]


def _references(frames: dict[str, pd.DataFrame], headers: dict[str, dict[str, str]]
                ) -> list[Problem]:
    known = set(frames["actors"]["id"])
    out = []
    rel = frames["relations"]
    for name in ("source", "target"):
        bad = ~rel[name].isin(known) & (rel[name] != "")
        header = headers["relations"].get(name, name)
        out += [_problem(rel, i, header, f"attore sconosciuto {_shown(rel[name].iloc[i])}: "
                         f"nessun attore ha questo id")
                for i in np.flatnonzero(bad.to_numpy())]
    self_tie = (rel["source"] == rel["target"]) & (rel["source"] != "")
    out += [_problem(rel, i, headers["relations"].get("target", "target"),
                     f"relazione di un attore con se stesso ({_shown(rel['source'].iloc[i])})")
            for i in np.flatnonzero(self_tie.to_numpy())]
    opp = frames["opportunities"]
    bad = ~opp["actor_id"].isin(known) & (opp["actor_id"] != "")
    header = headers["opportunities"].get("actor_id", "actor_id")
    out += [_problem(opp, i, header, f"attore sconosciuto {_shown(opp['actor_id'].iloc[i])}: "
                     "nessun attore ha questo id")
            for i in np.flatnonzero(bad.to_numpy())]
    return out


#: RE2 patterns of websites and e-mails written the plain way (ASCII letters,
#: digits and a few marks): a subset of what ``safe_href`` / ``safe_mailto``
#: accept, so only the other values are checked one by one.
_PLAIN_CONTACT = {
    "website": r"^https?://[A-Za-z0-9.\-]+(?:/[A-Za-z0-9._~/\-]*)?$",
    "email": r"^[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+$",
}


def _contact_problems(actors: pd.DataFrame, headers: dict[str, str]) -> list[Problem]:
    """Warnings for websites and e-mails the maps will show as plain text, not as links."""
    from ._html import safe_href, safe_mailto

    out = []
    checks = (("website", safe_href, "sito web non valido {}: atteso un indirizzo "
               "http:// o https:// (sarà mostrato come testo, senza collegamento)"),
              ("email", safe_mailto, "e-mail non valida {} (sarà mostrata come testo)"))
    for column, check, message in checks:
        values = actors[column].astype(str)
        plain = regex_mask(values, _PLAIN_CONTACT[column])
        rest = values if plain is None else values[~plain]
        bad = [v for v in pd.unique(rest) if v != "" and check(v) is None]
        if not bad:
            continue
        for i in np.flatnonzero(values.isin(bad).to_numpy()):
            out.append(_problem(actors, i, headers.get(column, column),
                                message.format(_shown(values.iloc[i])), "warning"))
    return out


def _public(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns=list(POSITION_COLUMNS)).reset_index(drop=True)


def _territory_lookup(territories: gpd.GeoDataFrame) -> dict[str, str]:
    lookup: dict[str, str] = {}
    for row in territories.itertuples():
        for label in (row.slug, row.name, row.province_short):
            lookup[normalize_header(str(label))] = str(row.slug)
    return lookup


def _factorize_pairs(first: np.ndarray, second: np.ndarray
                     ) -> tuple[np.ndarray, list[tuple[str, str]]]:
    """Code of each (first, second) pair of texts, and the distinct pairs in order of appearance."""
    if not len(first):
        return np.zeros(0, dtype=np.int64), []
    first_codes, first_values = pd.factorize(first)
    second_codes, second_values = pd.factorize(second)
    codes, pairs = pd.factorize(first_codes.astype(np.int64) * len(second_values) + second_codes)
    return (np.asarray(codes, dtype=np.int64),
            [(str(first_values[p // len(second_values)]),
              str(second_values[p % len(second_values)])) for p in pairs])


def _place_actors(actors: pd.DataFrame, territories: gpd.GeoDataFrame,
                  ambiti: gpd.GeoDataFrame, headers: dict[str, str],
                  unparsed: set[tuple[str, int | None]]
                  ) -> tuple[gpd.GeoDataFrame, list[Problem]]:
    """Assign territory and ISTAT comune, geocode by comune, check coordinates.

    Rows listed in ``unparsed`` (file, row) already have a coordinate error and
    are neither checked again nor geocoded.
    """
    problems: list[Problem] = []
    h = {c: headers.get(c, c) for c in ("territory", "comune", "lat", "lon")}
    slugs = list(territories["slug"])
    prov_of_slug = dict(zip(territories["slug"], territories["province_code"], strict=True))
    slug_of_prov = {v: k for k, v in prov_of_slug.items()}
    lookup = _territory_lookup(territories)
    n = len(actors)
    # territory: decided once per distinct (given territory, file)
    given_values = actors["territory"].astype(str).to_numpy(dtype=object)
    file_values = actors[FILE_COLUMN].astype(str).to_numpy(dtype=object)
    pair_codes, pairs = _factorize_pairs(given_values, file_values)
    pair_slug = np.empty(len(pairs), dtype=object)
    pair_bad = np.zeros(len(pairs), dtype=bool)
    for k, (given, file) in enumerate(pairs):
        if given:
            slug = lookup.get(normalize_header(given))
            pair_bad[k] = slug is None
            pair_slug[k] = "" if slug is None else slug
        else:
            folder = Path(str(file).split("[", 1)[0]).parent.name
            pair_slug[k] = folder if folder in prov_of_slug else ""
    territory = (pair_slug[pair_codes] if n else np.array([], dtype=object)).astype(object)
    for i in np.flatnonzero(pair_bad[pair_codes]) if n else []:
        given = given_values[i]
        problems.append(_problem(actors, i, h["territory"],
                                 f"territorio sconosciuto {_shown(given)}: "
                                 f"{suggest(given, slugs)}"))
    project = tuple(int(c) for c in territories["province_code"])
    codes = np.full(n, -1, dtype=np.int64)
    comune_values = actors["comune"].astype(str).to_numpy(dtype=object)
    # comune: matched once per distinct (name, territory); problems then in row order
    key_codes, keys = _factorize_pairs(comune_values, territory)
    key_code = np.full(len(keys), -1, dtype=np.int64)
    key_territory = np.empty(len(keys), dtype=object)
    key_problem: list[tuple[str, str] | None] = [None] * len(keys)
    comuni = geo.comuni()
    for k, (name, own_slug) in enumerate(keys):
        key_territory[k] = own_slug
        if not name:
            continue
        own = (int(prov_of_slug[own_slug]),) if own_slug else ()
        match = geo.match_comune(name, provinces=own, project_provinces=project)
        if match.code is None:
            if match.ambiguous:
                msg = (f"comune ambiguo {_shown(name)}: " + ", ".join(match.candidates)
                       + "; indicare il territorio o il codice ISTAT")
            else:
                near = ", ".join(match.candidates) if match.candidates else "nessuno"
                msg = f"comune sconosciuto {_shown(name)}; i più simili: {near}"
            key_problem[k] = (msg, "error")
            continue
        key_code[k] = match.code
        prov = int(comuni.at[match.code, "province_code"])
        if not own_slug:
            if prov in slug_of_prov:
                key_territory[k] = slug_of_prov[prov]
            else:
                key_problem[k] = (f"il comune {_shown(name)} non è in nessun territorio del "
                                  "progetto: indicare il territorio", "error")
        elif prov != prov_of_slug[own_slug]:
            key_problem[k] = (f"il comune {comuni.at[match.code, 'name']} "
                              f"({comuni.at[match.code, 'province_short']}) non è nel territorio "
                              f"{own_slug}", "warning")
    if n:
        codes = key_code[key_codes]
        territory = key_territory[key_codes].astype(object)
        has_problem = np.array([p is not None for p in key_problem], dtype=bool)
        for i in np.flatnonzero(has_problem[key_codes]):
            found = key_problem[key_codes[i]]
            assert found is not None
            problems.append(_problem(actors, i, h["comune"], found[0], found[1]))
    lat = actors["lat"].to_numpy(dtype=float, copy=True)
    lon = actors["lon"].to_numpy(dtype=float, copy=True)
    skip = (np.array([(f, int(r)) in unparsed for f, r in zip(actors[FILE_COLUMN],
                                                              actors[ROW_COLUMN], strict=True)],
                     dtype=bool) if unparsed else np.zeros(n, dtype=bool))
    problems += _check_coordinates(actors, lat, lon, codes, territory, prov_of_slug, h, skip)
    geocoded = np.where(pd.Series(actors["geocoded"], dtype=object).fillna("").astype(str)
                        .str.strip().str.lower().eq(GEOCODED_COMUNE).to_numpy(),
                        GEOCODED_COMUNE, GEOCODED_GIVEN).astype(object)
    missing = np.isnan(lat) & np.isnan(lon) & (codes >= 0) & ~skip
    if missing.any():
        wanted = pd.unique(codes[missing])
        points = geo.comune_points(wanted)
        rx = dict(zip(points.index, points["lon"], strict=True))
        ry = dict(zip(points.index, points["lat"], strict=True))
        lon[missing] = [rx[c] for c in codes[missing]]
        lat[missing] = [ry[c] for c in codes[missing]]
        geocoded[missing] = "comune"
    out = _public(actors)
    out["lat"] = lat
    out["lon"] = lon
    out["territory"] = territory
    out["geocoded"] = pd.Categorical(geocoded, categories=GEOCODED_CATEGORIES)
    out.insert(3, "group", out["kind"].map(KIND_TO_GROUP).astype(object))
    out.insert(5, "comune_code", pd.array(np.where(codes >= 0, codes, 0), dtype="Int64"))
    out.loc[codes < 0, "comune_code"] = pd.NA
    out.insert(6, "ambito", _ambito_of(codes, ambiti))
    gdf = gpd.GeoDataFrame(out, geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326")
    return gdf, problems


def _ambito_of(codes: np.ndarray, ambiti: gpd.GeoDataFrame) -> np.ndarray:
    member: dict[int, str] = {}
    for row in ambiti.itertuples():
        for code in row.comune_codes:
            member.setdefault(int(code), str(row.id))
    distinct, back = np.unique(codes, return_inverse=True)
    named = np.array([member.get(int(c), "") for c in distinct], dtype=object)
    return named[back.reshape(-1)] if len(codes) else np.array([], dtype=object)


def _check_coordinates(actors: pd.DataFrame, lat: np.ndarray, lon: np.ndarray,
                       codes: np.ndarray, territory: np.ndarray,
                       prov_of_slug: dict[str, int], h: dict[str, str],
                       skip: np.ndarray) -> list[Problem]:
    problems = []
    one = (np.isnan(lat) ^ np.isnan(lon)) & ~skip
    for i in np.flatnonzero(one):
        col = h["lat"] if np.isnan(lat[i]) else h["lon"]
        problems.append(_problem(actors, i, col,
                                 "indicare sia la latitudine sia la longitudine (o nessuna)"))
    has = ~np.isnan(lat) & ~np.isnan(lon)
    bad_range = has & ((np.abs(lat) > 90) | (np.abs(lon) > 180))
    for i in np.flatnonzero(bad_range):
        problems.append(_problem(actors, i, h["lat"], "coordinate fuori scala: "
                                 f"latitudine {lat[i]}, longitudine {lon[i]}"))
    check = has & ~bad_range
    if not check.any():
        return problems
    idx = np.flatnonzero(check)
    where = _locate(lon[idx], lat[idx])
    comuni = geo.comuni()
    settled = (codes[idx] >= 0) & (where == codes[idx])  # the point is in its own comune
    unsettled = np.flatnonzero(~settled)
    # the swapped point is looked up for the points not settled alone, the only ones read
    swapped = np.full(len(idx), -1, dtype=np.int64)
    if len(unsettled):
        swapped[unsettled] = _locate(lat[idx[unsettled]], lon[idx[unsettled]])
    for k in unsettled:
        i = idx[k]
        expected_prov = prov_of_slug.get(str(territory[i])) if territory[i] else None
        found = where[k]
        if codes[i] >= 0 and found == codes[i]:
            continue
        found_prov = int(comuni.at[found, "province_code"]) if found >= 0 else None
        alt = swapped[k]
        alt_ok = alt >= 0 and (alt == codes[i] or (
            expected_prov is not None and int(comuni.at[alt, "province_code"]) == expected_prov))
        if alt_ok and (found < 0 or found_prov != expected_prov):
            problems.append(_problem(actors, i, h["lat"],
                                     f"latitudine e longitudine sembrano invertite "
                                     f"({lat[i]}, {lon[i]})"))
        elif expected_prov is not None and found_prov == expected_prov:
            if codes[i] >= 0:
                problems.append(_problem(
                    actors, i, h["lat"],
                    f"le coordinate cadono nel comune di {comuni.at[found, 'name']}, "
                    f"non in quello di {comuni.at[codes[i], 'name']}", "warning"))
        elif expected_prov is not None or codes[i] >= 0:
            place = (f"nel comune di {comuni.at[found, 'name']} "
                     f"({comuni.at[found, 'province_short']})"
                     if found >= 0 else "fuori dall'Italia")
            problems.append(_problem(actors, i, h["lat"],
                                     f"coordinate fuori dal territorio {territory[i]}: "
                                     f"il punto ({lat[i]}, {lon[i]}) è {place}"))
    return problems


def _locate(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """ISTAT code of the comune containing each point, -1 when none."""
    polygons = geo.comuni_geometry()
    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(x, y), crs="EPSG:4326")
    joined = gpd.sjoin(points, polygons[["geometry"]], how="left", predicate="within")
    joined = joined[~joined.index.duplicated(keep="first")]
    right = joined["index_right"] if "index_right" in joined else joined.iloc[:, -1]
    located: np.ndarray = (right.fillna(-1).astype(np.int64)
                           .reindex(range(len(x)), fill_value=-1).to_numpy())
    return located


# --------------------------------------------------------------------------- saving


def _for_output(m: OpportunityMap) -> dict[str, pd.DataFrame]:
    """The three tables as text, canonical columns first, extras after, no derived columns."""
    actors = pd.DataFrame(m.actors.drop(columns=["geometry", "group", "comune_code", "ambito"],
                                        errors="ignore"))
    tables = {"actors": actors, "opportunities": m.opportunities, "relations": m.relations}
    return {name: frame.apply(_text_column) if len(frame) else frame.astype(str)
            for name, frame in tables.items()}


def _text_column(column: pd.Series) -> pd.Series:
    """:func:`_text` of every cell of a column, vectorised by dtype (the same text)."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        column = column.astype(object)
    present = column.notna()
    if pd.api.types.is_datetime64_any_dtype(column):
        return column.dt.strftime("%Y-%m-%d").where(present, "").astype(object)
    if pd.api.types.is_float_dtype(column) or pd.api.types.is_integer_dtype(column):
        # str() of a float is its shortest round-trip repr, as _text writes it
        return column.astype(object).astype(str).where(present, "").astype(object)
    if pd.api.types.infer_dtype(column, skipna=False) == "string":
        return column
    return column.map(_text)


#: Canonical columns written to workbooks as typed cells (numbers and dates).
_TYPED_COLUMNS: dict[str, tuple[str, ...]] = {
    "actors": ("lat", "lon", "since", "until"),
    "opportunities": ("since", "until", "capacity"),
    "relations": ("level", "since", "until"),
}


def _typed_for_xlsx(m: OpportunityMap, tables: dict[str, pd.DataFrame]
                    ) -> dict[str, pd.DataFrame]:
    """The text tables with their numeric and date columns as typed values again."""
    frames = {"actors": m.actors, "opportunities": m.opportunities, "relations": m.relations}
    out = {}
    for name, table in tables.items():
        typed = table.copy()
        for column in _TYPED_COLUMNS[name]:
            if column in typed and len(typed):
                original = frames[name][column]
                typed[column] = (pd.to_datetime(original).to_numpy() if column in
                                 ("since", "until") else pd.to_numeric(original).to_numpy())
        out[name] = typed
    return out


def _text(value: object) -> str:
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, pd.Timestamp):
        return str(value.strftime("%Y-%m-%d"))
    if isinstance(value, float | np.floating):
        return "" if np.isnan(value) else repr(float(value))
    return str(value)


def _territories_table(m: OpportunityMap) -> pd.DataFrame:
    return pd.DataFrame(m.territories[["slug", "name", "province_code", "province_short"]])


def _ambiti_table(m: OpportunityMap) -> pd.DataFrame:
    table = pd.DataFrame(m.ambiti[["id", "name", "territory"]])
    table["comune_codes"] = [" ".join(str(c) for c in codes) for codes in m.ambiti["comune_codes"]]
    return table


def save(m: OpportunityMap, path: PathLike, *, driver: str | None = None) -> Path:
    """Write a map so that :func:`load` reads it back unchanged.

    Parameters
    ----------
    m : OpportunityMap
        The map.
    path : path-like
        A folder (CSV: ``actors.csv``, ``opportunities.csv``, ``relations.csv``,
        ``territories.csv`` and ``ambiti.csv``), a ``.xlsx`` workbook (one sheet per
        table) or a ``.gpkg`` GeoPackage (layers ``actors`` points,
        ``opportunities``, ``relations`` as lines between the two actors,
        ``territories`` and ``ambiti`` polygons), which GDAL/QGIS open.
    driver : {"csv", "xlsx", "gpkg"}, optional
        Format; by default from the extension of ``path`` (none = CSV folder).

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    ValueError
        If ``driver`` is unknown.

    Notes
    -----
    Every file is written to a temporary name and renamed when complete, so a
    failure never leaves a half-written output. Dates are ISO ``YYYY-MM-DD``;
    coordinates keep full precision; extra columns are kept.
    """
    path = Path(path)
    kind = driver or {".xlsx": "xlsx", ".gpkg": "gpkg"}.get(path.suffix.lower(), "csv")
    tables = _for_output(m)
    if kind == "csv":
        path.mkdir(parents=True, exist_ok=True)
        outputs = {**tables, "territories": _territories_table(m), "ambiti": _ambiti_table(m)}
        for name, frame in outputs.items():
            if name == "ambiti" and frame.empty:
                continue
            with atomic_path(path / f"{name}.csv") as tmp:
                # CRLF (RFC 4180): a line break or lone CR inside a cell is quoted
                frame.to_csv(tmp, index=False, encoding="utf-8", lineterminator="\r\n")
    elif kind == "xlsx":
        from ._xlsx import Sheet, write_workbook  # only saving needs the workbook writer

        sheets = [Sheet(name, frame, freeze_header=True)
                  for name, frame in _typed_for_xlsx(m, tables).items()]
        sheets.append(Sheet("territories", _territories_table(m), freeze_header=True))
        if len(m.ambiti):
            sheets.append(Sheet("ambiti", _ambiti_table(m), freeze_header=True))
        write_workbook(path, sheets, where=path.name)
    elif kind == "gpkg":
        _save_geopackage(m, tables, path)
    else:
        msg = f"driver={driver!r} is not one of 'csv', 'xlsx', 'gpkg'"
        raise ValueError(msg)
    log.info("saved map to %s", path)
    return path


def _typed_for_gpkg(name: str, table: pd.DataFrame, original: pd.DataFrame) -> pd.DataFrame:
    """A text table with its canonical typed columns as GeoPackage types again.

    Dates become ``DATE`` fields, ``float`` columns ``REAL``, ``int`` and ``level``
    columns ``INTEGER`` (a missing value is ``NULL``); the rest stays text.
    """
    typed = table.copy()
    for column in TABLES[name].columns:
        if column.name not in typed or column.type not in ("date", "float", "int", "level"):
            continue
        values = original[column.name]
        if column.type == "date":
            dates = pd.Series(pd.to_datetime(values).to_numpy(), index=typed.index)
            typed[column.name] = (dates.astype("date32[pyarrow]") if _gpkg.USE_ARROW
                                  else dates)
        elif column.type == "float":
            typed[column.name] = pd.to_numeric(values).astype(float).to_numpy()
        else:
            typed[column.name] = pd.array(pd.to_numeric(values), dtype="Int64")
    return typed


def _save_geopackage(m: OpportunityMap, tables: dict[str, pd.DataFrame], path: Path) -> None:
    from ._qgis import LAYER_STYLES, layer_styles  # only the GeoPackage carries styles

    typed = {name: _typed_for_gpkg(name, table, frame) for (name, table), frame in
             zip(tables.items(), (m.actors, m.opportunities, m.relations), strict=True)}
    actors = gpd.GeoDataFrame(typed["actors"], geometry=m.actors.geometry.values,
                              crs="EPSG:4326")
    for name in ("group", "ambito"):
        actors[name] = _text_column(m.actors[name]).to_numpy()
    actors["comune_code"] = pd.array(m.actors["comune_code"], dtype="Int64")
    lines = _gpkg.segments(m.actors["id"], m.actors.geometry.x.to_numpy(),
                           m.actors.geometry.y.to_numpy(), m.relations["source"],
                           m.relations["target"])
    relations = gpd.GeoDataFrame(typed["relations"], geometry=lines, crs="EPSG:4326")
    territories_table = _territories_table(m)
    territories_table["province_code"] = pd.array(
        pd.to_numeric(territories_table["province_code"]), dtype="Int64")
    territories = gpd.GeoDataFrame(territories_table, geometry=m.territories.geometry.values,
                                   crs="EPSG:4326")
    layers: dict[str, pd.DataFrame] = {
        "actors": actors, "opportunities": typed["opportunities"], "relations": relations,
        "territories": territories}
    if len(m.ambiti):
        layers["ambiti"] = gpd.GeoDataFrame(_ambiti_table(m), geometry=m.ambiti.geometry.values,
                                            crs="EPSG:4326")
    layers[LAYER_STYLES] = layer_styles(layers)
    _gpkg.write_geopackage(layers, path)
