"""``iamconf batch``: generated cases against the AWS policy simulator in batches, under a call budget.

The nightly job's run against AWS.  Instead of one Hypothesis example per
``SimulateCustomPolicy`` call, it draws simulator-safe cases with many
requests under a few contexts each (``generate_cases(contexts_per_case=K)``),
which the ``aws-simulator`` target sends as one policy set with many actions
and resources per call, and it stops before a case could take it past
``--max-calls``.  ``--feature`` keeps the cases exercising the given feature
families (a shard of the nightly matrix).  Every compared request is a
``check`` event in ``events.ndjson`` (``conformance.events``, as ``iamconf run``
writes them, so that ``iamconf merge`` and the reports read both), and the run
ends with a ``batch-end`` event: calls, requests, decisions per call, retries.

Exit codes: 0 no unexpected divergence or target failure; 1 at least one;
2 the target could not start, or nothing was compared.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

import msgspec

from conformance.events import (
    EVENTS_FILE,
    BatchEnded,
    DivergenceEvent,
    EventWriter,
    MismatchRecord,
    RunEnded,
    RunStarted,
    TargetSkipped,
    TargetStarted,
)
from conformance.features import FEATURES, features_of
from conformance.harness import Status, check_cases
from conformance.pytest_plugin import check_event, example_snippet
from conformance.run_command import RunSummary, print_summary
from conformance.targets.aws_simulator import AwsSimulatorTarget, make_aws_simulator_target
from conformance.targets.base import TargetUnavailable
from conformance.versions import suite_versions, target_version, versions_line
from reference.compiled import PolicyCache
from reference.model import Case
from strategies import generate_cases

COMPARED = (Status.AGREE, Status.KNOWN, Status.UNEXPECTED)


def select_features(names: Sequence[str]) -> frozenset[str]:
    """Feature families by name; a name without ``:`` also selects its sub-families (``conditions``)."""
    out: set[str] = set()
    for name in names:
        chosen = {f for f in FEATURES if f == name or f.startswith(name + ":")}
        if not chosen:
            raise ValueError(f"unknown feature family {name!r} (known: {', '.join(FEATURES)})")
        out |= chosen
    return frozenset(out)


def batch_main(
    *,
    seed: int,
    max_calls: int | None,
    contexts_per_case: int,
    max_requests: int,
    max_cases: int,
    features: Sequence[str],
    endpoint_url: str | None,
    report_dir: Path,
    recordings: str | None,
    out: TextIO,
) -> int:
    wanted = select_features(features) if features else frozenset()
    target: AwsSimulatorTarget = make_aws_simulator_target(
        explicitly_requested=True, recordings_dir=recordings, endpoint_url=endpoint_url, max_calls=max_calls
    )
    cases_dir = report_dir / "cases"
    with EventWriter(report_dir / EVENTS_FILE) as events:
        print(f"iamconf batch: {versions_line(seed, {target.name: target_version(target)})}", file=out)
        events.write(RunStarted(targets=[target.name], profile="batch", seed=seed, versions=suite_versions()))
        try:
            target.start()
        except TargetUnavailable as e:
            events.write(TargetSkipped(target=target.name, reason=e.reason))
            events.write(RunEnded(skipped_targets={target.name: e.reason}))
            print(f"skipped {target.name}: {e.reason} (not counted as conforming)", file=out)
            return 2
        events.write(
            TargetStarted(target=target.name, checks=sorted(target.capabilities.checks), version=target_version(target))
        )
        cache = PolicyCache()
        compared = failed = 0
        budget_reached = False
        try:
            generated = generate_cases(
                count=max_cases,
                seed=seed,
                simulator_safe=True,
                max_requests=max_requests,
                contexts_per_case=contexts_per_case,
            )
            for case in generated:
                case_features = features_of(case)
                if wanted and not case_features & wanted:
                    continue
                if not target.within_budget(case):
                    budget_reached = True
                    break
                for o in check_cases(target, [case], cache=cache):
                    compared += o.status in COMPARED
                    events.write(check_event(o, "batch", sorted(case_features), cache))
                    if o.is_failure:
                        failed += 1
                        path = _save_case(cases_dir, case)
                        events.write(
                            DivergenceEvent(
                                nodeid="iamconf batch",
                                target=o.target,
                                status=o.status.value,
                                request_index=o.request_index,
                                expected=o.expected,
                                observed=o.observed,
                                mismatches=[
                                    MismatchRecord(m.check.value, m.expected, m.observed) for m in o.mismatches
                                ],
                                reason=o.reason or None,
                                description=o.describe(),
                                case=case,
                                seed=seed,
                                corpus=str(path),
                                replay=f"iamconf replay {path} --target {o.target}",
                                example=example_snippet(case),
                            )
                        )
        finally:
            target.stop()
        stats = target.stats
        per_call = target.decisions_per_call
        events.write(
            BatchEnded(
                target=target.name,
                cases=stats.cases,
                requests=stats.requests,
                calls=stats.calls,
                decisions=stats.extra.get("decisions", 0),
                retries=stats.extra.get("retries", 0),
                decisions_per_call=round(per_call, 2),
                max_calls=max_calls,
                budget_reached=budget_reached,
            )
        )
        events.write(RunEnded())
    print_summary(RunSummary.read(report_dir / EVENTS_FILE), out)
    budget = f" of a budget of {max_calls}" if max_calls is not None else ""
    print(
        f"aws-simulator: {stats.calls} SimulateCustomPolicy calls{budget}, {stats.requests} requests in "
        f"{stats.cases} cases, {per_call:.1f} decisions per call, {stats.extra.get('retries', 0)} retries"
        + ("; stopped at the call budget" if budget_reached else ""),
        file=out,
    )
    print(f"report: {report_dir / EVENTS_FILE}", file=out)
    if compared == 0:
        print("iamconf batch: error: no request was compared (budget too small, or no case of the feature)", file=out)
        return 2
    return 1 if failed else 0


def _save_case(directory: Path, case: Case) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{case.id}.json"
    path.write_bytes(msgspec.json.format(msgspec.json.encode(case)) + b"\n")
    return path
