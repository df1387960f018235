"""Minimal failing cases, kept and replayed forever after.

One case-format v1 JSON file per case under ``<corpus>/<target>/``, named by
the case id.  The shipped corpus is the package's ``conformance/corpus/``;
``tests/test_corpus.py`` replays every file of it against its target in
``tox``; a case stays red until the reference is fixed or a known-divergence
entry explains it.

New minimal cases never go into the installed package (a reinstall would lose
them and ``tox`` would never replay them): they go to ``--corpus DIR``, else to
``$IAMCONF_CORPUS_DIR``, else to ``conformance/corpus`` of the checkout the run
is started from (so that the next ``tox`` replays them), else to ``corpus/`` in
the report directory (:func:`default_corpus_dir`).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import msgspec

from reference.model import Case

CORPUS_DIR = Path(__file__).parent / "corpus"  # the shipped corpus (read-only at run time)
PROJECT_NAME = "iam-conformance"


def checkout_root(start: Path | None = None) -> Path | None:
    """The iam-conformance checkout holding ``start`` (default: the working directory), if any."""
    here = (start if start is not None else Path.cwd()).resolve()
    for folder in (here, *here.parents):
        pyproject = folder / "pyproject.toml"
        if not (pyproject.is_file() and (folder / "conformance" / "corpus").is_dir()):
            continue
        try:
            text = pyproject.read_text(encoding="utf-8")
        except OSError:
            continue
        if f'name = "{PROJECT_NAME}"' in text:
            return folder
    return None


def default_corpus_dir(report_dir: Path | None, start: Path | None = None) -> Path:
    """Where new minimal cases go when no ``--corpus`` is given: ``$IAMCONF_CORPUS_DIR``, the checkout's
    corpus, else the report's."""
    if os.environ.get("IAMCONF_CORPUS_DIR"):
        return Path(os.environ["IAMCONF_CORPUS_DIR"])
    root = checkout_root(start)
    if root is not None:
        return root / "conformance" / "corpus"
    return (report_dir if report_dir is not None else Path.cwd() / "iamconf-report") / "corpus"


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
