"""What ``iamconf diff`` and ``iamconf check`` read: a policy, or a policy set, from one argument.

An argument is a policy file, ``-`` (standard input), the JSON that
``aws iam get-policy-version`` prints (the document URL-encoded inside
``PolicyVersion.Document``), ``REV:PATH`` (``git show REV:PATH`` in the current
directory's repository), or a case-format v1 case without requests (identity
policies plus optional boundary, session policy, SCP levels, RCP levels and
resource policy).

Bad input raises :class:`InputError`, which renders as one line naming the
file, line and column: policy errors come from the reference's grammar
(``reference.policy``), which already locates them.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
from json_source_map import calculate

from reference.compiled import PolicyCache, compile_text
from reference.errors import PolicyError
from reference.evaluator import CaseInputError, PlacedPolicy, PreparedCase, case_policies, prepare
from reference.model import Case, Policy, PolicyType, Request

# Fields of a case-format v1 case that hold policies: an input with any of them is a policy set.
_CASE_FIELDS = ("identity_policies", "permissions_boundary", "session_policy", "resource_policy", "scps", "rcps")
# A request that is never evaluated: it only satisfies the case schema's "requests" (minItems 1).
_PLACEHOLDER = Request(action="iamconf:Placeholder")


class InputError(Exception):
    """Bad input: ``where`` is ``file[:line[:column]]``."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}")
        self.where = where
        self.message = message


@dataclass(frozen=True, slots=True)
class PolicySource:
    """Where the text of one policy of a set lives, for locating statements (SARIF, reports).

    ``path`` is the file a code-scanning tab shows (for ``REV:PATH``, the PATH);
    positions in the policy text map to the file by adding ``line_offset`` (0 when
    the file is the policy text itself).  ``exact`` is False when the text is not
    the file's bytes (an embedded or URL-encoded document): positions then point at
    the document's first line.
    """

    path: str
    line_offset: int = 0
    exact: bool = True

    def locate(self, line: int, column: int) -> tuple[int, int]:
        """A position in the policy text as a position in ``path``."""
        if self.exact:
            return line + self.line_offset, column
        return self.line_offset + 1, 1


@dataclass(frozen=True, slots=True)
class PolicySet:
    """One version: the policies in force (a case without requests) and where each came from."""

    label: str  # the argument as given
    case: Case
    sources: dict[str, PolicySource]  # policy id -> source
    prepared: PreparedCase
    texts: dict[str, str]  # policy id -> policy text (positions refer to it)

    def placed(self) -> list[PlacedPolicy]:
        return list(case_policies(self.case))


def _read(arg: str, stdin_text: str | None) -> tuple[str, str]:
    """(display name, text) for one argument."""
    if arg == "-":
        return "<stdin>", stdin_text if stdin_text is not None else sys.stdin.read()
    path = Path(arg)
    if path.exists():
        try:
            return arg, path.read_text(encoding="utf-8")
        except (IsADirectoryError, PermissionError, UnicodeDecodeError) as e:
            raise InputError(arg, f"cannot read: {e.__class__.__name__}") from None
    rev, colon, inner = arg.partition(":")
    if colon and rev and inner:
        return arg, _git_show(arg)
    raise InputError(arg, "no such file")


def _git_show(arg: str) -> str:
    try:
        done = subprocess.run(["git", "show", arg], capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise InputError(arg, f"git show failed: {e.__class__.__name__}") from None
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or ["unknown error"])[0]
        raise InputError(arg, f"git show failed: {reason}")
    return done.stdout


def _artifact(arg: str) -> str:
    """The file path a result is shown on: ``REV:PATH`` -> PATH."""
    if arg == "-" or Path(arg).exists():
        return arg
    return arg.partition(":")[2]


def _json_error(where: str, text: str) -> InputError:
    try:
        json.loads(text)
    except json.JSONDecodeError as e:
        return InputError(f"{where}:{e.lineno}:{e.colno}", f"malformed JSON: {e.msg}")
    return InputError(where, "malformed JSON")  # pragma: no cover - only called on bad JSON


def load_policy_set(arg: str, *, stdin_text: str | None = None, cache: PolicyCache | None = None) -> PolicySet:
    """Read one version; raises InputError (one line, located) on bad input."""
    where, text = _read(arg, stdin_text)
    artifact = _artifact(arg)
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        # The grammar locates the problem in the policy text.
        _compile_plain(where, text)
        raise _json_error(where, text) from None
    if isinstance(value, dict) and "PolicyVersion" in value:
        return _from_policy_version(arg, where, artifact, text, value, cache)
    if isinstance(value, dict) and any(f in value for f in _CASE_FIELDS):
        return _from_case(arg, where, artifact, text, value, cache)
    return _single(arg, where, artifact, text, PolicySource(artifact), cache)


def _compile_plain(where: str, text: str) -> None:
    try:
        compile_text(text, "identity")
    except PolicyError as e:
        raise _located(where, e) from None


def _located(where: str, e: PolicyError, line_offset: int = 0, exact: bool = True) -> InputError:
    if e.line is None:
        return InputError(where, f"error [{e.code}] {e.path}: {e.message}")
    if not exact:
        return InputError(where, f"error [{e.code}] {e.path}: {e.message} (policy line {e.line}, column {e.column})")
    return InputError(f"{where}:{e.line + line_offset}:{e.column}", f"error [{e.code}] {e.path}: {e.message}")


