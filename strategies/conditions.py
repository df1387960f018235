"""Condition blocks, operator family by operator family.

Operators as the IAM User Guide spells them
(reference_policies_elements_condition_operators.html): eight families,
``...IfExists`` on every operator but ``Null``, and the set operators
``ForAllValues:`` / ``ForAnyValue:`` (not on ``Null``, a choice of
``reference.conditions``).  Each clause uses a condition key whose type suits
the family (global keys from ``reference.global_keys``, service keys from the
catalog) and values the family can read, sometimes as JSON numbers or
booleans, sometimes with policy variables, defaults and escapes.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from hypothesis.errors import InvalidArgument
from hypothesis.strategies import SearchStrategy

from strategies._catalog import global_condition_keys, service_condition_keys
from strategies._choice import Chooser, check_bool, check_int, check_subset, from_generator
from strategies.actions import check_services, gen_service
from strategies.arns import gen_resource_arn, gen_resource_type
from strategies.tags import gen_tag_key
from strategies.values import (
    gen_binary,
    gen_bool,
    gen_cidr,
    gen_date,
    gen_number,
    gen_string,
)

FAMILIES: tuple[str, ...] = ("String", "Numeric", "Date", "Bool", "Binary", "Ip", "Arn", "Null")
OPERATORS: dict[str, tuple[str, ...]] = {
    "String": (
        "StringEquals",
        "StringNotEquals",
        "StringEqualsIgnoreCase",
        "StringNotEqualsIgnoreCase",
        "StringLike",
        "StringNotLike",
    ),
    "Numeric": (
        "NumericEquals",
        "NumericNotEquals",
        "NumericLessThan",
        "NumericLessThanEquals",
        "NumericGreaterThan",
        "NumericGreaterThanEquals",
    ),
    "Date": (
        "DateEquals",
        "DateNotEquals",
        "DateLessThan",
        "DateLessThanEquals",
        "DateGreaterThan",
        "DateGreaterThanEquals",
    ),
    "Bool": ("Bool",),
    "Binary": ("BinaryEquals",),
    "Ip": ("IpAddress", "NotIpAddress"),
    "Arn": ("ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike"),
    "Null": ("Null",),
}
"""Base operators by family, in the Guide's order."""
BASE_OPERATORS: tuple[str, ...] = tuple(op for f in FAMILIES for op in OPERATORS[f])
FAMILY_OF: dict[str, str] = {op: f for f, ops in OPERATORS.items() for op in ops}
SET_OPERATORS: tuple[str, ...] = ("ForAllValues", "ForAnyValue")
IF_EXISTS_OPERATORS: tuple[str, ...] = tuple(op + "IfExists" for op in BASE_OPERATORS if op != "Null")

# The catalog types each family compares (ARN keys are strings too; no catalog key is Binary,
# so BinaryEquals uses string keys).
_KEY_TYPES: dict[str, tuple[str, ...]] = {
    "String": ("String",),
    "Numeric": ("Numeric",),
    "Date": ("Date",),
    "Bool": ("Bool",),
    "Binary": ("String",),
    "Ip": ("IPAddress",),
    "Arn": ("ARN",),
    "Null": ("String", "ARN", "Numeric", "Bool", "Date", "IPAddress"),
}
VARIABLES: tuple[str, ...] = (
    "${aws:username}",
    "${aws:userid}",
    "${aws:PrincipalTag/team}",
    "${aws:PrincipalAccount}",
    "${aws:username, 'anonymous'}",
    "${aws:PrincipalTag/team, 'none'}",
    "${aws:SourceAccount}",
    "${aws:RequestedRegion}",
)
"""Single-valued keys as policy variables, some with a default (reference_policies_variables.html)."""
ESCAPES: tuple[str, ...] = ("${*}", "${?}", "${$}")
_TEMPLATE = re.compile(r"\$\{[^}]*\}|<[^>]*>")


def split_operator(written: str) -> tuple[str | None, str, bool]:
    """``ForAnyValue:StringLikeIfExists`` -> ("ForAnyValue", "StringLike", True)."""
    qualifier = None
    for q in SET_OPERATORS:
        if written.startswith(q + ":"):
            qualifier, written = q, written[len(q) + 1 :]
    if written.endswith("IfExists") and written[:-8] in FAMILY_OF:
        return qualifier, written[:-8], True
    return qualifier, written, False


@functools.cache
def _keys(family: str, service: str, multivalued: bool) -> tuple[str, ...]:
    """Key names (templates left as written) whose type suits the family, global keys first."""
    wanted = {("ArrayOf" + t if multivalued else t) for t in _KEY_TYPES[family]}
    out = [k.name for k in global_condition_keys() if k.type in wanted]
    out += [k.name for k in service_condition_keys(service) if k.type in wanted and k.name not in out]
    return tuple(out)


