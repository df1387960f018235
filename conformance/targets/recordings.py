"""Recordings of the AWS IAM policy simulator: one JSON file per case, written and read back.

The ``aws-simulator`` target, given a :class:`RecordingStore` as recorder,
writes one JSON file per case into a directory (``conformance/recordings/`` by
default; its README.md describes the format): the case, each
SimulateCustomPolicy call's parameters that vary within the case and the pages
it returned (or its error), when (UTC), with which botocore, and where the
answer came from (``endpoint_kind``, from the endpoint botocore really used).
The ``replay`` target (``conformance.targets.replay``) reads them.

Recordings hold no credentials and no request ids (``ResponseMetadata`` is
dropped).  Account ids are normalised, the same way in the case and in the
responses: every 12-digit number of the case that is not one of the AWS
documentation accounts (111122223333, 444455556666, ...) is replaced, in order
of first appearance, by a documentation account the case does not use.  The
replacement keeps lengths, so statement positions are unchanged, and depends
on the case alone, so a case finds its recording again.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from conformance.targets.simulate_custom_policy import Exchange
from reference.model import Case, Policy

FORMAT = "iamconf-recording/1"
DEFAULT_DIRECTORY = Path(__file__).resolve().parent.parent / "recordings"

# Account ids the AWS documentation uses; kept as they are.
DOC_ACCOUNTS = frozenset({"111122223333", "444455556666", "777788889999", "123456789012", "210987654321"})
# Stand-ins for every other account, first unused first.
PLACEHOLDERS = (
    "111122223333",
    "444455556666",
    "777788889999",
    "555566667777",
    "888899990000",
    "222233334444",
    "333344445555",
    "666677778888",
)
_TWELVE_DIGITS = re.compile(r"(?<![0-9])[0-9]{12}(?![0-9])")


# --------------------------------------------------------------------------- normalisation


def account_mapping(case_json: str, extra: Iterable[str] = ()) -> dict[str, str]:
    """Account id -> placeholder for the case's non-documentation accounts, then ``extra`` ones."""
    present = set(_TWELVE_DIGITS.findall(case_json))
    found = [a for a in dict.fromkeys(_TWELVE_DIGITS.findall(case_json)) if a not in DOC_ACCOUNTS]
    found += [a for a in extra if a not in DOC_ACCOUNTS and a not in found]
    spare = [*PLACEHOLDERS, *(f"9{n:011d}" for n in range(len(found)))]  # 9000000000NN past the list
    free = (p for p in spare if p not in present)
    mapping: dict[str, str] = {}
    for account in found:
        mapping[account] = next(free)
    return mapping


def scrub(text: str, mapping: dict[str, str]) -> str:
    if not mapping:
        return text
    return _TWELVE_DIGITS.sub(lambda m: mapping.get(m.group(0), m.group(0)), text)


def _case_text(case: Case) -> str:
    """The case's JSON, with the effective caller (its default is not in the JSON but is in force)."""
    return f"{case.caller}\n{msgspec.json.encode(case).decode()}"


def normalise_case(case: Case, extra_accounts: Iterable[str] = ()) -> tuple[Case, dict[str, str]]:
    """The case with its accounts replaced, and the mapping used."""
    raw = _case_text(case)
    mapping = account_mapping(raw, extra_accounts)
    if not mapping:
        return case, mapping
    return msgspec.json.decode(scrub(msgspec.json.encode(case).decode(), mapping).encode(), type=Case), mapping


def _policy_key(p: Policy | None) -> str | None:
    return None if p is None else p.text()


def case_key(normalised: Case) -> str:
    """What the simulator was shown, hashed: policy texts, caller, owner, requests (not ids or types)."""
    doc = {
        "identity": [p.text() for p in normalised.identity_policies],
        "boundary": _policy_key(normalised.permissions_boundary),
        "session": _policy_key(normalised.session_policy),
        "resource": _policy_key(normalised.resource_policy),
        "scps": [[p.text() for p in level] for level in normalised.scps],
        "rcps": [[p.text() for p in level] for level in normalised.rcps],
        "caller": normalised.caller,
        "owner": normalised.resource_owner if isinstance(normalised.resource_owner, str) else None,
        "requests": [
            [r.action, r.resource, [[e.key, e.type, e.values] for e in r.context]] for r in normalised.requests
        ],
    }
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _scrub_json(value: Any, mapping: dict[str, str]) -> Any:
    return json.loads(scrub(json.dumps(value), mapping))


# --------------------------------------------------------------------------- the store


@dataclass(frozen=True, slots=True)
class Recording:
    key: str
    case: Case
    exchanges: list[Exchange]
    recorded_at: str
    path: Path


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._")[:80]


class RecordingStore:
    """A directory of recordings: written by the aws-simulator target, read by replay."""

    def __init__(self, directory: str | Path = DEFAULT_DIRECTORY, extra_accounts: Sequence[str] = ()):
        self.directory = Path(directory)
        # Accounts to scrub from answers besides those of the case (e.g. the caller's real account).
        self.extra_accounts = tuple(extra_accounts)

    def record(self, case: Case, exchanges: Sequence[Exchange], *, region: str, endpoint_kind: str) -> Path:
        import botocore

        normalised, _ = normalise_case(case)
        full = account_mapping(_case_text(case), self.extra_accounts)
        key = case_key(normalised)
        doc = {
            "format": FORMAT,
            "key": key,
            "recorded_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
            "botocore_version": botocore.__version__,
            "region": region,
            "endpoint_kind": endpoint_kind,
            "case": msgspec.json.decode(msgspec.json.encode(normalised)),
            "exchanges": [
                _scrub_json(
                    {
                        "request": e.request,
                        **({"pages": e.pages} if e.error is None else {}),
                        **({"error": e.error} if e.error is not None else {}),
                    },
                    full,
                )
                for e in exchanges
            ],
        }
        name = (
            f"{_slug(case.id)}-{key[:12]}.json" if isinstance(case.id, str) and _slug(case.id) else f"{key[:16]}.json"
        )
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / scrub(name, full)
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=1, ensure_ascii=False)
            f.write("\n")
        os.replace(tmp, path)
        return path

    def load(self, endpoint_kinds: Collection[str] | None = None) -> dict[str, Recording]:
        """Every recording by key (the latest one when a case was recorded twice), of the given endpoint kinds."""
        out: dict[str, Recording] = {}
        for path in sorted(self.directory.glob("*.json")):
            raw = json.loads(path.read_text(encoding="utf-8"))
            if raw.get("format") != FORMAT:
                continue
            if endpoint_kinds is not None and raw.get("endpoint_kind") not in endpoint_kinds:
                continue
            rec = Recording(
                key=raw["key"],
                case=msgspec.json.decode(json.dumps(raw["case"]).encode(), type=Case),
                exchanges=[Exchange(e["request"], e.get("pages", []), e.get("error")) for e in raw["exchanges"]],
                recorded_at=raw["recorded_at"],
                path=path,
            )
            if rec.key not in out or out[rec.key].recorded_at <= rec.recorded_at:
                out[rec.key] = rec
        return out
