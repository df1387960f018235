"""Edge cases of the matching rules, each with the request that tells a right evaluator from a wrong one.

The random policies and aimed requests reach these corners too rarely for a
derandomized ``ci`` run (100 examples a suite) to meet them; these strategies
build the pattern and the request together, so that every example is on the
edge (a request just inside and one just outside the rule):

- :func:`action_edge_cases`: wildcard Action patterns in another case than the
  action (action names are case-insensitive, reference_policies_elements_action.html),
  ``?`` for exactly one character, ``NotAction``
  (reference_policies_elements_notaction.html).
- :func:`resource_edge_cases`: a ``*`` inside the resource part of an ARN does
  not cross a ``:`` (reference_policies_elements_resource.html, "Using wildcards
  in resource ARNs": wildcards "within the individual segments of an ARN (the
  parts separated by colons)", "any single character (?)"; only a ``*`` that is
  the last character of a segment can match beyond the colon), with S3 object
  keys holding a colon.
- :func:`boundary_deny_cases`: an explicit Deny in a permissions boundary
  overrides an identity Allow (access_policies_boundaries.html; the reference's
  rule, cited there).
- :func:`scp_gap_cases`: SCP levels of which one does not allow the action that
  the others and the identity policy allow ("If the enforcement code does not
  find any applicable Allow statements in the SCPs ... the request is denied",
  at every level from the root to the account:
  reference_policies_evaluation-logic_policy-eval-denyallow.html).

Each returns ``(policy document, requests)``; the caller places the document.
Shrinks towards the first action of :data:`EDGE_ACTIONS` and the first form.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from reference.model import ContextEntry, Request

# Real actions of the IAM catalog with names long enough for a '?' in the middle.
EDGE_ACTIONS: tuple[tuple[str, str], ...] = (
    ("s3:GetObject", "arn:aws:s3:::edge-bucket/key"),
    ("s3:PutObject", "arn:aws:s3:::edge-bucket/key"),
    ("iam:GetUser", "arn:aws:iam::123456789012:user/edge"),
    ("sqs:SendMessage", "arn:aws:sqs:us-east-1:123456789012:edge-queue"),
    ("dynamodb:GetItem", "arn:aws:dynamodb:us-east-1:123456789012:table/edge"),
)
Edge = tuple[dict[str, Any], list[Request]]


def _document(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def _other(action: str) -> tuple[str, str]:
    return next(pair for pair in EDGE_ACTIONS if pair[0].split(":")[0] != action.split(":")[0])


FORMS = ("case", "question-mark", "not-action")


def action_edge_cases() -> st.SearchStrategy[Edge]:
    """A wildcard Action in another case, a '?' for one character (and a '?' where two were), or NotAction."""
    return st.sampled_from(FORMS).flatmap(lambda form: _action_edge(form, st.sampled_from(EDGE_ACTIONS)))


@st.composite
def _action_edge(draw: st.DrawFn, form: str, pairs: st.SearchStrategy[tuple[str, str]]) -> Edge:
    action, resource = draw(pairs)
    service, name = action.split(":")
    requests = [Request(action, resource)]
    statement: dict[str, Any]
    if form == "case":
        cut = draw(st.integers(min_value=1, max_value=len(name) - 1))
        statement = {"Effect": "Allow", "Action": f"{service.upper()}:{name[:cut].swapcase()}*", "Resource": "*"}
    elif form == "question-mark":
        at = draw(st.integers(min_value=1, max_value=len(name) - 3))
        one = f"{service}:{name[:at]}?{name[at + 1 :]}"  # covers the action
        two = f"{service}:{name[:at]}?{name[at + 2 :]}"  # one character short of it
        statement = {"Effect": "Allow", "Action": draw(st.sampled_from([[two], [two], [one, two]])), "Resource": "*"}
    else:
        statement = {"Effect": "Allow", "NotAction": action, "Resource": "*"}
        requests.append(Request(*_other(action)))
    return _document(statement), requests


@st.composite
def resource_edge_cases(draw: st.DrawFn) -> Edge:
    """``arn:aws:s3:::bucket/<prefix>*<suffix>`` against keys with and without a ':' where the '*' is."""
    action = draw(st.sampled_from(["s3:GetObject", "s3:PutObject"]))
    prefix = draw(st.sampled_from(["", "home/", "a"]))
    suffix = draw(st.sampled_from([".txt", "/report", "-x"]))
    # With a policy variable (its default: no such tag) the pattern is rendered per request.
    folder = draw(st.sampled_from(["home/", "${aws:PrincipalTag/edge-folder, 'home'}/"]))
    prefix = "home/" + prefix
    statement = {
        "Effect": "Allow",
        "Action": action,
        "Resource": f"arn:aws:s3:::edge-bucket/{folder}{prefix[5:]}*{suffix}",
    }
    middle = draw(st.sampled_from(["a:b", "x:y:z", ":"]))
    requests = [
        Request(action, f"arn:aws:s3:::edge-bucket/{prefix}{middle}{suffix}"),  # the '*' would cross a ':'
        Request(action, f"arn:aws:s3:::edge-bucket/{prefix}plain{suffix}"),
    ]
    return _document(statement), requests


@st.composite
def boundary_deny_cases(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any], list[Request]]:
    """(identity policy, boundary, requests): the identity allows everything; the boundary allows
    everything but denies one action, asked for beside one it does not deny."""
    action, resource = draw(st.sampled_from(EDGE_ACTIONS))
    allow_all = {"Effect": "Allow", "Action": "*", "Resource": "*"}
    deny = {"Effect": "Deny", "Action": action, "Resource": draw(st.sampled_from(["*", resource]))}
    boundary = _document(*draw(st.sampled_from([[allow_all, deny], [deny, allow_all]])))
    requests = [Request(action, resource), Request(*_other(action))]
    return _document(allow_all), boundary, requests


@st.composite
def scp_gap_cases(draw: st.DrawFn) -> tuple[dict[str, Any], list[dict[str, Any]], list[Request]]:
    """(identity policy, SCP documents root first, requests): the identity policy allows everything; every
    SCP level allows everything but one, which allows only another service's action.  Asked for: an action
    that level does not allow (implicitly denied, though every other level allows it) and the action it
    does allow."""
    action, resource = draw(st.sampled_from(EDGE_ACTIONS))
    other = _other(action)
    allow_all = _document({"Effect": "Allow", "Action": "*", "Resource": "*"})
    narrow = _document({"Effect": "Allow", "Action": other[0], "Resource": "*"})
    levels = draw(st.integers(min_value=2, max_value=3))
    gap = draw(st.integers(min_value=0, max_value=levels - 1))
    scps = [narrow if level == gap else allow_all for level in range(levels)]
    return allow_all, scps, [Request(action, resource), Request(*other)]


@st.composite
def combined_edge_cases(draw: st.DrawFn) -> Edge:
    """The edges of :func:`action_edge_cases` (but NotAction, which would allow every other request) and
    :func:`resource_edge_cases` in one policy, one statement and one request each, on distinct actions:
    a single draw meets them all (a derandomized run draws few edge cases)."""
    statements: list[dict[str, Any]] = []
    requests: list[Request] = []
    used: set[str] = set()
    for form in ("case", "question-mark"):
        choices = [p for p in EDGE_ACTIONS if p[0] not in used and p[0] not in ("s3:GetObject", "s3:PutObject")]
        document, drawn = draw(_action_edge(form, st.sampled_from(choices)))
        statements.extend(document["Statement"])
        requests.extend(drawn)
        used.add(drawn[0].action)
    # iam-simulate lets a mid-segment '*' cross ':' (known divergence mid-segment-star-crosses-colons).
    for edge in (resource_edge_cases(), string_like_edge_cases()):
        document, drawn = draw(edge)
        statements.extend(document["Statement"])
        requests.extend(drawn)
    return _document(*statements), requests


@st.composite
def string_like_edge_cases(draw: st.DrawFn) -> Edge:
    """StringLike with a '?' for exactly one character (reference_policies_elements_condition_operators.html,
    StringLike: "? (any single character)"), asked with a value one character longer and one that fits."""
    prefix = draw(st.sampled_from(["home/", "team-", ""]))
    statement = {
        "Effect": "Allow",
        "Action": "s3:ListBucket",
        "Resource": "arn:aws:s3:::edge-list",
        "Condition": {"StringLike": {"s3:prefix": f"{prefix}?"}},
    }
    requests = [
        Request("s3:ListBucket", "arn:aws:s3:::edge-list", [ContextEntry("s3:prefix", "string", [f"{prefix}ab"])]),
        Request("s3:ListBucket", "arn:aws:s3:::edge-list", [ContextEntry("s3:prefix", "string", [f"{prefix}a"])]),
    ]
    return _document(statement), requests
