"""The Excel workbook antenne territoriali fill in: empty, or pre-filled for next semester.

One layout serves both: Italian sheets (``attori``, ``opportunita``, ``relazioni``)
with the Italian headers :func:`opportunity_map.load` accepts, drop-down lists that
show Italian labels (``Cooperativa sociale di tipo B``, ``3 – coordinamento``),
dates as dates and numbers as numbers, an ``istruzioni`` sheet and a protected
``elenchi`` sheet with the allowed values. :func:`write_template` writes it empty;
:func:`write_map_workbook` fills it with a territory's data, so that the antenna
edits last semester's workbook instead of starting again, and loading it back
gives exactly that data.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd

from ._errors import OutputLocationError
from ._format import format_date
from ._xlsx import Block, DateRule, DropDown, Sheet, write_workbook
from .geography import comuni, load_territories
from .schema import (
    ACTOR_KIND_LABELS,
    LEVEL_LABELS,
    OPPORTUNITY_TYPE_LABELS,
    RELATION_KIND_LABELS,
    TABLES,
    TIE_DEFINITION,
    Column,
    Table,
)

if TYPE_CHECKING:
    from .model import OpportunityMap

__all__ = [
    "LEVEL_CHOICES",
    "TEMPLATE_NAME",
    "write_map_workbook",
    "write_template",
    "write_workbook_from",
]

#: File name of the workbook written by :func:`write_template`.
TEMPLATE_NAME = "mappa_opportunita.xlsx"
#: How a level is shown in the workbook's drop-down (the loader reads it back).
LEVEL_CHOICES: dict[int, str] = {k: f"{k} – {v}" for k, v in LEVEL_LABELS.items()}
#: Rows below the data that still offer drop-downs and date checks.
_SPARE_ROWS = 2000
_LISTS = "elenchi"
#: Columns written by the loader, never typed by the antenna.
_DERIVED = ("geocoded",)
_VOCABULARY = {"actors": ACTOR_KIND_LABELS, "opportunities": OPPORTUNITY_TYPE_LABELS,
               "relations": RELATION_KIND_LABELS}
_KIND_COLUMN = {"actors": "kind", "opportunities": "type", "relations": "kind"}
_LIST_NAMES = {"actors": "tipo_attore", "opportunities": "tipo_opportunita",
               "relations": "tipo_relazione"}
#: Sheet listing the relations with an organisation of another territory (not loaded).
OTHER_TERRITORIES_SHEET = "relazioni_altri_territori"


def write_template(folder: str | os.PathLike[str], *,
                   territories: gpd.GeoDataFrame | str | os.PathLike[str] | None = None
                   ) -> Path:
    """Write an empty workbook to fill in, with Italian headers and drop-down lists.

    The workbook has one sheet per table (``attori``, ``opportunita``,
    ``relazioni``) with the Italian headers :func:`opportunity_map.load`
    accepts, drop-down lists for ``tipo``, ``livello`` and ``territorio``, date
    checks on ``dal``, ``al`` and ``verificato_il``, an ``istruzioni`` sheet
    explaining every column and a protected ``elenchi`` sheet with the allowed
    values and their meaning. A filled-in workbook loads directly:
    ``opportunity_map.load("mappa_opportunita.xlsx")``.

    Parameters
    ----------
    folder : path-like
        Where to write ``mappa_opportunita.xlsx`` (created if missing).
    territories : geopandas.GeoDataFrame or path-like, optional
        The territories offered in the drop-down, or a territories CSV
        (default: the 11 territories of the project).

    Returns
    -------
    pathlib.Path
        The workbook written.

    Raises
    ------
    OutputLocationError
        If the folder already holds ``mappa_opportunita.xlsx`` (it may be a filled-in
        map): it is never overwritten.
    DataError
        If a territory name cannot be held by Excel (a control character, more than
        32,767 characters); nothing is written.

    Notes
    -----
    The workbook is written by :func:`opportunity_map._xlsx.write_workbook`: every
    name is a text cell, never a formula (a territory called ``=1+1`` stays text),
    and the file is replaced atomically.

    Examples
    --------
    >>> import tempfile
    >>> from openpyxl import load_workbook
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     book = load_workbook(write_template(folder))
    >>> book.sheetnames, book.active.title
    (['istruzioni', 'attori', 'opportunita', 'relazioni', 'elenchi'], 'attori')
    """
    table: gpd.GeoDataFrame = (territories if isinstance(territories, gpd.GeoDataFrame)
                               else load_territories(territories))
    target = Path(folder) / TEMPLATE_NAME
    _refuse_existing(target, "folder")
    empty = {name: pd.DataFrame(columns=[c.name for c in _columns(spec)])
             for name, spec in TABLES.items()}
    write_workbook(target, _sheets(empty, table, comune_names=()),
                   where=TEMPLATE_NAME, active=TABLES["actors"].italian)
    return target


def write_map_workbook(m: OpportunityMap, path: str | os.PathLike[str], *,
                       territory: str | None = None, as_of: object = None,
                       extra: Mapping[str, pd.DataFrame] | None = None) -> Path:
    """Write a map's data as the workbook antenne fill in, ready for next semester.

    The same layout as :func:`write_template`, pre-filled: every organisation of
    the territory (those that left too: their history stays), their opportunities
    and the relations among them, with kinds and levels as their Italian labels,
    dates as dates, capacities and coordinates as numbers, and any extra column
    after the canonical ones. ``comune`` offers the territory's comuni; ``da``,
    ``a`` and ``id_attore`` offer the ids of the ``attori`` sheet (rows added
    there appear in the lists). Loading the workbook back gives the same tables.

    Parameters
    ----------
    m : OpportunityMap
        The map.
    path : path-like
        The ``.xlsx`` file to write. Never overwritten.
    territory : str, optional
        A territory (slug or name); ``None`` writes the whole map.
    as_of : date-like, optional
        The date the data are presented at (a Tavolo): stated in the instructions.
    extra : mapping of str to pandas.DataFrame, optional
        Further sheets to read (e.g. the changes since the last Tavolo), by name;
        the loader ignores them.

    Returns
    -------
    pathlib.Path
        The workbook written.

    Raises
    ------
    OutputLocationError
        If ``path`` exists (it may be an antenna's edited workbook).
    UnknownTerritoryError
        If the territory is not in the map.
    DataError
        If a value cannot be held by Excel; nothing is written.

    Notes
    -----
    Positions placed at the comune's point (``geocoded == "comune"``) are written
    without coordinates, so that they follow the comune if it is corrected; given
    coordinates are written as numbers. Relations with an organisation of another
    territory cannot be loaded from this workbook alone (their other end is not in
    it): they are listed in the sheet ``relazioni_altri_territori``, which the
    loader ignores, and are kept by the regional data.

    Examples
    --------
    >>> import tempfile
    >>> import opportunity_map as om
    >>> m = om.example_map()
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     back = om.load(write_map_workbook(m, Path(folder) / "lecco.xlsx", territory="lecco"))
    >>> back.actors["id"].tolist(), len(back.relations)
    (['LC-01', 'LC-02', 'LC-03'], 3)
    """
    target = Path(path)
    _refuse_existing(target, "path")
    slug = None if territory is None else m.resolve_territory(territory)
    scope = (np.ones(len(m.actors), dtype=bool) if slug is None
             else m.actors["territory"].astype(object).eq(slug).fillna(False).to_numpy(bool))
    actors = pd.DataFrame(m.actors.drop(columns="geometry"))[scope]
    ids = set(actors["id"])
    opportunities = m.opportunities[m.opportunities["actor_id"].isin(ids)]
    inside = m.relations["source"].isin(ids) & m.relations["target"].isin(ids)
    touching = m.relations["source"].isin(ids) | m.relations["target"].isin(ids)
    tables = {"actors": actors, "opportunities": opportunities,
              "relations": m.relations[inside]}
    territories = m.territories if slug is None else m.territories[m.territories["slug"] == slug]
    codes = territories["province_code"].astype(int).tolist()
    table = comuni()
    comune_names = sorted(table.loc[table["province_code"].isin(codes), "name"].astype(str),
                          key=str.casefold)
    sheets = _sheets(tables, m.territories, comune_names=comune_names,
                     as_of=as_of, territory=None if slug is None else
                     str(territories["name"].iloc[0]))
    ambiti = m.ambiti if slug is None else m.ambiti[m.ambiti["territory"] == slug]
    if len(ambiti):
        sheets.append(Sheet("ambiti", pd.DataFrame({
            "id": ambiti["id"].astype(str), "name": ambiti["name"].astype(str),
            "territory": ambiti["territory"].astype(str),
            "comune_codes": [" ".join(str(c) for c in codes) for codes in ambiti["comune_codes"]],
        }), freeze_header=True))
    others = m.relations[touching & ~inside]
    if len(others):
        sheets.append(Sheet(OTHER_TERRITORIES_SHEET, _other_relations(m, others),
                            freeze_header=True))
    sheets += [Sheet(name, frame, freeze_header=True) for name, frame in (extra or {}).items()]
    write_workbook(target, sheets, where=target.name, active=TABLES["actors"].italian)
    return target


def write_workbook_from(source: str | os.PathLike[str], folder: str | os.PathLike[str], *,
                        territory: str | None = None,
                        territories_file: str | os.PathLike[str] | None = None) -> Path:
    """Load a map and write it as the pre-filled workbook (:func:`write_map_workbook`).

    Parameters
    ----------
    source : path-like
        The map (folder, workbook or GeoPackage), as for :func:`opportunity_map.load`.
    folder : path-like
        Where to write ``mappa_<slug>.xlsx`` (or ``mappa_opportunita.xlsx`` for the
        whole map); it must not lie inside the data folder.
    territory : str, optional
        A territory (slug or name); ``None`` for the whole map.
    territories_file : path-like, optional
        As for :func:`opportunity_map.load`.

    Returns
    -------
    pathlib.Path
        The workbook written.

    Raises
    ------
    OutputLocationError
        If the workbook exists or the folder overlaps the data.
    DataError
        If the data has errors; nothing is written.
    """
    from ._atomic import check_output_location
    from .io import load

    out = Path(folder)
    check_output_location(out, [p for p in (source, territories_file) if p is not None])
    m = load(source, territories=territories_file)
    slug = None if territory is None else m.resolve_territory(territory)
    name = TEMPLATE_NAME if slug is None else f"mappa_{slug}.xlsx"
    return write_map_workbook(m, out / name, territory=slug)


def _refuse_existing(target: Path, param: str) -> None:
    if target.exists():
        # it may be an antenna's filled-in workbook: never overwrite it
        raise OutputLocationError(str(target), str(target), "same", param=param)


def _columns(spec: Table) -> list[Column]:
    return [c for c in spec.columns if c.name not in _DERIVED]


def _sheets(tables: dict[str, pd.DataFrame], territories: gpd.GeoDataFrame, *,
            comune_names: Sequence[str], as_of: object = None,
            territory: str | None = None) -> list[Sheet]:
    """The workbook's sheets: instructions, the three tables, the lists."""
    lists: dict[str, tuple[list[str], list[str], str]] = {
        name: (list(_VOCABULARY[table].values()), list(_VOCABULARY[table]), "codice")
        for table, name in _LIST_NAMES.items()}
    lists["livello"] = (list(LEVEL_CHOICES.values()), ["scala PARTNER"] * len(LEVEL_CHOICES),
                        "significato")
    lists["territorio"] = ([str(n) for n in territories["name"]],
                           [str(s) for s in territories["slug"]], "codice")
    if comune_names:
        lists["comune"] = (list(comune_names), [""] * len(comune_names), "note")
    sheets = [_help_sheet(as_of=as_of, territory=territory, n_rows={
        TABLES[name].italian: len(frame) for name, frame in tables.items()})]
    for name, spec in TABLES.items():
        frame = _italian_frame(tables[name], spec, territories)
        last = len(frame) + 1 + _SPARE_ROWS
        drops = [DropDown(header, _LISTS, source, last_row=last, strict=strict)
                 for header, source, strict in _list_columns(spec, bool(comune_names))]
        drops += [DropDown(spec.column(column).italian, TABLES["actors"].italian,
                           TABLES["actors"].column("id").italian, last_row=last,
                           strict=False, error="Codice di organizzazione non presente nel "
                           "foglio attori: aggiungerla prima in attori.",
                           source_last_row=len(tables["actors"]) + 1 + _SPARE_ROWS)
                  for column in ("source", "target", "actor_id") if column in spec.column_names]
        dates = [DateRule(c.italian, last_row=last) for c in _columns(spec) if c.type == "date"]
        sheets.append(Sheet(
            spec.italian, frame,
            widths={j: max(14, len(str(h)) + 4) for j, h in enumerate(frame.columns)},
            freeze_header=True, drop_downs=drops, date_rules=dates,
        ))
    sheets.append(_lists_sheet(lists))
    return sheets


def _list_columns(spec: Table, with_comuni: bool) -> list[tuple[str, str, bool]]:
    """``(header, list name, strict)`` of the columns of a table with a drop-down."""
    out = [(spec.column(_KIND_COLUMN[spec.name]).italian, _LIST_NAMES[spec.name], True)]
    if spec.name == "relations":
        out.append((spec.column("level").italian, "livello", True))
    if spec.name == "actors":
        out.append((spec.column("territory").italian, "territorio", True))
        if with_comuni:  # a comune of another province is allowed, after a warning
            out.append((spec.column("comune").italian, "comune", False))
    return out


def _italian_frame(frame: pd.DataFrame, spec: Table, territories: gpd.GeoDataFrame
                   ) -> pd.DataFrame:
    """A table with Italian headers and labels, typed cells, extra columns after."""
    out: dict[str, object] = {}
    names = dict(zip(territories["slug"].astype(str), territories["name"].astype(str),
                     strict=True))
    for column in _columns(spec):
        values = (frame[column.name] if column.name in frame
                  else pd.Series(pd.NA, index=frame.index, dtype=object))
        if column.name == _KIND_COLUMN[spec.name]:
            values = values.map(_VOCABULARY[spec.name]).fillna(values)
        elif column.name == "level":
            values = values.map(lambda v: LEVEL_CHOICES.get(int(v)) if pd.notna(v) else None)
        elif column.name == "territory":
            values = values.astype(object).map(lambda s: names.get(s, s) if isinstance(s, str)
                                               else None)
        elif column.name in ("lat", "lon") and "geocoded" in frame:
            # a position placed at the comune's point is not a given coordinate
            values = values.where(frame["geocoded"].astype(object).ne("comune"))
        elif column.type == "date":
            values = pd.to_datetime(values)
        elif column.type == "text" or column.type == "id":
            values = values.astype(object).where(values.notna(), None)
        out[column.italian] = values.to_numpy() if column.type != "int" else values.array
    canonical = set(spec.column_names) | {"geometry", "group", "comune_code", "ambito"}
    for extra in (c for c in frame.columns if c not in canonical):
        out[str(extra)] = frame[extra].to_numpy()
    return pd.DataFrame(out, index=pd.RangeIndex(len(frame)))


def _other_relations(m: OpportunityMap, relations: pd.DataFrame) -> pd.DataFrame:
    names = dict(zip(m.actors["id"], m.actors["name"].astype(str), strict=False))
    where = dict(zip(m.actors["id"], m.actors["territory"].astype(object), strict=False))
    return pd.DataFrame({
        "da": relations["source"].to_numpy(),
        "nome_da": [names.get(a, "") for a in relations["source"]],
        "territorio_da": [where.get(a) for a in relations["source"]],
        "a": relations["target"].to_numpy(),
        "nome_a": [names.get(a, "") for a in relations["target"]],
        "territorio_a": [where.get(a) for a in relations["target"]],
        "tipo": relations["kind"].map(RELATION_KIND_LABELS).fillna(relations["kind"]).to_numpy(),
        "livello": [LEVEL_CHOICES.get(int(v)) for v in relations["level"]],
        "dal": pd.to_datetime(relations["since"]).to_numpy(),
        "al": pd.to_datetime(relations["until"]).to_numpy(),
    })


def _lists_sheet(lists: dict[str, tuple[list[str], list[str], str]]) -> Sheet:
    """Each list of allowed values and its meaning, side by side (two columns each)."""
    blocks = []
    widths: dict[int, float] = {}
    for j, (name, (values, meanings, second)) in enumerate(lists.items()):
        frame = pd.DataFrame({name: values, second: meanings}, dtype=object)
        blocks.append(Block(frame, column=2 * j))
        widths[2 * j], widths[2 * j + 1] = 34, 26
    return Sheet(_LISTS, blocks=blocks, widths=widths, protected=True)


def _help_sheet(*, as_of: object, territory: str | None, n_rows: dict[str, int]) -> Sheet:
    title = "Mappa delle opportunità – istruzioni per la compilazione"
    lines = []
    if territory is not None or as_of is not None:
        lines.append(
            "Dati " + (f"del territorio di {territory} " if territory else "")
            + (f"al {format_date(as_of)}" if as_of is not None else "")
            + ": " + ", ".join(f"{n} righe in {sheet}" for sheet, n in n_rows.items())
            + ". Aggiornare questo file per il prossimo Tavolo di rete.")
    lines += [
        "La mappa descrive organizzazioni e opportunità, MAI persone: non inserire nomi "
        "di persone, codici fiscali personali o dati sanitari.",
        "Date nel formato gg/mm/aaaa. Una riga vale dalla data 'dal' alla data 'al' "
        "(incluse); 'dal' vuoto = da sempre, 'al' vuoto = ancora valida.",
        "Non cancellare righe: quando un'organizzazione, un'opportunità o una relazione "
        "finisce, indicare la data di fine nella colonna 'al'. Cancellare una riga "
        "cancella la sua storia e cambia il confronto con la baseline.",
        "Un livello di collaborazione cambiato: chiudere la riga con 'al' e aggiungere una "
        "riga nuova con il nuovo livello e la data 'dal'.",
        "verificato_il: la data in cui si è controllato che la riga è ancora corretta "
        "(le righe non verificate da oltre 12 mesi sono segnalate al Tavolo).",
        "Il foglio 'elenchi' contiene i valori ammessi ed è protetto (senza password).",
        TIE_DEFINITION,
    ]
    intro = pd.DataFrame({title: lines})
    rows = [(spec.italian, column.italian, "sì" if column.required else "no",
             column.description)
            for spec in TABLES.values() for column in _columns(spec)]
    columns = pd.DataFrame(rows, columns=["foglio", "colonna", "obbligatoria", "descrizione"])
    return Sheet("istruzioni", blocks=[Block(intro, title=True),
                                       Block(columns, row=len(intro) + 2,
                                             wrap=("descrizione",))],
                 widths=dict(enumerate((14, 16, 12, 100))))
