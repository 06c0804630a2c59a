"""The mistakes a marker knows by name, as data: each is a small function that works a
quantity out with that mistake made, registered with the quantity it affects, the
quantity it is computed from, and what the message says.

The grader tries every mistake registered for a quantity (from the exact values, from
the student's own, and from values carried at the student's precision) and names the
cause only where the recomputed value reproduces what was written. Adding a mistake is
one function and one :class:`Mistake` entry below.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable

import numpy as np

from . import conventions as conv
from . import optim
from .core import grad_params, loss_scale
from .graph import Propagation, normalized_adjacency, propagate
from .optimstep import PLAIN_SGD, Optimiser
from .problem import Problem

# Each cause, as it is named in a table's "why" column.
CAUSES = {
    "sign": "sign flipped",
    "forgot_bias": "bias forgotten",
    "transposed_W": "W transposed",
    "no_exp": "no exp",
    "wrong_axis": "over nodes",
    "log_base": "log base 10 or 2",
    "predicted_class": "predicted class",
    "missing_mean": "sum, not mean",  # "mean, not sum" where the sum is asked (see cause_label)
    "p_minus_one": "p − 1, not p − y",
    "added_gradient": "gradient added",
    "forgot_lr": "α forgotten",
    "wrong_lr": "another α",
    "not_updated": "not updated",
    "no_self_loops": "no self-loops",
    "degree_without_self_loop": "degree without self-loop",
    "row_normalized": "other normalisation",
    "not_normalized": "not normalised",
    "wrong_hops": "wrong hops",
    "no_bias_correction": "no bias correction",
    "penalty_left_out": "penalty left out",
    "convention": "another convention",
    "swapped": "swapped",
    "rounding_drift": "rounding drift",
    "slip": "arithmetic slip",
}

World = dict  # quantity name -> its values as a 2-d array (see quantities.as_2d)


def cause_label(cause: str, reduction: str) -> str:
    """A cause as a table's "why" column names it, for the problem's reduction."""
    if cause == "missing_mean" and reduction == "sum":
        return "mean, not sum"
    return CAUSES[cause]


@dataclass(frozen=True)
class Context:
    """What every mistake may read besides a world: the problem and the reduction."""

    problem: Problem
    reduction: str

    @property
    def scale(self) -> float:
        """The problem's scale in L = scale Σ_i ℓ_i: 1/N, 1/Σ_i w_{y_i} with class weights, 1 for a sum."""
        return conv.loss_scale(self.problem.y, self.reduction, self.problem.convention)

    @property
    def other_scale(self) -> float:
        """The scale of the other reduction (1 for a mean; for a sum, the mean's 1/N or 1/Σ_i w_{y_i})."""
        return 1.0 if self.reduction == "mean" else conv.loss_scale(self.problem.y, "mean", self.problem.convention)

    def grad_at_logits(self, probabilities: np.ndarray, scale: float) -> np.ndarray:
        """∂L/∂H under the problem's convention at ``scale``: scale (P − Y), or scale (s_i p_i − a_i)."""
        return conv.grad_logits(probabilities, self.problem.y, scale, self.problem.convention)

    @property
    def one_hot(self) -> np.ndarray:
        return np.eye(self.problem.n_classes)[self.problem.y]

    def true_probabilities(self, world: World) -> np.ndarray:
        P = world["probabilities"]
        return P[np.arange(len(self.problem.y)), self.problem.y][:, None]

    def layer_input(self, world: World) -> np.ndarray:
        """What the layer sees: Z, or with a graph the world's propagated Ẑ."""
        return self.problem.Z if self.problem.graph is None else world["propagated"]

    @property
    def optimiser(self) -> Optimiser:
        """The problem's optimiser (plain SGD where it names none)."""
        return self.problem.optimiser or PLAIN_SGD

    @property
    def sgd(self) -> bool:
        """Whether the update is plain SGD's θ − α g (the update's own mistakes are written for it)."""
        return self.problem.optimiser_name == "sgd"

    def theta(self, part: str) -> np.ndarray:
        """The parameter W, or b as one row, before the step."""
        return self.problem.W if part == "W" else self.problem.b[None, :]

    def buffer(self, key: str, part: str) -> np.ndarray | float:
        """The optimiser's buffer ``key`` (velocity, m, v) of W or b before the step (2-d); 0 before the first."""
        pair = getattr(self.optimiser.state, key, None)
        if pair is None:
            return 0.0
        return pair[0] if part == "W" else pair[1][None, :]

    def gradient(self, name: str, grad_logits: np.ndarray, world: World) -> np.ndarray:
        """grad_logits, grad_W or grad_b (as 2-d) from a gradient at the logits."""
        if name == "grad_logits":
            return grad_logits
        grad_W, grad_b = grad_params(grad_logits, self.layer_input(world))
        return grad_W if name == "grad_W" else grad_b[None, :]


