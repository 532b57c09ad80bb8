"""An evaluation plan that lives with the data: ``piano_valutazione.toml``.

The plan fixes, before the data arrive, how the +30% density target will be
evaluated: dates, target, interval method, replicates, seed, minimum number of
ties, primary endpoint, the rule across territories and the date it was agreed.
:func:`load_plan` reads it (Italian or English keys) and gives it a SHA-256
fingerprint, so that a report can prove which plan it followed;
:func:`opportunity_map.evaluation.evaluate` and :func:`opportunity_map.build` use it
when present, and explicit options override it (recorded).

Example ``piano_valutazione.toml``::

    data_baseline = 2026-06-30
    date_confronto = [2027-12-31]
    obiettivo = 30            # percent
    metodo_intervallo = "bootstrap"
    repliche = 2000
    seme = 1
    min_legami = 20
    endpoint_primario = "regione"
    regola_territori = "secondari"
    data_accordo = 2026-05-15
"""

from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import json
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ._errors import DataError, Problem

__all__ = ["PLAN_FILE", "EvaluationPlan", "find_plan", "load_plan", "resolve_plan"]

#: The plan's file name in the data folder.
PLAN_FILE = "piano_valutazione.toml"

# accepted key -> canonical field
_KEYS: dict[str, str] = {
    "baseline": "baseline", "data_baseline": "baseline",
    "follow_up": "follow_up", "date_confronto": "follow_up", "data_confronto": "follow_up",
    "as_of": "follow_up",
    "target": "target", "obiettivo": "target",
    "metodo_intervallo": "interval", "interval": "interval", "intervallo": "interval",
    "repliche": "n_boot", "replicates": "n_boot", "n_boot": "n_boot",
    "seme": "seed", "seed": "seed",
    "min_legami": "min_ties", "min_ties": "min_ties",
    "endpoint_primario": "primary_endpoint", "primary_endpoint": "primary_endpoint",
    "regola_territori": "territory_rule", "territory_rule": "territory_rule",
    "data_accordo": "agreed_on", "agreed_on": "agreed_on",
}
_INTERVALS = {"bootstrap": "bootstrap", "jackknife": "jackknife"}
_RULES = {"secondari": "secondary", "secondary": "secondary", "holm": "holm"}
_REGION_WORDS = {"regione", "region", "lombardia"}


@dataclass(frozen=True)
class EvaluationPlan:
    """An evaluation plan (see :func:`load_plan`).

    Attributes
    ----------
    baseline : pandas.Timestamp or None
    follow_up : tuple of pandas.Timestamp
        The follow-up dates, in order.
    as_of : pandas.Timestamp or None
        The date compared with the baseline by default: the last follow-up date.
    target : float or None
        Target as a fraction (the file gives a percentage: ``obiettivo = 30``).
    interval : {"bootstrap", "jackknife"} or None
    n_boot, seed, min_ties : int or None
    primary_endpoint : str or None
        ``"lombardia"`` (the region) or a territory slug.
    territory_rule : {"secondary", "holm"} or None
    agreed_on : datetime.date or None
        When the plan was agreed.
    path : pathlib.Path or None
        The file read.
    fingerprint : str
        SHA-256 (hex) of the canonical plan: the values above as JSON with sorted
        keys, ISO dates and the target in percent; independent of comments, key
        language, order and spacing.
    """

    baseline: pd.Timestamp | None = None
    follow_up: tuple[pd.Timestamp, ...] = ()
    target: float | None = None
    interval: str | None = None
    n_boot: int | None = None
    seed: int | None = None
    min_ties: int | None = None
    primary_endpoint: str | None = None
    territory_rule: str | None = None
    agreed_on: dt.date | None = None
    path: Path | None = None
    fingerprint: str = ""

    @property
    def as_of(self) -> pd.Timestamp | None:
        """The last follow-up date (``None`` without one)."""
        return self.follow_up[-1] if self.follow_up else None

    def canonical(self) -> dict[str, Any]:
        """The plan's values as plain JSON types (what the fingerprint hashes)."""
        return {
            "baseline": None if self.baseline is None else self.baseline.date().isoformat(),
            "follow_up": [d.date().isoformat() for d in self.follow_up],
            "target_pct": None if self.target is None else round(100 * self.target, 10),
            "interval": self.interval,
            "n_boot": self.n_boot,
            "seed": self.seed,
            "min_ties": self.min_ties,
            "primary_endpoint": self.primary_endpoint,
            "territory_rule": self.territory_rule,
            "agreed_on": None if self.agreed_on is None else self.agreed_on.isoformat(),
        }

    def lines(self) -> list[tuple[str, str]]:
        """``(Italian label, value)`` pairs for the report's "Piano di valutazione"."""
        from ._format import format_date, format_number

        c = self
        rule = {"secondary": "territori secondari, senza correzione",
                "holm": "territori con correzione di Holm"}.get(c.territory_rule or "", "")
        return [
            ("File", "" if c.path is None else c.path.name),
            ("Data dell'accordo", format_date(c.agreed_on)),
            ("Baseline", format_date(c.baseline)),
            ("Date di confronto", ", ".join(format_date(d) for d in c.follow_up)),
            ("Obiettivo", "" if c.target is None
             else f"{format_number(100 * c.target, 1, signed=True)}%"),
            ("Intervallo", {"bootstrap": "bootstrap sui vertici (appaiato)",
                            "jackknife": "jackknife (Snijders-Borgatti)"}.get(
                                c.interval or "", "")),
            ("Repliche bootstrap", "" if c.n_boot is None else str(c.n_boot)),
            ("Seme", "" if c.seed is None else str(c.seed)),
            ("Legami minimi alla baseline", "" if c.min_ties is None else str(c.min_ties)),
            ("Endpoint primario", "" if c.primary_endpoint is None else (
                "la regione (Lombardia)" if c.primary_endpoint == "lombardia"
                else c.primary_endpoint)),
            ("Regola tra territori", rule),
            ("Impronta SHA-256", c.fingerprint),
        ]


