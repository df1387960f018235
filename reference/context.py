"""The request context as the evaluator sees it.

Condition key names are not case-sensitive ("Condition key names are not
case-sensitive", IAM User Guide, reference_policies_elements_condition.html),
and neither are the tag keys after ``aws:RequestTag/``, ``aws:ResourceTag/``
and ``aws:PrincipalTag/``; so the whole key name is folded to lower case once,
when the context is built.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final, NamedTuple

from reference.model import ContextEntry, ContextKeyType


class ContextValue(NamedTuple):
    """One context key's value (a named tuple: built for every key of every request that reads its
    context, immutable and hashable, and far cheaper to build than a frozen dataclass)."""

    key: str  # as the request spelled it
    type: ContextKeyType
    values: tuple[str, ...]

    @property
    def is_list(self) -> bool:
        """Multi-valued keys are the ``...List`` types (the simulator's ContextKeyType)."""
        return self.type.endswith("List")

    @property
    def base_type(self) -> str:
        return self.type[:-4] if self.is_list else self.type


class RequestContext:
    """Context values keyed by lower-cased key name.

    Built lazily: most requests only reach statements without conditions or
    variables, and then the table is never needed.
    """

    __slots__ = ("_entries", "_values")

    def __init__(self, values: dict[str, ContextValue] | None = None, entries: Iterable[ContextEntry] = ()):
        self._values = values
        self._entries = entries

    @classmethod
    def of(cls, entries: Iterable[ContextEntry]) -> RequestContext:
        return cls(None, entries)

    def table(self) -> dict[str, ContextValue]:
        """The values by lower-cased key name (read only), built on first use."""
        values = self._values
        if values is None:
            values = {}
            for e in self._entries:
                # A key given twice: the later entry wins, as a dict would.
                # tuple.__new__: a named tuple's own constructor is a Python function (namedtuple writes
                # its __new__ as source), called for every key of every request that reads its context.
                values[e.key.lower()] = tuple.__new__(ContextValue, (e.key, e.type, tuple(e.values)))
            self._values = values
        return values

    def get(self, key: str) -> ContextValue | None:
        return self.table().get(key.lower())

    def has(self, key: str) -> bool:
        return key.lower() in self.table()

    def keys(self) -> list[str]:
        return [v.key for v in self.table().values()]


EMPTY_CONTEXT: Final = RequestContext({})
