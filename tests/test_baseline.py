"""Results stay byte-identical to the stored baseline run (tests/fixtures/baseline/, see build.py there).

Every shipped case (examples/, conformance/corpus/, the bench's anchor workload) and 3,000 generated cases
(``iamconf generate --seed 5``) are answered by the path of ``iamconf evaluate --cases`` and compared, line
by line and byte for byte, with what the reference answered before the grammar and speed work of issue 11.
Intentional changes are listed in ``CHANGED`` with the reason; nothing else may differ.
"""

from __future__ import annotations

import hashlib
import lzma
from pathlib import Path

import pytest

from reference.caseio import answer_lines

BASELINE = Path(__file__).parent / "fixtures" / "baseline"

# Intended changes (issue 11, grammar): generated policies whose Resource IAM's CreatePolicy refuses
# (tests/fixtures/moto/, see reference/arns.py) are now refused; the generator no longer makes them.
# Each group: the text the new answer must contain, and the generated lines it applies to.
_IAM_REGION = (
    "IAM resources cannot contain region information",  # moto refused 55
    (
        *(101, 113, 175, 221, 250, 263, 426, 528, 1000, 1330, 1670, 1746, 1775, 1814, 1962, 2020, 2083),
        *(2180, 2225, 2227, 2387, 2463, 2557, 2565, 2648, 2680, 2866, 2910, 2989),
    ),
)
_S3_REGION = (
    "only S3's regional resources",  # moto refused 56 ("Async-request/...": not the type async-request/)
    (434, 561, 779, 2361, 2452, 2556, 2728),
)
_IAM_PATH = (
    "an IAM resource part must be",  # moto refused 35 ("groups/...": no IAM resource type)
    (917, 1294, 1380, 1488, 1596, 1804, 2031, 2103, 2444, 2564),
)
# Issue 11 (4): epoch time is whole seconds, so a request value such as "1523889429.000001" under a Date
# operator is unreadable (it matched before).  The changed answer, by the start of its SHA-256.
_FRACTIONAL_EPOCH = {
    68: "1be5593e4d05399d",
    274: "d1c569b3dfe2b007",
    277: "bba07f3469f1daa3",
    370: "5078661e1afc4566",
    562: "5f031af6ce4b1997",
    595: "2084071c52ac1f54",
    620: "89ed1258c11953c6",
    862: "6f28768b579476d7",
    1009: "1eb039d057c490a6",
    1071: "a0cac65cb4a93b08",
    1162: "2ee36d9f85dd8868",
    1231: "cad239f933157402",
    1659: "5e3edc90babd421c",
    2027: "62e468578b751a18",
    2212: "9501dfc3fb60fabf",
    2707: "91846b161fbd1f58",
}
# (fixture, 1-based line) -> what the changed answer says (or "sha256:" and the start of its hash).
CHANGED: dict[tuple[str, int], str] = {
    **{("generated", line): text for text, lines in (_IAM_REGION, _S3_REGION, _IAM_PATH) for line in lines},
    **{("generated", line): f"sha256:{digest}" for line, digest in _FRACTIONAL_EPOCH.items()},
}


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
    """Every intended change is there, for its reason (an entry back to the baseline is stale)."""
    for name in {n for n, _ in CHANGED}:
        expected = _lines(f"{name}.results.jsonl.xz")
        actual = answers(_lines(f"{name}.cases.jsonl.xz"))
        for fixture, number in CHANGED:
            if fixture == name:
                assert expected[number - 1] != actual[number - 1], f"{name} line {number} no longer changes"
                said = CHANGED[fixture, number]
                if said.startswith("sha256:"):
                    digest = hashlib.sha256(actual[number - 1]).hexdigest()
                    assert digest.startswith(said.removeprefix("sha256:")), f"{name} line {number}"
                else:
                    assert said.encode() in actual[number - 1], f"{name} line {number}"


def test_the_comparison_sees_one_changed_byte() -> None:
    lines = _lines("shipped.cases.jsonl.xz")[:3]
    actual = answers(lines)
    tampered = [actual[0].replace(b'"allowed"', b'"implicitDeny"', 1) + b" ", *actual[1:]]
    assert differences("shipped", tampered, actual)
    assert differences("shipped", actual[:2], actual)
    assert not differences("shipped", actual, actual)
