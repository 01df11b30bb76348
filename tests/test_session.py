"""The language-server session: real jedi, in-memory edits, and faults injected into it."""

from __future__ import annotations

import logging
import os
import select
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import torch
from transformers import LogitsProcessor, LogitsProcessorList

from mgd.decoding.processor import MGDLogitsProcessor
from mgd.lsp.session import LanguageServerSession, ServerUnavailable
from mgd.monitors.base import Document


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still answers kill(0); it is gone for our purposes
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_completions_across_files_and_unsaved_edits(bookshop, list_members):
    path = bookshop / "bookshop" / "report.py"
    on_disk = path.read_text()
    with LanguageServerSession(bookshop) as session:
        prefix = "from bookshop.models import Catalogue\n\ndef f(c: Catalogue):\n    return c."
        assert "restock" in list_members(session, path, prefix)
        # a method that exists only in the in-memory text is offered
        edited = "class Local:\n    def only_in_memory(self): ...\n\ndef g(x: Local):\n    return x."
        assert "only_in_memory" in list_members(session, path, edited)
        pid = session.pid
    assert path.read_text() == on_disk
    assert not _alive(pid), "server process outlived the session"


def test_server_that_cannot_start_is_reported(bookshop):
    session = LanguageServerSession(bookshop, server_binary="/nonexistent/jedi-language-server", start_timeout=10)
    with pytest.raises(ServerUnavailable, match="did not start"):
        session.start()
    session.close()


def test_missing_repository_is_reported(tmp_path):
    with pytest.raises(ServerUnavailable, match="not a directory"):
        LanguageServerSession(tmp_path / "missing")


class _Fault(LogitsProcessor):
    """Does something to the server process at one decoding step (fault injection)."""

    def __init__(self, session, step: int, width: int, sig: int) -> None:
        self.session, self.step, self.width, self.sig = session, step, width, sig
        self.victims: list[int] = []

    def __call__(self, input_ids, scores):
        if input_ids.shape[1] - self.width == self.step and self.session.pid:
            self.victims.append(self.session.pid)
            os.kill(self.session.pid, self.sig)
            time.sleep(0.2)
        return scores


def _generate_with_fault(tiny_model, tokenizer, session, doc, sig, max_new_tokens=6):
    ids = tokenizer(doc.prefix, add_special_tokens=False)["input_ids"]
    processor = MGDLogitsProcessor(tokenizer, session)
    processor.add_prompt(ids, doc)
    fault = _Fault(session, 0, len(ids), sig)
    started = time.perf_counter()
    out = tiny_model.generate(
        input_ids=torch.tensor([ids]),
        logits_processor=LogitsProcessorList([fault, processor]),
        max_new_tokens=max_new_tokens,
        do_sample=False,
        pad_token_id=tokenizer.pad_token_id,
    )
    elapsed = time.perf_counter() - started
    text = tokenizer.decode(out[0, len(ids) :])
    return processor, fault, text, elapsed


def _catalogue_doc(bookshop) -> Document:
    path = bookshop / "bookshop" / "report.py"
    return Document(str(path), "from bookshop.models import Catalogue\n\ndef f(c: Catalogue):\n    return c.", "\n")


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGSTOP], ids=["killed", "hung"])
def test_fault_with_restart_budget_keeps_guidance(tiny_model, tokenizer, bookshop, caplog, sig):
    with LanguageServerSession(bookshop, request_timeout=1.5, max_restarts=1) as session:
        session.completions(_catalogue_doc(bookshop).path, "x = 1\nx.", 8)  # warm
        with caplog.at_level(logging.WARNING, logger="mgd"):
            processor, fault, text, elapsed = _generate_with_fault(tiny_model, tokenizer, session, _catalogue_doc(bookshop), sig)
        assert session.restarts == 1 and session.available
        assert processor.stats.constrained_steps >= 1, "the restarted server should guide again"
        assert elapsed < 30
        assert any("restarting" in r.message for r in caplog.records)
        new_pid = session.pid
    for pid in fault.victims + [new_pid]:
        assert not _alive(pid)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGSTOP], ids=["killed", "hung"])
def test_fault_without_restarts_goes_on_unconstrained(tiny_model, tokenizer, bookshop, caplog, sig):
    with LanguageServerSession(bookshop, request_timeout=1.5, max_restarts=0) as session:
        session.completions(_catalogue_doc(bookshop).path, "x = 1\nx.", 8)  # warm
        with caplog.at_level(logging.WARNING, logger="mgd"):
            processor, fault, text, elapsed = _generate_with_fault(tiny_model, tokenizer, session, _catalogue_doc(bookshop), sig)
        assert not session.available
        assert processor.stats.constrained_steps == 0
        assert len(tokenizer(text, add_special_tokens=False)["input_ids"]) >= 1
        assert elapsed < 20, f"generation took {elapsed:.1f}s after the fault"
        messages = " ".join(r.message for r in caplog.records)
        assert "completion failed" in messages and "unavailable" in messages
    for pid in fault.victims:
        assert not _alive(pid)


