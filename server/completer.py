"""The model behind `mgd serve`: loaded once in the background, run by one worker thread.

Generation is CPU-bound and this project targets small machines, so one
worker runs jobs in order of arrival while the protocol's event loop stays
free for document sync. A job can be cancelled at any time: before it starts
it is skipped, during generation it stops at the next decoding step.
"""

from __future__ import annotations

import concurrent.futures
import logging
import pathlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from transformers import LogitsProcessor, StoppingCriteria

from mgd.engines import engine_of
from mgd.monitors.base import Document
from mgd.server.sessions import SessionPool
from mgd.server.settings import Settings

log = logging.getLogger("mgd.server")

INLINE, ITEMS = "inline", "items"


class Cancelled(Exception):
    """The job was cancelled by the client or superseded by a newer request."""


@dataclass
class Job:
    """One completion to compute: where, how, and a flag that stops it."""

    kind: str  # INLINE or ITEMS
    uri: str
    root: pathlib.Path
    document: Document  # the buffer split at the cursor
    settings: Settings
    typed: str = ""  # the end of `document.prefix` the completion must begin with (the word being typed)
    cancel_event: threading.Event = field(default_factory=threading.Event)
    reason: str = ""

    def cancel(self, reason: str) -> None:
        """Ask the job to stop (at once if queued, after the current decoding step if running)."""
        if not self.cancel_event.is_set():
            self.reason = reason
            self.cancel_event.set()


@dataclass
class Result:
    """The completions a job produced (best first, distinct, non-empty)."""

    texts: list[str]  # what to insert at the cursor (after the typed text)
    guided: bool
    seconds: float


@dataclass(frozen=True)
class _Loaded:
    path: str | None
    model: object
    tokenizer: object
    engine: str | None = None  # as asked (None: the default for the model)


