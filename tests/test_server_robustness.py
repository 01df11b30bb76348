"""`mgd serve` under abuse: malformed messages, bad documents, a dying analysis server, TCP, no model.

Every bad request must get an error response and the server must keep
answering. One stdio server process serves the module.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest
from mgd.demo import example_repo
from mgd.server.client import LspClient, LspError
from server_harness import serving, wait_until

pytestmark = pytest.mark.model

PARSE_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND, INVALID_PARAMS = -32700, -32600, -32601, -32602
DEMO_LINE = "    return catalogue."


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """The example project inside a folder that also holds a file outside the workspace."""
    base = tmp_path_factory.mktemp("robust")
    target = base / "bookshop"
    shutil.copytree(example_repo(), target)
    (base / "outside.py").write_text("secret = 1\n")
    return target


@pytest.fixture(scope="module")
def server(workspace, tmp_path_factory):
    """`python -m mgd serve` over stdio on the workspace, its model loaded."""
    log = tmp_path_factory.mktemp("robust-log") / "stderr.txt"
    with serving(workspace, log) as client:
        yield client


@pytest.fixture(scope="module")
def report(server, workspace):
    """report.py opened, and the LSP position just after the demo's dot."""
    path = workspace / "bookshop" / "report.py"
    text = path.read_text()
    cut = text.index(DEMO_LINE) + len(DEMO_LINE)
    return server.open(path), {"line": text.count("\n", 0, cut), "character": len(DEMO_LINE)}


@pytest.fixture(scope="module")
def members(session, list_members, bookshop):
    """What jedi lists after `catalogue.` in the example."""
    path = bookshop / "bookshop" / "report.py"
    text = path.read_text()
    cut = text.index(DEMO_LINE) + len(DEMO_LINE)
    return list_members(session, path, text[:cut], text[cut:])


def _inline(uri: str, position: dict) -> dict:
    return {"textDocument": {"uri": uri}, "position": position, "context": {"triggerKind": 1}}


def _first_name(text: str) -> str:
    match = re.match(r"[A-Za-z_]\w*", text)
    return match.group(0) if match else ""


def _error_code(server: LspClient, method: str, params, timeout: float = 30) -> int:
    with pytest.raises(LspError) as err:
        server.request(method, params, timeout=timeout)
    return err.value.code


def _frame(body: bytes) -> bytes:
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def test_malformed_messages_get_error_responses_and_the_stream_goes_on(server):
    before = len(server.unmatched)
    server.send_raw(_frame(b"{not json"))
    server.send_raw(_frame(b"[1, 2, 3]"))  # valid JSON, not a message
    server.send_raw(_frame(b'{"jsonrpc": "1.0", "id": 777, "method": "mgd/status"}'))
    server.send_raw(b"X-Nonsense: 1\r\n\r\n")  # a header block with no length
    server.send_raw(_frame("{\"jsonrpc\": \"2.0\", \"id\": 778, \"method\": \"mgd/status\", \"params\": \"\u00e9\"}".encode()[:-3]))
    assert server.request("mgd/status", timeout=30)["modelReady"]  # still answering, in order
    errors = [m["error"]["code"] for m in server.unmatched[before:]]
    assert errors.count(PARSE_ERROR) == 2 and errors.count(INVALID_REQUEST) == 2, server.unmatched[before:]
    assert all("id" in m for m in server.unmatched[before:])  # `"id": null` when the id could not be read
    assert [m["id"] for m in server.unmatched[before:] if m["error"]["code"] == INVALID_REQUEST] == [None, 777]


def test_bad_parameters_and_unknown_methods_are_answered(server, report):
    uri, position = report
    assert _error_code(server, "textDocument/inlineCompletion", {"textDocument": {"uri": uri}}) == INVALID_PARAMS
    assert _error_code(server, "textDocument/completion", {"textDocument": {"uri": 5}, "position": position}) == INVALID_PARAMS
    assert _error_code(server, "textDocument/inlineCompletion", None) == INVALID_PARAMS
    assert _error_code(server, "mgd/noSuchMethod", {}) == METHOD_NOT_FOUND
    negative = {"line": -1, "character": 0}
    assert _error_code(server, "textDocument/inlineCompletion", _inline(uri, negative)) == INVALID_PARAMS


