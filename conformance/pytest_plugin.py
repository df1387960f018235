"""The pytest side of the harness: targets as fixtures, events, corpus, reproduction.

Loaded by the project's ``conftest.py`` (``tox``) and by ``iamconf run``
(``-p conformance.pytest_plugin``).  The suites in ``conformance/suites/``
ask for the ``conformance_target`` fixture and call :func:`check_case`.

- Each selected target is started once per session and stopped at the end; a
  target that cannot run is skipped with its reason (never passed).
- A suite for a feature family the target does not claim is skipped.
- Every compared request becomes a ``check`` event (``conformance.events``,
  NDJSON, when a report directory is given); a divergence Hypothesis has shrunk
  becomes a ``divergence`` event with the minimal case, expected and observed,
  the seed, a ready-to-paste ``@example`` and an ``iamconf replay`` command
  naming the file the case was saved to (``--iamconf-corpus-dir``, else
  ``corpus.default_corpus_dir``: never the installed package).
- Shrinking is bounded by the profile's ``SHRINK_SECONDS`` (``shrink_budget``).
- After each suite, the health check (``conformance.health``): a suite fails
  when a target compared fewer than 80% of its requests.
"""

from __future__ import annotations

import platform
import shlex
import sys
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from pathlib import Path

import hypothesis
import msgspec
import pytest
from hypothesis import event, seed, settings

from conformance import __version__, corpus
from conformance.events import (
    EVENTS_FILE,
    CheckEvent,
    DivergenceEvent,
    Event,
    EventWriter,
    MismatchRecord,
    RunEnded,
    RunStarted,
    SuiteHealth,
    TargetSkipped,
    TargetStarted,
)
from conformance.features import deciding_feature, features_of
from conformance.harness import Outcome, check_cases
from conformance.health import MIN_COMPARED_SHARE, SuiteTally
from conformance.registry import DEFAULT_TARGETS, TargetOptions, make_target
from conformance.shrink_budget import ShrinkBudget
from conformance.targets.base import Target, TargetUnavailable
from reference.compiled import PolicyCache
from reference.evaluator import CaseInputError, evaluate_case
from reference.model import Case
from strategies.profiles import SHRINK_SECONDS, load_profile


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("iamconf", "IAM conformance harness")
    group.addoption("--iamconf-target", action="append", default=[], help="target to check (repeatable)")
    group.addoption("--iamconf-explicit", action="append", default=[], help="targets the user asked for by name")
    group.addoption("--iamconf-report-dir", default=None, help="write events.ndjson here")
    group.addoption("--iamconf-corpus-dir", default=None, help="save minimal divergent cases here")
    group.addoption("--iamconf-recordings", default=None, help="recordings directory (aws-simulator, replay)")
    group.addoption("--iamconf-aws-endpoint", default=None, help="endpoint URL for the aws-simulator target")
    group.addoption(
        "--iamconf-seed",
        default=None,
        type=int,
        help="seed of every suite (applied as @seed, so the example database stays in use)",
    )
    group.addoption(
        "--iamconf-ignored-seed", default=None, type=int, help="the seed asked for under a derandomized profile"
    )
    group.addoption(
        "--iamconf-shrink-seconds", default=None, type=float, help="shrinking bound a suite (default: the profile's)"
    )


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
    events: EventWriter | None
    seed: int | None  # the seed of every suite (None: derandomized, or a fresh one a suite)
    shrink: ShrinkBudget[Divergence] = field(default_factory=lambda: ShrinkBudget(None))
    started: dict[str, Target] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)
    last_divergence: dict[str, Divergence] = field(default_factory=dict)
    tallies: dict[tuple[str, str], SuiteTally] = field(default_factory=dict)  # (node id, target) -> tally
    suite_seeds: dict[str, int | None] = field(default_factory=dict)  # node id -> the seed its examples came from
    cache: PolicyCache = field(default_factory=PolicyCache)

    def emit(self, event: Event) -> None:
        if self.events is not None:
            self.events.write(event)

    def target(self, name: str) -> Target:
        if name in self.unavailable:
            pytest.skip(f"{name}: {self.unavailable[name]}")
        if name not in self.started:
            t = make_target(name, self.options)
            try:
                t.start()
            except TargetUnavailable as e:
                self.unavailable[name] = e.reason
                self.emit(TargetSkipped(target=name, reason=e.reason))
                pytest.skip(f"{name}: {e.reason}")
            self.started[name] = t
            version = getattr(t, "version", None)
            self.emit(
                TargetStarted(
                    target=name,
                    checks=sorted(t.capabilities.checks),
                    version=version if isinstance(version, str) else None,
                )
            )
        return self.started[name]


