"""The JSON boundary: case-format v1 lines in, result lines out.

Decoding is done by msgspec into the typed structs of ``reference.model``
(fast: the benchmark goes through here).  When msgspec refuses a line, the
shipped JSON Schema (``reference/schema/case.schema.json``, validated with
``jsonschema``) explains why, with the JSON path, and ``json-source-map``
turns that path into a column in the line.  ``tests/test_caseio.py`` checks
that the structs and the schema accept and reject the same documents.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, NoReturn

import msgspec

from reference.compiled import PolicyCache, document_kind_of
from reference.document import json_path
from reference.evaluator import CaseInputError, case_policies, evaluate_case
from reference.model import Case, CaseError, CaseErrorResult, CaseResult, PolicyDocuments
from reference.nesting import MAX_DEPTH, too_deep, too_deep_at, too_deep_message

if TYPE_CHECKING:
    import jsonschema

# jsonschema, json-source-map and importlib.resources are imported when a line is refused: they explain an
# error, and importing them costs more than answering a few hundred cases (every `iamconf evaluate` process pays
# its imports).

_decoder = msgspec.json.Decoder(Case)
# Errors in the case line itself: their line/column are positions in the input
# file.  Every other code comes from a policy document: positions in its text.
CASE_LEVEL_CODES: Final = frozenset({"malformed-json", "schema"})
_encoder = msgspec.json.Encoder()


@functools.cache
def case_schema() -> dict[str, Any]:
    from importlib import resources  # here: ~5 ms at every start, for a schema read only to explain an error

    text = resources.files("reference").joinpath("schema/case.schema.json").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@functools.cache
def _validator() -> jsonschema.protocols.Validator:
    import jsonschema

    cls = jsonschema.validators.validator_for(case_schema())
    return cls(case_schema())


@dataclass(frozen=True, slots=True)
class LineError:
    """A line that could not be answered, located in the input."""

    line: int
    case_id: str | None
    error: CaseError

    def __reduce__(self) -> tuple[type[LineError], tuple[int, str | None, CaseError]]:
        # Answers travel from worker processes by pickle; compiled (setup.py), a frozen dataclass cannot be
        # unpickled field by field ("cannot assign to field"): it is rebuilt from its fields instead.
        return (LineError, (self.line, self.case_id, self.error))

    def one_line(self, source: str) -> str:
        """``file:line[:column]: error [code] path: message`` (policy errors add
        the line and column inside the policy text)."""
        e = self.error
        if e.code in CASE_LEVEL_CODES:
            col = f":{e.column}" if e.column is not None else ""
            return f"{source}:{self.line}{col}: error [{e.code}] {e.path}: {e.message}"
        inner = f" (policy line {e.line}, column {e.column})" if e.line is not None else ""
        return f"{source}:{self.line}: error [{e.code}] {e.path}: {e.message}{inner}"


def _pointer_to_column(line: str, path: Iterable[Any]) -> int | None:
    from json_source_map import calculate

    try:
        smap = calculate(line)
    except Exception:  # the line is already known to be JSON; be safe anyway
        return None
    pointer = "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)
    entry = smap.get(pointer)
    return None if entry is None else int(entry.value_start.column) + 1


def _schema_error(text: str, value: Any) -> CaseError:
    import jsonschema

    best = jsonschema.exceptions.best_match(_validator().iter_errors(value))
    if best is None:  # msgspec refused something the schema accepts: report msgspec's reason
        return CaseError("schema", "case does not match case-format v1", "$", None, None)
    column = _pointer_to_column(text, best.absolute_path)
    return CaseError("schema", best.message, json_path(best.absolute_path), None, column)


def decode_case(raw: bytes | str) -> Case:
    """Decode one case line; raises CaseInputError with a located error.

    A line nested more than ``MAX_DEPTH`` levels deep is refused as too deep before any other error
    (reference/nesting.py).  It is told without reading the whole line first: decoded to its typed fields,
    a case nests at most six levels deep outside its policy documents (read raw), so only the documents'
    depth is measured, each against the levels left to it.  A line refused for any reason is measured whole
    before its error is explained (the readers that explain it recurse)."""
    try:
        case = _decoder.decode(raw)
    except RecursionError:
        raise CaseInputError(_too_deep(_text(raw))) from None
    except msgspec.DecodeError as exc:  # msgspec.ValidationError is a DecodeError
        if too_deep(raw) is not None:
            raise CaseInputError(_too_deep(_text(raw))) from None
        try:
            _refused(raw, exc)
        except RecursionError:
            raise CaseInputError(_too_deep(_text(raw))) from None
    other = False  # a document neither a string nor an object: refused after every depth check
    for p in case_policies(case):
        document = bytes(p.policy.document)
        kind = document_kind_of(document)
        if kind == "string":
            # A policy given as its text (a JSON string, as most are) nests no deeper than the string, and
            # the brackets inside it are not read here (the text is measured when it is parsed).
            continue
        other = other or kind == "other"
        # The levels above a document: the case object, one per list index in its path, its policy object.
        if too_deep(document, MAX_DEPTH - 2 - p.path.count("[")) is not None:
            raise CaseInputError(_too_deep(_text(raw)))
    if other:
        text = _text(raw)
        raise CaseInputError(_schema_error(text, json.loads(text)))
    return case


def _text(raw: bytes | str) -> str:
    """The line as text, for locating an error in it (decoded only then: a line can be long)."""
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw


def _too_deep(text: str) -> CaseError:
    """A line nested too deeply for Python's JSON readers, located at the first bracket past the limit."""
    line, column = too_deep_at(text) or (1, 1)
    return CaseError("malformed-json", too_deep_message(), "$", line, column)


