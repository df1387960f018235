"""Which of the reference's modules this copy runs compiled (mypyc, see setup.py) and which as Python source."""

from __future__ import annotations

import importlib
from importlib.machinery import EXTENSION_SUFFIXES

# The modules setup.py compiles (it reads this list).
EVALUATION_MODULES = (
    "arns",
    "caseio",
    "catalog",
    "compiled",
    "conditions",
    "context",
    "document",
    "errors",
    "evaluator",
    "explain",
    "global_keys",
    "key_types",
    "memo",
    "nesting",
    "patterns",
    "policy",
    "principals",
    "routing",
    "service_rules",
    "variables",
)

# The rest of reference/, run as Python source, and why (tests/test_native.py: every module is in one list).
NOT_COMPILED = {
    "__init__": "empty",
    "model": "msgspec structs, which mypyc cannot compile",
    "batch": "orchestration (worker processes, pipes), not evaluation; its tests replace its functions",
    "native": "this list",
    "workers": "processes and pipes, not evaluation; its tests fork workers that run test functions",
}


def compiled_modules() -> list[str]:
    """The evaluation modules loaded from a compiled extension rather than from their ``.py`` file."""
    out = []
    for name in EVALUATION_MODULES:
        module = importlib.import_module(f"reference.{name}")
        if (module.__file__ or "").endswith(tuple(EXTENSION_SUFFIXES)):
            out.append(name)
    return out


def build_name() -> str:
    """``compiled (mypyc)``, ``Python source``, or ``partly compiled (N of M modules)``."""
    n = len(compiled_modules())
    if n == len(EVALUATION_MODULES):
        return "compiled (mypyc)"
    if n == 0:
        return "Python source"
    return f"partly compiled ({n} of {len(EVALUATION_MODULES)} modules)"
