"""Actions: real ones from the catalog, their letter-case variants, wildcard patterns, unknown ones.

Action names are compared without regard to case and ``*``/``?`` match anywhere
in the name (IAM User Guide, reference_policies_elements_action.html); the
service prefix takes no wildcard (the grammar in ``reference.policy``).
"""

from __future__ import annotations

import functools
import re

from hypothesis.errors import InvalidArgument
from hypothesis.strategies import SearchStrategy

from reference.catalog import get_catalog
from strategies._catalog import ANCHOR_SERVICES, service_actions, services
from strategies._choice import Chooser, check_bool, check_str, from_generator
from strategies._match import glob_match

_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
_ACTION_NAME = re.compile(r"[A-Za-z0-9-]+:[A-Za-z0-9_.-]+")


class ServicePool(tuple[str, ...]):
    """Services to draw from; its repr stays short when it is the whole catalog (strategy reprs show it)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "ALL_SERVICES" if self == services() else super().__repr__()


def check_services(value: object, name: str = "services") -> tuple[str, ...]:
    """None (every catalog service) or a non-empty collection of catalog services, lower-cased and sorted."""
    if value is None:
        return ServicePool(services())
    if isinstance(value, str):
        value = (value,)
    if not isinstance(value, (list, tuple, set, frozenset)) or not value:
        raise InvalidArgument(f"{name}={value!r} must be None or a non-empty collection of service prefixes")
    known = set(services())
    out = set()
    for v in value:
        if not isinstance(v, str) or v.lower() not in known:
            raise InvalidArgument(f"{name}: {v!r} is not a service of the IAM catalog")
        out.add(v.lower())
    return ServicePool(sorted(out))


def check_action(value: object) -> str:
    """A ``service:Name`` action without wildcards."""
    action = check_str("action", value)
    if not _ACTION_NAME.fullmatch(action):
        raise InvalidArgument(f"action={value!r} must be 'service:Name' without wildcards")
    return action


def gen_service(c: Chooser, pool: tuple[str, ...]) -> str:
    """A service of ``pool``; half of the time one of the anchor policy's services when the pool has them."""
    if len(pool) > len(ANCHOR_SERVICES) and c.chance(0.5):
        return c.pick(_anchor_in(pool))
    return c.pick(pool)


@functools.lru_cache(maxsize=64)
def _anchor_in(pool: tuple[str, ...]) -> tuple[str, ...]:
    inside = tuple(s for s in ANCHOR_SERVICES if s in pool)
    return inside or pool


def gen_action(c: Chooser, pool: tuple[str, ...]) -> str:
    """A real action of a service of ``pool``, spelled as the catalog does."""
    return c.pick(service_actions(gen_service(c, pool)))


def gen_case_variant(c: Chooser, text: str) -> str:
    """``text`` in another letter case (or unchanged: the shrink target)."""
    mode = c.weighted([(3, "same"), (2, "lower"), (2, "upper"), (1, "swap"), (3, "flip")])
    if mode == "same":
        return text
    if mode == "lower":
        return text.lower()
    if mode == "upper":
        return text.upper()
    if mode == "swap":
        return text.swapcase()
    letters = [i for i, ch in enumerate(text) if ch.isalpha()]
    if not letters:
        return text
    chars = list(text)
    for _ in range(c.integer(1, min(3, len(letters)))):
        i = c.pick(letters)
        chars[i] = chars[i].swapcase()
    return "".join(chars)


def matches_action(pattern: str, action: str) -> bool:
    """Does an Action element value cover ``action`` (case-insensitive glob)?"""
    if "*" not in pattern and "?" not in pattern:
        return pattern.lower() == action.lower()
    return glob_match(pattern, action, ignore_case=True)


def gen_matching_pattern(c: Chooser, action: str) -> str:
    """A pattern with at least one wildcard that covers ``action``."""
    svc, _, name = action.partition(":")
    kind = c.weighted([(2, "service"), (1, "all"), (4, "prefix"), (2, "suffix"), (3, "question"), (2, "middle")])
    if kind == "all":
        return "*"
    if kind == "service" or not name:
        body = "*"
    elif kind == "prefix":
        body = name[: c.integer(0, len(name))] + "*"
    elif kind == "suffix":
        body = "*" + name[c.integer(0, len(name)) :]
    elif kind == "question":
        chars = list(name)
        for _ in range(c.integer(1, min(3, len(chars)))):
            chars[c.integer(0, len(chars) - 1)] = "?"
        body = "".join(chars)
    else:
        i = c.integer(0, len(name))
        j = c.integer(i, len(name))
        body = name[:i] + "*" + name[j:]
    return gen_case_variant(c, svc) + ":" + gen_case_variant(c, body)


