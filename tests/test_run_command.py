"""``iamconf run`` end to end: exit codes, reports, skipped targets, divergences, seeds, corpus, database."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import msgspec
import pytest

import conformance
import conformance.pytest_plugin as plugin
import conformance.replay_command as replay_command
from conformance.cli import main
from conformance.events import CheckEvent, DivergenceEvent, RunStarted, SuiteHealth, read_events
from conformance.targets.base import Capabilities, Check, TargetAnswer, TargetFailure, Unsupported
from reference.compiled import PolicyCache
from reference.evaluator import evaluate_case
from reference.model import Case, Decision
from strategies.profiles import SHRINK_SECONDS

ROOT = Path(__file__).resolve().parent.parent


def events(report: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (report / "events.ndjson").read_text().splitlines()]


def test_run_against_iam_simulate_writes_reports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["run", "--target", "iam-simulate", "--max-examples", "3", "--report-dir", str(tmp_path), "--seed", "1"]
    )
    out = capsys.readouterr().out
    kinds = [e["event"] for e in events(tmp_path)]
    assert kinds[0] == "run-start" and kinds[-1] == "run-end" and "check" in kinds
    assert (tmp_path / "junit.xml").read_text().startswith("<?xml")
    assert "iam-simulate" in out and "agree" in out and "compared" in out
    # No divergence: the exit code is the health checks' verdict (iam-simulate refuses many generated requests).
    typed = read_events(tmp_path)
    assert not [e for e in typed if isinstance(e, DivergenceEvent)]
    health = [e for e in typed if isinstance(e, SuiteHealth)]
    assert health and code == (0 if all(h.passed for h in health) else 1), out


def test_a_named_target_that_cannot_start_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", "--target", "aws-simulator", "--max-examples", "1", "--report-dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 2
    assert "skipped aws-simulator:" in out and "IAMCONF_AWS" in out
    assert "could not start" in out


def test_unknown_target_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--target", "nope"]) == 2
    assert "unknown target 'nope'" in capsys.readouterr().err


def test_no_target_that_compared_anything_is_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The default targets, iam-simulate unable to run (no node on PATH), replay with no recording:
    replay starts but compares nothing, so the run checked nothing."""
    monkeypatch.setenv("PATH", str(tmp_path / "empty-path"))
    recordings = tmp_path / "recordings"
    recordings.mkdir()
    report = tmp_path / "report"
    code = main(["run", "--max-examples", "2", "--report-dir", str(report), "--recordings", str(recordings)])
    out = capsys.readouterr().out
    assert "skipped iam-simulate: node is not on PATH" in out
    assert code == 2, out
    assert "no target compared anything" in out


class Contrarian:
    """A target that allows whatever the reference denies: every check diverges."""

    name = "iam-simulate"
    capabilities = Capabilities(checks=frozenset({Check.DECISION}), features=frozenset({"actions"}))

    def __init__(self) -> None:
        self.calls = 0

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def answer(self, cases: Sequence[Case]) -> list[TargetAnswer]:
        self.calls += 1
        out: list[TargetAnswer] = []
        for c in cases:
            result = evaluate_case(c, PolicyCache())
            flipped = [
                msgspec.structs.replace(
                    r, decision=Decision.IMPLICIT_DENY if r.decision == Decision.ALLOWED else Decision.ALLOWED
                )
                for r in result.results
            ]
            out.append(msgspec.structs.replace(result, results=flipped))
        return out


class Echo(Contrarian):
    """Answers what the reference answers."""

    def answer(self, cases: Sequence[Case]) -> list[TargetAnswer]:
        self.calls += 1
        return [evaluate_case(c, PolicyCache()) for c in cases]


class Refuser(Contrarian):
    """Answers "unsupported" to every case: compares nothing, so it must never pass."""

    def answer(self, cases: Sequence[Case]) -> list[TargetAnswer]:
        return [Unsupported("refuses everything") for _ in cases]


