"""Names for ARN placeholders that follow the service's naming rules where they are known.

The rules come from botocore's service models, distilled ahead of time into
``strategies/_naming_table.py`` by ``python -m strategies._naming_build`` (see
there for how a placeholder is matched to a shape): reading botocore at run
time costs about 13 ms a service model, too much for a generator that may touch
every service.  A few rules botocore does not carry are kept by hand below
(with their source).  Without a rule a name comes from a safe alphabet chosen
by the placeholder's name (``...Id`` looks like an id, ``...WithPath`` may
carry a path, object keys and paths get unusual but legal characters).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from hypothesis.errors import InvalidArgument
from hypothesis.strategies import SearchStrategy

from strategies._catalog import service_resource_types, services, template_slots
from strategies._choice import Chooser, check_str, from_generator
from strategies._naming_table import NAMING

Rule = tuple[int, int, str, str, tuple[str, ...]]

# Rules botocore does not carry (its S3 BucketName shape has no pattern).
_OVERRIDES: dict[tuple[str, str], Rule] = {
    # Amazon S3 User Guide, "General purpose bucket naming rules": 3-63 characters; lowercase letters,
    # numbers, dots and hyphens; begin and end with a letter or number.
    ("s3", "BucketName"): (
        3,
        63,
        r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]",
        "abcdefghijklmnopqrstuvwxyz0123456789.-",
        ("amzn-s3-demo-bucket", "sagemaker-data", "logs.example.com", "b0b", "my-bucket-2024"),
    ),
}

SAFE_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789-"
"""Characters every naming rule seen so far accepts in the middle of a name."""
_NAME_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_."
_PATH_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+=,.@_-"
_HEX = "0123456789abcdef"
# Legal in S3 object keys, log streams and API paths; odd in an ARN (and in a policy, where
# they are literal): colon, slash, space, and the rest of S3's "safe" and "special handling" sets.
UNUSUAL_ALPHABET = "abcXYZ019/:-_.!'()&@=;+, ~%#[]^`|<>"
_UNUSUAL_WORDS = (
    "photos/2024/01/a b.jpg",
    "a:b:c",
    "dir//double-slash",
    "trailing/",
    "/leading",
    "caf\u00e9-na\u00efve",
    "100%25/encoded",
    "(copy) [1]",
    "x=1&y=2",
    "~user/.profile",
)
_WORDS = ("sagemaker-demo", "SC-test", "prod", "example", "data-2024", "a", "my_resource.v2", "AccessLogs")


def rule(service: str, placeholder: str) -> Rule | None:
    """The naming rule of a placeholder of a service's ARNs, or None when none is known."""
    found = _OVERRIDES.get((service, placeholder))
    if found is not None:
        return found
    return NAMING.get(service, {}).get(placeholder)


@dataclass(frozen=True, slots=True)
class _Spec:
    """How to make one placeholder's names, worked out once per (service, placeholder, place)."""

    kind: str  # "rule", "uuid", "path", "id", "unusual", "generic"
    lo: int
    hi: int
    regex: re.Pattern[str] | None
    alphabet: str
    samples: tuple[str, ...]


@functools.lru_cache(maxsize=16384)
def _spec(service: str, placeholder: str, head: bool, unusual: bool) -> _Spec:
    r = rule(service, placeholder)
    lo, hi = (1, 64) if r is None else (max(1, r[0]), max(1, r[1]))
    if r is not None and r[2] and r[4]:
        return _Spec("rule", lo, hi, re.compile(r[2]), r[3], r[4])
    hi = max(lo, min(hi, 64))
    low = placeholder.lower()
    if "uuid" in low or (lo == hi == 36):
        kind = "uuid"
    elif low.endswith("withpath"):
        kind = "path"
    elif low.endswith(("id", "identifier")):
        kind = "id"
    elif unusual and not head and any(w in low for w in ("object", "key", "path", "stream", "prefix")):
        kind = "unusual"
    else:
        kind = "generic"
    alphabet = SAFE_ALPHABET if head else _NAME_ALPHABET
    words = tuple(w for w in _WORDS if lo <= len(w) <= hi)
    return _Spec(kind, lo, hi, None, alphabet, words)


def gen_name(c: Chooser, service: str, placeholder: str, *, head: bool = False, unusual: bool = True) -> str:
    """A value for ``${placeholder}`` in an ARN of ``service``: never empty; no ``:`` in the head fields.

    With a known pattern: one of the sample names (the first, the shortest, is the
    shrink target) or a name drawn from the rule's alphabet that the pattern accepts.
    Without one: a name shaped by the placeholder's name (ids, paths, object keys).
    """
    spec = _spec(service, placeholder, head, unusual)
    kind, lo, hi = spec.kind, spec.lo, spec.hi
    if kind == "rule":
        if not c.chance(0.5) or not spec.alphabet:
            return c.pick(spec.samples)
        name = c.text(spec.alphabet, lo, max(lo, min(hi, lo + 20)))
        if spec.regex is None or spec.regex.fullmatch(name) is None or (head and ":" in name):
            return c.pick(spec.samples)
        return name
    if kind == "uuid":
        h = c.text(_HEX, 32, 32)
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
    if kind == "path":
        path = ""
        if c.chance(0.4):
            path = "/".join(c.text(_PATH_ALPHABET[:26], 1, 8) for _ in range(c.integer(1, 2))) + "/"
        name = c.text(_PATH_ALPHABET, 1, 16) if c.chance(0.6) else c.pick(_WORDS)
        return (path + name)[:hi] or "a"
    if kind == "id":
        return c.text(SAFE_ALPHABET[:36], lo, min(hi, lo + 16))
    if kind == "unusual":
        if c.chance(0.4):
            return c.pick(_UNUSUAL_WORDS)
        return c.text(UNUSUAL_ALPHABET, lo, min(hi, 24))
    if spec.samples and c.chance(0.4):
        return c.pick(spec.samples)
    return c.text(spec.alphabet, lo, min(hi, lo + 20))


def names(*, service: str, placeholder: str, unusual: bool = True) -> SearchStrategy[str]:
    """Names for ``${placeholder}`` in the ARNs of ``service``, following botocore's rule where one is known.

    Shrinks towards the rule's shortest sample name (or a short safe name without a rule).
    """
    check_str("service", service)
    check_str("placeholder", placeholder)
    if service not in services():
        raise InvalidArgument(f"unknown service {service!r}")
    head = False
    known = False
    for rt in service_resource_types(service):
        for tpl in rt.arn_templates:
            for name, in_head in template_slots(tpl.template):
                if name == placeholder:
                    known = True
                    head = head or in_head
    if not known:
        raise InvalidArgument(f"no ARN template of service {service!r} has a placeholder {placeholder!r}")
    return from_generator("names", gen_name, service=service, placeholder=placeholder, head=head, unusual=unusual)
