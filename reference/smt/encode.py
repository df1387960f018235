"""A policy set as an SMT formula over one request: true exactly when the reference decides ``allowed``.

The formula mirrors ``reference.evaluator.decide`` rule for rule (each rule's IAM User Guide page is
cited there) over a symbolic request:

- the action is one of finitely many *action classes*: the actions of a universe (by default every action
  of the IAM catalog) grouped by which Action/NotAction elements match them (and, when RCPs are present,
  whether their service supports RCPs).  Every action of a class gets the same decision, so a class is
  one symbolic value and a model names a real action of it;
- the resource is a string (z3's string theory) matched by regular expressions built rule for rule beside
  ``reference.patterns`` (``reference.smt.regex``);
- each condition key read by a statement is: present or not; a number of values (one, or for keys read
  by ForAllValues/ForAnyValue as many as their clauses need, up to ``SET_VALUES``); each value typed by the
  operator family that reads it: strings, exact decimals (integers over a common scale), instants
  (integer microseconds), booleans, IPv4 addresses (32-bit vectors).

What the encoding does not cover raises ``NotEncodable`` naming it (policy variables, Binary operators, a
key read by two incompatible operator families); a proof is then reported "not proved: uses X".
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import cast

import z3

from reference.catalog import get_catalog
from reference.compiled import ActionMatcher, CompiledStatement, PolicyCache
from reference.conditions import Clause, read_address, read_binary, read_bool, read_instant, read_network, read_number
from reference.context import EMPTY_CONTEXT
from reference.evaluator import BOUNDARY, IDENTITY, RCP, RESOURCE, SCP, SESSION, PreparedCase, prepare
from reference.model import Case, ContextEntry, ContextKeyType, Request
from reference.principals import PrincipalMatch
from reference.smt import regex
from reference.variables import Literal, Template, Variable, parse_template

# Values a key read by ForAllValues/ForAnyValue may hold: one per distinct clause reading it, plus one (the
# non-empty value that ``KeyVars.all_empty`` may need), at most ``SET_VALUES``.  That many is enough for every
# request: from any set of values, keep one value that decides each clause (the value that makes a
# ForAnyValue clause hold, the one that makes a ForAllValues clause fail) and a non-empty one; every clause
# reads the same on the smaller set.  Past the cap the proof covers sets of up to SET_VALUES values
# (``RequestSpace.capped_keys`` names them).
SET_VALUES = 4
# Instants a request may carry, in microseconds from 1970 (negative before): the W3C dates the reference
# reads, years 0001 to 9999 (reference.conditions.read_instant).
_EPOCH_START = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MIN_INSTANT = (dt.datetime(1, 1, 1, tzinfo=dt.UTC) - _EPOCH_START) // dt.timedelta(microseconds=1)
_MAX_INSTANT = (dt.datetime(9999, 12, 31, tzinfo=dt.UTC) - _EPOCH_START) // dt.timedelta(microseconds=1)


class NotEncodable(Exception):
    """A policy element outside the encoding; ``reason`` names it."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


_STRING_FAMILIES = frozenset({"String", "Arn"})


@dataclass(slots=True)
class KeyVars:
    """The symbolic values of one condition key."""

    written: str
    family: str  # String (also Arn), Binary, Numeric, Date, Bool, Ip
    slots: int
    present: z3.BoolRef
    count: z3.ArithRef
    values: list[z3.ExprRef]

    def used(self, i: int) -> z3.BoolRef:
        return z3.And(self.present, self.count > i)

    def all_empty(self) -> z3.BoolRef:
        """Every value is the empty string (``is_empty_data_set``; only strings can be empty)."""
        if self.family not in ("String", "Binary"):
            return z3.BoolVal(False)
        return z3.And(*[z3.Implies(self.used(i), self.values[i] == z3.StringVal("")) for i in range(self.slots)])


def _clauses(statements: Iterable[CompiledStatement]) -> Iterator[Clause]:
    for st in statements:
        if st.condition is not None:
            yield from st.condition.clauses


