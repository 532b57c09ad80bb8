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
    A self-contained Italian report for the funder: charts embedded as base64 PNG,
    no external resource. The page is the Jinja2 template
    ``templates/report.html.j2`` (styles in ``templates/report.css``), rendered with
    autoescaping: every string from the data is passed as a variable and escaped.
"""

from __future__ import annotations

import base64
import io
import logging
import math
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib import rc_context
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ._atomic import write_bytes_atomic
from ._format import format_date, format_density, format_number
from ._html import templates
from ._xlsx import Block, Sheet, workbook_bytes
from .evaluation import Evaluation
from .schema import GROUP_LABELS, GROUPS, TIE_DEFINITION

__all__ = ["COLUMN_LEGEND", "VERDICT_LABELS", "render_html", "render_xlsx", "write_evaluation"]

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
_VERDICT_COLORS = {
    "met": "#1a7f37",
    "not_met": "#c62828",
    "inconclusive": "#d17a00",
    "not_evaluable": "#777777",
}

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


def write_evaluation(evaluation: Evaluation, out_dir: str | Path) -> dict[str, Path]:
    """Write the evaluation as CSV, Excel and a self-contained Italian HTML report.

    Parameters
    ----------
    evaluation : Evaluation
        The result of :func:`opportunity_map.evaluation.evaluate`.
    out_dir : str or pathlib.Path
        Output folder, created if missing. Existing files of the same name are
        replaced.

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
        "html": render_html(evaluation).encode("utf-8"),
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


