"""Guidance under outlines: an outlines regex and the monitor mask hold at once.

The language server (jedi), the tokenizer and the outlines regex compiler are
the real ones; the tiny random model writes junk unless something stops it,
so every constraint that holds below was enforced, not volunteered.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

import outlines
from outlines.types import Regex

from mgd.decoding.outlines_interop import MonitoredLogitsProcessor, guided_generator
from mgd.decoding.processor import MGDLogitsProcessor
from mgd.monitors.base import Document

MARK = "    return catalogue."
CALL = r"[a-z][a-z_]*\("  # the line's shape: a public method name, then its call opens


def _first_name(text: str) -> str:
    return re.match(r"\w*", text).group(0)


@pytest.fixture(scope="module")
def catalogue(bookshop, session, list_members):
    path = bookshop / "bookshop" / "report.py"
    text = path.read_text()
    cut = text.index(MARK) + len(MARK)
    doc = Document(str(path), text[:cut], text[cut:])
    return doc, list_members(session, doc.path, doc.prefix, doc.suffix)


@pytest.fixture(scope="module")
def tiny(tiny_model, tokenizer):
    return outlines.from_transformers(tiny_model, tokenizer)


def test_regex_and_guidance_together_tiny_model(tiny, tokenizer, session, catalogue):
    doc, members = catalogue
    mgd = MGDLogitsProcessor(tokenizer, session)
    generate = guided_generator(tiny, Regex(CALL), mgd)
    texts = [generate(doc, max_new_tokens=16, do_sample=False)]
    for seed in (0, 1, 2):
        torch.manual_seed(seed)
        texts.append(generate(doc, max_new_tokens=16, do_sample=True, temperature=1.5))
    for text in texts:
        assert re.fullmatch(CALL, text), text
        assert _first_name(text) in members, text
    assert mgd.stats.constrained_steps >= len(texts)


def test_batch_of_two_documents(tiny, tokenizer, session, catalogue, bookshop, list_members):
    doc, members = catalogue
    path = bookshop / "bookshop" / "walk.py"
    book = Document(str(path), "from bookshop.models import Book\n\ndef f(b: Book):\n    return b.", "\n")
    book_members = list_members(session, book.path, book.prefix, book.suffix)
    generate = guided_generator(tiny, Regex(CALL), MGDLogitsProcessor(tokenizer, session))
    first, second = generate.batch([doc, book], max_new_tokens=16, do_sample=False)
    assert re.fullmatch(CALL, first) and _first_name(first) in members, first
    assert re.fullmatch(CALL, second) and _first_name(second) in book_members, second


def test_regex_alone_lets_a_non_member_through(tiny, catalogue):
    # Plain outlines (no monitor): the shape holds, the name is invented.
    doc, members = catalogue
    tiny.type_adapter.has_chat_template = False  # the raw code prefix, as guided_generator feeds it
    try:
        text = tiny(doc.prefix, Regex(CALL), max_new_tokens=16, do_sample=False)
    finally:
        tiny.type_adapter.has_chat_template = True
    assert re.fullmatch(r"[a-z][a-z_]*\(?", text), text
    name = _first_name(text)
    assert name not in members and not any(m.startswith(name) for m in members), text


def test_guidance_alone_breaks_the_shape(tiny, tokenizer, session, catalogue):
    # Monitor without an output type: a real member, but not the regex's shape
    # (the model goes on with anything after the name, or picks a dunder).
    doc, members = catalogue
    text = guided_generator(tiny, None, MGDLogitsProcessor(tokenizer, session))(doc, max_new_tokens=16, do_sample=False)
    assert _first_name(text) in members, text
    assert not re.fullmatch(CALL, text), text


def test_first_step_mask_is_the_intersection(tiny, tokenizer, session, catalogue, monkeypatch):
    monkeypatch.setenv("MGD_MEMBER_RULES", "off")  # the monitors' mask alone, without the member rules' gate
    # At the first step each mask removes tokens the other allows; together: exactly both.
    doc, _ = catalogue
    regex_only = outlines.Generator(tiny, Regex(CALL)).logits_processor
    both = MonitoredLogitsProcessor(MGDLogitsProcessor(tokenizer, session), outlines.Generator(tiny, Regex(CALL)).logits_processor)
    mgd_only = MonitoredLogitsProcessor(MGDLogitsProcessor(tokenizer, session))
    ids = tokenizer(doc.prefix, add_special_tokens=False)["input_ids"]
    for p in (both, mgd_only):
        p.mgd.add_prompt(ids, doc)
    vocab = len(tokenizer)

    def allowed(processor) -> set[int]:
        processor.reset()
        out = processor(torch.tensor([ids]), torch.zeros(1, vocab))
        return set(torch.nonzero(out[0] > float("-inf")).flatten().tolist())

    regex, mgd, combined = allowed(regex_only), allowed(mgd_only), allowed(both)
    assert combined == regex & mgd and combined
    table = both.mgd.index.token_bytes
    assert {b"x", b"foo"} & {table[t] for t in regex - mgd}  # regex allows invented names
    assert {b"_", b"__"} <= {table[t] for t in mgd - regex}  # monitors allow dunders; the regex does not


def test_numpy_and_one_dimensional_inputs(tokenizer, session, catalogue):
    # outlines hands some models' tensors over as numpy, and single rows as 1-D.
    doc, _ = catalogue
    ids = tokenizer(doc.prefix, add_special_tokens=False)["input_ids"]
    vocab = len(tokenizer)
    torch_proc = MonitoredLogitsProcessor(MGDLogitsProcessor(tokenizer, session))
    numpy_proc = MonitoredLogitsProcessor(MGDLogitsProcessor(tokenizer, session), tensor_library_name="numpy")
    for p in (torch_proc, numpy_proc):
        p.mgd.add_prompt(ids, doc)
    e = tokenizer.convert_tokens_to_ids("e")
    for row in (ids, ids + [e]):
        expected = torch_proc(torch.tensor([row]), torch.zeros(1, vocab))[0].numpy()
        got = numpy_proc(np.array(row, dtype=np.int32), np.zeros(vocab, dtype=np.float32))
        assert isinstance(got, np.ndarray) and got.shape == (vocab,)
        assert np.array_equal(np.isneginf(got), np.isneginf(expected))
        assert np.isneginf(got).any() and not np.isneginf(got).all()


def test_empty_intersection_keeps_the_format(tiny, tokenizer, session, catalogue):
    # A shape no member fits (digits): the row follows the regex, unguided, and does not crash.
    doc, _ = catalogue
    text = guided_generator(tiny, Regex(r"[0-9]{3}"), MGDLogitsProcessor(tokenizer, session))(
        doc, max_new_tokens=6, do_sample=False
    )
    assert re.fullmatch(r"[0-9]{3}", text), text


@pytest.mark.model
def test_real_model_through_outlines(real_model, session, catalogue):
    model, tokenizer = real_model
    doc, members = catalogue
    mgd = MGDLogitsProcessor(tokenizer, session)
    wrapped = outlines.from_transformers(model, tokenizer)
    text = guided_generator(wrapped, Regex(CALL), mgd)(doc, max_new_tokens=16, do_sample=False)
    assert re.fullmatch(CALL, text), text
    assert _first_name(text) in members, text
    assert mgd.stats.constrained_steps >= 1
    # the same model under the regex alone invents a method (get_book_by_id)
    wrapped.type_adapter.has_chat_template = False
    unguided = wrapped(doc.prefix, Regex(CALL), max_new_tokens=16, do_sample=False)
    assert re.fullmatch(CALL, unguided) and _first_name(unguided) not in members, unguided
