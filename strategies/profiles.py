"""Hypothesis settings profiles for the suite: ``dev``, ``ci`` and ``nightly``.

Chosen by the ``HYPOTHESIS_PROFILE`` environment variable (default ``dev``);
``tox`` sets ``ci``.  Load them once, from ``tests/conftest.py``::

    from strategies.profiles import load_profile

    load_profile()

- ``dev``: quick local runs (50 examples a property), the example database kept
  so that a failure found once is replayed first next time.
- ``ci``: derandomized (the same examples on every run, so a red build is
  reproducible), no database, 100 examples a property, no deadline (CI machines
  are noisy).  Budget: generating a whole case through Hypothesis takes a few
  milliseconds and evaluating it well under one, so 100 examples cost well
  under a second a property and a full run stays far inside 5 minutes on 2 cores.
- ``nightly``: 2,000 examples a property, database kept (it accumulates the
  failing and interesting examples of every night), no deadline.

Shrinking a divergence asks the target again for every candidate, and
Hypothesis's own bound is 300 s a test: the conformance harness stops asking
once :data:`SHRINK_SECONDS` of the profile have passed since a suite's first
failure (``conformance/pytest_plugin.py``), so a failing suite still ends
within the profile's budget; the case reported is the smallest found by then.

Where the example database lives: the profile says (``ci``: none); otherwise
``iamconf run`` keeps ``.hypothesis/`` in its report directory.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

PROFILES: tuple[str, ...] = ("dev", "ci", "nightly")
DEFAULT_PROFILE = "dev"
CI_MAX_EXAMPLES = 100
# Seconds of shrinking a suite may spend on a divergence (from its first failure), per profile.
SHRINK_SECONDS: dict[str, float] = {"dev": 30.0, "ci": 10.0, "nightly": 120.0}


def register_profiles() -> None:
    """Register the three profiles (registering again replaces them with the same values)."""
    base = settings.get_profile("default")  # not whatever profile happens to be loaded
    settings.register_profile("dev", base, max_examples=50, deadline=None, print_blob=True)
    settings.register_profile(
        "ci",
        base,
        max_examples=CI_MAX_EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow],
    )
    settings.register_profile(
        "nightly",
        base,
        max_examples=2000,
        deadline=None,
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow],
    )


def load_profile(name: str | None = None) -> str:
    """Register the profiles and load ``name`` (default: ``$HYPOTHESIS_PROFILE``, else ``dev``).

    Returns the name loaded; an unknown name is a ValueError naming the known ones.
    """
    register_profiles()
    chosen = name if name is not None else os.environ.get("HYPOTHESIS_PROFILE", "") or DEFAULT_PROFILE
    if chosen not in PROFILES:
        raise ValueError(f"unknown Hypothesis profile {chosen!r}; known: {', '.join(PROFILES)}")
    settings.load_profile(chosen)
    return chosen
