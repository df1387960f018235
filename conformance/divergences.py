"""Known divergences as data: ``conformance/divergences/<target>.toml``.

Each entry says which feature family it belongs to, which checks it covers,
the rule that recognises it (``conformance.divergence_rules``), the reason,
its source (an IAM User Guide page quoted, a public issue, a measured
behaviour) and a witness: a case in the corpus that shows it.

An entry excuses only the direction it names.  One covering the ``decision``
check (or ``enforced``: allowed against denied, written with ``implicitDeny``)
says which way the decision goes (``expected = "allowed"`` and
``observed = "implicitDeny"``, each a decision or a list of them, or
``directions = [["allowed", "implicitDeny"], ...]``); a decision that differs
the other way is not excused.  One covering the ``answer`` check (the target
failed: a crash, a killed or timed-out worker) names the failure's message in
``failure_pattern`` (a regular expression); any other failure is not excused.  An unexpected
divergence fails a run; so does an entry whose witness no longer diverges
(``tests/test_known_divergences.py`` replays every witness), so the lists
stay true.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import re
import tomllib
from dataclasses import dataclass
from importlib import resources

from conformance.compare import Mismatch, compare
from conformance.divergence_rules import LENSES, RULES, Observation
from conformance.features import FEATURES
from conformance.targets.base import Check
from reference.model import Decision


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
    directions: frozenset[tuple[str, str]] = frozenset()  # (expected, observed) decisions excused
    failure_pattern: re.Pattern[str] | None = None  # the target failures excused (the answer check)

    def covers(self, mismatch: Mismatch) -> bool:
        """Does this entry name this mismatch: its check, and its direction or failure message?"""
        if mismatch.check not in self.checks:
            return False
        if mismatch.check == Check.DECISION:
            return (mismatch.expected, mismatch.observed) in self.directions
        if mismatch.check == Check.ENFORCED:
            return (mismatch.expected, mismatch.observed) in {(_ENFORCED[e], _ENFORCED[o]) for e, o in self.directions}
        if mismatch.check == Check.ANSWER:
            return self.failure_pattern is not None and self.failure_pattern.search(mismatch.observed) is not None
        return True

    def explains(self, observation: Observation, mismatches: list[Mismatch]) -> bool:
        return all(self.covers(m) for m in mismatches) and RULES[self.rule](observation)


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
    if Check.DECISION in checks and Check.ENFORCED in checks:
        raise DivergenceFileError(f"{where}: an entry covers the decision or the enforced check, not both")
    directions = _directions(where, raw, Check.DECISION in checks or Check.ENFORCED in checks)
    if Check.ENFORCED in checks:
        _enforced(where, directions)
    pattern = _failure_pattern(where, raw, Check.ANSWER in checks)
    return KnownDivergence(
        id=str(raw["id"]),
        target=target,
        feature=str(raw["feature"]),
        rule=str(raw["rule"]),
        checks=frozenset(Check(c) for c in checks),
        reason=str(raw["reason"]),
        source=str(raw["source"]),
        witness=str(raw["witness"]),
        directions=directions,
        failure_pattern=pattern,
    )


_DECISIONS = tuple(d.value for d in Decision)
_ENFORCED = {"allowed": "allowed", "implicitDeny": "denied", "explicitDeny": "denied"}


def _enforced(where: str, directions: frozenset[tuple[str, str]]) -> None:
    """The enforced check compares allowed/denied: an entry names its direction with ``allowed`` and
    ``implicitDeny`` (a real call cannot say which deny), read as allowed/denied."""
    if any(_ENFORCED[e] == _ENFORCED[o] for e, o in directions):
        raise DivergenceFileError(f"{where}: the enforced check's direction is allowed -> implicitDeny or the reverse")


def _decisions(where: str, name: str, value: object) -> list[str]:
    values = value if isinstance(value, list) else [value]
    if not values or not all(isinstance(v, str) and v in _DECISIONS for v in values):
        raise DivergenceFileError(f"{where}: {name} must be a decision or a list of them ({', '.join(_DECISIONS)})")
    return [str(v) for v in values]


def _directions(where: str, raw: dict[str, object], decision: bool) -> frozenset[tuple[str, str]]:
    """The (expected, observed) decisions the entry excuses: required with the decision check, refused without."""
    given = [k for k in ("expected", "observed", "directions") if k in raw]
    if not decision:
        if given:
            raise DivergenceFileError(f"{where}: {given[0]!r} is only meaningful with the 'decision' check")
        return frozenset()
    pairs: set[tuple[str, str]] = set()
    if "directions" in raw:
        listed = raw["directions"]
        if not isinstance(listed, list) or not all(isinstance(p, list) and len(p) == 2 for p in listed):
            raise DivergenceFileError(f"{where}: directions must be a list of [expected, observed] pairs")
        for e, o in listed:
            pairs.add((_decisions(where, "directions", e)[0], _decisions(where, "directions", o)[0]))
    if "expected" in raw or "observed" in raw:
        if "expected" not in raw or "observed" not in raw:
            raise DivergenceFileError(f"{where}: expected and observed go together")
        expected = _decisions(where, "expected", raw["expected"])
        observed = _decisions(where, "observed", raw["observed"])
        pairs.update(itertools.product(expected, observed))
    pairs = {(e, o) for e, o in pairs if e != o}
    if not pairs:
        raise DivergenceFileError(
            f"{where}: an entry covering the decision check says which way it goes "
            '(expected = "allowed", observed = "implicitDeny"; or directions = [[expected, observed], ...])'
        )
    return frozenset(pairs)


def _failure_pattern(where: str, raw: dict[str, object], answer: bool) -> re.Pattern[str] | None:
    """The failure messages the entry excuses: required with the answer check, refused without."""
    value = raw.get("failure_pattern")
    if not answer:
        if value is not None:
            raise DivergenceFileError(f"{where}: failure_pattern is only meaningful with the 'answer' check")
        return None
    if not isinstance(value, str) or not value:
        raise DivergenceFileError(
            f"{where}: an entry covering the answer check names the failure's message (failure_pattern = regex)"
        )
    try:
        return re.compile(value)
    except re.error as e:
        raise DivergenceFileError(f"{where}: failure_pattern: {e}") from None


# Targets that speak another target's API and so share its documented departures: ``simulator-endpoint`` is
# the aws-simulator target's code against another SimulateCustomPolicy endpoint, whose answers follow the
# same API reference (SCP statements left out of MatchedStatements, say).
SHARED_FILES = {"simulator-endpoint": "aws-simulator"}


@functools.cache
def known_divergences(target: str) -> tuple[KnownDivergence, ...]:
    """The entries for ``target`` (none when it has no file)."""
    path = resources.files("conformance").joinpath(f"divergences/{SHARED_FILES.get(target, target)}.toml")
    if not path.is_file():
        return ()
    return parse_divergence_file(target, path.read_text(encoding="utf-8"))


def parse_divergence_file(target: str, text: str) -> tuple[KnownDivergence, ...]:
    """The entries of a divergence file's text; DivergenceFileError naming the entry and field if one is wrong."""
    try:
        data = tomllib.loads(text)
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
            return _through_lens(entries, observation, mismatches)
        first = first or entry
    return first


def _through_lens(
    entries: tuple[KnownDivergence, ...], observation: Observation, mismatches: list[Mismatch]
) -> KnownDivergence | None:
    """Two known divergences at once, one of them a way the peer reads the request (``LENSES``: keys it
    drops): another entry explains the observation as seen through that lens (the request without the
    keys, the reference's answer to it).  Only decisions, only one lens, and the returned entry names
    both (``a+b``)."""
    checks = frozenset(m.check for m in mismatches)
    if observation.observed is None or not checks <= {Check.DECISION, Check.ENFORCED}:
        return None
    for reader in entries:
        lens = LENSES.get(reader.rule)
        seen = lens(observation) if lens is not None else None
        if seen is None or seen.observed is None:
            continue
        rest = compare(seen.expected, seen.observed, checks)
        if not rest:  # the lens alone explains it (its own entry, when its directions name it)
            continue
        other = next((e for e in entries if e is not reader and e.explains(seen, rest)), None)
        if other is not None:
            return dataclasses.replace(
                other, id=f"{reader.id}+{other.id}", reason=f"{reader.reason}; then {other.reason}"
            )
    return None
