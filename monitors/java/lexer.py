"""An incremental scanner that tells whether a point in Java text is code.

The Java twin of `mgd.monitors.python.lexer`: the same small immutable state, advanced a
character at a time, with the same fields and properties the monitors and
the decoder read (`mode`, `prev`, `word`, `at_dereference`, `in_code`).
Java's lexical rules: `//` and `/* */` comments, string literals and text
blocks (`\"\"\"`), character literals (`'.'`), and numbers that may hold a
dot (`1.5`, `.5e3`, `0x1.8p3`). Whitespace and comments between a receiver
and its dot do not matter (`builder\\n    .append(x)` is a member access).
"""

from __future__ import annotations

from typing import NamedTuple

from mgd.monitors.base import PREV_CLOSE, PREV_DEREF_DOT, PREV_NAME, PREV_NUMBER, PREV_OTHER

# Modes; CODE is base.CODE (0) in every scanner, so code reading only `mode == CODE` works for any.
CODE, LINE_COMMENT, STRING, TEXT_BLOCK, BLOCK_COMMENT, SLASH, OPENING, CHAR = range(8)


KEYWORDS = frozenset(
    """abstract assert boolean break byte case catch char class const continue default do double
    else enum extends final finally float for goto if implements import instanceof int interface
    long native new package private protected public return short static strictfp super switch
    synchronized this throw throws transient try void volatile while true false null""".split()
)
# `this.x`, `super.x` and `Foo.class.getName()` are member accesses; no other keyword is a receiver.
RECEIVER_KEYWORDS = frozenset({"this", "super", "class"})
HARD_KEYWORDS = KEYWORDS - RECEIVER_KEYWORDS
_KEYWORD_PREFIXES = frozenset(k[:i] for k in KEYWORDS for i in range(1, len(k) + 1))
_NOT_KEYWORD = "#"  # the current word can no longer become a keyword
_CLOSERS = frozenset(")]")


def is_ident_char(ch: str) -> bool:
    """True for characters that may continue a Java identifier."""
    return ch == "_" or ch == "$" or ch.isalnum()


class JavaLexState(NamedTuple):
    """Where the scanner stands after some text.

    mode: CODE, LINE_COMMENT, BLOCK_COMMENT, STRING, TEXT_BLOCK, CHAR, SLASH
    (read a `/` that may open a comment) or OPENING (read `"` or `""` and
    cannot tell yet whether a text block opens).
    count: quotes read in OPENING, closing quotes in a row in TEXT_BLOCK, or
    1 after a `*` in BLOCK_COMMENT.
    escaped: the previous literal character was an unescaped backslash.
    prev: class of the last code character (PREV_*); kept through comments.
    gap: whitespace or a comment came after that character (`a b` is two names).
    word: the identifier being read while it may still be a keyword, else "#".
    """

    mode: int = CODE
    count: int = 0
    escaped: bool = False
    prev: int = PREV_OTHER
    gap: bool = False
    word: str = ""

    hard_keywords = HARD_KEYWORDS  # words that are never receivers or callees

    @property
    def at_dereference(self) -> bool:
        """True when the text ends with a `.` that opens a member access in code."""
        return self.mode == CODE and self.prev == PREV_DEREF_DOT

    @property
    def in_code(self) -> bool:
        """True when the next character would be read as code."""
        return self.mode in (CODE, SLASH) or (self.mode == OPENING and self.count == 2)

    @property
    def in_comment(self) -> bool:
        """True inside a `//` or `/* */` comment."""
        return self.mode in (LINE_COMMENT, BLOCK_COMMENT)

    @property
    def open_quote(self) -> str:
        """`"` where the next character could close the string being written ("" elsewhere: code, a character literal, a text block)."""
        if (self.mode == STRING and not self.escaped) or (self.mode == OPENING and self.count == 1):
            return '"'
        return ""

    def advance(self, text: str) -> "JavaLexState":
        """Return the state after reading `text`."""
        state = self
        for ch in text:
            state = state.step(ch)
        return state

    def step(self, ch: str) -> "JavaLexState":
        """Return the state after reading one character."""
        mode = self.mode
        if mode == CODE:
            return _code_step(self, ch)
        if mode == LINE_COMMENT:
            return JavaLexState(prev=self.prev, gap=True) if ch == "\n" else self
        if mode == BLOCK_COMMENT:
            if ch == "/" and self.count:
                return JavaLexState(prev=self.prev, gap=True)
            star = int(ch == "*")
            return self if star == self.count else self._replace(count=star)
        if mode == SLASH:
            if ch == "/":
                return JavaLexState(mode=LINE_COMMENT, prev=self.prev)
            if ch == "*":
                return JavaLexState(mode=BLOCK_COMMENT, prev=self.prev)
            return _code_step(JavaLexState(), ch)  # a division
        if mode in (STRING, CHAR):
            if self.escaped:
                return self._replace(escaped=False)
            if ch == "\\":
                return self._replace(escaped=True)
            if ch == ('"' if mode == STRING else "'"):
                return JavaLexState(prev=PREV_CLOSE if mode == STRING else PREV_OTHER)
            if ch == "\n":  # unterminated: javac gives up at the line end too
                return JavaLexState()
            return self
        if mode == TEXT_BLOCK:
            if self.escaped:
                return self._replace(escaped=False, count=0)
            if ch == "\\":
                return self._replace(escaped=True, count=0)
            if ch == '"':
                return JavaLexState(prev=PREV_CLOSE) if self.count == 2 else self._replace(count=self.count + 1)
            return self._replace(count=0) if self.count else self
        # OPENING: one or two double quotes read
        if ch == '"':
            if self.count == 1:
                return self._replace(count=2)
            return JavaLexState(mode=TEXT_BLOCK)
        if self.count == 2:  # an empty string literal, closed
            return _code_step(JavaLexState(prev=PREV_CLOSE), ch)
        return JavaLexState(mode=STRING).step(ch)


