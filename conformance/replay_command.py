"""``iamconf replay CASE_FILE [--target NAME ...]``: one verdict per request and target.

Prints ``agree``, ``known divergence: <reason>`` or ``unexpected divergence``
with the expected and observed decisions; exits 1 when any divergence is
unexpected (or a target failed), 2 when a case could not be read, else 0.
A target that cannot run is reported as skipped with its reason.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from conformance.harness import Outcome, Status, check_cases
from conformance.registry import TargetOptions, make_target
from conformance.targets.base import TargetUnavailable
from reference.caseio import decode_case
from reference.evaluator import CaseInputError
from reference.model import Case
from reports.progress import progress


def read_cases(path: str, err: TextIO) -> tuple[list[Case], bool]:
    """Cases from a JSON file (one case, possibly pretty-printed) or JSON lines; (cases, all_valid)."""
    try:
        data = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        print(f"{path}: cannot read: {e.strerror or e.__class__.__name__}", file=err)
        return [], False
    stripped = data.strip()
    chunks = [stripped] if path.endswith(".json") or "\n" not in stripped else stripped.splitlines()
    cases: list[Case] = []
    ok = True
    for number, chunk in enumerate(chunks, start=1):
        if not chunk.strip():
            continue
        try:
            cases.append(decode_case(chunk))
        except CaseInputError as e:
            ok = False
            where = f"{path}:{number}" if len(chunks) > 1 else path
            print(f"{where}: error [{e.error.code}] {e.error.path}: {e.error.message}", file=err)
    return cases, ok


def verdict(outcome: Outcome) -> str:
    case_id = outcome.case.id if isinstance(outcome.case.id, str) else "<case>"
    head = f"{case_id} [{outcome.target}]"
    if outcome.request_index is not None:
        request = outcome.case.requests[outcome.request_index]
        head = f"{case_id} request {outcome.request_index} ({request.action} on {request.resource}) [{outcome.target}]"
    if outcome.expected is None or outcome.observed is None:
        # Nothing to compare: unsupported, invalid, or the target failed to answer (maybe a known failure).
        if outcome.known is not None:
            return f"{head}: known divergence: {outcome.known.reason} (the target answered: {outcome.reason})"
        return f"{head}: {outcome.status}: {outcome.reason}"
    decisions = f"expected {outcome.expected.decision.value}, observed {outcome.observed.decision.value}"
    if outcome.status == Status.AGREE:
        return f"{head}: agree ({outcome.expected.decision.value})"
    details = "; ".join(f"{m.check}: expected {m.expected}, observed {m.observed}" for m in outcome.mismatches)
    if outcome.status == Status.KNOWN and outcome.known is not None:
        return f"{head}: known divergence: {outcome.known.reason} ({decisions}; {details})"
    return f"{head}: unexpected divergence ({details})"


def _case_files(paths: Sequence[str]) -> list[str]:
    """The paths given, a folder standing for its ``.json`` and ``.jsonl`` files (a corpus), sorted."""
    out: list[str] = []
    for path in paths:
        p = Path(path)
        if p.is_dir():
            out += sorted(str(f) for f in p.rglob("*") if f.suffix in (".json", ".jsonl") and f.is_file())
        else:
            out.append(path)
    return out


def replay_main(paths: Sequence[str], targets: Sequence[str], options: TargetOptions, out: TextIO | None = None) -> int:
    out = out if out is not None else sys.stdout
    cases: list[Case] = []
    valid = True
    for path in _case_files(paths):
        found, ok = read_cases(path, sys.stderr)
        cases += found
        valid = valid and ok
    failed = False
    from conformance.versions import target_versions, versions_line

    print(f"iamconf replay: {versions_line('none (replayed cases)', target_versions(targets))}", file=out)
    with progress(len(targets), f"replaying {len(cases)} case(s)") as tracker:
        for name in targets:
            tracker.describe(f"replaying {len(cases)} case(s) against {name}")
            target = make_target(name, options)
            try:
                target.start()
            except TargetUnavailable as e:
                tracker.emit(f"[{name}]: skipped: {e.reason}\n", out)
                tracker.advance()
                continue
            try:
                for outcome in check_cases(target, cases):
                    tracker.emit(verdict(outcome) + "\n", out)
                    failed = failed or outcome.is_failure
            finally:
                target.stop()
            tracker.advance()
    if not valid:
        return 2
    return 1 if failed else 0
