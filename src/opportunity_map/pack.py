"""The Tavolo di rete meeting pack: a short Italian PDF for one territory at one date.

Every six months each antenna territoriale presents its territory's map at the
Tavolo di rete. :func:`write_pack` writes the pack to hand out there, an A4 PDF of
two to four pages:

1. a static map of the province (boundary, ambiti, organisations by group with
   colour-blind-safe colours *and* distinct marker shapes, ties by level, legend,
   scale bar);
2. the key figures at the Tavolo date and at the previous one, and, when an
   evaluation is given, the change against the baseline worded as the evaluation
   report words it (:mod:`opportunity_map.report`);
3. the changes since the previous Tavolo (:func:`opportunity_map.changes.find_changes`);
4. the active opportunities by type and ambito;
5. the records to verify (:func:`opportunity_map.changes.find_unverified`);
6. an optional coverage table.

The PDF is drawn with fpdf2 (pure Python) using the DejaVu Sans font shipped with
matplotlib, so every character is embedded and the text stays selectable. The map
is drawn offline with matplotlib (Agg); matplotlib and fpdf2 are imported only when
a pack is written. Every string from the data is written as plain text.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ._atomic import write_bytes_atomic
from ._errors import UsageError
from ._format import format_date, format_density, format_number
from ._time import active_mask, to_timestamp
from .changes import CHANGE_LABELS
from .metrics import block_density, network_stats
from .report import INTERVAL_CAVEAT, change_figures, verdict_rule
from .schema import GROUP_LABELS, GROUPS, LEVEL_LABELS, OPPORTUNITY_TYPE_LABELS, TIE_DEFINITION

if TYPE_CHECKING:
    from fpdf import FPDF

    from .evaluation import Evaluation
    from .model import OpportunityMap
    from .network import Network

__all__ = ["GROUP_MARKERS", "OKABE_ITO", "draw_map_png", "pack_bytes", "write_pack"]

#: Colour of every group: the Okabe-Ito palette, safe for colour-blind readers.
OKABE_ITO: dict[str, str] = {
    "cm": "#0072B2",
    "apl": "#E69F00",
    "cooperazione": "#009E73",
    "imprese": "#CC79A7",
    "servizi": "#56B4E9",
}
#: Marker shape of every group (matplotlib codes): the group never rests on colour alone.
GROUP_MARKERS: dict[str, str] = {
    "cm": "s", "apl": "^", "cooperazione": "o", "imprese": "D", "servizi": "v",
}
_LEVEL_WIDTH = {1: 0.5, 2: 0.9, 3: 1.5, 4: 2.3}
_LEVEL_GREY = {1: "#b4b4b4", 2: "#8c8c8c", 3: "#555555", 4: "#1a1a1a"}

#: Rows shown of each list before "… e altri N".
MAX_ROWS = 12
_MAX_CHANGE_ROWS = 30
_FONT = "DejaVu"
_DPI = 200
#: Organisations on each ring around a shared point.
_RING = 8
_REMOVED_WARNING = "righe cancellate: indicare la data di fine 'al' invece di cancellare"


def write_pack(path: str | Path, m: OpportunityMap, *, territory: str, date: object,
               previous: object, changes: pd.DataFrame, unverified: pd.DataFrame,
               evaluation: Evaluation | None = None,
               coverage: pd.DataFrame | None = None) -> Path:
    """Write the Tavolo di rete meeting pack of one territory as an A4 PDF.

    Parameters
    ----------
    path : str or pathlib.Path
        The PDF to write (e.g. ``tavolo_lecco_2027-06-30.pdf``); replaced atomically.
    m : OpportunityMap
        The map.
    territory : str
        The territory (slug or name).
    date : date-like
        The Tavolo date D.
    previous : date-like
        The previous Tavolo date P, before D.
    changes : pandas.DataFrame
        :func:`opportunity_map.changes.find_changes` of the territory from P to D.
    unverified : pandas.DataFrame
        :func:`opportunity_map.changes.find_unverified` of the territory at D.
    evaluation : Evaluation, optional
        :func:`opportunity_map.evaluation.evaluate` from the baseline to D, with this
        territory among its rows: its change, interval and verdict are shown.
    coverage : pandas.DataFrame, optional
        A small table shown as it is (numbers in Italian notation).

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    UnknownTerritoryError
        If the territory is not in the map.
    UsageError
        If ``previous`` is not before ``date``, or ``evaluation`` is not at ``date``
        or lacks the territory.
    OSError
        If the file cannot be written (nothing is left half-written).

    Examples
    --------
    >>> import opportunity_map as om
    >>> m = om.example_map()
    >>> changes = om.find_changes(m, date="2027-06-30", previous="2026-12-31",
    ...                           territory="lecco")
    >>> stale = om.find_unverified(m, as_of="2027-06-30", territory="lecco")
    >>> write_pack("tavolo_lecco_2027-06-30.pdf", m, territory="lecco",
    ...            date="2027-06-30", previous="2026-12-31", changes=changes,
    ...            unverified=stale)  # doctest: +SKIP
    PosixPath('tavolo_lecco_2027-06-30.pdf')
    """
    data = pack_bytes(m, territory=territory, date=date, previous=previous, changes=changes,
                      unverified=unverified, evaluation=evaluation, coverage=coverage)
    return write_bytes_atomic(path, data)


def pack_bytes(m: OpportunityMap, *, territory: str, date: object, previous: object,
               changes: pd.DataFrame, unverified: pd.DataFrame,
               evaluation: Evaluation | None = None,
               coverage: pd.DataFrame | None = None) -> bytes:
    """The meeting pack as PDF bytes; the parameters are those of :func:`write_pack`.

    Raises
    ------
    UnknownTerritoryError, UsageError
        As :func:`write_pack`.
    """
    slug = m.resolve_territory(territory)
    t1 = to_timestamp(date, name="date")
    t0 = to_timestamp(previous, name="previous")
    if not t0 < t1:
        raise UsageError(f"previous={format_date(t0)} must be before date={format_date(t1)}",
                         param="previous")
    record = _evaluation_record(evaluation, slug, t1)
    name = str(m.territories.loc[m.territories["slug"] == slug, "name"].iloc[0])
    net1, net0 = m.network(t1), m.network(t0)
    pdf = _new_pdf(f"Tavolo di rete – {name} – {format_date(t1)}", _source(m))
    _map_page(pdf, m, net1, slug, name, t1)
    _figures_section(pdf, m, (net0, net1), slug)
    if record is not None and evaluation is not None:
        _evaluation_section(pdf, record, evaluation)
    _changes_section(pdf, changes, t0, t1)
    _opportunities_section(pdf, m, slug, t1)
    _unverified_section(pdf, unverified)
    if coverage is not None:
        _coverage_section(pdf, coverage)
    return bytes(pdf.output())


def _evaluation_record(evaluation: Evaluation | None, slug: str,
                       t1: pd.Timestamp) -> dict[str, Any] | None:
    """The evaluation row of the territory, checked to be at the Tavolo date."""
    if evaluation is None:
        return None
    if evaluation.as_of.normalize() != t1.normalize():
        raise UsageError(f"evaluation is at {format_date(evaluation.as_of)}, the Tavolo at "
                         f"{format_date(t1)}", param="evaluation")
    rows = evaluation.table[evaluation.table["territory"] == slug]
    if rows.empty:
        raise UsageError(f"evaluation has no row for territory {slug!r}", param="evaluation")
    return dict(rows.iloc[0])


def _source(m: OpportunityMap) -> str:
    return f"Fonte: mappa delle opportunità ({m.source.name})" if m.source is not None else ""


# --------------------------------------------------------------------------------------
# PDF scaffolding
# --------------------------------------------------------------------------------------


def _new_pdf(title: str, source: str) -> FPDF:
    """An A4 document with the DejaVu fonts and the header and footer of every page."""
    import matplotlib
    from fpdf import FPDF

    class _Pack(FPDF):
        def header(self) -> None:
            self.set_font(_FONT, "B", 9)
            self.set_text_color(60, 60, 60)
            self.cell(0, 5, title, new_x="LMARGIN", new_y="NEXT")
            self.set_draw_color(150, 150, 150)
            self.line(self.l_margin, self.get_y(), self.w - self.r_margin, self.get_y())
            self.ln(3)
            self.set_text_color(0, 0, 0)

        def footer(self) -> None:
            self.set_y(-12)
            self.set_font(_FONT, "", 8)
            self.set_text_color(60, 60, 60)
            self.cell(0, 5, source, align="L")
            self.set_x(self.l_margin)
            self.cell(0, 5, f"pagina {self.page_no()} di {{nb}}", align="R")
            self.set_text_color(0, 0, 0)

    pdf = _Pack(format="A4", unit="mm")
    fonts = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    pdf.add_font(_FONT, "", str(fonts / "DejaVuSans.ttf"))
    pdf.add_font(_FONT, "B", str(fonts / "DejaVuSans-Bold.ttf"))
    pdf.set_margins(15, 12, 15)
    pdf.set_auto_page_break(True, margin=16)
    pdf.set_title(title)
    pdf.set_lang("it")
    pdf.set_creator("opportunity_map")
    pdf.add_page()
    return pdf


def _heading(pdf: FPDF, text: str) -> None:
    if pdf.get_y() > pdf.h - 50:
        pdf.add_page()
    pdf.ln(2)
    pdf.set_font(_FONT, "B", 12)
    pdf.cell(0, 7, text, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(_FONT, "", 9)


def _paragraph(pdf: FPDF, text: str, *, bold: bool = False, size: float = 9) -> None:
    pdf.set_font(_FONT, "B" if bold else "", size)
    pdf.multi_cell(0, 4.5, text, align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(_FONT, "", 9)


def _table(pdf: FPDF, header: Sequence[str], rows: Sequence[Sequence[str]], *,
           widths: Sequence[float], align: str | Sequence[str] = "LEFT") -> None:
    """A table with a bold header row repeated on page breaks; cells are plain text."""
    pdf.set_font(_FONT, "", 8)
    aligns = [align] * len(header) if isinstance(align, str) else list(align)
    with pdf.table(col_widths=tuple(widths), text_align=tuple(aligns), line_height=4.2,
                   padding=1, v_align="TOP", headings_style=_headings_style(),
                   repeat_headings=1) as table:
        for line in (header, *rows):
            row = table.row()
            for text in line:
                row.cell(text)
    pdf.set_font(_FONT, "", 9)
    pdf.ln(2)


def _headings_style() -> Any:
    from fpdf.fonts import FontFace

    return FontFace(family=_FONT, emphasis="BOLD", fill_color=(230, 230, 230))


def _more(n_shown: int, total: int) -> str | None:
    """``"… e altri N"`` when rows were left out."""
    return f"… e altri {total - n_shown}" if total > n_shown else None


# --------------------------------------------------------------------------------------
# Page 1: the map
# --------------------------------------------------------------------------------------


def _map_page(pdf: FPDF, m: OpportunityMap, net: Network, slug: str, name: str,
              t1: pd.Timestamp) -> None:
    pdf.set_font(_FONT, "B", 15)
    pdf.cell(0, 8, f"Mappa delle opportunità – {name}", new_x="LMARGIN", new_y="NEXT")
    _paragraph(pdf, f"Organizzazioni attive e legami al {format_date(t1)}.")
    actors = m.actors_at(t1, territory=slug)
    png = draw_map_png(m, net, slug, actors=actors)
    width = pdf.w - pdf.l_margin - pdf.r_margin
    pdf.image(io.BytesIO(png), x=pdf.l_margin, w=width)
    pdf.ln(1)
    _paragraph(pdf, TIE_DEFINITION, size=8.5)
    notes = ["Simboli vuoti: posizione approssimata (centro del comune); organizzazioni nello "
             "stesso punto sono disegnate affiancate."]
    missing = int(actors.geometry.isna().sum() + actors.geometry.is_empty.sum())
    if missing:
        notes.append(f"{missing} organizzazioni senza posizione non sono disegnate "
                     "(sono contate nelle cifre).")
    cross = net.cross_ties(slug)
    if cross:
        notes.append(f"Legami con organizzazioni di altri territori non disegnati: {cross}.")
    _paragraph(pdf, " ".join(notes), size=8.5)


def draw_map_png(m: OpportunityMap, net: Network, territory: str, *,
                 actors: pd.DataFrame) -> bytes:
    """The static map of a territory as PNG bytes (200 dpi), drawn offline.

    Parameters
    ----------
    m : OpportunityMap
        The map (territories and ambiti boundaries).
    net : Network
        The network at the date drawn.
    territory : str
        The territory slug.
    actors : geopandas.GeoDataFrame
        The territory's organisations active at the date.

    Returns
    -------
    bytes
        A PNG image.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.2, 6.6), dpi=_DPI)
    try:
        province = m.territories.loc[m.territories["slug"] == territory, "geometry"]
        province.boundary.plot(ax=ax, color="#333333", linewidth=1.0, zorder=1)
        ambiti = m.ambiti[m.ambiti["territory"] == territory] if len(m.ambiti) else m.ambiti
        if len(ambiti):
            ambiti.boundary.plot(ax=ax, color="#777777", linewidth=0.7, linestyle="--",
                                 zorder=1)
        located = _spread(actors[actors.geometry.notna() & ~actors.geometry.is_empty],
                          province.total_bounds)
        _draw_ties(ax, net, territory, located)
        _draw_actors(ax, located)
        _label_towns(ax, located)
        mid_lat = float(np.mean(ax.get_ylim()))
        ax.set_aspect(1 / math.cos(math.radians(mid_lat)))
        _scale_bar(ax, mid_lat)
        ax.set_axis_off()
        _legend(ax, has_ambiti=len(ambiti) > 0)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=_DPI, bbox_inches="tight", pad_inches=0.05)
    finally:
        plt.close(fig)
    return buffer.getvalue()


