"""Offline interactive maps: one self-contained HTML file per territory, and an index.

Each territorial map shows the province (and its ambiti), the outlines of its
comuni, the organisations as one layer per project group, the ties between them
coloured by kind and thick by level, the ties new since a baseline, a filter by
type of opportunity, a search by name or comune, a popup per organisation and a
summary panel with the network density. The index (``index.html``) shows the
territories of Lombardy coloured by the change of density against the baseline,
each linking to its map.

How it is built
---------------
Python computes one JSON payload per map (:func:`build_map_data`,
:func:`build_index_data`); a small script shipped in
:mod:`opportunity_map._assets` builds the Leaflet layers, popups, search and
legend from it in the browser, on a canvas, so a territory with thousands of
organisations stays fluid. Every string from the data reaches the page through
``textContent`` or is escaped (see :mod:`opportunity_map._html`); none is ever
compiled by Jinja or placed in a JavaScript template literal.

The pages work with no network: Leaflet is inlined from the installed
``xstatic`` package (the map clusters organisations with its own script, and
Leaflet.markercluster is inlined only for a folium plugin that asks for it) and
rendering raises
:class:`~opportunity_map._assets.ExternalAssetError` if anything would still be
fetched from outside the file. Background tiles (OpenStreetMap) are used only
with ``tiles="osm"``, for online use; the map is readable without them.
"""

from __future__ import annotations

import functools
import logging
import math
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import folium
import numpy as np
import pandas as pd
import shapely
from branca.element import Element
from folium.elements import JSCSSMixin
from folium.template import Template
from markupsafe import Markup

from . import geography
from ._assets import (
    LEAFLET_CSS_URL,
    LEAFLET_JS_URL,
    OfflineFigure,
    static_text,
)
from ._atomic import write_text_atomic
from ._errors import DateOrderError, UsageError
from ._format import format_date, format_number, format_pct
from ._html import escape_html, json_for_script, safe_href, safe_mailto, templates
from ._time import active_mask, to_timestamp
from .evaluation import Evaluation, check_target, evaluate
from .finder import STRAIGHT_LINE_NOTE, Coverage, coverage
from .metrics import network_stats, network_table
from .model import OpportunityMap
from .network import Network, actor_groups
from .report import VERDICT_LABELS
from .schema import (
    ACTOR_KIND_LABELS,
    GROUP_LABELS,
    GROUPS,
    KIND_TO_GROUP,
    LEVEL_LABELS,
    LEVELS,
    OPPORTUNITY_TYPE_LABELS,
    OPPORTUNITY_TYPES,
    RELATION_KIND_LABELS,
    RELATION_KINDS,
    TIE_DEFINITION,
)

__all__ = [
    "COVERAGE_CLASSES",
    "COVERAGE_NONE",
    "GROUP_STYLES",
    "LEVEL_WEIGHTS",
    "RELATION_COLORS",
    "GroupStyle",
    "MapFigures",
    "OfflineMap",
    "OpportunityLayer",
    "build_index_data",
    "build_map_data",
    "compute_figures",
    "coverage_class",
    "render_index",
    "render_map",
    "save_maps",
]

log = logging.getLogger(__name__)

Tiles = Literal["osm"] | None


@dataclass(frozen=True)
class GroupStyle:
    """How the organisations of a group are drawn.

    Attributes
    ----------
    color : str
        Fill colour, ``#rrggbb``.
    shape : str
        ``circle``, ``square``, ``diamond``, ``triangle``, ``hexagon`` or ``star``.
    """

    color: str
    shape: str


#: Colour and symbol of each project group (distinguishable also in grey print).
GROUP_STYLES: dict[str, GroupStyle] = {
    "cm": GroupStyle("#d62728", "square"),
    "apl": GroupStyle("#ff7f0e", "diamond"),
    "cooperazione": GroupStyle("#2ca02c", "circle"),
    "imprese": GroupStyle("#1f77b4", "triangle"),
    "servizi": GroupStyle("#9467bd", "hexagon"),
}
_OTHER_GROUP = GroupStyle("#7f7f7f", "star")

#: Line colour of each relation kind.
RELATION_COLORS: dict[str, str] = {
    "convenzione_art14": "#1b9e77",
    "tirocinio": "#d95f02",
    "isola_formativa": "#7570b3",
    "invio": "#e7298a",
    "presa_in_carico_congiunta": "#66a61e",
    "partenariato": "#e6ab02",
    "tavolo_di_rete": "#a6761d",
    "commessa": "#1f78b4",
    "consulenza": "#6a3d9a",
    "altro": "#666666",
}
_OTHER_RELATION_COLOR = "#999999"

#: Line width in pixels of each level of collaboration (1 conoscenza ... 4 integrazione).
LEVEL_WEIGHTS: dict[int, float] = {1: 1.2, 2: 2.2, 3: 3.4, 4: 5.0}

_SLUG = re.compile(r"[a-z0-9][a-z0-9_-]*")
_COORD_DIGITS = 5
# Actor positions travel as integers: degrees x 1e5 (about 1 m).
_COORD_SCALE = 10**_COORD_DIGITS
# Bits of an actor's ``flags``.
_APPROX = 1
# Tolerance (degrees, about 35 m) used to simplify boundaries: enough for outlines.
_SIMPLIFY = 0.0003
_MAX_ZOOM = 18
# A tie's level at each date of the timeline travels packed, 3 bits per date, in a
# JSON number (exact up to 2**53): at most 17 dates.
_LEVEL_BITS = 3
_MAX_DATES = 17
_DENSITY_NOTE = (
    "Densità = legami esistenti / coppie possibili di organizzazioni. Quando la rete "
    "cresce la densità tende a calare: la variazione rispetto alla baseline è calcolata "
    "sulle stesse organizzazioni presenti alle due date. I colori usano la stima "
    "puntuale: l'esito rispetto all'obiettivo, con l'intervallo di confidenza, è nel "
    "rapporto di valutazione (evaluation.html)."
)

_INDEX_NOTE = (
    "Densità = legami esistenti / coppie possibili di organizzazioni; la variazione è "
    "calcolata sulle stesse organizzazioni presenti alle due date. Con reti piccole "
    "l'intervallo è ampio: \"Incerto\" vuol dire che i dati non bastano a dire se "
    "l'obiettivo è raggiunto. Dettagli nel rapporto di valutazione (evaluation.html)."
)


# --------------------------------------------------------------------------- folium


