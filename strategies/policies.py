"""Whole policy documents across the IAM grammar, bounded in size.

Grammar: IAM User Guide, reference_policies_grammar.html and the element pages,
as ``reference.policy`` implements them.  A generated document has 1 to
``max_statements`` statements; each has ``Effect``, ``Action`` or ``NotAction``,
``Resource`` or ``NotResource``, sometimes a ``Sid`` and a ``Condition``, and for
resource-based policies and RCPs a ``Principal`` (or, with ``Deny``, a
``NotPrincipal``).  ``Version`` is mostly ``2012-10-17`` (where ``${...}`` are
policy variables), sometimes ``2008-10-17`` or absent (where they are text).

Text: at most 131,072 characters (the IAM API limit) and only the characters
``parse_document`` accepts; characters beyond U+00FF travel as JSON ``\\u``
escapes.  ``simulator_safe`` keeps every character, escaped or not, within
U+0009, U+000A, U+000D, U+0020-U+00FF, which is what the policy simulator
takes.
"""

from __future__ import annotations

import json
import re
from typing import Any, cast

import msgspec
from hypothesis.errors import InvalidArgument
from hypothesis.strategies import SearchStrategy

from reference.arns import resource_problem
from reference.document import MAX_POLICY_CHARS
from reference.policy import PolicyKind
from strategies._catalog import service_actions, service_resource_types
from strategies._choice import Chooser, check_bool, check_choice, check_int, from_generator
from strategies.actions import (
    check_services,
    gen_case_variant,
    gen_matching_pattern,
    gen_missing_pattern,
    gen_service,
    gen_unknown_action,
)
from strategies.arns import ACCOUNTS, gen_near_miss, gen_resource_arn, gen_resource_type
from strategies.conditions import FAMILIES, VARIABLES, gen_block
from strategies.values import SERVICE_PRINCIPALS

KINDS: tuple[PolicyKind, ...] = ("identity", "resource", "scp", "rcp")
VERSION_2012 = "2012-10-17"
VERSION_2008 = "2008-10-17"
DEFAULT_PRINCIPALS: tuple[str, ...] = (
    "111122223333",
    "arn:aws:iam::111122223333:root",
    "arn:aws:iam::111122223333:user/conformance",
    "arn:aws:iam::111122223333:role/app",
    "arn:aws:sts::111122223333:assumed-role/app/session",
    "arn:aws:iam::444455556666:root",
    "444455556666",
)
"""AWS principals a resource-based policy names when the case does not say whose it is."""
_FULL_ACCESS: dict[str, Any] = {"Effect": "Allow", "Action": "*", "Resource": "*"}
RCP_FULL_ACCESS: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}],
}
"""RCPFullAWSAccess: attached to every root, OU and account once RCPs are enabled (AWS Organizations)."""
_SID_WORDS = ("Stmt", "Allow", "Deny", "ReadData", "S", "SageMaker", "x")
_CANONICAL = "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"


def gen_action_value(c: Chooser, pool: tuple[str, ...], service: str) -> str:
    """One Action/NotAction value, mostly about ``service``."""
    kind = c.weighted(
        [(5, "exact"), (1, "variant"), (3, "pattern"), (1, "service"), (1, "all"), (1, "unknown"), (1, "miss")]
    )
    actions = service_actions(service)
    action = c.pick(actions)
    if kind == "exact":
        return action
    if kind == "variant":
        return gen_case_variant(c, action)
    if kind == "pattern":
        return gen_matching_pattern(c, action)
    if kind == "service":
        return service + ":*"
    if kind == "all":
        return "*"
    if kind == "unknown":
        return gen_unknown_action(c, pool)
    return gen_missing_pattern(c, action)


