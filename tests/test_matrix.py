"""The conformance matrix (``matrix.md``, ``index.html``) read from a run's events."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from conformance.cli import main
from reports.matrix import Verdict, build_matrix
from reports.matrix_report import render_html, render_markdown, write_matrix_reports
from reports.run_events import EventsError, read_run
from tests.browser_support import open_page

REPLAY = "iamconf replay corpus/emu/case-abc.json --target emu"
CASE = {"id": "case-abc", "identity_policies": [], "requests": [{"action": "s3:GetObject", "resource": "*"}]}


def check(
    target: str, status: str, family: str | None = None, features: list[str] | None = None, **extra: Any
) -> dict[str, Any]:
    e: dict[str, Any] = {"event": "check", "suite": "test_x", "target": target, "status": status}
    e["features"] = features if features is not None else ([family] if family else ["actions"])
    if family is not None:
        e["family"] = family
    return {**e, **extra}


def divergence(target: str = "emu") -> dict[str, Any]:
    return {
        "event": "divergence",
        "nodeid": "suites/test_features.py::test_x[emu]",
        "target": target,
        "status": "unexpected divergence",
        "description": "emu: case-abc request 0 (s3:GetObject on *): unexpected divergence: decision: expected "
        "implicitDeny, observed allowed",
        "case": CASE,
        "seed": 7,
        "corpus": "corpus/emu/case-abc.json",
        "replay": REPLAY,
        "example": "@example(...)",
    }


def write_events(folder: Path, events: list[dict[str, Any]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "events.ndjson").write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    return folder


def run_events(emu_status: str = "unexpected divergence") -> list[dict[str, Any]]:
    """Targets ``ref-like`` (all agree, one known) and ``emu`` (diverges on conditions:string), ``aws`` skipped."""
    return [
        {"event": "run-start", "targets": ["ref-like", "emu", "aws"], "seed": 7, "profile": "ci"},
        {
            "event": "target-started",
            "target": "ref-like",
            "checks": ["decision"],
            "features": ["actions", "conditions:string"],
        },
        {
            "event": "target-started",
            "target": "emu",
            "checks": ["decision"],
            "features": ["actions", "conditions:string"],
        },
        {"event": "target-skipped", "target": "aws", "reason": "no IAMCONF_AWS_PROFILE"},
        check("ref-like", "agree", "actions"),
        check("ref-like", "agree", "actions"),
        check("ref-like", "known divergence", "conditions:string", known="some-known-id"),
        check("emu", "agree", "actions"),
        check("emu", "agree", "conditions:string"),
        check("emu", emu_status, "conditions:string"),
        check("emu", "unsupported", "actions", reason="cannot express"),
        *([divergence()] if emu_status == "unexpected divergence" else []),
        {"event": "run-end", "skipped_targets": {"aws": "no IAMCONF_AWS_PROFILE"}},
    ]


def html_cell(html: str, family: str, target: str) -> str:
    found = re.search(
        rf'<td [^>]*data-family="{re.escape(family)}" data-target="{target}" data-verdict="([^"]+)"', html
    )
    assert found, f"no cell {family} x {target}"
    return found.group(1)


def md_cell(md: str, family: str, target_index: int) -> str:
    row = next(line for line in md.splitlines() if line.startswith(f"| {family} |"))
    return row.split(" | ")[target_index + 1]


def test_a_divergence_is_unexpected_with_its_replay_command(tmp_path: Path) -> None:
    matrix = build_matrix(read_run(write_events(tmp_path, run_events()) / "events.ndjson"))
    assert matrix.targets == ["ref-like", "emu", "aws"]
    cell = matrix.cell("conditions:string", "emu")
    assert cell.verdict == Verdict.UNEXPECTED
    assert (cell.agree, cell.known, cell.unexpected) == (1, 0, 1)
    assert cell.case_anchors == ["case-1"]
    assert matrix.cell("actions", "emu").verdict == Verdict.AGREE
    assert (matrix.cell("actions", "emu").agree, matrix.cell("actions", "emu").skipped) == (1, 1)
    assert matrix.cell("conditions:string", "ref-like").verdict == Verdict.KNOWN
    assert matrix.summaries["emu"].conformance == pytest.approx(2 / 3)
    assert matrix.summaries["ref-like"].conformance == 1.0

    md = render_markdown(matrix)
    assert md_cell(md, "conditions:string", 1).startswith("**unexpected**: 1 agree · 1 unexpected")
    assert "[case-1](#case-1)" in md_cell(md, "conditions:string", 1)
    assert md_cell(md, "conditions:string", 0).startswith("*known divergence*")
    assert '<a id="case-1"></a>' in md and REPLAY in md
    html = render_html(matrix)
    assert html_cell(html, "conditions:string", "emu") == "unexpected"
    assert html_cell(html, "actions", "emu") == "agree"
    assert 'id="case-1"' in html and REPLAY in html and 'href="#case-1"' in html


def test_the_same_request_agreeing_renders_agree(tmp_path: Path) -> None:
    """The counterpart of the test above: the cell's verdict follows the events, it is not fixed."""
    matrix = build_matrix(read_run(write_events(tmp_path, run_events("agree")) / "events.ndjson"))
    assert matrix.cell("conditions:string", "emu").verdict == Verdict.AGREE
    assert html_cell(render_html(matrix), "conditions:string", "emu") == "agree"
    assert md_cell(render_markdown(matrix), "conditions:string", 1).startswith("agree: 2 agree")
    assert "None: no divergence" in render_markdown(matrix)


def test_a_target_failure_is_unexpected(tmp_path: Path) -> None:
    events = run_events("target failure")
    matrix = build_matrix(read_run(write_events(tmp_path, events) / "events.ndjson"))
    assert matrix.cell("conditions:string", "emu").verdict == Verdict.UNEXPECTED


