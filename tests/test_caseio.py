"""The JSON boundary: case-format v1 in, results out, errors located."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

import jsonschema
import msgspec
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from reference.caseio import answer_lines, case_schema, decode_case, encode
from reference.compiled import PolicyCache
from reference.evaluator import CaseInputError, evaluate_case
from reference.fixtures import anchor_policy
from reference.model import Case

POLICY = {"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}}
VALID: dict[str, Any] = {
    "id": "c1",
    "identity_policies": [{"id": "p", "type": "user", "document": POLICY}],
    "requests": [{"action": "s3:GetObject", "resource": "arn:aws:s3:::b/k"}],
}


def variants() -> list[tuple[str, Any]]:
    """Documents near the schema's edges, valid and invalid."""
    v = json.loads(json.dumps(VALID))

    def with_(**changes: Any) -> dict[str, Any]:
        d = json.loads(json.dumps(v))
        d.update(changes)
        return d

    req = v["requests"][0]
    pol = v["identity_policies"][0]
    return [
        ("valid", v),
        ("minimal", {"requests": [{"action": "s3:X"}]}),
        ("no-requests", {k: x for k, x in v.items() if k != "requests"}),
        ("empty-requests", with_(requests=[])),
        ("unknown-field", with_(extra=1)),
        ("id-number", with_(id=1)),
        ("id-null", with_(id=None)),
        ("boundary-null", with_(permissions_boundary=None)),
        ("boundary-policy", with_(permissions_boundary=pol)),
        ("boundary-list", with_(permissions_boundary=[pol])),
        ("policy-no-id", with_(identity_policies=[{"document": POLICY}])),
        ("policy-bad-type", with_(identity_policies=[{**pol, "type": "inline"}])),
        ("policy-string-doc", with_(identity_policies=[{**pol, "document": json.dumps(POLICY)}])),
        ("policy-list-doc", with_(identity_policies=[{**pol, "document": [POLICY]}])),
        ("policy-number-doc", with_(identity_policies=[{**pol, "document": 5}])),
        ("policy-extra", with_(identity_policies=[{**pol, "x": 1}])),
        ("scps-levels", with_(scps=[[pol], [pol, pol]])),
        ("scps-flat", with_(scps=[pol])),
        ("rcps-levels", with_(rcps=[[pol]])),
        ("short-action", with_(requests=[{"action": "s3"}])),
        ("request-extra", with_(requests=[{**req, "x": 1}])),
        ("resource-null", with_(requests=[{**req, "resource": None}])),
        (
            "context-ok",
            with_(requests=[{**req, "context": [{"key": "aws:SourceIp", "type": "ip", "values": ["1.2.3.4"]}]}]),
        ),
        ("context-bad-type", with_(requests=[{**req, "context": [{"key": "k:k", "type": "arn", "values": []}]}])),
        (
            "context-number-value",
            with_(requests=[{**req, "context": [{"key": "k:k", "type": "numeric", "values": [1]}]}]),
        ),
        ("context-empty-key", with_(requests=[{**req, "context": [{"key": "", "type": "string", "values": []}]}])),
        ("context-missing-values", with_(requests=[{**req, "context": [{"key": "k:k", "type": "string"}]}])),
        ("caller", with_(caller_arn="arn:aws:iam::1:user/x", resource_owner="arn:aws:iam::2:root")),
        ("caller-number", with_(caller_arn=5)),
        ("not-object", [v]),
    ]


@pytest.mark.parametrize(("name", "document"), variants(), ids=[n for n, _ in variants()])
def test_structs_and_schema_agree(name: str, document: Any) -> None:
    schema_ok = jsonschema.Draft202012Validator(case_schema()).is_valid(document)
    try:
        decode_case(json.dumps(document))
        struct_ok = True
    except CaseInputError:
        struct_ok = False
    assert struct_ok == schema_ok, name


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=5),
        lambda children: (
            st.lists(children, max_size=3)
            | st.dictionaries(st.sampled_from([*sorted(VALID), "requests", "action", "x"]), children, max_size=4)
        ),
        max_leaves=12,
    )
)
def test_structs_and_schema_agree_on_random_json(document: Any) -> None:
    schema_ok = jsonschema.Draft202012Validator(case_schema()).is_valid(document)
    try:
        decode_case(json.dumps(document))
        struct_ok = True
    except CaseInputError:
        struct_ok = False
    assert struct_ok == schema_ok


def test_schema_errors_name_the_path_and_column() -> None:
    line = json.dumps({**VALID, "requests": [{"action": 5}]})
    with pytest.raises(CaseInputError) as info:
        decode_case(line)
    err = info.value.error
    assert (err.code, err.path) == ("schema", "$.requests[0].action")
    assert err.column is not None and line[err.column - 1 :].startswith("5")


