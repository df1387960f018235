"""Request context that satisfies or violates a condition clause, and values for policy variables.

For a clause (operator, key, policy values) the request gets the key with values
that match a policy value or match none -- the boundary helpers of
``strategies.values`` put them just inside or just outside a comparison -- or
goes without the key, whichever makes the clause hold or fail as asked, with
``IfExists``, negated operators and the set operators taken into account as
``reference.conditions`` documents them.  Policy variables in a pattern get a
value here too (added to the context) or their default.
"""

from __future__ import annotations

import ipaddress
from decimal import Decimal
from typing import cast

from reference.catalog import get_catalog
from reference.conditions import read_binary, read_bool, read_instant, read_network, read_number
from reference.model import ContextEntry, ContextKeyType
from reference.variables import Escaped, Literal, Variable, parse_template
from strategies._choice import Chooser
from strategies._match import arn_match, glob_match
from strategies.arns import gen_near_miss
from strategies.fill import Pieces, fill_arn, fill_glob
from strategies.targets import AimClause
from strategies.values import (
    address_in,
    date_near,
    flip_bool,
    gen_value,
    number_near,
    other_binary,
    other_case,
)

_NATURAL: dict[str, str] = {
    "String": "string",
    "Arn": "string",
    "Numeric": "numeric",
    "Date": "date",
    "Bool": "boolean",
    "Binary": "binary",
    "Ip": "ip",
    "Null": "string",
}


# --------------------------------------------------------------------------- request context under construction


class ContextBuilder:
    """Context entries by lower-cased key; the first writer of a key wins."""

    __slots__ = ("entries", "safe")

    def __init__(self, safe: bool) -> None:
        self.entries: dict[str, ContextEntry] = {}
        self.safe = safe

    def has(self, key: str) -> bool:
        return key.lower() in self.entries

    def put(self, key: str, ctype: str, values: list[str]) -> None:
        self.entries.setdefault(key.lower(), ContextEntry(key=key, type=cast(ContextKeyType, ctype), values=values))

    def variable(self, c: Chooser, key: str, default: str | None) -> str | None:
        """The value a ``${key}`` renders to, adding the key to the context when it decides so."""
        entry = self.entries.get(key.lower())
        if entry is not None:
            if entry.type.endswith("List") or len(entry.values) != 1:
                return default
            return entry.values[0]
        if default is not None and c.weighted([(2, True), (3, False)]):
            # left absent so that the default is used (a weighted choice: under Hypothesis it leans to
            # its first entry, where a chance() of 0.4 comes out far rarer)
            return default
        if c.chance(0.1):
            return default  # left absent: the value is the default, or nothing
        value = gen_value(c, "string", key, self.safe) or "v"
        self.put(key, "string", [value])
        return value


def render_pieces(c: Chooser, text: str, variables: bool, ctx: ContextBuilder) -> list[tuple[str, bool]] | None:
    """The pattern with its variables substituted: (text, wildcards active); None if a variable has no value."""
    template = parse_template(text, variables_enabled=variables)
    out: list[tuple[str, bool]] = []
    for seg in template.segments:
        if isinstance(seg, Literal):
            out.append((seg.text, True))
        elif isinstance(seg, Escaped):
            out.append((seg.text, False))
        else:
            assert isinstance(seg, Variable)
            value = ctx.variable(c, seg.key, seg.default)
            if value is None:
                return None
            out.append((value, False))
    return out


def _rendered(pieces: Pieces) -> tuple[Literal | Escaped, ...]:
    return tuple(Literal(t) if wild else Escaped(t) for t, wild in pieces)


def _plain(pieces: Pieces) -> str:
    return "".join(t for t, _ in pieces)


# --------------------------------------------------------------------------- conditions


def _entry_type(key: str, family: str, listed: bool) -> tuple[str, bool]:
    """(context type, multivalued) for a clause's key: the catalog's type when it suits the family."""
    natural = _NATURAL[family]
    found = get_catalog().condition_key(key)
    multivalued = listed
    base = natural
    if found is not None:
        ctype = found.context_type
        multivalued = ctype.endswith("List")
        catalog_base = ctype[:-4] if multivalued else ctype
        if family == "Null" or catalog_base == natural:
            base = catalog_base
    return (base + "List" if multivalued else base), multivalued


