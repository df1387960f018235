"""The pytest side of the harness: targets as fixtures, events, corpus, reproduction.

Loaded by the project's ``conftest.py`` (``tox``) and by ``iamconf run``
(``-p conformance.pytest_plugin``).  The suites in ``conformance/suites/``
ask for the ``conformance_target`` fixture and call :func:`check_case`.

- Each selected target is started once per session and stopped at the end; a
  target that cannot run is skipped with its reason (never passed).
- A suite for a feature family the target does not claim is skipped.
- Every compared request becomes an ``check`` event (NDJSON, when a report
  directory is given); a divergence Hypothesis has shrunk becomes a
  ``divergence`` event with the minimal case, expected and observed, the seed,
  a ready-to-paste ``@example`` and an ``iamconf replay`` command, and the case
  is saved to the corpus.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import msgspec
import pytest
from hypothesis import event

from conformance import corpus
from conformance.features import features_of
from conformance.harness import Outcome, check_cases
from conformance.registry import DEFAULT_TARGETS, TargetOptions, make_target
from conformance.targets.base import Target, TargetUnavailable
from reference.compiled import PolicyCache
from reference.model import Case
from strategies.profiles import load_profile


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("iamconf", "IAM conformance harness")
    group.addoption("--iamconf-target", action="append", default=[], help="target to check (repeatable)")
    group.addoption("--iamconf-explicit", action="append", default=[], help="targets the user asked for by name")
    group.addoption("--iamconf-report-dir", default=None, help="write events.ndjson here")
    group.addoption("--iamconf-corpus-dir", default=None, help="save minimal divergent cases here")
    group.addoption("--iamconf-recordings", default=None, help="recordings directory (aws-simulator, replay)")
    group.addoption("--iamconf-aws-endpoint", default=None, help="endpoint URL for the aws-simulator target")


@dataclass
class Divergence:
    nodeid: str
    target: str
    case: Case
    outcomes: list[Outcome]


@dataclass
class HarnessState:
    names: list[str]
    options: TargetOptions
    corpus_dir: Path
    events: IO[str] | None
    seed: object
    started: dict[str, Target] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)
    last_divergence: dict[str, Divergence] = field(default_factory=dict)
    cache: PolicyCache = field(default_factory=PolicyCache)

    def emit(self, kind: str, **data: Any) -> None:
        if self.events is not None:
            self.events.write(json.dumps({"event": kind, **data}, default=str) + "\n")

    def target(self, name: str) -> Target:
        if name in self.unavailable:
            pytest.skip(f"{name}: {self.unavailable[name]}")
        if name not in self.started:
            t = make_target(name, self.options)
            try:
                t.start()
            except TargetUnavailable as e:
                self.unavailable[name] = e.reason
                self.emit("target-skipped", target=name, reason=e.reason)
                pytest.skip(f"{name}: {e.reason}")
            self.started[name] = t
            self.emit("target-started", target=name, checks=sorted(t.capabilities.checks))
        return self.started[name]


_STATE = pytest.StashKey[HarnessState]()


def pytest_configure(config: pytest.Config) -> None:
    load_profile()  # HYPOTHESIS_PROFILE (also when run from an installed copy, without the project's conftest)
    names = config.getoption("iamconf_target") or list(DEFAULT_TARGETS)
    report_dir = config.getoption("iamconf_report_dir")
    events: IO[str] | None = None
    if report_dir:
        Path(report_dir).mkdir(parents=True, exist_ok=True)
        events = (Path(report_dir) / "events.ndjson").open("w", encoding="utf-8")
    corpus_dir = config.getoption("iamconf_corpus_dir")
    state = HarnessState(
        names=names,
        options=TargetOptions(
            explicitly_requested=tuple(config.getoption("iamconf_explicit")),
            recordings_dir=config.getoption("iamconf_recordings"),
            aws_endpoint_url=config.getoption("iamconf_aws_endpoint"),
        ),
        corpus_dir=Path(corpus_dir) if corpus_dir else corpus.CORPUS_DIR,
        events=events,
        seed=config.getoption("hypothesis_seed", default=None),
    )
    config.stash[_STATE] = state
    state.emit("run-start", targets=names, seed=state.seed, profile=os.environ.get("HYPOTHESIS_PROFILE", "dev"))


def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(_STATE, None)
    if state is None:
        return
    for t in state.started.values():
        t.stop()
    state.emit("run-end", skipped_targets=state.unavailable)
    if state.events is not None:
        state.events.close()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "conformance_target" in metafunc.fixturenames:
        names = metafunc.config.stash[_STATE].names
        metafunc.parametrize("conformance_target", names, ids=names, indirect=True)


@pytest.fixture(scope="session")
def harness(request: pytest.FixtureRequest) -> HarnessState:
    return request.config.stash[_STATE]


@pytest.fixture(scope="session")
def conformance_target(request: pytest.FixtureRequest, harness: HarnessState) -> Target:
    return harness.target(str(request.param))


def require_feature(target: Target, feature: str) -> None:
    """Skip (never pass) a suite for a feature family the target does not claim."""
    if target.capabilities.probed_actions:
        pytest.skip(f"{target.name} answers only probed actions: checked by suites/test_enforcement.py")
    if feature not in target.capabilities.features:
        pytest.skip(f"{target.name} does not claim feature {feature!r}")


def check_case(harness: HarnessState, target: Target, case: Case, nodeid: str, suite: str) -> list[Outcome]:
    """Compare one case; fail (so Hypothesis shrinks) on an unexpected divergence or a target failure."""
    outcomes = check_cases(target, [case], cache=harness.cache)
    features = sorted(features_of(case))
    for o in outcomes:
        event(f"{o.target}: {o.status}")
        if o.known is not None:
            event(f"known divergence: {o.known.id}")
        harness.emit(
            "check",
            suite=suite,
            target=o.target,
            status=o.status.value,
            features=features,
            known=o.known.id if o.known else None,
            reason=o.reason or None,
        )
    failures = [o for o in outcomes if o.is_failure]
    if failures:
        harness.last_divergence[nodeid] = Divergence(nodeid, target.name, case, failures)
        raise AssertionError("\n".join(o.describe() for o in failures))
    return outcomes


def example_snippet(case: Case) -> str:
    """A ready-to-paste ``@example`` pinning the case."""
    text = msgspec.json.encode(case).decode()
    return f"@example(msgspec.json.decode({text!r}, type=Case))"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if call.when != "call" or not report.failed:
        return report
    state = item.config.stash.get(_STATE, None)
    if state is None:
        return report
    found = state.last_divergence.pop(item.nodeid, None)
    if found is None:
        return report
    path = corpus.save(found.target, found.case, state.corpus_dir)
    replay = f"iamconf replay {path} --target {found.target}"
    for o in found.outcomes:
        state.emit(
            "divergence",
            nodeid=item.nodeid,
            target=found.target,
            status=o.status.value,
            request_index=o.request_index,
            expected=msgspec.to_builtins(o.expected) if o.expected else None,
            observed=msgspec.to_builtins(o.observed) if o.observed else None,
            mismatches=[{"check": m.check.value, "expected": m.expected, "observed": m.observed} for m in o.mismatches],
            reason=o.reason or None,
            description=o.describe(),
            case=json.loads(msgspec.json.encode(found.case)),
            seed=state.seed,
            corpus=str(path),
            replay=replay,
            example=example_snippet(found.case),
        )
    report.sections.append(
        (
            "iamconf reproduction",
            f"minimal case saved to {path}\nreplay: {replay}\npin it: {example_snippet(found.case)}",
        )
    )
    print(f"\n[iamconf] minimal case: {path}\n[iamconf] replay: {replay}", file=sys.stderr)
    return report