def test_batch_answers_every_line_in_order() -> None:
    bad_policy = {
        **VALID,
        "id": "bad",
        "identity_policies": [{"id": "p", "document": {"Statement": {"Action": "s3:*"}}}],
    }
    lines = [
        json.dumps({**VALID, "id": "first"}),
        "{not json",
        "",
        json.dumps(bad_policy),
        json.dumps({**VALID, "id": "schema", "requests": []}),
        json.dumps({**VALID, "id": "last", "requests": [{"action": "s3:PutObject"}]}),
    ]
    answers = list(answer_lines(lines))
    assert [a.line for a in answers] == [1, 2, 4, 5, 6]
    out = [json.loads(a.output) for a in answers]
    assert out[0]["id"] == "first" and out[0]["results"][0]["decision"] == "allowed"
    assert out[1]["error"]["code"] == "malformed-json" and out[1]["error"]["line"] == 2
    assert out[2]["id"] == "bad" and out[2]["error"]["code"] == "missing-effect"
    assert out[2]["error"]["path"] == "$.identity_policies[0].document.Statement"
    assert out[3]["error"]["code"] == "schema" and out[3]["error"]["path"] == "$.requests"
    assert out[4]["results"][0]["decision"] == "implicitDeny"
    assert [a.error is None for a in answers] == [True, False, False, False, True]
    assert answers[1].error is not None and answers[1].error.one_line("f.jsonl").startswith(
        "f.jsonl:2:2: error [malformed-json]"
    )


def test_result_line_is_case_format_v1() -> None:
    case = {
        "id": "anchor",
        "identity_policies": [{"id": "anchor-v3", "type": "aws-managed", "document": anchor_policy("v3")}],
        "requests": [{"action": "s3:GetObject", "resource": "arn:aws:s3:::sagemaker-x"}],
    }
    (answer,) = answer_lines([json.dumps(case)])
    result = json.loads(answer.output)
    assert result == {
        "id": "anchor",
        "results": [
            {
                "action": "s3:GetObject",
                "resource": "arn:aws:s3:::sagemaker-x",
                "decision": "allowed",
                "matched_statements": [
                    {
                        "policy_id": "anchor-v3",
                        "policy_type": "aws-managed",
                        "statement_index": 25,
                        "sid": None,
                        "start": {"line": 310, "column": 5},
                        "end": {"line": 316, "column": 6},
                    }
                ],
                "missing_context_values": ["s3:ExistingObjectTag/servicecatalog:provisioning"],
                "details": {"boundary_allowed": None, "organizations_allowed": None},
            }
        ],
    }
    assert msgspec.json.decode(answer.output)["results"][0]["decision"] in ("allowed", "explicitDeny", "implicitDeny")


def test_an_answer_with_its_error_travels_between_processes() -> None:
    """Worker processes send their answers by pickle (reference.batch); a compiled build once could not
    unpickle a LineError (tests/test_installed.py found it: the worker looked dead)."""
    import pickle

    from reference.caseio import Answer, answer_lines

    [answer] = answer_lines([b'{"requests": [}'], start=7)
    assert answer.error is not None
    back = pickle.loads(pickle.dumps([answer]))[0]
    assert (back.line, back.output, back.error) == (7, answer.output, answer.error)
    assert (
        back.error.one_line("f")
        == answer.error.one_line("f")
        == "f:7:15: error [malformed-json] $: malformed JSON: Expecting value"
    )
    assert isinstance(back, Answer)


def _at_stack_depth(frames: int, call: Callable[[], object]) -> object:
    """``call()`` made ``frames`` Python frames deeper than here."""
    return call() if frames <= 0 else _at_stack_depth(frames - 1, call)


@pytest.mark.parametrize(
    ("line", "too_deep"),
    [
        ("[" * 600 + "]" * 600, True),
        ('{"a":' * 600 + "1" + "}" * 600, True),
        (
            json.dumps(
                {"identity_policies": [{"id": "p", "document": "[" * 600 + "]" * 600}], "requests": [{"action": "a:b"}]}
            ),
            True,
        ),
        (json.dumps({"requests": [{"action": "a:b"}], "identity_policies": [{"id": "p", "document": "[[]]"}]}), False),
    ],
    ids=["deep-array-line", "deep-object-line", "deep-policy-text", "shallow"],
)
def test_an_answer_does_not_depend_on_how_deep_the_stack_is(line: str, too_deep: bool) -> None:
    """Too deep is decided by counting levels (reference/nesting.py), not by where a JSON reader's
    recursion gives out: that depends on the caller's stack, and a compiled build (fewer Python frames) once
    answered such lines differently from the Python source (tests/test_installed.py found it)."""

    def answer() -> bytes:
        [a] = answer_lines([line.encode()])
        return a.output

    shallow = answer()
    assert _at_stack_depth(sys.getrecursionlimit() - 450, answer) == shallow
    assert (b"nested more than 200 levels deep" in shallow) == too_deep


