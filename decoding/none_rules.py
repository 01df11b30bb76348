"""The None rule (Python): no `.` after `self.name` or `self.name(...)` whose value may be None there.

`self._transport: Transport | None = None` declared, then `self._transport.close()`
written in a method that has not named `self._transport` before: a type
checker reports an optional member access, since nothing in that function
can have ruled None out (narrowing needs the expression: `if
self._transport:`, `assert self._transport is not None`, an assignment).
Likewise `self.find(key).name` where `def find(...) -> Crate | None`: a
call's value is never narrowed. So, where the row's line ends with `self.`
and a name (or that name's call), and a token that goes on with `.`
(perhaps after the rest of the name: `port.`) is likely enough to be chosen,
the `types` monitor is asked once for that text
(`TypesMonitor.optional_member`: one definition request for its
declarations); if it may be None, every token that writes that text and
then `.` is banned, likely or not, and the row's tokens are looked at again
(what was unlikely may now be its best), but for those that start a dunder
(`.__`): None has `__class__`, `__eq__`, ..., and `.__class__` is written
with that token. Anything else after it (`=`, `)`,
` is None`, a line break) stays free, and so does every other receiver:
only `self` is sure to be the object whose declaration the server shows.
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
_CALL_DOT = re.compile(rb"^(\(?\))\.")
_SELF_NAME = re.compile(r"(?<![\w.])self\.[A-Za-z_]\w*$")
# the line holds such a call and ends with `)`: which call it closes, `mgd.monitors.python.types` finds
_SELF_CALL = re.compile(r"(?<![\w.])self\.[A-Za-z_]\w*\(")


class NoneRules:
    """Tokens that would access a member (other than a dunder) of `self.name` or its call's value where that may be None, for one vocabulary."""

    def __init__(self, token_bytes: list[bytes | None], answers: Answers, monitor: TypesMonitor) -> None:
        self._table = token_bytes
        self._answers = answers
        self._monitor = monitor
        # each with what it writes before its `.`: the rest of a name (`port.`), or a call's end (`().`, `).`)
        self._dotted = (PatternTokens(token_bytes, _DOT_AFTER), PatternTokens(token_bytes, _CALL_DOT))

    def bans(self, prompt: int, gen: np.ndarray, state: RowState, scores: np.ndarray, margin: float) -> list[int]:
        """Tokens going on with `.` after a `self.name` (or its call) that may be None here (`scores`: the row's, (vocab,))."""
        if not state.lex.in_code or "self." not in state.line:
            return []
        generated: str | None = None
        verdicts: dict[str, bool] = {}
        banned: list[int] = []
        asked = True
        while asked:  # banning the likely ones can make another text likely: ask again until no new text is
            asked = False
            for tokens in self._dotted:
                for t, rest in tokens.likely(scores, margin, banned):
                    if rest in verdicts or not self._judged(state.line + rest):
                        continue
                    generated = text_of(self._table, gen) if generated is None else generated
                    verdicts[rest] = self._answers.optional_member(prompt, generated + rest, self._monitor)
                    asked = True
                    if verdicts[rest]:  # every token writing this text and then `.`, likely or not
                        banned += [u for u in tokens.with_rest(rest).tolist() if not self._table[u].split(b".", 1)[1].startswith(b"__")]
        return banned

    @staticmethod
    def _judged(written: str) -> bool:
        """True if the line `written` ends with `self.name` or a call of it: what the rule asks about."""
        return bool(_SELF_NAME.search(written) or written.endswith(")") and _SELF_CALL.search(written))
