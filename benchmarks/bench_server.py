#!/usr/bin/env python
"""Benchmark `mgd serve` as an editor sees it: over the real stdio pipe, with the default model.

Measures, for each engine asked for (`mgd serve --engine`; default llama.cpp,
on the embedded GGUF):
1. the time from starting the server process to the first non-empty inline
   completion (the editor asks every 0.2 s; earlier answers are empty);
2. the latency of `textDocument/inlineCompletion` (up to 32 new tokens, to the
   end of the line) at member-access dots of examples/bookshop and
   benchmarks/prompts/, guided and unguided (`guided: false` in the
   settings), alternating which goes first at each point: median, p90, p95.
   Target: guided median <= 250 ms.

At each point the buffer holds the file as if the user had just typed the dot:
the rest of that line is removed, the rest of the file stays. The server keeps
what it evaluated between requests (llama.cpp reuses its key-value cache for
the shared prompt prefix), as it does for an editor.

Usage: python benchmarks/bench_server.py [--engine transformers|llama.cpp|both] [--points N] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import shutil
import sys
import tempfile
import time

import numpy as np

from mgd.demo import example_repo
from mgd.engines import ENGINES, LLAMA_CPP
from mgd.server.client import LspClient

from bench_guidance import find_points as deref_points, spread  # this folder is on sys.path when run as a script

PROMPTS = pathlib.Path(__file__).resolve().parent / "prompts"
RATIO_TARGET = 1.2
MEDIAN_TARGET_MS = 250.0  # guided, up to 32 new tokens to the end of the line
BOTH = "both"


def find_points(root: pathlib.Path) -> list[tuple[pathlib.Path, str, dict]]:
    """(path, buffer text, LSP position) just after every member-access dot, the rest of its line removed."""
    points = []
    for point in deref_points(root):
        line_end = point.text.find("\n", point.offset)
        buffer = point.text[: point.offset] + (point.text[line_end:] if line_end >= 0 else "")
        points.append((point.path, buffer, {"line": point.line - 1, "character": point.column - 1}))
    return points


def inline(client: LspClient, uri: str, position: dict) -> tuple[float, list]:
    """One inline completion: (seconds from request to answer, items)."""
    started = time.perf_counter()
    result = client.request(
        "textDocument/inlineCompletion",
        {"textDocument": {"uri": uri}, "position": position, "context": {"triggerKind": 2}},
        timeout=300,
    )
    return time.perf_counter() - started, result["items"]


def stats(seconds: list[float]) -> dict:
    """Median, p90 and p95 in milliseconds."""
    values = np.asarray(seconds) * 1000.0
    return {
        "median_ms": float(np.median(values)),
        "p90_ms": float(np.percentile(values, 90)),
        "p95_ms": float(np.percentile(values, 95)),
        "n": len(seconds),
    }


def run(points_wanted: int, engine: str = LLAMA_CPP) -> dict:
    """Start a server on `engine`, time its first completion, then guided and unguided latency."""
    work = pathlib.Path(tempfile.mkdtemp(prefix="mgd-bench-server-"))
    try:
        shutil.copytree(example_repo(), work / "bookshop")
        shutil.copytree(PROMPTS, work / "prompts")
        points = spread(find_points(work), points_wanted)
        versions: dict[str, int] = {}

        started = time.perf_counter()
        client = LspClient.mgd_serve("--engine", engine, stderr_path=work / "serve-stderr.txt")
        try:
            client.initialize(work)
            path, buffer, position = points[0]
            uri = client.open(path, buffer)
            versions[uri] = 1
            while True:
                _, items = inline(client, uri, position)
                if items:
                    break
                time.sleep(0.2)
            first = time.perf_counter() - started
            status = client.request("mgd/status")
            ready = status["readyAfterSeconds"]
            served_by = status.get("engine")
            if served_by != engine:
                raise RuntimeError(f"asked mgd serve for {engine}, it reports {served_by!r}")

            def configure(guided: bool) -> None:
                client.notify("workspace/didChangeConfiguration", {"settings": {"mgd": {"guided": guided}}})

            # warm-up (first queries on a file are slow in jedi and torch)
            for guided in (True, False):
                configure(guided)
                inline(client, uri, position)

            timings = {True: [], False: []}
            lengths = {True: [], False: []}
            empty = {True: 0, False: 0}
            for n, (path, buffer, position) in enumerate(points):
                uri = path.resolve().as_uri()
                if uri in versions:
                    versions[uri] += 1
                    client.replace_text(uri, buffer, versions[uri])
                else:
                    client.open(path, buffer)
                    versions[uri] = 1
                for guided in ((True, False) if n % 2 == 0 else (False, True)):
                    configure(guided)
                    seconds, items = inline(client, uri, position)
                    timings[guided].append(seconds)
                    lengths[guided].append(len(items[0]["insertText"]) if items else 0)
                    empty[guided] += not items
                print(f"  {n + 1}/{len(points)} {path.name}:{position['line'] + 1}", file=sys.stderr, flush=True)
        finally:
            client.shutdown()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    guided, unguided = stats(timings[True]), stats(timings[False])
    return {
        "engine": served_by,
        "points": len(points),
        "first_completion_seconds": first,
        "model_ready_seconds": ready,
        "guided": {**guided, "mean_chars": float(np.mean(lengths[True])), "empty": empty[True]},
        "unguided": {**unguided, "mean_chars": float(np.mean(lengths[False])), "empty": empty[False]},
        "median_ratio": guided["median_ms"] / unguided["median_ms"],
        "ratio_target": RATIO_TARGET,
        "median_target_ms": MEDIAN_TARGET_MS,
        "median_target_met": guided["median_ms"] <= MEDIAN_TARGET_MS,
    }


def render_one(result: dict) -> list[str]:
    """One engine's result as a small table."""
    g, u = result["guided"], result["unguided"]
    met = "PASS" if result["median_target_met"] else "FAIL"
    return [
        f"mgd serve --engine {result['engine']}, default model, {result['points']} member-access points, "
        "up to 32 new tokens, to end of line",
        f"first non-empty completion after process start: {result['first_completion_seconds']:.1f} s "
        f"(model ready after {result['model_ready_seconds']:.1f} s)",
        f"{'':10} {'median':>9} {'p90':>9} {'p95':>9} {'chars':>6} {'empty':>6}",
        f"{'unguided':10} {u['median_ms']:>7.0f}ms {u['p90_ms']:>7.0f}ms {u['p95_ms']:>7.0f}ms {u['mean_chars']:>6.1f} {u['empty']:>6}",
        f"{'guided':10} {g['median_ms']:>7.0f}ms {g['p90_ms']:>7.0f}ms {g['p95_ms']:>7.0f}ms {g['mean_chars']:>6.1f} {g['empty']:>6}",
        f"guided / unguided median: {result['median_ratio']:.3f} (target <= {RATIO_TARGET})",
        f"{met}  guided median {g['median_ms']:.0f} ms <= {result['median_target_ms']:.0f} ms",
    ]


def render(results: dict) -> str:
    """Every engine's result, one table each."""
    lines = [f"load average {results['load_average_start']} at start, {results['load_average_end']} at end (shared machine)"]
    for result in results["engines"].values():
        lines += ["", *render_one(result)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--engine", choices=(*ENGINES, BOTH), default=LLAMA_CPP,
        help="the engine `mgd serve --engine` runs (both: one server after the other; default llama.cpp)",
    )  # fmt: skip
    parser.add_argument("--points", type=int, default=30, help="member-access points to complete at (default 30)")
    parser.add_argument("--json", action="store_true", help="print one JSON object, results keyed by engine")
    args = parser.parse_args(argv)
    load_start = [round(x, 2) for x in os.getloadavg()]
    engines = ENGINES if args.engine == BOTH else (args.engine,)
    by_engine = {engine: run(args.points, engine) for engine in engines}
    results = {
        "load_average_start": load_start,
        "load_average_end": [round(x, 2) for x in os.getloadavg()],
        "engines": by_engine,
    }
    print(json.dumps(results) if args.json else render(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
