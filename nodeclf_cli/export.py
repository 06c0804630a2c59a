"""Sections and explanations written as Markdown or LaTeX (a report or answer sheet).

The same :class:`render.Section` data as the terminal tables. LaTeX needs only
``amsmath`` and compiles with a plain ``pdflatex``.
"""

from __future__ import annotations

import re

from .errors import printable
from .handwork import Explanation, latex_escape
from .render import Cell, Section

# --- Markdown ---------------------------------------------------------------------


def _md_cell(text: str) -> str:
    """Text as Markdown shows it as written: no table column break, emphasis or HTML tag
    (a node named ``a|b``, a class named ``<cat>``), control characters escaped."""
    return printable(text).replace("|", r"\|").replace("*", r"\*").replace("<", "&lt;")


def markdown_section(section: Section) -> str:
    lines = [f"### {_md_cell(section.formula)}", ""]
    lines.append("| " + " | ".join(_md_cell(h) for h in section.headers) + " |")
    lines.append("|" + "---:|" * len(section.headers))
    lines += ["| " + " | ".join(_md_cell(str(c)) for c in row) + " |" for row in section.rows]
    for note in section.notes:
        lines += ["", _md_cell(note)]
    return "\n".join(lines) + "\n"


def markdown_explanation(explanation: Explanation) -> str:
    lines = [f"### {_md_cell(explanation.title)}", ""]
    for heading, formulas in explanation.groups:
        lines += [f"**{_md_cell(heading)}**", "", "```text", *map(printable, formulas), "```", ""]
    return "\n".join(lines)


def to_markdown(title: str, sections: list[Section], explanation: Explanation | None = None) -> str:
    parts = [f"## {_md_cell(title)}\n"] + [markdown_section(s) for s in sections]
    if explanation is not None:
        parts.append(markdown_explanation(explanation))
    return "\n".join(parts)


# --- LaTeX ------------------------------------------------------------------------

_SYMBOLS = [
    (":=", r"\mathrel{:=}"),
    ("∂", r"\partial "),
    ("Σ", r"\sum"),
    ("ℓ", r"\ell"),
    ("α", r"\alpha"),
    ("·", r"\cdot "),
    ("−", "-"),
    ("ᵀ", r"^{\top}"),
    ("→", r"\to"),
    ("≈", r"\approx"),
    ("✗", r"\times"),
    ("†", r"^{\dagger}"),
    ("Ã", r"\tilde{A}"),  # the graph's symbols
    ("Â", r"\hat{A}"),
    ("D̃", r"\tilde{D}"),
    ("d̃", r"\tilde{d}"),
    ("Ẑ", r"\hat{Z}"),
    ("ẑ", r"\hat{z}"),
    ("m̂", r"\hat{m}"),  # the optimisers' symbols
    ("v̂", r"\hat{v}"),
    ("Δ", r"\Delta "),
    ("ε", r"\varepsilon "),  # the loss conventions' symbols
    ("λ", r"\lambda "),
    ("θ", r"\theta "),
    ("½", r"\tfrac{1}{2}"),
    ("²", "^2"),
    ("≠", r"\neq "),
    ("⁽", "^{("),
    ("⁾", ")}"),
    ("*", r"^{*}"),
    ("%", r"\%"),
    ("#", r"\#"),
    ("&", r"\&"),
    ("$", r"\$"),
]
# a plain word: two letters or more ("W" and "(P" are symbols), or a possessive ("5's")
_WORD = re.compile(r"[(]?([A-Za-z][A-Za-z'\-]+|\w+'s)[,.:;)]?")
_FUNCTION = re.compile(r"(?<![A-Za-z\\])(exp|ln)(?![A-Za-z])")
# a command-line option in a note ("(--show-nodes"): text in typewriter type, not math
_OPTION = re.compile(r"([(]?)(--[a-z][a-z-]*)([,.:;)]?)")
_TEXT_SYMBOLS = {"…": r"\ldots"}


def _math(token: str) -> str:
    for symbol, tex in _SYMBOLS:
        token = token.replace(symbol, tex)
    return _FUNCTION.sub(r"\\\1 ", token)


_OPERATORS = ("\\cdot", "\\to", "\\approx", "\\mathrel", "\\times", "\\sum")


def _is_operand(token: str) -> bool:
    if token.startswith("\\"):
        return not token.startswith(_OPERATORS)
    return token[0].isalnum() or token[0] in "(["


