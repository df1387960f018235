"""Which CPython 3.11 tox builds its environments on (``toxfile.py``): the fastest build this machine has.

These machines carry two builds of CPython 3.11: pyenv's (``--enable-shared``, no PGO or LTO: every call
into the interpreter goes through ``libpython3.11.so``) and the distribution's ``/usr/bin/python3.11``
(Debian links its interpreter statically and builds it with PGO and LTO).  The evaluation is the same code
on both; the interpreter under it is not.  Measured on ``iamconf evaluate --cases`` over 10,000 generated
cases (``bench/run.py``'s fresh workload), the compiled reference the same on each: 2,363 million
instructions per worker on the distribution's build against 2,687 million on pyenv's (callgrind), and
12% less CPU time (median of 20 interleaved runs).  So tox prefers an interpreter that does not load
libpython as a shared library, among those that can build the compiled reference (its C headers:
setup.py's mypyc build) and make a virtual environment (``ensurepip``).  ``IAMCONF_PYTHON``, when set, is
used as given.  The choice and the reason are printed on stderr; the bench prints the interpreter it ran on.

Usage: ``python3 tools/pick_python.py`` prints the chosen interpreter's path (exit 1 if none fits); tox asks
it (``toxfile.py``).  ``--probe``: this interpreter's facts, as JSON.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import asdict, dataclass

WANTED = (3, 11)
# Where a distribution installs its own interpreter, beside whatever comes first on PATH (a pyenv shim).
CANDIDATES = ("python3.11", "/usr/bin/python3.11", "/usr/local/bin/python3.11")


@dataclass(frozen=True)
class Interpreter:
    executable: str
    version: tuple[int, ...]
    implementation: str
    headers: bool  # Python.h: the compiled reference can be built
    venv: bool  # ensurepip: `python -m venv` makes an environment with pip
    shared_libpython: bool  # the interpreter runs from libpython*.so (slower: see the module's docstring)

    def problem(self) -> str | None:
        """Why it cannot serve, or None."""
        if self.implementation != "cpython" or tuple(self.version[:2]) != WANTED:
            return f"not CPython {WANTED[0]}.{WANTED[1]}"
        if not self.headers:
            return "no C headers (Python.h): the reference would not be compiled"
        if not self.venv:
            return "no ensurepip: cannot make a virtual environment"
        return None

    def describe(self) -> str:
        linked = "libpython shared" if self.shared_libpython else "libpython linked in"
        return f"{self.executable} ({'.'.join(map(str, self.version))}, {linked})"


def this_interpreter() -> Interpreter:
    """The facts the choice needs about the interpreter running this code (``probe`` runs this file with
    ``--probe`` under each candidate; the bench describes the interpreter it runs on)."""
    try:
        with open("/proc/self/maps") as f:
            maps = f.read()
    except OSError:
        maps = ""
    include = sysconfig.get_paths().get("include") or ""
    return Interpreter(
        executable=os.path.realpath(sys.executable),
        version=tuple(sys.version_info[:3]),
        implementation=sys.implementation.name,
        headers=os.path.isfile(os.path.join(include, "Python.h")),
        venv=importlib.util.find_spec("ensurepip") is not None,
        shared_libpython="libpython" in maps,
    )


def probe(command: str) -> Interpreter | None:
    """What ``command`` is, or None where it is not found or does not run."""
    path = shutil.which(command)
    if path is None:
        return None
    try:
        done = subprocess.run([path, __file__, "--probe"], capture_output=True, text=True, timeout=60)
        facts = json.loads(done.stdout)
        return Interpreter(**{**facts, "version": tuple(facts["version"])})
    except (OSError, subprocess.SubprocessError, ValueError, TypeError):
        return None


def choose(found: list[Interpreter]) -> Interpreter | None:
    """The first usable interpreter that does not run from a shared libpython, else the first usable one."""
    usable = [i for i in found if i.problem() is None]
    fast = [i for i in usable if not i.shared_libpython]
    return (fast or usable or [None])[0]


def main() -> int:
    if sys.argv[1:] == ["--probe"]:
        print(json.dumps(asdict(this_interpreter())))
        return 0
    given = os.environ.get("IAMCONF_PYTHON")
    if given:
        print(given)
        print(f"python for tox: {given} (IAMCONF_PYTHON)", file=sys.stderr)
        return 0
    found: list[Interpreter] = []
    for command in CANDIDATES:
        interpreter = probe(command)
        if interpreter is not None and all(i.executable != interpreter.executable for i in found):
            found.append(interpreter)
    chosen = choose(found)
    for i in found:
        why = i.problem()
        note = "chosen" if i is chosen else (why or "usable, not chosen (a faster build is)")
        print(f"python for tox: {i.describe()}: {note}", file=sys.stderr)
    if chosen is None:
        print(f"python for tox: no usable CPython {WANTED[0]}.{WANTED[1]} found", file=sys.stderr)
        return 1
    print(chosen.executable)
    return 0


if __name__ == "__main__":
    sys.exit(main())
