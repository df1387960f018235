"""The Condition element: every condition operator, compiled once per policy.

A statement's ``Condition`` (already shaped by ``reference.policy``) becomes a
``ConditionBlock``.  Everything that can be decided without a request is
decided in ``compile_conditions``: the operator name is split into its set
qualifier, base operator and ``IfExists`` suffix; policy values are parsed
(numbers, dates, IP ranges, base64, booleans); ``Like`` and ``Arn`` patterns
are compiled into one regular expression per key; policy variables are parsed
into templates.  Per request, a clause costs one dictionary lookup and one
comparison per request value; only values that contain a policy variable are
rendered per request (their patterns come from the ``lru_cache`` of
``reference.patterns.glob`` and of this module).

Authority: the IAM User Guide.  Page names below are the Guide's own:

- ``elements_condition``: reference_policies_elements_condition.html
- ``operators``: reference_policies_elements_condition_operators.html
  (anchors ``#Conditions_String``, ``#Conditions_Numeric``, ``#Conditions_Date``,
  ``#Conditions_Boolean``, ``#Conditions_BinaryEquals``, ``#Conditions_IPAddress``,
  ``#Conditions_ARN``, ``#Conditions_IfExists``, ``#Conditions_Null``)
- ``logic``: reference_policies_condition-logic-multiple-context-keys-or-values.html
- ``single-vs-multi``: reference_policies_condition-single-vs-multi-valued-context-keys.html
- ``multi-examples``: reference_policies_condition_examples-multi-valued-context-keys.html
- ``variables``: reference_policies_variables.html

Where the Guide is silent the choice is marked "Choice" and recorded in
``reference/UNDOCUMENTED.md`` (section "Conditions").
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import ipaddress
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Final
from typing import Literal as Lit

from reference.context import EMPTY_CONTEXT, ContextValue, RequestContext
from reference.document import ParsedDocument, PathPart
from reference.errors import PolicyError
from reference.memo import Memo
from reference.patterns import WARM, Pattern, as_plain_pattern, glob_source, has_wildcard, nfa_match, rendered_match
from reference.variables import Literal, Rendered, Template, parse_template, plain_text

ValueTest = Callable[[str], bool]
"""Does one request value match at least one policy value (the OR of ``logic``)?"""
Binder = Callable[[RequestContext], ValueTest | None]
"""Gives the ValueTest for a request (policy variables are rendered here); None when a policy
variable has no value (the clause then fails, or holds for a negated operator)."""
Holds = Callable[[RequestContext], bool]
"""Does one (operator, key) clause hold for a request?"""
Qualifier = Lit["ForAllValues", "ForAnyValue"] | None
_Fail = Callable[[int, str], PolicyError]

_NEVER: Final[ValueTest] = lambda _value: False  # noqa: E731 - a key with no policy values matches nothing

# ---------------------------------------------------------------------------
# The operators.  Each base operator: (family, kind, negated).
# "Negated" operators combine their policy values as NOR and are true when the
# key is missing (operators, "Important" box at the top; logic,
# #reference_policies_multiple-conditions-negated-matching-eval).
# ---------------------------------------------------------------------------

Family = Lit["String", "Numeric", "Date", "Bool", "Binary", "Ip", "Arn", "Null"]


@dataclass(frozen=True, slots=True)
class _Spec:
    family: Family
    kind: str
    negated: bool


_OPERATORS: Final[dict[str, _Spec]] = {
    # operators#Conditions_String
    "StringEquals": _Spec("String", "equals", False),
    "StringNotEquals": _Spec("String", "equals", True),
    "StringEqualsIgnoreCase": _Spec("String", "equals-ignore-case", False),
    "StringNotEqualsIgnoreCase": _Spec("String", "equals-ignore-case", True),
    "StringLike": _Spec("String", "like", False),
    "StringNotLike": _Spec("String", "like", True),
    # operators#Conditions_Numeric
    "NumericEquals": _Spec("Numeric", "eq", False),
    "NumericNotEquals": _Spec("Numeric", "eq", True),
    "NumericLessThan": _Spec("Numeric", "lt", False),
    "NumericLessThanEquals": _Spec("Numeric", "le", False),
    "NumericGreaterThan": _Spec("Numeric", "gt", False),
    "NumericGreaterThanEquals": _Spec("Numeric", "ge", False),
    # operators#Conditions_Date
    "DateEquals": _Spec("Date", "eq", False),
    "DateNotEquals": _Spec("Date", "eq", True),
    "DateLessThan": _Spec("Date", "lt", False),
    "DateLessThanEquals": _Spec("Date", "le", False),
    "DateGreaterThan": _Spec("Date", "gt", False),
    "DateGreaterThanEquals": _Spec("Date", "ge", False),
    # operators#Conditions_Boolean
    "Bool": _Spec("Bool", "eq", False),
    # operators#Conditions_BinaryEquals
    "BinaryEquals": _Spec("Binary", "eq", False),
    # operators#Conditions_IPAddress
    "IpAddress": _Spec("Ip", "in", False),
    "NotIpAddress": _Spec("Ip", "in", True),
    # operators#Conditions_ARN: "ArnEquals and ArnLike ... behave identically"
    "ArnEquals": _Spec("Arn", "like", False),
    "ArnLike": _Spec("Arn", "like", False),
    "ArnNotEquals": _Spec("Arn", "like", True),
    "ArnNotLike": _Spec("Arn", "like", True),
    # operators#Conditions_Null
    "Null": _Spec("Null", "null", False),
}

# Which families read policy variables in their values.  variables#policy-vars-conditionelement
# names the string and ARN operators; operators#Conditions_Boolean says "Policy variables -
# Supported" for Bool while the variables page lists Boolean among the operators that cannot use
# them.  Choice (UNDOCUMENTED.md): follow the Bool section itself.  Everywhere else "${...}" is
# literal text (and so, for the typed families, an invalid value).
_VARIABLE_FAMILIES: Final[frozenset[Family]] = frozenset({"String", "Arn", "Bool"})

_SET_PREFIXES: Final[tuple[tuple[str, Qualifier], ...]] = (
    ("ForAllValues:", "ForAllValues"),
    ("ForAnyValue:", "ForAnyValue"),
)
_IF_EXISTS: Final = "IfExists"


@dataclass(frozen=True, slots=True)
class Operator:
    """An operator name taken apart: ``ForAnyValue:StringLikeIfExists``."""

    written: str
    qualifier: Qualifier
    base: str
    if_exists: bool
    spec: _Spec


@functools.lru_cache(maxsize=4096)
def parse_operator(written: str) -> Operator | tuple[str, str]:
    """The operator, or ``(error code, message)``.

    Choice (UNDOCUMENTED.md): names are matched exactly, case included, as the Guide spells them
    (operators; the grammar's condition_type_string gives no other spelling).
    """
    rest, qualifier = written, None
    for prefix, q in _SET_PREFIXES:
        if rest.startswith(prefix):
            rest, qualifier = rest[len(prefix) :], q
            break
    base, if_exists = rest, False
    if rest.endswith(_IF_EXISTS) and rest[: -len(_IF_EXISTS)] in _OPERATORS:
        base, if_exists = rest[: -len(_IF_EXISTS)], True
    spec = _OPERATORS.get(base)
    if spec is None:
        return "unknown-operator", f"unknown condition operator {written!r}"
    if spec.family == "Null" and if_exists:
        # operators#Conditions_IfExists: "add IfExists to the end of any condition operator name except the Null".
        return "invalid-operator", f"{written!r}: IfExists cannot be added to the Null operator"
    # A set qualifier on Null (ForAllValues:Null) is accepted and changes nothing: Null tests whether
    # the key is present, not its values.  Choice (UNDOCUMENTED.md): no page and no recorded IAM answer
    # refuses it, and IAM's CreatePolicy takes a qualifier before any operator name it knows.
    return Operator(written, qualifier, base, if_exists, spec)


# ---------------------------------------------------------------------------
# Reading values.  Policy values are read at compile time (an unreadable one is
# refused); request values are read per request, through a small cache, and an
# unreadable request value matches no policy value (Choice, UNDOCUMENTED.md).
# ---------------------------------------------------------------------------

_NUMBER: Final = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


@functools.lru_cache(maxsize=4096)
def read_number(text: str) -> Decimal | None:
    """operators#Conditions_Numeric: "an integer or decimal value" (exponent form accepted: Choice)."""
    if not _NUMBER.fullmatch(text):
        return None
    try:
        return Decimal(text)
    except InvalidOperation:  # pragma: no cover - the pattern admits only Decimal syntax
        return None


# W3C profile of ISO 8601 (http://www.w3.org/TR/NOTE-datetime), which operators#Conditions_Date
# names: YYYY-MM, YYYY-MM-DD, YYYY-MM-DDThh:mm, ...:ss, ...:ss.s, each time with a zone designator.
_W3C_DATE: Final = re.compile(
    r"(?P<y>\d{4})-(?P<mo>\d{2})(?:-(?P<d>\d{2})"
    r"(?:T(?P<h>\d{2}):(?P<mi>\d{2})(?::(?P<s>\d{2})(?:\.(?P<f>\d+))?)?"
    r"(?P<tz>Z|[+-]\d{2}:\d{2})?)?)?"
)
_EPOCH: Final = re.compile(r"-?\d+")
_UNIX_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MICROSECOND: Final = dt.timedelta(microseconds=1)


@functools.lru_cache(maxsize=4096)
def read_instant(text: str) -> int | None:
    """Microseconds since 1970-01-01T00:00:00Z, or None.

    operators#Conditions_Date: "W3C implementations of the ISO 8601 date formats or in epoch (UNIX)
    time".  Choices (UNDOCUMENTED.md): all digits is epoch seconds (so "2020" is not the year
    2020); a time without a zone designator is UTC; a date alone is midnight UTC; fractions of a
    second beyond microseconds are dropped.
    """
    if _EPOCH.fullmatch(text):
        return int(Decimal(text) * 1_000_000)
    m = _W3C_DATE.fullmatch(text)
    if m is None:
        return None
    try:
        return (_w3c_datetime(m) - _UNIX_EPOCH) // _MICROSECOND
    except ValueError:  # day 31 of April, hour 25, offset +24:00 ...
        return None


# IAM's CreatePolicy reads a policy's Date values more loosely than the W3C profile: it accepts "01T",
# "2016-12-13t2:00:00.593194+23" and "-292275054", and refuses "sdfdsf", "234-13" (month 13), a zone
# "+1", a ten-digit fraction and the epoch "9223372036854775808" (tests/fixtures/moto/: accepted 30,
# 34-37; refused 64, 72-75).  The reference accepts that looser form too; a value it accepts but cannot
# place in time (a year outside 1-9999, 30 February) matches no request value.
_LOOSE_DATE: Final = re.compile(
    r"(?P<y>-?\d+)(?:-(?P<mo>\d+)(?:-(?P<d>\d+))?)?"
    r"(?:[Tt](?P<h>\d+)?(?::(?P<mi>\d+)(?::(?P<s>\d+)(?:\.(?P<f>\d{1,9}))?(?P<tz>[Zz]|\+\d{2}(?::\d{2})?)?)?)?)?"
)
_EPOCH_LIMIT: Final = 2**63 - 1
_LOOSE_RANGES: Final = (("mo", 1, 12), ("d", 1, 31), ("h", 0, 23), ("mi", 0, 59), ("s", 0, 59))


def read_policy_instant(text: str) -> tuple[bool, int | None]:
    """(accepted, instant) for a Date value written in a policy; see ``_LOOSE_DATE``."""
    if _EPOCH.fullmatch(text):
        return (abs(Decimal(text)) <= _EPOCH_LIMIT), read_instant(text)
    strict = read_instant(text)
    if strict is not None:
        return True, strict
    m = _LOOSE_DATE.fullmatch(text)
    if m is None or ("-" not in text and "t" not in text.lower()):
        return False, None
    g = m.groupdict()
    if not -292_275_054 <= int(g["y"]) <= 292_278_993:
        return False, None
    for name, low, high in _LOOSE_RANGES:
        if g[name] is not None and not low <= int(g[name]) <= high:
            return False, None
    tz = g["tz"] or "Z"
    tz_hours, tz_minutes = (0, 0) if tz in "Zz" else (int(tz[1:3]), int(tz[4:6] or 0))
    if tz_hours > 23 or tz_minutes > 59:
        return False, None
    try:
        when = dt.datetime(
            int(g["y"]),
            int(g["mo"] or 1),
            int(g["d"] or 1),
            int(g["h"] or 0),
            int(g["mi"] or 0),
            int(g["s"] or 0),
            int((g["f"] or "0")[:6].ljust(6, "0")),
            tzinfo=dt.timezone(dt.timedelta(hours=tz_hours, minutes=tz_minutes)),
        )
    except ValueError:  # year 0 or beyond 9999, 30 February
        return True, None
    return True, (when - _UNIX_EPOCH) // _MICROSECOND


def _w3c_datetime(m: re.Match[str]) -> dt.datetime:
    g = m.groupdict()
    tz = dt.UTC
    if g["tz"] and g["tz"] != "Z":
        sign = -1 if g["tz"][0] == "-" else 1
        hours, minutes = int(g["tz"][1:3]), int(g["tz"][4:6])
        if minutes > 59:
            raise ValueError("zone minutes")
        tz = dt.timezone(sign * dt.timedelta(hours=hours, minutes=minutes))
    fraction = int((g["f"] or "0")[:6].ljust(6, "0"))
    return dt.datetime(
        int(g["y"]),
        int(g["mo"]),
        int(g["d"] or 1),
        int(g["h"] or 0),
        int(g["mi"] or 0),
        int(g["s"] or 0),
        fraction,
        tzinfo=tz,
    )


def read_bool(text: str) -> bool | None:
    """operators#Conditions_Boolean compares with "true" or "false".  Choice: any letter case."""
    low = text.lower()
    return True if low == "true" else False if low == "false" else None


@functools.lru_cache(maxsize=4096)
def read_binary(text: str) -> bytes | None:
    """operators#Conditions_BinaryEquals: "a base-64 encoded representation" (standard alphabet, padded)."""
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def read_network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    """operators#Conditions_IPAddress: "standard CIDR format"; no prefix means /32 (and /128 for IPv6).

    Host bits after the prefix are ignored (203.0.113.7/24 is 203.0.113.0/24): Choice.
    """
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None


# An IPv4 address as the standard library reads it (decimal octets without leading zeros), with a prefix of one
# or two digits or none: what policies write.  Octets or a prefix out of range are left to the library.
_PLAIN_IPV4: Final = re.compile(
    r"(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})(?:/([0-9]{1,2}))?"
)


@functools.lru_cache(maxsize=4096)
def _network_range(text: str) -> tuple[int, int, int] | None:
    """A policy's IP value as (IP version, network, netmask) as integers, or None (``read_network``);
    policies repeat their ranges.  A plain IPv4 value is read here: the standard library parses in Python,
    and took 45,000 instructions for each new range of a generated batch."""
    m = _PLAIN_IPV4.fullmatch(text)
    if m is not None:
        a, b, c, d, written_prefix = m.groups()
        octets = (int(a), int(b), int(c), int(d))
        prefix = 32 if written_prefix is None else int(written_prefix)
        if max(octets) <= 255 and prefix <= 32:
            address = (octets[0] << 24) | (octets[1] << 16) | (octets[2] << 8) | octets[3]
            netmask = (0xFFFFFFFF << (32 - prefix)) & 0xFFFFFFFF
            return 4, address & netmask, netmask
    n = read_network(text)
    return None if n is None else (n.version, int(n.network_address), int(n.netmask))


@functools.lru_cache(maxsize=4096)
def read_address(text: str) -> tuple[int, int] | None:
    """A request's IP value as (IP version, integer), or None.

    One address only (Choice: a CIDR in the request is unreadable).
    """
    try:
        a = ipaddress.ip_address(text)
    except ValueError:
        return None
    return a.version, int(a)


def is_empty_data_set(values: Sequence[str]) -> bool:
    """No values, or only empty strings.

    single-vs-multi and the earlier edition of logic: "If the key values in the request resolve
    to an empty data set (for example, an empty string), a condition operator modified by
    ForAllValues returns true, and ... ForAnyValue returns false."  multi-examples: the Null
    operator with "false" rejects "context keys with empty values".
    """
    return all(v == "" for v in values)


# ---------------------------------------------------------------------------
# Compiling one key's policy values into a Binder, family by family.
# ---------------------------------------------------------------------------

# request value OP policy value ("NumericLessThan": the key's value is less than the policy's).
_COMPARE: Final[dict[str, Callable[[Any, Any], bool]]] = {
    "eq": operator.eq,
    "lt": operator.lt,
    "le": operator.le,
    "gt": operator.gt,
    "ge": operator.ge,
}


def _constant(test: ValueTest) -> Binder:
    return lambda _ctx: test


def _templates(values: tuple[str, ...], variables: bool) -> tuple[Template, ...]:
    return tuple(parse_template(v, variables_enabled=variables) for v in values)


def _has_variables(templates: Sequence[Template]) -> bool:
    return any(t.keys for t in templates)


def _render_all(templates: Sequence[Template], ctx: RequestContext) -> tuple[Rendered, ...] | None:
    """The rendered policy values, or None when a variable has no value and no default.

    variables#policy-vars-no-value: such a variable is "effectively null"; "condition operators
    like StringEquals or StringLike do not match, and the policy statement does not take effect.
    Inverted condition operators like StringNotEquals or StringNotLike do match".  The operators
    page's StringLike table (s3:prefix ["home/", "home/${aws:username}/"]) gives "No match" when
    aws:username is absent, whatever the prefix: so the whole clause fails (a negated one holds),
    not just the value holding the variable.
    """
    out: list[Rendered] = []
    for t in templates:
        r = t.render(ctx)
        if r is None:
            return None
        out.append(r)
    return tuple(out)


def _string_test(kind: str, rendered: tuple[Rendered, ...]) -> ValueTest:
    if not rendered:
        return _NEVER
    if kind == "equals":  # "Exact matching, case sensitive"
        exact = frozenset(plain_text(r) for r in rendered)
        return exact.__contains__
    if kind == "equals-ignore-case":  # "Exact matching, ignoring case" (Choice: str.lower on both sides)
        folded = frozenset(plain_text(r).lower() for r in rendered)
        return lambda v: v.lower() in folded
    # "like": "* and ? anywhere in the string".
    return _LikeTest(rendered)


class _LikeTest:
    """The Like operators' test of a key's values: by the automaton for the first ``WARM`` request values (a
    fresh policy's clause is tested a few times: compiling an expression costs more), then by one
    expression for all the values (a policy that serves many requests)."""

    def __init__(self, rendered: tuple[Rendered, ...]) -> None:
        self.rendered: Final = rendered
        self.uses = 0
        self.match: Callable[[str], re.Match[str] | None] | None = None

    def __call__(self, value: str) -> bool:
        match = self.match
        if match is not None:
            return match(value) is not None
        self.uses += 1
        if self.uses >= WARM:
            self.match = _any_glob(self.rendered).fullmatch
        return any(rendered_match(r, value, segmented=False) for r in self.rendered)


@functools.lru_cache(maxsize=16384)
def _any_glob(rendered: tuple[Rendered, ...]) -> Pattern:
    return re.compile("|".join(f"(?:{glob_source(r)})" for r in rendered), re.DOTALL)


def _arn_source(rendered: Rendered) -> str:
    """operators#Conditions_ARN: "Each of the six colon-delimited components of the ARN is checked
    separately and each can include ... (*) or (?)".  The first five colons separate the parts
    (the sixth part, the resource, may itself hold colons), so a wildcard in parts one to five
    never matches a colon, and the request value must have six parts.  Variables are substituted
    before the value is split (a substituted value may contain colons).

    Choice (UNDOCUMENTED.md): a policy value with fewer than six parts is matched against the
    whole request value like StringLike (so "*" matches any ARN); the request value must still
    have six parts.
    """
    chars = [(c, isinstance(seg, Literal)) for seg in rendered for c in seg.text]
    if sum(1 for c, _ in chars if c == ":") < 5:
        return "(?=(?:[^:]*:){5})" + glob_source(rendered)
    out: list[str] = []
    part = 0
    for c, wild in chars:
        if c == ":" and part < 5:
            out.append(":")
            part += 1
        elif wild and c == "*":
            out.append(".*" if part == 5 else "[^:]*")
        elif wild and c == "?":
            out.append("." if part == 5 else "[^:]")
        else:
            out.append(re.escape(c))
    return "".join(out)


@functools.lru_cache(maxsize=16384)
def _any_arn(rendered: tuple[Rendered, ...]) -> Pattern:
    return re.compile("|".join(f"(?:{_arn_source(r)})" for r in rendered), re.DOTALL)


def _arn_test(rendered: tuple[Rendered, ...]) -> ValueTest:
    if not rendered:
        return _NEVER
    if not any(has_wildcard(r) for r in rendered):
        # No wildcard: each value is matched part by part as written, which is equality (a value of fewer
        # than six parts matches nothing, the request value needing six); no expression to compile.
        exact = frozenset(text for text in map(plain_text, rendered) if text.count(":") >= 5)
        return exact.__contains__
    plain = [as_plain_pattern(r) for r in rendered]
    if any(p is None for p in plain):
        # A literal "*" or "?" (from ${*} or a substituted value) beside wildcards: the expression.
        match = _any_arn(rendered).fullmatch
        return lambda v: match(v) is not None
    # The common case, without compiling an expression for values a fresh policy may use once: the same
    # rule as _arn_source, part by part.
    tests = tuple(_arn_parts_test(p) for p in plain if p is not None)
    return lambda v: any(test(v) for test in tests)


def _arn_parts_test(pattern: str) -> ValueTest:
    """One ARN condition value (its wildcards all wildcards) as ``_arn_source`` reads it: split at its first
    five colons, each of the first five parts a glob over the request value's part (which holds no colon),
    the sixth a glob over the rest; a value of fewer than six parts a glob over the whole request value,
    which must still have six parts."""
    if pattern.count(":") < 5:
        return lambda v: v.count(":") >= 5 and nfa_match(pattern, v, segmented=False)
    parts = pattern.split(":", 5)

    def test(v: str) -> bool:
        got = v.split(":", 5)
        if len(got) != 6:
            return False
        for p, x in zip(parts, got, strict=True):  # noqa: SIM110 - a plain loop: this runs per request
            if p != x and not nfa_match(p, x, segmented=False):
                return False
        return True

    return test


def _templated(values: tuple[str, ...], variables: bool, make: Callable[[tuple[Rendered, ...]], ValueTest]) -> Binder:
    """Render at compile time when no value holds a variable; otherwise per request.  Either way the
    test (a regular expression for the Like and Arn operators) is built when first needed: most
    clauses of a fresh policy are never reached, and compiling an expression costs more than
    evaluating many requests."""
    templates = _templates(values, variables)
    if not _has_variables(templates):
        rendered = _render_all(templates, EMPTY_CONTEXT) or ()
        built: list[ValueTest] = []

        def bind(_ctx: RequestContext) -> ValueTest:
            if not built:
                built.append(make(rendered))
            return built[0]

        return bind
    names = tuple(dict.fromkeys(k.lower() for t in templates for k in t.keys))

    def render(found: tuple[ContextValue | None, ...]) -> ValueTest | None:
        values = {n: cv for n, cv in zip(names, found, strict=True) if cv is not None}
        rendered = _render_all(templates, RequestContext(values))
        return None if rendered is None else make(rendered)

    # The rendering depends only on the variables' context values: rendered once per distinct set.
    renderings: Memo[tuple[ContextValue | None, ...], ValueTest | None] = Memo(render, _RENDERINGS_KEPT)
    return lambda ctx: renderings.get(tuple(ctx.get(n) for n in names))


_RENDERINGS_KEPT: Final = 1024  # renderings a clause with a policy variable keeps (``_templated``)


def _string_binder(kind: str, values: tuple[str, ...], variables: bool, fail: _Fail) -> Binder:
    return _templated(values, variables, functools.partial(_string_test, kind))


def _arn_binder(kind: str, values: tuple[str, ...], variables: bool, fail: _Fail) -> Binder:
    return _templated(values, variables, _arn_test)


def _bool_test(rendered: tuple[Rendered, ...]) -> ValueTest:
    wanted = frozenset(b for r in rendered if (b := read_bool(plain_text(r))) is not None)
    return lambda v: read_bool(v) in wanted


def _bool_binder(kind: str, values: tuple[str, ...], variables: bool, fail: _Fail) -> Binder:
    templates = _templates(values, variables)
    for i, t in enumerate(templates):
        if not t.keys and read_bool(plain_text(t.render(EMPTY_CONTEXT) or ())) is None:
            raise fail(i, f'Bool needs "true" or "false", not {values[i]!r}')
    return _templated(values, variables, _bool_test)


def _ordered_binder(
    kind: str,
    values: tuple[str, ...],
    fail: _Fail,
    read: Callable[[str], object | None],
    what: str,
    read_policy: Callable[[str], tuple[bool, object | None]] | None = None,
) -> Binder:
    """``read`` reads request values (and policy values unless ``read_policy`` is given: it says
    whether a policy value is accepted, and its reading, None for one that matches nothing)."""
    parsed: list[object] = []
    for i, v in enumerate(values):
        accepted, x = read_policy(v) if read_policy is not None else (True, read(v))
        if not accepted or (x is None and read_policy is None):
            raise fail(i, f"{v!r} is not {what}")
        if x is not None:
            parsed.append(x)
    compare = _COMPARE[kind]
    targets = tuple(parsed)
    if not targets:
        return _constant(_NEVER)
    if len(targets) == 1:  # the common case, without a loop
        target = targets[0]

        def test_one(v: str) -> bool:
            x = read(v)
            return x is not None and compare(x, target)

        return _constant(test_one)

    def test(v: str) -> bool:
        x = read(v)
        if x is None:
            return False
        for t in targets:  # noqa: SIM110 - hot path: a loop beats any() on a generator
            if compare(x, t):
                return True
        return False

    return _constant(test)


def _numeric_binder(kind: str, values: tuple[str, ...], variables: bool, fail: _Fail) -> Binder:
    return _ordered_binder(kind, values, fail, read_number, "an integer or decimal number")


def _date_binder(kind: str, values: tuple[str, ...], variables: bool, fail: _Fail) -> Binder:
    return _ordered_binder(
        kind, values, fail, read_instant, "an ISO 8601 (W3C) date/time or epoch seconds", read_policy_instant
    )


def _binary_binder(kind: str, values: tuple[str, ...], variables: bool, fail: _Fail) -> Binder:
    wanted: set[bytes] = set()
    for i, v in enumerate(values):
        b = read_binary(v)
        if b is None:
            raise fail(i, f"{v!r} is not base64")
        wanted.add(b)
    frozen = frozenset(wanted)
    return _constant(lambda v: read_binary(v) in frozen)


def _ip_binder(kind: str, values: tuple[str, ...], variables: bool, fail: _Fail) -> Binder:
    ranges: list[tuple[int, int, int]] = []  # (version, network as int, netmask as int)
    for i, v in enumerate(values):
        r = _network_range(v)
        if r is None:
            raise fail(i, f"{v!r} is not an IPv4 or IPv6 address or CIDR range")
        ranges.append(r)
    frozen = tuple(ranges)

    def test(v: str) -> bool:
        a = read_address(v)
        if a is None:
            return False
        version, address = a
        # An IPv4 address is never inside an IPv6 range.  (Hot path: a loop beats any().)
        for net_version, network, mask in frozen:  # noqa: SIM110
            if net_version == version and address & mask == network:
                return True
        return False

    return _constant(test)


_BINDERS: Final[dict[Family, Callable[[str, tuple[str, ...], bool, _Fail], Binder]]] = {
    "String": _string_binder,
    "Arn": _arn_binder,
    "Bool": _bool_binder,
    "Numeric": _numeric_binder,
    "Date": _date_binder,
    "Binary": _binary_binder,
    "Ip": _ip_binder,
}


# ---------------------------------------------------------------------------
# One (operator, key) clause: missing keys, IfExists, set qualifiers, negation.
# ---------------------------------------------------------------------------


def _plain_holds(key: str, if_exists: bool, negated: bool, bind: Binder) -> Holds:
    """No set qualifier.

    operators (Important box): a key not in the request context makes the condition false, and
    true for a negated operator; #Conditions_IfExists: with IfExists a missing key makes it true.
    logic: several policy values are OR (NOR when negated).

    Choice (UNDOCUMENTED.md): a key present with no values is missing; with several request
    values (a multivalued key without ForAllValues/ForAnyValue) the key matches when any of its
    values matches, and a negated operator holds when none does, so a negated operator is always
    the negation of its positive form once the key is present.
    """

    def holds(ctx: RequestContext) -> bool:
        cv = ctx.get(key)
        if cv is None or not cv.values:
            return if_exists or negated
        test = bind(ctx)
        if test is None:
            return negated
        for v in cv.values:
            if test(v):
                return not negated
        return negated

    return holds


def _for_all_holds(key: str, negated: bool, bind: Binder) -> Holds:
    """single-vs-multi#ForAllValues: true if every request value matches a policy value; "It also
    returns true if there are no context keys in the request" (and for an empty data set).
    operators#Conditions_String table: ForAllValues:StringNotEquals - "None of the values of the
    context key in the request can match any of the context key values in your policy"."""

    def holds(ctx: RequestContext) -> bool:
        cv = ctx.get(key)
        if cv is None or is_empty_data_set(cv.values):
            return True
        test = bind(ctx)
        if test is None:
            return negated
        return all(test(v) != negated for v in cv.values)

    return holds


def _for_any_holds(key: str, if_exists: bool, negated: bool, bind: Binder) -> Holds:
    """single-vs-multi#ForAnyValue: true if any request value matches a policy value; "if the key
    does not exist, the condition returns false" (and for an empty data set).  operators table:
    ForAnyValue:StringNotEquals - "At least one context key value in the request must NOT match
    any of values in the context key in your policy".  IfExists applies to every operator but
    Null (#Conditions_IfExists), so ForAnyValue:...IfExists is true when the key is missing."""

    def holds(ctx: RequestContext) -> bool:
        cv = ctx.get(key)
        if cv is None or not cv.values:
            return if_exists
        if is_empty_data_set(cv.values):
            return False
        test = bind(ctx)
        if test is None:
            return negated
        return any(test(v) != negated for v in cv.values)

    return holds


def _null_holds(key: str, wanted: frozenset[bool]) -> Holds:
    """operators#Conditions_Null: "true (the key doesn't exist - it is null) or false (the key
    exists and its value is not null)".  Choice: a key with no values or only empty strings is
    null (multi-examples: Null false guards against "context keys with empty values")."""

    def holds(ctx: RequestContext) -> bool:
        cv = ctx.get(key)
        return (cv is None or is_empty_data_set(cv.values)) in wanted

    return holds


# ---------------------------------------------------------------------------
# The block.
# ---------------------------------------------------------------------------


class Clause:
    """One condition key under one operator, with its policy values as written."""

    # A plain class, not a dataclass: compiled, a dataclass's __init__ runs in Python (see evaluator.Slot).
    def __init__(self, operator: Operator, key: str, values: tuple[str, ...], holds: Holds) -> None:
        self.operator: Final = operator
        self.key: Final = key
        self.values: Final = values
        self.holds: Final = holds

    def describe(self, ctx: RequestContext) -> str:
        cv = ctx.get(self.key)
        request = "(absent)" if cv is None else repr(list(cv.values))
        return f"{self.operator.written} {self.key} in {list(self.values)!r} -> request {request}"


class ConditionBlock:
    """A compiled Condition element.

    elements_condition / logic#reference_policies_multiple-conditions-eval: several operators
    are AND, several keys under one operator are AND, several values for one key are OR (NOR for
    a negated operator).
    """

    def __init__(self, clauses: tuple[Clause, ...], keys: tuple[str, ...], tests: tuple[Holds, ...]) -> None:
        self.clauses: Final = clauses
        self.keys: Final = keys
        self._tests: Final = tests

    def matches(self, ctx: RequestContext) -> bool:
        for test in self._tests:  # noqa: SIM110 - the hot path: a plain loop beats all() on a generator
            if not test(ctx):
                return False
        return True

    def as_one_test(self) -> Holds:
        """``matches`` as a single callable: the only clause's test itself when there is one."""
        return self._tests[0] if len(self._tests) == 1 else self.matches

    def missing_keys(self, ctx: RequestContext) -> list[str]:
        return [k for k in self.keys if not ctx.has(k)]

    def explain(self, ctx: RequestContext) -> list[tuple[str, bool]]:
        return [(c.describe(ctx), c.holds(ctx)) for c in self.clauses]


_CLAUSE_MEMO_LIMIT: Final = 16_384
_COMPILED_CLAUSES: Final[dict[tuple[str, str, tuple[str, ...], bool], tuple[Clause, tuple[str, ...]]]] = {}


def forget_compiled_clauses(*, values: bool = True) -> None:
    """Empty the cache of compiled clauses; ``values=False`` keeps the readings of policy IP values (a batch's
    aging: small, bounded, and a generated batch brings the same ranges back in policy after policy)."""
    _COMPILED_CLAUSES.clear()
    if values:
        _network_range.cache_clear()


def compile_conditions(
    block: Mapping[str, Mapping[str, tuple[str, ...]]],
    *,
    doc: ParsedDocument,
    path: tuple[PathPart, ...],
    variables_enabled: bool,
) -> ConditionBlock:
    """Compile a statement's Condition (as shaped by ``reference.policy``); raise PolicyError for
    an unknown or invalid operator or a value its operator cannot read.

    Any key name is accepted: IAM's CreatePolicy takes keys without a service prefix ("a":
    tests/fixtures/moto/, accepted 30, 32-37), though elements_condition says global keys have the
    aws: prefix and service keys the service's."""
    clauses: list[Clause] = []
    keys: dict[str, str] = {}
    for written, entries in block.items():
        if not entries:
            # An operator with no keys tests nothing (AND of nothing), and IAM's CreatePolicy accepts it
            # even when it is no operator at all ({"a": {}}: tests/fixtures/moto/, accepted 19 and 31).
            continue
        op = parse_operator(written)
        if isinstance(op, tuple):
            raise doc.error(op[0], op[1], [*path, written], at_key=True)
        for key, values in entries.items():
            # Generated and real policies repeat clauses: each is compiled once (a clause depends on its
            # operator, key, values and whether variables are on; the document only locates an error,
            # and a clause that raises one is not kept).
            memo_key = (written, key, values, variables_enabled)
            found = _COMPILED_CLAUSES.get(memo_key)
            if found is None:
                found = _clause(op, key, values, doc, [*path, written, key], variables_enabled)
                if len(_COMPILED_CLAUSES) >= _CLAUSE_MEMO_LIMIT:
                    _COMPILED_CLAUSES.clear()
                _COMPILED_CLAUSES[memo_key] = found
            clause, read = found
            clauses.append(clause)
            for k in (key, *read):
                keys.setdefault(k.lower(), k)
    return ConditionBlock(tuple(clauses), tuple(keys.values()), tuple(c.holds for c in clauses))


def _clause(
    op: Operator,
    key: str,
    values: tuple[str, ...],
    doc: ParsedDocument,
    where: list[PathPart],
    variables_enabled: bool,
) -> tuple[Clause, tuple[str, ...]]:
    """The clause and the variable keys its values read."""
    listed = isinstance(_raw(doc, where), list)

    def fail(i: int, message: str) -> PolicyError:
        at = [*where, i] if listed else where
        return doc.error("invalid-condition-value", f"{op.written} {key}: {message}", at)

    spec = op.spec
    if spec.family == "Null":
        wanted = set()
        for i, v in enumerate(values):
            b = read_bool(v)
            if b is None:
                raise fail(i, f'Null needs "true" or "false", not {v!r}')
            wanted.add(b)
        return Clause(op, key, values, _null_holds(key, frozenset(wanted))), ()
    variables = variables_enabled and spec.family in _VARIABLE_FAMILIES
    bind = _BINDERS[spec.family](spec.kind, values, variables, fail)
    read = tuple(k for v in values if variables and "${" in v for k in parse_template(v, variables_enabled=True).keys)
    if op.qualifier == "ForAllValues":
        holds = _for_all_holds(key, spec.negated, bind)
    elif op.qualifier == "ForAnyValue":
        holds = _for_any_holds(key, op.if_exists, spec.negated, bind)
    else:
        holds = _plain_holds(key, op.if_exists, spec.negated, bind)
    return Clause(op, key, values, holds), read


def _raw(doc: ParsedDocument, where: Sequence[PathPart]) -> object:
    """The JSON value at a path of the document (None when the path is not there)."""
    node: object = doc.value
    for part in where:
        if isinstance(node, dict) and isinstance(part, str):
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            return None
    return node


__all__ = [
    "Binder",
    "Clause",
    "ConditionBlock",
    "Holds",
    "Operator",
    "ValueTest",
    "compile_conditions",
    "is_empty_data_set",
    "parse_operator",
    "read_address",
    "read_binary",
    "read_bool",
    "read_instant",
    "read_network",
    "read_number",
    "read_policy_instant",
]
