"""The differential harness and the ``iamconf`` command line."""

from __future__ import annotations

import functools


@functools.cache
def _version() -> str:
    # importlib.metadata is imported when the version is asked for: it is slow to import, and most
    # `iamconf` commands never print it.
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("iam-conformance")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "0+unknown"


def __getattr__(name: str) -> str:
    if name == "__version__":
        return _version()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
