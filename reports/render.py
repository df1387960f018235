"""One renderer per format, all reading the report model (``reports.model``).

Text, Markdown and HTML come from ``jinja2`` templates shipped as package data
(``reports/templates``); JSON is the model as builtins; SARIF is ``reports.sarif``.
The HTML is one self-contained page: inline CSS, no script, no font, no fetch.
"""

from __future__ import annotations

import functools
import json
from typing import Any

import jinja2

from reports.model import CheckReport, DiffReport, Format, to_json
from reports.sarif import check_sarif, diff_sarif
from reports.wording import VERB, request_json, where


@functools.cache
def _env(autoescape: bool) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("reports", "templates"),
        autoescape=autoescape,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["where"] = where
    env.filters["verb"] = lambda d: VERB.get(d, d)
    env.filters["request_json"] = request_json
    env.filters["md"] = _md_cell
    return env


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_diff(report: DiffReport, fmt: Format, *, title: str = "") -> str:
    if fmt == "json":
        return json.dumps(to_json(report), indent=2) + "\n"
    if fmt == "sarif":
        return json.dumps(diff_sarif(report), indent=2) + "\n"
    template = {"text": "diff.txt.j2", "md": "diff.md.j2", "html": "diff.html.j2"}[fmt]
    return _env(fmt == "html").get_template(template).render(r=report, title=title or _title(report))


def render_check(report: CheckReport, fmt: Format, *, title: str = "") -> str:
    if fmt == "json":
        return json.dumps(to_json(report), indent=2) + "\n"
    if fmt == "sarif":
        return json.dumps(check_sarif(report), indent=2) + "\n"
    template = {"text": "check.txt.j2", "md": "check.md.j2", "html": "check.html.j2"}[fmt]
    return _env(fmt == "html").get_template(template).render(r=report, title=title or f"iamconf check: {report.spec}")


def _title(report: DiffReport) -> str:
    return f"iamconf diff: {report.versions['old'].source} -> {report.versions['new'].source}"


def summary(report: DiffReport) -> dict[str, Any]:
    """Counts the templates and the CLI share."""
    return {
        "newly_allowed": len(report.newly_allowed),
        "newly_denied": len(report.newly_denied),
        "requests": report.searched.requests,
    }