@dataclass(slots=True)
class RequestSpace:
    """The symbolic request shared by every policy set of one question (old and new, say)."""

    prepared: list[PreparedCase]
    universe: Sequence[str]
    # Actions that get a class of their own (lower case), so that a question can name them: a proof that
    # leaves out the actions a report already lists, a claim about some actions.
    distinguished: frozenset[str] = frozenset()
    action: z3.ArithRef = field(init=False)
    resource: z3.SeqRef = field(init=False)
    keys: dict[str, KeyVars] = field(init=False)
    classes: list[tuple[bool, ...]] = field(init=False)  # signature of each action class
    members: list[list[str]] = field(init=False)  # actions of each class
    matchers: dict[ActionMatcher, int] = field(init=False)  # position in the signature
    numeric_scale: int = field(init=False)
    templates: dict[int, tuple[Template, ...]] = field(init=False)  # id(statement) -> its Resource values
    clause_variables: dict[int, bool] = field(init=False)  # id(clause) -> policy variables enabled
    variable_keys: set[str] = field(init=False)  # keys read by policy variables (lower case)
    capped_keys: list[str] = field(init=False)  # multi-valued keys held to SET_VALUES values (fewer than needed)
    _class_of_signature: dict[tuple[tuple[bool, ...], str], int] = field(init=False)

    def __post_init__(self) -> None:
        statements = [st for p in self.prepared for slot in p.slots for st in slot.compiled.statements]
        self.templates, self.clause_variables = {}, {}
        for p in self.prepared:
            for slot in p.slots:
                enabled = slot.compiled.parsed.variables_enabled
                for st in slot.compiled.statements:
                    self.templates[id(st)] = tuple(
                        parse_template(v, variables_enabled=enabled) for v in st.statement.resources
                    )
                    for clause in _clauses([st]):
                        self.clause_variables[id(clause)] = enabled
        self.matchers = {}
        for st in statements:
            self.matchers.setdefault(st.actions, len(self.matchers))
        self.action = z3.Int("action")
        self.resource = z3.String("resource")
        self._classes(self.universe)
        self._keys(statements)

    def clause_templates(self, clause: Clause) -> tuple[Template, ...]:
        family = clause.operator.spec.family
        enabled = self.clause_variables[id(clause)] and family in ("String", "Arn", "Bool")
        return tuple(parse_template(v, variables_enabled=enabled) for v in clause.values)

    def variable(self, var: Variable) -> tuple[z3.BoolRef, z3.SeqRef]:
        """(has a value, the value) of a policy variable (``reference.variables.Template.render``: a key
        with exactly one value, not given as a list; else the default; else no value)."""
        k = self.keys[var.key.lower()]
        has = z3.And(k.present, k.count == 1) if k.slots == 1 else z3.BoolVal(False)
        value = k.values[0] if k.family == "String" else None
        if value is None:
            raise NotEncodable(f"policy variable ${{{var.key}}} on a key read as {k.family}")
        default = z3.StringVal(var.default or "")
        return (has if var.default is None else z3.BoolVal(True)), z3.If(has, value, default)

    def atoms(self, template: Template) -> tuple[z3.BoolRef, list[regex.Atom]]:
        """(every variable has a value, the template as regex atoms)."""
        renderable: list[z3.BoolRef] = []
        out: list[regex.Atom] = []
        for seg in template.segments:
            if isinstance(seg, Variable):
                has, value = self.variable(seg)
                renderable.append(has)
                out.append(value)
            else:
                out += [(c, isinstance(seg, Literal)) for c in seg.text]
        return (z3.And(*renderable) if renderable else z3.BoolVal(True)), out

    # ---- actions
    def _rcp_matters(self) -> bool:
        return any(p.rcp_levels for p in self.prepared)

    def signature(self, action: str) -> tuple[bool, ...]:
        low = action.lower()
        sig = tuple(m.matches(low) for m in self.matchers)
        if self._rcp_matters():
            sig += (low.split(":", 1)[0] in get_catalog().rcp_supported_services(),)
        return sig

    def _class_key(self, action: str) -> tuple[tuple[bool, ...], str]:
        low = action.lower()
        return self.signature(action), (low if low in self.distinguished else "")

    def _classes(self, universe: Sequence[str]) -> None:
        self.classes, self.members, self._class_of_signature = [], [], {}
        for action in universe:
            key = self._class_key(action)
            k = self._class_of_signature.get(key)
            if k is None:
                k = self._class_of_signature[key] = len(self.classes)
                self.classes.append(key[0])
                self.members.append([])
            self.members[k].append(action)

    def class_of(self, action: str) -> int | None:
        return self._class_of_signature.get(self._class_key(action))

    def is_action(self, actions: Iterable[str]) -> z3.BoolRef:
        """The request's action is one of these (each must be distinguished or the only one of its class)."""
        ks: set[int] = set()
        for a in actions:
            k = self.class_of(a)
            if k is None:
                continue
            if len(self.members[k]) > 1 and a.lower() not in self.distinguished:
                raise ValueError(f"{a} shares its action class: distinguish it in space_for")
            ks.add(k)
        return _one_of(self.action, sorted(ks))

    def action_matches(self, matcher: ActionMatcher) -> z3.BoolRef:
        at = self.matchers[matcher]
        hits = [k for k, sig in enumerate(self.classes) if sig[at]]
        return _one_of(self.action, hits)

    def rcps_apply(self) -> z3.BoolRef:
        return _one_of(self.action, [k for k, sig in enumerate(self.classes) if sig[-1]])

    # ---- condition keys
    def _keys(self, statements: Sequence[CompiledStatement]) -> None:
        families: dict[str, set[str]] = {}
        written: dict[str, str] = {}
        multi: set[str] = set()
        distinct: dict[str, set[tuple[str, tuple[str, ...]]]] = {}
        decimals = 0
        for clause in _clauses(statements):
            key = clause.key.lower()
            written.setdefault(key, clause.key)
            family = clause.operator.spec.family
            if family != "Null":
                families.setdefault(key, set()).add("String" if family in _STRING_FAMILIES else family)
            unencoded = clause.operator.spec.kind == "equals-ignore-case" or family != "String"
            if unencoded and any(parse_template(v, variables_enabled=True).keys for v in clause.values):
                raise NotEncodable(f"policy variables under {clause.operator.written} ({clause.key})")
            if clause.operator.qualifier is not None:
                multi.add(key)
            distinct.setdefault(key, set()).add((clause.operator.written, tuple(clause.values)))
            if family == "Numeric":
                for v in clause.values:
                    n = read_number(v)
                    exponent = n.as_tuple().exponent if n is not None else 0
                    decimals = max(decimals, -exponent if isinstance(exponent, int) and exponent < 0 else 0)
        # One digit finer than the finest policy value: between two different bounds there is always a
        # value of the encoding (x > 1 and x >= 2 differ only at non-integers such as 1.5).
        self.numeric_scale = 10 ** (decimals + 1)
        self.variable_keys = set()
        for st in statements:
            templates = [*self.templates[id(st)], *(t for c in _clauses([st]) for t in self.clause_templates(c))]
            for t in templates:
                for name in t.keys:
                    self.variable_keys.add(name.lower())
                    written.setdefault(name.lower(), name)
                    families.setdefault(name.lower(), set()).add("String")
        self.keys = {}
        self.capped_keys = []
        for key, name in written.items():
            fams = families.get(key, {"String"})  # a key only tested by Null: any value will do
            if len(fams) > 1:
                raise NotEncodable(f"condition key {name} read by {' and '.join(sorted(fams))} operators")
            (key_family,) = tuple(fams)
            needed = len(distinct.get(key, ())) + 1
            slots = min(needed, SET_VALUES) if key in multi else 1
            if key in multi and needed > SET_VALUES:
                self.capped_keys.append(name)
            make = _VARIABLE_OF[key_family]
            self.keys[key] = KeyVars(
                written=name,
                family=key_family,
                slots=slots,
                present=z3.Bool(f"{key}?"),
                count=z3.Int(f"{key}#"),
                values=[make(f"{key}[{i}]") for i in range(slots)],
            )

    def domain(self) -> z3.BoolRef:
        """What a request of the encoding can be."""
        out: list[z3.BoolRef] = [
            self.action >= 0,
            self.action < len(self.classes),
            z3.InRe(self.resource, regex.ANY),
        ]
        for k in self.keys.values():
            out.append(z3.Implies(k.present, z3.And(k.count >= 1, k.count <= k.slots)))
            out.append(z3.Implies(z3.Not(k.present), k.count == 0))
            for v in k.values:
                if k.family in ("String", "Binary"):
                    out.append(z3.InRe(v, regex.ANY))
                elif k.family == "Date":
                    out.append(z3.And(v >= _MIN_INSTANT, v <= _MAX_INSTANT))
        return z3.And(*out)


