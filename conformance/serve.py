"""``iamconf serve``: a local IAM policy simulator answered by the reference evaluator.

It speaks the AWS Query protocol of IAM (API version 2010-05-08) for two
operations of the IAM API Reference, ``SimulateCustomPolicy`` and
``GetContextKeysForCustomPolicy``: a form-encoded POST (or GET) with
``Action=...&Version=2010-05-08&PolicyInputList.member.1=...``, answered with
XML in the namespace ``https://iam.amazonaws.com/doc/2010-05-08/``, errors as
``<ErrorResponse><Error><Type>Sender</Type><Code>...</Code>`` with HTTP 400.
So ``aws iam simulate-custom-policy --endpoint-url http://127.0.0.1:PORT`` and
boto3 work against it unchanged (any credentials; signatures are not checked).

Parameters are read and results written through botocore's service model of
``iam`` (the operation's input and output shapes: member names, ``member``
list wrapping, ``entry``/``key``/``value`` maps, the result wrapper), so the
wire format is the SDK's own rather than a hand-kept copy.

What the answer contains (SimulateCustomPolicy, IAM API Reference, and the
``EvaluationResult`` data type as botocore's model describes it):

- ``result_shape="per-action"`` (default): the current model text, "one
  EvaluationResult per action, regardless of how many resource ARNs are
  provided".  Its ``EvalDecision`` is the most restrictive decision over the
  resources, ``MatchedStatements`` the union of the statements behind that
  decision, ``MissingContextValues`` the union over the resources, and
  ``EvalResourceName`` the action's ARN template from the IAM catalog (``*``
  when ``ResourceArns`` is not given or the action has none).  When
  ``ResourceArns`` is given, ``ResourceSpecificResults`` holds one entry per
  resource.
- ``result_shape="per-resource"``: the shape before that change, one
  ``EvaluationResult`` per action x resource with ``EvalResourceName`` the
  resource (and a one-entry ``ResourceSpecificResults`` when ``ResourceArns``
  is given).
- ``MatchedStatements``: ``SourcePolicyId`` is ``PolicyInputList.N``,
  ``PermissionsBoundaryPolicyInputList.1`` or ``ResourcePolicy``;
  ``SourcePolicyType`` is ``resource`` for the resource policy and omitted for
  the input lists (the AWS CLI's documented example output has none for
  ``PolicyInputList.1``); positions are the reference's (1-based, the start of
  the statement's ``{`` and the column just after its ``}``).  Statements of
  SCPs are left out, as the model text says ("This field doesn't include
  statements from service control policies"), and so are context keys that
  only SCPs read from ``MissingContextValues``.
- ``PermissionsBoundaryDecisionDetail`` when a boundary is given,
  ``OrganizationsDecisionDetail`` when SCPs are given, ``EvalDecisionDetails``
  for a cross-account simulation (``IAM Policy`` and ``Resource Policy``: the
  caller's side and the resource policy alone; key names are this server's
  choice, the API does not list them), empty for a same-account one with
  resource ARNs, absent otherwise and when SCPs deny.
- An invalid policy is ``MalformedPolicyDocument`` (HTTP 400) with the
  reference's message and position; ``ResourceHandlingOption`` is accepted and
  ignored.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import ipaddress
import json
import re
import signal
import socket
import sys
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit
from xml.etree import ElementTree as ET

import botocore.session

from reference.catalog import ArnTemplate, get_catalog
from reference.compiled import CompiledPolicy, PolicyCache, compile_text
from reference.context import RequestContext
from reference.errors import PolicyError
from reference.evaluator import CaseInputError, PreparedCase, decide, prepare
from reference.model import (
    DEFAULT_CALLER_ARN,
    Case,
    ContextEntry,
    Decision,
    MatchedStatement,
    Policy,
    Request,
    RequestResult,
)
from reference.principals import Caller, PrincipalMatch

NAMESPACE = "https://iam.amazonaws.com/doc/2010-05-08/"
API_VERSION = "2010-05-08"
ResultShape = Literal["per-action", "per-resource"]
_MAX_BODY = 32 * 1024 * 1024
_DEFAULT_MAX_ITEMS = 100  # SimulateCustomPolicy: "the number of items defaults to 100"
_HANDLER_TIMEOUT = 15.0  # seconds a connection may stay silent before it is closed
_RESTRICTIVENESS = {Decision.ALLOWED: 0, Decision.IMPLICIT_DENY: 1, Decision.EXPLICIT_DENY: 2}
_XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


class ApiError(Exception):
    """An error answer of the Query protocol."""

    def __init__(self, code: str, message: str, status: int = 400, sender: bool = True):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.sender = sender


# --------------------------------------------------------------------------- the service model


_MODEL_LOCK = threading.Lock()
_MODEL: Any = None


def iam_model() -> Any:
    """botocore's service model of IAM (loaded once)."""
    global _MODEL
    with _MODEL_LOCK:
        if _MODEL is None:
            _MODEL = botocore.session.get_session().get_service_model("iam")
        return _MODEL


