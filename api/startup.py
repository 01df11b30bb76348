"""Getting a CLI call ready: the model loads while the language server starts, with a note on a terminal.

Loading the model (a few seconds) and starting the server (one for jedi,
more for JDT.LS) take most of a call's time; they run side by side, and
each one's seconds are kept for `--json`.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
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

    def show(self, text: str) -> None:
        """Write `text` over the line (on a terminal only)."""
        if self.shown:
            self.stream.write("\r\033[K" + text)
            self.stream.flush()

    def clear(self) -> None:
        """Erase the line."""
        if self.shown:
            self.stream.write("\r\033[K")
            self.stream.flush()


@contextlib.contextmanager
def ready(model_path, repo, language: str, *, guided: bool = True, note: Note | None = None) -> Iterator[Ready]:
    """Load the model and, if `guided`, start the language server for `repo`; the session is closed on exit."""
    from mgd.lsp.session import LanguageServerSession, ServerUnavailable
    from mgd.models import load_model

    note = note or Note()
    began = time.perf_counter()
    starting_what = f" and starting {SERVER_NAMES.get(language, 'the language server')}" if guided else ""
    note.show(f"mgd: loading the model{starting_what}...")
    with contextlib.ExitStack() as stack:
        session, starting = None, None
        if guided:
            session = LanguageServerSession(repo, language=language, start_timeout=_START_TIMEOUT.get(language, 30.0))
            stack.callback(session.close)
            pool = stack.enter_context(concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="mgd-start"))
            starting = pool.submit(_timed, session.start)
        try:
            model_began = time.perf_counter()
            model, tokenizer = load_model(model_path)
            model_seconds = time.perf_counter() - model_began
            server_seconds = starting.result() if starting is not None else 0.0
        except ServerUnavailable as err:
            raise MGDError(str(err)) from None
        finally:
            if starting is not None:  # never close a session while its start is still running
                concurrent.futures.wait([starting])
            note.clear()
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