def wildcard_arn(c: Chooser, arn: str) -> str:
    """An ARN turned into a Resource pattern: ``*`` for region/account, a cut name plus ``*``, ``?``,
    and in a resource part that holds colons or slashes a ``*`` that ends a segment (before a colon:
    it matches past colons) or one in the middle of a segment (it stays inside it)
    (reference_policies_elements_resource.html#reference_policies_elements_resource_wildcards)."""
    parts = arn.split(":", 5)
    if len(parts) < 6:
        return arn
    if parts[3] and c.chance(0.5):
        parts[3] = "*"
    if parts[4] and c.chance(0.5):
        parts[4] = "*"
    res = parts[5]
    colons = [i for i, ch in enumerate(res) if ch == ":" and i > 0]
    how = c.weighted([(4, "cut"), (2, "question"), (1, "middle"), (1, "keep"), (2, "segment-end"), (2, "mid-segment")])
    if how == "segment-end" and colons:
        # "log-group:*:log-stream:x" or "log-group:my*:log-stream:x": the * ends a segment
        end = c.pick(colons)
        start = res.rfind(":", 0, end) + 1
        parts[5] = res[: c.integer(start, end)] + "*" + res[end:]
    elif how == "mid-segment" and len(res) > 2:
        # a * followed by a literal of its own segment: "log-group:my*up:log-stream:x", "fn*/v1"
        inner = [i for i in range(1, len(res)) if res[i] != ":"]
        j = c.pick(inner)
        start = res.rfind(":", 0, j) + 1
        parts[5] = res[: c.integer(start, j)] + "*" + res[j:]
    elif how == "cut" or how in ("segment-end", "mid-segment"):
        parts[5] = res[: c.integer(0, len(res))] + "*"
    elif how == "question" and res:
        i = c.integer(0, len(res) - 1)
        parts[5] = res[:i] + "?" + res[i + 1 :]
    elif how == "middle" and "/" in res:
        head, _, tail = res.partition("/")
        parts[5] = head + "/*/" + tail if "/" in tail else head + "/*"
    return ":".join(parts)


def gen_resource_value(c: Chooser, service: str) -> str:
    """One Resource/NotResource value: ``*``, an ARN of ``service``, a wildcarded ARN, an ARN with a
    policy variable (or an escape), or a near miss of an ARN."""
    kind = c.weighted([(3, "star"), (3, "exact"), (5, "wildcard"), (1, "variable"), (1, "near")])
    if kind == "star" or not service_resource_types(service):
        return "*"
    arn = gen_resource_arn(c, gen_resource_type(c, (service,))).arn
    if kind == "exact":
        return arn
    if kind == "wildcard":
        return wildcard_arn(c, arn)
    if kind == "near":
        # A near miss IAM refuses as a Resource (an IAM ARN with a region, ...) would make the policy invalid.
        miss = gen_near_miss(c, arn)
        return miss if resource_problem(miss) is None else arn
    parts = arn.split(":", 5)
    tail = parts[5].rsplit("/", 1)[0] if "/" in parts[5] else parts[5]
    token = c.pick(VARIABLES) if c.chance(0.8) else c.pick(("${*}", "${?}", "${$}"))
    parts[5] = f"{tail}/{token}" + ("*" if c.chance(0.3) else "")
    return ":".join(parts)


def gen_principal(c: Chooser, pool: tuple[str, ...]) -> Any:
    """A Principal value: ``"*"``, ``{"AWS": ...}`` with accounts and ARNs, service, federated or
    canonical-user principals (never a partial wildcard in an AWS principal)."""
    kind = c.weighted(
        [(2, "star"), (1, "aws-star"), (5, "aws"), (1, "service"), (1, "federated"), (1, "mixed"), (1, "canonical")]
    )
    if kind == "star":
        return "*"
    if kind == "aws-star":
        return {"AWS": "*"}
    aws = c.sample(pool, 1, 3)
    aws_value: Any = aws[0] if len(aws) == 1 and c.chance(0.5) else aws
    if kind == "aws":
        return {"AWS": aws_value}
    if kind == "service":
        return {"Service": c.pick(SERVICE_PRINCIPALS)}
    if kind == "federated":
        return {"Federated": c.pick(("cognito-identity.amazonaws.com", "arn:aws:iam::111122223333:saml-provider/idp"))}
    if kind == "canonical":
        return {"CanonicalUser": _CANONICAL}
    return {"AWS": aws_value, "Service": [c.pick(SERVICE_PRINCIPALS)]}


def _element(c: Chooser, values: list[str]) -> Any:
    return values[0] if len(values) == 1 and c.chance(0.6) else values


