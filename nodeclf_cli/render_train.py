"""Presentation of a training run: the epoch table, accuracy per class, confusion
matrix, loss curve (terminal or PNG), JSON, CSV history and the saved problem (with its
loss convention and optimiser). With an L2 penalty term in the loss, each shows the data
loss L and the regularised loss L + R."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .errors import NodeclfError
from .problem import Problem
from .render import Cells, Section, per_class_section
from .rounding import Precision
from .sources import yaml_scalar, yaml_string
from .train import SPLIT_CODES, Epoch

LOSS = Precision(decimals=4)


def _percent(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f}%"


def _has_split(history: Sequence[Epoch]) -> bool:
    """Whether the run had a train/val/test split (its epochs then carry val or test accuracy)."""
    return bool(_split_accuracies(history))


def _split_accuracies(history: Sequence[Epoch]) -> list[str]:
    """The Epoch fields of the splits that have nodes (``val_accuracy``, ``test_accuracy``):
    each split's accuracy is given whenever that split has nodes."""
    if not history:
        return []
    return [name for name in ("val_accuracy", "test_accuracy") if getattr(history[0], name) is not None]


def _penalised(history: Sequence[Epoch]) -> bool:
    """Whether the run's loss had a penalty term (its epochs then carry R)."""
    return bool(history) and history[0].penalty is not None


