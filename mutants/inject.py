"""Making a mutant's edit when its module is imported.

A finder on ``sys.meta_path`` hands the mutant's module to a loader that reads
the source, checks that every edit's text occurs exactly once, replaces it and
compiles the result (never from a cached ``.pyc``).  It must be installed
before anything imports the module: ``install`` refuses otherwise, so a
mutant can never silently run unmutated.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from collections.abc import Sequence
from pathlib import Path
from types import CodeType, ModuleType

from mutants.table import BY_NAME, CONTROL, Mutant


class MutantError(Exception):
    """The edit does not apply (its text is gone or no longer unique) or came too late."""


def mutated_source(source: str, mutant: Mutant) -> str:
    for old, new in mutant.edits:
        count = source.count(old)
        if count != 1:
            raise MutantError(f"{mutant.name}: {old!r} occurs {count} times in {mutant.module} (want exactly 1)")
        source = source.replace(old, new)
    return source


class _Loader(importlib.machinery.SourceFileLoader):
    def __init__(self, fullname: str, path: str, mutant: Mutant):
        super().__init__(fullname, path)
        self.mutant = mutant

    def get_code(self, fullname: str) -> CodeType:
        source = Path(self.path).read_text(encoding="utf-8")
        return compile(mutated_source(source, self.mutant), self.path, "exec", dont_inherit=True)


class _Finder(importlib.abc.MetaPathFinder):
    def __init__(self, mutant: Mutant):
        self.mutant = mutant
        self.loaded = False

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != self.mutant.module:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.origin is None:
            raise MutantError(f"{self.mutant.name}: module {fullname} not found")
        spec.loader = _Loader(fullname, spec.origin, self.mutant)
        self.loaded = True
        return spec


def install(name: str) -> Mutant | None:
    """Make the named mutant's edit when its module is imported (None for the control)."""
    if name == CONTROL:
        return None
    mutant = BY_NAME.get(name)
    if mutant is None:
        raise MutantError(f"unknown mutant {name!r}")
    if mutant.module in sys.modules:
        raise MutantError(f"{name}: {mutant.module} was imported before the mutant was installed")
    sys.meta_path.insert(0, _Finder(mutant))
    return mutant
