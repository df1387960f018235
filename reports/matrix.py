"""The conformance matrix: feature families down, targets across.

Each cell counts the requests checked against one target whose decision the
family decided (``conformance.features.deciding_feature``, recorded in each
``check`` event), so every request counts once; a case the target answered as
a whole counts in the ``(whole case)`` row. A cell holds: agree, known
divergence, unexpected (an unexpected divergence or a target failure) and
skipped (the target could not express the case, or the reference refused it).
A target that could not run, or a family it does not claim, is a skipped cell
with its reason; it never counts as conforming. Minimal divergent cases are
listed once each with their replay command, and every cell links to its own.
"""

from __future__ import annotations

import enum
from collections import Counter
from dataclasses import dataclass, field

from conformance.features import FEATURES
from reports.run_events import AGREE, FAILURE, INVALID, KNOWN, UNEXPECTED, UNSUPPORTED, WHOLE_CASE, RunRecord


class Verdict(enum.StrEnum):
    UNEXPECTED = "unexpected"
    KNOWN = "known divergence"
    AGREE = "agree"
    SKIPPED = "skipped"
    NOT_EXERCISED = "not exercised"


@dataclass
class Cell:
    agree: int = 0
    known: int = 0
    unexpected: int = 0
    skipped: int = 0
    known_ids: Counter[str] = field(default_factory=Counter)
    skip_reason: str = ""  # why the whole cell is skipped (target not run, family not claimed)
    case_anchors: list[str] = field(default_factory=list)

    def add(self, status: str, known: str | None, requests: int = 1) -> None:
        if status == AGREE:
            self.agree += requests
        elif status == KNOWN:
            self.known += requests
            if known:
                self.known_ids[known] += requests
        elif status in (UNEXPECTED, FAILURE):
            self.unexpected += requests
        elif status in (UNSUPPORTED, INVALID):
            self.skipped += requests
        else:
            raise ValueError(f"unknown check status {status!r}")

    @property
    def verdict(self) -> Verdict:
        if self.unexpected:
            return Verdict.UNEXPECTED
        if self.known:
            return Verdict.KNOWN
        if self.agree:
            return Verdict.AGREE
        if self.skipped or self.skip_reason:
            return Verdict.SKIPPED
        return Verdict.NOT_EXERCISED

    @property
    def checked(self) -> int:
        return self.agree + self.known + self.unexpected


@dataclass(frozen=True)
class MinimalCase:
    anchor: str  # "case-1", ...
    target: str
    family: str
    descriptions: tuple[str, ...]
    replay: str
    corpus: str
    seed: int | None
    case_json: str


@dataclass
class TargetSummary:
    name: str
    agree: int = 0
    known: int = 0
    unexpected: int = 0
    skipped: int = 0
    skip_reason: str = ""  # the target could not run

    @property
    def checked(self) -> int:
        return self.agree + self.known + self.unexpected

    @property
    def conformance(self) -> float | None:
        """Share of compared requests that agree or diverge knowingly; None when nothing was compared."""
        return (self.agree + self.known) / self.checked if self.checked else None


@dataclass
class Matrix:
    families: list[str]
    targets: list[str]
    cells: dict[tuple[str, str], Cell]
    summaries: dict[str, TargetSummary]
    cases: list[MinimalCase]
    seed: int | None = None
    profile: str | None = None
    derandomized: bool = False

    def cell(self, family: str, target: str) -> Cell:
        return self.cells[(family, target)]


def _targets(run: RunRecord) -> list[str]:
    seen: dict[str, None] = {}
    for name in [*run.targets, *run.started, *run.skipped, *(c.target for c in run.checks)]:
        seen.setdefault(name, None)
    return list(seen)


def _minimal_cases(run: RunRecord) -> list[MinimalCase]:
    """One entry per saved case (a case with several failing requests has several divergence events)."""
    grouped: dict[tuple[str, str], list[int]] = {}
    for i, d in enumerate(run.divergences):
        grouped.setdefault((d.target, d.corpus or d.replay or str(i)), []).append(i)
    out = []
    for n, indexes in enumerate(grouped.values(), start=1):
        first = run.divergences[indexes[0]]
        out.append(
            MinimalCase(
                anchor=f"case-{n}",
                target=first.target,
                family=first.family,
                descriptions=tuple(run.divergences[i].description for i in indexes),
                replay=first.replay,
                corpus=first.corpus,
                seed=first.seed,
                case_json=first.case_json,
            )
        )
    return out


def build_matrix(run: RunRecord) -> Matrix:
    """The matrix of one run."""
    targets = _targets(run)
    extra = [c.family for c in run.checks if c.family not in FEATURES and c.family != WHOLE_CASE]
    families = [*FEATURES, *dict.fromkeys(extra), WHOLE_CASE]
    cells = {(f, t): Cell() for f in families for t in targets}
    summaries = {t: TargetSummary(t, skip_reason=run.skipped.get(t, "")) for t in targets}
    for check in run.checks:
        cells[(check.family, check.target)].add(check.status, check.known, check.requests)
        s = summaries[check.target]
        if check.status == AGREE:
            s.agree += check.requests
        elif check.status == KNOWN:
            s.known += check.requests
        elif check.status in (UNEXPECTED, FAILURE):
            s.unexpected += check.requests
        else:
            s.skipped += check.requests
    for (family, target), cell in cells.items():
        if target in run.skipped:
            cell.skip_reason = f"{target} could not run: {run.skipped[target]}"
        elif target in run.claimed and family not in run.claimed[target] and family != WHOLE_CASE:
            cell.skip_reason = f"{target} does not claim {family}"
    cases = _minimal_cases(run)
    for case in cases:
        if (case.family, case.target) in cells:
            cells[(case.family, case.target)].case_anchors.append(case.anchor)
    return Matrix(
        families=families,
        targets=targets,
        cells=cells,
        summaries=summaries,
        cases=cases,
        seed=run.seed,
        profile=run.profile,
        derandomized=run.derandomized,
    )
