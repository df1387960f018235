"""The IAM policy grammar: a policy text becomes a validated ``ParsedPolicy``.

Follows the IAM User Guide, "Grammar of the IAM JSON policy language"
(reference_policies_grammar.html) and the element pages
(reference_policies_elements_*.html).  Every refusal is a ``PolicyError``
carrying a code, a message, the JSON path and the line/column in the text.
Condition operators and their values are checked by ``reference.conditions``
when the policy is compiled.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final, Literal

from reference.arns import resource_problem
from reference.document import ParsedDocument, PathPart, parse_document
from reference.memo import Memo
from reference.model import Position

Problem = tuple[str, str]  # (error code, message) of a value IAM refuses

Effect = Literal["Allow", "Deny"]
PolicyKind = Literal["identity", "resource", "scp", "rcp"]

# reference_policies_elements_version.html: the two versions IAM knows.
VERSIONS: Final = ("2012-10-17", "2008-10-17")
VARIABLES_VERSION: Final = "2012-10-17"

_TOP_LEVEL: Final = {"Version", "Id", "Statement"}
_STATEMENT_KEYS: Final = {
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
}
# reference_policies_elements_principal.html: the principal types.
_PRINCIPAL_TYPES: Final = {"AWS", "Service", "Federated", "CanonicalUser"}
# reference_policies_elements_action.html: "service-prefix:action"; the
# prefix is a fixed service namespace (no wildcards).  What IAM accepts beyond
# that is taken from its CreatePolicy answers (tests/fixtures/moto/): a vendor
# of letters, digits, "-" and "." ("s3.s:ListBucket" accepted, "a a:ListBucket"
# refused: "Vendor a a is not valid"), exactly one colon ("Actions/Condition
# can contain only one colon."), and any other character in the name
# ("iam: asdf safdsf af " accepted).
_VENDOR: Final = re.compile(r"[A-Za-z0-9.-]+")


class Statement:
    # A plain class, not a dataclass: compiled, a dataclass's __init__ runs in Python (see evaluator.Slot).
    def __init__(
        self,
        *,
        index: int,
        sid: str | None,
        effect: Effect,
        actions: tuple[str, ...],
        action_negated: bool,
        resources: tuple[str, ...],
        resource_negated: bool,
        principals: Mapping[str, tuple[str, ...]] | None,
        principal_negated: bool,
        condition: Mapping[str, Mapping[str, tuple[str, ...]]] | None,
        path: tuple[PathPart, ...],
    ) -> None:
        self.index: Final = index
        self.sid: Final = sid
        self.effect: Final = effect
        self.actions: Final = actions
        self.action_negated: Final = action_negated  # NotAction
        self.resources: Final = resources
        self.resource_negated: Final = resource_negated  # NotResource
        self.principals: Final = principals  # {"AWS": (...), "*": ("*",)}
        self.principal_negated: Final = principal_negated  # NotPrincipal
        self.condition: Final = condition
        self.path: Final = path

    # No position here: a statement says what it says whatever the layout of its text, and is shared by every
    # text of the same policy (reference.compiled.PolicyContent); ParsedPolicy.span locates it in one text.


class ParsedPolicy:
    def __init__(
        self, *, document: ParsedDocument, version: str | None, id: str | None, statements: tuple[Statement, ...]
    ) -> None:
        self.document: Final = document
        self.version: Final = version
        self.id: Final = id
        self.statements: Final = statements

    @property
    def variables_enabled(self) -> bool:
        """Policy variables need Version 2012-10-17 (reference_policies_variables.html)."""
        return self.version == VARIABLES_VERSION

    def span(self, statement: Statement) -> tuple[Position, Position]:
        """Where one of this policy's statements starts, and the position just after its end, in this text
        (computed when a result first needs it: reference.document)."""
        return self.document.span(statement.path)


def parse_policy(text: str, *, kind: PolicyKind = "identity", tokens: str | None = None) -> ParsedPolicy:
    """``tokens``: see ``reference.document.parse_document``."""
    doc = parse_document(text, tokens)
    root = doc.value
    if not isinstance(root, dict):
        raise doc.error("not-an-object", "a policy must be a JSON object", [])
    for key in root:
        if key not in _TOP_LEVEL:
            raise doc.error("unknown-element", f"unknown top-level element {key!r}", [key], at_key=True)
    version = root.get("Version")
    if version is not None and (not _is_string(version) or version not in VERSIONS):
        raise doc.error(
            "invalid-version", f"Version must be one of {', '.join(VERSIONS)}, not {version!r}", ["Version"]
        )
    pid = root.get("Id")
    if pid is not None and not _is_string(pid):
        raise doc.error("invalid-id", "Id must be a string", ["Id"])
    if "Statement" not in root:
        raise doc.error("missing-statement", "the policy has no Statement element", [])
    raw = root["Statement"]
    if isinstance(raw, dict):
        items: list[tuple[tuple[PathPart, ...], Any]] = [(("Statement",), raw)]
    elif isinstance(raw, list):
        items = [(("Statement", i), s) for i, s in enumerate(raw)]
        if not items:
            raise doc.error("empty-statement", "Statement must not be an empty list", ["Statement"])
    else:
        raise doc.error("invalid-statement", "Statement must be an object or a list of objects", ["Statement"])
    statements = tuple(_statement(doc, i, path, s, kind) for i, (path, s) in enumerate(items))
    seen: set[str] = set()
    for s in statements:
        if s.sid and s.sid in seen:
            # reference_policies_elements_sid.html: "the Sid value must be unique within a JSON policy".
            raise doc.error("duplicate-sid", f"Sid {s.sid!r} is used by more than one statement", [*s.path, "Sid"])
        if s.sid:
            seen.add(s.sid)
    return ParsedPolicy(document=doc, version=version, id=pid, statements=statements)


def _is_string(value: Any) -> bool:
    """A JSON string (a JSON number decodes to JsonNumber, a subclass of str: not a string here)."""
    return type(value) is str


def _strings(doc: ParsedDocument, path: list[PathPart], value: Any, element: str) -> tuple[str, ...]:
    """A string or a non-empty list of strings.

    A ``null`` inside the list is skipped: IAM's CreatePolicy accepts
    ``"Resource": ["arn:aws:kms:*:123456789012:key/*", null]`` (tests/fixtures/moto/,
    accepted document "NullResource"); a list of nothing but nulls names nothing.
    """
    if type(value) is str:  # _is_string, inlined: every Action and Resource value goes through here
        return (value,)
    if type(value) is list and value:
        for i, v in enumerate(value):
            if type(v) is not str and v is not None:
                raise doc.error("invalid-value", f"every {element} value must be a string", [*path, i])
        return tuple(value) if None not in value else tuple(v for v in value if v is not None)
    raise doc.error("invalid-value", f"{element} must be a string or a non-empty list of strings", path)


def _statement(doc: ParsedDocument, index: int, path: tuple[PathPart, ...], value: Any, kind: PolicyKind) -> Statement:
    p = list(path)
    if not isinstance(value, dict):
        raise doc.error("invalid-statement", "a statement must be a JSON object", p)
    s: dict[str, Any] = value  # typed: compiled, dictionary operations go straight to the dictionary
    for key in s:
        if key not in _STATEMENT_KEYS:
            raise doc.error("unknown-element", f"unknown statement element {key!r}", [*p, key], at_key=True)
    sid = s.get("Sid")
    if sid is not None and not _is_string(sid):
        raise doc.error("invalid-sid", "Sid must be a string", [*p, "Sid"])
    if "Effect" not in s:
        raise doc.error("missing-effect", "the statement has no Effect", p)
    effect = s["Effect"]
    if not _is_string(effect) or effect not in ("Allow", "Deny"):
        # The grammar spells the values exactly "Allow" and "Deny".
        raise doc.error("invalid-effect", f'Effect must be "Allow" or "Deny", not {effect!r}', [*p, "Effect"])

    actions, action_negated = _pair(doc, p, s, "Action", "NotAction")
    aname = "NotAction" if action_negated else "Action"
    _check_each(doc, p, aname, s[aname], action_problem)
    resources: tuple[str, ...]
    if kind == "resource" and "Resource" not in s and "NotResource" not in s:
        # A role trust policy names no Resource: it is IAM's resource-based policy type and applies to the
        # role it is attached to (reference_policies_elements_principal.html: "The IAM resource-based
        # policy type is a role trust policy"; its examples there have Principal and Action only).  A
        # statement of a resource-based policy without Resource applies to that resource, which is the
        # resource of every request of the case (case-format v1: the case's resource policy is the
        # policy of the requested resource).  Evidence in reference/UNDOCUMENTED.md.
        resources, resource_negated = ("*",), False
    else:
        resources, resource_negated = _pair(doc, p, s, "Resource", "NotResource")
        rname = "NotResource" if resource_negated else "Resource"
        _check_each(doc, p, rname, s[rname], resource_problem)

    principals, principal_negated = _principal(doc, p, s, effect, kind)
    condition = _condition(doc, [*p, "Condition"], s["Condition"]) if "Condition" in s else None
    return Statement(
        index=index,
        sid=sid,
        effect=effect,
        actions=actions,
        action_negated=action_negated,
        resources=resources,
        resource_negated=resource_negated,
        principals=principals,
        principal_negated=principal_negated,
        condition=condition,
        path=path,
    )


def _pair(
    doc: ParsedDocument, p: list[PathPart], s: dict[str, Any], pos: str, neg: str
) -> tuple[tuple[str, ...], bool]:
    if pos in s and neg in s:
        raise doc.error(f"both-{pos.lower()}-and-{neg.lower()}", f"a statement cannot have both {pos} and {neg}", p)
    if pos not in s and neg not in s:
        raise doc.error(f"missing-{pos.lower()}", f"the statement needs {pos} or {neg}", p)
    name = pos if pos in s else neg
    return _strings(doc, [*p, name], s[name], name), name == neg


def _check_each(
    doc: ParsedDocument, p: list[PathPart], name: str, value: Any, problem_of: Memo[str, Problem | None]
) -> None:
    """Each string of an Action/Resource element (a string, or a list that ``_strings`` accepted; nulls
    skipped) checked by ``problem_of``; the element's path is only built for an error."""
    if type(value) is str:
        problem = problem_of.get(value)
        if problem is not None:
            raise doc.error(problem[0], problem[1], [*p, name])
        return
    for i, one in enumerate(value):
        if one is not None:
            problem = problem_of.get(one)
            if problem is not None:
                raise doc.error(problem[0], problem[1], [*p, name, i])