def find_plan(folder: str | Path) -> Path | None:
    """The plan file of a data folder, or ``None`` (a file or missing folder: ``None``)."""
    path = Path(folder)
    candidate = path / PLAN_FILE
    return candidate if path.is_dir() and candidate.is_file() else None


def _key_lines(text: str) -> dict[str, int]:
    lines: dict[str, int] = {}
    for no, line in enumerate(text.splitlines(), start=1):
        if (match := re.match(r"\s*[\"']?([A-Za-z_][\w-]*)[\"']?\s*=", line)) is not None:
            lines.setdefault(match.group(1), no)
    return lines


def load_plan(path: str | Path) -> EvaluationPlan:
    """Read and check an evaluation plan (TOML, Italian or English keys).

    Parameters
    ----------
    path : path-like
        The ``piano_valutazione.toml`` file.

    Returns
    -------
    EvaluationPlan

    Raises
    ------
    DataError
        Every problem found, each as ``file:line: key: message`` in Italian (unknown
        key with the closest known one, wrong type, value out of range, follow-up
        not after the baseline, TOML syntax).
    FileNotFoundError
        If the file does not exist.

    Notes
    -----
    Keys (synonyms separated by /): ``baseline``/``data_baseline`` (date),
    ``follow_up``/``date_confronto``/``data_confronto`` (a date or a list of dates,
    after the baseline), ``target``/``obiettivo`` (a percentage between 1 and 500:
    30 means +30%), ``metodo_intervallo`` (``bootstrap`` | ``jackknife``),
    ``repliche`` (integer >= 0), ``seme`` (integer >= 0), ``min_legami`` (integer
    >= 0), ``endpoint_primario`` (``regione`` or a territory slug),
    ``regola_territori`` (``secondari`` | ``holm``), ``data_accordo`` (date). Dates
    are TOML dates (``2026-06-30``) or strings ``"30/06/2026"``.
    """
    from ._time import parse_date

    file = Path(path)
    text = file.read_text(encoding="utf-8")
    name = str(file)  # as the data problems: the path as given
    problems: list[Problem] = []
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = re.search(r"line (\d+)", str(exc))
        raise DataError([Problem(name, int(line.group(1)) if line else None, None,
                                 f"sintassi TOML non valida: {exc}")]) from None
    where = _key_lines(text)

    def bad(key: str, message: str) -> None:
        problems.append(Problem(name, where.get(key), key, message))

    def as_date(key: str, value: object) -> pd.Timestamp | None:
        if isinstance(value, dt.datetime | dt.date):
            return pd.Timestamp(value).normalize()
        if isinstance(value, str):
            try:
                ts = parse_date(value)
            except ValueError as exc:  # a date that does not exist (31/02/2026)
                bad(key, f"{exc}: usare 2026-06-30 o \"30/06/2026\"")
                return None
            if ts is not None:
                return pd.Timestamp(ts).normalize()
        bad(key, f"data non valida {value!r}: usare 2026-06-30 o \"30/06/2026\"")
        return None

    def as_int(key: str, value: object) -> int | None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            bad(key, f"serve un numero intero maggiore o uguale a 0, trovato {value!r}")
            return None
        return value

    values: dict[str, Any] = {}
    for key, value in raw.items():
        field_name = _KEYS.get(key.lower())
        if field_name is None:
            close = difflib.get_close_matches(key.lower(), list(_KEYS), n=1)
            hint = f" (forse {close[0]!r}?)" if close else ""
            bad(key, f"chiave sconosciuta{hint}; chiavi ammesse: data_baseline, "
                     "date_confronto, obiettivo, metodo_intervallo, repliche, seme, "
                     "min_legami, endpoint_primario, regola_territori, data_accordo")
            continue
        if field_name in values:
            bad(key, f"valore già indicato con un'altra chiave ({field_name})")
            continue
        if field_name in {"baseline"}:
            values[field_name] = as_date(key, value)
        elif field_name == "agreed_on":
            d = as_date(key, value)
            values[field_name] = None if d is None else d.date()
        elif field_name == "follow_up":
            items = value if isinstance(value, list) else [value]
            dates = [as_date(key, v) for v in items]
            if not items:
                bad(key, "serve almeno una data di confronto")
            values[field_name] = tuple(sorted(d for d in dates if d is not None))
        elif field_name == "target":
            if isinstance(value, bool) or not isinstance(value, int | float) or not (
                    1 <= value <= 500):
                bad(key, f"obiettivo in percentuale tra 1 e 500 (30 = +30%), trovato {value!r}"
                    + (f": per +{100 * value:g}% scrivere {100 * value:g}"
                       if isinstance(value, float) and 0 < value < 1 else ""))
            else:
                values[field_name] = float(value) / 100
        elif field_name == "interval":
            if not isinstance(value, str) or value.lower() not in _INTERVALS:
                bad(key, f"metodo sconosciuto {value!r}: usare \"bootstrap\" o \"jackknife\"")
            else:
                values[field_name] = _INTERVALS[value.lower()]
        elif field_name == "territory_rule":
            if not isinstance(value, str) or value.lower() not in _RULES:
                bad(key, f"regola sconosciuta {value!r}: usare \"secondari\" o \"holm\"")
            else:
                values[field_name] = _RULES[value.lower()]
        elif field_name == "primary_endpoint":
            if not isinstance(value, str) or not value.strip():
                bad(key, f"serve \"regione\" o la sigla di un territorio, trovato {value!r}")
            else:
                text_value = value.strip().lower()
                values[field_name] = "lombardia" if text_value in _REGION_WORDS else text_value
        else:  # n_boot, seed, min_ties
            values[field_name] = as_int(key, value)
    base, follow = values.get("baseline"), values.get("follow_up", ())
    if base is not None and follow and follow[0] <= base:
        key = next((k for k in raw if _KEYS.get(k.lower()) == "follow_up"), "date_confronto")
        bad(key, f"la data di confronto {follow[0].date():%d/%m/%Y} non è successiva alla "
                 f"baseline {base.date():%d/%m/%Y}")
    if problems:
        raise DataError(problems)
    plan = EvaluationPlan(path=file, **{k: v for k, v in values.items() if v is not None})
    digest = hashlib.sha256(json.dumps(plan.canonical(), sort_keys=True,
                                       separators=(",", ":")).encode("utf-8")).hexdigest()
    return EvaluationPlan(**{**plan.__dict__, "fingerprint": digest})


def resolve_plan(source: object, plan: EvaluationPlan | str | Path | None
                 ) -> EvaluationPlan | None:
    """The plan a run follows.

    Parameters
    ----------
    source : object
        The data (a folder or file path; anything else has no plan file).
    plan : EvaluationPlan, path-like, ``"auto"`` or None
        A plan, a plan file, ``"auto"`` (the :data:`PLAN_FILE` found by
        :func:`find_plan` next to the data) or ``None`` (no plan).

    Returns
    -------
    EvaluationPlan or None

    Raises
    ------
    DataError
        If the plan file has errors.
    """
    if plan is None or isinstance(plan, EvaluationPlan):
        return plan
    if isinstance(plan, str) and plan == "auto":
        found = find_plan(source) if isinstance(source, str | Path) else None
        return None if found is None else load_plan(found)
    return load_plan(plan)