class OfflineMap(folium.Map):
    """A ``folium.Map`` that renders as one self-contained HTML page.

    folium's default libraries (Leaflet, jQuery, Bootstrap, Font Awesome,
    awesome-markers) are dropped except Leaflet, which is inlined from the
    ``xstatic-leaflet`` package together with any MarkerCluster a plugin asks
    for; rendering raises :class:`~opportunity_map._assets.ExternalAssetError`
    when an element added to the map needs any other external file. Plugins
    that depend on jQuery or Bootstrap (and ``keep_in_front``) are therefore
    not supported.

    Parameters
    ----------
    *args, **kwargs
        As for :class:`folium.Map`; ``tiles`` defaults to ``None`` (no network)
        and ``max_zoom`` to 18, set on the map itself (not only on the tiles).
    title : str, optional
        The page title (escaped).
    """

    # folium declares these as (mutable) class attributes; they are never mutated here.
    default_js = [("leaflet", LEAFLET_JS_URL)]  # noqa: RUF012
    default_css = [("leaflet_css", LEAFLET_CSS_URL)]  # noqa: RUF012

    def __init__(self, *args: Any, title: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("tiles", None)
        kwargs.setdefault("max_zoom", _MAX_ZOOM)
        super().__init__(*args, **kwargs)
        # folium gives min/max zoom to its tile layer only; the clustering
        # needs the map's maxZoom when there is no tile layer.
        self.options["max_zoom"] = kwargs["max_zoom"]
        if kwargs.get("min_zoom") is not None:
            self.options["min_zoom"] = kwargs["min_zoom"]
        figure = OfflineFigure(title=escape_html(title) if title else None)
        figure.add_child(self)


class _RawHtml(Element):
    """An element whose text is written as is: never compiled as a Jinja template."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self._html = html

    def render(self, **kwargs: Any) -> str:
        return self._html


class OpportunityLayer(JSCSSMixin):
    """The opportunity map's data and client-side renderer, as a folium element.

    It adds to the page, as raw text (never through Jinja): the application's
    style sheet and script, the JSON payload in a ``<script
    type="application/json">`` element (escaped with
    :func:`~opportunity_map._html.json_for_script`), and one call that builds
    the layers when the page loads.

    Parameters
    ----------
    data : dict
        The payload, from :func:`build_map_data` or :func:`build_index_data`.
    kind : {"territory", "index"}
        Which page to build.
    cluster : bool
        Group nearby organisations into clusters at start (the reader can
        switch it off in the page).
    tile_layer : folium.TileLayer, optional
        The background layer, offered in the layer control.
    """

    _template = Template("")

    def __init__(self, data: Mapping[str, Any], *,
                 kind: Literal["territory", "index"] = "territory", cluster: bool = True,
                 tile_layer: folium.TileLayer | None = None) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        if kind not in ("territory", "index"):
            msg = f"kind must be 'territory' or 'index', got {kind!r}"
            raise ValueError(msg)
        self._name = "OpportunityLayer"
        self.data = data
        self.kind = kind
        self.cluster = bool(cluster)
        self.tile_layer = tile_layer

    def render(self, **kwargs: Any) -> None:  # type: ignore[override]
        """Add the payload, the assets and the start-up call to the page."""
        figure = self.get_root()
        parent = self._parent
        if not isinstance(figure, OfflineFigure) or not isinstance(parent, folium.Map):
            msg = "OpportunityLayer must be added directly to an OfflineMap"
            raise TypeError(msg)
        super().render(**kwargs)  # type: ignore[no-untyped-call]
        data_id = f"{self.get_name()}_data"
        parts = templates().get_template("map_layer.html.j2").module
        # the package's own files and JSON already escaped for a <script> element
        figure.header.add_child(
            _RawHtml(parts.assets(Markup(static_text("map.css")),  # type: ignore[attr-defined]
                                  Markup(static_text("map.js")))),
            name="opportunity_map_assets",
        )
        figure.html.add_child(
            _RawHtml(parts.data(data_id,  # type: ignore[attr-defined]
                                Markup(json_for_script(self.data)))),
            name=data_id,
        )
        tile = self.tile_layer.get_name() if self.tile_layer is not None else "null"
        figure.script.add_child(
            _RawHtml(parts.start(  # type: ignore[attr-defined]
                Markup(json_for_script(self.kind)), Markup(parent.get_name()),
                Markup(json_for_script(data_id)), Markup(json_for_script(self.cluster)),
                Markup(tile))),
            name=self.get_name(),
        )


# --------------------------------------------------------------------------- helpers


def _text(value: object) -> str:
    """A cell as display text: empty for None/NaN/NaT, integers without ``.0``."""
    if value is None or value is pd.NaT:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        if value.is_integer():
            return str(int(value))
    if isinstance(value, pd.Timestamp | np.datetime64):
        return format_date(pd.Timestamp(value))
    try:
        if pd.isna(value):
            return ""
    except (TypeError, ValueError):
        pass
    return str(value).strip()


def _check_territory(m: OpportunityMap, territory: str) -> str:
    """The slug of a territory of the map (slug or name) that can also name a file."""
    if territory is None:
        msg = ("territory=None: a map is drawn for one territory, "
               f"expected one of {m.territory_slugs}")
        raise UsageError(msg, param="territory")
    slug = m.resolve_territory(territory)
    if not _SLUG.fullmatch(slug) or slug == "index":
        msg = (f"territory={slug!r} cannot name a file: a slug is lower-case letters, "
               "digits, '-' and '_' (and not 'index')")
        raise UsageError(msg, param="territory")
    return slug


def _check_tiles(tiles: object) -> None:
    if tiles not in (None, "osm"):
        msg = f"tiles must be None (offline) or 'osm', got {tiles!r}"
        raise UsageError(msg, param="tiles")


def _round_geometry(geom: Any, *, simplify: float = 0.0) -> dict[str, Any] | None:
    if geom is None or geom.is_empty:
        return None
    if simplify:
        geom = shapely.simplify(geom, simplify, preserve_topology=True)
    geom = shapely.transform(geom, lambda xy: np.round(xy, _COORD_DIGITS))
    return dict(shapely.geometry.mapping(geom))


def _feature_collection(features: Iterable[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": list(features)}


def _label_point(geom: Any) -> list[float] | None:
    if geom is None or geom.is_empty:
        return None
    p = geom.representative_point()
    return [round(p.y, _COORD_DIGITS), round(p.x, _COORD_DIGITS)]


@functools.lru_cache(maxsize=32)
def _comuni_features(province_code: int) -> dict[str, Any]:
    """Outlines of the comuni of a province, simplified, as GeoJSON (cached)."""
    codes = geography.comuni().index[geography.comuni()["province_code"] == province_code]
    if len(codes) == 0:
        return _feature_collection([])
    gdf = geography.comuni_geometry(codes)
    feats = []
    for code, name, geom in zip(gdf.index, gdf["name"], gdf.geometry, strict=True):
        geometry = _round_geometry(geom, simplify=_SIMPLIFY)
        if geometry is not None:
            feats.append({"type": "Feature", "properties": {"name": str(name), "code": int(code)},
                          "geometry": geometry})
    return _feature_collection(feats)


class _StringTable:
    """Repeated strings of the payload, each stored once: ``add`` gives its index.

    Index 0 is always the empty string (a missing value).
    """

    def __init__(self) -> None:
        self.values: list[str] = [""]
        self._index: dict[str, int] = {"": 0}

    def add(self, value: str) -> int:
        index = self._index.get(value)
        if index is None:
            index = self._index[value] = len(self.values)
            self.values.append(value)
        return index


def _day_numbers(values: np.ndarray) -> list[int | None]:
    """Dates as days since 1970-01-01 (``None`` for NaT)."""
    days = np.asarray(values).astype("datetime64[ns]").astype("datetime64[D]")
    nat = np.isnat(days)
    numbers = days.astype(np.int64)
    return [None if missing else int(d) for d, missing in zip(numbers.tolist(), nat.tolist(),
                                                              strict=True)]


def _vocabulary(known: Sequence[str], present: Iterable[object]
                ) -> tuple[list[str], dict[str, int]]:
    """Codes in vocabulary order, then unknown codes found in the data (sorted)."""
    codes = list(known)
    extra = sorted({_text(v) for v in present} - set(codes) - {""})
    codes += extra
    return codes, {c: i for i, c in enumerate(codes)}


def _actor_groups(actors: pd.DataFrame) -> pd.Series:
    """Groups for display: an actor of unknown group is drawn with the services ("altro")."""
    return actor_groups(actors).fillna(KIND_TO_GROUP["altro"])


# --------------------------------------------------------------------------- figures


@dataclass(frozen=True, eq=False)
class MapFigures:
    """Everything the pages show that is computed from the network, computed once.

    Build it with :func:`compute_figures` (or let :func:`save_maps` do it) and pass
    it to :func:`build_map_data`, :func:`build_index_data`, :func:`render_map`,
    :func:`render_index`: every page of a build then shows the same figures, and
    the cost of a page does not grow with the size of the rest of the map.

    Attributes
    ----------
    network : Network
        The network at the date the maps show.
    baseline_network : Network or None
        The network at the baseline, when there is one.
    stats : pandas.DataFrame
        :func:`~opportunity_map.metrics.network_table` of ``network``, indexed by
        territory slug (and ``lombardia``).
    evaluation : Evaluation or None
        The change against the baseline (with or without bootstrap interval).
    target : float
        The target as a fraction (0.30 = +30%): ``evaluation.target`` when there is
        an evaluation.
    timeline : tuple of Network
        The networks at the dates a map can show (its date selector), sorted;
        ``network`` is one of them. Empty means ``(network,)``.
    previous : pandas.Timestamp or None
        The previous Tavolo's date, when given (one of the timeline's dates): the
        map's changes layer compares the map's date with it, and is on at start.
    coverage : Coverage or None
        :func:`~opportunity_map.finder.coverage` at the maps' date for every
        territory of the map (the "Copertura" layer of each page), computed once
        per build; ``None`` makes :func:`build_map_data` compute one territory's.
    """

    network: Network
    baseline_network: Network | None
    stats: pd.DataFrame
    evaluation: Evaluation | None
    target: float
    timeline: tuple[Network, ...] = ()
    previous: pd.Timestamp | None = None
    coverage: Coverage | None = None

    @property
    def as_of(self) -> pd.Timestamp:
        """The date the maps show."""
        return self.network.as_of

    @property
    def baseline(self) -> pd.Timestamp | None:
        """The baseline date, if any."""
        return None if self.baseline_network is None else self.baseline_network.as_of

    def evaluation_row(self, territory: str) -> dict[str, Any] | None:
        """The evaluation table's row of a territory, ``None`` without evaluation or row."""
        if self.evaluation is None:
            return None
        table = self.evaluation.table
        rows = table[table["territory"] == territory]
        return None if rows.empty else dict(rows.iloc[0].to_dict())


