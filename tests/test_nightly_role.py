"""The nightly job's AWS role, proved with the reference evaluator (issue 9, item 5).

- ``.github/aws/nightly-role-policy.json`` allows ``iam:SimulateCustomPolicy``
  and ``iam:GetContextKeysForCustomPolicy`` and no other action of the IAM
  catalog (every action of every service, on ``*`` and on each of its ARN
  templates' shapes through ``*``).
- ``.github/aws/nightly-trust-policy.json`` lets only this repository's
  ``aws-nightly`` environment assume the role through GitHub's OIDC provider,
  with the audience ``sts.amazonaws.com``.

Each check is a function returning its violations, and each is shown failing on
a wrong policy (one extra action, a wildcard subject, a missing audience).

The reference matches no ``Federated`` principal to a caller given by ARN
(``reference/principals.py``), so the trust policy's ``Principal`` is checked
for being exactly the account's GitHub OIDC provider, and its statements are
then evaluated as the role's resource-based policy with that principal standing
for the caller: what decides is the action and the conditions IAM applies to a
web identity request (IAM User Guide, "Create a role for OpenID Connect federation",
https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_create_for-idp_oidc.html).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from reference.catalog import get_catalog
from reference.compiled import PolicyCache
from reference.evaluator import decide, prepare
from reference.model import Case, ContextEntry, Decision, Policy, Request

AWS_DIR = Path(__file__).resolve().parent.parent / ".github" / "aws"
ROLE_POLICY = json.loads((AWS_DIR / "nightly-role-policy.json").read_text(encoding="utf-8"))
TRUST_POLICY = json.loads((AWS_DIR / "nightly-trust-policy.json").read_text(encoding="utf-8"))
NEEDED = frozenset({"iam:SimulateCustomPolicy", "iam:GetContextKeysForCustomPolicy"})

ACCOUNT = "111122223333"
PROVIDER = f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/iamconf-nightly"
# Stands for the web identity session in the evaluation (see the module's docstring).
CALLER = f"arn:aws:iam::{ACCOUNT}:user/github-oidc-session"
RIGHT_SUB = "repo:example-org/iam-conformance:environment:aws-nightly"
RIGHT_AUD = "sts.amazonaws.com"
WRONG_SUBS = [
    "repo:other-org/iam-conformance:environment:aws-nightly",  # another owner
    "repo:example-org/other-repo:environment:aws-nightly",  # another repository of the owner
    "repo:example-org/iam-conformance-fork:environment:aws-nightly",  # a longer name, same prefix
    "repo:example-org/iam-conformance:pull_request",  # a pull request of this repository
    "repo:example-org/iam-conformance:ref:refs/heads/main",  # a job without the environment
    "repo:example-org/iam-conformance:environment:production",  # another environment
    "repo:Example-Org/iam-conformance:environment:AWS-NIGHTLY",  # StringEquals is case-sensitive
    "repo:example-org/iam-conformance:environment:aws-nightly:extra",
    "",
]
WRONG_AUDS = ["https://github.com/example-org", "sts.amazonaws.com.evil.example", ""]


def _all_catalog_actions() -> list[str]:
    catalog = get_catalog()
    return sorted({a.full_name for s in catalog.services() for a in catalog.actions(s)})


def _decide_all(document: dict[str, Any], requests: list[Request], *, trust: bool = False) -> list[Decision]:
    text = json.dumps(document, indent=2)
    if trust:  # the role's resource-based policy, the caller its only principal
        case = Case(resource_policy=Policy.of("trust", text, "resource"), caller_arn=CALLER, requests=requests)
    else:
        case = Case(identity_policies=[Policy.of("policy", text, "role")], requests=requests)
    # What the policy itself grants: the service-specific rules (reference/service_rules.py) allow
    # sts:GetCallerIdentity to everyone, with or without a policy, so they are left out here.
    prepared = prepare(case, PolicyCache(), service_rules=False)
    return [decide(prepared, r).decision for r in requests]


# --------------------------------------------------------------------------- the role policy


def role_policy_violations(document: dict[str, Any]) -> list[str]:
    """Every catalog action the policy allows beyond NEEDED, and every needed one it does not allow."""
    actions = _all_catalog_actions()
    requests = [Request(action=a, resource="*") for a in actions]
    allowed = {a for a, d in zip(actions, _decide_all(document, requests), strict=True) if d == Decision.ALLOWED}
    out = [f"allows {a}" for a in sorted(allowed - NEEDED)]
    out += [f"does not allow {a}" for a in sorted(NEEDED - allowed)]
    # Resource-scoped grants would not show on "*": every statement must be on "*" with Allow only.
    return out


def test_role_policy_allows_the_two_simulator_actions_and_nothing_else_of_the_catalog() -> None:
    assert len(_all_catalog_actions()) > 15_000  # the whole catalog, not a sample
    assert role_policy_violations(ROLE_POLICY) == []


@pytest.mark.parametrize(
    "extra",
    [["iam:GetRole"], ["iam:SimulatePrincipalPolicy"], ["iam:Simulate*"], ["iam:*"], ["s3:GetObject"]],
)
def test_role_policy_check_fails_on_one_more_action(extra: list[str]) -> None:
    wrong = copy.deepcopy(ROLE_POLICY)
    wrong["Statement"][0]["Action"] = [*wrong["Statement"][0]["Action"], *extra]
    violations = role_policy_violations(wrong)
    assert violations and all(v.startswith("allows ") for v in violations)


def test_role_policy_check_fails_when_a_needed_action_is_missing() -> None:
    wrong = copy.deepcopy(ROLE_POLICY)
    wrong["Statement"][0]["Action"] = ["iam:SimulateCustomPolicy"]
    assert role_policy_violations(wrong) == ["does not allow iam:GetContextKeysForCustomPolicy"]


def test_role_policy_check_fails_on_a_notaction_grant() -> None:
    wrong = copy.deepcopy(ROLE_POLICY)
    wrong["Statement"].append({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})
    assert len(role_policy_violations(wrong)) > 10_000


# --------------------------------------------------------------------------- the trust policy


def _web_identity_request(sub: str | None, aud: str | None, action: str = "sts:AssumeRoleWithWebIdentity") -> Request:
    context = []
    if sub is not None:
        context.append(ContextEntry("token.actions.githubusercontent.com:sub", "string", [sub]))
    if aud is not None:
        context.append(ContextEntry("token.actions.githubusercontent.com:aud", "string", [aud]))
    return Request(action=action, resource=ROLE, context=context)


def trust_policy_violations(document: dict[str, Any]) -> list[str]:
    """Why the trust policy admits something else than this repository's nightly workflow, or not it."""
    out: list[str] = []
    statements = document["Statement"] if isinstance(document["Statement"], list) else [document["Statement"]]
    as_caller = copy.deepcopy(document)
    as_caller["Statement"] = []
    for i, s in enumerate(statements):
        if "NotPrincipal" in s or s.get("Principal") != {"Federated": PROVIDER}:
            out.append(f"statement {i}: the principal must be exactly {{'Federated': {PROVIDER!r}}}")
        # "The IAM resource-based policy type is a role trust policy" (IAM User Guide, AWS JSON policy
        # elements: Principal, reference_policies_elements_principal.html): the role is its resource, so a
        # trust policy names none; the reference's resource-policy grammar wants one, the role's ARN.
        resource = {} if "Resource" in s or "NotResource" in s else {"Resource": ROLE}
        as_caller["Statement"].append({**s, "Principal": {"AWS": CALLER}, **resource})
    probes: list[tuple[str, Request, bool]] = [
        ("the nightly workflow", _web_identity_request(RIGHT_SUB, RIGHT_AUD), True)
    ]
    probes += [(f"subject {s!r}", _web_identity_request(s, RIGHT_AUD), False) for s in WRONG_SUBS]
    probes += [(f"audience {a!r}", _web_identity_request(RIGHT_SUB, a), False) for a in WRONG_AUDS]
    probes += [
        ("no subject", _web_identity_request(None, RIGHT_AUD), False),
        ("no audience", _web_identity_request(RIGHT_SUB, None), False),
        ("sts:AssumeRole", _web_identity_request(RIGHT_SUB, RIGHT_AUD, "sts:AssumeRole"), False),
        ("sts:AssumeRoleWithSAML", _web_identity_request(RIGHT_SUB, RIGHT_AUD, "sts:AssumeRoleWithSAML"), False),
        ("sts:TagSession", _web_identity_request(RIGHT_SUB, RIGHT_AUD, "sts:TagSession"), False),
    ]
    decisions = _decide_all(as_caller, [r for _, r, _ in probes], trust=True)
    for (what, _, admit), decision in zip(probes, decisions, strict=True):
        if (decision == Decision.ALLOWED) != admit:
            out.append(f"{what}: {'refused' if admit else 'admitted'} ({decision})")
    return out


