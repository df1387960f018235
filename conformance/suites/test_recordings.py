"""The replay target: every recorded answer of the AWS policy simulator, against the reference, offline.

Recordings are written by ``iamconf run --target aws-simulator`` (nightly, with
credentials and ``IAMCONF_AWS=1``) into ``conformance/recordings/``.  Until
one exists there is nothing to replay, and the suite says so as a skip.
"""

from __future__ import annotations

import pytest

from conformance.features import features_of
from conformance.harness import Status, check_cases
from conformance.pytest_plugin import HarnessState, check_event
from conformance.targets.replay import ReplayTarget


def test_recorded_answers_agree_with_the_reference(harness: HarnessState) -> None:
    if "replay" not in harness.names:
        pytest.skip("the replay target was not selected")
    target = harness.target("replay")
    assert isinstance(target, ReplayTarget)
    recordings = target.store.load(target.endpoint_kinds)
    if not recordings:
        pytest.skip(f"no AWS recordings in {target.store.directory} yet (record with --target aws-simulator)")
    outcomes = check_cases(target, [r.case for r in recordings.values()], cache=harness.cache)
    for o in outcomes:
        harness.emit(check_event(o, "recordings", sorted(features_of(o.case)), harness.cache))
    assert not target.missing_ids(), f"recordings that no longer match their case: {target.missing_ids()}"
    failures = [o.describe() for o in outcomes if o.is_failure or o.status == Status.UNSUPPORTED]
    assert not failures, "\n".join(failures)
