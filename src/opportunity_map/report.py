"""Write an :class:`~opportunity_map.evaluation.Evaluation` for evaluators and the funder.

:func:`write_evaluation` writes three files, each atomically (a temporary file in the
same folder, then :func:`os.replace`), after everything has been rendered in memory,
so a failure leaves no half-written file:

``evaluation.csv``
    The table (UTF-8, comma, decimal point, unrounded), for researchers.
``evaluation.xlsx``
    The table, the block-density matrices at both dates, the semester series, the
    parameters and a legend, with Italian sheet names.
``evaluation.html``
    A self-contained Italian report for the funder: charts drawn as inline SVG and
    HTML tables, no image file and no external resource. The page is the Jinja2 template
    ``templates/report.html.j2`` (styles in ``templates/report.css``), rendered with
    autoescaping: every string from the data is passed as a variable and escaped.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ._atomic import write_bytes_atomic
from ._format import MISSING, format_date, format_density, format_number
from ._html import templates
from ._xlsx import Block, Sheet, workbook_bytes
from .evaluation import Evaluation
from .schema import GROUP_LABELS, GROUPS, TIE_DEFINITION

if TYPE_CHECKING:
    from .finder import Coverage

__all__ = [
    "COLUMN_LEGEND",
    "INTERVAL_CAVEAT",
    "VERDICT_LABELS",
    "change_figures",
    "interval_text",
    "render_html",
    "render_xlsx",
    "verdict_label",
    "verdict_rule",
    "write_evaluation",
]

logger = logging.getLogger(__name__)


def _version() -> str:
    try:
        return metadata.version("opportunity-map")
    except metadata.PackageNotFoundError:
        return "sviluppo"


#: Italian label of every verdict.
VERDICT_LABELS: dict[str, str] = {
    "met": "Raggiunto",
    "not_met": "Non raggiunto",
    "inconclusive": "Incerto",
    "not_evaluable": "Non valutabile",
}

#: What the report says before any interval: read it wherever an interval is shown.
INTERVAL_CAVEAT = "Su una rete piccola una variazione può essere dovuta al caso."


def verdict_label(code: object) -> str:
    """The Italian label of a verdict code (the code itself when unknown).

    Examples
    --------
    >>> verdict_label("inconclusive")
    'Incerto'
    """
    return VERDICT_LABELS.get(str(code), str(code))


def verdict_rule(target_pct: float) -> str:
    """How a verdict follows from the interval and the target, in Italian.

    Parameters
    ----------
    target_pct : float
        The target in percent (30.0 for +30%).

    Examples
    --------
    >>> verdict_rule(30.0)[:62]
    "Obiettivo raggiunto se anche l'estremo inferiore dell'interval"
    """
    target = format_number(target_pct, 1)
    return (f"Obiettivo raggiunto se anche l'estremo inferiore dell'intervallo è almeno "
            f"+{target}%; non raggiunto se anche l'estremo superiore è sotto +{target}%; "
            "incerto altrimenti.")


def change_figures(record: Any) -> dict[str, str]:
    """The formatted figures of one row of an evaluation table, as the report shows them.

    Parameters
    ----------
    record : mapping
        One row of :attr:`Evaluation.table <opportunity_map.evaluation.Evaluation.table>`.

    Returns
    -------
    dict of str to str
        ``n_panel``, ``density_baseline``, ``density_as_of``, ``change_pct``,
        ``ci_low_pct``, ``ci_high_pct`` (signed, one decimal, no ``%``), ``verdict``
        (the code), ``verdict_label`` and ``interval`` (:func:`interval_text`, empty
        when there is no interval).
    """
    figures = {
        "n_panel": format_number(record["n_panel"], 0),
        "density_baseline": format_density(record["density_baseline"]),
        "density_as_of": format_density(record["density_at"]),
        "change_pct": format_number(record["change_pct"], 1, signed=True),
        "ci_low_pct": format_number(record["ci_low_pct"], 1, signed=True),
        "ci_high_pct": format_number(record["ci_high_pct"], 1, signed=True),
        "verdict": str(record["verdict"]),
        "verdict_label": verdict_label(record["verdict"]),
    }
    figures["interval"] = interval_text(figures)
    return figures


def interval_text(figures: dict[str, str]) -> str:
    """``"intervallo al 95% da −5,0% a +40,0%"``; empty when a bound is missing.

    Parameters
    ----------
    figures : dict of str to str
        The result of :func:`change_figures`.
    """
    if MISSING in (figures["ci_low_pct"], figures["ci_high_pct"]):
        return ""
    return f"intervallo al 95% da {figures['ci_low_pct']}% a {figures['ci_high_pct']}%"


#: Italian meaning of every column of the evaluation table (the ``legenda`` sheet).
COLUMN_LEGEND: dict[str, str] = {
    "territory": "Territorio (lombardia = intera mappa)",
    "n_panel": "Attori del panel: attivi sia alla baseline sia alla data di confronto",
    "n_entrants": "Attori entrati: attivi alla data di confronto ma non alla baseline",
    "n_exits": "Attori usciti: attivi alla baseline ma non alla data di confronto",
    "ties_baseline": "Legami tra gli attori del panel alla baseline",
    "ties_at": "Legami tra gli attori del panel alla data di confronto",
    "density_baseline": "Densità del panel alla baseline",
    "density_at": "Densità del panel alla data di confronto",
    "change_pct": "Variazione percentuale della densità del panel",
    "ci_low_pct": "Estremo inferiore dell'intervallo bootstrap al 95% (%)",
    "ci_high_pct": "Estremo superiore dell'intervallo bootstrap al 95% (%)",
    "se_pct": "Errore standard bootstrap della variazione (punti percentuali)",
    "p_no_increase": "Quota di replicati bootstrap senza aumento di densità",
    "target_pct": "Obiettivo di variazione (%)",
    "verdict": "Esito: met = raggiunto, not_met = non raggiunto, inconclusive = incerto, "
               "not_evaluable = non valutabile",
    "target_met_point": "La stima puntuale raggiunge l'obiettivo",
    "weighted_density_baseline": "Densità pesata per livello di collaborazione, baseline",
    "weighted_density_at": "Densità pesata per livello di collaborazione, data di confronto",
    "avg_degree_baseline": "Grado medio del panel alla baseline",
    "avg_degree_at": "Grado medio del panel alla data di confronto",
    "density_full_baseline": "Densità della rete completa (tutti gli attivi) alla baseline",
    "density_full_at": "Densità della rete completa alla data di confronto",
    "note": "Note sui casi particolari",
    "territory_name": "Nome del territorio",
    "density_change_abs": "Variazione assoluta della densità del panel",
    "ties_change_pct": "Variazione percentuale dei legami del panel (uguale a change_pct)",
    "avg_degree_change_pct": "Variazione percentuale del grado medio (uguale a change_pct)",
    "weighted_change_pct": "Variazione percentuale della densità pesata",
    "weighted_ci_low_pct": "Estremo inferiore dell'intervallo al 95% della densità pesata (%)",
    "weighted_ci_high_pct": "Estremo superiore dell'intervallo al 95% della densità pesata (%)",
    "n_actors_baseline": "Attori attivi alla baseline (rete completa)",
    "n_actors_at": "Attori attivi alla data di confronto (rete completa)",
    "ties_full_baseline": "Legami della rete completa alla baseline",
    "ties_full_at": "Legami della rete completa alla data di confronto",
    "density_full_change_pct": "Variazione percentuale della densità della rete completa",
    "cross_ties_baseline": "Legami con attori di altri territori alla baseline (non contati)",
    "cross_ties_at": "Legami con attori di altri territori alla data di confronto (non contati)",
    "n_boot_zero_baseline": "Replicati bootstrap con rete di baseline senza legami",
}

_SHEETS = {
    "table": "valutazione",
    "matrices": "matrici_blocchi",
    "blocks": "blocchi",
    "series": "serie_semestrale",
    "parameters": "parametri",
    "legend": "legenda",
}
_GROUP_SHORT = {
    "cm": "CM", "apl": "ApL", "cooperazione": "Coop.", "imprese": "Imprese", "servizi": "Servizi",
}


def write_evaluation(evaluation: Evaluation, out_dir: str | Path, *,
                     coverage: Coverage | None = None) -> dict[str, Path]:
    """Write the evaluation as CSV, Excel and a self-contained Italian HTML report.

    Parameters
    ----------
    evaluation : Evaluation
        The result of :func:`opportunity_map.evaluation.evaluate`.
    out_dir : str or pathlib.Path
        Output folder, created if missing. Existing files of the same name are
        replaced.
    coverage : Coverage, optional
        The coverage of the same map at the evaluation's date
        (:func:`opportunity_map.coverage`): the report then shows each territory's
        gaps (:meth:`~opportunity_map.finder.Coverage.summary`).

    Returns
    -------
    dict of str to pathlib.Path
        ``{"csv": .../evaluation.csv, "xlsx": .../evaluation.xlsx,
        "html": .../evaluation.html}``.

    Raises
    ------
    OSError
        If the folder cannot be created or written; no file is left half-written.

    Notes
    -----
    Every file is first rendered in memory, then written to a temporary file in
    ``out_dir`` and moved into place with :func:`os.replace`, which is atomic on the
    same file system: a reader never sees a partial file.

    Examples
    --------
    >>> ev = evaluate(m, baseline="2026-03-31", as_of="2028-12-31", seed=1)  # doctest: +SKIP
    >>> write_evaluation(ev, "valutazione_2028")  # doctest: +SKIP
    {'csv': PosixPath('valutazione_2028/evaluation.csv'), ...}
    """
    out = Path(out_dir)
    contents = {
        "csv": evaluation.table.to_csv(index=False).encode("utf-8"),
        "xlsx": render_xlsx(evaluation),
        "html": render_html(evaluation, coverage=coverage).encode("utf-8"),
    }
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for kind, data in contents.items():
        path = out / f"evaluation.{kind}"
        write_bytes_atomic(path, data)
        paths[kind] = path
        logger.info("wrote %s", path)
    return paths


# --------------------------------------------------------------------------------------
# Excel
# --------------------------------------------------------------------------------------


def render_xlsx(evaluation: Evaluation) -> bytes:
    """The Excel workbook of an evaluation, as bytes.

    Sheets: ``valutazione`` (the table), ``matrici_blocchi`` (5 x 5 block densities
    of the panel at the baseline and at the later date, per territory),
    ``blocchi`` (the same in long form), ``serie_semestrale``, ``parametri`` and
    ``legenda`` (the meaning of each column, in Italian).

    The workbook is written by :func:`opportunity_map._xlsx.workbook_bytes`: numbers
    and dates are typed cells with Italian formats, every string (a territory name
    included) is a text cell, never a formula, and an infinite bound is the text
    ``inf``.

    Raises
    ------
    DataError
        If a value cannot be held by Excel (a territory name with a control
        character, a note over 32,767 characters).
    """
    names = _names(evaluation)
    labels = [GROUP_LABELS[g] for g in GROUPS]
    density_formats = dict.fromkeys(labels, _DENSITY_FORMAT)
    blocks = []
    row = 0
    for scope, frame in evaluation.blocks.groupby("territory", sort=False):
        title = pd.DataFrame({
            "territorio": [names.get(str(scope), str(scope))],
            "baseline": [format_date(evaluation.baseline)],
            "data di confronto": [format_date(evaluation.as_of)],
        })
        blocks.append(Block(title, row=row))
        for col, (wave, caption) in enumerate(
            (("density_baseline", "Baseline"), ("density_at", "Data di confronto"))
        ):
            matrix = _block_matrix(frame, wave)
            matrix.index = pd.Index(labels, name=caption)
            matrix.columns = labels
            blocks.append(Block(matrix, row=row + 3, column=col * (len(GROUPS) + 2),
                                index=True, formats=density_formats))
        row += len(GROUPS) + 6
    legend = pd.DataFrame({
        "colonna": list(evaluation.table.columns),
        "significato": [COLUMN_LEGEND.get(c, "") for c in evaluation.table.columns],
    })
    sheets = [
        Sheet(_SHEETS["table"], evaluation.table, formats=_formats(evaluation.table),
              freeze_header=True),
        Sheet(_SHEETS["matrices"], blocks=blocks),
        Sheet(_SHEETS["blocks"], evaluation.blocks, formats=_formats(evaluation.blocks),
              freeze_header=True),
        Sheet(_SHEETS["series"], evaluation.series, formats=_formats(evaluation.series),
              freeze_header=True),
        Sheet(_SHEETS["parameters"], _parameters(evaluation)),
        Sheet(_SHEETS["legend"], legend),
    ]
    return workbook_bytes(sheets, where="evaluation.xlsx")


_DENSITY_FORMAT = "0.0000"


def _formats(table: pd.DataFrame) -> dict[str, str]:
    """Number formats of the float columns of the evaluation tables, by name."""
    formats = {}
    for column in table.columns:
        name = str(column)
        if name in ("se_pct", "target_pct"):
            formats[name] = "0.0"
        elif name.endswith("_pct"):
            formats[name] = "+0.0;-0.0;0.0"
        elif name == "p_no_increase":
            formats[name] = "0.000"
        elif name.startswith("avg_degree"):
            formats[name] = "0.00"
        elif "density" in name:
            formats[name] = _DENSITY_FORMAT
    return formats


def _parameters(evaluation: Evaluation) -> pd.DataFrame:
    return pd.DataFrame({
        "parametro": [
            "baseline", "data di confronto", "obiettivo (%)", "replicati bootstrap", "seed",
            "metodo", "versione opportunity_map",
        ],
        "valore": [
            format_date(evaluation.baseline), format_date(evaluation.as_of),
            f"{100 * evaluation.target:g}", str(evaluation.n_boot), str(evaluation.seed),
            "panel fisso + bootstrap dei vertici appaiato (Snijders e Borgatti 1999), "
            "intervallo percentile al 95%",
            _version(),
        ],
    })


def _block_matrix(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    matrix = frame.pivot(index="group_a", columns="group_b", values=column)
    return matrix.reindex(index=list(GROUPS), columns=list(GROUPS))


# --------------------------------------------------------------------------------------
# HTML
# --------------------------------------------------------------------------------------


def _coverage_tables(coverage: Coverage, names: dict[str, str]) -> list[_SeriesTable]:
    """One short table per territory of the coverage, numbers in Italian notation."""
    out = []
    for slug in dict.fromkeys(coverage.comuni["territory"]):
        table = coverage.summary(str(slug))
        rows = [[str(kind), format_number(n, 0), format_number(people, 0),
                 format_number(100 * share, 1) + "%"]
                for kind, n, people, share in table.itertuples(index=False)]
        out.append(_SeriesTable(_name(names, slug), rows))
    return out


def render_html(evaluation: Evaluation, *, coverage: Coverage | None = None) -> str:
    """The self-contained Italian HTML report of an evaluation.

    Parameters
    ----------
    evaluation : Evaluation
        The result of :func:`opportunity_map.evaluation.evaluate`.
    coverage : Coverage, optional
        Each territory's coverage gaps, shown in a section of their own.

    Returns
    -------
    str
        The whole HTML document.

    Notes
    -----
    The markup and the styles live in the package templates ``report.html.j2`` and
    ``report.css``, rendered by Jinja2 with autoescaping. This function only prepares
    plain values (numbers already formatted in Italian notation, verdict labels,
    territory names, chart coordinates): every one of them is escaped by the
    template, and no data is ever compiled as template source. No external resource
    is used: the template draws the forest plot and the semester small multiples as
    inline SVG and the block densities as HTML tables coloured on one shared
    colour-blind-safe scale, with the numbers as text.
    """
    names = _names(evaluation)
    table = evaluation.table
    counts = table["verdict"].value_counts()
    context: dict[str, Any] = {
        "title": (
            "Densità della rete: variazione rispetto alla baseline "
            f"({format_date(evaluation.baseline)} – {format_date(evaluation.as_of)})"
        ),
        "target_pct": format_number(100 * evaluation.target, 1),
        "tie_definition": TIE_DEFINITION,
        "interval_caveat": INTERVAL_CAVEAT,
        "verdict_rule": verdict_rule(100 * evaluation.target),
        "region": _region_summary(table),
        "n_rows": len(table),
        "verdict_counts": [
            (label, int(counts.get(code, 0)))
            for code, label in VERDICT_LABELS.items()
            if counts.get(code, 0)
        ],
        "forest": _forest(evaluation, names),
        "table_header": [label for _, label in _HTML_COLUMNS],
        "table_rows": _rows(table, names, _HTML_COLUMNS),
        "detail_header": [label for _, label in _HTML_DETAIL_COLUMNS],
        "detail_rows": _rows(table, names, _HTML_DETAIL_COLUMNS),
        "series_chart": _series_chart(evaluation, names),
        "series_header": [label for _, label in _SERIES_COLUMNS],
        "series_tables": [
            _SeriesTable(_name(names, scope),
                         [_series_row(record) for record in frame.to_dict("records")])
            for scope, frame in evaluation.series.groupby("territory", sort=False)
        ],
        "blocks": _block_charts(evaluation, names),
        "coverage": None if coverage is None else _coverage_tables(coverage, names),
        "coverage_notes": () if coverage is None else coverage.notes,
        "coverage_threshold": "" if coverage is None else format_number(
            coverage.threshold_km, 0),
        "n_boot": evaluation.n_boot,
        "seed": evaluation.seed,
        "version": _version(),
    }
    return templates().get_template(_TEMPLATE).render(context)


_TEMPLATE = "report.html.j2"


@dataclass(frozen=True)
class _Cell:
    """One cell of the results table: formatted text, alignment, verdict code."""

    text: str
    left: bool = False
    verdict: str | None = None


@dataclass(frozen=True)
class _Row:
    name: str
    cells: list[_Cell]


@dataclass(frozen=True)
class _SeriesTable:
    name: str
    rows: list[list[str]]


def _names(evaluation: Evaluation) -> dict[str, str]:
    table = evaluation.table
    if "territory_name" not in table:
        return {}
    return {str(t): str(n) for t, n in zip(table["territory"], table["territory_name"],
                                            strict=True)}


def _name(names: dict[str, str], scope: object) -> str:
    return names.get(str(scope), str(scope))


def _region_summary(table: pd.DataFrame) -> dict[str, str] | None:
    """The formatted figures of the ``lombardia`` row, or None without that row."""
    region = table[table["territory"] == "lombardia"]
    if region.empty:
        return None
    return change_figures(region.iloc[0])


#: The results table: the verdict right after the territory, so that it is never the
#: column lost to a narrow screen or page; 13 columns fit 1366 px and A4 landscape.
_HTML_COLUMNS: tuple[tuple[str, str], ...] = (
    ("verdict", "Esito"),
    ("change_pct", "Variazione %"),
    ("ci_low_pct", "IC 95% inf."),
    ("ci_high_pct", "IC 95% sup."),
    ("p_no_increase", "Quota senza aumento"),
    ("n_panel", "Panel"),
    ("n_entrants", "Entrati"),
    ("n_exits", "Usciti"),
    ("ties_baseline", "Legami baseline"),
    ("ties_at", "Legami data"),
    ("density_baseline", "Densità baseline"),
    ("density_at", "Densità data"),
    ("note", "Note"),
)

#: The second table of the report: the other figures of every territory.
_HTML_DETAIL_COLUMNS: tuple[tuple[str, str], ...] = (
    ("se_pct", "Errore std."),
    ("target_met_point", "Stima puntuale ≥ obiettivo"),
    ("weighted_density_baseline", "Densità pesata baseline"),
    ("weighted_density_at", "Densità pesata data"),
    ("density_full_baseline", "Densità rete completa baseline"),
    ("density_full_at", "Densità rete completa data"),
)


def _rows(table: pd.DataFrame, names: dict[str, str],
          columns: tuple[tuple[str, str], ...]) -> list[_Row]:
    """The formatted rows of one of the report's tables, one per territory."""
    return [_Row(_name(names, record["territory"]),
                 [_cell(column, record.get(column)) for column, _ in columns])
            for record in table.to_dict("records")]


