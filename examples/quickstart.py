"""A researcher's first steps with the bundled map (run from the repository root).

    python examples/quickstart.py

The data in data/ambiti is illustrative (see data/ambiti/README.md): the baseline
is 30/06/2026 and the network grows over the following semesters.
"""

from __future__ import annotations

import networkx as nx

import opportunity_map as om

BASELINE, AS_OF = "2026-06-30", "2027-12-31"

m = om.load("data/ambiti")
print(m)

# Organisations per territory and group
print(m.actors.groupby(["territory", "group"]).size().unstack(fill_value=0))

# A tie (legame) is a pair of organisations, not a relation: the sentence every page shows
print(om.TIE_DEFINITION)

# The network at the baseline and 18 months later, computed once per date and shared
for date in (BASELINE, AS_OF):
    net = m.network(date)
    s = om.network_stats(net, territory="bergamo")
    print(f"{net!r} - bergamo: {s['n_actors']} attori, {s['n_ties']} legami, "
          f"densità {s['density']:.3f}, grado medio {s['avg_degree']:.2f}")

# Every territory at once, and the ties of Bergamo that gather several relations
net = m.network(AS_OF)
print(om.network_table(net)[["territory", "n_actors", "n_ties", "density"]]
      .round(4).to_string(index=False))
ties = net.ties("bergamo")
print(ties[ties["n_relations"] > 1][["source", "target", "level", "kinds", "n_relations"]]
      .to_string(index=False))

# The +30% target: change of density on the organisations active at both dates,
# with a bootstrap interval. In Python the target is a fraction (0.30 = +30%).
ev = om.evaluate(m, baseline=BASELINE, as_of=AS_OF, target=0.30, n_boot=2000, seed=1)
print(ev)
print(ev.table[["territory", "n_panel", "change_pct", "ci_low_pct", "ci_high_pct", "verdict"]]
      .round(1).to_string(index=False))

# The same network as a networkx graph (edges are ties), for anything networkx offers
g = m.graph(AS_OF, territory="bergamo")
central = sorted(nx.degree_centrality(g).items(), key=lambda kv: (-kv[1], kv[0]))[:3]
for actor_id, centrality in central:
    print(f"{actor_id} {g.nodes[actor_id]['name']}: {g.degree(actor_id)} legami "
          f"(centralità {centrality:.2f})")

# Who offers TIS (tirocini di inclusione sociale) in Cremona?
tis = m.opportunities[m.opportunities["type"] == "tis"]
offering = m.actors[m.actors["id"].isin(tis["actor_id"]) & (m.actors["territory"] == "cremona")]
print(offering[["id", "name", "comune"]].to_string(index=False))

# Positions placed by comune are approximate
print(m.actors["geocoded"].value_counts())
