"""Policy variables: ``${aws:username}``, defaults, escapes.

IAM User Guide, reference_policies_variables.html:
- variables are replaced by the value of the context key of that name; they
  work only under ``"Version": "2012-10-17"`` (under 2008-10-17 or with no
  Version the text is literal: reference_policies_elements_version.html);
- "${aws:PrincipalTag/team, 'company-wide'}" gives a default value used when
  the key is absent;
- ``${*}``, ``${?}`` and ``${$}`` stand for a literal ``*``, ``?`` and ``$``
  ("special characters");
- only single-valued keys can be used as variables; when a key has no value
  and there is no default, a Resource using it matches nothing and a
  condition using it does not match (the caller decides what "no match"
  means for its operator).
"""

from __future__ import annotations

import re
from typing import Final

from reference.context import RequestContext

# ${*} ${?} ${$} | ${key} | ${key, 'default'}
_TOKEN: Final = re.compile(r"\$\{(?:(?P<esc>[*?$])|(?P<key>[^},']+?)\s*(?:,\s*'(?P<default>[^']*)'\s*)?)\}")


class _Value:
    """Equality, hash and repr from ``_key()``, what a frozen dataclass gives.  Plain classes, not frozen
    dataclasses: compiled by mypyc, a dataclass keeps the ``__init__`` the dataclasses module writes in
    Python, and a Resource or condition value makes one or two of these (23,000 on 10,000 generated
    cases).  Rendered patterns are cache keys (reference.patterns): a Literal and an Escaped of the same
    text differ."""

    def _key(self) -> tuple[object, ...]:
        raise NotImplementedError

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other._key() == self._key()

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._key()))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(map(repr, self._key()))})"


class _Text(_Value):
    """A piece of a rendered pattern."""

    def __init__(self, text: str) -> None:
        self.text: Final = text

    def _key(self) -> tuple[object, ...]:
        return (self.text,)


class Literal(_Text):
    """Text written in the policy: wildcards in it keep their meaning."""


class Escaped(_Text):
    """A character that is always literal: from ``${*}``, ``${?}``, ``${$}`` or a substituted value."""


class Variable(_Value):
    def __init__(self, key: str, default: str | None) -> None:
        self.key: Final = key
        self.default: Final = default

    def _key(self) -> tuple[object, ...]:
        return (self.key, self.default)


Segment = Literal | Escaped | Variable
Rendered = tuple[Literal | Escaped, ...]


class Template(_Value):
    def __init__(self, segments: tuple[Segment, ...]) -> None:
        self.segments: Final = segments

    def _key(self) -> tuple[object, ...]:
        return (self.segments,)

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(s.key for s in self.segments if isinstance(s, Variable))

    @property
    def is_constant(self) -> bool:
        return not any(isinstance(s, (Variable, Escaped)) for s in self.segments)

    def render(self, ctx: RequestContext) -> Rendered | None:
        """Substitute variables; ``None`` when one has no value and no default."""
        out: list[Literal | Escaped] = []
        for s in self.segments:
            if isinstance(s, Variable):
                value = ctx.get(s.key)
                # Choice (UNDOCUMENTED.md): a multi-valued key, or a key
                # present with no value, gives the variable no value.
                if value is None or value.is_list or len(value.values) != 1:
                    if s.default is None:
                        return None
                    out.append(Escaped(s.default))
                else:
                    out.append(Escaped(value.values[0]))
            else:
                out.append(s)
        return tuple(out)

    def missing_keys(self, ctx: RequestContext) -> list[str]:
        return [s.key for s in self.segments if isinstance(s, Variable) and s.default is None and not ctx.has(s.key)]


def parse_template(text: str, *, variables_enabled: bool) -> Template:
    if not variables_enabled or "${" not in text:
        return Template((Literal(text),))
    segments: list[Segment] = []
    pos = 0
    for m in _TOKEN.finditer(text):
        if m.start() > pos:
            segments.append(Literal(text[pos : m.start()]))
        if m.group("esc"):
            segments.append(Escaped(m.group("esc")))
        else:
            segments.append(Variable(m.group("key").strip(), m.group("default")))
        pos = m.end()
    if pos < len(text):
        segments.append(Literal(text[pos:]))
    return Template(tuple(segments))


def plain_text(rendered: Rendered) -> str:
    return "".join(s.text for s in rendered)
