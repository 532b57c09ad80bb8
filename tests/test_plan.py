"""The evaluation plan file: parsing, Italian errors, fingerprint, use by build/evaluate."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest
from _factories import make_map

import opportunity_map as om
from opportunity_map import DataError
from opportunity_map.evaluation import evaluate
from opportunity_map.plan import PLAN_FILE, find_plan, load_plan

ROOT = Path(__file__).resolve().parents[1]

PLAN = """# piano
data_baseline = 2026-06-30
date_confronto = [2027-12-31, "30/06/2027"]
obiettivo = 30
metodo_intervallo = "jackknife"
repliche = 500
seme = 7
min_legami = 5
endpoint_primario = "Regione"
regola_territori = "holm"
data_accordo = 2026-05-15
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / PLAN_FILE
    path.write_text(text, encoding="utf-8")
    return path


def test_italian_keys_and_values(tmp_path: Path) -> None:
    plan = load_plan(write(tmp_path, PLAN))
    assert plan.baseline == pd.Timestamp("2026-06-30")
    assert plan.follow_up == (pd.Timestamp("2027-06-30"), pd.Timestamp("2027-12-31"))
    assert plan.as_of == pd.Timestamp("2027-12-31")
    assert (plan.target, plan.interval, plan.n_boot, plan.seed, plan.min_ties) == (
        0.30, "jackknife", 500, 7, 5)
    assert (plan.primary_endpoint, plan.territory_rule) == ("lombardia", "holm")
    assert str(plan.agreed_on) == "2026-05-15"


def test_fingerprint_is_sha256_of_the_canonical_plan(tmp_path: Path) -> None:
    plan = load_plan(write(tmp_path, PLAN))
    canonical = {"baseline": "2026-06-30", "follow_up": ["2027-06-30", "2027-12-31"],
                 "target_pct": 30.0, "interval": "jackknife", "n_boot": 500, "seed": 7,
                 "min_ties": 5, "primary_endpoint": "lombardia", "territory_rule": "holm",
                 "agreed_on": "2026-05-15"}
    expected = hashlib.sha256(json.dumps(canonical, sort_keys=True,
                                         separators=(",", ":")).encode()).hexdigest()
    assert plan.fingerprint == expected
    # English keys, other order, comments: the same plan, the same fingerprint
    english = """target = 30.0  # percent
seed = 7
baseline = 2026-06-30
follow_up = ["31/12/2027", 2027-06-30]
interval = "jackknife"
replicates = 500
min_ties = 5
primary_endpoint = "lombardia"
territory_rule = "holm"
agreed_on = 2026-05-15
"""
    other = tmp_path / "en"
    other.mkdir()
    assert load_plan(write(other, english)).fingerprint == plan.fingerprint


def test_errors_name_file_line_and_key_in_italian(tmp_path: Path) -> None:
    text = 'data_baseline = 2026-06-30\nobiettivo = 0.3\nsemi = 4\nrepliche = -1\n' \
           'date_confronto = 2026-01-01\nregola_territori = "bonferroni"\n'
    with pytest.raises(DataError) as err:
        path = write(tmp_path, text)
        load_plan(path)
    lines = [line.removeprefix(f"{path.parent}/") for line in str(err.value).splitlines()[1:]]
    assert str(err.value).splitlines()[1].startswith(f"{path}:2:")  # the path as given
    assert lines[0].startswith(f"{PLAN_FILE}:2: obiettivo: obiettivo in percentuale")
    assert "per +30% scrivere 30" in lines[0]
    assert lines[1].startswith(f"{PLAN_FILE}:3: semi: chiave sconosciuta (forse 'seme'?)")
    assert lines[2].startswith(f"{PLAN_FILE}:4: repliche: serve un numero intero")
    assert lines[3].startswith(f"{PLAN_FILE}:5: date_confronto: la data di confronto "
                               "01/01/2026 non è successiva alla baseline 30/06/2026")
    assert lines[4].startswith(f"{PLAN_FILE}:6: regola_territori: regola sconosciuta")


def test_toml_syntax_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=rf"{PLAN_FILE}:2: sintassi TOML"):
        load_plan(write(tmp_path, "seme = 1\nobiettivo = = 30\n"))


def test_evaluate_takes_the_plan_and_records_overrides(tmp_path: Path) -> None:
    plan = load_plan(write(tmp_path, PLAN))
    m = make_map([{"id": x} for x in "abcd"], [{"source": "a", "target": "b"}])
    ev = evaluate(m, plan=plan)
    assert (ev.baseline, ev.as_of) == (plan.baseline, plan.as_of)
    assert (ev.n_boot, ev.seed, ev.min_ties, ev.interval, ev.territory_rule) == (
        500, 7, 5, "jackknife", "holm")
    assert ev.overrides == {} and ev.plan is plan
    ev2 = evaluate(m, plan=plan, seed=9, target=0.3, n_boot=0)
    assert ev2.overrides == {"seed": (7, 9), "n_boot": (500, 0)}  # same target: not overridden


