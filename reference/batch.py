"""Answering many case lines fast: the collector kept out of the way, and every core at work.

Two costs that are not evaluation dominate a long batch of fresh cases (``iamconf evaluate --cases`` on
``iamconf generate`` output; ``bench/run.py`` measures it):

- Python's cyclic garbage collector.  A batch allocates millions of small acyclic objects (policies,
  matchers, results), which reference counting frees; but every allocation counts toward the collector's
  thresholds, and each full collection walks the compiled-policy caches.  Measured on 10,000 generated
  cases: a third of the run.  During a batch the collector is off and runs every ``COLLECT_EVERY`` lines
  (cycles are rare here: an exception's traceback makes one), after the start-up objects are frozen.
- One core.  The reference holds the GIL, so a batch is answered by worker processes, forked from this one
  (they inherit the imported reference: no start-up cost).  A regular file is cut into pieces of consecutive
  lines (``file_segments``) that the workers read themselves: the parent reads only where a piece ends, and
  numbers the answers by the lines each worker counted (reading the file took the parent 30 ms of CPU on
  30 MB, and delayed the second worker's start by 10 ms).  Other input (a
  pipe) is read here and split into rounds of lines; within a round each case goes to the worker that
  already compiled its policies (reference.routing).  A file is split into one region per worker
  (``FilePlan``), for the same reason.  A bounded number of rounds, or of a file's pieces (a span of
  ``SPAN_BYTES`` at most), is in flight or waiting, and answers come out in input order, so memory stays
  flat on any input size.
  ``multiprocessing.Pool.imap`` is not used: its feeder thread reads the whole input ahead.

Memory stays flat on any input: each answering process ages its caches every ``AGE_EVERY`` lines (what was
not used since the aging before is forgotten: ``PolicyCache.age``), and empties them if it has still grown
by ``CACHE_BUDGET_MIB`` (``MemoryGuard``: large policies).  Answers are byte-identical whatever the number of workers
(``tests/test_batch.py``).
"""

from __future__ import annotations

import gc
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import islice
from typing import NamedTuple

from reference.caseio import (
    Answer,
    LineError,
    answer_lines,
    answer_numbered,
    error_answer,
    split_lines,
    stream_lines,
)
from reference.compiled import PolicyCache, age_compiled, forget_compiled
from reference.routing import Numbered, rounds
from reference.workers import Workers, can_fork

# Memory each answering process may add to what it held when the batch began (its caches of compiled
# policies, patterns, plans) before it empties them: the caches count entries, not bytes, and a batch of
# large policies fills them with far more than a batch of small ones.  With two workers and the parent,
# a batch stays under 200 MB whatever its length (bench/run.py measures it on 1 GB).  Aged every
# AGE_EVERY lines, the caches of a worker on generated cases hold 42-47 MiB: the budget is above that, for
# large policies only (measured: emptied whole, 3 times on 10,000 generated cases with a budget of 40 MiB,
# they cost 7% more compilations).
CACHE_BUDGET_MIB = 64
AGE_EVERY = 1_000  # lines between two agings of an answering process's caches (PolicyCache.age)
COLLECT_EVERY = 50_000  # lines between two collections of cyclic garbage while the collector is off (a full
# collection walks the compiled-policy caches: ~0.3 s; a batch of generated cases makes no cycle at all)
CHUNK_LINES = 128  # lines a worker answers at a time
CHUNK_BYTES = 1 << 20  # ... or fewer, when the lines are long (a chunk is sent through a pipe)
_IN_FLIGHT = 3  # rounds submitted ahead (a chunk for each worker in each)
PIECES_QUEUED = 2  # pieces of a file queued for each worker (one answered, the next ready)


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity where the platform has one)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


@contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off (objects alive now frozen out of its way), enabled again afterwards
    if it was.  What is still alive at the end (the caches a batch built) stays frozen: unfrozen, the next
    allocations would start a full collection walking all of it (measured: 0.4 s after 10,000 fresh cases,
    a fifth of answering them).  Frozen objects are still freed when no longer referenced; only a cycle
    among them would outlive its use, and a batch makes none (see COLLECT_EVERY)."""
    was_enabled = gc.isenabled()
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()


def resident_mib() -> float | None:
    """This process's resident memory now (Linux: /proc/self/statm), None where it cannot be read."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE_SIZE / 2**20
    except (OSError, ValueError, IndexError):
        return None


_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