def test_a_skipped_target_is_skipped_never_conforming(tmp_path: Path) -> None:
    matrix = build_matrix(read_run(write_events(tmp_path, run_events()) / "events.ndjson"))
    cell = matrix.cell("actions", "aws")
    assert cell.verdict == Verdict.SKIPPED and "no IAMCONF_AWS_PROFILE" in cell.skip_reason
    assert matrix.summaries["aws"].conformance is None
    md = render_markdown(matrix)
    aws_row = next(line for line in md.splitlines() if line.startswith("| aws |"))
    assert "n/a" in aws_row and "skipped: no IAMCONF\\_AWS\\_PROFILE" in aws_row and "100" not in aws_row
    assert html_cell(render_html(matrix), "actions", "aws") == "skipped"


def test_a_family_the_target_does_not_claim_is_skipped(tmp_path: Path) -> None:
    matrix = build_matrix(read_run(write_events(tmp_path, run_events()) / "events.ndjson"))
    cell = matrix.cell("conditions:ip", "emu")
    assert cell.verdict == Verdict.SKIPPED and cell.skip_reason == "emu does not claim conditions:ip"


def test_a_request_counts_under_its_deciding_family_only(tmp_path: Path) -> None:
    events = [
        {"event": "target-started", "target": "emu", "features": ["actions", "conditions:string"]},
        check("emu", "agree", "conditions:string", features=["actions", "resources", "conditions:string"]),
    ]
    matrix = build_matrix(read_run(write_events(tmp_path, events) / "events.ndjson"))
    assert matrix.counted_by_deciding_family
    assert matrix.cell("conditions:string", "emu").agree == 1
    assert matrix.cell("actions", "emu").verdict == Verdict.NOT_EXERCISED
    assert matrix.cell("resources", "emu").agree == 0


def test_events_without_a_deciding_family_count_under_every_family_and_say_so(tmp_path: Path) -> None:
    events = [
        check("emu", "unexpected divergence", features=["actions", "conditions:ip"]),
        divergence(),
    ]
    matrix = build_matrix(read_run(write_events(tmp_path, events) / "events.ndjson"))
    assert not matrix.counted_by_deciding_family
    assert matrix.cell("actions", "emu").unexpected == matrix.cell("conditions:ip", "emu").unexpected == 1
    # the minimal case belongs to the families of the last failing check of its target
    assert matrix.cases[0].families == ("actions", "conditions:ip")
    assert "counts under every family its case exercises" in render_markdown(matrix)


def test_one_case_with_several_failing_requests_is_listed_once(tmp_path: Path) -> None:
    events = [check("emu", "unexpected divergence", "actions"), divergence(), divergence()]
    matrix = build_matrix(read_run(write_events(tmp_path, events) / "events.ndjson"))
    assert [c.anchor for c in matrix.cases] == ["case-1"]
    assert len(matrix.cases[0].descriptions) == 2


def test_an_unreadable_event_names_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "events.ndjson").write_text('{"event": "run-start"}\n{"event": "check"\n', encoding="utf-8")
    with pytest.raises(EventsError, match=r"events.ndjson:2: unreadable event"):
        read_run(tmp_path / "events.ndjson")


def test_markdown_cells_escape_table_syntax(tmp_path: Path) -> None:
    events = [{"event": "target-skipped", "target": "emu", "reason": "a | b <script>"}]
    md = render_markdown(build_matrix(read_run(write_events(tmp_path, events) / "events.ndjson")))
    assert "a \\| b \\<script\\>" in md
    assert "<script>" not in render_html(build_matrix(read_run(tmp_path / "events.ndjson")))


def test_index_html_opens_in_a_browser_without_errors_or_requests(tmp_path: Path) -> None:
    report = write_events(tmp_path / "report", run_events())
    md, html = write_matrix_reports(report)
    assert md.name == "matrix.md" and html.name == "index.html"
    page = open_page(
        html,
        selectors=[
            'td[data-family="conditions:string"][data-target="emu"]',
            'td[data-family="actions"][data-target="aws"]',
            "#case-1 .replay",
            "#conformance-chart rect.unexpected",
        ],
    )
    assert page.console_errors == []
    assert page.requests == []
    assert page.title == "IAM conformance matrix"
    (emu_cell,) = page.selected['td[data-family="conditions:string"][data-target="emu"]']
    assert emu_cell.startswith("unexpected") and "case-1" in emu_cell
    (aws_cell,) = page.selected['td[data-family="actions"][data-target="aws"]']
    assert aws_cell.startswith("skipped") and "no IAMCONF_AWS_PROFILE" in aws_cell
    assert page.selected["#case-1 .replay"] == [REPLAY]
    assert len(page.selected["#conformance-chart rect.unexpected"]) == 1  # emu's bar only
    assert "66.7% conforming (2 of 3 compared requests)" in page.text
    assert "skipped: no IAMCONF_AWS_PROFILE" in page.text


def test_iamconf_run_writes_the_matrix(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["run", "--target", "iam-simulate", "--max-examples", "2", "--report-dir", str(tmp_path), "--seed", "3"]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert str(tmp_path / "index.html") in out and str(tmp_path / "matrix.md") in out
    md = (tmp_path / "matrix.md").read_text(encoding="utf-8")
    assert "| feature family | iam-simulate |" in md
    assert re.search(r"^\| actions \| (agree|\*known divergence\*): \d+ agree", md, re.M), md
    page = open_page(tmp_path / "index.html", selectors=['td[data-family="actions"][data-target="iam-simulate"]'])
    assert page.console_errors == [] and page.requests == []
    (cell,) = page.selected['td[data-family="actions"][data-target="iam-simulate"]']
    assert cell.startswith(("agree", "known divergence"))
