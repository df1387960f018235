"""The fast paths of issue 11 give exactly what the slow ones give.

- statement positions from the value scanner (``reference.document._statement_spans``) equal
  ``json-source-map``'s;
- the text of a policy embedded as an object, written by msgspec, equals ``json.dumps(value, indent=2)``;
- patterns matched without a regular expression (literal, ``prefix*``, ``*``-only globs) agree with the
  regular expressions of ``reference.patterns``.
"""

from __future__ import annotations

import json
import lzma
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from json_source_map import calculate

from reference.compiled import ActionMatcher, ConstantResources, StarGlob
from reference.document import (
    _DECODER,
    _NOT_PLAIN,
    ParsedDocument,
    _plain_value,
    _statement_spans,
    has_statements,
    parse_document,
)
from reference.model import Case, Policy
from reference.patterns import WARM, glob, resource

BASELINE = Path(__file__).parent / "fixtures" / "baseline"


def _source_map_spans(text: str, value: Any) -> dict[tuple[Any, ...], tuple[tuple[int, int], tuple[int, int]]]:
    smap = calculate(text)
    statements = value["Statement"]
    paths: list[tuple[Any, ...]] = (
        [("Statement",)] if isinstance(statements, dict) else [("Statement", i) for i in range(len(statements))]
    )
    out = {}
    for path in paths:
        e = smap["/" + "/".join(str(p) for p in path)]
        out[path] = ((e.value_start.line + 1, e.value_start.column + 1), (e.value_end.line + 1, e.value_end.column + 1))
    return out


def _scanner_spans(text: str, forward: bool = False) -> dict[tuple[Any, ...], tuple[tuple[int, int], tuple[int, int]]]:
    """The statement positions as a document gives them, asked for last statement first (the scanner stops
    at the statement asked for: the ones before it must still be found afterwards, and their lines counted
    again from the start), or first statement first (``forward``: lines counted on from the statement
    before)."""
    paths = [path for path, _ in _statement_spans(text, has_statements(parse_document(text).value))]
    doc = parse_document(text)
    out = {}
    for path in paths if forward else reversed(paths):
        start, end = doc.span(path)
        out[path] = ((start.line, start.column), (end.line, end.column))
    return out


def _policy_texts(limit: int) -> list[str]:
    texts: list[str] = []
    for name in ("shipped", "generated"):
        for line in lzma.decompress((BASELINE / f"{name}.cases.jsonl.xz").read_bytes()).splitlines()[:limit]:
            case = msgspec.json.decode(line, type=Case)
            for p in (*case.identity_policies, case.resource_policy, case.permissions_boundary):
                if isinstance(p, Policy):
                    texts.append(p.text())
    return texts


EDGE_TEXTS = [
    '{"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}}',
    '{"Version":"2012-10-17","Statement":[{"Sid":"a{b}[c]\\"","Effect":"Allow","Action":"*","Resource":"*"},'
    '\n\t{"Effect":"Deny","Action":"s3:*","Resource":"*","Condition":{"StringLike":{"k":["{","}"]}}}]}',
    '{"Id": "x", "Statement": [\n  {"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": '
    '{"StringEquals": {"Statement": "1"}}}\n]}',
    '  {\n\n"Statement"  :  [ {"Effect":"Allow","Action":"a:b","Resource":"*"} , {"Effect":"Allow",'
    '"Action":"a:c","Resource":"\\u00e9*"} ] , "Version" : "2012-10-17" }  ',
]


def test_scanner_positions_equal_the_source_map_on_shipped_generated_and_edge_policies() -> None:
    texts = [*_policy_texts(400), *EDGE_TEXTS]
    assert len(texts) > 400
    for text in texts:
        expected = _source_map_spans(text, json.loads(text))
        assert _scanner_spans(text) == expected, text[:200]
        assert _scanner_spans(text, forward=True) == expected, text[:200]