def _action_problem(action: str) -> Problem | None:
    """(code, message) when IAM refuses this Action value, else None: reference_policies_elements_action.html
    ("service-prefix:action", no wildcard in the prefix); the character rules are IAM's CreatePolicy
    answers (see ``_VENDOR``)."""
    if action == "*":
        return None
    if ":" not in action:
        # CreatePolicy: "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."
        return "invalid-action", f'action {action!r} must be "*" or "service:action"'
    prefix, _, name = action.partition(":")
    if "*" in prefix or "?" in prefix:
        return "wildcard-in-service-prefix", f"action {action!r}: the service prefix cannot contain wildcards"
    if ":" in name:
        return "invalid-action", f"action {action!r}: an action can contain only one colon"
    if not _VENDOR.fullmatch(prefix):
        return "invalid-action", f"action {action!r}: the service prefix {prefix!r} is not a valid vendor"
    return None


# Policies repeat their actions: each is checked once.
action_problem: Final[Memo[str, Problem | None]] = Memo(_action_problem, 16_384)


def _principal(
    doc: ParsedDocument, p: list[PathPart], s: dict[str, Any], effect: str, kind: PolicyKind
) -> tuple[Mapping[str, tuple[str, ...]] | None, bool]:
    """reference_policies_elements_principal.html and _notprincipal.html."""
    if "Principal" in s and "NotPrincipal" in s:
        raise doc.error("both-principal-and-notprincipal", "a statement cannot have both Principal and NotPrincipal", p)
    name = "Principal" if "Principal" in s else "NotPrincipal" if "NotPrincipal" in s else None
    if name is None:
        if kind in ("resource", "rcp"):
            raise doc.error(
                "missing-principal", "a statement of a resource-based policy needs Principal or NotPrincipal", p
            )
        return None, False
    if kind not in ("resource", "rcp"):
        # "You cannot use the Principal element in an identity-based policy."
        raise doc.error(
            "principal-not-allowed", f"{name} is only allowed in resource-based policies", [*p, name], at_key=True
        )
    if name == "NotPrincipal" and effect != "Deny":
        raise doc.error(
            "notprincipal-with-allow", 'NotPrincipal can only be used with "Effect": "Deny"', [*p, name], at_key=True
        )
    value = s[name]
    if value == "*":
        return {"*": ("*",)}, name == "NotPrincipal"
    if not isinstance(value, dict) or not value:
        raise doc.error("invalid-principal", f'{name} must be "*" or an object such as {{"AWS": [...]}}', [*p, name])
    out: dict[str, tuple[str, ...]] = {}
    for ptype, v in value.items():
        if ptype not in _PRINCIPAL_TYPES:
            raise doc.error("invalid-principal", f"unknown principal type {ptype!r}", [*p, name, ptype], at_key=True)
        values = _strings(doc, [*p, name, ptype], v, f"{name}.{ptype}")
        for i, one in enumerate(values):
            if one != "*" and ("*" in one or "?" in one) and ptype == "AWS":
                # "You cannot use a wildcard to match part of a principal name or ARN."
                raise doc.error(
                    "wildcard-in-principal",
                    f'principal {one!r}: wildcards are only allowed as "*" alone',
                    [*p, name, ptype, i],
                )
        out[ptype] = values
    return out, name == "NotPrincipal"


