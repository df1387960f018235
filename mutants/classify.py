"""``python -m mutants.classify NAME CASES``: each case's decisions under the mutant, as JSON lines.

Run in a process of its own so that the mutant's edit is made before the
reference is imported; the runner compares the output with the unmutated
reference's decisions to tell whether the suites ever drew a revealing request.
"""

from __future__ import annotations

import json
import sys

from mutants.inject import install


def main(argv: list[str]) -> int:
    name, path = argv
    install(name)
    import msgspec

    from reference.compiled import PolicyCache
    from reference.evaluator import CaseInputError, evaluate_case
    from reference.model import Case

    cache = PolicyCache()
    with open(path, "rb") as f:
        for line in f:
            case = msgspec.json.decode(line, type=Case)
            try:
                decisions = [r.decision.value for r in evaluate_case(case, cache).results]
            except CaseInputError:
                decisions = []
            sys.stdout.write(json.dumps(decisions) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