class HalfRefuser(Echo):
    """Agrees on cases whose first action has an even length, refuses the rest: about half compared."""

    def answer(self, cases: Sequence[Case]) -> list[TargetAnswer]:
        answers = super().answer(cases)
        return [
            a if len(c.requests[0].action) % 2 == 0 else Unsupported("odd")
            for c, a in zip(cases, answers, strict=False)
        ]


class FailsHalf(Echo):
    """Answers like the reference, but fails (a worker that died, say) on cases whose first action has an
    odd length: those requests are target failures, never agreement."""

    def answer(self, cases: Sequence[Case]) -> list[TargetAnswer]:
        answers = super().answer(cases)
        return [
            a if len(c.requests[0].action) % 2 == 0 else TargetFailure("worker died (injected)")
            for c, a in zip(cases, answers, strict=False)
        ]


@pytest.fixture
def quick_shrink(monkeypatch: pytest.MonkeyPatch) -> None:
    """Shrink a divergence for half a second at most: these tests need a divergence, not its smallest form."""
    for profile in SHRINK_SECONDS:
        monkeypatch.setitem(SHRINK_SECONDS, profile, 0.5)


@pytest.mark.usefixtures("quick_shrink")
def test_an_unexpected_divergence_is_exit_1_with_a_reproduction(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(plugin, "make_target", lambda name, options: Contrarian())
    corpus_dir = tmp_path / "corpus"
    report = tmp_path / "report"
    code = main(
        [
            "run",
            "--target",
            "iam-simulate",
            "--max-examples",
            "5",
            "--report-dir",
            str(report),
            "--corpus",
            str(corpus_dir),
            "--profile",
            "ci",
        ]
    )
    out = capsys.readouterr().out
    assert code == 1
    divergences = [e for e in read_events(report) if isinstance(e, DivergenceEvent)]
    assert divergences
    d = divergences[0]
    # The replay command names the file the minimal case was written to, and that file is in --corpus.
    argv = shlex.split(d.replay)
    assert argv[:2] == ["iamconf", "replay"] and argv[3:] == ["--target", "iam-simulate"]
    assert Path(argv[2]) == Path(d.corpus) and Path(d.corpus).is_file()
    assert Path(d.corpus).parent.parent == corpus_dir.resolve()
    assert d.example.startswith("@example(")
    assert "DIVERGENCE" in out and f"reproduce: {d.replay}" in out
    # ... and replaying that file reproduces the divergence.
    monkeypatch.setattr(replay_command, "make_target", lambda name, options: Contrarian())
    assert main(argv[1:]) == 1


def test_a_target_that_refuses_everything_fails_every_suite_and_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(plugin, "make_target", lambda name, options: Refuser())
    report = tmp_path / "report"
    code = main(["run", "--target", "iam-simulate", "--max-examples", "3", "--report-dir", str(report)])
    out = capsys.readouterr().out
    assert code == 2 and "no target compared anything" in out
    health = [e for e in read_events(report) if isinstance(e, SuiteHealth)]
    assert health and not any(h.passed for h in health)
    junit = (report / "junit.xml").read_text()
    assert "health check failed: iam-simulate compared 0 of the" in junit


@pytest.mark.usefixtures("quick_shrink")
def test_target_failures_are_exit_2_and_every_result_is_in_the_events(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(plugin, "make_target", lambda name, options: FailsHalf())
    report = tmp_path / "report"
    code = main(["run", "--target", "iam-simulate", "--max-examples", "3", "--report-dir", str(report)])
    out = capsys.readouterr().out
    assert code == 2 and "target failure(s) in iam-simulate" in out, out
    # events.ndjson holds every result up to the end, readable afterwards (iamconf merge reads it too).
    checks = [e for e in read_events(report) if isinstance(e, CheckEvent)]
    statuses = {e.status for e in checks}
    assert "target failure" in statuses and "agree" in statuses
    assert main(["merge", str(report), "--report-dir", str(tmp_path / "merged")]) != 0
    merged = [e for e in read_events(tmp_path / "merged") if isinstance(e, CheckEvent)]
    assert len(merged) == len(checks)


def test_a_target_that_compares_half_fails_the_health_check_and_shows_its_share(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(plugin, "make_target", lambda name, options: HalfRefuser())
    report = tmp_path / "report"
    code = main(["run", "--target", "iam-simulate", "--max-examples", "20", "--report-dir", str(report)])
    out = capsys.readouterr().out
    assert code == 1
    health = [e for e in read_events(report) if isinstance(e, SuiteHealth)]
    failed = [h for h in health if not h.passed]
    assert failed and all(h.compared / (h.compared + h.unsupported) < 0.8 for h in failed)
    assert all(h.compared / (h.compared + h.unsupported) >= 0.8 for h in health if h.passed)
    assert (
        "below 80%" in (report / "junit.xml").read_text()
        and "most common reasons: " in (report / "junit.xml").read_text().lower()
    )
    assert "compared" in out and "%" in out  # the table's share column


def test_a_target_that_compares_everything_passes_the_health_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(plugin, "make_target", lambda name, options: Echo())
    report = tmp_path / "report"
    code = main(["run", "--target", "iam-simulate", "--max-examples", "3", "--report-dir", str(report)])
    out = capsys.readouterr().out
    assert code == 0, out
    health = [e for e in read_events(report) if isinstance(e, SuiteHealth)]
    assert health and all(h.passed and h.unsupported == 0 for h in health)
    assert "100.0%" in out


def header(report: Path) -> RunStarted:
    (first,) = [e for e in read_events(report) if isinstance(e, RunStarted)]
    return first


def test_a_derandomized_profile_prints_no_seed_and_says_the_given_one_changed_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(plugin, "make_target", lambda name, options: Echo())
    report = tmp_path / "report"
    args = ["run", "--target", "iam-simulate", "--max-examples", "2", "--report-dir", str(report), "--profile", "ci"]
    assert main([*args, "--seed", "5"]) == 0
    out = capsys.readouterr().out
    h = header(report)
    assert h.derandomized and h.seed is None and h.ignored_seed == 5
    assert "seed: none: profile 'ci' is derandomized" in out and "--seed 5 changed nothing" in out
    assert "seed: 5" not in out


def suite_checks(report: Path, suite: str) -> list[object]:
    return [e for e in events(report) if e["event"] == "check" and e["suite"] == suite]


def test_the_printed_seed_is_the_one_hypothesis_used(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without --seed each suite draws its own, recorded with it; --seed that value draws that suite's
    requests again, exactly; another seed draws others."""
    monkeypatch.setattr(plugin, "make_target", lambda name, options: Echo())
    base = ["run", "--target", "iam-simulate", "--max-examples", "4", "--profile", "dev"]
    assert main([*base, "--report-dir", str(tmp_path / "a")]) == 0
    assert "seed: a fresh one for each suite" in capsys.readouterr().out
    assert header(tmp_path / "a").seed is None and not header(tmp_path / "a").derandomized
    name = "test_actions_and_resources"
    suite = next(e for e in read_events(tmp_path / "a") if isinstance(e, SuiteHealth) and name in e.nodeid)
    assert isinstance(suite.seed, int)
    assert main([*base, "--report-dir", str(tmp_path / "b"), "--seed", str(suite.seed)]) == 0
    out = capsys.readouterr().out
    assert f"seed: {suite.seed}, every suite" in out and header(tmp_path / "b").seed == suite.seed
    assert suite_checks(tmp_path / "a", name) == suite_checks(tmp_path / "b", name)
    assert main([*base, "--report-dir", str(tmp_path / "c"), "--seed", str(suite.seed + 1)]) == 0
    assert suite_checks(tmp_path / "a", name) != suite_checks(tmp_path / "c", name)


@pytest.mark.usefixtures("quick_shrink")
def test_outside_a_checkout_minimal_cases_and_the_database_go_to_the_report_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.delenv("HYPOTHESIS_STORAGE_DIRECTORY", raising=False)
    monkeypatch.delenv("IAMCONF_CORPUS_DIR", raising=False)
    monkeypatch.setattr(plugin, "make_target", lambda name, options: Contrarian())
    report = tmp_path / "report"
    code = main(
        ["run", "--target", "iam-simulate", "--max-examples", "3", "--profile", "dev", "--report-dir", str(report)]
    )
    capsys.readouterr()
    assert code == 1
    saved = [Path(e.corpus) for e in read_events(report) if isinstance(e, DivergenceEvent)]
    package = Path(conformance.__file__).resolve().parent
    assert saved and all(p.is_relative_to(report.resolve() / "corpus") for p in saved)
    assert not any(p.is_relative_to(package) for p in saved)
    assert (report / ".hypothesis" / "examples").is_dir()  # dev keeps a database: in the report directory
    assert not (work / ".hypothesis").exists()


@pytest.mark.usefixtures("quick_shrink")
def test_the_ci_profile_keeps_no_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(plugin, "make_target", lambda name, options: Contrarian())
    report = tmp_path / "report"
    code = main(
        ["run", "--target", "iam-simulate", "--max-examples", "3", "--profile", "ci", "--report-dir", str(report)]
    )
    capsys.readouterr()
    assert code == 1
    assert not (report / ".hypothesis").exists() and not (tmp_path / ".hypothesis").exists()


def test_an_installed_copy_run_elsewhere_defaults_its_corpus_outside_the_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The packages imported from a copy outside any checkout (as from a wheel): the default corpus is the
    report directory's, never the package's own folder."""
    site = tmp_path / "site"
    for package in ("reference", "strategies", "conformance"):
        shutil.copytree(ROOT / package, site / package, ignore=shutil.ignore_patterns("node_modules", "__pycache__"))
    work = tmp_path / "work"
    work.mkdir()
    code = (
        "import json, pathlib, conformance, conformance.corpus as c;"
        "package = pathlib.Path(conformance.__file__).parent;"
        "print(json.dumps([str(package), str(c.default_corpus_dir(pathlib.Path('rep')))]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=work,
        env={"PYTHONPATH": str(site)},
        capture_output=True,
        text=True,
        check=True,
    )
    package, corpus_dir = (Path(p) for p in json.loads(done.stdout))
    assert package.is_relative_to(site)
    assert Path(corpus_dir) == Path("rep") / "corpus"
    # From a checkout the same call names the checkout's corpus; $IAMCONF_CORPUS_DIR overrides both.
    from conformance.corpus import default_corpus_dir

    monkeypatch.delenv("IAMCONF_CORPUS_DIR", raising=False)
    assert default_corpus_dir(None, start=ROOT / "tests") == ROOT / "conformance" / "corpus"
    monkeypatch.setenv("IAMCONF_CORPUS_DIR", str(tmp_path / "mine"))
    assert default_corpus_dir(None, start=ROOT / "tests") == tmp_path / "mine"


def test_shrinking_stops_asking_the_target_once_the_profile_budget_is_spent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no budget left, shrinking a divergence costs no further call to the target, and the divergence
    is still reported with a reproduction; with a second of budget it costs many."""
    calls: dict[float, int] = {}
    for budget in (0.0, 1.0):
        target = Contrarian()
        monkeypatch.setattr(plugin, "make_target", lambda name, options, t=target: t)
        monkeypatch.setitem(SHRINK_SECONDS, "ci", budget)
        report = tmp_path / f"report-{budget}"
        code = main(
            [
                "run",
                "--target",
                "iam-simulate",
                "--max-examples",
                "30",
                "--profile",
                "ci",
                "--report-dir",
                str(report),
                "--corpus",
                str(tmp_path / "corpus"),
            ]
        )
        capsys.readouterr()
        assert code == 1
        assert [e for e in read_events(report) if isinstance(e, DivergenceEvent)]
        calls[budget] = target.calls
    assert calls[0.0] < calls[1.0]
