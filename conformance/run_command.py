"""``iamconf run``: the conformance suites against the chosen targets, with a report.

Runs ``conformance/suites`` under pytest (its progress is the run's progress)
with the harness plugin, writes ``events.ndjson`` and ``junit.xml`` under the
report directory, then prints a summary: per target what was checked and how
it ended, every skipped target with its reason, and one line per divergence
with the command that reproduces it.

The seed: under a derandomized profile (``ci``) Hypothesis draws the same
examples on every run whatever the seed, and the summary says so.  Otherwise
``--seed N`` seeds every suite with N (and Hypothesis then keeps no example
database); without it each suite draws a fresh seed, recorded with the suite's
events and with each divergence (``--seed`` that value replays the suite).
Minimal cases go to ``--corpus DIR`` (default: ``conformance/corpus`` of the
checkout the run starts from, else ``corpus/`` in the report directory), and
Hypothesis's example database (``.hypothesis/``) to the report directory,
unless the profile has none.

Exit codes: 0 no unexpected divergence; 1 at least one (or a failed health
check); 2 a usage or configuration error, a target the user named that could
not start, or no target that compared anything at all.
"""

from __future__ import annotations

import collections
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import pytest
from hypothesis import settings
from hypothesis.configuration import set_hypothesis_home_dir
from rich.console import Console
from rich.table import Table

from conformance.events import (
    EVENTS_FILE,
    CheckEvent,
    DivergenceEvent,
    RunStarted,
    TargetSkipped,
    TargetStarted,
    iter_events,
)
from conformance.features import FEATURES
from conformance.health import COMPARED, MIN_COMPARED_SHARE
from conformance.targets.process import interruptible
from conformance.versions import target_versions, versions_line
from reports.matrix_report import write_matrix_reports
from reports.progress import progress
from strategies.profiles import DEFAULT_PROFILE, register_profiles

SUITES_DIR = Path(__file__).parent / "suites"


# The matrix row of a case a target answered as a whole (refused, failed): no one request decided it.
WHOLE_CASE = "(whole case)"


