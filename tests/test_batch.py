"""``iamconf evaluate --cases`` on several worker processes (reference.batch): the same bytes, in the same
order, with the same errors and line numbers, as one process; flat memory; a worker that dies is a failure,
never a silently shorter answer."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reference import batch
from reference.batch import CaseAnswerer, can_fork
from reference.caseio import answer_lines, split_lines, stream_lines
from reference.fixtures import anchor_policy
from reference.workers import WorkerDied
from strategies import generate_cases, write_cases

pytestmark = pytest.mark.skipif(not can_fork(), reason="workers are forked processes: not on this platform")

ROOT = Path(__file__).resolve().parent.parent


def _lines(count: int, seed: int = 5) -> list[bytes]:
    import io

    buf = io.BytesIO()
    write_cases(list(generate_cases(count=count, seed=seed)), buf)
    return buf.getvalue().splitlines()


def _mixed_input() -> list[bytes]:
    """Generated cases with, among them, blank lines, malformed JSON, a case that breaks the schema and a
    policy IAM refuses: every kind of answer a batch gives."""
    lines = _lines(300)
    bad_policy = {
        "id": "bad",
        "identity_policies": [{"id": "p", "document": {"Version": "2012-10-17", "Statement": []}}],
        "requests": [{"action": "s3:GetObject"}],
    }
    anchor = {
        "id": "anchor",
        "identity_policies": [{"id": "anchor", "document": anchor_policy("v3")}],
        "requests": [{"action": "iam:PassRole", "resource": "arn:aws:iam::111122223333:role/x"}],
    }
    extra = [
        b"",
        b"{not json",
        json.dumps(bad_policy).encode(),
        b'{"requests": []}',
        b"   ",
        json.dumps(anchor).encode(),
    ]
    out: list[bytes] = []
    for i, line in enumerate(lines):
        out.append(line)
        if i % 50 == 7:
            out.append(extra[(i // 50) % len(extra)])
    return out


@pytest.mark.parametrize("workers", [2, 3])
def test_workers_answer_byte_for_byte_as_one_process(monkeypatch: pytest.MonkeyPatch, workers: int) -> None:
    monkeypatch.setattr(batch, "CHUNK_LINES", 16)  # many chunks, so that order across workers is exercised
    lines = _mixed_input()
    serial = [(a.line, a.output, a.error) for a in answer_lines(lines)]
    with CaseAnswerer(workers) as answerer:
        assert answerer.workers == workers
        parallel = [(a.line, a.output, a.error) for a in answerer.answer(iter(lines))]
    assert parallel == serial
    assert any(e is not None for _, _, e in serial), "the input must hold lines that are refused"
    assert [n for n, _, _ in parallel] == sorted(n for n, _, _ in parallel)


_REAL_ANSWER_CHUNK = batch._answer_chunk


def _wrong_chunk(numbered: list[tuple[int, bytes]]) -> batch.AnswerBlock:
    """A worker with a bug: the answer to the input's first line has its first decision changed.
    (Module level: the function sent to a worker is pickled by its name.)"""
    block = _REAL_ANSWER_CHUNK(numbered)
    if numbered[0][0] == 1:
        _change_first_decision(block)
    return block


def _change_first_decision(block: batch.AnswerBlock) -> None:
    """The block's first answer with its first decision changed (implicitDeny -> allowed -> explicitDeny)."""
    first = block.outputs[0]
    for old, new in ((b'"implicitDeny"', b'"allowed"'), (b'"allowed"', b'"explicitDeny"')):
        if old in first:
            block.outputs[0] = first.replace(old, new, 1)
            break


def _dying_chunk(numbered: list[tuple[int, bytes]]) -> batch.AnswerBlock:
    """A worker that dies (killed, out of memory) after its first chunk."""
    if numbered[0][0] > 16:
        os._exit(3)
    return _REAL_ANSWER_CHUNK(numbered)