def _cell(column: str, value: object) -> _Cell:
    """One cell of the results table, formatted according to its column."""
    if column == "verdict":
        return _Cell(verdict_label(value), left=True, verdict=str(value))
    if column == "note":
        return _Cell(value if isinstance(value, str) else "", left=True)
    if column == "target_met_point":
        return _Cell("–" if value is None or value is pd.NA
                     else ("sì" if bool(value) else "no"))
    if column.startswith(("n_", "ties_")):
        return _Cell(format_number(value, 0))
    if column == "p_no_increase":
        return _Cell(format_number(value, 3))
    if column == "se_pct":
        return _Cell(format_number(value, 1))
    if column.endswith("_pct"):
        return _Cell(format_number(value, 1, signed=True))
    return _Cell(format_density(value))


_SERIES_COLUMNS: tuple[tuple[str, str], ...] = (
    ("date", "Data"), ("n_actors", "Attori"), ("ties", "Legami"), ("density", "Densità"),
    ("n_panel", "Panel"), ("ties_panel", "Legami panel"),
    ("density_panel", "Densità panel"), ("change_pct", "Variazione panel %"),
)


def _series_row(record: dict[Any, Any]) -> list[str]:
    """The formatted cells of one row of the semester series."""
    cells = [format_date(record["date"])]
    for column, _ in _SERIES_COLUMNS[1:]:
        if column == "change_pct":
            cells.append(format_number(record[column], 1, signed=True))
        elif column.startswith("density"):
            cells.append(format_density(record[column]))
        else:
            cells.append(format_number(record[column], 0))
    return cells


