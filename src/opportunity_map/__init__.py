"""opportunity_map: territorial opportunity mapping for the OpenSource in Rete project.

Load a "mappa delle opportunità" (organisations, opportunities and ties between
organisations), validate it, take its network at a date, measure the network density
against a baseline and render offline interactive maps for each territory.

Examples
--------
>>> import opportunity_map as om
>>> m = om.example_map()
>>> g = m.graph("2026-06-30", territory="bergamo")
>>> g.number_of_nodes(), g.number_of_edges()
(5, 4)
"""

import importlib
import logging
from importlib import metadata
from typing import TYPE_CHECKING, Any

from ._errors import (
    DataError,
    DateOrderError,
    OpportunityMapError,
    Problem,
    TargetError,
    UnknownComuneError,
    UnknownOpportunityTypeError,
    UnknownTerritoryError,
    UsageError,
)

if TYPE_CHECKING:  # the heavy modules load on first use (the CLI's --help stays instant)
    from .changes import find_changes, find_unverified, tavolo_dates
    from .evaluation import Evaluation, check_target, evaluate
    from .finder import Coverage, coverage, find_opportunities, write_coverage
    from .geography import project_territories
    from .io import example_map, load, save, validate
    from .maps import MapFigures, compute_figures, render_index, render_map, save_maps
    from .metrics import actor_stats, block_density, network_stats, network_table
    from .model import OpportunityMap
    from .network import REGION, Network, NetworkIndex, index_network
    from .pack import write_pack
    from .pipeline import BuildResult, build, export
    from .report import write_evaluation
    from .schema import TIE_DEFINITION
    from .template import write_template

#: Where each public name lives (imported lazily, PEP 562).
_LAZY: dict[str, str] = {
    "Evaluation": "evaluation", "check_target": "evaluation", "evaluate": "evaluation",
    "project_territories": "geography",
    "Coverage": "finder", "coverage": "finder", "find_opportunities": "finder",
    "write_coverage": "finder",
    "example_map": "io", "export": "pipeline", "load": "io", "save": "io", "validate": "io",
    "MapFigures": "maps", "compute_figures": "maps", "render_index": "maps",
    "render_map": "maps", "save_maps": "maps",
    "actor_stats": "metrics", "block_density": "metrics", "network_stats": "metrics",
    "network_table": "metrics",
    "OpportunityMap": "model",
    "REGION": "network", "Network": "network", "NetworkIndex": "network",
    "index_network": "network",
    "BuildResult": "pipeline", "build": "pipeline",
    "find_changes": "changes", "find_unverified": "changes", "tavolo_dates": "changes",
    "write_evaluation": "report",
    "write_pack": "pack",
    "TIE_DEFINITION": "schema",
    "write_template": "template",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        msg = f"module 'opportunity_map' has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = [
    "REGION",
    "TIE_DEFINITION",
    "BuildResult",
    "Coverage",
    "DataError",
    "DateOrderError",
    "Evaluation",
    "MapFigures",
    "Network",
    "NetworkIndex",
    "OpportunityMap",
    "OpportunityMapError",
    "Problem",
    "TargetError",
    "UnknownComuneError",
    "UnknownOpportunityTypeError",
    "UnknownTerritoryError",
    "UsageError",
    "actor_stats",
    "block_density",
    "build",
    "check_target",
    "compute_figures",
    "coverage",
    "evaluate",
    "example_map",
    "export",
    "find_changes",
    "find_opportunities",
    "find_unverified",
    "index_network",
    "load",
    "network_stats",
    "network_table",
    "project_territories",
    "render_index",
    "render_map",
    "save",
    "save_maps",
    "tavolo_dates",
    "validate",
    "write_coverage",
    "write_evaluation",
    "write_pack",
    "write_template",
]

try:
    __version__ = metadata.version("opportunity-map")
except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0+unknown"

logging.getLogger(__name__).addHandler(logging.NullHandler())
