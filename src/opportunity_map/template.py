"""The Excel workbook antenne territoriali fill in."""

from __future__ import annotations

import os
from pathlib import Path

import geopandas as gpd
import pandas as pd

from ._errors import OutputLocationError
from ._xlsx import Block, DropDown, Sheet, write_workbook
from .geography import load_territories
from .schema import (
    ACTOR_KIND_LABELS,
    LEVEL_LABELS,
    OPPORTUNITY_TYPE_LABELS,
    RELATION_KIND_LABELS,
    TABLES,
)

__all__ = ["TEMPLATE_NAME", "write_template"]

#: File name of the workbook written by :func:`write_template`.
TEMPLATE_NAME = "mappa_opportunita.xlsx"
_ROWS = 2000


def write_template(folder: str | os.PathLike[str], *,
                   territories: gpd.GeoDataFrame | str | os.PathLike[str] | None = None
                   ) -> Path:
    """Write an empty workbook to fill in, with Italian headers and drop-down lists.

    The workbook has one sheet per table (``attori``, ``opportunita``,
    ``relazioni``) with the Italian headers :func:`opportunity_map.load`
    accepts, drop-down lists for ``tipo``, ``livello`` and ``territorio``, an
    ``istruzioni`` sheet explaining every column and an ``elenchi`` sheet with
    the allowed values and their meaning. A filled-in workbook loads directly:
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
    lists = {
        "tipo_attore": (list(ACTOR_KIND_LABELS), list(ACTOR_KIND_LABELS.values())),
        "tipo_opportunita": (list(OPPORTUNITY_TYPE_LABELS),
                             list(OPPORTUNITY_TYPE_LABELS.values())),
        "tipo_relazione": (list(RELATION_KIND_LABELS), list(RELATION_KIND_LABELS.values())),
        "livello": ([f"{k} - {v}" for k, v in LEVEL_LABELS.items()],
                    ["scala PARTNER"] * len(LEVEL_LABELS)),
        "territorio": ([str(s) for s in table["slug"]], [str(n) for n in table["name"]]),
    }
    dropdowns = {
        ("actors", "kind"): "tipo_attore",
        ("actors", "territory"): "territorio",
        ("opportunities", "type"): "tipo_opportunita",
        ("relations", "kind"): "tipo_relazione",
        ("relations", "level"): "livello",
    }
    sheets = [_help_sheet()]
    for spec in TABLES.values():
        columns = [c for c in spec.columns if c.name != "geocoded"]
        sheets.append(Sheet(
            spec.italian,
            pd.DataFrame(columns=[c.italian for c in columns], dtype=str),
            widths={j: max(14, len(c.italian) + 4) for j, c in enumerate(columns)},
            freeze_header=True,
            drop_downs=[DropDown(c.italian, _LISTS, dropdowns[spec.name, c.name],
                                 last_row=_ROWS)
                        for c in columns if (spec.name, c.name) in dropdowns],
        ))
    sheets.append(_lists_sheet(lists))
    target = Path(folder) / TEMPLATE_NAME
    if target.exists():
        # it may be an antenna's filled-in workbook: never overwrite it
        raise OutputLocationError(str(target), str(target), "same", param="folder")
    write_workbook(target, sheets, where=TEMPLATE_NAME, active=TABLES["actors"].italian)
    return target


_LISTS = "elenchi"


def _lists_sheet(lists: dict[str, tuple[list[str], list[str]]]) -> Sheet:
    """Each list of allowed values and its meaning, side by side (two columns each)."""
    blocks = []
    widths: dict[int, float] = {}
    for j, (name, (values, labels)) in enumerate(lists.items()):
        frame = pd.DataFrame({name: values, "significato": labels}, dtype=object)
        blocks.append(Block(frame, column=2 * j))
        widths[2 * j], widths[2 * j + 1] = 30, 40
    return Sheet(_LISTS, blocks=blocks, widths=widths)


def _help_sheet() -> Sheet:
    intro = pd.DataFrame({"Mappa delle opportunità – istruzioni per la compilazione": [
        "La mappa descrive organizzazioni e opportunità, MAI persone: non inserire nomi "
        "di persone, codici fiscali personali o dati sanitari.",
        "Date nel formato gg/mm/aaaa. Una riga vale dalla data 'dal' alla data 'al' "
        "(incluse); 'dal' vuoto = da sempre, 'al' vuoto = ancora valida.",
    ]})
    rows = [(spec.italian, column.italian, "sì" if column.required else "no",
             column.description)
            for spec in TABLES.values() for column in spec.columns
            if column.name != "geocoded"]
    columns = pd.DataFrame(rows, columns=["foglio", "colonna", "obbligatoria", "descrizione"])
    return Sheet("istruzioni", blocks=[Block(intro, title=True),
                                       Block(columns, row=len(intro) + 2,
                                             wrap=("descrizione",))],
                 widths=dict(enumerate((14, 16, 12, 100))))
