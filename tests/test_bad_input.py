"""Regressions found by the fuzzer (``tox -e fuzz``), pinned as plain tests: each input gets one located line
and exit 2, and the rest of a batch is still answered."""

from __future__ import annotations

import http.client
import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from conformance.cli import main
from conformance.serve import running_server

VALID_CASE = {
    "id": "ok",
    "identity_policies": [
        {
            "id": "p",
            "document": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]},
        }
    ],
    "requests": [{"action": "s3:GetObject", "resource": "*"}],
}


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_deeply_nested_case_line_is_one_error_and_the_batch_goes_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cases = tmp_path / "cases.jsonl"
    cases.write_text("[" * 5000 + "]" * 5000 + "\n" + json.dumps(VALID_CASE) + "\n")
    code, out, err = run(capsys, "evaluate", "--cases", str(cases))
    assert code == 2
    first, second = (json.loads(line) for line in out.splitlines())
    assert first["error"]["code"] == "malformed-json" and "nested" in first["error"]["message"]
    assert second == {"id": "ok", "results": second["results"]} and second["results"][0]["decision"] == "allowed"
    assert err == f"{cases}:1:201: error [malformed-json] $: malformed JSON: nested more than 200 levels deep\n"


@pytest.mark.parametrize("command", [["evaluate", "--action", "s3:GetObject", "--resource", "*"], ["generate"]])
@pytest.mark.parametrize("levels", [201, 600, 3000])
def test_deeply_nested_policy_is_located(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str], levels: int
) -> None:
    """201 and 600 levels are read by msgspec's formatter (the policy's tokens: reference.document measures
    their depth once decoded), 3000 are not (the text is measured first)."""
    policy = tmp_path / "p.json"
    policy.write_text('{"Statement":' + "[" * levels + "]" * levels + "}")
    code, _, err = run(capsys, *command, "--policy", str(policy))
    assert code == 2
    assert err == f"{policy}:1:{13 + 200}: error [malformed-json] $: malformed JSON: nested more than 200 levels deep\n"


def test_a_policy_two_hundred_levels_deep_is_read(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    policy = tmp_path / "p.json"
    policy.write_text('{"Statement":' + "[" * 199 + "]" * 199 + "}")  # the object and 199 arrays: 200 levels
    code, _, err = run(capsys, "evaluate", "--action", "s3:GetObject", "--resource", "*", "--policy", str(policy))
    assert code == 2
    assert "malformed-json" not in err and err.startswith(f"{policy}:1:")


def test_generate_names_the_line_and_column_of_a_bad_policy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    policy = tmp_path / "p.json"
    policy.write_text('{\n  "Version": "2012-10-17",\n  "Statement": [{"Effect": "Allow", "Action": "s3:*"}]\n}\n')
    code, out, err = run(capsys, "generate", "--count", "1", "--policy", str(policy))
    assert code == 2 and out == ""
    assert err.startswith(f"{policy}:3:17: error [missing-resource] $.Statement[0]: ")


def test_policy_that_is_not_utf8_is_located(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    policy = tmp_path / "p.json"
    policy.write_bytes(b'{\n  "Sid": "caf\xe9"\n}')
    code, _, err = run(capsys, "evaluate", "--policy", str(policy), "--action", "s3:GetObject", "--resource", "*")
    assert code == 2
    assert err == f"iamconf: error: {policy}:2:14: error [invalid-character] $: byte 0xe9 is not UTF-8 text\n"


def test_json_path_of_an_odd_key_stays_on_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    policy = tmp_path / "p.json"
    policy.write_text('{"\\n": 1}')
    code, _, err = run(capsys, "evaluate", "--policy", str(policy), "--action", "s3:GetObject", "--resource", "*")
    assert code == 2 and err.count("\n") == 1 and '$["\\n"]' in err


@pytest.mark.parametrize("length", ["abc", "-5"])
def test_serve_answers_a_broken_content_length_with_an_error(length: str) -> None:
    with running_server() as url:
        parts = urlsplit(url)
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        conn.putrequest("POST", "/")
        conn.putheader("Content-Length", length)
        conn.endheaders()
        response = conn.getresponse()
        body = response.read()
        conn.close()
    assert response.status == 400 and b"<Code>MalformedQueryString</Code>" in body
