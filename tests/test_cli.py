"""The command line: Italian messages, exit codes 0/1/2, no traceback for data problems."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import RELATIONS_CSV, write_map

from opportunity_map.cli import main


def _run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "opportunity_map.cli", *args],
                          capture_output=True, text=True, cwd=cwd, check=False)


def test_validate_ok(small_map_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(small_map_dir)]) == 0
    assert "Dati validi: 0 errori, 0 avvisi." in capsys.readouterr().out


def test_validate_errors_exit_1_without_traceback(tmp_path: Path) -> None:
    relations = RELATIONS_CSV.replace("invio,2", "invio,7").replace("BG-001,BG-004", "BG-001,XX")
    root = write_map(tmp_path / "m", relations=relations)
    proc = _run("validate", str(root))
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    rel = str(root / "bergamo" / "relations.csv")
    assert f"{rel}:2: livello: livello sconosciuto '7': ammessi 1 conoscenza, 2 cooperazione, " \
           "3 coordinamento, 4 integrazione" in lines
    assert any(line.startswith(f"{rel}:5: a: attore sconosciuto 'XX'") for line in lines)
    assert lines[-1] == "Dati NON validi: 2 errori, 0 avvisi."
    assert "Traceback" not in proc.stdout + proc.stderr


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    proc = _run("validate")
    assert proc.returncode == 2
    assert "argomenti obbligatori mancanti" in proc.stderr
    proc = _run("validate", str(tmp_path / "nessuna"))
    assert proc.returncode == 2
    assert "inesistente" in proc.stderr and "Traceback" not in proc.stderr
    proc = _run("evaluate", str(tmp_path), "--baseline", "31/02/2026", "--at", "2027-01-01",
                "--out", str(tmp_path / "o"))
    assert proc.returncode == 2 and "data non valida" in proc.stderr
    proc = _run("comando-inesistente")
    assert proc.returncode == 2 and "scelta non valida" in proc.stderr


def test_load_errors_in_other_commands(tmp_path: Path) -> None:
    relations = RELATIONS_CSV.replace("invio,2", "invio,7")
    root = write_map(tmp_path / "m", relations=relations)
    proc = _run("export", str(root), "--out", str(tmp_path / "out.gpkg"))
    assert proc.returncode == 1
    assert "livello sconosciuto" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr
    assert not (tmp_path / "out.gpkg").exists()


def test_template_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["template", str(tmp_path / "modello")]) == 0
    assert (tmp_path / "modello" / "mappa_opportunita.xlsx").is_file()
    assert "Modello scritto" in capsys.readouterr().out


@pytest.mark.parametrize("name", ["copia", "copia.xlsx", "copia.gpkg"])
def test_export_command(small_map_dir: Path, tmp_path: Path, name: str) -> None:
    out = tmp_path / name
    assert main(["export", str(small_map_dir), "--out", str(out)]) == 0
    assert main(["validate", str(out)]) == 0


def test_italian_usage_errors_for_options(small_map_dir: Path, tmp_path: Path) -> None:
    out = str(tmp_path / "o")
    proc = _run("evaluate", str(small_map_dir), "--baseline", "2027-01-01", "--at",
                "2026-01-01", "--out", out)
    assert proc.returncode == 2
    assert "deve essere successiva alla baseline" in proc.stderr
    proc = _run("render", str(small_map_dir), "--territory", "atlantide", "--out", out)
    assert proc.returncode == 2
    assert "territorio sconosciuto 'atlantide'" in proc.stderr and "bergamo" in proc.stderr
    proc = _run("evaluate", str(small_map_dir), "--baseline", "2026-01-01", "--at",
                "2027-01-01", "--bootstrap", "-5", "--out", out)
    assert proc.returncode == 2 and "repliche" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_evaluate_and_render_commands(small_map_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "o"
    assert main(["evaluate", str(small_map_dir), "--baseline", "2026-06-30", "--at",
                 "2027-06-30", "--bootstrap", "50", "--seed", "3", "--target", "25",
                 "--out", str(out)]) == 0
    table = (out / "evaluation.csv").read_text(encoding="utf-8").splitlines()
    assert table[0].startswith("territory,n_panel,n_entrants,n_exits,ties_baseline")
    assert any(line.startswith("bergamo,") and ",25.0," in line for line in table)
    assert main(["render", str(small_map_dir), "--territory", "bergamo", "--as-of",
                 "2027-06-30", "--baseline", "2026-06-30", "--out", str(out)]) == 0
    assert (out / "bergamo.html").is_file() and (out / "index.html").is_file()