class MemoryGuard:
    """Empties the reference's caches when this process holds more than ``budget_mib`` over what it held
    when the guard began (at most every ``min_lines`` lines: Python keeps freed memory for reuse rather
    than giving it back, so the first look after emptying may still be over); where memory cannot be
    read, every ``fallback_lines`` lines."""

    def __init__(
        self,
        cache: PolicyCache,
        budget_mib: float = CACHE_BUDGET_MIB,
        min_lines: int = 2_000,
        fallback_lines: int = 20_000,
    ):
        self._cache = cache
        self._budget = budget_mib
        self._min_lines = min_lines
        self._fallback = fallback_lines
        self._base = resident_mib()
        self._lines = 0
        self.emptied = 0  # how many times the caches were emptied (tests read it)

    def check(self, lines: int) -> None:
        self._lines += lines
        now = resident_mib()
        if now is None or self._base is None:
            if self._lines < self._fallback:
                return
        elif self._lines < self._min_lines or now - self._base <= self._budget:
            return
        forget_compiled()
        self._cache.clear()
        self._lines = 0
        self.emptied += 1


class _Upkeep:
    """What an answering process with the collector off needs every so often: its caches aged every
    ``AGE_EVERY`` lines, the memory guard's look, and a collection of cyclic garbage every ``COLLECT_EVERY``
    lines."""

    def __init__(self, cache: PolicyCache) -> None:
        self.guard = MemoryGuard(cache)
        self._cache = cache
        self._since_aging = 0
        self._since_collection = 0

    def after(self, lines: int) -> None:
        self._since_aging += lines
        if self._since_aging >= AGE_EVERY:
            self._since_aging = 0
            age_compiled()
            self._cache.age()
        self.guard.check(lines)
        self._since_collection += lines
        if self._since_collection >= COLLECT_EVERY:
            self._since_collection = 0
            gc.collect()


_CHECK_EVERY = 64  # lines between two looks at this process's memory


@dataclass(slots=True)
class AnswerBlock:
    """Answers to lines of the input, in input order: the line numbers, the result lines, and the lines
    refused (each also has its result line).  A worker sends one block a chunk: a few objects to pickle,
    where an Answer each cost the parent a fifth of its time."""

    lines: list[int] = field(default_factory=list)
    outputs: list[bytes] = field(default_factory=list)
    errors: list[LineError] = field(default_factory=list)
    read: int = 0  # lines of a piece of a file, blank ones too (its answers are numbered from 1)

    def answers(self) -> Iterator[Answer]:
        errors = {e.line: e for e in self.errors}
        for line, output in zip(self.lines, self.outputs, strict=True):
            yield Answer(line, output, errors.get(line))

    def after(self, before: int) -> AnswerBlock:
        """The block of a piece whose lines were numbered from 1, numbered after the ``before`` lines of the
        file that come before it (the answer of a refused line names its line: it is written again)."""
        if before == 0:
            return self
        lines = [n + before for n in self.lines]
        if not self.errors:
            return AnswerBlock(lines, self.outputs, [])
        at = {n: i for i, n in enumerate(self.lines)}
        outputs = list(self.outputs)
        errors = []
        for e in self.errors:
            again = error_answer(e.line + before, e.case_id, e.error)
            outputs[at[e.line]] = again.output
            assert again.error is not None
            errors.append(again.error)
        return AnswerBlock(lines, outputs, errors)


def _block_of(answers: Iterable[Answer]) -> AnswerBlock:
    """The answers as one block, in their order (the lists filled here, not by a method called for every
    answer: this module runs as Python source)."""
    lines: list[int] = []
    outputs: list[bytes] = []
    errors: list[LineError] = []
    for answer in answers:
        lines.append(answer.line)
        outputs.append(answer.output)
        if answer.error is not None:
            errors.append(answer.error)
    return AnswerBlock(lines, outputs, errors)


def _merged(blocks: list[AnswerBlock]) -> AnswerBlock:
    """The blocks of one round (each in input order, none sharing a line) as one block in input order."""
    if len(blocks) == 1:
        return blocks[0]
    lines = [n for b in blocks for n in b.lines]
    outputs = [o for b in blocks for o in b.outputs]
    order = sorted(range(len(lines)), key=lines.__getitem__)
    errors = sorted((e for b in blocks for e in b.errors), key=lambda e: e.line)
    return AnswerBlock([lines[i] for i in order], [outputs[i] for i in order], errors)


