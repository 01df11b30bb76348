"""`mgd serve` end to end: a real LSP client on the real stdio pipe, the real default model and jedi.

One server process serves the whole module (the model loads once).
"""

from __future__ import annotations

import re
import shutil
import time

import pytest
from mgd.demo import example_repo
from mgd.server.client import LspClient, LspError
from server_harness import serving, wait_until

pytestmark = pytest.mark.model

REQUEST_CANCELLED, INVALID_PARAMS = -32800, -32602
DEMO_LINE = "    return catalogue."


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A private copy of the example project for the server's workspace."""
    target = tmp_path_factory.mktemp("served") / "bookshop"
    shutil.copytree(example_repo(), target)
    return target


@pytest.fixture(scope="module")
def server(project, tmp_path_factory):
    """`python -m mgd serve` over stdio, initialised on the project, its model loaded."""
    log = tmp_path_factory.mktemp("serve-log") / "stderr.txt"
    with serving(project, log, "-v") as client:
        yield client


@pytest.fixture(scope="module")
def report(server, project):
    """report.py opened in the editor; `set(text)` replaces the buffer (unsaved), `uri` names it."""
    path = project / "bookshop" / "report.py"

    class Buffer:
        uri = server.open(path)
        file = path
        disk = path.read_text(encoding="utf-8")
        version = 1

        def set(self, text: str) -> None:
            self.version += 1
            server.replace_text(self.uri, text, self.version)

    return Buffer()


@pytest.fixture(scope="module")
def catalogue_members(session, list_members, bookshop):
    """What jedi lists after `catalogue.` in the example (computed, not written down)."""
    path = bookshop / "bookshop" / "report.py"
    text = path.read_text(encoding="utf-8")
    cut = text.index(DEMO_LINE) + len(DEMO_LINE)
    members = list_members(session, path, text[:cut], text[cut:])
    assert {"entries", "lookup_isbn", "register"} <= members
    return members


def position_after(text: str, marker: str) -> dict:
    """LSP position just after the first `marker` in `text` (ASCII text: characters are UTF-16 units)."""
    cut = text.index(marker) + len(marker)
    line = text.count("\n", 0, cut)
    return {"line": line, "character": cut - (text.rfind("\n", 0, cut) + 1)}


def inline_params(uri: str, position: dict) -> dict:
    """textDocument/inlineCompletion parameters, as an editor sends them on typing."""
    return {"textDocument": {"uri": uri}, "position": position, "context": {"triggerKind": 2}}


def first_name(text: str) -> str:
    """The identifier a completion starts with."""
    match = re.match(r"[A-Za-z_]\w*", text)
    return match.group(0) if match else ""


def rss_bytes(pid: int) -> int:
    """Resident memory of a process, from /proc."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def configure(server: LspClient, **settings) -> None:
    """workspace/didChangeConfiguration with `{"mgd": settings}`; waits until the server shows them."""
    server.notify("workspace/didChangeConfiguration", {"settings": {"mgd": settings}})
    wait_until(
        lambda: all(server.request("mgd/status")["settings"][k] == v for k, v in settings.items()), 10, "the settings"
    )


def test_initialize_advertises_inline_completion_and_completion(server):
    caps = server.capabilities
    assert "inlineCompletionProvider" in caps  # LSP 3.18, advertised although pygls 1.3 does not know it
    assert caps["completionProvider"]["triggerCharacters"] == ["."]
    assert caps["textDocumentSync"]["change"] == 2  # incremental
    assert caps["positionEncoding"] == "utf-16"


def test_inline_completion_at_a_dereference_writes_a_real_member(server, report, catalogue_members):
    report.set(report.disk)
    position = position_after(report.disk, DEMO_LINE)
    result = server.request("textDocument/inlineCompletion", inline_params(report.uri, position))
    [item] = result["items"]
    assert first_name(item["insertText"]) in catalogue_members, item
    assert "\n" not in item["insertText"]  # single-line by default
    assert item["range"] == {"start": position, "end": position}


def test_completion_items_are_distinct_real_members(server, report, catalogue_members):
    report.set(report.disk)
    position = position_after(report.disk, DEMO_LINE)
    result = server.request("textDocument/completion", {"textDocument": {"uri": report.uri}, "position": position})
    items = result["items"]
    assert items
    texts = [item["insertText"] for item in items]
    assert len(set(texts)) == len(texts)
    for item in items:
        # the label is the name alone; what follows it is shown beside it and inserted with it
        assert item["label"] in catalogue_members and item["insertText"].startswith(item["label"]), item
        assert item["label"] + item.get("labelDetails", {}).get("detail", "") == item["insertText"]
        assert item["detail"] == "mgd (guided)"
        assert item["textEdit"] == {"range": {"start": position, "end": position}, "newText": item["insertText"]}


def test_completion_items_replace_the_word_being_typed(server, report):
    text = report.disk.replace(DEMO_LINE, DEMO_LINE + "lo", 1)  # typed, not saved
    report.set(text)
    position = position_after(text, DEMO_LINE + "lo")
    result = server.request("textDocument/completion", {"textDocument": {"uri": report.uri}, "position": position})
    assert result["items"]
    word_start = {"line": position["line"], "character": position["character"] - 2}
    for item in result["items"]:
        # `lookup_isbn` is the only member starting with `lo`; the edit covers the typed `lo`
        assert first_name(item["textEdit"]["newText"]) == "lookup_isbn", item
        assert item["textEdit"]["range"] == {"start": word_start, "end": position}


# The class exists only in the unsaved buffer, and only *after* the cursor:
# the model never sees it (its prompt is the text before the cursor), so only
# the monitors, reading the buffer through jedi, can know the method's name.
UNSAVED = '''

def settle(ledger: Ledger) -> int:
    """Settle the accounts."""
    return ledger.zq
'''
UNSAVED_TAIL = '''

class Ledger:
    """Exists only in the editor's buffer."""

    def zq_frobnicate_quux(self) -> int:
        return 0
