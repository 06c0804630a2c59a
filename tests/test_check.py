"""`nodeclf check`: verdicts on the article's answers and on planted mistakes."""

from __future__ import annotations

import json
import textwrap

import numpy as np
import pytest

from nodeclf_cli import core

from .conftest import ROOT, Article
from .test_cli_step import run

ARTICLE_ANSWERS = ROOT / "data" / "article_answers.yaml"


def grade(tmp_path, answers: str, problem: str = f"problem: {ROOT / 'data' / 'example.yaml'}\n", code=None):
    path = tmp_path / "answers.yaml"
    path.write_text(problem + "answers:\n" + textwrap.indent(textwrap.dedent(answers).strip(), "  ") + "\n")
    result = run("check", str(path), "--format", "json", code=code if code is not None else 1)
    return json.loads(result.stdout)


def verdicts(data, quantity, key=None):
    return [(e["verdict"], e["cause"]) for e in data["entries"]
            if e["quantity"] == quantity and (key is None or e["key"] == str(key))]


def fmt(values) -> str:
    return "[" + ", ".join(f"{v:.2f}" for v in values) + "]"


# --- the article's own answers ----------------------------------------------------


@pytest.fixture(scope="module")
def article_grade():
    return json.loads(run("check", str(ARTICLE_ANSWERS), "--format", "json", code=1).stdout)


def test_check_article_grades_the_bundled_answers_from_any_directory(tmp_path, monkeypatch, article_grade):
    """``nodeclf check article``: the article's answers shipped in the package (the same
    bytes as data/article_answers.yaml), graded as that file is; a file named
    ``article`` in the working directory wins over the bundled answers."""
    from nodeclf_cli.problem import bundled_example

    assert bundled_example("article_answers").read_bytes() == ARTICLE_ANSWERS.read_bytes()
    monkeypatch.chdir(tmp_path)
    assert json.loads(run("check", "article", "--format", "json", code=1).stdout) == article_grade
    (tmp_path / "article").write_text(f"problem: {ROOT / 'data' / 'example.yaml'}\nanswers:\n  loss: 1.1465\n")
    assert json.loads(run("check", "article", "--format", "json").stdout)["summary"]["correct"] == 1


def test_a_missing_answers_file_says_what_may_be_named_instead(tmp_path):
    result = run("check", str(tmp_path / "articel"), code=2)
    assert result.stderr == f"nodeclf: error: {tmp_path / 'articel'}: no such file (or name the bundled answers: article)\n"


def test_article_logits_right_but_h5_a_slip(article_grade):
    for node in (1, 2, 3, 4):
        assert verdicts(article_grade, "logits", node) == [("correct", None)] * 3
    assert verdicts(article_grade, "logits", 5) == [("wrong", "slip")] * 3


def test_article_p5_follows_through(article_grade):
    assert verdicts(article_grade, "probabilities", 5) == [("follows_through", None)] * 3
    for node in (1, 2, 3, 4):
        assert verdicts(article_grade, "probabilities", node) == [("correct", None)] * 3


def test_article_loss_has_the_wrong_sign_but_the_right_size(article_grade):
    [loss] = [e for e in article_grade["entries"] if e["quantity"] == "loss"]
    assert (loss["verdict"], loss["cause"]) == ("wrong", "sign")
    assert loss["key"] is None and loss["index"] is None
    assert loss["expected"] == pytest.approx(Article.loss, abs=1e-10)
    assert "should be 1.1358, following from your probabilities (exact: 1.1465)" in loss["message"]
    assert loss["message"].count("should be") == 1


def test_article_gradient_is_p_minus_one_with_two_slips(article_grade):
    assert verdicts(article_grade, "grad_W", 0) == [
        ("wrong", "p_minus_one"), ("wrong", "p_minus_one"), ("wrong", "slip"), ("wrong", "slip"),
    ]
    messages = [e["message"] for e in article_grade["entries"] if e["quantity"] == "grad_W"]
    assert "no 1/N" in messages[0]
    assert messages[2].endswith("which gives -1.35") and messages[3].endswith("which gives -1.67")