def test_unknown_documents_positions_and_uris_outside_the_workspace_are_refused(server, workspace, report):
    uri, position = report
    models = (workspace / "bookshop" / "models.py").as_uri()  # inside, never opened
    outside = workspace.parent / "outside.py"
    server.open(outside)  # the editor may open it; the server must not serve it
    cases = {
        "not open": _inline(models, position),
        "outside the workspace": _inline(outside.as_uri(), {"line": 0, "character": 0}),
        "outside the workspace ": _inline(workspace.as_uri() + "/../outside.py", {"line": 0, "character": 0}),
        "not a local file": _inline("untitled:Untitled-1", {"line": 0, "character": 0}),
        "is outside the document": _inline(uri, {"line": 500, "character": 0}),
    }
    for expected, params in cases.items():
        for method in ("textDocument/inlineCompletion", "textDocument/completion"):
            with pytest.raises(LspError) as err:
                server.request(method, params, timeout=30)
            assert err.value.code == INVALID_PARAMS
            assert expected.strip() in err.value.message, err.value.message
    # and the server still completes
    [item] = server.request("textDocument/inlineCompletion", _inline(uri, position))["items"]
    assert _first_name(item["insertText"])


def test_bad_settings_are_named_and_the_old_ones_kept(server):
    before = server.request("mgd/status")["settings"]
    seen = len(server.notifications)
    server.notify("workspace/didChangeConfiguration", {"settings": {"mgd": {"maxNewTokens": -3, "monitors": "deref,nope"}}})
    wait_until(lambda: len(server.notifications) >= seen + 2, 10, "the warnings")
    shown = [n["params"]["message"] for n in server.notifications[seen:] if n["method"] == "window/showMessage"]
    assert any("maxNewTokens" in m for m in shown) and any("nope" in m for m in shown), shown
    assert server.request("mgd/status")["settings"] == before


def test_a_dying_analysis_server_is_replaced_and_completions_go_on(server, report, members):
    uri, position = report

    def analysis() -> dict:
        [entry] = server.request("mgd/status")["analysisServers"]
        return entry

    first = analysis()
    assert first["available"] and first["pid"]
    os.kill(first["pid"], signal.SIGKILL)
    # the session restarts jedi once by itself
    [item] = server.request("textDocument/inlineCompletion", _inline(uri, position))["items"]
    assert _first_name(item["insertText"]) in members
    second = analysis()
    assert second["restarts"] == 1 and second["pid"] not in (None, first["pid"])
    os.kill(second["pid"], signal.SIGKILL)
    # its restart budget is spent: this completion is served anyway (unguided if need be) ...
    assert "items" in server.request("textDocument/inlineCompletion", _inline(uri, position))
    server.request("textDocument/inlineCompletion", _inline(uri, position))  # ... and the pool notices
    # ... and the pool starts a fresh analysis server
    wait_until(lambda: analysis()["available"] and analysis()["replacements"] >= 1, 90, "a fresh analysis server")
    third = analysis()
    assert third["pid"] not in (first["pid"], second["pid"])
    [item] = server.request("textDocument/inlineCompletion", _inline(uri, position))["items"]
    assert _first_name(item["insertText"]) in members  # guided again
    result = server.request("textDocument/completion", {"textDocument": {"uri": uri}, "position": position})
    assert result["items"] and all(i["detail"] == "mgd (guided)" for i in result["items"])


