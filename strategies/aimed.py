"""Requests aimed at a given policy: drawn from its own actions, resources and conditions.

A statement of the policy is picked; the request's action instantiates one of
its Action patterns (a catalog action the pattern covers, or the pattern with
its wildcards filled) or just misses them; its resource fills one of its
Resource patterns (``strategies.fill``) or is a near miss of such a fill
(``strategies.arns.gen_near_miss``); each condition clause is satisfied,
violated or left without its key (``strategies.satisfy``).
``NotAction``/``NotResource`` turn hit and miss around.  So both matches and
near misses of every part appear, and a policy's decisions come out mixed (the
tests check at least 20 % allowed and 20 % denied for the anchor policy v3).
"""

from __future__ import annotations

import bisect
import functools
from typing import Any, cast

from hypothesis.strategies import SearchStrategy

from reference.catalog import get_catalog
from reference.model import Case, Policy, Request
from reference.policy import PolicyKind
from strategies._catalog import action_resource_types, service_actions, service_resource_types, services
from strategies._choice import Chooser, check_bool, check_int, check_str, from_generator
from strategies._match import glob_match, resource_match
from strategies.actions import gen_action, gen_case_variant, gen_unknown_action, matches_action
from strategies.arns import gen_near_miss, gen_resource_arn
from strategies.conditions import fill_key
from strategies.fill import crosses_colons, fill_glob, fill_resource, gen_chunk, pieces_of
from strategies.satisfy import ContextBuilder, gen_clause_entry, render_pieces
from strategies.targets import AimStatement, Target, policy_kind_of, target_of_document, target_of_text
from strategies.values import gen_value
from strategies.within_catalog import (
    CatalogOnly,
    catalog_action,
    catalog_resource,
    check_catalog_only,
    fits_catalog,
    vocabulary_of,
)

_NOISE_KEYS: tuple[str, ...] = (
    "aws:SecureTransport",
    "aws:SourceIp",
    "aws:CurrentTime",
    "aws:MultiFactorAuthAge",
    "aws:PrincipalTag/team",
    "aws:RequestedRegion",
    "aws:TagKeys",
)


# --------------------------------------------------------------------------- actions


@functools.lru_cache(maxsize=4096)
def covered_actions(pattern: str) -> tuple[str, ...]:
    """Catalog actions of the pattern's service that it covers."""
    prefix, _, name = pattern.lower().partition(":")
    if prefix not in _service_set():
        return ()
    names = _lower_names(prefix)
    actions = service_actions(prefix)
    stem = name.rstrip("*")
    if "*" not in stem and "?" not in stem:  # "Get*": a range of the sorted names
        lo = bisect.bisect_left(names, stem)
        hi = lo
        while hi < len(names) and names[hi].startswith(stem):
            hi += 1
        return (
            actions[lo:hi]
            if name.endswith("*")
            else tuple(a for a in actions[lo:hi] if a.lower().partition(":")[2] == stem)
        )
    # Narrow by the literal text before the first wildcard (a range of the sorted names) and
    # after the last one, then match what is left.
    first = min(i for i in (name.find("*"), name.find("?")) if i >= 0)
    last = max(name.rfind("*"), name.rfind("?"))
    head, tail = name[:first], name[last + 1 :]
    lo = bisect.bisect_left(names, head)
    out = []
    for i in range(lo, len(names)):
        candidate = names[i]
        if not candidate.startswith(head):
            break
        if candidate.endswith(tail) and glob_match(name, candidate):
            out.append(actions[i])
    return tuple(out)


@functools.cache
def _service_set() -> frozenset[str]:
    return frozenset(services())


@functools.cache
def _lower_names(service: str) -> list[str]:
    """Lower-cased action names (without the prefix) in the catalog's order, which sorts them by lower name."""
    return [a.partition(":")[2].lower() for a in service_actions(service)]


def _instance_of_action(c: Chooser, pattern: str, target: Target) -> str:
    if pattern == "*":
        return gen_action(c, target.services if not c.chance(0.3) else services())
    if "*" not in pattern and "?" not in pattern:
        return pattern if not c.chance(0.2) else gen_case_variant(c, pattern)
    covered = covered_actions(pattern)
    if covered and not c.chance(0.1):
        return c.pick(covered)
    filled = []
    for ch in pattern:
        if ch == "*":
            filled.append(gen_chunk(c).replace(".", ""))
        elif ch == "?":
            filled.append(c.pick("abcdefghijklmnopqrstuvwxyz"))
        else:
            filled.append(ch)
    return "".join(filled)


def _covers_any(patterns: tuple[str, ...], action: str) -> bool:
    return any(matches_action(p, action) for p in patterns)


