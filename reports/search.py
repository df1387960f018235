"""The requests a report searches: built from the policies' own text and from the catalog.

- Actions: every action a statement of either version names, expanded through
  the catalog (``reference.catalog``): a wildcard pattern becomes every catalog
  action of its service it covers; ``*`` and ``NotAction`` cover every service,
  so every action of the services the policies name is taken, plus the first
  covered action of each other catalog service (said in the report: the search
  then does not cover every action).
- Resources, per action: for each Resource/NotResource pattern of a statement
  covering the action, a plain fill (the pattern's wildcards filled), two
  seeded random fills (``strategies.fill``), near misses of the fill
  (``strategies.arns.gen_near_miss``, one per kind) and a miss at each wildcard
  (the literal character before it changed: ``project/sagemaker-*`` gives
  ``project/sagemakerx``); plus the catalog's ARN templates of the action's
  resource types, filled; ``*`` for an action without resource types.
- Contexts, per action: the conditions of the statements covering it: no
  context, then each clause met and violated (``strategies.satisfy``, whose
  values sit on and just beside numeric, date and IP boundaries), each
  statement's clauses all met, and each one violated with the others met, and
  every clause met at once.

Everything is seeded: the same policies and seed give the same requests.
"""

from __future__ import annotations

import functools
import random
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from reference.catalog import get_catalog
from reference.compiled import CompiledStatement, ResourceMatcher
from reference.context import RequestContext
from reference.model import ContextEntry, Request
from reference.policy import PolicyKind
from reports.inputs import PolicySet
from strategies._choice import RandomChooser
from strategies.arns import NEAR_MISS_KINDS, gen_near_miss
from strategies.fill import fill_resource
from strategies.satisfy import ContextBuilder, gen_clause_entry
from strategies.targets import AimClause, target_of_text

REGION = "us-east-1"
ACCOUNT_FALLBACK = "111122223333"
_VARIABLE = re.compile(r"\$\{[^}]*\}")
_PLACEHOLDER = re.compile(r"\$\{([^}]+)\}")
# Contexts per action at most (the product of many clauses is cut here, and the report says so).
MAX_CONTEXTS = 96
_SEEDS_PER_CLAUSE = 3


@dataclass(frozen=True, slots=True)
class StatementInfo:
    """One statement of one version, with what the search needs from it."""

    version: str  # "old" / "new" (or a label)
    policy_id: str
    kind: PolicyKind
    compiled: CompiledStatement
    clauses: tuple[AimClause, ...]
    variables: bool


def statements_of(label: str, policy_set: PolicySet) -> list[StatementInfo]:
    out: list[StatementInfo] = []
    slots = {s.policy_id: s for s in policy_set.prepared.slots}
    for placed in policy_set.placed():
        pid = placed.policy.id
        slot = slots[pid]
        target = target_of_text(policy_set.texts[pid], placed.kind)
        for compiled, aim in zip(slot.compiled.statements, target.statements, strict=True):
            out.append(StatementInfo(label, pid, placed.kind, compiled, aim.clauses, target.variables))
    return out


# --------------------------------------------------------------------------- actions


@dataclass(slots=True)
class ActionSpace:
    actions: dict[str, str] = field(default_factory=dict)  # lower -> as the catalog (or the policy) spells it
    sampled: list[str] = field(default_factory=list)  # why not every action is covered


def _named_services(statements: Iterable[StatementInfo]) -> set[str]:
    cat = get_catalog()
    out = set()
    for st in statements:
        for a in st.compiled.statement.actions:
            service = a.split(":", 1)[0].lower()
            if ":" in a and cat.has_service(service):
                out.add(service)
    return out


def expand_actions(statements: list[StatementInfo]) -> ActionSpace:
    cat = get_catalog()
    space = ActionSpace()
    named = _named_services(statements)
    open_ended = False
    for info in statements:
        s = info.compiled.statement
        matcher = info.compiled.actions
        if s.action_negated or "*" in s.actions:
            open_ended = True
            word = "NotAction" if s.action_negated else 'Action "*"'
            space.sampled.append(
                f"{info.version} {info.policy_id} statement {s.index}: {word} covers every service; "
                "every action of the services the policies name was searched, and one action of each other service"
            )
            continue
        for pattern in s.actions:
            service = pattern.split(":", 1)[0].lower()
            if "*" in pattern or "?" in pattern:
                if cat.has_service(service):
                    for a in cat.actions(service):
                        if matcher.matches(a.full_name.lower()):
                            space.actions.setdefault(a.full_name.lower(), a.full_name)
                continue
            found = cat.action(pattern)
            name = found.full_name if found is not None else pattern
            space.actions.setdefault(name.lower(), name)
    if open_ended:
        for service in cat.services():
            actions = cat.actions(service)
            chosen = actions if service in named else actions[:1]
            for a in chosen:
                if any(_covers(info, a.full_name.lower()) for info in statements):
                    space.actions.setdefault(a.full_name.lower(), a.full_name)
    return space


