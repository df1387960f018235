"""Figures the tests report at the end of the run (also under xdist: they travel in the reports'
``user_properties``): the share of the wrong targets' answers excused as known divergences."""

from __future__ import annotations

import pytest

_FIGURES: list[str] = []
FIGURE = "iamconf-figure"


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call":
        _FIGURES.extend(str(value) for name, value in report.user_properties if name == FIGURE)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _FIGURES:
        terminalreporter.section("iamconf figures")
        for line in sorted(_FIGURES):
            terminalreporter.write_line(line)