@dataclass(frozen=True)
class Mistake:
    """One known mistake on one quantity: ``compute(context, world)`` gives the values
    it leads to (2-d), worked from ``source`` in the world (None: from the inputs)."""

    cause: str
    quantity: str
    what: str | Callable[[Context], str]  # the message, or a function of the context giving it
    source: str | None
    compute: Callable[[Context, World], np.ndarray]
    applies: Callable[[Context], bool] = lambda context: True
    # made on the source's value itself (θ − α(g + a share), g + λθ): worked from a student's own source
    # that already holds it, it would be made twice, so the grader works it from exact or carried values only
    on_source: bool = False

    def message(self, context: Context) -> str:
        return self.what(context) if callable(self.what) else self.what


def _mean_words(context: Context) -> str:
    """A sum where the mean is asked, or the reverse."""
    if context.reduction == "mean":
        weighted = context.problem.convention.class_weights is not None
        return f"a sum instead of the mean (the {'1/Σ w_{y_i}' if weighted else '1/N'} is missing)"
    return "the mean instead of the sum"


def _logs(base: float) -> Callable[[Context, World], np.ndarray]:
    """ℓ_i in another base: −Σ_c a_i[c] log p_i[c] (−log p_i[y_i] for the plain loss)."""
    def per_node(context: Context, world: World) -> np.ndarray:
        P, y, convention = world["probabilities"], context.problem.y, context.problem.convention
        with np.errstate(divide="ignore", invalid="ignore"):
            return conv.cross_entropy_from_probabilities(P, y, convention)[:, None] / np.log(base)

    return per_node


def _mean_of(per_node: Callable[[Context, World], np.ndarray]) -> Callable[[Context, World], np.ndarray]:
    return lambda context, world: np.array([[context.scale * per_node(context, world).sum()]])


def _predicted_class_losses(context: Context, world: World) -> np.ndarray:
    """ℓ_i = −ln max_c p_i[c]: the largest probability's class, not the true one."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return -np.log(world["probabilities"].max(axis=1, keepdims=True))


def _no_exp(context: Context, world: World) -> np.ndarray:
    H = world["logits"]
    with np.errstate(divide="ignore", invalid="ignore"):
        return H / H.sum(axis=1, keepdims=True)


def _over_nodes(context: Context, world: World) -> np.ndarray:
    H = world["logits"]
    E = np.exp(H - H.max())
    return E / E.sum(axis=0)


def _gradient_mistakes(name: str) -> list[Mistake]:
    """The gradient's mistakes, the same at the logits, for W and for b."""
    flipped_from = "probabilities" if name == "grad_logits" else "grad_logits"
    minus_one = {
        "grad_logits": ("p − 1 for every class instead of p − y (1 only at the true class)",
                        "p − 1 for every class instead of (p − y)/N: no 1/N either"),
        "grad_W": ("written as Σ(p − 1)x instead of Σ(p − y)x",
                   "written as Σ(p − 1)x instead of (1/N) Σ(p − y)x: p − 1 for every node and no 1/N"),
        "grad_b": ("written as Σ(p − 1) instead of Σ(p − y)",
                   "written as Σ(p − 1) instead of (1/N) Σ(p − y): p − 1 for every node and no 1/N"),
    }[name]
    return [
        Mistake("sign", name, "the sign flipped (Y − P instead of P − Y)", flipped_from,
                lambda c, w: -c.gradient(name, w["grad_logits"], w)),
        Mistake("missing_mean", name, _mean_words, "probabilities",
                lambda c, w: c.gradient(name, c.grad_at_logits(w["probabilities"], c.other_scale), w)),
        Mistake("p_minus_one", name, minus_one[0], "probabilities",
                lambda c, w: c.gradient(name, c.scale * (w["probabilities"] - 1.0), w)),
        Mistake("p_minus_one", name, minus_one[1], "probabilities",
                lambda c, w: c.gradient(name, w["probabilities"] - 1.0, w), lambda c: c.reduction == "mean"),
    ]


# learning rates a student may have used instead of the problem's (a textbook's usual ones)
OTHER_LEARNING_RATES = (0.01, 0.05, 0.1, 0.2, 0.25, 0.3, 0.5, 1.0)


