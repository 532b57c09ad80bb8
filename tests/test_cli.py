"""The command line: Italian help and messages, one library call per command, exit codes.

Most tests call :func:`main` in-process; the commands that run the pipeline are
first checked against a fake :func:`opportunity_map.pipeline.build` (what the
command passes and prints), then once for real on a small map. Three tests run
the installed console script itself.
"""

from __future__ import annotations

import argparse
import datetime as dt
import subprocess
import sys
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from conftest import RELATIONS_CSV, TERRITORIES, write_map

import opportunity_map.pipeline as pipeline
from opportunity_map import _atomic
from opportunity_map._errors import (
    DataError,
    DateOrderError,
    Problem,
    TargetError,
    UnknownTerritoryError,
    UsageError,
)
from opportunity_map.cli import _Parser, main

TODAY = dt.date.today().strftime("%d/%m/%Y")
COMMANDS = ["validate", "template", "export", "evaluate", "render", "build"]


def _script(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the installed ``opportunity-map`` console script."""
    script = Path(sys.executable).with_name("opportunity-map")
    command = [str(script)] if script.is_file() else [sys.executable, "-m", "opportunity_map.cli"]
    return subprocess.run([*command, *args], capture_output=True, text=True, check=False)


def _run(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    status = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return status, out, err


# --------------------------------------------------------------------------- console script


def test_script_version() -> None:
    proc = _script("--version")
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"opportunity-map {metadata.version('opportunity-map')}"


def test_script_usage_error_exit_2(small_map_dir: Path, tmp_path: Path) -> None:
    proc = _script("evaluate", str(small_map_dir), "--out", str(tmp_path / "o"))
    assert proc.returncode == 2
    assert proc.stderr.startswith("uso: opportunity-map evaluate ")
    assert "opportunity-map evaluate: errore: argomenti obbligatori mancanti: --baseline" \
        in proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def test_script_data_errors_exit_1_without_traceback(tmp_path: Path) -> None:
    relations = RELATIONS_CSV.replace("invio,2", "invio,7").replace("BG-001,BG-004", "BG-001,XX")
    root = write_map(tmp_path / "m", relations=relations)
    proc = _script("validate", str(root))
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    rel = str(root / "bergamo" / "relations.csv")
    assert f"{rel}:2: livello: livello sconosciuto '7': ammessi 1 conoscenza, 2 cooperazione, " \
           "3 coordinamento, 4 integrazione" in lines
    assert any(line.startswith(f"{rel}:5: a: attore sconosciuto 'XX'") for line in lines)
    assert lines[-1] == "Dati NON validi: 2 errori, 0 avvisi."
    assert "Traceback" not in proc.stdout + proc.stderr


# --------------------------------------------------------------------------- parser in Italian


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = _run(capsys, "--version")
    assert status == 0
    assert out == f"opportunity-map {metadata.version('opportunity-map')}\n"


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_help_is_italian(command: str | None, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = _run(capsys, *([command] if command else []), "--help")
    assert status == 0
    assert out.startswith(f"uso: opportunity-map{' ' + command if command else ''} ")
    assert "opzioni:" in out and "mostra questo aiuto ed esce" in out
    for english in ("usage:", "options:", "positional arguments", "show this help",
                    "show program's version"):
        assert english not in out
    if command:
        assert "-q, --quiet" in out
    else:
        assert "comandi:" in out and "--version" in out and "-v, --verbose" in out


@pytest.mark.parametrize("command", ["evaluate", "render", "build"])
def test_help_states_default_dates(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = _run(capsys, command, "--help")
    text = " ".join(out.split())
    assert f"(predefinita: oggi ({TODAY}))" in text
    assert "--at " not in out  # the old name is accepted but not advertised
    if command == "evaluate":
        assert "(obbligatoria)" in text
    else:
        assert "--baseline DATA" in text and "predefinita: nessuna" in text


@pytest.mark.parametrize(("args", "message"), [
    ([], "argomenti obbligatori mancanti: COMANDO"),
    (["validate"], "argomenti obbligatori mancanti: PERCORSO"),
    (["comando-inesistente"], "argomento COMANDO: scelta non valida: 'comando-inesistente' "
                              "(valori ammessi: "),
    (["validate", "x", "--boh"], "argomenti non riconosciuti: --boh"),
    (["validate", "x", "--territories"], "argomento --territories: serve un valore"),
    (["render", "x", "--out", "o"], "serve uno degli argomenti --territory --all"),
    (["render", "x", "--territory", "bergamo", "--all", "--out", "o"],
     "argomento --all: incompatibile con --territory"),
    (["render", "x", "--all", "--tiles", "google", "--out", "o"],
     "argomento --tiles: scelta non valida: 'google' (valori ammessi: 'osm')"),
    (["evaluate", "x", "--baseline", "31/02/2026", "--out", "o"],
     "argomento --baseline: data non valida '31/02/2026'"),
    (["build", "x", "--as-of", "domani", "--out", "o"], "argomento --as-of: data non valida"),
    (["build", "x", "--bootstrap", "-5", "--out", "o"],
     "argomento --bootstrap: numero di repliche non valido '-5'"),
    (["build", "x", "--seed", "uno", "--out", "o"], "argomento --seed: numero non valido 'uno'"),
    (["build", "x", "--target", "tanto", "--out", "o"],
     "argomento --target: percentuale non valida 'tanto'"),
    (["build", "x", "--a", "2027-01-01", "--out", "o"], "argomenti non riconosciuti: --a"),
])
def test_usage_errors_in_italian(args: list[str], message: str,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = _run(capsys, *args)
    assert status == 2
    assert out == ""
    assert err.startswith("uso: opportunity-map")
    assert "errore: " + message in err, err


@pytest.mark.parametrize(("add", "args", "message"), [
    ({"type": int, "dest": "n"}, ["uno"], "argomento n: valore non valido: 'uno'"),
    ({"nargs": 2, "dest": "--coppia"}, ["--coppia", "a"], "argomento --coppia: servono 2 valori"),
    ({"nargs": "+", "dest": "--molti"}, ["--molti"], "argomento --molti: serve almeno un valore"),
])
def test_parser_translates_other_argparse_errors(add: dict[str, Any], args: list[str],
                                                 message: str,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    parser = _Parser(prog="prova")
    options = dict(add)
    parser.add_argument(options.pop("dest"), **options)
    with pytest.raises(SystemExit) as exc:
        parser.parse_args(args)
    assert exc.value.code == 2
    assert f"prova: errore: {message}" in capsys.readouterr().err


def test_plain_argparse_is_left_in_english(capsys: pytest.CaptureFixture[str]) -> None:
    import gettext

    import opportunity_map.cli  # noqa: F401  (imported: it must change nothing in argparse)

    assert argparse._ is gettext.gettext  # type: ignore[attr-defined]
    parser = argparse.ArgumentParser(prog="plain")
    parser.add_argument("path")
    parser.add_argument("--n", type=int)
    help_text = parser.format_help()
    assert help_text.startswith("usage: plain")
    assert "positional arguments:" in help_text and "show this help message and exit" in help_text
    for args, english in [([], "the following arguments are required: path"),
                          (["p", "--n", "x"], "argument --n: invalid int value: 'x'"),
                          (["p", "--boh"], "unrecognized arguments: --boh")]:
        with pytest.raises(SystemExit):
            parser.parse_args(args)
        assert f"plain: error: {english}" in capsys.readouterr().err


# ------------------------------------------------------------ validate, template, export


def test_validate_ok(small_map_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = _run(capsys, "validate", small_map_dir)
    assert status == 0
    assert out == "Dati validi: 0 errori, 0 avvisi.\n"
    status, out, err = _run(capsys, "validate", small_map_dir, "--quiet")
    assert (status, out, err) == (0, "", "")


def test_validate_quiet_shows_errors_only(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    relations = RELATIONS_CSV.replace("invio,2", "invio,7")
    root = write_map(tmp_path / "m", relations=relations)
    status, out, _ = _run(capsys, "validate", root, "-q")
    assert status == 1
    assert "livello sconosciuto '7'" in out
    assert out.splitlines()[-1] == "Dati NON validi: 1 errore, 0 avvisi."


def test_missing_path_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nessuna"
    for args in (["validate", missing], ["export", missing, "--out", tmp_path / "o.xlsx"]):
        status, _, err = _run(capsys, *args)
        assert status == 2
        assert err == f"opportunity-map: errore: file o cartella inesistente: {missing}\n"


def test_template_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    workbook = tmp_path / "modello" / "mappa_opportunita.xlsx"
    status, out, _ = _run(capsys, "template", tmp_path / "modello")
    assert status == 0
    assert workbook.is_file()
    assert out.splitlines() == [f"Scritto: {workbook}", f"Apri: {workbook}"]
    status, out, _ = _run(capsys, "template", tmp_path / "modello2", "-q")
    assert (status, out) == (0, f"Apri: {tmp_path / 'modello2' / 'mappa_opportunita.xlsx'}\n")


def test_template_with_territories_file(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    from openpyxl import load_workbook

    territories = tmp_path / "territories.csv"
    territories.write_text("slug,name,province_code\nbergamo,Bergamo,16\ncomo,Como,13\n",
                           encoding="utf-8")
    status, _, err = _run(capsys, "template", tmp_path / "modello", "--territories", territories)
    assert status == 0, err
    wb = load_workbook(tmp_path / "modello" / "mappa_opportunita.xlsx")
    assert [c.value for c in wb["elenchi"]["I"][1:3]] == ["Bergamo", "Como"]
    assert [c.value for c in wb["elenchi"]["J"][1:3]] == ["bergamo", "como"]


@pytest.mark.parametrize("name", ["copia", "copia.xlsx", "copia.gpkg"])
def test_export_command(small_map_dir: Path, tmp_path: Path, name: str,
                        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / name
    status, stdout, _ = _run(capsys, "export", small_map_dir, "--out", out)
    assert status == 0
    assert stdout.splitlines() == [f"Scritto: {out} (4 attori, 4 relazioni)", f"Apri: {out}"]
    assert _run(capsys, "validate", out)[0] == 0
    status, stdout, _ = _run(capsys, "export", small_map_dir, "--out", out, "--quiet")
    assert (status, stdout) == (0, f"Apri: {out}\n")


def test_data_errors_in_other_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    relations = RELATIONS_CSV.replace("invio,2", "invio,7")
    root = write_map(tmp_path / "m", relations=relations)
    status, out, err = _run(capsys, "export", root, "--out", tmp_path / "out.gpkg")
    assert status == 1
    assert out == ""
    lines = err.splitlines()
    assert lines[0].startswith(f"{root / 'bergamo' / 'relations.csv'}:2: livello: "
                               "livello sconosciuto '7'")
    assert lines[-1] == "Dati NON validi: 1 errore, 0 avvisi."
    assert not (tmp_path / "out.gpkg").exists()


# ------------------------------------------------------------ evaluate, render, build


@dataclass
class FakeBuild:
    """Stands in for :func:`opportunity_map.pipeline.build`: records calls, returns a result."""

    out: Path
    error: BaseException | None = None
    calls: list[dict[str, Any]] = field(default_factory=list)
    written: tuple[str, ...] = ("bergamo.html", "index.html")

    def __call__(self, source: object, out_dir: object, **kwargs: Any) -> SimpleNamespace:
        self.calls.append({"source": source, "out_dir": out_dir, **kwargs})
        progress = kwargs.get("progress")
        if progress is not None:
            progress("lettura dei dati", 0, 2)
            progress("mappe", 1, 2)
        if self.error is not None:
            raise self.error
        return SimpleNamespace(
            map=SimpleNamespace(problems=[Problem("a.csv", 3, "sito_web", "avviso di prova",
                                                  "warning")]),
            notes=["Mappe alla data 31/12/2027."],
            written=[self.out / name for name in self.written],
            open_first=self.out / "index.html")


@pytest.fixture
def fake_build(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> FakeBuild:
    fake = FakeBuild(tmp_path / "o")
    monkeypatch.setattr(pipeline, "build", fake)
    return fake


@pytest.mark.parametrize(("args", "expected"), [
    (["evaluate", "m", "--baseline", "30/06/2026", "--out", "o"],
     {"outputs": ("evaluation",), "baseline": "2026-06-30", "as_of": None, "target": 0.30,
      "n_boot": 2000, "seed": None, "territories": None, "territories_file": None,
      "tiles": None}),
    (["evaluate", "m", "--baseline", "2026-06-30", "--at", "31/12/2027", "--target", "25",
      "--bootstrap", "50", "--seed", "3", "--territory", "Bergamo", "--territory", "como",
      "--out", "o"],
     {"outputs": ("evaluation",), "baseline": "2026-06-30", "as_of": "2027-12-31",
      "target": 0.25, "n_boot": 50, "seed": 3, "territories": ["Bergamo", "como"]}),
    (["render", "m", "--all", "--out", "o"],
     {"outputs": ("maps",), "territories": None, "baseline": None, "as_of": None,
      "tiles": None}),
    (["render", "m", "--territory", "bergamo", "--territory", "lodi", "--as-of", "2027-01-01",
      "--baseline", "1/7/2026", "--tiles", "osm", "--out", "o"],
     {"outputs": ("maps",), "territories": ["bergamo", "lodi"], "as_of": "2027-01-01",
      "baseline": "2026-07-01", "tiles": "osm"}),
    (["build", "m", "--out", "o"],
     {"outputs": ("data", "evaluation", "maps"), "baseline": None, "as_of": None,
      "target": 0.30, "n_boot": 2000, "seed": None, "territories": None,
      "territories_file": None, "tiles": None}),
    (["build", "m", "--baseline", "2026-06-30", "--as-of", "2027-12-31", "--target", "30,5%",
      "--territories", "t.csv", "--territory", "bergamo", "--tiles", "osm", "--seed", "1",
      "--out", "o"],
     {"baseline": "2026-06-30", "as_of": "2027-12-31", "target": pytest.approx(0.305),
      "territories": ["bergamo"], "territories_file": Path("t.csv"), "tiles": "osm", "seed": 1}),
])
def test_commands_call_build_once(args: list[str], expected: dict[str, Any],
                                  fake_build: FakeBuild,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert main(args) == 0
    assert len(fake_build.calls) == 1
    call = fake_build.calls[0]
    assert (call["source"], call["out_dir"]) == (Path("m"), Path("o"))
    assert {k: call[k] for k in expected} == expected


def test_build_output_and_progress(fake_build: FakeBuild,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    o = fake_build.out
    status, out, err = _run(capsys, "build", "m", "--out", o)
    assert status == 0
    assert out.splitlines() == ["a.csv:3: sito_web: [avviso] avviso di prova",
                                "Mappe alla data 31/12/2027.",
                                f"Scritto: {o / 'bergamo.html'}", f"Scritto: {o / 'index.html'}",
                                f"Apri: {o / 'index.html'}"]
    assert "mappe" in err and "2/2" in err  # the progress bar, on stderr
    status, out, err = _run(capsys, "build", "m", "--out", o, "--quiet")
    assert fake_build.calls[-1]["progress"] is None
    assert (status, err) == (0, "")
    assert out.splitlines() == ["Mappe alla data 31/12/2027.", f"Apri: {o / 'index.html'}"]


def test_written_files_list_stays_short(fake_build: FakeBuild,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    o = fake_build.out
    fake_build.written = ("dati", "evaluation.csv", "evaluation.xlsx", "evaluation.html",
                          "bergamo.html", "como.html", "lodi.html", "index.html")
    _, out, _ = _run(capsys, "build", "m", "--out", o)
    assert out.splitlines()[2:] == [
        f"Scritto: {o / 'dati'}", f"Scritto: {o / 'evaluation.csv'}",
        f"Scritto: {o / 'evaluation.xlsx'}",
        f"Scritto: 5 file .html in {o}: evaluation.html, bergamo.html, …, index.html",
        f"Apri: {o / 'index.html'}"]


@pytest.mark.parametrize("value", ["0.3", "0,3", "0.3%"])
def test_target_below_one_suggests_percentage(value: str, fake_build: FakeBuild,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = _run(capsys, "evaluate", "m", "--baseline", "2026-06-30",
                            "--target", value, "--out", "o")
    assert (status, out) == (2, "")
    assert err == ("opportunity-map: errore: --target 0.3: l'obiettivo è una percentuale; "
                   "per +30% scrivere --target 30\n")
    assert fake_build.calls == []


def test_target_zero_or_negative(fake_build: FakeBuild,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = _run(capsys, "build", "m", "--target=-5", "--out", "o")
    assert status == 2 and "--target -5: l'obiettivo è una percentuale" in err
    assert fake_build.calls == []


@pytest.mark.parametrize(("error", "status", "message"), [
    (UnknownTerritoryError("atlantide", ["bergamo", "como"]), 2,
     "opportunity-map: errore: territorio sconosciuto 'atlantide': "
     "territori disponibili: bergamo, como"),
    (DateOrderError("baseline", dt.date(2026, 6, 30), "as_of", dt.date(2025, 12, 31)), 2,
     "opportunity-map: errore: la data --as-of (31/12/2025) deve essere successiva alla "
     "--baseline (30/06/2026)"),
    (TargetError(6.0, "target=6.0 is a fraction: 0.30 means +30%"), 2,
     "opportunity-map: errore: --target 600: obiettivo fuori misura, il valore ammesso è al "
     "massimo 500"),
    (TargetError("tanto", "target must be a number"), 2,
     "opportunity-map: errore: target must be a number"),
    (UsageError("outputs must not be empty", param="outputs"), 2,
     "opportunity-map: errore: outputs must not be empty"),
    (DataError([Problem("b.csv", 4, "tipo", "tipo sconosciuto 'x'"),
                Problem("a.csv", 2, "id", "id duplicato"),
                Problem("a.csv", 3, None, "riga vuota", "warning")]), 1,
     "a.csv:2: id: id duplicato\na.csv:3: [avviso] riga vuota\nb.csv:4: tipo: tipo sconosciuto "
     "'x'\nDati NON validi: 2 errori, 1 avviso."),
    (FileNotFoundError(2, "No such file", "m/territories.csv"), 2,
     "opportunity-map: errore: file o cartella inesistente: m/territories.csv"),
    (PermissionError(13, "Permission denied", "o/index.html"), 2,
     "opportunity-map: errore: permesso negato: o/index.html"),
])
def test_library_errors_become_italian(error: BaseException, status: int, message: str,
                                       fake_build: FakeBuild,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    fake_build.error = error
    result = _run(capsys, "build", "m", "--out", "o", "-q")
    assert result == (status, "", message + "\n")


def test_ctrl_c_during_build(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                             capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "o"

    def interrupted(source: object, out_dir: Path, **kwargs: Any) -> None:
        kwargs["progress"]("valutazione", 1, 3)
        with _atomic.atomic_path(Path(out_dir) / "evaluation.html") as tmp:
            tmp.write_text("<html>metà", encoding="utf-8")
            raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "build", interrupted)
    status, _, err = _run(capsys, "build", "m", "--out", out)
    assert status == 130
    assert err.splitlines()[-1] == "Interrotto."
    assert "Traceback" not in err
    assert list(out.iterdir()) == []  # no .tmp file, no half-written page


def test_ctrl_c_while_writing_the_template(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    from opportunity_map import _xlsx

    def interrupt(part: Any, *args: object, **kwargs: object) -> None:
        part.write(b"<worksheet>half a sheet")  # half a sheet reaches the disk
        raise KeyboardInterrupt

    monkeypatch.setattr(_xlsx, "_write_sheet", interrupt)
    status, out, err = _run(capsys, "template", tmp_path / "modello")
    assert (status, out, err) == (130, "", "Interrotto.\n")
    assert [p.name for p in (tmp_path / "modello").iterdir() if ".tmp" in p.name] == []
    assert not (tmp_path / "modello" / "mappa_opportunita.xlsx").exists()


# ------------------------------------------------------------ real pipeline, small map


def test_evaluate_and_render_commands(small_map_dir: Path, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "o"
    status, stdout, err = _run(capsys, "evaluate", small_map_dir, "--baseline", "2026-06-30",
                               "--as-of", "2027-06-30", "--bootstrap", "50", "--seed", "3",
                               "--target", "25", "--out", out)
    assert status == 0, err
    table = (out / "evaluation.csv").read_text(encoding="utf-8").splitlines()
    assert table[0].startswith("territory,n_panel,n_entrants,n_exits,ties_baseline")
    assert any(line.startswith("bergamo,") and ",25.0," in line for line in table)
    assert stdout.splitlines()[-1] == f"Apri: {out / 'evaluation.html'}"
    status, stdout, err = _run(capsys, "render", small_map_dir, "--territory", "bergamo",
                               "--as-of", "2027-06-30", "--baseline", "2026-06-30",
                               "--out", out)
    assert status == 0, err
    assert (out / "bergamo.html").is_file() and (out / "index.html").is_file()
    # the library chooses what to open: the index, or the one map drawn
    assert stdout.splitlines()[-1] in {f"Apri: {out / 'index.html'}",
                                       f"Apri: {out / 'bergamo.html'}"}


def test_render_unknown_territory(small_map_dir: Path, tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = _run(capsys, "render", small_map_dir, "--territory", "atlantide",
                          "--out", tmp_path / "o")
    assert status == 2
    assert err.splitlines()[-1] == ("opportunity-map: errore: territorio sconosciuto "
                                    "'atlantide': territori disponibili: bergamo")


def test_evaluate_dates_in_wrong_order(small_map_dir: Path, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = _run(capsys, "evaluate", small_map_dir, "--baseline", "30/06/2026",
                          "--as-of", "31/12/2025", "--out", tmp_path / "o")
    assert status == 2
    assert err == ("opportunity-map: errore: la data --as-of (31/12/2025) deve essere "
                   "successiva alla --baseline (30/06/2026)\n")
    assert not (tmp_path / "o").exists()


def test_build_without_baseline_makes_no_evaluation(small_map_dir: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "o"
    status, stdout, err = _run(capsys, "build", small_map_dir, "--as-of", "2027-06-30",
                               "--territories", TERRITORIES, "-q", "--out", out)
    assert status == 0, err
    assert err == ""
    assert not list(out.glob("evaluation.*"))
    assert (out / "bergamo.html").is_file() and (out / "index.html").is_file()
    lines = stdout.splitlines()
    # one territory in the data: its map is what to open, not an index of one
    assert lines[-1] == f"Apri: {out / 'bergamo.html'}"
    assert "Scritto:" not in stdout
    assert any("baseline" in line for line in lines[:-1])  # a note says why no evaluation