class _Node:
    """The ``a.b.member.1`` keys of a Query request as a tree."""

    __slots__ = ("children", "value")

    def __init__(self) -> None:
        self.value: str | None = None
        self.children: dict[str, _Node] = {}


def _tree(params: Sequence[tuple[str, str]]) -> _Node:
    root = _Node()
    for key, value in params:
        node = root
        for part in key.split("."):
            node = node.children.setdefault(part, _Node())
        node.value = value
    return root


def _serialized_name(shape: Any, default: str) -> str:
    return str(shape.serialization.get("name", default))


def decode_query(shape: Any, node: _Node, path: str = "") -> Any:
    """Query parameters -> the Python value botocore would have serialized (inverse of its QuerySerializer)."""
    kind = shape.type_name
    if kind == "structure":
        out: dict[str, Any] = {}
        for name, member in shape.members.items():
            child = node.children.get(_serialized_name(member, name))
            if child is not None:
                out[name] = decode_query(member, child, f"{path}.{name}" if path else name)
        return out
    if kind == "list":
        wrapper = _serialized_name(shape.member, "member")
        items = node if shape.serialization.get("flattened") else node.children.get(wrapper)
        if items is None:
            return []
        return [decode_query(shape.member, items.children[i], f"{path}[{i}]") for i in _indices(items, path)]
    if kind == "map":
        entries = node if shape.serialization.get("flattened") else node.children.get("entry")
        result: dict[str, Any] = {}
        if entries is not None:
            kname, vname = _serialized_name(shape.key, "key"), _serialized_name(shape.value, "value")
            for i in _indices(entries, path):
                entry = entries.children[i]
                key, value = entry.children.get(kname), entry.children.get(vname)
                if key is None or value is None:
                    raise ApiError("ValidationError", f"{path}: map entry {i} needs a {kname} and a {vname}")
                result[decode_query(shape.key, key, path)] = decode_query(shape.value, value, f"{path}.{i}")
        return result
    text = node.value if node.value is not None else ""
    if kind in ("integer", "long"):
        try:
            return int(text)
        except ValueError:
            raise ApiError("ValidationError", f"{path}: {text!r} is not an integer") from None
    if kind == "boolean":
        if text.lower() not in ("true", "false"):
            raise ApiError("ValidationError", f"{path}: {text!r} is not a boolean")
        return text.lower() == "true"
    return text


def _indices(node: _Node, path: str) -> list[str]:
    for i in node.children:
        if not i.isdigit() or i.startswith("0"):
            raise ApiError("ValidationError", f"{path}: {i!r} is not a list index (1, 2, ...)")
    return sorted(node.children, key=int)