_STATE = pytest.StashKey[HarnessState]()


def _seed(config: pytest.Config) -> int | None:
    """``--iamconf-seed``, else the ``--hypothesis-seed`` Hypothesis forces on every test (None when neither)."""
    own = config.getoption("iamconf_seed")
    if own is not None:
        return int(own)
    raw = config.getoption("hypothesis_seed", default=None)
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


def pytest_configure(config: pytest.Config) -> None:
    # HYPOTHESIS_PROFILE (also when run from an installed copy, without the project's conftest)
    profile = load_profile()
    derandomized = bool(settings.default.derandomize) if settings.default is not None else False
    names = config.getoption("iamconf_target") or list(DEFAULT_TARGETS)
    report_dir = config.getoption("iamconf_report_dir")
    events = EventWriter(Path(report_dir) / EVENTS_FILE) if report_dir else None
    corpus_dir = config.getoption("iamconf_corpus_dir")
    shrink_seconds = config.getoption("iamconf_shrink_seconds")
    state = HarnessState(
        names=names,
        options=TargetOptions(
            explicitly_requested=tuple(config.getoption("iamconf_explicit")),
            recordings_dir=config.getoption("iamconf_recordings"),
            aws_endpoint_url=config.getoption("iamconf_aws_endpoint"),
        ),
        corpus_dir=(
            Path(corpus_dir) if corpus_dir else corpus.default_corpus_dir(Path(report_dir) if report_dir else None)
        ).resolve(),
        events=events,
        # Under a derandomized profile Hypothesis ignores any seed: each test's examples follow from the test.
        seed=None if derandomized else _seed(config),
        shrink=ShrinkBudget(shrink_seconds if shrink_seconds is not None else SHRINK_SECONDS.get(profile)),
    )
    config.stash[_STATE] = state
    ignored = config.getoption("iamconf_ignored_seed")
    state.emit(
        RunStarted(
            targets=names,
            seed=state.seed,
            profile=profile,
            derandomized=derandomized,
            ignored_seed=ignored if ignored is not None else _seed(config) if derandomized else None,
            versions={
                "iamconf": __version__,
                "hypothesis": hypothesis.__version__,
                "python": platform.python_version(),
            },
            corpus_dir=str(state.corpus_dir),
        )
    )


def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(_STATE, None)
    if state is None:
        return
    for t in state.started.values():
        t.stop()
    state.emit(RunEnded(skipped_targets=state.unavailable))
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
    if feature not in target.capabilities.features:
        pytest.skip(f"{target.name} does not claim feature {feature!r}")


def _fail(harness: HarnessState, found: Divergence) -> None:
    harness.last_divergence[found.nodeid] = found
    raise AssertionError("\n".join(o.describe() for o in found.outcomes))


