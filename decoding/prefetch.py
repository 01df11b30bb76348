"""Server queries started ahead of the step that needs them, on one background worker.

While the engine computes a step's logits the guide guesses the next text
(the row's best allowed token) and, if that text would end at a trigger,
asks the server about it here. The next step takes the answer if it needs
exactly that key, waits for it if it is still running, and otherwise asks
itself. A guess that turns out wrong is a discarded answer, never used for
another text: answers are found by their full key (prompt, generated text,
monitors, trigger).

A session takes one query at a time: each query sends its hypothetical
text as an edit and then asks, so two queries at once on one document
would answer each other's text. A `Gate` per session lets one query through
at a time, the foreground before queued prefetches. Every wait of the
foreground is bounded by the session's own bound on one request
(`request_timeout` + 1 s): a hung prefetch costs a step its guidance, never
the generation. Nothing here touches `StepStats`; the foreground counts
what it takes or discards (`Answers`), so no count is written by two threads.

`MGD_PREFETCH=off` turns prefetching off (default on).
"""

from __future__ import annotations

import concurrent.futures
import logging
import os
import queue
import threading
import time
import weakref
from dataclasses import dataclass
from typing import Callable, Hashable

log = logging.getLogger("mgd")

PER_STEP = 4  # prefetches started per step at most (and in flight at once): a wide beam must not flood the server
_IDLE_SECONDS = 5.0  # an idle worker thread ends; the next prefetch starts another
_DEFAULT_BOUND = 5.0  # a session that states no request timeout


def prefetch_enabled() -> bool:
    """False if `MGD_PREFETCH` says off (off, 0, false, no); prefetching is on by default."""
    return os.environ.get("MGD_PREFETCH", "on").strip().lower() not in ("off", "0", "false", "no")


def wait_bound(session) -> float:
    """Longest the foreground waits for an answer another thread is getting: the session's bound on one request."""
    timeout = getattr(session, "request_timeout", None)
    return (float(timeout) if isinstance(timeout, (int, float)) else _DEFAULT_BOUND) + 1.0


@dataclass
class Reply:
    """What one query gave: its value, how long it took, whether the session said it went unanswered, or its error."""

    value: object = None
    seconds: float = 0.0
    unanswered: bool = False
    error: BaseException | None = None
    requests: int = 0  # requests the query sent to the server (the session's count, where it keeps one)


def timed(session, ask: Callable[[], object]) -> Reply:
    """Run query `ask` on `session` (the caller holds its gate) and say what it gave."""
    before, sent = _counts(session)
    started = time.perf_counter()
    value = ask()
    unanswered, requests = _counts(session)
    return Reply(value, time.perf_counter() - started, unanswered > before, requests=requests - sent)


def _counts(session) -> tuple[int, int]:
    """Requests unanswered and sent so far by `session`'s server and the type checker beside it (`mgd.lsp.checker`), if any."""
    unanswered, requests = getattr(session, "unanswered", 0), getattr(session, "requests", 0)
    checker = getattr(session, "type_checker", None)
    if checker is not None:
        unanswered, requests = unanswered + checker.unanswered, requests + checker.requests
    return unanswered, requests


class Gate:
    """Lets one query at a time reach a session; a waiting foreground query goes before queued prefetches."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._busy = False
        self._foreground_waiting = 0
        self._stuck = False  # the foreground waited out its bound on the query now holding the session

    @property
    def stuck(self) -> bool:
        """True while the query that outlasted a foreground wait still holds the session: waiting again is no use."""
        return self._stuck

    def note_stuck(self) -> None:
        """The foreground gave up on an answer another thread is getting: later waits give up at once until it ends."""
        with self._cond:
            self._stuck = self._busy

    def enter(self, foreground: bool, timeout: float | None = None) -> bool:
        """Wait for the session to be free and take it; False if `timeout` passed first (at once if it is stuck)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            if foreground and self._stuck and self._busy:
                return False
            if foreground:
                self._foreground_waiting += 1
            try:
                while self._busy or (not foreground and self._foreground_waiting):
                    left = None if deadline is None else deadline - time.monotonic()
                    if left is not None and left <= 0:
                        self._stuck = self._busy
                        return False
                    self._cond.wait(left)
                self._busy = True
                return True
            finally:
                if foreground:
                    self._foreground_waiting -= 1
                    self._cond.notify_all()  # a prefetch held back for us may go on

    def leave(self) -> None:
        """Give the session back."""
        with self._cond:
            self._busy = self._stuck = False
            self._cond.notify_all()


_gates: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_gates_lock = threading.Lock()
_unweakable: dict[int, Gate] = {}


