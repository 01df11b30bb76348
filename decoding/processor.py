"""`MGDLogitsProcessor`: monitor-guided decoding as a `generate()` hook.

Each step, for every row of `input_ids` (batch * beams * return sequences):
1. find the row's state from its own tokens, not its row index (beam search
   reorders rows): states are keyed by the row's prompt and generated ids, and
   a new state is derived from its parent's by reading one token;
2. if the text now ends at a trigger, ask the monitors for the allowed names
   (one query per distinct text, shared by beams that agree);
3. while a name is being written, keep only tokens that extend it toward an
   allowed name (`TokenIndex.allowed_mask`); in free text, let a token that
   carries a dot and a name start (`._x`, `.__`) through only if the server
   allows that name.

Beam search hands processors log-probabilities; pass `renormalize_logits=True`
to `generate()` so masked scores are renormalised before beams are ranked.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from typing import Sequence

import numpy as np
import torch
from transformers import LogitsProcessor

from ..monitors.base import Document, Monitor
from ..monitors.dereference import DereferenceMonitor
from ..monitors.python_lexer import LexState, is_ident_char, scan
from .token_index import NameTrie, TokenIndex, ident_prefix_len, opens_member_name, token_index_for

log = logging.getLogger("mgd")
_MAX_TRIES = 512  # distinct member lists whose tries (and masks) are kept


@dataclass(frozen=True)
class _SeqState:
    lex: LexState
    names: NameTrie | None = None  # where the name being written stands; None: free text
    asked: bool = False  # the trigger at the end of this text has been answered


@dataclass
class StepStats:
    """What guidance cost during the generations a processor served."""

    steps: int = 0
    constrained_steps: int = 0
    queries: int = 0
    query_seconds: list[float] = field(default_factory=list)
    mask_seconds: list[float] = field(default_factory=list)


class MGDLogitsProcessor(LogitsProcessor):
    """Masks tokens that would name something the language server says does not exist.

    Args:
        tokenizer: the model's tokenizer (its vocabulary is indexed once).
        session: a started `LanguageServerSession` for the repository.
        monitors: the monitors to run (default: the dereference monitor).
        merge_margin: a token that merges a dot with a name start (`._`) is
            checked against the server when its score is within this margin
            of the row's best (3.0: at least ~5% of the best token's
            probability); below it, it is masked without a query, and the
            split spelling (`.` then the name) stays open.

    Register the text each prompt stands for with `add_prompt` before calling
    `generate()`. Input `scores` has shape (rows, vocab) and is returned with
    disallowed entries set to -inf.
    """

    def __init__(
        self,
        tokenizer,
        session,
        monitors: Sequence[Monitor] | None = None,
        *,
        merge_margin: float = 3.0,
        index: TokenIndex | None = None,
    ) -> None:
        self.tokenizer = tokenizer
        self.session = session
        self.monitors = list(monitors) if monitors is not None else [DereferenceMonitor()]
        self.merge_margin = merge_margin
        self.index = index or token_index_for(tokenizer)
        self._dot_merged = set(self.index.dot_merged.tolist())
        self._prompts: list[tuple[tuple[int, ...], Document, LexState]] = []
        # Both outlive one generation: the same member lists and scanner
        # states come back, and their masks are worth keeping.
        self._tries: dict[frozenset, NameTrie] = {}
        self._openers: dict[LexState, list[tuple[int, str, str, str]]] = {}
        self.stats = StepStats()
        self._reset()

    def add_prompt(self, prompt_ids: Sequence[int] | torch.Tensor | None, document: Document) -> None:
        """Declare that a prompt (its token ids) stands for the text before `document`'s insertion point."""
        if isinstance(prompt_ids, torch.Tensor):
            prompt_ids = prompt_ids.reshape(-1).tolist()
        self._prompts.append((tuple(prompt_ids or ()), document, scan(document.prefix)))
        self._reset()

    # -- the hook ------------------------------------------------------------

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        """Mask `scores` (rows, vocab) given `input_ids` (rows, length)."""
        rows, length = input_ids.shape
        if self._width is None or length != self._last_length + 1:
            self._begin(input_ids)
        self._last_length = length
        ids = input_ids.detach().cpu().numpy()
        states: dict[tuple[int, bytes], _SeqState] = {}
        out = scores
        for row in range(rows):
            try:
                keep = self._row_guidance(ids[row], scores[row], states)
            except Exception as err:  # noqa: BLE001 - guidance must never stop generation
                keep = None
                if not self._warned_error:
                    self._warned_error = True
                    log.warning("mgd: guidance failed (%s: %s); the row goes on unguided", type(err).__name__, err)
            if keep is None:
                continue
            if out is scores:
                out = _copy(scores)
            _apply(out, row, keep if isinstance(keep, list) else self._fit(keep, out.shape[1]))
        self._states = states
        return out

    def _row_guidance(self, row_ids, row_scores: torch.Tensor, states: dict) -> torch.Tensor | list[int] | None:
        """For one row: a mask of allowed ids, a list of banned ids, or None (no change)."""
        prompt = self._prompt_index(row_ids[: self._width].tobytes(), row_ids[: self._width])
        if prompt is None:
            return None
        gen = row_ids[self._width :]
        key = (prompt, gen.tobytes())
        state = states.get(key) or self._state_for(prompt, gen)
        if not state.asked and any(m.triggered(state.lex) for m in self.monitors):
            state = self._answer_trigger(prompt, gen, state)
        states[key] = state
        self.stats.steps += 1
        if state.names is None:
            return self._banned_merges(prompt, gen, state, row_scores) or None
        started = time.perf_counter()
        mask = self.index.allowed_mask(state.names)
        self.stats.constrained_steps += 1
        self.stats.mask_seconds.append(time.perf_counter() - started)
        return mask

    def _fit(self, mask: torch.Tensor, width: int) -> torch.Tensor:
        """`mask` sized to the model's score width (embeddings are often padded past the vocabulary)."""
        if mask.shape[0] == width:
            return mask
        if mask.shape[0] > width:
            return mask[:width]
        return torch.cat([mask, torch.zeros(width - mask.shape[0], dtype=torch.bool)])

    # -- per-sequence state ----------------------------------------------------

    def _reset(self) -> None:
        self._width: int | None = None
        self._last_length = 0
        self._row_prompt: dict[bytes, int | None] = {}
        self._states: dict[tuple[int, bytes], _SeqState] = {}
        self._answers: dict[tuple[int, str], NameTrie | None] = {}
        self._warned_unknown = False
        self._warned_error = False

    def _begin(self, input_ids: torch.LongTensor) -> None:
        self._reset()
        self._width = input_ids.shape[1]
        if not self._prompts:
            log.warning("mgd: no prompt registered with add_prompt(); decoding is not guided")

    def _prompt_index(self, key: bytes, row_ids) -> int | None:
        if key in self._row_prompt:
            return self._row_prompt[key]
        found = None
        if len(self._prompts) == 1:
            found = 0
        else:
            row = tuple(int(t) for t in row_ids)
            for i, (prompt_ids, _, _) in enumerate(self._prompts):
                if prompt_ids and row[-len(prompt_ids) :] == prompt_ids:
                    found = i
                    break
        if found is None and self._prompts and not self._warned_unknown:
            self._warned_unknown = True
            log.warning("mgd: a row matches no registered prompt; it is decoded unguided")
        self._row_prompt[key] = found
        return found

    def _state_for(self, prompt: int, gen) -> _SeqState:
        parent_key = (prompt, gen[:-1].tobytes())
        parent = self._states.get(parent_key) if len(gen) else None
        if parent is not None:
            return self._read_token(prompt, gen[:-1], parent, int(gen[-1]))
        # No parent (first step, or a caller that skipped steps): replay the row.
        state = _SeqState(lex=self._prompts[prompt][2])
        for i in range(len(gen)):
            state = self._read_token(prompt, gen[:i], state, int(gen[i]))
        return state

    def _read_token(self, prompt: int, before, state: _SeqState, token: int) -> _SeqState:
        """The state after `token` is appended to a text whose state is `state`."""
        data = self.index.token_bytes[token] if token < len(self.index.token_bytes) else None
        if not data:
            return _SeqState(lex=state.lex)
        if state.names is not None:
            k = ident_prefix_len(data)
            node = state.names.follow(data[:k])
            text = data.decode("utf-8", errors="replace")
            if k == len(data) and node is not None:
                return _SeqState(lex=state.lex.advance(text), names=node, asked=True)
            return _SeqState(lex=state.lex.advance(text))
        text = data.decode("utf-8", errors="replace")
        if token not in self._dot_merged:
            return _SeqState(lex=state.lex.advance(text))
        # A dot and a name start in one token: continue the constraint that the
        # server's answer for that dot set up when the token was allowed.
        lex = state.lex
        for j, ch in enumerate(text):
            lex = lex.step(ch)
            if lex.at_dereference and j + 1 < len(text) and is_ident_char(text[j + 1]):
                head = self._generated_text(before) + text[: j + 1]
                trie = self._answers.get((prompt, head))
                rest = text[j + 1 :].encode("utf-8")
                k = ident_prefix_len(rest)
                lex = lex.advance(text[j + 1 :])
                if trie is not None and k == len(rest):
                    node = trie.follow(rest)
                    if node is not None:
                        return _SeqState(lex=lex, names=node, asked=True)
                return _SeqState(lex=lex)
        return _SeqState(lex=lex)

    # -- asking the server -----------------------------------------------------

    def _generated_text(self, gen) -> str:
        table = self.index.token_bytes
        return b"".join(table[int(t)] or b"" for t in gen).decode("utf-8", errors="replace")

    def _names_after(self, prompt: int, generated: str) -> NameTrie | None:
        key = (prompt, generated)
        if key in self._answers:
            return self._answers[key]
        document = self._prompts[prompt][1]
        started = time.perf_counter()
        answer: frozenset[str] | None = None
        for monitor in self.monitors:
            names = monitor.allowed_names(self.session, document, generated)
            if names is not None:
                answer = names if answer is None else answer & names
        self.stats.queries += 1
        self.stats.query_seconds.append(time.perf_counter() - started)
        trie = None
        if answer:
            trie = self._tries.get(answer)
            if trie is None:
                if len(self._tries) >= _MAX_TRIES:
                    self._tries.clear()
                trie = self._tries[answer] = NameTrie.build(answer)
        self._answers[key] = trie
        return trie

    def _answer_trigger(self, prompt: int, gen, state: _SeqState) -> _SeqState:
        trie = self._names_after(prompt, self._generated_text(gen))
        return replace(state, names=trie, asked=True)

    def _merge_openers(self, lex: LexState) -> list[tuple[int, str, str, str]]:
        """Dot-merged tokens that, read from `lex`, would open a member name: (id, head, name, rest)."""
        openers = self._openers.get(lex)
        if openers is None:
            openers = []
            for tid in self.index.dot_merged.tolist():
                opened = _member_start(lex, self.index.token_bytes[tid].decode("utf-8", errors="replace"))
                if opened is not None:
                    openers.append((tid, *opened))
            self._openers[lex] = openers
        return openers

    def _banned_merges(self, prompt: int, gen, state: _SeqState, row_scores: torch.Tensor) -> list[int]:
        """Dot-merged tokens that would open a member name the server does not allow."""
        openers = self._merge_openers(state.lex)
        if not openers:
            return []
        if row_scores.device.type == "cpu" and row_scores.dtype in _NUMPY_DTYPES:
            row_scores = row_scores.detach().numpy()
        threshold = float(row_scores.max()) - self.merge_margin
        banned = []
        generated = None
        for tid, head, name_part, rest in openers:
            value = float(row_scores[tid])
            if value == float("-inf"):
                continue
            if value < threshold:  # too unlikely to be worth a server query; the split spelling stays open
                banned.append(tid)
                continue
            if generated is None:
                generated = self._generated_text(gen)
            trie = self._names_after(prompt, generated + head)
            if trie is None:
                continue
            node = trie.follow(name_part.encode("utf-8"))
            if node is None or (rest and (not node.terminal or opens_member_name(rest.encode("utf-8")))):
                banned.append(tid)
        return banned


