#!/usr/bin/env python
"""Benchmark monitor-guided decoding on this machine, on each inference engine side by side.

Measures, from one run over every member-access dot in the example repository
and in benchmarks/prompts/ (Python, jedi) or in the javashop example (Java,
`--language java`, Eclipse JDT.LS), for each engine asked for (transformers
on the dequantised default model, llama.cpp on the embedded GGUF):
1. the cost of one allowed-token mask at real constrained steps, by the token
   trie (`TokenIndex.allowed_mask`, uncached) and by the naive vocabulary scan
   (`TokenIndex.scan_allowed`), checking that both give the same mask;
2. the wall time of guided against unguided greedy generation, tokens per
   second, what guidance cost per step, and the server queries started ahead
   of the step (prefetch hits and misses, the time decoding waited);
3. the latency of warm language-server completions (one server per
   repository, shared by the engines).

The engines take turns at each prompt (their order, and the order of guided
and unguided, alternate from prompt to prompt), so load that drifts during
the run falls on all of them alike and llama.cpp's speed over transformers' is
a ratio measured in this one run. Every llama.cpp run starts from an empty
key-value cache, so it evaluates the whole prompt as transformers does.

Usage: python benchmarks/bench_guidance.py [--engine transformers|llama.cpp|both] [--language python|java]
                                           [--json] [--max-new-tokens N] [--quick]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import pathlib
import re
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator

import numpy as np
import psutil
import torch
from tqdm import tqdm

import mgd
from mgd.decoding.token_index import NameTrie, TokenIndex, token_index_for
from mgd.demo import example_repo
from mgd.engines import ENGINES, LLAMA_CPP, TRANSFORMERS
from mgd.lsp.session import LanguageServerSession, ServerUnavailable
from mgd.models import DEFAULT_GGUF, DEFAULT_NAME, load_model
from mgd.monitor_choice import monitors_named
from mgd.monitors import language as language_named
from mgd.monitors.dereference import member_names

PROMPTS_REPO = pathlib.Path(__file__).resolve().parent / "prompts"
# The example repositories measured for each language.
REPOS = {"python": lambda: [example_repo(), PROMPTS_REPO], "java": lambda: [example_repo().parent / "javashop"]}
COMMENT = {"python": "#", "java": "//"}

MASK_MEDIAN_TARGET_MS = 0.2
MASK_P99_TARGET_MS = 2.0
RATIO_TARGET = 1.05
BOTH = "both"
ENGINE_CHOICES = (*ENGINES, BOTH)

QUICK_POINTS = 12
LSP_CALLS, LSP_CALLS_QUICK = 200, 60
# The machine is shared: timing each step several times and keeping its median
# separates what the step costs from a scheduler stall that happened to hit it.
MASK_REPEATS = 5


@dataclass(frozen=True)
class DerefPoint:
    """A cursor just after a member-access dot in a file of a repository."""

    repo: pathlib.Path
    path: pathlib.Path
    text: str
    offset: int
    line: int
    column: int

    @property
    def label(self) -> str:
        """`file:line:column`, for messages."""
        return f"{self.path.name}:{self.line}:{self.column}"


@dataclass
class ModeTotals:
    """What one decoding mode cost over all prompts."""

    seconds: float = 0.0
    cpu_seconds: float = 0.0  # this process's CPU time (every thread; not the language server's)
    server_cpu_seconds: float = 0.0  # the language servers' CPU time over the same generations
    tokens: int = 0
    constrained_steps: int = 0
    server_queries: int = 0
    unanswered_queries: int = 0
    unguided_steps: int = 0
    step_seconds: list[float] = field(default_factory=list)  # guided: each guidance call (one decoding step)

    def add(self, seconds: float, cpu_seconds: float, done: mgd.Completion, server_cpu_seconds: float = 0.0) -> None:
        """Count one generation."""
        self.seconds += seconds
        self.cpu_seconds += cpu_seconds
        self.server_cpu_seconds += server_cpu_seconds
        self.tokens += done.new_tokens
        self.constrained_steps += done.constrained_steps
        self.server_queries += done.server_queries
        self.unanswered_queries += done.unanswered_queries
        self.unguided_steps += done.unguided_steps

    def as_dict(self) -> dict:
        """Totals with tokens per second, for the report."""
        rate = self.tokens / self.seconds if self.seconds else 0.0
        return {
            "seconds": round(self.seconds, 3),
            "cpu_seconds": round(self.cpu_seconds, 3),
            "server_cpu_seconds": round(self.server_cpu_seconds, 3),
            "tokens": self.tokens,
            "tokens_per_s": round(rate, 2),
            "constrained_steps": self.constrained_steps,
            "server_queries": self.server_queries,
            "unanswered_queries": self.unanswered_queries,
            "unguided_steps": self.unguided_steps,
        }


# StepStats fields of queries started ahead of the step (mgd.decoding.prefetch); read with defaults, so
# the benchmark also runs on a guide without prefetching.
PREFETCH_COUNTS = ("prefetched", "prefetch_hits", "prefetch_misses")


@dataclass
class PrefetchTotals:
    """Queries started ahead of the step over every guided generation of one engine, and the waits for answers."""

    available: bool = False  # the guide's StepStats has the prefetch fields
    prefetched: int = 0
    prefetch_hits: int = 0
    prefetch_misses: int = 0
    queries: int = 0  # every query asked, discarded prefetches included
    wait_seconds: list[float] = field(default_factory=list)
    query_seconds: list[float] = field(default_factory=list)

    def add(self, stats) -> None:
        """Count one guided generation's stats (its guide served that generation alone)."""
        self.available = self.available or all(hasattr(stats, name) for name in PREFETCH_COUNTS)
        for name in PREFETCH_COUNTS:
            setattr(self, name, getattr(self, name) + getattr(stats, name, 0))
        self.queries += getattr(stats, "queries", 0)
        self.wait_seconds.extend(getattr(stats, "wait_seconds", []))
        self.query_seconds.extend(getattr(stats, "query_seconds", []))

    def as_dict(self) -> dict:
        """The counts, and the waits in milliseconds, for the report."""
        waits, queries = self.wait_seconds, self.query_seconds
        taken = self.prefetch_hits + self.prefetch_misses
        return {
            "available": self.available,
            "enabled": os.environ.get("MGD_PREFETCH", "on"),
            "prefetched": self.prefetched,
            "hits": self.prefetch_hits,
            "misses": self.prefetch_misses,
            "hit_rate": round(self.prefetch_hits / taken, 3) if taken else None,
            "queries": self.queries,
            "waits": len(waits),
            "wait_median_ms": round(percentile_ms(waits, 50), 2) if waits else None,
            "wait_p99_ms": round(percentile_ms(waits, 99), 2) if waits else None,
            "wait_total_s": round(sum(waits), 3),
            "query_total_s": round(sum(queries), 3),
        }