def _answer_serially(lines: Iterable[bytes | str], cache: PolicyCache, service_rules: bool) -> Iterator[AnswerBlock]:
    """A block for each answer, given as soon as its line is answered: on one process the input may be a
    terminal or a pipe fed as the answers come, and an answer must not wait for the next line."""
    upkeep = _Upkeep(cache)
    for n, answer in enumerate(answer_lines(lines, cache, service_rules=service_rules), start=1):
        if n % _CHECK_EVERY == 0:
            upkeep.after(_CHECK_EVERY)
        yield _block_of((answer,))


# -- worker side --------------------------------------------------------------------------------------------

_worker_cache: PolicyCache | None = None
_worker_upkeep: _Upkeep | None = None
_worker_service_rules = True


def _start_worker(service_rules: bool) -> None:
    global _worker_cache, _worker_upkeep, _worker_service_rules
    gc.freeze()  # what the fork inherited stays out of the collector's walks (and its pages unshared)
    gc.disable()
    _worker_cache = PolicyCache()
    _worker_upkeep = _Upkeep(_worker_cache)
    _worker_service_rules = service_rules


def _answer_chunk(numbered: Numbered) -> AnswerBlock:
    assert _worker_cache is not None and _worker_upkeep is not None, "worker not started"
    block = _block_of(answer_numbered(numbered, _worker_cache, service_rules=_worker_service_rules))
    _worker_upkeep.after(len(numbered))
    return block


def _read_range(fd: int, offset: int, length: int) -> bytes:
    """``length`` bytes of the file at ``offset`` (a regular file: short only at its end)."""
    parts = []
    while length > 0:
        part = os.pread(fd, length, offset)
        if not part:
            break
        parts.append(part)
        offset += len(part)
        length -= len(part)
    return b"".join(parts) if len(parts) != 1 else parts[0]


def _answer_segment(segment: Segment) -> AnswerBlock:
    """The lines of a piece of a regular file, read here (the parent sent where it is, not its bytes),
    numbered from 1: the parent, which has not read them, numbers them again (``AnswerBlock.after``)."""
    assert _worker_cache is not None and _worker_upkeep is not None, "worker not started"
    data = _read_range(segment.fd, segment.offset, segment.length)
    lines = split_lines(data)  # what stream_lines gives (a piece ends at a line end: no "\r\n" is cut)
    block = _block_of(answer_numbered(enumerate(lines, start=1), _worker_cache, service_rules=_worker_service_rules))
    block.read = len(lines)
    _worker_upkeep.after(len(lines))
    return block


# -- parent side --------------------------------------------------------------------------------------------


class Segment(NamedTuple):
    """Consecutive whole lines of a regular file: where they are."""

    fd: int
    offset: int
    length: int


SEGMENT_BYTES_MIN = 64 << 10
SEGMENT_BYTES_MAX = 1 << 20  # a worker holds a piece, its lines and their answers at a time (memory stays flat)
SPAN_BYTES = 32 << 20  # a file is planned in spans of this size: a span's answers may wait in the parent
TAIL_PIECES = 4  # the last quarter of each worker's region goes in pieces 4x smaller (the workers end together)