def validate(shape: Any, value: Any, path: str, errors: list[str]) -> None:
    """The constraints of the model: required members, min/max lengths and values, enums."""
    kind = shape.type_name
    meta = shape.metadata
    if kind == "structure":
        for name in meta.get("required", ()):
            if name not in value:
                errors.append(f"{path or 'input'}: missing required member {name}")
        for name, v in value.items():
            validate(shape.members[name], v, f"{path}.{name}" if path else name, errors)
        return
    if kind == "list":
        for i, v in enumerate(value, 1):
            validate(shape.member, v, f"{path}.member.{i}", errors)
    elif kind == "map":
        for k, v in value.items():
            validate(shape.key, k, f"{path}.key", errors)
            validate(shape.value, v, f"{path}.{k}", errors)
    measure = len(value) if kind in ("list", "string", "map") else value if kind in ("integer", "long") else None
    if measure is not None:
        if "min" in meta and measure < meta["min"]:
            errors.append(f"Value at '{path}' failed to satisfy constraint: Member must have {kind} >= {meta['min']}")
        if "max" in meta and measure > meta["max"]:
            errors.append(f"Value at '{path}' failed to satisfy constraint: Member must have {kind} <= {meta['max']}")
    if "enum" in meta and value not in meta["enum"]:
        errors.append(
            f"Value {value!r} at '{path}' failed to satisfy constraint: "
            f"Member must satisfy enum value set: [{', '.join(meta['enum'])}]"
        )


def encode_xml(parent: ET.Element, name: str, shape: Any, value: Any) -> None:
    """A Python value -> XML under ``parent``, as botocore's QueryParser reads it back."""
    elem = ET.SubElement(parent, name)
    kind = shape.type_name
    if kind == "structure":
        for key, v in value.items():
            if v is not None:
                member = shape.members[key]  # KeyError: a field the model does not have
                encode_xml(elem, _serialized_name(member, key), member, v)
    elif kind == "list":
        wrapper = _serialized_name(shape.member, "member")
        for v in value:
            encode_xml(elem, wrapper, shape.member, v)
    elif kind == "map":
        kname, vname = _serialized_name(shape.key, "key"), _serialized_name(shape.value, "value")
        for k, v in value.items():
            entry = ET.SubElement(elem, "entry")
            encode_xml(entry, kname, shape.key, k)
            encode_xml(entry, vname, shape.value, v)
    elif kind == "boolean":
        elem.text = "true" if value else "false"
    else:
        elem.text = _XML_ILLEGAL.sub("\ufffd", str(value))


def response_xml(operation: Any, result: dict[str, Any], request_id: str) -> bytes:
    root = ET.Element(f"{operation.name}Response", xmlns=NAMESPACE)
    out = operation.output_shape
    wrapper = ET.SubElement(root, out.serialization.get("resultWrapper", f"{operation.name}Result"))
    for key, v in result.items():
        if v is not None:
            member = out.members[key]
            encode_xml(wrapper, _serialized_name(member, key), member, v)
    meta = ET.SubElement(root, "ResponseMetadata")
    ET.SubElement(meta, "RequestId").text = request_id
    return bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True))


def error_xml(error: ApiError, request_id: str) -> bytes:
    root = ET.Element("ErrorResponse", xmlns=NAMESPACE)
    err = ET.SubElement(root, "Error")
    ET.SubElement(err, "Type").text = "Sender" if error.sender else "Receiver"
    ET.SubElement(err, "Code").text = error.code
    ET.SubElement(err, "Message").text = _XML_ILLEGAL.sub("\ufffd", error.message)
    ET.SubElement(root, "RequestId").text = request_id
    return bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True))


# --------------------------------------------------------------------------- SimulateCustomPolicy


@dataclass(frozen=True, slots=True)
class ServerOptions:
    result_shape: ResultShape = "per-action"
    throttle_first: int = 0  # answer the first N SimulateCustomPolicy calls with 400 Throttling (retry tests)
    fail_first: int = 0  # then the next N with 500 InternalFailure, a transient server error (retry tests)


@dataclass(frozen=True, slots=True)
class _Simulation:
    prepared: PreparedCase
    actions: list[str]
    resources: list[str]
    explicit_resources: bool
    context: list[ContextEntry]
    cross_account: bool
    non_scp_keys: frozenset[str]  # lower-cased context keys read by the non-SCP policies
    identity_only: PreparedCase | None  # the caller's side alone, for EvalDecisionDetails
    resource_policy: CompiledPolicy | None