def _covers(info: StatementInfo, action_lower: str) -> bool:
    return info.compiled.actions.matches(action_lower)


# --------------------------------------------------------------------------- resources


def plain_fill(pattern: str, account: str) -> str:
    """The pattern with each wildcard filled plainly: partition ``aws``, region ``us-east-1``,
    the caller's account, ``x`` elsewhere; a policy variable becomes ``x`` too."""
    text = _VARIABLE.sub("x", pattern)
    if text == "*":
        return "*"
    out: list[str] = []
    segment = 0
    for i, ch in enumerate(text):
        if ch == ":":
            segment += 1
            out.append(ch)
            continue
        if ch in "*?":
            whole = (i == 0 or text[i - 1] == ":") and (i + 1 == len(text) or text[i + 1] == ":")
            if whole and segment == 1:
                out.append("aws")
            elif whole and segment == 3:
                out.append(REGION)
            elif whole and segment == 4:
                out.append(account)
            else:
                out.append("x")
            continue
        out.append(ch)
    return "".join(out)


def _wildcard_misses(pattern: str, account: str) -> list[str]:
    """At each wildcard, the literal character before it changed, then filled plainly."""
    out = []
    for i, ch in enumerate(pattern):
        if ch in "*?" and i > 0 and pattern[i - 1] not in ":*?/}":
            before = pattern[i - 1]
            other = "_" if before == "-" else ("y" if before == "x" else "x")
            out.append(plain_fill(pattern[: i - 1] + other + pattern[i:], account))
    return out


def seed_of(*parts: object) -> int:
    # A stable seed (``hash`` of a str changes between processes).
    text = "\x1f".join(str(p) for p in parts)
    h = 2166136261
    for ch in text.encode("utf-8"):
        h = ((h ^ ch) * 16777619) & 0xFFFFFFFF
    return h


def pattern_instances(pattern: str, account: str, seed: int) -> list[str]:
    """Requests' resources for one pattern: fills that match it and near misses that do not."""
    base = plain_fill(pattern, account)
    if base == "*":
        return []
    out = [base]
    text = _VARIABLE.sub("x", pattern)
    for k in range(2):
        c = RandomChooser(random.Random(seed_of(seed, pattern, k)))
        out.append(fill_resource(c, [(text, True)]))
    for kind in NEAR_MISS_KINDS:
        c = RandomChooser(random.Random(seed_of(seed, pattern, kind)))
        out.append(gen_near_miss(c, base, (kind,)))
    out.extend(_wildcard_misses(text, account))
    return out


def template_instances(action: str, account: str) -> list[tuple[str, str]]:
    """(resource type, ARN) for each resource type of the action, its template filled plainly."""
    cat = get_catalog()
    found = cat.action(action)
    if found is None:
        return []
    out = []
    for art in found.resource_types:
        rt = cat.resource_type(found.service, art.name)
        if rt is None:
            continue
        for template in rt.arn_templates:
            values = {"Partition": "aws", "Region": REGION, "Account": account}
            for name in template.placeholders():
                values.setdefault(name, "example")
            out.append((rt.key, template.fill(values)))
    return out


UNTYPED = "(no ARN template)"


def resource_type_of(action: str, arn: str) -> str:
    """The catalog resource type of the action whose template makes ``arn``; ``(no ARN template)`` if none does."""
    cat = get_catalog()
    found = cat.action(action)
    if found is None:
        return UNTYPED
    types = [rt for art in found.resource_types if (rt := cat.resource_type(found.service, art.name)) is not None]
    for rt in types:
        if any(t.match(arn) is not None for t in rt.arn_templates):
            return rt.key
    for rt in types:  # the type's text with an empty name in it (``image/``)
        if any(_loose(t.template).fullmatch(arn) for t in rt.arn_templates):
            return f"{rt.key} (empty name)"
    return UNTYPED


@functools.lru_cache(maxsize=4096)
def _loose(template: str) -> re.Pattern[str]:
    out = []
    pos = 0
    for m in _PLACEHOLDER.finditer(template):
        out.append(".*".join(re.escape(x) for x in template[pos : m.start()].split("*")))
        out.append("[^:]*" if template.count(":", 0, m.start()) < 5 else ".*")
        pos = m.end()
    out.append(".*".join(re.escape(x) for x in template[pos:].split("*")))
    return re.compile("".join(out))


# --------------------------------------------------------------------------- contexts


ContextKey = tuple[tuple[str, str, tuple[str, ...]], ...]


def _context_key(entries: Iterable[ContextEntry]) -> ContextKey:
    return tuple(sorted((e.key.lower(), e.type, tuple(e.values)) for e in entries))


def _build(clauses: list[tuple[AimClause, bool, bool]], seed: int) -> list[ContextEntry]:
    c = RandomChooser(random.Random(seed))
    ctx = ContextBuilder(False)
    for clause, want, variables in clauses:
        gen_clause_entry(c, clause, want, variables, ctx)
    return list(ctx.entries.values())


