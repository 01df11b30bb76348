"""`complete_document` on the llama.cpp engine: the same arguments and `Completion`s as on transformers.

The guide is the engine-free `Guide` (a processor made for transformers is
unwrapped to its guide). The caller's stopping criteria and logits
processors are transformers-style objects; they are handed one row as
torch tensors that share the engine's numpy memory. `n` samples
(`num_return_sequences`) are `n` runs; beam search is refused.
"""

from __future__ import annotations

import time

import numpy as np

from mgd.decoding.llama_engine import BeamSearchUnsupported, LlamaEngine
from mgd.decoding.sampling import Sampler
from mgd.errors import InputError

# transformers generate() options that mean nothing here but change nothing either
_IGNORED = frozenset({"pad_token_id", "renormalize_logits", "eos_token_id", "use_cache"})
_SAMPLING = frozenset({"do_sample", "temperature", "top_p", "top_k", "seed", "num_return_sequences", "num_beams"})


def sampler_from(options: dict) -> tuple[Sampler, int]:
    """The sampler and sample count that transformers-style `options` ask for (InputError for what llama.cpp cannot do)."""
    unknown = sorted(set(options) - _IGNORED - _SAMPLING)
    if unknown:
        raise InputError(f"the llama.cpp engine does not take {', '.join(unknown)}")
    if int(options.get("num_beams", 1)) > 1:
        raise BeamSearchUnsupported(
            "beam search is not offered on the llama.cpp engine (it runs one sequence at a time): "
            "use --engine transformers, or sampling"
        )
    count = int(options.get("num_return_sequences", 1))
    if not options.get("do_sample", False):
        return Sampler(), count
    seed = options.get("seed")
    if seed is None:  # follow torch's seed, which callers such as the evaluation set
        import torch

        seed = int(torch.randint(0, 2**31 - 1, ()).item())
    top_k = options.get("top_k")
    return (
        Sampler(
            temperature=float(options.get("temperature", 1.0)),
            top_p=float(options.get("top_p", 1.0) or 1.0),
            top_k=50 if top_k is None else int(top_k),  # transformers' default
            seed=int(seed),
        ),
        count,
    )


def complete_on_llama(
    document,
    *,
    model: LlamaEngine,
    guided: bool,
    processor,
    session,
    monitors,
    max_new_tokens: int,
    stop_at_newline: bool,
    max_prompt_tokens: int,
    stopping_criteria=(),
    logits_processors=(),
    **options,
) -> list:
    """One `Completion` per sample of `document` (see `mgd.completion.complete_document`)."""
    from mgd.completion import Completion, _counts, completion_text
    from mgd.decoding.guide import Guide
    from mgd.decoding.token_index import token_index_for

    try:
        sampler, count = sampler_from(options)
    except BeamSearchUnsupported as err:
        raise InputError(str(err)) from None
    vocab = model.tokenizer
    index = token_index_for(vocab)
    prompt = vocab.encode(document.prefix)[-max_prompt_tokens:] or [
        vocab.bos_token_id if vocab.bos_token_id is not None else vocab.eos_token_id
    ]
    guide = None
    if guided:
        guide = getattr(processor, "guide", processor)
        if guide is None:
            guide = Guide(vocab, session, monitors, index=index)
        guide.clear_prompts()
        guide.add_prompt(prompt, document)
        guide.one_line = stop_at_newline
    before = _counts(guide.stats) if guide is not None else (0,) * 6
    hooks = ([_guide_hook(guide)] if guide is not None else []) + [_torch_hook(p) for p in logits_processors]
    stops = [_torch_stop(c) for c in stopping_criteria]
    table = index.token_bytes

    def stop(ids: np.ndarray) -> bool:
        last = table[int(ids[-1])] or b""
        return (stop_at_newline and b"\n" in last) or any(s(ids) for s in stops)

    started = time.perf_counter()
    runs = [model.run(prompt, max_new_tokens=max_new_tokens, sampler=sampler, hooks=hooks, stop=stop) for _ in range(count)]
    seconds = time.perf_counter() - started
    if guide is not None:
        guide.finish()
    counts = [now - then for now, then in zip(_counts(guide.stats), before)] if guide is not None else [0] * 6
    completions = []
    for new in runs:
        written = [t for t in new if not vocab.is_end(t)]
        text = completion_text(table, written, stop_at_newline)
        completions.append(
            Completion(
                text=text, guided=guided, new_tokens=len(new), constrained_steps=counts[0], server_queries=counts[1],
                seconds=seconds, unanswered_queries=counts[2], unguided_steps=counts[3], engine=model.engine,
                prefetch_hits=counts[4], prefetch_misses=counts[5],
            )  # fmt: skip
        )
    return completions


def _guide_hook(guide):
    """The guide as a step hook: its advice applied to the row's scores in place."""

    def hook(ids: np.ndarray, scores: np.ndarray) -> np.ndarray:
        guide.begin_step(ids[None, :])
        advice = guide.advise(ids, scores)
        if advice is None:
            return scores
        if isinstance(advice, list):
            scores[advice] = -np.inf
            return scores
        width = min(advice.shape[0], scores.shape[0])
        scores[:width][~advice[:width]] = -np.inf
        scores[width:] = -np.inf
        return scores

    return hook


def _torch_hook(processor):
    """A transformers logits processor as a step hook (one row, in torch tensors sharing the numpy memory)."""
    import torch

    def hook(ids: np.ndarray, scores: np.ndarray) -> np.ndarray:
        out = processor(torch.from_numpy(ids[None, :]), torch.from_numpy(scores[None, :]))
        return out[0].numpy()

    return hook


def _torch_stop(criterion):
    """A transformers stopping criterion as a check of one row's ids."""
    import torch

    def stop(ids: np.ndarray) -> bool:
        return bool(criterion(torch.from_numpy(ids[None, :]), None).all())

    return stop
