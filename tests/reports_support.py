"""Shared by the report tests: the example reports, generated once per test process."""

from __future__ import annotations

import functools

from reports.examples import generate


@functools.cache
def examples() -> dict[str, str]:
    return generate()
