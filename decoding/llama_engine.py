"""The llama.cpp engine: a GGUF model run through `llama-cpp-python`, guided step by step.

llama.cpp's own vocabulary decides what each token spells: `LlamaVocabulary`
reads every token's bytes off the GGUF (`llama_token_to_piece`, no other
tokenizer involved), so the token index built over it matches what the
engine writes. `LlamaEngine.run` is one sequence's decoding loop: it feeds
the model one token at a time, hands each step's logits (a numpy view, no
copy) to the guide and to the caller's processors, and picks the next
token itself (`mgd.decoding.sampling`). The key-value cache is kept between
runs, so a second run on the same prompt (the next of `n` samples, the next
keystroke of an editor) evaluates only what changed.

One sequence at a time: llama.cpp's high-level context holds one, so `n`
samples are `n` runs and beam search is not offered (`BeamSearchUnsupported`).
No torch or transformers import here.
"""

from __future__ import annotations

import ctypes
import logging
import os
import pathlib
import threading
from typing import Callable, Sequence

import numpy as np

from mgd.decoding.sampling import Sampler

log = logging.getLogger("mgd")

ENGINE = "llama.cpp"

# Called per step with the row's ids (prompt and generated, int64) and its
# scores (float32, vocabulary wide); returns the scores to go on with (may be
# the same array, written in place).
StepHook = Callable[[np.ndarray, np.ndarray], np.ndarray]


class BeamSearchUnsupported(ValueError):
    """Beam search was asked of the llama.cpp engine, which runs one sequence at a time."""


class LlamaVocabulary:
    """A tokenizer-like view of a llama.cpp model's vocabulary (what the rest of mgd reads of a tokenizer).

    `vocabulary_bytes()` is what `mgd.decoding.token_text.token_bytes_table`
    uses in place of reading a Hugging Face vocabulary; `__call__` and
    `encode` tokenize with llama.cpp itself.
    """

    def __init__(self, llm, name: str) -> None:
        import llama_cpp

        self._llm = llm
        self._lib = llama_cpp
        self._vocab = llama_cpp.llama_model_get_vocab(llm.model)
        self.name_or_path = name
        self.vocab_size = int(llm.n_vocab())
        self.eos_token_id = int(llm.token_eos())
        bos = int(llm.token_bos())
        self.bos_token_id = bos if bos >= 0 else None
        self.pad_token_id = self.eos_token_id
        self._end = frozenset(t for t in range(self.vocab_size) if llama_cpp.llama_vocab_is_eog(self._vocab, t))
        self._table: list[bytes | None] | None = None

    def __len__(self) -> int:
        return self.vocab_size

    def is_end(self, token: int) -> bool:
        """True if `token` ends generation (end-of-text, end-of-turn and the like)."""
        return token in self._end

    def vocabulary_bytes(self) -> list[bytes | None]:
        """Every token's bytes in decoded text, read off the GGUF (None for control tokens)."""
        if self._table is None:
            buf = ctypes.create_string_buffer(256)
            table: list[bytes | None] = []
            for tid in range(self.vocab_size):
                if self._lib.llama_vocab_is_control(self._vocab, tid):
                    table.append(None)
                    continue
                n = self._lib.llama_token_to_piece(self._vocab, tid, buf, len(buf), 0, False)
                if n < 0:  # longer than the buffer: llama.cpp says how long
                    buf = ctypes.create_string_buffer(-n)
                    n = self._lib.llama_token_to_piece(self._vocab, tid, buf, len(buf), 0, False)
                table.append(buf.raw[:n] or None)
            self._table = table
        return self._table

    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
        """Token ids of `text` (a beginning-of-text token first only if asked and the model has one)."""
        bos = add_special_tokens and self.bos_token_id is not None
        return list(self._llm.tokenize(text.encode("utf-8"), add_bos=bos, special=False))

    def __call__(self, text: str, add_special_tokens: bool = False, return_tensors=None) -> dict:
        """`{"input_ids": ids}` as a Hugging Face tokenizer answers (`return_tensors` is ignored: a list)."""
        return {"input_ids": self.encode(text, add_special_tokens)}

    def decode(self, ids: Sequence[int]) -> str:
        """The text of `ids` (control tokens add nothing)."""
        table = self.vocabulary_bytes()
        return b"".join(table[int(t)] or b"" for t in ids).decode("utf-8", errors="replace")