def _update_mistakes(name: str) -> list[Mistake]:
    grad, symbol, what = ("grad_W", "w", "weight") if name == "W_new" else ("grad_b", "b", "bias")

    def old(c: Context) -> np.ndarray:
        return c.problem.W if name == "W_new" else c.problem.b[None, :]

    update = "update_W" if name == "W_new" else "update_b"

    def with_rate(rate: float) -> Mistake:
        return Mistake(
            "wrong_lr", name, f"the learning rate {rate:g} used instead of the problem's", grad,
            lambda c, w: old(c) - rate * w[grad], lambda c: c.sgd and not np.isclose(c.problem.learning_rate, rate),
        )

    # the gradient's and α's mistakes are plain SGD's θ − α g; an optimiser's update is added as worked
    sgd = lambda c: c.sgd  # noqa: E731
    return [
        Mistake("added_gradient", name, "the gradient added instead of subtracted", grad,
                lambda c, w: old(c) + c.problem.learning_rate * w[grad], sgd),
        Mistake("added_gradient", name, f"the update Δ{symbol} subtracted instead of added", update,
                lambda c, w: old(c) - w[update], lambda c: not c.sgd),
        Mistake("forgot_lr", name, f"the learning rate α left out of {symbol} − α ∂L/∂{symbol}", grad,
                lambda c, w: old(c) - w[grad], sgd),
        Mistake("not_updated", name, f"the {what} before the update, not after it", None, lambda c, w: old(c)),
        *(with_rate(rate) for rate in OTHER_LEARNING_RATES),
    ]


def _graph_mistakes() -> list[Mistake]:
    """The graph's mistakes: Â built another way (recomputed from the graph, with that
    way's degrees), and what follows for Ẑ; and Ẑ propagated K - 1 or K + 1 hops."""
    def on_graph(test: Callable[[Propagation], bool]) -> Callable[[Context], bool]:
        return lambda c: c.problem.graph is not None and test(c.problem.graph.propagation)

    def other_norm(p: Propagation) -> str:
        return "rw" if p.norm == "sym" else "sym"

    ways = [  # cause, what, when it applies, Â (degrees and adjacency) built that way
        ("no_self_loops", "A used instead of Ã = A + I: no self-loops added", lambda p: p.self_loops,
         lambda g: normalized_adjacency(g, self_loops=False)),
        ("degree_without_self_loop", "degrees taken from A, without the self-loop, while Â is built from "
         "Ã = A + I", lambda p: p.self_loops, lambda g: normalized_adjacency(g, degree_self_loops=False)),
        ("row_normalized", "D̃^-1 Ã (row-normalised) instead of D̃^-1/2 Ã D̃^-1/2", lambda p: p.norm == "sym",
         lambda g: normalized_adjacency(g, norm=other_norm(g.propagation))),
        ("row_normalized", "D̃^-1/2 Ã D̃^-1/2 (symmetric) instead of D̃^-1 Ã", lambda p: p.norm == "rw",
         lambda g: normalized_adjacency(g, norm=other_norm(g.propagation))),
        ("not_normalized", "Ã used as it is, not normalised", lambda p: p.norm != "none",
         lambda g: normalized_adjacency(g, norm="none")),
    ]
    found = []
    for cause, what, applies, built in ways:
        if cause == "no_self_loops":
            found.append(Mistake(cause, "degrees", what, None,
                                 lambda c, w, built=built: built(c.problem.graph)[0][:, None], on_graph(applies)))
        found.append(Mistake(cause, "adjacency", what, None,
                             lambda c, w, built=built: built(c.problem.graph)[1].toarray(), on_graph(applies)))
        found.append(Mistake(cause, "propagated", what, None,
                             lambda c, w, built=built: _hops(built(c.problem.graph)[1], c.problem.Z,
                                                              c.problem.graph.propagation.hops),
                             on_graph(lambda p, applies=applies: applies(p) and p.hops > 0)))
    for step in (-1, 1):
        found.append(Mistake(
            "wrong_hops", "propagated", f"propagated {'one hop fewer' if step < 0 else 'one hop more'} "
            "than asked (K - 1 or K + 1 hops)", "adjacency",
            lambda c, w, step=step: _hops(w["adjacency"], c.problem.Z, c.problem.graph.propagation.hops + step),
            on_graph(lambda p, step=step: p.hops + step >= 0)))
    return found


def _hops(A_hat: np.ndarray, Z: np.ndarray, hops: int) -> np.ndarray:
    """Â^K Z (Z itself for K = 0)."""
    propagated = propagate(A_hat, Z, hops)
    return propagated[-1] if propagated else Z


