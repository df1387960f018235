"""Test-wide settings: the Hypothesis profile comes from HYPOTHESIS_PROFILE."""

from __future__ import annotations

from hypothesis import settings

settings.register_profile("dev", max_examples=100)
settings.register_profile("ci", max_examples=100, derandomize=True, database=None, deadline=None)
settings.register_profile("nightly", max_examples=5000, deadline=None)

import os  # noqa: E402

settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
