"""`mgd.generate`: guided completion at a cursor in a repository, in one call."""

from __future__ import annotations

import contextlib
import logging
import os
import pathlib
import time
from dataclasses import dataclass

import torch
from transformers import LogitsProcessorList, StoppingCriteria, StoppingCriteriaList

from mgd.errors import InputError, MGDError
from mgd.models import load_model

log = logging.getLogger("mgd")


@dataclass
class Completion:
    """The text written at the cursor, and what guidance did along the way."""

    text: str
    guided: bool
    new_tokens: int
    constrained_steps: int
    server_queries: int
    seconds: float
    unanswered_queries: int = 0  # queries the language server did not answer (error, timeout, dead server)
    unguided_steps: int = 0  # steps at a trigger left unconstrained because the server did not answer there
    engine: str = "transformers"  # the engine that decoded: "transformers" or "llama.cpp"
    prefetch_hits: int = 0  # answers asked ahead of the step that needed them, and used
    prefetch_misses: int = 0  # answers asked ahead and not needed (a wrong guess)


@dataclass(frozen=True)
class Cursor:
    """A resolved insertion point: absolute file path and the text around it."""

    repo: pathlib.Path
    path: pathlib.Path
    prefix: str
    suffix: str


def resolve_cursor(repo: str | os.PathLike, file: str | os.PathLike, line: int, column: int) -> Cursor:
    """Check a repository, file and 1-based position; raise MGDError naming what is wrong."""
    from mgd.lsp.positions import line_column_to_offset
    from mgd.monitors import language_of

    root = pathlib.Path(repo)
    if not root.exists():
        raise InputError(f"repository {repo} does not exist")
    if not root.is_dir():
        raise InputError(f"repository {repo} is not a directory")
    root = root.resolve()
    path = pathlib.Path(file)
    path = (path if path.is_absolute() else root / path).resolve()
    if root not in path.parents:
        raise InputError(f"file {file} is not inside the repository {repo}")
    if path.is_dir():
        raise InputError(f"file {file} is a directory, not a Python or Java file")
    if not path.is_file():
        raise InputError(f"file {file} does not exist in {repo}")
    if language_of(str(path)) is None:
        raise InputError(f"file {file} is neither Python (.py, .pyi) nor Java (.java)")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError(f"file {file} is not UTF-8 text") from None
    try:
        offset = line_column_to_offset(text, line, column)
    except ValueError as err:
        raise InputError(f"position {line}:{column} in {file}: {err}") from None
    return Cursor(repo=root, path=path, prefix=text[:offset], suffix=text[offset:])


class _StopAtNewline(StoppingCriteria):
    """Stops each row once it writes a line break (generate() keeps finished rows finished)."""

    def __init__(self, token_bytes) -> None:
        self.token_bytes = token_bytes

    def __call__(self, input_ids: torch.LongTensor, scores, **kwargs) -> torch.BoolTensor:
        done = [b"\n" in (self.token_bytes[int(t)] or b"") for t in input_ids[:, -1]]
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)


def generate(
    repo: str | os.PathLike,
    file: str | os.PathLike,
    line: int,
    column: int,
    *,
    model=None,
    tokenizer=None,
    guided: bool = True,
    max_new_tokens: int = 32,
    stop_at_newline: bool = True,
    max_prompt_tokens: int = 1024,
    session=None,
    monitors=None,
    engine: str | None = None,
    **generate_kwargs,
) -> Completion:
    """Complete the code at a 1-based line and column of a file in a repository.

    `model` is a loaded causal LM (with `tokenizer`), a model directory or GGUF
    file, or None for the embedded default; `engine` ("transformers" or
    "llama.cpp") runs a model given by path (default: llama.cpp for a GGUF
    when llama-cpp-python is installed, else transformers). `monitors` is a list of monitors or their names
    separated by commas (default: the language's, "deref,imports,classes,args,types"
    for Python and "deref,args,enums,new,types" for Java). `session` reuses a running
    language server; without one, jedi (Python) or JDT.LS (Java) is started
    for `repo` and stopped afterwards.
    Extra keyword arguments go to `model.generate` (greedy by default; on
    llama.cpp: do_sample, temperature, top_p, top_k, seed, num_return_sequences).
    """
    from mgd.lsp.project import project_session
    from mgd.lsp.session import ServerUnavailable
    from mgd.monitors.base import Document

    from mgd.monitors import language_of

    cursor = resolve_cursor(repo, file, line, column)
    language = language_of(str(cursor.path))
    monitors = _monitor_list(monitors, language)
    if model is None or isinstance(model, (str, os.PathLike)):
        model, tokenizer = load_model(model, engine)
    elif tokenizer is None:
        raise MGDError("a loaded model needs its tokenizer: pass tokenizer=")
    with contextlib.ExitStack() as stack:
        if guided and session is None:
            try:
                session = stack.enter_context(
                    project_session(cursor.repo, language, start_timeout=120.0 if language == "java" else 30.0)
                )
            except ServerUnavailable as err:
                raise MGDError(str(err)) from None
        completions = complete_document(
            Document(str(cursor.path), cursor.prefix, cursor.suffix),
            model=model,
            tokenizer=tokenizer,
            guided=guided,
            session=session,
            monitors=monitors,
            max_new_tokens=max_new_tokens,
            stop_at_newline=stop_at_newline,
            max_prompt_tokens=max_prompt_tokens,
            **generate_kwargs,
        )
    return completions[0]