MISTAKES: tuple[Mistake, ...] = (
    Mistake("forgot_bias", "logits", "the bias b_c left out of h_i[c] = z_i · w_c + b_c", None,
            lambda c, w: c.layer_input(w) @ c.problem.W.T),
    Mistake("transposed_W", "logits", "column c of W used instead of row c (Z W + b, not Z Wᵀ + b)", None,
            lambda c, w: c.layer_input(w) @ c.problem.W + c.problem.b,
            lambda c: c.problem.W.shape[0] == c.problem.W.shape[1]),
    Mistake("sign", "logits", "the sign flipped", None, lambda c, w: -w["logits"]),
    Mistake("no_exp", "probabilities", "the logits divided by their sum, without exp", "logits", _no_exp),
    Mistake("wrong_axis", "probabilities", "normalised over the nodes instead of over the classes", "logits",
            _over_nodes),
    Mistake("sign", "loss_per_node", "the sign flipped: ℓ_i = −ln p_i[y_i] is never negative", "probabilities",
            lambda c, w: -w["loss_per_node"]),
    Mistake("log_base", "loss_per_node", "log base 10 instead of the natural log", "probabilities", _logs(10)),
    Mistake("log_base", "loss_per_node", "log base 2 instead of the natural log", "probabilities", _logs(2)),
    Mistake("predicted_class", "loss_per_node", "−ln of the largest probability, not of the true class's",
            "probabilities", _predicted_class_losses),
    Mistake("sign", "loss", "the sign flipped: a cross-entropy is never negative", "loss_per_node",
            lambda c, w: -w["loss"]),
    Mistake("log_base", "loss", "log base 10 instead of the natural log", "probabilities", _mean_of(_logs(10))),
    Mistake("log_base", "loss", "log base 2 instead of the natural log", "probabilities", _mean_of(_logs(2))),
    Mistake("missing_mean", "loss", _mean_words, "loss_per_node",
            lambda c, w: w["loss_per_node"].sum(keepdims=True) * c.other_scale),
    Mistake("predicted_class", "loss", "−ln of each node's largest probability, not of its true class's",
            "probabilities", _mean_of(_predicted_class_losses)),
    *_gradient_mistakes("grad_logits"),
    *_gradient_mistakes("grad_W"),
    *_gradient_mistakes("grad_b"),
    *_update_mistakes("W_new"),
    *_update_mistakes("b_new"),
)


def _other_convention(kind: str) -> Callable[[conv.LossConvention], conv.LossConvention | None]:
    """The convention a student may have followed instead of the problem's: another
    penalty form with the same λ (``sum``, ``half``, ``weight-decay``; not from or to
    scikit-learn's C, whose number means something else), or b penalised the other way
    (``bias``). None where it is the problem's own, or does not apply."""
    def other(convention: conv.LossConvention) -> conv.LossConvention | None:
        if not convention.penalised:
            return None
        if kind == "bias":
            return replace(convention, l2_bias=not convention.bias_penalised)
        if convention.l2_form in (kind, "sklearn"):
            return None
        return replace(convention, l2_form=kind, l2_bias=convention.l2_bias)

    return other


