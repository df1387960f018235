"""How fast ``generate_cases`` is: cases per second, best of a few runs, printed.

Run from the project root::

    PYTHONPATH=. python -m strategies.bench [--count 10000] [--repeat 3] [--seed 1]

The goal is at least 2,000 cases a second (issue 3).  Figures are CPU time
(``time.process_time``) so that other work on a shared machine distorts them
less; the first run also pays for loading the catalog, and is reported apart.
``bench/run.py`` may call :func:`measure`.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from typing import Any

from reference.fixtures import anchor_policy
from strategies.generate import generate_cases

GOAL = 2000.0


def _rate(count: int, seed: int, policies: list[str] | None, simulator_safe: bool) -> float:
    start = time.process_time()
    n = 0
    for _ in generate_cases(count=count, seed=seed, policies=policies, simulator_safe=simulator_safe):
        n += 1
    elapsed = time.process_time() - start
    return n / elapsed if elapsed > 0 else float("inf")


def measure(*, count: int = 10_000, repeat: int = 3, seed: int = 1) -> dict[str, Any]:
    """Cases per second: the first (cold) run and the best of ``repeat`` runs, for whole cases,
    simulator-safe cases and cases aimed at the anchor policy v3."""
    out: dict[str, Any] = {"count": count, "goal": GOAL}
    modes: dict[str, tuple[list[str] | None, bool]] = {
        "cases": (None, False),
        "simulator_safe": (None, True),
        "aimed_anchor_v3": ([anchor_policy("v3")], False),
    }
    for name, (policies, safe) in modes.items():
        rates = [_rate(count, seed + i, policies, safe) for i in range(repeat)]
        out[name] = {"first": round(rates[0]), "best": round(max(rates))}
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    figures = measure(count=args.count, repeat=args.repeat, seed=args.seed)
    ok = True
    for name in ("cases", "simulator_safe", "aimed_anchor_v3"):
        f = figures[name]
        flag = "ok" if f["best"] >= GOAL else "BELOW GOAL"
        ok = ok and f["best"] >= GOAL
        print(f"{name:16} first run {f['first']:>7,}/s   best of {args.repeat} {f['best']:>7,}/s   {flag}")
    print(f"goal: {GOAL:,.0f} cases/s (CPU time, {args.count:,} cases a run)")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