def check_case(harness: HarnessState, target: Target, case: Case, nodeid: str, suite: str) -> list[Outcome]:
    """Compare one case; fail (so Hypothesis shrinks) on an unexpected divergence or a target failure.

    Once the suite's shrink budget is spent, a case not seen failing is not sent (and returns no outcome).
    """
    key = msgspec.json.encode(case)
    admitted, failed_before = harness.shrink.admit(nodeid, key)
    if not admitted:
        if failed_before is not None:
            _fail(harness, failed_before)
        event("not checked: shrink budget spent")
        return []
    outcomes = check_cases(target, [case], cache=harness.cache)
    harness.tallies.setdefault((nodeid, target.name), SuiteTally()).add(outcomes)
    features = sorted(features_of(case))
    for o in outcomes:
        event(f"{o.target}: {o.status}")
        if o.known is not None:
            event(f"known divergence: {o.known.id}")
        harness.emit(check_event(o, suite, features, harness.cache))
    failures = [o for o in outcomes if o.is_failure]
    if failures:
        found = Divergence(nodeid, target.name, case, failures)
        harness.shrink.record_failure(nodeid, key, found)
        _fail(harness, found)
    return outcomes


def run_suite(harness: HarnessState, target: Target, nodeid: str, test: Callable[[], None]) -> None:
    """Run a suite's ``@given`` test (seeded with the run's seed, if any), note its seed, then health-check it."""
    if harness.seed is not None:
        test = seed(harness.seed)(test)
    try:
        test()
    finally:
        # Without a seed of ours, Hypothesis drew one for this test and keeps it on the wrapped test
        # (it is what ``--hypothesis-seed``/``@seed`` take to replay it); derandomized: none.
        drawn = getattr(test, "_hypothesis_internal_use_generated_seed", None)
        harness.suite_seeds[nodeid] = harness.seed if harness.seed is not None else drawn
    health_check(harness, target, nodeid)


def health_check(harness: HarnessState, target: Target, nodeid: str, threshold: float = MIN_COMPARED_SHARE) -> None:
    """Fail the suite when the target compared fewer than ``threshold`` of its requests (the rest unsupported)."""
    tally = harness.tallies.get((nodeid, target.name), SuiteTally())
    passed = tally.passed(threshold)
    harness.emit(
        SuiteHealth(
            nodeid=nodeid,
            target=target.name,
            compared=tally.compared,
            unsupported=tally.unsupported,
            threshold=threshold,
            passed=passed,
            seed=harness.suite_seeds.get(nodeid),
        )
    )
    if not passed:
        pytest.fail(tally.failure_message(target.name, nodeid, threshold), pytrace=False)


def check_event(o: Outcome, suite: str, features: list[str], cache: PolicyCache) -> CheckEvent:
    """The ``check`` event of one outcome, with the family that decided the request."""
    deciding = None
    if o.request_index is not None:
        expected = o.expected
        if expected is None:  # a request-level outcome without the reference's answer kept on it
            try:
                expected = evaluate_case(o.case, cache).results[o.request_index]
            except CaseInputError:
                expected = None
        if expected is not None:
            deciding = deciding_feature(o.case, o.case.requests[o.request_index], expected, cache)
    return CheckEvent(
        suite=suite,
        target=o.target,
        status=o.status.value,
        features=features,
        deciding=deciding,
        known=o.known.id if o.known else None,
        reason=o.reason or None,
        requests=1 if o.request_index is not None else len(o.case.requests),
    )


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
    path = corpus.save(found.target, found.case, state.corpus_dir).resolve()
    replay = f"iamconf replay {shlex.quote(str(path))} --target {found.target}"
    for o in found.outcomes:
        state.emit(
            DivergenceEvent(
                nodeid=item.nodeid,
                target=found.target,
                status=o.status.value,
                request_index=o.request_index,
                expected=o.expected,
                observed=o.observed,
                mismatches=[MismatchRecord(m.check.value, m.expected, m.observed) for m in o.mismatches],
                reason=o.reason or None,
                description=o.describe(),
                case=found.case,
                seed=state.suite_seeds.get(item.nodeid, state.seed),
                corpus=str(path),
                replay=replay,
                example=example_snippet(found.case),
            )
        )
    report.sections.append(
        (
            "iamconf reproduction",
            f"minimal case saved to {path}\nreplay: {replay}\npin it: {example_snippet(found.case)}",
        )
    )
    print(f"\n[iamconf] minimal case: {path}\n[iamconf] replay: {replay}", file=sys.stderr)
    return report
