#!/usr/bin/env python
"""Benchmark `mgd serve` as an editor sees it: over the real stdio pipe, with the default model.

Measures
1. the time from starting the server process to the first non-empty inline
   completion (the editor asks every 0.2 s; earlier answers are empty);
2. the latency of `textDocument/inlineCompletion` (up to 32 new tokens, to the
   end of the line) at member-access dots of examples/bookshop and
   benchmarks/prompts/, guided and unguided (`guided: false` in the
   settings), alternating which goes first at each point: median and p95.

At each point the buffer holds the file as if the user had just typed the dot:
the rest of that line is removed, the rest of the file stays.

Usage: python benchmarks/bench_server.py [--points N] [--json]
"""

from __future__ import annotations

import argparse
import json
import pathlib
import shutil
import sys
import tempfile
import time

import numpy as np

from mgd.demo import example_repo
from mgd.server.client import LspClient

from bench_guidance import find_points as deref_points, spread  # this folder is on sys.path when run as a script

PROMPTS = pathlib.Path(__file__).resolve().parent / "prompts"
RATIO_TARGET = 1.2


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
    """Median and p95 in milliseconds."""
    values = np.asarray(seconds) * 1000.0
    return {"median_ms": float(np.median(values)), "p95_ms": float(np.percentile(values, 95)), "n": len(seconds)}


def run(points_wanted: int) -> dict:
    """Start a server, time its first completion, then guided and unguided latency."""
    work = pathlib.Path(tempfile.mkdtemp(prefix="mgd-bench-server-"))
    try:
        shutil.copytree(example_repo(), work / "bookshop")
        shutil.copytree(PROMPTS, work / "prompts")
        points = spread(find_points(work), points_wanted)
        versions: dict[str, int] = {}

        started = time.perf_counter()
        client = LspClient.mgd_serve(stderr_path=work / "serve-stderr.txt")
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
            ready = client.request("mgd/status")["readyAfterSeconds"]

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
        "points": len(points),
        "first_completion_seconds": first,
        "model_ready_seconds": ready,
        "guided": {**guided, "mean_chars": float(np.mean(lengths[True])), "empty": empty[True]},
        "unguided": {**unguided, "mean_chars": float(np.mean(lengths[False])), "empty": empty[False]},
        "median_ratio": guided["median_ms"] / unguided["median_ms"],
        "ratio_target": RATIO_TARGET,
    }


def render(result: dict) -> str:
    """The result as a small table."""
    g, u = result["guided"], result["unguided"]
    return "\n".join(
        [
            f"mgd serve, default model, {result['points']} member-access points, up to 32 new tokens, to end of line",
            f"first non-empty completion after process start: {result['first_completion_seconds']:.1f} s "
            f"(model ready after {result['model_ready_seconds']:.1f} s)",
            f"{'':10} {'median':>9} {'p95':>9} {'chars':>6} {'empty':>6}",
            f"{'unguided':10} {u['median_ms']:>7.0f}ms {u['p95_ms']:>7.0f}ms {u['mean_chars']:>6.1f} {u['empty']:>6}",
            f"{'guided':10} {g['median_ms']:>7.0f}ms {g['p95_ms']:>7.0f}ms {g['mean_chars']:>6.1f} {g['empty']:>6}",
            f"guided / unguided median: {result['median_ratio']:.3f} (target <= {RATIO_TARGET})",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--points", type=int, default=30, help="member-access points to complete at (default 30)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    result = run(args.points)
    print(json.dumps(result) if args.json else render(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