def fill_key(c: Chooser, name: str, simulator_safe: bool = False) -> str:
    """A concrete key name for a templated one (``aws:RequestTag/${TagKey}`` -> ``aws:RequestTag/team``)."""
    if "${" not in name and "<" not in name:
        return name
    return _TEMPLATE.sub(lambda _m: gen_tag_key(c, simulator_safe).replace("$", ""), name, count=1)


def gen_key(c: Chooser, family: str, service: str, multivalued: bool, simulator_safe: bool = False) -> str:
    names = _keys(family, service, multivalued) or _keys(family, service, False) or ("aws:PrincipalTag/data",)
    return fill_key(c, c.pick(names), simulator_safe)


def _with_variable(c: Chooser, base: str) -> str:
    where = c.weighted([(2, "alone"), (2, "suffix"), (1, "escape")])
    var = c.pick(VARIABLES)
    if where == "alone":
        return var
    if where == "suffix":
        return base.rstrip("*") + "/" + var
    return base + c.pick(ESCAPES)


def _wildcard(c: Chooser, text: str) -> str:
    """Turn a value into a StringLike pattern (``*`` or ``?`` somewhere, or ``*`` alone)."""
    how = c.weighted([(1, "star"), (3, "prefix"), (1, "suffix"), (2, "question")])
    if how == "star" or not text:
        return "*"
    if how == "prefix":
        return text[: c.integer(0, len(text))] + "*"
    if how == "suffix":
        return "*" + text[c.integer(0, len(text)) :]
    i = c.integer(0, len(text) - 1)
    return text[:i] + "?" + text[i + 1 :]


def _arn_pattern(c: Chooser, service: str) -> str:
    rt = gen_resource_type(c, (service,)) if not c.chance(0.3) else gen_resource_type(c, ("iam", "sts", "lambda", "s3"))
    arn = gen_resource_arn(c, rt, unusual=False).arn
    parts = arn.split(":", 5)
    how = c.weighted([(2, "exact"), (3, "head"), (3, "tail"), (1, "all")])
    if how == "all":
        return "*"
    if how == "head":
        parts[3] = "*" if parts[3] else parts[3]
        parts[4] = "*" if parts[4] else parts[4]
    elif how == "tail":
        parts[5] = _wildcard(c, parts[5])
    return ":".join(parts)


def gen_values(
    c: Chooser,
    family: str,
    base: str,
    key: str,
    service: str,
    *,
    variables: bool,
    simulator_safe: bool,
) -> list[Any]:
    """1-3 policy values for one key (JSON values: strings, and numbers/booleans where they read)."""
    n = c.weighted([(6, 1), (3, 2), (1, 3)])
    out: list[Any] = []
    for _ in range(n):
        out.append(_value(c, family, base, key, service, variables=variables, simulator_safe=simulator_safe))
    # JSON arrays may repeat values, but keep lists tidy: drop exact repeats.
    tidy: list[Any] = []
    for v in out:
        if not any(type(v) is type(t) and v == t for t in tidy):
            tidy.append(v)
    return tidy


def _value(c: Chooser, family: str, base: str, key: str, service: str, *, variables: bool, simulator_safe: bool) -> Any:
    if family == "String":
        text = gen_string(c, key, simulator_safe)
        if base in ("StringLike", "StringNotLike") and c.chance(0.7):
            text = _wildcard(c, text)
        if variables and c.chance(0.15):
            text = _with_variable(c, text)
        return text
    if family == "Numeric":
        number = gen_number(c)
        if c.chance(0.2) and re.fullmatch(r"-?\d{1,9}", number):
            return int(number)
        return number
    if family == "Date":
        return gen_date(c)
    if family in ("Bool", "Null"):
        value = gen_bool(c, simulator_safe)
        if c.chance(0.2):
            return value.lower() == "true"
        if family == "Bool" and variables and c.chance(0.1):
            return "${aws:MultiFactorAuthPresent}"
        return value
    if family == "Binary":
        return gen_binary(c)
    if family == "Ip":
        return gen_cidr(c)
    # Arn
    pattern = _arn_pattern(c, service)
    if variables and c.chance(0.1):
        pattern = _with_variable(c, pattern) if pattern.count(":") >= 5 else pattern
    return pattern


def gen_operator(c: Chooser, family: str, multivalued: bool) -> str:
    base = c.pick(OPERATORS[family])
    if family == "Null":
        return base
    written = base + ("IfExists" if c.chance(0.3) else "")
    if c.chance(0.85 if multivalued else 0.1):
        written = c.pick(SET_OPERATORS) + ":" + written
    return written


