"""Makes data/karate-graph.yaml and data/karate-graph-labels.csv: Zachary's karate club
as a graph, for one GCN-style propagation (SGC) against none.

The 78 friendships are the edges; each member's features are one-hot (X = I, as in
Kipf & Welling's demo of GCN on this club): without the graph a member's features
say nothing about any other member. Only two members are labelled for training:
1 (Mr. Hi, the instructor) and 34 (the administrator, whose side is "Officer"); the
other 32 are the test split. Only the standard library is needed:

    python data/make_karate_graph.py
    nodeclf train data/karate-graph.yaml --hops 2 --epochs 100
"""

from __future__ import annotations

from pathlib import Path

from make_karate import EDGES, N, OFFICER

HERE = Path(__file__).resolve().parent
TRAIN = {1, 34}


def main() -> None:
    lines = [
        "# Zachary's karate club as a graph: 34 members, their 78 friendships as edges,",
        "# one-hot features (X = I) and only members 1 and 34 labelled for training (see",
        "# karate-graph-labels.csv; made by data/make_karate_graph.py). Compare:",
        "#   nodeclf train data/karate-graph.yaml --hops 0 --epochs 100",
        "#   nodeclf train data/karate-graph.yaml --hops 2 --epochs 100",
        "embeddings:",
        *(f"  {i}: [{', '.join('1' if j == i else '0' for j in range(1, N + 1))}]" for i in range(1, N + 1)),
        "labels: karate-graph-labels.csv",
        'classes: ["Mr. Hi", "Officer"]',
        "learning_rate: 0.5",
        "edges: [" + ", ".join(f"[{u}, {v}]" for u, v in EDGES) + "]",
        "propagation: {hops: 2, norm: sym, self_loops: true}",
    ]
    (HERE / "karate-graph.yaml").write_text("\n".join(lines) + "\n")
    rows = ["id,label,split"] + [
        f"{i},{'Officer' if i in OFFICER else 'Mr. Hi'},{'train' if i in TRAIN else 'test'}" for i in range(1, N + 1)
    ]
    (HERE / "karate-graph-labels.csv").write_text("\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