def test_article_updated_w0_follows_through(article_grade):
    assert verdicts(article_grade, "W_new", 0) == [("follows_through", None)] * 4


def test_article_summary(article_grade):
    assert article_grade["summary"] == {
        "correct": 24, "follows_through": 7, "wrong": 8, "coarse": 0, "first_wrong": "logits",
    }


def test_article_table_output():
    out = run("check", str(ARTICLE_ANSWERS), code=1).stdout
    assert "24 right, 7 follow through, 8 wrong (of 39 numbers)." in " ".join(out.split())
    assert "Look first at logits: h[0] of node 5." in " ".join(out.split())
    assert "→ p[0] of node 5: 0.33: follows from your logits: 0.33 (exact: 0.31)" in out


# --- one planted mistake of each kind ---------------------------------------------


A = Article
EXACT = core.gradient_step(A.Z, A.y, A.W, A.b, A.lr)


def test_planted_sign(tmp_path):
    assert verdicts(grade(tmp_path, "loss: -1.1465"), "loss") == [("wrong", "sign")]


def test_planted_log_base_10_and_2(tmp_path):
    assert verdicts(grade(tmp_path, f"loss: {A.loss / np.log(10):.4f}"), "loss") == [("wrong", "log_base")]
    assert verdicts(grade(tmp_path, f"loss: {A.loss / np.log(2):.4f}"), "loss") == [("wrong", "log_base")]


def test_a_mistake_is_reproduced_from_the_students_values_only_where_they_wrote_some(tmp_path):
    def messages(answers: str) -> list[str]:
        return [e["message"] for e in grade(tmp_path, answers)["entries"] if e["quantity"] == "loss_per_node"]

    # no probabilities written: the mistake is reproduced from the exact ones
    alone = messages(f"loss_per_node: {{1: {A.loss_per_node[0] / np.log(10):.4f}, 2: {-A.loss_per_node[1]:.4f}}}")
    assert alone[0].startswith("log base 10 instead of the natural log (reproduced from the exact probabilities)")
    assert alone[1].startswith("the sign flipped: ℓ_i = −ln p_i[y_i] is never negative (reproduced from the exact")
    # node 1's probabilities written rounded: -log10(0.33) = 0.4815, from the student's own
    own = messages("probabilities: {1: [0.33, 0.29, 0.38]}\nloss_per_node: {1: 0.4815}")
    # (their probabilities are right, so the one target named is the exact value)
    assert own == ["log base 10 instead of the natural log (reproduced from your own probabilities); "
                   "should be 1.1082"]


def test_a_value_is_said_to_follow_from_the_nearest_quantity_the_student_wrote(tmp_path):
    def loss_message(answers: str) -> str:
        return next(e["message"] for e in grade(tmp_path, answers)["entries"] if e["quantity"] == "loss")

    # L is computed from the per-node losses: node 1's written wrong (log base 10), so
    # what follows for L comes from them, not from the (right) probabilities
    losses = "probabilities: {1: [0.33, 0.29, 0.38]}\nloss_per_node: {1: 0.4815}\n"
    follows = (0.4815 + A.loss_per_node[1:].sum()) / 5  # 1.0212
    message = loss_message(losses + "loss: 0.4979")
    # log base 10 again, for every node: the mistake already named in the per-node losses, penalised once
    assert message == "the same mistake as in your per-node losses (log base 10 or 2), carried on: 0.4979 " \
                      "(exact: 1.1465)"
    summed = loss_message(losses + f"loss: {5 * follows:.4f}")
    assert summed.startswith("a sum instead of the mean (the 1/N is missing) (reproduced from your own per-node losses)")
    # with only probabilities written, the sum is reproduced from them
    only_probabilities = loss_message(f"probabilities: {{1: [0.30, 0.31, 0.39]}}\nloss: {-np.log(0.30) + A.loss_per_node[1:].sum():.4f}")
    assert only_probabilities.startswith("a sum instead of the mean (the 1/N is missing) (reproduced from your own probabilities)")


