"""What the Java real-model tests share: the javashop example's `book.` cursor, and killing a server mid-generation."""

from __future__ import annotations

import os
import pathlib
import re
import shutil
import signal

from transformers import LogitsProcessor

from mgd.demo import example_repo
from mgd.monitors.base import Document

REPORT = "src/main/java/org/example/shop/Report.java"
# In Report.titleOf(): the receiver is a Book, whose getters live in Book.java.
MARK = 'return book == null ? "unknown" : book.'
BOOK_MEMBERS = {"getTitle", "getAuthor", "getGenre", "priceInCents", "describe", "getSku", "copiesLeft", "addCopies"}


def copy_javashop(tmp_path_factory) -> pathlib.Path:
    """A private copy of the shipped javashop example."""
    target = tmp_path_factory.mktemp("repos") / "javashop"
    shutil.copytree(example_repo().parent / "javashop", target)
    return target


def report_document(javashop: pathlib.Path) -> Document:
    """The Report.java cursor after `book.`, the rest of its line left out."""
    path = javashop / REPORT
    text = path.read_text()
    at = text.index(MARK) + len(MARK)
    return Document(str(path), text[:at], text[text.index("\n", at) :])


def first_name(text: str) -> str:
    """The identifier `text` starts with ('' if none)."""
    found = re.match(r"[A-Za-z_$][\w$]*", text)
    return found.group(0) if found else ""


class KillServerAt(LogitsProcessor):
    """Fault injection: SIGKILL the language server once `step` decoding steps have run."""

    def __init__(self, session, step: int) -> None:
        self.session, self.step, self.calls, self.killed_pid = session, step, 0, None

    def __call__(self, input_ids, scores):
        self.calls += 1
        if self.calls == self.step and self.session.pid:
            self.killed_pid = self.session.pid
            os.kill(self.killed_pid, signal.SIGKILL)
        return scores
