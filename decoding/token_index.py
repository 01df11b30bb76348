"""A trie over the vocabulary that finds the tokens spelling part of a name.

Built once per tokenizer. Each token is filed under its identifier prefix (its
leading identifier bytes): `full` tokens are nothing but that prefix, `tail`
tokens continue past it with other text (`name(`, `get)`). Finding the tokens
that may follow a typed prefix then walks the trie of allowed names against
this trie, touching only the nodes both share, never the whole vocabulary.

Engine-free: masks and id lists are numpy arrays (an engine adapter wraps
them, e.g. `torch.from_numpy`, which shares the memory).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np

from mgd.decoding.chain_rules import CLOSE as _CLOSE, COMMA as _COMMA, SUMS as _SUMS
from mgd.decoding.token_text import token_bytes_table

# Identifier bytes: ASCII letters, digits, `_`, and every byte of a multi-byte
# UTF-8 character (non-ASCII letters may continue a Python identifier).
IDENT_BYTES = frozenset(
    list(range(ord("a"), ord("z") + 1))
    + list(range(ord("A"), ord("Z") + 1))
    + list(range(ord("0"), ord("9") + 1))
    + [ord("_")]
    + list(range(0x80, 0x100))
)
_DOT = ord(".")
IDENT_CHARS = frozenset(bytes([b]) for b in IDENT_BYTES)


def ident_prefix_len(data: bytes) -> int:
    """Length of the leading run of identifier bytes in `data`."""
    n = 0
    for b in data:
        if b not in IDENT_BYTES:
            break
        n += 1
    return n


def opens_member_name(data: bytes) -> bool:
    """True if `data` holds a `.` directly followed by an identifier byte."""
    return any(data[i] == _DOT and data[i + 1] in IDENT_BYTES for i in range(len(data) - 1))


def opens_call(data: bytes) -> bool:
    """True if `data`, written right after a name, starts a call: `(` after nothing but spaces and tabs."""
    return data.lstrip(b" \t")[:1] == b"("


@dataclass
class _Node:
    children: dict[int, "_Node"] = field(default_factory=dict)
    full: list[int] = field(default_factory=list)
    tail: list[int] = field(default_factory=list)
    call: list[int] = field(default_factory=list)  # tail tokens whose rest opens a call (`name(`, `_speed()`)


class NameTrie:
    """The allowed names of one constraint, as a byte trie (shared by all beams).

    Member rules (`mgd.monitors.base.Names`): a terminal may forbid a `(`
    after its name (`no_call`), or forbid it once the server says the name's
    value is not callable (`checked`, asked by the guide where a `(` is
    likely). A root whose answer hides names has `narrow`, the same trie
    without them (None if nothing else is left), and `start` picks the root
    a row follows. A `no_end` terminal holds the tokens whose text after the
    name would end the expression there (`mgd.decoding.chain_rules`).
    """

    __slots__ = (
        "children", "terminal", "open", "lead", "word_goes_on", "mask", "no_call", "checked", "narrow", "hidden", "calls", "no_end", "chain_start",
    )  # fmt: skip

    def __init__(self) -> None:
        self.children: dict[int, NameTrie] = {}
        self.terminal = False
        self.open = False  # (root only) the code may go on without writing a name
        self.lead = False  # (root only) a space must come first (`import` + ` Book`)
        self.word_goes_on = False  # (lead root only) a token going on with the keyword's word is free (`new` + `len`)
        self.mask: np.ndarray | None = None  # cached allowed-token mask (bool), shape (vocab,)
        self.no_call = False  # (terminal) no `(` may follow the name
        self.checked = False  # (terminal) no `(` may follow if the server says the value is not callable
        self.narrow: NameTrie | None = None  # (root only) the trie without the hidden names, if any are left
        self.hidden: frozenset[str] = frozenset()  # (root only) the names `narrow` leaves out
        # cached `TokenIndex.call_candidates` (None: not worked out yet; nodes off every checked name's path have none)
        self.calls: list | None = []
        # (terminal) bool (vocab,): tokens finishing the name whose rest ends the expression; None: no such rule
        self.no_end: np.ndarray | None = None
        self.chain_start = 0  # the expression-end rule's state right after this name (`chain_rules.SUMS` or 0)

    @classmethod
    def build(
        cls, names, open_start: bool = False, lead_space: bool = False, *, word_goes_on: bool = False, no_call=(), checked=(), hidden=(),
        no_end=(), rest_ends: np.ndarray | None = None, no_end_sums=(), rest_ends_sums: np.ndarray | None = None,
        no_close=(), rest_ends_close: np.ndarray | None = None, no_comma=(), rest_ends_comma: np.ndarray | None = None,
    ) -> "NameTrie":
        """Build a trie of names (`open_start`: no name at all is allowed too; `lead_space`: a space comes first).

        `no_call`, `checked`, `hidden`, `no_end`: the member rules of `mgd.monitors.base.Names`;
        `rest_ends` (`ChainRules.rest_ends`) is what `no_end` bans after a name (no rule without it);
        `no_end_sums` names start the rule through sums, and ban `rest_ends_sums` (`rest_ends(SUMS)`) after them;
        `no_close` / `no_comma` names start the one-ending rules (`rest_ends(CLOSE)`, `rest_ends(COMMA)`).
        """
        root = cls()
        root.open = open_start
        root.lead = lead_space
        root.word_goes_on = lead_space and word_goes_on
        no_call, checked = frozenset(no_call), frozenset(checked)
        no_end = frozenset(no_end) if rest_ends is not None else frozenset()
        sums = frozenset(no_end_sums) & no_end if rest_ends_sums is not None else frozenset()
        no_close = frozenset(no_close) - no_end if rest_ends_close is not None else frozenset()
        no_comma = frozenset(no_comma) - no_end - no_close if rest_ends_comma is not None else frozenset()
        for name in names:
            node = root
            path = [root]
            for b in name.encode("utf-8"):
                node = node.children.setdefault(b, cls())
                path.append(node)
            node.terminal = True
            node.no_call = node.no_call or name in no_call
            node.checked = (node.checked or name in checked) and not node.no_call
            if name in sums:
                node.no_end, node.chain_start = rest_ends_sums, _SUMS
            elif name in no_end:
                node.no_end = rest_ends
            elif name in no_close:
                node.no_end, node.chain_start = rest_ends_close, _CLOSE
            elif name in no_comma:
                node.no_end, node.chain_start = rest_ends_comma, _COMMA
            if name in checked:
                for on_path in path:
                    on_path.calls = None
        root.hidden = frozenset(hidden) & frozenset(names)
        shown = frozenset(names) - root.hidden
        if root.hidden and shown:
            root.narrow = cls.build(
                shown, open_start, lead_space, word_goes_on=word_goes_on, no_call=no_call, checked=checked, no_end=no_end, rest_ends=rest_ends,
                no_end_sums=sums, rest_ends_sums=rest_ends_sums, no_close=no_close, rest_ends_close=rest_ends_close,
                no_comma=no_comma, rest_ends_comma=rest_ends_comma,
            )
        return root

    def start(self, first: bytes | None) -> "NameTrie | None":
        """The root a row follows when `first` is what its best-scored token writes after the trigger (None: no name).

        All names when that token starts with `_` or with a start only hidden
        names share (`m` for `mro` where no shown name starts with `m`);
        otherwise `narrow`, the names without the hidden ones, or None (no
        constraint) where every name is hidden: the receiver has nothing of
        its own to offer, and the model is not writing a dunder.
        """
        if not self.hidden:
            return self
        if first:
            if first[:1] == b"_":
                return self
            k = ident_prefix_len(first)
            if k and self.follow(first[:k]) is not None and (self.narrow is None or self.narrow.follow(first[:k]) is None):
                return self
        return self.narrow

    def follow(self, data: bytes) -> "NameTrie | None":
        """The node reached by reading `data`, or None if no name starts so."""
        node: NameTrie | None = self
        for b in data:
            node = node.children.get(b)
            if node is None:
                return None
        return node


class TokenIndex:
    """Per-tokenizer index: token bytes, and a trie of tokens by identifier prefix."""

    def __init__(self, tokenizer) -> None:
        self.token_bytes: list[bytes | None] = token_bytes_table(tokenizer)
        self.vocab_size = max(len(tokenizer), getattr(tokenizer, "vocab_size", 0) or 0)
        self.root = _Node()
        # Tokens that are a space and then more (` Book`, ` (`), filed by what
        # follows the space: where a name must come after a space, as after
        # `import`, the tokenizer spells the two together.
        self.space_root = _Node()
        end_ids = set()
        for attr in ("eos_token_id",):
            value = getattr(tokenizer, attr, None)
            if isinstance(value, int):
                end_ids.add(value)
        self.end_ids = sorted(end_ids)
        for tid, data in enumerate(self.token_bytes):
            if not data:
                continue
            _file(self.root, tid, data)
            if data[:1] == b" ":
                _file(self.space_root, tid, data[1:])
        # Tokens that could carry a `.` and the start of a member name in one
        # piece; in free text they are checked against the server before use.
        self.dot_merged = np.array(
            [t for t, d in enumerate(self.token_bytes) if d and opens_member_name(d)], dtype=np.int64
        )
        # Masks are built in numpy: torch sends ops on tensors this size to its
        # thread pool, which stalls for milliseconds when the other core is busy.
        self._root_tail = np.zeros(self.vocab_size, dtype=bool)
        self._root_tail[self.root.tail + self.root.call + self.end_ids] = True
        # After a name no `(` may follow: the same less the tokens that open a call.
        self._root_tail_no_call = np.zeros(self.vocab_size, dtype=bool)
        self._root_tail_no_call[self.root.tail + self.end_ids] = True
        # Every token that would open a call right after a name (`(`, ` (`, `()`, `().__`).
        self.call_start = np.array(
            [t for t, d in enumerate(self.token_bytes) if d and opens_call(d)], dtype=np.int64
        )
        # Where no name need be written, a token may start with punctuation
        # but not with whitespace: ` foo` would write a name unchecked.
        # Where a name may or may not follow (open roots), every token that
        # does not begin a name is free: punctuation, line breaks, a lone space.
        self._open_free = np.zeros(self.vocab_size, dtype=bool)
        self._open_free[[t for t in self.root.tail + self.root.call if not space_then_name(self.token_bytes[t])]] = True
        self._space_alone = np.zeros(self.vocab_size, dtype=bool)
        self._space_alone[self.space_root.full] = True  # a lone space: the name comes next
        # A keyword that fires a lead root (`new`, `case`, `raise`, `except`) may be the start of a longer word
        # (`newlen`, `exception`): a token that goes on with the word is free (`TokenReader` then drops the root).
        self._word_goes_on = np.zeros(self.vocab_size, dtype=bool)
        self._word_goes_on[[t for t, d in enumerate(self.token_bytes) if d and d[:1] in IDENT_CHARS]] = True

    def allowed_mask(self, names: NameTrie) -> np.ndarray:
        """Bool mask (vocab,) of tokens that extend the typed prefix at `names` toward an allowed name.

        `names` is the node of the allowed-name trie reached by the part of the
        name already written. A token is allowed when its identifier prefix
        stays on a path to some name and, if it continues with other text,
        that prefix completes a name (and the text opens no call after a
        `no_call` name). At the root, `lead` lets the name come
        after one space in the same token (and requires the space), and
        `open` also frees every token that begins no name at all; a `lead`
        root frees every token that goes on with the keyword's word.
        """
        if names.mask is not None:
            return names.mask
        roots = []
        if not names.lead:
            roots.append(self.root)
        if names.lead or names.open:
            roots.append(self.space_root)
        ids: list[int] = []
        stack = [(root, names) for root in roots]
        while stack:
            tnode, nnode = stack.pop()
            for b, nchild in nnode.children.items():
                tchild = tnode.children.get(b)
                if tchild is None:
                    continue
                ids.extend(tchild.full)
                if nchild.terminal:
                    ends = nchild.no_end
                    ids.extend(tchild.tail if ends is None else [t for t in tchild.tail if not ends[t]])
                    if not nchild.no_call:
                        ids.extend(tchild.call if ends is None else [t for t in tchild.call if not ends[t]])
                if nchild.children:
                    stack.append((tchild, nchild))
        if names.terminal:  # the name is complete: anything that ends it may follow
            allowed = (self._root_tail_no_call if names.no_call else self._root_tail).copy()
        elif names.open:
            allowed = self._open_free.copy()
        elif names.lead:
            allowed = self._space_alone.copy()
        else:
            allowed = np.zeros(self.vocab_size, dtype=bool)
        if ids:
            allowed[ids] = True
        if names.word_goes_on:
            allowed |= self._word_goes_on
        names.mask = allowed
        return names.mask

    def call_candidates(self, names: NameTrie) -> list[tuple[bytes, np.ndarray]]:
        """Where a `checked` name could be followed by `(` in one token from `names`: (rest of the name, token ids).

        The ids are tokens that finish the name there and open a call
        (`speed(`, `_speed()`); for the name `names` itself completes, every
        token that opens a call (`(`, `()`, ` (`). Cached on the node.
        """
        if names.calls is not None:
            return names.calls
        found: list[tuple[bytes, np.ndarray]] = []
        if names.terminal and names.checked:
            found.append((b"", self.call_start))
        stack = [(self.root, names, b"")] if not names.lead else []
        while stack:
            tnode, nnode, path = stack.pop()
            for b, nchild in nnode.children.items():
                tchild = tnode.children.get(b)
                if tchild is None:
                    continue
                if nchild.terminal and nchild.checked and tchild.call:
                    found.append((path + bytes([b]), np.array(tchild.call, dtype=np.int64)))
                if nchild.children:
                    stack.append((tchild, nchild, path + bytes([b])))
        names.calls = found
        return found

    def scan_allowed(self, names: NameTrie) -> np.ndarray:
        """The same mask as `allowed_mask`, by testing every token against the rule (the naive baseline)."""
        mask = np.zeros(self.vocab_size, dtype=bool)
        for tid, data in enumerate(self.token_bytes):
            if data is None:
                mask[tid] = tid in self.end_ids and names.terminal
            elif space_then_name(data) and (names.lead or names.open):
                mask[tid] = _continues_name(names, data[1:], tid)
            elif data[:1] in IDENT_CHARS:
                mask[tid] = names.word_goes_on or (not names.lead and _continues_name(names, data, tid))
            elif names.terminal or names.open:
                mask[tid] = not opens_member_name(data) and not (names.terminal and names.no_call and opens_call(data))
            else:
                mask[tid] = names.lead and data == b" "
        return mask


def space_then_name(data: bytes) -> bool:
    """True for a token that is a space and then the start of a name (` Book`)."""
    return len(data) > 1 and data[0] == 0x20 and data[1] in IDENT_BYTES


def _continues_name(names: NameTrie, data: bytes, tid: int) -> bool:
    """The rule for token `tid`, which starts with identifier bytes `data`, written from `names`."""
    k = ident_prefix_len(data)
    node = names.follow(data[:k])
    if node is None:
        return False
    if k == len(data):
        return True
    if node.no_end is not None and node.no_end[tid]:
        return False
    return node.terminal and not opens_member_name(data[k:]) and not (node.no_call and opens_call(data[k:]))


def _file(root: _Node, tid: int, data: bytes) -> None:
    """File token `tid`, whose text from `root` on is `data`, under its identifier prefix."""
    k = ident_prefix_len(data)
    if k == 0 and not data:
        root.full.append(tid)
        return
    node = root
    for b in data[:k]:
        node = node.children.setdefault(b, _Node())
    if k == len(data):
        node.full.append(tid)
    elif not opens_member_name(data[k:]):
        # (a token that would also start a second member name is never filed:
        # it is not allowed while a name is being finished)
        (node.call if opens_call(data[k:]) else node.tail).append(tid)


_INDEXES: dict[tuple, TokenIndex] = {}
_LOCK = threading.Lock()


def token_index_for(tokenizer) -> TokenIndex:
    """Return the (cached) index for a tokenizer."""
    key = (getattr(tokenizer, "name_or_path", ""), len(tokenizer), type(tokenizer).__name__)
    with _LOCK:
        index = _INDEXES.get(key)
        if index is None:
            index = _INDEXES[key] = TokenIndex(tokenizer)
        return index