def _in_any_network(value: str, cidrs: tuple[str, ...]) -> bool:
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return False
    for cidr in cidrs:
        network = read_network(cidr)
        if network is not None and network.version == address.version and address in network:
            return True
    return False


class _Values:
    """Request values that do / do not match a clause's policy values (before negation)."""

    def __init__(self, c: Chooser, clause: AimClause, variables: bool, ctx: ContextBuilder) -> None:
        self.c = c
        self.clause = clause
        self.safe = ctx.safe
        self.rendered: list[list[tuple[str, bool]]] = []
        if clause.family in ("String", "Arn", "Bool"):
            for v in clause.values:
                pieces = render_pieces(c, v, variables, ctx)
                if pieces is not None:
                    self.rendered.append(pieces)
        else:
            self.rendered = [[(v, True)] for v in clause.values]

    def test(self, value: str) -> bool:
        f, kind = self.clause.family, self.clause.kind
        if f == "String":
            if kind == "equals":
                return any(_plain(p) == value for p in self.rendered)
            if kind == "equals-ignore-case":
                return any(_plain(p).lower() == value.lower() for p in self.rendered)
            return any(glob_match(p, value) for p in self.rendered)
        if f == "Arn":
            return any(arn_match(p, value) for p in self.rendered)
        if f == "Bool":
            return read_bool(value) in {read_bool(_plain(p)) for p in self.rendered} - {None}
        if f == "Binary":
            return read_binary(value) in {read_binary(v) for v in self.clause.values}
        if f == "Ip":
            return _in_any_network(value, self.clause.values)
        reader = read_number if f == "Numeric" else read_instant
        x = reader(value)
        if x is None:
            return False
        targets = [t for v in self.clause.values if (t := reader(v)) is not None]
        ops = {"eq": x.__eq__, "lt": x.__lt__, "le": x.__le__, "gt": x.__gt__, "ge": x.__ge__}
        return any(ops[kind](t) for t in targets)  # type: ignore[operator]

    def good(self) -> str | None:
        """A value that matches at least one policy value."""
        c, f, kind = self.c, self.clause.family, self.clause.kind
        if not self.rendered:
            return None
        if f == "String":
            p = c.pick(self.rendered)
            if kind == "equals":
                return _plain(p)
            if kind == "equals-ignore-case":
                return other_case(c, _plain(p))
            return fill_glob(c, p)
        if f == "Arn":
            return fill_arn(c, c.pick(self.rendered))
        if f == "Bool":
            b = read_bool(_plain(c.pick(self.rendered)))
            return None if b is None else ("true" if b else "false")
        value = c.pick(self.clause.values)
        if f == "Binary":
            return value
        if f == "Ip":
            return address_in(c, value, inside=True)
        return self._ordered(True)

    def bad(self) -> str | None:
        """A value that matches none of the policy values (None when there is none to find)."""
        for _ in range(3):
            candidate = self._bad_candidate()
            if candidate is not None and not self.test(candidate):
                return candidate
        return None

    def _bad_candidate(self) -> str | None:
        c, f = self.c, self.clause.family
        if f in ("String", "Arn"):
            good = self.good()
            if good is None:
                return gen_value(c, "string", self.clause.key, self.safe)
            question = f == "String" and self.clause.kind == "like" and any("?" in v for v in self.clause.values)
            how = c.weighted(
                [
                    (2 if f == "Arn" else 0, "colon"),
                    (2 if question else 0, "question"),
                    (2, "case"),
                    (2, "append"),
                    (1, "near"),
                ]
            )
            if how == "question":
                # '?' is exactly one character: none or two in its place must not match
                return fill_glob(c, c.pick(self.rendered), question_width=c.pick((0, 2)))
            if how == "case" and other_case(c, good) != good:
                return other_case(c, good)
            if how == "near" and f == "Arn" and good.count(":") >= 5:
                return gen_near_miss(c, good)
            if how == "colon" and good.count(":") >= 5:
                # A colon inside the region or account part: ArnLike splits the value at its first five
                # colons, so a "*" there must not take it (..._condition_operators.html#Conditions_ARN).
                parts = good.split(":", 5)
                at = c.pick((3, 4))
                parts[at] += ":" + c.text("abcdefghijklmnopqrstuvwxyz0123456789", 1, 4)
                return ":".join(parts)
            return good + c.pick(("x", "-", "/", "0"))
        if f == "Bool":
            good = self.good()
            return flip_bool(good) if good is not None else "true"
        value = c.pick(self.clause.values)
        if f == "Binary":
            return other_binary(value)
        if f == "Ip":
            return address_in(c, value, inside=False)
        return self._ordered(False)

    def _ordered(self, match: bool) -> str:
        """Numeric and Date values just inside or just outside the comparison."""
        c, f, kind = self.c, self.clause.family, self.clause.kind
        reader = read_number if f == "Numeric" else read_instant
        pairs = [(t, v) for v in self.clause.values if (t := reader(v)) is not None]
        lo_v = min(pairs, key=lambda p: cast(Decimal, p[0]))[1]
        hi_v = max(pairs, key=lambda p: cast(Decimal, p[0]))[1]
        near = number_near if f == "Numeric" else date_near
        just = c.chance(0.6)
        if kind == "eq":
            if match:
                return near(c, c.pick(self.clause.values), "equal")
            return near(c, hi_v, "just-above" if just else "above")
        # The boundary itself is what tells "less than" from "less than or equal": it comes first
        # (under Hypothesis a weighted choice leans to its first entry, and shrinks to it).
        if kind in ("lt", "le"):
            if match:
                return near(c, hi_v, c.weighted([(1, "equal"), (1, "just-below")]) if kind == "le" else "just-below")
            return near(c, hi_v, c.weighted([(1, "equal"), (1, "just-above")]) if kind == "lt" else "just-above")
        if match:
            return near(c, lo_v, c.weighted([(1, "equal"), (1, "just-above")]) if kind == "ge" else "just-above")
        return near(c, lo_v, c.weighted([(1, "equal"), (1, "just-below")]) if kind == "gt" else "just-below")


