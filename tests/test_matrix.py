"""The conformance matrix (``matrix.md``, ``index.html``) read from a run's events."""

from __future__ import annotations

import json
import re
from pathlib import Path

import msgspec
import pytest

from conformance.cli import main
from conformance.events import (
    CheckEvent,
    DivergenceEvent,
    Event,
    EventWriter,
    RunEnded,
    RunStarted,
    TargetSkipped,
    TargetStarted,
)
from reference.compiled import PolicyCache
from reference.evaluator import evaluate_case
from reference.model import Case, ContextEntry, Decision, Policy, Request
from reports.matrix import Verdict, build_matrix
from reports.matrix_report import render_html, render_markdown, write_matrix_reports
from reports.run_events import WHOLE_CASE, EventsError, read_run
from tests.browser_support import open_page

REPLAY = "iamconf replay corpus/emu/case-abc.json --target emu"
CLAIMS = ["actions", "conditions:string"]
# Request 1 is allowed by a StringEquals statement: decided by conditions:string.
STATEMENT = {
    "Effect": "Allow",
    "Action": "s3:GetObject",
    "Resource": "*",
    "Condition": {"StringEquals": {"aws:username": "alice"}},
}
CASE = Case(
    id="case-abc",
    identity_policies=[Policy.of("p", json.dumps({"Version": "2012-10-17", "Statement": STATEMENT}), "user")],
    requests=[
        Request(action="s3:ListBucket", resource="*"),
        Request(
            action="s3:GetObject",
            resource="arn:aws:s3:::b/k",
            context=[ContextEntry(key="aws:username", type="string", values=["alice"])],
        ),
    ],
)
EXPECTED = evaluate_case(CASE, PolicyCache()).results[1]


def check(target: str, status: str, deciding: str | None, **extra: object) -> CheckEvent:
    return CheckEvent(suite="test_x", target=target, status=status, deciding=deciding, **extra)  # type: ignore[arg-type]


def divergence(target: str = "emu") -> DivergenceEvent:
    return DivergenceEvent(
        nodeid="suites/test_features.py::test_x[emu]",
        target=target,
        status="unexpected divergence",
        request_index=1,
        expected=EXPECTED,
        observed=msgspec.structs.replace(EXPECTED, decision=Decision.IMPLICIT_DENY),
        mismatches=[],
        reason=None,
        description="emu: case-abc request 0 (s3:GetObject on *): unexpected divergence: decision: expected "
        "implicitDeny, observed allowed",
        case=CASE,
        seed=7,
        corpus="corpus/emu/case-abc.json",
        replay=REPLAY,
        example="@example(...)",
    )


def write_events(folder: Path, events: list[Event]) -> Path:
    with EventWriter(folder / "events.ndjson") as writer:
        for e in events:
            writer.write(e)
    return folder


