"""Figures the tests report at the end of the run (also under xdist: they travel in the reports'
``user_properties``): the share of the wrong targets' answers excused as known divergences."""

from __future__ import annotations

import os
import tempfile

import pytest

_FIGURES: list[str] = []
FIGURE = "iamconf-figure"


def pytest_configure(config: pytest.Config) -> None:
    """Suites that these tests make fail on purpose (wrong targets, mutants) save their minimal cases:
    into a scratch folder, never the checkout's corpus, which ``tox`` replays (inherited by subprocesses)."""
    if not os.environ.get("IAMCONF_CORPUS_DIR"):
        os.environ["IAMCONF_CORPUS_DIR"] = tempfile.mkdtemp(prefix="iamconf-test-corpus-")


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call":
        _FIGURES.extend(str(value) for name, value in report.user_properties if name == FIGURE)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _FIGURES:
        terminalreporter.section("iamconf figures")
        for line in sorted(_FIGURES):
            terminalreporter.write_line(line)