def test_planted_missing_mean(tmp_path):
    assert verdicts(grade(tmp_path, "loss: 5.7325"), "loss") == [("wrong", "missing_mean")]
    data = grade(tmp_path, f"grad_W: {{1: {fmt(5 * A.grad_W[1])}}}")
    assert verdicts(data, "grad_W", 1) == [("wrong", "missing_mean")] * 4


def test_planted_p_minus_one_with_and_without_the_mean(tmp_path):
    minus_one = (EXACT.probabilities - 1.0).T @ A.Z
    assert fmt(minus_one[0]).startswith("[-1.64,")  # the article's formula from the exact p
    data = grade(tmp_path, f"grad_W: {{0: {fmt(minus_one[0])}, 2: {fmt(minus_one[2] / 5)}}}")
    assert verdicts(data, "grad_W") == [("wrong", "p_minus_one")] * 8


def test_planted_forgotten_learning_rate_and_no_update(tmp_path):
    data = grade(tmp_path, f"W_new: {{0: {fmt(A.W[0] - A.grad_W[0])}}}\nb_new: {fmt(A.b - A.grad_b)}")
    assert verdicts(data, "W_new", 0) == [("wrong", "forgot_lr")] * 4
    assert verdicts(data, "b_new") == [("wrong", "forgot_lr")] * 3
    data = grade(tmp_path, f"W_new: {{0: {fmt(A.W[0])}}}\nb_new: {fmt(A.b)}")  # every entry of these moves
    assert verdicts(data, "W_new", 0) == [("wrong", "not_updated")] * 4
    assert verdicts(data, "b_new") == [("wrong", "not_updated")] * 3
    assert data["entries"][0]["message"] == "the weight before the update, not after it; should be 0.18"
    assert data["entries"][-1]["message"] == "the bias before the update, not after it; should be -0.35"


def test_planted_softmax_without_exp_and_over_the_wrong_axis(tmp_path):
    H = EXACT.logits
    data = grade(tmp_path, f"probabilities: {{2: {fmt(H[1] / H[1].sum())}}}")
    assert verdicts(data, "probabilities", 2) == [("wrong", "no_exp")] * 3
    columns = np.exp(H) / np.exp(H).sum(axis=0)  # each class's column summing to 1
    data = grade(tmp_path, "probabilities: {" + ", ".join(f"{i + 1}: {fmt(row)}" for i, row in enumerate(columns)) + "}")
    assert verdicts(data, "probabilities") == [("wrong", "wrong_axis")] * 15
    assert data["entries"][0]["message"].startswith("normalised over the nodes instead of over the classes")


def test_planted_forgotten_bias(tmp_path):
    data = grade(tmp_path, f"logits: {{1: {fmt(A.Z[0] @ A.W.T)}}}")
    assert verdicts(data, "logits", 1) == [("wrong", "forgot_bias")] * 3


def test_planted_added_gradient(tmp_path):
    data = grade(tmp_path, f"W_new: {{0: {fmt(A.W[0] + A.lr * A.grad_W[0])}}}\nb_new: {fmt(A.b + A.lr * A.grad_b)}")
    assert verdicts(data, "W_new", 0) == [("wrong", "added_gradient")] * 4
    assert verdicts(data, "b_new") == [("wrong", "added_gradient")] * 3


def test_planted_swapped_classes_and_nodes(tmp_path):
    data = grade(tmp_path, "logits: {1: [0.82, 0.57, 0.69]}\nprobabilities: {3: [0.42, 0.29, 0.29]}")
    assert verdicts(data, "logits", 1) == [("wrong", "swapped"), ("correct", None), ("wrong", "swapped")]
    assert verdicts(data, "probabilities", 3)[0] == ("wrong", "swapped")
    message = [e["message"] for e in data["entries"] if e["quantity"] == "logits"][0]
    assert message.startswith("this is h[2] of node 1")


