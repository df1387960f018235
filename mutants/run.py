"""``python -m mutants.run``: the suite's own mutation score (``tox -e mutants``).

For the control (the unmutated reference) and each mutant of ``mutants.table``:

1. ``python -m mutants.serve NAME``: ``iamconf serve`` answering with the mutant,
   on 127.0.0.1, a free port; stopped by closing its stdin, killed on hang.
2. The conformance suites against it through the ``aws-simulator`` target's code
   (``--iamconf-target aws-simulator --iamconf-aws-endpoint URL``), in a pytest
   process of its own, ``ci`` profile (its examples, derandomized; no shrinking,
   ``mutants.plugin``), stopping at the first failing suite (``-x``) for a
   mutant.  A failing suite kills the mutant.
3. For a survivor, every case the suites put to the target is evaluated again,
   under the mutant (``python -m mutants.classify``) and unmutated (here): if
   some request's decision differs, the generator did produce a revealing
   request and a suite did not check it (the target could not express the case,
   or a known divergence excused it); otherwise the generator never produced one.

The control must end with no unexpected divergence and no target failure, and
compare at least ``MIN_POLICY_TYPE_REQUESTS`` requests with each policy type
(issue 7, item 6).  Exit status: 0 when the control is clean and covered and
every expressible mutant is killed; 1 otherwise; 2 for a usage error.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from mutants.table import BY_NAME, CONTROL, MUTANTS, Mutant

ROOT = Path(__file__).resolve().parent.parent
SERVER_START_TIMEOUT = 60.0
SUITE_TIMEOUT = 900.0
COMPARED = ("agree", "known divergence", "unexpected divergence")
MIN_POLICY_TYPE_REQUESTS = 200
POLICY_TYPE_FEATURES = ("policy:boundary", "policy:scp", "policy:same-account", "policy:cross-account")


@dataclass
class RunResult:
    name: str
    exit_code: int | None = None
    seconds: float = 0.0
    statuses: collections.Counter[str] = field(default_factory=collections.Counter)
    policy_types: collections.Counter[str] = field(default_factory=collections.Counter)
    failed_suites: list[str] = field(default_factory=list)
    first_divergence: str = ""
    error: str = ""
    verdict: str = ""

    @property
    def killed(self) -> bool:
        return self.exit_code == 1 and not self.error


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["HYPOTHESIS_PROFILE"] = "ci"
    env.pop("IAMCONF_SUITE_EXAMPLES", None)  # the profile's own number of examples
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return env


@contextlib.contextmanager
def served(name: str, log: Path) -> Iterator[str]:
    """The mutant behind ``iamconf serve`` on loopback; yields its endpoint URL."""
    with log.open("w", encoding="utf-8") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "mutants.serve", name],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
            cwd=ROOT,
            env=_env(),
            text=True,
        )
        try:
            assert proc.stdout is not None
            deadline = time.monotonic() + SERVER_START_TIMEOUT
            line = ""
            while time.monotonic() < deadline and not line.startswith("URL "):
                line = proc.stdout.readline()
                if not line and proc.poll() is not None:
                    break
            if not line.startswith("URL "):
                raise RuntimeError(f"mutant server {name} did not start: {log.read_text(encoding='utf-8')[-500:]}")
            yield line.split(" ", 1)[1].strip()
        finally:
            with contextlib.suppress(OSError):
                if proc.stdin is not None:
                    proc.stdin.close()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _read_events(path: Path, result: RunResult) -> None:
    if not path.is_file():
        return
    for line in path.read_text(encoding="utf-8").splitlines():
        e = json.loads(line)
        if e.get("event") == "check":
            result.statuses[e["status"]] += 1
            if e["status"] in COMPARED:
                for f in e.get("features") or ():
                    if f in POLICY_TYPE_FEATURES:
                        result.policy_types[f] += 1
        elif e.get("event") == "divergence" and not result.first_divergence:
            result.first_divergence = str(e.get("description", ""))[:300]


def run_one(name: str, work: Path) -> RunResult:
    """Serve ``name`` and run the suites against it."""
    result = RunResult(name)
    out = work / name
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    try:
        with served(name, out / "serve.log") as url:
            args = [
                sys.executable,
                "-m",
                "pytest",
                str(ROOT / "conformance" / "suites" / "test_features.py"),
                "-p",
                "conformance.pytest_plugin",
                "-p",
                "mutants.plugin",
                "-p",
                "no:cacheprovider",
                "-q",
                "--no-header",
                "-rf",
                "--iamconf-target=aws-simulator",
                "--iamconf-explicit=aws-simulator",
                f"--iamconf-aws-endpoint={url}",
                f"--iamconf-report-dir={out}",
                f"--iamconf-corpus-dir={out / 'corpus'}",
                f"--mutant-cases={out / 'cases.ndjson'}",
            ]
            if name != CONTROL:
                args.append("-x")  # one failing suite kills the mutant
                args += [f"--mutant-first={text}" for text in BY_NAME[name].first]
            with (out / "pytest.log").open("w", encoding="utf-8") as log:
                proc = subprocess.run(
                    args, cwd=ROOT, env=_env(), stdout=log, stderr=subprocess.STDOUT, timeout=SUITE_TIMEOUT
                )
            result.exit_code = proc.returncode
    except (RuntimeError, subprocess.TimeoutExpired, OSError) as e:
        result.error = str(e)[:300]
    result.seconds = time.monotonic() - started
    _read_events(out / "events.ndjson", result)
    log_text = (out / "pytest.log").read_text(encoding="utf-8") if (out / "pytest.log").is_file() else ""
    result.failed_suites = [
        line.split("::", 1)[1].split(" ")[0] for line in log_text.splitlines() if line.startswith("FAILED ")
    ]
    if result.exit_code not in (0, 1) and not result.error:
        result.error = f"pytest exited {result.exit_code}: {log_text[-400:]}"
    return result


def _decisions_under(name: str, cases_file: Path) -> list[list[str]]:
    proc = subprocess.run(
        [sys.executable, "-m", "mutants.classify", name, str(cases_file)],
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=SUITE_TIMEOUT,
        check=True,
    )
    return [json.loads(line) for line in proc.stdout.splitlines()]


def classify(mutant: Mutant, work: Path) -> str:
    """Why a mutant survived: no revealing request drawn, or one drawn and not checked (and why)."""
    import msgspec

    from conformance.compare import Mismatch
    from conformance.divergence_rules import Observation
    from conformance.divergences import explain
    from conformance.targets.aws_simulator import unsupported_reason
    from conformance.targets.base import Check
    from reference.compiled import PolicyCache
    from reference.evaluator import CaseInputError, evaluate_case
    from reference.model import Case

    cases_file = work / mutant.name / "cases.ndjson"
    if not cases_file.is_file():
        return "generator never produced a revealing request (no case reached the target)"
    cases = [msgspec.json.decode(line, type=Case) for line in cases_file.read_bytes().splitlines() if line]
    mutated = _decisions_under(mutant.name, cases_file)
    cache = PolicyCache()
    for case, under in zip(cases, mutated, strict=True):
        try:
            results = evaluate_case(case, cache).results
        except CaseInputError:
            continue
        for i, (r, d) in enumerate(zip(results, under, strict=False)):
            if r.decision.value == d:
                continue
            where = f"{r.action} on {r.resource}: {r.decision.value} -> {d}"
            reason = unsupported_reason(case)
            if reason is not None:
                return f"a suite did not check it: the target cannot express the case ({reason}); {where}"
            mismatch = [Mismatch(Check.DECISION, r.decision.value, d)]
            observed = msgspec.structs.replace(r, decision=type(r.decision)(d))
            known = explain("aws-simulator", Observation(case, case.requests[i], r, observed), mismatch)
            if known is not None:
                return f"a suite did not check it: known divergence {known.id} excused it; {where}"
            return f"a suite did not check it: {where}"
    return f"generator never produced a revealing request ({len(cases)} cases drawn)"


def run(names: Sequence[str], jobs: int, work: Path, out: object = sys.stdout) -> int:
    started = time.monotonic()
    # A bug SimulateCustomPolicy cannot show is listed, not run: the aws-simulator target claims
    # neither session policies nor RCPs, so every suite that could reveal it is skipped for it.
    runnable = [n for n in names if BY_NAME[n].expressible]
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        # The control first: the whole suite set, the longest run.
        results = list(pool.map(lambda n: run_one(n, work), [CONTROL, *runnable]))
    control = results[0]
    ran = {r.name: r for r in results[1:]}
    mutant_results = [ran.get(n) or RunResult(n) for n in names]
    for r in mutant_results:
        mutant = BY_NAME[r.name]
        if not mutant.expressible:
            r.verdict = "not run: not expressible through SimulateCustomPolicy (no session policies, no RCPs)"
        elif r.error:
            r.verdict = f"ERROR: {r.error}"
        elif r.killed:
            r.verdict = f"killed by {', '.join(r.failed_suites) or 'a suite'}"
        else:
            r.verdict = "SURVIVED: " + classify(mutant, work)
    return report(control, mutant_results, time.monotonic() - started, out)


def report(control: RunResult, results: list[RunResult], seconds: float, out: object) -> int:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console(file=out, width=200, highlight=False)  # type: ignore[arg-type]
    table = Table(title="mutation score: mutants of the reference behind iamconf serve, aws-simulator target, ci")
    for column in ("mutant", "bug class", "expressible", "seconds", "verdict"):
        table.add_column(column, overflow="fold")
    for r in results:
        m = BY_NAME[r.name]
        took = f"{r.seconds:.0f}" if m.expressible else "-"
        table.add_row(m.name, m.bug_class, "yes" if m.expressible else "no", took, escape(r.verdict))
    console.print(table)
    expressible = [r for r in results if BY_NAME[r.name].expressible]
    killed = [r for r in expressible if r.killed]
    others = [r for r in results if not BY_NAME[r.name].expressible]
    console.print(
        f"score: {len(killed)}/{len(expressible)} expressible mutants killed"
        + (f" ({len(others)} more not expressible through SimulateCustomPolicy, not run)" if others else "")
    )
    ok = len(killed) == len(expressible)
    compared = sum(control.statuses[s] for s in COMPARED)
    clean = (
        control.exit_code == 0
        and not control.error
        and control.statuses["unexpected divergence"] == 0
        and control.statuses["target failure"] == 0
        and compared > 0
    )
    console.print(
        f"control (unmutated reference): exit {control.exit_code}, {compared} requests compared, "
        f"{control.statuses['unexpected divergence']} unexpected divergences, "
        f"{control.statuses['target failure']} target failures, {control.statuses['unsupported']} unsupported"
        + (f", error: {control.error}" if control.error else "")
        + (f", first divergence: {escape(control.first_divergence)}" if control.first_divergence else "")
        + (" -> CLEAN" if clean else " -> NOT CLEAN")
    )
    short = [f for f in POLICY_TYPE_FEATURES if control.policy_types[f] < MIN_POLICY_TYPE_REQUESTS]
    console.print(
        "control: compared requests per policy type: "
        + ", ".join(f"{f} {control.policy_types[f]}" for f in POLICY_TYPE_FEATURES)
        + (
            f" -> below {MIN_POLICY_TYPE_REQUESTS}: {', '.join(short)}"
            if short
            else f" (each >= {MIN_POLICY_TYPE_REQUESTS})"
        )
    )
    console.print(f"mutation run: {seconds:.0f} s")
    return 0 if ok and clean and not short else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mutants.run", description=__doc__.splitlines()[0] if __doc__ else ""
    )
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="runs at a time (default 2)")
    parser.add_argument("--only", action="append", default=[], metavar="NAME", help="this mutant only (repeatable)")
    parser.add_argument("--work-dir", help="keep each run's events, logs and cases here (default: a temporary dir)")
    args = parser.parse_args(argv)
    unknown = [n for n in args.only if n not in BY_NAME]
    if unknown:
        print(
            f"mutants.run: error: unknown mutant(s) {', '.join(unknown)}; known: {', '.join(BY_NAME)}", file=sys.stderr
        )
        return 2
    names = args.only or [m.name for m in MUTANTS]
    if args.work_dir:
        work = Path(args.work_dir)
        work.mkdir(parents=True, exist_ok=True)
        return run(names, max(1, args.jobs), work)
    with tempfile.TemporaryDirectory(prefix="iamconf-mutants-") as tmp:
        return run(names, max(1, args.jobs), Path(tmp))


if __name__ == "__main__":
    sys.exit(main())
