"""The mutants: realistic bugs of an IAM evaluator, each a small edit of one reference module.

A mutant replaces text that occurs exactly once in a module of ``reference/``
(``tests/test_mutants.py`` checks that every edit still applies).  The edit is
made when the module is imported (``mutants.inject``), in a process of its own:
the ``iamconf serve`` the suites check through the ``aws-simulator`` target's
code, and the process that re-evaluates the generated cases to sort the
survivors.  The reference in the process running the suites (which predicts
the answers) is never touched.

``expressible`` is False for a bug that ``SimulateCustomPolicy`` cannot show:
it has no session policies and no RCPs (IAM API Reference, SimulateCustomPolicy
parameters), so a bug that lives there cannot be caught through that API.
This module imports nothing from the project (it is read before the edit).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Mutant:
    name: str
    bug_class: str
    description: str
    module: str
    edits: tuple[tuple[str, str], ...]  # (text that occurs once, its replacement)
    expressible: bool = True
    # Suites (parts of their pytest ids) run first, where the bug is most likely caught: only the
    # time to a kill depends on it, every suite still runs until one fails.
    first: tuple[str, ...] = ()


MUTANTS: tuple[Mutant, ...] = (
    # ------------------------------------------------------------------ case handling
    Mutant(
        "action-name-case-sensitive",
        "case handling of actions",
        "exact Action names compared case-sensitively (reference_policies_elements_action.html: not case-sensitive)",
        "reference.compiled",
        (('exact = frozenset(v.lower() for v in values if "*"', 'exact = frozenset(v for v in values if "*"'),),
        first=("test_actions_and_resources",),
    ),
    Mutant(
        "action-pattern-case-sensitive",
        "case handling of actions",
        "Action patterns with wildcards matched case-sensitively",
        "reference.compiled",
        (
            # the pattern kept as written while the action is lower-cased (ASCII: prefixes, star globs,
            # "?" automata), and the regular expression of other text made case-sensitive
            ("prefixes = tuple(v[:-1].lower() for v", "prefixes = tuple(v[:-1] for v"),
            ("StarGlob.of(v.lower(), ignore_case=True)", "StarGlob.of(v, ignore_case=False)"),
            ('questions = tuple(v.lower() for v in wild if "?"', 'questions = tuple(v for v in wild if "?"'),
            ("glob(v, ignore_case=True)", "glob(v, ignore_case=False)"),
        ),
        first=("test_actions_and_resources",),
    ),
    Mutant(
        "resource-case-insensitive",
        "case handling of resources",
        "Resource ARNs matched ignoring case (reference_policies_elements_resource.html: case-sensitive)",
        "reference.compiled",
        (
            # every way a Resource is matched: literal, prefix and star patterns and the expressions
            # compiled from them (patterns lower-cased, the ARN too), and substituted patterns
            (
                "    def of(cls, values: list[str]) -> ConstantResources:\n",
                "    def of(cls, values: list[str]) -> ConstantResources:\n"
                "        values = [v.lower() for v in values]\n",
            ),
            (
                "    def matches(self, arn: str) -> bool:\n        if arn in self.exact:",
                "    def matches(self, arn: str) -> bool:\n        arn = arn.lower()\n        if arn in self.exact:",
            ),
            (
                "    return rendered_match(rendered, arn, segmented=True)\n",
                "    lower = tuple(type(s)(s.text.lower()) for s in rendered)\n"
                "    return rendered_match(lower, arn.lower(), segmented=True)\n",
            ),
        ),
        first=("test_actions_and_resources", "-Binary]"),
    ),
    # ------------------------------------------------------------------ wildcards
    Mutant(
        "resource-final-star-stays-in-segment",
        "wildcard rules",
        "a '*' that ends an ARN segment does not match past colons",
        "reference.patterns",
        (
            ('out.append(".*" if at_segment_end else "[^:]*")', 'out.append("[^:]*")'),
            # the automaton that matches fresh patterns without an expression (reference.patterns.nfa_match)
            (
                'out.append(("any", c, not segmented or i + 1 == len(chars) or chars[i + 1][0] == ":"))',
                'out.append(("any", c, not segmented))',
            ),
        ),
        first=("test_actions_and_resources",),
    ),
    Mutant(
        "resource-mid-star-crosses-colons",
        "wildcard rules",
        "a '*' inside an ARN segment matches colons too (a plain glob over the ARN)",
        "reference.patterns",
        (
            ('out.append(".*" if at_segment_end else "[^:]*")', 'out.append(".*")'),
            # the automaton that matches fresh patterns without an expression (reference.patterns.nfa_match)
            (
                'out.append(("any", c, not segmented or i + 1 == len(chars) or chars[i + 1][0] == ":"))',
                'out.append(("any", c, True))',
            ),
        ),
        first=("test_actions_and_resources", "-resource-same-account]"),
    ),
    Mutant(
        "question-mark-any-run",
        "wildcard rules",
        "'?' in an Action or StringLike pattern matches any run of characters instead of exactly one",
        "reference.patterns",
        (
            (
                '        elif wild and c == "?":\n            out.append(".")\n',
                '        elif wild and c == "?":\n            out.append(".*")\n',
            ),
            # the automaton that matches fresh patterns without an expression (reference.patterns.nfa_match)
            ('            out.append(("one", c, not segmented))', '            out.append(("any", c, not segmented))'),
            ("        or (not stars and len(text) != len(pattern))\n", ""),
            ('    if not stars:  # "?" only', '    if False:  # "?" only'),
        ),
        first=("-String]", "test_actions_and_resources"),
    ),
    # ------------------------------------------------------------------ NotAction / NotResource
    Mutant(
        "notaction-read-as-action",
        "NotAction",
        "NotAction treated as Action",
        "reference.compiled",
        (
            (
                "        return hit != self.negated\n\n\n@functools.lru_cache(maxsize=16_384)\ndef _action_matcher(",
                "        return hit\n\n\n@functools.lru_cache(maxsize=16_384)\ndef _action_matcher(",
            ),
        ),
        first=("test_actions_and_resources",),
    ),
    Mutant(
        "notresource-read-as-resource",
        "NotResource",
        "NotResource treated as Resource",
        "reference.compiled",
        (
            (
                "        return hit != self.negated\n\n    def variable_keys",
                "        return hit\n\n    def variable_keys",
            ),
        ),
        first=("test_actions_and_resources", "-String]"),
    ),
    # ------------------------------------------------------------------ deny precedence
    Mutant(
        "deny-loses-to-allow",
        "deny precedence",
        "an explicit Deny only wins when no statement allows",
        "reference.evaluator",
        (("    if denies:\n", "    if denies and not allows:\n"),),
        first=("test_actions_and_resources", "-Numeric]"),
    ),
    # ------------------------------------------------------------------ operator families
    Mutant(
        "string-equals-ignores-case",
        "String operators",
        "StringEquals compares ignoring case",
        "reference.conditions",
        (
            (
                "exact = frozenset(plain_text(r) for r in rendered)\n        return exact.__contains__",
                "exact = frozenset(plain_text(r).lower() for r in rendered)\n"
                "        return lambda v: v.lower() in exact",
            ),
        ),
        first=("-String]",),
    ),
    Mutant(
        "numeric-compared-as-text",
        "Numeric operators",
        "numbers compared as strings ('10' < '9')",
        "reference.conditions",
        (
            (
                "return _ordered_binder(kind, values, fail, read_number,",
                "return _ordered_binder(kind, values, fail, lambda t: t if _NUMBER.fullmatch(t) else None,",
            ),
        ),
        first=("-Numeric]",),
    ),
    Mutant(
        "less-than-inclusive",
        "Numeric and Date operators",
        "NumericLessThan / DateLessThan hold on equality",
        "reference.conditions",
        (('    "lt": operator.lt,\n', '    "lt": operator.le,\n'),),
        first=("-Numeric]", "-Date]"),
    ),
    Mutant(
        "date-epoch-milliseconds",
        "Date operators",
        "epoch dates read as milliseconds instead of seconds",
        "reference.conditions",
        (("return int(Decimal(text) * 1_000_000)", "return int(Decimal(text) * 1_000)"),),
        first=("-Date]",),
    ),
    Mutant(
        "bool-string-truthiness",
        "Bool operator",
        'Bool reads the request value by string truthiness ("false" is true)',
        "reference.conditions",
        (("    return lambda v: read_bool(v) in wanted", "    return lambda v: bool(v) in wanted"),),
        first=("-Bool]",),
    ),
    Mutant(
        "binary-request-not-decoded",
        "Binary operator",
        "BinaryEquals compares the request's base64 text with the policy's decoded bytes",
        "reference.conditions",
        (("return _constant(lambda v: read_binary(v) in frozen)", "return _constant(lambda v: v.encode() in frozen)"),),
        first=("-Binary]",),
    ),
    Mutant(
        "ip-prefix-ignored",
        "IP address operators",
        "a CIDR range matches only its network address (the prefix length is ignored)",
        "reference.conditions",
        (
            (
                "return None if n is None else (n.version, int(n.network_address), int(n.netmask))",
                "return None if n is None else (n.version, int(n.network_address), (1 << n.max_prefixlen) - 1)",
            ),
        ),
        first=("-Ip]",),
    ),
    Mutant(
        "arn-like-wildcards-cross-colons",
        "ARN operators",
        "ArnLike wildcards in the first five ARN parts match colons",
        "reference.conditions",
        (
            ('out.append(".*" if part == 5 else "[^:]*")', 'out.append(".*")'),
            # the part-by-part test that runs without an expression: one glob over the whole value instead
            ('    if pattern.count(":") < 5:\n', "    if True:\n"),
        ),
        first=("-Arn]",),
    ),
    Mutant(
        "null-inverted",
        "Null operator",
        'Null "true" read as "the key is present"',
        "reference.conditions",
        (
            (
                "return (cv is None or is_empty_data_set(cv.values)) in wanted",
                "return (cv is not None and not is_empty_data_set(cv.values)) in wanted",
            ),
        ),
        first=("-Null]",),
    ),
    Mutant(
        "negated-operator-false-on-missing-key",
        "negated operators",
        "StringNotEquals and the other negated operators fail when the key is missing",
        "reference.conditions",
        (("            return if_exists or negated\n", "            return if_exists\n"),),
        first=("-String]",),
    ),
    # ------------------------------------------------------------------ IfExists
    Mutant(
        "ifexists-ignored",
        "IfExists",
        "IfExists does not make a missing key true",
        "reference.conditions",
        (("            return if_exists or negated\n", "            return negated\n"),),
        first=("-String]", "-Bool]"),
    ),
    # ------------------------------------------------------------------ set operators
    Mutant(
        "forallvalues-false-without-key",
        "set operators",
        "ForAllValues is false when the key is missing or empty",
        "reference.conditions",
        (
            (
                "        if cv is None or is_empty_data_set(cv.values):\n            return True\n",
                "        if cv is None or is_empty_data_set(cv.values):\n            return False\n",
            ),
        ),
        first=("ForAllValues]",),
    ),
    Mutant(
        "foranyvalue-as-forallvalues",
        "set operators",
        "ForAnyValue requires every request value to match",
        "reference.conditions",
        (
            (
                "        return any(test(v) != negated for v in cv.values)",
                "        return all(test(v) != negated for v in cv.values)",
            ),
        ),
        first=("ForAnyValue]", "-String]"),
    ),
    # ------------------------------------------------------------------ variables
    Mutant(
        "variable-default-ignored",
        "policy variables",
        "${key, 'default'}: the default is ignored when the key is missing",
        "reference.variables",
        (
            (
                "                    if s.default is None:\n                        return None\n"
                "                    out.append(Escaped(s.default))\n",
                "                    return None\n",
            ),
        ),
        first=("test_variables",),
    ),
    Mutant(
        "variables-in-2008-policies",
        "policy variables",
        "${...} substituted in policies without Version 2012-10-17",
        "reference.variables",
        (('    if not variables_enabled or "${" not in text:', '    if "${" not in text:'),),
        first=("test_variables",),
    ),
    # ------------------------------------------------------------------ boundaries
    Mutant(
        "boundary-ignored",
        "permissions boundaries",
        "the permissions boundary does not limit identity-based grants",
        "reference.evaluator",
        (
            (
                "        boundary_ok = not prepared.has_boundary or bool(boundary_allowed)\n",
                "        boundary_ok = True\n",
            ),
        ),
        first=("-boundary]",),
    ),
    Mutant(
        "boundary-deny-ignored",
        "permissions boundaries",
        "Deny statements in the permissions boundary are ignored",
        "reference.evaluator",
        (
            (
                "        else:\n            denies.append(h)\n            denying_roles.add(role)\n",
                "        elif role != BOUNDARY:\n            denies.append(h)\n            denying_roles.add(role)\n",
            ),
        ),
        first=("-boundary]",),
    ),
    # ------------------------------------------------------------------ SCP levels
    Mutant(
        "scp-ignored",
        "SCP levels",
        "SCPs that do not allow the request do not deny it",
        "reference.evaluator",
        (("    scps_deny = bool(prepared.scp_levels) and not organizations_allowed\n", "    scps_deny = False\n"),),
        first=("-scp]",),
    ),
    Mutant(
        "scp-any-level-allows",
        "SCP levels",
        "an Allow at any SCP level is enough (instead of one at every level from the root to the account)",
        "reference.evaluator",
        (("    return all(lvl in allowed for lvl in range(levels))", "    return bool(allowed)"),),
        first=("-scp]",),
    ),
    # ------------------------------------------------------------------ resource policies
    Mutant(
        "resource-grant-ignored",
        "resource-based policies",
        "a same-account grant in the resource-based policy is ignored",
        "reference.evaluator",
        (
            (
                "            granted = identity_ok or _resource_grant(resource_best, boundary_ok, session_ok)\n",
                "            granted = identity_ok\n",
            ),
        ),
        first=("-resource-same-account]",),
    ),
    Mutant(
        "cross-account-as-same-account",
        "resource-based policies across accounts",
        "a resource of another account is evaluated as if it were the caller's",
        "reference.evaluator",
        (("    same_account = owner is None or _account_of(owner) == caller.account\n", "    same_account = True\n"),),
        first=("-resource-cross-account]",),
    ),
    Mutant(
        "cross-account-resource-policy-alone",
        "resource-based policies across accounts",
        "across accounts the resource-based policy alone grants (the identity side is not required)",
        "reference.evaluator",
        (
            (
                "            granted = identity_ok and RESOURCE in allowing_roles\n",
                "            granted = RESOURCE in allowing_roles\n",
            ),
        ),
        first=("-resource-cross-account]",),
    ),
    # ------------------------------------------------------------------ not expressible through SimulateCustomPolicy
    Mutant(
        "session-policy-ignored",
        "session policies",
        "the session policy does not limit grants",
        "reference.evaluator",
        (
            (
                "        session_ok = not prepared.has_session or SESSION in allowing_roles\n",
                "        session_ok = True\n",
            ),
        ),
        expressible=False,
        first=("-session]",),
    ),
    Mutant(
        "rcp-ignored",
        "RCP levels",
        "RCPs that do not allow the request do not deny it",
        "reference.evaluator",
        (
            (
                "    rcps_deny = rcps_apply and not _levels_allow(allows, RCP, prepared.rcp_levels)\n",
                "    rcps_deny = False\n",
            ),
        ),
        expressible=False,
        first=("-rcp]",),
    ),
)

BY_NAME: dict[str, Mutant] = {m.name: m for m in MUTANTS}
CONTROL = "none"
"""The unmutated reference, served the same way: it must give no unexpected divergence."""
