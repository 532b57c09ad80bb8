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
    no external resource, every string from the data escaped.
"""

from __future__ import annotations

import base64
import html
import io
import logging
import math
import os
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib import rc_context
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .evaluation import Evaluation
from .schema import GROUP_LABELS, GROUPS

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
    >>> ev = evaluate(m, baseline="2026-03-31", at="2028-12-31", seed=1)  # doctest: +SKIP
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
        _write_atomic(path, data)
        paths[kind] = path
        logger.info("wrote %s", path)
    return paths


def _write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file next to ``path``, then move it into place."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# --------------------------------------------------------------------------------------
# Excel
# --------------------------------------------------------------------------------------


def render_xlsx(evaluation: Evaluation) -> bytes:
    """The Excel workbook of an evaluation, as bytes.

    Sheets: ``valutazione`` (the table), ``matrici_blocchi`` (5 x 5 block densities
    of the panel at the baseline and at the later date, per territory),
    ``blocchi`` (the same in long form), ``serie_semestrale``, ``parametri`` and
    ``legenda`` (the meaning of each column, in Italian).
    """
    buffer = io.BytesIO()
    names = _names(evaluation)
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        evaluation.table.to_excel(writer, sheet_name=_SHEETS["table"], index=False)
        row = 0
        labels = [GROUP_LABELS[g] for g in GROUPS]
        for scope, frame in evaluation.blocks.groupby("territory", sort=False):
            title = pd.DataFrame({
                "territorio": [names.get(str(scope), str(scope))],
                "baseline": [_it_date(evaluation.baseline)],
                "data di confronto": [_it_date(evaluation.at)],
            })
            title.to_excel(writer, sheet_name=_SHEETS["matrices"], startrow=row, index=False)
            for col, (wave, caption) in enumerate(
                (("density_baseline", "Baseline"), ("density_at", "Data di confronto"))
            ):
                matrix = _block_matrix(frame, wave)
                matrix.index = pd.Index(labels, name=caption)
                matrix.columns = labels
                matrix.to_excel(
                    writer, sheet_name=_SHEETS["matrices"], startrow=row + 3,
                    startcol=col * (len(GROUPS) + 2),
                )
            row += len(GROUPS) + 6
        evaluation.blocks.to_excel(writer, sheet_name=_SHEETS["blocks"], index=False)
        series = evaluation.series.copy()
        series["date"] = series["date"].dt.date
        series.to_excel(writer, sheet_name=_SHEETS["series"], index=False)
        _parameters(evaluation).to_excel(writer, sheet_name=_SHEETS["parameters"], index=False)
        legend = pd.DataFrame({
            "colonna": list(evaluation.table.columns),
            "significato": [COLUMN_LEGEND.get(c, "") for c in evaluation.table.columns],
        })
        legend.to_excel(writer, sheet_name=_SHEETS["legend"], index=False)
    return buffer.getvalue()


def _parameters(evaluation: Evaluation) -> pd.DataFrame:
    return pd.DataFrame({
        "parametro": [
            "baseline", "data di confronto", "obiettivo (%)", "replicati bootstrap", "seed",
            "metodo", "versione opportunity_map",
        ],
        "valore": [
            _it_date(evaluation.baseline), _it_date(evaluation.at),
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

    No external resource: styles are inline and charts are base64 PNG images drawn
    with matplotlib's Agg backend. Every string coming from the data is escaped with
    :func:`html.escape`.
    """
    names = _names(evaluation)
    table = evaluation.table

    title = (
        f"Densità della rete: variazione rispetto alla baseline "
        f"({_it_date(evaluation.baseline)} – {_it_date(evaluation.at)})"
    )
    parts = [
        "<!DOCTYPE html>",
        '<html lang="it">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_esc(title)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        f"<h1>{_esc(title)}</h1>",
        "<p class=\"lead\">Indicatore «Densità di rete e collaborazione inter-istituzionale»: "
        f"obiettivo <strong>+{_esc(_it_num(100 * evaluation.target, 1))}%</strong> "
        "di densità della rete rispetto alla baseline.</p>",
        _summary_html(evaluation, names),
        "<h2>Variazione della densità per territorio</h2>",
        "<p>Per ogni territorio: variazione della densità del panel (punto) con "
        "l'intervallo bootstrap al 95% (barra); la linea tratteggiata è l'obiettivo.</p>",
        _img(_forest_png(evaluation, names), "Variazione della densità per territorio "
             "con intervallo al 95% e linea dell'obiettivo"),
        "<h2>Tabella dei risultati</h2>",
        _table_html(table, names),
        "<h2>Andamento semestrale</h2>",
        "<p>Densità della rete completa di ogni territorio e del panel (attori attivi "
        "alla baseline e alla data), ogni sei mesi dalla baseline.</p>",
        _img(_series_png(evaluation, names), "Andamento semestrale della densità per "
             "territorio"),
        _series_html(evaluation, names),
        "<h2>Densità tra gruppi di attori</h2>",
        "<p>Densità dei legami dentro e tra i cinque gruppi (Collocamento Mirato, "
        "Agenzie per il lavoro, Cooperazione sociale, Imprese, Servizi territoriali), "
        "calcolata sul panel alla baseline e alla data di confronto. Le caselle grigie "
        "non sono definite (gruppo assente o con un solo attore).</p>",
    ]
    for scope, frame in evaluation.blocks.groupby("territory", sort=False):
        name = names.get(str(scope), str(scope))
        parts.append(f"<h3>{_esc(name)}</h3>")
        parts.append(_img(_blocks_png(frame, name), f"Densità tra gruppi: {name}"))
    parts += [
        "<h2>Nota sul metodo</h2>",
        _method_html(evaluation),
        f"<footer>Generato con opportunity_map {_esc(_version())}; seed "
        f"{_esc(evaluation.seed)}, {_esc(evaluation.n_boot)} replicati bootstrap.</footer>",
        "</body>",
        "</html>",
    ]
    return "\n".join(parts) + "\n"


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;max-width:1100px;
margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.6em}h2{margin-top:1.8em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0}
th,td{border:1px solid #ccc;padding:.25em .45em;text-align:right;vertical-align:top}
th{background:#f0f0f0}td.t,th.t{text-align:left}
.v-met{color:#1a7f37;font-weight:bold}.v-not_met{color:#c62828;font-weight:bold}
.v-inconclusive{color:#d17a00;font-weight:bold}.v-not_evaluable{color:#777}
img{max-width:100%;height:auto}.lead{font-size:1.1em}
.scroll{overflow-x:auto}footer{margin-top:2em;color:#777;font-size:.85em}
details{margin:.5em 0}
""".strip()


def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def _names(evaluation: Evaluation) -> dict[str, str]:
    table = evaluation.table
    if "territory_name" not in table:
        return {}
    return {str(t): str(n) for t, n in zip(table["territory"], table["territory_name"],
                                            strict=True)}


def _it_date(value: pd.Timestamp) -> str:
    return pd.Timestamp(value).strftime("%d/%m/%Y")


def _it_num(value: object, digits: int = 2, *, signed: bool = False) -> str:
    """A number in Italian notation; '–' when missing, '∞' when infinite."""
    if value is None or value is pd.NA:
        return "–"
    x = float(value)  # type: ignore[arg-type]
    if math.isnan(x):
        return "–"
    if math.isinf(x):
        return "+∞" if x > 0 else "−∞"
    text = f"{x:+,.{digits}f}" if signed else f"{x:,.{digits}f}"
    return text.replace(",", "\u2009").replace(".", ",").replace("-", "−")


def _it_density(value: object) -> str:
    """A density with four significant digits, in Italian notation."""
    if value is None or value is pd.NA:
        return "–"
    x = float(value)  # type: ignore[arg-type]
    if math.isnan(x):
        return "–"
    if x == 0:
        return "0"
    digits = max(4, 3 - math.floor(math.log10(abs(x))))
    return _it_num(x, digits)


def _summary_html(evaluation: Evaluation, names: dict[str, str]) -> str:
    table = evaluation.table
    counts = table["verdict"].value_counts()
    items = [
        f"<li>{_esc(VERDICT_LABELS.get(str(v), str(v)))}: {int(counts.get(v, 0))}</li>"
        for v in VERDICT_LABELS
        if counts.get(v, 0)
    ]
    region = table[table["territory"] == "lombardia"]
    lines = []
    if not region.empty:
        r = region.iloc[0]
        lines.append(
            f"<p>Intera Lombardia: densità del panel di {_esc(_it_num(r['n_panel'], 0))} "
            "organizzazioni "
            f"da {_esc(_it_density(r['density_baseline']))} a "
            f"{_esc(_it_density(r['density_at']))}, variazione "
            f"<strong>{_esc(_it_num(r['change_pct'], 1, signed=True))}%</strong> "
            f"(intervallo al 95% da {_esc(_it_num(r['ci_low_pct'], 1, signed=True))}% a "
            f"{_esc(_it_num(r['ci_high_pct'], 1, signed=True))}%): esito "
            f"<span class=\"v-{_esc(r['verdict'])}\">"
            f"{_esc(VERDICT_LABELS.get(str(r['verdict']), str(r['verdict'])))}</span>.</p>"
        )
    return (
        "<h2>Sintesi</h2>"
        + "".join(lines)
        + f"<p>Esiti per territorio ({len(table)} righe):</p><ul>{''.join(items)}</ul>"
    )


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


def _cell(column: str, value: object) -> str:
    if column == "verdict":
        label = VERDICT_LABELS.get(str(value), str(value))
        return f'<td class="t v-{_esc(value)}">{_esc(label)}</td>'
    if column == "note":
        return f'<td class="t">{_esc(value if isinstance(value, str) else "")}</td>'
    if column == "target_met_point":
        text = "–" if value is None or value is pd.NA else ("sì" if bool(value) else "no")
        return f"<td>{_esc(text)}</td>"
    if column.startswith(("n_", "ties_")):
        return f"<td>{_esc(_it_num(value, 0))}</td>"
    if column == "p_no_increase":
        return f"<td>{_esc(_it_num(value, 3))}</td>"
    if column == "se_pct":
        return f"<td>{_esc(_it_num(value, 1))}</td>"
    if column.endswith("_pct"):
        return f"<td>{_esc(_it_num(value, 1, signed=True))}</td>"
    return f"<td>{_esc(_it_density(value))}</td>"


def _table_html(table: pd.DataFrame, names: dict[str, str]) -> str:
    head = '<th class="t">Territorio</th>' + "".join(
        f"<th>{_esc(label)}</th>" for _, label in _HTML_COLUMNS
    )
    rows = []
    for record in table.to_dict("records"):
        name = names.get(str(record["territory"]), str(record["territory"]))
        cells = "".join(_cell(col, record.get(col)) for col, _ in _HTML_COLUMNS)
        rows.append(f'<tr><td class="t">{_esc(name)}</td>{cells}</tr>')
    return (
        f'<div class="scroll"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
        "<p>Tutte le colonne, con i valori non arrotondati, sono nei file evaluation.csv "
        "ed evaluation.xlsx (foglio «legenda» per il significato di ciascuna).</p>"
    )


def _series_html(evaluation: Evaluation, names: dict[str, str]) -> str:
    series = evaluation.series
    labels = (
        ("date", "Data"), ("n_actors", "Attori"), ("ties", "Legami"), ("density", "Densità"),
        ("n_panel", "Panel"), ("ties_panel", "Legami panel"),
        ("density_panel", "Densità panel"), ("change_pct", "Variazione panel %"),
    )
    head = "".join(f"<th>{_esc(label)}</th>" for _, label in labels)
    blocks = []
    for scope, frame in series.groupby("territory", sort=False):
        rows = []
        for record in frame.to_dict("records"):
            cells = [f"<td>{_esc(_it_date(record['date']))}</td>"]
            for col, _ in labels[1:]:
                if col == "change_pct":
                    cells.append(f"<td>{_esc(_it_num(record[col], 1, signed=True))}</td>")
                elif col.startswith("density"):
                    cells.append(f"<td>{_esc(_it_density(record[col]))}</td>")
                else:
                    cells.append(f"<td>{_esc(_it_num(record[col], 0))}</td>")
            rows.append(f"<tr>{''.join(cells)}</tr>")
        name = names.get(str(scope), str(scope))
        blocks.append(
            f"<details><summary>{_esc(name)}</summary><table><thead><tr>{head}</tr>"
            f"</thead><tbody>{''.join(rows)}</tbody></table></details>"
        )
    return "".join(blocks)


def _method_html(evaluation: Evaluation) -> str:
    target = _esc(_it_num(100 * evaluation.target, 1))
    paragraphs = [
        "<strong>Perché un panel fisso.</strong> La densità è la quota dei legami "
        "possibili effettivamente presenti. Quando entrano nuove organizzazioni i legami "
        "possibili crescono con il quadrato del numero di attori, quindi la densità "
        "dell'intera rete tende a scendere anche se la collaborazione aumenta: "
        "reclutare nuovi attori peserebbe contro l'obiettivo. Per questo la variazione "
        "principale è calcolata sulle stesse organizzazioni alle due date (il «panel»: "
        "attive sia alla baseline sia alla data di confronto). Le organizzazioni entrate "
        "e uscite sono contate a parte e la densità della rete completa alle due date è "
        "riportata in tabella, così nulla resta nascosto.",
        "<strong>Che cosa si conta.</strong> Due organizzazioni sono legate se tra loro "
        "c'è almeno una relazione attiva alla data (le date di inizio e fine sono "
        "incluse). La densità pesata usa il livello di collaborazione più alto della "
        "coppia (1 conoscenza … 4 integrazione). Per un territorio contano solo i legami "
        "tra organizzazioni dello stesso territorio; quelli con altri territori sono "
        "riportati a parte e rientrano nella riga «lombardia».",
        "<strong>Incertezza.</strong> Su una rete piccola una variazione può essere "
        "dovuta al caso. L'intervallo al 95% è ottenuto con il bootstrap dei vertici di "
        "Snijders e Borgatti (1999): si estraggono a caso, con ripetizione, tante "
        "organizzazioni quante sono quelle del panel e si ricalcolano le due densità "
        f"sulla stessa estrazione (bootstrap appaiato), per {_esc(evaluation.n_boot)} "
        "volte. Le coppie formate da due copie della stessa organizzazione non sono "
        "osservabili e sono escluse dal calcolo. L'intervallo va dal 2,5° al 97,5° "
        "percentile delle variazioni ottenute; la «quota senza aumento» è la parte dei "
        "replicati in cui la densità non cresce. Con lo stesso seed "
        f"({_esc(evaluation.seed)}) il calcolo dà esattamente gli stessi numeri.",
        f"<strong>Esito.</strong> Obiettivo raggiunto se anche l'estremo inferiore "
        f"dell'intervallo è almeno +{target}%; non raggiunto se anche l'estremo superiore "
        f"è sotto +{target}%; incerto altrimenti. «Non valutabile» quando la variazione "
        "non è definita (panel vuoto o con meno di tre organizzazioni, nessun legame "
        "alla baseline): la colonna Note spiega il caso.",
    ]
    return "".join(f"<p>{p}</p>" for p in paragraphs)


def _img(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<p><img src="data:image/png;base64,{data}" alt="{_esc(alt)}"></p>'


# --------------------------------------------------------------------------------------
# Charts (matplotlib, Agg canvas, no pyplot state)
# --------------------------------------------------------------------------------------

_RC: dict[Any, Any] = {"text.parse_math": False, "font.size": 9}


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    FigureCanvasAgg(fig).print_png(buffer)
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
                text = "–" if math.isnan(value) else _it_density(value)
                dark = not math.isnan(value) and value > 0.6 * vmax
                ax.text(j, i, text, ha="center", va="center", fontsize=7,
                        color="white" if dark else "#222222")
        if image is not None:
            fig.colorbar(image, ax=list(axes), shrink=0.8, label="densità")
        return _png(fig)
