"""The expression-end rule: after a `no_end` member, the expression may not end there.

The `types` monitor (`mgd.monitors.types`) marks members whose type does not
fit where the value goes but that may still be a step of a longer
expression (`int n = shelf.heaviestCrate().weight()`, `shelf.size() > 0` in
a condition). Such a name is allowed; what follows it decides:

- right after the name (depth 0), and again once the call it opens has
  closed (`heaviestCrate()`), a character that ends the expression is
  banned: `;` `,` `)` `]` `}` `:`, the end of the generation, and (Python,
  outside brackets) a line break. A `.` (the chain goes on), `[`, an
  operator or anything else ends the rule (the value is an operand or a
  receiver now: no constraint). Spaces and tabs keep it waiting; a line
  break too in Java, where chains go on over lines (builders).
- `(` opens the member's call: inside it the rule only counts brackets;
  a quote, `/`, `#` or `\\` there (a string or comment could hold a
  bracket) ends the rule, never a wrong ban.

Tokens are judged by simulating their text from the waiting depth; the
lists of banned ids per depth are built once per vocabulary and language.
"""

from __future__ import annotations

import numpy as np

BAD = -1  # the token ends the expression while the rule waits: banned
MAX_DEPTH = 6  # deeper calls inside the member's call are left free
_ENDS = frozenset(";,)]}:")
_OPEN, _CLOSE = frozenset("([{"), frozenset(")]}")
_GIVE_UP = frozenset("\"'`/#\\")  # a string, comment or continuation may hide brackets


def advance(depth: int, text: str, newline_ends: bool) -> int | None:
    """The waiting depth after `text` is written at `depth`: BAD if it ends the expression, None once the rule is over."""
    for ch in text:
        if depth == 0:
            if ch in " \t\r" or (ch == "\n" and not newline_ends):
                continue
            if ch in _ENDS or ch == "\n":
                return BAD
            if ch == "(":
                depth = 1
                continue
            return None  # `.`, `[`, an operator, a word: the member is a receiver or an operand now
        if ch in _GIVE_UP:
            return None
        if ch in _OPEN:
            depth += 1
            if depth > MAX_DEPTH:
                return None
        elif ch in _CLOSE:
            depth -= 1
    return depth


class ChainRules:
    """Which tokens end the expression while the rule waits at a depth, for one vocabulary and language."""

    def __init__(self, token_bytes: list[bytes | None], end_ids: list[int], newline_ends: bool) -> None:
        self._texts = [d.decode("utf-8", errors="replace") if d else "" for d in token_bytes]
        self._end_ids = list(end_ids)
        self.newline_ends = newline_ends
        self._bad: dict[int, list[int]] = {}

    def after(self, depth: int, text: str) -> int | None:
        """The waiting depth once `text` follows at `depth` (None: the rule is over, or the text ended it)."""
        found = advance(depth, text, self.newline_ends)
        return None if found == BAD else found

    def bad(self, depth: int) -> list[int]:
        """Token ids that would end the expression while the rule waits at `depth` (cached)."""
        found = self._bad.get(depth)
        if found is None:
            found = [t for t, text in enumerate(self._texts) if text and advance(depth, text, self.newline_ends) == BAD]
            if depth == 0:
                found += self._end_ids  # the generation may not end with the value still unfit
            self._bad[depth] = found
        return found

    def rest_ends(self) -> np.ndarray:
        """Bool (vocab,): True where a token's text after its leading identifier would end the expression at depth 0."""
        if not hasattr(self, "_rest"):
            from mgd.decoding.token_index import ident_prefix_len

            rest = np.zeros(len(self._texts), dtype=bool)
            for t, text in enumerate(self._texts):
                data = text.encode("utf-8")
                k = ident_prefix_len(data)
                if 0 < k < len(data):
                    rest[t] = advance(0, data[k:].decode("utf-8", errors="replace"), self.newline_ends) == BAD
            self._rest = rest
        return self._rest


_SHARED: dict[tuple[int, bool], ChainRules] = {}


def chain_rules_for(token_bytes: list[bytes | None], end_ids: list[int], newline_ends: bool) -> ChainRules:
    """The (cached) rules for a vocabulary's token table and a language: their ban lists are built once, not per guide."""
    key = (id(token_bytes), newline_ends)
    found = _SHARED.get(key)
    if found is None or found._end_ids != list(end_ids):
        found = _SHARED[key] = ChainRules(token_bytes, end_ids, newline_ends)
    return found