def test_bundled_plan_matches_the_quick_start() -> None:
    path = find_plan(ROOT / "data" / "ambiti")
    assert path is not None
    plan = load_plan(path)
    assert (plan.baseline, plan.as_of) == (pd.Timestamp("2026-06-30"),
                                           pd.Timestamp("2027-12-31"))
    assert (plan.target, plan.seed, plan.n_boot, plan.min_ties) == (0.30, 1, 2000, 20)
    assert (plan.primary_endpoint, plan.territory_rule, plan.interval) == (
        "lombardia", "secondary", "bootstrap")


def test_build_uses_the_plan_and_the_command_line_overrides_it(tmp_path: Path,
                                                               small_map_dir: Path) -> None:
    write(small_map_dir, "data_baseline = 2026-06-30\ndate_confronto = 2027-12-31\n"
                         "seme = 3\nrepliche = 40\nmin_legami = 1\n")
    result = om.build(small_map_dir, tmp_path / "a", outputs=("evaluation",))
    ev = result.evaluation
    assert ev is not None and ev.plan is not None
    assert (ev.seed, ev.n_boot, ev.min_ties) == (3, 40, 1) and ev.overrides == {}
    assert any(n.startswith("Piano di valutazione: piano_valutazione.toml") for n in
               result.notes)
    # the command line passes its defaults too, and names what was typed
    result = om.build(small_map_dir, tmp_path / "b", outputs=("evaluation",), seed=5,
                      n_boot=2000, target=0.30, explicit={"seed"})
    ev = result.evaluation
    assert ev is not None and (ev.seed, ev.n_boot) == (5, 40)
    assert ev.overrides == {"seed": (3, 5)}
    assert any("sostituiti dalla riga di comando: seme 3 → 5" in n for n in result.notes)
    without = om.build(small_map_dir, tmp_path / "c", outputs=("evaluation",), plan=None,
                       baseline="2026-06-30", as_of="2027-12-31", n_boot=10, seed=1)
    assert without.evaluation is not None and without.evaluation.plan is None
    assert any(n.startswith("Nessun piano di valutazione") for n in without.notes)


def test_build_fills_mde_when_asked(tmp_path: Path, small_map_dir: Path) -> None:
    write(small_map_dir, "data_baseline = 2026-06-30\ndate_confronto = 2027-12-31\n"
                         "seme = 3\nrepliche = 40\nmin_legami = 1\n")
    result = om.build(small_map_dir, tmp_path / "a", outputs=("evaluation",), power=True)
    ev = result.evaluation
    assert ev is not None and ev.power is not None
    mde = ev.power.table.set_index("territory")["mde_pct"]
    for rec in ev.table.to_dict("records"):
        got, expected = rec["mde_pct"], mde[rec["territory"]]
        assert got == expected or (pd.isna(got) and pd.isna(expected))


def test_tavolo_takes_the_baseline_and_options_from_the_plan(tmp_path: Path,
                                                             small_map_dir: Path) -> None:
    from opportunity_map.tavolo import prepare_tavolo

    write(small_map_dir, "data_baseline = 2026-06-30\ndate_confronto = 2027-12-31\n"
                         "seme = 3\nrepliche = 40\nmin_legami = 1\n")
    slug = om.load(small_map_dir).territory_slugs[0]
    result = prepare_tavolo(small_map_dir, tmp_path / "t", territory=slug, date="2027-06-30")
    ev = result.evaluation
    assert ev is not None and ev.baseline == pd.Timestamp("2026-06-30")
    assert (ev.seed, ev.n_boot, ev.min_ties) == (3, 40, 1) and ev.overrides == {}
    assert any(n.startswith("Piano di valutazione") for n in result.notes)


def test_a_date_that_does_not_exist_is_a_data_problem_not_a_crash(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import shutil

    from opportunity_map.cli import main

    data = tmp_path / "dati"
    shutil.copytree(Path(__file__).resolve().parents[1] / "data" / "ambiti" / "lecco",
                    data / "lecco")
    (data / "piano_valutazione.toml").write_text('baseline = "31/02/2026"\n', encoding="utf-8")
    status = main(["build", str(data), "--as-of", "2027-06-30", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert status == 1 and "Traceback" not in err
    assert "piano_valutazione.toml:1: baseline: data inesistente: '31/02/2026'" in err
    assert not (tmp_path / "out").exists()