@dataclass
class RunSummary:
    # target -> requests by status
    counts: dict[str, collections.Counter[str]] = field(default_factory=dict)
    # (feature, target) -> statuses of the requests that feature family decided
    matrix: dict[tuple[str, str], collections.Counter[str]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    started: list[str] = field(default_factory=list)
    divergences: list[DivergenceEvent] = field(default_factory=list)
    header: RunStarted | None = None

    def compared(self, target: str) -> int:
        """Requests the target answered and was compared on (agreeing or not, or failing)."""
        counts = self.counts.get(target, collections.Counter())
        return sum(counts[s.value] for s in COMPARED)

    def compared_share(self, target: str) -> float | None:
        total = self.compared(target) + self.counts.get(target, collections.Counter())["unsupported"]
        return self.compared(target) / total if total else None

    @classmethod
    def read(cls, path: Path) -> RunSummary:
        summary = cls()
        for e in iter_events(path):
            if isinstance(e, CheckEvent):
                summary.counts.setdefault(e.target, collections.Counter())[e.status] += e.requests
                row = e.deciding or WHOLE_CASE
                summary.matrix.setdefault((row, e.target), collections.Counter())[e.status] += e.requests
            elif isinstance(e, TargetSkipped):
                summary.skipped[e.target] = e.reason
            elif isinstance(e, TargetStarted):
                summary.started.append(e.target)
            elif isinstance(e, DivergenceEvent):
                summary.divergences.append(e)
            elif isinstance(e, RunStarted):
                summary.header = e
        return summary


def pytest_arguments(
    targets: Sequence[str],
    explicit: Sequence[str],
    report_dir: Path,
    seed: int | None,
    recordings: str | None,
    *,
    corpus_dir: Path | None = None,
    ignored_seed: int | None = None,
    select: str | None = None,
    workers: int = 1,
    endpoint_url: str | None = None,
) -> list[str]:
    args = [
        str(SUITES_DIR),
        "-p",
        "conformance.pytest_plugin",
        "-p",
        "no:cacheprovider",
        "-q",
        "--no-header",
        f"--junitxml={report_dir / 'junit.xml'}",
        f"--iamconf-report-dir={report_dir}",
    ]
    args += [f"--iamconf-target={t}" for t in targets]
    args += [f"--iamconf-explicit={t}" for t in explicit]
    if seed is not None:
        args.append(f"--iamconf-seed={seed}")
    if recordings:
        args.append(f"--iamconf-recordings={recordings}")
    if corpus_dir is not None:
        args.append(f"--iamconf-corpus-dir={corpus_dir}")
    if ignored_seed is not None:
        args.append(f"--iamconf-ignored-seed={ignored_seed}")
    if select:
        args += ["-k", select]
    if endpoint_url:
        args.append(f"--iamconf-aws-endpoint={endpoint_url}")
    if workers > 1:
        args += ["-p", "xdist", "-n", str(workers)]
    return args


def gather_worker_events(report_dir: Path) -> None:
    """Append each pytest-xdist worker's ``events-<worker>.ndjson`` to the run's ``events.ndjson``."""
    with (report_dir / "events.ndjson").open("a", encoding="utf-8") as merged:
        for part in sorted(report_dir.glob("events-*.ndjson")):
            merged.write(part.read_text(encoding="utf-8"))
            part.unlink()


def print_summary(summary: RunSummary, out: TextIO) -> None:
    console = Console(file=out, highlight=False, width=120)
    table = Table(title="iamconf run: requests checked per target")
    columns = ("target", "agree", "known divergence", "unexpected divergence", "target failure", "unsupported")
    for column in (*columns, "compared"):
        table.add_column(column, justify="right" if column != "target" else "left")
    for target, counts in sorted(summary.counts.items()):
        share = summary.compared_share(target)
        shown = "-" if share is None else f"{share:.1%}"
        table.add_row(
            target,
            *(str(counts.get(s, 0)) for s in columns[1:]),
            shown if share is None or share >= MIN_COMPARED_SHARE else f"[bold red]{shown}[/]",
        )
    console.print(table)
    targets = sorted(summary.counts)
    if summary.matrix:
        grid = Table(title="requests by deciding feature family\n(agree / known / unexpected)")
        grid.add_column("feature")
        for target in targets:
            grid.add_column(target, justify="right")
        for feature in (*FEATURES, WHOLE_CASE):
            cells = []
            for target in targets:
                c = summary.matrix.get((feature, target))
                if not c:
                    cells.append("-")
                    continue
                failed = c["unexpected divergence"] + c["target failure"]
                cell = f"{c['agree']} / {c['known divergence']} / {failed}"
                cells.append(f"[bold red]{cell}[/]" if failed else cell)
            if any(cell != "-" for cell in cells):
                grid.add_row(feature, *cells)
        console.print(grid)
    for target in summary.started:
        if not summary.counts.get(target):
            console.print(f"{target}: started but checked nothing (see the skip reasons above)")
    for target, reason in sorted(summary.skipped.items()):
        console.print(f"skipped {target}: {reason} (not counted as conforming)")
    for d in summary.divergences:
        # Plain lines, never wrapped: the command is meant to be pasted.
        seed = "none (derandomized profile)" if d.seed is None else f"{d.seed} (--seed {d.seed} replays the suite)"
        console.print(
            f"DIVERGENCE {d.description}\n  minimal case: {d.corpus}\n  reproduce: {d.replay}\n  seed: {seed}",
            soft_wrap=True,
        )
    if summary.header is not None:
        console.print(seed_line(summary.header), soft_wrap=True)


def seed_line(header: RunStarted) -> str:
    """The seed Hypothesis really used, or why there is none."""
    if header.derandomized:
        ignored = f"; --seed {header.ignored_seed} changed nothing" if header.ignored_seed is not None else ""
        return (
            f"seed: none: profile {header.profile!r} is derandomized (every run draws the same examples, "
            f"each test's from the test itself{ignored})"
        )
    if header.seed is None:
        return (
            f"seed: a fresh one for each suite (profile {header.profile!r}; each divergence and suite-health event "
            "names its suite's seed: --seed that value replays the suite)"
        )
    return (
        f"seed: {header.seed}, every suite (profile {header.profile!r}; rerun with --profile {header.profile} "
        f"--seed {header.seed}; with a fixed seed Hypothesis keeps no example database)"
    )


def run_main(
    targets: Sequence[str],
    explicit: Sequence[str],
    *,
    profile: str | None,
    seed: int | None,
    max_examples: int | None,
    report_dir: Path,
    recordings: str | None,
    out: TextIO,
    corpus_dir: Path | None = None,
    select: str | None = None,
    workers: int = 1,
    max_calls: int | None = None,
    endpoint_url: str | None = None,
) -> int:
    if profile is not None:
        os.environ["HYPOTHESIS_PROFILE"] = profile
    if max_examples is not None:
        os.environ["IAMCONF_SUITE_EXAMPLES"] = str(max_examples)
    if max_calls is not None:  # the aws-simulator target's budget, shared out among the workers
        os.environ["IAMCONF_AWS_MAX_CALLS"] = str(max(1, max_calls // max(1, workers)))
    report_dir.mkdir(parents=True, exist_ok=True)
    register_profiles()
    chosen = os.environ.get("HYPOTHESIS_PROFILE") or DEFAULT_PROFILE
    ignored_seed = None
    if settings.get_profile(chosen).derandomize:
        seed, ignored_seed = None, seed  # Hypothesis would ignore it: say so rather than print it as the seed
    shown_seed: object = seed
    if seed is None:
        derandomized = settings.get_profile(chosen).derandomize
        shown_seed = f"none ({chosen} profile is derandomized)" if derandomized else "random (in the events)"
    print(f"iamconf run: {versions_line(shown_seed, target_versions(targets, endpoint_url))}", file=out, flush=True)
    # The example database (when the profile keeps one) lives in the report directory, not the working one.
    own_home = not os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY")
    if own_home:
        set_hypothesis_home_dir(report_dir.resolve() / ".hypothesis")
    try:
        args = pytest_arguments(
            targets,
            explicit,
            report_dir,
            seed,
            recordings,
            corpus_dir=corpus_dir,
            ignored_seed=ignored_seed,
            select=select,
            workers=workers,
            endpoint_url=endpoint_url,
        )
        with interruptible():
            code = pytest.main(args)
    finally:
        if own_home:
            set_hypothesis_home_dir(None)
    if workers > 1:
        gather_worker_events(report_dir)
    with progress(None, "summarising the run and writing the conformance matrix"):
        summary = RunSummary.read(report_dir / EVENTS_FILE)
        reports = write_matrix_reports(report_dir)
    print_summary(summary, out)
    written = [report_dir / EVENTS_FILE, report_dir / "junit.xml", *reports]
    print(f"report: {', '.join(str(p) for p in written)}", file=out)
    not_started = [t for t in explicit if t in summary.skipped]
    if not_started:
        print(f"iamconf run: error: requested target(s) could not start: {', '.join(not_started)}", file=out)
        return 2
    if not summary.started:
        print("iamconf run: error: no target could run", file=out)
        return 2
    if not any(summary.compared(t) for t in summary.counts):
        print("iamconf run: error: no target compared anything (nothing was checked)", file=out)
        return 2
    failed_targets = sorted(t for t, c in summary.counts.items() if c["target failure"])
    if failed_targets:
        # A target that was asked and failed (a crash, a hang, errors past the retries) concluded nothing:
        # a target error, never agreement and not a divergence found (exit 2, as a target that cannot start).
        print(f"iamconf run: error: target failure(s) in {', '.join(failed_targets)}", file=out)
        return 2
    if code == pytest.ExitCode.OK:
        return 0
    if code == pytest.ExitCode.TESTS_FAILED:
        return 1
    return 2