# --------------------------------------------------------------------------------------
# Charts: plain values for the template, which draws them as inline SVG and HTML
# --------------------------------------------------------------------------------------
#
# No chart is a picture: the template builds every element from the values below
# (coordinates already formatted as numbers, labels as plain text escaped by
# autoescaping), so the report renders in milliseconds, text stays text, and the
# numbers themselves are in the page as the charts' text alternative.

#: Marker shape of every verdict in the forest plot (the colour is in report.css,
#: Okabe-Ito palette, and the verdict is also written next to each row).
_VERDICT_SHAPES = {"met": "circle", "not_met": "diamond", "inconclusive": "square"}

#: Sequential, colour-blind-safe scale of the block densities (matplotlib's
#: 'cividis' sampled at 11 points, 0 to 1), interpolated linearly.
_CIVIDIS: tuple[tuple[int, int, int], ...] = (
    (0, 34, 78), (8, 51, 112), (53, 69, 108), (79, 87, 108), (102, 105, 112),
    (125, 124, 120), (148, 142, 119), (174, 163, 113), (200, 184, 102),
    (229, 207, 82), (254, 232, 56),
)


def _xy(value: float) -> str:
    """An SVG coordinate: one decimal, no trailing ``.0``."""
    return f"{value:.1f}".removesuffix(".0")


