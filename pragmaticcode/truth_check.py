"""Guidance against the original code: each prompt's ground truth, fed through the guide, and every token of it the guide bans.

The rest of each prompt's function is code the project compiled with (the
dataset records how many problems the original file has; it is usually
none). Fed to the guide a token at a time, as if the model had written it,
none of its tokens should be banned: a banned one is a wrong mask, the
costliest mistake guidance can make. Each step's scores make the
ground-truth token the best (so queries started ahead guess it, as they
would for a model that writes it) and leave every other token within the
merge margin, so every rule that asks only about likely tokens asks here.

This checks soundness, not usefulness: a rule that never bans anything
passes too.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import Iterator

import numpy as np
import torch

from mgd.monitors.base import Document
from mgd.pragmaticcode.prompts import Prompt

log = logging.getLogger("mgd")


@dataclass
class TruthCheck:
    """What the guide did to one prompt's ground truth."""

    prompt_id: str
    tokens: int = 0  # ground-truth tokens fed (at most the cap)
    constrained_steps: int = 0  # steps where the guide restricted the vocabulary at all
    banned: list[dict] = field(default_factory=list)  # one per banned ground-truth token: step, token, text before it
    skipped: str | None = None  # why the prompt was not checked
    unanswered_queries: int = 0

    def as_dict(self) -> dict:
        """A JSON-ready record."""
        return asdict(self)


def check_prompt(prompt: Prompt, text: str, root: str, session, monitors: list, tokenizer, index, max_tokens: int) -> TruthCheck:
    """Feed `prompt`'s ground truth in `text` (the file) through a fresh guide on `session`; list what it bans."""
    from mgd.decoding.processor import MGDLogitsProcessor

    found = TruthCheck(prompt.id)
    document = Document(f"{root}/{prompt.file}", text[: prompt.dot_offset + 1], text[prompt.function["end"] :])
    truth = prompt.ground_truth(text)
    ids = tokenizer(document.prefix, add_special_tokens=False)["input_ids"]
    truth_ids = tokenizer(truth, add_special_tokens=False)["input_ids"][:max_tokens]
    if tokenizer.decode(ids + truth_ids) != document.prefix + tokenizer.decode(truth_ids):
        found.skipped = "the prompt and its ground truth do not tokenize apart"
        return found
    guide = MGDLogitsProcessor(tokenizer, session, monitors, index=index)
    guide.add_prompt(ids, document)
    width = len(tokenizer)
    for step, token in enumerate(truth_ids):
        scores = torch.zeros(1, width)
        scores[0, token] = 1.0
        out = guide(torch.tensor([ids + truth_ids[:step]]), scores)
        row = out[0].numpy()
        if np.isneginf(row).any():
            found.constrained_steps += 1
        if np.isneginf(row[token]):
            before = tokenizer.decode(ids[-30:] + truth_ids[:step])
            found.banned.append({"step": step, "token": tokenizer.decode([token]), "before": before[-120:]})
    found.tokens = len(truth_ids)
    settle = getattr(getattr(guide, "guide", None), "settle", None)
    if settle is not None:
        settle()
    found.unanswered_queries = guide.stats.unanswered_queries
    return found


def check_truth(prompts: list[Prompt], monitors_spec: str | None, work, repos=None, max_tokens: int = 256) -> Iterator[TruthCheck]:
    """One `TruthCheck` per prompt, in order, each project's language server started once."""
    from mgd.decoding.token_index import token_index_for
    from mgd.models import load_model
    from mgd.pragmaticcode.errors import FetchError
    from mgd.pragmaticcode.evaluate import EvalConfig, _monitors, _Packages

    languages = {p.language for p in prompts}
    monitors = _monitors(EvalConfig(modes=("guided",), monitors=monitors_spec), languages)
    _model, tokenizer = load_model(None, "transformers")
    index = token_index_for(tokenizer)
    packages = _Packages(work, repos)
    try:
        for prompt in prompts:
            try:
                build = packages.build(prompt)
                text = packages.text(prompt, build)
            except (FetchError, UnicodeDecodeError) as err:
                yield TruthCheck(prompt.id, skipped=str(err))
                continue
            chosen = monitors[prompt.language]
            document = Document(str(build.root / prompt.file), text[: prompt.dot_offset + 1], text[prompt.function["end"] :])
            session = packages.language_server(prompt, build, document, chosen)
            if session is None:
                yield TruthCheck(prompt.id, skipped="no language server")
                continue
            yield check_prompt(prompt, text, str(build.root), session, chosen, tokenizer, index, max_tokens)
    finally:
        packages.close()
