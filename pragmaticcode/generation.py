"""Writing the rest of a function at a prompt, guided or not, until the function ends."""

from __future__ import annotations

from typing import Callable

import torch
from transformers import StoppingCriteria

from mgd.completion import complete_document
from mgd.decoding.token_index import TokenIndex
from mgd.monitors.base import Document
from mgd.monitors.java.lexer import CODE as _JAVA_CODE
from mgd.monitors.java.lexer import JavaLexState


def function_end(text: str, indent: int) -> int | None:
    """Offset in generated `text` where the function has ended, or None if it goes on.

    The text continues a line inside the body; the function is over at the
    first later line that is not blank and is indented no deeper than `def`.
    """
    start = text.find("\n")
    while start != -1:
        line_end = text.find("\n", start + 1)
        line = text[start + 1 : line_end if line_end != -1 else len(text)]
        # A line's depth is known once its first visible character is written.
        if line.strip() and len(line) - len(line.lstrip()) <= indent:
            return start
        start = line_end
    return None


def brace_depth(text: str) -> int:
    """How many `{` of Java code `text` are still open at its end (strings and comments ignored)."""
    depth, state = 0, JavaLexState()
    for ch in text:
        if state.mode == _JAVA_CODE:
            depth += (ch == "{") - (ch == "}")
        state = state.step(ch)
    return depth


def method_end(text: str, depth: int) -> int | None:
    """Offset just after the `}` in generated Java `text` that closes a method whose body is `depth` braces deep here."""
    state = JavaLexState()
    for i, ch in enumerate(text):
        if state.mode == _JAVA_CODE and ch in "{}":
            depth += 1 if ch == "{" else -1
            if depth == 0:
                return i + 1
        state = state.step(ch)
    return None


def end_finder(language: str, prefix_in_function: str, indent: int) -> Callable[[str], int | None]:
    """Where generated text leaves the function: by indentation (Python) or by the closing brace (Java)."""
    if language == "java":
        depth = brace_depth(prefix_in_function)
        return lambda text: method_end(text, depth)
    return lambda text: function_end(text, indent)


class _FunctionEnded(StoppingCriteria):
    """Stops each row once its text has left the function, and keeps each row's text and reason to stop.

    It sees every new token once, so it also knows which rows met EOS
    (generate() pads finished rows with it) without a second pass.
    """

    def __init__(self, index: TokenIndex, ends: Callable[[str], int | None], eos: set[int]) -> None:
        self.index, self.ends, self.eos = index, ends, eos
        self.data: list[bytearray] = []
        self.lengths: list[int] = []
        self.stops: list[str | None] = []

    def __call__(self, input_ids: torch.LongTensor, scores, **kwargs) -> torch.BoolTensor:
        if not self.stops:
            rows = input_ids.shape[0]
            self.data, self.lengths, self.stops = [bytearray() for _ in range(rows)], [0] * rows, [None] * rows
        for row, token in enumerate(input_ids[:, -1].tolist()):
            if self.stops[row] is not None:
                continue
            if token in self.eos:
                self.stops[row] = "eos"
                continue
            self.data[row] += self.index.token_bytes[token] or b""
            self.lengths[row] += 1
            if self.ends(self.text(row)) is not None:
                self.stops[row] = "function_end"
        return torch.tensor([stop is not None for stop in self.stops], dtype=torch.bool, device=input_ids.device)

    def text(self, row: int) -> str:
        """What row `row` wrote so far, EOS and padding left out."""
        return self.data[row].decode("utf-8", errors="replace")


def complete_function(
    model,
    tokenizer,
    index: TokenIndex,
    document: Document,
    indent: int | Callable[[str], int | None],
    *,
    session=None,
    monitors=None,
    samples: int = 1,
    temperature: float = 0.0,
    max_new_tokens: int = 128,
    max_prompt_tokens: int = 1024,
) -> list[dict]:
    """`samples` continuations of `document.prefix`, each cut where the function ends.

    `indent` is the column of a Python `def`, or a function from generated text
    to where it leaves the function (`end_finder`).

    With a `session` the monitors guide decoding. Each result has `text`, `stop`
    (`function_end`, `eos` or `max_tokens`), `new_tokens`, and the processor's
    `constrained_steps`, `server_queries`, `unanswered_queries` and
    `unguided_steps` shared by the batch.
    """
    from mgd.engines import LLAMA_CPP, engine_of

    ends = indent if callable(indent) else (lambda text: function_end(text, indent))
    sampling = {"do_sample": True, "temperature": temperature, "top_p": 1.0, "top_k": 0} if temperature > 0 else {}
    # transformers decodes the samples as one batch; llama.cpp one after another, each with its own stop
    runs = [samples] if engine_of(model) != LLAMA_CPP else [1] * samples
    finished: list[tuple[_FunctionEnded, int, object]] = []
    for count in runs:
        ended = _FunctionEnded(index, ends, {tokenizer.eos_token_id, tokenizer.pad_token_id} - {None})
        completions = complete_document(
            document, model=model, tokenizer=tokenizer, guided=session is not None, session=session, monitors=monitors,
            max_new_tokens=max_new_tokens, stop_at_newline=False, max_prompt_tokens=max_prompt_tokens,
            stopping_criteria=[ended], num_return_sequences=count, **sampling,
        )  # fmt: skip
        finished += [(ended, row, completion) for row, completion in enumerate(completions)]
    results = []
    for ended, row, completion in finished:
        text = ended.text(row)
        cut = ends(text)
        results.append(
            {
                "text": text[:cut] if cut is not None else text,
                "stop": ended.stops[row] or "max_tokens",
                "new_tokens": ended.lengths[row],
                "constrained_steps": completion.constrained_steps,
                "server_queries": completion.server_queries,
                "unanswered_queries": completion.unanswered_queries,
                "unguided_steps": completion.unguided_steps,
            }
        )
    return results
