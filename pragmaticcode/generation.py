"""Writing the rest of a function at a prompt, guided or not, until the function ends."""

from __future__ import annotations

import torch
from transformers import LogitsProcessorList, StoppingCriteria, StoppingCriteriaList

from ..decoding.processor import MGDLogitsProcessor
from ..decoding.token_index import TokenIndex
from ..monitors.base import Document


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


class _FunctionEnded(StoppingCriteria):
    """Stops each row once its text has left the function (generate() keeps finished rows finished)."""

    def __init__(self, index: TokenIndex, prompt_len: int, indent: int) -> None:
        self.index, self.prompt_len, self.indent = index, prompt_len, indent

    def __call__(self, input_ids: torch.LongTensor, scores, **kwargs) -> torch.BoolTensor:
        done = [function_end(_text(self.index, row[self.prompt_len :]), self.indent) is not None for row in input_ids]
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)


def _text(index: TokenIndex, ids) -> str:
    return b"".join(index.token_bytes[int(t)] or b"" for t in ids).decode("utf-8", errors="replace")


def complete_function(
    model,
    tokenizer,
    index: TokenIndex,
    document: Document,
    indent: int,
    *,
    session=None,
    monitors=None,
    samples: int = 1,
    temperature: float = 0.0,
    max_new_tokens: int = 128,
    max_prompt_tokens: int = 1024,
) -> list[dict]:
    """`samples` continuations of `document.prefix`, each cut where the function ends.

    With a `session` the monitors guide decoding. Each result has `text`, `stop`
    (`function_end`, `eos` or `max_tokens`), `new_tokens`, and the processor's
    `constrained_steps` and `server_queries` shared by the batch.
    """
    ids = tokenizer(document.prefix, return_tensors="pt", add_special_tokens=False)["input_ids"][:, -max_prompt_tokens:]
    processors = LogitsProcessorList()
    processor = None
    if session is not None:
        processor = MGDLogitsProcessor(tokenizer, session, monitors, index=index)
        processor.add_prompt(ids[0], document)
        processors.append(processor)
    options = {"max_new_tokens": max_new_tokens, "pad_token_id": tokenizer.pad_token_id, "num_return_sequences": samples}
    options.update({"do_sample": True, "temperature": temperature, "top_p": 1.0, "top_k": 0} if temperature > 0 else {"do_sample": False})
    with torch.no_grad():
        output = model.generate(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            logits_processor=processors,
            stopping_criteria=StoppingCriteriaList([_FunctionEnded(index, ids.shape[1], indent)]),
            **options,
        )
    results = []
    eos = {tokenizer.eos_token_id, tokenizer.pad_token_id} - {None}
    for row in output[:, ids.shape[1] :]:
        tokens = [int(t) for t in row]
        ended_eos = any(t in eos for t in tokens)
        if ended_eos:
            tokens = tokens[: next(i for i, t in enumerate(tokens) if t in eos)]
        text = _text(index, tokens)
        cut = function_end(text, indent)
        stop = "function_end" if cut is not None else "eos" if ended_eos else "max_tokens"
        results.append(
            {
                "text": text[:cut] if cut is not None else text,
                "stop": stop,
                "new_tokens": len(tokens),
                "constrained_steps": processor.stats.constrained_steps if processor else 0,
                "server_queries": processor.stats.queries if processor else 0,
            }
        )
    return results