def test_swapped_needs_an_exchange_or_a_whole_row(tmp_path):
    """Node 3's p[0] written as node 2's (0.42) is a swap only where node 2's p[0] is
    written as node 3's (0.36): a single number equal to some other entry is no
    evidence (in a problem of thousands of nodes some entry always is)."""
    data = grade(tmp_path, "probabilities: {3: [0.42, 0.27, 0.37]}")
    assert verdicts(data, "probabilities", 3)[0] == ("wrong", "slip")
    data = grade(tmp_path, "probabilities: {2: [0.36, 0.29, 0.29], 3: [0.42, 0.27, 0.37]}")
    assert verdicts(data, "probabilities", 2)[0] == verdicts(data, "probabilities", 3)[0] == ("wrong", "swapped")
    messages = [e["message"] for e in data["entries"] if e["index"] == 0]
    assert messages[0].startswith("this is p[0] of node 3") and messages[1].startswith("this is p[0] of node 2")
    data = grade(tmp_path, "loss_per_node: {1: 1.2449, 2: 1.1082}")  # two nodes' losses exchanged
    assert verdicts(data, "loss_per_node") == [("wrong", "swapped")] * 2


def test_no_swap_is_claimed_by_chance_in_a_big_problem(tmp_path):
    """400 nodes, one probability of every other node nudged by 0.07: each such number
    equals some other node's in its column, but nothing was exchanged."""
    import yaml

    run("generate", "--nodes", "400", "--classes", "3", "--seed", "5", "-o", str(tmp_path / "p.yaml"),
        "--answers", str(tmp_path / "key.yaml"))
    key = yaml.safe_load((tmp_path / "key.yaml").read_text())
    answers = {"probabilities": key["answers"]["probabilities"]}
    for node in list(answers["probabilities"])[::2]:
        row = answers["probabilities"][node]
        row[1] = round(row[1] + 0.07, 2)
    (tmp_path / "nudged.yaml").write_text(yaml.safe_dump({"problem": key["problem"], "answers": answers}))
    data = json.loads(run("check", str(tmp_path / "nudged.yaml"), "--format", "json", code=1).stdout)
    assert data["summary"]["wrong"] == 200
    assert not [e for e in data["entries"] if e["cause"] == "swapped"]


def test_one_unit_off_that_no_rounding_gives_is_a_slip_not_drift(tmp_path):
    # p_1[0] = 0.330151: 0.34 is one unit off, but neither the exact logits nor the
    # logits rounded as by hand (0.69, 0.57, 0.82: p = 0.3305) give it
    data = grade(tmp_path, "probabilities: {1: [0.34, 0.29, 0.38]}")
    assert verdicts(data, "probabilities", 1) == [("wrong", "slip"), ("correct", None), ("correct", None)]


def test_planted_rounding_drift_from_coarse_probabilities(tmp_path):
    # p_1 to 1 decimal (each right at 1 decimal), then l_1 = -ln 0.3 = 1.2040 for 1.1082
    data = grade(tmp_path, "probabilities: {1: [0.3, 0.3, 0.4]}\nloss_per_node: {1: 1.2040}")
    assert verdicts(data, "probabilities", 1) == [("correct", None)] * 3
    assert [e["coarse"] for e in data["entries"] if e["quantity"] == "probabilities"] == [True] * 3
    assert verdicts(data, "loss_per_node", 1) == [("wrong", "rounding_drift")]


def test_a_logit_drifts_only_where_rounded_products_give_it(tmp_path):
    # h_1[1] = 0.5*0.75 + 0.6*(-0.04) + 0.7*0.67 + 0.8*(-0.18) - 0.11 = 0.566; its products
    # rounded to 2 decimals first: 0.38 - 0.02 + 0.47 - 0.14 - 0.11 = 0.58
    data = grade(tmp_path, "logits: {1: [0.69, 0.58, 0.82]}")
    assert verdicts(data, "logits", 1)[1] == ("wrong", "rounding_drift")
    assert "each product rounded before adding" in data["entries"][1]["message"]
    # one unit off the other way is no rounding of the terms: a slip
    assert verdicts(grade(tmp_path, "logits: {1: [0.69, 0.56, 0.82]}"), "logits", 1)[1] == ("wrong", "slip")


def test_planted_slip(tmp_path):
    data = grade(tmp_path, "logits: {2: [0.58, 0.31, 0.24]}")
    assert verdicts(data, "logits", 2) == [("correct", None), ("wrong", "slip"), ("correct", None)]


