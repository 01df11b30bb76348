"""What the language server allows at a point of a row's text, asked once per distinct text.

Rows that agree on their text (beams, return sequences) share one query.
Name answers and call signatures are kept for one generation, keyed by
prompt and generated text; the name tries built from the answers outlive it,
since the same member lists come back and the masks cached on their nodes
are worth keeping. Whether a member's value is callable (`not_callable`) is
kept per generation too. Every query is counted and timed in the `StepStats`.

A names or signature query may have been started ahead by the guide
(`prefetch_names`, `prefetch_signature`; `mgd.decoding.prefetch`): the step
that needs it takes that answer only for exactly the same key, waits for it
if it is still running, and otherwise asks itself. Every query goes through
the session's gate, one at a time, and every wait is bounded.

Answers the server gave also go into `KeptAnswers`, which outlive the
generation (`mgd.decoding.kept_answers`): a later generation over the same
document and text, or a stable receiver met again (an import line's
qualified name, Java `this.`), takes them without a query.
"""

from __future__ import annotations

import logging
import time
from typing import Callable

from mgd.decoding.call_rules import unclosed_calls, walk_calls
from mgd.decoding.chain_rules import CLOSE, COMMA, SUMS, ChainRules
from mgd.decoding.kept_answers import KeptAnswers, stable_receiver
from mgd.decoding.prefetch import Prefetcher, Reply, gate_for, prefetch_enabled, timed, wait_bound
from mgd.decoding.prompts import Prompts
from mgd.decoding.stats import StepStats
from mgd.decoding.token_index import NameTrie
from mgd.monitors.base import Document, Monitor, ScanState, Trigger
from mgd.monitors.calls import CallMonitor, Signature
from mgd.monitors.compose import allowed_together

_MAX_TRIES = 512  # distinct member lists whose tries (and masks) are kept

log = logging.getLogger("mgd")


