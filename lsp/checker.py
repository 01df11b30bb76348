"""basedpyright beside jedi: the type the checker gives an expression where it stands in the edited text.

jedi lists what exists, but it does not narrow (`if self._tg is None:`),
gives no type to an unannotated attribute (`self._ref = weakref.ref(agent)`)
and reads annotations, not values. The checker that CR is measured with
does all three: a hover on the last character of an expression answers
`(variable) _ref: ReferenceType[Agent]`, the type at that point. One
`basedpyright-langserver` process per session, started at the first
question, with the session's venv and source folders; documents live only
in its memory, as for jedi. Its signature help knows what jedi does not
read: the `__init__` a pydantic model or a dataclass is given
(`signatures_at`).

Every wait is bounded: at most one request is in flight, and one that
takes longer than `request_timeout` answers nothing (the server keeps
working, so the next question is quick; one asked while it still runs gets
no answer at once). A file's first question waits up to `first_timeout`:
the checker then resolves the file's imports, seconds on a large package.
A server that does not start, dies, or fails `max_failures` times in a row
is given up with one warning: the rules that ask it then say nothing.
`MGD_TYPE_CHECKER=off` keeps it from starting.
"""

from __future__ import annotations

import collections
import concurrent.futures
import logging
import os
import pathlib
import re
import shutil
import sysconfig
import threading
from collections.abc import Sequence

from mgd.lsp.positions import offset_to_position
from mgd.lsp.process_guard import guarded

__all__ = ["TypeChecker", "checker_for", "find_checker"]

log = logging.getLogger("mgd")

# the first line of a hover on a value: `(variable) name: T`, `(parameter) x: T`, `(property) p: T`; a member
# of an unknown receiver reads `(function) task: Unknown`
_VALUE_HOVER = re.compile(r"^\((?:variable|parameter|property|constant|function|method)\) [\w.]+: (?P<type>.+)$")
_FUNCTION_HOVER = re.compile(r"^\((?:function|method)\) (?:async )?def ")


_making = threading.Lock()


def find_checker() -> str | None:
    """Path of basedpyright-langserver: beside this Python, else on PATH."""
    beside = os.path.join(sysconfig.get_path("scripts"), "basedpyright-langserver")
    return beside if os.path.exists(beside) else shutil.which("basedpyright-langserver")


def checker_for(session) -> TypeChecker | None:
    """The checker kept beside a Python `session` (made at the first call; None where there is none to make)."""
    from mgd.lsp.session import LanguageServerSession

    if not isinstance(session, LanguageServerSession) or session.language != "python":
        return None  # a stand-in session (fault injection) gets no real checker beside it
    if os.environ.get("MGD_TYPE_CHECKER", "").lower() in ("off", "0", "no", "false"):
        return None
    checker = getattr(session, "type_checker", None)
    if checker is None:
        with _making:  # a warm-up thread and a step may ask at once: one checker per session
            checker = getattr(session, "type_checker", None)
            if checker is None:
                checker = TypeChecker(session.root, python=session.environment, extra_paths=session.extra_paths)
                session.type_checker = checker  # closed with the session
    return None if checker.given_up else checker