def _convention_mistakes() -> list[Mistake]:
    """Values right under another known convention than the problem's: the penalty
    λΣW² vs ½λΣW², with b penalised or not (the penalty, the regularised loss, the
    gradients and the update), and the weighted mean Σℓ/Σw_y vs the plain (1/N)Σℓ."""
    def scale(c: Context, convention: conv.LossConvention) -> float:
        return conv.loss_scale(c.problem.y, c.reduction, convention)

    def says(other_of: Callable) -> Callable[[Context], str]:
        def words(c: Context) -> str:
            theirs, ours = other_of(c.problem.convention), c.problem.convention
            return (f"right for {conv.penalty_name(theirs, c.reduction)}; "
                    f"this problem uses {conv.penalty_name(ours, c.reduction)}")
        return words

    found: list[Mistake] = []
    for kind in ("bias", "sum", "half", "weight-decay"):  # the same form with b the other way first
        other_of = _other_convention(kind)

        def has_term(c: Context, other_of=other_of) -> bool:
            other = other_of(c.problem.convention)
            return other is not None and other.has_penalty_term and c.problem.convention.has_penalty_term

        def applies(c: Context, other_of=other_of) -> bool:
            return other_of(c.problem.convention) is not None

        def penalty(c: Context, w: World, other_of=other_of) -> np.ndarray:
            other = other_of(c.problem.convention)
            return np.array([[conv.penalty(c.problem.W, c.problem.b, other, scale(c, other))]])

        def other_share(c: Context, part: str, other_of=other_of) -> np.ndarray:
            """The other convention's penalty share of W or b (b as one row)."""
            return penalty_share(c, part, other_of(c.problem.convention))

        def theirs(c: Context, w: World, part: str, other_share=other_share) -> np.ndarray:
            """The data's gradient from the world's ∂L/∂H plus the other convention's penalty share."""
            return c.gradient(f"grad_{part}", w["grad_logits"], w) + other_share(c, part)

        def updated(c: Context, w: World, part: str, other_share=other_share) -> np.ndarray:
            """θ − α (the world's gradient with the other convention's share in place of the problem's)."""
            gradient = w[f"grad_{part}"] - penalty_share(c, part) + other_share(c, part)
            return c.theta(part) - c.problem.learning_rate * gradient

        found += [
            Mistake("convention", "penalty", says(other_of), None, penalty, has_term),
            Mistake("convention", "regularized_loss", says(other_of), "loss",
                    lambda c, w, penalty=penalty: w["loss"] + penalty(c, w), has_term),
            *(Mistake("convention", f"grad_{part}", says(other_of), "grad_logits",
                      lambda c, w, part=part, theirs=theirs: theirs(c, w, part), applies) for part in ("W", "b")),
            *(Mistake("convention", f"{part}_new", says(other_of), f"grad_{part}",
                      lambda c, w, part=part, updated=updated: updated(c, w, part),
                      lambda c, applies=applies: c.sgd and applies(c), on_source=True) for part in ("W", "b")),
        ]

    def weighted(c: Context) -> bool:
        return c.problem.convention.class_weights is not None and c.reduction == "mean"

    def plain_mean(c: Context, w: World) -> np.ndarray:
        return w["loss_per_node"].sum(keepdims=True) / len(c.problem.y)

    def adjusted(c: Context) -> bool:
        return not c.problem.convention.plain

    def used(c: Context) -> str:
        convention = c.problem.convention
        return " and ".join(([] if convention.class_weights is None else ["class weights"])
                            + ([] if not convention.label_smoothing else ["label smoothing"]))

    def plain_losses(c: Context, w: World) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return -np.log(c.true_probabilities(w))

    def plain_gradient(c: Context, w: World) -> np.ndarray:
        return loss_scale(len(c.problem.y), c.reduction) * (w["probabilities"] - c.one_hot)

    def over_n(name: str) -> Callable[[Context, World], np.ndarray]:
        """The weighted loss's gradient with the plain mean's 1/N: (s_i p_i − a_i)/N."""
        def gradient(c: Context, w: World) -> np.ndarray:
            at_logits = conv.grad_logits(w["probabilities"], c.problem.y, 1 / len(c.problem.y), c.problem.convention)
            return c.gradient(name, at_logits, w)
        return gradient

    # before the plain P − Y: on a node of weight 1 both give the same, and this one explains the rest too
    over_n_words = ("right for the gradient of the plain mean (1/N) Σ ℓ_i; this problem uses the "
                    "weighted mean Σ ℓ_i / Σ w_{y_i}")
    found += [Mistake("convention", name, over_n_words, "probabilities", over_n(name), weighted)
              for name in ("grad_logits", "grad_W", "grad_b")]
    found += [
        Mistake("convention", "loss_per_node",
                lambda c: f"right for the plain ℓ_i = −ln p_i[y_i]; this problem uses {used(c)}",
                "probabilities", plain_losses, adjusted),
        Mistake("convention", "grad_logits",
                lambda c: f"right for the plain cross-entropy's P − Y; this problem uses {used(c)}",
                "probabilities", plain_gradient, adjusted),
    ]
    plain_words = "right for the plain mean (1/N) Σ ℓ_i; this problem uses the weighted mean Σ ℓ_i / Σ w_{y_i}"

    found += [
        Mistake("convention", "loss", plain_words, "loss_per_node", plain_mean, weighted),
        Mistake("convention", "regularized_loss", plain_words, "loss_per_node",
                lambda c, w: plain_mean(c, w) + w["penalty"],
                lambda c: weighted(c) and c.problem.convention.has_penalty_term),
    ]
    # the penalty's share left out of the gradient, or of the update (a mistake, not a convention: the
    # problem's loss has the penalty; with Adam, weight decay kept out of g is AdamW's convention instead)
    def share_missing(c: Context) -> bool:
        convention = c.problem.convention
        return convention.penalised and not (convention.l2_form == "weight-decay"
                                             and c.problem.optimiser_name in optim.ADAM_FAMILY)

    def left_out(where: str) -> Callable[[Context], str]:
        return lambda c: (f"the penalty's share ({conv.share_terms(c.problem.convention, c.reduction)}) "
                          f"left out of {where}")

    found += [Mistake("penalty_left_out", name, left_out("the gradient"), "grad_logits",
                      lambda c, w, name=name: c.gradient(name, w["grad_logits"], w), share_missing)
              for name in ("grad_W", "grad_b")]
    found += [Mistake("penalty_left_out", f"{part}_new", left_out("the update"), "grad_logits",
                      lambda c, w, part=part: c.theta(part) - c.problem.learning_rate
                      * c.gradient(f"grad_{part}", w["grad_logits"], w),
                      lambda c: c.sgd and share_missing(c))
              for part in ("W", "b")]
    return found


