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

from ..monitors import default_monitors, language as language_named
from ..monitors.arguments import ArgumentMonitor, CallTrack, Signature, advance_calls, opens_call
from ..monitors.base import Document, Monitor, Trigger
from ..monitors.python_lexer import LexState, is_ident_char
from .token_index import NameTrie, TokenIndex, space_then_name, ident_prefix_len, opens_member_name, token_index_for

log = logging.getLogger("mgd")
_MAX_TRIES = 512  # distinct member lists whose tries (and masks) are kept


_AT_DOT = Trigger()  # the trigger of monitors that fire at a member-access dot
_LINE_KEEP = 256  # characters of the current line that monitors may look at


@dataclass(frozen=True)
class _SeqState:
    lex: LexState
    line: str = ""  # the current line so far (its last _LINE_KEEP characters)
    names: NameTrie | None = None  # where the name being written stands; None: free text
    asked: bool = False  # the trigger at the end of this text has been answered
    calls: tuple = ()  # open calls with a known signature, outermost first (CallTrack)
    call_pending: bool = False  # the text ends with a call's `(`: ask for its signature


def _next_line(line: str, text: str) -> str:
    if "\n" in text:
        return text.rsplit("\n", 1)[1][-_LINE_KEEP:]
    return (line + text)[-_LINE_KEEP:]


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
        monitors: the monitors to run (default: the language's, see `mgd.monitors.LANGUAGES`).
        merge_margin: a token that merges a dot with a name start (`._`) is
            checked against the server when its score is within this margin
            of the row's best (3.0: at least ~5% of the best token's
            probability); below it, it is masked without a query, and the
            split spelling (`.` then the name) stays open.
        language: "python" or "java"; default: the session's language.

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
        language: str | None = None,
    ) -> None:
        self.tokenizer = tokenizer
        self.session = session
        # The session's language (jedi: python, JDT.LS: java) picks the scanner and default monitors.
        self.language = language or getattr(session, "language", None) or "python"
        self._scan = language_named(self.language).scan
        chosen = list(monitors) if monitors is not None else default_monitors(self.language)
        # The call monitor follows whole calls rather than one name: kept apart.
        self._args = next((m for m in chosen if isinstance(m, ArgumentMonitor)), None)
        self.monitors = [m for m in chosen if not isinstance(m, ArgumentMonitor)]
        self.merge_margin = merge_margin
        self.index = index or token_index_for(tokenizer)
        # Monitors that fire at a member-access dot: they judge `._x`-style tokens.
        self._deref_monitors = tuple(
            sorted((m for m in self.monitors if m.trigger(self._scan("x."), "x.") == _AT_DOT), key=lambda m: m.name)
        )
        self._deref_key = tuple(m.name for m in self._deref_monitors)
        self._dot_merged = set(self.index.dot_merged.tolist())
        table = self.index.token_bytes
        # Only `)`, `,` and `=` can break a call's rules; tokens opening a call
        # with more text (`()`, `('`) are judged with the callee's signature.
        self._call_risky = [t for t, d in enumerate(table) if d and any(c in d for c in b"),=")]
        self._paren_open = [t for t, d in enumerate(table) if d and len(d) > 1 and d[:1] == b"("]
        self._call_cache: dict[tuple, list[int]] = {}
        self._prompts: list[tuple[tuple[int, ...], Document, _SeqState]] = []
        # Both outlive one generation: the same member lists and scanner
        # states come back, and their masks are worth keeping.
        self._tries: dict[tuple[frozenset, bool, bool], NameTrie] = {}
        self._openers: dict[LexState, list[tuple[int, str, str, str]]] = {}
        self.stats = StepStats()
        self._reset()

    def add_prompt(self, prompt_ids: Sequence[int] | torch.Tensor | None, document: Document) -> None:
        """Declare that a prompt (its token ids) stands for the text before `document`'s insertion point."""
        if isinstance(prompt_ids, torch.Tensor):
            prompt_ids = prompt_ids.reshape(-1).tolist()
        start = _SeqState(lex=self._scan(document.prefix), line=_next_line("", document.prefix))
        self._prompts.append((tuple(prompt_ids or ()), document, start))
        self._reset()

    def clear_prompts(self) -> None:
        """Forget every registered prompt (before registering the next batch's)."""
        self._prompts.clear()
        self._reset()

    def reset(self) -> None:
        """Forget per-sequence state, so the next call starts a new generation."""
        self._reset()

    # -- the hook ------------------------------------------------------------

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        """Mask `scores` (rows, vocab) given `input_ids` (rows, length)."""
        rows, length = input_ids.shape
        ids = input_ids.detach().cpu().numpy()
        if self._new_generation(ids):
            self._begin(input_ids)
        self._last_length = length
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
        if not state.asked:
            fired = self._fired(state)
            if fired:
                trigger, monitors = fired
                trie = self._names_after(prompt, self._generated_text(gen), monitors, trigger)
                state = replace(state, names=trie, asked=True)
        if state.call_pending:
            sig = self._signature_after(prompt, self._generated_text(gen))
            state = replace(state, calls=state.calls + ((CallTrack(sig),) if sig else ()), call_pending=False)
        states[key] = state
        self.stats.steps += 1
        if state.names is None:
            keep = self._banned_merges(prompt, gen, state, row_scores) or None
        else:
            started = time.perf_counter()
            keep = self.index.allowed_mask(state.names)
            self.stats.constrained_steps += 1
            self.stats.mask_seconds.append(time.perf_counter() - started)
        if self._args is None:
            return keep
        bans = self._call_bans(prompt, gen, state, row_scores)
        if not bans:
            return keep
        if keep is None or isinstance(keep, list):
            return (keep or []) + bans
        keep = keep.clone()
        keep[bans] = False
        return keep

    def _fired(self, state: _SeqState) -> tuple[Trigger, tuple[Monitor, ...]] | None:
        """The monitors that fire here, with their common trigger (None if none fires)."""
        fired = [(m, t) for m in self.monitors if (t := m.trigger(state.lex, state.line)) is not None]
        if not fired:
            return None
        # Monitors asking at different points cannot be intersected; keep the
        # ones that agree with the first by name, so the order given is irrelevant.
        fired.sort(key=lambda pair: pair[0].name)
        trigger = fired[0][1]
        return trigger, tuple(m for m, t in fired if t == trigger)

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
        self._signatures: dict[tuple[int, str], Signature | None] = {}
        self._open_in_prompt: dict[int, tuple] = {}
        self._warned_unknown = False
        self._warned_error = False

    def _new_generation(self, ids) -> bool:
        # generate() adds one token per call to rows whose prompts we have seen
        if self._width is None or ids.shape[1] != self._last_length + 1:
            return True
        return ids[0, : self._width].tobytes() not in self._row_prompt

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
        state = self._prompts[prompt][2]
        if self._args is not None:
            state = replace(state, calls=self._prompt_calls(prompt))
        for i in range(len(gen)):
            state = self._read_token(prompt, gen[:i], state, int(gen[i]))
        return state

    def _read_token(self, prompt: int, before, state: _SeqState, token: int) -> _SeqState:
        """The state after `token` is appended to a text whose state is `state`."""
        after = self._read_names(prompt, before, state, token)
        data = self.index.token_bytes[token] if token < len(self.index.token_bytes) else None
        text = data.decode("utf-8", errors="replace") if data else ""
        if self._args is None or (not state.calls and "(" not in text):
            return after
        head = None

        def signature_at(i: int):
            nonlocal head
            if i == len(text) - 1:
                return _PENDING  # asked at the next step
            # `()`, `('`: the signature was fetched when the token was judged
            head = head if head is not None else self._generated_text(before)
            return self._signatures.get((prompt, head + text[: i + 1]))

        calls, pending = _walk_calls(state.calls, state.lex, state.line, text, signature_at)
        return replace(after, calls=calls, call_pending=pending)

    def _read_names(self, prompt: int, before, state: _SeqState, token: int) -> _SeqState:
        """`_read_token` for the name monitors."""
        data = self.index.token_bytes[token] if token < len(self.index.token_bytes) else None
        if not data:
            return _SeqState(lex=state.lex, line=state.line)
        text = data.decode("utf-8", errors="replace")
        lex, line = state.lex.advance(text), _next_line(state.line, text)
        if state.names is not None:
            names = state.names
            # at an open or lead root a name may come after one space in the same token
            body = data[1:] if (names.lead or names.open) and space_then_name(data) else data
            k = ident_prefix_len(body)
            node = state.names.follow(body[:k])
            if k == len(body) and k > 0 and node is not None:
                return _SeqState(lex=lex, line=line, names=node, asked=True)
            # the name ended (or, after a lone leading space, has yet to start:
            # the monitor fires again on the text as it now stands)
            return _SeqState(lex=lex, line=line)
        if token in self._dot_merged:
            opened = _member_start(state.lex, text)
            if opened is not None:
                # A dot and a name start in one token: continue the constraint
                # set up by the server's answer that let this token through.
                head, name_part, rest = opened
                trie = self._answers.get((prompt, self._generated_text(before) + head, self._deref_key, _AT_DOT))
                node = trie.follow(name_part.encode("utf-8")) if trie is not None and not rest else None
                if node is not None:
                    return _SeqState(lex=lex, line=line, names=node, asked=True)
        return _SeqState(lex=lex, line=line)

    # -- asking the server -----------------------------------------------------

    def _generated_text(self, gen) -> str:
        table = self.index.token_bytes
        return b"".join(table[int(t)] or b"" for t in gen).decode("utf-8", errors="replace")

    def _names_after(
        self, prompt: int, generated: str, monitors: tuple[Monitor, ...], trigger: Trigger
    ) -> NameTrie | None:
        """What `monitors` allow at `trigger` after `generated`: their names intersected."""
        generated += trigger.at
        key = (prompt, generated, tuple(m.name for m in monitors), trigger)
        if key in self._answers:
            return self._answers[key]
        document = self._prompts[prompt][1]
        started = time.perf_counter()
        answer: frozenset[str] | None = None
        open_start = True
        for monitor in monitors:  # all query the same text: the server gets one edit
            names = monitor.allowed_names(self.session, document, generated)
            if names is not None:  # None: no opinion, no restriction
                answer = names if answer is None else answer & names
                open_start = open_start and monitor.open_start
        self.stats.queries += 1
        self.stats.query_seconds.append(time.perf_counter() - started)
        trie = None
        if answer:
            shape = (answer, open_start, trigger.lead_space)
            trie = self._tries.get(shape)
            if trie is None:
                if len(self._tries) >= _MAX_TRIES:
                    self._tries.clear()
                trie = self._tries[shape] = NameTrie.build(answer, open_start, trigger.lead_space)
        self._answers[key] = trie
        return trie

    def _prompt_calls(self, prompt: int) -> tuple:
        """Calls left open by the prompt itself (completion often starts inside one), as tracks."""
        if prompt not in self._open_in_prompt:
            document = self._prompts[prompt][1]
            text = document.prefix
            opens = set(_unclosed_calls(text, self._scan("")))

            def signature_at(i: int):
                if i not in opens:
                    return None
                shifted = Document(document.path, text[: i + 1], text[i + 1 :] + document.suffix)
                return self._query_signature(shifted, "")

            self._open_in_prompt[prompt] = _walk_calls((), self._scan(""), "", text, signature_at)[0]
        return self._open_in_prompt[prompt]

    def _query_signature(self, document: Document, generated: str) -> Signature | None:
        started = time.perf_counter()
        sig = self._args.signature(self.session, document, generated)
        self.stats.queries += 1
        self.stats.query_seconds.append(time.perf_counter() - started)
        return sig

    def _signature_after(self, prompt: int, generated: str) -> Signature | None:
        """The callee's signature for a call whose `(` ends `generated` (cached per text)."""
        key = (prompt, generated)
        if key not in self._signatures:
            self._signatures[key] = self._query_signature(self._prompts[prompt][1], generated)
        return self._signatures[key]

    def _call_bans(self, prompt: int, gen, state: _SeqState, row_scores: torch.Tensor) -> list[int]:
        """Tokens that would break an open call's rules, or open a call and break its rules at once."""
        bans: list[int] = []
        if state.calls:
            key = (state.calls, state.lex)
            cached = self._call_cache.get(key)
            if cached is None:
                if len(self._call_cache) > 4096:
                    self._call_cache.clear()
                table = self.index.token_bytes
                cached = self._call_cache[key] = [
                    t for t in self._call_risky if _breaks(state.calls, state.lex, table[t].decode("utf-8", "replace"))
                ]
            bans.extend(cached)
        if state.names is None and opens_call(state.lex, state.line):
            if row_scores.device.type == "cpu" and row_scores.dtype in _NUMPY_DTYPES:
                row_scores = row_scores.detach().numpy()
            threshold = float(row_scores.max()) - self.merge_margin
            generated = None
            for tid in self._paren_open:
                value = float(row_scores[tid])
                if value == float("-inf"):
                    continue
                if value < threshold:  # unlikely: not worth a query; `(` alone stays open
                    bans.append(tid)
                    continue
                if generated is None:
                    generated = self._generated_text(gen)
                sig = self._signature_after(prompt, generated + "(")
                text = self.index.token_bytes[tid].decode("utf-8", "replace")
                if sig is not None and _breaks(state.calls, state.lex, text, opening=sig):
                    bans.append(tid)
        return bans

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
        openers = self._merge_openers(state.lex) if self._deref_monitors else None
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
            trie = self._names_after(prompt, generated + head, self._deref_monitors, _AT_DOT)
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