def test_a_wrong_worker_fails_the_comparison(monkeypatch: pytest.MonkeyPatch) -> None:
    """The check above can fail: a worker that answers one line wrongly (a decision changed) is seen."""
    monkeypatch.setattr(batch, "CHUNK_LINES", 16)
    lines = _lines(80)
    serial = [a.output for a in answer_lines(lines)]
    monkeypatch.setattr(batch, "_answer_chunk", _wrong_chunk)
    with CaseAnswerer(2) as answerer:
        parallel = [a.output for a in answerer.answer(iter(lines))]
    assert parallel != serial
    assert parallel[1:] == serial[1:]


def test_the_command_gives_the_same_output_on_one_and_on_two_workers(tmp_path: Path) -> None:
    cases = tmp_path / "cases.jsonl"
    cases.write_bytes(b"\n".join(_mixed_input()) + b"\n")
    outputs = []
    for workers in ("1", "2"):
        done = subprocess.run(
            [sys.executable, "-m", "conformance.cli", "evaluate", "--workers", workers, "--cases", str(cases)],
            capture_output=True,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            timeout=300,
        )
        assert done.returncode == 2, done.stderr  # some lines are refused: exit 2, the rest answered
        assert b"Traceback" not in done.stderr
        outputs.append((done.stdout, done.stderr))
    assert outputs[0] == outputs[1]
    answered = outputs[0][0].splitlines()
    assert len(answered) == sum(1 for line in _mixed_input() if line.strip())


def test_workers_below_one_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from conformance.cli import main

    cases = tmp_path / "c.jsonl"
    cases.write_bytes(_lines(1)[0] + b"\n")
    assert main(["evaluate", "--workers", "0", "--cases", str(cases)]) == 2
    err = capsys.readouterr().err
    assert "--workers" in err and len(err.strip().splitlines()) == 1


def test_a_worker_that_dies_is_an_error_not_a_short_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(batch, "CHUNK_LINES", 8)
    monkeypatch.setattr(batch, "_answer_chunk", _dying_chunk)
    answered = 0
    with pytest.raises(WorkerDied), CaseAnswerer(2) as answerer:
        for _ in answerer.answer(iter(_lines(40))):
            answered += 1
    assert answered < 40


def test_default_workers_follow_the_input(tmp_path: Path) -> None:
    """Every available core for a large file or a pipe; one for a small file (workers cost more to start
    than it takes to answer it)."""
    from conformance.cli import _batch_workers

    small = tmp_path / "small.jsonl"
    small.write_bytes(b"{}\n")
    large = tmp_path / "large.jsonl"
    large.write_bytes(b" " * (300 * 1024))
    with open(small, "rb") as s, open(large, "rb") as big:
        assert _batch_workers(s, None) == 1
        assert _batch_workers(big, None) == batch.available_cores()
        assert _batch_workers(big, 3) == 3
    read, write = os.pipe()
    try:
        with os.fdopen(read, "rb") as pipe:
            assert _batch_workers(pipe, None) == batch.available_cores()
    finally:
        os.close(write)


def _dying_segment(segment: batch.Segment) -> batch.AnswerBlock:
    """A worker that dies after its first piece of a file."""
    if segment.offset > 0:
        os._exit(3)
    return _REAL_ANSWER_SEGMENT(segment)


_REAL_ANSWER_SEGMENT = batch._answer_segment


def _wrong_segment(segment: batch.Segment) -> batch.AnswerBlock:
    """A worker with a bug in answering a piece of a file: its first answer has its first decision changed."""
    block = _REAL_ANSWER_SEGMENT(segment)
    _change_first_decision(block)
    return block


def _file_input(lines: list[bytes]) -> bytes:
    """The lines as a file with every kind of line end: "\n", "\r\n", a lone "\r", none at the end."""
    ends = [b"\n", b"\r\n", b"\n", b"\r"]
    return b"".join(line + ends[i % len(ends)] for i, line in enumerate(lines[:-1])) + lines[-1]


def _answers_of_file(tmp_path: Path, data: bytes, workers: int) -> list[tuple[int, bytes, object]]:
    path = tmp_path / "cases.jsonl"
    path.write_bytes(data)
    with open(path, "rb") as f, CaseAnswerer(workers) as answerer:
        return [(a.line, a.output, a.error) for b in answerer.file_blocks(f.fileno(), len(data)) for a in b.answers()]


