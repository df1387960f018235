"""Bulk generation for ``iamconf generate``: reproducible cases and their statistics.

How reproducibility is obtained (and why not through Hypothesis's engine):
the generators of this package are plain functions over a ``Chooser``
(``strategies._choice``).  The public strategies run them with Hypothesis's
draws; here they run with ``RandomChooser(random.Random(seed))``.  The output
is therefore a pure function of the seed, the arguments and the versions of
this package and of the catalog data: no Hypothesis database, no
derandomisation heuristics, no private Hypothesis API.  Going through
``@given(...)`` with ``@seed``/``derandomize`` would be reproducible too, but a
draw costs 15-30 microseconds there and the engine adds its own per-example
work, so it stays far below the 2,000 cases a second asked for, and it cannot
promise exactly ``count`` distinct examples (it stops early or repeats).

Exactly ``count`` distinct cases: each case is encoded (without its id) and a
128-bit BLAKE2 digest of the encoding is remembered; a repeat is skipped and
another case drawn.  Ids are ``gen-<seed>-<index>``.

Speed: documents are reused between cases through a ``PolicyLibrary`` (half of
the time once it has some), as policies are shared in real accounts; the
figure is printed by ``python -m strategies.bench``.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable, Iterator
from typing import IO

import msgspec

from reference.model import Case
from reference.policy import PolicyKind
from strategies._catalog import services
from strategies._choice import RandomChooser, check_bool, check_int
from strategies.aimed import gen_aimed_case
from strategies.cases import PolicyLibrary, gen_case
from strategies.stats import GenerationStats, collect_stats
from strategies.targets import policy_kind_of

MAX_REPEATS = 10_000
"""Draws in a row that only repeat earlier cases before generation gives up."""

_encoder = msgspec.json.Encoder()


def encode_case(case: Case) -> bytes:
    """One case-format v1 JSON line (without the newline)."""
    return _encoder.encode(case)


def write_cases(cases: Iterable[Case], stream: IO[bytes]) -> int:
    """Write cases as JSON lines; returns how many were written."""
    n = 0
    for case in cases:
        stream.write(_encoder.encode(case) + b"\n")
        n += 1
    return n


def generate_cases(
    *,
    count: int,
    seed: int,
    policies: list[str] | None = None,
    simulator_safe: bool = False,
    max_statements: int = 4,
    max_requests: int = 4,
    contexts_per_case: int | None = None,
) -> Iterator[Case]:
    """``count`` distinct cases, the same ones for the same seed (and package and data versions).

    ``contexts_per_case`` (default: every request its own context) keeps at most that many
    distinct request contexts in a case, each request taking one of them: the shape of a
    policy-simulator batch (one SimulateCustomPolicy call evaluates many actions and
    resources under one context).

    Without ``policies``: whole cases (``strategies.cases``).  With ``policies`` (policy
    texts): cases aimed at them in turn (``strategies.aimed``), each policy in the slot its
    kind calls for (identity, resource-based when it names principals).  Arguments are
    checked now: a policy that does not compile raises ``hypothesis.errors.InvalidArgument``.
    """
    check_int("count", count, 0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed={seed!r} must be an int")
    check_bool("simulator_safe", simulator_safe)
    check_int("max_statements", max_statements, 1, 1000)
    check_int("max_requests", max_requests, 1, 1000)
    if contexts_per_case is not None:
        check_int("contexts_per_case", contexts_per_case, 1, 1000)
    aimed: list[tuple[str, PolicyKind]] = []
    if policies is not None:
        if isinstance(policies, str) or not isinstance(policies, list):
            raise TypeError("policies must be a list of policy texts or None")
        for text in policies:
            if not isinstance(text, str):
                raise TypeError("policies must be a list of policy texts or None")
            aimed.append((text, policy_kind_of(text, None)))
    return _generate(count, seed, aimed, simulator_safe, max_statements, max_requests, contexts_per_case)


def _share_contexts(c: RandomChooser, case: Case, limit: int) -> Case:
    """Keep at most ``limit`` of the case's request contexts; every request takes one of them."""
    kept = [r.context for r in case.requests[:limit]]
    requests = [
        r if i < limit else msgspec.structs.replace(r, context=kept[c.integer(0, len(kept) - 1)])
        for i, r in enumerate(case.requests)
    ]
    return msgspec.structs.replace(case, requests=requests)


def _generate(
    count: int,
    seed: int,
    aimed: list[tuple[str, PolicyKind]],
    simulator_safe: bool,
    max_statements: int,
    max_requests: int,
    contexts_per_case: int | None = None,
) -> Iterator[Case]:
    c = RandomChooser(random.Random(seed))
    pool = services()
    library = PolicyLibrary()
    seen: set[bytes] = set()
    repeats = 0
    index = 0
    while index < count:
        if aimed:
            text, kind = aimed[index % len(aimed)]
            case = gen_aimed_case(
                c,
                policy=text,
                kind=kind,
                simulator_safe=simulator_safe,
                max_requests=max_requests,
                policy_id=f"policy-{index % len(aimed)}",
            )
        else:
            case = gen_case(
                c,
                pool=pool,
                simulator_safe=simulator_safe,
                max_statements=max_statements,
                max_requests=max_requests,
                library=library,
            )
        if contexts_per_case is not None:
            case = _share_contexts(c, case, contexts_per_case)
        digest = hashlib.blake2b(_encoder.encode(case), digest_size=16).digest()
        if digest in seen:
            repeats += 1
            if repeats >= MAX_REPEATS:
                raise RuntimeError(
                    f"only {index} distinct cases after {MAX_REPEATS} repeats in a row: "
                    "the policies leave too little to vary"
                )
            continue
        repeats = 0
        seen.add(digest)
        yield msgspec.structs.replace(case, id=f"gen-{seed}-{index:06d}")
        index += 1


def generate_stats(cases: Iterable[Case], aimed_policy_texts: Iterable[str] = ()) -> GenerationStats:
    """Counters for ``iamconf generate --stats``: operator families, set operators, IfExists forms,
    policy elements, anchor resource types, and reference decisions (overall and for the cases
    that hold one of ``aimed_policy_texts``).  ``.to_dict()`` gives a JSON-ready summary."""
    return collect_stats(cases, aimed_policy_texts)
