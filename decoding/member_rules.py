"""The member rules a row's scores decide: which root a name starts from, and a `(` after a checked name.

The rules themselves come with the dereference monitor's answer
(`mgd.monitors.base.Names`, `mgd.monitors.dereference`); the trie carries
them (`NameTrie.no_call` / `checked` / `hidden`, `narrow`). Two need the row:

- Hidden names: at the dot, the row follows all names or only the shown
  ones (`NameTrie.start`), as its best-scored token says; where no name is
  shown (a function's members are all dunders), the row goes unconstrained
  unless that token starts one.
- A `(` right after a `checked` name (a Python variable or property): where a
  token that would write it (`(`, `()`, ` (` after the complete name, or
  `speed(`, `_speed()` finishing it) is within `margin` of the row's best,
  the server is asked whether the value is callable (once per text); if it
  says no, every such token is banned. Less likely ones are left alone:
  unasked, nothing is masked. `no_call` names (Java fields) need no
  question: their masks leave the `(` out already, and after the name and
  spaces it is banned here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np

from mgd.decoding.answers import Answers
from mgd.decoding.token_index import NameTrie, TokenIndex
from mgd.decoding.token_text import text_of
from mgd.monitors.base import Monitor, is_ident_char

if TYPE_CHECKING:
    from mgd.decoding.row_state import RowState


def split_name(text: str) -> tuple[str, str]:
    """`text` as (everything up to the name it ends with, that name) - the name being written after a dot."""
    k = len(text)
    while k > 0 and (is_ident_char(text[k - 1]) or text[k - 1] == "$"):
        k -= 1
    return text[:k], text[k:]


def likely(scores, ids: np.ndarray, threshold: float) -> bool:
    """True if a token of `ids` scores at least `threshold` in the row `scores` (numpy, or the engine's own row)."""
    if isinstance(scores, np.ndarray):
        return bool((scores[ids] >= threshold).any())
    return any(float(scores[int(t)]) >= threshold for t in ids)


class MemberRules:
    """Applies the member rules that depend on a row's scores (see the module docstring)."""

    def __init__(self, index: TokenIndex, answers: Answers, dot_monitors: Sequence[Monitor]) -> None:
        self._index = index
        self._answers = answers
        # the monitor that can say whether a member's value is callable (`deref`)
        self.checker = next((m for m in dot_monitors if hasattr(m, "value_not_callable")), None)

    def start(self, trie: NameTrie | None, scores, ahead: bytes | None = None) -> NameTrie | None:
        """The root a row follows at a trigger whose answer is `trie`: all names, those without the hidden ones, or None.

        `ahead`: text the row is known to write next (a typed word), read instead of its best token.
        """
        if trie is None or not trie.hidden:
            return trie
        if ahead:
            return trie.start(ahead)
        best = int(scores.argmax())
        table = self._index.token_bytes
        return trie.start(table[best] if best < len(table) else None)

    def masked_calls(self, state: RowState) -> list[int]:
        """The call-opening tokens the mask itself leaves out after the complete `no_call` name at `state` (none elsewhere)."""
        node = state.names
        if node is not None and node.terminal and node.no_call:
            return self._index.call_start.tolist()
        return []

    def bans(self, prompt: int, gen: np.ndarray, state: RowState, scores, margin: float) -> list[int]:
        """Tokens that would write a `(` the server says the name just written cannot take."""
        node = state.names
        if node is not None:
            candidates = self._index.call_candidates(node)
            spaced = False
        elif state.after_name is not None:
            if state.after_name.no_call:
                return self._index.call_start.tolist()
            candidates = [(b"", self._index.call_start)]
            spaced = True
        else:
            return []
        if not candidates or self.checker is None:
            return []
        threshold = float(scores.max()) - margin
        bans: list[int] = []
        head = typed = None
        for rest, ids in candidates:
            if not likely(scores, ids, threshold):
                continue
            if head is None:
                text = text_of(self._index.token_bytes, gen)
                head, typed = split_name(text.rstrip(" \t") if spaced else text)
            name = typed + rest.decode("utf-8", errors="replace")
            if self._answers.not_callable(prompt, head, name, self.checker):
                bans.extend(ids.tolist())
        return bans
