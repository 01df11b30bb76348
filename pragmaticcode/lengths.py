"""How long the ground truth is: the rest of each prompt's function, counted in the model's tokens.

The token cap of an evaluation decides what CR measures: a sample cut at the
cap is scored as the truncated code it is. `truth_lengths` measures every
prompt of a dataset (its packages fetched as the evaluation fetches them),
`distribution` summarises a list of lengths, and `cap_for` is the smallest
cap that lets a share of the ground truths fit, bounded above.
"""

from __future__ import annotations

import math
import pathlib
from typing import Sequence

from tqdm import tqdm

from mgd.pragmaticcode.errors import FetchError

SHARE = 0.9  # the share of ground truths the default cap lets fit
CEILING = 256  # ... unless that needs more tokens than this
CAPS = (64, 128, 256, 512)
# `eval`'s default cap, from `mgd pragmaticcode lengths` on 2026-12-04: 90% of the ground truths fit
# within 124 tokens on PragmaticCode-Py (90.1% within 128) and within 99 on -Java (95.6% within 128)
DEFAULT_MAX_NEW_TOKENS = 128


def truth_lengths(prompts: Sequence, tokenizer, work: pathlib.Path, repos: pathlib.Path | None = None) -> tuple[list[int], dict[str, str]]:
    """Each prompt's ground truth length in `tokenizer`'s tokens, and the prompts skipped (id -> why)."""
    from mgd.pragmaticcode.evaluate import _Packages

    packages = _Packages(work, repos)
    lengths: list[int] = []
    skipped: dict[str, str] = {}
    try:
        for prompt in tqdm(prompts, desc="prompts", unit="prompt"):
            try:
                build = packages.build(prompt)
                text = packages.text(prompt, build)
            except FetchError as err:
                skipped[prompt.id] = str(err)
                continue
            lengths.append(token_count(tokenizer, prompt.ground_truth(text)))
    finally:
        packages.close()
    return lengths, skipped


def token_count(tokenizer, text: str) -> int:
    """How many tokens `tokenizer` spells `text` with (no special tokens)."""
    return len(tokenizer(text, add_special_tokens=False)["input_ids"])


def percentile(values: Sequence[int], share: float) -> int:
    """The smallest value at least `share` of `values` are no larger than (nearest rank)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def cap_for(lengths: Sequence[int], share: float = SHARE, ceiling: int = CEILING) -> int:
    """The smallest token cap that `share` of the ground truths fit under, or `ceiling` if that is smaller."""
    return min(ceiling, percentile(lengths, share))


def distribution(lengths: Sequence[int]) -> dict:
    """Count, mean, percentiles and the share fitting under common caps, of ground-truth lengths in tokens."""
    if not lengths:
        return {"prompts": 0}
    return {
        "prompts": len(lengths),
        "mean": round(sum(lengths) / len(lengths), 1),
        **{f"p{int(q * 100)}": percentile(lengths, q) for q in (0.5, 0.75, 0.9, 0.95)},
        "max": max(lengths),
        "fits": {str(cap): round(100 * sum(n <= cap for n in lengths) / len(lengths), 1) for cap in CAPS},
        "cap_for_90_percent": cap_for(lengths),
    }


def describe(summary: dict) -> str:
    """One paragraph of text for a `distribution`."""
    if not summary.get("prompts"):
        return "ground truth: no lengths known"
    fits = ", ".join(f"{share}% within {cap}" for cap, share in summary["fits"].items())
    return (
        f"ground truth (rest of the function), {summary['prompts']} prompts: mean {summary['mean']} tokens, "
        f"median {summary['p50']}, p75 {summary['p75']}, p90 {summary['p90']}, p95 {summary['p95']}, max {summary['max']}; "
        f"{fits}; cap for 90%: {summary['cap_for_90_percent']}"
    )