def run_events(emu_status: str = "unexpected divergence") -> list[Event]:
    """Targets ``ref-like`` (agrees, one known) and ``emu`` (diverges on conditions:string); ``aws`` skipped."""
    return [
        RunStarted(targets=["ref-like", "emu", "aws"], seed=7, profile="ci"),
        TargetStarted(target="ref-like", checks=["decision"], features=CLAIMS),
        TargetStarted(target="emu", checks=["decision"], features=CLAIMS),
        TargetSkipped(target="aws", reason="no IAMCONF_AWS_PROFILE"),
        check("ref-like", "agree", "actions"),
        check("ref-like", "agree", "actions"),
        check("ref-like", "known divergence", "conditions:string", known="some-known-id"),
        check("emu", "agree", "actions"),
        check("emu", "agree", "conditions:string"),
        check("emu", emu_status, "conditions:string"),
        check("emu", "unsupported", None, reason="cannot express", requests=3),
        *([divergence()] if emu_status == "unexpected divergence" else []),
        RunEnded(skipped_targets={"aws": "no IAMCONF_AWS_PROFILE"}),
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
    matrix = build_matrix(read_run(write_events(tmp_path, run_events())))
    assert matrix.targets == ["ref-like", "emu", "aws"]
    cell = matrix.cell("conditions:string", "emu")
    assert cell.verdict == Verdict.UNEXPECTED
    assert (cell.agree, cell.known, cell.unexpected) == (1, 0, 1)
    assert cell.case_anchors == ["case-1"]
    assert matrix.cell("actions", "emu").verdict == Verdict.AGREE
    assert matrix.cell(WHOLE_CASE, "emu").verdict == Verdict.SKIPPED
    assert matrix.cell(WHOLE_CASE, "emu").skipped == 3  # a refused case counts its requests
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
    matrix = build_matrix(read_run(write_events(tmp_path, run_events("agree"))))
    assert matrix.cell("conditions:string", "emu").verdict == Verdict.AGREE
    assert html_cell(render_html(matrix), "conditions:string", "emu") == "agree"
    assert md_cell(render_markdown(matrix), "conditions:string", 1).startswith("agree: 2 agree")
    assert "None: no divergence" in render_markdown(matrix)


def test_a_target_failure_is_unexpected(tmp_path: Path) -> None:
    events = run_events("target failure")
    matrix = build_matrix(read_run(write_events(tmp_path, events)))
    assert matrix.cell("conditions:string", "emu").verdict == Verdict.UNEXPECTED


def test_a_skipped_target_is_skipped_never_conforming(tmp_path: Path) -> None:
    matrix = build_matrix(read_run(write_events(tmp_path, run_events())))
    cell = matrix.cell("actions", "aws")
    assert cell.verdict == Verdict.SKIPPED and "no IAMCONF_AWS_PROFILE" in cell.skip_reason
    assert matrix.summaries["aws"].conformance is None
    md = render_markdown(matrix)
    aws_row = next(line for line in md.splitlines() if line.startswith("| aws |"))
    assert "n/a" in aws_row and "skipped: no IAMCONF\\_AWS\\_PROFILE" in aws_row and "100" not in aws_row
    assert html_cell(render_html(matrix), "actions", "aws") == "skipped"


def test_a_family_the_target_does_not_claim_is_skipped(tmp_path: Path) -> None:
    matrix = build_matrix(read_run(write_events(tmp_path, run_events())))
    cell = matrix.cell("conditions:ip", "emu")
    assert cell.verdict == Verdict.SKIPPED and cell.skip_reason == "emu does not claim conditions:ip"


def test_a_request_counts_under_its_deciding_family_only(tmp_path: Path) -> None:
    events: list[Event] = [
        TargetStarted(target="emu", features=CLAIMS),
        CheckEvent(
            suite="s",
            target="emu",
            status="agree",
            features=["actions", "resources", "conditions:string"],
            deciding="conditions:string",
        ),
    ]
    matrix = build_matrix(read_run(write_events(tmp_path, events)))
    assert matrix.cell("conditions:string", "emu").agree == 1
    assert matrix.cell("actions", "emu").verdict == Verdict.NOT_EXERCISED
    assert matrix.cell("resources", "emu").agree == 0


def test_the_minimal_case_sits_in_the_family_that_decided_its_request(tmp_path: Path) -> None:
    assert EXPECTED.decision == Decision.ALLOWED
    events: list[Event] = [
        check("emu", "agree", "actions"),
        check("emu", "unexpected divergence", "conditions:string"),
        divergence(),
    ]
    matrix = build_matrix(read_run(write_events(tmp_path, events)))
    assert [(c.target, c.family) for c in matrix.cases] == [("emu", "conditions:string")]
    assert matrix.cell("conditions:string", "emu").case_anchors == ["case-1"]
    assert matrix.cell("actions", "emu").case_anchors == []


def test_a_case_level_divergence_sits_in_the_whole_case_row(tmp_path: Path) -> None:
    events: list[Event] = [
        check("emu", "target failure", None),
        msgspec.structs.replace(divergence(), status="target failure", request_index=None),
    ]
    matrix = build_matrix(read_run(write_events(tmp_path, events)))
    assert matrix.cell(WHOLE_CASE, "emu").verdict == Verdict.UNEXPECTED
    assert matrix.cell(WHOLE_CASE, "emu").case_anchors == ["case-1"]


def test_one_case_with_several_failing_requests_is_listed_once(tmp_path: Path) -> None:
    events: list[Event] = [check("emu", "unexpected divergence", "actions"), divergence(), divergence()]
    matrix = build_matrix(read_run(write_events(tmp_path, events)))
    assert [c.anchor for c in matrix.cases] == ["case-1"]
    assert len(matrix.cases[0].descriptions) == 2
    assert '"action": "s3:GetObject"' in matrix.cases[0].case_json and '"id": "case-abc"' in matrix.cases[0].case_json


def test_an_unreadable_event_names_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "events.ndjson").write_text(
        '{"event": "run-end"}\n{"event": "check", "target": "emu"}\n', encoding="utf-8"
    )
    with pytest.raises(EventsError, match=r"events.ndjson:2: unreadable event"):
        read_run(tmp_path / "events.ndjson")


