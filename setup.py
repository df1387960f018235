"""Build: the reference's evaluation modules compiled to C by mypyc (part of mypy), pure Python elsewhere.

Why compile: a batch of fresh policies (``iamconf evaluate --cases`` on generated cases) spends its time
parsing, validating and compiling policy text in the reference; the same source compiled by mypyc answers
about 1.35x faster, byte for byte the same (issue 11; ``tests/test_installed.py`` compares a compiled build
with the source on every shipped case and thousands of generated ones; ``bench/run.py`` prints which build
it measured).  Nothing is written by hand in C: the compiled modules are the ``.py`` files beside them, which
stay in the wheel and are what the project's own tests, mypy and the mutation run read.

A wheel is pure Python when ``IAMCONF_PURE_PYTHON=1`` is set at build time, or, with a warning, where the C
compiler or mypyc fails (the ``.py`` modules are used then; only the speed differs).
``reference.native.compiled_modules()`` says which modules a running copy uses compiled.
"""

from __future__ import annotations

import os
import runpy
import sys
from pathlib import Path
from typing import Any

from setuptools import setup
from setuptools.command.build_ext import build_ext

# The modules a decision runs through, named once in reference/native.py (read as a file: the package is not
# importable while it is being built).  Not compiled: reference/model.py (msgspec structs, which mypyc cannot
# compile), reference/batch.py (orchestration: workers, pipes; its tests replace its functions), smt/.
_NATIVE = runpy.run_path(str(Path(__file__).parent / "reference" / "native.py"))
COMPILED = [f"reference/{name}.py" for name in _NATIVE["EVALUATION_MODULES"]]


def _warn(message: str) -> None:
    print(f"iam-conformance build: {message}; building pure Python (slower, same answers)", file=sys.stderr)


class OptionalBuildExt(build_ext):
    """Builds the compiled modules, or none of them: a failed compile leaves the wheel pure Python."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as e:  # a missing compiler or Python headers: CCompilerError, DistutilsExecError, ...
            for ext in self.extensions:
                Path(self.get_ext_fullpath(ext.name)).unlink(missing_ok=True)
            _warn(f"compiling failed ({e})")


def _extensions() -> list[Any]:
    if os.environ.get("IAMCONF_PURE_PYTHON") == "1":
        return []
    try:
        from mypyc.build import mypycify
    except ImportError:
        _warn("mypyc is not installed")
        return []
    try:
        return list(mypycify(COMPILED, opt_level="3", group_name="iam_conformance"))
    except (Exception, SystemExit) as e:  # mypyc refuses the source (a type error it reports above)
        _warn(f"mypyc failed ({e})")
        return []


setup(ext_modules=_extensions(), cmdclass={"build_ext": OptionalBuildExt})
