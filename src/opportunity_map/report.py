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
    "UNBOUNDED",
    "VERDICT_LABELS",
    "XLSX_HEADERS",
    "change_figures",
    "interval_text",
    "range_text",
    "render_html",
    "render_xlsx",
    "shown_verdict",
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
        "verdict": shown_verdict(record),
        "verdict_label": verdict_label(shown_verdict(record)),
    }
    if _unbounded(record):
        figures["ci_high_pct"] = UNBOUNDED
    figures["interval"] = interval_text(figures)
    return figures


#: How an interval's missing upper bound is written: never as a number.
UNBOUNDED = "illimitato"


def _unbounded(record: Any) -> bool:
    """Whether a row's headline interval has no upper bound."""
    flag = record.get("ci_unbounded", False) if hasattr(record, "get") else False
    high = record.get("ci_high_pct", math.nan) if hasattr(record, "get") else math.nan
    try:
        infinite = math.isinf(float(high))
    except (TypeError, ValueError):
        infinite = False
    return (flag is not None and flag is not pd.NA and bool(flag)) or infinite


def shown_verdict(record: Any) -> str:
    """The verdict code the report shows for one row of the evaluation table.

    The verdict of the table, except that "non raggiunto" never sits next to an
    interval with no upper bound (it would contradict it): such a row is shown as
    ``inconclusive``.

    Examples
    --------
    >>> shown_verdict({"verdict": "not_met", "ci_unbounded": True})
    'inconclusive'
    >>> shown_verdict({"verdict": "met", "ci_unbounded": False, "ci_high_pct": 50.0})
    'met'
    """
    verdict = str(record["verdict"])
    if verdict == "not_met" and _unbounded(record):
        return "inconclusive"
    return verdict


def interval_text(figures: dict[str, str]) -> str:
    """``"intervallo al 95% da −5,0% a +40,0%"``; empty when a bound is missing.

    An upper bound that does not exist is written ``illimitato``, never as a number.

    Parameters
    ----------
    figures : dict of str to str
        The result of :func:`change_figures`.

    Examples
    --------
    >>> interval_text({"ci_low_pct": "+12,0", "ci_high_pct": "illimitato"})
    'intervallo al 95% da +12,0% a illimitato'
    """
    return "intervallo al 95% " + range_text(figures["ci_low_pct"], figures["ci_high_pct"]) \
        if MISSING not in (figures["ci_low_pct"], figures["ci_high_pct"]) else ""


def range_text(low: str, high: str) -> str:
    """``"da −5,0% a +40,0%"`` from formatted bounds; ``illimitato`` stays a word.

    Examples
    --------
    >>> range_text("+12,0", "illimitato"), range_text("−5,0", "+40,0")
    ('da +12,0% a illimitato', 'da −5,0% a +40,0%')
    """
    def pct(text: str) -> str:
        return text if text in (UNBOUNDED, MISSING) else f"{text}%"

    return f"da {pct(low)} a {pct(high)}"


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
    "summary": "Sintesi",
    "table": "Valutazione",
    "power": "Potenza",
    "matrices": "Matrici dei blocchi",
    "blocks": "Blocchi",
    "series": "Serie semestrale",
    "parameters": "Parametri",
    "legend": "Legenda",
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


