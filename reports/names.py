"""Names the catalog does not know: services, actions, resource types and condition keys.

A policy that allows ``s3:GetObjekt`` grants nothing, and IAM accepts it
silently; so do a condition on ``aws:SourceIP`` misspelt, or a Resource for a
resource type the service does not have.  The catalog is the Service
Authorization Reference (``reference.catalog``) plus the global-key table
(``reference.global_keys``); the nearest known name is the closest by
``difflib`` (ratio at least 0.6), compared without regard to case as IAM
compares these names (reference_policies_elements_action.html,
reference_policies_elements_condition.html).
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from reference.catalog import get_catalog
from reference.document import PathPart
from reference.evaluator import PreparedCase
from reference.global_keys import GLOBAL_KEYS
from reports.inputs import PolicySet
from reports.model import NameWarning

Kind = Literal["service", "action", "resource-type", "condition-key"]
_VARIABLE = re.compile(r"\$\{[^}]*\}")


@dataclass(frozen=True, slots=True)
class Unknown:
    policy_id: str
    kind: Kind
    name: str
    nearest: str | None
    line: int  # in the policy text
    column: int

    def text(self) -> str:
        near = f"; nearest known: {self.nearest}" if self.nearest else ""
        return f"unknown {self.kind} {self.name!r} in {self.policy_id} (line {self.line}, column {self.column}){near}"


def _nearest(name: str, candidates: Sequence[str]) -> str | None:
    by_lower = {c.lower(): c for c in candidates}
    found = difflib.get_close_matches(name.lower(), list(by_lower), n=1, cutoff=0.6)
    return by_lower[found[0]] if found else None


@functools.cache
def _service_names() -> tuple[str, ...]:
    return get_catalog().services()


@functools.cache
def _action_names(service: str) -> tuple[str, ...]:
    return tuple(a.full_name for a in get_catalog().actions(service))


@functools.cache
def _key_names(service: str) -> tuple[str, ...]:
    cat = get_catalog()
    own = tuple(k.name for k in cat.condition_keys(service)) if cat.has_service(service) else ()
    return own + tuple(k.name for k in GLOBAL_KEYS)


def _check_action(name: str) -> tuple[Kind, str | None] | None:
    cat = get_catalog()
    if name == "*":
        return None
    service, _, rest = name.partition(":")
    if not cat.has_service(service):
        return "service", _nearest(service, _service_names())
    if "*" in rest or "?" in rest:
        from reference.patterns import glob

        pattern = glob(name, ignore_case=True)
        if any(pattern.fullmatch(a) for a in _action_names(service.lower())):
            return None
        return "action", _nearest(name.replace("*", "").replace("?", ""), _action_names(service.lower()))
    if cat.action(name) is not None:
        return None
    return "action", _nearest(name, _action_names(service.lower()))


def _check_resource(pattern: str) -> tuple[Kind, str | None] | None:
    """A resource pattern whose service is unknown, or whose literal resource part fits no resource type.

    Only patterns whose resource part starts with literal text are judged
    (``arn:aws:sagemaker:*:*:*`` could be any type)."""
    if pattern == "*" or not pattern.startswith("arn:"):
        return None
    parts = _VARIABLE.sub("x", pattern).split(":", 5)
    if len(parts) < 6:
        return None
    cat = get_catalog()
    service = parts[2]
    if not cat.has_service(service):
        return "service", _nearest(service, _service_names())
    res = parts[5]
    types = cat.resource_types(service)
    if not res or res[0] in "*?" or not types:
        return None
    cut = min((i for i in (res.find("/"), res.find(":")) if i >= 0), default=len(res))
    token, delimiter = res[:cut], res[cut : cut + 1]
    if "*" in token or "?" in token:
        return None
    tails = [_template_tail(t.template) for rt in types for t in rt.arn_templates]
    for tail in tails:
        if tail.startswith("${") or (tail.startswith(token + delimiter) and (delimiter or tail == token)):
            return None
    tokens = sorted({re.split(r"[/:]", t, maxsplit=1)[0] for t in tails if not t.startswith("${")})
    return "resource-type", _nearest(token, tokens)


def _template_tail(arn: str) -> str:
    return arn.split(":", 5)[-1]


def _check_key(name: str) -> tuple[Kind, str | None] | None:
    if get_catalog().condition_key(name) is not None:
        return None
    return "condition-key", _nearest(name, _key_names(name.partition(":")[0].lower()))


def find_unknown(prepared: PreparedCase) -> list[Unknown]:
    """Every unknown name in the case's policies, in policy order."""
    out: list[Unknown] = []
    for slot in prepared.slots:
        doc = slot.compiled.parsed.document
        for cs in slot.compiled.statements:
            s = cs.statement
            aname = "NotAction" if s.action_negated else "Action"
            for i, a in enumerate(s.actions):
                found = _check_action(a)
                if found:
                    out.append(_at(slot.policy_id, found, a, doc, [*s.path, aname], i))
            rname = "NotResource" if s.resource_negated else "Resource"
            for i, r in enumerate(s.resources):
                found = _check_resource(r)
                if found:
                    out.append(_at(slot.policy_id, found, r, doc, [*s.path, rname], i))
            for op, keys in (s.condition or {}).items():
                for key in keys:
                    found = _check_key(key)
                    if found:
                        line, col = _key_position(doc, [*s.path, "Condition", op, key])
                        out.append(Unknown(slot.policy_id, found[0], key, found[1], line, col))
    return out


def _at(pid: str, found: tuple[Kind, str | None], name: str, doc: object, path: list[PathPart], i: int) -> Unknown:
    from reference.document import ParsedDocument

    assert isinstance(doc, ParsedDocument)
    start, _ = doc.span([*path, i])
    if (start.line, start.column) == (1, 1):
        start, _ = doc.span(path)
    return Unknown(pid, found[0], name, found[1], start.line, start.column)


def _key_position(doc: object, path: list[PathPart]) -> tuple[int, int]:
    from reference.document import ParsedDocument

    assert isinstance(doc, ParsedDocument)
    start, _ = doc.span(path)
    return start.line, start.column


def unknown_names(version: str, policy_set: PolicySet) -> list[NameWarning]:
    out = []
    for u in find_unknown(policy_set.prepared):
        source = policy_set.sources[u.policy_id]
        line, column = source.locate(u.line, u.column)
        out.append(
            NameWarning(
                version=version,
                kind=u.kind,
                name=u.name,
                nearest=u.nearest,
                policy=u.policy_id,
                file=source.path,
                line=line,
                column=column,
            )
        )
    return out