# --- follow-through over several steps ----------------------------------------------


def _chain(tmp_path, wrong_logits: dict):
    """Answers that carry the student's own wrong logits through every later step."""
    H = EXACT.logits.copy()
    for node, row in wrong_logits.items():
        H[node - 1] = row
    P = np.round(core.softmax(H), 2)  # written to 2 decimals
    loss = -np.log(P[np.arange(5), A.y]).mean()
    grad_W = np.round(((P - np.eye(3)[A.y]) / 5).T @ A.Z, 3)  # written to 3 decimals
    W_new = A.W - A.lr * grad_W
    logits = ", ".join(f"{n}: {fmt(r)}" for n, r in wrong_logits.items())
    probabilities = ", ".join(f"{i + 1}: {fmt(p)}" for i, p in enumerate(P))
    three = lambda v: "[" + ", ".join(f"{x:.3f}" for x in v) + "]"  # noqa: E731
    answers = f"""
    logits: {{{logits}}}
    probabilities: {{{probabilities}}}
    loss: {loss:.4f}
    grad_W: {{0: {three(grad_W[0])}}}
    W_new: {{0: {three(W_new[0])}}}
    """
    assert three(grad_W[0]) != three(EXACT.grad_W[0])  # the mistake does reach step 4
    data = grade(tmp_path, answers)
    # an entry that happens to equal the exact value is simply right
    data["same_as_exact"] = {
        "grad_W": [abs(round(g, 3) - e) <= 0.0005 for g, e in zip(grad_W[0], EXACT.grad_W[0])],
        "W_new": [abs(round(w, 3) - e) <= 0.0005 for w, e in zip(W_new[0], EXACT.W_new[0])],
    }
    return data


def expected_chain(data, quantity):
    return [("correct", None) if same else ("follows_through", None) for same in data["same_as_exact"][quantity]]


def test_follow_through_over_two_steps(tmp_path):
    data = _chain(tmp_path, {1: [0.45, 0.75, 0.99]})  # a slip that changes p_1[y_1]
    assert verdicts(data, "logits", 1) == [("wrong", "slip")] * 3
    assert verdicts(data, "probabilities", 1) == [("follows_through", None)] * 3
    assert verdicts(data, "loss") == [("follows_through", None)]
    assert data["summary"]["first_wrong"] == "logits"


def test_follow_through_over_three_and_four_steps(tmp_path):
    data = _chain(tmp_path, {1: [1.50, 0.20, 0.10], 2: [0.10, 1.20, 0.30]})
    assert verdicts(data, "logits", 1) == [("wrong", "slip")] * 3
    assert verdicts(data, "grad_W", 0) == expected_chain(data, "grad_W")
    assert verdicts(data, "W_new", 0) == expected_chain(data, "W_new")
    assert data["summary"]["follows_through"] >= 6 and data["summary"]["wrong"] == 6


def test_right_rounded_values_carried_on_are_right_not_follow_through(tmp_path):
    # p of node 2 from the rounded logits: 0.30 where exact carrying gives 0.29
    data = grade(tmp_path, "logits: {2: [0.58, 0.21, 0.24]}\nprobabilities: {2: [0.42, 0.29, 0.30]}\nloss: 1.1423", code=0)
    assert {v for v in verdicts(data, "probabilities") + verdicts(data, "loss")} == {("correct", None)}
    messages = {e["quantity"]: e["message"] for e in data["entries"] if e["given"] in (0.30, 1.1423)}
    assert messages == {"probabilities": "right for values carried at 2 decimals as by hand (exact: 0.29)",
                        "loss": "right for values carried at 2 decimals as by hand (exact: 1.1465)"}


# --- precision from the digits as written -------------------------------------------