@pytest.mark.parametrize(("workers", "span"), [(2, None), (3, None), (2, 50_000), (3, 70_000)])
def test_workers_answer_a_file_byte_for_byte_as_one_process(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, workers: int, span: int | None
) -> None:
    """A regular file goes to the workers in pieces they read themselves: the same answers, numbers and errors
    as one process reading it line by line, whatever the line ends, in one span or several."""
    monkeypatch.setattr(batch, "SEGMENT_BYTES_MIN", 2000)  # many pieces, each a few lines
    monkeypatch.setattr(batch, "SEGMENT_BYTES_MAX", 2000)
    if span is not None:
        monkeypatch.setattr(batch, "SPAN_BYTES", span)
    data = _file_input(_mixed_input())
    serial = [(a.line, a.output, a.error) for a in answer_lines(stream_lines(io.BytesIO(data)))]
    parallel = _answers_of_file(tmp_path, data, workers)
    assert parallel == serial
    assert any(e is not None for _, _, e in serial), "the input must hold lines that are refused"
    assert serial[-1][0] == len(data.splitlines())


def test_a_wrong_worker_on_a_file_fails_the_comparison(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The check above can fail: a worker that answers the first line of each piece wrongly is seen."""
    monkeypatch.setattr(batch, "SEGMENT_BYTES_MIN", 20_000)
    monkeypatch.setattr(batch, "SEGMENT_BYTES_MAX", 20_000)
    data = b"\n".join(_lines(80)) + b"\n"
    serial = [(a.line, a.output, a.error) for a in answer_lines(data.splitlines())]
    monkeypatch.setattr(batch, "_answer_segment", _wrong_segment)
    assert _answers_of_file(tmp_path, data, 2) != serial


def test_a_file_is_not_sent_to_the_workers_line_by_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The parent sends where the pieces are, not the lines (sending and routing each line cost a tenth of the
    batch): with the line-by-line path broken, a file is still answered."""

    monkeypatch.setattr(batch, "_answer_chunk", _dying_chunk)
    monkeypatch.setattr(batch, "CHUNK_LINES", 1)
    data = b"\n".join(_lines(30)) + b"\n"
    assert len(_answers_of_file(tmp_path, data, 2)) == 30


def _taken(path: Path, workers: int, askers: list[int]) -> list[list[tuple[int, batch.Segment]]]:
    """The pieces of a file each worker takes from a FilePlan, the workers asking in the order ``askers``
    (repeated) until the plan has no piece left."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        plan = batch.FilePlan(f.fileno(), size, workers, batch.segment_bytes(size, workers))
        taken: list[list[tuple[int, batch.Segment]]] = [[] for _ in range(workers)]
        while True:
            got = [(w, plan.take(w)) for w in askers]
            for w, piece in got:
                if piece is not None:
                    taken[w].append(piece)
            if all(piece is None for _, piece in got):
                return taken


def _lines_of(path: Path, pieces: list[tuple[int, batch.Segment]]) -> list[tuple[int, bytes]]:
    """The lines of the pieces, in order, numbered as the parent numbers the workers' answers."""
    with open(path, "rb") as f:
        out: list[tuple[int, bytes]] = []
        for _, s in sorted(pieces):
            out += enumerate(batch._read_range(f.fileno(), s.offset, s.length).splitlines(), start=len(out) + 1)
        return out


@pytest.mark.parametrize("span", [None, 300_000])
def test_a_file_plan_gives_each_worker_a_region_of_consecutive_pieces(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, span: int | None
) -> None:
    """Each worker answers its own region of consecutive lines (it compiles a policy once for the region's cases
    that bring it back), the regions' last pieces are small, and a worker that is done takes the last pieces of
    the region with the most left.  Every piece is taken once, the pieces are the file in order, numbered as
    stream_lines numbers its lines, and a span's pieces come before the next span's."""
    monkeypatch.setattr(batch, "SEGMENT_BYTES_MIN", 4000)
    if span is not None:
        monkeypatch.setattr(batch, "SPAN_BYTES", span)
    path = tmp_path / "cases.jsonl"
    path.write_bytes(b"\n".join(_lines(400)) + b"\n")
    size = path.stat().st_size
    spans = -(-size // batch.SPAN_BYTES)
    piece = batch.segment_bytes(size, 2)

    both = _taken(path, 2, [0, 1])
    every = sorted(p for w in both for p in w)
    assert [i for i, _ in every] == list(range(len(every)))  # each piece once, indices in file order
    assert [s.offset for _, s in every] == [0] + [s.offset + s.length for _, s in every[:-1]]
    assert every[-1][1].offset + every[-1][1].length == size
    assert _lines_of(path, every) == list(enumerate(stream_lines(io.BytesIO(path.read_bytes())), start=1))
    for worker in both:  # a worker's first pieces are consecutive, from the start of its region
        first = [i for i, _ in worker[:3]]
        assert first == list(range(first[0], first[0] + 3)), first
    assert abs(both[1][0][1].offset - min(size, batch.SPAN_BYTES) // 2) <= piece  # the second region's start
    assert all(s.length <= piece // batch.TAIL_PIECES + 2000 for _, s in (both[0][-1], both[1][-1]))
    assert len(both[0]) > 4 and len(both[1]) > 4
    if spans > 1:  # each worker works in every span
        span_of = {i: s.offset // batch.SPAN_BYTES for i, s in every}
        assert all({span_of[i] for i, _ in worker} == set(range(spans)) for worker in both)

    alone = _taken(path, 2, [0])  # the second worker never asks: the first takes every piece
    assert not alone[1] and sorted(alone[0]) == every
    first_span = [i for i, s in alone[0] if s.offset < batch.SPAN_BYTES]
    region_one = [i for i, s in every if i in first_span and s.offset >= min(size, batch.SPAN_BYTES) // 2]
    assert first_span[-len(region_one) :] == sorted(region_one, reverse=True)  # taken from the back


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from([b"a", b"bb", b"", b"  ", b"\n", b"\r", b"\r\n", b"xyz" * 5]), max_size=40),
    st.integers(min_value=1, max_value=9),
    st.integers(min_value=1, max_value=5),
)
def test_file_pieces_number_lines_as_stream_lines(
    tmp_path_factory: pytest.TempPathFactory, parts: list[bytes], piece: int, look: int
) -> None:
    """Cut into pieces of a few bytes, a file gives the lines, with their numbers, that stream_lines gives
    (a piece ends at a line end; "\r\n" is never cut; a lone "\r" ends a line too): each piece's lines
    numbered after the lines of the pieces before it, as the parent numbers the workers' answers."""
    data = b"".join(parts)
    path = tmp_path_factory.mktemp("pieces") / "f"
    path.write_bytes(data)
    was, batch._LOOK = batch._LOOK, look  # where a piece ends is found a few bytes at a time
    try:
        with open(path, "rb") as f:
            got: list[tuple[int, bytes]] = []
            for segment in batch.file_segments(f.fileno(), piece):
                chunk = batch._read_range(segment.fd, segment.offset, segment.length)
                got += list(enumerate(split_lines(chunk), start=len(got) + 1))  # as _answer_segment
    finally:
        batch._LOOK = was
    assert got == list(enumerate(stream_lines(io.BytesIO(data)), start=1))


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from([b"a", b"bb", b"", b" ", b"\n", b"\r", b"\r\n", b"\n\n", b"{}"]), max_size=30))
def test_split_lines_splits_as_splitlines(parts: list[bytes]) -> None:
    """A worker splits a piece of a file by ``split_lines``: the lines ``bytes.splitlines`` gives, with
    and without "\r", with and without a last line end, blank lines kept."""
    data = b"".join(parts)
    assert split_lines(data) == data.splitlines()


def test_the_command_says_so_when_a_worker_dies(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from conformance.cli import main

    monkeypatch.setattr(batch, "CHUNK_LINES", 8)
    monkeypatch.setattr(batch, "_answer_chunk", _dying_chunk)
    monkeypatch.setattr(batch, "_answer_segment", _dying_segment)  # a file goes in pieces (file_blocks)
    monkeypatch.setattr(batch, "SEGMENT_BYTES_MIN", 4000)
    cases = tmp_path / "cases.jsonl"
    cases.write_bytes(b"\n".join(_lines(40)) + b"\n")
    assert main(["evaluate", "--workers", "2", "--cases", str(cases)]) == 1
    out, err = capsys.readouterr()
    assert len(out.splitlines()) < 40
    assert err.count("\n") == 1 and "worker process ended unexpectedly" in err and "Traceback" not in err


def test_the_memory_guard_empties_the_caches_over_budget_and_answers_stay_the_same() -> None:
    """Over its budget the guard empties every cache of compiled policies (the batch's memory stays flat on
    any input; bench/run.py measures 1 GB); the answers do not change, and under budget it does nothing."""
    from reference.compiled import PolicyCache, compile_text

    lines = _lines(120)
    expected = [a.output for a in answer_lines(lines)]

    for budget, should_empty in ((-1.0, True), (1e9, False)):
        cache = PolicyCache()
        guard = batch.MemoryGuard(cache, budget_mib=budget, min_lines=10, fallback_lines=10)
        got = []
        for i in range(0, len(lines), 20):
            got += [a.output for a in answer_lines(lines[i : i + 20], cache)]
            guard.check(20)
        assert got == expected
        assert (guard.emptied > 0) == should_empty
        if should_empty:
            assert compile_text.cache_info().currsize == 0  # emptied at the last check


def test_a_batch_ages_its_caches_and_keeps_the_policies_used_since_the_last_aging(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every AGE_EVERY lines a batch forgets the policies not used since the aging before (its memory stays
    flat) but keeps those used since: a policy that comes back a few hundred lines later is not compiled
    again.  The answers do not change."""
    from reference.compiled import PolicyCache, compile_text

    compiled: list[str] = []

    def counting(text: str, kind: str) -> object:
        compiled.append(text)
        return compile_text.__wrapped__(text, kind)  # type: ignore[arg-type]

    lines = _lines(60)
    expected = [a.output for a in answer_lines(lines)]
    cache = PolicyCache(compiler=counting)  # type: ignore[arg-type]
    monkeypatch.setattr(batch, "AGE_EVERY", 20)
    upkeep = batch._Upkeep(cache)
    got = []
    for i in range(0, 50, 10):
        got += [a.output for a in answer_lines(lines[i : i + 10], cache)]
        upkeep.after(10)
    assert got == expected[:50]
    # aged after lines 20 and 40: the policies of lines 20-39 are kept, those only of lines 0-19 forgotten
    seen = len(compiled)
    again = [a.output for a in answer_lines(lines[20:40], cache)]
    assert again == expected[20:40] and len(compiled) == seen, "used since the last aging: not compiled again"
    again = [a.output for a in answer_lines(lines[:10], cache)]
    assert again == expected[:10]
    assert len(compiled) > seen, "not used since the aging before the last: forgotten"


def test_ctrl_c_ends_the_command_with_its_answers_so_far_and_no_worker_left(tmp_path: Path) -> None:
    import signal
    import time

    cases = tmp_path / "cases.jsonl"
    cases.write_bytes(b"\n".join(_lines(200) * 30) + b"\n")
    out = tmp_path / "out.jsonl"
    with open(out, "wb") as sink:
        child = subprocess.Popen(
            [sys.executable, "-m", "conformance.cli", "evaluate", "--workers", "2", "--cases", str(cases)],
            stdout=sink,
            stderr=subprocess.PIPE,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            # SIGINT as from a terminal, even where this test runs with it ignored
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        deadline = time.monotonic() + 60
        while out.stat().st_size == 0 and time.monotonic() < deadline:  # answering has begun
            time.sleep(0.05)
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=60)
    assert child.returncode == 130, err
    assert b"interrupted after" in err and b"Traceback" not in err
    answered = out.read_bytes().splitlines()
    assert 0 < len(answered) < 6000
    assert all(line.startswith(b'{"id"') for line in answered)
    # the workers (forked: the same command line) are gone with it
    time.sleep(0.5)
    left = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and str(cases).encode() in (proc / "cmdline").read_bytes():
                left.append(proc.name)
        except OSError:
            continue
    assert not left, f"processes still running: {left}"


def test_answering_cases_loads_no_report_machinery(tmp_path: Path) -> None:
    """``iamconf evaluate --cases`` starts in a tenth of a second: building the command line parser must not
    import what only the report commands use (the solver, Hypothesis, the HTML templates took 0.17 s)."""
    cases = tmp_path / "cases.jsonl"
    cases.write_bytes(b"\n".join(_lines(3)) + b"\n")
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "conformance.cli", "evaluate", "--cases", str(cases)],
        capture_output=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=120,
        check=True,
    )
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.decode().splitlines() if "|" in line}
    assert "reference.evaluator" in imported  # the listing is read right
    # ... nor the targets (conformance.registry and its target base: 7 ms of every start)
    heavy = {"z3", "hypothesis", "jinja2", "strategies", "reports.diff", "reports.render", "conformance.registry"}
    heavy |= {"reports.inputs", "json_source_map"}  # the report commands' input reader (5 ms)
    heavy |= {"concurrent.futures", "multiprocessing"}  # workers are forked by reference.workers (15 ms)
    heavy |= {"pathlib", "reports.cli"}  # only commands that write reports need them (8 ms with the parsers)
    # ... beyond what the interpreter's own start imports here (an editable install's finder imports pathlib)
    started = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "pass"], capture_output=True, timeout=60, check=True
    ).stderr.decode()
    imported -= {line.rsplit("|", 1)[-1].strip() for line in started.splitlines() if "|" in line}
    assert not heavy & imported, sorted(heavy & imported)
    assert len(done.stdout.splitlines()) == 3


def test_a_batch_leaves_the_collector_as_it_found_it_with_its_caches_frozen() -> None:
    """After a batch the collector runs again (if it ran before), and what the batch built is frozen: a
    collection started by the next allocations would otherwise walk all of it."""
    import gc

    assert gc.isenabled()
    gc.unfreeze()
    with batch.collector_paused():
        assert not gc.isenabled()
        kept = [{"compiled": [i]} for i in range(1000)]  # stands for the caches a batch builds
        assert gc.is_tracked(kept)
    assert gc.isenabled()
    assert gc.get_freeze_count() >= len(kept)
    gc.unfreeze()
    gc.disable()
    try:
        with batch.collector_paused():
            pass
        assert not gc.isenabled()  # left off when it was off
    finally:
        gc.enable()


@pytest.mark.parametrize(("workers", "count"), [("1", 300), ("2", 300), ("1", 3)])
def test_a_reader_that_goes_away_ends_the_command_quietly(tmp_path: Path, workers: str, count: int) -> None:
    """``iamconf evaluate --cases big.jsonl | head``: the closed pipe is not an input error ("cannot read"),
    nothing is printed, and the command ends with 0 (as head's reader expects).  With 300 cases the reader
    goes away half-way (the old code said "cannot read" and exited 2); with 3 it is gone before anything is
    written, so the failure comes from the last flush, after the answers.  (Once, under load in CI, Python's
    own flush at exit failed again, "Exception ignored ... BrokenPipeError", exit 120: the reason stdout is
    then pointed to /dev/null.  That timing was not reproduced here.)"""
    cases = tmp_path / "cases.jsonl"
    cases.write_bytes(b"\n".join(_lines(count)) + b"\n")
    read_end, write_end = os.pipe()
    if count < 10:
        os.close(read_end)
    child = subprocess.Popen(
        [sys.executable, "-m", "conformance.cli", "evaluate", "--workers", workers, "--cases", str(cases)],
        stdout=write_end,
        stderr=subprocess.PIPE,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    os.close(write_end)
    if count >= 10:
        with os.fdopen(read_end, "rb") as reader:
            assert reader.read(100).startswith(b'{"id"')  # far more than a pipe's buffer is still to be written
    _, err = child.communicate(timeout=60)
    assert child.returncode == 0, err
    assert err == b""


def test_one_process_answers_each_line_before_reading_the_next() -> None:
    """On one process (a terminal, a pipe fed as answers come) an answer does not wait for the next line."""
    lines = _lines(3)
    read: list[int] = []

    def typed() -> Iterator[bytes]:
        for i, line in enumerate(lines):
            read.append(i)
            yield line

    with CaseAnswerer(1) as answerer:
        blocks = answerer.blocks(typed())
        first = next(blocks)
        assert first.lines == [1] and read == [0]
        assert [b.lines for b in blocks] == [[2], [3]]
