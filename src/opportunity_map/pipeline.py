"""The whole job, computed once: load → validate → evaluate → write every output.

:func:`build` is what ``opportunity-map build`` (and ``evaluate``, ``render``) run. It
checks every option before reading or writing anything, loads and validates the
data, takes the network at each date once (:mod:`opportunity_map.network`), evaluates
once, and hands the same figures to the report, every map and the index, so that
every page shows the same numbers, dates and target.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from ._atomic import check_output_location, check_writable, staged_outputs
from ._errors import DateOrderError, OutputLocationError, UsageError
from ._format import format_date
from ._time import to_timestamp
from .evaluation import Evaluation, check_target, evaluate
from .finder import coverage
from .io import load, save
from .maps import Tiles, compute_figures, save_maps
from .model import OpportunityMap
from .network import REGION
from .plan import EvaluationPlan, resolve_plan
from .report import write_evaluation

__all__ = ["OUTPUTS", "BuildResult", "Output", "as_map", "build", "export", "stepper"]

log = logging.getLogger(__name__)

Output = Literal["data", "evaluation", "maps"]
#: What :func:`build` can write, in the order it writes them.
OUTPUTS: tuple[Output, ...] = ("data", "evaluation", "maps")

#: Progress callback: ``progress(step_label, steps_done, steps_total)``.
Progress = Callable[[str, int, int], None]


def stepper(labels: Sequence[str], progress: Progress | None) -> Callable[[], None]:
    """A function that reports the next step to ``progress`` each time it is called.

    Parameters
    ----------
    labels : sequence of str
        The Italian label of each step, in order.
    progress : callable or None
        ``progress(step_label, done, total)``; ``None`` reports nothing.

    Returns
    -------
    callable
        ``step()``: reports ``labels[k]`` with ``k`` steps done, then counts one more.
    """
    done = 0

    def step() -> None:
        nonlocal done
        if progress is not None:
            progress(labels[done], done, len(labels))
        done += 1

    return step


def as_map(source: str | Path | OpportunityMap,
           territories_file: str | Path | None = None) -> OpportunityMap:
    """``source`` itself when it is a map, else the map loaded from it."""
    if isinstance(source, OpportunityMap):
        return source
    return load(source, territories=territories_file)


@dataclass(frozen=True, eq=False)
class BuildResult:
    """What :func:`build` computed and wrote.

    Attributes
    ----------
    map : OpportunityMap
        The loaded map.
    territories : tuple of str
        Slugs of the territories evaluated and rendered.
    as_of : pandas.Timestamp
        The date the maps show and the evaluation compares with the baseline.
    baseline : pandas.Timestamp or None
        The baseline, when one was given.
    evaluation : Evaluation or None
        The evaluation (``None`` without baseline or when not asked for).
    notes : list of str
        Italian sentences for the user: the dates used and why something was not
        made.
    written : list of pathlib.Path
        Every file or folder written, in order.
    open_first : pathlib.Path or None
        What to open first (the index, the report, or the data folder).
    """

    map: OpportunityMap
    territories: tuple[str, ...]
    as_of: pd.Timestamp
    baseline: pd.Timestamp | None
    evaluation: Evaluation | None
    notes: list[str] = field(default_factory=list)
    written: list[Path] = field(default_factory=list)
    open_first: Path | None = None


def _check_outputs(outputs: Iterable[str]) -> tuple[Output, ...]:
    wanted = tuple(dict.fromkeys(outputs))
    unknown = [o for o in wanted if o not in OUTPUTS]
    if unknown or not wanted:
        msg = f"outputs must be a non-empty subset of {list(OUTPUTS)}, got {list(wanted)}"
        raise UsageError(msg, param="outputs")
    return tuple(o for o in OUTPUTS if o in wanted)


def build(
    source: str | Path | OpportunityMap,
    out_dir: str | Path,
    *,
    outputs: Sequence[Output] = OUTPUTS,
    baseline: object = None,
    as_of: object = None,
    target: float | None = None,
    n_boot: int | None = None,
    seed: int | None = None,
    territories: Sequence[str] | None = None,
    territories_file: str | Path | None = None,
    tiles: Tiles = None,
    progress: Progress | None = None,
    plan: EvaluationPlan | str | Path | None = "auto",
    explicit: Collection[str] | None = None,
    min_ties: int | None = None,
    interval: str | None = None,
    territory_rule: str | None = None,
    power: bool = False,
) -> BuildResult:
    """Load a map, evaluate it once and write the data, the report and the maps.

    Parameters
    ----------
    source : path-like or OpportunityMap
        A folder, workbook or GeoPackage (see :func:`~opportunity_map.load`), or a
        map already loaded.
    out_dir : path-like
        Folder of the outputs (created if missing).
    outputs : sequence of {"data", "evaluation", "maps"}
        What to write: ``data`` (``dati/`` as CSV, ``mappa_opportunita.gpkg`` and
        ``.xlsx``), ``evaluation`` (``evaluation.csv``, ``.xlsx``, ``.html``),
        ``maps`` (one ``<slug>.html`` per territory and ``index.html``).
    baseline : date-like, optional
        The baseline. Without it nothing is evaluated (the notes say so) and the
        maps show the state at ``as_of``; ``outputs=("evaluation",)`` requires it.
    as_of : date-like, optional
        The date the maps show and the evaluation compares; ``None`` is today
        (stated in the notes).
    target : float
        The target as a fraction: 0.30 is +30% (see
        :func:`~opportunity_map.check_target`).
    n_boot : int
        Bootstrap replicates of the evaluation.
    seed : int, optional
        Seed of the bootstrap (recorded in the report).
    territories : sequence of str, optional
        Territories to evaluate and render, by slug or name (any case). ``None``:
        every territory where the data has organisations, and the whole map. The
        data outputs always hold the whole map.
    territories_file : path-like, optional
        A territories CSV replacing the project's 11 territories.
    tiles : {None, "osm"}
        Background tiles of the maps (``"osm"`` needs the network to show them).
    progress : callable, optional
        Called as ``progress(step_label, done, total)`` before each step (Italian
        labels), for a progress bar.
    plan : EvaluationPlan, path-like, "auto" or None
        The evaluation plan. ``"auto"`` (default) reads ``piano_valutazione.toml``
        in the data folder when there is one; ``None`` ignores it. The plan gives
        every evaluation option not given explicitly (``baseline``, ``as_of``,
        ``target``, ``n_boot``, ``seed``, ``min_ties``, ``interval``,
        ``territory_rule``); explicit ones override it and the notes and
        :attr:`Evaluation.overrides` say which.
    explicit : collection of str, optional
        The options the user actually gave (the command line passes its defaults
        too, so it names what was typed); ``None``: every option that is not
        ``None``.
    min_ties, interval, territory_rule : optional
        As for :func:`~opportunity_map.evaluate`.
    power : bool
        Also estimate the power of the design (:func:`opportunity_map.power.power`,
        default budgets, about 20 s on the bundled data) and fill ``mde_pct``.

    Returns
    -------
    BuildResult

    Raises
    ------
    DataError
        If the data has errors (nothing is written).
    UsageError
        If an option is invalid (:class:`~opportunity_map.DateOrderError`,
        :class:`~opportunity_map.TargetError`,
        :class:`~opportunity_map.UnknownTerritoryError`...); checked before anything
        is written.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as out:
    ...     result = om.build(om.example_map(), out, baseline="2026-06-30",
    ...                       as_of="2027-12-31", n_boot=200, seed=1)
    ...     result.open_first.name, result.territories
    ('index.html', ('bergamo', 'lecco'))
    >>> result.evaluation.table["territory"].tolist()
    ['bergamo', 'lecco', 'lombardia']
    """
    started = time.perf_counter()
    wanted = _check_outputs(outputs)
    given: dict[str, Any] = {
        "baseline": baseline, "as_of": as_of, "target": target, "n_boot": n_boot,
        "seed": seed, "min_ties": min_ties, "interval": interval,
        "territory_rule": territory_rule,
    }
    typed = {k for k, v in given.items() if v is not None} if explicit is None \
        else set(explicit) & set(given)
    the_plan = resolve_plan(source, plan)
    notes: list[str] = []
    if the_plan is not None:
        for name in ("baseline", "as_of", "target", "n_boot", "seed", "min_ties", "interval",
                     "territory_rule"):
            planned = getattr(the_plan, name)
            if name not in typed and planned is not None:
                given[name] = planned
        baseline, as_of = given["baseline"], given["as_of"]
        target, n_boot, seed = given["target"], given["n_boot"], given["seed"]
    target_value = check_target(0.30 if target is None else target)
    n_boot = 2000 if n_boot is None else n_boot
    if as_of is None:
        at = pd.Timestamp.today().normalize()
        notes.append(f"Data della mappa: oggi, {format_date(at)} (--as-of per un'altra data).")
    else:
        at = to_timestamp(as_of, name="as_of")
        notes.append(f"Data della mappa: {format_date(at)}.")
    base = None if baseline is None else to_timestamp(baseline, name="baseline")
    if base is not None and base >= at:
        raise DateOrderError("baseline", base.date(), "as_of", at.date())
    if base is None and wanted == ("evaluation",):
        msg = "baseline is required to evaluate the change of density"
        raise UsageError(msg, param="baseline")
    if isinstance(n_boot, bool) or not isinstance(n_boot, int) or n_boot < 0:
        msg = f"n_boot must be a non-negative integer, got {n_boot!r}"
        raise UsageError(msg, param="n_boot")
    out = Path(out_dir)
    inputs = [p for p in (source, territories_file) if isinstance(p, str | Path)]
    check_output_location(out, inputs)

    steps = ["convalida", *[{"data": "esportazione dei dati", "evaluation": "valutazione",
                             "maps": "mappe"}[o] for o in wanted]]
    step = stepper(steps, progress)
    step()
    m = as_map(source, territories_file)
    if territories is None:
        slugs = tuple(m.territory_slugs)
    else:
        names = [territories] if isinstance(territories, str) else list(territories)
        slugs = tuple(dict.fromkeys(m.resolve_territory(t) for t in names))
        if not slugs:
            msg = "territories: give at least one territory, or None for all"
            raise UsageError(msg, param="territories")
    if not slugs:
        notes.append("I dati non contengono organizzazioni: nessun territorio da mostrare.")

    evaluation = None
    if base is not None:
        notes.append(f"Baseline: {format_date(base)}; obiettivo +{100 * target_value:g}%.")
    check_writable(out)
    # every output is written in a staging folder and moved into place only when all
    # succeeded: a failure (or Ctrl-C) leaves the previous outputs as they were
    def retire(name: str) -> bool:  # the maps of a previous build, when maps are redrawn
        return "maps" in wanted and name.endswith(".html") and name != "evaluation.html"

    # the distances from every comune to the nearest opportunities, once for the report
    # and the maps
    gaps = (coverage(m, as_of=at, territories=list(slugs))
            if slugs and ("evaluation" in wanted or "maps" in wanted) else None)
    with staged_outputs(out, retire=retire) as stage:
        staged: list[Path] = []
        if "data" in wanted:
            step()
            staged += [save(m, stage.root / "dati"),
                       save(m, stage.root / "mappa_opportunita.gpkg"),
                       save(m, stage.root / "mappa_opportunita.xlsx")]
        if "evaluation" in wanted:
            step()
            if base is None:
                notes.append("Nessuna valutazione: non è stata indicata la baseline "
                             "(--baseline), quindi la variazione di densità non è calcolata.")
            elif slugs:
                scopes = [*slugs, REGION] if territories is None else list(slugs)
                evaluation = evaluate(
                    m.network_index(), baseline=base, as_of=at, target=target_value,
                    n_boot=n_boot, seed=seed, territories=scopes,
                    min_ties=given["min_ties"], interval=given["interval"],
                    territory_rule=given["territory_rule"], power=power)
                evaluation = _with_plan(evaluation, the_plan, typed, given)
                notes.extend(_plan_notes(evaluation))
                staged += list(write_evaluation(evaluation, stage.root,
                                                coverage=gaps).values())
        if "maps" in wanted and slugs:
            step()
            figures = compute_figures(m, as_of=at, baseline=base, evaluation=evaluation,
                                      target=target_value, gaps=gaps)
            staged += save_maps(m, stage.root, territories=list(slugs), figures=figures,
                                tiles=tiles)
        elif "maps" in wanted:
            step()
        written = [stage.final(p) for p in staged]

    maps_written = [p for p in written if p.name in {f"{s}.html" for s in slugs}]
    if len(maps_written) == 1:  # one territory: its map, not an index of one
        open_first: Path | None = maps_written[0]
    else:
        open_first = next((p for p in reversed(written) if p.name == "index.html"), None)
    if open_first is None:
        open_first = next((p for p in written if p.suffix == ".html"), None)
    if open_first is None and written:
        open_first = written[0]
    log.info("build done in %.2f s: %d outputs", time.perf_counter() - started, len(written))
    return BuildResult(map=m, territories=slugs, as_of=at, baseline=base,
                       evaluation=evaluation, notes=notes, written=written,
                       open_first=open_first)


def _with_plan(evaluation: Evaluation, plan: EvaluationPlan | None, typed: set[str],
               given: dict[str, Any]) -> Evaluation:
    """Attach the plan and the values typed over it (compared on what was used)."""
    if plan is None:
        return evaluation
    used = {"baseline": evaluation.baseline, "as_of": evaluation.as_of,
            "target": evaluation.target, "n_boot": evaluation.n_boot, "seed": evaluation.seed,
            "min_ties": evaluation.min_ties, "interval": evaluation.interval,
            "territory_rule": evaluation.territory_rule}
    overrides = {name: (getattr(plan, name), used[name]) for name in sorted(typed)
                 if getattr(plan, name) is not None and getattr(plan, name) != used[name]}
    del given
    return dataclasses.replace(evaluation, plan=plan, overrides=overrides)


_PLAN_LABELS = {"baseline": "baseline", "as_of": "data di confronto", "target": "obiettivo",
                "n_boot": "repliche", "seed": "seme", "min_ties": "legami minimi",
                "interval": "intervallo", "territory_rule": "regola tra territori"}


def _plan_notes(evaluation: Evaluation) -> list[str]:
    """Italian notes: which plan was followed, and what the command line changed."""
    plan = evaluation.plan
    if plan is None:
        return ["Nessun piano di valutazione (piano_valutazione.toml): i parametri "
                "vengono dalla riga di comando o dai valori predefiniti."]
    name = plan.path.name if plan.path is not None else "piano"
    agreed = f" concordato il {format_date(plan.agreed_on)}" if plan.agreed_on else ""
    out = [f"Piano di valutazione: {name}{agreed}, impronta {plan.fingerprint[:12]}."]
    if evaluation.overrides:
        parts = []
        for k, (old, new) in evaluation.overrides.items():
            if k == "target":
                old, new = f"+{100 * float(old):g}%", f"+{100 * float(new):g}%"
            elif k in {"baseline", "as_of"}:
                old, new = format_date(old), format_date(new)
            parts.append(f"{_PLAN_LABELS.get(k, k)} {old} → {new}")
        out.append("Valori del piano sostituiti dalla riga di comando: " + "; ".join(parts)
                   + ".")
    out.append(evaluation.rule_text)
    return out


def export(source: str | Path, dest: str | Path, *,
           territories: str | Path | None = None) -> tuple[OpportunityMap, Path]:
    """Load a map and write it in another format, never over its input.

    Parameters
    ----------
    source : path-like
        As for :func:`~opportunity_map.load`.
    dest : path-like
        A folder (CSV), a ``.xlsx`` or a ``.gpkg`` file (see
        :func:`~opportunity_map.save`).
    territories : path-like, optional
        As for :func:`~opportunity_map.load`.

    Returns
    -------
    (OpportunityMap, pathlib.Path)
        The map and the path written.

    Raises
    ------
    OutputLocationError
        If ``dest`` is the input, lies inside an input folder or holds the input
        (checked before reading).
    DataError
        If the data has errors (nothing is written).

    Examples
    --------
    >>> import tempfile
    >>> from importlib import resources
    >>> with resources.as_file(resources.files("opportunity_map") / "data" / "example") as src:
    ...     with tempfile.TemporaryDirectory() as out:
    ...         m, path = om.export(src, Path(out) / "mappa.xlsx")
    ...         path.name, len(om.load(path).actors)
    ('mappa.xlsx', 9)
    """
    inputs = [p for p in (source, territories) if p is not None]
    target = Path(dest)
    if target.suffix.lower() in {".xlsx", ".gpkg"}:
        # a file: it must not be an input, nor sit inside an input folder
        check_output_location(target.parent / f".{target.name}.check", inputs, param="dest")
        for given in inputs:
            if target.resolve() == Path(given).resolve():
                raise OutputLocationError(str(dest), str(given), "same", param="dest")
    else:
        check_output_location(target, inputs, param="dest")
    m = load(source, territories=territories)
    return m, save(m, target)
