"""moto-enforcement: every probe allowed and denied for real, in process and through moto's server; the
check fails on an inverted probe; everything a case creates is removed, also after a failure; processes end."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from conformance.harness import Status, check_cases
from conformance.suites.probed_cases import CALLER_NAME, resources_of
from conformance.targets import probes
from conformance.targets.base import Unsupported
from conformance.targets.enforcement import ADMIN_NAME, EnforcementTarget
from conformance.targets.moto_enforcement import ACCOUNT, make_moto_enforcement_target
from conformance.targets.probes import PROBES
from reference.model import Case, Policy, Request

ROOT = Path(__file__).resolve().parents[1]
CALLER = f"arn:aws:iam::{ACCOUNT}:user/{CALLER_NAME}"


NOT_ASSUME = [p for p in PROBES if p.action != "sts:AssumeRole"]
TRUST_POLICY = Policy.of("trust-policy", probes.case_trust_policy(ACCOUNT), "resource")


def _case(statement: dict[str, object], *, assume: bool = False) -> Case:
    # Resource "*": moto authorizes IAM user calls and AssumeRole against "*" (a known divergence), so a
    # grant on "*" is the one every probe must honour.  The AssumeRole probe is a case of its own: it
    # carries the probe role's trust policy (which names the account) as its resource policy.
    chosen = [p for p in PROBES if p.action == "sts:AssumeRole"] if assume else NOT_ASSUME
    requests = [Request(p.action, resources_of(p.kind, ACCOUNT)[0]) for p in chosen]
    policy = Policy.of("policy", {"Version": "2012-10-17", "Statement": [statement]}, "user")
    trust = TRUST_POLICY if assume else None
    return Case(requests=requests, identity_policies=[policy], resource_policy=trust, caller_arn=CALLER)


def _deny_over(case: Case) -> Case:
    deny = Policy.of("deny", {"Version": "2012-10-17", "Statement": {"Effect": "Deny", "Action": "*", "Resource": "*"}})
    return msgspec.structs.replace(case, identity_policies=[*case.identity_policies, deny])


ALLOW_ALL_PROBED = {"Effect": "Allow", "Action": [p.action for p in PROBES], "Resource": "*"}
ALLOW_OTHER_ACTION = {"Effect": "Allow", "Action": "ec2:DescribeInstances", "Resource": "*"}
ALLOW_PROBED = _case(ALLOW_ALL_PROBED)
ALLOW_OTHER = _case(ALLOW_OTHER_ACTION)
DENY_OVER_ALLOW = _deny_over(ALLOW_PROBED)
ALLOW_ASSUME = _case(ALLOW_ALL_PROBED, assume=True)
OTHER_ASSUME = _case(ALLOW_OTHER_ACTION, assume=True)
DENY_OVER_ASSUME = _deny_over(ALLOW_ASSUME)


@pytest.fixture(scope="module")
def moto() -> Iterator[EnforcementTarget]:
    target = make_moto_enforcement_target("process")
    target.start()
    yield target
    target.stop()


def _leftovers(target: EnforcementTarget) -> dict[str, list[str]]:
    admin = target.admin_clients()
    iam, s3, sqs = admin("iam"), admin("s3"), admin("sqs")
    return {
        "users": [u["UserName"] for u in iam.list_users()["Users"] if u["UserName"] != ADMIN_NAME],
        "roles": [r["RoleName"] for r in iam.list_roles()["Roles"]],
        "groups": [g["GroupName"] for g in iam.list_groups()["Groups"]],
        "policies": [p["PolicyName"] for p in iam.list_policies(Scope="Local")["Policies"]],
        "buckets": [b["Name"] for b in s3.list_buckets().get("Buckets", [])],
        "queues": sqs.list_queues().get("QueueUrls", []),
    }


EMPTY = {"users": [], "roles": [], "groups": [], "policies": [], "buckets": [], "queues": []}


def test_every_probe_is_allowed_and_denied_for_real(moto: EnforcementTarget) -> None:
    cases = [ALLOW_PROBED, ALLOW_OTHER, DENY_OVER_ALLOW, ALLOW_ASSUME, OTHER_ASSUME, DENY_OVER_ASSUME]
    outcomes = check_cases(moto, cases)
    # AWS allows AssumeRole through a trust policy naming the account when the identity policy allows;
    # moto denies it (the known divergence); the other AssumeRole cases are denied by both
    statuses = [Status.AGREE] * (3 * len(NOT_ASSUME)) + [Status.KNOWN, Status.AGREE, Status.AGREE]
    assert [o.status for o in outcomes] == statuses, [o.describe() for o in outcomes if o.status != Status.AGREE]
    assert [o.observed.decision.value for o in outcomes if o.observed][: len(NOT_ASSUME)] == ["allowed"] * len(
        NOT_ASSUME
    )
    assume = outcomes[3 * len(NOT_ASSUME)]
    assert assume.expected is not None and assume.expected.decision.value == "allowed"  # AWS would allow
    assert assume.observed is not None and assume.observed.decision.value == "implicitDeny"  # moto denies
    assert assume.known is not None and assume.known.id == "assume-role-trust-naming-the-account"
    assert _leftovers(moto) == EMPTY


def test_assume_role_without_the_trust_policy_is_unsupported(moto: EnforcementTarget) -> None:
    """The reference needs the role's trust policy to decide AssumeRole: a case without it is refused, and the
    trust policy cannot stand as the resource policy of the other probes' requests."""
    bare, mixed = moto.answer(
        [
            msgspec.structs.replace(ALLOW_ASSUME, resource_policy=None),
            msgspec.structs.replace(ALLOW_ASSUME, requests=[*ALLOW_ASSUME.requests, *ALLOW_PROBED.requests]),
        ]
    )
    assert isinstance(bare, Unsupported) and "trust policy" in bare.reason
    assert isinstance(mixed, Unsupported) and "AssumeRole requests only" in mixed.reason