class Completer:
    """Holds the model, queues jobs for the single worker, supersedes and cancels them."""

    def __init__(self, sessions: SessionPool, on_problem: Callable[[str], None] | None = None) -> None:
        self.sessions = sessions
        # how the user hears that the model did not load (the server shows it in the editor); called from any thread
        self._on_problem = on_problem or (lambda message: log.error("%s", message))
        self._loaded: _Loaded | None = None
        self._loading: tuple | object = _NOTHING  # (path, engine) being loaded
        self._load_error: str | None = None
        # the load failure last shown to the user: a retry that fails the same way (every settings change
        # retries a failed path) reaches the log only, so the editor shows each problem once
        self._told_failure: tuple[str | None, str] | None = None
        self._load_lock = threading.Lock()
        self._worker = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="mgd-generate")
        self._latest: dict[tuple[str, str], Job] = {}
        self._lock = threading.Lock()
        # guided processors are reused per (session, monitors): their member-list and mask caches carry over
        self._processors: dict[tuple[int, str], object] = {}
        self.started = time.monotonic()
        self.ready_after: float | None = None  # seconds from start to a loaded model

    # -- the model -----------------------------------------------------------

    @property
    def ready(self) -> bool:
        """True once a model is loaded (requests before that get empty answers)."""
        return self._loaded is not None

    def load(self, path: str | None, engine: str | None = None) -> None:
        """Load the model at `path` (None: the embedded default) on `engine` in a background thread, unless it is loaded or loading."""
        key = (path, engine)
        with self._load_lock:
            current = (self._loaded.path, self._loaded.engine) if self._loaded is not None else _NOTHING
            if key == current or key == self._loading:
                return
            self._loading = key
        threading.Thread(target=self._load, args=key, name="mgd-model-load", daemon=True).start()

    def _load(self, path: str | None, engine: str | None = None) -> None:
        from mgd.decoding.token_index import token_index_for
        from mgd.models import load_model

        key = (path, engine)
        started = time.monotonic()
        try:
            model, tokenizer = load_model(path, engine)
            token_index_for(tokenizer)  # built here, not on the first request
        except Exception as err:  # noqa: BLE001 - a bad model path must not take the server down
            with self._load_lock:
                current = self._loading == key
                new = current and self._told_failure != (path, str(err))
                if current:
                    self._loading, self._load_error = _NOTHING, str(err)
                if new:
                    self._told_failure = (path, str(err))
            if current:
                working = f"; the model {self._loaded.path or '(default)'} goes on serving" if self._loaded else ""
                message = f"mgd: the model {path or '(default)'} did not load: {err}" + (
                    working or "; completions are empty until a model loads (set `model`)"
                )
                if new:
                    self._on_problem(message)
                else:
                    log.info("%s (again)", message)
            return
        with self._load_lock:
            if self._loading != key:  # a newer model was asked for meanwhile
                return
            self._loaded, self._loading, self._load_error = _Loaded(path, model, tokenizer, engine), _NOTHING, None
            self._told_failure = None  # a later failure is news again
            self._processors.clear()
            if self.ready_after is None:
                self.ready_after = time.monotonic() - self.started
        log.info("model %s loaded in %.1f s", path or "(default)", time.monotonic() - started)

    # -- jobs ----------------------------------------------------------------

    def submit(self, job: Job) -> concurrent.futures.Future:
        """Queue a job, superseding any older one for the same document and kind; the future gives a Result or raises Cancelled."""
        key = (job.uri, job.kind)
        with self._lock:
            older = self._latest.get(key)
            if older is not None:
                older.cancel("superseded by a newer request for the same document")
            self._latest[key] = job
        future = self._worker.submit(self._run, job)
        future.add_done_callback(lambda _: self._forget(key, job))
        return future

    def _forget(self, key: tuple[str, str], job: Job) -> None:
        with self._lock:
            if self._latest.get(key) is job:
                del self._latest[key]

    def cancel_document(self, uri: str, reason: str) -> None:
        """Cancel every job for a document."""
        with self._lock:
            jobs = [job for (job_uri, _), job in self._latest.items() if job_uri == uri]
        for job in jobs:
            job.cancel(reason)

    def pending(self) -> int:
        """Jobs queued or running."""
        with self._lock:
            return len(self._latest)

    def _run(self, job: Job) -> Result:
        if job.cancel_event.is_set():
            raise Cancelled(job.reason)
        loaded = self._loaded
        if loaded is None:
            return Result([], guided=False, seconds=0.0)
        settings = job.settings
        from mgd.monitors import language_of

        language = language_of(job.document.path) or "python"
        session = self.sessions.get(job.root, language) if settings.guided else None
        if job.cancel_event.is_set():  # waiting for a first analysis server may take a while
            raise Cancelled(job.reason)
        from mgd.completion import complete_document

        count = settings.completion_items if job.kind == ITEMS else 1
        if count > 1 and settings.temperature == 0 and engine_of(loaded.model) != "transformers":
            count = 1  # no beam search on llama.cpp: the greedy completion alone (sampling gives `count`)
        options: dict = {}
        if settings.temperature > 0:
            options.update(do_sample=True, temperature=settings.temperature, top_k=0)
        elif count > 1:
            options.update(num_beams=count)
        if count > 1:
            options["num_return_sequences"] = count
        multiline = job.kind == INLINE and settings.multiline
        criteria = [_Cancel(job.cancel_event)]
        if multiline:
            criteria.append(_LineCap(loaded.tokenizer, settings.max_lines))
        # A cursor inside a word: the prompt stops before the word and the model
        # must write it again. The monitors then see the dot (or `raise `) that
        # fires them, and the word is checked like any other name.
        document, extra = job.document, []
        if job.typed:
            # `typed` lets the member rules read the typed word (`self.__`), not the model's own first choice
            document = Document(document.path, document.prefix[: -len(job.typed)], document.suffix, typed=job.typed)
            extra.append(_TypedText(loaded.tokenizer, job.typed))
        started = time.perf_counter()
        completions = complete_document(
            document,
            model=loaded.model,
            tokenizer=loaded.tokenizer,
            guided=session is not None,
            processor=self._processor(loaded, session, settings.java_monitors if language == "java" else settings.monitors)
            if session is not None
            else None,
            max_new_tokens=settings.max_new_tokens + len(loaded.tokenizer(job.typed, add_special_tokens=False)["input_ids"]),
            stop_at_newline=not multiline,
            stopping_criteria=criteria,
            logits_processors=extra,
            **options,
        )
        if job.cancel_event.is_set():
            raise Cancelled(job.reason)
        texts: list[str] = []
        for completion in completions:
            if not completion.text.startswith(job.typed):  # the typed word fits nothing allowed
                continue
            text = completion.text[len(job.typed) :]
            if multiline:
                text = "\n".join(text.split("\n")[: settings.max_lines])
            text = text.rstrip()
            if text and text not in texts:
                texts.append(text)
        return Result(texts, guided=session is not None, seconds=time.perf_counter() - started)

    def _processor(self, loaded: _Loaded, session, monitors: str):
        from mgd.decoding.processor import MGDLogitsProcessor
        from mgd.monitors import monitors_by_name

        key = (id(session), monitors)
        processor = self._processors.get(key)
        if processor is None or processor.session is not session:
            if len(self._processors) > 16:
                self._processors.clear()
            processor = self._processors[key] = MGDLogitsProcessor(
                loaded.tokenizer, session, monitors_by_name(monitors, getattr(session, "language", "python"))
            )
        return processor

    def status(self) -> dict:
        """Model state, for `mgd/status`."""
        loaded = self._loaded
        return {
            "modelReady": loaded is not None,
            "model": (loaded.path or "(default)") if loaded is not None else None,
            "engine": engine_of(loaded.model) if loaded is not None else None,
            "modelLoading": self._loading is not _NOTHING,
            "modelError": self._load_error,
            "readyAfterSeconds": self.ready_after,
            "pendingJobs": self.pending(),
        }

    def close(self) -> None:
        """Cancel every job and stop the worker."""
        with self._lock:
            jobs = list(self._latest.values())
        for job in jobs:
            job.cancel("the server is shutting down")
        self._worker.shutdown(wait=True, cancel_futures=True)


