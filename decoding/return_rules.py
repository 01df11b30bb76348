"""The return rule (Python): a function declared to return a value may not end a `return` with none.

A bare `return` (or `return None`) gives None, which a type checker reports
in a function annotated `-> Response` (fastapi-mcp: the default model ended
a handler with a bare `return`). So where the row's line, in code, is
`return` or `return None` and a token would end the statement right there
(a line break, `;`, or a comment's `#`, perhaps after spaces), those tokens
are banned when the innermost function around the line is annotated with a
class that is surely never None (`TypesMonitor.returns_a_value`: read from
the text and the project's classes, no query; a builtin, a project class,
a closed standard-library class, not an `Optional`, a union, `Any`, a
type variable, a plain name that could alias an `Optional`, nor a
generator's `Iterator`). Any other token, ` x`, ` self.`, stays free.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import numpy as np

from mgd.decoding.token_text import text_of

if TYPE_CHECKING:
    from mgd.decoding.answers import Answers
    from mgd.decoding.row_state import RowState
    from mgd.monitors.types import TypesMonitor

_ENDS_STATEMENT = re.compile(rb"^[ \t]*[\r\n;#]")
_VALUELESS_RETURN = re.compile(r"^[ \t]*return(?:[ \t]+None)?[ \t]*$")


class ReturnRules:
    """Tokens that would end a `return` with no value (or None) in a function declared to return one, for one vocabulary."""

    def __init__(self, token_bytes: list[bytes | None], answers: Answers, monitor: TypesMonitor) -> None:
        self._table = token_bytes
        self._answers = answers
        self._monitor = monitor
        self._enders = np.array([t for t, d in enumerate(token_bytes) if d and _ENDS_STATEMENT.match(d)], dtype=np.int64)

    def bans(self, prompt: int, gen: np.ndarray, state: RowState) -> list[int]:
        """The statement-ending tokens where the row's line is a valueless `return` in a function that must return a value."""
        if not state.lex.in_code or not _VALUELESS_RETURN.match(state.line):
            return []
        if not self._answers.returns_a_value(prompt, text_of(self._table, gen), self._monitor):
            return []
        return self._enders.tolist()