def test_server_dying_twice_leaves_session_unavailable(bookshop):
    with LanguageServerSession(bookshop, request_timeout=2, max_restarts=1) as session:
        path = str(bookshop / "bookshop" / "report.py")
        assert session.completions(path, "'a'.", 4)
        os.kill(session.pid, signal.SIGKILL)
        time.sleep(0.2)
        assert session.completions(path, "'a'.", 4), "one restart should recover"
        os.kill(session.pid, signal.SIGKILL)
        time.sleep(0.2)
        started = time.perf_counter()
        assert session.completions(path, "'a'.", 4) is None
        assert not session.available
        assert session.completions(path, "'a'.", 4) is None
        assert time.perf_counter() - started < 10


_CHILD = textwrap.dedent(
    """
    import sys, time
    from mgd.lsp.session import LanguageServerSession
    session = LanguageServerSession(sys.argv[1])
    session.start()
    print(session.pid, flush=True)
    time.sleep(600)
    """
)


def test_server_dies_with_a_sigkilled_python(bookshop):
    child = subprocess.Popen([sys.executable, "-c", _CHILD, str(bookshop)], stdout=subprocess.PIPE, text=True)
    try:
        ready, _, _ = select.select([child.stdout], [], [], 60)
        assert ready, "the child's session did not start"
        pid = int(child.stdout.readline())
        assert _alive(pid)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
        deadline = time.monotonic() + 5
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(pid), "jedi-language-server outlived its SIGKILLed Python process"
    finally:
        child.kill()
        child.wait()


# -- positions: characters past the BMP, combining marks, CRLF (issue 16) --------

BOOK_MEMBERS = {"isbn", "title", "author", "price_cents", "copies_on_shelf", "shelf_value_cents"}
# On the cursor's line: a penguin (two UTF-16 units, one code point), a combining acute (a code point of
# its own), and characters Python's str.splitlines breaks lines at but LSP does not.
ODD_TEXTS = {"astral": "🐧é", "combining": "e\u0301", "line separator": "🐧\u2028", "form feed": "\f🐧"}


@pytest.mark.parametrize("eol", ["\n", "\r\n", "\r"], ids=["LF", "CRLF", "CR"])
@pytest.mark.parametrize("odd", list(ODD_TEXTS.values()), ids=list(ODD_TEXTS))
def test_positions_are_counted_as_jedi_counts_them(bookshop, session, list_members, odd, eol):
    path = bookshop / "bookshop" / "pingu.py"
    prefix = eol.join(["from bookshop.models import Book", "", "def f(pingu: Book):", f'    tag = "{odd}"; return pingu.'])
    suffix = eol + "x = 1" + eol
    unanswered = session.unanswered
    assert list_members(session, path, prefix, suffix) >= BOOK_MEMBERS
    # then edited at the cursor, as generation edits it: the server's copy must follow
    assert list_members(session, path, prefix + "shelf_v", suffix) & BOOK_MEMBERS == {"shelf_value_cents"}
    assert list_members(session, path, prefix + "cop", suffix) & BOOK_MEMBERS == {"copies_on_shelf"}
    assert session.unanswered == unanswered and session.restarts == 0 and session.available
    assert (session.position_encoding, session.request_encoding) == ("utf-16", "utf-32")


def test_an_error_response_does_not_restart_the_server(bookshop, caplog):
    path = bookshop / "bookshop" / "report.py"
    with LanguageServerSession(bookshop, max_restarts=1) as session:
        pid = session.pid
        text = "x = 1\nx."
        with caplog.at_level(logging.WARNING, logger="mgd"):
            # fault injection: columns in UTF-8 bytes put this one past the line's end, and jedi
            # answers with an error (the server itself is fine)
            session.request_encoding = "utf-8"
            answer = session.completions(path, 'tag = "🐧🐧"\nx.', len('tag = "🐧🐧"'))
            session.request_encoding = "utf-32"
        assert answer is None
        assert (session.failed_requests, session.unanswered, session.restarts) == (1, 1, 0)
        assert session.pid == pid and session.available
        assert any("completion failed" in r.message for r in caplog.records)
        assert not any("restarting" in r.message for r in caplog.records)
        assert session.completions(path, text, len(text)), "the same server answers the next question"


def test_a_patient_request_takes_silence_as_slowness_not_a_hung_server(bookshop, caplog):
    path = bookshop / "bookshop" / "report.py"
    text = "from bookshop.models import Catalogue\n\ndef f(c: Catalogue):\n    return c."
    with LanguageServerSession(bookshop, max_restarts=0) as session:
        pid = session.pid
        # fault injection: a bound no server meets, as a fresh JDT.LS indexing a large classpath
        # outlasts a step's bound on its first type search
        session.request_timeout = 1e-6
        with caplog.at_level(logging.WARNING, logger="mgd"):
            assert session.completions(path, text, len(text), patience=1e-6) is None
        assert session.available and session.pid == pid and session.restarts == 0
        assert not any("restarting" in r.message or "unavailable" in r.message for r in caplog.records)
        # given time, the same server answers
        answer = session.completions(path, text, len(text), patience=30.0)
        assert answer and "restock" in {item.label for item in answer}
        # without patience the same silence is a hung server: with no restarts left, the session gives up
        assert session.completions(path, text, len(text)) is None
        assert not session.available


