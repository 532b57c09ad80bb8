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
from .io import load, save, validate
from .model import OpportunityMap

__all__ = [
    "DataError",
    "OpportunityMap",
    "OpportunityMapError",
    "Problem",
    "load",
    "save",
    "validate",
]
__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())