# The z3 variable of one value, by the family of the operators that read the key.
_VARIABLE_OF: dict[str, Callable[[str], z3.ExprRef]] = {
    "String": z3.String,
    "Binary": z3.String,
    "Numeric": z3.Int,
    "Date": z3.Int,
    "Bool": z3.Bool,
    "Ip": lambda n: z3.BitVec(n, 32),
}
_CONTEXT_TYPES = {
    "String": "string",
    "Binary": "binary",
    "Numeric": "numeric",
    "Date": "date",
    "Bool": "boolean",
    "Ip": "ip",
}


def _one_of(var: z3.ArithRef, ks: Sequence[int]) -> z3.BoolRef:
    if not ks:
        return z3.BoolVal(False)
    return z3.Or(*[var == k for k in ks])


# ------------------------------------------------------------------------------ conditions


def _value_test(space: RequestSpace, clause: Clause, family: str, v: z3.ExprRef) -> z3.BoolRef:
    """The positive test of one request value against the clause's policy values (OR of the values)."""
    kind = clause.operator.spec.kind
    tests: list[z3.BoolRef] = []
    for p, t in zip(clause.values, space.clause_templates(clause), strict=True):
        if family == "String" and not t.is_constant:
            _, atoms = space.atoms(t)
            if kind == "equals":
                text = [z3.StringVal(a[0]) if isinstance(a, tuple) else a for a in atoms]
                tests.append(v == (z3.Concat(*text) if len(text) > 1 else text[0]))
            else:
                tests.append(z3.InRe(v, regex.with_values(atoms, "glob")))
        elif family == "String" and clause.operator.spec.family == "Arn":
            tests.append(z3.InRe(v, regex.arn(p)))
        elif family == "String":
            if kind == "equals":
                tests.append(v == z3.StringVal(p))
            elif kind == "equals-ignore-case":
                tests.append(z3.InRe(v, regex.literal(p, ignore_case=True)))
            else:
                tests.append(z3.InRe(v, regex.glob(p)))
        elif family == "Binary":
            # operators#Conditions_BinaryEquals: the decoded bytes are compared; a request value is kept in
            # its canonical base-64 form (``assignment``), so equal bytes are equal strings.
            data = read_binary(p)
            if data is not None:
                tests.append(v == z3.StringVal(base64.b64encode(data).decode("ascii")))
        elif family == "Bool":
            b = read_bool(p)
            tests.append(v == z3.BoolVal(bool(b)))
        elif family == "Ip":
            net = read_network(p)
            if net is None or net.version != 4:
                continue  # an IPv4 address is never inside an IPv6 network
            mask = int(net.netmask)
            tests.append((v & mask) == int(net.network_address))
        else:
            if family == "Numeric":
                n = read_number(p)
                assert n is not None
                scaled = n * space.numeric_scale
                if scaled != scaled.to_integral_value():
                    raise NotEncodable(f"numeric value {p} finer than the encoding's scale")
                bound: int = int(scaled)
            else:
                instant = read_instant(p)
                assert instant is not None
                bound = instant
            compare = {"eq": v == bound, "lt": v < bound, "le": v <= bound, "gt": v > bound, "ge": v >= bound}
            tests.append(compare[kind])
    return z3.Or(*tests) if tests else z3.BoolVal(False)