def sampled(history: Sequence[Epoch], every: int | None) -> list[Epoch]:
    """Every epoch for short runs; else every ``every``-th (about 20 rows by default),
    always with the first and the last."""
    if every is None:
        every = 1 if len(history) <= 30 else -(-len(history) // 20)
    rows = [e for e in history if e.epoch == 1 or e.epoch % every == 0]
    if history and rows[-1] is not history[-1]:
        rows.append(history[-1])
    return rows


def history_section(history: Sequence[Epoch], every: int | None) -> Section:
    split = _has_split(history)
    accuracies = ["train accuracy", "val accuracy", "test accuracy"] if split else ["accuracy"]
    penalised = _penalised(history)
    losses = ["loss L", "L + R"] if penalised else ["loss"]
    headers = ["epoch", *losses, *accuracies]
    section = Section("Training  (loss and accuracy of each epoch's forward pass, before its update)", headers)
    cells = Cells(LOSS)
    for e in sampled(history, every):
        extra = [_percent(e.val_accuracy), _percent(e.test_accuracy)] if split else []
        regularized = [cells(e.regularized_loss)] if penalised else []
        section.add_row(str(e.epoch), cells(e.loss), *regularized, _percent(e.accuracy), *extra)
    if penalised:
        section.add_notes("L: the data loss; R: the L2 penalty of the weights before the update")
    return section


MOST_FEATURES_SHOWN = 16  # wider weights are summarised per class rather than printed


def weights_section(problem: Problem, W: np.ndarray, b: np.ndarray, precision: Precision) -> Section:
    """W and b in full; for more than MOST_FEATURES_SHOWN features, per class the bias,
    the norm ||w_c|| and the largest weight (W in full is for --save or --format json)."""
    if W.shape[1] <= MOST_FEATURES_SHOWN:
        return per_class_section("Trained weights  W and b", problem, W, b, ("w_c", "b_c"), Cells(precision))
    section = Section(
        "Trained weights  W and b, summarised per class  (j: the feature of the largest |w_c[j]|)",
        ["class", "b_c", "‖w_c‖", "j", "w_c[j]"],
    )
    cells = Cells(precision)
    for name, w, bias in zip(problem.classes, W, b):
        j = int(np.argmax(np.abs(w)))
        section.add_row(str(name), cells(bias), cells(np.linalg.norm(w)), str(j), cells(w[j]))
    return section.add_notes(
        f"W is {W.shape[0]} x {W.shape[1]}, too wide to print: --save FILE.yaml writes it, "
        "--format json prints it",
        cells.footnote(),
    )


def _evaluated(y: np.ndarray, groups: np.ndarray | None) -> list[tuple[str, np.ndarray]]:
    """The groups of nodes accuracy is counted on, by name, each with its mask: train,
    val and test with a split (those that have nodes), else all labelled nodes."""
    if groups is None:
        return [("all", y >= 0)]
    return [(name, groups == code) for name, code in SPLIT_CODES.items() if (groups == code).any()]


def confusion(problem: Problem, predicted: np.ndarray, groups: np.ndarray | None) -> tuple[str, np.ndarray]:
    """The confusion matrix (rows: true class, columns: predicted) of the train nodes
    (all labelled nodes without a split), and the name of those nodes."""
    name, mask = _evaluated(problem.y, groups)[0]
    size = len(problem.classes)
    counts = np.bincount(problem.y[mask] * size + predicted[mask], minlength=size * size)
    return name, counts.reshape(size, size)


def accuracy_sections(problem: Problem, predicted: np.ndarray, groups: np.ndarray | None) -> list[Section]:
    """Accuracy per class (per split) and the confusion matrix of the training nodes."""
    classes, y = problem.classes, problem.y
    present = _evaluated(y, groups)
    headers = [f"{n} accuracy" for n, _ in present] if groups is not None else ["accuracy"]
    per_class = Section("Accuracy per class  (final weights)", ["class", *headers, "nodes"])
    for c, name in enumerate(classes):
        cells = []
        for _, mask in present:
            members = mask & (y == c)
            cells.append(_percent(float((predicted[members] == c).mean())) if members.any() else "—")
        per_class.add_row(str(name), *cells, str(int(((y == c) & present[0][1]).sum())))
    overall = [(n, _percent(float((predicted[m] == y[m]).mean()))) for n, m in present]
    if groups is not None:
        per_class.add_notes("overall " + ", ".join(f"{n}: {shown}" for n, shown in overall))
    else:
        per_class.add_notes(f"overall: {overall[0][1]}")
    sections = [per_class]
    if len(classes) <= 15:
        nodes, matrix = confusion(problem, predicted, groups)
        section = Section(
            f"Confusion matrix  (rows: true class, columns: predicted; {nodes} nodes, final weights)",
            ["true \\ predicted", *map(str, classes)],
        )
        for name, row in zip(classes, matrix):
            section.add_row(str(name), *map(str, row))
        sections.append(section)
    else:
        per_class.add_notes(
            f"(no confusion matrix for {len(classes)} classes: it would not fit; --format json gives it)"
        )
    return sections


def loss_plot_text(history: Sequence[Epoch], width: int, color: bool) -> str:
    """The loss curve drawn in the terminal with plotext."""
    import plotext as plt

    plt.clear_figure()
    epochs = [e.epoch for e in history]
    if _penalised(history):
        plt.plot(epochs, [e.loss for e in history], marker="braille", label="L")
        plt.plot(epochs, [e.regularized_loss for e in history], marker="braille", label="L + R")
    else:
        plt.plot(epochs, [e.loss for e in history], marker="braille")
    plt.title("loss per epoch")
    last = history[-1].epoch
    plt.xticks(sorted({1, *np.linspace(1, last, 5).round().astype(int).tolist()}))
    plt.xlabel("epoch")
    plt.plotsize(min(width, 100), 15)
    if not color:
        plt.theme("clear")
    return plt.build()


def check_plotting() -> None:
    """Refuse ``--plot`` where matplotlib, the optional extra ``plot``, is not installed
    (before training, not after it)."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise NodeclfError('--plot needs matplotlib: pip install "nodeclf[plot]"') from None


def loss_plot_image(history: Sequence[Epoch], image_format: str) -> bytes:
    """The loss (and accuracy) curves as an image: ``png``, ``svg`` or ``pdf``."""
    import matplotlib.pyplot as plt

    figure = loss_figure(history)
    buffer = io.BytesIO()
    figure.savefig(buffer, format=image_format)
    plt.close(figure)
    return buffer.getvalue()


def loss_figure(history: Sequence[Epoch]) -> Any:
    """A matplotlib figure of the loss (left axis) and accuracy (right axis) per epoch;
    with a split, the train and val accuracy (test accuracy stays out of sight)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    epochs = [e.epoch for e in history]
    split = _has_split(history)
    figure, loss_axis = plt.subplots(figsize=(7, 4), dpi=120)
    penalised = _penalised(history)
    loss_axis.plot(epochs, [e.loss for e in history], color="tab:blue", label="loss L" if penalised else "loss")
    if penalised:
        loss_axis.plot(epochs, [e.regularized_loss for e in history], color="tab:purple", label="L + R")
    loss_axis.set_xlabel("epoch")
    loss_axis.xaxis.set_major_locator(MaxNLocator(integer=True))  # no epoch 2.5
    loss_axis.set_ylabel("loss")
    accuracy_axis = loss_axis.twinx()
    accuracy_axis.plot(
        epochs, [e.accuracy for e in history], color="tab:orange", label="train accuracy" if split else "accuracy"
    )
    if history and history[0].val_accuracy is not None:
        accuracy_axis.plot(epochs, [e.val_accuracy for e in history], color="tab:green", label="val accuracy")
    accuracy_axis.set_ylabel("accuracy")
    accuracy_axis.set_ylim(0, 1)
    loss_axis.set_title("loss and accuracy per epoch (forward pass, before the update)")
    figure.legend(loc="lower center", ncol=3, frameon=False)  # below the axes, clear of the curves
    figure.tight_layout(rect=(0, 0.07, 1, 1))
    return figure


def _penalty_fields(history: Sequence[Epoch]) -> list[str]:
    """``penalty`` and ``regularized_loss`` (R and L + R) where the loss had a penalty term, else none."""
    return ["penalty", "regularized_loss"] if _penalised(history) else []


def history_csv(history: Sequence[Epoch]) -> str:
    """epoch, loss (L), with a penalty term penalty (R) and regularized_loss (L + R), accuracy, and the splits'."""
    penalty, splits = _penalty_fields(history), _split_accuracies(history)
    lines = [",".join(["epoch", "loss", *penalty, "accuracy", *splits])]
    for e in history:
        terms = "".join(f",{getattr(e, name)!r}" for name in penalty)
        extra = "".join(f",{getattr(e, name)!r}" for name in splits)
        lines.append(f"{e.epoch},{e.loss!r}{terms},{e.accuracy!r}{extra}")
    return "\n".join(lines) + "\n"


def history_records(history: Sequence[Epoch]) -> list[dict]:
    """Each epoch's figures as a JSON record (val and test accuracy with a split, each
    where its split has nodes; the penalty R and L + R with a penalty term)."""
    penalty, splits = _penalty_fields(history), _split_accuracies(history)
    records = []
    for e in history:
        record: dict[str, Any] = {"epoch": e.epoch, "loss": e.loss}
        record.update((name, getattr(e, name)) for name in penalty)
        record["accuracy"] = e.accuracy
        record.update((name, getattr(e, name)) for name in splits)
        records.append(record)
    return records


def train_json(
    history: Sequence[Epoch], problem: Problem, W: np.ndarray, b: np.ndarray, lr: float,
    predicted: np.ndarray, groups: np.ndarray | None,
) -> dict:
    """The run at full precision; the confusion matrix is the final weights' (as in the
    tables), over the train nodes (all labelled nodes without a split)."""
    records = history_records(history)
    return {
        "history": records,
        "W": W.astype(float).tolist(),
        "b": b.astype(float).tolist(),
        "classes": [c.item() if isinstance(c, np.generic) else c for c in problem.classes],
        "learning_rate": lr,
        "epochs": len(history),
        "confusion": confusion(problem, predicted, groups)[1].tolist(),
    }


def _scalar(value: Any) -> str:
    """A YAML scalar that reads back as ``value`` (an id, a class name, a number)."""
    return yaml_scalar(value)


def _flow(values) -> str:
    return "[" + ", ".join(_scalar(v) for v in values) + "]"


def weights_csv(classes: Sequence, W: np.ndarray, b: np.ndarray) -> str:
    """The weights as ``--weights`` reads them: ``class,b,w_0,...``, one row per class."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["class", "b", *(f"w_{j}" for j in range(W.shape[1]))])
    for name, row, bias in zip(classes, W.astype(float), b.astype(float)):
        writer.writerow([name, repr(float(bias)), *map(repr, row.tolist())])
    return out.getvalue()


def weights_yaml(classes: Sequence, W: np.ndarray, b: np.ndarray) -> str:
    """The weights as ``--weights`` reads a YAML file: ``weights:`` with ``W:`` (a row per class, in the
    problem's order of the classes, which a comment names) and ``b:``."""
    lines = [f"# rows in the order of the classes: {_flow(classes)}", "weights:", "  W:"]
    lines += [f"    - {_flow(row)}" for row in W.astype(float)]
    lines.append(f"  b: {_flow(b.astype(float))}")
    return "\n".join(lines) + "\n"


WEIGHTS_SUFFIXES = {".csv": weights_csv, ".yaml": weights_yaml, ".yml": weights_yaml}


def _graph_lines(problem: Problem, edges_ref: str | None) -> list[str]:
    """``edges:`` (the file they came from, or each edge inline) and ``propagation:``,
    so that the saved problem propagates as it was trained."""
    graph = problem.graph
    if graph is None:
        return []
    if edges_ref is not None:
        lines = [f"edges: {edges_ref}"]
    else:
        ids = problem.node_ids
        lines = ["edges:"] + [
            f"  - [{_scalar(ids[s])}, {_scalar(ids[t])}" + ("]" if w == 1 else f", {float(w)!r}]")
            for s, t, w in zip(graph.source, graph.target, graph.weight)
        ]
    settings = ", ".join(f"{key}: {str(value).lower() if isinstance(value, bool) else value}"
                         for key, value in graph.propagation.as_dict().items())
    return lines + [f"propagation: {{{settings}}}"]


def optimizer_yaml(optimizer: dict) -> list[str]:
    """The ``optimizer:`` key of a problem file (long form), from ``{"name", "settings", "state"}``:
    its name, each setting, and ``state:`` as ``--save-state`` writes it (t and each buffer's W and b)."""
    lines = ["optimizer:", f"  name: {optimizer['name']}"]
    lines += [f"  {key}: {_scalar(float(value))}" for key, value in optimizer["settings"].items()]
    lines.append("  state:")
    for key, value in optimizer["state"].items():
        if isinstance(value, dict):  # a buffer: {"W": rows, "b": numbers}
            lines += [f"    {key}:", "      W:", *(f"        - {_flow(row)}" for row in value["W"]),
                      f"      b: {_flow(value['b'])}"]
        else:
            lines.append(f"    {key}: {_scalar(value)}")
    return lines


def trained_problem_yaml(
    problem: Problem, W: np.ndarray, b: np.ndarray, lr: float, path: Path, note: str, optimizer: dict | None = None
) -> str:
    """A problem file with the trained weights, readable by ``nodeclf step``: its
    embeddings and labels refer to the files they came from (relative to ``path``),
    or are written inline when they were inline; its ``loss:`` key where the loss was not the plain
    one (class weights, smoothing, an L2 penalty: ``generate.loss_line``), and with ``optimizer``, its
    ``optimizer:`` key (:func:`optimizer_yaml`), so that a step or training goes on with the same loss,
    from the trained state."""
    from .generate import loss_line

    def ref(kind: str) -> str | None:
        origin = problem.origins.get(kind)
        if origin is None:
            return None
        return yaml_string(Path(os.path.relpath(Path(origin).resolve(), path.resolve().parent)).as_posix())

    lines = [f"# {line}" for line in note.splitlines()]
    embeddings = ref("embeddings")
    if embeddings is not None:
        lines.append(f"embeddings: {embeddings}")
    else:
        lines.append("embeddings:")
        lines += [f"  {_scalar(i)}: {_flow(z)}" for i, z in zip(problem.node_ids, problem.Z)]
    labels = ref("labels")
    if labels is not None:
        lines.append(f"labels: {labels}")
    else:
        lines.append("labels:")
        lines += [
            f"  {_scalar(i)}: {_scalar(problem.classes[c])}"
            for i, c in zip(problem.node_ids, problem.y)
            if c >= 0
        ]
    lines.append(f"classes: {_flow(problem.classes)}")
    lines += _graph_lines(problem, ref("edges"))
    lines.append("weights:")
    lines.append("  W:")
    lines += [f"    - {_flow(row)}" for row in W.astype(float)]
    lines.append(f"  b: {_flow(b.astype(float))}")
    lines.append(f"learning_rate: {lr!r}")
    lines += loss_line(problem.convention)
    if optimizer is not None:
        lines += optimizer_yaml(optimizer)
    return "\n".join(lines) + "\n"