def test_two_hundred_levels_are_read_and_more_are_too_deep() -> None:
    from reference.nesting import MAX_DEPTH, too_deep

    assert too_deep("[" * MAX_DEPTH + "]" * MAX_DEPTH) is None
    assert too_deep("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1)) == (1, MAX_DEPTH + 1)
    assert too_deep(b"[" * (MAX_DEPTH + 1)) == (1, MAX_DEPTH + 1)
    assert too_deep('"' + "[" * 300 + '"') is None  # brackets inside a string do not nest
    assert too_deep("[]" * 300) is None


_json_texts = st.recursive(
    st.text(st.sampled_from('ab"\\[]{}\né'), max_size=6) | st.integers(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(st.sampled_from('k"\\[{'), max_size=3), inner),
    max_leaves=30,
).map(json.dumps)


@given(_json_texts, st.integers(min_value=0, max_value=6))
@example('"\\"[["', 1)  # an escaped quote does not end the string
@example('["\\\\", [[]]]', 2)  # an escaped backslash does not escape the quote after it
@example('[["\\\\\\"[[["]]]', 2)
def test_the_quick_nesting_test_reads_json_as_the_locating_scan_does(text: str, limit: int) -> None:
    """``nests_deeper_than`` (the structure read in C, for long lines with many brackets) says "too deep"
    exactly when ``too_deep_at`` finds where, on JSON text (strings holding quotes, backslashes and brackets)."""
    from reference.nesting import nests_deeper_than, too_deep, too_deep_at

    located = too_deep_at(text, limit)
    assert nests_deeper_than(text.encode("utf-8"), limit) == (located is not None)
    assert too_deep(text, limit) == located
    assert too_deep(text.encode("utf-8"), limit) == located


def test_a_long_line_of_many_shallow_brackets_is_not_scanned_one_character_at_a_time() -> None:
    """A case line of a hundred requests against the anchor policy has thousands of brackets: it is crossed
    string by string (the character scan made decoding it 9 us a decision, half the anchor's budget)."""
    import reference.nesting as nesting

    line = json.dumps(
        {
            "identity_policies": [{"id": "a", "document": anchor_policy("v3")}],
            "requests": [
                {"action": "s3:GetObject", "resource": f"arn:aws:s3:::b/{i}", "context": []} for i in range(150)
            ],
        }
    )
    assert line.count("[") + line.count("{") > nesting.MAX_DEPTH
    scanned: list[str] = []
    real = nesting.too_deep_at

    def counting(text: str, max_depth: int = nesting.MAX_DEPTH) -> tuple[int, int] | None:
        scanned.append(text)
        return real(text, max_depth)

    nesting.too_deep_at = counting  # type: ignore[assignment]
    try:
        assert nesting.too_deep(line) is None and nesting.too_deep(line.encode()) is None
    finally:
        nesting.too_deep_at = real  # type: ignore[assignment]
    assert scanned == []


@pytest.mark.parametrize("where", ["identity_policies", "permissions_boundary", "scps", "resource_policy"])
def test_a_document_is_too_deep_exactly_when_its_line_is(where: str) -> None:
    """Only the policy documents of a decoded case are measured, each against the levels above it: a line is
    refused as too deep exactly when the whole line nests past the limit, located where the whole-line scan
    locates it."""
    from reference.nesting import MAX_DEPTH, too_deep_at

    def line_with(depth: int) -> str:
        document = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
        document["Deep"] = json.loads("[" * (depth - 1) + "]" * (depth - 1))  # the document nests `depth` deep
        policy = {"id": "p", "document": document}
        placed: object = {
            "identity_policies": [policy],
            "permissions_boundary": policy,
            "scps": [[policy]],
            "resource_policy": policy,
        }[where]
        return json.dumps({where: placed, "requests": [{"action": "s3:GetObject"}]})

    for depth in range(MAX_DEPTH - 6, MAX_DEPTH + 3):
        line = line_with(depth)
        expected = too_deep_at(line)
        try:
            decode_case(line)
            refused = None
        except CaseInputError as exc:
            refused = exc.error
        if expected is None:
            assert refused is None or "nested more than" not in refused.message, (depth, refused)
        else:
            assert refused is not None and "nested more than" in refused.message, depth
            assert (refused.line, refused.column) == expected


@pytest.mark.parametrize(("where", "above"), [("identity_policies", 3), ("permissions_boundary", 2), ("scps", 4)])
def test_a_too_deep_document_in_a_line_of_few_brackets_is_refused(where: str, above: int) -> None:
    """A document given as an object, nested one level past the levels its place leaves it (a case object,
    its placement, its policy object), in the fewest brackets a line can hold: refused as too deep; one level
    less: not.  A document given as its text (a JSON string) holding as many brackets is not measured at this
    level: its text nests no deeper than the string, and is measured as a policy text when it is parsed."""
    from reference.nesting import MAX_DEPTH, too_deep_at

    for depth, too_deep in ((MAX_DEPTH - above, False), (MAX_DEPTH - above + 1, True)):
        document = '{"D":' + "[" * (depth - 1) + "]" * (depth - 1) + "}"  # nests `depth` levels deep
        policy = '{"id":"p","document":' + document + "}"
        placed = {"identity_policies": f"[{policy}]", "permissions_boundary": policy, "scps": f"[[{policy}]]"}[where]
        line = '{"' + where + '":' + placed + ',"requests":[{"action":"s3:GetObject"}]}'
        assert (too_deep_at(line) is not None) == too_deep
        try:
            decode_case(line)
            refused = None
        except CaseInputError as exc:
            refused = exc.error
        assert (refused is not None and "nested more than" in refused.message) == too_deep, (depth, refused)
        text_policy = '{"id":"p","document":' + json.dumps(document) + "}"
        text_placed = {"identity_policies": f"[{text_policy}]", "permissions_boundary": text_policy}
        text_placed["scps"] = f"[[{text_policy}]]"
        case = decode_case('{"' + where + '":' + text_placed[where] + ',"requests":[{"action":"s3:GetObject"}]}')
        # The text nests `depth` levels, within the 200 a policy text may (refused for its unknown element "D").
        assert "nested more than" not in evaluate_case_result(case)


def evaluate_case_result(case: Case) -> str:
    """The answer line of a decoded case, or its error's message."""
    try:
        return encode(evaluate_case(case, PolicyCache())).decode()
    except CaseInputError as exc:
        return exc.error.message


@pytest.mark.parametrize(
    ("place", "path"),
    [
        ({"identity_policies": ["ok", "bad"]}, "$.identity_policies[1]"),
        ({"permissions_boundary": "bad"}, "$.permissions_boundary"),
        ({"session_policy": "bad"}, "$.session_policy"),
        ({"resource_policy": "bad"}, "$.resource_policy"),
        ({"scps": [["ok"], ["ok", "bad"]]}, "$.scps[1][1]"),
        ({"rcps": [["ok", "bad"]]}, "$.rcps[0][1]"),
    ],
)
def test_an_invalid_policy_is_named_by_its_place_in_the_case(place: dict[str, Any], path: str) -> None:
    """The error of a policy the reference refuses names where the policy is in the case: its field, its
    index, and for SCPs and RCPs its level."""
    good = {"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}}
    principal = {"Principal": "*"}

    def policy(which: str, field: str) -> dict[str, Any]:
        statement = dict(good["Statement"], **(principal if field in ("resource_policy", "rcps") else {}))
        if which == "bad":
            statement["Effect"] = "Maybe"
        return {"id": which, "document": json.dumps({"Version": "2012-10-17", "Statement": statement})}

    case: dict[str, Any] = {"requests": [{"action": "s3:GetObject"}]}
    for field, value in place.items():
        if isinstance(value, str):
            case[field] = policy(value, field)
        elif isinstance(value[0], str):
            case[field] = [policy(v, field) for v in value]
        else:
            case[field] = [[policy(v, field) for v in level] for level in value]
    [answer] = answer_lines([json.dumps(case).encode()])
    error = json.loads(answer.output)["error"]
    assert error["code"] == "invalid-effect"
    assert error["path"] == f"{path}.document.Statement.Effect"


def test_a_too_deep_document_is_refused_before_a_document_of_the_wrong_kind() -> None:
    """A document that is neither a policy text nor a policy object is a schema error, but a line that also
    nests too deeply is refused for that first (whatever the order of the two policies)."""
    from reference.nesting import MAX_DEPTH

    deep = {"id": "deep", "document": json.loads("[" * MAX_DEPTH + "]" * MAX_DEPTH)}
    deep["document"] = {"D": deep["document"]}
    wrong = {"id": "wrong", "document": 5}
    for policies in ([wrong, deep], [deep, wrong]):
        line = json.dumps({"identity_policies": policies, "requests": [{"action": "s3:GetObject"}]})
        with pytest.raises(CaseInputError) as info:
            decode_case(line)
        assert "nested more than" in info.value.error.message
    with pytest.raises(CaseInputError) as info:
        decode_case(json.dumps({"identity_policies": [wrong], "requests": [{"action": "s3:GetObject"}]}))
    assert info.value.error.code == "schema"