def _spread(located: pd.DataFrame, bounds: np.ndarray) -> pd.DataFrame:
    """Organisations at the same point (a comune's centre) placed on a small circle.

    Several organisations geocoded to one comune share its centre; drawn there they
    would hide each other. They are placed evenly around the shared point, up to
    :data:`_RING` per ring, rings 1.2% of the province's extent apart (in the order
    of the table, so the drawing is stable).
    """
    if located.empty:
        return located
    import shapely

    x = located.geometry.x.to_numpy(dtype=float)
    y = located.geometry.y.to_numpy(dtype=float)
    radius = 0.012 * max(float(bounds[2] - bounds[0]), float(bounds[3] - bounds[1]))
    keys = pd.Series(list(zip(np.round(x, 6), np.round(y, 6), strict=True)))
    rank = keys.groupby(keys).cumcount().to_numpy()
    size = keys.map(keys.value_counts()).to_numpy()
    ring = rank // _RING
    on_ring = np.minimum(size - ring * _RING, _RING)
    angle = 2 * np.pi * (rank % _RING) / on_ring + 0.5 * ring
    shared = size > 1
    x = np.where(shared, x + radius * (ring + 1) * np.cos(angle), x)
    y = np.where(shared, y + radius * (ring + 1) * np.sin(angle), y)
    return located.set_geometry(shapely.points(x, y), crs=located.crs)