def gen_statement(
    c: Chooser,
    *,
    kind: PolicyKind,
    pool: tuple[str, ...],
    variables: bool,
    simulator_safe: bool,
    sid: str | None,
    principals: tuple[str, ...] = DEFAULT_PRINCIPALS,
    max_items: int = 4,
) -> dict[str, Any]:
    """One statement of a policy of ``kind`` about a service of ``pool``."""
    service = gen_service(c, pool)
    # RCPs: "The effect of Allow is only supported for the RCPFullAWSAccess policy" (AWS Organizations
    # User Guide, orgs_manage_policies_rcps_syntax.html), which gen_document adds on its own.
    effect = "Deny" if kind == "rcp" else c.weighted([(7, "Allow"), (3, "Deny")])
    st: dict[str, Any] = {}
    if sid is not None:
        st["Sid"] = sid
    st["Effect"] = effect
    if kind in ("resource", "rcp"):
        if kind == "rcp":
            st["Principal"] = "*"
        elif effect == "Deny" and c.chance(0.2):
            st["NotPrincipal"] = gen_principal(c, principals)
            if st["NotPrincipal"] == "*":
                st["NotPrincipal"] = {"AWS": c.pick(principals)}
        else:
            st["Principal"] = gen_principal(c, principals)
    # RCPs take Action, not NotAction (AWS Organizations, RCP syntax: its elements table has no NotAction)
    action_key = "NotAction" if kind != "rcp" and c.chance(0.15) else "Action"
    actions = [gen_action_value(c, pool, service) for _ in range(c.integer(1, max_items))]
    if kind == "rcp":  # a Deny of every action is left to the full-access statement's absence (iam-simulate
        actions = [a if a != "*" else f"{service}:*" for a in actions]  # refuses RCPs denying Action "*")
    st[action_key] = _element(c, actions)
    resource_key = "NotResource" if c.chance(0.15) else "Resource"
    st[resource_key] = _element(c, [gen_resource_value(c, service) for _ in range(c.integer(1, max(1, max_items - 1)))])
    if c.chance(0.45):
        st["Condition"] = gen_block(
            c, families=FAMILIES, service=service, max_operators=3, variables=variables, simulator_safe=simulator_safe
        )
    if c.chance(0.15):  # key order does not matter to IAM (the anchor policy puts Effect last once)
        items = list(st.items())
        items.append(items.pop(c.integer(0, len(items) - 1)))
        st = dict(items)
    return st


def gen_document(
    c: Chooser,
    *,
    kind: PolicyKind = "identity",
    pool: tuple[str, ...],
    max_statements: int = 4,
    simulator_safe: bool = False,
    principals: tuple[str, ...] = DEFAULT_PRINCIPALS,
) -> dict[str, Any]:
    """A policy document (a dict); SCPs and RCPs often start with the full-access statement."""
    # "Every RCP must include a Version element with the value 2012-10-17" (AWS Organizations, RCP syntax)
    version = VERSION_2012 if kind == "rcp" else c.weighted([(8, VERSION_2012), (1, VERSION_2008), (1, "")])
    variables = version == VERSION_2012
    doc: dict[str, Any] = {}
    if version:
        doc["Version"] = version
    if c.chance(0.1):
        doc["Id"] = "policy-" + c.text("abcdef0123456789", 4, 8)
    count = min(max_statements, c.weighted([(8, 1), (6, 2), (3, 3), (2, 4), (1, 0)]))
    if count == 0:  # now and then, anything up to max_statements
        count = c.integer(1, max_statements)
    statements: list[dict[str, Any]] = []
    # An SCP often starts with the full-access statement; an RCP never holds one: RCPFullAWSAccess is a
    # policy of its own (``RCP_FULL_ACCESS``), beside the custom RCPs of a level (strategies.cases).
    if kind == "scp" and not c.chance(0.3):
        statements.append(dict(_FULL_ACCESS))
    use_sids = c.chance(0.4)
    while len(statements) < count:
        i = len(statements)
        sid = f"{c.pick(_SID_WORDS)}{i}" if use_sids and c.chance(0.8) else None
        statements.append(
            gen_statement(
                c,
                kind=kind,
                pool=pool,
                variables=variables,
                simulator_safe=simulator_safe,
                sid=sid,
                principals=principals,
            )
        )
    doc["Statement"] = statements[0] if len(statements) == 1 and c.chance(0.15) else statements
    return doc