'''


def test_a_method_in_an_unsaved_buffer_is_what_guidance_writes(server, report):
    text = report.disk + UNSAVED + UNSAVED_TAIL
    report.set(text)
    position = position_after(text, "return ledger.zq")
    params = inline_params(report.uri, position)
    guided = server.request("textDocument/inlineCompletion", params)["items"]
    assert guided and guided[0]["insertText"].startswith("_frobnicate_quux"), guided
    items = server.request("textDocument/completion", {"textDocument": {"uri": report.uri}, "position": position})["items"]
    assert items and all(item["label"].startswith("zq_frobnicate_quux") for item in items), items
    # the control: without guidance the model cannot know the name
    configure(server, guided=False)
    try:
        unguided = server.request("textDocument/inlineCompletion", params)["items"]
    finally:
        configure(server, guided=True)
    assert not (unguided and unguided[0]["insertText"].startswith("_frobnicate_quux")), unguided
    assert "zq_" not in report.disk + report.file.read_text()  # nothing was saved


def test_cancel_request_stops_the_generation_promptly(server, report):
    text = report.disk + "\n\nclass Inventory:\n    "
    report.set(text)
    configure(server, multiline=True, maxLines=64, maxNewTokens=400)
    try:
        msg_id, future = server.request_async("textDocument/inlineCompletion", inline_params(report.uri, position_after(text, "class Inventory:\n    ")))
        wait_until(lambda: server.request("mgd/status")["pendingJobs"] == 1, 10, "the job to start")
        time.sleep(1.0)  # well into the generation (400 tokens take many seconds)
        assert not future.done(), "the generation ended before it could be cancelled"
        cancelled_at = time.monotonic()
        server.cancel(msg_id)
        with pytest.raises(LspError) as err:
            future.result(10)
        assert err.value.code == REQUEST_CANCELLED
        # the worker really stopped: the job is gone, not merely unanswered
        wait_until(lambda: server.request("mgd/status")["pendingJobs"] == 0, 10, "the worker to stop")
        assert time.monotonic() - cancelled_at < 10
    finally:
        configure(server, multiline=False, maxLines=8, maxNewTokens=32)


def _burst(server, report, text: str, count: int) -> list:
    """`count` inline requests for one document, each superseding the last, with edits in between."""
    position = position_after(text, DEMO_LINE)
    futures = []
    for i in range(count):
        # the user types on the first line (a comment) while asking again at the cursor
        edited = f"# {'x' * i}\n" + text
        report.set(edited)
        futures.append(server.request_async("textDocument/inlineCompletion", inline_params(report.uri, {**position, "line": position["line"] + 1}))[1])
    started = time.monotonic()
    assert server.request("mgd/status", timeout=10)["openDocuments"] == 1  # the event loop is free meanwhile
    assert time.monotonic() - started < 10
    outcomes = []
    for future in futures:
        try:
            outcomes.append(future.result(180))
        except LspError as err:
            outcomes.append(err.code)
    return outcomes


def test_a_burst_of_superseding_requests_leaves_the_server_responsive_and_memory_flat(server, report, catalogue_members):
    report.set(report.disk)
    server.request("textDocument/inlineCompletion", inline_params(report.uri, position_after(report.disk, DEMO_LINE)))
    before = rss_bytes(server.pid)
    first = _burst(server, report, report.disk, 50)
    after_first = rss_bytes(server.pid)
    second = _burst(server, report, report.disk, 50)
    after_second = rss_bytes(server.pid)
    for outcomes in (first, second):
        assert all(o == REQUEST_CANCELLED or isinstance(o, dict) for o in outcomes), outcomes
        assert sum(o == REQUEST_CANCELLED for o in outcomes) >= 45  # superseded, not computed
        assert first_name(outcomes[-1]["items"][0]["insertText"]) in catalogue_members  # the newest is answered
    assert server.request("mgd/status")["pendingJobs"] == 0
    mib = 1024 * 1024
    assert after_first - before < 128 * mib, (before // mib, after_first // mib)
    assert after_second - after_first < 64 * mib, (after_first // mib, after_second // mib)
