"""The examples in reports/examples/ are what the code makes now, and the README shows the v2 -> v3 report first."""

from __future__ import annotations

import difflib
import shutil
from pathlib import Path

import pytest

import reports.examples
from reports.examples import main, stale
from tests.reports_support import examples

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "reports" / "examples"


def test_examples_are_up_to_date() -> None:
    made = examples()
    assert sorted(made) == sorted(p.name for p in EXAMPLES.iterdir())
    wrong = [name for name, text in made.items() if (EXAMPLES / name).read_text(encoding="utf-8") != text]
    if wrong:
        old = (EXAMPLES / wrong[0]).read_text(encoding="utf-8").splitlines(keepends=True)
        shown = "".join(list(difflib.unified_diff(old, made[wrong[0]].splitlines(keepends=True)))[:40])
        pytest.fail(f"out of date: {wrong}; run: python -m reports.examples\n{shown}")


def test_a_stale_example_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reports.examples, "generate", examples)  # generated once per process
    copy = tmp_path / "examples"
    shutil.copytree(EXAMPLES, copy)
    (copy / "anchor-v2-v3.md").write_text("old report\n", encoding="utf-8")
    (copy / "anchor-v1-v2.html").unlink()
    assert sorted(stale(copy)) == ["anchor-v1-v2.html", "anchor-v2-v3.md"]
    assert main(["--check", "--dir", str(copy)]) == 1
    assert main(["--dir", str(copy)]) == 0
    assert stale(copy) == []


def test_readme_starts_with_the_v2_v3_report_and_its_command() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    first_block = readme.split("```", 2)[1]
    assert "iamconf diff reference/fixtures/anchor/v2.json reference/fixtures/anchor/v3.json" in first_block
    head = readme[: readme.index("## What is in the suite")]
    example = (EXAMPLES / "anchor-v2-v3.md").read_text(encoding="utf-8").splitlines()
    shown = [line for line in example if line.startswith(("|", "{", "**"))]
    assert len(shown) == 1 + 2 + 5 + 5  # summary, table head, five actions, five requests
    for line in shown:
        assert line in head, f"README is behind reports/examples/anchor-v2-v3.md: {line}"
