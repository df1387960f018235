"""Whole case-format v1 cases: every policy slot, callers, owners, and requests aimed at the policies.

A case holds 0-3 identity policies, sometimes a permissions boundary, a session
policy (never when ``simulator_safe``: the simulator has no session policies),
a resource-based policy with a caller and a resource owner (same account or
another), SCP levels and RCP levels (RCPs not when ``simulator_safe``).  The
caller is the default one or an IAM user, role, role session, federated user or
account root (only IAM users when ``simulator_safe``).  Most requests are aimed
at one of the case's policies (``strategies.aimed``), the rest are a real action
on a valid ARN with a random context.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec
from hypothesis.errors import InvalidArgument
from hypothesis.strategies import SearchStrategy

from reference.document import MAX_POLICY_CHARS
from reference.model import Case, ContextEntry, Policy, PolicyType, Request
from reference.policy import PolicyKind
from strategies._catalog import global_condition_keys
from strategies._choice import Chooser, check_bool, check_choice, check_int, from_generator
from strategies.actions import check_services, gen_action
from strategies.aimed import gen_aimed_request
from strategies.arns import ACCOUNTS, gen_arn
from strategies.conditions import fill_key
from strategies.policies import RCP_FULL_ACCESS, gen_document, object_text, render
from strategies.targets import Target, target_of_document
from strategies.values import gen_value
from strategies.within_catalog import CatalogOnly, check_catalog_only, fit_request, vocabulary_of

POLICY_TYPES: tuple[str, ...] = (
    "boundary",
    "session",
    "resource-same-account",
    "resource-cross-account",
    "scp",
    "rcp",
)
"""What ``cases(policy_type=...)`` can make every case hold."""
BESIDE_TYPES: frozenset[str] = frozenset({"boundary", "session", "resource", "scp", "rcp"})
"""The kinds of policy ``cases(besides=...)`` may draw beside the identity policies."""
IDENTITY_TYPES: tuple[PolicyType, ...] = ("user", "group", "role", "aws-managed", "user-managed")
_NAMES = ("alice", "bob", "app", "deploy", "conformance")


_CALLER_KINDS: tuple[tuple[int, str], ...] = (
    (4, "default"),
    (2, "user"),
    (1, "role"),
    (2, "session"),
    (1, "federated"),
    (1, "root"),
)
# SimulateCustomPolicy, CallerArn: "You can specify only the ARN of an IAM user. You cannot specify the
# ARN of an assumed role, federated user, or a service principal." (IAM API Reference)
_SIMULATOR_CALLER_KINDS: tuple[tuple[int, str], ...] = ((4, "default"), (3, "user"))
# A session policy is passed "when you programmatically create a temporary session for a role or
# federated user" (access_policies.html#policies_session): its caller is such a session.
_SESSION_CALLER_KINDS: tuple[tuple[int, str], ...] = ((2, "session"), (1, "federated"))


def gen_caller(
    c: Chooser, simulator_safe: bool = False, session: bool = False
) -> tuple[str | None, str, tuple[str, ...]]:
    """(caller ARN or None for the default, its account, AWS principals naming it or close to it).

    ``simulator_safe``: IAM users only (the default caller is one), as ``CallerArn`` takes;
    ``session``: a role session or a federated user, the callers a session policy is for."""
    account = ACCOUNTS[0] if not c.chance(0.2) else c.pick(ACCOUNTS[1:])
    kinds = _SESSION_CALLER_KINDS if session else _SIMULATOR_CALLER_KINDS if simulator_safe else _CALLER_KINDS
    kind = c.weighted(list(kinds))
    name = c.pick(_NAMES)
    if kind == "default":
        return (
            None,
            ACCOUNTS[0],
            (
                "arn:aws:iam::111122223333:user/conformance",
                ACCOUNTS[0],
                f"arn:aws:iam::{ACCOUNTS[0]}:root",
                "arn:aws:iam::111122223333:user/other",
                f"arn:aws:iam::{ACCOUNTS[1]}:root",
            ),
        )
    if kind == "user":
        arn = f"arn:aws:iam::{account}:user/{name}"
    elif kind == "role":
        arn = f"arn:aws:iam::{account}:role/{name}"
    elif kind == "session":
        arn = f"arn:aws:sts::{account}:assumed-role/{name}/session-1"
    elif kind == "federated":
        arn = f"arn:aws:sts::{account}:federated-user/{name}"
    else:
        arn = f"arn:aws:iam::{account}:root"
    close = (
        arn,
        account,
        f"arn:aws:iam::{account}:root",
        f"arn:aws:iam::{account}:role/{name}",
        f"arn:aws:iam::{account}:user/{name}x",
        f"arn:aws:iam::{ACCOUNTS[1] if account != ACCOUNTS[1] else ACCOUNTS[2]}:root",
    )
    return arn, account, close


class _Entry:
    """A document, its aim target once built, and the texts it was rendered to."""

    __slots__ = ("doc", "target", "texts")

    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc
        self.target: Target | None = None
        self.texts: list[str] = []

    def aim(self) -> Target:
        if self.target is None:
            self.target = target_of_document(self.doc)
        return self.target


def _policy(c: Chooser, pid: str, ptype: PolicyType | None, entry: _Entry, safe: bool) -> Policy:
    """The document as text (mostly) or as a JSON object (which stands for ``json.dumps(doc, indent=2)``).

    A reused document keeps one of its earlier texts most of the time."""
    if c.chance(0.15) and len(object_text(entry.doc)) <= MAX_POLICY_CHARS:
        return Policy.of(pid, entry.doc, ptype)
    if entry.texts and c.chance(0.7):
        return Policy.of(pid, c.pick(entry.texts), ptype)
    text = render(c, entry.doc, safe)
    if len(entry.texts) < 3:
        entry.texts.append(text)
    return Policy.of(pid, text, ptype)


def _random_request(c: Chooser, pool: tuple[str, ...], safe: bool) -> Request:
    action = gen_action(c, pool)
    res = gen_arn(c, pool) if not c.chance(0.1) else "*"
    context: list[ContextEntry] = []
    seen: set[str] = set()
    for _ in range(c.weighted([(3, 0), (3, 1), (2, 2), (1, 3)])):
        key = c.pick(global_condition_keys())
        name = fill_key(c, key.name, safe)
        if name.lower() in seen:
            continue
        seen.add(name.lower())
        ctype = key.context_type
        listed = ctype.endswith("List")
        base = ctype[:-4] if listed else ctype
        n = c.integer(0, 3) if listed else 1
        context.append(ContextEntry(key=name, type=ctype, values=[gen_value(c, base, name, safe) for _ in range(n)]))
    return Request(action=action, resource=res, context=context)


class PolicyLibrary:
    """Documents made for earlier cases, which later cases reuse now and then.

    Only ``strategies.generate`` uses one: sharing policies between cases is what real
    accounts do, it lets targets and the reference reuse compiled policies, and it makes
    bulk generation faster.  Entries are kept in insertion order (a ring of ``size``), so
    the same seed gives the same cases.
    """

    def __init__(self, *, size: int = 512, reuse: float = 0.7) -> None:
        self.size = size
        self.reuse = reuse
        self._entries: dict[str, list[_Entry]] = {}
        self._next: dict[str, int] = {}

    def take(self, c: Chooser, kind: str) -> _Entry | None:
        entries = self._entries.get(kind)
        if not entries or not c.chance(self.reuse):
            return None
        return c.pick(entries)

    def add(self, kind: str, doc: dict[str, Any]) -> _Entry:
        entry = _Entry(doc)
        entries = self._entries.setdefault(kind, [])
        if len(entries) < self.size:
            entries.append(entry)
        else:
            i = self._next.get(kind, 0)
            entries[i] = entry
            self._next[kind] = (i + 1) % self.size
        return entry


def gen_case(
    c: Chooser,
    *,
    pool: tuple[str, ...],
    simulator_safe: bool = False,
    max_statements: int = 4,
    max_requests: int = 4,
    library: PolicyLibrary | None = None,
    catalog_only: CatalogOnly = False,
    policy_type: str | None = None,
    min_requests: int = 1,
    besides: frozenset[str] | None = None,
) -> Case:
    """One case; ``policy_type`` (one of :data:`POLICY_TYPES`) makes it hold that kind of policy;
    ``besides`` (of :data:`BESIDE_TYPES`; None: all of them): the other kinds it may hold beside."""

    def may(kind: str) -> bool:
        return besides is None or kind in besides

    # A session policy is drawn first: its caller is a role session or a federated user.
    with_session = not simulator_safe and (
        policy_type == "session" or (policy_type is None and may("session") and c.chance(0.12))
    )
    caller, account, close = gen_caller(c, simulator_safe, session=with_session)
    docs: list[tuple[int, int]] = []  # (weight, index into made)
    made: list[_Entry] = []

    def doc(kind: PolicyKind, weight: int) -> _Entry:
        entry = library.take(c, kind) if library is not None else None
        if entry is None:
            d = gen_document(
                c, kind=kind, pool=pool, max_statements=max_statements, simulator_safe=simulator_safe, principals=close
            )
            entry = library.add(kind, d) if library is not None else _Entry(d)
        docs.append((weight, len(made)))
        made.append(entry)
        return entry

    def has(kind: str, chance: float) -> bool:
        return policy_type == kind or (may(kind) and c.chance(chance))

    safe = simulator_safe
    identity = []
    for i in range(c.weighted([(6, 1), (3, 2), (1, 0), (1, 3)])):
        ptype = c.pick(IDENTITY_TYPES) if c.chance(0.7) else None
        identity.append(_policy(c, f"id{i}", ptype, doc("identity", 4), safe))
    fields: dict[str, Any] = {"identity_policies": identity}
    if has("boundary", 0.2):
        fields["permissions_boundary"] = _policy(
            c, "boundary", "boundary" if c.chance(0.5) else None, doc("identity", 1), safe
        )
    if with_session:
        fields["session_policy"] = _policy(c, "session", "session" if c.chance(0.5) else None, doc("identity", 1), safe)
    if policy_type in ("resource-same-account", "resource-cross-account") or has("resource", 0.3):
        fields["resource_policy"] = _policy(
            c, "resource", "resource" if c.chance(0.5) else None, doc("resource", 3), safe
        )
        if policy_type == "resource-same-account":
            owner = c.weighted([(1, "unset"), (1, "same")])
        elif policy_type == "resource-cross-account":
            owner = "other"
        else:
            owner = c.weighted([(3, "unset"), (1, "same"), (2, "other")])
        if owner == "same":
            fields["resource_owner"] = f"arn:aws:iam::{account}:root"
        elif owner == "other":
            fields["resource_owner"] = f"arn:aws:iam::{ACCOUNTS[1] if account != ACCOUNTS[1] else ACCOUNTS[0]}:root"
    if has("scp", 0.2):
        # Several levels often when SCPs are the point: each level must allow on its own.
        levels = [(2, 1), (3, 2), (2, 3)] if policy_type == "scp" else [(6, 1), (3, 2), (1, 3)]
        fields["scps"] = [
            [
                _policy(c, f"scp-{lvl}-{i}", "scp" if c.chance(0.5) else None, doc("scp", 1), safe)
                for i in range(c.weighted([(3, 1), (1, 2)]))
            ]
            for lvl in range(c.weighted(levels))
        ]
    if not simulator_safe and has("rcp", 0.08):
        # Each level: RCPFullAWSAccess (mostly: it cannot be detached, but a case may leave it out) and a
        # custom RCP of Deny statements ("The effect of Allow is only supported for the RCPFullAWSAccess
        # policy", AWS Organizations User Guide, orgs_manage_policies_rcps_syntax.html).
        fields["rcps"] = [
            ([Policy.of(f"rcp-full-{lvl}", json.dumps(RCP_FULL_ACCESS), "rcp")] if not c.chance(0.3) else [])
            + [_policy(c, f"rcp-{lvl}-0", "rcp" if c.chance(0.5) else None, doc("rcp", 1), safe)]
            for lvl in range(c.integer(1, 2))
        ]
    if caller is not None:
        fields["caller_arn"] = caller
    requests = []
    no_role_resources = simulator_safe and "resource_policy" in fields
    for _ in range(c.integer(min_requests, max_requests)):
        for _attempt in range(4):
            if docs and not c.chance(0.2):
                target = made[c.weighted(docs)].aim()
                request = gen_aimed_request(c, target, simulator_safe=simulator_safe, catalog_only=catalog_only)
            else:
                request = _random_request(c, pool, simulator_safe)
                if catalog_only:
                    request = fit_request(c, request, pool, vocabulary_of(catalog_only))
            if not (no_role_resources and _is_role(request.resource)):
                break
        else:
            request = msgspec.structs.replace(request, resource="*")
        requests.append(request)
    return Case(requests=requests, **fields)


def _is_role(resource: str) -> bool:
    """An IAM role ARN: SimulateCustomPolicy, ResourceArns: "Simulation of resource-based policies isn't
    supported for IAM roles" (IAM API Reference), so simulator-safe cases with a resource policy avoid them."""
    return ":iam::" in resource and ":role/" in resource


