"""The run's events (``events.ndjson``) as the reports need them.

``read_run`` reads the typed event model of ``conformance/events.py`` (the one
format ``iamconf run`` writes) into what the matrix counts.  A ``check`` event
counts under the feature family that decided its request; a case the target
answered as a whole (refused, failed; no request decided it) counts under
``WHOLE_CASE``, as in ``iamconf run``'s own summary.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import msgspec

from conformance.events import (
    EVENTS_FILE,
    CheckEvent,
    DivergenceEvent,
    RunEnded,
    RunStarted,
    TargetSkipped,
    TargetStarted,
    decode_event,
)
from conformance.features import deciding_feature

# The matrix row of a case a target answered as a whole: no one request decided it.
WHOLE_CASE = "(whole case)"

AGREE = "agree"
KNOWN = "known divergence"
UNEXPECTED = "unexpected divergence"
FAILURE = "target failure"
UNSUPPORTED = "unsupported"
INVALID = "invalid case"


class EventsError(Exception):
    """An events file the reports cannot read (one line naming file and line)."""


@dataclass(frozen=True, slots=True)
class CheckRecord:
    target: str
    suite: str
    status: str
    family: str  # the deciding family, or WHOLE_CASE
    requests: int = 1  # how many requests the event stands for
    known: str | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class DivergenceRecord:
    target: str
    status: str
    family: str  # the family that decided the diverging request, or WHOLE_CASE
    description: str
    replay: str
    corpus: str
    seed: int | None
    nodeid: str
    case_json: str


@dataclass
class RunRecord:
    """Everything one ``iamconf run`` wrote, in event order."""

    targets: list[str] = field(default_factory=list)
    seed: int | None = None
    profile: str | None = None
    derandomized: bool = False
    started: list[str] = field(default_factory=list)
    claimed: dict[str, frozenset[str]] = field(default_factory=dict)  # target -> families it claims, when recorded
    skipped: dict[str, str] = field(default_factory=dict)  # target -> reason it could not run
    checks: list[CheckRecord] = field(default_factory=list)
    divergences: list[DivergenceRecord] = field(default_factory=list)
    finished: bool = False


def _divergence_family(e: DivergenceEvent) -> str:
    """The family that decided the diverging request (as its ``check`` event has it), or WHOLE_CASE."""
    if e.request_index is None or e.expected is None or not 0 <= e.request_index < len(e.case.requests):
        return WHOLE_CASE
    return deciding_feature(e.case, e.case.requests[e.request_index], e.expected)


def _add(run: RunRecord, e: object) -> None:
    if isinstance(e, RunStarted):
        run.targets = list(e.targets)
        run.seed, run.profile, run.derandomized = e.seed, e.profile, e.derandomized
    elif isinstance(e, TargetStarted):
        run.started.append(e.target)
        if e.features is not None:
            run.claimed[e.target] = frozenset(e.features)
    elif isinstance(e, TargetSkipped):
        run.skipped[e.target] = e.reason
    elif isinstance(e, CheckEvent):
        record = CheckRecord(e.target, e.suite, e.status, e.deciding or WHOLE_CASE, e.requests, e.known, e.reason)
        run.checks.append(record)
    elif isinstance(e, DivergenceEvent):
        run.divergences.append(
            DivergenceRecord(
                target=e.target,
                status=e.status,
                family=_divergence_family(e),
                description=e.description,
                replay=e.replay,
                corpus=e.corpus,
                seed=e.seed,
                nodeid=e.nodeid,
                case_json=msgspec.json.format(msgspec.json.encode(e.case), indent=2).decode(),
            )
        )
    elif isinstance(e, RunEnded):
        run.finished = True


def read_run(path: Path) -> RunRecord:
    """The run recorded in ``path`` (a report directory means its ``events.ndjson``); missing: an empty run."""
    if path.is_dir():
        path = path / EVENTS_FILE
    run = RunRecord()
    if not path.is_file():
        return run
    with path.open("rb") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                event = decode_event(line)
            except msgspec.DecodeError as exc:  # ValidationError is a DecodeError
                raise EventsError(f"{path}:{number}: unreadable event: {exc}") from None
            _add(run, event)
    return run
