"""Following the calls a row has open, and the tokens that would break their rules.

When a call opens (`name(`) the callee's signature is asked for, and from
then on every character is read into one `CallTrack` per open call
(`mgd.monitors.calls`). A token is banned when reading it would break a rule
of an open call; only tokens holding `)`, `,` or `=` can, so only those are
checked, once per (open calls, scanner state), but where the innermost call
can take no further argument: there every token that writes something other
than `)` is banned; and where it takes only keyword arguments, every token
that writes no keyword left (`mgd.decoding.keyword_rules`). A token that opens a call and
goes on (`()`, `('`) is judged with the callee's signature, asked for only
when the token is likely enough to be chosen.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import numpy as np

from mgd.decoding.token_text import text_of
from mgd.monitors.base import ScanState
from mgd.decoding.keyword_rules import KeywordNameTokens
from mgd.monitors.calls import CallTrack, Signature, advance_calls, breaks, opens_call

if TYPE_CHECKING:
    from mgd.decoding.answers import Answers
    from mgd.decoding.row_state import RowState

PENDING = object()  # a call opens at the very end of the text: its signature is asked at the next step
_MAX_CACHED = 4096  # (open calls, scanner state) pairs whose ban lists are kept


def walk_calls(
    calls: tuple, lex: ScanState, line: str, text: str, signature_at: Callable[[int], object]
) -> tuple[tuple, bool]:
    """Follow `text` through the open `calls`, opening a track wherever `signature_at(i)` names the callee of `text[i]`."""
    # signature_at(i): a Signature, None (the call is not followed) or PENDING
    # (the `(` ends the text: ask later). Returns the calls still open and
    # whether one is pending.
    pending = False
    for i, ch in enumerate(text):
        if calls:
            calls, _ = advance_calls(calls, lex, ch, text[i + 1 : i + 2])
        if ch == "(" and opens_call(lex, line):
            sig = signature_at(i)
            if sig is PENDING:
                pending = True
            elif sig is not None:
                calls = calls + (CallTrack(sig),)
        lex = lex.step(ch)
        line = "" if ch == "\n" else line + ch
    return calls, pending


def unclosed_calls(text: str, lex: ScanState) -> list[int]:
    """Offsets of the `(` of calls that `text` (read from scanner state `lex`) opens and does not close."""
    stack: list[tuple[int, bool]] = []
    line = ""
    for i, ch in enumerate(text):
        if lex.in_code:
            if ch in "([{":
                stack.append((i, ch == "(" and opens_call(lex, line)))
            elif ch in ")]}" and stack:
                stack.pop()
        lex = lex.step(ch)
        line = "" if ch == "\n" else line + ch
    return [i for i, is_call in stack if is_call]


class CallRules:
    """The call-breaking tokens of a vocabulary, and the open calls after a token."""

    def __init__(self, token_bytes: list[bytes | None], answers: Answers) -> None:
        self._table = token_bytes
        self._answers = answers
        # Only `)`, `,` and `=` can break a call's rules; tokens opening a call
        # with more text (`()`, `('`) are judged with the callee's signature.
        self._risky = [t for t, d in enumerate(token_bytes) if d and any(c in d for c in b"),=")]
        self._paren_open = [t for t, d in enumerate(token_bytes) if d and len(d) > 1 and d[:1] == b"("]
        # Where a call can take no further argument, every token that writes anything but
        # white space before its first `)` would start one (those with `)`, `,`, `=` are judged above).
        # White space, line breaks included, stays free: the `)` may close the call on a line of its
        # own (`mgd pragmaticcode truth` found one banned in openai-agents).
        risky = set(self._risky)
        self._starts_argument = [
            t for t, d in enumerate(token_bytes) if d and t not in risky and d.strip() and d.strip()[:1] != b")"
        ]
        # ... but a one-line completion (`mgd complete`, an editor's inline suggestion) ends at the line break,
        # and would end with the call still open: there a line break is banned too.
        self._line_breaks = [t for t, d in enumerate(token_bytes) if d and not d.strip() and b"\n" in d]
        # Where only a keyword argument fits, every other token is judged by the name it starts with.
        self._keywords = KeywordNameTokens(token_bytes, risky)
        self.one_line = False
        # Outlives one generation: the same calls and scanner states come back.
        self._cache: dict[tuple, list[int]] = {}

    def bans(self, prompt: int, gen: np.ndarray, state: RowState, scores: np.ndarray, margin: float) -> list[int]:
        """Tokens that would break an open call's rules, or open a call and break its rules at once."""
        bans: list[int] = []
        if state.calls:
            key = (state.calls, state.lex)
            cached = self._cache.get(key)
            if cached is None:
                if len(self._cache) > _MAX_CACHED:
                    self._cache.clear()
                table = self._table
                cached = self._cache[key] = [
                    t for t in self._risky if breaks(state.calls, state.lex, table[t].decode("utf-8", "replace"))
                ]
            bans.extend(cached)
            if state.calls[-1].closed_to_arguments() and state.lex.in_code:
                bans.extend(self._starts_argument)
                if self.one_line:
                    bans.extend(self._line_breaks)
            elif state.calls[-1].keyword_only():
                bans.extend(self._keywords.bans(state.calls, state.lex).tolist())
        # A complete member name may be followed by `()` in one token (`getHeaders().`): judge it as after free text;
        # a partial name, or one that takes no `(`, is left to the member rules (and asks nothing).
        names = state.names
        if (names is None or (names.terminal and not names.no_call)) and opens_call(state.lex, state.line):
            threshold = float(scores.max()) - margin
            generated = None
            for tid in self._paren_open:
                value = float(scores[tid])
                if value == float("-inf"):
                    continue
                if value < threshold:  # unlikely: not worth a query; `(` alone stays open
                    bans.append(tid)
                    continue
                if generated is None:
                    generated = text_of(self._table, gen)
                sig = self._answers.signature_after(prompt, generated + "(")
                text = self._table[tid].decode("utf-8", "replace")
                if sig is not None and breaks(state.calls, state.lex, text, opening=sig):
                    bans.append(tid)
        return bans

    def after_text(self, prompt: int, before: np.ndarray, state: RowState, text: str) -> tuple[tuple, bool]:
        """The calls open once token `text` follows ids `before` (state `state`), and whether one is pending."""
        head = None

        def signature_at(i: int):
            nonlocal head
            if i == len(text) - 1:
                return PENDING  # asked at the next step
            # `()`, `('`: the signature was fetched when the token was judged
            head = head if head is not None else text_of(self._table, before)
            return self._answers.known_signature(prompt, head + text[: i + 1])

        return walk_calls(state.calls, state.lex, state.line, text, signature_at)
