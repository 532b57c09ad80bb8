"""A researcher's first steps with the bundled map (run from the repository root).

    python examples/quickstart.py
"""

from __future__ import annotations

import networkx as nx

import opportunity_map as om

m = om.load("data/ambiti")
print(m)

# Organisations per territory and group
print(m.actors.groupby(["territory", "group"]).size().unstack(fill_value=0))

# The Bergamo network at the baseline and one year later
for date in ("2026-06-30", "2027-06-30"):
    g = m.graph(as_of=date, territory="bergamo")
    print(f"bergamo {date}: {g.number_of_nodes()} attori, {g.number_of_edges()} legami, "
          f"densità {nx.density(g):.3f}")

# Who offers TIS (tirocini di inclusione sociale) in Cremona?
tis = m.opportunities[m.opportunities["type"] == "tis"]
offering = m.actors[m.actors["id"].isin(tis["actor_id"]) & (m.actors["territory"] == "cremona")]
print(offering[["id", "name", "comune"]].to_string(index=False))

# Positions placed by comune are approximate
print(m.actors["geocoded"].value_counts())