def _clause_holds(space: RequestSpace, clause: Clause) -> z3.BoolRef:
    """``reference.conditions``: _plain_holds, _for_all_holds, _for_any_holds, _null_holds."""
    k = space.keys[clause.key.lower()]
    op = clause.operator
    spec = op.spec
    empty = z3.Or(z3.Not(k.present), k.all_empty())
    if spec.family == "Null":
        wanted = {read_bool(v) for v in clause.values}
        options = [empty if w else z3.Not(empty) for w in wanted if w is not None]
        return z3.Or(*options) if options else z3.BoolVal(False)
    test = [_value_test(space, clause, k.family, k.values[i]) for i in range(k.slots)]
    negated = spec.negated
    # conditions._render_all: a variable with no value and no default fails the whole clause (a negated
    # operator then holds), once the key itself is present (reference_policies_variables.html#policy-vars-no-value).
    renders = [space.atoms(t)[0] for t in space.clause_templates(clause) if t.keys]
    renderable = z3.And(*renders) if renders else z3.BoolVal(True)
    if op.qualifier == "ForAllValues":
        every = z3.And(*[z3.Implies(k.used(i), test[i] != negated) for i in range(k.slots)])
        return z3.Or(empty, z3.If(renderable, every, z3.BoolVal(negated)))
    if op.qualifier == "ForAnyValue":
        some = z3.Or(*[z3.And(k.used(i), test[i] != negated) for i in range(k.slots)])
        nonempty = z3.If(renderable, some, z3.BoolVal(negated))
        return z3.If(z3.Not(k.present), z3.BoolVal(op.if_exists), z3.And(z3.Not(k.all_empty()), nonempty))
    matched = z3.Or(*[z3.And(k.used(i), test[i]) for i in range(k.slots)])
    return z3.If(z3.Not(k.present), z3.BoolVal(op.if_exists or negated), z3.If(renderable, matched != negated, negated))


