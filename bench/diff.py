"""Speed of ``iamconf diff`` on the anchor policy's history (issue 8, item 8).

Run from the project root (``tox -e bench`` runs it)::

    python bench/diff.py [--repeat 3] [--strict] [--json PATH]

1. Whole process: ``iamconf diff v2 v3`` and ``iamconf diff v1 v2`` (JSON to
   /dev/null, the default search: enumeration plus 200 Hypothesis examples),
   best of ``--repeat`` runs, beside ``iamconf --version`` in the same run (the
   start-up the diff cannot avoid), as a ratio.  Goal: each diff under 10 s on
   2 cores with the search complete (the report must say it covered every
   action and every resource pattern).
2. Requests evaluated per second during the search (each decided under both
   versions), beside the reference deciding the same requests under one version
   (the peer): the search's cost per request over the bare evaluator's.

With ``--strict`` a missed goal exits 1; without it the miss is printed as
``GOAL MISSED``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from reference.evaluator import decide  # noqa: E402
from reports.diff import _Collector  # noqa: E402
from reports.inputs import load_policy_set  # noqa: E402
from reports.search import build_space, statements_of  # noqa: E402

GOAL_SECONDS = 10.0
PAIRS = (("v2", "v3"), ("v1", "v2"))
ANCHOR = "reference/fixtures/anchor"


def _best(cmd: list[str], repeat: int) -> tuple[float, subprocess.CompletedProcess[str]]:
    best = float("inf")
    done: subprocess.CompletedProcess[str] | None = None
    for _ in range(repeat):
        start = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=False, timeout=600)
        best = min(best, time.perf_counter() - start)
    assert done is not None
    return best, done


def whole_process(repeat: int) -> list[dict[str, Any]]:
    iamconf = [sys.executable, "-m", "conformance.cli"]
    startup, _ = _best([*iamconf, "--version"], repeat)
    rows = []
    for old, new in PAIRS:
        out = ROOT / f".bench-diff-{old}-{new}.json"
        cmd = [*iamconf, "diff", f"{ANCHOR}/{old}.json", f"{ANCHOR}/{new}.json", "--format", "json", "--out", str(out)]
        seconds, done = _best(cmd, repeat)
        if done.returncode not in (0, 1):
            raise SystemExit(f"iamconf diff {old} {new} failed: {done.stderr.strip()}")
        report = json.loads(out.read_text(encoding="utf-8"))
        out.unlink()
        searched = report["searched"]
        complete = searched["every_action"] and searched["every_resource_pattern"]
        rows.append(
            {
                "diff": f"{old} -> {new}",
                "seconds": round(seconds, 3),
                "startup_seconds": round(startup, 3),
                "ratio_to_startup": round(seconds / startup, 2),
                "requests": searched["requests"],
                "complete": complete,
                "goal_met": seconds < GOAL_SECONDS and complete,
            }
        )
    return rows


def search_rate(old: str, new: str) -> dict[str, Any]:
    a = load_policy_set(f"{ROOT}/{ANCHOR}/{old}.json")
    b = load_policy_set(f"{ROOT}/{ANCHOR}/{new}.json")
    space = build_space(statements_of("old", a) + statements_of("new", b), a.prepared.caller.account, 0)
    requests = [r for reqs in space.requests.values() for r in reqs]
    collector = _Collector(a, b)
    start = time.perf_counter()
    for r in requests:
        collector.evaluate(r, "enumeration")
    search = time.perf_counter() - start
    start = time.perf_counter()
    for r in requests:
        decide(b.prepared, r)
    peer = time.perf_counter() - start
    return {
        "diff": f"{old} -> {new}",
        "requests": len(requests),
        "search_requests_per_second": round(len(requests) / search),
        "reference_requests_per_second": round(len(requests) / peer),
        "search_cost_over_reference": round(search / peer, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--strict", action="store_true", help="exit 1 when a goal is missed")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    args = parser.parse_args()
    rows = whole_process(max(args.repeat, 1))
    print(f"iamconf diff, whole process (best of {args.repeat}), goal under {GOAL_SECONDS:.0f} s, search complete:")
    for row in rows:
        mark = "goal met" if row["goal_met"] else "GOAL MISSED"
        print(
            f"  {row['diff']}: {row['seconds']:.2f} s ({row['ratio_to_startup']:.1f}x `iamconf --version`, "
            f"{row['startup_seconds']:.2f} s), {row['requests']} requests, "
            f"search {'complete' if row['complete'] else 'INCOMPLETE'}: {mark}"
        )
    rates = [search_rate(old, new) for old, new in PAIRS]
    print("requests evaluated per second during the search (both versions each), beside the reference alone:")
    for rate in rates:
        print(
            f"  {rate['diff']}: {rate['search_requests_per_second']:,}/s searching, "
            f"{rate['reference_requests_per_second']:,}/s one decision each "
            f"({rate['search_cost_over_reference']:.2f}x the reference's time)"
        )
    if args.json:
        Path(args.json).write_text(json.dumps({"whole_process": rows, "search": rates}, indent=2) + "\n")
    missed = [r for r in rows if not r["goal_met"]]
    return 1 if missed and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