def _policy_keys(compiled: CompiledPolicy) -> list[str]:
    return [k for s in compiled.statements for k in s.keys]


def _check_caller(caller: str) -> None:
    """CallerArn: "You cannot specify the ARN of an assumed role, federated user, or a service principal"."""
    parts = caller.split(":", 5)
    if (
        len(parts) < 6
        or parts[0] != "arn"
        or parts[2] != "iam"
        or not parts[5].startswith(("user/", "role/", "group/"))
    ):
        raise ApiError("InvalidInput", f"CallerArn {caller!r} must be the ARN of an IAM user, group or role")


def _case_of(params: dict[str, Any]) -> tuple[Case, list[str], list[str], bool, list[ContextEntry]]:
    boundary = params.get("PermissionsBoundaryPolicyInputList", [])
    if len(boundary) > 1:
        # PermissionsBoundaryPolicyInputList: "You can input only one permissions boundary".
        raise ApiError("InvalidInput", "only one permissions boundary policy can be simulated")
    resource_policy = params.get("ResourcePolicy")
    caller = params.get("CallerArn")
    if resource_policy is not None and caller is None:
        # CallerArn: "CallerArn is required if you include a ResourcePolicy".
        raise ApiError("InvalidInput", "CallerArn is required when a ResourcePolicy is given")
    if caller is not None:
        _check_caller(caller)
    actions = list(dict.fromkeys(params["ActionNames"]))
    for a in actions:
        if "*" in a or "?" in a:
            # ActionNames: "This operation does not support using wildcards (*) in an action name."
            raise ApiError("InvalidInput", f"action name {a!r}: wildcards are not supported")
    explicit = "ResourceArns" in params and bool(params["ResourceArns"])
    resources = list(dict.fromkeys(params["ResourceArns"])) if explicit else ["*"]
    if resource_policy is not None and any(":iam::" in r and ":role/" in r for r in resources):
        # ResourceArns: "Simulation of resource-based policies isn't supported for IAM roles."
        raise ApiError("InvalidInput", "simulation of resource-based policies isn't supported for IAM roles")
    context = []
    for i, e in enumerate(params.get("ContextEntries", []), 1):
        if "ContextKeyName" not in e or "ContextKeyType" not in e:
            raise ApiError("InvalidInput", f"ContextEntries.member.{i} needs a ContextKeyName and a ContextKeyType")
        context.append(
            ContextEntry(key=e["ContextKeyName"], type=e["ContextKeyType"], values=e.get("ContextKeyValues", []))
        )
    levels = params.get("OrderedOrganizationPolicyInputList", [])
    case = Case(
        identity_policies=[Policy.of(f"PolicyInputList.{i}", t) for i, t in enumerate(params["PolicyInputList"], 1)],
        permissions_boundary=Policy.of("PermissionsBoundaryPolicyInputList.1", boundary[0]) if boundary else None,
        resource_policy=Policy.of("ResourcePolicy", resource_policy) if resource_policy is not None else None,
        scps=[
            [
                Policy.of(f"OrderedOrganizationPolicyInputList.{lvl}.ServiceControlPolicyInputList.{i}", t)
                for i, t in enumerate(level.get("ServiceControlPolicyInputList", []), 1)
            ]
            for lvl, level in enumerate(levels, 1)
        ],
        caller_arn=caller if caller is not None else DEFAULT_CALLER_ARN,
        **({"resource_owner": params["ResourceOwner"]} if "ResourceOwner" in params else {}),
        # The requests are made per page (ActionNames x ResourceArns); prepare() only needs the policies.
        requests=[Request(action=actions[0] if actions else "x:x")],
    )
    return case, actions, resources, explicit, context


def _malformed(exc: CaseInputError) -> ApiError:
    pe = exc.policy_error
    if pe is None:
        return ApiError("InvalidInput", exc.error.message)
    where = f" (line {pe.line}, column {pe.column})" if pe.line is not None else ""
    return ApiError("MalformedPolicyDocument", f"{exc.policy_id}: {pe.message} at {pe.path}{where}")


