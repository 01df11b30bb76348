"""Following a call character by character: what a callee accepts, and whether the call so far keeps to it.

Shared by every language's call monitor. A `CallMonitor` asks the server for
the callee's `Signature` when a call opens; the decoder then reads each
character into one `CallTrack` per open call and learns whether a rule broke
(the rules: `mgd.monitors.python.arguments`). Only the scanner fields that
every language's scanner has are read (`mode`, `prev`, `word`, `hard_keywords`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple

from mgd.monitors.base import CODE, PREV_NAME, Document, ScanState, is_ident_char
from mgd.monitors.python.lexer import STRING_PREFIXES  # Java has none: a name before `"` is a syntax error there

# `def f(` and `class C(` open no call (Python); Java declarations never reach here with this shape.
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
    # Python passes arguments by keyword (`f(name=1)`); Java has no keyword arguments.
    keyword_arguments: bool = True
    # Each positional parameter's declared type where the callee has one signature (Java); None: unknown.
    types: tuple[str | None, ...] = ()
    # Overloaded or varargs callees (Java): each overload's parameter types (None: unknown) and whether its last is varargs.
    overloads: tuple[tuple[tuple[str | None, ...], bool], ...] = ()
    # Python: (name, declared type) of each parameter that may be passed by keyword and has a type the rules read.
    keyword_types: tuple[tuple[str, str], ...] = ()

    def keyword_type(self, name: str) -> str | None:
        """The declared type of the parameter passed as `name=...`; None if unknown."""
        return next((known for keyword, known in self.keyword_types if keyword == name), None)

    def takes(self, count: int) -> bool:
        """True if a call may close with `count` positional arguments."""
        if not self.arities and self.varargs_from is None:
            return True
        return count in self.arities or (self.varargs_from is not None and count >= self.varargs_from)


def argument_endings(overloads, position: int) -> dict[str, tuple[str | None, ...]]:
    """For the argument at `position` of a call to one of `overloads`: the types it may have if `)` follows, and if `,` does.

    An overload whose argument count cannot end (go on) there adds nothing to
    that ending; a varargs parameter adds None (unknown: an element or the
    array). An empty tuple means no overload ends (goes on) there: the count
    rules speak for that, the type rules do not.
    """
    close: list[str | None] = []
    comma: list[str | None] = []
    for types, varargs in overloads:
        count = len(types)
        if varargs and position >= count - 1:
            close.append(None)
            comma.append(None)
            continue
        if position >= count:
            continue
        if count == position + 1 or (varargs and position == count - 2):
            close.append(types[position])
        if count > position + 1:
            comma.append(types[position])
    return {")": tuple(close), ",": tuple(comma)}


class CallTrack(NamedTuple):
    """How far a call to `sig` has got: nesting, arguments given, the argument being written."""

    sig: Signature
    depth: int = 1
    given_positional: int = 0
    given_keywords: frozenset = frozenset()
    content: bool = False  # the current argument has text
    ident: str | None = None  # the current argument so far is this one name (or number literal)
    ident_done: bool = False  # ... and whitespace has followed it
    # the argument so far is one string literal (or several side by side): its opening, prefix and quote (`"`, `b'`)
    string: str | None = None
    keyword: str | None = None  # the current argument is `keyword=...`
    path: str | None = None  # the current argument so far is this name or dotted name (`self._ref`), with no space

    def filled(self) -> set[str]:
        """Parameters that have a value."""
        return set(self.sig.positional[: self.given_positional]) | set(self.given_keywords)

    def keyword_only(self) -> bool:
        """True where the argument being written may only be `name=...`: no positional parameter is left, and the callee takes no `*args` nor `**kwargs`."""
        sig = self.sig
        return (
            sig.keyword_arguments and not sig.var_positional and not sig.var_keyword and self.depth == 1
            and self.keyword is None and self.given_positional >= len(sig.positional)
        )

    def names_left(self) -> frozenset[str]:
        """The keywords that may still be given."""
        return self.sig.keyword - self.filled()

    def _stray_name(self) -> bool:
        # at a keyword-only argument, the name being written leads to no keyword left
        return self.keyword_only() and not any(name.startswith(self.ident) for name in self.names_left())

    def closed_to_arguments(self) -> bool:
        """True where no further argument could still fit the signature: only the closing `)` (or space) may come."""
        if self.depth != 1 or self.content or self.given_positional < len(self.sig.positional) or self.sig.var_positional:
            return False
        if not self.sig.keyword_arguments:
            return True
        return not self.sig.var_keyword and self.sig.keyword <= self.filled()

    def step(self, lex: ScanState, ch: str, following: str = "") -> tuple["CallTrack | None", bool]:
        """Read one character (`lex`: the scanner before it; `following`: the next character if known).

        Returns the new track (None once the call closes) and whether a rule broke.
        """
        track, bad = self._step(lex, ch, following)
        if track is None or (track is self and not ch.isspace()):  # closed, or a comment's text
            return track, bad
        path = _grown_path(self.path, self.content, ch) if track.depth == 1 else None
        return (track if path == track.path else track._replace(path=path)), bad

    def _step(self, lex: ScanState, ch: str, following: str) -> tuple["CallTrack | None", bool]:
        if getattr(lex, "in_comment", False) or getattr(lex.step(ch), "in_comment", False):
            # a comment is no argument text: `f(a=1,  # why\n b=2)` has its keyword `b` all the same
            return self, False
        if not lex.in_code:  # (`f("")`: after an empty string the `)` is code)
            return self._replace(content=True, ident=None), False
        if self.depth > 1:
            depth = self.depth + (ch in "([{") - (ch in ")]}")
            return self._replace(depth=depth, content=True, ident=None), False
        if ch.isspace():
            if self.ident is None:
                return self, False
            # after a name that is no keyword left, only `=` or a positional end could follow: both break
            return self._replace(ident_done=True), self.keyword_only() and self.ident not in self.names_left()
        if ch != ")" and self.closed_to_arguments():
            # an argument started here could never close within the signature (`f()` with no
            # parameters, a second value for `f(x)`): the model would write on to the token cap
            return self._replace(content=True, ident=None), True
        # Where only a keyword argument fits, anything but a keyword's name (or `*`, `**`) starts a positional
        # one, which could only end in a broken rule: the model would write a made-up name on to the token cap.
        if is_ident_char(ch):
            if not self.content:
                # a number is kept too (`32`): the types rules judge a literal argument as they judge a name
                track = self._replace(content=True, ident=ch, ident_done=False)
                return track, track._stray_name()
            if self.ident is not None and not self.ident_done:
                track = self._replace(ident=self.ident + ch)
                return track, track._stray_name()
            return self._replace(ident=None, string=None), self.keyword_only()
        if ch == "=" and self.ident is not None and not self.ident[0].isdigit() and self.keyword is None and following != "=":
            name = self.ident
            bad = (name not in self.sig.keyword and not self.sig.var_keyword) or name in self.filled()
            # the value is read as an argument of its own: its name, dotted name or literal are followed
            return self._replace(keyword=name, ident=None, content=False), bad
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
            return self._replace(depth=self.depth + 1, content=True, ident=None, string=None), self.keyword_only()
        if ch in "'\"":
            return self._replace(content=True, ident=None, string=self._string_opened(ch)), self.keyword_only()
        return self._replace(content=True, ident=None, string=None), self.keyword_only()

    def _string_opened(self, quote: str) -> str | None:
        """The argument's string opening once `quote` is read in code: the argument stays one string literal, or None."""
        if not self.content:
            return quote
        if self.ident is not None and not self.ident_done and self.ident.lower() in STRING_PREFIXES:
            return self.ident + quote  # `b"`, `rf'`
        return self.string  # `"a" "b"` is one literal; the third quote of `"""` is read here too

    def _end_argument(self) -> tuple["CallTrack", bool]:
        fresh = dict(content=False, ident=None, ident_done=False, keyword=None, string=None)
        if self.keyword is not None:
            return self._replace(given_keywords=self.given_keywords | {self.keyword}, **fresh), False
        if not self.content:
            return self._replace(**fresh), False
        index = self.given_positional
        if index >= len(self.sig.positional):
            return self._replace(given_positional=index + 1, **fresh), not self.sig.var_positional
        bad = self.sig.positional[index] in self.given_keywords
        return self._replace(given_positional=index + 1, **fresh), bad


