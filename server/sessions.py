"""One analysis server per workspace folder and language (jedi for Python, JDT.LS for Java).

A session restarts its server once by itself; after that it reports
`available == False` for good. The pool then starts a fresh session in the
background and, until it is up, hands out None: completions go on unguided
rather than wait for the analysis server.
"""

from __future__ import annotations

import concurrent.futures
import logging
import pathlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from mgd.lsp.project import project_session
from mgd.lsp.session import LanguageServerSession, ServerUnavailable

log = logging.getLogger("mgd.server")
RETRY_SECONDS = 30.0  # after a failed start, wait this long before trying again


@dataclass
class _Entry:
    session: LanguageServerSession | None = None
    starting: concurrent.futures.Future | None = None
    failed_at: float | None = None
    replacements: int = 0
    history: list[int] = field(default_factory=list)  # pids of servers replaced so far
    told: bool = False  # the user has been told guidance is off for this folder (once per outage)


class SessionPool:
    """Analysis servers keyed by workspace folder and language, started off the request path."""

    def __init__(
        self,
        factory=project_session,
        start_wait: float = 40.0,
        on_problem: Callable[[str], None] | None = None,
    ) -> None:
        self._factory = factory
        self._start_wait = start_wait
        # how the user hears that guidance is off (the server shows it in the editor); called from any thread
        self._on_problem = on_problem or (lambda message: log.warning("%s", message))
        self._lock = threading.Lock()
        self._entries: dict[tuple[pathlib.Path, str], _Entry] = {}
        self._starter = concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="mgd-jedi-start")
        self._closed = False

    def ensure(self, root: pathlib.Path, language: str = "python") -> None:
        """Start the folder's server in the background unless it is running or starting."""
        with self._lock:
            entry = self._entries.setdefault((root, language), _Entry())
            self._start_locked((root, language), entry)

    def get(self, root: pathlib.Path, language: str = "python") -> LanguageServerSession | None:
        """The folder's working session, or None (serve unguided) while a replacement starts or after a failed start.

        Only the very first start is waited for: a request made just after
        the editor connected should still be guided.
        """
        key = (root, language)
        with self._lock:
            entry = self._entries.setdefault(key, _Entry())
            session = entry.session
            if session is not None and not session.available:
                self._tell_locked(
                    entry, f"mgd: the {language} analysis server for {root} stopped answering; "
                    "completions are unguided until a fresh one is up"
                )
                entry.history.append(session.pid or -1)
                entry.session, entry.replacements = None, entry.replacements + 1
                self._starter.submit(_close_quietly, session)
                self._start_locked(key, entry)
                return None
            if session is not None:
                return session
            self._start_locked(key, entry)
            first_start = entry.replacements == 0 and entry.failed_at is None
            starting = entry.starting
        if first_start and starting is not None:
            try:
                return starting.result(self._start_wait)
            except Exception:  # noqa: BLE001 - a failed start means unguided, reported by the starter
                return None
        return None

    def discard(self, root: pathlib.Path) -> None:
        """Stop the folder's servers (the folder left the workspace)."""
        with self._lock:
            entries = [self._entries.pop(key) for key in list(self._entries) if key[0] == root]
        for entry in entries:
            if entry.session is not None:
                self._starter.submit(_close_quietly, entry.session)

    def status(self) -> list[dict]:
        """What each folder's analysis server is doing (for `mgd/status`)."""
        with self._lock:
            return [
                {
                    "root": str(root),
                    "language": language,
                    "available": bool(entry.session is not None and entry.session.available),
                    "starting": entry.starting is not None,
                    "pid": entry.session.pid if entry.session is not None else None,
                    "restarts": entry.session.restarts if entry.session is not None else 0,
                    "replacements": entry.replacements,
                    "replacedPids": list(entry.history),
                }
                for (root, language), entry in self._entries.items()
            ]

    def close(self) -> None:
        """Stop every server."""
        with self._lock:
            self._closed = True
            entries, self._entries = list(self._entries.values()), {}
        for entry in entries:
            if entry.starting is not None:
                entry.starting.cancel()
        self._starter.shutdown(wait=True, cancel_futures=True)
        for entry in entries:
            if entry.session is not None:
                _close_quietly(entry.session)

    # -- internals ---------------------------------------------------------

    def _start_locked(self, key: tuple[pathlib.Path, str], entry: _Entry) -> None:
        if self._closed or entry.session is not None or entry.starting is not None:
            return
        if entry.failed_at is not None and time.monotonic() - entry.failed_at < RETRY_SECONDS:
            return
        entry.starting = self._starter.submit(self._start, key, entry)

    def _tell_locked(self, entry: _Entry, message: str) -> None:
        """Tell the user guidance is off, once per outage (repeats only reach the log)."""
        if entry.told:
            log.info("%s", message)
            return
        entry.told = True
        self._on_problem(message)

    def _start(self, key: tuple[pathlib.Path, str], entry: _Entry) -> LanguageServerSession:
        root, language = key
        session = self._factory(root) if language == "python" else self._factory(root, language=language)
        try:
            session.start()
        except ServerUnavailable as err:
            _close_quietly(session)
            with self._lock:
                entry.starting, entry.failed_at = None, time.monotonic()
                self._tell_locked(entry, f"mgd: the {language} analysis server for {root} did not start ({err}); completions are unguided")
            raise
        with self._lock:
            entry.starting = None
            wanted = not self._closed and self._entries.get(key) is entry  # else closed or folder removed meanwhile
            if wanted:
                entry.session, entry.failed_at, entry.told = session, None, False
        if not wanted:
            _close_quietly(session)
            raise ServerUnavailable("the folder left the workspace")
        log.info("analysis server for %s is up (pid %s)", root, session.pid)
        return session


def _close_quietly(session: LanguageServerSession) -> None:
    try:
        session.close()
    except Exception as err:  # noqa: BLE001 - a dying server may fail to stop cleanly
        log.debug("closing an analysis server: %s", err)
