"""The grammar against IAM's own answers, and the rules those answers gave the reference.

``tests/fixtures/moto/iam-policy-documents.json`` holds the policy documents of moto's IAM policy tests
(source repository, path and commit inside the file): documents IAM's ``CreatePolicy`` accepts, and
documents it refuses with IAM's error message.  Every accepted one must evaluate through the path of
``iamconf evaluate --cases``, every refused one must be refused, with one exception, the context rule:
``CreatePolicy`` refuses documents without ``"Version": "2012-10-17"`` ("Policy document must be version
2012-10-17 or greater."), but inline policies and the policy simulator take them
(reference_policies_elements_version.html: "If you do not include a Version element, the value defaults
to 2008-10-17").  The reference follows the simulator: it accepts a document for a missing or old
Version exactly when it accepts it with ``"Version": "2012-10-17"``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from reference.caseio import answer_lines
from reference.compiled import compile_text
from reference.conditions import read_instant, read_policy_instant
from reference.errors import PolicyError
from reference.model import ContextEntry
from tests.support import evaluate

FIXTURE = Path(__file__).parent / "fixtures" / "moto" / "iam-policy-documents.json"
DOCUMENTS: dict[str, Any] = json.loads(FIXTURE.read_text(encoding="utf-8"))
VERSION_MESSAGE = "Policy document must be version 2012-10-17 or greater."


def _text(document: Any) -> str:
    return document if isinstance(document, str) else json.dumps(document)


def case_line(document: Any) -> bytes:
    """A case-format v1 line: the document as an identity policy, one request on the moto tests' bucket."""
    case = {
        "id": "moto",
        "identity_policies": [{"id": "p", "document": _text(document)}],
        "requests": [{"action": "s3:ListBucket", "resource": "arn:aws:s3:::example_bucket"}],
    }
    return json.dumps(case).encode()


def evaluates(line: bytes) -> bool:
    (answer,) = answer_lines([line])
    return answer.error is None


def with_version(document: Any) -> Any:
    if isinstance(document, dict):
        return {**document, "Version": "2012-10-17"}
    return document


def disagreements(judge: Callable[[bytes], bool]) -> list[str]:
    """Documents ``judge`` treats otherwise than IAM (under the context rule above)."""
    out = []
    for i, document in enumerate(DOCUMENTS["accepted"]):
        if not judge(case_line(document)):
            out.append(f"accepted[{i}] is refused: {_text(document)[:200]}")
    for i, entry in enumerate(DOCUMENTS["refused"]):
        document, message = entry["document"], entry["error_message"]
        verdict = judge(case_line(document))
        if message == VERSION_MESSAGE and isinstance(document, dict) and document.get("Version") != "2012-10-17":
            if verdict != judge(case_line(with_version(document))):
                out.append(f"refused[{i}]: the verdict depends on the Version: {_text(document)[:200]}")
        elif verdict:
            out.append(f"refused[{i}] is accepted ({message}): {_text(document)[:200]}")
    return out


def test_the_fixture_names_its_source_and_is_complete() -> None:
    source = DOCUMENTS["source"]
    assert source["repository"] == "https://github.com/getmoto/moto"
    assert source["path"] == "tests/test_iam/test_iam_policies.py"
    assert len(source["commit"]) == 40
    assert len(DOCUMENTS["accepted"]) == 54 and len(DOCUMENTS["refused"]) == 78


def test_the_reference_accepts_what_iam_accepts_and_refuses_what_it_refuses() -> None:
    found = disagreements(evaluates)
    assert not found, "\n".join(found)


def test_the_check_fails_on_a_wrong_grammar() -> None:
    assert len(disagreements(lambda _line: True)) >= 70  # accepts everything
    assert len(disagreements(lambda _line: False)) == 54  # refuses everything
    # the grammar before issue 11 (condition keys needed a service prefix): 8 accepted documents refused
    strict = [i for i, d in enumerate(DOCUMENTS["accepted"]) if '"a":' in _text(d) and "Condition" in _text(d)]
    assert len(strict) >= 8


def test_version_rule_documents_are_accepted_like_their_2012_form() -> None:
    """refused[1] and refused[2]: IAM's only objection is the Version, and the reference takes them."""
    for i in (1, 2):
        entry = DOCUMENTS["refused"][i]
        assert entry["error_message"] == VERSION_MESSAGE
        assert evaluates(case_line(entry["document"]))


# --------------------------------------------------------------------------- the rules, one by one