@dataclass
class EngineRun:
    """One engine's model, its token index and what it measured."""

    name: str
    model: object
    tokenizer: object
    index: TokenIndex
    load_s: float
    index_s: float
    unguided: ModeTotals = field(default_factory=ModeTotals)
    guided: ModeTotals = field(default_factory=ModeTotals)
    steps: list[NameTrie] = field(default_factory=list)  # the mask node of every guided constrained step
    prefetch: PrefetchTotals = field(default_factory=PrefetchTotals)
    monitors: str | None = None  # the guided runs' monitors by name (None: the language's default set)
    # One monitor list per server, made at its first guided run: each guide is fresh, as `mgd.generate`
    # makes one, but the monitors' once-per-server warm-up (the `new` sweep) is not repeated per prompt.
    monitor_sets: dict = field(default_factory=dict)

    def monitors_for(self, session) -> list:
        """This run's monitors for `session`, made once per server."""
        if id(session) not in self.monitor_sets:
            names = self.monitors or language_named(session.language).default_monitors
            self.monitor_sets[id(session)] = monitors_named(names, session.language)
        return self.monitor_sets[id(session)]

    def describe(self) -> dict:
        """What runs the model: library version and threads."""
        if self.name == LLAMA_CPP:
            import llama_cpp

            llm = self.model.llm
            threads = getattr(llm, "n_threads", None) or llm.context_params.n_threads
            return {"model": DEFAULT_GGUF, "library": f"llama-cpp-python {llama_cpp.__version__}", "threads": threads}
        return {"model": DEFAULT_NAME + " (dequantised)", "library": f"torch {torch.__version__}", "threads": torch.get_num_threads()}


# -- prompts ---------------------------------------------------------------------


def find_points(repo: pathlib.Path, language: str = "python") -> list[DerefPoint]:
    """Every member-access dot in the repository's files of `language`, as the decoder's scanner sees them."""
    points = []
    lang = language_named(language)
    for path in sorted(p for p in repo.rglob("*") if p.suffix in lang.suffixes):
        text = path.read_text(encoding="utf-8")
        state = lang.scan("")
        for i, ch in enumerate(text):
            state = state.step(ch)
            if state.at_dereference:
                offset = i + 1
                line_start = text.rfind("\n", 0, offset) + 1
                line = text.count("\n", 0, offset) + 1
                points.append(DerefPoint(repo, path, text, offset, line, offset - line_start + 1))
    return points


