"""The graph: Â and Ẑ against an independent dense computation (and PyTorch, as PyG's
gcn_norm does it, when installed), the gradient through Ẑ, loading edges, and `step`
and `check` with a graph."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

from nodeclf_cli import core, graph
from nodeclf_cli.grading import Grader
from nodeclf_cli.mistakes import CAUSES, GRAPH_MISTAKES, Context
from nodeclf_cli.problem import load_problem

from .test_cli_step import run

# --- an independent dense reference --------------------------------------------------------


def dense_reference(n, pairs, weights, directed, self_loops, norm):
    """Ã, d̃ and Â built as a textbook does, one entry at a time: A[t, s] = w for a pair
    (s, t), and A[s, t] too when undirected (a repeated pair sets the same entry);
    Ã adds 1 on the diagonal where A has nothing; d̃ the row sums."""
    A = np.zeros((n, n))
    for (s, t), w in zip(pairs, weights):
        A[t, s] = w
        if not directed:
            A[s, t] = w
    A_tilde = A.copy()
    if self_loops:
        for i in range(n):
            if A_tilde[i, i] == 0:
                A_tilde[i, i] = 1.0
    d = A_tilde.sum(axis=1)
    A_hat = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            if A_tilde[i, j] == 0:
                continue
            if norm == "sym":  # 1/√0 taken as 0, as PyG (a directed edge from a node no edge enters)
                A_hat[i, j] = A_tilde[i, j] / np.sqrt(d[i] * d[j]) if d[j] > 0 else 0.0
            elif norm == "rw":
                A_hat[i, j] = A_tilde[i, j] / d[i]
            else:
                A_hat[i, j] = A_tilde[i, j]
    return d, A_hat


def random_problem(tmp_path: Path, seed: int, directed: bool, weighted: bool) -> tuple[Path, list, list, int]:
    """A YAML problem with string node ids, isolated nodes, input self-loops, duplicate
    edges (and, undirected, pairs given both ways) and, when ``weighted``, weights."""
    rng = np.random.default_rng(seed)
    n, d, C = int(rng.integers(5, 10)), 3, 2
    ids = [f"n{i}" for i in range(n)]
    pairs, weights = [], []
    for _ in range(int(rng.integers(3, 2 * n))):
        s, t = (int(v) for v in rng.integers(0, n - 2, size=2))  # the last two nodes stay isolated
        w = float(rng.integers(1, 5)) / 2 if weighted else 1.0
        pairs.append((s, t))
        weights.append(w)
    pairs += [pairs[0], (pairs[1][1], pairs[1][0]) if not directed else pairs[1], (2, 2)]
    weights += [weights[0], weights[1], 1.5 if weighted else 1.0]
    # a pair given both ways in an undirected graph must agree on its weight: keep the first's
    first: dict = {}
    for k, ((s, t), w) in enumerate(zip(pairs, weights)):
        key = (s, t) if directed else (min(s, t), max(s, t))
        weights[k] = first.setdefault(key, w)
    lines = ["embeddings:"] + [f"  {i}: {rng.normal(size=d).round(3).tolist()}" for i in ids]
    lines += ["labels: {" + ", ".join(f"{i}: {k % C}" for k, i in enumerate(ids)) + "}"]
    lines += ["weights:", f"  W: {rng.normal(size=(C, d)).round(2).tolist()}", "  b: [0.1, -0.2]",
              "learning_rate: 0.5", "edges:"]
    lines += [f"  - [{ids[s]}, {ids[t]}" + (f", {w}]" if weighted else "]") for (s, t), w in zip(pairs, weights)]
    lines += [f"propagation: {{directed: {str(directed).lower()}}}"]
    path = tmp_path / f"p{seed}.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path, pairs, weights, n


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("directed", [False, True])
@pytest.mark.parametrize("norm", graph.NORMS)
@pytest.mark.parametrize("self_loops", [True, False])
def test_adjacency_and_propagation_equal_the_dense_textbook(tmp_path, seed, directed, norm, self_loops):
    path, pairs, weights, n = random_problem(tmp_path, seed, directed, weighted=seed % 2 == 1)
    problem = load_problem(path, propagation={"norm": norm, "self_loops": self_loops, "hops": 2})
    d_ref, A_ref = dense_reference(n, pairs, weights, directed, self_loops, norm)
    result = core.gradient_step(problem.Z, problem.y, problem.W, problem.b, 0.5, graph=problem.graph)
    assert_allclose(result.degrees, d_ref, rtol=1e-12)
    assert_allclose(result.adjacency.toarray(), A_ref, rtol=1e-12, atol=1e-15)
    assert_allclose(result.hops[0], A_ref @ problem.Z, rtol=1e-12, atol=1e-15)
    assert_allclose(result.propagated, A_ref @ A_ref @ problem.Z, rtol=1e-12, atol=1e-15)
    # the two isolated nodes: their own embedding with a self-loop (d̃ = 1), else nothing
    assert_allclose(result.propagated[-2:], problem.Z[-2:] if self_loops else 0.0)
    # each listed pair once: the merged count is what the listing repeated
    keys = {(s, t) if directed else (min(s, t), max(s, t)) for s, t in pairs}
    assert len(problem.graph.source) == len(keys) and problem.graph.merged == len(pairs) - len(keys)


def test_an_isolated_node_with_self_loops_keeps_its_own_embedding():
    g = graph.Graph(3, np.array([0]), np.array([1]), np.array([1.0]))
    d, A = graph.normalized_adjacency(g)
    Z = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    assert d.tolist() == [2.0, 2.0, 1.0]
    assert_allclose(A @ Z, [[2.0, 3.0], [2.0, 3.0], [5.0, 6.0]])  # (z_0 + z_1)/2 each, z_2 alone


def test_the_sparse_product_equals_the_dense_one_across_blocks_and_empty_rows(monkeypatch):
    rng = np.random.default_rng(3)
    n, d = 300, 5
    rows = rng.integers(0, n // 2, size=900) * 2  # odd rows stay empty
    cols = rng.integers(0, n, size=900)
    M = graph.sorted_by_row(rows, cols, rng.normal(size=900), n)
    Z = rng.normal(size=(n, d))
    monkeypatch.setattr(graph, "GATHER_BYTES", 7 * d * 8)  # blocks of about 7 entries
    assert_allclose(M @ Z, M.toarray() @ Z, rtol=1e-12, atol=1e-12)
    out32 = M @ Z.astype(np.float32)
    assert out32.dtype == np.float32
    assert_allclose(out32, M.toarray() @ Z, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("directed", [False, True])
def test_propagation_matches_pytorch_as_pyg_gcn_norm_does_it(tmp_path, directed):
    torch = pytest.importorskip("torch")
    path, pairs, weights, n = random_problem(tmp_path, 11, directed=directed, weighted=True)
    problem = load_problem(path)
    g = problem.graph
    # PyG: edge_index holds both directions of an undirected edge (a directed one as given);
    # add_remaining_self_loops adds weight 1 where a node has no loop; deg = scatter_add(w, col);
    # norm = dinv[row] w dinv[col]; messages flow source (row) -> target (col): out[col] += norm * x[row]
    loops = g.source == g.target
    back = np.zeros_like(loops) if directed else ~loops  # the reverse direction of each undirected edge
    row = torch.tensor(np.concatenate([g.source, g.target[back]]))
    col = torch.tensor(np.concatenate([g.target, g.source[back]]))
    w = torch.tensor(np.concatenate([g.weight, g.weight[back]]))
    missing = torch.tensor(sorted(set(range(n)) - set(g.source[loops].tolist())), dtype=torch.int64)
    row, col = torch.cat([row, missing]), torch.cat([col, missing])
    w = torch.cat([w, torch.ones(len(missing), dtype=torch.float64)])
    deg = torch.zeros(n, dtype=torch.float64).scatter_add_(0, col, w)
    dinv = deg.pow(-0.5)
    dinv[torch.isinf(dinv)] = 0
    norm = dinv[row] * w * dinv[col]
    x = torch.tensor(problem.Z)
    out = torch.zeros_like(x).index_add_(0, col, norm[:, None] * x[row])
    result = core.gradient_step(problem.Z, problem.y, problem.W, problem.b, 0.5, graph=g)
    assert_allclose(result.propagated, out.numpy(), rtol=1e-12, atol=1e-15)
    # and the gradient of W through Ẑ, by autograd
    W = torch.tensor(problem.W, requires_grad=True)
    b = torch.tensor(problem.b, requires_grad=True)
    loss = torch.nn.functional.cross_entropy(out @ W.T + b, torch.tensor(problem.y))
    loss.backward()
    assert_allclose(result.grad_W, W.grad.numpy(), rtol=1e-10)
    assert_allclose(result.grad_b, b.grad.numpy(), rtol=1e-10)


def test_the_gradient_through_the_propagated_embeddings_matches_finite_differences(tmp_path):
    path, *_ = random_problem(tmp_path, 4, directed=True, weighted=True)
    problem = load_problem(path, propagation={"hops": 2})
    step = core.gradient_step(problem.Z, problem.y, problem.W, problem.b, 0.5, graph=problem.graph)
    eps = 1e-6
    numeric = np.zeros_like(problem.W)
    for c in range(problem.W.shape[0]):
        for j in range(problem.W.shape[1]):
            W_plus, W_minus = problem.W.copy(), problem.W.copy()
            W_plus[c, j] += eps
            W_minus[c, j] -= eps
            plus = core.gradient_step(problem.Z, problem.y, W_plus, problem.b, 0.5, graph=problem.graph).loss
            minus = core.gradient_step(problem.Z, problem.y, W_minus, problem.b, 0.5, graph=problem.graph).loss
            numeric[c, j] = (plus - minus) / (2 * eps)
    assert_allclose(step.grad_W, numeric, rtol=1e-6, atol=1e-9)


def test_no_hops_leaves_the_embeddings_as_they_are(tmp_path):
    path, *_ = random_problem(tmp_path, 2, directed=False, weighted=False)
    problem = load_problem(path, propagation={"hops": 0})
    with_graph = core.gradient_step(problem.Z, problem.y, problem.W, problem.b, 0.5, graph=problem.graph)
    without = core.gradient_step(problem.Z, problem.y, problem.W, problem.b, 0.5)
    assert_allclose(with_graph.logits, without.logits)
    assert with_graph.hops == []


# --- loading edges: bad input is one line naming the file and line ----------------------

TRIANGLE = """\
embeddings:
  a: [0.5, 0.1]
  b: [0.3, 0.4]
  c: [0.2, 0.9]