def _draw_ties(ax: Any, net: Network, territory: str, located: pd.DataFrame) -> None:
    ties = net.ties(territory)
    xy = {str(i): (g.x, g.y) for i, g in zip(located["id"], located.geometry, strict=True)}
    for level in sorted(_LEVEL_WIDTH):
        segments = [(xy[str(s)], xy[str(t)])
                    for s, t, lv in zip(ties["source"], ties["target"], ties["level"], strict=True)
                    if lv == level and str(s) in xy and str(t) in xy]
        if segments:
            from matplotlib.collections import LineCollection

            ax.add_collection(LineCollection(segments, colors=_LEVEL_GREY[level],
                                             linewidths=_LEVEL_WIDTH[level], zorder=2,
                                             alpha=0.85))


def _draw_actors(ax: Any, located: pd.DataFrame) -> None:
    approx = (located["geocoded"].astype(str) == "comune").to_numpy()
    counts = located["group"].value_counts()
    # the largest groups first: the few CM and ApL offices stay visible on top
    for group in sorted(GROUPS, key=lambda g: -int(counts.get(g, 0))):
        here = (located["group"] == group).to_numpy()
        for hollow in (False, True):
            rows = located[here & (approx == hollow)]
            if rows.empty:
                continue
            colour = OKABE_ITO[group]
            ax.scatter(rows.geometry.x, rows.geometry.y, s=34, marker=GROUP_MARKERS[group],
                       facecolors="white" if hollow else colour, edgecolors=colour if hollow
                       else "#222222", linewidths=1.3 if hollow else 0.5, zorder=3)


