"""``iamconf merge``: the events of several runs (the nightly job's shards) as one report and one matrix.

Each argument is an ``events.ndjson`` file or a directory searched for them
(a downloaded artifact per shard).  The merged ``events.ndjson`` holds every
event of every shard, in argument order, each tagged with ``"shard"`` (the
file's folder inside the folder given), after one ``merge`` event listing the shards and their seeds;
the summary table and the conformance matrix of ``iamconf run`` are printed
from it and written to ``summary.txt``.  AWS call figures of ``batch-end``
events are added up (decisions per call over all shards).

Exit codes: 0 nothing failed; 1 an unexpected divergence or a target failure
in any shard; 2 an unreadable input (one line each: file, line, column; the
other lines are still merged) or no events at all.
"""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import msgspec

from conformance.events import EVENTS_FILE, MergeStarted, ShardSource, decode_event
from conformance.run_command import RunSummary, print_summary

FAILED = frozenset({"unexpected divergence", "target failure"})


@dataclass
class Shard:
    name: str
    path: Path
    events: list[dict[str, Any]] = field(default_factory=list)


def event_files(inputs: Sequence[str]) -> Iterator[tuple[Path, str]]:
    """Each events file with its shard's name: its folder's path inside the folder given (a shard's
    artifact holds ``batch/`` and ``suites/``), or its own folder's name for a file given as such."""
    for raw in inputs:
        path = Path(raw)
        if path.is_dir():
            for found in sorted(p for p in path.rglob(EVENTS_FILE) if p.is_file()):
                inner = found.parent.relative_to(path).as_posix()
                yield found, inner if inner != "." else path.name
        else:
            yield path, path.parent.name or path.stem


def read_shard(path: Path, name: str, errors: list[str]) -> Shard:
    """Every JSON object line of ``path``; each bad line is one error and is left out."""
    shard = Shard(name, path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        errors.append(f"{path}: cannot read: {getattr(e, 'strerror', None) or e.__class__.__name__}")
        return shard
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except json.JSONDecodeError as e:
            errors.append(f"{path}:{number}:{e.colno}: error [malformed-json] {e.msg}")
            continue
        if not isinstance(event, dict) or not isinstance(event.get("event"), str):
            errors.append(f'{path}:{number}:1: error [not-an-event] $: expected an object with "event"')
            continue
        try:
            decode_event(line)  # the typed model of conformance.events: a field of the wrong type is named
        except msgspec.ValidationError as e:
            errors.append(f"{path}:{number}:1: error [not-an-event] {e}")
            continue
        shard.events.append(event)
    return shard


def _seeds(shard: Shard) -> list[Any]:
    return [e.get("seed") for e in shard.events if e["event"] == "run-start"]


def _shard_name(base: str, taken: set[str]) -> str:
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}-{n}"
    taken.add(name)
    return name


def merge_main(inputs: Sequence[str], report_dir: Path, out: TextIO) -> int:
    errors: list[str] = []
    taken: set[str] = set()
    shards = []
    for path, base in event_files(inputs):
        if not path.exists():
            errors.append(f"{path}: no such file")
            continue
        shards.append(read_shard(path, _shard_name(base, taken), errors))
    for line in errors:
        print(line, file=sys.stderr)
    if not any(s.events for s in shards):
        print("iamconf merge: error: no events to merge", file=sys.stderr)
        return 2
    report_dir.mkdir(parents=True, exist_ok=True)
    merged = report_dir / EVENTS_FILE
    totals = {"calls": 0, "requests": 0, "cases": 0, "retries": 0}
    failed = 0
    with merged.open("w", encoding="utf-8") as f:
        header = MergeStarted(shards=[ShardSource(s.name, str(s.path), _seeds(s)) for s in shards])
        f.write(msgspec.json.encode(header).decode() + "\n")
        for s in shards:
            for e in s.events:
                if e["event"] == "check" and e.get("status") in FAILED:
                    failed += 1
                if e["event"] == "batch-end":
                    for k in totals:
                        totals[k] += int(e.get(k) or 0)
                f.write(json.dumps({**e, "shard": s.name}, default=str) + "\n")
    text = io.StringIO()
    described = ", ".join(f"{s.name} (seed {', '.join(str(x) for x in _seeds(s)) or 'unknown'})" for s in shards)
    print(f"merged {len(shards)} shard(s): {described}", file=text)
    print_summary(RunSummary.read(merged), text)
    if totals["calls"]:
        print(
            f"aws-simulator over all shards: {totals['calls']} calls, {totals['requests']} requests in "
            f"{totals['cases']} cases, {totals['requests'] / totals['calls']:.1f} decisions per call, "
            f"{totals['retries']} retries",
            file=text,
        )
    print(f"report: {merged}", file=text)
    (report_dir / "summary.txt").write_text(text.getvalue(), encoding="utf-8")
    out.write(text.getvalue())
    if errors:
        return 2
    return 1 if failed else 0
