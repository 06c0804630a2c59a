"""The ``nodeclf`` command line: each command loads, computes, renders and prints.

This is the one place where :class:`NodeclfError` becomes a message on stderr and
exit status 2. Modules that only some commands need are imported inside them, so
``nodeclf step`` starts fast.
"""

from __future__ import annotations

import enum
import json
import sys
from pathlib import Path
from typing import Any, Optional

import typer
from typer.core import TyperGroup

from .errors import EXIT_BAD_INPUT, NodeclfError


class _Group(TyperGroup):
    """Turns every NodeclfError into one line on stderr and exit status 2."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except NodeclfError as exc:
            print(f"nodeclf: error: {exc}", file=sys.stderr)
            raise typer.Exit(EXIT_BAD_INPUT) from None


app = typer.Typer(
    cls=_Group,
    help="Node classification by hand, exactly: logits, softmax, cross-entropy, gradients.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        from . import __version__

        print(f"nodeclf {__version__}")
        raise typer.Exit()


@app.callback()
def _main_options(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    """Node classification by hand, exactly: logits, softmax, cross-entropy, gradients.

    Example: nodeclf step
    """


class Reduction(str, enum.Enum):
    mean = "mean"
    sum = "sum"


class Rounding(str, enum.Enum):
    half_up = "half-up"
    half_even = "half-even"


class StepFormat(str, enum.Enum):
    table = "table"
    json = "json"


ProblemArg = typer.Argument(
    None,
    help="Problem file (YAML). Default: the article's example, bundled with nodeclf.",
    show_default=False,
)
EmbeddingsOpt = typer.Option(
    None, "--embeddings", help="Embeddings file (CSV id,x_0,...; or .npy), overrides the problem's."
)
LabelsOpt = typer.Option(None, "--labels", help="Labels file (CSV id,label), overrides the problem's.")
WeightsOpt = typer.Option(
    None, "--weights", help="Weights file (CSV class,b,w_0,...; or YAML), overrides the problem's."
)
LrOpt = typer.Option(None, "--lr", help="Learning rate, overrides the problem's.")
ReductionOpt = typer.Option(
    Reduction.mean, "--reduction", help="Loss over nodes: mean (1/N Σ) or sum (Σ)."
)
DecimalsOpt = typer.Option(
    None, "--decimals", min=0, max=15, help="Decimal places shown [default: 2; the loss 2 more]."
)
SigFigsOpt = typer.Option(
    None, "--sig-figs", min=1, max=15, help="Significant figures shown instead (the loss 2 more)."
)
RoundingOpt = typer.Option(
    Rounding.half_up, "--rounding", help="How ties round: half-up (school) or half-even."
)


def _precision(decimals: int | None, sig_figs: int | None, rounding: Rounding):
    from .rounding import Precision

    if decimals is not None and sig_figs is not None:
        raise typer.BadParameter("give --decimals or --sig-figs, not both")
    if sig_figs is not None:
        return Precision(decimals=None, sig_figs=sig_figs, rounding=rounding.value)
    return Precision(decimals=2 if decimals is None else decimals, rounding=rounding.value)


def _print_json(data: dict) -> None:
    sys.stdout.write(json.dumps(data, indent=2, allow_nan=False) + "\n")


@app.command()
def step(
    problem: Optional[Path] = ProblemArg,
    embeddings: Optional[Path] = EmbeddingsOpt,
    labels: Optional[Path] = LabelsOpt,
    weights: Optional[Path] = WeightsOpt,
    lr: Optional[float] = LrOpt,
    reduction: Reduction = ReductionOpt,
    decimals: Optional[int] = DecimalsOpt,
    sig_figs: Optional[int] = SigFigsOpt,
    rounding: Rounding = RoundingOpt,
    output_format: StepFormat = typer.Option(StepFormat.table, "--format", help="table or json."),
) -> None:
    """One gradient step, every number shown: logits, softmax, loss, gradients, update.

    Example: nodeclf step data/example.yaml --sig-figs 2
    """
    from .core import gradient_step
    from .problem import load_problem

    precision = _precision(decimals, sig_figs, rounding)
    loaded = load_problem(
        problem, embeddings=embeddings, labels=labels, weights=weights, learning_rate=lr
    )
    if loaded.W is None:
        raise NodeclfError("no weights: add weights: to the problem or pass --weights", loaded.source)
    if loaded.learning_rate is None:
        raise NodeclfError(
            "no learning rate: add learning_rate: to the problem or pass --lr", loaded.source
        )
    result = gradient_step(
        loaded.Z, loaded.y, loaded.W, loaded.b, loaded.learning_rate, reduction.value
    )
    from . import render

    if output_format is StepFormat.json:
        _print_json(render.step_json(loaded, result, reduction.value))
        return
    from rich.console import Console

    console = Console()
    for section in render.step_sections(
        loaded, result, precision, precision.finer(2), reduction.value
    ):
        console.print(section)


def main() -> None:
    """Entry point of the ``nodeclf`` console script."""
    app()
