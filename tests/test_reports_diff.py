"""``iamconf diff``: the anchor policy's history, deliberately changed policies, every input form, every format."""

from __future__ import annotations

import json
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from conformance.cli import main
from reference.compiled import PolicyCache
from reference.evaluator import decide
from reference.fixtures import anchor_policy
from reference.model import Decision, Request
from reference.patterns import resource as resource_pattern
from reports.diff import run_diff
from reports.inputs import InputError, load_policy_set
from reports.model import DiffReport, mask_accounts, to_json
from reports.render import render_diff

ROOT = Path(__file__).resolve().parent.parent
ANCHOR = ROOT / "reference" / "fixtures" / "anchor"
SCHEMAS = ROOT / "reports" / "schema"
IMAGE_ACTIONS = {
    "sagemaker:CreateImage",
    "sagemaker:DeleteImage",
    "sagemaker:DescribeImage",
    "sagemaker:UpdateImage",
    "sagemaker:ListTags",
}
CODE_REPOSITORY_ACTIONS = {
    "sagemaker:CreateCodeRepository",
    "sagemaker:DescribeCodeRepository",
    "sagemaker:UpdateCodeRepository",
    "sagemaker:DeleteCodeRepository",
}


@cache
def anchor_diff(old: str, new: str) -> DiffReport:
    cache_ = PolicyCache()
    return run_diff(
        load_policy_set(str(ANCHOR / f"{old}.json"), cache=cache_), load_policy_set(str(ANCHOR / f"{new}.json"))
    )


def diff_texts(old: str, new: str, tmp_path: Path, explore: int = 50) -> DiffReport:
    a, b = tmp_path / "old.json", tmp_path / "new.json"
    a.write_text(old, encoding="utf-8")
    b.write_text(new, encoding="utf-8")
    return run_diff(load_policy_set(str(a)), load_policy_set(str(b)), explore=explore)


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)}, indent=2)


def actions(changes: list[Any]) -> set[str]:
    return {c.action for c in changes}


