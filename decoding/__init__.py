"""Decoding: the token index over the vocabulary, the engine-free guide, and its transformers processor.

`guide` runs the per-row loop on numpy arrays, helped by `row_state` (a row's
state, one token read into it), `prompts` (rows matched to registered
prompts), `answers` (server queries, cached), `merges` (dot-merged tokens),
`call_rules` (open calls) and `stats`; `token_index` and `token_text` know
the vocabulary. `processor` adapts the guide to transformers' `generate()`,
and `outlines_interop` to outlines.
"""
