"""A target's declared catalogue (Capabilities.catalogue): iam-simulate's, against its real refusals."""

from __future__ import annotations

import collections
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance.harness import Status, check_cases
from conformance.targets import iam_simulate
from conformance.targets.base import TargetCatalogue, TargetUnavailable
from conformance.targets.iam_simulate import REQUEST_REFUSALS, WILDCARD_REASON, IamSimulateTarget, WorkerError
from strategies import generate_cases

CATALOGUE_REFUSALS = frozenset(
    REQUEST_REFUSALS[code]
    for code in (
        "no.resource.types",
        "must.use.wildcard",
        "invalid.action",
        "invalid.service",
        "multiple.resource.types",
    )
) | {WILDCARD_REASON}

S3 = TargetCatalogue(
    actions={
        "s3:getobject": ("arn:${Partition}:s3:::${BucketName}/${ObjectName}",),
        "s3:listallmybuckets": (),
        "logs:getlogevents": (
            "arn:${Partition}:logs:${Region}:${Account}:log-group:${LogGroupName}:log-stream:${LogStreamName}",
        ),
        "s3:createbucket": ("arn:${Partition}:s3:::${BucketName}",),
        "mgh:deleteconnection": ("arn:${Partition}:mgh:${Region}:${Account}:${ConnectionArn}",),
        # a stream and a task of it: an ARN of the task is of the more specific type only
        "mgh:notifyupdate": (
            "arn:${Partition}:mgh:${Region}:${Account}:progressUpdateStream/${Stream}",
            "arn:${Partition}:mgh:${Region}:${Account}:progressUpdateStream/${Stream}/migrationTask/${Task}",
        ),
        "mgh:either": (
            "arn:${Partition}:mgh:${Region}:${Account}:${A}/b",
            "arn:${Partition}:mgh:${Region}:${Account}:a/${B}",
        ),
    }
)


@pytest.mark.parametrize(
    ("action", "resource", "accepted"),
    [
        ("s3:GetObject", "arn:aws:s3:::bucket/key/with/slashes", True),
        ("S3:GETOBJECT", "ARN:AWS:S3:::bucket/key", True),  # names and ARNs in any case
        ("s3:GetObject", "arn:aws:s3:::bucket", False),  # a bucket ARN for an object action
        ("s3:GetObject", "arn:aws:s3:::bucket/*", False),  # a pattern, not a literal ARN
        ("s3:GetObject", "*", False),
        ("s3:FooBar", "arn:aws:s3:::bucket/key", False),  # an action it does not know
        ("s3:ListAllMyBuckets", "*", True),
        ("s3:ListAllMyBuckets", "arn:aws:s3:::bucket", False),  # a specific ARN for an action without types
        ("logs:GetLogEvents", "arn:aws:logs:us-east-1:111122223333:log-group:/aws/a/b:log-stream:s/1", True),
        ("logs:GetLogEvents", "arn:aws:logs:us-east-1:111122223333:log-group:g", False),
        ("s3:CreateBucket", "arn:aws:s3:::bucket", True),
        ("s3:CreateBucket", "arn:aws:s3:::bucket/key", False),  # a bucket name is a whole component: no "/"
        ("mgh:DeleteConnection", "arn:aws:mgh:us-east-1:111122223333:c-1", True),
        ("mgh:DeleteConnection", "arn:aws:mgh:us-east-1:111122223333:connection/c-1", False),
        ("mgh:NotifyUpdate", "arn:aws:mgh:us-east-1:111122223333:progressUpdateStream/s/migrationTask/t", True),
        ("mgh:Either", "arn:aws:mgh:us-east-1:111122223333:a/b", False),  # of two types alike: refused
    ],
)
def test_accepts(action: str, resource: str, accepted: bool) -> None:
    assert S3.accepts(action, resource) is accepted