#: Italian header of every column of the evaluation table in ``evaluation.xlsx``
#: (``evaluation.csv`` keeps the English machine-readable names: the ``Legenda`` sheet
#: gives both).
XLSX_HEADERS: dict[str, str] = {
    "territory": "Territorio (codice)", "territory_name": "Territorio",
    "n_panel": "Organizzazioni del panel", "n_entrants": "Entrate", "n_exits": "Uscite",
    "ties_baseline": "Legami baseline", "ties_at": "Legami data di confronto",
    "density_baseline": "Densità baseline", "density_at": "Densità data di confronto",
    "change_pct": "Variazione %", "ci_low_pct": "IC 95% inferiore %",
    "ci_high_pct": "IC 95% superiore %", "se_pct": "Errore standard (punti)",
    "p_no_increase": "Quota replicati senza aumento", "target_pct": "Obiettivo %",
    "verdict": "Esito", "target_met_point": "Stima puntuale ≥ obiettivo",
    "weighted_density_baseline": "Densità pesata baseline",
    "weighted_density_at": "Densità pesata data di confronto",
    "avg_degree_baseline": "Grado medio baseline",
    "avg_degree_at": "Grado medio data di confronto",
    "density_full_baseline": "Densità rete completa baseline",
    "density_full_at": "Densità rete completa data di confronto",
    "note": "Note", "density_change_abs": "Variazione assoluta della densità",
    "ties_change_pct": "Variazione % dei legami",
    "avg_degree_change_pct": "Variazione % del grado medio",
    "weighted_change_pct": "Variazione % densità pesata",
    "weighted_ci_low_pct": "IC 95% inferiore densità pesata %",
    "weighted_ci_high_pct": "IC 95% superiore densità pesata %",
    "n_actors_baseline": "Organizzazioni attive baseline",
    "n_actors_at": "Organizzazioni attive data di confronto",
    "ties_full_baseline": "Legami rete completa baseline",
    "ties_full_at": "Legami rete completa data di confronto",
    "density_full_change_pct": "Variazione % rete completa (senza intervallo)",
    "cross_ties_baseline": "Legami con altri territori baseline",
    "cross_ties_at": "Legami con altri territori data di confronto",
    "n_boot_zero_baseline": "Replicati senza legami alla baseline",
    "n_boot_undefined": "Replicati non definiti", "ci_unbounded": "Intervallo illimitato",
    "interval_method": "Metodo dell'intervallo", "min_ties": "Legami minimi",
    "reason_not_evaluable": "Perché non valutabile",
    "alt_interval_method": "Metodo del secondo intervallo",
    "alt_ci_low_pct": "Secondo IC 95% inferiore %",
    "alt_ci_high_pct": "Secondo IC 95% superiore %",
    "alt_ci_unbounded": "Secondo intervallo illimitato",
    "p_below_target": "Probabilità sotto l'obiettivo",
    "verdict_adjusted": "Esito secondo la regola tra territori",
    "n_cohort": "Organizzazioni della coorte", "ties_cohort_baseline": "Legami coorte baseline",
    "ties_cohort_at": "Legami coorte data di confronto",
    "change_cohort_pct": "Variazione % coorte", "cohort_ci_low_pct": "IC 95% inferiore coorte %",
    "cohort_ci_high_pct": "IC 95% superiore coorte %",
    "change_network_pct": "Variazione % rete completa",
    "network_ci_low_pct": "IC 95% inferiore rete completa %",
    "network_ci_high_pct": "IC 95% superiore rete completa %",
    "ties_no_level1_baseline": "Legami livello ≥ 2 baseline",
    "ties_no_level1_at": "Legami livello ≥ 2 data di confronto",
    "change_no_level1_pct": "Variazione % senza livello 1",
    "no_level1_ci_low_pct": "IC 95% inferiore senza livello 1 %",
    "no_level1_ci_high_pct": "IC 95% superiore senza livello 1 %",
    "ei_baseline": "Indice E-I baseline", "ei_at": "Indice E-I data di confronto",
    "ei_expected": "Indice E-I atteso", "sensitivity_note": "Nota di sensibilità",
    "mde_pct": "Variazione minima rilevabile %",
    # blocks, series, power
    "group_a": "Gruppo A", "group_b": "Gruppo B", "n_a": "Organizzazioni gruppo A",
    "n_b": "Organizzazioni gruppo B", "semester": "Semestre", "date": "Data",
    "n_actors": "Organizzazioni attive", "ties": "Legami", "density": "Densità",
    "ties_panel_baseline": "Legami panel baseline", "ties_panel": "Legami panel",
    "density_panel_baseline": "Densità panel baseline", "density_panel": "Densità panel",
}
_VERDICT_COLUMNS = ("verdict", "verdict_adjusted")


