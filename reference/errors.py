"""Errors the reference raises for input it refuses (never for its own bugs)."""

from __future__ import annotations


class PolicyError(Exception):
    """A policy document IAM would reject.

    ``path`` is a JSON path inside the document (``$.Statement[2].Effect``);
    ``line``/``column`` are 1-based positions in the policy text, when known.
    """

    def __init__(self, code: str, message: str, path: str = "$", line: int | None = None, column: int | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.path = path
        self.line = line
        self.column = column

    def __str__(self) -> str:
        where = f" (line {self.line}, column {self.column})" if self.line is not None else ""
        return f"{self.path}: {self.message}{where}"
