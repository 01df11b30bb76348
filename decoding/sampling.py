"""Picking the next token from a row of scores: greedy, or sampling with temperature, top-k and top-p.

For engines that leave the choice to the caller (llama.cpp here). Masked
entries are -inf and are never picked; the filters follow transformers'
order (temperature, then top-k, then top-p), so a seed gives one sequence
per engine, though not the same one across engines.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Sampler:
    """Greedy when `temperature` is 0; else sampling from the softmax of scores / temperature."""

    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 0  # 0: no top-k filter
    seed: int | None = None
    _rng: np.random.Generator = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.temperature < 0:
            raise ValueError("temperature must not be negative")
        if not 0 < self.top_p <= 1:
            raise ValueError("top_p must be in (0, 1]")
        if self.top_k < 0:
            raise ValueError("top_k must not be negative")
        self._rng = np.random.default_rng(self.seed)

    def pick(self, scores: np.ndarray) -> int:
        """The id chosen from `scores` (vocab,); the best one if every entry is masked."""
        if self.temperature == 0:
            return int(np.argmax(scores))
        logits = scores.astype(np.float64) / self.temperature
        if self.top_k and self.top_k < logits.shape[0]:
            cut = np.partition(logits, -self.top_k)[-self.top_k]
            logits = np.where(logits < cut, -np.inf, logits)
        best = logits.max()
        if not np.isfinite(best):
            return int(np.argmax(scores))
        probs = np.exp(logits - best)
        if self.top_p < 1:
            order = np.argsort(-probs)
            cumulative = np.cumsum(probs[order]) / probs.sum()
            # keep the smallest head whose mass reaches top_p (the first token always)
            drop = order[1:][cumulative[:-1] >= self.top_p]
            probs[drop] = 0.0
        probs /= probs.sum()
        return int(self._rng.choice(probs.shape[0], p=probs))