def _italian(frame: pd.DataFrame, formats: dict[str, str]) -> tuple[pd.DataFrame, dict[str, str]]:
    """``frame`` with Italian headers and verdict labels; ``formats`` keyed alike."""
    out = frame.copy()
    for column in _VERDICT_COLUMNS:
        if column in out:
            out[column] = [verdict_label(v) if isinstance(v, str) else v for v in out[column]]
    if "group_a" in out:
        for column in ("group_a", "group_b"):
            out[column] = [GROUP_LABELS.get(str(g), str(g)) for g in out[column]]
    if "date" in out:
        out["date"] = pd.to_datetime(out["date"])
    headers = {c: XLSX_HEADERS.get(str(c), str(c)) for c in out.columns}
    return (out.rename(columns=headers),
            {headers.get(k, k): v for k, v in formats.items()})


def render_xlsx(evaluation: Evaluation) -> bytes:
    """The Excel workbook of an evaluation, in Italian for the funder, as bytes.

    Sheets: ``Sintesi`` (one page: the region's verdict, the counts, the plan, the
    power), ``Valutazione`` (the table, Italian headers and verdict labels),
    ``Potenza`` (when computed), ``Matrici dei blocchi`` (5 x 5 block densities of
    the panel at both dates, per territory), ``Blocchi`` (the same in long form),
    ``Serie semestrale``, ``Parametri`` and ``Legenda`` (every Italian header, its
    column name in ``evaluation.csv`` and its meaning).

    The workbook is written by :func:`opportunity_map._xlsx.workbook_bytes`: numbers
    are typed cells with a display format (the full precision stays in the cell),
    dates are date cells shown ``DD/MM/YYYY``, every string (a territory name
    included) is a text cell, never a formula, and an infinite bound is the text
    ``inf``. ``evaluation.csv`` keeps the English column names and codes, for
    scripts.

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
            "Territorio": [names.get(str(scope), str(scope))],
            "Baseline": [evaluation.baseline],
            "Data di confronto": [evaluation.as_of],
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
    table, table_formats = _italian(evaluation.table, _formats(evaluation.table))
    legend = pd.DataFrame({
        "Colonna": [XLSX_HEADERS.get(str(c), str(c)) for c in evaluation.table.columns],
        "Nome in evaluation.csv": [str(c) for c in evaluation.table.columns],
        "Significato": [_legend_text(str(c)) for c in evaluation.table.columns],
    })
    block_table, block_formats = _italian(evaluation.blocks, _formats(evaluation.blocks))
    series, series_formats = _italian(evaluation.series, _formats(evaluation.series))
    sheets = [
        Sheet(_SHEETS["summary"], blocks=_summary_blocks(evaluation, names),
              widths={0: 46, 1: 70}),
        Sheet(_SHEETS["table"], table, formats=table_formats, freeze_header=True),
    ]
    if evaluation.power is not None:
        power_table, power_formats = _italian_power(evaluation.power.table)
        sheets.append(Sheet(_SHEETS["power"], power_table, formats=power_formats,
                            freeze_header=True))
    sheets += [
        Sheet(_SHEETS["matrices"], blocks=blocks),
        Sheet(_SHEETS["blocks"], block_table, formats=block_formats, freeze_header=True),
        Sheet(_SHEETS["series"], series, formats=series_formats, freeze_header=True),
        Sheet(_SHEETS["parameters"], _parameters(evaluation)),
        Sheet(_SHEETS["legend"], legend),
    ]
    return workbook_bytes(sheets, where="evaluation.xlsx")


def _legend_text(column: str) -> str:
    from .evaluation import EXTRA_COLUMN_LEGEND

    return COLUMN_LEGEND.get(column) or EXTRA_COLUMN_LEGEND.get(column, "")


def _italian_power(table: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, str]]:
    """The power table with Italian headers; probabilities formatted as percentages."""
    headers = {"territory": "Territorio (codice)", "territory_name": "Territorio",
               "n_panel": "Organizzazioni alla baseline", "ties_baseline": "Legami baseline",
               "density_baseline": "Densità baseline", "target_pct": "Obiettivo %",
               "mde_pct": "Variazione minima rilevabile %", "note": "Note"}
    formats = {"Densità baseline": _DENSITY_FORMAT, "Obiettivo %": "0.0",
               "Variazione minima rilevabile %": "+0.0;-0.0;0.0"}
    for column in table.columns:
        if str(column).startswith("p_met_"):
            label = f"Probabilità di raggiunto se +{str(column)[6:]}%"
            headers[str(column)] = label
            formats[label] = "0.0%"
    return table.rename(columns=headers), formats


def _summary_blocks(evaluation: Evaluation, names: dict[str, str]) -> list[Block]:
    """The one-page ``Sintesi`` sheet: typed values under a title."""
    table = evaluation.table
    records = table.to_dict("records")
    region = next((r for r in records if r["territory"] == "lombardia"), None)
    counts = pd.Series([shown_verdict(r) for r in records], dtype=object).value_counts()
    items: list[tuple[str, object, str | None]] = [
        ("Baseline", evaluation.baseline, None),
        ("Data di confronto", evaluation.as_of, None),
        ("Obiettivo (%)", 100 * evaluation.target, "+0.0"),
    ]
    if region is not None:
        figures = change_figures(region)
        items += [
            ("Lombardia: esito", figures["verdict_label"], None),
            ("Lombardia: variazione della densità del panel (%)",
             float(region["change_pct"]), "+0.0;-0.0;0.0"),
            ("Lombardia: intervallo al 95%", figures["interval"] or MISSING, None),
        ]
    items.append(("Avvertenza", INTERVAL_CAVEAT, None))
    items += [(f"Territori e regione con esito «{label}»", int(counts.get(code, 0)), "0")
              for code, label in VERDICT_LABELS.items()]
    plan = evaluation.plan
    if plan is None:
        items.append(("Piano di valutazione", NO_PLAN_TEXT, None))
    else:
        items += [
            ("Piano di valutazione", "" if plan.path is None else plan.path.name, None),
            ("Data dell'accordo del piano", plan.agreed_on if plan.agreed_on is not None
             else "non indicata", None),
            ("Impronta SHA-256 del piano", str(plan.fingerprint), None),
        ]
        box = _plan_box(evaluation)
        items += [("Valore cambiato dalla riga di comando", line, None)
                  for line in box.overrides]
    items.append(("Regola tra territori", evaluation.rule_text, None))
    if evaluation.power is not None:
        items.append(("Potenza", power_sentence(evaluation.power.table), None))
    else:
        items.append(("Potenza", POWER_HOW_TO, None))
    disagreeing = _disagreeing(table, names)
    items.append(("Sensibilità: righe che non concordano",
                  "; ".join(disagreeing) if disagreeing else "nessuna", None))
    title = pd.DataFrame({"Sintesi per il finanziatore": []})
    out = [Block(title, title=True)]
    for i, (label, value, number_format) in enumerate(items):
        frame = pd.DataFrame({"Voce": [label], "Valore": pd.Series([value], dtype=object)})
        formats = {} if number_format is None else {"Valore": number_format}
        out.append(Block(frame, row=2 + i, header=i == 0, formats=formats,
                         wrap=("Valore",)) if i == 0 else
                   Block(frame, row=3 + i, header=False, formats=formats, wrap=("Valore",)))
    return out


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
    """The parameters of the evaluation, typed: dates as dates, counts as numbers."""
    plan = evaluation.plan
    values: list[object] = [
        evaluation.baseline, evaluation.as_of, 100 * evaluation.target, evaluation.n_boot,
        evaluation.seed, evaluation.min_ties,
        {"bootstrap": "panel fisso + bootstrap dei vertici appaiato (Snijders e Borgatti "
                      "1999), intervallo percentile al 95%",
         "jackknife": "panel fisso + jackknife (Snijders e Borgatti 1999) sul logaritmo "
                      "del rapporto di densità, intervallo al 95%"}.get(
                          evaluation.interval, evaluation.interval),
        evaluation.rule_text,
        "nessuno" if plan is None else str(plan.fingerprint),
        _version(),
    ]
    return pd.DataFrame({
        "Parametro": [
            "Baseline", "Data di confronto", "Obiettivo (%)", "Repliche bootstrap", "Seme",
            "Legami minimi alla baseline", "Metodo", "Regola tra territori",
            "Impronta del piano di valutazione", "Versione opportunity_map",
        ],
        "Valore": pd.Series(values, dtype=object),
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
    counts = pd.Series([shown_verdict(r) for r in table.to_dict("records")],
                       dtype=object).value_counts()
    detail_columns = _HTML_DETAIL_COLUMNS
    if evaluation.territory_rule == "holm":
        detail_columns = (*detail_columns, ("verdict_adjusted", "Esito corretto (Holm)"))
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
        "detail_header": [label for _, label in detail_columns],
        "detail_rows": _rows(table, names, detail_columns),
        "plan": _plan_box(evaluation),
        "no_plan_text": NO_PLAN_TEXT,
        "holm": evaluation.territory_rule == "holm",
        "sensitivity_header": _SENSITIVITY_HEADER,
        "sensitivity_rows": _sensitivity_rows(table, names),
        "disagreeing": _disagreeing(table, names),
        "power": _power_box(evaluation, names),
        "power_how_to": POWER_HOW_TO,
        "baseline": format_date(evaluation.baseline),
        "as_of": format_date(evaluation.as_of),
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
                 [_record_cell(column, record) for column, _ in columns])
            for record in table.to_dict("records")]


def _record_cell(column: str, record: dict[str, Any]) -> _Cell:
    """One cell of a row: the shown verdict, ``illimitato``, the reason not evaluable."""
    if column == "verdict":
        return _cell(column, shown_verdict(record))
    if column == "ci_high_pct" and _unbounded(record):
        return _Cell(UNBOUNDED)
    if column == "note":
        return _Cell(_note_text(record), left=True)
    return _cell(column, record.get(column))


def _text_or_empty(value: object) -> str:
    return value if isinstance(value, str) else ""


def _note_text(record: dict[str, Any]) -> str:
    """The row's note, after the reason why it is not evaluable (when it is not)."""
    parts = []
    if str(record.get("verdict")) == "not_evaluable":
        parts.append(_text_or_empty(record.get("reason_not_evaluable")))
    note = _text_or_empty(record.get("note"))
    if note not in parts:
        parts.append(note)
    return " ".join(p for p in parts if p)


