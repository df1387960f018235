"""A readable account of one decision: what decided it, and what nearly applied."""

from __future__ import annotations

from typing import Final

from reference.context import RequestContext
from reference.evaluator import PreparedCase
from reference.model import Decision, Request, RequestResult
from reference.principals import PrincipalMatch

_VERB: Final = {
    Decision.ALLOWED: "ALLOWED",
    Decision.EXPLICIT_DENY: "DENIED (explicit deny)",
    Decision.IMPLICIT_DENY: "DENIED (implicit deny: nothing allows it)",
}


def explain(prepared: PreparedCase, request: Request, result: RequestResult) -> list[str]:
    lines = [f"{_VERB[result.decision]}: {request.action} on {request.resource}"]
    if result.matched_statements:
        lines.append("decided by:")
        for m in result.matched_statements:
            sid = f" Sid {m.sid!r}" if m.sid else ""
            lines.append(
                f"  {m.policy_id} ({m.policy_type}) statement {m.statement_index}{sid}, "
                f"lines {m.start.line}-{m.end.line}"
            )
    ctx = RequestContext.of(request.context)
    action = request.action.lower()
    notes: list[str] = []
    for slot in prepared.slots:
        for st in slot.compiled.candidates(action):
            s = st.statement
            sid = f" Sid {s.sid!r}" if s.sid else ""
            start, end = slot.compiled.parsed.span(s)
            head = f"  {slot.policy_id} statement {s.index}{sid} (lines {start.line}-{end.line}, {s.effect})"
            if st.principal(prepared.caller) == PrincipalMatch.NONE:
                notes.append(f"{head}: Principal does not name {prepared.caller.arn}")
                continue
            if not st.resources.matches(request.resource, ctx):
                element = "NotResource" if s.resource_negated else "Resource"
                notes.append(f"{head}: {element} {list(s.resources)} does not cover {request.resource}")
                continue
            if st.condition is not None:
                for text, ok in st.condition.explain(ctx):
                    notes.append(f"{head}: condition {text}: {'met' if ok else 'NOT met'}")
            else:
                notes.append(f"{head}: applies")
    if notes:
        lines.append("statements whose Action covers the request:")
        lines.extend(notes)
    else:
        lines.append("no statement's Action covers the request")
    if result.details.boundary_allowed is not None:
        lines.append(f"permissions boundary allows: {result.details.boundary_allowed}")
    if result.details.organizations_allowed is not None:
        lines.append(f"SCPs allow: {result.details.organizations_allowed}")
    missing = ", ".join(result.missing_context_values) or "none"
    lines.append(f"missing context values: {missing}")
    return lines