def test_markdown_cells_escape_table_syntax(tmp_path: Path) -> None:
    events: list[Event] = [TargetSkipped(target="emu", reason="a | b <script>")]
    md = render_markdown(build_matrix(read_run(write_events(tmp_path, events))))
    assert "a \\| b \\<script\\>" in md
    assert "<script>" not in render_html(build_matrix(read_run(tmp_path)))


def test_index_html_opens_in_a_browser_without_errors_or_requests(tmp_path: Path) -> None:
    report = write_events(tmp_path / "report", run_events())
    md, html = write_matrix_reports(report)
    assert md.name == "matrix.md" and html.name == "index.html"
    source = html.read_text(encoding="utf-8")
    for external in ("<script", "<link", "<img", "@import", "url(", "src=", "http://", "https://"):
        assert external not in source, external
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


def test_a_real_divergent_run_shows_unexpected_cells_with_replay(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """End to end: a target that flips every decision; its cells are unexpected, never agree."""
    import conformance.pytest_plugin as plugin
    from tests.test_run_command import Contrarian

    monkeypatch.setattr(plugin, "make_target", lambda name, options: Contrarian())
    monkeypatch.setattr(plugin.corpus, "CORPUS_DIR", tmp_path / "corpus")
    report = tmp_path / "report"
    code = main(["run", "--target", "iam-simulate", "--max-examples", "3", "--report-dir", str(report)])
    capsys.readouterr()
    assert code == 1
    matrix = build_matrix(read_run(report))
    verdicts = {f: matrix.cell(f, "iam-simulate").verdict for f in matrix.families}
    assert Verdict.UNEXPECTED in verdicts.values()
    assert Verdict.AGREE not in verdicts.values()
    assert matrix.cases and all(c.replay.startswith("iamconf replay ") for c in matrix.cases)
    md = (report / "matrix.md").read_text(encoding="utf-8")
    assert "**unexpected**" in md and matrix.cases[0].replay in md
    anchored = [f for f in matrix.families if matrix.cell(f, "iam-simulate").case_anchors]
    assert anchored and all(verdicts[f] == Verdict.UNEXPECTED for f in anchored)


def test_the_templates_are_package_data() -> None:
    """``pip install .`` ships every template (a missing pattern breaks the installed ``iamconf run``)."""
    import fnmatch
    import tomllib

    root = Path(__file__).resolve().parent.parent
    patterns = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"][
        "package-data"
    ]["reports"]
    templates = sorted(p.relative_to(root / "reports").as_posix() for p in (root / "reports/templates").iterdir())
    assert {"templates/index.html.j2", "templates/matrix.md.j2"} <= set(templates)
    assert all(any(fnmatch.fnmatch(t, pattern) for pattern in patterns) for t in templates)
