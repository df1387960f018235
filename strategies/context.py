"""Request context: entries typed by each condition key's type, and values on a condition's boundary.

Types come from the catalog (service keys) and from ``reference.global_keys``
(``aws:*`` keys), mapped to the simulator's ``ContextKeyType`` by
``reference.catalog.context_type`` (ARNs travel as ``string``).  An entry is
present (one value, or one to three for a ``...List`` type) or empty (no value,
or only ``""``); a key that is absent is simply not in the list.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from hypothesis.errors import InvalidArgument
from hypothesis.strategies import SearchStrategy

from reference.catalog import ConditionKey, get_catalog
from reference.conditions import parse_operator, read_binary, read_bool, read_instant, read_network, read_number
from reference.model import ContextEntry
from strategies._catalog import global_condition_keys, service_condition_keys
from strategies._choice import Chooser, check_bool, check_int, check_str, check_subset, from_generator
from strategies.actions import check_services, gen_case_variant, gen_service
from strategies.conditions import fill_key
from strategies.fill import fill_arn, fill_glob, pieces_of
from strategies.values import (
    address_in,
    date_near,
    flip_bool,
    gen_value,
    number_near,
    other_binary,
    other_case,
)

PRESENCE: tuple[str, ...] = ("present", "empty")


@functools.lru_cache(maxsize=256)
def _keys(service: str, include_global: bool) -> tuple[ConditionKey, ...]:
    own = service_condition_keys(service)
    return (global_condition_keys() + own) if include_global else own


def gen_condition_key(c: Chooser, pool: tuple[str, ...], include_global: bool = True) -> ConditionKey:
    """A condition key (catalog record) of a service of ``pool`` or a global one."""
    keys = _keys(gen_service(c, pool), include_global)
    if not keys:
        keys = global_condition_keys()
    return c.pick(keys)


def gen_entry(
    c: Chooser, key: ConditionKey, name: str | None = None, presence: str = "present", simulator_safe: bool = False
) -> ContextEntry:
    """An entry for ``key`` (its template filled unless ``name`` is given), typed by the key's type."""
    concrete = name if name is not None else fill_key(c, key.name, simulator_safe)
    ctype = key.context_type
    listed = ctype.endswith("List")
    base = ctype[:-4] if listed else ctype
    if presence == "empty":
        values: list[str] = [] if listed and c.chance(0.5) else [""]
    else:
        n = c.weighted([(5, 1), (3, 2), (1, 3)]) if listed else 1
        values = [gen_value(c, base, concrete, simulator_safe) for _ in range(n)]
    return ContextEntry(key=concrete, type=ctype, values=values)


def gen_context(
    c: Chooser, pool: tuple[str, ...], lo: int, hi: int, include_global: bool = True, simulator_safe: bool = False
) -> list[ContextEntry]:
    """Entries with keys distinct regardless of case (key names are case-insensitive)."""
    out: list[ContextEntry] = []
    seen: set[str] = set()
    target = c.integer(lo, hi)
    for _ in range(target * 3):
        if len(out) >= target:
            break
        key = gen_condition_key(c, pool, include_global)
        name = fill_key(c, key.name, simulator_safe)
        if name.lower() in seen:
            continue
        seen.add(name.lower())
        presence = "empty" if c.chance(0.1) else "present"
        out.append(gen_entry(c, key, gen_case_variant(c, name) if c.chance(0.1) else name, presence, simulator_safe))
    return out


# --------------------------------------------------------------------------- boundary values


def gen_boundary_value(c: Chooser, *, family: str, kind: str, value: str) -> str:
    """A request value on the boundary of ``value`` for an operator of ``family``/``kind``."""
    if family == "String":
        if kind == "like":
            filled = fill_glob(c, pieces_of(value))
            how = c.weighted([(2, "fill"), (1, "case"), (1, "shorter"), (1, "longer")])
            if how == "case":
                return other_case(c, filled)
            if how == "shorter":
                return filled[1:]
            return filled + "x" if how == "longer" else filled
        how = c.weighted([(3, "equal"), (3, "case"), (1, "longer"), (1, "shorter")])
        if how == "case":
            return other_case(c, value)
        if how == "longer":
            return value + c.pick(("x", " ", "0"))
        if how == "shorter":
            return value[:-1]
        return value
    if family == "Arn":
        filled = fill_arn(c, pieces_of(value))
        return filled if not c.chance(0.4) else other_case(c, filled)
    if family == "Numeric":
        return number_near(c, value, c.pick(("equal", "just-above", "just-below", "above", "below")))
    if family == "Date":
        return date_near(c, value, c.pick(("equal", "just-above", "just-below", "above", "below")))
    if family == "Ip":
        return address_in(c, value, inside=not c.chance(0.5))
    if family == "Bool":
        return c.pick((value.lower(), flip_bool(value), value.upper()))
    if family == "Binary":
        return value if c.chance(0.5) else other_binary(value)
    return c.pick(("", "x", value))  # Null: any value makes the key present


