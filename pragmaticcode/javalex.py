"""A Java lexer for the metrics: the tokens and identifiers of a piece of Java.

The counterpart of `pylex` for Java. Fragments are the normal input (the
rest of a method, cut anywhere), so an unterminated literal or comment runs
to the end of the text instead of failing. Operators are read by longest
match, so `==`, `->` and `::` are one token each.
"""

from __future__ import annotations

import re

from ..monitors.java_lexer import KEYWORDS

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<comment>//[^\n]*|/\*.*?(?:\*/|\Z))
  | (?P<text_block>\"\"\".*?(?:(?<!\\)\"\"\"|\Z))
  | (?P<string>"(?:\\.|[^"\\\n])*(?:"|$))
  | (?P<char>'(?:\\.|[^'\\\n])*(?:'|$))
  | (?P<number>0[xX][0-9a-fA-F_]*(?:\.[0-9a-fA-F_]*)?(?:[pP][+-]?\d+)?[lLfFdD]?
              |(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][+-]?\d+)?[lLfFdD]?)
  | (?P<name>[^\W\d][\w$]*|\$[\w$]*)
  | (?P<operator>>>>=|<<=|>>=|>>>|\.\.\.|->|::|\+\+|--|&&|\|\||[=!<>+\-*/&|^%]=|<<|>>|.)
    """,
    re.S | re.X | re.M,
)


def tokens(text: str) -> list[str]:
    """The lexical tokens of Java `text`, without whitespace and comments."""
    found = []
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup
        if kind not in ("space", "comment"):
            found.append(match.group())
    return found


def identifiers(text: str) -> list[str]:
    """The identifiers of Java `text` in order: no keywords, literals, strings or comments."""
    return [
        m.group() for m in _TOKEN.finditer(text) if m.lastgroup == "name" and m.group() not in KEYWORDS
    ]