def _refused(raw: bytes | str, exc: msgspec.DecodeError) -> NoReturn:
    """The error of a line msgspec refused: located by the JSON Schema (a shape error) or by the standard
    library's reader (malformed JSON)."""
    text = _text(raw)
    if isinstance(exc, msgspec.ValidationError):
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            raise CaseInputError(CaseError("schema", str(exc), "$")) from None
        err = _schema_error(text, value)
        if err.path == "$" and err.message.startswith("case does not"):
            err = CaseError("schema", str(exc), "$", None, None)
        raise CaseInputError(err) from None
    try:
        json.loads(text)
    except json.JSONDecodeError as jexc:
        raise CaseInputError(
            CaseError("malformed-json", f"malformed JSON: {jexc.msg}", "$", jexc.lineno, jexc.colno)
        ) from None
    raise CaseInputError(CaseError("malformed-json", "malformed JSON", "$")) from None


def _case_id(raw: bytes | str) -> str | None:
    if too_deep(raw) is not None:
        return None
    try:
        value = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        return None
    cid = value.get("id") if isinstance(value, dict) else None
    return cid if isinstance(cid, str) else None


_documents_decoder = msgspec.json.Decoder(PolicyDocuments)


def policy_keys(raw: bytes) -> list[bytes]:
    """The raw bytes of every policy document in a case line (what PolicyCache keys compiled policies by,
    less the policy type), read without decoding the rest; none when the line is not a case.  For
    reference.batch, which sends a case to the worker that has compiled its policies."""
    try:
        found = _documents_decoder.decode(raw)
    except (msgspec.DecodeError, RecursionError):  # msgspec.ValidationError is a DecodeError
        return []
    out = [bytes(p.document) for p in found.identity_policies]
    for one in (found.permissions_boundary, found.session_policy, found.resource_policy):
        if one is not None:
            out.append(bytes(one.document))
    for group in (*found.scps, *found.rcps):
        out += [bytes(p.document) for p in group]
    return out


def encode(result: CaseResult | CaseErrorResult) -> bytes:
    return _encoder.encode(result)


class Answer:
    # A plain class, not a dataclass: compiled, a dataclass's __init__ runs in Python (see evaluator.Slot).
    def __init__(self, line: int, output: bytes, error: LineError | None) -> None:
        self.line: Final = line
        self.output: Final = output
        self.error: Final = error


def split_lines(data: bytes) -> list[bytes]:
    """``data.splitlines()`` (``\\n``, ``\\r\\n`` and a lone ``\\r`` end a line; the ends are dropped), found
    by ``bytes.find`` where there is no ``\\r``: a search in C for each line end (memchr), where
    ``splitlines`` looks at every byte for every kind of line end (a worker splits each piece of a file it
    answers: 4% of its instructions on generated cases)."""
    if b"\r" in data:
        return data.splitlines()
    lines: list[bytes] = []
    start = 0
    size = len(data)
    while start < size:
        end = data.find(b"\n", start)
        if end < 0:
            lines.append(data[start:])
            break
        lines.append(data[start:end])
        start = end + 1
    return lines


def stream_lines(stream: Iterable[bytes]) -> Iterator[bytes]:
    """The lines of a binary stream, read one at a time, split as ``bytes.splitlines`` splits a whole
    file (``\\n``, ``\\r\\n`` and a lone ``\\r`` end a line; the ends are dropped)."""
    for chunk in stream:
        if b"\r" in chunk:
            yield from chunk.splitlines()
        else:
            yield chunk[:-1] if chunk.endswith(b"\n") else chunk


def answer_lines(
    lines: Iterable[bytes | str], cache: PolicyCache | None = None, *, service_rules: bool = True, start: int = 1
) -> Iterator[Answer]:
    """One answer per non-blank input line, in input order (``service_rules``: reference.service_rules;
    ``start``: the number of the first line, when ``lines`` is a part of the input)."""
    return answer_numbered(enumerate(lines, start=start), cache, service_rules=service_rules)


def answer_numbered(
    numbered: Iterable[tuple[int, bytes | str]], cache: PolicyCache | None = None, *, service_rules: bool = True
) -> Iterator[Answer]:
    """One answer per non-blank line, each line given with its number in the input (a worker of
    reference.batch answers lines that are not next to each other)."""
    cache = cache if cache is not None else PolicyCache()
    for number, raw in numbered:
        if not raw.strip():
            continue
        try:
            case = decode_case(raw)
            yield Answer(number, encode(evaluate_case(case, cache, service_rules=service_rules)), None)
        except (CaseInputError, RecursionError) as exc:
            # RecursionError: a line of thousands of nested arrays or objects (the JSON readers of the
            # standard library recurse); that line gets its error, the rest of the batch its answers.
            text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
            yield error_answer(number, _case_id(raw), exc.error if isinstance(exc, CaseInputError) else _too_deep(text))


def error_answer(number: int, case_id: str | None, err: CaseError) -> Answer:
    """The answer to input line ``number``, which could not be answered: its error, located at that line when
    it is the case line's own (an error inside a policy keeps its place in the policy text).  Also gives a
    line its number again (reference.batch: a worker numbers the lines of a piece from 1)."""
    if err.code in CASE_LEVEL_CODES:  # locate it in the input file
        err = CaseError(err.code, err.message, err.path, number, err.column)
    return Answer(number, encode(CaseErrorResult(id=case_id, error=err)), LineError(number, case_id, err))
