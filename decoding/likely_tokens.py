"""Tokens whose text starts with a pattern, and which of them a row is likely to choose.

Rules that cost a server query (`mgd.decoding.argument_rules`,
`mgd.decoding.none_rules`) judge only tokens within the merge margin of
the row's best score: an unlikely token stays free rather than cost a query.
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

    def likely(self, scores, margin: float) -> list[tuple[int, str]]:
        """(token id, caught text) of the matched tokens scoring within `margin` of the best (`scores`: one row's, (vocab,))."""
        threshold = float(scores.max()) - margin
        near = (scores[self.ids] >= threshold).tolist()  # one vector test (numpy or torch rows alike)
        return [(int(self.ids[i]), self.rests[i]) for i, ok in enumerate(near) if ok]
