"""Guidance never stops generation: failing monitors and padded vocabularies."""

from __future__ import annotations

import logging
import re

import torch
from transformers import LogitsProcessorList

from mgd.decoding.processor import MGDLogitsProcessor
from mgd.monitors.base import Document
from mgd.monitors.dereference import DereferenceMonitor

PREFIX = "from bookshop.models import Catalogue\n\ndef f(c: Catalogue):\n    return c."
MEMBERS = {"entries", "lookup_isbn", "register", "restock", "titles_by"}


class _BrokenMonitor(DereferenceMonitor):
    """Fault injection: a monitor whose query raises."""

    def allowed_names(self, session, document, generated):
        raise RuntimeError("injected failure")


def _generate(model, tokenizer, processor, prefix, path):
    ids = tokenizer(prefix, add_special_tokens=False)["input_ids"]
    processor.add_prompt(ids, Document(path, prefix, "\n"))
    out = model.generate(
        input_ids=torch.tensor([ids]),
        logits_processor=LogitsProcessorList([processor]),
        max_new_tokens=6,
        do_sample=False,
        pad_token_id=tokenizer.pad_token_id,
    )
    return tokenizer.decode(out[0, len(ids) :])


def test_a_failing_monitor_costs_a_warning_not_the_generation(tiny_model, tokenizer, session, bookshop, caplog):
    processor = MGDLogitsProcessor(tokenizer, session, [_BrokenMonitor()])
    with caplog.at_level(logging.WARNING, logger="mgd"):
        text = _generate(tiny_model, tokenizer, processor, PREFIX, str(bookshop / "bookshop" / "x.py"))
    assert text
    assert any("guidance failed" in r.message and "injected failure" in r.message for r in caplog.records)
    assert processor.stats.unguided_steps >= 1  # counted, so `--json` says guidance was off there


def test_model_with_padded_embeddings(tokenizer, session, bookshop):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    padded = len(tokenizer) + 64  # as many checkpoints round the embedding matrix up
    config = LlamaConfig(
        vocab_size=padded, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
        num_attention_heads=2, num_key_value_heads=1, pad_token_id=tokenizer.pad_token_id,
    )
    model = LlamaForCausalLM(config).eval()
    processor = MGDLogitsProcessor(tokenizer, session)
    text = _generate(model, tokenizer, processor, PREFIX, str(bookshop / "bookshop" / "x.py"))
    name = re.match(r"\w*", text).group(0)
    assert processor.stats.constrained_steps >= 1
    assert any(m.startswith(name) for m in MEMBERS) and name, text