def _cell(column: str, value: object) -> _Cell:
    """One cell of the results table, formatted according to its column."""
    if column in ("verdict", "verdict_adjusted"):
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
        verdict = shown_verdict(record)
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
            high_text = UNBOUNDED if math.isinf(high) else format_number(high, 1, signed=True)
            summary += ", intervallo " + range_text(format_number(low, 1, signed=True),
                                                    high_text)
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


# --------------------------------------------------------------------------------------
# Evaluation plan, sensitivity, power and the executive summary (issue 13)
# --------------------------------------------------------------------------------------

#: Italian name of every parameter the command line may override in the plan.
_PARAMETER_LABELS: dict[str, str] = {
    "baseline": "baseline", "as_of": "data di confronto", "target": "obiettivo",
    "n_boot": "repliche bootstrap", "seed": "seme", "min_ties": "legami minimi alla baseline",
    "interval": "metodo dell'intervallo", "territory_rule": "regola tra territori",
}
#: The sentence of a report whose parameters did not come from a plan.
NO_PLAN_TEXT = ("Nessun piano di valutazione: i parametri (baseline, data di confronto, "
                "obiettivo, intervallo, repliche, seme) sono quelli della riga di comando "
                "o i valori predefiniti.")
#: How to get the power analysis when the report was built without it.
POWER_HOW_TO = ("La potenza non è stata calcolata per questo rapporto. Per ottenerla: "
                "opportunity-map build CARTELLA --out USCITA --potenza (circa 20 secondi in "
                "più sui dati di esempio), oppure opportunity-map potenza CARTELLA "
                "--baseline DATA --out USCITA per la sola pagina della potenza.")


