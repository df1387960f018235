"""The mutation-score machinery (``mutants/``): every mutant still applies to the reference, is live
behind ``iamconf serve`` (the aws-simulator target sees a wrong answer where the control agrees), and
the survivor classification tells a revealing request from none.  The full run is ``tox -e mutants``."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest

from conformance.harness import Status, check_cases
from conformance.targets.aws_simulator import AwsSimulatorTarget
from mutants.inject import MutantError, install, mutated_source
from mutants.run import ROOT, classify, served
from mutants.table import BY_NAME, CONTROL, MUTANTS, Mutant
from reference.model import Case, Policy, Request
from tests.support import allow, deny, doc

BUG_CLASSES = {
    "case handling of actions",
    "case handling of resources",
    "wildcard rules",
    "NotAction",
    "NotResource",
    "deny precedence",
    "String operators",
    "Numeric operators",
    "Date operators",
    "Bool operator",
    "Binary operator",
    "IP address operators",
    "ARN operators",
    "Null operator",
    "IfExists",
    "set operators",
    "policy variables",
    "permissions boundaries",
    "SCP levels",
    "resource-based policies",
    "resource-based policies across accounts",
}


def _source(module: str) -> str:
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin is not None
    return Path(spec.origin).read_text(encoding="utf-8")


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.name for m in MUTANTS])
def test_every_edit_still_applies_once_and_compiles(mutant: Mutant) -> None:
    source = _source(mutant.module)
    changed = mutated_source(source, mutant)
    assert changed != source
    compile(changed, mutant.module, "exec")


def test_at_least_twenty_expressible_mutants_cover_every_bug_class() -> None:
    assert sum(m.expressible for m in MUTANTS) >= 20
    assert len(BY_NAME) == len(MUTANTS)
    assert {m.bug_class for m in MUTANTS} >= BUG_CLASSES


def test_an_edit_that_no_longer_applies_is_refused() -> None:
    stale = Mutant("stale", "x", "x", "reference.evaluator", (("text that is not there", "y"),))
    with pytest.raises(MutantError, match="occurs 0 times"):
        mutated_source(_source("reference.evaluator"), stale)


def test_a_mutant_installed_after_its_module_was_imported_is_refused() -> None:
    import reference.evaluator  # noqa: F401 - imported on purpose: too late for a mutant

    with pytest.raises(MutantError, match="imported before"):
        install("boundary-ignored")
    assert install(CONTROL) is None


# A boundary that allows nothing, an identity policy that allows everything: the reference says
# implicitDeny; a reference that ignores the boundary says allowed.
BOUNDARY_CASE = Case(
    identity_policies=[Policy.of("id", json.dumps(doc(allow())))],
    permissions_boundary=Policy.of("pb", json.dumps(doc(allow("s3:GetObject")))),
    requests=[Request("ec2:RunInstances", "*"), Request("s3:GetObject", "arn:aws:s3:::b/k")],
)


def _outcomes(name: str, tmp_path: Path) -> list[Status]:
    with served(name, tmp_path / f"{name}.log") as url:
        target = AwsSimulatorTarget(explicitly_requested=True, endpoint_url=url)
        target.start()
        try:
            return [o.status for o in check_cases(target, [BOUNDARY_CASE])]
        finally:
            target.stop()


def test_a_mutant_behind_serve_is_caught_and_the_control_is_not(tmp_path: Path) -> None:
    """The failing-on-a-wrong-target proof in small: through the aws-simulator target's code, the
    served mutant gives an unexpected divergence where the unmutated reference agrees."""
    assert _outcomes(CONTROL, tmp_path) == [Status.AGREE, Status.AGREE]
    assert _outcomes("boundary-ignored", tmp_path) == [Status.UNEXPECTED, Status.AGREE]


def test_classify_tells_a_revealing_request_from_none(tmp_path: Path) -> None:
    mutant = BY_NAME["boundary-ignored"]
    (tmp_path / mutant.name).mkdir()
    cases_file = tmp_path / mutant.name / "cases.ndjson"
    cases_file.write_bytes(msgspec.json.encode(BOUNDARY_CASE) + b"\n")
    assert classify(mutant, tmp_path).startswith("a suite did not check it")
    harmless = Case(
        identity_policies=[Policy.of("id", json.dumps(doc(deny("s3:*"))))], requests=[Request("s3:GetObject")]
    )
    cases_file.write_bytes(msgspec.json.encode(harmless) + b"\n")
    assert classify(mutant, tmp_path).startswith("generator never produced a revealing request")


def test_the_runner_refuses_an_unknown_mutant() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "mutants.run", "--only", "no-such-mutant"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "unknown mutant" in proc.stderr