class Answers:
    """The server's answers for the rows of one generation: allowed names and callee signatures."""

    def __init__(
        self,
        session,
        prompts: Prompts,
        stats: StepStats,
        call_monitor: CallMonitor | None,
        scan: Callable[[str], ScanState],
        prefetch: bool | None = None,
        chains: ChainRules | None = None,
    ) -> None:
        self.session = session
        self._chains = chains  # what a `no_end` name bans after it (`mgd.decoding.chain_rules`); None: no such rule
        self.stats = stats
        self._prompts = prompts
        self._call_monitor = call_monitor
        self._scan = scan
        self._tries: dict[tuple[frozenset, bool, bool], NameTrie] = {}
        self.kept = KeptAnswers()
        # prefetch None: as $MGD_PREFETCH says (on by default)
        self._ahead = Prefetcher(prefetch_enabled() if prefetch is None else prefetch)
        self.reset()

    def reset(self) -> None:
        """Forget the answers of the current generation (the tries stay)."""
        self._names: dict[tuple[int, str, tuple[str, ...], Trigger], NameTrie | None] = {}
        self._signatures: dict[tuple[int, str], Signature | None] = {}
        self._not_callable: dict[tuple[int, str, str], bool] = {}
        self._name_types: dict[tuple[int, str], dict[str, str] | None] = {}
        self._optional: dict[tuple[int, str], bool | None] = {}
        self._checked: dict[tuple[int, str], str | None] = {}
        self._returns: dict[tuple[int, str, int], bool] = {}
        self._open_in_prompt: dict[int, tuple] = {}
        self._unanswered: set[tuple] = set()  # keys of `_names` / `_signatures` the server did not answer
        self._warned_late = False
        # prefetches for texts of the generation (or prompts) being forgotten are never used
        self.stats.prefetch_misses += len(self._ahead.drop())

    @property
    def prefetching(self) -> bool:
        """True if queries are started ahead of the step that needs them."""
        return self._ahead.enabled

    @prefetching.setter
    def prefetching(self, on: bool) -> None:
        self._ahead.enabled = on

    def next_step(self) -> None:
        """A decoding step begins: prefetches the last step did not take are discarded."""
        self.stats.prefetch_misses += len(self._ahead.next_step())
        self._count_discards()

    def finish(self) -> None:
        """The generation has ended: the guesses it left are misses now (a query still running is counted when it ends)."""
        self.stats.prefetch_misses += len(self._ahead.drop())
        self._count_discards()

    def settle(self, timeout: float = 10.0) -> None:
        """Wait (up to `timeout`) for prefetches in flight to end, and count the queries of discarded ones."""
        self._ahead.settle(timeout)
        self._count_discards()

    def prefetch_names(self, prompt: int, generated: str, monitors: tuple[Monitor, ...], trigger: Trigger) -> None:
        """Start asking, in the background, what `names_after` would ask for the same arguments (unless known or started)."""
        generated += trigger.at
        key = (prompt, generated, tuple(m.name for m in monitors), trigger)
        if key in self._names or self._ahead.pending(("names", key)):
            return
        session, document = self.session, self._prompts.document(prompt)
        if any(self._kept(k)[0] for k in self._kept_name_keys(document, generated, key, monitors)):
            return
        if self._ahead.start(("names", key), session, lambda: allowed_together(monitors, session, document, generated)):
            self.stats.prefetched += 1

    def prefetch_signature(self, prompt: int, generated: str) -> None:
        """Start asking, in the background, what `signature_after` would ask for `generated` (unless known or started)."""
        key = (prompt, generated)
        if self._call_monitor is None or key in self._signatures or self._ahead.pending(("sig", key)):
            return
        session, document, monitor = self.session, self._prompts.document(prompt), self._call_monitor
        if self._kept(("sig", _identity(document), generated))[0]:
            return
        if self._ahead.start(("sig", key), session, lambda: monitor.signature(session, document, generated)):
            self.stats.prefetched += 1

    def _kept_name_keys(self, document: Document, generated: str, key: tuple, monitors: tuple[Monitor, ...]) -> list[tuple]:
        """Where a names answer for `generated` (trigger text included) is kept: its exact text, and its stable receiver if any.

        A monitor whose answer depends on more than the receiver (`by_receiver` False: `types` reads where
        the value goes) keys by text only, but on an import line, where no value goes.
        """
        _, _, monitor_names, trigger = key
        keys = [("names", _identity(document), generated, monitor_names, trigger)]
        stable = stable_receiver(getattr(self.session, "language", "python"), document.prefix, generated)
        if stable is not None and (stable[0] == "import" or all(getattr(m, "by_receiver", True) for m in monitors)):
            # `this` means the class around the prompt: the document's own; an import line's name, the project's
            where = _identity(document) if stable[0] == "this" else document.path
            keys.append(("names", where, stable, monitor_names, trigger))
        return keys

    def names_after(
        self, prompt: int, generated: str, monitors: tuple[Monitor, ...], trigger: Trigger
    ) -> NameTrie | None:
        """What `monitors` allow together at `trigger` after `generated`, as a trie; None for no constraint."""
        generated += trigger.at
        key = (prompt, generated, tuple(m.name for m in monitors), trigger)
        if key in self._names:
            if key in self._unanswered:
                self.stats.unguided_steps += 1
            return self._names[key]
        document, session = self._prompts.document(prompt), self.session
        kept_keys = self._kept_name_keys(document, generated, key, monitors)
        for kept_key in kept_keys:
            found, trie = self._kept(kept_key)
            if found:
                self.stats.kept_hits += 1
                if log.isEnabledFor(logging.INFO):
                    where = (document.prefix + generated).rsplit("\n", 1)[-1].lstrip()[-40:]
                    log.info("mgd: %s at %r: the answer kept from an earlier query", "+".join(key[2]), where)
                self._names[key] = trie
                return trie
        # all query the same text: the server gets one edit
        reply = self._obtain(("names", key), lambda: allowed_together(monitors, session, document, generated))
        answer, open_start = reply.value or (None, True)
        self._count_unanswered(key, reply)
        if log.isEnabledFor(logging.INFO):
            _log_names(document.prefix + generated, monitors, answer, key in self._unanswered, reply.seconds)
        trie = None
        if answer:
            # a `Names` answer carries member rules, which frozenset equality does not see
            rules = tuple(
                getattr(answer, rule, frozenset()) for rule in ("no_call", "checked", "hidden", "no_end", "no_end_sums", "no_close", "no_comma")
            )
            goes_on = trigger.lead_space and getattr(trigger, "word_may_go_on", True)
            shape = (answer, open_start, trigger.lead_space, goes_on) + rules
            trie = self._tries.get(shape)
            if trie is None:
                if len(self._tries) >= _MAX_TRIES:
                    self._tries.clear()
                no_call, checked, hidden, no_end, sums, no_close, no_comma = rules
                chains = self._chains if no_end or no_close or no_comma else None
                trie = self._tries[shape] = NameTrie.build(
                    answer, open_start, trigger.lead_space, word_goes_on=goes_on, no_call=no_call, checked=checked, hidden=hidden,
                    no_end=no_end, rest_ends=chains.rest_ends() if chains else None,
                    no_end_sums=sums, rest_ends_sums=chains.rest_ends(SUMS) if chains and sums else None,
                    no_close=no_close, rest_ends_close=chains.rest_ends(CLOSE) if chains and no_close else None,
                    no_comma=no_comma, rest_ends_comma=chains.rest_ends(COMMA) if chains and no_comma else None,
                )
        self._names[key] = trie
        if _answered(reply):
            for kept_key in kept_keys:
                self.kept.put(kept_key, trie)
        return trie

    def not_callable(self, prompt: int, generated: str, name: str, checker: Monitor) -> bool:
        """True if `checker` says the value of member `name` after `generated` (ending with its dot) is never callable.

        Cached per text (and kept beyond the generation); a check is a query, counted and timed.
        """
        key = (prompt, generated, name)
        if key not in self._not_callable:
            document, session = self._prompts.document(prompt), self.session

            def ask() -> tuple[bool, bool]:
                reply = self._obtain(None, lambda: checker.value_not_callable(session, document, generated, name))
                verdict = bool(reply.value)
                self._count_unanswered(key, reply)
                if log.isEnabledFor(logging.INFO):
                    where = (document.prefix + generated + name).rsplit("\n", 1)[-1].lstrip()[-40:]
                    said = "not callable: no `(` after it" if verdict else "may be callable: `(` stays free"
                    log.info("mgd: %s at %r: %s [%.0f ms]", checker.name, where, said, reply.seconds * 1000)
                return verdict, _answered(reply)

            self._not_callable[key] = self._remembered(("callable", _identity(document), generated, name, checker.name), ask)
        return self._not_callable[key]

    def name_types(self, prompt: int, generated: str, monitor: Monitor) -> dict[str, str] | None:
        """The declared types of the variables and fields named like the name `generated` ends with (`monitor.name_types`; cached, kept)."""
        return self._fact(self._name_types, "name types", prompt, generated, lambda s, d: monitor.name_types(s, d, generated), monitor)

    def optional_member(self, prompt: int, generated: str, monitor: Monitor) -> bool:
        """True if `monitor` says `self.name` ending `generated` may be None here: no `.` may follow it (`monitor.optional_member`; cached, kept)."""
        found = self._fact(self._optional, "may be None", prompt, generated, lambda s, d: monitor.optional_member(s, d, generated), monitor)
        return bool(found)

    def returns_a_value(self, prompt: int, generated: str, monitor: Monitor) -> bool:
        """True if `monitor` says the function around the last line of `generated` must return a value (`monitor.returns_a_value`; text only, cached per line)."""
        head = generated[: generated.rfind("\n") + 1]
        line = generated[len(head) :]
        key = (prompt, head, len(line) - len(line.lstrip()))  # the answer holds for the whole line: its text and indent
        if key not in self._returns:
            self._returns[key] = monitor.returns_a_value(self.session, self._prompts.document(prompt), generated)
        return self._returns[key]

    def checked_type(self, prompt: int, generated: str, monitor: Monitor) -> str | None:
        """The type checker's type of the name `generated` ends with (`monitor.checked_type`; cached, kept)."""
        return self._fact(self._checked, "checked type", prompt, generated, lambda s, d: monitor.checked_type(s, d, generated), monitor)

    def _fact(self, cache: dict, kind: str, prompt: int, generated: str, question: Callable, monitor: Monitor):
        """`question(session, document)` for the text `generated` of `prompt`, asked once per text (a query, timed, counted, kept)."""
        key = (prompt, generated)
        if key not in cache:
            document, session = self._prompts.document(prompt), self.session

            def ask() -> tuple[object, bool]:
                reply = self._obtain(None, lambda: question(session, document))
                self._count_unanswered(key, reply)
                if log.isEnabledFor(logging.INFO):
                    where = (document.prefix + generated).rsplit("\n", 1)[-1].lstrip()[-40:]
                    log.info("mgd: %s at %r: %s %s [%.0f ms]", monitor.name, where, kind, reply.value, reply.seconds * 1000)
                return reply.value, _answered(reply)

            cache[key] = self._remembered((kind, _identity(document), generated), ask)
        return cache[key]

    def known_names(self, prompt: int, generated: str, monitor_names: tuple[str, ...], trigger: Trigger) -> NameTrie | None:
        """The answer `names_after` gave for monitors named `monitor_names`, if it was asked; never a query."""
        return self._names.get((prompt, generated + trigger.at, monitor_names, trigger))

    def signature_after(self, prompt: int, generated: str) -> Signature | None:
        """The callee's signature for a call whose `(` ends `generated` (cached per text)."""
        key = (prompt, generated)
        if key not in self._signatures:
            document = self._prompts.document(prompt)
            self._signatures[key] = self._remembered(
                ("sig", _identity(document), generated), lambda: self._query_signature(document, generated, ("sig", key))
            )
        elif key in self._unanswered:
            self.stats.unguided_steps += 1
        return self._signatures[key]

    def known_signature(self, prompt: int, generated: str) -> Signature | None:
        """The signature `signature_after` gave for `generated`, if it was asked; never a query."""
        return self._signatures.get((prompt, generated))

    def prompt_calls(self, prompt: int) -> tuple:
        """Calls left open by the prompt itself (completion often starts inside one), as tracks."""
        if prompt not in self._open_in_prompt:
            document = self._prompts.document(prompt)
            text = document.prefix
            opens = set(unclosed_calls(text, self._scan("")))

            def signature_at(i: int):
                if i not in opens:
                    return None
                shifted = Document(document.path, text[: i + 1], text[i + 1 :] + document.suffix)
                return self._query_signature(shifted, "")[0]

            self._open_in_prompt[prompt] = walk_calls((), self._scan(""), "", text, signature_at)[0]
        return self._open_in_prompt[prompt]

    def _remembered(self, kept_key: tuple, ask: Callable[[], tuple[object, bool]]):
        """The answer kept under `kept_key` (a kept hit), else `ask()`'s value, kept when `ask` says the server answered."""
        found, value = self._kept(kept_key)
        if found:
            self.stats.kept_hits += 1
            return value
        value, answered = ask()
        if answered:
            self.kept.put(kept_key, value)
        return value

    def _kept(self, key: tuple) -> tuple[bool, object]:
        """A kept answer for `key`, only while the server that gave it still runs (a dead one must be asked, and noticed)."""
        if not getattr(self.session, "running", True):
            return False, None
        return self.kept.get(key)

    def _count_unanswered(self, key: tuple, reply: Reply) -> None:
        """Count a query the session says it could not answer, and the row step it leaves unconstrained."""
        if reply.unanswered:
            self._unanswered.add(key)
            self.stats.unanswered_queries += 1
            self.stats.unguided_steps += 1

    def _query_signature(self, document: Document, generated: str, key: tuple | None = None) -> tuple[Signature | None, bool]:
        """The callee's signature after `generated`, and whether the server answered (a timeout is no answer)."""
        session, monitor = self.session, self._call_monitor
        reply = self._obtain(key, lambda: monitor.signature(session, document, generated))
        if key is not None:
            self._count_unanswered(key[1], reply)
        sig = reply.value
        if log.isEnabledFor(logging.INFO):
            where = (document.prefix + generated).rsplit("\n", 1)[-1].lstrip()[-40:]
            said = f"parameters {', '.join(sig.positional) or '(none)'}" if sig is not None else "no signature, no constraint"
            log.info("mgd: %s at %r: %s [%.0f ms]", monitor.name, where, said, reply.seconds * 1000)
        return sig, _answered(reply)

    def _obtain(self, key: tuple | None, ask: Callable[[], object]) -> Reply:
        """The reply to query `ask`: the one prefetched under `key` if there is one, else asked now (one query at a time)."""
        self._count_discards()
        gate = gate_for(self.session)
        bound = wait_bound(self.session)
        if key is not None:
            # behind a query that already outlasted a wait, this one would too
            reply, waited, was_pending = self._ahead.take(key, 0.0 if gate.stuck else bound)
            if was_pending is None:  # withdrawn before it ran: a warm-up or another guess held the queue
                self.stats.prefetch_misses += 1
            elif was_pending:
                if reply is not None and reply.error is None:
                    self.stats.prefetch_hits += 1
                    self.stats.wait_seconds.append(waited)
                    self._count_query(reply)
                    return reply
                self.stats.prefetch_misses += 1
                if reply is None:  # still running: the session is taken, and a second query would cross it
                    gate.note_stuck()
                    return self._late(waited)
                # the prefetch failed: asked again, so the query's own error (if any) goes where it always went
        return self._ask_now(ask, bound)

    def _ask_now(self, ask: Callable[[], object], bound: float) -> Reply:
        """Ask `ask` in the foreground once the session is free (a prefetch may hold it); waits at most `bound` for it."""
        gate = gate_for(self.session)
        started = time.perf_counter()
        if not gate.enter(foreground=True, timeout=bound):
            return self._late(time.perf_counter() - started)
        try:
            reply = timed(self.session, ask)
        finally:
            gate.leave()
        self.stats.wait_seconds.append(time.perf_counter() - started)
        self._count_query(reply)
        return reply

    def _late(self, waited: float) -> Reply:
        """No answer within the bound (a prefetch still holds the session): no constraint, as for a timeout."""
        self.stats.wait_seconds.append(waited)
        if not self._warned_late:
            self._warned_late = True
            log.warning("mgd: a language-server query is still running after %.1f s; the row goes on unguided", waited)
        return Reply(None, waited, unanswered=True)

    def _count_query(self, reply: Reply) -> None:
        self.stats.queries += 1
        self.stats.server_requests += reply.requests
        self.stats.query_seconds.append(reply.seconds)

    def _count_discards(self) -> None:
        """Count the queries of discarded prefetches that have ended: they were asked, and took their time."""
        for reply in self._ahead.finished_discards():
            if reply.error is None:
                self._count_query(reply)
                if reply.unanswered:
                    self.stats.unanswered_queries += 1


