"""Checks on written ``.xlsx`` workbooks that any test can reuse.

>>> assert_no_formulas(tmp_path / "mappa.xlsx")  # doctest: +SKIP
"""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path
from xml.etree import ElementTree

from openpyxl import load_workbook

__all__ = ["assert_no_formulas", "assert_strings_are_text", "sheet_rows"]

_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"

Workbookish = str | os.PathLike[str] | bytes


def _open(source: Workbookish) -> io.BytesIO | Path:
    return io.BytesIO(source) if isinstance(source, bytes) else Path(source)


def _sheet_xml(source: Workbookish) -> dict[str, ElementTree.Element]:
    with zipfile.ZipFile(_open(source)) as archive:
        names = archive.namelist()
        assert not [n for n in names if n.startswith("xl/externalLinks/")], \
            "the workbook links to external workbooks (DDE/remote references)"
        assert "xl/vbaProject.bin" not in names, "the workbook holds macros"
        return {name: ElementTree.fromstring(archive.read(name)) for name in names
                if name.startswith("xl/worksheets/") and name.endswith(".xml")}


def assert_no_formulas(source: Workbookish) -> None:
    """No cell of the workbook is a formula or an error value, seen two ways.

    The sheets' XML holds no ``<f>`` element in any ``<c>`` and no cell typed ``e``
    (error) or ``str`` (a formula's cached text); openpyxl (``load_workbook`` without
    ``data_only``) sees no cell of type ``"f"``. Nor external links or macros.

    Parameters
    ----------
    source : path-like or bytes
        The workbook file, or its content.
    """
    for name, root in _sheet_xml(source).items():
        for cell in root.iter(f"{_MAIN}c"):
            ref = f"{name}!{cell.get('r')}"
            assert cell.find(f"{_MAIN}f") is None, f"{ref} is a formula"
            assert cell.get("t") not in {"e", "str"}, f"{ref} has type {cell.get('t')}"
    book = load_workbook(_open(source))
    try:
        for ws in book.worksheets:
            for row in ws.iter_rows():
                for cell in row:
                    assert cell.data_type != "f", f"{ws.title}!{cell.coordinate} is a formula"
    finally:
        book.close()


def assert_strings_are_text(source: Workbookish) -> None:
    """Every cell that holds text is a string cell (``inlineStr`` or shared ``s``)."""
    for name, root in _sheet_xml(source).items():
        for cell in root.iter(f"{_MAIN}c"):
            if cell.find(f"{_MAIN}is") is not None:
                assert cell.get("t") == "inlineStr", f"{name}!{cell.get('r')}"
            value = cell.find(f"{_MAIN}v")
            if value is not None and cell.get("t") not in {"s", "b"}:
                float(value.text or "")  # a number cell holds a number


def sheet_rows(source: Workbookish, sheet: str) -> list[list[object]]:
    """The values of one sheet as openpyxl reads them (not ``data_only``), row by row."""
    book = load_workbook(_open(source))
    try:
        return [[c.value for c in row] for row in book[sheet].iter_rows()]
    finally:
        book.close()
