"""Monitors' once-per-server questions, asked in the background the first time a guide meets a server.

Java's `new` monitor sweeps the classpath's types once per server: 26
completions, about 20 s on a large project. The evaluation waits for the
sweep before its first sample; an editor (`mgd serve`) or a `generate()`
caller cannot, and a sweep made inside a step outlasts the step's wait and
keeps the server busy for the steps after it. So the guide starts it here
when it first meets a server: each request takes the session's gate as a
prefetch does, after any step waiting for an answer, so no step is held
behind more than one request of the sweep. Until the sweep is done the
monitor leaves `new ` unconstrained rather than sweep again in the step.

The type checker beside jedi (`types`, Python) is asked per file, and a
file's first check resolves its imports, seconds to tens of seconds: each
new document's file is given to it in the background
(`prepare_checker_in_background`) when the guide meets the document.

A guide that asks nothing ahead (`prefetch=False`, or `MGD_PREFETCH=off`
when it was given no choice) starts no warm-up; the guide decides, so one
made with `prefetch=True` warms up whatever the environment says.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable, Sequence

from mgd.decoding.prefetch import gate_for
from mgd.monitors.base import Document

log = logging.getLogger("mgd")

# (session, its server's pid, monitor) warmed up or warming; a monitor keeps what it asked (see NewMonitor)
_started: set[tuple[int, int | None, int]] = set()
_running: list[threading.Thread] = []
_lock = threading.Lock()


def warm_up_in_background(session, monitors: Sequence[object], document: Document) -> threading.Thread | None:
    """Start the monitors' warm-ups for `session` on a daemon thread, once per server; the thread, or None if nothing to do."""
    if session is None:
        return None
    due = []
    with _lock:
        for monitor in monitors:
            key = (id(session), getattr(session, "pid", None), id(monitor))
            if getattr(monitor, "warms_up", False) and key not in _started:
                _started.add(key)
                due.append(monitor)
    if not due:
        return None
    thread = threading.Thread(target=_warm, args=(session, due, document), name="mgd-warm-up", daemon=True)
    with _lock:
        _running[:] = [t for t in _running if t.is_alive()] + [thread]
    thread.start()
    return thread


def wait_for_warm_ups(timeout: float) -> bool:
    """Wait up to `timeout` seconds for the background warm-ups started so far; True if none is still running."""
    deadline = time.monotonic() + timeout
    with _lock:
        threads = list(_running)
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return not any(thread.is_alive() for thread in threads)


def gated(session) -> Callable[[Callable[[], object]], object]:
    """How a background request is sent: through the session's gate, after any step waiting for it."""
    gate = gate_for(session)

    def send(ask: Callable[[], object]) -> object:
        gate.enter(foreground=False)
        try:
            return ask()
        finally:
            gate.leave()

    return send


def _warm(session, monitors: list, document: Document) -> None:
    send = gated(session)
    for monitor in monitors:
        started = time.perf_counter()
        try:
            monitor.warm_up(session, document, send)
        except Exception as err:  # noqa: BLE001 - an optimisation: the steps ask again, bounded
            log.warning("mgd: warming up %s in the background failed (%s)", monitor.name, err)
            continue
        log.info("mgd: %s warmed up in the background in %.1f s", monitor.name, time.perf_counter() - started)


def prepare_checker_in_background(session, document: Document) -> threading.Thread:
    """Start the type checker's first check of `document`'s file (with the document's text) on a daemon thread; the thread."""

    def prepare() -> None:
        from mgd.lsp.checker import checker_for

        try:
            checker = checker_for(session)
            if checker is not None:
                checker.prepare(document.path, document.prefix + "\n" + document.suffix)
        except Exception as err:  # noqa: BLE001 - an optimisation: the steps ask again, bounded
            log.warning("mgd: preparing the type checker in the background failed (%s)", err)

    thread = threading.Thread(target=prepare, name="mgd-checker-warm-up", daemon=True)
    thread.start()
    return thread