def gate_for(session) -> Gate:
    """The one gate of `session`, shared by every guide that asks it."""
    with _gates_lock:
        try:
            gate = _gates.get(session)
            if gate is None:
                gate = _gates[session] = Gate()
        except TypeError:  # a session that takes no weak reference: kept by id
            gate = _unweakable.setdefault(id(session), Gate())
        return gate


@dataclass
class _Job:
    key: Hashable
    session: object
    ask: Callable[[], object]
    step: int
    future: concurrent.futures.Future


class Prefetcher:
    """Queries run ahead on one daemon thread, found again by their key."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._pending: dict[Hashable, _Job] = {}  # started, not yet taken or discarded
        self._discarded: list[_Job] = []  # dropped while running: counted once they end
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.step = 0
        self.started_this_step = 0

    def next_step(self) -> list[_Job]:
        """Start a new step; returns the jobs it discards: started two steps back, the step they were for is over."""
        self.step += 1
        self.started_this_step = 0
        stale = [key for key, job in self._pending.items() if job.step < self.step - 1]
        return [self._discard(key) for key in stale]

    def pending(self, key: Hashable) -> bool:
        """True if a prefetch for `key` is started and not yet taken."""
        return key in self._pending

    def start(self, key: Hashable, session, ask: Callable[[], object]) -> bool:
        """Run `ask` (a query on `session`) in the background under `key`; False if off, known or over the cap."""
        if not self.enabled or key in self._pending or self.started_this_step >= PER_STEP:
            return False
        if sum(not job.future.done() for job in self._pending.values()) >= PER_STEP:
            return False
        job = _Job(key, session, ask, self.step, concurrent.futures.Future())
        self._pending[key] = job
        self.started_this_step += 1
        with self._lock:
            self._jobs.put(job)
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name="mgd-prefetch", daemon=True)
                self._thread.start()
        return True

    def take(self, key: Hashable, bound: float) -> tuple[Reply | None, float, bool | None]:
        """The prefetched reply for `key` (waiting up to `bound`): (reply or None, seconds waited, whether one was pending).

        A reply still missing after `bound` is None with True: the job is
        discarded and the caller must not ask the session meanwhile. A job
        that has not started (queued behind another) is withdrawn: None with
        None, and the caller asks itself, ahead of what is queued.
        """
        job = self._pending.pop(key, None)
        if job is None:
            return None, 0.0, False
        if job.future.cancel():
            return None, 0.0, None
        started = time.perf_counter()
        try:
            reply = job.future.result(timeout=bound)
        except concurrent.futures.TimeoutError:
            if not job.future.cancel():
                self._discarded.append(job)
            return None, time.perf_counter() - started, True
        except concurrent.futures.CancelledError:
            return None, time.perf_counter() - started, True
        return reply, time.perf_counter() - started, True

    def drop(self) -> list[_Job]:
        """Discard every pending prefetch (a new generation, or new prompts); returns them."""
        return [self._discard(key) for key in list(self._pending)]

    def finished_discards(self) -> list[Reply]:
        """Replies of discarded jobs that have ended since the last call (their queries still count)."""
        done = [job for job in self._discarded if job.future.done()]
        self._discarded = [job for job in self._discarded if not job.future.done()]
        return [job.future.result() for job in done if not job.future.cancelled()]

    def settle(self, timeout: float) -> None:
        """Wait up to `timeout` for every started prefetch to end (tests, and callers about to read the stats)."""
        deadline = time.monotonic() + timeout
        for job in list(self._pending.values()) + list(self._discarded):
            left = deadline - time.monotonic()
            if left <= 0:
                return
            concurrent.futures.wait([job.future], timeout=left)

    def _discard(self, key: Hashable) -> _Job:
        job = self._pending.pop(key)
        if not job.future.cancel():  # running or done: its query happened, counted when it ends
            self._discarded.append(job)
        return job

    def _work(self) -> None:
        while True:
            try:
                job = self._jobs.get(timeout=_IDLE_SECONDS)
            except queue.Empty:
                with self._lock:
                    if self._jobs.empty():
                        self._thread = None
                        return
                continue
            self._run(job)

    def _run(self, job: _Job) -> None:
        gate = gate_for(job.session)
        gate.enter(foreground=False)
        try:
            # cancelled while queued or while the foreground had the session: no query
            if not job.future.set_running_or_notify_cancel():
                return
            try:
                reply = timed(job.session, job.ask)
            except BaseException as err:  # noqa: BLE001 - kept in the reply; the foreground asks again
                reply = Reply(error=err)
            job.future.set_result(reply)
        finally:
            gate.leave()
