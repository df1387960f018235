"""Target ``localstack-simulator``: LocalStack's IAM policy simulator, ``SimulatePrincipalPolicy``.

Each case's caller is created through LocalStack's IAM API in the caller's
own account (LocalStack takes a 12-digit access key id as the account), with
the case's identity policies (inline, managed, through a group) and boundary
(``conformance.targets.principals``); then ``SimulatePrincipalPolicy`` is
asked about the case's requests, planned and read like the aws-simulator
target's calls (``conformance.targets.aws_simulator.plan`` / ``read_pages``).
Everything created is deleted afterwards, also when a call fails.

A LocalStack the suite started that dies mid-run (killed, crashed) fails the
case in flight as retryable (``TargetFailure.retryable``: a dead endpoint says
nothing about the case) and is started afresh before the next case, so the
harness's one retry asks a working instance; if it cannot be started again,
every later case is a target failure with the reason, never an answer.  An
endpoint named by ``LOCALSTACK_ENDPOINT`` is not restarted: when it stops
answering, its cases are target failures.

``SimulateCustomPolicy`` is asked once at start: where the instance answers
"not implemented" (the free edition does), that is said once
(``custom_policy_support``) and the cases only it could express (SCPs) are
unsupported with that reason.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from conformance.features import FEATURES
from conformance.targets.aws_simulator import Exchange, SimCall, interpret, plan
from conformance.targets.base import (
    Capabilities,
    Check,
    TargetAnswer,
    TargetFailure,
    TargetStats,
    TargetUnavailable,
    Unsupported,
)
from conformance.targets.localstack_process import LocalStack
from conformance.targets.principals import CALLER, Cleanup, create_principal
from reference.model import Case

NAME = "localstack-simulator"
# It sends no resource policy (so neither kind of resource-policy case), no session policy, no RCP and
# no SCP (SimulateCustomPolicy, the only way to send one, is not implemented by the free edition);
# its callers are IAM users or roles it creates, so the suites aim at IAM user callers
# (simulator_safe), as for the aws-simulator target.
CAPABILITIES = Capabilities(
    checks=frozenset({Check.DECISION}),
    features=frozenset(FEATURES)
    - {
        "policy:session",
        "policy:rcp",
        "policy:scp",
        "policy:resource",
        "policy:same-account",
        "policy:cross-account",
        "anchor",
    },
    simulator_safe=True,
)
_ALLOW_ALL = {"Effect": "Allow", "Action": "*", "Resource": "*"}
_PROBE_POLICY = json.dumps({"Version": "2012-10-17", "Statement": [_ALLOW_ALL]})


class LocalStackSimulatorTarget:
    name = NAME
    capabilities = CAPABILITIES

    def __init__(self, localstack: LocalStack | None = None):
        self.localstack = localstack or LocalStack()
        self.stats = TargetStats()
        self.custom_policy_support: str | None = None  # why SimulateCustomPolicy cannot be used, once
        self._iam: dict[str, Any] = {}
        self._cannot_restart: str | None = None

    def start(self) -> None:
        self.localstack.start()
        self.custom_policy_support = self._check_custom_policy()

    def stop(self) -> None:
        self._iam.clear()
        self.localstack.stop()

    def iam(self, account: str) -> Any:
        """An IAM client acting in ``account`` (LocalStack reads the account from a 12-digit access key id)."""
        if account not in self._iam:
            self._iam[account] = self.localstack.session(access_key=account, secret_key="test").client("iam")
        return self._iam[account]

    def _check_custom_policy(self) -> str | None:
        from botocore.exceptions import ClientError

        try:
            iam = self.iam("000000000000")
            iam.simulate_custom_policy(PolicyInputList=[_PROBE_POLICY], ActionNames=["s3:GetObject"])
        except ClientError as e:
            error = e.response.get("Error", {})
            status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            return f"SimulateCustomPolicy answers HTTP {status} {error.get('Code')}: {error.get('Message')}"
        return None

    def answer(self, cases: Sequence[Case]) -> list[TargetAnswer]:
        return [self._answer_one(case) for case in cases]

    def unsupported_reason(self, case: Case) -> Unsupported | None:
        """Why this target cannot express ``case`` (None: it can), asking nothing of LocalStack."""
        if case.scps:
            why = self.custom_policy_support or "SCPs are not sent (this target asks SimulatePrincipalPolicy)"
            return Unsupported(f"SCPs need SimulateCustomPolicy: {why}")
        if case.resource_policy is not None:
            return Unsupported("resource policies are not sent to SimulatePrincipalPolicy by this target")
        if CALLER.fullmatch(case.caller) is None:
            return Unsupported(f"the caller must be an IAM user or role without a path, not {case.caller!r}")
        return None

    def _answer_one(self, case: Case) -> TargetAnswer:
        refused = self.unsupported_reason(case)
        if refused is not None:
            return refused
        caller = CALLER.fullmatch(case.caller)
        assert caller is not None  # unsupported_reason checked it
        calls = plan(case)
        if isinstance(calls, Unsupported):
            return calls
        revived = self._revive()
        if revived is not None:
            return revived
        self.stats.cases += 1
        self.stats.requests += len(case.requests)
        iam = self.iam(caller["account"])
        cleanup = Cleanup()
        try:
            answer = self._simulate(iam, case, caller["account"], calls, cleanup)
        except Exception as e:  # the IAM API refused a set-up call (a policy it cannot read, say)
            answer = TargetFailure(f"set-up: {type(e).__name__}: {e}")
        finally:
            died = self.localstack.died()  # nothing to clean up on a dead instance
            problem = None if died else cleanup.run()
        if died:
            self.stats.extra["localstack_deaths"] = self.stats.extra.get("localstack_deaths", 0) + 1
            return TargetFailure(f"LocalStack exited while the case was asked ({_answer_text(answer)})", retryable=True)
        if problem is not None and not isinstance(answer, TargetFailure):
            return TargetFailure(problem)
        return answer

    def _revive(self) -> TargetFailure | None:
        """Start the owned LocalStack afresh if it died; a failure (for this and every later case) if it
        cannot be started again."""
        if self._cannot_restart is not None:
            return TargetFailure(self._cannot_restart)
        if not self.localstack.died():
            return None
        self._iam.clear()
        try:
            self.localstack.restart()
        except TargetUnavailable as e:
            self._cannot_restart = f"LocalStack died mid-run and could not be started again: {e.reason}"
            return TargetFailure(self._cannot_restart)
        return None

    def _simulate(self, iam: Any, case: Case, account: str, calls: list[SimCall], cleanup: Cleanup) -> TargetAnswer:
        from botocore.exceptions import ClientError

        create_principal(iam, case, account, cleanup)
        exchanges: list[Exchange] = []
        for call in calls:
            params: dict[str, Any] = {
                "PolicySourceArn": case.caller,
                "ActionNames": call.params["ActionNames"],
                "ResourceArns": call.params["ResourceArns"],
            }
            if "ContextEntries" in call.params:
                params["ContextEntries"] = call.params["ContextEntries"]
            try:
                pages = [dict(p) for p in iam.get_paginator("simulate_principal_policy").paginate(**params)]
            except ClientError as e:
                error = e.response.get("Error", {})
                status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
                code, message = error.get("Code"), error.get("Message")
                return TargetFailure(f"SimulatePrincipalPolicy: HTTP {status} {code}: {message}")
            self.stats.calls += len(pages)
            exchanges.append(Exchange(call.summary(), pages))
        return interpret(case, calls, exchanges)


def _answer_text(answer: TargetAnswer) -> str:
    if isinstance(answer, TargetFailure):
        return answer.message
    return answer.reason if isinstance(answer, Unsupported) else "an answer, discarded"
