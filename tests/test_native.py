"""Which modules of the reference are compiled (setup.py, reference/native.py), and how a copy says so.

That a compiled build answers byte for byte as the Python source does is checked on the installed wheel
(tests/test_installed.py), where the build compiles them."""

from __future__ import annotations

import importlib
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

import pytest

from reference import native

REFERENCE = Path(native.__file__).parent
ROOT = REFERENCE.parent


def test_every_module_of_the_reference_is_compiled_or_says_why_not() -> None:
    modules = {p.stem for p in REFERENCE.glob("*.py")}
    listed = set(native.EVALUATION_MODULES) | set(native.NOT_COMPILED)
    assert modules == listed, f"unlisted: {sorted(modules - listed)}, gone: {sorted(listed - modules)}"
    assert not set(native.EVALUATION_MODULES) & set(native.NOT_COMPILED)
    assert all(native.NOT_COMPILED.values())


def test_setup_compiles_the_listed_modules_unless_asked_for_pure_python(monkeypatch: pytest.MonkeyPatch) -> None:
    import runpy

    import setuptools

    calls: list[dict[str, object]] = []
    monkeypatch.setattr(setuptools, "setup", lambda **kw: calls.append(kw))
    monkeypatch.setenv("IAMCONF_PURE_PYTHON", "1")
    setup = runpy.run_path(str(ROOT / "setup.py"))
    assert setup["COMPILED"] == [f"reference/{m}.py" for m in native.EVALUATION_MODULES]
    assert all((ROOT / path).is_file() for path in setup["COMPILED"])
    assert calls and calls[0]["ext_modules"] == []


def test_the_checkout_runs_as_python_source() -> None:
    assert native.compiled_modules() == []
    assert native.build_name() == "Python source"


@pytest.mark.parametrize(
    ("compiled", "name"),
    [(1, "partly compiled (1 of {n} modules)"), (None, "compiled (mypyc)")],
)
def test_build_name_counts_the_modules_loaded_from_extensions(
    monkeypatch: pytest.MonkeyPatch, compiled: int | None, name: str
) -> None:
    names = native.EVALUATION_MODULES if compiled is None else native.EVALUATION_MODULES[:compiled]
    for module in names:
        m = importlib.import_module(f"reference.{module}")
        monkeypatch.setattr(m, "__file__", str(REFERENCE / f"{module}{EXTENSION_SUFFIXES[0]}"))
    assert native.compiled_modules() == list(names)
    assert native.build_name() == name.format(n=len(native.EVALUATION_MODULES))
