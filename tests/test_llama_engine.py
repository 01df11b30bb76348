"""The llama.cpp engine with the embedded GGUF: its vocabulary, guidance on Python and Java, faults, and parity with transformers."""

from __future__ import annotations

import json
import logging
import os
import pathlib

import numpy as np
import pytest
import torch
from transformers import LogitsProcessor, LogitsProcessorList

pytest.importorskip("llama_cpp")

from mgd.completion import complete_document  # noqa: E402
from mgd.decoding.llama_engine import LlamaEngine  # noqa: E402
from mgd.decoding.processor import MGDLogitsProcessor  # noqa: E402
from mgd.decoding.sampling import Sampler  # noqa: E402
from mgd.decoding.token_index import token_index_for  # noqa: E402
from mgd.decoding.token_text import token_bytes_table  # noqa: E402
from mgd.demo import run_demo  # noqa: E402
from mgd.errors import InputError  # noqa: E402
from mgd.lsp.session import LanguageServerSession  # noqa: E402
from mgd.models import default_gguf_path, load_model  # noqa: E402
from mgd.monitors.base import Document  # noqa: E402

from javashop_faults import BOOK_MEMBERS, KillServerAt, copy_javashop, first_name, report_document  # noqa: E402


@pytest.fixture(scope="module")
def llama():
    """The embedded GGUF on llama.cpp: (engine, its vocabulary)."""
    return load_model(None, "llama.cpp")


def test_the_vocabulary_is_read_off_the_gguf_and_spells_what_the_hf_tokenizer_spells(llama, tokenizer):
    engine, vocab = llama
    table = vocab.vocabulary_bytes()
    assert token_bytes_table(vocab) == table  # the index is built from llama.cpp's own bytes
    assert len(table) == engine.llm.n_vocab()
    assert table[vocab.eos_token_id] is None  # control tokens spell nothing
    assert table == token_bytes_table(tokenizer)  # the same GGUF: the same 49,152 spellings
    text = "        return catalogue.lookup_isbn(isbn)  # é 🐧\n"
    assert vocab.encode(text) == tokenizer(text, add_special_tokens=False)["input_ids"]


def test_the_demo_invents_a_member_unguided_and_writes_a_real_one_guided(llama):
    engine, vocab = llama
    result = run_demo(model=engine, tokenizer=vocab)
    assert result.unguided.engine == result.guided.engine == "llama.cpp"
    assert not result.is_member(result.unguided), result.unguided.text
    assert result.is_member(result.guided), result.guided.text
    assert result.guided.constrained_steps > 0 and result.guided.server_queries > 0


@pytest.fixture(scope="module")
def javashop(tmp_path_factory) -> pathlib.Path:
    return copy_javashop(tmp_path_factory)


def test_a_java_prompt_on_jdtls_is_guided_to_a_real_member(llama, javashop):
    engine, vocab = llama
    document = report_document(javashop)
    with LanguageServerSession(javashop, language="java") as session:
        guided = complete_document(document, model=engine, tokenizer=vocab, session=session, max_new_tokens=12)[0]
    assert guided.engine == "llama.cpp"
    assert first_name(guided.text) in BOOK_MEMBERS, guided.text
    assert guided.constrained_steps > 0


def test_killing_jedi_mid_generation_lets_llama_finish_unguided_with_a_warning(llama, bookshop, caplog):
    engine, vocab = llama
    path = bookshop / "bookshop" / "report.py"
    text = path.read_text()
    at = text.index("return catalogue.") + len("return catalogue.")
    document = Document(str(path), text[:at], text[at:])
    session = LanguageServerSession(bookshop, max_restarts=0, request_timeout=5.0)
    session.start()
    try:
        killer = KillServerAt(session, step=2)
        with caplog.at_level(logging.WARNING, logger="mgd"):
            done = complete_document(
                document, model=engine, tokenizer=vocab, session=session, max_new_tokens=24,
                stop_at_newline=False, logits_processors=[killer],
            )[0]  # fmt: skip
    finally:
        session.close()
    assert killer.killed_pid is not None
    assert done.new_tokens == 24 or done.text  # generation went on to its end
    assert not session.available
    assert any("language server" in r.getMessage() for r in caplog.records), (done, [r.getMessage() for r in caplog.records])


class _Recorder(LogitsProcessor):
    """Runs after guidance: notes the token strings still allowed at each step, then forces the scripted token."""

    def __init__(self, table, script: list[int], width: int) -> None:
        self.table, self.script, self.width, self.allowed = table, script, width, []

    def __call__(self, input_ids, scores):
        step = input_ids.shape[1] - self.width
        row = scores[0]
        finite = torch.isfinite(row)
        self.allowed.append(None if bool(finite.all()) else {self.table[i] for i in torch.nonzero(finite).flatten().tolist()})
        forced = torch.full_like(scores, float("-inf"))
        forced[0, self.script[step]] = 0.0
        return forced