class Simulator:
    """The two operations, on top of one compile cache (thread-safe)."""

    def __init__(self, options: ServerOptions | None = None):
        self.options = options or ServerOptions()
        self._cache = PolicyCache()
        self._lock = threading.Lock()
        self._throttled = 0
        self._failed = 0
        self.calls: dict[str, int] = {}

    def handle(self, params: Sequence[tuple[str, str]]) -> tuple[Any, dict[str, Any]]:
        """(operation model, result dict) for one request; raises ApiError."""
        flat = dict(params)
        action = flat.get("Action")
        handlers: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "SimulateCustomPolicy": self.simulate_custom_policy,
            "GetContextKeysForCustomPolicy": self.get_context_keys_for_custom_policy,
        }
        if action not in handlers:
            raise ApiError("InvalidAction", f"iamconf serve does not answer the action {action!r}")
        if flat.get("Version", API_VERSION) != API_VERSION:
            raise ApiError("InvalidParameterValue", f"unsupported Version {flat['Version']!r} (want {API_VERSION})")
        operation = iam_model().operation_model(action)
        with self._lock:
            self.calls[action] = self.calls.get(action, 0) + 1
            if action == "SimulateCustomPolicy" and self._throttled < self.options.throttle_first:
                self._throttled += 1
                raise ApiError("Throttling", "Rate exceeded")
            if action == "SimulateCustomPolicy" and self._failed < self.options.fail_first:
                self._failed += 1
                raise ApiError("InternalFailure", "transient failure (injected)", 500, sender=False)
        decoded = decode_query(
            operation.input_shape, _tree([(k, v) for k, v in params if k not in ("Action", "Version")])
        )
        errors: list[str] = []
        validate(operation.input_shape, decoded, "", errors)
        if errors:
            raise ApiError("ValidationError", f"{len(errors)} validation error(s) detected: {'; '.join(errors)}")
        with self._lock:
            return operation, handlers[action](decoded)

    # GetContextKeysForCustomPolicy: "a list of all of the context keys referenced in the input policies".
    def get_context_keys_for_custom_policy(self, params: dict[str, Any]) -> dict[str, Any]:
        keys: dict[str, str] = {}
        for i, text in enumerate(params["PolicyInputList"], 1):
            try:
                compiled = compile_text(text, "identity")
            except PolicyError as e:
                if e.code != "principal-not-allowed":
                    raise _malformed_text(f"PolicyInputList.{i}", e) from None
                try:  # a resource-based policy given here
                    compiled = compile_text(text, "resource")
                except PolicyError as e2:
                    raise _malformed_text(f"PolicyInputList.{i}", e2) from None
            for k in _policy_keys(compiled):
                keys.setdefault(k.lower(), k)
        return {"ContextKeyNames": sorted(keys.values(), key=str.lower)}

    def simulate_custom_policy(self, params: dict[str, Any]) -> dict[str, Any]:
        case, actions, resources, explicit, context = _case_of(params)
        try:
            prepared = prepare(case, self._cache)
        except CaseInputError as exc:
            raise _malformed(exc) from None
        sim = self._simulation(prepared, case, actions, resources, explicit, context)
        units: list[tuple[str, list[str]]] = (
            [(a, resources) for a in actions]
            if self.options.result_shape == "per-action"
            else [(a, [r]) for a in actions for r in resources]
        )
        digest = _digest(params)
        start = _read_marker(params.get("Marker"), digest)
        size = params.get("MaxItems", _DEFAULT_MAX_ITEMS)
        page = units[start : start + size]
        out: dict[str, Any] = {"EvaluationResults": [self._result(sim, a, rs) for a, rs in page]}
        truncated = start + size < len(units)
        out["IsTruncated"] = truncated
        if truncated:
            out["Marker"] = _marker(start + size, digest)
        return out

    def _simulation(
        self,
        prepared: PreparedCase,
        case: Case,
        actions: list[str],
        resources: list[str],
        explicit: bool,
        context: list[ContextEntry],
    ) -> _Simulation:
        non_scp = frozenset(
            k.lower() for s in prepared.slots if s.role not in ("scp", "rcp") for k in _policy_keys(s.compiled)
        )
        cross = not prepared.same_account
        identity_only = None
        resource_policy = None
        if cross:
            reduced = Case(
                identity_policies=case.identity_policies,
                permissions_boundary=case.permissions_boundary,
                scps=case.scps,
                caller_arn=case.caller,
                requests=case.requests,
            )
            identity_only = prepare(reduced, self._cache)
            resource_policy = next((s.compiled for s in prepared.slots if s.role == "resource"), None)
        return _Simulation(
            prepared, actions, resources, explicit, context, cross, non_scp, identity_only, resource_policy
        )

    def _result(self, sim: _Simulation, action: str, resources: list[str]) -> dict[str, Any]:
        per = [self._one(sim, action, r) for r in resources]
        decision = max((p.decision for p, _ in per), key=_RESTRICTIVENESS.__getitem__)
        out: dict[str, Any] = {
            "EvalActionName": action,
            "EvalResourceName": resources[0]
            if self.options.result_shape == "per-resource"
            else _arn_template(action, resources)
            if sim.explicit_resources
            else "*",
            "EvalDecision": decision.value,
            "MatchedStatements": _statements(m for p, _ in per if p.decision == decision for m in p.matched_statements),
            "MissingContextValues": _union(k for p, _ in per for k in p.missing_context_values),
        }
        details = _details(sim, [p for p, _ in per], [d for _, d in per])
        if details is not None:
            out["EvalDecisionDetails"] = details
        if sim.prepared.has_boundary:
            allowed = all(bool(p.details.boundary_allowed) for p, _ in per)
            out["PermissionsBoundaryDecisionDetail"] = {"AllowedByPermissionsBoundary": allowed}
        if sim.prepared.scp_levels:
            allowed = all(bool(p.details.organizations_allowed) for p, _ in per)
            out["OrganizationsDecisionDetail"] = {"AllowedByOrganizations": allowed}
        if sim.explicit_resources:
            out["ResourceSpecificResults"] = [_resource_specific(sim, p, d) for p, d in per]
        return out

    def _one(self, sim: _Simulation, action: str, resource: str) -> tuple[RequestResult, dict[str, str] | None]:
        request = Request(action=action, resource=resource, context=sim.context)
        result = decide(sim.prepared, request)
        # MatchedStatements and MissingContextValues leave SCPs out (EvaluationResult, model text).
        result = RequestResult(
            action=result.action,
            resource=result.resource,
            decision=result.decision,
            matched_statements=[m for m in result.matched_statements if m.policy_type not in ("scp", "rcp")],
            missing_context_values=[k for k in result.missing_context_values if k.lower() in sim.non_scp_keys],
            details=result.details,
        )
        details: dict[str, str] | None = None
        if sim.cross_account and sim.identity_only is not None:
            details = {
                "IAM Policy": decide(sim.identity_only, request).decision.value,
                "Resource Policy": _alone(sim.resource_policy, sim.prepared.caller, request).value,
            }
        return result, details


