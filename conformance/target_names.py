"""The names of the targets the suite knows, and which of them run by default.

Apart from ``conformance.registry`` (which builds targets) so that the command line can name them without
importing the target machinery: ``iamconf evaluate`` starts without it (7 ms of every start).
"""

from __future__ import annotations

# Targets that run here without credentials or a licence: the default set.
DEFAULT_TARGETS = ("iam-simulate", "replay")
ALL_TARGETS = (
    "iam-simulate",
    "replay",
    "aws-simulator",
    "simulator-endpoint",
    "moto-enforcement",
    "localstack-simulator",
    "localstack-enforcement",
)