def _nice_ticks(lo: float, hi: float, count: int = 6) -> list[float]:
    """Round tick values covering ``[lo, hi]``, about ``count`` of them."""
    span = hi - lo
    if not math.isfinite(span) or span <= 0:
        return [lo]
    raw = span / max(count - 1, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.ceil(lo / step - 1e-9)
    last = math.floor(hi / step + 1e-9)
    return [round(i * step, 12) for i in range(first, last + 1)]


def _tick_digits(ticks: list[float]) -> int:
    """Decimal digits that tell the ticks apart."""
    for digits in range(0, 6):
        if all(abs(t - round(t, digits)) < 1e-9 for t in ticks):
            return digits
    return 6


@dataclass(frozen=True)
class _Tick:
    pos: str
    label: str


@dataclass(frozen=True)
class _ForestRow:
    """One territory of the forest plot; ``x`` is None when not evaluable."""

    y: str
    name: str
    verdict: str
    verdict_label: str
    shape: str
    x: str | None
    ci_from: str | None
    ci_to: str | None
    open_high: bool
    summary: str


@dataclass(frozen=True)
class _Forest:
    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int
    label_x: int
    ticks: list[_Tick]
    target_x: str
    zero_x: str | None
    target_label: str
    rows: list[_ForestRow]


_FOREST_ROW = 26


def _forest(evaluation: Evaluation, names: dict[str, str]) -> _Forest:
    """The forest plot: change of the panel density with its 95% interval."""
    table = evaluation.table
    target_pct = 100 * evaluation.target
    values = pd.concat([table["change_pct"], table["ci_low_pct"], table["ci_high_pct"]])
    values = values.astype(float)
    finite = values[np.isfinite(values)].tolist()
    lo = float(min([0.0, target_pct, *finite]))
    hi = float(max([0.0, target_pct, *finite]))
    pad = 0.05 * (hi - lo or 1.0)
    ticks = _nice_ticks(lo - pad, hi + pad, 8)
    lo, hi = min(lo - pad, ticks[0]), max(hi + pad, ticks[-1])
    longest = max((len(_name(names, t)) for t in table["territory"]), default=8)
    left = min(max(90, 7 * longest + 16), 260)
    width, label_w = 900, 120
    right = width - label_w
    top, bottom = 26, 44
    height = top + _FOREST_ROW * max(len(table), 1) + bottom

    def x_of(value: float) -> float:
        return left + (right - left) * (value - lo) / (hi - lo)

    digits = _tick_digits(ticks)
    rows = []
    for i, record in enumerate(table.to_dict("records")):
        verdict = str(record["verdict"])
        change = float(record["change_pct"])
        low, high = float(record["ci_low_pct"]), float(record["ci_high_pct"])
        name = _name(names, record["territory"])
        y = _xy(top + _FOREST_ROW * (i + 0.5))
        if math.isnan(change):
            rows.append(_ForestRow(y, name, verdict, verdict_label(verdict), "", None,
                                   None, None, False,
                                   f"{name}: non valutabile"))
            continue
        has_ci = not math.isnan(low)
        summary = f"{name}: {format_number(change, 1, signed=True)}%"
        if has_ci:
            summary += (f", intervallo da {format_number(low, 1, signed=True)}% "
                        f"a {format_number(high, 1, signed=True)}%")
        rows.append(_ForestRow(
            y, name, verdict, verdict_label(verdict), _VERDICT_SHAPES.get(verdict, "circle"),
            _xy(x_of(change)),
            _xy(x_of(max(low, lo))) if has_ci else None,
            _xy(x_of(min(high, hi))) if has_ci else None,
            has_ci and math.isinf(high),
            f"{summary}; esito {verdict_label(verdict).lower()}",
        ))
    return _Forest(
        width=width, height=height, left=left, right=right, top=top, bottom=bottom,
        label_x=right + 12,
        ticks=[_Tick(_xy(x_of(t)), format_number(t, digits)) for t in ticks],
        target_x=_xy(x_of(target_pct)),
        zero_x=_xy(x_of(0.0)) if lo <= 0 <= hi else None,
        target_label=f"obiettivo {format_number(target_pct, 1, signed=True)}%",
        rows=rows,
    )


@dataclass(frozen=True)
class _Mark:
    x: str
    y: str
    title: str


@dataclass(frozen=True)
class _SeriesPanel:
    """One territory of the semester small multiples: lines split at missing values."""

    name: str
    full_lines: list[str]
    panel_lines: list[str]
    full_marks: list[_Mark]
    panel_marks: list[_Mark]
    x_ticks: list[_Tick]


@dataclass(frozen=True)
class _SeriesChart:
    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int
    y_ticks: list[_Tick]
    panels: list[_SeriesPanel]


def _series_chart(evaluation: Evaluation, names: dict[str, str]) -> _SeriesChart:
    """Small multiples of the semester series, one shared vertical scale."""
    series = evaluation.series
    width, height = 340, 200
    left, right, top, bottom = 52, width - 26, 10, height - 28
    dens = pd.concat([series["density"], series["density_panel"]]).astype(float)
    finite = dens[np.isfinite(dens)]
    ymax = float(finite.max()) if finite.size and finite.max() > 0 else 1.0
    y_ticks = _nice_ticks(0.0, ymax * 1.05, 5)
    ytop = max(y_ticks[-1], ymax)
    digits = _tick_digits(y_ticks)

    def y_of(value: float) -> float:
        return bottom - (bottom - top) * value / ytop

    panels = []
    for scope, frame in series.groupby("territory", sort=False):
        dates = pd.to_datetime(frame["date"])
        t0, t1 = dates.min(), dates.max()
        span = (t1 - t0).total_seconds() or 1.0
        xs = [left + 8 + (right - left - 16) * (d - t0).total_seconds() / span for d in dates]
        if t0 == t1:
            xs = [(left + right) / 2 for _ in xs]
        ticks, last = [], -1e9
        for x, d in zip(xs, dates, strict=True):
            if x - last >= 56:
                ticks.append(_Tick(_xy(x), f"{d.month:02d}/{d.year}"))
                last = x
        lines: dict[str, tuple[list[str], list[_Mark]]] = {}
        for column, label in (("density", "rete completa"), ("density_panel", "panel")):
            segments: list[list[str]] = [[]]
            marks = []
            for x, d, value in zip(xs, dates, frame[column].astype(float), strict=True):
                if not math.isfinite(value):
                    segments.append([])
                    continue
                segments[-1].append(f"{_xy(x)},{_xy(y_of(value))}")
                marks.append(_Mark(_xy(x), _xy(y_of(value)),
                                   f"{label}, {format_date(d)}: {format_density(value)}"))
            lines[column] = ([" ".join(s) for s in segments if len(s) > 1], marks)
        panels.append(_SeriesPanel(
            _name(names, scope), lines["density"][0], lines["density_panel"][0],
            lines["density"][1], lines["density_panel"][1], ticks,
        ))
    return _SeriesChart(
        width=width, height=height, left=left, right=right, top=top, bottom=bottom,
        y_ticks=[_Tick(_xy(y_of(t)), format_number(t, digits)) for t in y_ticks],
        panels=panels,
    )


def _color(fraction: float) -> tuple[str, bool]:
    """The cividis colour of ``fraction`` in [0, 1] and whether it needs light text."""
    f = min(max(fraction, 0.0), 1.0) * (len(_CIVIDIS) - 1)
    i = min(int(f), len(_CIVIDIS) - 2)
    w = f - i
    rgb = [round(a + (b - a) * w) for a, b in zip(_CIVIDIS[i], _CIVIDIS[i + 1], strict=True)]
    lin = [(c / 255) / 12.92 if c <= 10 else ((c / 255 + 0.055) / 1.055) ** 2.4 for c in rgb]
    luminance = 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]
    return "#{:02x}{:02x}{:02x}".format(*rgb), luminance < 0.18


