"""The Excel workbook antenne territoriali fill in."""

from __future__ import annotations

import os
from pathlib import Path

import geopandas as gpd
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from ._atomic import atomic_path
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
_HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")


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
    """
    table: gpd.GeoDataFrame = (territories if isinstance(territories, gpd.GeoDataFrame)
                               else load_territories(territories))
    wb = Workbook()
    lists = {
        "tipo_attore": list(ACTOR_KIND_LABELS),
        "tipo_opportunita": list(OPPORTUNITY_TYPE_LABELS),
        "tipo_relazione": list(RELATION_KIND_LABELS),
        "livello": [f"{k} - {v}" for k, v in LEVEL_LABELS.items()],
        "territorio": [str(s) for s in table["slug"]],
    }
    labels = {
        "tipo_attore": list(ACTOR_KIND_LABELS.values()),
        "tipo_opportunita": list(OPPORTUNITY_TYPE_LABELS.values()),
        "tipo_relazione": list(RELATION_KIND_LABELS.values()),
        "livello": ["scala PARTNER"] * len(LEVEL_LABELS),
        "territorio": [str(n) for n in table["name"]],
    }
    ranges = _write_lists(wb, lists, labels)
    dropdowns = {
        ("actors", "kind"): ranges["tipo_attore"],
        ("actors", "territory"): ranges["territorio"],
        ("opportunities", "type"): ranges["tipo_opportunita"],
        ("relations", "kind"): ranges["tipo_relazione"],
        ("relations", "level"): ranges["livello"],
    }
    first = True
    for table in TABLES.values():
        ws = wb.active if first else wb.create_sheet()
        first = False
        ws.title = table.italian
        for j, column in enumerate(table.columns, start=1):
            if column.name == "geocoded":
                continue
            cell = ws.cell(row=1, column=j, value=column.italian)
            cell.font = Font(bold=True)
            cell.fill = _HEADER_FILL
            ws.column_dimensions[get_column_letter(j)].width = max(14, len(column.italian) + 4)
            source = dropdowns.get((table.name, column.name))
            if source:
                dv = DataValidation(type="list", formula1=source, allow_blank=True,
                                    showErrorMessage=True, errorTitle="Valore non ammesso",
                                    error="Scegliere un valore dall'elenco.")
                dv.add(f"{get_column_letter(j)}2:{get_column_letter(j)}{_ROWS}")
                ws.add_data_validation(dv)
        ws.freeze_panes = "A2"
    _write_help(wb)
    wb.move_sheet("istruzioni", offset=-len(wb.sheetnames) + 1)
    wb.active = 1
    target = Path(folder) / TEMPLATE_NAME
    with atomic_path(target) as tmp:
        wb.save(tmp)
    return target


def _write_lists(wb: Workbook, lists: dict[str, list[str]],
                 labels: dict[str, list[str]]) -> dict[str, str]:
    ws = wb.create_sheet("elenchi")
    ranges = {}
    for j, (name, values) in enumerate(lists.items()):
        col = get_column_letter(2 * j + 1)
        ws.cell(row=1, column=2 * j + 1, value=name).font = Font(bold=True)
        ws.cell(row=1, column=2 * j + 2, value="significato").font = Font(bold=True)
        for i, (value, label) in enumerate(zip(values, labels[name], strict=True), start=2):
            ws.cell(row=i, column=2 * j + 1, value=value)
            ws.cell(row=i, column=2 * j + 2, value=label)
        ws.column_dimensions[col].width = 30
        ws.column_dimensions[get_column_letter(2 * j + 2)].width = 40
        ranges[name] = f"elenchi!${col}$2:${col}${len(values) + 1}"
    return ranges


def _write_help(wb: Workbook) -> None:
    ws = wb.create_sheet("istruzioni")
    ws.append(["Mappa delle opportunità – istruzioni per la compilazione"])
    ws["A1"].font = Font(bold=True, size=14)
    ws.append(["La mappa descrive organizzazioni e opportunità, MAI persone: non inserire nomi "
               "di persone, codici fiscali personali o dati sanitari."])
    ws.append(["Date nel formato gg/mm/aaaa. Una riga vale dalla data 'dal' alla data 'al' "
               "(incluse); 'dal' vuoto = da sempre, 'al' vuoto = ancora valida."])
    ws.append([])
    ws.append(["foglio", "colonna", "obbligatoria", "descrizione"])
    for cell in ws[ws.max_row]:
        cell.font = Font(bold=True)
        cell.fill = _HEADER_FILL
    for table in TABLES.values():
        for column in table.columns:
            if column.name == "geocoded":
                continue
            ws.append([table.italian, column.italian, "sì" if column.required else "no",
                       column.description])
    for col, width in zip("ABCD", (14, 16, 12, 100), strict=True):
        ws.column_dimensions[col].width = width
    for row in ws.iter_rows(min_row=6):
        row[3].alignment = Alignment(wrap_text=True)