def test_both_adapters_allow_the_same_token_strings_at_every_step(llama, real_model, bookshop):
    engine, vocab = llama
    model, tokenizer = real_model
    path = bookshop / "bookshop" / "report.py"
    text = path.read_text()
    at = text.index("return catalogue.") + len("return catalogue.")
    document = Document(str(path), text[:at], text[at:])
    prompt = vocab.encode(document.prefix)
    with LanguageServerSession(bookshop) as session:
        # the script: what llama.cpp writes guided, then replayed token by token through both adapters
        script = engine.run(prompt, max_new_tokens=10, sampler=Sampler(),
                            hooks=[_guide_hook(session, vocab, document, prompt)])  # fmt: skip
        llama_record = _Recorder(token_index_for(vocab).token_bytes, script, len(prompt))
        complete_document(
            document, model=engine, tokenizer=vocab, session=session, max_new_tokens=len(script),
            stop_at_newline=False, logits_processors=[llama_record],
        )  # fmt: skip
        hf_record = _Recorder(token_index_for(tokenizer).token_bytes, script, len(prompt))
        processor = MGDLogitsProcessor(tokenizer, session)
        processor.add_prompt(prompt, document)
        ids = torch.tensor([prompt])
        model.generate(
            input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=len(script), do_sample=False,
            logits_processor=LogitsProcessorList([processor, hf_record]), pad_token_id=tokenizer.eos_token_id,
        )  # fmt: skip
    constrained = [i for i, allowed in enumerate(llama_record.allowed) if allowed is not None]
    assert constrained, "the script never reached a constrained step"
    assert len(llama_record.allowed) == len(hf_record.allowed) == len(script)
    for step in range(len(script)):
        assert llama_record.allowed[step] == hf_record.allowed[step], step


def _guide_hook(session, vocab, document, prompt):
    from mgd.decoding.guide import Guide
    from mgd.llama_completion import _guide_hook as hook

    guide = Guide(vocab, session)
    guide.add_prompt(prompt, document)
    return hook(guide)


def test_beam_search_is_refused_on_llama_cpp(llama, bookshop):
    engine, vocab = llama
    with pytest.raises(InputError, match="beam search is not offered on the llama.cpp engine"):
        complete_document(Document("x.py", "x = 1\n", ""), model=engine, tokenizer=vocab, guided=False, num_beams=3)


def test_seeded_sampling_repeats_and_n_samples_are_n_runs(llama):
    engine, vocab = llama
    document = Document("x.py", "def greet(name):\n    return", "")
    options = dict(model=engine, tokenizer=vocab, guided=False, max_new_tokens=8, do_sample=True, temperature=1.2, top_p=0.95)
    first = complete_document(document, num_return_sequences=3, seed=7, **options)
    again = complete_document(document, num_return_sequences=3, seed=7, **options)
    assert [c.text for c in first] == [c.text for c in again]
    assert len(first) == 3 and len({c.text for c in first}) > 1  # the runs differ from each other


def test_a_sampler_never_picks_a_masked_token():
    scores = np.full(50, -np.inf, dtype=np.float32)
    scores[[3, 17]] = [1.0, 0.5]
    sampler = Sampler(temperature=1.0, top_p=0.9, seed=1)
    assert {sampler.pick(scores.copy()) for _ in range(200)} <= {3, 17}
    assert Sampler().pick(scores) == 3


def test_the_cache_is_reused_and_gives_the_same_tokens(llama):
    engine, vocab = llama
    prompt = vocab.encode("class Shelf:\n    def __init__(self):\n        self.")
    first = engine.run(prompt, max_new_tokens=6, sampler=Sampler())
    longer = engine.run(prompt + first[:2], max_new_tokens=4, sampler=Sampler())
    assert longer == first[2:6]
    assert engine.run(prompt, max_new_tokens=6, sampler=Sampler()) == first


def test_cli_defaults_to_llama_cpp_and_names_it_in_json(bookshop, capsys):
    from mgd.cli import main

    status = main(["complete", "--repo", str(bookshop), "--file", "bookshop/report.py", "--line", "18", "--column", "22",
                   "--json", "--max-new-tokens", "8"])  # fmt: skip
    record = json.loads(capsys.readouterr().out)
    assert status == 0
    assert record["engine"] == "llama.cpp"
    assert record["guided"] is True and record["server_answered"] is True


def test_an_engine_that_is_not_installed_is_one_line_and_status_1(bookshop, capsys, monkeypatch):
    import mgd.engines
    from mgd.cli import main

    monkeypatch.setattr(mgd.engines, "llama_cpp_installed", lambda: False)
    status = main(["demo", "--engine", "llama.cpp"])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 1
    assert err == [f"mgd: error: the llama.cpp engine is not installed: {mgd.engines.LLAMA_INSTALL}"]


def test_a_gguf_file_is_not_taken_by_the_transformers_engine(capsys):
    from mgd.cli import main

    status = main(["demo", "--engine", "transformers", "--model", str(default_gguf_path())])
    assert status == 2
    assert "use --engine llama.cpp" in capsys.readouterr().err


def test_a_gguf_model_file_runs_on_llama_cpp(tmp_path):
    target = tmp_path / "model.gguf"
    os.symlink(default_gguf_path(), target)
    engine, vocab = load_model(target)
    assert isinstance(engine, LlamaEngine) and len(vocab) == 49152