def test_precision_is_read_from_the_written_digits(tmp_path):
    assert verdicts(grade(tmp_path, "loss: 1.1", code=0), "loss") == [("correct", None)]
    assert verdicts(grade(tmp_path, "loss: 1.15", code=0), "loss") == [("correct", None)]
    assert verdicts(grade(tmp_path, "loss: 1.150"), "loss")[0][0] == "wrong"
    # 0.4 among two-decimal entries means 0.40: wrong for 0.362; alone, 0.4 is right
    assert verdicts(grade(tmp_path, "logits: {5: [0.41, 0.64, 0.4]}"), "logits", 5)[2][0] == "wrong"
    assert verdicts(grade(tmp_path, "logits: {5: [0.4, 0.6, 0.4]}", code=0), "logits", 5) == [("correct", None)] * 3


def test_ties_written_either_way_are_right(tmp_path):
    data = grade(tmp_path, "logits: {1: [0.68, 0.57, 0.82], 2: [0.58, 0.21, 0.23]}\ngrad_b: [-0.04, -0.09, 0.13]", code=0)
    assert data["summary"]["wrong"] == 0


def test_all_right_exits_0_and_says_so(tmp_path):
    path = tmp_path / "answers.yaml"
    path.write_text(f"problem: {ROOT / 'data' / 'example.yaml'}\nanswers:\n  loss: 1.1465\n  b_new: {{0: 0.06, 2: -0.35}}\n")
    out = run("check", str(path), code=0).stdout
    assert "3 right, 0 follow through, 0 wrong (of 3 numbers). Nothing is wrong." in out


def test_the_summary_words_a_count_of_one_in_the_singular(tmp_path):
    path = tmp_path / "answers.yaml"
    path.write_text("answers:\n  loss: 1.1465\n")
    assert "1 right, 0 follow through, 0 wrong (of 1 number). Nothing is wrong." in run("check", str(path)).stdout
    path.write_text("answers:\n  probabilities: {1: [0.30, 0.31, 0.39]}\n  loss_per_node: {1: 1.2040}\n")
    out = " ".join(run("check", str(path), code=1).stdout.split())
    assert "0 right, 1 follows through, 3 wrong (of 4 numbers)." in out


def test_inline_problem_and_default_problem(tmp_path):
    path = tmp_path / "a.yaml"
    path.write_text("answers:\n  loss: 1.1465\n")
    run("check", str(path), code=0)
    inline = (ROOT / "data" / "example.yaml").read_text()
    path.write_text("problem:\n" + textwrap.indent(inline, "  ") + "answers:\n  loss: 1.1465\n")
    run("check", str(path), code=0)
    path.write_text("problem: article\nanswers:\n  loss: 1.1465\n")  # a bundled example, by name
    run("check", str(path), code=0)
    path.write_text("problem: karate\nanswers:\n  loss: 1.1465\n")  # found, but has no weights
    assert run("check", str(path), code=2).stderr == (
        "nodeclf: error: karate: no weights in this bundled example: use a problem file that has weights:\n"
    )
    (tmp_path / "bare.yaml").write_text("embeddings: {1: [1.0], 2: [2.0]}\nlabels: {1: 0, 2: 1}\n")
    path.write_text("problem: bare.yaml\nanswers:\n  loss: 1.1465\n")  # the error names the problem's file
    stderr = run("check", str(path), code=2).stderr
    assert stderr == f"nodeclf: error: {tmp_path / 'bare.yaml'}: no weights: add weights: to the problem\n"


