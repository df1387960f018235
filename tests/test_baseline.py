"""Results stay byte-identical to the stored baseline run (tests/fixtures/baseline/, see build.py there).

Every shipped case (examples/, conformance/corpus/, the bench's anchor workload) and 3,000 generated cases
(``iamconf generate --seed 5``) are answered by the path of ``iamconf evaluate --cases`` and compared, line
by line and byte for byte, with what the reference answered before the grammar and speed work of issue 11.
Intentional changes are listed in ``CHANGED`` with the reason; nothing else may differ.
"""

from __future__ import annotations

import lzma
from pathlib import Path

import pytest

from reference.caseio import answer_lines

BASELINE = Path(__file__).parent / "fixtures" / "baseline"

# (fixture, 1-based line) -> why its answer changed on purpose.  Empty: no intended change so far.
CHANGED: dict[tuple[str, int], str] = {}


def _lines(name: str) -> list[bytes]:
    return lzma.decompress((BASELINE / name).read_bytes()).splitlines()


def answers(lines: list[bytes]) -> list[bytes]:
    out = []
    for a in answer_lines(lines):
        err = b"" if a.error is None else b"\t" + a.error.one_line("<cases>").encode()
        out.append(a.output + err)
    return out


def differences(name: str, expected: list[bytes], actual: list[bytes]) -> list[str]:
    if len(expected) != len(actual):
        return [f"{name}: {len(actual)} answers, baseline has {len(expected)}"]
    out = []
    for number, (e, a) in enumerate(zip(expected, actual, strict=True), start=1):
        if e != a and (name, number) not in CHANGED:
            out.append(f"{name} line {number}:\n  baseline {e[:400]!r}\n  now      {a[:400]!r}")
    return out


@pytest.mark.parametrize("name", ["shipped", "generated"])
def test_answers_are_byte_identical_to_the_baseline(name: str) -> None:
    expected = _lines(f"{name}.results.jsonl.xz")
    actual = answers(_lines(f"{name}.cases.jsonl.xz"))
    diffs = differences(name, expected, actual)
    assert not diffs, f"{len(diffs)} answers differ from the baseline:\n" + "\n".join(diffs[:5])


def test_intended_changes_still_differ() -> None:
    """An entry of CHANGED whose answer is back to the baseline is stale."""
    for name in {n for n, _ in CHANGED}:
        expected = _lines(f"{name}.results.jsonl.xz")
        actual = answers(_lines(f"{name}.cases.jsonl.xz"))
        for fixture, number in CHANGED:
            if fixture == name:
                assert expected[number - 1] != actual[number - 1], f"{name} line {number} no longer changes"


def test_the_comparison_sees_one_changed_byte() -> None:
    lines = _lines("shipped.cases.jsonl.xz")[:3]
    actual = answers(lines)
    tampered = [actual[0].replace(b'"allowed"', b'"implicitDeny"', 1) + b" ", *actual[1:]]
    assert differences("shipped", tampered, actual)
    assert differences("shipped", actual[:2], actual)
    assert not differences("shipped", actual, actual)