def _other_letter(c: Chooser, ch: str) -> str:
    options = [x for x in _LETTERS[:26] if x != ch.lower()]
    return c.pick(options)


def gen_missing_pattern(c: Chooser, action: str) -> str:
    """A pattern with at least one wildcard that just misses ``action`` (one character off)."""
    svc, _, name = action.partition(":")
    kind = c.weighted([(3, "prefix"), (2, "suffix"), (2, "too-long"), (2, "too-short"), (1, "service")])
    if kind == "prefix" and name:
        k = c.integer(1, len(name))
        body = name[: k - 1] + _other_letter(c, name[k - 1]) + "*"
    elif kind == "suffix" and name:
        body = "*" + name[c.integer(0, len(name)) :] + c.pick(_LETTERS[:26])
    elif kind == "too-short" and len(name) > 1:
        chars = list(name[:-1])
        chars[c.integer(0, len(chars) - 1)] = "?"
        body = "".join(chars)
    elif kind == "service":
        body = name[: c.integer(0, len(name))] + "*"
        other = [s for s in _NEIGHBOUR_SERVICES if s != svc.lower()]
        svc = c.pick(other)
    else:
        body = name + "?"
    pattern = gen_case_variant(c, svc) + ":" + gen_case_variant(c, body)
    if matches_action(pattern, action):
        pattern = f"{svc}:{name}?"  # one character too many never covers the action itself
    return pattern


_NEIGHBOUR_SERVICES = ("s3", "s3-object-lambda", "s3express", "iam", "sts", "ec2", "lambda", "sagemaker", "glue")


def gen_unknown_action(c: Chooser, pool: tuple[str, ...]) -> str:
    """``service:Name`` that the catalog does not know: a real service with a made-up action, or a made-up service."""
    if c.chance(0.7):
        real = gen_action(c, pool)
        svc, _, name = real.partition(":")
        kind = c.weighted([(2, "suffix"), (1, "made-up")])
        new = name + c.text(_LETTERS, 1, 3) if kind == "suffix" else "Frobnicate" + c.text(_LETTERS, 0, 6)
        candidate = f"{svc}:{new}"
    else:
        svc = "x" + c.text("abcdefghijklmnopqrstuvwxyz0123456789-", 1, 10) + "z"
        candidate = f"{svc}:{c.pick(('Get', 'List', 'Put', 'Do'))}{c.text(_LETTERS, 1, 10)}"
    while get_catalog().action(candidate) is not None:  # pragma: no cover - astronomically rare
        candidate += "X"
    return candidate


# --------------------------------------------------------------------------- public strategies


def actions(*, services: str | list[str] | tuple[str, ...] | None = None) -> SearchStrategy[str]:
    """Real actions (``svc:Name`` as the catalog spells it) of the given services, or of any catalog service.

    Half of the draws (when more than the anchor services are allowed) come from the
    anchor policy's 17 services.  Shrinks towards an action of a service early in the
    catalog's order (``actions(services="s3")``: ``s3:AbortMultipartUpload``).
    """
    pool = check_services(services)
    return from_generator("actions", gen_action, pool=pool)


def action_variants(*, action: str) -> SearchStrategy[str]:
    """``action`` in other letter cases (lower, upper, swapped, a few letters flipped).

    Every value equals ``action`` ignoring case.  Shrinks towards ``action`` itself.
    """
    check_action(action)
    return from_generator("action_variants", gen_case_variant, text=action)


def action_patterns(*, action: str, matching: bool = True) -> SearchStrategy[str]:
    """Action patterns with ``*``/``?`` built to cover ``action`` (``matching=True``) or to just miss it.

    Matching: ``svc:*``, ``*``, a cut name plus ``*``, ``*`` plus a suffix, letters replaced by
    ``?``, in any letter case.  Missing: one character off (a wrong letter before the ``*``,
    an extra character, a ``?`` too few) or a neighbouring service.  Shrinks towards
    ``*`` (matching) or the action with ``?`` appended (missing).
    """
    check_action(action)
    check_bool("matching", matching)
    gen = gen_matching_pattern if matching else gen_missing_pattern
    return from_generator("action_patterns", gen, action=action)


def unknown_actions(*, services: str | list[str] | tuple[str, ...] | None = None) -> SearchStrategy[str]:
    """Well-formed ``service:Name`` actions that the catalog does not have (for negative tests).

    Shrinks towards a short made-up service (``x0z:GetA``).
    """
    pool = check_services(services)
    return from_generator("unknown_actions", gen_unknown_action, pool=pool)


__all__ = [
    "action_patterns",
    "action_variants",
    "actions",
    "matches_action",
    "unknown_actions",
]
