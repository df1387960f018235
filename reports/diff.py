"""``iamconf diff``: what a new version of a policy (set) allows or denies that the old one did not.

Every request of the search (``reports.search``) is decided by the reference
under both versions (``reference.evaluator.decide``); then Hypothesis, aimed with
``target()`` at requests that touch statements of both versions, looks for more
(bounded, seeded).  Changes are grouped by action, each with its smallest
witness (fewest context entries, then shortest resource).
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from hypothesis import HealthCheck, Phase, given, seed, settings, target
from hypothesis import strategies as st

from reference.catalog import get_catalog
from reference.evaluator import decide
from reference.model import Decision, MatchedStatement, Request, RequestResult
from reference.policy import PolicyKind
from reports.inputs import PolicySet
from reports.model import Change, DiffReport, KeyNote, Searched, StatementRef, VersionInfo
from reports.names import unknown_names
from reports.search import UNTYPED, Space, StatementInfo, build_space, resource_type_of, statements_of
from strategies.aimed import aimed_requests

DEFAULT_EXPLORE = 200
DEFAULT_SEED = 0


def statement_ref(policy_set: PolicySet, m: MatchedStatement) -> StatementRef:
    source = policy_set.sources[m.policy_id]
    line, column = source.locate(m.start.line, m.start.column)
    effect = "Allow"
    for slot in policy_set.prepared.slots:
        if slot.policy_id == m.policy_id:
            effect = slot.compiled.statements[m.statement_index].statement.effect
            break
    return StatementRef(
        policy=m.policy_id,
        file=source.path,
        index=m.statement_index,
        sid=m.sid,
        effect=effect,
        line=line,
        column=column,
        policy_line=m.start.line,
        policy_column=m.start.column,
    )


def deciding(policy_set: PolicySet, result: RequestResult) -> StatementRef | None:
    return statement_ref(policy_set, result.matched_statements[0]) if result.matched_statements else None


def canonical_action(action: str, spelled: dict[str, str] | None = None) -> str:
    """The catalog's spelling of an action (``S3:getobject`` -> ``s3:GetObject``); an action the catalog
    does not know as the policy spelt it (``spelled``: lower case -> as written), else as given."""
    found = get_catalog().action(action)
    if found is not None:
        return found.full_name
    return (spelled or {}).get(action.lower(), action)


def _size(r: Request) -> tuple[int, int, int, int]:
    """Smaller is more minimal: fewer context entries, fewer characters of values, the action as the
    catalog spells it, then a resource of a catalog resource type before one of none.  Ties keep the
    request found first (the enumeration puts the plain fill of a pattern first)."""
    typed = resource_type_of(r.action, r.resource) != UNTYPED
    spelled = r.action == canonical_action(r.action)
    return (len(r.context), sum(len(v) for e in r.context for v in e.values), 0 if spelled else 1, 0 if typed else 1)


@dataclass(slots=True)
class _Group:
    count: int = 0
    witness: Request | None = None
    old: RequestResult | None = None
    new: RequestResult | None = None
    types: set[str] = field(default_factory=set)
    found_by: str = "enumeration"


@dataclass(slots=True)
class _Collector:
    old: PolicySet
    new: PolicySet
    spelled: dict[str, str] = field(default_factory=dict)  # actions of the search: lower case -> as written
    groups: dict[tuple[str, str], _Group] = field(default_factory=dict)
    seen: set[bytes] = field(default_factory=set)
    evaluated: int = 0

    def evaluate(self, request: Request, found_by: str) -> bool:
        """Decide under both versions; True when the decision changed."""
        import msgspec

        key = msgspec.json.encode(request)
        if key in self.seen:
            return False
        self.seen.add(key)
        self.evaluated += 1
        a = decide(self.old.prepared, request)
        b = decide(self.new.prepared, request)
        was, now = a.decision == Decision.ALLOWED, b.decision == Decision.ALLOWED
        if was == now:
            return False
        direction = "newly_allowed" if now else "newly_denied"
        # Action names are not case-sensitive (reference_policies_elements_action.html): one group per action.
        group_key = (direction, canonical_action(request.action, self.spelled))
        group = self.groups.setdefault(group_key, _Group(found_by=found_by))
        group.count += 1
        group.types.add(resource_type_of(request.action, request.resource))
        if group.witness is None or _size(request) < _size(group.witness):
            group.witness, group.old, group.new = request, a, b
        return True


def version_info(policy_set: PolicySet) -> VersionInfo:
    digest = hashlib.sha256()
    for pid in sorted(policy_set.texts):
        digest.update(pid.encode() + b"\0" + policy_set.texts[pid].encode() + b"\0")
    files = sorted({s.path for s in policy_set.sources.values()})
    return VersionInfo(
        source=policy_set.label, policies=sorted(policy_set.texts), files=files, sha256=digest.hexdigest()
    )


@contextlib.contextmanager
def _without_local_constants() -> Iterator[None]:
    """Hypothesis (6.131 and later) mixes constants read from the source of every *local* module the
    process has imported into its draws, so the same seed gives other requests depending on what else
    was imported (a test run, a checkout against an installed copy).  A report must depend on its
    inputs and seed only: for the exploration, the local constants are empty.  This reaches into
    ``hypothesis.internal``; if that moves, the exploration still runs, and the examples test
    (tests/test_reports_examples.py) says the reports are no longer reproducible."""
    try:
        from hypothesis.internal.conjecture import providers
    except ImportError:  # pragma: no cover - a Hypothesis without the module
        yield
        return
    original = getattr(providers, "_get_local_constants", None)
    cache = getattr(providers, "CONSTANTS_CACHE", None)
    if original is None or cache is None or not hasattr(providers, "Constants"):
        yield
        return
    empty = providers.Constants()
    providers._get_local_constants = lambda: empty
    cache.cache.clear()
    try:
        yield
    finally:
        providers._get_local_constants = original
        cache.cache.clear()


def _explore(collector: _Collector, examples: int, seed_value: int) -> int:
    """Hypothesis, aimed with ``target()``: more requests from both versions' own text."""
    if examples <= 0:
        return 0
    texts = [(t, k) for ps in (collector.old, collector.new) for t, k in _texts_and_kinds(ps)]
    strategy = st.one_of(*[aimed_requests(policy=t, kind=k) for t, k in texts])
    ran = 0

    @seed(seed_value)
    @settings(
        max_examples=examples,
        database=None,
        deadline=None,
        derandomize=False,
        phases=[Phase.generate, Phase.target],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def probe(request: Request) -> None:
        nonlocal ran
        ran += 1
        changed = collector.evaluate(request, "hypothesis")
        # Aim at requests that statements of both versions act on: the closer to a flip, the better.
        a = decide(collector.old.prepared, request)
        b = decide(collector.new.prepared, request)
        target(float(len(a.matched_statements) + len(b.matched_statements) + (100 if changed else 0)))

    with _without_local_constants():
        probe()
    return ran


def _texts_and_kinds(policy_set: PolicySet) -> list[tuple[str, PolicyKind]]:
    return [(policy_set.texts[placed.policy.id], placed.kind) for placed in policy_set.placed()]


def _partly_searched(statements: list[StatementInfo]) -> list[KeyNote]:
    notes: dict[str, str] = {}
    for info in statements:
        for clause in info.clauses:
            if any("${" in v for v in clause.values):
                notes.setdefault(clause.key, "its values hold policy variables: searched with sampled values only")
            elif clause.family in ("String", "Arn") and clause.kind == "like":
                notes.setdefault(
                    clause.key, "wildcard patterns: searched with fills and misses of each pattern, not every string"
                )
        for pattern in info.compiled.statement.resources:
            if "${" in pattern:
                for key in info.compiled.resources.variable_keys():
                    notes.setdefault(key, "a policy variable in Resource: searched with sampled values only")
    return [KeyNote(k, v) for k, v in sorted(notes.items(), key=lambda kv: kv[0].lower())]


def run_diff(
    old: PolicySet,
    new: PolicySet,
    *,
    seed_value: int = DEFAULT_SEED,
    explore: int = DEFAULT_EXPLORE,
    progress: Callable[[int, int], None] | None = None,
    search: bool = True,
) -> DiffReport:
    """``search=False`` evaluates no request (``--search none``: only a proof, ``reports.prove``, finds changes)."""
    statements = statements_of("old", old) + statements_of("new", new)
    account = old.prepared.caller.account or "111122223333"
    space: Space = build_space(statements, account, seed_value)
    collector = _Collector(old, new, dict(space.actions.actions))
    total = sum(len(v) for v in space.requests.values())
    done = 0
    for reqs in space.requests.values() if search else []:
        for r in reqs:
            collector.evaluate(r, "enumeration")
        done += len(reqs)
        if progress is not None:
            progress(done, total)
    hypothesis_examples = _explore(collector, explore if search else 0, seed_value)
    changes: dict[str, list[Change]] = {"newly_allowed": [], "newly_denied": []}
    for (direction, action), g in sorted(collector.groups.items(), key=lambda kv: (kv[0][0], kv[0][1].lower())):
        assert g.witness is not None and g.old is not None and g.new is not None
        changes[direction].append(
            Change(
                service=action.split(":", 1)[0].lower(),
                action=action,
                resource=g.witness.resource,
                context=list(g.witness.context),
                old=g.old.decision.value,
                new=g.new.decision.value,
                old_statement=deciding(old, g.old),
                new_statement=deciding(new, g.new),
                count=g.count,
                resource_types=sorted(g.types),
                found_by=g.found_by,
            )
        )
    keys = sorted({c.key for info in statements for c in info.clauses}, key=str.lower)
    searched = Searched(
        actions=len(space.actions.actions),
        services=sorted({a.split(":", 1)[0] for a in space.actions.actions}),
        resource_types=len(space.resource_types),
        resources=space.resources,
        contexts=space.contexts,
        requests=collector.evaluated,
        hypothesis_examples=hypothesis_examples,
        seed=seed_value,
        every_action=search and not space.actions.sampled,
        every_resource_pattern=search and not space.patterns_not_matched,
        actions_sampled=space.actions.sampled if search else ["the search was switched off (--search none)"],
        contexts_cut=space.context_cut,
        patterns_not_matched=space.patterns_not_matched,
        condition_keys=keys,
        keys_partly_searched=_partly_searched(statements),
    )
    return DiffReport(
        newly_allowed=changes["newly_allowed"],
        newly_denied=changes["newly_denied"],
        searched=searched,
        versions={"old": version_info(old), "new": version_info(new)},
        warnings=unknown_names("old", old) + unknown_names("new", new),
    )
