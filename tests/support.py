"""Small builders shared by the tests."""

from __future__ import annotations

import json
from typing import Any

from reference.compiled import PolicyCache
from reference.evaluator import evaluate_case
from reference.model import Case, ContextEntry, ContextKeyType, Policy, PolicyType, Request, RequestResult

USER = "arn:aws:iam::111122223333:user/alice"
ROLE = "arn:aws:iam::111122223333:role/app"
SESSION = "arn:aws:sts::111122223333:assumed-role/app/s1"
OTHER_ACCOUNT_USER = "arn:aws:iam::444455556666:user/bob"


def doc(*statements: dict[str, Any], version: str | None = "2012-10-17") -> dict[str, Any]:
    d: dict[str, Any] = {"Statement": list(statements)}
    if version is not None:
        d = {"Version": version, **d}
    return d


def allow(action: str | list[str] = "*", resource: str | list[str] = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: str | list[str] = "*", resource: str | list[str] = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def policy(document: dict[str, Any] | str, id: str = "p", type: PolicyType | None = None) -> Policy:
    return Policy.of(id, document if isinstance(document, str) else json.dumps(document, indent=2), type)


def ctx(**entries: tuple[ContextKeyType, list[str]]) -> list[ContextEntry]:
    return [ContextEntry(key=k.replace("__", ":"), type=t, values=v) for k, (t, v) in entries.items()]


def evaluate(
    *identity: dict[str, Any] | str,
    action: str = "s3:GetObject",
    resource: str = "arn:aws:s3:::bucket/key",
    context: list[ContextEntry] | None = None,
    **case_fields: Any,
) -> RequestResult:
    for name in ("permissions_boundary", "session_policy", "resource_policy"):
        if isinstance(case_fields.get(name), (dict, str)):
            case_fields[name] = policy(case_fields[name], id=name)
    for name in ("scps", "rcps"):
        if name in case_fields:
            case_fields[name] = [
                [policy(d, id=f"{name}-{lvl}-{i}") for i, d in enumerate(level)]
                for lvl, level in enumerate(case_fields[name])
            ]
    case = Case(
        identity_policies=[policy(d, id=f"id{i}") for i, d in enumerate(identity)],
        requests=[Request(action=action, resource=resource, context=context or [])],
        **case_fields,
    )
    return evaluate_case(case, PolicyCache()).results[0]


def decision(*identity: dict[str, Any] | str, **kw: Any) -> str:
    return evaluate(*identity, **kw).decision.value
