"""One row's guidance state, and how reading one more token changes it.

A row's state is what its text so far means for guidance: where the
language's scanner stands, the current line (monitors look at it), the name
being written (a node of the allowed names' trie; None in free text),
whether the trigger at the end has been answered, the calls still open,
a complete name followed only by spaces whose rules still govern a `(`, and
how deep in its call a `no_end` member waits for its expression to go on
(`mgd.decoding.chain_rules`).
States are immutable: a row's state is derived from its parent sequence's
by reading one token, so beam search may reorder rows freely.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from mgd.decoding.token_index import NameTrie, ident_prefix_len, space_then_name
from mgd.monitors.base import ScanState

if TYPE_CHECKING:
    from mgd.decoding.call_rules import CallRules
    from mgd.decoding.chain_rules import ChainRules
    from mgd.decoding.merges import MergeRules

LINE_KEEP = 256  # characters of the current line that monitors may look at


@dataclass(frozen=True)
class RowState:
    lex: ScanState
    line: str = ""  # the current line so far (its last LINE_KEEP characters)
    names: NameTrie | None = None  # where the name being written stands; None: free text
    asked: bool = False  # the trigger at the end of this text has been answered
    calls: tuple = ()  # open calls with a known signature, outermost first (CallTrack)
    call_pending: bool = False  # the text ends with a call's `(`: ask for its signature
    # the text ends with a complete name whose trie node restricts a `(` after it, then only spaces or tabs
    after_name: NameTrie | None = None
    # a `no_end` member was written: the bracket depth at which the expression may not end yet (None: no rule)
    chain: int | None = None


def _only_spaces(data: bytes) -> bool:
    """True for a token of nothing but spaces and tabs."""
    return bool(data) and not data.strip(b" \t")


def next_line(line: str, text: str) -> str:
    """The current line once `text` follows a text whose current line is `line` (its last LINE_KEEP characters)."""
    if "\n" in text:
        return text.rsplit("\n", 1)[1][-LINE_KEEP:]
    return (line + text)[-LINE_KEEP:]


def start_state(lex: ScanState, prefix: str) -> RowState:
    """The state of a row whose text is `prefix`, which the scanner read into `lex`."""
    return RowState(lex=lex, line=next_line("", prefix))


class TokenReader:
    """Reads a row's next token into its state: the name being written, dot-merged tokens, open calls."""

    def __init__(
        self, token_bytes: list[bytes | None], merges: MergeRules, calls: CallRules | None, chains: ChainRules | None = None
    ) -> None:
        self._table = token_bytes
        self._merges = merges
        self._calls = calls  # None: no call monitor, calls are not followed
        self._chains = chains  # None: the expression-end rule is off

    def replay(self, prompt: int, gen: np.ndarray, state: RowState) -> RowState:
        """The state after every token of `gen`, read from `state` (a row with no known parent)."""
        for i in range(len(gen)):
            state = self.read(prompt, gen[:i], state, int(gen[i]))
        return state

    def read(self, prompt: int, before: np.ndarray, state: RowState, token: int) -> RowState:
        """The state after `token` follows generated ids `before`, whose state is `state`."""
        # ids past the table (padded embeddings) carry no text
        data = self._table[token] if token < len(self._table) else None
        text = data.decode("utf-8", errors="replace") if data else ""
        after = self._read_names(prompt, before, state, token, data, text)
        if self._chains is not None:
            chain = self._chain_after(state, data, text)
            if chain is not None:
                after = replace(after, chain=chain)
        if self._calls is None or (not state.calls and "(" not in text):
            return after
        calls, pending = self._calls.after_text(prompt, before, state, text)
        return replace(after, calls=calls, call_pending=pending)

    def _chain_after(self, state: RowState, data: bytes | None, text: str) -> int | None:
        """The depth the expression-end rule waits at after this token (None: no rule)."""
        names = state.names if state.names is not None else state.after_name
        if names is not None and data:
            body = data[1:] if (names.lead or names.open) and space_then_name(data) else data
            k = ident_prefix_len(body)
            end = names.follow(body[:k])
            if end is not None and end.terminal and end.no_end is not None and k < len(body):
                # the member's name ends in this token: the rest is read from right after it
                return self._chains.after(end.chain_start, body[k:].decode("utf-8", errors="replace"))
        if state.chain is not None:
            return self._chains.after(state.chain, text)
        return None

    def _read_names(
        self, prompt: int, before: np.ndarray, state: RowState, token: int, data: bytes | None, text: str
    ) -> RowState:
        if not data:
            return RowState(lex=state.lex, line=state.line)
        lex, line = state.lex.advance(text), next_line(state.line, text)
        if state.names is not None:
            names = state.names
            if names.word_goes_on and ident_prefix_len(data) > 0:
                # `new` + `len`: the keyword was the start of a longer word, so the trigger never was one
                return RowState(lex=lex, line=line)
            # at an open or lead root a name may come after one space in the same token
            body = data[1:] if (names.lead or names.open) and space_then_name(data) else data
            k = ident_prefix_len(body)
            node = names.follow(body[:k])
            if k == len(body) and k > 0 and node is not None:
                return RowState(lex=lex, line=line, names=node, asked=True)
            if names.terminal and (names.no_call or names.checked) and _only_spaces(data):
                # `name ` then `(` is still a call: the rule on `(` holds past the spaces
                return RowState(lex=lex, line=line, after_name=names)
            if names.terminal and k == 0 and token in self._merges.dot_merged:
                # `.__` right after a complete name: the next member's name, held to the answer that let it through
                node = self._merges.names_opened(prompt, before, state.lex, text)
                if node is not None:
                    return RowState(lex=lex, line=line, names=node, asked=True)
            # the name ended (or, after a lone leading space, has yet to start:
            # the monitor fires again on the text as it now stands)
            return RowState(lex=lex, line=line)
        if state.after_name is not None and _only_spaces(data):
            return RowState(lex=lex, line=line, after_name=state.after_name)
        if token in self._merges.dot_merged:
            # A dot and a name start in one token: continue the constraint
            # set up by the server's answer that let this token through.
            node = self._merges.names_opened(prompt, before, state.lex, text)
            if node is not None:
                return RowState(lex=lex, line=line, names=node, asked=True)
        return RowState(lex=lex, line=line)
