"""``python -m mutants.serve NAME``: ``iamconf serve`` with one mutant of the reference.

Binds 127.0.0.1 on a free port, prints ``URL <endpoint>`` on stdout once it
listens, and serves until stdin closes or it is terminated (the runner owns it).
"""

from __future__ import annotations

import sys

from mutants.inject import install


def main(argv: list[str]) -> int:
    (name,) = argv
    install(name)
    from conformance.serve import SimulatorServer  # imported after the edit is installed

    with SimulatorServer("127.0.0.1", 0) as server:
        print(f"URL {server.url}", flush=True)
        sys.stdin.read()  # the runner closes stdin (or kills us) to stop
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