# numpy does these row operations on one core; torch would use its thread pool
# for tensors of vocabulary size, which stalls when the other core is busy.
_NUMPY_DTYPES = (torch.float32, torch.float64, torch.float16)


def _copy(scores: torch.Tensor) -> torch.Tensor:
    """A copy of `scores` we may write to (the caller may keep the original, e.g. output_logits)."""
    if scores.device.type == "cpu" and scores.dtype in _NUMPY_DTYPES:
        return torch.from_numpy(scores.detach().numpy().copy())
    return scores.clone()


def _apply(out: torch.Tensor, row: int, keep: torch.Tensor | list[int]) -> None:
    """Set row `row` of `out` to -inf at banned ids (a list) or outside an allowed mask."""
    if out.device.type == "cpu" and out.dtype in _NUMPY_DTYPES:
        view = out[row].numpy()
        if isinstance(keep, list):
            view[keep] = -np.inf
        else:
            view[~keep.numpy()] = -np.inf
        return
    if isinstance(keep, list):
        out[row, keep] = float("-inf")
    else:
        out[row].masked_fill_(~keep.to(out.device), float("-inf"))


def _member_start(lex: LexState, text: str) -> tuple[str, str, str] | None:
    """Split `text` at the first member-access dot followed by a name: (head, name, rest)."""
    for j, ch in enumerate(text):
        lex = lex.step(ch)
        if lex.at_dereference and j + 1 < len(text) and is_ident_char(text[j + 1]):
            tail = text[j + 1 :]
            k = 0
            while k < len(tail) and is_ident_char(tail[k]):
                k += 1
            return text[: j + 1], tail[:k], tail[k:]
    return None
