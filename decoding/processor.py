"""`MGDLogitsProcessor`: monitor-guided decoding as a `generate()` hook.

A thin transformers adapter over `mgd.decoding.guide.Guide`, which does the
guiding on numpy arrays: each call hands the guide the rows' ids and scores
as numpy views and applies its advice (a list of banned ids, or a mask of
allowed ids fitted to the model's score width) to a copy of the scores.

Beam search hands processors log-probabilities; pass `renormalize_logits=True`
to `generate()` so masked scores are renormalised before beams are ranked.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from transformers import LogitsProcessor

from mgd.decoding.guide import Guide
from mgd.decoding.stats import StepStats
from mgd.decoding.token_index import TokenIndex
from mgd.monitors.base import Document, Monitor

__all__ = ["MGDLogitsProcessor", "StepStats"]


def _guide_attribute(name: str, doc: str, settable: bool = True) -> property:
    """A processor attribute that reads (and, if `settable`, sets) the guide's attribute `name`."""

    def get(self):
        return getattr(self._guide, name)

    def set_(self, value) -> None:
        setattr(self._guide, name, value)

    return property(get, set_ if settable else None, doc=doc)


class MGDLogitsProcessor(LogitsProcessor):
    """Masks tokens that would name something the language server says does not exist.

    Args:
        tokenizer: the model's tokenizer (its vocabulary is indexed once).
        session: a started `LanguageServerSession` for the repository.
        monitors: the monitors to run (default: the language's, see `mgd.monitors.LANGUAGES`).
        merge_margin: a token that merges a dot with a name start (`._`) is
            checked against the server when its score is within this margin
            of the row's best (3.0: at least ~5% of the best token's
            probability); below it, it is masked without a query, and the
            split spelling (`.` then the name) stays open.
        language: "python" or "java"; default: the session's language.

    Register the text each prompt stands for with `add_prompt` before calling
    `generate()`. Input `scores` has shape (rows, vocab) and is returned with
    disallowed entries set to -inf.
    """

    def __init__(
        self,
        tokenizer,
        session,
        monitors: Sequence[Monitor] | None = None,
        *,
        merge_margin: float = 3.0,
        index: TokenIndex | None = None,
        language: str | None = None,
    ) -> None:
        self.tokenizer = tokenizer
        self._guide = Guide(tokenizer, session, monitors, merge_margin=merge_margin, index=index, language=language)

    @property
    def guide(self) -> Guide:
        """The engine-free guide this processor adapts (other engines drive it directly)."""
        return self._guide

    # The guide holds the state; the processor's long-standing attributes read it there.
    session = _guide_attribute("session", "The language-server session asked.")
    stats = _guide_attribute("stats", "What guidance has cost so far (a StepStats).")
    one_line = _guide_attribute("one_line", "True while generation ends at its first line break (set per generation).")
    monitors = _guide_attribute("monitors", "The name monitors run (the call monitor is `_args`).")
    merge_margin = _guide_attribute("merge_margin", "How far below the row's best a dot-merged token is still checked.")
    index = _guide_attribute("index", "The token index (shared by every processor of a tokenizer).", settable=False)
    language = _guide_attribute("language", '"python" or "java".', settable=False)
    _args = _guide_attribute("call_monitor", "The call monitor, or None.", settable=False)
    released = _guide_attribute(
        "released", "Per row of the last call: the ids only the member rules masked (a `(` after a name that takes none).",
        settable=False,
    )

    def add_prompt(self, prompt_ids: Sequence[int] | torch.Tensor | None, document: Document) -> None:
        """Declare that a prompt (its token ids) stands for the text before `document`'s insertion point."""
        if isinstance(prompt_ids, torch.Tensor):
            prompt_ids = prompt_ids.reshape(-1).tolist()
        self._guide.add_prompt(prompt_ids, document)

    def clear_prompts(self) -> None:
        """Forget every registered prompt (before registering the next batch's)."""
        self._guide.clear_prompts()

    def reset(self) -> None:
        """Forget per-sequence state, so the next call starts a new generation."""
        self._guide.reset()

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        """Mask `scores` (rows, vocab) given `input_ids` (rows, length)."""
        guide = self._guide
        ids = input_ids.detach().cpu().numpy()
        guide.begin_step(ids)
        # A numpy view where numpy can read the tensor in place; else the
        # torch rows themselves (the guide only takes their max, argmax and single
        # entries), so no row is ever copied to be judged.
        rows = scores.detach().numpy() if _numpy_viewable(scores) else scores
        out = scores
        for row in range(ids.shape[0]):
            keep = guide.advise(ids[row], rows[row])
            if keep is None:
                continue
            if out is scores:
                out = _copy(scores)
            _apply(out, row, keep if isinstance(keep, list) else _fit(keep, out.shape[1]))
        return out


# numpy does these row operations on one core; torch would use its thread pool
# for tensors of vocabulary size, which stalls when the other core is busy.
_NUMPY_DTYPES = (torch.float32, torch.float64, torch.float16)


def _numpy_viewable(scores: torch.Tensor) -> bool:
    return scores.device.type == "cpu" and scores.dtype in _NUMPY_DTYPES


def _copy(scores: torch.Tensor) -> torch.Tensor:
    """A copy of `scores` we may write to (the caller may keep the original, e.g. output_logits)."""
    if _numpy_viewable(scores):
        return torch.from_numpy(scores.detach().numpy().copy())
    return scores.clone()


def _fit(mask: np.ndarray, width: int) -> np.ndarray:
    """`mask` sized to the model's score width (embeddings are often padded past the vocabulary)."""
    if mask.shape[0] == width:
        return mask
    if mask.shape[0] > width:
        return mask[:width]
    return np.concatenate([mask, np.zeros(width - mask.shape[0], dtype=bool)])


def _apply(out: torch.Tensor, row: int, keep: np.ndarray | list[int]) -> None:
    """Set row `row` of `out` to -inf at banned ids (a list) or outside an allowed mask."""
    if _numpy_viewable(out):
        view = out[row].numpy()
        if isinstance(keep, list):
            view[keep] = -np.inf
        else:
            view[~keep] = -np.inf
        return
    if isinstance(keep, list):
        out[row, keep] = float("-inf")
    else:
        out[row].masked_fill_(~torch.from_numpy(keep).to(out.device), float("-inf"))
