"""reference.routing: a case goes to the worker that already compiled its policies, the workers stay
balanced, and a round keeps every line with its number (the answers themselves: tests/test_batch.py)."""

from __future__ import annotations

import io
import json

from reference.caseio import policy_keys
from reference.routing import Router, rounds
from strategies import generate_cases, write_cases


def _lines(count: int, seed: int = 5) -> list[bytes]:
    buf = io.BytesIO()
    write_cases(list(generate_cases(count=count, seed=seed)), buf)
    return buf.getvalue().splitlines()


def _case(document: object, action: str = "s3:GetObject") -> bytes:
    return json.dumps(
        {"identity_policies": [{"id": "p", "document": document}], "requests": [{"action": action}]}
    ).encode()


def test_policy_keys_are_the_documents_as_written() -> None:
    line = _case({"Statement": []})
    assert policy_keys(line) == [b'{"Statement": []}']
    assert policy_keys(b"{not json") == [] and policy_keys(b"[1]") == []


def test_a_policy_seen_before_goes_back_to_its_worker() -> None:
    router = Router(2, slack=16)
    first = router.worker_for(_case({"Version": "2012-10-17", "Statement": "a"}))
    other = router.worker_for(_case({"Statement": "b"}))
    assert other != first  # nothing known: the least loaded
    assert router.worker_for(_case({"Version": "2012-10-17", "Statement": "a"}, "s3:PutObject")) == first
    assert router.worker_for(_case({"Statement": "b"}, "iam:GetRole")) == other
    assert router.worker_for(b"{not json") in (0, 1)


def test_the_router_compiles_less_than_taking_turns_and_stays_balanced() -> None:
    """What the router is for: on generated cases, fewer policies compiled by two workers than when the
    workers take turns by chunk (the old split), and neither worker more than ``slack`` lines ahead."""
    lines = _lines(2000)
    seen: list[set[bytes]] = [set(), set()]
    routed = 0
    loads = [0, 0]
    for parts in rounds(lines, 2, 256, 1 << 30):
        for worker, part in enumerate(parts):
            loads[worker] += len(part)
            for _, line in part:
                keys = set(policy_keys(line))
                routed += len(keys - seen[worker])
                seen[worker] |= keys
    turns = 0
    seen = [set(), set()]
    for i, line in enumerate(lines):
        keys = set(policy_keys(line))
        turns += len(keys - seen[(i // 128) % 2])
        seen[(i // 128) % 2] |= keys
    assert routed < 0.95 * turns, (routed, turns)
    assert abs(loads[0] - loads[1]) <= 17


def test_rounds_keep_every_non_blank_line_with_its_number() -> None:
    lines = [b"a", b"", b"b", b"  ", b"c", b"d", b"e"]
    got = list(rounds(lines, 2, 3, 1 << 30))
    assert len(got) == 3  # 3 + 3 + 1 lines
    numbered = sorted(item for parts in got for part in parts for item in part)
    assert numbered == [(1, b"a"), (3, b"b"), (5, b"c"), (6, b"d"), (7, b"e")]
    by_bytes = list(rounds([b"x" * 10] * 4, 2, 100, 20))
    assert [sum(len(p) for p in parts) for parts in by_bytes] == [2, 2]
