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


@pytest.fixture(scope="session")
def tiny_model(tokenizer):
    """A tiny randomly initialised Llama with the real vocabulary: fast, and has no preferences."""
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
    model = LlamaForCausalLM(config).eval()
    return model


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