@dataclass(frozen=True)
class _HeatCell:
    text: str
    background: str | None
    light: bool


@dataclass(frozen=True)
class _HeatRow:
    label: str
    cells: list[_HeatCell]


@dataclass(frozen=True)
class _HeatMatrix:
    caption: str
    rows: list[_HeatRow]


@dataclass(frozen=True)
class _BlockChart:
    name: str
    matrices: list[_HeatMatrix]


@dataclass(frozen=True)
class _Blocks:
    """Every territory's block densities, coloured on one shared scale."""

    columns: list[str]
    charts: list[_BlockChart]
    gradient: str
    ticks: list[_Tick]


def _heat_text(value: float) -> str:
    """A block density as the heat maps show it: two decimals, ``<0,01`` when tiny.

    The full precision stays in evaluation.csv and evaluation.xlsx.

    Examples
    --------
    >>> _heat_text(0.123456), _heat_text(0.003), _heat_text(0.0), _heat_text(1.0)
    ('0,12', '<0,01', '0', '1,00')
    """
    if value == 0:
        return "0"
    if 0 < value < 0.005:
        return "<" + format_number(0.01, 2)
    return format_number(value, 2)


def _block_charts(evaluation: Evaluation, names: dict[str, str]) -> _Blocks:
    """Block-density tables in the order of ``evaluation.blocks``, one colour scale."""
    blocks = evaluation.blocks
    values = pd.concat([blocks["density_baseline"], blocks["density_at"]]).astype(float)
    finite = values[np.isfinite(values)]
    vmax = float(finite.max()) if finite.size and finite.max() > 0 else 1.0
    labels = [_GROUP_SHORT[g] for g in GROUPS]
    charts = []
    for scope, frame in blocks.groupby("territory", sort=False):
        matrices = []
        for column, caption in (("density_baseline", "Baseline"),
                                ("density_at", "Data di confronto")):
            matrix = _block_matrix(frame, column).to_numpy(dtype=float)
            rows = []
            for label, line in zip(labels, matrix, strict=True):
                cells = []
                for value in line:
                    if math.isnan(value):
                        cells.append(_HeatCell("–", None, False))
                    else:
                        background, light = _color(value / vmax)
                        cells.append(_HeatCell(_heat_text(value), background, light))
                rows.append(_HeatRow(label, cells))
            matrices.append(_HeatMatrix(caption, rows))
        charts.append(_BlockChart(_name(names, scope), matrices))
    ticks = _nice_ticks(0.0, vmax, 5)
    digits = _tick_digits(ticks)
    stops = ", ".join(f"{_color(k / 10)[0]} {10 * k}%" for k in range(11))
    return _Blocks(
        columns=labels,
        charts=charts,
        gradient=f"linear-gradient(to right, {stops})",
        ticks=[_Tick(f"{100 * t / vmax:.1f}", format_number(t, digits)) for t in ticks],
    )
