"""reference.memo.Memo: the grammar checks of single Action and Resource values are computed once and kept."""

from __future__ import annotations

from reference.arns import _resource_problem, resource_problem
from reference.memo import Memo
from reference.policy import _action_problem, action_problem


def test_an_answer_is_computed_once_none_included_and_the_memo_is_bounded() -> None:
    asked: list[str] = []

    def answer(value: str) -> str | None:
        asked.append(value)
        return None if value.startswith("ok") else f"bad {value}"

    memo = Memo(answer, 3)
    assert [memo.get(v) for v in ("ok1", "x", "ok1", "x")] == [None, "bad x", None, "bad x"]
    assert memo("ok1") is None and asked == ["ok1", "x"]  # None is an answer kept like any other
    for v in ("a", "b", "c", "d"):
        memo.get(v)
        assert len(memo) <= 3
    assert memo.get("d") == "bad d" and asked.count("d") == 1
    memo.clear()
    assert len(memo) == 0 and memo.get("x") == "bad x" and asked.count("x") == 2


def test_the_kept_checks_answer_as_the_checks() -> None:
    values = [
        "*",
        "s3:GetObject",
        "s3*:Get",
        "iam",
        "a:b:c",
        "arn:aws:s3:::b/*",
        "arn:aws:logs:*",
        "arn:aws:iam:us-east-1::role/x",
    ]
    for v in values * 2:
        assert action_problem(v) == _action_problem(v)
        assert resource_problem.get(v) == _resource_problem(v)
