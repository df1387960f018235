"""``iamconf batch`` (the nightly job's batched run) against ``iamconf serve``, and ``iamconf merge``.

Issue 9, items 3, 4 and 9: batches of many requests per SimulateCustomPolicy
call, a call budget that holds (counted by the server itself), recordings that
say they come from a local endpoint and are never replayed as AWS, feature
shards, shards merged into one report, and the same seed giving the same report.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conformance.cli import main
from conformance.serve import SimulatorServer
from conformance.targets.replay import RecordingStore, ReplayTarget

FLIP = {"allowed": "implicitDeny", "implicitDeny": "allowed", "explicitDeny": "allowed"}


def events(report: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (report / "events.ndjson").read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def server() -> Iterator[SimulatorServer]:
    with SimulatorServer("127.0.0.1", 0) as s:
        yield s


def batch(url: str, report: Path, *extra: str) -> int:
    return main(["batch", "--endpoint-url", url, "--report-dir", str(report), "--max-requests", "40", *extra])


def test_batched_run_stays_under_the_call_budget_and_records_a_local_endpoint(
    server: SimulatorServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = server.simulator.calls.get("SimulateCustomPolicy", 0)
    recordings = tmp_path / "recordings"
    code = batch(server.url, tmp_path / "report", "--seed", "4", "--max-calls", "12", "--recordings", str(recordings))
    out = capsys.readouterr().out
    assert code == 0, out
    made = server.simulator.calls["SimulateCustomPolicy"] - before
    end = next(e for e in events(tmp_path / "report") if e["event"] == "batch-end")
    assert made == end["calls"] <= 12  # counted by the server, not by the client alone
    assert end["budget_reached"] is True
    assert end["decisions_per_call"] >= 5  # batches, not one request per call
    sent = [e for e in events(tmp_path / "report") if e["event"] == "check" and e["status"] != "unsupported"]
    assert end["requests"] == len(sent)
    assert "decisions per call" in out and "seed 4" in out and "endpoint local" in out
    files = sorted(recordings.glob("*.json"))
    assert files and all(json.loads(f.read_text())["endpoint_kind"] == "local" for f in files)
    # The replay target never takes a local endpoint's answers for AWS's ...
    replay = ReplayTarget(recordings)
    replay.start()
    assert replay.store.load(replay.endpoint_kinds) == {}
    # ... though they are there, and readable, when asked for explicitly.
    assert len(RecordingStore(recordings).load(None)) == len(files)
    case_file = tmp_path / "recorded-case.json"
    case_file.write_text(json.dumps(json.loads(files[0].read_text())["case"]))
    main(["replay", str(case_file), "--target", "replay", "--recordings", str(recordings)])
    replayed = capsys.readouterr().out
    assert "unsupported: no recording for this case" in replayed and "agree" not in replayed


def test_without_a_budget_the_same_run_makes_more_calls(server: SimulatorServer, tmp_path: Path) -> None:
    """The budget is what stopped the run above: unbounded, the same seed goes past it."""
    assert batch(server.url, tmp_path, "--seed", "4", "--max-cases", "30") == 0
    end = next(e for e in events(tmp_path) if e["event"] == "batch-end")
    assert end["calls"] > 12 and end["budget_reached"] is False


def test_a_wrong_simulator_fails_the_batch_with_a_replayable_case(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with SimulatorServer("127.0.0.1", 0) as wrong:
        plain = wrong.simulator._result

        def flipped(*args: Any, **kwargs: Any) -> dict[str, Any]:
            out = plain(*args, **kwargs)
            out["EvalDecision"] = FLIP[out["EvalDecision"]]
            for r in out.get("ResourceSpecificResults") or ():
                r["EvalResourceDecision"] = FLIP[r["EvalResourceDecision"]]
            return out

        monkeypatch.setattr(wrong.simulator, "_result", flipped)
        code = batch(wrong.url, tmp_path, "--seed", "4", "--max-calls", "3")
    out = capsys.readouterr().out
    assert code == 1, out
    divergences = [e for e in events(tmp_path) if e["event"] == "divergence"]
    assert divergences and all(Path(d["corpus"]).is_file() for d in divergences)
    assert divergences[0]["replay"].startswith("iamconf replay ")


def test_a_feature_shard_sends_only_cases_of_its_families(server: SimulatorServer, tmp_path: Path) -> None:
    assert batch(server.url, tmp_path, "--seed", "2", "--max-calls", "6", "--feature", "conditions") == 0
    checks = [e for e in events(tmp_path) if e["event"] == "check"]
    assert checks and all(any(f.startswith("conditions:") for f in e["features"]) for e in checks)


def test_an_unknown_feature_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["batch", "--feature", "conditions:nope", "--endpoint-url", "http://127.0.0.1:9"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown feature family 'conditions:nope'" in err[0]


def test_same_seed_same_report_and_another_seed_another(server: SimulatorServer, tmp_path: Path) -> None:
    for name, seed in (("a", "9"), ("b", "9"), ("c", "10")):
        assert batch(server.url, tmp_path / name, "--seed", seed, "--max-calls", "5") == 0
    a, b, c = ((tmp_path / n / "events.ndjson").read_bytes() for n in "abc")
    assert a == b
    assert a != c


# --------------------------------------------------------------------------- merge


@pytest.fixture(scope="module")
def shards(server: SimulatorServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("shards")
    assert batch(server.url, root / "shard-actions", "--seed", "1", "--max-calls", "4", "--feature", "actions") == 0
    assert (
        batch(server.url, root / "shard-conditions", "--seed", "2", "--max-calls", "4", "--feature", "conditions") == 0
    )
    return root


def test_merge_adds_up_the_shards(shards: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["merge", str(shards), "--report-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    merged = events(tmp_path)
    assert merged[0]["event"] == "merge"
    assert [s["shard"] for s in merged[0]["shards"]] == ["shard-actions", "shard-conditions"]
    assert [s["seeds"] for s in merged[0]["shards"]] == [[1], [2]]
    per_shard = {n: events(shards / n) for n in ("shard-actions", "shard-conditions")}
    assert len(merged) == 1 + sum(len(v) for v in per_shard.values())
    checks = sum(1 for v in per_shard.values() for e in v if e["event"] == "check")
    assert sum(1 for e in merged if e["event"] == "check") == checks
    calls = sum(e["calls"] for v in per_shard.values() for e in v if e["event"] == "batch-end")
    assert f"{calls} calls" in out and "by deciding feature family" in out
    assert "shard-actions (seed 1), shard-conditions (seed 2)" in out
    assert (tmp_path / "summary.txt").read_text() == out


def test_merge_fails_when_a_shard_diverged(shards: Path, tmp_path: Path) -> None:
    bad = tmp_path / "shard-bad" / "events.ndjson"
    bad.parent.mkdir()
    bad.write_text(
        json.dumps({"event": "check", "suite": "batch", "target": "aws-simulator", "status": "unexpected divergence"})
        + "\n"
    )
    assert main(["merge", str(shards), str(bad), "--report-dir", str(tmp_path / "out")]) == 1


def test_merge_names_a_bad_line_and_merges_the_rest(
    shards: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "shard-bad" / "events.ndjson"
    bad.parent.mkdir()
    bad.write_text(
        '{"event": "run-end"}\n{"event": \n[1]\n{"event": "check", "suite": 1, "target": "t", "status": "agree"}\n'
    )
    assert main(["merge", str(shards), str(bad), "--report-dir", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0].startswith(f"{bad}:2:") and "malformed-json" in err[0]
    assert err[1].startswith(f"{bad}:3:1:") and "not-an-event" in err[1]
    assert err[2].startswith(f"{bad}:4:1:") and "not-an-event" in err[2] and "$.suite" in err[2]
    merged = events(tmp_path / "out")
    assert sum(1 for e in merged if e.get("shard") == "shard-bad") == 1


def test_merge_of_nothing_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["merge", str(tmp_path), "--report-dir", str(tmp_path / "out")]) == 2
    assert "no events to merge" in capsys.readouterr().err


def test_batch_against_aws_without_the_opt_in_is_skipped_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("IAMCONF_AWS", raising=False)
    assert main(["batch", "--report-dir", str(tmp_path), "--max-calls", "1"]) == 2
    out = capsys.readouterr().out
    assert "skipped aws-simulator:" in out and "not counted as conforming" in out
    kinds = [e["event"] for e in events(tmp_path)]
    assert kinds == ["run-start", "target-skipped", "run-end"]