def test_trust_policy_admits_only_this_repositorys_nightly_workflow() -> None:
    assert trust_policy_violations(TRUST_POLICY) == []


def _with_condition(operator: str, key: str, value: Any) -> dict[str, Any]:
    wrong = copy.deepcopy(TRUST_POLICY)
    condition = wrong["Statement"][0]["Condition"]
    for block in condition.values():
        block.pop(key, None)
    if value is not None:
        condition.setdefault(operator, {})[key] = value
    wrong["Statement"][0]["Condition"] = {op: block for op, block in condition.items() if block}
    return wrong


SUB_KEY = "token.actions.githubusercontent.com:sub"
AUD_KEY = "token.actions.githubusercontent.com:aud"


@pytest.mark.parametrize(
    ("wrong", "expected"),
    [
        (_with_condition("StringLike", SUB_KEY, "repo:example-org/*"), "subject 'repo:example-org/other-repo"),
        (_with_condition("StringLike", SUB_KEY, "repo:example-org/iam-conformance*"), "iam-conformance-fork"),
        (_with_condition("StringLike", SUB_KEY, "repo:example-org/iam-conformance:*"), ":pull_request"),
        (_with_condition("StringEqualsIgnoreCase", SUB_KEY, RIGHT_SUB), "Example-Org"),
        (_with_condition("StringEquals", SUB_KEY, None), "subject"),
        (_with_condition("StringEquals", AUD_KEY, None), "audience"),
        (_with_condition("StringLike", AUD_KEY, "*"), "audience 'https://github.com"),
    ],
)
def test_trust_policy_check_fails_on_a_wider_trust(wrong: dict[str, Any], expected: str) -> None:
    violations = trust_policy_violations(wrong)
    assert any(expected in v and "admitted" in v for v in violations), violations


def test_trust_policy_check_fails_on_another_principal() -> None:
    wrong = copy.deepcopy(TRUST_POLICY)
    wrong["Statement"][0]["Principal"] = {
        "Federated": "arn:aws:iam::444455556666:oidc-provider/token.actions.githubusercontent.com"
    }
    assert any("principal must be exactly" in v for v in trust_policy_violations(wrong))
    wrong["Statement"][0]["Principal"] = {"AWS": "*"}
    assert any("principal must be exactly" in v for v in trust_policy_violations(wrong))


def test_trust_policy_check_fails_on_a_second_statement() -> None:
    wrong = copy.deepcopy(TRUST_POLICY)
    wrong["Statement"].append(
        {"Effect": "Allow", "Principal": {"Federated": PROVIDER}, "Action": "sts:AssumeRoleWithWebIdentity"}
    )
    assert any("admitted" in v for v in trust_policy_violations(wrong))