def test_the_scanner_steps_aside_where_no_value_starts() -> None:
    """The C scanner raises StopIteration where no JSON value starts; inside the statement scanner (a
    generator) that would become a RuntimeError: it is the scanner's own refusal instead, and the position
    comes from the full source map."""
    from reference.document import _scan, _Unreadable

    with pytest.raises(_Unreadable):
        _scan('{"a": }', 6)
    with pytest.raises(_Unreadable):
        list(_statement_spans('{"Statement": [ , ]}', True))
    doc = ParsedDocument('{"Statement": [{"Effect": "Allow"}]}', None, statements=True)
    start, _ = doc.span(("Statement", 0))
    assert (start.line, start.column) == (1, 16)


def test_carriage_returns_fall_back_to_the_source_map() -> None:
    text = '{\r\n"Statement": [\r\n{"Effect": "Allow", "Action": "*", "Resource": "*"}]}'
    doc = parse_document(text)
    start, end = doc.span(("Statement", 0))
    expected = _source_map_spans(text, json.loads(text))[("Statement", 0)]
    assert ((start.line, start.column), (end.line, end.column)) == expected


def test_the_position_check_sees_a_wrong_span() -> None:
    text = EDGE_TEXTS[1]
    doc = ParsedDocument(text, json.loads(text))
    doc._scanned = True
    doc._spans = {("Statement", 0): (1, 5)}  # wrong on purpose
    start, _ = doc.span(("Statement", 0))
    assert (start.line, start.column) != _source_map_spans(text, json.loads(text))[("Statement", 0)][0]


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**20), max_value=10**20)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(max_codepoint=300), max_size=8)
    | st.text(st.sampled_from("a\x7f\x80\xe9\u2028\uffff\U0001f600\U0010ffff"), max_size=4),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=12,
)


@given(st.dictionaries(st.text(max_size=5), json_values, max_size=4))
@example({"a": "x\x7fy"})  # DEL: ASCII, and json.dumps escapes it (the fast path once wrote it as is)
@example({"\xe9": ["\U0001f600", 12345678901234567890]})
def test_object_policy_text_is_json_dumps_with_indent_2(value: dict[str, Any]) -> None:
    """Whatever way the object is written (spaced, UTF-8, compact as msgspec and `iamconf generate` write it,
    with a key repeated): the text is json.dumps with an indent of 2 of the object the raw bytes decode to."""
    compact = msgspec.json.encode(value)
    repeated = b'{"k":1,' + compact[1:] if value else b'{"k":1,"k":2}'
    for raw in (json.dumps(value).encode(), json.dumps(value, ensure_ascii=False).encode("utf-8"), compact, repeated):
        policy = Policy(id="p", document=msgspec.Raw(raw))
        assert policy.text() == json.dumps(msgspec.json.decode(raw), indent=2)


patterns = st.text(st.sampled_from("ab:/*?A"), max_size=8)
texts = st.text(st.sampled_from("ab:/AB"), max_size=10)


@given(patterns, texts)
def test_resource_shapes_agree_with_the_regular_expression(pattern: str, text: str) -> None:
    fast = ConstantResources.of([pattern]).matches(text)
    assert fast == bool(resource(pattern).fullmatch(text))


@given(st.text(st.sampled_from("ab:*Ä"), max_size=6), st.text(st.sampled_from("abAB:ä"), max_size=8))
def test_action_shapes_agree_with_the_regular_expression(pattern: str, action: str) -> None:
    fast = ActionMatcher.of(("s:" + pattern,), False).matches(("s:" + action).lower())
    assert fast == bool(glob("s:" + pattern, ignore_case=True).fullmatch(("s:" + action).lower()))


def test_star_glob_is_not_a_substring_search() -> None:
    g = StarGlob.of("ab*b", ignore_case=False)
    assert not g.matches("ab") and g.matches("abb") and g.matches("abxb") and not g.matches("abxbx")


