"""``iamconf run``: the conformance suites against the chosen targets, with a report.

Runs ``conformance/suites`` under pytest (its progress is the run's progress)
with the harness plugin, writes ``events.ndjson`` and ``junit.xml`` under the
report directory, then prints a summary: per target what was checked and how
it ended, every skipped target with its reason, and one line per divergence
with the command that reproduces it.

Exit codes: 0 no unexpected divergence; 1 at least one; 2 a usage or
configuration error, a target the user named that could not start, or no
target that could run at all.
"""

from __future__ import annotations

import collections
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import pytest
from rich.console import Console
from rich.table import Table

from conformance.features import FEATURES

SUITES_DIR = Path(__file__).parent / "suites"


@dataclass
class RunSummary:
    counts: dict[str, collections.Counter[str]] = field(default_factory=dict)
    # (feature, target) -> statuses of the requests whose case exercised the feature
    matrix: dict[tuple[str, str], collections.Counter[str]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    started: list[str] = field(default_factory=list)
    divergences: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def read(cls, path: Path) -> RunSummary:
        summary = cls()
        if not path.is_file():
            return summary
        for line in path.read_text(encoding="utf-8").splitlines():
            e = json.loads(line)
            kind = e.get("event")
            if kind == "check":
                summary.counts.setdefault(e["target"], collections.Counter())[e["status"]] += 1
                for feature in e.get("features") or ():
                    summary.matrix.setdefault((feature, e["target"]), collections.Counter())[e["status"]] += 1
            elif kind == "target-skipped":
                summary.skipped[e["target"]] = e["reason"]
            elif kind == "target-started":
                summary.started.append(e["target"])
            elif kind == "divergence":
                summary.divergences.append(e)
        return summary


def pytest_arguments(
    targets: Sequence[str],
    explicit: Sequence[str],
    report_dir: Path,
    seed: int | None,
    recordings: str | None,
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
        args.append(f"--hypothesis-seed={seed}")
    if recordings:
        args.append(f"--iamconf-recordings={recordings}")
    if endpoint_url:
        args.append(f"--iamconf-aws-endpoint={endpoint_url}")
    return args


def print_summary(summary: RunSummary, out: TextIO) -> None:
    console = Console(file=out, highlight=False, width=120)
    table = Table(title="iamconf run: requests checked per target")
    for column in ("target", "agree", "known divergence", "unexpected divergence", "target failure", "unsupported"):
        table.add_column(column, justify="right" if column != "target" else "left")
    for target, counts in sorted(summary.counts.items()):
        table.add_row(
            target,
            *(str(counts.get(s, 0)) for s in ("agree", "known divergence", "unexpected divergence", "target failure")),
            str(counts.get("unsupported", 0)),
        )
    console.print(table)
    targets = sorted(summary.counts)
    if summary.matrix:
        grid = Table(title="conformance matrix: requests by feature family (agree / known / unexpected)")
        grid.add_column("feature")
        for target in targets:
            grid.add_column(target, justify="right")
        for feature in FEATURES:
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
        console.print(f"DIVERGENCE {d['description']}\n  reproduce: {d['replay']}\n  seed: {d['seed']}")


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
    endpoint_url: str | None = None,
) -> int:
    if profile is not None:
        os.environ["HYPOTHESIS_PROFILE"] = profile
    if max_examples is not None:
        os.environ["IAMCONF_SUITE_EXAMPLES"] = str(max_examples)
    report_dir.mkdir(parents=True, exist_ok=True)
    code = pytest.main(pytest_arguments(targets, explicit, report_dir, seed, recordings, endpoint_url))
    summary = RunSummary.read(report_dir / "events.ndjson")
    print_summary(summary, out)
    print(f"report: {report_dir / 'events.ndjson'}, {report_dir / 'junit.xml'}", file=out)
    not_started = [t for t in explicit if t in summary.skipped]
    if not_started:
        print(f"iamconf run: error: requested target(s) could not start: {', '.join(not_started)}", file=out)
        return 2
    if not summary.started:
        print("iamconf run: error: no target could run", file=out)
        return 2
    if code == pytest.ExitCode.OK:
        return 0
    if code == pytest.ExitCode.TESTS_FAILED:
        return 1
    return 2