def _malformed_text(source: str, e: PolicyError) -> ApiError:
    where = f" (line {e.line}, column {e.column})" if e.line is not None else ""
    return ApiError("MalformedPolicyDocument", f"{source}: {e.message} at {e.path}{where}")


def _alone(compiled: CompiledPolicy | None, caller: Caller, request: Request) -> Decision:
    """The decision of one resource-based policy on its own: a Deny that applies, else an Allow, else nothing."""
    if compiled is None:
        return Decision.IMPLICIT_DENY
    ctx = RequestContext.of(request.context)
    allowed = False
    for st in compiled.candidates(request.action.lower()):
        if st.principal(caller) == PrincipalMatch.NONE or not st.resources.matches(request.resource, ctx):
            continue
        if st.condition is not None and not st.condition.matches(ctx):
            continue
        if not st.allow:
            return Decision.EXPLICIT_DENY
        allowed = True
    return Decision.ALLOWED if allowed else Decision.IMPLICIT_DENY


def _details(sim: _Simulation, results: list[RequestResult], per: list[dict[str, str] | None]) -> dict[str, str] | None:
    """EvalDecisionDetails: "populated for only cross-account simulations"; "same account and includes a
    resource ARN: present but empty"; "same account and all resources (*): not returned"; not returned
    when an SCP denies."""
    if sim.prepared.scp_levels and not all(r.details.organizations_allowed for r in results):
        return None
    if not sim.cross_account:
        return {} if sim.explicit_resources and sim.resources != ["*"] else None
    merged: dict[str, str] = {}
    for d in per:
        for k, v in (d or {}).items():
            if k not in merged or _RESTRICTIVENESS[Decision(v)] > _RESTRICTIVENESS[Decision(merged[k])]:
                merged[k] = v
    return merged