def test_an_inverted_probe_classification_fails_the_check(
    moto: EnforcementTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = probes.classify

    def inverted(probe: probes.Probe, status: int, error: object) -> probes.Outcome | None:
        outcome = real(probe, status, error)  # type: ignore[arg-type]
        if probe.action != "s3:GetObject" or outcome is None:
            return outcome
        return "denied" if outcome == "allowed" else "allowed"

    monkeypatch.setattr(probes, "classify", inverted)
    outcomes = check_cases(moto, [ALLOW_PROBED, ALLOW_OTHER])
    wrong = [o for o in outcomes if o.status == Status.UNEXPECTED]
    assert {o.expected.action for o in wrong if o.expected} == {"s3:GetObject"}
    assert len(wrong) == 2


def test_a_failing_call_is_a_target_failure_and_leaves_nothing(
    moto: EnforcementTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(probe: probes.Probe, principal: probes.Clients, facts: object) -> probes.Call:
        raise ConnectionError("emulator went away")

    monkeypatch.setattr("conformance.targets.enforcement.call", broken)
    [answer] = moto.answer([ALLOW_PROBED])
    assert type(answer).__name__ == "TargetFailure" and "emulator went away" in str(answer)
    assert _leftovers(moto) == EMPTY


def test_an_unclassifiable_answer_is_a_target_failure_never_a_decision(
    moto: EnforcementTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(probes, "classify", lambda probe, status, error: None)
    outcomes = check_cases(moto, [ALLOW_PROBED])
    assert [o.status for o in outcomes] == [Status.FAILURE]
    assert "neither allowed nor denied" in outcomes[0].reason


def test_a_role_caller_probes_with_its_session(moto: EnforcementTarget) -> None:
    role = msgspec.structs.replace(ALLOW_PROBED, caller_arn=f"arn:aws:iam::{ACCOUNT}:role/probe-caller-role")
    s3_only = msgspec.structs.replace(role, requests=[r for r in role.requests if r.action.startswith("s3:")])
    outcomes = check_cases(moto, [s3_only])
    assert {o.status for o in outcomes} == {Status.AGREE}
    assert _leftovers(moto) == EMPTY


def test_boundaries_are_unsupported_on_moto(moto: EnforcementTarget) -> None:
    bounded = msgspec.structs.replace(ALLOW_PROBED, permissions_boundary=ALLOW_PROBED.identity_policies[0])
    [answer] = moto.answer([bounded])
    assert "PutUserPermissionsBoundary" in str(answer)
    assert "policy:boundary" not in moto.capabilities.features
