"""Concrete text that a wildcard pattern covers: Action, Resource, StringLike and ArnLike rules.

A pattern is given as pieces ``(text, wild)``: ``wild`` is False for text that
came from a ``${*}``-style escape or a substituted policy variable, whose ``*``
and ``?`` are literal (``reference.variables``).  Each filler follows the rule
``reference.patterns`` / ``reference.conditions`` apply, so a filled value is
covered by its pattern.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from strategies._choice import Chooser
from strategies.arns import PARTITIONS, gen_account, gen_region

Pieces = Sequence[tuple[str, bool]]

_CHUNK_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789-_."
_CHUNKS = ("", "x", "sagemaker", "abc-123", "2024", "SC-demo", "a.b", "AccessLogs")


def pieces_of(text: str) -> list[tuple[str, bool]]:
    """A pattern written in the policy without variables: every character may be a wildcard."""
    return [(text, True)]


def _chars(pieces: Pieces) -> list[tuple[str, bool]]:
    return [(ch, wild) for text, wild in pieces for ch in text]


def gen_chunk(c: Chooser, *, slash: bool = False, colon: bool = False) -> str:
    """What a ``*`` stands for: often empty or a word, sometimes with ``/`` or ``:`` where allowed."""
    chunk = c.pick(_CHUNKS) if not c.chance(0.5) else c.text(_CHUNK_ALPHABET, 1, 8)
    if slash and c.chance(0.25):
        chunk += "/" + c.text(_CHUNK_ALPHABET, 1, 6)
    if colon and c.chance(0.1):
        chunk += ":" + c.text(_CHUNK_ALPHABET, 1, 4)
    return chunk


def _wild_positions(pieces: Pieces) -> tuple[str, list[int]]:
    """The pattern's text and the positions of its active ``*`` and ``?``."""
    if len(pieces) == 1 and pieces[0][1]:
        text = pieces[0][0]
        return text, [m.start() for m in _WILD.finditer(text)]
    text = ""
    positions: list[int] = []
    for part, wild in pieces:
        if wild:
            positions.extend(len(text) + m.start() for m in _WILD.finditer(part))
        text += part
    return text, positions


_WILD = re.compile(r"[*?]")


def fill_glob(c: Chooser, pieces: Pieces, *, question_width: int = 1) -> str:
    """StringLike / Action: ``*`` is any text, ``?`` one character.

    ``question_width`` 0 or 2: a near miss instead, each ``?`` standing for no character or for two."""
    text, positions = _wild_positions(pieces)
    if not positions:
        return text
    out: list[str] = []
    last = 0
    for i in positions:
        out.append(text[last:i])
        if text[i] == "*":
            out.append(gen_chunk(c, slash=True, colon=True))
        else:
            out.append("".join(c.pick(_CHUNK_ALPHABET) for _ in range(question_width)))
        last = i + 1
    out.append(text[last:])
    return "".join(out)


def fill_resource(c: Chooser, pieces: Pieces, *, cross_colons: bool = False) -> str:
    """Resource / NotResource: ``?`` and a mid-segment ``*`` stay within the segment; a segment that
    is just ``*`` in the partition, region or account field gets a partition, region or account; a
    ``*`` that ends a segment of the resource part often stands for text with colons.

    ``cross_colons``: a near miss instead; every mid-segment ``*`` of the resource part stands for
    text holding a colon, which only a ``*`` that ends a segment may match (``crosses_colons`` says
    whether the pattern has such a ``*``)."""
    text, positions = _wild_positions(pieces)
    if not positions:
        return text
    fields = text.split(":", 5)
    partition = fields[1] if len(fields) > 1 and fields[1] not in ("*", "") else "aws"
    out: list[str] = []
    last = 0
    for i in positions:
        out.append(text[last:i])
        last = i + 1
        if text[i] == "?":
            out.append(c.pick(_CHUNK_ALPHABET))
            continue
        segment = text.count(":", 0, i)
        starts = i == 0 or text[i - 1] == ":"
        ends = i + 1 == len(text) or text[i + 1] == ":"
        if starts and ends and segment == 1:
            partition = c.pick(PARTITIONS)
            out.append(partition)
        elif starts and ends and segment == 3:
            out.append(gen_region(c, partition))
        elif starts and ends and segment == 4:
            out.append(gen_account(c))
        elif cross_colons and segment >= 5 and not ends:
            out.append(gen_chunk(c) + ":" + gen_chunk(c))
        else:
            chunk = gen_chunk(c, slash=segment >= 5, colon=ends and segment >= 5)
            if ends and segment >= 5 and c.chance(0.25):
                chunk += ":" + c.text(_CHUNK_ALPHABET, 1, 4)  # a segment-final * matches past colons
            out.append(chunk)
    out.append(text[last:])
    return "".join(out)


def crosses_colons(pieces: Pieces) -> bool:
    """Does the pattern hold a ``*`` in the middle of a segment of its resource part?"""
    text, positions = _wild_positions(pieces)
    return any(
        text[i] == "*" and text.count(":", 0, i) >= 5 and i + 1 < len(text) and text[i + 1] != ":" for i in positions
    )


def fill_arn(c: Chooser, pieces: Pieces) -> str:
    """ArnLike / ArnEquals: the first five colons separate fields in which a wildcard never matches
    a colon; a value with fewer than six fields is matched whole, but the request value must have six."""
    chars = _chars(pieces)
    if sum(1 for ch, _ in chars if ch == ":") < 5:
        text = fill_glob(c, pieces)
        missing = 5 - text.count(":")
        wild_star = any(wild and ch == "*" for ch, wild in chars)
        if missing > 0 and wild_star:
            # put the missing separators where the last '*' stands
            last = max(i for i, (ch, wild) in enumerate(chars) if wild and ch == "*")
            head = fill_glob(c, [(ch, wild) for ch, wild in chars[:last]])
            tail = "".join(ch for ch, _ in chars[last + 1 :])
            return head + "x:" * missing + "x" + tail
        return text
    out: list[str] = []
    segment = 0
    for ch, wild in chars:
        if ch == ":" and segment < 5:
            segment += 1
            out.append(ch)
        elif wild and ch == "*":
            if segment == 3:
                out.append(gen_region(c) if not c.chance(0.3) else "")
            elif segment == 4:
                out.append(gen_account(c) if not c.chance(0.2) else "")
            else:
                out.append(gen_chunk(c, slash=segment == 5, colon=segment == 5))
        elif wild and ch == "?":
            out.append(c.pick(_CHUNK_ALPHABET))
        else:
            out.append(ch)
    return "".join(out)