@given(st.binary(max_size=40).map(lambda b: b.replace(b"x", b"\n").replace(b"y", b"\r")))
def test_streamed_lines_split_like_a_whole_file(data: bytes) -> None:
    import io

    from reference.caseio import stream_lines

    assert list(stream_lines(io.BytesIO(data))) == data.splitlines()


@given(st.text(st.sampled_from("ab:/*?"), max_size=7), st.text(st.sampled_from("ab:/"), max_size=9))
@example("a*b", "a:b")  # a "*" inside its segment does not read ":" (in an ARN)
@example("a*:b", "a:x:b")  # a segment-final "*" does
@example("a?b", "a:b")
@example("a**b", "ab")  # a run of "*" passed without reading anything
@example("*?*", "a")
def test_the_automaton_agrees_with_both_regular_expressions(pattern: str, text: str) -> None:
    from reference.patterns import nfa_match

    assert nfa_match(pattern, text, segmented=True) == bool(resource(pattern).fullmatch(text))
    assert nfa_match(pattern, text, segmented=False) == bool(glob(pattern).fullmatch(text))


@given(
    st.sampled_from([0, 60, 63, 130]),
    st.text(st.sampled_from("ab:/*?"), max_size=7),
    st.text(st.sampled_from("ab:/*?"), max_size=7),
    st.text(st.sampled_from("ab:/"), max_size=9),
)
def test_the_automaton_agrees_on_patterns_longer_than_a_machine_word(
    length: int, head: str, tail: str, text: str
) -> None:
    """ARN patterns run to a hundred characters and more: the automaton's states past bit 63 (an integer
    beyond a machine word) answer as the expressions do, wildcards before and after the long literal."""
    from reference.patterns import nfa_match

    pattern = head + "x" * length + tail
    for subject in (text + "x" * length + text, "x" * length + text, text):
        assert nfa_match(pattern, subject, segmented=True) == bool(resource(pattern).fullmatch(subject))
        assert nfa_match(pattern, subject, segmented=False) == bool(glob(pattern).fullmatch(subject))