labels: {a: 0, b: 1, c: 1}
weights:
  W: [[0.1, 0.2], [-0.3, 0.4]]
  b: [0.0, 0.1]
learning_rate: 0.5
"""


def bad(tmp_path, text: str, *options: str) -> str:
    path = tmp_path / "p.yaml"
    path.write_text(TRIANGLE + text)
    result = run("step", str(path), *options, code=2)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nodeclf: error: "), result.output
    return lines[0]


def test_an_edge_to_an_unknown_node_names_its_line(tmp_path):
    line = bad(tmp_path, "edges:\n  - [a, b]\n  - [b, zed]\n")
    assert "p.yaml:12: edges[1]: no node zed in the problem" in line


def test_negative_and_non_finite_weights_are_refused(tmp_path):
    assert "p.yaml:11: edges[0]: an edge's weight must be at least 0, found -1" in bad(
        tmp_path, "edges:\n  - [a, b, -1]\n")
    assert "p.yaml:11: edges[0]: expected a finite number" in bad(tmp_path, "edges:\n  - [a, b, .nan]\n")


def test_an_edge_listed_twice_with_two_weights_is_refused(tmp_path):
    line = bad(tmp_path, "edges:\n  - [a, b, 1]\n  - [b, a, 2]\n")
    assert "p.yaml:12: edge b–a is listed on line 11 with weight 1, here 2" in line


def test_a_missing_edges_file_names_the_problems_line(tmp_path):
    assert "p.yaml:10: edges: no such file: " in bad(tmp_path, "edges: nope.csv\n")


def test_an_empty_list_of_edges_is_refused(tmp_path):
    assert "p.yaml:10: edges: the list of edges is empty" in bad(tmp_path, "edges: []\n")
    assert "p.yaml:10: edges: has no value" in bad(tmp_path, "edges:\n")


def test_a_csv_header_of_any_words_is_skipped(tmp_path):
    (tmp_path / "e.csv").write_text("u;v\na;b\nc;b\n")
    path = tmp_path / "p.yaml"
    path.write_text(TRIANGLE + "edges: e.csv\n")
    g = load_problem(path).graph
    assert g.source.tolist() == [0, 2] and g.target.tolist() == [1, 1]


def test_csv_edges_between_numbered_nodes(tmp_path):
    np.save(tmp_path / "z.npy", np.eye(4))
    (tmp_path / "y.csv").write_text("0,0\n1,1\n2,0\n3,1\n")
    (tmp_path / "e.csv").write_text("from,to\n0,1\n3,2\n02,1\n")
    problem = load_problem(embeddings=tmp_path / "z.npy", labels=tmp_path / "y.csv", edges=tmp_path / "e.csv")
    assert problem.graph.source.tolist() == [0, 3, 2] and problem.graph.target.tolist() == [1, 2, 1]
    (tmp_path / "bad.csv").write_text("0,1\n1,4\n")
    result = run("train", "--embeddings", str(tmp_path / "z.npy"), "--labels", str(tmp_path / "y.csv"),
                 "--edges", str(tmp_path / "bad.csv"), code=2)
    assert result.output.strip() == f"nodeclf: error: {tmp_path / 'bad.csv'}:2: no node 4 in the problem (an edge " \
        "must join two nodes that have embeddings)"


def test_bad_propagation_settings_name_the_key(tmp_path):
    edges = "edges: [[a, b]]\n"
    assert "p.yaml:11: propagation.hops: expected a whole number from 0 to 50, found -1" in bad(
        tmp_path, edges + "propagation: {hops: -1}\n")
    assert "p.yaml:11: propagation.norm: expected one of sym, rw, none, found 'mean'" in bad(
        tmp_path, edges + "propagation: {norm: mean}\n")
    assert "unknown key 'hop' in propagation; did you mean 'hops'?" in bad(tmp_path, edges + "propagation: {hop: 2}\n")


def test_graph_options_without_a_graph_are_refused(tmp_path):
    assert "--hops needs a graph: add edges: to the problem or pass --edges FILE" in bad(tmp_path, "", "--hops", "2")


def test_edges_from_csv_and_npy_files(tmp_path):
    (tmp_path / "e.csv").write_text("source,target,weight\na,b,2\nb,c,0.5\n")
    np.save(tmp_path / "e.npy", np.array([[0, 1], [1, 2]]).T)  # (2, E) of row numbers
    path = tmp_path / "p.yaml"
    path.write_text(TRIANGLE + "edges: e.csv\n")
    from_csv = load_problem(path).graph
    assert from_csv.source.tolist() == [0, 1] and from_csv.weight.tolist() == [2.0, 0.5]
    from_npy = load_problem(path, edges=tmp_path / "e.npy").graph  # --edges overrides
    assert from_npy.target.tolist() == [1, 2] and from_npy.weight.tolist() == [1.0, 1.0]
    (tmp_path / "bad.csv").write_text("a,b\nb,q\n")
    assert "bad.csv:2: no node q in the problem" in bad(tmp_path, "edges: bad.csv\n")
    np.save(tmp_path / "bad.npy", np.array([[0, 3]]))
    assert "bad.npy: edge 0: row number 3 is not a node" in bad(tmp_path, "edges: bad.npy\n")
    np.save(tmp_path / "flat.npy", np.arange(6))
    assert "expected whole numbers of shape (E, 2) or (2, E)" in bad(tmp_path, "edges: flat.npy\n")


# --- step with a graph ----------------------------------------------------------------------


def triangle(tmp_path, extra: str = "") -> Path:
    path = tmp_path / "tri.yaml"
    path.write_text(TRIANGLE + "edges: [[a, b], [b, c], [c, b]]\n" + extra)
    return path


def test_step_json_has_the_graph_and_the_layer_sees_the_propagated_embeddings(tmp_path):
    data = json.loads(run("step", str(triangle(tmp_path)), "--hops", "2", "--format", "json").stdout)
    assert data["edges"] == [["a", "b", 1.0], ["b", "c", 1.0]]
    assert data["propagation"] == {"hops": 2, "norm": "sym", "self_loops": True, "directed": False, "merged": 1}
    assert data["degrees"] == [2.0, 3.0, 2.0]
    A = np.array([[1 / 2, 1 / np.sqrt(6), 0], [1 / np.sqrt(6), 1 / 3, 1 / np.sqrt(6)], [0, 1 / np.sqrt(6), 1 / 2]])
    dense = np.zeros((3, 3))
    ids = {"a": 0, "b": 1, "c": 2}
    for i, j, x in data["adjacency"]:
        dense[ids[i], ids[j]] = x
    assert len(data["adjacency"]) == 7
    assert_allclose(dense, A, rtol=1e-12)
    Z = np.array([[0.5, 0.1], [0.3, 0.4], [0.2, 0.9]])
    assert_allclose(data["hops"][0], A @ Z, rtol=1e-12)
    assert_allclose(data["propagated"], A @ A @ Z, rtol=1e-12)
    W, b = np.array(data["W"]), np.array(data["b"])
    assert_allclose(data["logits"], A @ A @ Z @ W.T + b, rtol=1e-12)


def test_carry_rounded_rounds_the_adjacency_and_each_hop_before_using_them(tmp_path):
    data = json.loads(run("step", str(triangle(tmp_path)), "--hops", "2", "--carry", "rounded",
                          "--format", "json").stdout)
    dense = np.zeros((3, 3))
    ids = {"a": 0, "b": 1, "c": 2}
    for i, j, x in data["adjacency"]:
        dense[ids[i], ids[j]] = x
    assert dense[0].tolist() == [0.5, 0.41, 0.0]  # 1/√6 = 0.408 shown and used as 0.41
    hop1 = np.round(dense @ np.array([[0.5, 0.1], [0.3, 0.4], [0.2, 0.9]]), 2)
    assert data["hops"][0] == hop1.tolist()
    assert_allclose(data["propagated"], np.round(dense @ hop1, 2), atol=1e-12)


def test_explain_writes_the_degree_and_the_aggregation_with_numbers(tmp_path):
    output = run("step", str(triangle(tmp_path)), "--explain", "--node", "b").stdout
    assert "d̃_b = Σ_j Ã[b, j] = 1 + 1 + 1 = 3" in output
    # ẑ_b[0] = 0.5/√(3·2) + 0.3/√(3·3) + 0.2/√(3·2)
    value = 0.5 / np.sqrt(6) + 0.3 / 3 + 0.2 / np.sqrt(6)
    assert f"ẑ_b[0] = 0.5/√(3·2) + 0.3/√(3·3) + 0.2/√(3·2) = {value:.6f}"[:-1] in output


def test_explain_with_rounded_carrying_works_from_the_rounded_adjacency():
    from .conftest import ROOT

    output = run("step", str(ROOT / "data" / "example-graph.yaml"), "--explain", "--node", "3",
                 "--carry", "rounded").stdout
    # Â's row 3 as shown: 0.29, 0.29, 0.25, 0.29; 0.29·0.5 + 0.29·0.3 + 0.25·0.7 + 0.29·0.2 = 0.465 -> 0.47
    assert "ẑ_3[0] = 0.29·0.5 + 0.29·0.3 + 0.25·0.7 + 0.29·0.2 = 0.47" in output


def test_step_tables_show_the_degrees_the_matrix_and_the_merged_edges(tmp_path):
    output = run("step", str(triangle(tmp_path)), "--norm", "rw").stdout
    assert "Normalised adjacency  Â = D̃^-1 Ã" in output
    assert "2 undirected edges; 1 listing merged" in output
    assert "Logits  H = Ẑ Wᵀ + b" in output


def test_a_bigger_graph_summarises_each_row_of_the_adjacency(tmp_path):
    path = tmp_path / "g.yaml"
    run("generate", "--nodes", "15", "--edges", "20", "--seed", "1", "-o", str(path))
    problem = load_problem(path)
    _, A = graph.normalized_adjacency(problem.graph)
    dense = A.toarray()
    output = run("step", str(path), "--show-nodes", "3").stdout
    from .test_cli_step import table_row

    assert "Â has " + str(len(A.values)) + " non-zeros" in output
    row = table_row(output.split("Normalised adjacency")[1], "3")
    assert row[1:] == [str(np.count_nonzero(dense[2])), f"{dense[2, 2]:.2f}", f"{dense[2].sum():.2f}",
                       f"{dense[2].max():.2f}"]


# --- check with a graph -----------------------------------------------------------------------


def _sheet(tmp_path, problem: Path, answers: dict) -> Path:
    lines = [f"problem: {problem.name}", "answers:"]
    for name, rows in answers.items():
        lines.append(f"  {name}:")
        lines += [f"    {key}: {value}" for key, value in rows.items()]
    path = tmp_path / "answers.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _rows(ids, values):
    fmt = (lambda v: f"{v:.2f}") if np.ndim(values) == 1 else (lambda v: "[" + ", ".join(f"{x:.2f}" for x in v) + "]")
    return {i: fmt(v) for i, v in zip(ids, values)}


def _causes(tmp_path, problem_path: Path, answers: dict) -> dict:
    sheet = _sheet(tmp_path, problem_path, answers)
    data = json.loads(run("check", str(sheet), "--format", "json", code=1).stdout)
    found: dict = {}
    for entry in data["entries"]:
        found.setdefault(entry["quantity"], set()).add(entry["cause"])
    return found


@pytest.mark.parametrize("cause, build", [
    ("no_self_loops", dict(self_loops=False)),
    ("degree_without_self_loop", dict(degree_self_loops=False)),
    ("row_normalized", dict(norm="rw")),
    ("not_normalized", dict(norm="none")),
])
def test_check_names_each_way_of_building_the_adjacency_wrongly(tmp_path, cause, build):
    path = triangle(tmp_path, "propagation: {hops: 1}\n")
    problem = load_problem(path)
    _, wrong = graph.normalized_adjacency(problem.graph, **build)
    written = np.round(wrong.toarray(), 2)  # Ẑ worked from Â as written, by hand
    answers = {"adjacency": _rows("abc", written), "propagated": _rows("abc", written @ problem.Z)}
    found = _causes(tmp_path, path, answers)
    assert cause in found["adjacency"]
    assert found["propagated"] <= {None}  # follows from the written Â: no cause


def test_a_degree_written_as_a_whole_number_is_exact_not_coarse(tmp_path):
    path = triangle(tmp_path)
    sheet = _sheet(tmp_path, path, {"degrees": {"a": "2", "b": "3", "c": "2.5"}})
    data = json.loads(run("check", str(sheet), "--format", "json", code=1).stdout)
    verdicts = {e["key"]: (e["verdict"], e["coarse"], e["message"]) for e in data["entries"]}
    assert verdicts["a"] == ("correct", False, "right") and verdicts["b"] == ("correct", False, "right")
    assert verdicts["c"][:2] == ("wrong", True)  # 2.5 for 2: not a whole number, so held to 2 decimals


def test_a_degree_written_as_a_wrong_whole_number_is_wrong_not_coarse(tmp_path):
    sheet = _sheet(tmp_path, triangle(tmp_path), {"degrees": {"a": "1"}})  # A's degree: no self-loop
    [entry] = json.loads(run("check", str(sheet), "--format", "json", code=1).stdout)["entries"]
    assert (entry["verdict"], entry["cause"], entry["coarse"]) == ("wrong", "no_self_loops", False)


def test_check_names_wrong_hops_and_carries_credit_into_the_logits(tmp_path):
    path, *_ = random_problem(tmp_path, 5, directed=False, weighted=False)
    path.write_text(path.read_text().replace("propagation: {directed: false}", "propagation: {hops: 2}"))
    problem = load_problem(path)
    ids = problem.node_ids
    _, A = graph.normalized_adjacency(problem.graph)
    once = np.round(A @ problem.Z, 2)  # one hop, not two
    logits = np.round(once @ problem.W.T + problem.b, 2)
    sheet = _sheet(tmp_path, path, {"propagated": _rows(ids, once), "logits": _rows(ids, logits)})
    data = json.loads(run("check", str(sheet), "--format", "json", code=1).stdout)
    propagated = [e for e in data["entries"] if e["quantity"] == "propagated"]
    wrong = [e for e in propagated if e["verdict"] == "wrong"]
    causes = [e["cause"] for e in wrong]  # one number may match another mistake by chance (2 decimals)
    assert len(wrong) >= 10 and causes.count("wrong_hops") >= 0.9 * len(wrong)
    logits_verdicts = {e["key"]: e["verdict"] for e in data["entries"] if e["quantity"] == "logits"}
    wrong_rows = {e["key"] for e in wrong}
    assert {logits_verdicts[k] for k in wrong_rows} == {"follows_through"}  # credit carried forward
    assert set(logits_verdicts.values()) <= {"correct", "follows_through"}


@pytest.mark.parametrize("mistake", GRAPH_MISTAKES, ids=lambda m: f"{m.quantity}-{m.cause}-{GRAPH_MISTAKES.index(m)}")
def test_every_graph_mistake_is_shaped_as_its_quantity_and_differs_from_the_exact(tmp_path, mistake):
    path, *_ = random_problem(tmp_path, 1, directed=False, weighted=True)
    for norm in ("sym", "rw"):
        problem = load_problem(path, propagation={"norm": norm, "hops": 2})
        context = Context(problem, "mean")
        if mistake.applies(context):
            break
    assert mistake.cause in CAUSES
    exact = Grader(problem, []).exact
    values = mistake.compute(context, exact.basis(mistake.quantity))
    assert values.shape == exact.values[mistake.quantity].shape
    assert not np.allclose(values, exact.values[mistake.quantity])


# --- train with a graph ------------------------------------------------------------------------


def test_train_propagates_once_then_trains_as_step_does(tmp_path):
    path, *_ = random_problem(tmp_path, 3, directed=False, weighted=True)
    problem = load_problem(path, propagation={"hops": 2})
    first = core.gradient_step(problem.Z, problem.y, problem.W, problem.b, 0.5, graph=problem.graph)
    second = core.gradient_step(problem.Z, problem.y, first.W_new, first.b_new, 0.5, graph=problem.graph)
    data = json.loads(run("train", str(path), "--hops", "2", "--epochs", "2", "--format", "json", "--quiet").stdout)
    assert_allclose([h["loss"] for h in data["history"]], [first.loss, second.loss], rtol=1e-12)
    assert_allclose(data["W"], second.W_new, rtol=1e-12)
    no_hops = json.loads(run("train", str(path), "--hops", "0", "--epochs", "1", "--format", "json", "--quiet").stdout)
    plain = core.gradient_step(problem.Z, problem.y, problem.W, problem.b, 0.5)
    assert no_hops["history"][0]["loss"] == pytest.approx(plain.loss, rel=1e-12)


def test_propagated_embeddings_in_float32_stay_float32_and_close(tmp_path):
    path, *_ = random_problem(tmp_path, 5, directed=True, weighted=True)
    problem = load_problem(path, propagation={"hops": 3, "norm": "rw"})
    exact = core.gradient_step(problem.Z, problem.y, problem.W, problem.b, 0.5, graph=problem.graph).propagated
    fast = graph.propagated_embeddings(problem.graph, problem.Z, np.float32)
    assert fast.dtype == np.float32
    assert_allclose(fast, exact, rtol=1e-5, atol=1e-6)


def test_a_saved_problem_keeps_its_graph_and_propagation(tmp_path):
    path = triangle(tmp_path)
    saved = tmp_path / "saved.yaml"
    run("train", str(path), "--hops", "2", "--norm", "rw", "--epochs", "2", "--save", str(saved), "--quiet")
    again = load_problem(saved)
    assert again.graph.propagation == graph.Propagation(hops=2, norm="rw")
    assert again.graph.source.tolist() == [0, 1] and again.graph.target.tolist() == [1, 2]


# --- generate --edges -------------------------------------------------------------------------


@pytest.mark.parametrize("nodes, edges, seed", [(5, 4, 0), (6, 9, 1), (4, 6, 2), (8, 10, 7)])
def test_generate_makes_a_connected_graph_and_an_answer_key_that_checks(tmp_path, nodes, edges, seed):
    problem_path, key = tmp_path / "hw.yaml", tmp_path / "key.yaml"
    run("generate", "--nodes", str(nodes), "--edges", str(edges), "--seed", str(seed),
        "-o", str(problem_path), "--answers", str(key))
    problem = load_problem(problem_path)
    g = problem.graph
    assert len(g.source) == edges and g.merged == 0
    reached, frontier = {0}, [0]  # connected: every node reached from the first
    while frontier:
        node = frontier.pop()
        for s, t in zip(g.source, g.target):
            for a, b in ((s, t), (t, s)):
                if a == node and b not in reached:
                    reached.add(b)
                    frontier.append(b)
    assert reached == set(range(nodes))
    data = json.loads(run("check", str(key), "--format", "json").stdout)
    quantities = {e["quantity"] for e in data["entries"]}
    assert {"degrees", "adjacency", "propagated", "logits"} <= quantities
    assert {e["verdict"] for e in data["entries"]} == {"correct"}
    assert sum(e["quantity"] == "adjacency" for e in data["entries"]) == nodes * nodes


def test_generate_with_edges_is_the_same_problem_as_without_plus_a_graph():
    from nodeclf_cli.generate import generate

    for seed in range(20):
        plain, graph = generate(5, 3, 3, seed), generate(5, 3, 3, seed, edges=6)
        assert graph.pop("edges") and graph == plain, seed


def test_generate_refuses_a_number_of_edges_no_connected_graph_has():
    assert "a connected graph of 5 nodes has 4 to 10 edges, not 11" in run(
        "generate", "--nodes", "5", "--edges", "11", code=2).output


# --- the README -------------------------------------------------------------------------------


def test_every_graph_json_key_is_in_the_readme():
    from .conftest import ROOT

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    data = json.loads(run("step", str(ROOT / "data" / "example-graph.yaml"), "--hops", "2", "--format",
                          "json").stdout)
    for key in [*data, *data["propagation"]]:
        assert f"`{key}`" in readme or f'"{key}"' in readme, key


def test_the_karate_graph_files_are_what_their_script_makes(tmp_path, monkeypatch):
    import importlib.util
    import sys

    from .conftest import ROOT

    monkeypatch.syspath_prepend(str(ROOT / "data"))
    spec = importlib.util.spec_from_file_location("make_karate_graph", ROOT / "data" / "make_karate_graph.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "HERE", tmp_path)
    module.main()
    for name in ("karate-graph.yaml", "karate-graph-labels.csv"):
        assert (tmp_path / name).read_text() == (ROOT / "data" / name).read_text()
    sys.modules.pop("make_karate", None)
    problem = load_problem(ROOT / "data" / "karate-graph.yaml", allow_unlabelled=True)
    assert len(problem.graph.source) == 78 and np.array_equal(problem.Z, np.eye(34))
    assert problem.split.tolist().count("train") == 2


# --- a contextual stochastic block model: the graph carries the signal ----------------------


def contextual_sbm(folder: Path, seed: int = 7, n: int = 600, d: int = 16) -> Path:
    """A two-class contextual stochastic block model (seeded, no download): an edge joins two
    nodes of one class with probability 0.05, of two classes with 0.005; each node's
    features are ±0.3 along one direction plus standard normal noise (weak on their own).
    40 nodes are the train split, the rest the test split. Returns the problem file."""
    rng = np.random.default_rng(seed)
    y = rng.permutation(np.arange(n) % 2)
    direction = rng.normal(size=d)
    direction /= np.linalg.norm(direction)
    Z = np.where(y[:, None] == 1, 0.3, -0.3) * direction + rng.normal(size=(n, d))
    i, j = np.triu_indices(n, k=1)
    chance = np.where(y[i] == y[j], 0.05, 0.005)
    keep = rng.random(len(i)) < chance
    np.save(folder / "z.npy", Z)
    np.save(folder / "edges.npy", np.stack([i[keep], j[keep]], axis=1))
    train = set(np.flatnonzero(y == 0)[:20]) | set(np.flatnonzero(y == 1)[:20])
    rows = [f"{k},{y[k]},{'train' if k in train else 'test'}" for k in range(n)]
    (folder / "labels.csv").write_text("id,label,split\n" + "\n".join(rows) + "\n")
    path = folder / "csbm.yaml"
    path.write_text("embeddings: z.npy\nlabels: labels.csv\nedges: edges.npy\nlearning_rate: 0.5\n")
    return path


def test_on_a_contextual_sbm_two_hops_beat_none_by_a_wide_margin(tmp_path):
    path = contextual_sbm(tmp_path)

    def test_accuracy(hops: int) -> float:
        data = json.loads(run("train", str(path), "--hops", str(hops), "--epochs", "200", "--init", "zeros",
                              "--format", "json", "--quiet").stdout)
        return data["history"][-1]["test_accuracy"]

    alone, propagated = test_accuracy(0), test_accuracy(2)
    assert alone < 0.75
    assert propagated > 0.9 and propagated - alone > 0.2


@pytest.mark.parametrize("options", [["--hops", "2", "--carry", "rounded"], ["--norm", "rw", "--no-self-loops"]])
def test_the_graph_in_latex_is_ascii_and_compiles(tmp_path, options):
    import shutil
    import subprocess

    from .conftest import ROOT

    tex = tmp_path / "step.tex"
    run("step", str(ROOT / "data" / "example-graph.yaml"), "--format", "latex", "--explain", "--node", "3",
        "--output", str(tex), *options)
    assert tex.read_text(encoding="utf-8").isascii()
    if shutil.which("pdflatex") is None:
        pytest.skip("pdflatex is not installed")
    done = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", tex.name],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-2000:]


def test_an_empty_propagation_or_a_header_only_edges_csv_is_one_line(tmp_path):
    import re

    from .conftest import ROOT
    from .test_bad_input import one_line_error
    from .test_cli_step import run

    text = re.sub(r"\npropagation:.*\n", "\n", (ROOT / "data" / "example-graph.yaml").read_text())
    for tail, message in (("propagation:\n", "propagation: has no value"),
                          ("propagation: {}\n", "propagation: expected a mapping such as {hops: 2, norm: sym}; "
                                                "found an empty mapping")):
        path = tmp_path / "g.yaml"
        path.write_text(text + tail)
        one_line_error(run("step", str(path), code=2), message)
    (tmp_path / "e.csv").write_text("source,target\n")
    one_line_error(run("step", str(ROOT / "data" / "example-graph.yaml"), "--edges", str(tmp_path / "e.csv"),
                       code=2), "e.csv:1: the CSV file has a header and no edges")
