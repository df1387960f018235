"""Test-wide settings: the Hypothesis profile (dev, ci, nightly) comes from HYPOTHESIS_PROFILE, and the
conformance harness's pytest plugin (targets as fixtures, events, corpus) is loaded."""

from strategies.profiles import load_profile

pytest_plugins = ("conformance.pytest_plugin",)

load_profile()