_PENDING = object()  # a call opens at the very end of the text: its signature is asked later


def _walk_calls(calls: tuple, lex: LexState, line: str, text: str, signature_at) -> tuple[tuple, bool]:
    """Follow `text` through the open calls, opening a track at each call's `(`.

    `signature_at(i)` gives the signature for a call opened by `text[i]`, None
    (not followed) or _PENDING (text ends there; ask later). Returns the calls
    still open and whether one is pending.
    """
    pending = False
    for i, ch in enumerate(text):
        if calls:
            calls, _ = advance_calls(calls, lex, ch, text[i + 1 : i + 2])
        if ch == "(" and opens_call(lex, line):
            sig = signature_at(i)
            if sig is _PENDING:
                pending = True
            elif sig is not None:
                calls = calls + (CallTrack(sig),)
        lex = lex.step(ch)
        line = "" if ch == "\n" else line + ch
    return calls, pending


def _unclosed_calls(text: str, lex: LexState) -> list[int]:
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


def _breaks(calls: tuple, lex: LexState, text: str, opening: Signature | None = None) -> bool:
    """True if reading `text` breaks a rule of an open call (or of the call its first `(` opens)."""
    for i, ch in enumerate(text):
        calls, bad = advance_calls(calls, lex, ch, text[i + 1 : i + 2])
        if bad:
            return True
        if i == 0 and opening is not None:
            calls = calls + (CallTrack(opening),)
        lex = lex.step(ch)
    return False


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
