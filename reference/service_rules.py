"""Service-specific authorization rules: one small layer beside the general evaluation logic.

The IAM User Guide's evaluation logic (``reference.evaluator``) holds for every service, but a few
services document rules of their own.  Each rule here is one row of ``SERVICE_RULES``: what it
does, the page that says so (quoted), and when it applies.  The layer is on by default and can be
switched off for a run (``evaluate_case(..., service_rules=False)``, ``iamconf evaluate
--no-service-rules``) or for one case (case-format v1's optional ``"service_rules": false``), so the
pure policy logic stays testable on its own.

Where the facts come from (case-format v1): the resource-based policy of a case
(``resource_policy``) is the resource's own policy, so for a KMS key it is the key policy and for
an IAM role it is the role's trust policy.  A case without a ``resource_policy`` for a KMS key
stands for a key with the *default key policy*, which delegates to the account's IAM policies; a
case without one for ``sts:AssumeRole`` has no trust policy that allows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

Effect = Literal["resource-policy-required", "always-allowed", "not-changeable"]


@dataclass(frozen=True, slots=True)
class ServiceRule:
    id: str
    effect: Effect
    page: str
    quote: str
    what: str


KMS_KEY_POLICY: Final = ServiceRule(
    id="kms-key-policy",
    effect="resource-policy-required",
    page="https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_policy-eval-basics.html"
    " and https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html",
    quote="Role trust policies and KMS key policies are exceptions to this logic, because they must explicitly "
    "allow access for principals. / The default key policy ... gives the AWS account that owns the KMS key "
    "permission to use IAM policies to allow access to all AWS KMS operations on the KMS key.",
    what="a request on a KMS key needs an Allow of its key policy (the case's resource policy); a key policy "
    "naming the account delegates to the identity policies, which must then allow too; a case without a key "
    "policy has the default key policy, which delegates to the account",
)
STS_TRUST_POLICY: Final = ServiceRule(
    id="sts-trust-policy",
    effect="resource-policy-required",
    page="https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_policy-eval-basics.html",
    quote="Role trust policies and KMS key policies are exceptions to this logic, because they must explicitly "
    "allow access for principals.",
    what="sts:AssumeRole (and AssumeRoleWithSAML / AssumeRoleWithWebIdentity) on a role needs an Allow of the "
    "role's trust policy (the case's resource policy), in the same account too",
)
STS_GET_CALLER_IDENTITY: Final = ServiceRule(
    id="sts-get-caller-identity",
    effect="always-allowed",
    page="https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html",
    quote="No permissions are required to perform this operation. If an administrator attaches a policy to your "
    "identity that explicitly denies access to the sts:GetCallerIdentity action, you can still perform this "
    "operation.",
    what="sts:GetCallerIdentity is allowed, whatever the policies say",
)
NOT_CHANGEABLE: Final = ServiceRule(
    id="aws-managed-not-changeable",
    effect="not-changeable",
    page="https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_managed-vs-inline.html"
    " and https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_update-role-trust-policy.html",
    quote="You cannot change the permissions defined in AWS managed policies. / You cannot modify the trust "
    "policy for a service-linked role.",
    what="IAM actions that change an AWS managed policy (arn:aws:iam::aws:policy/...) or a service-linked role "
    "(role/aws-service-role/...) are not allowed to account principals",
)

SERVICE_RULES: Final[tuple[ServiceRule, ...]] = (
    KMS_KEY_POLICY,
    STS_TRUST_POLICY,
    STS_GET_CALLER_IDENTITY,
    NOT_CHANGEABLE,
)

_ASSUME: Final = frozenset({"sts:assumerole", "sts:assumerolewithsaml", "sts:assumerolewithwebidentity"})
# IAM actions that change a managed policy or a role (the catalog's Write / Permissions management actions on
# the policy and role resource types that alter them; reading and attaching an AWS managed policy is allowed).
_POLICY_CHANGES: Final = frozenset(
    {
        "iam:createpolicyversion",
        "iam:deletepolicy",
        "iam:deletepolicyversion",
        "iam:setdefaultpolicyversion",
        "iam:tagpolicy",
        "iam:untagpolicy",
    }
)
_ROLE_CHANGES: Final = frozenset(
    {
        "iam:updateassumerolepolicy",
        "iam:putrolepolicy",
        "iam:deleterolepolicy",
        "iam:attachrolepolicy",
        "iam:detachrolepolicy",
        "iam:putrolepermissionsboundary",
        "iam:deleterolepermissionsboundary",
        "iam:updaterole",
        "iam:updateroledescription",
        "iam:deleterole",
    }
)


def _arn_parts(arn: str) -> list[str] | None:
    parts = arn.split(":", 5)
    return parts if len(parts) == 6 and parts[0] == "arn" else None


# The first four characters of the actions some rule governs (a cheap test before ``applicable``).
SERVICES_WITH_RULES: Final = frozenset({"kms:", "sts:", "iam:"})


def applicable(action_lower: str, resource: str) -> ServiceRule | None:
    """The service rule that governs this request, if any."""
    if action_lower[:4] not in SERVICES_WITH_RULES:
        return None
    service = action_lower[:3]
    parts = _arn_parts(resource)
    if service == "kms":
        if parts is not None and parts[2] == "kms" and parts[5].startswith("key/"):
            return KMS_KEY_POLICY
        return None
    if service == "sts":
        if action_lower == "sts:getcalleridentity":
            return STS_GET_CALLER_IDENTITY
        if action_lower in _ASSUME and parts is not None and parts[2] == "iam" and parts[5].startswith("role/"):
            return STS_TRUST_POLICY
        return None
    if parts is None or parts[2] != "iam":
        return None
    if action_lower in _POLICY_CHANGES and parts[4] == "aws" and parts[5].startswith("policy/"):
        return NOT_CHANGEABLE
    if action_lower in _ROLE_CHANGES and parts[5].startswith("role/aws-service-role/"):
        return NOT_CHANGEABLE
    return None
