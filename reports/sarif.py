"""SARIF 2.1.0 for ``diff`` and ``check``, so a code-scanning tab shows results on the policy.

Each result sits at the file, line and column of the statement that decides
it (for a newly denied request that no statement of the new version decides,
the old version's statement).  Rule ids are fixed strings, the same in every
run; ``partialFingerprints`` identify a result by what it is about (action and
direction, claim id), not by where it was found.  The output is checked against
the OASIS SARIF 2.1.0 schema shipped in ``reports/schema/`` (tests/test_reports_diff.py).
"""

from __future__ import annotations

import importlib.metadata
import urllib.parse
from typing import Any

from reports.model import Change, CheckReport, DiffReport, NameWarning, StatementRef
from reports.wording import request_json, where

SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
INFORMATION_URI = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html"

RULES: dict[str, tuple[str, str]] = {
    # id: (short description, default level)
    "IAMCONF-DIFF-NEWLY-ALLOWED": ("The new version allows requests the old version did not", "error"),
    "IAMCONF-DIFF-NEWLY-DENIED": ("The new version denies requests the old version allowed", "warning"),
    "IAMCONF-CHECK-CLAIM-BROKEN": ("A claim of the spec does not hold for the policy set", "error"),
    # The SMT proof (reports/prove.py): a note when proved, a warning when not proved (with the reason).
    "IAMCONF-DIFF-PROOF": ("Whether any request beyond the reported changes changes its decision", "note"),
    "IAMCONF-CHECK-PROOF": ("Whether a claim holds for every request in its scope", "note"),
    "IAMCONF-UNKNOWN-SERVICE": ("A service prefix the IAM catalog does not know", "warning"),
    "IAMCONF-UNKNOWN-ACTION": ("An action the IAM catalog does not know: it grants or denies nothing", "warning"),
    "IAMCONF-UNKNOWN-RESOURCE-TYPE": ("A resource the service's resource types do not fit", "warning"),
    "IAMCONF-UNKNOWN-CONDITION-KEY": ("A condition key neither the catalog nor the global keys know", "warning"),
}
_RULE_IDS = list(RULES)


def _version() -> str:
    try:
        return importlib.metadata.version("iam-conformance")
    except importlib.metadata.PackageNotFoundError:  # running from a checkout
        return "0.1.0"


def _uri(path: str) -> str:
    if path in ("-", "<stdin>"):
        return "stdin"
    if path.startswith("/"):
        return "file://" + urllib.parse.quote(path)
    return urllib.parse.quote(path)


def _location(file: str, line: int, column: int) -> dict[str, Any]:
    return {
        "physicalLocation": {
            "artifactLocation": {"uri": _uri(file)},
            "region": {"startLine": max(line, 1), "startColumn": max(column, 1)},
        }
    }


def _result(
    rule: str,
    text: str,
    locations: list[dict[str, Any]],
    fingerprint: str,
    props: dict[str, Any],
    level: str | None = None,
) -> dict[str, Any]:
    return {
        "ruleId": rule,
        "ruleIndex": _RULE_IDS.index(rule),
        "level": level or RULES[rule][1],
        "message": {"text": text},
        "locations": locations,
        "partialFingerprints": {"iamconf/v1": fingerprint},
        "properties": props,
    }


def _statement_location(ref: StatementRef) -> dict[str, Any]:
    return _location(ref.file, ref.line, ref.column)