class TypeChecker:
    """basedpyright-langserver for one project root: `type_at` answers a hover's type, within a bounded wait."""

    def __init__(
        self,
        root: str | os.PathLike,
        *,
        python: str | os.PathLike | None = None,
        extra_paths: Sequence[str | os.PathLike] = (),
        request_timeout: float = 3.0,
        first_timeout: float = 20.0,
        start_timeout: float = 30.0,
        max_failures: int = 3,
        binary: str | None = None,
    ) -> None:
        self.root = str(pathlib.Path(root).resolve())
        self.python = str(python) if python else None
        self.extra_paths = [str(p) for p in extra_paths]
        self.request_timeout = request_timeout
        self.first_timeout = first_timeout
        self.start_timeout = start_timeout
        self.max_failures = max_failures
        self.binary = binary
        self.given_up = False
        self.requests = 0  # requests sent (hover, signature help)
        self.unanswered = 0  # questions that got no type in time (or none at all because one was still running)
        self._client = None
        self._failures = 0
        self._in_flight: concurrent.futures.Future | None = None
        self._documents: dict[str, tuple[str, int]] = {}  # uri -> (text the server holds, version)
        self._checked: set[str] = set()  # uris the server has answered for: its first check is done
        self._prepared: set[str] = set()  # uris whose first check was begun in the background (`prepare`)
        self._waited: set[str] = set()  # of those, the ones a question has waited for once already
        self._lock = threading.Lock()
        self._stop = threading.Event()

    def prepare(self, path: str | os.PathLike, text: str) -> None:
        """Have the server check `text` as the file `path` now, answering nothing, so a first question on that file is quick.

        A file's first check resolves its imports (35 s for genai-prices'
        `data_snapshot.py` under load): begun before decoding needs it, it
        runs while the model reads its prompt. Returns once the request is
        sent (starting the server first, up to `start_timeout`): call it off
        the decoding thread.
        """
        with self._lock:
            if self.given_up or not self._started():
                return
            uri = pathlib.Path(path).resolve().as_uri()
            if uri in self._checked or (self._in_flight is not None and not self._in_flight.done()):
                return
            try:
                self._sync(path, text)
                self.requests += 1
                _, future = self._client.request_async("textDocument/diagnostic", {"textDocument": {"uri": uri}})
            except Exception as err:  # noqa: BLE001 - a dead server is found by the next question
                self._failed(f"checking {uri} failed: {err!r}")
                return
            future.add_done_callback(lambda done: self._checked.add(uri) if not done.cancelled() and not done.exception() else None)
            self._in_flight = future
            self._prepared.add(uri)

    def type_at(self, path: str | os.PathLike, text: str, offset: int) -> str | None:
        """The checker's type of the name whose last character is `text[offset - 1]`, as it prints it (None: no answer).

        The answer counts only if its range is that name: in text broken by
        the unfinished line, a hover may land on another node.
        """
        tail = max(0, offset - 200)  # the name is at the end: no need to scan a whole (maybe large) file for it
        name = re.search(r"[A-Za-z_]\w*$", text[tail:offset])
        if name is None:
            return None
        answer = self._ask("textDocument/hover", path, text, offset - 1)
        hovered = answer.get("range") if isinstance(answer, dict) else None
        if hovered != {"start": offset_to_position(text, tail + name.start()), "end": offset_to_position(text, offset)}:
            return None
        return hover_type(answer)

    def signatures_at(self, path: str | os.PathLike, text: str, offset: int) -> list[str] | None:
        """The labels of the signatures the checker gives for the call open at `offset` (`(*, name: str, ...) -> Tool`); None: no answer."""
        answer = self._ask("textDocument/signatureHelp", path, text, offset)
        found = answer.get("signatures") if isinstance(answer, dict) else None
        return [str(s.get("label", "")) for s in found if isinstance(s, dict)] if isinstance(found, list) else None

    def members_at(self, path: str | os.PathLike, text: str, offset: int) -> dict[str, int] | None:
        """The names the checker completes at `offset` of `text` (a member access's dot), each with its item kind; None: no answer."""
        answer = self._ask("textDocument/completion", path, text, offset)
        items = answer.get("items") if isinstance(answer, dict) else answer
        if not isinstance(items, list):
            return None
        return {str(i["label"]): int(i.get("kind") or 0) for i in items if isinstance(i, dict) and isinstance(i.get("label"), str)}

    def _ask(self, method: str, path: str | os.PathLike, text: str, offset: int) -> object:
        """One request at `offset` of `text` (pushed first if the server holds another); None when it is not answered in time."""
        with self._lock:
            if self.given_up or not self._started():
                return None
            uri = pathlib.Path(path).resolve().as_uri()
            # a file's first check resolves its imports (seconds): asked once per file, patiently, unless
            # `prepare` began it; then the thread asking (the guide's one worker, which jedi's questions
            # queue behind too) waits for that check once, as long as any question, and then no more
            # (genai-prices: 20 s waits, one after another, left whole rows unguided)
            hurried = uri in self._checked or uri in self._prepared
            patience = self.request_timeout if hurried else self.first_timeout
            try:
                if self._in_flight is not None and not self._in_flight.done():
                    # a slow check is still running: wait for it only as long as this question would
                    if uri in self._checked:
                        wait = 0.0
                    elif uri in self._prepared:
                        wait = 0.0 if uri in self._waited else patience
                        self._waited.add(uri)
                    else:
                        wait = patience
                    concurrent.futures.wait([self._in_flight], wait)
                    if not self._in_flight.done():
                        self.unanswered += 1
                        return None
                self._sync(path, text)
                position = offset_to_position(text, offset)
                self.requests += 1
                _, self._in_flight = self._client.request_async(method, {"textDocument": {"uri": uri}, "position": position})
                answer = self._in_flight.result(patience)
                self._checked.add(uri)
            except concurrent.futures.TimeoutError:
                self.unanswered += 1
                return None  # the server goes on; the next question finds it done
            except Exception as err:  # noqa: BLE001 - a dead or confused server is no reason to stop decoding
                self.unanswered += 1
                self._failed(f"{method} failed: {err!r}")
                return None
            self._failures = 0
            return answer

    def close(self) -> None:
        """Stop the server (killing it if it will not stop)."""
        client, self._client = self._client, None
        self.given_up = True
        if client is not None:
            client.shutdown(timeout=5.0)
        self._stop.set()

    # -- the process ---------------------------------------------------------------

    def _started(self) -> bool:
        if self._client is not None:
            return True
        binary = self.binary or find_checker()
        if binary is None:
            self._give_up("basedpyright-langserver is not installed (pip install basedpyright)")
            return False
        started: concurrent.futures.Future = concurrent.futures.Future()
        # the guard kills the server when the thread that started it ends: this one lives as long as the checker
        threading.Thread(target=self._keep, args=(binary, started), name="mgd-type-checker", daemon=True).start()
        try:
            self._client = started.result(self.start_timeout)
        except Exception as err:  # noqa: BLE001 - any start failure means no checker
            self._give_up(f"basedpyright-langserver did not start: {err!r}")
            return False
        return True

    def _keep(self, binary: str, started: concurrent.futures.Future) -> None:
        from mgd.server.client import LspClient

        client = None
        try:
            client = LspClient.spawn(guarded([binary, "--stdio"]), on_request=self._answer)
            client.notifications = collections.deque(maxlen=8)  # diagnostics after every edit: not read, not kept
            # the server asks for its settings (`_answer`) only from a client that says it can answer
            client.initialize(
                self.root,
                capabilities={
                    "workspace": {"configuration": True},
                    "textDocument": {"hover": {}, "signatureHelp": {}, "diagnostic": {}, "completion": {}},
                },
            )
        except Exception as err:  # noqa: BLE001 - reported by the waiting caller
            if client is not None:
                client.kill()
            started.set_exception(err)
            return
        started.set_result(client)
        self._stop.wait()

    def _answer(self, method: str, params) -> object:
        """The server's own requests: its settings (the session's venv and source folders), else nothing."""
        if method != "workspace/configuration":
            return None
        analysis = {
            "extraPaths": self.extra_paths,
            "typeCheckingMode": "standard",
            "diagnosticMode": "openFilesOnly",
            "autoSearchPaths": True,
        }
        said = {"python": {"pythonPath": self.python, "analysis": analysis} if self.python else {"analysis": analysis}}
        said["basedpyright"] = {"analysis": analysis}
        answers = []
        for item in (params or {}).get("items", []):
            section = str(item.get("section") or "")
            head, _, tail = section.partition(".")
            value = said.get(head, {})
            answers.append(value.get(tail, {}) if tail else value)
        return answers

    def _sync(self, path: str | os.PathLike, text: str) -> str:
        uri = pathlib.Path(path).resolve().as_uri()
        held = self._documents.get(uri)
        if held is None:
            self._client.notify(
                "textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": text}}
            )
            self._documents[uri] = (text, 1)
        elif held[0] != text:
            version = held[1] + 1
            self._client.replace_text(uri, text, version)
            self._documents[uri] = (text, version)
        return uri

    def _failed(self, why: str) -> None:
        self._failures += 1
        if self._failures >= self.max_failures or (self._client is not None and self._client.process.poll() is not None):
            self._give_up(why)

    def _give_up(self, why: str) -> None:
        if not self.given_up:
            log.warning("mgd: the type checker is not used for %s: %s", self.root, why)
        self.given_up = True
        client, self._client = self._client, None
        if client is not None:
            client.kill()
        self._stop.set()


def hover_type(answer: object) -> str | None:
    """The type a hover answer gives a value (`str | None` from `(variable) _path: str | None`; `function`, `type[C]`), or None."""
    contents = answer.get("contents") if isinstance(answer, dict) else None
    if isinstance(contents, dict):
        contents = contents.get("value")
    elif isinstance(contents, list):
        contents = "\n".join(c.get("value", "") if isinstance(c, dict) else str(c) for c in contents)
    if not isinstance(contents, str):
        return None
    lines = [line for line in contents.strip().splitlines() if not line.startswith("```")]
    if not lines:
        return None
    first = lines[0].strip()
    match = _VALUE_HOVER.match(first)
    if match:
        return match.group("type").strip()
    if _FUNCTION_HOVER.match(first):
        return "function"  # a function's name without its call: a function object
    named = re.match(r"\(class\) ([A-Za-z_]\w*)$", first)
    return f"type[{named.group(1)}]" if named else None  # a class's name: the class object