def compute_figures(m: OpportunityMap, *, as_of: object = None, baseline: object = None,
                    evaluation: Evaluation | None = None,
                    target: float | None = None, dates: Sequence[object] | None = None,
                    previous: object = None, gaps: Coverage | None = None) -> MapFigures:
    """Compute once the figures every page of a build shows.

    Parameters
    ----------
    m : OpportunityMap
        The map.
    as_of : date-like, optional
        The date of the maps; ``None`` is today, or ``evaluation.as_of``.
    baseline : date-like, optional
        The baseline; ``None`` for none, or ``evaluation.baseline``.
    evaluation : Evaluation, optional
        An evaluation already computed (its dates and target are used). Without one
        and with a baseline, a point estimate (no bootstrap) is computed once here.
    target : float, optional
        The target as a fraction (0.30 = +30%, the default); with an evaluation it
        must be its target.
    dates : sequence of date-like, optional
        The dates the maps' date selector offers (each at most ``as_of``), e.g.
        :func:`~opportunity_map.changes.tavolo_dates` of ``as_of`` since the baseline
        (the semester ends, 30 June and 31 December; what ``tavolo`` passes).
        ``as_of`` is always one of them. Default: ``as_of`` only (and ``previous``),
        so that a build's payloads hold the network at its date and each network
        is computed once per build (``render``/``build``).
    previous : date-like, optional
        The previous Tavolo's date (before ``as_of``), added to the dates: the
        changes layer of the maps compares ``as_of`` with it and is on at start.
    gaps : Coverage, optional
        The coverage at ``as_of`` already computed (by the build, for the report);
        computed here for every territory otherwise.

    Returns
    -------
    MapFigures
        With :attr:`MapFigures.coverage`: the distances from every comune of every
        territory to the nearest active opportunity of each type at ``as_of``
        (one :func:`~opportunity_map.finder.coverage` for the whole build).

    Raises
    ------
    UsageError
        If dates or target contradict the evaluation, or the dates are out of order.
    """
    if evaluation is not None:
        for name, given, used in (("as_of", as_of, evaluation.as_of),
                                  ("baseline", baseline, evaluation.baseline)):
            if given is not None and to_timestamp(given, name=name) != used:
                msg = f"{name}={given!r} differs from the evaluation's {name} ({used.date()})"
                raise UsageError(msg, param=name)
        if target is not None and check_target(target) != evaluation.target:
            msg = f"target={target!r} differs from the evaluation's target ({evaluation.target})"
            raise UsageError(msg, param="target")
        as_of, baseline, target = evaluation.as_of, evaluation.baseline, evaluation.target
    target_value = check_target(0.30 if target is None else target)
    index = m.network_index()
    network = index.at(as_of)
    base_network = None
    if baseline is not None:
        base = to_timestamp(baseline, name="baseline")
        if base >= network.as_of:
            raise DateOrderError("baseline", base.date(), "as_of", network.as_of.date())
        base_network = index.at(base)
        if evaluation is None:
            evaluation = evaluate(index, baseline=base, as_of=network.as_of, n_boot=0,
                                  target=target_value)
    stats = network_table(network).set_index("territory")
    at = network.as_of
    wanted = [] if dates is None else [to_timestamp(d, name="dates") for d in dates]
    before = None
    if previous is not None:
        before = to_timestamp(previous, name="previous")
        if before >= at:
            raise DateOrderError("previous", before.date(), "as_of", at.date())
        wanted.append(before)
    later = [d for d in wanted if d > at]
    if later:
        msg = f"dates: {later[0].date()} is after as_of ({at.date()})"
        raise UsageError(msg, param="dates")
    chosen = sorted({*wanted, at})
    if len(chosen) > _MAX_DATES:
        msg = f"dates: at most {_MAX_DATES} dates on a map, got {len(chosen)}"
        raise UsageError(msg, param="dates")
    timeline = tuple(network if d == at else index.at(d) for d in chosen)
    return MapFigures(network=network, baseline_network=base_network, stats=stats,
                      evaluation=evaluation, target=target_value, timeline=timeline,
                      previous=before,
                      coverage=coverage(m, as_of=at) if gaps is None else _same_date(gaps, at))


def _same_date(gaps: Coverage, at: pd.Timestamp) -> Coverage:
    if gaps.as_of != at:
        msg = f"gaps: coverage at {gaps.as_of.date()}, the maps are at {at.date()}"
        raise UsageError(msg, param="gaps")
    return gaps


def _target_text(target: float) -> str:
    return format_pct(100 * target).replace(",0%", "%")


def _summary(title: str, figures: MapFigures, territory: str, rows: list[dict[str, Any]],
             total: dict[str, int], *, n_new: int, n_missing: int) -> dict[str, Any]:
    stats = figures.stats.loc[territory]
    lines = [f"Situazione al {format_date(figures.as_of)}."]
    if figures.baseline is not None:
        lines.append(f"Confronto con la baseline del {format_date(figures.baseline)}.")
    figs: list[list[str]] = [
        ["Densità della rete", format_number(float(stats["density"]), 4)],
        ["Grado medio", format_number(float(stats["avg_degree"]), 2)],
    ]
    notes = [TIE_DEFINITION, _DENSITY_NOTE,
             "Un legame tra organizzazioni di due gruppi è contato in entrambi."]
    ev = figures.evaluation_row(territory)
    if ev is not None:
        figs += [
            ["Densità alla baseline", format_number(float(ev["density_full_baseline"]), 4)],
            ["Variazione della densità (stesse organizzazioni)",
             f"{format_pct(float(ev['change_pct']))} "
             f"(obiettivo {_target_text(figures.target)})"],
            ["Organizzazioni stabili / entrate / uscite",
             f"{int(ev['n_panel'])} / +{int(ev['n_entrants'])} / −{int(ev['n_exits'])}"],
            ["Legami nuovi dalla baseline", str(n_new)],
        ]
        if ev.get("verdict") == "not_evaluable" and _text(ev.get("note")):
            notes.append(_text(ev.get("note")))
    cross = int(stats["n_cross_territory_ties"])
    if cross:
        notes.append("1 legame con un'organizzazione di un altro territorio non è mostrato."
                     if cross == 1 else
                     f"{cross} legami con organizzazioni di altri territori non sono mostrati.")
    if n_missing:
        notes.append("1 organizzazione senza posizione non è disegnata (è contata nelle cifre)."
                     if n_missing == 1 else
                     f"{n_missing} organizzazioni senza posizione non sono disegnate "
                     "(sono contate nelle cifre).")
    return {"title": title, "lines": lines, "rows": rows, "total": total, "figures": figs,
            "notes": notes}


# --------------------------------------------------------------------------- payloads


