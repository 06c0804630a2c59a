"""Makes data/karate.yaml: Zachary's karate club with 4-d spectral node embeddings.

The graph: the 34 members of a university karate club and the 78 friendships seen
outside the club (W. W. Zachary, "An information flow model for conflict and fission
in small groups", Journal of Anthropological Research 33 (1977) 452-473). The club
split in two; each member's class is the side they joined: "Mr. Hi" (the instructor)
or "Officer" (the administrator).

Embeddings: the eigenvectors of the normalised adjacency with self-loops,
D^-1/2 (A + I) D^-1/2, for its 4 largest eigenvalues, scaled by sqrt(34) so that
entries are of order 1, signs fixed so that each vector's largest entry is
positive, and rounded to 3 decimals. Only numpy is needed:

    python data/make_karate.py > data/karate.yaml
    cp data/karate.yaml nodeclf_cli/examples/karate.yaml
"""

from __future__ import annotations

import numpy as np

EDGES = [
    (1, 2), (1, 3), (1, 4), (1, 5), (1, 6), (1, 7), (1, 8), (1, 9), (1, 11), (1, 12),
    (1, 13), (1, 14), (1, 18), (1, 20), (1, 22), (1, 32), (2, 3), (2, 4), (2, 8), (2, 14),
    (2, 18), (2, 20), (2, 22), (2, 31), (3, 4), (3, 8), (3, 9), (3, 10), (3, 14), (3, 28),
    (3, 29), (3, 33), (4, 8), (4, 13), (4, 14), (5, 7), (5, 11), (6, 7), (6, 11), (6, 17),
    (7, 17), (9, 31), (9, 33), (9, 34), (10, 34), (14, 34), (15, 33), (15, 34), (16, 33),
    (16, 34), (19, 33), (19, 34), (20, 34), (21, 33), (21, 34), (23, 33), (23, 34),
    (24, 26), (24, 28), (24, 30), (24, 33), (24, 34), (25, 26), (25, 28), (25, 32),
    (26, 32), (27, 30), (27, 34), (28, 34), (29, 32), (29, 34), (30, 33), (30, 34),
    (31, 33), (31, 34), (32, 33), (32, 34), (33, 34),
]
OFFICER = {10, 15, 16, 19, 21, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34}
N, DIM = 34, 4


def embeddings() -> np.ndarray:
    A = np.eye(N)
    for u, v in EDGES:
        A[u - 1, v - 1] = A[v - 1, u - 1] = 1.0
    d = A.sum(axis=1) ** -0.5
    values, vectors = np.linalg.eigh(d[:, None] * A * d[None, :])
    top = vectors[:, np.argsort(values)[::-1][:DIM]] * np.sqrt(N)
    top *= np.sign(top[np.abs(top).argmax(axis=0), np.arange(DIM)])
    return np.round(top, 3)


def main() -> None:
    Z = embeddings()
    print("# Zachary's karate club: 34 members, 78 friendships, and the side each member")
    print("# joined when the club split. Embeddings: the leading 4 eigenvectors of the")
    print("# normalised adjacency (made by data/make_karate.py). Bundled with nodeclf as")
    print("# the example named karate; train it with:")
    print("#   nodeclf train karate --epochs 100")
    print("embeddings:")
    for i, z in enumerate(Z, start=1):
        print(f"  {i}: [{', '.join(format(x + 0.0, '.3f') for x in z)}]")
    print("labels:")
    for i in range(1, N + 1):
        print(f"  {i}: {'Officer' if i in OFFICER else 'Mr. Hi'}")
    print('classes: ["Mr. Hi", "Officer"]')
    print("learning_rate: 0.5")


if __name__ == "__main__":
    main()
