"""``matrix.md`` and a self-contained ``index.html`` for one run's report directory.

Both come from jinja2 templates shipped in ``reports/templates``.  The HTML
page needs nothing but itself: inline CSS, the chart as inline SVG, no
script, no font, no image, no request of any kind.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import jinja2

from reports.matrix import Cell, Matrix, TargetSummary, Verdict, build_matrix
from reports.run_events import WHOLE_CASE, read_run

CHART_WIDTH = 640  # px of the bar area in the SVG
CHART_ROW = 34


@dataclass(frozen=True)
class Segment:
    kind: str  # css class: agree, known, unexpected, skipped
    label: str
    count: int
    x: float
    width: float


@dataclass(frozen=True)
class Bar:
    target: str
    y: int
    segments: tuple[Segment, ...]
    caption: str


def _caption(s: TargetSummary) -> str:
    if s.skip_reason:
        return f"skipped: {s.skip_reason}"
    if s.conformance is None:
        return "nothing compared"
    return f"{s.conformance:.1%} conforming ({s.agree + s.known} of {s.checked} compared requests)"


def chart_bars(matrix: Matrix) -> list[Bar]:
    """One stacked bar per target: agree, known, unexpected, skipped, as shares of its requests."""
    bars = []
    for n, target in enumerate(matrix.targets):
        s = matrix.summaries[target]
        parts = [
            ("agree", "agree", s.agree),
            ("known", "known divergence", s.known),
            ("unexpected", "unexpected", s.unexpected),
            ("skipped", "skipped", s.skipped),
        ]
        total = sum(count for _, _, count in parts)
        segments = []
        x = 0.0
        for kind, label, count in parts:
            if not count:
                continue
            width = CHART_WIDTH * count / total
            segments.append(Segment(kind, label, count, round(x, 2), round(width, 2)))
            x += width
        bars.append(Bar(target, n * CHART_ROW, tuple(segments), _caption(s)))
    return bars


def _counts(cell: Cell) -> str:
    parts = [
        f"{n} {label}"
        for n, label in (
            (cell.agree, "agree"),
            (cell.known, "known"),
            (cell.unexpected, "unexpected"),
            (cell.skipped, "skipped"),
        )
        if n
    ]
    return " · ".join(parts)


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _md(text: object) -> str:
    """Text safe inside a Markdown table cell or paragraph."""
    out = str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")
    for ch in "<>*_`[]":
        out = out.replace(ch, "\\" + ch)
    return out


@functools.cache
def _environment(autoescape: bool) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("reports", "templates"),
        autoescape=autoescape,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["counts"] = _counts
    env.filters["percent"] = _percent
    env.filters["md"] = _md
    return env


def _context(matrix: Matrix) -> dict[str, object]:
    rows = [
        f for f in matrix.families if any(matrix.cell(f, t).verdict != Verdict.NOT_EXERCISED for t in matrix.targets)
    ]
    return {
        "m": matrix,
        "rows": rows,
        "unexercised": [f for f in matrix.families if f not in rows and f != WHOLE_CASE],
        "bars": chart_bars(matrix),
        "chart_width": CHART_WIDTH,
        "chart_row": CHART_ROW,
        "Verdict": Verdict,
    }


def render_markdown(matrix: Matrix) -> str:
    return _environment(False).get_template("matrix.md.j2").render(_context(matrix))


def render_html(matrix: Matrix) -> str:
    return _environment(True).get_template("index.html.j2").render(_context(matrix))


def write_matrix_reports(report_dir: Path) -> list[Path]:
    """Read ``report_dir/events.ndjson``; write ``matrix.md`` and ``index.html`` beside it."""
    matrix = build_matrix(read_run(report_dir / "events.ndjson"))
    md = report_dir / "matrix.md"
    html = report_dir / "index.html"
    md.write_text(render_markdown(matrix), encoding="utf-8")
    html.write_text(render_html(matrix), encoding="utf-8")
    return [md, html]