def _join_math(tokens: list[str]) -> str:
    """Math tokens joined with a visible space between two operands (``1 \\ell_i``)."""
    out = tokens[0]
    for before, token in zip(tokens, tokens[1:]):
        ends_operand = before[-1].isalnum() or before[-1] in ")]" or before.endswith("^{*}")
        out += (r"\ " if ends_operand and _is_operand(token) else " ") + token
    return out


def tex(text: str) -> str:
    """Mixed text and formulas (a heading, a note, a header) as LaTeX: plain words stay
    text, everything else (symbols, numbers, subscripts) goes into math mode."""
    parts: list[tuple[bool, str]] = []  # (in math mode, LaTeX)
    for token in printable(text).split():
        option = _OPTION.fullmatch(token)
        if option:
            before, name, after = option.groups()
            parts.append((False, rf"{before}\texttt{{{name}}}{after}"))
        elif (_WORD.fullmatch(token) and not _FUNCTION.fullmatch(token)) or token in _TEXT_SYMBOLS:
            parts.append((False, _TEXT_SYMBOLS.get(token) or latex_escape(token)))
        else:
            parts.append((True, _math(token)))
    return _text_and_math(parts)


def tex_cell(cell: str | Cell) -> str:
    """A table's cell as LaTeX: a number in math mode with its marks (``$0.69^{*}$``),
    a name (a node id, a class) as escaped text, whatever it holds (``a_1`` is not a
    subscript, ``x%`` no comment); other text as :func:`tex` writes it."""
    if not isinstance(cell, Cell):
        return tex(cell)
    if not cell.number:
        text = latex_escape(cell.text)
        return text + (r" $\times$" if cell.mispredicted else "")
    marks = (r"^{*}" if cell.tie else "") + (r"^{\dagger}" if cell.changed else "")
    return "$" + cell.text.replace("−", "-") + marks + "$"


def _text_and_math(parts: list[tuple[bool, str]]) -> str:
    """Parts joined by spaces, each run of math parts in one ``$...$``."""
    out: list[str] = []
    math: list[str] = []
    for in_math, part in parts:
        if in_math:
            math.append(part)
            continue
        if math:
            out.append("$" + _join_math(math) + "$")
            math = []
        out.append(part)
    if math:
        out.append("$" + _join_math(math) + "$")
    return " ".join(out)


LATEX_TABLE_WIDTH = 72  # characters of table that fit an A4 page's text width at 10pt


def latex_section(section: Section) -> str:
    """The section's table, split into several (each led by the first column) where it
    would be wider than the page, as the terminal splits it."""
    heading = section.latex if section.latex is not None else tex(section.formula)
    lines = [rf"\subsection*{{{heading}}}"]
    for group in section.column_groups(LATEX_TABLE_WIDTH):
        lines += [
            r"\begin{center}",
            rf"\begin{{tabular}}{{{'r' * len(group)}}}",
            r"\hline",
            " & ".join(tex(section.headers[i]) for i in group) + r" \\",
            r"\hline",
        ]
        lines += [" & ".join(tex_cell(row[i]) for i in group) + r" \\" for row in section.rows]
        lines += [r"\hline", r"\end{tabular}", r"\end{center}"]
    lines += [tex(note) + r"\par" for note in section.notes]
    return "\n".join(lines) + "\n"


def latex_explanation(explanation: Explanation) -> str:
    """Each formula as inline math in its own paragraph, so long sums wrap."""
    lines = [rf"\subsection*{{{latex_escape(explanation.title)}}}"]
    for heading, formulas in explanation.groups:
        lines += [rf"\medskip\noindent\textbf{{{tex(heading)}}}\par"]  # on its own line, as in the text output
        lines += [rf"\noindent ${formula}$\par" for formula in formulas]
        lines.append("")
    return "\n".join(lines)


def to_latex(title: str, sections: list[Section], explanation: Explanation | None = None) -> str:
    body = [latex_section(s) for s in sections]
    if explanation is not None:
        body.append(latex_explanation(explanation))
    return "\n".join(
        [
            r"\documentclass[a4paper,10pt]{article}",
            r"\usepackage[T1]{fontenc}",
            r"\usepackage{amsmath}",
            r"\setlength{\parindent}{0pt}",
            r"\setlength{\parskip}{0.4em}",
            r"\setlength{\tabcolsep}{4pt}",
            r"\setlength{\emergencystretch}{3em}",  # a long formula breaks at an = or + rather than overrun
            r"\begin{document}",
            rf"\section*{{{latex_escape(title)}}}",
            *body,
            r"\end{document}",
            "",
        ]
    )
