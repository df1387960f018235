"""``iamconf replay``: a verdict per request and target, and the exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import conformance.replay_command as replay_command
from conformance.cli import main
from tests.test_run_command import Contrarian

CASE = {
    "id": "c",
    "identity_policies": [
        {
            "id": "p",
            "document": {"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}},
        }
    ],
    "requests": [{"action": "s3:GetObject", "resource": "arn:aws:s3:::b/k"}, {"action": "ec2:RunInstances"}],
}


def test_agreement_is_exit_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "c.jsonl"
    f.write_text(json.dumps(CASE) + "\n")
    code = main(["replay", str(f), "--target", "iam-simulate"])
    out = capsys.readouterr().out
    assert code == 0
    assert "c request 0 (s3:GetObject on arn:aws:s3:::b/k) [iam-simulate]: agree (allowed)" in out


def test_an_unexpected_divergence_is_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(replay_command, "make_target", lambda name, options: Contrarian())
    f = tmp_path / "c.json"
    f.write_text(json.dumps(CASE, indent=2))
    code = main(["replay", str(f), "--target", "iam-simulate"])
    out = capsys.readouterr().out
    assert code == 1
    assert "unexpected divergence (decision: expected allowed, observed implicitDeny)" in out


def test_known_divergence_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    witness = Path(replay_command.__file__).parent / "corpus" / "iam-simulate" / "ipv4-zero-prefix.json"
    assert main(["replay", str(witness), "--target", "iam-simulate"]) == 0
    assert "known divergence: IpAddress 0.0.0.0/0 matches no address" in capsys.readouterr().out


def test_bad_case_file_is_exit_2_and_the_rest_is_answered(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "c.jsonl"
    f.write_text(json.dumps(CASE) + "\n{not json\n")
    code = main(["replay", str(f), "--target", "iam-simulate"])
    captured = capsys.readouterr()
    assert code == 2
    assert f"{f}:2: error [malformed-json]" in captured.err
    assert "agree (allowed)" in captured.out


def test_unavailable_target_is_reported_as_skipped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "c.jsonl"
    f.write_text(json.dumps(CASE) + "\n")
    assert main(["replay", str(f), "--target", "aws-simulator"]) == 0
    assert "[aws-simulator]: skipped:" in capsys.readouterr().out
