"""The stance matrix as a PNG, drawn with matplotlib's Agg backend (no display, no pyplot
state, safe in a worker thread).

Made to be read on a phone: few rows, large type, the stance written in each cell as well as
coloured (colour-blind safe palette), divided cells hatched, contested guarantees framed in
red, a legend, and the date range and number of sources in the caption.
"""

from __future__ import annotations

import io
import textwrap

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle

from bot.matrix import Matrix
from bot.vocabulary import GUARANTEES, Stance

# Okabe-Ito colours: told apart with any colour vision.
STANCE_COLOURS = {
    Stance.SEEKS: "#0072B2",
    Stance.BACKS: "#009E73",
    Stance.OPPOSES: "#D55E00",
    Stance.DOUBTS: "#E69F00",
}
TEXT_COLOURS = {Stance.DOUBTS: "black"}  # white on orange is too faint
EMPTY_COLOUR = "#F2F2F2"
CONTESTED_COLOUR = "#C00000"
DPI = 150


def _short(label: str) -> str:
    return textwrap.fill(label, 12, break_long_words=False)


def _day(matrix: Matrix) -> str:
    first = matrix.first.isoformat() if matrix.first else "undated"
    last = matrix.last.isoformat() if matrix.last else "undated"
    return first if first == last else f"{first} to {last}"


def caption(matrix: Matrix) -> str:
    sources = f"{matrix.sources:,}{'+' if matrix.sources_at_least else ''}"
    text = (
        f"{matrix.positions:,} positions from {sources} sources, {_day(matrix)}."
        " Colour: each party's latest stance."
    )
    if matrix.more_parties:
        text += f" {matrix.more_parties} smaller parties not shown."
    return text


def render_matrix_png(matrix: Matrix) -> bytes:
    """The matrix as PNG bytes."""
    rows, cols = max(1, len(matrix.parties)), max(1, len(matrix.guarantees))
    width = max(9.0, 2.2 + 1.25 * cols)
    height = 3.4 + 0.62 * rows
    figure = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(figure)
    axes = figure.add_axes((0.2, 0.2, 0.78, 0.62))
    axes.set_xlim(0, cols)
    axes.set_ylim(rows, 0)
    axes.set_xticks([c + 0.5 for c in range(cols)])
    labels = []
    for guarantee in matrix.guarantees:
        label = _short(GUARANTEES[guarantee].label)
        labels.append(label + ("\n(contested)" if guarantee in matrix.contested else ""))
    axes.set_xticklabels(labels, fontsize=11)
    axes.xaxis.tick_top()
    axes.set_yticks([r + 0.5 for r in range(rows)])
    axes.set_yticklabels([name for _, name in matrix.parties] or [""], fontsize=14)
    axes.tick_params(length=0)
    for spine in axes.spines.values():
        spine.set_visible(False)
    for r, (code, _) in enumerate(matrix.parties):
        for c, guarantee in enumerate(matrix.guarantees):
            cell = matrix.cells.get((code, guarantee))
            colour = STANCE_COLOURS[cell.stance] if cell else EMPTY_COLOUR
            axes.add_patch(
                Rectangle(
                    (c + 0.04, r + 0.06), 0.92, 0.88, facecolor=colour,
                    hatch="///" if cell and cell.divided else None,
                    edgecolor="white", linewidth=0,
                )
            )
            if cell:
                axes.text(
                    c + 0.5, r + 0.5, str(cell.stance) + (" ±" if cell.divided else ""),
                    ha="center", va="center", fontsize=12, weight="bold",
                    color=TEXT_COLOURS.get(cell.stance, "white"),
                    # a solid patch behind the word keeps it readable over the hatching
                    bbox={"facecolor": colour, "edgecolor": "none", "pad": 1.5},
                )
    for c, guarantee in enumerate(matrix.guarantees):
        if guarantee in matrix.contested:
            axes.add_patch(
                Rectangle((c + 0.01, 0.01), 0.98, rows - 0.02, fill=False,
                          edgecolor=CONTESTED_COLOUR, linewidth=3)
            )
    figure.suptitle(f"Security guarantees · {matrix.label}", fontsize=18, weight="bold", y=0.98)
    legend = [Patch(facecolor=STANCE_COLOURS[s], label=str(s)) for s in Stance]
    legend += [
        Patch(facecolor=EMPTY_COLOUR, label="no position"),
        Patch(facecolor="#888888", hatch="///", label="± divided: for and against"),
        Patch(facecolor="white", edgecolor=CONTESTED_COLOUR, linewidth=2,
              label="contested guarantee"),
    ]
    figure.legend(handles=legend, loc="lower center", ncol=4, fontsize=12, frameon=False,
                  bbox_to_anchor=(0.5, 0.045))
    figure.text(0.5, 0.012, caption(matrix), ha="center", va="bottom", fontsize=11,
                color="#333333", wrap=True)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()
