"""`Guide`: monitor-guided decoding, one row and one step at a time, free of any inference engine.

Each step, for every row (batch * beams * return sequences):
1. find the row's state from its own tokens, not its row index (beam search
   reorders rows): states are keyed by the row's prompt and generated ids, and
   a new state is derived from its parent's by reading one token;
2. if the text now ends at a trigger, ask the monitors for the allowed names
   (one query per distinct text, shared by rows that agree); where the
   answer hides names (dunders after `obj.`), the row's best token decides
   whether they stay open (`MemberRules.start`);
3. while a name is being written, keep only tokens that extend it toward an
   allowed name (`TokenIndex.allowed_mask`); in free text, let a token that
   carries a dot and a name start (`._x`, `.__`) through only if the server
   allows that name; inside a call, ban tokens that break its rules; after
   a member whose value the server says is not callable, ban a `(`
   (`MemberRules.bans`); after a member whose type does not fit where its
   value goes, ban what would end the expression (`ChainRules`); with
   `types`, ban what would end a call's argument after a plain name or a
   literal whose type the parameter cannot take (`ArgumentRules`); with `types` in
   Python, ban a `.` after a `self.name` that may be None there (`NoneRules`),
   and the end of a bare `return` where a value is declared (`ReturnRules`).

Server queries run off the critical path: once a row is advised, the guide
reads the row's most probable allowed token into its state (as the next step
will) and, if the text would then end at a trigger (or open a call), starts
that query in the background (`mgd.decoding.prefetch`, one worker, at most
`PER_STEP` a step, one per distinct row text) while the engine computes the
next logits. The next step takes the answer only for exactly the same key
(prompt, generated text, monitors, trigger), waits for one still running
rather than asking twice, and asks itself after a wrong guess: the advice
is the same with prefetching on or off, only the waiting changes
(`StepStats.prefetched`, `prefetch_hits`, `prefetch_misses`, `wait_seconds`).
Set `MGD_PREFETCH=off` to ask only when a step needs the answer.

The guide sees numpy only. In: a row's ids (prompt and generated, an int
array) and its scores (a float array; only their max, argmax and single entries
are read, so a row numpy cannot view in place may be passed as the engine has
it). Out: None (leave the row alone), a list of banned token ids, or a bool
mask of allowed ids over the index's vocabulary, which the engine fits to
its own score width (the mask is cached and shared: never write to it).
`mgd.decoding.processor` adapts the guide to transformers.

A vLLM logits-processor adapter would need, per request: its token ids
(prompt and output so far, as one numpy int array; rows are told apart by
a prompt part of one common width, so one guide per request, or per group
of requests with the same prompt, with `begin_step` called on each step's
ids); the request's logits row as a numpy view (`tensor.numpy()`, zero-copy
for a CPU float tensor; a host copy otherwise); and applying the advice to
that row in place (-inf at the banned ids, or wherever the mask is False).
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import Sequence

import numpy as np

from mgd.decoding.answers import Answers
from mgd.decoding.call_rules import CallRules
from mgd.decoding.warm_up import prepare_checker_in_background, wait_for_warm_ups, warm_up_in_background
from mgd.decoding.argument_rules import ArgumentRules
from mgd.decoding.none_rules import NoneRules
from mgd.decoding.return_rules import ReturnRules
from mgd.decoding.chain_rules import chain_rules_for
from mgd.decoding.member_rules import MemberRules
from mgd.decoding.merges import MergeRules
from mgd.decoding.prompts import Prompts
from mgd.decoding.row_state import RowState, TokenReader, start_state
from mgd.decoding.stats import StepStats
from mgd.decoding.token_index import TokenIndex, token_index_for
from mgd.decoding.token_text import text_of
from mgd.monitors import default_monitors, language as language_named
from mgd.monitors.base import Document, Monitor
from mgd.monitors.calls import CallMonitor, CallTrack
from mgd.monitors.compose import fired_together
from mgd.monitors.types import TypesMonitor

log = logging.getLogger("mgd")

Advice = list[int] | np.ndarray | None  # banned ids / bool mask of allowed ids / no change


class Guide:
    """Says, for each row and step, which tokens would name something the language server says does not exist.

    Arguments as for `MGDLogitsProcessor` (`tokenizer` is only read to build
    the token index when `index` is not given); `prefetch` turns queries
    ahead of the step on or off (None: as `$MGD_PREFETCH` says, on by default).
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
        prefetch: bool | None = None,
    ) -> None:
        # The session's language (jedi: python, JDT.LS: java) picks the scanner and default monitors.
        self.language = language or getattr(session, "language", None) or "python"
        self._scan = language_named(self.language).scan
        chosen = list(monitors) if monitors is not None else default_monitors(self.language)
        # The call monitor follows whole calls rather than one name: kept apart.
        self.call_monitor = next((m for m in chosen if isinstance(m, CallMonitor)), None)
        self.monitors = [m for m in chosen if not isinstance(m, CallMonitor)]
        self.merge_margin = merge_margin
        self.index = index or token_index_for(tokenizer)
        self._prompts = Prompts()
        # Python ends a statement at a line break; Java chains go on over lines
        self._chains = chain_rules_for(self.index.token_bytes, self.index.end_ids, newline_ends=self.language == "python")
        self.answers = Answers(
            session, self._prompts, StepStats(), self.call_monitor, self._scan, prefetch, chains=self._chains
        )
        self._merges = MergeRules(self.index, self.answers, self.monitors, self._scan)
        self._members = MemberRules(self.index, self.answers, self._merges.monitors)
        self._calls = CallRules(self.index.token_bytes, self.answers) if self.call_monitor is not None else None
        # a plain name or literal passed to a known parameter type: only with `types`, on calls `args` follows
        judge = next((m for m in self.monitors if isinstance(m, TypesMonitor)), None)
        follows = self._calls is not None and judge is not None
        self._arguments = ArgumentRules(self.index.token_bytes, self.answers, judge) if follows else None
        # `self.x.` where `x` may be None: Python, with `types`
        self._nones = NoneRules(self.index.token_bytes, self.answers, judge) if judge is not None and self.language == "python" else None
        # a bare `return` where the function is declared to return a value: Python, with `types`
        self._returns = ReturnRules(self.index.token_bytes, self.answers, judge) if self._nones is not None else None
        self._reader = TokenReader(self.index.token_bytes, self._merges, self._calls, self._chains)
        # set for soundness checks: `explained` then says, for the last row advised, which rule removed which ids
        self.explain = False
        self.explained: dict[str, object] = {}
        self.reset()

    def add_prompt(self, prompt_ids: Sequence[int] | None, document: Document) -> None:
        """Declare that a prompt (its token ids) stands for the text before `document`'s insertion point."""
        self._prompts.add(tuple(prompt_ids or ()), document, start_state(self._scan(document.prefix), document.prefix))
        self.reset()
        if self.answers.prefetching:  # what a monitor asks once per server, asked before a step needs it
            warm_up_in_background(self.session, self.monitors, document)
            if self._returns is not None:  # the rules that ask the type checker (Python, `types`): its first check of the file
                prepare_checker_in_background(self.session, document)

    def clear_prompts(self) -> None:
        """Forget every registered prompt (before registering the next batch's)."""
        self._prompts.clear()
        self.reset()

    def reset(self) -> None:
        """Forget per-sequence state, so the next step starts a new generation."""
        self._prompts.reset()
        self._forget_generation()

    @property
    def session(self):
        """The language-server session asked."""
        return self.answers.session

    @session.setter
    def session(self, session) -> None:
        self.answers.session = session

    @property
    def one_line(self) -> bool:
        """True while the generation ends at its first line break (an inline completion): a call closed to arguments may not break the line."""
        return self._calls is not None and self._calls.one_line

    @one_line.setter
    def one_line(self, on: bool) -> None:
        if self._calls is not None:
            self._calls.one_line = bool(on)

    @property
    def stats(self) -> StepStats:
        """What guidance has cost so far."""
        return self.answers.stats

    @stats.setter
    def stats(self, stats: StepStats) -> None:
        self.answers.stats = stats

    def finish(self) -> None:
        """Say that the generation has ended, so the queries guessed for a step that never came count as misses."""
        self.answers.finish()

    def settle(self, timeout: float = 10.0) -> None:
        """Wait (at most `timeout` seconds) for queries started ahead to end, so the stats count them."""
        self.answers.settle(timeout)
        wait_for_warm_ups(timeout)

    def begin_step(self, ids: np.ndarray) -> None:
        """Start a decoding step over rows `ids` (rows, length), before `advise` is asked about each row."""
        if self._prompts.step(ids):  # a new generation (the row matches are reset already)
            self._forget_generation()
        self.answers.next_step()
        self._parents, self._states = self._states, {}
        self._looked_ahead: set[tuple[int, bytes]] = set()
        self.released = []

    def advise(self, row_ids: np.ndarray, row_scores: np.ndarray) -> Advice:
        """For one row of this step: None (no change), a list of banned ids, or a bool mask of allowed ids.

        `released[i]` then lists, for the i-th row advised this step, the ids
        only the member rules removed (a `(` after a name that takes none): a
        caller that finds nothing else allowed (an output format demanding a
        call) may give those back.
        """
        self._released_now: list[int] = []
        try:
            advice = self._advise(row_ids, row_scores)
        except Exception as err:  # noqa: BLE001 - guidance must never stop generation
            self.answers.stats.unguided_steps += 1  # reported as a step guidance did not cover
            if not self._warned_error:
                self._warned_error = True
                log.warning("mgd: guidance failed (%s: %s); the row goes on unguided", type(err).__name__, err)
            return None
        finally:
            self.released.append(self._released_now)
        if self.answers.prefetching:
            self._look_ahead(row_ids, row_scores, advice)
        return advice

    def _look_ahead(self, row_ids: np.ndarray, row_scores: np.ndarray, advice: Advice) -> None:
        """Start the query the row's likeliest allowed token would need at the next step, while the engine computes it."""
        try:
            prompt = self._prompts.prompt_of(row_ids)
            gen = row_ids[self._prompts.width :]
            key = (prompt, gen.tobytes())
            state = self._states.get(key)
            if prompt is None or state is None or key in self._looked_ahead:
                return  # unguided, or a row whose text another row of this step already looked ahead for
            self._looked_ahead.add(key)
            token = best_allowed(row_scores, advice)
            if token is None:
                return
            # the state the next step will read for this token, without a second scan of the text
            after = self._reader.read(prompt, gen, state, token)
            fired = None if after.asked else fired_together(self.monitors, after.lex, after.line)
            if fired is None and not after.call_pending:
                return
            text = text_of(self.index.token_bytes, np.append(gen, token))
            if fired is not None:
                self.answers.prefetch_names(prompt, text, fired[1], fired[0])
            if after.call_pending:
                self.answers.prefetch_signature(prompt, text)
        except Exception as err:  # noqa: BLE001 - a guess that cannot be made costs nothing
            log.debug("mgd: no query ahead for this row (%s: %s)", type(err).__name__, err)

    def _advise(self, row_ids: np.ndarray, row_scores: np.ndarray) -> Advice:
        prompt = self._prompts.prompt_of(row_ids)
        if prompt is None:
            return None
        gen = row_ids[self._prompts.width :]
        key = (prompt, gen.tobytes())
        state = self._states.get(key) or self._state_for(prompt, gen)
        if not state.asked:
            fired = fired_together(self.monitors, state.lex, state.line)
            if fired:
                trigger, monitors = fired
                trie = self.answers.names_after(prompt, text_of(self.index.token_bytes, gen), monitors, trigger)
                # hidden names stay open only if the row's best token (or the typed word) is headed for one
                names = self._members.start(trie, row_scores, self._typed_ahead(prompt, gen, trie))
                if names is None and trie is not None:
                    self.answers.stats.freed_starts += 1
                elif names is not trie:
                    self.answers.stats.narrowed_starts += 1
                state = replace(state, names=names, asked=True)
        if state.call_pending:
            sig = self.answers.signature_after(prompt, text_of(self.index.token_bytes, gen))
            state = replace(state, calls=state.calls + ((CallTrack(sig),) if sig else ()), call_pending=False)
        self._states[key] = state
        stats = self.answers.stats
        stats.steps += 1
        if state.names is None:
            keep = self._merges.banned(prompt, gen, state.lex, row_scores, self.merge_margin) or None
        else:
            started = time.perf_counter()
            keep = self.index.allowed_mask(state.names)
            stats.constrained_steps += 1
            stats.mask_seconds.append(time.perf_counter() - started)
            if state.names.terminal:
                # a complete name may be followed by `.get` in one token: judged by the dot's answer, as in free text
                merged = self._merges.allowed_after_name(prompt, gen, state.lex, row_scores, self.merge_margin)
                if merged:
                    keep = keep.copy()  # the trie node's cached mask is shared
                    keep[merged] = True
        parts = {"names": keep, "members": self._members.bans(prompt, gen, state, row_scores, self.merge_margin)}
        self._released_now = parts["members"] + self._members.masked_calls(state)
        if self._released_now:
            stats.call_banned_steps += 1
        if self._calls is not None:
            parts["calls"] = self._calls.bans(prompt, gen, state, row_scores, self.merge_margin)
        parts["chain"] = self._chain_bans(state)
        if self._arguments is not None:
            parts["arguments"] = self._arguments.bans(prompt, gen, state, row_scores, self.merge_margin)
        if self._nones is not None:
            parts["nones"] = self._nones.bans(prompt, gen, state, row_scores, self.merge_margin)
        if self._returns is not None:
            parts["returns"] = self._returns.bans(prompt, gen, state)
        if self.explain:
            self.explained = dict(parts, argument_verdicts=self._arguments.verdicts if self._arguments else [])
        bans = [t for rule, ids in parts.items() if rule != "names" for t in ids]
        if not bans:
            return keep
        if keep is None or isinstance(keep, list):
            return (keep or []) + bans
        keep = keep.copy()  # the mask is cached on the trie node, shared by every row there
        keep[bans] = False
        return keep

    def _chain_bans(self, state: RowState) -> list[int]:
        """Tokens that would end the expression after a member whose type does not fit there."""
        node = state.names
        if node is not None and node.terminal and node.no_end is not None:
            return self._chains.bad(node.chain_start)
        if state.chain is not None:
            self.answers.stats.chain_steps += 1
            return self._chains.bad(state.chain)
        return []

    def _typed_ahead(self, prompt: int, gen: np.ndarray, trie) -> bytes | None:
        """What the document's typed word still has to write after `gen`, if the row is within it (else None)."""
        if trie is None or not trie.hidden:
            return None
        typed = getattr(self._prompts.document(prompt), "typed", "")
        if not typed:
            return None
        written = text_of(self.index.token_bytes, gen)
        return typed[len(written) :].encode("utf-8") if typed.startswith(written) and len(written) < len(typed) else None

    def _forget_generation(self) -> None:
        self.released: list[list[int]] = []  # per row advised this step: what only the member rules removed
        self.answers.reset()
        self._parents: dict[tuple[int, bytes], RowState] = {}  # the previous step's states
        self._states: dict[tuple[int, bytes], RowState] = {}  # this step's
        self._looked_ahead: set[tuple[int, bytes]] = set()  # this step's row texts whose next query was guessed
        self._warned_error = False

    def _state_for(self, prompt: int, gen: np.ndarray) -> RowState:
        parent = self._parents.get((prompt, gen[:-1].tobytes())) if len(gen) else None
        if parent is not None:
            return self._reader.read(prompt, gen[:-1], parent, int(gen[-1]))
        # No parent (first step, or a caller that skipped steps): replay the row.
        state = self._prompts.start(prompt)
        if self._calls is not None:
            state = replace(state, calls=self.answers.prompt_calls(prompt))
        return self._reader.replay(prompt, gen, state)


def best_allowed(scores, advice: Advice) -> int | None:
    """The id of the best-scored token `advice` leaves allowed in row `scores`; None if none is, or the row is not numpy."""
    if not isinstance(scores, np.ndarray) or scores.ndim != 1 or not len(scores):
        return None  # a row the engine hands over as its own tensor: no guess (guessing only saves time)
    best = int(scores.argmax())
    if advice is None:
        return best
    if isinstance(advice, list):
        if not advice:
            return best
        scores = scores.copy()
        scores[advice] = -np.inf
    else:
        width = min(len(advice), len(scores))  # ids past the mask are not allowed
        if best < width and advice[best]:
            return best
        scores = np.where(advice[:width], scores[:width], -np.inf)
    best = int(scores.argmax())
    return best if scores[best] > -np.inf else None