# ------------------------------------------------------------------------------ statements and decision


def _resource_matches(space: RequestSpace, st: CompiledStatement) -> z3.BoolRef:
    hits: list[z3.BoolRef] = []
    for t in space.templates[id(st)]:
        if not t.keys:
            rendered = t.render(EMPTY_CONTEXT)
            assert rendered is not None
            hits.append(z3.InRe(space.resource, regex.resource(rendered)))
            continue
        # reference_policies_variables.html: "a Resource containing a variable with no value matches nothing".
        renderable, atoms = space.atoms(t)
        try:
            pattern = regex.with_values(atoms, "resource")
        except regex.WildcardBeforeVariable:
            raise NotEncodable(f"a wildcard right before a policy variable in Resource ({t})") from None
        hits.append(z3.And(renderable, z3.InRe(space.resource, pattern)))
    hit = z3.Or(*hits)
    return z3.Not(hit) if st.statement.resource_negated else hit


def _applies(space: RequestSpace, st: CompiledStatement) -> z3.BoolRef:
    parts = [space.action_matches(st.actions), _resource_matches(space, st)]
    if st.condition is not None:
        parts += [_clause_holds(space, c) for c in st.condition.clauses]
    return z3.And(*parts)


def allowed(space: RequestSpace, prepared: PreparedCase) -> z3.BoolRef:
    """``reference.evaluator.decide`` == allowed, as a formula (same order of rules, same pages)."""
    denies: list[z3.BoolRef] = []
    allows: dict[str, list[z3.BoolRef]] = {}
    levels: dict[tuple[str, int], list[z3.BoolRef]] = {}
    resource_hits: list[tuple[z3.BoolRef, PrincipalMatch]] = []
    has_deny: dict[str, list[z3.BoolRef]] = {}
    boundary_ok_parts: list[z3.BoolRef] = []
    for slot in prepared.slots:
        for st in slot.compiled.statements:
            pm = st.principal(prepared.caller)
            if pm == PrincipalMatch.NONE:
                if not (prepared.has_boundary and st.statement.principal_negated and not st.allow):
                    continue
                pm = PrincipalMatch.SESSION
            applies = _applies(space, st)
            if slot.role == RCP:
                applies = z3.And(applies, space.rcps_apply())
            if not st.allow:
                denies.append(applies)
                has_deny.setdefault(slot.role, []).append(applies)
                continue
            allows.setdefault(slot.role, []).append(applies)
            if slot.role in (SCP, RCP):
                levels.setdefault((slot.role, slot.level), []).append(applies)
            if slot.role == RESOURCE:
                resource_hits.append((applies, pm))
            if slot.role == BOUNDARY:
                boundary_ok_parts.append(applies)

    def any_of(items: Sequence[z3.BoolRef]) -> z3.BoolRef:
        return z3.Or(*items) if items else z3.BoolVal(False)

    def every_level(role: str, count: int) -> z3.BoolRef:
        return z3.And(*[any_of(levels.get((role, lvl), [])) for lvl in range(count)])

    scps_deny = z3.BoolVal(False)
    if prepared.scp_levels:
        scps_deny = z3.Not(z3.And(z3.Not(any_of(has_deny.get(SCP, []))), every_level(SCP, prepared.scp_levels)))
    rcps_deny = z3.BoolVal(False)
    if prepared.rcp_levels:
        rcps_deny = z3.And(space.rcps_apply(), z3.Not(every_level(RCP, prepared.rcp_levels)))
    boundary_ok = (
        z3.And(z3.Not(any_of(has_deny.get(BOUNDARY, []))), any_of(boundary_ok_parts))
        if prepared.has_boundary
        else z3.BoolVal(True)
    )
    session_ok = any_of(allows.get(SESSION, [])) if prepared.has_session else z3.BoolVal(True)
    identity_ok = z3.And(any_of(allows.get(IDENTITY, [])), boundary_ok, session_ok)
    if prepared.same_account:
        grants = [z3.And(applies, _grant_by(pm, boundary_ok, session_ok)) for applies, pm in resource_hits]
        granted = z3.Or(identity_ok, any_of(grants))
    else:
        granted = z3.And(identity_ok, any_of(allows.get(RESOURCE, [])))
    return z3.And(z3.Not(any_of(denies)), z3.Not(rcps_deny), z3.Not(scps_deny), granted)