def test_resources_switch_to_expressions_when_hot_and_agree() -> None:
    c = ConstantResources.of(["arn:aws:s3:::a?c*/x", "arn:aws:s3:::*:*"])
    texts = ["arn:aws:s3:::abc/x", "arn:aws:s3:::abcd/x", "arn:aws:s3:::a:c/x", "arn:aws:s3:::q:r"] * (WARM // 4 + 2)
    answers = [c.matches(t) for t in texts]
    assert c.uses >= WARM and c.hot is not None  # the expressions answered the last ones
    assert answers == [
        any(resource(p).fullmatch(t) for p in ("arn:aws:s3:::a?c*/x", "arn:aws:s3:::*:*")) for t in texts
    ]


_arn_chars = st.sampled_from(["a", "b", ":", "/", "*", "?"])


@given(
    st.lists(st.text(_arn_chars, max_size=14), min_size=1, max_size=3), st.text(st.sampled_from("ab:/"), max_size=14)
)
@example(["a:*:b:c:d:e"], "a:x:y:b:c:d:e")  # a "*" in the first five parts does not cross a colon
@example(["a:?:b:c:d:e"], "a:::b:c:d:e")
@example(["*"], "a:b")  # a value of fewer than six parts still needs a six-part request value
@example(["a:b:c:d:e:*"], "a:b:c:d:e:f:g")  # the sixth part's "*" does
def test_arn_condition_values_agree_with_the_regular_expression(values: list[str], text: str) -> None:
    """ArnLike/ArnEquals matched part by part without an expression (``_arn_parts_test``) and the exact-value
    set give what the expression built by ``_arn_source`` gives."""
    from reference.conditions import _any_arn, _arn_test
    from reference.variables import Literal

    rendered = tuple((Literal(v),) for v in values)
    assert _arn_test(rendered)(text) == bool(_any_arn(rendered).fullmatch(text))


def test_arn_condition_values_with_a_literal_wildcard_keep_the_expression() -> None:
    """A "*" that comes from ${*} (or a substituted value) is literal: the part-by-part test, which reads
    every "*" as a wildcard, is not used for it."""
    from reference.conditions import _arn_test
    from reference.variables import Escaped, Literal

    rendered = ((Literal("arn:aws:s3:::bucket/"), Escaped("*"), Literal("x*")),)
    test = _arn_test(rendered)
    assert test("arn:aws:s3:::bucket/*xyz")
    assert not test("arn:aws:s3:::bucket/axyz")


_segments = st.lists(st.tuples(st.booleans(), st.text(st.sampled_from("ab:/*?"), max_size=5)), min_size=1, max_size=4)


@given(_segments, st.text(st.sampled_from("ab:/*?"), max_size=12))
@example([(True, "a"), (False, "*")], "ab")  # a "*" from a variable's value is literal
@example([(False, "?"), (True, "*")], "ab")
def test_substituted_resource_patterns_agree_with_the_regular_expression(
    segments: list[tuple[bool, str]], arn: str
) -> None:
    """A Resource pattern with variables substituted (literal text beside the values of variables, whose
    ``*`` and ``?`` are literal) is matched by the automaton where it can be, with the expression's answer."""
    from reference.compiled import _rendered_matches
    from reference.variables import Escaped, Literal

    rendered = tuple(Literal(t) if wild else Escaped(t) for wild, t in segments)
    assert _rendered_matches(rendered, arn) == bool(resource(rendered).fullmatch(arn))


@given(st.text(alphabet="ab:*?/", max_size=12))
@example("arn:aws:s3:::b*")  # segment-final stars only
@example("arn:aws:s3:*:*:b*/x")  # a star inside the last segment
@example("a**")  # a star followed by a star
def test_free_stars_only_is_every_star_ending_its_segment(pattern: str) -> None:
    """The regular-expression test says what its definition says: no "?", and every "*" last in its segment."""
    from reference.compiled import _free_stars_only

    definition = "?" not in pattern and all(
        pattern[i + 1 : i + 2] in ("", ":") for i, c in enumerate(pattern) if c == "*"
    )
    assert _free_stars_only(pattern) == definition


@given(st.text(alphabet=st.characters(max_codepoint=0x2FF), max_size=60))
@example("\x7f\xff\t\n\r ~")
@example("a\x0bb")
@example("\u0100")
@example("")
def test_the_character_test_in_c_agrees_with_the_search(text: str) -> None:
    """IAM's character set (tab, newline, carriage return, U+0020-U+00FF) tested by Latin-1 bytes
    (reference.document._only_allowed) says what the regular expression's search says."""
    from reference.document import _NOT_ALLOWED, _only_allowed

    assert _only_allowed(text) == (_NOT_ALLOWED.search(text) is None)


_rendered = st.lists(
    st.tuples(st.booleans(), st.text(st.sampled_from("ab:/*?"), max_size=4)), min_size=1, max_size=4
).map(lambda segs: tuple(_segment(literal, text) for literal, text in segs))


def _segment(literal: bool, text: str) -> object:
    from reference.variables import Escaped, Literal

    return Literal(text) if literal else Escaped(text)


@given(_rendered, st.text(st.sampled_from("ab:/*?"), max_size=9))
@example((_segment(False, "*"),), "*")  # a literal "*" matches itself only
@example((_segment(False, "*"),), "ab")
@example((_segment(True, "a*"), _segment(False, "?")), "ab?")
@example((_segment(True, "*"), _segment(False, ":")), "a:")  # a wildcard before a literal ":" ends a segment
def test_a_rendered_pattern_is_matched_by_the_automaton_as_by_both_expressions(rendered: Any, text: str) -> None:
    """A pattern with its variables substituted (``${*}``, ``${?}`` and substituted values are literal) is
    matched by the automaton as ``resource`` and ``glob`` compile it, literal wildcards included."""
    from reference.patterns import rendered_match

    assert rendered_match(rendered, text, segmented=True) == bool(resource(rendered).fullmatch(text))
    assert rendered_match(rendered, text, segmented=False) == bool(glob(rendered).fullmatch(text))


def test_like_values_switch_to_one_expression_when_hot_and_agree() -> None:
    """StringLike's test: the automaton for a fresh clause, one expression once it has served WARM values;
    the same answers either way (a literal "*" from ${*} included)."""
    from reference.conditions import _string_test
    from reference.patterns import WARM
    from reference.variables import Escaped, Literal

    rendered = ((Literal("home/*/x?"),), (Literal("a"), Escaped("*"), Literal("b*")))
    test = _string_test("like", rendered)
    texts = ["home/u/xy", "home//x", "a*bq", "axbq", "a*b", "home/u/xyz"] * (WARM // 6 + 2)
    answers = [test(t) for t in texts]
    assert answers == [t in ("home/u/xy", "a*bq", "a*b") for t in texts]
    assert getattr(test, "match", None) is not None and getattr(test, "uses", 0) >= WARM


def _same(a: Any, b: Any) -> bool:
    """Equal, with the same types all the way down (a JsonNumber is not an int, nor a str)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


_spaces = st.sampled_from(["", " ", "\n", "\t ", "\r\n"])
_json_scalars = st.sampled_from(
    [
        '"x"',
        '"\\ud800"',
        '"a\\":b"',
        '"\\u00e9"',
        '"\xe9"',
        "true",
        "false",
        "null",
        "1",
        "-0",
        "1E5",
        "2.50",
        "NaN",
        '"\\"\\":"',
        '"\\\\"',
        '"\\u0022:"',
    ]
)
_json_keys = st.sampled_from(["a", "b", "Statement", 'x":y', "", "a "])


def _object_text(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    members = st.lists(st.tuples(_json_keys, _spaces, _spaces, inner), max_size=4)
    return members.map(lambda ms: "{" + ",".join(json.dumps(k) + w1 + ":" + w2 + v for k, w1, w2, v in ms) + "}")


_json_texts = st.recursive(
    _json_scalars,
    lambda inner: _object_text(inner) | st.lists(inner, max_size=3).map(lambda xs: "[" + ", ".join(xs) + "]"),
    max_leaves=10,
)


@given(st.tuples(_spaces, _json_texts, _spaces).map("".join))
@example('{"a" :"x","b":"y","b":"z"}')  # a space before one colon hides one repeat from the count of '":'
@example('{"a":"x\\":","b":"y","b":"z"}')  # a '":' in a string: more '":' than keys
@example('{"a":["\\ud800"]}')  # a lone surrogate: the standard library takes it, msgspec does not
def test_the_plain_decoder_gives_what_the_standard_library_gives_or_steps_aside(text: str) -> None:
    """parse_document decodes a policy text by msgspec when ``_plain_value`` says it gives the same value as
    ``_DECODER`` (numbers kept as written, a repeated key refused): it must, type for type, and it must step
    aside for every text that ``_DECODER`` refuses."""
    try:
        expected: Any = _DECODER.decode(text)
    except ValueError:  # malformed JSON, a repeated key
        expected = _NOT_PLAIN
    got = _plain_value(text)
    if got is not _NOT_PLAIN:
        assert expected is not _NOT_PLAIN, "msgspec took a text the standard library refuses"
        assert _same(got, expected)


@given(st.tuples(_spaces, _json_texts, _spaces).map("".join))
@example('{"a" :"x","b":"y","b":"z"}')  # without the space, the tokens show the repeated key to the count
@example('{"a":"\\u0000"}')  # a character IAM refuses, escaped: allowed
@example('["\\u0100"]')
@example('{"a": "\u0100 x"}')  # raw: refused
@example('{"a":"Ā"}')  # a character IAM refuses: located in the text
@example("[" * 201 + "]" * 201)  # too deep: located in the text
@example(" " * 131_072 + "{}")  # over the size limit, in white space alone
def test_a_document_read_from_its_tokens_is_the_document_read_from_its_text(text: str) -> None:
    """parse_document given the text's tokens (what the content cache computed) decodes them in place of
    the text: the same value type for type, or the same refusal at the same place in the text."""
    from reference.compiled import _json_tokens
    from reference.errors import PolicyError

    def read(tokens: str | None) -> Any:
        try:
            return parse_document(text, tokens).value
        except PolicyError as e:
            return (e.code, e.message, e.path, e.line, e.column)

    got, expected = read(_json_tokens(text)), read(None)
    assert _same(got, expected) or ("nan" in repr(got) and repr(got) == repr(expected)), (got, expected)  # NaN != NaN


@given(st.lists(st.text(st.sampled_from('a \t\n\r\x00\x01\x1f\x7f\xff\u0100\U0001f600\\"'), max_size=6), max_size=3))
@example(["\t"])  # a tab in a string: the formatter refuses it
def test_tokens_are_tested_for_allowed_characters_as_the_text_is(strings: list[str]) -> None:
    """``_tokens_allowed`` (ASCII tokens need no test) agrees with ``_only_allowed`` on every text of tokens
    that msgspec's formatter writes, raw control characters and escapes included."""
    from reference.compiled import _json_tokens
    from reference.document import _only_allowed, _tokens_allowed

    for text in (json.dumps(strings), json.dumps(strings, ensure_ascii=False), '["' + '","'.join(strings) + '"]'):
        tokens = _json_tokens(text)
        if tokens is not None:
            assert _tokens_allowed(tokens) == _only_allowed(tokens), tokens


def test_the_plain_decoder_takes_the_common_policy_texts() -> None:
    """The fast path is taken for policies without numbers, spaced or compact (else the test above passes
    with a decoder that always steps aside)."""
    taken = [_plain_value(t) is not _NOT_PLAIN for t in EDGE_TEXTS]
    assert taken == [True, True, True, False]  # the last has spaces before its colons
    shipped = _policy_texts(200)
    assert sum(_plain_value(t) is not _NOT_PLAIN for t in shipped) > 0.8 * len(shipped)


def _library_range(text: str) -> tuple[int, int, int] | None:
    from reference.conditions import read_network

    n = read_network(text)
    return None if n is None else (n.version, int(n.network_address), int(n.netmask))


_ipv4_like = st.one_of(
    st.text(st.sampled_from("0123456789./ :a"), max_size=20),
    st.builds(
        lambda octets, prefix, zero: (
            ".".join(("0" + str(o)) if zero and i == 2 else str(o) for i, o in enumerate(octets))
            + ("" if prefix is None else f"/{prefix}")
        ),
        st.lists(st.integers(0, 300), min_size=4, max_size=4),
        st.none() | st.integers(0, 40) | st.sampled_from(["01", "032", "", "255.255.0.0", "0.0.255.255", "٣"]),
        st.booleans(),
    ),
)


@given(_ipv4_like)
@example("203.0.113.7/24")  # host bits after the prefix are dropped
@example("10.0.0.1")  # no prefix: /32
@example("0.0.0.0/0")
@example("1.2.3.4/33")  # out of range: the library refuses it
@example("256.1.1.1")
@example("01.2.3.4")  # a leading zero: the library refuses it
@example("1.2.3.4/01")  # ... but not in the prefix
@example("1.2.3.4/255.255.255.0")  # a netmask: the library's
@example("::ffff:1.2.3.4/120")
def test_plain_ipv4_ranges_read_as_the_standard_library_reads_them(text: str) -> None:
    """A policy's IPv4 value is read without the standard library when it is plain: the same range (IP
    version, network, netmask), or the same refusal."""
    from reference.conditions import _network_range

    assert _network_range.__wrapped__(text) == _library_range(text), text
