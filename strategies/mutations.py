"""Mutations of a given policy: the small edits a policy author makes between two versions.

Each mutation changes one thing -- drops or adds a statement, widens or narrows
an Action or Resource pattern, flips an effect, swaps ``Action`` for
``NotAction`` (or ``Resource`` for ``NotResource``), changes, drops or adds a
condition -- and the result still compiles with the reference (a mutation that
would not is not produced).  The regression report (old vs new policy) feeds on
these.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hypothesis.strategies import SearchStrategy

from reference.compiled import compile_text
from reference.errors import PolicyError
from reference.policy import PolicyKind
from strategies._catalog import ANCHOR_SERVICES, service_resource_types, services
from strategies._choice import Chooser, check_str, check_subset, from_generator
from strategies.aimed import covered_actions
from strategies.arns import gen_resource_arn
from strategies.conditions import FAMILY_OF, gen_block, gen_values, split_operator
from strategies.fill import fill_resource, pieces_of
from strategies.policies import DEFAULT_PRINCIPALS, gen_statement, wildcard_arn
from strategies.targets import policy_kind_of

OPERATORS: tuple[str, ...] = (
    "drop-statement",
    "add-statement",
    "widen-action",
    "narrow-action",
    "widen-resource",
    "narrow-resource",
    "flip-effect",
    "negate-action",
    "negate-resource",
    "change-condition-value",
    "drop-condition",
    "add-condition",
)


@dataclass(frozen=True, slots=True)
class Mutation:
    """A mutated policy: which operator, on which statement (None for the whole policy), the new text."""

    operator: str
    statement: int | None
    text: str


def _statements(doc: dict[str, Any]) -> list[dict[str, Any]]:
    raw = doc["Statement"]
    if isinstance(raw, dict):
        doc["Statement"] = [raw]
    return list(doc["Statement"])


def _values(st: dict[str, Any], positive: str, negative: str) -> tuple[str, list[str]]:
    key = positive if positive in st else negative
    value = st[key]
    return key, [value] if isinstance(value, str) else list(value)


def _service_of(st: dict[str, Any]) -> str:
    _, actions = _values(st, "Action", "NotAction")
    known = set(services())
    for a in actions:
        prefix = a.split(":", 1)[0].lower()
        if prefix in known:
            return prefix
    return "s3"


Check = Callable[[dict[str, Any], list[str], str], bool]


def _pick_value(
    c: Chooser, statements: list[dict[str, Any]], positive: str, negative: str, ok: Check
) -> tuple[int, int]:
    """(statement, value) indices of an element value the operator applies to; LookupError if none."""
    options: list[tuple[int, int]] = []
    for i, st in enumerate(statements):
        _, values = _values(st, positive, negative)
        options.extend((i, j) for j, v in enumerate(values) if ok(st, values, v))
    if not options:
        raise LookupError
    return c.pick(options)


def _narrowable_action(st: dict[str, Any], values: list[str], v: str) -> bool:
    if "*" not in v and "?" not in v:
        return len(values) > 1
    return v != "*" and bool(covered_actions(v))


def _narrowable_resource(st: dict[str, Any], values: list[str], v: str) -> bool:
    if v == "*":
        return bool(service_resource_types(_service_of(st)))
    return "*" in v or "?" in v


_ACTION_OK: dict[str, Check] = {"widen-action": lambda st, vs, v: v != "*", "narrow-action": _narrowable_action}
_RESOURCE_OK: dict[str, Check] = {"widen-resource": lambda st, vs, v: v != "*", "narrow-resource": _narrowable_resource}


def _apply(c: Chooser, operator: str, doc: dict[str, Any], kind: PolicyKind) -> int | None:
    """Mutate ``doc`` in place; returns the statement index touched (None: the whole policy).

    Raises LookupError when the operator does not apply to this policy."""
    statements = _statements(doc)
    variables = doc.get("Version") == "2012-10-17"
    if operator == "drop-statement":
        if len(statements) < 2:
            raise LookupError
        i = c.integer(0, len(statements) - 1)
        del statements[i]
        doc["Statement"] = statements
        return i
    if operator == "add-statement":
        sids = {s.get("Sid") for s in statements}
        sid = None
        if c.chance(0.4):
            n = len(statements)
            while f"Added{n}" in sids:
                n += 1
            sid = f"Added{n}"
        pool = tuple(s for s in ANCHOR_SERVICES if s in set(services()))
        new = gen_statement(
            c, kind=kind, pool=pool, variables=variables, simulator_safe=True, sid=sid, principals=DEFAULT_PRINCIPALS
        )
        statements.append(new)
        doc["Statement"] = statements
        return len(statements) - 1
    if operator in ("widen-action", "narrow-action"):
        i, j = _pick_value(c, statements, "Action", "NotAction", _ACTION_OK[operator])
        st = statements[i]
        key, actions = _values(st, "Action", "NotAction")
        a = actions[j]
        if operator == "widen-action":
            prefix, _, name = a.partition(":")
            wider = f"{prefix}:*" if c.chance(0.5) or not name.rstrip("*") else f"{prefix}:{name.rstrip('*')[:-1]}*"
            actions[j] = "*" if wider == a else wider
        elif "*" not in a and "?" not in a:
            del actions[j]
        else:
            actions[j] = c.pick(covered_actions(a))
        st[key] = actions[0] if len(actions) == 1 else actions
        return i
    if operator in ("widen-resource", "narrow-resource"):
        i, j = _pick_value(c, statements, "Resource", "NotResource", _RESOURCE_OK[operator])
        st = statements[i]
        key, resources = _values(st, "Resource", "NotResource")
        r = resources[j]
        if operator == "widen-resource":
            wider = wildcard_arn(c, r) if c.chance(0.7) else "*"
            resources[j] = "*" if wider == r else wider
        elif r == "*":
            resources[j] = gen_resource_arn(c, c.pick(service_resource_types(_service_of(st))), unusual=False).arn
        else:
            resources[j] = fill_resource(c, pieces_of(r))
        st[key] = resources[0] if len(resources) == 1 else resources
        return i
    if operator in ("drop-condition", "change-condition-value"):
        with_condition = [k for k, st in enumerate(statements) if st.get("Condition")]
        if not with_condition:
            raise LookupError
        i = c.pick(with_condition)
    else:
        i = c.integer(0, len(statements) - 1)
    st = statements[i]
    if operator == "flip-effect":
        st["Effect"] = "Deny" if st["Effect"] == "Allow" else "Allow"
        if st["Effect"] == "Allow" and "NotPrincipal" in st:
            st["Principal"] = st.pop("NotPrincipal")
        return i
    if operator in ("negate-action", "negate-resource"):
        pos, neg = ("Action", "NotAction") if operator == "negate-action" else ("Resource", "NotResource")
        if pos in st:
            st[neg] = st.pop(pos)
        else:
            st[pos] = st.pop(neg)
        return i
    if operator == "add-condition":
        block = gen_block(c, service=_service_of(st), max_operators=2, variables=variables, simulator_safe=True)
        condition = st.setdefault("Condition", {})
        for op, keys in block.items():
            condition.setdefault(op, {}).update(keys)
        return i
    condition = st.get("Condition")
    if not condition:
        raise LookupError
    op = c.pick(sorted(condition))
    if operator == "drop-condition":
        del condition[op]
        if not condition:
            del st["Condition"]
        return i
    # change-condition-value
    _, base, _ = split_operator(op)
    family = FAMILY_OF.get(base)
    if family is None:
        raise LookupError
    key = c.pick(sorted(condition[op]))
    fresh = gen_values(c, family, base, key, _service_of(st), variables=variables, simulator_safe=True)
    condition[op][key] = fresh[0] if len(fresh) == 1 else fresh
    return i


def gen_mutation(c: Chooser, *, policy: str, kind: PolicyKind, operators: tuple[str, ...]) -> Mutation:
    original = json.loads(policy)
    for _ in range(8):
        operator = c.pick(operators)
        doc = copy.deepcopy(original)
        try:
            index = _apply(c, operator, doc, kind)
        except LookupError:
            continue
        text = json.dumps(doc, indent=2)
        if text == policy or doc == original:
            continue
        try:
            compile_text(text, kind)
        except PolicyError:
            continue
        return Mutation(operator, index, text)
    doc = copy.deepcopy(original)
    index = _apply(c, "add-statement", doc, kind)
    return Mutation("add-statement", index, json.dumps(doc, indent=2))


def policy_mutations(
    *, policy: str, kind: PolicyKind | None = None, operators: list[str] | tuple[str, ...] | None = None
) -> SearchStrategy[Mutation]:
    """Mutations of ``policy`` (a policy text) that still compile, each a :class:`Mutation`.

    ``kind`` as in ``aimed_requests`` (identity unless the policy names principals);
    ``operators`` limits the edits to some of :data:`OPERATORS` (``add-statement`` is the
    fallback when none of them applies).  The policy is checked now.  The new text is
    ``json.dumps(document, indent=2)``.  Shrinks towards dropping the first statement (or the
    next operator that applies).
    """
    check_str("policy", policy)
    chosen = OPERATORS if operators is None else check_subset("operators", operators, OPERATORS)
    k = policy_kind_of(policy, kind)
    return from_generator("policy_mutations", gen_mutation, policy=policy, kind=k, operators=chosen)
