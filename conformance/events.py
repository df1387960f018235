"""The run's events: one typed model, written as NDJSON, read back by the summary and by ``reports/``.

``iamconf run`` (through the pytest plugin) writes ``events.ndjson`` in the
report directory, one JSON object a line, each tagged by its ``event`` kind:

- ``run-start``: the run header (targets, Hypothesis profile, the seed
  Hypothesis really used, whether the profile is derandomized, versions);
- ``target-started`` / ``target-skipped`` (with the reason: never counted as
  conforming);
- ``check``: one compared request (or one case the target refused or failed
  as a whole), with the feature families the case exercised and the one that
  decided the request;
- ``suite-health``: per suite and target, how many requests were compared and
  how many the target refused (the health check fails below a share);
- ``divergence``: the minimal case Hypothesis shrank to, with its reproduction;
- ``run-end``.

:class:`EventWriter` is the one writer (it flushes every event, so a killed
run leaves every event before the kill); :func:`read_events` the one reader.
This module imports only ``reference.model``: ``reports/`` may import it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import IO

import msgspec

from reference.model import Case, RequestResult

EVENTS_FILE = "events.ndjson"


class _Event(msgspec.Struct, tag_field="event", kw_only=True):
    """Base of every event: tagged by ``event``."""


class RunStarted(_Event, tag="run-start"):
    targets: list[str]
    profile: str
    # The seed every suite of the run used (``--seed``); None when each suite drew
    # its own (see SuiteHealth.seed / DivergenceEvent.seed) or when the profile is
    # derandomized (the examples then follow from each test alone and ``--seed``
    # changes nothing).
    seed: int | None = None
    derandomized: bool = False
    # The seed asked for on the command line, when it was ignored (derandomized profile).
    ignored_seed: int | None = None
    versions: dict[str, str] = {}
    corpus_dir: str | None = None


class RunEnded(_Event, tag="run-end"):
    skipped_targets: dict[str, str] = {}


class TargetStarted(_Event, tag="target-started"):
    target: str
    checks: list[str] = []
    version: str | None = None


class TargetSkipped(_Event, tag="target-skipped"):
    target: str
    reason: str


class CheckEvent(_Event, tag="check"):
    """One compared request, or one case answered (unsupported, failure, invalid) as a whole."""

    suite: str
    target: str
    status: str  # conformance.harness.Status value
    # Feature families (conformance.features.FEATURES) the case exercised.
    features: list[str] = []
    # The one feature family that decided the request (conformance.features.deciding_feature):
    # the matrix counts the request under it.  None for a case-level event.
    deciding: str | None = None
    known: str | None = None  # the known-divergence entry that explained it
    reason: str | None = None
    # How many requests this event stands for: 1, or the case's requests for a case-level event.
    requests: int = 1


class SuiteHealth(_Event, tag="suite-health"):
    """Share of a suite's requests a target compared (the rest it refused as unsupported)."""

    nodeid: str
    target: str
    compared: int
    unsupported: int
    threshold: float
    passed: bool
    seed: int | None = None  # the seed the suite's examples came from (None: derandomized)


class MismatchRecord(msgspec.Struct):
    check: str
    expected: str
    observed: str


class DivergenceEvent(_Event, tag="divergence"):
    nodeid: str
    target: str
    status: str
    request_index: int | None
    expected: RequestResult | None
    observed: RequestResult | None
    mismatches: list[MismatchRecord]
    reason: str | None
    description: str
    case: Case
    seed: int | None  # the seed the suite's examples came from (None: derandomized profile)
    corpus: str  # the file the minimal case was written to
    replay: str  # ``iamconf replay <that file> --target <target>``
    example: str  # a ready-to-paste ``@example``


Event = RunStarted | RunEnded | TargetStarted | TargetSkipped | CheckEvent | SuiteHealth | DivergenceEvent

_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder(Event)


class EventWriter:
    """Writes events to one NDJSON file, flushing after each."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._file: IO[bytes] | None = path.open("wb")

    def write(self, event: Event) -> None:
        if self._file is None:
            return
        self._file.write(_ENCODER.encode(event) + b"\n")
        self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> EventWriter:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()


def decode_event(line: bytes | str) -> Event:
    return _DECODER.decode(line)


def iter_events(path: Path) -> Iterator[Event]:
    """The events of one file, in order; a missing file has none."""
    if not path.is_file():
        return
    with path.open("rb") as f:
        for line in f:
            if line.strip():
                yield _DECODER.decode(line)


def read_events(path: Path) -> list[Event]:
    """Every event of an ``events.ndjson`` file (a directory means its ``events.ndjson``)."""
    if path.is_dir():
        path = path / EVENTS_FILE
    return list(iter_events(path))