def _label_towns(ax: Any, located: pd.DataFrame, *, n: int = 6) -> None:
    """The names of the comuni with most organisations, with a white halo."""
    from matplotlib import patheffects

    if located.empty or "comune" not in located:
        return
    comuni = located.assign(x=located.geometry.x, y=located.geometry.y,
                            comune=located["comune"].astype(str))
    comuni = comuni[comuni["comune"].str.strip() != ""]
    top = comuni.groupby("comune").agg(n=("x", "size"), x=("x", "median"), y=("y", "median"))
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    gap = 0.08 * max(x1 - x0, y1 - y0)
    placed: list[tuple[float, float]] = []
    for comune, row in top.sort_values("n", ascending=False, kind="stable").iterrows():
        if len(placed) == n:
            break
        if any(math.hypot(row["x"] - px, row["y"] - py) < gap for px, py in placed):
            continue
        placed.append((row["x"], row["y"]))
        ax.annotate(str(comune), (row["x"], row["y"]), xytext=(5, 5),
                    textcoords="offset points", fontsize=7, color="#111111", zorder=4,
                    path_effects=[patheffects.withStroke(linewidth=2.5, foreground="white")])


def _scale_bar(ax: Any, mid_lat: float) -> None:
    """A scale bar in km in the lower left corner."""
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    km_per_degree = 111.32 * math.cos(math.radians(mid_lat))
    span_km = (x1 - x0) * km_per_degree
    length = next(k for k in (50, 20, 10, 5, 2, 1) if k <= span_km / 4) if span_km >= 4 else 1
    start_x, start_y = x0 + 0.03 * (x1 - x0), y0 + 0.03 * (y1 - y0)
    end_x = start_x + length / km_per_degree
    ax.plot([start_x, end_x], [start_y, start_y], color="black", linewidth=2.5,
            solid_capstyle="butt", zorder=5)
    ax.text((start_x + end_x) / 2, start_y + 0.012 * (y1 - y0), f"{length} km",
            ha="center", va="bottom", fontsize=7, zorder=5)