def cases(
    *,
    services: str | list[str] | tuple[str, ...] | None = None,
    simulator_safe: bool = False,
    max_statements: int = 4,
    max_requests: int = 4,
    catalog_only: CatalogOnly = False,
    policy_type: str | None = None,
    min_requests: int = 1,
    besides: frozenset[str] | None = None,
) -> SearchStrategy[Case]:
    """Whole case-format v1 cases (see the module docstring for what they hold).

    Every case validates against ``reference.caseio.case_schema()`` and every policy in it
    compiles.  ``simulator_safe``: only what SimulateCustomPolicy accepts (IAM user callers, no
    session policy, no RCPs, no IAM role resource beside a resource policy, Latin-1 text).
    ``catalog_only``: catalog actions only, each on a resource of its own type, or what a target's
    own vocabulary accepts (``strategies.within_catalog``).  ``policy_type`` (one of :data:`POLICY_TYPES`): every case
    holds that kind of policy (a resource policy with the caller's account or another one as
    its owner).  ``besides`` (a subset of :data:`BESIDE_TYPES`; None: all): the other kinds of
    policy a case may hold beside its identity policies, so that cases are aimed at what a target
    can express.  Each case has ``min_requests`` to ``max_requests`` requests.  Shrinks towards
    ``min_requests`` requests and as few policies as possible, each with one simple statement.
    """
    pool = check_services(services)
    check_bool("simulator_safe", simulator_safe)
    check_catalog_only(catalog_only)
    check_int("max_statements", max_statements, 1, 1000)
    check_int("max_requests", max_requests, 1, 1000)
    check_int("min_requests", min_requests, 1, max_requests)
    if besides is not None and not (isinstance(besides, frozenset) and besides <= BESIDE_TYPES):
        raise InvalidArgument(f"besides={besides!r}: expected a frozenset of {sorted(BESIDE_TYPES)} or None")
    if policy_type is not None:
        check_choice("policy_type", policy_type, POLICY_TYPES)
        if simulator_safe and policy_type in ("session", "rcp"):
            raise InvalidArgument(f"policy_type={policy_type!r}: the policy simulator has no such policies")
    return from_generator(
        "cases",
        gen_case,
        pool=pool,
        simulator_safe=simulator_safe,
        max_statements=max_statements,
        max_requests=max_requests,
        catalog_only=catalog_only,
        policy_type=policy_type,
        min_requests=min_requests,
        besides=besides,
    )
