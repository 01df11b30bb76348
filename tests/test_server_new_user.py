"""`mgd serve` as a new user meets it: requests before `initialize`, labels, positions, edits it cannot apply,
and being told (once) when the model or guidance is not there.

Two server processes: one with the real default model and jedi, on a small
repository with non-ASCII text before a dereference; one with a `model`
setting that is no model and a jedi that cannot start (no model loads, so it
is cheap).
"""

from __future__ import annotations

import importlib.util
import pathlib
import re
from dataclasses import dataclass

import pytest
from mgd.server.client import LspClient, LspError
from mgd.server.protocol import _label_and_rest
from server_harness import wait_until
from zoo_project import BIRDS, CURSOR_LINE, KEEPER

pytestmark = pytest.mark.model

SERVER_NOT_INITIALIZED, INVALID_PARAMS = -32002, -32602
# LSP columns are UTF-16 units: the penguin is two
CURSOR = {"line": 4, "character": len(CURSOR_LINE.encode("utf-16-le")) // 2}


@pytest.fixture(scope="module")
def zoo(tmp_path_factory) -> pathlib.Path:
    """Penguin in birds.py, a dereference of one after non-ASCII text in keeper.py."""
    root = tmp_path_factory.mktemp("served-new-user") / "zoo-repo"
    (root / "zoo").mkdir(parents=True)
    (root / "zoo" / "__init__.py").write_text("")
    (root / "zoo" / "birds.py").write_text(BIRDS, encoding="utf-8")
    (root / "zoo" / "keeper.py").write_text(KEEPER, encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def penguin(zoo):
    """A real Penguin, to tell whether a name is one of its members."""
    spec = importlib.util.spec_from_file_location("zoo_birds_served", zoo / "zoo" / "birds.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.Penguin()


@dataclass
class Served:
    client: LspClient
    log: pathlib.Path
    before_initialize: object  # what `mgd/status` sent before `initialize` got
    keeper: str  # keeper.py's URI, opened after `initialize`
    early: str  # birds.py's URI, opened before `initialize` (to be dropped)


@pytest.fixture(scope="module")
def served(zoo, tmp_path_factory):
    """`mgd serve` asked something before `initialize`, then initialised on the repository with its model loaded."""
    log = tmp_path_factory.mktemp("serve-new-user-log") / "stderr.txt"
    client = LspClient.mgd_serve(stderr_path=log)
    try:
        try:
            before = client.request("mgd/status", timeout=60)
        except LspError as err:
            before = err
        early = client.open(zoo / "zoo" / "birds.py")  # a notification before initialize: LSP says drop it
        client.initialize(zoo)
        wait_until(lambda: client.request("mgd/status", timeout=30)["modelReady"], 240, "the model to load")
        yield Served(client, log, before, client.open(zoo / "zoo" / "keeper.py"), early)
    finally:
        code = client.shutdown()
        assert code == 0, log.read_text()[-3000:]


def _inline(uri: str, position: dict) -> dict:
    return {"textDocument": {"uri": uri}, "position": position, "context": {"triggerKind": 1}}


def _error(client: LspClient, method: str, params) -> LspError:
    with pytest.raises(LspError) as err:
        client.request(method, params, timeout=60)
    return err.value


def test_a_request_before_initialize_gets_server_not_initialized(served):
    assert isinstance(served.before_initialize, LspError), served.before_initialize
    assert served.before_initialize.code == SERVER_NOT_INITIALIZED
    assert "initialize" in served.before_initialize.message
    # and the didOpen sent before initialize was dropped, as LSP asks
    error = _error(served.client, "textDocument/inlineCompletion", _inline(served.early, {"line": 0, "character": 0}))
    assert error.code == INVALID_PARAMS and "is not open" in error.message


def test_completion_item_labels_are_the_name_alone(served, penguin):
    result = served.client.request("textDocument/completion", {"textDocument": {"uri": served.keeper}, "position": CURSOR})
    items = result["items"]
    assert items
    rests = []
    for item in items:
        assert re.fullmatch(r"[A-Za-z_]\w*", item["label"]) and hasattr(penguin, item["label"]), item
        rest = item.get("labelDetails", {}).get("detail", "")
        assert item["label"] + rest == item["insertText"] == item["textEdit"]["newText"], item
        assert item["filterText"] == item["label"] and item["detail"] == "mgd (guided)"
        rests.append(rest)
    assert any(rests), items  # the model wrote more than the name somewhere: it went beside the label, not into it


@pytest.mark.parametrize(
    "text,label,rest",
    [
        ("flipper_span_cm * 2", "flipper_span_cm", " * 2"),
        ("waddle_distance(3)", "waddle_distance", "(3)"),
        ("entries", "entries", ""),
        ("$jump.get()", "$jump", ".get()"),  # Java names may hold `$`
        ("émigré.x", "émigré", ".x"),
        ("(1, 2)", "(1, 2)", ""),  # no name to start with: the whole text
    ],
)
def test_label_and_rest_split_at_the_end_of_the_first_name(text, label, rest):
    assert _label_and_rest(text) == (label, rest)


def test_a_character_past_the_end_of_a_line_is_refused_like_a_line_past_the_end(served):
    past = {"line": CURSOR["line"], "character": CURSOR["character"] + 1}
    for method, params in (
        ("textDocument/inlineCompletion", _inline(served.keeper, past)),
        ("textDocument/completion", {"textDocument": {"uri": served.keeper}, "position": past}),
    ):
        error = _error(served.client, method, params)
        assert error.code == INVALID_PARAMS
        assert f"character {past['character']} is past the end of line 4 (it is {CURSOR['character']} UTF-16 units long)" in error.message
    error = _error(served.client, "textDocument/inlineCompletion", _inline(served.keeper, {"line": 40, "character": 0}))
    assert error.code == INVALID_PARAMS and "line 40 is outside the document" in error.message


def test_did_change_of_an_unknown_document_is_logged_to_the_client(served, zoo):
    client = served.client
    unknown = (zoo / "zoo" / "never_opened.py").as_uri()
    seen = len(client.notifications)
    client.notify(
        "textDocument/didChange",
        {"textDocument": {"uri": unknown, "version": 2}, "contentChanges": [{"text": "x = 1\n"}]},
    )
    wait_until(lambda: len(client.notifications) > seen, 10, "the log message")
    [message] = client.notifications[seen:]
    assert message["method"] == "window/logMessage", message
    assert unknown in message["params"]["message"] and "is not open" in message["params"]["message"]
    assert client.request("mgd/status")["openDocuments"] == 1  # keeper.py only; nothing was made up


def test_a_negative_position_costs_one_line_on_stderr(served):
    before = served.log.read_text(encoding="utf-8", errors="replace")
    error = _error(served.client, "textDocument/inlineCompletion", _inline(served.keeper, {"line": 4, "character": -1}))
    assert error.code == INVALID_PARAMS and "Position.character" in error.message and "-1" in error.message
    added = served.log.read_text(encoding="utf-8", errors="replace")[len(before) :]
    assert "Traceback" not in added and "Unable to deserialize" not in added, added
    lines = added.strip().splitlines()
    assert len(lines) == 1 and "-1" in lines[0], added


# -- told once: a `model` setting that is no model, an analysis server that cannot start ---------------


@pytest.fixture(scope="module")
def broken(zoo, tmp_path_factory):
    """`mgd serve` whose `model` setting names an empty folder and whose jedi does not exist."""
    base = tmp_path_factory.mktemp("serve-broken")
    not_a_model = base / "empty-model"
    not_a_model.mkdir()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MGD_JEDI_LANGUAGE_SERVER", str(base / "no-such-jedi-language-server"))
        client = LspClient.mgd_serve(stderr_path=base / "stderr.txt")  # the child takes the environment now
    try:
        client.initialize(zoo, options={"model": str(not_a_model)})
        yield client, not_a_model
    finally:
        code = client.shutdown()
        assert code == 0, (base / "stderr.txt").read_text()[-3000:]


def _settled(client: LspClient) -> bool:
    status = client.request("mgd/status")
    return (
        status["modelError"] is not None
        and not status["modelLoading"]
        and all(not entry["starting"] for entry in status["analysisServers"])
    )


def test_a_bad_model_setting_and_no_analysis_server_are_each_shown_once(broken, zoo):
    client, not_a_model = broken
    wait_until(lambda: _settled(client), 120, "the model load and the analysis server start to fail")
    for tokens in (10, 20):  # every settings change tries the model again; it fails the same way
        client.notify("workspace/didChangeConfiguration", {"settings": {"mgd": {"maxNewTokens": tokens}}})
        wait_until(
            lambda wanted=tokens: client.request("mgd/status")["settings"]["maxNewTokens"] == wanted and _settled(client),
            60,
            "the retry",
        )
    uri = client.open(zoo / "zoo" / "keeper.py")
    assert client.request("textDocument/inlineCompletion", _inline(uri, CURSOR)) == {"items": []}
    shown = [n["params"] for n in client.notifications if n["method"] == "window/showMessage"]
    about_model = [p["message"] for p in shown if str(not_a_model) in p["message"]]
    about_guidance = [p["message"] for p in shown if "analysis server" in p["message"]]
    assert len(about_model) == 1, shown
    assert "did not load" in about_model[0] and "no config.json" in about_model[0]
    assert "completions are empty until a model loads" in about_model[0]
    assert len(about_guidance) == 1, shown
    assert "did not start" in about_guidance[0] and "unguided" in about_guidance[0]
    assert all(p["type"] == 2 for p in shown)  # MessageType.Warning: a pop-up, not the log