def _legend(ax: Any, *, has_ambiti: bool) -> None:
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], linestyle="", marker=GROUP_MARKERS[g], markersize=6,
                      markerfacecolor=OKABE_ITO[g], markeredgecolor="#222222",
                      label=GROUP_LABELS[g]) for g in GROUPS]
    handles.append(Line2D([], [], linestyle="", marker="o", markersize=6,
                          markerfacecolor="white", markeredgecolor="#444444",
                          label="posizione approssimata"))
    handles += [Line2D([], [], color=_LEVEL_GREY[lv], linewidth=_LEVEL_WIDTH[lv],
                       label=f"livello {lv} ({LEVEL_LABELS[lv]})") for lv in sorted(_LEVEL_WIDTH)]
    handles.append(Line2D([], [], color="#333333", linewidth=1.0, label="confine provinciale"))
    if has_ambiti:
        handles.append(Line2D([], [], color="#777777", linewidth=0.7, linestyle="--",
                              label="ambito territoriale"))
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.01), ncol=3,
              fontsize=7, frameon=False, handlelength=2.2, columnspacing=1.2)


# --------------------------------------------------------------------------------------
# Key figures and evaluation
# --------------------------------------------------------------------------------------


def _figures_section(pdf: FPDF, m: OpportunityMap, nets: tuple[Network, Network],
                     slug: str) -> None:
    pdf.add_page()
    t0, t1 = (format_date(n.as_of) for n in nets)
    _heading(pdf, f"Cifre chiave al {t1} e al Tavolo precedente ({t0})")
    stats = [network_stats(n, territory=slug) for n in nets]
    rows = [
        ["Organizzazioni attive", *(format_number(s["n_actors"], 0) for s in stats)],
        ["Legami", *(format_number(s["n_ties"], 0) for s in stats)],
        ["Densità della rete", *(format_density(s["density"]) for s in stats)],
        ["Densità pesata per livello", *(format_density(s["weighted_density"]) for s in stats)],
        ["Grado medio", *(format_number(s["avg_degree"], 2) for s in stats)],
        ["Organizzazioni senza legami", *(format_number(s["n_isolates"], 0) for s in stats)],
        ["Legami con altri territori (non contati)",
         *(format_number(s["n_cross_territory_ties"], 0) for s in stats)],
    ]
    _table(pdf, ["", t0, t1], rows, widths=(90, 45, 45), align=("LEFT", "RIGHT", "RIGHT"))
    _heading(pdf, "Per gruppo")
    _table(pdf, ["Gruppo", f"Organizzazioni {t0}", f"Organizzazioni {t1}", f"Legami {t0}",
                 f"Legami {t1}", f"Densità interna {t1}"],
           _group_rows(m, nets, slug), widths=(46, 27, 27, 25, 25, 30),
           align=("LEFT", "RIGHT", "RIGHT", "RIGHT", "RIGHT", "RIGHT"))
    _paragraph(pdf, "Un legame tra organizzazioni di due gruppi è contato in entrambi. "
               "Densità interna: quota dei legami possibili tra le organizzazioni del "
               "gruppo effettivamente presenti (n.d. con meno di due organizzazioni).", size=8)


