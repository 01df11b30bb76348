"""The call-arguments monitor: keep a call to a known function well-formed.

Trigger: `(` right after a name in code (a call; not `def f(`, `class C(`,
nor a keyword such as `if (`). Query: `textDocument/signatureHelp` just
after the `(`. It gives up (no constraint) unless the server returns exactly
one signature: overloads and unknown callees are left free, and so is a call
once it unpacks `*args` or `**kwargs` into its arguments.
Allowed, while the call is open: everything except text that
- closes the call before every required parameter has a value,
- ends a positional argument past the last positional parameter (unless the
  callee takes `*args`),
- writes `name=` for a name the callee does not accept by keyword (unless it
  takes `**kwargs`), or for a parameter that already has a value.
The call is followed character by character (nested brackets, strings and
comments included), so a token that merges several of these (`()`, `'),`)
is judged as a whole.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple

from .base import Document
from .python_lexer import CODE, HARD_KEYWORDS, PREV_NAME, LexState, is_ident_char

_HEADER = re.compile(r"^\s*(?:async\s+)?(?:def|class)\s+\w+\s*$")


@dataclass(frozen=True)
class Signature:
    """What a callee accepts."""

    positional: tuple[str, ...]  # may be passed by position, in order
    keyword: frozenset[str]  # may be passed by keyword
    required: frozenset[str]  # have no default
    var_positional: bool = False
    var_keyword: bool = False
    # Overloaded callees (Java): the argument counts a closed call may have, and
    # the least count of a varargs overload; empty/None: only `required` counts.
    arities: frozenset[int] = frozenset()
    varargs_from: int | None = None
    # Python accepts `f(a, b,)`; Java does not: there a comma after the last parameter breaks the call.
    trailing_comma: bool = True

    def takes(self, count: int) -> bool:
        """True if a call may close with `count` positional arguments."""
        if not self.arities and self.varargs_from is None:
            return True
        return count in self.arities or (self.varargs_from is not None and count >= self.varargs_from)


def _split_top_level(text: str) -> list[str]:
    parts, depth, quote, start = [], 0, "", 0
    for i, ch in enumerate(text):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


def parse_signature(label: str) -> Signature | None:
    """A Signature from a signature label such as `def f(a, /, b=1, *c, d, **e) -> None`."""
    open_at = label.find("(")
    if open_at < 0:
        return None
    depth, close_at = 0, -1
    for i in range(open_at, len(label)):
        if label[i] in "([{":
            depth += 1
        elif label[i] in ")]}":
            depth -= 1
            if depth == 0:
                close_at = i
                break
    if close_at < 0:
        return None
    positional: list[str] = []
    keyword: set[str] = set()
    required: set[str] = set()
    var_positional = var_keyword = keyword_only = False
    for part in _split_top_level(label[open_at + 1 : close_at]):
        if part == "/":
            keyword.difference_update(positional)
            continue
        if part == "*":
            keyword_only = True
            continue
        if part.startswith("**"):
            var_keyword = True
            continue
        if part.startswith("*"):
            var_positional = keyword_only = True
            continue
        match = re.match(r"[A-Za-z_]\w*", part)
        if match is None:
            return None
        name = match.group(0)
        keyword.add(name)
        if not keyword_only:
            positional.append(name)
        if re.search(r"(?<![=!<>])=(?!=)", part) is None:
            required.add(name)
    return Signature(tuple(positional), frozenset(keyword), frozenset(required), var_positional, var_keyword)


class CallTrack(NamedTuple):
    """How far a call to `sig` has got: nesting, arguments given, the argument being written."""

    sig: Signature
    depth: int = 1
    given_positional: int = 0
    given_keywords: frozenset = frozenset()
    content: bool = False  # the current argument has text
    ident: str | None = None  # the current argument so far is this one name
    ident_done: bool = False  # ... and whitespace has followed it
    keyword: str | None = None  # the current argument is `keyword=...`

    def filled(self) -> set[str]:
        """Parameters that have a value."""
        return set(self.sig.positional[: self.given_positional]) | set(self.given_keywords)

    def step(self, lex: LexState, ch: str, following: str = "") -> tuple["CallTrack | None", bool]:
        """Read one character (`lex`: the scanner before it; `following`: the next character if known).

        Returns the new track (None once the call closes) and whether a rule broke.
        """
        if lex.mode != CODE:
            return self._replace(content=True, ident=None), False
        if self.depth > 1:
            depth = self.depth + (ch in "([{") - (ch in ")]}")
            return self._replace(depth=depth, content=True, ident=None), False
        if ch.isspace():
            return (self._replace(ident_done=True) if self.ident is not None else self), False
        if is_ident_char(ch):
            if not self.content:
                return self._replace(content=True, ident=None if ch.isdigit() else ch, ident_done=False), False
            if self.ident is not None and not self.ident_done:
                return self._replace(ident=self.ident + ch), False
            return self._replace(ident=None), False
        if ch == "=" and self.ident is not None and self.keyword is None and following != "=":
            name = self.ident
            bad = (name not in self.sig.keyword and not self.sig.var_keyword) or name in self.filled()
            return self._replace(keyword=name, ident=None), bad
        if ch == "*" and not self.content:
            return None, False  # `*args` / `**kwargs` unpacked: counts unknown, stop judging
        if ch in ",)":
            track, bad = self._end_argument()
            if ch == ",":
                full = track.given_positional >= len(self.sig.positional) and not self.sig.var_positional
                return track, bad or (full and not self.sig.trailing_comma)
            missing = self.sig.required - track.filled()
            return None, bad or bool(missing) or not self.sig.takes(track.given_positional)
        if ch in "([{":
            return self._replace(depth=self.depth + 1, content=True, ident=None), False
        return self._replace(content=True, ident=None), False

    def _end_argument(self) -> tuple["CallTrack", bool]:
        fresh = dict(content=False, ident=None, ident_done=False, keyword=None)
        if self.keyword is not None:
            return self._replace(given_keywords=self.given_keywords | {self.keyword}, **fresh), False
        if not self.content:
            return self._replace(**fresh), False
        index = self.given_positional
        if index >= len(self.sig.positional):
            return self._replace(given_positional=index + 1, **fresh), not self.sig.var_positional
        bad = self.sig.positional[index] in self.given_keywords
        return self._replace(given_positional=index + 1, **fresh), bad


def opens_call(lex: LexState, line: str) -> bool:
    """True if a `(` read now (scanner `lex`, current line `line`) opens a call."""
    return (
        lex.mode == CODE
        and lex.prev == PREV_NAME
        and lex.word not in getattr(lex, "hard_keywords", HARD_KEYWORDS)
        and _HEADER.match(line) is None
    )


def advance_calls(calls: tuple, lex: LexState, ch: str, following: str = "") -> tuple[tuple, bool]:
    """Read one character into every open call: the calls still open, and whether any rule broke."""
    kept, broke = [], False
    for track in calls:
        new, bad = track.step(lex, ch, following)
        broke = broke or bad
        if new is not None:
            kept.append(new)
    return tuple(kept), broke


class ArgumentMonitor:
    """Asks for the callee's signature when a call opens (see the module docstring)."""

    name = "args"

    def signature(self, session, document: Document, generated: str) -> Signature | None:
        """The one signature the server gives right after `prefix + generated` (ending with `(`), else None."""
        text = document.prefix + generated
        answer = session.signature_help(document.path, text + document.suffix, len(text))
        signatures = (answer or {}).get("signatures") or []
        if len(signatures) != 1:
            return None
        return parse_signature(signatures[0].get("label", ""))
