"""tools/pick_python.py: the CPython 3.11 build tox builds its environments on (toxfile.py)."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tools import pick_python as pick

ROOT = Path(__file__).resolve().parents[1]


def _interpreter(
    name: str, *, shared: bool, headers: bool = True, venv: bool = True, version: tuple[int, ...] = (3, 11, 7)
) -> pick.Interpreter:
    return pick.Interpreter(
        executable=name, version=version, implementation="cpython", headers=headers, venv=venv, shared_libpython=shared
    )


def test_a_statically_linked_build_is_chosen_over_a_shared_libpython_one_whatever_the_order() -> None:
    shared = _interpreter("/pyenv/python3.11", shared=True)
    static = _interpreter("/usr/bin/python3.11", shared=False)
    assert pick.choose([shared, static]) is static
    assert pick.choose([static, shared]) is static


def test_an_interpreter_that_cannot_build_the_reference_or_a_venv_is_not_chosen_even_if_faster() -> None:
    shared = _interpreter("/pyenv/python3.11", shared=True)
    no_headers = _interpreter("/usr/bin/python3.11", shared=False, headers=False)
    no_venv = _interpreter("/usr/local/bin/python3.11", shared=False, venv=False)
    other_version = _interpreter("/usr/bin/python3.12", shared=False, version=(3, 12, 1))
    assert pick.choose([no_headers, no_venv, other_version, shared]) is shared
    assert "Python.h" in (no_headers.problem() or "")
    assert "ensurepip" in (no_venv.problem() or "")
    assert "3.11" in (other_version.problem() or "")
    assert pick.choose([no_headers, no_venv, other_version]) is None


def test_probe_reports_this_interpreter_as_it_is() -> None:
    found = pick.probe(sys.executable)
    assert found is not None
    assert found == pick.this_interpreter()
    assert found.version == tuple(sys.version_info[:3])
    assert found.implementation == sys.implementation.name
    with open("/proc/self/maps") as f:
        assert found.shared_libpython == ("libpython" in f.read())


def test_iamconf_python_is_used_as_given(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "pick_python.py")],
        env={"IAMCONF_PYTHON": "/opt/some/python3.11", "PATH": ""},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0
    assert done.stdout.strip() == "/opt/some/python3.11"


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="linkage is read from /proc/self/maps (Linux)")
def test_the_choice_on_this_machine_is_a_usable_311_and_the_fastest_kind_found() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "pick_python.py")], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    chosen = pick.probe(done.stdout.strip())
    assert chosen is not None and chosen.problem() is None
    found = [i for i in (pick.probe(c) for c in pick.CANDIDATES) if i is not None and i.problem() is None]
    if any(not i.shared_libpython for i in found):
        assert not chosen.shared_libpython


@pytest.mark.skipif(shutil.which("ldd") is None, reason="the linkage is checked against ldd's list of libraries")
def test_each_interpreter_here_is_said_shared_exactly_when_its_executable_needs_libpython() -> None:
    """The probe's reading of the running process agrees with the executable's own list of libraries, for
    every candidate on this machine (pyenv's shared build and the distribution's static one, here)."""
    found = [i for i in (pick.probe(c) for c in pick.CANDIDATES) if i is not None]
    assert found
    for i in found:
        needed = subprocess.run(["ldd", i.executable], capture_output=True, text=True, timeout=60).stdout
        assert i.shared_libpython == ("libpython" in needed), i.describe()


def _toxfile(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """``toxfile.py`` loaded as tox loads it (its decorator stubbed where tox is not installed: the unit env
    runs without tox)."""
    try:
        import tox.plugin
    except ImportError:
        tox = ModuleType("tox")
        plugin = ModuleType("tox.plugin")
        plugin.impl = lambda f: f  # type: ignore[attr-defined]
        monkeypatch.setitem(sys.modules, "tox", tox)
        monkeypatch.setitem(sys.modules, "tox.plugin", plugin)
    spec = importlib.util.spec_from_file_location("toxfile_under_test", ROOT / "toxfile.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tox_itself_builds_on_the_interpreter_the_picker_chooses_unless_one_is_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`tox` run as the README says (not only `.ci/run`) reads IAMCONF_PYTHON in tox.ini: its inline plugin
    sets it to the picker's choice when the caller has not."""
    toxfile = _toxfile(monkeypatch)
    monkeypatch.delenv("IAMCONF_PYTHON", raising=False)
    chosen = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "pick_python.py")], capture_output=True, text=True, timeout=120
    )
    toxfile.tox_add_core_config(None, None)
    if chosen.returncode == 0:
        assert os.environ["IAMCONF_PYTHON"] == chosen.stdout.strip()
    else:
        assert "IAMCONF_PYTHON" not in os.environ
    monkeypatch.setenv("IAMCONF_PYTHON", "/opt/given/python3.11")
    toxfile.tox_add_core_config(None, None)
    assert os.environ["IAMCONF_PYTHON"] == "/opt/given/python3.11"
    assert "basepython = {env:IAMCONF_PYTHON:python3.11}" in (ROOT / "tox.ini").read_text()
