"""Policies compiled once, cached by their text, matched fast.

A ``CompiledPolicy`` holds each statement with its Action, Resource,
Principal and Condition elements turned into matchers, plus an index from
action name to the statements whose Action/NotAction element covers it, so a
request only looks at statements that can apply to its action.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Hashable
from typing import Final, Generic, Literal, TypeVar

import msgspec

from reference.arns import resource_problem
from reference.conditions import ConditionBlock, compile_conditions, forget_compiled_clauses
from reference.context import RequestContext
from reference.document import MAX_POLICY_CHARS, ParsedDocument
from reference.errors import PolicyError
from reference.model import MatchedStatement, Policy
from reference.patterns import WARM, Pattern, forget_patterns, glob, nfa_match, rendered_match, resource
from reference.policy import ParsedPolicy, PolicyKind, Statement, action_problem, parse_policy
from reference.principals import Caller, PrincipalMatch, match_principal
from reference.variables import Rendered, Template, parse_template

_ACTION_INDEX_LIMIT: Final = 20_000


class ActionMatcher:
    """Action / NotAction: "Action names are not case-sensitive"; ``*`` and ``?``
    anywhere in the name (reference_policies_elements_action.html)."""

    # The classes here are plain classes, not dataclasses: compiled, a dataclass's __init__ runs in Python
    # (see reference.evaluator.Slot).
    def __init__(
        self,
        exact: frozenset[str],
        prefixes: tuple[str, ...],
        stars: tuple[StarGlob, ...],
        questions: tuple[str, ...],
        patterns: tuple[Pattern, ...],
        negated: bool,
    ) -> None:
        self.exact: Final = exact
        self.prefixes: Final = prefixes  # "s3:Get*": lower-cased text before a final "*" (ASCII, no other wildcard)
        self.stars: Final = stars  # other ASCII patterns with "*" but no "?"
        self.questions: Final = questions  # ASCII patterns with "?", lower-cased
        self.patterns: Final = patterns
        self.negated: Final = negated

    @classmethod
    def of(cls, values: tuple[str, ...], negated: bool) -> ActionMatcher:
        return _action_matcher(values, negated)

    @classmethod
    def build(cls, values: tuple[str, ...], negated: bool) -> ActionMatcher:
        exact = frozenset(v.lower() for v in values if "*" not in v and "?" not in v)
        wild = [v for v in values if "*" in v or "?" in v]
        # The common shapes without a regular expression: "*" and "prefix*" (string operations give
        # what the case-insensitive glob gives for ASCII text; anything else keeps the glob).
        prefixes = tuple(v[:-1].lower() for v in wild if _is_prefix_pattern(v) and v.isascii())
        stars = tuple(
            StarGlob.of(v.lower(), ignore_case=True) for v in wild if _is_star_glob(v) and not _is_prefix_pattern(v)
        )
        # With "?": an automaton on ASCII text (lower-cased pattern), the glob for anything else.
        questions = tuple(v.lower() for v in wild if "?" in v and v.isascii())
        patterns = tuple(glob(v, ignore_case=True) for v in wild if not _is_star_glob(v) and not v.isascii())
        return cls(exact, prefixes, stars, questions, patterns, negated)

    def matches(self, action_lower: str) -> bool:
        hit = action_lower in self.exact
        if not hit:
            for prefix in self.prefixes:
                if action_lower.startswith(prefix):
                    hit = True
                    break
        if not hit and self.stars:
            ascii_text = action_lower.isascii()
            for g in self.stars:
                if g.matches(action_lower) if ascii_text else g.regex().fullmatch(action_lower):
                    hit = True
                    break
        if not hit and self.questions:
            ascii_text = action_lower.isascii()
            for q in self.questions:
                if (
                    nfa_match(q, action_lower, segmented=False)
                    if ascii_text
                    else glob(q, ignore_case=True).fullmatch(action_lower)
                ):
                    hit = True
                    break
        if not hit:
            for p in self.patterns:
                if p.fullmatch(action_lower):
                    hit = True
                    break
        return hit != self.negated


@functools.lru_cache(maxsize=16_384)
def _action_matcher(values: tuple[str, ...], negated: bool) -> ActionMatcher:
    """Policies repeat their Action lists: one matcher (immutable) for each."""
    return ActionMatcher.build(values, negated)


def _is_star_glob(v: str) -> bool:
    return "?" not in v and v.isascii()


class StarGlob:
    """A glob with ``*`` only, each ``*`` free to match anything, matched by string search: the pieces
    between the stars must appear in order, the first at the start and the last at the end (what
    ``.*`` gives, the leftmost place of each piece being the best one).  Case-insensitive for actions:
    then on lower-cased ASCII text only (``regex`` for other text: Unicode case folding is the
    regular expression's)."""

    def __init__(self, pattern: str, pieces: tuple[str, ...], ignore_case: bool) -> None:
        self.pattern: Final = pattern
        self.pieces: Final = pieces
        self.ignore_case: Final = ignore_case

    @classmethod
    def of(cls, pattern: str, *, ignore_case: bool) -> StarGlob:
        return cls(pattern, tuple(pattern.split("*")), ignore_case)

    def matches(self, text: str) -> bool:
        pieces = self.pieces
        first, last = pieces[0], pieces[-1]
        end = len(text) - len(last)
        if end < len(first) or not text.startswith(first) or not text.endswith(last):
            return False
        pos = len(first)
        for piece in pieces[1:-1]:
            found = text.find(piece, pos, end)
            if found < 0:
                return False
            pos = found + len(piece)
        return True

    def regex(self) -> Pattern:
        return glob(self.pattern, ignore_case=self.ignore_case)


def _free_stars_only(v: str) -> bool:
    """No ``?``, and every ``*`` the last character of its ARN segment, so free to match colons too."""
    return "?" not in v and _STAR_INSIDE_SEGMENT.search(v) is None


_STAR_INSIDE_SEGMENT: Final = re.compile(r"\*[^:]")  # a "*" followed by anything but the end of its segment


def _is_prefix_pattern(v: str) -> bool:
    """``*`` or text without wildcards followed by one final ``*``."""
    return v.endswith("*") and "*" not in v[:-1] and "?" not in v


class ConstantResources:
    """Constant Resource patterns by shape: literal text, "prefix*" (a final "*" is segment-final, so
    it matches anything, colons included), "*", and a regular expression for the rest."""

    def __init__(
        self,
        exact: frozenset[str],
        prefixes: tuple[str, ...],
        stars: tuple[StarGlob, ...],
        patterns: tuple[str, ...],
    ) -> None:
        self.exact: Final = exact
        self.prefixes: Final = prefixes
        self.stars: Final = stars  # no "?", every "*" segment-final (followed by ":" or the end)
        self.patterns: Final = patterns  # compiled when first matched (``resource`` caches by pattern text)
        # A policy that serves many requests (the anchor workload) gets the compiled expressions of its
        # star patterns after WARM uses: a regular expression matches faster than the string search.
        self.uses = 0
        self.hot: tuple[Pattern, ...] | None = None

    @classmethod
    def of(cls, values: list[str]) -> ConstantResources:
        exact = frozenset(v for v in values if "*" not in v and "?" not in v)
        wild = [v for v in values if "*" in v or "?" in v]
        prefixes = tuple(v[:-1] for v in wild if _is_prefix_pattern(v))
        free = [v for v in wild if not _is_prefix_pattern(v) and _free_stars_only(v)]
        stars = tuple(StarGlob.of(v, ignore_case=False) for v in free)
        patterns = tuple(v for v in wild if not _is_prefix_pattern(v) and not _free_stars_only(v))
        return cls(exact, prefixes, stars, patterns)

    def matches(self, arn: str) -> bool:
        if arn in self.exact:
            return True
        for prefix in self.prefixes:
            if arn.startswith(prefix):
                return True
        hot = self.hot
        if hot is not None:
            for compiled in hot:
                if compiled.fullmatch(arn):
                    return True
        elif self.stars:
            self.uses += 1
            if self.uses >= WARM:
                self.hot = tuple(resource(g.pattern) for g in self.stars)
            for g in self.stars:
                if g.matches(arn):
                    return True
        if self.patterns:
            if self.uses < WARM:
                # Fresh policies: an automaton, no compiled expression (reference.patterns.nfa_match).
                self.uses += 1
                return any(nfa_match(text, arn, segmented=True) for text in self.patterns)
            for text in self.patterns:
                if resource(text).fullmatch(arn):
                    return True
        return False


class ResourceMatcher:
    """Resource / NotResource (reference_policies_elements_resource.html).

    Constant patterns are compiled here; patterns with policy variables are
    rendered per request ("a Resource containing a variable with no value
    matches nothing", reference_policies_variables.html) and their regexes
    come from the cache in ``reference.patterns``.
    """

    def __init__(self, constant: ConstantResources, templates: tuple[Template, ...], negated: bool) -> None:
        self.constant: Final = constant
        self.templates: Final = templates
        self.negated: Final = negated

    @classmethod
    def of(cls, values: tuple[str, ...], negated: bool, variables_enabled: bool) -> ResourceMatcher:
        return _resource_matcher(values, negated, variables_enabled)

    @classmethod
    def build(cls, values: tuple[str, ...], negated: bool, variables_enabled: bool) -> ResourceMatcher:
        constant: list[str] = []
        templates: list[Template] = []
        for v in values:
            if not variables_enabled or "${" not in v:  # no variable: constant (parse_template agrees)
                constant.append(v)
                continue
            t = parse_template(v, variables_enabled=variables_enabled)
            if t.is_constant:
                constant.append(v)
            else:
                templates.append(t)
        return cls(ConstantResources.of(constant), tuple(templates), negated)

    @property
    def constant_only(self) -> bool:
        """No pattern with a policy variable and not NotResource: ``constant.matches`` alone decides."""
        return not self.templates and not self.negated

    def matches(self, arn: str, ctx: RequestContext) -> bool:
        hit = self.constant.matches(arn)
        if not hit:
            for t in self.templates:
                rendered = t.render(ctx)
                if rendered is not None and _rendered_matches(rendered, arn):
                    hit = True
                    break
        return hit != self.negated

    def variable_keys(self) -> tuple[str, ...]:
        return tuple(k for t in self.templates for k in t.keys)

    def missing_variable_keys(self, ctx: RequestContext) -> list[str]:
        """Variables with no value and no default."""
        return [k for t in self.templates for k in t.missing_keys(ctx)]


def _rendered_matches(rendered: Rendered, arn: str) -> bool:
    """A Resource pattern with its variables substituted against the requested ARN: by the automaton,
    without compiling an expression for a pattern that may be seen once."""
    return rendered_match(rendered, arn, segmented=True)


@functools.lru_cache(maxsize=16_384)
def _resource_matcher(values: tuple[str, ...], negated: bool, variables_enabled: bool) -> ResourceMatcher:
    """Policies repeat their Resource lists: one matcher for each (shared, its warm-up count too)."""
    return ResourceMatcher.build(values, negated, variables_enabled)


class CompiledStatement:
    def __init__(
        self,
        *,
        statement: Statement,
        allow: bool,
        actions: ActionMatcher,
        resources: ResourceMatcher,
        condition: ConditionBlock | None,
        keys: tuple[str, ...],
        names_any_caller: bool,
        resource_test: Callable[[str], bool] | None,
        key_pairs: tuple[tuple[str, str], ...],
        condition_test: Callable[[RequestContext], bool] | None,
    ) -> None:
        self.statement: Final = statement
        self.allow: Final = allow
        self.actions: Final = actions
        self.resources: Final = resources
        self.condition: Final = condition
        self.keys: Final = keys  # context keys it reads: variables in Resource, then condition keys
        # No Principal element: identity policies and SCPs apply to the caller they are attached to.
        self.names_any_caller: Final = names_any_caller
        # Resource decided by text alone (ResourceMatcher.constant_only): that test, called directly.
        self.resource_test: Final = resource_test
        # (key as written, lower-cased) for each of ``keys`` (context keys are not case-sensitive)
        self.key_pairs: Final = key_pairs
        # The Condition as one call (its only clause's test, or the block's), None without a Condition.
        self.condition_test: Final = condition_test

    def principal(self, caller: Caller) -> PrincipalMatch:
        """How this statement names the caller; statements without a Principal
        element (identity policies, SCPs) apply to the caller they are attached to."""
        s = self.statement
        if s.principals is None:
            return PrincipalMatch.SESSION
        found = match_principal(s.principals, caller)
        if s.principal_negated:
            # NotPrincipal: everyone except the listed principals
            # (reference_policies_elements_notprincipal.html).
            return PrincipalMatch.SESSION if found == PrincipalMatch.NONE else PrincipalMatch.NONE
        return found


class PolicyContent:
    """What a policy says, whatever the layout of its text: its statements, validated and compiled, and
    the memo of which of them cover an action.  Shared by every text of the same JSON tokens (a policy
    written compact, indented by two, by four, by tabs: ``compile_text``), so that it is compiled once."""

    def __init__(self, parsed: ParsedPolicy, statements: tuple[CompiledStatement, ...]) -> None:
        self.version: Final = parsed.version
        self.id: Final = parsed.id
        self.parsed_statements: Final = parsed.statements
        self.statements: Final = statements
        self.has_statements: Final = parsed.document.has_statements
        self._by_action: dict[str, tuple[CompiledStatement, ...]] = {}

    def candidates(self, action_lower: str) -> tuple[CompiledStatement, ...]:
        hit = self._by_action.get(action_lower)
        if hit is None:
            if len(self._by_action) > _ACTION_INDEX_LIMIT:
                self._by_action.clear()
            hit = tuple([s for s in self.statements if s.actions.matches(action_lower)])
            self._by_action[action_lower] = hit
        return hit


_REPORTED_KEPT: Final = 256  # statements as reported, kept per policy text (one reused under many ids: built each time)


class CompiledPolicy:
    """One policy text, compiled: its ``PolicyContent`` (maybe shared with other layouts of the same
    policy) and its own positions, which the statements it reports carry."""

    def __init__(self, parsed: ParsedPolicy, content: PolicyContent) -> None:
        self.parsed: Final = parsed
        self.content: Final = content
        self.statements: Final = content.statements
        # The statements as results report them, per (index, policy id, policy type): built once (their
        # positions in this text are computed then), shared by every result they decide (immutable).
        self._reported: dict[tuple[int, str, str], MatchedStatement] = {}

    def candidates(self, action_lower: str) -> tuple[CompiledStatement, ...]:
        """Statements whose Action/NotAction covers the action (memoised per action)."""
        return self.content.candidates(action_lower)

    def reported(self, statement: CompiledStatement, policy_id: str, policy_type: str) -> MatchedStatement:
        s = statement.statement
        key = (s.index, policy_id, policy_type)
        found = self._reported.get(key)
        if found is None:
            start, end = self.parsed.span(s)
            found = MatchedStatement(policy_id, policy_type, s.index, s.sid, start, end)
            if len(self._reported) < _REPORTED_KEPT:
                self._reported[key] = found
        return found


def _compile_statement(parsed: ParsedPolicy, s: Statement) -> CompiledStatement:
    ve = parsed.variables_enabled
    condition = None
    if s.condition is not None:
        condition = compile_conditions(
            s.condition, doc=parsed.document, path=(*s.path, "Condition"), variables_enabled=ve
        )
    resources = ResourceMatcher.of(s.resources, s.resource_negated, ve)
    keys = resources.variable_keys() + (condition.keys if condition is not None else ())
    return CompiledStatement(
        statement=s,
        allow=s.effect == "Allow",
        actions=ActionMatcher.of(s.actions, s.action_negated),
        resources=resources,
        condition=condition,
        keys=keys,
        names_any_caller=s.principals is None,
        resource_test=resources.constant.matches if resources.constant_only else None,
        key_pairs=tuple((k, k.lower()) for k in keys),
        condition_test=None if condition is None else condition.as_one_test(),
    )


# Compiled policies kept (by text, by content, and by the raw bytes of a case's document).  Generated batches
# repeat a policy after hundreds or thousands of others; a batch's memory is held flat by reference.batch,
# which empties the caches when a process grows past its budget (1,024 kept instead: 32% more compilations on
# 10,000 generated cases).
_COMPILED_POLICIES_KEPT: Final = 4096

K = TypeVar("K")
V = TypeVar("V")


class Aged(Generic[K, V]):
    """A cache in two generations: ``age`` forgets what was not used since the aging before and keeps what
    was used since (a batch ages its caches every ``reference.batch.AGE_EVERY`` lines, to hold its memory;
    a cache that fills ages itself).  Generated batches bring a policy back a few hundred lines later:
    emptied whole, a cache lost those that had just come; aged, it keeps them."""

    def __init__(self, limit: int) -> None:
        self._new: dict[K, V] = {}  # used since the last aging
        self._old: dict[K, V] = {}  # used before it, not since
        self._limit = limit  # the two generations together hold at most this many

    def get(self, key: K) -> V | None:
        hit = self._new.get(key)
        if hit is None:
            hit = self._old.pop(key, None)
            if hit is not None:
                self._new[key] = hit
        return hit

    def put(self, key: K, value: V) -> bool:
        """Keep ``value``; whether the cache aged to make room."""
        aged = len(self._new) >= self._limit // 2
        if aged:
            self.age()
        self._new[key] = value
        return aged

    def age(self) -> None:
        self._old = self._new
        self._new = {}

    def clear(self) -> None:
        self._new.clear()
        self._old.clear()


# Policy contents by (the text's JSON tokens, kind): see compile_text.
_CONTENTS: Final[Aged[tuple[str, PolicyKind], PolicyContent]] = Aged(_COMPILED_POLICIES_KEPT)


def _json_tokens(text: str) -> str | None:
    """The text's JSON tokens without the white space between them (msgspec's formatter, in C), or None
    where it is not well-formed JSON (``parse_policy`` then says why).  Two texts with the same tokens hold
    the same JSON value, written in two layouts."""
    try:
        return msgspec.json.format(text, indent=-1)
    except (msgspec.DecodeError, RecursionError, UnicodeEncodeError):
        return None


@functools.lru_cache(maxsize=_COMPILED_POLICIES_KEPT)
def compile_text(text: str, kind: PolicyKind) -> CompiledPolicy:
    """Parse, validate and compile a policy text; cached by (text, kind).

    A text with the same JSON tokens as one compiled before (the same policy in another layout: generated
    batches write each policy compact, or indented by two, by four, by tabs) gets that one's content
    (``PolicyContent``) and its own positions, without being decoded: every check ``parse_policy`` makes
    reads the JSON value, which the tokens decide, but for two that read the text itself.  The text's
    length (``MAX_POLICY_CHARS``) is checked here; its characters need not be: the two texts differ in
    JSON white space alone (space, tab, line feed, carriage return: msgspec's formatter refuses any other
    character between tokens), which IAM accepts.  Only valid policies are kept: an invalid one is parsed
    every time, and its error located in its own text."""
    tokens = _json_tokens(text) if len(text) <= MAX_POLICY_CHARS else None
    content = None if tokens is None else _CONTENTS.get((tokens, kind))
    if content is not None:
        document = ParsedDocument(text, None, statements=content.has_statements)
        parsed = ParsedPolicy(
            document=document, version=content.version, id=content.id, statements=content.parsed_statements
        )
        return CompiledPolicy(parsed, content)
    parsed = parse_policy(text, kind=kind, tokens=tokens)
    content = PolicyContent(parsed, tuple(_compile_statement(parsed, s) for s in parsed.statements))
    parsed.document.forget_value()
    if tokens is not None:
        _CONTENTS.put((tokens, kind), content)
    return CompiledPolicy(parsed, content)


def _forget_parts(*, values: bool = True) -> None:
    """The caches of policy parts emptied; ``values=False`` (aging) keeps the small readings of single values
    (wildcard automata, IP ranges)."""
    compile_text.cache_clear()
    _action_matcher.cache_clear()
    _resource_matcher.cache_clear()
    forget_compiled_clauses(values=values)
    forget_patterns(automata=values)


def forget_compiled() -> None:
    """Empty every cache of compiled policies and their parts (process-wide): what a new process starts
    with.  For a benchmark that times fresh policies more than once, and for a batch that holds its
    memory to a budget (reference.batch)."""
    _forget_parts()
    _CONTENTS.clear()
    resource_problem.clear()
    action_problem.clear()


def age_compiled() -> None:
    """What a batch does every ``reference.batch.AGE_EVERY`` lines: the caches of parts emptied (what the
    policies kept use stays alive with them), the policy contents aged (``Aged``).  The answers of the
    grammar checks of single Action and Resource values (``action_problem``, ``resource_problem``) are
    kept: a batch brings the same values back in policy after policy (a generated one, each resource four
    times), their caches are bounded, and what they hold is a string and mostly None.  So are the wildcard
    automata of patterns (``reference.patterns.forget_patterns``) and the readings of IP ranges
    (``reference.conditions.forget_compiled_clauses``)."""
    _forget_parts(values=False)
    _CONTENTS.age()


DocumentKind = Literal["string", "object", "other"]


def document_kind_of(raw: bytes) -> DocumentKind:
    """What a case's ``document`` field holds, by its raw JSON: the policy text as a string, the policy as
    an object, or something else (refused).  Read for every policy of every case (``PolicyCache``,
    ``reference.caseio.decode_case``): here, in compiled code."""
    first = raw.lstrip()[:1]
    if first == b'"':
        return "string"
    if first == b"{":
        return "object"
    return "other"


class PolicyCache:
    """Compiled policies keyed by the raw bytes of the case's ``document`` field, in two generations
    (``Aged``).

    Decoding an embedded policy object and re-serialising it to its text costs
    far more than evaluating a request, so a case line whose policy bytes were
    seen before skips both.
    """

    def __init__(
        self, limit: int = _COMPILED_POLICIES_KEPT, compiler: Callable[[str, PolicyKind], CompiledPolicy] = compile_text
    ):
        self._compiled: Aged[tuple[bytes, PolicyKind], CompiledPolicy] = Aged(limit)
        self._limit = limit
        self._compile = compiler
        # reference.evaluator's memo of applicable statements per list of policies and caller, kept here
        # so that it lives as long as the compiled policies it indexes.
        self.plans: dict[Hashable, object] = {}
        # Keys of plans built once and not kept: a plan is kept when its key comes back (a batch of requests
        # against one policy), not for every case of fresh policies, where it is never used again (kept, the
        # plans were 12% of what the caches held on generated cases).
        self._plans_seen: set[Hashable] = set()

    def remember_plans(self, key: Hashable, plans: object) -> None:
        if key not in self._plans_seen:
            if len(self._plans_seen) >= self._limit:
                self._plans_seen.clear()
            self._plans_seen.add(key)
            return
        if len(self.plans) >= self._limit:
            self.plans.clear()
        self.plans[key] = plans

    def clear(self) -> None:
        self._compiled.clear()
        self._forget_plans()

    def age(self) -> None:
        """Forget what was not used since the last aging (plans too: they hold their policies)."""
        self._compiled.age()
        self._forget_plans()

    def _forget_plans(self) -> None:
        self.plans.clear()
        self._plans_seen.clear()

    def get(self, policy: Policy, kind: PolicyKind) -> CompiledPolicy:
        raw = bytes(policy.document)
        key = (raw, kind)
        hit = self._compiled.get(key)
        if hit is None:
            hit = self._compile_raw(raw, policy, kind)
            if self._compiled.put(key, hit):
                self._forget_plans()
        return hit

    def _compile_raw(self, raw: bytes, policy: Policy, kind: PolicyKind) -> CompiledPolicy:
        kind_of_document = document_kind_of(raw)
        if kind_of_document == "other":
            raise PolicyError("invalid-document", "document must be a JSON string or object", "$")
        # The policy as a JSON string (most cases): its text decoded here, in compiled code.
        text = msgspec.json.decode(raw, type=str) if kind_of_document == "string" else policy.text()
        return self._compile(text, kind)
