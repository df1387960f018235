"""Enforcement targets: what really happens to an API call made with a principal's own credentials.

One design for every emulator (moto, LocalStack with ``ENFORCE_IAM=1``): a
backend gives boto3 clients (an administrator's, or any credentials') on an
emulator whose enforcement is switched on; this module turns each case into
a principal whose only permissions are the case's policies (a user with its
access keys, or a role and a session of it), then for each request prepares
the resource the probe needs, makes the probe's call as the principal,
classifies the outcome (``conformance.targets.probes``) and removes the
resource.  Everything created for a case is deleted afterwards, also when a
call fails.

What a real call cannot be told is left out as ``Unsupported``: a request
context (the call carries its own: conditions and policy variables), session
policies, SCPs, RCPs, resource policies (but the probe roles' trust policy, which a case of
``sts:AssumeRole`` requests must carry), an action without a probe, a
resource the probe cannot act on.  Answers are allowed or denied only
(``Check.ENFORCED``): a denied call does not say whether a Deny matched.
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from conformance.targets.base import Capabilities, Check, TargetAnswer, TargetFailure, TargetStats, Unsupported
from conformance.targets.principals import CALLER as _CALLER
from conformance.targets.principals import Cleanup, create_principal
from conformance.targets.probes import (
    KINDS,
    PROBES,
    SESSION_NAME,
    Clients,
    call,
    facts_of,
    is_case_trust_policy,
    probe_for,
)
from reference.compiled import compile_text
from reference.errors import PolicyError
from reference.evaluator import case_policies
from reference.model import Case, CaseResult, Decision, Details, Policy, RequestResult

ADMIN_NAME = "iamconf-admin"
ADMIN_POLICY = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
CAPABILITIES = Capabilities(
    checks=frozenset({Check.ENFORCED}),
    features=frozenset(
        {
            "actions",
            "action-wildcards",
            "notaction",
            "resources",
            "resource-wildcards",
            "notresource",
            "version-2008",
            "policy:multiple",
            "policy:boundary",
        }
    ),
    probed_actions=frozenset(p.action for p in PROBES),
)


@dataclass(frozen=True, slots=True)
class Credentials:
    access_key_id: str
    secret_access_key: str
    session_token: str | None = None


class Backend(Protocol):
    """An emulator with enforcement on: an administrator and clients for any credentials."""

    account_id: str
    # None when permissions boundaries can be set; else why not (the cases with one are unsupported)
    no_boundary: str | None

    def start(self) -> None:
        """Start the emulator, create the administrator, switch enforcement on; TargetUnavailable if it cannot."""

    def stop(self) -> None: ...

    def client(self, service: str, credentials: Credentials) -> Any: ...

    @property
    def admin(self) -> Credentials: ...


def create_admin(iam: Any) -> Credentials:
    """The administrator every set-up call is made as, created while enforcement is still off."""
    iam.create_user(UserName=ADMIN_NAME)
    iam.put_user_policy(UserName=ADMIN_NAME, PolicyName="all", PolicyDocument=ADMIN_POLICY)
    key = iam.create_access_key(UserName=ADMIN_NAME)["AccessKey"]
    return Credentials(key["AccessKeyId"], key["SecretAccessKey"])


def _reads_context(policy: Policy, kind: str) -> bool:
    try:
        compiled = compile_text(policy.text(), kind)
    except PolicyError:
        return False
    return any(st.keys for st in compiled.statements) or "${" in policy.text()


def unsupported_reason(case: Case, account: str) -> str | None:
    """Why a real call cannot stand for this case, or None."""
    if case.session_policy is not None:
        return "enforcement probes make calls with long-term keys or plain role sessions: no session policy"
    if case.scps or case.rcps:
        return "the emulator has no AWS Organizations policies"
    assume_roles = [r for r in case.requests if r.action.lower() == "sts:assumerole"]
    if case.resource_policy is not None:
        # The one resource policy a probe's resource has: a probe role's trust policy.  A case-level resource
        # policy is every resource's, so only a case of AssumeRole requests alone can carry it.
        if not is_case_trust_policy(case.resource_policy.text(), account):
            return (
                "enforcement probes use resources without resource-based policies "
                "(except the probe roles' trust policy)"
            )
        if len(assume_roles) != len(case.requests):
            return (
                "the probe roles' trust policy is the resource policy of AssumeRole requests only, "
                "not of the case's other requests"
            )
    elif assume_roles:
        return (
            "an sts:AssumeRole probe acts on a role whose trust policy names the account: the case must carry "
            "that trust policy as its resource_policy (conformance.targets.probes.case_trust_policy)"
        )
    m = _CALLER.fullmatch(case.caller)
    if m is None or m["account"] != account:
        return f"the caller must be an IAM user or role of the emulator's account {account}, not {case.caller!r}"
    if m["name"] == ADMIN_NAME:
        return f"{ADMIN_NAME} is the suite's administrator"
    for placed in case_policies(case):
        if _reads_context(placed.policy, placed.kind):
            return "a real call carries its own request context: policies with conditions or variables are not probed"
    for r in case.requests:
        probe = probe_for(r.action)
        if probe is None:
            return f"no enforcement probe for {r.action}"
        facts = facts_of(probe, r.resource, account)
        if facts is None:
            return f"the {r.action} probe cannot act on {r.resource!r}"
        if facts.get("name") == ADMIN_NAME:
            return f"{ADMIN_NAME} is the suite's administrator"
    return None


class EnforcementTarget:
    """Cases answered by real calls against an emulator with enforcement on."""

    def __init__(self, name: str, backend: Backend):
        self.name = name
        self.backend = backend
        self.capabilities = CAPABILITIES
        if backend.no_boundary is not None:
            features = CAPABILITIES.features - {"policy:boundary"}
            self.capabilities = dataclasses.replace(CAPABILITIES, features=features)
        self.stats = TargetStats()
        self._started = False

    @property
    def account_id(self) -> str:
        return self.backend.account_id

    def start(self) -> None:
        self._started = True
        self.backend.start()

    def stop(self) -> None:
        if self._started:
            self._started = False
            self.backend.stop()

    def admin_clients(self) -> Clients:
        admin = self.backend.admin
        return lambda service: self.backend.client(service, admin)

    def answer(self, cases: Sequence[Case]) -> list[TargetAnswer]:
        return [self._answer_one(case) for case in cases]

    def _answer_one(self, case: Case) -> TargetAnswer:
        reason = unsupported_reason(case, self.account_id)
        if reason is None and case.permissions_boundary is not None:
            reason = self.backend.no_boundary
        if reason is not None:
            return Unsupported(reason)
        self.stats.cases += 1
        cleanup = Cleanup()
        try:
            answer = self._probe_case(case, cleanup)
        except Exception as e:  # a set-up call the emulator refused, a connection error: not a decision
            answer = TargetFailure(f"{type(e).__name__}: {e}")
        finally:
            problem = cleanup.run()
        if problem is not None and not isinstance(answer, TargetFailure):
            return TargetFailure(problem)
        return answer

    def _probe_case(self, case: Case, cleanup: Cleanup) -> TargetAnswer:
        admin = self.admin_clients()
        creds = self._principal(case, admin, cleanup)
        principal_clients: dict[str, Any] = {}

        def principal(service: str) -> Any:
            if service not in principal_clients:
                principal_clients[service] = self.backend.client(service, creds)
            return principal_clients[service]

        caller = _CALLER.fullmatch(case.caller)
        assert caller is not None
        results: list[RequestResult] = []
        for r in case.requests:
            probe = probe_for(r.action)
            facts = facts_of(probe, r.resource, self.account_id) if probe else None
            assert probe is not None and facts is not None
            principal(probe.service)  # the client is made before the call is timed
            with self._resource(probe.kind, facts, caller, admin) as full:
                started = time.perf_counter_ns()
                done = call(probe, principal, full)
                self.stats.extra["probe_ns"] = self.stats.extra.get("probe_ns", 0) + time.perf_counter_ns() - started
            self.stats.requests += 1
            self.stats.calls += 1
            if done.outcome is None:
                return TargetFailure(f"{r.action} on {r.resource}: neither allowed nor denied: {done.describe()}")
            decision = Decision.ALLOWED if done.outcome == "allowed" else Decision.IMPLICIT_DENY
            results.append(RequestResult(r.action, r.resource, decision, [], [], Details()))
        return CaseResult(id=case.id if isinstance(case.id, str) else None, results=results)

    @contextmanager
    def _resource(
        self, kind: str, facts: dict[str, str], caller: re.Match[str], admin: Clients
    ) -> Iterator[dict[str, str]]:
        """The resource of one probe call, created before and removed after (the caller itself is kept)."""
        if kind == caller["type"] and facts.get("name") == caller["name"]:
            yield facts
            return
        resource = KINDS[kind]
        full = {**facts, **resource.create(admin, facts)}
        with ExitStack() as stack:
            stack.callback(resource.remove, admin, full)
            yield full

    def _principal(self, case: Case, admin: Clients, cleanup: Cleanup) -> Credentials:
        """The case's caller with the case's identity policies (and boundary) and nothing else, and its credentials."""
        iam = admin("iam")
        admin_arn = f"arn:aws:iam::{self.account_id}:user/{ADMIN_NAME}"
        kind, name = create_principal(iam, case, self.account_id, cleanup, admin_arn)
        if kind == "user":
            key = iam.create_access_key(UserName=name)["AccessKey"]
            key_id = key["AccessKeyId"]
            cleanup.push("access key", lambda: iam.delete_access_key(UserName=name, AccessKeyId=key_id))
            return Credentials(key_id, key["SecretAccessKey"])
        session = admin("sts").assume_role(RoleArn=case.caller, RoleSessionName=SESSION_NAME)["Credentials"]
        return Credentials(session["AccessKeyId"], session["SecretAccessKey"], session["SessionToken"])
