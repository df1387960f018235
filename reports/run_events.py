"""The run's events (``events.ndjson``) as the reports need them: one reader, switchable.

``read_run`` is the only place that knows the event format written by
``conformance/pytest_plugin.py``.  A ``check`` event is counted under the
feature family that decided its request when the event names it
(``DECIDING_FAMILY_FIELD``); an event that does not (the format before the
typed event model) is counted under every family its case exercises.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# The field of a ``check`` event naming the feature family that decided the request.
DECIDING_FAMILY_FIELD = "family"

AGREE = "agree"
KNOWN = "known divergence"
UNEXPECTED = "unexpected divergence"
FAILURE = "target failure"
UNSUPPORTED = "unsupported"
INVALID = "invalid case"
STATUSES = (AGREE, KNOWN, UNEXPECTED, FAILURE, UNSUPPORTED, INVALID)


class EventsError(Exception):
    """An events file the reports cannot read (one line naming file and line)."""


@dataclass(frozen=True, slots=True)
class CheckRecord:
    target: str
    suite: str
    status: str
    families: tuple[str, ...]  # the deciding family, or (old format) every family of the case
    known: str | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class DivergenceRecord:
    target: str
    status: str
    families: tuple[str, ...]
    description: str
    replay: str
    corpus: str
    seed: str | None
    nodeid: str
    case: dict[str, Any] = field(hash=False, compare=False)
    example: str = ""


@dataclass
class RunRecord:
    """Everything one ``iamconf run`` wrote, in event order."""

    targets: list[str] = field(default_factory=list)
    seed: str | None = None
    profile: str | None = None
    started: list[str] = field(default_factory=list)
    claimed: dict[str, frozenset[str]] = field(default_factory=dict)  # target -> families it claims, when known
    skipped: dict[str, str] = field(default_factory=dict)  # target -> reason it could not run
    checks: list[CheckRecord] = field(default_factory=list)
    divergences: list[DivergenceRecord] = field(default_factory=list)
    finished: bool = False
    checks_without_deciding_family: int = 0  # old-format events: counted under every family of the case


def _families(event: dict[str, Any]) -> tuple[str, ...]:
    deciding = event.get(DECIDING_FAMILY_FIELD)
    if isinstance(deciding, str) and deciding:
        return (deciding,)
    return tuple(str(f) for f in event.get("features") or ())


def _str_or_none(value: object) -> str | None:
    return None if value is None else str(value)


def _add(run: RunRecord, e: dict[str, Any], last_failure: dict[str, tuple[str, ...]]) -> None:
    kind = e.get("event")
    if kind == "run-start":
        run.targets = [str(t) for t in e.get("targets") or ()]
        run.seed = _str_or_none(e.get("seed"))
        run.profile = _str_or_none(e.get("profile"))
    elif kind == "target-started":
        run.started.append(str(e["target"]))
        if isinstance(e.get("features"), list):
            run.claimed[str(e["target"])] = frozenset(str(f) for f in e["features"])
    elif kind == "target-skipped":
        run.skipped[str(e["target"])] = str(e["reason"])
    elif kind == "check":
        record = CheckRecord(
            target=str(e["target"]),
            suite=str(e.get("suite") or ""),
            status=str(e["status"]),
            families=_families(e),
            known=_str_or_none(e.get("known")),
            reason=_str_or_none(e.get("reason")),
        )
        run.checks.append(record)
        if not e.get(DECIDING_FAMILY_FIELD):
            run.checks_without_deciding_family += 1
        if record.status in (UNEXPECTED, FAILURE):
            last_failure[record.target] = record.families
    elif kind == "divergence":
        target = str(e["target"])
        # The minimal case is the last failing check of its target before the divergence (Hypothesis
        # replays the shrunk example last), unless the event names its family itself.
        families = _families(e) or last_failure.get(target, ())
        case = e.get("case")
        run.divergences.append(
            DivergenceRecord(
                target=target,
                status=str(e["status"]),
                families=families,
                description=str(e.get("description") or ""),
                replay=str(e.get("replay") or ""),
                corpus=str(e.get("corpus") or ""),
                seed=_str_or_none(e.get("seed")),
                nodeid=str(e.get("nodeid") or ""),
                case=case if isinstance(case, dict) else {},
                example=str(e.get("example") or ""),
            )
        )
    elif kind == "run-end":
        run.finished = True


def read_run(path: Path) -> RunRecord:
    """The run recorded in ``path``; a missing file is an empty run."""
    run = RunRecord()
    if not path.is_file():
        return run
    last_failure: dict[str, tuple[str, ...]] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            event = json.loads(line)
            if not isinstance(event, dict):
                raise TypeError("an event is a JSON object")
            _add(run, event, last_failure)
        except (ValueError, TypeError, KeyError) as exc:
            raise EventsError(f"{path}:{number}: unreadable event: {exc}") from None
    return run
