"""Tokens that write a member-access dot and the start of a name at once (`._`, `.__`, `().__`, `.get`).

In free text such a token would start a member name the server was never
asked about, since the dot's monitors fire only once the dot is written. So
before it may be chosen the name it starts is checked against what the
dot's monitors allow there, and once chosen the rest of the name is held to
that answer. A check costs a server query: only tokens within `merge_margin`
of the row's best score are checked, the rest are banned unasked (the split
spelling, `.` then the name, stays open). The member rules apply as at the
dot: hidden names are judged open only if the row's best token is a merged
one headed for them (`.__`), and a token that also opens a call (`.size(`)
is banned after a name that takes no `(`.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from mgd.decoding.answers import Answers
from mgd.decoding.token_index import NameTrie, TokenIndex, opens_call, opens_member_name
from mgd.decoding.token_text import text_of
from mgd.monitors.base import Monitor, ScanState, Trigger, is_ident_char

AT_DOT = Trigger()  # the trigger of monitors that fire at a member-access dot
_UNSET = object()


def member_start(lex: ScanState, text: str) -> tuple[str, str, str] | None:
    """Split `text`, read from scanner state `lex`, at its first member-access dot followed by a name: (head, name, rest)."""
    for j, ch in enumerate(text):
        lex = lex.step(ch)
        if lex.at_dereference and j + 1 < len(text) and is_ident_char(text[j + 1]):
            tail = text[j + 1 :]
            k = 0
            while k < len(tail) and is_ident_char(tail[k]):
                k += 1
            return text[: j + 1], tail[:k], tail[k:]
    return None


class MergeRules:
    """Which dot-merged tokens a row may write in free text, and the name a chosen one has started."""

    def __init__(
        self, index: TokenIndex, answers: Answers, monitors: Sequence[Monitor], scan: Callable[[str], ScanState]
    ) -> None:
        self._index = index
        self._answers = answers
        # Only monitors that fire at a member-access dot judge these tokens.
        self.monitors = tuple(
            sorted((m for m in monitors if m.trigger(scan("x."), "x.") == AT_DOT), key=lambda m: m.name)
        )
        self._key = tuple(m.name for m in self.monitors)
        self._checker = next((m for m in self.monitors if hasattr(m, "value_not_callable")), None)
        self.dot_merged = set(index.dot_merged.tolist())
        # Outlives one generation: the same scanner states come back.
        self._openers: dict[ScanState, list[tuple[int, str, str, str]]] = {}

    def openers(self, lex: ScanState) -> list[tuple[int, str, str, str]]:
        """Dot-merged tokens that, read from `lex`, would open a member name: (id, head, name, rest)."""
        openers = self._openers.get(lex)
        if openers is None:
            openers = []
            table = self._index.token_bytes
            for tid in self._index.dot_merged.tolist():
                opened = member_start(lex, table[tid].decode("utf-8", errors="replace"))
                if opened is not None:
                    openers.append((tid, *opened))
            self._openers[lex] = openers
        return openers

    def banned(self, prompt: int, gen: np.ndarray, lex: ScanState, scores: np.ndarray, margin: float) -> list[int]:
        """Dot-merged tokens that would open a member name the server does not allow, after generated ids `gen`."""
        openers = self.openers(lex) if self.monitors else None
        if not openers:
            return []
        threshold = float(scores.max()) - margin
        banned = []
        generated = None
        first = _UNSET
        for tid, head, name_part, rest in openers:
            value = float(scores[tid])
            if value == float("-inf"):
                continue
            if value < threshold:  # too unlikely to be worth a server query; the split spelling stays open
                banned.append(tid)
                continue
            if generated is None:
                generated = text_of(self._index.token_bytes, gen)
            trie = self._answers.names_after(prompt, generated + head, self.monitors, AT_DOT)
            if trie is None:
                continue
            if trie.hidden:
                if first is _UNSET:
                    # the name start the row's best token writes after its dot decides whether hidden names are open
                    best = int(scores.argmax())
                    first = next(((n + r).encode("utf-8") for t, _, n, r in openers if t == best), None)
                trie = trie.start(first)
                if trie is None:  # nothing of the receiver's own, and the model is not writing a dunder: free
                    continue
            node = trie.follow(name_part.encode("utf-8"))
            rest_bytes = rest.encode("utf-8")
            if node is None or (rest and (not node.terminal or opens_member_name(rest_bytes))):
                banned.append(tid)
            elif rest and node.no_end is not None:
                banned.append(tid)  # the expression-end rule reads a name's rest only when it is written apart
            elif rest and opens_call(rest_bytes) and self._no_call_after(prompt, generated + head, name_part, node):
                banned.append(tid)
        return banned

    def allowed_after_name(self, prompt: int, gen: np.ndarray, lex: ScanState, scores: np.ndarray, margin: float) -> list[int]:
        """Dot-merged tokens (`.get`, `.__`) the server allows right after a complete name, as in free text.

        The name's trie cannot judge them (they start the next member's name),
        so its mask leaves them out; the dot's own answer can. Only tokens
        that write the dot first (no call in between) are given back.
        """
        openers = self.openers(lex) if self.monitors else None
        if not openers:
            return []
        banned = set(self.banned(prompt, gen, lex, scores, margin))
        return [tid for tid, head, _name, _rest in openers if head == "." and tid not in banned and scores[tid] != float("-inf")]

    def _no_call_after(self, prompt: int, generated: str, name: str, node: NameTrie) -> bool:
        """True if no `(` may follow member `name` (complete at `node`) after `generated`, which ends with its dot."""
        if node.no_call:
            return True
        return node.checked and self._checker is not None and self._answers.not_callable(prompt, generated, name, self._checker)

    def names_opened(self, prompt: int, before: np.ndarray, lex: ScanState, text: str) -> NameTrie | None:
        """Where the name stands once dot-merged `text` follows ids `before` (scanner `lex`); None if it opens none."""
        opened = member_start(lex, text)
        if opened is None:
            return None
        head, name_part, rest = opened
        # The answer that let this token through (asked in `banned`), never a new query. The
        # token is the first after the dot: it decides whether hidden names are open (`._` opens them).
        trie = self._answers.known_names(prompt, text_of(self._index.token_bytes, before) + head, self._key, AT_DOT)
        if trie is None or rest:
            return None
        root = trie.start(name_part.encode("utf-8"))
        return root.follow(name_part.encode("utf-8")) if root is not None else None
