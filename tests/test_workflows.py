"""The GitHub Actions workflows (issue 9, item 3): valid against GitHub's workflow schema (the
linter ``tox -e lint`` runs, check-jsonschema's vendored schema) and doing what the issue asks:
ci runs tox on pull requests and pushes and uploads JUnit, the report directory and the matrix;
nightly runs on a schedule and on demand, assumes a role through OIDC (no stored keys), runs
``tox -e aws`` with the nightly profile and a printed seed, one shard per job with its own seed and
call budget, uploads reports, recordings and the Hypothesis database, merges the shards with
``iamconf merge`` and opens a pull request with the recordings.  Each check is shown failing on a
workflow that misses what it checks."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

WORKFLOWS = Path(__file__).resolve().parent.parent / ".github" / "workflows"


def load(name: str) -> dict[str, Any]:
    data = yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))
    if True in data:  # YAML 1.1 reads the key `on` as true
        data["on"] = data.pop(True)
    return dict(data)


def schema_errors(path: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return "" if done.returncode == 0 else done.stdout + done.stderr


def _steps(workflow: dict[str, Any], job: str | None = None) -> list[dict[str, Any]]:
    jobs = workflow["jobs"] if job is None else {job: workflow["jobs"].get(job, {})}
    return [s for j in jobs.values() for s in j.get("steps", [])]


def _uses(steps: list[dict[str, Any]], action: str) -> list[dict[str, Any]]:
    return [s for s in steps if str(s.get("uses", "")).split("@")[0] == action]


def _uploaded(steps: list[dict[str, Any]]) -> str:
    return "\n".join(str(s.get("with", {}).get("path", "")) for s in _uses(steps, "actions/upload-artifact"))


def ci_problems(wf: dict[str, Any]) -> list[str]:
    out = []
    if not {"pull_request", "push"} <= set(wf.get("on") or {}):
        out.append("ci must run on pull_request and push")
    runs = "\n".join(str(s.get("run", "")) for s in _steps(wf))
    if ".ci/run" not in runs and "tox" not in runs:
        out.append("ci must run tox")
    uploaded = _uploaded(_steps(wf))
    for what in ("junit.xml", "iamconf-report/", "matrix"):
        if what not in uploaded:
            out.append(f"ci must upload {what}")
    return out


def nightly_problems(wf: dict[str, Any]) -> list[str]:
    out = []
    on = wf.get("on") or {}
    if "schedule" not in on or "workflow_dispatch" not in on:
        out.append("nightly must run on a schedule and on demand")
    if wf.get("permissions") != {"contents": "read"}:
        out.append("nightly's default token permissions must be contents: read")
    shard = wf["jobs"].get("shard", {})
    if shard.get("permissions", {}).get("id-token") != "write":
        out.append("the shard job needs id-token: write to assume the role through OIDC")
    creds = _uses(_steps(wf, "shard"), "aws-actions/configure-aws-credentials")
    if not creds or "role-to-assume" not in creds[0].get("with", {}):
        out.append("the shard job must assume a role with aws-actions/configure-aws-credentials")
    if any(k in c.get("with", {}) for c in creds for k in ("aws-access-key-id", "aws-secret-access-key")):
        out.append("no stored access keys: OIDC only")
    tox = [s for s in _steps(wf, "shard") if "tox -e aws" in str(s.get("run", ""))]
    if not tox:
        out.append("the shard job must run tox -e aws")
    else:
        env, run = tox[0].get("env", {}), str(tox[0]["run"])
        if env.get("HYPOTHESIS_PROFILE") != "nightly":
            out.append("tox -e aws must run with the nightly Hypothesis profile")
        if "IAMCONF_SEED" not in run or "echo" not in run or "matrix.index" not in run:
            out.append("each shard must print its own seed (the base seed plus its index)")
        if "matrix.calls" not in str(env.get("IAMCONF_MAX_CALLS", "")):
            out.append("each shard must have its own call budget")
        if str(env.get("IAMCONF_WORKERS", "1")) in ("", "1"):
            out.append("each shard must run pytest-xdist workers")
    include = shard.get("strategy", {}).get("matrix", {}).get("include", [])
    if len(include) < 2 or len({i.get("index") for i in include}) != len(include):
        out.append("the shards must be a job matrix, each with its own index")
    if any(not i.get("features") or not i.get("calls") for i in include):
        out.append("each shard must name its feature families and its call budget")
    uploaded = _uploaded(_steps(wf, "shard"))
    for what in ("iamconf-report", "conformance/recordings", ".hypothesis"):
        if what not in uploaded:
            out.append(f"the shard job must upload {what}")
    merge = wf["jobs"].get("merge", {})
    if "shard" not in (merge.get("needs") or []):
        out.append("the merge job must come after the shards")
    if not any("iamconf merge" in str(s.get("run", "")) for s in _steps(wf, "merge")):
        out.append("the merge job must run iamconf merge")
    if merge and not _uses(_steps(wf, "merge"), "peter-evans/create-pull-request"):
        out.append("the merge job must open a pull request with the recordings")
    return out


@pytest.mark.parametrize("name", ["ci.yml", "nightly.yml"])
def test_workflows_pass_the_workflow_schema(name: str) -> None:
    assert schema_errors(WORKFLOWS / name) == ""


@pytest.mark.parametrize(
    "broken",
    [
        "on: [push]\njobs:\n  x:\n    steps:\n      - run: tox\n",  # no runs-on
        "on: [push]\njobs:\n  x:\n    runs-on: ubuntu-24.04\n    steps:\n      run: tox\n",  # steps not a list
        "on: [pusj]\njobs:\n  x:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: tox\n",  # unknown event
        "jobs:\n  x:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: tox\n",  # no trigger
    ],
)
def test_the_schema_check_fails_on_a_broken_workflow(broken: str, tmp_path: Path) -> None:
    path = tmp_path / "broken.yml"
    path.write_text(broken)
    assert schema_errors(path) != ""


def test_ci_runs_tox_and_uploads_junit_reports_and_matrix() -> None:
    assert ci_problems(load("ci.yml")) == []


def test_nightly_does_what_the_issue_asks() -> None:
    assert nightly_problems(load("nightly.yml")) == []


def _without_upload_of(wf: dict[str, Any], what: str) -> dict[str, Any]:
    for s in _steps(wf):
        if str(s.get("uses", "")).startswith("actions/upload-artifact"):
            s["with"]["path"] = "\n".join(p for p in str(s["with"]["path"]).splitlines() if what not in p)
    return wf


def test_the_ci_check_fails_on_a_ci_that_misses_something() -> None:
    wf = load("ci.yml")
    del wf["on"]["pull_request"]
    assert ci_problems(wf) == ["ci must run on pull_request and push"]
    assert ci_problems(_without_upload_of(load("ci.yml"), "junit")) == ["ci must upload junit.xml"]


@pytest.mark.parametrize(
    ("mutate", "problem"),
    [
        (lambda wf: wf["on"].pop("schedule"), "schedule"),
        (lambda wf: wf["jobs"]["shard"]["permissions"].pop("id-token"), "id-token"),
        (lambda wf: wf.__setitem__("permissions", {"contents": "write"}), "contents: read"),
        (
            lambda wf: _uses(_steps(wf, "shard"), "aws-actions/configure-aws-credentials")[0]["with"].update(
                {"aws-access-key-id": "${{ secrets.KEY }}"}
            ),
            "no stored access keys",
        ),
        (lambda wf: _steps(wf, "shard")[-3]["env"].pop("HYPOTHESIS_PROFILE"), "nightly Hypothesis profile"),
        (lambda wf: _steps(wf, "shard")[-3]["env"].__setitem__("IAMCONF_MAX_CALLS", "500"), "call budget"),
        (lambda wf: wf["jobs"]["shard"]["strategy"]["matrix"]["include"][1].update({"index": 0}), "own index"),
        (lambda wf: _without_upload_of(wf, ".hypothesis"), ".hypothesis"),
        (lambda wf: wf["jobs"].pop("merge"), "iamconf merge"),
    ],
)
def test_the_nightly_check_fails_on_a_nightly_that_misses_something(mutate: Any, problem: str) -> None:
    wf = copy.deepcopy(load("nightly.yml"))
    mutate(wf)
    problems = nightly_problems(wf)
    assert any(problem in p for p in problems), problems
