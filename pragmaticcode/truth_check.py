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

Each banned token's record says which rule banned it (`names`: not a name
the server allows; `members`, `calls`, `chain`, `arguments`, `nones`: the
rules of `mgd.decoding.guide`), the argument rule's verdicts there (what
was written, the type expected, the type given, and whether the server or
the type checker gave it), and the guide's last `-v` lines (the queries
and their answers), so a ban seen once under load can be read afterwards.
"""

from __future__ import annotations

import collections
import contextlib
import logging
from dataclasses import asdict, dataclass, field
from typing import Iterator

import numpy as np
import torch

from mgd.monitors.base import Document
from mgd.pragmaticcode.prompts import Prompt

log = logging.getLogger("mgd")
_SAID = 12  # the guide's log lines kept with a banned token


class _Said(logging.Handler):
    """The guide's last `-v` lines, kept while a prompt is checked; what was shown before stays shown."""

    def __init__(self, shown_from: int) -> None:
        super().__init__(logging.INFO)
        self.lines: collections.deque[str] = collections.deque(maxlen=_SAID)
        self._shown_from = shown_from

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())
        if record.levelno >= self._shown_from:
            logging.getLogger().handle(record)  # the root's handlers, as before this check


@contextlib.contextmanager
def _kept_lines() -> Iterator[_Said]:
    """Collect the `mgd` logger's INFO lines without printing any the logger would not have printed."""
    shown_from = log.getEffectiveLevel()
    said = _Said(shown_from)
    level, propagate = log.level, log.propagate
    log.addHandler(said)
    log.setLevel(logging.INFO)
    log.propagate = False
    try:
        yield said
    finally:
        log.removeHandler(said)
        log.setLevel(level)
        log.propagate = propagate


def _why(explained: dict, token: int) -> dict:
    """Which of the guide's rules banned `token`, and the argument rule's verdicts."""
    rules = []
    for rule, ids in explained.items():
        if rule == "names":
            if isinstance(ids, np.ndarray) and not ids[token] or isinstance(ids, list) and token in ids:
                rules.append(rule)
        elif isinstance(ids, list) and rule != "argument_verdicts" and token in ids:
            rules.append(rule)
    return {"rules": rules, "argument_verdicts": explained.get("argument_verdicts", [])}


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
    guide.guide.explain = True
    guide.add_prompt(ids, document)
    width = len(tokenizer)
    with _kept_lines() as said:
        for step, token in enumerate(truth_ids):
            scores = torch.zeros(1, width)
            scores[0, token] = 1.0
            out = guide(torch.tensor([ids + truth_ids[:step]]), scores)
            row = out[0].numpy()
            if np.isneginf(row).any():
                found.constrained_steps += 1
            if np.isneginf(row[token]):
                before = tokenizer.decode(ids[-30:] + truth_ids[:step])
                found.banned.append(
                    {"step": step, "token": tokenizer.decode([token]), "before": before[-120:],
                     **_why(guide.guide.explained, token), "said": list(said.lines)}
                )
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