def sarif_validator() -> jsonschema.protocols.Validator:
    schema = json.loads((SCHEMAS / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
    return jsonschema.Draft4Validator(schema)


def diff_validator() -> jsonschema.protocols.Validator:
    return jsonschema.Draft202012Validator(json.loads((SCHEMAS / "diff.schema.json").read_text(encoding="utf-8")))


# --------------------------------------------------------------------------- the anchor's history


def test_v2_to_v3_is_exactly_the_image_actions_on_image_resources() -> None:
    report = anchor_diff("v2", "v3")
    assert actions(report.newly_allowed) == IMAGE_ACTIONS
    assert report.newly_denied == []
    image = resource_pattern("arn:aws:sagemaker:*:*:image/*")
    v3 = anchor_policy("v3").splitlines()
    for change in report.newly_allowed:
        assert image.fullmatch(change.resource), change
        assert set(change.resource_types) <= {"image", "image (empty name)"}, change
        assert change.old == "implicitDeny" and change.new == "allowed"
        assert change.old_statement is None
        assert change.new_statement is not None and change.new_statement.index == 28
        # the position points at the image statement's opening brace in v3.json
        assert v3[change.new_statement.line - 2].strip() == "{" or "{" in v3[change.new_statement.line - 1]
        assert "sagemaker:CreateImage" in "\n".join(v3[change.new_statement.line - 1 : change.new_statement.line + 3])
    assert report.searched.every_action and report.searched.every_resource_pattern


def test_v1_to_v2_is_the_code_repository_actions_and_pass_connection_with_its_condition() -> None:
    report = anchor_diff("v1", "v2")
    assert actions(report.newly_allowed) == CODE_REPOSITORY_ACTIONS | {"codestar-connections:PassConnection"}
    assert report.newly_denied == []
    passing = next(c for c in report.newly_allowed if c.action == "codestar-connections:PassConnection")
    assert [(e.key, e.values) for e in passing.context] == [
        ("codestar-connections:PassedToService", ["codepipeline.amazonaws.com"])
    ]
    for c in report.newly_allowed:
        if c.action in CODE_REPOSITORY_ACTIONS:
            assert c.context == []


def test_witnesses_really_change_under_the_reference() -> None:
    """Each reported request, decided again from scratch, gets the reported decisions."""
    for old, new in (("v1", "v2"), ("v2", "v3")):
        report = anchor_diff(old, new)
        a = load_policy_set(str(ANCHOR / f"{old}.json"))
        b = load_policy_set(str(ANCHOR / f"{new}.json"))
        for c in report.changes:
            request = Request(action=c.action, resource=c.resource, context=c.context)
            assert decide(a.prepared, request).decision.value == c.old
            assert decide(b.prepared, request).decision.value == c.new


def test_same_version_reports_nothing_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    path = str(ANCHOR / "v3.json")
    assert main(["diff", path, path, "--format", "json", "--fail-on", "any", "--explore", "20"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["newly_allowed"] == [] and out["newly_denied"] == []


def test_reverse_direction_is_newly_denied_and_fail_on_decides_the_exit_code() -> None:
    old, new = str(ANCHOR / "v3.json"), str(ANCHOR / "v2.json")
    args = ["diff", old, new, "--format", "json", "--explore", "0", "--out", "/dev/null"]
    assert main(args) == 0  # default --fail-on newly-allowed
    assert main([*args, "--fail-on", "any"]) == 1
    assert main([*args, "--fail-on", "none"]) == 0
    assert main(["diff", new, old, "--explore", "0", "--out", "/dev/null"]) == 1


# --------------------------------------------------------------------------- deliberately changed policies


def test_widened_resource_is_found_outside_the_old_pattern(tmp_path: Path) -> None:
    text = anchor_policy("v3")
    widened = text.replace('"arn:aws:codebuild:*:*:project/sagemaker-*"', '"arn:aws:codebuild:*:*:project/*"')
    assert widened != text
    report = diff_texts(text, widened, tmp_path)
    assert actions(report.newly_allowed) == {
        "codebuild:CreateProject",
        "codebuild:DeleteProject",
        "codebuild:UpdateProject",
    }
    old_pattern = resource_pattern("arn:aws:codebuild:*:*:project/sagemaker-*")
    assert all(not old_pattern.fullmatch(c.resource) for c in report.newly_allowed)
    assert report.newly_denied == []


def test_dropped_condition_shows_a_request_without_the_key(tmp_path: Path) -> None:
    text = anchor_policy("v3")
    start = text.index('"codestar-connections:PassConnection"')
    cond = text.index(',\n      "Condition"', start)
    end = text.index("}\n      }", cond) + len("}\n      }")
    dropped = text[:cond] + text[end:]
    json.loads(dropped)
    report = diff_texts(text, dropped, tmp_path)
    assert actions(report.newly_allowed) == {"codestar-connections:PassConnection"}
    assert report.newly_allowed[0].context == []  # the smallest request goes without the key


def test_added_deny_is_newly_denied(tmp_path: Path) -> None:
    old = policy({"Effect": "Allow", "Action": "s3:Get*", "Resource": "arn:aws:s3:::data-*"})
    new = policy(
        {"Effect": "Allow", "Action": "s3:Get*", "Resource": "arn:aws:s3:::data-*"},
        {
            "Sid": "NoSecrets",
            "Effect": "Deny",
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::data-*/secret/*",
            "Condition": {"NumericLessThan": {"s3:max-keys": "10"}},
        },
    )
    report = diff_texts(old, new, tmp_path)
    assert report.newly_allowed == []
    assert actions(report.newly_denied) == {"s3:GetObject"}
    change = report.newly_denied[0]
    assert change.new == "explicitDeny" and change.new_statement is not None
    assert change.new_statement.sid == "NoSecrets" and change.new_statement.index == 1
    assert "/secret/" in change.resource
    assert [e.key for e in change.context] == ["s3:max-keys"]
    assert float(change.context[0].values[0]) < 10
    # s3:Get* expands through the catalog: every s3 Get action was searched
    assert report.searched.actions > 30


def test_numeric_boundary_is_searched(tmp_path: Path) -> None:
    """A threshold moved by one is found at the boundary."""
    base = {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::b"}
    old = policy({**base, "Condition": {"NumericLessThanEquals": {"s3:max-keys": "100"}}})
    new = policy({**base, "Condition": {"NumericLessThanEquals": {"s3:max-keys": "101"}}})
    report = diff_texts(old, new, tmp_path, explore=0)
    assert actions(report.newly_allowed) == {"s3:ListBucket"}
    value = float(report.newly_allowed[0].context[0].values[0])
    assert 100 < value <= 101


def test_not_action_says_the_search_sampled_other_services(tmp_path: Path) -> None:
    old = policy({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})
    new = policy({"Effect": "Allow", "NotAction": ["iam:*", "s3:DeleteBucket"], "Resource": "*"})
    report = diff_texts(old, new, tmp_path, explore=0)
    assert actions(report.newly_denied) == {"s3:DeleteBucket"}
    assert report.newly_allowed == []
    assert not report.searched.every_action
    assert report.searched.actions_sampled


def test_a_wrong_report_is_caught_by_the_anchor_expectations(tmp_path: Path) -> None:
    """The v2 -> v3 expectations fail on a policy that also widens another statement."""
    v3 = anchor_policy("v3").replace('"arn:aws:ecr:*:*:repository/sagemaker-*"', '"arn:aws:ecr:*:*:repository/*"')
    report = diff_texts(anchor_policy("v2"), v3, tmp_path)
    assert actions(report.newly_allowed) != IMAGE_ACTIONS
    assert {"ecr:CreateRepository", "ecr:DeleteRepository"} <= actions(report.newly_allowed)


# --------------------------------------------------------------------------- schemas


def test_json_validates_against_the_shipped_schema() -> None:
    validator = diff_validator()
    for pair in (("v1", "v2"), ("v2", "v3")):
        validator.validate(json.loads(render_diff(anchor_diff(*pair), "json")))


def test_json_schema_rejects_a_change_without_count() -> None:
    document = json.loads(render_diff(anchor_diff("v2", "v3"), "json"))
    del document["newly_allowed"][0]["count"]
    with pytest.raises(jsonschema.ValidationError):
        diff_validator().validate(document)


def test_sarif_validates_and_sits_on_the_deciding_statement() -> None:
    sarif = json.loads(render_diff(anchor_diff("v2", "v3"), "sarif"))
    sarif_validator().validate(sarif)
    results = sarif["runs"][0]["results"]
    assert {r["ruleId"] for r in results} == {"IAMCONF-DIFF-NEWLY-ALLOWED"}
    assert len(results) == len(IMAGE_ACTIONS)
    for r in results:
        location = r["locations"][0]["physicalLocation"]
        assert location["artifactLocation"]["uri"].endswith("reference/fixtures/anchor/v3.json")
        assert location["region"]["startLine"] == 359
    # rule ids are the same in every run, fingerprints name what the result is about
    again = json.loads(render_diff(anchor_diff("v2", "v3"), "sarif"))
    assert [r["partialFingerprints"] for r in again["runs"][0]["results"]] == [
        r["partialFingerprints"] for r in results
    ]


def test_sarif_schema_rejects_a_broken_log() -> None:
    sarif = json.loads(render_diff(anchor_diff("v2", "v3"), "sarif"))
    sarif["runs"][0]["results"][0]["level"] = "fatal"
    with pytest.raises(jsonschema.ValidationError):
        sarif_validator().validate(sarif)


# --------------------------------------------------------------------------- formats and masking


@pytest.mark.parametrize("fmt", ["text", "md", "html", "json", "sarif"])
def test_every_format_names_the_changes_and_mask_accounts_hides_account_ids(fmt: str) -> None:
    report = anchor_diff("v1", "v2")
    plain = render_diff(report, fmt)  # type: ignore[arg-type]
    assert "codestar-connections:PassConnection" in plain and "111122223333" in plain
    masked = render_diff(mask_accounts(report), fmt)  # type: ignore[arg-type]
    assert "111122223333" not in masked and "************" in masked
    assert "codestar-connections:PassConnection" in masked


def test_mask_accounts_flag_on_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["diff", str(ANCHOR / "v1.json"), str(ANCHOR / "v2.json"), "--explore", "0", "--format", "md"]
    main([*args, "--mask-accounts"])
    assert "111122223333" not in capsys.readouterr().out
    main(args)
    assert "111122223333" in capsys.readouterr().out


# --------------------------------------------------------------------------- inputs


def test_policy_version_json_git_rev_path_stdin_and_case_inputs(tmp_path: Path, monkeypatch: Any) -> None:
    import urllib.parse

    v2, v3 = anchor_policy("v2"), anchor_policy("v3")
    version = tmp_path / "get-policy-version.json"
    version.write_text(
        json.dumps(
            {"PolicyVersion": {"Document": urllib.parse.quote(v2), "VersionId": "v2", "IsDefaultVersion": False}}
        ),
        encoding="utf-8",
    )
    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], check=True)
    (repo / "policy.json").write_text(v2, encoding="utf-8")
    subprocess.run([*git, "add", "policy.json"], check=True)
    subprocess.run([*git, "commit", "-qm", "v2"], check=True)
    (repo / "policy.json").write_text(v3, encoding="utf-8")
    case = tmp_path / "case.json"
    boundary = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
    case.write_text(
        json.dumps(
            {
                "identity_policies": [{"id": "anchor", "document": v3}],
                "permissions_boundary": {"id": "boundary", "document": boundary},
            }
        ),
        encoding="utf-8",
    )
    monkeypatch.chdir(repo)
    old_forms = [str(version), "HEAD:policy.json"]
    new_forms = ["policy.json", str(case)]
    for old in old_forms:
        for new in new_forms:
            report = run_diff(load_policy_set(old), load_policy_set(new), explore=0)
            assert actions(report.newly_allowed) == IMAGE_ACTIONS, (old, new)
    stdin = load_policy_set("-", stdin_text=v2)
    assert actions(run_diff(stdin, load_policy_set("policy.json"), explore=0).newly_allowed) == IMAGE_ACTIONS
    # REV:PATH results sit on PATH (what a pull request shows)
    sarif = json.loads(
        render_diff(run_diff(load_policy_set("HEAD:policy.json"), load_policy_set("policy.json"), explore=0), "sarif")
    )
    assert (
        sarif["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "policy.json"
    )


def test_a_boundary_in_the_new_set_takes_access_away(tmp_path: Path) -> None:
    v3 = anchor_policy("v3")
    boundary = policy({"Effect": "Allow", "NotAction": "sagemaker:*", "Resource": "*"})
    case = tmp_path / "case.json"
    case.write_text(
        json.dumps(
            {
                "identity_policies": [{"id": "anchor", "document": v3}],
                "permissions_boundary": {"id": "b", "document": boundary},
            }
        ),
        encoding="utf-8",
    )
    (tmp_path / "v3.json").write_text(v3, encoding="utf-8")
    report = run_diff(load_policy_set(str(tmp_path / "v3.json")), load_policy_set(str(case)), explore=0)
    assert report.newly_allowed == []
    assert report.newly_denied and all(c.service == "sagemaker" for c in report.newly_denied)
    assert all(c.new == Decision.IMPLICIT_DENY.value for c in report.newly_denied)


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ('{"Version": "2012-10-17", "Statement": [\n  {"Effect": "Allow", "Action": "s3:GetObject",}\n]}', ":2:"),
        (
            '{"Version": "2012-10-17",\n "Statement": [{"Effect": "Permit", "Action": "s3:GetObject", '
            '"Resource": "*"}]}',
            ":2:",
        ),
        ('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3*:Get", "Resource": "*"}]}', ":1:"),
    ],
)
def test_bad_policy_is_one_located_line_and_exit_2(
    tmp_path: Path, text: str, where: str, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(text, encoding="utf-8")
    assert main(["diff", str(ANCHOR / "v3.json"), str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"iamconf diff: {bad}{where}"), err


def test_missing_file_bad_revision_and_bad_case_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    v3 = str(ANCHOR / "v3.json")
    assert main(["diff", v3, str(tmp_path / "nope.json")]) == 2
    assert main(["diff", "no-such-revision-xyz:policy.json", v3]) == 2
    case = tmp_path / "case.json"
    case.write_text('{"identity_policies": [{"id": "a", "document": 7}]}', encoding="utf-8")
    assert main(["diff", v3, str(case)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 3
    assert "no such file" in lines[0]
    assert "git show failed" in lines[1]
    assert lines[2].startswith(f"iamconf diff: {case}:1:")
    with pytest.raises(InputError):
        load_policy_set(str(tmp_path / "nope.json"))


# --------------------------------------------------------------------------- unknown names


def test_unknown_names_are_warned_with_the_nearest_known_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = policy({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"})
    new = policy(
        {
            "Effect": "Allow",
            "Action": ["s3:GetObjekt", "sagemakr:CreateModel"],
            "Resource": ["arn:aws:s3:::b/*", "arn:aws:sagemaker:*:*:modell/x"],
            "Condition": {"IpAddress": {"aws:SourceIpp": "10.0.0.0/8"}},
        }
    )
    report = diff_texts(old, new, tmp_path, explore=0)
    found = {(w.kind, w.name, w.nearest) for w in report.warnings}
    assert ("action", "s3:GetObjekt", "s3:GetObject") in found
    assert ("service", "sagemakr:CreateModel", "sagemaker") in found
    assert ("resource-type", "arn:aws:sagemaker:*:*:modell/x", "model") in found
    assert ("condition-key", "aws:SourceIpp", "aws:SourceIp") in found
    assert all(w.version == "new" for w in report.warnings)
    # the misspelt action grants nothing: s3:GetObject is newly denied
    assert actions(report.newly_denied) == {"s3:GetObject"}
    # the reference takes unknown actions literally: requests naming them are newly allowed, so exit 1
    assert actions(report.newly_allowed) == {"sagemakr:CreateModel", "s3:GetObjekt"}
    assert main(["diff", str(tmp_path / "old.json"), str(tmp_path / "new.json"), "--explore", "0"]) == 1
    assert "nearest known: s3:GetObject" in capsys.readouterr().err


def test_the_anchor_has_no_unknown_names() -> None:
    assert anchor_diff("v1", "v2").warnings == [] and anchor_diff("v2", "v3").warnings == []


def test_evaluate_explanation_warns_about_unknown_names(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = tmp_path / "p.json"
    p.write_text(policy({"Effect": "Allow", "Action": "s3:GetObjekt", "Resource": "*"}), encoding="utf-8")
    assert main(["evaluate", "--policy", str(p), "--action", "s3:GetObject"]) == 0
    out = capsys.readouterr().out
    assert "unknown action 's3:GetObjekt'" in out and "nearest known: s3:GetObject" in out
    good = tmp_path / "good.json"
    good.write_text(policy({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}), encoding="utf-8")
    assert main(["evaluate", "--policy", str(good), "--action", "s3:GetObject"]) == 0
    assert "unknown" not in capsys.readouterr().out


def test_reports_never_import_a_target() -> None:
    for path in (ROOT / "reports").glob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "conformance.targets" not in text and "conformance.registry" not in text, path


def test_to_json_round_trips_the_model() -> None:
    report = anchor_diff("v2", "v3")
    assert to_json(report)["versions"]["new"]["policies"] == ["v3.json"]


def test_stdin_and_out_file_on_the_command_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO(anchor_policy("v2")))
    out = tmp_path / "report.json"
    args = ["diff", "-", str(ANCHOR / "v3.json"), "--format", "json", "--out", str(out), "--explore", "0"]
    assert main(args) == 1
    document = json.loads(out.read_text(encoding="utf-8"))
    diff_validator().validate(document)
    assert {c["action"] for c in document["newly_allowed"]} == IMAGE_ACTIONS
    assert document["versions"]["old"]["source"] == "-"


def test_action_letter_case_does_not_split_a_group(tmp_path: Path) -> None:
    old = policy({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"})
    new = policy({"Effect": "Allow", "Action": ["s3:GetObject", "S3:PUTOBJECT"], "Resource": "*"})
    report = diff_texts(old, new, tmp_path, explore=100)
    assert [c.action for c in report.newly_allowed] == ["s3:PutObject"]


def test_sarif_of_a_grant_taken_away_in_place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """REV:PATH against PATH: a removed statement's old line is not a line of the new file."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], check=True)
    (repo / "policy.json").write_text(anchor_policy("v3"), encoding="utf-8")
    subprocess.run([*git, "add", "policy.json"], check=True)
    subprocess.run([*git, "commit", "-qm", "v3"], check=True)
    (repo / "policy.json").write_text(anchor_policy("v2"), encoding="utf-8")
    monkeypatch.chdir(repo)
    report = run_diff(load_policy_set("HEAD:policy.json"), load_policy_set("policy.json"), explore=0)
    assert actions(report.newly_denied) == IMAGE_ACTIONS
    sarif = json.loads(render_diff(report, "sarif"))
    sarif_validator().validate(sarif)
    for result in sarif["runs"][0]["results"]:
        location = result["locations"][0]["physicalLocation"]
        assert location["artifactLocation"]["uri"] == "policy.json"
        assert location["region"]["startLine"] == 1
    # between two files, the old file's statement is where it was
    other = run_diff(load_policy_set(str(ANCHOR / "v3.json")), load_policy_set(str(ANCHOR / "v2.json")), explore=0)
    located = json.loads(render_diff(other, "sarif"))["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
    assert located["artifactLocation"]["uri"].endswith("anchor/v3.json") and located["region"]["startLine"] == 359
