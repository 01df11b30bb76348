"""Python's lexical tokens, read tolerantly from fragments.

The metrics compare the rest of a function as the model wrote it with the
original. Both start in the middle of a statement (right after a `.`) and the
generated one may stop anywhere, so `tokenize`, which wants a whole program
with consistent indentation, raises on many of them. This lexer yields the
same names, numbers, strings and operators that `tokenize` would for complete
code (layout tokens and comments dropped) and never raises.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass

_STRING_PREFIX = r"(?:[rRbBuUfF]{1,2})?"
_PATTERN = re.compile(
    "|".join(
        [
            r"(?P<skip>[ \t\f\r\n]+|\\\r?\n|#[^\r\n]*)",
            # Triple-quoted first; an unterminated string runs to the end of the text or line.
            rf"(?P<string>{_STRING_PREFIX}(?:'''(?:[^\\]|\\.)*?(?:'''|\Z)|\"\"\"(?:[^\\]|\\.)*?(?:\"\"\"|\Z)"
            rf"|'(?:[^'\\\r\n]|\\.)*(?:'|(?=[\r\n])|\Z)|\"(?:[^\"\\\r\n]|\\.)*(?:\"|(?=[\r\n])|\Z)))",
            r"(?P<number>0[xX](?:_?[0-9a-fA-F])+|0[oO](?:_?[0-7])+|0[bB](?:_?[01])+"
            r"|(?:\d(?:_?\d)*(?:\.(?:\d(?:_?\d)*)?)?|\.\d(?:_?\d)*)(?:[eE][+-]?\d(?:_?\d)*)?[jJ]?)",
            r"(?P<name>[^\W\d]\w*)",
            r"(?P<op>\*\*=|//=|>>=|<<=|\.\.\.|->|:=|\*\*|//|<<|>>|<=|>=|==|!=|[-+*/%@&|^]=|[-+*/%@&|^~<>=.,:;()\[\]{}!])",
            r"(?P<error>.)",
        ]
    ),
    re.DOTALL,
)


@dataclass(frozen=True)
class Token:
    """One lexical token: its kind (name, number, string, op, error) and text."""

    kind: str
    text: str


def tokens(text: str) -> list[Token]:
    """The lexical tokens of a Python fragment, without layout or comments."""
    out = []
    for match in _PATTERN.finditer(text):
        kind = match.lastgroup
        if kind != "skip":
            out.append(Token(kind, match.group()))
    return out


def identifiers(text: str) -> list[str]:
    """The identifiers of a fragment in order: names that are not hard keywords."""
    return [t.text for t in tokens(text) if t.kind == "name" and not keyword.iskeyword(t.text)]
