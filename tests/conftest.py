"""Shared fixtures: small maps written as real files, the way antenne produce them."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TERRITORIES = ROOT / "src" / "opportunity_map" / "data" / "territories.csv"

ACTORS_CSV = """id,nome,tipo,comune,latitudine,longitudine,dal,al,sito_web,note
BG-001,Collocamento Mirato – Provincia di Bergamo,collocamento_mirato,Bergamo,45.6947,9.6700,,,,
BG-002,Cooperativa Esempio Alfa,cooperativa_b,Castro,,,01/07/2026,,https://alfa.example,"nota, con
a capo"
BG-003,Impresa Esempio Meccanica,impresa,S. Omobono Terme,,,,,,
BG-004,Agenzia Esempio Lavoro,agenzia_lavoro,Treviglio,,,2025-01-01,2027-03-31,,
"""

RELATIONS_CSV = """da,a,tipo,livello,dal,al,note
BG-001,BG-002,invio,2,2026-07-01,,
BG-002,BG-003,convenzione_art14,3,2026-01-01,,
BG-002,BG-003,tirocinio,1,2025-01-01,,
BG-001,BG-004,tavolo_di_rete,1,,2026-12-31,
"""

OPPORTUNITIES_CSV = """id,id_attore,tipo,nome,posti
BG-O01,BG-002,tis,TIS in laboratorio,4
BG-O02,BG-003,isola_formativa,Isola formativa in officina,2
"""


def write_map(root: Path, *, actors: str = ACTORS_CSV, relations: str = RELATIONS_CSV,
              opportunities: str | None = OPPORTUNITIES_CSV, territory: str = "bergamo",
              encoding: str = "utf-8", names: tuple[str, str, str] = (
                  "actors.csv", "relations.csv", "opportunities.csv")) -> Path:
    """Write a one-territory map under ``root/<territory>/`` with the project's territories."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(TERRITORIES, root / "territories.csv")
    folder = root / territory
    folder.mkdir(exist_ok=True)
    (folder / names[0]).write_bytes(actors.encode(encoding))
    (folder / names[1]).write_bytes(relations.encode(encoding))
    if opportunities is not None:
        (folder / names[2]).write_bytes(opportunities.encode(encoding))
    return root


@pytest.fixture
def small_map_dir(tmp_path: Path) -> Path:
    return write_map(tmp_path / "mappa")


# Property-based tests: a fixed budget everywhere (each test sets max_examples); in CI
# the examples are derandomised, so a run can be reproduced from its commit.
from hypothesis import settings as _hypothesis_settings  # noqa: E402

_hypothesis_settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
_hypothesis_settings.register_profile("dev", deadline=None)
_hypothesis_settings.load_profile("ci" if __import__("os").environ.get("CI") else "dev")
