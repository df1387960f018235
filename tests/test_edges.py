"""strategies.edges: every edge case's request tells the reference from the mutant it is aimed at.

Through ``mutants.classify`` (the mutant made in a process of its own): a few derandomized examples of
each edge strategy must hold a request whose decision differs under the mutant.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reference.compiled import PolicyCache
from reference.evaluator import evaluate_case
from reference.model import Case, Policy
from strategies.edges import (
    action_edge_cases,
    boundary_deny_cases,
    combined_edge_cases,
    resource_edge_cases,
    scp_gap_cases,
    string_like_edge_cases,
)

ROOT = Path(__file__).resolve().parent.parent


@st.composite
def _identity_edge(draw: st.DrawFn, strategy: st.SearchStrategy[tuple[dict[str, object], list[object]]]) -> Case:
    document, requests = draw(strategy)
    return Case(identity_policies=[Policy.of("policy", json.dumps(document))], requests=requests)  # type: ignore[arg-type]


@st.composite
def _boundary_edge(draw: st.DrawFn) -> Case:
    identity, boundary, requests = draw(boundary_deny_cases())
    return Case(
        identity_policies=[Policy.of("policy", json.dumps(identity))],
        permissions_boundary=Policy.of("boundary", json.dumps(boundary), "boundary"),
        requests=requests,
    )


def _draw(strategy: st.SearchStrategy[Case], count: int = 12) -> list[Case]:
    drawn: list[Case] = []

    @settings(max_examples=count, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
    @given(strategy)
    def collect(case: Case) -> None:
        drawn.append(case)

    collect()
    return drawn


def _decisions_under(name: str, cases: list[Case], tmp_path: Path) -> list[list[str]]:
    path = tmp_path / f"{name}.ndjson"
    path.write_bytes(b"".join(msgspec.json.encode(c) + b"\n" for c in cases))
    out = subprocess.run(
        [sys.executable, "-m", "mutants.classify", name, str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    return [json.loads(line) for line in out.splitlines()]


@st.composite
def _scp_edge(draw: st.DrawFn) -> Case:
    identity, scps, requests = draw(scp_gap_cases())
    return Case(
        identity_policies=[Policy.of("policy", json.dumps(identity))],
        scps=[[Policy.of(f"scp-{level}", json.dumps(scp), "scp")] for level, scp in enumerate(scps)],
        requests=requests,
    )


EDGES = {
    "question-mark-any-run": _identity_edge(string_like_edge_cases()),
    "notaction-read-as-action": _identity_edge(action_edge_cases()),
    "resource-mid-star-crosses-colons": _identity_edge(resource_edge_cases()),
    "combined: question-mark-any-run": _identity_edge(combined_edge_cases()),
    "boundary-deny-ignored": _boundary_edge(),
    "scp-ignored": _scp_edge(),
    "scp-any-level-allows": _scp_edge(),
}


@pytest.mark.parametrize("mutant", list(EDGES))
def test_an_edge_strategy_reveals_its_mutant(mutant: str, tmp_path: Path) -> None:
    cases = _draw(EDGES[mutant], 30 if ":" not in mutant else 3)  # every combined case holds every edge
    mutant = mutant.split(": ")[-1]
    cache = PolicyCache()
    right = [[r.decision.value for r in evaluate_case(c, cache).results] for c in cases]
    assert _decisions_under(mutant, cases, tmp_path) != right  # some request reveals the mutant