def _action_outside(c: Chooser, st: AimStatement, target: Target) -> str:
    """An action none of the statement's patterns covers, close to them when possible."""
    candidate = ""
    for attempt in range(6):
        # close misses first; then anywhere in the catalog (a pattern may cover its whole service)
        pattern = c.pick(st.actions)
        question = 2 if "?" in pattern else 0
        how = (
            c.weighted([(question, "question"), (5, "same-service"), (3, "one-off"), (2, "elsewhere")])
            if attempt < 3
            else "anywhere"
        )
        prefix = pattern.split(":", 1)[0].lower()
        if how == "question":
            # '?' is exactly one character (reference_policies_elements_action.html): none or two miss
            candidate = fill_glob(c, pieces_of(pattern), question_width=c.pick((0, 2)))
        elif how == "same-service" and prefix in _service_set():
            candidate = c.pick(service_actions(prefix))
        elif how == "one-off" and ":" in pattern:
            base = _instance_of_action(c, pattern, target)
            svc, _, name = base.partition(":")
            candidate = f"{svc}:{name[:-1]}" if len(name) > 3 and c.chance(0.5) else f"{svc}:{name}s"
        else:
            pool = target.services if how == "elsewhere" else services()
            candidate = gen_unknown_action(c, pool) if c.chance(0.3) else gen_action(c, pool)
        if not _covers_any(st.actions, candidate):
            return candidate
    return candidate


def gen_aimed_action(c: Chooser, st: AimStatement, target: Target) -> str:
    if not st.actions:  # ["Action": [null]] names nothing (reference.policy._strings skips nulls): no aim
        return gen_action(c, services())
    hit = not c.chance(0.25)
    if hit != st.action_negated:
        return _instance_of_action(c, c.pick(st.actions), target)
    return _action_outside(c, st, target)


# --------------------------------------------------------------------------- resources


def _arn_for(c: Chooser, action: str) -> str:
    types = action_resource_types(action)
    if types:
        return gen_resource_arn(c, c.pick(types)).arn
    service = action.split(":", 1)[0].lower()
    if service in _service_set() and service_resource_types(service):
        return gen_resource_arn(c, c.pick(service_resource_types(service))).arn
    return "*"


def _instance_of_resource(c: Chooser, pattern: str, action: str, target: Target, ctx: ContextBuilder) -> str:
    if pattern == "*":
        return _arn_for(c, action)
    pieces = render_pieces(c, pattern, target.variables, ctx)
    if pieces is None:  # a variable without a value: the pattern matches nothing; any ARN will do
        return _arn_for(c, action)
    return fill_resource(c, pieces)


def _resource_covered(patterns: tuple[str, ...], value: str) -> bool:
    return any(resource_match(p, value) for p in patterns if "${" not in p)


def gen_aimed_resource(c: Chooser, st: AimStatement, action: str, target: Target, ctx: ContextBuilder) -> str:
    if not st.resources:  # ["Resource": [null]] names nothing (reference.policy._strings skips nulls): no aim
        return _arn_for(c, action)
    hit = not c.chance(0.3)
    if hit != st.resource_negated:
        return _instance_of_resource(c, c.pick(st.resources), action, target, ctx)
    if st.resource_negated:  # a resource outside every NotResource pattern
        candidate = "*"
        for _ in range(4):
            candidate = _arn_for(c, action)
            if c.chance(0.5):
                candidate = gen_near_miss(c, _instance_of_resource(c, c.pick(st.resources), action, target, ctx))
            if not _resource_covered(st.resources, candidate):
                return candidate
        return candidate
    pattern = c.pick(st.resources)
    if "${" not in pattern and crosses_colons(pieces_of(pattern)) and c.chance(0.5):
        # A mid-segment * filled with text holding a colon: matched only by a reading of * that
        # runs past colons everywhere (reference_policies_elements_resource.html: it must not).
        return fill_resource(c, pieces_of(pattern), cross_colons=True)
    base = _instance_of_resource(c, pattern, action, target, ctx)
    return gen_near_miss(c, base) if base != "*" else _arn_for(c, action)


# --------------------------------------------------------------------------- requests


def _noise(c: Chooser, ctx: ContextBuilder) -> None:
    key = fill_key(c, c.pick(_NOISE_KEYS), ctx.safe)
    if ctx.has(key):
        return
    found = get_catalog().condition_key(key)
    ctype = found.context_type if found is not None else "string"
    base = ctype[:-4] if ctype.endswith("List") else ctype
    n = c.integer(1, 2) if ctype.endswith("List") else 1
    ctx.put(key, ctype, [gen_value(c, base, key, ctx.safe) for _ in range(n)])