def spread(points: list[DerefPoint], count: int) -> list[DerefPoint]:
    """At most `count` points, evenly spaced so every file keeps some."""
    if len(points) <= count:
        return points
    step = len(points) / count
    return [points[int(i * step)] for i in range(count)]


# -- set-up ----------------------------------------------------------------------


def timed(action: Callable[[], object]) -> tuple[float, object]:
    """Run `action`; return (seconds, its result)."""
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def load_engine(name: str) -> EngineRun:
    """The default model on engine `name`, its token index, and how long each took."""
    load_s, (model, tokenizer) = timed(lambda: load_model(None, name))
    index_s, index = timed(lambda: token_index_for(tokenizer))
    return EngineRun(name, model, tokenizer, index, load_s, index_s)


def server_cpu_seconds(sessions: dict) -> float:
    """CPU time (user + system) used so far by every server process of `sessions` and their children."""
    total = 0.0
    for session in sessions.values():
        try:
            process = psutil.Process(session.pid)
            for p in (process, *process.children(recursive=True)):
                times = p.cpu_times()
                total += times.user + times.system
        except (psutil.Error, TypeError, ValueError):
            continue  # a server that is down (or restarting) has no CPU time to add
    return total


def server_thread_cpu(sessions: dict) -> dict[str, float]:
    """CPU seconds so far of the servers' threads, summed by thread name without its number (`C2 CompilerThread`); Linux only, else empty."""
    found: dict[str, float] = {}
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    for session in sessions.values():
        try:
            process = psutil.Process(session.pid)
            pids = [process.pid] + [p.pid for p in process.children(recursive=True)]
        except (psutil.Error, TypeError, ValueError):
            continue
        for pid in pids:
            task = pathlib.Path(f"/proc/{pid}/task")
            for thread in task.iterdir() if task.is_dir() else ():
                try:
                    name = re.sub(r"[#\d\s-]+$", "", (thread / "comm").read_text().strip()) or "?"
                    fields = (thread / "stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue  # the thread ended
                found[name] = found.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return found


def start_sessions(repos: list[pathlib.Path], stack: contextlib.ExitStack, language: str = "python") -> tuple[dict, dict]:
    """One started language server per repository, and how long each took to start."""
    sessions, startup = {}, {}
    for repo in repos:
        session = LanguageServerSession(repo, language=language)
        seconds, _ = timed(lambda: stack.enter_context(session))
        sessions[repo], startup[repo.name] = session, seconds
    return sessions, startup


# -- generation ------------------------------------------------------------------


def new_guide(run: EngineRun, session):
    """A fresh guide for one generation, as `mgd.generate` makes (kept here so its stats can be read)."""
    monitors = run.monitors_for(session)
    if run.name == LLAMA_CPP:
        from mgd.decoding.guide import Guide

        return Guide(run.tokenizer, session, monitors, index=run.index)
    from mgd.decoding.processor import MGDLogitsProcessor

    return MGDLogitsProcessor(run.tokenizer, session, monitors, index=run.index)


def generate_at(
    point: DerefPoint, run: EngineRun, max_new_tokens: int, session=None
) -> tuple[float, float, mgd.Completion, object]:
    """Greedy completion at `point` (guided when a session is given); return (wall s, CPU s, completion, guide stats)."""
    if run.name == LLAMA_CPP:
        # An empty key-value cache: the whole prompt is evaluated, as on transformers, whichever run came before.
        run.model.llm.n_tokens = 0
    holder = {}

    def go() -> mgd.Completion:
        guide = holder["guide"] = new_guide(run, session) if session is not None else None
        return mgd.generate(
            point.repo,
            point.path,
            point.line,
            point.column,
            model=run.model,
            tokenizer=run.tokenizer,
            guided=session is not None,
            session=session,
            processor=guide,
            max_new_tokens=max_new_tokens,
            stop_at_newline=False,
        )

    cpu_started = time.process_time()
    seconds, done = timed(go)
    cpu_seconds = time.process_time() - cpu_started
    guide = holder["guide"]
    stats = None
    if guide is not None:
        # Queries started ahead and not taken are waited for (untimed), so they are counted and do not
        # run into the next timed generation.
        settle = getattr(getattr(guide, "guide", guide), "settle", None)
        if settle is not None:
            settle()
        stats = guide.stats
    return seconds, cpu_seconds, done, stats


@contextlib.contextmanager
def recording_steps(index: TokenIndex, sink: list[NameTrie]) -> Iterator[None]:
    """While active, every node the processor asks `index` to mask for is appended to `sink`."""
    original = index.allowed_mask

    def record(names: NameTrie):
        sink.append(names)
        return original(names)

    # An instance attribute shadows the method for the processor, which holds this same index.
    index.allowed_mask = record
    try:
        yield
    finally:
        del index.allowed_mask


@contextlib.contextmanager
def timing_processor(sink: list[float]) -> Iterator[None]:
    """While active, the wall time of every guidance call (one decoding step) is appended to `sink`.

    On transformers that is the `MGDLogitsProcessor` call; on llama.cpp the
    guide's step hook (`mgd.llama_completion._guide_hook`), which does the
    same: begin the step, advise the row, apply the advice to the scores.
    """
    import mgd.llama_completion as llama_completion
    from mgd.decoding.processor import MGDLogitsProcessor

    original, original_hook = MGDLogitsProcessor.__call__, llama_completion._guide_hook

    def timed_call(self, input_ids, scores):
        started = time.perf_counter()
        try:
            return original(self, input_ids, scores)
        finally:
            sink.append(time.perf_counter() - started)

    def timed_hook_for(guide):
        hook = original_hook(guide)

        def timed_hook(ids, scores):
            started = time.perf_counter()
            try:
                return hook(ids, scores)
            finally:
                sink.append(time.perf_counter() - started)

        return timed_hook

    MGDLogitsProcessor.__call__ = timed_call
    llama_completion._guide_hook = timed_hook_for
    try:
        yield
    finally:
        MGDLogitsProcessor.__call__ = original
        llama_completion._guide_hook = original_hook


def warm_up(points: list[DerefPoint], sessions: dict, run: EngineRun, max_new_tokens: int) -> None:
    """One unguided generation, and one guided generation per server, before anything is timed."""
    generate_at(points[0], run, max_new_tokens)
    for repo, session in sessions.items():
        first = next((p for p in points if p.repo == repo), None)
        if first is not None:
            generate_at(first, run, max_new_tokens, session)


def compare_generation(points: list[DerefPoint], sessions: dict, runs: list[EngineRun], max_new_tokens: int) -> None:
    """Unguided and guided totals of every engine over `points` (into each run), and its guided steps' mask nodes."""
    for i, point in enumerate(tqdm(points, desc="generation", unit="prompt", file=sys.stderr)):
        # Alternate which engine, and which mode, goes first so drifting machine load falls on all alike.
        order = runs if i % 2 == 0 else runs[::-1]
        for run in order:
            for mode in ("unguided", "guided") if (i // len(runs)) % 2 == 0 else ("guided", "unguided"):
                # The server's CPU is read around each generation: work it does after a guided run
                # (diagnostics of the edited document) lands in whichever generation comes next.
                server_before = server_cpu_seconds(sessions)
                if mode == "unguided":
                    seconds, cpu, done, _ = generate_at(point, run, max_new_tokens)
                    run.unguided.add(seconds, cpu, done, server_cpu_seconds(sessions) - server_before)
                else:
                    # Recording costs one list append per constrained step, far below timer noise.
                    with recording_steps(run.index, run.steps), timing_processor(run.guided.step_seconds):
                        seconds, cpu, done, stats = generate_at(point, run, max_new_tokens, sessions[point.repo])
                    run.guided.add(seconds, cpu, done, server_cpu_seconds(sessions) - server_before)
                    run.prefetch.add(stats)


# -- masks -----------------------------------------------------------------------


def percentile_ms(seconds: list[float], q: float) -> float:
    """The q-th percentile of `seconds`, in milliseconds."""
    return float(np.percentile(np.asarray(seconds) * 1000.0, q))


@contextlib.contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Run the block with torch's intra-op thread pool at `count` threads."""
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def time_indexed(index: TokenIndex, steps: list[NameTrie], desc: str) -> tuple[list[float], list[float]]:
    """Uncached `allowed_mask` cost per step (median of repeats), and every single run."""
    per_step, pooled = [], []
    for node in tqdm(steps, desc=desc, unit="step", file=sys.stderr):
        samples = []
        for _ in range(MASK_REPEATS):
            node.mask = None  # the mask is cached on the node; a cached call costs nothing
            started = time.perf_counter()
            index.allowed_mask(node)
            samples.append(time.perf_counter() - started)
        per_step.append(float(np.median(samples)))
        pooled.extend(samples)
    return per_step, pooled


def time_naive_and_check(index: TokenIndex, steps: list[NameTrie], engine: str = TRANSFORMERS) -> list[float]:
    """`scan_allowed` cost per step; raise AssertionError if its mask differs from `allowed_mask`'s."""
    naive, mismatches = [], []
    for number, node in enumerate(tqdm(steps, desc=f"masks {engine} (naive scan)", unit="step", file=sys.stderr)):
        node.mask = None
        fast = index.allowed_mask(node)
        seconds, slow = timed(lambda: index.scan_allowed(node))
        naive.append(seconds)
        if not np.array_equal(fast, slow):
            mismatches.append((number, int((fast != slow).sum())))
    if mismatches:
        raise AssertionError(
            f"{engine}: indexed and naive masks differ at {len(mismatches)} of {len(steps)} steps "
            f"(step, differing tokens): {mismatches[:10]}"
        )
    return naive


def measure_masks(index: TokenIndex, steps: list[NameTrie], engine: str = TRANSFORMERS) -> dict:
    """Indexed against naive mask cost over the recorded steps, both masks checked equal."""
    if not steps:
        raise RuntimeError(
            f"guided generation on {engine} recorded no constrained step: is the language server answering?"
        )
    threads = torch.get_num_threads()
    indexed, pooled = time_indexed(index, steps, f"masks {engine} (indexed, {threads} threads)")
    # A vocabulary-sized torch op runs on the intra-op pool; when another process
    # holds the other core, waking a worker costs a scheduler slice. One thread
    # shows what the trie walk itself costs, apart from that wake-up.
    with torch_threads(1):
        single, _ = time_indexed(index, steps, f"masks {engine} (indexed, 1 thread)")
    naive = time_naive_and_check(index, steps, engine)
    median_indexed, median_naive = percentile_ms(indexed, 50), percentile_ms(naive, 50)
    return {
        "steps": len(steps),
        "distinct_nodes": len({id(node) for node in steps}),
        "steps_checked_equal": len(steps),
        "repeats_per_step": MASK_REPEATS,
        "torch_threads": threads,
        "indexed_median_ms": round(median_indexed, 4),
        "indexed_p99_ms": round(percentile_ms(indexed, 99), 4),
        "indexed_p99_all_runs_ms": round(percentile_ms(pooled, 99), 4),
        "indexed_1_thread_median_ms": round(percentile_ms(single, 50), 4),
        "indexed_1_thread_p99_ms": round(percentile_ms(single, 99), 4),
        "naive_median_ms": round(median_naive, 3),
        "naive_p99_ms": round(percentile_ms(naive, 99), 3),
        "naive_over_indexed": round(median_naive / median_indexed, 1),
    }


# -- language server -------------------------------------------------------------


def edited_text(point: DerefPoint, k: int, comment: str = "#") -> str:
    """The file with a comment varying with `k` at the end of the cursor's line (the cursor stays put)."""
    end = point.text.find("\n", point.offset)
    end = len(point.text) if end < 0 else end
    return f"{point.text[:end]}  {comment} edit {k}{point.text[end:]}"


def measure_completions(points: list[DerefPoint], sessions: dict, calls: int, comment: str = "#") -> dict:
    """Latency of warm completion requests, cycling over the dereference points."""
    for point in points:  # the first request at a place pays for the server's inference caches
        sessions[point.repo].completions(point.path, edited_text(point, -1, comment), point.offset)
    latencies, empty = [], 0
    for k in tqdm(range(calls), desc="completions", unit="call", file=sys.stderr):
        point = points[k % len(points)]
        seconds, items = timed(
            lambda: sessions[point.repo].completions(point.path, edited_text(point, k, comment), point.offset)
        )
        latencies.append(seconds)
        empty += not member_names(items or [])
    return {
        "calls": calls,
        "empty_answers": empty,
        "median_ms": round(percentile_ms(latencies, 50), 2),
        "p99_ms": round(percentile_ms(latencies, 99), 2),
        "mean_ms": round(float(np.mean(latencies)) * 1000.0, 2),
    }


# -- report ----------------------------------------------------------------------


def targets(result: dict) -> list[dict]:
    """Each target, per engine, with the measured value and whether it is met."""
    checks = []
    for engine, numbers in result["engines"].items():
        checks += [
            (f"{engine} mask median (ms)", numbers["mask"]["indexed_median_ms"], MASK_MEDIAN_TARGET_MS),
            (f"{engine} mask p99 (ms)", numbers["mask"]["indexed_p99_ms"], MASK_P99_TARGET_MS),
            (f"{engine} guided/unguided wall", numbers["generation"]["guided_over_unguided"], RATIO_TARGET),
        ]
    return [{"name": name, "value": value, "limit": limit, "pass": value <= limit} for name, value, limit in checks]


def guidance_share(numbers: dict) -> float:
    """1 + (seconds inside guidance calls) / (unguided wall seconds): the ratio guidance's own time explains."""
    return 1.0 + numbers["processor"]["total_s"] / numbers["generation"]["unguided"]["seconds"]


def _ms(value) -> str:
    return "-" if value is None else f"{value:.2f}"


def render_engine(engine: str, numbers: dict) -> list[str]:
    """The mask table of one engine."""
    mask = numbers["mask"]
    return [
        f"  {engine}: {mask['steps']} steps, {mask['distinct_nodes']} distinct nodes; "
        f"indexed: median of {mask['repeats_per_step']} runs per step",
        "                                          median          p99",
        f"  indexed  allowed_mask ({mask['torch_threads']} threads) {mask['indexed_median_ms']:10.4f} ms {mask['indexed_p99_ms']:9.4f} ms"
        f"   (p99 of every single run: {mask['indexed_p99_all_runs_ms']:.4f} ms)",
        f"  indexed  allowed_mask (1 thread)  {mask['indexed_1_thread_median_ms']:10.4f} ms "
        f"{mask['indexed_1_thread_p99_ms']:9.4f} ms   (diagnostic: no thread-pool wake-up)",
        f"  naive    scan_allowed             {mask['naive_median_ms']:10.3f} ms {mask['naive_p99_ms']:9.3f} ms",
        f"  naive / indexed (medians)  {mask['naive_over_indexed']:.0f}x",
        f"  indexed mask == naive mask (np.array_equal) on {mask['steps_checked_equal']} of {mask['steps']} steps",
    ]


def render(result: dict) -> str:
    """The result as a human-readable table, the engines side by side."""
    cfg, setup, lsp, engines = (result[k] for k in ("config", "setup", "lsp", "engines"))
    names = list(engines)
    lines = [
        f"mgd guidance benchmark ({cfg['language']}): {cfg['model']} on {', '.join(names)}, "
        f"{cfg['points']} dereference points in {', '.join(cfg['repos'])}; guided with {cfg['monitors']}",
    ]
    lines += [f"  {name}: {e['config']['model']}, {e['config']['library']} on {e['config']['threads']} threads" for name, e in engines.items()]
    lines += [
        f"  load average {cfg['load_average_start']} at start, {cfg['load_average_end']} at end (shared machine)",
        "",
        "Set-up",
    ]
    for name, e in engines.items():
        lines += [
            f"  model load ({name}){'':<{max(0, 14 - len(name))}}{e['setup']['model_load_s']:8.2f} s",
            f"  token index build ({name}){'':<{max(0, 7 - len(name))}}{e['setup']['token_index_build_s']:8.2f} s",
        ]
    lines += [f"  server start-up ({repo}){'':<{max(0, 9 - len(repo))}}{s:8.2f} s" for repo, s in setup["server_startup_s"].items()]
    lines += ["", "1. Allowed-token mask per constrained step, uncached"]
    for name, e in engines.items():
        lines += render_engine(name, e)
    width = max(14, *(len(n) + 2 for n in names))

    def row(label: str, cell) -> str:
        return f"  {label:<38}" + "".join(f"{cell(engines[n]):>{width}}" for n in names)

    lines += [
        "",
        f"2. Generation: greedy, max_new_tokens={cfg['max_new_tokens']}, stop_at_newline=False, "
        f"{cfg['points']} prompts (after warm-up), engines side by side",
        f"  {'':<38}" + "".join(f"{n:>{width}}" for n in names),
        row("unguided wall s", lambda e: f"{e['generation']['unguided']['seconds']:.2f}"),
        row("unguided tokens", lambda e: f"{e['generation']['unguided']['tokens']}"),
        row("unguided tokens/s", lambda e: f"{e['generation']['unguided']['tokens_per_s']:.2f}"),
        row("guided wall s", lambda e: f"{e['generation']['guided']['seconds']:.2f}"),
        row("guided tokens", lambda e: f"{e['generation']['guided']['tokens']}"),
        row("guided tokens/s", lambda e: f"{e['generation']['guided']['tokens_per_s']:.2f}"),
        row("guided / unguided wall time", lambda e: f"{e['generation']['guided_over_unguided']:.3f}"),
        row("  CPU s unguided / guided", lambda e: f"{e['generation']['unguided']['cpu_seconds']:.1f}/{e['generation']['guided']['cpu_seconds']:.1f}"),
        row("  guided / unguided CPU time", lambda e: f"{e['generation']['guided_over_unguided_cpu']:.3f}"),
        row("  server CPU s unguided / guided", lambda e: f"{e['generation']['unguided']['server_cpu_seconds']:.1f}/{e['generation']['guided']['server_cpu_seconds']:.1f}"),
        row("constrained steps", lambda e: f"{e['generation']['guided']['constrained_steps']}"),
        row("server queries (taken by steps)", lambda e: f"{e['generation']['guided']['server_queries']}"),
        row("server queries per prompt (all asked)", lambda e: f"{e['prefetch']['queries'] / cfg['points']:.2f}"),
        row("unanswered queries / unguided steps", lambda e: f"{e['generation']['guided']['unanswered_queries']} / {e['generation']['guided']['unguided_steps']}"),
        row("guidance per step median ms", lambda e: f"{e['processor']['median_ms']:.3f}"),
        row("guidance per step p99 ms", lambda e: f"{e['processor']['p99_ms']:.2f}"),
        row("guidance total s (steps)", lambda e: f"{e['processor']['total_s']:.2f} ({e['processor']['steps']})"),
        # What the guidance calls alone would add to the unguided time: on a loaded machine the wall-time
        # ratio above also holds whatever the scheduler did to one mode and not the other.
        row("1 + guidance s / unguided wall s", lambda e: f"{guidance_share(e):.3f}"),
    ]
    if any(engines[n]["prefetch"]["available"] for n in names):
        lines += [
            row("prefetched / hits / misses", lambda e: f"{e['prefetch']['prefetched']}/{e['prefetch']['hits']}/{e['prefetch']['misses']}"),
            row("waits for the server (count)", lambda e: f"{e['prefetch']['waits']}"),
            row("wait median / p99 ms", lambda e: f"{_ms(e['prefetch']['wait_median_ms'])}/{_ms(e['prefetch']['wait_p99_ms'])}"),
            row("wait total s / query total s", lambda e: f"{e['prefetch']['wait_total_s']:.2f}/{e['prefetch']['query_total_s']:.2f}"),
        ]
    else:
        lines.append("  (no prefetch counts: this guide's StepStats has no prefetch fields)")
    cmp = result.get("comparison")
    if cmp:
        lines += [
            f"  llama.cpp over transformers, unguided tokens/s (this run, same prompts): "
            f"{cmp['llama_over_transformers_unguided_tokens_per_s']:.2f}x "
            f"(guided: {cmp['llama_over_transformers_guided_tokens_per_s']:.2f}x; "
            f"unguided wall time transformers / llama.cpp: {cmp['transformers_over_llama_unguided_wall']:.2f})",
        ]
    lines += [
        "",
        "  servers' CPU by thread during generation: "
        + (", ".join(f"{name} {s:.1f} s" for name, s in result.get("server_threads_cpu_s", {}).items()) or "not measured"),
        "",
        f"3. Language-server completion, warm ({lsp['calls']} calls, {lsp['empty_answers']} without members)",
        f"  median {lsp['median_ms']:.2f} ms   p99 {lsp['p99_ms']:.2f} ms   mean {lsp['mean_ms']:.2f} ms",
        "",
        "Targets",
    ]
    lines += [
        f"  {'PASS' if t['pass'] else 'FAIL'}  {t['name']:<36} {t['value']:<8g} <= {t['limit']:g}" for t in result["targets"]
    ]
    return "\n".join(lines)


# -- main ------------------------------------------------------------------------


def engine_result(run: EngineRun, mask: dict) -> dict:
    """Every number of one engine."""
    guided = run.guided
    return {
        "config": run.describe(),
        "setup": {"model_load_s": round(run.load_s, 3), "token_index_build_s": round(run.index_s, 3)},
        "mask": mask,
        "generation": {
            "prompts": None,  # filled in by run()
            "unguided": run.unguided.as_dict(),
            "guided": guided.as_dict(),
            "guided_over_unguided": round(guided.seconds / run.unguided.seconds, 3),
            "guided_over_unguided_cpu": round(guided.cpu_seconds / run.unguided.cpu_seconds, 3),
        },
        "processor": {
            "steps": len(guided.step_seconds),
            "median_ms": percentile_ms(guided.step_seconds, 50),
            "p99_ms": percentile_ms(guided.step_seconds, 99),
            "total_s": round(sum(guided.step_seconds), 3),
        },
        "prefetch": run.prefetch.as_dict(),
    }


def compare_engines(engines: dict) -> dict | None:
    """llama.cpp's speed over transformers' in this run, when both ran."""
    if not (TRANSFORMERS in engines and LLAMA_CPP in engines):
        return None
    t, l = engines[TRANSFORMERS]["generation"], engines[LLAMA_CPP]["generation"]
    return {
        "llama_over_transformers_unguided_tokens_per_s": round(l["unguided"]["tokens_per_s"] / t["unguided"]["tokens_per_s"], 3),
        "llama_over_transformers_guided_tokens_per_s": round(l["guided"]["tokens_per_s"] / t["guided"]["tokens_per_s"], 3),
        "transformers_over_llama_unguided_wall": round(t["unguided"]["seconds"] / l["unguided"]["seconds"], 3),
    }


def run(
    max_new_tokens: int, quick: bool, language: str = "python", engines: tuple[str, ...] = ENGINES, monitors: str | None = None
) -> dict:
    """Run every measurement on every engine of `engines` (guided with `monitors`, default the language's); return all numbers as one dict."""
    load_start = [round(x, 2) for x in os.getloadavg()]
    repos = REPOS[language]()
    points = [p for repo in repos for p in find_points(repo, language)]
    if quick:
        points = spread(points, QUICK_POINTS)
    runs = [load_engine(name) for name in engines]
    for engine_run in runs:
        engine_run.monitors = monitors
    with contextlib.ExitStack() as stack:
        sessions, startup = start_sessions(repos, stack, language)
        for engine_run in runs:
            warm_up(points, sessions, engine_run, max_new_tokens)
        threads_before = server_thread_cpu(sessions)
        compare_generation(points, sessions, runs, max_new_tokens)
        threads_after = server_thread_cpu(sessions)
        masks = {r.name: measure_masks(r.index, r.steps, r.name) for r in runs}
        lsp = measure_completions(points, sessions, LSP_CALLS_QUICK if quick else LSP_CALLS, COMMENT[language])
    by_engine = {r.name: engine_result(r, masks[r.name]) for r in runs}
    for numbers in by_engine.values():
        numbers["generation"]["prompts"] = len(points)
    result = {
        "config": {
            "model": DEFAULT_NAME,
            "language": language,
            "engines": list(by_engine),
            "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(),
            "max_new_tokens": max_new_tokens,
            "quick": quick,
            "points": len(points),
            "monitors": monitors or language_named(language).default_monitors,
            "repos": [repo.name for repo in repos],
            "prefetch_env": os.environ.get("MGD_PREFETCH", "on"),
            "load_average_start": load_start,
            "load_average_end": [round(x, 2) for x in os.getloadavg()],
        },
        "setup": {"server_startup_s": {name: round(s, 3) for name, s in startup.items()}},
        "engines": by_engine,
        "comparison": compare_engines(by_engine),
        "lsp": lsp,
        # where the servers' CPU went while every engine generated (both modes): the five busiest thread kinds
        "server_threads_cpu_s": dict(
            sorted(((n, round(s - threads_before.get(n, 0.0), 2)) for n, s in threads_after.items()), key=lambda kv: -kv[1])[:5]
        ),
    }
    result["targets"] = targets(result)
    return result


def build_parser() -> argparse.ArgumentParser:
    """The command-line options."""
    parser = argparse.ArgumentParser(
        prog="bench_guidance.py",
        description="Benchmark monitor-guided decoding: mask cost per step, guided vs unguided "
        "generation time, and language-server latency, with the default model on each engine, side by side.",
        epilog="Progress goes to stderr; results to stdout. Targets are reported as PASS/FAIL "
        "lines and do not change the exit status.",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object with every number, keyed by engine")
    parser.add_argument(
        "--engine", choices=ENGINE_CHOICES, default=BOTH,
        help="transformers (dequantised default model), llama.cpp (the embedded GGUF) or both, "
        "taking turns at each prompt (default both)",
    )  # fmt: skip
    parser.add_argument(
        "--language", choices=sorted(REPOS), default="python",
        help="python: jedi on bookshop and benchmarks/prompts; java: JDT.LS on javashop (default python)",
    )  # fmt: skip
    parser.add_argument(
        "--max-new-tokens", type=int, default=32, metavar="N", help="tokens to generate per prompt (default 32)"
    )
    parser.add_argument(
        "--monitors", metavar="LIST",
        help="guided runs' monitors, comma-separated (default: the language's default set); "
        "compare e.g. Java deref,args,enums,new,types (the default) with deref,args,enums,new",
    )  # fmt: skip
    parser.add_argument(
        "--quick", action="store_true", help=f"use {QUICK_POINTS} prompts and {LSP_CALLS_QUICK} server calls"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse options, run the benchmark, print the report; return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.max_new_tokens < 1:
        parser.error("--max-new-tokens must be at least 1")
    engines = ENGINES if args.engine == BOTH else (args.engine,)
    if args.monitors:
        try:
            monitors_named(args.monitors, args.language)
        except ValueError as err:
            parser.error(f"--monitors: {err}")
    # multilspy logs every server message at INFO; it would bury the progress bars.
    logging.getLogger("multilspy").setLevel(logging.CRITICAL)
    try:
        result = run(args.max_new_tokens, args.quick, args.language, engines, args.monitors)
    except (mgd.MGDError, ServerUnavailable) as err:
        print(f"bench_guidance: error: {err}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2) if args.json else render(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
