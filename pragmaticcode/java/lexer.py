"""A Java lexer for the metrics: the tokens and identifiers of a piece of Java.

The counterpart of `mgd.pragmaticcode.python.lexer` for Java. Fragments are the normal input (the
rest of a method, cut anywhere), so an unterminated literal or comment runs
to the end of the text instead of failing. Operators are read by longest
match, so `==`, `->` and `::` are one token each.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from mgd.monitors.java.lexer import KEYWORDS

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<comment>//[^\n]*|/\*.*?(?:\*/|\Z))
  | (?P<text_block>\"\"\".*?(?:(?<!\\)\"\"\"|\Z))
  | (?P<string>"(?:\\.|[^"\\\n])*(?:"|$))
  | (?P<char>'(?:\\.|[^'\\\n])*(?:'|$))
  | (?P<number>0[xX][0-9a-fA-F_]*(?:\.[0-9a-fA-F_]*)?(?:[pP][+-]?\d+)?[lLfFdD]?
              |0[bB][01_]+[lL]?
              |(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][+-]?\d+)?[lLfFdD]?)
  | (?P<name>[^\W\d][\w$]*|\$[\w$]*)
  | (?P<operator>>>>=|<<=|>>=|>>>|\.\.\.|->|::|\+\+|--|&&|\|\||[=!<>+\-*/&|^%]=|<<|>>|.)
    """,
    re.S | re.X | re.M,
)


_SKIPPED = ("space", "comment")


class Token(NamedTuple):
    """One token: its kind (`name`, `number`, `string`, `text_block`, `char` or `operator`) and span."""

    kind: str
    start: int
    end: int


def spans(text: str, start: int = 0, end: int | None = None) -> list[Token]:
    """The tokens of `text[start:end]` with their offsets in `text`, whitespace and comments left out."""
    matches = _TOKEN.finditer(text, start, len(text) if end is None else end)
    return [Token(m.lastgroup, m.start(), m.end()) for m in matches if m.lastgroup not in _SKIPPED]


def tokens(text: str) -> list[str]:
    """The lexical tokens of Java `text`, without whitespace and comments."""
    return [m.group() for m in _TOKEN.finditer(text) if m.lastgroup not in _SKIPPED]


def identifiers(text: str) -> list[str]:
    """The identifiers of Java `text` in order: no keywords, literals, strings or comments."""
    return [m.group() for m in _TOKEN.finditer(text) if m.lastgroup == "name" and m.group() not in KEYWORDS]