def contexts_for(relevant: list[StatementInfo], seed: int) -> tuple[list[list[ContextEntry]], bool]:
    """Contexts for one action; the flag is False when the cap cut some off."""
    seen: dict[ContextKey, list[ContextEntry]] = {(): []}
    plans: list[tuple[list[tuple[AimClause, bool, bool]], int]] = []
    every: list[tuple[AimClause, bool, bool]] = []
    for info in relevant:
        clauses = info.clauses
        for i, clause in enumerate(clauses):
            for want in (True, False):
                for k in range(_SEEDS_PER_CLAUSE):
                    plans.append(([(clause, want, info.variables)], seed_of(seed, clause, want, k)))
            if len(clauses) > 1:
                others = [(o, True, info.variables) for j, o in enumerate(clauses) if j != i]
                plans.append(([(clause, False, info.variables), *others], seed_of(seed, clause, "others")))
        if len(clauses) > 1:
            for k in range(_SEEDS_PER_CLAUSE):
                plans.append(([(cl, True, info.variables) for cl in clauses], seed_of(seed, info.policy_id, k)))
        every.extend((cl, True, info.variables) for cl in clauses)
    if len({id(c) for c, _, _ in every}) > 1:
        for k in range(_SEEDS_PER_CLAUSE):
            plans.append((every, seed_of(seed, "every", k)))
    complete = True
    for plan, s in plans:
        entries = _build(plan, s)
        key = _context_key(entries)
        if key in seen:
            continue
        if len(seen) >= MAX_CONTEXTS:
            complete = False
            break
        seen[key] = entries
    return list(seen.values()), complete


# --------------------------------------------------------------------------- the whole space


@dataclass(slots=True)
class Space:
    """Every request the enumeration evaluates, per action, and what it covered."""

    actions: ActionSpace
    requests: dict[str, list[Request]]  # action as spelled -> requests
    resource_types: set[tuple[str, str]]
    resources: int
    contexts: int
    patterns_not_matched: list[str]
    context_cut: list[str]


def _relevant(statements: list[StatementInfo], action_lower: str) -> list[StatementInfo]:
    return [s for s in statements if _covers(s, action_lower)]


def build_space(statements: list[StatementInfo], account: str, seed: int) -> Space:
    actions = expand_actions(statements)
    requests: dict[str, list[Request]] = {}
    resource_types: set[tuple[str, str]] = set()
    all_resources: set[str] = set()
    context_keys: set[ContextKey] = set()
    matched_patterns: set[tuple[str, str, int, str]] = set()
    pattern_cache: dict[str, list[str]] = {}
    cut: list[str] = []
    empty = RequestContext.of([])
    for lower, action in sorted(actions.actions.items()):
        relevant = _relevant(statements, lower)
        resources: dict[str, None] = {}
        for info in relevant:
            for pattern in info.compiled.statement.resources:
                if pattern not in pattern_cache:
                    pattern_cache[pattern] = pattern_instances(pattern, account, seed)
                for r in pattern_cache[pattern]:
                    resources.setdefault(r, None)
        for rtype, arn in template_instances(action, account):
            resource_types.add((action.split(":", 1)[0].lower(), rtype))
            resources.setdefault(arn, None)
        if not resources or not get_catalog().action(action) or not _has_types(action):
            resources.setdefault("*", None)
        contexts, complete = contexts_for(relevant, seed)
        if not complete:
            cut.append(action)
        for info in relevant:
            s = info.compiled.statement
            for pattern in s.resources:
                key = (info.version, info.policy_id, s.index, pattern)
                if key in matched_patterns:
                    continue
                # A pattern counts as searched when some resource of the action matches it (NotResource:
                # matching the pattern is what the negation turns around).
                if any(_pattern_hits(pattern, r, empty, info) for r in resources):
                    matched_patterns.add(key)
        reqs = [Request(action=action, resource=r, context=ctx) for r in resources for ctx in contexts]
        requests[action] = reqs
        all_resources.update(resources)
        context_keys.update(_context_key(c) for c in contexts)
    not_matched = []
    for info in statements:
        s = info.compiled.statement
        if not any(_covers(info, a) for a in actions.actions):
            continue
        for pattern in s.resources:
            if (info.version, info.policy_id, s.index, pattern) not in matched_patterns:
                not_matched.append(f"{info.version} {info.policy_id} statement {s.index}: {pattern}")
    return Space(
        actions=actions,
        requests=requests,
        resource_types=resource_types,
        resources=len(all_resources),
        contexts=len(context_keys),
        patterns_not_matched=sorted(set(not_matched)),
        context_cut=cut,
    )


def _has_types(action: str) -> bool:
    found = get_catalog().action(action)
    return found is not None and bool(found.resource_types)


def _pattern_hits(pattern: str, resource: str, ctx: RequestContext, info: StatementInfo) -> bool:
    return ResourceMatcher.of((pattern,), False, info.variables).matches(resource, ctx)


def iter_requests(space: Space) -> Iterator[Request]:
    for reqs in space.requests.values():
        yield from reqs