def _policy_kind_type(text: str) -> PolicyType:
    """A single policy naming principals is read as a resource-based policy, else as an identity policy."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return "user"
    statements = value.get("Statement") if isinstance(value, dict) else None
    items = statements if isinstance(statements, list) else [statements]
    named = any(isinstance(s, dict) and ("Principal" in s or "NotPrincipal" in s) for s in items)
    return "resource" if named else "user"


def _single(
    arg: str, where: str, artifact: str, text: str, source: PolicySource, cache: PolicyCache | None
) -> PolicySet:
    pid = Path(artifact).name or "policy"
    ptype = _policy_kind_type(text)
    policy = Policy.of(pid, text, ptype)
    if ptype == "resource":
        case = Case(requests=[_PLACEHOLDER], resource_policy=policy)
    else:
        case = Case(requests=[_PLACEHOLDER], identity_policies=[policy])
    return _prepared(arg, where, case, {pid: source}, cache)


def _prepared(
    arg: str, where: str, case: Case, sources: dict[str, PolicySource], cache: PolicyCache | None
) -> PolicySet:
    try:
        prepared = prepare(case, cache if cache is not None else PolicyCache())
    except CaseInputError as exc:
        pe = exc.policy_error
        if pe is None:
            raise InputError(where, exc.error.message) from None
        src = sources.get(exc.policy_id or "", PolicySource(where))
        raise _located(where, pe, src.line_offset, src.exact) from None
    texts = {p.policy.id: p.policy.text() for p in case_policies(case)}
    return PolicySet(label=arg, case=case, sources=sources, prepared=prepared, texts=texts)


def _from_policy_version(
    arg: str, where: str, artifact: str, text: str, value: dict[str, Any], cache: PolicyCache | None
) -> PolicySet:
    """``aws iam get-policy-version`` output: the API returns the document URL-encoded (RFC 3986)."""
    version = value["PolicyVersion"]
    document = version.get("Document") if isinstance(version, dict) else None
    smap = calculate(text)
    entry = smap.get("/PolicyVersion/Document")
    line_offset = int(entry.value_start.line) if entry is not None else 0
    if isinstance(document, str):
        policy_text = urllib.parse.unquote(document)
    elif isinstance(document, dict):
        policy_text = json.dumps(document, indent=2)
    else:
        raise InputError(where, "PolicyVersion.Document must be a URL-encoded policy or a JSON object")
    pid = Path(artifact).name or "policy"
    vid = version.get("VersionId")
    if isinstance(vid, str):
        pid = f"{pid}@{vid}"
    source = PolicySource(artifact, line_offset=line_offset, exact=False)
    try:
        compile_text(policy_text, "identity")
    except PolicyError as e:
        raise _located(f"{where} (PolicyVersion.Document)", e, exact=False) from None
    return _single_named(arg, where, pid, policy_text, source, cache)


def _single_named(
    arg: str, where: str, pid: str, text: str, source: PolicySource, cache: PolicyCache | None
) -> PolicySet:
    policy = Policy.of(pid, text, "user")
    case = Case(requests=[_PLACEHOLDER], identity_policies=[policy])
    return _prepared(arg, where, case, {pid: source}, cache)


def _from_case(
    arg: str, where: str, artifact: str, text: str, value: dict[str, Any], cache: PolicyCache | None
) -> PolicySet:
    """A case-format v1 case; its requests, if any, are ignored (a policy set has none)."""
    from reference.caseio import decode_case

    body = dict(value)
    body["requests"] = [msgspec.to_builtins(_PLACEHOLDER)]
    try:
        case = decode_case(json.dumps(body))
    except CaseInputError as exc:
        err = exc.error
        smap = calculate(text)
        pointer = _pointer_of(err.path)
        entry = smap.get(pointer)
        loc = f":{entry.value_start.line + 1}:{entry.value_start.column + 1}" if entry is not None else ""
        raise InputError(f"{where}{loc}", f"error [{err.code}] {err.path}: {err.message}") from None
    smap = calculate(text)
    sources: dict[str, PolicySource] = {}
    seen: set[str] = set()
    for placed in case_policies(case):
        pid = placed.policy.id
        if pid in seen:
            raise InputError(where, f"policy id {pid!r} is used twice; ids name policies in the report")
        seen.add(pid)
        entry = smap.get(_pointer_of(placed.path) + "/document")
        # Positions refer to the policy text, not to the case file: point at the document's first line.
        offset = int(entry.value_start.line) if entry is not None else 0
        sources[pid] = PolicySource(artifact, line_offset=offset, exact=False)
    return _prepared(arg, where, case, sources, cache)


def _pointer_of(path: str) -> str:
    """``$.scps[0][1].document`` -> ``/scps/0/1/document``."""
    out = ""
    token = ""
    i = 1 if path.startswith("$") else 0
    while i < len(path):
        ch = path[i]
        if ch == ".":
            if token:
                out += "/" + token
            token = ""
        elif ch == "[":
            if token:
                out += "/" + token
            token = ""
            j = path.index("]", i)
            out += "/" + path[i + 1 : j]
            i = j
        else:
            token += ch
        i += 1
    if token:
        out += "/" + token
    return out
