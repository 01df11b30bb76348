"""Getting a CLI call ready: the model loads while the language server starts, with a note on a terminal.

Loading the model (a few seconds) and starting the server (one for jedi,
more for JDT.LS) take most of a call's time; they run side by side, and
each one's seconds are kept for `--json`.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import logging
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TextIO

from mgd.errors import MGDError

SERVER_NAMES = {"python": "jedi-language-server", "java": "Eclipse JDT.LS"}
_START_TIMEOUT = {"python": 30.0, "java": 120.0}


@dataclass
class Ready:
    """A loaded model and, for guided decoding, a started language-server session (None otherwise)."""

    model: object
    tokenizer: object
    session: object | None
    model_seconds: float
    server_seconds: float
    seconds: float  # wall time until both were ready

    def startup_record(self) -> dict:
        """Start-up seconds for `--json`."""
        return {
            "model": round(self.model_seconds, 3),
            "language_server": round(self.server_seconds, 3),
            "total": round(self.seconds, 3),
        }


class Note:
    """One line of progress on a terminal's stderr, erased when done; nothing when stderr is not a terminal."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.shown = _is_terminal(self.stream)
        self.text = ""  # what the line shows now

    def show(self, text: str) -> None:
        """Write `text` over the line (on a terminal only)."""
        if self.shown:
            self.text = text
            self._write(text)

    def clear(self) -> None:
        """Erase the line."""
        if self.shown:
            self.text = ""
            self._write("")

    @contextlib.contextmanager
    def showing(self, text: str) -> Iterator[None]:
        """Show `text` until the block ends; a log line written meanwhile goes above it, not onto its end."""
        self.show(text)
        root = logging.getLogger()
        # the handlers that print on the note's line (basicConfig's, on stderr)
        printing = [h for h in root.handlers if getattr(h, "stream", None) is self.stream] if self.shown else []
        erase, redraw = _EraseNote(self), _RedrawNote(self)
        for handler in printing:
            handler.addFilter(erase)
        if printing:
            root.addHandler(redraw)  # after them: root calls its handlers in order
        try:
            yield
        finally:
            root.removeHandler(redraw)
            for handler in printing:
                handler.removeFilter(erase)
            self.clear()

    def _write(self, text: str) -> None:
        self.stream.write("\r\033[K" + text)
        self.stream.flush()


class _EraseNote(logging.Filter):
    """Erases the note's line before a handler prints a record on it."""

    def __init__(self, note: Note) -> None:
        super().__init__()
        self.note = note

    def filter(self, record: logging.LogRecord) -> bool:
        if self.note.text:
            self.note._write("")
        return True


class _RedrawNote(logging.Handler):
    """Writes the note again under a record just printed."""

    def __init__(self, note: Note) -> None:
        super().__init__()
        self.note = note

    def emit(self, record: logging.LogRecord) -> None:
        if self.note.text:
            self.note._write(self.note.text)


@contextlib.contextmanager
def ready(
    model_path, repo, language: str, *, guided: bool = True, note: Note | None = None, engine: str | None = None
) -> Iterator[Ready]:
    """Load the model and, if `guided`, start the language server for `repo`; the session is closed on exit."""
    from mgd.lsp.project import project_session
    from mgd.lsp.session import ServerUnavailable
    from mgd.models import load_model

    note = note or Note()
    began = time.perf_counter()
    starting_what = f" and starting {SERVER_NAMES.get(language, 'the language server')}" if guided else ""
    with contextlib.ExitStack() as stack:
        showing = stack.enter_context(contextlib.ExitStack())  # the note: erased once both are ready, or on failure
        showing.enter_context(note.showing(f"mgd: loading the model{starting_what}..."))
        session, starting = None, None
        try:
            if guided:
                session = project_session(repo, language, start_timeout=_START_TIMEOUT.get(language, 30.0))
                stack.callback(session.close)
                pool = stack.enter_context(concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="mgd-start"))
                starting = pool.submit(_timed, session.start)
            model_began = time.perf_counter()
            model, tokenizer = load_model(model_path, engine)
            model_seconds = time.perf_counter() - model_began
            server_seconds = starting.result() if starting is not None else 0.0
        except ServerUnavailable as err:
            raise MGDError(str(err)) from None
        finally:
            if starting is not None:  # never close a session while its start is still running
                concurrent.futures.wait([starting])
            showing.close()
        yield Ready(model, tokenizer, session, model_seconds, server_seconds, time.perf_counter() - began)


def _timed(call) -> float:
    began = time.perf_counter()
    call()
    return time.perf_counter() - began


def _is_terminal(stream) -> bool:
    try:
        return stream.isatty() and os.environ.get("TERM") != "dumb"
    except (AttributeError, ValueError):
        return False
