"""`mgd serve` on a Java workspace: JDT.LS guides the inline completion, as jedi does for Python."""

from __future__ import annotations

import re
import shutil

import pytest
from mgd.demo import example_repo
from server_harness import serving

pytestmark = pytest.mark.model

REPORT = "src/main/java/org/example/shop/Report.java"
MARK = 'return book == null ? "unknown" : book.'
BOOK_MEMBERS = {"getTitle", "getAuthor", "getGenre", "priceInCents", "describe", "getSku", "copiesLeft", "addCopies"}


@pytest.fixture(scope="module")
def javashop(tmp_path_factory):
    target = tmp_path_factory.mktemp("served-java") / "javashop"
    shutil.copytree(example_repo().parent / "javashop", target)
    return target


def test_inline_completion_in_a_java_file_names_a_real_member(javashop, tmp_path):
    path = javashop / REPORT
    text = path.read_text(encoding="utf-8")
    cut = text.index(MARK) + len(MARK)
    position = {"line": text.count("\n", 0, cut), "character": cut - (text.rfind("\n", 0, cut) + 1)}
    with serving(javashop, tmp_path / "stderr.txt", "-v") as server:
        uri = server.open(path)
        params = {"textDocument": {"uri": uri}, "position": position, "context": {"triggerKind": 2}}
        [item] = server.request("textDocument/inlineCompletion", params, timeout=180)["items"]
        status = server.request("mgd/status")
    name = re.match(r"[A-Za-z_$][\w$]*", item["insertText"]).group(0)
    assert name in BOOK_MEMBERS, item  # unguided, the model writes `getTitleOf()`
    servers = {entry["language"]: entry for entry in status["analysisServers"]}
    assert servers["java"]["available"] and servers["java"]["pid"]
