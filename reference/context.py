"""The request context as the evaluator sees it.

Condition key names are not case-sensitive ("Condition key names are not
case-sensitive", IAM User Guide, reference_policies_elements_condition.html),
and neither are the tag keys after ``aws:RequestTag/``, ``aws:ResourceTag/``
and ``aws:PrincipalTag/``; so the whole key name is folded to lower case once,
when the context is built.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from reference.model import ContextEntry, ContextKeyType


@dataclass(frozen=True, slots=True)
class ContextValue:
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
    """Context values keyed by lower-cased key name."""

    __slots__ = ("_values",)

    def __init__(self, values: dict[str, ContextValue]):
        self._values = values

    @classmethod
    def of(cls, entries: Iterable[ContextEntry]) -> RequestContext:
        values: dict[str, ContextValue] = {}
        for e in entries:
            # A key given twice: the later entry wins, as a dict would.
            values[e.key.lower()] = ContextValue(e.key, e.type, tuple(e.values))
        return cls(values)

    def get(self, key: str) -> ContextValue | None:
        return self._values.get(key.lower())

    def has(self, key: str) -> bool:
        return key.lower() in self._values

    def keys(self) -> list[str]:
        return [v.key for v in self._values.values()]


EMPTY_CONTEXT = RequestContext({})