class LlamaEngine:
    """A GGUF model loaded in llama.cpp, with its vocabulary (`tokenizer`)."""

    engine = ENGINE

    def __init__(self, gguf: str | os.PathLike, *, n_ctx: int = 4096, n_threads: int | None = None) -> None:
        import llama_cpp

        self.path = pathlib.Path(gguf)
        self.n_ctx = n_ctx
        self.llm = llama_cpp.Llama(
            model_path=str(self.path),
            n_ctx=n_ctx,
            n_threads=n_threads or _threads(),
            logits_all=False,
            verbose=False,
        )
        self.tokenizer = LlamaVocabulary(self.llm, str(self.path))
        self._lock = threading.Lock()  # one context: one run at a time

    def run(
        self,
        prompt_ids: Sequence[int],
        *,
        max_new_tokens: int,
        sampler: Sampler,
        hooks: Sequence[StepHook] = (),
        stop: Callable[[np.ndarray], bool] | None = None,
    ) -> list[int]:
        """Generate up to `max_new_tokens` after `prompt_ids`; the new ids (the end token included, if written).

        Each step the scores go through `hooks` in order (guidance first),
        then `sampler` picks a token; the run ends at an end token, at
        `max_new_tokens`, when `stop(ids)` is true, or at the context's end.
        """
        prompt = [int(t) for t in prompt_ids]
        if not prompt:
            raise ValueError("the llama.cpp engine needs at least one prompt token")
        room = self.n_ctx - len(prompt)
        if room <= 0:
            raise ValueError(f"the prompt has {len(prompt)} tokens; the context holds {self.n_ctx}")
        ids = np.array(prompt, dtype=np.int64)
        new: list[int] = []
        with self._lock:
            self._feed_prompt(prompt)
            limit = min(max_new_tokens, room)
            for _ in range(limit):
                scores = self._logits()
                for hook in hooks:
                    scores = hook(ids, scores)
                token = sampler.pick(scores)
                new.append(token)
                ids = np.append(ids, token)
                if self.tokenizer.is_end(token) or len(new) == limit or (stop is not None and stop(ids)):
                    break
                self.llm.eval([token])
        return new

    def _feed_prompt(self, prompt: list[int]) -> None:
        """Evaluate `prompt`, reusing the cache up to the longest prefix it shares with what was evaluated."""
        llm = self.llm
        done = llm.input_ids[: llm.n_tokens]
        same = 0
        for a, b in zip(done, prompt):
            if a != b:
                break
            same += 1
        same = min(same, len(prompt) - 1)  # the last prompt token is evaluated again, for fresh logits
        llm.n_tokens = same  # eval() drops the cache past n_tokens before it decodes
        llm.eval(prompt[same:])

    def _logits(self) -> np.ndarray:
        """The last evaluated position's logits, copied (hooks write to them)."""
        pointer = self.llm._ctx.get_logits_ith(-1)
        return np.ctypeslib.as_array(pointer, shape=(self.tokenizer.vocab_size,)).copy()


def _threads() -> int:
    """Threads to decode on: $OMP_NUM_THREADS if set (shards of an evaluation set it to 1), else the cores, up to 8."""
    try:
        return max(1, int(os.environ["OMP_NUM_THREADS"]))
    except (KeyError, ValueError):
        return max(1, min(os.cpu_count() or 1, 8))


def find_gguf(path: str | os.PathLike) -> pathlib.Path:
    """The GGUF file `path` names: the file itself, or the one `.gguf` file in a directory (ValueError otherwise)."""
    where = pathlib.Path(path)
    if where.is_file():
        if where.suffix != ".gguf":
            raise ValueError(f"{where} is not a GGUF file (the llama.cpp engine reads .gguf)")
        return where
    if where.is_dir():
        found = sorted(where.glob("*.gguf"))
        if len(found) == 1:
            return found[0]
        if not found:
            raise ValueError(f"{where} holds no .gguf file (the llama.cpp engine reads GGUF models)")
        raise ValueError(f"{where} holds {len(found)} .gguf files; name one: " + ", ".join(p.name for p in found))
    raise ValueError(f"model path {where} does not exist")
