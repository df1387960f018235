"""Who is calling, and whether a Principal / NotPrincipal element names them.

IAM User Guide, reference_policies_elements_principal.html and
reference_identifiers.html (the ARN forms of users, roles and role sessions).
How the *kind* of match changes the decision for a same-account resource
policy is decided in ``reference.evaluator``.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from typing import Final

_ACCOUNT_ID: Final = re.compile(r"^\d{12}$")


class PrincipalMatch(enum.IntEnum):
    """How a Principal element named the caller, weakest first."""

    NONE = 0
    ACCOUNT = 1  # the caller's account (12 digits or arn:...:root): delegation to the account
    ROLE = 2  # the role ARN of an assumed-role session
    USER = 3  # the caller's IAM user ARN
    SESSION = 4  # the caller's role-session / federated-user ARN itself, or "*"


class Caller:
    # A plain class, not a dataclass: compiled, a dataclass's __init__ runs in Python (see evaluator.Slot).
    def __init__(self, arn: str, partition: str, account: str, kind: str, role_arn: str | None) -> None:
        self.arn: Final = arn
        self.partition: Final = partition
        self.account: Final = account
        self.kind: Final = kind  # user | role | assumed-role | federated-user | root | other
        # for an assumed-role session: the role it came from (path unknown)
        self.role_arn: Final = role_arn

    @classmethod
    def parse(cls, arn: str) -> Caller:
        parts = arn.split(":", 5)
        if len(parts) < 6 or parts[0] != "arn":
            return cls(arn, "aws", "", "other", None)
        _, partition, service, _, account, resource = parts
        kind, role_arn = "other", None
        if service == "iam" and resource == "root":
            kind = "root"
        elif service == "iam" and resource.startswith("user/"):
            kind = "user"
        elif service == "iam" and resource.startswith("role/"):
            kind = "role"
        elif service == "sts" and resource.startswith("assumed-role/"):
            kind = "assumed-role"
            role_name = resource.split("/")[1] if resource.count("/") >= 2 else ""
            role_arn = f"arn:{partition}:iam::{account}:role/{role_name}"
        elif service == "sts" and resource.startswith("federated-user/"):
            kind = "federated-user"
        return cls(arn, partition, account, kind, role_arn)


def _match_aws(value: str, caller: Caller) -> PrincipalMatch:
    if value == "*":
        return PrincipalMatch.SESSION
    if _ACCOUNT_ID.match(value):
        return PrincipalMatch.ACCOUNT if value == caller.account else PrincipalMatch.NONE
    if value == caller.arn:
        if caller.kind == "user":
            return PrincipalMatch.USER
        if caller.kind == "role":
            return PrincipalMatch.ROLE
        if caller.kind == "root":
            return PrincipalMatch.ACCOUNT
        return PrincipalMatch.SESSION
    if value == f"arn:{caller.partition}:iam::{caller.account}:root":
        return PrincipalMatch.ACCOUNT
    if caller.role_arn is not None and _role_name_arn(value) == caller.role_arn:
        return PrincipalMatch.ROLE
    return PrincipalMatch.NONE


def _role_name_arn(value: str) -> str:
    """A role ARN without its path: session ARNs carry only the role name."""
    parts = value.split(":", 5)
    if len(parts) == 6 and parts[2] == "iam" and parts[5].startswith("role/"):
        return ":".join(parts[:5]) + ":role/" + parts[5].rsplit("/", 1)[-1]
    return value


def match_principal(principals: Mapping[str, tuple[str, ...]], caller: Caller) -> PrincipalMatch:
    """The strongest way the element names the caller.

    ``"Principal": "*"`` and ``{"AWS": "*"}`` name everyone, anonymous
    callers included.  Service, Federated and CanonicalUser principals never
    name an IAM caller given by ARN.
    """
    best = PrincipalMatch.NONE
    for ptype, values in principals.items():
        if ptype == "*":
            return PrincipalMatch.SESSION
        if ptype != "AWS":
            continue
        for v in values:
            best = max(best, _match_aws(v, caller))
    return best
