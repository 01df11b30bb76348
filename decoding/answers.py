"""What the language server allows at a point of a row's text, asked once per distinct text.

Rows that agree on their text (beams, return sequences) share one query.
Name answers and call signatures are kept for one generation, keyed by
prompt and generated text; the name tries built from the answers outlive it,
since the same member lists come back and the masks cached on their nodes
are worth keeping. Whether a member's value is callable (`not_callable`) is
kept per generation too. Every query is counted and timed in the `StepStats`.
"""

from __future__ import annotations

import logging
import time
from typing import Callable

from mgd.decoding.call_rules import unclosed_calls, walk_calls
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
    ) -> None:
        self.session = session
        self.stats = stats
        self._prompts = prompts
        self._call_monitor = call_monitor
        self._scan = scan
        self._tries: dict[tuple[frozenset, bool, bool], NameTrie] = {}
        self.reset()

    def reset(self) -> None:
        """Forget the answers of the current generation (the tries stay)."""
        self._names: dict[tuple[int, str, tuple[str, ...], Trigger], NameTrie | None] = {}
        self._signatures: dict[tuple[int, str], Signature | None] = {}
        self._not_callable: dict[tuple[int, str, str], bool] = {}
        self._open_in_prompt: dict[int, tuple] = {}
        self._unanswered: set[tuple] = set()  # keys of `_names` / `_signatures` the server did not answer

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
        document = self._prompts.document(prompt)
        started = time.perf_counter()
        unanswered = getattr(self.session, "unanswered", 0)
        # all query the same text: the server gets one edit
        answer, open_start = allowed_together(monitors, self.session, document, generated)
        self.stats.queries += 1
        self.stats.query_seconds.append(time.perf_counter() - started)
        self._count_unanswered(key, unanswered)
        if log.isEnabledFor(logging.INFO):
            _log_names(document.prefix + generated, monitors, answer, key in self._unanswered, time.perf_counter() - started)
        trie = None
        if answer:
            # a `Names` answer carries member rules, which frozenset equality does not see
            rules = tuple(getattr(answer, rule, frozenset()) for rule in ("no_call", "checked", "hidden"))
            shape = (answer, open_start, trigger.lead_space) + rules
            trie = self._tries.get(shape)
            if trie is None:
                if len(self._tries) >= _MAX_TRIES:
                    self._tries.clear()
                no_call, checked, hidden = rules
                trie = self._tries[shape] = NameTrie.build(
                    answer, open_start, trigger.lead_space, no_call=no_call, checked=checked, hidden=hidden
                )
        self._names[key] = trie
        return trie

    def not_callable(self, prompt: int, generated: str, name: str, checker: Monitor) -> bool:
        """True if `checker` says the value of member `name` after `generated` (ending with its dot) is never callable.

        Cached per text for the generation; a check is a query, counted and timed.
        """
        key = (prompt, generated, name)
        if key not in self._not_callable:
            document = self._prompts.document(prompt)
            started = time.perf_counter()
            unanswered = getattr(self.session, "unanswered", 0)
            verdict = bool(checker.value_not_callable(self.session, document, generated, name))
            self.stats.queries += 1
            self.stats.query_seconds.append(time.perf_counter() - started)
            self._count_unanswered(key, unanswered)
            self._not_callable[key] = verdict
            if log.isEnabledFor(logging.INFO):
                where = (document.prefix + generated + name).rsplit("\n", 1)[-1].lstrip()[-40:]
                said = "not callable: no `(` after it" if verdict else "may be callable: `(` stays free"
                log.info("mgd: %s at %r: %s [%.0f ms]", checker.name, where, said, (time.perf_counter() - started) * 1000)
        return self._not_callable[key]

    def known_names(self, prompt: int, generated: str, monitor_names: tuple[str, ...], trigger: Trigger) -> NameTrie | None:
        """The answer `names_after` gave for monitors named `monitor_names`, if it was asked; never a query."""
        return self._names.get((prompt, generated + trigger.at, monitor_names, trigger))

    def signature_after(self, prompt: int, generated: str) -> Signature | None:
        """The callee's signature for a call whose `(` ends `generated` (cached per text)."""
        key = (prompt, generated)
        if key not in self._signatures:
            unanswered = getattr(self.session, "unanswered", 0)
            self._signatures[key] = self._query_signature(self._prompts.document(prompt), generated)
            self._count_unanswered(key, unanswered)
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
                return self._query_signature(shifted, "")

            self._open_in_prompt[prompt] = walk_calls((), self._scan(""), "", text, signature_at)[0]
        return self._open_in_prompt[prompt]

    def _count_unanswered(self, key: tuple, unanswered_before: int) -> None:
        """Count a query the session says it could not answer, and the row step it leaves unconstrained."""
        if getattr(self.session, "unanswered", 0) > unanswered_before:
            self._unanswered.add(key)
            self.stats.unanswered_queries += 1
            self.stats.unguided_steps += 1

    def _query_signature(self, document: Document, generated: str) -> Signature | None:
        started = time.perf_counter()
        sig = self._call_monitor.signature(self.session, document, generated)
        self.stats.queries += 1
        self.stats.query_seconds.append(time.perf_counter() - started)
        if log.isEnabledFor(logging.INFO):
            where = (document.prefix + generated).rsplit("\n", 1)[-1].lstrip()[-40:]
            said = f"parameters {', '.join(sig.positional) or '(none)'}" if sig is not None else "no signature, no constraint"
            log.info("mgd: %s at %r: %s [%.0f ms]", self._call_monitor.name, where, said, (time.perf_counter() - started) * 1000)
        return sig


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
