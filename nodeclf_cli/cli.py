"""The ``nodeclf`` command line: each command loads, computes, renders and prints.

This is the one place where :class:`NodeclfError` becomes a message on stderr and
exit status 2. Modules that only some commands need are imported inside them, so
``nodeclf step`` starts fast.
"""

from __future__ import annotations

import enum
import os
import sys
from pathlib import Path
from typing import Any, Optional

import typer
from typer.core import TyperGroup

try:  # Typer 0.26+ carries its own click, whose errors derive from the public TyperException
    from typer import TyperException as ClickError
except ImportError:  # pragma: no cover - older Typer on click
    from click import ClickException as ClickError

from .blas import choose_kernels
from .errors import EXIT_BAD_INPUT, EXIT_BROKEN_PIPE, EXIT_INTERRUPTED, EXIT_MISTAKES, NodeclfError, counted


class _Group(TyperGroup):
    """Turns bad input (a NodeclfError) and bad usage (an option's value) into one
    line on stderr and exit status 2; Ctrl-C into exit status 130; a closed output pipe
    into a quiet exit 141."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            # Whoever read stdout has gone (`nodeclf check a.yaml | head`): stop quietly
            # with the status of a process SIGPIPE ends, not 1 (mistakes found). Later
            # writes and the flush at exit go to /dev/null.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise typer.Exit(EXIT_BROKEN_PIPE) from None
        except NodeclfError as exc:
            print(f"nodeclf: error: {exc}", file=sys.stderr)
            raise typer.Exit(EXIT_BAD_INPUT) from None
        except KeyboardInterrupt:  # Ctrl-C outside training (which stops after an epoch)
            print("nodeclf: interrupted", file=sys.stderr)
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except ClickError as exc:
            if exc.exit_code != 2:  # click's usage errors (its UsageError, not public in Typer) exit with 2
                raise
            ctx = getattr(exc, "ctx", None)
            where = ctx.command_path if ctx is not None else "nodeclf"
            message = exc.format_message().replace("Value error, ", "")  # Typer's validator prefix
            print(f"nodeclf: error: {message} (see '{where} --help')", file=sys.stderr)
            raise typer.Exit(EXIT_BAD_INPUT) from None


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
    import json

    return json.dumps(data, indent=2, allow_nan=False) + "\n"


def _stdout_console() -> Any:
    """A Rich console on stdout that lets a closed pipe reach :class:`_Group` (Rich's
    own handling exits with status 1, which here means "check found mistakes")."""
    from rich.console import Console

    class StdoutConsole(Console):
        def on_broken_pipe(self) -> None:
            self.quiet = True
            raise BrokenPipeError

    return StdoutConsole()


def _emit(content: Any, output: Path | None, force: bool) -> None:
    """Print ``content`` (text or Rich renderables), or write it to ``output`` atomically."""
    if isinstance(content, str):
        if output is None:
            sys.stdout.write(content)
            return
        text = content
    else:
        from rich.console import Console

        if output is None:
            console = _stdout_console()
            for renderable in content:
                console.print(renderable)
            return
        import io

        buffer = io.StringIO()
        console = Console(file=buffer, width=100, color_system=None, force_terminal=False)
        for renderable in content:
            console.print(renderable)
        text = buffer.getvalue()
    from .output import write_atomic

    write_atomic(output, text, force)
    print(f"nodeclf: wrote {output}", file=sys.stderr)


OutputOpt = typer.Option(
    None, "--output", "-o", readable=False, help="Write to this file (atomically) instead of the terminal."
)
ForceOpt = typer.Option(False, "--force", help="Allow --output to overwrite an existing file.")


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
) -> None:
    """One gradient step, every number shown: logits, softmax, loss, gradients, update.

    Example: nodeclf step data/example.yaml --carry rounded --explain --node 2
    """
    from . import handwork
    from .problem import load_problem

    _precision(decimals, sig_figs, rounding)  # refuses both options before any work
    output_format = output_format or _format_of(output)
    if output is not None:
        from .output import check_writable

        check_writable(output, force)
    if not explain and (node is not None or class_name is not None or feature is not None):
        raise typer.BadParameter("--node, --class and --feature choose what --explain writes; add --explain")
    loaded = load_problem(
        problem, embeddings=embeddings, labels=labels, weights=weights, learning_rate=lr,
        require=("weights", "learning_rate"), edges=edges, propagation=_propagation(norm, no_self_loops, hops),
    )
    if loaded.split is not None:
        print("nodeclf: note: the labels' split column is ignored: step works on every node", file=sys.stderr)
    explain_at = None
    if explain:
        explain_at = handwork.ExplainAt(
            handwork.find_node(loaded, node), handwork.find_class(loaded, class_name),
            handwork.find_feature(loaded, feature),
            handwork.LATEX if output_format is StepFormat.latex else handwork.TEXT, show_nodes or None,
        )
    worked = handwork.work_step(
        loaded, _requirement(decimals, sig_figs, rounding, loaded.requirement), reduction.value,
        carry is CarryMode.rounded, explain_at,
    )
    _emit(_step_report(worked, show_nodes, output_format), output, force)


def _requirement(decimals: int | None, sig_figs: int | None, rounding: Rounding, required: Any) -> Any:
    """The precision step shows and carries: --decimals or --sig-figs (the losses 2
    more), else the precision the problem requires, else 2 decimals (the losses 4)."""
    from dataclasses import replace

    from .rounding import Requirement

    if decimals is None and sig_figs is None and required is not None:
        return Requirement(replace(required.values, rounding=rounding.value),
                           replace(required.losses, rounding=rounding.value))
    precision = _precision(decimals, sig_figs, rounding)
    return Requirement(precision, precision.finer(2))


def _step_report(worked: Any, show_nodes: int, output_format: StepFormat) -> Any:
    """The step in the chosen format: JSON text, Rich renderables, or a Markdown or
    LaTeX document. With carried rounding, values that it changes are marked."""
    from . import render

    if output_format is StepFormat.json:
        data = render.step_json(worked.problem, worked.result, worked.reduction)
        data["carry"] = "rounded" if worked.carried else "exact"
        if worked.explanation is not None:
            data["explanation"] = {"title": worked.explanation.title, "groups": dict(worked.explanation.groups)}
        return _json_text(data)
    precision, loss_precision = worked.requirement.values, worked.requirement.losses
    most = show_nodes or None  # 0: all nodes
    sections = render.step_sections(worked.problem, worked.result, precision, loss_precision, worked.reduction, most)
    if worked.carried:
        exact_sections = render.step_sections(
            worked.problem, worked.exact, precision, loss_precision, worked.reduction, most
        )
        render.mark_carry_changes(sections, exact_sections)
    title = _title(worked.problem, precision, worked.carried)
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
    answers: Path = typer.Argument(
        ..., help="Answers file (YAML): problem: and answers:; or article: the answers the article printed."
    ),
    reduction: Reduction = ReductionOpt,
    output_format: TableOrJson = typer.Option(TableOrJson.table, "--format", help="table or json."),
) -> None:
    """Grade hand-worked answers: right, follows through, or wrong and why.

    Exit status 0 when nothing is wrong, 1 when something is, 2 for bad input.

    Example: nodeclf check article   (the article's own answers, mistakes and all)
    """
    from . import render_check
    from .answers import load_answers
    from .grading import Grader

    sheet = load_answers(answers)
    grader = Grader(sheet.problem, sheet.rows, reduction.value, sheet.requirement)
    grade = grader.grade()
    if output_format is TableOrJson.json:
        _emit(_json_text(render_check.check_json(grader, grade)), None, False)
    else:
        sections = render_check.check_sections(grader, grade)
        _emit([*sections, render_check.summary(grader, grade)], None, False)
    if grade.first_wrong is not None:
        raise typer.Exit(EXIT_MISTAKES)


@app.command(short_help="Make a practice problem, and optionally its answer key.")
def generate(
    nodes: int = typer.Option(5, "--nodes", min=1, max=10000, help="Number of nodes."),
    dim: int = typer.Option(4, "--dim", min=1, max=1000, help="Embedding size."),
    classes: int = typer.Option(3, "--classes", min=2, max=1000, help="Number of classes."),
    seed: int = typer.Option(0, "--seed", min=0, help="Random seed: the same seed, the same problem."),
    decimals: int = typer.Option(2, "--decimals", min=1, max=3, help="Decimals of the weights."),
    edges: Optional[int] = typer.Option(
        None, "--edges", min=0, help="Also a connected random graph of this many edges (GCN's Â, one hop)."
    ),
    output: Optional[Path] = typer.Option(
        None, "--output", "-o", readable=False, help="Write the problem here [default: stdout]."
    ),
    answers: Optional[Path] = typer.Option(
        None, "--answers", readable=False, help="Also write the answer key here, in the check format."
    ),
    force: bool = typer.Option(False, "--force", help="Allow overwriting existing files."),
) -> None:
    """Make a practice problem with nice numbers, and optionally its answer key.

    Example: nodeclf generate --nodes 5 --dim 4 --classes 3 --seed 7 -o hw.yaml --answers key.yaml
    """
    from . import generate as gen
    from .output import check_writable, write_atomic

    for option, path in (("--output", output), ("--answers", answers)):
        if path is not None:
            check_writable(path, force)
            if path.suffix.lower() not in ("", ".yaml", ".yml"):
                raise NodeclfError(f"{option} writes YAML: name the file .yaml or .yml", path)
    if output is not None and answers is not None and output.resolve() == answers.resolve():
        raise typer.BadParameter("--output and --answers must be different files")
    if edges is not None and not nodes - 1 <= edges <= nodes * (nodes - 1) // 2:
        raise typer.BadParameter(
            f"--edges: a connected graph of {nodes} nodes has {nodes - 1} to {nodes * (nodes - 1) // 2} edges, "
            f"not {edges}"
        )
    command = (
        f"nodeclf generate --nodes {nodes} --dim {dim} --classes {classes} --seed {seed} "
        f"--decimals {decimals}" + (f" --edges {edges}" if edges is not None else "")
    )
    text = gen.problem_yaml(gen.generate(nodes, dim, classes, seed, decimals, edges), command)
    if answers is not None:
        write_atomic(answers, gen.answer_key(text, output, answers), force)
        print(f"nodeclf: wrote the answer key to {answers}", file=sys.stderr)
    _emit(text, output, force)


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
    dtype: DType = typer.Option(DType.float64, "--dtype", help="float64, or float32 for big data."),
    momentum: float = typer.Option(0.0, "--momentum", help="Classical momentum, at least 0 and below 1."),
    weight_decay: float = typer.Option(0.0, "--weight-decay", help="L2 penalty on W and b, at least 0."),
    threads: Optional[int] = typer.Option(
        None,
        "--threads",
        min=1,
        help="Cores to train on [default: each core nodeclf may run on (within taskset and CPU limits), "
        "at most 8].",
    ),
    every: Optional[int] = typer.Option(
        None, "--every", min=1, help="Show every K-th epoch [default: all up to 30, else about 20 rows]."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    no_plot: bool = typer.Option(False, "--no-plot", help="No loss curve in the terminal."),
    plot: Optional[Path] = typer.Option(
        None, "--plot", readable=False, help="Also draw the curves into an image (PNG, SVG, PDF)."
    ),
    save: Optional[Path] = typer.Option(
        None, "--save", readable=False,
        help="Write the trained weights: a problem file (.yaml) or the weights alone (.csv).",
    ),
    history: Optional[Path] = typer.Option(
        None, "--history", readable=False, help="Write each epoch's figures: CSV, or JSON for a .json file."
    ),
    force: bool = typer.Option(False, "--force", help="Allow --save/--history/--plot to overwrite files."),
    output_format: TableOrJson = typer.Option(TableOrJson.table, "--format", help="table or json."),
) -> None:
    """Train the layer by full-batch gradient descent, with the same maths as step.

    Ctrl-C stops after the current epoch, keeps what was trained for --save, exits 130.

    Example: nodeclf train karate --epochs 100 --save trained.yaml
    """
    from .output import check_writable
    from .problem import load_problem, shown_source
    from .train import Settings, Trainer, split_groups

    _check_range("--momentum", momentum, "at least 0 and below 1", below_one=True)
    _check_range("--weight-decay", weight_decay, "at least 0")
    for path in (save, history, plot):
        if path is not None:
            check_writable(path, force)
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
    )
    W0, b0 = _initial_weights(loaded, init, seed)
    groups = split_groups(loaded.split, loaded.y)
    if groups is not None and not (groups == 0).any():
        raise NodeclfError("the split has no train nodes", loaded.origins.get("labels") or shown_source(loaded.source))
    settings = Settings(
        epochs=epochs, learning_rate=loaded.learning_rate if loaded.learning_rate is not None else 0.1,
        reduction=reduction.value, momentum=momentum, weight_decay=weight_decay, dtype=dtype.value,
        threads=threads,
    )
    features = loaded.Z
    if loaded.graph is not None:  # Ẑ = Â^K Z once, then the layer trains on it as on Z
        from .graph import propagated_embeddings

        features = propagated_embeddings(loaded.graph, loaded.Z, dtype.value)
    trainer = Trainer(features, loaded.y, W0, b0, settings, groups)
    records, interrupted = _run(trainer, show_progress=not quiet and sys.stderr.isatty())

    _write_train_files(loaded, trainer, records, save, history, plot)
    if output_format is TableOrJson.json:
        from . import render_train

        data = render_train.train_json(
            records, loaded, trainer.W, trainer.b, settings.learning_rate, trainer.predict(), groups
        )
        _emit(_json_text(data), None, False)
    else:
        _emit(_train_report(loaded, trainer, records, every, not no_plot), None, False)
    if interrupted:
        print(f"nodeclf: interrupted after epoch {len(records)}", file=sys.stderr)
        raise typer.Exit(EXIT_INTERRUPTED)


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


def _write_train_files(
    loaded: Any, trainer: Any, records: list, save: Path | None, history: Path | None, plot: Path | None
) -> None:
    """--save (a problem file or a weights CSV), --history and --plot, each atomically
    (each was checked to be writable before training)."""
    from . import render_train
    from .output import write_atomic

    s = trainer.settings
    if save is not None:
        if save.suffix.lower() == ".csv":
            saved = render_train.weights_csv(loaded.classes, trainer.W, trainer.b)
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
            saved = render_train.trained_problem_yaml(loaded, trainer.W, trainer.b, s.learning_rate, save, note)
        write_atomic(save, saved, True)
        print(f"nodeclf: wrote the trained weights to {save}", file=sys.stderr)
    if history is not None:
        if history.suffix.lower() == ".json":
            written = _json_text(render_train.history_records(records))
        else:
            written = render_train.history_csv(records)
        write_atomic(history, written, True)
        print(f"nodeclf: wrote the history to {history}", file=sys.stderr)
    if plot is not None and records:
        write_atomic(plot, render_train.loss_plot_image(records, plot.suffix.lower().lstrip(".")), True)
        print(f"nodeclf: drew the curves into {plot}", file=sys.stderr)


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
        if curve and len(records) > 1:
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


def _run(trainer: Any, show_progress: bool) -> tuple[list, bool]:
    """Train, with a progress bar on stderr; Ctrl-C stops after the current epoch."""
    import signal

    import numpy as np

    stop = {"asked": False}
    previous = signal.getsignal(signal.SIGINT)

    def ask_to_stop(signum: int, frame: Any) -> None:
        stop["asked"] = True
        signal.signal(signal.SIGINT, previous)  # a second Ctrl-C stops at once

    records: list = []
    progress = None
    try:
        signal.signal(signal.SIGINT, ask_to_stop)
    except ValueError:  # not the main thread: Ctrl-C is not ours to handle
        pass
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
            if stop["asked"]:
                break
    finally:
        if progress is not None:
            progress.stop()
        try:
            signal.signal(signal.SIGINT, previous)
        except ValueError:
            pass
    return records, stop["asked"]


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
    )


def _optimiser_extras(settings: Any) -> str:
    """``, momentum 0.9, weight decay 0.01``: the SGD settings that are not 0."""
    s = settings
    return (f", momentum {s.momentum}" if s.momentum else "") + (
        f", weight decay {s.weight_decay}" if s.weight_decay else ""
    )


def main() -> None:
    """Entry point of the ``nodeclf`` console script: the faster BLAS kernels for this
    processor (before numpy loads; see :mod:`nodeclf_cli.blas`), then the command."""
    choose_kernels()
    app()
