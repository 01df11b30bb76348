"""Tokens that carry the dot and a whole name (`.get`, `.append`) with a real jedi server.

The public MGD implementation triggers only when the text *ends* with a dot,
so such a token slips past it. Here it must be checked against the server.
"""

from __future__ import annotations

import re

import pytest
import torch
from transformers import LogitsProcessor, LogitsProcessorList

from mgd.decoding.processor import MGDLogitsProcessor
from mgd.decoding.token_index import NameTrie, token_index_for
from mgd.monitors.base import Document


class _Push(LogitsProcessor):
    """Makes one token overwhelmingly likely at the first step (before guidance runs)."""

    def __init__(self, token: int) -> None:
        self.token = token
        self.width: int | None = None

    def __call__(self, input_ids, scores):
        if self.width is None:
            self.width = input_ids.shape[1]
        if input_ids.shape[1] == self.width:
            scores = scores.clone()
            scores[:, self.token] += 1000.0
        return scores


def _single_token(tokenizer, text: str) -> int:
    ids = tokenizer.encode(text, add_special_tokens=False)
    assert len(ids) == 1, f"{text!r} is not one token here: {tokenizer.convert_ids_to_tokens(ids)}"
    return ids[0]


def _generate(model, tokenizer, session, doc: Document, push: int) -> str:
    ids = tokenizer(doc.prefix, add_special_tokens=False)["input_ids"]
    processor = MGDLogitsProcessor(tokenizer, session)
    processor.add_prompt(ids, doc)
    out = model.generate(
        input_ids=torch.tensor([ids]),
        logits_processor=LogitsProcessorList([_Push(push), processor]),
        max_new_tokens=4,
        do_sample=False,
        pad_token_id=tokenizer.pad_token_id,
    )
    return tokenizer.decode(out[0, len(ids) :])


def test_vocabulary_has_the_merges(merging_tokenizer):
    index = token_index_for(merging_tokenizer)
    merged = {index.token_bytes[t] for t in index.dot_merged.tolist()}
    assert {b".get", b".append", b".items"} <= merged


def test_index_rule_holds_on_a_merging_vocabulary(merging_tokenizer):
    index = token_index_for(merging_tokenizer)
    for names in ({"get", "get_all", "items"}, {"append", "_private", "__len__"}, {"x"}):
        trie = NameTrie.build(names)
        for typed in {b""} | {n.encode()[:k] for n in names for k in range(1, len(n) + 1)}:
            node = trie.follow(typed)
            assert torch.equal(torch.from_numpy(index.allowed_mask(node)), torch.from_numpy(index.scan_allowed(node)))


@pytest.fixture(scope="module")
def path(bookshop):
    return str(bookshop / "bookshop" / "merges.py")


@pytest.mark.parametrize(
    "receiver,token,allowed",
    [
        ("d: dict[str, int] = {}\nd", ".get", True),
        ("d: dict[str, int] = {}\nd", ".append", False),
        ("xs: list[int] = []\nxs", ".append", True),
        ("xs: list[int] = []\nxs", ".get", False),
        ("from bookshop.models import Catalogue\n\ndef f(c: Catalogue):\n    return c", ".get", False),
        ("from bookshop.models import Catalogue\n\ndef f(c: Catalogue):\n    return c.entries", ".items", True),
    ],
)
def test_dot_name_token_is_checked_against_the_server(merging_model, merging_tokenizer, session, path, receiver, token, allowed):
    push = _single_token(merging_tokenizer, token)
    text = _generate(merging_model, merging_tokenizer, session, Document(path, receiver, "\n"), push)
    assert text.startswith(token) == allowed, text


def test_unresolved_receiver_leaves_the_merged_token_free(merging_model, merging_tokenizer, session, path):
    push = _single_token(merging_tokenizer, ".append")
    text = _generate(merging_model, merging_tokenizer, session, Document(path, "def f(v):\n    return v", "\n"), push)
    assert text.startswith(".append")


def test_inside_strings_and_comments_merges_are_free(merging_model, merging_tokenizer, session, path):
    push = _single_token(merging_tokenizer, ".append")
    for prefix in ("s = 'xs", "# see xs"):
        text = _generate(merging_model, merging_tokenizer, session, Document(path, prefix, "\n"), push)
        assert text.startswith(".append"), (prefix, text)


def test_paren_and_name_token_after_a_complete_member(merging_model, merging_tokenizer, session, path):
    # `(self`-style tokens: the member is complete, the rest opens a call and names no member
    push = _single_token(merging_tokenizer, "(x")
    doc = Document(path, "xs: list[int] = []\nxs.append", "\n")
    text = _generate(merging_model, merging_tokenizer, session, doc, push)
    assert text.startswith("(x")
    # right after the dot no name is complete yet, so the same push must not pass
    text = _generate(merging_model, merging_tokenizer, session, Document(path, "xs: list[int] = []\nxs.", "\n"), push)
    assert not text.startswith("(")
    assert re.match(r"[A-Za-z_]", text), text


class _PushEach(LogitsProcessor):
    """Makes the i-th of `tokens` overwhelmingly likely at the i-th step (before guidance runs)."""

    def __init__(self, tokens: list[int]) -> None:
        self.tokens = tokens
        self.width: int | None = None

    def __call__(self, input_ids, scores):
        if self.width is None:
            self.width = input_ids.shape[1]
        step = input_ids.shape[1] - self.width
        if step < len(self.tokens):
            scores = scores.clone()
            scores[:, self.tokens[step]] += 1000.0
        return scores


@pytest.mark.parametrize("token, allowed", [(".items", True), (".append", False)])
def test_a_dot_name_token_right_after_a_generated_member_is_judged_by_the_server(
    merging_model, merging_tokenizer, session, path, token, allowed
):
    # the member `entries` is written by the model, so its trie is active when `.items` comes: the token starts
    # the next member's name, which the trie cannot judge; the server's answer at `c.entries.` must
    pushes = merging_tokenizer.encode("entries", add_special_tokens=False) + [_single_token(merging_tokenizer, token)]
    doc = Document(path, "from bookshop.models import Catalogue\n\ndef f(c: Catalogue):\n    return c.", "\n")
    ids = merging_tokenizer(doc.prefix, add_special_tokens=False)["input_ids"]
    processor = MGDLogitsProcessor(merging_tokenizer, session)
    processor.add_prompt(ids, doc)
    out = merging_model.generate(
        input_ids=torch.tensor([ids]), logits_processor=LogitsProcessorList([_PushEach(pushes), processor]),
        max_new_tokens=len(pushes) + 2, do_sample=False, pad_token_id=merging_tokenizer.pad_token_id,
    )  # fmt: skip
    text = merging_tokenizer.decode(out[0, len(ids) :])
    assert text.startswith("entries")
    assert text.startswith("entries" + token) == allowed, text