def _change_result(direction: str, c: Change, new_files: list[str]) -> dict[str, Any]:
    """On the new version's deciding statement; when no statement of the new version decides (a grant
    taken away), on the old version's statement -- unless that file is also the new version's (``REV:PATH``
    against PATH), whose lines have moved: then on the new file's first line."""
    rule = "IAMCONF-DIFF-NEWLY-ALLOWED" if direction == "newly_allowed" else "IAMCONF-DIFF-NEWLY-DENIED"
    if c.new_statement is not None:
        locations = [_statement_location(c.new_statement)]
    elif c.old_statement is not None and c.old_statement.file not in new_files:
        locations = [_statement_location(c.old_statement)]
    elif new_files:
        locations = [_location(new_files[0], 1, 1)]
    else:
        locations = []
    verb = "newly allowed" if direction == "newly_allowed" else "newly denied"
    how = "found by the SMT proof" if c.found_by == "proof" else f"{c.count} request(s) searched changed"
    text = (
        f"{c.action} is {verb} ({how}). Smallest request: {request_json(c.request())}. "
        f"Old: {c.old} ({where(c.old_statement)}); new: {c.new} ({where(c.new_statement)})."
    )
    props = {"action": c.action, "resource": c.resource, "count": c.count, "old": c.old, "new": c.new}
    props["found_by"] = c.found_by
    return _result(rule, text, locations, f"{direction}:{c.action.lower()}", props)


def _warning_result(w: NameWarning) -> dict[str, Any]:
    rule = "IAMCONF-UNKNOWN-" + w.kind.upper()
    return _result(
        rule,
        f"{w.version}: {w.text()}",
        [_location(w.file, w.line, w.column)],
        f"{w.kind}:{w.name.lower()}",
        {"name": w.name, "nearest": w.nearest},
    )


def _log(results: list[dict[str, Any]]) -> dict[str, Any]:
    rules = [
        {
            "id": rule,
            "name": rule.title().replace("-", ""),
            "shortDescription": {"text": text},
            "defaultConfiguration": {"level": level},
        }
        for rule, (text, level) in RULES.items()
    ]
    return {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "iamconf",
                        "version": _version(),
                        "informationUri": INFORMATION_URI,
                        "rules": rules,
                    }
                },
                "results": results,
            }
        ],
    }


def diff_sarif(report: DiffReport) -> dict[str, Any]:
    new_files = report.versions["new"].files
    results = [_change_result("newly_allowed", c, new_files) for c in report.newly_allowed]
    results += [_change_result("newly_denied", c, new_files) for c in report.newly_denied]
    results += [_warning_result(w) for w in report.warnings]
    if report.proved is not None:
        for p in report.proved.directions:
            verb = p.direction.replace("_", " ")
            results.append(
                _result(
                    "IAMCONF-DIFF-PROOF",
                    f"{verb}: {p.summary()} (covered: {report.proved.covered}; over {report.proved.scope})",
                    [],
                    f"proof:{p.direction}",
                    {"direction": p.direction, "status": p.status, "reason": p.reason, "new_actions": p.new_actions},
                    level="warning" if p.status == "not_proved" else "note",
                )
            )
    return _log(results)


def check_sarif(report: CheckReport) -> dict[str, Any]:
    results = []
    for r in report.broken:
        claim = r.claim
        ex = r.counterexamples[0]
        if ex.statement is not None:
            locations = [_statement_location(ex.statement)]
        else:
            locations = [_location(report.spec, claim.line, claim.column)]
        scope = f"{claim.expect} {', '.join(claim.actions)} on {', '.join(claim.resources)}"
        shown = f"{request_json(ex.request)} is {ex.decision} ({where(ex.statement)})"
        text = f"Claim {claim.id!r} ({scope}) is broken: {shown}."
        if claim.source:
            text += f" Documentation: {claim.source}"
        results.append(
            _result(
                "IAMCONF-CHECK-CLAIM-BROKEN",
                text,
                locations,
                f"claim:{claim.id}",
                {"claim": claim.id, "counterexamples": len(r.counterexamples)},
            )
        )
    results += [_warning_result(w) for w in report.warnings]
    if report.proved is not None:
        for cp in report.proved.claims:
            results.append(
                _result(
                    "IAMCONF-CHECK-PROOF",
                    f"Claim {cp.claim!r}: {cp.summary()} (over {report.proved.scope})",
                    [],
                    f"proof:{cp.claim}",
                    {"claim": cp.claim, "status": cp.status, "reason": cp.reason},
                    level={"proved": "note", "refuted": "error"}.get(cp.status, "warning"),
                )
            )
    return _log(results)