_READERS: dict[str, Callable[[str], object | None]] = {
    "Numeric": read_number,
    "Date": read_instant,
    "Bool": read_bool,
    "Binary": read_binary,
    "Ip": read_network,
}


# --------------------------------------------------------------------------- public strategies


def condition_keys(
    *, services: str | list[str] | tuple[str, ...] | None = None, include_global: bool = True
) -> SearchStrategy[ConditionKey]:
    """Condition keys (catalog records, templates unfilled) of the given services and, unless
    ``include_global`` is False, the global table.  Shrinks towards ``aws:PrincipalArn``."""
    pool = check_services(services)
    check_bool("include_global", include_global)
    return from_generator("condition_keys", gen_condition_key, pool=pool, include_global=include_global)


def _entry_gen(
    c: Chooser, *, key: ConditionKey, name: str | None, presence: tuple[str, ...], simulator_safe: bool
) -> ContextEntry:
    return gen_entry(c, key, name, c.pick(presence), simulator_safe)


def _any_entry_gen(
    c: Chooser, *, pool: tuple[str, ...], presence: tuple[str, ...], simulator_safe: bool
) -> ContextEntry:
    return gen_entry(c, gen_condition_key(c, pool), None, c.pick(presence), simulator_safe)


def context_entries(
    *,
    key: str | None = None,
    services: str | list[str] | tuple[str, ...] | None = None,
    presence: list[str] | tuple[str, ...] = PRESENCE,
    simulator_safe: bool = False,
) -> SearchStrategy[ContextEntry]:
    """Context entries typed by their key's type (``catalog.context_type``).

    ``key`` fixes the key (a name such as ``aws:SourceIp`` or ``aws:RequestTag/team``; it
    must be known to the catalog); otherwise keys come from ``services`` and the global table.
    ``presence``: ``present`` (values of the type, 1-3 for list types) and/or ``empty`` (no
    value or ``""``).  Shrinks towards an entry of a global key with one short value.
    """
    chosen = check_subset("presence", presence, PRESENCE)
    check_bool("simulator_safe", simulator_safe)
    if key is not None:
        check_str("key", key)
        found = get_catalog().condition_key(key)
        if found is None:
            raise InvalidArgument(f"key={key!r} is not a condition key of the catalog or the global table")
        name = key if not found.is_template or key != found.name else None
        return from_generator(
            "context_entries", _entry_gen, key=found, name=name, presence=chosen, simulator_safe=simulator_safe
        )
    pool = check_services(services)
    return from_generator("context_entries", _any_entry_gen, pool=pool, presence=chosen, simulator_safe=simulator_safe)


def contexts(
    *,
    services: str | list[str] | tuple[str, ...] | None = None,
    min_size: int = 0,
    max_size: int = 4,
    include_global: bool = True,
    simulator_safe: bool = False,
) -> SearchStrategy[list[ContextEntry]]:
    """Request contexts: entries with keys distinct regardless of case (some spelled in another
    case), present or empty; any other key is absent.  Shrinks towards ``min_size`` entries."""
    pool = check_services(services)
    check_int("min_size", min_size, 0, 50)
    check_int("max_size", max_size, min_size, 50)
    check_bool("include_global", include_global)
    check_bool("simulator_safe", simulator_safe)
    return from_generator(
        "contexts",
        gen_context,
        pool=pool,
        lo=min_size,
        hi=max_size,
        include_global=include_global,
        simulator_safe=simulator_safe,
    )


def boundary_values(*, operator: str, value: str) -> SearchStrategy[str]:
    """Request values on the boundary of the condition ``{operator: {key: value}}``.

    Numeric and Date: equal, just above, just below (one digit finer than ``value`` is
    written, or one microsecond), above, below.  IpAddress: first, last or any address of
    the range, or the address just outside it.  String: the same string, the same in another
    case, one character more or less; Like: a fill of the wildcards, or one plus a character.
    Arn: a fill of the pattern, or in another case.  Bool: the value, its opposite, upper
    case.  Binary: the same, or other bytes.  Null: any value.  ``value`` is checked now:
    it must be readable by the operator.  Shrinks towards the value itself or one a step
    away (the first address of the range for IpAddress).
    """
    check_str("operator", operator)
    check_str("value", value, allow_empty=True)
    op = parse_operator(operator)
    if isinstance(op, tuple):
        raise InvalidArgument(f"operator={operator!r}: {op[1]}")
    family = op.spec.family
    reader = _READERS.get(family)
    if reader is not None and reader(value) is None:
        raise InvalidArgument(f"value={value!r} cannot be read by {operator}")
    if family == "Null" and read_bool(value) is None:
        raise InvalidArgument(f"value={value!r}: Null takes true or false")
    return from_generator("boundary_values", gen_boundary_value, family=family, kind=op.spec.kind, value=value)


__all__ = ["PRESENCE", "boundary_values", "condition_keys", "context_entries", "contexts"]