def _monitor_list(monitors, language: str = "python"):
    if isinstance(monitors, str):
        from mgd.monitor_choice import monitors_named

        try:
            return monitors_named(monitors, language)
        except ValueError as err:
            raise InputError(str(err)) from None
    return monitors


def complete_document(
    document,
    *,
    model,
    tokenizer,
    guided: bool = True,
    session=None,
    monitors=None,
    max_new_tokens: int = 32,
    stop_at_newline: bool = True,
    max_prompt_tokens: int = 1024,
    stopping_criteria=(),
    processor=None,
    logits_processors=(),
    **generate_kwargs,
) -> list[Completion]:
    """Complete between a `Document`'s prefix and suffix (text from memory, not disk): one Completion per returned sequence.

    Guided decoding needs a started `session`, or a `processor` to reuse
    (its member lists and masks carry over between calls). `stopping_criteria`
    are added to the newline stop (a caller's cancel flag, a line cap), and
    `logits_processors` run after guidance.
    """
    from mgd.engines import LLAMA_CPP, engine_of

    monitors = _monitor_list(monitors, getattr(session, "language", None) or "python")
    if guided and session is None and processor is None:
        raise MGDError("guided decoding needs a language-server session: pass session=")
    if engine_of(model) == LLAMA_CPP:
        from mgd.llama_completion import complete_on_llama

        return complete_on_llama(
            document, model=model, guided=guided, processor=processor, session=session, monitors=monitors,
            max_new_tokens=max_new_tokens, stop_at_newline=stop_at_newline, max_prompt_tokens=max_prompt_tokens,
            stopping_criteria=stopping_criteria, logits_processors=logits_processors, **generate_kwargs,
        )  # fmt: skip
    from mgd.decoding.processor import MGDLogitsProcessor
    from mgd.decoding.token_index import token_index_for

    encoded = tokenizer(document.prefix, return_tensors="pt", add_special_tokens=False)
    input_ids = encoded["input_ids"][:, -max_prompt_tokens:]
    if input_ids.shape[1] == 0:
        input_ids = torch.tensor([[tokenizer.bos_token_id or tokenizer.eos_token_id]])
    index = token_index_for(tokenizer)
    processors = LogitsProcessorList()
    if not guided:
        processor = None
    elif processor is None:
        processor = MGDLogitsProcessor(tokenizer, session, monitors, index=index)
    else:
        processor.clear_prompts()
    if processor is not None:
        processor.add_prompt(input_ids[0], document)
        processor.one_line = stop_at_newline
        processors.append(processor)
        before = _counts(processor.stats)
    processors.extend(logits_processors)
    stops = ([_StopAtNewline(index.token_bytes)] if stop_at_newline else []) + list(stopping_criteria)
    stopping = StoppingCriteriaList(stops) if stops else None
    options = {"do_sample": False, "max_new_tokens": max_new_tokens, "pad_token_id": tokenizer.pad_token_id}
    if generate_kwargs.get("num_beams", 1) > 1:
        options["renormalize_logits"] = True
    options.update(generate_kwargs)
    started = time.perf_counter()
    with torch.no_grad():
        output = model.generate(
            input_ids=input_ids,
            attention_mask=torch.ones_like(input_ids),
            logits_processor=processors,
            stopping_criteria=stopping,
            **options,
        )
    seconds = time.perf_counter() - started
    if processor is not None:
        processor.guide.finish()
    counts = [now - then for now, then in zip(_counts(processor.stats), before)] if processor is not None else [0] * 6
    completions = []
    for row in output[:, input_ids.shape[1] :]:
        ids = [int(t) for t in row]
        # Rows that finished early are padded to the longest: count up to the stop.
        used = len(ids)
        for i, t in enumerate(ids):
            data = index.token_bytes[t] or b""
            if t == tokenizer.eos_token_id or (stop_at_newline and b"\n" in data):
                used = i + 1
                break
        text = completion_text(index.token_bytes, ids[:used], stop_at_newline)
        completions.append(
            Completion(
                text=text,
                guided=guided,
                new_tokens=used,
                constrained_steps=counts[0],
                server_queries=counts[1],
                seconds=seconds,
                unanswered_queries=counts[2],
                unguided_steps=counts[3],
                prefetch_hits=counts[4],
                prefetch_misses=counts[5],
            )
        )
    return completions


def completion_text(table, ids, stop_at_newline: bool) -> str:
    """The text token ids `ids` write (read off the byte `table`), cut at the first line break if `stop_at_newline`."""
    text = b"".join(table[int(t)] or b"" for t in ids).decode("utf-8", errors="replace")
    return text.split("\n", 1)[0] if stop_at_newline else text


def _counts(stats) -> tuple[int, ...]:
    """The counters a Completion reports, read before and after a generation (the stats outlive it)."""
    return (
        stats.constrained_steps, stats.queries, stats.unanswered_queries, stats.unguided_steps,
        stats.prefetch_hits, stats.prefetch_misses,
    )  # fmt: skip
