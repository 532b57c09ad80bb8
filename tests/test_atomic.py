"""Outputs are written atomically: a failed write leaves the previous file untouched."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import opportunity_map as om
from opportunity_map._atomic import atomic_path, write_text_atomic


def test_atomic_path_success(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "a.txt"
    write_text_atomic(target, "uno")
    assert target.read_text(encoding="utf-8") == "uno"
    assert [p.name for p in target.parent.iterdir()] == ["a.txt"]
    assert target.stat().st_mode & 0o644 == 0o644


def test_atomic_path_failure_keeps_old_file(tmp_path: Path) -> None:
    target = tmp_path / "a.txt"
    target.write_text("vecchio", encoding="utf-8")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("mezzo", encoding="utf-8")
        raise RuntimeError("disco pieno")
    assert target.read_text(encoding="utf-8") == "vecchio"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_failed_geopackage_write_leaves_nothing(small_map_dir: Path, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    import pyogrio

    m = om.load(small_map_dir)
    target = tmp_path / "map.gpkg"
    om.save(m, target)
    before = target.read_bytes()
    real = pyogrio.write_dataframe
    calls = []

    def failing(*args: object, **kwargs: object) -> None:
        calls.append(kwargs.get("layer"))
        if kwargs.get("layer") == "relations":
            raise OSError("disk full")
        real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(pyogrio, "write_dataframe", failing)
    with pytest.raises(OSError, match="disk full"):
        om.save(m, target)
    assert calls[:3] == ["actors", "opportunities", "relations"]
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["map.gpkg", "mappa"]


def test_failed_csv_write_keeps_previous(small_map_dir: Path, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    m = om.load(small_map_dir)
    out = om.save(m, tmp_path / "out")
    before = (out / "relations.csv").read_bytes()
    real = pd.DataFrame.to_csv

    def failing(self: pd.DataFrame, path: object, *args: object, **kwargs: object) -> None:
        if "relations" in str(path):
            Path(str(path)).write_text("source,tar", encoding="utf-8")  # half-written
            raise OSError("interrupted")
        real(self, path, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(pd.DataFrame, "to_csv", failing)
    with pytest.raises(OSError):
        om.save(m, out)
    assert (out / "relations.csv").read_bytes() == before
    assert not [p for p in out.iterdir() if p.name.startswith(".")]
