"""One territory's Tavolo di rete: its map, its changes, the meeting pack, the next workbook.

:func:`prepare_tavolo` is what ``opportunity-map tavolo`` runs. For one territory
at the Tavolo date D it computes once the changes since the previous Tavolo
(:func:`~opportunity_map.changes.find_changes`), the records to verify
(:func:`~opportunity_map.changes.find_unverified`) and, with a baseline, the
evaluation, and writes four files into the output folder, all or none:

* ``mappa_<slug>_<D>.html``: the territory's interactive map at D, with the
  changes since the previous Tavolo as a layer (on at start) and a date selector
  over the Tavolo dates (P, D and the semester ends before);
* ``modifiche_<slug>_<D>.csv``: one row per change;
* ``tavolo_<slug>_<D>.pdf``: the A4 meeting pack;
* ``mappa_<slug>_<D>.xlsx``: next semester's workbook, pre-filled with the
  territory's data (never overwritten: it may have been edited).
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ._atomic import (
    check_output_location,
    check_writable,
    staged_outputs,
    write_bytes_atomic,
    write_excel_csv,
)
from ._errors import DateOrderError, OutputLocationError
from ._format import format_date, format_pct
from ._time import to_timestamp
from .changes import (
    CHANGE_COLUMNS,
    find_changes,
    find_unverified,
    previous_tavolo,
    table_italian,
    tavolo_dates,
)
from .evaluation import Evaluation, check_target, evaluate
from .finder import Coverage, coverage
from .maps import compute_figures, render_map
from .model import OpportunityMap
from .pipeline import Progress, as_map, stepper
from .plan import PLAN_FILE, EvaluationPlan, resolve_plan
from .template import write_map_workbook

__all__ = ["TavoloResult", "prepare_tavolo", "tavolo_names"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class TavoloResult:
    """What :func:`prepare_tavolo` computed and wrote.

    Attributes
    ----------
    map : OpportunityMap
        The map loaded.
    territory : str
        The territory's slug.
    date, previous : pandas.Timestamp
        The Tavolo date and the previous Tavolo's date.
    changes : pandas.DataFrame
        :func:`~opportunity_map.changes.find_changes` between the two dates.
    unverified : pandas.DataFrame
        :func:`~opportunity_map.changes.find_unverified` at the date.
    evaluation : Evaluation or None
        The change of density since the baseline, when a baseline was given.
    notes : list of str
        Italian sentences for the user (dates used, warnings).
    written : list of pathlib.Path
        The files written.
    open_first : pathlib.Path or None
        What to open first (the meeting pack).
    """

    map: OpportunityMap
    territory: str
    date: pd.Timestamp
    previous: pd.Timestamp
    changes: pd.DataFrame
    unverified: pd.DataFrame
    evaluation: Evaluation | None
    notes: list[str] = field(default_factory=list)
    written: list[Path] = field(default_factory=list)
    open_first: Path | None = None


def tavolo_names(slug: str, date: pd.Timestamp) -> dict[str, str]:
    """The file names of a Tavolo's outputs.

    Examples
    --------
    >>> tavolo_names("lecco", pd.Timestamp("2027-06-30"))["pack"]
    'tavolo_lecco_2027-06-30.pdf'
    """
    day = date.strftime("%Y-%m-%d")
    return {"map": f"mappa_{slug}_{day}.html", "changes": f"modifiche_{slug}_{day}.csv",
            "pack": f"tavolo_{slug}_{day}.pdf", "workbook": f"mappa_{slug}_{day}.xlsx"}


def prepare_tavolo(
    source: str | Path | OpportunityMap,
    out_dir: str | Path,
    *,
    territory: str,
    date: object,
    previous: object = None,
    previous_data: str | Path | OpportunityMap | None = None,
    baseline: object = None,
    target: float | None = None,
    n_boot: int | None = None,
    seed: int | None = None,
    verify_months: int = 12,
    territories_file: str | Path | None = None,
    progress: Progress | None = None,
    plan: EvaluationPlan | str | Path | None = "auto",
) -> TavoloResult:
    """Prepare one territory's Tavolo di rete: map, changes, meeting pack, next workbook.

    Parameters
    ----------
    source : path-like or OpportunityMap
        The map now (folder, workbook, GeoPackage, or a map already loaded).
    out_dir : path-like
        Folder of the outputs (created if missing).
    territory : str
        The territory (slug or name).
    date : date-like
        The Tavolo date D.
    previous : date-like, optional
        The previous Tavolo's date (default: six months before D,
        :func:`~opportunity_map.changes.previous_tavolo`; stated in the notes).
    previous_data : path-like or OpportunityMap, optional
        The previous version of the files: rows there and missing now are listed as
        ``row_removed`` and warned about.
    baseline : date-like, optional
        The baseline: the pack then shows the change of density since it, with its
        interval and verdict.
    target, n_boot, seed
        As for :func:`~opportunity_map.evaluate` (``None``: the plan's value, else
        0.30, 2000 and a drawn seed).
    plan : EvaluationPlan, path-like, "auto" or None
        The evaluation plan (``"auto"``: ``piano_valutazione.toml`` in the data
        folder, if any). It gives the baseline when none is given, and the other
        evaluation options not given; given ones override it (recorded in
        :attr:`Evaluation.overrides`).
    verify_months : int
        Records not verified for more than this many months are listed (default 12).
    territories_file : path-like, optional
        As for :func:`~opportunity_map.load`.
    progress : callable, optional
        ``progress(step_label, done, total)`` before each step (Italian labels).

    Returns
    -------
    TavoloResult

    Raises
    ------
    DataError
        If the data (or the previous data) has errors; nothing is written.
    UsageError
        If an option is invalid, the dates are out of order, or the output folder
        already holds this Tavolo's workbook (it may have been edited); checked
        before anything is written.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as out:
    ...     result = prepare_tavolo(om.example_map(), out, territory="lecco",
    ...                             date="2027-06-30")
    ...     names = sorted(p.name for p in result.written)
    >>> for name in names:
    ...     print(name)
    mappa_lecco_2027-06-30.html
    mappa_lecco_2027-06-30.xlsx
    modifiche_lecco_2027-06-30.csv
    tavolo_lecco_2027-06-30.pdf
    >>> result.previous.date(), len(result.changes)
    (datetime.date(2026, 12, 31), 1)
    """
    from .pack import write_pack

    at = to_timestamp(date, name="date")
    before = previous_tavolo(at) if previous is None else to_timestamp(previous, name="previous")
    if before >= at:
        raise DateOrderError("previous", before.date(), "date", at.date())
    the_plan = resolve_plan(source, plan)
    if baseline is None and the_plan is not None:
        baseline = the_plan.baseline
    base = None if baseline is None else to_timestamp(baseline, name="baseline")
    if base is not None and base >= at:
        raise DateOrderError("baseline", base.date(), "date", at.date())
    planned_target = None if the_plan is None else the_plan.target
    target_value = check_target(
        target if target is not None else planned_target if planned_target is not None
        else 0.30)
    out = Path(out_dir)
    inputs = [p for p in (source, previous_data, territories_file) if isinstance(p, str | Path)]
    check_output_location(out, inputs)
    steps = ["convalida", "confronto", "mappa", "documento per il Tavolo", "cartella di lavoro"]
    step = stepper(steps, progress)
    step()
    m = as_map(source, territories_file)
    slug = m.resolve_territory(territory)
    names = tavolo_names(slug, at)
    if (out / names["workbook"]).exists():
        # next semester's workbook may already be in the antenna's hands: never overwrite
        raise OutputLocationError(str(out / names["workbook"]), str(out / names["workbook"]),
                                  "same", param="workbook")
    old = None if previous_data is None else as_map(previous_data, territories_file)
    notes = [f"Tavolo di rete del {format_date(at)}; Tavolo precedente: {format_date(before)}"
             + (" (sei mesi prima, --previous per un'altra data)." if previous is None
                else ".")]
    step()
    changes = find_changes(m, date=at, previous=before, territory=slug, previous_map=old)
    unverified = find_unverified(m, as_of=at, territory=slug, months=verify_months)
    removed = int((changes["change"] == "row_removed").sum())
    if removed:
        notes.append(f"Attenzione: {removed} righe presenti nella versione precedente sono "
                     "state cancellate; per chiudere una riga indicare la data di fine ('al') "
                     "invece di cancellarla.")
    gaps = coverage(m, as_of=at, territories=[slug])
    evaluation = None
    if base is not None:
        evaluation = evaluate(m.network_index(), baseline=base, as_of=at, target=target,
                              n_boot=n_boot, seed=seed, territories=[slug], plan=the_plan)
        if the_plan is not None:  # the Tavolo's date is its own, not an override
            evaluation = dataclasses.replace(evaluation, overrides={
                k: v for k, v in evaluation.overrides.items() if k != "as_of"})
            notes.append(f"Piano di valutazione: {PLAN_FILE}, impronta "
                         f"{the_plan.fingerprint[:12]}.")
        notes.append(f"Baseline: {format_date(base)}; obiettivo +{100 * target_value:g}%.")
    check_writable(out)
    with staged_outputs(out) as stage:
        step()
        # the map offers D, P and the semester ends, and opens at D with its changes
        figures = compute_figures(m, as_of=at, baseline=base, evaluation=evaluation,
                                  target=target_value, previous=before,
                                  dates=tavolo_dates(at, since=base), gaps=gaps)
        html = render_map(m, slug, figures=figures).get_root().render()
        staged = [write_bytes_atomic(stage.root / names["map"], html.encode("utf-8"))]
        staged.append(write_excel_csv(stage.root / names["changes"],
                                      changes.loc[:, list(CHANGE_COLUMNS)]))
        step()
        staged.append(write_pack(stage.root / names["pack"], m, territory=slug, date=at,
                                 previous=before, changes=changes, unverified=unverified,
                                 evaluation=evaluation, coverage=_coverage_table(gaps, slug)))
        step()
        staged.append(write_map_workbook(m, stage.root / names["workbook"], territory=slug,
                                         as_of=at, extra={"modifiche": _italian(changes),
                                                          "da_verificare": _italian(unverified)}))
        written = [stage.final(p) for p in staged]
    pack = next(p for p in written if p.suffix == ".pdf")
    return TavoloResult(map=m, territory=slug, date=at, previous=before, changes=changes,
                        unverified=unverified, evaluation=evaluation, notes=notes,
                        written=written, open_first=pack)


#: Italian headers of the informational sheets of the Tavolo's workbook.
_ITALIAN_HEADERS = {"change": "codice", "label": "modifica", "table": "tabella", "id": "id",
                    "name": "nome", "detail": "dettaglio", "verified": "verificato_il",
                    "months": "mesi"}


def _italian(frame: pd.DataFrame) -> pd.DataFrame:
    """A changes or unverified table with Italian headers and table names."""
    out = frame.rename(columns=_ITALIAN_HEADERS)
    out["tabella"] = out["tabella"].map(table_italian)
    return out


def _coverage_table(gaps: Coverage, slug: str) -> pd.DataFrame:
    """The pack's coverage table: the territory's gaps, the share as a percentage."""
    table = gaps.summary(slug)
    share = "Quota della popolazione"
    table[share] = [format_pct(100 * v, signed=False) for v in table[share]]
    table = table.rename(columns={
        "Comuni oltre la soglia": f"Comuni oltre {gaps.threshold_km:g} km",
        "Popolazione oltre la soglia": f"Popolazione 15–64 anni oltre {gaps.threshold_km:g} km",
        share: "Quota della popolazione 15–64 anni"})
    table.attrs["notes"] = list(gaps.notes)
    return table
