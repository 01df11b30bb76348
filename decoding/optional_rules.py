"""The None rule (Python): after `self.name` whose declared type admits None, no `.` while nothing has narrowed it.

`self._transport: Transport | None = None` declared, then `self._transport.close()`
written in a method that has not named `self._transport` before: a type
checker reports an optional member access, since nothing in that function
can have ruled None out (narrowing needs the expression: `if
self._transport:`, `assert self._transport is not None`, an assignment). So,
where the row's line ends with `self.` and a name, and a token that goes on
with `.` (perhaps after the rest of the name: `port.`) is likely enough to
be chosen, the `types` monitor is asked once for that name
(`TypesMonitor.optional_member`: one definition request for its declarations);
if it admits None and the enclosing function has not named it, those tokens
are banned. Anything else after the name (`=`, `)`, ` is None`, a line
break) stays free, and so does every other receiver: only `self` is sure to
be the object whose declaration the server shows.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import numpy as np

from mgd.decoding.likely_tokens import PatternTokens
from mgd.decoding.token_text import text_of

if TYPE_CHECKING:
    from mgd.decoding.answers import Answers
    from mgd.decoding.row_state import RowState
    from mgd.monitors.types import TypesMonitor

# a token that goes on with a member access: the rest of a name (maybe none), then `.`
_DOT_AFTER = re.compile(rb"^([A-Za-z0-9_]*)\.")
_SELF_NAME = re.compile(r"(?<![\w.])self\.[A-Za-z_]\w*$")


class NoneRules:
    """Tokens that would access a member of `self.name` where that name may be None, for one vocabulary."""

    def __init__(self, token_bytes: list[bytes | None], answers: Answers, monitor: TypesMonitor) -> None:
        self._table = token_bytes
        self._answers = answers
        self._monitor = monitor
        self._dotted = PatternTokens(token_bytes, _DOT_AFTER)  # each with the name's rest it writes before its `.`

    def bans(self, prompt: int, gen: np.ndarray, state: RowState, scores: np.ndarray, margin: float) -> list[int]:
        """Tokens going on with `.` after a `self.name` that may be None here (`scores`: the row's, (vocab,))."""
        if not state.lex.in_code or not _SELF_NAME.search(state.line):
            return []
        likely = self._dotted.likely(scores, margin)
        if not likely:
            return []
        generated = text_of(self._table, gen)
        verdicts: dict[str, bool] = {}
        banned = []
        for t, rest in likely:
            if rest not in verdicts:
                verdicts[rest] = self._answers.optional_member(prompt, generated + rest, self._monitor)
            if verdicts[rest]:
                banned.append(t)
        return banned
