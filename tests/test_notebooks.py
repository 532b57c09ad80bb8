"""The notebooks of examples/ run from top to bottom against the bundled data.

They are stored with their outputs (the documentation site shows them as they are);
this test re-executes each one in a fresh kernel (this interpreter: jupyter_client
starts the ``python3`` kernel with ``sys.executable``), so a change of the API that
breaks a notebook fails the suite. The notebooks write only into temporary folders.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "examples").glob("*.ipynb"))


def test_notebooks_exist() -> None:
    assert {p.name for p in NOTEBOOKS} >= {"ricercatori.ipynb", "gis.ipynb"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the kernel imports the same opportunity_map as the tests (source tree or install)
    import opportunity_map

    src = str(Path(opportunity_map.__file__).resolve().parent.parent)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        p for p in (src, os.environ.get("PYTHONPATH", "")) if p))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    before = set(ROOT.iterdir())

    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(ROOT)}})
    client.execute()  # raises CellExecutionError, naming the cell, on any error

    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert set(ROOT.iterdir()) == before, "a notebook wrote into the repository"