def _group_rows(m: OpportunityMap, nets: tuple[Network, Network], slug: str) -> list[list[str]]:
    """Organisations and ties of every group at both dates, and the density within it."""
    groups = m.actors.set_index(m.actors["id"].astype(str))["group"]
    counts = []
    for net in nets:
        actors = m.actors[(m.actors["territory"] == slug) & active_mask(m.actors, net.as_of)]
        ties = net.ties(slug)
        ends = pd.concat([ties["source"].astype(str).map(groups),
                          ties["target"].astype(str).map(groups)], axis=1)
        touching = {g: int((ends == g).any(axis=1).sum()) for g in GROUPS}
        counts.append((actors["group"].value_counts(), touching))
    within = block_density(nets[1], territory=slug)
    return [[GROUP_LABELS[g],
             *(format_number(int(c[0].get(g, 0)), 0) for c in counts),
             *(format_number(c[1][g], 0) for c in counts),
             format_density(within.loc[g, g])] for g in GROUPS]


def _evaluation_section(pdf: FPDF, record: dict[str, Any], evaluation: Evaluation) -> None:
    """The change against the baseline, worded as the evaluation report words it."""
    _heading(pdf, f"Densità rispetto alla baseline del {format_date(evaluation.baseline)}")
    figures = change_figures(record)
    text = (f"Panel di {figures['n_panel']} organizzazioni (attive alla baseline e al "
            f"{format_date(evaluation.as_of)}): densità da {figures['density_baseline']} a "
            f"{figures['density_as_of']}, variazione {figures['change_pct']}%")
    if figures["interval"]:
        text += f" ({figures['interval']})"
    _paragraph(pdf, f"{text}: esito {figures['verdict_label']}.", bold=True)
    note = record.get("note")
    if isinstance(note, str) and note:
        _paragraph(pdf, note)
    if figures["interval"]:
        _paragraph(pdf, f"{INTERVAL_CAVEAT} {verdict_rule(100 * evaluation.target)}", size=8.5)
    _paragraph(pdf, f"Organizzazioni entrate dalla baseline: "
               f"{format_number(record['n_entrants'], 0)}; uscite: "
               f"{format_number(record['n_exits'], 0)}.", size=8.5)