_NOTHING = object()


class _Cancel(StoppingCriteria):
    """Stops every row once the job's cancel flag is set (checked after each decoding step)."""

    def __init__(self, event: threading.Event) -> None:
        self.event = event

    def __call__(self, input_ids, scores, **kwargs):
        return torch.full((input_ids.shape[0],), self.event.is_set(), dtype=torch.bool, device=input_ids.device)


class _TypedText(LogitsProcessor):
    """Keeps each row spelling `text` (the word typed before the cursor) until it has written it.

    Runs after guidance: if no allowed token fits the word, the row ends
    (end-of-text) rather than write something the user did not type.
    """

    def __init__(self, tokenizer, text: str) -> None:
        from mgd.decoding.token_index import token_index_for

        self.table = token_index_for(tokenizer).token_bytes
        self.text = text.encode("utf-8")
        self.eos = tokenizer.eos_token_id
        self.width: int | None = None
        self._masks: dict[bytes, torch.Tensor] = {}

    def _mask(self, remaining: bytes) -> torch.Tensor:
        mask = self._masks.get(remaining)
        if mask is None:
            mask = self._masks[remaining] = torch.tensor(
                [bool(b) and (remaining.startswith(b) or b.startswith(remaining)) for b in self.table], dtype=torch.bool
            )
        return mask

    def __call__(self, input_ids, scores):
        if self.width is None:
            self.width = input_ids.shape[1]
        out = scores
        for row in range(input_ids.shape[0]):
            written = b"".join(self.table[int(t)] or b"" for t in input_ids[row, self.width :])
            if len(written) >= len(self.text):
                continue
            if out is scores:
                out = scores.clone()
            mask = self._mask(self.text[len(written) :])
            width = min(mask.shape[0], out.shape[1])
            keep = torch.zeros(out.shape[1], dtype=torch.bool)
            keep[:width] = mask[:width]
            out[row, ~keep] = float("-inf")
            if self.eos is not None and not torch.isfinite(out[row]).any():
                out[row, self.eos] = 0.0
        return out


class _LineCap(StoppingCriteria):
    """Stops a row once it has written `max_lines` line breaks (the caller cuts the text there)."""

    def __init__(self, tokenizer, max_lines: int) -> None:
        from mgd.decoding.token_index import token_index_for

        self.table = token_index_for(tokenizer).token_bytes
        self.max_lines = max_lines
        self.prompt_width: int | None = None

    def __call__(self, input_ids, scores, **kwargs):
        if self.prompt_width is None:  # first call: one token has been generated
            self.prompt_width = input_ids.shape[1] - 1
        # count from each row's own tokens: beam search reorders rows between steps
        done = [
            sum((self.table[int(t)] or b"").count(b"\n") for t in row[self.prompt_width :]) >= self.max_lines
            for row in input_ids
        ]
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)
