"""opportunity_map: territorial opportunity mapping for the OpenSource in Rete project.

Load a "mappa delle opportunità" (organisations, opportunities, ties between
organisations), validate it, measure its network density against a baseline
and render offline interactive maps for each territory.

Examples
--------
>>> import opportunity_map as om
>>> m = om.load("data/ambiti")  # doctest: +SKIP
>>> g = m.graph(as_of="2026-06-30", territory="bergamo")  # doctest: +SKIP
"""

import logging

from ._errors import DataError, OpportunityMapError, Problem
from .evaluation import Evaluation, evaluate
from .io import load, save, validate
from .metrics import actor_stats, block_density, network_stats
from .model import OpportunityMap
from .report import write_evaluation

__all__ = [
    "DataError",
    "Evaluation",
    "OpportunityMap",
    "OpportunityMapError",
    "Problem",
    "actor_stats",
    "block_density",
    "evaluate",
    "load",
    "network_stats",
    "save",
    "validate",
    "write_evaluation",
]
__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())
