"""Tag keys and values within AWS's rules, and letter-case variants of keys.

Rules (IAM User Guide, id_tags.html, "Tag naming rules"; the botocore tag
shapes say the same with ``[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]``): a key has 1-128
characters, a value 0-256; letters, digits, spaces and ``_ . : / = + - @``;
the ``aws:`` prefix is reserved for AWS.  Keys are matched without regard to
case in the ``aws:*Tag/`` condition keys.
"""

from __future__ import annotations

from hypothesis.strategies import SearchStrategy

from strategies._choice import Chooser, check_bool, check_int, check_str, from_generator
from strategies.actions import gen_case_variant

MAX_KEY = 128
MAX_VALUE = 256
_ASCII = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_PUNCT = " _.:/=+-@"
_LATIN1_LETTERS = "\u00e9\u00fc\u00df\u00c5\u00f1\u00e7"  # é ü ß Å ñ ç
_OTHER_LETTERS = "\u65e5\u672c\u0436\u03a9\u00e9\u0101"  # 日 本 ж Ω é ā (outside Latin-1: not simulator-safe)
SAFE_TAG_ALPHABET = _ASCII + _PUNCT + _LATIN1_LETTERS
TAG_ALPHABET = SAFE_TAG_ALPHABET + _OTHER_LETTERS

TAG_KEYS: tuple[str, ...] = (
    "team",
    "Project",
    "CostCenter",
    "env",
    "Name",
    "owner",
    "sagemaker:launch-source",
    "servicecatalog:provisioning",
    "access-project",
    "data:classification",
    "app/tier",
    "a",
)
TAG_VALUES: tuple[str, ...] = ("", "true", "prod", "dev", "blue", "Engineering", "12345", "a b", "x=y", "@home")


def _alphabet(simulator_safe: bool) -> str:
    return SAFE_TAG_ALPHABET if simulator_safe else TAG_ALPHABET


def _not_reserved(key: str) -> str:
    return "x" + key[: MAX_KEY - 1] if key.lower().startswith("aws:") else key


def gen_tag_key(c: Chooser, simulator_safe: bool = False) -> str:
    """A legal tag key: a well-known one, a random one, or one on the length bounds (1 or 128)."""
    kind = c.weighted([(5, "known"), (4, "random"), (1, "long"), (1, "short")])
    if kind == "known":
        return c.pick(TAG_KEYS)
    if kind == "short":
        return c.text(_ASCII, 1, 1)
    alphabet = _alphabet(simulator_safe)
    if kind == "long":
        return _not_reserved(c.text(_ASCII, 1, 1) + c.text(alphabet, MAX_KEY - 1, MAX_KEY - 1))
    return _not_reserved(c.text(_ASCII, 1, 1) + c.text(alphabet, 0, 20))


def gen_tag_value(c: Chooser, simulator_safe: bool = False) -> str:
    """A legal tag value: empty, well-known, random, or 256 characters long."""
    kind = c.weighted([(5, "known"), (4, "random"), (1, "long")])
    if kind == "known":
        return c.pick(TAG_VALUES)
    alphabet = _alphabet(simulator_safe)
    if kind == "long":
        return c.text(alphabet, MAX_VALUE, MAX_VALUE)
    return c.text(alphabet, 0, 24)


def gen_tag_set(c: Chooser, lo: int, hi: int, simulator_safe: bool = False) -> dict[str, str]:
    """Tags with keys distinct regardless of case (as IAM requires)."""
    n = c.integer(lo, hi)
    out: dict[str, str] = {}
    seen: set[str] = set()
    for _ in range(n * 3):
        if len(out) >= n:
            break
        key = gen_tag_key(c, simulator_safe)
        if key.lower() in seen:
            continue
        seen.add(key.lower())
        out[key] = gen_tag_value(c, simulator_safe)
    filler = 0
    while len(out) < lo:  # too many collisions: top up with plain distinct keys
        if f"key{filler}" not in seen:
            out[f"key{filler}"] = ""
        filler += 1
    return out


def tag_keys(*, simulator_safe: bool = False) -> SearchStrategy[str]:
    """Legal tag keys (1-128 characters, AWS's alphabet, never ``aws:...``).

    ``simulator_safe`` keeps to Latin-1 letters.  Shrinks towards ``"team"``.
    """
    check_bool("simulator_safe", simulator_safe)
    return from_generator("tag_keys", gen_tag_key, simulator_safe=simulator_safe)


def tag_values(*, simulator_safe: bool = False) -> SearchStrategy[str]:
    """Legal tag values (0-256 characters).  Shrinks towards ``""``."""
    check_bool("simulator_safe", simulator_safe)
    return from_generator("tag_values", gen_tag_value, simulator_safe=simulator_safe)


def tag_key_variants(*, key: str) -> SearchStrategy[str]:
    """``key`` in other letter cases (equal to it ignoring case).  Shrinks towards ``key`` itself."""
    check_str("key", key)
    return from_generator("tag_key_variants", gen_case_variant, text=key)


def tag_sets(*, min_size: int = 0, max_size: int = 5, simulator_safe: bool = False) -> SearchStrategy[dict[str, str]]:
    """Tag maps whose keys are distinct regardless of case (AWS allows 50 tags a resource).

    Shrinks towards ``min_size`` tags ``{"team": ""}``-like.
    """
    check_int("min_size", min_size, 0, 50)
    check_int("max_size", max_size, min_size, 50)
    check_bool("simulator_safe", simulator_safe)
    return from_generator("tag_sets", gen_tag_set, lo=min_size, hi=max_size, simulator_safe=simulator_safe)
