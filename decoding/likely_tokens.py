"""Tokens whose text starts with a pattern, and which of them a row is likely to choose.

Rules that cost a server query (`mgd.decoding.argument_rules`,
`mgd.decoding.none_rules`) ask only for tokens within the merge margin of
the row's best score: an unlikely token costs no query. But an answer, once
asked, holds for every token that writes the same text: those are banned
too, likely or not, or banning the best would hand the row to the next
token writing the same thing (`);` banned, `).` chosen).
"""

from __future__ import annotations

import re

import numpy as np


class PatternTokens:
    """The tokens of a vocabulary that `pattern` matches at their start, each with the text its first group caught."""

    def __init__(self, token_bytes: list[bytes | None], pattern: re.Pattern[bytes]) -> None:
        found = [(t, m) for t, d in enumerate(token_bytes) if d and (m := pattern.match(d))]
        self.ids = np.array([t for t, _ in found], dtype=np.int64)  # (matched,)
        self.rests = [m.group(1).decode("ascii") for _, m in found]
        self._by_rest: dict[str, np.ndarray] | None = None

    def likely(self, scores, margin: float, excluded: list[int] | None = None) -> list[tuple[int, str]]:
        """(token id, caught text) of the matched tokens scoring within `margin` of the best token not `excluded` (`scores`: one row's, (vocab,))."""
        if excluded:
            scores = scores.clone() if hasattr(scores, "clone") else np.array(scores, copy=True)
            scores[excluded] = float("-inf")  # the best once these are banned
        threshold = float(scores.max()) - margin
        near = (scores[self.ids] >= threshold).tolist()  # one vector test (numpy or torch rows alike)
        return [(int(self.ids[i]), self.rests[i]) for i, ok in enumerate(near) if ok]

    def with_rest(self, rest: str) -> np.ndarray:
        """The ids of the matched tokens whose first group caught `rest`, likely or not."""
        return self.by_rest().get(rest, np.zeros(0, dtype=np.int64))

    def by_rest(self) -> dict[str, np.ndarray]:
        """The matched token ids grouped by the text their first group caught."""
        if self._by_rest is None:
            groups: dict[str, list[int]] = {}
            for t, rest in zip(self.ids.tolist(), self.rests):
                groups.setdefault(rest, []).append(t)
            self._by_rest = {rest: np.array(ids, dtype=np.int64) for rest, ids in groups.items()}
        return self._by_rest
