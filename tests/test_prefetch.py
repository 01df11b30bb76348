"""Server queries started ahead of the step that needs them (issue 12 point 4), with the real jedi server and tokenizer.

The guide guesses the next text from the row's best allowed token and asks
about it in the background; the next step takes that answer only for the
very same text. The advice must not depend on prefetching, a wrong guess must
never be used, and a background query that fails or hangs must cost no more
than the session's bound on one request.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from mgd.completion import complete_document
from mgd.decoding.guide import Guide, best_allowed
from mgd.decoding.prefetch import PER_STEP, prefetch_enabled
from mgd.decoding.processor import MGDLogitsProcessor
from mgd.lsp.session import CompletionItem, CompletionList
from mgd.monitors.base import Document

HEAD = "from bookshop.models import Book, Catalogue\n\n\n"
# A completion where the default model writes `catalogue.` itself, twice, after the prompt.
TITLES = "\n\ndef titles(catalogue: Catalogue) -> list[str]:\n    return ["


class Recording:
    """A real session that records the text before the cursor of every completion query, and how many ran at once."""

    def __init__(self, session) -> None:
        self._session = session
        self.asked: list[str] = []
        self.most_at_once = 0
        self._running = 0
        self._lock = threading.Lock()

    def __getattr__(self, name):
        return getattr(self._session, name)

    def completions(self, path, text, offset):
        with self._lock:
            self._running += 1
            self.most_at_once = max(self.most_at_once, self._running)
        try:
            self.asked.append(text[:offset])
            return self._session.completions(path, text, offset)
        finally:
            with self._lock:
                self._running -= 1


class Faulty:
    """A fake session (fault injection only): the background thread's queries raise or hang; the foreground's answer."""

    language = "python"
    request_timeout = 0.3
    unanswered = 0

    def __init__(self, fault: str) -> None:
        self.fault = fault
        self.release = threading.Event()
        self.foreground_queries = 0

    def completions(self, path, text, offset):
        if threading.current_thread().name == "mgd-prefetch":
            if self.fault == "raise":
                raise RuntimeError("injected fault")
            self.release.wait(30.0)  # hangs far past the session's bound
            return None
        self.foreground_queries += 1
        # as jedi lists an object: its own members and the dunders every object has
        return CompletionList([CompletionItem("lookup_isbn", 3, "lookup_isbn"), CompletionItem("entries", 6, "entries"), CompletionItem("__class__", 7, "__class__")])

    def signature_help(self, path, text, offset):
        return None

    def definition(self, path, text, offset):
        return None


def _ids(tokenizer, text: str) -> list[int]:
    return tokenizer.encode(text, add_special_tokens=False)


def _guide(tokenizer, session, prefix: str, path: str, prefetch: bool) -> tuple[Guide, np.ndarray]:
    guide = Guide(tokenizer, session, prefetch=prefetch)
    prompt = _ids(tokenizer, prefix)
    guide.add_prompt(prompt, Document(path, prefix, "\n"))
    return guide, np.array([prompt])


def _scores(width: int, best: int | None = None) -> np.ndarray:
    scores = np.zeros(width, dtype=np.float32)
    if best is not None:
        scores[best] = 10.0
    return scores


def _allowed(guide: Guide, advice) -> set[bytes]:
    table = guide.index.token_bytes
    if advice is None:
        return set()
    return {table[t] for t in np.flatnonzero(advice) if table[t]}


def _starts(allowed: set[bytes], name: str) -> bool:
    """True if some allowed token starts writing `name` (two characters at least)."""
    return any(len(t) >= 2 and name.encode().startswith(t) for t in allowed)


def test_switch_reads_the_environment(monkeypatch):
    monkeypatch.delenv("MGD_PREFETCH", raising=False)
    assert prefetch_enabled()
    monkeypatch.setenv("MGD_PREFETCH", "off")
    assert not prefetch_enabled()


def test_best_allowed_follows_the_advice():
    scores = np.array([0.0, 5.0, 3.0, 1.0], dtype=np.float32)
    assert best_allowed(scores, None) == 1
    assert best_allowed(scores, [1]) == 2
    assert best_allowed(scores, np.array([True, False, False, True])) == 3
    assert best_allowed(scores, np.array([False, False, False])) is None  # the mask is narrower than the row
    assert best_allowed([0.0, 1.0], None) is None  # not numpy: no guess


def test_default_model_gives_the_same_output_with_and_without_prefetch(real_model, bookshop, session, monkeypatch):
    model, tokenizer = real_model
    path = bookshop / "bookshop" / "report.py"
    document = Document(str(path), path.read_text() + TITLES, "\n")
    runs = {}
    for mode in ("off", "on"):
        monkeypatch.setenv("MGD_PREFETCH", mode)
        processor = MGDLogitsProcessor(tokenizer, session)
        completion = complete_document(document, model=model, tokenizer=tokenizer, session=session, processor=processor, max_new_tokens=24)
        processor._guide.settle()
        runs[mode] = completion[0].text, processor.stats
    (text_off, off), (text_on, on) = runs["off"], runs["on"]
    assert text_off.count("catalogue.") >= 2, text_off  # the premise: the model writes the dot itself
    assert text_on == text_off
    assert (on.steps, on.constrained_steps, on.unguided_steps) == (off.steps, off.constrained_steps, off.unguided_steps)
    assert off.prefetched == off.prefetch_hits == 0
    assert on.prefetch_hits >= 1 and on.prefetched == on.prefetch_hits + on.prefetch_misses
    assert on.queries >= off.queries  # every query counts, prefetched or not
    print(f"prefetch: {on.prefetched} started, {on.prefetch_hits} hits, {on.prefetch_misses} misses; "
          f"waited {sum(on.wait_seconds) * 1000:.0f} ms with, {sum(off.wait_seconds) * 1000:.0f} ms without")


def test_a_stale_prefetch_is_never_used(tokenizer, bookshop, session):
    # step 0: the best token `).` would give `str(c).` (a str); the token appended is `.`, giving
    # `str(c.` (a Catalogue): step 1 must follow Catalogue's members, never str's
    recording = Recording(session)
    path = str(bookshop / "bookshop" / "stale.py")
    prefix = HEAD + "def f(c: Catalogue):\n    return str(c"
    guide, rows = _guide(tokenizer, recording, prefix, path, prefetch=True)
    close_dot, dot = tokenizer.convert_tokens_to_ids(")."), tokenizer.convert_tokens_to_ids(".")
    width = len(guide.index.token_bytes)
    guide.begin_step(rows)
    guide.advise(rows[0], _scores(width, best=close_dot))
    assert guide.stats.prefetched == 1
    guide.settle()
    assert recording.asked[-1] == prefix + ")."  # the guess was asked ahead

    rows = np.concatenate([rows, [[dot]]], axis=1)
    guide.begin_step(rows)
    allowed = _allowed(guide, guide.advise(rows[0], _scores(width)))
    assert recording.asked[-1] == prefix + "."  # B's own query, after the guess
    assert _starts(allowed, "lookup_isbn")  # Catalogue's
    assert not _starts(allowed, "upper") and not _starts(allowed, "strip")  # str's
    assert guide.stats.prefetch_hits == 0

    guide.begin_step(np.concatenate([rows, [[tokenizer.convert_tokens_to_ids("entries")]]], axis=1))
    assert guide.stats.prefetch_misses == 1  # the guess for A, discarded once its step was over
    assert recording.most_at_once == 1


def test_a_right_guess_is_taken_and_gives_the_same_mask(tokenizer, bookshop, session):
    path = str(bookshop / "bookshop" / "right.py")
    prefix = HEAD + "def f(c: Catalogue):\n    return c"
    dot = tokenizer.convert_tokens_to_ids(".")
    masks = {}
    for prefetch in (False, True):
        recording = Recording(session)
        guide, rows = _guide(tokenizer, recording, prefix, path, prefetch=prefetch)
        width = len(guide.index.token_bytes)
        guide.begin_step(rows)
        guide.advise(rows[0], _scores(width, best=dot))
        rows2 = np.concatenate([rows, [[dot]]], axis=1)
        guide.begin_step(rows2)
        masks[prefetch] = guide.advise(rows2[0], _scores(width))
        assert recording.asked.count(prefix + ".") == 1  # asked once, ahead or not
        assert guide.stats.prefetch_hits == int(prefetch) and guide.stats.queries == 1
    assert masks[True] is not None and np.array_equal(masks[True], masks[False])


def test_a_wide_step_starts_few_prefetches(tokenizer, bookshop, session):
    path = str(bookshop / "bookshop" / "wide.py")
    prefix = HEAD + "def f(c: Catalogue, b: Book):\n    return "
    guide, rows = _guide(tokenizer, Recording(session), prefix, path, prefetch=True)
    width = len(guide.index.token_bytes)
    names = [n for n in ("c", "b", "x", "y", "z", "a", "d", "e") if tokenizer.convert_tokens_to_ids(n) is not None]
    rows = np.concatenate([np.repeat(rows, len(names), axis=0), [[tokenizer.convert_tokens_to_ids(n)] for n in names]], axis=1)
    guide.begin_step(rows[:, :-1])
    for row in rows[:, :-1]:
        guide.advise(row, _scores(width))
    guide.begin_step(rows)
    dot = tokenizer.convert_tokens_to_ids(".")
    for row in list(rows) + list(rows):  # each text twice, as beams that agree
        guide.advise(row, _scores(width, best=dot))
    assert guide.stats.prefetched == PER_STEP
    guide.reset()
    guide.settle()
    assert guide.stats.prefetch_misses == PER_STEP  # dropped by the reset, never used


@pytest.mark.parametrize("fault", ["raise", "hang"])
def test_a_failing_background_query_costs_at_most_the_bound(tokenizer, bookshop, fault):
    faulty = Faulty(fault)
    prefix = HEAD + "def f(c: Catalogue):\n    return c"
    guide, rows = _guide(tokenizer, faulty, prefix, str(bookshop / "bookshop" / "fault.py"), prefetch=True)
    width = len(guide.index.token_bytes)
    dot = tokenizer.convert_tokens_to_ids(".")
    try:
        guide.begin_step(rows)
        guide.advise(rows[0], _scores(width, best=dot))
        assert guide.stats.prefetched == 1
        rows = np.concatenate([rows, [[dot]]], axis=1)
        guide.begin_step(rows)
        started = time.perf_counter()
        advice = guide.advise(rows[0], _scores(width))
        waited = time.perf_counter() - started
        assert waited < faulty.request_timeout + 1.0 + 0.5  # the session's bound on one request, and a margin
        assert guide.stats.prefetch_misses == 1 and guide.stats.prefetch_hits == 0
        if fault == "raise":  # the foreground asks again and gets its answer: the same as without prefetching
            assert faulty.foreground_queries == 1
            assert _starts(_allowed(guide, advice), "entries") and not _starts(_allowed(guide, advice), "upper")
        else:  # the session is still taken: this step goes unguided, as on a timeout
            assert advice is None and faulty.foreground_queries == 0
            # (the dot-merged tokens' checks on the same step give up at once, not after another bound)
            assert guide.stats.unanswered_queries >= 1 and guide.stats.unguided_steps >= 1
        # generation goes on: the next step, and a new generation, are advised without error
        rows = np.concatenate([rows, [[tokenizer.convert_tokens_to_ids("entries")]]], axis=1)
        guide.begin_step(rows)
        guide.advise(rows[0], _scores(width))
        guide.reset()
    finally:
        faulty.release.set()
    guide.settle()


def test_a_queued_prefetch_is_withdrawn_rather_than_waited_for():
    from mgd.decoding.prefetch import Prefetcher, gate_for

    class Session:  # a stand-in: only the gate and the call matter here
        request_timeout = 5.0

    session, ran = Session(), []
    gate = gate_for(session)
    assert gate.enter(foreground=False)  # a warm-up's request holds the session
    try:
        ahead = Prefetcher(True)
        assert ahead.start("key", session, lambda: ran.append(1))
        started = time.perf_counter()
        reply, waited, pending = ahead.take("key", bound=5.0)
        assert (reply, waited, pending) == (None, 0.0, None)  # withdrawn at once: the caller asks ahead of the queue
        assert time.perf_counter() - started < 0.5
    finally:
        gate.leave()
    ahead.settle(2.0)
    time.sleep(0.2)
    assert ran == []  # the withdrawn job never reached the session


def test_a_guide_told_to_prefetch_warms_up_whatever_the_environment_says(monkeypatch):
    from mgd.decoding import warm_up

    class Sweeping:
        name, warms_up = "sweep", True

        def __init__(self):
            self.swept = threading.Event()

        def warm_up(self, session, document, send):
            send(self.swept.set)

    monkeypatch.setenv("MGD_PREFETCH", "off")  # the guide's own `prefetch=True` decides, not this
    monitor, session = Sweeping(), object()
    thread = warm_up.warm_up_in_background(session, [monitor], Document("a.py", "", ""))
    assert thread is not None and monitor.swept.wait(10)
    assert warm_up.warm_up_in_background(session, [monitor], Document("a.py", "", "")) is None  # once per server