def _grown_path(path: str | None, content: bool, ch: str) -> str | None:
    """The argument's dotted name after `ch` (None once it is anything else: a call, an operator, a space, a number)."""
    if is_ident_char(ch):
        if not content:
            return ch
        return path + ch if path and (path[-1] == "." or is_ident_char(path[-1])) else None
    if ch == "." and path and is_ident_char(path[-1]) and not path[0].isdigit():
        return path + "."
    return None


def opens_call(lex: ScanState, line: str) -> bool:
    """True if a `(` read now (scanner `lex`, current line `line`) opens a call."""
    return (
        lex.mode == CODE
        and lex.prev == PREV_NAME
        and lex.word not in lex.hard_keywords
        and _HEADER.match(line) is None
    )


def advance_calls(calls: tuple, lex: ScanState, ch: str, following: str = "") -> tuple[tuple, bool]:
    """Read one character into every open call: the calls still open, and whether any rule broke."""
    kept, broke = [], False
    for track in calls:
        new, bad = track.step(lex, ch, following)
        broke = broke or bad
        if new is not None:
            kept.append(new)
    return tuple(kept), broke


def breaks(calls: tuple, lex: ScanState, text: str, opening: Signature | None = None) -> bool:
    """True if reading `text` breaks a rule of an open call (or of the call its first `(` opens, to `opening`)."""
    for i, ch in enumerate(text):
        calls, bad = advance_calls(calls, lex, ch, text[i + 1 : i + 2])
        if bad:
            return True
        if i == 0 and opening is not None:
            calls = calls + (CallTrack(opening),)
        lex = lex.step(ch)
    return False


class CallMonitor:
    """Asks for the callee's signature when a call opens; a language's call monitor says how."""

    name = "args"

    def signature(self, session, document: Document, generated: str) -> Signature | None:
        """The callee's Signature right after `prefix + generated` (which ends with `(`), or None for no constraint."""
        raise NotImplementedError

    warms_up = False

    def warm_up(self, session, document: Document, send=None) -> None:
        """Nothing to ask ahead: a signature depends on the call it is asked at."""