def render_html(evaluation: Evaluation) -> str:
    """The self-contained Italian HTML report of an evaluation.

    Parameters
    ----------
    evaluation : Evaluation
        The result of :func:`opportunity_map.evaluation.evaluate`.

    Returns
    -------
    str
        The whole HTML document.

    Notes
    -----
    The markup and the styles live in the package templates ``report.html.j2`` and
    ``report.css``, rendered by Jinja2 with autoescaping. This function only prepares
    plain values (numbers already formatted in Italian notation, verdict labels,
    territory names, base64 PNG data): every one of them is escaped by the template,
    and no data is ever compiled as template source. No external resource is used:
    charts are PNG images drawn with matplotlib's Agg backend and embedded as
    ``data:`` URIs.
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
        "region": _region_summary(table),
        "n_rows": len(table),
        "verdict_counts": [
            (label, int(counts.get(code, 0)))
            for code, label in VERDICT_LABELS.items()
            if counts.get(code, 0)
        ],
        "forest": _Image.of(
            _forest_png(evaluation, names),
            "Variazione della densità per territorio con intervallo al 95% e linea "
            "dell'obiettivo",
        ),
        "table_header": [label for _, label in _HTML_COLUMNS],
        "table_rows": [
            _Row(_name(names, record["territory"]),
                 [_cell(column, record.get(column)) for column, _ in _HTML_COLUMNS])
            for record in table.to_dict("records")
        ],
        "series_chart": _Image.of(
            _series_png(evaluation, names),
            "Andamento semestrale della densità per territorio",
        ),
        "series_header": [label for _, label in _SERIES_COLUMNS],
        "series_tables": [
            _SeriesTable(_name(names, scope),
                         [_series_row(record) for record in frame.to_dict("records")])
            for scope, frame in evaluation.series.groupby("territory", sort=False)
        ],
        "block_charts": _block_charts(evaluation, names),
        "n_boot": evaluation.n_boot,
        "seed": evaluation.seed,
        "version": _version(),
    }
    return templates().get_template(_TEMPLATE).render(context)


_TEMPLATE = "report.html.j2"


@dataclass(frozen=True)
class _Image:
    """A PNG image for the template: base64 data and alternative text."""

    data: str
    alt: str

    @classmethod
    def of(cls, png: bytes, alt: str) -> _Image:
        return cls(base64.b64encode(png).decode("ascii"), alt)


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


@dataclass(frozen=True)
class _BlockChart:
    name: str
    image: _Image


def _names(evaluation: Evaluation) -> dict[str, str]:
    table = evaluation.table
    if "territory_name" not in table:
        return {}
    return {str(t): str(n) for t, n in zip(table["territory"], table["territory_name"],
                                            strict=True)}


def _name(names: dict[str, str], scope: object) -> str:
    return names.get(str(scope), str(scope))


def _verdict_label(code: object) -> str:
    return VERDICT_LABELS.get(str(code), str(code))


def _region_summary(table: pd.DataFrame) -> dict[str, str] | None:
    """The formatted figures of the ``lombardia`` row, or None without that row."""
    region = table[table["territory"] == "lombardia"]
    if region.empty:
        return None
    r = region.iloc[0]
    return {
        "n_panel": format_number(r["n_panel"], 0),
        "density_baseline": format_density(r["density_baseline"]),
        "density_as_of": format_density(r["density_at"]),
        "change_pct": format_number(r["change_pct"], 1, signed=True),
        "ci_low_pct": format_number(r["ci_low_pct"], 1, signed=True),
        "ci_high_pct": format_number(r["ci_high_pct"], 1, signed=True),
        "verdict": str(r["verdict"]),
        "verdict_label": _verdict_label(r["verdict"]),
    }


_HTML_COLUMNS: tuple[tuple[str, str], ...] = (
    ("n_panel", "Panel"),
    ("n_entrants", "Entrati"),
    ("n_exits", "Usciti"),
    ("ties_baseline", "Legami baseline"),
    ("ties_at", "Legami data"),
    ("density_baseline", "Densità baseline"),
    ("density_at", "Densità data"),
    ("change_pct", "Variazione %"),
    ("ci_low_pct", "IC 95% inf."),
    ("ci_high_pct", "IC 95% sup."),
    ("se_pct", "Errore std."),
    ("p_no_increase", "Quota senza aumento"),
    ("verdict", "Esito"),
    ("target_met_point", "Stima puntuale ≥ obiettivo"),
    ("weighted_density_baseline", "Densità pesata baseline"),
    ("weighted_density_at", "Densità pesata data"),
    ("density_full_baseline", "Densità rete completa baseline"),
    ("density_full_at", "Densità rete completa data"),
    ("note", "Note"),
)


def _cell(column: str, value: object) -> _Cell:
    """One cell of the results table, formatted according to its column."""
    if column == "verdict":
        return _Cell(_verdict_label(value), left=True, verdict=str(value))
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


def _block_charts(evaluation: Evaluation, names: dict[str, str]) -> list[_BlockChart]:
    """One block-density chart per territory, in the order of ``evaluation.blocks``."""
    charts = []
    for scope, frame in evaluation.blocks.groupby("territory", sort=False):
        name = _name(names, scope)
        image = _Image.of(_blocks_png(frame, name), f"Densità tra gruppi: {name}")
        charts.append(_BlockChart(name, image))
    return charts


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
# Charts (matplotlib, Agg canvas, no pyplot state)
# --------------------------------------------------------------------------------------

_RC: dict[Any, Any] = {"text.parse_math": False, "font.size": 9}


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    FigureCanvasAgg(fig).print_png(buffer)  # type: ignore[no-untyped-call]
    return buffer.getvalue()


def _forest_png(evaluation: Evaluation, names: dict[str, str]) -> bytes:
    table = evaluation.table.iloc[::-1].reset_index(drop=True)
    target_pct = 100 * evaluation.target
    with rc_context(_RC):
        fig = Figure(figsize=(8, 0.45 * len(table) + 1.4), dpi=110, layout="constrained")
        ax = fig.add_subplot()
        finite = pd.concat([table["change_pct"], table["ci_low_pct"], table["ci_high_pct"]])
        finite = finite[np.isfinite(finite.astype(float))]
        lo = min([0.0, target_pct, *finite.tolist()])
        hi = max([0.0, target_pct, *finite.tolist()])
        pad = 0.08 * (hi - lo or 1.0)
        lo, hi = lo - pad, hi + pad
        for y, record in enumerate(table.to_dict("records")):
            color = _VERDICT_COLORS.get(str(record["verdict"]), "#777777")
            change = float(record["change_pct"])
            if math.isnan(change):
                ax.text(0, y, " non valutabile", va="center", ha="left", color=color)
                continue
            low, high = float(record["ci_low_pct"]), float(record["ci_high_pct"])
            if not math.isnan(low):
                ax.plot([low, min(high, hi)], [y, y], color=color, lw=2.2)
                if math.isinf(high):
                    ax.annotate("", xy=(hi, y), xytext=(hi - pad, y),
                                arrowprops={"arrowstyle": "->", "color": color})
            ax.plot([change], [y], "o", color=color, ms=6)
        ax.axvline(target_pct, color="#333333", ls="--", lw=1)
        ax.axvline(0, color="#999999", lw=0.8)
        ax.text(target_pct, len(table) - 0.4, f" obiettivo +{target_pct:g}%", va="bottom",
                ha="left", fontsize=8)
        ax.set_xlim(lo, hi)
        ax.set_ylim(-0.7, len(table) + 0.2)
        ax.set_yticks(range(len(table)),
                      labels=[names.get(str(t), str(t)) for t in table["territory"]])
        ax.set_xlabel("Variazione della densità del panel (%)")
        ax.grid(axis="x", color="#eeeeee")
        return _png(fig)


def _series_png(evaluation: Evaluation, names: dict[str, str]) -> bytes:
    groups = list(evaluation.series.groupby("territory", sort=False))
    ncols = 3
    nrows = max(1, math.ceil(len(groups) / ncols))
    with rc_context(_RC):
        fig = Figure(figsize=(10, 2.3 * nrows + 0.6), dpi=100, layout="constrained")
        axes = fig.subplots(nrows, ncols, squeeze=False)
        for ax, (scope, frame) in zip(axes.ravel(), groups, strict=False):
            dates = pd.to_datetime(frame["date"])
            ax.plot(dates, frame["density"], "o-", color="#1f77b4", ms=3,
                    label="rete completa")
            ax.plot(dates, frame["density_panel"], "s--", color="#ff7f0e", ms=3,
                    label="panel")
            ax.set_title(names.get(str(scope), str(scope)), fontsize=9)
            ax.tick_params(axis="x", labelrotation=30, labelsize=7)
            ax.tick_params(axis="y", labelsize=7)
            ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 3))
            ax.grid(color="#eeeeee")
        for ax in axes.ravel()[len(groups):]:
            ax.set_visible(False)
        if groups:
            axes.ravel()[0].legend(fontsize=7)
        return _png(fig)


def _blocks_png(frame: pd.DataFrame, name: str) -> bytes:
    matrices = [_block_matrix(frame, "density_baseline"), _block_matrix(frame, "density_at")]
    values = np.concatenate([mx.to_numpy(dtype=float).ravel() for mx in matrices])
    finite = values[np.isfinite(values)]
    vmax = float(finite.max()) if finite.size and finite.max() > 0 else 1.0
    labels = [_GROUP_SHORT[g] for g in GROUPS]
    with rc_context(_RC):
        fig = Figure(figsize=(9, 3.6), dpi=100, layout="constrained")
        axes = fig.subplots(1, 2)
        image = None
        for ax, matrix, caption in zip(axes, matrices, ("Baseline", "Data di confronto"),
                                       strict=True):
            data = np.ma.masked_invalid(matrix.to_numpy(dtype=float))
            ax.set_facecolor("#dddddd")
            image = ax.imshow(data, cmap="Blues", vmin=0, vmax=vmax)
            ax.set_xticks(range(len(labels)), labels=labels)
            ax.set_yticks(range(len(labels)), labels=labels)
            ax.set_title(f"{name} – {caption}", fontsize=9)
            for (i, j), value in np.ndenumerate(matrix.to_numpy(dtype=float)):
                text = "–" if math.isnan(value) else format_density(value)
                dark = not math.isnan(value) and value > 0.6 * vmax
                ax.text(j, i, text, ha="center", va="center", fontsize=7,
                        color="white" if dark else "#222222")
        if image is not None:
            fig.colorbar(image, ax=list(axes), shrink=0.8, label="densità")
        return _png(fig)
