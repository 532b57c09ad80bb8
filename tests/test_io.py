"""Reading real files: CSV flavours of Italian Excel, XLSX, GeoPackage, and lossless round trips."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
import pytest
from conftest import ACTORS_CSV, OPPORTUNITIES_CSV, RELATIONS_CSV, TERRITORIES, write_map
from openpyxl import Workbook, load_workbook

import opportunity_map as om


def _to_italian_excel(text: str) -> str:
    """Semicolons, decimal comma and dd/mm/yyyy, as Italian Excel writes CSV."""
    import csv
    import io

    rows = list(csv.reader(io.StringIO(text)))
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    for row in rows:
        fixed = []
        for cell in row:
            if len(cell) == 10 and cell[4] == "-" and cell[7] == "-":
                cell = f"{cell[8:]}/{cell[5:7]}/{cell[:4]}"
            elif cell.replace(".", "", 1).isdigit() and "." in cell:
                cell = cell.replace(".", ",")
            fixed.append(cell)
        writer.writerow(fixed)
    return out.getvalue()


def test_load_basic(small_map_dir: Path) -> None:
    m = om.load(small_map_dir)
    assert len(m.actors) == 4
    assert len(m.relations) == 4
    assert len(m.opportunities) == 2
    assert m.actors.crs.to_epsg() == 4326
    # the map holds the territories where it has organisations
    assert list(m.territories["slug"]) == ["bergamo"]
    a = m.actors.set_index("id")
    assert a.at["BG-001", "geocoded"] == "coordinate"
    assert a.at["BG-001", "lat"] == pytest.approx(45.6947)
    assert a.at["BG-002", "geocoded"] == "comune"
    assert a.at["BG-002", "territory"] == "bergamo"
    assert a.at["BG-002", "comune_code"] == 16065  # Castro (BG), not Castro (LE)
    assert a.at["BG-003", "comune_code"] == 16252  # Sant'Omobono Terme
    assert a.at["BG-002", "notes"] == "nota, con\na capo"
    assert a.at["BG-002", "since"] == pd.Timestamp("2026-07-01")
    assert a.at["BG-001", "group"] == "cm"
    assert m.relations["level"].tolist() == [2, 3, 1, 1]


def test_semicolon_cp1252_decimal_comma(tmp_path: Path) -> None:
    root = write_map(tmp_path / "m", actors=_to_italian_excel(ACTORS_CSV),
                     relations=_to_italian_excel(RELATIONS_CSV),
                     opportunities=_to_italian_excel(OPPORTUNITIES_CSV), encoding="cp1252")
    raw = (root / "bergamo" / "actors.csv").read_bytes()
    assert b";" in raw and b"\x96" in raw  # en dash in cp1252
    m = om.load(root)
    reference = om.load(write_map(tmp_path / "ref"))
    a = m.actors.set_index("id")
    assert a.at["BG-001", "name"] == "Collocamento Mirato – Provincia di Bergamo"
    assert a.at["BG-001", "lat"] == pytest.approx(45.6947)
    pd.testing.assert_frame_equal(m.relations, reference.relations)


def test_utf8_bom(tmp_path: Path) -> None:
    root = write_map(tmp_path / "m", actors="\ufeff" + ACTORS_CSV)
    m = om.load(root)
    assert "id" in m.actors.columns
    assert len(m.actors) == 4


def test_italian_file_names(tmp_path: Path) -> None:
    root = write_map(tmp_path / "m", names=("attori.csv", "relazioni.csv", "opportunita.csv"))
    m = om.load(root)
    assert (len(m.actors), len(m.relations), len(m.opportunities)) == (4, 4, 2)


def test_xlsx_tables(tmp_path: Path) -> None:
    root = tmp_path / "m"
    root.mkdir()
    shutil.copy(TERRITORIES, root / "territories.csv")
    ref = om.load(write_map(tmp_path / "ref"))
    for name, text in (("attori", ACTORS_CSV), ("relazioni", RELATIONS_CSV)):
        frame = pd.read_csv(pd.io.common.StringIO(text), dtype=str, keep_default_na=False)
        wb = Workbook()
        ws = wb.active
        ws.append(list(frame.columns))
        for row in frame.itertuples(index=False):
            cells: list[object] = []
            for col, v in zip(frame.columns, row, strict=True):
                if col in ("latitudine", "longitudine", "livello") and v:
                    cells.append(float(v) if "." in v else int(v))
                elif col in ("dal", "al") and v:
                    cells.append(om._time.parse_date(v).to_pydatetime())
                else:
                    cells.append(v or None)
            ws.append(cells)
        wb.save(root / f"{name}.xlsx")
    m = om.load(root)
    pd.testing.assert_frame_equal(m.relations, ref.relations)
    cols = ["id", "name", "comune_code", "lat", "lon", "since", "until", "territory"]
    pd.testing.assert_frame_equal(pd.DataFrame(m.actors[cols]), pd.DataFrame(ref.actors[cols]))


def test_extra_columns_survive(tmp_path: Path) -> None:
    actors = ACTORS_CSV.replace("sito_web,note", "sito_web,note,accreditamento_regionale", 1)
    lines = actors.splitlines()
    lines = [lines[0]] + [line + ",sì" if line.startswith("BG-") else line for line in lines[1:]]
    root = write_map(tmp_path / "m", actors="\n".join(lines) + "\n")
    m = om.load(root)
    assert m.actors["accreditamento_regionale"].tolist()[0] == "sì"
    out = om.save(m, tmp_path / "out")
    again = om.load(out)
    assert again.actors["accreditamento_regionale"].tolist() == m.actors[
        "accreditamento_regionale"].tolist()


def _sha(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("target", ["csv_dir", "map.xlsx", "map.gpkg"])
def test_round_trip_lossless(small_map_dir: Path, tmp_path: Path, target: str) -> None:
    before = _sha(small_map_dir)
    m = om.load(small_map_dir)
    path = om.save(m, tmp_path / target)
    again = om.load(path)
    assert _sha(small_map_dir) == before  # inputs never modified
    pd.testing.assert_frame_equal(pd.DataFrame(again.actors), pd.DataFrame(m.actors))
    pd.testing.assert_frame_equal(again.relations, m.relations)
    pd.testing.assert_frame_equal(again.opportunities, m.opportunities)
    assert again.territory_slugs == m.territory_slugs
    # and once more: save(load(save(m))) writes the same tables
    again2 = om.load(om.save(again, tmp_path / ("2" + target)))
    pd.testing.assert_frame_equal(pd.DataFrame(again2.actors), pd.DataFrame(m.actors))


def test_geopackage_layers(small_map_dir: Path, tmp_path: Path) -> None:
    m = om.load(small_map_dir)
    path = om.save(m, tmp_path / "map.gpkg")
    layers = dict(pyogrio.list_layers(path))
    assert {"actors", "opportunities", "relations", "territories"} <= set(layers)
    assert layers["actors"] == "Point"
    assert layers["relations"] == "LineString"
    assert layers["territories"] in {"MultiPolygon", "Polygon"}
    info = pyogrio.read_info(path, layer="actors")
    assert info["crs"] == "EPSG:4326"
    assert info["features"] == 4
    rel = pyogrio.read_dataframe(path, layer="relations")
    first = rel.geometry.iloc[0]
    a = m.actors.set_index("id")
    assert first.coords[0] == pytest.approx((a.at["BG-001", "lon"], a.at["BG-001", "lat"]))
    if shutil.which("ogrinfo"):
        out = subprocess.run(["ogrinfo", "-so", "-al", str(path)], capture_output=True,
                             text=True, check=True).stdout
        assert "Layer name: relations" in out


def test_ambiti(tmp_path: Path) -> None:
    root = write_map(tmp_path / "m")
    (root / "ambiti.csv").write_text(
        "id,name,territory,comune_codes\n"
        "bg-bergamo,Ambito di Bergamo,bergamo,16024 16113 16163\n", encoding="utf-8")
    m = om.load(root)
    assert len(m.ambiti) == 1
    assert m.ambiti.iloc[0]["comune_codes"] == [16024, 16113, 16163]
    assert m.ambiti.geometry.iloc[0].area > 0
    assert m.actors.set_index("id").at["BG-001", "ambito"] == "bg-bergamo"
    saved = om.load(om.save(m, tmp_path / "out"))
    assert saved.ambiti.iloc[0]["comune_codes"] == [16024, 16113, 16163]


def test_territory_can_be_added_as_a_line(tmp_path: Path) -> None:
    root = tmp_path / "m"
    root.mkdir()
    (root / "territories.csv").write_text(
        TERRITORIES.read_text(encoding="utf-8") + "pavia,Pavia,18,PV\n", encoding="utf-8")
    (root / "pavia").mkdir()
    (root / "pavia" / "actors.csv").write_text(
        "id,name,kind,comune\nPV-1,Cooperativa Esempio Pavese,cooperativa_b,Vigevano\n"
        "PV-2,Comune Esempio,servizio_sociale,Pavia\n", encoding="utf-8")
    (root / "pavia" / "relations.csv").write_text(
        "source,target,kind,level\nPV-1,PV-2,invio,2\n", encoding="utf-8")
    m = om.load(root)
    assert "pavia" in m.territory_slugs
    assert set(m.actors["territory"]) == {"pavia"}


def test_without_territories_file_the_project_territories(tmp_path: Path) -> None:
    root = tmp_path / "m"
    root.mkdir()
    # Castro exists in Bergamo and in Lecce: with the project's 11 territories (the
    # default, shipped with the package) it is the one in Bergamo.
    (root / "actors.csv").write_text(
        "id,name,kind,comune\nX-1,Cooperativa Esempio,cooperativa_b,Castro\n"
        "X-2,Coop Due,cooperativa_b,Piacenza\n", encoding="utf-8")
    (root / "relations.csv").write_text("source,target,kind,level\n", encoding="utf-8")
    problems = om.validate(root)
    errors = [p for p in problems if p.severity == "error"]
    assert len(errors) == 1, errors
    assert errors[0].row == 3 and "Piacenza" in errors[0].message
    assert "nessun territorio" in errors[0].message


def test_lecco_only_workbook_holds_lecco(tmp_path: Path) -> None:
    root = tmp_path / "m"
    root.mkdir()
    (root / "attori.csv").write_text(
        "id;nome;tipo;comune\nLC-1;Coop Lecco;cooperativa_b;Merate\n"
        "LC-2;Impresa;impresa;Lecco\n", encoding="utf-8")
    (root / "relazioni.csv").write_text("da;a;tipo;livello\nLC-1;LC-2;invio;2\n",
                                        encoding="utf-8")
    m = om.load(root)
    assert m.territory_slugs == ["lecco"]
    assert list(m.territories["name"]) == ["Lecco"]


def test_territories_file_in_the_data_extends_the_project_list(tmp_path: Path) -> None:
    root = tmp_path / "m"
    root.mkdir()
    (root / "territories.csv").write_text("slug,name,province_code\npavia,Pavia,18\n",
                                          encoding="utf-8")
    (root / "actors.csv").write_text(
        "id,name,kind,comune\nA,Coop,cooperativa_b,Vigevano\nB,Coop B,cooperativa_b,Lecco\n",
        encoding="utf-8")
    (root / "relations.csv").write_text("source,target,kind,level\n", encoding="utf-8")
    m = om.load(root)
    assert m.territory_slugs == ["lecco", "pavia"]
    # an explicit file replaces the list: Lecco is then unknown
    only = tmp_path / "solo_pavia.csv"
    only.write_text("slug,name,province_code\npavia,Pavia,18\n", encoding="utf-8")
    problems = om.validate(root, territories=only)
    assert [p.row for p in problems if p.severity == "error"] == [3]


def test_graph_strongest_tie(small_map_dir: Path) -> None:
    m = om.load(small_map_dir)
    g = m.graph(as_of="2026-06-30", territory="bergamo")
    # BG-002 enters on 2026-07-01: not yet a node
    assert set(g.nodes) == {"BG-001", "BG-003", "BG-004"}
    assert g.number_of_edges() == 1
    g = m.graph(as_of="2026-07-01", territory="bergamo")
    assert set(g.nodes) == {"BG-001", "BG-002", "BG-003", "BG-004"}
    edge = g.edges["BG-002", "BG-003"]
    assert edge["level"] == 3
    assert edge["kinds"] == ["convenzione_art14", "tirocinio"]
    assert edge["n_relations"] == 2
    assert g.nodes["BG-002"]["kind"] == "cooperativa_b"
    assert g.nodes["BG-002"]["group"] == "cooperazione"
    # until is inclusive, the day after it is gone
    assert g.has_edge("BG-001", "BG-004") is True
    assert m.graph(as_of="2026-12-31").has_edge("BG-001", "BG-004")
    assert not m.graph(as_of="2027-01-01").has_edge("BG-001", "BG-004")
    # whole map, no dates: every relation
    assert m.graph().number_of_edges() == 3


def test_graph_bad_arguments(small_map_dir: Path) -> None:
    m = om.load(small_map_dir)
    with pytest.raises(ValueError, match="territory='atlantide'"):
        m.graph(territory="atlantide")
    with pytest.raises(ValueError, match="as_of"):
        m.graph(as_of="31/02/2026")


def test_graph_nodes_carry_attributes(small_map_dir: Path) -> None:
    m = om.load(small_map_dir)
    g = m.graph()
    node = g.nodes["BG-001"]
    assert node["name"].startswith("Collocamento Mirato")
    assert isinstance(node["lat"], float)
    assert node["since"] is None
    assert np.isclose(node["lon"], 9.67)


def test_template_round_trip(tmp_path: Path) -> None:
    from opportunity_map.geography import load_territories
    from opportunity_map.template import write_template

    path = write_template(tmp_path, territories=load_territories(TERRITORIES))
    wb = load_workbook(path)
    assert {"istruzioni", "attori", "opportunita", "relazioni", "elenchi"} <= set(wb.sheetnames)
    ws = wb["attori"]
    headers = [c.value for c in ws[1]]
    assert headers[:4] == ["id", "nome", "tipo", "comune"]
    formulas = {str(dv.sqref).split(":")[0][0]: dv.formula1
                for dv in ws.data_validations.dataValidation}
    assert formulas["C"].startswith("elenchi!")  # tipo
    lists = wb["elenchi"]
    values = [c.value for c in lists["A"]][1:]
    assert "Cooperativa sociale di tipo B" in values  # the drop-down shows Italian labels
    assert [c.value for c in lists["B"]][1:][values.index("Cooperativa sociale di tipo B")] \
        == "cooperativa_b"
    territories = [c.value for c in lists["I"]][1:]
    assert territories[0] == "Bergamo" and len([t for t in territories if t]) == 11
    # fill it in as an antenna would (labels from the lists, or codes), then load it
    ws.append(["CR-1", "Cooperativa Esempio", "Cooperativa sociale di tipo B", "Cremona", None,
               None, None, "Cremona"])
    ws.append(["CR-2", "Comune Esempio", "servizio_sociale", "Crema", None, None, None,
               "cremona"])
    wb["relazioni"].append(["CR-1", "CR-2", "Invio (segnalazione)", "2 – cooperazione",
                            "01/07/2026"])
    wb.save(path)
    m = om.load(path, territories=TERRITORIES)
    assert len(m.actors) == 2
    assert m.actors["kind"].tolist() == ["cooperativa_b", "servizio_sociale"]
    assert m.actors["territory"].tolist() == ["cremona", "cremona"]
    assert m.relations["kind"].tolist() == ["invio"]
    assert m.relations["level"].tolist() == [2]
    assert m.relations["since"].tolist() == [pd.Timestamp("2026-07-01")]
