"""pytest plugin for the mutant runs (``-p mutants.plugin``), loaded beside the harness's.

- ``--mutant-cases FILE``: every case the suites put to the ``aws-simulator``
  target is appended to FILE (case-format v1 JSON lines), so the runner can
  tell, for a surviving mutant, whether any drawn request would have revealed it.
- ``--mutant-first TEXT``: the tests whose id holds TEXT run first (only the
  time to the first failure depends on the order).
- The ``ci`` profile is used as it is (its examples, derandomized, no database)
  but without the shrink phase: a mutant only has to be caught, not minimised,
  and shrinking through a server costs minutes per failing suite.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
import pytest
from hypothesis import Phase, settings


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--mutant-cases", default=None, help="append every case sent to aws-simulator here")
    parser.addoption("--mutant-first", action="append", default=[], help="run the tests whose id holds this text first")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The mutant's likeliest suites first (a stable sort: the others keep their order)."""
    first = config.getoption("mutant_first")
    if first:
        items.sort(key=lambda item: not any(text in item.nodeid for text in first))


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    base = settings.get_profile("ci")
    settings.register_profile("ci-catch-only", base, phases=[p for p in base.phases if p != Phase.shrink])
    settings.load_profile("ci-catch-only")
    path = config.getoption("mutant_cases")
    if path is None:
        return
    from conformance.targets.aws_simulator import AwsSimulatorTarget

    encoder = msgspec.json.Encoder()
    original = AwsSimulatorTarget.answer
    out = open(path, "ab")  # noqa: SIM115 - kept open for the whole session, closed at exit
    config.add_cleanup(out.close)

    def answer(self: AwsSimulatorTarget, cases: Sequence[Any]) -> Any:
        for case in cases:
            out.write(encoder.encode(case) + b"\n")
        return original(self, cases)

    AwsSimulatorTarget.answer = answer  # type: ignore[method-assign]