def gen_clause(
    c: Chooser,
    family: str,
    service: str,
    *,
    variables: bool = True,
    simulator_safe: bool = False,
) -> tuple[str, str, list[Any]]:
    """(written operator, key, values) for one family."""
    multivalued = family in ("String", "Arn") and c.chance(0.3)
    written = gen_operator(c, family, multivalued)
    _, base, _ = split_operator(written)
    key = gen_key(c, family, service, multivalued, simulator_safe)
    values = gen_values(c, family, base, key, service, variables=variables, simulator_safe=simulator_safe)
    return written, key, values


def gen_block(
    c: Chooser,
    *,
    families: tuple[str, ...] = FAMILIES,
    service: str = "s3",
    max_operators: int = 3,
    variables: bool = True,
    simulator_safe: bool = False,
) -> dict[str, dict[str, Any]]:
    """A Condition element: 1..max_operators operators, 1-2 keys each, 1-3 values a key."""
    block: dict[str, dict[str, Any]] = {}
    for _ in range(c.integer(1, max_operators)):
        family = c.pick(families)
        for _ in range(c.weighted([(4, 1), (1, 2)])):
            written, key, values = gen_clause(c, family, service, variables=variables, simulator_safe=simulator_safe)
            entries = block.setdefault(written, {})
            if key in entries:
                continue
            entries[key] = values[0] if len(values) == 1 and c.chance(0.6) else values
    return block


# --------------------------------------------------------------------------- public strategies


def _operator_gen(c: Chooser, *, families: tuple[str, ...], if_exists: bool | None, set_operators: bool | None) -> str:
    family = c.pick(families)
    base = c.pick(OPERATORS[family])
    if family == "Null":
        return base
    suffix = "IfExists" if (if_exists if if_exists is not None else c.chance(0.3)) else ""
    qualified = set_operators if set_operators is not None else c.chance(0.3)
    return (c.pick(SET_OPERATORS) + ":" if qualified else "") + base + suffix


def condition_operators(
    *,
    families: list[str] | tuple[str, ...] | None = None,
    if_exists: bool | None = None,
    set_operators: bool | None = None,
) -> SearchStrategy[str]:
    """Written condition operators (``ForAnyValue:StringLikeIfExists``), valid for ``parse_operator``.

    ``if_exists`` / ``set_operators``: True forces the form, False forbids it, None mixes
    (``Null`` never takes either).  Shrinks towards ``Null`` (the operator that takes the
    fewest choices), then ``StringEquals``.
    """
    fams = FAMILIES if families is None else check_subset("families", families, FAMILIES)
    if if_exists is not None:
        check_bool("if_exists", if_exists)
    if set_operators is not None:
        check_bool("set_operators", set_operators)
    if (if_exists or set_operators) and fams == ("Null",):
        raise InvalidArgument("the Null operator takes neither IfExists nor a set operator")
    if if_exists or set_operators:
        fams = tuple(f for f in fams if f != "Null")
    return from_generator(
        "condition_operators", _operator_gen, families=fams, if_exists=if_exists, set_operators=set_operators
    )


def _block_gen(
    c: Chooser,
    *,
    families: tuple[str, ...],
    pool: tuple[str, ...],
    max_operators: int,
    variables: bool,
    simulator_safe: bool,
) -> dict[str, dict[str, Any]]:
    return gen_block(
        c,
        families=families,
        service=gen_service(c, pool),
        max_operators=max_operators,
        variables=variables,
        simulator_safe=simulator_safe,
    )


def condition_blocks(
    *,
    families: list[str] | tuple[str, ...] | None = None,
    services: str | list[str] | tuple[str, ...] | None = None,
    max_operators: int = 3,
    variables: bool = True,
    simulator_safe: bool = False,
) -> SearchStrategy[dict[str, dict[str, Any]]]:
    """Condition elements (``{operator: {key: value or [values]}}``) that ``reference`` compiles.

    ``families`` limits the operator families; keys come from the global table and from the
    catalog keys of a service of ``services``.  ``variables`` allows policy variables in the
    values (they need ``"Version": "2012-10-17"`` to be variables; elsewhere they are
    literal text, and only String/Arn values carry them then).  Shrinks towards one
    ``StringEquals`` on the first global key of the right type with one value.
    """
    fams = FAMILIES if families is None else check_subset("families", families, FAMILIES)
    pool = check_services(services)
    check_int("max_operators", max_operators, 1, 20)
    check_bool("variables", variables)
    check_bool("simulator_safe", simulator_safe)
    return from_generator(
        "condition_blocks",
        _block_gen,
        families=fams,
        pool=pool,
        max_operators=max_operators,
        variables=variables,
        simulator_safe=simulator_safe,
    )