def _grant_by(pm: PrincipalMatch, boundary_ok: z3.BoolRef, session_ok: z3.BoolRef) -> z3.BoolRef:
    """``reference.evaluator._resource_grant``: an applying resource-policy Allow that names the caller
    this way grants on its own (same account) when this holds.  Any of them granting is the same as the
    strongest one granting, since a stronger naming is limited by fewer policies."""
    if pm == PrincipalMatch.SESSION:
        return z3.BoolVal(True)
    if pm == PrincipalMatch.USER:
        return session_ok
    if pm == PrincipalMatch.ROLE:
        return z3.And(boundary_ok, session_ok)
    return z3.BoolVal(False)


# ------------------------------------------------------------------------------ concrete requests


def catalog_actions() -> list[str]:
    catalog = get_catalog()
    return [a.full_name for s in catalog.services() for a in catalog.actions(s)]


def space_for(
    cases: Sequence[Case], universe: Sequence[str] | None = None, distinguished: Iterable[str] = ()
) -> RequestSpace:
    """The request space of these policy sets (cases whose requests are ignored); each ``distinguished``
    action gets a class of its own (``RequestSpace.is_action``)."""
    cache = PolicyCache()
    prepared = [prepare(c, cache) for c in cases]
    return RequestSpace(
        prepared,
        list(universe) if universe is not None else catalog_actions(),
        frozenset(a.lower() for a in distinguished),
    )


def assignment(space: RequestSpace, request: Request) -> list[tuple[z3.ExprRef, z3.ExprRef]] | None:
    """The request as values of the space's variables; None when it lies outside the encoding's domain
    (an action outside the universe, a value its operators cannot read, more values than the slots)."""
    k_action = space.class_of(request.action)
    if k_action is None or not all(c in _PRINTABLE for c in request.resource):
        return None
    pairs: list[tuple[z3.ExprRef, z3.ExprRef]] = [
        (space.action, z3.IntVal(k_action)),
        (space.resource, z3.StringVal(request.resource)),
    ]
    given: dict[str, ContextEntry] = {}
    for e in request.context:
        given[e.key.lower()] = e  # the later entry wins, as in RequestContext
    for key, k in space.keys.items():
        entry = given.get(key)
        values = list(entry.values) if entry is not None else []
        if len(values) > k.slots:
            return None
        if entry is not None and key in space.variable_keys and entry.type.endswith("List") and k.slots == 1:
            return None  # a list gives a variable no value: outside the encoding (one value, as a string)
        pairs += [(k.present, z3.BoolVal(bool(values))), (k.count, z3.IntVal(len(values)))]
        for i in range(k.slots):
            raw = values[i] if i < len(values) else None
            value = _value_of(space, k, raw)
            if value is None:
                return None
            pairs.append((k.values[i], value))
    return pairs


_PRINTABLE = frozenset(chr(c) for c in range(0x20, 0x7F)) - {"\\"}


