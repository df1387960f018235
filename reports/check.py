"""``iamconf check``: does a policy set allow what its spec says it must, and nothing it must not?

A spec (YAML or JSON, ``reports/schema/spec.schema.json``) is a list of claims.
A claim names actions and resources (patterns, as in a policy), optionally
resources it leaves out (``not_resources``), a request context and keys the
requests never carry (``absent``), and what every such request must get:
``allow`` or ``deny``.  Each claim is tested with generated requests:

- actions: the claim's patterns expanded through the catalog;
- resources: fills of the claim's patterns (plain and seeded random,
  ``reports.search``), the catalog's ARN templates of the action's resource
  types, and -- for a ``deny`` claim -- fills of the policy's own patterns,
  each kept only when the claim's patterns cover it;
- contexts: the claim's context; for a ``deny`` claim also every context the
  search builds from the policy's conditions (met, violated, absent), without
  the ``absent`` keys and with the claim's entries on top.

A claim holds when every request gets what it says; otherwise it is broken,
with the smallest counterexample for each statement that decides one (at most three).
"""

from __future__ import annotations

import functools
import json
import random
from importlib import resources
from pathlib import Path
from typing import Any, cast

import jsonschema
import msgspec
import yaml
from json_source_map import calculate

from reference.catalog import get_catalog
from reference.compiled import PolicyCache, ResourceMatcher
from reference.context import RequestContext
from reference.evaluator import decide
from reference.model import Case, ContextEntry, Decision, Request
from reports.diff import deciding, statement_ref, version_info
from reports.inputs import InputError, PolicySet, PolicySource, load_policy_set
from reports.model import CheckReport, Claim, ClaimResult, Counterexample
from reports.names import unknown_names
from reports.search import (
    StatementInfo,
    contexts_for,
    pattern_instances,
    plain_fill,
    seed_of,
    statements_of,
    template_instances,
)
from strategies._choice import RandomChooser
from strategies.fill import fill_resource

MAX_COUNTEREXAMPLES = 3
_EMPTY = RequestContext.of([])


class Spec(msgspec.Struct, frozen=True, kw_only=True):
    path: str
    title: str
    claims: list[Claim]


@functools.cache
def spec_schema() -> dict[str, Any]:
    text = resources.files("reports").joinpath("schema/spec.schema.json").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


# --------------------------------------------------------------------------- reading a spec