def gen_clause_entry(c: Chooser, clause: AimClause, want: bool, variables: bool, ctx: ContextBuilder) -> None:
    """Add (or leave out) the clause's key so that the clause holds (``want``) or fails."""
    if ctx.has(clause.key):
        return
    ctype, multivalued = _entry_type(clause.key, clause.family, clause.qualifier is not None)
    base = ctype[:-4] if multivalued else ctype
    if clause.family == "Null":
        wanted = {b for v in clause.values if (b := read_bool(v)) is not None}
        options = [null for null in (True, False) if (null in wanted) == want]
        if not options:
            return
        if c.pick(options):
            if c.chance(0.2):
                ctx.put(clause.key, ctype, [] if multivalued else [""])
            return
        ctx.put(clause.key, ctype, [gen_value(c, base, clause.key, ctx.safe) or "x"])
        return
    vals = _Values(c, clause, variables, ctx)

    def ok() -> str | None:  # a value for which the operator (negation included) holds
        return vals.bad() if clause.negated else vals.good()

    def not_ok() -> str | None:
        return vals.good() if clause.negated else vals.bad()

    def put(values: list[str | None]) -> None:
        kept = [v for v in values if v is not None]
        if not kept:
            return
        ctx.put(clause.key, ctype, kept if multivalued else kept[:1])

    q = clause.qualifier
    if q is None:
        if want:
            if (clause.if_exists or clause.negated) and c.chance(0.2):
                return  # absent: IfExists and negated operators hold
            put([ok()])
        else:
            if not clause.if_exists and not clause.negated and c.chance(0.25):
                return  # absent: a positive operator fails
            put([not_ok()])
        return
    if q == "ForAllValues":
        if want:
            how = c.weighted([(6, "values"), (2, "absent"), (1, "empty")])
            if how == "absent":
                return
            if how == "empty":
                ctx.put(clause.key, ctype, [])
                return
            put([ok() for _ in range(c.integer(1, 3))])
        else:
            put([not_ok()] + [ok() for _ in range(c.integer(0, 2))])
        return
    # ForAnyValue
    if want:
        if clause.if_exists and c.chance(0.2):
            return
        put([ok()] + [not_ok() for _ in range(c.integer(0, 2))])
    else:
        how = c.weighted([(5, "values"), (2 if not clause.if_exists else 0, "absent"), (1, "empty")])
        if how == "absent":
            return
        if how == "empty":
            ctx.put(clause.key, ctype, [])
            return
        put([not_ok() for _ in range(c.integer(1, 2))])
