"""The logits processor inside `generate()`: every decoding mode writes only real members.

A tiny random model (real vocabulary, no preferences) makes every allowed
token likely somewhere, so these runs exercise the mask broadly; the language
server and tokenizer are the real ones.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
import torch
from transformers import LogitsProcessor, LogitsProcessorList

from mgd.decoding.processor import MGDLogitsProcessor
from mgd.monitors.base import Document


REPORT = "bookshop/report.py"
CATALOGUE_MARK = "    return catalogue."
BOOK_MARK = "        total += book."


def _split(repo, mark: str) -> Document:
    path = repo / REPORT
    text = path.read_text()
    cut = text.index(mark) + len(mark)
    return Document(str(path), text[:cut], text[cut:])


def _first_name(text: str) -> str:
    return re.match(r"\w*", text).group(0)


def _decode(tokenizer, processor, row, width) -> str:
    table = processor.index.token_bytes
    return b"".join(table[int(t)] or b"" for t in row[width:]).decode("utf-8", "replace")


def _run(model, tokenizer, session, documents, extra=None, **options):
    processor = MGDLogitsProcessor(tokenizer, session)
    prompts = [tokenizer(d.prefix, add_special_tokens=False)["input_ids"] for d in documents]
    for ids, doc in zip(prompts, documents):
        processor.add_prompt(ids, doc)
    width = max(len(p) for p in prompts)
    pad = tokenizer.pad_token_id
    input_ids = torch.tensor([[pad] * (width - len(p)) + p for p in prompts])
    attention = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts])
    processors = LogitsProcessorList(([extra] if extra else []) + [processor])
    torch.manual_seed(1)
    out = model.generate(
        input_ids=input_ids,
        attention_mask=attention,
        logits_processor=processors,
        max_new_tokens=options.pop("max_new_tokens", 8),
        pad_token_id=pad,
        **options,
    )
    return processor, [_decode(tokenizer, processor, row, width) for row in out]


def _assert_members(texts, members):
    for text in texts:
        name = _first_name(text)
        assert name, f"no name written after the dot: {text!r}"
        if name == text:  # ran out of tokens inside the name
            assert any(m.startswith(name) for m in members), text
        else:
            assert name in members, f"{name!r} is not a member ({text!r})"


@pytest.fixture(scope="module")
def members_at(list_members):
    return list_members


@pytest.fixture(scope="module")
def catalogue(bookshop, session, members_at):
    doc = _split(bookshop, CATALOGUE_MARK)
    return doc, members_at(session, doc.path, doc.prefix, doc.suffix)


@pytest.fixture(scope="module")
def book(bookshop, session, members_at):
    doc = _split(bookshop, BOOK_MARK)
    return doc, members_at(session, doc.path, doc.prefix, doc.suffix)


def test_members_come_from_another_file(catalogue, book):
    assert {"entries", "lookup_isbn", "register", "restock", "titles_by"} <= catalogue[1]
    assert {"isbn", "price_cents", "shelf_value_cents"} <= book[1]


def test_unguided_tiny_model_writes_junk_after_the_dot(tiny_model, tokenizer, catalogue, session):
    # The premise of the tests below: without the mask this model names no member.
    doc, members = catalogue
    ids = torch.tensor([tokenizer(doc.prefix, add_special_tokens=False)["input_ids"]])
    torch.manual_seed(1)
    out = tiny_model.generate(input_ids=ids, max_new_tokens=8, do_sample=False, pad_token_id=tokenizer.pad_token_id)
    text = tokenizer.decode(out[0, ids.shape[1] :])
    assert _first_name(text) not in members


def test_greedy(tiny_model, tokenizer, session, catalogue):
    doc, members = catalogue
    processor, texts = _run(tiny_model, tokenizer, session, [doc], do_sample=False)
    _assert_members(texts, members)
    assert processor.stats.constrained_steps >= 1


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sampling_with_several_return_sequences(tiny_model, tokenizer, session, catalogue, seed):
    doc, members = catalogue
    torch.manual_seed(seed)
    _, texts = _run(tiny_model, tokenizer, session, [doc], do_sample=True, temperature=1.5, num_return_sequences=4)
    assert len(texts) == 4
    _assert_members(texts, members)


def test_beam_search(tiny_model, tokenizer, session, catalogue):
    doc, members = catalogue
    _, texts = _run(
        tiny_model, tokenizer, session, [doc], num_beams=3, num_return_sequences=3, do_sample=False, renormalize_logits=True
    )
    _assert_members(texts, members)


def test_batch_of_two_receivers(tiny_model, tokenizer, session, catalogue, book):
    (doc_c, members_c), (doc_b, members_b) = catalogue, book
    _, texts = _run(tiny_model, tokenizer, session, [doc_c, doc_b], do_sample=True, temperature=1.5)
    _assert_members([texts[0]], members_c)
    _assert_members([texts[1]], members_b)


def test_beam_search_over_a_batch(tiny_model, tokenizer, session, catalogue, book):
    (doc_c, members_c), (doc_b, members_b) = catalogue, book
    _, texts = _run(
        tiny_model, tokenizer, session, [doc_c, doc_b], num_beams=2, num_return_sequences=2, renormalize_logits=True
    )
    _assert_members(texts[:2], members_c)
    _assert_members(texts[2:], members_b)


class _Push(LogitsProcessor):
    """Makes one token overwhelmingly likely at one step (before guidance runs)."""

    def __init__(self, token: int, step: int, width: int) -> None:
        self.token, self.step, self.width = token, step, width

    def __call__(self, input_ids, scores):
        if input_ids.shape[1] - self.width == self.step:
            scores = scores.clone()
            scores[:, self.token] += 1000.0
        return scores


def test_state_follows_the_sequence_not_the_row(tokenizer, session, catalogue, book):
    doc_c, doc_b = catalogue[0], book[0]
    processor = MGDLogitsProcessor(tokenizer, session)
    prompts = [tokenizer(d.prefix, add_special_tokens=False)["input_ids"] for d in (doc_c, doc_b)]
    for ids, doc in zip(prompts, (doc_c, doc_b)):
        processor.add_prompt(ids, doc)
    width = max(map(len, prompts))
    rows = torch.tensor([[tokenizer.pad_token_id] * (width - len(p)) + p for p in prompts])
    vocab = len(tokenizer)
    processor(rows, torch.zeros(2, vocab))
    # next step: the rows arrive swapped, each extended by the first letter of a member
    e = tokenizer.convert_tokens_to_ids("e")
    p = tokenizer.convert_tokens_to_ids("p")
    swapped = torch.cat([rows[[1, 0]], torch.tensor([[p], [e]])], dim=1)
    masked = processor(swapped, torch.zeros(2, vocab))
    allowed_book = {processor.index.token_bytes[t] for t in torch.nonzero(masked[0] > -1).flatten().tolist()}
    allowed_cat = {processor.index.token_bytes[t] for t in torch.nonzero(masked[1] > -1).flatten().tolist()}
    assert b"rice" in allowed_book or b"r" in allowed_book  # p -> price_cents (Book)
    assert b"ntries" in allowed_cat or b"n" in allowed_cat  # e -> entries (Catalogue)
    assert b"n" not in allowed_book and b"r" not in allowed_cat


def test_dot_and_name_start_in_one_token(tiny_model, tokenizer, session, bookshop, members_at):
    # `self._` is written by SmolLM2 as `self` + `._`: the merged token must be
    # checked against the server and then constrain what follows.
    path = bookshop / "bookshop" / "shelf.py"
    prefix = (
        "from bookshop.models import Book\n\n\nclass Shelf:\n"
        "    def __init__(self) -> None:\n        self._slots: list[Book] = []\n        self.label = ''\n\n"
        "    def count(self) -> int:\n        return len(self"
    )
    doc = Document(str(path), prefix, ")\n")
    members = members_at(session, doc.path, prefix + ".")
    assert "_slots" in members
    merged = tokenizer.convert_tokens_to_ids("._")
    width = len(tokenizer(prefix, add_special_tokens=False)["input_ids"])
    processor, texts = _run(tiny_model, tokenizer, session, [doc], extra=_Push(merged, 0, width), do_sample=False)
    assert texts[0].startswith("._")
    _assert_members([texts[0][1:]], members)
    # pushing an invented name after the merged token cannot get it through
    invented = tokenizer.encode("wrong", add_special_tokens=False)[0]
    pushes = _Push(merged, 0, width)
    later = _Push(invented, 1, width)
    both = type("_Both", (LogitsProcessor,), {"__call__": lambda self, i, s: later(i, pushes(i, s))})()
    _, texts2 = _run(tiny_model, tokenizer, session, [doc], extra=both, do_sample=False)
    assert texts2[0].startswith("._") and "wrong" not in texts2[0]
    _assert_members([texts2[0][1:]], members)


def test_no_answer_means_no_constraint(tiny_model, tokenizer, session, bookshop):
    # jedi cannot know what an unresolved name holds: decoding must stay free.
    doc = Document(str(bookshop / "bookshop" / "free.py"), "def f(thing):\n    return undefined_name.", "\n")
    processor, texts = _run(tiny_model, tokenizer, session, [doc], do_sample=False)
    assert processor.stats.queries >= 1
    assert processor.stats.constrained_steps == 0


@pytest.mark.parametrize(
    "receiver",
    [
        "from bookshop.models import Catalogue\n\ndef f(c: Catalogue):\n    return c.",
        "def f():\n    return 'text'.",
        "from bookshop.models import Book\n\ndef f(b: Book):\n    b.copies_on_shelf += 1\n    return b.",
    ],
    ids=["Catalogue", "str", "Book"],
)
def test_every_allowed_token_leads_to_a_real_member_and_every_member_is_reachable(
    tokenizer, session, bookshop, members_at, receiver, monkeypatch
):
    monkeypatch.setenv("MGD_MEMBER_RULES", "off")  # the index alone: every member, dunders too, reachable
    path = str(bookshop / "bookshop" / "walk.py")
    doc = Document(path, receiver, "\n")
    members = {m.encode() for m in members_at(session, path, receiver, "\n")}
    assert members
    processor = MGDLogitsProcessor(tokenizer, session)
    prompt = tokenizer(receiver, add_special_tokens=False)["input_ids"]
    processor.add_prompt(prompt, doc)
    table = processor.index.token_bytes
    vocab = len(tokenizer)

    def allowed(row: list[int]) -> list[int]:
        masked = processor(torch.tensor([row]), torch.zeros(1, vocab))
        return torch.nonzero(masked[0] > float("-inf")).flatten().tolist()

    for tid in allowed(prompt):
        data = table[tid]
        head = re.match(rb"\w*", data).group(0)
        assert head and any(m.startswith(head) for m in members), data
        if head != data:
            assert head in members, data

    for member in sorted(members):
        row, typed = list(prompt), b""
        options = allowed(row)  # a new generation: the processor starts over from the prompt
        while typed != member:
            steps = [t for t in options if table[t] and member.startswith(typed + table[t])]
            assert steps, f"{member!r} unreachable after {typed!r}"
            best = max(steps, key=lambda t: len(table[t]))  # the longest piece, as BPE would
            row.append(best)
            typed += table[best]
            options = allowed(row)
        assert tokenizer.convert_tokens_to_ids("(") in options and tokenizer.convert_tokens_to_ids(")") in options


def test_the_guide_imports_no_engine():
    # The guidance core must stay usable by other engines: importing it loads neither torch nor transformers.
    code = (
        "import sys, mgd.decoding.guide\n"
        "loaded = [m for m in ('torch', 'transformers') if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