def _parameter_text(name: str, value: object) -> str:
    """A plan or command-line value in Italian: dates dd/mm/yyyy, the target in %."""
    if name in ("baseline", "as_of"):
        return format_date(value)
    if name == "target" and isinstance(value, int | float):
        return f"{format_number(100 * float(value), 1, signed=True)}%"
    if name == "territory_rule":
        return {"secondary": "secondari", "holm": "Holm"}.get(str(value), str(value))
    return str(value)


@dataclass(frozen=True)
class _PlanBox:
    """The "Piano di valutazione" box; ``lines`` is empty without a plan."""

    lines: list[tuple[str, str]]
    agreed_on: str
    fingerprint: str
    overrides: list[str]
    rule_text: str


def _plan_box(evaluation: Evaluation) -> _PlanBox:
    plan = evaluation.plan
    overrides = [
        f"{_PARAMETER_LABELS.get(name, name)}: {_parameter_text(name, used)} dalla riga di "
        f"comando invece di {_parameter_text(name, planned)} del piano"
        for name, (planned, used) in evaluation.overrides.items()
    ]
    if plan is None:
        return _PlanBox([], "", "", overrides, evaluation.rule_text)
    lines = [(label, value) for label, value in plan.lines()
             if value and label != "Impronta SHA-256"]
    return _PlanBox(lines, format_date(plan.agreed_on), str(plan.fingerprint), overrides,
                    evaluation.rule_text)


