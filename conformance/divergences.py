"""Known divergences as data: ``conformance/divergences/<target>.toml``.

Each entry says which feature family it belongs to, which checks it covers,
the rule that recognises it (``conformance.divergence_rules``), the reason,
its source (an IAM User Guide page quoted, a public issue, a measured
behaviour) and a witness: a case in the corpus that shows it.  An unexpected
divergence fails a run; so does an entry whose witness no longer diverges
(``tests/test_known_divergences.py`` replays every witness), so the lists
stay true.
"""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass
from importlib import resources

from conformance.compare import Mismatch
from conformance.divergence_rules import RULES, Observation
from conformance.features import FEATURES
from conformance.targets.base import Check


class DivergenceFileError(Exception):
    """A divergence file that does not say what it must (a configuration error: exit 2)."""


@dataclass(frozen=True, slots=True)
class KnownDivergence:
    id: str
    target: str
    feature: str
    rule: str
    checks: frozenset[Check]
    reason: str
    source: str
    witness: str  # path of a corpus file, relative to the conformance package

    def explains(self, observation: Observation, mismatches: list[Mismatch]) -> bool:
        return all(m.check in self.checks for m in mismatches) and RULES[self.rule](observation)


_REQUIRED = ("id", "feature", "rule", "checks", "reason", "source", "witness")


def _entry(target: str, n: int, raw: dict[str, object]) -> KnownDivergence:
    where = f"divergences/{target}.toml: divergence {n + 1}"
    for key in _REQUIRED:
        if not isinstance(raw.get(key), (str, list)) or not raw.get(key):
            raise DivergenceFileError(f"{where}: missing or empty {key!r}")
    if raw["feature"] not in FEATURES:
        raise DivergenceFileError(f"{where}: unknown feature {raw['feature']!r}")
    if raw["rule"] not in RULES:
        raise DivergenceFileError(f"{where}: unknown rule {raw['rule']!r} (known: {', '.join(sorted(RULES))})")
    checks = raw["checks"]
    if not isinstance(checks, list) or not all(c in Check.__members__.values() for c in checks):
        raise DivergenceFileError(f"{where}: checks must be a list of {', '.join(c.value for c in Check)}")
    return KnownDivergence(
        id=str(raw["id"]),
        target=target,
        feature=str(raw["feature"]),
        rule=str(raw["rule"]),
        checks=frozenset(Check(c) for c in checks),
        reason=str(raw["reason"]),
        source=str(raw["source"]),
        witness=str(raw["witness"]),
    )


@functools.cache
def known_divergences(target: str) -> tuple[KnownDivergence, ...]:
    """The entries for ``target`` (none when it has no file)."""
    path = resources.files("conformance").joinpath(f"divergences/{target}.toml")
    if not path.is_file():
        return ()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise DivergenceFileError(f"divergences/{target}.toml: {e}") from None
    entries = data.get("divergence", [])
    if not isinstance(entries, list):
        raise DivergenceFileError(f"divergences/{target}.toml: [[divergence]] tables expected")
    return tuple(_entry(target, n, raw) for n, raw in enumerate(entries))


def explain(target: str, observation: Observation, mismatches: list[Mismatch]) -> KnownDivergence | None:
    """The known divergence that explains these mismatches, if every mismatch is explained.

    One entry may cover several checks; otherwise each mismatched check needs its own entry whose
    rule holds.  The entry returned is the one explaining the first mismatch (decision first).
    """
    entries = known_divergences(target)
    whole = next((e for e in entries if e.explains(observation, mismatches)), None)
    if whole is not None:
        return whole
    first: KnownDivergence | None = None
    for m in mismatches:
        entry = next((e for e in entries if e.explains(observation, [m])), None)
        if entry is None:
            return None
        first = first or entry
    return first