# --------------------------------------------------------------------------------------
# Changes, opportunities, records to verify, coverage
# --------------------------------------------------------------------------------------


def _changes_section(pdf: FPDF, changes: pd.DataFrame, t0: pd.Timestamp,
                     t1: pd.Timestamp) -> None:
    _heading(pdf, f"Modifiche dal Tavolo precedente ({format_date(t0)} → {format_date(t1)})")
    if changes.empty:
        _paragraph(pdf, "Nessuna modifica.")
        return
    if (changes["change"] == "row_removed").any():
        pdf.set_text_color(170, 0, 0)
        _paragraph(pdf, f"Attenzione: {_REMOVED_WARNING}.", bold=True)
        pdf.set_text_color(0, 0, 0)
    order = {label: i for i, label in enumerate(CHANGE_LABELS.values())}
    labels = sorted(changes["label"].astype(str).unique(), key=lambda s: order.get(s, 99))
    _paragraph(pdf, "; ".join(f"{label}: {int((changes['label'] == label).sum())}"
                              for label in labels) + ".")
    rows: list[list[str]] = []
    # every change when they are few; else a share of about 30 rows per kind, so that
    # the pack keeps to four pages
    shown = (len(changes) if len(changes) <= _MAX_CHANGE_ROWS
             else min(MAX_ROWS, max(3, _MAX_CHANGE_ROWS // len(labels))))
    for label in labels:
        group = changes[changes["label"] == label]
        for i, (name, detail) in enumerate(zip(group["name"], group["detail"], strict=True)):
            if i == shown:
                rows.append(["", _more(shown, len(group)) or "", ""])
                break
            rows.append([f"{label} ({len(group)})" if i == 0 else "", _text(name),
                         _text(detail)])
    _table(pdf, ["Modifica", "Nome", "Dettaglio"], rows, widths=(38, 62, 80))


def _opportunities_section(pdf: FPDF, m: OpportunityMap, slug: str, t1: pd.Timestamp) -> None:
    _heading(pdf, f"Opportunità attive al {format_date(t1)} per tipo e ambito")
    counts = _opportunity_counts(m, slug, t1)
    if counts.empty:
        _paragraph(pdf, "Nessuna opportunità attiva.")
        return
    ambiti = [str(c) for c in counts.columns]
    if len(ambiti) <= 4:
        rows = [[str(t), *(format_number(v, 0) for v in line), format_number(sum(line), 0)]
                for t, line in zip(counts.index, counts.to_numpy().tolist(), strict=True)]
        rest = 180 - 70 - 20
        _table(pdf, ["Tipo", *ambiti, "Totale"], rows,
               widths=(70, *([rest / len(ambiti)] * len(ambiti)), 20),
               align=("LEFT", *(["RIGHT"] * (len(ambiti) + 1))))
        if "—" in ambiti:
            _paragraph(pdf, "—: organizzazioni senza ambito territoriale.", size=8)
        return
    long = counts.stack()
    long = long[long > 0]
    _table(pdf, ["Tipo", "Ambito", "Opportunità"],
           [[str(t), str(a), format_number(v, 0)] for (t, a), v in long.items()],
           widths=(80, 70, 30), align=("LEFT", "LEFT", "RIGHT"))


def _opportunity_counts(m: OpportunityMap, slug: str, t1: pd.Timestamp) -> pd.DataFrame:
    """Active opportunities of the territory's organisations: type label x ambito."""
    opp = m.opportunities
    actors = m.actors[m.actors["territory"] == slug]
    if opp.empty or actors.empty:
        return pd.DataFrame()
    opp = opp[active_mask(opp, t1) & opp["actor_id"].isin(set(actors["id"]))]
    if opp.empty:
        return pd.DataFrame()
    ambito_of = actors.set_index("id")["ambito"] if "ambito" in actors else pd.Series(dtype=str)
    names = dict(zip(m.ambiti["id"].astype(str), m.ambiti["name"].astype(str), strict=True)
                 ) if len(m.ambiti) else {}
    ambito = opp["actor_id"].map(ambito_of).map(_text).map(lambda a: names.get(a, a))
    ambito = ambito.replace("", "—")
    kind = opp["type"].map(lambda t: OPPORTUNITY_TYPE_LABELS.get(str(t), str(t)))
    table = pd.crosstab(kind.rename("tipo"), ambito.rename("ambito"))
    order = [label for label in OPPORTUNITY_TYPE_LABELS.values() if label in table.index]
    return table.loc[order + [t for t in table.index if t not in order]]


def _unverified_section(pdf: FPDF, unverified: pd.DataFrame) -> None:
    _heading(pdf, "Schede da verificare")
    if unverified.empty:
        _paragraph(pdf, "Nessuna scheda da verificare: tutte verificate negli ultimi 12 mesi.")
        return
    _paragraph(pdf, f"{format_number(len(unverified), 0)} schede attive non verificate da più "
               "di 12 mesi (o mai): confermarle o aggiornarle prima del prossimo Tavolo.")
    table_names = {"actors": "Organizzazione", "opportunities": "Opportunità"}
    shown = unverified.head(MAX_ROWS)
    rows = [[table_names.get(str(t), str(t)), _text(n), _text(d)]
            for t, n, d in zip(shown["table"], shown["name"], shown["detail"], strict=True)]
    more = _more(len(shown), len(unverified))
    if more:
        rows.append(["", more, ""])
    _table(pdf, ["Scheda", "Nome", "Ultima verifica"], rows, widths=(35, 95, 50))


def _coverage_section(pdf: FPDF, coverage: pd.DataFrame) -> None:
    _heading(pdf, "Copertura: distanza dalle opportunità")
    shown = coverage.head(MAX_ROWS)
    rows = [[_cell(v) for v in line] for line in shown.itertuples(index=False)]
    more = _more(len(shown), len(coverage))
    if more:
        rows.append([more, *([""] * (len(coverage.columns) - 1))])
    n = max(len(coverage.columns), 1)
    first = 60.0 if n > 1 else 180.0
    widths = [first, *([(180 - first) / (n - 1)] * (n - 1))] if n > 1 else [180.0]
    _table(pdf, [str(c) for c in coverage.columns], rows, widths=widths)
    for note in coverage.attrs.get("notes", ()):
        _paragraph(pdf, str(note), size=8)


def _cell(value: object) -> str:
    """A coverage cell: numbers in Italian notation, everything else as text."""
    if isinstance(value, bool | np.bool_):
        return "sì" if value else "no"
    if isinstance(value, int | np.integer):
        return format_number(value, 0)
    if isinstance(value, float | np.floating):
        return format_number(value, 0 if float(value).is_integer() else 2)
    if isinstance(value, pd.Timestamp):
        return format_date(value)
    return _text(value)


def _text(value: object) -> str:
    """A data value as plain text (empty for a missing one)."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)