def test_stopping_on_a_closed_loop_leaves_no_coroutine_to_warn_about(bookshop):
    import asyncio
    import gc
    import warnings

    session = LanguageServerSession(bookshop)  # not started: its loop is made and closed here
    session._loop = asyncio.new_event_loop()
    session._loop.close()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        session._run_quietly(session._stop(graceful=False), 1.0)
        gc.collect()
    assert not [w for w in caught if "never awaited" in str(w.message)]


def test_closing_a_session_whose_loop_has_stopped_is_quick_and_leaves_no_coroutine(bookshop):
    import gc
    import warnings

    session = LanguageServerSession(bookshop)
    session.start()
    pid = session.pid
    try:
        # a close whose join timed out leaves the loop stopped but not closed; a second close came after
        session._loop.call_soon_threadsafe(session._loop.stop)
        session._thread.join(5.0)
        started = time.monotonic()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            session.close()
            gc.collect()
        assert time.monotonic() - started < 5.0, "nothing waits on a loop that will not run"
        assert not [w for w in caught if "never awaited" in str(w.message)]
    finally:
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)


def test_a_parameter_typed_only_from_call_sites_lists_no_members(tmp_path, list_members):
    # google-genai's shape: the annotation names a module that is not installed, so jedi typed the parameter from
    # the calls it found (a Tool, here) and `self._session.` was held to their members, banning the real `call_tool`
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "tools.py").write_text("class Tool:\n    def only_on_tool(self): ...\n")
    head = (
        "import typing\nfrom .tools import Tool\nif typing.TYPE_CHECKING:\n    from mcp import ClientSession\n\n\n"
        "def make():\n    return Adapter(Tool(), Tool())\n\n\n"
        "class Adapter:\n    def __init__(self, session: \"mcp.ClientSession\", tool: Tool):\n"
        "        self._session = session\n        self._tool = tool\n\n    async def call(self):\n        await self."
    )
    path = pkg / "adapter.py"
    path.write_text(head + "_session.call_tool()\n")
    with LanguageServerSession(tmp_path) as session:
        assert list_members(session, path, head + "_session.") == set()
        assert "only_on_tool" in list_members(session, path, head + "_tool.")
    # the same server started as it is (a named binary) guesses: the test would see it
    with LanguageServerSession(tmp_path, server_binary=session.server_binary) as plain:
        assert "only_on_tool" in list_members(plain, path, head + "_session.")


def test_a_wait_that_timed_out_before_the_loop_started_it_leaves_no_coroutine(bookshop):
    # CI's "coroutine '_stop' was never awaited": a stop asked while the loop was busy timed out, and the loop
    # stopped before it ever started the coroutine, which was then collected unstarted
    import gc
    import warnings

    async def never_started() -> None:
        return None

    session = LanguageServerSession(bookshop)
    session.start()
    pid = session.pid
    try:
        session._loop.call_soon_threadsafe(time.sleep, 2.5)  # the loop is busy
        with pytest.raises(TimeoutError):
            session._run(never_started(), 0.2)
        session._loop.call_soon_threadsafe(session._loop.stop)  # and stops before the task's first step
        session._thread.join(10.0)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            session.close()
            gc.collect()
        assert not [w for w in caught if "never awaited" in str(w.message)], [str(w.message) for w in caught]
    finally:
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)


def test_a_query_failing_while_the_session_closes_restarts_no_server(bookshop, caplog):
    import threading

    session = LanguageServerSession(bookshop, request_timeout=3, max_restarts=1)
    session.start()
    path = str(bookshop / "bookshop" / "report.py")
    assert session.completions(path, "'a'.", 4)
    # a prefetch's query holds the session when it is closed: close waits for it (boundedly), and a query
    # that fails because the server is gone does not start another on the loop being closed
    answers: list = []
    with session._lock:
        closer = threading.Thread(target=session.close)
        closer.start()
        time.sleep(0.5)
        assert closer.is_alive(), "close waits for the query in flight"
        asker = threading.Thread(target=lambda: answers.append(session._ask_locked("completion", path, "'a'.", 4)))
    with caplog.at_level(logging.WARNING, logger="mgd"):
        closer.join(15.0)
        asker.start()
        asker.join(15.0)
        assert session._recover() is False
    assert not closer.is_alive() and not asker.is_alive()
    assert answers == [None] and session.restarts == 0
    assert not [r for r in caplog.records if "restart" in r.getMessage()]
