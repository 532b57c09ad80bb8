"""The one writer of GeoPackage files: every layer of a map in one atomic file.

:func:`write_geopackage` writes each layer in one pass (pyogrio, through Arrow when
pyarrow is installed) into a temporary file renamed onto the target only when all
layers are written: on any failure the target is left as it was.

Text columns are written as GeoPackage ``TEXT`` fields exactly as given: Unicode,
``"\\r\\n"``, ``"=1+1"`` and the empty string read back unchanged, and a missing
value (``None``, ``NaN``, ``NA``) is ``NULL``, as pyogrio writes them without Arrow.

:func:`segments` builds the line of every relation between its two actors at once.

Examples
--------
>>> import tempfile
>>> from pathlib import Path
>>> import geopandas as gpd, pyogrio
>>> from shapely.geometry import Point
>>> points = gpd.GeoDataFrame({"id": ["a", "b"]}, geometry=[Point(9, 45), Point(10, 46)],
...                           crs="EPSG:4326")
>>> notes = pd.DataFrame({"id": ["a"], "text": ["=1+1\\r\\n"]})
>>> with tempfile.TemporaryDirectory() as folder:
...     path = Path(folder) / "m.gpkg"
...     write_geopackage({"points": points, "notes": notes}, path)
...     [name for name, _ in pyogrio.list_layers(path)], pyogrio.read_dataframe(
...         path, layer="notes")["text"].tolist()
(['points', 'notes'], ['=1+1\\r\\n'])
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ._atomic import atomic_path

__all__ = ["USE_ARROW", "segments", "write_geopackage"]

#: Whether pyogrio can take the layers through Arrow (columnar, no Python object per
#: value): it needs pyarrow.
USE_ARROW = importlib.util.find_spec("pyarrow") is not None


def write_geopackage(layers: Mapping[str, gpd.GeoDataFrame | pd.DataFrame],
                     path: str | os.PathLike[str]) -> None:
    """Write ``layers`` as the layers of one GeoPackage, atomically, in order.

    Parameters
    ----------
    layers : mapping of str to GeoDataFrame or DataFrame
        Layer name to table. A GeoDataFrame is a spatial layer (its geometry type
        and CRS as pyogrio infers them, a row without geometry stays without); a
        plain DataFrame is an attribute table. The index is not written.
    path : path-like
        The ``.gpkg`` file; its parent folder is created if missing.

    Raises
    ------
    ValueError
        If ``layers`` is empty.
    """
    if not layers:
        msg = "a GeoPackage needs at least one layer"
        raise ValueError(msg)
    import pyogrio

    with atomic_path(path) as tmp:
        tmp.unlink()  # GDAL creates the file; it cannot open an empty one
        for k, (name, frame) in enumerate(layers.items()):
            pyogrio.write_dataframe(_prepared(frame), tmp, layer=name, driver="GPKG",
                                    append=k > 0, use_arrow=USE_ARROW)


def _prepared(frame: gpd.GeoDataFrame | pd.DataFrame) -> gpd.GeoDataFrame | pd.DataFrame:
    """``frame`` with a fresh index and its text columns typed as text for Arrow.

    Without this an ``object`` column of strings whose values are all missing would
    have no Arrow type; a column typed as strings is a ``TEXT`` field, as pyogrio
    writes an ``object`` column of strings without Arrow.
    """
    out = frame.reset_index(drop=True)
    if not USE_ARROW:
        return out
    geometry = out.geometry.name if isinstance(out, gpd.GeoDataFrame) else None
    text: dict[str, Any] = {}
    for column in out.columns:
        if column == geometry or out[column].dtype != object:
            continue
        if pd.api.types.infer_dtype(out[column], skipna=True) in ("string", "empty"):
            text[column] = pd.StringDtype("pyarrow")
    return out.astype(text) if text else out


def segments(ids: pd.Series | pd.Index | np.ndarray, x: np.ndarray, y: np.ndarray,
             source: pd.Series | np.ndarray, target: pd.Series | np.ndarray) -> np.ndarray:
    """The straight line from ``source`` to ``target`` of every relation, at once.

    Parameters
    ----------
    ids, x, y : array-like
        Every actor's id and coordinates (an id given twice: the last one counts).
    source, target : array-like
        The ids of the two ends of every relation.

    Returns
    -------
    numpy.ndarray
        A shapely ``LineString`` per relation, ``None`` where an end is not an actor.

    Examples
    --------
    >>> lines = segments(["a", "b"], np.array([9.0, 10.0]), np.array([45.0, 46.0]),
    ...                  ["a", "a"], ["b", "z"])
    >>> [None if g is None else g.wkt for g in lines]
    ['LINESTRING (9 45, 10 46)', None]
    """
    index = pd.Index(ids)
    last = ~index.duplicated(keep="last")
    xy = np.column_stack([np.asarray(x, dtype=float), np.asarray(y, dtype=float)])[last]
    index = index[last]
    start = index.get_indexer(np.asarray(source, dtype=object))
    end = index.get_indexer(np.asarray(target, dtype=object))
    known = (start >= 0) & (end >= 0)
    lines = np.full(len(known), None, dtype=object)
    if known.any():
        lines[known] = shapely.linestrings(np.stack([xy[start[known]], xy[end[known]]], axis=1))
    return lines