def _resource_specific(sim: _Simulation, result: RequestResult, details: dict[str, str] | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "EvalResourceName": result.resource,
        "EvalResourceDecision": result.decision.value,
        "MatchedStatements": _statements(result.matched_statements),
        "MissingContextValues": list(result.missing_context_values),
    }
    d = _details(sim, [result], [details])
    if d is not None:
        out["EvalDecisionDetails"] = d
    if sim.prepared.has_boundary:
        out["PermissionsBoundaryDecisionDetail"] = {
            "AllowedByPermissionsBoundary": bool(result.details.boundary_allowed)
        }
    return out


def _statements(matched: Any) -> list[dict[str, Any]]:
    out: dict[tuple[str, int], dict[str, Any]] = {}
    for m in matched:
        assert isinstance(m, MatchedStatement)
        st: dict[str, Any] = {"SourcePolicyId": m.policy_id}
        if m.policy_type == "resource":
            st["SourcePolicyType"] = "resource"
        st["StartPosition"] = {"Line": m.start.line, "Column": m.start.column}
        st["EndPosition"] = {"Line": m.end.line, "Column": m.end.column}
        out.setdefault((m.policy_id, m.statement_index), st)
    return list(out.values())


def _union(keys: Any) -> list[str]:
    seen: dict[str, str] = {}
    for k in keys:
        seen.setdefault(str(k).lower(), str(k))
    return sorted(seen.values(), key=str.lower)


def _arn_template(action: str, resources: list[str]) -> str:
    """EvalResourceName (current model text): "The ARN template for the simulated resource type ... or *
    if no ARN format is defined for the action" — taken from the IAM catalog."""
    catalog = get_catalog()
    found = catalog.action(action)
    if found is None:
        return "*"
    templates: list[ArnTemplate] = []
    for rt in found.resource_types:
        rtype = catalog.resource_type(found.service, rt.name)
        if rtype is not None:
            templates.extend(rtype.arn_templates)
    for t in templates:
        if any(t.match(r) is not None for r in resources):
            return str(t)
    return str(templates[0]) if templates else "*"


def _digest(params: dict[str, Any]) -> str:
    rest = {k: v for k, v in params.items() if k not in ("Marker", "MaxItems")}
    return hashlib.sha256(json.dumps(rest, sort_keys=True).encode()).hexdigest()[:16]


def _marker(offset: int, digest: str) -> str:
    return base64.urlsafe_b64encode(f"{offset}:{digest}".encode()).decode()


def _read_marker(marker: str | None, digest: str) -> int:
    if marker is None:
        return 0
    try:
        offset, _, want = base64.urlsafe_b64decode(marker.encode()).decode().partition(":")
        if want == digest and int(offset) >= 0:
            return int(offset)
    except (ValueError, UnicodeDecodeError):
        pass
    raise ApiError("InvalidInput", "Marker does not belong to this simulation")


