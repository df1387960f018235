"""Bad input never produces a traceback or a hang (``tox -e fuzz``).

Every input below is drawn by Hypothesis from ``fuzz/bad_input.py``; each test
runs ``IAMCONF_FUZZ_EXAMPLES`` inputs (default 2,500; four tests make 10,000),
derandomized under the ``ci`` profile (a fixed seed) and random under
``nightly``.  What each must do:

- a policy file (``iamconf evaluate --policy``, ``iamconf generate --policy``):
  exit 0, or exit 2 with exactly one line on stderr naming the file, the line and
  column or the JSON path, and the error code;
- a batch of case lines (``iamconf evaluate --cases``): one result line per
  non-blank input line, in order; the valid cases around the bad line answered
  exactly as they are alone; one located stderr line per refused line; exit 2
  when any line was refused;
- a Query request to ``iamconf serve``: a result or the API's error answer
  (HTTP 4xx), never an internal failure; over HTTP, the server keeps answering.
"""

from __future__ import annotations

import io
import json
import os
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from unittest import mock

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conformance.cli import main
from conformance.serve import ApiError, Simulator, running_server
from fuzz.bad_input import mutated, unusual_text, valid_case_lines, valid_policies

EXAMPLES = int(os.environ.get("IAMCONF_FUZZ_EXAMPLES", "2500"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=timedelta(seconds=10),  # a hang detector, not a speed test
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)

# file[:line[:column]]: error [code] $path: message  (optionally after "iamconf: error: ")
LOCATED = re.compile(r"^(iamconf: error: )?(?P<file>[^\n]+?)(:\d+(:\d+)?)?: error \[[a-z0-9-]+\] \$[^\n]*: [^\n]+$")


@dataclass
class Ran:
    code: int
    out: bytes
    err: str


def run_cli(argv: Sequence[str], stdin: bytes = b"") -> Ran:
    """``iamconf`` in this process with its standard streams captured (any exception fails the test)."""
    out, err = io.BytesIO(), io.BytesIO()
    streams = {
        "stdin": io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8"),
        "stdout": io.TextIOWrapper(out, encoding="utf-8", write_through=True),
        "stderr": io.TextIOWrapper(err, encoding="utf-8", write_through=True),
    }
    with mock.patch.multiple(sys, **streams):
        code = main(list(argv))
        sys.stdout.flush()
        sys.stderr.flush()
    return Ran(code, out.getvalue(), err.getvalue().decode("utf-8"))


class Counter:
    def __init__(self) -> None:
        self.n = 0


def assert_one_located_line(ran: Ran, path: Path) -> None:
    lines = ran.err.splitlines()
    assert len(lines) == 1, f"expected one error line, got {ran.err!r}"
    m = LOCATED.match(lines[0])
    assert m is not None, f"error line does not name file, location and code: {lines[0]!r}"
    assert str(path) in m.group("file"), lines[0]


def _fuzz_policy_file(tmp_path: Path, argv_of: Callable[[Path], list[str]]) -> None:
    count = Counter()

    @FUZZ
    @given(mutated(valid_policies()))
    def check(data: bytes) -> None:
        count.n += 1
        path = tmp_path / "policy.json"
        path.write_bytes(data)
        ran = run_cli(argv_of(path))
        assert ran.code in (0, 2), ran
        if ran.code == 2:
            assert_one_located_line(ran, path)
        else:
            assert ran.err == "" or "warning" in ran.err

    check()
    assert count.n >= EXAMPLES  # nothing skipped


def test_policy_files_to_evaluate(tmp_path: Path) -> None:
    _fuzz_policy_file(
        tmp_path, lambda p: ["evaluate", "--policy", str(p), "--action", "s3:GetObject", "--resource", "*"]
    )


def test_policy_files_to_generate(tmp_path: Path) -> None:
    _fuzz_policy_file(tmp_path, lambda p: ["generate", "--count", "1", "--seed", "1", "--policy", str(p)])


def test_case_batches_answer_every_line_in_order(tmp_path: Path) -> None:
    valid = valid_case_lines()
    alone = {line: run_cli(["evaluate", "--cases", "-"], line.encode()).out for line in valid}
    count = Counter()

    @FUZZ
    @given(st.sampled_from(valid), mutated(valid), st.sampled_from(valid))
    def check(before: str, bad: bytes, after: str) -> None:
        count.n += 1
        data = before.encode() + b"\n" + bad + b"\n" + after.encode() + b"\n"
        path = tmp_path / "cases.jsonl"
        path.write_bytes(data)
        ran = run_cli(["evaluate", "--cases", str(path)])
        given_lines = [line for line in data.splitlines() if line.strip()]
        answers = ran.out.splitlines()
        assert len(answers) == len(given_lines), "a line went unanswered"
        assert answers[0] + b"\n" == alone[before] and answers[-1] + b"\n" == alone[after]
        refused = [a for a in answers if b'"error":' in a and json.loads(a).keys() == {"id", "error"}]
        errors = ran.err.splitlines()
        assert len(errors) == len(refused), ran.err
        assert ran.code == (2 if refused else 0)
        for line in errors:
            m = LOCATED.match(line)
            assert m is not None and m.group("file") == str(path), line

    check()
    assert count.n >= EXAMPLES


_QUERY_KEYS = (
    "Action",
    "Version",
    "PolicyInputList.member.1",
    "PolicyInputList.member.2",
    "ActionNames.member.1",
    "ResourceArns.member.1",
    "CallerArn",
    "ResourcePolicy",
    "ResourceOwner",
    "ContextEntries.member.1.ContextKeyName",
    "ContextEntries.member.1.ContextKeyType",
    "ContextEntries.member.1.ContextKeyValues.member.1",
    "PermissionsBoundaryPolicyInputList.member.1",
    "OrderedOrganizationPolicyInputList.member.1",
    "MaxItems",
    "Marker",
)


def _valid_query(policy: str) -> list[tuple[str, str]]:
    return [
        ("Action", "SimulateCustomPolicy"),
        ("Version", "2010-05-08"),
        ("PolicyInputList.member.1", policy),
        ("ActionNames.member.1", "s3:GetObject"),
        ("ResourceArns.member.1", "arn:aws:s3:::bucket/key"),
        ("ContextEntries.member.1.ContextKeyName", "aws:SourceIp"),
        ("ContextEntries.member.1.ContextKeyType", "ip"),
        ("ContextEntries.member.1.ContextKeyValues.member.1", "10.1.2.3"),
    ]


@st.composite
def query_requests(draw: st.DrawFn) -> list[tuple[str, str]]:
    """A valid SimulateCustomPolicy request with parameters dropped, replaced, added, or its policy broken."""
    params = _valid_query(draw(st.sampled_from(valid_policies())))
    for _ in range(draw(st.integers(1, 4))):
        edit = draw(st.sampled_from(["drop", "value", "add", "policy", "action"]))
        if edit == "drop" and params:
            params.pop(draw(st.integers(0, len(params) - 1)))
        elif edit == "value" and params:
            i = draw(st.integers(0, len(params) - 1))
            params[i] = (params[i][0], draw(unusual_text | st.integers().map(str)))
        elif edit == "add":
            key = draw(st.sampled_from(_QUERY_KEYS) | st.text(max_size=40))
            params.append((key, draw(unusual_text | st.integers().map(str))))
        elif edit == "policy":
            bad = draw(mutated(valid_policies())).decode("utf-8", "replace")
            params = [(k, bad if k.startswith("PolicyInputList") else v) for k, v in params]
        elif edit == "action":
            params = [
                (k, draw(st.sampled_from(["GetContextKeysForCustomPolicy", "", "Simulate"])) if k == "Action" else v)
                for k, v in params
            ]
    return params


def test_query_requests_to_serve() -> None:
    simulator = Simulator()
    count = Counter()

    @FUZZ
    @given(query_requests())
    def check(params: list[tuple[str, str]]) -> None:
        count.n += 1
        try:
            simulator.handle(params)
        except ApiError as e:
            assert 400 <= e.status < 500, f"{e.code}: {e.message}"
            assert "\n" not in e.message

    check()
    assert count.n >= EXAMPLES


def test_raw_http_requests_to_serve() -> None:
    """Over HTTP: random bodies and broken headers get an XML error answer and the server keeps answering."""
    with running_server() as url:

        @settings(max_examples=max(50, EXAMPLES // 20), deadline=timedelta(seconds=20))
        @given(st.binary(max_size=300), st.sampled_from(["", "-5", "abc"]))
        def check(body: bytes, length: str) -> None:
            headers = {"Content-Type": "application/x-www-form-urlencoded"}
            request = urllib.request.Request(url, data=body, headers=headers, method="POST")
            if length:
                request.add_unredirected_header("Content-Length", length)
            try:
                with urllib.request.urlopen(request, timeout=20) as response:
                    status, payload = response.status, response.read()
            except urllib.error.HTTPError as e:
                status, payload = e.code, e.read()
            assert 200 <= status < 500 and payload.startswith(b"<")

        check()
        query = "?Action=GetContextKeysForCustomPolicy&Version=2010-05-08&PolicyInputList.member.1="
        with urllib.request.urlopen(url + query + urllib.parse.quote(valid_policies()[2]), timeout=20) as ok:
            assert ok.status == 200 and b"s3:max-keys" in ok.read()
