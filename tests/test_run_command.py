"""``iamconf run`` end to end: exit codes, reports, skipped targets, divergences."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import msgspec
import pytest

import conformance.pytest_plugin as plugin
from conformance.cli import main
from conformance.targets.base import Capabilities, Check, TargetAnswer
from reference.compiled import PolicyCache
from reference.evaluator import evaluate_case
from reference.model import Case, Decision


def events(report: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (report / "events.ndjson").read_text().splitlines()]


def test_run_against_iam_simulate_writes_reports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["run", "--target", "iam-simulate", "--max-examples", "3", "--report-dir", str(tmp_path), "--seed", "1"]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    kinds = [e["event"] for e in events(tmp_path)]
    assert kinds[0] == "run-start" and kinds[-1] == "run-end" and "check" in kinds
    assert (tmp_path / "junit.xml").read_text().startswith("<?xml")
    assert "iam-simulate" in out and "agree" in out


def test_a_named_target_that_cannot_start_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", "--target", "aws-simulator", "--max-examples", "1", "--report-dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 2
    assert "skipped aws-simulator:" in out and "IAMCONF_AWS" in out
    assert "could not start" in out


def test_unknown_target_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--target", "nope"]) == 2
    assert "unknown target 'nope'" in capsys.readouterr().err


class Contrarian:
    """A target that allows whatever the reference denies: every check diverges."""

    name = "iam-simulate"
    capabilities = Capabilities(checks=frozenset({Check.DECISION}), features=frozenset({"actions"}))

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def answer(self, cases: Sequence[Case]) -> list[TargetAnswer]:
        out: list[TargetAnswer] = []
        for c in cases:
            result = evaluate_case(c, PolicyCache())
            flipped = [
                msgspec.structs.replace(
                    r, decision=Decision.IMPLICIT_DENY if r.decision == Decision.ALLOWED else Decision.ALLOWED
                )
                for r in result.results
            ]
            out.append(msgspec.structs.replace(result, results=flipped))
        return out


def test_an_unexpected_divergence_is_exit_1_with_a_reproduction(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(plugin, "make_target", lambda name, options: Contrarian())
    corpus_dir = tmp_path / "corpus"
    monkeypatch.setattr(plugin.corpus, "CORPUS_DIR", corpus_dir)
    report = tmp_path / "report"
    code = main(["run", "--target", "iam-simulate", "--max-examples", "5", "--report-dir", str(report)])
    out = capsys.readouterr().out
    assert code == 1
    divergences = [e for e in events(report) if e["event"] == "divergence"]
    assert divergences
    d = divergences[0]
    assert str(d["replay"]).startswith("iamconf replay ") and "--target iam-simulate" in str(d["replay"])
    assert str(d["example"]).startswith("@example(")
    assert Path(str(d["corpus"])).is_file()
    assert "DIVERGENCE" in out and "reproduce: iamconf replay" in out
