"""No secrets or account identity in outputs (issue 9, item 8): the scanner finds what it must, and
recordings mask every account that is not a documentation one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conformance.secret_scan import main, scan_paths, scan_text
from conformance.serve import running_server
from conformance.targets.aws_simulator import AwsSimulatorTarget
from conformance.targets.replay import RecordingStore
from reference.model import Case, Policy, Request
from tests.output_scan import PLANTED, scan_session_outputs

FAKE_KEY_ID = "AKIAQ7PLANTEDZ3X9W2Y"
FAKE_SESSION_KEY_ID = "ASIAQ7PLANTEDZ3X9W2Y"
FAKE_SECRET = "pLaNt3d/S3cr3tK3y+Th4tMu5tN0tB3L0gg3d9Q7"
REAL_LOOKING_ACCOUNT = "987654321098"


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        (f'{{"caller": "{FAKE_KEY_ID}"}}', "access-key-id"),
        (f"key {FAKE_SESSION_KEY_ID} used", "access-key-id"),
        (f"aws_secret_access_key = {FAKE_SECRET}", "secret-access-key"),
        (f'"SecretAccessKey": "{FAKE_SECRET}"', "secret-access-key"),
        (f'{{"value": "{FAKE_SECRET}"}}', "secret-access-key"),
        ('token="IQoJb3JpZ2luX2VjEFAKEFAKEFAKEFAKEFAKE"', "session-token"),
    ],
)
def test_a_planted_credential_is_found(line: str, kind: str) -> None:
    findings = list(scan_text(f"first line\n{line}\n", Path("report.json")))
    assert [f.kind for f in findings] == [kind]
    assert findings[0].line == 2
    assert FAKE_SECRET not in findings[0].one_line()  # the finding never repeats the secret


@pytest.mark.parametrize(
    "line",
    [
        '"EvalActionName": "logs:DisassociateSourceFromS3TableIntegration"',
        '"key": "3f786850e387550fdab836ed7e6dc881de23001b"',  # a hex digest
        '"Resource": "arn:aws:appmesh:us-east-1:111122223333:mesh/w/virtualGateway/uY3Fgo0a7r3xHtLRTS"',
        '"AccessKeyId": "AKIA"',
    ],
)
def test_ordinary_report_text_is_not_a_finding(line: str) -> None:
    assert list(scan_text(line, Path("r.json"))) == []


def test_an_unmasked_account_in_a_recording_is_found_and_documentation_accounts_are_not() -> None:
    text = f'{{"caller": "arn:aws:iam::{REAL_LOOKING_ACCOUNT}:user/u", "owner": "arn:aws:s3:::b"}}'
    assert [f.kind for f in scan_text(text, Path("rec.json"), accounts=True)] == ["account-id"]
    assert list(scan_text(text.replace(REAL_LOOKING_ACCOUNT, "111122223333"), Path("r"), accounts=True)) == []
    assert list(scan_text(text, Path("report.json"))) == []  # reports mask accounts only on request


def test_recordings_mask_the_accounts_of_a_case(tmp_path: Path) -> None:
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::b-{REAL_LOOKING_ACCOUNT}/*"}
        ],
    }
    case = Case(
        id="accounts",
        identity_policies=[Policy.of("p", json.dumps(document, indent=2), "user")],
        caller_arn=f"arn:aws:iam::{REAL_LOOKING_ACCOUNT}:user/alice",
        requests=[Request(action="s3:GetObject", resource=f"arn:aws:s3:::b-{REAL_LOOKING_ACCOUNT}/k")],
    )
    with running_server() as url:
        target = AwsSimulatorTarget(explicitly_requested=True, endpoint_url=url, recorder=RecordingStore(tmp_path))
        target.start()
        try:
            [answer] = target.answer([case])
        finally:
            target.stop()
    assert not isinstance(answer, str)
    [recording] = tmp_path.glob("*.json")
    assert REAL_LOOKING_ACCOUNT not in recording.read_text()
    assert scan_paths([tmp_path], accounts=True) == []


def test_the_command_exits_1_on_a_planted_key_and_0_on_clean_outputs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clean = tmp_path / "clean"
    clean.mkdir()
    (clean / "events.ndjson").write_text('{"event": "check", "status": "agree"}\n')
    assert main([str(clean)]) == 0
    planted = tmp_path / PLANTED
    planted.mkdir()
    (planted / "matrix.md").write_text(f"| a | b |\n| {FAKE_KEY_ID} | x |\n")
    assert main([str(clean), str(planted)]) == 1
    err = capsys.readouterr().err
    assert f"{planted / 'matrix.md'}:2:3: error [access-key-id]" in err and FAKE_KEY_ID not in err


def test_the_session_scan_fails_on_a_planted_report_and_skips_declared_plants(tmp_path: Path) -> None:
    """The end-of-session scan (tests/output_scan.py) over a folder like pytest's temporary one."""
    base = tmp_path / PLANTED / "session"  # the real session scan leaves this test's plants out
    (base / "popen-gw1" / "test_x0" / "report").mkdir(parents=True)
    (base / "popen-gw1" / "test_x0" / "report" / "events.ndjson").write_text('{"event": "run-start"}\n')
    assert scan_session_outputs(base) == []
    (base / PLANTED).mkdir()
    (base / PLANTED / "report.json").write_text(f'{{"k": "{FAKE_KEY_ID}"}}')
    assert scan_session_outputs(base) == []
    leak = base / "popen-gw1" / "test_x0" / "report" / "index.html"
    leak.write_text(f"<td>{FAKE_SECRET}</td>")
    recording = base / "popen-gw1" / "test_x0" / "recordings" / "c.json"
    recording.parent.mkdir()
    recording.write_text(f'{{"format": "iamconf-recording/1", "caller": "arn:aws:iam::{REAL_LOOKING_ACCOUNT}:user/u"}}')
    found = scan_session_outputs(base)
    assert len(found) == 2 and "secret-access-key" in found[1 if "index" in found[1] else 0]
    assert any("account-id" in f and "c.json" in f for f in found)