@pytest.mark.parametrize(
    "answers, message",
    [
        ("logits: {7: [0.1, 0.2, 0.3]}", "no node 7 in the problem (nodes: 1, 2, 3, 4, 5)"),
        ("logits: {1: [0.1, 0.2]}", "expected 3 numbers (one per class), found 2"),
        ("grad_W: {0: [0.1, 0.2]}", "expected 4 numbers (one per feature), found 2"),
        ("grad_W: {9: [0.1, 0.2, 0.3, 0.4]}", "no class 9 in the problem (classes: 0, 1, 2)"),
        ("logit: {1: [0.1, 0.2, 0.3]}", "unknown quantity 'logit'; did you mean 'logits'?"),
        ("loss: abc", "loss: expected a number, found 'abc'"),
        ("W_new: {0: [0.1, 0.2, 0.3, 0.4], '0': [0.1, 0.2, 0.3, 0.4]}", "W_new[0]: given twice (first as 0, line 2)"),
        ("b_new: {1: 0.2, '1': 0.3}", "b_new[1]: given twice (first as 1, line 2)"),
        ("degrees: {1: 2}", "2: degrees: the problem has no graph (no edges:), so no degrees"),
        # a precision: line above the answers (line 1)
        ("precision: {decimals: two}", "1: precision.decimals: expected a whole number from 0 to 15, found 'two'"),
        ("precision: {decimals: 2, sig_figs: 3}", "1: precision: give decimals or significant figures, not both"),
        ("precision: {decimal: 2}", "1: unknown key 'decimal' in precision; did you mean 'decimals'?"),
        ("precision: 3", "1: precision: expected a mapping such as {decimals: 2, loss_decimals: 4} or "
                         "{sig_figs: 3}; found the number 3"),
        ("precision: {sig_figs: 0}", "1: precision.sig_figs: expected a whole number from 1 to 15, found 0"),
    ],
)
def test_bad_answers_are_status_2_with_a_clear_line(tmp_path, answers, message):
    path = tmp_path / "answers.yaml"
    if answers.startswith("precision:"):
        path.write_text(f"{answers}\nanswers:\n  loss: 1.1465\n")
    else:
        path.write_text(f"answers:\n  {answers}\n")
    result = run("check", str(path), code=2)
    assert message in result.stderr and result.stderr.count("\n") == 1
    assert str(path) in result.stderr



@pytest.mark.parametrize("seed", [None, 1, 2, 3])
def test_check_recomputes_the_gradient_and_update_as_step_does_to_the_last_bit(tmp_path, seed):
    """With nothing written, what check expects is what step shows (the article's
    example, and generated problems of 60 nodes), not a twin computation that could
    round a tie the other way."""
    from nodeclf_cli.generate import generate, problem_yaml
    from nodeclf_cli.grading import Grader
    from nodeclf_cli.problem import load_problem

    path = ROOT / "data" / "example.yaml"
    if seed is not None:
        path = tmp_path / "problem.yaml"
        path.write_text(problem_yaml(generate(nodes=60, dim=6, classes=5, seed=seed), "test"))
    problem = load_problem(path)
    exact = core.gradient_step(problem.Z, problem.y, problem.W, problem.b, problem.learning_rate)
    own = Grader(problem, [], "mean").own  # the student's world, with nothing written
    for quantity in ("grad_W", "W_new"):
        assert np.array_equal(own.follows[quantity], getattr(exact, quantity)), quantity
    for quantity in ("grad_b", "b_new"):
        assert np.array_equal(own.follows[quantity][0], getattr(exact, quantity)), quantity


def test_a_requirement_in_significant_figures(tmp_path):
    # dL/dw_0 = [-0.067545, -0.097080, -0.112552, -0.155039]: three significant figures
    # are right; two are right at the precision written but coarser than required
    problem = f"problem: {ROOT / 'data' / 'example.yaml'}\nprecision: {{sig_figs: 3}}\n"
    data = grade(tmp_path, "grad_W: {0: [-0.0675, -0.0971, -0.113, -0.155]}", problem, code=0)
    assert [(e["verdict"], e["coarse"]) for e in data["entries"]] == [("correct", False)] * 4
    assert data["precision"] == "3 significant figures (the losses 5)"
    data = grade(tmp_path, "grad_W: {0: [-0.068, -0.097, -0.11, -0.16]}", problem, code=0)
    assert [(e["verdict"], e["coarse"]) for e in data["entries"]] == [("correct", True)] * 4
    # p_1 to 1 significant figure, then l_1 = -ln 0.3: drift, said in significant figures
    data = grade(tmp_path, "probabilities: {1: [0.3, 0.3, 0.4]}\nloss_per_node: {1: 1.2040}", problem)
    [loss] = [e for e in data["entries"] if e["quantity"] == "loss_per_node"]
    assert (loss["verdict"], loss["cause"]) == ("wrong", "rounding_drift")
    assert loss["message"].startswith("carried from your 1-significant-figure probabilities "
                                      "(3 significant figures are required)")