PYTORCH_MOMENTUM = "PyTorch's b_t = μ b_{t−1} + (1 − τ) g (θ −= α b_t)"
PYTORCH_ADAM = "m̂_t / (√v̂_t + ε) (PyTorch; Kingma and Ba)"
L2_IN_GRADIENT = ("right for Adam's weight decay, λθ added to g before the moments; this problem uses AdamW's "
                  "decoupled θ −= αλθ")
DECOUPLED = ("right for AdamW's decoupled θ −= αλθ; this problem uses Adam's weight decay, λθ added to g before the "
             "moments")


def decay_in_gradient(c: Context) -> bool:
    """The loss convention adds weight decay λθ to the gradient (PyTorch's weight_decay)."""
    return c.problem.convention.penalised and c.problem.convention.l2_form == "weight-decay"


def penalty_share(c: Context, part: str, convention: conv.LossConvention | None = None) -> np.ndarray:
    """The penalty's share of the gradient of W or b (b as one row): ∂R/∂θ, λθ for weight decay; under
    the problem's convention, or the one given."""
    convention = c.problem.convention if convention is None else convention
    shares = conv.penalty_gradients(c.problem.W, c.problem.b, convention,
                                    conv.loss_scale(c.problem.y, c.reduction, convention))
    return shares[0] if part == "W" else shares[1][None, :]