@pytest.fixture(scope="module")
def target() -> Iterator[IamSimulateTarget]:
    try:
        iam_simulate.find_node()
        iam_simulate.installed_version()
    except TargetUnavailable as e:
        if os.environ.get("IAMCONF_REQUIRE_NODE") == "1":
            pytest.fail(f"IAMCONF_REQUIRE_NODE=1 but the iam-simulate target cannot run: {e.reason}")
        pytest.skip(f"iam-simulate target unavailable: {e.reason}")
    t = IamSimulateTarget(timeout=60)
    t.start()
    yield t
    t.stop()


def test_iam_simulate_declares_the_catalogue_it_refuses_by(target: IamSimulateTarget) -> None:
    """On generated requests, the declared catalogue predicts which ones iam-simulate compares and which it
    refuses for its catalogue, 95% of the time at least (measured: 97.6% on 1,350 requests)."""
    loader = target.capabilities.catalogue
    assert loader is not None
    catalogue = loader()
    assert len(catalogue.actions) > 10_000 and catalogue.knows_action("s3:GetObject")
    outcomes = check_cases(target, list(generate_cases(count=200, seed=11)))
    agreement: collections.Counter[bool] = collections.Counter()
    kinds: collections.Counter[bool] = collections.Counter()
    for o in outcomes:
        if o.request_index is None:
            continue
        request = o.case.requests[o.request_index]
        if o.status in (Status.AGREE, Status.KNOWN, Status.UNEXPECTED):
            refused = False
        elif o.status == Status.UNSUPPORTED and o.reason.endswith(tuple(CATALOGUE_REFUSALS)):
            refused = True
        else:
            continue
        kinds[refused] += 1
        agreement[refused == (not catalogue.accepts(request.action, request.resource))] += 1
    total = sum(agreement.values())
    assert total > 300 and min(kinds[True], kinds[False]) > 20, kinds  # both kinds met
    assert agreement[True] / total >= 0.95, agreement


def test_a_catalogue_that_accepts_everything_disagrees(target: IamSimulateTarget) -> None:
    """The measure above can fail: a declaration that iam-simulate compares every request is far off."""
    outcomes = check_cases(target, list(generate_cases(count=100, seed=11)))
    refused = [o for o in outcomes if o.status == Status.UNSUPPORTED and o.reason.endswith(tuple(CATALOGUE_REFUSALS))]
    compared = [o for o in outcomes if o.status in (Status.AGREE, Status.KNOWN, Status.UNEXPECTED)]
    assert len(compared) / (len(compared) + len(refused)) < 0.95


def test_the_worker_times_runsimulation_in_the_process_the_harness_uses(target: IamSimulateTarget) -> None:
    """The raw side of the harness bench: a bench line is timed by the same worker, not answered, and the
    worker keeps answering afterwards (no figure is checked here: benchmarks live in bench/)."""
    cases = list(generate_cases(count=5, seed=3, max_requests=1))
    process = target.worker_process
    seconds = target.raw_seconds(cases)
    assert seconds > 0 and target.worker_process is process
    assert len(target.answer(cases)) == len(cases)


def test_a_worker_that_answers_a_bench_line_as_a_batch_is_refused(tmp_path: Path) -> None:
    """A worker that ignores "bench" and answers the batch breaks the protocol: an error, never a figure."""
    fake = tmp_path / "worker.py"
    fake.write_text(
        "import json, sys\n"
        "for line in sys.stdin:\n"
        "    b = json.loads(line)\n"
        "    print(json.dumps({'id': b['id'], 'answers': [{'results': []} for _ in b['cases']]}), flush=True)\n"
    )
    t = IamSimulateTarget(command=[sys.executable, str(fake)], timeout=10)
    t.start()
    try:
        with pytest.raises(WorkerError, match="out-of-protocol bench answer"):
            t.raw_seconds(list(generate_cases(count=1, seed=3, max_requests=1)))
    finally:
        t.stop()