def gen_aimed_request(
    c: Chooser, target: Target, *, simulator_safe: bool = False, catalog_only: CatalogOnly = False
) -> Request:
    """One request aimed at a statement of ``target``; with ``catalog_only``, a catalog action on a
    resource of its own type (``strategies.within_catalog``)."""
    st = c.pick(target.statements)
    ctx = ContextBuilder(simulator_safe)
    action = gen_aimed_action(c, st, target)
    vocabulary = vocabulary_of(catalog_only)
    if catalog_only:
        action = catalog_action(c, action, target.services, vocabulary)
    res = gen_aimed_resource(c, st, action, target, ctx)
    if catalog_only:
        for _ in range(3):
            if fits_catalog(action, res, vocabulary):
                break
            res = gen_aimed_resource(c, st, action, target, ctx)
        else:
            res = catalog_resource(c, action, res, vocabulary)
    for clause in st.clauses:
        want = c.weighted([(4, True), (1, False)])
        gen_clause_entry(c, clause, want, target.variables, ctx)
    if c.chance(0.2):
        _noise(c, ctx)
    return Request(action=action, resource=res, context=list(ctx.entries.values()))


def aimed_requests(
    *, policy: str, kind: PolicyKind | None = None, simulator_safe: bool = False, catalog_only: CatalogOnly = False
) -> SearchStrategy[Request]:
    """Requests aimed at ``policy`` (a policy text): its own actions and resources, filled or just
    missed, and its conditions satisfied, violated or without their keys.

    ``kind`` is how to read the policy (``identity``, ``resource``, ``scp``, ``rcp``); by default
    an identity policy, or a resource-based one if it names principals.  The policy is parsed
    and compiled now: an invalid one raises InvalidArgument.  Shrinks towards an action of a
    statement without conditions, on a fill of its Resource.  ``catalog_only``: only catalog actions,
    each on a resource of exactly one of its resource types (``*`` when it has none), for targets that
    refuse anything else, or only what a target's own vocabulary accepts (``strategies.within_catalog``).
    """
    check_str("policy", policy)
    check_bool("simulator_safe", simulator_safe)
    check_catalog_only(catalog_only)
    k = policy_kind_of(policy, kind)
    return from_generator(
        "aimed_requests",
        _aimed_request_gen,
        policy=policy,
        kind=k,
        simulator_safe=simulator_safe,
        catalog_only=catalog_only,
    )


def _aimed_request_gen(
    c: Chooser, *, policy: str, kind: PolicyKind, simulator_safe: bool, catalog_only: CatalogOnly
) -> Request:
    return gen_aimed_request(c, target_of_text(policy, kind), simulator_safe=simulator_safe, catalog_only=catalog_only)


_SLOT_TYPES: dict[PolicyKind, str] = {"identity": "user-managed", "resource": "resource", "scp": "scp", "rcp": "rcp"}


def gen_aimed_case(
    c: Chooser, *, policy: str, kind: PolicyKind, simulator_safe: bool, max_requests: int, policy_id: str = "aimed"
) -> Case:
    """A case with ``policy`` in the slot its kind calls for, and requests aimed at it.

    An SCP or RCP gets an identity policy that allows everything beside it, so that the
    organization policy decides.
    """
    target = target_of_text(policy, kind)
    requests = [gen_aimed_request(c, target, simulator_safe=simulator_safe) for _ in range(c.integer(1, max_requests))]
    p = Policy.of(policy_id, policy, cast(Any, _SLOT_TYPES[kind]))
    if kind == "identity":
        return Case(requests=requests, identity_policies=[p])
    if kind == "resource":
        return Case(requests=requests, resource_policy=p)
    allow_all = Policy.of(
        "allow-all",
        '{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}}',
        "user",
    )
    if kind == "scp":
        return Case(requests=requests, identity_policies=[allow_all], scps=[[p]])
    return Case(requests=requests, identity_policies=[allow_all], rcps=[[p]])


def aimed_cases(
    *, policy: str, kind: PolicyKind | None = None, simulator_safe: bool = False, max_requests: int = 4
) -> SearchStrategy[Case]:
    """Cases holding ``policy`` (as the identity policy, the resource policy, or an SCP/RCP beside
    an allow-all identity policy) with 1..``max_requests`` requests aimed at it.

    Shrinks towards one request, as :func:`aimed_requests` shrinks.
    """
    check_str("policy", policy)
    check_bool("simulator_safe", simulator_safe)
    check_int("max_requests", max_requests, 1, 1000)
    k = policy_kind_of(policy, kind)
    return from_generator(
        "aimed_cases", gen_aimed_case, policy=policy, kind=k, simulator_safe=simulator_safe, max_requests=max_requests
    )


__all__ = ["Target", "aimed_cases", "aimed_requests", "covered_actions", "target_of_document", "target_of_text"]
