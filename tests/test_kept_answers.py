"""Answers kept beyond a generation, and stable receivers answered once (issue 12 point 4), on the real servers.

A kept answer must be exactly what the server would say at that point: the
tests ask a fresh guide (nothing kept) at the same rows and compare masks.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from mgd.decoding.guide import Guide
from mgd.decoding.kept_answers import KeptAnswers, stable_receiver
from mgd.lsp.session import CompletionItem, CompletionList, LanguageServerSession
from mgd.monitors import monitors_by_name
from mgd.monitors.base import Document
from javashop_faults import copy_javashop


def _rows(tokenizer, prefix: str, generated: str = "") -> tuple[list[int], np.ndarray]:
    prompt = tokenizer.encode(prefix, add_special_tokens=False)
    gen = tokenizer.encode(generated, add_special_tokens=False) if generated else []
    return prompt, np.array([prompt + gen])


def _advise(guide: Guide, rows: np.ndarray, prompt_width: int | None = None):
    """The advice at the last token of `rows`, reached as generate() does: one step per generated token after the prompt."""
    width = rows.shape[1] if prompt_width is None else prompt_width
    advice = None
    for end in range(width, rows.shape[1] + 1):
        # the row's own next token is far the likeliest, so merged tokens (`.get`) are too unlikely to be checked
        scores = np.zeros(len(guide.index.token_bytes), dtype=np.float32)
        scores[rows[0, end] if end < rows.shape[1] else guide.index.token_bytes.index(b"x")] = 100.0
        guide.begin_step(rows[:, :end])
        advice = guide.advise(rows[0, :end], scores)
    return advice


def _fresh_mask(tokenizer, session, document: Document, prompt: list[int], rows: np.ndarray):
    guide = Guide(tokenizer, session, prefetch=False)
    guide.add_prompt(prompt, document)
    return _advise(guide, rows, len(prompt))


def _queries_before_last_token(tokenizer, session, document: Document, prompt: list[int], rows: np.ndarray) -> int:
    """How many queries a fresh guide makes on the way to the last token of `rows` (merged-token checks, other dots)."""
    guide = Guide(tokenizer, session, prefetch=False)
    guide.add_prompt(prompt, document)
    _advise(guide, rows[:, :-1], len(prompt))
    return guide.stats.queries


@pytest.mark.parametrize(
    ("language", "prefix", "generated", "key"),
    [
        ("java", "package a;\n", "import java.util.", ("import", "java.util.")),
        ("java", "package a;\n", "import static java . util.", ("import", "java.util.")),
        ("java", "", "package org.example.", ("import", "org.example.")),
        ("java", "class A {\n  A() {\n    this.", "x = 1;\n    this.", ("this",)),
        ("java", "class A {\n  A() {\n    this.", "x = 1; }\n  void f() { this.", None),  # left the method
        ("java", "class A {\n  A() {\n    this.", "x = new Runnable() {\n public void run() { this.", None),
        ("java", "class A {\n  A() {\n    this.", "x = 1; class L { void g() { this.", None),
        ("java", "class A {\n  A() {\n    ", "other.this.", None),
        ("java", "class A {\n  A() {\n    ", "book.", None),
        ("python", "", "from zoo.animals.", ("import", "zoo.animals.")),
        ("python", "", "import os.", ("import", "os.")),
        ("python", "", "from ..pkg.", ("import", "..pkg.")),
        ("python", "class A:\n    def f(self):\n        ", "self.", None),  # jedi infers self's members from assignments
        ("python", "", "x = os.", None),
    ],
)
def test_stable_receivers(language, prefix, generated, key):
    assert stable_receiver(language, prefix, generated) == key


def test_kept_answers_expire_and_drop_the_oldest(monkeypatch):
    now = [100.0]
    monkeypatch.setattr("mgd.decoding.kept_answers.time.monotonic", lambda: now[0])
    kept = KeptAnswers(keep_seconds=10.0, max_kept=2)
    kept.put(("a",), None)  # "no constraint" is an answer too
    kept.put(("b",), 2)
    assert kept.get(("a",)) == (True, None)
    kept.put(("c",), 3)  # "b" is now the least recently used
    assert kept.get(("b",)) == (False, None) and kept.get(("c",)) == (True, 3)
    now[0] += 10.5
    assert kept.get(("a",)) == (False, None) and len(kept) == 1


def test_a_second_generation_over_the_same_text_asks_nothing(tokenizer, bookshop, session):
    path = str(bookshop / "bookshop" / "kept.py")
    prefix = "from bookshop.models import Catalogue\n\n\ndef f(c: Catalogue):\n    return c."
    document = Document(path, prefix, "\n")
    guide = Guide(tokenizer, session, prefetch=False)
    prompt, rows = _rows(tokenizer, prefix)
    guide.add_prompt(prompt, document)
    first = _advise(guide, rows)
    assert guide.stats.queries == 1 and first is not None
    guide.reset()  # a new generation (the next sample, the next request at the same point)
    second = _advise(guide, rows)
    assert guide.stats.queries == 1 and guide.stats.kept_hits == 1
    assert np.array_equal(first, second)


class AnswersLate:
    """Fault injection: the first query at `return c.` times out (counted as unanswered, as the session does), later ones answer."""

    language = "python"
    request_timeout = 0.3

    def __init__(self) -> None:
        self.unanswered = 0
        self.asked: list[str] = []

    def completions(self, path, text, offset):
        self.asked.append(text[:offset])
        if self.asked.count(text[:offset]) == 1 and text[:offset].endswith("return c."):
            self.unanswered += 1
            return None
        # as jedi lists an object: its own members and the dunders every object has
        return CompletionList([CompletionItem("lookup_isbn", 3, "lookup_isbn"), CompletionItem("entries", 6, "entries"), CompletionItem("__class__", 7, "__class__")])

    def signature_help(self, path, text, offset):
        return None

    def definition(self, path, text, offset):
        return None


def test_a_timeout_is_not_kept(tokenizer):
    session = AnswersLate()
    prefix = "def f(c):\n    return c."
    guide = Guide(tokenizer, session, prefetch=False)
    prompt, rows = _rows(tokenizer, prefix)
    guide.add_prompt(prompt, Document("/tmp/late.py", prefix, "\n"))
    first = _advise(guide, rows)  # no answer at the dot: only tokens reaching further dots are checked
    guide.reset()
    second = _advise(guide, rows)  # asked again, and answered
    assert session.asked.count(prefix) == 2 and guide.stats.unanswered_queries == 1
    table = guide.index.token_bytes
    entries = table.index(b"entries") if b"entries" in table else None
    assert entries is not None, "the test needs `entries` to be one token"
    # unanswered: no member constraint, so `entries` stays free (None, or a list of banned ids without it)
    assert first is None or (isinstance(first, list) and entries not in first)
    # answered at the second generation: a mask over the vocabulary that allows it
    assert isinstance(second, np.ndarray) and second[entries]


@pytest.fixture(scope="module")
def java_session(tmp_path_factory):
    javashop = copy_javashop(tmp_path_factory)
    with LanguageServerSession(javashop, language="java") as session:
        yield javashop, session


def test_java_this_is_answered_once_and_as_the_server_would(tokenizer, java_session):
    javashop, session = java_session
    path = javashop / "src/main/java/org/example/shop/Book.java"
    text = path.read_text()
    at = text.index("this.title") + len("this.")
    prefix, suffix = text[:at], text[text.index("\n", at) :]
    document = Document(str(path), prefix, suffix)
    # names only: `types` answers for what the text before the receiver expects, so its answers are kept per text
    guide = Guide(tokenizer, session, monitors_by_name("deref,args,enums,new", "java"), prefetch=False)
    prompt, rows = _rows(tokenizer, prefix)
    guide.add_prompt(prompt, document)
    assert _advise(guide, rows) is not None
    assert guide.stats.queries == 1
    # later in the same constructor: `this.` again, after other generated statements
    _, later = _rows(tokenizer, prefix, "title = title;\n        this.author = author;\n        this.")
    guide.reset()  # a new generation that writes two statements before `this.` again
    kept = _advise(guide, later, len(prompt))
    # the prompt's own `this.` (same text), then `this.author` and the last `this.` (the class's members, kept)
    assert guide.stats.kept_hits == 3 and guide.stats.queries == 1
    fresh = _fresh_mask(tokenizer, session, document, prompt, later)
    assert kept is not None and np.array_equal(kept, fresh)


def test_an_import_line_is_answered_once_and_as_the_server_would(tokenizer, bookshop, session):
    """`from bookshop.` met in two documents of a file: one query, and the kept mask is the fresh one."""
    path = str(bookshop / "bookshop" / "kept_import.py")
    guide = Guide(tokenizer, session, prefetch=False)
    head = '"""Kept imports."""\n'
    for generated in ("from bookshop.", "import os\nfrom bookshop."):
        document = Document(path, head, "\n")
        guide.clear_prompts()
        prompt, rows = _rows(tokenizer, head, generated)
        guide.add_prompt(prompt, document)
        mask = _advise(guide, rows, len(prompt))
        assert isinstance(mask, np.ndarray) and np.array_equal(mask, _fresh_mask(tokenizer, session, document, prompt, rows))
    asked_on_the_way = _queries_before_last_token(tokenizer, session, document, prompt, rows)
    assert guide.stats.kept_hits >= 1 and guide.stats.queries == 1 + asked_on_the_way


def test_a_killed_server_is_asked_not_hidden_behind_kept_answers(tokenizer, bookshop):
    """After SIGKILL, the same text is asked again (no kept answer, no memo): the session restarts the server and answers."""
    import os
    import signal

    path = str(bookshop / "bookshop" / "killed.py")
    prefix = "from bookshop.models import Catalogue\n\n\ndef f(c: Catalogue):\n    return c."
    document = Document(path, prefix, "\n")
    with LanguageServerSession(bookshop) as own:
        guide = Guide(tokenizer, own, prefetch=False)
        prompt, rows = _rows(tokenizer, prefix)
        guide.add_prompt(prompt, document)
        first = _advise(guide, rows)
        assert own.running and guide.stats.queries == 1
        os.kill(own.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while own.running and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not own.running
        guide.reset()
        second = _advise(guide, rows)
        assert guide.stats.kept_hits == 0 and guide.stats.queries == 2
        assert own.restarts == 1 and own.running
        assert isinstance(second, np.ndarray) and np.array_equal(first, second)
