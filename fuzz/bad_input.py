"""Strategies for bad input: mutated and random policy documents, case lines and Query requests.

Each strategy starts from inputs the suite accepts (the anchor policy, small
policies, generated cases) and breaks them the ways real files break: cut short,
a value of the wrong type, stray bytes, unusual Unicode, a duplicated key,
thousands of nested arrays, a document past IAM's size limit.  Random JSON and
random bytes are drawn too.  The checks live in ``fuzz/test_bad_input.py``.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

from reference.fixtures import anchor_policy
from strategies import generate_cases, write_cases

SMALL_POLICIES: tuple[str, ...] = (
    json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "Read",
                    "Effect": "Allow",
                    "Action": ["s3:GetObject", "s3:List*"],
                    "Resource": "arn:aws:s3:::bucket/*",
                    "Condition": {"IpAddress": {"aws:SourceIp": ["10.0.0.0/8"]}},
                },
                {"Effect": "Deny", "NotAction": "s3:*", "NotResource": ["arn:aws:s3:::b"]},
            ],
        },
        indent=2,
    ),
    '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*",'
    '"Condition":{"NumericLessThan":{"s3:max-keys":"10"},"DateGreaterThan":{"aws:CurrentTime":"2020-01-01T00:00:00Z"}}}}',
)


def valid_policies() -> tuple[str, ...]:
    return (anchor_policy("v3"), *SMALL_POLICIES)


def valid_case_lines(count: int = 20) -> tuple[str, ...]:
    """Case-format v1 lines that the reference answers (generated, fixed seed)."""
    import io

    buffer = io.BytesIO()
    write_cases(generate_cases(count=count, seed=11, max_requests=3), buffer)
    return tuple(buffer.getvalue().decode("utf-8").splitlines())


_JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
random_json: st.SearchStrategy[Any] = st.recursive(
    _JSON_SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)

# Unusual Unicode: controls, the edge of IAM's U+0000-U+00FF range, bidi marks, lone surrogates written
# escaped, emoji, the BOM and noncharacters.
unusual_text = st.one_of(
    st.text(st.characters(codec="utf-8"), max_size=30),
    st.sampled_from(["\u0000", "\u00ff", "\u0100", "\u202e", "\ufeff", "\ufffe", "\U0001f600", "\\ud800", "\r\n"]),
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    return out


def _replace(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {k: (_replace(v, rest, new) if k == head else v) for k, v in value.items()}
    return [(_replace(v, rest, new) if i == head else v) for i, v in enumerate(value)]


@st.composite
def _tree_mutation(draw: st.DrawFn, text: str) -> str:
    """One subtree of the JSON replaced by a random value (a wrong type, most of the time)."""
    value = json.loads(text)
    path = draw(st.sampled_from(_paths(value)))
    return json.dumps(_replace(value, path, draw(random_json)))


@st.composite
def _byte_edit(draw: st.DrawFn, text: str) -> str:
    """Characters inserted at, or deleted from, a random place."""
    at = draw(st.integers(0, len(text)))
    cut = draw(st.integers(0, 3))
    return text[:at] + draw(unusual_text) + text[at + cut :]


@st.composite
def _duplicate_key(draw: st.DrawFn, text: str) -> str:
    """A key of an object written twice (``{"Effect": "Allow", "Effect": "Deny", ...}``)."""
    positions = [i for i, c in enumerate(text) if c == "{"]
    if not positions:
        return text
    at = draw(st.sampled_from(positions)) + 1
    key = draw(st.sampled_from(["Effect", "Statement", "Version", "id", "action", "Sid"]))
    return text[:at] + f'"{key}": "x", "{key}": "y",' + text[at:]


def _deep(depth: int, opener: str) -> str:
    """Thousands of nested arrays or objects (Python's JSON readers recurse once a level)."""
    if opener == "[":
        return "[" * depth + '"x"' + "]" * depth
    return '{"a":' * depth + '"x"' + "}" * depth


def mutated(texts: tuple[str, ...]) -> st.SearchStrategy[bytes]:
    """Broken versions of ``texts``, and random inputs, as the bytes of a file."""
    base = st.sampled_from(texts)
    as_text = st.one_of(
        base.flatmap(lambda t: st.integers(0, len(t)).map(lambda i: t[:i])),  # cut short
        base.flatmap(_tree_mutation),
        base.flatmap(_byte_edit),
        base.flatmap(_duplicate_key),
        st.tuples(st.integers(1, 6000), st.sampled_from("[{")).map(lambda d: _deep(*d)),
        base.map(lambda t: t.replace("{", '{"Sid": "' + "x" * 140_000 + '", ', 1)),  # past 131,072 characters
        random_json.map(json.dumps),
        unusual_text,
    )
    return st.one_of(
        as_text.map(lambda t: t.encode("utf-8", "surrogatepass")),
        st.binary(max_size=200),  # not UTF-8, most of the time
    )
