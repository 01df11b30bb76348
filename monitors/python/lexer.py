"""An incremental scanner that tells whether a point in Python text is code.

Generation appends a few characters at a time, so the scanner is a small
immutable state advanced character by character: no re-lexing of the prefix,
and beams that share a prefix share its state.
"""

from __future__ import annotations

import keyword
from typing import NamedTuple

from mgd.monitors.base import PREV_CLOSE, PREV_DEREF_DOT, PREV_NAME, PREV_NUMBER, PREV_OTHER, is_ident_char

CODE, COMMENT, STRING, TRIPLE, OPENING = range(5)  # CODE is base.CODE (0)

_CLOSERS = frozenset(")]}")

# a string literal's prefixes (case aside) and the class of the literal each makes
STRING_PREFIXES = {"": "str", "r": "str", "u": "str", "f": "str", "fr": "str", "rf": "str", "b": "bytes", "br": "bytes", "rb": "bytes"}

# Hard keywords cannot be receivers (`def.`, `return.`); None/True/False can.
HARD_KEYWORDS = frozenset(keyword.kwlist) - {"None", "True", "False"}
_KEYWORD_PREFIXES = frozenset(k[:i] for k in HARD_KEYWORDS for i in range(1, len(k) + 1))
_NOT_KEYWORD = "#"  # the current word can no longer become a keyword


class LexState(NamedTuple):
    """Where the scanner stands after some text.

    mode: CODE, COMMENT, STRING (single-line), TRIPLE (triple-quoted) or OPENING
    (just read one or two quotes and cannot tell yet whether a triple opens).
    quote: the quote character of the open string, or "".
    count: quotes read in OPENING, or consecutive closing quotes in TRIPLE.
    escaped: the previous string character was an unescaped backslash.
    prev: class of the last code character (PREV_*).
    word: the identifier being read while it may still be a keyword, else "#";
        kept this short so the number of distinct states stays small.
    """

    mode: int = CODE
    quote: str = ""
    count: int = 0
    escaped: bool = False
    prev: int = PREV_OTHER
    word: str = ""

    hard_keywords = HARD_KEYWORDS  # words that are never receivers or callees

    @property
    def at_dereference(self) -> bool:
        """True when the text ends with a `.` that opens a member access in code."""
        return self.mode == CODE and self.prev == PREV_DEREF_DOT

    @property
    def in_code(self) -> bool:
        """True when the next character would be read as code (after `""` too, unless it is a third quote)."""
        return self.mode == CODE or (self.mode == OPENING and self.count == 2)

    @property
    def in_comment(self) -> bool:
        """True inside a `#` comment."""
        return self.mode == COMMENT

    @property
    def open_quote(self) -> str:
        """The quote that would close the one-line string being written, if the next character could ("" elsewhere, and in a triple-quoted one)."""
        if (self.mode == STRING and not self.escaped) or (self.mode == OPENING and self.count == 1):
            return self.quote
        return ""

    def advance(self, text: str) -> "LexState":
        """Return the state after reading `text`."""
        state = self
        for ch in text:
            state = state.step(ch)
        return state

    def step(self, ch: str) -> "LexState":
        """Return the state after reading one character."""
        mode = self.mode
        if mode == CODE:
            return _code_step(self, ch)
        if mode == COMMENT:
            return LexState() if ch == "\n" else self
        if mode == STRING:
            if self.escaped:
                return self._replace(escaped=False)
            if ch == "\\":
                return self._replace(escaped=True)
            if ch == self.quote:
                return LexState(prev=PREV_CLOSE)
            if ch == "\n":  # unterminated: Python's tokenizer gives up at the line end too
                return LexState()
            return self
        if mode == TRIPLE:
            if self.escaped:
                return self._replace(escaped=False, count=0)
            if ch == "\\":
                return self._replace(escaped=True, count=0)
            if ch == self.quote:
                if self.count == 2:
                    return LexState(prev=PREV_CLOSE)
                return self._replace(count=self.count + 1)
            return self._replace(count=0) if self.count else self
        # OPENING: one or two quotes read
        if ch == self.quote:
            if self.count == 1:
                return self._replace(count=2)
            return LexState(mode=TRIPLE, quote=self.quote)
        if self.count == 2:  # an empty string literal, closed
            return _code_step(LexState(prev=PREV_CLOSE), ch)
        return LexState(mode=STRING, quote=self.quote).step(ch)


def _next_word(word: str, ch: str) -> str:
    if word == _NOT_KEYWORD:
        return word
    longer = word + ch
    return longer if longer in _KEYWORD_PREFIXES else _NOT_KEYWORD


def _code_step(state: LexState, ch: str) -> LexState:
    if is_ident_char(ch):
        if state.prev == PREV_NUMBER:
            return state
        if state.prev == PREV_NAME:
            word = _next_word(state.word, ch)
            return state if word == state.word else state._replace(word=word)
        if state.prev == PREV_DEREF_DOT and ch.isdigit():
            return state._replace(prev=PREV_NUMBER, word="")
        if ch.isdigit():
            return state._replace(prev=PREV_NUMBER, word="")
        return state._replace(prev=PREV_NAME, word=_next_word("", ch))
    if ch == ".":
        if state.prev == PREV_NAME and state.word in HARD_KEYWORDS:
            return state._replace(prev=PREV_OTHER, word="")
        if state.prev in (PREV_NAME, PREV_CLOSE):
            return state._replace(prev=PREV_DEREF_DOT, word="")
        if state.prev == PREV_NUMBER:  # 1.5, 1e3.
            return state
        return state._replace(prev=PREV_NUMBER if state.prev == PREV_OTHER else PREV_OTHER, word="")
    if ch in ("'", '"'):
        return LexState(mode=OPENING, quote=ch, count=1)
    if ch == "#":
        return LexState(mode=COMMENT)
    if ch in _CLOSERS:
        return state._replace(prev=PREV_CLOSE, word="")
    if state.prev == PREV_OTHER and not state.word:
        return state
    return state._replace(prev=PREV_OTHER, word="")


def scan(text: str) -> LexState:
    """Scan `text` from the start of a file."""
    return LexState().advance(text)