def build_map_data(m: OpportunityMap, territory: str, *, as_of: object = None,
                   baseline: object = None, figures: MapFigures | None = None
                   ) -> dict[str, Any]:
    """The JSON payload of a territorial map (what the page's script draws).

    Parameters
    ----------
    m : OpportunityMap
        The map.
    territory : str
        A territory slug or name.
    as_of : date-like, optional
        The date of the map; ``None`` for today. Ignored when ``figures`` is given.
    baseline : date-like, optional
        Ties that did not exist at the baseline are highlighted and the density is
        compared with it; must be before ``as_of``. Ignored when ``figures`` is given.
    figures : MapFigures, optional
        Figures computed once for every page (:func:`compute_figures`).

    Returns
    -------
    dict
        Plain JSON-serialisable data, ``"version": 4``: ``title``, ``territory``,
        ``asOf``, ``baseline``, ``target``, vocabularies (``groups``,
        ``actorKinds``, ``relationKinds``, ``levels``, ``opportunityTypes``, each
        referred to by its position), ``boundaries`` (GeoJSON of province, ambiti,
        comuni), ``summary``, ``credits``, ``bounds``, and the organisations and
        ties as *column arrays* (one list per field, all of the same length):

        * ``strings``: the string table; ``strings[0]`` is ``""`` (missing).
          Fields marked *str* below hold indices into it.
        * ``coordScale``: 100000; positions are integers, degrees x ``coordScale``.
        * ``actors``: ``id`` and ``name`` (the strings themselves), ``lon``,
          ``lat`` (integers), ``group`` (index in ``groups``), ``kind`` (*str*,
          a key of ``actorKinds``), ``flags`` (bit 1: approximate position,
          geocoded to the comune), ``degree`` (distinct partners drawn),
          ``comune``, ``address``, ``phone``, ``notes``, ``website``, ``email``
          (*str*); ``links`` (bit 1: the website is a safe link, bit 2: the
          e-mail is), with ``linkOther`` = ``{"w": {row: str}, "e": {row: str}}``
          for the few links that are not the text itself (website) or
          ``"mailto:"`` + the text (e-mail). Only organisations with a position.
        * ``opportunities``: ``actor`` (row of ``actors``), ``type`` (index in
          ``opportunityTypes``), ``name``, ``capacity`` (0: not given),
          ``target``, ``notes`` (*str*).
        * ``ties`` (one per pair of organisations, both drawn): ``i``, ``j``
          (rows of ``actors``), ``kind`` (index in ``relationKinds``: the tie's
          kind in the network), ``level``, ``since`` (days since 1970-01-01 of
          the earliest start, ``None`` when unknown), ``new`` (1 when the pair was
          not tied at the baseline), ``notes`` (*str*), and ``multi``, only for
          ties gathering several relations: ``tie`` (row of ``ties``), ``kinds``
          (list of indices in ``relationKinds``) and ``relations`` (how many).
        * ``timeline`` (version 4): the dates the page can show (``figures.timeline``,
          those where the territory has organisations, and ``as_of`` and
          ``previous``). ``actors`` and ``ties`` then hold the union over the dates:
          every organisation active at one of them, every tie existing at one of them
          (described as at ``as_of``, or else at the latest date it exists; ``level``
          and ``degree`` are those at ``as_of``, 0 when absent then; ``new`` is 1 when
          the pair was not tied at the baseline). Keys: ``dates`` (ISO, sorted),
          ``current`` (index of ``as_of``), ``compare`` (index of the previous
          Tavolo, or ``None``), ``showChanges`` (the changes layer is on at start),
          ``actorsOn`` (per actor, bit k = active at ``dates[k]``), ``levelBits`` (3)
          and ``tieLevels`` (per tie, its level at ``dates[k]`` in bits
          ``levelBits * k`` and up, 0 = no tie), ``stats`` (per date ``actors``,
          ``ties``, ``density`` from :func:`~opportunity_map.metrics.network_stats`)
          and ``summaries`` (per date the summary panel's ``lines``, ``rows``,
          ``total``, ``figures``; ``None`` at ``as_of``, which is ``summary``).
        * ``opportunities`` are in opportunity-id order, so that the row order is
          the finder's tie-break (distance, then id).
        * ``comuni``: every comune of the territory's province, in
          :func:`~opportunity_map.geography.comune_key` order: ``code`` (ISTAT),
          ``name``, ``key`` (``comune_key``, so the page matches typed names as
          Python does), ``lon``, ``lat`` (the reference point of
          :func:`~opportunity_map.geography.comune_points`, integers x
          ``coordScale``) and ``province`` (sigla). Their polygons are those of
          ``boundaries["comuni"]``, whose features carry ``code``.
        * ``coverage`` (the "Copertura" layer): ``types`` (indices in
          ``opportunityTypes`` with an active opportunity anywhere in the map),
          ``km`` (per type, per comune of ``comuni``: the distance in km, 1
          decimal, to the nearest one, from ``figures.coverage``; ``None`` when
          there is none), ``thresholdKm``, ``classes`` (``max`` km inclusive or
          ``None``, ``color``, ``label``; see :data:`COVERAGE_CLASSES`), ``none``
          and ``notes``.
        * ``finder`` (the "Vicino a un comune" panel): ``note``
          (:data:`~opportunity_map.finder.STRAIGHT_LINE_NOTE`), ``scope`` and
          ``limit``.

    Raises
    ------
    UsageError
        If ``territory`` is unknown or not a valid file name, or the dates are
        out of order.
    """
    slug = _check_territory(m, territory)
    if figures is None:
        figures = compute_figures(m, as_of=as_of, baseline=baseline)
    net, base_net = figures.network, figures.baseline_network
    at, base = figures.as_of, figures.baseline
    terr = m.territories[m.territories["slug"] == slug].iloc[0]
    name = _text(terr.get("name")) or slug
    title = f"Mappa delle opportunità – {name}"

    # --- the dates of the timeline: those where the territory has organisations
    index = net.index
    scope = index.scope_mask(slug)
    nets = [n for n in (figures.timeline or (net,))
            if n.as_of in (at, figures.previous) or (scope & n.active_actors).any()]
    current = next(k for k, n in enumerate(nets) if n.as_of == at)

    # --- actors of the territory active at one of the dates (positions of the index)
    active_any = np.zeros(index.n_actors, dtype=bool)
    for n_k in nets:
        active_any |= n_k.active_actors
    positions = np.flatnonzero(scope & active_any)
    actors = m.actors.iloc[positions]
    ids = index.ids[positions]
    group_codes = _actor_groups(actors)
    on_bits = np.zeros(len(positions), dtype=np.int64)
    for k, n_k in enumerate(nets):
        on_bits |= n_k.active_actors[positions].astype(np.int64) << k
    now_active = net.active_actors[positions]
    geoms = actors.geometry
    has_xy = np.array(~geoms.isna() & ~geoms.is_empty, dtype=bool)
    xs = np.full(len(actors), np.nan)
    ys = np.full(len(actors), np.nan)
    if has_xy.any():
        has_xy[has_xy] = (geoms[has_xy].geom_type == "Point").to_numpy()
        xs[has_xy] = geoms[has_xy].x.to_numpy()
        ys[has_xy] = geoms[has_xy].y.to_numpy()
        has_xy &= np.isfinite(xs) & np.isfinite(ys)
    n_missing = int((~has_xy & now_active).sum())
    if n_missing:
        log.warning("%s: %d actors without a position are not drawn", slug, n_missing)
    shown = actors[has_xy]
    shown_ids = ids[has_xy].tolist()
    index_of = {a: i for i, a in enumerate(shown_ids)}
    local_of = np.full(index.n_actors, -1, dtype=np.int64)
    local_of[positions[has_xy]] = np.arange(len(shown_ids))

    groups, group_index = _vocabulary(GROUPS, group_codes)
    kinds_present = shown["kind"].map(_text) if "kind" in shown else pd.Series(dtype=str)

    # --- opportunities of the shown actors
    opps = m.opportunities
    if not opps.empty:
        opps = opps[opps["actor_id"].astype(str).str.strip().isin(index_of)]
        opps = opps[active_mask(opps, at)]
        # in id order: the finder's tie-break (distance, then id) is the row order
        opps = opps.iloc[np.argsort(opps["id"].map(_text).to_numpy(dtype=object),
                                    kind="stable")]
    types, type_index = _vocabulary(OPPORTUNITY_TYPES,
                                    opps["type"] if not opps.empty else [])
    strings = _StringTable()
    opp_cols: dict[str, list[int]] = {"actor": [], "type": [], "name": [], "capacity": [],
                                      "target": [], "notes": []}
    type_actors: dict[int, set[int]] = {}
    for row in opps.itertuples(index=False):
        i = index_of[_text(row.actor_id)]
        t = type_index[_text(row.type) or "altro"]
        opp_cols["actor"].append(i)
        opp_cols["type"].append(t)
        opp_cols["name"].append(strings.add(_text(getattr(row, "name", ""))))
        opp_cols["capacity"].append(strings.add(_text(getattr(row, "capacity", None))))
        opp_cols["target"].append(strings.add(_text(getattr(row, "target", ""))))
        opp_cols["notes"].append(strings.add(_text(getattr(row, "notes", ""))))
        type_actors.setdefault(t, set()).add(i)

    # --- ties of the territory at any of the dates (one per pair, keyed by the pair)
    n = max(index.n_actors, 1)
    subs = [n_k.territory(slug).ties for n_k in nets]
    keys_at = [n_k.u[t] * n + n_k.v[t] for n_k, t in zip(nets, subs, strict=True)]
    keys = np.unique(np.concatenate(keys_at)) if keys_at else np.zeros(0, dtype=np.int64)
    levels_at = np.zeros((len(nets), keys.size), dtype=np.int64)
    # each tie is described (kind, since, notes) as it is at the map's date, or else
    # at the latest date it exists
    source = np.full(keys.size, -1, dtype=np.int64)
    tie_in = np.zeros(keys.size, dtype=np.int64)  # the tie's position in its source network
    for k in [current, *range(len(nets) - 1, -1, -1)]:
        pos = np.searchsorted(keys, keys_at[k])
        levels_at[k, pos] = nets[k].level[subs[k]]
        take = source[pos] < 0
        source[pos[take]] = k
        tie_in[pos[take]] = subs[k][take]
    new = np.zeros(keys.size, dtype=bool)
    if base_net is not None:
        # a tie of the territory is new when its pair was not tied, inside it, at the baseline
        base_ties = base_net.territory(slug).ties
        new = ~np.isin(keys, base_net.u[base_ties] * n + base_net.v[base_ties])
    i_end, j_end = local_of[keys // n], local_of[keys % n]
    drawn = np.flatnonzero((i_end >= 0) & (j_end >= 0))
    rel_kinds, _ = _vocabulary(RELATION_KINDS, index.kinds)
    kind_code = np.array([rel_kinds.index(k) for k in index.kinds], dtype=np.int64)
    n_drawn = drawn.size
    t_kind = np.zeros(n_drawn, dtype=np.int64)
    t_rel = np.zeros(n_drawn, dtype=np.int64)
    t_since: list[int | None] = [None] * n_drawn
    t_notes = [0] * n_drawn
    t_kinds: dict[int, list[int]] = {}
    for k, n_k in enumerate(nets):
        rows = np.flatnonzero(source[drawn] == k)
        if not rows.size:
            continue
        ties_k = tie_in[drawn[rows]]
        t_kind[rows] = kind_code[np.asarray(n_k.kind[ties_k], dtype=np.int64)]
        t_rel[rows] = n_k.n_relations[ties_k]
        notes_of = _tie_notes(m, n_k, ties_k)
        for row, tie, day in zip(rows.tolist(), ties_k.tolist(), _day_numbers(n_k.since[ties_k]),
                                 strict=True):
            t_since[row] = day
            t_notes[row] = strings.add(notes_of.get(tie, ""))
        several = t_rel[rows] > 1
        if several.any():
            for row, kinds in zip(rows[several].tolist(),
                                  n_k.kinds_of(ties_k[several]),
                                  strict=True):
                t_kinds[row] = [rel_kinds.index(c) for c in kinds]
    multi: dict[str, list[Any]] = {"tie": [], "kinds": [], "relations": []}
    for row in sorted(t_kinds):
        multi["tie"].append(row)
        multi["kinds"].append(t_kinds[row])
        multi["relations"].append(int(t_rel[row]))
    drawn_levels = levels_at[:, drawn]
    packed = np.zeros(n_drawn, dtype=np.int64)
    for k in range(len(nets)):
        packed += drawn_levels[k] << (_LEVEL_BITS * k)
    tie_cols: dict[str, Any] = {
        "i": i_end[drawn].tolist(),
        "j": j_end[drawn].tolist(),
        "kind": t_kind.tolist(),
        "level": drawn_levels[current].tolist(),
        "since": t_since,
        "new": new[drawn].astype(np.int64).tolist(),
        "notes": t_notes,
        "multi": multi,
    }
    now_drawn = drawn_levels[current] > 0
    degree = np.bincount(np.concatenate([i_end[drawn][now_drawn], j_end[drawn][now_drawn]]),
                         minlength=len(shown_ids))

    # --- actor columns
    n_shown = len(shown_ids)

    def column(name: str) -> list[str]:
        if name not in shown.columns:
            return [""] * n_shown
        return [_text(v) for v in shown[name].tolist()]

    websites, emails = column("website"), column("email")
    sx, sy = xs[has_xy], ys[has_xy]
    actor_cols: dict[str, Any] = {
        "id": shown_ids,
        "name": column("name"),
        "lon": np.rint(sx * _COORD_SCALE).astype(np.int64).tolist(),
        "lat": np.rint(sy * _COORD_SCALE).astype(np.int64).tolist(),
        "group": [group_index[g] for g in group_codes[has_xy]],
        "kind": [strings.add(k) for k in column("kind")],
        "flags": [_APPROX if g.lower() == "comune" else 0 for g in column("geocoded")],
        "degree": degree.astype(np.int64).tolist(),
        "comune": [strings.add(v) for v in column("comune")],
        "address": [strings.add(v) for v in column("address")],
        "phone": [strings.add(v) for v in column("phone")],
        "notes": [strings.add(v) for v in column("notes")],
        "website": [strings.add(v) for v in websites],
        "email": [strings.add(v) for v in emails],
        **_link_columns(websites, emails, strings),
    }

    # --- boundaries
    province_geom = terr.geometry
    boundaries: dict[str, Any] = {
        "province": _feature_collection(
            [{"type": "Feature", "properties": {"name": name},
              "geometry": g} for g in [_round_geometry(province_geom, simplify=_SIMPLIFY)]
             if g is not None]),
        "comuni": _comuni_features(int(terr["province_code"])),
        "ambiti": _feature_collection([]),
    }
    ambiti = m.ambiti
    if len(ambiti) and "territory" in ambiti:
        feats = []
        for a_row in ambiti[ambiti["territory"] == slug].itertuples(index=False):
            geometry = _round_geometry(a_row.geometry, simplify=_SIMPLIFY)
            if geometry is not None:
                feats.append({"type": "Feature",
                              "properties": {"name": _text(getattr(a_row, "name", "")),
                                             "label": _label_point(a_row.geometry)},
                              "geometry": geometry})
        boundaries["ambiti"] = _feature_collection(feats)
    minx, miny, maxx, maxy = (province_geom.bounds if province_geom is not None
                              and not province_geom.is_empty else (6.6, 36.6, 18.5, 47.1))

    # --- summary: every count from the same ties
    group_names = np.array([*GROUPS, KIND_TO_GROUP["altro"]], dtype=object)

    def group_rows(k: int) -> tuple[list[dict[str, Any]], dict[str, int]]:
        """Organisations and ties by group at the k-th date (a tie counts in both groups)."""
        n_k, ties_k = nets[k], subs[k]
        ga, gb = group_names[index.group[n_k.u[ties_k]]], group_names[index.group[n_k.v[ties_k]]]
        active_k = n_k.active_actors[positions]
        by_group = pd.Series(group_codes[active_k].to_numpy(), dtype=object).value_counts()
        rows = []
        for g in groups:
            n_ties = int(((ga == g) | (gb == g)).sum())
            if by_group.get(g, 0) or n_ties:
                rows.append({"group": group_index[g], "label": GROUP_LABELS.get(g, g),
                             "actors": int(by_group.get(g, 0)), "ties": n_ties})
        return rows, {"actors": int(active_k.sum()), "ties": int(ties_k.size)}

    comuni_section, coverage_section = _comuni_sections(m, slug, figures, type_index)
    summary_rows, total = group_rows(current)
    summary = _summary(title, figures, slug, summary_rows, total,
                       n_new=int((new & (levels_at[current] > 0)).sum()), n_missing=n_missing)
    timeline = _timeline(nets, current, slug, figures, group_rows, on_bits[has_xy],
                         packed, n_missing=n_missing)

    return {
        "version": 4,
        "title": title,
        "territory": {"slug": slug, "name": name},
        "asOf": at.date().isoformat(),
        "baseline": base.date().isoformat() if base is not None else None,
        "target": figures.target,
        "groups": [{"code": g, "label": GROUP_LABELS.get(g, g),
                    "color": GROUP_STYLES.get(g, _OTHER_GROUP).color,
                    "shape": GROUP_STYLES.get(g, _OTHER_GROUP).shape} for g in groups],
        "actorKinds": {k: ACTOR_KIND_LABELS.get(k, k)
                       for k in [*ACTOR_KIND_LABELS, *sorted(set(kinds_present))] if k},
        "relationKinds": [{"code": k, "label": RELATION_KIND_LABELS.get(k, k),
                           "color": RELATION_COLORS.get(k, _OTHER_RELATION_COLOR)}
                          for k in rel_kinds],
        "levels": [{"value": lv, "label": LEVEL_LABELS[lv], "weight": LEVEL_WEIGHTS[lv]}
                   for lv in LEVELS],
        "opportunityTypes": [{"code": t, "label": OPPORTUNITY_TYPE_LABELS.get(t, t),
                              "count": len(type_actors.get(i, ()))}
                             for i, t in enumerate(types)],
        "coordScale": _COORD_SCALE,
        "strings": strings.values,
        "actors": actor_cols,
        "opportunities": opp_cols,
        "ties": tie_cols,
        "boundaries": boundaries,
        "summary": summary,
        "timeline": timeline,
        "comuni": comuni_section,
        "coverage": coverage_section,
        "finder": {"note": STRAIGHT_LINE_NOTE, "scope": _FINDER_SCOPE, "limit": _FINDER_LIMIT},
        "credits": [geography.BOUNDARIES_CREDIT],
        "bounds": [[round(miny, 4), round(minx, 4)], [round(maxy, 4), round(maxx, 4)]],
    }


#: How many opportunities the "Vicino a un comune" panel lists (as ``trova``'s default).
_FINDER_LIMIT = 20
_FINDER_SCOPE = ("La mappa elenca le opportunità delle organizzazioni di questo territorio; "
                 "il comando «opportunity-map trova» le cerca in tutti i territori.")
#: Classes of the "Copertura" layer: (upper bound in km, inclusive; colour; label).
#: Five steps of viridis (colour-blind safe, readable in grey), light = near.
COVERAGE_CLASSES: tuple[tuple[float, str, str], ...] = (
    (5.0, "#fde725", "fino a 5 km"),
    (10.0, "#5ec962", "da 5 a 10 km"),
    (15.0, "#21918c", "da 10 a 15 km"),
    (25.0, "#3b528b", "da 15 a 25 km"),
    (math.inf, "#440154", "oltre 25 km"),
)
#: A comune with no active opportunity of the type: grey, hatched in the page.
COVERAGE_NONE = ("#bdbdbd", "nessuna opportunità del tipo")


def coverage_class(km: float | None) -> int:
    """The class of a distance in the "Copertura" layer: a row of :data:`COVERAGE_CLASSES`.

    Parameters
    ----------
    km : float or None
        The distance as the page has it (rounded to 0.1 km); ``None`` or NaN
        when there is no opportunity of the type.

    Returns
    -------
    int
        0-4, or -1 for "nessuna".

    Examples
    --------
    >>> coverage_class(5.0), coverage_class(15.1), coverage_class(None)
    (0, 3, -1)
    """
    if km is None or not math.isfinite(km):
        return -1
    return next(k for k, (upper, _, _) in enumerate(COVERAGE_CLASSES) if km <= upper)


def _comuni_sections(m: OpportunityMap, slug: str, figures: MapFigures,
                     type_index: Mapping[str, int]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ``comuni`` and ``coverage`` sections of a map's payload (see :func:`build_map_data`)."""
    cov = figures.coverage
    if cov is None or slug not in set(cov.comuni["territory"]):
        cov = coverage(m, as_of=figures.as_of, territories=[slug])
    rows = cov.comuni[cov.comuni["territory"] == slug]
    codes = rows["comune_code"].to_numpy(dtype=np.int64)
    info = geography.comuni()
    points = (geography.comune_points(codes) if len(codes)
              else pd.DataFrame({"lon": [], "lat": []}))
    lon = points["lon"].reindex(codes).to_numpy(float)
    lat = points["lat"].reindex(codes).to_numpy(float)
    province = m.territories.loc[m.territories["slug"] == slug, "province_code"]
    prov_code = int(province.iloc[0]) if len(province) else 0
    shorts = info.loc[info["province_code"] == prov_code, "province_short"]
    comuni = {
        "code": codes.tolist(),
        "name": [str(n) for n in rows["comune"]],
        "key": [geography.comune_key(str(n)) for n in rows["comune"]],
        "lon": np.rint(lon * _COORD_SCALE).astype(np.int64).tolist(),
        "lat": np.rint(lat * _COORD_SCALE).astype(np.int64).tolist(),
        "province": str(shorts.iloc[0]) if len(shorts) else "",
    }
    kinds, km_lists = [], []
    for code in cov.types:
        km = rows[f"km_{code}"].to_numpy(dtype=float)
        if code not in type_index or np.isnan(km).all():
            continue  # no active opportunity of the type anywhere in the map
        kinds.append(type_index[code])
        km_lists.append([None if math.isnan(v) else round(float(v), 1) for v in km])
    threshold = cov.threshold_km
    section = {
        "types": kinds,
        "km": km_lists,
        "thresholdKm": threshold,
        "classes": [{"max": None if math.isinf(upper) else upper, "color": color,
                     "label": label} for upper, color, label in COVERAGE_CLASSES],
        "none": {"color": COVERAGE_NONE[0], "label": COVERAGE_NONE[1]},
        "notes": [f"Soglia: {str(threshold).removesuffix('.0').replace('.', ',')} km: "
                  "i comuni più lontani "
                  "dall'opportunità più vicina del tipo sono scoperti.",
                  "La distanza è misurata fino all'opportunità attiva più vicina, "
                  "anche in un altro territorio della mappa.", STRAIGHT_LINE_NOTE],
    }
    return comuni, section


def _timeline(nets: Sequence[Network], current: int, slug: str, figures: MapFigures,
              group_rows: Any, on_bits: np.ndarray, packed: np.ndarray, *,
              n_missing: int) -> dict[str, Any]:
    """The ``timeline`` section of a map's payload (see :func:`build_map_data`)."""
    base = figures.baseline
    at = figures.as_of
    stats = []
    summaries: list[dict[str, Any] | None] = []
    for k, n_k in enumerate(nets):
        st = network_stats(n_k, territory=slug)
        density = float(st["density"])
        stats.append({"actors": int(st["n_actors"]), "ties": int(st["n_ties"]),
                      "density": round(density, 6) if math.isfinite(density) else None})
        if k == current:
            summaries.append(None)  # the page's ``summary``
            continue
        rows, total = group_rows(k)
        lines = [f"Situazione al {format_date(n_k.as_of)}."]
        if base is not None:
            lines.append(f"Il confronto con la baseline del {format_date(base)} è calcolato "
                         f"alla data della mappa ({format_date(at)}).")
        figs = [["Densità della rete", format_number(density, 4)],
                ["Grado medio", format_number(float(st["avg_degree"]), 2)]]
        if n_missing:
            lines.append("1 organizzazione senza posizione non è disegnata." if n_missing == 1
                         else f"{n_missing} organizzazioni senza posizione non sono disegnate.")
        summaries.append({"lines": lines, "rows": rows, "total": total, "figures": figs})
    dates = [n_k.as_of for n_k in nets]
    compare = (dates.index(figures.previous)
               if figures.previous is not None and figures.previous in dates else None)
    return {
        "dates": [d.date().isoformat() for d in dates],
        "current": current,
        "compare": compare,
        "showChanges": compare is not None,
        "levelBits": _LEVEL_BITS,
        "actorsOn": on_bits.tolist(),
        "tieLevels": packed.tolist(),
        "stats": stats,
        "summaries": summaries,
    }


def _link_columns(websites: Sequence[str], emails: Sequence[str],
                  strings: Any) -> dict[str, Any]:
    """Which websites and e-mails are safe links, as flags (the link is usually the text).

    Links are checked here (:func:`~opportunity_map._html.safe_href`,
    :func:`~opportunity_map._html.safe_mailto`); the page never makes a link of a
    text Python did not approve.
    """
    flags = [0] * len(websites)
    other: dict[str, dict[int, int]] = {"w": {}, "e": {}}
    for i, (web, email) in enumerate(zip(websites, emails, strict=True)):
        if web and (href := safe_href(web)) is not None:
            flags[i] |= 1
            if href != web:
                other["w"][i] = strings.add(href)
        if email and (mailto := safe_mailto(email)) is not None:
            flags[i] |= 2
            if mailto != f"mailto:{email}":
                other["e"][i] = strings.add(mailto)
    return {"links": flags, "linkOther": other}


def _tie_notes(m: OpportunityMap, net: Network, ties: np.ndarray) -> dict[int, str]:
    """The distinct notes of the relations of each tie, joined with " · "."""
    if "notes" not in m.relations or ties.size == 0:
        return {}
    by_tie = net.relations_of(ties)
    rows = np.concatenate(list(by_tie.values()))
    notes = dict(zip(rows.tolist(), m.relations["notes"].iloc[rows].map(_text), strict=True))
    out: dict[int, str] = {}
    for tie, tie_rows in by_tie.items():
        texts = list(dict.fromkeys(t for r in tie_rows.tolist() if (t := notes[r])))
        if texts:
            out[tie] = " · ".join(texts)
    return out


_DENSITY_CLASSES: tuple[tuple[float, str, str], ...] = (
    (-math.inf, "#eff3ff", "meno di 0,02"),
    (0.02, "#bdd7e7", "da 0,02 a 0,05"),
    (0.05, "#6baed6", "da 0,05 a 0,10"),
    (0.10, "#2171b5", "0,10 o più"),
)
_NO_DATA = ("#cccccc", "dato non disponibile")


#: Index colours by verdict (Okabe-Ito, colour-blind safe) and the mark shown with them,
#: so that the verdict is never told by colour alone.
_VERDICT_STYLES: dict[str, tuple[str, str]] = {
    "met": ("#009e73", "\u2713"),
    "not_met": ("#d55e00", "\u2717"),
    "inconclusive": ("#56b4e9", "?"),
    "not_evaluable": ("#bbbbbb", "\u2013"),
}


def _classify(value: float, classes: tuple[tuple[float, str, str], ...]) -> str:
    if value is None or not math.isfinite(value):
        return _NO_DATA[0]
    color = classes[0][1]
    for lower, c, _ in classes:
        if value >= lower:
            color = c
    return color


def build_index_data(m: OpportunityMap, *, as_of: object = None, baseline: object = None,
                     links: Mapping[str, str] | None = None,
                     figures: MapFigures | None = None) -> dict[str, Any]:
    """The JSON payload of the index page: every territory of the map with its figures.

    Parameters
    ----------
    m : OpportunityMap
        The map; the index shows its territories (those holding organisations).
    as_of : date-like, optional
        The date; ``None`` for today. Ignored when ``figures`` is given.
    baseline : date-like, optional
        When given, territories are coloured by the change of density (same
        organisations at both dates) against the target; otherwise by density.
        Ignored when ``figures`` is given.
    links : mapping of str to str, optional
        Territory slug to the file name of its map (``"bergamo.html"``); default
        every territory to ``<slug>.html``. Territories without a link are shown
        without one.
    figures : MapFigures, optional
        Figures computed once for every page (:func:`compute_figures`).

    Returns
    -------
    dict
    """
    if figures is None:
        figures = compute_figures(m, as_of=as_of, baseline=baseline)
    at, base = figures.as_of, figures.baseline
    if links is None:
        links = {slug: f"{slug}.html" for slug in m.territory_slugs if _SLUG.fullmatch(slug)}
    stats = figures.stats
    features = []
    for row in m.territories.itertuples(index=False):
        slug = str(row.slug)
        st = stats.loc[slug] if slug in stats.index else pd.Series(dtype=object)
        density = float(st.get("density", math.nan))
        cells = [str(int(st.get("n_actors", 0))), str(int(st.get("n_ties", 0))),
                 format_number(density, 4)]
        figs = [["Organizzazioni", cells[0]], ["Legami", cells[1]], ["Densità", cells[2]]]
        ev = figures.evaluation_row(slug)
        if ev is not None:
            change = float(ev.get("change_pct", math.nan))
            verdict = str(ev.get("verdict") or "not_evaluable")
            if verdict not in _VERDICT_STYLES:
                verdict = "not_evaluable"
            fill, mark = _VERDICT_STYLES[verdict]
            label = VERDICT_LABELS[verdict]
            low = float(ev.get("ci_low_pct", math.nan))
            high = float(ev.get("ci_high_pct", math.nan))
            interval = (f"da {format_pct(low)} a {format_pct(high)}"
                        if math.isfinite(low) and math.isfinite(high) else "non disponibile")
            headline = f"Variazione densità: {format_pct(change)} · esito: {label}"
            short = f"{format_pct(change)} {mark}"
            cells += [format_pct(change), f"{mark} {label}"]
            figs += [["Densità alla baseline",
                      format_number(float(ev["density_full_baseline"]), 4)],
                     ["Variazione (stesse organizzazioni)", format_pct(change)],
                     ["Intervallo di confidenza al 95%", interval],
                     [f"Esito (obiettivo {_target_text(figures.target)})", f"{mark} {label}"],
                     ["Entrate / uscite", f"+{int(ev['n_entrants'])} / −{int(ev['n_exits'])}"]]
            if ev.get("verdict") == "not_evaluable" and _text(ev.get("note")):
                figs.append(["Nota", _text(ev.get("note"))])
        else:
            fill = _classify(density, _DENSITY_CLASSES)
            headline = f"Densità: {format_number(density, 4)}"
            short = format_number(density, 3)
        href = links.get(slug)
        if href is not None and not re.fullmatch(r"[a-z0-9][a-z0-9_-]*\.html", href):
            msg = f"links[{slug!r}]={href!r} must be a file name like 'bergamo.html'"
            raise UsageError(msg, param="links")
        geometry = _round_geometry(row.geometry, simplify=0.001)
        features.append({"type": "Feature", "geometry": geometry, "properties": {
            "slug": slug, "name": _text(row.name) or slug, "href": href, "fill": fill,
            "headline": headline, "short": short, "figures": figs, "cells": cells,
            "label": _label_point(row.geometry)}})
    columns = ["Territorio", "Organizzazioni", "Legami", "Densità"]
    lines = [f"Situazione al {format_date(at)}."]
    if base is not None:
        columns += ["Variazione", "Esito"]
        lines.append(f"Variazione della densità rispetto alla baseline del {format_date(base)} "
                     f"(obiettivo {_target_text(figures.target)}): il colore è l'esito "
                     "della valutazione (intervallo di confidenza al 95%), l'etichetta la "
                     "stima puntuale.")
        legend_title = f"Esito rispetto all'obiettivo {_target_text(figures.target)}"
        legend = [{"color": c, "label": f"{mark} {VERDICT_LABELS[v]}"}
                  for v, (c, mark) in _VERDICT_STYLES.items()]
    else:
        legend_title = "Densità della rete"
        legend = [{"color": c, "label": label} for _, c, label in _DENSITY_CLASSES]
    if base is None:
        legend.append({"color": _NO_DATA[0], "label": _NO_DATA[1]})
    minx, miny, maxx, maxy = m.territories.total_bounds if len(m.territories) else (
        8.5, 44.7, 11.4, 46.6)
    return {
        "version": 2,
        "title": f"Mappe delle opportunità – {_index_region(m)}",
        "asOf": at.date().isoformat(),
        "baseline": base.date().isoformat() if base is not None else None,
        "target": figures.target,
        "columns": columns,
        "lines": lines,
        "notes": [TIE_DEFINITION, _INDEX_NOTE if base is not None else _DENSITY_NOTE,
                  "Passando su un territorio se ne vedono nome ed esito; con un clic si apre "
                  "una scheda con cifre, esito, intervallo e il collegamento alla mappa "
                  "(i nomi nella tabella aprono direttamente la mappa)."],
        "legendTitle": legend_title,
        "legend": legend,
        "territories": _feature_collection(features),
        "credits": [geography.BOUNDARIES_CREDIT],
        "bounds": [[round(float(miny), 4), round(float(minx), 4)],
                   [round(float(maxy), 4), round(float(maxx), 4)]],
    }


def _index_region(m: OpportunityMap) -> str:
    """What the index covers: "Lombardia" when it holds every Lombard province, else names."""
    names = [_text(n) for n in m.territories["name"]] if "name" in m.territories else []
    lombardy = {int(c) for c in geography.project_territories()["province_code"]}
    codes = {int(c) for c in m.territories["province_code"]}
    if codes == lombardy:
        return "Lombardia"
    if len(names) <= 3:
        return " e ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)
    return f"{len(names)} territori"


# --------------------------------------------------------------------------- public API


def _new_map(bounds: list[list[float]], *, title: str, tiles: Tiles
             ) -> tuple[OfflineMap, folium.TileLayer | None]:
    (s, w), (n, e) = bounds
    fmap = OfflineMap(location=[(s + n) / 2, (w + e) / 2], zoom_start=9, tiles=None,
                      prefer_canvas=True, max_zoom=_MAX_ZOOM, min_zoom=7, control_scale=False,
                      zoom_snap=0.25, title=title)
    tile = None
    if tiles == "osm":
        tile = folium.TileLayer("OpenStreetMap", name="OpenStreetMap", max_zoom=_MAX_ZOOM)
        tile.add_to(fmap)
    return fmap, tile


def render_map(m: OpportunityMap, territory: str, *, as_of: object = None,
               baseline: object = None, evaluation: Evaluation | None = None,
               target: float | None = None, tiles: Tiles = None,
               figures: MapFigures | None = None) -> OfflineMap:
    """Interactive map of one territory, as a self-contained, offline folium map.

    Parameters
    ----------
    m : OpportunityMap
        The map.
    territory : str
        A territory slug or name, e.g. ``"bergamo"``.
    as_of : date-like, optional
        The date of the map: organisations, opportunities and ties active then.
        ``None`` for today (or the evaluation's date).
    baseline : date-like, optional
        Highlight ties that did not exist at this date and compare the density
        with it; must be before ``as_of``.
    evaluation : Evaluation, optional
        An evaluation already computed: its dates, target and figures are shown.
    target : float, optional
        The target as a fraction (default 0.30, +30%).
    tiles : {None, "osm"}
        ``"osm"`` adds OpenStreetMap as background (needs the network to show
        it); ``None`` (default) draws only boundaries and comuni, fully offline.
    figures : MapFigures, optional
        Figures computed once for several pages (:func:`compute_figures`); then
        ``as_of``, ``baseline``, ``evaluation`` and ``target`` are not used.

    Returns
    -------
    OfflineMap
        A ``folium.Map``: ``save(path)`` or ``get_root().render()`` give one
        HTML file with every asset inlined; in a notebook it displays itself.

    Raises
    ------
    UsageError
        If ``territory``, a date, the target or ``tiles`` is invalid.

    Examples
    --------
    >>> m = om.example_map()
    >>> fmap = om.render_map(m, "bergamo", as_of="2026-06-30")
    >>> html = fmap.get_root().render()
    >>> "Mappa delle opportunità – Bergamo" in html, "cdn." in html
    (True, False)
    """
    _check_tiles(tiles)
    started = time.perf_counter()
    if figures is None:
        figures = compute_figures(m, as_of=as_of, baseline=baseline, evaluation=evaluation,
                                  target=target)
    data = build_map_data(m, territory, figures=figures)
    fmap, tile = _new_map(data["bounds"], title=data["title"], tiles=tiles)
    OpportunityLayer(data, kind="territory", tile_layer=tile).add_to(fmap)
    log.debug("map of %s built in %.2f s: %d actors, %d ties", territory,
              time.perf_counter() - started, len(data["actors"]["id"]),
              len(data["ties"]["i"]))
    return fmap


def render_index(m: OpportunityMap, *, as_of: object = None, baseline: object = None,
                 evaluation: Evaluation | None = None, target: float | None = None,
                 tiles: Tiles = None, links: Mapping[str, str] | None = None,
                 figures: MapFigures | None = None) -> OfflineMap:
    """Overview of the map's territories, coloured by density change, linking to their maps.

    Parameters
    ----------
    m : OpportunityMap
        The map.
    as_of, baseline, evaluation, target, figures
        As for :func:`render_map`; with a baseline the colour is the change of
        density on the same organisations against the target, otherwise the
        density.
    tiles : {None, "osm"}
        Background tiles, as for :func:`render_map`.
    links : mapping of str to str, optional
        Slug to map file name; see :func:`build_index_data`.

    Returns
    -------
    OfflineMap
    """
    _check_tiles(tiles)
    if figures is None:
        figures = compute_figures(m, as_of=as_of, baseline=baseline, evaluation=evaluation,
                                  target=target)
    data = build_index_data(m, links=links, figures=figures)
    fmap, tile = _new_map(data["bounds"], title=data["title"], tiles=tiles)
    OpportunityLayer(data, kind="index", tile_layer=tile).add_to(fmap)
    return fmap


def save_maps(m: OpportunityMap, out_dir: str | Path, *, territories: Sequence[str] | None = None,
              as_of: object = None, baseline: object = None,
              evaluation: Evaluation | None = None, target: float | None = None,
              tiles: Tiles = None, figures: MapFigures | None = None) -> list[Path]:
    """Write one HTML map per territory and the index, each self-contained and offline.

    The figures (network, statistics, evaluation) are computed once and shared by
    every page.

    Parameters
    ----------
    m : OpportunityMap
        The map.
    out_dir : path-like
        Folder of the HTML files (created if missing).
    territories : sequence of str, optional
        Slugs or names to render; ``None`` for every territory of the map.
    as_of, baseline, evaluation, target, tiles, figures
        As for :func:`render_map`; one date is used for every file.

    Returns
    -------
    list of pathlib.Path
        ``<slug>.html`` for each territory, in order, then ``index.html``.

    Raises
    ------
    UsageError
        If a territory, a date, the target or ``tiles`` is invalid (checked before
        writing).

    Examples
    --------
    >>> import tempfile
    >>> m = om.example_map()
    >>> with tempfile.TemporaryDirectory() as out:
    ...     paths = om.save_maps(m, out, as_of="2027-12-31", baseline="2026-06-30")
    ...     [p.name for p in paths]
    ['bergamo.html', 'lecco.html', 'index.html']
    """
    _check_tiles(tiles)
    if isinstance(territories, str):
        territories = [territories]
    slugs = m.territory_slugs if territories is None else list(
        dict.fromkeys(_check_territory(m, t) for t in territories))
    for slug in slugs:
        _check_territory(m, slug)
    if figures is None:
        figures = compute_figures(m, as_of=as_of, baseline=baseline, evaluation=evaluation,
                                  target=target)
    out = Path(out_dir)
    paths = []
    for slug in slugs:
        started = time.perf_counter()
        html = render_map(m, slug, tiles=tiles, figures=figures).get_root().render()
        paths.append(write_text_atomic(out / f"{slug}.html", html))
        log.info("wrote %s (%.0f kB, %.2f s)", paths[-1], len(html.encode()) / 1024,
                 time.perf_counter() - started)
    links = {slug: f"{slug}.html" for slug in slugs}
    html = render_index(m, tiles=tiles, links=links, figures=figures).get_root().render()
    paths.append(write_text_atomic(out / "index.html", html))
    log.info("wrote %s", paths[-1])
    return paths