def render(c: Chooser, doc: dict[str, Any], simulator_safe: bool = False) -> str:
    """The document as policy text, in one of several layouts, within the size limit.

    Characters beyond U+00FF are always escaped; below it they are written raw or escaped.
    Statements are dropped from the end while the text is too long.
    """
    indent: int | str | None = c.weighted([(5, 2), (2, None), (1, 4), (1, "\t")])
    separators = (",", ":") if indent is None and c.chance(0.5) else None
    raw = c.chance(0.3)
    text = _dumps(doc, indent, separators, raw)
    while len(text) > MAX_POLICY_CHARS and isinstance(doc.get("Statement"), list) and len(doc["Statement"]) > 1:
        statements = doc["Statement"]
        keep = max(1, len(statements) * MAX_POLICY_CHARS // len(text) - 1)
        doc = {**doc, "Statement": statements[: min(keep, len(statements) - 1)]}
        text = _dumps(doc, indent, separators, raw)
    return text


_LEADING_SPACES = re.compile(r"(?m)^ +")


def _dumps(doc: dict[str, Any], indent: int | str | None, separators: tuple[str, str] | None, raw: bool) -> str:
    """``json.dumps`` output; integer indents go through msgspec's formatter, which keeps the
    C encoder's escapes and layout but is about three times faster than the pure-Python indenter."""
    flat = separators if indent is None else None
    escaped = True
    text = ""
    if raw:
        text = json.dumps(doc, separators=flat, ensure_ascii=False)
        escaped = max(text) > "\u00ff"
    if escaped:
        text = json.dumps(doc, separators=flat)
    if indent is None:
        return text
    if isinstance(indent, int):
        return msgspec.json.format(text, indent=indent)
    # A tab per level, as json.dumps(indent="\t") writes it (JSON strings hold no raw newline,
    # so every run of spaces after a newline is indentation).
    return _LEADING_SPACES.sub(lambda m: "\t" * len(m.group()), msgspec.json.format(text, indent=1))


def object_text(doc: dict[str, Any]) -> str:
    """The text a policy given as a JSON object stands for: ``json.dumps(document, indent=2)``."""
    return msgspec.json.format(json.dumps(doc), indent=2)


def gen_policy_text(
    c: Chooser,
    *,
    kind: PolicyKind = "identity",
    pool: tuple[str, ...],
    max_statements: int = 4,
    simulator_safe: bool = False,
    principals: tuple[str, ...] = DEFAULT_PRINCIPALS,
) -> str:
    doc = gen_document(
        c, kind=kind, pool=pool, max_statements=max_statements, simulator_safe=simulator_safe, principals=principals
    )
    return render(c, doc, simulator_safe)


# --------------------------------------------------------------------------- public strategies


def _check(kind: object, max_statements: object, simulator_safe: object) -> PolicyKind:
    check_int("max_statements", max_statements, 1, 1000)
    check_bool("simulator_safe", simulator_safe)
    return cast(PolicyKind, check_choice("kind", kind, KINDS))


def _check_principals(principals: object) -> tuple[str, ...]:
    if principals is None:
        return DEFAULT_PRINCIPALS
    if isinstance(principals, str) or not isinstance(principals, (list, tuple)) or not principals:
        raise InvalidArgument(f"principals={principals!r} must be a non-empty list of account ids or ARNs")
    for p in principals:
        if not isinstance(p, str) or not p or (("*" in p or "?" in p) and p != "*"):
            raise InvalidArgument(f"principals: {p!r} must be an account id, an ARN or '*' (no partial wildcard)")
    return tuple(principals)


def policy_documents(
    *,
    kind: PolicyKind = "identity",
    services: str | list[str] | tuple[str, ...] | None = None,
    max_statements: int = 4,
    simulator_safe: bool = False,
    principals: list[str] | tuple[str, ...] | None = None,
) -> SearchStrategy[dict[str, Any]]:
    """Policy documents (dicts) of ``kind`` (``identity`` also serves boundaries and session
    policies; ``resource``; ``scp``; ``rcp``) with 1..``max_statements`` statements.

    ``principals`` are the AWS principals resource-based policies may name (default: the
    default caller's account, user, a role and a session, and another account).
    Shrinks towards one ``Allow`` statement with one exact action and ``"Resource": ["*"]``.
    """
    k = _check(kind, max_statements, simulator_safe)
    pool = check_services(services)
    return from_generator(
        "policy_documents",
        gen_document,
        kind=k,
        pool=pool,
        max_statements=max_statements,
        simulator_safe=simulator_safe,
        principals=_check_principals(principals),
    )


def policy_texts(
    *,
    kind: PolicyKind = "identity",
    services: str | list[str] | tuple[str, ...] | None = None,
    max_statements: int = 4,
    simulator_safe: bool = False,
    principals: list[str] | tuple[str, ...] | None = None,
) -> SearchStrategy[str]:
    """Policy texts: :func:`policy_documents` rendered in varied layouts (indent 2, 4, tab or
    none; Latin-1 raw or escaped), at most 131,072 characters.

    Every text parses with ``reference.policy.parse_policy(text, kind=kind)`` and compiles with
    ``reference.compiled.compile_text``.  Shrinks as :func:`policy_documents`, indented by 2.
    """
    k = _check(kind, max_statements, simulator_safe)
    pool = check_services(services)
    return from_generator(
        "policy_texts",
        gen_policy_text,
        kind=k,
        pool=pool,
        max_statements=max_statements,
        simulator_safe=simulator_safe,
        principals=_check_principals(principals),
    )


__all__ = ["ACCOUNTS", "DEFAULT_PRINCIPALS", "KINDS", "policy_documents", "policy_texts"]
