"""Speed of the emulator targets, each beside the reference on the same requests.

Run from the project root (``tox -e bench`` runs it)::

    python bench/emulators.py [--cases 40] [--seed 3]

1. moto-enforcement in process and through moto's server: enforced probe calls
   per second (one real call per request, set-up and clean-up included).
2. localstack-simulator: decisions per second from ``SimulatePrincipalPolicy``
   (principal set-up and clean-up included), where LocalStack can run here
   (``IAMCONF_LOCALSTACK_PYTHON``, as ``tox -e localstack`` builds it);
   otherwise it says why it was skipped.
Each line also gives the reference's decisions per second on the same requests
and the ratio.  Figures are printed, not enforced: the emulators' speed is theirs.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Sequence

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conformance.suites.probed_cases import probed_cases
from conformance.targets.base import Target, TargetUnavailable
from reference.compiled import PolicyCache
from reference.evaluator import evaluate_case
from reference.model import Case


def sample(strategy: st.SearchStrategy[Case], count: int, seed: int) -> list[Case]:
    out: list[Case] = []

    @settings(
        max_examples=count, database=None, derandomize=True, suppress_health_check=list(HealthCheck), deadline=None
    )
    @given(strategy)
    def collect(case: Case) -> None:
        out.append(case)

    random.seed(seed)  # derandomized: the same cases every run
    collect()
    return out[:count]


def reference_rate(cases: Sequence[Case], repeat: int = 5) -> float:
    requests = sum(len(c.requests) for c in cases)
    best = float("inf")
    for _ in range(repeat):
        cache = PolicyCache()  # cold cache, as each target call starts from the case
        start = time.perf_counter()
        for c in cases:
            evaluate_case(c, cache)
        best = min(best, time.perf_counter() - start)
    return requests / best


def target_rate(target: Target, cases: Sequence[Case]) -> tuple[float, int, float]:
    """Requests answered per second (set-up and clean-up included), how many, and the probe calls alone
    per second where the target times them (enforcement targets)."""
    target.answer(cases[:2])  # warm-up (first IAM call of a fresh LocalStack takes seconds)
    stats = getattr(target, "stats", None)
    extra = stats.extra if stats is not None else {}
    probe_ns = extra.get("probe_ns", 0)
    start = time.perf_counter()
    answers = target.answer(cases)
    elapsed = time.perf_counter() - start
    answered = sum(len(c.requests) for c, a in zip(cases, answers, strict=True) if hasattr(a, "results"))
    spent = (extra.get("probe_ns", 0) - probe_ns) / 1e9
    return answered / elapsed, answered, (answered / spent if spent else 0.0)


def line(label: str, rate: float, answered: int, ref: float) -> str:
    return (
        f"{label}: {rate:,.0f} per s over {answered} requests; reference {ref:,.0f} decisions/s on the same "
        f"requests ({ref / rate:,.0f}x)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Emulator targets' speed beside the reference's.")
    parser.add_argument("--cases", type=int, default=60)
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args(argv)

    from conformance.targets.moto_enforcement import ACCOUNT, make_moto_enforcement_target

    cases = sample(probed_cases(ACCOUNT), args.cases, args.seed)
    cases = [c for c in cases if c.permissions_boundary is None]  # moto cannot be given a boundary
    ref = reference_rate(cases)
    for mode in ("process", "server"):
        target = make_moto_enforcement_target(mode)
        target.start()
        try:
            rate, answered, calls = target_rate(target, cases)
        finally:
            target.stop()
        print(line(f"moto-enforcement ({mode}): enforced probe calls (the call alone)", calls, answered, ref))
        print(line(f"moto-enforcement ({mode}): requests with principal and resource set-up", rate, answered, ref))

    from conformance.targets.localstack_simulator import LocalStackSimulatorTarget
    from strategies import generate_cases

    generated = generate_cases(count=args.cases, seed=args.seed, max_requests=8, contexts_per_case=1)
    ls_cases = [c for c in generated if not c.scps and c.resource_policy is None and c.session_policy is None]
    simulator = LocalStackSimulatorTarget()
    try:
        simulator.start()
    except TargetUnavailable as e:
        print(f"localstack-simulator: skipped: {e.reason}")
        return 0
    try:
        rate, answered, _ = target_rate(simulator, ls_cases)
    finally:
        simulator.stop()
    print(line("localstack-simulator: SimulatePrincipalPolicy decisions", rate, answered, reference_rate(ls_cases)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