@dataclass(frozen=True)
class _SensitivityRow:
    name: str
    cells: list[str]
    note: str


#: The sensitivity table: (header, change column, low column, high column).
_SENSITIVITY: tuple[tuple[str, str, str, str], ...] = (
    ("Panel fisso (stima principale)", "change_pct", "ci_low_pct", "ci_high_pct"),
    ("Coorte di baseline (uscite come perdite)", "change_cohort_pct", "cohort_ci_low_pct",
     "cohort_ci_high_pct"),
    ("Rete completa", "change_network_pct", "network_ci_low_pct", "network_ci_high_pct"),
    ("Panel senza legami di livello 1", "change_no_level1_pct", "no_level1_ci_low_pct",
     "no_level1_ci_high_pct"),
)
_SENSITIVITY_HEADER = [h for h, *_ in _SENSITIVITY] + [
    "Indice E-I baseline", "Indice E-I data", "Indice E-I atteso (legami casuali)"]


def sensitivity_cell(record: Any, change: str, low: str, high: str) -> str:
    """One change with its interval, as the sensitivity table shows it.

    Examples
    --------
    >>> sensitivity_cell({"c": 44.21, "l": 12.0, "h": float("inf")}, "c", "l", "h")
    '+44,2% (da +12,0% a illimitato)'
    >>> sensitivity_cell({"c": 5.0, "l": float("nan"), "h": float("nan")}, "c", "l", "h")
    '+5,0%'
    """
    text = f"{format_number(record.get(change), 1, signed=True)}%"
    if text == f"{MISSING}%":
        return MISSING
    lo, hi = record.get(low), record.get(high)
    lo_text = format_number(lo, 1, signed=True)
    hi_text = (UNBOUNDED if _is_inf(hi) or (change == "change_pct" and _unbounded(record))
               else format_number(hi, 1, signed=True))
    if lo_text == MISSING or (hi_text == MISSING):
        return text
    return f"{text} ({range_text(lo_text, hi_text)})"


