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

**Through sums** (`SUMS`): a member whose every arithmetic result is still
unfit (`mgd.monitors.java.types`: a `long` where an `int` goes, any number
where a `boolean` goes) starts the rule at `SUMS` instead of 0. There an
arithmetic, bitwise or shift operator (`+ - * / % & | ^ << >> >>>`) keeps
the rule waiting through the next operand (names, numbers, `.`, brackets),
since binary numeric promotion never narrows: `this.remaining - 1;` is
still a `long`; and a `String` member's (Java), since a sum with a string
is a string: `getName() + ".class"` is no `Class`. A string literal is an
operand like a name (a sum with it is a `String`, which fits nowhere the
sum's start did not). A comparison (`<`, `>`, `<=`, `>=`, `==`, `!=`), `?`, `&&`,
`||`, an assignment (`=`, `-=`, ...), a character literal or a comment ends the rule
(the value may be a boolean now, or the rule cannot see), and so do a `.`
or a word right after the member (a chain step, `instanceof`).

**One ending only** (`CLOSE`, `COMMA`): at an argument of an overloaded
call, a member's type may fit the overloads that take more arguments and
not those that end here, or the other way round (`request.setHeader(
HTTP.TARGET_HOST` where `setHeader(Header)` and `setHeader(String,
String)` exist: a `String` may be followed by `,`, never by `)`). From
these states only that character is banned at the member's own depth; the
other ending ends the rule, and so does anything that goes on.

Tokens are judged by simulating their text from the waiting state; the
lists of banned ids per state are built once per vocabulary and language.
"""

from __future__ import annotations

import numpy as np

BAD = -1  # the token ends the expression while the rule waits: banned
MAX_DEPTH = 6  # deeper calls inside the member's call are left free
_ENDS = frozenset(";,)]}:")
_OPEN, _CLOSE = frozenset("([{"), frozenset(")]}")
_GIVE_UP = frozenset("\"'`/#\\")  # a string, comment or continuation may hide brackets

# States of the rule through sums (above the bracket depths 0..MAX_DEPTH).
SUMS = 100  # right after the member (or its call): an arithmetic operator keeps the value unfit
_OPERAND = 101  # in an operand after such an operator
_OP = 102  # after `+ - * % ^ ~` (or `<<`): `=` would make it an assignment
_SLASH = 103  # after `/`: a comment, `/=` or a division
_GT, _GT2, _GT3 = 104, 105, 106  # after `>`, `>>`, `>>>`: a comparison, a shift or an assignment
_LT = 107  # after `<`: a comparison or `<<`
_AMP, _PIPE = 108, 109  # after `&` / `|`: a bitwise operator, or `&&` `||` `&=` `|=`
_IN_CALL = 110  # + depth: inside the member's own call; back at SUMS when it closes
_IN_GROUP = 120  # + depth: inside an operand's brackets; back at _OPERAND when they close
_IN_STRING, _STRING_ESCAPE = 130, 131  # inside a string literal operand (`+ ".class"`), after its `\\`
_TOP = frozenset({0, SUMS, _OPERAND, _OP, _SLASH, _GT, _GT2, _GT3, _LT, _AMP, _PIPE})  # the generation may not end here
# States of the one-ending rules: the base plus the bracket depth inside the member's own call (0..MAX_DEPTH).
CLOSE = 200  # only `)` may not follow: no overload that ends here takes the value
COMMA = 300  # only `,` may not follow: no overload that goes on takes it
_ONE_ENDING = {CLOSE: ")", COMMA: ","}
_OPERATOR_STATE = {"+": _OP, "-": _OP, "*": _OP, "%": _OP, "^": _OP, "~": _OP,
                   "/": _SLASH, ">": _GT, "<": _LT, "&": _AMP, "|": _PIPE}  # fmt: skip


def advance(depth: int, text: str, newline_ends: bool) -> int | None:
    """The waiting state after `text` is written at state `depth`: BAD if it ends the expression, None once the rule is over."""
    if depth >= CLOSE:
        base = COMMA if depth >= COMMA else CLOSE
        # inside a call: a line break ends nothing
        found = _walk(depth - base, text, frozenset(_ONE_ENDING[base]), " \t\r\n")
        return found if found is None or found == BAD else base + found
    if depth >= SUMS:
        return _advance_sums(depth, text, newline_ends)
    return _walk(depth, text, _ENDS | {"\n"}, " \t\r" if newline_ends else " \t\r\n")


def _walk(depth: int, text: str, ends: frozenset[str], spaces: str) -> int | None:
    """The bracket depth after `text` from `depth`: BAD at one of `ends` at depth 0, None once something else goes on there."""
    for ch in text:
        if depth == 0:
            if ch in spaces:
                continue
            if ch in ends:
                return BAD
            if ch == "(":
                depth = 1
                continue
            return None  # `.`, `[`, an operator, a word (or the other ending): the member is a receiver or an operand now
        if ch in _GIVE_UP:
            return None
        if ch in _OPEN:
            depth += 1
            if depth > MAX_DEPTH:
                return None
        elif ch in _CLOSE:
            depth -= 1
    return depth


def _advance_sums(state: int, text: str, newline_ends: bool) -> int | None:
    """`advance` from a state of the rule through sums."""
    for ch in text:
        state = _sums_step(state, ch, newline_ends)
        if state is None or state == BAD:
            return state
    return state


def _sums_step(state: int, ch: str, newline_ends: bool) -> int | None:
    """The state after one character `ch` at `state` (a state through sums)."""
    if state in (_IN_STRING, _STRING_ESCAPE):
        if ch == "\n":
            return None
        if state == _STRING_ESCAPE:
            return _IN_STRING
        return _STRING_ESCAPE if ch == "\\" else _OPERAND if ch == '"' else _IN_STRING
    if state >= _IN_CALL:
        base, back = (_IN_GROUP, _OPERAND) if state >= _IN_GROUP else (_IN_CALL, SUMS)
        depth = state - base
        if ch in _GIVE_UP:
            return None
        if ch in _OPEN:
            return None if depth + 1 > MAX_DEPTH else state + 1
        if ch in _CLOSE:
            return back if depth == 1 else state - 1
        return state
    if state in (_OP, _SLASH, _GT2, _GT3, _AMP, _PIPE, _GT, _LT):
        if ch == "=" or (state == _SLASH and ch in "/*") or (state == _AMP and ch == "&") or (state == _PIPE and ch == "|"):
            return None  # an assignment, a comment, `&&`, `||`
        if state == _GT:
            return _GT2 if ch == ">" else None  # `>` alone is a comparison
        if state == _LT:
            return _OP if ch == "<" else None
        if state == _GT2 and ch == ">":
            return _GT3
        state = _OPERAND  # the operator is complete: `ch` starts (or spaces before) the next operand
    if ch in " \t\r" or (ch == "\n" and not newline_ends):
        return state
    if ch in _ENDS or ch == "\n":
        return BAD
    if ch in _OPERATOR_STATE:
        return _OPERATOR_STATE[ch]
    if state == SUMS:
        return _IN_CALL + 1 if ch == "(" else None  # `.` or a word: a chain step or `instanceof`
    if ch in "([":
        return _IN_GROUP + 1
    if ch == '"':
        return _IN_STRING  # a string makes a sum a `String`, which fits where its start did not
    if ch.isalnum() or ch in "_$.":
        return _OPERAND
    return None  # `=`, `!`, `?`, a string, `{`: the rule cannot follow


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
            if depth in _TOP:
                found += self._end_ids  # the generation may not end with the value still unfit
            self._bad[depth] = found
        return found

    def rest_ends(self, start: int = 0) -> np.ndarray:
        """Bool (vocab,): True where a token's text after its leading identifier would end the expression from state `start` (0, SUMS, CLOSE, COMMA)."""
        cache = self.__dict__.setdefault("_rest", {})
        if start not in cache:
            from mgd.decoding.token_index import ident_prefix_len

            rest = np.zeros(len(self._texts), dtype=bool)
            for t, text in enumerate(self._texts):
                data = text.encode("utf-8")
                k = ident_prefix_len(data)
                if 0 < k < len(data):
                    rest[t] = advance(start, data[k:].decode("utf-8", errors="replace"), self.newline_ends) == BAD
            cache[start] = rest
        return cache[start]


_SHARED: dict[tuple[int, bool], ChainRules] = {}


def chain_rules_for(token_bytes: list[bytes | None], end_ids: list[int], newline_ends: bool) -> ChainRules:
    """The (cached) rules for a vocabulary's token table and a language: their ban lists are built once, not per guide."""
    key = (id(token_bytes), newline_ends)
    found = _SHARED.get(key)
    if found is None or found._end_ids != list(end_ids):
        found = _SHARED[key] = ChainRules(token_bytes, end_ids, newline_ends)
    return found