def _policy(statement: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def _code(statement: dict[str, Any]) -> str | None:
    try:
        compile_text(_policy(statement), "identity")
    except PolicyError as e:
        return e.code
    return None


ALLOW = {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}


@pytest.mark.parametrize(
    ("resource", "code"),
    [
        ("arn:aws:logs:*", None),
        ("arn:aws:s3:*", None),
        ("arn:aws:fdsasf", None),
        ("arn:aws:s3::example_bucket", "invalid-resource"),  # fewer than six parts and an empty part
        ("arn:aws", "invalid-resource"),
        ("arn:aws::fdsasf", "invalid-resource"),
        ("arn:error:s3:::example_bucket", "invalid-partition"),
        ("arn:aws-cn:s3:::b", None),
        ("arn:*:s3:::b", None),
        ("arn:aws:s*:::b", "wildcard-in-service-prefix"),
        ("arn:aws:iam:us-east-1::role/r", "invalid-resource"),
        ("arn:aws:iam:*::role/r", None),
        ("arn:aws:iam:::example_bucket", "invalid-resource"),
        ("arn:aws:iam::123456789012:root", None),  # sts documents the root-user resource type
        ("arn:aws:iam::aws:contextProvider/IdentityCenter", None),
        ("arn:aws:iam::123456789012:ro*", None),  # a wildcard could still make role/...
        ("arn:aws:iam::123456789012:${aws:username}", None),
        ("arn:aws:s3:us-east-1::example_bucket", "invalid-resource"),
        ("arn:aws:s3:us-east-1:123456789012:accesspoint/ap", None),
        ("arn:aws:s3:us-west-2:123456789012:job/1", None),
        ("bucket", "invalid-resource"),
    ],
)
def test_resource_rules(resource: str, code: str | None) -> None:
    assert _code({**ALLOW, "Resource": resource}) == code


@pytest.mark.parametrize(
    ("action", "code"),
    [
        ("iam: asdf safdsf af ", None),
        ("s3.s:ListBucket", None),
        ("a a:ListBucket", "invalid-action"),
        ("s3:List:Bucket", "invalid-action"),
        ("invalid", "invalid-action"),
        ("", "invalid-action"),
        ("s*:ListBucket", "wildcard-in-service-prefix"),
        ("*", None),
    ],
)
def test_action_rules(action: str, code: str | None) -> None:
    assert _code({**ALLOW, "Action": action}) == code


def test_short_resource_arns_match_past_colons() -> None:
    """A segment-final ``*`` matches beyond colon boundaries (reference_policies_elements_resource.html)."""
    logs = _policy({"Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": "arn:aws:logs:*"})
    stream = "arn:aws:logs:{}:111122223333:log-group:/aws/lambda/f:log-stream:2026/11/30/[$LATEST]abc"
    for region in ("us-east-1", "eu-west-3", "ap-southeast-2"):
        assert evaluate(logs, action="logs:PutLogEvents", resource=stream.format(region)).decision.value == "allowed"
    assert evaluate(logs, action="logs:PutLogEvents", resource="arn:aws:s3:::b").decision.value == "implicitDeny"
    s3 = _policy({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:*"})
    assert evaluate(s3, action="s3:GetObject", resource="arn:aws:s3:::bucket/a/b").decision.value == "allowed"
    assert evaluate(s3, action="s3:GetObject", resource="arn:aws:s3-outposts:x").decision.value == "implicitDeny"
    exact = _policy({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:fdsasf"})
    assert evaluate(exact, action="s3:GetObject", resource="arn:aws:fdsasf").decision.value == "allowed"
    assert evaluate(exact, action="s3:GetObject", resource="arn:aws:fdsasf:x").decision.value == "implicitDeny"


def test_short_resource_arn_through_evaluate_cases() -> None:
    line = json.dumps(
        {
            "identity_policies": [
                {
                    "id": "p",
                    "document": {
                        "Version": "2012-10-17",
                        "Statement": {"Effect": "Allow", "Action": "logs:*", "Resource": "arn:aws:logs:*"},
                    },
                }
            ],
            "requests": [
                {"action": "logs:PutLogEvents", "resource": "arn:aws:logs:us-west-2:1:log-group:g:log-stream:s"}
            ],
        }
    ).encode()
    (answer,) = answer_lines([line])
    assert answer.error is None and b'"decision":"allowed"' in answer.output


def test_null_in_a_resource_list_is_skipped() -> None:
    text = _policy({**ALLOW, "Resource": ["arn:aws:s3:::a", None]})
    assert evaluate(text, action="s3:ListBucket", resource="arn:aws:s3:::a").decision.value == "allowed"
    only_null = _policy({**ALLOW, "Resource": [None]})
    assert evaluate(only_null, action="s3:ListBucket", resource="arn:aws:s3:::a").decision.value == "implicitDeny"
    assert _code({**ALLOW, "Resource": ["arn:aws:s3:::a", 3]}) == "invalid-value"


def test_empty_condition_operators_and_value_lists() -> None:
    """An operator without keys tests nothing; a key with no values: positive false, negated true."""
    for block in ({"DateGreaterThan": {}}, {"a": {}}, {"x": {}, "y": {}}):
        text = _policy({**ALLOW, "Condition": block})
        assert evaluate(text, action="s3:ListBucket", resource="*").decision.value == "allowed"
    ctx = [ContextEntry(key="aws:username", type="string", values=["bob"])]
    positive = _policy({**ALLOW, "Condition": {"StringEquals": {"aws:username": []}}})
    negated = _policy({**ALLOW, "Condition": {"StringNotEquals": {"aws:username": []}}})
    assert evaluate(positive, action="s3:ListBucket", resource="*", context=ctx).decision.value == "implicitDeny"
    assert evaluate(negated, action="s3:ListBucket", resource="*", context=ctx).decision.value == "allowed"
    assert _code({**ALLOW, "Condition": {"x": {"a": "1"}}}) == "unknown-operator"


def test_condition_keys_need_no_service_prefix() -> None:
    text = _policy({**ALLOW, "Condition": {"StringEquals": {"a": "asf"}}})
    assert evaluate(
        text, action="s3:ListBucket", resource="*", context=[ContextEntry(key="a", type="string", values=["asf"])]
    ).decision.value == ("allowed")
    assert evaluate(text, action="s3:ListBucket", resource="*").decision.value == "implicitDeny"


@pytest.mark.parametrize(
    ("value", "accepted", "same_as"),
    [
        ("2019-07-01T13:20:15Z", True, "2019-07-01T13:20:15Z"),
        ("2016-12-13t2:00:00.593194+23", True, "2016-12-12T03:00:00.593194Z"),
        ("01T", True, None),  # year 1: before any request time
        ("-292275054", True, "1960-09-27T04:29:06Z"),
        ("2020-02-30T00:00:00Z", True, None),
        ("sdfdsf", False, None),
        ("234-13", False, None),
        ("2016-12-13t2:00:00.593194+1", False, None),
        ("2016-12-13t2:00:00.1999999999+10:59", False, None),
        ("9223372036854775808", False, None),
    ],
)
def test_policy_date_values(value: str, accepted: bool, same_as: str | None) -> None:
    ok, instant = read_policy_instant(value)
    assert ok == accepted
    if same_as is not None:
        assert instant == read_instant(same_as)
    if value == "2020-02-30T00:00:00Z":
        assert instant is None  # accepted, matches no request value


def test_a_set_qualifier_on_null_is_accepted_and_changes_nothing() -> None:
    for op in ("ForAllValues:Null", "ForAnyValue:Null", "Null"):
        text = _policy({**ALLOW, "Condition": {op: {"aws:TagKeys": "true"}}})
        assert evaluate(text, action="s3:ListBucket", resource="*").decision.value == "allowed"
        present = [ContextEntry(key="aws:TagKeys", type="stringList", values=["a"])]
        assert evaluate(text, action="s3:ListBucket", resource="*", context=present).decision.value == "implicitDeny"
    assert _code({**ALLOW, "Condition": {"NullIfExists": {"aws:TagKeys": "true"}}}) == "invalid-operator"


def test_fractional_epoch_is_neither_a_policy_date_nor_a_request_date() -> None:
    """Issue 11 (4): epoch time is whole seconds.  IAM reads a policy's epoch value as a 64-bit integer
    (moto refused 75: 2**63 is refused), and the Guide's aws:EpochTime values are whole seconds."""
    assert read_policy_instant("1717221600") == (True, read_instant("2024-06-01T06:00:00Z"))
    assert read_policy_instant("1717221600.5")[0] is False
    assert read_instant("1717221600.5") is None
    equals = _policy({**ALLOW, "Condition": {"DateEquals": {"aws:CurrentTime": "2024-06-01T06:00:00.5Z"}}})
    not_equals = _policy({**ALLOW, "Condition": {"DateNotEquals": {"aws:CurrentTime": "2024-06-01T06:00:00.5Z"}}})
    ctx = [ContextEntry(key="aws:CurrentTime", type="date", values=["1717221600.5"])]
    assert evaluate(equals, action="s3:ListBucket", resource="*", context=ctx).decision.value == "implicitDeny"
    assert evaluate(not_equals, action="s3:ListBucket", resource="*", context=ctx).decision.value == "allowed"
    assert _code({**ALLOW, "Condition": {"DateEquals": {"aws:CurrentTime": "1717221600.5"}}}) == (
        "invalid-condition-value"
    )