def _next_word(word: str, ch: str) -> str:
    if word == _NOT_KEYWORD:
        return word
    grown = word + ch
    return grown if grown in _KEYWORD_PREFIXES else _NOT_KEYWORD


def _code_step(state: JavaLexState, ch: str) -> JavaLexState:
    if ch in " \t\r\n\f":
        return state if state.gap else state._replace(gap=True)
    if state.gap:
        state = state._replace(gap=False)
        joined = False
    else:
        joined = True
    if is_ident_char(ch):
        if state.prev == PREV_NAME and joined:
            word = _next_word(state.word, ch)
            return state if word == state.word else state._replace(word=word)
        if state.prev == PREV_NUMBER and joined:
            return state  # digits, hex digits, exponents and suffixes of a number
        if ch.isdigit():
            return state._replace(prev=PREV_NUMBER, word="")
        return state._replace(prev=PREV_NAME, word=_next_word("", ch))
    if ch == ".":
        if state.prev == PREV_NAME and state.word in HARD_KEYWORDS:
            return state._replace(prev=PREV_OTHER, word="")
        if state.prev in (PREV_NAME, PREV_CLOSE):
            return state._replace(prev=PREV_DEREF_DOT, word="")
        if state.prev == PREV_NUMBER:  # 1.5, 1.e3
            return state
        if state.prev == PREV_DEREF_DOT:  # `String...` varargs: no member access
            return state._replace(prev=PREV_OTHER, word="")
        return state._replace(prev=PREV_NUMBER, word="")  # `.5`
    if ch in "+-" and state.prev == PREV_NUMBER and joined:
        return state  # an exponent's sign (`1e-5`); as an operator it is harmless here
    if ch == '"':
        return JavaLexState(mode=OPENING, count=1)
    if ch == "'":
        return JavaLexState(mode=CHAR)
    if ch == "/":
        return JavaLexState(mode=SLASH, prev=state.prev)
    if ch in _CLOSERS:
        return state._replace(prev=PREV_CLOSE, word="")
    if state.prev == PREV_OTHER and not state.word:
        return state
    return state._replace(prev=PREV_OTHER, word="")


def scan(text: str) -> JavaLexState:
    """Scan `text` from the start of a file."""
    return JavaLexState().advance(text)

