"""The marker's parts on their own, without YAML: judge(), the worlds, the mistakes and
the quantity registry they all read."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from nodeclf_cli import core, quantities
from nodeclf_cli.grading import Candidate, GivenRow, Grader, Substitute, Written, judge, within
from nodeclf_cli.mistakes import CAUSES, MISTAKES, OPTIMISER_MISTAKES, Context, mistakes_for
from nodeclf_cli.problem import Problem
from nodeclf_cli.rounding import Precision, Requirement, coarser_than

from .conftest import Article as A

ARTICLE = Problem((1, 2, 3, 4, 5), A.Z, A.y, (0, 1, 2), A.W, A.b, A.lr, "test")
TWO = Precision(decimals=2)


def w(text: str) -> Written:
    return Written.parse(text)


# --- judge ------------------------------------------------------------------------


def test_a_number_within_half_a_unit_of_the_exact_value_is_right():
    assert judge(w("0.33"), 2, 0.330151, []).verdict == "correct"
    assert judge(w("0.33"), 2, 0.330151, []).message == "right"
    assert judge(w("0.34"), 2, 0.330151, []).verdict == "wrong"


def test_a_tie_is_right_either_way_and_says_so_without_showing_another_number_as_the_answer():
    verdict = judge(w("0.68"), 2, 0.68500000000000005, [])  # the table's expected column shows 0.69
    assert verdict.verdict == "correct" and verdict.noted
    assert verdict.message == "right: the exact 0.685 lies half-way, so 0.68 and 0.69 are both right"
    assert judge(w("0.69"), 2, 0.68500000000000005, []) == Candidate(0.68500000000000005, "correct", None, "right")
    assert judge(w("0.67"), 2, 0.685, []).verdict == "wrong"


def test_a_coarse_number_is_right_at_its_own_precision_with_a_note():
    verdict = judge(w("0.3"), 1, 0.330151, [], required=TWO)
    assert (verdict.verdict, verdict.noted) == ("correct", True)
    assert verdict.message == "right at the 1 decimal written (exact: 0.330151); 2 decimals are required"
    assert judge(w("0.4"), 1, 0.330151, [], required=TWO).verdict == "wrong"


def test_the_first_candidate_within_half_a_unit_decides_and_later_ones_are_never_made():
    made = []

    def candidates():
        for value, cause in ((0.5, "sign"), (0.42, "forgot_lr"), (0.42, "slip")):
            made.append(cause)
            yield Candidate(value, "wrong", cause, cause)

    assert judge(w("0.42"), 2, 0.1, candidates()).cause == "forgot_lr"
    assert made == ["sign", "forgot_lr"]


def test_nothing_explains_it_a_slip_with_the_message_given():
    verdict = judge(w("0.9"), 2, 0.1, [Candidate(0.5, "wrong", "sign", "")], slip="a slip; should be 0.10")
    assert (verdict.verdict, verdict.cause, verdict.message) == ("wrong", "slip", "a slip; should be 0.10")


def test_within_reads_the_written_decimal_not_a_float():
    assert within(w("0.235"), 0.23500000000000004, 3)
    assert within(w("0.24"), 0.235, 2) and within(w("0.23"), 0.235, 2)  # half-way: both
    assert not within(w("0.24"), 0.2349, 2)
    assert not within(w("0.24"), float("nan"), 2)


def test_written_digits():
    assert w("0.50").decimals == 2 and w("3").decimals == 0 and w(" -1.1358 ").text == "-1.1358"
    assert coarser_than("0.3", 1, TWO) and not coarser_than("0.30", 2, TWO)
    assert coarser_than("0.068", 3, Precision(decimals=None, sig_figs=3))  # two significant figures
    assert not coarser_than("0.0675", 4, Precision(decimals=None, sig_figs=3))
    assert not coarser_than("0.4", 2, TWO)  # 0.4 among 0.47 is 0.40


# --- worlds -----------------------------------------------------------------------


def test_substitute_puts_the_students_values_in_and_keeps_what_followed():
    mask = np.zeros((5, 3), bool)
    mask[4] = True
    written = np.zeros((5, 3))
    written[4] = [0.47, 0.55, 0.40]  # the article's node 5
    carry = Substitute({"logits": (written, mask)})
    result = core.gradient_step(A.Z, A.y, A.W, A.b, A.lr, carry=carry)
    np.testing.assert_allclose(carry.follows["logits"], A.logits, atol=1e-12)  # what followed: exact
    np.testing.assert_allclose(result.logits[4], [0.47, 0.55, 0.40])
    np.testing.assert_allclose(result.probabilities[4], core.softmax(np.array([[0.47, 0.55, 0.40]]))[0])
    np.testing.assert_allclose(result.probabilities[:4], A.probabilities[:4], atol=5e-7)


def test_carrying_at_two_decimals_gives_the_articles_1_1423():
    world = Grader(ARTICLE, []).world(TWO, own=False)
    assert round(float(world.values["loss"][0, 0]), 4) == A.loss_from_2dp_probs
    assert world.values["probabilities"][1].tolist() == [0.42, 0.29, 0.30]


def test_a_grader_with_nothing_written_expects_the_exact_step():
    grader = Grader(ARTICLE, [])
    for q in quantities.QUANTITIES:  # -ln p and the stable log-sum-exp agree to an ulp
        np.testing.assert_allclose(grader.own.follows[q.name], grader.exact.values[q.name], rtol=1e-15)
    assert grader.grade().entries == []


def test_coarse_probabilities_make_their_losses_drift_and_what_follows_follows_through():
    rows = [GivenRow("probabilities", 0, 1, [0, 1, 2], ["0.3", "0.3", "0.4"], None),
            GivenRow("loss_per_node", 0, 1, [0], ["1.2040"], None)]
    entries = Grader(ARTICLE, rows).grade().entries
    assert [(e.verdict, e.coarse) for e in entries[:3]] == [("correct", True)] * 3
    assert (entries[3].verdict, entries[3].cause) == ("wrong", "rounding_drift")
    assert entries[3].message.startswith("carried from your 1-decimal probabilities (2 decimals are required)")


# --- mistakes ---------------------------------------------------------------------


def _optimised(name: str, **settings) -> Problem:
    from nodeclf_cli.optimstep import Optimiser, OptimiserSettings

    return dataclasses.replace(ARTICLE, optimiser=Optimiser(OptimiserSettings(name, **settings)))


# problems every mistake applies to one of: plain SGD, and each optimiser (ε large enough for its
# forms to differ, a dampening for the first step's, Adam with PyTorch's weight_decay as the loss's)
def _problems() -> list[Problem]:
    from nodeclf_cli.conventions import LossConvention

    square = dataclasses.replace(ARTICLE, Z=A.Z[:, :3], W=A.W[:, :3])  # for transposed_W
    other_rate = dataclasses.replace(ARTICLE, learning_rate=0.3)  # for wrong_lr's 0.2
    adam_l2 = dataclasses.replace(_optimised("adam", eps=0.1), loss=LossConvention(l2=0.1, l2_form="weight-decay"))
    return [ARTICLE, square, other_rate, _optimised("momentum", dampening=0.3), _optimised("nesterov"),
            _optimised("adam", eps=0.1), _optimised("adamw", eps=0.1, weight_decay=0.1), adam_l2]


ALL_MISTAKES = (*MISTAKES, *OPTIMISER_MISTAKES)


def test_every_mistake_names_a_known_quantity_cause_and_source():
    for m in ALL_MISTAKES:
        assert m.quantity in quantities.BY_NAME and m.cause in CAUSES
        assert m.source is None or m.source in quantities.upstream(m.quantity)


@pytest.mark.parametrize("mistake", ALL_MISTAKES, ids=lambda m: f"{m.quantity}-{m.cause}-{ALL_MISTAKES.index(m)}")
def test_every_mistake_gives_values_shaped_as_its_quantity_and_differs_from_the_exact(mistake):
    context = next(Context(problem, reduction) for problem in _problems()
                   for reduction in ("mean", "sum") if mistake.applies(Context(problem, reduction)))
    exact = Grader(context.problem, [], context.reduction).exact
    values = mistake.compute(context, exact.basis(mistake.quantity))
    assert values.shape == exact.values[mistake.quantity].shape
    assert not np.allclose(values, exact.values[mistake.quantity])


def test_transposed_W_applies_only_to_a_square_W():
    square = dataclasses.replace(ARTICLE, Z=A.Z[:, :3], W=A.W[:, :3])
    assert "transposed_W" in [m.cause for m in mistakes_for("logits", Context(square, "mean"))]
    assert "transposed_W" not in [m.cause for m in mistakes_for("logits", Context(ARTICLE, "mean"))]


def test_the_articles_gradient_is_p_minus_one_without_the_mean():
    grader = Grader(ARTICLE, [])
    [m] = [m for m in mistakes_for("grad_W", grader.context)
           if m.cause == "p_minus_one" and "no 1/N" in m.message(grader.context)]
    values = m.compute(grader.context, grader.exact.basis("grad_W"))
    np.testing.assert_allclose(values[0], (A.probabilities[:, 0] - 1) @ A.Z, atol=1e-5)


# --- the registry -----------------------------------------------------------------


def test_the_registry_names_every_quantity_of_a_step_in_the_order_it_is_worked():
    fields = [f.name for f in dataclasses.fields(core.StepResult) if f.name not in ("predicted", "state")]
    assert list(quantities.NAMES) == fields
    for q in quantities.QUANTITIES:
        for parent in q.parents:  # computed from what came before
            assert quantities.NAMES.index(parent) < quantities.NAMES.index(q.name)


def test_as_2d_and_back():
    from nodeclf_cli.optimstep import Optimiser, OptimiserSettings

    for name in ("sgd", "momentum", "adam"):
        check_as_2d_and_back(core.gradient_step(A.Z, A.y, A.W, A.b, A.lr, optimiser=Optimiser(OptimiserSettings(name))),
                             quantities.present(False, False, name))


def check_as_2d_and_back(result, present):
    for q in present:
        value = np.asarray(getattr(result, q.name))
        two = quantities.as_2d(q.name, value)
        assert two.ndim == 2
        np.testing.assert_array_equal(quantities.from_2d(q.name, two), value)


def test_requirement_loss_gap_and_words():
    assert Requirement().loss_gap == 2 and Requirement().describe() == "2 decimals (the losses 4)"
    three = Requirement(Precision(decimals=None, sig_figs=3), Precision(decimals=None, sig_figs=5))
    assert three.loss_gap == 2 and three.describe() == "3 significant figures (the losses 5)"