def _is_inf(value: object) -> bool:
    try:
        return math.isinf(float(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def _sensitivity_rows(table: pd.DataFrame, names: dict[str, str]) -> list[_SensitivityRow]:
    rows = []
    for record in table.to_dict("records"):
        cells = [sensitivity_cell(record, *columns[1:]) for columns in _SENSITIVITY]
        cells += [format_number(record.get(c), 2) for c in ("ei_baseline", "ei_at",
                                                            "ei_expected")]
        rows.append(_SensitivityRow(_name(names, record["territory"]), cells,
                                    _text_or_empty(record.get("sensitivity_note"))))
    return rows


def _disagreeing(table: pd.DataFrame, names: dict[str, str]) -> list[str]:
    """``"Milano: non concordano rete completa (+20,1%)"`` for every territory concerned."""
    out = []
    for record in table.to_dict("records"):
        note = _text_or_empty(record.get("sensitivity_note"))
        marker = "; non concordano "
        if marker in note:
            rest = note.split(marker, 1)[1].rstrip(".")
            out.append(f"{_name(names, record['territory'])}: {rest}")
    return out


@dataclass(frozen=True)
class _PowerBox:
    header: list[str]
    rows: list[list[str]]
    method: str
    sentence: str
    parameters: str


def power_probability(value: object) -> str:
    """A probability of ``met`` as the power table shows it: ``"35%"``.

    Examples
    --------
    >>> power_probability(0.35), power_probability(float("nan"))
    ('35%', 'n.d.')
    """
    text = format_number(None if value is None else 100 * float(value), 0)  # type: ignore[arg-type]
    return text if text == MISSING else f"{text}%"


def _mde_text(value: object) -> str:
    if _is_inf(value):
        return "non rilevabile"
    text = format_number(value, 0, signed=True)
    return text if text == MISSING else f"{text}%"


def power_sentence(power_table: pd.DataFrame) -> str:
    """The power in one sentence, from the territories' median panel and MDE.

    Examples
    --------
    >>> t = pd.DataFrame({"territory": ["a", "b", "lombardia"], "n_panel": [30, 32, 62],
    ...                   "mde_pct": [64.0, 66.0, 40.0]})
    >>> import textwrap
    >>> print(textwrap.fill(power_sentence(t), 80))
    Con circa 31 organizzazioni per territorio, un aumento inferiore a +65% di solito
    risulta incerto sul singolo territorio; per la regione la variazione minima
    rilevabile è +40%.
    """
    terr = power_table[power_table["territory"] != "lombardia"]
    finite = terr["mde_pct"].astype(float)
    finite = finite[np.isfinite(finite)]
    parts = []
    if not terr.empty and finite.size:
        n = format_number(float(terr["n_panel"].median()), 0)
        parts.append(f"Con circa {n} organizzazioni per territorio, un aumento inferiore a "
                     f"{_mde_text(float(finite.median()))} di solito risulta incerto sul "
                     "singolo territorio")
    region = power_table[power_table["territory"] == "lombardia"]
    if not region.empty:
        parts.append("per la regione la variazione minima rilevabile è "
                     f"{_mde_text(region['mde_pct'].iloc[0])}")
    if not parts:
        return ""
    text = "; ".join(parts)
    return text[0].upper() + text[1:] + "."


def _power_box(evaluation: Evaluation, names: dict[str, str]) -> _PowerBox | None:
    result = evaluation.power
    if result is None:
        return None
    p_cols = [f"p_met_{round(100 * c)}" for c in result.changes]
    header = ["Organizzazioni alla baseline", "Legami alla baseline"] + [
        f"Probabilità di «raggiunto» se la variazione vera fosse {_mde_text(100 * c)}"
        for c in result.changes] + ["Variazione minima rilevabile (80%)"]
    rows = []
    for rec in result.table.to_dict("records"):
        rows.append([_name(names, rec["territory"]) if names else str(rec["territory_name"]),
                     format_number(rec["n_panel"], 0), format_number(rec["ties_baseline"], 0),
                     *[power_probability(rec.get(c)) for c in p_cols],
                     _mde_text(rec["mde_pct"])])
    parameters = (f"{result.n_sim} simulazioni per territorio"
                  + (f", {result.n_boot} repliche bootstrap ciascuna"
                     if result.interval == "bootstrap" else ", intervallo jackknife")
                  + f", minimo {result.min_ties} legami alla baseline, seme {result.seed}.")
    return _PowerBox(header, rows, str(result.method_text), power_sentence(result.table),
                     parameters)
