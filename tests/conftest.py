"""Shared fixtures: the real tokenizer, models, the example repository and a jedi session."""

from __future__ import annotations

import logging
import pathlib
import shutil

import pytest
import torch

from mgd.demo import example_repo
from mgd.lsp.session import LanguageServerSession

logging.getLogger("multilspy").setLevel(logging.CRITICAL)


@pytest.fixture(scope="session")
def model_dir() -> pathlib.Path:
    """Directory of the embedded default model's cached weights (built on first use)."""
    from mgd.models import default_model_dir

    return default_model_dir()


@pytest.fixture(scope="session")
def tokenizer(model_dir):
    """The real SmolLM2 tokenizer."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(model_dir)


@pytest.fixture(scope="session")
def real_model(model_dir):
    """The real default model and its tokenizer."""
    from mgd.models import load_model

    return load_model(model_dir)


def _tiny_llama(tokenizer):
    """A one-layer Llama with random weights over `tokenizer`'s vocabulary."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=4096,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    return LlamaForCausalLM(config).eval()


@pytest.fixture(scope="session")
def tiny_model(tokenizer):
    """A tiny randomly initialised Llama with the real vocabulary: fast, and has no preferences."""
    return _tiny_llama(tokenizer)


@pytest.fixture(scope="session")
def bookshop(tmp_path_factory) -> pathlib.Path:
    """A private copy of the shipped example repository."""
    target = tmp_path_factory.mktemp("repos") / "bookshop"
    shutil.copytree(example_repo(), target)
    return target


@pytest.fixture(scope="module")
def session(bookshop):
    """A running jedi-language-server session on the bookshop copy."""
    with LanguageServerSession(bookshop) as running:
        yield running


def members_at(session, path, prefix: str, suffix: str = "") -> set[str]:
    """Member names jedi lists between `prefix` (ending with a dot) and `suffix`."""
    from mgd.monitors.dereference import member_names

    items = session.completions(path, prefix + suffix, len(prefix)) or []
    return set(member_names(items))


@pytest.fixture(scope="session")
def list_members():
    """The `members_at` helper, for test modules."""
    return members_at


@pytest.fixture(scope="session")
def merging_tokenizer():
    """A byte-level BPE whose split lets one punctuation character join a word (as in
    cl100k, Qwen2, Llama 3), so `.get`, `.append` and `(self` are single tokens.

    SmolLM2 keeps punctuation apart from letters; this one, trained in a second
    on the standard library's source, exercises the merges it lacks.
    """
    import glob
    import os
    import sysconfig

    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    stdlib = sysconfig.get_paths()["stdlib"]
    texts = [
        open(path, encoding="utf-8", errors="ignore").read()
        for path in sorted(glob.glob(os.path.join(stdlib, "*.py")))[:150]
    ]
    split = (
        r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
        r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
    )
    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(split), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=6000,
        special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(texts, trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, eos_token="<|endoftext|>", pad_token="<|endoftext|>")
    tokenizer.name_or_path = "test-merging-bpe"
    return tokenizer


@pytest.fixture(scope="session")
def merging_model(merging_tokenizer):
    """A tiny random Llama over the merging tokenizer's vocabulary."""
    return _tiny_llama(merging_tokenizer)


@pytest.fixture(scope="module")
def both_ways(real_model, bookshop, session):
    """Greedy completions by the real default model, unguided and guided, at the end of a scratch file."""
    import mgd

    model, tokenizer = real_model

    def complete(name: str, source: str, monitors: str, max_new_tokens: int = 12, **more):
        path = bookshop / "bookshop" / name
        path.write_text(source)
        line, column = source.count("\n") + 1, len(source.rsplit("\n", 1)[1]) + 1
        common = dict(model=model, tokenizer=tokenizer, max_new_tokens=max_new_tokens, **more)
        try:
            unguided = mgd.generate(bookshop, path, line, column, guided=False, **common)
            guided = mgd.generate(bookshop, path, line, column, session=session, monitors=monitors, **common)
        finally:
            path.unlink()
        return unguided, guided

    return complete
