"""Test-wide settings: the Hypothesis profile (dev, ci, nightly) comes from HYPOTHESIS_PROFILE."""

from strategies.profiles import load_profile

load_profile()