def _positions_yaml(text: str) -> dict[tuple[str | int, ...], tuple[int, int]]:
    """JSON-path-like tuples -> (line, column), 1-based, for every node of a YAML document."""
    out: dict[tuple[str | int, ...], tuple[int, int]] = {}

    def walk(node: yaml.Node, path: tuple[str | int, ...]) -> None:
        out[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                walk(v, (*path, str(k.value)))
        elif isinstance(node, yaml.SequenceNode):
            for i, v in enumerate(node.value):
                walk(v, (*path, i))

    root = yaml.compose(text)
    if root is not None:
        walk(root, ())
    return out


def _positions_json(text: str) -> dict[tuple[str | int, ...], tuple[int, int]]:
    out: dict[tuple[str | int, ...], tuple[int, int]] = {}
    for pointer, entry in calculate(text).items():
        parts: list[str | int] = []
        for p in pointer.split("/")[1:]:
            p = p.replace("~1", "/").replace("~0", "~")
            parts.append(int(p) if p.isdigit() else p)
        out[tuple(parts)] = (entry.value_start.line + 1, entry.value_start.column + 1)
    return out


def load_spec(path: str) -> Spec:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(path, "no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(path, f"cannot read: {e.__class__.__name__}") from None
    is_json = path.endswith(".json") or text.lstrip().startswith("{")
    try:
        if is_json:
            value = json.loads(text)
            positions = _positions_json(text)
        else:
            value = yaml.safe_load(text)
            positions = _positions_yaml(text)
    except json.JSONDecodeError as e:
        raise InputError(f"{path}:{e.lineno}:{e.colno}", f"malformed JSON: {e.msg}") from None
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else path
        raise InputError(where, f"malformed YAML: {e.problem or e.context}") from None
    validator = jsonschema.Draft202012Validator(spec_schema())
    error = jsonschema.exceptions.best_match(validator.iter_errors(value))
    if error is not None:
        parts = tuple(error.absolute_path)
        line, column = _nearest_position(positions, parts)
        json_path = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts)
        raise InputError(f"{path}:{line}:{column}", f"error [spec] {json_path}: {error.message}")
    claims = []
    seen: set[str] = set()
    for i, raw in enumerate(value["claims"]):
        line, column = positions.get(("claims", i), (1, 1))
        if raw["id"] in seen:
            raise InputError(
                f"{path}:{line}:{column}", f"error [spec] $.claims[{i}].id: claim id {raw['id']!r} repeats"
            )
        seen.add(raw["id"])
        expect = "allow" if "allow" in raw else "deny"
        body = raw[expect]
        claims.append(
            Claim(
                id=raw["id"],
                expect=cast(Any, expect),
                actions=list(body["actions"]),
                resources=list(body.get("resources", ["*"])),
                not_resources=list(body.get("not_resources", [])),
                context=[msgspec.convert(e, ContextEntry) for e in body.get("context", [])],
                absent=list(body.get("absent", [])),
                source=raw.get("source", ""),
                note=raw.get("note", ""),
                line=line,
                column=column,
            )
        )
    return Spec(path=path, title=str(value.get("title", path)), claims=claims)


def _nearest_position(
    positions: dict[tuple[str | int, ...], tuple[int, int]], parts: tuple[Any, ...]
) -> tuple[int, int]:
    for n in range(len(parts), -1, -1):
        found = positions.get(tuple(parts[:n]))
        if found is not None:
            return found
    return 1, 1


# --------------------------------------------------------------------------- reading the policies


def load_policies(args: list[str]) -> PolicySet:
    """One argument: anything ``diff`` reads.  Several: policy files, all identity policies of one principal."""
    cache = PolicyCache()
    sets = [load_policy_set(a, cache=cache) for a in args]
    if len(sets) == 1:
        return sets[0]
    identity = []
    sources: dict[str, PolicySource] = {}
    texts: dict[str, str] = {}
    for arg, ps in zip(args, sets, strict=True):
        if len(ps.case.identity_policies) != 1 or len(ps.texts) != 1:
            raise InputError(arg, "with several POLICY arguments each must be one identity policy (or give one case)")
        p = ps.case.identity_policies[0]
        pid = p.id if p.id not in sources else f"{p.id}#{len(sources)}"
        identity.append(msgspec.structs.replace(p, id=pid))
        sources[pid] = ps.sources[p.id]
        texts[pid] = ps.texts[p.id]
    from reference.evaluator import prepare

    case = Case(requests=sets[0].case.requests, identity_policies=identity)
    return PolicySet(" ".join(args), case, sources, prepare(case, cache), texts)


# --------------------------------------------------------------------------- testing a claim


def _covers(patterns: list[str], resource: str) -> bool:
    return ResourceMatcher.of(tuple(patterns), False, False).matches(resource, _EMPTY)


def _expand(pattern: str) -> list[str]:
    cat = get_catalog()
    service, _, name = pattern.partition(":")
    if "*" not in name and "?" not in name:
        found = cat.action(pattern)
        return [found.full_name if found is not None else pattern]
    if not cat.has_service(service):
        return []
    from reference.patterns import glob

    rx = glob(pattern, ignore_case=True)
    return [a.full_name for a in cat.actions(service) if rx.fullmatch(a.full_name)]


def claim_requests(claim: Claim, statements: list[StatementInfo], account: str, seed: int) -> list[Request]:
    requests: dict[bytes, Request] = {}
    actions = list(dict.fromkeys(a for p in claim.actions for a in _expand(p)))
    absent = {k.lower() for k in claim.absent}
    fixed = {e.key.lower(): e for e in claim.context}
    for action in actions:
        relevant = [s for s in statements if s.compiled.actions.matches(action.lower())]
        candidates: dict[str, None] = {}
        for p in claim.resources:
            if p == "*":
                candidates["*"] = None
                continue
            candidates[plain_fill(p, account)] = None
            for k in range(2):
                c = RandomChooser(random.Random(seed_of(seed, p, k)))
                candidates[fill_resource(c, [(p, True)])] = None
        for _, arn in template_instances(action, account):
            candidates[arn] = None
        contexts: list[list[ContextEntry]] = [list(claim.context)]
        if claim.expect == "deny":
            for info in relevant:
                for p in info.compiled.statement.resources:
                    for r in pattern_instances(p, account, seed):
                        candidates[r] = None
            generated, _ = contexts_for(relevant, seed)
            for ctx in generated:
                kept = {e.key.lower(): e for e in ctx if e.key.lower() not in absent}
                kept.update(fixed)
                contexts.append(list(kept.values()))
        in_scope = [
            r for r in candidates if (r == "*" and "*" in claim.resources) or (r != "*" and _covers(claim.resources, r))
        ]
        in_scope = [r for r in in_scope if not (claim.not_resources and _covers(claim.not_resources, r))]
        for r in in_scope:
            for ctx in contexts:
                req = Request(action=action, resource=r, context=ctx)
                requests.setdefault(msgspec.json.encode(req), req)
    return list(requests.values())


def _size(r: Request) -> tuple[int, int]:
    """Fewer context entries, then fewer characters of values; ties keep the request made first (plain fills
    come first)."""
    return (len(r.context), sum(len(v) for e in r.context for v in e.values))


def verify_claim(claim: Claim, policy_set: PolicySet, statements: list[StatementInfo], seed: int) -> ClaimResult:
    account = policy_set.prepared.caller.account or "111122223333"
    reqs = claim_requests(claim, statements, account, seed)
    best: dict[tuple[str, int] | None, Counterexample] = {}
    for req in reqs:
        result = decide(policy_set.prepared, req)
        allowed = result.decision == Decision.ALLOWED
        if allowed == (claim.expect == "allow"):
            continue
        ref = deciding(policy_set, result)
        key = None if ref is None else (ref.policy, ref.index)
        current = best.get(key)
        if current is None or _size(req) < _size(current.request):
            best[key] = Counterexample(request=req, decision=result.decision.value, statement=ref)
    examples = sorted(best.values(), key=lambda c: _size(c.request))
    return ClaimResult(
        claim=claim, held=not examples, requests=len(reqs), counterexamples=examples[:MAX_COUNTEREXAMPLES]
    )


def run_check(policy_set: PolicySet, spec: Spec, *, seed_value: int = 0) -> CheckReport:
    statements = statements_of("policy", policy_set)
    results = [verify_claim(c, policy_set, statements, seed_value) for c in spec.claims]
    return CheckReport(
        spec=spec.path,
        title=spec.title,
        policies=version_info(policy_set),
        results=results,
        warnings=unknown_names(policy_set.label, policy_set),
    )


__all__ = ["Spec", "claim_requests", "load_policies", "load_spec", "run_check", "statement_ref", "verify_claim"]
