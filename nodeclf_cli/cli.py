"""The ``nodeclf`` command line: each command loads, computes, renders and prints.

This is the one place where an exception becomes a message on stderr and an exit
status (:class:`_Group`): bad input (:class:`NodeclfError`) and anything unexpected
become one line and exit status 2, never a traceback (``NODECLF_DEBUG=1`` shows it).
Modules that only some commands need are imported inside them, so ``nodeclf step``
starts fast.
"""

from __future__ import annotations

import enum
import os
import signal
import sys
import warnings
from pathlib import Path
from typing import Any, Optional

import typer
from typer.core import TyperGroup

try:  # Typer 0.26+ carries its own click, whose errors derive from the public TyperException
    from typer import TyperException as ClickException
except ImportError:  # pragma: no cover - older Typer on click
    from click import ClickException

from .blas import choose_kernels
from .errors import (
    EXIT_BAD_INPUT,
    EXIT_BROKEN_PIPE,
    EXIT_INTERRUPTED,
    EXIT_MISTAKES,
    EXIT_TERMINATED,
    NodeclfError,
    Terminated,
    counted,
    printable,
)


def _is_usage_error(exc: BaseException) -> bool:
    """click's UsageError (not public in Typer): a click error that exits with status 2."""
    return isinstance(exc, ClickException) and getattr(exc, "exit_code", None) == 2


def _is_help(exc: BaseException) -> bool:
    """``nodeclf`` alone: click shows the help by raising a usage error of its own."""
    return type(exc).__name__ == "NoArgsIsHelpError"


LONGEST_MESSAGE = 2000  # characters of a line on stderr; a longer one is cut in the middle


def _say(line: str) -> None:
    """Print one line on stderr, with control characters escaped (so that nothing in an
    id or file name acts on the terminal) and at most LONGEST_MESSAGE characters."""
    if len(line) > LONGEST_MESSAGE:
        line = line[: LONGEST_MESSAGE - 500] + " … " + line[-400:]
    print(printable(line), file=sys.stderr)


def _exit_status(exc: BaseException) -> int | None:
    """Say what went wrong in one line and return the exit status; None where the
    exception is to go on (click's own exits; SystemExit; with NODECLF_DEBUG=1, anything
    unexpected, to show its traceback)."""
    if isinstance(exc, BrokenPipeError):
        # Whoever read stdout has gone (`nodeclf check a.yaml | head`): stop quietly
        # with the status of a process SIGPIPE ends, not 1 (mistakes found). Later
        # writes and the flush at exit go to /dev/null.
        from .output import silence_stdout

        silence_stdout()
        return EXIT_BROKEN_PIPE
    if isinstance(exc, NodeclfError):
        _say(f"nodeclf: error: {exc}")
        return EXIT_BAD_INPUT
    if isinstance(exc, KeyboardInterrupt):  # Ctrl-C outside training (which stops after an epoch)
        _say("nodeclf: interrupted")
        return EXIT_INTERRUPTED
    if isinstance(exc, Terminated):  # SIGTERM outside training (which stops after an epoch)
        _say("nodeclf: terminated")
        return EXIT_TERMINATED
    if _is_usage_error(exc):
        ctx = getattr(exc, "ctx", None)
        where = ctx.command_path if ctx is not None else "nodeclf"
        message = exc.format_message().replace("Value error, ", "")  # Typer's validator prefix
        _say(f"nodeclf: error: {message} (see '{where} --help')")
        return EXIT_BAD_INPUT
    if isinstance(exc, (ClickException, typer.Exit, typer.Abort)) or not isinstance(exc, Exception):
        return None
    if os.environ.get("NODECLF_DEBUG") == "1":
        return None
    try:
        detail = _short(str(exc))
    except Exception:  # a message that cannot be made
        detail = "(no message)"
    if isinstance(exc, MemoryError):
        _say(f"nodeclf: error: not enough memory for this input{f' ({detail})' if detail else ''}")
    elif isinstance(exc, RecursionError):
        _say("nodeclf: error: the input is nested too deeply to read")
    elif isinstance(exc, OSError) and exc.strerror:
        place = f"{exc.filename}: " if exc.filename is not None else ""
        _say(f"nodeclf: error: {place}{exc.strerror}")
    else:
        from . import __version__

        _say(
            f"nodeclf: internal error: {type(exc).__name__}: {detail} "
            f"(nodeclf {__version__}; please report it with the command you ran)"
        )
    return EXIT_BAD_INPUT


def _short(text: str, most: int = 200) -> str:
    """The start of a message, cut at ``most`` characters."""
    return text if len(text) <= most else text[:most] + "…"


class _Group(TyperGroup):
    """Runs a command with Python's warnings (numpy's RuntimeWarning and the like) kept
    off stderr, and turns whatever it raises into one line on stderr and an exit status
    (:func:`_exit_status`): 2 for bad input, bad usage and anything unexpected; 130 for
    Ctrl-C; 143 for SIGTERM; a quiet 141 for a closed output pipe."""

    def make_context(self, info_name: Any, args: Any, parent: Any = None, **extra: Any) -> Any:
        """The options before the command (``nodeclf --bogus``): a mistake there is one line too."""
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except ClickException as exc:
            if not _is_usage_error(exc) or _is_help(exc):
                raise
            raise typer.Exit(_exit_status(exc)) from None

    def invoke(self, ctx: Any) -> Any:
        with warnings.catch_warnings():
            if os.environ.get("NODECLF_DEBUG") != "1":
                warnings.simplefilter("ignore")
            try:
                return super().invoke(ctx)
            except BaseException as exc:
                status = _exit_status(exc)
                if status is None:
                    raise
                raise typer.Exit(status) from None


