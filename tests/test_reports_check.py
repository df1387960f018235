"""``iamconf check``: the anchor policy against the spec written from its documentation, and bad specs."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import jsonschema
import pytest

from conformance.cli import main
from reference.evaluator import decide
from reference.fixtures import anchor_policy
from reference.model import Decision
from reports.check import load_policies, load_spec, run_check
from reports.inputs import InputError
from reports.model import CheckReport
from reports.render import render_check

ROOT = Path(__file__).resolve().parent.parent
ANCHOR = ROOT / "reference" / "fixtures" / "anchor"
SPEC = ROOT / "reports" / "specs" / "anchor.yaml"
SCHEMAS = ROOT / "reports" / "schema"

# Where the anchor policy (v3) and its documentation disagree, one claim each (see reports/specs/anchor.yaml).
DISAGREEMENTS = {
    "apigateway-only-tagged-endpoints",  # PATCH on /account without the tag; POST with the tag key in the request
    "codecommit-update-repositories",  # "create, update and delete" repositories: no update action
    "cognito-update-groups",  # "update groups": no cognito-idp:UpdateGroup
    "iam-pass-prefixed-roles",  # "roles prepended with AmazonSageMakerServiceCatalog": only under service-role/
    "s3-access-only",  # "access" buckets: the policy creates, deletes and re-permissions sagemaker-* buckets
    "states-prefixed-sagemaker",  # "prepended with sagemaker": the policy requires sagemaker-
}


def check_text(text: str, tmp_path: Path, spec: Path = SPEC) -> CheckReport:
    p = tmp_path / "policy.json"
    p.write_text(text, encoding="utf-8")
    return run_check(load_policies([str(p)]), load_spec(str(spec)))


@cache
def anchor_check() -> CheckReport:
    return run_check(load_policies([str(ANCHOR / "v3.json")]), load_spec(str(SPEC)))


def test_every_disagreement_is_reported_with_a_request_that_shows_it() -> None:
    report = anchor_check()
    assert {r.claim.id for r in report.broken} == DISAGREEMENTS
    assert len(report.results) == len(load_spec(str(SPEC)).claims)
    policy = load_policies([str(ANCHOR / "v3.json")])
    for result in report.results:
        assert result.requests > 0, result.claim.id
        if result.held:
            assert result.counterexamples == []
            continue
        assert result.counterexamples
        for ex in result.counterexamples:
            decided = decide(policy.prepared, ex.request).decision
            assert decided.value == ex.decision
            assert (decided == Decision.ALLOWED) == (result.claim.expect == "deny"), (result.claim.id, ex)


def test_apigateway_counterexamples_name_both_statements() -> None:
    result = next(r for r in anchor_check().results if r.claim.id == "apigateway-only-tagged-endpoints")
    shown = {(ex.request.action, ex.statement.index if ex.statement else None) for ex in result.counterexamples}
    assert ("apigateway:PATCH", 2) in shown
    assert ("apigateway:POST", 1) in shown


def test_fixing_the_policy_makes_the_claim_hold(tmp_path: Path) -> None:
    text = anchor_policy("v3")
    fixed = text.replace('"cognito-idp:CreateGroup",', '"cognito-idp:CreateGroup",\n        "cognito-idp:UpdateGroup",')
    fixed = fixed.replace(
        '"arn:aws:states:*:*:stateMachine:sagemaker-*"', '"arn:aws:states:*:*:stateMachine:sagemaker*"'
    )
    assert fixed != text
    broken = {r.claim.id for r in check_text(fixed, tmp_path).broken}
    assert broken == DISAGREEMENTS - {"cognito-update-groups", "states-prefixed-sagemaker"}


def test_breaking_the_policy_breaks_a_held_claim(tmp_path: Path) -> None:
    text = anchor_policy("v3")
    narrowed = text.replace('        "codebuild:UpdateProject"\n', "").replace(
        '"codebuild:DeleteProject",', '"codebuild:DeleteProject"'
    )
    widened = narrowed.replace(
        '"arn:aws:iam::*:role/service-role/AmazonSageMakerServiceCatalog*"', '"arn:aws:iam::*:role/*"'
    )
    json.loads(widened)
    report = check_text(widened, tmp_path)
    broken = {r.claim.id for r in report.broken}
    assert {"codebuild-projects", "iam-pass-only-prefixed-roles"} <= broken
    iam = next(r for r in report.broken if r.claim.id == "iam-pass-only-prefixed-roles")
    assert all("AmazonSageMakerServiceCatalog" not in ex.request.resource for ex in iam.counterexamples)


def test_check_json_and_sarif_validate() -> None:
    report = anchor_check()
    document = json.loads(render_check(report, "json"))
    jsonschema.Draft202012Validator(json.loads((SCHEMAS / "check.schema.json").read_text(encoding="utf-8"))).validate(
        document
    )
    sarif = json.loads(render_check(report, "sarif"))
    sarif_schema = json.loads((SCHEMAS / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
    jsonschema.Draft4Validator(sarif_schema).validate(sarif)
    results = sarif["runs"][0]["results"]
    assert {r["partialFingerprints"]["iamconf/v1"] for r in results} == {f"claim:{c}" for c in DISAGREEMENTS}
    by_claim = {r["properties"]["claim"]: r["locations"][0]["physicalLocation"] for r in results}
    # a policy statement that allows too much is where the result sits ...
    assert by_claim["s3-access-only"]["artifactLocation"]["uri"].endswith("anchor/v3.json")
    # ... and a claim nothing allows sits on the claim in the spec
    assert by_claim["states-prefixed-sagemaker"]["artifactLocation"]["uri"].endswith("specs/anchor.yaml")
    spec_lines = SPEC.read_text(encoding="utf-8").splitlines()
    line = by_claim["states-prefixed-sagemaker"]["region"]["startLine"]
    assert "id: states-prefixed-sagemaker" in spec_lines[line - 1]


def test_check_command_exit_codes_and_mask(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    v3 = str(ANCHOR / "v3.json")
    assert main(["check", v3, "--spec", str(SPEC), "--format", "md", "--mask-accounts"]) == 1
    out = capsys.readouterr().out
    assert "111122223333" not in out and "states-prefixed-sagemaker" in out
    held = tmp_path / "held.json"
    held.write_text(
        json.dumps(
            {
                "claims": [
                    {
                        "id": "images",
                        "allow": {"actions": ["sagemaker:*Image"], "resources": ["arn:aws:sagemaker:*:*:image/*"]},
                    }
                ]
            }
        ),
        encoding="utf-8",
    )
    assert main(["check", v3, "--spec", str(held)]) == 0
    # v2 has no image statement: the same claim breaks
    assert main(["check", str(ANCHOR / "v2.json"), "--spec", str(held)]) == 1
    # several policy files are the identity policies of one principal
    assert main(["check", str(ANCHOR / "v2.json"), v3, "--spec", str(held)]) == 0


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ("claims:\n  - id: a\n    allow:\n      resources: ['*']\n", ":4:7", "'actions' is a required property"),
        ("claims:\n  - id: a\n    allow: {actions: [s3:GetObject]\n", ":4:", "malformed YAML"),
        (
            "claims:\n  - id: a\n    deny: {actions: [s3:GetObject]}\n  - id: a\n    deny: {actions: [s3:Get]}\n",
            ":4:",
            "repeats",
        ),
        ('{"claims": [{"id": "a", "allow": {"actions": ["s3"]}}]}', ":1:", "does not match"),
    ],
)
def test_bad_spec_is_one_located_line_and_exit_2(
    tmp_path: Path, text: str, where: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / ("spec.json" if text.startswith("{") else "spec.yaml")
    spec.write_text(text, encoding="utf-8")
    assert main(["check", str(ANCHOR / "v3.json"), "--spec", str(spec)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"iamconf check: {spec}{where}") and message in err[0], err
    with pytest.raises(InputError):
        load_spec(str(spec))


def test_the_shipped_spec_validates_against_its_schema() -> None:
    import yaml

    schema = json.loads((SCHEMAS / "spec.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(schema).validate(yaml.safe_load(SPEC.read_text(encoding="utf-8")))
    # every bullet of the documentation's permission list has at least one claim
    services = {a.split(":", 1)[0] for c in load_spec(str(SPEC)).claims for a in c.actions}
    from reference.fixtures import anchor_services

    assert services == set(anchor_services("v3"))


def test_check_warns_about_unknown_names(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = anchor_policy("v3").replace('"states:UpdateStateMachine"', '"states:UpdateStateMachin"')
    report = check_text(text, tmp_path)
    assert [(w.kind, w.name, w.nearest) for w in report.warnings] == [
        ("action", "states:UpdateStateMachin", "states:UpdateStateMachine")
    ]
    assert "unknown action 'states:UpdateStateMachin'" in render_check(report, "md")
    main(["check", str(tmp_path / "policy.json"), "--spec", str(SPEC), "--out", str(tmp_path / "r.txt")])
    assert "nearest known: states:UpdateStateMachine" in capsys.readouterr().err