# --------------------------------------------------------------------------- HTTP


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: botocore reuses its connections
    disable_nagle_algorithm = True  # headers and body go out as two writes: no 40 ms delayed-ACK stall
    timeout = _HANDLER_TIMEOUT
    server: SimulatorServer

    def do_POST(self) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0:
            self._send(400, error_xml(ApiError("MalformedQueryString", "Content-Length is not a length"), "-"))
            self.close_connection = True
            return
        if length > _MAX_BODY:
            self._send(413, error_xml(ApiError("RequestEntityTooLarge", "request body too large"), "-"))
            self.close_connection = True
            return
        body = self.rfile.read(length).decode("utf-8", errors="replace")
        self._answer(parse_qsl(body, keep_blank_values=True))

    def do_GET(self) -> None:
        self._answer(parse_qsl(urlsplit(self.path).query, keep_blank_values=True))

    def _answer(self, params: list[tuple[str, str]]) -> None:
        request_id = str(uuid.uuid4())
        try:
            operation, result = self.server.simulator.handle(params)
            status, payload = 200, response_xml(operation, result, request_id)
        except ApiError as e:
            status, payload = e.status, error_xml(e, request_id)
        except Exception as e:  # a bug of ours: say so as AWS would, with a 500
            status, payload = (
                500,
                error_xml(ApiError("InternalFailure", f"{type(e).__name__}: {e}", 500, False), request_id),
            )
        self._send(status, payload, request_id)

    def _send(self, status: int, payload: bytes, request_id: str = "-") -> None:
        self.send_response(status, HTTPStatus(status).phrase)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("x-amzn-RequestId", request_id)
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            sys.stderr.write(f"iamconf serve: {self.address_string()} {format % args}\n")


class SimulatorServer(ThreadingHTTPServer):
    """The HTTP server.  The standard library's ThreadingHTTPServer is used on
    purpose: no maintained Python library serves the AWS Query protocol (moto
    and LocalStack bring whole fake clouds and answer 501 or nothing for
    SimulateCustomPolicy), and the protocol is a form POST plus XML."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, host: str, port: int, options: ServerOptions | None = None, verbose: bool = False):
        self.simulator = Simulator(options)
        self.verbose = verbose
        self._connections: set[socket.socket] = set()
        self._conn_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        super().__init__((host, port), _Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        host = str(host)
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._conn_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._conn_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def start(self) -> SimulatorServer:
        """Serve in a daemon thread."""
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self._thread.start()
        return self

    def close(self, timeout: float = 5.0) -> None:
        """Stop serving, drop open keep-alive connections, close the socket; never hangs past ``timeout``."""
        if self._thread is not None:
            stopper = threading.Thread(target=self.shutdown, daemon=True)
            stopper.start()
            stopper.join(timeout)
            self._thread.join(timeout)
            self._thread = None
        with self._conn_lock:
            for conn in list(self._connections):
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
            self._connections.clear()
        self.server_close()

    def __enter__(self) -> SimulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextlib.contextmanager
def running_server(host: str = "127.0.0.1", port: int = 0, options: ServerOptions | None = None) -> Iterator[str]:
    """A server in a thread for the duration of the block; yields its endpoint URL."""
    with SimulatorServer(host, port, options) as server:
        yield server.url


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve_main(host: str = "127.0.0.1", port: int = 8080, *, verbose: bool = False) -> int:
    """Serve until SIGINT or SIGTERM; 0 after a clean stop, 2 if the address cannot be bound."""
    try:
        server = SimulatorServer(host, port, verbose=verbose)
    except OSError as e:
        print(f"iamconf serve: cannot listen on {host}:{port}: {e.strerror or e}", file=sys.stderr)
        return 2
    if not _is_loopback(host):
        print(f"iamconf serve: warning: listening on {host}, reachable from other machines", file=sys.stderr)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        server.start()
        print(f"iamconf serve: IAM policy simulator at {server.url} (Ctrl-C to stop)", file=sys.stderr, flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        server.close()
        for s, h in previous.items():
            signal.signal(s, h)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="iamconf serve", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--verbose", action="store_true", help="log every request on stderr")
    args = parser.parse_args(argv)
    return serve_main(args.host, args.port, verbose=args.verbose)


if __name__ == "__main__":
    sys.exit(main())
