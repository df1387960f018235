"""Record with the aws-simulator target (against ``iamconf serve``), replay offline: same answers."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

from conformance.serve import running_server
from conformance.targets.aws_simulator import AwsSimulatorTarget
from conformance.targets.base import Target, TargetAnswer, TargetFailure, TargetUnavailable, Unsupported
from conformance.targets.replay import (
    DEFAULT_DIRECTORY,
    FORMAT,
    RecordingStore,
    ReplayTarget,
    account_mapping,
    case_key,
    normalise_case,
)
from reference.fixtures import anchor_policy
from reference.model import Case, CaseResult, ContextEntry, Policy, Request
from tests.test_target_aws_simulator import generated_cases

ANCHOR = anchor_policy("v3")
REAL = "999988887777"  # stands for a real account id
OTHER = "246813579024"


def foreign_case() -> Case:
    bucket_policy: dict[str, object] = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Partner",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{REAL}:user/alice"},
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::shared/*",
            }
        ],
    }
    return Case(
        id=f"foreign-{REAL}",
        identity_policies=[
            Policy.of("anchor", ANCHOR, "aws-managed"),
            Policy.of(
                "reads",
                {
                    "Statement": [
                        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"},
                        # reads aws:PrincipalAccount, so the glue request's context is sent (and normalised)
                        {
                            "Effect": "Allow",
                            "Action": "glue:GetJob",
                            "Resource": "*",
                            "Condition": {"StringEquals": {"aws:PrincipalAccount": REAL}},
                        },
                    ]
                },
            ),
        ],
        resource_policy=Policy.of("bucket", bucket_policy),
        caller_arn=f"arn:aws:iam::{REAL}:user/alice",
        resource_owner=f"arn:aws:iam::{OTHER}:root",
        requests=[
            Request("s3:GetObject", "arn:aws:s3:::shared/report"),
            Request("s3:GetObject", "arn:aws:s3:::private/report"),
            Request(
                "glue:CreateJob",
                f"arn:aws:glue:us-east-1:{REAL}:job/sagemaker-j",
                [ContextEntry("aws:PrincipalAccount", "string", [REAL])],
            ),
        ],
    )


def malformed_case() -> Case:
    return Case(
        id="malformed", identity_policies=[Policy.of("p", '{"Statement": [}')], requests=[Request("s3:GetObject")]
    )


def record(directory: Path, cases: list[Case]) -> list[TargetAnswer]:
    with running_server() as url:
        target = AwsSimulatorTarget(explicitly_requested=True, endpoint_url=url, recorder=RecordingStore(directory))
        target.start()
        try:
            return target.answer(cases)
        finally:
            target.stop()


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Case], list[TargetAnswer]]:
    directory = tmp_path_factory.mktemp("recordings")
    cases = [*generated_cases(seed=23, n=2, requests=80), foreign_case(), malformed_case()]
    return directory, cases, record(directory, cases)


def test_replay_gives_the_recorded_answers_with_no_server(
    recorded: tuple[Path, list[Case], list[TargetAnswer]],
) -> None:
    directory, cases, live = recorded
    assert all(isinstance(a, CaseResult) for a in live[:3]) and isinstance(live[3], TargetFailure)
    replay = ReplayTarget(directory, endpoint_kinds=["local"])
    assert isinstance(replay, Target)
    replay.start()
    try:
        assert replay.answer(cases) == live
    finally:
        replay.stop()
    assert replay.stats.calls == 0 and replay.stats.cases == 4
    assert replay.missing() == []


def test_cases_without_a_recording_are_unsupported_and_listed(
    recorded: tuple[Path, list[Case], list[TargetAnswer]],
) -> None:
    directory, cases, _ = recorded
    replay = ReplayTarget(directory, endpoint_kinds=None)
    new = Case(id="new", identity_policies=[Policy.of("p", ANCHOR)], requests=[Request("s3:GetObject")])
    unnamed = Case(identity_policies=[Policy.of("p", ANCHOR)], requests=[Request("s3:PutObject")])
    answers = replay.answer([new, cases[0], unnamed, new])
    assert answers[0] == answers[2] == answers[3] == Unsupported("no recording for this case")
    assert isinstance(answers[1], CaseResult)
    assert replay.missing() == [new, unnamed]
    (first, second) = replay.missing_ids()
    assert first == "new" and second.startswith("sha256:")


def test_unsupported_cases_stay_unsupported(tmp_path: Path) -> None:
    session = Case(session_policy=Policy.of("s", "{}"), requests=[Request("s3:GetObject")])
    (answer,) = ReplayTarget(tmp_path).answer([session])
    assert answer == Unsupported("the AWS simulator has no session policies")


def test_recordings_hold_no_account_ids_request_ids_or_credentials(
    recorded: tuple[Path, list[Case], list[TargetAnswer]],
) -> None:
    directory, cases, _ = recorded
    files = sorted(directory.glob("*.json"))
    assert len(files) == len(cases)
    assert not list(directory.glob(".tmp-*"))
    for path in files:
        text = path.read_text(encoding="utf-8")
        for banned in (REAL, OTHER, "ResponseMetadata", "RequestId", 'iamconf"', "aws_secret", "Authorization"):
            assert banned not in text, (path.name, banned)
        doc = json.loads(text)
        assert doc["format"] == FORMAT
        assert doc["endpoint_kind"] == "local" and doc["region"] == "us-east-1"
        assert doc["recorded_at"].endswith("Z") and doc["botocore_version"]
    foreign = json.loads(next(p for p in files if p.name.startswith("foreign-")).read_text(encoding="utf-8"))
    # In order of first appearance (the caller first), each account became the next free stand-in.
    assert foreign["case"]["caller_arn"] == "arn:aws:iam::111122223333:user/alice"
    assert foreign["case"]["resource_owner"] == "arn:aws:iam::444455556666:root"
    assert foreign["case"]["id"] == "foreign-111122223333"
    plain, exchange = foreign["exchanges"]  # two contexts, two calls
    assert "ContextEntries" not in plain["request"]
    assert exchange["request"]["ContextEntries"][0]["ContextKeyValues"] == ["111122223333"]
    names = {
        s["EvalResourceName"] for r in exchange["pages"][0]["EvaluationResults"] for s in r["ResourceSpecificResults"]
    }
    assert "arn:aws:glue:us-east-1:111122223333:job/sagemaker-j" in names
    malformed = json.loads(next(p for p in files if p.name.startswith("malformed-")).read_text(encoding="utf-8"))
    assert malformed["exchanges"][0]["error"]["code"] == "MalformedPolicyDocument"
    assert "pages" not in malformed["exchanges"][0]


def test_local_recordings_never_stand_in_for_aws(recorded: tuple[Path, list[Case], list[TargetAnswer]]) -> None:
    directory, cases, _ = recorded
    answers = ReplayTarget(directory).answer(cases[:1])  # default: endpoint kind "aws" only
    assert answers == [Unsupported("no recording for this case")]


def test_a_recording_of_another_call_plan_is_refused(tmp_path: Path) -> None:
    case = generated_cases(seed=2, n=1, requests=10)[0]
    record(tmp_path, [case])
    (path,) = tmp_path.glob("*.json")
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc["exchanges"][0]["request"]["ActionNames"].reverse()
    path.write_text(json.dumps(doc), encoding="utf-8")
    (answer,) = ReplayTarget(tmp_path, endpoint_kinds=None).answer([case])
    assert isinstance(answer, Unsupported) and "another call plan" in answer.reason


def test_recordings_of_aws_are_replayed_by_default(tmp_path: Path) -> None:
    """A recording made through boto3 without an endpoint URL (Stubber in place of AWS)."""
    client = boto3.client("iam", region_name="us-east-1", aws_access_key_id="stub", aws_secret_access_key="stub")
    target = AwsSimulatorTarget(
        explicitly_requested=True, client=client, environ={"IAMCONF_AWS": "1"}, recorder=RecordingStore(tmp_path)
    )
    target.start()
    case = Case(identity_policies=[Policy.of("p", ANCHOR)], requests=[Request("codecommit:ListRepositories")])
    stubber = Stubber(client)
    stubber.add_response(
        "simulate_custom_policy",
        {
            "EvaluationResults": [
                {
                    "EvalActionName": "codecommit:ListRepositories",
                    "EvalResourceName": "*",
                    "EvalDecision": "allowed",
                    "MatchedStatements": [
                        {
                            "SourcePolicyId": "PolicyInputList.1",
                            "StartPosition": {"Line": 99, "Column": 6},
                            "EndPosition": {"Line": 105, "Column": 6},
                        }
                    ],
                    "MissingContextValues": [],
                }
            ],
            "IsTruncated": False,
        },
    )
    with stubber:
        live = target.answer([case])
    assert isinstance(live[0], CaseResult) and live[0].results[0].matched_statements[0].statement_index == 8
    (path,) = tmp_path.glob("*.json")
    assert json.loads(path.read_text(encoding="utf-8"))["endpoint_kind"] == "aws"
    assert ReplayTarget(tmp_path).answer([case]) == live


def test_the_default_directory_is_ready() -> None:
    assert DEFAULT_DIRECTORY.name == "recordings" and (DEFAULT_DIRECTORY / "README.md").is_file()
    target = ReplayTarget()
    target.start()
    target.stop()
    with pytest.raises(TargetUnavailable):
        ReplayTarget(DEFAULT_DIRECTORY / "nowhere").start()


def test_normalisation_depends_on_the_case_alone_and_keeps_lengths() -> None:
    case = foreign_case()
    normalised, mapping = normalise_case(case)
    assert mapping == {REAL: "111122223333", OTHER: "444455556666"}
    assert normalise_case(case) == (normalised, mapping)
    for a, b in zip(
        [*case.identity_policies, case.resource_policy],
        [*normalised.identity_policies, normalised.resource_policy],
        strict=True,
    ):
        assert a is not None and b is not None and len(a.text()) == len(b.text())
    assert case_key(normalised) == case_key(normalise_case(normalised)[0])  # idempotent
    # Documentation accounts stay; a stand-in never collides with an account the case uses.
    assert account_mapping("arn:aws:iam::111122223333:user/a arn:aws:iam::123456789012:root") == {}
    assert account_mapping(f"111122223333 {REAL}") == {REAL: "444455556666"}
    assert account_mapping("", extra=[REAL]) == {REAL: "111122223333"}
    # The default caller (111122223333) is in force even when the case does not spell it.
    plain = Case(requests=[Request("s3:GetObject", f"arn:aws:s3:us-east-1:{REAL}:x")])
    assert normalise_case(plain)[1] == {REAL: "444455556666"}


def test_the_registry_factories(tmp_path: Path) -> None:
    from conformance.targets.aws_simulator import make_aws_simulator_target
    from conformance.targets.replay import make_replay_target

    assert make_replay_target().store.directory == DEFAULT_DIRECTORY
    assert make_replay_target(str(tmp_path)).store.directory == tmp_path
    aws = make_aws_simulator_target(explicitly_requested=True, recordings_dir=str(tmp_path))
    assert isinstance(aws.recorder, RecordingStore) and aws.recorder.directory == tmp_path
    assert make_aws_simulator_target(explicitly_requested=False).recorder is None
