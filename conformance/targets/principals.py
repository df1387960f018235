"""A case's caller made real in an emulator's IAM: a user or role holding exactly the case's identity policies.

Policies go in as the case types them: ``user``/``role`` inline, ``group``
through a group the user joins, everything else customer managed (an AWS
managed policy cannot be created, so its text goes in as a customer managed
one); the boundary as a customer managed policy set as the permissions
boundary.  Every step pushes its undo onto a :class:`Cleanup`, so the caller
deletes everything, also after a failure half-way.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from conformance.targets.probes import trust_policy
from reference.model import Case, Policy

CALLER = re.compile(r"arn:aws:iam::(?P<account>\d{12}):(?P<type>user|role)/(?P<name>[A-Za-z0-9+=,.@_-]{1,64})")


class Cleanup:
    """Undo steps run last-in first-out; every step runs, the first error is reported."""

    def __init__(self) -> None:
        self._steps: list[tuple[str, Callable[[], object]]] = []

    def push(self, what: str, step: Callable[[], object]) -> None:
        self._steps.append((what, step))

    def run(self) -> str | None:
        first: str | None = None
        while self._steps:
            what, step = self._steps.pop()
            try:
                step()
            except Exception as e:
                first = first or f"clean-up ({what}) failed: {type(e).__name__}: {e}"
        return first


def create_principal(iam: Any, case: Case, account: str, cleanup: Cleanup, *trusted: str) -> tuple[str, str]:
    """Create the case's caller (``user`` or ``role``, a role trusting its account) with its policies and
    boundary; returns (kind, name).  ``trusted``: principals a role's trust policy names besides the account."""
    m = CALLER.fullmatch(case.caller)
    if m is None:
        raise ValueError(f"not a user or role ARN: {case.caller!r}")
    kind, name = m["type"], m["name"]
    if kind == "user":
        iam.create_user(UserName=name)
        cleanup.push(f"delete user {name}", lambda: iam.delete_user(UserName=name))
    else:
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust_policy(account, *trusted))
        cleanup.push(f"delete role {name}", lambda: iam.delete_role(RoleName=name))
    for n, policy in enumerate(case.identity_policies):
        _attach(iam, kind, name, n, policy, cleanup)
    if case.permissions_boundary is not None:
        arn = _managed(iam, f"{name}-boundary", case.permissions_boundary.text(), cleanup)
        if kind == "user":
            iam.put_user_permissions_boundary(UserName=name, PermissionsBoundary=arn)
            cleanup.push("boundary", lambda: iam.delete_user_permissions_boundary(UserName=name))
        else:
            iam.put_role_permissions_boundary(RoleName=name, PermissionsBoundary=arn)
            cleanup.push("boundary", lambda: iam.delete_role_permissions_boundary(RoleName=name))
    return kind, name


def _managed(iam: Any, policy_name: str, text: str, cleanup: Cleanup) -> str:
    arn = str(iam.create_policy(PolicyName=policy_name, PolicyDocument=text)["Policy"]["Arn"])
    cleanup.push(f"delete policy {policy_name}", lambda: iam.delete_policy(PolicyArn=arn))
    return arn


def _attach(iam: Any, kind: str, name: str, n: int, policy: Policy, cleanup: Cleanup) -> None:
    text = policy.text()
    pname = f"{name}-p{n}"
    ptype = policy.type if isinstance(policy.type, str) else "user-managed"
    if ptype in ("user", "role"):
        if kind == "user":
            iam.put_user_policy(UserName=name, PolicyName=pname, PolicyDocument=text)
            cleanup.push("inline", lambda: iam.delete_user_policy(UserName=name, PolicyName=pname))
        else:
            iam.put_role_policy(RoleName=name, PolicyName=pname, PolicyDocument=text)
            cleanup.push("inline", lambda: iam.delete_role_policy(RoleName=name, PolicyName=pname))
        return
    if ptype == "group" and kind == "user":
        group = f"{name}-g{n}"
        iam.create_group(GroupName=group)
        cleanup.push(f"delete group {group}", lambda: iam.delete_group(GroupName=group))
        iam.put_group_policy(GroupName=group, PolicyName=pname, PolicyDocument=text)
        cleanup.push("group inline", lambda: iam.delete_group_policy(GroupName=group, PolicyName=pname))
        iam.add_user_to_group(GroupName=group, UserName=name)
        cleanup.push("membership", lambda: iam.remove_user_from_group(GroupName=group, UserName=name))
        return
    arn = _managed(iam, pname, text, cleanup)
    if kind == "user":
        iam.attach_user_policy(UserName=name, PolicyArn=arn)
        cleanup.push("detach", lambda: iam.detach_user_policy(UserName=name, PolicyArn=arn))
    else:
        iam.attach_role_policy(RoleName=name, PolicyArn=arn)
        cleanup.push("detach", lambda: iam.detach_role_policy(RoleName=name, PolicyArn=arn))