def _log_names(text: str, monitors: tuple[Monitor, ...], answer, unanswered: bool, seconds: float) -> None:
    """One `-v` line per query: where, which monitors, and what the server's answer allows."""
    where = text.rsplit("\n", 1)[-1].lstrip()[-40:]
    if unanswered:
        outcome = "no answer from the language server: this step is unconstrained"
    elif answer is None:
        outcome = "no constraint"
    else:
        shown = ", ".join(sorted(answer)[:5]) + (", ..." if len(answer) > 5 else "")
        outcome = f"{len(answer)} name{'' if len(answer) == 1 else 's'} allowed ({shown})"
        hidden = getattr(answer, "hidden", ())
        if hidden:
            outcome += f", {len(hidden)} of them only if the model starts one (dunders, mro, ...)"
    names = "+".join(m.name for m in monitors)
    log.info("mgd: %s at %r: %s [%.0f ms]", names, where, outcome, seconds * 1000)


def _identity(document: Document) -> tuple[str, str, str]:
    """What a query's answer depends on in the document: its path and the text around the insertion point."""
    return (document.path, document.prefix, document.suffix)


def _answered(reply: Reply) -> bool:
    """True if the server gave `reply` (no timeout, no error): only such answers are kept."""
    return reply.error is None and not reply.unanswered
