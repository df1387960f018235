"""Minimal failing cases, kept and replayed forever after.

One case-format v1 JSON file per case under ``conformance/corpus/<target>/``,
named by the case id.  ``tests/test_corpus.py`` replays every file against
its target in ``tox``; a case stays red until the reference is fixed or a
known-divergence entry explains it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import msgspec

from reference.model import Case

CORPUS_DIR = Path(__file__).parent / "corpus"


def case_key(case: Case) -> str:
    """A stable name: the case id, or a hash of its canonical JSON."""
    if isinstance(case.id, str) and case.id:
        safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in case.id)
        return safe[:80]
    digest = hashlib.sha256(msgspec.json.encode(msgspec.structs.replace(case, id=msgspec.UNSET))).hexdigest()
    return f"case-{digest[:16]}"


def save(target: str, case: Case, corpus_dir: Path = CORPUS_DIR) -> Path:
    """Write the case as ``<corpus>/<target>/<key>.json`` (pretty, one case) and return the path."""
    folder = corpus_dir / target
    folder.mkdir(parents=True, exist_ok=True)
    key = case_key(case)
    if not isinstance(case.id, str):
        case = msgspec.structs.replace(case, id=key)
    path = folder / f"{key}.json"
    path.write_bytes(msgspec.json.format(msgspec.json.encode(case), indent=2) + b"\n")
    return path


def load(path: Path) -> list[Case]:
    """Cases from a corpus file (one JSON case) or a JSON-lines file."""
    data = path.read_bytes()
    if path.suffix == ".json":
        return [msgspec.json.decode(data, type=Case)]
    return [msgspec.json.decode(line, type=Case) for line in data.splitlines() if line.strip()]


def files(target: str, corpus_dir: Path = CORPUS_DIR) -> Iterator[Path]:
    folder = corpus_dir / target
    if folder.is_dir():
        yield from sorted(folder.glob("*.json"))