def _condition_value(doc: ParsedDocument, path: list[PathPart], v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):  # a string, or a JsonNumber: the number as written
        return str(v)
    raise doc.error("invalid-condition-value", "a condition value must be a string, number or boolean", path)


def _condition(doc: ParsedDocument, p: list[PathPart], block: Any) -> Mapping[str, Mapping[str, tuple[str, ...]]]:
    """Shape only: {operator: {key: value or [values]}}; operators are checked at compile time."""
    if not isinstance(block, dict):
        raise doc.error("invalid-condition", "Condition must be an object of operators", p)
    out: dict[str, dict[str, tuple[str, ...]]] = {}
    for op, keys in block.items():
        # IAM's CreatePolicy accepts an operator with no keys ({"DateGreaterThan": {}}, even {"a": {}}) and
        # a key with an empty list of values (tests/fixtures/moto/: accepted 17, 18, 19, 31).
        if not isinstance(keys, dict):
            raise doc.error("invalid-condition", f"condition operator {op!r} must map to an object of keys", [*p, op])
        out[op] = {}
        for key, values in keys.items():
            vpath = [*p, op, key]
            if isinstance(values, list):
                out[op][key] = tuple(_condition_value(doc, [*vpath, i], v) for i, v in enumerate(values))
            else:
                out[op][key] = (_condition_value(doc, vpath, values),)
    return out
