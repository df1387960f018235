"""The run's events: one typed model, one writer (flushes each event), one reader; the deciding family."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
from hypothesis import given, settings

from conformance.events import (
    CheckEvent,
    DivergenceEvent,
    EventWriter,
    MismatchRecord,
    RunEnded,
    RunStarted,
    TargetSkipped,
    read_events,
)
from conformance.features import FEATURES, deciding_feature
from reference.compiled import PolicyCache
from reference.evaluator import CaseInputError, evaluate_case
from reference.fixtures import anchor_policy
from reference.model import Case, ContextEntry, Request
from strategies import cases
from tests.support import allow, ctx, deny, doc, policy


def test_events_round_trip_and_each_is_on_disk_before_the_writer_closes(tmp_path: Path) -> None:
    path = tmp_path / "events.ndjson"
    case = Case(identity_policies=[policy(doc(allow()))], requests=[Request(action="s3:GetObject")])
    expected = evaluate_case(case, PolicyCache()).results[0]
    written = [
        RunStarted(targets=["t"], profile="ci", derandomized=True),
        TargetSkipped(target="u", reason="no node"),
        CheckEvent(suite="s", target="t", status="agree", features=["actions"], deciding="actions"),
        DivergenceEvent(
            nodeid="n",
            target="t",
            status="unexpected divergence",
            request_index=0,
            expected=expected,
            observed=None,
            mismatches=[MismatchRecord("decision", "allowed", "implicitDeny")],
            reason=None,
            description="d",
            case=case,
            seed=None,
            corpus="c.json",
            replay="iamconf replay c.json --target t",
            example="@example(...)",
        ),
    ]
    writer = EventWriter(path)
    for e in written:
        writer.write(e)
        # flushed per event: a reader sees it while the run is still going
        assert read_events(path)[-1] == e
    writer.write(RunEnded())
    writer.close()
    assert read_events(tmp_path) == [*written, RunEnded()]
    assert path.read_text().splitlines()[0].startswith('{"event":"run-start"')


def test_an_unknown_event_kind_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "events.ndjson"
    path.write_text('{"event":"nonsense"}\n')
    with pytest.raises(msgspec.ValidationError):
        read_events(path)


def decided(case: Case, index: int = 0) -> str:
    result = evaluate_case(case, PolicyCache()).results[index]
    return deciding_feature(case, case.requests[index], result)


S3 = "arn:aws:s3:::bucket/key"


@pytest.mark.parametrize(
    ("case", "feature"),
    [
        # an explicit deny under a condition: its operator family, not the plain allow beside it
        (
            Case(
                identity_policies=[
                    policy(doc(allow(), deny("s3:*", Condition={"NumericLessThan": {"s3:max-keys": "5"}})))
                ],
                requests=[
                    Request(
                        action="s3:ListBucket", context=[ContextEntry(key="s3:max-keys", type="Numeric", values=["1"])]
                    )
                ],
            ),
            "conditions:numeric",
        ),
        # allowed by a wildcard action
        (
            Case(identity_policies=[policy(doc(allow("s3:Get*")))], requests=[Request(action="s3:GetObject")]),
            "action-wildcards",
        ),
        # implicitly denied: the one statement's resource did not match
        (
            Case(
                identity_policies=[policy(doc(allow("s3:GetObject", "arn:aws:s3:::other/*")))],
                requests=[Request(action="s3:GetObject", resource=S3)],
            ),
            "resource-wildcards",
        ),
        # implicitly denied: action and resource matched, the condition did not
        (
            Case(
                identity_policies=[policy(doc(allow(Condition={"Bool": {"aws:SecureTransport": "true"}})))],
                requests=[Request(action="s3:GetObject", context=ctx(aws__SecureTransport=("Boolean", ["false"])))],
            ),
            "conditions:bool",
        ),
        # implicitly denied by the boundary: identity allows, the boundary does not
        (
            Case(
                identity_policies=[policy(doc(allow()))],
                permissions_boundary=policy(doc(allow("ec2:*")), id="b"),
                requests=[Request(action="s3:GetObject")],
            ),
            "policy:boundary",
        ),
        # implicitly denied by an SCP level without an allow
        (
            Case(
                identity_policies=[policy(doc(allow()))],
                scps=[[policy(doc(allow("ec2:*")), id="scp")]],
                requests=[Request(action="s3:GetObject")],
            ),
            "policy:scp",
        ),
        # an explicit deny in the session policy
        (
            Case(
                identity_policies=[policy(doc(allow()))],
                session_policy=policy(doc(deny("s3:*")), id="s"),
                requests=[Request(action="s3:GetObject")],
            ),
            "policy:session",
        ),
        # cross-account: identity allows, the resource policy does not name the caller
        (
            Case(
                identity_policies=[policy(doc(allow()))],
                resource_policy=policy(doc(allow("s3:*", Principal={"AWS": "arn:aws:iam::999999999999:root"})), id="r"),
                resource_owner="444455556666",
                requests=[Request(action="s3:GetObject", resource=S3)],
            ),
            "policy:cross-account",
        ),
        # the anchor policy decides as itself
        (
            Case(
                identity_policies=[policy(anchor_policy("v1"), id="anchor")],
                requests=[Request(action="servicecatalog:ListPortfolios")],
            ),
            "anchor",
        ),
        # no statement names the action at all
        (
            Case(identity_policies=[policy(doc(allow("ec2:RunInstances")))], requests=[Request(action="s3:GetObject")]),
            "actions",
        ),
    ],
)
def test_the_deciding_family(case: Case, feature: str) -> None:
    assert decided(case) == feature


def test_the_deciding_family_is_not_every_exercised_family() -> None:
    """A case exercising a condition family whose request a plain Allow decides counts under actions."""
    case = Case(
        identity_policies=[
            policy(doc(allow("s3:GetObject", S3), allow("ec2:*", Condition={"StringEquals": {"aws:username": "x"}})))
        ],
        requests=[Request(action="s3:GetObject", resource=S3)],
    )
    assert decided(case) == "actions"


@settings(max_examples=60)
@given(cases(max_statements=3, max_requests=3))
def test_every_request_is_decided_by_one_known_family(case: Case) -> None:
    try:
        results = evaluate_case(case, PolicyCache()).results
    except CaseInputError:
        return
    for request, result in zip(case.requests, results, strict=True):
        assert deciding_feature(case, request, result) in FEATURES