def entry_constraint(space: RequestSpace, entry: ContextEntry) -> z3.BoolRef | None:
    """The key carries exactly this entry's values (True when no policy reads the key); None when the entry
    lies outside the encoding's domain (as in ``assignment``)."""
    k = space.keys.get(entry.key.lower())
    if k is None:
        return z3.BoolVal(True)
    values = list(entry.values)
    if len(values) > k.slots:
        return None
    if entry.key.lower() in space.variable_keys and entry.type.endswith("List") and k.slots == 1:
        return None
    parts: list[z3.BoolRef] = [k.present == bool(values), k.count == len(values)]
    for i, raw in enumerate(values):
        value = _value_of(space, k, raw)
        if value is None:
            return None
        parts.append(k.values[i] == value)
    return z3.And(*parts)


def _value_of(space: RequestSpace, k: KeyVars, raw: str | None) -> z3.ExprRef | None:
    if k.family in ("String", "Binary"):
        if raw is None:
            return z3.StringVal("")
        if k.family == "Binary" and raw != "":
            data = read_binary(raw)  # readable values in canonical form; the unreadable match nothing either way
            raw = base64.b64encode(data).decode("ascii") if data is not None else raw
        return z3.StringVal(raw) if all(c in _PRINTABLE for c in raw) else None
    if k.family == "Bool":
        b = read_bool(raw) if raw is not None else False
        return None if b is None else z3.BoolVal(b)
    if k.family == "Ip":
        a = read_address(raw) if raw is not None else (4, 0)
        return None if a is None or a[0] != 4 else z3.BitVecVal(a[1], 32)
    if k.family == "Numeric":
        n = read_number(raw) if raw is not None else Decimal(0)
        if n is None:
            return None
        scaled = n * space.numeric_scale
        return z3.IntVal(int(scaled)) if scaled == scaled.to_integral_value() else None
    instant = read_instant(raw) if raw is not None else 0
    return None if instant is None or not _MIN_INSTANT <= instant <= _MAX_INSTANT else z3.IntVal(instant)


def holds_on(space: RequestSpace, formula: z3.BoolRef, request: Request) -> bool | None:
    """The formula's value on a concrete request (None outside the encoding's domain)."""
    pairs = assignment(space, request)
    if pairs is None:
        return None
    solver = z3.Solver()
    solver.add(*[var == value for var, value in pairs])
    solver.add(formula)
    return bool(solver.check() == z3.sat)


def request_of(space: RequestSpace, model: z3.ModelRef, prefer: Iterable[str] = ()) -> Request:
    """A case-format v1 request from a model: an action of the model's class (one of ``prefer`` when the
    class has one), the resource, and every present key with its typed values."""
    k_action = model.eval(space.action, model_completion=True).as_long()
    members = space.members[k_action]
    preferred = [a for a in prefer if a in members]
    action = preferred[0] if preferred else members[0]
    resource = model.eval(space.resource, model_completion=True).as_string()
    context: list[ContextEntry] = []
    for k in space.keys.values():
        if not z3.is_true(model.eval(k.present, model_completion=True)):
            continue
        count = model.eval(k.count, model_completion=True).as_long()
        values = [_render(space, k, model.eval(k.values[i], model_completion=True)) for i in range(count)]
        context.append(ContextEntry(key=k.written, type=_context_type(k), values=values))
    return Request(action=action, resource=resource, context=context)


def _context_type(k: KeyVars) -> ContextKeyType:
    base = _CONTEXT_TYPES[k.family]
    return cast(ContextKeyType, f"{base}List" if k.slots > 1 else base)


def _render(space: RequestSpace, k: KeyVars, value: z3.ExprRef) -> str:
    if k.family in ("String", "Binary"):
        return str(value.as_string())
    if k.family == "Bool":
        return "true" if z3.is_true(value) else "false"
    if k.family == "Ip":
        return str(ipaddress.IPv4Address(value.as_long()))
    n = value.as_long()
    if k.family == "Numeric":
        return f"{Decimal(n) / space.numeric_scale:f}"
    # ISO 8601 with microseconds (epoch time is whole seconds in the reference: read_instant)
    return (_EPOCH_START + dt.timedelta(microseconds=n)).isoformat(timespec="microseconds")