app = typer.Typer(
    cls=_Group,
    help="Node classification by hand, exactly: logits, softmax, cross-entropy, gradients.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # help texts are plain: "[default: ...]" must not read as markup
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
    markdown = "markdown"
    latex = "latex"


class CarryMode(str, enum.Enum):
    exact = "exact"
    rounded = "rounded"


ProblemArg = typer.Argument(
    None,
    help="Problem file (YAML), or a bundled example: article (the default) or karate.",
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
EdgesOpt = typer.Option(
    None, "--edges", help="Edges file (CSV source,target[,weight] by node id; or .npy (E, 2) of rows), "
    "overrides the problem's."
)


class Norm(str, enum.Enum):
    sym = "sym"
    rw = "rw"
    none = "none"


NormOpt = typer.Option(
    None, "--norm", help="Â: sym D̃^-1/2 Ã D̃^-1/2 (GCN), rw D̃^-1 Ã (mean), none Ã [default: the problem's, else sym]."
)
SelfLoopsOpt = typer.Option(False, "--no-self-loops", help="Ã = A: no self-loops added (as DGL's GraphConv).")
HopsOpt = typer.Option(None, "--hops", min=0, max=50, help="K in Ẑ = Â^K Z [default: the problem's, else 1].")


def _propagation(norm: Norm | None, no_self_loops: bool, hops: int | None) -> dict:
    """The propagation settings given as options (the problem's propagation: gives the rest)."""
    return {"norm": None if norm is None else norm.value, "self_loops": False if no_self_loops else None,
            "hops": hops}


class L2Form(str, enum.Enum):
    sum = "sum"
    half = "half"
    sklearn = "sklearn"
    weight_decay = "weight-decay"


ClassWeightsOpt = typer.Option(
    None, "--class-weights", help="Weights per class, as PyTorch's weight=: 6,4 in the classes' order, or "
    "cat=6,dog=4; the mean divides by Σ w_{y_i} [default: the problem's loss:, else none]."
)
LabelSmoothingOpt = typer.Option(
    None, "--label-smoothing", help="ε: targets (1 − ε) onehot + ε/C, as PyTorch's label_smoothing [default: 0]."
)
L2Opt = typer.Option(None, "--l2", help="λ of the L2 penalty (C for --l2-form sklearn) [default: none].")
L2FormOpt = typer.Option(
    None, "--l2-form", help="sum λΣW² (CS231n), half ½λΣW² (CS231n), sklearn ΣW²/(2CN), ΣW²/(2C) for the sum "
    "(LogisticRegression(C)), weight-decay λθ added to the gradient (PyTorch) [default: sum]."
)
L2BiasOpt = typer.Option(
    None, "--l2-bias/--no-l2-bias", help="Penalise b too, or not [default: only weight-decay does]."
)


def _loss_options(class_weights: str | None, label_smoothing: float | None, l2: float | None,
                  l2_form: L2Form | None, l2_bias: bool | None) -> dict:
    """The loss convention given as options (the problem's loss: gives the rest)."""
    return {"class_weights": class_weights, "label_smoothing": label_smoothing, "l2": l2,
            "l2_form": None if l2_form is None else l2_form.value, "l2_bias": l2_bias}


def _note_without_penalty(l2_form: L2Form | None, l2_bias: bool | None, convention: Any) -> None:
    """A note where --l2-form or --l2-bias is given for a loss without a penalty (no --l2, no loss: l2)."""
    if (l2_form is not None or l2_bias is not None) and not convention.penalised:
        named = [name for name, value in (("--l2-form", l2_form), ("--l2-bias", l2_bias)) if value is not None]
        verb = "shape" if len(named) > 1 else "shapes"
        _say(f"nodeclf: note: {' and '.join(named)} {verb} an L2 penalty, and there is none: add --l2 λ "
             "(C for the sklearn form)")


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


def _json_text(data: dict | list) -> str:
    from .jsonout import dumps

    return dumps(data)


def _stdout_console() -> Any:
    """A Rich console on stdout that lets a closed pipe reach :class:`_Group` (Rich's
    own handling exits with status 1, which here means "check found mistakes")."""
    from rich.console import Console

    class StdoutConsole(Console):
        def on_broken_pipe(self) -> None:
            self.quiet = True
            raise BrokenPipeError

    return StdoutConsole()


def _emit(content: Any, output: Any = None) -> Path | None:
    """Print ``content`` (text, a :class:`jsonout.Document` written a piece at a time,
    or Rich renderables) on stdout, or publish it to ``output`` (an
    :class:`output.Target`) and return where the file went."""
    from .output import publish, write_stdout, write_text

    if output is None:
        if isinstance(content, str):
            write_stdout(lambda: write_text(content))
        elif callable(content):  # a jsonout.Document: its pieces
            write_stdout(lambda: [write_text(piece) for piece in content()])
        else:
            console = _stdout_console()
            write_stdout(lambda: [console.print(renderable, crop=False) for renderable in content])
        return None
    if not isinstance(content, str) and not callable(content):
        import io

        from rich.console import Console

        buffer = io.StringIO()
        console = Console(file=buffer, width=100, color_system=None, force_terminal=False)
        for renderable in content:
            console.print(renderable)
        content = buffer.getvalue()
    return _wrote(publish(output, content), "wrote {}")


def _wrote(written: Any, saying: str) -> Path:
    """Say where a file went (``saying``: "wrote the history to {}"), and why it went
    elsewhere than asked where it did; returns the path."""
    if written.instead is None:
        _say(f"nodeclf: {saying.format(written.path)}")
    else:
        _say(f"nodeclf: warning: {written.instead}; {saying.format(written.path)} instead")
    return written.path


def _file_name(text: str) -> Path:
    """An output option's value: a file name. One ending in a slash names a directory
    (``Path`` would drop the slash)."""
    if text.endswith(("/", os.sep)):
        raise typer.BadParameter("ends in a slash, so it names a directory; give a file name")
    return Path(text)


OutputOpt = typer.Option(
    None, "--output", "-o", parser=_file_name, help="Write to this file (atomically) instead of the terminal."
)
ForceOpt = typer.Option(False, "--force", help="Allow --output to overwrite an existing file.")


class StepOptimizer(str, enum.Enum):
    sgd = "sgd"
    momentum = "momentum"
    nesterov = "nesterov"
    adam = "adam"
    adamw = "adamw"


# the optimiser's options of step, check and generate (each overrides the problem's optimizer: key)
OptimizerOpt = typer.Option(
    None, "--optimizer", help="sgd, momentum, nesterov, adam or adamw, as torch.optim: its state and update "
    "[default: the problem's optimizer:, else sgd].",
)
MomentumOpt = typer.Option(None, "--momentum", help="μ of momentum, nesterov [default: 0.9].")
DampeningOpt = typer.Option(None, "--dampening", help="τ of momentum [default: 0].")
Beta1Opt = typer.Option(None, "--beta1", help="Adam's β1 [default: 0.9].")
Beta2Opt = typer.Option(None, "--beta2", help="Adam's β2 [default: 0.999].")
EpsOpt = typer.Option(None, "--eps", help="Adam's ε [default: 1e-08].")
WeightDecayOpt = typer.Option(
    None, "--weight-decay", help="AdamW's decoupled λ [default: 0.01] (else use --l2-form weight-decay)."
)
StateOpt = typer.Option(
    None, "--state", help="The optimiser's state before this step (JSON from --save-state) [default: the problem's "
    "optimizer: state, else zero]."
)


def _optimiser_options(optimizer: StepOptimizer | None, momentum: float | None, dampening: float | None,
                       beta1: float | None, beta2: float | None, eps: float | None, weight_decay: float | None,
                       state: Path | None = None) -> dict[str, Any]:
    """The optimiser's options as problem.load_optimiser takes them (None: not given)."""
    return {"name": optimizer.value if optimizer is not None else None, "momentum": momentum, "dampening": dampening,
            "beta1": beta1, "beta2": beta2, "eps": eps, "weight_decay": weight_decay, "state": state}


@app.command(short_help="One gradient step, every number shown.")
def step(
    problem: Optional[Path] = ProblemArg,
    embeddings: Optional[Path] = EmbeddingsOpt,
    labels: Optional[Path] = LabelsOpt,
    weights: Optional[Path] = WeightsOpt,
    lr: Optional[float] = LrOpt,
    edges: Optional[Path] = EdgesOpt,
    norm: Optional[Norm] = NormOpt,
    no_self_loops: bool = SelfLoopsOpt,
    hops: Optional[int] = HopsOpt,
    reduction: Reduction = ReductionOpt,
    class_weights: Optional[str] = ClassWeightsOpt,
    label_smoothing: Optional[float] = LabelSmoothingOpt,
    l2: Optional[float] = L2Opt,
    l2_form: Optional[L2Form] = L2FormOpt,
    l2_bias: Optional[bool] = L2BiasOpt,
    decimals: Optional[int] = DecimalsOpt,
    sig_figs: Optional[int] = SigFigsOpt,
    rounding: Rounding = RoundingOpt,
    carry: CarryMode = typer.Option(
        CarryMode.exact,
        "--carry",
        help="exact: full precision throughout; rounded: each step from the rounded values "
        "of the step before, as by hand.",
    ),
    explain: bool = typer.Option(
        False, "--explain", help="Write the formulas with the numbers substituted."
    ),
    node: Optional[str] = typer.Option(None, "--node", help="Node to explain [default: the first]."),
    class_name: Optional[str] = typer.Option(
        None, "--class", help="Class to explain [default: the first]."
    ),
    feature: Optional[int] = typer.Option(
        None, "--feature", help="Feature j of the weight w_c[j] to explain [default: 0]."
    ),
    show_nodes: int = typer.Option(
        40, "--show-nodes", min=0, help="Nodes shown in each per-node table (0: all); sums are over all."
    ),
    output_format: Optional[StepFormat] = typer.Option(
        None,
        "--format",
        help="table, json, markdown or latex [default: as --output's suffix says (.json, .md, .tex), else table].",
    ),
    output: Optional[Path] = OutputOpt,
    force: bool = ForceOpt,
    optimizer: Optional[StepOptimizer] = OptimizerOpt,
    momentum: Optional[float] = MomentumOpt,
    dampening: Optional[float] = DampeningOpt,
    beta1: Optional[float] = Beta1Opt,
    beta2: Optional[float] = Beta2Opt,
    eps: Optional[float] = EpsOpt,
    weight_decay: Optional[float] = WeightDecayOpt,
    state: Optional[Path] = StateOpt,
    save_state: Optional[Path] = typer.Option(
        None, "--save-state", parser=_file_name, help="Write the optimiser's state after this step (JSON)."
    ),
    save_weights: Optional[Path] = typer.Option(
        None, "--save-weights", parser=_file_name,
        help="Write the step's new weights W_new, b_new for the next step's --weights: CSV (.csv) or YAML (.yaml).",
    ),
) -> None:
    """One gradient step, every number shown: logits, softmax, loss, gradients, update.

    Example: nodeclf step data/example.yaml --carry rounded --explain --node 2
    """
    from . import handwork
    from .output import check_outputs
    from .problem import load_problem

    _precision(decimals, sig_figs, rounding)  # refuses both options before any work
    output_format = output_format or _format_of(output)
    _check_weights_suffix("--save-weights", save_weights)
    [target, state_target, weights_target] = check_outputs(
        force, ("--output", output), ("--save-state", save_state), ("--save-weights", save_weights),
        inputs=(problem, embeddings, labels, weights, edges, state),
    )
    if not explain and (node is not None or class_name is not None or feature is not None):
        raise typer.BadParameter("--node, --class and --feature choose what --explain writes; add --explain")
    loaded = load_problem(
        problem, embeddings=embeddings, labels=labels, weights=weights, learning_rate=lr,
        require=("weights", "learning_rate"), edges=edges, propagation=_propagation(norm, no_self_loops, hops),
        loss=_loss_options(class_weights, label_smoothing, l2, l2_form, l2_bias),
        optimizer=_optimiser_options(optimizer, momentum, dampening, beta1, beta2, eps, weight_decay, state),
    )
    if loaded.split is not None:
        print("nodeclf: note: the labels' split column is ignored: step works on every node", file=sys.stderr)
    _note_without_penalty(l2_form, l2_bias, loaded.convention)
    explain_at = None
    if explain:
        explain_at = handwork.ExplainAt(
            handwork.find_node(loaded, node), handwork.find_class(loaded, class_name),
            handwork.find_feature(loaded, feature),
            handwork.LATEX if output_format is StepFormat.latex else handwork.TEXT, show_nodes or None,
        )
    from .optim import ADAM_FAMILY

    requirement = _requirement(decimals, sig_figs, rounding, loaded.requirement)
    if carry is CarryMode.rounded and loaded.optimiser_name in ADAM_FAMILY and requirement.values.decimals:
        raise NodeclfError(f"--carry rounded at {requirement.values.decimals} decimals rounds "
                           f"{loaded.optimiser_name}'s second moment v (about (1 − β2) g², near 0.00001) to 0, "
                           "and the update α m̂ / (√v̂ + ε) then blows up: carry at significant figures "
                           "(--sig-figs 3, or precision: {sig_figs: 3} in the problem)")
    worked = handwork.work_step(
        loaded, requirement, reduction.value, carry is CarryMode.rounded, explain_at,
    )
    if explain_at is not None and loaded.optimiser_name != "sgd":
        from dataclasses import replace

        worked = replace(worked, explanation=_explain_optimiser(worked, explain_at))
    _emit(_step_report(worked, show_nodes, output_format), target)
    if state_target is not None:
        from .jsonout import dumps
        from .optimstep import state_json
        from .output import publish

        state_after = state_json(loaded.optimiser_name, worked.result.state)
        _wrote(publish(state_target, dumps(state_after)), "wrote the optimiser's state to {}")
    if weights_target is not None:
        _write_weights(weights_target, worked.problem.classes, worked.result.W_new, worked.result.b_new,
                       "wrote the new weights to {}")


def _check_weights_suffix(option: str, path: Path | None) -> None:
    """A weights file is written as --weights reads it: CSV (.csv) or YAML (.yaml, .yml)."""
    if path is None:
        return
    from .render_train import WEIGHTS_SUFFIXES  # (only when asked: it imports the trainer)

    if path.suffix.lower() not in WEIGHTS_SUFFIXES:
        raise NodeclfError(f"{option} writes the weights as --weights reads them: name the file .csv or .yaml", path)


def _write_weights(target: Any, classes: Any, W: Any, b: Any, saying: str) -> None:
    """Publish W and b to ``target`` in the format its suffix names (:data:`render_train.WEIGHTS_SUFFIXES`)."""
    from .output import publish
    from .render_train import WEIGHTS_SUFFIXES

    _wrote(publish(target, WEIGHTS_SUFFIXES[target.path.suffix.lower()](classes, W, b)), saying)


def _explain_optimiser(worked: Any, explain_at: Any) -> Any:
    """The step's explanation with the optimiser's update of w_c[j] and b_c (:mod:`explain_optim`) in place
    of plain SGD's, from the step's numbers as carried."""
    from .explain_optim import StepNumbers, write_update
    from .handwork import Explanation
    from .optimstep import BUFFERS

    problem, result, at = worked.problem, worked.result, explain_at
    optimiser = problem.optimiser
    keys = (*BUFFERS[optimiser.name], *(("m_hat", "v_hat") if "m" in BUFFERS[optimiser.name] else ()), "update")
    numbers = StepNumbers(
        optimiser.state.t + 1, (problem.W, problem.b), (result.grad_W, result.grad_b),
        {key: getattr(optimiser.state, key) for key in BUFFERS[optimiser.name]},
        {key: (getattr(result, f"{key}_W"), getattr(result, f"{key}_b")) for key in keys}, (result.W_new, result.b_new),
    )
    update = write_update(optimiser.settings, numbers, problem.learning_rate, at.cls, at.feature,
                          problem.classes[at.cls], worked.requirement.values, at.notation)
    groups = [group for group in worked.explanation.groups if group[0] != "Update"] + update.groups
    return Explanation(worked.explanation.title, groups)






def _requirement(decimals: int | None, sig_figs: int | None, rounding: Rounding, required: Any) -> Any:
    """The precision step shows and carries: --decimals or --sig-figs (the losses 2
    more), else the precision the problem requires, else 2 decimals (the losses 4)."""
    from dataclasses import replace

    from .rounding import Requirement

    if decimals is None and sig_figs is None and required is not None:
        return Requirement(replace(required.values, rounding=rounding.value),
                           replace(required.losses, rounding=rounding.value))
    precision = _precision(decimals, sig_figs, rounding)
    return Requirement.from_values(precision)


def _step_report(worked: Any, show_nodes: int, output_format: StepFormat) -> Any:
    """The step in the chosen format: JSON text, Rich renderables, or a Markdown or
    LaTeX document. With carried rounding, values that it changes are marked. With an
    optimiser other than plain SGD, its tables take the place of plain SGD's update."""
    from . import render
    from .render_optim import optimiser_json, optimiser_sections

    problem = worked.problem
    if output_format is StepFormat.json:
        data = render.step_json(problem, worked.result, worked.reduction)
        if problem.optimiser_name != "sgd":
            data["optimizer"] = optimiser_json(problem)
        data["carry"] = "rounded" if worked.carried else "exact"
        if worked.explanation is not None:
            data["explanation"] = {"title": worked.explanation.title, "groups": dict(worked.explanation.groups)}
        from .jsonout import Document

        return Document(data)
    precision, loss_precision = worked.requirement.values, worked.requirement.losses
    most = show_nodes or None  # 0: all nodes

    def sections_of(result: Any) -> list:
        found = render.step_sections(problem, result, precision, loss_precision, worked.reduction, most)
        if problem.optimiser_name != "sgd":  # in place of SGD's update
            found = found[:-1] + optimiser_sections(problem, result, precision)
        return found

    sections = sections_of(worked.result)
    if worked.carried:
        render.mark_carry_changes(sections, sections_of(worked.exact))
    title = _title(problem, precision, worked.carried)
    explanation = worked.explanation
    if output_format is StepFormat.table:
        return [render.heading(title), *sections, *([render.explanation(explanation)] if explanation else [])]
    from . import export

    write = export.to_markdown if output_format is StepFormat.markdown else export.to_latex
    return write(title, sections, explanation)


SUFFIX_FORMATS = {".json": StepFormat.json, ".md": StepFormat.markdown, ".markdown": StepFormat.markdown,
                  ".tex": StepFormat.latex}


def _format_of(output: Path | None) -> StepFormat:
    """The format an output file's suffix asks for (step.json: JSON), else tables."""
    return SUFFIX_FORMATS.get(output.suffix.lower(), StepFormat.table) if output is not None else StepFormat.table


def _name(problem: Any) -> str:
    """What a problem is called in titles: its file, a bundled example's description
    ("the karate club example"), or for a problem given only by options, its
    embeddings and labels files."""
    from .problem import OPTIONS_ONLY, example_name

    if (bundled := example_name(problem.source)) is not None:
        return bundled
    files = [problem.origins.get(kind) for kind in ("embeddings", "labels")]
    if problem.source == OPTIONS_ONLY and all(files):
        return " and ".join(path.name for path in files)
    return problem.source


def _title(problem: Any, precision: Any, carried: bool) -> str:
    how = "carrying rounded values" if carried else "exact, rounded only for display"
    return f"One gradient step on {_name(problem)} ({precision.describe()}; {how})"


class TableOrJson(str, enum.Enum):
    table = "table"
    json = "json"


@app.command(short_help="Grade hand-worked answers, giving credit carried forward.")
def check(
    answers: list[Path] = typer.Argument(
        ..., help="Answers file (YAML): problem: and answers:; or article: the answers the article printed. "
        "Several files, or folders of them, mark a class.", show_default=False,
    ),
    reduction: Reduction = ReductionOpt,
    class_weights: Optional[str] = ClassWeightsOpt,
    label_smoothing: Optional[float] = LabelSmoothingOpt,
    l2: Optional[float] = L2Opt,
    l2_form: Optional[L2Form] = L2FormOpt,
    l2_bias: Optional[bool] = L2BiasOpt,
    output_format: TableOrJson = typer.Option(TableOrJson.table, "--format", help="table or json."),
    manifest: Optional[Path] = typer.Option(
        None, "--manifest", help="The class's manifest (from generate --students): each sheet must answer its "
        "student's own problem."
    ),
    marks: Optional[Path] = typer.Option(
        None, "--marks", help="Marking scheme (YAML) [default: 1 point a number, full credit for following through]."
    ),
    gradebook: Optional[Path] = typer.Option(
        None, "--gradebook", readable=False, help="Write the class's scores as a CSV for Moodle's or Canvas's import."
    ),
    feedback: Optional[Path] = typer.Option(
        None, "--feedback", help="Write a page per student (Markdown and HTML) into this folder."
    ),
    force: bool = typer.Option(False, "--force", help="Allow --gradebook and --feedback to overwrite files."),
    optimizer: Optional[StepOptimizer] = OptimizerOpt,
    momentum: Optional[float] = MomentumOpt,
    dampening: Optional[float] = DampeningOpt,
    beta1: Optional[float] = Beta1Opt,
    beta2: Optional[float] = Beta2Opt,
    eps: Optional[float] = EpsOpt,
    weight_decay: Optional[float] = WeightDecayOpt,
    state: Optional[Path] = StateOpt,
) -> None:
    """Grade hand-worked answers: right, follows through, or wrong and why. Given
    several sheets (or a folder), mark them as a class: a row per student, the most
    frequent mistakes, scores, a gradebook and feedback pages.

    Exit status 0 when nothing is wrong, 1 when something is, 2 for bad input (for a
    class: when any sheet was bad input, the rest still marked).

    Example: nodeclf check article   (the article's own answers, mistakes and all);
    a class: nodeclf check sheets/ --manifest hw/manifest.csv --gradebook grades.csv;
    under a convention: nodeclf check sheet.yaml --l2 0.01 --l2-form half
    """
    class_options = (manifest, marks, gradebook, feedback)
    optimiser = _optimiser_options(optimizer, momentum, dampening, beta1, beta2, eps, weight_decay, state)
    loss = _loss_options(class_weights, label_smoothing, l2, l2_form, l2_bias)
    if len(answers) > 1 or answers[0].is_dir() or any(option is not None for option in class_options):
        status = _check_class(answers, reduction.value, output_format, *class_options, force, loss, optimiser)
        if status:
            raise typer.Exit(status)
        return
    from . import render_check
    from .answers import load_answers
    from .grading import Grader

    sheet = load_answers(answers[0], loss=loss, optimizer=optimiser)
    grader = Grader(sheet.problem, sheet.rows, reduction.value, sheet.requirement)
    grade = grader.grade()
    if output_format is TableOrJson.json:
        _emit(_json_text(render_check.check_json(grader, grade)))
    else:
        sections = render_check.check_sections(grader, grade)
        _emit([*sections, render_check.summary(grader, grade)])
    if grade.first_wrong is not None:
        raise typer.Exit(EXIT_MISTAKES)


def _check_class(
    sheets: list[Path], reduction: str, output_format: TableOrJson, manifest: Path | None, marks: Path | None,
    gradebook: Path | None, feedback: Path | None, force: bool, loss: dict | None = None,
    optimiser: dict | None = None,
) -> int:
    """check SHEETS...: mark the class, write the gradebook and pages, show the
    tables or JSON; the exit status (2 when a sheet was bad input, 1 mistakes, 0). ``loss`` and
    ``optimiser`` (the options given) override each problem's ``loss:`` and ``optimizer:``."""
    from . import render_class
    from .classmark import mark_class
    from .marks import Scheme, load_scheme
    from .roster import read_manifest

    inputs = (*sheets, manifest, marks, (optimiser or {}).get("state"))  # a state file is read, never written
    if gradebook is not None and feedback is not None and gradebook.resolve() == feedback.resolve():
        raise typer.BadParameter("--gradebook and --feedback name the same place: the gradebook is a file, "
                                 "--feedback a folder of pages")
    if gradebook is not None:
        from .output import check_outputs

        check_outputs(force, ("--gradebook", gradebook), inputs=inputs)
    scheme = load_scheme(marks) if marks is not None else Scheme()
    marked = mark_class(sheets, reduction, read_manifest(manifest) if manifest is not None else None, scheme, loss,
                        optimiser)
    _write_class_files(marked, gradebook, feedback, force, inputs)
    if output_format is TableOrJson.json:
        _emit(_json_text(render_class.class_json(marked)))
    else:
        _emit(render_class.class_report(marked))
    return marked.exit_status


def _write_class_files(
    marked: Any, gradebook: Path | None, feedback: Path | None, force: bool, inputs: tuple = ()
) -> None:
    """--gradebook and --feedback's pages, all refused before any is written."""
    from .files import write_files

    files: list = []
    if gradebook is not None:
        from .gradebook import gradebook_csv

        files.append((gradebook, gradebook_csv(marked)))
    if feedback is not None:
        from .feedback import feedback_files

        files += feedback_files(marked, feedback)
    written = write_files(files, force, inputs)
    if gradebook is not None:
        print(printable(f"nodeclf: wrote the gradebook to {written[0]}"), file=sys.stderr)
        if marked.id_column == "student":
            print("nodeclf: note: without --manifest, the gradebook names each student by the sheet's student: "
                  "or its file name, which the course's import must know", file=sys.stderr)
    if feedback is not None:
        print(f"nodeclf: wrote a feedback page per student into {feedback}", file=sys.stderr)


@app.command(short_help="Make a practice problem, and optionally its answer key.")
def generate(
    nodes: int = typer.Option(5, "--nodes", min=1, max=10000, help="Number of nodes."),
    dim: int = typer.Option(4, "--dim", min=1, max=1000, help="Embedding size."),
    classes: int = typer.Option(3, "--classes", min=2, max=1000, help="Number of classes."),
    seed: int = typer.Option(0, "--seed", min=0, help="Random seed: the same seed, the same problem."),
    decimals: Optional[int] = typer.Option(
        None, "--decimals", min=1, max=3,
        help="Decimals of the weights, and the precision answers must be worked at (the losses 2 more) "
        "[default: 2; with adam or adamw, answers at 3 significant figures].",
    ),
    edges: Optional[int] = typer.Option(
        None, "--edges", min=0, help="Also a connected random graph of this many edges (GCN's Â, one hop)."
    ),
    class_weights: Optional[str] = ClassWeightsOpt,
    label_smoothing: Optional[float] = LabelSmoothingOpt,
    l2: Optional[float] = L2Opt,
    l2_form: Optional[L2Form] = L2FormOpt,
    l2_bias: Optional[bool] = L2BiasOpt,
    output: Optional[Path] = typer.Option(
        None, "--output", "-o", parser=_file_name, help="Write the problem here [default: stdout]."
    ),
    answers: Optional[Path] = typer.Option(
        None, "--answers", parser=_file_name, help="Also write the answer key here, in the check format."
    ),
    force: bool = typer.Option(False, "--force", help="Allow overwriting existing files."),
    students: Optional[Path] = typer.Option(
        None, "--students", help="Roster (CSV): a problem and key per student, seeded from --seed and their id."
    ),
    id_column: Optional[str] = typer.Option(
        None, "--id-column", help="The roster's column that identifies students [default: detected]."
    ),
    out_dir: Optional[Path] = typer.Option(
        None, "--out-dir", help="With --students: the folder for problems/, keys/ and manifest.csv."
    ),
    moodle: Optional[Path] = typer.Option(
        None, "--moodle", readable=False, help="Also write the problem as a Moodle XML quiz (a cloze per quantity)."
    ),
    gift: Optional[Path] = typer.Option(
        None, "--gift", readable=False, help="Also write the problem as a GIFT quiz (a question per number)."
    ),
    optimizer: Optional[StepOptimizer] = OptimizerOpt,
    momentum: Optional[float] = MomentumOpt,
    dampening: Optional[float] = DampeningOpt,
    beta1: Optional[float] = Beta1Opt,
    beta2: Optional[float] = Beta2Opt,
    eps: Optional[float] = EpsOpt,
    weight_decay: Optional[float] = WeightDecayOpt,
) -> None:
    """Make a practice problem with nice numbers, and optionally its answer key; or,
    with --students, one per student of a roster and a manifest.

    Example: nodeclf generate --nodes 5 --dim 4 --classes 3 --seed 7 -o hw.yaml --answers key.yaml;
    a class: nodeclf generate --students roster.csv --seed 2026 --out-dir hw [--optimizer adam] [--l2 0.01]
    """
    from . import generate as gen
    from .conventions import PLAIN
    from .output import check_outputs, publish
    from .problem import load_loss

    if edges is not None and not nodes - 1 <= edges <= nodes * (nodes - 1) // 2:
        raise typer.BadParameter(
            f"--edges: a connected graph of {nodes} nodes has {nodes - 1} to {nodes * (nodes - 1) // 2} edges, "
            f"not {edges}"
        )
    from .optim import ADAM_FAMILY

    optimiser = _generated_optimiser(optimizer, momentum, dampening, beta1, beta2, eps, weight_decay)
    if decimals is not None and optimiser is not None and optimiser.name in ADAM_FAMILY:
        _say(f"nodeclf: note: {optimiser.name}'s answers are asked at 3 significant figures, not {decimals} "
             "decimals: its v, about (1 − β2) g² ≈ 0.00001, would be 0; the weights keep "
             f"{counted(decimals, 'decimal')}")
    decimals = 2 if decimals is None else decimals
    convention = load_loss(None, "command line", None, tuple(range(classes)),
                           _loss_options(class_weights, label_smoothing, l2, l2_form, l2_bias)) or PLAIN
    _note_without_penalty(l2_form, l2_bias, convention)
    if students is not None or out_dir is not None or id_column is not None:
        if moodle is not None or gift is not None:
            raise typer.BadParameter("--moodle and --gift make a quiz of one problem: leave out --students")
        _generate_class(students, id_column, out_dir, output, answers, force,
                        (nodes, dim, classes, seed, decimals, edges), convention, optimiser)
        return

    _check_quiz_suffixes(moodle, gift)
    target, key_target, moodle_target, gift_target = check_outputs(
        force, ("--output", output), ("--answers", answers), ("--moodle", moodle), ("--gift", gift)
    )
    for option, path in (("--output", output), ("--answers", answers)):
        if path is not None:
            if path.suffix.lower() not in ("", ".yaml", ".yml"):
                raise NodeclfError(f"{option} writes YAML: name the file .yaml or .yml", path)
    text = gen.problem_yaml(gen.with_optimiser(gen.generate(nodes, dim, classes, seed, decimals, edges), optimiser),
                            gen.command_line(nodes, dim, classes, seed, decimals, edges, convention)
                            + gen.optimiser_options(optimiser), convention)
    problem_file = _emit(text, target)  # first: the key refers to where it went
    if key_target is not None:
        if target is not None and target.kind != "file":
            problem_file = None  # a stream: the key holds the problem itself
        _wrote(publish(key_target, lambda key: gen.answer_key(text, problem_file, key)), "wrote the answer key to {}")
    if moodle is not None or gift is not None:
        from .lms import quiz_files

        quizzes = dict(quiz_files(text, moodle, gift))
        for path, quiz_target in ((moodle, moodle_target), (gift, gift_target)):
            if path is not None:
                _wrote(publish(quiz_target, quizzes[path]), "wrote the quiz to {}")


def _generated_optimiser(optimizer: StepOptimizer | None, *settings: float | None) -> Any:
    """generate's optimiser settings (None: none asked), each checked as step checks them."""
    from .problem import load_optimiser

    chosen = load_optimiser(None, "command line", None, None, None, _optimiser_options(optimizer, *settings))
    return None if chosen is None else chosen.settings


def _check_quiz_suffixes(moodle: Path | None, gift: Path | None) -> None:
    """--moodle writes .xml, --gift .txt or .gift."""
    for option, path, suffixes in (("--moodle", moodle, (".xml",)), ("--gift", gift, (".txt", ".gift"))):
        if path is not None and path.suffix.lower() not in suffixes:
            raise NodeclfError(f"{option} writes {' or '.join(suffixes)}: name the file so", path)


def _generate_class(
    students: Path | None, id_column: str | None, out_dir: Path | None, output: Path | None,
    answers: Path | None, force: bool, settings: tuple[int, int, int, int, int, int | None], convention: Any,
    optimiser: Any = None,
) -> None:
    """generate --students: every student's problem and key, and the manifest
    (``settings``: nodes, dim, classes, course seed, decimals, edges; ``convention``: the loss's;
    ``optimiser``: the optimiser's settings, None for plain SGD)."""
    from .files import write_files
    from .generate import class_set
    from .roster import read_roster

    if students is None or out_dir is None:
        raise typer.BadParameter("--students ROSTER.csv and --out-dir DIR go together")
    if output is not None or answers is not None:
        raise typer.BadParameter("--students writes into --out-dir: leave out --output and --answers")
    roster = read_roster(students, id_column)
    nodes, dim, classes, course_seed, decimals, edges = settings
    write_files(class_set(roster, course_seed, out_dir, nodes, dim, classes, decimals, edges, convention, optimiser),
                force, (students,))
    print(f"nodeclf: wrote {counted(len(roster.students), 'problem')} and their keys into {out_dir}, "
          f"listed in {out_dir / 'manifest.csv'}", file=sys.stderr)


class Init(str, enum.Enum):
    file = "file"
    zeros = "zeros"
    random = "random"


class DType(str, enum.Enum):
    float64 = "float64"
    float32 = "float32"


@app.command(short_help="Train for many epochs, watching loss and accuracy.")
def train(
    problem: Optional[Path] = ProblemArg,
    embeddings: Optional[Path] = EmbeddingsOpt,
    labels: Optional[Path] = typer.Option(
        None, "--labels", help="Labels file (CSV id,label[,split] or .npy), overrides the problem's."
    ),
    weights: Optional[Path] = WeightsOpt,
    lr: Optional[float] = typer.Option(
        None, "--lr", help="Learning rate [default: the problem's, else 0.1]."
    ),
    edges: Optional[Path] = EdgesOpt,
    norm: Optional[Norm] = NormOpt,
    no_self_loops: bool = SelfLoopsOpt,
    hops: Optional[int] = HopsOpt,
    epochs: int = typer.Option(50, "--epochs", min=1, help="Number of epochs."),
    init: Optional[Init] = typer.Option(
        None, "--init", help="Initial weights: the problem's (file; the default where it has them), "
        "zeros, or small random ones from --seed."
    ),
    seed: int = typer.Option(0, "--seed", min=0, help="Seed of --init random."),
    reduction: Reduction = ReductionOpt,
    class_weights: Optional[str] = ClassWeightsOpt,
    label_smoothing: Optional[float] = LabelSmoothingOpt,
    l2: Optional[float] = L2Opt,
    l2_form: Optional[L2Form] = L2FormOpt,
    l2_bias: Optional[bool] = L2BiasOpt,
    dtype: DType = typer.Option(DType.float64, "--dtype", help="float64, or float32 for big data."),
    optimizer: Optional[StepOptimizer] = typer.Option(
        None, "--optimizer", help="sgd, momentum, nesterov, adam or adamw, as torch.optim's SGD, Adam, AdamW "
        "[default: the problem's optimizer: (going on from its state:), else sgd]."
    ),
    momentum: Optional[float] = typer.Option(
        None, "--momentum", help="μ of momentum and nesterov (sgd --momentum μ is momentum), at least 0 and below 1 "
        "[default: the problem's, else 0.9]."
    ),
    dampening: Optional[float] = typer.Option(
        None, "--dampening", help="τ of momentum, at least 0 and below 1 [default: the problem's, else 0]."
    ),
    weight_decay: Optional[float] = typer.Option(
        None, "--weight-decay", help="λθ added to the gradient of W and b (sgd, momentum, nesterov, adam), or "
        "adamw's decoupled decay [default: the problem's optimizer:, else 0; adamw 0.01, as PyTorch]."
    ),
    beta1: Optional[float] = typer.Option(None, "--beta1", help="Adam's β1, at least 0 and below 1 [default: 0.9]."),
    beta2: Optional[float] = typer.Option(None, "--beta2", help="Adam's β2, at least 0 and below 1 [default: 0.999]."),
    eps: Optional[float] = typer.Option(None, "--eps", help="Adam's ε, at least 0 [default: 1e-08]."),
    threads: Optional[int] = typer.Option(
        None,
        "--threads",
        min=1,
        help="Cores to train on, at most those nodeclf may run on (more is lowered, with a note) "
        "[default: each core nodeclf may run on (within taskset and CPU limits), at most 8].",
    ),
    every: Optional[int] = typer.Option(
        None, "--every", min=1, help="Show every K-th epoch [default: all up to 30, else about 20 rows]."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    no_plot: bool = typer.Option(False, "--no-plot", help="No loss curve in the terminal."),
    plot: Optional[Path] = typer.Option(
        None, "--plot", parser=_file_name, help="Also draw the curves into an image (PNG, SVG, PDF)."
    ),
    save: Optional[Path] = typer.Option(
        None, "--save", parser=_file_name,
        help="Write the trained weights: a problem file (.yaml) or the weights alone (.csv).",
    ),
    save_state: Optional[Path] = typer.Option(
        None, "--save-state", parser=_file_name,
        help="Write the optimiser's state after the last epoch (JSON), for step --state to take the next step.",
    ),
    history: Optional[Path] = typer.Option(
        None, "--history", parser=_file_name, help="Write each epoch's figures: CSV, or JSON for a .json file."
    ),
    force: bool = typer.Option(False, "--force", help="Allow --save/--save-state/--history/--plot to overwrite files."),
    output_format: TableOrJson = typer.Option(TableOrJson.table, "--format", help="table or json."),
) -> None:
    """Train the layer by full-batch gradient descent, with the same maths as step.

    Ctrl-C (or SIGTERM) stops after the current epoch, keeps what was trained for --save, exits 130 (143).

    Example: nodeclf train karate --epochs 100 --save trained.yaml
    """
    from .output import check_outputs
    from .problem import check_dtype, load_problem, shown_source
    from .train import Settings, Trainer, split_groups

    for option, value, below_one in (("--momentum", momentum, True), ("--weight-decay", weight_decay, False),
                                     ("--beta1", beta1, True), ("--beta2", beta2, True), ("--eps", eps, False)):
        if value is not None:
            _check_range(option, value, "at least 0 and below 1" if below_one else "at least 0", below_one)
    targets = check_outputs(force, ("--save", save), ("--history", history), ("--plot", plot),
                            ("--save-state", save_state), inputs=(problem, embeddings, labels, weights, edges))
    if save is not None and save.suffix.lower() not in (".yaml", ".yml", ".csv"):
        raise NodeclfError("--save writes a problem file (.yaml) or the weights alone (.csv)", save)
    if plot is not None:
        if plot.suffix.lower() not in (".png", ".svg", ".pdf"):
            raise NodeclfError("the image must be .png, .svg or .pdf", plot)
        from .render_train import check_plotting

        check_plotting()
    loaded = load_problem(
        problem, embeddings=embeddings, labels=labels, weights=weights, learning_rate=lr,
        allow_unlabelled=True, edges=edges, propagation=_propagation(norm, no_self_loops, hops),
        loss=_loss_options(class_weights, label_smoothing, l2, l2_form, l2_bias),
    )
    W0, b0 = _initial_weights(loaded, init, seed)
    chosen, state = _train_optimiser(loaded.optimiser, optimizer, momentum, dampening, weight_decay,
                                     {"beta1": beta1, "beta2": beta2, "eps": eps})
    if state is not None and init is not None and init is not Init.file:  # a state needs the problem's weights
        _say(f"nodeclf: note: --init {init.value} starts afresh: the optimiser starts from zero, "
             f"not from the problem's optimizer: state (t = {state.t})")
        state = None
    _refuse_double_decay(chosen["optimizer"], chosen["weight_decay"], loaded.convention)
    _note_without_penalty(l2_form, l2_bias, loaded.convention)
    check_dtype(loaded, W0, b0, dtype.value)
    groups = split_groups(loaded.split, loaded.y)
    if groups is not None and not (groups == 0).any():
        raise NodeclfError("the split has no train nodes", loaded.origins.get("labels") or shown_source(loaded.source))
    settings = Settings(
        epochs=epochs, learning_rate=loaded.learning_rate if loaded.learning_rate is not None else 0.1,
        reduction=reduction.value, dtype=dtype.value, threads=_usable_threads(threads), convention=loaded.convention,
        **chosen,
    )
    features = loaded.Z
    if loaded.graph is not None:  # Ẑ = Â^K Z once, then the layer trains on it as on Z
        from .graph import propagated_embeddings

        features = propagated_embeddings(loaded.graph, loaded.Z, dtype.value)
    trainer = Trainer(features, loaded.y, W0, b0, settings, groups, state)
    records, stopped_by = _run(trainer, show_progress=not quiet and sys.stderr.isatty())

    _write_train_files(loaded, trainer, records, *targets)
    if output_format is TableOrJson.json:
        from . import render_train

        data = render_train.train_json(
            records, loaded, trainer.W, trainer.b, settings.learning_rate, trainer.predict(), groups
        )
        _emit(_json_text(data))
    else:
        _emit(_train_report(loaded, trainer, records, every, not no_plot))
    if stopped_by is not None:
        what, status = _STOPS[stopped_by]
        _say(f"nodeclf: {what} after epoch {len(records)}")
        raise typer.Exit(status)


# the signals that stop training after the current epoch: what the message says, the exit status
_STOPS = {signal.SIGINT: ("interrupted", EXIT_INTERRUPTED), signal.SIGTERM: ("terminated", EXIT_TERMINATED)}


def _usable_threads(threads: int | None) -> int | None:
    """--threads, at most the cores nodeclf may run on (more only take turns and
    allocate more), with a note when that lowers it."""
    from .train import usable_cores

    if threads is None:
        return None
    cores = usable_cores()
    if threads > cores:
        _say(f"nodeclf: note: --threads {threads} is more than the {counted(cores, 'core')} nodeclf may run on; "
             f"using {cores}")
        return cores
    return threads


def _initial_weights(loaded: Any, init: Init | None, seed: int) -> tuple:
    """W0 (C, d) and b0 (C,): the problem's (the default where it has them), zeros, or
    small normal weights (σ = 0.01) from ``seed`` with zero biases."""
    import numpy as np

    from .problem import shown_source

    C, d = loaded.n_classes, loaded.Z.shape[1]
    mode = init or (Init.file if loaded.W is not None else Init.random)
    if mode is Init.file:
        if loaded.W is None:
            raise NodeclfError(
                "the problem has no weights: use --init random or --init zeros", shown_source(loaded.source)
            )
        return loaded.W, loaded.b
    if mode is Init.zeros:
        return np.zeros((C, d)), np.zeros(C)
    return np.random.default_rng(seed).normal(0.0, 0.01, size=(C, d)), np.zeros(C)


def _train_optimiser(
    key: Any, optimizer: StepOptimizer | None, momentum: float | None, dampening: float | None,
    weight_decay: float | None, adam: dict,
) -> tuple[dict, Any]:
    """Train's optimiser: the problem's ``optimizer:`` key (an optimstep.Optimiser; None: none) with the options
    given overriding it, as step's options do. ``--optimizer`` naming another optimiser than the key's takes its
    place (its settings and state with it): PyTorch's defaults (μ 0.9, τ 0, β1 0.9, β2 0.999, ε 1e-8, adamw's
    λ 0.01) from a state of zero; ``sgd --momentum μ`` is ``momentum``. The key's own optimiser keeps its
    settings, each option given replacing one, and goes on from its ``state:``. ``--weight-decay`` with any
    optimiser but adamw is train's λθ added to the gradient (not a setting of the key).
    Returns Settings' keywords and the state to start from (None: zero)."""
    from .optim import ADAM_FAMILY
    from .optimstep import OptimiserSettings

    key_name = None if key is None else key.name
    name = optimizer.value if optimizer is not None else key_name or "sgd"
    if name == "sgd" and momentum:
        name = "momentum"
    own = name == key_name
    settings = key.settings if own else OptimiserSettings(name=name, weight_decay=0.01 if name == "adamw" else 0.0)
    whose = "" if optimizer is not None or key_name is None else " (the problem's optimizer:)"
    given = {option: value for option, value in adam.items() if value is not None}
    if given and name not in ADAM_FAMILY:
        raise NodeclfError(f"applies to --optimizer adam or adamw, not {name}{whose}", f"--{next(iter(given))}")
    if momentum and name in ADAM_FAMILY:
        raise NodeclfError(f"applies to --optimizer momentum or nesterov, not {name}{whose}; Adam's momentum is "
                           "--beta1", "--momentum")
    if dampening is not None and name != "momentum":
        raise NodeclfError(f"applies to --optimizer momentum, not {name}{whose}", "--dampening")
    if dampening is not None:
        _check_range("--dampening", dampening, "at least 0 and below 1", below_one=True)
    sgd_family = name not in ADAM_FAMILY
    chosen = {
        "optimizer": "sgd" if sgd_family else name,
        "momentum": (momentum if momentum is not None else settings.momentum) if name != "sgd" and sgd_family else 0.0,
        "dampening": (dampening if dampening is not None else settings.dampening) if name == "momentum" else 0.0,
        "nesterov": name == "nesterov",
        "weight_decay": weight_decay if weight_decay is not None else settings.weight_decay if name == "adamw" else 0.0,
        **{option: given.get(option, getattr(settings, option)) for option in ("beta1", "beta2", "eps")},
    }
    return chosen, key.state if own and key.state.t > 0 else None


def _trained_optimiser(trainer: Any) -> dict:
    """Train's optimiser as step names it (sgd with momentum is step's ``momentum``): ``name``, ``settings``
    as step's options give them, and ``state``, the state after the epochs taken as --save-state writes it."""
    from .optimstep import BUFFERS, OptimiserSettings, state_json

    s, state = trainer.settings, trainer.optimizer_state
    name = ("nesterov" if s.nesterov else "momentum") if s.optimizer == "sgd" and s.momentum else s.optimizer
    settings = OptimiserSettings(name=name, momentum=s.momentum, dampening=s.dampening, beta1=s.beta1, beta2=s.beta2,
                                 eps=s.eps, weight_decay=s.weight_decay if name == "adamw" else 0.0)
    started = state.t > 0 or not BUFFERS.get(name)  # before the first epoch there are no buffers yet
    saved = state_json(name, state) if started else {"optimizer": name, "t": 0}
    return {"name": name, "settings": settings.as_dict(), "state": saved}


def _with_trained_decay(loaded: Any, s: Any) -> Any:
    """The problem as a saved file holds it: train's ``--weight-decay λ`` with any optimiser but adamw
    (λθ added to the gradient of W and b) is the loss's weight decay, ``l2: λ, l2_form: weight-decay,
    l2_bias: true``, the same numbers, so that going on from the file decays as the run did. A loss that
    has an L2 penalty of its own cannot hold both: the file keeps the loss's, and a note says so."""
    from dataclasses import replace

    if not s.weight_decay or s.optimizer == "adamw":
        return loaded
    if loaded.convention.penalised:
        _say(f"nodeclf: note: the saved problem keeps the loss's L2 penalty; train's --weight-decay "
             f"{s.weight_decay:g} is not in it: give it again to go on training")
        return loaded
    decay = replace(loaded.convention, l2=s.weight_decay, l2_form="weight-decay", l2_bias=True)
    return replace(loaded, loss=decay)


def _write_train_files(
    loaded: Any, trainer: Any, records: list, save: Any, history: Any, plot: Any, save_state: Any = None
) -> None:
    """--save (a problem file, with the optimiser's state where it has one, or a weights CSV), --history,
    --plot and --save-state: targets checked before training, each published so that neither a file that
    appeared meanwhile nor the training is lost (:func:`output.publish`)."""
    from dataclasses import replace

    from . import render_train
    from .output import publish

    s = trainer.settings
    optimizer = _trained_optimiser(trainer)
    if save_state is not None:
        _wrote(publish(save_state, _json_text(optimizer["state"])), "wrote the optimiser's state to {}")
    if save is not None:
        if save.path.suffix.lower() == ".csv":
            saved: Any = render_train.weights_csv(loaded.classes, trainer.W, trainer.b)
        else:
            note = (
                f"Trained by nodeclf train on {_name(loaded)}: {counted(len(records), 'epoch')}, lr {s.learning_rate}"
                + _optimiser_extras(s)
                + (
                    f"\nepoch {records[-1].epoch}, before its update: loss {records[-1].loss:.6g}, "
                    f"accuracy {records[-1].accuracy:.4g}"
                    if records else ""
                )
            )

            kept = _with_trained_decay(loaded, s)

            def saved(where: Path) -> str:  # its data files are named relative to where it is written
                return render_train.trained_problem_yaml(kept, trainer.W, trainer.b, s.learning_rate, where, note,
                                                         None if optimizer["name"] == "sgd" else optimizer)

        try:
            _wrote(publish(save, saved), "wrote the trained weights to {}")
        except Exception as exc:  # the problem file could not be made, a fault of nodeclf's: keep the weights
            if not callable(saved) or save.kind != "file" or isinstance(exc, NodeclfError):
                raise
            alone = replace(save, path=save.path.with_suffix(".csv"), file=save.file.with_suffix(".csv"), force=False)
            where = publish(alone, render_train.weights_csv(loaded.classes, trainer.W, trainer.b)).path
            _say(f"nodeclf: warning: could not make the problem file {save.path} ({type(exc).__name__}: "
                 f"{_short(str(exc))}); wrote the trained weights alone to {where} instead (please report it)")
    if history is not None:
        if history.path.suffix.lower() == ".json":
            written = _json_text(render_train.history_records(records))
        else:
            written = render_train.history_csv(records)
        _wrote(publish(history, written), "wrote the history to {}")
    if plot is not None and records:
        image = render_train.loss_plot_image(records, plot.path.suffix.lower().lstrip("."))
        _wrote(publish(plot, image), "drew the curves into {}")


def _train_report(loaded: Any, trainer: Any, records: list, every: int | None, curve: bool) -> list:
    """The run as Rich renderables: title, history, loss curve, weights, accuracy."""
    from rich.console import Console
    from rich.text import Text

    from . import render, render_train
    from .rounding import Precision

    console = Console()
    content: list = [render.heading(_train_title(loaded, trainer))]
    if records:
        content.append(render_train.history_section(records, every))
        if curve and len(records) > 1 and console.encoding.lower().startswith("utf"):  # drawn in Unicode
            text = render_train.loss_plot_text(records, console.width, console.is_terminal and not console.no_color)
            content.append(Text.from_ansi(text + "\n"))
    content.append(render_train.weights_section(loaded, trainer.W, trainer.b, Precision(decimals=4)))
    content += render_train.accuracy_sections(loaded, trainer.predict(), trainer.groups)
    return content


def _check_range(option: str, value: float, expected: str, below_one: bool = False) -> None:
    """A training option must be a finite number at least 0 (and below 1 where asked)."""
    import math

    if not (math.isfinite(value) and value >= 0 and (value < 1 or not below_one)):
        raise NodeclfError(f"must be a finite number {expected}, found {value}", option)


def _refuse_double_decay(optimizer: str, weight_decay: float, convention: Any) -> None:
    """--weight-decay with sgd or adam adds λθ to g, as the loss convention's weight-decay form does: both would
    decay twice. (With adamw, --weight-decay is the decoupled decay, apart from g: the two differ.)"""
    if weight_decay and optimizer != "adamw" and convention.penalised and convention.l2_form == "weight-decay":
        raise NodeclfError(f"with --optimizer {optimizer}, --weight-decay and the loss's l2_form weight-decay "
                           "both add λθ to the gradient, so θ would decay twice: give one of them", "--weight-decay")


def _diverged(record: Any, settings: Any) -> NodeclfError:
    """The error for a loss that is no longer finite, naming what made the steps too large."""
    settings_named = [("momentum", settings.momentum), ("weight decay", settings.weight_decay)]
    named = [(name, value) for name, value in settings_named if value]
    if named:
        cause = (
            f"the learning rate {settings.learning_rate} with {' and '.join(f'{n} {v}' for n, v in named)} takes "
            f"steps too large for this problem, try a smaller one (or less {' or '.join(n for n, _ in named)})"
        )
    else:
        cause = f"the learning rate {settings.learning_rate} is too large for this problem, try a smaller one"
    return NodeclfError(f"training diverged: the loss is {record.loss} at epoch {record.epoch}; {cause}", "--lr")


def _run(trainer: Any, show_progress: bool) -> tuple[list, int | None]:
    """Train, with a progress bar on stderr. Ctrl-C (SIGINT) or SIGTERM stops after the
    current epoch (a second one at once): returns the epochs' records and the signal
    that stopped training (None when every epoch ran)."""
    import numpy as np

    stop: dict[str, int | None] = {"signal": None}
    previous: dict[int, Any] = {}

    def ask_to_stop(signum: int, frame: Any) -> None:
        stop["signal"] = stop["signal"] or signum
        for number, handler in previous.items():  # a second signal stops at once
            signal.signal(number, handler)

    for number in _STOPS:
        handler = signal.getsignal(number)
        if handler is signal.SIG_IGN:  # ignored by whoever started nodeclf (nohup, a supervisor): still ignored
            continue
        try:
            signal.signal(number, ask_to_stop)
        except ValueError:  # not the main thread: signals are not ours to handle
            continue
        previous[number] = signal.SIG_DFL if handler is None else handler
    records: list = []
    progress = None
    try:
        if show_progress:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            progress = Progress(
                TextColumn("epoch"), MofNCompleteColumn(), BarColumn(),
                TextColumn("loss {task.fields[loss]}  accuracy {task.fields[accuracy]}"),
                TimeRemainingColumn(), console=Console(stderr=True), transient=True,
            )
            progress.start()
            task = progress.add_task("train", total=trainer.settings.epochs, loss="…", accuracy="…")
        for record in trainer:
            if not np.isfinite(record.loss):
                raise _diverged(record, trainer.settings)
            records.append(record)
            if progress is not None:
                progress.update(task, advance=1, loss=f"{record.loss:.4f}", accuracy=f"{100 * record.accuracy:.1f}%")
            if stop["signal"] is not None:
                break
    finally:
        if progress is not None:
            progress.stop()
        for number, handler in previous.items():
            signal.signal(number, handler)
    return records, stop["signal"]


def _train_title(problem: Any, trainer: Any) -> str:
    s = trainer.settings
    nodes = counted(len(problem.node_ids), "node")
    if trainer.groups is not None:
        nodes += f" ({trainer.n_train} train, {trainer.n_val} val, {trainer.n_test} test)"
    graph = ""
    if problem.graph is not None:
        p = problem.graph.propagation
        graph = (f", {counted(len(problem.graph.source), 'edge')} (Ẑ = Â^{p.hops} Z, {p.norm}"
                 + ("" if p.self_loops else ", no self-loops") + ("" if not p.directed else ", directed") + ")")
    return (
        f"Training on {_name(problem)}: {nodes}, {counted(problem.Z.shape[1], 'feature')}, "
        f"{problem.n_classes} classes{graph}; lr {s.learning_rate}, {s.reduction} loss, {s.dtype}"
        f"{_optimiser_extras(s)}"
        + (f"; going on from the optimiser's state after {counted(trainer.steps_before, 'step')}"
           if trainer.steps_before else "")
    )


def _optimiser_extras(settings: Any) -> str:
    """``, momentum 0.9, weight decay 0.01``: the SGD settings that are not 0, and the loss's convention."""
    from .conventions import describe

    s = settings
    convention = describe(s.convention, s.reduction)
    adam = f", {s.optimizer} (β1 {s.beta1:g}, β2 {s.beta2:g}, ε {s.eps:g})" if s.optimizer != "sgd" else ""
    momentum = (f", momentum {s.momentum}" + (" (Nesterov)" if s.nesterov else "")
                + (f", dampening {s.dampening}" if s.dampening else "")) if s.momentum else ""
    return adam + momentum + (
        f", weight decay {s.weight_decay}" if s.weight_decay else ""
    ) + (f", {convention}" if convention else "")


def _terminate(signum: int, frame: Any) -> None:
    """SIGTERM: raise :class:`Terminated` where the work is, to stop it as Ctrl-C would."""
    raise Terminated


def main() -> None:
    """Entry point of the ``nodeclf`` console script: the faster BLAS kernels for this
    processor (before numpy loads; see :mod:`nodeclf_cli.blas`), standard streams safe to
    write to, SIGTERM handled, then the command; last, stdout flushed, so that an error
    there is one line too (exit status 2) and a closed pipe a quiet 141."""
    from .output import prepare_standard_streams, write_stdout

    choose_kernels()
    prepare_standard_streams()
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_IGN:
        signal.signal(signal.SIGTERM, _terminate)
    status: Any = 0
    try:
        app()
    except SystemExit as done:
        status = done.code
    except BaseException as exc:  # raised outside a command: while reading the options, or writing --help
        if isinstance(exc, OSError) and not isinstance(exc, BrokenPipeError):
            exc = NodeclfError(f"cannot write the output: {exc.strerror or exc}")
        status = _exit_status(exc)
        if status is None:
            raise
    try:
        if sys.stdout is not None:
            write_stdout(lambda: None)
    except BaseException as exc:
        status = _exit_status(exc) or status
    sys.exit(status)
