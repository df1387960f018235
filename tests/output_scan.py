"""A pytest plugin (loaded by conftest.py): at the end of the session, every file the tests wrote
under pytest's temporary folder (reports, recordings, events, corpora of every test, pytest-xdist
workers' included) is scanned for AWS access keys, secret keys and session tokens, and recordings
also for account ids that are not masked (``conformance.secret_scan``).  A finding fails the run.

A test that plants a fake secret on purpose (to show the scan fails) writes it under a folder named
``planted-secrets``; those are left out, and so are installed packages (``site-packages``,
``node_modules``) of the environments tests build.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.secret_scan import files_under, scan_text

PLANTED = "planted-secrets"
# Installed third-party files (a test's fresh virtual environment, an npm prefix): botocore ships
# AWS's documentation example keys, which are not outputs of the run.
NOT_OUTPUTS = frozenset({PLANTED, "site-packages", "node_modules"})
RECORDING_FORMAT = '"format": "iamconf-recording/1"'


def scan_session_outputs(base: Path) -> list[str]:
    out = []
    for f in files_under([base]):
        if NOT_OUTPUTS.intersection(f.relative_to(base).parts):
            continue
        text = f.read_text(encoding="utf-8", errors="replace")
        out += [finding.one_line() for finding in scan_text(text, f, accounts=RECORDING_FORMAT in text)]
    return out


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if hasattr(session.config, "workerinput"):
        return  # the pytest-xdist controller scans the workers' folders, which sit under its own
    factory = getattr(session.config, "_tmp_path_factory", None)
    if factory is None:
        return
    try:
        base = factory.getbasetemp()
    except OSError:
        return
    findings = scan_session_outputs(base)
    if findings:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        lines = ["secret scan of the test run's outputs FAILED:", *findings[:50]]
        if reporter is not None:
            reporter.write_line("\n".join(lines), red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