def segment_bytes(file_size: int, workers: int) -> int:
    """The size of most pieces of a file: at most ``SEGMENT_BYTES_MAX``, and small enough that each worker's
    region of a span holds several (``FilePlan``)."""
    span = min(file_size, SPAN_BYTES)
    return max(SEGMENT_BYTES_MIN, min(SEGMENT_BYTES_MAX, span // (8 * workers) + 1))


_LOOK = 8 << 10  # bytes read at a time to find where a piece ends


def file_segments(fd: int, piece: int | Callable[[int], int]) -> Iterator[Segment]:
    """A regular file from its current position, in pieces of about ``piece`` bytes (or ``piece(offset)``
    for the piece that starts at ``offset``): each ends after the last ``\n`` of those bytes (after the next
    one, if there is none), or at the end of the file.  So a ``\r\n`` is never cut, and a piece's lines are
    those ``stream_lines`` gives (``\n``, ``\r\n`` and a lone ``\r`` end a line).  Only the bytes around
    each cut are read here (the workers read the pieces and count their lines)."""
    offset = os.lseek(fd, 0, os.SEEK_CUR)
    while True:
        end = _piece_end(fd, offset, piece(offset) if callable(piece) else piece)
        if end is None:
            return
        yield Segment(fd, offset, end - offset)
        offset = end


def _piece_end(fd: int, offset: int, want: int) -> int | None:
    """Where the piece that starts at ``offset`` ends (see ``file_segments``); None when the file ends there."""
    size = os.fstat(fd).st_size
    if offset >= size:
        return None
    if offset + want >= size:
        return size
    pos = offset + want
    while pos > offset:  # the last "\n" before offset + want
        start = max(offset, pos - _LOOK)
        found = os.pread(fd, pos - start, start).rfind(b"\n")
        if found >= 0:
            return start + found + 1
        pos = start
    pos = offset + want
    while pos < size:  # a line longer than the piece: the next "\n"
        found = os.pread(fd, _LOOK, pos).find(b"\n")
        if found >= 0:
            return pos + found + 1
        pos += _LOOK
    return size


class FilePlan:
    """Which worker answers which piece of a regular file.

    The file is taken in spans of ``SPAN_BYTES`` (the answers of a span may wait in the parent until the
    span's first pieces are answered), and each span is split into one region of consecutive bytes per
    worker.  A worker answers its own region's pieces in order: it compiles a policy once for all the
    region's cases that bring it back (generated batches bring a policy back a few hundred lines later).
    A worker that has answered its region takes the last pieces of the region with the most left; the last
    quarter of every region is cut in pieces ``TAIL_PIECES`` times smaller, so that the workers end
    together.  On 10,000 cases of ``iamconf generate --seed 5``, counted without the caches' limits: 13,200
    compilations, where pieces taken in turn by two workers cost 16,400, and one process 12,300.

    Pieces are cut as they are needed (``file_segments`` reads only the bytes around each cut), so every
    worker starts at once.  Each piece has its index in the file (answers are given out in that order)."""

    def __init__(self, fd: int, file_size: int, workers: int, piece: int) -> None:
        self._start = os.lseek(fd, 0, os.SEEK_CUR)
        self._file_size = file_size
        self._workers = workers
        self._piece = piece
        self._cut = file_segments(fd, self._size_at)
        self._ahead: Segment | None = None  # cut, but in a later span than the current one
        self._span = 0
        self._base = 0  # file index of the current span's first piece
        self._pieces: list[Segment] = []  # the current span's pieces cut so far, in file order
        self._reset()

    def _reset(self) -> None:
        self._next = [0] * self._workers  # per region: the next piece to take from the front
        self._after = [-1] * self._workers  # per region: after the last piece cut and not taken (-1: none cut)
        self._cut_whole = False  # the current span is cut to its end

    def _where(self, offset: int) -> tuple[int, int, int]:
        """The span of ``offset``, its region in the span, and where that region ends."""
        span = max(0, offset - self._start) // SPAN_BYTES
        span_start = self._start + span * SPAN_BYTES
        size = self._file_size - span_start
        size = SPAN_BYTES if size <= 0 else min(SPAN_BYTES, size)  # (a file that grew: spans go on)
        region = min(self._workers - 1, (offset - span_start) * self._workers // size)
        return span, region, span_start + size * (region + 1) // self._workers

    def _size_at(self, offset: int) -> int:
        left = self._where(offset)[2] - offset
        size = self._piece if left > self._piece * TAIL_PIECES else self._piece // TAIL_PIECES
        return max(SEGMENT_BYTES_MIN // TAIL_PIECES, min(size, left))

    def _cut_one(self) -> bool:
        """Cut the current span's next piece; False when the span is cut whole."""
        if self._cut_whole:
            return False
        segment = self._ahead if self._ahead is not None else next(self._cut, None)
        self._ahead = None
        if segment is None:
            self._cut_whole = True
            return False
        span, region, _ = self._where(segment.offset)
        if span != self._span:
            self._ahead = segment
            self._cut_whole = True
            return False
        index = len(self._pieces)
        self._pieces.append(segment)
        if self._after[region] < 0:  # the region's first piece
            self._next[region] = index
        self._after[region] = index + 1
        return True

    def _cut_region(self, region: int) -> bool:
        """Cut until ``region`` has a piece not taken, or is cut whole; whether it has one."""
        while self._next[region] >= self._after[region]:
            if self._cut_whole or (self._pieces and self._where(self._pieces[-1].offset)[1] > region):
                return False
            self._cut_one()
        return True

    def take(self, worker: int) -> tuple[int, Segment] | None:
        """The next piece for ``worker``, with its index in the file; None when the file is all taken."""
        while True:
            if self._cut_region(worker):
                index = self._next[worker]
                self._next[worker] += 1
                return self._base + index, self._pieces[index]
            while self._cut_one():  # the ends of the other regions are known only once the span is cut whole
                pass
            left = [after - front for front, after in zip(self._next, self._after, strict=True)]
            fullest = left.index(max(left))
            if left[fullest] > 0:
                self._after[fullest] -= 1
                index = self._after[fullest]
                return self._base + index, self._pieces[index]
            if self._ahead is None:
                return None
            self._span += 1  # this span is all taken: the next one
            self._base += len(self._pieces)
            self._pieces = []
            self._reset()


class CaseAnswerer:
    """Answers case lines in input order, on ``workers`` processes (1: this process).

    Use as a context manager: the workers are forked on entry (before the caller starts a progress
    thread: forking a process with threads risks a deadlock) and stopped on exit.  Each worker has its own
    queue (``reference.workers``), so that a case goes to the worker ``reference.routing.Router`` chooses,
    and a piece of a file to the worker whose region it is in (``FilePlan``).
    """

    def __init__(self, workers: int = 1, *, service_rules: bool = True) -> None:
        self.workers = workers if workers > 1 and can_fork() else 1
        self._service_rules = service_rules
        self._pool: Workers | None = None

    def __enter__(self) -> CaseAnswerer:
        if self.workers > 1:
            self._pool = Workers(self.workers, _start_worker, (self._service_rules,))
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def answer(self, lines: Iterable[bytes]) -> Iterator[Answer]:
        """One answer per non-blank line, in input order."""
        for block in self.blocks(lines):
            yield from block.answers()

    def blocks(self, lines: Iterable[bytes]) -> Iterator[AnswerBlock]:
        """The answers in blocks of consecutive lines, in input order (what the command writes)."""
        with collector_paused():
            pool = self._pool
            if pool is None:
                yield from _answer_serially(lines, PolicyCache(), self._service_rules)
                return
            # Rounds in flight, oldest first (their tickets); a round's answer is its workers' blocks merged by line.
            pending: deque[list[int]] = deque()
            answered: dict[int, AnswerBlock] = {}
            split = rounds(lines, self.workers, CHUNK_LINES * self.workers, CHUNK_BYTES * self.workers)
            for parts in islice(split, _IN_FLIGHT):
                pending.append(self._submit(pool, parts))
            while pending:
                head = pending.popleft()
                nxt = next(split, None)  # keep the window full while the head round is awaited
                if nxt is not None:
                    pending.append(self._submit(pool, nxt))
                while not all(ticket in answered for ticket in head):
                    answered.update(pool.wait())
                yield _merged([answered.pop(ticket) for ticket in head]) if head else AnswerBlock()

    def file_blocks(self, fd: int, file_size: int) -> Iterator[AnswerBlock]:
        """The answers to a regular file's lines, in blocks in input order.  With workers, the file goes out in
        pieces of consecutive lines that the workers read themselves (``Segment``, ``FilePlan``), where sending
        each line (and routing it) took a tenth of the batch's time."""
        pool = self._pool
        if pool is None:
            with open(fd, "rb", closefd=False) as stream:
                yield from self.blocks(stream_lines(stream))
            return
        with collector_paused():
            workers = len(pool)
            plan = FilePlan(fd, file_size, workers, segment_bytes(file_size, workers))
            answers: dict[int, AnswerBlock] = {}  # by index in the file: answered, not yet given out
            sent: dict[int, tuple[int, int]] = {}  # by ticket: (index in the file, worker), not answered yet
            queued = [0] * workers  # pieces sent to each worker and not answered
            given = 0  # pieces given out, in file order
            before = 0  # lines in those pieces
            while True:
                for worker in range(workers):  # every worker with PIECES_QUEUED pieces to answer
                    while queued[worker] < PIECES_QUEUED:
                        taken = plan.take(worker)
                        if taken is None:
                            break
                        index, segment = taken
                        sent[pool.submit(worker, _answer_segment, segment)] = (index, worker)
                        queued[worker] += 1
                while given in answers:
                    block = answers.pop(given)
                    yield block.after(before)
                    before += block.read
                    given += 1
                if not sent:
                    return
                for ticket, block in pool.wait():
                    index, worker = sent.pop(ticket)
                    queued[worker] -= 1
                    answers[index] = block

    def _submit(self, pool: Workers, parts: list[Numbered]) -> list[int]:
        return [pool.submit(worker, _answer_chunk, part) for worker, part in enumerate(parts) if part]
