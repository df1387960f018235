"""Speed of the SMT proof of ``iamconf diff --prove`` (issue 12, item 5).

Run from the project root (``tox -e bench`` runs it)::

    python bench/prove.py [--repeat 3] [--strict] [--json PATH]

Proof time (``reports.prove.prove_diff``: the encoding of both versions over the catalog's action classes,
then the solver's queries, then the reference checking any model) of

1. the anchor policy's v1 -> v2 diff,
2. the anchor policy's v2 -> v3 diff,
3. a policy set with a permissions boundary and two SCP levels (the anchor's v3 as the identity policy),
   whose second SCP level changes,

best of ``--repeat``, beside the search of the same diff (``reports.diff.run_diff``, the peer in the same
run) as a ratio.  Each proof must settle both directions: "proved", or "new_witnesses" (the third set's
search misses the s3 actions newly denied between the two SCP dates; the proof finds them), never "not
proved".  Goal: each proof under 5 s on 2 cores; with ``--strict`` a missed goal exits 1, else it prints
``GOAL MISSED``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from reports.diff import run_diff  # noqa: E402
from reports.inputs import PolicySet, load_policy_set  # noqa: E402
from reports.model import DiffReport  # noqa: E402
from reports.prove import prove_diff  # noqa: E402

GOAL_SECONDS = 5.0
ANCHOR = ROOT / "reference" / "fixtures" / "anchor"


def _doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def boundary_and_scps(level_2: dict[str, Any]) -> dict[str, Any]:
    """A case-format v1 case without requests: the anchor v3 as identity policy, a boundary, two SCP levels."""
    anchor = json.loads((ANCHOR / "v3.json").read_text(encoding="utf-8"))
    boundary = _doc(
        {
            "Effect": "Allow",
            "Action": ["sagemaker:*", "s3:*", "codecommit:*", "iam:PassRole", "states:*"],
            "Resource": "*",
        },
        {
            "Effect": "Deny",
            "Action": "*",
            "Resource": "*",
            "Condition": {"NotIpAddress": {"aws:SourceIp": ["10.0.0.0/8", "192.168.0.0/16"]}},
        },
    )
    level_1 = _doc(
        {"Effect": "Allow", "Action": "*", "Resource": "*"},
        {"Effect": "Deny", "Action": "iam:*", "Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
    )
    return {
        "identity_policies": [{"id": "anchor-v3", "type": "role", "document": anchor}],
        "permissions_boundary": {"id": "boundary", "type": "boundary", "document": boundary},
        "scps": [
            [{"id": "root", "type": "scp", "document": level_1}],
            [{"id": "ou", "type": "scp", "document": level_2}],
        ],
        "caller_arn": "arn:aws:sts::111122223333:assumed-role/builder/session",
        "requests": [],
    }


SCP_OLD = _doc(
    {"Effect": "Allow", "Action": ["sagemaker:*", "s3:*", "iam:*"], "Resource": "*"},
    {
        "Effect": "Deny",
        "Action": "s3:*",
        "Resource": "*",
        "Condition": {"DateGreaterThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}},
    },
)
SCP_NEW = _doc(
    {"Effect": "Allow", "Action": ["sagemaker:*", "s3:*", "iam:*", "codecommit:*"], "Resource": "*"},
    {
        "Effect": "Deny",
        "Action": "s3:*",
        "Resource": "*",
        "Condition": {"DateGreaterThan": {"aws:CurrentTime": "2029-01-01T00:00:00Z"}},
    },
)


def _best(run: Callable[[], DiffReport], repeat: int) -> tuple[float, DiffReport]:
    best, report = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        report = run()
        best = min(best, time.perf_counter() - start)
    assert report is not None
    return best, report


def measure(name: str, old: PolicySet, new: PolicySet, repeat: int) -> dict[str, Any]:
    search_seconds, searched = _best(lambda: run_diff(old, new), repeat)
    prove_seconds, proved = _best(lambda: prove_diff(searched, old, new), repeat)
    assert proved.proved is not None
    statuses = {p.direction: p.status for p in proved.proved.directions}
    return {
        "diff": name,
        "proof_seconds": round(prove_seconds, 3),
        "search_seconds": round(search_seconds, 3),
        "proof_over_search": round(prove_seconds / search_seconds, 2),
        "changes": len(searched.changes),
        "statuses": statuses,
        "found_by_proof": sum(len(p.new_actions) for p in proved.proved.directions),
        "goal_met": prove_seconds < GOAL_SECONDS and "not_proved" not in statuses.values(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--strict", action="store_true", help="exit 1 when a goal is missed")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    args = parser.parse_args()
    repeat = max(args.repeat, 1)
    rows = []
    for old, new in (("v1", "v2"), ("v2", "v3")):
        a, b = load_policy_set(str(ANCHOR / f"{old}.json")), load_policy_set(str(ANCHOR / f"{new}.json"))
        rows.append(measure(f"anchor {old} -> {new}", a, b, repeat))
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for label, scp in (("old", SCP_OLD), ("new", SCP_NEW)):
            path = Path(tmp) / f"{label}.json"
            path.write_text(json.dumps(boundary_and_scps(scp)), encoding="utf-8")
            paths.append(str(path))
        a, b = load_policy_set(paths[0]), load_policy_set(paths[1])
        rows.append(measure("boundary + two SCP levels", a, b, repeat))
    print(
        f"iamconf diff --prove, proof time (best of {repeat}), goal under {GOAL_SECONDS:.0f} s, no direction unproved:"
    )
    for row in rows:
        mark = "goal met" if row["goal_met"] else "GOAL MISSED"
        statuses = ", ".join(f"{d}: {s}" for d, s in row["statuses"].items())
        print(
            f"  {row['diff']}: proof {row['proof_seconds']:.2f} s ({row['proof_over_search']:.2f}x the search's "
            f"{row['search_seconds']:.2f} s); {row['changes']} change(s) from the search, "
            f"{row['found_by_proof']} more from the proof; {statuses}: {mark}"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return 1 if args.strict and any(not r["goal_met"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
