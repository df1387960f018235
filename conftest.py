"""Test-wide settings: the Hypothesis profile (dev, ci, nightly) comes from HYPOTHESIS_PROFILE, and the
conformance harness's pytest plugin (targets as fixtures, events, corpus) is loaded."""

from strategies.profiles import load_profile

# tests.output_scan: every report and recording the run wrote is scanned for credentials at the end.
pytest_plugins = ("conformance.pytest_plugin", "tests.output_scan")

load_profile()
