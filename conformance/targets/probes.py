"""Enforcement probes as data: which real API call stands for an IAM action on a resource.

A probe says, for one action, which kind of resource it acts on, which boto3
operation makes the call and with which parameters, and which error codes
mean "the call got past authorization" (``NoSuchTagSet`` on a bucket without
tags is an allowed ``s3:GetBucketTagging``).  A resource kind says which ARNs
it is (with the names the call needs), how an administrator creates it before
the call and removes it afterwards.

The outcome of a call is classified from the response alone
(:func:`classify`): a success or an allowed error is ``allowed``; HTTP 403
with an access-denied code is ``denied`` (also when a JSON-protocol service
answers with an XML body botocore cannot parse, as moto does for SQS); any
other error is neither, and the caller reports a target failure, never a
decision.

Actions per operation: the Service Authorization Reference
(https://docs.aws.amazon.com/service-authorization/latest/reference/), e.g.
``ListObjectsV2`` needs ``s3:ListBucket``, ``GetQueueAttributes`` needs
``sqs:GetQueueAttributes``, ``AssumeRole`` needs ``sts:AssumeRole`` on the role.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

Outcome = Literal["allowed", "denied"]
Clients = Callable[[str], Any]  # service name -> a boto3 client

# 403 with one of these codes is a denial (S3, IAM, STS: AccessDenied; JSON services: AccessDeniedException).
DENIED_CODES = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError"})
REGION = "us-east-1"
SESSION_NAME = "iamconf-probe"
_XML_CODE = re.compile(r"<Code>([^<]+)</Code>")


def trust_policy(account: str, *also: str) -> str:
    """A role trust policy naming the account: then the caller's identity policies decide AssumeRole.

    Guide, id_roles_create_for-user.html / reference_policies_evaluation-logic-cross-account.html: within
    one account, a trust policy naming the account root delegates the decision to identity policies.
    ``also``: principals named besides (the suite's administrator, who assumes a role caller).
    """
    principals = [f"arn:aws:iam::{account}:root", *also]
    statement = {"Effect": "Allow", "Principal": {"AWS": principals}, "Action": "sts:AssumeRole"}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def case_trust_policy(account: str) -> str:
    """The probe roles' trust policy (``trust_policy(account)``) as a case's ``resource_policy`` says it.

    The role is created with ``trust_policy(account)``, which has no Resource element (a trust policy's
    resource is the role it is attached to, and IAM refuses one with a Resource); the case format's
    resource policy needs one (``reference.policy``), so each statement here names ``"Resource": "*"``,
    which in a case whose every request is ``sts:AssumeRole`` on a probe role means exactly that role.
    The reference then applies the trust-policy rule (``reference.service_rules.STS_TRUST_POLICY``).
    """
    document = json.loads(trust_policy(account))
    for statement in document["Statement"]:
        statement["Resource"] = "*"
    return json.dumps(document)


def is_case_trust_policy(text: str, account: str) -> bool:
    """Whether a case's resource policy is the probe roles' trust policy (parsed JSON compared, not text)."""
    try:
        return bool(json.loads(text) == json.loads(case_trust_policy(account)))
    except ValueError:
        return False


# --------------------------------------------------------------------------- resource kinds


def _create_bucket(clients: Clients, f: Mapping[str, str]) -> dict[str, str]:
    clients("s3").create_bucket(Bucket=f["bucket"])
    return {}


def _create_object(clients: Clients, f: Mapping[str, str]) -> dict[str, str]:
    s3 = clients("s3")
    s3.create_bucket(Bucket=f["bucket"])
    s3.put_object(Bucket=f["bucket"], Key=f["key"], Body=b"iamconf probe object")
    return {}


def _remove_bucket(clients: Clients, f: Mapping[str, str]) -> None:
    s3 = clients("s3")
    listed = s3.list_objects_v2(Bucket=f["bucket"]).get("Contents", [])
    for item in listed:
        s3.delete_object(Bucket=f["bucket"], Key=item["Key"])
    s3.delete_bucket(Bucket=f["bucket"])


def _create_user(clients: Clients, f: Mapping[str, str]) -> dict[str, str]:
    clients("iam").create_user(UserName=f["name"])
    return {}


def _remove_user(clients: Clients, f: Mapping[str, str]) -> None:
    clients("iam").delete_user(UserName=f["name"])


def _create_role(clients: Clients, f: Mapping[str, str]) -> dict[str, str]:
    clients("iam").create_role(RoleName=f["name"], AssumeRolePolicyDocument=trust_policy(f["account"]))
    return {}


def _remove_role(clients: Clients, f: Mapping[str, str]) -> None:
    clients("iam").delete_role(RoleName=f["name"])


def _create_queue(clients: Clients, f: Mapping[str, str]) -> dict[str, str]:
    return {"url": clients("sqs").create_queue(QueueName=f["name"])["QueueUrl"]}


def _remove_queue(clients: Clients, f: Mapping[str, str]) -> None:
    sqs = clients("sqs")
    sqs.delete_queue(QueueUrl=sqs.get_queue_url(QueueName=f["name"])["QueueUrl"])


@dataclass(frozen=True, slots=True)
class ResourceKind:
    name: str
    arn: re.Pattern[str]  # named groups are the facts the calls need
    create: Callable[[Clients, Mapping[str, str]], dict[str, str]]  # returns more facts (a queue URL)
    remove: Callable[[Clients, Mapping[str, str]], None]


_BUCKET = r"(?P<bucket>[a-z0-9][a-z0-9-]{1,61}[a-z0-9])"
_NAME = r"(?P<name>[A-Za-z0-9+=,.@_-]{1,64})"
_ACCOUNT = r"(?P<account>\d{12})"
KINDS: dict[str, ResourceKind] = {
    k.name: k
    for k in (
        ResourceKind("bucket", re.compile(rf"arn:aws:s3:::{_BUCKET}"), _create_bucket, _remove_bucket),
        ResourceKind(
            "object",
            re.compile(rf"arn:aws:s3:::{_BUCKET}/(?P<key>[A-Za-z0-9._-][A-Za-z0-9._/-]{{0,200}})"),
            _create_object,
            _remove_bucket,
        ),
        ResourceKind("user", re.compile(rf"arn:aws:iam::{_ACCOUNT}:user/{_NAME}"), _create_user, _remove_user),
        ResourceKind("role", re.compile(rf"arn:aws:iam::{_ACCOUNT}:role/{_NAME}"), _create_role, _remove_role),
        ResourceKind(
            "queue",
            re.compile(rf"arn:aws:sqs:(?P<region>{REGION}):{_ACCOUNT}:(?P<name>[A-Za-z0-9_-]{{1,80}})"),
            _create_queue,
            _remove_queue,
        ),
    )
}


# --------------------------------------------------------------------------- the probes


@dataclass(frozen=True, slots=True)
class Probe:
    action: str  # as the Service Authorization Reference spells it
    kind: str  # a key of KINDS
    service: str  # boto3 client name
    operation: str  # boto3 method name
    params: Callable[[Mapping[str, str]], dict[str, Any]]
    allowed_errors: frozenset[str] = frozenset()  # errors that come after authorization


def _bucket(f: Mapping[str, str]) -> dict[str, Any]:
    return {"Bucket": f["bucket"]}


def _object(f: Mapping[str, str]) -> dict[str, Any]:
    return {"Bucket": f["bucket"], "Key": f["key"]}


def _user(f: Mapping[str, str]) -> dict[str, Any]:
    return {"UserName": f["name"]}


def _role(f: Mapping[str, str]) -> dict[str, Any]:
    return {"RoleName": f["name"]}


def _queue(f: Mapping[str, str]) -> dict[str, Any]:
    return {"QueueUrl": f["url"]}


PROBES: tuple[Probe, ...] = (
    Probe("s3:ListBucket", "bucket", "s3", "list_objects_v2", _bucket),
    Probe("s3:GetBucketTagging", "bucket", "s3", "get_bucket_tagging", _bucket, frozenset({"NoSuchTagSet"})),
    Probe("s3:GetBucketVersioning", "bucket", "s3", "get_bucket_versioning", _bucket),
    Probe("s3:GetObject", "object", "s3", "get_object", _object),
    Probe("s3:PutObject", "object", "s3", "put_object", lambda f: {**_object(f), "Body": b"probe"}),
    Probe("s3:DeleteObject", "object", "s3", "delete_object", _object),
    Probe("s3:GetObjectTagging", "object", "s3", "get_object_tagging", _object),
    Probe("iam:GetUser", "user", "iam", "get_user", _user),
    Probe("iam:ListAccessKeys", "user", "iam", "list_access_keys", _user),
    Probe("iam:ListUserPolicies", "user", "iam", "list_user_policies", _user),
    Probe("iam:TagUser", "user", "iam", "tag_user", lambda f: {**_user(f), "Tags": [{"Key": "probe", "Value": "1"}]}),
    Probe("iam:GetRole", "role", "iam", "get_role", _role),
    Probe("iam:ListRolePolicies", "role", "iam", "list_role_policies", _role),
    Probe("iam:ListAttachedRolePolicies", "role", "iam", "list_attached_role_policies", _role),
    Probe(
        "sts:AssumeRole",
        "role",
        "sts",
        "assume_role",
        lambda f: {"RoleArn": f"arn:aws:iam::{f['account']}:role/{f['name']}", "RoleSessionName": SESSION_NAME},
    ),
    Probe("sqs:GetQueueAttributes", "queue", "sqs", "get_queue_attributes", _queue),
    Probe("sqs:SendMessage", "queue", "sqs", "send_message", lambda f: {**_queue(f), "MessageBody": "probe"}),
    Probe("sqs:ReceiveMessage", "queue", "sqs", "receive_message", lambda f: {**_queue(f), "WaitTimeSeconds": 0}),
)
BY_ACTION: dict[str, Probe] = {p.action.lower(): p for p in PROBES}


def probe_for(action: str) -> Probe | None:
    """The probe of an action.

    Action names are case-insensitive (Guide, reference_policies_elements_action.html).
    """
    return BY_ACTION.get(action.lower())


def facts_of(probe: Probe, resource: str, account: str) -> dict[str, str] | None:
    """The names in ``resource`` the probe's call needs, or None when the probe cannot act on it."""
    m = KINDS[probe.kind].arn.fullmatch(resource)
    if m is None:
        return None
    facts = {k: v for k, v in m.groupdict().items() if v is not None}
    if facts.get("account", account) != account:
        return None
    facts.setdefault("account", account)
    return facts


# --------------------------------------------------------------------------- classification


def error_code(error: Mapping[str, Any]) -> str:
    """The error code, read from an XML body when a JSON-protocol client could not parse one (moto, SQS)."""
    code = str(error.get("Code", ""))
    if code.isdigit() or not code:
        m = _XML_CODE.search(str(error.get("Message", "")))
        if m:
            return m.group(1)
    return code


def classify(probe: Probe, status: int, error: Mapping[str, Any] | None) -> Outcome | None:
    """allowed / denied from the response, or None when it is neither (a target failure)."""
    if error is None:
        return "allowed" if 200 <= status < 300 else None
    code = error_code(error)
    if status == 403 and code in DENIED_CODES:
        return "denied"
    if code in probe.allowed_errors:
        return "allowed"
    return None


@dataclass(frozen=True, slots=True)
class Call:
    outcome: Outcome | None
    status: int
    code: str
    message: str

    def describe(self) -> str:
        return f"HTTP {self.status} {self.code}: {self.message[:200]}"


def call(probe: Probe, principal: Clients, facts: Mapping[str, str]) -> Call:
    """Make the probe's call as the principal and classify what came back."""
    from botocore.exceptions import ClientError

    try:
        response = getattr(principal(probe.service), probe.operation)(**probe.params(facts))
    except ClientError as e:
        status = int(e.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
        error = e.response.get("Error", {})
        return Call(classify(probe, status, error), status, error_code(error), str(error.get("Message", "")))
    body = response.get("Body")
    if body is not None:
        with contextlib.suppress(Exception):
            body.close()
    status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 200))
    return Call(classify(probe, status, None), status, "", "")
