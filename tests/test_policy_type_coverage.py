"""Coverage of the policy types (issue 7, item 6): in the ``ci`` profile the policy-type suites compare
at least 200 requests each with a boundary, with SCP levels, with a same-account and with a
cross-account resource policy, for every target that supports them (aws-simulator through
``iamconf serve``, iam-simulate), counted from the run's own events."""

from __future__ import annotations

import collections
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conformance.serve import running_server

ROOT = Path(__file__).resolve().parent.parent
MINIMUM = 200
POLICY_TYPES = ("policy:boundary", "policy:scp", "policy:same-account", "policy:cross-account")
COMPARED = ("agree", "known divergence", "unexpected divergence")


def compared_per_policy_type(events: Path) -> collections.Counter[tuple[str, str]]:
    """(target, policy-type feature) -> requests compared (agreed or diverged, not unsupported)."""
    out: collections.Counter[tuple[str, str]] = collections.Counter()
    for line in events.read_text(encoding="utf-8").splitlines():
        e = json.loads(line)
        if e.get("event") == "check" and e["status"] in COMPARED:
            for feature in e.get("features") or ():
                if feature in POLICY_TYPES:
                    out[(e["target"], feature)] += 1
    return out


def _targets() -> list[str]:
    targets = ["aws-simulator"]
    from conformance.targets.iam_simulate import PACKAGE_DIR  # IAMCONF_NPM_PREFIX, as the target reads it

    if shutil.which("node") and (PACKAGE_DIR / "node_modules" / "@cloud-copilot").is_dir():
        targets.append("iam-simulate")
    elif os.environ.get("IAMCONF_REQUIRE_NODE"):
        pytest.fail("iam-simulate is required here (IAMCONF_REQUIRE_NODE) but is not installed")
    return targets


def _run_policy_type_suites(tmp: Path, targets: list[str], examples: int | None) -> Path:
    env = dict(os.environ, HYPOTHESIS_PROFILE="ci")
    env.pop("IAMCONF_SUITE_EXAMPLES", None)
    if examples is not None:
        env["IAMCONF_SUITE_EXAMPLES"] = str(examples)
    with running_server() as url:
        args = [
            sys.executable,
            "-m",
            "pytest",
            str(ROOT / "conformance" / "suites" / "test_features.py"),
            "-k",
            "test_policy_types",
            "-p",
            "conformance.pytest_plugin",
            "-p",
            "mutants.plugin",  # no shrinking: a divergence is reported by the suites' own runs
            "-p",
            "no:cacheprovider",
            "-q",
            f"--iamconf-report-dir={tmp}",
            f"--iamconf-corpus-dir={tmp / 'corpus'}",
            f"--iamconf-aws-endpoint={url}",
            "--iamconf-explicit=aws-simulator",
            *(f"--iamconf-target={t}" for t in targets),
        ]
        subprocess.run(args, cwd=ROOT, env=env, capture_output=True, timeout=900, check=False)
    return tmp / "events.ndjson"


def test_each_policy_type_gets_200_compared_requests_in_the_ci_profile(tmp_path: Path) -> None:
    targets = _targets()
    counts = compared_per_policy_type(_run_policy_type_suites(tmp_path, targets, None))
    short = {(t, f): counts[(t, f)] for t in targets for f in POLICY_TYPES if counts[(t, f)] < MINIMUM}
    assert not short, f"fewer than {MINIMUM} compared requests: {short} (all: {dict(counts)})"


def test_the_count_falls_short_with_too_few_examples(tmp_path: Path) -> None:
    """The check above can fail: with 10 examples a suite the counts are below the minimum."""
    counts = compared_per_policy_type(_run_policy_type_suites(tmp_path, ["aws-simulator"], 10))
    assert counts[("aws-simulator", "policy:boundary")] > 0
    assert all(counts[("aws-simulator", f)] < MINIMUM for f in POLICY_TYPES), dict(counts)
