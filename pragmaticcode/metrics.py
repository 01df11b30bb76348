"""The MGD paper's per-sample metrics and the score@k aggregate.

NIM, ISM and PM compare the generated rest of a function with the original
over the language's lexical tokens (`mgd.pragmaticcode.lexers`); score@k turns n per-sample values of
one prompt into the expected best of k samples drawn without replacement.
"""

from __future__ import annotations

from collections.abc import Sequence
from math import comb

from mgd.pragmaticcode.lexers import identifiers as _identifiers
from mgd.pragmaticcode.lexers import tokens as _tokens


def common_prefix(a: Sequence, b: Sequence) -> int:
    """Length of the longest common prefix of two sequences."""
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def next_identifier_match(generated: str, truth: str, language: str = "python") -> float:
    """NIM: 1.0 if the first identifier written is the original's first identifier."""
    gen, ref = _identifiers(generated, language), _identifiers(truth, language)
    return float(bool(gen) and bool(ref) and gen[0] == ref[0])


def identifier_sequence_match(generated: str, truth: str, language: str = "python") -> float:
    """ISM: the longest matching prefix of identifiers, as a fraction of the original's count."""
    ref = _identifiers(truth, language)
    if not ref:
        return float(not _identifiers(generated, language))
    return common_prefix(_identifiers(generated, language), ref) / len(ref)


def prefix_match(generated: str, truth: str, language: str = "python") -> float:
    """PM: the longest matching prefix of all lexical tokens, as a fraction of the original's count."""
    ref = _tokens(truth, language)
    if not ref:
        return float(not _tokens(generated, language))
    return common_prefix(_tokens(generated, language), ref) / len(ref)


def score_at_k(values: Sequence[float], k: int) -> float:
    """score@k of one prompt's n sample values: Σ v_i·C(n−i, k−1)/C(n, k) over values sorted descending.

    For 0/1 values this is the unbiased pass@k; the result is a fraction in [0, 1].
    """
    n = len(values)
    if not 1 <= k <= n:
        raise ValueError(f"score@{k} needs 1 <= k <= n, and there are n = {n} samples")
    ordered = sorted(values, reverse=True)
    total = comb(n, k)
    return sum(v * comb(n - i, k - 1) for i, v in enumerate(ordered, 1)) / total