def _optimiser_mistakes() -> list[Mistake]:
    """An optimiser's values worked under another known convention (cause ``convention``, naming
    both), for W and b: each alternative gives its own state and update, and the new weights
    θ + Δθ follow. The state before the step is the problem's, read in the other convention
    (Sutskever's v_{t−1} = −α b_{t−1}, the same history). Sources: PyTorch's torch.optim.SGD,
    Adam, AdamW; Sutskever et al. (2013) and CS231n for v_t = μ v_{t−1} − α g; deeplearning.ai
    for the moving average; Kingma and Ba (2015), §2, for the efficient form; Loshchilov and
    Hutter (2019) for the decoupled decay and its schedule multiplier η."""
    def on(*names: str, also: Callable[[Context], bool] = lambda c: True) -> Callable[[Context], bool]:
        return lambda c: c.problem.optimiser_name in names and also(c)

    found: list[Mistake] = []

    def add(cause: str, what: str | Callable, part: str, applies: Callable, sources: dict[str, str | None],
            values: dict[str, Callable[[Context, World], np.ndarray]], on_source: bool = False) -> None:
        """One alternative's values: ``values[key]`` (velocity, m, ..., update) of ``part``,
        each worked from ``sources[key]``; the new weights θ + Δθ follow from its update."""
        for key, compute in values.items():
            found.append(Mistake(cause, f"{key}_{part}", what, sources[key], compute, applies, on_source))
        if "update" in values:
            found.append(Mistake(cause, f"{part}_new", what, sources["update"],
                                 lambda c, w, u=values["update"], p=part: c.theta(p) + u(c, w), applies, on_source))

    def alternatives(part: str) -> None:
        """Each alternative's values for W or b (a function per part, so that the functions inside close over it)."""
        grad, velocity = f"grad_{part}", f"velocity_{part}"
        m, v, m_hat, v_hat = f"m_{part}", f"v_{part}", f"m_hat_{part}", f"v_hat_{part}"

        def s(c: Context) -> Any:
            return c.optimiser.settings

        def lr(c: Context) -> float:
            return c.problem.learning_rate

        # momentum: Sutskever's and CS231n's v_t = μ v_{t−1} − α g, θ += v_t (so v = −α b, same history)
        def sutskever(c: Context, w: World, p=part, g=grad) -> np.ndarray:
            return s(c).momentum * -lr(c) * c.buffer("velocity", p) - lr(c) * w[g]

        add("convention", f"right for Sutskever's and CS231n's v_t = μ v_{{t−1}} − α g (θ += v_t); this problem "
            f"uses {PYTORCH_MOMENTUM}", part, on(*optim.MOMENTUM_FAMILY), {"velocity": grad},
            {"velocity": sutskever})
        # (its update θ += v_t = −α (μ b_{t−1} + g) is PyTorch's −α b_t from the same history where τ = 0:
        # the same numbers, so only the velocity tells the two apart)

        # momentum: the moving average v_t = β v_{t−1} + (1 − β) g, β = μ
        def moving(c: Context, w: World, p=part, g=grad) -> np.ndarray:
            return s(c).momentum * c.buffer("velocity", p) + (1 - s(c).momentum) * w[g]

        add("convention", f"right for the moving average v_t = β v_{{t−1}} + (1 − β) g (deeplearning.ai, β = μ); "
            f"this problem uses {PYTORCH_MOMENTUM}", part, on("momentum"), {"velocity": grad, "update": grad},
            {"velocity": moving, "update": lambda c, w, moving=moving: -lr(c) * moving(c, w)})

        # momentum: the first step dampened too
        def dampened(c: Context, w: World, g=grad) -> np.ndarray:
            return (1 - s(c).dampening) * w[g]

        add("convention", "right for b_1 = (1 − τ) g, the first step dampened too; this problem uses PyTorch's "
            "b_1 = g", part, on("momentum", also=lambda c: c.optimiser.state.t == 0 and s(c).dampening > 0),
            {"velocity": grad, "update": grad},
            {"velocity": dampened, "update": lambda c, w, dampened=dampened: -lr(c) * dampened(c, w)})

        # Nesterov written as plain momentum, and the reverse
        add("convention", "right for plain momentum's θ −= α b_t; this problem uses Nesterov's θ −= α (g + μ b_t)",
            part, on("nesterov"), {"update": velocity}, {"update": lambda c, w, b=velocity: -lr(c) * w[b]})
        add("convention", "right for Nesterov's θ −= α (g + μ b_t); this problem uses plain momentum's θ −= α b_t",
            part, on("momentum"), {"update": velocity},
            {"update": lambda c, w, b=velocity, g=grad: -lr(c) * (w[g] + s(c).momentum * w[b])})

        # Adam's update in other forms (AdamW's decoupled decay kept where the problem has it)
        def decay(c: Context, p=part) -> np.ndarray | float:
            return lr(c) * s(c).weight_decay * c.theta(p) if c.problem.optimiser_name == "adamw" else 0.0

        add("convention", f"right for ε inside the root, m̂_t / √(v̂_t + ε); this problem uses {PYTORCH_ADAM}", part,
            on(*optim.ADAM_FAMILY), {"update": m_hat},
            {"update": lambda c, w, mh=m_hat, vh=v_hat: -decay(c) - lr(c) * w[mh] / np.sqrt(w[vh] + s(c).eps)})

        def efficient(c: Context, w: World, mm=m, vv=v) -> np.ndarray:
            t = c.optimiser.state.t + 1
            rate = lr(c) * np.sqrt(1 - s(c).beta2**t) / (1 - s(c).beta1**t)
            return -decay(c) - rate * w[mm] / (np.sqrt(w[vv]) + s(c).eps)

        add("convention", "right for Kingma and Ba's efficient form α_t = α √(1 − β2^t) / (1 − β1^t), "
            f"θ −= α_t m_t / (√v_t + ε) (TensorFlow, Keras); this problem uses {PYTORCH_ADAM}", part,
            on(*optim.ADAM_FAMILY), {"update": m}, {"update": efficient})

        # No bias correction is its own cause, not a convention: the Adam courses teach corrects m and v
        # (Kingma and Ba's Algorithm 1, PyTorch, Keras; BERT's AdamWeightDecay is a rare exception);
        # leaving it out is a step of the algorithm left out, which a marker calls a mistake.
        add("no_bias_correction", "the bias correction left out: m̂_t = m_t / (1 − β1^t), v̂_t = v_t / (1 − β2^t)",
            part, on(*optim.ADAM_FAMILY), {"m_hat": m, "v_hat": v, "update": m},
            {"m_hat": lambda c, w, mm=m: w[mm], "v_hat": lambda c, w, vv=v: w[vv],
             "update": lambda c, w, mm=m, vv=v: -decay(c) - lr(c) * w[mm] / (np.sqrt(w[vv]) + s(c).eps)})

        def chain(c: Context, g: np.ndarray, decoupled: np.ndarray | float, p: str = part) -> dict[str, np.ndarray]:
            """Adam's chain from gradient g and the problem's state: m, v, m̂, v̂ and the update
            Δθ = −α·decoupled − α m̂ / (√v̂ + ε) (``decoupled``: AdamW's λθ, or 0)."""
            t = c.optimiser.state.t + 1
            m_t = optim.first_moment(c.buffer("m", p), g, s(c).beta1)
            v_t = optim.second_moment(c.buffer("v", p), g, s(c).beta2)
            m_hat_t, v_hat_t = optim.bias_corrected(m_t, s(c).beta1, t), optim.bias_corrected(v_t, s(c).beta2, t)
            return {"m": m_t, "v": v_t, "m_hat": m_hat_t, "v_hat": v_hat_t,
                    "update": -lr(c) * decoupled - lr(c) * m_hat_t / (np.sqrt(v_hat_t) + s(c).eps)}

        def as_adam_l2(c: Context, w: World, key: str, p: str = part, g: str = grad) -> np.ndarray:
            """AdamW's problem worked as Adam's L2: g + λθ through the moments, no decoupled decay."""
            return chain(c, w[g] + s(c).weight_decay * c.theta(p), 0.0)[key]

        def as_adamw(c: Context, w: World, key: str, p: str = part, g: str = grad) -> np.ndarray:
            """Adam's weight decay (in g) worked as AdamW's: the data's gradient through the moments, the
            decay λθ decoupled into the update."""
            share = penalty_share(c, p)
            return chain(c, w[g] - share, share)[key]

        keys = ("m", "v", "m_hat", "v_hat", "update")
        decoupled = on("adamw", also=lambda c: s(c).weight_decay > 0)
        # the gradient itself: with AdamW's λθ in it, or Adam's λθ (the loss's weight decay) kept out of it
        add("convention", L2_IN_GRADIENT, part, decoupled, {"grad": "grad_logits"},
            {"grad": lambda c, w, p=part: c.gradient(f"grad_{p}", w["grad_logits"], w)
             + s(c).weight_decay * c.theta(p)})
        add("convention", DECOUPLED, part, on("adam", also=decay_in_gradient), {"grad": "grad_logits"},
            {"grad": lambda c, w, p=part: c.gradient(f"grad_{p}", w["grad_logits"], w)})
        add("convention", L2_IN_GRADIENT, part, decoupled, {key: grad for key in keys},
            {key: lambda c, w, key=key: as_adam_l2(c, w, key) for key in keys}, on_source=True)
        add("convention", L2_IN_GRADIENT, part, decoupled, {"update": m_hat},  # from their own m̂ and v̂
            {"update": lambda c, w, mh=m_hat, vh=v_hat: -lr(c) * w[mh] / (np.sqrt(w[vh]) + s(c).eps)})

        # AdamW's decay without α: θ −= λθ (the paper's schedule multiplier η = 1)
        add("convention", "right for AdamW's decay without α, θ −= λθ (the paper's η = 1); this problem uses "
            "PyTorch's θ −= αλθ", part, on("adamw", also=lambda c: s(c).weight_decay > 0 and lr(c) != 1),
            {"update": m_hat},
            {"update": lambda c, w, p=part, mh=m_hat, vh=v_hat:
             -s(c).weight_decay * c.theta(p) - lr(c) * w[mh] / (np.sqrt(w[vh]) + s(c).eps)})

        # Adam's L2 weight decay (the loss convention weight-decay) written as AdamW's decoupled decay
        add("convention", DECOUPLED, part, on("adam", also=decay_in_gradient), {key: grad for key in keys},
            {key: lambda c, w, key=key: as_adamw(c, w, key) for key in keys}, on_source=True)

    for part in ("W", "b"):
        alternatives(part)
    return found


# the graph's mistakes (on the degrees, Â and Ẑ), which apply only to a problem with a graph
GRAPH_MISTAKES: tuple[Mistake, ...] = tuple(_graph_mistakes())
# another convention's values (a penalty's form, a penalised bias, a weighted mean), for problems that set one
CONVENTION_MISTAKES: tuple[Mistake, ...] = tuple(_convention_mistakes())
# an optimiser's values under another convention (momentum's forms, Adam's ε, decay and bias correction)
OPTIMISER_MISTAKES: tuple[Mistake, ...] = tuple(_optimiser_mistakes())


def mistakes_for(name: str, context: Context) -> list[Mistake]:
    """The mistakes registered for quantity ``name`` that apply to this problem."""
    # (an optimiser's conventions before the loss's: where both give a number, the optimiser's names
    # what was done, the loss's only how it looks, as "λθ on W only" for a gradient kept apart from the decay)
    return [m for m in (*GRAPH_MISTAKES, *MISTAKES, *OPTIMISER_MISTAKES, *CONVENTION_MISTAKES)
            if m.quantity == name and m.applies(context)]