def _start_tcp(address: str, log_path) -> tuple[subprocess.Popen, int]:
    with open(log_path, "wb") as log:  # the child keeps its own copy of the descriptor
        process = subprocess.Popen([sys.executable, "-m", "mgd", "serve", "--tcp", address], stdout=subprocess.PIPE, stderr=log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        found = re.search(r"listening on [^\s]+:(\d+)", log_path.read_text())
        if found:
            return process, int(found.group(1))
        time.sleep(0.2)
    process.kill()
    pytest.fail(f"no listening line: {log_path.read_text()[-2000:]}")


def test_tcp_on_loopback_answers_with_empty_results_until_a_model_is_ready(workspace, tmp_path):
    not_a_model = tmp_path / "empty-model-dir"
    not_a_model.mkdir()
    process, port = _start_tcp("127.0.0.1:0", tmp_path / "tcp.txt")
    client = LspClient.connect("127.0.0.1", port)
    try:
        client.initialize(workspace, options={"model": str(not_a_model)})
        uri = client.open(workspace / "bookshop" / "report.py")
        text = (workspace / "bookshop" / "report.py").read_text()
        line = text[: text.index(DEMO_LINE)].count("\n")
        started = time.monotonic()
        assert client.request("textDocument/inlineCompletion", _inline(uri, {"line": line, "character": 21}), timeout=30) == {"items": []}
        assert client.request("textDocument/completion", {"textDocument": {"uri": uri}, "position": {"line": line, "character": 21}}, timeout=30)["items"] == []
        assert time.monotonic() - started < 30  # answered, not held until a model appears
        wait_until(lambda: client.request("mgd/status")["modelError"] is not None, 60, "the load to fail")
        status = client.request("mgd/status")
        assert not status["modelReady"] and str(not_a_model) in status["modelError"]
        # a second server cannot take the same port: one line, exit status 1
        busy = subprocess.run(
            [sys.executable, "-m", "mgd", "serve", "--tcp", f"127.0.0.1:{port}"], capture_output=True, text=True, timeout=120
        )
        assert busy.returncode == 1 and "cannot listen on 127.0.0.1:" in busy.stderr
        assert busy.stdout == ""
        client.shutdown()
        assert process.wait(30) == 0
    finally:
        client.close()
        if process.poll() is None:
            process.kill()
        process.wait(10)
        assert process.stdout.read() == b""  # nothing on stdout in TCP mode either


def test_cli_rejects_a_bad_tcp_address():
    run = subprocess.run([sys.executable, "-m", "mgd", "serve", "--tcp", "localhost:http"], capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    assert run.stderr.strip() == "mgd: error: --tcp localhost:http: the port must be a number from 0 to 65535"



def test_workspace_folders_come_and_go_and_closed_documents_are_forgotten(server, workspace, tmp_path):
    second = tmp_path / "second"
    shutil.copytree(example_repo(), second)
    path = second / "bookshop" / "report.py"
    text = path.read_text()
    position = {"line": text[: text.index(DEMO_LINE)].count("\n"), "character": len(DEMO_LINE)}
    uri = server.open(path)
    with pytest.raises(LspError, match="outside the workspace folders"):
        server.request("textDocument/inlineCompletion", _inline(uri, position))
    folder = {"uri": second.as_uri(), "name": "second"}
    server.notify("workspace/didChangeWorkspaceFolders", {"event": {"added": [folder], "removed": []}})
    uri = server.open(path)
    [item] = server.request("textDocument/inlineCompletion", _inline(uri, position))["items"]
    assert _first_name(item["insertText"])
    status = server.request("mgd/status")
    assert str(second.resolve()) in status["folders"]
    assert str(second.resolve()) in [entry["root"] for entry in status["analysisServers"]]
    server.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
    with pytest.raises(LspError, match="is not open"):
        server.request("textDocument/inlineCompletion", _inline(uri, position))
    server.notify("workspace/didChangeWorkspaceFolders", {"event": {"added": [], "removed": [folder]}})
    status = server.request("mgd/status")
    assert str(second.resolve()) not in status["folders"]
    assert [entry["root"] for entry in status["analysisServers"]] == [str(workspace.resolve())]
